//! `ceiling`: `GET /health/live` and nothing else, no token, no store, no disk. What the
//! server and this machine sustain at best; every other pass is read as a share of it.

use goose::prelude::*;
use std::sync::Arc;

use super::{Call, require_success, send};

pub fn scenario() -> anyhow::Result<Scenario> {
    let live: TransactionFunction = Arc::new(|user| Box::pin(health_live(user)));
    Ok(Scenario::new("ceiling")
        .register_transaction(Transaction::new(live).set_name("health_live")))
}

async fn health_live(user: &mut GooseUser) -> TransactionResult {
    let mut call = Call::get("health_live", "/health/live", "");
    call.token = None;
    let answer = send(user, call).await?;
    require_success(&answer)
}
