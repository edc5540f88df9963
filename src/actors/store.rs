//! `StoreActor`: the only writer of one store's state, and `StoreHandle`, how everything
//! else talks to it.
//!
//! A write is decided against the in-memory state, applied in memory at once (so the next
//! sale in the mailbox sees the stock this one took), handed to the journal writer, and
//! answered only when the journal says it is durable. The actor never waits for the disk
//! itself: `ctx.wait` would freeze every till of the store for one fsync each, so the
//! durable answer is a future spawned beside the mailbox (`ResponseActFuture`). Answers
//! come in order because the writer acknowledges a stream's appends in order.
//!
//! If a commit fails, the in-memory state is ahead of the disk: the actor stops, later
//! appends of the stream are refused by sequence, and the registry recovers the store from
//! the journal on the next request.

use actix::prelude::*;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use super::cadence::SnapshotCadence;
use super::clock::now;
use crate::domain::{
    Adjustment, AdjustmentError, AdjustmentRequest, DomainEvent, Fingerprint, IdempotencyKey,
    KeyCheck, KeyUse, Outcome, PriceLookup, Return, ReturnError, ReturnRequest, Sale, SaleError,
    SaleId, SaleRequest, Sku, Stamp, StoreEvent, StoreId, StoreState, Username,
};
use crate::domain::{RestockAsk, RestockError, RestockId, RestockRequest, RestockStep};
use crate::persistence::{Journal, JournalError, StreamId};

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
    #[error("idempotency key reused with another request")]
    KeyReused,
    #[error("sale {} not found", .0.0)]
    SaleNotFound(SaleId),
    #[error("invalid stock levels for {0}")]
    InvalidLevels(Sku),
    #[error(transparent)]
    Restock(#[from] RestockError),
    #[error("central stock of {0} would exceed its bound")]
    CentralOverflow(Sku),
    #[error("store busy or restarting")]
    Unavailable,
    /// Another instance, holding part of the work, did not answer.
    #[error("{0}")]
    Peer(String),
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
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

pub struct StoreActor {
    id: StoreId,
    stream: StreamId,
    state: StoreState,
    /// Last seq assigned; may be ahead of the durable one while commits are pending.
    seq: u64,
    cadence: SnapshotCadence,
    mailbox_capacity: usize,
    journal: Journal,
    prices: Prices,
    durable: watch::Sender<u64>,
}

impl StoreActor {
    pub fn new(
        id: StoreId,
        state: StoreState,
        seq: u64,
        journal: Journal,
        prices: Prices,
        settings: ActorSettings,
    ) -> Self {
        Self {
            id,
            stream: StreamId::store(id),
            state,
            seq,
            cadence: SnapshotCadence::new(settings.snapshot_every),
            mailbox_capacity: settings.mailbox_capacity,
            journal,
            prices,
            durable: watch::Sender::new(seq),
        }
    }

    /// Recovered with `events` after its latest snapshot (see [`SnapshotCadence::resume`]).
    pub(super) fn unsnapshotted(mut self, events: u64) -> Self {
        self.cadence.resume(events);
        self
    }

    /// Assigns seqs, applies in memory, queues for the journal (with a snapshot when the
    /// cadence says so); the future resolves when durable.
    fn persist(
        &mut self,
        events: Vec<StoreEvent>,
    ) -> impl Future<Output = Result<u64, JournalError>> + use<> {
        let first = self.seq + 1;
        for event in &events {
            self.state.apply(event);
        }
        self.seq += events.len() as u64;
        let snapshot = self
            .cadence
            .due(events.len() as u64, self.seq)
            .then_some(&self.state);
        let last = self.seq;
        let events = events
            .into_iter()
            .map(|e| DomainEvent::Store(self.id, e))
            .collect();
        let ack = self
            .journal
            .append(self.stream.clone(), first, events, snapshot);
        async move { ack.await.map(|()| last) }
    }

    /// Answers `value` once `ack` says durable; stops the actor if the commit failed.
    fn when_durable<T: 'static>(
        &mut self,
        ack: impl Future<Output = Result<u64, JournalError>> + 'static,
        value: T,
    ) -> ResponseActFuture<Self, Result<Recorded<T>, StoreError>> {
        Box::pin(ack.into_actor(self).map(move |result, actor, ctx| match result {
            Ok(seq) => {
                super::watermark::raise(&actor.durable, seq);
                Ok(Recorded {
                    value,
                    replayed: false,
                })
            }
            Err(e) => {
                tracing::error!(store = %actor.id, error = %e, "journal append failed; store restarts from its journal");
                ctx.stop();
                Err(StoreError::Journal(e))
            }
        }))
    }

    /// Answers a replay once everything applied so far is durable (the original may still
    /// be in flight: a replay must not be acknowledged before it).
    fn replay<T: Send + 'static>(
        &self,
        value: T,
    ) -> ResponseActFuture<Self, Result<Recorded<T>, StoreError>> {
        let durable = super::watermark::reached(self.durable.subscribe(), self.seq);
        Box::pin(
            async move {
                if durable.await {
                    Ok(Recorded {
                        value,
                        replayed: true,
                    })
                } else {
                    Err(StoreError::Unavailable)
                }
            }
            .into_actor(self),
        )
    }

    fn check_key(
        &self,
        key: Option<IdempotencyKey>,
        fingerprint: Fingerprint,
    ) -> Result<KeyStep, StoreError> {
        let Some(key) = key else {
            return Ok(KeyStep::Fresh(None));
        };
        match self.state.check_key(&key, fingerprint) {
            KeyCheck::Fresh => Ok(KeyStep::Fresh(Some(KeyUse { key, fingerprint }))),
            KeyCheck::Replay(outcome) => Ok(KeyStep::Replay(outcome)),
            KeyCheck::Conflict => Err(StoreError::KeyReused),
        }
    }

    fn sale_view(&self, id: SaleId) -> Option<SaleView> {
        self.state.sale(id).map(|sale| SaleView {
            sale: sale.clone(),
            returns: self.state.returns_of(id),
        })
    }
}

enum KeyStep {
    Fresh(Option<KeyUse>),
    Replay(Outcome),
}

fn stamp(by: Username) -> Stamp {
    Stamp { at: now(), by }
}

fn refuse<T: 'static>(error: StoreError) -> ResponseActFuture<StoreActor, Result<T, StoreError>> {
    Box::pin(fut::ready(Err(error)))
}

#[derive(Debug, Clone, Copy)]
pub struct ActorSettings {
    pub snapshot_every: u64,
    pub mailbox_capacity: usize,
    pub ask_timeout: Duration,
}

impl Actor for StoreActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox_capacity);
    }
}

/// Records a sale. Answered only once the sale is durable in the journal; with a key
/// already used for the same lines, answers the original sale and records nothing.
#[derive(Message)]
#[rtype(result = "Result<Recorded<Sale>, StoreError>")]
pub struct RecordSale {
    pub request: SaleRequest,
    pub key: Option<IdempotencyKey>,
    pub by: Username,
}

impl Handler<RecordSale> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Recorded<Sale>, StoreError>>;

    fn handle(&mut self, msg: RecordSale, _ctx: &mut Self::Context) -> Self::Result {
        let key = match self.check_key(msg.key, msg.request.fingerprint()) {
            Ok(KeyStep::Fresh(key)) => key,
            Ok(KeyStep::Replay(Outcome::Sale(id))) => match self.state.sale(id) {
                Some(sale) => return self.replay(sale.clone()),
                None => return refuse(StoreError::SaleNotFound(id)),
            },
            Ok(KeyStep::Replay(_)) => return refuse(StoreError::KeyReused),
            Err(e) => return refuse(e),
        };
        let recorded =
            match self
                .state
                .decide_sale(&msg.request, self.prices.as_ref(), &stamp(msg.by), key)
            {
                Ok(recorded) => recorded,
                Err(e) => return refuse(e.into()),
            };
        let sale = recorded.sale.clone();
        let ack = self.persist(vec![StoreEvent::SaleRecorded(recorded)]);
        self.when_durable(ack, sale)
    }
}

/// Returns lines of an earlier sale (partial returns allowed, never beyond what was sold).
/// Answered once durable; idempotent on its key like [`RecordSale`].
#[derive(Message)]
#[rtype(result = "Result<Recorded<Return>, StoreError>")]
pub struct ReturnLines {
    pub request: ReturnRequest,
    pub key: Option<IdempotencyKey>,
    pub by: Username,
}

impl Handler<ReturnLines> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Recorded<Return>, StoreError>>;

    fn handle(&mut self, msg: ReturnLines, _ctx: &mut Self::Context) -> Self::Result {
        let key = match self.check_key(msg.key, msg.request.fingerprint()) {
            Ok(KeyStep::Fresh(key)) => key,
            Ok(KeyStep::Replay(Outcome::Return(id))) => match self.state.return_by_id(id) {
                Some(ret) => return self.replay(ret.clone()),
                None => return refuse(StoreError::KeyReused),
            },
            Ok(KeyStep::Replay(_)) => return refuse(StoreError::KeyReused),
            Err(e) => return refuse(e),
        };
        let returned = match self.state.decide_return(&msg.request, &stamp(msg.by), key) {
            Ok(returned) => returned,
            Err(e) => return refuse(e.into()),
        };
        let ret = returned.ret.clone();
        let ack = self.persist(vec![StoreEvent::SaleReturned(returned)]);
        self.when_durable(ack, ret)
    }
}

/// Adjusts stock after a physical count or a correction. Answered once durable;
/// idempotent on its key.
#[derive(Message)]
#[rtype(result = "Result<Recorded<Adjustment>, StoreError>")]
pub struct Adjust {
    pub request: AdjustmentRequest,
    pub key: Option<IdempotencyKey>,
    pub by: Username,
}

impl Handler<Adjust> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Recorded<Adjustment>, StoreError>>;

    fn handle(&mut self, msg: Adjust, _ctx: &mut Self::Context) -> Self::Result {
        let key = match self.check_key(msg.key, msg.request.fingerprint()) {
            Ok(KeyStep::Fresh(key)) => key,
            Ok(KeyStep::Replay(Outcome::Adjustment(id))) => match self.state.adjustment(id) {
                Some(adjustment) => return self.replay(adjustment.clone()),
                None => return refuse(StoreError::KeyReused),
            },
            Ok(KeyStep::Replay(_)) => return refuse(StoreError::KeyReused),
            Err(e) => return refuse(e),
        };
        let adjusted = match self.state.decide_adjustment(
            &msg.request,
            self.prices.as_ref(),
            &stamp(msg.by),
            key,
        ) {
            Ok(adjusted) => adjusted,
            Err(e) => return refuse(e.into()),
        };
        let adjustment = adjusted.adjustment.clone();
        let ack = self.persist(vec![StoreEvent::StockAdjusted(adjusted)]);
        self.when_durable(ack, adjustment)
    }
}

/// Sets reorder points and target levels of several lines in one durable step.
#[derive(Message)]
#[rtype(result = "Result<Recorded<()>, StoreError>")]
pub struct SetLevels {
    pub lines: Vec<(Sku, u32, u32)>,
}

impl Handler<SetLevels> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Recorded<()>, StoreError>>;

    fn handle(&mut self, msg: SetLevels, _ctx: &mut Self::Context) -> Self::Result {
        let mut events = Vec::with_capacity(msg.lines.len());
        for (sku, reorder_point, target_level) in msg.lines {
            match self
                .state
                .decide_levels(sku.clone(), reorder_point, target_level)
            {
                Ok(Some(levels)) => events.push(StoreEvent::StockLevelsSet(levels)),
                Ok(None) => {}
                Err(_) => return refuse(StoreError::InvalidLevels(sku)),
            }
        }
        if events.is_empty() {
            return self.replay(());
        }
        let ack = self.persist(events);
        self.when_durable(ack, ())
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
            Ok(KeyStep::Replay(Outcome::Restock(number))) => match self.state.restock(number) {
                Some(request) => return self.replay(request.clone()),
                None => return refuse(StoreError::KeyReused),
            },
            Ok(KeyStep::Replay(_)) => return refuse(StoreError::KeyReused),
            Err(e) => return refuse(e),
        };
        let requested = match self.state.decide_restock_request(
            self.id,
            &msg.ask,
            self.prices.as_ref(),
            &stamp(msg.by),
            key,
        ) {
            Ok(requested) => requested,
            Err(e) => return refuse(e.into()),
        };
        let request = requested.request.clone();
        let ack = self.persist(vec![StoreEvent::RestockRequested(requested)]);
        self.when_durable(ack, request)
    }
}

#[derive(Message)]
#[rtype(result = "Option<RestockRequest>")]
pub struct GetRestock(pub u64);

impl Handler<GetRestock> for StoreActor {
    type Result = Option<RestockRequest>;

    fn handle(&mut self, msg: GetRestock, _ctx: &mut Self::Context) -> Self::Result {
        self.state.restock(msg.0).cloned()
    }
}

/// One step of a restock request; answers the request after it, once durable. A step that
/// was already done answers the request as it is (a retry moves nothing).
#[derive(Message)]
#[rtype(result = "Result<Recorded<RestockRequest>, StoreError>")]
pub struct StepRestock {
    pub id: RestockId,
    pub step: RestockStep,
    pub by: Username,
}

impl Handler<StepRestock> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Recorded<RestockRequest>, StoreError>>;

    fn handle(&mut self, msg: StepRestock, _ctx: &mut Self::Context) -> Self::Result {
        match self
            .state
            .decide_restock_step(msg.id, &msg.step, &stamp(msg.by))
        {
            Err(e) => refuse(e.into()),
            Ok(None) => match self.state.restock(msg.id.number) {
                Some(request) => self.replay(request.clone()),
                None => refuse(RestockError::NotFound(msg.id).into()),
            },
            Ok(Some(done)) => {
                let ack = self.persist(vec![StoreEvent::RestockStep(done)]);
                match self.state.restock(msg.id.number) {
                    Some(request) => {
                        let request = request.clone();
                        self.when_durable(ack, request)
                    }
                    None => refuse(RestockError::NotFound(msg.id).into()),
                }
            }
        }
    }
}

#[derive(Message)]
#[rtype(result = "Option<SaleView>")]
pub struct GetSale(pub SaleId);

impl Handler<GetSale> for StoreActor {
    type Result = Option<SaleView>;

    fn handle(&mut self, msg: GetSale, _ctx: &mut Self::Context) -> Self::Result {
        self.sale_view(msg.0)
    }
}

/// Sales newest first, with the total count.
#[derive(Message)]
#[rtype(result = "(Vec<SaleView>, usize)")]
pub struct ListSales {
    pub skip: usize,
    pub take: usize,
}

impl Handler<ListSales> for StoreActor {
    type Result = MessageResult<ListSales>;

    fn handle(&mut self, msg: ListSales, _ctx: &mut Self::Context) -> Self::Result {
        let page = self
            .state
            .sales_newest_first(msg.skip, msg.take)
            .into_iter()
            .filter_map(|sale| self.sale_view(sale.id))
            .collect();
        MessageResult((page, self.state.sale_count()))
    }
}

/// Writes a snapshot of the current state (at graceful shutdown); resolves when durable.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct TakeSnapshot;

impl Handler<TakeSnapshot> for StoreActor {
    type Result = ResponseFuture<Result<(), StoreError>>;

    fn handle(&mut self, _msg: TakeSnapshot, _ctx: &mut Self::Context) -> Self::Result {
        if self.seq == 0 {
            return Box::pin(async { Ok(()) });
        }
        self.cadence.taken();
        let ack = self
            .journal
            .snapshot(self.stream.clone(), self.seq, &self.state);
        Box::pin(async move { ack.await.map_err(StoreError::from) })
    }
}

/// How the rest of the system talks to a store: one async method per message, with the
/// mailbox timeout turned into [`StoreError::Unavailable`].
#[derive(Clone)]
pub struct StoreHandle {
    addr: Addr<StoreActor>,
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

impl StoreHandle {
    pub fn new(addr: Addr<StoreActor>, timeout: Duration, pending: Gauge) -> Self {
        Self {
            addr,
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

    pub async fn record_sale(
        &self,
        request: SaleRequest,
        key: Option<IdempotencyKey>,
        by: Username,
    ) -> Result<Recorded<Sale>, StoreError> {
        self.ask(RecordSale { request, key, by }).await?
    }

    pub async fn return_lines(
        &self,
        request: ReturnRequest,
        key: Option<IdempotencyKey>,
        by: Username,
    ) -> Result<Recorded<Return>, StoreError> {
        self.ask(ReturnLines { request, key, by }).await?
    }

    pub async fn adjust(
        &self,
        request: AdjustmentRequest,
        key: Option<IdempotencyKey>,
        by: Username,
    ) -> Result<Recorded<Adjustment>, StoreError> {
        self.ask(Adjust { request, key, by }).await?
    }

    pub async fn set_levels(&self, lines: Vec<(Sku, u32, u32)>) -> Result<(), StoreError> {
        self.ask(SetLevels { lines }).await?.map(|_| ())
    }

    pub async fn sale(&self, id: SaleId) -> Result<SaleView, StoreError> {
        self.ask(GetSale(id))
            .await?
            .ok_or(StoreError::SaleNotFound(id))
    }

    pub async fn sales(
        &self,
        skip: usize,
        take: usize,
    ) -> Result<(Vec<SaleView>, usize), StoreError> {
        self.ask(ListSales { skip, take }).await
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
        self.ask(StepRestock { id, step, by })
            .await?
            .map(|r| r.value)
    }
}
