//! `/stores/{store_id}/stock`: a store's stock lines, from the stock read model, and their
//! reorder points and target levels.

use actix_web::{get, put, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Authenticated;
use super::extract::{Page, Pagination, known_store, sku, store_id};
use super::problem::ApiError;
use crate::auth::Permission;
use crate::domain::{Product, StockLine, StoreId};
use crate::reports::ProductQuery;

#[derive(Serialize, utoipa::ToSchema)]
struct StockBody {
    sku: String,
    name: String,
    category: String,
    price_cents: i64,
    on_hand: u32,
    reorder_point: u32,
    target_level: u32,
    /// Under its reorder point.
    low: bool,
    /// An offline sale took more than the shelf held: count it.
    to_count: bool,
}

fn body(product: Product, line: StockLine) -> StockBody {
    StockBody {
        sku: product.sku.to_string(),
        name: product.name,
        category: product.category,
        price_cents: product.price.0,
        on_hand: line.on_hand,
        reorder_point: line.reorder_point,
        target_level: line.target_level,
        low: line.is_low(),
        to_count: line.to_count,
    }
}

/// Which lines a stock query keeps: all, or only the low ones, or only those to count.
fn wanted(query: &StockQuery) -> impl Fn(&StockLine) -> bool + use<> {
    let (low, to_count) = (query.low.unwrap_or(false), query.to_count.unwrap_or(false));
    move |line| (!low || line.is_low()) && (!to_count || line.to_count)
}

/// The store of the path, once the user may read its stock (403 before 404: a store
/// role learns nothing of other stores).
fn readable_store(app: &AppState, user: &Authenticated, raw: u32) -> Result<StoreId, ApiError> {
    known_store(app, user, raw, Permission::ReadStock)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StockQuery {
    q: Option<String>,
    category: Option<String>,
    /// Only lines under their reorder point.
    low: Option<bool>,
    /// Only lines an offline sale left to count.
    to_count: Option<bool>,
    page: Option<u32>,
    per_page: Option<u32>,
}

#[utoipa::path(
    tag = "stock",
    responses((status = 200, description = "Lignes de stock", body = Page<StockBody>))
)]
#[get("/stores/{store_id}/stock")]
async fn store_stock(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    query: web::Query<StockQuery>,
) -> Result<web::Json<Page<StockBody>>, ApiError> {
    let id = readable_store(&app, &user, path.into_inner())?;
    let query = query.into_inner();
    let pagination = Pagination::new(query.page, query.per_page)?;
    let keep = wanted(&query);
    let lines: Vec<(Product, StockLine)> = app
        .catalog
        .search(&ProductQuery {
            text: query.q,
            category: query.category,
        })
        .into_iter()
        .map(|p| {
            let line = app.stock.line(id, &p.sku);
            (p, line)
        })
        .filter(|(_, line)| keep(line))
        .collect();
    Ok(web::Json(pagination.slice(lines, |(p, l)| body(p, l))))
}

#[utoipa::path(
    tag = "stock",
    responses((status = 200, description = "Une ligne de stock", body = StockBody))
)]
#[get("/stores/{store_id}/stock/{sku}")]
async fn stock_line(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, String)>,
) -> Result<web::Json<StockBody>, ApiError> {
    let (raw_store, raw_sku) = path.into_inner();
    let id = readable_store(&app, &user, raw_store)?;
    let sku = sku(&raw_sku)?;
    let product = app
        .catalog
        .product(&sku)
        .ok_or_else(|| ApiError::ProductNotFound(sku.to_string()))?;
    Ok(web::Json(body(product, app.stock.line(id, &sku))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LevelsBody {
    /// Under this on-hand quantity the line is low: listed with `low=true`, and asked for
    /// by an automatic restock request.
    reorder_point: u32,
    /// What an automatic restock request asks to reach; at least the reorder point.
    target_level: u32,
}

/// Sets a line's reorder point and target level (a manager for their store, head office
/// for any). The same levels again change nothing.
#[utoipa::path(
    tag = "stock",
    request_body = LevelsBody,
    responses((status = 200, description = "La ligne de stock, avec ses seuils", body = StockBody))
)]
#[put("/stores/{store_id}/stock/{sku}/levels")]
async fn set_levels(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, String)>,
    levels: web::Json<LevelsBody>,
) -> Result<web::Json<StockBody>, ApiError> {
    let (raw_store, raw_sku) = path.into_inner();
    let id = store_id(raw_store)?;
    user.require(Permission::Adjust, Some(id))?;
    if app.catalog.store(id).is_none() {
        return Err(ApiError::StoreNotFound(id));
    }
    let sku = sku(&raw_sku)?;
    let product = app
        .catalog
        .product(&sku)
        .ok_or_else(|| ApiError::ProductNotFound(sku.to_string()))?;
    let line = (sku.clone(), levels.reorder_point, levels.target_level);
    app.registry.store(id).await?.set_levels(vec![line]).await?;
    Ok(web::Json(body(product, app.stock.line(id, &sku))))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(store_stock)
        .service(stock_line)
        .service(set_levels);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(store_stock, stock_line, set_levels))]
pub(super) struct Docs;
