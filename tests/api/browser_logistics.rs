//! Receipts with discrepancies, transfers between stores and reorder proposals on their
//! screens, in a real Chromium against the real server: what the page shows is checked
//! against the API, and every new screen against the CSP and axe-core.

use crate::browser::{
    assert_clean, browser, choose, click, eventually, fill, runtime, screen, screenshot, signed_in,
    text_of,
};
use crate::helpers::{TestApp, spawn_app};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

/// Signs out and in again as `username`.
async fn switch_to(client: &Client, app: &TestApp, username: &str) {
    screen(client, app, "connexion", "form.connexion").await;
    signed_in(client, app, username).await;
}

/// Fills the receipt form's line of `sku`: received, damaged, its reason, missing.
async fn count_line(client: &Client, sku: &str, counts: (u32, u32, &str, u32)) {
    let row = format!("#reception tr[data-sku='{sku}']");
    let (received, damaged, reason, missing) = counts;
    fill(
        client,
        &format!("{row} [name=received]"),
        &received.to_string(),
    )
    .await;
    fill(
        client,
        &format!("{row} [name=damaged]"),
        &damaged.to_string(),
    )
    .await;
    choose(client, &format!("{row} [name=damage_reason]"), reason).await;
    fill(
        client,
        &format!("{row} [name=missing]"),
        &missing.to_string(),
    )
    .await;
}

/// Submits the receipt form and waits for the page's message to contain `expected`.
async fn submit_receipt(client: &Client, expected: &str) -> String {
    click(client, "#reception button[type=submit]").await;
    let mut shown = String::new();
    eventually(&format!("the message « {expected} »"), async || {
        shown = text_of(client, "#message").await;
        shown.contains(expected)
    })
    .await;
    shown
}

fn ok(app: &TestApp, path: &str) -> Value {
    let reply = app.get(path);
    assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
    reply.body
}

/// The central stock line of `sku`.
fn central(app: &TestApp, sku: &str) -> Value {
    let page = ok(app, &format!("/api/v1/logistics/stock?q={sku}"));
    let line = page["items"][0].clone();
    assert_eq!(line["sku"], sku, "{page}");
    line
}

/// The entries of a store's ledger, all of them.
fn ledger(app: &TestApp, store: u32) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = ok(
            app,
            &format!("/api/v1/stores/{store}/ledger?after={after}&limit=1000"),
        );
        entries.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_after"].as_u64() {
            Some(next) => after = next,
            None => return entries,
        }
    }
}

/// The units written off at `store` on receipt, as `(sku, quantity, reason)`.
fn written_off(app: &TestApp, store: u32) -> Vec<(String, u64, String)> {
    ledger(app, store)
        .iter()
        .flat_map(|e| e["written_off"].as_array().cloned().unwrap_or_default())
        .map(|w| {
            (
                w["sku"].as_str().expect("sku").to_owned(),
                w["quantity"].as_u64().expect("quantity"),
                w["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect()
}

/// A product with at least `units` in central stock.
fn stocked(app: &TestApp, units: u64) -> String {
    ok(app, "/api/v1/logistics/stock?per_page=200")["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|l| l["on_hand"].as_u64().unwrap_or(0) >= units)
        .and_then(|l| l["sku"].as_str())
        .expect("a product with central stock")
        .to_owned()
}

/// A request of `quantity` units of `sku` filed by store 1's manager, allocated and
/// shipped by the logistics center.
fn shipped_restock(app: &TestApp, sku: &str, quantity: u32) -> String {
    let manager = app.login("gestionnaire1");
    let filed = app.post_as_with_key(
        Some(&manager),
        "/api/v1/stores/1/restock-requests",
        "demande-avec-ecarts",
        &json!({"lines": [{"sku": sku, "quantity": quantity}]}),
    );
    assert_eq!(filed.status, 201, "{:?}", filed.body);
    let id = filed.body["id"].as_str().expect("an id").to_owned();
    let logistics = app.login("logistique");
    for step in ["allocate", "ship"] {
        let done = app.post_as(
            Some(&logistics),
            &format!("/api/v1/logistics/restock-requests/{id}/{step}"),
            &json!({}),
        );
        assert_eq!(done.status, 200, "{step}: {:?}", done.body);
    }
    id
}

#[test]
fn a_store_receives_a_restock_with_damaged_and_missing_units_and_logistics_settles_them() {
    let app = spawn_app();
    runtime().block_on(a_receipt_with_discrepancies_in_browser(&app));
}

async fn a_receipt_with_discrepancies_in_browser(app: &TestApp) {
    let sku = stocked(app, 10);
    let id = shipped_restock(app, &sku, 10);
    let request = format!("/api/v1/stores/1/restock-requests/{id}");
    let before = app.on_hand(1, &sku);
    let (_driver, client) = browser().await;
    signed_in(&client, app, "gestionnaire1").await;
    screen(&client, app, "reappro", "#sku-demande").await;
    click(
        &client,
        &format!("tr[data-demande='{id}'] button[data-action='Recevoir']"),
    )
    .await;
    let row = format!("#reception tr[data-sku='{sku}']");
    client
        .wait()
        .for_element(Locator::Css(&row))
        .await
        .expect("one row per shipped line");
    assert_eq!(
        client
            .find(Locator::Css(&format!("{row} [name=received]")))
            .await
            .expect("received")
            .prop("value")
            .await
            .expect("its value")
            .as_deref(),
        Some("10"),
        "everything shipped is received until counted otherwise"
    );

    // A line that does not add up is refused here, and nothing is received.
    count_line(&client, &sku, (8, 2, "broken", 1)).await;
    let refused = submit_receipt(&client, &format!("Ligne {sku}")).await;
    assert!(
        refused.contains("= 11, mais 10 unité(s) ont été expédiées"),
        "{refused}"
    );
    assert_eq!(
        client
            .find(Locator::Css(&row))
            .await
            .expect("the line")
            .attr("class")
            .await
            .expect("its class")
            .as_deref(),
        Some("invalide"),
        "the wrong line is marked"
    );
    // Damaged units need their reason.
    count_line(&client, &sku, (7, 2, "", 1)).await;
    submit_receipt(&client, "choisissez la raison des 2 unité(s) endommagée(s)").await;
    assert_eq!(ok(app, &request)["status"], "shipped");
    assert_eq!(app.on_hand(1, &sku), before, "nothing was received");
    assert_clean(&client, "the receipt form").await;
    screenshot(&client, "reception-ecarts").await;

    count_line(&client, &sku, (7, 2, "broken", 1)).await;
    let done = submit_receipt(&client, &format!("Demande {id} reçue")).await;
    assert!(
        done.contains(&format!(
            "{sku} : 7 en bon état, 2 endommagé(s) (cassé), 1 manquant(s)"
        )),
        "{done}"
    );
    eventually("the request shown as received", async || {
        text_of(&client, &format!("tr[data-demande='{id}'] td.etat")).await == "reçue"
    })
    .await;
    assert!(
        text_of(&client, &format!("tr[data-demande='{id}']"))
            .await
            .contains("1 manquant(s)"),
        "the missing unit is shown on the request"
    );
    let received = ok(app, &request);
    assert_eq!(received["status"], "received");
    let line = &received["lines"][0];
    assert_eq!(
        (&line["shipped"], &line["received"], &line["missing"]),
        (&json!(10), &json!(9), &json!(1)),
        "damaged units arrived, the missing one did not: {received}"
    );
    assert_eq!(
        app.on_hand(1, &sku),
        before + 7,
        "on hand grew by the units received in good condition only"
    );
    assert_eq!(
        written_off(app, 1),
        vec![(sku.clone(), 2, "broken".to_owned())],
        "the damaged units are written off with their reason"
    );

    // The logistics center settles the missing unit: lost in transit.
    let waiting = central(app, &sku);
    assert_eq!(waiting["missing"], 1, "{waiting}");
    switch_to(&client, app, "logistique").await;
    let lost = format!(
        "tr[data-demande='{id}'] .manquants[data-sku='{sku}'] button[data-action='Perdu en transit']"
    );
    screen(&client, app, "reappro", &lost).await;
    assert_eq!(
        text_of(
            &client,
            &format!("table.central tr[data-sku='{sku}'] td:nth-child(6)")
        )
        .await,
        "1",
        "the central stock shows the missing unit"
    );
    assert_clean(&client, "the logistics center's queue with a missing unit").await;
    screenshot(&client, "reappro-manquants").await;
    click(&client, &lost).await;
    eventually("the unit settled as lost", async || {
        text_of(&client, "#message")
            .await
            .contains(&format!("1 unité(s) de {sku} perdue(s) en transit"))
    })
    .await;
    let settled = central(app, &sku);
    assert_eq!(
        (&settled["missing"], &settled["lost"]),
        (
            &json!(0),
            &json!(waiting["lost"].as_u64().expect("lost") + 1)
        ),
        "{settled}"
    );
    assert_eq!(
        settled["on_hand"], waiting["on_hand"],
        "a lost unit is not found stock"
    );
    let lost_units = settled["lost"].to_string();
    eventually("the central table shows it lost", async || {
        text_of(
            &client,
            &format!("table.central tr[data-sku='{sku}'] td:nth-child(7)"),
        )
        .await
            == lost_units
    })
    .await;
    assert!(
        client
            .find_all(Locator::Css(&lost))
            .await
            .expect("buttons")
            .is_empty(),
        "nothing left to settle"
    );
    client.close().await.expect("the session closes");
}

#[test]
fn a_transfer_is_filed_and_shipped_by_one_store_and_received_with_a_damaged_unit_by_another() {
    let app = spawn_app();
    runtime().block_on(a_transfer_in_browser(&app));
}

async fn a_transfer_in_browser(app: &TestApp) {
    let sku = "EPI-0001";
    app.count(1, sku, 20);
    app.count(2, sku, 5);
    let (_driver, client) = browser().await;
    signed_in(&client, app, "gestionnaire1").await;
    screen(&client, app, "transferts", "#nouveau-transfert").await;
    choose(&client, "#destination", "2").await;
    fill(&client, "#lignes-transfert [name=sku]", "epi-0001").await;
    fill(&client, "#lignes-transfert [name=quantity]", "6").await;
    click(&client, "#nouveau-transfert button[type=submit]").await;
    let id = client
        .wait()
        .for_element(Locator::Css("tr[data-transfert]"))
        .await
        .expect("the transfer listed")
        .attr("data-transfert")
        .await
        .expect("an attribute")
        .expect("an id");
    let transfer = format!("/api/v1/stores/1/transfers/{id}");
    let filed = ok(app, &transfer);
    assert_eq!(
        (
            &filed["status"],
            &filed["to_store_id"],
            &filed["lines"][0]["quantity"]
        ),
        (&json!("requested"), &json!(2), &json!(6)),
        "{filed}"
    );
    assert_eq!(app.on_hand(1, sku), 20, "nothing moves before shipping");
    assert_clean(&client, "the Transferts screen").await;

    click(
        &client,
        &format!("tr[data-transfert='{id}'] button[data-action='Expédier']"),
    )
    .await;
    eventually("the transfer shown as shipped", async || {
        text_of(&client, &format!("tr[data-transfert='{id}'] td.etat")).await == "expédié"
    })
    .await;
    assert_eq!(ok(app, &transfer)["status"], "shipped");
    assert_eq!(app.on_hand(1, sku), 14, "shipped units left store 1");
    screenshot(&client, "transferts").await;

    // Store 2 has no manager among the demo users: head office receives, on store 2.
    switch_to(&client, app, "admin").await;
    screen(&client, app, "transferts", "#choix-magasin").await;
    choose(&client, "#choix-magasin", "2").await;
    click(
        &client,
        &format!("tr[data-transfert='{id}'] button[data-action='Recevoir']"),
    )
    .await;
    count_line(&client, sku, (5, 1, "wet", 0)).await;
    assert_clean(&client, "the transfer's receipt form").await;
    let done = submit_receipt(&client, &format!("Transfert {id} reçu")).await;
    assert!(
        done.contains("EPI-0001 : 5 en bon état, 1 endommagé(s) (mouillé)"),
        "{done}"
    );
    eventually("the transfer shown as received", async || {
        text_of(&client, &format!("tr[data-transfert='{id}'] td.etat")).await == "reçu"
    })
    .await;
    let received = ok(app, &transfer);
    assert_eq!(received["status"], "received", "{received}");
    assert_eq!(
        (
            &received["lines"][0]["received"],
            &received["lines"][0]["missing"]
        ),
        (&json!(6), &json!(0)),
        "{received}"
    );
    assert_eq!(app.on_hand(2, sku), 10, "store 2 got 5 sellable units");
    assert_eq!(
        app.on_hand(1, sku),
        14,
        "store 1 keeps what it did not send"
    );
    assert_eq!(
        written_off(app, 2),
        vec![(sku.to_owned(), 1, "wet".to_owned())],
        "the damaged unit is written off at store 2"
    );
    client.close().await.expect("the session closes");
}

/// A store line's reorder point and target level.
fn levels(app: &TestApp, sku: &str) -> (Value, Value) {
    let line = ok(app, &format!("/api/v1/stores/1/stock/{sku}"));
    (line["reorder_point"].clone(), line["target_level"].clone())
}

/// The levels the API proposes for `sku` at store 1.
fn proposed(app: &TestApp, sku: &str) -> (Value, Value) {
    let preview = ok(app, "/api/v1/stores/1/reorder-proposals");
    let line = preview["lines"]
        .as_array()
        .and_then(|lines| lines.iter().find(|l| l["sku"] == sku))
        .unwrap_or_else(|| panic!("{sku} in {preview}"));
    let p = &line["proposed"];
    (p["reorder_point"].clone(), p["target_level"].clone())
}

#[test]
fn a_manager_applies_chosen_reorder_proposals_then_all_of_them() {
    let app = spawn_app();
    runtime().block_on(reorder_proposals_in_browser(&app));
}

async fn reorder_proposals_in_browser(app: &TestApp) {
    let (syrup, flour) = ("EPI-0001", "EPI-0002");
    for (sku, quantity) in [(syrup, 15), (flour, 3)] {
        app.count(1, sku, 100);
        let sold = app.post(
            "/api/v1/stores/1/sales",
            &json!({"lines": [{"sku": sku, "quantity": quantity}]}),
        );
        assert_eq!(sold.status, 201, "{:?}", sold.body);
    }
    let flour_before = levels(app, flour);
    let (_driver, client) = browser().await;
    signed_in(&client, app, "gestionnaire1").await;
    let proposal = proposed(app, syrup);
    let row = format!("table.propositions tr[data-sku='{syrup}']");
    screen(&client, app, "points-de-commande", &row).await;
    assert_eq!(
        text_of(&client, &format!("{row} td:nth-child(6)")).await,
        proposal.0.to_string(),
        "the proposed reorder point is shown"
    );
    assert_clean(&client, "the Points de commande screen").await;
    screenshot(&client, "points-de-commande").await;

    click(&client, &format!("{row} input[type=checkbox]")).await;
    click(&client, "#appliquer-selection").await;
    eventually("the selection applied", async || {
        text_of(&client, "#message")
            .await
            .contains("Seuils mis à jour pour 1 produit(s)")
    })
    .await;
    assert_eq!(
        levels(app, syrup),
        proposal,
        "the chosen line has its proposal"
    );
    assert_eq!(
        levels(app, flour),
        flour_before,
        "a line not chosen is left alone"
    );

    eventually("the applied line has nothing left to choose", async || {
        client
            .find_all(Locator::Css(&format!("{row} input[type=checkbox]")))
            .await
            .expect("checkboxes")
            .is_empty()
    })
    .await;
    let flour_proposal = proposed(app, flour);
    click(&client, "#tout-appliquer").await;
    eventually("every proposal applied", async || {
        text_of(&client, "#message")
            .await
            .contains(&format!("{flour} ("))
    })
    .await;
    assert_eq!(levels(app, flour), flour_proposal);
    client.close().await.expect("the session closes");
}

#[test]
fn logistics_orders_receives_beyond_the_order_and_only_head_office_accepts_the_excess() {
    let app = spawn_app();
    runtime().block_on(a_purchase_order_in_browser(&app));
}

async fn a_purchase_order_in_browser(app: &TestApp) {
    let sku = "EPI-0001";
    let before = central(app, sku);
    let (_driver, client) = browser().await;
    signed_in(&client, app, "logistique").await;
    screen(&client, app, "achats", "#nouvelle-commande").await;
    choose(&client, "#fournisseur-commande", "EPICERIE-QC").await;
    fill(&client, "#lignes-commande [name=sku]", "epi-0001").await;
    fill(&client, "#lignes-commande [name=quantity]", "10").await;
    fill(&client, "#lignes-commande [name=unit_cost]", "2,50").await;
    click(&client, "#nouvelle-commande button[type=submit]").await;
    let id = client
        .wait()
        .for_element(Locator::Css("tr[data-commande]"))
        .await
        .expect("the order listed")
        .attr("data-commande")
        .await
        .expect("an attribute")
        .expect("an id");
    let order = format!("/api/v1/logistics/purchase-orders/{id}");
    let placed = ok(app, &order);
    assert_eq!(
        (
            &placed["supplier"],
            &placed["lines"][0]["ordered"],
            &placed["lines"][0]["unit_cost_cents"],
            &placed["total_cost_cents"]
        ),
        (&json!("EPICERIE-QC"), &json!(10), &json!(250), &json!(2500)),
        "{placed}"
    );
    assert!(
        text_of(&client, "#message").await.contains("25,00\u{a0}$"),
        "the order's cost in French Canadian format"
    );
    assert_clean(&client, "the Fournisseurs et commandes screen").await;

    // Twelve good units (two beyond the order) and one wet.
    click(
        &client,
        &format!("tr[data-commande='{id}'] button[data-action='Recevoir']"),
    )
    .await;
    count_line(&client, sku, (12, 1, "wet", 0)).await;
    assert_clean(&client, "the supplier receipt form").await;
    let done = submit_receipt(&client, &format!("Réception 1 de la commande {id}")).await;
    assert!(done.contains("attendent l'approbation"), "{done}");
    let received = ok(app, &order);
    let line = &received["lines"][0];
    assert_eq!(
        (
            &line["received"],
            &line["outstanding"],
            &line["damaged"],
            &line["over_held"]
        ),
        (&json!(10), &json!(0), &json!(1), &json!(2)),
        "{received}"
    );
    let units = |line: &Value, field: &str| line[field].as_u64().expect(field);
    let after = central(app, sku);
    assert_eq!(units(&after, "on_hand"), units(&before, "on_hand") + 10);
    assert_eq!(
        units(&after, "written_off"),
        units(&before, "written_off") + 1
    );
    let decision = format!(
        "tr[data-commande='{id}'] [data-reception='1'] button[data-action=\"Accepter l'excédent\"]"
    );
    assert!(
        client
            .find_all(Locator::Css(&decision))
            .await
            .expect("buttons")
            .is_empty(),
        "whoever receives does not approve the excess"
    );
    screenshot(&client, "achats").await;

    switch_to(&client, app, "admin").await;
    screen(&client, app, "achats", &decision).await;
    click(&client, &decision).await;
    eventually("the excess accepted", async || {
        text_of(&client, "#message")
            .await
            .contains("excédent accepté")
    })
    .await;
    let accepted = ok(app, &order);
    assert_eq!(
        (
            &accepted["lines"][0]["over_accepted"],
            &accepted["lines"][0]["over_held"]
        ),
        (&json!(2), &json!(0)),
        "{accepted}"
    );
    assert_eq!(
        units(&central(app, sku), "on_hand"),
        units(&before, "on_hand") + 12
    );

    // An order received in part is closed: what is still owed will not come.
    let placed = app.post(
        "/api/v1/logistics/purchase-orders",
        &json!({"supplier": "EPICERIE-QC", "lines": [{"sku": sku, "quantity": 5, "unit_cost_cents": 250}]}),
    );
    let second = placed.body["id"].as_u64().expect("an id");
    let part = app.post(
        &format!("/api/v1/logistics/purchase-orders/{second}/receipts"),
        &json!({"lines": [{"sku": sku, "received": 2}]}),
    );
    assert_eq!(part.status, 201, "{:?}", part.body);
    let close = format!("tr[data-commande='{second}'] button[data-action='Clore']");
    // Already on the screen: drawn again to list the new order.
    client.refresh().await.expect("reloaded");
    screen(&client, app, "achats", &close).await;
    click(&client, &close).await;
    eventually("the order closed", async || {
        text_of(&client, "#message").await.contains("close")
    })
    .await;
    let closed = ok(app, &format!("/api/v1/logistics/purchase-orders/{second}"));
    assert_eq!(
        (&closed["status"], &closed["lines"][0]["outstanding"]),
        (&json!("closed"), &json!(3)),
        "{closed}"
    );
    client.close().await.expect("the session closes");
}
