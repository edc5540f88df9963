//! A store's stock lines and the low-stock filter.

use crate::helpers::{assert_problem, spawn_app};
use serde_json::json;

#[test]
fn store_stock_is_searchable_and_filters_low_lines() {
    let app = spawn_app();
    let all = app.get("/api/v1/stores/1/stock?per_page=200");
    assert_eq!(all.status, 200);
    assert!(all.body["total"].as_u64().expect("total") >= 200);
    let first = all.body["items"][0].clone();
    for field in [
        "sku",
        "name",
        "category",
        "price_cents",
        "on_hand",
        "reorder_point",
        "target_level",
        "low",
    ] {
        assert!(!first[field].is_null(), "{field} present in {first}");
    }

    let sku = first["sku"].as_str().expect("sku");
    let reorder = first["reorder_point"].as_i64().expect("reorder point");
    assert!(reorder > 0, "demo lines have a reorder point");
    app.count(1, sku, reorder - 1);
    let low = app.get("/api/v1/stores/1/stock?low=true&per_page=200");
    let items = low.body["items"].as_array().expect("items");
    assert!(items.iter().all(|l| l["low"] == true));
    assert!(
        items
            .iter()
            .all(|l| l["on_hand"].as_i64() < l["reorder_point"].as_i64())
    );
    assert!(items.iter().any(|l| l["sku"] == sku));

    app.count(1, sku, reorder + 5);
    let low = app.get("/api/v1/stores/1/stock?low=true&per_page=200");
    assert!(
        low.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|l| l["sku"] != sku)
    );

    let searched = app.get(&format!("/api/v1/stores/1/stock?q={sku}"));
    assert_eq!(searched.body["total"], 1);
    assert_eq!(searched.body["items"][0]["on_hand"], reorder + 5);

    let line = app.get(&format!("/api/v1/stores/1/stock/{sku}"));
    assert_eq!(line.status, 200);
    assert_eq!(line.body["on_hand"], reorder + 5);
}

#[test]
fn stock_lookups_fail_clearly() {
    let app = spawn_app();
    assert_problem(
        &app.get("/api/v1/stores/1/stock/NOPE-0000"),
        404,
        "product_not_found",
    );
    assert_problem(
        &app.get("/api/v1/stores/1/stock/x"),
        400,
        "validation_failed",
    );
    assert_problem(
        &app.get("/api/v1/stores/1/stock?low=peut-etre"),
        400,
        "invalid_query",
    );
    assert_problem(
        &app.get("/api/v1/stores/42/stock/EPI-0001"),
        404,
        "store_not_found",
    );
}

#[test]
fn a_manager_sets_a_lines_levels_and_the_automatic_proposal_follows_them() {
    let app = spawn_app();
    let manager = app.login("gestionnaire1");
    let levels = |sku: &str, reorder: i64, target: i64| {
        app.send_as(
            "PUT",
            Some(&manager),
            &format!("/api/v1/stores/1/stock/{sku}/levels"),
            &json!({"reorder_point": reorder, "target_level": target}),
        )
    };
    // Levels that make no sense together, or for what does not exist: refused, unchanged.
    let before = app.get("/api/v1/stores/1/stock/EPI-0002").body;
    assert_problem(&levels("EPI-0002", 50, 10), 422, "invalid_levels");
    assert_problem(&levels("EPI-9999", 5, 10), 404, "product_not_found");
    assert_problem(&levels("EPI-0002", -1, 10), 400, "malformed_body");
    assert_eq!(app.get("/api/v1/stores/1/stock/EPI-0002").body, before);
    let other_store = app.send_as(
        "PUT",
        Some(&manager),
        "/api/v1/stores/2/stock/EPI-0002/levels",
        &json!({"reorder_point": 1, "target_level": 2}),
    );
    assert_problem(&other_store, 403, "forbidden_store");

    // On hand 7 under a reorder point of 10: low, and the proposal asks for 40 - 7.
    app.count(1, "EPI-0002", 7);
    let set = levels("EPI-0002", 10, 40);
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(
        (
            &set.body["reorder_point"],
            &set.body["target_level"],
            &set.body["low"]
        ),
        (&json!(10), &json!(40), &json!(true))
    );
    // The same levels again journal nothing.
    let last_seq = |app: &crate::helpers::TestApp| {
        let mut after = 0;
        loop {
            let page = app.get(&format!("/api/v1/stores/1/ledger?after={after}&limit=1000"));
            match page.body["next_after"].as_u64() {
                Some(next) => after = next,
                None => {
                    return page.body["items"]
                        .as_array()
                        .and_then(|items| items.last())
                        .and_then(|last| last["seq"].as_u64())
                        .unwrap_or(after);
                }
            }
        }
    };
    let journaled = last_seq(&app);
    assert_eq!(levels("EPI-0002", 10, 40).body, set.body, "the same again");
    assert_eq!(last_seq(&app), journaled, "nothing journaled");
    let low = app.get("/api/v1/stores/1/stock?low=true&per_page=200&q=EPI-0002");
    assert_eq!(low.body["items"][0]["sku"], "EPI-0002", "{:?}", low.body);
    let proposal = app.post_as(
        Some(&manager),
        "/api/v1/stores/1/restock-requests",
        &json!({"mode": "auto"}),
    );
    assert_eq!(proposal.status, 201, "{:?}", proposal.body);
    let line = proposal.body["lines"]
        .as_array()
        .and_then(|lines| lines.iter().find(|l| l["sku"] == "EPI-0002"))
        .expect("the low line is asked for");
    assert_eq!(line["requested"], 33);
}
