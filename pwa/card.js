/* The card page: refreshes its data, shows when the server last answered, works offline. */
(function () {
  "use strict";
  var body = document.body;
  var jsonUrl = body.dataset.json;
  if (!jsonUrl) return;
  var REFRESH_MS = 5 * 60 * 1000;
  var TIMEOUT_MS = 4500;
  var STALE_MS = 24 * 60 * 60 * 1000;
  var lastUpdated = null;
  var $ = function (id) { return document.getElementById(id); };

  function get(data, path) {
    return path.split(".").reduce(function (v, k) { return v == null ? v : v[k]; }, data);
  }

  function applyColors(org) {
    if (!org) return;
    document.documentElement.style.setProperty("--card", org.color);
    document.documentElement.style.setProperty("--card-text", org.text_color);
  }
  applyColors({ color: body.dataset.color, text_color: body.dataset.textColor });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function renderSections(sections) {
    var slot = $("sections");
    slot.textContent = "";
    (sections || []).forEach(function (s) {
      if (!s.rows.length && !s.empty_text) return;
      var box = el("section", "plugin-section");
      box.dataset.key = s.key;
      box.appendChild(el("h2", "", s.title));
      if (!s.rows.length) { box.appendChild(el("p", "empty", s.empty_text)); slot.appendChild(box); return; }
      var list = el("ul"), group = null;
      s.rows.forEach(function (r) {
        if (r.group && r.group !== group) list.appendChild(el("li", "group", r.group));
        group = r.group;
        var li = el("li", r.tone ? "tone-" + r.tone : "");
        li.appendChild(el("span", "label", r.label));
        if (r.value) { li.appendChild(document.createTextNode(" ")); li.appendChild(el("span", "value", r.value)); }
        if (r.note) { li.appendChild(document.createTextNode(" ")); li.appendChild(el("span", "note", r.note)); }
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

  function renderCheck(check) {
    var slot = $("check-slot");
    slot.textContent = "";
    slot.hidden = !check;
    if (!check) return;
    var img = el("img");
    img.src = check.qr;
    img.alt = "Check code for marshals";
    slot.appendChild(img);
    slot.appendChild(el("p", "", check.caption || "Marshals: scan to check this card."));
  }

  function render(data) {
    document.querySelectorAll("[data-bind]").forEach(function (node) {
      var value = get(data, node.dataset.bind);
      node.textContent = value == null ? "" : value;
    });
    document.querySelectorAll("[data-tone]").forEach(function (node) {
      node.className = node.className.replace(/\btone-\w+/g, "").trim() + " tone-" + get(data, node.dataset.tone);
    });
    applyColors(data.org);
    renderPhoto(data);
    renderSections(data.sections);
    renderCheck(data.check);
    $("card").hidden = false;
    $("revoked").hidden = true;
  }

  function showUpdated() {
    var node = $("updated");
    if (!lastUpdated || isNaN(lastUpdated.getTime())) return;
    node.dateTime = lastUpdated.toISOString();
    node.textContent = lastUpdated.toLocaleString(undefined, {
      day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit"
    });
    $("stale").hidden = Date.now() - lastUpdated.getTime() < STALE_MS;
  }

  function setOffline(offline) { $("offline").hidden = !offline; }

  function showRevoked() {
    $("card").hidden = true;
    $("revoked").hidden = false;
    $("refresh").hidden = true;
    $("install").hidden = true;
  }

  function refresh() {
    var controller = "AbortController" in window ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, TIMEOUT_MS);
    return fetch(jsonUrl, { cache: "no-store", credentials: "omit", signal: controller && controller.signal })
      .then(function (res) {
        clearTimeout(timer);
        if (res.status === 410 || res.status === 404) { showRevoked(); return; }
        if (!res.ok) { setOffline(true); return; }
        var fromCache = res.headers.get("x-tessera-source") === "cache";
        return res.json().then(function (data) {
          render(data);
          var date = res.headers.get("date");
          lastUpdated = date ? new Date(date) : (fromCache ? lastUpdated : new Date());
          setOffline(fromCache);
          showUpdated();
          body.dataset.state = fromCache ? "offline" : "online";
        });
      })
      .catch(function () { clearTimeout(timer); setOffline(true); body.dataset.state = "offline"; });
  }

  lastUpdated = new Date($("updated").getAttribute("datetime"));
  showUpdated();
  $("refresh").addEventListener("click", function () { refresh(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  window.addEventListener("online", function () { refresh(); });
  setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
  setInterval(showUpdated, 60 * 1000);

  var installPrompt = null;
  window.addEventListener("beforeinstallprompt", function (event) {
    event.preventDefault();
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

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/card/" }).catch(function () {});
  }
  refresh();
})();
