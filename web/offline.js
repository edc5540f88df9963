// Sales a till completed while the server could not be reached: kept in IndexedDB (they
// survive a reload and a browser restart) with their Idempotency-Key, their receipt number
// from the till's own sequence and their local time, and sent in order once it answers.

const DB = "magasin-caisse";
const SALES = "ventes";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(SALES, { keyPath: "seq", autoIncrement: true });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(SALES, mode);
    const result = work(tx.objectStore(SALES));
    tx.oncomplete = () => resolve(result.result ?? result);
    tx.onerror = () => reject(tx.error);
  });
}

/** Keeps `sale` (`{key, store, body, captured_at}`) until it is sent. */
export function keep(sale) {
  return run("readwrite", (store) => store.add(sale));
}

/** Every kept sale, oldest first. */
export function kept() {
  return run("readonly", (store) => store.getAll());
}

export function sent(seq) {
  return run("readwrite", (store) => store.delete(seq));
}

/** A network failure or an instance that is down: the sale is taken offline. */
export function unreachable(error) {
  return error instanceof TypeError || [502, 503, 504].includes(error.status);
}
