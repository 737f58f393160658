/* Tessera card scanner: live check with signal, signature check without.
 *
 * Code layout (server/checks/codes.py): version(1) | key id(2) | id length(1) | public id |
 * issued at(4) | valid until(4) | Ed25519 signature(64), base64url without padding.
 */
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const STORE = { keys: "tessera.scan.keys", revoked: "tessera.scan.revoked", queue: "tessera.scan.queue" };
  const LIVE_TIMEOUT_MS = 4000;
  const UPLOAD_EVERY_MS = 30000;
  const VOCAB = Object.fromEntries(JSON.parse($("vocabulary").textContent).map((r) => [r.key, r]));

  const load = (key, fallback) => {
    try { return JSON.parse(localStorage.getItem(key)) ?? fallback; } catch { return fallback; }
  };
  const save = (key, value) => localStorage.setItem(key, JSON.stringify(value));
  const fmt = (seconds) => new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
  const now = () => Math.floor(Date.now() / 1000);

  function age(seconds) {
    const minutes = Math.max(0, Math.floor((now() - seconds) / 60));
    if (minutes < 120) return `${minutes} minutes ago`;
    if (minutes < 72 * 60) return `${Math.floor(minutes / 60)} hours ago`;
    return `${Math.floor(minutes / 1440)} days ago`;
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

  /** The offline decision: the same steps as the server, minus the live register. */
  async function decideOffline(code) {
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
    if (key.retired) return { result: "revoked", reason: "The key that signed this code has been retired.", parsed };
    const revoked = load(STORE.revoked, { entries: [] }).entries.find((e) => e.p === parsed.publicId);
    if (revoked && parsed.issuedAt < revoked.before) {
      const reasons = {
        revoked: "This member's codes issued before then were revoked.",
        deactivated: "The member was deactivated.",
        unknown: "There is no such member any more.",
      };
      return { result: revoked.result, reason: reasons[revoked.result] || "Refused by the revocation list.", parsed };
    }
    if (now() > parsed.validUntil) return { result: "code_expired", reason: "The code has expired: refresh the card or reprint it.", parsed };
    return {
      result: "ok",
      reason: "Offline: the code is genuine, current and not revoked. Membership standing is checked live when there is signal.",
      parsed,
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

  function show(mode, outcome, extra) {
    const vocab = VOCAB[outcome.result] || VOCAB.unknown;
    const box = $("result");
    box.hidden = false;
    box.className = `result tone-${vocab.tone}`;
    box.dataset.result = outcome.result;
    box.dataset.mode = mode;
    $("r-mode").textContent = mode === "live" ? "LIVE CHECK" : "OFFLINE CHECK — signature only";
    $("r-word").textContent = vocab.word;
    $("r-label").textContent = vocab.label;
    $("r-reason").textContent = outcome.reason;
    $("r-name").textContent = extra.name ? `${extra.name}${extra.branch ? " — " + extra.branch : ""}` : "";
    const photo = $("r-photo");
    photo.hidden = !extra.photo;
    if (extra.photo) { photo.src = extra.photo; photo.alt = `Photo of ${extra.name || "the member"}`; }
    const data = $("r-data");
    data.replaceChildren();
    const add = (label, value) => {
      const dt = document.createElement("dt"); dt.textContent = label;
      const dd = document.createElement("dd"); dd.textContent = value;
      data.append(dt, dd);
    };
    const p = outcome.parsed;
    if (p) {
      add("Member id", p.publicId);
      add("Code issued", `${fmt(p.issuedAt)} (${age(p.issuedAt)})`);
      add("Valid until", fmt(p.validUntil));
      add("Signing key", String(p.keyId));
    }
    for (const section of extra.sections || []) {
      for (const row of section.rows) add(`${section.title}: ${row.label}`, [row.value, row.note].filter(Boolean).join(" — "));
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
    show("offline", outcome, {});
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

  async function refreshData() {
    const keys = await fetchJSON("/check/keys.json");
    save(STORE.keys, { ...keys, fetched_at: now() });
    const revoked = await fetchJSON("/check/revoked.json");
    save(STORE.revoked, { ...revoked, fetched_at: now() });
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

  let syncing = false;
  async function sync() {
    if (syncing) return;
    syncing = true;
    const state = $("netstate");
    try {
      await refreshData();
      const uploaded = await upload();
      state.textContent = `Online — live checks. ${uploaded ? uploaded + " offline checks uploaded." : ""}`.trim();
      state.className = "netstate online";
    } catch (error) {
      if (error instanceof Refused) {
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
  $("sync-now").addEventListener("click", sync);
  window.addEventListener("online", sync);
  setInterval(sync, UPLOAD_EVERY_MS);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/check/scan/sw.js", { scope: "/check/scan/" });
  renderState();
  sync();
})();
