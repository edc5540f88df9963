//! A graceful restart keeps everything (snapshot + journal), on both backends; and the
//! journal replays correctly when snapshots are taken every few events.

use crate::helpers::{settings, start};
use magasin::persistence::Backend;
use serde_json::{Value, json};

fn everything_survives_a_restart(backend: Backend, snapshot_every: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut s = settings(dir.path(), backend, true);
    s.storage.snapshot_every = snapshot_every;
    let app = start(s.clone());
    let sku = app.get("/api/v1/products?per_page=1").body["items"][0]["sku"]
        .as_str()
        .expect("sku")
        .to_owned();
    app.count(2, &sku, 50);
    let mut sales = Vec::new();
    for i in 0..7 {
        let r = app.post_with_key(
            "/api/v1/stores/2/sales",
            &format!("k-{i}"),
            &json!({"lines": [{"sku": sku, "quantity": 2}]}),
        );
        assert_eq!(r.status, 201);
        sales.push(r.body);
    }
    let sale_id = sales[0]["id"].as_u64().expect("id");
    let ret = app.post(
        &format!("/api/v1/stores/2/sales/{sale_id}/returns"),
        &json!({"lines": [{"sku": sku, "quantity": 1}]}),
    );
    assert_eq!(ret.status, 201);
    let new_store = app.post(
        "/api/v1/stores",
        &json!({"code": "RIM-1", "name": "Rimouski", "city": "Rimouski"}),
    );
    assert_eq!(new_store.status, 201);
    let ledger_before = app.get("/api/v1/stores/2/ledger?limit=1000").body;
    let stores_before = app.get("/api/v1/stores").body;
    app.stop();

    let app = start(s);
    assert_eq!(app.on_hand(2, &sku), 50 - 14 + 1);
    assert_eq!(app.get("/api/v1/stores").body, stores_before);
    assert_eq!(
        app.get("/api/v1/stores/2/ledger?limit=1000").body,
        ledger_before
    );
    let listed = app.get("/api/v1/stores/2/sales?per_page=200").body;
    assert_eq!(listed["total"], 7);
    let first: Value = app.get(&format!("/api/v1/stores/2/sales/{sale_id}")).body;
    assert_eq!(first["returns"].as_array().expect("returns").len(), 1);
    // Keys survive the restart: a retry is answered with the original sale.
    let replay = app.post_with_key(
        "/api/v1/stores/2/sales",
        "k-3",
        &json!({"lines": [{"sku": sku, "quantity": 2}]}),
    );
    assert!(replay.replayed);
    assert_eq!(replay.body, sales[3]);
    assert_eq!(app.on_hand(2, &sku), 37);
    // The store opened before the restart is back, and demo data is not seeded twice.
    assert_eq!(app.get("/api/v1/stores/6/stock?per_page=1").status, 200);
    assert_eq!(app.get("/api/v1/products").body["total"], 240);
}

#[test]
fn sqlite_restart_keeps_everything() {
    everything_survives_a_restart(Backend::Sqlite, 1000);
}

#[test]
fn sled_restart_keeps_everything() {
    everything_survives_a_restart(Backend::Sled, 1000);
}

#[test]
fn frequent_snapshots_plus_journal_tail_rebuild_the_same_state() {
    everything_survives_a_restart(Backend::Sqlite, 3);
}
