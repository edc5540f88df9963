//! Transfers between stores: request, ship (the units leave the sending store and are in
//! transit), receive (counted like a restock: received, damaged and written off, missing).
//! Stock is conserved, retries move nothing, and two stores on different instances of the
//! local cluster complete one through HAProxy.

use crate::cluster_local::{free_ports, start};
use crate::helpers::{assert_problem, error_fields, spawn_app};
use magasin::cluster::{owner, store_key};
use magasin::domain::StoreId;
use serde_json::{Value, json};

/// Units of `sku` written off at `store`, from its ledger.
fn written_off(get: &dyn Fn(&str) -> Value, store: u32, sku: &str) -> i64 {
    get(&format!("/api/v1/stores/{store}/ledger?limit=1000"))["items"]
        .as_array()
        .expect("items")
        .iter()
        .flat_map(|e| e["written_off"].as_array().cloned().unwrap_or_default())
        .filter(|w| w["sku"] == sku)
        .map(|w| w["quantity"].as_i64().expect("quantity"))
        .sum()
}

fn on_hand(get: &dyn Fn(&str) -> Value, store: u32, sku: &str) -> i64 {
    get(&format!("/api/v1/stores/{store}/stock/{sku}"))["on_hand"]
        .as_i64()
        .expect("on_hand")
}

/// Both stores' on-hand and written-off units, and the transfer's units in transit and
/// missing: what the two stores held before.
fn units(get: &dyn Fn(&str) -> Value, (from, to): (u32, u32), transfer: &Value, sku: &str) -> i64 {
    let line = &transfer["lines"][0];
    [from, to]
        .iter()
        .map(|s| on_hand(get, *s, sku) + written_off(get, *s, sku))
        .sum::<i64>()
        + line["in_transit"].as_i64().unwrap_or(0)
        + line["missing"].as_i64().unwrap_or(0)
}

#[test]
fn a_transfer_ships_and_is_received_with_discrepancies_conserving_stock() {
    let app = spawn_app();
    let get = |path: &str| {
        let r = app.get(path);
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        r.body
    };
    let sku = "EPI-0003";
    app.count(1, sku, 40);
    let before = on_hand(&get, 1, sku) + on_hand(&get, 2, sku);

    let same = app.post(
        "/api/v1/stores/1/transfers",
        &json!({"to_store_id": 1, "lines": [{"sku": sku, "quantity": 10}]}),
    );
    assert_problem(&same, 422, "same_store");
    let too_many = app.post(
        "/api/v1/stores/1/transfers",
        &json!({"to_store_id": 2, "lines": [{"sku": sku, "quantity": 41}]}),
    );
    assert_eq!(too_many.status, 201, "{:?}", too_many.body);
    let big = too_many.body["id"].as_str().expect("id").to_owned();
    let short = app.post(
        &format!("/api/v1/stores/1/transfers/{big}/ship"),
        &json!({}),
    );
    assert_problem(&short, 409, "insufficient_stock");

    let created = app.post(
        "/api/v1/stores/1/transfers",
        &json!({"to_store_id": 2, "lines": [{"sku": sku, "quantity": 10}]}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["status"], "requested");
    let id = created.body["id"].as_str().expect("id").to_owned();
    let early = app.post(
        &format!("/api/v1/stores/2/transfers/{id}/receive"),
        &json!({}),
    );
    assert_problem(&early, 409, "invalid_transition");

    let shipped = app.post(&format!("/api/v1/stores/1/transfers/{id}/ship"), &json!({}));
    assert_eq!(shipped.status, 200, "{:?}", shipped.body);
    assert_eq!(shipped.body["lines"][0]["in_transit"], 10);
    assert_eq!(on_hand(&get, 1, sku), 30);
    let again = app.post(&format!("/api/v1/stores/1/transfers/{id}/ship"), &json!({}));
    assert_eq!(again.body, shipped.body, "shipping again moves nothing");
    assert_eq!(units(&get, (1, 2), &shipped.body, sku), before);

    let receive = format!("/api/v1/stores/2/transfers/{id}/receive");
    let wrong_store = app.post(
        &format!("/api/v1/stores/3/transfers/{id}/receive"),
        &json!({}),
    );
    assert_problem(&wrong_store, 404, "transfer_not_found");
    let mismatch = app.post(
        &receive,
        &json!({"lines": [{"sku": sku, "received": 8, "missing": 1}]}),
    );
    assert_problem(&mismatch, 400, "receipt_mismatch");
    assert_eq!(error_fields(&mismatch), ["lines[0]"]);
    let to_before = on_hand(&get, 2, sku);
    let body = json!({"lines": [{"sku": sku, "received": 7, "damaged": 2,
                                 "damage_reason": "broken", "missing": 1}]});
    let received = app.post(&receive, &body);
    assert_eq!(received.status, 200, "{:?}", received.body);
    assert_eq!(received.body["status"], "received");
    let line = &received.body["lines"][0];
    assert_eq!(
        (&line["received"], &line["missing"], &line["in_transit"]),
        (&json!(9), &json!(1), &json!(0))
    );
    let retry = app.post(&receive, &body);
    assert_eq!(retry.body, received.body, "receiving again moves nothing");
    assert_eq!(on_hand(&get, 2, sku), to_before + 7);
    assert_eq!(written_off(&get, 2, sku), 2);
    assert_eq!(units(&get, (1, 2), &received.body, sku), before);
    let read = get(&format!("/api/v1/stores/1/transfers/{id}"));
    assert_eq!(read, received.body, "the sending store reads the same");
    let kinds: Vec<Value> = get("/api/v1/stores/2/ledger?limit=1000")["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["transfer_id"] == id.as_str())
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(kinds, [json!("transfer_received")]);

    // Each store lists what it sends and what it receives, by status.
    let ids = |path: &str| -> Vec<Value> {
        get(path)["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["id"].clone())
            .collect()
    };
    assert_eq!(ids("/api/v1/stores/2/transfers"), [json!(id), json!(big)]);
    assert_eq!(
        ids("/api/v1/stores/1/transfers"),
        [json!(id), json!(big)],
        "newest first"
    );
    assert_eq!(
        ids("/api/v1/stores/1/transfers?status=requested"),
        [json!(big)]
    );
    assert_eq!(ids("/api/v1/stores/3/transfers"), Vec::<Value>::new());
    let bad = app.get("/api/v1/stores/1/transfers?status=perdu");
    assert_problem(&bad, 400, "validation_failed");
}

#[test]
fn a_transfer_between_stores_on_different_instances_completes_and_conserves_stock() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let cluster = start(temp.path(), free_ports());
    let client = cluster.client();
    let token = cluster.admin_token(&client);
    let get = |path: &str| cluster.get_ok(&client, &token, path);
    let post = |path: &str, body: Value| cluster.post(&client, &token, path, None, &body);
    let names: Vec<String> = ["magasin-1", "magasin-2", "magasin-3"]
        .map(str::to_owned)
        .to_vec();
    let owner_of = |s: u32| {
        owner(&store_key(StoreId::new(s).expect("valid")), &names)
            .expect("an owner")
            .to_owned()
    };
    let (from, to) = (1..=5_u32)
        .flat_map(|a| (1..=5_u32).map(move |b| (a, b)))
        .find(|(a, b)| owner_of(*a) != owner_of(*b))
        .expect("two stores on different instances");
    let sku = "EPI-0005";
    let (status, _, body) = post(
        &format!("/api/v1/stores/{from}/adjustments"),
        json!({"reason": "inventaire", "lines": [{"sku": sku, "counted": 30}]}),
    );
    assert_eq!(status, 201, "{body}");
    let before = on_hand(&get, from, sku) + on_hand(&get, to, sku);

    let (status, instance, created) = post(
        &format!("/api/v1/stores/{from}/transfers"),
        json!({"to_store_id": to, "lines": [{"sku": sku, "quantity": 12}]}),
    );
    assert_eq!((status, instance), (201, owner_of(from)), "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let (status, instance, shipped) = post(
        &format!("/api/v1/stores/{from}/transfers/{id}/ship"),
        json!({}),
    );
    assert_eq!((status, instance), (200, owner_of(from)), "{shipped}");
    // The receiving store reads it from the sending store's instance.
    let seen = get(&format!("/api/v1/stores/{to}/transfers/{id}"));
    assert_eq!(seen["status"], "shipped", "{seen}");
    let incoming = get(&format!("/api/v1/stores/{to}/transfers?status=shipped"));
    assert_eq!(
        incoming["items"][0]["id"],
        id.as_str(),
        "listed by the receiving store's instance: {incoming}"
    );
    assert_eq!(units(&get, (from, to), &seen, sku), before);

    let receive = format!("/api/v1/stores/{to}/transfers/{id}/receive");
    let body = json!({"lines": [{"sku": sku, "received": 10, "damaged": 1,
                                 "damage_reason": "wet", "missing": 1}]});
    let (status, instance, received) = post(&receive, body.clone());
    assert_eq!((status, instance), (200, owner_of(to)), "{received}");
    assert_eq!(received["status"], "received", "{received}");
    let (status, _, again) = post(&receive, body);
    assert_eq!((status, &again), (200, &received), "a retry moves nothing");
    let read = get(&format!("/api/v1/stores/{from}/transfers/{id}"));
    assert_eq!(read, received, "both stores read the same transfer");
    assert_eq!(written_off(&get, to, sku), 1);
    assert_eq!(units(&get, (from, to), &read, sku), before);
    cluster.stop();
}
