//! `ChainActor`: the only writer of the chain's reference data (catalog, stores).
//!
//! Same discipline as a store: decide, apply in memory, journal, answer when durable.
//! Store actors read prices from the committed catalog read model, never from here.
//!
//! In a cluster one instance owns the reference data (ADR 0015); on every other instance
//! this actor is a follower: it takes no decision, it journals the owner's events in the
//! owner's order ([`Replicate`]), so its copy is the owner's journal up to some sequence.

use actix::prelude::*;
use std::time::Duration;
use tokio::sync::watch;

use super::clock::Clock;
use super::durable::{Durable, Journaled, StreamState, once_settled, when_durable};
use super::watermark;
use crate::domain::{
    ChainError, ChainEvent, ChainState, ChangedBy, Decided, DomainEvent, Jurisdiction, NewOrder,
    NewStore, Product, ProductChange, PurchaseError, PurchaseOrder, Purchasing, Receipt, Sku,
    Stamp, Store, StoreDetails, StoreId, Supplier, Timestamp, User, UserAccount, UserChange,
    Username, Webhook,
};
use crate::persistence::{Journal, JournalError, StreamId};

#[derive(Debug, thiserror::Error)]
pub enum ChainActorError {
    #[error(transparent)]
    Rule(#[from] ChainError),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
    #[error("chain actor busy or stopped")]
    Unavailable,
    /// A write reached a follower: the owner of the reference data decides it.
    #[error("the reference data is written by instance {0}")]
    NotOwner(String),
    /// The change feed skipped events: the copy waits for the missing ones.
    #[error("chain copy at {have}, feed page starts at {first}")]
    Gap { have: u64, first: u64 },
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
}

pub struct ChainActor {
    log: Durable<ChainState>,
    /// Dates a store's opening.
    clock: Clock,
}

impl StreamState for ChainState {
    type Event = ChainEvent;

    fn apply(&mut self, event: &ChainEvent) {
        ChainState::apply(self, event);
    }
}

impl Journaled for ChainActor {
    type State = ChainState;

    fn stream(&mut self) -> &mut Durable<ChainState> {
        &mut self.log
    }
}

type Answer<T> = ResponseActFuture<ChainActor, Result<T, ChainActorError>>;

impl ChainActor {
    /// The chain recovered at `seq`, `unsnapshotted` events after its latest snapshot.
    pub fn new(
        state: ChainState,
        seq: u64,
        unsnapshotted: u64,
        journal: Journal,
        snapshot_every: u64,
        clock: Clock,
    ) -> Self {
        Self {
            clock,
            log: Durable::recovered(
                StreamId::chain(),
                state,
                seq,
                unsnapshotted,
                journal,
                snapshot_every,
                |_, event| DomainEvent::Chain(event),
            ),
        }
    }

    /// Durable sequence updates: the chain's change feed and copies catching up wait on it.
    pub(super) fn durable(&self) -> watch::Receiver<u64> {
        self.log.watch()
    }

    fn state(&self) -> &ChainState {
        &self.log.state
    }

    /// Journals `events`, answering `value` once durable.
    fn write<T: 'static>(&mut self, events: Vec<ChainEvent>, value: T) -> Answer<T> {
        let ack = self.log.persist(events);
        when_durable(ack, value)
    }

    /// Answers `value` once everything applied so far is durable: a write that changes
    /// nothing (a retry, the same change again) may repeat one still in flight.
    fn once_durable<T: 'static>(&mut self, value: T) -> Answer<T> {
        once_settled(self, value, ChainActorError::Unavailable)
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
        let mut scratch = self.state().clone();
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
            return self.once_durable(());
        }
        self.write(events, ())
    }
}

/// Adds one product, as an administrator does: the same product again is answered as it
/// is (a retried request), another product under its SKU or barcode is refused.
#[derive(Message)]
#[rtype(result = "Result<Added, ChainActorError>")]
pub struct AddProduct(pub Product);

/// What [`AddProduct`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    Created(Product),
    /// The catalog already had this very product.
    Existing(Product),
}

impl Handler<AddProduct> for ChainActor {
    type Result = ResponseActFuture<Self, Result<Added, ChainActorError>>;

    fn handle(&mut self, msg: AddProduct, _ctx: &mut Self::Context) -> Self::Result {
        let product = msg.0;
        if self.state().product(&product.sku) == Some(&product) {
            return self.once_durable(Added::Existing(product));
        }
        let event = match self.state().decide_add_product(product.clone()) {
            Ok(event) => event,
            Err(e) => return Box::pin(fut::ready(Err(e.into()))),
        };
        self.write(vec![event], Added::Created(product))
    }
}

/// Changes a product's name, category or price. Answered once durable, with the product
/// as it is now (unchanged when nothing differed).
#[derive(Message)]
#[rtype(result = "Result<Product, ChainActorError>")]
pub struct ChangeProduct(pub Sku, pub ProductChange);

impl Handler<ChangeProduct> for ChainActor {
    type Result = ResponseActFuture<Self, Result<Product, ChainActorError>>;

    fn handle(&mut self, msg: ChangeProduct, _ctx: &mut Self::Context) -> Self::Result {
        let ChangeProduct(sku, change) = msg;
        match self.state().decide_change_product(&sku, change) {
            Err(e) => Box::pin(fut::ready(Err(e.into()))),
            Ok(None) => match self.state().product(&sku).cloned() {
                Some(current) => self.once_durable(current),
                None => Box::pin(fut::ready(Err(ChainError::UnknownProduct(sku).into()))),
            },
            Ok(Some(changed)) => {
                self.write(vec![ChainEvent::ProductChanged(changed.clone())], changed)
            }
        }
    }
}

/// Opens a new store with the next free id. Answered once durable.
#[derive(Message)]
#[rtype(result = "Result<Store, ChainActorError>")]
pub struct OpenStore(pub NewStore);

impl Handler<OpenStore> for ChainActor {
    type Result = ResponseActFuture<Self, Result<Store, ChainActorError>>;

    fn handle(&mut self, msg: OpenStore, _ctx: &mut Self::Context) -> Self::Result {
        let store = match self.state().decide_open_store(msg.0, self.clock.now()) {
            Ok(store) => store,
            Err(e) => return Box::pin(fut::ready(Err(e.into()))),
        };
        self.write(vec![ChainEvent::StoreOpened(store.clone())], store)
    }
}

/// Defines a jurisdiction with every rate it ever had; answered once durable (at once when
/// it is already exactly that).
#[derive(Message)]
#[rtype(result = "Result<Jurisdiction, ChainActorError>")]
pub struct SetJurisdiction(pub Jurisdiction);

impl Handler<SetJurisdiction> for ChainActor {
    type Result = ResponseActFuture<Self, Result<Jurisdiction, ChainActorError>>;

    fn handle(&mut self, msg: SetJurisdiction, _ctx: &mut Self::Context) -> Self::Result {
        let jurisdiction = msg.0;
        match self.state().decide_set_jurisdiction(jurisdiction.clone()) {
            None => self.once_durable(jurisdiction),
            Some(event) => self.write(vec![event], jurisdiction),
        }
    }
}

/// Changes a store's details (address, jurisdiction, registrations, tills). Answered with
/// the store as it is, once durable.
#[derive(Message)]
#[rtype(result = "Result<Store, ChainActorError>")]
pub struct ChangeStore(pub StoreId, pub StoreDetails);

impl Handler<ChangeStore> for ChainActor {
    type Result = ResponseActFuture<Self, Result<Store, ChainActorError>>;

    fn handle(&mut self, msg: ChangeStore, _ctx: &mut Self::Context) -> Self::Result {
        let ChangeStore(id, details) = msg;
        match self.state().decide_change_store(id, details) {
            Err(e) => Box::pin(fut::ready(Err(e.into()))),
            Ok(None) => match self.state().store(id).cloned() {
                Some(current) => self.once_durable(current),
                None => Box::pin(fut::ready(Err(ChainError::UnknownStore(id).into()))),
            },
            Ok(Some(changed)) => {
                self.write(vec![ChainEvent::StoreChanged(changed.clone())], changed)
            }
        }
    }
}

/// Changes a user (role, activity, password), `by` whom: answered with the account as it
/// is, once durable. A change that changes nothing is answered as the account stands.
#[derive(Message)]
#[rtype(result = "Result<UserAccount, ChainActorError>")]
pub struct ChangeUser {
    pub username: Username,
    pub change: UserChange,
    pub by: Option<Username>,
}

impl Handler<ChangeUser> for ChainActor {
    type Result = ResponseActFuture<Self, Result<UserAccount, ChainActorError>>;

    fn handle(&mut self, msg: ChangeUser, _ctx: &mut Self::Context) -> Self::Result {
        let stamp = ChangedBy {
            by: msg.by,
            at: self.clock.now(),
        };
        let decided = self
            .state()
            .decide_change_user(&msg.username, msg.change, stamp);
        let events = match decided {
            Ok(event) => event.into_iter().collect::<Vec<_>>(),
            Err(e) => return Box::pin(fut::ready(Err(e.into()))),
        };
        let written = !events.is_empty();
        let ack = written.then(|| self.log.persist(events));
        let Some(account) = self.state().account(&msg.username).cloned() else {
            return Box::pin(fut::ready(
                Err(ChainError::UnknownUser(msg.username).into()),
            ));
        };
        match ack {
            Some(ack) => when_durable(ack, account),
            None => self.once_durable(account),
        }
    }
}

/// Registers a webhook endpoint (its id given here); answered with it once durable.
#[derive(Message)]
#[rtype(result = "Result<Webhook, ChainActorError>")]
pub struct RegisterWebhook(pub Webhook);

impl Handler<RegisterWebhook> for ChainActor {
    type Result = ResponseActFuture<Self, Result<Webhook, ChainActorError>>;

    fn handle(&mut self, msg: RegisterWebhook, _ctx: &mut Self::Context) -> Self::Result {
        let event = self.state().decide_register_webhook(msg.0);
        let ChainEvent::WebhookRegistered(registered) = &event else {
            return Box::pin(fut::ready(Err(ChainActorError::Unavailable)));
        };
        let registered = registered.clone();
        self.write(vec![event], registered)
    }
}

/// Removes a webhook endpoint; removing one that is not there is harmless.
#[derive(Message)]
#[rtype(result = "Result<bool, ChainActorError>")]
pub struct RemoveWebhook(pub u32);

impl Handler<RemoveWebhook> for ChainActor {
    type Result = ResponseActFuture<Self, Result<bool, ChainActorError>>;

    fn handle(&mut self, msg: RemoveWebhook, _ctx: &mut Self::Context) -> Self::Result {
        match self.state().decide_remove_webhook(msg.0) {
            Some(event) => self.write(vec![event], true),
            None => self.once_durable(false),
        }
    }
}

/// Creates a user (its password already hashed), `by` whom. Answered once durable.
#[derive(Message)]
#[rtype(result = "Result<User, ChainActorError>")]
pub struct CreateUser {
    pub user: User,
    pub by: Option<Username>,
}

impl Handler<CreateUser> for ChainActor {
    type Result = ResponseActFuture<Self, Result<User, ChainActorError>>;

    fn handle(&mut self, msg: CreateUser, _ctx: &mut Self::Context) -> Self::Result {
        let stamp = ChangedBy {
            by: msg.by,
            at: self.clock.now(),
        };
        let event = match self.state().decide_create_user(msg.user.clone(), stamp) {
            Ok(event) => event,
            Err(e) => return Box::pin(fut::ready(Err(e.into()))),
        };
        self.write(vec![event], msg.user)
    }
}

/// A write to the suppliers or the purchase orders (ADR 0032).
#[derive(Debug, Clone)]
pub enum PurchaseCommand {
    SetSupplier(Supplier),
    /// A supplier only if its code is new (seeding: never undoes a change).
    AddSupplier(Supplier),
    Place(NewOrder, Username),
    /// A receipt against an order, under its Idempotency-Key.
    Receive {
        order: u64,
        receipt: Receipt,
        key: String,
        by: Username,
    },
    /// Approves (`true`) or refuses the units of a receipt beyond its order.
    DecideOver {
        order: u64,
        receipt: u32,
        approved: bool,
        by: Username,
    },
    Close {
        order: u64,
        by: Username,
    },
}

/// What a [`PurchaseCommand`] left, once durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purchased {
    Supplier(Supplier),
    Order {
        order: PurchaseOrder,
        /// Whether this call wrote it (`false`: a retry, or nothing to change).
        written: bool,
        /// The receipt a `Receive` recorded (or found under its key).
        receipt: Option<u32>,
    },
}

impl PurchaseCommand {
    fn decide(&self, state: &Purchasing, at: Timestamp) -> Result<Decided, PurchaseError> {
        let stamp = |by: &Username| Stamp { at, by: by.clone() };
        match self {
            Self::SetSupplier(s) => Ok(state
                .decide_set_supplier(s.clone())
                .map_or(Decided::Done, Decided::New)),
            Self::AddSupplier(s) => Ok(state
                .decide_add_supplier(s.clone())
                .map_or(Decided::Done, Decided::New)),
            Self::Place(new, by) => state.decide_place(new.clone(), stamp(by)),
            Self::Receive {
                order,
                receipt,
                key,
                by,
            } => state.decide_receive(*order, receipt, key, stamp(by)),
            Self::DecideOver {
                order,
                receipt,
                approved,
                by,
            } => state.decide_over(*order, *receipt, *approved, stamp(by)),
            Self::Close { order, by } => state.decide_close(*order, stamp(by)),
        }
    }

    /// The answer, read from the state once the command's event (if any) is applied.
    fn answer(&self, state: &Purchasing, written: bool) -> Result<Purchased, PurchaseError> {
        let (id, receipt) = match self {
            Self::SetSupplier(s) | Self::AddSupplier(s) => {
                return Ok(Purchased::Supplier(
                    state
                        .supplier(&s.code)
                        .cloned()
                        .unwrap_or_else(|| s.clone()),
                ));
            }
            Self::Place(new, _) => {
                let order = state.order_by_key(&new.key).map_or(0, |o| o.id);
                (order, None)
            }
            Self::Receive { order, key, .. } => {
                let number = state
                    .order(*order)
                    .and_then(|o| o.receipts.iter().find(|r| &r.key == key))
                    .map(|r| r.number);
                (*order, number)
            }
            Self::DecideOver { order, receipt, .. } => (*order, Some(*receipt)),
            Self::Close { order, .. } => (*order, None),
        };
        let order = state
            .order(id)
            .cloned()
            .ok_or(PurchaseError::UnknownOrder(id))?;
        Ok(Purchased::Order {
            order,
            written,
            receipt,
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<Purchased, ChainActorError>")]
pub struct Purchase(pub PurchaseCommand);

impl Handler<Purchase> for ChainActor {
    type Result = ResponseActFuture<Self, Result<Purchased, ChainActorError>>;

    fn handle(&mut self, msg: Purchase, _ctx: &mut Self::Context) -> Self::Result {
        let command = msg.0;
        let decided = command.decide(self.state().purchasing(), self.clock.now());
        let ack = match decided {
            Err(e) => return Box::pin(fut::ready(Err(e.into()))),
            Ok(Decided::Done) => None,
            Ok(Decided::New(event)) => Some(self.log.persist(vec![ChainEvent::Purchasing(event)])),
        };
        let answer = match command.answer(self.state().purchasing(), ack.is_some()) {
            Ok(answer) => answer,
            Err(e) => return Box::pin(fut::ready(Err(e.into()))),
        };
        match ack {
            Some(ack) => when_durable(ack, answer),
            None => self.once_durable(answer),
        }
    }
}

/// Events of the owner's journal, with their sequence, journaled here in the same order.
/// Events this copy already has are passed over, so a page fetched twice is harmless.
/// Answers this copy's sequence once durable.
#[derive(Message)]
#[rtype(result = "Result<u64, ChainActorError>")]
pub struct Replicate(pub Vec<(u64, ChainEvent)>);

impl Handler<Replicate> for ChainActor {
    type Result = ResponseActFuture<Self, Result<u64, ChainActorError>>;

    fn handle(&mut self, msg: Replicate, _ctx: &mut Self::Context) -> Self::Result {
        let have = self.log.seq();
        let fresh: Vec<(u64, ChainEvent)> =
            msg.0.into_iter().filter(|(seq, _)| *seq > have).collect();
        match fresh.first() {
            None => return Box::pin(fut::ready(Ok(have))),
            Some((first, _)) if *first != have + 1 => {
                let first = *first;
                return Box::pin(fut::ready(Err(ChainActorError::Gap { have, first })));
            }
            Some(_) => {}
        }
        // Pages come from the owner's journal: consecutive. A hole inside one is refused
        // whole rather than journaled under the wrong numbers.
        if let Some(window) = fresh.windows(2).find(|w| w[1].0 != w[0].0 + 1) {
            let first = window[1].0;
            return Box::pin(fut::ready(Err(ChainActorError::Gap { have, first })));
        }
        let seq = fresh.last().map_or(have, |(seq, _)| *seq);
        self.write(fresh.into_iter().map(|(_, e)| e).collect(), seq)
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), ChainActorError>")]
pub struct TakeChainSnapshot;

impl Handler<TakeChainSnapshot> for ChainActor {
    type Result = ResponseFuture<Result<(), ChainActorError>>;

    fn handle(&mut self, _msg: TakeChainSnapshot, _ctx: &mut Self::Context) -> Self::Result {
        let ack = self.log.snapshot();
        Box::pin(async move { ack.await.map_err(ChainActorError::from) })
    }
}

#[derive(Clone)]
pub struct ChainHandle {
    addr: Addr<ChainActor>,
    timeout: Duration,
    durable: watch::Receiver<u64>,
    /// `None`: this instance owns the reference data; else the owner's name.
    owner_elsewhere: Option<String>,
}

impl ChainHandle {
    pub fn new(
        addr: Addr<ChainActor>,
        timeout: Duration,
        durable: watch::Receiver<u64>,
        owner_elsewhere: Option<String>,
    ) -> Self {
        Self {
            addr,
            timeout,
            durable,
            owner_elsewhere,
        }
    }

    /// The last durable sequence of this instance's reference data.
    pub fn seq(&self) -> u64 {
        *self.durable.borrow()
    }

    /// Waits up to `wait` until the reference data reaches `seq`; answers the sequence
    /// reached.
    pub async fn wait_for(&self, seq: u64, wait: Duration) -> u64 {
        watermark::reach(self.durable.clone(), seq, wait).await
    }

    /// Waits up to `wait` for anything after `seq`; answers the sequence reached.
    pub async fn wait_after(&self, seq: u64, wait: Duration) -> u64 {
        self.wait_for(seq.saturating_add(1), wait).await
    }

    /// This instance owns the reference data (decides its writes).
    pub fn is_owner(&self) -> bool {
        self.owner_elsewhere.is_none()
    }

    fn writable(&self) -> Result<(), ChainActorError> {
        match &self.owner_elsewhere {
            None => Ok(()),
            Some(owner) => Err(ChainActorError::NotOwner(owner.clone())),
        }
    }

    /// Journals the owner's events on this copy (a follower's change-feed loop).
    pub async fn replicate(&self, events: Vec<(u64, ChainEvent)>) -> Result<u64, ChainActorError> {
        self.ask(Replicate(events)).await?
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
        self.writable()?;
        self.ask(AddProducts(products)).await?
    }

    pub async fn add_product(&self, product: Product) -> Result<Added, ChainActorError> {
        self.writable()?;
        self.ask(AddProduct(product)).await?
    }

    pub async fn change_product(
        &self,
        sku: Sku,
        change: ProductChange,
    ) -> Result<Product, ChainActorError> {
        self.writable()?;
        self.ask(ChangeProduct(sku, change)).await?
    }

    pub async fn open_store(&self, new: NewStore) -> Result<Store, ChainActorError> {
        self.writable()?;
        self.ask(OpenStore(new)).await?
    }

    pub async fn set_jurisdiction(
        &self,
        jurisdiction: Jurisdiction,
    ) -> Result<Jurisdiction, ChainActorError> {
        self.writable()?;
        self.ask(SetJurisdiction(jurisdiction)).await?
    }

    pub async fn change_store(
        &self,
        id: StoreId,
        details: StoreDetails,
    ) -> Result<Store, ChainActorError> {
        self.writable()?;
        self.ask(ChangeStore(id, details)).await?
    }

    pub async fn change_user(
        &self,
        username: Username,
        change: UserChange,
        by: Option<Username>,
    ) -> Result<UserAccount, ChainActorError> {
        self.writable()?;
        self.ask(ChangeUser {
            username,
            change,
            by,
        })
        .await?
    }

    pub async fn create_user(
        &self,
        user: User,
        by: Option<Username>,
    ) -> Result<User, ChainActorError> {
        self.writable()?;
        self.ask(CreateUser { user, by }).await?
    }

    pub async fn register_webhook(&self, webhook: Webhook) -> Result<Webhook, ChainActorError> {
        self.writable()?;
        self.ask(RegisterWebhook(webhook)).await?
    }

    /// Whether there was such an endpoint.
    pub async fn remove_webhook(&self, id: u32) -> Result<bool, ChainActorError> {
        self.writable()?;
        self.ask(RemoveWebhook(id)).await?
    }

    pub async fn purchase(&self, command: PurchaseCommand) -> Result<Purchased, ChainActorError> {
        self.writable()?;
        self.ask(Purchase(command)).await?
    }

    pub async fn snapshot(&self) -> Result<(), ChainActorError> {
        self.ask(TakeChainSnapshot).await?
    }
}
