//! Read models fed by committed events: the catalog and store list with their search index,
//! and the stock lines of every store.
//!
//! They are written only by [`Projector`] on the journal writer thread, in journal order,
//! after the events are durable. Never write to them from a request: a read model that
//! shows an uncommitted sale lies to the head office.

mod catalog;
mod stock;

use std::sync::Arc;

use crate::domain::DomainEvent;
use crate::persistence::{CommitListener, Committed};

pub use catalog::{CatalogView, ProductQuery, fold};
pub use stock::StockView;

/// Feeds every read model from committed batches.
pub struct Projector {
    pub catalog: Arc<CatalogView>,
    pub stock: Arc<StockView>,
}

impl CommitListener for Projector {
    fn committed(&self, events: &[Committed]) {
        let chain: Vec<_> = events
            .iter()
            .filter_map(|c| match &c.event {
                DomainEvent::Chain(e) => Some(e),
                DomainEvent::Store(..) => None,
            })
            .collect();
        self.catalog.apply(&chain);
        for committed in events {
            if let DomainEvent::Store(store, event) = &committed.event {
                self.stock.apply(*store, event);
            }
        }
    }
}
