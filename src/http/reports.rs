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

use super::AppState;
use super::auth::Authenticated;
use super::extract::store_id;
use super::problem::{ApiError, FieldError};
use crate::actors::now;
use crate::auth::{AuthError, Permission, Principal};
use crate::cluster::fanout::{self, Ask, Reach};
use crate::domain::{Sku, StoreId, Timestamp};
use crate::reports::report::{
    self, Coverage, Dashboard, DashboardClock, Pairs, RankBy, SalesReport, SalesSum, StockPart,
    StockReport, StockSources, TOP_LIMITS, TopProducts,
};
use crate::reports::{HOUR_MS, SalesPart, SalesQuestion, hours};

pub(super) fn invalid_scope() -> ApiError {
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

pub(super) fn period(
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
pub(super) fn scope(
    app: &AppState,
    user: &Principal,
    asked: Option<u32>,
) -> Result<Vec<StoreId>, ApiError> {
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

/// Every instance's sales figures for `ask`, added up, and what is missing.
async fn chain_sales(
    app: &AppState,
    ask: SalesAsk,
    reach: Reach,
) -> Result<(SalesSum, Coverage), ApiError> {
    let gathered = fanout::gather_in(app, &ask, reach).await?;
    let coverage = gathered.coverage(&app.cluster, &ask.stores);
    Ok((SalesSum::of(gathered.parts), coverage))
}

/// The sales question of a period.
fn sales_ask(stores: Vec<StoreId>, (from, to): (Timestamp, Timestamp), products: bool) -> SalesAsk {
    let question = SalesQuestion {
        from,
        to,
        products,
        first_hour: None,
    };
    SalesAsk { stores, question }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct PeriodQuery {
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
    pub(super) store_id: Option<u32>,
    /// `chain` (default) or `instance`: only the stores the answering instance owns.
    pub(super) scope: Option<String>,
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
    req: actix_web::HttpRequest,
    query: web::Query<PeriodQuery>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let reach = Reach::parse(query.scope.as_deref()).ok_or_else(invalid_scope)?;
    let mut stores = scope(&app, &user, query.store_id)?;
    if reach == Reach::Instance {
        stores = fanout::owned(&app.cluster, &stores);
    }
    let period = period(query.from.as_deref(), query.to.as_deref(), &app.time_zone)?;
    let ask = sales_ask(stores.clone(), period, false);
    let (sales, coverage) = chain_sales(&app, ask, reach).await?;
    let report = report::sales_report(&app.catalog, stores, period, sales, coverage);
    super::accounting::answer(&req, &report, "ventes")
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

/// `limit` (1 to 100, default 10) and `by` (units or revenue) of a best-sellers query.
fn ranking(query: &TopQuery) -> Result<(RankBy, usize), ApiError> {
    let limit = Some(query.limit.unwrap_or(10)).filter(|l| TOP_LIMITS.contains(l));
    let limit = limit.ok_or_else(|| {
        ApiError::Validation(vec![FieldError {
            field: "limit".into(),
            code: "invalid_limit",
            detail: "limit va de 1 à 100.".into(),
        }])
    })?;
    let by = RankBy::parse(query.by.as_deref()).ok_or_else(|| {
        ApiError::Validation(vec![FieldError {
            field: "by".into(),
            code: "invalid_order",
            detail: "by vaut units ou revenue.".into(),
        }])
    })?;
    Ok((by, limit))
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
    let period = period(query.from.as_deref(), query.to.as_deref(), &app.time_zone)?;
    let ranking = ranking(&query)?;
    let (sales, coverage) =
        chain_sales(&app, sales_ask(stores, period, true), Reach::Chain).await?;
    let report = report::top_products(&app.catalog, period, sales, ranking, coverage);
    Ok(web::Json(report))
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
    /// Each product's average cost (scaled by `COST_SCALE`): the stores' stock is valued
    /// at it. Empty: no value at cost.
    #[serde(default)]
    pub(super) costs: Pairs<Sku, i64>,
}

impl StockAsk {
    /// The central stock of every product, and what every store has on the road.
    pub(super) fn central() -> Self {
        StockAsk {
            stores: Vec::new(),
            central: true,
            costs: Vec::new(),
        }
    }
}

impl Ask<AppState> for StockAsk {
    type Part = StockPart;
    type Error = ApiError;
    const NAME: &'static str = "stock";

    fn local(&self, app: &AppState) -> impl Future<Output = Result<StockPart, ApiError>> {
        let costs = self.costs.iter().cloned().collect();
        let sources = StockSources {
            catalog: &app.catalog,
            stock: &app.stock,
            restocks: &app.restocks,
            central: &app.central,
            costs: &costs,
        };
        let mine = fanout::owned(&app.cluster, &self.stores);
        let me = app.cluster.name();
        let owns = |sku: &_| app.cluster.product_owner(sku) == me;
        std::future::ready(Ok(sources.part(mine, self.central, owns)))
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
    let central = !user.role.is_store_role();
    // The products' average costs first (each held by its product's owner), so that every
    // instance values its stores at cost.
    let costs = fanout::gather(app.get_ref(), &StockAsk::central()).await?;
    let ask = StockAsk {
        stores: stores.clone(),
        central,
        costs: report::average_costs(&costs.parts),
    };
    let gathered = fanout::gather(app.get_ref(), &ask).await?;
    let mut coverage = gathered.coverage(&app.cluster, &stores);
    // Products whose owner did not answer are valued at no cost: the report says so.
    coverage.add(costs.coverage(&app.cluster, &[]));
    let report = report::stock_report(&app.catalog, stores, gathered.parts, central, coverage);
    Ok(web::Json(report))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DashboardQuery {
    store_id: Option<u32>,
}

/// What a dashboard asks every instance: today's sales with the last 24 hours, and the
/// stock of its stores.
fn dashboard_asks(stores: &[StoreId], clock: DashboardClock) -> (SalesAsk, StockAsk) {
    let mut sales = sales_ask(stores.to_vec(), (clock.today, clock.tomorrow()), true);
    sales.question.first_hour = Some(clock.first_hour());
    let stock = StockAsk {
        stores: stores.to_vec(),
        central: false,
        costs: Vec::new(),
    };
    (sales, stock)
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
    let clock = DashboardClock {
        now: now(),
        today: start_of_today(&app.time_zone),
    };
    let (sales_ask, stock_ask) = dashboard_asks(&stores, clock);
    let (sales, stock) = futures_util::join!(
        chain_sales(&app, sales_ask, Reach::Chain),
        fanout::gather(app.get_ref(), &stock_ask)
    );
    let ((sales, mut coverage), stock) = (sales?, stock?);
    coverage.add(stock.coverage(&app.cluster, &stores));
    let (catalog, parts) = (&app.catalog, (sales, stock.parts));
    Ok(web::Json(report::dashboard(
        catalog, &stores, clock, parts, coverage,
    )))
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
