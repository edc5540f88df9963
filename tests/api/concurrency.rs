//! Conflicting sales are serialized by the store's actor: the stock never oversells.

use crate::helpers::spawn_app;
use crate::sales::two_products;
use serde_json::json;
use std::sync::{Arc, Barrier};

#[test]
fn thirty_two_tills_buying_the_last_ten_units_sell_exactly_ten() {
    let app = Arc::new(spawn_app());
    let [(sku, _), _] = two_products(&app, 1, [10, 0]);
    let start = Arc::new(Barrier::new(32));
    let tills: Vec<_> = (0..32)
        .map(|till| {
            let app = app.clone();
            let start = start.clone();
            let sku = sku.clone();
            std::thread::spawn(move || {
                start.wait();
                let r = app.post_with_key(
                    "/api/v1/stores/1/sales",
                    &format!("till-{till}"),
                    &json!({"lines": [{"sku": sku, "quantity": 1}]}),
                );
                r.status
            })
        })
        .collect();
    let statuses: Vec<u16> = tills
        .into_iter()
        .map(|t| t.join().expect("till thread"))
        .collect();
    let sold = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((sold, refused), (10, 22), "statuses: {statuses:?}");
    assert_eq!(app.on_hand(1, &sku), 0);
    assert_eq!(app.get("/api/v1/stores/1/sales").body["total"], 10);
    let ledger = app.get("/api/v1/stores/1/ledger?limit=1000");
    let balances: Vec<i64> = ledger.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["type"] == "sale_recorded")
        .map(|e| {
            e["movements"][0]["on_hand_after"]
                .as_i64()
                .expect("balance")
        })
        .collect();
    assert_eq!(balances, (0..10).rev().collect::<Vec<i64>>());
}
