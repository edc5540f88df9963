//! `/products` (catalog search) and `/availability` (one product in every store).

use actix_web::{get, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Authenticated;
use super::extract::{Page, Pagination, sku};
use super::fanout::{self, Ask, Coverage, Pairs};
use super::problem::ApiError;
use crate::auth::Permission;
use crate::domain::{Product, Sku, StockLine, StoreId};
use crate::reports::ProductQuery;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProductBody {
    sku: String,
    ean13: String,
    name: String,
    category: String,
    price_cents: i64,
}

impl From<Product> for ProductBody {
    fn from(p: Product) -> Self {
        Self {
            sku: p.sku.to_string(),
            ean13: p.ean13.to_string(),
            name: p.name,
            category: p.category,
            price_cents: p.price.0,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: Option<String>,
    category: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// Search by name, category, SKU or barcode (all words must match; case and accents
/// ignored), ordered by SKU.
#[utoipa::path(
    tag = "catalogue",
    responses((status = 200, description = "Produits trouvés", body = Page<ProductBody>))
)]
#[get("/products")]
async fn search_products(
    app: web::Data<AppState>,
    user: Authenticated,
    query: web::Query<SearchQuery>,
) -> Result<web::Json<Page<ProductBody>>, ApiError> {
    user.require(Permission::ReadChain, None)?;
    let query = query.into_inner();
    let pagination = Pagination::new(query.page, query.per_page)?;
    let found = app.catalog.search(&ProductQuery {
        text: query.q,
        category: query.category,
    });
    Ok(web::Json(pagination.slice(found, ProductBody::from)))
}

#[utoipa::path(
    tag = "catalogue",
    responses((status = 200, description = "Le produit", body = ProductBody))
)]
#[get("/products/{sku}")]
async fn get_product(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
) -> Result<web::Json<ProductBody>, ApiError> {
    user.require(Permission::ReadChain, None)?;
    let sku = sku(&path)?;
    let product = app
        .catalog
        .product(&sku)
        .ok_or_else(|| ApiError::ProductNotFound(sku.to_string()))?;
    Ok(web::Json(product.into()))
}

#[derive(Serialize, utoipa::ToSchema)]
struct StoreAvailability {
    store_id: u32,
    store_code: String,
    store_name: String,
    on_hand: u32,
    low: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Availability {
    sku: String,
    name: String,
    total_on_hand: u64,
    stores: Vec<StoreAvailability>,
    #[serde(flatten)]
    coverage: Coverage,
}

/// One product's stock lines in the stores an instance owns.
#[derive(serde::Deserialize, Serialize)]
pub(super) struct AvailabilityAsk {
    sku: Sku,
}

impl Ask for AvailabilityAsk {
    type Part = Pairs<StoreId, StockLine>;
    const NAME: &'static str = "availability";

    fn local(&self, app: &AppState) -> Self::Part {
        app.catalog
            .stores()
            .into_iter()
            .filter(|store| app.cluster.owns_store(store.id))
            .map(|store| (store.id, app.stock.line(store.id, &self.sku)))
            .collect()
    }
}

/// On-hand quantity of one product in every store of the chain.
#[utoipa::path(
    tag = "catalogue",
    responses((status = 200, description = "Quantité en main dans chaque magasin", body = Availability))
)]
#[get("/availability/{sku}")]
async fn availability(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
) -> Result<web::Json<Availability>, ApiError> {
    user.require(Permission::ReadAvailability, None)?;
    let sku = sku(&path)?;
    let product = app
        .catalog
        .product(&sku)
        .ok_or_else(|| ApiError::ProductNotFound(sku.to_string()))?;
    let chain = app.catalog.stores();
    let gathered = fanout::gather(&app, &AvailabilityAsk { sku: sku.clone() }).await;
    let ids: Vec<StoreId> = chain.iter().map(|s| s.id).collect();
    let coverage = gathered.coverage(&app.cluster, &ids);
    let lines: std::collections::HashMap<StoreId, StockLine> =
        gathered.parts.into_iter().flatten().collect();
    let stores: Vec<StoreAvailability> = chain
        .into_iter()
        .filter_map(|store| {
            let line = lines.get(&store.id)?;
            Some(StoreAvailability {
                store_id: store.id.get(),
                store_code: store.code,
                store_name: store.name,
                on_hand: line.on_hand,
                low: line.is_low(),
            })
        })
        .collect();
    Ok(web::Json(Availability {
        sku: sku.to_string(),
        name: product.name,
        total_on_hand: stores.iter().map(|s| u64::from(s.on_hand)).sum(),
        stores,
        coverage,
    }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(search_products)
        .service(get_product)
        .service(availability);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(search_products, get_product, availability))]
pub(super) struct Docs;
