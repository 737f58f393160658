/* Service worker of the card scanner (scope /check/): keeps its shell offline.
 * The roster of members lives in its own cache ("tessera-roster"), written and read by
 * the page (scanner.js); an update of this worker leaves it alone.
 * A card's check link (/check/<code>) opened without signal — a marshal scanning with the
 * phone's own camera app — gets the saved scanner, which checks that code on the phone. */
const CACHE = "tessera-scan-v6-jsqr-1.4.0";
const SHELL = [
  "/check/scan/",
  "/check/scan/about",
  "/check/scan/manifest.webmanifest",
  "/static/scan/scanner.js",
  "/static/scan/scanner.css",
  "/static/scan/icon-192.png",
  "/static/scan/icon-512.png",
  "/static/vendor/jsqr/jsQR.js",
  "/static/css/site.css",
  "/static/favicon.svg",
];
const TIMEOUT_MS = 4000;

const PAGE = "/check/scan/";
// What each saved file must be. A Wi-Fi sign-in portal answers any request with its own
// page (200 HTML, or a redirect to it): saved in place of the scanner or its script, the
// scanner would be gone offline. The pages carry X-Tessera-Scanner (server.checks.scanner).
const TYPES = { ".js": "javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml", ".webmanifest": "json" };

function ours(path, response) {
  if (!response.ok || response.redirected) return false;
  if (path === PAGE || path === "/check/scan/about") return response.headers.get("X-Tessera-Scanner") === "page";
  const ext = Object.keys(TYPES).find((e) => path.endsWith(e));
  return Boolean(ext) && (response.headers.get("Content-Type") || "").includes(TYPES[ext]);
}

/* The scanner page as a marshal sees it. Logged out, the server sends the login form
 * instead: that must not replace the saved scanner (a new worker keeps the last good one).
 * Any other file that is not what it should be fails the install: the old worker stays. */
async function fill(cache) {
  await Promise.all(SHELL.filter((path) => path !== PAGE).map(async (path) => {
    const response = await fetch(path, { cache: "no-cache" });
    if (!ours(path, response)) throw new Error(`${path}: not the scanner's file`);
    await cache.put(path, response);
  }));
  const response = await fetch(PAGE, { credentials: "same-origin", cache: "no-cache" });
  if (ours(PAGE, response)) return cache.put(PAGE, response);
  const saved = await caches.match(PAGE);
  if (saved) await cache.put(PAGE, saved);
}

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then(fill).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("tessera-scan-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

function withTimeout(promise) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), TIMEOUT_MS);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

const CHECK_LINK = /^\/check\/(?!scan\/|keys\.json$|revoked\.json$)[A-Za-z0-9_-]+$/;

/* A check link: the live check page; without an answer from the server, the scanner. */
async function checkLink(request) {
  try {
    const response = await withTimeout(fetch(request));
    if (response.status < 500) return response;
  } catch (error) { /* no signal, or no answer in time */ }
  const cached = await (await caches.open(CACHE)).match("/check/scan/");
  return cached || Response.error();
}

/* Network first (fresh page and code when online), the cached shell when not. */
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (event.request.mode === "navigate" && CHECK_LINK.test(path)) {
    event.respondWith(checkLink(event.request));
    return;
  }
  if (!SHELL.includes(path)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await withTimeout(fetch(event.request));
      if (ours(path, response)) {
        await cache.put(path, response.clone());
        return response;
      }
      // Opening a page: the server's refusal, error or redirect (to the login form) as sent.
      const navigation = event.request.mode === "navigate";
      if (navigation && (response.type === "opaqueredirect" || !response.ok)) return response;
      // Anything else that is not the scanner's file (a Wi-Fi sign-in page): the saved one.
      const cached = await cache.match(path);
      return cached || response;
    } catch (error) {
      const cached = await cache.match(path);
      if (cached) return cached;
      throw error;
    }
  })());
});
