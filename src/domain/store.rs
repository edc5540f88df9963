//! One store's stock, sales, returns and adjustments, and the rules that change them.
//!
//! Every change goes `decide_*` (check against the current state, produce one event, change
//! nothing) then [`StoreState::apply`] (the only code that mutates). Recovery replays the
//! same `apply`, so a rule added to `apply` that is not a pure function of the event breaks
//! recovery.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::legacy::StoreStateV1;
use super::restock::{
    ReceivedLine, RestockError, RestockId, RestockLine, RestockRequest, RestockStatus, RestockStep,
    RestockStepDone, StepDecision, StepKind, decide_step,
};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub at: Timestamp,
    pub by: Username,
}

/// What the store needs to know of the catalog: whether a SKU exists and its current price.
pub trait PriceLookup {
    fn price(&self, sku: &Sku) -> Option<Cents>;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    pub on_hand: u32,
    pub reorder_point: u32,
    pub target_level: u32,
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

fn check_lines<'a>(skus: impl Iterator<Item = &'a Sku>) -> Result<(), LinesError> {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRequest {
    lines: Vec<RequestedLine>,
}

impl SaleRequest {
    pub fn new(lines: Vec<RequestedLine>) -> Result<Self, LinesError> {
        check_lines(lines.iter().map(|l| &l.sku))?;
        Ok(Self { lines })
    }

    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint("sale", self.lines.iter().map(line_bytes))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnRequest {
    sale_id: SaleId,
    lines: Vec<RequestedLine>,
    reason: Option<String>,
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
        })
    }

    /// The sale the lines come back from.
    pub fn sale_id(&self) -> SaleId {
        self.sale_id
    }

    pub fn fingerprint(&self) -> Fingerprint {
        let head = [
            self.sale_id.0.to_le_bytes().to_vec(),
            self.reason.clone().unwrap_or_default().into_bytes(),
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
    /// The shelf price when the sale was made; later price changes do not touch it.
    pub unit_price: Cents,
    pub on_hand_after: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    pub id: SaleId,
    pub lines: Vec<SoldLine>,
    pub total: Cents,
    pub at: Timestamp,
    /// Who rang it up.
    pub by: Username,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnedLine {
    pub sku: Sku,
    pub quantity: u32,
    pub unit_price: Cents,
    pub on_hand_after: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    pub id: ReturnId,
    pub sale_id: SaleId,
    pub lines: Vec<ReturnedLine>,
    pub refund: Cents,
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

/// How long a store remembers an idempotency key after the write that used it: a till
/// retrying within this window gets the original answer; after it, the key is new again.
/// Three days: a till that sells offline over a long weekend still replays safely (ADR 0018).
pub const KEY_RETENTION_MS: i64 = 72 * HOUR_MS;
/// Expired keys are dropped once an hour of event time, so a key is remembered for at
/// least [`KEY_RETENTION_MS`] and at most one hour more.
const KEY_SWEEP_MS: i64 = HOUR_MS;

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

/// The idempotency keys of the last [`KEY_RETENTION_MS`] of a store's writes. Bounded by
/// the window, never by the store's history; not part of a snapshot (the history on disk
/// keeps every key with its time, and recovery loads the window from it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyWindow {
    keys: HashMap<KeyDigest, Remembered>,
    /// Event time of the last sweep of expired keys.
    swept_at: i64,
}

impl KeyWindow {
    fn check(&self, key: &IdempotencyKey, fingerprint: Fingerprint) -> KeyCheck {
        match self.keys.get(&KeyDigest::of(key)) {
            None => KeyCheck::Fresh,
            Some(seen) if seen.fingerprint == short_fingerprint(fingerprint) => {
                KeyCheck::Replay(seen.outcome)
            }
            Some(_) => KeyCheck::Conflict,
        }
    }

    fn remember(&mut self, used: &KeyUse, outcome: Outcome, at: Timestamp) {
        if at.0.saturating_sub(self.swept_at) >= KEY_SWEEP_MS {
            let oldest = at.0.saturating_sub(KEY_RETENTION_MS);
            self.keys.retain(|_, seen| seen.at.0 >= oldest);
            self.swept_at = at.0;
        }
        self.keys.insert(
            KeyDigest::of(&used.key),
            Remembered {
                fingerprint: short_fingerprint(used.fingerprint),
                outcome,
                at,
            },
        );
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
    #[serde(skip)]
    keys: KeyWindow,
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
            stock: old.stock,
            restocks: old.restocks,
            keys: KeyWindow::default(),
        }
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
        if let StepKind::Received(lines) = &mut done.step {
            *lines = request
                .lines
                .iter()
                .filter(|l| l.shipped > 0)
                .map(|l| ReceivedLine {
                    sku: l.sku.clone(),
                    quantity: l.shipped,
                    on_hand_after: self.stock_line(&l.sku).on_hand.saturating_add(l.shipped),
                })
                .collect();
        }
        Ok(Some(done))
    }

    pub fn check_key(&self, key: &IdempotencyKey, fingerprint: Fingerprint) -> KeyCheck {
        self.keys.check(key, fingerprint)
    }

    /// All-or-nothing: every line is checked, and every failing line is reported.
    pub fn decide_sale(
        &self,
        request: &SaleRequest,
        prices: &dyn PriceLookup,
        stamp: &Stamp,
        key: Option<KeyUse>,
    ) -> Result<SaleRecorded, SaleError> {
        let mut unknown = Vec::new();
        let mut short = Vec::new();
        let mut lines = Vec::with_capacity(request.lines.len());
        for line in &request.lines {
            let Some(unit_price) = prices.price(&line.sku) else {
                unknown.push(line.sku.clone());
                continue;
            };
            let available = self.stock_line(&line.sku).on_hand;
            let requested = line.quantity.get();
            if requested > available {
                short.push(Shortage {
                    sku: line.sku.clone(),
                    requested,
                    available,
                });
                continue;
            }
            lines.push(SoldLine {
                sku: line.sku.clone(),
                quantity: requested,
                unit_price,
                on_hand_after: available - requested,
            });
        }
        if !unknown.is_empty() {
            return Err(SaleError::UnknownSkus(unknown));
        }
        if !short.is_empty() {
            return Err(SaleError::InsufficientStock(short));
        }
        let total = lines.iter().map(|l| l.unit_price * l.quantity).sum();
        let id = SaleId(self.last_sale + 1);
        Ok(SaleRecorded {
            sale: Sale {
                id,
                lines,
                total,
                at: stamp.at,
                by: stamp.by.clone(),
            },
            key,
        })
    }

    /// A return against `sale`, given every return already made against it (`earlier`):
    /// no line beyond what was sold, less what came back before. The caller reads the sale
    /// and its returns from the history; a `sale` of another id is refused as not found.
    pub fn decide_return(
        &self,
        request: &ReturnRequest,
        sale: &Sale,
        earlier: &[Return],
        stamp: &Stamp,
        key: Option<KeyUse>,
    ) -> Result<SaleReturned, ReturnError> {
        if sale.id != request.sale_id {
            return Err(ReturnError::SaleNotFound(request.sale_id));
        }
        let recorded = sale;
        let mut not_in_sale = Vec::new();
        let mut excess = Vec::new();
        let mut lines = Vec::with_capacity(request.lines.len());
        for line in &request.lines {
            let Some(sold) = recorded.lines.iter().find(|s| s.sku == line.sku) else {
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
            // Returned units go back on the shelf; bounded by what was sold, so the sum
            // cannot realistically reach u32::MAX, and saturating keeps it a total function.
            let on_hand_after = self.stock_line(&line.sku).on_hand.saturating_add(requested);
            lines.push(ReturnedLine {
                sku: line.sku.clone(),
                quantity: requested,
                unit_price: sold.unit_price,
                on_hand_after,
            });
        }
        if !not_in_sale.is_empty() {
            return Err(ReturnError::NotInSale(not_in_sale));
        }
        if !excess.is_empty() {
            return Err(ReturnError::ExceedsSale(excess));
        }
        let refund = lines.iter().map(|l| l.unit_price * l.quantity).sum();
        let id = ReturnId(self.last_return + 1);
        Ok(SaleReturned {
            ret: Return {
                id,
                sale_id: request.sale_id,
                lines,
                refund,
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
                }
                self.last_sale = self.last_sale.max(sale.id.0);
                self.remember(key, Outcome::Sale(sale.id), sale.at);
            }
            StoreEvent::SaleReturned(SaleReturned { ret, key }) => {
                for line in &ret.lines {
                    self.set_on_hand(&line.sku, line.on_hand_after);
                }
                self.last_return = self.last_return.max(ret.id.0);
                self.remember(key, Outcome::Return(ret.id), ret.at);
            }
            StoreEvent::StockAdjusted(StockAdjusted { adjustment, key }) => {
                for line in &adjustment.lines {
                    self.set_on_hand(&line.sku, line.on_hand_after);
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
                if let StepKind::Received(lines) = &done.step {
                    for line in lines {
                        self.set_on_hand(&line.sku, line.on_hand_after);
                    }
                }
                if let Some(request) = self.restocks.get_mut(&done.number) {
                    request.apply(done);
                }
            }
            // Written by compaction in format version 1, when the state held sales; the
            // state holds none now, so there is nothing to let go.
            StoreEvent::SalesLetGo { .. } => {}
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

    struct Prices;
    impl PriceLookup for Prices {
        fn price(&self, sku: &Sku) -> Option<Cents> {
            (sku.as_str() != "NOPE-1").then_some(Cents(250))
        }
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
        let recorded = state.decide_sale(&request, &Prices, &stamp(1), None)?;
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
        let returned = state.decide_return(&request, sale, earlier, &stamp(2), None)?;
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
            state.decide_return(&request, &sale, &[], &stamp(3), None),
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

    #[test]
    fn a_key_is_remembered_for_its_retention_window_then_forgotten() {
        let mut state = stocked(&[("AAA-1", 50)]);
        let request = SaleRequest::new(vec![line("AAA-1", 1)]).expect("valid");
        let used = |k: &str| KeyUse {
            key: IdempotencyKey::parse(k).expect("valid key"),
            fingerprint: request.fingerprint(),
        };
        let sell_at = |state: &mut StoreState, at: i64, key: &str| {
            let recorded = state
                .decide_sale(&request, &Prices, &stamp(at), Some(used(key)))
                .expect("in stock");
            state.apply(&StoreEvent::SaleRecorded(recorded));
        };
        sell_at(&mut state, 0, "till-1-0001");
        sell_at(&mut state, 2 * HOUR_MS, "till-1-0002");
        let check =
            |state: &StoreState, k: &str| state.check_key(&used(k).key, request.fingerprint());
        assert_eq!(
            check(&state, "till-1-0001"),
            KeyCheck::Replay(Outcome::Sale(SaleId(1)))
        );
        // Just inside the window, both are remembered.
        sell_at(&mut state, KEY_RETENTION_MS, "till-1-0003");
        assert_eq!(
            check(&state, "till-1-0001"),
            KeyCheck::Replay(Outcome::Sale(SaleId(1)))
        );
        // Past it (and the hourly sweep), the first is forgotten, the second not yet.
        sell_at(&mut state, KEY_RETENTION_MS + HOUR_MS + 1, "till-1-0004");
        assert_eq!(check(&state, "till-1-0001"), KeyCheck::Fresh);
        assert_eq!(
            check(&state, "till-1-0002"),
            KeyCheck::Replay(Outcome::Sale(SaleId(2)))
        );
        assert_eq!(state.keys().len(), 3);
        // Another body under a remembered key is a conflict.
        let other = SaleRequest::new(vec![line("AAA-1", 2)]).expect("valid");
        assert_eq!(
            state.check_key(&used("till-1-0002").key, other.fingerprint()),
            KeyCheck::Conflict
        );
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
            .decide_sale(&request, &Prices, &stamp(0), Some(used))
            .expect("in stock");
        state.apply(&StoreEvent::SaleRecorded(event));
        assert_eq!(
            state.check_key(&key, request.fingerprint()),
            KeyCheck::Replay(Outcome::Sale(SaleId(1)))
        );
        let other = SaleRequest::new(vec![line("AAA-1", 2)]).expect("valid");
        assert_eq!(
            state.check_key(&key, other.fingerprint()),
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
