//! What the previous release (commit 9633466) wrote (`tests/fixtures/v3/`, written through the
//! API by the last version whose chain snapshot was in version 3 and whose products' central
//! stock was in version 2: a webhook, a user's role changed, a restock of store 1 with one
//! unit missing at its receipt and settled as lost) is still read: the two snapshots record by
//! record, and the whole data directory, which starts on this version and takes a purchase
//! order.

use std::path::{Path, PathBuf};

use crate::helpers::{TestApp, settings, start};
use magasin::domain::{
    CentralEvent, CentralStock, ChainEvent, ChainState, MissingOutcome, RestockId, Role, StoreId,
    UserChangeKind, Username,
};
use magasin::persistence::codec::{self, CENTRAL_SNAPSHOT_VERSION, CHAIN_SNAPSHOT_VERSION};
use magasin::persistence::{Backend, Snapshot};
use serde_json::{Value, json};

/// The product store 1 asked for: 5 units allocated and shipped, 4 received, 1 lost.
const SKU: &str = "EPI-0002";
/// The demo's opening stock of it at the center, before the restock.
const OPENING: u32 = 613;
/// What the center has of it after the restock: the opening stock less the 5 shipped.
const AFTER_RESTOCK: u32 = OPENING - 5;
const WEBHOOK_URL: &str = "https://203.0.114.9/hook";
/// The chain's snapshot, written at the graceful stop.
const CHAIN_RECORD: &str = "chain-snapshot-00256.bin";
/// The product's stream, and its snapshot written at the graceful stop.
const PRODUCT_STREAM: &str = "product/EPI-0002";
const PRODUCT_RECORD: &str = "product-EPI-0002-snapshot-00005.bin";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v3")
}

fn record(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("records").join(name)).expect("a fixture record")
}

fn chain_event(seq: u32) -> ChainEvent {
    codec::decode_event(&record(&format!("chain-event-{seq:05}.bin"))).expect("a chain event")
}

fn product_event(seq: u32) -> CentralEvent {
    codec::decode_event(&record(&format!("product-{SKU}-event-{seq:05}.bin")))
        .expect("a product event")
}

fn name(raw: &str) -> Username {
    Username::parse(raw).expect("a username")
}

#[test]
fn the_version_3_chain_snapshot_decodes_with_its_webhook_and_user_log() {
    let bytes = record(CHAIN_RECORD);
    assert_eq!(bytes[0], 3, "written in version 3");
    let chain = ChainState::decode_snapshot(&bytes).expect("a v3 chain snapshot");
    assert_eq!(chain.stores().count(), 6);
    assert_eq!(chain.products().count(), 240);

    let webhooks: Vec<(u32, &str, Vec<&str>, &str)> = chain
        .webhooks()
        .map(|w| {
            let events = w.events.iter().map(String::as_str).collect();
            (w.id, w.url.as_str(), events, w.created_by.as_str())
        })
        .collect();
    assert_eq!(webhooks, [(1, WEBHOOK_URL, vec!["sale_recorded"], "admin")]);
    assert!(chain.webhooks().all(|w| !w.secret.is_empty()));

    let caissier2 = chain.user(&name("caissier2")).expect("caissier2");
    assert_eq!(
        (caissier2.role, caissier2.store.map(StoreId::get)),
        (Role::Manager, Some(2))
    );
    let changed: Vec<_> = chain
        .user_log()
        .iter()
        .filter(|e| e.change == UserChangeKind::RoleChanged)
        .map(|e| {
            let by = e.stamp.by.as_ref().map(Username::as_str);
            (e.username.as_str(), by, e.role, e.store.map(StoreId::get))
        })
        .collect();
    assert_eq!(
        changed,
        [("caissier2", Some("admin"), Role::Manager, Some(2))]
    );
    // The two events behind them, just before the snapshot.
    let ChainEvent::WebhookRegistered(registered) = chain_event(255) else {
        panic!("255 registers the webhook");
    };
    assert_eq!(Some(&registered), chain.webhooks().next());
    let ChainEvent::UserRecorded(record) = chain_event(256) else {
        panic!("256 changes caissier2's role");
    };
    assert_eq!(
        (
            record.change,
            record.stamp.by.as_ref().map(Username::as_str)
        ),
        (UserChangeKind::RoleChanged, Some("admin"))
    );
    assert_eq!(&record.user, caissier2);

    // Version 3 had no purchasing: this version starts it empty.
    assert_eq!(chain.purchasing(), &Default::default());

    let again = chain.encode_snapshot().expect("encodes");
    assert_eq!(again[0], CHAIN_SNAPSHOT_VERSION);
    assert_eq!(ChainState::decode_snapshot(&again).expect("current"), chain);
}

#[test]
fn the_version_2_central_stock_snapshot_decodes_with_its_lost_unit() {
    let bytes = record(PRODUCT_RECORD);
    assert_eq!(bytes[0], 2, "written in version 2");
    let central = CentralStock::decode_snapshot(&bytes).expect("a v2 central stock snapshot");
    let request = RestockId::parse("1-1").expect("a request id");
    assert_eq!(central.on_hand(), AFTER_RESTOCK);
    assert_eq!(central.allocated(), 0);
    assert_eq!(central.shipment_of(request), Some(5));
    assert_eq!((central.missing(), central.missing_of(request)), (0, 0));
    assert_eq!(central.lost(), 1);
    // Version 2 knew no cost: the units join this version at no average cost.
    assert_eq!((central.average(), central.written_off()), (0, 0));

    // The snapshot is the product's five events replayed: the demo's opening stock, then
    // request 1-1 allocated, shipped, delivered one short, and that unit settled as lost.
    let events: Vec<CentralEvent> = (1..=5).map(product_event).collect();
    assert!(
        matches!(&events[0], CentralEvent::GoodsReceived { quantity, .. } if *quantity == OPENING),
        "{:?}",
        events[0]
    );
    assert!(
        matches!(
            (&events[1], &events[2]),
            (
                CentralEvent::Allocated { request: a, quantity: 5, .. },
                CentralEvent::Shipped { request: s, quantity: 5, .. },
            ) if *a == request && *s == request
        ),
        "{:?}",
        &events[1..3]
    );
    assert!(
        matches!(
            &events[3],
            CentralEvent::DeliveredShort { request: r, quantity: 4, missing: 1, .. } if *r == request
        ),
        "{:?}",
        events[3]
    );
    assert!(
        matches!(
            &events[4],
            CentralEvent::MissingResolved {
                outcome: MissingOutcome::Lost,
                quantity: 1,
                ..
            }
        ),
        "{:?}",
        events[4]
    );
    let mut replayed = CentralStock::default();
    for event in &events {
        replayed.apply(event);
    }
    assert_eq!(replayed, central);

    let again = central.encode_snapshot().expect("encodes");
    assert_eq!(again[0], CENTRAL_SNAPSHOT_VERSION);
    assert_eq!(
        CentralStock::decode_snapshot(&again).expect("current"),
        central
    );
}

fn copy_fixture_data(to: &Path) {
    std::fs::create_dir_all(to).expect("a data dir");
    for entry in std::fs::read_dir(fixtures().join("data")).expect("the fixture's data") {
        let entry = entry.expect("an entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copied");
    }
}

/// The product's line at the logistics center.
fn central_line(app: &TestApp) -> Value {
    let page = app.get(&format!("/api/v1/logistics/stock?q={SKU}"));
    assert_eq!(page.status, 200, "{:?}", page.body);
    let items = page.body["items"].as_array().expect("a page");
    let line = items.iter().find(|l| l["sku"] == SKU);
    line.unwrap_or_else(|| panic!("{SKU} in {}", page.body))
        .clone()
}

/// (on hand, allocated, in transit, missing, lost) of the central line.
fn units(line: &Value) -> Value {
    json!([
        line["on_hand"],
        line["allocated"],
        line["in_transit"],
        line["missing"],
        line["lost"]
    ])
}

#[test]
fn a_version_3_data_directory_starts_and_takes_a_purchase_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    copy_fixture_data(&data);
    let app = start(settings(&data, Backend::Sqlite, true));

    let hooks = app.get("/api/v1/webhooks");
    assert_eq!(hooks.status, 200, "{:?}", hooks.body);
    let listed: Vec<Value> = hooks.body["items"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|w| json!([w["id"], w["url"], w["events"]]))
        .collect();
    assert_eq!(listed, [json!([1, WEBHOOK_URL, ["sale_recorded"]])]);

    let changes = app.get("/api/v1/user-changes?username=caissier2").body;
    let roles: Vec<Value> = changes["items"]
        .as_array()
        .expect("a page")
        .iter()
        .filter(|c| c["change"] == "role_changed")
        .map(|c| json!([c["by"], c["role"], c["store_id"]]))
        .collect();
    assert_eq!(roles, [json!(["admin", "manager", 2])], "{changes}");

    let request = app.get("/api/v1/stores/1/restock-requests/1-1");
    assert_eq!(request.status, 200, "{:?}", request.body);
    assert_eq!(request.body["status"], "received", "{:?}", request.body);

    // Store 1 had 54 and received 4 of the 5 shipped.
    assert_eq!(app.on_hand(1, SKU), 58);
    let before = central_line(&app);
    assert_eq!(
        units(&before),
        json!([AFTER_RESTOCK, 0, 0, 0, 1]),
        "{before}"
    );
    assert_eq!(before["average_cost_cents"], 0, "{before}");

    // A purchase order placed and received in full on the upgraded chain.
    let supplier = app.send_as(
        "PUT",
        None,
        "/api/v1/suppliers/ESSAI",
        &json!({"name": "Essai", "lead_time_days": 2}),
    );
    assert_eq!(supplier.status, 201, "{:?}", supplier.body);
    let placed = app.post_with_key(
        "/api/v1/logistics/purchase-orders",
        "fx3-after-po1",
        &json!({"supplier": "ESSAI",
                "lines": [{"sku": SKU, "quantity": 10, "unit_cost_cents": 250}]}),
    );
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    let order = placed.body["id"].as_u64().expect("an order id");
    let received = app.post_with_key(
        &format!("/api/v1/logistics/purchase-orders/{order}/receipts"),
        "fx3-after-po1-r1",
        &Value::Null,
    );
    assert_eq!(received.status, 201, "{:?}", received.body);

    let after = central_line(&app);
    assert_eq!(
        units(&after),
        json!([AFTER_RESTOCK + 10, 0, 0, 0, 1]),
        "{after}"
    );
    // The units of the previous release had no known cost: they take the first one.
    assert_eq!(
        (&after["average_cost_cents"], &after["value_at_cost_cents"]),
        (&json!(250), &json!((AFTER_RESTOCK + 10) * 250)),
        "{after}"
    );
    app.stop();

    // A graceful stop wrote both snapshots in this version's layouts.
    let journal = rusqlite::Connection::open(data.join("journal.sqlite3")).expect("opens");
    let version = |stream: &str| -> Vec<u8> {
        journal
            .query_row(
                "SELECT substr(payload, 1, 1) FROM snapshots WHERE stream = ?1",
                [stream],
                |row| row.get(0),
            )
            .expect("a snapshot")
    };
    assert_eq!(version("chain"), [CHAIN_SNAPSHOT_VERSION]);
    assert_eq!(version(PRODUCT_STREAM), [CENTRAL_SNAPSHOT_VERSION]);
    drop(journal);

    let app = start(settings(&data, Backend::Sqlite, true));
    assert_eq!(units(&central_line(&app)), units(&after));
    app.stop();
}
