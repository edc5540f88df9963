//! Demo data: 5 stores and 240 products with stock levels, from the CSV files under
//! `config/demo/` (built into the binary). Seeding is idempotent step by step, so a start
//! killed half-way through seeding completes it on the next start.

use serde::Deserialize;
use std::collections::HashMap;

use crate::actors::{
    ChainActorError, FlowError, PurchaseCommand, Registry, RegistryError, StoreError,
};
use crate::auth::{AuthError, hash_password};
use crate::domain::{
    AdjustmentLine, AdjustmentRequest, Cents, Ean13, LinesError, MAX_LINES, NewStore, Product, Sku,
    ValueError, parse_label,
};
use crate::domain::{Role, StoreDetails, StoreId, TaxCode, User, Username, parse_class};
use crate::domain::{Supplier, SupplierCode};
use crate::reports::{CatalogView, UsersView};

const CATALOG: &str = include_str!("../config/demo/catalog.csv");
const STORES: &str = include_str!("../config/demo/stores.csv");
const STOCK: &str = include_str!("../config/demo/stock.csv");
const USERS: &str = include_str!("../config/demo/users.csv");
const CENTRAL: &str = include_str!("../config/demo/central_stock.csv");
const SUPPLIERS: &str = include_str!("../config/demo/suppliers.csv");
/// Each product records a receipt once: seeding again is a no-op.
const CENTRAL_RECEIPT: &str = "demo:stock-initial";
/// The password of every demo user (listed in the README).
const DEMO_PASSWORD: &str = "demo";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo file {file}: {source}")]
    Csv {
        file: &'static str,
        source: csv::Error,
    },
    #[error("demo file {file}, row {row}: {error}")]
    Value {
        file: &'static str,
        row: usize,
        error: ValueError,
    },
    #[error("demo stock names unknown store {0}")]
    UnknownStore(u32),
    #[error("demo stock lines: {0}")]
    Lines(#[from] LinesError),
    #[error("demo seeding, chain: {0}")]
    Chain(#[from] ChainActorError),
    #[error("demo seeding, store: {0}")]
    Store(#[from] StoreError),
    #[error("demo seeding: {0}")]
    Registry(#[from] RegistryError),
    #[error("demo users: {0}")]
    Auth(#[from] AuthError),
    #[error("demo users: hashing task failed")]
    Hashing,
    #[error("demo central stock or suppliers: {0}")]
    Central(#[from] FlowError),
}

#[derive(Deserialize)]
struct CatalogRow {
    sku: String,
    ean13: String,
    name: String,
    category: String,
    price_cents: i64,
    tax_class: String,
}

#[derive(Deserialize)]
struct StoreRow {
    store_id: u32,
    code: String,
    name: String,
    city: String,
    address: String,
    jurisdiction: String,
    time_zone: String,
    gst_number: String,
    qst_number: String,
}

impl StoreRow {
    /// Where the store is and what it collects: HST in Ontario (on the GST number),
    /// GST and QST in Quebec.
    fn details(&self) -> StoreDetails {
        let mut details = StoreDetails::quebec(&self.address);
        details.jurisdiction = self.jurisdiction.clone();
        details.time_zone = self.time_zone.clone();
        let federal = if self.jurisdiction == "ON" {
            TaxCode::Hst
        } else {
            TaxCode::Gst
        };
        details
            .registrations
            .push((federal, self.gst_number.clone()));
        if !self.qst_number.is_empty() {
            details
                .registrations
                .push((TaxCode::Qst, self.qst_number.clone()));
        }
        details
    }
}

#[derive(Deserialize)]
struct CentralRow {
    sku: String,
    on_hand: u32,
    /// The opening stock's cost of one unit: the average cost starts there.
    unit_cost_cents: i64,
}

#[derive(Deserialize)]
struct SupplierRow {
    code: String,
    name: String,
    lead_time_days: u32,
}

#[derive(Deserialize)]
struct UserRow {
    username: String,
    role: String,
    store_id: Option<u32>,
}

#[derive(Deserialize)]
struct StockRow {
    store_id: u32,
    sku: String,
    on_hand: i64,
    reorder_point: u32,
    target_level: u32,
}

fn rows<T: serde::de::DeserializeOwned>(
    file: &'static str,
    text: &str,
) -> Result<Vec<T>, DemoError> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()
        .map_err(|source| DemoError::Csv { file, source })
}

fn value<T>(file: &'static str, row: usize, result: Result<T, ValueError>) -> Result<T, DemoError> {
    result.map_err(|error| DemoError::Value { file, row, error })
}

/// The demo catalog, parsed and validated like any input.
pub fn products() -> Result<Vec<Product>, DemoError> {
    let file = "catalog.csv";
    rows::<CatalogRow>(file, CATALOG)?
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            Ok(Product {
                sku: value(file, i + 2, Sku::parse(&row.sku))?,
                ean13: value(file, i + 2, Ean13::parse(&row.ean13))?,
                name: value(file, i + 2, parse_label(&row.name, 120))?,
                category: value(file, i + 2, parse_label(&row.category, 60))?,
                price: value(file, i + 2, Cents::price(row.price_cents))?,
                tax_class: value(file, i + 2, parse_class(Some(&row.tax_class)))?,
            })
        })
        .collect()
}

/// Seeds what is missing of the demo chain.
pub async fn seed(
    registry: &Registry,
    catalog: &CatalogView,
    users: &UsersView,
) -> Result<(), DemoError> {
    if !registry.chain().is_owner() {
        return seed_follower(registry, catalog).await;
    }
    let missing: Vec<Product> = products()?
        .into_iter()
        .filter(|p| catalog.product(&p.sku).is_none())
        .collect();
    if !missing.is_empty() {
        tracing::info!(products = missing.len(), "seeding the demo catalog");
        registry.chain().add_products(missing).await?;
    }

    let mut ids_by_demo_id = HashMap::new();
    for (i, row) in rows::<StoreRow>("stores.csv", STORES)?
        .into_iter()
        .enumerate()
    {
        let existing = catalog.stores().into_iter().find(|s| s.code == row.code);
        let store = match existing {
            Some(store) => store,
            None => {
                let details = row.details();
                let new = NewStore::parse(&row.code, &row.name, &row.city, details).map_err(
                    |errors| DemoError::Value {
                        file: "stores.csv",
                        row: i + 2,
                        error: errors.first().map_or(ValueError::StoreCode, |(_, e)| *e),
                    },
                )?;
                tracing::info!(code = %row.code, "opening a demo store");
                registry.open_store(new).await?
            }
        };
        ids_by_demo_id.insert(row.store_id, store.id);
    }

    seed_own_stores(registry, &ids_by_demo_id).await?;
    seed_users(registry, users, &ids_by_demo_id).await?;
    seed_suppliers(registry).await?;
    seed_central(registry).await
}

async fn seed_suppliers(registry: &Registry) -> Result<(), DemoError> {
    let file = "suppliers.csv";
    for (i, row) in rows::<SupplierRow>(file, SUPPLIERS)?
        .into_iter()
        .enumerate()
    {
        let supplier = Supplier {
            code: value(file, i + 2, SupplierCode::parse(&row.code))?,
            name: row.name,
            lead_time_days: row.lead_time_days,
            active: true,
        };
        registry
            .purchase(PurchaseCommand::AddSupplier(supplier))
            .await?;
    }
    Ok(())
}

/// On an instance that does not own the reference data: once its copy has the demo
/// stores (the owner opens them), the stock of those this instance owns.
async fn seed_follower(registry: &Registry, catalog: &CatalogView) -> Result<(), DemoError> {
    let demo_stores = rows::<StoreRow>("stores.csv", STORES)?;
    let mut waited = 0_u32;
    let ids_by_demo_id: HashMap<u32, StoreId> = loop {
        let stores = catalog.stores();
        let found: HashMap<u32, StoreId> = demo_stores
            .iter()
            .filter_map(|row| {
                let store = stores.iter().find(|s| s.code == row.code)?;
                Some((row.store_id, store.id))
            })
            .collect();
        if found.len() == demo_stores.len() {
            break found;
        }
        waited += 1;
        if waited % 50 == 1 {
            tracing::info!(
                have = found.len(),
                of = demo_stores.len(),
                "waiting for the demo stores from the owner of the reference data"
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    seed_own_stores(registry, &ids_by_demo_id).await
}

/// The demo stock of the stores this instance owns, those not stocked yet.
async fn seed_own_stores(
    registry: &Registry,
    ids_by_demo_id: &HashMap<u32, StoreId>,
) -> Result<(), DemoError> {
    let mut by_store: HashMap<u32, Vec<StockRow>> = HashMap::new();
    for row in rows::<StockRow>("stock.csv", STOCK)? {
        by_store.entry(row.store_id).or_default().push(row);
    }
    let mut demo_ids: Vec<u32> = by_store.keys().copied().collect();
    demo_ids.sort();
    for demo_id in demo_ids {
        let id = *ids_by_demo_id
            .get(&demo_id)
            .ok_or(DemoError::UnknownStore(demo_id))?;
        if !registry.owns_store(id) || !registry.ledger(id, 0, 1).await?.is_empty() {
            continue;
        }
        let lines = by_store.remove(&demo_id).unwrap_or_default();
        seed_store_stock(registry, id, lines).await?;
    }
    Ok(())
}

async fn seed_central(registry: &Registry) -> Result<(), DemoError> {
    let file = "central_stock.csv";
    let mut lines = Vec::new();
    for (i, row) in rows::<CentralRow>(file, CENTRAL)?.into_iter().enumerate() {
        if row.on_hand > 0 {
            let sku = value(file, i + 2, Sku::parse(&row.sku))?;
            let cost = value(file, i + 2, Cents::price(row.unit_cost_cents))?;
            lines.push((sku, row.on_hand, Some(cost)));
        }
    }
    registry
        .receive_goods(CENTRAL_RECEIPT, lines, seeder())
        .await?;
    Ok(())
}

async fn seed_users(
    registry: &Registry,
    users: &UsersView,
    store_ids: &HashMap<u32, StoreId>,
) -> Result<(), DemoError> {
    let file = "users.csv";
    for (i, row) in rows::<UserRow>(file, USERS)?.into_iter().enumerate() {
        let username = value(file, i + 2, Username::parse(&row.username))?;
        if users.get(&username).is_some() {
            continue;
        }
        let role = value(file, i + 2, Role::parse(&row.role))?;
        let store = match row.store_id {
            Some(demo_id) => Some(
                *store_ids
                    .get(&demo_id)
                    .ok_or(DemoError::UnknownStore(demo_id))?,
            ),
            None => None,
        };
        let hash = tokio::task::spawn_blocking(|| hash_password(DEMO_PASSWORD))
            .await
            .map_err(|_| DemoError::Hashing)??;
        let user = value(file, i + 2, User::new(username, hash, role, store))?;
        tracing::info!(username = %user.username, "creating a demo user");
        registry.chain().create_user(user, None).await?;
    }
    Ok(())
}

/// The name demo stock counts are recorded under.
fn seeder() -> Username {
    Username::parse("demo").expect("\"demo\" is a valid username")
}

async fn seed_store_stock(
    registry: &Registry,
    id: StoreId,
    lines: Vec<StockRow>,
) -> Result<(), DemoError> {
    let file = "stock.csv";
    let store = registry.store(id).await?;
    let mut levels = Vec::with_capacity(lines.len());
    let mut counts = Vec::with_capacity(lines.len());
    for (i, row) in lines.into_iter().enumerate() {
        let sku = value(file, i + 2, Sku::parse(&row.sku))?;
        counts.push(value(
            file,
            i + 2,
            AdjustmentLine::count(sku.clone(), row.on_hand),
        )?);
        levels.push((sku, row.reorder_point, row.target_level));
    }
    tracing::info!(store = %id, lines = levels.len(), "seeding demo stock");
    store.set_levels(levels).await?;
    let mut chunks = counts.into_iter().peekable();
    while chunks.peek().is_some() {
        let chunk: Vec<AdjustmentLine> = chunks.by_ref().take(MAX_LINES).collect();
        let request = AdjustmentRequest::new(
            "Inventaire initial (données de démonstration)".into(),
            chunk,
        )?;
        store.adjust(request, None, seeder()).await?;
    }
    Ok(())
}
