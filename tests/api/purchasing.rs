//! Supplier orders (issue 23, point 2): a purchase order received in parts, with damaged
//! and missing units, the second part over the order and held for head office's approval;
//! the center's average cost after each part, to the cent, against an exact computation;
//! retries under the same key, a restart, and the refusals.

use crate::helpers::{TestApp, assert_problem, ean13, error_fields, settings, start};
use magasin::persistence::Backend;
use serde_json::{Value, json};

const SKU: &str = "ACH-0001";
const PRICE: i64 = 549;
const ORDERS: &str = "/api/v1/logistics/purchase-orders";

/// The exact weighted average of `value_cents` over `units`, rounded half up to the cent.
fn average(value_cents: i64, units: i64) -> i64 {
    (2 * value_cents + units) / (2 * units)
}

/// A product the demo has no stock of, and a supplier.
fn with_product_and_supplier(app: &TestApp) {
    let product = app.post(
        "/api/v1/products",
        &json!({"sku": SKU, "ean13": ean13("210000099001"), "name": "Café moulu 340 g",
                "category": "Épicerie", "price_cents": PRICE, "tax_class": "zero_rated"}),
    );
    assert_eq!(product.status, 201, "{:?}", product.body);
    let supplier = app.send_as(
        "PUT",
        None,
        "/api/v1/suppliers/TORREFACTEUR-QC",
        &json!({"name": "Torréfacteur du Québec", "lead_time_days": 3}),
    );
    assert_eq!(supplier.status, 201, "{:?}", supplier.body);
    assert_eq!(supplier.body["lead_time_source"], "configured");
}

fn place(app: &TestApp, token: &str, key: &str, quantity: i64, cost: i64) -> Value {
    let placed = app.post_as_with_key(
        Some(token),
        ORDERS,
        key,
        &json!({"supplier": "TORREFACTEUR-QC",
                "lines": [{"sku": SKU, "quantity": quantity, "unit_cost_cents": cost}]}),
    );
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    placed.body
}

fn receive(app: &TestApp, token: &str, order: u64, key: &str, body: &Value) -> Value {
    let received = app.post_as_with_key(
        Some(token),
        &format!("{ORDERS}/{order}/receipts"),
        key,
        body,
    );
    assert_eq!(received.status, 201, "{:?}", received.body);
    received.body
}

/// The product's central line: (on hand, written off, average cost, value at cost, value
/// at retail).
fn central(app: &TestApp) -> [i64; 5] {
    let page = app.get(&format!("/api/v1/logistics/stock?q={SKU}")).body;
    let line = &page["items"][0];
    assert_eq!(line["sku"], SKU, "{page}");
    [
        "on_hand",
        "written_off",
        "average_cost_cents",
        "value_at_cost_cents",
        "value_at_retail_cents",
    ]
    .map(|f| line[f].as_i64().unwrap_or_else(|| panic!("{f} in {line}")))
}

/// `field` added up over every product of the central stock.
fn central_sum(app: &TestApp, field: &str) -> i64 {
    let mut sum = 0;
    for page in 1.. {
        let body = app
            .get(&format!("/api/v1/logistics/stock?per_page=200&page={page}"))
            .body;
        let items = body["items"].as_array().expect("items");
        sum += items
            .iter()
            .map(|l| l[field].as_i64().expect("a figure"))
            .sum::<i64>();
        if items.len() < 200 {
            break;
        }
    }
    sum
}

fn counted(received: i64, damaged: i64, missing: i64) -> Value {
    json!({"lines": [{"sku": SKU, "received": received, "damaged": damaged,
                      "damage_reason": if damaged > 0 { Some("wet") } else { None }, "missing": missing}]})
}

#[test]
fn an_order_received_in_two_parts_the_second_over_keeps_the_average_cost_to_the_cent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = settings(dir.path(), Backend::Sqlite, true);
    let app = start(s.clone());
    with_product_and_supplier(&app);
    let logistique = app.login("logistique");

    // Opening stock: 10 at 2.00 $, everything on the order (no body).
    let first = place(&app, &logistique, "po-opening", 10, 200);
    let id = first["id"].as_u64().expect("id");
    let opening = app.post_as_with_key(
        Some(&logistique),
        &format!("{ORDERS}/{id}/receipts"),
        "r-opening",
        &json!(null),
    );
    assert_eq!(opening.status, 201, "{:?}", opening.body);
    assert_eq!(opening.body["order"]["status"], "received");
    assert_eq!(central(&app), [10, 0, 200, 2000, 10 * PRICE]);

    // 20 ordered at 2.99 $.
    let order = place(&app, &logistique, "po-main", 20, 299);
    let id = order["id"].as_u64().expect("id");
    assert_eq!(order["status"], "open");
    assert_eq!(order["total_cost_cents"], 20 * 299);
    let again = app.post_as_with_key(
        Some(&logistique),
        ORDERS,
        "po-main",
        &json!({"supplier": "TORREFACTEUR-QC", "lines": [{"sku": SKU, "quantity": 20, "unit_cost_cents": 299}]}),
    );
    assert_eq!(
        (again.status, &again.body["id"]),
        (200, &order["id"]),
        "the same key is the same order"
    );

    // Part 1: 7 good, 1 wet, 2 not in the truck.
    let part1 = receive(&app, &logistique, id, "part-1", &counted(7, 1, 2));
    assert_eq!(part1["receipt"], 1);
    let line = &part1["order"]["lines"][0];
    assert_eq!(
        (
            line["received"].as_i64(),
            line["outstanding"].as_i64(),
            line["damaged"].as_i64()
        ),
        (Some(7), Some(13), Some(1))
    );
    assert_eq!(part1["order"]["status"], "partially_received");
    let mut value = 10 * 200 + 7 * 299;
    let after_part1 = central(&app);
    println!(
        "after part 1: on hand {}, average {} (exact {value}/17)",
        after_part1[0], after_part1[2]
    );
    assert_eq!(after_part1, [17, 1, average(value, 17), value, 17 * PRICE]);
    assert_eq!(after_part1[2], 241);

    // Part 2: 15 good, 2 beyond the 13 still owed: held for approval.
    let part2 = receive(&app, &logistique, id, "part-2", &counted(15, 0, 0));
    assert_eq!(part2["order"]["receipts"][1]["over_status"], "pending");
    assert_eq!(part2["order"]["lines"][0]["over_held"], 2);
    assert_eq!(part2["order"]["awaiting_approval"], true);
    value += 13 * 299;
    let after_part2 = central(&app);
    println!(
        "after part 2: on hand {}, average {} (exact {value}/30)",
        after_part2[0], after_part2[2]
    );
    assert_eq!(after_part2, [30, 1, average(value, 30), value, 30 * PRICE]);

    let retried = app.post_as_with_key(
        Some(&logistique),
        &format!("{ORDERS}/{id}/receipts"),
        "part-2",
        &counted(15, 0, 0),
    );
    assert_eq!(
        (retried.status, &retried.body["receipt"]),
        (200, &json!(2)),
        "{:?}",
        retried.body
    );
    assert_eq!(
        central(&app),
        after_part2,
        "a retried receipt moves nothing"
    );

    // Whoever receives does not approve: head office does.
    let refused = app.post_as(
        Some(&logistique),
        &format!("{ORDERS}/{id}/receipts/2/approve"),
        &json!({}),
    );
    assert_problem(&refused, 403, "forbidden");
    let pending = app.get(&format!("{ORDERS}?awaiting_approval=true")).body;
    assert_eq!(pending["items"][0]["id"], id);
    let approved = app.post(&format!("{ORDERS}/{id}/receipts/2/approve"), &json!({}));
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.body["receipts"][1]["over_status"], "approved");
    assert_eq!(approved.body["lines"][0]["over_accepted"], 2);
    value += 2 * 299;
    let after_approval = central(&app);
    println!(
        "after approval: on hand {}, average {} (exact {value}/32)",
        after_approval[0], after_approval[2]
    );
    assert_eq!(
        after_approval,
        [32, 1, average(value, 32), value, 32 * PRICE]
    );
    let twice = app.post(&format!("{ORDERS}/{id}/receipts/2/approve"), &json!({}));
    assert_eq!(twice.status, 200);
    assert_problem(
        &app.post(&format!("{ORDERS}/{id}/receipts/2/reject"), &json!({})),
        409,
        "already_decided",
    );
    assert_eq!(
        central(&app),
        after_approval,
        "approving again moves nothing"
    );

    // Every unit that came in is on hand or written off.
    let came_in = 10 + (7 + 1) + 15;
    assert_eq!(after_approval[0] + after_approval[1], came_in);
    let report = app.get("/api/v1/reports/stock").body;
    assert_eq!(
        report["central"]["value_at_cost_cents"].as_i64(),
        Some(central_sum(&app, "value_at_cost_cents")),
        "the report's center at cost is its products' sum"
    );
    assert_eq!(
        report["central"]["value_at_retail_cents"].as_i64(),
        Some(central_sum(&app, "value_at_retail_cents")),
    );
    let supplier = app.get("/api/v1/suppliers").body;
    let ours = supplier
        .as_array()
        .expect("suppliers")
        .iter()
        .find(|s| s["code"] == "TORREFACTEUR-QC")
        .cloned()
        .expect("ours");
    assert_eq!(
        (
            ours["lead_time_source"].as_str(),
            ours["lead_time_samples"].as_u64()
        ),
        (Some("measured"), Some(2))
    );

    // A store's stock is valued at the center's average cost too.
    let store_at_cost = |app: &TestApp| {
        app.get("/api/v1/reports/stock?store_id=1").body["stores"][0]["value_at_cost_cents"]
            .as_i64()
            .expect("value at cost")
    };
    let before = store_at_cost(&app);
    let restock = app.post(
        "/api/v1/stores/1/restock-requests",
        &json!({"lines": [{"sku": SKU, "quantity": 5}]}),
    );
    assert_eq!(restock.status, 201, "{:?}", restock.body);
    let rid = restock.body["id"].as_str().expect("id").to_owned();
    for step in [
        "logistics/restock-requests/{rid}/allocate",
        "logistics/restock-requests/{rid}/ship",
        "stores/1/restock-requests/{rid}/receive",
    ] {
        let r = app.post(
            &format!("/api/v1/{}", step.replace("{rid}", &rid)),
            &json!(null),
        );
        assert_eq!(r.status, 200, "{step}: {:?}", r.body);
    }
    let added = (store_at_cost(&app) - before) as f64;
    let exact = 5.0 * value as f64 / 32.0;
    assert!(
        (added - exact).abs() <= 1.0,
        "5 units at the average: {added} vs {exact}"
    );
    let after_shipping = central(&app);
    assert_eq!(
        after_shipping[2], after_approval[2],
        "shipping leaves the average"
    );
    assert_eq!(after_shipping[0], 27);

    // A restart keeps the orders and the cost.
    let order_before = app.get(&format!("{ORDERS}/{id}")).body;
    app.stop();
    let app = start(s);
    assert_eq!(central(&app), after_shipping);
    assert_eq!(app.get(&format!("{ORDERS}/{id}")).body, order_before);
}

#[test]
fn units_over_the_order_refused_never_enter_stock_and_bad_receipts_change_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = start(settings(dir.path(), Backend::Sqlite, true));
    with_product_and_supplier(&app);
    let logistique = app.login("logistique");
    let order = place(&app, &logistique, "po-small", 4, 150);
    let id = order["id"].as_u64().expect("id");
    // A key names one request: another body under it is refused, on orders and receipts.
    let other_body = app.post_as_with_key(
        Some(&logistique),
        ORDERS,
        "po-small",
        &json!({"supplier": "TORREFACTEUR-QC", "lines": [{"sku": SKU, "quantity": 5, "unit_cost_cents": 150}]}),
    );
    assert_problem(&other_body, 422, "idempotency_key_reused");
    let second = place(&app, &logistique, "po-second", 1, 100);
    let second_id = second["id"].as_u64().expect("id");
    receive(
        &app,
        &logistique,
        second_id,
        "shared-key",
        &counted(1, 0, 0),
    );
    let elsewhere = app.post_as_with_key(
        Some(&logistique),
        &format!("{ORDERS}/{id}/receipts"),
        "shared-key",
        &counted(1, 0, 0),
    );
    assert_problem(&elsewhere, 422, "idempotency_key_reused");
    let before = central(&app);

    let off_order = app.post_as_with_key(
        Some(&logistique),
        &format!("{ORDERS}/{id}/receipts"),
        "bad-1",
        &json!({"lines": [{"sku": "EPI-0001", "received": 1}]}),
    );
    assert_problem(&off_order, 422, "not_on_order");
    let bad = app.post_as_with_key(
        Some(&logistique),
        &format!("{ORDERS}/{id}/receipts"),
        "bad-2",
        &json!({"lines": [{"sku": SKU, "received": -1, "damaged": 1}]}),
    );
    assert_problem(&bad, 400, "validation_failed");
    assert_eq!(
        error_fields(&bad),
        ["lines[0].received", "lines[0].damage_reason"]
    );
    assert_problem(
        &app.post_as_with_key(
            Some(&logistique),
            &format!("{ORDERS}/{id}/receipts"),
            "bad-3",
            &counted(0, 0, 0),
        ),
        400,
        "empty_receipt",
    );
    assert_problem(
        &app.post_as_with_key(
            Some(&logistique),
            &format!("{ORDERS}/999/receipts"),
            "bad-4",
            &counted(1, 0, 0),
        ),
        404,
        "purchase_order_not_found",
    );
    let unknown = app.post_as_with_key(Some(&logistique), ORDERS, "bad-5", &json!({"supplier": "PERSONNE", "lines": [{"sku": SKU, "quantity": 1, "unit_cost_cents": 1}]}));
    assert_problem(&unknown, 422, "unknown_supplier");
    let malformed = app.post_as_with_key(Some(&logistique), ORDERS, "bad-6", &json!({"supplier": "TORREFACTEUR-QC", "lines": [{"sku": SKU, "quantity": 0, "unit_cost_cents": -5}]}));
    assert_eq!(
        error_fields(&malformed),
        ["lines[0].quantity", "lines[0].unit_cost_cents"]
    );
    let cashier = app.login("caissier1");
    assert_problem(&app.get_as(Some(&cashier), ORDERS), 403, "forbidden");
    assert_eq!(central(&app), before, "nothing moved");
    assert_eq!(
        app.get(&format!("{ORDERS}/{id}")).body["receipts"],
        json!([])
    );

    receive(&app, &logistique, id, "r1", &counted(6, 0, 0));
    let rejected = app.post(&format!("{ORDERS}/{id}/receipts/1/reject"), &json!({}));
    assert_eq!(rejected.status, 200, "{:?}", rejected.body);
    assert_eq!(
        (
            rejected.body["lines"][0]["over_returned"].as_i64(),
            rejected.body["status"].as_str()
        ),
        (Some(2), Some("received"))
    );
    assert_eq!(
        central(&app)[..3],
        [1 + 4, 0, average(100 + 4 * 150, 5)],
        "the second order's unit and this order's 4: the 2 refused units never entered stock"
    );
    assert_problem(
        &app.post_as_with_key(
            Some(&logistique),
            &format!("{ORDERS}/{id}/receipts"),
            "r2",
            &counted(1, 0, 0),
        ),
        409,
        "purchase_order_closed",
    );
}

/// Through HAProxy, on any instance: the order and its receipt go to the owner of the
/// reference data, which posts the units to each product's owner; every instance lists the
/// order and the center's stock shows the cost.
#[test]
fn an_order_placed_and_received_through_haproxy_reaches_products_on_every_instance() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let cluster = crate::cluster_local::start(temp.path(), crate::cluster_local::free_ports());
    let client = cluster.client();
    let token = cluster.admin_token(&client);
    let send = |path: &str, key: &str, body: Value| -> (u16, Value) {
        let (status, _, answer) = cluster.post(&client, &token, path, Some(key), &body);
        (status, answer)
    };
    // Products spread over the three instances by their SKU.
    let skus = [
        "EPI-0003", "EPI-0004", "EPI-0007", "EPI-0011", "EPI-0012", "EPI-0013",
    ];
    let lines: Vec<Value> = skus
        .iter()
        .map(|sku| json!({"sku": sku, "quantity": 10, "unit_cost_cents": 123}))
        .collect();
    let (status, placed) = send(
        ORDERS,
        "cluster-po",
        json!({"supplier": "EPICERIE-QC", "lines": lines}),
    );
    assert_eq!(status, 201, "{placed}");
    let id = placed["id"].as_u64().expect("id");
    let before: Vec<Value> = skus
        .iter()
        .map(|sku| {
            cluster.get_ok(&client, &token, &format!("/api/v1/logistics/stock?q={sku}"))["items"][0]
                .clone()
        })
        .collect();
    let (status, received) = send(
        &format!("{ORDERS}/{id}/receipts"),
        "cluster-r1",
        Value::Null,
    );
    assert_eq!(status, 201, "{received}");
    assert_eq!(received["order"]["status"], "received");
    for (sku, was) in skus.iter().zip(&before) {
        let now =
            cluster.get_ok(&client, &token, &format!("/api/v1/logistics/stock?q={sku}"))["items"]
                [0]
            .clone();
        let (was_units, was_avg) = (
            was["on_hand"].as_i64().expect("units"),
            was["average_cost_cents"].as_i64().expect("cost"),
        );
        let opening = was_units * was_avg;
        assert_eq!(
            now["on_hand"].as_i64(),
            Some(was_units + 10),
            "{sku}: {now}"
        );
        // Within a cent of the exact average (the opening stock's own average is rounded).
        let exact = (opening + 10 * 123) as f64 / (was_units + 10) as f64;
        let shown = now["average_cost_cents"].as_i64().expect("cost") as f64;
        assert!((shown - exact).abs() <= 1.0, "{sku}: {shown} vs {exact}");
    }
    // Followers copy the order through the change feed: each lists it within seconds.
    for name in ["magasin-1", "magasin-2", "magasin-3"] {
        let url = format!("{}{ORDERS}/{id}", cluster.instance_base(name));
        let listed = (0..100).any(|_| {
            let found = client
                .get(&url)
                .bearer_auth(&token)
                .send()
                .is_ok_and(|a| a.status().as_u16() == 200);
            if !found {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            found
        });
        assert!(listed, "{name} never showed order {id}");
    }
    cluster.stop();
}

/// A receipt journaled by the chain whose units never reached the product (its journal
/// failed in between, as a crash there would leave it): the next start posts it, and the
/// same receipt retried afterwards moves nothing more.
#[test]
fn a_receipt_the_products_never_recorded_is_posted_at_the_next_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let s = settings(&data, Backend::Sqlite, true);
    let disk = std::sync::Arc::new(magasin::persistence::faulty::Faulty::new(
        magasin::persistence::open(Backend::Sqlite, &data).expect("the journal opens"),
    ));
    let app = crate::helpers::start_on(s.clone(), disk.clone());
    with_product_and_supplier(&app);
    let logistique = app.login("logistique");
    let order = place(&app, &logistique, "po-crash", 12, 250);
    let id = order["id"].as_u64().expect("id");

    disk.set_failing_products(true);
    let refused = app.post_as_with_key(
        Some(&logistique),
        &format!("{ORDERS}/{id}/receipts"),
        "crash-r1",
        &counted(12, 0, 0),
    );
    assert_problem(&refused, 503, "journal_unavailable");
    assert_eq!(
        app.get(&format!("{ORDERS}/{id}")).body["receipts"][0]["number"],
        1,
        "the chain recorded the receipt"
    );
    assert_eq!(central(&app)[0], 0, "the product did not");
    app.stop();

    let app = start(s);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while central(&app)[0] == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(central(&app)[..3], [12, 0, 250], "posted at the start");
    let logistique = app.login("logistique");
    let retried = app.post_as_with_key(
        Some(&logistique),
        &format!("{ORDERS}/{id}/receipts"),
        "crash-r1",
        &counted(12, 0, 0),
    );
    assert_eq!(retried.status, 200, "{:?}", retried.body);
    assert_eq!(
        central(&app)[..3],
        [12, 0, 250],
        "a retry moves nothing more"
    );
}
