//! Reorder points from sales (ADR 0030): the preview beside the current levels, applying
//! proposals to a store's lines, who may, and bad selections that change nothing.

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app_with};
use serde_json::{Value, json};

const WINDOW: usize = 10;
const LEAD_DAYS: f64 = 3.0;
const REVIEW_DAYS: u32 = 7;
/// z of a 95 % cycle service level.
const Z_95: f64 = 1.644_853_6;

fn app() -> TestApp {
    spawn_app_with(|s| {
        s.replenishment.window_days = WINDOW as u32;
        s.replenishment.review_days = REVIEW_DAYS;
        s.replenishment.lead_time_days = LEAD_DAYS;
        s.replenishment.service_level = 0.95;
    })
}

/// The levels the formula gives a window with `today` units sold today and none before,
/// computed here without the server's code: ⌈mean·L + z·σ·√L⌉ and + ⌈mean·review⌉.
fn expected(today: u64) -> (u64, u64) {
    let mut days = vec![0.0; WINDOW - 1];
    days.push(today as f64);
    let n = WINDOW as f64;
    let mean = days.iter().sum::<f64>() / n;
    let sigma = (days.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let reorder = (mean * LEAD_DAYS + Z_95 * sigma * LEAD_DAYS.sqrt()).ceil() as u64;
    (
        reorder,
        reorder + (mean * f64::from(REVIEW_DAYS)).ceil() as u64,
    )
}

fn sell(app: &TestApp, sku: &str, quantity: u32) {
    let sold = app.post(
        "/api/v1/stores/1/sales",
        &json!({"lines": [{"sku": sku, "quantity": quantity}]}),
    );
    assert_eq!(sold.status, 201, "{:?}", sold.body);
}

fn line<'a>(preview: &'a Value, sku: &str) -> &'a Value {
    preview["lines"]
        .as_array()
        .and_then(|lines| lines.iter().find(|l| l["sku"] == sku))
        .unwrap_or_else(|| panic!("{sku} in the preview"))
}

fn levels(app: &TestApp, sku: &str) -> (u64, u64) {
    let line = app.get(&format!("/api/v1/stores/1/stock/{sku}")).body;
    let level = |field: &str| line[field].as_u64().expect("a level");
    (level("reorder_point"), level("target_level"))
}

#[test]
fn proposals_from_the_store_s_sales_are_previewed_then_applied() {
    let app = app();
    let (syrup, flour, rice) = ("EPI-0001", "EPI-0002", "EPI-0004");
    app.count(1, syrup, 100);
    app.count(1, flour, 100);
    for quantity in [4, 5, 6] {
        sell(&app, syrup, quantity);
    }
    sell(&app, flour, 2);
    let before = (levels(&app, syrup), levels(&app, flour), levels(&app, rice));

    let manager = app.login("gestionnaire1");
    let preview = app.get_as(Some(&manager), "/api/v1/stores/1/reorder-proposals");
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    let body = &preview.body;
    assert_eq!(body["window_days"], WINDOW);
    assert_eq!(body["lead_time"]["source"], "configured");
    assert_eq!(body["lead_time"]["days"], LEAD_DAYS);
    assert!((body["z"].as_f64().expect("z") - Z_95).abs() < 1e-6);
    let proposed = &line(body, syrup)["proposed"];
    assert!((proposed["demand"]["mean"].as_f64().expect("mean") - 1.5).abs() < 1e-9);
    let (reorder, target) = expected(15);
    assert_eq!(proposed["reorder_point"], reorder);
    assert_eq!(proposed["target_level"], target);
    assert_eq!(
        line(body, syrup)["reorder_point"],
        before.0.0,
        "current beside proposed"
    );
    assert!(
        line(body, rice)["proposed"].is_null(),
        "no sale, no proposal"
    );
    assert_eq!(levels(&app, syrup), before.0, "a preview changes nothing");

    // Bad selections: 400 naming the field, nothing changed.
    let apply = "/api/v1/stores/1/reorder-proposals/apply";
    for (body, field) in [
        (json!({"skus": ["pas un sku"]}), "skus[0]"),
        (json!({"skus": [syrup, "ZZZ-9999"]}), "skus[1]"),
        (json!({}), "skus"),
        (json!({"all": true, "skus": [syrup]}), "skus"),
        (json!({"skus": []}), "skus"),
    ] {
        let refused = app.post_as(Some(&manager), apply, &body);
        assert_problem(&refused, 400, "validation_failed");
        assert_eq!(error_fields(&refused), vec![field], "{body}");
    }
    assert_eq!(levels(&app, syrup), before.0);

    // The manager applies one line of their store, not another store's; a cashier none.
    let elsewhere = "/api/v1/stores/2/reorder-proposals/apply";
    let refused = app.post_as(Some(&manager), elsewhere, &json!({"all": true}));
    assert_problem(&refused, 403, "forbidden_store");
    let cashier = app.login("caissier1");
    let refused = app.post_as(Some(&cashier), apply, &json!({"all": true}));
    assert_problem(&refused, 403, "forbidden");
    let applied = app.post_as(Some(&manager), apply, &json!({"skus": [syrup]}));
    assert_eq!(applied.status, 200, "{:?}", applied.body);
    assert_eq!(applied.body["applied"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        applied.body["applied"][0]["previous_target_level"],
        before.0.1
    );
    assert_eq!(levels(&app, syrup), (reorder, target));
    assert_eq!(levels(&app, flour), before.1);

    // Head office applies all: the other sold line; unsold lines keep their levels.
    let all = app.post(apply, &json!({"all": true}));
    assert_eq!(all.status, 200, "{:?}", all.body);
    let skus: Vec<&Value> = all.body["applied"]
        .as_array()
        .map(|a| a.iter().map(|l| &l["sku"]).collect())
        .unwrap_or_default();
    assert_eq!(skus, vec![flour]);
    assert_eq!(levels(&app, flour), expected(2));
    assert_eq!(levels(&app, rice), before.2);
    let again = app.post(apply, &json!({"all": true}));
    assert_eq!(
        again.body["applied"],
        json!([]),
        "applying again changes nothing"
    );
    let after = app.get("/api/v1/stores/1/reorder-proposals").body;
    assert_eq!(line(&after, syrup)["changes"], false);
}

/// The automatic requests filed by the daily task of `store`.
fn automatic_requests(app: &TestApp, store: u32) -> Vec<Value> {
    let listed = app.get(&format!(
        "/api/v1/stores/{store}/restock-requests?per_page=100"
    ));
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    listed.body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|r| r["requested_by"] == "reappro.auto")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_store_that_opted_in_files_one_automatic_request_a_day_and_the_others_none() {
    // From midnight: whenever the test runs, the day's request is due.
    let app = spawn_app_with(|s| {
        s.auto_restock.stores = vec![1];
        s.auto_restock.hour = 0;
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let filed = loop {
        let filed = automatic_requests(&app, 1);
        if !filed.is_empty() || std::time::Instant::now() > deadline {
            break filed;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(filed.len(), 1, "{filed:?}");
    let request = &filed[0];
    assert_eq!(request["automatic"], true);
    // The demo's lines under their reorder point.
    let lines = request["lines"].as_array().expect("lines");
    assert!(!lines.is_empty());
    for line in lines {
        let sku = line["sku"].as_str().expect("a SKU");
        let stock = app.get(&format!("/api/v1/stores/1/stock/{sku}")).body;
        assert_eq!(stock["low"], true, "{sku}");
        let target = stock["target_level"].as_u64().expect("target");
        let on_hand = stock["on_hand"].as_u64().expect("on hand");
        // Up to its target, less what an earlier request has on its way.
        let requested = line["requested"].as_u64().expect("requested");
        assert!(
            requested > 0 && requested <= target - on_hand,
            "{sku}: {line}"
        );
    }
    assert!(
        automatic_requests(&app, 2).is_empty(),
        "store 2 did not opt in"
    );
}

#[test]
fn a_route_with_a_received_restock_uses_its_measured_lead_time() {
    let app = app();
    let sku = "EPI-0001";
    app.count(1, sku, 100);
    sell(&app, sku, 15);
    let (manager, logistics) = (app.login("gestionnaire1"), app.login("logistique"));
    let created = app.post_as(
        Some(&manager),
        "/api/v1/stores/1/restock-requests",
        &json!({"lines": [{"sku": sku, "quantity": 5}]}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    for step in ["allocate", "ship"] {
        let path = format!("/api/v1/logistics/restock-requests/{id}/{step}");
        let done = app.post_as(Some(&logistics), &path, &json!({}));
        assert_eq!(done.status, 200, "{step}: {:?}", done.body);
    }
    let path = format!("/api/v1/stores/1/restock-requests/{id}/receive");
    let received = app.post_as(Some(&manager), &path, &json!({}));
    assert_eq!(received.status, 200, "{:?}", received.body);

    let preview = app.get("/api/v1/stores/1/reorder-proposals").body;
    assert_eq!(preview["lead_time"]["source"], "measured");
    assert_eq!(preview["lead_time"]["samples"], 1);
    let days = preview["lead_time"]["days"].as_f64().expect("days");
    assert!(
        (0.0..0.01).contains(&days),
        "received within the test: {days}"
    );
    // The proposal uses it: 15 units today, none the 9 days before.
    let n = WINDOW as f64;
    let mean = 15.0 / n;
    let sigma = (((n - 1.0) * mean * mean + (15.0 - mean).powi(2)) / (n - 1.0)).sqrt();
    let reorder = (mean * days + Z_95 * sigma * days.sqrt()).ceil();
    assert_eq!(line(&preview, sku)["proposed"]["reorder_point"], reorder);
    assert_eq!(
        line(&preview, sku)["proposed"]["lead_time"]["source"],
        "measured"
    );
}
