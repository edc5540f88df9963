//! Buying from suppliers (ADR 0032): suppliers as reference data, and the logistics
//! center's purchase orders, received in parts, with damaged and missing units, and units
//! beyond the order held until head office approves them.
//!
//! Orders live in the chain's stream beside the suppliers: one writer in the cluster (the
//! owner of the reference data) numbers them and decides every receipt. The units reach
//! each product's central stock as postings the product records once per posting id, so a
//! receipt posted again after a crash moves nothing twice.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

use super::{
    Cents, DamageReason, LeadTime, MAX_CENTRAL, Receipt, Sku, Stamp, Timestamp, ValueError,
};

/// A supplier's code, chosen by head office: `LAITERIE-QC`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SupplierCode(String);

impl SupplierCode {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if super::ids::is_code(raw, 2..=24) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError::SupplierCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SupplierCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest lead time a supplier may be given, in days.
pub const MAX_LEAD_TIME_DAYS: u32 = 365;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplier {
    pub code: SupplierCode,
    pub name: String,
    /// Order to receipt, as agreed; the measured one replaces it once orders were received.
    pub lead_time_days: u32,
    /// An inactive supplier keeps its orders but takes no new one.
    pub active: bool,
}

/// One product of an order, as placed; what arrived of it is in the order's receipts
/// ([`PurchaseOrder::tally`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: Sku,
    pub ordered: u32,
    pub unit_cost: Cents,
}

/// What the receipts of an order brought of one line, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineTally {
    /// Good units counted against the order (never more than ordered).
    pub received: u32,
    /// Damaged on arrival: they do not count, the supplier still owes them.
    pub damaged: u32,
    /// Units beyond the order, waiting for head office.
    pub over_held: u32,
    pub over_accepted: u32,
    /// Refused, sent back to the supplier: never in stock.
    pub over_returned: u32,
    /// Still owed by the supplier.
    pub outstanding: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Nothing received yet.
    Open,
    PartiallyReceived,
    /// Every line received in full.
    Received,
    /// Closed with units outstanding: no more are expected.
    Closed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::PartiallyReceived => "partially_received",
            OrderStatus::Received => "received",
            OrderStatus::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        [
            OrderStatus::Open,
            OrderStatus::PartiallyReceived,
            OrderStatus::Received,
            OrderStatus::Closed,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
        .ok_or(ValueError::OrderStatus)
    }
}

/// One line of a receipt against an order, as decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierReceiptLine {
    pub sku: Sku,
    /// Good units counted against the order: into stock at the order's cost.
    pub received: u32,
    /// Arrived unsellable: written off at the center, claimed from the supplier.
    pub damaged: u32,
    pub damage_reason: Option<DamageReason>,
    /// On the delivery note, not in the truck: still owed.
    pub missing: u32,
    /// Good units beyond the order: held until approved.
    pub over: u32,
}

/// Head office's word on a receipt's units beyond the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverDecision {
    pub approved: bool,
    pub at: Timestamp,
    pub by: super::Username,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierReceipt {
    /// 1, 2, … within its order.
    pub number: u32,
    /// The Idempotency-Key it was recorded under: the same key is the same receipt.
    pub key: String,
    /// The request as it was asked (`full`, or its counted lines): the same key with
    /// another request is refused.
    pub asked: String,
    pub at: Timestamp,
    pub by: super::Username,
    pub lines: Vec<SupplierReceiptLine>,
    pub decision: Option<OverDecision>,
}

impl SupplierReceipt {
    pub fn over(&self) -> u32 {
        self.lines.iter().map(|l| l.over).sum()
    }

    /// Units beyond the order nobody decided on yet.
    pub fn awaits_approval(&self) -> bool {
        self.over() > 0 && self.decision.is_none()
    }
}

/// What a product's central stock records of a receipt: posted once per `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub id: String,
    pub sku: Sku,
    pub quantity: u32,
    pub damaged: u32,
    pub damage_reason: Option<DamageReason>,
    pub unit_cost: Cents,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseOrder {
    pub id: u64,
    pub supplier: SupplierCode,
    pub lines: Vec<OrderLine>,
    pub placed_at: Timestamp,
    pub placed_by: super::Username,
    pub key: String,
    pub receipts: Vec<SupplierReceipt>,
    pub closed: Option<Stamp>,
}

impl PurchaseOrder {
    /// What the receipts brought of `line`, and what is still owed.
    pub fn tally(&self, line: &OrderLine) -> LineTally {
        let mut tally = LineTally::default();
        let got = self.receipts.iter().flat_map(|r| {
            let decision = r.decision.as_ref().map(|d| d.approved);
            r.lines
                .iter()
                .filter(|l| l.sku == line.sku)
                .map(move |l| (l, decision))
        });
        for (got, decision) in got {
            tally.received = tally.received.saturating_add(got.received);
            tally.damaged = tally.damaged.saturating_add(got.damaged);
            let over = match decision {
                None => &mut tally.over_held,
                Some(true) => &mut tally.over_accepted,
                Some(false) => &mut tally.over_returned,
            };
            *over = over.saturating_add(got.over);
        }
        tally.outstanding = line.ordered.saturating_sub(tally.received);
        tally
    }

    pub fn status(&self) -> OrderStatus {
        if self.lines.iter().all(|l| self.tally(l).outstanding == 0) {
            OrderStatus::Received
        } else if self.closed.is_some() {
            OrderStatus::Closed
        } else if self.receipts.is_empty() {
            OrderStatus::Open
        } else {
            OrderStatus::PartiallyReceived
        }
    }

    pub fn awaits_approval(&self) -> bool {
        self.receipts.iter().any(SupplierReceipt::awaits_approval)
    }

    pub fn receipt(&self, number: u32) -> Option<&SupplierReceipt> {
        self.receipts.iter().find(|r| r.number == number)
    }

    fn line(&self, sku: &Sku) -> Option<&OrderLine> {
        self.lines.iter().find(|l| &l.sku == sku)
    }

    fn cost_of(&self, sku: &Sku) -> Cents {
        self.line(sku).map_or(Cents(0), |l| l.unit_cost)
    }

    /// What receipt `number` brings into the products' central stock (its units beyond
    /// the order wait for approval).
    pub fn postings(&self, number: u32) -> Vec<Posting> {
        let Some(receipt) = self.receipt(number) else {
            return Vec::new();
        };
        receipt
            .lines
            .iter()
            .filter(|l| l.received + l.damaged > 0)
            .map(|l| Posting {
                id: format!("PO-{}/{}", self.id, number),
                sku: l.sku.clone(),
                quantity: l.received,
                damaged: l.damaged,
                damage_reason: l.damage_reason,
                unit_cost: self.cost_of(&l.sku),
            })
            .collect()
    }

    /// The approved units beyond the order of receipt `number` (none unless approved).
    pub fn over_postings(&self, number: u32) -> Vec<Posting> {
        let Some(receipt) = self.receipt(number) else {
            return Vec::new();
        };
        if !receipt.decision.as_ref().is_some_and(|d| d.approved) {
            return Vec::new();
        }
        receipt
            .lines
            .iter()
            .filter(|l| l.over > 0)
            .map(|l| Posting {
                id: format!("PO-{}/{}+", self.id, number),
                sku: l.sku.clone(),
                quantity: l.over,
                damaged: 0,
                damage_reason: None,
                unit_cost: self.cost_of(&l.sku),
            })
            .collect()
    }

    /// Everything receipt `number` brings in so far: its units, and its units beyond the
    /// order once approved. Posting them again changes nothing.
    pub fn receipt_postings(&self, number: u32) -> Vec<Posting> {
        let mut all = self.postings(number);
        all.extend(self.over_postings(number));
        all
    }

    /// From the order to its first delivery (a receipt that brought units), in
    /// milliseconds.
    pub fn lead_time_ms(&self) -> Option<i64> {
        self.receipts
            .iter()
            .find(|r| r.lines.iter().any(|l| l.received + l.damaged + l.over > 0))
            .map(|r| r.at.0 - self.placed_at.0)
    }

    /// When the order last changed stock: its latest receipt or approval.
    pub fn last_moved(&self) -> Option<Timestamp> {
        self.receipts
            .iter()
            .flat_map(|r| [Some(r.at), r.decision.as_ref().map(|d| d.at)])
            .flatten()
            .max()
    }

    fn same_order(&self, new: &NewOrder) -> bool {
        self.supplier == new.supplier
            && self.lines.len() == new.lines.len()
            && self
                .lines
                .iter()
                .zip(&new.lines)
                .all(|(l, (sku, q, c))| &l.sku == sku && l.ordered == *q && l.unit_cost == *c)
    }
}

/// A new order as asked, before it has a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub supplier: SupplierCode,
    /// `(sku, ordered, unit cost)`, each SKU once.
    pub lines: Vec<(Sku, u32, Cents)>,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PurchasingEvent {
    /// A supplier created or changed: as it is now.
    SupplierSet(Supplier),
    OrderPlaced(PurchaseOrder),
    GoodsReceived {
        order: u64,
        receipt: SupplierReceipt,
    },
    OverDecided {
        order: u64,
        receipt: u32,
        decision: OverDecision,
    },
    OrderClosed {
        order: u64,
        stamp: Stamp,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurchaseError {
    #[error("no supplier {0}")]
    UnknownSupplier(SupplierCode),
    #[error("supplier {0} is inactive: it takes no new order")]
    InactiveSupplier(SupplierCode),
    #[error("no purchase order {0}")]
    UnknownOrder(u64),
    #[error("purchase order {0} is closed")]
    OrderClosed(u64),
    #[error("an order has 1 to 200 lines, each SKU once")]
    Lines,
    #[error("purchase order {order} has no line for {sku}")]
    NotOnOrder { order: u64, sku: Sku },
    #[error("a receipt must bring at least one unit or name a missing one")]
    EmptyReceipt,
    #[error("purchase order {order} has no receipt {receipt}")]
    UnknownReceipt { order: u64, receipt: u32 },
    #[error("receipt {receipt} of purchase order {order} has nothing beyond the order")]
    NothingOver { order: u64, receipt: u32 },
    #[error("the Idempotency-Key was used for another request")]
    KeyReused,
    #[error("purchase order {0} has had the most receipts one order may have")]
    TooManyReceipts(u64),
    #[error("a line of purchase order {order} would count more than the center may hold")]
    TooManyUnits { order: u64, sku: Sku },
    #[error("receipt {receipt} of purchase order {order} was already {}", if *.approved { "approved" } else { "refused" })]
    AlreadyDecided {
        order: u64,
        receipt: u32,
        approved: bool,
    },
}

/// The most lines an order may have.
pub const MAX_ORDER_LINES: usize = 200;

/// The most receipts one order may have (deliveries, each with its discrepancies).
pub const MAX_RECEIPTS: usize = 500;

/// The request a receipt answers, as text: the same key must come with the same one.
fn asked(counted: &Receipt) -> String {
    match counted {
        Receipt::Full => "full".to_owned(),
        Receipt::Counted(lines) => {
            let mut parts: Vec<String> = lines
                .iter()
                .map(|l| {
                    let reason = l.damage_reason.map_or("", DamageReason::as_str);
                    format!(
                        "{}:{}:{}:{reason}:{}",
                        l.sku, l.received, l.damaged, l.missing
                    )
                })
                .collect();
            parts.sort();
            parts.join(";")
        }
    }
}

/// What a write decided: a new event, or the same write already done (a retry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    New(PurchasingEvent),
    Done,
}

/// Suppliers and purchase orders, as the chain's state holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchasing {
    suppliers: BTreeMap<SupplierCode, Supplier>,
    orders: BTreeMap<u64, PurchaseOrder>,
    /// Each order's Idempotency-Key: placing again under it answers the order.
    keys: BTreeMap<String, u64>,
    /// Each receipt's Idempotency-Key, for every order: `(order, receipt)`.
    receipt_keys: BTreeMap<String, (u64, u32)>,
}

impl Purchasing {
    pub fn suppliers(&self) -> impl Iterator<Item = &Supplier> {
        self.suppliers.values()
    }

    pub fn supplier(&self, code: &SupplierCode) -> Option<&Supplier> {
        self.suppliers.get(code)
    }

    pub fn orders(&self) -> impl DoubleEndedIterator<Item = &PurchaseOrder> {
        self.orders.values()
    }

    pub fn order(&self, id: u64) -> Option<&PurchaseOrder> {
        self.orders.get(&id)
    }

    pub fn order_by_key(&self, key: &str) -> Option<&PurchaseOrder> {
        self.keys.get(key).and_then(|id| self.orders.get(id))
    }

    /// The supplier's lead time: measured from its received orders, else as agreed.
    pub fn lead_time(&self, code: &SupplierCode) -> Option<LeadTime> {
        let supplier = self.suppliers.get(code)?;
        let measured: Vec<i64> = self
            .orders
            .values()
            .filter(|o| &o.supplier == code)
            .filter_map(PurchaseOrder::lead_time_ms)
            .collect();
        Some(LeadTime::of(&measured, f64::from(supplier.lead_time_days)))
    }

    pub fn decide_set_supplier(&self, supplier: Supplier) -> Option<PurchasingEvent> {
        (self.suppliers.get(&supplier.code) != Some(&supplier))
            .then_some(PurchasingEvent::SupplierSet(supplier))
    }

    /// A supplier only if its code is new: what seeding does, never undoing a change.
    pub fn decide_add_supplier(&self, supplier: Supplier) -> Option<PurchasingEvent> {
        (!self.suppliers.contains_key(&supplier.code))
            .then_some(PurchasingEvent::SupplierSet(supplier))
    }

    pub fn decide_place(&self, new: NewOrder, stamp: Stamp) -> Result<Decided, PurchaseError> {
        if let Some(placed) = self.order_by_key(&new.key) {
            return if placed.same_order(&new) {
                Ok(Decided::Done)
            } else {
                Err(PurchaseError::KeyReused)
            };
        }
        let supplier = self
            .suppliers
            .get(&new.supplier)
            .ok_or_else(|| PurchaseError::UnknownSupplier(new.supplier.clone()))?;
        if !supplier.active {
            return Err(PurchaseError::InactiveSupplier(new.supplier));
        }
        let mut skus: Vec<&Sku> = new.lines.iter().map(|(sku, _, _)| sku).collect();
        skus.sort();
        skus.dedup();
        if new.lines.is_empty()
            || new.lines.len() > MAX_ORDER_LINES
            || skus.len() != new.lines.len()
        {
            return Err(PurchaseError::Lines);
        }
        let id = self.orders.keys().next_back().map_or(1, |last| last + 1);
        let lines = new
            .lines
            .into_iter()
            .map(|(sku, ordered, unit_cost)| OrderLine {
                sku,
                ordered,
                unit_cost,
            })
            .collect();
        Ok(Decided::New(PurchasingEvent::OrderPlaced(PurchaseOrder {
            id,
            supplier: new.supplier,
            lines,
            placed_at: stamp.at,
            placed_by: stamp.by,
            key: new.key,
            receipts: Vec::new(),
            closed: None,
        })))
    }

    fn open_order(&self, id: u64) -> Result<&PurchaseOrder, PurchaseError> {
        self.orders.get(&id).ok_or(PurchaseError::UnknownOrder(id))
    }

    /// A receipt against order `id`: everything outstanding (`Receipt::Full`), or counted
    /// per line. Good units beyond what is outstanding are held for approval. The same
    /// `key` again is the same receipt.
    pub fn decide_receive(
        &self,
        id: u64,
        counted: &Receipt,
        key: &str,
        stamp: Stamp,
    ) -> Result<Decided, PurchaseError> {
        let order = self.open_order(id)?;
        if let Some((on, number)) = self.receipt_keys.get(key) {
            let same = order
                .receipt(*number)
                .is_some_and(|r| r.asked == asked(counted));
            return if *on == id && same {
                Ok(Decided::Done)
            } else {
                Err(PurchaseError::KeyReused)
            };
        }
        if order.closed.is_some() || order.status() == OrderStatus::Received {
            return Err(PurchaseError::OrderClosed(id));
        }
        if order.receipts.len() >= MAX_RECEIPTS {
            return Err(PurchaseError::TooManyReceipts(id));
        }
        let request = asked(counted);
        let owed = order
            .lines
            .iter()
            .map(|l| (l.sku.clone(), order.tally(l).outstanding));
        let counted = counted.lines(owed);
        let mut lines = Vec::with_capacity(counted.len());
        for c in counted {
            let line = order
                .line(&c.sku)
                .ok_or_else(|| PurchaseError::NotOnOrder {
                    order: id,
                    sku: c.sku.clone(),
                })?;
            let tally = order.tally(line);
            let in_order = c.received.min(tally.outstanding);
            let too_many =
                |held: u32, more: u32| held.checked_add(more).is_none_or(|t| t > MAX_CENTRAL);
            if too_many(tally.damaged, c.damaged)
                || too_many(tally.over_held, c.received - in_order)
            {
                return Err(PurchaseError::TooManyUnits {
                    order: id,
                    sku: c.sku,
                });
            }
            lines.push(SupplierReceiptLine {
                sku: c.sku,
                received: in_order,
                damaged: c.damaged,
                damage_reason: c.damage_reason,
                missing: c.missing,
                over: c.received - in_order,
            });
        }
        if lines
            .iter()
            .all(|l| l.received + l.damaged + l.missing + l.over == 0)
        {
            return Err(PurchaseError::EmptyReceipt);
        }
        let number = u32::try_from(order.receipts.len() + 1).unwrap_or(u32::MAX);
        Ok(Decided::New(PurchasingEvent::GoodsReceived {
            order: id,
            receipt: SupplierReceipt {
                number,
                key: key.to_owned(),
                asked: request,
                at: stamp.at,
                by: stamp.by,
                lines,
                decision: None,
            },
        }))
    }

    /// Approves or refuses the units beyond the order of one receipt, once.
    pub fn decide_over(
        &self,
        id: u64,
        number: u32,
        approved: bool,
        stamp: Stamp,
    ) -> Result<Decided, PurchaseError> {
        let order = self.open_order(id)?;
        let receipt = order.receipt(number).ok_or(PurchaseError::UnknownReceipt {
            order: id,
            receipt: number,
        })?;
        if receipt.over() == 0 {
            return Err(PurchaseError::NothingOver {
                order: id,
                receipt: number,
            });
        }
        match &receipt.decision {
            Some(d) if d.approved == approved => Ok(Decided::Done),
            Some(d) => Err(PurchaseError::AlreadyDecided {
                order: id,
                receipt: number,
                approved: d.approved,
            }),
            None => Ok(Decided::New(PurchasingEvent::OverDecided {
                order: id,
                receipt: number,
                decision: OverDecision {
                    approved,
                    at: stamp.at,
                    by: stamp.by,
                },
            })),
        }
    }

    /// Closes an order: what is still outstanding will not come.
    pub fn decide_close(&self, id: u64, stamp: Stamp) -> Result<Decided, PurchaseError> {
        let order = self.open_order(id)?;
        if order.closed.is_some() || order.status() == OrderStatus::Received {
            return Ok(Decided::Done);
        }
        Ok(Decided::New(PurchasingEvent::OrderClosed {
            order: id,
            stamp,
        }))
    }

    pub fn apply(&mut self, event: &PurchasingEvent) {
        match event {
            PurchasingEvent::SupplierSet(s) => {
                self.suppliers.insert(s.code.clone(), s.clone());
            }
            PurchasingEvent::OrderPlaced(o) => {
                self.keys.insert(o.key.clone(), o.id);
                self.orders.insert(o.id, o.clone());
            }
            PurchasingEvent::GoodsReceived { order: id, receipt } => {
                let Some(order) = self.orders.get_mut(id) else {
                    return;
                };
                self.receipt_keys
                    .insert(receipt.key.clone(), (*id, receipt.number));
                order.receipts.push(receipt.clone());
            }
            PurchasingEvent::OverDecided {
                order,
                receipt,
                decision,
            } => {
                let Some(order) = self.orders.get_mut(order) else {
                    return;
                };
                if let Some(r) = order.receipts.iter_mut().find(|r| r.number == *receipt) {
                    r.decision = Some(decision.clone());
                }
            }
            PurchasingEvent::OrderClosed { order, stamp } => {
                if let Some(order) = self.orders.get_mut(order) {
                    order.closed = Some(stamp.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CountedLine, Username};

    fn stamp(at: i64) -> Stamp {
        Stamp {
            at: Timestamp(at),
            by: Username::parse("logistique").expect("a name"),
        }
    }

    fn sku(raw: &str) -> Sku {
        Sku::parse(raw).expect("a sku")
    }

    fn apply(
        p: &mut Purchasing,
        decide: impl FnOnce(&Purchasing) -> Result<Decided, PurchaseError>,
    ) {
        match decide(p).expect("allowed") {
            Decided::New(event) => p.apply(&event),
            Decided::Done => panic!("a new write"),
        }
    }

    fn with_order(ordered: u32) -> Purchasing {
        let mut p = Purchasing::default();
        let code = SupplierCode::parse("LAITERIE-QC").expect("a code");
        let supplier = Supplier {
            code: code.clone(),
            name: "Laiterie".into(),
            lead_time_days: 4,
            active: true,
        };
        p.apply(&p.decide_set_supplier(supplier).expect("new"));
        let new = NewOrder {
            supplier: code,
            lines: vec![(sku("EPI-0001"), ordered, Cents(299))],
            key: "k1".into(),
        };
        apply(&mut p, |p| p.decide_place(new.clone(), stamp(0)));
        assert_eq!(
            p.decide_place(new.clone(), stamp(1)),
            Ok(Decided::Done),
            "a retry"
        );
        let other = NewOrder {
            lines: vec![(sku("EPI-0001"), ordered + 1, Cents(299))],
            ..new
        };
        assert_eq!(
            p.decide_place(other, stamp(1)),
            Err(PurchaseError::KeyReused)
        );
        p
    }

    fn counted(received: u32, damaged: u32, missing: u32) -> Receipt {
        Receipt::Counted(vec![CountedLine {
            sku: sku("EPI-0001"),
            received,
            damaged,
            damage_reason: (damaged > 0).then_some(DamageReason::Broken),
            missing,
        }])
    }

    #[test]
    fn parts_count_against_the_order_and_the_excess_waits_for_approval() {
        let mut p = with_order(20);
        apply(&mut p, |p| {
            p.decide_receive(1, &counted(7, 1, 2), "r1", stamp(10))
        });
        let order = p.order(1).expect("placed");
        assert_eq!(order.status(), OrderStatus::PartiallyReceived);
        assert_eq!(
            order.tally(&order.lines[0]).outstanding,
            13,
            "damaged units are still owed"
        );
        assert_eq!(order.postings(1)[0].quantity, 7);
        assert_eq!(order.postings(1)[0].damaged, 1);
        assert_eq!(
            p.decide_receive(1, &counted(7, 1, 2), "r1", stamp(11)),
            Ok(Decided::Done),
            "the same key is the same receipt"
        );
        assert_eq!(
            p.decide_receive(1, &counted(7, 0, 3), "r1", stamp(11)),
            Err(PurchaseError::KeyReused),
            "the same key with another count"
        );
        apply(&mut p, |p| {
            p.decide_receive(1, &counted(15, 0, 0), "r2", stamp(20))
        });
        let order = p.order(1).expect("placed");
        assert_eq!(order.status(), OrderStatus::Received);
        assert_eq!(
            (
                order.receipts[1].lines[0].received,
                order.receipts[1].over()
            ),
            (13, 2)
        );
        assert!(order.awaits_approval());
        assert!(order.over_postings(2).is_empty(), "not before approval");
        apply(&mut p, |p| p.decide_over(1, 2, true, stamp(30)));
        let order = p.order(1).expect("placed");
        assert_eq!(order.over_postings(2)[0].quantity, 2);
        assert_eq!(order.over_postings(2)[0].id, "PO-1/2+");
        let tally = order.tally(&order.lines[0]);
        assert_eq!((tally.over_held, tally.over_accepted), (0, 2));
        assert_eq!(p.decide_over(1, 2, true, stamp(31)), Ok(Decided::Done));
        assert!(matches!(
            p.decide_over(1, 2, false, stamp(31)),
            Err(PurchaseError::AlreadyDecided { .. })
        ));
        assert_eq!(order.receipt_postings(2).len(), 2);
        assert_eq!(order.last_moved(), Some(Timestamp(30)), "the approval");
        let lead = p
            .lead_time(&SupplierCode::parse("LAITERIE-QC").expect("a code"))
            .expect("a supplier");
        assert_eq!(lead.samples, 1);
    }

    #[test]
    fn receipts_are_refused_on_lines_off_the_order_closed_orders_and_nothing() {
        let mut p = with_order(5);
        let off = Receipt::Counted(vec![CountedLine {
            sku: sku("EPI-0002"),
            received: 1,
            damaged: 0,
            damage_reason: None,
            missing: 0,
        }]);
        assert!(matches!(
            p.decide_receive(1, &off, "r", stamp(1)),
            Err(PurchaseError::NotOnOrder { .. })
        ));
        assert_eq!(
            p.decide_receive(1, &counted(0, 0, 0), "r", stamp(1)),
            Err(PurchaseError::EmptyReceipt)
        );
        apply(&mut p, |p| p.decide_close(1, stamp(2)));
        assert_eq!(
            p.order(1).map(PurchaseOrder::status),
            Some(OrderStatus::Closed)
        );
        assert_eq!(
            p.decide_receive(1, &Receipt::Full, "r", stamp(3)),
            Err(PurchaseError::OrderClosed(1))
        );
        assert!(SupplierCode::parse("a").is_err() && SupplierCode::parse("ab c").is_err());
    }
}
