//! The sales report, top products and the dashboard's figures over 100,000 recorded sales
//! (5 stores, 90 days, 3 lines each over 240 products), read from the history on disk
//! (`persistence::History`, SQLite) as the report handlers read it.
//! `cargo bench --bench reports`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;

use magasin::domain::{
    Cents, DomainEvent, Sale, SaleId, SaleRecorded, Sku, SoldLine, StoreEvent, StoreId, Timestamp,
    Username,
};
use magasin::persistence::{Committed, History, StreamId};
use magasin::reports::{HOUR_MS, SalesFacts, SalesQuestion};

const SALES: u64 = 100_000;
const STORES: u32 = 5;
const DAYS: i64 = 90;

/// The idempotency window of the built-in defaults, as a server started without
/// configuration keeps it.
fn key_window() -> magasin::domain::KeyRetention {
    magasin::config::Settings::defaults()
        .expect("the built-in defaults parse")
        .idempotency
        .retention
}

fn facts(dir: &std::path::Path) -> (SalesFacts, Vec<StoreId>, i64) {
    let history = Arc::new(History::open(dir, key_window()).expect("the history opens"));
    let stores: Vec<StoreId> = (1..=STORES)
        .map(|s| StoreId::new(s).expect("valid store"))
        .collect();
    let skus: Vec<Sku> = (0..240)
        .map(|i| Sku::parse(&format!("BEN-{i:04}")).expect("valid sku"))
        .collect();
    let cashier = Username::parse("caissier1").expect("valid name");
    let end = 1_800_000_000_000_i64;
    let span = DAYS * 24 * HOUR_MS;
    let mut batch = Vec::with_capacity(1_000);
    for n in 0..SALES {
        let at = end - span + (n as i64 * span) / SALES as i64;
        let lines: Vec<SoldLine> = (0..3)
            .map(|k| {
                SoldLine::untaxed(
                    skus[((n * 7 + k * 31) % 240) as usize].clone(),
                    1 + (n % 3) as u32,
                    Cents(199 + (k as i64) * 100),
                    0,
                )
            })
            .collect();
        let store = stores[(n % u64::from(STORES)) as usize];
        let seq = n / u64::from(STORES) + 1;
        let sale = Sale::untaxed(SaleId(seq), lines, Timestamp(at), cashier.clone());
        batch.push(Committed {
            stream: StreamId::store(store),
            seq,
            event: DomainEvent::Store(
                store,
                StoreEvent::SaleRecorded(SaleRecorded { sale, key: None }),
            ),
        });
        if batch.len() == 1_000 {
            history.record(&batch).expect("recorded");
            batch.clear();
        }
    }
    history.record(&batch).expect("recorded");
    (SalesFacts::new(history), stores, end)
}

fn question(from: i64, to: i64, products: bool, first_hour: Option<i64>) -> SalesQuestion {
    SalesQuestion {
        from: Timestamp(from),
        to: Timestamp(to),
        products,
        first_hour,
    }
}

fn bench_reports(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (facts, stores, end) = facts(dir.path());
    let quarter_start = end - DAYS * 24 * HOUR_MS;
    let whole = facts
        .part(&stores, &question(quarter_start, end, false, None))
        .expect("reads");
    let sales: u64 = whole.stores.iter().map(|(_, f)| f.sales).sum();
    assert_eq!(sales, SALES, "every sale is in the report");
    c.bench_function("sales_report/100k_sales/5_stores_90_days", |b| {
        b.iter(|| {
            facts
                .part(
                    black_box(&stores),
                    &question(quarter_start, end, false, None),
                )
                .expect("reads")
                .stores
                .len()
        })
    });
    c.bench_function("top_products/100k_sales/90_days", |b| {
        b.iter(|| {
            facts
                .part(
                    black_box(&stores),
                    &question(quarter_start, end, true, None),
                )
                .expect("reads")
                .products
                .len()
        })
    });
    c.bench_function("dashboard/100k_sales/today_hourly_top", |b| {
        b.iter(|| {
            let first_hour = end / HOUR_MS - 23;
            let today = question(end - 24 * HOUR_MS, end, true, Some(first_hour));
            let part = facts.part(black_box(&stores), &today).expect("reads");
            (part.stores.len(), part.hourly.len(), part.products.len())
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_reports
}
criterion_main!(benches);
