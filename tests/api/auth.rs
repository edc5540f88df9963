//! Authentication and permissions: every route × every demo role × own / other store,
//! token failures, deactivation, brute-force throttling, secrets.

use crate::helpers::{TestApp, assert_problem, declared_routes, ean13, error_fields, spawn_app};
use serde_json::{Value, json};
use std::cell::Cell;
use std::collections::BTreeSet;

/// Who may call a route. `scoped`: the route acts on the store of its path, and store roles
/// may only act on their own store.
struct Row {
    method: &'static str,
    template: &'static str,
    allowed: &'static [&'static str],
    scoped: bool,
}

const ALL: &[&str] = &["cashier", "manager", "logistics", "admin"];
const STORE_STAFF: &[&str] = &["cashier", "manager", "admin"];
const MANAGERS: &[&str] = &["manager", "admin"];
const ADMIN: &[&str] = &["admin"];
const STOCK_READERS: &[&str] = &["cashier", "manager", "logistics", "admin"];
const PUBLIC: &[&str] = &[];
const RESTOCK_READERS: &[&str] = &["manager", "logistics", "admin"];
const LOGISTICS: &[&str] = &["logistics", "admin"];

/// Every route of the API. A route added to `src/http` without a row here fails
/// `every_route_has_a_row`.
#[rustfmt::skip]
const ROUTES: &[Row] = &[
    Row { method: "GET", template: "/health/live", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/health/ready", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/metrics", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/api/v1/openapi.json", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/docs", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/docs/docs.js", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/docs/docs.css", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/docs/swagger-ui-bundle.js", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/ui/{file}", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/sw.js", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/manifest.webmanifest", allowed: PUBLIC, scoped: false },
    Row { method: "POST", template: "/api/v1/auth/login", allowed: PUBLIC, scoped: false },
    Row { method: "POST", template: "/api/v1/auth/password", allowed: PUBLIC, scoped: false },
    Row { method: "GET", template: "/api/v1/user-changes", allowed: ADMIN, scoped: false },
    Row { method: "POST", template: "/api/v1/users/{username}/reset-password", allowed: ADMIN, scoped: false },
    Row { method: "GET", template: "/api/v1/users", allowed: ADMIN, scoped: false },
    Row { method: "POST", template: "/api/v1/users", allowed: ADMIN, scoped: false },
    Row { method: "POST", template: "/api/v1/users/{username}/deactivate", allowed: ADMIN, scoped: false },
    Row { method: "POST", template: "/api/v1/users/{username}/reactivate", allowed: ADMIN, scoped: false },
    Row { method: "PATCH", template: "/api/v1/users/{username}", allowed: ADMIN, scoped: false },
    Row { method: "GET", template: "/api/v1/stores", allowed: ALL, scoped: false },
    Row { method: "GET", template: "/api/v1/stores/{store_id}", allowed: ALL, scoped: false },
    Row { method: "POST", template: "/api/v1/stores", allowed: ADMIN, scoped: false },
    Row { method: "PATCH", template: "/api/v1/stores/{store_id}", allowed: ADMIN, scoped: false },
    Row { method: "GET", template: "/api/v1/jurisdictions", allowed: ALL, scoped: false },
    Row { method: "PUT", template: "/api/v1/jurisdictions/{code}", allowed: ADMIN, scoped: false },
    Row { method: "GET", template: "/api/v1/products", allowed: ALL, scoped: false },
    Row { method: "GET", template: "/api/v1/products/{sku}", allowed: ALL, scoped: false },
    Row { method: "POST", template: "/api/v1/products", allowed: ADMIN, scoped: false },
    Row { method: "PATCH", template: "/api/v1/products/{sku}", allowed: ADMIN, scoped: false },
    Row { method: "GET", template: "/api/v1/availability/{sku}", allowed: ALL, scoped: false },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/stock", allowed: STOCK_READERS, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/stock/{sku}", allowed: STOCK_READERS, scoped: true },
    Row { method: "PUT", template: "/api/v1/stores/{store_id}/stock/{sku}/levels", allowed: MANAGERS, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/reorder-proposals", allowed: MANAGERS, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/reorder-proposals/apply", allowed: MANAGERS, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/sales", allowed: STORE_STAFF, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/sales", allowed: STORE_STAFF, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/sales/{sale_id}", allowed: STORE_STAFF, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/sales/{sale_id}/returns", allowed: STORE_STAFF, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/tills/{till}/sessions", allowed: STORE_STAFF, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/tills/{till}/sessions/current", allowed: STORE_STAFF, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/tills/{till}/sessions/current/close", allowed: STORE_STAFF, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/z-reports", allowed: STORE_STAFF, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/verify", allowed: ADMIN, scoped: true },
    Row { method: "GET", template: "/api/v1/audit/public-key", allowed: PUBLIC, scoped: false },
    Row { method: "POST", template: "/api/v1/webhooks", allowed: ADMIN, scoped: false },
    Row { method: "GET", template: "/api/v1/webhooks", allowed: ADMIN, scoped: false },
    Row { method: "DELETE", template: "/api/v1/webhooks/{id}", allowed: ADMIN, scoped: false },
    Row { method: "GET", template: "/api/v1/webhooks/{id}/deliveries", allowed: ADMIN, scoped: false },
    Row { method: "GET", template: "/api/v1/webhooks/{id}/set-aside", allowed: ADMIN, scoped: false },
    Row { method: "POST", template: "/api/v1/webhooks/{id}/set-aside/resend", allowed: ADMIN, scoped: false },
    Row { method: "GET", template: "/api/v1/reports/taxes", allowed: MANAGERS, scoped: false },
    Row { method: "GET", template: "/api/v1/reports/tenders", allowed: MANAGERS, scoped: false },
    Row { method: "GET", template: "/api/v1/reports/sessions", allowed: MANAGERS, scoped: false },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/approvals", allowed: STORE_STAFF, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/adjustments", allowed: MANAGERS, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/ledger", allowed: MANAGERS, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/restock-requests", allowed: MANAGERS, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/restock-requests", allowed: RESTOCK_READERS, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/restock-requests/{request_id}", allowed: RESTOCK_READERS, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/restock-requests/{request_id}/receive", allowed: MANAGERS, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/restock-requests/{request_id}/cancel", allowed: MANAGERS, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/transfers", allowed: RESTOCK_READERS, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/transfers", allowed: MANAGERS, scoped: true },
    Row { method: "GET", template: "/api/v1/stores/{store_id}/transfers/{transfer_id}", allowed: RESTOCK_READERS, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/transfers/{transfer_id}/ship", allowed: MANAGERS, scoped: true },
    Row { method: "POST", template: "/api/v1/stores/{store_id}/transfers/{transfer_id}/receive", allowed: MANAGERS, scoped: true },
    Row { method: "GET", template: "/api/v1/logistics/stock", allowed: LOGISTICS, scoped: false },
    Row { method: "GET", template: "/api/v1/logistics/stock/{sku}/ledger", allowed: LOGISTICS, scoped: false },
    Row { method: "POST", template: "/api/v1/logistics/receipts", allowed: LOGISTICS, scoped: false },
    Row { method: "GET", template: "/api/v1/logistics/restock-requests", allowed: LOGISTICS, scoped: false },
    Row { method: "POST", template: "/api/v1/logistics/restock-requests/{request_id}/allocate", allowed: LOGISTICS, scoped: false },
    Row { method: "POST", template: "/api/v1/logistics/restock-requests/{request_id}/ship", allowed: LOGISTICS, scoped: false },
    Row { method: "POST", template: "/api/v1/logistics/restock-requests/{request_id}/reject", allowed: LOGISTICS, scoped: false },
    Row { method: "POST", template: "/api/v1/logistics/restock-requests/{request_id}/missing", allowed: LOGISTICS, scoped: false },
    Row { method: "GET", template: "/api/v1/suppliers", allowed: LOGISTICS, scoped: false },
    Row { method: "PUT", template: "/api/v1/suppliers/{code}", allowed: LOGISTICS, scoped: false },
    Row { method: "GET", template: "/api/v1/logistics/purchase-orders", allowed: LOGISTICS, scoped: false },
    Row { method: "POST", template: "/api/v1/logistics/purchase-orders", allowed: LOGISTICS, scoped: false },
    Row { method: "GET", template: "/api/v1/logistics/purchase-orders/{order_id}", allowed: LOGISTICS, scoped: false },
    Row { method: "POST", template: "/api/v1/logistics/purchase-orders/{order_id}/receipts", allowed: LOGISTICS, scoped: false },
    Row { method: "POST", template: "/api/v1/logistics/purchase-orders/{order_id}/receipts/{receipt}/approve", allowed: ADMIN, scoped: false },
    Row { method: "POST", template: "/api/v1/logistics/purchase-orders/{order_id}/receipts/{receipt}/reject", allowed: ADMIN, scoped: false },
    Row { method: "POST", template: "/api/v1/logistics/purchase-orders/{order_id}/close", allowed: LOGISTICS, scoped: false },
    Row { method: "GET", template: "/api/v1/reports/sales", allowed: MANAGERS, scoped: false },
    Row { method: "GET", template: "/api/v1/reports/top-products", allowed: MANAGERS, scoped: false },
    Row { method: "GET", template: "/api/v1/reports/stock", allowed: MANAGERS, scoped: false },
    Row { method: "GET", template: "/api/v1/reports/dashboard", allowed: MANAGERS, scoped: false },
    Row { method: "GET", template: "/api/v1/events", allowed: ALL, scoped: false },
];

#[test]
fn every_route_has_a_row() {
    // The instances' internal API takes no user (tests/api/cluster.rs checks it).
    let declared: BTreeSet<(String, String)> = declared_routes()
        .into_iter()
        .filter(|(_, path)| !path.starts_with("/internal/"))
        .collect();
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.template.to_owned()))
        .collect();
    assert!(
        declared.len() >= 18,
        "routes found in src/http: {declared:?}"
    );
    let missing: Vec<_> = declared.difference(&table).collect();
    let stale: Vec<_> = table.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "routes without a permission row: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for routes that no longer exist: {stale:?}"
    );
}

/// What the matrix needs to exist before it runs, and fresh bodies for each call.
struct Fixture {
    sku: String,
    sale_in: [u64; 2],
    /// Per store (1, 2): a requested request to read, a shipped one to receive, a
    /// requested one to cancel.
    to_read: [String; 2],
    to_receive: [String; 2],
    to_cancel: [String; 2],
    /// In store 1: requested (to allocate and to reject) and allocated (to ship).
    to_allocate: String,
    to_reject: String,
    to_ship: String,
    /// Per store (1, 2): a shipped transfer it sends (to read and ship again), and a
    /// shipped transfer it receives.
    transfers_out: [String; 2],
    transfers_in: [String; 2],
    /// Purchase orders of supplier `QC`: one per route that acts on an order.
    orders: Orders,
    counter: Cell<u32>,
}

/// The order each purchase-order route acts on: receipts go to a large open order; the
/// approval and the refusal each to an order with units beyond it, pending.
struct Orders {
    receive: u64,
    approve: u64,
    reject: u64,
    close: u64,
}

fn purchase_order(app: &TestApp, sku: &str, quantity: u32, received: u32) -> u64 {
    let placed = app.post(
        "/api/v1/logistics/purchase-orders",
        &json!({"supplier": "QC", "lines": [{"sku": sku, "quantity": quantity, "unit_cost_cents": 100}]}),
    );
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    let id = placed.body["id"].as_u64().expect("id");
    if received > 0 {
        let r = app.post(
            &format!("/api/v1/logistics/purchase-orders/{id}/receipts"),
            &json!({"lines": [{"sku": sku, "received": received}]}),
        );
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    id
}

fn orders(app: &TestApp, sku: &str) -> Orders {
    let supplier = app.send_as(
        "PUT",
        None,
        "/api/v1/suppliers/QC",
        &json!({"name": "Fournisseur de la matrice", "lead_time_days": 4}),
    );
    assert_eq!(supplier.status, 201, "{:?}", supplier.body);
    Orders {
        receive: purchase_order(app, sku, 1000, 0),
        approve: purchase_order(app, sku, 1, 2),
        reject: purchase_order(app, sku, 1, 2),
        close: purchase_order(app, sku, 5, 0),
    }
}

/// A transfer of one unit of `sku` from `from` to `to`, shipped.
fn shipped_transfer(app: &TestApp, sku: &str, from: u32, to: u32) -> String {
    let r = app.post(
        &format!("/api/v1/stores/{from}/transfers"),
        &json!({"to_store_id": to, "lines": [{"sku": sku, "quantity": 1}]}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    let r = app.post(
        &format!("/api/v1/stores/{from}/transfers/{id}/ship"),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    id
}

fn restock_request(app: &TestApp, store: u32, steps: &[&str]) -> String {
    let r = app.post(
        &format!("/api/v1/stores/{store}/restock-requests"),
        &json!({"lines": [{"sku": "EPI-0001", "quantity": 1}]}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_owned();
    for step in steps {
        let r = app.post(
            &format!("/api/v1/logistics/restock-requests/{id}/{step}"),
            &json!({}),
        );
        assert_eq!(r.status, 200, "{step}: {:?}", r.body);
    }
    id
}

fn fixture(app: &TestApp) -> Fixture {
    let sku = "EPI-0001".to_owned();
    let mut sale_in = [0; 2];
    for (i, store) in [1u32, 2].iter().enumerate() {
        app.count(*store, &sku, 1000);
        let r = app.post(
            &format!("/api/v1/stores/{store}/sales"),
            &json!({"lines": [{"sku": sku, "quantity": 50}]}),
        );
        assert_eq!(r.status, 201);
        sale_in[i] = r.body["id"].as_u64().expect("sale id");
    }
    let per_store = |steps: &[&str]| {
        [
            restock_request(app, 1, steps),
            restock_request(app, 2, steps),
        ]
    };
    Fixture {
        sku,
        sale_in,
        to_read: per_store(&[]),
        to_receive: per_store(&["allocate", "ship"]),
        to_cancel: per_store(&[]),
        to_allocate: restock_request(app, 1, &[]),
        to_reject: restock_request(app, 1, &[]),
        to_ship: restock_request(app, 1, &["allocate"]),
        transfers_out: [
            shipped_transfer(app, "EPI-0001", 1, 2),
            shipped_transfer(app, "EPI-0001", 2, 1),
        ],
        transfers_in: [
            shipped_transfer(app, "EPI-0001", 2, 1),
            shipped_transfer(app, "EPI-0001", 1, 2),
        ],
        orders: orders(app, "EPI-0001"),
        counter: Cell::new(0),
    }
}

impl Fixture {
    fn next(&self) -> u32 {
        self.counter.set(self.counter.get() + 1);
        self.counter.get()
    }

    /// A concrete path and a valid body for `row` on `store`.
    fn request(&self, app: &TestApp, row: &Row, store: u32) -> (String, Value) {
        let n = self.next();
        let sale = self.sale_in[if store == 1 { 0 } else { 1 }];
        let mut path = row
            .template
            .replace("{store_id}", &store.to_string())
            .replace("{sku}", &self.sku)
            .replace("{sale_id}", &sale.to_string())
            .replace("{file}", "app.js")
            .replace("{code}", "QC");
        let at = if store == 1 { 0 } else { 1 };
        let request = match row.template {
            t if t.ends_with("/receive") => &self.to_receive[at],
            t if t.ends_with("/cancel") => &self.to_cancel[at],
            t if t.ends_with("/allocate") => &self.to_allocate,
            t if t.ends_with("/ship") => &self.to_ship,
            t if t.ends_with("/reject") => &self.to_reject,
            _ => &self.to_read[at],
        };
        path = path.replace("{request_id}", request);
        let transfer = if row.template.ends_with("/transfers/{transfer_id}/receive") {
            &self.transfers_in[at]
        } else {
            &self.transfers_out[at]
        };
        path = path.replace("{transfer_id}", transfer);
        let order = match row.template {
            t if t.ends_with("/approve") => self.orders.approve,
            t if t.ends_with("/reject") => self.orders.reject,
            t if t.ends_with("/close") => self.orders.close,
            _ => self.orders.receive,
        };
        path = path
            .replace("{order_id}", &order.to_string())
            .replace("{receipt}", "1");
        if path.contains("{till}") {
            // Till 1 of the store, closed before an opening, open before anything else.
            let opening = row.method == "POST" && row.template.ends_with("/sessions");
            till_state(app, store, !opening);
            path = path.replace("{till}", "1");
        }
        if path.contains("{id}") {
            let hook = app.post(
                "/api/v1/webhooks",
                &json!({"url": "https://203.0.114.9/hook", "events": ["*"]}),
            );
            assert_eq!(hook.status, 201, "{:?}", hook.body);
            path = path.replace("{id}", &hook.body["id"].to_string());
        }
        if path.contains("{username}") {
            let victim = format!("victime{n}");
            let created = app.post(
                "/api/v1/users",
                &json!({"username": victim, "password": "motdepasse", "role": "logistics"}),
            );
            assert_eq!(created.status, 201, "{:?}", created.body);
            path = path.replace("{username}", &victim);
        }
        let body = match (row.method, row.template) {
            ("POST", "/api/v1/auth/login") => json!({"username": "caissier1", "password": "demo"}),
            ("POST", t) if t.ends_with("/resend") => json!({}),
            ("POST", "/api/v1/webhooks") => {
                json!({"url": "https://203.0.114.9/hook", "events": ["sale_recorded"]})
            }
            // A user of its own each time: the change ends the user's other sessions.
            ("POST", "/api/v1/auth/password") => {
                let user = format!("change{n}");
                let created = app.post(
                    "/api/v1/users",
                    &json!({"username": user, "password": "motdepasse", "role": "logistics"}),
                );
                assert_eq!(created.status, 201, "{:?}", created.body);
                json!({"username": user, "current_password": "motdepasse", "new_password": "autre-mot-de-passe"})
            }
            ("POST", "/api/v1/users") => {
                json!({"username": format!("nouveau{n}"), "password": "motdepasse", "role": "cashier", "store_id": 1})
            }
            ("POST", "/api/v1/stores") => {
                json!({"code": format!("NEW-{n}"), "name": "Nouveau", "city": "Lévis"})
            }
            ("POST", "/api/v1/products") => json!({
                "sku": format!("MAT-{n:04}"), "ean13": ean13(&format!("2100000{n:05}")),
                "name": "Produit de la matrice", "category": "Matrice", "price_cents": 100,
                "tax_class": "taxable"
            }),
            ("PATCH", "/api/v1/products/{sku}") => json!({"price_cents": 300 + n}),
            ("PATCH", "/api/v1/stores/{store_id}") => json!({"approval_percent": 20 + n % 5}),
            ("PATCH", "/api/v1/users/{username}") => json!({"role": "manager", "store_id": 1}),
            ("PUT", "/api/v1/jurisdictions/{code}") => json!({
                "name": "Québec", "time_zone": "America/Toronto",
                "rates": [{"code": "GST", "rate": "5", "from": "2008-01-01"},
                          {"code": "QST", "rate": "9.975", "from": "2013-01-01"}],
            }),
            ("POST", t) if t.ends_with("/reorder-proposals/apply") => json!({"all": true}),
            ("PUT", t) if t.ends_with("/levels") => {
                json!({"reorder_point": n, "target_level": 2 * n})
            }
            ("POST", t) if t.ends_with("/returns") => {
                json!({"lines": [{"sku": self.sku, "quantity": 1}]})
            }
            ("POST", t) if t.ends_with("/sales") => {
                json!({"lines": [{"sku": self.sku, "quantity": 1}]})
            }
            ("PUT", "/api/v1/suppliers/{code}") => {
                json!({"name": format!("Fournisseur {n}"), "lead_time_days": 4})
            }
            ("POST", "/api/v1/logistics/purchase-orders") => json!({
                "supplier": "QC",
                "lines": [{"sku": self.sku, "quantity": 3, "unit_cost_cents": 250}],
            }),
            ("POST", "/api/v1/logistics/purchase-orders/{order_id}/receipts") => {
                json!({"lines": [{"sku": self.sku, "received": 1}]})
            }
            ("POST", t) if t.ends_with("/restock-requests") || t.ends_with("/receipts") => {
                json!({"lines": [{"sku": self.sku, "quantity": 1}]})
            }
            ("POST", t) if t.ends_with("/reject") => json!({"reason": "matrice"}),
            ("POST", t) if t.ends_with("/transfers") => json!({
                "to_store_id": if store == 1 { 2 } else { 1 },
                "lines": [{"sku": self.sku, "quantity": 1}],
            }),
            ("POST", t) if t.ends_with("/missing") => {
                json!({"sku": self.sku, "outcome": "lost"})
            }
            ("POST", t) if t.ends_with("/sessions") => json!({"float_cents": 10_000}),
            ("POST", t) if t.ends_with("/close") => json!({"counted_cash_cents": 10_000}),
            ("POST", t) if t.ends_with("/approvals") => {
                json!({"username": "admin", "password": "demo"})
            }
            ("POST", t) if t.ends_with("/adjustments") => {
                json!({"reason": "matrice", "lines": [{"sku": self.sku, "delta": 1}]})
            }
            _ => Value::Null,
        };
        (path, body)
    }
}

/// Puts till 1 of `store` in the state asked (open with a float of 100.00 $ and nothing
/// sold, or closed), as the admin.
fn till_state(app: &TestApp, store: u32, open: bool) {
    let base = format!("/api/v1/stores/{store}/tills/1/sessions");
    let is_open = app.get(&format!("{base}/current")).status == 200;
    if is_open && !open {
        let closed = app.post(
            &format!("{base}/current/close"),
            &json!({"counted_cash_cents": 10_000}),
        );
        assert_eq!(closed.status, 201, "{:?}", closed.body);
    }
    if !is_open && open {
        let opened = app.post(&base, &json!({"float_cents": 10_000}));
        assert_eq!(opened.status, 201, "{:?}", opened.body);
    }
}

fn expected(row: &Row, role: Option<&str>, store_role_other_store: bool) -> u16 {
    // POSTs that create answer 201; the ones that act on something existing answer 200.
    let acts = [
        "/login",
        "/password",
        "/reset-password",
        "/deactivate",
        "/reactivate",
        "/allocate",
        "/ship",
        "/reject",
        "/receive",
        "/cancel",
        "/resend",
        "/apply",
        "/missing",
        "/approve",
        "/purchase-orders/{order_id}/close",
    ];
    let success = if row.method == "POST" && !acts.iter().any(|a| row.template.ends_with(a)) {
        201
    } else {
        200
    };
    let success = if row.method == "DELETE" { 204 } else { success };
    if row.allowed.is_empty() {
        return success;
    }
    match role {
        None => 401,
        Some(role) if !row.allowed.contains(&role) => 403,
        Some(_) if row.scoped && store_role_other_store => 403,
        Some(_) => success,
    }
}

#[test]
fn every_route_answers_every_role_as_the_table_says() {
    let app = spawn_app();
    let fixture = fixture(&app);
    let users = [
        (None, None, false),
        (Some("cashier"), Some(app.login("caissier1")), true),
        (Some("manager"), Some(app.login("gestionnaire1")), true),
        (Some("logistics"), Some(app.login("logistique")), false),
        (Some("admin"), app.admin.clone(), false),
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in ROUTES {
        for (role, token, store_role) in &users {
            // Own store is 1 (where the store roles work), other store is 2.
            for store in [1u32, 2] {
                let (path, body) = fixture.request(&app, row, store);
                let reply = match (row.method, token) {
                    ("GET", Some(t)) => app.get_as(Some(t), &path),
                    ("GET", None) => app.get_with_headers(&path, &[]),
                    ("PATCH" | "PUT" | "DELETE", Some(t)) => {
                        app.send_as(row.method, Some(t), &path, &body)
                    }
                    ("PATCH" | "PUT" | "DELETE", None) => {
                        app.send_anonymous(row.method, &path, &body)
                    }
                    (_, Some(t)) => app.post_as(Some(t), &path, &body),
                    (_, None) => app.post_anonymous(&path, &body),
                };
                let want = expected(row, *role, *store_role && store == 2);
                checked += 1;
                let [nosniff, referrer, cache, csp] = &reply.security;
                let api = path.starts_with("/api/");
                let page = reply.content_type.starts_with("text/html");
                if nosniff.as_deref() != Some("nosniff")
                    || referrer.as_deref() != Some("no-referrer")
                    || (api && cache.as_deref() != Some("no-store"))
                    || (page
                        && !csp
                            .as_deref()
                            .is_some_and(|c| c.contains("frame-ancestors 'none'")))
                {
                    failures.push(format!(
                        "{} {path}: security headers {:?}",
                        row.method, reply.security
                    ));
                }
                if reply.status != want {
                    failures.push(format!(
                        "{} {path} as {:?}: got {} want {want} ({})",
                        row.method,
                        role.unwrap_or("anonymous"),
                        reply.status,
                        reply.body["code"]
                    ));
                }
                if reply.status == 403 {
                    let code = reply.body["code"].as_str().unwrap_or_default();
                    let want_code = if row.allowed.contains(&role.unwrap_or_default()) {
                        "forbidden_store"
                    } else {
                        "forbidden"
                    };
                    if code != want_code {
                        failures.push(format!(
                            "{} {path} as {role:?}: code {code}, want {want_code}",
                            row.method
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked, ROUTES.len() * 5 * 2);
}

fn assert_unauthorized(reply: &crate::helpers::Reply, code: &str) {
    assert_problem(reply, 401, code);
    let challenge = reply.www_authenticate.as_deref().unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer"),
        "WWW-Authenticate: {challenge:?}"
    );
}

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn bad_tokens_are_401_with_a_bearer_challenge() {
    let app = spawn_app();
    let path = "/api/v1/stores";
    assert_unauthorized(&app.get_with_headers(path, &[]), "unauthenticated");
    assert_unauthorized(
        &app.get_with_headers(path, &[("Authorization", "Bearer garbage")]),
        "invalid_token",
    );
    assert_unauthorized(
        &app.get_with_headers(path, &[("Authorization", "Basic YWRtaW46ZGVtbw==")]),
        "invalid_token",
    );

    let token = app.login("admin");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    // Wrong signature: the same header and claims, signed by someone else.
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        b64(b"not the signature of this token!")
    );
    assert_unauthorized(
        &app.get_with_headers(path, &[("Authorization", &format!("Bearer {tampered}"))]),
        "invalid_token",
    );
    // Claims edited to another user, original signature kept.
    let claims =
        r#"{"sub":"admin2","role":"admin","store_id":null,"iat":0,"exp":99999999999,"jti":"x"}"#;
    let edited = format!("{}.{}.{}", parts[0], b64(claims.as_bytes()), parts[2]);
    assert_unauthorized(
        &app.get_with_headers(path, &[("Authorization", &format!("Bearer {edited}"))]),
        "invalid_token",
    );
    // alg: none, no signature.
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    assert_unauthorized(
        &app.get_with_headers(path, &[("Authorization", &format!("Bearer {none}"))]),
        "invalid_token",
    );
    // Expired: the server's own key is random in demo mode, so use the unit-tested path:
    // a token whose exp is in the past fails validation (see auth::token tests); here,
    // an HS256 token with a past exp and a wrong key must fail too.
    let expired_claims =
        r#"{"sub":"admin","role":"admin","store_id":null,"iat":1,"exp":2,"jti":"x"}"#;
    let expired = format!(
        "{}.{}.{}",
        parts[0],
        b64(expired_claims.as_bytes()),
        parts[2]
    );
    assert_unauthorized(
        &app.get_with_headers(path, &[("Authorization", &format!("Bearer {expired}"))]),
        "invalid_token",
    );
    // And the genuine token works.
    assert_eq!(
        app.get_with_headers(path, &[("Authorization", &format!("Bearer {token}"))])
            .status,
        200
    );
}

#[test]
fn a_deactivated_users_tokens_stop_working_at_once() {
    let app = spawn_app();
    let created = app.post(
        "/api/v1/users",
        &json!({"username": "caissier9", "password": "un-bon-mot-de-passe", "role": "cashier", "store_id": 3}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let login = app.post_anonymous(
        "/api/v1/auth/login",
        &json!({"username": "caissier9", "password": "un-bon-mot-de-passe"}),
    );
    assert_eq!(login.status, 200);
    assert_eq!(
        login.body["user"],
        json!({"username": "caissier9", "role": "cashier", "store_id": 3})
    );
    assert!(
        login.body["expires_at"]
            .as_str()
            .expect("expiry")
            .ends_with('Z')
    );
    let token = login.body["token"].as_str().expect("token").to_owned();
    assert_eq!(
        app.get_as(Some(&token), "/api/v1/stores/3/stock?per_page=1")
            .status,
        200
    );

    let off = app.post("/api/v1/users/caissier9/deactivate", &json!({}));
    assert_eq!(off.status, 200);
    assert_eq!(off.body["active"], false);
    assert_unauthorized(
        &app.get_as(Some(&token), "/api/v1/stores/3/stock?per_page=1"),
        "invalid_token",
    );
    let again = app.post_anonymous(
        "/api/v1/auth/login",
        &json!({"username": "caissier9", "password": "un-bon-mot-de-passe"}),
    );
    assert_problem(&again, 401, "invalid_credentials");
}

#[test]
fn users_are_listed_without_password_hashes_and_validated() {
    let app = spawn_app();
    let list = app.get("/api/v1/users");
    assert_eq!(list.status, 200);
    let text = list.body.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("password_hash"),
        "{text}"
    );
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    for demo in [
        "admin",
        "caissier1",
        "caissier2",
        "gestionnaire1",
        "logistique",
    ] {
        assert!(names.contains(&demo), "{demo} in {names:?}");
    }

    let bad = app.post(
        "/api/v1/users",
        &json!({"username": "X", "password": "court", "role": "chef"}),
    );
    assert_problem(&bad, 400, "validation_failed");
    assert_eq!(error_fields(&bad), vec!["username", "role", "password"]);
    let no_store = app.post(
        "/api/v1/users",
        &json!({"username": "caissier8", "password": "motdepasse", "role": "cashier"}),
    );
    assert_problem(&no_store, 400, "validation_failed");
    let taken = app.post(
        "/api/v1/users",
        &json!({"username": "admin", "password": "motdepasse", "role": "admin"}),
    );
    assert_problem(&taken, 409, "username_taken");
    assert_problem(
        &app.post("/api/v1/users/personne/deactivate", &json!({})),
        404,
        "user_not_found",
    );
}

#[test]
fn sales_record_who_made_them() {
    let app = spawn_app();
    let cashier = app.login("caissier2");
    app.count(2, "EPI-0001", 10);
    let sale = app.post_as(
        Some(&cashier),
        "/api/v1/stores/2/sales",
        &json!({"lines": [{"sku": "EPI-0001", "quantity": 1}]}),
    );
    assert_eq!(sale.status, 201);
    assert_eq!(sale.body["by"], "caissier2");
    let id = sale.body["id"].as_u64().expect("id");
    let ret = app.post_as(
        Some(&cashier),
        &format!("/api/v1/stores/2/sales/{id}/returns"),
        &json!({"lines": [{"sku": "EPI-0001", "quantity": 1}]}),
    );
    assert_eq!(ret.body["by"], "caissier2");
    let ledger = app.get("/api/v1/stores/2/ledger?limit=1000");
    let last = ledger.body["items"]
        .as_array()
        .expect("items")
        .last()
        .cloned()
        .expect("an entry");
    assert_eq!(last["by"], "caissier2");
}

#[test]
fn the_sixth_failed_login_is_refused_with_retry_after_even_with_the_right_password() {
    let app = spawn_app();
    let wrong = json!({"username": "caissier1", "password": "mauvais"});
    for attempt in 1..=5 {
        let r = app.post_anonymous("/api/v1/auth/login", &wrong);
        assert_problem(&r, 401, "invalid_credentials");
        assert!(r.retry_after.is_none(), "attempt {attempt}");
    }
    let sixth = app.post_anonymous("/api/v1/auth/login", &wrong);
    assert_problem(&sixth, 429, "too_many_attempts");
    let wait: u64 = sixth
        .retry_after
        .as_deref()
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(wait > 14 * 60 && wait <= 15 * 60, "Retry-After {wait}");
    let right = app.post_anonymous(
        "/api/v1/auth/login",
        &json!({"username": "caissier1", "password": "demo"}),
    );
    assert_problem(&right, 429, "too_many_attempts");
    // Another user from the same address is not locked.
    assert_eq!(
        app.post_anonymous(
            "/api/v1/auth/login",
            &json!({"username": "caissier2", "password": "demo"})
        )
        .status,
        200
    );
}

#[test]
fn unknown_users_and_wrong_passwords_get_the_same_answer() {
    let app = spawn_app();
    let unknown = app.post_anonymous(
        "/api/v1/auth/login",
        &json!({"username": "personne", "password": "demo"}),
    );
    let wrong = app.post_anonymous(
        "/api/v1/auth/login",
        &json!({"username": "admin", "password": "pas-demo"}),
    );
    assert_problem(&unknown, 401, "invalid_credentials");
    // The same answer but for the request's own id.
    let without_instance = |mut body: Value| {
        body.as_object_mut().map(|o| o.remove("instance"));
        body
    };
    assert_eq!(without_instance(unknown.body), without_instance(wrong.body));
}

#[test]
fn outside_demo_mode_the_server_refuses_to_start_without_a_strong_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (secret, complaint) in [
        (None, "MAGASIN_JWT_SECRET"),
        (Some("trop-court"), "at least 32 bytes"),
    ] {
        let mut command = crate::process::command(dir.path());
        command.arg("--no-demo-data");
        if let Some(secret) = secret {
            command.env("MAGASIN_JWT_SECRET", secret);
        }
        let stderr = crate::process::refused(command);
        assert!(stderr.contains(complaint), "stderr: {stderr}");
    }
    let mut command = crate::process::command(dir.path());
    command
        .arg("--no-demo-data")
        .env("MAGASIN_JWT_SECRET", "x".repeat(32));
    let server = crate::process::start(command);
    let answer = ureq::get(&format!("{}/api/v1/stores", server.base)).call();
    assert!(
        matches!(answer, Err(ureq::Error::Status(401, _))),
        "the API is closed"
    );
    assert!(server.terminate());
}

#[test]
fn passwords_and_hashes_never_reach_the_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("a log file");
    let mut command = crate::process::command(&dir.path().join("data"));
    command.stderr(log).env("RUST_LOG", "trace");
    let server = crate::process::start(command);
    let login = |password: &str| {
        ureq::post(&format!("{}/api/v1/auth/login", server.base))
            .send_json(json!({"username": "gestionnaire1", "password": password}))
            .is_ok()
    };
    assert!(!login("S3cret-jamais-dans-le-journal"));
    assert!(login("demo"));
    assert!(server.terminate());
    let text = std::fs::read_to_string(&log_path).expect("the log");
    assert!(
        text.contains("failed login"),
        "the failure itself is logged"
    );
    assert!(
        !text.contains("S3cret-jamais-dans-le-journal"),
        "a password reached the log"
    );
    assert!(!text.contains("\"demo\""), "a password reached the log");
    assert!(!text.contains("$argon2"), "a hash reached the log");
}

#[test]
fn a_chain_without_users_gets_its_first_administrator_from_the_environment_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let serve = |password: &str| {
        let mut command = crate::process::command(dir.path());
        command
            .arg("--no-demo-data")
            .env("MAGASIN_JWT_SECRET", "s".repeat(32))
            .env("MAGASIN_BOOTSTRAP_ADMIN_PASSWORD", password);
        command
    };
    // A password the rules refuse: the server says which variable, and does not start.
    let stderr = crate::process::refused(serve("court"));
    assert!(
        stderr.contains("MAGASIN_BOOTSTRAP_ADMIN_PASSWORD"),
        "stderr: {stderr}"
    );

    let login = |base: &str, password: &str| -> (u16, serde_json::Value) {
        match ureq::post(&format!("{base}/api/v1/auth/login"))
            .send_json(json!({"username": "admin", "password": password}))
        {
            Ok(r) => (r.status(), r.into_json().unwrap_or_default()),
            Err(ureq::Error::Status(status, r)) => (status, r.into_json().unwrap_or_default()),
            Err(e) => panic!("login: {e}"),
        }
    };
    // As a secret mounted from a file gives it: with a final newline, never typed.
    let server = crate::process::start(serve("premier-mot-de-passe\n"));
    let (status, body) = login(&server.base, "premier-mot-de-passe");
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("a token").to_owned();
    let users: serde_json::Value = ureq::get(&format!("{}/api/v1/users", server.base))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("the administrator lists the users")
        .into_json()
        .expect("json");
    let names: Vec<(&str, &str)> = users["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap_or_default(),
                u["role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(names, vec![("admin", "admin")]);
    assert_eq!(login(&server.base, "demo").0, 401, "no demo user");
    assert!(server.terminate());

    // Users exist now: another password in the variable changes nothing.
    let server = crate::process::start(serve("un-autre-mot-de-passe"));
    assert_eq!(login(&server.base, "un-autre-mot-de-passe").0, 401);
    assert_eq!(login(&server.base, "premier-mot-de-passe").0, 200);
    assert!(server.terminate());
}

#[test]
fn the_last_active_administrator_cannot_be_deactivated() {
    let app = spawn_app();
    let alone = app.post("/api/v1/users/admin/deactivate", &json!({}));
    assert_problem(&alone, 409, "last_administrator");
    assert_eq!(
        app.get("/api/v1/users").status,
        200,
        "the admin still signs in"
    );
    let second = app.post(
        "/api/v1/users",
        &json!({"username": "siege2", "password": "motdepasse", "role": "admin"}),
    );
    assert_eq!(second.status, 201, "{:?}", second.body);
    let off = app.post("/api/v1/users/admin/deactivate", &json!({}));
    assert_eq!(
        off.status, 200,
        "another administrator remains: {:?}",
        off.body
    );
    let token = app.login_as("siege2", "motdepasse");
    let last = app.post_as(Some(&token), "/api/v1/users/siege2/deactivate", &json!({}));
    assert_problem(&last, 409, "last_administrator");
    let demoted = app.patch_as(
        Some(&token),
        "/api/v1/users/siege2",
        &json!({"role": "cashier", "store_id": 1}),
    );
    assert_problem(&demoted, 409, "last_administrator");
    // Reactivated, the first administrator signs in again and siege2 may become a manager.
    let back = app.post_as(Some(&token), "/api/v1/users/admin/reactivate", &json!({}));
    assert_eq!(
        (back.status, back.body["active"].clone()),
        (200, json!(true))
    );
    // The deactivation ended the first administrator's sessions: a new login is needed.
    assert_problem(&app.get("/api/v1/users"), 401, "invalid_token");
    let admin = app.login("admin");
    let manager = app.patch_as(
        Some(&token),
        "/api/v1/users/siege2",
        &json!({"role": "manager", "store_id": 1}),
    );
    assert_eq!(
        (manager.status, manager.body["role"].clone()),
        (200, json!("manager"))
    );
    let scope = app.patch_as(
        Some(&admin),
        "/api/v1/users/caissier1",
        &json!({"role": "admin", "store_id": 1}),
    );
    assert_problem(&scope, 400, "validation_failed");
}
