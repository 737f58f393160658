/* Tessera card scanner: live check with signal, signature check without.
 *
 * Code layout (server/checks/codes.py): version(1) | key id(2) | id length(1) | public id |
 * issued at(4) | valid until(4) | Ed25519 signature(64), base64url without padding.
 *
 * Offline, whose card it is comes from the roster (server/checks/roster.py): every current
 * member's name, branch, standing and authorizations, as of when the server built it. It is
 * kept in Cache Storage ("tessera-roster"), refreshed with If-None-Match every 10 minutes
 * while online (and on "Update and upload now"), and deleted when it is 14 days old, when
 * the server says this marshal may no longer have it, or on "Forget the roster".
 */
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const STORE = {
    keys: "tessera.scan.keys", revoked: "tessera.scan.revoked", queue: "tessera.scan.queue",
    roster: "tessera.scan.roster",
  };
  const LIVE_TIMEOUT_MS = 4000;
  const UPLOAD_EVERY_MS = 30000;
  const ROSTER_URL = "/check/scan/roster.json";
  const ROSTER_CACHE = "tessera-roster";
  const ROSTER_EVERY_MS = 10 * 60 * 1000;
  const ROSTER_KEEP_SECONDS = 14 * 86400;
  const VOCAB = Object.fromEntries(JSON.parse($("vocabulary").textContent).map((r) => [r.key, r]));

  const load = (key, fallback) => {
    try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch { return fallback; }
  };
  const save = (key, value) => localStorage.setItem(key, JSON.stringify(value));
  const ZONE = JSON.parse($("time-zone").textContent);

  /** A time as the organisation's wall clock shows it ("2026-12-04 00:00 CET"), as the
   * live check page does; UTC where the browser does not know the zone. */
  function fmt(seconds) {
    const moment = new Date(seconds * 1000);
    try {
      // The zone's abbreviation as the server writes it (CET, EST, AKST): British English
      // knows Europe's, American English America's; "GMT+1" only when neither does.
      const named = ["en-GB", "en-US"].map((locale) => Object.fromEntries(new Intl.DateTimeFormat(locale, {
        timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
        minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
      }).formatToParts(moment).map((p) => [p.type, p.value])));
      const parts = named[0];
      const zone = named.map((p) => p.timeZoneName).find((z) => !/^GMT[+-]/.test(z)) || parts.timeZoneName;
      return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${zone}`;
    } catch {
      return moment.toISOString().replace("T", " ").slice(0, 16) + " UTC";
    }
  }
  const now = () => Math.floor(Date.now() / 1000);

  function age(seconds) {
    const minutes = Math.max(0, Math.floor((now() - seconds) / 60));
    if (minutes < 1) return "less than a minute ago";
    if (minutes < 120) return minutes === 1 ? "1 minute ago" : `${minutes} minutes ago`;
    if (minutes < 72 * 60) return `${Math.floor(minutes / 60)} hours ago`;
    return `${Math.floor(minutes / 1440)} days ago`;
  }

  /** Today's date where the organisation is (its time zone, as the live check judges
   * expiry), "YYYY-MM-DD"; UTC when the roster names no zone or the browser lacks it. */
  function todayIn(timeZone) {
    try {
      return new Intl.DateTimeFormat("en-CA", {
        timeZone: timeZone || "UTC", year: "numeric", month: "2-digit", day: "2-digit",
      }).format(new Date());
    } catch {
      return new Date().toISOString().slice(0, 10);
    }
  }

  function b64urlBytes(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const raw = atob(b64);
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  /** The code inside a scanned or typed text: a check link or the bare code. */
  function extractCode(text) {
    const trimmed = (text || "").trim();
    const inLink = trimmed.match(/\/check\/([A-Za-z0-9_-]{20,200})\/?$/);
    if (inLink) return inLink[1];
    return /^[A-Za-z0-9_-]{20,200}$/.test(trimmed) ? trimmed : null;
  }

  function parse(code) {
    let raw;
    try { raw = b64urlBytes(code); } catch { return null; }
    if (raw.length < 4 + 8 + 64) return null;
    const view = new DataView(raw.buffer);
    const version = raw[0];
    const keyId = view.getUint16(1);
    const idLength = raw[3];
    const body = 4 + idLength + 8;
    if (version !== 1 || idLength < 1 || idLength > 32 || raw.length !== body + 64) return null;
    const publicId = Array.from(raw.slice(4, 4 + idLength), (b) => b.toString(16).padStart(2, "0")).join("");
    return {
      code, keyId, publicId,
      issuedAt: view.getUint32(4 + idLength),
      validUntil: view.getUint32(4 + idLength + 4),
      message: raw.slice(0, body),
      signature: raw.slice(body),
    };
  }

  // --- the roster ------------------------------------------------------------------
  let roster = null; // { data, byId: Map(public id -> entry) } once read from the cache

  async function readRoster() {
    if (roster) return roster;
    const meta = load(STORE.roster, null);
    if (!meta || !("caches" in window)) return null;
    if (now() - meta.as_of > ROSTER_KEEP_SECONDS) { await forgetRoster(); return null; }
    const response = await (await caches.open(ROSTER_CACHE)).match(ROSTER_URL);
    if (!response) return null;
    const data = await response.json();
    roster = { data, byId: new Map(data.members.map((m) => [m[0], m])) };
    return roster;
  }

  async function forgetRoster() {
    roster = null;
    localStorage.removeItem(STORE.roster);
    if ("caches" in window) await caches.delete(ROSTER_CACHE);
    renderState();
  }

  /** What the roster says of one member: name, branch, standing, sections. */
  function rosterMember(found, publicId) {
    const entry = found && found.byId.get(publicId);
    if (!entry) return null;
    const [, name, branch, standing, expires, rows] = entry;
    const data = found.data;
    const sections = [];
    for (const index of rows) {
      const [s, group, label, value, note, tone] = data.rows[index];
      const [key, title, emptyText] = data.sections[s];
      let section = sections.find((x) => x.key === key);
      if (!section) { section = { key, title, rows: [], empty_text: emptyText }; sections.push(section); }
      if (label) section.rows.push({ label, value, note, group, tone });
    }
    const meta = load(STORE.roster, {});
    return {
      name, branch: data.branches[branch], standing, expires, sections,
      asOf: meta.as_of, timeZone: data.time_zone,
    };
  }

  /** Download the roster if it changed (If-None-Match); at most every 10 minutes unless forced. */
  async function refreshRoster(force) {
    if (!("caches" in window)) return;
    const meta = load(STORE.roster, null);
    if (!force && meta && Date.now() - meta.checked_ms < ROSTER_EVERY_MS) return;
    const cache = await caches.open(ROSTER_CACHE);
    const cached = meta ? await cache.match(ROSTER_URL) : null;
    const headers = { Accept: "application/json" };
    if (cached && meta.etag) headers["If-None-Match"] = meta.etag;
    const response = await fetch(ROSTER_URL, { credentials: "same-origin", cache: "no-store", headers });
    if (response.status === 401 || response.status === 403) {
      let body = {};
      try { body = await response.json(); } catch { /* not JSON */ }
      throw new Refused(response.status, body);
    }
    // Only this server's roster replaces the saved one: a Wi-Fi sign-in page (200 HTML, or
    // a redirect to one) must not take its place, or the names are gone offline.
    const generated = Number(response.headers.get("X-Roster-Generated-At"));
    if (response.redirected || !generated) throw new Error(`${ROSTER_URL}: not the roster (a Wi-Fi sign-in page?)`);
    const asOf = generated;
    if (response.status === 304 && cached) {
      save(STORE.roster, { ...meta, as_of: asOf, checked_ms: Date.now() });
      return;
    }
    if (!response.ok) throw new Error(`${ROSTER_URL}: ${response.status}`);
    const type = response.headers.get("Content-Type") || "";
    if (!type.startsWith("application/json")) throw new Error(`${ROSTER_URL}: ${type}, not the roster`);
    await cache.put(ROSTER_URL, response);
    save(STORE.roster, {
      etag: response.headers.get("ETag"),
      as_of: asOf,
      members: Number(response.headers.get("X-Roster-Members")) || 0,
      checked_ms: Date.now(),
    });
    roster = null;
  }

  const STANDING_REASONS = {
    unverified: "The membership was not verified",
    minor_needs_parent: "Under 18 and no parent or guardian was linked",
  };

  /** The result the roster's facts give for a genuine, current, unrevoked code. */
  function judgeByRoster(member) {
    const asOf = `the roster of ${fmt(member.asOf)}`;
    if (member.standing !== "ok") {
      return { result: member.standing, reason: `Offline: ${STANDING_REASONS[member.standing] || "Not in good standing"} in ${asOf}.` };
    }
    if (!member.expires || member.expires < todayIn(member.timeZone)) {
      const when = member.expires ? ` on ${member.expires}` : "";
      return { result: "membership_expired", reason: `Offline: the membership expired${when} (${asOf}).` };
    }
    return {
      result: "ok",
      reason: `Offline: the code is genuine, current and not revoked; ${asOf} shows the membership current until ${member.expires}.`,
    };
  }

  /** The offline decision: the same steps as the server, minus the live register. */
  async function decideOffline(code) {
    const outcome = await decideBySignature(code);
    if (!outcome.parsed || !outcome.genuine) return outcome;
    let found = null;
    try { found = await readRoster(); } catch { found = null; }
    const member = rosterMember(found, outcome.parsed.publicId);
    if (!member) {
      // Deactivated and deleted members are left out of the roster on purpose: the
      // revocation list has already said so, and nobody "joined since".
      if (outcome.result === "deactivated" || outcome.result === "unknown") return outcome;
      const missing = found
        ? " This member is not in the roster on this phone (joined since it was downloaded?): ask for photo ID."
        : " No roster on this phone: the name and authorizations are unknown offline.";
      return { ...outcome, reason: outcome.reason + missing };
    }
    if (outcome.result !== "ok") return { ...outcome, member };
    return { ...outcome, ...judgeByRoster(member), member };
  }

  async function decideBySignature(code) {
    const parsed = parse(code);
    if (!parsed) return { result: "unknown", reason: "This is not a Tessera check code." };
    const keys = load(STORE.keys, null);
    if (!keys) return { result: "unknown", reason: "No public keys cached yet: open the scanner once with signal.", parsed };
    const key = keys.keys.find((k) => k.kid === parsed.keyId);
    if (!key) return { result: "unknown", reason: "This code was signed by a key the scanner does not know.", parsed };
    let genuine = false;
    try {
      const publicKey = await crypto.subtle.importKey("raw", b64urlBytes(key.public), { name: "Ed25519" }, false, ["verify"]);
      genuine = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, parsed.signature, parsed.message);
    } catch (error) {
      return { result: "unknown", reason: `This browser cannot verify signatures (${error.name}).`, parsed };
    }
    if (!genuine) return { result: "unknown", reason: "The signature does not match: the code was altered or forged.", parsed };
    if (key.retired) return { result: "revoked", reason: "The key that signed this code has been retired.", parsed, genuine };
    const revoked = load(STORE.revoked, { entries: [] }).entries.find((e) => e.p === parsed.publicId);
    const voided = revoked && (revoked.voided || []).some(([i, u]) => i === parsed.issuedAt && u === parsed.validUntil);
    if (voided) {
      return { result: "revoked", reason: "This code is on a wallet pass that was voided.", parsed, genuine };
    }
    if (revoked && parsed.issuedAt < revoked.before) {
      const reasons = {
        revoked: `This member's codes issued before ${fmt(revoked.before)} were revoked (a lost card?).`,
        deactivated: "The member was deactivated.",
        unknown: "There is no such member any more.",
      };
      return { result: revoked.result, reason: reasons[revoked.result] || "Refused by the revocation list.", parsed, genuine };
    }
    if (now() > parsed.validUntil) return { result: "code_expired", reason: "The code has expired: refresh the card or reprint it.", parsed, genuine };
    return {
      result: "ok",
      reason: "Offline: the code is genuine, current and not revoked. Membership standing is checked live when there is signal.",
      parsed,
      genuine,
    };
  }

  async function liveCheck(code) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), LIVE_TIMEOUT_MS);
    try {
      const response = await fetch(`/check/${code}`, {
        headers: { Accept: "application/json" }, credentials: "same-origin", signal: controller.signal,
      });
      if (!response.ok) return null;
      return await response.json();
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Text nodes and <span class="date"> for each date in ``text``: dates never break at a hyphen. */
  function withWholeDates(value) {
    const text = String(value);
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(/\d{4}-\d{2}-\d{2}( \d{2}:\d{2}( (?:GMT|UTC)?[+-]\d{1,2}(?::\d\d)?| [A-Z]{2,5})?)?/g)) {
      parts.push(text.slice(last, match.index));
      const span = document.createElement("span");
      span.className = "date";
      span.textContent = match[0];
      parts.push(span);
      last = match.index + match[0].length;
    }
    parts.push(text.slice(last));
    return parts;
  }

  function show(mode, outcome, extra) {
    const vocab = VOCAB[outcome.result] || VOCAB.unknown;
    const box = $("result");
    box.hidden = false;
    box.className = `result tone-${vocab.tone}`;
    box.dataset.result = outcome.result;
    box.dataset.mode = mode;
    const asOf = mode === "offline" && extra.asOf;
    $("r-mode").textContent = mode === "live"
      ? "LIVE CHECK"
      : asOf ? `OFFLINE CHECK — roster from ${age(asOf)}` : "OFFLINE CHECK — signature only";
    $("r-word").textContent = vocab.word;
    $("r-label").textContent = vocab.label;
    $("r-reason").replaceChildren(...withWholeDates(outcome.reason));
    $("r-name").textContent = extra.name ? `${extra.name}${extra.branch ? " — " + extra.branch : ""}` : "";
    const photo = $("r-photo");
    photo.hidden = !extra.photo;
    if (extra.photo) { photo.src = extra.photo; photo.alt = `Photo of ${extra.name || "the member"}`; }
    const data = $("r-data");
    data.replaceChildren();
    const add = (label, value) => {
      const dt = document.createElement("dt"); dt.textContent = label;
      const dd = document.createElement("dd");
      dd.append(...withWholeDates(value));
      data.append(dt, dd);
    };
    const p = outcome.parsed;
    if (asOf) add("Name, branch and authorizations as of", `${fmt(asOf)} (${age(asOf)}) — the roster on this phone`);
    if (asOf && extra.expires) add("Membership expires", extra.expires);
    for (const section of extra.sections || []) {
      if (!section.rows.length && section.empty_text) add(section.title, section.empty_text);
      for (const row of section.rows) {
        const label = `${section.title}: ${row.group ? row.group + " — " : ""}${row.label}`;
        add(label, [row.value, row.note].filter(Boolean).join(" — "));
      }
    }
    if (p) {
      add("Member id", p.publicId);
      add("Code issued", `${fmt(p.issuedAt)} (${age(p.issuedAt)})`);
      add("Valid until", fmt(p.validUntil));
      add("Signing key", String(p.keyId));
    }
  }

  function queueEntry(code, outcome) {
    const queue = load(STORE.queue, []);
    const ref = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
    queue.push({ ref, code, checked_at: now(), result: outcome.result, reason: outcome.reason });
    save(STORE.queue, queue);
    renderState();
  }

  async function check(text) {
    const code = extractCode(text);
    if (!code) {
      show("offline", { result: "unknown", reason: "This is not a Tessera check code or link." }, {});
      return;
    }
    const live = await liveCheck(code);
    if (live) {
      show("live", { result: live.result, reason: live.reason, parsed: parse(code) }, live);
      return;
    }
    const outcome = await decideOffline(code);
    show("offline", outcome, outcome.member || {});
    queueEntry(code, outcome);
  }

  /** A refusal the server explained (401 login_required, 403 ...): not a network failure. */
  class Refused extends Error {
    constructor(status, body) {
      super(body.message || `Refused (${status}).`);
      this.status = status;
      this.error = body.error;
    }
  }

  async function fetchJSON(url, options = {}) {
    const response = await fetch(url, {
      credentials: "same-origin", cache: "no-store", ...options,
      headers: { Accept: "application/json", ...(options.headers || {}) },
    });
    if (response.status === 401 || response.status === 403) {
      let body = {};
      try { body = await response.json(); } catch { /* not JSON: keep the status */ }
      throw new Refused(response.status, body);
    }
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  }

  async function refreshData(force) {
    const keys = await fetchJSON("/check/keys.json");
    save(STORE.keys, { ...keys, fetched_at: now() });
    const revoked = await fetchJSON("/check/revoked.json");
    save(STORE.revoked, { ...revoked, fetched_at: now() });
    await refreshRoster(force);
  }

  async function upload() {
    const queue = load(STORE.queue, []);
    if (!queue.length) return 0;
    const session = await fetchJSON("/check/scan/session.json");
    const batch = queue.slice(0, 500);
    const outcome = await fetchJSON("/check/scan/log", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf },
      body: JSON.stringify({ entries: batch }),
    });
    const sent = new Set(batch.map((e) => e.ref));
    save(STORE.queue, load(STORE.queue, []).filter((e) => !sent.has(e.ref)));
    return outcome.accepted;
  }

  /** Online but refused: the cached keys and list stay in use; say how to fix it. */
  function showRefused(state, refused) {
    const kept = "Codes are still checked on this phone with the cached data; the log waits.";
    if (refused.status === 401) {
      const link = document.createElement("a");
      link.href = "/login?next=/check/scan/";
      link.textContent = "Log in again";
      state.replaceChildren(
        "Logged out — the revocation list cannot be updated and checks cannot upload. ",
        link, `. ${kept}`,
      );
    } else {
      state.textContent = `Not allowed — ${refused.message} ${kept}`;
    }
    state.className = "netstate refused";
  }

  // The page kept on this phone: its worker installed with the shell. Until then a marshal
  // who closes the browser finds nothing at the event, so the page does not say it is ready
  // before it is (it waits at most WORKER_WAIT_MS for a very slow link).
  const WORKER_WAIT_MS = 20000;
  const kept = "serviceWorker" in navigator
    ? navigator.serviceWorker.register("/check/scan/sw.js", { scope: "/check/" })
      .then(() => navigator.serviceWorker.ready).then(() => true, () => false)
    : Promise.resolve(false);
  const keptOnPhone = () => Promise.race([kept, new Promise((done) => setTimeout(() => done(false), WORKER_WAIT_MS))]);

  let syncing = false;
  async function sync(force) {
    if (syncing) return;
    syncing = true;
    const state = $("netstate");
    try {
      await refreshData(force === true);
      const uploaded = await upload();
      const offline = (await keptOnPhone())
        ? "Kept on this phone for offline checks."
        : "Not kept on this phone yet: keep this page open with signal a little longer.";
      state.textContent = `Online — live checks. ${uploaded ? uploaded + " offline checks uploaded. " : ""}${offline}`;
      state.className = "netstate online";
    } catch (error) {
      if (error instanceof Refused) {
        if (error.status === 403) await forgetRoster(); // no longer a marshal: not theirs to keep
        showRefused(state, error);
      } else {
        state.textContent = "Offline — codes are checked on this phone; the log uploads when the signal returns.";
        state.className = "netstate offline";
      }
    } finally {
      syncing = false;
      renderState();
    }
  }

  function renderState() {
    const keys = load(STORE.keys, null);
    const revoked = load(STORE.revoked, null);
    $("keys-state").textContent = keys ? `${keys.keys.length} key(s), updated ${age(keys.fetched_at)}` : "not loaded";
    $("revoked-state").textContent = revoked
      ? `${revoked.entries.length} entries, updated ${age(revoked.fetched_at)}`
      : "not loaded";
    $("queue-state").textContent = String(load(STORE.queue, []).length);
    const meta = load(STORE.roster, null);
    $("roster-state").replaceChildren(...withWholeDates(meta
      ? `${meta.members} members, as of ${fmt(meta.as_of)} (${age(meta.as_of)})`
      : "not loaded"));
    $("roster-forget").hidden = !meta;
  }

  // --- camera and images --------------------------------------------------------
  let stream = null;
  let detector = null;
  const canvas = $("frame");

  async function barcodeDetector() {
    if (detector !== null) return detector;
    detector = false;
    if ("BarcodeDetector" in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      } catch { detector = false; }
    }
    return detector;
  }

  async function decodeSource(source, width, height) {
    const native = await barcodeDetector();
    if (native) {
      const found = await native.detect(source);
      return found.length ? found[0].rawValue : null;
    }
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(source, 0, 0, width, height);
    const image = ctx.getImageData(0, 0, width, height);
    const found = window.jsQR(image.data, width, height, { inversionAttempts: "attemptBoth" });
    return found ? found.data : null;
  }

  async function startCamera() {
    const video = $("camera");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (error) {
      show("offline", { result: "unknown", reason: `The camera is not available (${error.name}). Type the code instead.` }, {});
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    $("camera-stop").hidden = false;
    await video.play();
    const tick = async () => {
      if (!stream) return;
      if (video.readyState >= 2) {
        const text = await decodeSource(video, video.videoWidth, video.videoHeight);
        if (text) { stopCamera(); await check(text); return; }
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("camera").hidden = true;
    $("camera-stop").hidden = true;
  }

  async function scanImage(file) {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
    const text = await decodeSource(bitmap, Math.round(bitmap.width * scale), Math.round(bitmap.height * scale));
    if (text) await check(text);
    else show("offline", { result: "unknown", reason: "No QR code found in that picture." }, {});
  }

  // --- wiring --------------------------------------------------------------------
  $("manual").addEventListener("submit", (event) => { event.preventDefault(); check($("manual-code").value); });
  $("camera-start").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", stopCamera);
  $("scan-image").addEventListener("change", (event) => { if (event.target.files[0]) scanImage(event.target.files[0]); });
  $("sync-now").addEventListener("click", () => sync(true));
  $("roster-forget").addEventListener("click", forgetRoster);
  window.addEventListener("online", sync);
  setInterval(sync, UPLOAD_EVERY_MS);
  renderState();
  sync();
  // Opened as a card's check link without signal (the worker answered with this page):
  // check that code here, offline if need be.
  if (!location.pathname.startsWith("/check/scan/")) {
    const link = location.origin + location.pathname;
    $("manual-code").value = link;
    check(link);
  }
})();
