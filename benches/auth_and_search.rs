//! Token verification (every authenticated request pays it) and product search over the
//! demo catalog and over 50,000 products.
//! `cargo bench --bench auth_and_search`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

use magasin::auth::{SigningKey, TokenKeys};
use magasin::domain::{Cents, ChainEvent, Ean13, Product, Role, Sku, Timestamp, User, Username};
use magasin::reports::{CatalogView, ProductQuery};

fn bench_jwt(c: &mut Criterion) {
    let (key, _) = SigningKey::from_config(Some("a-bench-secret-of-at-least-32-bytes!"), false)
        .expect("a key");
    let keys = TokenKeys::new(&key, Duration::from_secs(3600));
    let user = User::new(
        Username::parse("caissier1").expect("name"),
        String::new(),
        Role::Cashier,
        magasin::domain::StoreId::new(1).ok(),
    )
    .expect("a user");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    let account = magasin::domain::UserAccount::new(user);
    let (token, _) = keys.issue(&account, Timestamp(now)).expect("a token");
    c.bench_function("jwt/verify_hs256", |b| {
        b.iter(|| keys.verify(black_box(&token)))
    });
}

fn ean(n: u64) -> Ean13 {
    let body = format!("{:012}", 627_000_000_000 + n);
    let sum: u32 = body
        .chars()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).unwrap_or(0) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    Ean13::parse(&format!("{body}{}", (10 - sum % 10) % 10)).expect("a valid barcode")
}

fn catalog(size: u64) -> CatalogView {
    const WORDS: [&str; 12] = [
        "Sirop", "érable", "Lait", "Pain", "Café", "Thé", "Savon", "Câble", "Piles", "Jus",
        "Farine", "Riz",
    ];
    const CATEGORIES: [&str; 10] = [
        "Épicerie",
        "Boissons",
        "Produits laitiers",
        "Boulangerie",
        "Fruits et légumes",
        "Hygiène et beauté",
        "Entretien ménager",
        "Quincaillerie",
        "Papeterie",
        "Électronique",
    ];
    let events: Vec<ChainEvent> = (0..size)
        .map(|n| {
            ChainEvent::ProductAdded(Product {
                sku: Sku::parse(&format!("BEN-{n:06}")).expect("a sku"),
                ean13: ean(n),
                name: format!(
                    "{} {} format {}",
                    WORDS[(n % 12) as usize],
                    WORDS[((n / 12) % 12) as usize],
                    n % 97
                ),
                category: CATEGORIES[(n % 10) as usize].to_owned(),
                price: Cents(199 + (n % 500) as i64),
                tax_class: magasin::domain::TaxClass::Taxable,
            })
        })
        .collect();
    let view = CatalogView::default();
    view.apply(&events.iter().collect::<Vec<_>>());
    view
}

fn bench_search(c: &mut Criterion) {
    for size in [240u64, 50_000] {
        let view = catalog(size);
        let by_name = ProductQuery {
            text: Some("erable sirop".into()),
            category: None,
        };
        let by_barcode = ProductQuery {
            text: Some(ean(size / 2).to_string()),
            category: None,
        };
        let by_category = ProductQuery {
            text: None,
            category: Some("Boissons".into()),
        };
        c.bench_function(&format!("search/{size}_products/name_words"), |b| {
            b.iter(|| view.search(black_box(&by_name)).len())
        });
        c.bench_function(&format!("search/{size}_products/barcode"), |b| {
            b.iter(|| view.search(black_box(&by_barcode)).len())
        });
        c.bench_function(&format!("search/{size}_products/category"), |b| {
            b.iter(|| view.search(black_box(&by_category)).len())
        });
    }
}

criterion_group!(benches, bench_jwt, bench_search);
criterion_main!(benches);
