//! `/products` (catalog search; adding and changing products, head office) and
//! `/availability` (one product in every store).

use std::future::Future;

use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};

use actix_web::middleware::from_fn;

use super::AppState;
use super::auth::Authenticated;
use super::extract::{Page, Pagination, sku};
use super::forward;
use super::problem::{ApiError, FieldError};
use crate::actors::Added;
use crate::auth::Permission;
use crate::cluster::fanout::{self, Ask};
use crate::domain::{
    CATEGORY_MAX, Cents, PRODUCT_NAME_MAX, Product, ProductChange, Sku, StockLine, StoreId,
    parse_class, parse_label,
};
use crate::reports::ProductQuery;
use crate::reports::report::{Coverage, Pairs};

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProductBody {
    sku: String,
    ean13: String,
    name: String,
    category: String,
    price_cents: i64,
    /// `taxable`, `zero_rated` (basic groceries) or `exempt`.
    tax_class: &'static str,
}

impl From<Product> for ProductBody {
    fn from(p: Product) -> Self {
        Self {
            sku: p.sku.to_string(),
            ean13: p.ean13.to_string(),
            name: p.name,
            category: p.category,
            price_cents: p.price.0,
            tax_class: p.tax_class.as_str(),
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewProductBody {
    sku: String,
    /// EAN-13, with its check digit.
    ean13: String,
    name: String,
    category: String,
    price_cents: i64,
    /// `taxable`, `zero_rated` (basic groceries) or `exempt`: required.
    tax_class: Option<String>,
}

/// Adds a product to the chain's catalog: every store can sell it once the answer is out
/// (at zero on hand until stock is counted or received; see [`in_effect_everywhere`]),
/// and the logistics center can receive it.
/// The same product sent again (a retry) is answered 200 as it is; another product under
/// its SKU or barcode is refused (409).
#[utoipa::path(
    tag = "catalogue",
    request_body = NewProductBody,
    responses(
        (status = 201, description = "Produit ajouté", body = ProductBody),
        (status = 200, description = "Ce produit existait déjà, identique", body = ProductBody),
    )
)]
#[post("/products", wrap = "from_fn(forward::reference_data)")]
async fn add_product(
    app: web::Data<AppState>,
    user: Authenticated,
    body: web::Json<NewProductBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageCatalog, None)?;
    let product = Product::parse(
        &body.sku,
        &body.ean13,
        &body.name,
        &body.category,
        body.price_cents,
        body.tax_class.as_deref(),
    )
    .map_err(|errors| {
        errors
            .into_iter()
            .map(|(f, e)| FieldError::new(f, e))
            .collect::<Vec<_>>()
    })?;
    let added = app.registry.chain().add_product(product).await?;
    in_effect_everywhere(&app).await;
    Ok(added_answer(added))
}

/// 201 with its location for a new product, 200 for a retry of the same product.
fn added_answer(added: Added) -> HttpResponse {
    match added {
        Added::Created(product) => HttpResponse::Created()
            .insert_header(("Location", format!("/api/v1/products/{}", product.sku)))
            .json(ProductBody::from(product)),
        Added::Existing(product) => HttpResponse::Ok().json(ProductBody::from(product)),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ProductChangeBody {
    name: Option<String>,
    category: Option<String>,
    /// The new shelf price: sales made from now on use it; recorded sales keep theirs.
    price_cents: Option<i64>,
    /// `taxable`, `zero_rated` or `exempt`: sales from now on are taxed by it.
    tax_class: Option<String>,
}

/// The change a body asks for, every field checked (each error named).
fn product_change(body: ProductChangeBody) -> Result<ProductChange, ApiError> {
    let mut errors = Vec::new();
    let mut checked = |field: &'static str, value: Result<String, _>| {
        value
            .map_err(|e| errors.push(FieldError::new(field, e)))
            .ok()
    };
    let change = ProductChange {
        name: body
            .name
            .and_then(|n| checked("name", parse_label(&n, PRODUCT_NAME_MAX))),
        category: body
            .category
            .and_then(|c| checked("category", parse_label(&c, CATEGORY_MAX))),
        price: match body.price_cents.map(Cents::price).transpose() {
            Ok(price) => price,
            Err(e) => {
                errors.push(FieldError::new("price_cents", e));
                None
            }
        },
        tax_class: match body
            .tax_class
            .as_deref()
            .map(|c| parse_class(Some(c)))
            .transpose()
        {
            Ok(class) => class,
            Err(e) => {
                errors.push(FieldError::new("tax_class", e));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if change.changes_nothing() {
        return Err(ApiError::MalformedBody(
            "nothing to change: give name, category or price_cents".into(),
        ));
    }
    Ok(change)
}

/// Changes a product's name, category or price (its SKU and barcode never change). Fields
/// left out keep their value; the same change again changes nothing.
#[utoipa::path(
    tag = "catalogue",
    request_body = ProductChangeBody,
    responses((status = 200, description = "Le produit modifié", body = ProductBody))
)]
#[patch("/products/{sku}", wrap = "from_fn(forward::reference_data)")]
async fn change_product(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
    body: web::Json<ProductChangeBody>,
) -> Result<web::Json<ProductBody>, ApiError> {
    user.require(Permission::ManageCatalog, None)?;
    let sku = sku(&path)?;
    let change = product_change(body.into_inner())?;
    let product = app.registry.chain().change_product(sku, change).await?;
    in_effect_everywhere(&app).await;
    Ok(web::Json(product.into()))
}

/// The longest a catalog write waits for another instance's copy.
const COPY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits until every other instance's copy of the catalog has this write (at most
/// [`COPY_WAIT`] each), so that a new product or price is in effect in every store when
/// the answer goes out.
async fn in_effect_everywhere(app: &AppState) {
    crate::cluster::forward::in_effect_on(
        &app.registry,
        &app.peers,
        app.cluster.peers(),
        COPY_WAIT,
        "catalog change",
    )
    .await;
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

impl Ask<AppState> for AvailabilityAsk {
    type Part = Pairs<StoreId, StockLine>;
    type Error = ApiError;
    const NAME: &'static str = "availability";

    fn local(&self, app: &AppState) -> impl Future<Output = Result<Self::Part, ApiError>> {
        std::future::ready(Ok(app
            .catalog
            .stores()
            .into_iter()
            .filter(|store| app.cluster.owns_store(store.id))
            .map(|store| (store.id, app.stock.line(store.id, &self.sku)))
            .collect()))
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
    let gathered = fanout::gather(app.get_ref(), &AvailabilityAsk { sku: sku.clone() }).await?;
    let chain = app.catalog.stores();
    let ids: Vec<StoreId> = chain.iter().map(|s| s.id).collect();
    let coverage = gathered.coverage(&app.cluster, &ids);
    let lines = gathered.parts.into_iter().flatten().collect();
    Ok(web::Json(Availability::new(
        product, chain, lines, coverage,
    )))
}

impl Availability {
    /// A product's stock in every store of `chain` that has a line for it.
    fn new(
        product: Product,
        chain: Vec<crate::domain::Store>,
        lines: std::collections::HashMap<StoreId, StockLine>,
        coverage: Coverage,
    ) -> Self {
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
        Availability {
            sku: product.sku.to_string(),
            name: product.name,
            total_on_hand: stores.iter().map(|s| u64::from(s.on_hand)).sum(),
            stores,
            coverage,
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(search_products)
        .service(add_product)
        .service(get_product)
        .service(change_product)
        .service(availability);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(search_products, add_product, get_product, change_product, availability))]
pub(super) struct Docs;
