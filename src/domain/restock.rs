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

use super::{Cents, Sku, Stamp, StoreId, Timestamp, Username, ValueError};

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
            StepKind::ReceivedCounted(counted) => {
                self.status = RestockStatus::Received;
                // What reached the store, damaged units included: shipped − received is
                // what went missing on the road, and what the center settles.
                for line in &mut self.lines {
                    line.received = counted
                        .iter()
                        .find(|r| r.sku == line.sku)
                        .map_or(0, |r| r.received.saturating_add(r.damaged));
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

/// Why units arrived unsellable: a closed set, so write-offs can be added up by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DamageReason {
    Broken,
    Expired,
    Wet,
    Other,
}

impl DamageReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DamageReason::Broken => "broken",
            DamageReason::Expired => "expired",
            DamageReason::Wet => "wet",
            DamageReason::Other => "other",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        [
            DamageReason::Broken,
            DamageReason::Expired,
            DamageReason::Wet,
            DamageReason::Other,
        ]
        .into_iter()
        .find(|r| r.as_str() == raw)
        .ok_or(ValueError::DamageReason)
    }
}

/// One line of a receipt as the store counted it; `received + damaged + missing` must be
/// what was shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedLine {
    pub sku: Sku,
    pub received: u32,
    pub damaged: u32,
    pub damage_reason: Option<DamageReason>,
    pub missing: u32,
}

/// What the store says arrived: everything shipped, or counted line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    Full,
    Counted(Vec<CountedLine>),
}

/// A line of a receipt with discrepancies, as journaled: only `received` reaches on-hand;
/// `damaged` is written off at the store; `missing` is left for the center to settle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    pub sku: Sku,
    pub received: u32,
    pub damaged: u32,
    pub damage_reason: Option<DamageReason>,
    pub missing: u32,
    pub on_hand_after: u32,
}

/// A counted line that does not add up to what was shipped; `index` is its place in the
/// body (`None`: a shipped line the body leaves out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptMismatch {
    pub index: Option<usize>,
    pub sku: Sku,
    pub shipped: u32,
    pub counted: u32,
}

/// Checks a counted receipt against what was shipped, naming every line that is wrong.
pub fn check_receipt(
    request: &RestockRequest,
    counted: &[CountedLine],
) -> Result<(), RestockError> {
    let shipped: Vec<(Sku, u32)> = request
        .lines
        .iter()
        .map(|l| (l.sku.clone(), l.shipped))
        .collect();
    check_counted(&shipped, counted).map_err(RestockError::ReceiptMismatch)
}

/// Every counted line must add up to what was shipped of its SKU, and every SKU shipped
/// must be counted: the lines that do not, in the body's order, then those left out.
pub fn check_counted(
    shipped: &[(Sku, u32)],
    counted: &[CountedLine],
) -> Result<(), Vec<ReceiptMismatch>> {
    let shipped_of = |sku: &Sku| shipped.iter().find(|(s, _)| s == sku).map(|(_, q)| *q);
    let mut wrong: Vec<ReceiptMismatch> = counted
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let total =
                u64::from(line.received) + u64::from(line.damaged) + u64::from(line.missing);
            let expected = shipped_of(&line.sku);
            (expected.map(u64::from) != Some(total)).then(|| ReceiptMismatch {
                index: Some(i),
                sku: line.sku.clone(),
                shipped: expected.unwrap_or(0),
                counted: u32::try_from(total).unwrap_or(u32::MAX),
            })
        })
        .collect();
    wrong.extend(
        shipped
            .iter()
            .filter(|(sku, q)| *q > 0 && !counted.iter().any(|c| &c.sku == sku))
            .map(|(sku, q)| ReceiptMismatch {
                index: None,
                sku: sku.clone(),
                shipped: *q,
                counted: 0,
            }),
    );
    if wrong.is_empty() { Ok(()) } else { Err(wrong) }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    Allocated(BTreeMap<Sku, u32>),
    Shipped(BTreeMap<Sku, u32>),
    Received(Vec<ReceivedLine>),
    Rejected(String),
    Cancelled,
    /// Received with discrepancies (damaged or missing units). A variant at the end:
    /// events written before it still read (ADR 0019).
    ReceivedCounted(Vec<ReceiptLine>),
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
    Receive(Receipt),
    Reject(String),
    Cancel,
}

impl RestockStep {
    fn target(&self) -> RestockStatus {
        match self {
            RestockStep::Allocate(_) => RestockStatus::Allocated,
            RestockStep::Ship(_) => RestockStatus::Shipped,
            RestockStep::Receive(_) => RestockStatus::Received,
            RestockStep::Reject(_) => RestockStatus::Rejected,
            RestockStep::Cancel => RestockStatus::Cancelled,
        }
    }

    fn allowed_from(&self) -> &'static [RestockStatus] {
        match self {
            RestockStep::Allocate(_) => &[RestockStatus::Requested],
            RestockStep::Ship(_) => &[RestockStatus::Allocated],
            RestockStep::Receive(_) => &[RestockStatus::Shipped],
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
    #[error("{} receipt lines do not add up to what was shipped", .0.len())]
    ReceiptMismatch(Vec<ReceiptMismatch>),
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
        // The store fills in the lines: it knows on-hand.
        RestockStep::Receive(_) => StepKind::Received(Vec::new()),
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
    /// The store received less than was shipped (`quantity` reached it, damaged units
    /// included): `missing` units wait for the center to settle them.
    DeliveredShort {
        request: RestockId,
        quantity: u32,
        missing: u32,
        at: Timestamp,
    },
    /// Missing units settled: lost in transit, or found and back in central stock.
    MissingResolved {
        request: RestockId,
        quantity: u32,
        outcome: MissingOutcome,
        on_hand_after: u32,
        at: Timestamp,
        by: Username,
    },
    /// Goods from a supplier at a known cost (a purchase order's receipt, or a receipt
    /// given its cost): `quantity` on hand, `damaged` written off, the average cost after.
    PurchaseReceived {
        receipt: String,
        quantity: u32,
        damaged: u32,
        damage_reason: Option<DamageReason>,
        unit_cost: Option<Cents>,
        on_hand_after: u32,
        average_after: i64,
        at: Timestamp,
        by: Username,
    },
}

/// A supplier's goods as a product's central stock records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Goods<'a> {
    pub receipt: &'a str,
    pub quantity: u32,
    pub damaged: u32,
    pub damage_reason: Option<DamageReason>,
    pub unit_cost: Option<Cents>,
}

impl<'a> Goods<'a> {
    /// Good units at an unknown cost (they join at the current average).
    pub fn uncosted(receipt: &'a str, quantity: u32) -> Self {
        Self {
            receipt,
            quantity,
            damaged: 0,
            damage_reason: None,
            unit_cost: None,
        }
    }
}

/// How the center settles units a store did not receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingOutcome {
    /// Lost in transit: written off at the center.
    Lost,
    /// Found (back at the warehouse): available again, to be sent with a new request.
    Found,
}

impl MissingOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingOutcome::Lost => "lost",
            MissingOutcome::Found => "found",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        [MissingOutcome::Lost, MissingOutcome::Found]
            .into_iter()
            .find(|o| o.as_str() == raw)
            .ok_or(ValueError::MissingOutcome)
    }
}

/// One product's stock at the logistics center.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentralStock {
    on_hand: u32,
    allocated: BTreeMap<RestockId, u32>,
    shipped: BTreeMap<RestockId, u32>,
    delivered: BTreeSet<RestockId>,
    receipts: BTreeSet<String>,
    /// Units missing at a store's receipt, per request, not yet settled.
    missing: BTreeMap<RestockId, u32>,
    /// Units lost in transit, in all.
    lost: u32,
    /// Weighted average cost of one unit, in millionths of a cent ([`COST_SCALE`]).
    average: i64,
    /// Units that arrived from suppliers damaged, written off at the center, in all.
    written_off: u32,
    /// Whether `average` stands for a cost: false until the first receipt with one (the
    /// units received before take that cost, the only one known).
    costed: bool,
}

/// The central stock as a version-2 snapshot held it (no cost, no write-off).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentralStockV2 {
    on_hand: u32,
    allocated: BTreeMap<RestockId, u32>,
    shipped: BTreeMap<RestockId, u32>,
    delivered: BTreeSet<RestockId>,
    receipts: BTreeSet<String>,
    missing: BTreeMap<RestockId, u32>,
    lost: u32,
}

impl From<CentralStockV2> for CentralStock {
    fn from(old: CentralStockV2) -> Self {
        Self {
            on_hand: old.on_hand,
            allocated: old.allocated,
            shipped: old.shipped,
            delivered: old.delivered,
            receipts: old.receipts,
            missing: old.missing,
            lost: old.lost,
            average: 0,
            written_off: 0,
            costed: false,
        }
    }
}

/// Average costs are kept in millionths of a cent, so that a cent is right after any
/// number of receipts; the API shows them rounded to the cent.
pub const COST_SCALE: i64 = 1_000_000;

/// The weighted average after `quantity` units at `unit_cost` join `physical` units at
/// `average` (both averages scaled by [`COST_SCALE`]).
pub fn weighted_average(physical: u32, average: i64, quantity: u32, unit_cost: Cents) -> i64 {
    let total = i128::from(physical) + i128::from(quantity);
    if total == 0 {
        return average;
    }
    let value = i128::from(physical) * i128::from(average)
        + i128::from(quantity) * i128::from(unit_cost.0) * i128::from(COST_SCALE);
    i64::try_from(round_div(value, total)).unwrap_or(i64::MAX)
}

/// `value` (scaled by [`COST_SCALE`]) rounded half up to the cent.
pub fn to_cents(scaled: i128) -> Cents {
    Cents(i64::try_from(round_div(scaled, i128::from(COST_SCALE))).unwrap_or(i64::MAX))
}

fn round_div(value: i128, by: i128) -> i128 {
    (value + by / 2).div_euclid(by)
}

/// The central stock as a version-1 snapshot held it (no missing or lost units).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentralStockV1 {
    on_hand: u32,
    allocated: BTreeMap<RestockId, u32>,
    shipped: BTreeMap<RestockId, u32>,
    delivered: BTreeSet<RestockId>,
    receipts: BTreeSet<String>,
}

impl From<CentralStockV1> for CentralStock {
    fn from(old: CentralStockV1) -> Self {
        Self {
            on_hand: old.on_hand,
            allocated: old.allocated,
            shipped: old.shipped,
            delivered: old.delivered,
            receipts: old.receipts,
            missing: BTreeMap::new(),
            lost: 0,
            average: 0,
            written_off: 0,
            costed: false,
        }
    }
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

    /// Missing at stores' receipts, not yet settled.
    pub fn missing(&self) -> u32 {
        self.missing.values().sum()
    }

    pub fn missing_of(&self, request: RestockId) -> u32 {
        self.missing.get(&request).copied().unwrap_or(0)
    }

    /// Lost in transit, in all.
    pub fn lost(&self) -> u32 {
        self.lost
    }

    /// A receipt short by `missing` units. `None` when the delivery is already noted.
    pub fn decide_deliver_short(
        &self,
        request: RestockId,
        missing: u32,
        at: Timestamp,
    ) -> Option<CentralEvent> {
        if self.delivered.contains(&request) {
            return None;
        }
        let shipped = *self.shipped.get(&request)?;
        let missing = missing.min(shipped);
        Some(CentralEvent::DeliveredShort {
            request,
            quantity: shipped - missing,
            missing,
            at,
        })
    }

    /// Settles the units missing from a request. `None` when none wait (already settled).
    pub fn decide_resolve_missing(
        &self,
        request: RestockId,
        outcome: MissingOutcome,
        stamp: &Stamp,
    ) -> Option<CentralEvent> {
        let quantity = *self.missing.get(&request)?;
        let on_hand_after = match outcome {
            MissingOutcome::Lost => self.on_hand,
            MissingOutcome::Found => self.on_hand.saturating_add(quantity),
        };
        Some(CentralEvent::MissingResolved {
            request,
            quantity,
            outcome,
            on_hand_after,
            at: stamp.at,
            by: stamp.by.clone(),
        })
    }

    /// Goods from a supplier: `quantity` good units on hand, `damaged` written off, at
    /// `unit_cost` (the average moves) or at the current average (`None`). `None` when
    /// this receipt was already recorded (a retry).
    pub fn decide_purchase(
        &self,
        goods: Goods<'_>,
        stamp: &Stamp,
    ) -> Result<Option<CentralEvent>, ValueError> {
        if self.receipts.contains(goods.receipt) {
            return Ok(None);
        }
        let on_hand_after = self
            .on_hand
            .checked_add(goods.quantity)
            .filter(|q| *q <= MAX_CENTRAL)
            .ok_or(ValueError::Quantity)?;
        let average_after = match goods.unit_cost {
            Some(cost) if self.costed => {
                weighted_average(self.physical(), self.average, goods.quantity, cost)
            }
            Some(cost) => cost.0.saturating_mul(COST_SCALE),
            None => self.average,
        };
        Ok(Some(CentralEvent::PurchaseReceived {
            receipt: goods.receipt.to_owned(),
            quantity: goods.quantity,
            damaged: goods.damaged,
            damage_reason: goods.damage_reason,
            unit_cost: goods.unit_cost,
            on_hand_after,
            average_after,
            at: stamp.at,
            by: stamp.by.clone(),
        }))
    }

    /// Units in the warehouse: available and set aside for requests.
    pub fn physical(&self) -> u32 {
        self.on_hand.saturating_add(self.allocated())
    }

    /// The weighted average cost of one unit, scaled by [`COST_SCALE`].
    pub fn average(&self) -> i64 {
        self.average
    }

    /// Damaged on arrival from suppliers, in all.
    pub fn written_off(&self) -> u32 {
        self.written_off
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
            CentralEvent::PurchaseReceived {
                receipt,
                damaged,
                unit_cost,
                on_hand_after,
                average_after,
                ..
            } => {
                self.receipts.insert(receipt.clone());
                self.on_hand = *on_hand_after;
                self.average = *average_after;
                self.costed |= unit_cost.is_some();
                self.written_off = self.written_off.saturating_add(*damaged);
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
            CentralEvent::DeliveredShort {
                request, missing, ..
            } => {
                self.delivered.insert(*request);
                if *missing > 0 {
                    self.missing.insert(*request, *missing);
                }
            }
            CentralEvent::MissingResolved {
                request,
                quantity,
                outcome,
                on_hand_after,
                ..
            } => {
                self.missing.remove(request);
                if *outcome == MissingOutcome::Lost {
                    self.lost = self.lost.saturating_add(*quantity);
                }
                self.on_hand = *on_hand_after;
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
            .decide_purchase(Goods::uncosted("r1", 5), &stamp())
            .expect("valid")
            .expect("new");
        central.apply(&received);
        assert_eq!(
            central.decide_purchase(Goods::uncosted("r1", 5), &stamp()),
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

    fn shipped_request(shipped: u32) -> RestockRequest {
        RestockRequest {
            id: id(1),
            status: RestockStatus::Shipped,
            lines: vec![RestockLine {
                sku: Sku::parse("EPI-0001").expect("valid sku"),
                requested: shipped,
                allocated: 0,
                shipped,
                received: 0,
            }],
            automatic: false,
            requested_at: Timestamp(0),
            requested_by: stamp().by,
            updated_at: Timestamp(0),
            rejection_reason: None,
        }
    }

    fn counted(sku: &str, received: u32, damaged: u32, missing: u32) -> CountedLine {
        CountedLine {
            sku: Sku::parse(sku).expect("valid sku"),
            received,
            damaged,
            damage_reason: (damaged > 0).then_some(DamageReason::Broken),
            missing,
        }
    }

    #[test]
    fn a_counted_receipt_must_add_up_to_what_was_shipped_line_by_line() {
        let request = shipped_request(10);
        assert_eq!(
            check_receipt(&request, &[counted("EPI-0001", 7, 2, 1)]),
            Ok(())
        );
        let Err(RestockError::ReceiptMismatch(wrong)) =
            check_receipt(&request, &[counted("EPI-0001", 7, 2, 0)])
        else {
            panic!("9 of 10 is refused");
        };
        assert_eq!(
            (wrong[0].index, wrong[0].shipped, wrong[0].counted),
            (Some(0), 10, 9)
        );
        let Err(RestockError::ReceiptMismatch(wrong)) =
            check_receipt(&request, &[counted("EPI-0002", 1, 0, 0)])
        else {
            panic!("a line not shipped, and the shipped one left out");
        };
        assert_eq!(
            wrong.iter().map(|w| w.index).collect::<Vec<_>>(),
            [Some(0), None]
        );
        assert!(DamageReason::parse("wet").is_ok() && DamageReason::parse("fondu").is_err());
    }

    #[test]
    fn missing_units_wait_at_the_center_until_lost_or_found_once() {
        let mut central = CentralStock::default();
        let received = central.decide_purchase(Goods::uncosted("r1", 20), &stamp());
        central.apply(&received.expect("valid").expect("new"));
        let allocated = central.decide_allocate(id(1), 10, Timestamp(1));
        central.apply(&allocated.expect("allocates"));
        let ship = central.decide_ship(id(1), Timestamp(2)).expect("ships");
        central.apply(&ship);
        let short = central
            .decide_deliver_short(id(1), 3, Timestamp(3))
            .expect("a short delivery");
        central.apply(&short);
        assert_eq!(central.decide_deliver_short(id(1), 3, Timestamp(4)), None);
        assert_eq!(central.decide_deliver(id(1), Timestamp(4)), None);
        assert_eq!(
            (central.on_hand(), central.missing(), central.lost()),
            (10, 3, 0)
        );
        let lost = central
            .decide_resolve_missing(id(1), MissingOutcome::Lost, &stamp())
            .expect("settles");
        central.apply(&lost);
        assert_eq!(
            (central.on_hand(), central.missing(), central.lost()),
            (10, 0, 3)
        );
        assert_eq!(
            central.decide_resolve_missing(id(1), MissingOutcome::Found, &stamp()),
            None,
            "settled once"
        );
        let v1 = CentralStockV1::default();
        assert_eq!(CentralStock::from(v1), CentralStock::default());
    }

    fn costed(receipt: &str, quantity: u32, damaged: u32, cents: i64) -> Goods<'_> {
        Goods {
            receipt,
            quantity,
            damaged,
            damage_reason: (damaged > 0).then_some(DamageReason::Wet),
            unit_cost: Some(Cents(cents)),
        }
    }

    fn receive(central: &mut CentralStock, goods: Goods<'_>) {
        let event = central.decide_purchase(goods, &stamp());
        central.apply(&event.expect("valid").expect("new"));
    }

    #[test]
    fn the_average_cost_weighs_each_receipt_and_shipping_leaves_it_unchanged() {
        let mut central = CentralStock::default();
        receive(&mut central, costed("a", 10, 0, 200));
        assert_eq!(to_cents(central.average().into()), Cents(200));
        // 10 at 2.00 $ and 7 at 2.99 $: 40.93 $ / 17 = 2.4076… $.
        receive(&mut central, costed("b", 7, 1, 299));
        assert_eq!(central.average(), 240_764_706);
        assert_eq!(to_cents(central.average().into()), Cents(241));
        assert_eq!((central.on_hand(), central.written_off()), (17, 1));
        let allocated = central.decide_allocate(id(1), 5, Timestamp(1));
        central.apply(&allocated.expect("allocates"));
        receive(&mut central, costed("c", 3, 0, 100));
        // Allocated units are still in the warehouse: they weigh in.
        assert_eq!(to_cents(central.average().into()), Cents(220));
        let ship = central.decide_ship(id(1), Timestamp(2)).expect("ships");
        let before = central.average();
        central.apply(&ship);
        assert_eq!(central.average(), before, "units leave at the average");
        receive(&mut central, Goods::uncosted("d", 5));
        assert_eq!(
            central.average(),
            before,
            "a receipt without cost joins at it"
        );
        assert_eq!(weighted_average(0, 0, 0, Cents(5)), 0);
        let mut old = CentralStock::default();
        receive(&mut old, Goods::uncosted("before-costs", 100));
        receive(&mut old, costed("first-cost", 10, 0, 200));
        assert_eq!(
            to_cents(old.average().into()),
            Cents(200),
            "units of unknown cost take the first one known"
        );
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
        assert!(decide_step(&request, &RestockStep::Receive(Receipt::Full), &stamp()).is_err());
        assert!(matches!(
            decide_step(&request, &RestockStep::Cancel, &stamp()),
            Ok(StepDecision::Apply(_))
        ));
    }
}
