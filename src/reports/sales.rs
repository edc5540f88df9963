//! Sales figures per store and per hour, fed by committed sales and returns: the source of
//! the sales report, the top products and the dashboard.
//!
//! Figures are kept in hourly buckets (UTC hours, which are whole hours in every zone the
//! chain works in), so a report over a year adds up at most 8,760 buckets per store and the
//! journal writer that feeds them never waits behind a long read.

use dashmap::DashMap;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::domain::{Return, Sale, SalesHistory, Sku, StoreId, StoreState, Timestamp, hour_of};

pub use crate::domain::{Figures, HOUR_MS, ProductFigures};

#[derive(Debug, Default, Clone)]
struct Hour {
    figures: Figures,
    products: HashMap<Sku, ProductFigures>,
}

/// One store's figures: the sales and returns it holds, per hour, and the history of those
/// it let go, shared with its state rather than copied.
#[derive(Default)]
struct StoreFacts {
    hours: BTreeMap<i64, Hour>,
    history: Arc<SalesHistory>,
}

impl StoreFacts {
    fn record_sale(&mut self, sale: &Sale) {
        let hour = self.hours.entry(hour_of(sale.at)).or_default();
        hour.figures += Figures::of_sale(sale);
        for line in &sale.lines {
            *hour.products.entry(line.sku.clone()).or_default() += ProductFigures::of_line(line);
        }
    }

    fn record_return(&mut self, ret: &Return) {
        self.hours.entry(hour_of(ret.at)).or_default().figures += Figures::of_return(ret);
    }

    /// The days of the history whose first hour is in `hours`: a report that cuts a day of
    /// that past in two counts that day's products whole, or not at all.
    fn history_days(hours: &std::ops::Range<i64>) -> std::ops::Range<i64> {
        let first_day_from = |hour: i64| (hour + 23).div_euclid(24);
        first_day_from(hours.start)..first_day_from(hours.end)
    }
}

#[derive(Default)]
pub struct SalesFacts {
    stores: DashMap<StoreId, StoreFacts>,
}

/// The hours a `[from, to)` period covers: from rounded down, to rounded up.
pub fn hours(from: Timestamp, to: Timestamp) -> std::ops::Range<i64> {
    hour_of(from)..(to.0 + HOUR_MS - 1).div_euclid(HOUR_MS)
}

impl SalesFacts {
    /// Loads a store's recovered sales and returns, and the history of those it let go,
    /// replacing what was known of it (a store actor restarted is loaded again).
    pub fn load(&self, store: StoreId, state: &StoreState) {
        let mut facts = StoreFacts {
            hours: BTreeMap::new(),
            history: Arc::clone(state.history()),
        };
        for sale in state.all_sales() {
            facts.record_sale(sale);
        }
        for ret in state.all_returns() {
            facts.record_return(ret);
        }
        self.stores.insert(store, facts);
    }

    pub fn record_sale(&self, store: StoreId, sale: &Sale) {
        self.stores.entry(store).or_default().record_sale(sale);
    }

    pub fn record_return(&self, store: StoreId, ret: &Return) {
        self.stores.entry(store).or_default().record_return(ret);
    }

    /// A store's figures over the hours of `[from, to)`.
    pub fn figures(&self, store: StoreId, from: Timestamp, to: Timestamp) -> Figures {
        let mut total = Figures::default();
        if let Some(facts) = self.stores.get(&store) {
            let hours = hours(from, to);
            for (_, hour) in facts.hours.range(hours.clone()) {
                total += hour.figures;
            }
            for (_, figures) in facts.history.hours.range(hours) {
                total += *figures;
            }
        }
        total
    }

    /// One store's figures for each of `count` hours starting at `first_hour`.
    pub fn hourly(&self, store: StoreId, first_hour: i64, count: usize) -> Vec<Figures> {
        let mut series = vec![Figures::default(); count];
        if let Some(facts) = self.stores.get(&store) {
            let hours =
                first_hour..first_hour.saturating_add(i64::try_from(count).unwrap_or(i64::MAX));
            let held = facts
                .hours
                .range(hours.clone())
                .map(|(h, b)| (h, &b.figures));
            for (hour, figures) in held.chain(facts.history.hours.range(hours)) {
                if let Some(slot) = usize::try_from(hour - first_hour)
                    .ok()
                    .and_then(|i| series.get_mut(i))
                {
                    *slot += *figures;
                }
            }
        }
        series
    }

    /// Products sold in `stores` over `[from, to)`.
    pub fn products(
        &self,
        stores: &[StoreId],
        from: Timestamp,
        to: Timestamp,
    ) -> HashMap<Sku, ProductFigures> {
        let hours = hours(from, to);
        let mut found: HashMap<Sku, ProductFigures> = HashMap::new();
        for store in stores {
            let Some(facts) = self.stores.get(store) else {
                continue;
            };
            // Borrow the SKUs while the store's facts are held; clone each once at the end.
            let mut in_store: HashMap<&Sku, ProductFigures> = HashMap::new();
            let held = facts.hours.range(hours.clone()).map(|(_, h)| &h.products);
            let let_go = facts
                .history
                .products
                .range(StoreFacts::history_days(&hours))
                .map(|(_, day)| day.iter());
            for (sku, figures) in held.flat_map(|p| p.iter()).chain(let_go.flatten()) {
                *in_store.entry(sku).or_default() += *figures;
            }
            for (sku, figures) in in_store {
                *found.entry(sku.clone()).or_default() += figures;
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Cents, SaleId, SoldLine, Username};

    fn sale(at: i64, qty: u32) -> Sale {
        Sale {
            id: SaleId(1),
            lines: vec![SoldLine {
                sku: Sku::parse("AAA-1").expect("valid sku"),
                quantity: qty,
                unit_price: Cents(250),
                on_hand_after: 0,
            }],
            total: Cents(250 * i64::from(qty)),
            at: Timestamp(at),
            by: Username::parse("caissier1").expect("valid name"),
        }
    }

    #[test]
    fn figures_add_up_by_hour() {
        let facts = SalesFacts::default();
        let store = StoreId::new(1).expect("valid store");
        facts.record_sale(store, &sale(10, 2));
        facts.record_sale(store, &sale(HOUR_MS + 5, 1));
        facts.record_sale(store, &sale(3 * HOUR_MS, 4));
        let first_two = facts.figures(store, Timestamp(0), Timestamp(2 * HOUR_MS));
        assert_eq!(
            (first_two.sales, first_two.units, first_two.revenue),
            (2, 3, 750)
        );
        assert_eq!(first_two.average_basket(), 375);
        let series = facts.hourly(store, 0, 4);
        let sales: Vec<u64> = series.iter().map(|f| f.sales).collect();
        assert_eq!(sales, vec![1, 1, 0, 1]);
        let products = facts.products(&[store], Timestamp(0), Timestamp(4 * HOUR_MS));
        assert_eq!(products.values().map(|p| p.units).sum::<u64>(), 7);
    }

    #[test]
    fn loading_a_store_again_replaces_its_figures() {
        use crate::domain::{SaleRecorded, StoreEvent};
        let mut state = StoreState::default();
        state.apply(&StoreEvent::SaleRecorded(SaleRecorded {
            sale: sale(10, 2),
            key: None,
        }));
        let facts = SalesFacts::default();
        let store = StoreId::new(1).expect("valid store");
        facts.load(store, &state);
        // A store actor restarted after a failed commit is recovered and loaded again.
        facts.load(store, &state);
        let all = facts.figures(store, Timestamp(0), Timestamp(HOUR_MS));
        assert_eq!((all.sales, all.units), (1, 2));
    }
}
