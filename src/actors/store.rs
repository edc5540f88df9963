//! `StoreActor`: the only writer of one store's state, and `StoreHandle`, how everything
//! else talks to it.
//!
//! The actor holds what its decisions need and nothing that grows with the store's
//! history: stock lines, restock requests, the last ids given, and the idempotency keys of
//! the retention window (`domain::StoreState`). Sales, returns and adjustments are read
//! from the history on disk (`persistence::History`), which the journal writer fills with
//! each committed batch before the writes are answered.
//!
//! A write follows the protocol of `durable`: decide against the in-memory state, apply at
//! once (the next sale in the mailbox sees the stock this one took), hand to the journal
//! writer, answer when durable. A return is decided against the sale and its earlier
//! returns read from the history by the handle, plus the returns this actor decided that
//! the read may not show yet ([`RecentReturns`]): two returns of the same line racing
//! each other can never both pass.

use actix::prelude::*;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clock::Clock;
use super::durable::{Durable, Journaled, StreamState, once_settled, when_durable};
use crate::domain::{
    Adjustment, AdjustmentError, AdjustmentRequest, DomainEvent, Fingerprint, IdempotencyKey,
    KeyCheck, KeyRetention, KeyUse, Outcome, PriceLookup, Return, ReturnError, ReturnRequest, Sale,
    SaleError, SaleId, SaleRequest, Sku, Stamp, StoreEvent, StoreId, StoreState, Username,
};
use crate::domain::{Cents, Count, SessionTotals, TillError, TillNumber, TillReport};
use crate::domain::{Receipt, RequestedLine, Transfer, TransferError, TransferEvent, TransferId};
use crate::domain::{RestockAsk, RestockError, RestockId, RestockRequest, RestockStep};
use crate::persistence::{History, Journal, JournalError, SaleRecord, StreamId};
use std::collections::BTreeMap;

/// Shared catalog prices, as the store reads them when it decides a sale.
pub type Prices = Arc<dyn PriceLookup + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sale(#[from] SaleError),
    #[error(transparent)]
    Return(#[from] ReturnError),
    #[error(transparent)]
    Adjustment(#[from] AdjustmentError),
    #[error(transparent)]
    Till(#[from] TillError),
    #[error("idempotency key reused with another request")]
    KeyReused,
    #[error("sale {} not found", .0.0)]
    SaleNotFound(SaleId),
    #[error("invalid stock levels for {0}")]
    InvalidLevels(Sku),
    #[error(transparent)]
    Restock(#[from] RestockError),
    #[error(transparent)]
    Transfer(#[from] TransferError),
    #[error("central stock of {0} would exceed its bound")]
    CentralOverflow(Sku),
    #[error("store busy or restarting")]
    Unavailable,
    /// Another instance, holding part of the work, did not answer.
    #[error("{0}")]
    Peer(String),
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// A return was decided on a read of the history older than what the store still
    /// remembers of the returns it made since: the handle reads again and resends.
    #[error("the read of the sale is too old; read it again")]
    StaleRead,
}

/// A write's answer, and whether it is the replay of an earlier request with the same key.
#[derive(Debug, Clone)]
pub struct Recorded<T> {
    pub value: T,
    pub replayed: bool,
}

/// A sale with the returns made against it so far.
#[derive(Debug, Clone)]
pub struct SaleView {
    pub sale: Sale,
    pub returns: Vec<Return>,
}

impl StreamState for StoreState {
    type Event = StoreEvent;

    fn apply(&mut self, event: &StoreEvent) {
        StoreState::apply(self, event);
    }
}

fn journaled(stream: &StreamId, event: StoreEvent) -> DomainEvent {
    match stream.store_id() {
        Some(store) => DomainEvent::Store(store, event),
        // A store actor's stream is always `store/{id}` (built by `StreamId::store`).
        None => unreachable!("a store actor journals to a store stream, not {stream}"),
    }
}

/// The returns this actor decided that a read of the history may not show yet: from their
/// decision until they are durable (and so in the history), and for [`RECENT_RETURNS`]
/// after, for reads made before they landed. A read older than the returns let go since
/// is refused ([`ReturnCheck::Stale`]) and made again. Bounded by the returns of a minute.
#[derive(Default)]
struct RecentReturns {
    kept: VecDeque<(u64, Instant, Return)>,
    /// The highest seq let go: a read of the history at an older watermark may miss it.
    let_go_up_to: u64,
}

/// How long a durable return stays in [`RecentReturns`].
const RECENT_RETURNS: Duration = Duration::from_secs(60);

enum ReturnCheck {
    Earlier(Vec<Return>),
    Stale,
}

impl RecentReturns {
    fn push(&mut self, seq: u64, ret: Return) {
        self.kept.push_back((seq, Instant::now(), ret));
    }

    fn let_go(&mut self, durable: u64) {
        while let Some((seq, at, _)) = self.kept.front() {
            if *seq > durable || at.elapsed() < RECENT_RETURNS {
                break;
            }
            self.let_go_up_to = self.let_go_up_to.max(*seq);
            self.kept.pop_front();
        }
    }

    /// Every return of the sale: those read (the history up to `watermark`) and those
    /// decided here after it.
    fn earlier(&self, read: &SaleRecord) -> ReturnCheck {
        if read.watermark < self.let_go_up_to {
            return ReturnCheck::Stale;
        }
        let mut all = read.returns.clone();
        for (seq, _, ret) in &self.kept {
            if *seq > read.watermark && ret.sale_id == read.sale.id {
                all.push(ret.clone());
            }
        }
        ReturnCheck::Earlier(all)
    }
}

pub struct StoreActor {
    id: StoreId,
    log: Durable<StoreState>,
    mailbox_capacity: usize,
    prices: Prices,
    clock: Clock,
    key_retention: KeyRetention,
    recent_returns: RecentReturns,
}

impl Journaled for StoreActor {
    type State = StoreState;

    fn stream(&mut self) -> &mut Durable<StoreState> {
        &mut self.log
    }
}

/// What the actor answers a write: the new value, or the outcome of the earlier request
/// with the same key (which the handle reads back from the history).
#[derive(Debug)]
pub enum Decided<T> {
    New(T),
    Again(Outcome),
}

type Answer<T> = ResponseActFuture<StoreActor, Result<Decided<T>, StoreError>>;

impl StoreActor {
    pub fn new(
        id: StoreId,
        state: StoreState,
        seq: u64,
        unsnapshotted: u64,
        journal: Journal,
        prices: Prices,
        settings: ActorSettings,
    ) -> Self {
        Self {
            id,
            log: Durable::recovered(
                StreamId::store(id),
                state,
                seq,
                unsnapshotted,
                journal,
                settings.snapshot_every,
                journaled,
            ),
            mailbox_capacity: settings.mailbox_capacity,
            prices,
            clock: settings.clock,
            key_retention: settings.key_retention,
            recent_returns: RecentReturns::default(),
        }
    }

    fn state(&self) -> &StoreState {
        &self.log.state
    }

    /// When and by whom a write is made, on the actors' clock.
    fn stamp(&self, by: Username) -> Stamp {
        Stamp {
            at: self.clock.now(),
            by,
        }
    }

    /// Journals `event`, answering `value` once it is durable.
    fn write<T: 'static>(&mut self, event: StoreEvent, value: T) -> Answer<T> {
        let ack = self.log.persist(vec![event]);
        when_durable(ack, Decided::New(value))
    }

    /// A replay: the outcome of the earlier request, once it is durable.
    fn again<T: 'static>(&mut self, outcome: Outcome) -> Answer<T> {
        once_settled(self, Decided::Again(outcome), StoreError::Unavailable)
    }

    /// A key of the retention window replays (or conflicts); an older one is new again.
    /// Lets go of the expired keys first, once per sweep interval.
    fn check_key(
        &mut self,
        key: Option<IdempotencyKey>,
        fingerprint: Fingerprint,
    ) -> Result<KeyStep, StoreError> {
        let Some(key) = key else {
            return Ok(KeyStep::Fresh(None));
        };
        let now = self.clock.now();
        self.log.state.let_go_keys(self.key_retention, now);
        match self
            .state()
            .check_key(&key, fingerprint, self.key_retention, now)
        {
            KeyCheck::Fresh => Ok(KeyStep::Fresh(Some(KeyUse { key, fingerprint }))),
            KeyCheck::Replay(outcome) => Ok(KeyStep::Replay(outcome)),
            KeyCheck::Conflict => Err(StoreError::KeyReused),
        }
    }
}

enum KeyStep {
    Fresh(Option<KeyUse>),
    Replay(Outcome),
}

fn refuse<T: 'static>(error: StoreError) -> ResponseActFuture<StoreActor, Result<T, StoreError>> {
    Box::pin(fut::ready(Err(error)))
}

#[derive(Debug, Clone)]
pub struct ActorSettings {
    pub snapshot_every: u64,
    pub mailbox_capacity: usize,
    pub ask_timeout: Duration,
    /// Stamps every write and dates the idempotency window; the wall clock in a server.
    pub clock: Clock,
    /// How long a store remembers an idempotency key (`[idempotency] retention_hours`).
    pub key_retention: KeyRetention,
}

impl Actor for StoreActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox_capacity);
    }
}

/// Records a sale. Answered only once the sale is durable in the journal (and in the
/// history); with a key already used for the same lines, answers the original sale and
/// records nothing.
#[derive(Message)]
#[rtype(result = "Result<Decided<Sale>, StoreError>")]
pub struct RecordSale {
    pub request: SaleRequest,
    pub key: Option<IdempotencyKey>,
    pub by: Username,
}

impl Handler<RecordSale> for StoreActor {
    type Result = Answer<Sale>;

    fn handle(&mut self, msg: RecordSale, _ctx: &mut Self::Context) -> Self::Result {
        let key = match self.check_key(msg.key, msg.request.fingerprint()) {
            Ok(KeyStep::Fresh(key)) => key,
            Ok(KeyStep::Replay(outcome)) => return self.again(outcome),
            Err(e) => return refuse(e),
        };
        let recorded = match self.state().decide_sale(
            self.id,
            &msg.request,
            self.prices.as_ref(),
            &self.stamp(msg.by),
            key,
        ) {
            Ok(recorded) => recorded,
            Err(e) => return refuse(e.into()),
        };
        let sale = recorded.sale.clone();
        self.write(StoreEvent::SaleRecorded(recorded), sale)
    }
}

/// Returns lines of an earlier sale (partial returns allowed, never beyond what was sold),
/// decided against `read`: the sale and its returns as the history had them. Answered once
/// durable; idempotent on its key like [`RecordSale`]. A read too old to be completed by
/// the returns this actor remembers is refused as stale (read again and resend).
#[derive(Message)]
#[rtype(result = "Result<Decided<Return>, StoreError>")]
pub struct ReturnLines {
    pub request: ReturnRequest,
    pub read: SaleRecord,
    pub key: Option<IdempotencyKey>,
    pub by: Username,
}

impl Handler<ReturnLines> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Decided<Return>, StoreError>>;

    fn handle(&mut self, msg: ReturnLines, _ctx: &mut Self::Context) -> Self::Result {
        let key = match self.check_key(msg.key, msg.request.fingerprint()) {
            Ok(KeyStep::Fresh(key)) => key,
            Ok(KeyStep::Replay(outcome)) => return self.again(outcome),
            Err(e) => return refuse(e),
        };
        let durable = *self.log.watch().borrow();
        self.recent_returns.let_go(durable);
        let earlier = match self.recent_returns.earlier(&msg.read) {
            ReturnCheck::Earlier(earlier) => earlier,
            ReturnCheck::Stale => return refuse(StoreError::StaleRead),
        };
        let returned = match self.state().decide_return(
            self.id,
            &msg.request,
            (&msg.read.sale, &earlier),
            self.prices.till_rules(self.id),
            &self.stamp(msg.by),
            key,
        ) {
            Ok(returned) => returned,
            Err(e) => return refuse(e.into()),
        };
        let ret = returned.ret.clone();
        let answer = self.write(StoreEvent::SaleReturned(returned), ret.clone());
        self.recent_returns.push(self.log.seq(), ret);
        answer
    }
}

/// Adjusts stock after a physical count or a correction. Answered once durable;
/// idempotent on its key.
#[derive(Message)]
#[rtype(result = "Result<Decided<Adjustment>, StoreError>")]
pub struct Adjust {
    pub request: AdjustmentRequest,
    pub key: Option<IdempotencyKey>,
    pub by: Username,
}

impl Handler<Adjust> for StoreActor {
    type Result = Answer<Adjustment>;

    fn handle(&mut self, msg: Adjust, _ctx: &mut Self::Context) -> Self::Result {
        let key = match self.check_key(msg.key, msg.request.fingerprint()) {
            Ok(KeyStep::Fresh(key)) => key,
            Ok(KeyStep::Replay(outcome)) => return self.again(outcome),
            Err(e) => return refuse(e),
        };
        let adjusted = match self.state().decide_adjustment(
            &msg.request,
            self.prices.as_ref(),
            &self.stamp(msg.by),
            key,
        ) {
            Ok(adjusted) => adjusted,
            Err(e) => return refuse(e.into()),
        };
        let adjustment = adjusted.adjustment.clone();
        self.write(StoreEvent::StockAdjusted(adjusted), adjustment)
    }
}

/// Sets reorder points and target levels of several lines in one durable step.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct SetLevels {
    pub lines: Vec<(Sku, u32, u32)>,
}

impl Handler<SetLevels> for StoreActor {
    type Result = ResponseActFuture<Self, Result<(), StoreError>>;

    fn handle(&mut self, msg: SetLevels, _ctx: &mut Self::Context) -> Self::Result {
        let mut events = Vec::with_capacity(msg.lines.len());
        for (sku, reorder_point, target_level) in msg.lines {
            match self
                .state()
                .decide_levels(sku.clone(), reorder_point, target_level)
            {
                Ok(Some(levels)) => events.push(StoreEvent::StockLevelsSet(levels)),
                Ok(None) => {}
                Err(_) => return refuse(StoreError::InvalidLevels(sku)),
            }
        }
        if events.is_empty() {
            return once_settled(self, (), StoreError::Unavailable);
        }
        let ack = self.log.persist(events);
        when_durable(ack, ())
    }
}

/// Files a restock request: explicit lines, or the automatic proposal (lines under their
/// reorder point up to their target level). Answered once durable; idempotent on its key.
#[derive(Message)]
#[rtype(result = "Result<Recorded<RestockRequest>, StoreError>")]
pub struct RequestRestock {
    pub ask: RestockAsk,
    pub key: Option<IdempotencyKey>,
    pub by: Username,
}

impl Handler<RequestRestock> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Recorded<RestockRequest>, StoreError>>;

    fn handle(&mut self, msg: RequestRestock, _ctx: &mut Self::Context) -> Self::Result {
        let key = match self.check_key(msg.key, msg.ask.fingerprint()) {
            Ok(KeyStep::Fresh(key)) => key,
            Ok(KeyStep::Replay(Outcome::Restock(number))) => match self.state().restock(number) {
                Some(request) => {
                    let value = Recorded {
                        value: request.clone(),
                        replayed: true,
                    };
                    return once_settled(self, value, StoreError::Unavailable);
                }
                None => return refuse(StoreError::KeyReused),
            },
            Ok(KeyStep::Replay(_)) => return refuse(StoreError::KeyReused),
            Err(e) => return refuse(e),
        };
        let requested = match self.state().decide_restock_request(
            self.id,
            &msg.ask,
            self.prices.as_ref(),
            &self.stamp(msg.by),
            key,
        ) {
            Ok(requested) => requested,
            Err(e) => return refuse(e.into()),
        };
        let value = Recorded {
            value: requested.request.clone(),
            replayed: false,
        };
        let ack = self
            .log
            .persist(vec![StoreEvent::RestockRequested(requested)]);
        when_durable(ack, value)
    }
}

#[derive(Message)]
#[rtype(result = "Option<RestockRequest>")]
pub struct GetRestock(pub u64);

impl Handler<GetRestock> for StoreActor {
    type Result = Option<RestockRequest>;

    fn handle(&mut self, msg: GetRestock, _ctx: &mut Self::Context) -> Self::Result {
        self.state().restock(msg.0).cloned()
    }
}

/// One step of a restock request; answers the request after it, once durable. A step that
/// was already done answers the request as it is (a retry moves nothing).
#[derive(Message)]
#[rtype(result = "Result<RestockRequest, StoreError>")]
pub struct StepRestock {
    pub id: RestockId,
    pub step: RestockStep,
    pub by: Username,
}

impl Handler<StepRestock> for StoreActor {
    type Result = ResponseActFuture<Self, Result<RestockRequest, StoreError>>;

    fn handle(&mut self, msg: StepRestock, _ctx: &mut Self::Context) -> Self::Result {
        let not_found = || StoreError::Restock(RestockError::NotFound(msg.id));
        match self
            .state()
            .decide_restock_step(msg.id, &msg.step, &self.stamp(msg.by))
        {
            Err(e) => refuse(e.into()),
            Ok(None) => match self.state().restock(msg.id.number).cloned() {
                Some(request) => once_settled(self, request, StoreError::Unavailable),
                None => refuse(not_found()),
            },
            Ok(Some(done)) => {
                let ack = self.log.persist(vec![StoreEvent::RestockStep(done)]);
                match self.state().restock(msg.id.number).cloned() {
                    Some(request) => when_durable(ack, request),
                    None => refuse(not_found()),
                }
            }
        }
    }
}

/// Files a transfer of stock from this store to another; answers it once durable.
#[derive(Message)]
#[rtype(result = "Result<Transfer, StoreError>")]
pub struct RequestTransfer {
    pub to: StoreId,
    pub lines: Vec<RequestedLine>,
    pub by: Username,
}

impl Handler<RequestTransfer> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Transfer, StoreError>>;

    fn handle(&mut self, msg: RequestTransfer, _ctx: &mut Self::Context) -> Self::Result {
        let stamp = self.stamp(msg.by);
        let prices = self.prices.clone();
        let decided = self.state().transfers().decide_request(
            self.id,
            msg.to,
            &msg.lines,
            |sku| prices.price(sku).is_some(),
            &stamp,
        );
        match decided {
            Err(e) => refuse(e.into()),
            Ok(event) => self.write_transfer(event, |_| None),
        }
    }
}

/// A step of a transfer at the sending store, sent by the coordinator (possibly from
/// another instance: it is JSON on the internal API). Answers the transfer once durable;
/// a step already done answers it as it is.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SourceOp {
    Get {
        number: u64,
    },
    Ship {
        number: u64,
        by: Username,
    },
    /// What the receiving store counted, per SKU (damaged included).
    Delivered {
        number: u64,
        arrived: BTreeMap<Sku, u32>,
    },
}

#[derive(Message)]
#[rtype(result = "Result<Transfer, StoreError>")]
pub struct AtSource(pub SourceOp);

impl Handler<AtSource> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Transfer, StoreError>>;

    fn handle(&mut self, msg: AtSource, _ctx: &mut Self::Context) -> Self::Result {
        let id = |number| TransferId {
            store: self.id,
            number,
        };
        let state = self.state();
        let (number, decided) = match msg.0 {
            SourceOp::Get { number } => (number, Ok(None)),
            SourceOp::Ship { number, by } => (
                number,
                state.transfers().decide_ship(
                    id(number),
                    |sku| state.stock_line(sku).on_hand,
                    &self.stamp(by),
                ),
            ),
            SourceOp::Delivered { number, arrived } => (
                number,
                state
                    .transfers()
                    .decide_delivered(id(number), arrived, self.clock.now()),
            ),
        };
        let found = move |s: &StoreState| s.transfers().get(number).cloned();
        match decided {
            Err(e) => refuse(e.into()),
            Ok(None) => match found(self.state()) {
                Some(transfer) => once_settled(self, transfer, StoreError::Unavailable),
                None => refuse(TransferError::NotFound(id(number)).into()),
            },
            Ok(Some(event)) => self.write_transfer(event, move |s| found(s)),
        }
    }
}

/// The receiving store counts a transfer (as the sending store has it); answers what it
/// counted per SKU (damaged included) once durable, and the same on a retry.
#[derive(Message)]
#[rtype(result = "Result<BTreeMap<Sku, u32>, StoreError>")]
pub struct ArriveTransfer {
    pub transfer: Transfer,
    pub receipt: Receipt,
    pub by: Username,
}

impl Handler<ArriveTransfer> for StoreActor {
    type Result = ResponseActFuture<Self, Result<BTreeMap<Sku, u32>, StoreError>>;

    fn handle(&mut self, msg: ArriveTransfer, _ctx: &mut Self::Context) -> Self::Result {
        let id = msg.transfer.id;
        let stamp = self.stamp(msg.by);
        let state = self.state();
        let decided = state.transfers().decide_arrival(
            &msg.transfer,
            &msg.receipt,
            |sku| state.stock_line(sku).on_hand,
            &stamp,
        );
        let arrival = move |s: &StoreState| s.transfers().arrival(id).cloned();
        match decided {
            Err(e) => refuse(e.into()),
            Ok(None) => match arrival(self.state()) {
                Some(counted) => once_settled(self, counted, StoreError::Unavailable),
                None => refuse(TransferError::NotFound(id).into()),
            },
            Ok(Some(event)) => {
                let ack = self.log.persist(vec![StoreEvent::Transfer(event)]);
                match arrival(self.state()) {
                    Some(counted) => when_durable(ack, counted),
                    None => refuse(TransferError::NotFound(id).into()),
                }
            }
        }
    }
}

impl StoreActor {
    /// Journals a transfer's event and answers the transfer it leaves (the new one when
    /// `find` has none to look up), once durable.
    fn write_transfer(
        &mut self,
        event: TransferEvent,
        find: impl FnOnce(&StoreState) -> Option<Transfer>,
    ) -> ResponseActFuture<Self, Result<Transfer, StoreError>> {
        let requested = match &event {
            TransferEvent::Requested(transfer) => Some(transfer.clone()),
            _ => None,
        };
        let ack = self.log.persist(vec![StoreEvent::Transfer(event)]);
        match requested.or_else(|| find(self.state())) {
            Some(transfer) => when_durable(ack, transfer),
            None => refuse(StoreError::Unavailable),
        }
    }
}

/// Opens a session on a till with a float; answers its X report (empty) once durable.
/// With a key already used, answers the session if it is still open.
#[derive(Message)]
#[rtype(result = "Result<Recorded<TillReport>, StoreError>")]
pub struct OpenSession {
    pub till: TillNumber,
    pub float: Cents,
    pub key: Option<IdempotencyKey>,
    pub by: Username,
}

fn session_fingerprint(kind: &str, till: TillNumber, amount: i64) -> Fingerprint {
    let mut bytes = vec![till.get()];
    bytes.extend_from_slice(&amount.to_le_bytes());
    Fingerprint::of(kind, &bytes)
}

impl Handler<OpenSession> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Recorded<TillReport>, StoreError>>;

    fn handle(&mut self, msg: OpenSession, _ctx: &mut Self::Context) -> Self::Result {
        let rules = self.prices.till_rules(self.id);
        let fingerprint = session_fingerprint("open", msg.till, msg.float.0);
        let key = match self.check_key(msg.key, fingerprint) {
            Ok(KeyStep::Fresh(key)) => key,
            Ok(KeyStep::Replay(Outcome::SessionOpened(number))) => {
                return match self.state().x_report(self.id, msg.till, rules) {
                    Ok(report) if report.session == number => {
                        let value = Recorded {
                            value: report,
                            replayed: true,
                        };
                        once_settled(self, value, StoreError::Unavailable)
                    }
                    _ => refuse(StoreError::KeyReused),
                };
            }
            Ok(KeyStep::Replay(_)) => return refuse(StoreError::KeyReused),
            Err(e) => return refuse(e),
        };
        let stamp = self.stamp(msg.by);
        let opened = match self
            .state()
            .decide_open_session(msg.till, msg.float, rules, &stamp, key)
        {
            Ok(opened) => opened,
            Err(e) => return refuse(e.into()),
        };
        let last = self.state().last_receipt(msg.till);
        let report = crate::domain::till_report((self.id, msg.till, last), &opened.session, None);
        let ack = self.log.persist(vec![StoreEvent::SessionOpened(opened)]);
        when_durable(
            ack,
            Recorded {
                value: report,
                replayed: false,
            },
        )
    }
}

/// The X report of a till's open session: read at any time, changes nothing.
#[derive(Message)]
#[rtype(result = "Result<TillReport, StoreError>")]
pub struct ReadSession(pub TillNumber);

impl Handler<ReadSession> for StoreActor {
    type Result = Result<TillReport, StoreError>;

    fn handle(&mut self, msg: ReadSession, _ctx: &mut Self::Context) -> Self::Result {
        let rules = self.prices.till_rules(self.id);
        Ok(self.state().x_report(self.id, msg.0, rules)?)
    }
}

/// Closes a till's session with the cash counted: its Z report, once durable.
#[derive(Message)]
#[rtype(result = "Result<Decided<TillReport>, StoreError>")]
pub struct CloseSession {
    pub till: TillNumber,
    pub count: Count,
    pub key: Option<IdempotencyKey>,
    pub by: Username,
}

impl Handler<CloseSession> for StoreActor {
    type Result = Answer<TillReport>;

    fn handle(&mut self, msg: CloseSession, _ctx: &mut Self::Context) -> Self::Result {
        let fingerprint = session_fingerprint("close", msg.till, msg.count.counted.0);
        let key = match self.check_key(msg.key, fingerprint) {
            Ok(KeyStep::Fresh(key)) => key,
            Ok(KeyStep::Replay(outcome)) => return self.again(outcome),
            Err(e) => return refuse(e),
        };
        let rules = self.prices.till_rules(self.id);
        let stamp = self.stamp(msg.by);
        let closed = match self
            .state()
            .decide_close_session(self.id, msg.till, msg.count, rules, &stamp, key)
        {
            Ok(closed) => closed,
            Err(e) => return refuse(e.into()),
        };
        let report = closed.report.clone();
        self.write(StoreEvent::SessionClosed(Box::new(closed)), report)
    }
}

/// Writes a snapshot of the current state (at graceful shutdown); resolves when durable.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct TakeSnapshot;

impl Handler<TakeSnapshot> for StoreActor {
    type Result = ResponseFuture<Result<(), StoreError>>;

    fn handle(&mut self, _msg: TakeSnapshot, _ctx: &mut Self::Context) -> Self::Result {
        let ack = self.log.snapshot();
        Box::pin(async move { ack.await.map_err(StoreError::from) })
    }
}

/// How the rest of the system talks to a store: one async method per message, with the
/// mailbox timeout turned into [`StoreError::Unavailable`]; reads of its sales go to the
/// history on a blocking thread, never through the actor.
#[derive(Clone)]
pub struct StoreHandle {
    id: StoreId,
    addr: Addr<StoreActor>,
    history: Arc<History>,
    timeout: Duration,
    pending: Gauge,
}

/// Counts a message as pending in its actor's mailbox until it is answered (or dropped).
pub(super) struct Pending(Gauge);

impl Pending {
    pub(super) fn start(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Times a return is decided again after a stale read before giving up (503).
const RETURN_ATTEMPTS: usize = 3;

impl StoreHandle {
    pub fn new(
        id: StoreId,
        addr: Addr<StoreActor>,
        history: Arc<History>,
        timeout: Duration,
        pending: Gauge,
    ) -> Self {
        Self {
            id,
            addr,
            history,
            timeout,
            pending,
        }
    }

    pub fn is_alive(&self) -> bool {
        self.addr.connected()
    }

    async fn ask<M>(&self, msg: M) -> Result<M::Result, StoreError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        StoreActor: Handler<M>,
    {
        let _pending = Pending::start(&self.pending);
        self.addr
            .send(msg)
            .timeout(self.timeout)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "store mailbox unavailable");
                StoreError::Unavailable
            })
    }

    /// Reads the store's history on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&History, StoreId) -> Result<T, JournalError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (history, id) = (self.history.clone(), self.id);
        tokio::task::spawn_blocking(move || read(&history, id))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "history read task failed");
                StoreError::Unavailable
            })?
            .map_err(StoreError::from)
    }

    /// A write's answer: the new value, or the original one read back from the history
    /// (`original`: `None` when the key's outcome is of another kind than the write).
    fn answer<T>(
        decided: Decided<T>,
        original: Option<Result<Option<T>, StoreError>>,
    ) -> Result<Recorded<T>, StoreError> {
        match (decided, original) {
            (Decided::New(value), _) => Ok(Recorded {
                value,
                replayed: false,
            }),
            (Decided::Again(_), Some(found)) => match found? {
                Some(value) => Ok(Recorded {
                    value,
                    replayed: true,
                }),
                // The key's outcome is durable, so the history has it.
                None => Err(StoreError::Unavailable),
            },
            (Decided::Again(_), None) => Err(StoreError::KeyReused),
        }
    }

    pub async fn record_sale(
        &self,
        request: SaleRequest,
        key: Option<IdempotencyKey>,
        by: Username,
    ) -> Result<Recorded<Sale>, StoreError> {
        let decided = self.ask(RecordSale { request, key, by }).await??;
        let original = match &decided {
            Decided::Again(Outcome::Sale(id)) => {
                let id = *id;
                Some(self.read(move |h, store| h.sale(store, id)).await)
            }
            _ => None,
        };
        Self::answer(decided, original)
    }

    pub async fn return_lines(
        &self,
        request: ReturnRequest,
        key: Option<IdempotencyKey>,
        by: Username,
    ) -> Result<Recorded<Return>, StoreError> {
        let sale_id = request.sale_id();
        for _ in 0..RETURN_ATTEMPTS {
            let read = self
                .read(move |h, store| h.sale_record(store, sale_id))
                .await?
                .ok_or(StoreError::SaleNotFound(sale_id))?;
            let sent = ReturnLines {
                request: request.clone(),
                read,
                key: key.clone(),
                by: by.clone(),
            };
            let decided = match self.ask(sent).await? {
                Err(StoreError::StaleRead) => continue,
                other => other?,
            };
            let original = match &decided {
                Decided::Again(Outcome::Return(id)) => {
                    let id = *id;
                    Some(self.read(move |h, store| h.return_by_id(store, id)).await)
                }
                _ => None,
            };
            return Self::answer(decided, original);
        }
        Err(StoreError::Unavailable)
    }

    pub async fn adjust(
        &self,
        request: AdjustmentRequest,
        key: Option<IdempotencyKey>,
        by: Username,
    ) -> Result<Recorded<Adjustment>, StoreError> {
        let decided = self.ask(Adjust { request, key, by }).await??;
        let original = match &decided {
            Decided::Again(Outcome::Adjustment(id)) => {
                let id = *id;
                Some(self.read(move |h, store| h.adjustment(store, id)).await)
            }
            _ => None,
        };
        Self::answer(decided, original)
    }

    pub async fn open_session(
        &self,
        till: TillNumber,
        float: Cents,
        key: Option<IdempotencyKey>,
        by: Username,
    ) -> Result<Recorded<TillReport>, StoreError> {
        self.ask(OpenSession {
            till,
            float,
            key,
            by,
        })
        .await?
    }

    /// The X report of the till's open session.
    pub async fn x_report(&self, till: TillNumber) -> Result<TillReport, StoreError> {
        self.ask(ReadSession(till)).await?
    }

    pub async fn close_session(
        &self,
        till: TillNumber,
        count: Count,
        key: Option<IdempotencyKey>,
        by: Username,
    ) -> Result<Recorded<TillReport>, StoreError> {
        let decided = self
            .ask(CloseSession {
                till,
                count,
                key,
                by,
            })
            .await??;
        let original = match &decided {
            Decided::Again(Outcome::SessionClosed(z)) => {
                let z = *z;
                Some(self.read(move |h, store| h.z_report(store, z)).await)
            }
            _ => None,
        };
        Self::answer(decided, original)
    }

    /// Z reports newest first, with their count.
    pub async fn z_reports(
        &self,
        skip: usize,
        take: usize,
    ) -> Result<(Vec<TillReport>, u64), StoreError> {
        self.read(move |h, store| h.z_reports(store, take, skip))
            .await
    }

    /// The sequence number of Z report `z`'s closing event in the store's stream.
    pub async fn z_seq(&self, z: u64) -> Result<Option<u64>, StoreError> {
        self.read(move |h, store| h.z_seq(store, z)).await
    }

    pub async fn z_report(&self, z: u64) -> Result<Option<TillReport>, StoreError> {
        self.read(move |h, store| h.z_report(store, z)).await
    }

    /// The late addendum of a Z report: the totals of its session's sales recorded after
    /// the closing (taken offline, sent late); `None` when there is none.
    pub async fn late_addendum(
        &self,
        report: &TillReport,
    ) -> Result<Option<SessionTotals>, StoreError> {
        let Some(after) = report.closing.as_ref().map(|c| c.last_sale) else {
            return Ok(None);
        };
        let session = report.session;
        let late = self
            .read(move |h, store| h.late_sales(store, session, after))
            .await?;
        if late.is_empty() {
            return Ok(None);
        }
        let mut totals = SessionTotals::default();
        for sale in &late {
            totals.add_sale(sale);
        }
        Ok(Some(totals))
    }

    pub async fn set_levels(&self, lines: Vec<(Sku, u32, u32)>) -> Result<(), StoreError> {
        self.ask(SetLevels { lines }).await?
    }

    /// A sale and its returns, from the history (only durable sales are there).
    pub async fn sale(&self, id: SaleId) -> Result<SaleView, StoreError> {
        self.read(move |h, store| {
            h.sale_record(store, id).map(|found| {
                found.map(|record| SaleView {
                    sale: record.sale,
                    returns: record.returns,
                })
            })
        })
        .await?
        .ok_or(StoreError::SaleNotFound(id))
    }

    /// Sales newest first, with the total count, from the history.
    pub async fn sales(
        &self,
        skip: usize,
        take: usize,
    ) -> Result<(Vec<SaleView>, usize), StoreError> {
        self.read(move |h, store| {
            let total = h.sale_count(store)?;
            let mut page = Vec::new();
            for sale in h.sales_newest_first(store, skip, take)? {
                let returns = h.returns_of(store, sale.id)?;
                page.push(SaleView { sale, returns });
            }
            Ok((page, usize::try_from(total).unwrap_or(usize::MAX)))
        })
        .await
    }

    pub async fn snapshot(&self) -> Result<(), StoreError> {
        self.ask(TakeSnapshot).await?
    }

    pub async fn request_restock(
        &self,
        ask: RestockAsk,
        key: Option<IdempotencyKey>,
        by: Username,
    ) -> Result<Recorded<RestockRequest>, StoreError> {
        self.ask(RequestRestock { ask, key, by }).await?
    }

    pub async fn request_transfer(
        &self,
        to: StoreId,
        lines: Vec<RequestedLine>,
        by: Username,
    ) -> Result<Transfer, StoreError> {
        self.ask(RequestTransfer { to, lines, by }).await?
    }

    pub async fn at_source(&self, op: SourceOp) -> Result<Transfer, StoreError> {
        self.ask(AtSource(op)).await?
    }

    pub async fn arrive_transfer(
        &self,
        transfer: Transfer,
        receipt: Receipt,
        by: Username,
    ) -> Result<BTreeMap<Sku, u32>, StoreError> {
        self.ask(ArriveTransfer {
            transfer,
            receipt,
            by,
        })
        .await?
    }

    pub async fn restock(&self, id: RestockId) -> Result<RestockRequest, StoreError> {
        self.ask(GetRestock(id.number))
            .await?
            .ok_or(StoreError::Restock(RestockError::NotFound(id)))
    }

    pub async fn step_restock(
        &self,
        id: RestockId,
        step: RestockStep,
        by: Username,
    ) -> Result<RestockRequest, StoreError> {
        self.ask(StepRestock { id, step, by }).await?
    }
}
