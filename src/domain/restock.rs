//! Restocking (réapprovisionnement): a store's requests to the logistics center, and the
//! logistics center's stock of each product.
//!
//! A request lives in its store's state; each product's central quantity lives in that
//! product's state. A step that touches both (allocation, shipping, receipt) is decided on
//! each side separately and every side is idempotent by request id, so a step retried after
//! a crash between the two never moves stock twice.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{Sku, Stamp, StoreId, Timestamp, Username, ValueError};

/// `3-12`: request 12 of store 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RestockId {
    pub store: StoreId,
    pub number: u64,
}

impl RestockId {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let (store, number) = raw.split_once('-').ok_or(ValueError::RestockId)?;
        let store = store.parse::<u32>().map_err(|_| ValueError::RestockId)?;
        let number = number.parse::<u64>().map_err(|_| ValueError::RestockId)?;
        if number == 0 {
            return Err(ValueError::RestockId);
        }
        Ok(Self {
            store: StoreId::new(store).map_err(|_| ValueError::RestockId)?,
            number,
        })
    }
}

impl fmt::Display for RestockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.store, self.number)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RestockStatus {
    Requested,
    Allocated,
    Shipped,
    Received,
    Rejected,
    Cancelled,
}

impl RestockStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RestockStatus::Requested => "requested",
            RestockStatus::Allocated => "allocated",
            RestockStatus::Shipped => "shipped",
            RestockStatus::Received => "received",
            RestockStatus::Rejected => "rejected",
            RestockStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        [
            RestockStatus::Requested,
            RestockStatus::Allocated,
            RestockStatus::Shipped,
            RestockStatus::Received,
            RestockStatus::Rejected,
            RestockStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
        .ok_or(ValueError::RestockStatus)
    }

    /// Still expected to arrive (counts against a new automatic proposal).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RestockStatus::Requested | RestockStatus::Allocated | RestockStatus::Shipped
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestockLine {
    pub sku: Sku,
    pub requested: u32,
    pub allocated: u32,
    pub shipped: u32,
    pub received: u32,
}

impl RestockLine {
    /// Units on the road: shipped by the logistics center, not yet received by the store.
    pub fn in_transit(&self) -> u32 {
        self.shipped - self.received
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestockRequest {
    pub id: RestockId,
    pub status: RestockStatus,
    pub lines: Vec<RestockLine>,
    /// Proposed automatically from the lines under their reorder point.
    pub automatic: bool,
    pub requested_at: Timestamp,
    pub requested_by: Username,
    pub updated_at: Timestamp,
    pub rejection_reason: Option<String>,
}

impl RestockRequest {
    /// Applies a step to the request (the store state and the restock read model share it).
    pub fn apply(&mut self, step: &RestockStepDone) {
        self.updated_at = step.at;
        match &step.step {
            StepKind::Allocated(quantities) => {
                self.status = RestockStatus::Allocated;
                for line in &mut self.lines {
                    line.allocated = quantities.get(&line.sku).copied().unwrap_or(0);
                }
            }
            StepKind::Shipped(quantities) => {
                self.status = RestockStatus::Shipped;
                for line in &mut self.lines {
                    line.shipped = quantities.get(&line.sku).copied().unwrap_or(0);
                }
            }
            StepKind::Received(received) => {
                self.status = RestockStatus::Received;
                for line in &mut self.lines {
                    line.received = received
                        .iter()
                        .find(|r| r.sku == line.sku)
                        .map_or(0, |r| r.quantity);
                }
            }
            StepKind::Rejected(reason) => {
                self.status = RestockStatus::Rejected;
                self.rejection_reason = Some(reason.clone());
            }
            StepKind::Cancelled => self.status = RestockStatus::Cancelled,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedLine {
    pub sku: Sku,
    pub quantity: u32,
    pub on_hand_after: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    Allocated(BTreeMap<Sku, u32>),
    Shipped(BTreeMap<Sku, u32>),
    Received(Vec<ReceivedLine>),
    Rejected(String),
    Cancelled,
}

/// A step of a request, as journaled in the store's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestockStepDone {
    pub number: u64,
    pub step: StepKind,
    pub at: Timestamp,
    pub by: Username,
}

/// What a step asks for, before the store decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestockStep {
    Allocate(BTreeMap<Sku, u32>),
    Ship(BTreeMap<Sku, u32>),
    Receive,
    Reject(String),
    Cancel,
}

impl RestockStep {
    fn target(&self) -> RestockStatus {
        match self {
            RestockStep::Allocate(_) => RestockStatus::Allocated,
            RestockStep::Ship(_) => RestockStatus::Shipped,
            RestockStep::Receive => RestockStatus::Received,
            RestockStep::Reject(_) => RestockStatus::Rejected,
            RestockStep::Cancel => RestockStatus::Cancelled,
        }
    }

    fn allowed_from(&self) -> &'static [RestockStatus] {
        match self {
            RestockStep::Allocate(_) => &[RestockStatus::Requested],
            RestockStep::Ship(_) => &[RestockStatus::Allocated],
            RestockStep::Receive => &[RestockStatus::Shipped],
            RestockStep::Reject(_) | RestockStep::Cancel => {
                &[RestockStatus::Requested, RestockStatus::Allocated]
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestockError {
    #[error("restock request {0} not found")]
    NotFound(RestockId),
    #[error("restock request {id} is {from:?}; it cannot become {to:?}")]
    InvalidTransition {
        id: RestockId,
        from: RestockStatus,
        to: RestockStatus,
    },
    #[error("nothing is under its reorder point")]
    NothingToRestock,
    #[error("unknown SKUs: {0:?}")]
    UnknownSkus(Vec<Sku>),
}

/// Whether a step changes the request or was already done (a retry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepDecision {
    Apply(RestockStepDone),
    AlreadyDone,
}

/// Checks a step against the request's state. The same step asked again once done is
/// `AlreadyDone` (a retry); any other move from the current state is an invalid transition.
pub fn decide_step(
    request: &RestockRequest,
    step: &RestockStep,
    stamp: &Stamp,
) -> Result<StepDecision, RestockError> {
    if request.status == step.target() {
        return Ok(StepDecision::AlreadyDone);
    }
    if !step.allowed_from().contains(&request.status) {
        return Err(RestockError::InvalidTransition {
            id: request.id,
            from: request.status,
            to: step.target(),
        });
    }
    let kind = match step {
        RestockStep::Allocate(q) => StepKind::Allocated(q.clone()),
        RestockStep::Ship(q) => StepKind::Shipped(q.clone()),
        RestockStep::Receive => StepKind::Received(Vec::new()),
        RestockStep::Reject(reason) => StepKind::Rejected(reason.clone()),
        RestockStep::Cancel => StepKind::Cancelled,
    };
    Ok(StepDecision::Apply(RestockStepDone {
        number: request.id.number,
        step: kind,
        at: stamp.at,
        by: stamp.by.clone(),
    }))
}

/// Events of one product's central stock at the logistics center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CentralEvent {
    /// Goods from a supplier.
    GoodsReceived {
        receipt: String,
        quantity: u32,
        on_hand_after: u32,
        at: Timestamp,
        by: Username,
    },
    /// Set aside for a request (possibly less than requested, possibly zero).
    Allocated {
        request: RestockId,
        requested: u32,
        quantity: u32,
        on_hand_after: u32,
        at: Timestamp,
    },
    /// An allocation given back (request rejected or cancelled before shipping).
    Released {
        request: RestockId,
        quantity: u32,
        on_hand_after: u32,
        at: Timestamp,
    },
    /// Left the warehouse for the store.
    Shipped {
        request: RestockId,
        quantity: u32,
        at: Timestamp,
    },
    /// The store confirmed receipt.
    Delivered {
        request: RestockId,
        quantity: u32,
        at: Timestamp,
    },
}

/// One product's stock at the logistics center.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentralStock {
    on_hand: u32,
    allocated: BTreeMap<RestockId, u32>,
    shipped: BTreeMap<RestockId, u32>,
    delivered: BTreeSet<RestockId>,
    receipts: BTreeSet<String>,
}

/// The highest central quantity a receipt may reach.
pub const MAX_CENTRAL: u32 = 100_000_000;

impl CentralStock {
    /// Available to allocate.
    pub fn on_hand(&self) -> u32 {
        self.on_hand
    }

    /// Set aside for requests, not yet shipped.
    pub fn allocated(&self) -> u32 {
        self.allocated.values().sum()
    }

    pub fn allocation_of(&self, request: RestockId) -> Option<u32> {
        self.allocated.get(&request).copied()
    }

    pub fn shipment_of(&self, request: RestockId) -> Option<u32> {
        self.shipped.get(&request).copied()
    }

    /// `None` when this receipt was already recorded (a retry).
    pub fn decide_receipt(
        &self,
        receipt: &str,
        quantity: u32,
        stamp: &Stamp,
    ) -> Result<Option<CentralEvent>, ValueError> {
        if self.receipts.contains(receipt) {
            return Ok(None);
        }
        let on_hand_after = self
            .on_hand
            .checked_add(quantity)
            .filter(|q| *q <= MAX_CENTRAL)
            .ok_or(ValueError::Quantity)?;
        Ok(Some(CentralEvent::GoodsReceived {
            receipt: receipt.to_owned(),
            quantity,
            on_hand_after,
            at: stamp.at,
            by: stamp.by.clone(),
        }))
    }

    /// Takes what is available, up to `requested`. `None` when this request already has
    /// its allocation (or was already shipped): a retry allocates nothing more.
    pub fn decide_allocate(
        &self,
        request: RestockId,
        requested: u32,
        at: Timestamp,
    ) -> Option<CentralEvent> {
        if self.allocated.contains_key(&request) || self.shipped.contains_key(&request) {
            return None;
        }
        let quantity = requested.min(self.on_hand);
        Some(CentralEvent::Allocated {
            request,
            requested,
            quantity,
            on_hand_after: self.on_hand - quantity,
            at,
        })
    }

    pub fn decide_release(&self, request: RestockId, at: Timestamp) -> Option<CentralEvent> {
        let quantity = *self.allocated.get(&request)?;
        Some(CentralEvent::Released {
            request,
            quantity,
            on_hand_after: self.on_hand.saturating_add(quantity),
            at,
        })
    }

    pub fn decide_ship(&self, request: RestockId, at: Timestamp) -> Option<CentralEvent> {
        let quantity = *self.allocated.get(&request)?;
        Some(CentralEvent::Shipped {
            request,
            quantity,
            at,
        })
    }

    pub fn decide_deliver(&self, request: RestockId, at: Timestamp) -> Option<CentralEvent> {
        if self.delivered.contains(&request) {
            return None;
        }
        let quantity = *self.shipped.get(&request)?;
        Some(CentralEvent::Delivered {
            request,
            quantity,
            at,
        })
    }

    pub fn apply(&mut self, event: &CentralEvent) {
        match event {
            CentralEvent::GoodsReceived {
                receipt,
                on_hand_after,
                ..
            } => {
                self.receipts.insert(receipt.clone());
                self.on_hand = *on_hand_after;
            }
            CentralEvent::Allocated {
                request,
                quantity,
                on_hand_after,
                ..
            } => {
                self.allocated.insert(*request, *quantity);
                self.on_hand = *on_hand_after;
            }
            CentralEvent::Released {
                request,
                on_hand_after,
                ..
            } => {
                self.allocated.remove(request);
                self.on_hand = *on_hand_after;
            }
            CentralEvent::Shipped {
                request, quantity, ..
            } => {
                self.allocated.remove(request);
                self.shipped.insert(*request, *quantity);
            }
            CentralEvent::Delivered { request, .. } => {
                self.delivered.insert(*request);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> RestockId {
        RestockId {
            store: StoreId::new(1).expect("valid store"),
            number: n,
        }
    }

    fn stamp() -> Stamp {
        Stamp {
            at: Timestamp(0),
            by: Username::parse("logistique").expect("valid name"),
        }
    }

    #[test]
    fn restock_ids_read_and_print_as_store_dash_number() {
        let parsed = RestockId::parse("3-12").expect("valid id");
        assert_eq!(parsed.to_string(), "3-12");
        for bad in ["3", "0-1", "3-0", "a-1", "3-x", "-1"] {
            assert!(RestockId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allocation_is_partial_and_never_repeated() {
        let mut central = CentralStock::default();
        let received = central
            .decide_receipt("r1", 5, &stamp())
            .expect("valid")
            .expect("new");
        central.apply(&received);
        assert_eq!(
            central.decide_receipt("r1", 5, &stamp()),
            Ok(None),
            "a retried receipt"
        );
        let first = central
            .decide_allocate(id(1), 3, Timestamp(1))
            .expect("allocates");
        central.apply(&first);
        let second = central
            .decide_allocate(id(2), 4, Timestamp(2))
            .expect("allocates");
        central.apply(&second);
        assert_eq!(
            central.allocation_of(id(2)),
            Some(2),
            "partial: only 2 left"
        );
        assert_eq!(central.on_hand(), 0);
        assert_eq!(
            central.decide_allocate(id(1), 3, Timestamp(3)),
            None,
            "a retry takes nothing more"
        );
        let release = central
            .decide_release(id(2), Timestamp(4))
            .expect("releases");
        central.apply(&release);
        assert_eq!((central.on_hand(), central.allocated()), (2, 3));
        let ship = central.decide_ship(id(1), Timestamp(5)).expect("ships");
        central.apply(&ship);
        assert_eq!(
            (central.allocated(), central.shipment_of(id(1))),
            (0, Some(3))
        );
        assert_eq!(central.decide_ship(id(1), Timestamp(6)), None);
    }

    #[test]
    fn steps_follow_the_state_machine_and_retries_are_recognised() {
        let mut request = RestockRequest {
            id: id(1),
            status: RestockStatus::Requested,
            lines: Vec::new(),
            automatic: false,
            requested_at: Timestamp(0),
            requested_by: stamp().by,
            updated_at: Timestamp(0),
            rejection_reason: None,
        };
        let ship = RestockStep::Ship(BTreeMap::new());
        assert!(matches!(
            decide_step(&request, &ship, &stamp()),
            Err(RestockError::InvalidTransition { .. })
        ));
        let allocate = RestockStep::Allocate(BTreeMap::new());
        let StepDecision::Apply(done) = decide_step(&request, &allocate, &stamp()).expect("legal")
        else {
            panic!("a first allocation applies");
        };
        request.apply(&done);
        assert_eq!(
            decide_step(&request, &allocate, &stamp()),
            Ok(StepDecision::AlreadyDone)
        );
        assert!(decide_step(&request, &RestockStep::Receive, &stamp()).is_err());
        assert!(matches!(
            decide_step(&request, &RestockStep::Cancel, &stamp()),
            Ok(StepDecision::Apply(_))
        ));
    }
}
