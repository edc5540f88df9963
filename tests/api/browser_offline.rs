//! The till keeps selling when the server is down: its service worker serves the
//! application and the last reads, sales are completed at the till, numbered from its own
//! sequence and kept in IndexedDB, the page reloads offline, and everything is sent in order
//! once the server answers again, recorded once each.

use crate::browser::{browser, eventually, runtime, signed_in, text_of};
use crate::browser_till::open_till;
use crate::helpers::{TestApp, free_port, settings, start};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use magasin::persistence::Backend;
use std::time::{Duration, Instant};

/// Scans `ean` once, then pays with `cash` typed (empty: a card for the total).
async fn ring(client: &Client, ean: &str, cash: &str) {
    let enter = char::from(Key::Enter);
    let code = client
        .wait()
        .for_element(Locator::Css("#code"))
        .await
        .expect("the till");
    code.send_keys(&format!("{ean}{enter}"))
        .await
        .expect("a scan");
    eventually("the line in the cart", async || {
        text_of(client, ".panier tbody").await.contains(',')
    })
    .await;
    code.send_keys(&enter.to_string())
        .await
        .expect("to the payment");
    let field = client.active_element().await.expect("the cash field");
    field
        .send_keys(&format!("{cash}{enter}"))
        .await
        .expect("paid");
}

#[test]
fn a_till_sells_offline_reloads_and_sends_its_sales_once_the_server_is_back() {
    let temp = tempfile::tempdir().expect("temp dir");
    let mut config = settings(&temp.path().join("data"), Backend::Sqlite, true);
    config.server.bind = format!("127.0.0.1:{}", free_port());
    // The tokens must outlive the restart.
    config.auth.jwt_secret = Some("a-test-secret-of-at-least-thirty-two-bytes".into());
    let app = start(config.clone());
    let ean = app.get("/api/v1/products/EPI-0024").body["ean13"]
        .as_str()
        .expect("a barcode")
        .to_owned();
    let app = runtime().block_on(offline_in_browser(app, config, &ean));
    let sales = app.sales(1).body;
    let mut receipts: Vec<String> = sales["items"]
        .as_array()
        .expect("sales")
        .iter()
        .filter_map(|s| s["receipt_number"].as_str().map(str::to_owned))
        .collect();
    receipts.sort();
    assert_eq!(
        receipts,
        ["1-01-000001", "1-01-000002", "1-01-000003", "1-01-000004"],
        "four sales, once each, contiguous"
    );
    let taken_offline = sales["items"]
        .as_array()
        .expect("sales")
        .iter()
        .filter(|s| s["recorded_at"].is_string())
        .count();
    assert_eq!(taken_offline, 4);
    assert_eq!(app.on_hand(1, "EPI-0024"), 200 - 4);
    app.stop();
}

async fn offline_in_browser(app: TestApp, config: magasin::config::Settings, ean: &str) -> TestApp {
    app.count(1, "EPI-0024", 200);
    let (_driver, client) = browser().await;
    signed_in(&client, &app, "caissier1").await;
    open_till(&client, "100,00").await;
    client
        .wait()
        .for_element(Locator::Css("#code"))
        .await
        .expect("the open till");
    // The service worker controls the page once it is active (it claims it).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let controlled = client
            .execute("return !!navigator.serviceWorker.controller;", vec![])
            .await
            .expect("a script");
        if controlled.as_bool() == Some(true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the service worker controls the page"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One reload online: every read the till makes is now in the cache.
    client.refresh().await.expect("reloaded");
    client
        .wait()
        .for_element(Locator::Css("#code"))
        .await
        .expect("the till again");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = app.base.clone();
    // The server runs its own actix system: stopped and started outside this runtime.
    std::thread::spawn(move || app.stop())
        .join()
        .expect("the server stops");

    ring(&client, ean, "20").await;
    client
        .wait()
        .for_element(Locator::Css("#hors-ligne"))
        .await
        .expect("an offline receipt");
    assert!(
        !text_of(&client, "#recu-monnaie").await.is_empty(),
        "change shown"
    );
    ring(&client, ean, "").await;
    ring(&client, ean, "").await;
    eventually("three sales waiting", async || {
        text_of(&client, "#attente").await.starts_with("3 ")
    })
    .await;
    client.refresh().await.expect("reloaded offline");
    ring(&client, ean, "").await;
    eventually("four sales waiting", async || {
        text_of(&client, "#attente").await.starts_with("4 ")
    })
    .await;
    crate::browser::screenshot(&client, "caisse-hors-ligne").await;

    let app = std::thread::spawn(move || start(config))
        .join()
        .expect("the server starts again");
    assert_eq!(app.base, base, "the server is back where the till knows it");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text_of(&client, "#attente").await.is_empty() {
        assert!(Instant::now() < deadline, "the queue drains within 10 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    client.close().await.expect("the session closes");
    app
}
