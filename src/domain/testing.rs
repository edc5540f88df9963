//! Reference data for the tests of this crate: prices from a function, every product
//! taxable, the rates given, two tills and the default approval threshold.

use super::{Cents, PriceLookup, Rate, Sku, StoreId, TaxClass, TaxCode, TillRules, Timestamp};

pub struct Catalog<F> {
    pub prices: F,
    pub rates: Vec<(TaxCode, Rate)>,
    /// SKUs starting with this are zero-rated.
    pub zero_rated_prefix: &'static str,
}

/// A shelf: the price of each SKU, `None` for an unknown one.
pub type Shelf = fn(&Sku) -> Option<Cents>;

/// Prices from `shelf`, every product taxable, no tax rate.
pub const fn untaxed(shelf: Shelf) -> Catalog<Shelf> {
    Catalog {
        prices: shelf,
        rates: Vec::new(),
        zero_rated_prefix: "\u{0}",
    }
}

/// Prices from `prices`, GST and QST, SKUs starting with `ZER` zero-rated.
pub fn quebec<F: Fn(&Sku) -> Option<Cents>>(prices: F) -> Catalog<F> {
    Catalog {
        prices,
        rates: vec![(TaxCode::Gst, Rate(5_000)), (TaxCode::Qst, Rate(9_975))],
        zero_rated_prefix: "ZER",
    }
}

impl<F: Fn(&Sku) -> Option<Cents>> PriceLookup for Catalog<F> {
    fn price(&self, sku: &Sku) -> Option<Cents> {
        (self.prices)(sku)
    }

    fn tax_class(&self, sku: &Sku) -> Option<TaxClass> {
        (self.prices)(sku).map(|_| {
            if sku.as_str().starts_with(self.zero_rated_prefix) {
                TaxClass::ZeroRated
            } else {
                TaxClass::Taxable
            }
        })
    }

    fn tax_rates(&self, _store: StoreId, _at: Timestamp) -> Vec<(TaxCode, Rate)> {
        self.rates.clone()
    }

    fn till_rules(&self, _store: StoreId) -> TillRules {
        TillRules {
            tills: 2,
            approval_percent: 20,
        }
    }
}
