//! The web application in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/test.sh`), driven over WebDriver against the
//! real server. Screenshots of each screen go to the target directory, or to
//! `docs/screenshots/` with `MAGASIN_UPDATE_SCREENSHOTS=1`.

use crate::helpers::{TestApp, free_port, spawn_app};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver on a free port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn browser() -> (Driver, Client) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "chromedriver must be installed (scripts/test.sh installs Debian's chromium-driver)",
        );
    let profile = tempfile::tempdir().expect("a profile dir");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: profile,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while ureq::get(&format!("{}/status", driver.url)).call().is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not answer within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1024,768", "--no-first-run", "--disable-quic",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", driver._profile.path().display()),
            ]
        }),
    );
    let client = ClientBuilder::rustls()
        .expect("a TLS-capable WebDriver client")
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session");
    (driver, client)
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the WebDriver client")
}

pub(crate) async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG"),
        "the browser returns a PNG for {name}"
    );
    // The README's screenshots are refreshed on request only, so a test run leaves the
    // working tree as it found it.
    let dir = if std::env::var_os("MAGASIN_UPDATE_SCREENSHOTS").is_some() {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    };
    std::fs::create_dir_all(&dir).expect("the screenshots folder");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot is written");
}

pub(crate) async fn login(client: &Client, app: &TestApp, username: &str) {
    let form = screen(client, app, "connexion", "form.connexion").await;
    form.find(Locator::Css("input[name=username]"))
        .await
        .expect("username")
        .send_keys(username)
        .await
        .expect("typed");
    form.find(Locator::Css("input[name=password]"))
        .await
        .expect("password")
        .send_keys("demo")
        .await
        .expect("typed");
    form.find(Locator::Css("button[type=submit]"))
        .await
        .expect("the button")
        .click()
        .await
        .expect("clicked");
}

/// The text of `css`, read in one script call: a screen that re-renders between a find and
/// a read would otherwise leave a stale element.
pub(crate) async fn text_of(client: &Client, css: &str) -> String {
    let text = client
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
            vec![json!(css)],
        )
        .await
        .expect(css);
    text.as_str().unwrap_or_default().to_owned()
}

/// Polls `check` until it holds or 5 s pass.
pub(crate) async fn eventually<F: AsyncFnMut() -> bool>(what: &str, mut check: F) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_cashier_scans_two_barcodes_and_a_double_click_sells_once() {
    // The server stops outside the WebDriver runtime (its own actix system).
    let app = spawn_app();
    runtime().block_on(a_cashier_scans_two_barcodes_and_a_double_click_sells_once_in_browser(&app));
}

async fn a_cashier_scans_two_barcodes_and_a_double_click_sells_once_in_browser(app: &TestApp) {
    let products: Vec<(String, String, i64)> = ["EPI-0001", "LAI-0001"]
        .iter()
        .map(|sku| {
            app.count(1, sku, 50);
            let p = app.get(&format!("/api/v1/products/{sku}")).body;
            (
                sku.to_string(),
                p["ean13"].as_str().expect("ean").to_owned(),
                p["price_cents"].as_i64().expect("price"),
            )
        })
        .collect();
    let (_driver, client) = browser().await;

    screen(&client, app, "connexion", "form.connexion").await;
    screenshot(&client, "connexion").await;
    login(&client, app, "caissier1").await;
    crate::browser_till::open_till(&client, "200,00").await;
    let code = client
        .wait()
        .for_element(Locator::Css("#code"))
        .await
        .expect("the till");
    for (_, ean, _) in &products {
        code.send_keys(&format!("{ean}{}", char::from(Key::Enter)))
            .await
            .expect("a scan");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let expected: i64 = products.iter().map(|(_, _, price)| price).sum();
    let want = format!("{},{:02}", expected / 100, expected % 100);
    eventually("two lines in the cart", async || {
        text_of(&client, "#total")
            .await
            .replace(['\u{a0}', '\u{202f}', ' '], "")
            .starts_with(&want)
    })
    .await;
    screenshot(&client, "caisse").await;
    // A double click: two clicks as fast as the browser delivers them.
    client
        .execute(
            "const b = document.getElementById('valider'); b.click(); b.click();",
            vec![],
        )
        .await
        .expect("clicked twice");
    client
        .wait()
        .for_element(Locator::Css("#recu h2"))
        .await
        .expect("a receipt");
    screenshot(&client, "recu").await;

    let sales = app.sales(1).body;
    assert_eq!(sales["total"], 1, "one sale for a double click");
    assert_eq!(sales["items"][0]["total_cents"], expected);
    assert_eq!(sales["items"][0]["by"], "caissier1");
    for (sku, _, _) in &products {
        assert_eq!(app.on_hand(1, sku), 49, "{sku} went down by one");
    }
    client.close().await.expect("the session closes");
}

#[test]
fn the_stock_screen_searches_and_shows_chain_availability() {
    // The server stops outside the WebDriver runtime (its own actix system).
    let app = spawn_app();
    runtime().block_on(the_stock_screen_searches_and_shows_chain_availability_in_browser(&app));
}

async fn the_stock_screen_searches_and_shows_chain_availability_in_browser(app: &TestApp) {
    let (_driver, client) = browser().await;
    login(&client, app, "gestionnaire1").await;
    client
        .wait()
        .for_element(Locator::Css("#code, #fonds"))
        .await
        .expect("the till first");
    let search = screen(&client, app, "stock", "#recherche").await;
    search.send_keys("erable").await.expect("typed");
    eventually("only maple syrup lines", async || {
        let rows = client
            .find_all(Locator::Css("table.stock tbody tr"))
            .await
            .expect("rows");
        !rows.is_empty() && rows.len() <= 2
    })
    .await;
    client
        .find(Locator::Css("table.stock tbody tr button.lien"))
        .await
        .expect("a product")
        .click()
        .await
        .expect("clicked");
    client
        .wait()
        .for_element(Locator::Css("#disponibilite table"))
        .await
        .expect("availability");
    let rows = client
        .find_all(Locator::Css("#disponibilite tbody tr"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 6, "one row per store");
    // The manager sets the line's levels for their store.
    let sku = text_of(&client, "table.stock tbody tr td:nth-child(2)").await;
    let levels = client
        .find(Locator::Css("#seuils"))
        .await
        .expect("the levels form");
    fill_in(&levels, "reorder_point", "9").await;
    fill_in(&levels, "target_level", "36").await;
    press(&levels, "button").await;
    eventually("the levels saved", async || {
        text_of(&client, "#message").await.contains("Seuils")
    })
    .await;
    let line = app.get(&format!("/api/v1/stores/1/stock/{sku}")).body;
    assert_eq!(
        (&line["reorder_point"], &line["target_level"]),
        (&json!(9), &json!(36)),
        "{sku}: {line}"
    );
    screenshot(&client, "stock").await;
    client.close().await.expect("the session closes");
}

#[test]
fn a_cashier_is_refused_screens_of_other_roles() {
    // The server stops outside the WebDriver runtime (its own actix system).
    let app = spawn_app();
    runtime().block_on(a_cashier_is_refused_screens_of_other_roles_in_browser(&app));
}

async fn a_cashier_is_refused_screens_of_other_roles_in_browser(app: &TestApp) {
    let (_driver, client) = browser().await;
    signed_in(&client, app, "caissier1").await;
    let mut links = Vec::new();
    for link in client
        .find_all(Locator::Css("#menu a"))
        .await
        .expect("links")
    {
        links.push(link.text().await.expect("text"));
    }
    assert_eq!(links, vec!["Caisse", "Stock"], "a cashier's menu");
    for screen in ["tableau", "utilisateurs", "reappro"] {
        client
            .goto(&format!("{}/#/{screen}", app.base))
            .await
            .expect("a direct URL");
        let refused = client
            .wait()
            .for_element(Locator::Css(".refus h1"))
            .await
            .expect("refused");
        assert_eq!(
            refused.text().await.expect("text"),
            "Accès refusé",
            "{screen}"
        );
    }
    // The API refuses too.
    let token = app.login("caissier1");
    assert_eq!(
        app.get_as(Some(&token), "/api/v1/reports/dashboard").status,
        403
    );
    assert_eq!(app.get_as(Some(&token), "/api/v1/users").status, 403);
    client
        .goto(&format!("{}/#/connexion", app.base))
        .await
        .expect("log out");
    signed_in(&client, app, "logistique").await;
    let links: Vec<String> = {
        let mut texts = Vec::new();
        for link in client
            .find_all(Locator::Css("#menu a"))
            .await
            .expect("links")
        {
            texts.push(link.text().await.expect("text"));
        }
        texts
    };
    assert!(
        !links.iter().any(|l| l == "Caisse"),
        "logistics has no till: {links:?}"
    );
    let refused = screen(&client, app, "caisse", ".refus h1").await;
    assert_eq!(refused.text().await.expect("text"), "Accès refusé");
    client.close().await.expect("the session closes");
}

async fn click_action(client: &Client, request: &str, action: &str) {
    let css = format!("tr[data-demande='{request}'] button[data-action='{action}']");
    client
        .wait()
        .for_element(Locator::Css(&css))
        .await
        .unwrap_or_else(|e| panic!("{action} for {request}: {e}"))
        .click()
        .await
        .expect("clicked");
}

#[test]
fn the_restock_cycle_through_the_screens() {
    let app = spawn_app();
    runtime().block_on(the_restock_cycle_through_the_screens_in_browser(&app));
}

async fn the_restock_cycle_through_the_screens_in_browser(app: &TestApp) {
    let before = app.on_hand(1, "EPI-0002");
    let (_driver, client) = browser().await;
    login(&client, app, "gestionnaire1").await;
    client
        .wait()
        .for_element(Locator::Css("#code, #fonds"))
        .await
        .expect("the till");
    screen(&client, app, "reappro", "#sku-demande")
        .await
        .send_keys("EPI-0002")
        .await
        .expect("typed");
    let quantity = client
        .find(Locator::Css("#qte-demande"))
        .await
        .expect("quantity");
    quantity.clear().await.expect("cleared");
    quantity.send_keys("7").await.expect("typed");
    client
        .find(Locator::Css("#demander"))
        .await
        .expect("the button")
        .click()
        .await
        .expect("clicked");
    let row = client
        .wait()
        .for_element(Locator::Css("table.demandes tbody tr"))
        .await
        .expect("the request");
    let id = row
        .attr("data-demande")
        .await
        .expect("an attribute")
        .expect("an id");
    screenshot(&client, "reappro-magasin").await;

    client
        .goto(&format!("{}/#/connexion", app.base))
        .await
        .expect("log out");
    signed_in(&client, app, "logistique").await;
    client
        .goto(&format!("{}/#/reappro", app.base))
        .await
        .expect("restocking");
    click_action(&client, &id, "Allouer").await;
    eventually("allocated", async || {
        app.get(&format!("/api/v1/stores/1/restock-requests/{id}"))
            .body["status"]
            == "allocated"
    })
    .await;
    click_action(&client, &id, "Expédier").await;
    eventually("shipped", async || {
        app.get(&format!("/api/v1/stores/1/restock-requests/{id}"))
            .body["status"]
            == "shipped"
    })
    .await;
    screenshot(&client, "reappro-logistique").await;

    client
        .goto(&format!("{}/#/connexion", app.base))
        .await
        .expect("log out");
    login(&client, app, "gestionnaire1").await;
    client
        .wait()
        .for_element(Locator::Css("#code, #fonds"))
        .await
        .expect("the till");
    client
        .goto(&format!("{}/#/reappro", app.base))
        .await
        .expect("restocking");
    click_action(&client, &id, "Recevoir").await;
    // The receipt form opens with everything received: one submit takes it all.
    client
        .wait()
        .for_element(Locator::Css("#reception button[type=submit]"))
        .await
        .expect("the receipt form")
        .click()
        .await
        .expect("clicked");
    eventually("received", async || {
        app.get(&format!("/api/v1/stores/1/restock-requests/{id}"))
            .body["status"]
            == "received"
    })
    .await;
    assert_eq!(
        app.on_hand(1, "EPI-0002"),
        before + 7,
        "received stock is on hand: {}",
        app.get(&format!("/api/v1/stores/1/restock-requests/{id}"))
            .body
    );
    client.close().await.expect("the session closes");
}

#[test]
fn the_dashboard_shows_a_new_sale_live() {
    let app = spawn_app();
    runtime().block_on(the_dashboard_shows_a_new_sale_live_in_browser(&app));
}

async fn the_dashboard_shows_a_new_sale_live_in_browser(app: &TestApp) {
    app.count(2, "EPI-0001", 20);
    let (_driver, client) = browser().await;
    signed_in(&client, app, "admin").await;
    let count = screen(&client, app, "tableau", "#ventes-jour").await;
    let before: u64 = count.text().await.expect("text").parse().expect("a number");
    let sale = app.post(
        "/api/v1/stores/2/sales",
        &json!({"lines": [{"sku": "EPI-0001", "quantity": 2}]}),
    );
    assert_eq!(sale.status, 201);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let shown: u64 = text_of(&client, "#ventes-jour").await.parse().unwrap_or(0);
        if shown == before + 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard shows the sale within 2 s without reloading"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot(&client, "tableau").await;
    let form = screen(&client, app, "utilisateurs", "#nouvel-utilisateur").await;
    form.find(Locator::Css("input[name=username]"))
        .await
        .expect("name")
        .send_keys("caissier7")
        .await
        .expect("typed");
    form.find(Locator::Css("input[name=password]"))
        .await
        .expect("password")
        .send_keys("motdepasse7")
        .await
        .expect("typed");
    form.find(Locator::Css("button[type=submit]"))
        .await
        .expect("create")
        .click()
        .await
        .expect("clicked");
    client
        .wait()
        .for_element(Locator::Css("tr[data-utilisateur='caissier7']"))
        .await
        .expect("the new user");
    screenshot(&client, "utilisateurs").await;
    assert!(
        app.get("/api/v1/users")
            .body
            .to_string()
            .contains("caissier7")
    );
    client.close().await.expect("the session closes");
}

#[test]
fn head_office_manages_the_catalog_and_opens_a_store_on_their_screens() {
    // The server stops outside the WebDriver runtime (its own actix system).
    let app = spawn_app();
    runtime().block_on(head_office_adds_a_product_and_changes_its_price_in_browser(
        &app,
    ));
}

/// Goes to `screen` (`#/screen`) and waits for `css` on it.
pub(crate) async fn screen(
    client: &Client,
    app: &TestApp,
    screen: &str,
    css: &str,
) -> fantoccini::elements::Element {
    client
        .goto(&format!("{}/#/{screen}", app.base))
        .await
        .expect(screen);
    client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .expect(css)
}

/// Signs in as `username` and waits for the menu.
pub(crate) async fn signed_in(client: &Client, app: &TestApp, username: &str) {
    login(client, app, username).await;
    client
        .wait()
        .for_element(Locator::Css("#menu a"))
        .await
        .expect("the menu");
}

/// Clicks the first `css` inside `parent` (a form's button).
async fn press(parent: &fantoccini::elements::Element, css: &str) {
    parent
        .find(Locator::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .expect("clicked");
}

/// Clears the field named `field` of `form` and types `text` into it.
async fn fill_in(form: &fantoccini::elements::Element, field: &str, text: &str) {
    let input = form
        .find(Locator::Css(&format!("[name={field}]")))
        .await
        .expect(field);
    input.clear().await.expect("cleared");
    input.send_keys(text).await.expect("typed");
}

async fn head_office_adds_a_product_and_changes_its_price_in_browser(app: &TestApp) {
    let price_of = || app.get("/api/v1/products/ERA-0077").body["price_cents"].clone();
    let (_driver, client) = browser().await;
    signed_in(&client, app, "admin").await;
    let form = screen(&client, app, "catalogue", "#nouveau-produit").await;
    let barcode = crate::helpers::ean13("200000000077");
    for (field, text) in [
        ("sku", "era-0077"),
        ("ean13", barcode.as_str()),
        ("name", "Beurre d'érable 250 g"),
        ("category", "Épicerie fine"),
        ("prix", "12,99"),
    ] {
        fill_in(&form, field, text).await;
    }
    form.find(Locator::Css("select[name=tax_class]"))
        .await
        .expect("the tax class")
        .select_by_value("zero_rated")
        .await
        .expect("chosen");
    press(&form, "button[type=submit]").await;
    let row = client
        .wait()
        .for_element(Locator::Css("tr[data-sku='ERA-0077']"))
        .await
        .expect("the new product's row");
    assert!(row.text().await.expect("text").contains("12,99"));
    assert_eq!(price_of(), json!(1299));
    let class = app.get("/api/v1/products/ERA-0077").body["tax_class"].clone();
    assert_eq!(class, json!("zero_rated"));

    // A price that is not one is refused on the screen, and nothing changes.
    let change = row
        .find(Locator::Css("form.en-ligne"))
        .await
        .expect("the price form");
    fill_in(&change, "prix", "douze").await;
    press(&change, "button").await;
    eventually("the refusal", async || {
        text_of(&client, "#message").await.contains("Prix invalide")
    })
    .await;
    assert_eq!(price_of(), json!(1299));

    fill_in(&change, "prix", "13.49").await;
    press(&change, "button").await;
    eventually("the new price", async || {
        text_of(&client, "tr[data-sku='ERA-0077']")
            .await
            .contains("13,49")
    })
    .await;
    assert_eq!(price_of(), json!(1349));
    screenshot(&client, "catalogue").await;

    // Head office opens a store from the Magasins screen.
    let form = screen(&client, app, "magasins", "#nouveau-magasin").await;
    for (field, text) in [
        ("code", "tr-centre"),
        ("name", "Magasin Trois-Rivières"),
        ("city", "Trois-Rivières"),
    ] {
        fill_in(&form, field, text).await;
    }
    press(&form, "button[type=submit]").await;
    client
        .wait()
        .for_element(Locator::Css("tr[data-magasin='7']"))
        .await
        .expect("the new store's row");
    let store = app.get("/api/v1/stores/7").body;
    assert_eq!(
        (&store["code"], &store["city"]),
        (&json!("TR-CENTRE"), &json!("Trois-Rivières"))
    );
    screenshot(&client, "magasins").await;
    client.close().await.expect("the session closes");
}

#[test]
fn pages_fetch_nothing_outside_the_server() {
    let app = spawn_app();
    for asset in ["/", "/ui/app.js", "/ui/api.js", "/ui/style.css"] {
        let text = ureq::get(&app.url(asset))
            .call()
            .expect(asset)
            .into_string()
            .expect("text");
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{asset} names an outside address"
        );
    }
}

#[test]
fn the_api_docs_page_fetches_only_from_the_server() {
    let app = spawn_app();
    runtime().block_on(async {
        let (_driver, client) = browser().await;
        client
            .goto(&format!("{}/docs", app.base))
            .await
            .expect("the docs page");
        client
            .wait()
            .for_element(Locator::Css(".swagger-ui .opblock"))
            .await
            .expect("the viewer lists the routes");
        let fetched = client
            .execute(
                "return performance.getEntriesByType('resource').map((e) => e.name);",
                vec![],
            )
            .await
            .expect("the resources");
        let outside: Vec<String> = fetched
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|u| u.as_str())
            .filter(|u| !u.starts_with(&app.base))
            .map(str::to_owned)
            .collect();
        assert!(outside.is_empty(), "fetched from elsewhere: {outside:?}");
        let refused = client
            .execute("return window.cspViolations || [];", vec![])
            .await
            .expect("the CSP's refusals");
        assert_eq!(refused, json!([]), "the CSP refused parts of the docs page");
        let authorize = client
            .find(Locator::Css(".swagger-ui .authorize"))
            .await
            .expect("a way to give a bearer token");
        assert!(authorize.is_displayed().await.expect("displayed"));
        screenshot(&client, "api-docs").await;
        client.close().await.expect("closes");
    });
}

/// Waits for `css` and clicks it.
pub(crate) async fn click(client: &Client, css: &str) {
    client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Clears the field `css` and types `text` into it.
pub(crate) async fn fill(client: &Client, css: &str, text: &str) {
    let input = client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    input.clear().await.expect("cleared");
    input.send_keys(text).await.expect("typed");
}

/// Chooses `value` in the select `css`.
pub(crate) async fn choose(client: &Client, css: &str, value: &str) {
    client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("{css} = {value}: {e}"));
}

/// The page's Content-Security-Policy refused nothing.
pub(crate) async fn assert_no_csp_violation(client: &Client, when: &str) {
    let refused = client
        .execute("return window.cspViolations || [];", vec![])
        .await
        .expect("the CSP's refusals");
    assert_eq!(
        refused,
        serde_json::json!([]),
        "the CSP refused something {when}"
    );
}

/// No critical and no serious axe-core violation on the page as it is now.
pub(crate) async fn assert_accessible(client: &Client, what: &str) {
    let serious: Vec<_> = crate::accessibility::violations(client)
        .await
        .into_iter()
        .filter(|(impact, _, _)| impact == "critical" || impact == "serious")
        .collect();
    assert!(serious.is_empty(), "{what}: {serious:?}");
}

/// Both: no CSP refusal, no serious or critical axe-core violation.
pub(crate) async fn assert_clean(client: &Client, what: &str) {
    assert_no_csp_violation(client, &format!("on {what}")).await;
    assert_accessible(client, what).await;
}
