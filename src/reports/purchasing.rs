//! Read copy of the suppliers and the logistics center's purchase orders (ADR 0032), on
//! every instance: the chain's events reach followers through the change feed.

use std::sync::RwLock;

use crate::domain::{ChainEvent, ChainState, Purchasing};

#[derive(Default)]
pub struct PurchasingView {
    state: RwLock<Purchasing>,
}

impl PurchasingView {
    pub fn load(&self, state: &ChainState) {
        if let Ok(mut held) = self.state.write() {
            *held = state.purchasing().clone();
        }
    }

    pub fn apply(&self, event: &ChainEvent) {
        if let (ChainEvent::Purchasing(event), Ok(mut held)) = (event, self.state.write()) {
            held.apply(event);
        }
    }

    /// Reads the suppliers and orders as committed so far.
    pub fn read<T>(&self, read: impl FnOnce(&Purchasing) -> T) -> T {
        match self.state.read() {
            Ok(held) => read(&held),
            Err(poisoned) => read(&poisoned.into_inner()),
        }
    }
}
