//! Restocking, both sides: a store's requests (`/stores/{store_id}/restock-requests`) and
//! the logistics center (`/logistics/...`: central stock, supplier receipts, the request
//! queue, allocation, shipping, rejection).

use std::future::Future;

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

use actix_web::middleware::from_fn;

use super::auth::Authenticated;
use super::extract::{
    IdemKey, LedgerQuery, LineBody, Page, Pagination, known_store, next_after, parse_lines, sku,
    store_id,
};
use super::forward;
use super::problem::{ApiError, FieldError, lines_error};
use super::reports::StockAsk;
use super::{AppState, rfc3339};
use crate::actors::{FlowError, Recorded};
use crate::auth::Permission;
use crate::cluster::fanout::{self, Ask};
use crate::domain::{
    CentralEvent, CountedLine, DamageReason, MissingOutcome, Quantity, Receipt, RestockAsk,
    RestockId, RestockRequest, RestockStatus, Sku, StoreId, ValueError, parse_label, to_cents,
};
use crate::reports::ProductQuery;
use crate::reports::report::{CentralTotals, Coverage};

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::Registry(e) => e.into(),
            FlowError::Store(e) => e.into(),
            FlowError::Chain(e) => e.into(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct RestockLineBody {
    sku: String,
    requested: u32,
    allocated: u32,
    shipped: u32,
    /// Arrived at the store, damaged units included (those are written off in its ledger).
    received: u32,
    in_transit: u32,
    /// Once received: shipped and never arrived (the logistics center settles them).
    missing: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
struct RestockBody {
    id: String,
    store_id: u32,
    status: &'static str,
    automatic: bool,
    lines: Vec<RestockLineBody>,
    requested_at: String,
    requested_by: String,
    updated_at: String,
    rejection_reason: Option<String>,
}

impl From<RestockRequest> for RestockBody {
    fn from(r: RestockRequest) -> Self {
        Self {
            id: r.id.to_string(),
            store_id: r.id.store.get(),
            status: r.status.as_str(),
            automatic: r.automatic,
            lines: r
                .lines
                .iter()
                .map(|l| RestockLineBody {
                    sku: l.sku.to_string(),
                    requested: l.requested,
                    allocated: l.allocated,
                    shipped: l.shipped,
                    received: l.received,
                    in_transit: match r.status {
                        RestockStatus::Received => 0,
                        _ => l.in_transit(),
                    },
                    missing: match r.status {
                        RestockStatus::Received => l.in_transit(),
                        _ => 0,
                    },
                })
                .collect(),
            requested_at: rfc3339(r.requested_at),
            requested_by: r.requested_by.to_string(),
            updated_at: rfc3339(r.updated_at),
            rejection_reason: r.rejection_reason,
        }
    }
}

fn request_id(raw: &str) -> Result<RestockId, ApiError> {
    RestockId::parse(raw).map_err(|e| ApiError::Validation(vec![FieldError::new("request_id", e)]))
}

fn not_found(id: RestockId) -> ApiError {
    ApiError::Store(crate::actors::StoreError::Restock(
        crate::domain::RestockError::NotFound(id),
    ))
}

/// The request of a `/stores/{store_id}/restock-requests/{request_id}` path, once the user
/// may act on it with `permission`; it must belong to the store of the path.
fn store_request(
    user: &Authenticated,
    permission: Permission,
    (raw_store, raw_id): (u32, String),
) -> Result<RestockId, ApiError> {
    let store = store_id(raw_store)?;
    user.require(permission, Some(store))?;
    let id = request_id(&raw_id)?;
    if id.store != store {
        return Err(not_found(id));
    }
    Ok(id)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    status: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

impl StatusQuery {
    fn status(&self) -> Result<Option<RestockStatus>, ApiError> {
        self.status
            .as_deref()
            .map(RestockStatus::parse)
            .transpose()
            .map_err(|e| ApiError::Validation(vec![FieldError::new("status", e)]))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewRestockBody {
    /// `"auto"`: every line under its reorder point, up to its target level.
    mode: Option<String>,
    lines: Option<Vec<LineBody>>,
}

fn parse_ask(body: &NewRestockBody) -> Result<RestockAsk, ApiError> {
    match (body.mode.as_deref(), &body.lines) {
        (Some("auto"), None) => Ok(RestockAsk::Automatic),
        (None | Some("manual"), Some(lines)) => {
            RestockAsk::lines(parse_lines(lines)?).map_err(lines_error)
        }
        _ => Err(ApiError::Validation(vec![FieldError {
            field: "mode".into(),
            code: "lines_or_auto",
            detail: "Donnez soit « lines », soit « mode »: « auto » (proposition automatique)."
                .into(),
        }])),
    }
}

/// Files a restock request; idempotent on `Idempotency-Key`.
#[utoipa::path(
    tag = "réapprovisionnement",
    request_body = NewRestockBody,
    responses((status = 201, description = "Demande créée", body = RestockBody))
)]
#[post("/stores/{store_id}/restock-requests")]
async fn create_restock(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    key: IdemKey,
    body: web::Json<NewRestockBody>,
) -> Result<HttpResponse, ApiError> {
    let store = store_id(path.into_inner())?;
    user.require(Permission::RequestRestock, Some(store))?;
    let ask = parse_ask(&body)?;
    let Recorded { value, replayed } = app
        .registry
        .request_restock(store, ask, key.0, user.username.clone())
        .await?;
    let mut response = HttpResponse::Created();
    response.insert_header((
        "Location",
        format!("/api/v1/stores/{store}/restock-requests/{}", value.id),
    ));
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(RestockBody::from(value)))
}

#[utoipa::path(
    tag = "réapprovisionnement",
    responses((status = 200, description = "Demandes du magasin", body = Page<RestockBody>))
)]
#[get("/stores/{store_id}/restock-requests")]
async fn list_store_restocks(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    query: web::Query<StatusQuery>,
) -> Result<web::Json<Page<RestockBody>>, ApiError> {
    let store = known_store(&app, &user, path.into_inner(), Permission::ReadRestocks)?;
    let pagination = Pagination::new(query.page, query.per_page)?;
    let found = app.restocks.list(Some(store), query.status()?);
    Ok(web::Json(pagination.slice(found, RestockBody::from)))
}

#[utoipa::path(
    tag = "réapprovisionnement",
    responses((status = 200, description = "La demande", body = RestockBody))
)]
#[get("/stores/{store_id}/restock-requests/{request_id}")]
async fn get_store_restock(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, String)>,
) -> Result<web::Json<RestockBody>, ApiError> {
    let id = store_request(&user, Permission::ReadRestocks, path.into_inner())?;
    // From the read model: what is durable, never a step whose commit is still in flight.
    let request = app.restocks.get(id).ok_or_else(|| not_found(id))?;
    Ok(web::Json(request.into()))
}

/// What a store counted on receipt. No body, `null`, `{}` or no `lines`: everything
/// arrived.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReceiveBody {
    lines: Option<Vec<CountedBody>>,
}

/// One line: `received + damaged + missing` must be what was shipped.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CountedBody {
    sku: String,
    /// Arrived in good condition: goes on hand.
    received: i64,
    /// Arrived unsellable: written off at the store (`damage_reason` required).
    #[serde(default)]
    damaged: i64,
    /// broken, expired, wet or other.
    damage_reason: Option<String>,
    /// Shipped and not arrived: settled by the logistics center.
    #[serde(default)]
    missing: i64,
}

const MAX_COUNTED: i64 = 1_000_000;

/// Parses a receipt body, naming every invalid field (`lines[i].damaged`, …).
pub(super) fn parse_receipt(raw: &[u8]) -> Result<Receipt, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(Receipt::Full);
    }
    let body: Option<ReceiveBody> =
        serde_json::from_slice(raw).map_err(|e| ApiError::MalformedBody(e.to_string()))?;
    let Some(lines) = body.and_then(|b| b.lines) else {
        return Ok(Receipt::Full);
    };
    let mut errors = Vec::new();
    let mut counted = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let mut count = |name: &str, value: i64| {
            u32::try_from(value)
                .ok()
                .filter(|v| i64::from(*v) <= MAX_COUNTED)
                .unwrap_or_else(|| {
                    errors.push(FieldError::new(
                        format!("lines[{i}].{name}"),
                        ValueError::Counted,
                    ));
                    0
                })
        };
        let (received, damaged, missing) = (
            count("received", line.received),
            count("damaged", line.damaged),
            count("missing", line.missing),
        );
        let reason = match (damaged, line.damage_reason.as_deref()) {
            (0, None) => None,
            (_, raw) => DamageReason::parse(raw.unwrap_or(""))
                .map_err(|e| errors.push(FieldError::new(format!("lines[{i}].damage_reason"), e)))
                .ok(),
        };
        match Sku::parse(&line.sku) {
            Ok(sku) => counted.push(CountedLine {
                sku,
                received,
                damaged,
                damage_reason: reason,
                missing,
            }),
            Err(e) => errors.push(FieldError::new(format!("lines[{i}].sku"), e)),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Receipt::counted(counted).map_err(lines_error)
}

/// The store receives the shipment: everything shipped (no body), or counted per line
/// (received, damaged with a reason, missing), which must add up to what was shipped (400
/// naming the line otherwise, nothing received). A repeated call moves nothing.
#[utoipa::path(
    tag = "réapprovisionnement",
    request_body(content = Option<ReceiveBody>, description = "Sans corps : tout est arrivé"),
    responses((status = 200, description = "Demande reçue", body = RestockBody))
)]
#[post("/stores/{store_id}/restock-requests/{request_id}/receive")]
async fn receive_restock(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, String)>,
    body: web::Bytes,
) -> Result<web::Json<RestockBody>, ApiError> {
    let id = store_request(&user, Permission::ReceiveRestock, path.into_inner())?;
    let receipt = parse_receipt(&body)?;
    Ok(web::Json(
        app.registry
            .receive_restock(id, receipt, user.username.clone())
            .await?
            .into(),
    ))
}

#[utoipa::path(
    tag = "réapprovisionnement",
    responses((status = 200, description = "Demande annulée", body = RestockBody))
)]
#[post("/stores/{store_id}/restock-requests/{request_id}/cancel")]
async fn cancel_restock(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, String)>,
) -> Result<web::Json<RestockBody>, ApiError> {
    let id = store_request(&user, Permission::RequestRestock, path.into_inner())?;
    Ok(web::Json(
        app.registry
            .cancel_restock(id, user.username.clone())
            .await?
            .into(),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
struct CentralBody {
    sku: String,
    name: String,
    category: String,
    on_hand: u32,
    allocated: u32,
    in_transit: u32,
    /// Missing at stores' receipts, waiting to be settled (lost or found).
    missing: u32,
    /// Lost in transit, in all.
    lost: u32,
    /// Arrived damaged from suppliers and written off, in all.
    written_off: u32,
    /// Weighted average cost of one unit, to the cent.
    average_cost_cents: i64,
    /// The units in the warehouse (available and allocated) at average cost.
    value_at_cost_cents: i64,
    /// The same units at the shelf price.
    value_at_retail_cents: i64,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct CentralQuery {
    q: Option<String>,
    category: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

impl CentralBody {
    fn of(product: crate::domain::Product, totals: &CentralTotals) -> Self {
        let (on_hand, allocated, in_transit) = totals.units(&product.sku);
        let (missing, lost) = totals.discrepancies(&product.sku);
        let (average, at_cost, at_retail) = totals.valued(&product.sku, product.price);
        CentralBody {
            written_off: totals.written_off(&product.sku),
            average_cost_cents: average.0,
            value_at_cost_cents: at_cost.0,
            value_at_retail_cents: at_retail.0,
            missing,
            lost,
            in_transit,
            on_hand,
            allocated,
            sku: product.sku.to_string(),
            name: product.name,
            category: product.category,
        }
    }
}

/// The logistics center's stock: available, allocated to requests, and on the road.
#[utoipa::path(
    tag = "réapprovisionnement",
    responses((status = 200, description = "Stock du centre logistique", body = ChainPage<CentralBody>))
)]
#[get("/logistics/stock")]
async fn central_stock(
    app: web::Data<AppState>,
    user: Authenticated,
    query: web::Query<CentralQuery>,
) -> Result<web::Json<ChainPage<CentralBody>>, ApiError> {
    user.require(Permission::ReadCentral, None)?;
    let query = query.into_inner();
    let pagination = Pagination::new(query.page, query.per_page)?;
    let products = app.catalog.search(&ProductQuery {
        text: query.q,
        category: query.category,
    });
    // Each product's central stock is held by its owner, and each store's deliveries on
    // the road by the store's: every instance's part, added up.
    let ask = StockAsk::central();
    let gathered = fanout::gather(app.get_ref(), &ask).await?;
    let coverage = gathered.coverage(&app.cluster, &[]);
    let totals = CentralTotals::of(&gathered.parts);
    let page = pagination.slice(products, |p| CentralBody::of(p, &totals));
    Ok(web::Json(ChainPage { page, coverage }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReceiptBody {
    lines: Vec<LineBody>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReceivedBody {
    sku: String,
    quantity: i64,
    on_hand: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReceiptAnswer {
    receipt: String,
    lines: Vec<ReceivedBody>,
}

impl ReceiptAnswer {
    fn new(
        receipt: String,
        lines: &[crate::domain::RequestedLine],
        on_hand: Vec<(Sku, u32)>,
    ) -> Self {
        let lines = lines
            .iter()
            .zip(on_hand)
            .map(|(line, (_, after))| ReceivedBody {
                sku: line.sku.to_string(),
                quantity: i64::from(line.quantity.get()),
                on_hand: after,
            })
            .collect();
        Self { receipt, lines }
    }
}

/// 422 naming every SKU of `skus` the catalog does not have.
pub(super) fn known_skus<'a>(
    app: &AppState,
    skus: impl IntoIterator<Item = &'a Sku>,
) -> Result<(), ApiError> {
    let unknown = app.catalog.unknown(skus);
    if unknown.is_empty() {
        return Ok(());
    }
    let named = unknown
        .into_iter()
        .map(|sku| serde_json::json!({"sku": sku.as_str()}));
    Err(ApiError::UnknownSkus(named.collect()))
}

/// A receipt's id: from its Idempotency-Key (a retry is the same receipt), else new.
fn receipt_id(key: &IdemKey) -> String {
    let kind = if key.0.is_some() { "key" } else { "receipt" };
    format!("{kind}:{}", key.or_new())
}

/// Goods arriving from suppliers. With an `Idempotency-Key`, a retried receipt is counted
/// once (each product remembers the receipt).
#[utoipa::path(
    tag = "réapprovisionnement",
    request_body = ReceiptBody,
    responses((status = 201, description = "Réception enregistrée", body = ReceiptAnswer))
)]
#[post("/logistics/receipts")]
async fn receive_goods(
    app: web::Data<AppState>,
    user: Authenticated,
    key: IdemKey,
    body: web::Json<ReceiptBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageCentral, None)?;
    let lines = parse_lines(&body.lines)?;
    RestockAsk::lines(lines.clone()).map_err(lines_error)?;
    known_skus(&app, lines.iter().map(|l| &l.sku))?;
    let receipt = receipt_id(&key);
    // Without an order there is no cost: the units join at the current average (ADR 0032).
    let quantities = lines
        .iter()
        .map(|l| (l.sku.clone(), Quantity::get(l.quantity), None))
        .collect();
    let on_hand = app
        .registry
        .receive_goods(&receipt, quantities, user.username.clone())
        .await?;
    Ok(HttpResponse::Created().json(ReceiptAnswer::new(receipt, &lines, on_hand)))
}

#[utoipa::path(
    tag = "réapprovisionnement",
    responses((status = 200, description = "File des demandes", body = ChainPage<RestockBody>))
)]
#[get("/logistics/restock-requests")]
async fn list_restocks(
    app: web::Data<AppState>,
    user: Authenticated,
    query: web::Query<StatusQuery>,
) -> Result<web::Json<ChainPage<RestockBody>>, ApiError> {
    user.require(Permission::ReadCentral, None)?;
    let pagination = Pagination::new(query.page, query.per_page)?;
    let ask = RestocksAsk {
        status: query.status()?,
    };
    let gathered = fanout::gather(app.get_ref(), &ask).await?;
    let stores: Vec<StoreId> = app.catalog.stores().into_iter().map(|s| s.id).collect();
    let coverage = gathered.coverage(&app.cluster, &stores);
    let mut found: Vec<RestockRequest> = gathered.parts.into_iter().flatten().collect();
    found.sort_by_key(|r| (r.requested_at, r.id));
    let page = pagination.slice(found, RestockBody::from);
    Ok(web::Json(ChainPage { page, coverage }))
}

/// The restock requests of the stores an instance owns.
#[derive(Serialize, Deserialize)]
pub(super) struct RestocksAsk {
    status: Option<RestockStatus>,
}

impl Ask<AppState> for RestocksAsk {
    type Part = Vec<RestockRequest>;
    type Error = ApiError;
    const NAME: &'static str = "restocks";

    fn local(&self, app: &AppState) -> impl Future<Output = Result<Self::Part, ApiError>> {
        std::future::ready(Ok(app.restocks.list(None, self.status)))
    }
}

/// A page of a chain-wide listing, and whether every instance answered.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ChainPage<T: Serialize> {
    #[serde(flatten)]
    pub(super) page: Page<T>,
    #[serde(flatten)]
    pub(super) coverage: Coverage,
}

/// Allocates what central stock has to each line (partial allocation is normal; competing
/// requests for a product are serialized by its actor). A retry allocates nothing more.
#[utoipa::path(
    tag = "réapprovisionnement",
    responses((status = 200, description = "Demande allouée", body = RestockBody))
)]
#[post("/logistics/restock-requests/{request_id}/allocate")]
async fn allocate(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
) -> Result<web::Json<RestockBody>, ApiError> {
    user.require(Permission::ManageCentral, None)?;
    let id = request_id(&path)?;
    Ok(web::Json(
        app.registry
            .allocate_restock(id, user.username.clone())
            .await?
            .into(),
    ))
}

#[utoipa::path(
    tag = "réapprovisionnement",
    responses((status = 200, description = "Demande expédiée", body = RestockBody))
)]
#[post("/logistics/restock-requests/{request_id}/ship")]
async fn ship(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
) -> Result<web::Json<RestockBody>, ApiError> {
    user.require(Permission::ManageCentral, None)?;
    let id = request_id(&path)?;
    Ok(web::Json(
        app.registry
            .ship_restock(id, user.username.clone())
            .await?
            .into(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ResolveMissingBody {
    sku: String,
    /// lost (in transit) or found (back in central stock, to be sent again).
    outcome: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct MissingResolvedBody {
    restock_id: String,
    sku: String,
    outcome: &'static str,
    /// Units this call settled: 0 when none waited (or a retry found them settled).
    quantity: u32,
}

/// Settles the units of a line missing at the store's receipt: lost in transit, or found
/// and back in central stock. Idempotent: a retry settles nothing more.
#[utoipa::path(
    tag = "réapprovisionnement",
    request_body = ResolveMissingBody,
    responses((status = 200, description = "Manquants réglés", body = MissingResolvedBody))
)]
#[post("/logistics/restock-requests/{request_id}/missing")]
async fn resolve_missing(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
    body: web::Json<ResolveMissingBody>,
) -> Result<web::Json<MissingResolvedBody>, ApiError> {
    user.require(Permission::ManageCentral, None)?;
    let id = request_id(&path)?;
    let sku = sku(&body.sku)?;
    let outcome = MissingOutcome::parse(&body.outcome)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("outcome", e)]))?;
    let by = user.username.clone();
    let quantity = app.registry.resolve_missing(id, &sku, outcome, by).await?;
    Ok(web::Json(MissingResolvedBody {
        restock_id: id.to_string(),
        sku: sku.to_string(),
        outcome: outcome.as_str(),
        quantity,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reason: String,
}

#[utoipa::path(
    tag = "réapprovisionnement",
    request_body = RejectBody,
    responses((status = 200, description = "Demande refusée", body = RestockBody))
)]
#[post("/logistics/restock-requests/{request_id}/reject")]
async fn reject(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
    body: web::Json<RejectBody>,
) -> Result<web::Json<RestockBody>, ApiError> {
    user.require(Permission::ManageCentral, None)?;
    let id = request_id(&path)?;
    let reason = parse_label(&body.reason, 200)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("reason", e)]))?;
    Ok(web::Json(
        app.registry
            .reject_restock(id, reason, user.username.clone())
            .await?
            .into(),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
struct CentralEntry {
    seq: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    at: String,
    quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    restock_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<String>,
    /// Available central stock after the event (allocations and receipts move it).
    #[serde(skip_serializing_if = "Option::is_none")]
    on_hand_after: Option<u32>,
    /// A supplier's goods: units damaged on arrival (written off) and their reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    damaged: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    damage_reason: Option<&'static str>,
    /// A supplier's goods at a known cost: the cost of one unit, and the average after.
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_cost_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    average_cost_cents: Option<i64>,
}

fn central_entry(seq: u64, event: CentralEvent) -> CentralEntry {
    let (damaged, damage_reason, unit_cost_cents, average_cost_cents) = match &event {
        CentralEvent::PurchaseReceived {
            damaged,
            damage_reason,
            unit_cost,
            average_after,
            ..
        } => (
            Some(*damaged),
            damage_reason.map(DamageReason::as_str),
            unit_cost.map(|c| c.0),
            Some(to_cents((*average_after).into()).0),
        ),
        _ => (None, None, None, None),
    };
    let (kind, at, quantity, restock, receipt, on_hand_after) = match event {
        CentralEvent::GoodsReceived {
            receipt,
            quantity,
            on_hand_after,
            at,
            ..
        }
        | CentralEvent::PurchaseReceived {
            receipt,
            quantity,
            on_hand_after,
            at,
            ..
        } => (
            "goods_received",
            at,
            quantity,
            None,
            Some(receipt),
            Some(on_hand_after),
        ),
        CentralEvent::Allocated {
            request,
            quantity,
            on_hand_after,
            at,
            ..
        } => (
            "allocated",
            at,
            quantity,
            Some(request),
            None,
            Some(on_hand_after),
        ),
        CentralEvent::Released {
            request,
            quantity,
            on_hand_after,
            at,
        } => (
            "released",
            at,
            quantity,
            Some(request),
            None,
            Some(on_hand_after),
        ),
        CentralEvent::Shipped {
            request,
            quantity,
            at,
        } => ("shipped", at, quantity, Some(request), None, None),
        CentralEvent::Delivered {
            request,
            quantity,
            at,
        } => ("delivered", at, quantity, Some(request), None, None),
        // What reached the store; the missing units get an entry of their own when settled.
        CentralEvent::DeliveredShort {
            request,
            quantity,
            at,
            ..
        } => ("delivered_short", at, quantity, Some(request), None, None),
        CentralEvent::MissingResolved {
            request,
            quantity,
            outcome,
            on_hand_after,
            at,
            ..
        } => (
            match outcome {
                MissingOutcome::Lost => "lost_in_transit",
                MissingOutcome::Found => "found_after_transit",
            },
            at,
            quantity,
            Some(request),
            None,
            Some(on_hand_after),
        ),
    };
    CentralEntry {
        seq,
        kind,
        at: rfc3339(at),
        quantity,
        restock_id: restock.map(|r| r.to_string()),
        receipt,
        on_hand_after,
        damaged,
        damage_reason,
        unit_cost_cents,
        average_cost_cents,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct CentralLedger {
    items: Vec<CentralEntry>,
    next_after: Option<u64>,
}

/// A product's central ledger: receipts, allocations, shipments, deliveries, in order.
#[utoipa::path(
    tag = "réapprovisionnement",
    responses((status = 200, description = "Grand livre central du produit", body = CentralLedger))
)]
#[get("/logistics/stock/{sku}/ledger", wrap = "from_fn(forward::product_owner)")]
async fn central_ledger(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
    query: web::Query<LedgerQuery>,
) -> Result<web::Json<CentralLedger>, ApiError> {
    user.require(Permission::ReadCentral, None)?;
    let sku = sku(&path)?;
    app.catalog
        .product(&sku)
        .ok_or_else(|| ApiError::ProductNotFound(sku.to_string()))?;
    let (after, limit) = query.page()?;
    let events = app.registry.central_ledger(&sku, after, limit).await?;
    let next_after = next_after(&events, limit);
    Ok(web::Json(CentralLedger {
        items: events
            .into_iter()
            .map(|(seq, e)| central_entry(seq, e))
            .collect(),
        next_after,
    }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(create_restock)
        .service(list_store_restocks)
        .service(get_store_restock)
        .service(receive_restock)
        .service(cancel_restock)
        .service(central_stock)
        .service(central_ledger)
        .service(receive_goods)
        .service(list_restocks)
        .service(allocate)
        .service(ship)
        .service(reject)
        .service(resolve_missing);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_restock,
    list_store_restocks,
    get_store_restock,
    receive_restock,
    cancel_restock,
    central_stock,
    receive_goods,
    list_restocks,
    allocate,
    ship,
    reject,
    resolve_missing,
    central_ledger
))]
pub(super) struct Docs;
