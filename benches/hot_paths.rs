//! Hot paths of a sale that need no I/O: the domain decision and the journal codec.
//! `cargo bench --bench hot_paths`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

mod support;
use support::{FlatPrices, sku};

use magasin::domain::{
    AdjustmentLine, AdjustmentRequest, Quantity, RequestedLine, SaleRequest, Stamp, StoreEvent,
    StoreState, Timestamp, Username,
};
use magasin::persistence::codec;

fn store_one() -> magasin::domain::StoreId {
    magasin::domain::StoreId::new(1).expect("store 1")
}

fn stamp() -> Stamp {
    Stamp {
        at: Timestamp(1),
        by: Username::parse("caissier1").expect("valid bench user"),
    }
}

fn stocked_store(products: usize) -> StoreState {
    let mut state = StoreState::default();
    let lines: Vec<AdjustmentLine> = (0..products)
        .map(|i| AdjustmentLine::count(sku(i), 1000).expect("valid count"))
        .collect();
    for chunk in lines.chunks(200) {
        let request = AdjustmentRequest::new("bench".into(), chunk.to_vec()).expect("valid lines");
        let event = state
            .decide_adjustment(&request, &FlatPrices, &stamp(), None)
            .expect("count accepted");
        state.apply(&StoreEvent::StockAdjusted(event));
    }
    state
}

fn sale_of(lines: usize) -> SaleRequest {
    let lines = (0..lines)
        .map(|i| RequestedLine {
            sku: sku(i * 7),
            quantity: Quantity::new(1).expect("valid quantity"),
        })
        .collect();
    SaleRequest::new(lines).expect("valid sale")
}

fn bench_sale_decision(c: &mut Criterion) {
    let state = stocked_store(1000);
    for lines in [1, 5, 20] {
        let request = sale_of(lines);
        c.bench_function(&format!("decide_sale/{lines}_lines"), |b| {
            b.iter(|| {
                state.decide_sale(
                    store_one(),
                    black_box(&request),
                    &FlatPrices,
                    &stamp(),
                    None,
                )
            })
        });
    }
}

fn bench_codec(c: &mut Criterion) {
    let state = stocked_store(1000);
    let event = StoreEvent::SaleRecorded(
        state
            .decide_sale(store_one(), &sale_of(5), &FlatPrices, &stamp(), None)
            .expect("in stock"),
    );
    let bytes = codec::encode_event(&event).expect("encodes");
    c.bench_function("codec/encode_sale_event", |b| {
        b.iter(|| codec::encode_event(black_box(&event)))
    });
    c.bench_function("codec/decode_sale_event", |b| {
        b.iter(|| codec::decode_event::<StoreEvent>(black_box(&bytes)))
    });
}

criterion_group!(benches, bench_sale_decision, bench_codec);
criterion_main!(benches);
