//! Returns: partial, never beyond what was sold, idempotent; and stock adjustments.

use crate::helpers::{assert_problem, spawn_app};
use crate::sales::two_products;
use serde_json::json;

#[test]
fn partial_returns_put_stock_back_and_never_exceed_the_sale() {
    let app = spawn_app();
    let [(a, price_a), (b, _)] = two_products(&app, 1, [10, 10]);
    let sale = app.post(
        "/api/v1/stores/1/sales",
        &json!({"lines": [{"sku": a, "quantity": 3}, {"sku": b, "quantity": 1}]}),
    );
    let id = sale.body["id"].as_u64().expect("sale id");
    let path = format!("/api/v1/stores/1/sales/{id}/returns");

    let first = app.post(
        &path,
        &json!({"lines": [{"sku": a, "quantity": 2}], "reason": "défectueux"}),
    );
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.body["refund_cents"], 2 * price_a);
    assert_eq!(first.body["sale_id"], id);
    assert_eq!(app.on_hand(1, &a), 9);

    let too_many = app.post(&path, &json!({"lines": [{"sku": a, "quantity": 2}]}));
    assert_problem(&too_many, 409, "return_exceeds_sale");
    assert_eq!(too_many.body["errors"][0]["already_returned"], 2);
    assert_eq!(too_many.body["errors"][0]["sold"], 3);
    assert_eq!(app.on_hand(1, &a), 9);

    let rest = app.post(
        &path,
        &json!({"lines": [{"sku": a, "quantity": 1}, {"sku": b, "quantity": 1}]}),
    );
    assert_eq!(rest.status, 201);
    assert_eq!(app.on_hand(1, &a), 10);
    assert_eq!(app.on_hand(1, &b), 10);

    let again = app.post(&path, &json!({"lines": [{"sku": b, "quantity": 1}]}));
    assert_problem(&again, 409, "return_exceeds_sale");

    let read = app.get(&format!("/api/v1/stores/1/sales/{id}"));
    assert_eq!(read.body["returns"].as_array().expect("returns").len(), 2);
}

#[test]
fn return_errors_are_precise() {
    let app = spawn_app();
    let [(a, _), (b, _)] = two_products(&app, 1, [10, 10]);
    let sale = app.post(
        "/api/v1/stores/1/sales",
        &json!({"lines": [{"sku": a, "quantity": 1}]}),
    );
    let id = sale.body["id"].as_u64().expect("sale id");
    let path = format!("/api/v1/stores/1/sales/{id}/returns");

    assert_problem(
        &app.post(&path, &json!({"lines": [{"sku": b, "quantity": 1}]})),
        422,
        "line_not_in_sale",
    );
    assert_problem(
        &app.post(
            "/api/v1/stores/1/sales/9999/returns",
            &json!({"lines": [{"sku": a, "quantity": 1}]}),
        ),
        404,
        "sale_not_found",
    );
    assert_problem(
        &app.post(&path, &json!({"lines": [{"sku": a, "quantity": 0}]})),
        400,
        "validation_failed",
    );
    assert_problem(
        &app.post(&path, &json!({"lines": []})),
        400,
        "validation_failed",
    );
    assert_eq!(app.on_hand(1, &a), 9);
    assert_eq!(app.on_hand(1, &b), 10);
}

#[test]
fn a_retried_return_is_recorded_once() {
    let app = spawn_app();
    let [(a, _), _] = two_products(&app, 2, [10, 0]);
    let sale = app.post(
        "/api/v1/stores/2/sales",
        &json!({"lines": [{"sku": a, "quantity": 2}]}),
    );
    let id = sale.body["id"].as_u64().expect("sale id");
    let path = format!("/api/v1/stores/2/sales/{id}/returns");
    let body = json!({"lines": [{"sku": a, "quantity": 1}]});
    let first = app.post_with_key(&path, "retour-1", &body);
    let second = app.post_with_key(&path, "retour-1", &body);
    assert_eq!((first.status, second.status), (201, 201));
    assert!(second.replayed);
    assert_eq!(first.body, second.body);
    assert_eq!(app.on_hand(2, &a), 9);
    let other = app.post_with_key(
        &path,
        "retour-1",
        &json!({"lines": [{"sku": a, "quantity": 2}]}),
    );
    assert_problem(&other, 422, "idempotency_key_reused");
}

#[test]
fn adjustments_count_or_correct_with_a_reason() {
    let app = spawn_app();
    let [(a, _), (b, _)] = two_products(&app, 4, [10, 10]);
    let path = "/api/v1/stores/4/adjustments";
    let r = app.post(
        path,
        &json!({"reason": "inventaire annuel", "lines": [{"sku": a, "counted": 7}, {"sku": b, "delta": -3}]}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["lines"][0]["on_hand_before"], 10);
    assert_eq!(r.body["lines"][0]["on_hand_after"], 7);
    assert_eq!(r.body["lines"][1]["kind"], "delta");
    assert_eq!(app.on_hand(4, &a), 7);
    assert_eq!(app.on_hand(4, &b), 7);

    let negative = app.post(
        path,
        &json!({"reason": "casse", "lines": [{"sku": a, "delta": -8}]}),
    );
    assert_problem(&negative, 409, "stock_out_of_bounds");
    assert_eq!(negative.body["errors"][0]["on_hand"], 7);
    let both = app.post(
        path,
        &json!({"reason": "x", "lines": [{"sku": a, "counted": 1, "delta": 1}]}),
    );
    assert_problem(&both, 400, "validation_failed");
    assert_eq!(both.body["errors"][0]["code"], "counted_or_delta");
    let no_reason = app.post(
        path,
        &json!({"reason": "  ", "lines": [{"sku": a, "counted": 1}]}),
    );
    assert_problem(&no_reason, 400, "validation_failed");
    assert_eq!(no_reason.body["errors"][0]["field"], "reason");
    let unknown = app.post(
        path,
        &json!({"reason": "x", "lines": [{"sku": "NOPE-0000", "counted": 1}]}),
    );
    assert_problem(&unknown, 422, "unknown_sku");
    let zero_delta = app.post(
        path,
        &json!({"reason": "x", "lines": [{"sku": a, "delta": 0}]}),
    );
    assert_problem(&zero_delta, 400, "validation_failed");
    assert_eq!(app.on_hand(4, &a), 7);
}
