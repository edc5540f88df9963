//! Where the layers meet: the adapters that let the lower layers serve the upper ones
//! without either naming the other. The history (persistence) gives the reports their
//! hourly figures; the journal writer (persistence) feeds the read models (reports) with
//! every durable batch. Only the composition root (`lib.rs`) knows both sides.

use std::collections::HashMap;
use std::ops::Range;

use crate::domain::{Figures, MoneyRow, ProductFigures, Sku, StoreId, TillReport, Timestamp};
use crate::persistence::{CommitListener, CommitStats, Committed, History, JournalError};
use crate::reports::{HourlyFigures, Projector, ReadError};

fn read_error(e: JournalError) -> ReadError {
    ReadError(e.to_string())
}

impl HourlyFigures for History {
    fn figures(&self, store: StoreId, hours: Range<i64>) -> Result<Figures, ReadError> {
        History::figures(self, store, hours).map_err(read_error)
    }

    fn hourly(
        &self,
        store: StoreId,
        first_hour: i64,
        count: usize,
    ) -> Result<Vec<Figures>, ReadError> {
        History::hourly(self, store, first_hour, count).map_err(read_error)
    }

    fn products(
        &self,
        stores: &[StoreId],
        hours: Range<i64>,
    ) -> Result<HashMap<Sku, ProductFigures>, ReadError> {
        History::products(self, stores, hours).map_err(read_error)
    }

    fn money(&self, stores: &[StoreId], hours: Range<i64>) -> Result<Vec<MoneyRow>, ReadError> {
        History::money(self, stores, hours).map_err(read_error)
    }

    fn sessions(
        &self,
        stores: &[StoreId],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<TillReport>, ReadError> {
        History::z_reports_closed(self, stores, from, to).map_err(read_error)
    }
}

impl CommitListener for Projector {
    fn committed(&self, events: &[Committed], _stats: &CommitStats) {
        self.project(events.iter().map(|c| (&c.event, c.seq)));
    }
}
