//! The idempotency window over HTTP, as the README's « Retries and Idempotency-Key » and
//! ADR 0028 state it: within the window every write that takes an `Idempotency-Key`
//! answers a retry with what it made (`Idempotent-Replayed: true`) and another body under
//! the key with 422 `idempotency_key_reused`, before and after a restart; after it, the key
//! is new again and the request is decided as a new write. The window is set through the
//! settings (`[idempotency] retention_hours`), seconds long where the test waits it out.

use crate::helpers::{Reply, TestApp, assert_problem, settings, start};
use magasin::config::Settings;
use magasin::domain::KeyRetention;
use magasin::persistence::Backend;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const SKU: &str = "EPI-0001";
const OTHER_SKU: &str = "LAI-0001";

/// The demo chain in `dir`, remembering keys for `window_ms`.
fn with_window(dir: &Path, window_ms: i64) -> Settings {
    let mut settings = settings(dir, Backend::Sqlite, true);
    settings.idempotency.retention =
        KeyRetention::from_millis(window_ms).expect("a window within the bounds");
    settings
}

/// One write that takes a key: where it goes, its key, its body, another body, and the
/// field of the answer that names what it made (a sale's id, a session's number, …).
struct Keyed {
    path: String,
    key: &'static str,
    body: Value,
    other: Value,
    made: &'static str,
}

impl Keyed {
    fn new(path: &str, key: &'static str, body: Value, other: Value, made: &'static str) -> Self {
        Self {
            path: path.to_owned(),
            key,
            body,
            other,
            made,
        }
    }

    fn send(&self, app: &TestApp) -> Reply {
        app.post_with_key(&self.path, self.key, &self.body)
    }

    fn send_other(&self, app: &TestApp) -> Reply {
        app.post_with_key(&self.path, self.key, &self.other)
    }

    /// Sends the write as new (201, not a replay) and answers what it made.
    fn done(&self, app: &TestApp) -> Value {
        let reply = self.send(app);
        self.is_new(&reply)
    }

    fn is_new(&self, reply: &Reply) -> Value {
        assert_eq!(
            (reply.status, reply.replayed),
            (201, false),
            "{} under {}: {:?}",
            self.path,
            self.key,
            reply.body
        );
        let made = reply.body[self.made].clone();
        assert!(
            !made.is_null(),
            "{}: no {} in {:?}",
            self.path,
            self.made,
            reply.body
        );
        made
    }

    /// A retry answers what the first write made, marked as a replay; another body under
    /// the key is refused.
    fn replays(&self, app: &TestApp, made: &Value) {
        let again = self.send(app);
        assert_eq!(
            (again.status, again.replayed),
            (201, true),
            "{} under {}: {:?}",
            self.path,
            self.key,
            again.body
        );
        assert_eq!(&again.body[self.made], made, "{}", self.path);
        assert_problem(&self.send_other(app), 422, "idempotency_key_reused");
    }
}

fn sale(key: &'static str, sku: &str, quantity: i64) -> Keyed {
    Keyed::new(
        "/api/v1/stores/1/sales",
        key,
        json!({"lines": [{"sku": sku, "quantity": quantity}]}),
        json!({"lines": [{"sku": sku, "quantity": quantity + 1}]}),
        "id",
    )
}

fn sale_return(sale_id: &Value, key: &'static str) -> Keyed {
    Keyed::new(
        &format!("/api/v1/stores/1/sales/{sale_id}/returns"),
        key,
        json!({"lines": [{"sku": SKU, "quantity": 1}]}),
        json!({"lines": [{"sku": SKU, "quantity": 2}]}),
        "id",
    )
}

fn adjustment(key: &'static str) -> Keyed {
    Keyed::new(
        "/api/v1/stores/1/adjustments",
        key,
        json!({"reason": "casse", "lines": [{"sku": OTHER_SKU, "delta": -1}]}),
        json!({"reason": "casse", "lines": [{"sku": OTHER_SKU, "delta": -2}]}),
        "id",
    )
}

fn restock(key: &'static str) -> Keyed {
    Keyed::new(
        "/api/v1/stores/1/restock-requests",
        key,
        json!({"lines": [{"sku": OTHER_SKU, "quantity": 4}]}),
        json!({"lines": [{"sku": OTHER_SKU, "quantity": 5}]}),
        "id",
    )
}

fn opening(till: u32, key: &'static str) -> Keyed {
    Keyed::new(
        &format!("/api/v1/stores/1/tills/{till}/sessions"),
        key,
        json!({"float_cents": 20_000}),
        json!({"float_cents": 15_000}),
        "session",
    )
}

/// Closing a session whose float was 200.00 $ and that took no cash.
fn closing(till: u32, key: &'static str) -> Keyed {
    Keyed::new(
        &format!("/api/v1/stores/1/tills/{till}/sessions/current/close"),
        key,
        json!({"counted_cash_cents": 20_000}),
        json!({"counted_cash_cents": 19_000, "reason": "erreur de caisse"}),
        "z_number",
    )
}

/// A logistics receipt of 40 units of [`SKU`].
fn supplier_receipt(app: &TestApp, key: &str) {
    let reply = app.post_with_key(
        "/api/v1/logistics/receipts",
        key,
        &json!({"lines": [{"sku": SKU, "quantity": 40}]}),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
}

fn central_on_hand(app: &TestApp) -> i64 {
    let reply = app.get(&format!("/api/v1/logistics/stock?q={SKU}"));
    assert_eq!(reply.body["items"][0]["sku"], SKU, "{:?}", reply.body);
    reply.body["items"][0]["on_hand"]
        .as_i64()
        .expect("on_hand is a number")
}

#[test]
fn within_the_window_every_keyed_write_replays_also_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Ten minutes: longer than the test, which never waits for it.
    let settings = with_window(dir.path(), 600_000);
    let app = start(settings.clone());
    app.count(1, SKU, 50);
    app.count(1, OTHER_SKU, 50);
    // Till 2 is opened without a key and closed with one; till 1, opened with a key, stays
    // open (the retry of an opening answers the session it opened while it is open).
    let till_2 = app.post(
        "/api/v1/stores/1/tills/2/sessions",
        &json!({"float_cents": 20_000}),
    );
    assert_eq!(till_2.status, 201, "{:?}", till_2.body);

    let sold = sale("vente-1", SKU, 2);
    let sale_id = sold.done(&app);
    let writes = [
        sold,
        sale_return(&sale_id, "retour-1"),
        adjustment("ajustement-1"),
        restock("reappro-1"),
        opening(1, "ouverture-1"),
        closing(2, "fermeture-2"),
    ];
    let mut made = vec![sale_id];
    made.extend(writes[1..].iter().map(|write| write.done(&app)));
    for (write, made) in writes.iter().zip(&made) {
        write.replays(&app, made);
    }
    let stock = (app.on_hand(1, SKU), app.on_hand(1, OTHER_SKU));
    assert_eq!(stock, (50 - 2 + 1, 50 - 1), "each write counted once");
    let sales = app.sales(1).body;
    assert_eq!(sales["total"], 1);

    // A logistics receipt is counted once per product for good (ADR 0028).
    let central = central_on_hand(&app);
    supplier_receipt(&app, "bon-1");
    supplier_receipt(&app, "bon-1");
    assert_eq!(central_on_hand(&app), central + 40);

    app.stop();
    let app = start(settings);
    for (write, made) in writes.iter().zip(&made) {
        write.replays(&app, made);
    }
    assert_eq!((app.on_hand(1, SKU), app.on_hand(1, OTHER_SKU)), stock);
    assert_eq!(app.sales(1).body["total"], 1);
    supplier_receipt(&app, "bon-1");
    assert_eq!(central_on_hand(&app), central + 40);
}

#[test]
fn after_the_window_a_key_is_new_again_and_the_request_a_new_write() {
    const WINDOW_MS: i64 = 3_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = with_window(dir.path(), WINDOW_MS);
    let app = start(settings.clone());
    app.count(1, SKU, 50);
    app.count(1, OTHER_SKU, 50);

    // Within the window: each write once, its retry a replay.
    let open = opening(1, "ouverture-1");
    let session = open.done(&app);
    open.replays(&app, &session);
    let close = closing(1, "fermeture-1");
    let z = close.done(&app);
    close.replays(&app, &z);
    // A sale the till took offline an hour ago (longer ago than the window), in the session
    // it has closed since: its key is remembered from when the server recorded it.
    let captured = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let offline = Keyed::new(
        "/api/v1/stores/1/sales",
        "hors-ligne-1",
        json!({
            "till": 1, "session": 1, "receipt_number": "1-01-000001",
            "captured_offline_at": captured.to_string(),
            "lines": [{"sku": OTHER_SKU, "quantity": 1}],
            "tenders": [{"type": "cash", "amount_cents": 10_000}],
        }),
        Value::Null,
        "id",
    );
    let offline_id = offline.done(&app);
    let again = offline.send(&app);
    assert_eq!(
        (again.status, again.replayed),
        (201, true),
        "{:?}",
        again.body
    );
    assert_eq!(again.body["id"], offline_id);
    let sold = sale("vente-1", SKU, 2);
    let sale_id = sold.done(&app);
    sold.replays(&app, &sale_id);
    let reused = sale("vente-2", SKU, 1);
    let reused_id = reused.done(&app);
    let after_restart = sale("vente-3", SKU, 1);
    let before_restart = after_restart.done(&app);
    let writes = [
        sale_return(&sale_id, "retour-1"),
        adjustment("ajustement-1"),
        restock("reappro-1"),
    ];
    let made: Vec<Value> = writes.iter().map(|write| write.done(&app)).collect();
    for (write, made) in writes.iter().zip(&made) {
        write.replays(&app, made);
    }
    let central = central_on_hand(&app);
    supplier_receipt(&app, "bon-1");
    assert_eq!(central_on_hand(&app), central + 40);
    let on_hand = app.on_hand(1, SKU);
    assert_eq!(on_hand, 50 - 2 - 1 - 1 + 1);

    // Every key above was used before now: a second past the window, each is new again.
    let used = Instant::now();
    std::thread::sleep(Duration::from_millis(WINDOW_MS as u64 + 1_000));
    assert!(used.elapsed() > Duration::from_millis(WINDOW_MS as u64));

    // The opening opens a new session (the first is closed), the closing closes it.
    assert_ne!(open.done(&app), session);
    assert_ne!(close.done(&app), z);
    // The offline sale is decided again, and refused: its receipt number is taken.
    assert_problem(&offline.send(&app), 409, "receipt_out_of_sequence");
    // The sale is sold again, and a key reused with another body is a new sale too.
    assert_ne!(sold.done(&app), sale_id);
    assert_ne!(reused.is_new(&reused.send_other(&app)), reused_id);
    // The return takes the sale's second unit; the adjustment and the restock request are
    // made again.
    for (write, made) in writes.iter().zip(&made) {
        assert_ne!(&write.done(&app), made, "{}", write.path);
    }
    assert_eq!(app.on_hand(1, SKU), on_hand - 2 - 2 + 1);
    // A logistics receipt stays counted once (ADR 0028).
    supplier_receipt(&app, "bon-1");
    assert_eq!(central_on_hand(&app), central + 40);

    // A restart does not bring a key back from before the window.
    app.stop();
    let app = start(settings);
    assert_ne!(after_restart.done(&app), before_restart);
}
