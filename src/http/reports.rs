//! `/reports/...`: consolidated figures for head office, and a manager's own store. Every
//! figure comes from read models fed by committed events, so it equals what the ledgers say.

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
use crate::domain::{StoreId, Timestamp};
use crate::reports::{Figures, HOUR_MS, hours};

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
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
    store_id: Option<u32>,
}

fn code_of(app: &AppState, id: StoreId) -> String {
    app.catalog.store(id).map(|s| s.code).unwrap_or_default()
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
    let stores = scope(&app, &user, query.store_id)?;
    let (from, to) = period(query.from.as_deref(), query.to.as_deref(), &app.time_zone)?;
    let mut totals = Figures::default();
    let per_store = stores
        .into_iter()
        .map(|id| {
            let figures = app.sales.figures(id, from, to);
            totals += figures;
            StoreFigures {
                store_id: id.get(),
                store_code: code_of(&app, id),
                figures: figures.into(),
            }
        })
        .collect();
    Ok(web::Json(SalesReport {
        from: rfc3339(from),
        to: rfc3339(to),
        stores: per_store,
        totals: totals.into(),
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
}

fn top_products(
    app: &AppState,
    stores: &[StoreId],
    from: Timestamp,
    to: Timestamp,
    by_revenue: bool,
    limit: usize,
) -> Vec<TopProduct> {
    let mut products: Vec<_> = app.sales.products(stores, from, to).into_iter().collect();
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
            name: app
                .catalog
                .product(&sku)
                .map(|p| p.name)
                .unwrap_or_default(),
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
    Ok(web::Json(TopProducts {
        from: rfc3339(from),
        to: rfc3339(to),
        by: if by_revenue { "revenue" } else { "units" },
        items: top_products(&app, &stores, from, to, by_revenue, limit),
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
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StockQuery {
    store_id: Option<u32>,
}

/// Stock value, units, in transit and the low-stock list per store; the logistics center's
/// stock for head office.
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
    let products = app.catalog.search(&Default::default());
    let stores = stores
        .into_iter()
        .map(|id| {
            let in_transit = app.restocks.in_transit(Some(id));
            let mut report = StoreStock {
                store_id: id.get(),
                store_code: code_of(&app, id),
                units: 0,
                stock_value_cents: 0,
                in_transit_units: in_transit.values().map(|u| u64::from(*u)).sum(),
                low_stock: Vec::new(),
            };
            for product in &products {
                let line = app.stock.line(id, &product.sku);
                report.units += u64::from(line.on_hand);
                report.stock_value_cents += (product.price * line.on_hand).0;
                if line.is_low() {
                    report.low_stock.push(LowLine {
                        sku: product.sku.to_string(),
                        name: product.name.clone(),
                        on_hand: line.on_hand,
                        reorder_point: line.reorder_point,
                        target_level: line.target_level,
                    });
                }
            }
            report
        })
        .collect();
    let central = (!user.role.is_store_role()).then(|| {
        let mut central = CentralStock {
            units: 0,
            allocated_units: 0,
            stock_value_cents: 0,
            in_transit_units: app
                .restocks
                .in_transit(None)
                .values()
                .map(|u| u64::from(*u))
                .sum(),
        };
        for product in &products {
            let line = app.central.line(&product.sku);
            central.units += u64::from(line.on_hand);
            central.allocated_units += u64::from(line.allocated);
            central.stock_value_cents += (product.price * line.on_hand).0;
        }
        central
    });
    Ok(web::Json(StockReport { stores, central }))
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
    let current_hour = now.0.div_euclid(HOUR_MS);
    let first_hour = current_hour - 23;
    let mut hourly = vec![Figures::default(); 24];
    let mut per_store = Vec::with_capacity(stores.len());
    let mut total = Figures::default();
    for id in &stores {
        let figures = app.sales.figures(*id, today, tomorrow);
        total += figures;
        per_store.push(StoreToday {
            store_id: id.get(),
            store_code: code_of(&app, *id),
            sales_count: figures.sales,
            revenue_cents: figures.revenue,
        });
        for (slot, figures) in hourly.iter_mut().zip(app.sales.hourly(*id, first_hour, 24)) {
            *slot += figures;
        }
    }
    let products = app.catalog.search(&Default::default());
    let low_stock_count = stores
        .iter()
        .map(|id| {
            products
                .iter()
                .filter(|p| app.stock.line(*id, &p.sku).is_low())
                .count()
        })
        .sum();
    let pending_restocks = stores
        .iter()
        .map(|id| {
            app.restocks
                .list(Some(*id), None)
                .iter()
                .filter(|r| r.status.is_open())
                .count()
        })
        .sum();
    Ok(web::Json(Dashboard {
        generated_at: rfc3339(now),
        today_from: rfc3339(today),
        revenue_today_cents: total.revenue,
        sales_today: total.sales,
        stores: per_store,
        hourly: hourly
            .into_iter()
            .enumerate()
            .map(|(i, f)| HourPoint {
                hour: rfc3339(Timestamp((first_hour + i as i64) * HOUR_MS)),
                sales_count: f.sales,
                revenue_cents: f.revenue,
            })
            .collect(),
        top_products_today: top_products(&app, &stores, today, tomorrow, true, 5),
        low_stock_count,
        pending_restocks,
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
