//! The store's ledger: its journal, in order, with every movement and balance.

use crate::helpers::{assert_problem, spawn_app};
use crate::sales::two_products;
use serde_json::json;

#[test]
fn the_ledger_lists_every_movement_in_order_and_pages() {
    let app = spawn_app();
    let [(a, _), _] = two_products(&app, 5, [10, 3]);
    let start = app.get("/api/v1/stores/5/ledger?limit=1000");
    assert_eq!(start.status, 200);
    let seen = start.body["items"].as_array().expect("items").len() as u64;
    assert!(seen > 0, "demo stock is in the ledger");
    let last_seq = start.body["items"][seen as usize - 1]["seq"]
        .as_u64()
        .expect("seq");

    let sale = app.post(
        "/api/v1/stores/5/sales",
        &json!({"lines": [{"sku": a, "quantity": 4}]}),
    );
    let sale_id = sale.body["id"].as_u64().expect("id");
    app.post(
        &format!("/api/v1/stores/5/sales/{sale_id}/returns"),
        &json!({"lines": [{"sku": a, "quantity": 1}]}),
    );

    let tail = app.get(&format!("/api/v1/stores/5/ledger?after={last_seq}"));
    let items = tail.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "sale_recorded");
    assert_eq!(items[0]["seq"], last_seq + 1);
    assert_eq!(items[0]["sale_id"], sale_id);
    assert_eq!(items[0]["movements"][0]["change"], -4);
    assert_eq!(items[0]["movements"][0]["on_hand_after"], 6);
    assert_eq!(items[1]["type"], "sale_returned");
    assert_eq!(items[1]["movements"][0]["change"], 1);
    assert_eq!(items[1]["movements"][0]["on_hand_after"], 7);
    assert!(tail.body["next_after"].is_null());

    // Paging: limit 1 from the start walks the same sequence.
    let one = app.get("/api/v1/stores/5/ledger?limit=1");
    assert_eq!(one.body["items"].as_array().expect("items").len(), 1);
    assert_eq!(one.body["items"][0]["seq"], 1);
    assert_eq!(one.body["next_after"], 1);
    let two = app.get("/api/v1/stores/5/ledger?after=1&limit=1");
    assert_eq!(two.body["items"][0]["seq"], 2);

    assert_problem(
        &app.get("/api/v1/stores/5/ledger?limit=0"),
        400,
        "validation_failed",
    );
    assert_problem(
        &app.get("/api/v1/stores/5/ledger?after=-1"),
        400,
        "invalid_query",
    );
}
