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
                let r = app.sell(
                    1,
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
    assert_eq!(app.sales(1).body["total"], 10);
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

/// Two tills (or one till's retry racing its first try) send the same sale with the same
/// Idempotency-Key at the same instant: one sale is recorded, and both get its answer.
#[test]
fn two_requests_with_the_same_key_at_once_record_one_sale_and_get_the_same_answer() {
    let app = Arc::new(spawn_app());
    let [(sku, _), _] = two_products(&app, 1, [10, 0]);
    let before = app.sales(1).body["total"].as_i64().expect("total");
    let start = Arc::new(Barrier::new(2));
    let body = json!({"lines": [{"sku": sku, "quantity": 3}]});
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let (app, start, body) = (app.clone(), start.clone(), body.clone());
            std::thread::spawn(move || {
                start.wait();
                app.sell(1, "course-meme-cle", &body)
            })
        })
        .collect();
    let replies: Vec<_> = racers
        .into_iter()
        .map(|r| r.join().expect("racer thread"))
        .collect();
    let (first, second) = (&replies[0], &replies[1]);
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(
        (first.status, &first.body),
        (second.status, &second.body),
        "both answers are the one sale's"
    );
    assert_eq!(
        replies.iter().filter(|r| r.replayed).count(),
        1,
        "one answer is the sale, the other its replay"
    );
    assert_eq!(app.sales(1).body["total"].as_i64(), Some(before + 1));
    assert_eq!(app.on_hand(1, &sku), 7, "the units left once");
}
