//! The compaction scenario, shared by the CI test (`tests/compaction.rs`, 10,000 sales)
//! and the full-size command (`examples/compaction.rs`, 1,000,000 sales): sales recorded
//! through a store's actor (not the API), then recovery measured, compaction, and recovery
//! measured again, checking that nothing a store or a report shows has changed. Then a
//! second compaction with a retention window of zero days, as years later: the store lets
//! go of every sale, its stock and reports unchanged, its recovery no longer growing.

use futures_util::StreamExt;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use magasin::actors::{ActorSettings, Placement, RecoveryHooks, Registry};
use magasin::compaction::{self, Compaction};
use magasin::domain::{
    AdjustmentLine, AdjustmentRequest, Cents, IdempotencyKey, MAX_ON_HAND, NewStore, PriceLookup,
    Quantity, RequestedLine, SaleRequest, Sku, StoreEvent, StoreId, StoreState, Timestamp,
    Username,
};
use magasin::persistence::archive::{Archive, dir_size};
use magasin::persistence::{self, Backend, Journal, StreamId, WriterSettings};
use magasin::reports::{Figures, SalesFacts};

const PRODUCTS: usize = 200;
const TILLS: usize = 64;

struct FlatPrices;

impl PriceLookup for FlatPrices {
    fn price(&self, _sku: &Sku) -> Option<Cents> {
        Some(Cents(499))
    }
}

fn sku(i: usize) -> Sku {
    Sku::parse(&format!("CMP-{i:04}")).expect("valid sku")
}

fn cashier() -> Username {
    Username::parse("caisse.compaction").expect("valid username")
}

/// What a store and its reports show: compared before and after compaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Every sale: id, total, lines.
    pub sales: Vec<(u64, i64, usize)>,
    pub stock: Vec<(String, u32)>,
    pub report: Figures,
    /// The top-products report over every day: SKU, units, revenue.
    pub products: Vec<(String, u64, i64)>,
}

/// One recovery of the data directory: how long it took and what it shows.
pub struct Recovered {
    pub took: Duration,
    pub seen: Seen,
}

/// The figures of one run.
pub struct Outcome {
    pub sales: u64,
    pub selling: Duration,
    pub journal_bytes_before: u64,
    pub before: Recovered,
    pub compaction: Compaction,
    pub after: Recovered,
    /// After the second compaction, every sale past the retention window.
    pub forgetting: Compaction,
    pub forgotten: Recovered,
    /// Distinct sales in the archive's CSV, and sales still in the journal.
    pub exported_sales: usize,
    pub sales_in_journal: usize,
}

fn settings() -> ActorSettings {
    ActorSettings {
        snapshot_every: 1000,
        mailbox_capacity: 4096,
        ask_timeout: Duration::from_secs(60),
    }
}

fn store_id() -> StoreId {
    StoreId::new(1).expect("valid store id")
}

/// Starts a registry on the data directory; `seen` receives the store's recovered state.
async fn start(journal: &Journal, seen: Arc<Mutex<Option<Seen>>>) -> Registry {
    let hooks = RecoveryHooks {
        store: Arc::new(move |id: StoreId, state: &StoreState| {
            *seen.lock().expect("not poisoned") = Some(observe(id, state));
        }),
        product: Arc::new(|_, _| {}),
    };
    let (registry, _) = Registry::start(
        journal.clone(),
        Arc::new(FlatPrices),
        settings(),
        hooks,
        Gauge::default(),
        Placement::single(),
    )
    .await
    .expect("registry starts");
    registry
}

/// The stock, the sales report and the top products are what they were (`how`: unchanged,
/// rebuilt).
fn same_figures(now: &Seen, before: &Seen, how: &str) {
    assert_eq!(now.stock, before.stock, "stock {how}");
    assert_eq!(now.report, before.report, "reports {how}");
    assert_eq!(now.products, before.products, "top products {how}");
}

fn observe(id: StoreId, state: &StoreState) -> Seen {
    let facts = SalesFacts::default();
    facts.load(id, state);
    Seen {
        sales: state
            .sales_newest_first(0, usize::MAX)
            .iter()
            .map(|s| (s.id.0, s.total.0, s.lines.len()))
            .collect(),
        stock: state
            .stock_lines()
            .map(|(sku, line)| (sku.to_string(), line.on_hand))
            .collect(),
        report: facts.figures(id, Timestamp(0), Timestamp(i64::MAX / 2)),
        products: {
            let mut products: Vec<_> = facts
                .products(&[id], Timestamp(0), Timestamp(i64::MAX / 2))
                .into_iter()
                .map(|(sku, p)| (sku.to_string(), p.units, p.revenue))
                .collect();
            products.sort();
            products
        },
    }
}

fn open_journal(backend: Backend, dir: &Path) -> Journal {
    let storage = persistence::open(backend, dir).expect("journal opens");
    Journal::start(
        storage,
        Vec::new(),
        WriterSettings {
            max_batch_events: 4096,
        },
    )
    .expect("writer starts")
    .with_archive(Archive::new(dir))
}

fn journal_bytes(dir: &Path) -> u64 {
    dir_size(dir).saturating_sub(dir_size(&dir.join("archive")))
}

/// Records `sales` sales in one store, then stops.
fn sell(backend: Backend, dir: &Path, sales: u64) -> Duration {
    let journal = open_journal(backend, dir);
    let system = actix_rt::System::new();
    let took = system.block_on(async {
        let registry = start(&journal, Arc::new(Mutex::new(None))).await;
        let opened = registry
            .open_store(NewStore {
                code: "COMPACT".into(),
                name: "Compaction".into(),
                city: "Montréal".into(),
            })
            .await
            .expect("store opens");
        assert_eq!(opened.id, store_id());
        let store = registry.store(opened.id).await.expect("store runs");
        let lines = (0..PRODUCTS)
            .map(|i| AdjustmentLine::count(sku(i), MAX_ON_HAND.into()).expect("valid count"))
            .collect();
        let count = AdjustmentRequest::new("inventaire".into(), lines).expect("valid lines");
        store.adjust(count, None, cashier()).await.expect("counted");
        let started = Instant::now();
        futures_util::stream::iter(0..sales)
            .for_each_concurrent(TILLS, |n| {
                let store = store.clone();
                async move {
                    let n = n as usize;
                    let lines = (0..1 + n % 3)
                        .map(|k| RequestedLine {
                            sku: sku((n * 7 + k * 13) % PRODUCTS),
                            quantity: Quantity::new(1 + (n % 2) as i64).expect("valid"),
                        })
                        .collect();
                    let request = SaleRequest::new(lines).expect("distinct lines");
                    let key = IdempotencyKey::parse(&format!("till-{n}")).expect("valid key");
                    store
                        .record_sale(request, Some(key), cashier())
                        .await
                        .expect("sale recorded");
                }
            })
            .await;
        let took = started.elapsed();
        registry.snapshot_all().await;
        registry.stop();
        took
    });
    journal.stop();
    took
}

/// Starts on the data directory as a server does, and stops.
fn recover(backend: Backend, dir: &Path) -> Recovered {
    let journal = open_journal(backend, dir);
    let seen = Arc::new(Mutex::new(None));
    let system = actix_rt::System::new();
    let took = system.block_on(async {
        let started = Instant::now();
        let registry = start(&journal, seen.clone()).await;
        let took = started.elapsed();
        registry.stop();
        took
    });
    journal.stop();
    let seen = seen
        .lock()
        .expect("not poisoned")
        .take()
        .expect("the store was recovered");
    Recovered { took, seen }
}

/// Sale ids in the archive's sales CSV, and its sale rows (one per line sold).
fn exported_sales(dir: &Path) -> (BTreeSet<u64>, usize) {
    let mut ids = BTreeSet::new();
    let mut rows = 0;
    let store_dir = dir.join("archive").join("store-1");
    for entry in std::fs::read_dir(store_dir).expect("the store is archived") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if !(name.starts_with("sales-") && name.ends_with(".csv.gz")) {
            continue;
        }
        let file = std::fs::File::open(&path).expect("opens");
        let mut csv = csv::Reader::from_reader(flate2::read::GzDecoder::new(file));
        for record in csv.records() {
            let record = record.expect("a CSV row");
            if &record[2] == "sale" {
                ids.insert(record[3].parse::<u64>().expect("a sale id"));
                rows += 1;
            }
        }
    }
    (ids, rows)
}

/// Replaces the store's snapshot with bytes this version cannot decode.
fn unreadable_snapshot(backend: Backend, dir: &Path) {
    let journal = persistence::open(backend, dir).expect("opens");
    let stream = StreamId::store(store_id());
    let seq = journal
        .latest_snapshot(&stream)
        .expect("reads")
        .expect("a snapshot")
        .seq;
    let snapshot = persistence::StoredSnapshot {
        stream,
        seq,
        payload: b"\x01another layout".to_vec(),
    };
    journal.commit(&[], &[snapshot]).expect("written");
    journal.close().expect("closes");
}

/// Sales still journaled (after compaction: at most the last event).
fn sales_in_journal(backend: Backend, dir: &Path) -> usize {
    let journal = persistence::open(backend, dir).expect("opens");
    let events = journal
        .read_events(&StreamId::store(store_id()), 0, usize::MAX)
        .expect("reads");
    journal.close().expect("closes");
    events
        .iter()
        .filter(|e| {
            matches!(
                persistence::codec::decode::<StoreEvent>(&e.payload),
                Ok(StoreEvent::SaleRecorded(_))
            )
        })
        .count()
}

/// The whole scenario on a fresh directory; panics when anything differs.
pub fn run(backend: Backend, dir: &Path, sales: u64) -> Outcome {
    let selling = sell(backend, dir, sales);
    let journal_bytes_before = journal_bytes(dir);
    let before = recover(backend, dir);
    assert_eq!(
        before.seen.sales.len() as u64,
        sales,
        "every sale recovered"
    );
    let keep_all = Some(Duration::from_secs(90 * 86_400));
    let compaction = compaction::compact(backend, dir, keep_all).expect("compacts");
    assert_eq!(
        compaction
            .streams
            .iter()
            .map(|s| s.forgotten_sales)
            .sum::<usize>(),
        0,
        "every sale is younger than 90 days"
    );
    assert!(compaction.archived() > 0, "something was archived");
    let after = recover(backend, dir);
    assert_eq!(
        after.seen.sales, before.seen.sales,
        "every sale readable, unchanged"
    );
    same_figures(&after.seen, &before.seen, "unchanged");
    assert_eq!(after.seen.report.sales, sales);
    let (exported, _) = exported_sales(dir);
    let journaled = sales_in_journal(backend, dir);
    assert_eq!(
        exported.len() + journaled,
        sales as usize,
        "every sale exported, or still in the journal"
    );
    // Run again at once: nothing new to archive, nothing let go.
    let again = compaction::compact(backend, dir, keep_all).expect("compacts");
    assert_eq!(again.archived(), 0, "nothing archived twice");
    // SQLite gives the space back (VACUUM); sled keeps its files and reuses the space.
    if backend == Backend::Sqlite {
        assert!(compaction.journal_bytes_after < compaction.journal_bytes_before / 2);
    }
    // Years later: the retention window has passed over every sale.
    let forgetting = compaction::compact(backend, dir, Some(Duration::ZERO)).expect("compacts");
    let let_go: usize = forgetting.streams.iter().map(|s| s.forgotten_sales).sum();
    assert_eq!(let_go as u64, sales, "every sale let go");
    let forgotten = recover(backend, dir);
    assert!(forgotten.seen.sales.is_empty(), "no sale held any more");
    assert!(!before.seen.products.is_empty());
    same_figures(&forgotten.seen, &before.seen, "unchanged");
    // Letting go is journaled: the last sale's event went to the archive behind it, and
    // the CSV now holds every sale once, one row per line sold.
    let (all, rows) = exported_sales(dir);
    let lines: usize = before.seen.sales.iter().map(|(_, _, lines)| lines).sum();
    assert_eq!(
        (all.len(), rows),
        (sales as usize, lines),
        "every sale exported once"
    );
    // A version with another state layout cannot read the snapshot: it rebuilds the
    // store from the archive and the journal, and lets go of the same sales.
    unreadable_snapshot(backend, dir);
    let rebuilt = recover(backend, dir);
    assert!(
        rebuilt.seen.sales.is_empty(),
        "the sales let go stay let go"
    );
    same_figures(&rebuilt.seen, &before.seen, "rebuilt");
    Outcome {
        sales,
        selling,
        journal_bytes_before,
        before,
        compaction,
        after,
        forgetting,
        forgotten,
        exported_sales: exported.len(),
        sales_in_journal: journaled,
    }
}

impl Outcome {
    pub fn table(&self, backend: Backend) -> String {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        format!(
            "backend {backend:?}, {} sales through the store's actor in {:.1} s\n\
             | | before compaction | after | after letting go of every sale |\n\
             |---|---|---|---|\n\
             | journal on disk | {:.1} MiB | {:.1} MiB | {:.1} MiB |\n\
             | archive on disk | 0 | {:.1} MiB ({} sales in CSV, {} still journaled) | same |\n\
             | sales held in the store's state | {} | {} | {} |\n\
             | recovery (start-up of the store) | {:.2} s | {:.2} s | {:.3} s |\n\
             compaction: {} events archived in {:.1} s; sales, stock and reports identical; \
             letting go of the sales: {:.1} s, stock and reports identical",
            self.sales,
            self.selling.as_secs_f64(),
            mib(self.journal_bytes_before),
            mib(self.compaction.journal_bytes_after),
            mib(self.forgetting.journal_bytes_after),
            mib(self.compaction.archive_bytes),
            self.exported_sales,
            self.sales_in_journal,
            self.before.seen.sales.len(),
            self.after.seen.sales.len(),
            self.forgotten.seen.sales.len(),
            self.before.took.as_secs_f64(),
            self.after.took.as_secs_f64(),
            self.forgotten.took.as_secs_f64(),
            self.compaction.archived(),
            self.compaction.took.as_secs_f64(),
            self.forgetting.took.as_secs_f64(),
        )
    }
}
