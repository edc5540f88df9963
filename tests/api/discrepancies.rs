//! Receipts with discrepancies: a store counts what arrived (received, damaged with a
//! reason, missing); damaged units are written off in its ledger, missing ones are settled
//! at the logistics center (lost in transit, or found). Stock is conserved throughout, and
//! after a SIGKILL between the steps.

use crate::crash_cycles::Client;
use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};
use crate::process::{command, start};
use serde_json::{Value, json};
use std::path::Path;

const STORES: std::ops::RangeInclusive<u32> = 1..=5;

/// Every entry of a ledger (`path` answers `{items, next_after}` pages).
fn whole_ledger(get: &dyn Fn(&str) -> Value, path: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = get(&format!("{path}?after={after}&limit=1000"));
        entries.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_after"].as_u64() {
            Some(next) => after = next,
            None => return entries,
        }
    }
}

/// Units of `sku` written off at `store`, read from its ledger.
fn written_off(get: &dyn Fn(&str) -> Value, store: u32, sku: &str) -> i64 {
    whole_ledger(get, &format!("/api/v1/stores/{store}/ledger"))
        .iter()
        .flat_map(|e| e["written_off"].as_array().cloned().unwrap_or_default())
        .filter(|w| w["sku"] == sku)
        .map(|w| w["quantity"].as_i64().expect("quantity"))
        .sum()
}

/// The central line of `sku`: on hand, allocated, in transit, missing, lost.
fn central_line(get: &dyn Fn(&str) -> Value, sku: &str) -> [i64; 5] {
    let page = get(&format!("/api/v1/logistics/stock?q={sku}"));
    let line = &page["items"][0];
    assert_eq!(line["sku"], sku, "{page}");
    ["on_hand", "allocated", "in_transit", "missing", "lost"]
        .map(|field| line[field].as_i64().expect("a central figure"))
}

/// Center (available, allocated, in transit, missing to settle, lost) + every store's
/// on-hand and written-off units: what came in, however the units moved.
fn units_in_the_chain(get: &dyn Fn(&str) -> Value, sku: &str) -> i64 {
    let central: i64 = central_line(get, sku).iter().sum();
    let stores: i64 = STORES
        .map(|store| {
            get(&format!("/api/v1/stores/{store}/stock/{sku}"))["on_hand"]
                .as_i64()
                .expect("on_hand")
                + written_off(get, store, sku)
        })
        .sum();
    central + stores
}

fn app_get(app: &TestApp) -> impl Fn(&str) -> Value + '_ {
    |path| {
        let r = app.get(path);
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        r.body
    }
}

/// A product with at least `units` in central stock.
fn stocked(get: &dyn Fn(&str) -> Value, units: i64) -> String {
    get("/api/v1/logistics/stock?per_page=200")["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|l| l["on_hand"].as_i64().unwrap_or(0) >= units)
        .and_then(|l| l["sku"].as_str())
        .expect("a product with central stock")
        .to_owned()
}

/// A request of `quantity` units of `sku` at `store`, allocated and shipped.
fn shipped(app: &TestApp, store: u32, sku: &str, quantity: i64) -> String {
    let created = app.post(
        &format!("/api/v1/stores/{store}/restock-requests"),
        &json!({"lines": [{"sku": sku, "quantity": quantity}]}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    for step in ["allocate", "ship"] {
        let r = app.post(
            &format!("/api/v1/logistics/restock-requests/{id}/{step}"),
            &json!({}),
        );
        assert_eq!(r.status, 200, "{step}: {:?}", r.body);
    }
    id
}

/// The last `restock_received` entry of a store's ledger.
fn last_receipt(get: &dyn Fn(&str) -> Value, store: u32) -> Value {
    whole_ledger(get, &format!("/api/v1/stores/{store}/ledger"))
        .into_iter()
        .rev()
        .find(|e| e["type"] == "restock_received")
        .expect("a receipt in the ledger")
}

fn central_kinds(get: &dyn Fn(&str) -> Value, sku: &str, id: &str) -> Vec<(String, i64)> {
    whole_ledger(get, &format!("/api/v1/logistics/stock/{sku}/ledger"))
        .iter()
        .filter(|e| e["restock_id"] == id)
        .map(|e| {
            (
                e["type"].as_str().expect("type").to_owned(),
                e["quantity"].as_i64().expect("quantity"),
            )
        })
        .collect()
}

#[test]
fn two_damaged_and_one_missing_agree_in_both_ledgers_and_conserve_stock() {
    let app = spawn_app();
    let get = app_get(&app);
    let sku = stocked(&get, 20);
    let before = units_in_the_chain(&get, &sku);
    let on_hand_before = app.on_hand(1, &sku);
    let id = shipped(&app, 1, &sku, 10);
    let receive = format!("/api/v1/stores/1/restock-requests/{id}/receive");

    let short = app.post(
        &receive,
        &json!({"lines": [{"sku": sku, "received": 7, "damaged": 2, "damage_reason": "broken"}]}),
    );
    assert_problem(&short, 400, "receipt_mismatch");
    assert_eq!(error_fields(&short), ["lines[0]"]);
    let no_reason = app.post(
        &receive,
        &json!({"lines": [{"sku": sku, "received": 7, "damaged": 2, "missing": 1}]}),
    );
    assert_problem(&no_reason, 400, "validation_failed");
    assert_eq!(error_fields(&no_reason), ["lines[0].damage_reason"]);
    let bad = app.post(
        &receive,
        &json!({"lines": [{"sku": sku, "received": -1, "damaged": 2, "damage_reason": "fondu", "missing": 1}]}),
    );
    assert_problem(&bad, 400, "validation_failed");
    assert_eq!(
        error_fields(&bad),
        ["lines[0].received", "lines[0].damage_reason"]
    );
    let still = app.get(&format!("/api/v1/stores/1/restock-requests/{id}"));
    assert_eq!(
        still.body["status"], "shipped",
        "a refused receipt changes nothing"
    );
    assert_eq!(app.on_hand(1, &sku), on_hand_before);

    let body = json!({"lines": [{"sku": sku, "received": 7, "damaged": 2,
                                 "damage_reason": "broken", "missing": 1}]});
    let received = app.post_with_key(&receive, "reception-1", &body);
    assert_eq!(received.status, 200, "{:?}", received.body);
    let again = app.post_with_key(&receive, "reception-1", &body);
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body, received.body, "a retry answers the same");
    let line = &received.body["lines"][0];
    assert_eq!(received.body["status"], "received");
    assert_eq!(
        (
            &line["shipped"],
            &line["received"],
            &line["missing"],
            &line["in_transit"]
        ),
        (&json!(10), &json!(9), &json!(1), &json!(0))
    );
    assert_eq!(
        app.on_hand(1, &sku),
        on_hand_before + 7,
        "only good units on hand"
    );

    let entry = last_receipt(&get, 1);
    assert_eq!(entry["restock_id"], id.as_str());
    assert_eq!(entry["movements"][0]["change"], 7);
    assert_eq!(entry["movements"][0]["on_hand_after"], on_hand_before + 7);
    assert_eq!(
        entry["written_off"],
        json!([{"sku": sku, "quantity": 2, "reason": "broken"}])
    );
    assert_eq!(entry["missing"], json!([{"sku": sku, "quantity": 1}]));
    assert_eq!(
        central_kinds(&get, &sku, &id),
        [
            ("allocated".to_owned(), 10),
            ("shipped".to_owned(), 10),
            ("delivered_short".to_owned(), 9)
        ]
    );
    assert_eq!(
        central_line(&get, &sku)[3..],
        [1, 0],
        "1 missing, none lost yet"
    );
    assert_eq!(units_in_the_chain(&get, &sku), before);

    let missing = format!("/api/v1/logistics/restock-requests/{id}/missing");
    let lost = app.post(&missing, &json!({"sku": sku, "outcome": "lost"}));
    assert_eq!(lost.status, 200, "{:?}", lost.body);
    assert_eq!(lost.body["quantity"], 1);
    let retry = app.post(&missing, &json!({"sku": sku, "outcome": "lost"}));
    assert_eq!(retry.body["quantity"], 0, "a retry settles nothing more");
    let wrong = app.post(&missing, &json!({"sku": sku, "outcome": "vole"}));
    assert_problem(&wrong, 400, "validation_failed");
    assert_eq!(error_fields(&wrong), ["outcome"]);
    assert_eq!(central_line(&get, &sku)[3..], [0, 1]);
    assert_eq!(
        central_kinds(&get, &sku, &id).last(),
        Some(&("lost_in_transit".to_owned(), 1))
    );
    assert_eq!(units_in_the_chain(&get, &sku), before);
}

#[test]
fn missing_units_found_go_back_to_central_stock_and_an_empty_body_receives_all() {
    let app = spawn_app();
    let get = app_get(&app);
    let sku = stocked(&get, 20);
    let before = units_in_the_chain(&get, &sku);
    let on_hand_before = app.on_hand(2, &sku);

    let whole = shipped(&app, 2, &sku, 3);
    let all = app.post_raw(
        &format!("/api/v1/stores/2/restock-requests/{whole}/receive"),
        "application/json",
        "",
    );
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(all.body["lines"][0]["received"], 3);
    assert_eq!(app.on_hand(2, &sku), on_hand_before + 3);

    let id = shipped(&app, 2, &sku, 5);
    let counted = app.post(
        &format!("/api/v1/stores/2/restock-requests/{id}/receive"),
        &json!({"lines": [{"sku": sku, "received": 3, "missing": 2}]}),
    );
    assert_eq!(counted.status, 200, "{:?}", counted.body);
    let central_before = central_line(&get, &sku)[0];
    let found = app.post(
        &format!("/api/v1/logistics/restock-requests/{id}/missing"),
        &json!({"sku": sku, "outcome": "found"}),
    );
    assert_eq!(found.body["quantity"], 2, "{:?}", found.body);
    assert_eq!(
        central_line(&get, &sku)[0],
        central_before + 2,
        "found units are available to send again"
    );
    assert_eq!(app.on_hand(2, &sku), on_hand_before + 6);
    assert_eq!(units_in_the_chain(&get, &sku), before);
}

/// The binary on `data_dir`, its log beside it.
fn binary(data_dir: &Path) -> std::process::Command {
    let mut command = command(data_dir);
    command.args(["--backend", "sqlite"]);
    if let Ok(log) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.with_file_name("server.log"))
    {
        command.stderr(log);
    }
    command
}

/// SIGKILL before shipping, before the receipt with discrepancies, before settling the
/// missing unit and at the end: after each restart both ledgers and the conservation
/// check agree.
#[test]
fn a_receipt_with_discrepancies_survives_sigkill_between_its_steps() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let sku = "EPI-0002";
    let mut server = start(binary(&data));
    let client = Client::connect(&server.base);
    let get = |path: &str| client.get(path);
    let before = units_in_the_chain(&get, sku);
    let on_hand_before = get(&format!("/api/v1/stores/3/stock/{sku}"))["on_hand"]
        .as_i64()
        .expect("on_hand");
    let created = client
        .post(
            "/api/v1/stores/3/restock-requests",
            Some("demande-ecarts"),
            &json!({"lines": [{"sku": sku, "quantity": 10}]}),
        )
        .expect("an answer");
    assert_eq!(created.0, 201, "{}", created.2);
    let id = created.2["id"].as_str().expect("id").to_owned();
    let steps = [
        (
            format!("/api/v1/logistics/restock-requests/{id}/allocate"),
            json!({}),
        ),
        (
            format!("/api/v1/logistics/restock-requests/{id}/ship"),
            json!({}),
        ),
        (
            format!("/api/v1/stores/3/restock-requests/{id}/receive"),
            json!({"lines": [{"sku": sku, "received": 7, "damaged": 2,
                              "damage_reason": "wet", "missing": 1}]}),
        ),
        (
            format!("/api/v1/logistics/restock-requests/{id}/missing"),
            json!({"sku": sku, "outcome": "lost"}),
        ),
    ];
    for (path, body) in &steps {
        let client = Client::connect(&server.base);
        let answer = client.post(path, None, body).expect("an answer");
        assert_eq!(answer.0, 200, "{path}: {}", answer.2);
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reaped");
        server = start(binary(&data));
        let client = Client::connect(&server.base);
        let get = |path: &str| client.get(path);
        assert_eq!(
            units_in_the_chain(&get, sku),
            before,
            "conserved after a kill following {path}"
        );
    }
    let client = Client::connect(&server.base);
    let get = |path: &str| client.get(path);
    let done = get(&format!("/api/v1/stores/3/restock-requests/{id}"));
    assert_eq!(done["status"], "received");
    assert_eq!(done["lines"][0]["missing"], 1);
    assert_eq!(
        get(&format!("/api/v1/stores/3/stock/{sku}"))["on_hand"],
        on_hand_before + 7
    );
    let entry = last_receipt(&get, 3);
    assert_eq!(
        entry["written_off"],
        json!([{"sku": sku, "quantity": 2, "reason": "wet"}])
    );
    assert_eq!(entry["missing"], json!([{"sku": sku, "quantity": 1}]));
    let kinds: Vec<String> = central_kinds(&get, sku, &id)
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(
        kinds,
        ["allocated", "shipped", "delivered_short", "lost_in_transit"]
    );
    assert_eq!(central_line(&get, sku)[3], 0, "nothing left to settle");
    assert_eq!(units_in_the_chain(&get, sku), before);
    // A retry of the receipt after everything moves nothing.
    let retry = client
        .post(&steps[2].0, None, &steps[2].1)
        .expect("an answer");
    assert_eq!(retry.0, 200, "{}", retry.2);
    assert_eq!(units_in_the_chain(&get, sku), before);
    assert!(server.terminate());
}

/// Through HAProxy on the local cluster: a store and a product held by different
/// instances; the receipt's short delivery and the settling of the missing units reach the
/// product's owner over the internal API, and the chain's figures still add up.
#[test]
fn across_instances_the_center_settles_what_a_store_did_not_receive() {
    use crate::cluster_local::{free_ports, start};
    use magasin::cluster::{owner, product_key, store_key};
    use magasin::domain::{Sku, StoreId};

    let temp = tempfile::tempdir().expect("a temp dir");
    let cluster = start(temp.path(), free_ports());
    let client = cluster.client();
    let token = cluster.admin_token(&client);
    let get = |path: &str| cluster.get_ok(&client, &token, path);
    let post = |path: &str, body: Value| -> (u16, Value) {
        let (status, _, answer) = cluster.post(&client, &token, path, None, &body);
        (status, answer)
    };
    let names: Vec<String> = ["magasin-1", "magasin-2", "magasin-3"]
        .map(str::to_owned)
        .to_vec();
    let store = 2;
    let store_owner = owner(&store_key(StoreId::new(store).expect("valid")), &names);
    let sku = get("/api/v1/logistics/stock?per_page=200")["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|l| l["on_hand"].as_i64().unwrap_or(0) >= 10)
        .filter_map(|l| l["sku"].as_str().map(str::to_owned))
        .find(|k| owner(&product_key(&Sku::parse(k).expect("a SKU")), &names) != store_owner)
        .expect("a product held by another instance than the store's");
    let before = units_in_the_chain(&get, &sku);

    let (status, created) = post(
        &format!("/api/v1/stores/{store}/restock-requests"),
        json!({"lines": [{"sku": sku, "quantity": 6}]}),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    for step in ["allocate", "ship"] {
        let (status, body) = post(
            &format!("/api/v1/logistics/restock-requests/{id}/{step}"),
            json!({}),
        );
        assert_eq!(status, 200, "{step}: {body}");
    }
    let (status, body) = post(
        &format!("/api/v1/stores/{store}/restock-requests/{id}/receive"),
        json!({"lines": [{"sku": sku, "received": 3, "damaged": 1,
                          "damage_reason": "expired", "missing": 2}]}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        central_line(&get, &sku)[3],
        2,
        "2 missing, held by the product's owner"
    );
    assert_eq!(units_in_the_chain(&get, &sku), before);
    let central_before = central_line(&get, &sku)[0];
    let (status, body) = post(
        &format!("/api/v1/logistics/restock-requests/{id}/missing"),
        json!({"sku": sku, "outcome": "found"}),
    );
    assert_eq!((status, &body["quantity"]), (200, &json!(2)), "{body}");
    assert_eq!(central_line(&get, &sku)[0], central_before + 2);
    assert_eq!(central_line(&get, &sku)[3], 0);
    assert_eq!(units_in_the_chain(&get, &sku), before);
    let kinds: Vec<String> = central_kinds(&get, &sku, &id)
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "allocated",
            "shipped",
            "delivered_short",
            "found_after_transit"
        ]
    );
    cluster.stop();
}
