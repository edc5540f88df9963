//! What several benchmarks build their data from: a flat price list and numbered SKUs.

use magasin::domain::{
    Cents, PriceLookup, Rate, Sku, StoreId, TaxClass, TaxCode, TillRules, Timestamp,
};

/// Every product at $4.99.
pub struct FlatPrices;

impl PriceLookup for FlatPrices {
    fn price(&self, _sku: &Sku) -> Option<Cents> {
        Some(Cents(499))
    }

    fn tax_class(&self, _sku: &Sku) -> Option<TaxClass> {
        Some(TaxClass::Taxable)
    }

    /// Quebec's: a sale's cost includes computing its taxes.
    fn tax_rates(&self, _store: StoreId, _at: Timestamp) -> Vec<(TaxCode, Rate)> {
        vec![(TaxCode::Gst, Rate(5_000)), (TaxCode::Qst, Rate(9_975))]
    }

    fn till_rules(&self, _store: StoreId) -> TillRules {
        TillRules {
            tills: 2,
            approval_percent: 20,
        }
    }
}

/// The `i`-th bench product: `BEN-0000`, `BEN-0001`, …
pub fn sku(i: usize) -> Sku {
    Sku::parse(&format!("BEN-{i:04}")).expect("valid bench sku")
}
