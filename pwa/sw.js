/* Tessera card service worker: network first (4 s), the last good copy when offline. */
"use strict";
var SHELL = "tessera-shell-v1";
var CARDS = "tessera-cards-v1";
var SHELL_FILES = [
  "/pwa/card.css", "/pwa/card.js", "/pwa/icons/icon-192.png", "/pwa/icons/icon-512.png",
  "/pwa/icons/maskable-512.png", "/pwa/icons/apple-touch-icon.png"
];
var TIMEOUT_MS = 4000;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (c) { return c.addAll(SHELL_FILES); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
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
  var m = pathname.match(/^\/card\/([A-Za-z0-9_-]+)/);
  return m ? "/card/" + m[1] : null;
}

function forget(cache, base) {
  return Promise.all([base, base + ".json", base + "/manifest.webmanifest"].map(function (p) {
    return cache.delete(self.location.origin + p);
  }));
}

function offlineAnswer(isJson) {
  var text = "You are offline and this card has not been saved on this phone yet.";
  return isJson
    ? new Response(JSON.stringify({ error: "offline", message: text }), { status: 503, headers: { "Content-Type": "application/json" } })
    : new Response("<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'><p>" + text + "</p>",
                   { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

function cardRequest(url) {
  var key = url.origin + url.pathname;
  var isJson = url.pathname.slice(-5) === ".json";
  return caches.open(CARDS).then(function (cache) {
    return cache.match(key).then(function (cached) {
      var headers = {};
      if (cached && isJson && cached.headers.get("etag")) headers["If-None-Match"] = cached.headers.get("etag");
      return withTimeout(fetch(key, { headers: headers, cache: "no-store", credentials: "omit", redirect: "error" }))
        .then(function (response) {
          if (response.status === 304 && cached) {
            // Unchanged: the cached copy, dated by this answer ("last updated").
            return copy(cached, { date: response.headers.get("date") }).then(function (fresh) {
              return cache.put(key, fresh.clone()).then(function () { return fresh; });
            });
          }
          if (response.status === 200) {
            return cache.put(key, response.clone()).then(function () { return response; });
          }
          if (response.status === 410) {
            return forget(cache, cardBase(url.pathname)).then(function () { return response; });
          }
          if (response.status >= 500 && cached) return copy(cached, { "x-tessera-source": "cache" });
          return response;
        })
        .catch(function () {
          if (cached) return copy(cached, { "x-tessera-source": "cache" });
          return offlineAnswer(isJson);
        });
    });
  });
}

function shellRequest(request) {
  return caches.match(request).then(function (hit) {
    var network = fetch(request).then(function (response) {
      if (response.ok) {
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
