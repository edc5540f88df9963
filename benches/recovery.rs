//! Recovery of a store whose journal holds 1,000,000 events (sales of 3 lines, each with an
//! idempotency key, as tills send them): the registry's start-up from the files, read
//! models loaded as the server loads them. Two shapes: no snapshot at all (every event
//! replayed), and the worst the snapshot cadence leaves (a snapshot at 750,000, a tail
//! of 250,000 events). `cargo bench --bench recovery`
//!
//! Preparing each journal writes 1,000,000 events to a temporary directory first (about
//! half a minute per backend).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use prometheus_client::metrics::gauge::Gauge;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::{FlatPrices, sku};

use magasin::actors::{ActorSettings, RecoveryHooks, Registry};
use magasin::domain::{
    AdjustmentLine, AdjustmentRequest, ChainEvent, IdempotencyKey, KeyUse, MAX_ON_HAND, Quantity,
    RequestedLine, SaleRequest, Stamp, Store, StoreEvent, StoreId, StoreState, Timestamp, Username,
};
use magasin::persistence::{
    self, Backend, Journal, JournalBackend, StoredEvent, StoredSnapshot, StreamId, WriterSettings,
    codec,
};
use magasin::reports::{SalesFacts, StockView};

const PRODUCTS: usize = 200;
const BATCH: usize = 10_000;

/// Events in the journal: a million under `cargo bench`; a hundredth when `cargo test`
/// runs each benchmark once to check that it works (in a debug build).
fn events() -> u64 {
    if std::env::args().any(|arg| arg == "--bench") {
        1_000_000
    } else {
        10_000
    }
}

fn store_id() -> StoreId {
    StoreId::new(1).expect("valid store id")
}

/// Writes the chain (one store) and [`events`] events of store 1, with a snapshot after
/// `snapshot_at` events if asked.
fn prepare(backend: Backend, dir: &Path, snapshot_at: Option<u64>) {
    let journal = persistence::open(backend, dir).expect("opens");
    let store = Store {
        id: store_id(),
        code: "BENCH".into(),
        name: "Bench".into(),
        city: "Montréal".into(),
        opened_at: Timestamp(1_700_000_000_000),
    };
    let opened = StoredEvent {
        stream: StreamId::chain(),
        seq: 1,
        payload: codec::encode(&ChainEvent::StoreOpened(store)).expect("encodes"),
    };
    journal.commit(&[opened], &[]).expect("chain written");

    let stream = StreamId::store(store_id());
    let cashier = Username::parse("caissier1").expect("valid user");
    let mut state = StoreState::default();
    let mut batch = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<StoredEvent>, snapshot: Option<StoredSnapshot>| {
        journal
            .commit(batch, snapshot.as_slice())
            .expect("batch written");
        batch.clear();
    };
    for seq in 1..=events() {
        let stamp = Stamp {
            at: Timestamp(1_700_000_000_000 + seq as i64 * 1000),
            by: cashier.clone(),
        };
        let event = if seq == 1 {
            let lines = (0..PRODUCTS)
                .map(|i| AdjustmentLine::count(sku(i), MAX_ON_HAND.into()).expect("valid count"))
                .collect();
            let count = AdjustmentRequest::new("opening count".into(), lines).expect("valid");
            StoreEvent::StockAdjusted(
                state
                    .decide_adjustment(&count, &FlatPrices, &stamp, None)
                    .expect("count accepted"),
            )
        } else {
            let n = seq as usize;
            let lines = (0..3)
                .map(|k| RequestedLine {
                    sku: sku((n * 7 + k * 31) % PRODUCTS),
                    quantity: Quantity::new(1).expect("valid quantity"),
                })
                .collect();
            let request = SaleRequest::new(lines).expect("distinct lines");
            let key = KeyUse {
                key: IdempotencyKey::parse(&format!("till-{n:08}")).expect("valid key"),
                fingerprint: request.fingerprint(),
            };
            StoreEvent::SaleRecorded(
                state
                    .decide_sale(&request, &FlatPrices, &stamp, Some(key))
                    .expect("in stock"),
            )
        };
        state.apply(&event);
        batch.push(StoredEvent {
            stream: stream.clone(),
            seq,
            payload: codec::encode(&event).expect("encodes"),
        });
        if Some(seq) == snapshot_at {
            let snapshot = StoredSnapshot {
                stream: stream.clone(),
                seq,
                payload: codec::encode(&state).expect("encodes"),
            };
            flush(&mut batch, Some(snapshot));
        } else if batch.len() == BATCH {
            flush(&mut batch, None);
        }
    }
    flush(&mut batch, None);
    journal.close().expect("closes");
}

/// Opens the journal and recovers every actor, loading the stock and sales read models as
/// the server does; returns how long it took.
fn recover(backend: Backend, dir: &Path) -> Duration {
    let system = actix_rt::System::new();
    system.block_on(async {
        let started = Instant::now();
        let storage: Arc<dyn JournalBackend> = persistence::open(backend, dir).expect("opens");
        let journal = Journal::start(
            storage,
            Vec::new(),
            WriterSettings {
                max_batch_events: 4096,
            },
        )
        .expect("writer starts");
        let (stock, sales) = (
            Arc::new(StockView::default()),
            Arc::new(SalesFacts::default()),
        );
        let hooks = RecoveryHooks {
            store: Arc::new(move |id, state: &StoreState| {
                stock.load(id, state);
                sales.load(id, state);
            }),
            product: Arc::new(|_, _| {}),
        };
        let settings = ActorSettings {
            snapshot_every: 1000,
            mailbox_capacity: 4096,
            ask_timeout: Duration::from_secs(30),
        };
        let (registry, _) = Registry::start(
            journal.clone(),
            Arc::new(FlatPrices),
            settings,
            hooks,
            Gauge::default(),
            magasin::actors::Placement::single(),
        )
        .await
        .expect("recovers");
        let elapsed = started.elapsed();
        let store = registry.store(store_id()).await.expect("store recovered");
        assert_eq!(
            store.sales(0, 1).await.expect("answers").1,
            events() as usize - 1
        );
        registry.stop();
        journal.stop();
        elapsed
    })
}

fn bench_recovery(c: &mut Criterion) {
    let total = events();
    let mut group = c.benchmark_group(format!("recovery/{}k_events", total / 1000));
    for backend in [Backend::Sqlite, Backend::Sled] {
        for (shape, snapshot_at) in [
            ("journal_only", None),
            ("snapshot_at_three_quarters", Some(total / 4 * 3)),
        ] {
            let dir = tempfile::tempdir().expect("temp dir");
            prepare(backend, dir.path(), snapshot_at);
            let name = format!("{backend:?}").to_lowercase();
            group.bench_function(BenchmarkId::new(name, shape), |b| {
                b.iter_custom(|runs| (0..runs).map(|_| recover(backend, dir.path())).sum())
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    targets = bench_recovery
}
criterion_main!(benches);
