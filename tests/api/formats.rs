//! Formats evolve by version: what version 1 wrote (`tests/fixtures/v1/`, written through
//! the API by the version whose stores held their sales) is still read, record by record
//! and as a whole data directory that starts on this version (its sales move to the
//! history once, its snapshots are rewritten in version 2).

use std::path::{Path, PathBuf};

use crate::helpers::{assert_problem, settings, start};
use magasin::domain::{
    CentralEvent, CentralStock, ChainEvent, ChainState, RestockStatus, SaleId, Sku, StepKind,
    StoreEvent, StoreState, TaxClass, TenderKind,
};
use magasin::persistence::codec::{self, STORE_SNAPSHOT_VERSION};
use magasin::persistence::{Backend, Snapshot};
use serde_json::json;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1")
}

fn record(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("records").join(name)).expect("a fixture record")
}

fn store_event(seq: u32) -> StoreEvent {
    codec::decode_event(&record(&format!("store-1-event-{seq:05}.bin"))).expect("a v1 store event")
}

fn sku(s: &str) -> Sku {
    Sku::parse(s).expect("a SKU")
}

#[test]
fn every_version_1_record_decodes_to_what_was_written() {
    let StoreEvent::SaleRecorded(sale) = store_event(243) else {
        panic!("243 is sale 1");
    };
    assert_eq!((sale.sale.id, sale.sale.total.0), (SaleId(1), 2957));
    // A sale of version 1 collected no tax and was paid outside a till.
    assert!(sale.sale.taxes.is_empty() && sale.sale.till.is_none());
    assert_eq!(sale.sale.subtotal.0, 2957);
    assert_eq!(sale.sale.tenders[0].kind, TenderKind::Other);
    assert_eq!(sale.sale.lines[0].sku, sku("EPI-0001"));
    assert_eq!(sale.sale.lines[0].quantity, 2);
    assert_eq!(sale.sale.by.to_string(), "caissier1");
    assert_eq!(
        sale.key.map(|k| k.key.as_str().to_owned()).as_deref(),
        Some("fx-s1")
    );
    let StoreEvent::SaleReturned(ret) = store_event(245) else {
        panic!("245 is return 1");
    };
    assert_eq!(
        (ret.ret.id.0, ret.ret.sale_id, ret.ret.refund.0),
        (1, SaleId(1), 1189)
    );
    assert_eq!(ret.ret.reason.as_deref(), Some("défectueux"));
    let StoreEvent::StockAdjusted(adjusted) = store_event(246) else {
        panic!("246 is adjustment 3");
    };
    assert_eq!(adjusted.adjustment.id.0, 3);
    assert_eq!(adjusted.adjustment.lines[0].on_hand_after, 51);
    let StoreEvent::StockLevelsSet(levels) = store_event(247) else {
        panic!("247 sets levels");
    };
    assert_eq!((levels.reorder_point, levels.target_level), (40, 120));
    let StoreEvent::RestockRequested(requested) = store_event(248) else {
        panic!("248 is restock 1-1");
    };
    assert_eq!(requested.request.id.number, 1);
    assert_eq!(requested.request.lines.len(), 2);
    let steps: Vec<&'static str> = (249..=251)
        .map(|seq| match store_event(seq) {
            StoreEvent::RestockStep(done) => match done.step {
                StepKind::Allocated(_) => "allocated",
                StepKind::Shipped(_) => "shipped",
                StepKind::Received(_) | StepKind::ReceivedCounted(_) => "received",
                StepKind::Rejected(_) | StepKind::Cancelled => "closed",
            },
            other => panic!("{seq} is a restock step, not {other:?}"),
        })
        .collect();
    assert_eq!(steps, ["allocated", "shipped", "received"]);
    assert!(matches!(store_event(252), StoreEvent::SaleRecorded(s) if s.sale.id == SaleId(3)));
    assert!(matches!(store_event(253), StoreEvent::SaleReturned(r) if r.ret.sale_id == SaleId(2)));

    // Store 1's snapshot at 251, in version 1 (every sale held): read as the bounded state.
    let bytes = record("store-1-snapshot-00251.bin");
    assert_eq!(bytes[0], 1);
    let state = StoreState::decode_snapshot(&bytes).expect("a v1 store snapshot");
    assert_eq!(state.last_sale(), SaleId(2));
    let line = state.stock_line(&sku("EPI-0004"));
    assert_eq!(
        (line.reorder_point, line.target_level, line.on_hand),
        (40, 120, 50)
    );
    assert_eq!(state.stock_line(&sku("EPI-0001")).on_hand, 102 - 2 + 1 + 10);
    assert_eq!(
        state.restock(1).map(|r| r.status),
        Some(RestockStatus::Received)
    );
    // Its next snapshot is of the current version, and reads back the same.
    let again = state.encode_snapshot().expect("encodes");
    assert_eq!(again[0], STORE_SNAPSHOT_VERSION);
    assert_eq!(StoreState::decode_snapshot(&again).expect("v2"), state);

    let chain = ChainState::decode_snapshot(&record("chain-snapshot-00250.bin"))
        .expect("a v1 chain snapshot");
    assert_eq!(chain.stores().count(), 5);
    assert_eq!(chain.products().count(), 240);
    // The documented migration: a product of version 1 is taxable, a store is in Quebec
    // with two tills, until head office says otherwise.
    assert!(chain.products().all(|p| p.tax_class == TaxClass::Taxable));
    assert!(
        chain
            .stores()
            .all(|s| s.jurisdiction == "QC" && s.tills == 2)
    );
    for seq in 248..=250 {
        let _: ChainEvent = codec::decode_event(&record(&format!("chain-event-{seq:05}.bin")))
            .expect("a v1 chain event");
    }
    let central = CentralStock::decode_snapshot(&record("product-EPI-0001-snapshot-00004.bin"))
        .expect("a v1 product snapshot");
    let mut replayed = CentralStock::default();
    for seq in 1..=4 {
        let event: CentralEvent =
            codec::decode_event(&record(&format!("product-EPI-0001-event-{seq:05}.bin")))
                .expect("a v1 central event");
        replayed.apply(&event);
    }
    assert_eq!(central, replayed);
    assert_eq!(central.on_hand(), 1390 - 10);
}

fn copy_fixture_data(to: &Path) {
    std::fs::create_dir_all(to).expect("a data dir");
    for name in ["journal.sqlite3", "journal.sqlite3-wal"] {
        std::fs::copy(fixtures().join("data").join(name), to.join(name)).expect("copied");
    }
}

/// What store 1 shows: its sales (id, total, returns), its report, a stock line.
fn store_one(app: &crate::helpers::TestApp) -> serde_json::Value {
    let sales = app.get("/api/v1/stores/1/sales?per_page=10").body;
    let listed: Vec<serde_json::Value> = sales["items"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|s| {
            json!([
                s["id"],
                s["total_cents"],
                s["returns"].as_array().map(Vec::len)
            ])
        })
        .collect();
    json!({
        "total": sales["total"],
        "sales": listed,
        "report": app.get("/api/v1/reports/sales?store_id=1&from=2026-12-01&to=2026-12-05").body["totals"],
        "rice": app.get("/api/v1/stores/1/stock/EPI-0004").body,
    })
}

#[test]
fn a_version_1_data_directory_starts_with_its_sales_moved_to_the_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    copy_fixture_data(&data);
    let app = start(settings(&data, Backend::Sqlite, true));
    let seen = store_one(&app);
    assert_eq!(seen["total"], 3, "{seen}");
    assert_eq!(
        seen["sales"],
        json!([[3, 858, 0], [2, 409, 1], [1, 2957, 1]])
    );
    assert_eq!(seen["report"]["sales_count"], 3, "{seen}");
    assert_eq!(seen["report"]["revenue_cents"], 2957 + 409 + 858);
    assert_eq!(seen["report"]["refunds_cents"], 1189 + 409);
    assert_eq!(seen["rice"]["reorder_point"], 40);
    assert_eq!(seen["rice"]["on_hand"], 48);
    assert_eq!(
        app.get("/api/v1/stores/2/sales?per_page=1").body["total"],
        1
    );

    // Sale 1 sold 2 × EPI-0001 and 1 came back (return 1, before the upgrade): one left.
    let back = |quantity: u32| {
        app.post(
            "/api/v1/stores/1/sales/1/returns",
            &json!({"lines": [{"sku": "EPI-0001", "quantity": quantity}]}),
        )
    };
    assert_problem(&back(2), 409, "return_exceeds_sale");
    let returned = back(1);
    assert_eq!(returned.status, 201, "{:?}", returned.body);
    assert_eq!(returned.body["id"], 3, "return ids go on after version 1's");
    let sold = app.post(
        "/api/v1/stores/1/sales",
        &json!({"lines": [{"sku": "EPI-0004", "quantity": 1}]}),
    );
    assert_eq!(sold.body["id"], 4, "sale ids go on after version 1's");
    let after = store_one(&app);
    app.stop();

    // A graceful stop wrote the stores' snapshots in version 2; the next start reads them.
    let journal = rusqlite::Connection::open(data.join("journal.sqlite3")).expect("opens");
    let version: Vec<u8> = journal
        .query_row(
            "SELECT substr(payload, 1, 1) FROM snapshots WHERE stream = 'store/1'",
            [],
            |row| row.get(0),
        )
        .expect("a snapshot of store 1");
    assert_eq!(version, vec![STORE_SNAPSHOT_VERSION]);
    drop(journal);
    let app = start(settings(&data, Backend::Sqlite, true));
    assert_eq!(store_one(&app), after);
    assert_problem(&back_again(&app), 409, "return_exceeds_sale");
    app.stop();
}

fn back_again(app: &crate::helpers::TestApp) -> crate::helpers::Reply {
    app.post(
        "/api/v1/stores/1/sales/1/returns",
        &json!({"lines": [{"sku": "EPI-0001", "quantity": 1}]}),
    )
}
