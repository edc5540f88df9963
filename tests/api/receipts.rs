//! Receipt numbers survive a crash: 16 tills' worth of concurrent sales on one till, the
//! real binary SIGKILLed in the middle, restarted on the same data. The till's receipts
//! are then 1…N with no gap and no number twice, every acknowledged sale keeps the number
//! it was given, and the next sale takes N + 1.

use crate::process::{command, start};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SELLERS: usize = 16;
const SKU: &str = "EPI-0002";

struct Till {
    base: String,
    auth: String,
    agent: ureq::Agent,
}

impl Till {
    fn connect(base: &str) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(20))
            .build();
        let login: Value = agent
            .post(&format!("{base}/api/v1/auth/login"))
            .send_json(json!({"username": "admin", "password": "demo"}))
            .expect("login")
            .into_json()
            .expect("a login answer");
        let token = login["token"].as_str().expect("a token");
        Self {
            base: base.to_owned(),
            auth: format!("Bearer {token}"),
            agent,
        }
    }

    /// Status and body; `None` when the server is gone.
    fn post(&self, path: &str, key: &str, body: &Value) -> Option<(u16, Value)> {
        let sent = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Authorization", &self.auth)
            .set("Idempotency-Key", key)
            .send_json(body);
        match sent {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                Some((r.status(), r.into_json().unwrap_or(Value::Null)))
            }
            Err(_) => None,
        }
    }

    fn get(&self, path: &str) -> Value {
        self.agent
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &self.auth)
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .into_json()
            .expect("JSON")
    }

    /// Every sale of store 1 with a receipt: receipt number → sale id.
    fn receipts(&self) -> Vec<(u64, u64)> {
        let mut found = Vec::new();
        for page in 1.. {
            let listed = self.get(&format!("/api/v1/stores/1/sales?per_page=200&page={page}"));
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
    let till = Till::connect(&server.base);
    let counted = json!({"reason": "inventaire", "lines": [{"sku": SKU, "counted": 900_000}]});
    assert_eq!(
        till.post("/api/v1/stores/1/adjustments", "count", &counted)
            .map(|r| r.0),
        Some(201)
    );
    let opened = till.post(
        "/api/v1/stores/1/tills/1/sessions",
        "open",
        &json!({"float_cents": 0}),
    );
    assert_eq!(opened.map(|r| r.0), Some(201));

    // receipt number → sale id, as acknowledged.
    let acknowledged = Arc::new(Mutex::new(BTreeMap::new()));
    let sellers: Vec<_> = (0..SELLERS)
        .map(|seller| {
            let till = Till::connect(&server.base);
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                for n in 0..100_000 {
                    let Some((status, body)) = till.post(
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
    let till = Till::connect(&server.base);
    let receipts = till.receipts();
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
    let next = till
        .post("/api/v1/stores/1/sales", "after", &sale(0))
        .expect("an answer");
    assert_eq!(next.0, 201, "{}", next.1);
    assert_eq!(
        next.1["receipt_number"],
        json!(format!("1-01-{:06}", last + 1))
    );
    assert!(server.terminate());
}
