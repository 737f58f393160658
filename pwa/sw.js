/* Tessera card service worker.
 *
 * Network first (4 s), and the saved copy on anything but the card itself or this
 * server's own "gone" (404/410 with X-Tessera-Card unknown/revoked): a 429, a 5xx, a
 * Wi-Fi sign-in page, a redirect, a timeout or no network all keep the saved card, and
 * the copy says why (X-Tessera-Reason). Once the card is gone, its page keeps only a
 * notice saying so (offline too), nothing of the member's. The card pages open while the
 * worker installs are saved before it is ready; a page also asks for its card to be saved
 * ("save-card"), as the first visit is not loaded through the worker. That first page
 * also keeps itself and its data in the cards' cache, and the worker's own files come
 * from the browser's cache when the network is gone: a first visit whose signal went
 * while the worker installed still opens offline.
 */
"use strict";
var SHELL = "tessera-shell-v9";
var CARDS = "tessera-cards-v1";
// Exactly the URLs templates/cards/card.html loads. A changed card.js or card.css gets a
// new ?v= there and here (and a new SHELL): a page still running the old script after an
// update would otherwise be served the old file from the old worker's cache.
var SHELL_FILES = [
  "/pwa/card.css?v=7", "/pwa/card.js?v=6", "/pwa/vendor/qrcode-generator/qrcode.js",
  "/pwa/icons/icon-192.png", "/pwa/icons/icon-512.png",
  "/pwa/icons/maskable-512.png", "/pwa/icons/apple-touch-icon.png"
];
var TIMEOUT_MS = 4000;
var ANSWER = "x-tessera-card";

// The card pages open while the worker installs (the first visit, which did not load
// through a worker) are saved before it is ready: a phone closed the moment the worker
// is ready still has the card.
function saveOpenCards() {
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (open) {
    return Promise.all(open.map(function (client) {
      var base = cardBase(new URL(client.url).pathname);
      return base ? saveCard(base, false) : null;
    }));
  });
}

// The icons are for the home screen, not for the card: one that cannot be fetched now
// is saved the next time the phone asks for it with signal.
var OPTIONAL = /^\/pwa\/icons\//;

// A shell file from the network; without signal (the first visit's page on screen, the
// signal gone before the worker got this far) the copy that page just loaded, from the
// browser's own cache.
function fetchShellFile(path) {
  var request = new Request(path, { cache: "no-cache" });
  return fetch(request).catch(function () {
    return fetch(new Request(path, { cache: "force-cache" }));
  }).then(function (response) {
    if (!isShellFile(request, response)) throw new Error(path + ": not the card's file");
    return response;
  }, function (error) {
    if (OPTIONAL.test(path)) return null;
    throw error;
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (c) {
    // Each file as it should be, or no install (the old worker and its files stay).
    return Promise.all(SHELL_FILES.map(function (path) {
      return fetchShellFile(path).then(function (response) {
        return response ? c.put(path, response) : null;
      });
    }));
  })
    .then(function () { return saveOpenCards().catch(function () {}); })
    .then(function () { return self.skipWaiting(); }));
});

// A saved card page names the script and style it was drawn with (?v=…). A new worker
// may take over without that page being saved again (the browser's own update check, a
// page load that timed out while the check got through): it keeps those files from the
// old shell, or the saved card would open offline without its QR and its styles.
function keepWhatSavedPagesUse() {
  return caches.open(CARDS).then(function (cards) {
    return cards.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return /^\/card\/[A-Za-z0-9_-]+$/.test(new URL(k.url).pathname); })
        .map(function (k) { return cards.match(k).then(function (r) { return r ? r.text() : ""; }); }));
    });
  }).then(function (pages) {
    var wanted = {};
    pages.forEach(function (html) {
      (html.match(/\/pwa\/[A-Za-z0-9_\/.-]+(\?v=[0-9A-Za-z]+)?/g) || []).forEach(function (p) { wanted[p] = true; });
    });
    return caches.open(SHELL).then(function (shell) {
      return Promise.all(Object.keys(wanted).map(function (path) {
        var url = self.location.origin + path;
        return shell.match(url).then(function (hit) {
          return hit ? null : caches.match(url).then(function (old) { return old ? shell.put(url, old) : null; });
        });
      }));
    });
  });
}

self.addEventListener("activate", function (event) {
  event.waitUntil(keepWhatSavedPagesUse().catch(function () {}).then(function () {
    return caches.keys();
  }).then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== SHELL && k !== CARDS; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function withTimeout(promise) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error("timeout")); }, TIMEOUT_MS);
    promise.then(function (r) { clearTimeout(timer); resolve(r); },
                 function (e) { clearTimeout(timer); reject(e); });
  });
}

function copy(response, extra) {
  var headers = new Headers(response.headers);
  Object.keys(extra).forEach(function (k) { if (extra[k]) headers.set(k, extra[k]); });
  return response.clone().blob().then(function (blob) {
    return new Response(blob, { status: 200, statusText: "OK", headers: headers });
  });
}

function cardBase(pathname) {
  // /card/<token>, /card/<token>.json, /card/<token>/manifest.webmanifest -> /card/<token>
  var m = pathname.match(/^\/card\/([A-Za-z0-9_-]+?)(?:\.json|\/manifest\.webmanifest)?$/);
  return m ? "/card/" + m[1] : null;
}

function cardFiles(base) {
  return [base, base + ".json", base + "/manifest.webmanifest"].map(function (p) {
    return self.location.origin + p;
  });
}

function forget(cache, base) {
  if (!base) return Promise.resolve();
  return Promise.all(cardFiles(base).map(function (key) { return cache.delete(key); }));
}

// This server's own answer, of the kind asked for (not a portal's page on the same URL).
function isCard(response, isJson) {
  if (response.status !== 200 || response.headers.get(ANSWER) !== "card") return false;
  var type = response.headers.get("content-type") || "";
  return isJson ? type.indexOf("json") !== -1 : type.indexOf("text/html") === 0 || type.indexOf("json") !== -1;
}

// The card is gone only when this server says so about this token.
function isGone(response) {
  var answer = response.headers.get(ANSWER);
  return (response.status === 410 && answer === "revoked") ||
         (response.status === 404 && answer === "unknown");
}

function reasonFor(response) {
  if (response.type === "opaqueredirect") return "unexpected";
  if (response.status === 429) return "busy";
  if (response.status >= 500) return "server";
  return "unexpected";
}

// What the card's page shows, offline too, once this server has said the card is gone:
// not "not saved on this phone yet" (it was, and was removed), and nothing of the member's.
function goneNotice(response) {
  var text = response.status === 410 ? "This card link was replaced or revoked." : "There is no card at this address.";
  var headers = { "Content-Type": "text/html; charset=utf-8" };
  headers[ANSWER] = response.headers.get(ANSWER);
  return new Response("<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>" +
                      "<title>Card</title><p>" + text + " Open the newest card link in your email.</p>",
                      { status: response.status, headers: headers });
}

function notSaved(isJson, reason) {
  var text = "You are offline and this card has not been saved on this phone yet.";
  var headers = { "x-tessera-reason": reason };
  if (isJson) {
    headers["Content-Type"] = "application/json";
    return new Response(JSON.stringify({ error: "not_saved", reason: reason, message: text }),
                        { status: 503, headers: headers });
  }
  headers["Content-Type"] = "text/html; charset=utf-8";
  return new Response("<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'><p>" +
                      text + "</p>", { status: 503, headers: headers });
}

function cardRequest(url) {
  var key = url.origin + url.pathname;
  var isJson = url.pathname.slice(-5) === ".json";
  return caches.open(CARDS).then(function (cache) {
    return cache.match(key).then(function (cached) {
      function saved(reason, response) {
        if (cached && isGone(cached)) return cached;  // the notice left when the card went
        if (cached) return copy(cached, { "x-tessera-source": "cache", "x-tessera-reason": reason });
        // Nothing saved yet: this server's own answer (its 429 page, say) explains itself.
        if (response && response.headers.get(ANSWER) && response.type !== "opaqueredirect") return response;
        return notSaved(isJson, reason);
      }
      var headers = {};
      if (cached && isJson && cached.headers.get("etag")) headers["If-None-Match"] = cached.headers.get("etag");
      return withTimeout(fetch(key, { headers: headers, cache: "no-store", credentials: "omit", redirect: "manual" }))
        .then(function (response) {
          if (response.status === 304 && cached && response.headers.get(ANSWER) === "card") {
            // Unchanged: the saved copy, dated by this answer ("last updated").
            return copy(cached, { date: response.headers.get("date"), "x-tessera-card": "card" }).then(function (fresh) {
              return cache.put(key, fresh.clone()).then(function () { return fresh; });
            });
          }
          if (isCard(response, isJson)) {
            return cache.put(key, response.clone()).then(function () { return response; });
          }
          if (isGone(response)) {
            var base = cardBase(url.pathname);
            return forget(cache, base).then(function () {
              return base ? cache.put(url.origin + base, goneNotice(response)) : null;
            }).then(function () { return response; });
          }
          return saved(reasonFor(response), response);
        }, function (error) {
          return saved(error && error.message === "timeout" ? "timeout" : "offline", null);
        });
    });
  });
}

// Save page, data and manifest now (the first visit is not loaded through the worker).
function saveCard(base, fetchAll) {
  return caches.open(CARDS).then(function (cache) {
    return Promise.all(cardFiles(base).map(function (key) {
      return cache.match(key).then(function (hit) {
        if (hit && !fetchAll) return null;
        return cardRequest(new URL(key)).catch(function () { return null; });
      });
    })).then(function () {
      return Promise.all(cardFiles(base).slice(0, 2).map(function (key) { return cache.match(key); }));
    }).then(function (hits) { return hits.every(Boolean); });
  });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  var port = event.ports && event.ports[0];
  var base = data.type === "save-card" ? cardBase(String(data.path || "")) : null;
  if (!base) return;
  event.waitUntil(saveCard(base, Boolean(data.fetch)).then(function (ok) {
    if (port) port.postMessage({ saved: ok });
  }));
});

// What a shell file must be. A Wi-Fi sign-in portal answers any request with its own page
// (200 HTML, or a redirect to it): saved as card.js, the saved card would lose its QR and
// its freshness line offline.
var SHELL_TYPES = { ".js": "javascript", ".css": "text/css", ".png": "image/png" };

function isShellFile(request, response) {
  if (!response.ok || response.redirected) return false;
  var path = new URL(request.url).pathname;
  var ext = Object.keys(SHELL_TYPES).filter(function (e) { return path.slice(-e.length) === e; })[0];
  return Boolean(ext) && (response.headers.get("content-type") || "").indexOf(SHELL_TYPES[ext]) !== -1;
}

function shellRequest(request) {
  return caches.match(request).then(function (hit) {
    var network = fetch(request).then(function (response) {
      if (isShellFile(request, response)) {
        var saved = response.clone();
        caches.open(SHELL).then(function (c) { return c.put(request, saved); });
      }
      return response;
    });
    if (hit) { network.catch(function () {}); return hit; }
    return network;
  });
}

self.addEventListener("fetch", function (event) {
  var url = new URL(event.request.url);
  if (url.origin !== self.location.origin || event.request.method !== "GET") return;
  if (url.pathname.indexOf("/card/") === 0) event.respondWith(cardRequest(url));
  else if (url.pathname.indexOf("/pwa/") === 0) event.respondWith(shellRequest(event.request));
});
