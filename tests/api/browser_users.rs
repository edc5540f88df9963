//! The user lifecycle on its screens, in a real Chromium against the real server: an
//! administrator resets a password and hands the temporary one over, the user chooses their
//! own at login; a user changes their own password (older tokens die, the page keeps
//! working); roles, stores, deactivation and the last administrator on the Utilisateurs
//! screen; who did what in the Journal des utilisateurs.

use crate::browser::{
    assert_accessible, assert_no_csp_violation, browser, choose, click, eventually, fill, runtime,
    screen, screenshot, signed_in, text_of,
};
use crate::helpers::{TestApp, assert_problem, spawn_app};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

/// The token the page keeps for its session.
async fn page_token(client: &Client) -> String {
    let token = client
        .execute(
            "const s = JSON.parse(sessionStorage.getItem('magasin.session') || 'null'); return s ? s.token : '';",
            vec![],
        )
        .await
        .expect("the session");
    token.as_str().unwrap_or_default().to_owned()
}

/// `username`'s line in `GET /users`.
fn user(app: &TestApp, username: &str) -> Value {
    let users = app.get("/api/v1/users").body;
    users["items"]
        .as_array()
        .and_then(|items| items.iter().find(|u| u["username"] == username).cloned())
        .unwrap_or_else(|| panic!("{username} in {users}"))
}

/// On the Utilisateurs screen: opens `username`'s card.
async fn open_card(client: &Client, username: &str) {
    click(
        client,
        &format!("tr[data-utilisateur='{username}'] button.gerer"),
    )
    .await;
    eventually("the user's card", async || {
        text_of(client, "#fiche-titre").await.ends_with(username)
    })
    .await;
}

/// On the login screen: signs in with a password typed by hand.
async fn sign_in_with(client: &Client, app: &TestApp, username: &str, password: &str) {
    screen(client, app, "connexion", "form.connexion").await;
    fill(client, "form.connexion input[name=username]", username).await;
    fill(client, "form.connexion input[name=password]", password).await;
    click(client, "form.connexion button[type=submit]").await;
}

#[test]
fn an_administrator_resets_a_password_and_the_cashier_chooses_a_new_one_at_login() {
    let app = spawn_app();
    runtime().block_on(a_reset_in_browser(&app));
}

async fn a_reset_in_browser(app: &TestApp) {
    let before = app.login("caissier1");
    let (_driver, client) = browser().await;
    signed_in(&client, app, "admin").await;
    screen(
        &client,
        app,
        "utilisateurs",
        "tr[data-utilisateur='caissier1']",
    )
    .await;
    open_card(&client, "caissier1").await;
    click(&client, "#reinitialiser").await;
    // Asked twice: the first click only asks for confirmation.
    assert_eq!(user(app, "caissier1")["must_change_password"], false);
    click(&client, "#confirmer-reinitialisation").await;
    let temporary = client
        .wait()
        .for_element(Locator::Css("#mot-de-passe-temporaire"))
        .await
        .expect("the temporary password")
        .text()
        .await
        .expect("its text");
    assert!(
        temporary.chars().count() >= 8,
        "a temporary password: {temporary:?}"
    );
    eventually("the list says caissier1 must change it", async || {
        text_of(&client, "tr[data-utilisateur='caissier1'] td.a-changer").await
            == "doit changer son mot de passe"
    })
    .await;
    assert_eq!(user(app, "caissier1")["must_change_password"], true);
    screenshot(&client, "utilisateurs-mot-de-passe-temporaire").await;
    assert_accessible(&client, "the temporary password on the user's card").await;
    assert_no_csp_violation(&client, "on the Utilisateurs screen").await;
    // The reset closed caissier1's sessions; the temporary password opens none by itself.
    assert_eq!(
        app.get_as(Some(&before), "/api/v1/stores/1/stock").status,
        401
    );
    let refused = app.post_anonymous(
        "/api/v1/auth/login",
        &json!({"username": "caissier1", "password": temporary}),
    );
    assert_problem(&refused, 403, "password_change_required");

    // caissier1 signs in with it and is asked for their own.
    sign_in_with(&client, app, "caissier1", &temporary).await;
    client
        .wait()
        .for_element(Locator::Css("#nouveau-mot-de-passe"))
        .await
        .expect("the new password form");
    assert_accessible(&client, "the new password form at login").await;
    fill(
        &client,
        "#nouveau-mot-de-passe [name=new_password]",
        "caisse-2026-neuf",
    )
    .await;
    fill(
        &client,
        "#nouveau-mot-de-passe [name=new_password_again]",
        "caisse-2026-nef",
    )
    .await;
    click(&client, "#nouveau-mot-de-passe button[type=submit]").await;
    eventually("two different passwords refused", async || {
        text_of(&client, "#message")
            .await
            .contains("ne correspondent pas")
    })
    .await;
    screenshot(&client, "nouveau-mot-de-passe").await;
    // Nothing was sent: the temporary password still works once.
    let still = app.post_anonymous(
        "/api/v1/auth/login",
        &json!({"username": "caissier1", "password": temporary}),
    );
    assert_problem(&still, 403, "password_change_required");
    fill(
        &client,
        "#nouveau-mot-de-passe [name=new_password_again]",
        "caisse-2026-neuf",
    )
    .await;
    click(&client, "#nouveau-mot-de-passe button[type=submit]").await;
    client
        .wait()
        .for_element(Locator::Css("#fonds, #code"))
        .await
        .expect("the till");
    assert!(
        app.get_as(Some(&page_token(&client).await), "/api/v1/stores/1/stock")
            .status
            == 200,
        "the page signed in with the token of the password change"
    );
    app.login_as("caissier1", "caisse-2026-neuf");
    let spent = app.post_anonymous(
        "/api/v1/auth/login",
        &json!({"username": "caissier1", "password": temporary}),
    );
    assert_problem(&spent, 401, "invalid_credentials");
    assert_eq!(user(app, "caissier1")["must_change_password"], false);
    assert_no_csp_violation(&client, "at login").await;

    // The administrator reads who did it in the Journal des utilisateurs.
    signed_in(&client, app, "admin").await;
    screen(&client, app, "utilisateurs", "#lien-journal").await;
    click(&client, "#lien-journal").await;
    fill(&client, "#filtre-utilisateur", "caissier1").await;
    click(&client, "#filtre-journal button[type=submit]").await;
    let logged = app.get("/api/v1/user-changes?username=caissier1").body;
    let count = logged["items"].as_array().map_or(0, Vec::len);
    eventually("caissier1's changes only", async || {
        let shown = client
            .execute(
                "return [...document.querySelectorAll('table.journal tbody tr')].map((r) => r.dataset.utilisateur);",
                vec![],
            )
            .await
            .expect("the rows");
        let shown = shown.as_array().cloned().unwrap_or_default();
        shown.len() == count && shown.iter().all(|u| u == "caissier1")
    })
    .await;
    assert!(
        text_of(&client, "table.journal tbody tr:first-child")
            .await
            .contains("mot de passe changé"),
        "newest first: {logged}"
    );
    assert_eq!(
        text_of(
            &client,
            "table.journal tr[data-changement='password_reset'] td.auteur"
        )
        .await,
        "admin"
    );
    assert_eq!(
        text_of(
            &client,
            "table.journal tr[data-changement='password_changed'] td.auteur"
        )
        .await,
        "caissier1"
    );
    let shown_at = client
        .find(Locator::Css(
            "table.journal tr[data-changement='password_reset'] time",
        ))
        .await
        .expect("the reset's date")
        .attr("datetime")
        .await
        .expect("an attribute");
    let reset = logged["items"]
        .as_array()
        .and_then(|items| items.iter().find(|c| c["change"] == "password_reset"))
        .expect("the reset in the log");
    assert_eq!(shown_at.as_deref(), reset["at"].as_str());
    screenshot(&client, "journal-utilisateurs").await;
    assert_no_csp_violation(&client, "on the journal").await;
    client.close().await.expect("the session closes");
}

#[test]
fn a_user_changes_their_own_password_and_older_tokens_are_refused() {
    let app = spawn_app();
    runtime().block_on(own_password_in_browser(&app));
}

async fn own_password_in_browser(app: &TestApp) {
    let from_the_api = app.login("gestionnaire1");
    let (_driver, client) = browser().await;
    signed_in(&client, app, "gestionnaire1").await;
    let from_the_page = page_token(&client).await;
    click(&client, "#mon-compte").await;
    client
        .wait()
        .for_element(Locator::Css("#mon-mot-de-passe"))
        .await
        .expect("the Mon mot de passe screen");

    // Too short: caught on the page, nothing sent.
    fill(&client, "#mon-mot-de-passe [name=current_password]", "demo").await;
    fill(&client, "#mon-mot-de-passe [name=new_password]", "court").await;
    fill(
        &client,
        "#mon-mot-de-passe [name=new_password_again]",
        "court",
    )
    .await;
    click(&client, "#mon-mot-de-passe button[type=submit]").await;
    eventually("a short password refused", async || {
        text_of(&client, "#message").await.contains("8 à 128")
    })
    .await;
    // A wrong current password: refused, and the user stays signed in.
    fill(
        &client,
        "#mon-mot-de-passe [name=current_password]",
        "pas-le-bon",
    )
    .await;
    fill(
        &client,
        "#mon-mot-de-passe [name=new_password]",
        "gerant-2026-neuf",
    )
    .await;
    fill(
        &client,
        "#mon-mot-de-passe [name=new_password_again]",
        "gerant-2026-neuf",
    )
    .await;
    click(&client, "#mon-mot-de-passe button[type=submit]").await;
    eventually("a wrong current password refused", async || {
        text_of(&client, "#message").await.contains("incorrect")
    })
    .await;
    assert_eq!(page_token(&client).await, from_the_page, "still signed in");
    assert_eq!(
        app.get_as(Some(&from_the_api), "/api/v1/stores/1/stock")
            .status,
        200
    );

    fill(&client, "#mon-mot-de-passe [name=current_password]", "demo").await;
    click(&client, "#mon-mot-de-passe button[type=submit]").await;
    eventually("the password changed", async || {
        text_of(&client, "#message")
            .await
            .contains("Mot de passe changé")
    })
    .await;
    screenshot(&client, "mon-mot-de-passe").await;
    let now = page_token(&client).await;
    assert_ne!(now, from_the_page, "the page keeps the new token");
    for (which, token) in [("the API's", &from_the_api), ("the page's", &from_the_page)] {
        assert_eq!(
            app.get_as(Some(token), "/api/v1/stores/1/stock").status,
            401,
            "{which} token from before the change"
        );
    }
    // The page keeps working with the token the change answered.
    screen(&client, app, "stock", "table.stock tbody tr").await;
    screen(&client, app, "reappro", "#sku-demande").await;
    assert_eq!(app.get_as(Some(&now), "/api/v1/stores/1/stock").status, 200);
    app.login_as("gestionnaire1", "gerant-2026-neuf");
    let old = app.post_anonymous(
        "/api/v1/auth/login",
        &json!({"username": "gestionnaire1", "password": "demo"}),
    );
    assert_problem(&old, 401, "invalid_credentials");
    let logged = app.get("/api/v1/user-changes?username=gestionnaire1").body;
    assert_eq!(logged["items"][0]["change"], "password_changed", "{logged}");
    assert_eq!(logged["items"][0]["by"], "gestionnaire1", "{logged}");
    assert_no_csp_violation(&client, "on Mon mot de passe").await;
    client.close().await.expect("the session closes");
}

#[test]
fn head_office_changes_roles_and_access_and_cannot_demote_the_last_administrator() {
    let app = spawn_app();
    runtime().block_on(roles_in_browser(&app));
}

async fn roles_in_browser(app: &TestApp) {
    let (_driver, client) = browser().await;
    signed_in(&client, app, "admin").await;
    screen(
        &client,
        app,
        "utilisateurs",
        "tr[data-utilisateur='caissier2']",
    )
    .await;
    open_card(&client, "caissier2").await;

    // A manager of store 3.
    choose(&client, "#fiche-role", "manager").await;
    choose(&client, "#fiche-magasin", "3").await;
    click(&client, "#changer-role button[type=submit]").await;
    eventually("caissier2 manages store 3", async || {
        let u = user(app, "caissier2");
        u["role"] == "manager" && u["store_id"] == 3
    })
    .await;
    eventually("the list shows it", async || {
        text_of(&client, "tr[data-utilisateur='caissier2']")
            .await
            .contains("gestionnaire")
    })
    .await;

    // Logistics works in no store: the store is not asked for.
    choose(&client, "#fiche-role", "logistics").await;
    let store_disabled = client
        .find(Locator::Css("#fiche-magasin"))
        .await
        .expect("the store")
        .prop("disabled")
        .await
        .expect("a property");
    assert_eq!(store_disabled.as_deref(), Some("true"));
    click(&client, "#changer-role button[type=submit]").await;
    eventually("caissier2 in logistics", async || {
        let u = user(app, "caissier2");
        u["role"] == "logistics" && u["store_id"].is_null()
    })
    .await;

    // Deactivated, then reactivated.
    let token = app.login("caissier2");
    click(&client, "#desactiver").await;
    eventually("caissier2 deactivated", async || {
        user(app, "caissier2")["active"] == false
    })
    .await;
    eventually("the list shows it", async || {
        text_of(&client, "tr[data-utilisateur='caissier2'] td:nth-child(4)").await == "non"
    })
    .await;
    assert_eq!(
        app.get_as(Some(&token), "/api/v1/logistics/stock").status,
        401
    );
    click(&client, "#reactiver").await;
    eventually("caissier2 reactivated", async || {
        user(app, "caissier2")["active"] == true
    })
    .await;
    app.login("caissier2");

    // The only administrator cannot become a manager: the API's reason is shown.
    open_card(&client, "admin").await;
    choose(&client, "#fiche-role", "manager").await;
    choose(&client, "#fiche-magasin", "1").await;
    click(&client, "#changer-role button[type=submit]").await;
    eventually("the refusal", async || {
        text_of(&client, "#message")
            .await
            .contains("dernier administrateur")
    })
    .await;
    let admin = user(app, "admin");
    assert_eq!(
        (&admin["role"], &admin["active"]),
        (&json!("admin"), &json!(true))
    );
    // Nor be deactivated.
    client
        .execute(
            "document.getElementById('message').textContent = '';",
            vec![],
        )
        .await
        .expect("the message cleared");
    click(&client, "#desactiver").await;
    eventually("the refusal", async || {
        text_of(&client, "#message")
            .await
            .contains("dernier administrateur")
    })
    .await;
    assert_eq!(user(app, "admin")["active"], true);

    let logged = app.get("/api/v1/user-changes?username=caissier2").body;
    let changes: Vec<(&str, &str)> = logged["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap_or_default(),
                c["by"].as_str().unwrap_or("(ligne de commande)"),
            )
        })
        .collect();
    assert_eq!(
        &changes[..4],
        &[
            ("reactivated", "admin"),
            ("deactivated", "admin"),
            ("role_changed", "admin"),
            ("role_changed", "admin"),
        ],
        "{logged}"
    );
    assert_no_csp_violation(&client, "on the Utilisateurs screen").await;

    // The journal a page at a time: caissier6 moved between stores 24 times.
    for i in 0..24 {
        let store = if i % 2 == 0 { 1 } else { 6 };
        let moved = app.patch_as(
            None,
            "/api/v1/users/caissier6",
            &json!({"role": "cashier", "store_id": store}),
        );
        assert_eq!(moved.status, 200, "{:?}", moved.body);
    }
    let logged = app
        .get("/api/v1/user-changes?username=caissier6&per_page=200")
        .body;
    let total = logged["items"].as_array().map_or(0, Vec::len);
    assert!(total > 20, "more than a page: {logged}");
    screen(
        &client,
        app,
        "journal?utilisateur=caissier6",
        "table.journal",
    )
    .await;
    let times = async || {
        let shown = client
            .execute(
                "return [...document.querySelectorAll('table.journal tbody tr time')].map((t) => t.getAttribute('datetime'));",
                vec![],
            )
            .await
            .expect("the dates");
        shown.as_array().cloned().unwrap_or_default()
    };
    let expected = |range: std::ops::Range<usize>| -> Vec<Value> {
        logged["items"].as_array().expect("items")[range]
            .iter()
            .map(|c| c["at"].clone())
            .collect()
    };
    assert_eq!(times().await, expected(0..20), "the newest 20 first");
    assert!(
        text_of(&client, "#resume-journal")
            .await
            .contains("Page 1 sur 2")
    );
    click(&client, "#page-suivante").await;
    eventually("the older changes", async || {
        times().await == expected(20..total)
    })
    .await;
    assert!(
        text_of(&client, "#resume-journal")
            .await
            .contains("Page 2 sur 2")
    );
    assert_eq!(
        client
            .find_all(Locator::Css("#page-suivante"))
            .await
            .expect("links")
            .len(),
        0,
        "no page after the last"
    );
    click(&client, "#page-precedente").await;
    eventually("back to the newest", async || {
        times().await == expected(0..20)
    })
    .await;
    client.close().await.expect("the session closes");
}
