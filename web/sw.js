// The service worker of the till: when the server does not answer, the application and
// the last answer of each read it made (catalog, prices, tax rates, the till's session)
// come from this cache, so the page reloads and the till keeps selling. Network first:
// online, every answer is fresh and refreshes the copy. Only what the till reads is kept:
// the users, their change log and head office's reports never go to this cache, which
// outlives a sign-out on a shared device.

const CACHE = "magasin-v2";
const SHELL = [
  "/", "/ui/app.js", "/ui/api.js", "/ui/till.js", "/ui/offline.js", "/ui/style.css",
  "/ui/uplot.min.css", "/ui/uplot.iife.min.js", "/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

// A new version drops the caches of the ones before (v1 kept every read, users included).
self.addEventListener("activate", (event) => {
  const old = caches.keys().then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))));
  event.waitUntil(old.then(() => self.clients.claim()));
});

/** The API reads the till needs offline: the catalog, its store (session, stock) and the
 * tax rates. */
const TILL_READS = ["/api/v1/products", "/api/v1/stores", "/api/v1/jurisdictions"];

function kept(url) {
  return !url.pathname.startsWith("/api/") || TILL_READS.some((p) => url.pathname.startsWith(p));
}

function offlineAnswer(url) {
  if (url.pathname.startsWith("/api/")) {
    const problem = { code: "offline", detail: "Hors ligne : aucune copie de cette page." };
    return new Response(JSON.stringify(problem), { status: 503, headers: { "Content-Type": "application/json" } });
  }
  return caches.match("/");
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  // Writes go to the server (the till queues them itself); the live feed is not cached.
  if (event.request.method !== "GET" || url.origin !== self.location.origin || url.pathname === "/api/v1/events") return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok && kept(url)) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request, { ignoreVary: true }).then((hit) => hit || offlineAnswer(url))),
  );
});
