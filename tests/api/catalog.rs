//! Stores, product search and chain-wide availability.

use crate::helpers::{assert_problem, ean13, error_fields, spawn_app};
use serde_json::json;

#[test]
fn the_demo_chain_has_six_stores_one_in_ontario_and_a_searchable_catalog() {
    let app = spawn_app();
    let stores = app.get("/api/v1/stores");
    assert_eq!(stores.status, 200);
    let items = stores.body["items"].as_array().expect("a list");
    assert_eq!(items.len(), 6);
    assert_eq!(items[5]["jurisdiction"], "ON");
    assert_eq!(items[0]["jurisdiction"], "QC");
    assert_eq!(items[0]["id"], 1);
    assert!(
        items
            .iter()
            .all(|s| s["code"].is_string() && s["name"].is_string())
    );

    let products = app.get("/api/v1/products?per_page=200");
    assert_eq!(products.status, 200);
    assert!(products.body["total"].as_u64().expect("a total") >= 200);
    assert_eq!(products.body["items"].as_array().expect("items").len(), 200);
    let page2 = app.get("/api/v1/products?page=2&per_page=200");
    let total = products.body["total"].as_u64().expect("a total") as usize;
    assert_eq!(
        page2.body["items"].as_array().expect("items").len(),
        total - 200
    );
}

#[test]
fn products_are_found_by_name_category_sku_and_barcode() {
    let app = spawn_app();
    let first = app.get("/api/v1/products?per_page=1").body["items"][0].clone();
    let sku = first["sku"].as_str().expect("sku");
    let ean = first["ean13"].as_str().expect("ean13");
    let name = first["name"].as_str().expect("name");
    let category = first["category"].as_str().expect("category");

    let by_sku = app.get(&format!("/api/v1/products?q={}", sku.to_lowercase()));
    assert_eq!(by_sku.body["items"][0]["sku"], sku);

    let by_barcode = app.get(&format!("/api/v1/products?q={ean}"));
    assert_eq!(by_barcode.body["total"], 1);
    assert_eq!(by_barcode.body["items"][0]["sku"], sku);

    // One word of the name, upper-cased and without accents, still finds it.
    let word = name
        .split_whitespace()
        .max_by_key(|w| w.chars().count())
        .expect("a word");
    let folded: String = word
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' => 'E',
            'à' | 'â' => 'A',
            'ç' => 'C',
            other => other.to_ascii_uppercase(),
        })
        .collect();
    let by_name = app.get(&format!(
        "/api/v1/products?q={}&per_page=200",
        urlencode(&folded)
    ));
    let skus: Vec<&str> = by_name.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["sku"].as_str())
        .collect();
    assert!(skus.contains(&sku), "{folded} finds {sku}: {skus:?}");

    let by_category = app.get(&format!(
        "/api/v1/products?category={}&per_page=200",
        urlencode(category)
    ));
    let items = by_category.body["items"].as_array().expect("items");
    assert!(!items.is_empty());
    assert!(items.iter().all(|p| p["category"] == category));

    let none = app.get("/api/v1/products?q=zzzzqqqq");
    assert_eq!(none.body["total"], 0);

    let one = app.get(&format!("/api/v1/products/{sku}"));
    assert_eq!(one.status, 200);
    assert_eq!(one.body["ean13"], ean);
    assert!(one.body["price_cents"].as_i64().expect("price") > 0);
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[test]
fn product_lookups_fail_clearly() {
    let app = spawn_app();
    assert_problem(
        &app.get("/api/v1/products/NOPE-9999"),
        404,
        "product_not_found",
    );
    assert_problem(
        &app.get("/api/v1/products/bad%20sku"),
        400,
        "validation_failed",
    );
    assert_problem(
        &app.get("/api/v1/products?page=0"),
        400,
        "validation_failed",
    );
    assert_problem(
        &app.get("/api/v1/products?per_page=500"),
        400,
        "validation_failed",
    );
    assert_problem(&app.get("/api/v1/products?page=abc"), 400, "invalid_query");
}

#[test]
fn a_new_store_is_usable_at_once_with_every_product_at_zero() {
    let app = spawn_app();
    let created = app.post(
        "/api/v1/stores",
        &json!({"code": "TR-CENTRE", "name": "Magasin Trois-Rivières", "city": "Trois-Rivières"}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_u64().expect("an id");
    assert_eq!(id, 7);
    assert_eq!(created.location.as_deref(), Some("/api/v1/stores/7"));
    let opened = app.get("/api/v1/stores/7").body;
    assert_eq!(opened["city"], "Trois-Rivières");
    // Defaults: in Quebec, two tills, approval above 20 %.
    assert_eq!(
        (opened["jurisdiction"].clone(), opened["tills"].clone()),
        (json!("QC"), json!(2))
    );

    let stock = app.get("/api/v1/stores/7/stock?per_page=200");
    assert_eq!(stock.status, 200);
    let items = stock.body["items"].as_array().expect("items");
    assert!(!items.is_empty());
    assert!(items.iter().all(|l| l["on_hand"] == 0));

    // It sells as soon as it has stock.
    let sku = items[0]["sku"].as_str().expect("sku");
    app.count(7, sku, 3);
    let sale = app.post(
        "/api/v1/stores/7/sales",
        &json!({"lines": [{"sku": sku, "quantity": 2}]}),
    );
    assert_eq!(sale.status, 201, "{:?}", sale.body);
    assert_eq!(app.on_hand(7, sku), 1);

    let again = app.post(
        "/api/v1/stores",
        &json!({"code": "TR-CENTRE", "name": "Autre", "city": "Trois-Rivières"}),
    );
    assert_problem(&again, 409, "store_code_taken");
    let invalid = app.post(
        "/api/v1/stores",
        &json!({"code": "bad code", "name": "", "city": "X"}),
    );
    assert_problem(&invalid, 400, "validation_failed");
    assert_eq!(invalid.body["errors"].as_array().expect("errors").len(), 2);
    assert_eq!(
        app.get("/api/v1/stores").body["items"]
            .as_array()
            .expect("items")
            .len(),
        7
    );
}

#[test]
fn unknown_stores_are_404() {
    let app = spawn_app();
    assert_problem(&app.get("/api/v1/stores/99"), 404, "store_not_found");
    assert_problem(&app.stock(99), 404, "store_not_found");
    assert_problem(&app.sales(99), 404, "store_not_found");
    assert_problem(&app.get("/api/v1/stores/99/ledger"), 404, "store_not_found");
    let sale = app.post(
        "/api/v1/stores/99/sales",
        &json!({"lines": [{"sku": "EPI-0001", "quantity": 1}]}),
    );
    assert_problem(&sale, 404, "store_not_found");
    assert_problem(&app.get("/api/v1/stores/0"), 400, "validation_failed");
    assert_problem(&app.get("/api/v1/stores/abc"), 400, "invalid_path");
}

#[test]
fn availability_lists_every_store() {
    let app = spawn_app();
    let sku = app.get("/api/v1/products?per_page=1").body["items"][0]["sku"]
        .as_str()
        .expect("sku")
        .to_owned();
    for (store, n) in [(1, 4), (2, 0), (3, 7), (4, 1), (5, 2), (6, 3)] {
        app.count(store, &sku, n);
    }
    let r = app.get(&format!("/api/v1/availability/{sku}"));
    assert_eq!(r.status, 200);
    let per_store: Vec<i64> = r.body["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .map(|s| s["on_hand"].as_i64().expect("on_hand"))
        .collect();
    assert_eq!(per_store, vec![4, 0, 7, 1, 2, 3]);
    assert_eq!(r.body["total_on_hand"], 17);
    assert_problem(
        &app.get("/api/v1/availability/NOPE-0000"),
        404,
        "product_not_found",
    );
}

#[test]
fn head_office_adds_a_product_that_sells_at_once_and_changes_its_price() {
    let temp = tempfile::tempdir().expect("a temp dir");
    let app = crate::helpers::start(crate::helpers::settings(
        temp.path(),
        magasin::persistence::Backend::Sqlite,
        true,
    ));
    let total = |app: &crate::helpers::TestApp| {
        app.get("/api/v1/products?per_page=1").body["total"]
            .as_u64()
            .expect("a total")
    };
    let before = total(&app);
    let barcode = ean13("200000000042");
    let new = json!({
        "sku": "ERA-0042", "ean13": barcode, "name": "Sirop d'érable ambré 540 ml",
        "category": "Épicerie fine", "price_cents": 1299, "tax_class": "zero_rated"
    });
    // Only head office manages the catalog; bad fields are all named; nothing is added.
    let cashier = app.login("caissier1");
    assert_problem(
        &app.post_as(Some(&cashier), "/api/v1/products", &new),
        403,
        "forbidden",
    );
    let bad = app.post(
        "/api/v1/products",
        &json!({"sku": "era 42", "ean13": "2000000000420", "name": "Sirop",
                "category": "Épicerie", "price_cents": -5, "tax_class": "luxe"}),
    );
    assert_problem(&bad, 400, "validation_failed");
    assert_eq!(
        error_fields(&bad),
        vec!["sku", "ean13", "price_cents", "tax_class"]
    );
    assert_eq!(total(&app), before);

    let created = app.post("/api/v1/products", &new);
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        created.location.as_deref(),
        Some("/api/v1/products/ERA-0042")
    );
    assert_eq!(created.body["price_cents"], 1299);
    // A retry answers the product as it is; another product under its SKU or barcode is
    // refused.
    let again = app.post("/api/v1/products", &new);
    assert_eq!((again.status, &again.body), (200, &created.body));
    let mut renamed = new.clone();
    renamed["name"] = json!("Autre sirop");
    assert_problem(&app.post("/api/v1/products", &renamed), 409, "sku_taken");
    let mut copy = new.clone();
    copy["sku"] = json!("ERA-0043");
    assert_problem(&app.post("/api/v1/products", &copy), 409, "barcode_taken");
    assert_eq!(total(&app), before + 1);
    for query in ["%C3%A9rable%20ambr%C3%A9", barcode.as_str(), "era-0042"] {
        let found = app.get(&format!("/api/v1/products?q={query}"));
        assert_eq!(found.body["items"][0]["sku"], "ERA-0042", "search {query}");
    }

    // The logistics center receives it, and lists it.
    let receipt = app.post_with_key(
        "/api/v1/logistics/receipts",
        "bon-erable-1",
        &json!({"lines": [{"sku": "ERA-0042", "quantity": 24}]}),
    );
    assert_eq!(receipt.status, 201, "{:?}", receipt.body);
    let central = app.get("/api/v1/logistics/stock?q=ERA-0042");
    assert_eq!(
        central.body["items"][0]["on_hand"], 24,
        "{:?}",
        central.body
    );

    // Every store can sell it once stock is counted, at its price.
    assert_eq!(app.on_hand(1, "ERA-0042"), 0);
    app.count(1, "ERA-0042", 10);
    let sell = |key: &str| {
        let sale = app.post_as_with_key(
            Some(&cashier),
            "/api/v1/stores/1/sales",
            key,
            &json!({"lines": [{"sku": "ERA-0042", "quantity": 2}]}),
        );
        assert_eq!(sale.status, 201, "{:?}", sale.body);
        sale.body
    };
    let first = sell("erable-1");
    assert_eq!(first["total_cents"], 2598);

    // A new price: sales from now on use it, the recorded sale keeps its own.
    assert_problem(
        &app.patch_as(
            Some(&cashier),
            "/api/v1/products/ERA-0042",
            &json!({"price_cents": 1}),
        ),
        403,
        "forbidden",
    );
    assert_problem(
        &app.patch_as(None, "/api/v1/products/ERA-0042", &json!({})),
        400,
        "malformed_body",
    );
    assert_problem(
        &app.patch_as(
            None,
            "/api/v1/products/ERA-0042",
            &json!({"price_cents": -1, "name": ""}),
        ),
        400,
        "validation_failed",
    );
    assert_problem(
        &app.patch_as(
            None,
            "/api/v1/products/ERA-0404",
            &json!({"price_cents": 100}),
        ),
        404,
        "product_not_found",
    );
    let changed = app.patch_as(
        None,
        "/api/v1/products/ERA-0042",
        &json!({"price_cents": 1399}),
    );
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(
        (
            &changed.body["price_cents"],
            &changed.body["name"],
            &changed.body["ean13"]
        ),
        (&json!(1399), &new["name"], &json!(barcode))
    );
    let second = sell("erable-2");
    assert_eq!(second["total_cents"], 2798);
    let kept = app.get(&format!("/api/v1/stores/1/sales/{}", first["id"]));
    assert_eq!(kept.body["total_cents"], 2598);

    // Both survive a restart.
    let data_dir = app.stop();
    let app = crate::helpers::start(crate::helpers::settings(
        &data_dir,
        magasin::persistence::Backend::Sqlite,
        true,
    ));
    let product = app.get("/api/v1/products/ERA-0042");
    assert_eq!(product.body["price_cents"], 1399, "{:?}", product.body);
    assert_eq!(total(&app), before + 1);
}
