//! The registry: recovers the chain and every store from the journal at start, starts their
//! actors (spread over a few arbiters), finds them, and restarts a store whose actor
//! stopped after a failed commit.
//!
//! Recovery reads the disk, so it runs on blocking threads, never on an arbiter.

use actix::prelude::*;
use dashmap::DashMap;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::chain::{ChainActor, ChainActorError, ChainHandle};
use super::product::{CentralOp, ProductHandle, ProductStockActor, RemoteCentral};
use super::restock::FlowError;
use super::store::{ActorSettings, Prices, SourceOp, StoreActor, StoreError, StoreHandle};
use crate::domain::Transfer;
use crate::domain::{
    CentralEvent, CentralStock, ChainEvent, ChainState, NewStore, Sku, Store, StoreEvent, StoreId,
    StoreState,
};
use crate::persistence::integrity::{Hash, Verified};
use crate::persistence::{Journal, JournalError, StreamId};

/// Called with each store's recovered state before its actor takes a write (to load read
/// models).
pub type OnStoreRecovered = Arc<dyn Fn(StoreId, &StoreState) + Send + Sync>;
/// The same for a product of the logistics center.
pub type OnProductRecovered = Arc<dyn Fn(&Sku, &CentralStock) + Send + Sync>;

/// What read models learn from recovery.
#[derive(Clone)]
pub struct RecoveryHooks {
    pub store: OnStoreRecovered,
    pub product: OnProductRecovered,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("store {0} does not exist")]
    UnknownStore(StoreId),
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("recovery task failed: {0}")]
    Task(String),
}

pub struct Registry {
    chain: ChainHandle,
    stores: DashMap<StoreId, StoreHandle>,
    journal: Journal,
    prices: Prices,
    settings: ActorSettings,
    arbiters: Vec<Arbiter>,
    next_arbiter: AtomicUsize,
    restart: tokio::sync::Mutex<()>,
    hooks: RecoveryHooks,
    products: DashMap<Sku, ProductHandle>,
    mailbox_pending: Gauge,
    /// Which stores and products are this instance's (the others' are never started here).
    cluster: Arc<dyn Ownership>,
    /// The central stock actors of other instances.
    remote: Option<Arc<dyn RemoteCentral>>,
    /// On a follower: the last chain event whose effects are in place here (a replicated
    /// store's actor started), for `POST /stores` to answer once its store is usable.
    applied: tokio::sync::watch::Sender<u64>,
}

/// Which actors are this instance's: told by the composition root (in a cluster, from
/// the instances' rendezvous hashing), so the actors never need to know how it is decided.
pub trait Ownership: Send + Sync {
    /// This instance's name.
    fn me(&self) -> &str;
    fn owns_store(&self, id: StoreId) -> bool;
    /// The instance holding the store's actor.
    fn store_owner(&self, id: StoreId) -> &str;
    /// The instance holding the product's central stock actor.
    fn product_owner(&self, sku: &Sku) -> &str;
    /// The instance that writes the reference data.
    fn chain_owner(&self) -> &str;
}

/// One instance holding every actor.
struct AllHere;

impl Ownership for AllHere {
    fn me(&self) -> &str {
        SINGLE_INSTANCE
    }
    fn owns_store(&self, _: StoreId) -> bool {
        true
    }
    fn store_owner(&self, _: StoreId) -> &str {
        SINGLE_INSTANCE
    }
    fn product_owner(&self, _: &Sku) -> &str {
        SINGLE_INSTANCE
    }
    fn chain_owner(&self) -> &str {
        SINGLE_INSTANCE
    }
}

/// The name of an instance that is the whole chain.
const SINGLE_INSTANCE: &str = "magasin";

/// Where a registry's actors live: this instance's share of a cluster, and how to reach
/// the central stock actors of the other instances.
#[derive(Clone)]
pub struct Placement {
    pub owner: Arc<dyn Ownership>,
    pub remote: Option<Arc<dyn RemoteCentral>>,
}

impl Placement {
    /// One instance holding every actor.
    pub fn single() -> Self {
        Self {
            owner: Arc::new(AllHere),
            remote: None,
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, JournalError> + Send + 'static,
) -> Result<T, RegistryError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RegistryError::Task(e.to_string()))?
        .map_err(RegistryError::from)
}

impl Registry {
    /// Recovers the chain, then every store, and starts their actors. Returns the
    /// recovered chain state (for the catalog read model).
    pub async fn start(
        journal: Journal,
        prices: Prices,
        settings: ActorSettings,
        hooks: RecoveryHooks,
        mailbox_pending: Gauge,
        placement: Placement,
    ) -> Result<(Self, ChainState), RegistryError> {
        let chain_journal = journal.clone();
        let (chain, chain_seq, chain_tail) = blocking(move || {
            chain_journal.recover(
                &StreamId::chain(),
                |state: &mut ChainState, event: ChainEvent| state.apply(&event),
            )
        })
        .await?;
        let chain_actor = ChainActor::new(
            chain.clone(),
            chain_seq,
            chain_tail,
            journal.clone(),
            settings.snapshot_every,
            settings.clock.clone(),
        );
        let chain_durable = chain_actor.durable();
        let chain_addr = chain_actor.start();
        let cluster = placement.owner;
        let owner_elsewhere =
            (cluster.chain_owner() != cluster.me()).then(|| cluster.chain_owner().to_owned());
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 4);
        let registry = Self {
            chain: ChainHandle::new(
                chain_addr,
                settings.ask_timeout,
                chain_durable,
                owner_elsewhere,
            ),
            stores: DashMap::new(),
            journal,
            prices,
            settings,
            arbiters: (0..workers).map(|_| Arbiter::new()).collect(),
            next_arbiter: AtomicUsize::new(0),
            restart: tokio::sync::Mutex::new(()),
            hooks,
            products: DashMap::new(),
            mailbox_pending,
            cluster,
            remote: placement.remote,
            applied: tokio::sync::watch::Sender::new(chain_seq),
        };
        for store in chain.stores().filter(|s| registry.cluster.owns_store(s.id)) {
            registry.recover_store(store.id).await?;
        }
        let streams_journal = registry.journal.clone();
        let streams = blocking(move || streams_journal.streams()).await?;
        // Only this instance's products: a data directory that once served alone (or
        // under another instance list) may hold others', which their owners now serve.
        for sku in streams
            .iter()
            .filter_map(StreamId::product_sku)
            .filter(|sku| registry.cluster.product_owner(sku) == registry.cluster.me())
        {
            registry.recover_product(sku).await?;
        }
        tracing::info!(
            stores = registry.stores.len(),
            chain_events = chain_seq,
            "recovery finished"
        );
        Ok((registry, chain))
    }

    /// Recovers a store: its state from the latest snapshot and the events after it, its
    /// history brought up to the journal (after a crash, or once after an upgrade from a
    /// version that kept sales in the state), and the idempotency keys of the retention
    /// window read back from the history.
    async fn recover_store(&self, id: StoreId) -> Result<StoreHandle, RegistryError> {
        let journal = self.journal.clone();
        let (keys, now) = (self.settings.key_retention, self.settings.clock.now());
        let (state, seq, tail) = blocking(move || {
            let (mut state, seq, tail) =
                journal.recover(&StreamId::store(id), StoreState::apply_owned)?;
            let history = journal.history();
            let filled = history.catch_up(&journal, id, seq)?;
            if filled > 0 {
                tracing::info!(store = %id, events = filled, "history brought up to the journal");
            }
            for (used, outcome, at) in history.keys_since(id, keys.oldest(now))? {
                state.remember_key(&used, outcome, at);
            }
            // The events replayed over the snapshot brought their keys, older ones too.
            state.let_go_keys(keys, now);
            Ok((state, seq, tail))
        })
        .await?;
        (self.hooks.store)(id, &state);
        Ok(self.launch(id, state, seq, tail))
    }

    /// Starts a store's actor at `seq`, `unsnapshotted` events after its latest snapshot.
    fn launch(&self, id: StoreId, state: StoreState, seq: u64, unsnapshotted: u64) -> StoreHandle {
        let actor = StoreActor::new(
            id,
            state,
            seq,
            unsnapshotted,
            self.journal.clone(),
            self.prices.clone(),
            self.settings.clone(),
        );
        let which = self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        let addr = StoreActor::start_in_arbiter(&self.arbiters[which].handle(), move |_| actor);
        let handle = StoreHandle::new(
            id,
            addr,
            self.journal.history().clone(),
            self.settings.ask_timeout,
            self.mailbox_pending.clone(),
        );
        self.stores.insert(id, handle.clone());
        handle
    }

    async fn recover_product(&self, sku: Sku) -> Result<ProductHandle, RegistryError> {
        let journal = self.journal.clone();
        let stream_sku = sku.clone();
        let (state, seq, tail) = blocking(move || {
            journal.recover(
                &StreamId::product(&stream_sku),
                |state: &mut CentralStock, event: CentralEvent| state.apply(&event),
            )
        })
        .await?;
        (self.hooks.product)(&sku, &state);
        let actor = ProductStockActor::new(
            sku.clone(),
            state,
            seq,
            tail,
            self.journal.clone(),
            self.settings.snapshot_every,
            self.settings.clock.clone(),
        );
        let which = self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        let addr =
            ProductStockActor::start_in_arbiter(&self.arbiters[which].handle(), move |_| actor);
        let handle = ProductHandle::new(
            addr,
            self.settings.ask_timeout,
            self.mailbox_pending.clone(),
        );
        self.products.insert(sku, handle.clone());
        Ok(handle)
    }

    /// The actor of a product's central stock, started (from its journal) on first use.
    /// The caller checks that the SKU is in the catalog.
    pub async fn product(&self, sku: &Sku) -> Result<ProductHandle, RegistryError> {
        if let Some(handle) = self.products.get(sku).map(|h| h.clone())
            && handle.is_alive()
        {
            return Ok(handle);
        }
        let _one_at_a_time = self.restart.lock().await;
        if let Some(handle) = self.products.get(sku).map(|h| h.clone())
            && handle.is_alive()
        {
            return Ok(handle);
        }
        self.recover_product(sku.clone()).await
    }

    /// This instance holds the store's actor (in a cluster, other stores are elsewhere).
    pub fn owns_store(&self, id: StoreId) -> bool {
        self.cluster.owns_store(id)
    }

    pub fn chain(&self) -> &ChainHandle {
        &self.chain
    }

    /// Up to `limit` durable events of the reference data after `after`, in order (the
    /// change feed the other instances copy).
    pub async fn chain_events(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, ChainEvent)>, RegistryError> {
        let journal = self.journal.clone();
        blocking(move || journal.read(&StreamId::chain(), after, limit)).await
    }

    /// Event `seq` of the reference data, if it is in the journal.
    pub async fn chain_event(&self, seq: u64) -> Result<Option<ChainEvent>, RegistryError> {
        let events = self.chain_events(seq.saturating_sub(1), 1).await?;
        Ok(events.into_iter().find(|(s, _)| *s == seq).map(|(_, e)| e))
    }

    /// Whether the journal takes writes: its last commit succeeded, or, after a failure,
    /// an empty commit does now (the disk is back).
    pub async fn journal_writable(&self) -> bool {
        self.journal.is_writable() || self.journal.probe().await
    }

    pub fn store_ids(&self) -> Vec<StoreId> {
        let mut ids: Vec<StoreId> = self.stores.iter().map(|e| *e.key()).collect();
        ids.sort();
        ids
    }

    /// Runs `read` over the journal on a blocking thread.
    async fn journal_read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Journal) -> Result<T, JournalError> + Send + 'static,
    ) -> Result<T, RegistryError> {
        let journal = self.journal.clone();
        tokio::task::spawn_blocking(move || read(&journal))
            .await
            .map_err(|e| RegistryError::Task(e.to_string()))?
            .map_err(RegistryError::from)
    }

    /// Verifies the hash chain of a store's stream, from its first event (archive and
    /// journal). Events the store writes meanwhile are checked if the walk reaches them.
    pub async fn verify_store(&self, id: StoreId) -> Result<Verified, RegistryError> {
        self.journal_read(move |j| j.verify(&StreamId::store(id)))
            .await
    }

    /// The hash of event `seq` of a store's stream (the head of its chain there).
    pub async fn store_event_hash(
        &self,
        id: StoreId,
        seq: u64,
    ) -> Result<Option<Hash>, RegistryError> {
        self.journal_read(move |j| j.event_hash(&StreamId::store(id), seq))
            .await
    }

    /// The store's handle; a store whose actor stopped (failed commit) is recovered from
    /// its journal first.
    pub async fn store(&self, id: StoreId) -> Result<StoreHandle, RegistryError> {
        let handle = self
            .stores
            .get(&id)
            .map(|h| h.clone())
            .ok_or(RegistryError::UnknownStore(id))?;
        if handle.is_alive() {
            return Ok(handle);
        }
        let _one_at_a_time = self.restart.lock().await;
        if let Some(current) = self.stores.get(&id).map(|h| h.clone())
            && current.is_alive()
        {
            return Ok(current);
        }
        tracing::warn!(store = %id, "restarting a stopped store actor from its journal");
        self.recover_store(id).await
    }

    /// Runs `op` on the product's central stock actor, here or at its owner.
    pub async fn central(&self, sku: &Sku, op: CentralOp) -> Result<u32, FlowError> {
        let owner = self.cluster.product_owner(sku);
        if owner == self.cluster.me() {
            return Ok(self.product(sku).await?.run(op).await?);
        }
        match &self.remote {
            Some(remote) => Ok(remote.run(owner.to_owned(), sku.clone(), op).await?),
            None => Err(StoreError::Peer(format!("no route to instance {owner}")).into()),
        }
    }

    /// Runs a transfer's step on its sending store, here or on the store's owner.
    pub async fn at_source(&self, store: StoreId, op: SourceOp) -> Result<Transfer, FlowError> {
        let owner = self.cluster.store_owner(store);
        if owner == self.cluster.me() {
            return Ok(self.store(store).await?.at_source(op).await?);
        }
        match &self.remote {
            Some(remote) => Ok(remote.at_source(owner.to_owned(), store, op).await?),
            None => Err(StoreError::Peer(format!("no route to instance {owner}")).into()),
        }
    }

    /// Opens a store (durably) and starts its actor if it is this instance's: usable as
    /// soon as this returns. (Another owner starts it when its copy of the chain has it.)
    pub async fn open_store(&self, new: NewStore) -> Result<Store, ChainActorError> {
        let store = self.chain.open_store(new).await?;
        if self.cluster.owns_store(store.id) {
            self.launch(store.id, StoreState::default(), 0, 0);
        }
        Ok(store)
    }

    /// Journals a page of the owner's chain feed on this copy, then starts the actors of
    /// the stores it opened that this instance owns. Answers the copy's sequence.
    pub async fn replicate_chain(
        &self,
        events: Vec<(u64, ChainEvent)>,
    ) -> Result<u64, ChainActorError> {
        let opened: Vec<StoreId> = events
            .iter()
            .filter_map(|(_, e)| match e {
                ChainEvent::StoreOpened(store) => Some(store.id),
                _ => None,
            })
            .filter(|id| self.cluster.owns_store(*id))
            .collect();
        let seq = self.chain.replicate(events).await?;
        for id in opened {
            if !self.stores.contains_key(&id)
                && let Err(e) = self.recover_store(id).await
            {
                tracing::error!(store = %id, error = %e, "cannot start a replicated store");
            }
        }
        super::watermark::raise(&self.applied, seq);
        Ok(seq)
    }

    /// Waits up to `wait` until chain event `seq` is in effect here (on a follower: its
    /// stores started too); answers the sequence reached.
    pub async fn wait_applied(&self, seq: u64, wait: std::time::Duration) -> u64 {
        if self.chain.is_owner() {
            return self.chain.wait_for(seq, wait).await;
        }
        super::watermark::reach(self.applied.subscribe(), seq, wait).await
    }

    /// The store's journal after `after`, at most `limit` events: its stock ledger.
    pub async fn ledger(
        &self,
        id: StoreId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, StoreEvent)>, RegistryError> {
        if !self.stores.contains_key(&id) {
            return Err(RegistryError::UnknownStore(id));
        }
        let journal = self.journal.clone();
        blocking(move || journal.read(&StreamId::store(id), after, limit)).await
    }

    /// A product's central ledger after `after`, at most `limit` events.
    pub async fn central_ledger(
        &self,
        sku: &Sku,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, CentralEvent)>, RegistryError> {
        let journal = self.journal.clone();
        let stream = StreamId::product(sku);
        blocking(move || journal.read(&stream, after, limit)).await
    }

    /// Stops every actor's arbiter (their state is dropped). For an embedder that recovers
    /// a journal more than once in one process, such as the recovery benchmark.
    pub fn stop(&self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }

    /// Snapshots every store and the chain (graceful shutdown), waiting until durable.
    pub async fn snapshot_all(&self) {
        let handles: Vec<(StoreId, StoreHandle)> = self
            .stores
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect();
        for (id, handle) in handles {
            if let Err(e) = handle.snapshot().await {
                tracing::error!(store = %id, error = %e, "snapshot at shutdown failed");
            }
        }
        let products: Vec<(Sku, ProductHandle)> = self
            .products
            .iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect();
        for (sku, handle) in products {
            if let Err(e) = handle.run(CentralOp::Snapshot).await {
                tracing::error!(sku = %sku, error = %e, "snapshot at shutdown failed");
            }
        }
        if let Err(e) = self.chain.snapshot().await {
            tracing::error!(error = %e, "chain snapshot at shutdown failed");
        }
    }
}
