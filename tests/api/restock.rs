//! The restock cycle: requests, partial allocation, shipping, receipt, ledgers on both
//! sides, retries, contention for scarce central stock.

use crate::helpers::{TestApp, assert_problem, spawn_app};
use serde_json::{Value, json};
use std::sync::Arc;

/// Central on-hand, allocated and in-transit of a SKU.
fn central(app: &TestApp, sku: &str) -> (i64, i64, i64) {
    let r = app.get(&format!("/api/v1/logistics/stock?q={sku}"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let line = &r.body["items"][0];
    assert_eq!(line["sku"], sku);
    (
        line["on_hand"].as_i64().expect("on_hand"),
        line["allocated"].as_i64().expect("allocated"),
        line["in_transit"].as_i64().expect("in_transit"),
    )
}

fn line_of<'a>(request: &'a Value, sku: &str) -> &'a Value {
    request["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["sku"] == sku)
        .expect("the line")
}

/// A product of the catalog with central stock, and its quantity there.
fn stocked_centrally(app: &TestApp, at_least: i64) -> (String, i64) {
    let page = app.get("/api/v1/logistics/stock?per_page=200");
    page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|l| l["on_hand"].as_i64().unwrap_or(0) >= at_least)
        .map(|l| {
            (
                l["sku"].as_str().expect("sku").to_owned(),
                l["on_hand"].as_i64().expect("on_hand"),
            )
        })
        .expect("a product with central stock")
}

#[test]
fn the_whole_cycle_as_the_roles_that_do_it() {
    let app = spawn_app();
    let manager = app.login("gestionnaire1");
    let logistics = app.login("logistique");
    let (sku, central_before) = stocked_centrally(&app, 50);
    let store_before = app.on_hand(1, &sku);

    let created = app.post_as(
        Some(&manager),
        "/api/v1/stores/1/restock-requests",
        &json!({"lines": [{"sku": sku, "quantity": 30}]}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["status"], "requested");
    assert_eq!(created.body["requested_by"], "gestionnaire1");
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("1-"));
    assert_eq!(
        central(&app, &sku),
        (central_before, 0, 0),
        "a request moves nothing"
    );

    let queue = app.get_as(
        Some(&logistics),
        "/api/v1/logistics/restock-requests?status=requested",
    );
    assert!(
        queue.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|r| r["id"] == id.as_str())
    );

    let allocated = app.post_as(
        Some(&logistics),
        &format!("/api/v1/logistics/restock-requests/{id}/allocate"),
        &json!({}),
    );
    assert_eq!(allocated.status, 200, "{:?}", allocated.body);
    assert_eq!(allocated.body["status"], "allocated");
    assert_eq!(line_of(&allocated.body, &sku)["allocated"], 30);
    assert_eq!(central(&app, &sku), (central_before - 30, 30, 0));
    // A retried allocation takes nothing more.
    let again = app.post_as(
        Some(&logistics),
        &format!("/api/v1/logistics/restock-requests/{id}/allocate"),
        &json!({}),
    );
    assert_eq!(again.status, 200);
    assert_eq!(central(&app, &sku), (central_before - 30, 30, 0));

    let shipped = app.post_as(
        Some(&logistics),
        &format!("/api/v1/logistics/restock-requests/{id}/ship"),
        &json!({}),
    );
    assert_eq!(shipped.status, 200, "{:?}", shipped.body);
    assert_eq!(line_of(&shipped.body, &sku)["in_transit"], 30);
    assert_eq!(
        central(&app, &sku),
        (central_before - 30, 0, 30),
        "in transit, seen centrally"
    );
    let store_side = app.get_as(
        Some(&manager),
        &format!("/api/v1/stores/1/restock-requests/{id}"),
    );
    assert_eq!(
        line_of(&store_side.body, &sku)["in_transit"],
        30,
        "in transit, seen by the store"
    );
    assert_eq!(app.on_hand(1, &sku), store_before);

    let received = app.post_as(
        Some(&manager),
        &format!("/api/v1/stores/1/restock-requests/{id}/receive"),
        &json!({}),
    );
    assert_eq!(received.status, 200, "{:?}", received.body);
    assert_eq!(received.body["status"], "received");
    assert_eq!(app.on_hand(1, &sku), store_before + 30);
    assert_eq!(central(&app, &sku), (central_before - 30, 0, 0));
    // Received twice moves nothing; an illegal step is 409.
    let twice = app.post_as(
        Some(&manager),
        &format!("/api/v1/stores/1/restock-requests/{id}/receive"),
        &json!({}),
    );
    assert_eq!(twice.status, 200);
    assert_eq!(app.on_hand(1, &sku), store_before + 30);
    let late = app.post_as(
        Some(&logistics),
        &format!("/api/v1/logistics/restock-requests/{id}/allocate"),
        &json!({}),
    );
    assert_problem(&late, 409, "invalid_transition");

    let ledger = app.get("/api/v1/stores/1/ledger?limit=1000");
    let kinds: Vec<&str> = ledger.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["restock_id"] == id.as_str())
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "restock_requested",
            "restock_allocated",
            "restock_shipped",
            "restock_received"
        ]
    );
    let receipt = ledger.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["type"] == "restock_received")
        .expect("the receipt");
    assert_eq!(receipt["movements"][0]["change"], 30);
    assert_eq!(receipt["movements"][0]["on_hand_after"], store_before + 30);

    // The same steps in the product's central ledger.
    let central_ledger = app.get_as(
        Some(&logistics),
        &format!("/api/v1/logistics/stock/{sku}/ledger?limit=1000"),
    );
    assert_eq!(central_ledger.status, 200, "{:?}", central_ledger.body);
    let steps: Vec<(&str, i64)> = central_ledger.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["restock_id"] == id.as_str())
        .map(|e| {
            (
                e["type"].as_str().expect("type"),
                e["quantity"].as_i64().expect("quantity"),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![("allocated", 30), ("shipped", 30), ("delivered", 30)]
    );
}

#[test]
fn a_retried_restock_request_is_filed_once() {
    let app = spawn_app();
    let manager = app.login("gestionnaire1");
    let body = json!({"lines": [{"sku": "EPI-0001", "quantity": 4}]});
    let first = app.post_as_with_key(
        Some(&manager),
        "/api/v1/stores/1/restock-requests",
        "demande-77",
        &body,
    );
    let again = app.post_as_with_key(
        Some(&manager),
        "/api/v1/stores/1/restock-requests",
        "demande-77",
        &body,
    );
    assert_eq!((first.status, again.status), (201, 201));
    assert!(again.replayed);
    assert_eq!(first.body["id"], again.body["id"]);
    let listed = app.get_as(Some(&manager), "/api/v1/stores/1/restock-requests");
    assert_eq!(listed.body["total"], 1);
    let other = app.post_as_with_key(
        Some(&manager),
        "/api/v1/stores/1/restock-requests",
        "demande-77",
        &json!({"lines": [{"sku": "EPI-0001", "quantity": 5}]}),
    );
    assert_problem(&other, 422, "idempotency_key_reused");
}

#[test]
fn allocation_is_partial_when_central_stock_is_short_and_reject_gives_it_back() {
    let app = spawn_app();
    let (sku, central_before) = stocked_centrally(&app, 1);
    let asked = central_before + 25;
    let created = app.post(
        "/api/v1/stores/2/restock-requests",
        &json!({"lines": [{"sku": sku, "quantity": asked.min(10_000)}]}),
    );
    let id = created.body["id"].as_str().expect("id").to_owned();
    let allocated = app.post(
        &format!("/api/v1/logistics/restock-requests/{id}/allocate"),
        &json!({}),
    );
    assert_eq!(
        line_of(&allocated.body, &sku)["allocated"],
        central_before.min(asked)
    );
    assert_eq!(central(&app, &sku).0, 0);

    let rejected = app.post(
        &format!("/api/v1/logistics/restock-requests/{id}/reject"),
        &json!({"reason": "rupture chez le fournisseur"}),
    );
    assert_eq!(rejected.status, 200, "{:?}", rejected.body);
    assert_eq!(rejected.body["status"], "rejected");
    assert_eq!(
        rejected.body["rejection_reason"],
        "rupture chez le fournisseur"
    );
    assert_eq!(
        central(&app, &sku),
        (central_before, 0, 0),
        "the allocation is given back"
    );
    let ship = app.post(
        &format!("/api/v1/logistics/restock-requests/{id}/ship"),
        &json!({}),
    );
    assert_problem(&ship, 409, "invalid_transition");
}

#[test]
fn the_automatic_proposal_fills_low_lines_up_to_their_target() {
    let app = spawn_app();
    let manager = app.login("gestionnaire1");
    let line = app.get("/api/v1/stores/1/stock/EPI-0001").body;
    let target = line["target_level"].as_i64().expect("target");
    app.count(1, "EPI-0001", 0);
    let created = app.post_as(
        Some(&manager),
        "/api/v1/stores/1/restock-requests",
        &json!({"mode": "auto"}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["automatic"], true);
    assert_eq!(line_of(&created.body, "EPI-0001")["requested"], target);
    let low: Vec<String> = app.get("/api/v1/stores/1/stock?low=true&per_page=200").body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|l| l["sku"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        created.body["lines"].as_array().expect("lines").len(),
        low.len(),
        "every low line"
    );
    // Everything low is now on its way: a second proposal has nothing to add.
    let again = app.post_as(
        Some(&manager),
        "/api/v1/stores/1/restock-requests",
        &json!({"mode": "auto"}),
    );
    assert_problem(&again, 422, "nothing_to_restock");
    let both = app.post_as(
        Some(&manager),
        "/api/v1/stores/1/restock-requests",
        &json!({"mode": "auto", "lines": [{"sku": "EPI-0001", "quantity": 1}]}),
    );
    assert_problem(&both, 400, "validation_failed");
    // The manager cancels; it can no longer be allocated.
    let id = created.body["id"].as_str().expect("id");
    let cancelled = app.post_as(
        Some(&manager),
        &format!("/api/v1/stores/1/restock-requests/{id}/cancel"),
        &json!({}),
    );
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_problem(
        &app.post(
            &format!("/api/v1/logistics/restock-requests/{id}/allocate"),
            &json!({}),
        ),
        409,
        "invalid_transition",
    );
}

#[test]
fn five_stores_competing_for_scarce_stock_never_over_allocate() {
    let app = Arc::new(spawn_app());
    // A product the logistics center has none of, then exactly 7 units of it.
    let page = app.get("/api/v1/logistics/stock?per_page=200");
    let sku: String = page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|l| l["on_hand"] == 0 && l["allocated"] == 0)
        .and_then(|l| l["sku"].as_str())
        .map(str::to_owned)
        .expect("the demo data has products out of stock centrally");
    let scarce = 7;
    let r = app.post(
        "/api/v1/logistics/receipts",
        &json!({"lines": [{"sku": &sku, "quantity": scarce}]}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(central(&app, &sku).0, scarce);

    let managers: Vec<String> = (1..=5)
        .map(|_| app.admin.clone().expect("admin token"))
        .collect();
    let requests: Vec<String> = (1..=5u32)
        .zip(managers)
        .map(|(store, token)| {
            let app = app.clone();
            let sku = sku.clone();
            std::thread::spawn(move || {
                app.count(store, &sku, 0);
                let r = app.post_as(
                    Some(&token),
                    &format!("/api/v1/stores/{store}/restock-requests"),
                    &json!({"mode": "auto"}),
                );
                assert_eq!(r.status, 201, "{:?}", r.body);
                r.body["id"].as_str().expect("id").to_owned()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("store thread"))
        .collect();
    let allocations: Vec<i64> = requests
        .into_iter()
        .map(|id| {
            let app = app.clone();
            let sku = sku.clone();
            std::thread::spawn(move || {
                let r = app.post(
                    &format!("/api/v1/logistics/restock-requests/{id}/allocate"),
                    &json!({}),
                );
                assert_eq!(r.status, 200, "{:?}", r.body);
                line_of(&r.body, &sku)["allocated"]
                    .as_i64()
                    .expect("allocated")
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("allocation thread"))
        .collect();
    assert_eq!(
        allocations.iter().sum::<i64>(),
        scarce,
        "allocations {allocations:?}"
    );
    assert!(allocations.iter().all(|a| *a >= 0));
    assert_eq!(central(&app, &sku).0, 0);
}

#[test]
fn supplier_receipts_add_central_stock_once_per_key() {
    let app = spawn_app();
    let logistics = app.login("logistique");
    let (before, _, _) = central(&app, "BOI-0001");
    let body = json!({"lines": [{"sku": "BOI-0001", "quantity": 40}]});
    let first = app.post_as_with_key(
        Some(&logistics),
        "/api/v1/logistics/receipts",
        "bon-1234",
        &body,
    );
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.body["lines"][0]["on_hand"], before + 40);
    let retry = app.post_as_with_key(
        Some(&logistics),
        "/api/v1/logistics/receipts",
        "bon-1234",
        &body,
    );
    assert_eq!(retry.status, 201);
    assert_eq!(central(&app, "BOI-0001").0, before + 40);
    let unknown = app.post_as(
        Some(&logistics),
        "/api/v1/logistics/receipts",
        &json!({"lines": [{"sku": "NOPE-0000", "quantity": 1}]}),
    );
    assert_problem(&unknown, 422, "unknown_sku");
    let bad = app.post_as(
        Some(&logistics),
        "/api/v1/logistics/restock-requests/abc/allocate",
        &json!({}),
    );
    assert_problem(&bad, 400, "validation_failed");
    let missing = app.post_as(
        Some(&logistics),
        "/api/v1/logistics/restock-requests/1-999/allocate",
        &json!({}),
    );
    assert_problem(&missing, 404, "restock_not_found");
}
