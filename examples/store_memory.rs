//! Whether a store's memory, snapshot and recovery stay bounded by what it decides and not
//! by how many sales it has seen (DESIGN.md §3, ADR 0018): the acceptance figures, checked
//! against their bounds.
//!
//!     cargo run --release --example store_memory -- [SALES] [STORES]
//!
//! 1. SALES sales (default 2,000,000) spread over STORES stores (default 100), recorded
//!    through the stores' actors: a real `Registry` over an SQLite journal and history in
//!    a temporary directory, 256 tills in flight at once (so group commit works), each sale
//!    1 to 3 lines over a catalog of 500 products and each with an idempotency key, as
//!    tills send them. The actors read a simulated clock (`actors::Clock`): the sales are
//!    stamped over 100 days of trading, opening hours 8:00 to 20:00, so each store's key
//!    window holds its last 72 h of keys, not every key. The heap (dhat: Rust allocations
//!    only; SQLite's own page caches are bounded and not counted) is measured before the
//!    sales, with every store open and stocked, and after them, once the journal writer
//!    has drained. Bound: at most 100 B held per sale. The idempotency windows' part is
//!    measured apart, on a copy of each window as a restart recovers it.
//! 2. One store of another chain sells 1,000,000 sales alone (2,400 a day, 417 days): its
//!    snapshot (format version 2, read from the journal after `Registry::snapshot_all`)
//!    after 10,000 sales and after 1,000,000 (bound: within 10 %), and the time a new
//!    `Registry` takes to start over the same directory, recovering it (bound: 1 s).
//!
//! Prints a markdown table; exits with 1 if a bound is not met. With the defaults it takes
//! several minutes (dhat records every allocation of the first part).

use futures_util::StreamExt;
use prometheus_client::metrics::gauge::Gauge;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use magasin::actors::{
    ActorSettings, Clock, OnStoreRecovered, Placement, RecoveryHooks, Registry, StoreHandle,
};
use magasin::domain::{
    AdjustmentLine, AdjustmentRequest, HOUR_MS, IdempotencyKey, MAX_LINES, NewStore, Quantity,
    RequestedLine, SaleRequest, Sku, StoreId, StoreState, Timestamp, Username,
};
use magasin::persistence::{
    self, Backend, History, Journal, JournalBackend, StreamId, WriterSettings,
};

/// Counts the bytes the process holds on the Rust heap (dhat's heap statistics).
#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// The idempotency window of the built-in defaults, as a server started without
/// configuration keeps it.
fn key_window() -> magasin::domain::KeyRetention {
    magasin::config::Settings::defaults()
        .expect("the built-in defaults parse")
        .idempotency
        .retention
}

fn held() -> usize {
    dhat::HeapStats::get().curr_bytes
}

const PRODUCTS: usize = 500;
/// Units of each product counted in each store at opening: more than any run sells.
const OPENING_STOCK: i64 = 1_000_000;
const TILLS: usize = 256;
const TRADING_DAYS: u64 = 100;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The first day of trading: Monday 6 January 2025, 00:00 UTC.
const FIRST_DAY: i64 = 1_736_121_600_000;
/// The lone store's run: its snapshot after the first of these, then after the second.
const ONE_STORE_EARLY: u64 = 10_000;
const ONE_STORE_SALES: u64 = 1_000_000;
const ONE_STORE_SALES_A_DAY: u64 = 2_400;

const MAX_BYTES_PER_SALE: f64 = 100.0;
const MAX_SNAPSHOT_GROWTH: f64 = 0.10;
const MAX_RECOVERY: Duration = Duration::from_secs(1);

#[path = "../benches/support/mod.rs"]
#[allow(dead_code)]
mod support;
use support::FlatPrices;

fn sku(i: usize) -> Sku {
    Sku::parse(&format!("MEM-{i:04}")).expect("valid SKU")
}

fn cashier() -> Username {
    Username::parse("caissier1").expect("valid user name")
}

/// A well-mixed number from `n` (SplitMix64), so the sales do not repeat a short pattern.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `n`-th sale of the run: 1 to 3 distinct products, 1 or 2 units each.
fn sale(n: u64) -> SaleRequest {
    let r = mix(n);
    let first = (r % PRODUCTS as u64) as usize;
    let lines = (0..1 + (r >> 16) % 3)
        .map(|k| RequestedLine {
            // 167 is prime to 500: three steps never meet the first product again.
            sku: sku((first + k as usize * 167) % PRODUCTS),
            quantity: Quantity::new(1 + ((r >> 24) % 2) as i64).expect("valid quantity"),
        })
        .collect();
    SaleRequest::new(lines).expect("distinct lines")
}

/// When the `n`-th of `per_day` sales a day is rung up: evenly over the opening hours.
fn sold_at(n: u64, per_day: u64) -> i64 {
    let (day, k) = ((n / per_day) as i64, (n % per_day) as i64);
    FIRST_DAY + day * DAY_MS + 8 * HOUR_MS + k * 12 * HOUR_MS / per_day as i64
}

fn fail(what: &str) -> ! {
    eprintln!("store_memory: {what}");
    std::process::exit(2)
}

fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A chain on a temporary data directory, its actors on a simulated clock.
struct Chain {
    dir: tempfile::TempDir,
    clock: Arc<AtomicI64>,
}

/// A running registry over the chain's directory.
struct Running {
    registry: Registry,
    journal: Journal,
    /// The journal's backend, to read snapshots back.
    storage: Arc<dyn JournalBackend>,
}

impl Chain {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            clock: Arc::new(AtomicI64::new(FIRST_DAY + 7 * HOUR_MS)),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn settings(&self) -> ActorSettings {
        let clock = self.clock.clone();
        ActorSettings {
            snapshot_every: 1000,
            mailbox_capacity: 4096,
            ask_timeout: Duration::from_secs(60),
            clock: Clock::reading(move || Timestamp(clock.load(Ordering::Relaxed))),
            key_retention: key_window(),
        }
    }

    /// Opens the journal and the history and starts a registry as a server does (every
    /// store recovered); `on_store` sees each recovered state. Answers how long
    /// `Registry::start` took.
    async fn start(&self, on_store: OnStoreRecovered) -> (Running, Duration) {
        let storage = persistence::open(Backend::Sqlite, self.path()).expect("journal opens");
        let history = Arc::new(History::open(self.path(), key_window()).expect("history opens"));
        let journal = Journal::start(
            storage.clone(),
            history,
            Vec::new(),
            WriterSettings {
                max_batch_events: 4096,
            },
        )
        .expect("journal writer starts");
        let hooks = RecoveryHooks {
            store: on_store,
            product: Arc::new(|_, _| {}),
        };
        let started = Instant::now();
        let (registry, _) = Registry::start(
            journal.clone(),
            Arc::new(FlatPrices),
            self.settings(),
            hooks,
            Gauge::default(),
            Placement::single(),
        )
        .await
        .expect("registry starts");
        let took = started.elapsed();
        (
            Running {
                registry,
                journal,
                storage,
            },
            took,
        )
    }

    /// Opens `count` stores and counts every product in each.
    async fn open_stores(&self, running: &Running, count: u32) -> Vec<StoreHandle> {
        let mut stores = Vec::new();
        magasin::bootstrap::add_standard_jurisdictions(&running.registry)
            .await
            .expect("jurisdictions set");
        for i in 0..count {
            let opened = running
                .registry
                .open_store(NewStore {
                    code: format!("MEM{i:03}"),
                    name: format!("Magasin {i}"),
                    city: "Montréal".into(),
                    details: magasin::domain::StoreDetails::quebec("1 rue"),
                })
                .await
                .expect("store opens");
            let store = running.registry.store(opened.id).await.expect("store runs");
            let skus: Vec<Sku> = (0..PRODUCTS).map(sku).collect();
            for chunk in skus.chunks(MAX_LINES) {
                let counts = chunk
                    .iter()
                    .map(|sku| AdjustmentLine::count(sku.clone(), OPENING_STOCK))
                    .collect::<Result<Vec<_>, _>>()
                    .expect("valid counts");
                let request =
                    AdjustmentRequest::new("inventaire d'ouverture".into(), counts).expect("lines");
                store
                    .adjust(request, None, cashier())
                    .await
                    .expect("stock counted");
            }
            stores.push(store);
        }
        stores
    }

    /// Sells sales `from..to` of the run, sale `n` in store `n % stores.len()`, [`TILLS`]
    /// at a time; each is stamped at `sold_at(n, per_day)`.
    async fn sell(&self, stores: &[StoreHandle], from: u64, to: u64, per_day: u64) -> Duration {
        let started = Instant::now();
        futures_util::stream::iter(from..to)
            .for_each_concurrent(TILLS, |n| {
                let store = stores[(n % stores.len() as u64) as usize].clone();
                // The till rings the sale up at its time of the day; the clock never goes
                // back for the sales still in flight.
                self.clock.fetch_max(sold_at(n, per_day), Ordering::Relaxed);
                async move {
                    let key = IdempotencyKey::parse(&format!("till-{n}")).expect("valid key");
                    store
                        .record_sale(sale(n), Some(key), cashier())
                        .await
                        .expect("sale recorded");
                }
            })
            .await;
        started.elapsed()
    }
}

impl Running {
    /// Stops the actors and the journal writer (after a snapshot of every actor, as a
    /// server's graceful stop).
    async fn stop(self) {
        self.registry.snapshot_all().await;
        self.registry.stop();
        self.journal.stop();
    }

    /// The size of the store's latest snapshot in the journal.
    fn snapshot_bytes(&self, store: StoreId) -> usize {
        self.storage
            .latest_snapshot(&StreamId::store(store))
            .expect("snapshot read")
            .expect("the store has a snapshot")
            .payload
            .len()
    }
}

/// What the first part measured.
struct ChainRun {
    sales: u64,
    selling: Duration,
    before: usize,
    after: usize,
    keys: usize,
    key_bytes: usize,
    recovery: Duration,
}

impl ChainRun {
    fn per_sale(&self) -> f64 {
        self.after.saturating_sub(self.before) as f64 / self.sales as f64
    }
}

fn chain_run(sales: u64, stores: u32) -> ChainRun {
    let chain = Chain::new();
    let per_day = sales.div_ceil(TRADING_DAYS);
    let system = actix_rt::System::new();
    let (selling, before, after) = system.block_on(async {
        let (running, _) = chain.start(Arc::new(|_, _| {})).await;
        let handles = chain.open_stores(&running, stores).await;
        // Every commit so far is acknowledged: the writer has nothing queued.
        running.journal.probe().await;
        let before = held();
        let selling = chain.sell(&handles, 0, sales, per_day).await;
        // Each sale was answered once committed and in the history; the probe, queued
        // behind every append, returns once the writer has let go of the last batch.
        running.journal.probe().await;
        let after = held();
        drop(handles);
        running.stop().await;
        (selling, before, after)
    });
    // A restart, as the windows are recovered: the keys of the last 72 h of each store,
    // measured on a copy of each window (a copy has the capacity of the original).
    let keys = Arc::new(AtomicUsize::new(0));
    let key_bytes = Arc::new(AtomicUsize::new(0));
    let (counted, measured) = (keys.clone(), key_bytes.clone());
    // The registry recovers its stores one after the other, and nothing else runs yet.
    let on_store = Arc::new(move |_: StoreId, state: &StoreState| {
        let start = held();
        let copy = state.keys().clone();
        measured.fetch_add(held().saturating_sub(start), Ordering::Relaxed);
        counted.fetch_add(copy.len(), Ordering::Relaxed);
    });
    let system = actix_rt::System::new();
    let recovery = system.block_on(async {
        let (running, took) = chain.start(on_store).await;
        running.stop().await;
        took
    });
    ChainRun {
        sales,
        selling,
        before,
        after,
        keys: keys.load(Ordering::Relaxed),
        key_bytes: key_bytes.load(Ordering::Relaxed),
        recovery,
    }
}

/// What the second part measured.
struct OneStoreRun {
    selling: Duration,
    early_snapshot: usize,
    late_snapshot: usize,
    recovery: Duration,
    keys: usize,
}

impl OneStoreRun {
    fn growth(&self) -> f64 {
        (self.late_snapshot as f64 - self.early_snapshot as f64) / self.early_snapshot as f64
    }
}

fn one_store_run() -> OneStoreRun {
    let chain = Chain::new();
    let system = actix_rt::System::new();
    let (selling, early_snapshot, late_snapshot, store) = system.block_on(async {
        let (running, _) = chain.start(Arc::new(|_, _| {})).await;
        let handles = chain.open_stores(&running, 1).await;
        let store = StoreId::new(1).expect("valid store id");
        let per_day = ONE_STORE_SALES_A_DAY;
        let mut selling = chain.sell(&handles, 0, ONE_STORE_EARLY, per_day).await;
        running.registry.snapshot_all().await;
        let early = running.snapshot_bytes(store);
        selling += chain
            .sell(&handles, ONE_STORE_EARLY, ONE_STORE_SALES, per_day)
            .await;
        running.registry.snapshot_all().await;
        let late = running.snapshot_bytes(store);
        let (_, count) = handles[0].sales(0, 1).await.expect("sales read");
        assert_eq!(count as u64, ONE_STORE_SALES, "every sale in the history");
        drop(handles);
        running.stop().await;
        (selling, early, late, store)
    });
    let keys = Arc::new(AtomicUsize::new(0));
    let counted = keys.clone();
    let on_store = Arc::new(move |_: StoreId, state: &StoreState| {
        counted.store(state.keys().len(), Ordering::Relaxed);
    });
    let system = actix_rt::System::new();
    let recovery = system.block_on(async {
        let (running, took) = chain.start(on_store).await;
        let handle = running
            .registry
            .store(store)
            .await
            .expect("store recovered");
        let (_, count) = handle.sales(0, 1).await.expect("sales read");
        assert_eq!(count as u64, ONE_STORE_SALES, "every sale readable");
        drop(handle);
        running.stop().await;
        took
    });
    OneStoreRun {
        selling,
        early_snapshot,
        late_snapshot,
        recovery,
        keys: keys.load(Ordering::Relaxed),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**not met**" }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut number = |default: u64| {
        args.next()
            .map_or(Ok(default), |a| a.replace('_', "").parse::<u64>())
            .unwrap_or_else(|_| fail("usage: store_memory [SALES] [STORES]"))
    };
    let sales = number(2_000_000);
    let stores = u32::try_from(number(100)).unwrap_or_else(|_| fail("too many stores"));
    if sales == 0 || stores == 0 {
        fail("at least one sale and one store");
    }

    let profiler = dhat::Profiler::builder()
        .testing()
        .trim_backtraces(Some(4))
        .build();
    let run = chain_run(sales, stores);
    drop(profiler);
    let one = one_store_run();

    let per_sale_ok = run.per_sale() <= MAX_BYTES_PER_SALE;
    let snapshot_ok = one.growth().abs() <= MAX_SNAPSHOT_GROWTH;
    let recovery_ok = one.recovery <= MAX_RECOVERY;
    println!(
        "{sales} sales over {stores} stores through their actors in {:.1} s ({:.0} sales/s, \
         {TILLS} tills), stamped over {TRADING_DAYS} days of trading; SQLite journal and \
         history\n",
        run.selling.as_secs_f64(),
        sales as f64 / run.selling.as_secs_f64()
    );
    println!("| | measured | bound | |");
    println!("|---|---|---|---|");
    println!(
        "| heap before the sales ({stores} stores open, {PRODUCTS} products stocked in each) | {} | | |",
        mib(run.before)
    );
    println!(
        "| heap after the sales, journal writer drained | {} | | |",
        mib(run.after)
    );
    println!(
        "| **held per sale** | **{:.1} B** | ≤ {MAX_BYTES_PER_SALE:.0} B | {} |",
        run.per_sale(),
        verdict(per_sale_ok)
    );
    println!(
        "| of which the idempotency windows ({} keys, the last 72 h of {stores} stores, {}) | {:.1} B | | |",
        run.keys,
        mib(run.key_bytes),
        run.key_bytes as f64 / sales as f64
    );
    println!(
        "| recovery of the {stores} stores (`Registry::start`) | {:.3} s | | |",
        run.recovery.as_secs_f64()
    );
    println!(
        "| one store's snapshot after {ONE_STORE_EARLY} sales | {} B | | |",
        one.early_snapshot
    );
    println!(
        "| **the same store's snapshot after {ONE_STORE_SALES} sales** | **{} B** ({:+.2} %) | within {:.0} % | {} |",
        one.late_snapshot,
        one.growth() * 100.0,
        MAX_SNAPSHOT_GROWTH * 100.0,
        verdict(snapshot_ok)
    );
    println!(
        "| **recovery of that store (`Registry::start`, {} keys in its window)** | **{:.3} s** | ≤ {:.0} s | {} |",
        one.keys,
        one.recovery.as_secs_f64(),
        MAX_RECOVERY.as_secs_f64(),
        verdict(recovery_ok)
    );
    println!(
        "\nthe lone store sold {ONE_STORE_SALES} sales ({ONE_STORE_SALES_A_DAY} a day) in {:.1} s",
        one.selling.as_secs_f64()
    );
    if !(per_sale_ok && snapshot_ok && recovery_ok) {
        std::process::exit(1);
    }
}
