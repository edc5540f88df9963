//! Tills and stock checks on tablets and phones: every screen at 768 and 390 px wide with no
//! sideways scroll (the page's `scrollWidth` never exceeds its `clientWidth`); screenshots of
//! each.

use crate::browser::{browser, runtime, screenshot, signed_in};
use crate::helpers::{TestApp, spawn_app};
use fantoccini::Client;

const SCREENS: &[(&str, &[(&str, &str)])] = &[
    (
        "caissier1",
        &[
            ("caisse", "#code"),
            ("stock", "table.stock tbody tr"),
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
    ("logistique", &[("achats", "#nouvelle-commande")]),
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
        ],
    ),
];

async fn overflow(client: &Client) -> (i64, i64) {
    let sizes = client
        .execute(
            "const e = document.documentElement; return [e.scrollWidth, e.clientWidth];",
            vec![],
        )
        .await
        .expect("the sizes");
    (
        sizes[0].as_i64().unwrap_or(0),
        sizes[1].as_i64().unwrap_or(0),
    )
}

#[test]
fn every_screen_fits_a_tablet_and_a_phone_without_sideways_scrolling() {
    let app = spawn_app();
    let opened = app.post(
        "/api/v1/stores/1/tills/1/sessions",
        &serde_json::json!({"float_cents": 10_000}),
    );
    assert_eq!(opened.status, 201, "{:?}", opened.body);
    runtime().block_on(every_width_in_browser(&app));
}

async fn every_width_in_browser(app: &TestApp) {
    let mut wide = Vec::new();
    for (user, screens) in SCREENS {
        let (_driver, client) = browser().await;
        signed_in(&client, app, user).await;
        for width in [768_u32, 390] {
            client.set_window_size(width, 844).await.expect("resized");
            for (screen, ready) in *screens {
                crate::browser::screen(&client, app, screen, ready).await;
                let (scroll, visible) = overflow(&client).await;
                if scroll > visible {
                    wide.push(format!("{screen} at {width} px: {scroll} > {visible}"));
                }
                if *user != "admin" {
                    screenshot(&client, &format!("{screen}-{width}")).await;
                }
            }
        }
        client.close().await.expect("closes");
    }
    assert!(
        wide.is_empty(),
        "screens wider than the window:\n{}",
        wide.join("\n")
    );
}
