//! Sales at the till: all-or-nothing, precise errors, idempotency.

use crate::helpers::{TestApp, assert_problem, spawn_app};
use serde_json::json;

/// Two distinct SKUs of the demo catalog with their prices, counted to known levels.
pub fn two_products(app: &TestApp, store: u32, on_hand: [i64; 2]) -> [(String, i64); 2] {
    let items = app.get("/api/v1/products?per_page=2").body["items"].clone();
    let pick = |i: usize| {
        let sku = items[i]["sku"].as_str().expect("sku").to_owned();
        app.count(store, &sku, on_hand[i]);
        (sku, items[i]["price_cents"].as_i64().expect("price"))
    };
    [pick(0), pick(1)]
}

#[test]
fn a_sale_is_recorded_with_prices_total_and_stock_taken() {
    let app = spawn_app();
    let [(a, price_a), (b, price_b)] = two_products(&app, 1, [10, 5]);
    let r = app.post(
        "/api/v1/stores/1/sales",
        &json!({"lines": [{"sku": a, "quantity": 3}, {"sku": b, "quantity": 1}]}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_u64().expect("sale id");
    assert_eq!(r.location, Some(format!("/api/v1/stores/1/sales/{id}")));
    assert_eq!(r.body["total_cents"], 3 * price_a + price_b);
    assert_eq!(r.body["lines"][0]["unit_price_cents"], price_a);
    assert_eq!(r.body["lines"][0]["line_total_cents"], 3 * price_a);
    assert!(
        r.body["created_at"]
            .as_str()
            .expect("a time")
            .ends_with('Z')
    );
    assert_eq!(app.on_hand(1, &a), 7);
    assert_eq!(app.on_hand(1, &b), 4);

    let read = app.get(&format!("/api/v1/stores/1/sales/{id}"));
    assert_eq!(read.status, 200);
    assert_eq!(read.body["total_cents"], r.body["total_cents"]);
    assert_problem(
        &app.get("/api/v1/stores/1/sales/999999"),
        404,
        "sale_not_found",
    );
    assert_problem(
        &app.get("/api/v1/stores/2/sales/999999"),
        404,
        "sale_not_found",
    );
}

#[test]
fn a_short_line_fails_the_whole_sale_and_every_short_line_is_listed() {
    let app = spawn_app();
    let [(a, _), (b, _)] = two_products(&app, 1, [2, 1]);
    let r = app.post(
        "/api/v1/stores/1/sales",
        &json!({"lines": [{"sku": a, "quantity": 3}, {"sku": b, "quantity": 5}]}),
    );
    assert_problem(&r, 409, "insufficient_stock");
    let errors = r.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["sku"], a.as_str());
    assert_eq!(errors[0]["requested"], 3);
    assert_eq!(errors[0]["available"], 2);
    assert_eq!(errors[1]["sku"], b.as_str());
    assert_eq!(app.on_hand(1, &a), 2);
    assert_eq!(app.on_hand(1, &b), 1);

    // One good line and one short one: still nothing sold.
    let r = app.post(
        "/api/v1/stores/1/sales",
        &json!({"lines": [{"sku": a, "quantity": 1}, {"sku": b, "quantity": 2}]}),
    );
    assert_problem(&r, 409, "insufficient_stock");
    assert_eq!(r.body["errors"].as_array().expect("errors").len(), 1);
    assert_eq!(app.on_hand(1, &a), 2);
    assert_eq!(app.sales(1).body["total"], 0);
}

#[test]
fn invalid_lines_are_400_with_the_field_named() {
    let app = spawn_app();
    let [(a, _), _] = two_products(&app, 1, [10, 10]);
    let cases = [
        (
            json!({"lines": [{"sku": a, "quantity": 0}]}),
            "lines[0].quantity",
            "invalid_quantity",
        ),
        (
            json!({"lines": [{"sku": a, "quantity": -2}]}),
            "lines[0].quantity",
            "invalid_quantity",
        ),
        (
            json!({"lines": [{"sku": a, "quantity": 10_001}]}),
            "lines[0].quantity",
            "invalid_quantity",
        ),
        (
            json!({"lines": [{"sku": "pas un sku", "quantity": 1}]}),
            "lines[0].sku",
            "invalid_sku",
        ),
        (
            json!({"lines": [{"sku": a, "quantity": 1}, {"sku": a, "quantity": 2}]}),
            "lines[1].sku",
            "duplicate_line",
        ),
        (json!({"lines": []}), "lines", "no_lines"),
    ];
    for (body, field, code) in cases {
        let r = app.post("/api/v1/stores/1/sales", &body);
        assert_problem(&r, 400, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}");
        assert_eq!(r.body["errors"][0]["code"], code, "{body}");
    }
    let unknown = app.post(
        "/api/v1/stores/1/sales",
        &json!({"lines": [{"sku": "NOPE-0000", "quantity": 1}]}),
    );
    assert_problem(&unknown, 422, "unknown_sku");
    assert_eq!(unknown.body["errors"][0]["sku"], "NOPE-0000");
    assert_eq!(app.on_hand(1, &a), 10);
    assert_eq!(app.sales(1).body["total"], 0);
}

#[test]
fn the_same_key_and_body_answers_the_original_sale_once() {
    let app = spawn_app();
    let [(a, _), (b, _)] = two_products(&app, 1, [10, 10]);
    let body = json!({"lines": [{"sku": a, "quantity": 2}]});
    let first = app.sell(1, "caisse-3-000042", &body);
    assert_eq!(first.status, 201);
    assert!(!first.replayed);
    let again = app.sell(1, "caisse-3-000042", &body);
    assert_eq!(again.status, 201);
    assert!(again.replayed);
    assert_eq!(again.body, first.body);
    assert_eq!(app.on_hand(1, &a), 8);

    let other = app.sell(
        1,
        "caisse-3-000042",
        &json!({"lines": [{"sku": b, "quantity": 1}]}),
    );
    assert_problem(&other, 422, "idempotency_key_reused");
    assert_eq!(app.on_hand(1, &b), 10);

    // Keys belong to a store: the same key in another store is another sale.
    app.count(2, &a, 5);
    let elsewhere = app.sell(2, "caisse-3-000042", &body);
    assert_eq!(elsewhere.status, 201);
    assert!(!elsewhere.replayed);
    assert_eq!(app.on_hand(2, &a), 3);

    let bad_key = app.sell(1, "cle avec espaces", &body);
    assert_problem(&bad_key, 400, "validation_failed");
    assert_eq!(bad_key.body["errors"][0]["field"], "Idempotency-Key");
}

#[test]
fn sales_are_listed_newest_first_by_page() {
    let app = spawn_app();
    let [(a, _), _] = two_products(&app, 3, [100, 0]);
    for q in 1..=5 {
        let r = app.post(
            "/api/v1/stores/3/sales",
            &json!({"lines": [{"sku": a, "quantity": q}]}),
        );
        assert_eq!(r.status, 201);
    }
    let page = app.get("/api/v1/stores/3/sales?page=1&per_page=2");
    assert_eq!(page.status, 200);
    assert_eq!(page.body["total"], 5);
    let ids: Vec<u64> = page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, vec![5, 4]);
    let last = app.get("/api/v1/stores/3/sales?page=3&per_page=2");
    assert_eq!(last.body["items"].as_array().expect("items").len(), 1);
    assert_problem(
        &app.get("/api/v1/stores/3/sales?per_page=0"),
        400,
        "validation_failed",
    );
}
