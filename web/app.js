// The web application: a hash router over a few screens, each shown only to the roles
// that may use it (the API refuses the others anyway).

import { api, session, saveSession, clearSession, money, when, longWhen, ApiError } from "/ui/api.js";
import { TAX_LABELS, priceBasket, ratesAt, settle } from "/ui/till.js";
import { keep, kept, sent, unreachable } from "/ui/offline.js";

// What the Content-Security-Policy refused, for the browser tests to see.
document.addEventListener("securitypolicyviolation", (e) => {
  (window.cspViolations ||= []).push(`${e.violatedDirective} ${e.blockedURI}`);
});

const ecran = document.getElementById("ecran");
const message = document.getElementById("message");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else if (v !== false && v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function say(text, kind = "erreur") {
  message.textContent = text;
  message.className = kind;
  message.hidden = !text;
}

function fail(error) {
  say(error instanceof ApiError ? error.message : `Erreur : ${error.message}`);
}

const SCREENS = {
  caisse: { title: "Caisse", roles: ["cashier", "manager", "admin"], render: caisse },
  stock: { title: "Stock", roles: ["cashier", "manager", "logistics", "admin"], render: stock },
  reappro: { title: "Réapprovisionnement", roles: ["manager", "logistics", "admin"], render: reappro },
  transferts: { title: "Transferts", roles: ["manager", "admin"], render: transferts },
  "points-de-commande": { title: "Points de commande", roles: ["manager", "admin"], render: pointsDeCommande },
  achats: { title: "Fournisseurs et commandes", roles: ["logistics", "admin"], render: achats },
  tableau: { title: "Tableau de bord", roles: ["manager", "admin"], render: tableau },
  catalogue: { title: "Catalogue", roles: ["admin"], render: catalogue },
  magasins: { title: "Magasins", roles: ["admin"], render: magasins },
  utilisateurs: { title: "Utilisateurs", roles: ["admin"], render: utilisateurs },
  // Reached from the Utilisateurs screen and from the header, not from the menu.
  journal: { title: "Journal des utilisateurs", roles: ["admin"], render: journal, menu: false },
  "mot-de-passe": { title: "Mon mot de passe", roles: ["cashier", "manager", "logistics", "admin"], render: monMotDePasse, menu: false },
};

const ROLES = [["cashier", "caissier"], ["manager", "gestionnaire"], ["logistics", "logistique"], ["admin", "siège social"]];
const ROLE_NAMES = Object.fromEntries(ROLES);
/** The roles that work in one store, and so need a `store_id`. */
const STORE_ROLES = ["cashier", "manager"];

const CHANGES = {
  created: "créé", deactivated: "désactivé", reactivated: "réactivé", role_changed: "rôle ou magasin changé",
  password_changed: "mot de passe changé", password_reset: "mot de passe réinitialisé",
  password_recovered: "mot de passe réinitialisé en ligne de commande",
};

const STATUS = {
  requested: "demandée", allocated: "allouée", shipped: "expédiée",
  received: "reçue", rejected: "refusée", cancelled: "annulée",
};

/** Stops what the current screen runs in the background (the live feed). */
let leaveScreen = () => {};

/** The store a screen works on: the user's own, or the one chosen (head office, logistics). */
function currentStore() {
  const user = session()?.user;
  if (user?.store_id) return user.store_id;
  return Number(sessionStorage.getItem("magasin.magasin") || 1);
}

async function storePicker() {
  const user = session()?.user;
  if (user?.store_id) return el("span", { class: "magasin" }, `Magasin ${user.store_id}`);
  const stores = await api("/stores");
  const select = el("select", { id: "choix-magasin", onchange: (e) => {
    sessionStorage.setItem("magasin.magasin", e.target.value);
    route();
  } }, stores.items.map((s) => el("option", { value: s.id, selected: s.id === currentStore() }, `${s.id} — ${s.name}`)));
  return el("label", {}, "Magasin ", select);
}

function menu() {
  const nav = document.getElementById("menu");
  const user = session()?.user;
  nav.replaceChildren();
  document.getElementById("deconnexion").hidden = !user;
  document.getElementById("mon-compte").hidden = !user;
  document.getElementById("qui").textContent = user ? `${user.username} (${user.role})` : "";
  if (!user) return;
  for (const [name, screen] of Object.entries(SCREENS)) {
    if (screen.menu !== false && screen.roles.includes(user.role)) nav.append(el("a", { href: `#/${name}` }, screen.title));
  }
}

/** Goes to `hash`, drawing the screen again when it is already the one shown (setting the
 * same hash fires no `hashchange`). */
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** After signing in: the page the user was sent away from, or the till. */
function arrive(params) {
  say("");
  go(params.get("retour") ? decodeURIComponent(params.get("retour")) : "#/caisse");
}

/** A new password typed twice, checked here as the server checks it (8 to 128 characters)
 * so a typing mistake is caught before the password is spent. */
function newPasswordFields() {
  const first = el("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true, "aria-describedby": "regle-mot-de-passe" });
  const again = el("input", { name: "new_password_again", type: "password", autocomplete: "new-password", required: true });
  const wrong = (input, text) => {
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return text;
  };
  return {
    nodes: [
      el("label", {}, "Nouveau mot de passe", first),
      el("p", { id: "regle-mot-de-passe", class: "aide" }, "De 8 à 128 caractères."),
      el("label", {}, "Nouveau mot de passe, une deuxième fois", again),
    ],
    value: () => first.value,
    first,
    /** Why the typed password cannot be sent, or null. */
    problem() {
      first.removeAttribute("aria-invalid");
      again.removeAttribute("aria-invalid");
      const length = Array.from(first.value).length;
      if (length < 8 || length > 128) return wrong(first, "Le nouveau mot de passe doit compter de 8 à 128 caractères.");
      if (first.value !== again.value) return wrong(again, "Les deux saisies du nouveau mot de passe ne correspondent pas.");
      return null;
    },
    /** Shows the server's refusal of the new password (too weak, unchanged) on its field. */
    refused(error) {
      if (error instanceof ApiError && error.field("new_password")) wrong(first, "");
    },
  };
}

/** After an administrator's reset, the login's password was right but temporary: the user
 * chooses their own (the temporary one is the current password of that call) and is in. */
function motDePasseImpose(params, username, temporary) {
  const fields = newPasswordFields();
  const form = el("form", { class: "carte connexion", id: "nouveau-mot-de-passe", onsubmit: async (e) => {
    e.preventDefault();
    const wrong = fields.problem();
    if (wrong) return say(wrong);
    try {
      const answer = await api("/auth/password", { method: "POST", bearer: false,
        body: { username, current_password: temporary, new_password: fields.value() } });
      saveSession(answer);
      arrive(params);
    } catch (error) {
      fail(error);
      fields.refused(error);
    }
  } },
  el("h1", {}, "Choisissez votre mot de passe"),
  el("p", {}, "Un administrateur a réinitialisé votre mot de passe : le mot de passe temporaire ne sert qu'une fois. Choisissez le vôtre."),
  el("label", {}, "Nom d'utilisateur", el("input", { name: "username", value: username, autocomplete: "username", readonly: true })),
  ...fields.nodes,
  el("button", { type: "submit" }, "Enregistrer et se connecter"),
  el("button", { type: "button", class: "lien", onclick: () => { say(""); route(); } }, "Revenir à la connexion"));
  return { form, focus: () => fields.first.focus() };
}

function connexion(params) {
  const expired = params.get("expiree") === "1";
  const form = el("form", { class: "carte connexion", onsubmit: async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    try {
      const answer = await api("/auth/login", { method: "POST", bearer: false, body: {
        username: data.get("username"), password: data.get("password") } });
      saveSession(answer);
      arrive(params);
    } catch (error) {
      if (error instanceof ApiError && error.problem.code === "password_change_required") {
        const next = motDePasseImpose(params, data.get("username"), data.get("password"));
        ecran.replaceChildren(next.form);
        say("Mot de passe temporaire accepté : choisissez maintenant le vôtre.", "info");
        next.focus();
        return;
      }
      fail(error);
    }
  } },
  el("h1", {}, "Connexion"),
  expired ? el("p", { class: "avis" }, "Votre session a expiré ; reconnectez-vous.") : "",
  el("label", {}, "Nom d'utilisateur", el("input", { name: "username", autocomplete: "username", required: true, autofocus: true })),
  el("label", {}, "Mot de passe", el("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
  el("button", { type: "submit" }, "Se connecter"));
  return form;
}

/** The till chosen on this device (1 by default). */
function currentTill() {
  return Number(localStorage.getItem("magasin.caisse") || 1);
}

/** `TPS 5 %`, `TVQ 9,975 %`. */
function taxLabel(tax) {
  return `${TAX_LABELS[tax.code] || tax.code} ${String(tax.rate).replace(".", ",")} %`;
}

/** The X report of a till's open session, or null when it has none. */
async function openSession(store, till) {
  try {
    return await api(`/stores/${store}/tills/${till}/sessions/current`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) return null;
    throw error;
  }
}

async function caisse() {
  const store = currentStore();
  const [shop, places] = await Promise.all([api(`/stores/${store}`), api("/jurisdictions")]);
  const till = Math.min(currentTill(), shop.tills);
  const tills = el("select", { id: "choix-caisse", "aria-label": "Caisse", onchange: (e) => {
    localStorage.setItem("magasin.caisse", e.target.value);
    route();
  } }, Array.from({ length: shop.tills }, (_, i) => el("option", { value: i + 1, selected: i + 1 === till }, `Caisse ${i + 1}`)));
  const x = await openSession(store, till);
  const header = el("div", { class: "saisie" }, await storePicker(), tills);
  if (!x) return ouvrirCaisse(store, till, header);
  const jurisdiction = places.items.find((j) => j.code === shop.jurisdiction);
  return vendre({ store, till, shop, jurisdiction, x, header });
}

function ouvrirCaisse(store, till, header) {
  const float = el("input", { id: "fonds", inputmode: "decimal", required: true, value: "200,00", "aria-label": "Fonds de caisse ($)" });
  const form = el("form", { class: "carte", id: "ouverture", onsubmit: async (e) => {
    e.preventDefault();
    const cents_ = cents(float.value);
    if (cents_ === null) return say("Fonds de caisse invalide : un montant en dollars, par exemple 200,00.");
    try {
      const opened = await api(`/stores/${store}/tills/${till}/sessions`, { method: "POST", key: crypto.randomUUID(), body: { float_cents: cents_ } });
      say(`Caisse ${till} ouverte (session ${opened.session}) avec ${money(opened.float_cents)}.`, "succes");
      route();
    } catch (error) {
      fail(error);
    }
  } }, el("h1", {}, `Caisse ${till} fermée`), header,
  el("p", {}, "Comptez le fonds de caisse, puis ouvrez la caisse."),
  el("label", {}, "Fonds de caisse ($)", float),
  el("button", { type: "submit", id: "ouvrir" }, "Ouvrir la caisse"));
  return form;
}

function vendre({ store, till, shop, jurisdiction, x, header }) {
  // One key per cart: a double click or a network retry sends the same sale again, and the
  // API answers the first one instead of selling twice.
  let cart = { key: crypto.randomUUID(), lines: [] };
  let approval = null;
  const lines = el("tbody");
  const summary = el("tbody", { id: "sommaire" });
  const total = el("strong", { id: "total" }, money(0));
  const saleDiscount = el("input", { id: "rabais-vente", type: "number", min: 0, max: 100, value: 0, class: "qte", "aria-label": "Rabais sur la vente (%)", oninput: () => draw() });
  const cashIn = el("input", { id: "especes", inputmode: "decimal", placeholder: "0,00", "aria-label": "Espèces reçues ($)", oninput: () => draw() });
  const cardIn = el("input", { id: "carte", inputmode: "decimal", placeholder: "0,00", "aria-label": "Montant par carte ($)", oninput: () => draw() });
  const reference = el("input", { id: "reference", placeholder: "réf. terminal", "aria-label": "Référence du terminal" });
  const due = el("p", { id: "a-rendre", class: "total", "aria-live": "polite" });
  const validate = el("button", { id: "valider", type: "button", onclick: () => submit() }, "Encaisser");
  const scan = el("input", { id: "code", placeholder: "Code-barres ou nom du produit", autocomplete: "off", autofocus: true, "aria-label": "Code-barres ou nom du produit" });
  const results = el("ul", { class: "resultats" });
  const receipt = el("section", { id: "recu", class: "ticket", hidden: true, "aria-live": "polite" });
  const approve = el("form", { id: "approbation", class: "carte", hidden: true });
  const rates = ratesAt(jurisdiction, Date.now());
  // Offline, the till numbers its sales itself, from the last number it knows.
  const receiptKey = `magasin.recu.${store}.${till}`;
  let lastReceipt = Math.max(x.last_receipt || 0, Number(localStorage.getItem(receiptKey) || 0));
  const waiting = el("p", { id: "attente", role: "status", "aria-live": "polite" });
  // The whole catalog, for scanning while the server does not answer.
  let catalog = [];
  (async () => {
    const all = [];
    for (let page = 1; ; page += 1) {
      const found = await api(`/products?per_page=200&page=${page}`);
      all.push(...found.items);
      if (found.items.length < 200) break;
    }
    catalog = all;
  })().catch(() => {});

  function remember(number) {
    lastReceipt = Math.max(lastReceipt, number);
    localStorage.setItem(receiptKey, String(lastReceipt));
  }

  async function refreshWaiting() {
    const queued = await kept();
    waiting.textContent = queued.length === 0 ? ""
      : `${queued.length} vente(s) prise(s) hors ligne en attente d'envoi depuis ${when(queued[0].captured_at)}.`;
  }

  let syncing = false;
  async function sync() {
    if (syncing) return;
    syncing = true;
    try {
      for (const sale of await kept()) {
        try {
          const recorded = await api(`/stores/${sale.store}/sales`, { method: "POST", key: sale.key, body: sale.body });
          await sent(sale.seq);
          remember(Number(recorded.receipt_number.split("-").pop()));
        } catch (error) {
          if (!unreachable(error)) say(`Vente hors ligne ${sale.body.receipt_number} refusée : ${error.message}`);
          break;
        }
      }
    } finally {
      syncing = false;
      await refreshWaiting();
    }
  }
  const timer = setInterval(sync, 2000);
  leaveScreen = () => clearInterval(timer);
  refreshWaiting();

  function priced() {
    return priceBasket(cart.lines, Number(saleDiscount.value) || 0, rates);
  }

  /** What the tenders typed pay: card exact, cash rounded; nothing typed is a card for the total. */
  function tenders(totalCents) {
    const cash = cents(cashIn.value || "0") ?? 0;
    let card = cents(cardIn.value || "0") ?? 0;
    if (cash === 0 && card === 0) card = totalCents;
    return { cash, card, ...settle(totalCents, card, cash) };
  }

  function draw() {
    const p = priced();
    lines.replaceChildren(...cart.lines.map((line, i) => el("tr", {},
      el("td", {}, line.name), el("td", {}, line.tax_class === "taxable" ? rates.map((r) => TAX_LABELS[r.code]).join(" ") : "détaxé"),
      el("td", {}, el("input", { type: "number", min: 1, max: 10000, value: line.quantity, class: "qte", "aria-label": `Quantité de ${line.name}`, onchange: (e) => {
        line.quantity = Math.max(1, Number(e.target.value) || 1);
        draw();
      } })),
      el("td", { class: "nombre" }, money(line.price_cents)),
      el("td", {}, el("input", { type: "number", min: 0, max: 100, value: line.discount_percent, class: "qte rabais", "aria-label": `Rabais sur ${line.name} (%)`, onchange: (e) => {
        line.discount_percent = Math.min(100, Math.max(0, Number(e.target.value) || 0));
        draw();
      } })),
      el("td", { class: "nombre" }, money(p.net[i] ?? 0)),
      el("td", {}, el("button", { type: "button", class: "petit", onclick: () => { cart.lines.splice(i, 1); draw(); } }, "Retirer")))));
    summary.replaceChildren(
      el("tr", {}, el("td", {}, "Sous-total"), el("td", { class: "nombre", id: "sous-total" }, money(p.subtotal))),
      ...(p.discounts ? [el("tr", {}, el("td", {}, "Rabais"), el("td", { class: "nombre" }, `−${money(p.discounts)}`))] : []),
      ...p.taxes.map((t) => el("tr", {}, el("td", {}, taxLabel(t)), el("td", { class: "nombre" }, money(t.amount_cents)))));
    total.textContent = money(p.total);
    const t = tenders(p.total);
    due.replaceChildren(...(cart.lines.length === 0 ? [] : t.short > 0
      ? [`Manque ${money(t.short)}`]
      : t.cashDue > 0
        ? [`Espèces dues ${money(t.cashDue)} (arrondi ${money(t.rounding)}) — monnaie `, el("strong", { id: "monnaie" }, money(t.change))]
        : [`Carte ${money(t.card)}`]));
    validate.disabled = cart.lines.length === 0 || t.short > 0;
  }

  function add(product) {
    const existing = cart.lines.find((l) => l.sku === product.sku);
    if (existing) existing.quantity += 1;
    else cart.lines.push({ sku: product.sku, name: product.name, price_cents: product.price_cents, tax_class: product.tax_class, quantity: 1, discount_percent: 0 });
    results.replaceChildren();
    scan.value = "";
    scan.focus();
    draw();
  }

  /** Offline: the catalog kept in memory, by barcode or by words of the name. */
  function searchHere(text) {
    const fold = (t) => t.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
    const words = fold(text).split(/\s+/);
    const items = catalog.filter((p) => p.ean13 === text || p.sku === text.toUpperCase()
      || words.every((w) => fold(`${p.name} ${p.category}`).includes(w)));
    return { items: items.slice(0, 10) };
  }

  async function lookup() {
    const text = scan.value.trim();
    if (!text) {
      // Enter on an empty scan field: on to the payment.
      if (cart.lines.length > 0) cashIn.focus();
      return;
    }
    try {
      const found = await api(`/products?q=${encodeURIComponent(text)}&per_page=10`).catch((error) => {
        if (unreachable(error)) return searchHere(text);
        throw error;
      });
      if (/^\d{13}$/.test(text) || found.items.length === 1) {
        if (found.items.length === 0) return say(`Aucun produit pour le code ${text}.`);
        return add(found.items[0]);
      }
      results.replaceChildren(...found.items.map((p) => el("li", {},
        el("button", { type: "button", onclick: () => add(p) }, `${p.name} — ${money(p.price_cents)}`))));
      if (found.items.length === 0) say("Aucun produit ne correspond.", "info");
    } catch (error) {
      fail(error);
    }
  }

  function body() {
    const p = priced();
    const t = tenders(p.total);
    const paid = [];
    if (t.card > 0) paid.push({ type: "card", amount_cents: t.card, ...(reference.value.trim() ? { reference: reference.value.trim() } : {}) });
    if (t.cash > 0) paid.push({ type: "cash", amount_cents: t.cash });
    const discount = Number(saleDiscount.value) || 0;
    return {
      till,
      lines: cart.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, ...(l.discount_percent ? { discount: { percent: l.discount_percent } } : {}) })),
      ...(discount ? { discount: { percent: discount } } : {}),
      tenders: paid,
      ...(approval ? { approval } : {}),
    };
  }

  function clearCart() {
    cart = { key: crypto.randomUUID(), lines: [] };
    approval = null;
    cashIn.value = "";
    cardIn.value = "";
    reference.value = "";
    saleDiscount.value = 0;
    draw();
  }

  /** Completes the sale at the till: numbered from its own sequence, kept to be sent. */
  async function takeOffline() {
    const p = priced();
    const t = tenders(p.total);
    const number = lastReceipt + 1;
    const receiptNumber = `${store}-${String(till).padStart(2, "0")}-${String(number).padStart(6, "0")}`;
    const captured = new Date().toISOString();
    const sale = { ...body(), captured_offline_at: captured, receipt_number: receiptNumber, session: x.session,
      lines: cart.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unit_price_cents: l.price_cents,
        ...(l.discount_percent ? { discount: { percent: l.discount_percent } } : {}) })) };
    await keep({ key: cart.key, store, body: sale, captured_at: captured });
    remember(number);
    showReceipt(receipt, offlineReceipt({ shop, till, cart, p, t, receiptNumber, captured }), shop, false);
    say(`Vente ${receiptNumber} prise hors ligne${t.change ? ` : rendre ${money(t.change)}` : ""} ; elle sera envoyée dès que le serveur répondra.`, "info");
    clearCart();
    await refreshWaiting();
  }

  let sending = false;
  async function submit() {
    if (sending || cart.lines.length === 0) return;
    sending = true;
    validate.disabled = true;
    try {
      // Sales wait in order: while some are queued, the next one joins them.
      if ((await kept()).length > 0) return await takeOffline();
      const sale = await api(`/stores/${store}/sales`, { method: "POST", key: cart.key, body: body() });
      remember(Number(sale.receipt_number.split("-").pop()));
      localStorage.setItem("magasin.politique", sale.receipt.return_policy);
      showReceipt(receipt, sale, shop, false);
      say(`Vente ${sale.receipt_number} enregistrée${sale.change_cents ? ` : rendre ${money(sale.change_cents)}` : ""}.`, "succes");
      clearCart();
    } catch (error) {
      if (unreachable(error)) {
        await takeOffline();
        return;
      }
      if (error instanceof ApiError && error.problem.code === "approval_required") askApproval();
      fail(error);
      validate.disabled = false;
    } finally {
      sending = false;
      scan.focus();
    }
  }

  function askApproval() {
    const who = el("input", { name: "username", autocomplete: "off", required: true });
    const secret = el("input", { name: "password", type: "password", autocomplete: "off", required: true });
    approve.hidden = false;
    approve.onsubmit = async (e) => {
      e.preventDefault();
      try {
        const given = await api(`/stores/${store}/approvals`, { method: "POST", body: { username: who.value, password: secret.value } });
        approval = given.approval;
        approve.hidden = true;
        say(`Rabais approuvé par ${given.approver}.`, "succes");
        submit();
      } catch (error) {
        fail(error);
      }
    };
    approve.replaceChildren(el("h2", {}, "Approbation du gérant"),
      el("p", {}, "Ce rabais ou ce prix demande l'approbation d'un gérant."),
      el("label", {}, "Gérant", who), el("label", {}, "Mot de passe", secret),
      el("button", { type: "submit", id: "approuver" }, "Approuver"));
    who.focus();
  }

  scan.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      lookup();
    }
  });
  for (const input of [cashIn, cardIn, reference]) {
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        submit();
      }
    });
  }
  draw();
  return el("div", { class: "grille" },
    el("section", { class: "carte" }, el("h1", {}, `Caisse ${till} — session ${x.session}`), header,
      el("div", { class: "saisie" }, scan, el("button", { type: "button", onclick: lookup }, "Ajouter")), results,
      el("table", { class: "panier" }, el("thead", {}, el("tr", {}, ["Produit", "Taxes", "Qté", "Prix", "Rabais %", "Montant", ""].map((h) => el("th", {}, h || el("span", { class: "invisible" }, "Actions"))))), lines),
      el("div", { class: "saisie" }, el("label", {}, "Rabais sur la vente (%)", saleDiscount)),
      el("table", { class: "sommaire" }, summary),
      el("p", { class: "total" }, "Total ", total),
      el("div", { class: "saisie paiement" }, el("label", {}, "Espèces reçues ($)", cashIn), el("label", {}, "Carte ($)", cardIn), el("label", {}, "Référence", reference)),
      due, validate, waiting, approve),
    el("div", {}, receipt, fermeture(store, till), returns(store, till, (sale) => showReceipt(receipt, sale, shop, true))));
}

/** A receipt for a sale taken offline, in the shape the API gives one. */
function offlineReceipt({ shop, till, cart, p, t, receiptNumber, captured }) {
  const paid = [];
  if (t.card > 0) paid.push({ type: "card", amount_cents: t.card, given_cents: t.card });
  if (t.cash > 0) paid.push({ type: "cash", amount_cents: t.cashDue, given_cents: t.cash });
  return {
    id: receiptNumber,
    offline: true,
    lines: cart.lines.map((l, i) => ({ sku: l.sku, name: l.name, quantity: l.quantity, unit_price_cents: l.price_cents,
      line_total_cents: l.price_cents * l.quantity, discount_cents: l.price_cents * l.quantity - p.net[i],
      tax_codes: l.tax_class === "taxable" ? p.taxes.map((x) => x.code) : [] })),
    subtotal_cents: p.subtotal, taxes: p.taxes, total_cents: p.total, cash_rounding_cents: t.rounding,
    tenders: paid, change_cents: t.change,
    receipt: { receipt_number: receiptNumber, store_name: shop.name, address: shop.address, registrations: shop.registrations,
      local_time: when(captured), till, cashier: session()?.user?.username ?? "",
      return_policy: localStorage.getItem("magasin.politique") || "Retours dans les 30 jours sur présentation du reçu." },
  };
}

/** An 80 mm receipt from the sale as the API gives it; a reprint says « COPIE ». */
function showReceipt(zone, sale, shop, copy) {
  const r = sale.receipt;
  zone.hidden = false;
  zone.className = "ticket a-imprimer";
  const row = (label, amount, id) => el("tr", {}, el("td", {}, label), el("td", { class: "nombre", ...(id ? { id } : {}) }, amount));
  const codes = (l) => l.tax_codes.map((c) => TAX_LABELS[c] || c).join(" ") || "détaxé";
  zone.replaceChildren(
    el("h2", {}, r.store_name || shop.name),
    el("p", {}, r.address),
    ...r.registrations.map((g) => el("p", {}, `No ${TAX_LABELS[g.code] || g.code} : ${g.number}`)),
    el("p", {}, `Reçu ${r.receipt_number || sale.id} · ${r.local_time}`),
    el("p", {}, `Caisse ${r.till ?? "—"} · ${r.cashier}`),
    copy ? el("p", { class: "copie" }, "COPIE") : "",
    sale.offline ? el("p", { class: "copie", id: "hors-ligne" }, "HORS LIGNE") : "",
    el("table", {}, el("tbody", {}, sale.lines.flatMap((l) => [
      el("tr", {}, el("td", {}, `${l.name || l.sku}`), el("td", { class: "nombre" }, money(l.line_total_cents))),
      el("tr", { class: "detail" }, el("td", {}, `${l.quantity} × ${money(l.unit_price_cents)} · ${codes(l)}`),
        el("td", { class: "nombre" }, l.discount_cents ? `−${money(l.discount_cents)}` : "")),
    ]))),
    el("table", {}, el("tbody", {},
      row("Sous-total", money(sale.subtotal_cents)),
      ...sale.taxes.map((t) => row(taxLabel(t), money(t.amount_cents))),
      row("Total", money(sale.total_cents)),
      ...(sale.cash_rounding_cents ? [row("Arrondi", money(sale.cash_rounding_cents))] : []),
      ...sale.tenders.map((t) => row(t.type === "cash" ? "Espèces reçues" : t.type === "card" ? "Carte" : "Autre", money(t.given_cents))),
      row("Monnaie", money(sale.change_cents), "recu-monnaie"))),
    el("p", { class: "politique" }, r.return_policy),
    el("button", { type: "button", class: "non-imprime", onclick: () => window.print() }, "Imprimer le reçu"));
}

/** Closing the till: the cash counted, a reason for any difference, the Z report. */
function fermeture(store, till) {
  const counted = el("input", { id: "compte", inputmode: "decimal", required: true, "aria-label": "Espèces comptées ($)" });
  const reason = el("input", { id: "raison", "aria-label": "Raison de l'écart" });
  const report = el("section", { id: "rapport-z", hidden: true });
  const form = el("form", { class: "carte non-imprime", id: "fermeture", onsubmit: async (e) => {
    e.preventDefault();
    const amount = cents(counted.value);
    if (amount === null) return say("Montant compté invalide : un montant en dollars, par exemple 312,45.");
    try {
      const z = await api(`/stores/${store}/tills/${till}/sessions/current/close`, { method: "POST", key: crypto.randomUUID(),
        body: { counted_cash_cents: amount, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) } });
      showReport(report, z);
      form.hidden = true;
      say(`Caisse ${till} fermée : rapport Z n° ${z.z_number}.`, "succes");
    } catch (error) {
      fail(error);
    }
  } }, el("h2", {}, "Fermer la caisse"),
  el("label", {}, "Espèces comptées ($)", counted), el("label", {}, "Raison d'un écart", reason),
  el("button", { type: "submit", id: "fermer" }, "Fermer et imprimer le rapport Z"));
  return el("div", {}, form, report);
}

/** An X or Z report, printable. */
function showReport(zone, z) {
  const row = (label, amount, id) => el("tr", {}, el("td", {}, label), el("td", { class: "nombre", ...(id ? { id } : {}) }, amount));
  const kinds = { cash: "Espèces", card: "Carte", other: "Autre" };
  zone.hidden = false;
  zone.className = "carte ticket a-imprimer";
  zone.replaceChildren(
    el("h2", {}, z.report === "Z" ? `Rapport Z n° ${z.z_number}` : "Rapport X"),
    el("p", {}, `Magasin ${z.store_id} · caisse ${z.till} · session ${z.session}`),
    el("p", {}, `Ouverte ${when(z.opened_at)} par ${z.opened_by}${z.closed_at ? ` · fermée ${when(z.closed_at)} par ${z.closed_by}` : ""}`),
    el("table", {}, el("tbody", {},
      row("Ventes", z.sales_count),
      row("Brut", money(z.gross_cents)),
      row("Rabais", money(z.discounts_cents)),
      row("Ventes avant taxes", money(z.net_cents)),
      ...z.taxes.map((t) => row(taxLabel(t), money(t.amount_cents))),
      row("Total", money(z.total_cents)),
      ...z.tenders.map((t) => row(kinds[t.kind] || t.kind, money(t.amount_cents))),
      row("Remboursements", `${z.refunds_count} · ${money(z.refunds_cents)}`),
      row("Fonds de caisse", money(z.float_cents)),
      row("Espèces attendues", money(z.cash_expected_cents)),
      ...(z.report === "Z" ? [row("Espèces comptées", money(z.counted_cash_cents)),
        row(z.over_short_cents < 0 ? "Manque" : "Surplus", money(Math.abs(z.over_short_cents)), "ecart")] : []))),
    z.reason ? el("p", {}, `Raison : ${z.reason}`) : "",
    z.seal ? el("div", { class: "sceau", id: "sceau" },
      el("p", {}, `Scellé : événement ${z.seal.seq} de ${z.seal.stream}`),
      el("p", {}, "Empreinte du journal : ", el("code", {}, z.seal.head)),
      el("p", {}, "Signature Ed25519 : ", el("code", {}, z.seal.signature)),
      el("p", {}, "Clé publique : ", el("code", {}, z.seal.public_key))) : "",
    el("button", { type: "button", class: "non-imprime", onclick: () => window.print() }, "Imprimer"));
}

/** A return against a sale, refunded at `till` (its cash out of the open session). */
function returns(store, till, reprint) {
  const number = el("input", { id: "numero-vente", "aria-label": "Numéro de la vente", type: "number", min: 1, placeholder: "N° de vente" });
  const zone = el("div");
  async function find() {
    try {
      const sale = await api(`/stores/${store}/sales/${Number(number.value)}`);
      const returned = new Map();
      for (const r of sale.returns) for (const l of r.lines) returned.set(l.sku, (returned.get(l.sku) || 0) + l.quantity);
      const inputs = sale.lines.map((l) => ({ sku: l.sku, max: l.quantity - (returned.get(l.sku) || 0),
        input: el("input", { type: "number", min: 0, max: l.quantity - (returned.get(l.sku) || 0), value: 0, class: "qte", "aria-label": `Quantité retournée de ${l.sku}` }) }));
      const key = crypto.randomUUID();
      zone.replaceChildren(el("p", {}, `Vente n° ${sale.id} du ${when(sale.created_at)} — ${money(sale.total_cents)}`),
        el("table", {}, el("tbody", {}, inputs.map((i) => el("tr", {}, el("td", {}, i.sku), el("td", {}, `retournable : ${i.max}`), el("td", {}, i.input))))),
        el("button", { type: "button", onclick: async () => {
          const lines = inputs.map((i) => ({ sku: i.sku, quantity: Number(i.input.value) })).filter((l) => l.quantity > 0);
          if (lines.length === 0) return say("Indiquez au moins une quantité à retourner.", "info");
          try {
            const ret = await api(`/stores/${store}/sales/${sale.id}/returns`, { method: "POST", key, body: { lines, till } });
            const how = ret.tenders.map((t) => `${money(t.amount_cents)} ${t.type === "cash" ? "en espèces" : t.type === "card" ? "sur la carte" : "autre"}`).join(", ");
            say(`Retour n° ${ret.id} enregistré : ${money(ret.refund_cents)} remboursés (${how}).`, "succes");
            zone.replaceChildren();
          } catch (error) {
            fail(error);
          }
        } }, "Enregistrer le retour"),
        el("button", { type: "button", class: "petit", id: "reimprimer", onclick: () => reprint(sale) }, "Réimprimer le reçu (copie)"));
    } catch (error) {
      fail(error);
    }
  }
  return el("section", { class: "carte non-imprime" }, el("h2", {}, "Retour"),
    el("div", { class: "saisie" }, number, el("button", { type: "button", onclick: find }, "Trouver la vente")), zone);
}

async function stock() {
  const store = currentStore();
  const query = el("input", { id: "recherche", "aria-label": "Rechercher un produit", type: "search", placeholder: "Nom, catégorie, SKU ou code-barres", autofocus: true });
  const low = el("input", { id: "bas", type: "checkbox" });
  const rows = el("tbody");
  const detail = el("section", { class: "carte", id: "disponibilite", hidden: true });
  // Each keystroke asks again; answers can arrive out of order, and only the answer to
  // the latest question may fill the table (an older, wider one would overwrite it).
  let asked = 0;
  async function search() {
    const question = ++asked;
    try {
      const page = await api(`/stores/${store}/stock?per_page=200&q=${encodeURIComponent(query.value)}${low.checked ? "&low=true" : ""}`);
      if (question !== asked) return;
      rows.replaceChildren(...page.items.map((l) => el("tr", { class: l.low ? "bas" : "" },
        el("td", {}, el("button", { type: "button", class: "lien", onclick: () => availability(l.sku) }, l.name)),
        el("td", {}, l.sku), el("td", {}, l.category), el("td", { class: "nombre" }, l.on_hand),
        el("td", { class: "nombre" }, l.reorder_point), el("td", { class: "nombre" }, l.target_level))));
    } catch (error) {
      fail(error);
    }
  }
  async function availability(sku) {
    try {
      const a = await api(`/availability/${sku}`);
      const parts = [el("h2", {}, `${a.name} dans la chaîne`), el("p", {}, `Total : ${a.total_on_hand}`),
        el("table", {}, el("tbody", {}, a.stores.map((s) => el("tr", { class: s.low ? "bas" : "" },
          el("td", {}, s.store_name), el("td", { class: "nombre" }, s.on_hand)))))];
      if (["manager", "admin"].includes(session()?.user?.role)) parts.push(...await levelsForm(sku));
      detail.hidden = false;
      detail.replaceChildren(...parts);
    } catch (error) {
      fail(error);
    }
  }
  /** The store's reorder point and target level for `sku`, editable (managers, head office). */
  async function levelsForm(sku) {
    const line = await api(`/stores/${store}/stock/${encodeURIComponent(sku)}`);
    const reorder = el("input", { name: "reorder_point", "aria-label": "Point de commande", type: "number", min: 0, value: line.reorder_point, class: "qte" });
    const target = el("input", { name: "target_level", "aria-label": "Niveau cible", type: "number", min: 0, value: line.target_level, class: "qte" });
    const form = el("form", { class: "saisie", id: "seuils", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = { reorder_point: Number(reorder.value), target_level: Number(target.value) };
        await api(`/stores/${store}/stock/${encodeURIComponent(sku)}/levels`, { method: "PUT", body });
        say(`Seuils de ${sku} enregistrés : commande sous ${body.reorder_point}, jusqu'à ${body.target_level}.`, "succes");
        search();
      } catch (error) {
        fail(error);
      }
    } }, el("label", {}, "Point de commande", reorder), el("label", {}, "Cible", target),
    el("button", { type: "submit" }, "Enregistrer"));
    return [el("h3", {}, `Seuils au magasin ${store}`), form];
  }
  query.addEventListener("input", () => search());
  low.addEventListener("change", () => search());
  await search();
  return el("div", { class: "grille" },
    el("section", { class: "carte" }, el("h1", {}, "Stock"), await storePicker(),
      el("div", { class: "saisie" }, query, el("label", {}, low, " Stock bas seulement")),
      el("table", { class: "stock" }, el("thead", {}, el("tr", {}, ["Produit", "SKU", "Catégorie", "En main", "Point de commande", "Cible"].map((h) => el("th", {}, h || el("span", { class: "invisible" }, "Actions"))))), rows)),
    detail);
}

/** A table with its header row; an empty header names the actions column for screen readers. */
function table(css, headers, rows) {
  return el("table", { class: css },
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h || el("span", { class: "invisible" }, "Actions"))))),
    el("tbody", {}, rows));
}

/** Says when a chain-wide list lacks the part of an instance that did not answer in time. */
function partialNote(page) {
  return page.partial
    ? el("p", { class: "a-changer", role: "status" }, "Liste incomplète : une partie de la chaîne n'a pas répondu à temps ; rechargez la page plus tard.")
    : "";
}

/** `EPI-0002 : 10 / 10 / 9 · 1 manquant(s)`: one line's quantities in a list of shipments. */
function shipmentLine(sku, figures, missing) {
  return el("div", {}, `${sku} : ${figures.join(" / ")}`,
    missing ? el("span", { class: "manquant" }, ` · ${missing} manquant(s)`) : "");
}

function requestTable(requests, actions) {
  return table("demandes", ["N°", "Magasin", "État", "Lignes (demandé / alloué / expédié / reçu)", "Demandée le", ""],
    requests.map((r) => el("tr", { "data-demande": r.id },
      el("td", {}, r.id), el("td", {}, r.store_id), el("td", { class: `etat ${r.status}` }, STATUS[r.status] || r.status),
      el("td", {}, r.lines.map((l) => shipmentLine(l.sku, [l.requested, l.allocated, l.shipped, l.received], l.missing))),
      el("td", {}, when(r.requested_at)),
      el("td", { class: "actions" }, actions(r)))));
}

/** Runs a write once at a time (`button` stays disabled while `call` runs), says
 * `done(answer)` and draws the screen again. */
async function sending(button, call, done) {
  button.disabled = true;
  try {
    say(done(await call()), "succes");
    route();
  } catch (error) {
    fail(error);
    button.disabled = false;
  }
}

/** A button that runs `call` with `sending`. */
function action(label, call, done, attrs = {}) {
  return el("button", { type: "button", "data-action": label, ...attrs, onclick: (e) => sending(e.currentTarget, call, done) }, label);
}

/** Rows of fields typed per line (`fields`: `[name, label, attributes]`, the first one the
 * SKU), one more on « Ajouter une ligne ». */
function lineEditor(id, fields) {
  const rows = el("div", { id });
  const add = () => {
    const n = rows.children.length + 1;
    rows.append(el("div", { class: "saisie" },
      fields.map(([name, label, attrs]) => el("input", { name, "aria-label": `${label}, ligne ${n}`, ...attrs }))));
  };
  add();
  return {
    node: rows,
    addButton: el("button", { type: "button", class: "secondaire", onclick: add }, "Ajouter une ligne"),
    /** Each line's values by field name (the SKU in capitals); lines without a SKU left out. */
    values: () => [...rows.children]
      .map((row) => Object.fromEntries(fields.map(([name]) => [name, row.querySelector(`[name=${name}]`).value.trim()])))
      .filter((l) => l.sku)
      .map((l) => ({ ...l, sku: l.sku.toUpperCase() })),
  };
}

const SKU_FIELD = ["sku", "SKU", { placeholder: "SKU (ex. EPI-0001)", autocomplete: "off" }];
const QUANTITY_FIELD = ["quantity", "Quantité", { type: "number", min: 1, value: 1, class: "qte" }];

const DAMAGE_REASONS = { broken: "cassé", expired: "périmé", wet: "mouillé", other: "autre" };

/** How a receipt is checked. A shipment to a store adds up, line by line, to what was
 * shipped; a supplier's delivery is counted against what is still owed and may bring more. */
const SHIPMENT = {
  column: "Expédié",
  addsUp: true,
  help: "Pour chaque ligne : reçu en bon état + endommagé + manquant = expédié. Les unités endommagées "
    + "sont sorties du stock du magasin ; les manquantes sont réglées par le centre logistique.",
};
const DELIVERY = {
  column: "Reste dû",
  addsUp: false,
  help: "Les unités reçues en bon état au-delà de ce qui reste dû attendent l'approbation du siège social. "
    + "Les unités endommagées sont sorties du stock ; les manquantes (sur le bon de livraison, absentes du camion) restent dues.",
};

/** The lines of a shipment as its receipt counts them. */
function shippedLines(lines) {
  return lines.filter((l) => l.shipped > 0).map((l) => ({ sku: l.sku, expected: l.shipped }));
}

/** One line as it is counted on arrival: received in good condition (everything expected
 * at first), damaged with a reason, missing. */
function countedLine(line, rule) {
  const count = (name, label, value) => el("input", { name, type: "number", min: 0, step: 1, value, class: "qte",
    inputmode: "numeric", "aria-label": `${label} : ${line.sku}` });
  const received = count("received", "Reçu en bon état", line.expected);
  const damaged = count("damaged", "Endommagé", 0);
  const missing = count("missing", "Manquant", 0);
  const reason = el("select", { name: "damage_reason", "aria-label": `Raison des dommages : ${line.sku}` },
    el("option", { value: "" }, "—"), Object.entries(DAMAGE_REASONS).map(([v, t]) => el("option", { value: v }, t)));
  const inputs = [received, damaged, reason, missing];
  const row = el("tr", { "data-sku": line.sku }, el("td", {}, line.sku), el("td", { class: "nombre" }, line.expected),
    inputs.map((input) => el("td", {}, input)));
  const units = (input) => (/^\d+$/.test(input.value.trim()) ? Number(input.value) : NaN);
  const counted = () => ({ sku: line.sku, received: units(received), damaged: units(damaged), missing: units(missing) });
  return {
    sku: line.sku,
    row,
    /** The line as the API takes it. */
    body() {
      const c = counted();
      return c.damaged > 0 ? { ...c, damage_reason: reason.value } : c;
    },
    /** Why the line cannot be sent, in French; null when it adds up. */
    problem() {
      const c = counted();
      if ([c.received, c.damaged, c.missing].some(Number.isNaN)) {
        return `Ligne ${line.sku} : les quantités sont des nombres entiers, 0 ou plus.`;
      }
      const sum = c.received + c.damaged + c.missing;
      if (rule.addsUp && sum !== line.expected) {
        return `Ligne ${line.sku} : reçu ${c.received} + endommagé ${c.damaged} + manquant ${c.missing} = ${sum}, `
          + `mais ${line.expected} unité(s) ont été expédiées.`;
      }
      if (c.damaged > 0 && !reason.value) return `Ligne ${line.sku} : choisissez la raison des ${c.damaged} unité(s) endommagée(s).`;
      return null;
    },
    mark(wrong) {
      row.classList.toggle("invalide", wrong);
      for (const input of inputs) {
        if (wrong) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
    },
  };
}

/** The receipt of a shipment (a restock, a transfer) or of a supplier's delivery: one row
 * per line, checked by `rule` before `send(body)` is called; the lines the server refuses
 * (`receipt_mismatch`) are marked. */
function receiptForm(title, lines, send, rule) {
  const rows = lines.map((l) => countedLine(l, rule));
  const heading = el("h2", { id: "reception-titre", tabindex: "-1" }, title);
  const submit = el("button", { type: "submit" }, "Enregistrer la réception");
  const form = el("form", { class: "carte", id: "reception", novalidate: true, "aria-labelledby": "reception-titre", onsubmit: async (e) => {
    e.preventDefault();
    const problems = rows.map((r) => {
      const problem = r.problem();
      r.mark(Boolean(problem));
      return problem;
    }).filter(Boolean);
    if (problems.length > 0) return say(problems.join(" "));
    const counted = rows.map((r) => r.body()).filter((l) => rule.addsUp || l.received + l.damaged + l.missing > 0);
    if (counted.length === 0) return say("Indiquez au moins une unité reçue, endommagée ou manquante.");
    submit.disabled = true;
    try {
      await send({ lines: counted });
    } catch (error) {
      fail(error);
      const refused = new Set((error.problem?.errors || []).map((x) => x.sku));
      for (const r of rows) r.mark(refused.has(r.sku));
      submit.disabled = false;
    }
  } }, heading,
  el("p", { class: "aide" }, rule.help),
  el("div", { class: "defile" }, table("reception", ["Produit", rule.column, "Reçu en bon état", "Endommagé", "Raison", "Manquant"], rows.map((r) => r.row))),
  el("div", { class: "saisie" }, submit, el("button", { type: "button", class: "secondaire", onclick: () => form.remove() }, "Annuler")));
  return { form, focus: () => heading.focus() };
}

/** `EPI-0002 : 7 en bon état, 2 endommagé(s) (cassé), 1 manquant(s)`. */
function countedText(lines) {
  return lines.map((l) => `${l.sku} : ${l.received} en bon état`
    + (l.damaged ? `, ${l.damaged} endommagé(s) (${DAMAGE_REASONS[l.damage_reason]})` : "")
    + (l.missing ? `, ${l.missing} manquant(s)` : "")).join(" ; ");
}

/** « Recevoir »: opens in `panel` the receipt form of `lines` posted to `path` (with an
 * Idempotency-Key per opened form when the route takes one); once the API takes it, says
 * `done(answer, what was counted)` and draws the screen again. */
function receiveButton(panel, { title, lines, path, done, rule = SHIPMENT, idempotent = false }) {
  return el("button", { type: "button", "data-action": "Recevoir", onclick: () => {
    const key = idempotent ? crypto.randomUUID() : undefined;
    const receipt = receiptForm(title, lines, async (body) => {
      const answer = await api(path, { method: "POST", body, key });
      say(done(answer, countedText(body.lines)), "succes");
      route();
    }, rule);
    panel.replaceChildren(receipt.form);
    receipt.focus();
  } }, "Recevoir");
}

/** A restock step: one POST, then the screen as it now is. */
function restockStep(label, path, body) {
  return action(label, () => api(path, { method: "POST", body: body ? body() : {} }),
    () => `Demande mise à jour : ${label.toLowerCase()}.`);
}

async function reappro() {
  const user = session().user;
  const box = el("div");
  if (user.role === "logistics" || user.role === "admin") box.append(...await logisticsRestocks());
  if (user.role === "manager" || user.role === "admin") box.prepend(await storeRestocks());
  return box;
}

const SETTLED = { lost: "perdue(s) en transit", found: "retrouvée(s), de retour au stock central" };

/** Settles the units of a request's line missing at the store's receipt. */
function settleMissing(id, sku, outcome, label) {
  return action(label, () => api(`/logistics/restock-requests/${id}/missing`, { method: "POST", body: { sku, outcome } }),
    (done) => (done.quantity
      ? `Demande ${id} : ${done.quantity} unité(s) de ${sku} ${SETTLED[outcome]}.`
      : `Demande ${id} : rien à régler pour ${sku}, c'est déjà fait.`));
}

/** The lines of a received request whose missing units the center still has to settle
 * (`waiting`: missing units per SKU in central stock). */
function missingActions(request, waiting) {
  return request.lines.filter((l) => l.missing > 0 && waiting.get(l.sku) > 0).map((l) =>
    el("div", { class: "manquants", "data-sku": l.sku }, `${l.sku} : ${l.missing} manquant(s) `,
      settleMissing(request.id, l.sku, "lost", "Perdu en transit"),
      settleMissing(request.id, l.sku, "found", "Retrouvé")));
}

/** The logistics center's side: the queue of requests, and the central stock. */
async function logisticsRestocks() {
  const central = await api("/logistics/stock?per_page=200");
  const waiting = new Map(central.items.map((c) => [c.sku, c.missing]));
  const status = el("select", { id: "filtre-etat", "aria-label": "Filtrer par état", onchange: () => draw() },
    el("option", { value: "" }, "Tous les états"),
    Object.entries(STATUS).map(([k, v]) => el("option", { value: k }, v)));
  const queue = el("div");
  const draw = async () => {
    try {
      const page = await api(`/logistics/restock-requests?per_page=200${status.value ? `&status=${status.value}` : ""}`);
      queue.replaceChildren(partialNote(page), requestTable(page.items, (r) => [
        r.status === "requested" ? restockStep("Allouer", `/logistics/restock-requests/${r.id}/allocate`) : "",
        r.status === "allocated" ? restockStep("Expédier", `/logistics/restock-requests/${r.id}/ship`) : "",
        ["requested", "allocated"].includes(r.status)
          ? restockStep("Refuser", `/logistics/restock-requests/${r.id}/reject`, () => ({ reason: prompt("Raison du refus ?") || "Refusée par la logistique" }))
          : "",
        ...missingActions(r, waiting),
      ]));
    } catch (error) {
      fail(error);
    }
  };
  await draw();
  const figure = (n) => el("td", { class: "nombre" }, n);
  return [el("section", { class: "carte" }, el("h1", {}, "Demandes reçues (centre logistique)"), status, queue),
    el("section", { class: "carte" }, el("h2", {}, "Stock central"), partialNote(central),
      table("central", ["Produit", "SKU", "Disponible", "Alloué", "En transit", "Manquant", "Perdu"],
        central.items.map((c) => el("tr", { "data-sku": c.sku }, el("td", {}, c.name), el("td", {}, c.sku),
          figure(c.on_hand), figure(c.allocated), figure(c.in_transit), figure(c.missing), figure(c.lost)))))];
}

/** The store's side: its requests, a new one, and the receipt of a shipped one. */
async function storeRestocks() {
  const store = currentStore();
  const sku = el("input", { id: "sku-demande", "aria-label": "SKU demandé", placeholder: "SKU (ex. EPI-0001)" });
  const quantity = el("input", { id: "qte-demande", "aria-label": "Quantité demandée", type: "number", min: 1, max: 10000, value: 10, class: "qte" });
  const create = async (body) => {
    try {
      const r = await api(`/stores/${store}/restock-requests`, { method: "POST", key: crypto.randomUUID(), body });
      say(`Demande ${r.id} créée (${r.lines.length} ligne(s)).`, "succes");
      route();
    } catch (error) {
      fail(error);
    }
  };
  const mine = await api(`/stores/${store}/restock-requests?per_page=200`);
  const panel = el("div", { id: "zone-reception" });
  return el("section", { class: "carte" }, el("h1", {}, "Demandes du magasin"), await storePicker(),
    el("div", { class: "saisie" },
      el("button", { type: "button", id: "proposition", onclick: () => create({ mode: "auto" }) }, "Proposition automatique"),
      sku, quantity,
      el("button", { type: "button", id: "demander", onclick: () => create({ lines: [{ sku: sku.value.trim(), quantity: Number(quantity.value) }] }) }, "Demander")),
    requestTable(mine.items.slice().reverse(), (r) => [
      r.status === "shipped" ? receiveButton(panel, { title: `Réception de la demande ${r.id}`, lines: shippedLines(r.lines),
        path: `/stores/${store}/restock-requests/${r.id}/receive`, done: (_, counted) => `Demande ${r.id} reçue : ${counted}.` }) : "",
      ["requested", "allocated"].includes(r.status) ? restockStep("Annuler", `/stores/${store}/restock-requests/${r.id}/cancel`) : "",
    ]),
    panel);
}

const TRANSFER_STATUS = { requested: "demandé", shipped: "expédié", received: "reçu" };

function transferTable(store, transfers, names, actions) {
  const other = (id) => names.get(id) ?? `magasin ${id}`;
  return table("transferts", ["N°", "Sens", "État", "Lignes (quantité / expédié / reçu)", "Demandé le", ""],
    transfers.map((t) => el("tr", { "data-transfert": t.id },
      el("td", {}, t.id),
      el("td", {}, t.from_store_id === store ? `vers ${other(t.to_store_id)}` : `de ${other(t.from_store_id)}`),
      el("td", { class: `etat ${t.status}` }, TRANSFER_STATUS[t.status] || t.status),
      el("td", {}, t.lines.map((l) => shipmentLine(l.sku, [l.quantity, l.shipped, l.received], l.missing))),
      el("td", {}, when(t.requested_at)),
      el("td", { class: "actions" }, actions(t)))));
}

/** A new transfer from `store`: the receiving store and lines of SKU and quantity. */
function transferForm(store, stores) {
  const to = el("select", { name: "to_store_id", id: "destination" },
    stores.filter((s) => s.id !== store).map((s) => el("option", { value: s.id }, `${s.id} — ${s.name}`)));
  const editor = lineEditor("lignes-transfert", [SKU_FIELD, QUANTITY_FIELD]);
  const submit = el("button", { type: "submit" }, "Demander le transfert");
  const form = el("form", { id: "nouveau-transfert", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    const lines = editor.values().map((l) => ({ sku: l.sku, quantity: Number(l.quantity) }));
    if (lines.length === 0) return say("Indiquez au moins un SKU et sa quantité.");
    return sending(submit, () => api(`/stores/${store}/transfers`, { method: "POST", body: { to_store_id: Number(to.value), lines } }),
      (t) => `Transfert ${t.id} demandé vers le magasin ${t.to_store_id} : rien ne bouge avant son expédition.`);
  } }, el("div", { class: "saisie" }, el("label", {}, "Magasin destinataire", to)), editor.node,
  el("div", { class: "saisie" }, editor.addButton, submit));
  return form;
}

/** Transfers between stores: the store sends (files, ships) and receives (counted per line). */
async function transferts() {
  const store = currentStore();
  const [stores, page] = await Promise.all([api("/stores"), api(`/stores/${store}/transfers?per_page=200`)]);
  const names = new Map(stores.items.map((s) => [s.id, `${s.id} — ${s.name}`]));
  const panel = el("div", { id: "zone-reception" });
  const actions = (t) => [
    t.status === "requested" && t.from_store_id === store
      ? action("Expédier", () => api(`/stores/${store}/transfers/${t.id}/ship`, { method: "POST", body: {} }),
        (s) => `Transfert ${s.id} expédié : les unités ont quitté le stock du magasin ${store}.`)
      : "",
    t.status === "shipped" && t.to_store_id === store
      ? receiveButton(panel, { title: `Réception du transfert ${t.id}`, lines: shippedLines(t.lines),
        path: `/stores/${store}/transfers/${t.id}/receive`, done: (_, counted) => `Transfert ${t.id} reçu : ${counted}.` })
      : "",
  ];
  return el("div", {},
    el("section", { class: "carte" }, el("h1", {}, "Transferts"), await storePicker(),
      el("h2", {}, "Nouveau transfert"), transferForm(store, stores.items)),
    el("section", { class: "carte" }, el("h2", {}, `Transferts du magasin ${store}`), partialNote(page),
      page.items.length > 0 ? transferTable(store, page.items, names, actions) : el("p", {}, "Aucun transfert pour ce magasin."),
      panel));
}

/** `1,5`: a French Canadian decimal. */
function decimal(x, digits = 1) {
  return x.toLocaleString("fr-CA", { maximumFractionDigits: digits });
}

/** `3,5 j (mesuré sur 4 réception(s))`, or `2 j (configuré)`. */
function leadTimeText(lead) {
  return `${decimal(lead.days)} j (${lead.source === "measured" ? `mesuré sur ${lead.samples} réception(s)` : "configuré"})`;
}

/** One product's current levels beside the proposed ones and what they come from. */
function proposalRow(line, box) {
  const figure = (n) => el("td", { class: "nombre" }, n);
  const p = line.proposed;
  return el("tr", { "data-sku": line.sku, class: line.changes ? "propose" : "" },
    el("td", {}, box || ""), el("td", {}, line.name, el("span", { class: "aide sku" }, line.sku)),
    figure(line.on_hand), figure(line.reorder_point), figure(line.target_level),
    ...(p
      ? [figure(p.reorder_point), figure(p.target_level), figure(decimal(p.demand.mean, 2)), figure(decimal(p.demand.std_dev, 2)),
        el("td", {}, leadTimeText(p.lead_time))]
      : [el("td", { colspan: 5, class: "aide" }, "Aucune vente sur la période : seuils laissés tels quels.")]));
}

/** Reorder points and target levels proposed from the store's sales, applied by choice. */
async function pointsDeCommande() {
  const store = currentStore();
  const p = await api(`/stores/${store}/reorder-proposals`);
  const boxes = new Map(p.lines.filter((l) => l.changes).map((l) =>
    [l.sku, el("input", { type: "checkbox", name: "sku", value: l.sku, "aria-label": `Appliquer : ${l.name}` })]));
  const chosen = () => [...boxes.values()].filter((b) => b.checked).map((b) => b.value);
  const post = (body) => api(`/stores/${store}/reorder-proposals/apply`, { method: "POST", body });
  const applied = (a) => (a.applied.length > 0
    ? `Seuils mis à jour pour ${a.applied.length} produit(s) : ${a.applied.map((l) => `${l.sku} (${l.reorder_point} / ${l.target_level})`).join(", ")}.`
    : "Aucun changement : les seuils sont déjà ceux proposés.");
  const selection = action("Appliquer la sélection", () => post({ skus: chosen() }), applied, { id: "appliquer-selection", disabled: true });
  const all = action("Tout appliquer", () => post({ all: true }), applied, { id: "tout-appliquer", disabled: boxes.size === 0 });
  for (const box of boxes.values()) box.addEventListener("change", () => { selection.disabled = chosen().length === 0; });
  return el("section", { class: "carte" }, el("h1", {}, "Points de commande"), await storePicker(),
    el("p", { id: "politique" }, `Calculés sur les ventes des ${p.window_days} derniers jours : niveau de service `
      + `${decimal(p.service_level * 100)} % (z = ${decimal(p.z, 2)}), une commande tous les ${p.review_days} jours environ, `
      + `délai du centre logistique au magasin ${leadTimeText(p.lead_time)}.`),
    el("div", { class: "saisie" }, selection, all),
    el("div", { class: "defile" }, table("propositions", ["Choisir", "Produit", "En main", "Point de commande", "Cible",
      "Point proposé", "Cible proposée", "Demande moyenne par jour", "Écart type (σ)", "Délai"],
    p.lines.map((l) => proposalRow(l, boxes.get(l.sku))))));
}

const ORDER_STATUS = { open: "ouverte", partially_received: "reçue en partie", received: "reçue", closed: "close" };

function supplierTable(suppliers) {
  return table("fournisseurs", ["Code", "Nom", "Délai convenu", "Délai en usage", "Actif"],
    suppliers.map((s) => el("tr", { "data-fournisseur": s.code },
      el("td", {}, s.code), el("td", {}, s.name), el("td", { class: "nombre" }, `${s.lead_time_days} j`),
      el("td", {}, leadTimeText({ days: s.effective_lead_time_days, source: s.lead_time_source, samples: s.lead_time_samples })),
      el("td", {}, s.active ? "oui" : "non"))));
}

/** Creates a supplier under its code, or changes the one that has it. */
function supplierForm() {
  const submit = el("button", { type: "submit" }, "Enregistrer le fournisseur");
  const form = el("form", { class: "saisie", id: "fournisseur", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const code = data.get("code").trim().toUpperCase();
    const days = Number(data.get("lead_time_days"));
    if (!code) return say("Indiquez le code du fournisseur.");
    if (!Number.isInteger(days) || days < 0 || days > 365) return say("Délai convenu : un nombre entier de jours, de 0 à 365.");
    const body = { name: data.get("name").trim(), lead_time_days: days, active: data.get("active") === "on" };
    return sending(submit, () => api(`/suppliers/${encodeURIComponent(code)}`, { method: "PUT", body }),
      (s) => `Fournisseur ${s.code} enregistré : ${s.name}, ${s.lead_time_days} j${s.active ? "" : ", inactif"}.`);
  } },
  el("input", { name: "code", "aria-label": "Code du fournisseur", placeholder: "code (ex. LAITERIE-QC)", autocomplete: "off" }),
  el("input", { name: "name", "aria-label": "Nom du fournisseur", placeholder: "nom" }),
  el("input", { name: "lead_time_days", type: "number", min: 0, max: 365, value: 5, class: "qte", "aria-label": "Délai convenu (jours)" }),
  el("label", {}, el("input", { type: "checkbox", name: "active", checked: true }), "Actif"),
  submit);
  return form;
}

/** A purchase order: a supplier, lines of SKU, quantity and unit cost. One Idempotency-Key
 * per form: sending it again answers the same order. */
function orderForm(suppliers) {
  const supplier = el("select", { name: "supplier", id: "fournisseur-commande" },
    suppliers.map((s) => el("option", { value: s.code }, `${s.code} — ${s.name}`)));
  const editor = lineEditor("lignes-commande", [SKU_FIELD, QUANTITY_FIELD,
    ["unit_cost", "Coût unitaire ($)", { inputmode: "decimal", placeholder: "coût unitaire ($)", class: "cout" }]]);
  const key = crypto.randomUUID();
  const submit = el("button", { type: "submit" }, "Passer la commande");
  const form = el("form", { id: "nouvelle-commande", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    const lines = editor.values().map((l) => ({ sku: l.sku, quantity: Number(l.quantity), unit_cost_cents: cents(l.unit_cost) }));
    if (lines.length === 0) return say("Indiquez au moins un SKU, sa quantité et son coût unitaire.");
    const free = lines.find((l) => l.unit_cost_cents === null);
    if (free) return say(`Ligne ${free.sku} : coût unitaire invalide ; un montant en dollars, par exemple 2,49.`);
    return sending(submit, () => api("/logistics/purchase-orders", { method: "POST", key, body: { supplier: supplier.value, lines } }),
      (o) => `Commande ${o.id} passée chez ${o.supplier} : ${money(o.total_cost_cents)}.`);
  } }, el("div", { class: "saisie" }, el("label", {}, "Fournisseur", supplier)), editor.node,
  el("div", { class: "saisie" }, editor.addButton, submit));
  return form;
}

/** `EPI-0001 : 10 / 7 / 3 à 2,49 $ · 1 endommagé(s)`: ordered, received, still owed. */
function orderLine(l) {
  const notes = [
    l.damaged ? `${l.damaged} endommagé(s)` : "",
    l.over_held ? `${l.over_held} au-delà de la commande, en attente` : "",
    l.over_accepted ? `${l.over_accepted} en excédent accepté(s)` : "",
    l.over_returned ? `${l.over_returned} en excédent renvoyé(s)` : "",
  ].filter(Boolean);
  return el("div", {}, `${l.sku} : ${l.ordered} / ${l.received} / ${l.outstanding} à ${money(l.unit_cost_cents)}`,
    notes.map((n) => ` · ${n}`).join(""));
}

function orderTable(orders, actions) {
  return table("commandes", ["N°", "Fournisseur", "État", "Lignes (commandé / reçu / dû)", "Coût", "Passée le", ""],
    orders.map((o) => el("tr", { "data-commande": o.id },
      el("td", {}, o.id), el("td", {}, o.supplier),
      el("td", { class: `etat ${o.status}` }, ORDER_STATUS[o.status] || o.status,
        o.awaiting_approval ? el("span", { class: "a-changer" }, " · excédent à approuver") : ""),
      el("td", {}, o.lines.map(orderLine)),
      el("td", { class: "nombre" }, money(o.total_cost_cents)),
      el("td", {}, when(o.placed_at)),
      el("td", { class: "actions" }, actions(o)))));
}

/** Head office's decision on the units of a receipt beyond the order. */
function overDecision(path, receipt) {
  const over = receipt.lines.reduce((n, l) => n + l.over, 0);
  const decide = (label, verb, outcome) => action(label,
    () => api(`${path}/receipts/${receipt.number}/${verb}`, { method: "POST", body: {} }),
    (o) => `Commande ${o.id}, réception ${receipt.number} : excédent ${outcome}.`);
  return el("div", { class: "manquants", "data-reception": receipt.number },
    `Réception ${receipt.number} : ${over} unité(s) au-delà de la commande `,
    decide("Accepter l'excédent", "approve", "accepté, entré en stock au coût de la commande"),
    decide("Refuser l'excédent", "reject", "refusé, renvoyé au fournisseur"));
}

function orderActions(order, panel, headOffice) {
  const path = `/logistics/purchase-orders/${order.id}`;
  const awaited = (answer) => (answer.order.awaiting_approval
    ? " Des unités au-delà de la commande attendent l'approbation du siège social." : "");
  return [
    ["open", "partially_received"].includes(order.status)
      ? receiveButton(panel, { title: `Réception de la commande ${order.id}`, rule: DELIVERY, idempotent: true,
        lines: order.lines.map((l) => ({ sku: l.sku, expected: l.outstanding })), path: `${path}/receipts`,
        done: (r, counted) => `Réception ${r.receipt} de la commande ${order.id} : ${counted}.${awaited(r)}` })
      : "",
    order.status === "partially_received"
      ? action("Clore", () => api(`${path}/close`, { method: "POST", body: {} }),
        (o) => `Commande ${o.id} close : ce qui reste dû ne viendra pas.`)
      : "",
    ...(headOffice ? order.receipts.filter((r) => r.over_status === "pending").map((r) => overDecision(path, r)) : []),
  ];
}

/** The logistics center's suppliers and purchase orders, received against what is owed. */
async function achats() {
  const headOffice = session().user.role === "admin";
  const [suppliers, orders] = await Promise.all([api("/suppliers"), api("/logistics/purchase-orders?per_page=100")]);
  const panel = el("div", { id: "zone-reception" });
  return el("div", {},
    el("section", { class: "carte" }, el("h1", {}, "Fournisseurs et commandes"),
      el("h2", {}, "Fournisseurs"), supplierTable(suppliers), supplierForm()),
    el("section", { class: "carte" }, el("h2", {}, "Nouvelle commande"), orderForm(suppliers.filter((s) => s.active))),
    el("section", { class: "carte" }, el("h2", {}, "Commandes"),
      orders.items.length > 0 ? orderTable(orders.items, (o) => orderActions(o, panel, headOffice)) : el("p", {}, "Aucune commande."),
      panel));
}

/** Reads /api/v1/events with the bearer token (EventSource cannot send it), resuming from
 * the last event id after a drop; calls `onEvent(kind, data)`. Returns a stop function. */
function liveEvents(onEvent) {
  const controller = new AbortController();
  let lastId = null;
  let stopped = false;
  async function connect() {
    while (!stopped) {
      try {
        const headers = { Authorization: `Bearer ${session()?.token}` };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const response = await fetch("/api/v1/events", { headers, signal: controller.signal });
        if (!response.ok) throw new Error(`flux ${response.status}`);
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let kind = "", data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("id: ")) lastId = line.slice(4);
              else if (line.startsWith("event: ")) kind = line.slice(7);
              else if (line.startsWith("data: ")) data = line.slice(6);
            }
            if (kind) onEvent(kind, data ? JSON.parse(data) : {});
          }
        }
      } catch (error) {
        if (stopped) return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  connect();
  return () => { stopped = true; controller.abort(); };
}

async function tableau() {
  const user = session().user;
  const storeQuery = user.store_id ? `?store_id=${user.store_id}` : "";
  const figures = el("div", { class: "chiffres" });
  const perStore = el("tbody");
  const top = el("tbody");
  const chart = el("div", { id: "graphique" });
  let plot = null;
  async function refresh() {
    const d = await api(`/reports/dashboard${storeQuery}`);
    figures.replaceChildren(
      el("div", { class: "kpi" }, el("span", {}, "Ventes du jour"), el("strong", { id: "ca-jour" }, money(d.revenue_today_cents))),
      el("div", { class: "kpi" }, el("span", {}, "Nombre de ventes"), el("strong", { id: "ventes-jour" }, d.sales_today)),
      el("div", { class: "kpi" }, el("span", {}, "Produits sous le point de commande"), el("strong", {}, d.low_stock_count)),
      el("div", { class: "kpi" }, el("span", {}, "Réapprovisionnements en cours"), el("strong", {}, d.pending_restocks)));
    perStore.replaceChildren(...d.stores.map((s) => el("tr", {}, el("td", {}, s.store_code),
      el("td", { class: "nombre" }, s.sales_count), el("td", { class: "nombre" }, money(s.revenue_cents)))));
    top.replaceChildren(...d.top_products_today.map((p) => el("tr", {}, el("td", {}, p.name),
      el("td", { class: "nombre" }, p.units), el("td", { class: "nombre" }, money(p.revenue_cents)))));
    const xs = d.hourly.map((h) => Date.parse(h.hour) / 1000);
    const ys = d.hourly.map((h) => h.revenue_cents / 100);
    if (plot) plot.setData([xs, ys]);
    else if (window.uPlot) {
      // As wide as its card, up to 600 px (a phone's screen is narrower).
      const width = Math.max(240, Math.min(600, window.innerWidth - 64));
      plot = new window.uPlot({ width, height: 220, series: [{}, { label: "Ventes ($)", stroke: "#0b5cad", fill: "rgba(11,92,173,.12)" }],
        axes: [
          { values: (u, v) => v.map((t) => `${String(new Date(t * 1000).getHours()).padStart(2, "0")} h`) },
          { values: (u, v) => v.map((x) => `${x} $`) },
        ] }, [xs, ys], chart);
    }
  }
  await refresh();
  const stop = liveEvents((kind) => {
    if (kind === "sale_recorded" || kind === "sale_returned" || kind.startsWith("restock")) refresh().catch(fail);
  });
  leaveScreen = stop;
  return el("div", {},
    el("section", { class: "carte" }, el("h1", {}, "Tableau de bord"), el("p", { class: "direct" }, "Mis à jour en direct"), figures),
    el("div", { class: "grille" },
      el("section", { class: "carte" }, el("h2", {}, "Dernières 24 heures"), chart),
      el("section", { class: "carte" }, el("h2", {}, "Aujourd'hui par magasin"),
        el("table", {}, el("thead", {}, el("tr", {}, ["Magasin", "Ventes", "Montant"].map((h) => el("th", {}, h || el("span", { class: "invisible" }, "Actions"))))), perStore))),
    el("section", { class: "carte" }, el("h2", {}, "Meilleurs vendeurs du jour"),
      el("table", {}, el("thead", {}, el("tr", {}, ["Produit", "Unités", "Montant"].map((h) => el("th", {}, h || el("span", { class: "invisible" }, "Actions"))))), top)));
}

/** Cents from a price typed in dollars (`12,99` or `12.99`); null when it is not one. */
function cents(typed) {
  const text = String(typed).trim().replace(",", ".").replace(/\s*\$$/, "");
  if (!/^\d+(\.\d{1,2})?$/.test(text)) return null;
  return Math.round(Number(text) * 100);
}

async function catalogue() {
  const results = el("tbody");
  const search = el("input", { id: "recherche-catalogue", "aria-label": "Rechercher au catalogue", type: "search", placeholder: "nom, catégorie, SKU ou code-barres" });
  let asked = 0;
  async function find() {
    const mine = ++asked;
    try {
      const found = await api(`/products?per_page=50&q=${encodeURIComponent(search.value)}`);
      if (mine !== asked) return; // a later search has been sent: its answer is the one shown
      results.replaceChildren(...found.items.map((p) => {
        const price = el("input", { name: "prix", value: (p.price_cents / 100).toFixed(2).replace(".", ","), size: 8, "aria-label": `Prix de ${p.sku}` });
        const change = el("form", { class: "en-ligne", onsubmit: async (e) => {
          e.preventDefault();
          const value = cents(price.value);
          if (value === null) return say("Prix invalide : un montant en dollars, par exemple 12,99.");
          try {
            const changed = await api(`/products/${encodeURIComponent(p.sku)}`, { method: "PATCH", body: { price_cents: value } });
            say(`${changed.sku} : ${money(changed.price_cents)} pour les ventes à venir.`, "succes");
            find();
          } catch (error) {
            fail(error);
          }
        } }, price, el("button", { type: "submit", class: "petit" }, "Changer le prix"));
        return el("tr", { "data-sku": p.sku }, el("td", {}, p.sku), el("td", {}, p.ean13), el("td", {}, p.name),
          el("td", {}, p.category), el("td", { class: "nombre" }, money(p.price_cents)), el("td", {}, change));
      }));
    } catch (error) {
      fail(error);
    }
  }
  search.addEventListener("input", find);
  const form = el("form", { class: "saisie", id: "nouveau-produit", onsubmit: async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const price = cents(data.get("prix"));
    if (price === null) return say("Prix invalide : un montant en dollars, par exemple 12,99.");
    const body = { sku: data.get("sku").trim().toUpperCase(), ean13: data.get("ean13").trim(),
      name: data.get("name"), category: data.get("category"), price_cents: price,
      tax_class: data.get("tax_class") };
    try {
      const added = await api("/products", { method: "POST", body });
      say(`Produit ${added.sku} ajouté : vendable dans chaque magasin dès que son stock est compté.`, "succes");
      form.reset();
      search.value = added.sku;
      find();
    } catch (error) {
      fail(error);
    }
  } },
  el("input", { name: "sku", "aria-label": "SKU", placeholder: "SKU (ex. ERA-0042)", required: true }),
  el("input", { name: "ean13", "aria-label": "Code-barres EAN-13", placeholder: "code-barres EAN-13", inputmode: "numeric", required: true }),
  el("input", { name: "name", "aria-label": "Nom", placeholder: "nom", required: true }),
  el("input", { name: "category", "aria-label": "Catégorie", placeholder: "catégorie", required: true }),
  el("input", { name: "prix", "aria-label": "Prix ($)", placeholder: "prix ($)", inputmode: "decimal", required: true }),
  el("select", { name: "tax_class", required: true, "aria-label": "Taxes" },
    el("option", { value: "" }, "taxes…"),
    el("option", { value: "taxable" }, "taxable (TPS et TVQ)"),
    el("option", { value: "zero_rated" }, "détaxé (épicerie de base)"),
    el("option", { value: "exempt" }, "exonéré")),
  el("button", { type: "submit" }, "Ajouter"));
  find();
  return el("section", { class: "carte" }, el("h1", {}, "Catalogue"), form, search,
    el("table", { class: "catalogue" },
      el("thead", {}, el("tr", {}, ["SKU", "Code-barres", "Nom", "Catégorie", "Prix", ""].map((h) => el("th", {}, h || el("span", { class: "invisible" }, "Actions"))))),
      results));
}

async function magasins() {
  const stores = await api("/stores");
  const form = el("form", { class: "saisie", id: "nouveau-magasin", onsubmit: async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const body = { code: data.get("code").trim().toUpperCase(), name: data.get("name"), city: data.get("city") };
    try {
      const opened = await api("/stores", { method: "POST", body });
      say(`Magasin ${opened.id} (${opened.code}) ouvert : chaque produit y est à zéro jusqu'au premier comptage.`, "succes");
      route();
    } catch (error) {
      fail(error);
    }
  } },
  el("input", { name: "code", placeholder: "code (ex. TR-CENTRE)", required: true }),
  el("input", { name: "name", "aria-label": "Nom", placeholder: "nom", required: true }),
  el("input", { name: "city", placeholder: "ville", required: true }),
  el("button", { type: "submit" }, "Ouvrir"));
  return el("section", { class: "carte" }, el("h1", {}, "Magasins"), form,
    el("table", { class: "magasins" },
      el("thead", {}, el("tr", {}, ["N°", "Code", "Nom", "Ville", "Ouvert le"].map((h) => el("th", {}, h || el("span", { class: "invisible" }, "Actions"))))),
      el("tbody", {}, stores.items.map((s) => el("tr", { "data-magasin": s.id }, el("td", {}, s.id), el("td", {}, s.code),
        el("td", {}, s.name), el("td", {}, s.city), el("td", {}, when(s.opened_at)))))));
}

/** The users; `?utilisateur=` opens one's card. */
async function utilisateurs(params) {
  const stores = (await api("/stores")).items;
  const me = session().user.username;
  const rows = el("tbody");
  const panel = el("section", { class: "carte fiche", id: "fiche-utilisateur", hidden: true, "aria-labelledby": "fiche-titre" });
  let users = [];

  async function draw() {
    users = (await api("/users")).items;
    rows.replaceChildren(...users.map((u) => el("tr", { "data-utilisateur": u.username, class: u.active ? "" : "inactif" },
      el("td", {}, el("button", { type: "button", class: "lien gerer", "aria-controls": "fiche-utilisateur", onclick: () => open(u.username) }, u.username)),
      el("td", {}, ROLE_NAMES[u.role] || u.role), el("td", {}, u.store_id ?? "—"), el("td", {}, u.active ? "oui" : "non"),
      el("td", { class: "a-changer" }, u.must_change_password ? "doit changer son mot de passe" : ""))));
  }

  /** Runs an action on a user, then shows the list and the user's card as they now are. */
  async function act(username, call, done) {
    try {
      const answer = await call();
      if (answer.username === me && answer.role) {
        // The signed-in administrator changed their own role: the menu follows.
        saveSession({ ...session(), user: { username: answer.username, role: answer.role, store_id: answer.store_id } });
        if (answer.role !== "admin") return route();
      }
      await draw();
      say(done(answer), "succes");
      return open(username);
    } catch (error) {
      fail(error);
      return null;
    }
  }

  /** The card of one user: role and store, deactivate or reactivate, reset the password.
   * `shown` is put at its top (the temporary password, once). */
  function open(username, shown) {
    const u = users.find((x) => x.username === username);
    if (!u) {
      panel.hidden = true;
      return null;
    }
    const path = `/users/${encodeURIComponent(u.username)}`;
    const role = el("select", { name: "role", id: "fiche-role" }, ROLES.map(([v, t]) => el("option", { value: v, selected: v === u.role }, t)));
    const store = el("select", { name: "store_id", id: "fiche-magasin" },
      el("option", { value: "" }, "aucun"),
      stores.map((s) => el("option", { value: s.id, selected: s.id === u.store_id }, `${s.id} — ${s.name}`)));
    // Cashiers and managers work in one store; logistics and head office in none.
    const scope = () => {
      const needed = STORE_ROLES.includes(role.value);
      store.disabled = !needed;
      if (!needed) store.value = "";
      else if (!store.value && stores.length > 0) store.value = String(stores[0].id);
    };
    role.addEventListener("change", scope);
    scope();
    const change = el("form", { class: "saisie", id: "changer-role", onsubmit: (e) => {
      e.preventDefault();
      const body = { role: role.value, store_id: STORE_ROLES.includes(role.value) ? Number(store.value) : null };
      act(u.username, () => api(path, { method: "PATCH", body }),
        (c) => `${c.username} : ${ROLE_NAMES[c.role] || c.role}${c.store_id ? ` au magasin ${c.store_id}` : ""}.`);
    } }, el("label", {}, "Rôle", role), el("label", {}, "Magasin", store),
    el("button", { type: "submit" }, "Enregistrer le rôle"));

    const activity = u.active
      ? el("button", { type: "button", id: "desactiver", onclick: () => act(u.username,
        () => api(`${path}/deactivate`, { method: "POST", body: {} }),
        (c) => `${c.username} désactivé : ses sessions sont fermées.`) }, "Désactiver")
      : el("button", { type: "button", id: "reactiver", onclick: () => act(u.username,
        () => api(`${path}/reactivate`, { method: "POST", body: {} }),
        (c) => `${c.username} réactivé : il peut se connecter avec son mot de passe.`) }, "Réactiver");

    // A reset spends the user's password at once: it is asked twice.
    const reset = el("div", { class: "saisie", id: "reinitialisation" });
    const ask = el("button", { type: "button", id: "reinitialiser", onclick: () => {
      const confirm = el("button", { type: "button", id: "confirmer-reinitialisation", onclick: async () => {
        try {
          const given = await api(`${path}/reset-password`, { method: "POST", body: {} });
          await draw();
          say(`Mot de passe de ${given.username} réinitialisé.`, "succes");
          open(given.username, temporaryPassword(given))?.focus();
        } catch (error) {
          fail(error);
        }
      } }, "Confirmer la réinitialisation");
      reset.replaceChildren(
        el("p", {}, `Le mot de passe actuel de ${u.username} ne fonctionnera plus et ses sessions seront fermées ; un mot de passe temporaire sera affiché une seule fois.`),
        confirm,
        el("button", { type: "button", class: "secondaire", onclick: () => { reset.replaceChildren(ask); ask.focus(); } }, "Annuler"));
      confirm.focus();
    } }, "Réinitialiser le mot de passe");
    reset.append(ask);

    const title = el("h2", { id: "fiche-titre", tabindex: "-1" }, `Utilisateur ${u.username}`);
    panel.hidden = false;
    panel.replaceChildren(title, shown || "",
      el("p", {}, `${ROLE_NAMES[u.role] || u.role}${u.store_id ? `, magasin ${u.store_id}` : ""} · ${u.active ? "actif" : "désactivé"}`
        + (u.must_change_password ? " · doit changer son mot de passe" : "")),
      el("h3", {}, "Rôle et magasin"), change,
      el("h3", {}, "Accès"), el("div", { class: "saisie" }, activity),
      el("h3", {}, "Mot de passe"), reset,
      el("p", {}, el("a", { href: `#/journal?utilisateur=${encodeURIComponent(u.username)}` }, `Journal de ${u.username}`),
        " · ", el("button", { type: "button", class: "lien", onclick: () => { panel.hidden = true; panel.replaceChildren(); } }, "Fermer")));
    if (!shown) title.focus();
    return shown || title;
  }

  /** The temporary password, shown this once for the administrator to hand over. */
  function temporaryPassword(given) {
    const box = el("div", { class: "temporaire", id: "temporaire", tabindex: "-1", role: "group", "aria-labelledby": "temporaire-titre" },
      el("p", { id: "temporaire-titre" }, `Mot de passe temporaire de ${given.username} :`),
      el("p", {}, el("code", { id: "mot-de-passe-temporaire" }, given.temporary_password)),
      el("p", {}, `Remettez-le à ${given.username} : il ne sera plus affiché. À sa prochaine connexion, il devra choisir son propre mot de passe.`),
      el("button", { type: "button", class: "secondaire", onclick: () => box.remove() }, "Je l'ai remis : le masquer"));
    return box;
  }

  const form = el("form", { class: "saisie", id: "nouvel-utilisateur", onsubmit: async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const role = data.get("role");
    const body = { username: data.get("username"), password: data.get("password"), role };
    if (STORE_ROLES.includes(role)) body.store_id = Number(data.get("store_id"));
    try {
      await api("/users", { method: "POST", body });
      say(`Utilisateur ${body.username} créé.`, "succes");
      form.reset();
      await draw();
    } catch (error) {
      fail(error);
    }
  } },
  el("input", { name: "username", "aria-label": "Nom d'utilisateur", placeholder: "nom d'utilisateur", required: true }),
  el("input", { name: "password", "aria-label": "Mot de passe", type: "password", autocomplete: "new-password", placeholder: "mot de passe (8 caractères et plus)", required: true }),
  el("select", { name: "role", "aria-label": "Rôle" }, ROLES.map(([v, t]) => el("option", { value: v }, t))),
  el("select", { name: "store_id", "aria-label": "Magasin" }, stores.map((s) => el("option", { value: s.id }, `${s.id} — ${s.name}`))),
  el("button", { type: "submit" }, "Créer"));
  await draw();
  if (params.get("utilisateur")) open(params.get("utilisateur"));
  return el("div", { class: "grille" },
    el("section", { class: "carte" }, el("h1", {}, "Utilisateurs"),
      el("p", {}, el("a", { href: "#/journal", id: "lien-journal" }, "Journal des utilisateurs")),
      el("h2", {}, "Nouvel utilisateur"), form,
      el("p", { class: "aide" }, "Choisissez un utilisateur pour changer son rôle, le désactiver ou réinitialiser son mot de passe."),
      el("table", { class: "utilisateurs" }, el("thead", {}, el("tr", {}, ["Utilisateur", "Rôle", "Magasin", "Actif", "Mot de passe"].map((h) => el("th", {}, h)))),
        rows)),
    panel);
}

const JOURNAL_PER_PAGE = 20;

/** `#/journal?utilisateur=…&page=…`. */
function journalLink(username, page) {
  const query = new URLSearchParams();
  if (username) query.set("utilisateur", username);
  if (page > 1) query.set("page", page);
  const text = query.toString();
  return text ? `#/journal?${text}` : "#/journal";
}

/** Who changed which user, and when: newest first, by user if asked, a page at a time. */
async function journal(params) {
  const who = (params.get("utilisateur") || "").trim();
  const page = Math.max(1, Math.floor(Number(params.get("page"))) || 1);
  const filter = el("input", { name: "utilisateur", id: "filtre-utilisateur", type: "search", value: who, autocomplete: "off" });
  const form = el("form", { class: "saisie", id: "filtre-journal", role: "search", onsubmit: (e) => {
    e.preventDefault();
    go(journalLink(filter.value.trim(), 1));
  } }, el("label", {}, "Utilisateur", filter), el("button", { type: "submit" }, "Filtrer"),
  who ? el("a", { href: "#/journal" }, "Tous les utilisateurs") : "");
  const card = el("section", { class: "carte" }, el("h1", {}, "Journal des utilisateurs"),
    el("p", {}, el("a", { href: "#/utilisateurs" }, "← Utilisateurs")), form);
  const query = new URLSearchParams({ page, per_page: JOURNAL_PER_PAGE });
  if (who) query.set("username", who);
  let found;
  try {
    found = await api(`/user-changes?${query}`);
  } catch (error) {
    fail(error);
    return card;
  }
  const pages = Math.max(1, Math.ceil((found.total ?? 0) / found.per_page));
  const more = found.total === undefined ? found.items.length === found.per_page : page < pages;
  const count = found.total === undefined ? "" : ` · ${found.total} changement${found.total > 1 ? "s" : ""}`;
  card.append(
    el("p", { id: "resume-journal", role: "status" }, found.items.length === 0
      ? (who ? `Aucun changement pour ${who} sur cette page.` : "Aucun changement sur cette page.")
      : `Page ${page}${found.total === undefined ? "" : ` sur ${pages}`}${count}`),
    el("table", { class: "journal" },
      el("thead", {}, el("tr", {}, ["Date", "Par", "Utilisateur", "Changement", "Rôle", "Magasin", "Actif"].map((h) => el("th", {}, h)))),
      el("tbody", {}, found.items.map((c) => el("tr", { "data-changement": c.change, "data-utilisateur": c.username },
        el("td", {}, el("time", { datetime: c.at }, longWhen(c.at))),
        el("td", { class: "auteur" }, c.by ?? "serveur"),
        el("td", {}, el("a", { href: journalLink(c.username, 1) }, c.username)),
        el("td", {}, CHANGES[c.change] || c.change),
        el("td", {}, ROLE_NAMES[c.role] || c.role || "—"),
        el("td", {}, c.store_id ?? "—"),
        el("td", {}, c.active ? "oui" : "non"))))),
    el("p", { class: "aide" }, "« serveur » : un changement fait sans session — les données de démonstration, le premier administrateur, "
      + "ou « magasin admin reset-password » sur une instance arrêtée."),
    el("nav", { class: "pages", "aria-label": "Pages du journal" },
      page > 1 ? el("a", { href: journalLink(who, page - 1), rel: "prev", id: "page-precedente" }, "← Plus récents") : "",
      more ? el("a", { href: journalLink(who, page + 1), rel: "next", id: "page-suivante" }, "Plus anciens →") : ""));
  return card;
}

/** Every signed-in user changes their own password; the answer's token replaces the one
 * kept, since the server has just made every other token of the user useless. */
function monMotDePasse() {
  const user = session().user;
  const current = el("input", { name: "current_password", type: "password", autocomplete: "current-password", required: true });
  const fields = newPasswordFields();
  const form = el("form", { class: "carte connexion", id: "mon-mot-de-passe", onsubmit: async (e) => {
    e.preventDefault();
    const wrong = fields.problem();
    if (wrong) return say(wrong);
    try {
      const answer = await api("/auth/password", { method: "POST", bearer: false,
        body: { username: user.username, current_password: current.value, new_password: fields.value() } });
      saveSession(answer);
      form.reset();
      menu();
      say("Mot de passe changé. Vos autres sessions sont fermées : ailleurs, reconnectez-vous avec le nouveau.", "succes");
    } catch (error) {
      fail(error);
      if (error instanceof ApiError && error.problem.code === "invalid_credentials") current.focus();
      else fields.refused(error);
    }
  } },
  el("h1", {}, "Mon mot de passe"),
  // For password managers: whose password this is.
  el("input", { name: "username", value: user.username, autocomplete: "username", hidden: true, readonly: true }),
  el("label", {}, "Mot de passe actuel", current),
  ...fields.nodes,
  el("button", { type: "submit" }, "Changer mon mot de passe"));
  return form;
}

async function route() {
  leaveScreen();
  leaveScreen = () => {};
  const [path, search] = (location.hash.slice(1) || "/caisse").split("?");
  const name = path.replace(/^\//, "");
  const params = new URLSearchParams(search || "");
  menu();
  const user = session()?.user;
  if (!user || name === "connexion") {
    if (user && name === "connexion") clearSession();
    menu();
    ecran.replaceChildren(connexion(params));
    return;
  }
  const screen = SCREENS[name];
  if (!screen) {
    ecran.replaceChildren(el("section", { class: "carte" }, el("h1", {}, "Page introuvable")));
    return;
  }
  if (!screen.roles.includes(user.role)) {
    ecran.replaceChildren(el("section", { class: "carte refus" }, el("h1", {}, "Accès refusé"),
      el("p", {}, "Votre rôle ne donne pas accès à cet écran.")));
    return;
  }
  document.title = `${screen.title} — magasin`;
  try {
    ecran.replaceChildren(await screen.render(params));
  } catch (error) {
    fail(error);
  }
}

document.getElementById("deconnexion").addEventListener("click", () => {
  clearSession();
  location.hash = "#/connexion";
});
window.addEventListener("hashchange", () => { say(""); route(); });
// The service worker keeps the application and its last reads for when the server is down.
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
route();
