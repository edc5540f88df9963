//! Read copy of the chain's reference data (products, stores) with its search index.
//!
//! The catalog changes rarely and is read on every sale and search, so it is an immutable
//! index swapped whole (`ArcSwap`) when a batch of chain events commits: readers never wait
//! and never see half a batch.

use arc_swap::ArcSwap;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::domain::{
    Cents, ChainEvent, ChainState, Ean13, Jurisdiction, PriceLookup, Product, Rate, Sku, Store,
    StoreId, TaxClass, TaxCode, TillRules, Timestamp,
};

/// Lowercase, accents folded (`Érable` → `erable`): what users type on a till keyboard.
pub fn fold(text: &str) -> String {
    deunicode::deunicode(text).to_lowercase()
}

#[derive(Debug, Clone)]
struct Indexed {
    product: Product,
    /// Folded "sku ean13 name category", searched by substring.
    haystack: String,
    folded_category: String,
}

#[derive(Debug, Default, Clone)]
pub struct CatalogIndex {
    products: BTreeMap<Sku, Indexed>,
    by_barcode: HashMap<Ean13, Sku>,
    stores: BTreeMap<StoreId, Store>,
    jurisdictions: BTreeMap<String, Jurisdiction>,
}

impl CatalogIndex {
    fn add(&mut self, event: &ChainEvent) {
        match event {
            // A change keeps the SKU and the barcode: the entry is replaced whole.
            ChainEvent::ProductAdded(product) | ChainEvent::ProductChanged(product) => {
                let haystack = fold(&format!(
                    "{} {} {} {}",
                    product.sku, product.ean13, product.name, product.category
                ));
                self.by_barcode
                    .insert(product.ean13.clone(), product.sku.clone());
                self.products.insert(
                    product.sku.clone(),
                    Indexed {
                        folded_category: fold(&product.category),
                        product: product.clone(),
                        haystack,
                    },
                );
            }
            ChainEvent::StoreOpened(store) | ChainEvent::StoreChanged(store) => {
                self.stores.insert(store.id, store.clone());
            }
            ChainEvent::JurisdictionSet(jurisdiction) => {
                self.jurisdictions
                    .insert(jurisdiction.code.clone(), jurisdiction.clone());
            }
            // Users have their own read model (`UsersView`).
            ChainEvent::UserCreated(_)
            | ChainEvent::UserDeactivated(_)
            | ChainEvent::UserChanged(_)
            | ChainEvent::UserRecorded(_)
            | ChainEvent::WebhookRegistered(_)
            | ChainEvent::WebhookRemoved(_)
            | ChainEvent::Purchasing(_) => {}
        }
    }
}

/// What a product search asks for.
#[derive(Debug, Default, Clone)]
pub struct ProductQuery {
    /// Words that must all appear in the SKU, barcode, name or category (any order, any
    /// case, accents ignored); a 13-digit barcode matches that product only.
    pub text: Option<String>,
    pub category: Option<String>,
}

#[derive(Default)]
pub struct CatalogView {
    index: ArcSwap<CatalogIndex>,
}

impl CatalogView {
    /// Replaces the whole view with `state` (at start-up, after recovery).
    pub fn load(&self, state: &ChainState) {
        let mut index = CatalogIndex::default();
        for product in state.products() {
            index.add(&ChainEvent::ProductAdded(product.clone()));
        }
        for store in state.stores() {
            index.add(&ChainEvent::StoreOpened(store.clone()));
        }
        for jurisdiction in state.jurisdictions() {
            index.add(&ChainEvent::JurisdictionSet(jurisdiction.clone()));
        }
        self.index.store(Arc::new(index));
    }

    /// Applies committed chain events, all at once.
    pub fn apply(&self, events: &[&ChainEvent]) {
        if events.is_empty() {
            return;
        }
        let mut index = CatalogIndex::clone(&self.index.load());
        for event in events {
            index.add(event);
        }
        self.index.store(Arc::new(index));
    }

    /// The SKUs of `skus` that are not in the catalog, in their order.
    pub fn unknown<'a>(&self, skus: impl IntoIterator<Item = &'a Sku>) -> Vec<&'a Sku> {
        skus.into_iter()
            .filter(|sku| self.product(sku).is_none())
            .collect()
    }

    pub fn product(&self, sku: &Sku) -> Option<Product> {
        self.index
            .load()
            .products
            .get(sku)
            .map(|i| i.product.clone())
    }

    pub fn store(&self, id: StoreId) -> Option<Store> {
        self.index.load().stores.get(&id).cloned()
    }

    pub fn jurisdictions(&self) -> Vec<Jurisdiction> {
        self.index.load().jurisdictions.values().cloned().collect()
    }

    pub fn jurisdiction(&self, code: &str) -> Option<Jurisdiction> {
        self.index.load().jurisdictions.get(code).cloned()
    }

    pub fn stores(&self) -> Vec<Store> {
        self.index.load().stores.values().cloned().collect()
    }

    pub fn product_count(&self) -> usize {
        self.index.load().products.len()
    }

    /// Products matching `query`, ordered by SKU.
    pub fn search(&self, query: &ProductQuery) -> Vec<Product> {
        let index = self.index.load();
        let text = query
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        if let Some(code) = text.filter(|t| Ean13::looks_like(t)) {
            let hit = Ean13::parse(code)
                .ok()
                .and_then(|ean| index.by_barcode.get(&ean))
                .and_then(|sku| index.products.get(sku));
            return hit.map(|i| i.product.clone()).into_iter().collect();
        }
        let words: Vec<String> = text
            .map(|t| fold(t).split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let category = query.category.as_deref().map(fold);
        index
            .products
            .values()
            .filter(|i| category.as_ref().is_none_or(|c| i.folded_category == *c))
            .filter(|i| words.iter().all(|w| i.haystack.contains(w.as_str())))
            .map(|i| i.product.clone())
            .collect()
    }
}

impl PriceLookup for CatalogView {
    fn price(&self, sku: &Sku) -> Option<Cents> {
        self.index.load().products.get(sku).map(|i| i.product.price)
    }

    fn tax_class(&self, sku: &Sku) -> Option<TaxClass> {
        self.index
            .load()
            .products
            .get(sku)
            .map(|i| i.product.tax_class)
    }

    fn tax_rates(&self, store: StoreId, at: Timestamp) -> Vec<(TaxCode, Rate)> {
        let index = self.index.load();
        index
            .stores
            .get(&store)
            .and_then(|s| index.jurisdictions.get(&s.jurisdiction))
            .map(|j| j.rates_at(at.0))
            .unwrap_or_default()
    }

    /// An unknown store has no till.
    fn till_rules(&self, store: StoreId) -> TillRules {
        self.index.load().stores.get(&store).map_or(
            TillRules {
                tills: 0,
                approval_percent: 0,
            },
            Store::till_rules,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    fn product(sku: &str, ean: &str, name: &str, category: &str) -> ChainEvent {
        ChainEvent::ProductAdded(Product {
            sku: Sku::parse(sku).expect("test sku"),
            ean13: Ean13::parse(ean).expect("test ean"),
            name: name.into(),
            category: category.into(),
            price: Cents(999),
            tax_class: TaxClass::Taxable,
        })
    }

    fn view() -> CatalogView {
        let view = CatalogView::default();
        let events = [
            product(
                "EPI-0001",
                "4006381333931",
                "Sirop d'érable pur 540 ml",
                "Épicerie",
            ),
            product(
                "LAI-0001",
                "0627000000009",
                "Lait 2 % 2 L",
                "Produits laitiers",
            ),
            ChainEvent::StoreOpened(Store {
                id: StoreId::new(1).expect("valid id"),
                code: "MTL".into(),
                name: "Montréal".into(),
                city: "Montréal".into(),
                opened_at: Timestamp(0),
                address: "1 rue".into(),
                jurisdiction: "QC".into(),
                time_zone: "America/Toronto".into(),
                registrations: Vec::new(),
                tills: 2,
                approval_percent: 20,
            }),
        ];
        view.apply(&events.iter().collect::<Vec<_>>());
        view
    }

    fn skus(found: Vec<Product>) -> Vec<String> {
        found.into_iter().map(|p| p.sku.to_string()).collect()
    }

    #[test]
    fn search_ignores_case_and_accents_and_needs_every_word() {
        let view = view();
        let q = |t: &str| ProductQuery {
            text: Some(t.into()),
            category: None,
        };
        assert_eq!(skus(view.search(&q("ERABLE sirop"))), vec!["EPI-0001"]);
        assert_eq!(skus(view.search(&q("sirop lait"))), Vec::<String>::new());
        assert_eq!(skus(view.search(&q("lai-0001"))), vec!["LAI-0001"]);
        assert_eq!(skus(view.search(&q("0627000000009"))), vec!["LAI-0001"]);
        let by_category = ProductQuery {
            text: None,
            category: Some("epicerie".into()),
        };
        assert_eq!(skus(view.search(&by_category)), vec!["EPI-0001"]);
        assert_eq!(view.stores().len(), 1);
    }
}
