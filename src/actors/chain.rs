//! `ChainActor`: the only writer of the chain's reference data (catalog, stores).
//!
//! Same discipline as a store: decide, apply in memory, journal, answer when durable.
//! Store actors read prices from the committed catalog read model, never from here.

use actix::prelude::*;
use std::time::Duration;

use super::cadence::SnapshotCadence;
use super::clock::now;
use crate::domain::{
    ChainError, ChainEvent, ChainState, DomainEvent, NewStore, Product, Store, User, Username,
};
use crate::persistence::{Journal, JournalError, StreamId};

#[derive(Debug, thiserror::Error)]
pub enum ChainActorError {
    #[error(transparent)]
    Rule(#[from] ChainError),
    #[error("chain actor busy or stopped")]
    Unavailable,
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
}

pub struct ChainActor {
    state: ChainState,
    seq: u64,
    cadence: SnapshotCadence,
    journal: Journal,
}

impl ChainActor {
    pub fn new(state: ChainState, seq: u64, journal: Journal, snapshot_every: u64) -> Self {
        Self {
            state,
            seq,
            cadence: SnapshotCadence::new(snapshot_every),
            journal,
        }
    }

    /// Recovered with `events` after its latest snapshot (see [`SnapshotCadence::resume`]).
    pub(super) fn unsnapshotted(mut self, events: u64) -> Self {
        self.cadence.resume(events);
        self
    }

    fn persist(
        &mut self,
        events: Vec<ChainEvent>,
    ) -> impl Future<Output = Result<(), JournalError>> + use<> {
        let first = self.seq + 1;
        for event in &events {
            self.state.apply(event);
        }
        self.seq += events.len() as u64;
        let snapshot = self
            .cadence
            .due(events.len() as u64, self.seq)
            .then_some(&self.state);
        let events = events.into_iter().map(DomainEvent::Chain).collect();
        self.journal
            .append(StreamId::chain(), first, events, snapshot)
    }

    fn when_durable<T: 'static>(
        &mut self,
        ack: impl Future<Output = Result<(), JournalError>> + 'static,
        value: T,
    ) -> ResponseActFuture<Self, Result<T, ChainActorError>> {
        Box::pin(ack.into_actor(self).map(move |result, _actor, ctx| match result {
            Ok(()) => Ok(value),
            Err(e) => {
                tracing::error!(error = %e, "chain journal append failed; the chain actor stops");
                ctx.stop();
                Err(ChainActorError::Journal(e))
            }
        }))
    }
}

impl Actor for ChainActor {
    type Context = Context<Self>;
}

/// Adds products to the catalog, all or none. Answered once durable.
#[derive(Message)]
#[rtype(result = "Result<(), ChainActorError>")]
pub struct AddProducts(pub Vec<Product>);

impl Handler<AddProducts> for ChainActor {
    type Result = ResponseActFuture<Self, Result<(), ChainActorError>>;

    fn handle(&mut self, msg: AddProducts, _ctx: &mut Self::Context) -> Self::Result {
        // Decide on a scratch copy so that a duplicate inside the batch is caught too.
        let mut scratch = self.state.clone();
        let mut events = Vec::with_capacity(msg.0.len());
        for product in msg.0 {
            match scratch.decide_add_product(product) {
                Ok(event) => {
                    scratch.apply(&event);
                    events.push(event);
                }
                Err(e) => return Box::pin(fut::ready(Err(e.into()))),
            }
        }
        if events.is_empty() {
            return Box::pin(fut::ready(Ok(())));
        }
        let ack = self.persist(events);
        self.when_durable(ack, ())
    }
}

/// Opens a new store with the next free id. Answered once durable.
#[derive(Message)]
#[rtype(result = "Result<Store, ChainActorError>")]
pub struct OpenStore(pub NewStore);

impl Handler<OpenStore> for ChainActor {
    type Result = ResponseActFuture<Self, Result<Store, ChainActorError>>;

    fn handle(&mut self, msg: OpenStore, _ctx: &mut Self::Context) -> Self::Result {
        let store = match self.state.decide_open_store(msg.0, now()) {
            Ok(store) => store,
            Err(e) => return Box::pin(fut::ready(Err(e.into()))),
        };
        let ack = self.persist(vec![ChainEvent::StoreOpened(store.clone())]);
        self.when_durable(ack, store)
    }
}

/// Creates a user (its password already hashed). Answered once durable.
#[derive(Message)]
#[rtype(result = "Result<User, ChainActorError>")]
pub struct CreateUser(pub User);

impl Handler<CreateUser> for ChainActor {
    type Result = ResponseActFuture<Self, Result<User, ChainActorError>>;

    fn handle(&mut self, msg: CreateUser, _ctx: &mut Self::Context) -> Self::Result {
        let user = msg.0;
        let event = match self.state.decide_create_user(user.clone()) {
            Ok(event) => event,
            Err(e) => return Box::pin(fut::ready(Err(e.into()))),
        };
        let ack = self.persist(vec![event]);
        self.when_durable(ack, user)
    }
}

/// Deactivates a user: their tokens stop working as soon as this is durable.
#[derive(Message)]
#[rtype(result = "Result<User, ChainActorError>")]
pub struct DeactivateUser(pub Username);

impl Handler<DeactivateUser> for ChainActor {
    type Result = ResponseActFuture<Self, Result<User, ChainActorError>>;

    fn handle(&mut self, msg: DeactivateUser, _ctx: &mut Self::Context) -> Self::Result {
        let decided = self.state.decide_deactivate_user(&msg.0);
        let events = match decided {
            Ok(event) => event.into_iter().collect::<Vec<_>>(),
            Err(e) => return Box::pin(fut::ready(Err(e.into()))),
        };
        let mut user = match self.state.user(&msg.0) {
            Some(user) => user.clone(),
            None => return Box::pin(fut::ready(Err(ChainError::UnknownUser(msg.0).into()))),
        };
        user.active = false;
        if events.is_empty() {
            return Box::pin(fut::ready(Ok(user)));
        }
        let ack = self.persist(events);
        self.when_durable(ack, user)
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), ChainActorError>")]
pub struct TakeChainSnapshot;

impl Handler<TakeChainSnapshot> for ChainActor {
    type Result = ResponseFuture<Result<(), ChainActorError>>;

    fn handle(&mut self, _msg: TakeChainSnapshot, _ctx: &mut Self::Context) -> Self::Result {
        if self.seq == 0 {
            return Box::pin(async { Ok(()) });
        }
        let ack = self
            .journal
            .snapshot(StreamId::chain(), self.seq, &self.state);
        Box::pin(async move { ack.await.map_err(ChainActorError::from) })
    }
}

#[derive(Clone)]
pub struct ChainHandle {
    addr: Addr<ChainActor>,
    timeout: Duration,
}

impl ChainHandle {
    pub fn new(addr: Addr<ChainActor>, timeout: Duration) -> Self {
        Self { addr, timeout }
    }

    async fn ask<M>(&self, msg: M) -> Result<M::Result, ChainActorError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        ChainActor: Handler<M>,
    {
        self.addr
            .send(msg)
            .timeout(self.timeout)
            .await
            .map_err(|_| ChainActorError::Unavailable)
    }

    pub async fn add_products(&self, products: Vec<Product>) -> Result<(), ChainActorError> {
        self.ask(AddProducts(products)).await?
    }

    pub async fn open_store(&self, new: NewStore) -> Result<Store, ChainActorError> {
        self.ask(OpenStore(new)).await?
    }

    pub async fn create_user(&self, user: User) -> Result<User, ChainActorError> {
        self.ask(CreateUser(user)).await?
    }

    pub async fn deactivate_user(&self, username: Username) -> Result<User, ChainActorError> {
        self.ask(DeactivateUser(username)).await?
    }

    pub async fn snapshot(&self) -> Result<(), ChainActorError> {
        self.ask(TakeChainSnapshot).await?
    }
}
