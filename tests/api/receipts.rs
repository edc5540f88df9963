//! Receipt numbers survive a crash: 16 tills' worth of concurrent sales on one till, the
//! real binary SIGKILLed in the middle, restarted on the same data. The till's receipts
//! are then 1…N with no gap and no number twice, every acknowledged sale keeps the number
//! it was given, and the next sale takes N + 1.

use crate::crash_cycles::Client;
use crate::process::{command, start};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SELLERS: usize = 16;
const SKU: &str = "EPI-0002";

/// Every sale of store 1 with a receipt: receipt number → sale id.
fn receipts(till: &Client) -> Vec<(u64, u64)> {
    let mut found = Vec::new();
    for page in 1.. {
        let listed = till.get(&format!("/api/v1/stores/1/sales?per_page=200&page={page}"));
        let items = listed["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for sale in items {
            if let Some(number) = sale["receipt_number"].as_str() {
                let n = number.rsplit('-').next().and_then(|n| n.parse().ok());
                found.push((
                    n.expect("a receipt number"),
                    sale["id"].as_u64().expect("an id"),
                ));
            }
        }
    }
    found.sort_unstable();
    found
}

/// Status and body of a POST with a key; `None` when the server is gone.
fn post(till: &Client, path: &str, key: &str, body: &Value) -> Option<(u16, Value)> {
    till.post(path, Some(key), body)
        .map(|(status, _, body)| (status, body))
}
fn sale(n: usize) -> Value {
    json!({"lines": [{"sku": SKU, "quantity": 1 + n % 2}], "till": 1,
           "tenders": [{"type": "cash", "amount_cents": 100_000}]})
}

#[test]
fn receipt_numbers_stay_gap_free_and_unique_across_a_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = start(command(&data));
    let till = Client::connect(&server.base);
    let counted = json!({"reason": "inventaire", "lines": [{"sku": SKU, "counted": 900_000}]});
    assert_eq!(
        post(&till, "/api/v1/stores/1/adjustments", "count", &counted).map(|r| r.0),
        Some(201)
    );
    let opened = post(
        &till,
        "/api/v1/stores/1/tills/1/sessions",
        "open",
        &json!({"float_cents": 0}),
    );
    assert_eq!(opened.map(|r| r.0), Some(201));

    // receipt number → sale id, as acknowledged.
    let acknowledged = Arc::new(Mutex::new(BTreeMap::new()));
    let sellers: Vec<_> = (0..SELLERS)
        .map(|seller| {
            let till = Client::connect(&server.base);
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                for n in 0..100_000 {
                    let Some((status, body)) = post(
                        &till,
                        "/api/v1/stores/1/sales",
                        &format!("s{seller}-{n}"),
                        &sale(n),
                    ) else {
                        return;
                    };
                    assert_eq!(status, 201, "{body}");
                    let number = body["receipt_number"].as_str().expect("a receipt");
                    let n: u64 = number
                        .rsplit('-')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .expect("digits");
                    let id = body["id"].as_u64().expect("an id");
                    let before = acknowledged.lock().expect("lock").insert(n, id);
                    assert_eq!(before, None, "receipt {number} given twice");
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1_500));
    let mut child = server.child;
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    for seller in sellers {
        seller.join().expect("a seller");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() > 16,
        "sales were acknowledged before the kill: {}",
        acknowledged.len()
    );

    let server = start(command(&data));
    let till = Client::connect(&server.base);
    let receipts = receipts(&till);
    let numbers: Vec<u64> = receipts.iter().map(|(n, _)| *n).collect();
    let last = numbers.len() as u64;
    assert_eq!(
        numbers,
        (1..=last).collect::<Vec<_>>(),
        "receipts are 1…N, no gap, none twice"
    );
    for (number, id) in &acknowledged {
        assert!(
            receipts.contains(&(*number, *id)),
            "acknowledged receipt {number} (sale {id}) kept"
        );
    }
    eprintln!(
        "receipts: {} sales acknowledged before the kill; {last} receipts after the restart",
        acknowledged.len()
    );
    let next = post(&till, "/api/v1/stores/1/sales", "after", &sale(0)).expect("an answer");
    assert_eq!(next.0, 201, "{}", next.1);
    assert_eq!(
        next.1["receipt_number"],
        json!(format!("1-01-{:06}", last + 1))
    );
    assert!(server.terminate());
}
