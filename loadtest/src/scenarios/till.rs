//! `till`: a cashier ringing up sales of 1 to 5 lines, each with its own idempotency key;
//! now and then the till retries the last sale with the same key (a lost answer, a
//! double click), which must answer the same sale; now and then a customer brings back
//! one unit of something bought at this till.

use goose::prelude::*;
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;

use super::{Call, fail, login, not_logged_in, parse, require_success, send, step};
use crate::world::{AckedSale, Pending, World};

/// Sales a till remembers for returns.
const REMEMBERED: usize = 32;

#[derive(Clone)]
struct Till {
    token: Arc<str>,
    store: u32,
    number: usize,
    keys: u64,
    last: Option<LastSale>,
    recent: VecDeque<Receipt>,
}

#[derive(Clone)]
struct LastSale {
    key: String,
    body: Value,
    id: u64,
}

/// A sale of this till, with what can still be returned of it.
#[derive(Clone)]
struct Receipt {
    id: u64,
    returnable: Vec<(String, u32)>,
}

impl Till {
    fn next_key(&mut self, world: &World, what: &str) -> String {
        self.keys += 1;
        format!(
            "{}-{what}-{}-{}-{}",
            world.run, self.store, self.number, self.keys
        )
    }
}

#[derive(Deserialize)]
struct Line {
    sku: String,
    quantity: u32,
}

#[derive(Deserialize)]
struct SaleAnswer {
    id: u64,
    lines: Vec<Line>,
}

#[derive(Deserialize)]
struct ReturnAnswer {
    lines: Vec<Line>,
}

pub fn scenario(world: &Arc<World>) -> anyhow::Result<Scenario> {
    Ok(Scenario::new("till")
        .register_transaction(
            step(world, "open_till", 1, |w, u| Box::pin(open_till(w, u)))?.set_on_start(),
        )
        .register_transaction(step(world, "sale", 18, |w, u| Box::pin(sale(w, u)))?)
        .register_transaction(step(world, "sale_retry", 1, |w, u| {
            Box::pin(sale_retry(w, u))
        })?)
        .register_transaction(step(world, "return", 1, |w, u| Box::pin(return_one(w, u)))?))
}

async fn open_till(world: &World, user: &mut GooseUser) -> TransactionResult {
    let number = world.till_users.next();
    let store = world.store_of(number);
    let who = world.staff.cashiers.get(&store).ok_or_else(|| {
        Box::new(TransactionError::Custom(format!(
            "no cashier for store {store}"
        )))
    })?;
    let token = login(user, who).await?;
    user.set_session_data(Till {
        token,
        store,
        number,
        keys: 0,
        last: None,
        recent: VecDeque::new(),
    });
    Ok(())
}

fn session(user: &GooseUser) -> Result<Till, Box<TransactionError>> {
    user.get_session_data::<Till>()
        .cloned()
        .ok_or_else(not_logged_in)
}

/// 1 to 5 distinct products with stock in the store, 1 to 3 of each.
fn basket(world: &World, store: u32) -> Vec<Value> {
    let mut rng = rand::rng();
    let Some(skus) = world.sellable.get(&store) else {
        return Vec::new();
    };
    let lines = rng.random_range(1..=5usize).min(skus.len());
    skus.choose_multiple(&mut rng, lines)
        .map(|sku| json!({"sku": sku, "quantity": rng.random_range(1..=3u32)}))
        .collect()
}

async fn sale(world: &World, user: &mut GooseUser) -> TransactionResult {
    let mut till = session(user)?;
    let lines = basket(world, till.store);
    if lines.is_empty() {
        return Err(Box::new(TransactionError::Custom(format!(
            "store {} has nothing left to sell",
            till.store
        ))));
    }
    let body = json!({"lines": lines});
    let key = till.next_key(world, "vente");
    let path = format!("/api/v1/stores/{}/sales", till.store);
    let mut answer = send(
        user,
        Call::post("sale", &path, &till.token, &body).key(&key),
    )
    .await?;
    if answer.uncertain() {
        world.tally().pending.push(Pending::Sale {
            store: till.store,
            key: key.clone(),
            body: body.clone(),
        });
    }
    let sold: SaleAnswer = parse(user, &mut answer)?;
    {
        let mut tally = world.tally();
        for line in &sold.lines {
            tally.flow(till.store, &line.sku).sold += u64::from(line.quantity);
        }
        tally.sales.insert(
            key.clone(),
            AckedSale {
                store: till.store,
                id: sold.id,
            },
        );
    }
    till.recent.push_back(Receipt {
        id: sold.id,
        returnable: sold
            .lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect(),
    });
    if till.recent.len() > REMEMBERED {
        till.recent.pop_front();
    }
    till.last = Some(LastSale {
        key,
        body,
        id: sold.id,
    });
    user.set_session_data(till);
    Ok(())
}

/// Sends the last sale again with its key: the answer must be that same sale, flagged
/// as replayed, and nothing must be sold twice.
async fn sale_retry(world: &World, user: &mut GooseUser) -> TransactionResult {
    let till = session(user)?;
    let Some(last) = &till.last else {
        return Ok(());
    };
    let path = format!("/api/v1/stores/{}/sales", till.store);
    let mut answer = send(
        user,
        Call::post("sale_retry", &path, &till.token, &last.body).key(&last.key),
    )
    .await?;
    match answer.status {
        // No answer, a server error, or a token or rate refusal: the key was never
        // judged. Goose counts the error; it says nothing of idempotency.
        None | Some(401 | 403 | 429 | 500..) => return require_success(&answer),
        Some(status) if !answer.succeeded() => {
            // The key and body are the ones that were acknowledged: a refusal is as
            // wrong as another sale.
            let violation = format!(
                "store {}: retry of key {} (sale {}) was refused with {status}: {}",
                till.store, last.key, last.id, answer.body
            );
            let mut tally = world.tally();
            tally.retries += 1;
            tally.violation(violation);
            return require_success(&answer);
        }
        Some(_) => world.tally().retries += 1,
    }
    let replayed = answer.replayed;
    let again: SaleAnswer = parse(user, &mut answer)?;
    if again.id == last.id && replayed {
        world.tally().retries_matched += 1;
        return Ok(());
    }
    let violation = format!(
        "store {}: retry of key {} answered sale {} (replayed: {replayed}), the first answer was sale {}",
        till.store, last.key, again.id, last.id
    );
    world.tally().violation(violation.clone());
    let body = answer.body.clone();
    Err(fail(user, &violation, &mut answer.request, Some(&body)))
}

/// Returns one unit of a line of one of this till's recent sales.
async fn return_one(world: &World, user: &mut GooseUser) -> TransactionResult {
    let mut till = session(user)?;
    let picked = {
        let mut rng = rand::rng();
        let open: Vec<usize> = (0..till.recent.len())
            .filter(|&i| till.recent[i].returnable.iter().any(|(_, q)| *q > 0))
            .collect();
        open.choose(&mut rng).copied().and_then(|i| {
            let lines: Vec<usize> = (0..till.recent[i].returnable.len())
                .filter(|&l| till.recent[i].returnable[l].1 > 0)
                .collect();
            lines.choose(&mut rng).map(|&l| (i, l))
        })
    };
    let Some((receipt, line)) = picked else {
        return Ok(());
    };
    let sale_id = till.recent[receipt].id;
    let sku = till.recent[receipt].returnable[line].0.clone();
    let body = json!({
        "lines": [{"sku": sku, "quantity": 1}],
        "reason": "essai de charge",
    });
    let key = till.next_key(world, "retour");
    let path = format!("/api/v1/stores/{}/sales/{sale_id}/returns", till.store);
    let mut answer = send(
        user,
        Call::post("return", &path, &till.token, &body).key(&key),
    )
    .await?;
    // Whatever the answer, this unit is not offered again: a second return of it could
    // exceed the sale if the first one went through unseen.
    till.recent[receipt].returnable[line].1 -= 1;
    user.set_session_data(till.clone());
    if answer.uncertain() {
        world.tally().pending.push(Pending::Return {
            store: till.store,
            sale: sale_id,
            key: key.clone(),
            body: body.clone(),
        });
    }
    let returned: ReturnAnswer = parse(user, &mut answer)?;
    let mut tally = world.tally();
    for line in &returned.lines {
        tally.flow(till.store, &line.sku).returned += u64::from(line.quantity);
    }
    *tally.returns.entry(till.store).or_default() += 1;
    Ok(())
}
