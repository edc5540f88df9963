//! Read models fed by committed events: the catalog and store list with their search index,
//! the stock lines of every store, and the users (for token checks).
//!
//! They are written only by [`Projector`] on the journal writer thread, in journal order,
//! after the events are durable. Never write to them from a request: a read model that
//! shows an uncommitted sale lies to the head office.

mod catalog;
mod events;
mod logistics;
mod purchasing;
pub mod replenishment;
pub mod report;
mod sales;
mod stock;
pub mod till;
mod users;
mod webhooks;

use std::sync::Arc;

use crate::domain::DomainEvent;

pub use catalog::{CatalogView, ProductQuery, fold};
pub use events::describe;
pub use events::{Audience, EventHub, LiveEvent};
pub use logistics::{CentralLine, CentralView, RestockView, TransferView};
pub use purchasing::PurchasingView;
pub use sales::{
    Figures, HOUR_MS, HourlyFigures, ProductFigures, ReadError, SalesFacts, SalesPart,
    SalesQuestion, hours,
};
pub use stock::StockView;
pub use users::UsersView;
pub use webhooks::WebhookDirectory;

/// Feeds every read model from committed batches.
pub struct Projector {
    pub catalog: Arc<CatalogView>,
    pub stock: Arc<StockView>,
    pub users: Arc<UsersView>,
    pub webhooks: Arc<WebhookDirectory>,
    pub purchasing: Arc<PurchasingView>,
    pub central: Arc<CentralView>,
    pub restocks: Arc<RestockView>,
    pub transfers: Arc<TransferView>,
    pub events: Arc<EventHub>,
}

impl Projector {
    /// Applies a durable batch, `(event, its stream's sequence)` in journal order.
    pub fn project<'a>(&self, events: impl Iterator<Item = (&'a DomainEvent, u64)> + Clone) {
        let chain: Vec<_> = events
            .clone()
            .filter_map(|(event, _)| match event {
                DomainEvent::Chain(e) => Some(e),
                DomainEvent::Store(..) | DomainEvent::Central(..) => None,
            })
            .collect();
        self.catalog.apply(&chain);
        for event in &chain {
            self.users.apply(event);
            self.webhooks.apply(event);
            self.purchasing.apply(event);
        }
        for (event, seq) in events {
            self.events.publish(event, seq);
            match event {
                DomainEvent::Store(store, event) => {
                    self.stock.apply(*store, event);
                    self.restocks.apply(*store, event);
                    self.transfers.apply(*store, event);
                }
                DomainEvent::Central(sku, event) => self.central.apply(sku, event),
                DomainEvent::Chain(_) => {}
            }
        }
    }
}
