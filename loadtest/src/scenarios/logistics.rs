//! `logistics`: a store manager asks for goods, the logistics center allocates and ships
//! them, the store receives them; between cycles, the logistics center watches its queue
//! and its stock, and the manager follows the store's requests.

use goose::prelude::*;
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

use super::{Call, login, not_logged_in, parse, require_success, send, step};
use crate::world::{Pending, World};

#[derive(Clone)]
struct Desk {
    manager: Arc<str>,
    logistics: Arc<str>,
    store: u32,
    number: usize,
    keys: u64,
}

#[derive(Deserialize)]
struct Restock {
    id: String,
    lines: Vec<RestockLine>,
}

#[derive(Deserialize)]
struct RestockLine {
    sku: String,
    received: u32,
}

pub fn scenario(world: &Arc<World>) -> anyhow::Result<Scenario> {
    Ok(Scenario::new("logistics")
        .register_transaction(
            step(world, "open_desk", 1, |w, u| Box::pin(open(w, u)))?.set_on_start(),
        )
        .register_transaction(step(world, "restock_cycle", 2, |w, u| {
            Box::pin(cycle(w, u))
        })?)
        .register_transaction(step(world, "restock_queue", 1, |w, u| {
            Box::pin(queue(w, u))
        })?)
        .register_transaction(step(world, "central_stock", 1, |w, u| {
            Box::pin(central_stock(w, u))
        })?)
        .register_transaction(step(world, "store_restocks", 1, |w, u| {
            Box::pin(store_restocks(w, u))
        })?))
}

async fn open(world: &World, user: &mut GooseUser) -> TransactionResult {
    let number = world.logistics_users.next();
    let store = world.store_of(number);
    let manager = world.staff.managers.get(&store).ok_or_else(|| {
        Box::new(TransactionError::Custom(format!(
            "no manager for store {store}"
        )))
    })?;
    let manager = login(user, manager).await?;
    let logistics = login(user, &world.staff.logistics).await?;
    user.set_session_data(Desk {
        manager,
        logistics,
        store,
        number,
        keys: 0,
    });
    Ok(())
}

fn session(user: &GooseUser) -> Result<Desk, Box<TransactionError>> {
    user.get_session_data::<Desk>()
        .cloned()
        .ok_or_else(not_logged_in)
}

/// 1 to 3 products, 5 to 30 units of each.
fn wanted(world: &World) -> Vec<Value> {
    let mut rng = rand::rng();
    let count = rng.random_range(1..=3usize);
    world
        .catalog
        .products
        .choose_multiple(&mut rng, count)
        .map(|p| json!({"sku": p.sku, "quantity": rng.random_range(5..=30u32)}))
        .collect()
}

/// Request, allocate, ship, receive: one request through the whole cycle.
async fn cycle(world: &World, user: &mut GooseUser) -> TransactionResult {
    let mut desk = session(user)?;
    desk.keys += 1;
    let key = format!(
        "{}-reappro-{}-{}-{}",
        world.run, desk.store, desk.number, desk.keys
    );
    user.set_session_data(desk.clone());
    let body = json!({"lines": wanted(world)});
    let path = format!("/api/v1/stores/{}/restock-requests", desk.store);
    let mut answer = send(
        user,
        Call::post("restock_request", &path, &desk.manager, &body).key(&key),
    )
    .await?;
    let created: Restock = parse(user, &mut answer)?;
    let id = created.id;

    let empty = json!({});
    for (name, action) in [("restock_allocate", "allocate"), ("restock_ship", "ship")] {
        let path = format!("/api/v1/logistics/restock-requests/{id}/{action}");
        let answer = send(user, Call::post(name, &path, &desk.logistics, &empty)).await?;
        require_success(&answer)?;
    }

    let path = format!(
        "/api/v1/stores/{}/restock-requests/{id}/receive",
        desk.store
    );
    let mut answer = send(
        user,
        Call::post("restock_receive", &path, &desk.manager, &empty),
    )
    .await?;
    if answer.uncertain() {
        world.tally().pending.push(Pending::Receive {
            store: desk.store,
            request: id.clone(),
        });
    }
    let received: Restock = parse(user, &mut answer)?;
    let mut tally = world.tally();
    for line in received.lines.iter().filter(|l| l.received > 0) {
        tally.flow(desk.store, &line.sku).received += u64::from(line.received);
    }
    *tally.receipts.entry(desk.store).or_default() += 1;
    Ok(())
}

async fn queue(_: &World, user: &mut GooseUser) -> TransactionResult {
    let desk = session(user)?;
    let answer = send(
        user,
        Call::get(
            "restock_queue",
            "/api/v1/logistics/restock-requests",
            &desk.logistics,
        )
        .query(&[("status", "requested"), ("per_page", "20")]),
    )
    .await?;
    require_success(&answer)
}

async fn central_stock(world: &World, user: &mut GooseUser) -> TransactionResult {
    let desk = session(user)?;
    let word = world
        .catalog
        .words
        .choose(&mut rand::rng())
        .cloned()
        .unwrap_or_default();
    let answer = send(
        user,
        Call::get("central_stock", "/api/v1/logistics/stock", &desk.logistics)
            .query(&[("q", &word)]),
    )
    .await?;
    require_success(&answer)
}

async fn store_restocks(_: &World, user: &mut GooseUser) -> TransactionResult {
    let desk = session(user)?;
    let path = format!("/api/v1/stores/{}/restock-requests", desk.store);
    let answer = send(
        user,
        Call::get("store_restocks", &path, &desk.manager).query(&[("per_page", "20")]),
    )
    .await?;
    require_success(&answer)
}
