//! Recovery of a store whose journal holds 1,000,000 events (sales of 3 lines, each with an
//! idempotency key, as tills send them, 2,400 a day over 417 days): the registry's
//! start-up from the files, stock read model loaded as the server loads it, with the
//! history already up to the journal (as after any stop). Two shapes: the worst the
//! snapshot cadence leaves (a snapshot every 1,000 events, the last one 999 events before
//! the end: what a kill leaves at worst), and no snapshot at all (every event replayed:
//! the replay's own speed). Both load the idempotency keys of the last 72 h of trading
//! from the history. `cargo bench --bench recovery`
//!
//! Preparing each journal writes 1,000,000 events and their history to a temporary
//! directory first (a minute or two per backend).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use prometheus_client::metrics::gauge::Gauge;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::{FlatPrices, sku};

use magasin::actors::{ActorSettings, Clock, RecoveryHooks, Registry};
use magasin::domain::{
    AdjustmentLine, AdjustmentRequest, ChainEvent, IdempotencyKey, KeyUse, MAX_ON_HAND, Quantity,
    RequestedLine, SaleRequest, Stamp, Store, StoreEvent, StoreId, StoreState, Timestamp, Username,
};
use magasin::persistence::integrity::{GENESIS, link};
use magasin::persistence::{
    self, Backend, History, Journal, JournalBackend, Snapshot, StoredEvent, StoredSnapshot,
    StreamId, WriterSettings, codec,
};
use magasin::reports::StockView;

const PRODUCTS: usize = 200;
const BATCH: usize = 10_000;
/// The actors' snapshot cadence (`storage.snapshot_every` by default).
const SNAPSHOT_EVERY: u64 = 1000;
const FIRST_EVENT_AT: i64 = 1_700_000_000_000;
/// 2,400 sales a day.
const EVENT_SPACING_MS: i64 = 36_000;

/// The idempotency window of the built-in defaults, as a server started without
/// configuration keeps it.
fn key_window() -> magasin::domain::KeyRetention {
    magasin::config::Settings::defaults()
        .expect("the built-in defaults parse")
        .idempotency
        .retention
}

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

fn event_at(seq: u64) -> Timestamp {
    Timestamp(FIRST_EVENT_AT + seq as i64 * EVENT_SPACING_MS)
}

fn writer_settings() -> WriterSettings {
    WriterSettings {
        max_batch_events: 4096,
    }
}

/// How the journal is snapshotted.
#[derive(Clone, Copy)]
enum Shape {
    /// Every [`SNAPSHOT_EVERY`] events, the last one `SNAPSHOT_EVERY - 1` events before the
    /// end.
    Cadence,
    /// None: recovery replays every event.
    JournalOnly,
}

impl Shape {
    fn snapshot_at(self, seq: u64, last: u64) -> bool {
        match self {
            Shape::Cadence => seq % SNAPSHOT_EVERY == (last + 1) % SNAPSHOT_EVERY,
            Shape::JournalOnly => false,
        }
    }
}

/// Writes the chain (one store) and [`events`] events of store 1, snapshotted as `shape`
/// says, then fills the history from the journal as the writer would have.
fn prepare(backend: Backend, dir: &Path, shape: Shape) {
    let journal = persistence::open(backend, dir).expect("opens");
    let store = Store {
        id: store_id(),
        code: "BENCH".into(),
        name: "Bench".into(),
        city: "Montréal".into(),
        opened_at: Timestamp(FIRST_EVENT_AT),
        address: "1 rue".into(),
        jurisdiction: "QC".into(),
        time_zone: "America/Toronto".into(),
        registrations: Vec::new(),
        tills: 2,
        approval_percent: 20,
    };
    let payload = codec::encode_event(&ChainEvent::StoreOpened(store)).expect("encodes");
    let opened = StoredEvent {
        stream: StreamId::chain(),
        seq: 1,
        hash: link(&GENESIS, &StreamId::chain(), 1, &payload),
        payload,
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
    let last = events();
    let mut head = GENESIS;
    for seq in 1..=last {
        let stamp = Stamp {
            at: event_at(seq),
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
                    .decide_sale(store_id(), &request, &FlatPrices, &stamp, Some(key))
                    .expect("in stock"),
            )
        };
        state.apply(&event);
        let payload = codec::encode_event(&event).expect("encodes");
        head = link(&head, &stream, seq, &payload);
        batch.push(StoredEvent {
            stream: stream.clone(),
            seq,
            hash: head,
            payload,
        });
        if shape.snapshot_at(seq, last) {
            let snapshot = StoredSnapshot {
                stream: stream.clone(),
                seq,
                head,
                payload: state.encode_snapshot().expect("encodes"),
            };
            flush(&mut batch, Some(snapshot));
        } else if batch.len() == BATCH {
            flush(&mut batch, None);
        }
    }
    flush(&mut batch, None);
    let history = Arc::new(History::open(dir, key_window()).expect("history opens"));
    let writer = Journal::start(journal, history.clone(), Vec::new(), writer_settings())
        .expect("writer starts");
    let filled = history
        .catch_up(&writer, store_id(), last)
        .expect("history filled");
    assert_eq!(filled, last, "every event in the history");
    writer.stop();
}

/// Opens the journal and recovers every actor, loading the stock read model as the server
/// does; returns how long it took.
fn recover(backend: Backend, dir: &Path) -> Duration {
    let system = actix_rt::System::new();
    system.block_on(async {
        let started = Instant::now();
        let storage: Arc<dyn JournalBackend> = persistence::open(backend, dir).expect("opens");
        let history = Arc::new(History::open(dir, key_window()).expect("history opens"));
        let journal =
            Journal::start(storage, history, Vec::new(), writer_settings()).expect("writer starts");
        let stock = Arc::new(StockView::default());
        let keys = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let recovered_keys = keys.clone();
        let hooks = RecoveryHooks {
            store: Arc::new(move |id, state: &StoreState| {
                stock.load(id, state);
                recovered_keys.store(state.keys().len(), std::sync::atomic::Ordering::Relaxed);
            }),
            product: Arc::new(|_, _| {}),
        };
        // The restart happens a minute after the last sale.
        let restart_at = Timestamp(event_at(events()).0 + 60_000);
        let settings = ActorSettings {
            snapshot_every: SNAPSHOT_EVERY,
            mailbox_capacity: 4096,
            ask_timeout: Duration::from_secs(30),
            clock: Clock::reading(move || restart_at),
            key_retention: key_window(),
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
        // The keys of the sales of the last 72 h (a replay may keep up to an hour more).
        let window = keys.load(std::sync::atomic::Ordering::Relaxed) as i64;
        let hours = |h: i64| h * 3_600_000 / EVENT_SPACING_MS;
        assert!(
            (hours(71)..=hours(73) + 1).contains(&window),
            "{window} keys in the window"
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
        for (name, shape) in [
            ("snapshot_999_events_behind", Shape::Cadence),
            ("journal_only", Shape::JournalOnly),
        ] {
            let dir = tempfile::tempdir().expect("temp dir");
            prepare(backend, dir.path(), shape);
            let backend_name = format!("{backend:?}").to_lowercase();
            group.bench_function(BenchmarkId::new(backend_name, name), |b| {
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
