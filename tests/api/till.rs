//! The till over HTTP: taxes of Quebec and Ontario, tenders, sessions with their X and Z
//! reports, discounts with a manager's approval, receipts.

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};
use serde_json::{Value, json};

/// Half up to the cent of `base × rate / 100 000` (rate in hundred-thousandths).
fn tax(base: i64, rate: i64) -> i64 {
    (base * rate + 50_000) / 100_000
}

fn price(app: &TestApp, sku: &str) -> i64 {
    let product = app.get(&format!("/api/v1/products/{sku}"));
    assert_eq!(product.status, 200, "{sku}: {:?}", product.body);
    product.body["price_cents"].as_i64().expect("a price")
}

fn cents(value: &Value) -> i64 {
    value
        .as_i64()
        .unwrap_or_else(|| panic!("cents expected, got {value}"))
}

struct Till<'a> {
    app: &'a TestApp,
    token: String,
    store: u32,
    till: u32,
}

impl<'a> Till<'a> {
    fn open(app: &'a TestApp, user: &str, store: u32, till: u32, float: i64) -> Self {
        let token = app.login(user);
        let path = format!("/api/v1/stores/{store}/tills/{till}/sessions");
        let opened = app.post_as(Some(&token), &path, &json!({"float_cents": float}));
        assert_eq!(opened.status, 201, "open: {:?}", opened.body);
        assert_eq!(opened.body["report"], "X");
        Self {
            app,
            token,
            store,
            till,
        }
    }

    fn sell(&self, key: &str, mut body: Value) -> crate::helpers::Reply {
        body["till"] = json!(self.till);
        let path = format!("/api/v1/stores/{}/sales", self.store);
        self.app
            .post_as_with_key(Some(&self.token), &path, key, &body)
    }

    fn x(&self) -> Value {
        let path = format!(
            "/api/v1/stores/{}/tills/{}/sessions/current",
            self.store, self.till
        );
        let x = self.app.get_as(Some(&self.token), &path);
        assert_eq!(x.status, 200, "X: {:?}", x.body);
        x.body
    }

    fn close(&self, body: &Value) -> crate::helpers::Reply {
        let path = format!(
            "/api/v1/stores/{}/tills/{}/sessions/current/close",
            self.store, self.till
        );
        self.app.post_as(Some(&self.token), &path, body)
    }
}

#[test]
fn a_quebec_sale_collects_gst_and_qst_on_the_taxable_line_only() {
    let app = spawn_app();
    let (milk, chips) = (price(&app, "LAI-0001"), price(&app, "EPI-0024"));
    let till = Till::open(&app, "caissier1", 1, 1, 10_000);
    let body = json!({
        "lines": [{"sku": "LAI-0001", "quantity": 1}, {"sku": "EPI-0024", "quantity": 2}],
        "tenders": [{"type": "cash", "amount_cents": 10_000}],
    });
    let sale = till.sell("qc-1", body.clone());
    assert_eq!(sale.status, 201, "{:?}", sale.body);
    let base = 2 * chips;
    let (gst, qst) = (tax(base, 5_000), tax(base, 9_975));
    let taxes = &sale.body["taxes"];
    assert_eq!(
        taxes[0],
        json!({"code": "GST", "rate": "5", "base_cents": base, "amount_cents": gst})
    );
    assert_eq!(
        taxes[1],
        json!({"code": "QST", "rate": "9.975", "base_cents": base, "amount_cents": qst})
    );
    let total = milk + base + gst + qst;
    assert_eq!(cents(&sale.body["total_cents"]), total);
    assert_eq!(sale.body["lines"][0]["tax_class"], "zero_rated");
    assert_eq!(sale.body["lines"][0]["tax_codes"], json!([]));
    assert_eq!(sale.body["lines"][1]["tax_codes"], json!(["GST", "QST"]));
    // Cash: rounded to 5 cents, the change handed back.
    let paid = cents(&sale.body["paid_cents"]);
    assert_eq!(paid % 5, 0);
    assert!((paid - total).abs() <= 2);
    assert_eq!(cents(&sale.body["change_cents"]), 10_000 - paid);
    let receipt = &sale.body["receipt"];
    assert_eq!(receipt["receipt_number"], "1-01-000001");
    assert_eq!(receipt["copy"], false);
    assert_eq!(receipt["registrations"][0]["code"], "GST");
    assert_eq!(receipt["registrations"][1]["code"], "QST");
    assert_eq!(receipt["cashier"], "caissier1");
    assert!(
        receipt["address"]
            .as_str()
            .is_some_and(|a| a.contains("Montréal"))
    );
    // The same key again: the same sale, the same receipt number.
    let again = till.sell("qc-1", body);
    assert_eq!(again.status, 201);
    assert_eq!(again.body["receipt_number"], "1-01-000001");
    let id = sale.body["id"].as_u64().expect("an id");
    let reprint = app.get_as(Some(&till.token), &format!("/api/v1/stores/1/sales/{id}"));
    assert_eq!(reprint.body["receipt"]["copy"], true);
    assert_eq!(reprint.body["taxes"], sale.body["taxes"]);
}

#[test]
fn an_ontario_sale_collects_hst_and_split_tenders_round_only_the_cash() {
    let app = spawn_app();
    let chips = price(&app, "EPI-0024");
    let till = Till::open(&app, "caissier6", 6, 1, 0);
    let body = json!({
        "lines": [{"sku": "EPI-0024", "quantity": 3}],
        "tenders": [{"type": "card", "amount_cents": 500, "reference": "TERM-42"}, {"type": "cash", "amount_cents": 5_000}],
    });
    let sale = till.sell("on-1", body);
    assert_eq!(sale.status, 201, "{:?}", sale.body);
    let hst = tax(3 * chips, 13_000);
    assert_eq!(
        sale.body["taxes"],
        json!([{"code": "HST", "rate": "13", "base_cents": 3 * chips, "amount_cents": hst}])
    );
    let total = 3 * chips + hst;
    let tenders = sale.body["tenders"].as_array().expect("tenders");
    assert_eq!(
        tenders[0],
        json!({"type": "card", "amount_cents": 500, "given_cents": 500, "reference": "TERM-42"})
    );
    let cash_due = cents(&tenders[1]["amount_cents"]);
    assert_eq!(cash_due % 5, 0);
    assert_eq!(
        cash_due - (total - 500),
        cents(&sale.body["cash_rounding_cents"])
    );
    assert_eq!(cents(&sale.body["change_cents"]), 5_000 - cash_due);
    assert_eq!(sale.body["receipt"]["registrations"][0]["code"], "HST");
}

#[test]
fn tenders_short_of_the_total_and_a_closed_till_are_refused_and_change_nothing() {
    let app = spawn_app();
    let before = app.on_hand(1, "EPI-0024");
    let till = Till::open(&app, "caissier1", 1, 1, 0);
    let short = till.sell(
        "short-1",
        json!({
            "lines": [{"sku": "EPI-0024", "quantity": 1}],
            "tenders": [{"type": "cash", "amount_cents": 100}],
        }),
    );
    assert_problem(&short, 422, "tenders_short");
    assert!(cents(&short.body["errors"][0]["short_cents"]) > 0);
    let closed = Till { till: 2, ..till };
    let refused = closed.sell(
        "closed-1",
        json!({
            "lines": [{"sku": "EPI-0024", "quantity": 1}],
            "tenders": [{"type": "cash", "amount_cents": 10_000}],
        }),
    );
    assert_problem(&refused, 409, "till_closed");
    assert_eq!(app.on_hand(1, "EPI-0024"), before);
    let no_class = app.post(
        "/api/v1/products",
        &json!({
            "sku": "TST-0001", "ean13": crate::helpers::ean13("062700000001"), "name": "Essai",
            "category": "Épicerie", "price_cents": 100,
        }),
    );
    assert_problem(&no_class, 400, "validation_failed");
    assert_eq!(error_fields(&no_class), ["tax_class"]);
}

#[test]
fn a_sale_outside_a_till_keeps_working_with_taxes_paid_by_other() {
    let app = spawn_app();
    let chips = price(&app, "EPI-0024");
    let sale = app.sell(
        1,
        "plain-1",
        &json!({"lines": [{"sku": "EPI-0024", "quantity": 1}]}),
    );
    assert_eq!(sale.status, 201, "{:?}", sale.body);
    let total = chips + tax(chips, 5_000) + tax(chips, 9_975);
    assert_eq!(cents(&sale.body["total_cents"]), total);
    assert_eq!(
        sale.body["tenders"],
        json!([{"type": "other", "amount_cents": total, "given_cents": total, "reference": null}])
    );
    assert_eq!(sale.body["receipt_number"], Value::Null);
}

#[test]
fn discounts_above_the_threshold_need_a_manager_who_is_recorded() {
    let app = spawn_app();
    let till = Till::open(&app, "caissier1", 1, 1, 0);
    let sale = |key: &str, percent: i64, approval: Option<&str>| {
        let mut body = json!({
            "lines": [{"sku": "EPI-0024", "quantity": 1, "discount": {"percent": percent}}],
            "tenders": [{"type": "cash", "amount_cents": 10_000}],
        });
        if let Some(approval) = approval {
            body["approval"] = json!(approval);
        }
        till.sell(key, body)
    };
    let ten = sale("d-10", 10, None);
    assert_eq!(ten.status, 201, "{:?}", ten.body);
    assert_eq!(ten.body["approved_by"], Value::Null);
    assert_problem(&sale("d-30", 30, None), 403, "approval_required");
    let by_cashier = app.post_as(
        Some(&till.token),
        "/api/v1/stores/1/approvals",
        &json!({"username": "caissier1", "password": "demo"}),
    );
    assert_eq!(
        by_cashier.status, 403,
        "a cashier cannot approve: {:?}",
        by_cashier.body
    );
    let approval = app.post_as(
        Some(&till.token),
        "/api/v1/stores/1/approvals",
        &json!({"username": "gestionnaire1", "password": "demo"}),
    );
    assert_eq!(approval.status, 201, "{:?}", approval.body);
    let token = approval.body["approval"].as_str().expect("an approval");
    assert_eq!(
        app.get_as(Some(token), "/api/v1/stores").status,
        401,
        "never a bearer token"
    );
    let thirty = sale("d-30b", 30, Some(token));
    assert_eq!(thirty.status, 201, "{:?}", thirty.body);
    assert_eq!(thirty.body["approved_by"], "gestionnaire1");
    let chips = price(&app, "EPI-0024");
    let net = chips - (chips * 30 + 50) / 100;
    assert_eq!(cents(&thirty.body["subtotal_cents"]), net);
    assert_eq!(
        cents(&thirty.body["taxes"][0]["base_cents"]),
        net,
        "taxes apply after discounts"
    );
}

#[test]
fn a_session_closed_five_cents_short_says_so_and_every_total_is_the_sum_of_its_sales() {
    let app = spawn_app();
    let till = Till::open(&app, "caissier1", 1, 2, 20_000);
    let bodies = [
        json!({"lines": [{"sku": "EPI-0024", "quantity": 2}, {"sku": "LAI-0001", "quantity": 1}], "tenders": [{"type": "cash", "amount_cents": 5_000}]}),
        json!({"lines": [{"sku": "EPI-0024", "quantity": 1}], "tenders": [{"type": "cash", "amount_cents": 2_000}]}),
    ];
    let mut sales: Vec<Value> = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let sold = till.sell(&format!("z-{i}"), body.clone());
        assert_eq!(sold.status, 201, "{:?}", sold.body);
        sales.push(sold.body);
    }
    // A card sale of the exact total, read from the X report's point of view.
    let probe = app.sell(
        1,
        "z-probe",
        &json!({"lines": [{"sku": "LAI-0001", "quantity": 2}]}),
    );
    let card_total = cents(&probe.body["total_cents"]);
    let card = till.sell("z-card", json!({"lines": [{"sku": "LAI-0001", "quantity": 2}], "tenders": [{"type": "card", "amount_cents": card_total}]}));
    assert_eq!(card.status, 201, "{:?}", card.body);
    sales.push(card.body);
    // A cash refund of one bag of chips from the first sale, out of this session.
    let first = sales[0]["id"].as_u64().expect("an id");
    let back = app.post_as(
        Some(&till.token),
        &format!("/api/v1/stores/1/sales/{first}/returns"),
        &json!({"lines": [{"sku": "EPI-0024", "quantity": 1}], "till": 2}),
    );
    assert_eq!(back.status, 201, "{:?}", back.body);
    assert_eq!(back.body["tenders"][0]["type"], "cash");
    let refunded = cents(&back.body["refund_cents"]);

    let x = till.x();
    let sum = |field: &str| sales.iter().map(|s| cents(&s[field])).sum::<i64>();
    assert_eq!(cents(&x["sales_count"]), 3);
    assert_eq!(cents(&x["total_cents"]), sum("total_cents"));
    assert_eq!(cents(&x["net_cents"]), sum("subtotal_cents"));
    for (i, code) in ["GST", "QST"].iter().enumerate() {
        let of_sales: i64 = sales
            .iter()
            .map(|s| cents(&s["taxes"][i]["amount_cents"]))
            .sum();
        assert_eq!(x["taxes"][i]["code"], *code);
        assert_eq!(cents(&x["taxes"][i]["amount_cents"]), of_sales);
    }
    let cash_in: i64 = sales
        .iter()
        .flat_map(|s| s["tenders"].as_array().cloned().unwrap_or_default())
        .filter(|t| t["type"] == "cash")
        .map(|t| cents(&t["amount_cents"]))
        .sum();
    let expected = 20_000 + cash_in - refunded;
    assert_eq!(cents(&x["cash_expected_cents"]), expected);
    assert_eq!(cents(&x["refunds_cents"]), refunded);

    let short = json!({"counted_cash_cents": expected - 5});
    assert_problem(&till.close(&short), 422, "reason_required");
    let z = till.close(&json!({"counted_cash_cents": expected - 5, "reason": "erreur de monnaie"}));
    assert_eq!(z.status, 201, "{:?}", z.body);
    assert_eq!(z.body["report"], "Z");
    assert_eq!(z.body["over_short_cents"], -5);
    assert_eq!(z.body["z_number"], 1);
    assert_eq!(z.body["total_cents"], x["total_cents"]);
    let listed = app.get_as(Some(&till.token), "/api/v1/stores/1/z-reports");
    assert_eq!(listed.body["items"][0]["over_short_cents"], -5);
    let after = till.sell("z-after", bodies[1].clone());
    assert_problem(&after, 409, "till_closed");
}

#[test]
fn taxes_tenders_and_sessions_are_reported_per_jurisdiction_day_and_session_also_as_csv() {
    let app = spawn_app();
    let quebec = Till::open(&app, "caissier1", 1, 1, 5_000);
    let ottawa = Till::open(&app, "caissier6", 6, 1, 5_000);
    let chips = json!({"lines": [{"sku": "EPI-0024", "quantity": 2}, {"sku": "LAI-0001", "quantity": 1}],
                       "tenders": [{"type": "cash", "amount_cents": 5_000}]});
    let qc = quebec.sell("r-qc", chips.clone());
    let on = ottawa.sell("r-on", chips);
    assert_eq!((qc.status, on.status), (201, 201));
    let id = qc.body["id"].as_u64().expect("an id");
    let back = app.post_as(
        Some(&quebec.token),
        &format!("/api/v1/stores/1/sales/{id}/returns"),
        &json!({"lines": [{"sku": "EPI-0024", "quantity": 1}], "till": 1}),
    );
    assert_eq!(back.status, 201, "{:?}", back.body);
    let z = quebec.close(&json!({"counted_cash_cents": cents(&quebec.x()["cash_expected_cents"])}));
    assert_eq!(z.status, 201, "{:?}", z.body);

    let taxes = app.get("/api/v1/reports/taxes?store_id=1");
    assert_eq!(taxes.status, 200, "{:?}", taxes.body);
    let qc_taxes = &taxes.body["jurisdictions"][0];
    assert_eq!(qc_taxes["code"], "QC");
    for (i, line) in qc_taxes["taxes"]
        .as_array()
        .expect("taxes")
        .iter()
        .enumerate()
    {
        let collected = cents(&qc.body["taxes"][i]["amount_cents"]);
        let refunded = cents(&back.body["taxes"][i]["amount_cents"]);
        assert_eq!(line["code"], qc.body["taxes"][i]["code"]);
        assert_eq!(
            (
                cents(&line["collected_cents"]),
                cents(&line["refunded_cents"])
            ),
            (collected, refunded)
        );
        assert_eq!(cents(&line["net_cents"]), collected - refunded);
    }
    let zero_rated = &qc_taxes["sales_by_class"][1];
    assert_eq!(zero_rated["class"], "zero_rated");
    assert_eq!(cents(&zero_rated["sold_cents"]), price(&app, "LAI-0001"));
    let chain = app.get("/api/v1/reports/taxes").body;
    let places: Vec<&str> = chain["jurisdictions"]
        .as_array()
        .expect("places")
        .iter()
        .filter_map(|j| j["code"].as_str())
        .collect();
    assert!(
        places.contains(&"ON") && places.contains(&"QC"),
        "{places:?}"
    );
    let hst = chain["jurisdictions"]
        .as_array()
        .expect("places")
        .iter()
        .find(|j| j["code"] == "ON")
        .expect("Ontario");
    assert_eq!(hst["taxes"][0]["code"], "HST");
    assert_eq!(
        cents(&hst["taxes"][0]["collected_cents"]),
        cents(&on.body["taxes"][0]["amount_cents"])
    );

    let tenders = app.get("/api/v1/reports/tenders?store_id=1").body;
    let cash = &tenders["totals"][0];
    assert_eq!(cash["type"], "cash");
    assert_eq!(
        cents(&cash["taken_cents"]),
        cents(&qc.body["tenders"][0]["amount_cents"])
    );
    assert_eq!(
        cents(&cash["refunded_cents"]),
        cents(&back.body["refund_cents"])
    );
    let sessions = app.get("/api/v1/reports/sessions?store_id=1").body;
    assert_eq!(sessions["sessions"][0]["z_number"], 1);
    assert_eq!(sessions["over_short_total_cents"], 0);

    let admin = app.admin.clone().expect("an admin token");
    let csv = app.get_with_headers(
        "/api/v1/reports/taxes?store_id=1",
        &[
            ("Authorization", &format!("Bearer {admin}")),
            ("Accept", "text/csv"),
        ],
    );
    assert_eq!(csv.status, 200);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let text = csv.body.as_str().expect("CSV text");
    let mut rows = text.lines();
    assert_eq!(
        rows.next(),
        Some("jurisdiction,tax,rate,taxable_cents,collected_cents,refunded_cents,net_cents")
    );
    assert!(
        rows.next().is_some_and(|r| r.starts_with("QC,GST,5,")),
        "{text}"
    );
    let sales_csv = app.get_with_headers(
        "/api/v1/reports/sales",
        &[
            ("Authorization", &format!("Bearer {admin}")),
            ("Accept", "text/csv"),
        ],
    );
    assert!(
        sales_csv
            .body
            .as_str()
            .is_some_and(|t| t.starts_with("store_id,store_code,"))
    );
}

#[test]
fn a_new_rate_applies_from_its_day_and_recorded_sales_keep_theirs() {
    let app = spawn_app();
    let before = app.sell(
        1,
        "rate-before",
        &json!({"lines": [{"sku": "EPI-0024", "quantity": 1}]}),
    );
    assert_eq!(before.body["taxes"][1]["rate"], "9.975");
    let zone = jiff::tz::TimeZone::get("America/Toronto").expect("a zone");
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(zone)
        .date()
        .to_string();
    let quebec = json!({"name": "Québec", "time_zone": "America/Toronto", "rates": [
        {"code": "GST", "rate": "5", "from": "2008-01-01"},
        {"code": "QST", "rate": "9.975", "from": "2013-01-01"},
        {"code": "QST", "rate": "10", "from": today},
    ]});
    let cashier = app.login("caissier1");
    assert_eq!(
        app.send_as("PUT", Some(&cashier), "/api/v1/jurisdictions/QC", &quebec)
            .status,
        403
    );
    let bad = json!({"name": "Québec", "time_zone": "America/Toronto", "rates": [{"code": "VAT", "rate": "9,975", "from": "hier"}]});
    let refused = app.send_as("PUT", None, "/api/v1/jurisdictions/QC", &bad);
    assert_problem(&refused, 400, "validation_failed");
    assert_eq!(error_fields(&refused), ["rates[0].code"]);
    let set = app.send_as("PUT", None, "/api/v1/jurisdictions/QC", &quebec);
    assert_eq!(set.status, 200, "{:?}", set.body);
    let after = app.sell(
        1,
        "rate-after",
        &json!({"lines": [{"sku": "EPI-0024", "quantity": 1}]}),
    );
    assert_eq!(after.body["taxes"][1]["rate"], "10");
    let id = before.body["id"].as_u64().expect("an id");
    let reprint = app.get(&format!("/api/v1/stores/1/sales/{id}"));
    assert_eq!(
        reprint.body["taxes"], before.body["taxes"],
        "a recorded sale keeps its taxes"
    );
    let listed = app.get("/api/v1/jurisdictions").body;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));

    // Head office gives store 1 a third till and its registration numbers.
    let changed = app.patch_as(
        None,
        "/api/v1/stores/1",
        &json!({"tills": 3, "registrations": [{"code": "GST", "number": "987654321 RT0001"}]}),
    );
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["tills"], 3);
    let third = Till::open(&app, "caissier1", 1, 3, 0);
    assert_eq!(third.x()["till"], 3);
    let elsewhere = app.patch_as(None, "/api/v1/stores/1", &json!({"jurisdiction": "ZZ"}));
    assert_problem(&elsewhere, 422, "unknown_jurisdiction");
}

#[test]
fn an_offline_sale_beyond_the_stock_is_recorded_with_an_ecart_and_a_late_addendum() {
    let app = spawn_app();
    let chips = price(&app, "EPI-0024");
    let till = Till::open(&app, "caissier1", 1, 1, 0);
    let first = till.sell("off-0", json!({"lines": [{"sku": "LAI-0001", "quantity": 1}], "tenders": [{"type": "cash", "amount_cents": 2_000}]}));
    assert_eq!(first.body["receipt_number"], "1-01-000001");
    app.count(1, "EPI-0024", 2);
    let expected = cents(&till.x()["cash_expected_cents"]);
    assert_eq!(
        till.close(&json!({"counted_cash_cents": expected})).status,
        201
    );

    // Taken offline ten minutes ago, in session 1 (closed since), five bags for two on the shelf.
    let at = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10);
    let offline = json!({
        "captured_offline_at": at.to_string(), "receipt_number": "1-01-000002", "session": 1,
        "lines": [{"sku": "EPI-0024", "quantity": 5, "unit_price_cents": chips}],
        "tenders": [{"type": "cash", "amount_cents": 10_000}],
    });
    let sold = till.sell("off-1", offline.clone());
    assert_eq!(sold.status, 201, "{:?}", sold.body);
    assert_eq!(sold.body["lines"][0]["unstocked"], 3);
    assert!(sold.body["recorded_at"].is_string());
    let base = 5 * chips;
    assert_eq!(
        cents(&sold.body["taxes"][0]["amount_cents"]),
        tax(base, 5_000)
    );
    assert_eq!(app.on_hand(1, "EPI-0024"), 0, "stock never goes below zero");
    let again = till.sell("off-1", offline);
    assert_eq!((again.status, again.replayed), (201, true));
    assert_eq!(again.body["id"], sold.body["id"]);

    let ledger = app.get("/api/v1/stores/1/ledger?limit=1000").body;
    let last = ledger["items"]
        .as_array()
        .and_then(|i| i.last())
        .expect("an entry");
    assert_eq!(last["movements"][0]["change"], -2);
    assert_eq!(last["movements"][0]["discrepancy"], -3);
    let to_count = app.get("/api/v1/stores/1/stock?to_count=true").body;
    let skus: Vec<&str> = to_count["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|l| l["sku"].as_str())
        .collect();
    assert_eq!(skus, ["EPI-0024"]);
    let taxes = app.get("/api/v1/reports/taxes?store_id=1").body;
    let gst = &taxes["jurisdictions"][0]["taxes"][0];
    assert_eq!(
        cents(&gst["collected_cents"]),
        cents(&first.body["taxes"][0]["amount_cents"]) + tax(base, 5_000)
    );
    let z = app.get("/api/v1/stores/1/z-reports").body;
    assert_eq!(z["items"][0]["late_addendum"]["sales_count"], 1);
    assert_eq!(
        z["items"][0]["late_addendum"]["total_cents"],
        sold.body["total_cents"]
    );
    assert_eq!(
        z["items"][0]["sales_count"], 1,
        "the Z report itself does not change"
    );

    let skipped = till.sell("off-2", json!({
        "captured_offline_at": at.to_string(), "receipt_number": "1-01-000005", "session": 1,
        "lines": [{"sku": "LAI-0001", "quantity": 1}], "tenders": [{"type": "cash", "amount_cents": 1_000}],
    }));
    assert_problem(&skipped, 409, "receipt_out_of_sequence");
    app.count(1, "EPI-0024", 40);
    let counted = app.get("/api/v1/stores/1/stock?to_count=true").body;
    assert_eq!(
        counted["items"].as_array().map(Vec::len),
        Some(0),
        "a count clears the écart"
    );
}
