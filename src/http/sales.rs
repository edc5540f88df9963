//! `/stores/{store_id}/sales`, their returns, and stock adjustments: the writes of a store.
//! Each is idempotent on `Idempotency-Key` and answered only once durable.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

use super::auth::Authenticated;
use super::extract::{IdemKey, LineBody, Page, PageQuery, Pagination, parse_lines, store_id};
use super::problem::{ApiError, FieldError, lines_error};
use super::receipt::{NewSaleBody, Printed, ReturnBody, SaleBody, sale_body, sale_request};
use super::{AppState, rfc3339};
use crate::actors::{Recorded, SaleView};
use crate::auth::Permission;
use crate::domain::{
    AdjustedLine, Adjustment, AdjustmentKind, AdjustmentLine, AdjustmentRequest, ReturnRequest,
    SaleId, Sku, TillNumber, parse_label,
};

/// 201 with the resource at `location`; a replay (same key, same body) gets the original
/// answer and `Idempotent-Replayed: true`.
fn created<T: Serialize>(location: String, replayed: bool, body: T) -> HttpResponse {
    let mut response = replayable(replayed);
    response.insert_header(("Location", location));
    response.json(body)
}

/// 201, marked `Idempotent-Replayed: true` for the replay of an earlier write.
pub(super) fn replayable(replayed: bool) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Created();
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response
}

/// Records a sale at the till: all lines or none; 409 lists every short line.
#[utoipa::path(
    tag = "ventes",
    request_body = NewSaleBody,
    responses((status = 201, description = "Vente enregistrée (ou rejouée)", body = SaleBody))
)]
#[post("/stores/{store_id}/sales")]
async fn create_sale(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    key: IdemKey,
    body: web::Json<NewSaleBody>,
) -> Result<HttpResponse, ApiError> {
    let id = store_id(path.into_inner())?;
    user.require(Permission::Sell, Some(id))?;
    let request = sale_request(&app, id, body.into_inner())?;
    let store = app.registry.store(id).await?;
    let Recorded {
        value: sale,
        replayed,
    } = store
        .record_sale(request, key.0, user.username.clone())
        .await?;
    let location = format!("/api/v1/stores/{id}/sales/{}", sale.id.0);
    let view = SaleView {
        sale,
        returns: Vec::new(),
    };
    let body = sale_body(&app.catalog, id, view, Printed::Original);
    Ok(created(location, replayed, body))
}

/// The store's sales, newest first.
#[utoipa::path(
    tag = "ventes",
    responses((status = 200, description = "Ventes du magasin", body = Page<SaleBody>))
)]
#[get("/stores/{store_id}/sales")]
async fn list_sales(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<SaleBody>>, ApiError> {
    let id = store_id(path.into_inner())?;
    user.require(Permission::ReadSales, Some(id))?;
    let pagination = Pagination::new(query.page, query.per_page)?;
    let store = app.registry.store(id).await?;
    let (views, total) = store.sales(pagination.skip(), pagination.take()).await?;
    let items = views
        .into_iter()
        .map(|v| sale_body(&app.catalog, id, v, Printed::Copy))
        .collect();
    Ok(web::Json(pagination.page_of(items, total)))
}

#[utoipa::path(
    tag = "ventes",
    responses((status = 200, description = "La vente et ses retours", body = SaleBody))
)]
#[get("/stores/{store_id}/sales/{sale_id}")]
async fn get_sale(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, u64)>,
) -> Result<web::Json<SaleBody>, ApiError> {
    let (raw_store, sale_id) = path.into_inner();
    let id = store_id(raw_store)?;
    user.require(Permission::ReadSales, Some(id))?;
    let store = app.registry.store(id).await?;
    let view = store.sale(SaleId(sale_id)).await?;
    Ok(web::Json(sale_body(&app.catalog, id, view, Printed::Copy)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewReturnBody {
    lines: Vec<LineBody>,
    reason: Option<String>,
    /// The till it is refunded at: its cash comes out of that till's open session.
    till: Option<i64>,
}

/// The return a body asks for against `sale`: its lines and its reason checked.
fn return_request(sale: SaleId, body: NewReturnBody) -> Result<ReturnRequest, ApiError> {
    let reason = body
        .reason
        .as_deref()
        .map(|r| parse_label(r, 200))
        .transpose()
        .map_err(|e| ApiError::Validation(vec![FieldError::new("reason", e)]))?;
    let till = body
        .till
        .map(TillNumber::new)
        .transpose()
        .map_err(|e| ApiError::Validation(vec![FieldError::new("till", e)]))?;
    let request =
        ReturnRequest::new(sale, parse_lines(&body.lines)?, reason).map_err(lines_error)?;
    Ok(match till {
        Some(till) => request.at_till(till),
        None => request,
    })
}

/// Returns some lines of a sale (partial returns allowed, never beyond what was sold).
#[utoipa::path(
    tag = "ventes",
    request_body = NewReturnBody,
    responses((status = 201, description = "Retour enregistré", body = ReturnBody))
)]
#[post("/stores/{store_id}/sales/{sale_id}/returns")]
async fn create_return(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, u64)>,
    key: IdemKey,
    body: web::Json<NewReturnBody>,
) -> Result<HttpResponse, ApiError> {
    let (raw_store, sale_id) = path.into_inner();
    let id = store_id(raw_store)?;
    user.require(Permission::Return, Some(id))?;
    let request = return_request(SaleId(sale_id), body.into_inner())?;
    let store = app.registry.store(id).await?;
    let Recorded {
        value: ret,
        replayed,
    } = store
        .return_lines(request, key.0, user.username.clone())
        .await?;
    let location = format!("/api/v1/stores/{id}/sales/{sale_id}");
    Ok(created(location, replayed, ReturnBody::from(ret)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AdjustmentLineBody {
    sku: String,
    /// Physical count: on-hand becomes this.
    counted: Option<i64>,
    /// Signed correction.
    delta: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewAdjustmentBody {
    reason: String,
    lines: Vec<AdjustmentLineBody>,
}

fn parse_adjustment(body: &NewAdjustmentBody) -> Result<AdjustmentRequest, ApiError> {
    let mut errors = Vec::new();
    let reason =
        parse_label(&body.reason, 200).map_err(|e| errors.push(FieldError::new("reason", e)));
    let mut lines = Vec::with_capacity(body.lines.len());
    for (i, line) in body.lines.iter().enumerate() {
        let Ok(sku) = Sku::parse(&line.sku)
            .map_err(|e| errors.push(FieldError::new(format!("lines[{i}].sku"), e)))
        else {
            continue;
        };
        let parsed = match (line.counted, line.delta) {
            (Some(counted), None) => AdjustmentLine::count(sku, counted)
                .map_err(|e| FieldError::new(format!("lines[{i}].counted"), e)),
            (None, Some(delta)) => {
                AdjustmentLine::delta(sku, delta).map_err(|e| FieldError::new(format!("lines[{i}].delta"), e))
            }
            _ => Err(FieldError {
                field: format!("lines[{i}]"),
                code: "counted_or_delta",
                detail: "Chaque ligne donne soit « counted » (comptage), soit « delta » (écart), pas les deux.".into(),
            }),
        };
        match parsed {
            Ok(line) => lines.push(line),
            Err(e) => errors.push(e),
        }
    }
    match reason {
        Ok(reason) if errors.is_empty() => {
            AdjustmentRequest::new(reason, lines).map_err(lines_error)
        }
        _ => Err(ApiError::Validation(errors)),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct AdjustedLineBody {
    sku: String,
    kind: &'static str,
    on_hand_before: u32,
    on_hand_after: u32,
}

impl From<AdjustedLine> for AdjustedLineBody {
    fn from(l: AdjustedLine) -> Self {
        Self {
            sku: l.sku.to_string(),
            kind: match l.kind {
                AdjustmentKind::Count(_) => "count",
                AdjustmentKind::Delta(_) => "delta",
            },
            on_hand_before: l.on_hand_before,
            on_hand_after: l.on_hand_after,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct AdjustmentBody {
    id: u64,
    reason: String,
    lines: Vec<AdjustedLineBody>,
    created_at: String,
    by: String,
}

impl From<Adjustment> for AdjustmentBody {
    fn from(a: Adjustment) -> Self {
        Self {
            id: a.id.0,
            reason: a.reason,
            lines: a.lines.into_iter().map(AdjustedLineBody::from).collect(),
            created_at: rfc3339(a.at),
            by: a.by.to_string(),
        }
    }
}

/// Physical counts and signed corrections, with a reason, all lines or none.
#[utoipa::path(
    tag = "ventes",
    request_body = NewAdjustmentBody,
    responses((status = 201, description = "Ajustement enregistré", body = AdjustmentBody))
)]
#[post("/stores/{store_id}/adjustments")]
async fn create_adjustment(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    key: IdemKey,
    body: web::Json<NewAdjustmentBody>,
) -> Result<HttpResponse, ApiError> {
    let id = store_id(path.into_inner())?;
    user.require(Permission::Adjust, Some(id))?;
    let request = parse_adjustment(&body)?;
    let store = app.registry.store(id).await?;
    let Recorded {
        value: adjustment,
        replayed,
    } = store.adjust(request, key.0, user.username.clone()).await?;
    let location = format!("/api/v1/stores/{id}/ledger");
    Ok(created(
        location,
        replayed,
        AdjustmentBody::from(adjustment),
    ))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_sale)
        .service(list_sales)
        .service(get_sale)
        .service(create_return)
        .service(create_adjustment);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create_sale, list_sales, get_sale, create_return, create_adjustment))]
pub(super) struct Docs;
