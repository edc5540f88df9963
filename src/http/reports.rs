//! `/reports/...`: consolidated figures for head office, and a manager's own store. Every
//! figure comes from read models fed by committed events, so it equals what the ledgers say.
//!
//! In a cluster each instance holds the figures of its own stores: a report gathers every
//! instance's part ([`SalesAsk`], [`StockAsk`]) and adds them up; an instance that does
//! not answer in time leaves the report partial, its stores named (`missing_stores`).

use std::future::Future;

use actix_web::{get, web};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::auth::Authenticated;
use super::extract::store_id;
use super::problem::{ApiError, FieldError};
use super::{AppState, rfc3339};
use crate::actors::now;
use crate::auth::{AuthError, Permission, Principal};
use crate::cluster::fanout::{self, Ask, Coverage, Pairs, Reach};
use crate::domain::{Sku, StockLine, StoreId, Timestamp};
use crate::reports::{Figures, HOUR_MS, ProductFigures, SalesPart, SalesQuestion, hours};
use std::collections::HashMap;

fn invalid_scope() -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: "scope".into(),
        code: "invalid_scope",
        detail: "scope vaut chain (toute la chaîne) ou instance (cette instance).".into(),
    }])
}

fn invalid(field: &str, detail: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.into(),
        code: "invalid_period",
        detail: detail.into(),
    }])
}

/// `YYYY-MM-DD` (a day in the chain's time zone; as `to`, the whole day is included) or an
/// RFC 3339 instant.
fn bound(field: &str, raw: &str, tz: &TimeZone, end: bool) -> Result<Timestamp, ApiError> {
    let detail = "Une date AAAA-MM-JJ ou un instant RFC 3339 (2026-11-24T14:05:00Z).";
    let instant = if let Ok(date) = raw.parse::<Date>() {
        let day = if end {
            date.tomorrow().map_err(|_| invalid(field, detail))?
        } else {
            date
        };
        day.to_zoned_datetime(tz.clone())
            .map_err(|_| invalid(field, detail))?
            .timestamp()
    } else {
        raw.parse::<jiff::Timestamp>()
            .map_err(|_| invalid(field, detail))?
    };
    Ok(Timestamp(instant.as_millisecond()))
}

/// Start of today in the chain's time zone.
fn start_of_today(tz: &TimeZone) -> Timestamp {
    let today = jiff::Timestamp::from_millisecond(now().0)
        .ok()
        .map(|t| t.to_zoned_datetime(tz.clone()))
        .and_then(|z| z.start_of_day().ok())
        .map_or(now().0, |z| z.timestamp().as_millisecond());
    Timestamp(today)
}

fn period(
    from: Option<&str>,
    to: Option<&str>,
    tz: &TimeZone,
) -> Result<(Timestamp, Timestamp), ApiError> {
    let today = start_of_today(tz);
    let from = from
        .map(|f| bound("from", f, tz, false))
        .transpose()?
        .unwrap_or(today);
    let to = to
        .map(|t| bound("to", t, tz, true))
        .transpose()?
        .unwrap_or(Timestamp(today.0 + 24 * HOUR_MS));
    if from >= to {
        return Err(invalid("to", "La fin de la période doit suivre son début."));
    }
    let aligned = hours(from, to);
    Ok((
        Timestamp(aligned.start * HOUR_MS),
        Timestamp(aligned.end * HOUR_MS),
    ))
}

/// The stores a report covers: the one asked for, else every store for head office and
/// the manager's own store for a manager.
fn scope(app: &AppState, user: &Principal, asked: Option<u32>) -> Result<Vec<StoreId>, ApiError> {
    match asked {
        Some(raw) => {
            let id = store_id(raw)?;
            user.require(Permission::ReadReports, Some(id))?;
            app.catalog.store(id).ok_or(ApiError::StoreNotFound(id))?;
            Ok(vec![id])
        }
        None => {
            user.require(Permission::ReadReports, user.store)?;
            match user.store {
                Some(own) => Ok(vec![own]),
                None if user.role.is_store_role() => Err(AuthError::ForbiddenStore.into()),
                None => Ok(app.catalog.stores().into_iter().map(|s| s.id).collect()),
            }
        }
    }
}

/// Sales figures of the asked stores an instance owns.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct SalesAsk {
    stores: Vec<StoreId>,
    #[serde(flatten)]
    question: SalesQuestion,
}

impl Ask<AppState> for SalesAsk {
    type Part = SalesPart;
    type Error = ApiError;
    const NAME: &'static str = "sales";

    fn local(&self, app: &AppState) -> impl Future<Output = Result<SalesPart, ApiError>> {
        let mine = fanout::owned(&app.cluster, &self.stores);
        let (sales, question) = (app.sales.clone(), self.question.clone());
        async move { Ok(web::block(move || sales.part(&mine, &question)).await??) }
    }
}

/// Every instance's sales part, added up.
struct ChainSales {
    stores: HashMap<StoreId, Figures>,
    products: HashMap<Sku, ProductFigures>,
    hourly: Vec<Figures>,
    coverage: Coverage,
}

async fn chain_sales(app: &AppState, ask: SalesAsk, reach: Reach) -> Result<ChainSales, ApiError> {
    let gathered = fanout::gather_in(app, &ask, reach).await?;
    let coverage = gathered.coverage(&app.cluster, &ask.stores);
    let mut sum = ChainSales {
        stores: HashMap::new(),
        products: HashMap::new(),
        hourly: Vec::new(),
        coverage,
    };
    for part in gathered.parts {
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
    Ok(sum)
}

#[derive(Serialize, utoipa::ToSchema)]
struct FiguresBody {
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
struct StoreFigures {
    store_id: u32,
    store_code: String,
    #[serde(flatten)]
    figures: FiguresBody,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SalesReport {
    from: String,
    to: String,
    stores: Vec<StoreFigures>,
    totals: FiguresBody,
    #[serde(flatten)]
    coverage: Coverage,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
    store_id: Option<u32>,
    /// `chain` (default) or `instance`: only the stores the answering instance owns.
    scope: Option<String>,
}

fn code_of(app: &AppState, id: StoreId) -> String {
    app.catalog.store(id).map(|s| s.code).unwrap_or_default()
}

fn name_of(app: &AppState, sku: &Sku) -> String {
    app.catalog.product(sku).map(|p| p.name).unwrap_or_default()
}

/// Per store: sales, units, revenue, returns, net revenue, average basket; chain totals.
#[utoipa::path(
    tag = "rapports",
    responses((status = 200, description = "Ventes par magasin et totaux", body = SalesReport))
)]
#[get("/reports/sales")]
async fn sales_report(
    app: web::Data<AppState>,
    user: Authenticated,
    query: web::Query<PeriodQuery>,
) -> Result<web::Json<SalesReport>, ApiError> {
    let reach = Reach::parse(query.scope.as_deref()).ok_or_else(invalid_scope)?;
    let mut stores = scope(&app, &user, query.store_id)?;
    if reach == Reach::Instance {
        stores = fanout::owned(&app.cluster, &stores);
    }
    let (from, to) = period(query.from.as_deref(), query.to.as_deref(), &app.time_zone)?;
    let ask = SalesAsk {
        stores: stores.clone(),
        question: SalesQuestion {
            from,
            to,
            products: false,
            first_hour: None,
        },
    };
    let sales = chain_sales(&app, ask, reach).await?;
    let mut totals = Figures::default();
    let per_store = stores
        .into_iter()
        .filter_map(|id| {
            let figures = *sales.stores.get(&id)?;
            totals += figures;
            Some(StoreFigures {
                store_id: id.get(),
                store_code: code_of(&app, id),
                figures: figures.into(),
            })
        })
        .collect();
    Ok(web::Json(SalesReport {
        from: rfc3339(from),
        to: rfc3339(to),
        stores: per_store,
        totals: totals.into(),
        coverage: sales.coverage,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TopQuery {
    from: Option<String>,
    to: Option<String>,
    store_id: Option<u32>,
    limit: Option<usize>,
    by: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TopProduct {
    sku: String,
    name: String,
    units: u64,
    revenue_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TopProducts {
    from: String,
    to: String,
    by: &'static str,
    items: Vec<TopProduct>,
    #[serde(flatten)]
    coverage: Coverage,
}

fn top_products(
    app: &AppState,
    sold: HashMap<Sku, ProductFigures>,
    by_revenue: bool,
    limit: usize,
) -> Vec<TopProduct> {
    let mut products: Vec<_> = sold.into_iter().collect();
    products.sort_by(|(a_sku, a), (b_sku, b)| {
        let (a_key, b_key) = if by_revenue {
            (a.revenue, b.revenue)
        } else {
            (a.units as i64, b.units as i64)
        };
        b_key.cmp(&a_key).then_with(|| a_sku.cmp(b_sku))
    });
    products
        .into_iter()
        .take(limit)
        .map(|(sku, f)| TopProduct {
            name: name_of(app, &sku),
            sku: sku.to_string(),
            units: f.units,
            revenue_cents: f.revenue,
        })
        .collect()
}

/// Best sellers by units or revenue (gross sales).
#[utoipa::path(
    tag = "rapports",
    responses((status = 200, description = "Meilleurs vendeurs", body = TopProducts))
)]
#[get("/reports/top-products")]
async fn top_products_report(
    app: web::Data<AppState>,
    user: Authenticated,
    query: web::Query<TopQuery>,
) -> Result<web::Json<TopProducts>, ApiError> {
    let stores = scope(&app, &user, query.store_id)?;
    let (from, to) = period(query.from.as_deref(), query.to.as_deref(), &app.time_zone)?;
    let limit = query.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::Validation(vec![FieldError {
            field: "limit".into(),
            code: "invalid_limit",
            detail: "limit va de 1 à 100.".into(),
        }]));
    }
    let by_revenue = match query.by.as_deref() {
        None | Some("units") => false,
        Some("revenue") => true,
        Some(_) => {
            return Err(ApiError::Validation(vec![FieldError {
                field: "by".into(),
                code: "invalid_order",
                detail: "by vaut units ou revenue.".into(),
            }]));
        }
    };
    let ask = SalesAsk {
        stores,
        question: SalesQuestion {
            from,
            to,
            products: true,
            first_hour: None,
        },
    };
    let sales = chain_sales(&app, ask, Reach::Chain).await?;
    Ok(web::Json(TopProducts {
        from: rfc3339(from),
        to: rfc3339(to),
        by: if by_revenue { "revenue" } else { "units" },
        items: top_products(&app, sales.products, by_revenue, limit),
        coverage: sales.coverage,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct LowLine {
    sku: String,
    name: String,
    on_hand: u32,
    reorder_point: u32,
    target_level: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
struct StoreStock {
    store_id: u32,
    store_code: String,
    units: u64,
    stock_value_cents: i64,
    in_transit_units: u64,
    low_stock: Vec<LowLine>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct CentralStock {
    units: u64,
    allocated_units: u64,
    stock_value_cents: i64,
    in_transit_units: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct StockReport {
    stores: Vec<StoreStock>,
    central: Option<CentralStock>,
    #[serde(flatten)]
    coverage: Coverage,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StockQuery {
    store_id: Option<u32>,
}

/// Stock of the asked stores an instance owns; with `central`, its products' central
/// stock and what its stores have on the road.
#[derive(Serialize, Deserialize)]
pub(super) struct StockAsk {
    pub(super) stores: Vec<StoreId>,
    pub(super) central: bool,
}

#[derive(Serialize, Deserialize)]
pub(super) struct StoreStockPart {
    store: StoreId,
    units: u64,
    value_cents: i64,
    in_transit_units: u64,
    low: Pairs<Sku, StockLine>,
    pending_restocks: usize,
}

#[derive(Default, Serialize, Deserialize)]
pub(super) struct StockPart {
    stores: Vec<StoreStockPart>,
    pub(super) central: Pairs<Sku, crate::reports::CentralLine>,
    pub(super) in_transit: Pairs<Sku, u32>,
}

/// The logistics center's stock of each product, and its units on the road to stores,
/// added up over every instance's part.
#[derive(Default)]
pub(super) struct CentralTotals {
    pub(super) on_hand: HashMap<Sku, u64>,
    pub(super) allocated: HashMap<Sku, u64>,
    pub(super) in_transit: HashMap<Sku, u64>,
}

impl CentralTotals {
    pub(super) fn add(&mut self, part: &StockPart) {
        for (sku, line) in &part.central {
            *self.on_hand.entry(sku.clone()).or_default() += u64::from(line.on_hand);
            *self.allocated.entry(sku.clone()).or_default() += u64::from(line.allocated);
        }
        for (sku, units) in &part.in_transit {
            *self.in_transit.entry(sku.clone()).or_default() += u64::from(*units);
        }
    }
}

impl Ask<AppState> for StockAsk {
    type Part = StockPart;
    type Error = ApiError;
    const NAME: &'static str = "stock";

    fn local(&self, app: &AppState) -> impl Future<Output = Result<StockPart, ApiError>> {
        let mine = fanout::owned(&app.cluster, &self.stores);
        let products = if mine.is_empty() {
            Vec::new()
        } else {
            app.catalog.search(&Default::default())
        };
        let stores = mine
            .into_iter()
            .map(|id| {
                let mut part = StoreStockPart {
                    store: id,
                    units: 0,
                    value_cents: 0,
                    in_transit_units: app
                        .restocks
                        .in_transit(Some(id))
                        .values()
                        .map(|u| u64::from(*u))
                        .sum(),
                    low: Vec::new(),
                    pending_restocks: app
                        .restocks
                        .list(Some(id), None)
                        .iter()
                        .filter(|r| r.status.is_open())
                        .count(),
                };
                for product in &products {
                    let line = app.stock.line(id, &product.sku);
                    part.units += u64::from(line.on_hand);
                    part.value_cents += (product.price * line.on_hand).0;
                    if line.is_low() {
                        part.low.push((product.sku.clone(), line));
                    }
                }
                part
            })
            .collect();
        let (central, in_transit) = if self.central {
            let me = app.cluster.name();
            (
                app.central
                    .lines()
                    .into_iter()
                    .filter(|(sku, _)| app.cluster.product_owner(sku) == me)
                    .collect(),
                app.restocks.in_transit(None).into_iter().collect(),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        std::future::ready(Ok(StockPart {
            stores,
            central,
            in_transit,
        }))
    }
}

#[utoipa::path(
    tag = "rapports",
    responses((status = 200, description = "Valeur du stock et ruptures", body = StockReport))
)]
#[get("/reports/stock")]
async fn stock_report(
    app: web::Data<AppState>,
    user: Authenticated,
    query: web::Query<StockQuery>,
) -> Result<web::Json<StockReport>, ApiError> {
    let stores = scope(&app, &user, query.store_id)?;
    let with_central = !user.role.is_store_role();
    let ask = StockAsk {
        stores: stores.clone(),
        central: with_central,
    };
    let gathered = fanout::gather(app.get_ref(), &ask).await?;
    let coverage = gathered.coverage(&app.cluster, &stores);
    let mut by_store: HashMap<StoreId, StoreStockPart> = HashMap::new();
    let mut totals = CentralTotals::default();
    for part in gathered.parts {
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
                let price = app.catalog.product(sku).map_or(0, |p| p.price.0);
                price.saturating_mul(i64::try_from(*units).unwrap_or(i64::MAX))
            })
            .sum(),
        in_transit_units: totals.in_transit.values().sum(),
    });
    let stores = stores
        .into_iter()
        .filter_map(|id| by_store.remove(&id))
        .map(|part| StoreStock {
            store_id: part.store.get(),
            store_code: code_of(&app, part.store),
            units: part.units,
            stock_value_cents: part.value_cents,
            in_transit_units: part.in_transit_units,
            low_stock: part
                .low
                .into_iter()
                .map(|(sku, line)| LowLine {
                    name: name_of(&app, &sku),
                    sku: sku.to_string(),
                    on_hand: line.on_hand,
                    reorder_point: line.reorder_point,
                    target_level: line.target_level,
                })
                .collect(),
        })
        .collect();
    Ok(web::Json(StockReport {
        stores,
        central,
        coverage,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct HourPoint {
    hour: String,
    sales_count: u64,
    revenue_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct StoreToday {
    store_id: u32,
    store_code: String,
    sales_count: u64,
    revenue_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Dashboard {
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DashboardQuery {
    store_id: Option<u32>,
}

/// Head-office KPIs (or a manager's store): today, the last 24 hours, alerts.
#[utoipa::path(
    tag = "rapports",
    responses((status = 200, description = "Indicateurs du tableau de bord", body = Dashboard))
)]
#[get("/reports/dashboard")]
async fn dashboard(
    app: web::Data<AppState>,
    user: Authenticated,
    query: web::Query<DashboardQuery>,
) -> Result<web::Json<Dashboard>, ApiError> {
    let stores = scope(&app, &user, query.store_id)?;
    let now = now();
    let today = start_of_today(&app.time_zone);
    let tomorrow = Timestamp(today.0 + 24 * HOUR_MS);
    let first_hour = now.0.div_euclid(HOUR_MS) - 23;
    let sales_ask = SalesAsk {
        stores: stores.clone(),
        question: SalesQuestion {
            from: today,
            to: tomorrow,
            products: true,
            first_hour: Some(first_hour),
        },
    };
    let stock_ask = StockAsk {
        stores: stores.clone(),
        central: false,
    };
    let (sales, stock) = futures_util::join!(
        chain_sales(&app, sales_ask, Reach::Chain),
        fanout::gather(app.get_ref(), &stock_ask)
    );
    let (sales, stock) = (sales?, stock?);
    let mut coverage = sales.coverage;
    coverage.add(stock.coverage(&app.cluster, &stores));
    let mut total = Figures::default();
    let per_store = stores
        .iter()
        .filter_map(|id| {
            let figures = *sales.stores.get(id)?;
            total += figures;
            Some(StoreToday {
                store_id: id.get(),
                store_code: code_of(&app, *id),
                sales_count: figures.sales,
                revenue_cents: figures.revenue,
            })
        })
        .collect();
    let store_parts = stock.parts.iter().flat_map(|p| &p.stores);
    let (low_stock_count, pending_restocks) = store_parts.fold((0, 0), |(low, pending), s| {
        (low + s.low.len(), pending + s.pending_restocks)
    });
    Ok(web::Json(Dashboard {
        generated_at: rfc3339(now),
        today_from: rfc3339(today),
        revenue_today_cents: total.revenue,
        sales_today: total.sales,
        stores: per_store,
        hourly: sales
            .hourly
            .into_iter()
            .enumerate()
            .map(|(i, f)| HourPoint {
                hour: rfc3339(Timestamp((first_hour + i as i64) * HOUR_MS)),
                sales_count: f.sales,
                revenue_cents: f.revenue,
            })
            .collect(),
        top_products_today: top_products(&app, sales.products, true, 5),
        low_stock_count,
        pending_restocks,
        coverage,
    }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(sales_report)
        .service(top_products_report)
        .service(stock_report)
        .service(dashboard);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(sales_report, top_products_report, stock_report, dashboard))]
pub(super) struct Docs;
