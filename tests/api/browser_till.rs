//! The till in the browser, with the keyboard alone: open the till with a float, scan,
//! Enter to pay, cash given, Enter; the receipt with the change; then the till closed with
//! the cash counted and its Z report. Screenshots of the till, the receipt and the Z report.

use crate::browser::{browser, eventually, runtime, screenshot, signed_in, text_of};
use crate::helpers::{TestApp, spawn_app};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};

/// `12,34` as a cashier types it.
fn typed(cents: i64) -> String {
    format!("{},{:02}", cents / 100, cents % 100)
}

/// `1 234,56 $` without its spaces, to compare with what a screen shows.
fn shown(cents: i64) -> String {
    format!("{},{:02}$", cents / 100, cents % 100)
}

fn squeezed(text: &str) -> String {
    text.replace(['\u{a0}', '\u{202f}', ' '], "")
}

/// On the till screen of a closed till: types the float and opens it.
pub(crate) async fn open_till(client: &Client, float: &str) {
    let input = client
        .wait()
        .for_element(Locator::Css("#fonds"))
        .await
        .expect("the closed till's float");
    input.clear().await.expect("cleared");
    input
        .send_keys(&format!("{float}{}", char::from(Key::Enter)))
        .await
        .expect("typed and sent");
}

#[test]
fn a_cashier_sells_for_cash_with_change_and_closes_the_till_with_a_z_report() {
    let app = spawn_app();
    runtime().block_on(sells_and_closes_in_browser(&app));
}

async fn sells_and_closes_in_browser(app: &TestApp) {
    let chips = app.get("/api/v1/products/EPI-0024").body;
    let ean = chips["ean13"].as_str().expect("a barcode").to_owned();
    let (_driver, client) = browser().await;
    signed_in(&client, app, "caissier1").await;
    open_till(&client, "100,00").await;
    let code = client
        .wait()
        .for_element(Locator::Css("#code"))
        .await
        .expect("the open till");
    let enter = char::from(Key::Enter);
    for _ in 0..2 {
        code.send_keys(&format!("{ean}{enter}"))
            .await
            .expect("a scan");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The total the till shows is the server's: GST and QST on two bags of chips.
    let price = chips["price_cents"].as_i64().expect("a price");
    let base = 2 * price;
    let total = base + (base * 5_000 + 50_000) / 100_000 + (base * 9_975 + 50_000) / 100_000;
    eventually("the total with taxes", async || {
        squeezed(&text_of(&client, "#total").await) == shown(total)
    })
    .await;
    // Enter on the empty scan field goes to the cash given; Enter there pays.
    code.send_keys(&enter.to_string())
        .await
        .expect("to the payment");
    let cash = client.active_element().await.expect("the focused field");
    cash.send_keys(&format!("20{enter}"))
        .await
        .expect("cash given");
    client
        .wait()
        .for_element(Locator::Css("#recu-monnaie"))
        .await
        .expect("a receipt");
    screenshot(&client, "caisse-recu").await;
    let sale = app.sales(1).body["items"][0].clone();
    assert_eq!(sale["total_cents"], total);
    assert_eq!(sale["tenders"][0]["type"], "cash");
    let change = sale["change_cents"].as_i64().expect("change");
    assert_eq!(change, 2_000 - sale["paid_cents"].as_i64().expect("paid"));
    assert_eq!(
        squeezed(&text_of(&client, "#recu-monnaie").await),
        shown(change)
    );
    assert!(text_of(&client, "#recu").await.contains("TVQ 9,975 %"));

    // Closing: the cash expected is counted, the Z report shows no difference.
    let x = app.get("/api/v1/stores/1/tills/1/sessions/current").body;
    let expected = x["cash_expected_cents"].as_i64().expect("expected cash");
    assert_eq!(
        expected,
        10_000 + sale["paid_cents"].as_i64().expect("paid")
    );
    let counted = client
        .find(Locator::Css("#compte"))
        .await
        .expect("the count");
    counted
        .send_keys(&format!("{}{enter}", typed(expected)))
        .await
        .expect("counted and closed");
    client
        .wait()
        .for_element(Locator::Css("#rapport-z h2"))
        .await
        .expect("the Z report");
    assert!(
        text_of(&client, "#rapport-z h2")
            .await
            .contains("Rapport Z n° 1")
    );
    assert_eq!(squeezed(&text_of(&client, "#ecart").await), shown(0));
    screenshot(&client, "rapport-z").await;
    let z = app.get("/api/v1/stores/1/z-reports").body;
    assert_eq!(z["items"][0]["over_short_cents"], 0);
    assert_eq!(z["items"][0]["sales_count"], 1);
    // The printed Z report carries its seal: the journal's head and the signature.
    let seal = text_of(&client, "#sceau").await;
    for part in ["head", "signature", "public_key"] {
        let value = z["items"][0]["seal"][part].as_str().expect("sealed");
        assert!(seal.contains(value), "{part} printed: {seal}");
    }
    client.close().await.expect("the session closes");
}
