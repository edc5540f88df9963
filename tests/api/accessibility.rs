//! axe-core (vendored in `tests/vendor/axe-core/`) over every screen, as each role that may
//! use it: no critical and no serious violation.

use crate::browser::{browser, runtime, signed_in};
use crate::helpers::{TestApp, spawn_app};
use fantoccini::Client;
use serde_json::Value;

const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");

/// The screens each role sees, and an element that says the screen is drawn.
const SCREENS: &[(&str, &[(&str, &str)])] = &[
    (
        "caissier1",
        &[
            ("caisse", "#fonds, #code"),
            ("stock", "#recherche"),
            ("mot-de-passe", "#mon-mot-de-passe"),
        ],
    ),
    (
        "gestionnaire1",
        &[
            ("reappro", "#sku-demande"),
            ("tableau", ".chiffres"),
            ("transferts", "#nouveau-transfert"),
            ("points-de-commande", "#politique"),
        ],
    ),
    (
        "logistique",
        &[("reappro", "table"), ("achats", "#nouvelle-commande")],
    ),
    (
        "admin",
        &[
            ("catalogue", "#nouveau-produit"),
            ("magasins", "form"),
            ("utilisateurs", "form"),
            (
                "utilisateurs?utilisateur=caissier1",
                "#fiche-utilisateur h2",
            ),
            ("journal", "table.journal"),
            ("mot-de-passe", "#mon-mot-de-passe"),
        ],
    ),
];

/// axe's violations of the page as it is: `(impact, rule id, how many nodes)`.
pub(crate) async fn violations(client: &Client) -> Vec<(String, String, usize)> {
    client.execute(AXE, vec![]).await.expect("axe loads");
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] }).then((r) => done(r.violations.map((v) => [v.impact, v.id, v.nodes.length])));",
            vec![],
        )
        .await
        .expect("axe runs");
    found
        .as_array()
        .map(|list| {
            list.iter()
                .map(|v| {
                    let field = |i: usize| v[i].as_str().unwrap_or_default().to_owned();
                    (field(0), field(1), v[2].as_u64().unwrap_or(0) as usize)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_screen_has_no_critical_and_no_serious_axe_violation() {
    let app = spawn_app();
    runtime().block_on(every_screen_in_browser(&app));
}

async fn every_screen_in_browser(app: &TestApp) {
    // The till as a cashier sees it most of the day: open.
    let opened = app.post(
        "/api/v1/stores/1/tills/1/sessions",
        &serde_json::json!({"float_cents": 10_000}),
    );
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    let mut report = Vec::new();
    let mut serious = 0;
    for (user, screens) in SCREENS {
        let (_driver, client) = browser().await;
        client.goto(&app.base).await.expect("the login page");
        let login = violations(&client).await;
        signed_in(&client, app, user).await;
        let mut found = vec![("connexion".to_owned(), login)];
        for (screen, ready) in *screens {
            crate::browser::screen(&client, app, screen, ready).await;
            found.push(((*screen).to_owned(), violations(&client).await));
            crate::browser::assert_no_csp_violation(&client, &format!("for {user} on {screen}"))
                .await;
        }
        for (screen, list) in found {
            for (impact, rule, nodes) in list {
                if impact == "critical" || impact == "serious" {
                    serious += 1;
                }
                report.push(format!("{user} {screen}: {impact} {rule} ({nodes})"));
            }
        }
        client.close().await.expect("closes");
    }
    let counts: Value = serde_json::json!(report);
    eprintln!("axe-core: {counts}");
    assert_eq!(
        serious,
        0,
        "critical or serious violations:\n{}",
        report.join("\n")
    );
}
