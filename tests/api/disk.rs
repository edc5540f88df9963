//! A failing disk, on both backends: the journal backend is wrapped in `Faulty`, switched
//! to failing in the middle of a till's day. A sale then answers 503 with a problem body
//! and records nothing, `/health/ready` answers 503; once the disk is back, the instance is
//! ready again, the store's actor is recovered from its journal, and every sale
//! acknowledged before, during and after is there, once.

use std::sync::Arc;

use crate::helpers::{assert_problem, settings, start_on};
use magasin::persistence::faulty::Faulty;
use magasin::persistence::{self, Backend};
use serde_json::json;

fn sell(app: &crate::helpers::TestApp, key: &str) -> crate::helpers::Reply {
    app.sell(
        2,
        key,
        &json!({"lines": [{"sku": "EPI-0001", "quantity": 1}]}),
    )
}

fn a_failing_disk_refuses_writes_then_recovers(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let disk = Arc::new(Faulty::new(
        persistence::open(backend, &data).expect("the journal opens"),
    ));
    let app = start_on(settings(&data, backend, true), disk.clone());
    app.count(2, "EPI-0001", 50);
    let before = sell(&app, "avant-la-panne");
    assert_eq!(before.status, 201, "{:?}", before.body);

    disk.set_failing(true);
    let refused = sell(&app, "pendant-la-panne");
    assert_problem(&refused, 503, "journal_unavailable");
    assert!(refused.retry_after.is_some(), "503 says when to retry");
    assert!(
        !refused.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("sqlite")
            && !refused.body["detail"]
                .as_str()
                .unwrap_or("")
                .contains("Faulty"),
        "the cause stays in the log: {:?}",
        refused.body
    );
    // The store's actor stopped; while the disk fails, it cannot be recovered either.
    assert_problem(&sell(&app, "encore-en-panne"), 503, "journal_unavailable");
    let not_ready = app.get("/health/ready");
    assert_eq!(not_ready.status, 503, "{:?}", not_ready.body);
    assert_eq!(not_ready.body["code"], "not_ready");

    disk.set_failing(false);
    let ready = app.get("/health/ready");
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    // The till retries the refused sale with its key: recorded now, once.
    let retried = sell(&app, "pendant-la-panne");
    assert_eq!(retried.status, 201, "{:?}", retried.body);
    assert!(!retried.replayed, "the refused sale was not recorded");
    let after = sell(&app, "apres-la-panne");
    assert_eq!(after.status, 201, "{:?}", after.body);
    let replay = sell(&app, "avant-la-panne");
    assert!(replay.replayed && replay.body["id"] == before.body["id"]);

    let listed = app.get("/api/v1/stores/2/sales?per_page=10").body;
    assert_eq!(listed["total"], 3, "{listed}");
    assert_eq!(app.on_hand(2, "EPI-0001"), 47);
    for sale in [&before, &retried, &after] {
        let id = sale.body["id"].as_u64().expect("an id");
        assert_eq!(app.get(&format!("/api/v1/stores/2/sales/{id}")).status, 200);
    }
    app.stop();
}

#[test]
fn sqlite_failing_disk_refuses_writes_with_503_and_recovers_when_it_is_back() {
    a_failing_disk_refuses_writes_then_recovers(Backend::Sqlite);
}

#[test]
fn sled_failing_disk_refuses_writes_with_503_and_recovers_when_it_is_back() {
    a_failing_disk_refuses_writes_then_recovers(Backend::Sled);
}
