//! Prepares the chain before a measured pass: one cashier and one manager per store,
//! every store's shelves stocked well above what a pass can sell, and the logistics
//! center able to fill restock requests. All of it happens before the "before"
//! snapshot, so the check never sees it.
//!
//! Raising stock is a physical count (`counted`) on every line under the floor: a sale
//! of the pass then never meets `insufficient_stock`, which is a legitimate business
//! answer but an error in a pass that must end with none.

use anyhow::{Context, Result};
use std::collections::BTreeMap;

use crate::api::{Api, Product};
use crate::world::{Credentials, STAFF_PASSWORD, Staff};

/// The most units one line of a supplier receipt may carry.
const MAX_LINE_QUANTITY: u32 = 10_000;

pub struct Options {
    pub admin: Credentials,
    pub logistics: Credentials,
    /// Every store line under this is counted up to it.
    pub stock_floor: u32,
    /// Every central line under this gets a supplier receipt up to it.
    pub central_floor: u32,
}

pub struct Prepared {
    pub stores: Vec<u32>,
    pub products: Vec<Product>,
    pub staff: Staff,
    /// A head office token, for the snapshots and the check.
    pub admin_token: String,
}

pub async fn prepare(api: &Api, options: &Options) -> Result<Prepared> {
    let admin_token = api
        .login(&options.admin.username, &options.admin.password)
        .await?;
    let stores: Vec<u32> = api
        .stores(&admin_token)
        .await
        .context("listing the stores")?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let products = api
        .catalog(&admin_token)
        .await
        .context("reading the catalog")?;
    let staff = hire(api, &admin_token, &stores, options).await?;
    for &store in &stores {
        raise_store_stock(api, &admin_token, store, options.stock_floor).await?;
    }
    let logistics_token = api
        .login(&options.logistics.username, &options.logistics.password)
        .await?;
    raise_central_stock(api, &logistics_token, options.central_floor).await?;
    Ok(Prepared {
        stores,
        products,
        staff,
        admin_token,
    })
}

/// A cashier and a manager for each store, created the first time.
async fn hire(api: &Api, token: &str, stores: &[u32], options: &Options) -> Result<Staff> {
    let existing = api.usernames(token).await.context("listing the users")?;
    let mut cashiers = BTreeMap::new();
    let mut managers = BTreeMap::new();
    for &store in stores {
        for (role, username, hired) in [
            ("cashier", Staff::cashier_username(store), &mut cashiers),
            ("manager", Staff::manager_username(store), &mut managers),
        ] {
            if !existing.contains(&username) {
                api.create_user(token, &username, STAFF_PASSWORD, role, store)
                    .await
                    .with_context(|| format!("creating {username}"))?;
            }
            hired.insert(store, Credentials::new(&username, STAFF_PASSWORD));
        }
    }
    Ok(Staff {
        cashiers,
        managers,
        admin: options.admin.clone(),
        logistics: options.logistics.clone(),
    })
}

async fn raise_store_stock(api: &Api, token: &str, store: u32, floor: u32) -> Result<()> {
    let low: Vec<(String, u32)> = api
        .store_stock(store, token)
        .await
        .with_context(|| format!("reading the stock of store {store}"))?
        .into_iter()
        .filter(|line| line.on_hand < floor)
        .map(|line| (line.sku, floor))
        .collect();
    if !low.is_empty() {
        api.count_stock(store, &low, token)
            .await
            .with_context(|| format!("raising the stock of store {store}"))?;
    }
    Ok(())
}

async fn raise_central_stock(api: &Api, token: &str, floor: u32) -> Result<()> {
    let short: Vec<(String, u32)> = api
        .central_stock(token)
        .await
        .context("reading the logistics center's stock")?
        .into_iter()
        .filter(|line| line.on_hand < floor)
        .map(|line| (line.sku, (floor - line.on_hand).min(MAX_LINE_QUANTITY)))
        .collect();
    if !short.is_empty() {
        api.supplier_receipt(&short, token)
            .await
            .context("receiving goods at the logistics center")?;
    }
    Ok(())
}
