//! Read copies of the logistics side: every product's central stock, and every restock
//! request of every store (for the logistics queue and in-transit figures).

use dashmap::DashMap;
use std::collections::HashMap;

use crate::domain::{
    CentralEvent, CentralStock, MissingOutcome, RestockId, RestockRequest, RestockStatus, Sku,
    StoreEvent, StoreId, Transfer, TransferEvent, TransferId, TransferStatus,
};

/// A product's central quantities as the API shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CentralLine {
    pub on_hand: u32,
    pub allocated: u32,
    /// Missing at stores' receipts, waiting for the center to settle them.
    #[serde(default)]
    pub missing: u32,
    /// Lost in transit, in all.
    #[serde(default)]
    pub lost: u32,
    /// Weighted average cost of one unit, scaled by `COST_SCALE`.
    #[serde(default)]
    pub average: i64,
    /// Damaged on arrival from suppliers, in all.
    #[serde(default)]
    pub written_off: u32,
}

#[derive(Default)]
pub struct CentralView {
    lines: DashMap<Sku, CentralLine>,
}

impl CentralView {
    pub fn load(&self, sku: &Sku, state: &CentralStock) {
        self.lines.insert(
            sku.clone(),
            CentralLine {
                on_hand: state.on_hand(),
                allocated: state.allocated(),
                missing: state.missing(),
                lost: state.lost(),
                average: state.average(),
                written_off: state.written_off(),
            },
        );
    }

    pub fn apply(&self, sku: &Sku, event: &CentralEvent) {
        let mut line = self.lines.entry(sku.clone()).or_default();
        match event {
            CentralEvent::GoodsReceived { on_hand_after, .. }
            | CentralEvent::Released { on_hand_after, .. } => {
                if let CentralEvent::Released { quantity, .. } = event {
                    line.allocated = line.allocated.saturating_sub(*quantity);
                }
                line.on_hand = *on_hand_after;
            }
            CentralEvent::Allocated {
                quantity,
                on_hand_after,
                ..
            } => {
                line.allocated += quantity;
                line.on_hand = *on_hand_after;
            }
            CentralEvent::Shipped { quantity, .. } => {
                line.allocated = line.allocated.saturating_sub(*quantity)
            }
            CentralEvent::PurchaseReceived {
                damaged,
                on_hand_after,
                average_after,
                ..
            } => {
                line.on_hand = *on_hand_after;
                line.average = *average_after;
                line.written_off = line.written_off.saturating_add(*damaged);
            }
            CentralEvent::Delivered { .. } => {}
            CentralEvent::DeliveredShort { missing, .. } => line.missing += missing,
            CentralEvent::MissingResolved {
                quantity,
                outcome,
                on_hand_after,
                ..
            } => {
                line.missing = line.missing.saturating_sub(*quantity);
                if *outcome == MissingOutcome::Lost {
                    line.lost = line.lost.saturating_add(*quantity);
                }
                line.on_hand = *on_hand_after;
            }
        }
    }

    pub fn line(&self, sku: &Sku) -> CentralLine {
        self.lines.get(sku).map(|l| *l).unwrap_or_default()
    }

    /// Every product with central stock held here.
    pub fn lines(&self) -> Vec<(Sku, CentralLine)> {
        self.lines
            .iter()
            .map(|e| (e.key().clone(), *e.value()))
            .collect()
    }
}

#[derive(Default)]
pub struct RestockView {
    requests: DashMap<RestockId, RestockRequest>,
}

impl RestockView {
    pub fn load(&self, requests: impl Iterator<Item = RestockRequest>) {
        for request in requests {
            self.requests.insert(request.id, request);
        }
    }

    pub fn apply(&self, store: StoreId, event: &StoreEvent) {
        match event {
            StoreEvent::RestockRequested(requested) => {
                self.requests
                    .insert(requested.request.id, requested.request.clone());
            }
            StoreEvent::RestockStep(done) => {
                let id = RestockId {
                    store,
                    number: done.number,
                };
                if let Some(mut request) = self.requests.get_mut(&id) {
                    request.apply(done);
                }
            }
            StoreEvent::SaleRecorded(_)
            | StoreEvent::SaleReturned(_)
            | StoreEvent::StockAdjusted(_)
            | StoreEvent::StockLevelsSet(_)
            | StoreEvent::SalesLetGo { .. }
            | StoreEvent::SessionOpened(_)
            | StoreEvent::SessionClosed(_)
            | StoreEvent::Transfer(_) => {}
        }
    }

    pub fn get(&self, id: RestockId) -> Option<RestockRequest> {
        self.requests.get(&id).map(|r| r.clone())
    }

    /// Requests of one store (or all), of one status (or any), oldest first.
    pub fn list(
        &self,
        store: Option<StoreId>,
        status: Option<RestockStatus>,
    ) -> Vec<RestockRequest> {
        let mut found: Vec<RestockRequest> = self
            .requests
            .iter()
            .filter(|r| store.is_none_or(|s| r.id.store == s))
            .filter(|r| status.is_none_or(|s| r.status == s))
            .map(|r| r.clone())
            .collect();
        found.sort_by_key(|r| (r.requested_at, r.id));
        found
    }

    /// Units shipped to `store` (every store when `None`) and not yet received, by SKU:
    /// one pass over the requests, however many products a caller then looks up.
    pub fn in_transit(&self, store: Option<StoreId>) -> HashMap<Sku, u32> {
        let mut units: HashMap<Sku, u32> = HashMap::new();
        for request in self
            .requests
            .iter()
            .filter(|r| r.status == RestockStatus::Shipped && store.is_none_or(|s| r.id.store == s))
        {
            for line in &request.lines {
                *units.entry(line.sku.clone()).or_default() += line.in_transit();
            }
        }
        units
    }
}

/// Every transfer sent by the stores this instance holds (the sending store's copy, with
/// what the receiving store counted once it is delivered).
#[derive(Default)]
pub struct TransferView {
    transfers: DashMap<TransferId, Transfer>,
}

impl TransferView {
    pub fn load(&self, transfers: impl Iterator<Item = Transfer>) {
        for transfer in transfers {
            self.transfers.insert(transfer.id, transfer);
        }
    }

    pub fn apply(&self, store: StoreId, event: &StoreEvent) {
        let StoreEvent::Transfer(event) = event else {
            return;
        };
        match event {
            TransferEvent::Requested(transfer) => {
                self.transfers.insert(transfer.id, transfer.clone());
            }
            TransferEvent::Shipped { number, .. } | TransferEvent::Delivered { number, .. } => {
                let id = TransferId {
                    store,
                    number: *number,
                };
                if let Some(mut transfer) = self.transfers.get_mut(&id) {
                    transfer.apply(event);
                }
            }
            TransferEvent::Arrived { .. } => {}
        }
    }

    /// The transfers `store` sends or receives, of one status (or any), newest first.
    pub fn of_store(&self, store: StoreId, status: Option<TransferStatus>) -> Vec<Transfer> {
        let mut found: Vec<Transfer> = self
            .transfers
            .iter()
            .filter(|t| t.id.store == store || t.to == store)
            .filter(|t| status.is_none_or(|s| t.status == s))
            .map(|t| t.clone())
            .collect();
        found.sort_by_key(|t| std::cmp::Reverse((t.requested_at, t.id)));
        found
    }
}
