// Talks to /api/v1: the token lives in sessionStorage; errors are shown with the API's own
// French `detail`; an expired session goes back to the login screen, keeping the page.

const SESSION = "magasin.session";

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION) || "null");
  } catch {
    return null;
  }
}

export function saveSession(answer) {
  sessionStorage.setItem(SESSION, JSON.stringify(answer));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION);
}

/** Problems whose `errors` each carry a French `detail` worth showing. */
const DETAILED = ["validation_failed", "receipt_mismatch"];

export class ApiError extends Error {
  constructor(status, problem) {
    // A validation problem or a receipt that does not match its shipment says which fields
    // or lines are wrong in `errors`: their details are the useful part of the message.
    const fields = DETAILED.includes(problem.code) && Array.isArray(problem.errors)
      ? problem.errors.map((e) => e.detail).filter(Boolean) : [];
    super([problem.detail || `Erreur ${status}`, ...fields].join(" "));
    this.status = status;
    this.problem = problem;
  }

  /** The field errors of a validation problem, by field name. */
  field(name) {
    return (this.problem.errors || []).find((e) => e.field === name);
  }
}

/** `bearer: false` for the routes a password authenticates (login, a password change): no
 * token is sent, and a 401 there is a wrong password, not an expired session. */
export async function api(path, { method = "GET", body, key, bearer = true } = {}) {
  const headers = { Accept: "application/json" };
  const current = bearer ? session() : null;
  if (current) headers.Authorization = `Bearer ${current.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    if (response.status === 401 && current) {
      clearSession();
      const back = encodeURIComponent(location.hash || "#/caisse");
      location.hash = `#/connexion?retour=${back}&expiree=1`;
    }
    throw new ApiError(response.status, data || {});
  }
  return data;
}

/** `1 234,56 $`: French Canadian, no-break spaces between digit groups and before `$`. */
export function money(cents) {
  const value = (cents / 100).toLocaleString("fr-CA", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${value.replace(/\s/g, "\u00a0")}\u00a0$`;
}

/** `24 novembre 2026, 14 h 05 min 09 s` (French Canadian, local time), for a log's lines. */
export function longWhen(iso) {
  return new Date(iso).toLocaleString("fr-CA", { dateStyle: "long", timeStyle: "medium" });
}

/** `2026-11-24 14:05`, local time. */
export function when(iso) {
  const d = new Date(iso);
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}
