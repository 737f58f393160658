/* The card page: draws the marshal QR, refreshes its data, says how fresh it is, works offline.
 *
 * Freshness (top of the screen, body[data-freshness]): "live" while the last answer came
 * from the server, "offline" while the saved copy is shown (with the reason it could not
 * refresh), "stale" once the last server answer is more than a day old. Only this
 * server's own 404/410 for this card replaces it: then every personal detail leaves the
 * page at once.
 */
(function () {
  "use strict";
  var body = document.body;
  var jsonUrl = body.dataset.json;
  if (!jsonUrl) return;
  var CARDS = "tessera-cards-v1";  // the worker's cache of saved cards (pwa/sw.js)
  // Not controlled by the card's worker: this load did not pass through it (the first
  // visit). The page as the server sent it, before anything here changes it, to keep.
  var firstVisit = "serviceWorker" in navigator && !navigator.serviceWorker.controller;
  var pageAsServed = firstVisit ? "<!doctype html>\n" + document.documentElement.outerHTML : null;
  var REFRESH_MS = 5 * 60 * 1000;
  var TIMEOUT_MS = 4500;
  var STALE_MS = 24 * 60 * 60 * 1000;
  var JUST_SERVED_MS = 2 * 60 * 1000;
  var ANSWER = "x-tessera-card";
  var SVG = "http://www.w3.org/2000/svg";
  var QUIET_ZONE = 4; // modules of white around the code, as the QR standard asks
  var REASONS = {
    offline: "Could not refresh: no connection.",
    timeout: "Could not refresh: the server did not answer in time.",
    busy: "Could not refresh: the server is busy; try again in a minute.",
    server: "Could not refresh: the server had a problem.",
    unexpected: "Could not refresh: the network answered with something other than this card (a Wi-Fi sign-in page?).",
    checking: "Checking for a newer copy…"
  };
  var lastUpdated = null;  // when the server last answered
  var source = "server";   // where the card on screen came from: "server" or "saved"
  var reason = null;       // why the last refresh did not reach the server
  var check = null;        // the marshal code on screen: {url, valid_until, caption}
  var timers = [];
  var shown = null;        // the payload on screen, as the server sent it
  var renderedDay = ""; // the organisation's date it was drawn for (rows and membership expire by it)
  var $ = function (id) { return document.getElementById(id); };

  function get(data, path) {
    return path.split(".").reduce(function (v, k) { return v == null ? v : v[k]; }, data);
  }

  function applyColors(org) {
    if (!org) return;
    document.documentElement.style.setProperty("--card", org.color);
    document.documentElement.style.setProperty("--card-text", org.text_color);
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  var DATE = /\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?: (?:[A-Z]{2,5}|[+-]\d{2,4}))?)?/g;

  // ``node`` shows ``text`` with each date (and its time) in a <span class="date">, which
  // the stylesheet keeps on one line: a date never breaks at a hyphen on a narrow phone.
  function setText(node, text) {
    node.textContent = "";
    text = text == null ? "" : String(text);
    var last = 0, match;
    DATE.lastIndex = 0;
    while ((match = DATE.exec(text)) !== null) {
      if (match.index > last) node.appendChild(document.createTextNode(text.slice(last, match.index)));
      node.appendChild(el("span", "date", match[0]));
      last = match.index + match[0].length;
    }
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
    return node;
  }

  // A time on the organisation's clock, as the caption under the QR gives it ("2026-12-04
  // 00:00 UTC"), whatever the phone's own time zone.
  function orgStamp(date, zone) {
    try {
      // The zone's abbreviation as the server writes it (CET, EST, AKST): British English
      // knows Europe's, American English America's; "GMT+1" only when neither does.
      var named = ["en-GB", "en-US"].map(function (locale) {
        var parts = {};
        new Intl.DateTimeFormat(locale, {
          timeZone: zone || "UTC", year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short"
        }).formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
        return parts;
      });
      var parts = named[0], name = parts.timeZoneName;
      if (/^GMT[+-]/.test(name) && !/^GMT[+-]/.test(named[1].timeZoneName)) name = named[1].timeZoneName;
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" +
        parts.minute + " " + name;
    } catch (e) {
      return date.toISOString().replace("T", " ").slice(0, 16) + " UTC";
    }
  }

  function when(date) {
    return date.toLocaleString(undefined, {
      day: "numeric", month: "short", hour: "2-digit", minute: "2-digit"
    });
  }

  /* --- the marshal QR, drawn here from the check URL (the server sends no image) --- */

  function qrSvg(url) {
    var qr = qrcode(0, "M");  // smallest version that holds the URL, error correction M
    qr.addData(url);
    qr.make();
    var count = qr.getModuleCount(), size = count + 2 * QUIET_ZONE, path = [];
    for (var r = 0; r < count; r += 1) {
      for (var c = 0; c < count; c += 1) {
        if (!qr.isDark(r, c)) continue;
        var run = 1;
        while (c + run < count && qr.isDark(r, c + run)) run += 1;
        path.push("M" + (c + QUIET_ZONE) + " " + (r + QUIET_ZONE) + "h" + run + "v1h-" + run + "z");
        c += run - 1;
      }
    }
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + size + " " + size);
    svg.setAttribute("shape-rendering", "crispEdges");
    svg.setAttribute("aria-hidden", "true");
    var back = document.createElementNS(SVG, "rect");
    back.setAttribute("width", size);
    back.setAttribute("height", size);
    back.setAttribute("fill", "#ffffff");
    var dark = document.createElementNS(SVG, "path");
    dark.setAttribute("d", path.join(""));
    dark.setAttribute("fill", "#000000");
    svg.appendChild(back);
    svg.appendChild(dark);
    return svg;
  }

  function renderCheck(next) {
    var slot = $("check-slot");
    if (!slot) return;
    check = next && next.url ? next : null;
    slot.hidden = !check;
    var box = $("qr");
    box.textContent = "";
    if (!check) return;
    box.dataset.url = check.url;
    try {
      box.appendChild(qrSvg(check.url));
    } catch (e) {
      box.appendChild(el("p", "qr-missing", "The check code could not be drawn on this phone."));
    }
    showCheckValidity();
  }

  // An offline card keeps its code until the code's own expiry, then says so.
  function showCheckValidity() {
    if (!check) return;
    var until = new Date(check.valid_until);
    var expired = !isNaN(until.getTime()) && Date.now() > until.getTime();
    $("check-slot").dataset.state = expired ? "expired" : "valid";
    $("qr-expired").hidden = !expired;
    setText($("check-caption"), expired
      ? "This check code expired " + orgStamp(until, (shown && shown.org && shown.org.time_zone) || body.dataset.timeZone) + ". Connect to the internet and tap Refresh for a new one."
      : (check.caption || "Marshals: scan to check this card."));
  }

  /* --- the card --- */

  // The organisation's date, "YYYY-MM-DD" (its time zone, as the server judges expiry).
  function orgToday(zone) {
    try {
      return new Intl.DateTimeFormat("en-CA", {
        timeZone: zone || "UTC", year: "numeric", month: "2-digit", day: "2-digit"
      }).format(new Date());
    } catch (e) {
      return new Date().toISOString().slice(0, 10);
    }
  }

  // A saved card whose membership has expired since the server wrote it (offline past
  // the organisation's midnight) says so, in the words the server sent for that day.
  function asOfToday(data, today) {
    var later = data.if_expired, until = data.membership && data.membership.expires_on;
    if (!later || !until || today <= until) return data;
    var view = {};
    Object.keys(data).forEach(function (k) { view[k] = data[k]; });
    Object.keys(later).forEach(function (k) { view[k] = later[k]; });
    return view;
  }

  // A row past its last valid day (a card saved before it expired, read offline) says
  // so instead of showing as current.
  function rowAsOfToday(r, today) {
    if (!r.expires_on || today <= r.expires_on) return r;
    return { label: r.label, value: "Expired", note: "expired " + r.expires_on, group: r.group, tone: "bad" };
  }

  function renderSections(sections, today) {
    var slot = $("sections");
    slot.textContent = "";
    (sections || []).forEach(function (s) {
      if (!s.rows.length && !s.empty_text) return;
      var box = el("section", "plugin-section");
      box.dataset.key = s.key;
      box.appendChild(el("h2", "", s.title));
      if (s.note) box.appendChild(el("p", "section-note", s.note));
      if (!s.rows.length) { box.appendChild(el("p", "empty", s.empty_text)); slot.appendChild(box); return; }
      var list = el("ul"), group = null;
      s.rows.forEach(function (row) {
        var r = rowAsOfToday(row, today);
        if (r.group && r.group !== group) list.appendChild(el("li", "group", r.group));
        group = r.group;
        var li = el("li", r.tone ? "tone-" + r.tone : "");
        li.appendChild(el("span", "label", r.label));
        if (r.value) { li.appendChild(document.createTextNode(" ")); li.appendChild(el("span", "value", r.value)); }
        if (r.note) { li.appendChild(document.createTextNode(" ")); li.appendChild(setText(el("span", "note"), r.note)); }
        list.appendChild(li);
      });
      box.appendChild(list);
      slot.appendChild(box);
    });
  }

  function renderPhoto(data) {
    var slot = $("photo-slot");
    slot.textContent = "";
    if (data.photo) {
      var img = el("img");
      img.src = data.photo;
      img.alt = "Photo of " + (data.member.sca_name || data.member.legal_name);
      slot.appendChild(img);
    } else {
      slot.appendChild(el("span", "placeholder", (data.member.sca_name || data.member.legal_name || "?").charAt(0)));
    }
  }

  function render(payload) {
    if (!$("card")) return;
    shown = payload;
    renderedDay = orgToday(payload.org && payload.org.time_zone);
    var data = asOfToday(payload, renderedDay);
    document.querySelectorAll("[data-bind]").forEach(function (node) {
      var value = get(data, node.dataset.bind);
      setText(node, value);
    });
    document.querySelectorAll("[data-tone]").forEach(function (node) {
      node.className = node.className.replace(/\btone-\w+/g, "").trim() + " tone-" + get(data, node.dataset.tone);
    });
    applyColors(data.org);
    renderPhoto(data);
    renderSections(data.sections, renderedDay);
    renderCheck(data.check);
    document.title = data.org.title + " · " + (data.member.sca_name || data.member.legal_name);
  }

  /* --- freshness, at the top of the screen --- */

  function showFreshness() {
    if (!lastUpdated || isNaN(lastUpdated.getTime())) return;
    var stale = Date.now() - lastUpdated.getTime() >= STALE_MS;
    var state = stale ? "stale" : (source === "server" ? "live" : "offline");
    var word, lead, text = null;
    if (state === "live") {
      word = "Live"; lead = "— read from the server at";
    } else if (state === "offline") {
      word = reason === "offline" || reason === "timeout" ? "Offline" : (reason === "checking" ? "Saved copy" : "Not refreshed");
      lead = reason === "checking" ? "from" : "since";
      text = (reason === "checking" ? "" : "Showing the copy saved on this phone. ") + REASONS[reason || "offline"];
    } else {
      word = "Stale"; lead = "— last read from the server at";
      text = "More than a day old: connect to the internet and tap Refresh." +
             (source === "saved" && reason && reason !== "checking" ? " " + REASONS[reason] : "");
    }
    body.dataset.freshness = state;
    body.dataset.state = source === "server" ? "online" : "offline";
    $("freshness-word").textContent = word;
    $("freshness-lead").textContent = lead;
    var node = $("updated");
    node.dateTime = lastUpdated.toISOString();
    node.textContent = when(lastUpdated);
    $("freshness-text").textContent = text || "";
    $("freshness-text").hidden = !text;
  }

  function tick() {
    if (shown && orgToday(shown.org && shown.org.time_zone) !== renderedDay) render(shown);
    showFreshness();
    showCheckValidity();
  }

  function couldNotRefresh(why) {
    source = "saved";
    reason = why;
    showFreshness();
  }

  function showSaved() {
    if (!$("card")) return;
    body.dataset.saved = "yes";
    $("saved").hidden = false;
  }

  /* --- the first visit keeps itself on the phone --- */

  // The first visit's page and data, saved here by the page itself: the worker only
  // starts installing once the page is on screen, and the signal may be gone before it
  // could fetch them again. (Once it controls the page, the worker saves every answer.)
  var keeping = Promise.resolve();

  function keep(path, response) {
    if (!firstVisit || navigator.serviceWorker.controller || !("caches" in window)) return;
    keeping = keeping.then(function () {
      if (!jsonUrl) return null;  // gone meanwhile: nothing of it is kept
      return caches.open(CARDS).then(function (cache) { return cache.put(path, response); });
    }).catch(function () {});
  }

  function keepPage() {
    keep(location.pathname, new Response(pageAsServed, { headers: {
      "Content-Type": "text/html; charset=utf-8",
      "X-Tessera-Card": "card",
      "Date": new Date($("updated").getAttribute("datetime")).toUTCString()
    } }));
    // The manifest too (the browser reads it at every start; not kept by the browser itself).
    var manifest = location.pathname + "/manifest.webmanifest";
    fetch(manifest, { cache: "no-store", credentials: "omit", redirect: "manual" }).then(function (res) {
      if (res.status === 200 && res.headers.get(ANSWER) === "card") keep(manifest, res);
    }).catch(function () {});
  }

  function forgetKept() {
    if (!firstVisit || navigator.serviceWorker.controller || !("caches" in window)) return;
    var paths = [location.pathname, location.pathname + ".json", location.pathname + "/manifest.webmanifest"];
    keeping = keeping.then(function () {
      return caches.open(CARDS).then(function (cache) {
        return Promise.all(paths.map(function (p) { return cache.delete(p); }));
      });
    }).catch(function () {});
  }

  // The card is gone (this server's 404/410 for this link): nothing personal stays on the page.
  function showGone(status) {
    forgetKept();
    var card = $("card");
    if (card) card.parentNode.removeChild(card);
    timers.forEach(clearInterval);
    timers = [];
    jsonUrl = null;
    check = null;
    document.title = status === 410 ? "Card link no longer valid" : "Card not found";
    if (status === 404) {
      $("gone-title").textContent = "Card not found";
      $("gone-text").textContent = "There is no card at this address. Ask the membership office for a new link.";
    }
    $("freshness").hidden = true;
    $("saved").hidden = true;
    $("install").hidden = true;
    $("revoked").hidden = false;
    body.dataset.state = "gone";
    delete body.dataset.saved;
  }

  function reasonOf(res) {
    var given = res.headers.get("x-tessera-reason");
    if (given && REASONS[given]) return given;
    if (res.status === 429) return "busy";
    if (res.status >= 500) return "server";
    return "unexpected";
  }

  function refresh() {
    if (!jsonUrl) return Promise.resolve();
    var controller = "AbortController" in window ? new AbortController() : null;
    var timedOut = false;
    var timer = setTimeout(function () { timedOut = true; if (controller) controller.abort(); }, TIMEOUT_MS);
    return fetch(jsonUrl, { cache: "no-store", credentials: "omit", redirect: "manual", signal: controller && controller.signal })
      .then(function (res) {
        clearTimeout(timer);
        var answer = res.headers.get(ANSWER);
        if ((res.status === 410 && answer === "revoked") || (res.status === 404 && answer === "unknown")) {
          showGone(res.status);
          return;
        }
        var type = res.headers.get("content-type") || "";
        if (res.status !== 200 || type.indexOf("json") === -1 || (!answer && !res.headers.get("x-tessera-source"))) {
          couldNotRefresh(reasonOf(res));
          return;
        }
        var fromCache = res.headers.get("x-tessera-source") === "cache";
        if (!fromCache && answer === "card") keep(jsonUrl, res.clone());
        return res.json().then(function (data) {
          if (!jsonUrl) return;
          render(data);
          var date = res.headers.get("date");
          if (date) lastUpdated = new Date(date);
          else if (!fromCache) lastUpdated = new Date();
          source = fromCache ? "saved" : "server";
          reason = fromCache ? reasonOf(res) : null;
          showFreshness();
        });
      })
      .catch(function () {
        clearTimeout(timer);
        if (jsonUrl) couldNotRefresh(timedOut ? "timeout" : "offline");
      });
  }

  function saveForOffline() {
    if (!("serviceWorker" in navigator)) return;
    if (firstVisit) keepPage();
    navigator.serviceWorker.register("/sw.js", { scope: "/card/" }).catch(function () {});
    navigator.serviceWorker.ready.then(function (registration) {
      if (!registration.active || !jsonUrl) return;
      var channel = new MessageChannel();
      channel.port1.onmessage = function (event) { if (event.data && event.data.saved) showSaved(); };
      registration.active.postMessage(
        { type: "save-card", path: location.pathname, fetch: firstVisit }, [channel.port2]);
    });
  }

  /* --- start: everything the server rendered is drawn now, without waiting for a request --- */

  applyColors({ color: body.dataset.color, text_color: body.dataset.textColor });
  var slot = $("check-slot");
  renderCheck({ url: slot.dataset.url, valid_until: slot.dataset.validUntil, caption: slot.dataset.caption });
  lastUpdated = new Date($("updated").getAttribute("datetime"));
  if (isNaN(lastUpdated.getTime()) || Math.abs(Date.now() - lastUpdated.getTime()) > JUST_SERVED_MS) {
    source = "saved";  // an older copy of the page (from this phone): say so until the server answers
    reason = "checking";
  }
  showFreshness();

  $("refresh").addEventListener("click", function () { refresh(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  window.addEventListener("online", function () { refresh(); });
  timers.push(setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS));
  timers.push(setInterval(tick, 30 * 1000));

  var installPrompt = null;
  window.addEventListener("beforeinstallprompt", function (event) {
    event.preventDefault();
    if (!jsonUrl) return;
    installPrompt = event;
    $("install").hidden = false;
  });
  $("install").addEventListener("click", function () {
    if (!installPrompt) return;
    installPrompt.prompt();
    installPrompt = null;
    $("install").hidden = true;
  });
  var ios = /iphone|ipad|ipod/i.test(navigator.userAgent) ||
    (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  if (ios && !navigator.standalone) $("ios-help").hidden = false;

  saveForOffline();
  refresh();
})();
