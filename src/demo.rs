//! Demo data: 5 stores and 240 products with stock levels, from the CSV files under
//! `config/demo/` (built into the binary). Seeding is idempotent step by step, so a start
//! killed half-way through seeding completes it on the next start.

use serde::Deserialize;
use std::collections::HashMap;

use crate::actors::{ChainActorError, Registry, RegistryError, StoreError};
use crate::domain::{
    AdjustmentLine, AdjustmentRequest, Cents, Ean13, LinesError, MAX_LINES, NewStore, Product, Sku,
    ValueError, parse_label,
};
use crate::reports::CatalogView;

const CATALOG: &str = include_str!("../config/demo/catalog.csv");
const STORES: &str = include_str!("../config/demo/stores.csv");
const STOCK: &str = include_str!("../config/demo/stock.csv");

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
}

#[derive(Deserialize)]
struct CatalogRow {
    sku: String,
    ean13: String,
    name: String,
    category: String,
    price_cents: i64,
}

#[derive(Deserialize)]
struct StoreRow {
    store_id: u32,
    code: String,
    name: String,
    city: String,
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
            })
        })
        .collect()
}

/// Seeds what is missing of the demo chain.
pub async fn seed(registry: &Registry, catalog: &CatalogView) -> Result<(), DemoError> {
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
                let new = NewStore::parse(&row.code, &row.name, &row.city).map_err(|errors| {
                    DemoError::Value {
                        file: "stores.csv",
                        row: i + 2,
                        error: errors.first().map_or(ValueError::StoreCode, |(_, e)| *e),
                    }
                })?;
                tracing::info!(code = %row.code, "opening a demo store");
                registry.open_store(new).await?
            }
        };
        ids_by_demo_id.insert(row.store_id, store.id);
    }

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
        if !registry.ledger(id, 0, 1).await?.is_empty() {
            continue;
        }
        let lines = by_store.remove(&demo_id).unwrap_or_default();
        seed_store_stock(registry, id, lines).await?;
    }
    Ok(())
}

async fn seed_store_stock(
    registry: &Registry,
    id: crate::domain::StoreId,
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
        store.adjust(request, None).await?;
    }
    Ok(())
}
