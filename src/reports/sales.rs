//! Sales figures per store, read from the history on disk (hourly figures and products per
//! hour, kept by the journal writer with every committed sale and return): the source of
//! the sales report, the top products and the dashboard.
//!
//! Nothing here is held in memory: a report over a year reads at most 8,760 hourly rows per
//! store, and no instance's memory grows with the chain's history. Every read is blocking:
//! callers run it on a blocking thread.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::domain::{Sku, StoreId, Timestamp, hour_of};
use crate::persistence::{History, JournalError};

pub use crate::domain::{Figures, HOUR_MS, ProductFigures};

/// The hours a `[from, to)` period covers: from rounded down, to rounded up.
pub fn hours(from: Timestamp, to: Timestamp) -> std::ops::Range<i64> {
    hour_of(from)..(to.0 + HOUR_MS - 1).div_euclid(HOUR_MS)
}

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
    history: Arc<History>,
}

impl SalesFacts {
    pub fn new(history: Arc<History>) -> Self {
        Self { history }
    }

    /// The figures of `stores` (this instance's) for `question`. Blocking.
    pub fn part(
        &self,
        stores: &[StoreId],
        question: &SalesQuestion,
    ) -> Result<SalesPart, JournalError> {
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
