//! Transfers between stores: a store sends stock to another (request, ship, receive), the
//! units in transit between them, and the receiving store's count with the same
//! discrepancies as a restock (received, damaged and written off, missing).
//!
//! A transfer lives in the sending store's state (`Transfers::outgoing`, numbered by that
//! store: `<from>-<n>`); the receiving store keeps what it counted of each transfer
//! (`Transfers::arrivals`). Each side is idempotent by transfer id, so a receipt retried
//! after a crash between the two stores (which may be on different instances) moves
//! nothing twice. Not to break: the receiving side is written before the sending side is
//! told, and the sending side learns what arrived from the receiving side alone.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::restock::{Receipt, ReceiptLine, ReceiptMismatch, check_counted};
use super::store::{LinesError, RequestedLine, Shortage, check_lines};
use super::{RestockId, Sku, Stamp, StoreId, Timestamp, Username};

/// The lines of a new transfer: at least one, each SKU once.
pub fn transfer_lines(lines: Vec<RequestedLine>) -> Result<Vec<RequestedLine>, LinesError> {
    check_lines(lines.iter().map(|l| &l.sku))?;
    Ok(lines)
}

/// `<from>-<n>`: transfer `n` of the sending store (the same shape as a restock id).
pub type TransferId = RestockId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferStatus {
    Requested,
    Shipped,
    Received,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Requested => "requested",
            TransferStatus::Shipped => "shipped",
            TransferStatus::Received => "received",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, super::ValueError> {
        [
            TransferStatus::Requested,
            TransferStatus::Shipped,
            TransferStatus::Received,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
        .ok_or(super::ValueError::TransferStatus)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferLine {
    pub sku: Sku,
    pub quantity: u32,
    pub shipped: u32,
    /// Reached the receiving store, damaged units included: `shipped − received` is what
    /// went missing.
    pub received: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub id: TransferId,
    pub to: StoreId,
    pub status: TransferStatus,
    pub lines: Vec<TransferLine>,
    pub requested_at: Timestamp,
    pub requested_by: Username,
    pub updated_at: Timestamp,
}

impl Transfer {
    /// Applies a step of the sending store (shipped, delivered) to this transfer; the
    /// store's state and the transfers' read model share it.
    pub fn apply(&mut self, event: &TransferEvent) {
        match event {
            TransferEvent::Shipped { lines, at, .. } => {
                self.status = TransferStatus::Shipped;
                self.updated_at = *at;
                for line in &mut self.lines {
                    line.shipped = lines
                        .iter()
                        .find(|s| s.sku == line.sku)
                        .map_or(0, |s| s.quantity);
                }
            }
            TransferEvent::Delivered { arrived, at, .. } => {
                self.status = TransferStatus::Received;
                self.updated_at = *at;
                for line in &mut self.lines {
                    line.received = arrived.get(&line.sku).copied().unwrap_or(0);
                }
            }
            TransferEvent::Requested(_) | TransferEvent::Arrived { .. } => {}
        }
    }

    /// Units on the road: shipped and not yet received.
    pub fn in_transit(&self) -> BTreeMap<Sku, u32> {
        match self.status {
            TransferStatus::Shipped => self
                .lines
                .iter()
                .map(|l| (l.sku.clone(), l.shipped))
                .collect(),
            TransferStatus::Requested | TransferStatus::Received => BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippedLine {
    pub sku: Sku,
    pub quantity: u32,
    pub on_hand_after: u32,
}

/// What happened to a transfer, journaled in the store it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferEvent {
    /// At the sending store.
    Requested(Transfer),
    /// At the sending store: the units leave its on-hand.
    Shipped {
        number: u64,
        lines: Vec<ShippedLine>,
        at: Timestamp,
        by: Username,
    },
    /// At the receiving store: what it counted; only `received` reaches on-hand, `damaged`
    /// is written off, `missing` stays with the transfer.
    Arrived {
        transfer: TransferId,
        lines: Vec<ReceiptLine>,
        at: Timestamp,
        by: Username,
    },
    /// At the sending store: the receiving store's count, per SKU (damaged included).
    Delivered {
        number: u64,
        arrived: BTreeMap<Sku, u32>,
        at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("transfer {0} not found")]
    NotFound(TransferId),
    #[error("transfer {id} is {from:?}; it cannot become {to:?}")]
    InvalidTransition {
        id: TransferId,
        from: TransferStatus,
        to: TransferStatus,
    },
    #[error("a store cannot send stock to itself")]
    SameStore,
    #[error("unknown SKUs: {0:?}")]
    UnknownSkus(Vec<Sku>),
    #[error("insufficient stock on {} lines", .0.len())]
    InsufficientStock(Vec<Shortage>),
    #[error("{} receipt lines do not add up to what was shipped", .0.len())]
    ReceiptMismatch(Vec<ReceiptMismatch>),
}

/// A store's transfers: those it sends, and what it counted of those it received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfers {
    outgoing: BTreeMap<u64, Transfer>,
    arrivals: BTreeMap<TransferId, BTreeMap<Sku, u32>>,
}

impl Transfers {
    pub fn get(&self, number: u64) -> Option<&Transfer> {
        self.outgoing.get(&number)
    }

    pub fn outgoing(&self) -> impl Iterator<Item = &Transfer> {
        self.outgoing.values()
    }

    /// What this store counted of transfer `id` (damaged included), once it received it.
    pub fn arrival(&self, id: TransferId) -> Option<&BTreeMap<Sku, u32>> {
        self.arrivals.get(&id)
    }

    pub fn decide_request(
        &self,
        from: StoreId,
        to: StoreId,
        lines: &[RequestedLine],
        known: impl Fn(&Sku) -> bool,
        stamp: &Stamp,
    ) -> Result<TransferEvent, TransferError> {
        if from == to {
            return Err(TransferError::SameStore);
        }
        let unknown: Vec<Sku> = lines
            .iter()
            .filter(|l| !known(&l.sku))
            .map(|l| l.sku.clone())
            .collect();
        if !unknown.is_empty() {
            return Err(TransferError::UnknownSkus(unknown));
        }
        let number = self.outgoing.keys().next_back().map_or(1, |n| n + 1);
        Ok(TransferEvent::Requested(Transfer {
            id: TransferId {
                store: from,
                number,
            },
            to,
            status: TransferStatus::Requested,
            lines: lines
                .iter()
                .map(|l| TransferLine {
                    sku: l.sku.clone(),
                    quantity: l.quantity.get(),
                    shipped: 0,
                    received: 0,
                })
                .collect(),
            requested_at: stamp.at,
            requested_by: stamp.by.clone(),
            updated_at: stamp.at,
        }))
    }

    fn transfer(&self, id: TransferId) -> Result<&Transfer, TransferError> {
        self.outgoing
            .get(&id.number)
            .ok_or(TransferError::NotFound(id))
    }

    /// All or nothing: every line must be on hand. `None` once shipped (a retry).
    pub fn decide_ship(
        &self,
        id: TransferId,
        on_hand: impl Fn(&Sku) -> u32,
        stamp: &Stamp,
    ) -> Result<Option<TransferEvent>, TransferError> {
        let transfer = self.transfer(id)?;
        match transfer.status {
            TransferStatus::Requested => {}
            TransferStatus::Shipped => return Ok(None),
            TransferStatus::Received => {
                return Err(TransferError::InvalidTransition {
                    id,
                    from: transfer.status,
                    to: TransferStatus::Shipped,
                });
            }
        }
        let short: Vec<Shortage> = transfer
            .lines
            .iter()
            .filter(|l| on_hand(&l.sku) < l.quantity)
            .map(|l| Shortage {
                sku: l.sku.clone(),
                requested: l.quantity,
                available: on_hand(&l.sku),
            })
            .collect();
        if !short.is_empty() {
            return Err(TransferError::InsufficientStock(short));
        }
        Ok(Some(TransferEvent::Shipped {
            number: id.number,
            lines: transfer
                .lines
                .iter()
                .map(|l| ShippedLine {
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                    on_hand_after: on_hand(&l.sku) - l.quantity,
                })
                .collect(),
            at: stamp.at,
            by: stamp.by.clone(),
        }))
    }

    /// The receiving store counts `transfer` (as the sending store has it). `None` when
    /// it already did (a retry).
    pub fn decide_arrival(
        &self,
        transfer: &Transfer,
        receipt: &Receipt,
        on_hand: impl Fn(&Sku) -> u32,
        stamp: &Stamp,
    ) -> Result<Option<TransferEvent>, TransferError> {
        if self.arrivals.contains_key(&transfer.id) {
            return Ok(None);
        }
        if transfer.status == TransferStatus::Requested {
            return Err(TransferError::InvalidTransition {
                id: transfer.id,
                from: transfer.status,
                to: TransferStatus::Received,
            });
        }
        let shipped: Vec<(Sku, u32)> = transfer
            .lines
            .iter()
            .map(|l| (l.sku.clone(), l.shipped))
            .collect();
        let counted = receipt.lines(shipped.iter().cloned());
        check_counted(&shipped, &counted).map_err(TransferError::ReceiptMismatch)?;
        Ok(Some(TransferEvent::Arrived {
            transfer: transfer.id,
            lines: counted
                .into_iter()
                .filter(|c| c.received + c.damaged + c.missing > 0)
                .map(|c| ReceiptLine {
                    on_hand_after: on_hand(&c.sku).saturating_add(c.received),
                    sku: c.sku,
                    received: c.received,
                    damaged: c.damaged,
                    damage_reason: c.damage_reason,
                    missing: c.missing,
                })
                .collect(),
            at: stamp.at,
            by: stamp.by.clone(),
        }))
    }

    /// The sending store learns what arrived. `None` once it knows (a retry).
    pub fn decide_delivered(
        &self,
        id: TransferId,
        arrived: BTreeMap<Sku, u32>,
        at: Timestamp,
    ) -> Result<Option<TransferEvent>, TransferError> {
        let transfer = self.transfer(id)?;
        match transfer.status {
            TransferStatus::Shipped => Ok(Some(TransferEvent::Delivered {
                number: id.number,
                arrived,
                at,
            })),
            TransferStatus::Received => Ok(None),
            TransferStatus::Requested => Err(TransferError::InvalidTransition {
                id,
                from: transfer.status,
                to: TransferStatus::Received,
            }),
        }
    }

    /// Applies an event; answers the on-hand it sets, per SKU (shipping and arrival).
    pub fn apply(&mut self, event: &TransferEvent) -> Vec<(Sku, u32)> {
        match event {
            TransferEvent::Requested(transfer) => {
                self.outgoing.insert(transfer.id.number, transfer.clone());
                Vec::new()
            }
            TransferEvent::Shipped { number, lines, .. } => {
                if let Some(transfer) = self.outgoing.get_mut(number) {
                    transfer.apply(event);
                }
                lines
                    .iter()
                    .map(|l| (l.sku.clone(), l.on_hand_after))
                    .collect()
            }
            TransferEvent::Arrived {
                transfer, lines, ..
            } => {
                self.arrivals.insert(
                    *transfer,
                    lines
                        .iter()
                        .map(|l| (l.sku.clone(), l.received.saturating_add(l.damaged)))
                        .collect(),
                );
                lines
                    .iter()
                    .map(|l| (l.sku.clone(), l.on_hand_after))
                    .collect()
            }
            TransferEvent::Delivered { number, .. } => {
                if let Some(transfer) = self.outgoing.get_mut(number) {
                    transfer.apply(event);
                }
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CountedLine, DamageReason, Quantity};

    fn store(n: u32) -> StoreId {
        StoreId::new(n).expect("valid store")
    }

    fn stamp() -> Stamp {
        Stamp {
            at: Timestamp(0),
            by: Username::parse("gestionnaire1").expect("valid name"),
        }
    }

    #[test]
    fn a_transfer_ships_once_arrives_once_and_tells_the_sender_what_arrived() {
        let sku = Sku::parse("EPI-0001").expect("valid sku");
        let (mut sender, mut receiver) = (Transfers::default(), Transfers::default());
        let lines = [RequestedLine {
            sku: sku.clone(),
            quantity: Quantity::new(5).expect("valid"),
        }];
        assert_eq!(
            sender.decide_request(store(1), store(1), &lines, |_| true, &stamp()),
            Err(TransferError::SameStore)
        );
        let requested = sender
            .decide_request(store(1), store(2), &lines, |_| true, &stamp())
            .expect("valid");
        sender.apply(&requested);
        let id = TransferId {
            store: store(1),
            number: 1,
        };
        assert!(matches!(
            sender.decide_ship(id, |_| 4, &stamp()),
            Err(TransferError::InsufficientStock(_))
        ));
        let shipped = sender
            .decide_ship(id, |_| 8, &stamp())
            .expect("valid")
            .expect("ships");
        assert_eq!(sender.apply(&shipped), [(sku.clone(), 3)]);
        assert_eq!(sender.decide_ship(id, |_| 3, &stamp()), Ok(None));
        let transfer = sender.get(1).expect("held").clone();
        assert_eq!(transfer.in_transit().get(&sku), Some(&5));
        let receipt = Receipt::Counted(vec![CountedLine {
            sku: sku.clone(),
            received: 2,
            damaged: 2,
            damage_reason: Some(DamageReason::Broken),
            missing: 1,
        }]);
        let arrived = receiver
            .decide_arrival(&transfer, &receipt, |_| 10, &stamp())
            .expect("adds up")
            .expect("new");
        assert_eq!(receiver.apply(&arrived), [(sku.clone(), 12)]);
        assert_eq!(
            receiver.decide_arrival(&transfer, &receipt, |_| 12, &stamp()),
            Ok(None)
        );
        let counted = receiver.arrival(id).expect("counted").clone();
        let delivered = sender
            .decide_delivered(id, counted, Timestamp(1))
            .expect("valid")
            .expect("new");
        sender.apply(&delivered);
        let done = sender.get(1).expect("held");
        assert_eq!(
            (done.status, done.lines[0].received),
            (TransferStatus::Received, 4)
        );
        assert!(done.in_transit().is_empty());
    }
}
