//! One `StoreActor` recording sales, answered only once durable: with the journal in
//! memory (the actor, the writer thread and the history it fills, which is always an
//! SQLite file, written without fsync), then on real sled and SQLite journals with group
//! commit. One till waits for each sale before the next (its latency); 64 tills keep 64
//! sales in flight (what group commit is for). Then a till session of 5,000 sales closed:
//! its Z report, journaled on SQLite. `cargo bench --bench store_actor`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod support;
use support::{FlatPrices, sku};

use magasin::actors::{ActorSettings, Clock, RecoveryHooks, Registry, StoreHandle};
use magasin::domain::{
    AdjustmentLine, AdjustmentRequest, Cents, Count, IdempotencyKey, MAX_ON_HAND, NewStore,
    Quantity, RequestedLine, SaleLineRequest, SaleRequest, SaleTerms, TenderRequest, TillNumber,
    Username,
};
use magasin::persistence::{self, Backend, History, Journal, JournalBackend, WriterSettings};

const PRODUCTS: usize = 200;

/// The idempotency window of the built-in defaults, as a server started without
/// configuration keeps it.
fn key_window() -> magasin::domain::KeyRetention {
    magasin::config::Settings::defaults()
        .expect("the built-in defaults parse")
        .idempotency
        .retention
}

fn till() -> TillNumber {
    TillNumber::new(1).expect("till 1")
}

fn cashier() -> Username {
    Username::parse("caissier1").expect("valid bench user")
}

/// A running registry with one store holding plenty of every product.
struct Bench {
    system: actix_rt::SystemRunner,
    store: StoreHandle,
    journal: Journal,
    next_key: AtomicU64,
    _dir: tempfile::TempDir,
}

impl Bench {
    fn new(backend: Option<Backend>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage: Arc<dyn JournalBackend> = match backend {
            Some(backend) => persistence::open(backend, dir.path()).expect("opens"),
            None => persistence::in_memory(),
        };
        let history = Arc::new(History::open(dir.path(), key_window()).expect("history opens"));
        let journal = Journal::start(
            storage,
            history,
            Vec::new(),
            WriterSettings {
                max_batch_events: 4096,
            },
        )
        .expect("writer starts");
        let system = actix_rt::System::new();
        let settings = ActorSettings {
            snapshot_every: 1000,
            mailbox_capacity: 4096,
            ask_timeout: Duration::from_secs(30),
            clock: Clock::wall(),
            key_retention: key_window(),
        };
        let hooks = RecoveryHooks {
            store: Arc::new(|_, _| {}),
            product: Arc::new(|_, _| {}),
        };
        let store = system.block_on(async {
            let (registry, _) = Registry::start(
                journal.clone(),
                Arc::new(FlatPrices),
                settings,
                hooks,
                Gauge::default(),
                magasin::actors::Placement::single(),
            )
            .await
            .expect("registry starts");
            magasin::bootstrap::add_standard_jurisdictions(&registry)
                .await
                .expect("jurisdictions set");
            let opened = registry
                .open_store(NewStore {
                    code: "BENCH".into(),
                    name: "Bench".into(),
                    city: "Montréal".into(),
                    details: magasin::domain::StoreDetails::quebec("1 rue"),
                })
                .await
                .expect("store opens");
            let store = registry.store(opened.id).await.expect("store runs");
            let lines = (0..PRODUCTS)
                .map(|i| AdjustmentLine::count(sku(i), MAX_ON_HAND.into()).expect("valid count"))
                .collect();
            let count = AdjustmentRequest::new("bench".into(), lines).expect("valid lines");
            store.adjust(count, None, cashier()).await.expect("counted");
            // The registry keeps the actors' arbiters; leak it with the system.
            std::mem::forget(registry);
            store
        });
        Self {
            system,
            store,
            journal,
            next_key: AtomicU64::new(0),
            _dir: dir,
        }
    }

    /// A 3-line sale with a fresh idempotency key, as a till sends it.
    async fn sell(&self) {
        let n = self.next_key.fetch_add(1, Ordering::Relaxed) as usize;
        let lines = (0..3)
            .map(|k| RequestedLine {
                sku: sku((n * 7 + k * 13) % PRODUCTS),
                quantity: Quantity::new(1).expect("valid quantity"),
            })
            .collect();
        let request = SaleRequest::new(lines).expect("distinct lines");
        let key = IdempotencyKey::parse(&format!("bench-{n}")).expect("valid key");
        self.store
            .record_sale(request, Some(key), cashier())
            .await
            .expect("sale recorded");
    }

    /// A 3-line sale at till 1, paid in cash.
    async fn sell_at_till(&self) {
        let n = self.next_key.fetch_add(1, Ordering::Relaxed) as usize;
        let lines = (0..3)
            .map(|k| {
                SaleLineRequest::from(RequestedLine {
                    sku: sku((n * 7 + k * 13) % PRODUCTS),
                    quantity: Quantity::new(1).expect("valid quantity"),
                })
            })
            .collect();
        let terms = SaleTerms {
            till: Some(till()),
            tenders: vec![TenderRequest::Cash {
                given: Cents(100_000),
            }],
            ..SaleTerms::default()
        };
        let request = SaleRequest::with_terms(lines, terms).expect("distinct lines");
        let key = IdempotencyKey::parse(&format!("bench-{n}")).expect("valid key");
        self.store
            .record_sale(request, Some(key), cashier())
            .await
            .expect("sale recorded");
    }

    /// Opens till 1, rings `sales` sales on it (64 in flight), then times its closing.
    fn close_after(&self, sales: u64) -> Duration {
        self.system.block_on(async {
            self.store
                .open_session(till(), Cents(20_000), None, cashier())
                .await
                .expect("opens");
            futures_util::stream::iter(0..sales)
                .for_each_concurrent(64, |_| self.sell_at_till())
                .await;
            let count = Count {
                counted: Cents(0),
                denominations: Vec::new(),
                reason: Some("banc d'essai".into()),
            };
            let started = Instant::now();
            let z = self
                .store
                .close_session(till(), count, None, cashier())
                .await
                .expect("closes");
            let elapsed = started.elapsed();
            assert_eq!(u64::from(z.value.totals.sales), sales);
            elapsed
        })
    }

    /// Time of `sales` sales with `tills` of them in flight at once.
    fn run(&self, sales: u64, tills: usize) -> Duration {
        self.system.block_on(async {
            let started = Instant::now();
            futures_util::stream::iter(0..sales)
                .for_each_concurrent(tills, |_| self.sell())
                .await;
            started.elapsed()
        })
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.journal.stop();
    }
}

fn bench_store_actor(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_actor");
    group.throughput(Throughput::Elements(1));
    for (name, backend) in [
        ("memory", None),
        ("sled", Some(Backend::Sled)),
        ("sqlite", Some(Backend::Sqlite)),
    ] {
        let bench = Bench::new(backend);
        for tills in [1, 64] {
            group.bench_function(BenchmarkId::new(name, format!("{tills}_tills")), |b| {
                b.iter_custom(|sales| bench.run(sales, tills))
            });
        }
    }
    group.finish();
}

/// Closing a session of 5,000 sales: the Z report, durable on SQLite. (Each sample rings
/// its 5,000 sales first; only the closing is timed.)
fn bench_z_report(c: &mut Criterion) {
    let bench = Bench::new(Some(Backend::Sqlite));
    let mut group = c.benchmark_group("till");
    group.sample_size(10);
    group.bench_function("close_session_of_5000_sales", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| bench.close_after(5_000)).sum())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(8));
    targets = bench_store_actor
}

criterion_group! {
    name = till_benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = bench_z_report
}
criterion_main!(benches, till_benches);
