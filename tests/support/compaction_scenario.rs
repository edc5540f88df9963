//! The compaction scenario, shared by the CI test (`tests/compaction.rs`, 10,000 sales)
//! and the full-size command (`examples/compaction.rs`): sales recorded through a store's
//! actor (the registry, not the API), stamped by a simulated clock over months of trading
//! (2,400 sales a day), each with an idempotency key as tills send them. Recovery is
//! measured after a tenth of the sales and after all of them, then compaction, then
//! recovery again, checking that nothing a store or a report shows has changed: every sale
//! (read through the store's handle), the stock, the figures and the top products.
//!
//! The journal shrinks and the archive holds the events: the history, deleted as a lost
//! read model would be, is rebuilt from the archive and the journal, identical. Last, a
//! sale of the first day, whose key the store forgot long ago, is returned once after the
//! restart, and the same return again is refused (it would exceed the sale), before and
//! after another restart: the store decides it against the sale and its returns read from
//! the history, never from its state, which holds no sale.

use futures_util::StreamExt;
use prometheus_client::metrics::gauge::Gauge;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use magasin::actors::{
    ActorSettings, Clock, Placement, RecoveryHooks, Registry, StoreError, StoreHandle,
};
use magasin::compaction::{self, Compaction};
use magasin::domain::{
    AdjustmentLine, AdjustmentRequest, Cents, HOUR_MS, IdempotencyKey, MAX_ON_HAND, NewStore,
    PriceLookup, Quantity, Rate, RequestedLine, ReturnError, ReturnRequest, SaleId, SaleRequest,
    Sku, StoreDetails, StoreEvent, StoreId, StoreState, TaxClass, TaxCode, TillRules, Timestamp,
    Username,
};
use magasin::persistence::archive::{Archive, dir_size};
use magasin::persistence::{self, Backend, History, Journal, StreamId, WriterSettings, codec};
use magasin::reports::{Figures, SalesFacts, SalesQuestion};

const PRODUCTS: usize = 200;
const TILLS: usize = 64;
/// A busy store's day, over its opening hours (8:00 to 20:00 UTC).
const SALES_A_DAY: u64 = 2_400;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The first day of trading: Monday 6 January 2025, 00:00 UTC.
const FIRST_DAY: i64 = 1_736_121_600_000;
/// Sales read per page through the store's handle.
const PAGE: usize = 10_000;

/// The idempotency window of the built-in defaults, as a server started without
/// configuration keeps it.
fn key_window() -> magasin::domain::KeyRetention {
    magasin::config::Settings::defaults()
        .expect("the built-in defaults parse")
        .idempotency
        .retention
}

struct FlatPrices;

impl PriceLookup for FlatPrices {
    fn price(&self, _sku: &Sku) -> Option<Cents> {
        Some(Cents(499))
    }

    fn tax_class(&self, _sku: &Sku) -> Option<TaxClass> {
        Some(TaxClass::Taxable)
    }

    fn tax_rates(&self, _store: StoreId, _at: Timestamp) -> Vec<(TaxCode, Rate)> {
        Vec::new()
    }

    fn till_rules(&self, _store: StoreId) -> TillRules {
        TillRules {
            tills: 2,
            approval_percent: 20,
        }
    }
}

fn sku(i: usize) -> Sku {
    Sku::parse(&format!("CMP-{i:04}")).expect("valid sku")
}

fn cashier() -> Username {
    Username::parse("caisse.compaction").expect("valid username")
}

fn store_id() -> StoreId {
    StoreId::new(1).expect("valid store id")
}

/// The lines of the `n`-th sale (from 0): one to three SKUs, one or two units each.
fn sale_lines(n: u64) -> Vec<RequestedLine> {
    let n = n as usize;
    (0..1 + n % 3)
        .map(|k| RequestedLine {
            sku: sku((n * 7 + k * 13) % PRODUCTS),
            quantity: Quantity::new(1 + (n % 2) as i64).expect("valid quantity"),
        })
        .collect()
}

/// When the `n`-th sale (from 0) is rung up: [`SALES_A_DAY`] a day, spread evenly over
/// the opening hours.
fn sold_at(n: u64) -> Timestamp {
    let (day, k) = ((n / SALES_A_DAY) as i64, (n % SALES_A_DAY) as i64);
    Timestamp(FIRST_DAY + day * DAY_MS + 8 * HOUR_MS + k * 12 * HOUR_MS / SALES_A_DAY as i64)
}

/// What a store and its reports show: compared before and after compaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Every sale through `StoreHandle::sales`, newest first: id, time, total.
    pub sales: Vec<(u64, i64, i64)>,
    /// SHA-256 of every sale as `StoreHandle::sales` answers it (lines, prices, cashier)
    /// and its returns.
    pub sales_digest: [u8; 32],
    pub stock: Vec<(String, u32)>,
    /// The sales report over every day.
    pub figures: Figures,
    /// The top-products report over every day: SKU, units, revenue.
    pub products: Vec<(String, u64, i64)>,
    /// Idempotency keys the store remembers (those of the last 72 h of trading).
    pub keys_in_window: usize,
}

/// One start-up on the data directory: how long recovery took, and what it shows.
pub struct Recovered {
    pub took: Duration,
    pub seen: Seen,
    pub disk: Disk,
}

/// The data directory's parts on disk, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Disk {
    pub journal: u64,
    pub history: u64,
    pub archive: u64,
}

impl Disk {
    fn of(dir: &Path) -> Self {
        let sum = |prefix: &str| -> u64 {
            std::fs::read_dir(dir)
                .expect("the data directory lists")
                .map(|entry| entry.expect("an entry").path())
                .filter(|path| {
                    path.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .map(|path| dir_size(&path))
                .sum()
        };
        Self {
            journal: sum("journal."),
            history: sum("history.sqlite3"),
            archive: dir_size(&dir.join("archive")),
        }
    }
}

/// The figures of one run.
pub struct Outcome {
    pub sales: u64,
    pub days: u64,
    pub selling: Duration,
    /// After a tenth of the sales.
    pub early: Recovered,
    /// After every sale, before compaction.
    pub before: Recovered,
    pub compaction: Compaction,
    pub after: Recovered,
    /// With the history deleted: rebuilt from the archive and the journal.
    pub rebuilt: Recovered,
    /// Distinct sales in the archive's CSV, and sales still in the journal.
    pub exported_sales: usize,
    pub sales_in_journal: usize,
    /// The first sale's time, and the return made against it after compaction.
    pub returned_sale_at: Timestamp,
    pub returned_at: Timestamp,
}

/// One data directory and the simulated clock its actors read.
struct Scenario {
    backend: Backend,
    dir: std::path::PathBuf,
    clock: Arc<AtomicI64>,
}

impl Scenario {
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

    fn open_journal(&self) -> Journal {
        let storage = persistence::open(self.backend, &self.dir).expect("journal opens");
        let history = Arc::new(History::open(&self.dir, key_window()).expect("history opens"));
        Journal::start(
            storage,
            history,
            Vec::new(),
            WriterSettings {
                max_batch_events: 4096,
            },
        )
        .expect("writer starts")
        .with_archive(Archive::new(&self.dir))
    }

    /// Starts a registry on the data directory as a server does; `recovered` receives the
    /// store's stock and the keys of its window.
    async fn start(&self, journal: &Journal, recovered: Arc<Mutex<Option<StateSeen>>>) -> Registry {
        let hooks = RecoveryHooks {
            store: Arc::new(move |_, state: &StoreState| {
                *recovered.lock().expect("not poisoned") = Some(StateSeen::of(state));
            }),
            product: Arc::new(|_, _| {}),
        };
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
        registry
    }

    /// Records sales `from..to` (opening and stocking the store first when `from` is 0),
    /// `TILLS` at a time, then stops as a server does (a snapshot of every actor).
    fn sell(&self, from: u64, to: u64) -> Duration {
        let journal = self.open_journal();
        let system = actix_rt::System::new();
        let took = system.block_on(async {
            let registry = self.start(&journal, Arc::new(Mutex::new(None))).await;
            if from == 0 {
                self.clock.store(FIRST_DAY + 7 * HOUR_MS, Ordering::Relaxed);
                open_and_stock(&registry).await;
            }
            let store = registry.store(store_id()).await.expect("store runs");
            let started = Instant::now();
            futures_util::stream::iter(from..to)
                .for_each_concurrent(TILLS, |n| {
                    let store = store.clone();
                    // The till rings the sale up at its time of the day; the clock never
                    // goes back for the sales still in flight.
                    self.clock.fetch_max(sold_at(n).0, Ordering::Relaxed);
                    async move {
                        let request = SaleRequest::new(sale_lines(n)).expect("distinct lines");
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

    /// Starts on the data directory as a server does (timed), reads what the store and
    /// its reports show, and stops.
    fn recover(&self) -> Recovered {
        let journal = self.open_journal();
        let recovered = Arc::new(Mutex::new(None));
        let system = actix_rt::System::new();
        let (took, sales, sales_digest) = system.block_on(async {
            let started = Instant::now();
            let registry = self.start(&journal, recovered.clone()).await;
            let took = started.elapsed();
            let store = registry.store(store_id()).await.expect("store runs");
            let (sales, digest) = read_every_sale(&store).await;
            registry.stop();
            (took, sales, digest)
        });
        let (figures, products) = report(journal.history());
        journal.stop();
        let state = recovered
            .lock()
            .expect("not poisoned")
            .take()
            .expect("the store was recovered");
        Recovered {
            took,
            seen: Seen {
                sales,
                sales_digest,
                stock: state.stock,
                figures,
                products,
                keys_in_window: state.keys,
            },
            disk: Disk::of(&self.dir),
        }
    }

    /// Returns the first sale's line after the restart: once accepted (and replayed under
    /// its key), then refused as exceeding the sale under another key; again after one
    /// more restart. Answers when the return was made.
    fn return_first_sale(&self, first: &Seen) -> Timestamp {
        let line = sale_lines(0).remove(0);
        let request = || {
            ReturnRequest::new(SaleId(1), vec![line.clone()], Some("défectueux".into()))
                .expect("valid lines")
        };
        let key = |k: &str| Some(IdempotencyKey::parse(k).expect("valid key"));
        let refused = |answer: Result<_, StoreError>, when: &str| match answer {
            Err(StoreError::Return(ReturnError::ExceedsSale(excess))) => {
                assert_eq!(excess.len(), 1, "{when}: the one line exceeds");
                assert_eq!(
                    (excess[0].sold, excess[0].already_returned),
                    (line.quantity.get(), line.quantity.get()),
                    "{when}: everything sold came back already"
                );
            }
            other => panic!("{when}: expected the return refused, got {other:?}"),
        };
        // A day after the last sale: every key of the trading days is far behind.
        let later = self.clock.load(Ordering::Relaxed) + DAY_MS;
        self.clock.store(later, Ordering::Relaxed);
        let journal = self.open_journal();
        let system = actix_rt::System::new();
        let returned_at = system.block_on(async {
            let registry = self.start(&journal, Arc::new(Mutex::new(None))).await;
            let store = registry.store(store_id()).await.expect("store runs");
            let first = store
                .return_lines(request(), key("retour-1"), cashier())
                .await
                .expect("a sale of the first day is returned");
            assert!(!first.replayed);
            assert_eq!(first.value.sale_id, SaleId(1));
            let again = store
                .return_lines(request(), key("retour-1"), cashier())
                .await
                .expect("the same key answers the same return");
            assert!(again.replayed, "a retry under the same key is replayed");
            assert_eq!(again.value, first.value);
            refused(
                store
                    .return_lines(request(), key("retour-2"), cashier())
                    .await,
                "the same return again",
            );
            registry.snapshot_all().await;
            registry.stop();
            first.value.at
        });
        journal.stop();
        let after = self.recover();
        let mut stock = first.stock.clone();
        let back = stock
            .iter_mut()
            .find(|(sku, _)| *sku == line.sku.to_string())
            .expect("the SKU is stocked");
        back.1 += line.quantity.get();
        assert_eq!(
            after.seen.stock, stock,
            "the returned units are back on hand"
        );
        assert_eq!(after.seen.figures.returns, 1, "one return in the figures");
        assert_eq!(after.seen.sales, first.sales, "the sales are unchanged");
        let journal = self.open_journal();
        let system = actix_rt::System::new();
        system.block_on(async {
            let registry = self.start(&journal, Arc::new(Mutex::new(None))).await;
            let store = registry.store(store_id()).await.expect("store runs");
            let sale = store.sale(SaleId(1)).await.expect("the first sale reads");
            assert_eq!(sale.returns.len(), 1, "its return is in the history");
            refused(
                store.return_lines(request(), None, cashier()).await,
                "after a restart",
            );
            registry.stop();
        });
        journal.stop();
        returned_at
    }
}

/// What the recovered state shows of the store.
struct StateSeen {
    stock: Vec<(String, u32)>,
    keys: usize,
}

impl StateSeen {
    fn of(state: &StoreState) -> Self {
        Self {
            stock: state
                .stock_lines()
                .map(|(sku, line)| (sku.to_string(), line.on_hand))
                .collect(),
            keys: state.keys().len(),
        }
    }
}

async fn open_and_stock(registry: &Registry) {
    magasin::bootstrap::add_standard_jurisdictions(registry)
        .await
        .expect("jurisdictions set");
    let opened = registry
        .open_store(NewStore {
            code: "COMPACT".into(),
            name: "Compaction".into(),
            city: "Montréal".into(),
            details: StoreDetails::quebec("1 rue Principale"),
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
}

/// Every sale through `StoreHandle::sales`, a page at a time, and a sample through
/// `StoreHandle::sale` (the first, the last and a hundred between), which must agree.
async fn read_every_sale(store: &StoreHandle) -> (Vec<(u64, i64, i64)>, [u8; 32]) {
    let mut sales = Vec::new();
    let mut digest = Sha256::new();
    let total = loop {
        let (page, total) = store.sales(sales.len(), PAGE).await.expect("sales read");
        for view in &page {
            digest.update(codec::encode(&view.sale).expect("encodes"));
            digest.update(codec::encode(&view.returns).expect("encodes"));
            sales.push((view.sale.id.0, view.sale.at.0, view.sale.total.0));
        }
        if page.len() < PAGE {
            break total;
        }
    };
    assert_eq!(sales.len(), total, "the count is the sales listed");
    let ids: BTreeSet<u64> = sales.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(
        (ids.len(), ids.first(), ids.last()),
        (total, Some(&1), Some(&(total as u64))),
        "sale ids 1 to {total}, each once"
    );
    let step = (sales.len() / 100).max(1);
    for (id, at, sale_total) in sales.iter().step_by(step).chain(sales.last()) {
        let view = store.sale(SaleId(*id)).await.expect("the sale reads");
        assert_eq!(
            (view.sale.at.0, view.sale.total.0),
            (*at, *sale_total),
            "sale {id} through sale() as through sales()"
        );
    }
    (sales, digest.finalize().into())
}

/// The sales report and the top products over every day, as the reports answer them.
fn report(history: &Arc<History>) -> (Figures, Vec<(String, u64, i64)>) {
    let facts = SalesFacts::new(history.clone());
    let question = SalesQuestion {
        from: Timestamp(0),
        to: Timestamp(i64::MAX / 2),
        products: true,
        first_hour: None,
    };
    let part = facts.part(&[store_id()], &question).expect("figures read");
    let figures = part
        .stores
        .first()
        .map(|(_, figures)| *figures)
        .expect("the store's figures");
    let mut products: Vec<_> = part
        .products
        .into_iter()
        .map(|(sku, p)| (sku.to_string(), p.units, p.revenue))
        .collect();
    products.sort();
    (figures, products)
}

/// Sale ids in the archive's sales CSV.
fn exported_sales(dir: &Path) -> BTreeSet<u64> {
    let mut ids = BTreeSet::new();
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
            }
        }
    }
    ids
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
                codec::decode_event::<StoreEvent>(&e.payload),
                Ok(StoreEvent::SaleRecorded(_))
            )
        })
        .count()
}

/// Deletes the history, as a lost or damaged read model: the next start rebuilds it.
fn delete_history(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("the data directory lists") {
        let path = entry.expect("an entry").path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("history.sqlite3"))
        {
            std::fs::remove_file(&path).expect("removed");
        }
    }
}

/// The whole scenario on a fresh directory; panics when anything differs.
pub fn run(backend: Backend, dir: &Path, sales: u64) -> Outcome {
    assert!(sales >= 10, "a tenth of the sales is at least one");
    let scenario = Scenario {
        backend,
        dir: dir.to_path_buf(),
        clock: Arc::new(AtomicI64::new(FIRST_DAY)),
    };
    let tenth = sales / 10;
    let mut selling = scenario.sell(0, tenth);
    let early = scenario.recover();
    assert_eq!(early.seen.sales.len() as u64, tenth);
    selling += scenario.sell(tenth, sales);
    let before = scenario.recover();
    assert_eq!(before.seen.sales.len() as u64, sales, "every sale recorded");
    assert_eq!(
        before.seen.figures.sales, sales,
        "every sale in the figures"
    );
    assert!(!before.seen.products.is_empty());
    // Stamped when its actor decided it: with the tills in flight, a little after the
    // till's time, on the first morning.
    let first_sale_at = before.seen.sales.last().map_or(0, |s| s.1);
    assert!(
        (sold_at(0).0..sold_at(0).0 + HOUR_MS).contains(&first_sale_at),
        "the first sale carries the first morning's time: {}",
        Timestamp(first_sale_at).rfc3339()
    );

    let compaction = compaction::compact(backend, dir).expect("compacts");
    assert!(compaction.archived() > 0, "something was archived");
    let after = scenario.recover();
    assert_eq!(after.seen, before.seen, "what the store and reports show");
    let exported = exported_sales(dir);
    let journaled = sales_in_journal(backend, dir);
    assert_eq!(
        exported.len() + journaled,
        sales as usize,
        "every sale exported, or still in the journal"
    );
    // SQLite gives the space back (VACUUM); sled keeps its files and reuses the space.
    if backend == Backend::Sqlite {
        assert!(
            after.disk.journal < before.disk.journal / 2,
            "the journal shrinks: {} -> {} bytes",
            before.disk.journal,
            after.disk.journal
        );
    }
    // Run again at once: nothing new to archive.
    let again = compaction::compact(backend, dir).expect("compacts");
    assert_eq!(again.archived(), 0, "nothing archived twice");
    // The hash chain verifies from the first sale, through the archive into the journal.
    let verified =
        magasin::persistence::integrity::verify_data_dir(backend, dir).expect("verifies");
    let store = verified
        .iter()
        .find(|v| v.stream.store_id().is_some())
        .expect("the store's stream");
    assert_eq!(store.broken, None, "{store}");
    assert!(store.checked > sales, "{store}");

    // The history is a read model: lost, it is rebuilt from the archive and the journal.
    delete_history(dir);
    let rebuilt = scenario.recover();
    assert_eq!(
        rebuilt.seen, before.seen,
        "the history rebuilt from the archive"
    );

    let returned_at = scenario.return_first_sale(&before.seen);
    Outcome {
        sales,
        days: sales.div_ceil(SALES_A_DAY),
        selling,
        early,
        before,
        compaction,
        after,
        rebuilt,
        exported_sales: exported.len(),
        sales_in_journal: journaled,
        returned_sale_at: Timestamp(first_sale_at),
        returned_at,
    }
}

impl Outcome {
    pub fn table(&self, backend: Backend) -> String {
        let mib = |b: u64| match b {
            0 => "0".to_owned(),
            b if b < 1024 * 1024 => format!("{:.0} KiB", b as f64 / 1024.0),
            b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
        };
        let stages = [&self.early, &self.before, &self.after, &self.rebuilt];
        let row = |name: &str, cell: &dyn Fn(&Recovered) -> String| {
            let cells: Vec<String> = stages.iter().map(|r| cell(r)).collect();
            format!("| {name} | {} |\n", cells.join(" | "))
        };
        let mut table = format!(
            "backend {backend:?}: {} sales through the store's actor in {:.1} s, {} days of \
             trading on a simulated clock ({SALES_A_DAY} a day), each with an idempotency key\n\n\
             | | after {} sales | after {} sales | after compaction | history deleted, rebuilt |\n\
             |---|---|---|---|---|\n",
            self.sales,
            self.selling.as_secs_f64(),
            self.days,
            self.early.seen.sales.len(),
            self.before.seen.sales.len(),
        );
        table += &row("journal on disk", &|r| mib(r.disk.journal));
        table += &row("history on disk", &|r| mib(r.disk.history));
        table += &row("archive on disk", &|r| mib(r.disk.archive));
        table += &row("sales read through the store's handle", &|r| {
            r.seen.sales.len().to_string()
        });
        table += &row("keys in the store's window (72 h)", &|r| {
            r.seen.keys_in_window.to_string()
        });
        table += &row("recovery (start-up of the store)", &|r| {
            format!("{:.3} s", r.took.as_secs_f64())
        });
        table += &format!(
            "\ncompaction: {} events archived in {:.1} s ({} sales in the archive's CSV, {} \
             still journaled); every sale, the stock, the figures and the top products \
             identical after it, and after the history was rebuilt from the archive. \
             Recovery from a snapshot: {:.3} s after {} sales, {:.3} s after {} (ten times \
             the history). Sale 1 (rung up {}) returned once after the restart ({}), the \
             same return again refused (exceeds the sale), before and after another restart.",
            self.compaction.archived(),
            self.compaction.took.as_secs_f64(),
            self.exported_sales,
            self.sales_in_journal,
            self.early.took.as_secs_f64(),
            self.early.seen.sales.len(),
            self.before.took.as_secs_f64(),
            self.before.seen.sales.len(),
            self.returned_sale_at.rfc3339(),
            self.returned_at.rfc3339(),
        );
        table
    }
}
