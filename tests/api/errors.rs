//! Malformed requests: problem+json, and nothing changes.

use crate::helpers::{assert_problem, spawn_app};
use crate::sales::two_products;

#[test]
fn malformed_bodies_are_400_oversized_are_413_and_nothing_changes() {
    let app = spawn_app();
    let [(a, _), _] = two_products(&app, 1, [10, 0]);
    let path = "/api/v1/stores/1/sales";

    assert_problem(
        &app.post_raw(path, "application/json", "{\"lines\": ["),
        400,
        "malformed_body",
    );
    let wrong_type = format!("{{\"lines\": [{{\"sku\": \"{a}\", \"quantity\": \"deux\"}}]}}");
    assert_problem(
        &app.post_raw(path, "application/json", &wrong_type),
        400,
        "malformed_body",
    );
    let fractional = format!("{{\"lines\": [{{\"sku\": \"{a}\", \"quantity\": 1.5}}]}}");
    assert_problem(
        &app.post_raw(path, "application/json", &fractional),
        400,
        "malformed_body",
    );
    let unknown_field =
        format!("{{\"lines\": [{{\"sku\": \"{a}\", \"quantity\": 1}}], \"rabais\": 50}}");
    assert_problem(
        &app.post_raw(path, "application/json", &unknown_field),
        400,
        "malformed_body",
    );
    assert_problem(
        &app.post_raw(path, "application/json", "[]"),
        400,
        "malformed_body",
    );
    assert_problem(
        &app.post_raw(path, "text/plain", "{}"),
        415,
        "unsupported_media_type",
    );

    let lines: Vec<String> = (0..5000)
        .map(|i| format!("{{\"sku\": \"XXX-{i:04}\", \"quantity\": 1}}"))
        .collect();
    let huge = format!("{{\"lines\": [{}]}}", lines.join(","));
    assert!(huge.len() > 65_536);
    assert_problem(
        &app.post_raw(path, "application/json", &huge),
        413,
        "payload_too_large",
    );

    assert_eq!(app.on_hand(1, &a), 10);
    assert_eq!(app.sales(1).body["total"], 0);
}

#[test]
fn unknown_routes_are_problem_json_404() {
    let app = spawn_app();
    assert_problem(&app.get("/api/v1/nulle-part"), 404, "not_found");
    assert_problem(&app.get("/ui/nulle-part.js"), 404, "not_found");
}
