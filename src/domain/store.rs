//! One store's stock, sales, returns and adjustments, and the rules that change them.
//!
//! Every change goes `decide_*` (check against the current state, produce one event, change
//! nothing) then [`StoreState::apply`] (the only code that mutates). Recovery replays the
//! same `apply`, so a rule added to `apply` that is not a pure function of the event breaks
//! recovery.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::legacy::{StoreStateV1, StoreStateV2};
use super::restock::{
    CountedLine, Receipt, ReceiptLine, ReceivedLine, RestockError, RestockId, RestockLine,
    RestockRequest, RestockStatus, RestockStep, RestockStepDone, StepDecision, StepKind,
    check_receipt, decide_step,
};
use super::tax::{Rate, TaxClass, TaxCode, TaxLine};
use super::till::{
    AtTill, Closing, Count, Discount, LineToPrice, OpenSession, ReceiptNumber, SessionTotals,
    Tender, TenderError, TenderKind, TenderRequest, TillNumber, TillReport, above_threshold,
    discount_bytes, part, price, refund_tenders, settle, till_report,
};
use super::transfer::{TransferEvent, Transfers};
use super::{
    AdjustmentId, Cents, HOUR_MS, Quantity, ReturnId, SaleId, Sku, StoreId, Timestamp, Username,
    ValueError,
};

/// Most lines one sale, return or adjustment may hold.
pub const MAX_LINES: usize = 200;
/// Highest on-hand quantity a physical count or a delta may set.
pub const MAX_ON_HAND: u32 = 1_000_000;

/// A reorder point above its target level, or a target above [`MAX_ON_HAND`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidLevels;

/// When and by whom a write is made: the actor supplies it, the events record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub at: Timestamp,
    pub by: Username,
}

/// What the store needs to know of the reference data: whether a SKU exists, its current
/// price and tax class, the tax rates of the store's jurisdiction, the store's tills.
pub trait PriceLookup {
    fn price(&self, sku: &Sku) -> Option<Cents>;
    fn tax_class(&self, sku: &Sku) -> Option<TaxClass>;
    /// The rates of the store's jurisdiction in force at `at`, in printing order.
    fn tax_rates(&self, store: StoreId, at: Timestamp) -> Vec<(TaxCode, Rate)>;
    fn till_rules(&self, store: StoreId) -> TillRules;
}

/// A store's tills and the discount above which a manager approves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TillRules {
    /// Tills 1 to `tills`.
    pub tills: u8,
    /// A discount above this percentage of a line, or any price override, needs a manager.
    pub approval_percent: u8,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    pub on_hand: u32,
    pub reorder_point: u32,
    pub target_level: u32,
    /// An offline sale took more than the shelf held (an écart): listed for a count until
    /// the next physical count of the line.
    pub to_count: bool,
}

impl StockLine {
    /// Under its reorder point: the line a manager should restock.
    pub fn is_low(&self) -> bool {
        self.on_hand < self.reorder_point
    }
}

/// A till's retry token. Printable ASCII, 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let ok = (1..=200).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError::IdempotencyKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Digest of a request body, to tell a retry (same body) from a reused key (another body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a request of `kind` whose body is `bytes`.
    pub fn of(kind: &str, bytes: &[u8]) -> Self {
        fingerprint(kind, std::iter::once(bytes.to_vec()))
    }
}

/// A key as journaled with the event it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUse {
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Sale(SaleId),
    Return(ReturnId),
    Adjustment(AdjustmentId),
    Restock(u64),
    /// A till session opened (its number).
    SessionOpened(u64),
    /// A till session closed (its Z report's number).
    SessionClosed(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// Never seen: go ahead.
    Fresh,
    /// Seen with the same body: answer with this earlier outcome.
    Replay(Outcome),
    /// Seen with another body: refuse.
    Conflict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

/// The structural checks every list of lines must pass before it reaches a store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinesError {
    #[error("no line")]
    Empty,
    #[error("more than {MAX_LINES} lines")]
    TooMany,
    #[error("SKU {sku} appears twice (line {index})")]
    Duplicate { index: usize, sku: Sku },
}

pub(super) fn check_lines<'a>(skus: impl Iterator<Item = &'a Sku>) -> Result<(), LinesError> {
    let mut seen = BTreeSet::new();
    let mut count = 0;
    for (index, sku) in skus.enumerate() {
        if !seen.insert(sku) {
            return Err(LinesError::Duplicate {
                index,
                sku: sku.clone(),
            });
        }
        count += 1;
    }
    match count {
        0 => Err(LinesError::Empty),
        n if n > MAX_LINES => Err(LinesError::TooMany),
        _ => Ok(()),
    }
}

fn restock_line(sku: Sku, requested: u32) -> RestockLine {
    RestockLine {
        sku,
        requested,
        allocated: 0,
        shipped: 0,
        received: 0,
    }
}

fn fingerprint(kind: &str, parts: impl Iterator<Item = Vec<u8>>) -> Fingerprint {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(&part);
    }
    Fingerprint(hasher.finalize().into())
}

fn line_bytes(line: &RequestedLine) -> Vec<u8> {
    let mut bytes = line.sku.as_str().as_bytes().to_vec();
    bytes.extend_from_slice(&line.quantity.get().to_le_bytes());
    bytes
}

/// A line of a sale as rung: a product, a quantity, its discount, and the price charged
/// when it overrides the catalog's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleLineRequest {
    pub sku: Sku,
    pub quantity: Quantity,
    pub discount: Option<Discount>,
    pub unit_price: Option<Cents>,
}

impl From<RequestedLine> for SaleLineRequest {
    fn from(line: RequestedLine) -> Self {
        Self {
            sku: line.sku,
            quantity: line.quantity,
            discount: None,
            unit_price: None,
        }
    }
}

/// How a sale is rung beyond its lines: at a till with tenders (or outside any till,
/// paid by `other`), with a discount on the whole sale, approved by a manager.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaleTerms {
    pub discount: Option<Discount>,
    pub till: Option<TillNumber>,
    pub tenders: Vec<TenderRequest>,
    /// The manager whose approval came with the sale (checked by the caller). Not part of
    /// the fingerprint: a retry may carry a fresh approval.
    pub approved_by: Option<Username>,
    /// A sale the till completed while the server could not be reached, sent afterwards.
    pub offline: Option<Offline>,
}

/// What a till knew of a sale it completed offline: when, its receipt number from the
/// till's own sequence, the session it was rung in. The goods have left the store: the sale
/// is recorded even if the stock is short, at the prices the till charged and the taxes of
/// that time, in its session even if that session has closed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offline {
    pub captured_at: Timestamp,
    pub receipt: u64,
    pub session: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRequest {
    lines: Vec<SaleLineRequest>,
    terms: SaleTerms,
}

impl SaleRequest {
    /// Lines at catalog prices, outside any till.
    pub fn new(lines: Vec<RequestedLine>) -> Result<Self, LinesError> {
        Self::with_terms(
            lines.into_iter().map(Into::into).collect(),
            SaleTerms::default(),
        )
    }

    pub fn with_terms(lines: Vec<SaleLineRequest>, terms: SaleTerms) -> Result<Self, LinesError> {
        check_lines(lines.iter().map(|l| &l.sku))?;
        Ok(Self { lines, terms })
    }

    pub fn till(&self) -> Option<TillNumber> {
        self.terms.till
    }

    pub fn fingerprint(&self) -> Fingerprint {
        let lines = self.lines.iter().map(|l| {
            let mut bytes = line_bytes(&RequestedLine {
                sku: l.sku.clone(),
                quantity: l.quantity,
            });
            bytes.extend(discount_bytes(l.discount));
            if let Some(price) = l.unit_price {
                bytes.push(b'=');
                bytes.extend_from_slice(&price.0.to_le_bytes());
            }
            bytes
        });
        let offline = self.terms.offline.map(|o| {
            [o.captured_at.0, o.receipt as i64, o.session as i64]
                .iter()
                .flat_map(|n| n.to_le_bytes())
                .collect::<Vec<u8>>()
        });
        let terms = [
            discount_bytes(self.terms.discount),
            self.terms.till.map(|t| vec![t.get()]).unwrap_or_default(),
            offline.unwrap_or_default(),
        ];
        let tenders = self.terms.tenders.iter().map(TenderRequest::bytes);
        fingerprint(
            "sale",
            lines
                .chain(std::iter::once(b"|".to_vec()))
                .chain(terms)
                .chain(tenders),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnRequest {
    sale_id: SaleId,
    lines: Vec<RequestedLine>,
    reason: Option<String>,
    till: Option<TillNumber>,
}

impl ReturnRequest {
    pub fn new(
        sale_id: SaleId,
        lines: Vec<RequestedLine>,
        reason: Option<String>,
    ) -> Result<Self, LinesError> {
        check_lines(lines.iter().map(|l| &l.sku))?;
        Ok(Self {
            sale_id,
            lines,
            reason,
            till: None,
        })
    }

    /// Refunded at a till: its cash comes out of the till's open session.
    pub fn at_till(mut self, till: TillNumber) -> Self {
        self.till = Some(till);
        self
    }

    /// The sale the lines come back from.
    pub fn sale_id(&self) -> SaleId {
        self.sale_id
    }

    pub fn fingerprint(&self) -> Fingerprint {
        let head = [
            self.sale_id.0.to_le_bytes().to_vec(),
            self.reason.clone().unwrap_or_default().into_bytes(),
            self.till.map(|t| vec![t.get()]).unwrap_or_default(),
        ];
        fingerprint(
            "return",
            head.into_iter().chain(self.lines.iter().map(line_bytes)),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdjustmentKind {
    /// A physical count: on-hand becomes this number.
    Count(u32),
    /// A signed correction (breakage, theft, found goods).
    Delta(i32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjustmentLine {
    pub sku: Sku,
    pub kind: AdjustmentKind,
}

impl AdjustmentLine {
    pub fn count(sku: Sku, counted: i64) -> Result<Self, ValueError> {
        match u32::try_from(counted) {
            Ok(c) if c <= MAX_ON_HAND => Ok(Self {
                sku,
                kind: AdjustmentKind::Count(c),
            }),
            _ => Err(ValueError::Counted),
        }
    }

    pub fn delta(sku: Sku, delta: i64) -> Result<Self, ValueError> {
        match i32::try_from(delta) {
            Ok(d) if d != 0 && d.unsigned_abs() <= MAX_ON_HAND => Ok(Self {
                sku,
                kind: AdjustmentKind::Delta(d),
            }),
            _ => Err(ValueError::Delta),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjustmentRequest {
    reason: String,
    lines: Vec<AdjustmentLine>,
}

impl AdjustmentRequest {
    pub fn new(reason: String, lines: Vec<AdjustmentLine>) -> Result<Self, LinesError> {
        check_lines(lines.iter().map(|l| &l.sku))?;
        Ok(Self { reason, lines })
    }

    pub fn fingerprint(&self) -> Fingerprint {
        let head = std::iter::once(self.reason.clone().into_bytes());
        let lines = self.lines.iter().map(|l| {
            let mut bytes = l.sku.as_str().as_bytes().to_vec();
            match l.kind {
                AdjustmentKind::Count(c) => {
                    bytes.push(b'c');
                    bytes.extend_from_slice(&c.to_le_bytes());
                }
                AdjustmentKind::Delta(d) => {
                    bytes.push(b'd');
                    bytes.extend_from_slice(&d.to_le_bytes());
                }
            }
            bytes
        });
        fingerprint("adjustment", head.chain(lines))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoldLine {
    pub sku: Sku,
    pub quantity: u32,
    /// The price charged per unit: the shelf price when the sale was made (later price
    /// changes do not touch it), or the manager-approved override.
    pub unit_price: Cents,
    /// The catalog's price at the time of the sale.
    pub list_price: Cents,
    pub tax_class: TaxClass,
    /// Its own discount and its share of the sale's.
    pub discount: Cents,
    /// What the line costs before taxes: `unit_price × quantity − discount`.
    pub net: Cents,
    /// Its share of each tax of the receipt, to the cent.
    pub taxes: Vec<(TaxCode, i64)>,
    pub on_hand_after: u32,
    /// Units sold offline beyond what the shelf held (an écart): the stock stopped at 0.
    pub unstocked: u32,
}

impl SoldLine {
    /// A line at `unit_price`, taxable, with no discount and no tax collected (a sale of
    /// before the till, or a test's).
    pub fn untaxed(sku: Sku, quantity: u32, unit_price: Cents, on_hand_after: u32) -> Self {
        Self {
            net: unit_price * quantity,
            sku,
            quantity,
            unit_price,
            list_price: unit_price,
            tax_class: TaxClass::Taxable,
            discount: Cents(0),
            taxes: Vec::new(),
            on_hand_after,
            unstocked: 0,
        }
    }

    /// What the customer paid for the line: its net and its taxes.
    pub fn paid(&self) -> i64 {
        self.net.0 + self.taxes.iter().map(|(_, t)| t).sum::<i64>()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    pub id: SaleId,
    pub lines: Vec<SoldLine>,
    /// After discounts, before taxes.
    pub subtotal: Cents,
    /// Every discount of the sale, lines' and sale's.
    pub discount: Cents,
    pub taxes: Vec<TaxLine>,
    /// Subtotal and taxes, before the cash rounding.
    pub total: Cents,
    /// What rounding the cash part to 5 cents added (−2 to +2).
    pub cash_rounding: Cents,
    pub tenders: Vec<Tender>,
    pub change: Cents,
    /// The till, session and receipt number, for a till sale.
    pub till: Option<AtTill>,
    /// The manager who approved its discounts or price overrides.
    pub approved_by: Option<Username>,
    /// When it happened (for a sale taken offline, when the till completed it).
    pub at: Timestamp,
    /// Who rang it up.
    pub by: Username,
    /// For a sale taken offline: when the server recorded it.
    pub recorded_at: Option<Timestamp>,
}

impl Sale {
    /// A sale without tax, paid outside a till by `other` (a sale of before the till, or a
    /// test's).
    pub fn untaxed(id: SaleId, lines: Vec<SoldLine>, at: Timestamp, by: Username) -> Self {
        let total: Cents = lines.iter().map(|l| l.net).sum();
        Self {
            id,
            lines,
            subtotal: total,
            discount: Cents(0),
            taxes: Vec::new(),
            total,
            cash_rounding: Cents(0),
            tenders: vec![Tender {
                kind: TenderKind::Other,
                amount: total,
                given: total,
                reference: None,
            }],
            change: Cents(0),
            till: None,
            approved_by: None,
            at,
            by,
            recorded_at: None,
        }
    }

    /// When the server recorded it: its time, or for a sale taken offline the time it
    /// reached the server. A key's window runs from here (ADR 0028).
    pub fn recorded(&self) -> Timestamp {
        self.recorded_at.unwrap_or(self.at)
    }

    /// What the customer paid: the total and the cash rounding.
    pub fn paid(&self) -> Cents {
        Cents(self.total.0 + self.cash_rounding.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnedLine {
    pub sku: Sku,
    pub quantity: u32,
    pub unit_price: Cents,
    pub tax_class: TaxClass,
    /// The part of the line's net these units stand for.
    pub net: Cents,
    /// The part of each of the line's taxes.
    pub taxes: Vec<(TaxCode, i64)>,
    pub on_hand_after: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    pub id: ReturnId,
    pub sale_id: SaleId,
    pub lines: Vec<ReturnedLine>,
    /// The lines' nets, before taxes.
    pub subtotal: Cents,
    /// Each tax given back, at the sale's rate, with the taxable amount returned.
    pub taxes: Vec<TaxLine>,
    /// What was given back, over every tender: subtotal, taxes and cash rounding.
    pub refund: Cents,
    pub cash_rounding: Cents,
    pub tenders: Vec<Tender>,
    pub till: Option<AtTill>,
    pub reason: Option<String>,
    pub at: Timestamp,
    pub by: Username,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustedLine {
    pub sku: Sku,
    pub kind: AdjustmentKind,
    pub on_hand_before: u32,
    pub on_hand_after: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub id: AdjustmentId,
    pub reason: String,
    pub lines: Vec<AdjustedLine>,
    pub at: Timestamp,
    pub by: Username,
}

/// What happened to a store. The journal of these is the store's stock ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoreEvent {
    SaleRecorded(SaleRecorded),
    SaleReturned(SaleReturned),
    StockAdjusted(StockAdjusted),
    StockLevelsSet(StockLevelsSet),
    RestockRequested(RestockRequested),
    RestockStep(RestockStepDone),
    /// Written by compaction in format version 1, when a store's state held its sales: it
    /// let go of those made before `before`. Read, never written any more (the state holds
    /// no sale now); kept in its place, since bincode numbers variants by position.
    SalesLetGo {
        before: Timestamp,
    },
    SessionOpened(SessionOpened),
    /// Boxed: a Z report is the largest event by far.
    SessionClosed(Box<SessionClosed>),
    /// A transfer between stores, on the side this store is (ADR 0031). At the end: the
    /// events written before it still read.
    Transfer(TransferEvent),
}

/// A cashier opened a session on a till with a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOpened {
    pub till: TillNumber,
    pub session: OpenSession,
    pub key: Option<KeyUse>,
}

/// A session closed: its Z report, immutable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClosed {
    pub report: TillReport,
    pub key: Option<KeyUse>,
}

/// Why a till cannot do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TillError {
    #[error("till {0} does not exist in this store")]
    UnknownTill(TillNumber),
    #[error("till {till} already has session {session} open")]
    AlreadyOpen { till: TillNumber, session: u64 },
    #[error("till {0} has no open session")]
    Closed(TillNumber),
    #[error("the count differs from what was expected by {over_short} cents: give a reason")]
    ReasonRequired { over_short: i64 },
    #[error("till {till} expects receipt {expected} next")]
    ReceiptOutOfSequence { till: TillNumber, expected: u64 },
    #[error("till {till} never had session {session}")]
    UnknownSession { till: TillNumber, session: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestockRequested {
    pub request: RestockRequest,
    pub key: Option<KeyUse>,
}

/// Lines asked for explicitly, or the automatic proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestockAsk {
    Lines(Vec<RequestedLine>),
    /// Every line under its reorder point, filled up to its target level (less what is
    /// already on its way).
    Automatic,
}

impl RestockAsk {
    pub fn lines(lines: Vec<RequestedLine>) -> Result<Self, LinesError> {
        check_lines(lines.iter().map(|l| &l.sku))?;
        Ok(Self::Lines(lines))
    }

    pub fn fingerprint(&self) -> Fingerprint {
        match self {
            RestockAsk::Lines(lines) => fingerprint("restock", lines.iter().map(line_bytes)),
            RestockAsk::Automatic => fingerprint("restock-auto", std::iter::empty()),
        }
    }
}

impl Receipt {
    /// A receipt counted line by line: at least one line, each SKU once.
    pub fn counted(lines: Vec<CountedLine>) -> Result<Self, LinesError> {
        check_lines(lines.iter().map(|l| &l.sku))?;
        Ok(Self::Counted(lines))
    }

    /// The lines counted: as given, or every `(sku, units)` expected with units, all
    /// arrived in good condition.
    pub fn lines(&self, expected: impl IntoIterator<Item = (Sku, u32)>) -> Vec<CountedLine> {
        match self {
            Receipt::Counted(lines) => lines.clone(),
            Receipt::Full => expected
                .into_iter()
                .filter(|(_, units)| *units > 0)
                .map(|(sku, received)| CountedLine {
                    sku,
                    received,
                    damaged: 0,
                    damage_reason: None,
                    missing: 0,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleRecorded {
    pub sale: Sale,
    pub key: Option<KeyUse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleReturned {
    pub ret: Return,
    pub key: Option<KeyUse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockAdjusted {
    pub adjustment: Adjustment,
    pub key: Option<KeyUse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevelsSet {
    pub sku: Sku,
    pub reorder_point: u32,
    pub target_level: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shortage {
    pub sku: Sku,
    pub requested: u32,
    pub available: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaleError {
    #[error("unknown SKUs: {0:?}")]
    UnknownSkus(Vec<Sku>),
    #[error("insufficient stock on {} lines", .0.len())]
    InsufficientStock(Vec<Shortage>),
    #[error(transparent)]
    Till(#[from] TillError),
    #[error(transparent)]
    Tender(#[from] TenderError),
    /// A discount above the store's threshold or a price override, without a manager.
    #[error(
        "a discount above {threshold_percent} % or a price override needs a manager's approval"
    )]
    ApprovalRequired { threshold_percent: u8 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReturnExcess {
    pub sku: Sku,
    pub sold: u32,
    pub already_returned: u32,
    pub requested: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnError {
    #[error("sale {} not found", .0.0)]
    SaleNotFound(SaleId),
    #[error("SKUs not in the sale: {0:?}")]
    NotInSale(Vec<Sku>),
    #[error("return exceeds what was sold on {} lines", .0.len())]
    ExceedsSale(Vec<ReturnExcess>),
    #[error(transparent)]
    Till(#[from] TillError),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NegativeLine {
    pub sku: Sku,
    pub on_hand: u32,
    pub delta: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdjustmentError {
    #[error("unknown SKUs: {0:?}")]
    UnknownSkus(Vec<Sku>),
    #[error("adjustment would leave stock out of bounds on {} lines", .0.len())]
    OutOfBounds(Vec<NegativeLine>),
}

/// An idempotency key as a store remembers it: the first 16 bytes of its SHA-256, a third
/// of the memory of the key itself (the journal and the history keep the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(super) struct KeyDigest(pub(super) [u8; 16]);

impl KeyDigest {
    fn of(key: &IdempotencyKey) -> Self {
        let digest = Sha256::digest(key.as_str().as_bytes());
        let mut short = [0; 16];
        short.copy_from_slice(&digest[..16]);
        Self(short)
    }
}

/// How long a store remembers an idempotency key after the write that used it: a retry
/// within the window gets the original answer (or 422 with another body); after it, the
/// key is new again and the request is decided as a new write. Set by the configuration
/// (`[idempotency] retention_hours`, 72 by default: a till that lost an answer before a
/// long weekend offline still replays; ADR 0028), the same for every kind of keyed write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRetention {
    window_ms: i64,
}

/// A retention window outside [`KeyRetention::MIN_MS`] to [`KeyRetention::MAX_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the idempotency retention window is {0} ms; it must be between one second and 30 days")]
pub struct RetentionOutOfBounds(pub i64);

impl KeyRetention {
    /// One second: a shorter window could not outlast the round trip of a retry.
    pub const MIN_MS: i64 = 1_000;
    /// 30 days: every key of the window is held in memory (about 48 B each) and on disk
    /// for twice as long.
    pub const MAX_MS: i64 = 30 * 24 * HOUR_MS;
    /// Sweeps of expired keys per window: an hour for a window of 72 hours.
    const SWEEPS_PER_WINDOW: i64 = 72;

    pub fn from_millis(window_ms: i64) -> Result<Self, RetentionOutOfBounds> {
        if (Self::MIN_MS..=Self::MAX_MS).contains(&window_ms) {
            Ok(Self { window_ms })
        } else {
            Err(RetentionOutOfBounds(window_ms))
        }
    }

    pub fn window_ms(self) -> i64 {
        self.window_ms
    }

    /// The oldest use of a key still remembered at `now`: a key used at or after it
    /// replays, an older one is new again.
    pub fn oldest(self, now: Timestamp) -> Timestamp {
        Timestamp(now.0.saturating_sub(self.window_ms))
    }

    /// Event time between two sweeps of expired keys (a 72nd of the window, at least a
    /// millisecond): an expired key leaves memory at most this long after its window
    /// ended, and is never answered in between.
    pub fn sweep_every_ms(self) -> i64 {
        (self.window_ms / Self::SWEEPS_PER_WINDOW).max(1)
    }
}

/// What a store remembers of one key: enough to tell a retry (same body: the first 8
/// bytes of the body's fingerprint) from a reuse, the outcome to answer, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Remembered {
    fingerprint: [u8; 8],
    outcome: Outcome,
    at: Timestamp,
}

fn short_fingerprint(fingerprint: Fingerprint) -> [u8; 8] {
    let mut short = [0; 8];
    short.copy_from_slice(&fingerprint.0[..8]);
    short
}

/// The idempotency keys of a store's writes of the retention window ([`KeyRetention`]).
/// Bounded by the window (and one sweep interval), never by the store's history; not part
/// of a snapshot (the history on disk keeps every key with its time, and recovery loads
/// the window from it). Whether a key is remembered depends only on its time and the
/// window, never on when the last sweep ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyWindow {
    keys: HashMap<KeyDigest, Remembered>,
    /// Event time of the last sweep of expired keys.
    swept_at: i64,
}

impl KeyWindow {
    /// `key` as remembered by a write at or after `oldest`.
    fn check(&self, key: &IdempotencyKey, fingerprint: Fingerprint, oldest: Timestamp) -> KeyCheck {
        match self.keys.get(&KeyDigest::of(key)) {
            Some(seen) if seen.at < oldest => KeyCheck::Fresh,
            None => KeyCheck::Fresh,
            Some(seen) if seen.fingerprint == short_fingerprint(fingerprint) => {
                KeyCheck::Replay(seen.outcome)
            }
            Some(_) => KeyCheck::Conflict,
        }
    }

    /// Remembers the last use of a key (a key used again after its window replaces the
    /// earlier use).
    fn remember(&mut self, used: &KeyUse, outcome: Outcome, at: Timestamp) {
        self.keys.insert(
            KeyDigest::of(&used.key),
            Remembered {
                fingerprint: short_fingerprint(used.fingerprint),
                outcome,
                at,
            },
        );
    }

    /// Forgets the keys used before the window ending at `now`, once per sweep interval of
    /// `retention`.
    fn let_go(&mut self, retention: KeyRetention, now: Timestamp) {
        if now.0.saturating_sub(self.swept_at) < retention.sweep_every_ms() {
            return;
        }
        let oldest = retention.oldest(now);
        self.keys.retain(|_, seen| seen.at >= oldest);
        self.swept_at = now.0;
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A store's state: what its decisions need, and nothing that grows with its history.
/// Stock lines and their levels, restock requests, the last ids given (a new sale, return
/// or adjustment takes the next one), and the idempotency keys of the retention window.
/// Sales, returns and adjustments are on disk (the history read model): a return brings
/// the sale and its earlier returns to [`StoreState::decide_return`].
///
/// The snapshot is this struct without the keys (format version 2); its size is bounded
/// by the catalog and the open restocks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreState {
    stock: BTreeMap<Sku, StockLine>,
    restocks: BTreeMap<u64, RestockRequest>,
    last_sale: u64,
    last_return: u64,
    last_adjustment: u64,
    /// Each till's last receipt number and open session (bounded by the store's tills).
    tills: BTreeMap<TillNumber, TillState>,
    last_session: u64,
    last_z: u64,
    /// Transfers it sends, and what it counted of those it received (ADR 0031).
    transfers: Transfers,
    #[serde(skip)]
    keys: KeyWindow,
}

/// A till as the store knows it: the last receipt number it printed, its open session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TillState {
    pub last_receipt: u64,
    pub session: Option<OpenSession>,
}

impl StoreState {
    /// The stock line of a SKU; a catalog product never counted in this store is at zero.
    pub fn stock_line(&self, sku: &Sku) -> StockLine {
        self.stock.get(sku).copied().unwrap_or_default()
    }

    pub fn stock_lines(&self) -> impl Iterator<Item = (&Sku, &StockLine)> {
        self.stock.iter()
    }

    /// The id the last sale took (0: none yet).
    pub fn last_sale(&self) -> SaleId {
        SaleId(self.last_sale)
    }

    pub fn keys(&self) -> &KeyWindow {
        &self.keys
    }

    /// Remembers a key read back from the history at recovery (the window of keys is not
    /// in the snapshot).
    pub fn remember_key(&mut self, used: &KeyUse, outcome: Outcome, at: Timestamp) {
        self.keys.remember(used, outcome, at);
    }

    /// Frees the memory of the keys used before the window ending at `now` (once per sweep
    /// interval). Changes no decision: [`StoreState::check_key`] already takes them for
    /// new keys.
    pub fn let_go_keys(&mut self, retention: KeyRetention, now: Timestamp) {
        self.keys.let_go(retention, now);
    }

    pub fn restocks(&self) -> impl Iterator<Item = &RestockRequest> {
        self.restocks.values()
    }

    pub fn restock(&self, number: u64) -> Option<&RestockRequest> {
        self.restocks.get(&number)
    }

    /// The state a version-1 snapshot stood for: its stock, restocks and the ids it gave;
    /// its sales, returns and adjustments are in the journal (and the archive), from which
    /// the history is filled, and so are its keys.
    pub fn from_v1(old: StoreStateV1) -> Self {
        let last = |ids: Option<u64>, kept: u64| ids.unwrap_or(0).max(kept);
        Self {
            last_sale: last(
                old.sales.keys().next_back().map(|id| id.0),
                old.history.last_sale,
            ),
            last_return: last(
                old.returns.keys().next_back().map(|id| id.0),
                old.history.last_return,
            ),
            last_adjustment: last(old.adjustments.keys().next_back().map(|id| id.0), 0),
            stock: super::legacy::stock_lines(old.stock),
            restocks: old.restocks,
            ..Self::default()
        }
    }

    /// The state a version-3 snapshot stood for: no transfer between stores yet.
    pub fn from_v3(old: super::legacy::StoreStateV3) -> Self {
        Self {
            stock: old.stock,
            restocks: old.restocks,
            last_sale: old.last_sale,
            last_return: old.last_return,
            last_adjustment: old.last_adjustment,
            tills: old.tills,
            last_session: old.last_session,
            last_z: old.last_z,
            ..Self::default()
        }
    }

    pub fn transfers(&self) -> &Transfers {
        &self.transfers
    }

    /// The state a version-2 snapshot stood for: no till had rung yet.
    pub fn from_v2(old: StoreStateV2) -> Self {
        Self {
            stock: super::legacy::stock_lines(old.stock),
            restocks: old.restocks,
            last_sale: old.last_sale,
            last_return: old.last_return,
            last_adjustment: old.last_adjustment,
            ..Self::default()
        }
    }

    pub fn till(&self, till: TillNumber) -> Option<&TillState> {
        self.tills.get(&till)
    }

    /// The session open on `till`, checked against the store's tills.
    fn open_session(&self, till: TillNumber, rules: TillRules) -> Result<&OpenSession, TillError> {
        if till.get() > rules.tills {
            return Err(TillError::UnknownTill(till));
        }
        self.tills
            .get(&till)
            .and_then(|t| t.session.as_ref())
            .ok_or(TillError::Closed(till))
    }

    /// The last receipt number `till` printed (0: none yet).
    pub fn last_receipt(&self, till: TillNumber) -> u64 {
        self.tills.get(&till).map_or(0, |t| t.last_receipt)
    }

    /// The next receipt of `till`, in its open session.
    fn next_receipt(
        &self,
        store: StoreId,
        till: TillNumber,
        rules: TillRules,
    ) -> Result<AtTill, TillError> {
        let session = self.open_session(till, rules)?.number;
        let last = self.tills.get(&till).map_or(0, |t| t.last_receipt);
        Ok(AtTill {
            till,
            session,
            receipt: ReceiptNumber {
                store,
                till,
                number: last + 1,
            },
        })
    }

    /// The place of a sale the till completed offline: its receipt must be the till's next
    /// (the till numbers its sales itself and sends them in order), its session one the
    /// till has had, open or closed since (then the sale is a late addendum of it).
    fn offline_receipt(
        &self,
        store: StoreId,
        till: TillNumber,
        offline: Offline,
        rules: TillRules,
    ) -> Result<AtTill, TillError> {
        if till.get() > rules.tills {
            return Err(TillError::UnknownTill(till));
        }
        let expected = self.tills.get(&till).map_or(0, |t| t.last_receipt) + 1;
        if offline.receipt != expected {
            return Err(TillError::ReceiptOutOfSequence { till, expected });
        }
        if offline.session == 0 || offline.session > self.last_session {
            return Err(TillError::UnknownSession {
                till,
                session: offline.session,
            });
        }
        Ok(AtTill {
            till,
            session: offline.session,
            receipt: ReceiptNumber {
                store,
                till,
                number: offline.receipt,
            },
        })
    }

    /// Opens a session on `till` with `float` in the drawer.
    pub fn decide_open_session(
        &self,
        till: TillNumber,
        float: Cents,
        rules: TillRules,
        stamp: &Stamp,
        key: Option<KeyUse>,
    ) -> Result<SessionOpened, TillError> {
        match self.open_session(till, rules) {
            Ok(open) => Err(TillError::AlreadyOpen {
                till,
                session: open.number,
            }),
            Err(TillError::Closed(_)) => Ok(SessionOpened {
                till,
                session: OpenSession {
                    number: self.last_session + 1,
                    float,
                    opened_at: stamp.at,
                    opened_by: stamp.by.clone(),
                    totals: SessionTotals::default(),
                },
                key,
            }),
            Err(other) => Err(other),
        }
    }

    /// The X report of `till`'s open session.
    pub fn x_report(
        &self,
        store: StoreId,
        till: TillNumber,
        rules: TillRules,
    ) -> Result<TillReport, TillError> {
        let session = self.open_session(till, rules)?;
        Ok(till_report(
            (store, till, self.last_receipt(till)),
            session,
            None,
        ))
    }

    /// Closes `till`'s session with the cash counted: its Z report. Never touches stock
    /// (each sale moved it) and never fails on it.
    pub fn decide_close_session(
        &self,
        store: StoreId,
        till: TillNumber,
        count: Count,
        rules: TillRules,
        stamp: &Stamp,
        key: Option<KeyUse>,
    ) -> Result<SessionClosed, TillError> {
        let session = self.open_session(till, rules)?;
        let over_short = count.counted.0 - session.totals.cash_expected(session.float);
        if over_short != 0 && count.reason.is_none() {
            return Err(TillError::ReasonRequired { over_short });
        }
        let closing = Closing {
            z_number: self.last_z + 1,
            last_sale: self.last_sale,
            closed_at: stamp.at,
            closed_by: stamp.by.clone(),
            count,
            over_short,
        };
        Ok(SessionClosed {
            report: till_report(
                (store, till, self.last_receipt(till)),
                session,
                Some(closing),
            ),
            key,
        })
    }

    /// Units of `sku` asked for and not yet received, over every open request.
    fn on_its_way(&self, sku: &Sku) -> u32 {
        self.restocks
            .values()
            .filter(|r| r.status.is_open())
            .flat_map(|r| {
                r.lines
                    .iter()
                    .filter(|l| &l.sku == sku)
                    .map(move |l| (r.status, l))
            })
            .map(|(status, line)| match status {
                RestockStatus::Requested => line.requested,
                RestockStatus::Allocated => line.allocated,
                _ => line.in_transit(),
            })
            .sum()
    }

    pub fn decide_restock_request(
        &self,
        store: StoreId,
        ask: &RestockAsk,
        prices: &dyn PriceLookup,
        stamp: &Stamp,
        key: Option<KeyUse>,
    ) -> Result<RestockRequested, RestockError> {
        let lines: Vec<RestockLine> = match ask {
            RestockAsk::Lines(lines) => {
                let unknown: Vec<Sku> = lines
                    .iter()
                    .filter(|l| prices.price(&l.sku).is_none())
                    .map(|l| l.sku.clone())
                    .collect();
                if !unknown.is_empty() {
                    return Err(RestockError::UnknownSkus(unknown));
                }
                lines
                    .iter()
                    .map(|l| restock_line(l.sku.clone(), l.quantity.get()))
                    .collect()
            }
            RestockAsk::Automatic => self
                .stock
                .iter()
                .filter(|(_, line)| line.is_low())
                .filter_map(|(sku, line)| {
                    let missing = line
                        .target_level
                        .saturating_sub(line.on_hand)
                        .saturating_sub(self.on_its_way(sku))
                        .min(Quantity::MAX);
                    (missing > 0).then(|| restock_line(sku.clone(), missing))
                })
                .take(MAX_LINES)
                .collect(),
        };
        if lines.is_empty() {
            return Err(RestockError::NothingToRestock);
        }
        let number = self.restocks.keys().next_back().map_or(1, |n| n + 1);
        Ok(RestockRequested {
            request: RestockRequest {
                id: RestockId { store, number },
                status: RestockStatus::Requested,
                lines,
                automatic: matches!(ask, RestockAsk::Automatic),
                requested_at: stamp.at,
                requested_by: stamp.by.clone(),
                updated_at: stamp.at,
                rejection_reason: None,
            },
            key,
        })
    }

    /// A step of a request; `Ok(None)` when it was already done (a retry). Receiving adds
    /// the shipped quantities to on-hand.
    pub fn decide_restock_step(
        &self,
        id: RestockId,
        step: &RestockStep,
        stamp: &Stamp,
    ) -> Result<Option<RestockStepDone>, RestockError> {
        let request = self
            .restocks
            .get(&id.number)
            .ok_or(RestockError::NotFound(id))?;
        let mut done = match decide_step(request, step, stamp)? {
            StepDecision::AlreadyDone => return Ok(None),
            StepDecision::Apply(done) => done,
        };
        if let RestockStep::Receive(receipt) = step {
            done.step = match receipt {
                Receipt::Full => StepKind::Received(
                    request
                        .lines
                        .iter()
                        .filter(|l| l.shipped > 0)
                        .map(|l| ReceivedLine {
                            sku: l.sku.clone(),
                            quantity: l.shipped,
                            on_hand_after: self
                                .stock_line(&l.sku)
                                .on_hand
                                .saturating_add(l.shipped),
                        })
                        .collect(),
                ),
                Receipt::Counted(counted) => {
                    check_receipt(request, counted)?;
                    StepKind::ReceivedCounted(
                        counted
                            .iter()
                            .filter(|c| c.received + c.damaged + c.missing > 0)
                            .map(|c| ReceiptLine {
                                sku: c.sku.clone(),
                                received: c.received,
                                damaged: c.damaged,
                                damage_reason: c.damage_reason,
                                missing: c.missing,
                                on_hand_after: self
                                    .stock_line(&c.sku)
                                    .on_hand
                                    .saturating_add(c.received),
                            })
                            .collect(),
                    )
                }
            };
        }
        Ok(Some(done))
    }

    /// Whether `key` was used by a write of the window of `retention` ending at `now`, and
    /// with the same body: exactly by the keys' times, however long ago the last sweep ran.
    pub fn check_key(
        &self,
        key: &IdempotencyKey,
        fingerprint: Fingerprint,
        retention: KeyRetention,
        now: Timestamp,
    ) -> KeyCheck {
        self.keys.check(key, fingerprint, retention.oldest(now))
    }

    /// All-or-nothing: every line is checked, and every failing line is reported; then
    /// the discounts (a manager's approval above the store's threshold), the taxes of the
    /// store's jurisdiction at the time of the sale, and the tenders.
    pub fn decide_sale(
        &self,
        store: StoreId,
        request: &SaleRequest,
        prices: &dyn PriceLookup,
        stamp: &Stamp,
        key: Option<KeyUse>,
    ) -> Result<SaleRecorded, SaleError> {
        let rules = prices.till_rules(store);
        let offline = request.terms.offline;
        let at_till = match (request.terms.till, offline) {
            (Some(till), None) => Some(self.next_receipt(store, till, rules)?),
            (Some(till), Some(offline)) => Some(self.offline_receipt(store, till, offline, rules)?),
            (None, _) => None,
        };
        let at = offline.map_or(stamp.at, |o| o.captured_at);
        let mut unknown = Vec::new();
        let mut short = Vec::new();
        let mut found = Vec::with_capacity(request.lines.len());
        for line in &request.lines {
            let (Some(list_price), Some(class)) =
                (prices.price(&line.sku), prices.tax_class(&line.sku))
            else {
                unknown.push(line.sku.clone());
                continue;
            };
            let available = self.stock_line(&line.sku).on_hand;
            let requested = line.quantity.get();
            if requested > available && offline.is_none() {
                short.push(Shortage {
                    sku: line.sku.clone(),
                    requested,
                    available,
                });
                continue;
            }
            found.push((line, list_price, class, available, requested));
        }
        if !unknown.is_empty() {
            return Err(SaleError::UnknownSkus(unknown));
        }
        if !short.is_empty() {
            return Err(SaleError::InsufficientStock(short));
        }
        let to_price: Vec<LineToPrice> = found
            .iter()
            .map(|(line, list_price, class, _, _)| LineToPrice {
                unit_price: line.unit_price.unwrap_or(*list_price),
                quantity: line.quantity.get(),
                class: *class,
                discount: line.discount,
            })
            .collect();
        let priced = price(
            &to_price,
            request.terms.discount,
            &prices.tax_rates(store, at),
        );
        // Offline, the till charged the prices it had: not an override.
        let overridden = offline.is_none()
            && found
                .iter()
                .any(|(line, list, _, _, _)| line.unit_price.is_some_and(|p| p != *list));
        let above = priced
            .lines
            .iter()
            .any(|l| above_threshold(l.discount, l.gross, rules.approval_percent));
        if (overridden || above) && request.terms.approved_by.is_none() {
            return Err(SaleError::ApprovalRequired {
                threshold_percent: rules.approval_percent,
            });
        }
        let settled = settle(Cents(priced.total), &request.terms.tenders)?;
        let lines = found
            .into_iter()
            .zip(to_price)
            .zip(priced.lines)
            .map(
                |(((line, list_price, class, available, requested), priced_at), p)| SoldLine {
                    sku: line.sku.clone(),
                    quantity: priced_at.quantity,
                    unit_price: priced_at.unit_price,
                    list_price,
                    tax_class: class,
                    discount: Cents(p.discount),
                    net: Cents(p.net),
                    taxes: p.taxes,
                    on_hand_after: available.saturating_sub(requested),
                    unstocked: requested.saturating_sub(available),
                },
            )
            .collect();
        Ok(SaleRecorded {
            sale: Sale {
                id: SaleId(self.last_sale + 1),
                lines,
                subtotal: Cents(priced.subtotal),
                discount: Cents(priced.discount),
                taxes: priced.taxes,
                total: Cents(priced.total),
                cash_rounding: settled.cash_rounding,
                tenders: settled.tenders,
                change: settled.change,
                till: at_till,
                approved_by: (overridden || above)
                    .then(|| request.terms.approved_by.clone())
                    .flatten(),
                at,
                by: stamp.by.clone(),
                recorded_at: offline.map(|_| stamp.at),
            },
            key,
        })
    }

    /// A return against `sale`, given every return already made against it (`earlier`):
    /// no line beyond what was sold, less what came back before. The caller reads the sale
    /// and its returns from the history; a `sale` of another id is refused as not found.
    pub fn decide_return(
        &self,
        store: StoreId,
        request: &ReturnRequest,
        (sale, earlier): (&Sale, &[Return]),
        rules: TillRules,
        stamp: &Stamp,
        key: Option<KeyUse>,
    ) -> Result<SaleReturned, ReturnError> {
        if sale.id != request.sale_id {
            return Err(ReturnError::SaleNotFound(request.sale_id));
        }
        let at_till = match request.till {
            Some(till) => Some(self.next_receipt(store, till, rules)?),
            None => None,
        };
        let mut not_in_sale = Vec::new();
        let mut excess = Vec::new();
        let mut lines = Vec::with_capacity(request.lines.len());
        for line in &request.lines {
            let Some(sold) = sale.lines.iter().find(|s| s.sku == line.sku) else {
                not_in_sale.push(line.sku.clone());
                continue;
            };
            let already_returned = returned_units(earlier, &line.sku);
            let requested = line.quantity.get();
            if already_returned + requested > sold.quantity {
                excess.push(ReturnExcess {
                    sku: line.sku.clone(),
                    sold: sold.quantity,
                    already_returned,
                    requested,
                });
                continue;
            }
            // The units' part of the line: what the line's first `after` units stand for,
            // less what the earlier units did, so the parts add up to the line exactly.
            let after = already_returned + requested;
            let portion = |amount: i64| {
                part(amount, after, sold.quantity) - part(amount, already_returned, sold.quantity)
            };
            // Returned units go back on the shelf; bounded by what was sold, so the sum
            // cannot realistically reach u32::MAX, and saturating keeps it a total function.
            let on_hand_after = self.stock_line(&line.sku).on_hand.saturating_add(requested);
            lines.push(ReturnedLine {
                sku: line.sku.clone(),
                quantity: requested,
                unit_price: sold.unit_price,
                tax_class: sold.tax_class,
                net: Cents(portion(sold.net.0)),
                taxes: sold.taxes.iter().map(|(c, t)| (*c, portion(*t))).collect(),
                on_hand_after,
            });
        }
        if !not_in_sale.is_empty() {
            return Err(ReturnError::NotInSale(not_in_sale));
        }
        if !excess.is_empty() {
            return Err(ReturnError::ExceedsSale(excess));
        }
        let subtotal: i64 = lines.iter().map(|l| l.net.0).sum();
        let taxable: i64 = lines
            .iter()
            .filter(|l| l.tax_class == TaxClass::Taxable)
            .map(|l| l.net.0)
            .sum();
        let taxes: Vec<TaxLine> = sale
            .taxes
            .iter()
            .enumerate()
            .map(|(i, t)| TaxLine {
                code: t.code,
                rate: t.rate,
                base_cents: taxable,
                amount_cents: lines
                    .iter()
                    .filter_map(|l| l.taxes.get(i))
                    .map(|(_, a)| a)
                    .sum(),
            })
            .collect();
        let due = subtotal + taxes.iter().map(|t| t.amount_cents).sum::<i64>();
        let units_back: u32 = earlier
            .iter()
            .flat_map(|r| &r.lines)
            .chain(&lines)
            .map(|l| l.quantity)
            .sum();
        let whole_sale_back = units_back == sale.lines.iter().map(|l| l.quantity).sum::<u32>();
        let refunded: Vec<Tender> = earlier.iter().flat_map(|r| r.tenders.clone()).collect();
        let (tenders, rounding) = refund_tenders(due, &sale.tenders, &refunded, whole_sale_back);
        Ok(SaleReturned {
            ret: Return {
                id: ReturnId(self.last_return + 1),
                sale_id: request.sale_id,
                lines,
                subtotal: Cents(subtotal),
                taxes,
                refund: Cents(due + rounding),
                cash_rounding: Cents(rounding),
                tenders,
                till: at_till,
                reason: request.reason.clone(),
                at: stamp.at,
                by: stamp.by.clone(),
            },
            key,
        })
    }

    pub fn decide_adjustment(
        &self,
        request: &AdjustmentRequest,
        prices: &dyn PriceLookup,
        stamp: &Stamp,
        key: Option<KeyUse>,
    ) -> Result<StockAdjusted, AdjustmentError> {
        let unknown: Vec<Sku> = request
            .lines
            .iter()
            .filter(|l| prices.price(&l.sku).is_none())
            .map(|l| l.sku.clone())
            .collect();
        if !unknown.is_empty() {
            return Err(AdjustmentError::UnknownSkus(unknown));
        }
        let mut out_of_bounds = Vec::new();
        let mut lines = Vec::with_capacity(request.lines.len());
        for line in &request.lines {
            let before = self.stock_line(&line.sku).on_hand;
            let after = match line.kind {
                AdjustmentKind::Count(counted) => Ok(counted),
                AdjustmentKind::Delta(delta) => before
                    .checked_add_signed(delta)
                    .filter(|after| *after <= MAX_ON_HAND)
                    .ok_or(delta),
            };
            match after {
                Ok(after) => lines.push(AdjustedLine {
                    sku: line.sku.clone(),
                    kind: line.kind,
                    on_hand_before: before,
                    on_hand_after: after,
                }),
                Err(delta) => out_of_bounds.push(NegativeLine {
                    sku: line.sku.clone(),
                    on_hand: before,
                    delta,
                }),
            }
        }
        if !out_of_bounds.is_empty() {
            return Err(AdjustmentError::OutOfBounds(out_of_bounds));
        }
        Ok(StockAdjusted {
            adjustment: Adjustment {
                id: AdjustmentId(self.last_adjustment + 1),
                reason: request.reason.clone(),
                lines,
                at: stamp.at,
                by: stamp.by.clone(),
            },
            key,
        })
    }

    /// Reorder point and target level of a line: `Ok(None)` when the line has them already
    /// (nothing to journal), `Err(InvalidLevels)` when they make no sense together.
    pub fn decide_levels(
        &self,
        sku: Sku,
        reorder_point: u32,
        target_level: u32,
    ) -> Result<Option<StockLevelsSet>, InvalidLevels> {
        if reorder_point > target_level || target_level > MAX_ON_HAND {
            return Err(InvalidLevels);
        }
        let line = self.stock_line(&sku);
        Ok(
            ((line.reorder_point, line.target_level) != (reorder_point, target_level)).then_some(
                StockLevelsSet {
                    sku,
                    reorder_point,
                    target_level,
                },
            ),
        )
    }

    /// The only code that changes a store's state, live and in recovery alike.
    pub fn apply(&mut self, event: &StoreEvent) {
        match event {
            StoreEvent::SaleRecorded(SaleRecorded { sale, key }) => {
                for line in &sale.lines {
                    self.set_on_hand(&line.sku, line.on_hand_after);
                    if line.unstocked > 0 {
                        self.stock.entry(line.sku.clone()).or_default().to_count = true;
                    }
                }
                if let Some(session) = self.rung_at(sale.till) {
                    session.totals.add_sale(sale);
                }
                self.last_sale = self.last_sale.max(sale.id.0);
                self.remember(key, Outcome::Sale(sale.id), sale.recorded());
            }
            StoreEvent::SaleReturned(SaleReturned { ret, key }) => {
                for line in &ret.lines {
                    self.set_on_hand(&line.sku, line.on_hand_after);
                }
                if let Some(session) = self.rung_at(ret.till) {
                    session.totals.add_return(ret);
                }
                self.last_return = self.last_return.max(ret.id.0);
                self.remember(key, Outcome::Return(ret.id), ret.at);
            }
            StoreEvent::StockAdjusted(StockAdjusted { adjustment, key }) => {
                for line in &adjustment.lines {
                    self.set_on_hand(&line.sku, line.on_hand_after);
                    if let (AdjustmentKind::Count(_), Some(counted)) =
                        (line.kind, self.stock.get_mut(&line.sku))
                    {
                        counted.to_count = false;
                    }
                }
                self.last_adjustment = self.last_adjustment.max(adjustment.id.0);
                self.remember(key, Outcome::Adjustment(adjustment.id), adjustment.at);
            }
            StoreEvent::RestockRequested(RestockRequested { request, key }) => {
                self.remember(
                    key,
                    Outcome::Restock(request.id.number),
                    request.requested_at,
                );
                self.restocks.insert(request.id.number, request.clone());
            }
            StoreEvent::RestockStep(done) => {
                match &done.step {
                    StepKind::Received(lines) => {
                        for line in lines {
                            self.set_on_hand(&line.sku, line.on_hand_after);
                        }
                    }
                    // Damaged units never reach on-hand: they are written off on receipt.
                    StepKind::ReceivedCounted(lines) => {
                        for line in lines {
                            self.set_on_hand(&line.sku, line.on_hand_after);
                        }
                    }
                    StepKind::Allocated(_)
                    | StepKind::Shipped(_)
                    | StepKind::Rejected(_)
                    | StepKind::Cancelled => {}
                }
                if let Some(request) = self.restocks.get_mut(&done.number) {
                    request.apply(done);
                }
            }
            // Written by compaction in format version 1, when the state held sales; the
            // state holds none now, so there is nothing to let go.
            StoreEvent::SalesLetGo { .. } => {}
            StoreEvent::Transfer(event) => {
                for (sku, on_hand) in self.transfers.apply(event) {
                    self.set_on_hand(&sku, on_hand);
                }
            }
            StoreEvent::SessionOpened(SessionOpened { till, session, key }) => {
                self.last_session = self.last_session.max(session.number);
                self.remember(
                    key,
                    Outcome::SessionOpened(session.number),
                    session.opened_at,
                );
                self.tills.entry(*till).or_default().session = Some(session.clone());
            }
            StoreEvent::SessionClosed(closed) => {
                let SessionClosed { report, key } = closed.as_ref();
                if let Some(closing) = &report.closing {
                    self.last_z = self.last_z.max(closing.z_number);
                    self.remember(
                        key,
                        Outcome::SessionClosed(closing.z_number),
                        closing.closed_at,
                    );
                }
                if let Some(till) = self.tills.get_mut(&report.till)
                    && till
                        .session
                        .as_ref()
                        .is_some_and(|s| s.number == report.session)
                {
                    till.session = None;
                }
            }
            StoreEvent::StockLevelsSet(StockLevelsSet {
                sku,
                reorder_point,
                target_level,
            }) => {
                let line = self.stock.entry(sku.clone()).or_default();
                line.reorder_point = *reorder_point;
                line.target_level = *target_level;
            }
        }
    }

    /// [`StoreState::apply`] for recovery, which owns each event it decodes.
    pub fn apply_owned(&mut self, event: StoreEvent) {
        self.apply(&event);
    }

    /// The open session a till sale or refund was rung in, after taking its receipt number.
    fn rung_at(&mut self, at: Option<AtTill>) -> Option<&mut OpenSession> {
        let at = at?;
        let till = self.tills.entry(at.till).or_default();
        till.last_receipt = till.last_receipt.max(at.receipt.number);
        till.session.as_mut().filter(|s| s.number == at.session)
    }

    /// Sets a line's on-hand, copying the SKU only for a line not yet in this store.
    fn set_on_hand(&mut self, sku: &Sku, on_hand: u32) {
        match self.stock.get_mut(sku) {
            Some(line) => line.on_hand = on_hand,
            None => {
                self.stock.insert(
                    sku.clone(),
                    StockLine {
                        on_hand,
                        ..StockLine::default()
                    },
                );
            }
        }
    }

    fn remember(&mut self, key: &Option<KeyUse>, outcome: Outcome, at: Timestamp) {
        if let Some(used) = key {
            self.keys.remember(used, outcome, at);
        }
    }
}

/// Units of `sku` already returned over `returns`.
fn returned_units(returns: &[Return], sku: &Sku) -> u32 {
    returns
        .iter()
        .flat_map(|ret| &ret.lines)
        .filter(|line| &line.sku == sku)
        .map(|line| line.quantity)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shelf(sku: &Sku) -> Option<Cents> {
        (sku.as_str() != "NOPE-1").then_some(Cents(250))
    }

    #[allow(non_upper_case_globals)]
    const Prices: crate::domain::testing::Catalog<crate::domain::testing::Shelf> =
        crate::domain::testing::untaxed(shelf);

    fn store() -> StoreId {
        StoreId::new(1).expect("store 1")
    }

    fn stamp(at: i64) -> Stamp {
        Stamp {
            at: Timestamp(at),
            by: Username::parse("caissier1").expect("valid name"),
        }
    }

    fn sku(s: &str) -> Sku {
        Sku::parse(s).expect("test sku")
    }

    fn line(s: &str, q: i64) -> RequestedLine {
        RequestedLine {
            sku: sku(s),
            quantity: Quantity::new(q).expect("test quantity"),
        }
    }

    fn stocked(counts: &[(&str, i64)]) -> StoreState {
        let mut state = StoreState::default();
        let lines = counts
            .iter()
            .map(|(s, c)| AdjustmentLine::count(sku(s), *c).expect("valid count"))
            .collect();
        let request = AdjustmentRequest::new("inventaire".into(), lines).expect("valid lines");
        let event = state
            .decide_adjustment(&request, &Prices, &stamp(0), None)
            .expect("count accepted");
        state.apply(&StoreEvent::StockAdjusted(event));
        state
    }

    fn sell(state: &mut StoreState, lines: Vec<RequestedLine>) -> Result<Sale, SaleError> {
        let request = SaleRequest::new(lines).expect("valid lines");
        let recorded = state.decide_sale(store(), &request, &Prices, &stamp(1), None)?;
        let sale = recorded.sale.clone();
        state.apply(&StoreEvent::SaleRecorded(recorded));
        Ok(sale)
    }

    fn give_back(
        state: &mut StoreState,
        sale: &Sale,
        earlier: &[Return],
        lines: Vec<RequestedLine>,
    ) -> Result<Return, ReturnError> {
        let request = ReturnRequest::new(sale.id, lines, None).expect("valid lines");
        let returned = state.decide_return(
            store(),
            &request,
            (sale, earlier),
            Prices.till_rules(store()),
            &stamp(2),
            None,
        )?;
        let ret = returned.ret.clone();
        state.apply(&StoreEvent::SaleReturned(returned));
        Ok(ret)
    }

    #[test]
    fn a_return_is_decided_against_the_sale_and_every_earlier_return() {
        let mut state = stocked(&[("AAA-1", 10), ("BBB-1", 10)]);
        let sale = sell(&mut state, vec![line("AAA-1", 3), line("BBB-1", 1)]).expect("in stock");
        let first = give_back(&mut state, &sale, &[], vec![line("AAA-1", 2)]).expect("returnable");
        assert_eq!(state.stock_line(&sku("AAA-1")).on_hand, 9);
        assert_eq!(first.refund, Cents(500));
        // With the first return known, only one more unit of AAA-1 can come back.
        let err = give_back(
            &mut state,
            &sale,
            std::slice::from_ref(&first),
            vec![line("AAA-1", 2)],
        )
        .expect_err("exceeds");
        let ReturnError::ExceedsSale(excess) = err else {
            panic!("expected an excess, got {err:?}");
        };
        assert_eq!(
            (
                excess[0].sold,
                excess[0].already_returned,
                excess[0].requested
            ),
            (3, 2, 2)
        );
        let second = give_back(
            &mut state,
            &sale,
            std::slice::from_ref(&first),
            vec![line("AAA-1", 1)],
        )
        .expect("the last unit");
        assert_eq!(second.id, ReturnId(first.id.0 + 1));
        assert!(matches!(
            give_back(&mut state, &sale, &[first, second], vec![line("CCC-1", 1)]),
            Err(ReturnError::NotInSale(_))
        ));
        // A sale read for another id than the one asked is not the sale of the return.
        let request = ReturnRequest::new(SaleId(99), vec![line("AAA-1", 1)], None).expect("valid");
        assert!(matches!(
            state.decide_return(
                store(),
                &request,
                (&sale, &[]),
                Prices.till_rules(store()),
                &stamp(3),
                None
            ),
            Err(ReturnError::SaleNotFound(SaleId(99)))
        ));
    }

    #[test]
    fn ids_go_on_from_the_last_given_and_the_state_holds_no_sale() {
        let mut state = stocked(&[("AAA-1", 1_000)]);
        let mut last = None;
        for _ in 0..500 {
            last = Some(sell(&mut state, vec![line("AAA-1", 1)]).expect("in stock"));
        }
        let last = last.expect("sold");
        assert_eq!(last.id, SaleId(500));
        assert_eq!(state.last_sale(), SaleId(500));
        // What the state holds is its stock line and three counters, whatever it sold.
        let mut fresh = stocked(&[("AAA-1", 500)]);
        fresh.last_sale = 500;
        assert_eq!(state, fresh);
    }

    fn retention(ms: i64) -> KeyRetention {
        KeyRetention::from_millis(ms).expect("within the bounds")
    }

    /// Sells one unit of AAA-1 at `at` under `key`, as the actor would.
    fn sell_keyed(state: &mut StoreState, at: i64, key: &str) -> SaleRecorded {
        let request = SaleRequest::new(vec![line("AAA-1", 1)]).expect("valid");
        let used = KeyUse {
            key: IdempotencyKey::parse(key).expect("valid key"),
            fingerprint: request.fingerprint(),
        };
        let recorded = state
            .decide_sale(store(), &request, &Prices, &stamp(at), Some(used))
            .expect("in stock");
        state.apply(&StoreEvent::SaleRecorded(recorded.clone()));
        recorded
    }

    /// The check the actor makes at `now`, for one unit of AAA-1 (`units` for another body).
    fn check_at(
        state: &StoreState,
        keys: KeyRetention,
        now: i64,
        key: &str,
        units: i64,
    ) -> KeyCheck {
        let request = SaleRequest::new(vec![line("AAA-1", units)]).expect("valid");
        let key = IdempotencyKey::parse(key).expect("valid key");
        state.check_key(&key, request.fingerprint(), keys, Timestamp(now))
    }

    #[test]
    fn a_key_replays_for_exactly_its_window_then_is_new() {
        for window in [
            72 * HOUR_MS,
            3_000,
            KeyRetention::MIN_MS,
            KeyRetention::MAX_MS,
        ] {
            let keys = retention(window);
            let mut state = stocked(&[("AAA-1", 50)]);
            let t0 = 1_700_000_000_000;
            sell_keyed(&mut state, t0, "till-1-0001");
            let replay = KeyCheck::Replay(Outcome::Sale(SaleId(1)));
            for now in [t0, t0 + 1, t0 + window - 1, t0 + window] {
                assert_eq!(check_at(&state, keys, now, "till-1-0001", 1), replay);
                assert_eq!(
                    check_at(&state, keys, now, "till-1-0001", 2),
                    KeyCheck::Conflict,
                    "another body within the window ({window} ms)"
                );
            }
            // One millisecond past the window, with no sweep in between: new again, for
            // the same body and for another.
            for units in [1, 2] {
                assert_eq!(
                    check_at(&state, keys, t0 + window + 1, "till-1-0001", units),
                    KeyCheck::Fresh,
                    "{window} ms"
                );
            }
            assert_eq!(
                check_at(&state, keys, t0, "till-1-0002", 1),
                KeyCheck::Fresh
            );
        }
    }

    #[test]
    fn a_key_used_again_after_its_window_answers_its_new_write() {
        let keys = retention(3_000);
        let mut state = stocked(&[("AAA-1", 50)]);
        sell_keyed(&mut state, 10_000, "till-1-0001");
        let later = 10_000 + 3_001;
        assert_eq!(
            check_at(&state, keys, later, "till-1-0001", 1),
            KeyCheck::Fresh
        );
        state.let_go_keys(keys, Timestamp(later));
        sell_keyed(&mut state, later, "till-1-0001");
        assert_eq!(
            check_at(&state, keys, later + 3_000, "till-1-0001", 1),
            KeyCheck::Replay(Outcome::Sale(SaleId(2)))
        );
        assert_eq!(state.keys().len(), 1);
    }

    #[test]
    fn expired_keys_leave_memory_within_one_sweep_interval() {
        let keys = retention(72 * HOUR_MS);
        assert_eq!(keys.sweep_every_ms(), HOUR_MS);
        let mut state = stocked(&[("AAA-1", 50)]);
        sell_keyed(&mut state, 0, "till-1-0001");
        sell_keyed(&mut state, 2 * HOUR_MS, "till-1-0002");
        // At the end of the first key's window both are still in it.
        state.let_go_keys(keys, Timestamp(72 * HOUR_MS));
        assert_eq!(state.keys().len(), 2);
        // Past it, but within an hour of the last sweep: not swept yet, yet not answered.
        let now = 72 * HOUR_MS + HOUR_MS - 1;
        state.let_go_keys(keys, Timestamp(now));
        assert_eq!(state.keys().len(), 2);
        assert_eq!(
            check_at(&state, keys, now, "till-1-0001", 1),
            KeyCheck::Fresh
        );
        // An hour after the last sweep: gone; the younger key stays.
        state.let_go_keys(keys, Timestamp(73 * HOUR_MS));
        assert_eq!(state.keys().len(), 1);
        assert_eq!(
            check_at(&state, keys, 73 * HOUR_MS, "till-1-0002", 1),
            KeyCheck::Replay(Outcome::Sale(SaleId(2)))
        );
        // A window of seconds sweeps at its own scale.
        let short = retention(3_000);
        assert_eq!(short.sweep_every_ms(), 41);
        let mut state = stocked(&[("AAA-1", 50)]);
        sell_keyed(&mut state, 0, "till-1-0001");
        state.let_go_keys(short, Timestamp(3_000 + 41));
        assert!(state.keys().is_empty());
    }

    #[test]
    fn an_offline_sale_s_key_is_remembered_from_when_the_server_recorded_it() {
        let keys = retention(72 * HOUR_MS);
        let mut state = stocked(&[("AAA-1", 50)]);
        let recorded_at = 100 * HOUR_MS;
        let request = SaleRequest::new(vec![line("AAA-1", 1)]).expect("valid");
        let used = KeyUse {
            key: IdempotencyKey::parse("hors-ligne-1").expect("valid key"),
            fingerprint: request.fingerprint(),
        };
        let mut event = state
            .decide_sale(store(), &request, &Prices, &stamp(recorded_at), Some(used))
            .expect("in stock");
        // Rung 70 hours before the till could send it.
        event.sale.at = Timestamp(recorded_at - 70 * HOUR_MS);
        event.sale.recorded_at = Some(Timestamp(recorded_at));
        state.apply(&StoreEvent::SaleRecorded(event));
        assert_eq!(
            check_at(&state, keys, recorded_at + 71 * HOUR_MS, "hors-ligne-1", 1),
            KeyCheck::Replay(Outcome::Sale(SaleId(1)))
        );
        assert_eq!(
            check_at(
                &state,
                keys,
                recorded_at + 72 * HOUR_MS + 1,
                "hors-ligne-1",
                1
            ),
            KeyCheck::Fresh
        );
    }

    #[test]
    fn the_retention_window_is_between_a_second_and_30_days() {
        assert_eq!(
            KeyRetention::from_millis(999),
            Err(RetentionOutOfBounds(999))
        );
        assert_eq!(KeyRetention::from_millis(0), Err(RetentionOutOfBounds(0)));
        assert_eq!(KeyRetention::from_millis(-1), Err(RetentionOutOfBounds(-1)));
        assert_eq!(retention(1_000).window_ms(), 1_000);
        assert_eq!(retention(1_000).sweep_every_ms(), 13);
        assert_eq!(
            retention(30 * 24 * HOUR_MS).window_ms(),
            KeyRetention::MAX_MS
        );
        let over = KeyRetention::MAX_MS + 1;
        assert_eq!(
            KeyRetention::from_millis(over),
            Err(RetentionOutOfBounds(over))
        );
        assert_eq!(retention(5_000).oldest(Timestamp(12_000)), Timestamp(7_000));
    }

    #[test]
    fn a_sale_with_one_short_line_changes_nothing_and_lists_every_short_line() {
        let mut state = stocked(&[("AAA-1", 5), ("BBB-1", 1), ("CCC-1", 0)]);
        let before = state.clone();
        let err = sell(
            &mut state,
            vec![line("AAA-1", 2), line("BBB-1", 2), line("CCC-1", 1)],
        )
        .expect_err("two lines are short");
        let SaleError::InsufficientStock(short) = err else {
            panic!("expected a shortage, got {err:?}");
        };
        let skus: Vec<&str> = short.iter().map(|s| s.sku.as_str()).collect();
        assert_eq!(skus, vec!["BBB-1", "CCC-1"]);
        assert_eq!(state, before);
    }

    #[test]
    fn a_sale_captures_price_and_total() {
        let mut state = stocked(&[("AAA-1", 5)]);
        let sale = sell(&mut state, vec![line("AAA-1", 3)]).expect("in stock");
        assert_eq!(sale.total, Cents(750));
        assert_eq!(sale.id, SaleId(1));
        assert_eq!(state.stock_line(&sku("AAA-1")).on_hand, 2);
    }

    #[test]
    fn unknown_skus_are_named() {
        let mut state = stocked(&[("AAA-1", 5)]);
        let err = sell(&mut state, vec![line("NOPE-1", 1)]).expect_err("unknown");
        assert_eq!(err, SaleError::UnknownSkus(vec![sku("NOPE-1")]));
    }

    #[test]
    fn duplicate_lines_are_refused() {
        let err =
            SaleRequest::new(vec![line("AAA-1", 1), line("AAA-1", 2)]).expect_err("duplicate");
        assert_eq!(
            err,
            LinesError::Duplicate {
                index: 1,
                sku: sku("AAA-1")
            }
        );
        assert_eq!(SaleRequest::new(vec![]), Err(LinesError::Empty));
    }

    #[test]
    fn a_negative_delta_cannot_go_below_zero() {
        let state = stocked(&[("AAA-1", 2)]);
        let lines = vec![AdjustmentLine::delta(sku("AAA-1"), -3).expect("valid delta")];
        let request = AdjustmentRequest::new("casse".into(), lines).expect("valid lines");
        let err = state
            .decide_adjustment(&request, &Prices, &stamp(0), None)
            .expect_err("would go negative");
        assert!(matches!(err, AdjustmentError::OutOfBounds(_)));
    }

    #[test]
    fn idempotency_keys_replay_or_conflict() {
        let mut state = stocked(&[("AAA-1", 5)]);
        let request = SaleRequest::new(vec![line("AAA-1", 1)]).expect("valid");
        let key = IdempotencyKey::parse("till-7-0001").expect("valid key");
        let used = KeyUse {
            key: key.clone(),
            fingerprint: request.fingerprint(),
        };
        let event = state
            .decide_sale(store(), &request, &Prices, &stamp(0), Some(used))
            .expect("in stock");
        state.apply(&StoreEvent::SaleRecorded(event));
        let (keys, now) = (retention(72 * HOUR_MS), Timestamp(0));
        assert_eq!(
            state.check_key(&key, request.fingerprint(), keys, now),
            KeyCheck::Replay(Outcome::Sale(SaleId(1)))
        );
        let other = SaleRequest::new(vec![line("AAA-1", 2)]).expect("valid");
        assert_eq!(
            state.check_key(&key, other.fingerprint(), keys, now),
            KeyCheck::Conflict
        );
    }

    proptest! {
        /// Whatever sequence of sales, returns and deltas is tried, stock never goes negative
        /// (u32 would wrap, so "never below zero" means "never wraps": on-hand stays equal to
        /// counted − sold + returned + deltas), and no line is returned beyond what was sold.
        /// The test keeps the sales and returns, as the history does.
        #[test]
        fn stock_is_conserved_and_returns_never_exceed_sales(
            ops in proptest::collection::vec((0u8..3, 1i64..8, 0usize..3), 1..80)
        ) {
            let skus = ["AAA-1", "BBB-1", "CCC-1"];
            let mut state = stocked(&[("AAA-1", 10), ("BBB-1", 10), ("CCC-1", 10)]);
            let mut expected = [10i64, 10, 10];
            let mut sales: Vec<Sale> = Vec::new();
            let mut returns: Vec<Return> = Vec::new();
            for (op, qty, which) in ops {
                let s = skus[which];
                match op {
                    0 => if let Ok(sale) = sell(&mut state, vec![line(s, qty)]) {
                        expected[which] -= qty;
                        sales.push(sale);
                    },
                    1 => {
                        if let Some(sale) = sales.last() {
                            let earlier: Vec<Return> = returns.iter().filter(|r| r.sale_id == sale.id).cloned().collect();
                            if let Ok(ret) = give_back(&mut state, sale, &earlier, vec![line(s, qty)]) {
                                expected[which] += qty;
                                returns.push(ret);
                            }
                        }
                    }
                    _ => {
                        let delta = AdjustmentLine::delta(sku(s), -qty).expect("valid delta");
                        let request = AdjustmentRequest::new("casse".into(), vec![delta]).expect("valid");
                        if let Ok(event) = state.decide_adjustment(&request, &Prices, &stamp(3), None) {
                            state.apply(&StoreEvent::StockAdjusted(event));
                            expected[which] -= qty;
                        }
                    }
                }
                for (i, s) in skus.iter().enumerate() {
                    prop_assert!(expected[i] >= 0);
                    prop_assert_eq!(i64::from(state.stock_line(&sku(s)).on_hand), expected[i]);
                }
                for sale in &sales {
                    for sold in &sale.lines {
                        let back: u32 = returns
                            .iter()
                            .filter(|r| r.sale_id == sale.id)
                            .flat_map(|r| &r.lines)
                            .filter(|l| l.sku == sold.sku)
                            .map(|l| l.quantity)
                            .sum();
                        prop_assert!(back <= sold.quantity);
                    }
                }
            }
        }
    }
}
