//! Read copy of every store's stock lines, fed by committed events, so that stock searches
//! and chain-wide availability never queue behind sales in a store's mailbox.

use dashmap::DashMap;

use crate::domain::{
    AdjustmentKind, SaleRecorded, SaleReturned, Sku, StepKind, StockAdjusted, StockLevelsSet,
    StockLine, StoreEvent, StoreId, StoreState, TransferEvent,
};

#[derive(Default)]
pub struct StockView {
    lines: DashMap<(StoreId, Sku), StockLine>,
}

impl StockView {
    /// Loads a store's lines as recovered, before its actor takes writes.
    pub fn load(&self, store: StoreId, state: &StoreState) {
        for (sku, line) in state.stock_lines() {
            self.lines.insert((store, sku.clone()), *line);
        }
    }

    /// The line of `sku` in `store`: zero when never stocked there.
    pub fn line(&self, store: StoreId, sku: &Sku) -> StockLine {
        self.lines
            .get(&(store, sku.clone()))
            .map(|l| *l)
            .unwrap_or_default()
    }

    /// Events carry the on-hand after each movement, so applying is setting, in commit order.
    pub fn apply(&self, store: StoreId, event: &StoreEvent) {
        let set_on_hand = |sku: &Sku, on_hand: u32| {
            self.lines.entry((store, sku.clone())).or_default().on_hand = on_hand;
        };
        match event {
            StoreEvent::SaleRecorded(SaleRecorded { sale, .. }) => {
                for l in &sale.lines {
                    set_on_hand(&l.sku, l.on_hand_after);
                    if l.unstocked > 0 {
                        self.lines
                            .entry((store, l.sku.clone()))
                            .or_default()
                            .to_count = true;
                    }
                }
            }
            StoreEvent::SaleReturned(SaleReturned { ret, .. }) => {
                ret.lines
                    .iter()
                    .for_each(|l| set_on_hand(&l.sku, l.on_hand_after));
            }
            StoreEvent::StockAdjusted(StockAdjusted { adjustment, .. }) => {
                for l in &adjustment.lines {
                    set_on_hand(&l.sku, l.on_hand_after);
                    if matches!(l.kind, AdjustmentKind::Count(_)) {
                        self.lines
                            .entry((store, l.sku.clone()))
                            .or_default()
                            .to_count = false;
                    }
                }
            }
            StoreEvent::RestockStep(done) => match &done.step {
                StepKind::Received(lines) => lines
                    .iter()
                    .for_each(|l| set_on_hand(&l.sku, l.on_hand_after)),
                StepKind::ReceivedCounted(lines) => lines
                    .iter()
                    .for_each(|l| set_on_hand(&l.sku, l.on_hand_after)),
                StepKind::Allocated(_)
                | StepKind::Shipped(_)
                | StepKind::Rejected(_)
                | StepKind::Cancelled => {}
            },
            StoreEvent::RestockRequested(_)
            | StoreEvent::SalesLetGo { .. }
            | StoreEvent::SessionOpened(_)
            | StoreEvent::SessionClosed(_) => {}
            StoreEvent::Transfer(TransferEvent::Shipped { lines, .. }) => lines
                .iter()
                .for_each(|l| set_on_hand(&l.sku, l.on_hand_after)),
            StoreEvent::Transfer(TransferEvent::Arrived { lines, .. }) => lines
                .iter()
                .for_each(|l| set_on_hand(&l.sku, l.on_hand_after)),
            StoreEvent::Transfer(TransferEvent::Requested(_) | TransferEvent::Delivered { .. }) => {
            }
            StoreEvent::StockLevelsSet(StockLevelsSet {
                sku,
                reorder_point,
                target_level,
            }) => {
                let mut line = self.lines.entry((store, sku.clone())).or_default();
                line.reorder_point = *reorder_point;
                line.target_level = *target_level;
            }
        }
    }
}
