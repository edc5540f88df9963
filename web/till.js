// What the till computes before the server answers: the taxes of the store's jurisdiction
// on the basket after discounts, and the cash rounding. The same rules as the server
// (`domain::till`, ADR 0023), integer cents throughout: the total shown is the total the
// server records, so a card for "the total" is never a cent off.

/** GST, QST, HST as a Quebec receipt prints them. */
export const TAX_LABELS = { GST: "TPS", QST: "TVQ", HST: "TVH" };

/** `9.975` → 9975 (hundred-thousandths), exactly. */
function rateOf(text) {
  const [whole, fraction = ""] = String(text).split(".");
  return Number(whole) * 1000 + Number((fraction + "000").slice(0, 3));
}

/** The rates in force at `at` (ms) in `jurisdiction`, in printing order, without 0 %. */
export function ratesAt(jurisdiction, at) {
  if (!jurisdiction) return [];
  const latest = new Map();
  for (const r of jurisdiction.rates) {
    const from = Date.parse(`${r.from}T00:00:00`);
    const seen = latest.get(r.code);
    if (from <= at && (!seen || seen.from <= from)) latest.set(r.code, { code: r.code, rate: rateOf(r.rate), text: r.rate, from });
  }
  const order = ["GST", "QST", "HST"];
  return [...latest.values()].filter((r) => r.rate > 0).sort((a, b) => order.indexOf(a.code) - order.indexOf(b.code));
}

/** `percent` of `amount`, half up, at most the amount. */
function percentOf(amount, percent) {
  if (!percent) return 0;
  return Math.min(amount, Math.floor((amount * percent + 50) / 100));
}

/** `total` shared over `weights` by largest remainder (ties to the first). */
export function share(total, weights) {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum === 0) return weights.map(() => 0);
  const exact = weights.map((w) => ({ q: Math.floor((total * w) / sum), r: (total * w) % sum }));
  let left = total - exact.reduce((a, e) => a + e.q, 0);
  const order = exact.map((_, i) => i).sort((a, b) => exact[b].r - exact[a].r || a - b);
  const shares = exact.map((e) => e.q);
  for (const i of order) {
    if (left === 0) break;
    shares[i] += 1;
    left -= 1;
  }
  return shares;
}

/** What rounding a cash amount to 5 cents adds: −2 to +2. */
export function cashRounding(cents) {
  const rest = ((cents % 5) + 5) % 5;
  return rest <= 2 ? -rest : 5 - rest;
}

/**
 * The basket priced: lines `{price_cents, quantity, tax_class, discount_percent}`, a sale
 * discount in percent, and the rates. Answers each line's net, the taxes and the total.
 */
export function priceBasket(lines, saleDiscount, rates) {
  const gross = lines.map((l) => l.price_cents * l.quantity);
  const own = lines.map((l, i) => percentOf(gross[i], l.discount_percent));
  const after = gross.map((g, i) => g - own[i]);
  const whole = percentOf(after.reduce((a, b) => a + b, 0), saleDiscount);
  const shared = share(whole, after);
  const net = after.map((a, i) => a - shared[i]);
  const base = net.reduce((sum, n, i) => sum + (lines[i].tax_class === "taxable" ? n : 0), 0);
  const taxes = rates.map((r) => ({ code: r.code, rate: r.text, base_cents: base, amount_cents: Math.floor((base * r.rate + 50000) / 100000) }));
  const subtotal = net.reduce((a, b) => a + b, 0);
  const total = subtotal + taxes.reduce((a, t) => a + t.amount_cents, 0);
  return { net, discounts: own.reduce((a, b) => a + b, 0) + whole, taxes, subtotal, total };
}

/** What paying `total` with `card` cents and `cash` given cents leaves: due in cash (rounded), change, shortfall. */
export function settle(total, card, cash) {
  const left = total - card;
  if (left <= 0) return { cashDue: 0, rounding: 0, change: cash, short: 0 };
  if (cash === 0) return { cashDue: 0, rounding: 0, change: 0, short: left };
  const rounding = cashRounding(left);
  const due = left + rounding;
  return { cashDue: due, rounding, change: Math.max(0, cash - due), short: Math.max(0, due - cash) };
}
