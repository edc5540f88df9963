//! `search`: staff on the floor looking things up: the catalog by a word of a name, a
//! category, a SKU or a scanned barcode; their store's stock and one line of it; where
//! else in the chain a product is. A SKU or barcode search must find its product.

use goose::prelude::*;
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::Deserialize;
use std::sync::Arc;

use super::{Call, fail, login, not_logged_in, parse, require_success, send, step};
use crate::api::Product;
use crate::world::World;

#[derive(Clone)]
struct Floor {
    token: Arc<str>,
    store: u32,
}

pub fn scenario(world: &Arc<World>) -> anyhow::Result<Scenario> {
    Ok(Scenario::new("search")
        .register_transaction(
            step(world, "open_search", 1, |w, u| Box::pin(open(w, u)))?.set_on_start(),
        )
        .register_transaction(step(world, "search_products", 4, |w, u| {
            Box::pin(by_word(w, u))
        })?)
        .register_transaction(step(world, "search_category", 1, |w, u| {
            Box::pin(by_category(w, u))
        })?)
        .register_transaction(step(world, "search_sku", 1, |w, u| Box::pin(by_sku(w, u)))?)
        .register_transaction(step(world, "search_barcode", 2, |w, u| {
            Box::pin(by_barcode(w, u))
        })?)
        .register_transaction(step(world, "store_stock", 2, |w, u| {
            Box::pin(store_stock(w, u))
        })?)
        .register_transaction(step(world, "stock_line", 3, |w, u| {
            Box::pin(stock_line(w, u))
        })?)
        .register_transaction(step(world, "availability", 2, |w, u| {
            Box::pin(availability(w, u))
        })?))
}

async fn open(world: &World, user: &mut GooseUser) -> TransactionResult {
    let store = world.store_of(world.search_users.next());
    let who = world.staff.cashiers.get(&store).ok_or_else(|| {
        Box::new(TransactionError::Custom(format!(
            "no cashier for store {store}"
        )))
    })?;
    let token = login(user, who).await?;
    user.set_session_data(Floor { token, store });
    Ok(())
}

fn session(user: &GooseUser) -> Result<Floor, Box<TransactionError>> {
    user.get_session_data::<Floor>()
        .cloned()
        .ok_or_else(not_logged_in)
}

fn any_product(world: &World) -> Result<Product, Box<TransactionError>> {
    world
        .catalog
        .products
        .choose(&mut rand::rng())
        .cloned()
        .ok_or_else(|| Box::new(TransactionError::Custom("the catalog is empty".into())))
}

fn any_of(items: &[String]) -> String {
    items.choose(&mut rand::rng()).cloned().unwrap_or_default()
}

async fn by_word(world: &World, user: &mut GooseUser) -> TransactionResult {
    let floor = session(user)?;
    let word = any_of(&world.catalog.words);
    let answer = send(
        user,
        Call::get("search_products", "/api/v1/products", &floor.token)
            .query(&[("q", &word), ("per_page", "20")]),
    )
    .await?;
    require_success(&answer)
}

async fn by_category(world: &World, user: &mut GooseUser) -> TransactionResult {
    let floor = session(user)?;
    let category = any_of(&world.catalog.categories);
    let answer = send(
        user,
        Call::get("search_category", "/api/v1/products", &floor.token)
            .query(&[("category", &category), ("per_page", "20")]),
    )
    .await?;
    require_success(&answer)
}

#[derive(Deserialize)]
struct Found {
    items: Vec<FoundProduct>,
}

#[derive(Deserialize)]
struct FoundProduct {
    sku: String,
}

/// Searches for `text` and fails the request unless `sku` is among the results.
async fn find(
    user: &mut GooseUser,
    name: &str,
    token: &str,
    text: &str,
    sku: &str,
) -> TransactionResult {
    let mut answer = send(
        user,
        Call::get(name, "/api/v1/products", token).query(&[("q", text)]),
    )
    .await?;
    let found: Found = parse(user, &mut answer)?;
    if found.items.iter().any(|p| p.sku == sku) {
        return Ok(());
    }
    let why = format!("searching {text} did not find {sku}");
    let body = answer.body.clone();
    Err(fail(user, &why, &mut answer.request, Some(&body)))
}

async fn by_sku(world: &World, user: &mut GooseUser) -> TransactionResult {
    let floor = session(user)?;
    let product = any_product(world)?;
    find(user, "search_sku", &floor.token, &product.sku, &product.sku).await
}

async fn by_barcode(world: &World, user: &mut GooseUser) -> TransactionResult {
    let floor = session(user)?;
    let product = any_product(world)?;
    find(
        user,
        "search_barcode",
        &floor.token,
        &product.ean13,
        &product.sku,
    )
    .await
}

async fn store_stock(world: &World, user: &mut GooseUser) -> TransactionResult {
    let floor = session(user)?;
    let path = format!("/api/v1/stores/{}/stock", floor.store);
    // Half the time the whole shelf list a page at a time, half the time narrowed.
    let (word, page) = {
        let mut rng = rand::rng();
        let word = rng.random_bool(0.5).then(|| any_of(&world.catalog.words));
        (word, rng.random_range(1..=5u32).to_string())
    };
    let query: Vec<(&str, &str)> = match &word {
        Some(word) => vec![("q", word.as_str())],
        None => vec![("page", page.as_str()), ("per_page", "50")],
    };
    let answer = send(
        user,
        Call::get("store_stock", &path, &floor.token).query(&query),
    )
    .await?;
    require_success(&answer)
}

async fn stock_line(world: &World, user: &mut GooseUser) -> TransactionResult {
    let floor = session(user)?;
    let product = any_product(world)?;
    let path = format!("/api/v1/stores/{}/stock/{}", floor.store, product.sku);
    let answer = send(user, Call::get("stock_line", &path, &floor.token)).await?;
    require_success(&answer)
}

async fn availability(world: &World, user: &mut GooseUser) -> TransactionResult {
    let floor = session(user)?;
    let product = any_product(world)?;
    let path = format!("/api/v1/availability/{}", product.sku);
    let answer = send(user, Call::get("availability", &path, &floor.token)).await?;
    require_success(&answer)
}
