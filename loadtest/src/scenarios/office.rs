//! `office`: head office watching the chain: the live dashboard most often, then today's
//! sales per store, the best sellers and the stock value.

use goose::prelude::*;
use rand::Rng;
use std::sync::Arc;

use super::{Call, login, not_logged_in, require_success, send, step};
use crate::world::World;

#[derive(Clone)]
struct Office {
    token: Arc<str>,
}

pub fn scenario(world: &Arc<World>) -> anyhow::Result<Scenario> {
    Ok(Scenario::new("office")
        .register_transaction(
            step(world, "open_office", 1, |w, u| Box::pin(open(w, u)))?.set_on_start(),
        )
        .register_transaction(step(world, "dashboard", 4, |w, u| {
            Box::pin(dashboard(w, u))
        })?)
        .register_transaction(step(world, "sales_report", 2, |w, u| {
            Box::pin(sales_report(w, u))
        })?)
        .register_transaction(step(world, "top_products", 2, |w, u| {
            Box::pin(top_products(w, u))
        })?)
        .register_transaction(step(world, "stock_report", 1, |w, u| {
            Box::pin(stock_report(w, u))
        })?))
}

async fn open(world: &World, user: &mut GooseUser) -> TransactionResult {
    let token = login(user, &world.staff.admin).await?;
    user.set_session_data(Office { token });
    Ok(())
}

fn token(user: &GooseUser) -> Result<Arc<str>, Box<TransactionError>> {
    user.get_session_data::<Office>()
        .map(|o| Arc::clone(&o.token))
        .ok_or_else(not_logged_in)
}

async fn report(
    user: &mut GooseUser,
    name: &str,
    path: &str,
    query: &[(&str, &str)],
) -> TransactionResult {
    let token = token(user)?;
    let answer = send(user, Call::get(name, path, &token).query(query)).await?;
    require_success(&answer)
}

async fn dashboard(_: &World, user: &mut GooseUser) -> TransactionResult {
    report(user, "dashboard", "/api/v1/reports/dashboard", &[]).await
}

/// The chain, or one store of it.
fn scope(world: &World) -> Option<String> {
    let mut rng = rand::rng();
    rng.random_bool(0.5).then(|| {
        world
            .store_of(rng.random_range(0..world.stores.len().max(1)))
            .to_string()
    })
}

async fn sales_report(world: &World, user: &mut GooseUser) -> TransactionResult {
    let store = scope(world);
    let query: Vec<(&str, &str)> = store.iter().map(|s| ("store_id", s.as_str())).collect();
    report(user, "sales_report", "/api/v1/reports/sales", &query).await
}

async fn top_products(world: &World, user: &mut GooseUser) -> TransactionResult {
    let store = scope(world);
    let by = if rand::rng().random_bool(0.5) {
        "units"
    } else {
        "revenue"
    };
    let mut query = vec![("by", by), ("limit", "10")];
    query.extend(store.iter().map(|s| ("store_id", s.as_str())));
    report(user, "top_products", "/api/v1/reports/top-products", &query).await
}

async fn stock_report(world: &World, user: &mut GooseUser) -> TransactionResult {
    let store = scope(world);
    let query: Vec<(&str, &str)> = store.iter().map(|s| ("store_id", s.as_str())).collect();
    report(user, "stock_report", "/api/v1/reports/stock", &query).await
}
