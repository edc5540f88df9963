//! What every simulated user shares during a pass: the catalog and stores it picks from,
//! the staff it logs in as, and the tally of every write the server acknowledged.
//!
//! The tally is the tool's own account of the run, kept from the answers it received;
//! the check compares it with what the server says afterwards, so it must record exactly
//! what was acknowledged: a 201 counts, a write without a clear answer goes to `pending`
//! and is settled after the pass (every write the tool makes is idempotent).

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::api::Product;

/// The password of the users the tool creates (the demo users' `demo` is too short for
/// the server's rule on new passwords).
pub const STAFF_PASSWORD: &str = "essai-de-charge";

/// How many violations the tally quotes; a broken server repeats the same one.
pub const VIOLATIONS_KEPT: usize = 20;

#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }
}

/// Who the simulated users log in as: a cashier and a manager per store, head office,
/// and the logistics center.
#[derive(Debug, Clone)]
pub struct Staff {
    pub cashiers: BTreeMap<u32, Credentials>,
    pub managers: BTreeMap<u32, Credentials>,
    pub admin: Credentials,
    pub logistics: Credentials,
}

impl Staff {
    pub fn cashier_username(store: u32) -> String {
        format!("essai.caissier{store}")
    }

    pub fn manager_username(store: u32) -> String {
        format!("essai.gestionnaire{store}")
    }
}

/// The catalog, with the words and categories searches pick from.
pub struct Catalog {
    pub products: Vec<Product>,
    pub words: Vec<String>,
    pub categories: Vec<String>,
}

impl Catalog {
    pub fn new(products: Vec<Product>) -> Self {
        let mut words: Vec<String> = products
            .iter()
            .flat_map(|p| p.name.split_whitespace())
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .filter(|w| w.chars().count() >= 4 && w.chars().all(char::is_alphabetic))
            .collect();
        words.sort();
        words.dedup();
        let mut categories: Vec<String> = products.iter().map(|p| p.category.clone()).collect();
        categories.sort();
        categories.dedup();
        Self {
            products,
            words,
            categories,
        }
    }
}

/// Units of one SKU in one store that the tool moved, from the answers it received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flow {
    pub sold: u64,
    pub returned: u64,
    pub received: u64,
}

/// A sale the server acknowledged with 201.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckedSale {
    pub store: u32,
    pub id: u64,
}

/// A write sent without a clear answer (no answer, or a 5xx): it may or may not have
/// happened. Each is sent again after the pass, with the same key, to learn which.
#[derive(Debug, Clone)]
pub enum Pending {
    Sale {
        store: u32,
        key: String,
        body: Value,
    },
    Return {
        store: u32,
        sale: u64,
        key: String,
        body: Value,
    },
    Receive {
        store: u32,
        request: String,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Acknowledged sales by idempotency key.
    pub sales: HashMap<String, AckedSale>,
    /// Acknowledged returns per store.
    pub returns: BTreeMap<u32, u64>,
    /// Restock requests received per store.
    pub receipts: BTreeMap<u32, u64>,
    pub flows: BTreeMap<(u32, String), Flow>,
    /// Retries sent, and those answered with the original sale.
    pub retries: u64,
    pub retries_matched: u64,
    /// What the server answered that it must not have: each line says what differed
    /// (the first [`VIOLATIONS_KEPT`] of them; `violations_total` counts them all).
    pub violations: Vec<String>,
    pub violations_total: u64,
    pub pending: Vec<Pending>,
}

impl Tally {
    pub fn violation(&mut self, what: String) {
        self.violations_total += 1;
        if self.violations.len() < VIOLATIONS_KEPT {
            self.violations.push(what);
        }
    }

    /// The violations as the report lists them.
    pub fn violation_lines(&self) -> Vec<String> {
        let mut lines = self.violations.clone();
        let more = self.violations_total.saturating_sub(lines.len() as u64);
        if more > 0 {
            lines.push(format!("and {more} more answers that must not have been"));
        }
        lines
    }

    pub fn flow(&mut self, store: u32, sku: &str) -> &mut Flow {
        self.flows.entry((store, sku.to_owned())).or_default()
    }
}

/// Hands out stores round robin, so each scenario's users spread over the chain.
#[derive(Default)]
pub struct Spread(AtomicUsize);

impl Spread {
    /// The next user's number, from 0.
    pub fn next(&self) -> usize {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

pub struct World {
    /// Tells this run's idempotency keys from any other run's against the same server.
    pub run: String,
    pub stores: Vec<u32>,
    pub catalog: Catalog,
    /// Per store, the SKUs with enough stock to sell without running out.
    pub sellable: BTreeMap<u32, Vec<String>>,
    pub staff: Staff,
    pub till_users: Spread,
    pub search_users: Spread,
    pub logistics_users: Spread,
    tally: Mutex<Tally>,
}

impl World {
    pub fn new(
        run: String,
        stores: Vec<u32>,
        catalog: Catalog,
        sellable: BTreeMap<u32, Vec<String>>,
        staff: Staff,
    ) -> Self {
        Self {
            run,
            stores,
            catalog,
            sellable,
            staff,
            till_users: Spread::default(),
            search_users: Spread::default(),
            logistics_users: Spread::default(),
            tally: Mutex::new(Tally::default()),
        }
    }

    /// The tally, locked. Never held across an `.await`.
    pub fn tally(&self) -> MutexGuard<'_, Tally> {
        // A user task that panicked while holding the lock left counts that are still
        // the best account there is.
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The store of the user numbered `n` of a scenario.
    pub fn store_of(&self, n: usize) -> u32 {
        self.stores
            .get(n % self.stores.len().max(1))
            .copied()
            .unwrap_or(1)
    }
}
