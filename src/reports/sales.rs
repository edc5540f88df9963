//! Sales figures per store, read from the history on disk (hourly figures and products per
//! hour, kept by the journal writer with every committed sale and return): the source of
//! the sales report, the top products and the dashboard.
//!
//! Nothing here is held in memory: a report over a year reads at most 8,760 hourly rows per
//! store, and no instance's memory grows with the chain's history. Every read is blocking:
//! callers run it on a blocking thread.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use crate::domain::{MoneyRow, Sku, StoreId, TillReport, Timestamp};

pub use crate::domain::{Figures, HOUR_MS, ProductFigures, hours};

/// Where the hourly figures are kept (the history on disk, filled by the journal writer).
/// Reports read through this and know nothing of how it is stored. Every method blocks.
pub trait HourlyFigures: Send + Sync {
    /// A store's figures summed over `hours` (hours since the epoch, UTC).
    fn figures(&self, store: StoreId, hours: Range<i64>) -> Result<Figures, ReadError>;
    /// A store's figures of `count` consecutive hours from `first_hour`, one per hour.
    fn hourly(
        &self,
        store: StoreId,
        first_hour: i64,
        count: usize,
    ) -> Result<Vec<Figures>, ReadError>;
    /// The figures of every product sold by `stores` over `hours`.
    fn products(
        &self,
        stores: &[StoreId],
        hours: Range<i64>,
    ) -> Result<HashMap<Sku, ProductFigures>, ReadError>;
    /// Money per store, hour and account of `stores` over `hours`.
    fn money(&self, stores: &[StoreId], hours: Range<i64>) -> Result<Vec<MoneyRow>, ReadError>;
    /// The Z reports of `stores` closed in `[from, to)`.
    fn sessions(
        &self,
        stores: &[StoreId],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<TillReport>, ReadError>;
}

/// The figures could not be read (the store of the history is unavailable).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReadError(pub String);

/// What a sales report asks of the stores one instance owns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SalesQuestion {
    pub from: Timestamp,
    pub to: Timestamp,
    /// Also by product (top products).
    pub products: bool,
    /// Also the 24 hours from this one (the dashboard's curve).
    pub first_hour: Option<i64>,
}

/// One instance's answer: each store's figures, its products, its 24-hour curve.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SalesPart {
    pub stores: Vec<(StoreId, Figures)>,
    pub products: Vec<(Sku, ProductFigures)>,
    pub hourly: Vec<Figures>,
}

pub struct SalesFacts {
    history: Arc<dyn HourlyFigures>,
}

impl SalesFacts {
    pub fn new(history: Arc<dyn HourlyFigures>) -> Self {
        Self { history }
    }

    /// What the tills of `stores` (this instance's) took in over `[from, to)`. Blocking.
    pub fn till_part(
        &self,
        stores: &[StoreId],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<super::till::TillPart, ReadError> {
        Ok(super::till::TillPart {
            money: self.history.money(stores, hours(from, to))?,
            sessions: self.history.sessions(stores, from, to)?,
        })
    }

    /// Units of each product `store` sold on each of `days` (ranges of hours), one entry
    /// per day, the days without a sale as 0. Blocking: one read per day.
    pub fn daily_units(
        &self,
        store: StoreId,
        days: &[Range<i64>],
    ) -> Result<HashMap<Sku, Vec<u64>>, ReadError> {
        let mut units: HashMap<Sku, Vec<u64>> = HashMap::new();
        for (day, hours) in days.iter().enumerate() {
            for (sku, figures) in self.history.products(&[store], hours.clone())? {
                units.entry(sku).or_insert_with(|| vec![0; days.len()])[day] = figures.units;
            }
        }
        Ok(units)
    }

    /// The figures of `stores` (this instance's) for `question`. Blocking.
    pub fn part(
        &self,
        stores: &[StoreId],
        question: &SalesQuestion,
    ) -> Result<SalesPart, ReadError> {
        let hours = hours(question.from, question.to);
        let mut part = SalesPart::default();
        for store in stores {
            part.stores
                .push((*store, self.history.figures(*store, hours.clone())?));
        }
        if question.products {
            part.products = self.history.products(stores, hours)?.into_iter().collect();
        }
        if let Some(first) = question.first_hour {
            part.hourly = vec![Figures::default(); 24];
            for store in stores {
                let series = self.history.hourly(*store, first, 24)?;
                for (slot, figures) in part.hourly.iter_mut().zip(series) {
                    *slot += figures;
                }
            }
        }
        Ok(part)
    }
}
