//! magasin: the backend of a retail chain — stores sell, return and adjust stock, the
//! catalog is searched, and every write is journaled before it is acknowledged.
//!
//! # Layout
//!
//! Layers, lowest first (each may use only the ones its row names: ADR 0022, checked by
//! `scripts/check-architecture.sh`):
//!
//! - [`domain`]: pure types and rules (ids, money, catalog, stock, sales, returns, restock
//!   requests, events, validation). Uses nothing of ours.
//! - [`persistence`]: the journal and snapshots (SQLite or sled), the codec with its version
//!   byte, the group-commit writer, and the history of sales on disk that it fills. Uses
//!   domain.
//! - [`auth`]: password hashes, tokens, roles and permissions, the login throttle. Uses domain.
//! - [`reports`]: read models fed by committed events (catalog search, stock levels, users,
//!   the logistics center, the live feed) and every report and the dashboard assembled from
//!   them. Uses domain.
//! - [`actors`]: one actor per store, per product of the central stock and one for the
//!   chain's reference data, the only writers of their state, under one durability
//!   protocol; the registry that recovers and finds them. Uses domain and persistence.
//! - [`cluster`]: what spans instances: who owns a store, a product and the reference data,
//!   the signed internal API, the fan-out of chain-wide reads, the reference-data feed and
//!   forwarding a write to its owner. Uses domain, actors, reports.
//! - [`http`]: the actix-web API v1 and the web application's files: thin handlers,
//!   extractors, problem+json errors, OpenAPI. Uses everything above but persistence.
//! - [`metrics`]: Prometheus metrics, fed by the writer and the HTTP layer.
//! - [`request_id`]: the id of the request being served, for the logs.
//!
//! The composition root builds and joins them: this file ([`Application`]),
//! `main.rs` (the command line), [`config`] (the settings of every layer), `wiring` (the
//! adapters that let persistence serve reports without either naming the other),
//! [`bootstrap`] (the first administrator), [`demo`] (the demo chain) and [`compaction`]
//! (`magasin compact`).
//!
//! A sale flows: HTTP handler → `StoreHandle::record_sale` → `StoreActor` decides and
//! applies in memory → journal writer commits the batch (fsync) → history and read models
//! updated → the actor's answer → 201.

pub mod actors;
pub mod auth;
pub mod bootstrap;
pub mod cluster;
pub mod compaction;
pub mod config;
pub mod demo;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod persistence;
pub mod recovery;
pub mod reports;
pub mod request_id;
pub mod tls;
pub mod webhooks;
mod wiring;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;

use actors::{Placement, Prices, RecoveryHooks, Registry, RegistryError, RemoteCentral};
use auth::{LoginThrottle, SigningKey, TokenKeys};
use config::Settings;
use domain::{CentralStock, Sku, StoreId, StoreState};
use http::AppState;
use metrics::Metrics;
use persistence::{Journal, JournalError};
use reports::{
    CatalogView, CentralView, EventHub, Projector, RestockView, SalesFacts, StockView, UsersView,
};

/// Posts again the supplier receipts that moved stock in the last 30 days to their
/// products, on the owner of the reference data: a crash between the two journals is
/// mended (ADR 0032). Until every receipt is posted (another instance may still be
/// starting), it tries again, waiting longer each time, for about an hour.
async fn repost_purchases(app: Arc<http::AppState>) {
    if !app.registry.chain().is_owner() {
        return;
    }
    let since = domain::Timestamp(actors::now().0 - 30 * 86_400_000);
    let orders = app
        .purchasing
        .read(|p| p.orders().cloned().collect::<Vec<_>>());
    let mut wait = std::time::Duration::from_secs(1);
    for _ in 0..12 {
        let failed = app.registry.repost_purchases(&orders, since).await;
        if failed == 0 {
            return;
        }
        tracing::warn!(
            failed,
            retry_in_s = wait.as_secs(),
            "supplier receipts not all posted"
        );
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(std::time::Duration::from_secs(600));
    }
    tracing::error!("supplier receipts still not posted; the next start tries again");
}

/// Committed events kept for `/api/v1/events` clients that resume (`Last-Event-ID`).
const LIVE_EVENTS_KEPT: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the journal: {0}")]
    Journal(#[from] JournalError),
    #[error("recovery failed: {0}")]
    Recovery(#[from] RegistryError),
    #[error("{0}")]
    Auth(#[from] auth::AuthError),
    #[error("unknown time zone {name:?} in [reports] time_zone: {reason}")]
    TimeZone { name: String, reason: String },
    #[error("{0}")]
    Cluster(#[from] cluster::ClusterError),
    #[error("demo data: {0}")]
    Demo(#[from] demo::DemoError),
    #[error("{0}")]
    Bootstrap(#[from] bootstrap::BootstrapError),
    #[error("HTTPS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("the Z reports' signing key in {path}: {source}")]
    SealKeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("webhooks: {0}")]
    Webhooks(String),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
}

/// The key that signs Z reports: `MAGASIN_AUDIT_KEY`, else the one kept in the data
/// directory (`audit-key`, readable by its owner only), generated there the first time. In
/// a cluster every instance needs the same: set the variable (ADR 0027).
fn seal_key(settings: &Settings) -> Result<auth::seal::SealKey, StartupError> {
    if let Some(seed) = &settings.auth.audit_key {
        return Ok(auth::seal::SealKey::from_seed_hex(seed)?);
    }
    let path = settings.storage.data_dir.join("audit-key");
    let file_error = |source| StartupError::SealKeyFile {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(seed) => Ok(auth::seal::SealKey::from_seed_hex(&seed)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (key, seed) = auth::seal::SealKey::generate();
            write_private(&path, &seed).map_err(file_error)?;
            tracing::warn!(path = %path.display(), public_key = %key.public_hex(), "MAGASIN_AUDIT_KEY is not set: Z reports are signed with a key generated into the data directory");
            Ok(key)
        }
        Err(e) => Err(file_error(e)),
    }
}

/// Writes `content` to a new file only its owner may read.
fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(path.parent().unwrap_or(path))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

/// A started server: its address, and the future that runs it until shutdown.
pub struct Application {
    addr: SocketAddr,
    server: Server,
    state: web::Data<AppState>,
    journal: Journal,
    /// Held while serving: `magasin compact` refuses a data directory in use.
    _data_dir_lock: persistence::DataDirLock,
}

impl Application {
    /// Opens the journal, recovers every actor, seeds demo data if asked, and binds.
    /// Must run inside an actix system.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let lock = persistence::DataDirLock::acquire(&settings.storage.data_dir)?;
        let backend = persistence::open(settings.storage.backend, &settings.storage.data_dir)?;
        Self::build_on(settings, lock, backend).await
    }

    /// [`Application::build`] over a journal backend the caller opened (under the data
    /// directory's lock): a backend wrapped to fail on demand, for the disk-failure tests.
    pub async fn build_on(
        settings: &Settings,
        data_dir_lock: persistence::DataDirLock,
        backend: Arc<dyn persistence::JournalBackend>,
    ) -> Result<Self, StartupError> {
        let cluster = Arc::new(cluster::Cluster::from_settings(&settings.cluster)?);
        let peers = Arc::new(cluster::Peers::new(
            cluster.clone(),
            settings.cluster.secret.as_deref(),
        ));
        let placement = Placement {
            owner: cluster.clone(),
            remote: cluster
                .has_peers()
                .then(|| peers.clone() as Arc<dyn RemoteCentral>),
        };
        let (signing_key, generated) =
            SigningKey::from_config(settings.auth.jwt_secret.as_deref(), settings.demo.enabled)?;
        if generated {
            tracing::warn!(
                "MAGASIN_JWT_SECRET is not set: demo mode signs tokens with a random key, \
                 so tokens do not survive a restart and other instances will not accept them"
            );
        }
        let seal = seal_key(settings)?;
        let time_zone = jiff::tz::TimeZone::get(&settings.reports.time_zone).map_err(|e| {
            StartupError::TimeZone {
                name: settings.reports.time_zone.clone(),
                reason: e.to_string(),
            }
        })?;
        if settings.storage.keep_sales_days.is_some() {
            tracing::warn!(
                "[storage] keep_sales_days is ignored: stores hold no sales in memory, and \
                 compaction keeps every sale readable in the history"
            );
        }
        let catalog = Arc::new(CatalogView::default());
        let stock = Arc::new(StockView::default());
        let users = Arc::new(UsersView::default());
        let webhooks = Arc::new(reports::WebhookDirectory::default());
        let purchasing = Arc::new(reports::PurchasingView::default());
        let webhook_feed = Arc::new(webhooks::WebhookFeed::default());
        let central = Arc::new(CentralView::default());
        let restocks = Arc::new(RestockView::default());
        let transfers = Arc::new(reports::TransferView::default());
        let history = Arc::new(persistence::History::open(
            &settings.storage.data_dir,
            settings.idempotency.retention,
        )?);
        let sales = Arc::new(SalesFacts::new(history.clone()));
        let events = Arc::new(EventHub::new(LIVE_EVENTS_KEPT));
        let projector = Arc::new(Projector {
            catalog: catalog.clone(),
            stock: stock.clone(),
            users: users.clone(),
            webhooks: webhooks.clone(),
            purchasing: purchasing.clone(),
            central: central.clone(),
            restocks: restocks.clone(),
            transfers: transfers.clone(),
            events: events.clone(),
        });
        let metrics = Arc::new(Metrics::new());
        let listeners: Vec<Arc<dyn persistence::CommitListener>> =
            vec![projector, metrics.clone(), webhook_feed.clone()];
        let journal = Journal::start(backend, history, listeners, settings.writer_settings())?
            .with_archive(persistence::archive::Archive::new(
                &settings.storage.data_dir,
            ));
        let (stock_loader, restock_loader, central_loader, transfer_loader) = (
            stock.clone(),
            restocks.clone(),
            central.clone(),
            transfers.clone(),
        );
        let hooks = RecoveryHooks {
            store: Arc::new(move |id: StoreId, state: &StoreState| {
                stock_loader.load(id, state);
                restock_loader.load(state.restocks().cloned());
                transfer_loader.load(state.transfers().outgoing().cloned());
            }),
            product: Arc::new(move |sku: &Sku, state: &CentralStock| {
                central_loader.load(sku, state)
            }),
        };
        let prices: Prices = catalog.clone();
        let recovery_started = std::time::Instant::now();
        let (registry, chain) = Registry::start(
            journal.clone(),
            prices,
            settings.actor_settings(),
            hooks,
            metrics.mailbox_pending.clone(),
            placement,
        )
        .await?;
        metrics
            .recovery_seconds
            .set(recovery_started.elapsed().as_secs_f64());
        catalog.load(&chain);
        users.load(&chain);
        webhooks.load(&chain);
        purchasing.load(&chain);
        let outbox = Arc::new(webhooks::outbox::Outbox::open(&settings.storage.data_dir)?);
        let owner = cluster.clone();
        let owns: webhooks::Owns = Arc::new(move |stream: &persistence::StreamId| {
            if *stream == persistence::StreamId::chain() {
                owner.owns_chain()
            } else if let Some(store) = stream.store_id() {
                owner.owns_store(store)
            } else {
                stream
                    .product_sku()
                    .is_some_and(|sku| owner.product_owner(&sku) == owner.name())
            }
        });
        let deliverer = webhooks::Deliverer::new(
            outbox.clone(),
            webhook_feed,
            journal.clone(),
            webhooks.clone(),
            owns,
            settings.webhooks.clone(),
        )
        .map_err(|e| StartupError::Webhooks(e.to_string()))?;
        // Its own thread and runtime: it writes its cursors and log to SQLite between
        // sends, which must not hold up an actix arbiter.
        std::thread::Builder::new()
            .name("webhooks".into())
            .spawn(move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(Arc::new(deliverer).run()),
                Err(e) => tracing::error!(error = %e, "webhooks: no runtime, nothing will be delivered"),
            })
            .map_err(|e| StartupError::Webhooks(e.to_string()))?;
        // Alone, an instance seeds before it listens. In a cluster the seeding needs the
        // other instances (the chain's owner opens the stores, each owner stocks its own),
        // so it runs once listening, and the instance is not ready until it is done.
        let seeded = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let seed_later = settings.demo.enabled && cluster.has_peers();
        bootstrap::tax_jurisdictions(&registry, &catalog)
            .await
            .map_err(bootstrap::BootstrapError::from)?;
        if settings.demo.enabled && !seed_later {
            demo::seed(&registry, &catalog, &users).await?;
        }
        if !settings.demo.enabled {
            bootstrap_admin(&registry, &users, &settings.auth).await?;
        } else if settings.auth.bootstrap_password.is_some() {
            tracing::info!(
                "{} is ignored with demo data: the demo users sign in",
                bootstrap::PASSWORD_ENV
            );
        }
        seeded.store(!seed_later, std::sync::atomic::Ordering::Release);

        // HTTPS when `[server.tls]` gives a certificate and its key; behind HAProxy they
        // are left unset and HAProxy ends TLS (ADR 0025).
        let tls_settings = &settings.server.tls;
        let tls = tls::server_config(tls_settings.cert.as_deref(), tls_settings.key.as_deref())?;
        let listener =
            TcpListener::bind(&settings.server.bind).map_err(|source| StartupError::Bind {
                bind: settings.server.bind.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            bind: settings.server.bind.clone(),
            source,
        })?;
        let state = web::Data::new(AppState {
            cluster,
            peers,
            seeded,
            chain_diverged: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            registry,
            catalog,
            stock,
            users,
            central,
            restocks,
            transfers,
            sales,
            events,
            metrics,
            time_zone,
            replenishment: settings.replenishment,
            tokens: TokenKeys::new(&signing_key, settings.token_ttl()),
            throttle: LoginThrottle::new(settings.throttle_settings()),
            trusted_proxies: settings.server.trusted_proxies.clone(),
            seal,
            webhooks,
            purchasing,
            outbox,
            webhook_settings: settings.webhooks.clone(),
        });
        actix_rt::spawn(repost_purchases(state.clone().into_inner()));
        actix_rt::spawn(actors::auto_restock::run(
            state.clone().into_inner(),
            settings.auto_restock.clone(),
            state.time_zone.clone(),
        ));
        let app_state = state.clone();
        let body_limit = settings.server.body_limit_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .wrap(actix_web::middleware::from_fn(http::observe))
                .wrap(actix_web::middleware::from_fn(http::security_headers))
                .configure(http::configure(body_limit))
        })
        // Signals are ours (see `run_until_stopped`): actix's own handler would stop the
        // whole actix system, actors included, before they could write their snapshots.
        .disable_signals()
        .shutdown_timeout(10);
        server = match tls {
            Some(config) => {
                tracing::info!(
                    %addr,
                    cert = %tls_settings.cert.as_deref().unwrap_or(std::path::Path::new("")).display(),
                    "serving HTTPS (TLS 1.2 and 1.3)"
                );
                server.listen_rustls_0_23(listener, config)
            }
            None => {
                tracing::info!(%addr, "serving plain HTTP ([server.tls] is not set)");
                server.listen(listener)
            }
        }
        .map_err(|source| StartupError::Bind {
            bind: settings.server.bind.clone(),
            source,
        })?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        if state.cluster.has_peers() {
            if !state.cluster.owns_chain() {
                cluster::feed::follow(
                    state.clone().into_inner(),
                    state.peers.clone(),
                    state.cluster.clone(),
                    state.chain_diverged.clone(),
                );
            }
            if seed_later {
                actix_rt::spawn(seed_in_background(state.clone()));
            }
        }
        Ok(Self {
            addr,
            server: server.run(),
            state,
            journal,
            _data_dir_lock: data_dir_lock,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Stops gracefully, as SIGTERM does: live feeds end, in-flight requests finish.
    pub fn stopper(&self) -> impl FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send + 'static {
        let handle = self.server.handle();
        let events = self.state.events.clone();
        move || {
            events.close();
            Box::pin(async move { handle.stop(true).await })
        }
    }

    /// Serves until SIGINT/SIGTERM (or [`ServerHandle::stop`]), then snapshots every actor
    /// and lets the journal writer drain.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let server = self.server;
        let events = self.state.events.clone();
        let signal = async {
            match shutdown_signal().await {
                Ok(name) => {
                    tracing::info!(signal = name, "shutting down gracefully");
                    events.close();
                    handle.stop(true).await;
                }
                // No signal handler (unlikely): run until stopped through the handle.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for shutdown signals");
                    std::future::pending::<()>().await;
                }
            }
        };
        let served = tokio::select! {
            served = server => served,
            () = signal => Ok(()),
        };
        tracing::info!("stopping: writing snapshots");
        self.state.registry.snapshot_all().await;
        let journal = self.journal.clone();
        let _ = tokio::task::spawn_blocking(move || journal.stop()).await;
        tracing::info!("stopped");
        served
    }
}

/// The first administrator of a chain without users ([`bootstrap`]), or a warning that
/// nobody can sign in.
async fn bootstrap_admin(
    registry: &Registry,
    users: &UsersView,
    auth: &config::AuthSettings,
) -> Result<(), StartupError> {
    let done = bootstrap::first_admin(
        registry,
        users,
        &auth.bootstrap_admin,
        auth.bootstrap_password.as_deref(),
    )
    .await?;
    match done {
        bootstrap::Bootstrap::Created(username) => {
            tracing::info!(%username, "created the first administrator");
        }
        bootstrap::Bootstrap::NoPassword => tracing::warn!(
            "the chain has no user, so nobody can sign in: set {} to create the first \
             administrator ({:?})",
            bootstrap::PASSWORD_ENV,
            auth.bootstrap_admin
        ),
        bootstrap::Bootstrap::NotNeeded => {}
    }
    Ok(())
}

/// Seeds a cluster instance once it listens, retrying until the other instances it needs
/// answer (every step is idempotent); then marks the instance ready.
async fn seed_in_background(app: web::Data<AppState>) {
    let mut attempt = 0_u32;
    while let Err(e) = demo::seed(&app.registry, &app.catalog, &app.users).await {
        attempt += 1;
        if attempt % 10 == 1 {
            tracing::warn!(error = %e, attempt, "demo seeding waits for the other instances");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    tracing::info!("demo data seeded");
    app.seeded.store(true, std::sync::atomic::Ordering::Release);
}

/// Resolves with the signal's name on SIGINT or SIGTERM.
async fn shutdown_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    })
}
