//! A store's stock lines and the low-stock filter.

use crate::helpers::{assert_problem, spawn_app};

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
