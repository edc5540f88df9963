//! `ProductStockActor`: the only writer of one product's stock at the logistics center.
//! Stores compete for scarce central stock; this actor serializes their allocations, so
//! the sum allocated can never exceed what the warehouse holds.
//!
//! Same discipline as a store: decide, apply in memory, journal, answer when durable.
//! Every message is idempotent by request id (or receipt id): a coordinator that retries
//! after a crash gets the first answer again and moves nothing twice.

use actix::prelude::*;
use prometheus_client::metrics::gauge::Gauge;
use std::time::Duration;

use super::clock::Clock;
use super::durable::{Durable, Journaled, StreamState, once_settled, when_durable};
use super::store::{Pending, SourceOp, StoreError};
use crate::domain::{
    CentralEvent, CentralStock, Cents, DamageReason, DomainEvent, Goods, MissingOutcome, RestockId,
    Sku, Stamp, StoreId, Transfer, Username,
};
use crate::persistence::{Journal, StreamId};

pub struct ProductStockActor {
    sku: Sku,
    log: Durable<CentralStock>,
    /// Stamps each movement of the central stock.
    clock: Clock,
}

impl StreamState for CentralStock {
    type Event = CentralEvent;

    fn apply(&mut self, event: &CentralEvent) {
        CentralStock::apply(self, event);
    }
}

impl Journaled for ProductStockActor {
    type State = CentralStock;

    fn stream(&mut self) -> &mut Durable<CentralStock> {
        &mut self.log
    }
}

fn journaled(stream: &StreamId, event: CentralEvent) -> DomainEvent {
    match stream.product_sku() {
        Some(sku) => DomainEvent::Central(sku, event),
        // A product actor's stream is always `product/{sku}` (built by `StreamId::product`).
        None => unreachable!("a product actor journals to a product stream, not {stream}"),
    }
}

impl ProductStockActor {
    /// The product recovered at `seq`, `unsnapshotted` events after its latest snapshot.
    pub fn new(
        sku: Sku,
        state: CentralStock,
        seq: u64,
        unsnapshotted: u64,
        journal: Journal,
        snapshot_every: u64,
        clock: Clock,
    ) -> Self {
        Self {
            clock,
            log: Durable::recovered(
                StreamId::product(&sku),
                state,
                seq,
                unsnapshotted,
                journal,
                snapshot_every,
                journaled,
            ),
            sku,
        }
    }

    fn state(&self) -> &CentralStock {
        &self.log.state
    }

    /// Applies and journals `event` (if any), answering `answer(state)` once durable; with
    /// no event (a retry), answers once everything applied so far is durable.
    fn commit(
        &mut self,
        event: Option<CentralEvent>,
        answer: impl FnOnce(&CentralStock) -> u32,
    ) -> ResponseActFuture<Self, Result<u32, StoreError>> {
        let Some(event) = event else {
            let value = answer(self.state());
            return once_settled(self, value, StoreError::Unavailable);
        };
        let ack = self.log.persist(vec![event]);
        when_durable(ack, answer(self.state()))
    }
}

impl ProductStockActor {
    fn receive(
        &mut self,
        goods: Goods<'_>,
        stamp: Stamp,
    ) -> ResponseActFuture<Self, Result<u32, StoreError>> {
        match self.state().decide_purchase(goods, &stamp) {
            Ok(event) => self.commit(event, CentralStock::on_hand),
            Err(_) => Box::pin(fut::ready(Err(StoreError::CentralOverflow(
                self.sku.clone(),
            )))),
        }
    }
}

impl Actor for ProductStockActor {
    type Context = Context<Self>;
}

/// The central operations, one message type (they share everything but the decision).
/// Sent as JSON to the product's owner when another instance holds it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CentralOp {
    /// Goods from a supplier at an unknown cost; answers the new on-hand.
    Receive {
        receipt: String,
        quantity: u32,
        by: Username,
    },
    /// Goods from a supplier, damaged units written off, at a cost when known (the
    /// average moves); answers the new on-hand.
    ReceiveGoods {
        receipt: String,
        quantity: u32,
        damaged: u32,
        damage_reason: Option<DamageReason>,
        unit_cost: Option<Cents>,
        by: Username,
    },
    /// Answers the quantity allocated to the request (partial allocation is normal).
    Allocate { request: RestockId, requested: u32 },
    /// Answers the quantity shipped for the request.
    Ship { request: RestockId },
    /// Gives an allocation back; answers the quantity released.
    Release { request: RestockId },
    /// Records the store's receipt; answers the quantity delivered.
    Deliver { request: RestockId },
    /// Changes nothing; answers the quantity shipped for the request (0: none).
    Shipped { request: RestockId },
    /// Records a receipt short by `missing` units; answers the quantity shipped.
    DeliverShort { request: RestockId, missing: u32 },
    /// Settles the units missing from a request; answers how many this call settled (0:
    /// none waited, or they were settled already).
    ResolveMissing {
        request: RestockId,
        outcome: MissingOutcome,
        by: Username,
    },
    /// Writes a snapshot (graceful shutdown); answers 0.
    Snapshot,
}

/// Answered only once the resulting event is durable.
#[derive(Message)]
#[rtype(result = "Result<u32, StoreError>")]
pub struct Central(pub CentralOp);

impl Handler<Central> for ProductStockActor {
    type Result = ResponseActFuture<Self, Result<u32, StoreError>>;

    fn handle(&mut self, msg: Central, _ctx: &mut Self::Context) -> Self::Result {
        let at = self.clock.now();
        match msg.0 {
            CentralOp::Receive {
                receipt,
                quantity,
                by,
            } => self.receive(Goods::uncosted(&receipt, quantity), Stamp { at, by }),
            CentralOp::ReceiveGoods {
                receipt,
                quantity,
                damaged,
                damage_reason,
                unit_cost,
                by,
            } => {
                let goods = Goods {
                    receipt: &receipt,
                    quantity,
                    damaged,
                    damage_reason,
                    unit_cost,
                };
                self.receive(goods, Stamp { at, by })
            }
            CentralOp::Allocate { request, requested } => {
                let event = self.state().decide_allocate(request, requested, at);
                self.commit(event, move |s| {
                    s.allocation_of(request)
                        .or_else(|| s.shipment_of(request))
                        .unwrap_or(0)
                })
            }
            CentralOp::Ship { request } => {
                let event = self.state().decide_ship(request, at);
                self.commit(event, move |s| s.shipment_of(request).unwrap_or(0))
            }
            CentralOp::Release { request } => {
                let released = self.state().allocation_of(request).unwrap_or(0);
                let event = self.state().decide_release(request, at);
                self.commit(event, move |_| released)
            }
            CentralOp::Shipped { request } => {
                self.commit(None, move |s| s.shipment_of(request).unwrap_or(0))
            }
            CentralOp::Deliver { request } => {
                let event = self.state().decide_deliver(request, at);
                self.commit(event, move |s| s.shipment_of(request).unwrap_or(0))
            }
            CentralOp::DeliverShort { request, missing } => {
                let event = self.state().decide_deliver_short(request, missing, at);
                self.commit(event, move |s| s.shipment_of(request).unwrap_or(0))
            }
            CentralOp::ResolveMissing {
                request,
                outcome,
                by,
            } => {
                let settled = self.state().missing_of(request);
                let event =
                    self.state()
                        .decide_resolve_missing(request, outcome, &Stamp { at, by });
                self.commit(event, move |_| settled)
            }
            CentralOp::Snapshot => {
                let ack = self.log.snapshot();
                Box::pin(
                    async move { ack.await.map(|()| 0).map_err(StoreError::from) }.into_actor(self),
                )
            }
        }
    }
}

/// The actors held by other instances (the cluster's internal API): runs `op` on the
/// product's actor at `owner`, or a transfer's step on its sending store at `owner`, with
/// the same idempotency as a local call.
pub trait RemoteCentral: Send + Sync {
    fn run(
        &self,
        owner: String,
        sku: Sku,
        op: CentralOp,
    ) -> futures_util::future::BoxFuture<'_, Result<u32, StoreError>>;

    fn at_source(
        &self,
        owner: String,
        store: StoreId,
        op: SourceOp,
    ) -> futures_util::future::BoxFuture<'_, Result<Transfer, StoreError>>;
}

#[derive(Clone)]
pub struct ProductHandle {
    addr: Addr<ProductStockActor>,
    timeout: Duration,
    pending: Gauge,
}

impl ProductHandle {
    pub fn new(addr: Addr<ProductStockActor>, timeout: Duration, pending: Gauge) -> Self {
        Self {
            addr,
            timeout,
            pending,
        }
    }

    pub fn is_alive(&self) -> bool {
        self.addr.connected()
    }

    pub async fn run(&self, op: CentralOp) -> Result<u32, StoreError> {
        let _pending = Pending::start(&self.pending);
        self.addr
            .send(Central(op))
            .timeout(self.timeout)
            .await
            .map_err(|_| StoreError::Unavailable)?
    }
}
