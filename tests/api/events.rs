//! Server-Sent Events: a subscriber sees a sale within a second of its 201, filtered by
//! role, and resumes with `Last-Event-ID` without losing anything.

use crate::helpers::{TestApp, spawn_app};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Sse {
    id: u64,
    kind: String,
    data: Value,
}

/// Subscribes with `token` (after `last_id` if given); events arrive on the channel.
fn subscribe(app: &TestApp, token: &str, last_id: Option<u64>) -> mpsc::Receiver<Sse> {
    let agent = ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(30))
        .build();
    let mut request = agent
        .get(&app.url("/api/v1/events"))
        .set("Authorization", &format!("Bearer {token}"));
    if let Some(id) = last_id {
        request = request.set("Last-Event-ID", &id.to_string());
    }
    let response = request.call().expect("the feed opens");
    assert_eq!(response.header("Content-Type"), Some("text/event-stream"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut id, mut kind, mut data) = (0, String::new(), Value::Null);
        for line in BufReader::new(response.into_reader())
            .lines()
            .map_while(Result::ok)
        {
            if let Some(v) = line.strip_prefix("id: ") {
                id = v.parse().unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("event: ") {
                kind = v.to_owned();
            } else if let Some(v) = line.strip_prefix("data: ") {
                data = serde_json::from_str(v).unwrap_or(Value::Null);
            } else if line.is_empty() && !kind.is_empty() {
                let event = Sse {
                    id,
                    kind: std::mem::take(&mut kind),
                    data: std::mem::take(&mut data),
                };
                if tx.send(event).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The next sale event, waiting at most `within`.
fn next_sale(events: &mpsc::Receiver<Sse>, within: Duration) -> Option<Sse> {
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match events.recv_timeout(left) {
            Ok(event) if event.kind == "sale_recorded" => return Some(event),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

fn sell(app: &TestApp, store: u32) -> u64 {
    let r = app.post(
        &format!("/api/v1/stores/{store}/sales"),
        &json!({"lines": [{"sku": "EPI-0001", "quantity": 1}]}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_u64().expect("sale id")
}

#[test]
fn a_subscriber_sees_a_sale_within_a_second_of_its_201() {
    let app = spawn_app();
    app.count(1, "EPI-0001", 100);
    app.count(2, "EPI-0001", 100);
    let events = subscribe(&app, &app.login("caissier1"), None);
    let other_store = subscribe(&app, &app.login("caissier2"), None);
    let sale = sell(&app, 1);
    let seen = next_sale(&events, Duration::from_secs(1)).expect("the sale within a second");
    assert_eq!(seen.data["sale_id"], sale);
    assert_eq!(seen.data["store_id"], 1);
    // Store 2's cashier does not see store 1: the first sale it sees is its own store's.
    let own = sell(&app, 2);
    let seen = next_sale(&other_store, Duration::from_secs(5)).expect("its own store's sale");
    assert_eq!(
        (seen.data["store_id"].clone(), seen.data["sale_id"].clone()),
        (json!(2), json!(own))
    );
}

#[test]
fn resuming_with_last_event_id_loses_nothing() {
    let app = spawn_app();
    app.count(3, "EPI-0001", 100);
    let admin = app.admin.clone().expect("admin token");
    let events = subscribe(&app, &admin, None);
    sell(&app, 3);
    let last = next_sale(&events, Duration::from_secs(5)).expect("a first sale");
    drop(events);
    let missed: Vec<u64> = (0..3).map(|_| sell(&app, 3)).collect();
    let resumed = subscribe(&app, &admin, Some(last.id));
    let replayed: Vec<u64> = (0..3)
        .map(|_| {
            next_sale(&resumed, Duration::from_secs(5))
                .expect("a missed sale")
                .data["sale_id"]
                .as_u64()
                .expect("sale id")
        })
        .collect();
    assert_eq!(replayed, missed);
    // And the feed goes on live after the replay.
    let live = sell(&app, 3);
    assert_eq!(
        next_sale(&resumed, Duration::from_secs(5))
            .expect("live again")
            .data["sale_id"],
        live
    );
}
