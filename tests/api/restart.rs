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
        let r = app.sell(
            2,
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
    let replay = app.sell(2, "k-3", &json!({"lines": [{"sku": sku, "quantity": 2}]}));
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

/// SIGTERM on the real binary: it drains, snapshots every store at its last event, exits 0.
#[test]
fn sigterm_writes_a_snapshot_of_every_store_and_exits_cleanly() {
    use magasin::domain::StoreId;
    use magasin::persistence::{StreamId, open};
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_magasin"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("a ready line");
    let base = line
        .trim()
        .strip_prefix("magasin listening on ")
        .expect("the ready line")
        .to_owned();
    let agent = ureq::Agent::new();
    let login: Value = agent
        .post(&format!("{base}/api/v1/auth/login"))
        .send_json(json!({"username": "admin", "password": "demo"}))
        .expect("login")
        .into_json()
        .expect("a JSON answer");
    let token = login["token"].as_str().expect("a token");
    let sale = agent
        .post(&format!("{base}/api/v1/stores/3/sales"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(json!({"lines": [{"sku": "EPI-0001", "quantity": 1}]}))
        .expect("a sale");
    assert_eq!(sale.status(), 201);
    drop(agent);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("the binary exits");
    assert!(status.success(), "exit status {status:?}");

    let journal = open(Backend::Sqlite, dir.path()).expect("the journal opens");
    let last = journal.last_seqs().expect("sequences");
    for id in 1..=5 {
        let stream = StreamId::store(StoreId::new(id).expect("valid id"));
        let snapshot = journal
            .latest_snapshot(&stream)
            .expect("reads")
            .expect("a snapshot");
        assert_eq!(
            Some(&snapshot.seq),
            last.get(&stream),
            "store {id} snapshotted at its last event"
        );
    }
}
