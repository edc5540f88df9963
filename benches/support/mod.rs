//! What several benchmarks build their data from: a flat price list and numbered SKUs.

use magasin::domain::{Cents, PriceLookup, Sku};

/// Every product at $4.99.
pub struct FlatPrices;

impl PriceLookup for FlatPrices {
    fn price(&self, _sku: &Sku) -> Option<Cents> {
        Some(Cents(499))
    }
}

/// The `i`-th bench product: `BEN-0000`, `BEN-0001`, …
pub fn sku(i: usize) -> Sku {
    Sku::parse(&format!("BEN-{i:04}")).expect("valid bench sku")
}
