//! The consolidated reports and the dashboard, assembled from the parts every instance
//! gives for the stores and products it owns (`cluster::fanout` gathers them): the sums,
//! the rankings, the stock values and alerts. Pure functions over the parts and the
//! catalog; the HTTP layer asks for them and serializes what they return.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use super::{CatalogView, CentralLine, CentralView, RestockView, SalesPart, StockView};
use crate::domain::{
    Cents, Figures, HOUR_MS, ProductFigures, Sku, StockLine, StoreId, Timestamp, to_cents,
};

/// A part's list of `(key, value)`, as JSON carries a map with non-string keys.
pub type Pairs<K, V> = Vec<(K, V)>;

/// Whether a chain-wide answer is whole; `missing_stores` are in the scope asked but held
/// by an instance that did not answer in time.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Coverage {
    pub partial: bool,
    pub missing_stores: Vec<u32>,
    pub missing_instances: Vec<String>,
}

impl Coverage {
    /// Adds what another read of the same answer missed.
    pub fn add(&mut self, other: Coverage) {
        self.partial |= other.partial;
        for id in other.missing_stores {
            if !self.missing_stores.contains(&id) {
                self.missing_stores.push(id);
            }
        }
        for name in other.missing_instances {
            if !self.missing_instances.contains(&name) {
                self.missing_instances.push(name);
            }
        }
    }
}

/// Every instance's sales part, added up.
#[derive(Default)]
pub struct SalesSum {
    pub stores: HashMap<StoreId, Figures>,
    pub products: HashMap<Sku, ProductFigures>,
    pub hourly: Vec<Figures>,
}

impl SalesSum {
    pub fn of(parts: Vec<SalesPart>) -> Self {
        let mut sum = SalesSum::default();
        for part in parts {
            sum.stores.extend(part.stores);
            for (sku, f) in part.products {
                let entry = sum.products.entry(sku).or_default();
                entry.units += f.units;
                entry.revenue += f.revenue;
            }
            if sum.hourly.len() < part.hourly.len() {
                sum.hourly.resize(part.hourly.len(), Figures::default());
            }
            for (slot, f) in sum.hourly.iter_mut().zip(part.hourly) {
                *slot += f;
            }
        }
        sum
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FiguresBody {
    sales_count: u64,
    units: u64,
    revenue_cents: i64,
    returns_count: u64,
    returned_units: u64,
    refunds_cents: i64,
    net_revenue_cents: i64,
    average_basket_cents: i64,
}

impl From<Figures> for FiguresBody {
    fn from(f: Figures) -> Self {
        Self {
            sales_count: f.sales,
            units: f.units,
            revenue_cents: f.revenue,
            returns_count: f.returns,
            returned_units: f.returned_units,
            refunds_cents: f.refunds,
            net_revenue_cents: f.net_revenue(),
            average_basket_cents: f.average_basket(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StoreFigures {
    store_id: u32,
    store_code: String,
    #[serde(flatten)]
    figures: FiguresBody,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SalesReport {
    from: String,
    to: String,
    stores: Vec<StoreFigures>,
    totals: FiguresBody,
    #[serde(flatten)]
    coverage: Coverage,
}

impl super::till::CsvRows for SalesReport {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "store_id",
            "store_code",
            "sales_count",
            "units",
            "revenue_cents",
            "returns_count",
            "refunds_cents",
            "net_revenue_cents",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.stores
            .iter()
            .map(|s| {
                let f = &s.figures;
                vec![
                    s.store_id.to_string(),
                    s.store_code.clone(),
                    f.sales_count.to_string(),
                    f.units.to_string(),
                    f.revenue_cents.to_string(),
                    f.returns_count.to_string(),
                    f.refunds_cents.to_string(),
                    f.net_revenue_cents.to_string(),
                ]
            })
            .collect()
    }
}

fn code_of(catalog: &CatalogView, id: StoreId) -> String {
    catalog.store(id).map(|s| s.code).unwrap_or_default()
}

fn name_of(catalog: &CatalogView, sku: &Sku) -> String {
    catalog.product(sku).map(|p| p.name).unwrap_or_default()
}

/// Per store: sales, units, revenue, returns, net revenue, average basket; the totals of
/// the stores of `stores` that have figures, in that order.
pub fn sales_report(
    catalog: &CatalogView,
    stores: Vec<StoreId>,
    (from, to): (Timestamp, Timestamp),
    sales: SalesSum,
    coverage: Coverage,
) -> SalesReport {
    let mut totals = Figures::default();
    let per_store = stores
        .into_iter()
        .filter_map(|id| {
            let figures = *sales.stores.get(&id)?;
            totals += figures;
            Some(StoreFigures {
                store_id: id.get(),
                store_code: code_of(catalog, id),
                figures: figures.into(),
            })
        })
        .collect();
    SalesReport {
        from: from.rfc3339(),
        to: to.rfc3339(),
        stores: per_store,
        totals: totals.into(),
        coverage,
    }
}

/// What best sellers are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankBy {
    Units,
    Revenue,
}

impl RankBy {
    /// `units` (the default) or `revenue`; `None` for anything else.
    pub fn parse(raw: Option<&str>) -> Option<Self> {
        match raw {
            None | Some("units") => Some(RankBy::Units),
            Some("revenue") => Some(RankBy::Revenue),
            Some(_) => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            RankBy::Units => "units",
            RankBy::Revenue => "revenue",
        }
    }
}

/// How many best sellers a report may list.
pub const TOP_LIMITS: std::ops::RangeInclusive<usize> = 1..=100;

#[derive(Serialize, utoipa::ToSchema)]
pub struct TopProduct {
    sku: String,
    name: String,
    units: u64,
    revenue_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TopProducts {
    from: String,
    to: String,
    by: &'static str,
    items: Vec<TopProduct>,
    #[serde(flatten)]
    coverage: Coverage,
}

/// The `limit` best sellers by `by`, ties by SKU.
pub fn rank(
    catalog: &CatalogView,
    sold: HashMap<Sku, ProductFigures>,
    by: RankBy,
    limit: usize,
) -> Vec<TopProduct> {
    let mut products: Vec<_> = sold.into_iter().collect();
    let key = |f: &ProductFigures| match by {
        RankBy::Revenue => f.revenue,
        RankBy::Units => i64::try_from(f.units).unwrap_or(i64::MAX),
    };
    products.sort_by(|(a_sku, a), (b_sku, b)| key(b).cmp(&key(a)).then_with(|| a_sku.cmp(b_sku)));
    products
        .into_iter()
        .take(limit)
        .map(|(sku, f)| TopProduct {
            name: name_of(catalog, &sku),
            sku: sku.to_string(),
            units: f.units,
            revenue_cents: f.revenue,
        })
        .collect()
}

/// Best sellers by units or revenue (gross sales) over a period.
pub fn top_products(
    catalog: &CatalogView,
    (from, to): (Timestamp, Timestamp),
    sales: SalesSum,
    (by, limit): (RankBy, usize),
    coverage: Coverage,
) -> TopProducts {
    TopProducts {
        from: from.rfc3339(),
        to: to.rfc3339(),
        by: by.name(),
        items: rank(catalog, sales.products, by, limit),
        coverage,
    }
}

/// One store's stock, as its owner computes it.
#[derive(Serialize, Deserialize)]
pub struct StoreStockPart {
    store: StoreId,
    units: u64,
    value_cents: i64,
    /// At each product's average cost; 0 when the question gave no cost.
    #[serde(default)]
    value_at_cost_cents: i64,
    in_transit_units: u64,
    low: Pairs<Sku, StockLine>,
    pending_restocks: usize,
}

/// One instance's part of a stock report: its stores; with the central stock, its
/// products' central lines and what its stores have on the road.
#[derive(Default, Serialize, Deserialize)]
pub struct StockPart {
    stores: Vec<StoreStockPart>,
    pub central: Pairs<Sku, CentralLine>,
    pub in_transit: Pairs<Sku, u32>,
}

/// The read models a stock part is computed from.
pub struct StockSources<'a> {
    pub catalog: &'a CatalogView,
    pub stock: &'a StockView,
    pub restocks: &'a RestockView,
    pub central: &'a CentralView,
    /// Each product's average cost, scaled by `COST_SCALE` (a product missing: no cost).
    pub costs: &'a HashMap<Sku, i64>,
}

impl StockSources<'_> {
    /// The part of `stores` (this instance's); with `central`, the central lines of the
    /// products `owns` says are this instance's.
    pub fn part(
        &self,
        stores: Vec<StoreId>,
        central: bool,
        owns: impl Fn(&Sku) -> bool,
    ) -> StockPart {
        let products = if stores.is_empty() {
            Vec::new()
        } else {
            self.catalog.search(&Default::default())
        };
        let stores = stores
            .into_iter()
            .map(|id| {
                let mut at_cost: i128 = 0;
                let mut part = StoreStockPart {
                    store: id,
                    units: 0,
                    value_cents: 0,
                    value_at_cost_cents: 0,
                    in_transit_units: self
                        .restocks
                        .in_transit(Some(id))
                        .values()
                        .map(|u| u64::from(*u))
                        .sum(),
                    low: Vec::new(),
                    pending_restocks: self
                        .restocks
                        .list(Some(id), None)
                        .iter()
                        .filter(|r| r.status.is_open())
                        .count(),
                };
                for product in &products {
                    let line = self.stock.line(id, &product.sku);
                    part.units += u64::from(line.on_hand);
                    part.value_cents += (product.price * line.on_hand).0;
                    let cost = self.costs.get(&product.sku).copied().unwrap_or(0);
                    at_cost += i128::from(line.on_hand) * i128::from(cost);
                    if line.is_low() {
                        part.low.push((product.sku.clone(), line));
                    }
                }
                part.value_at_cost_cents = to_cents(at_cost).0;
                part
            })
            .collect();
        let (central, in_transit) = if central {
            (
                self.central
                    .lines()
                    .into_iter()
                    .filter(|(sku, _)| owns(sku))
                    .collect(),
                self.restocks.in_transit(None).into_iter().collect(),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        StockPart {
            stores,
            central,
            in_transit,
        }
    }
}

/// The logistics center's stock of each product, and its units on the road to stores,
/// added up over every instance's part.
#[derive(Default)]
pub struct CentralTotals {
    pub on_hand: HashMap<Sku, u64>,
    pub allocated: HashMap<Sku, u64>,
    pub in_transit: HashMap<Sku, u64>,
    pub missing: HashMap<Sku, u64>,
    pub lost: HashMap<Sku, u64>,
    /// Weighted average cost of one unit, scaled by `COST_SCALE` (held by one part).
    pub average: HashMap<Sku, i64>,
    pub written_off: HashMap<Sku, u64>,
}

impl CentralTotals {
    /// Every part's central lines and units on the road, added up.
    pub fn of(parts: &[StockPart]) -> Self {
        let mut totals = CentralTotals::default();
        for part in parts {
            totals.add(part);
        }
        totals
    }

    /// A product's units `(on hand, allocated, in transit)`, each at most `u32::MAX`.
    pub fn units(&self, sku: &Sku) -> (u32, u32, u32) {
        let of = |map: &HashMap<Sku, u64>| {
            map.get(sku)
                .map_or(0, |u| u32::try_from(*u).unwrap_or(u32::MAX))
        };
        (of(&self.on_hand), of(&self.allocated), of(&self.in_transit))
    }

    /// A product's units `(missing, lost)`: missing at receipts and not yet settled, and
    /// lost in transit.
    pub fn discrepancies(&self, sku: &Sku) -> (u32, u32) {
        let of = |map: &HashMap<Sku, u64>| {
            map.get(sku)
                .map_or(0, |u| u32::try_from(*u).unwrap_or(u32::MAX))
        };
        (of(&self.missing), of(&self.lost))
    }

    /// A product's units written off on arrival from suppliers.
    pub fn written_off(&self, sku: &Sku) -> u32 {
        self.written_off
            .get(sku)
            .map_or(0, |u| u32::try_from(*u).unwrap_or(u32::MAX))
    }

    /// A product's central units in the warehouse (available and allocated) at cost and
    /// at `price`, in cents: `(average cost of one unit, value at cost, value at retail)`.
    pub fn valued(&self, sku: &Sku, price: Cents) -> (Cents, Cents, Cents) {
        let (on_hand, allocated, _) = self.units(sku);
        let physical = u64::from(on_hand) + u64::from(allocated);
        let average = self.average.get(sku).copied().unwrap_or(0);
        let at_cost = to_cents(i128::from(physical) * i128::from(average));
        let at_retail = Cents(
            price
                .0
                .saturating_mul(i64::try_from(physical).unwrap_or(i64::MAX)),
        );
        (to_cents(average.into()), at_cost, at_retail)
    }

    pub fn add(&mut self, part: &StockPart) {
        for (sku, line) in &part.central {
            *self.on_hand.entry(sku.clone()).or_default() += u64::from(line.on_hand);
            *self.allocated.entry(sku.clone()).or_default() += u64::from(line.allocated);
            *self.missing.entry(sku.clone()).or_default() += u64::from(line.missing);
            *self.lost.entry(sku.clone()).or_default() += u64::from(line.lost);
            *self.written_off.entry(sku.clone()).or_default() += u64::from(line.written_off);
            self.average.insert(sku.clone(), line.average);
        }
        for (sku, units) in &part.in_transit {
            *self.in_transit.entry(sku.clone()).or_default() += u64::from(*units);
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LowLine {
    sku: String,
    name: String,
    on_hand: u32,
    reorder_point: u32,
    target_level: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StoreStock {
    store_id: u32,
    store_code: String,
    units: u64,
    /// On-hand units at retail price.
    stock_value_cents: i64,
    /// The same units at each product's weighted average cost at the logistics center.
    value_at_cost_cents: i64,
    in_transit_units: u64,
    low_stock: Vec<LowLine>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CentralStock {
    units: u64,
    allocated_units: u64,
    /// Available units at retail price.
    stock_value_cents: i64,
    /// Units in the warehouse (available and allocated) at weighted average cost.
    value_at_cost_cents: i64,
    /// The same units at retail price.
    value_at_retail_cents: i64,
    in_transit_units: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StockReport {
    stores: Vec<StoreStock>,
    central: Option<CentralStock>,
    #[serde(flatten)]
    coverage: Coverage,
}

/// Each product's average cost from the central parts, for [`StockSources::costs`].
pub fn average_costs(parts: &[StockPart]) -> Pairs<Sku, i64> {
    parts
        .iter()
        .flat_map(|p| {
            p.central
                .iter()
                .map(|(sku, line)| (sku.clone(), line.average))
        })
        .collect()
}

/// Every central product's `(average cost, value at cost, value at retail)`.
fn valued<'a>(
    catalog: &'a CatalogView,
    totals: &'a CentralTotals,
) -> impl Iterator<Item = (Cents, Cents, Cents)> + 'a {
    totals.on_hand.keys().map(|sku| {
        let price = catalog.product(sku).map_or(Cents(0), |p| p.price);
        totals.valued(sku, price)
    })
}

/// Stock value and low lines per store of `stores`; with `with_central`, the logistics
/// center's stock valued at retail and what is on the road.
pub fn stock_report(
    catalog: &CatalogView,
    stores: Vec<StoreId>,
    parts: Vec<StockPart>,
    with_central: bool,
    coverage: Coverage,
) -> StockReport {
    let mut by_store: HashMap<StoreId, StoreStockPart> = HashMap::new();
    let mut totals = CentralTotals::default();
    for part in parts {
        totals.add(&part);
        by_store.extend(part.stores.into_iter().map(|s| (s.store, s)));
    }
    let central = with_central.then(|| CentralStock {
        units: totals.on_hand.values().sum(),
        allocated_units: totals.allocated.values().sum(),
        stock_value_cents: totals
            .on_hand
            .iter()
            .map(|(sku, units)| {
                let price = catalog.product(sku).map_or(0, |p| p.price.0);
                price.saturating_mul(i64::try_from(*units).unwrap_or(i64::MAX))
            })
            .sum(),
        value_at_cost_cents: valued(catalog, &totals).map(|(_, cost, _)| cost.0).sum(),
        value_at_retail_cents: valued(catalog, &totals)
            .map(|(_, _, retail)| retail.0)
            .sum(),
        in_transit_units: totals.in_transit.values().sum(),
    });
    let stores = stores
        .into_iter()
        .filter_map(|id| by_store.remove(&id))
        .map(|part| StoreStock {
            store_id: part.store.get(),
            store_code: code_of(catalog, part.store),
            units: part.units,
            stock_value_cents: part.value_cents,
            value_at_cost_cents: part.value_at_cost_cents,
            in_transit_units: part.in_transit_units,
            low_stock: part
                .low
                .into_iter()
                .map(|(sku, line)| LowLine {
                    name: name_of(catalog, &sku),
                    sku: sku.to_string(),
                    on_hand: line.on_hand,
                    reorder_point: line.reorder_point,
                    target_level: line.target_level,
                })
                .collect(),
        })
        .collect();
    StockReport {
        stores,
        central,
        coverage,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HourPoint {
    hour: String,
    sales_count: u64,
    revenue_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StoreToday {
    store_id: u32,
    store_code: String,
    sales_count: u64,
    revenue_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    generated_at: String,
    today_from: String,
    revenue_today_cents: i64,
    sales_today: u64,
    stores: Vec<StoreToday>,
    /// The last 24 hours, oldest first, the current hour last.
    hourly: Vec<HourPoint>,
    top_products_today: Vec<TopProduct>,
    low_stock_count: usize,
    pending_restocks: usize,
    #[serde(flatten)]
    coverage: Coverage,
}

/// When a dashboard is read: now, the start of today in the chain's time zone, and the
/// first of the 24 hours its curve shows (the current hour last).
#[derive(Debug, Clone, Copy)]
pub struct DashboardClock {
    pub now: Timestamp,
    pub today: Timestamp,
}

impl DashboardClock {
    pub fn first_hour(&self) -> i64 {
        self.now.0.div_euclid(HOUR_MS) - 23
    }

    pub fn tomorrow(&self) -> Timestamp {
        Timestamp(self.today.0 + 24 * HOUR_MS)
    }
}

/// Head-office KPIs (or a manager's store): today's sales per store and in total, the last
/// 24 hours, today's five best sellers by revenue, low lines and open restock requests.
pub fn dashboard(
    catalog: &CatalogView,
    stores: &[StoreId],
    clock: DashboardClock,
    (sales, stock): (SalesSum, Vec<StockPart>),
    coverage: Coverage,
) -> Dashboard {
    let mut total = Figures::default();
    let per_store = stores
        .iter()
        .filter_map(|id| {
            let figures = *sales.stores.get(id)?;
            total += figures;
            Some(StoreToday {
                store_id: id.get(),
                store_code: code_of(catalog, *id),
                sales_count: figures.sales,
                revenue_cents: figures.revenue,
            })
        })
        .collect();
    let store_parts = stock.iter().flat_map(|p| &p.stores);
    let (low_stock_count, pending_restocks) = store_parts.fold((0, 0), |(low, pending), s| {
        (low + s.low.len(), pending + s.pending_restocks)
    });
    let first_hour = clock.first_hour();
    Dashboard {
        generated_at: clock.now.rfc3339(),
        today_from: clock.today.rfc3339(),
        revenue_today_cents: total.revenue,
        sales_today: total.sales,
        stores: per_store,
        hourly: sales
            .hourly
            .into_iter()
            .enumerate()
            .map(|(i, f)| HourPoint {
                hour: Timestamp((first_hour + i as i64) * HOUR_MS).rfc3339(),
                sales_count: f.sales,
                revenue_cents: f.revenue,
            })
            .collect(),
        top_products_today: rank(catalog, sales.products, RankBy::Revenue, 5),
        low_stock_count,
        pending_restocks,
        coverage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::parse(s).expect("a SKU")
    }

    fn sold(units: u64, revenue: i64) -> ProductFigures {
        ProductFigures { units, revenue }
    }

    #[test]
    fn best_sellers_rank_by_their_key_and_ties_by_sku() {
        let catalog = CatalogView::default();
        let figures = HashMap::from([
            (sku("BBB-0001"), sold(5, 100)),
            (sku("AAA-0001"), sold(5, 900)),
            (sku("CCC-0001"), sold(9, 50)),
        ]);
        let names = |items: Vec<TopProduct>| items.into_iter().map(|t| t.sku).collect::<Vec<_>>();
        assert_eq!(
            names(rank(&catalog, figures.clone(), RankBy::Units, 10)),
            ["CCC-0001", "AAA-0001", "BBB-0001"]
        );
        assert_eq!(
            names(rank(&catalog, figures.clone(), RankBy::Revenue, 2)),
            ["AAA-0001", "BBB-0001"]
        );
    }

    #[test]
    fn parts_add_up_per_product_and_per_hour() {
        let part = |units, hour_sales| SalesPart {
            stores: Vec::new(),
            products: vec![(sku("AAA-0001"), sold(units, 10 * units as i64))],
            hourly: vec![
                Figures {
                    sales: hour_sales,
                    ..Figures::default()
                };
                2
            ],
        };
        let sum = SalesSum::of(vec![part(2, 1), part(3, 4)]);
        assert_eq!(sum.products[&sku("AAA-0001")], sold(5, 50));
        assert_eq!(
            sum.hourly.iter().map(|f| f.sales).collect::<Vec<_>>(),
            [5, 5]
        );
    }
}
