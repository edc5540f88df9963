//! `/reports/taxes`, `/reports/tenders`, `/reports/sessions`: what the tills took in, for
//! accounting (taxes per jurisdiction to remit, tenders per day, sessions' over/short).
//! Like every report, each instance gives the part of the stores it owns ([`TillAsk`]).
//! Every report here, and the sales report, answers CSV to `Accept: text/csv`.

use std::future::Future;

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Authenticated;
use super::problem::ApiError;
use super::reports::{PeriodQuery, invalid_scope, period, scope};
use crate::cluster::fanout::{self, Ask, Reach};
use crate::domain::{StoreId, Timestamp};
use crate::reports::report::Coverage;
use crate::reports::till::{
    self, CsvRows, SessionReport, TaxReport, TenderReport, TillPart, TillSum,
};

/// The till money of the asked stores an instance owns, over a period.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct TillAsk {
    stores: Vec<StoreId>,
    from: Timestamp,
    to: Timestamp,
}

impl Ask<AppState> for TillAsk {
    type Part = TillPart;
    type Error = ApiError;
    const NAME: &'static str = "till";

    fn local(&self, app: &AppState) -> impl Future<Output = Result<TillPart, ApiError>> {
        let mine = fanout::owned(&app.cluster, &self.stores);
        let (sales, (from, to)) = (app.sales.clone(), (self.from, self.to));
        async move { Ok(web::block(move || sales.till_part(&mine, from, to)).await??) }
    }
}

/// The period, and every instance's part of it, for the report `query` asks.
async fn gathered(
    app: &AppState,
    user: &Authenticated,
    query: &PeriodQuery,
) -> Result<((Timestamp, Timestamp), TillSum, Coverage), ApiError> {
    let reach = Reach::parse(query.scope.as_deref()).ok_or_else(invalid_scope)?;
    let mut stores = scope(app, user, query.store_id)?;
    if reach == Reach::Instance {
        stores = fanout::owned(&app.cluster, &stores);
    }
    let (from, to) = period(query.from.as_deref(), query.to.as_deref(), &app.time_zone)?;
    let ask = TillAsk {
        stores: stores.clone(),
        from,
        to,
    };
    let parts = fanout::gather_in(app, &ask, reach).await?;
    let coverage = parts.coverage(&app.cluster, &stores);
    Ok(((from, to), TillSum::of(parts.parts), coverage))
}

/// JSON, or CSV when the client asks for `text/csv`.
pub(super) fn answer<T: Serialize + CsvRows>(
    req: &HttpRequest,
    report: &T,
    name: &str,
) -> Result<HttpResponse, ApiError> {
    let wants_csv = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    if !wants_csv {
        return Ok(HttpResponse::Ok().json(report));
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let written = std::iter::once(report.header().into_iter().map(String::from).collect())
        .chain(report.rows())
        .try_for_each(|row: Vec<String>| out.write_record(&row));
    match (written, out.into_inner()) {
        (Ok(()), Ok(bytes)) => Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{name}.csv\""),
            ))
            .body(bytes)),
        _ => Err(ApiError::Internal("the CSV could not be written".into())),
    }
}

/// Taxes collected, refunded and to remit, per jurisdiction and tax, over the period; sales
/// per tax class (zero-rated and exempt apart).
#[utoipa::path(
    tag = "rapports",
    params(PeriodQuery),
    responses((status = 200, description = "Taxes par juridiction (JSON ou CSV)", body = TaxReport))
)]
#[get("/reports/taxes")]
async fn taxes(
    app: web::Data<AppState>,
    user: Authenticated,
    req: HttpRequest,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let (period, sum, coverage) = gathered(&app, &user, &query).await?;
    let report = till::tax_report(&app.catalog, period, &sum, coverage);
    answer(&req, &report, "taxes")
}

/// What each tender took in and gave back, per day of the chain's time zone.
#[utoipa::path(
    tag = "rapports",
    params(PeriodQuery),
    responses((status = 200, description = "Modes de paiement par jour (JSON ou CSV)", body = TenderReport))
)]
#[get("/reports/tenders")]
async fn tenders(
    app: web::Data<AppState>,
    user: Authenticated,
    req: HttpRequest,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let (period, sum, coverage) = gathered(&app, &user, &query).await?;
    let report = till::tender_report(period, &sum, &app.time_zone, coverage);
    answer(&req, &report, "tenders")
}

/// The till sessions closed in the period (their Z reports) with their over/short.
#[utoipa::path(
    tag = "rapports",
    params(PeriodQuery),
    responses((status = 200, description = "Sessions de caisse (JSON ou CSV)", body = SessionReport))
)]
#[get("/reports/sessions")]
async fn sessions(
    app: web::Data<AppState>,
    user: Authenticated,
    req: HttpRequest,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let (period, sum, coverage) = gathered(&app, &user, &query).await?;
    let report = till::session_report(period, sum, coverage);
    answer(&req, &report, "sessions")
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(taxes).service(tenders).service(sessions);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(taxes, tenders, sessions))]
pub(super) struct Docs;
