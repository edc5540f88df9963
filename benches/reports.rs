//! The sales report, top products and the dashboard's figures over 1,000,000 recorded
//! sales (5 stores, 90 days, 3 lines each over 240 products), at the read-model level.
//! `cargo bench --bench reports`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use magasin::domain::{Cents, Sale, SaleId, Sku, SoldLine, StoreId, Timestamp, Username};
use magasin::reports::{HOUR_MS, SalesFacts};

const SALES: u64 = 1_000_000;
const STORES: u32 = 5;
const DAYS: i64 = 90;

fn facts() -> (SalesFacts, Vec<StoreId>, i64) {
    let facts = SalesFacts::default();
    let stores: Vec<StoreId> = (1..=STORES)
        .map(|s| StoreId::new(s).expect("valid store"))
        .collect();
    let skus: Vec<Sku> = (0..240)
        .map(|i| Sku::parse(&format!("BEN-{i:04}")).expect("valid sku"))
        .collect();
    let cashier = Username::parse("caissier1").expect("valid name");
    let end = 1_800_000_000_000_i64;
    let span = DAYS * 24 * HOUR_MS;
    for n in 0..SALES {
        let at = end - span + (n as i64 * span) / SALES as i64;
        let lines: Vec<SoldLine> = (0..3)
            .map(|k| SoldLine {
                sku: skus[((n * 7 + k * 31) % 240) as usize].clone(),
                quantity: 1 + (n % 3) as u32,
                unit_price: Cents(199 + (k as i64) * 100),
                on_hand_after: 0,
            })
            .collect();
        let total = lines.iter().map(|l| l.unit_price * l.quantity).sum();
        let sale = Sale {
            id: SaleId(n + 1),
            lines,
            total,
            at: Timestamp(at),
            by: cashier.clone(),
        };
        facts.record_sale(stores[(n % u64::from(STORES)) as usize], &sale);
    }
    (facts, stores, end)
}

fn bench_reports(c: &mut Criterion) {
    let (facts, stores, end) = facts();
    let quarter = (Timestamp(end - DAYS * 24 * HOUR_MS), Timestamp(end));
    let today = (Timestamp(end - 24 * HOUR_MS), Timestamp(end));
    c.bench_function("sales_report/1M_sales/5_stores_90_days", |b| {
        b.iter(|| {
            stores
                .iter()
                .map(|s| {
                    facts
                        .figures(*s, black_box(quarter.0), black_box(quarter.1))
                        .revenue
                })
                .sum::<i64>()
        })
    });
    c.bench_function("top_products/1M_sales/90_days", |b| {
        b.iter(|| {
            facts
                .products(black_box(&stores), quarter.0, quarter.1)
                .len()
        })
    });
    c.bench_function("dashboard/1M_sales/today_hourly_top", |b| {
        b.iter(|| {
            let first_hour = end / HOUR_MS - 23;
            let revenue: i64 = stores
                .iter()
                .map(|s| facts.figures(*s, today.0, today.1).revenue)
                .sum();
            let hourly: usize = stores
                .iter()
                .map(|s| facts.hourly(*s, first_hour, 24).len())
                .sum();
            let top = facts.products(&stores, today.0, today.1).len();
            (revenue, hourly, top)
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_reports
}
criterion_main!(benches);
