//! What the figures of a store-year of sales let go cost in memory (docs/capacity.md):
//! a year of a store's sales (2,400 a day, 3 lines each over a catalog of 500 products)
//! goes through the store's state, is let go as compaction lets it go, and the bytes
//! allocated are counted: the history the state keeps, and what the reports' read model
//! adds when it loads that store; and what the history takes in a snapshot.
//!
//!     cargo run --release --example history_memory -- [DAYS]

use magasin::domain::{
    AdjustmentLine, AdjustmentRequest, Cents, HOUR_MS, MAX_LINES, MAX_ON_HAND, PriceLookup,
    Quantity, RequestedLine, SaleRequest, SalesHistory, Sku, Stamp, StoreEvent, StoreId,
    StoreState, Timestamp, Username,
};
use magasin::reports::SalesFacts;

/// Counts the bytes held (dhat's heap statistics), from the end of the sales on.
#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn held() -> usize {
    dhat::HeapStats::get().curr_bytes
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

struct Flat;

impl PriceLookup for Flat {
    fn price(&self, _sku: &Sku) -> Option<Cents> {
        Some(Cents(349))
    }
}

const PRODUCTS: usize = 500;
const SALES_A_DAY: i64 = 2_400;

fn fail(what: &str) -> ! {
    eprintln!("history_memory: {what}");
    std::process::exit(1)
}

fn main() {
    let days: i64 = std::env::args()
        .nth(1)
        .map_or(Ok(360), |a| a.parse())
        .unwrap_or_else(|_| fail("usage: history_memory [DAYS]"));
    let skus: Vec<Sku> = (0..PRODUCTS)
        .map(|i| Sku::parse(&format!("MEM-{i:04}")).unwrap_or_else(|_| fail("a SKU")))
        .collect();
    let cashier = Username::parse("caissier1").unwrap_or_else(|_| fail("a user name"));
    let stamp = |at: i64| Stamp {
        at: Timestamp(at),
        by: cashier.clone(),
    };
    let quantity = |n: i64| Quantity::new(n).unwrap_or_else(|_| fail("a quantity"));

    let mut state = StoreState::default();
    for chunk in skus.chunks(MAX_LINES) {
        let counts = chunk
            .iter()
            .map(|sku| AdjustmentLine::count(sku.clone(), i64::from(MAX_ON_HAND)))
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|_| fail("a count"));
        let request = AdjustmentRequest::new("inventaire".into(), counts)
            .unwrap_or_else(|_| fail("an adjustment"));
        let counted = state
            .decide_adjustment(&request, &Flat, &stamp(0), None)
            .unwrap_or_else(|_| fail("the count"));
        state.apply(&StoreEvent::StockAdjusted(counted));
    }

    let start = 1_700_000_000_000_i64 - 1_700_000_000_000_i64.rem_euclid(24 * HOUR_MS);
    let sales = days * SALES_A_DAY;
    let mut n: i64 = 0;
    for day in 0..days {
        for k in 0..SALES_A_DAY {
            // Opening hours 8 to 20: the sales of a day spread over twelve hours.
            let at = start + day * 24 * HOUR_MS + 8 * HOUR_MS + k * 12 * HOUR_MS / SALES_A_DAY;
            let lines = (0..3)
                .map(|j| RequestedLine {
                    sku: skus[((n * 7 + j * 131 + day * 17) as usize) % PRODUCTS].clone(),
                    quantity: quantity(1 + (n + j) % 3),
                })
                .collect();
            let request = SaleRequest::new(lines).unwrap_or_else(|_| fail("a sale"));
            let recorded = state
                .decide_sale(&request, &Flat, &stamp(at), None)
                .unwrap_or_else(|_| fail("a sale in stock"));
            state.apply(&StoreEvent::SaleRecorded(recorded));
            n += 1;
        }
    }
    // Only what is allocated from here on is counted: the history, its copy, the read model.
    let profiler = dhat::Profiler::builder().testing().build();
    state.apply(&StoreEvent::SalesLetGo {
        before: Timestamp(start + days * 24 * HOUR_MS),
    });
    if state.sale_count() != 0 {
        fail("every sale let go");
    }
    let after_letting_go = held();
    let history: &SalesHistory = state.history();
    let days_kept = history.products.len();
    let entries: usize = history.products.values().map(|d| d.len()).sum();

    let before_copy = held();
    let copy = SalesHistory::clone(history);
    let history_bytes = held() - before_copy;
    drop(copy);

    let on_disk = magasin::persistence::codec::encode(history)
        .unwrap_or_else(|_| fail("the history encodes"))
        .len();

    let store = StoreId::new(1).unwrap_or_else(|_| fail("a store id"));
    let before_load = held();
    let facts = SalesFacts::default();
    facts.load(store, &state);
    let read_model_bytes = held() - before_load;
    let year = facts.products(
        &[store],
        Timestamp(start),
        Timestamp(start + days * 24 * HOUR_MS),
    );
    let units: u64 = year.values().map(|p| p.units).sum();

    println!("| {days} days of one store, {sales} sales let go | |");
    println!("|---|---|");
    println!(
        "| allocated by letting go (the history the state keeps) | {:.2} MiB |",
        mib(after_letting_go)
    );
    println!(
        "| of which the history ({days_kept} days, {entries} product-days, {:.0} B each) | {:.2} MiB |",
        history_bytes as f64 / entries.max(1) as f64,
        mib(history_bytes)
    );
    println!(
        "| the history in a snapshot (the journal's codec) | {:.2} MiB |",
        mib(on_disk)
    );
    println!(
        "| added by the reports' read model loading the store | {:.3} MiB |",
        mib(read_model_bytes)
    );
    println!(
        "top products over the period: {} SKUs, {units} units",
        year.len()
    );
    drop(profiler);
}
