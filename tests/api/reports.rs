//! Reports: after a scripted day of sales and returns, every figure equals what the
//! ledgers say, computed here independently.

use crate::helpers::{TestApp, assert_problem, spawn_app};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const STORES: [u32; 3] = [1, 2, 3];
const SKUS: [&str; 4] = ["EPI-0001", "LAI-0001", "BOI-0001", "ELE-0001"];

/// Sales and returns across three stores, all made now (so all "today").
fn scripted_day(app: &TestApp) {
    for store in STORES {
        for sku in SKUS {
            app.count(store, sku, 500);
        }
        for n in 0..(3 + store as usize) {
            let lines: Vec<Value> = SKUS
                .iter()
                .enumerate()
                .filter(|(i, _)| !(i + n + store as usize).is_multiple_of(3))
                .map(|(i, sku)| json!({"sku": sku, "quantity": 1 + (i + n) % 4}))
                .collect();
            let sale = app.post(
                &format!("/api/v1/stores/{store}/sales"),
                &json!({"lines": lines}),
            );
            assert_eq!(sale.status, 201, "{:?}", sale.body);
            if n % 2 == 0 {
                let first = &sale.body["lines"][0];
                let id = sale.body["id"].as_u64().expect("id");
                let ret = app.post(
                    &format!("/api/v1/stores/{store}/sales/{id}/returns"),
                    &json!({"lines": [{"sku": first["sku"], "quantity": 1}]}),
                );
                assert_eq!(ret.status, 201, "{:?}", ret.body);
            }
        }
    }
}

#[derive(Debug, Default, PartialEq)]
struct FromLedger {
    sales: i64,
    units: i64,
    revenue: i64,
    returns: i64,
    returned_units: i64,
    refunds: i64,
}

/// The store's figures and per-product (units, revenue), summed from its ledger.
fn from_ledger(app: &TestApp, store: u32) -> (FromLedger, BTreeMap<String, (i64, i64)>) {
    let ledger = app.get(&format!("/api/v1/stores/{store}/ledger?limit=1000"));
    assert!(
        ledger.body["next_after"].is_null(),
        "one page holds the whole ledger"
    );
    let mut figures = FromLedger::default();
    let mut products: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for entry in ledger.body["items"].as_array().expect("items") {
        let amount = entry["amount_cents"].as_i64().unwrap_or(0);
        let movements = entry["movements"].as_array().expect("movements");
        match entry["type"].as_str() {
            Some("sale_recorded") => {
                figures.sales += 1;
                figures.revenue += amount;
                for m in movements {
                    let units = -m["change"].as_i64().expect("change");
                    figures.units += units;
                    let product = products
                        .entry(m["sku"].as_str().expect("sku").to_owned())
                        .or_default();
                    product.0 += units;
                    product.1 += units * m["unit_price_cents"].as_i64().expect("unit price");
                }
            }
            Some("sale_returned") => {
                figures.returns += 1;
                figures.refunds -= amount;
                figures.returned_units += movements
                    .iter()
                    .map(|m| m["change"].as_i64().expect("change"))
                    .sum::<i64>();
            }
            _ => {}
        }
    }
    (figures, products)
}

fn reported(body: &Value) -> FromLedger {
    FromLedger {
        sales: body["sales_count"].as_i64().expect("sales_count"),
        units: body["units"].as_i64().expect("units"),
        revenue: body["revenue_cents"].as_i64().expect("revenue"),
        returns: body["returns_count"].as_i64().expect("returns"),
        returned_units: body["returned_units"].as_i64().expect("returned units"),
        refunds: body["refunds_cents"].as_i64().expect("refunds"),
    }
}

#[test]
fn every_report_figure_equals_the_ledgers() {
    let app = spawn_app();
    scripted_day(&app);
    let report = app.get("/api/v1/reports/sales");
    assert_eq!(report.status, 200, "{:?}", report.body);
    let mut chain = FromLedger::default();
    let mut chain_products: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for store in STORES {
        let (expected, products) = from_ledger(&app, store);
        let row = report.body["stores"]
            .as_array()
            .expect("stores")
            .iter()
            .find(|s| s["store_id"] == store)
            .expect("a row per store");
        let got = reported(row);
        assert_eq!(got, expected, "store {store}");
        assert_eq!(
            row["net_revenue_cents"],
            expected.revenue - expected.refunds
        );
        assert_eq!(
            row["average_basket_cents"],
            expected.revenue / expected.sales
        );
        chain.sales += expected.sales;
        chain.units += expected.units;
        chain.revenue += expected.revenue;
        chain.returns += expected.returns;
        chain.returned_units += expected.returned_units;
        chain.refunds += expected.refunds;
        for (sku, (units, revenue)) in products {
            let entry = chain_products.entry(sku).or_default();
            entry.0 += units;
            entry.1 += revenue;
        }
    }
    assert_eq!(reported(&report.body["totals"]), chain);

    for by in ["units", "revenue"] {
        let top = app.get(&format!("/api/v1/reports/top-products?by={by}&limit=100"));
        assert_eq!(top.status, 200, "{:?}", top.body);
        let items = top.body["items"].as_array().expect("items");
        assert_eq!(items.len(), chain_products.len());
        for item in items {
            let (units, revenue) = chain_products[item["sku"].as_str().expect("sku")];
            assert_eq!(
                (item["units"].as_i64(), item["revenue_cents"].as_i64()),
                (Some(units), Some(revenue))
            );
        }
        let key = |i: &Value| {
            i[if by == "units" {
                "units"
            } else {
                "revenue_cents"
            }]
            .as_i64()
            .expect("key")
        };
        assert!(
            items.windows(2).all(|w| key(&w[0]) >= key(&w[1])),
            "ordered by {by}"
        );
    }

    let dashboard = app.get("/api/v1/reports/dashboard");
    assert_eq!(dashboard.status, 200, "{:?}", dashboard.body);
    assert_eq!(dashboard.body["revenue_today_cents"], chain.revenue);
    assert_eq!(dashboard.body["sales_today"], chain.sales);
    let hourly = dashboard.body["hourly"].as_array().expect("hourly");
    assert_eq!(hourly.len(), 24);
    assert_eq!(
        hourly
            .iter()
            .map(|h| h["revenue_cents"].as_i64().expect("revenue"))
            .sum::<i64>(),
        chain.revenue
    );
}

#[test]
fn stock_report_values_stock_and_lists_low_lines() {
    let app = spawn_app();
    app.count(4, "EPI-0001", 0);
    let report = app.get("/api/v1/reports/stock?store_id=4");
    assert_eq!(report.status, 200, "{:?}", report.body);
    let store = &report.body["stores"][0];
    let stock = app.get("/api/v1/stores/4/stock?per_page=200").body;
    let mut all = stock["items"].as_array().expect("items").clone();
    all.extend(
        app.get("/api/v1/stores/4/stock?per_page=200&page=2").body["items"]
            .as_array()
            .expect("items")
            .clone(),
    );
    let value: i64 = all
        .iter()
        .map(|l| {
            l["on_hand"].as_i64().expect("on_hand") * l["price_cents"].as_i64().expect("price")
        })
        .sum();
    assert_eq!(store["stock_value_cents"], value);
    let low: Vec<&str> = store["low_stock"]
        .as_array()
        .expect("low")
        .iter()
        .filter_map(|l| l["sku"].as_str())
        .collect();
    assert!(low.contains(&"EPI-0001"));
    assert_eq!(low.len(), all.iter().filter(|l| l["low"] == true).count());
    assert!(
        report.body["central"]["units"]
            .as_i64()
            .expect("central units")
            > 0
    );
}

#[test]
fn managers_see_their_own_store_only() {
    let app = spawn_app();
    let manager = app.login("gestionnaire1");
    let own = app.get_as(Some(&manager), "/api/v1/reports/sales");
    assert_eq!(own.status, 200);
    let stores = own.body["stores"].as_array().expect("stores");
    assert_eq!(stores.len(), 1);
    assert_eq!(stores[0]["store_id"], 1);
    assert_problem(
        &app.get_as(Some(&manager), "/api/v1/reports/sales?store_id=2"),
        403,
        "forbidden_store",
    );
    assert_problem(
        &app.get_as(Some(&app.login("caissier1")), "/api/v1/reports/dashboard"),
        403,
        "forbidden",
    );
    assert!(app.get_as(Some(&manager), "/api/v1/reports/stock").body["central"].is_null());
    assert_problem(
        &app.get("/api/v1/reports/sales?from=2026-13-40"),
        400,
        "validation_failed",
    );
    assert_problem(
        &app.get("/api/v1/reports/sales?from=2026-11-25&to=2026-11-24"),
        400,
        "validation_failed",
    );
    let day = app.get("/api/v1/reports/sales?from=2026-01-01&to=2026-01-01");
    assert_eq!(day.status, 200);
    assert_eq!(day.body["totals"]["sales_count"], 0);
}
