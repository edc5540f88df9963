//! Backing up and restoring a data directory, as the README's "Deployment" section tells an
//! operator: stop the instance, compact (optional), copy the directory, and later restore
//! the copy into an empty place. Every sale, the stock, the ledgers (archived part
//! included) and the reports are there after the restore, on both backends, even with the
//! history left out of the copy (it is rebuilt from the journal and the archive).

use std::path::Path;

use crate::helpers::{settings, start};
use magasin::compaction;
use magasin::persistence::Backend;
use serde_json::json;

/// `cp -a`: the files of `from` under `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("target directory");
    for entry in std::fs::read_dir(from).expect("readable directory") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copied");
        }
    }
}

fn back_up_destroy_restore(backend: Backend) {
    let live = tempfile::tempdir().expect("temp dir");
    let data = live.path().join("data");
    let s = settings(&data, backend, true);
    let app = start(s.clone());
    let sku = "EPI-0001";
    app.count(3, sku, 80);
    let mut sales = Vec::new();
    for i in 0..12 {
        let r = app.sell(
            3,
            &format!("sauvegarde-{i}"),
            &json!({"lines": [{"sku": sku, "quantity": 1 + i % 3}]}),
        );
        assert_eq!(r.status, 201, "{:?}", r.body);
        sales.push(r.body);
    }
    let report = app.get("/api/v1/reports/sales?store_id=3").body;
    let ledger = app.get("/api/v1/stores/3/ledger?limit=1000").body;
    let on_hand = app.on_hand(3, sku);
    app.stop();

    // The operator's procedure: instance stopped, compacted, directory copied away.
    let compacted = compaction::compact(backend, &data).expect("compacts");
    assert!(compacted.archived() > 0);
    let backup = tempfile::tempdir().expect("backup dir");
    copy_tree(&data, backup.path());
    std::fs::remove_dir_all(&data).expect("the data directory is destroyed");
    assert!(!data.exists());
    copy_tree(backup.path(), &data);
    // A backup without the history (it is a read model): rebuilt from the journal and the
    // archive at start, with the same answers.
    for file in [
        "history.sqlite3",
        "history.sqlite3-wal",
        "history.sqlite3-shm",
    ] {
        let _ = std::fs::remove_file(data.join(file));
    }

    let app = start(s);
    for sale in &sales {
        let id = sale["id"].as_u64().expect("an id");
        let read = app.get(&format!("/api/v1/stores/3/sales/{id}"));
        assert_eq!(read.status, 200, "sale {id}");
        assert_eq!(read.body["total_cents"], sale["total_cents"], "sale {id}");
    }
    assert_eq!(
        app.get("/api/v1/stores/3/sales?per_page=1").body["total"],
        12
    );
    assert_eq!(app.on_hand(3, sku), on_hand);
    assert_eq!(
        app.get("/api/v1/reports/sales?store_id=3").body["totals"],
        report["totals"]
    );
    // The ledger reads its archived part back: the same entries, from the first.
    assert_eq!(app.get("/api/v1/stores/3/ledger?limit=1000").body, ledger);
    // A till's retry after the restore is still recognised.
    let retry = app.sell(
        3,
        "sauvegarde-4",
        &json!({"lines": [{"sku": sku, "quantity": 2}]}),
    );
    assert!(retry.replayed, "{:?}", retry.body);
    app.stop();
}

#[test]
fn sqlite_data_directory_backed_up_destroyed_and_restored_keeps_every_sale() {
    back_up_destroy_restore(Backend::Sqlite);
}

#[test]
fn sled_data_directory_backed_up_destroyed_and_restored_keeps_every_sale() {
    back_up_destroy_restore(Backend::Sled);
}
