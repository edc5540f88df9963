//! Suppliers and the logistics center's purchase orders (ADR 0032): `/suppliers`,
//! `/logistics/purchase-orders`. Writes go to the owner of the reference data, which
//! decides each one and posts the units it brings into the products' central stock.

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};

use super::auth::Authenticated;
use super::extract::{IdemKey, Page, Pagination};
use super::problem::{ApiError, FieldError};
use super::restock::parse_receipt;
use super::{AppState, forward, rfc3339};
use crate::actors::{PurchaseCommand, Purchased};
use crate::auth::Permission;
use crate::domain::{
    Cents, LeadTime, MAX_LEAD_TIME_DAYS, NewOrder, OrderLine, OrderStatus, PurchaseOrder, Sku,
    Supplier, SupplierCode, SupplierReceipt, ValueError, parse_label,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SupplierWrite {
    name: String,
    /// Order to receipt, in days, as agreed (0 to 365).
    lead_time_days: i64,
    /// An inactive supplier takes no new order (default: active).
    #[serde(default = "active")]
    active: bool,
}

fn active() -> bool {
    true
}

#[derive(Serialize, utoipa::ToSchema)]
struct SupplierBody {
    code: String,
    name: String,
    lead_time_days: u32,
    active: bool,
    /// The lead time in use: measured from received orders, else as agreed.
    effective_lead_time_days: f64,
    /// `measured` or `configured`.
    lead_time_source: &'static str,
    /// The received orders the measure is the mean of.
    lead_time_samples: usize,
}

impl SupplierBody {
    fn of(supplier: Supplier, lead: Option<LeadTime>) -> Self {
        let lead = lead.unwrap_or(LeadTime::of(&[], f64::from(supplier.lead_time_days)));
        Self {
            code: supplier.code.to_string(),
            name: supplier.name,
            lead_time_days: supplier.lead_time_days,
            active: supplier.active,
            effective_lead_time_days: (lead.days * 10.0).round() / 10.0,
            lead_time_source: lead.source.as_str(),
            lead_time_samples: lead.samples,
        }
    }
}

fn supplier_code(raw: &str) -> Result<SupplierCode, ApiError> {
    SupplierCode::parse(raw).map_err(|e| ApiError::Validation(vec![FieldError::new("code", e)]))
}

fn parse_supplier(code: SupplierCode, body: &SupplierWrite) -> Result<Supplier, ApiError> {
    let mut errors = Vec::new();
    let name = parse_label(&body.name, 120).map_err(|e| errors.push(FieldError::new("name", e)));
    let lead = u32::try_from(body.lead_time_days)
        .ok()
        .filter(|d| *d <= MAX_LEAD_TIME_DAYS)
        .ok_or_else(|| errors.push(FieldError::new("lead_time_days", ValueError::LeadTime)));
    match (name, lead) {
        (Ok(name), Ok(lead_time_days)) => Ok(Supplier {
            code,
            name,
            lead_time_days,
            active: body.active,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

fn supplier_body(app: &AppState, supplier: Supplier) -> SupplierBody {
    let lead = app.purchasing.read(|p| p.lead_time(&supplier.code));
    SupplierBody::of(supplier, lead)
}

/// Every supplier, by code.
#[utoipa::path(
    tag = "achats",
    responses((status = 200, description = "Fournisseurs", body = Vec<SupplierBody>))
)]
#[get("/suppliers")]
async fn list_suppliers(
    app: web::Data<AppState>,
    user: Authenticated,
) -> Result<web::Json<Vec<SupplierBody>>, ApiError> {
    user.require(Permission::ReadCentral, None)?;
    let suppliers = app
        .purchasing
        .read(|p| p.suppliers().cloned().collect::<Vec<_>>());
    let bodies = suppliers.into_iter().map(|s| supplier_body(&app, s));
    Ok(web::Json(bodies.collect()))
}

/// Creates a supplier under its code, or changes it (name, lead time, active): 201 when
/// new, 200 otherwise. Sending the same again changes nothing.
#[utoipa::path(
    tag = "achats",
    request_body = SupplierWrite,
    responses(
        (status = 201, description = "Fournisseur créé", body = SupplierBody),
        (status = 200, description = "Fournisseur modifié", body = SupplierBody)
    )
)]
#[put("/suppliers/{code}", wrap = "from_fn(forward::reference_data)")]
async fn put_supplier(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
    body: web::Json<SupplierWrite>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageSuppliers, None)?;
    let supplier = parse_supplier(supplier_code(&path)?, &body)?;
    let existed = app
        .purchasing
        .read(|p| p.supplier(&supplier.code).is_some());
    let command = PurchaseCommand::SetSupplier(supplier.clone());
    let saved = match app.registry.purchase(command).await? {
        Purchased::Supplier(saved) => saved,
        Purchased::Order { .. } => supplier,
    };
    Ok(created_or_ok(!existed).json(supplier_body(&app, saved)))
}

/// 201 for what this call created, 200 for what was there already (a retry, a change).
fn created_or_ok(created: bool) -> actix_web::HttpResponseBuilder {
    if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OrderLineWrite {
    sku: String,
    /// 1 to 1000000.
    quantity: i64,
    /// The agreed cost of one unit, in cents.
    unit_cost_cents: i64,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewOrderBody {
    supplier: String,
    lines: Vec<OrderLineWrite>,
}

const MAX_ORDERED: u32 = 1_000_000;

fn parse_order_line(
    i: usize,
    line: &OrderLineWrite,
    errors: &mut Vec<FieldError>,
) -> Option<(Sku, u32, Cents)> {
    let field = |name: &str| format!("lines[{i}].{name}");
    let sku = Sku::parse(&line.sku).map_err(|e| errors.push(FieldError::new(field("sku"), e)));
    let quantity = u32::try_from(line.quantity)
        .ok()
        .filter(|q| (1..=MAX_ORDERED).contains(q))
        .ok_or_else(|| {
            errors.push(FieldError::new(
                field("quantity"),
                ValueError::OrderQuantity,
            ))
        });
    let cost = Cents::price(line.unit_cost_cents).map_err(|_| {
        errors.push(FieldError::new(
            field("unit_cost_cents"),
            ValueError::UnitCost,
        ))
    });
    Some((sku.ok()?, quantity.ok()?, cost.ok()?))
}

fn parse_order(app: &AppState, body: &NewOrderBody, key: String) -> Result<NewOrder, ApiError> {
    let mut errors = Vec::new();
    let supplier = SupplierCode::parse(&body.supplier)
        .map_err(|e| errors.push(FieldError::new("supplier", e)));
    let lines: Vec<_> = body
        .lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| parse_order_line(i, line, &mut errors))
        .collect();
    let Ok(supplier) = supplier else {
        return Err(ApiError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    super::restock::known_skus(app, lines.iter().map(|(sku, _, _)| sku))?;
    Ok(NewOrder {
        supplier,
        lines,
        key,
    })
}

#[derive(Serialize, utoipa::ToSchema)]
struct OrderLineBody {
    sku: String,
    ordered: u32,
    unit_cost_cents: i64,
    /// Good units received against the order.
    received: u32,
    /// Still owed by the supplier.
    outstanding: u32,
    /// Arrived damaged: written off at the center.
    damaged: u32,
    /// Beyond the order, waiting for head office's approval.
    over_held: u32,
    over_accepted: u32,
    over_returned: u32,
}

impl OrderLineBody {
    fn of(order: &PurchaseOrder, l: &OrderLine) -> Self {
        let tally = order.tally(l);
        Self {
            sku: l.sku.to_string(),
            ordered: l.ordered,
            unit_cost_cents: l.unit_cost.0,
            received: tally.received,
            outstanding: tally.outstanding,
            damaged: tally.damaged,
            over_held: tally.over_held,
            over_accepted: tally.over_accepted,
            over_returned: tally.over_returned,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReceiptLineBody {
    sku: String,
    received: u32,
    damaged: u32,
    damage_reason: Option<&'static str>,
    missing: u32,
    /// Beyond the order: held until approved.
    over: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SupplierReceiptBody {
    number: u32,
    at: String,
    by: String,
    lines: Vec<ReceiptLineBody>,
    /// `none` (nothing beyond the order), `pending`, `approved` or `refused`.
    over_status: &'static str,
    decided_by: Option<String>,
}

impl From<&SupplierReceipt> for SupplierReceiptBody {
    fn from(r: &SupplierReceipt) -> Self {
        let over_status = match (&r.decision, r.over()) {
            (_, 0) => "none",
            (None, _) => "pending",
            (Some(d), _) if d.approved => "approved",
            (Some(_), _) => "refused",
        };
        Self {
            number: r.number,
            at: rfc3339(r.at),
            by: r.by.to_string(),
            lines: r
                .lines
                .iter()
                .map(|l| ReceiptLineBody {
                    sku: l.sku.to_string(),
                    received: l.received,
                    damaged: l.damaged,
                    damage_reason: l.damage_reason.map(|d| d.as_str()),
                    missing: l.missing,
                    over: l.over,
                })
                .collect(),
            over_status,
            decided_by: r.decision.as_ref().map(|d| d.by.to_string()),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct OrderBody {
    id: u64,
    supplier: String,
    /// open, partially_received, received or closed.
    status: &'static str,
    /// A receipt has units beyond the order that head office has not decided on.
    awaiting_approval: bool,
    lines: Vec<OrderLineBody>,
    receipts: Vec<SupplierReceiptBody>,
    placed_at: String,
    placed_by: String,
    /// The order's value at its unit costs, in cents.
    total_cost_cents: i64,
}

impl From<&PurchaseOrder> for OrderBody {
    fn from(o: &PurchaseOrder) -> Self {
        Self {
            id: o.id,
            supplier: o.supplier.to_string(),
            status: o.status().as_str(),
            awaiting_approval: o.awaits_approval(),
            lines: o.lines.iter().map(|l| OrderLineBody::of(o, l)).collect(),
            receipts: o.receipts.iter().map(SupplierReceiptBody::from).collect(),
            placed_at: rfc3339(o.placed_at),
            placed_by: o.placed_by.to_string(),
            total_cost_cents: o
                .lines
                .iter()
                .map(|l| l.unit_cost * l.ordered)
                .sum::<Cents>()
                .0,
        }
    }
}

/// The order a purchase command left (a supplier command answers none).
fn order_of(done: Purchased) -> Result<(PurchaseOrder, bool, Option<u32>), ApiError> {
    match done {
        Purchased::Order {
            order,
            written,
            receipt,
        } => Ok((order, written, receipt)),
        Purchased::Supplier(_) => Err(ApiError::Internal(
            "an order command answered a supplier".into(),
        )),
    }
}

/// Places an order with a supplier: SKUs of the catalog, each once, with quantity and
/// unit cost. The same `Idempotency-Key` again answers the same order (200).
#[utoipa::path(
    tag = "achats",
    request_body = NewOrderBody,
    responses(
        (status = 201, description = "Commande passée", body = OrderBody),
        (status = 200, description = "La même commande, déjà passée sous cette clé", body = OrderBody)
    )
)]
#[post("/logistics/purchase-orders", wrap = "from_fn(forward::reference_data)")]
async fn place_order(
    app: web::Data<AppState>,
    user: Authenticated,
    key: IdemKey,
    body: web::Json<NewOrderBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageCentral, None)?;
    let new = parse_order(&app, &body, key.or_new())?;
    let command = PurchaseCommand::Place(new, user.username.clone());
    let (order, written, _) = order_of(app.registry.purchase(command).await?)?;
    let location = format!("/api/v1/logistics/purchase-orders/{}", order.id);
    Ok(created_or_ok(written)
        .insert_header(("Location", location))
        .json(OrderBody::from(&order)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OrdersQuery {
    /// open, partially_received, received or closed.
    status: Option<String>,
    supplier: Option<String>,
    /// Only orders with units beyond the order waiting for approval.
    awaiting_approval: Option<bool>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// The purchase orders, newest first.
#[utoipa::path(
    tag = "achats",
    params(OrdersQuery),
    responses((status = 200, description = "Commandes fournisseurs", body = Page<OrderBody>))
)]
#[get("/logistics/purchase-orders")]
async fn list_orders(
    app: web::Data<AppState>,
    user: Authenticated,
    query: web::Query<OrdersQuery>,
) -> Result<web::Json<Page<OrderBody>>, ApiError> {
    user.require(Permission::ReadCentral, None)?;
    let pagination = Pagination::new(query.page, query.per_page)?;
    let status = query.status.as_deref().map(OrderStatus::parse).transpose();
    let status = status.map_err(|e| ApiError::Validation(vec![FieldError::new("status", e)]))?;
    let wanted = |o: &&PurchaseOrder| {
        status.is_none_or(|s| o.status() == s)
            && query
                .supplier
                .as_deref()
                .is_none_or(|s| o.supplier.as_str() == s)
            && query
                .awaiting_approval
                .is_none_or(|a| o.awaits_approval() == a)
    };
    let found: Vec<PurchaseOrder> = app
        .purchasing
        .read(|p| p.orders().rev().filter(wanted).cloned().collect());
    Ok(web::Json(pagination.slice(found, |o| OrderBody::from(&o))))
}

fn order_not_found(id: u64) -> ApiError {
    ApiError::Chain(crate::actors::ChainActorError::Purchase(
        crate::domain::PurchaseError::UnknownOrder(id),
    ))
}

#[utoipa::path(
    tag = "achats",
    responses((status = 200, description = "Commande fournisseur", body = OrderBody))
)]
#[get("/logistics/purchase-orders/{order_id}")]
async fn get_order(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u64>,
) -> Result<web::Json<OrderBody>, ApiError> {
    user.require(Permission::ReadCentral, None)?;
    let id = path.into_inner();
    let order = app.purchasing.read(|p| p.order(id).map(OrderBody::from));
    order.map(web::Json).ok_or_else(|| order_not_found(id))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReceivedOrderBody {
    /// The receipt this call recorded (or found under its Idempotency-Key).
    receipt: u32,
    order: OrderBody,
}

/// Goods from the supplier against the order: no body, everything outstanding in good
/// condition; or counted per line (received, damaged with a reason, missing from the
/// delivery note). Good units go on hand at the order's cost (the average cost moves);
/// damaged ones are written off; good units beyond the order wait for approval. The same
/// `Idempotency-Key` again is the same receipt.
#[utoipa::path(
    tag = "achats",
    request_body(content = Option<super::restock::ReceiveBody>, description = "Sans corps : tout ce qui reste dû est arrivé"),
    responses(
        (status = 201, description = "Réception enregistrée", body = ReceivedOrderBody),
        (status = 200, description = "La même réception, déjà enregistrée sous cette clé", body = ReceivedOrderBody)
    )
)]
#[post("/logistics/purchase-orders/{order_id}/receipts", wrap = "from_fn(forward::reference_data)")]
async fn receive_order(
    app: web::Data<AppState>,
    user: Authenticated,
    key: IdemKey,
    path: web::Path<u64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageCentral, None)?;
    let receipt = parse_receipt(&body)?;
    let command = PurchaseCommand::Receive {
        order: path.into_inner(),
        receipt,
        key: key.or_new(),
        by: user.username.clone(),
    };
    let (order, written, number) = order_of(app.registry.purchase(command).await?)?;
    let body = ReceivedOrderBody {
        receipt: number.unwrap_or(0),
        order: OrderBody::from(&order),
    };
    Ok(created_or_ok(written).json(body))
}

async fn decide_over(
    app: &AppState,
    user: &Authenticated,
    (order, receipt): (u64, u32),
    approved: bool,
) -> Result<web::Json<OrderBody>, ApiError> {
    user.require(Permission::ApproveOverReceipts, None)?;
    let command = PurchaseCommand::DecideOver {
        order,
        receipt,
        approved,
        by: user.username.clone(),
    };
    let (order, _, _) = order_of(app.registry.purchase(command).await?)?;
    Ok(web::Json(OrderBody::from(&order)))
}

/// Head office approves a receipt's units beyond the order: they go on hand at the
/// order's cost.
#[utoipa::path(
    tag = "achats",
    responses((status = 200, description = "Excédent accepté", body = OrderBody))
)]
#[post(
    "/logistics/purchase-orders/{order_id}/receipts/{receipt}/approve",
    wrap = "from_fn(forward::reference_data)"
)]
async fn approve_over(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u64, u32)>,
) -> Result<web::Json<OrderBody>, ApiError> {
    decide_over(&app, &user, path.into_inner(), true).await
}

/// Head office refuses a receipt's units beyond the order: they go back to the supplier
/// and never enter stock.
#[utoipa::path(
    tag = "achats",
    responses((status = 200, description = "Excédent refusé", body = OrderBody))
)]
#[post(
    "/logistics/purchase-orders/{order_id}/receipts/{receipt}/reject",
    wrap = "from_fn(forward::reference_data)"
)]
async fn reject_over(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u64, u32)>,
) -> Result<web::Json<OrderBody>, ApiError> {
    decide_over(&app, &user, path.into_inner(), false).await
}

/// Closes an order: what is still outstanding will not come.
#[utoipa::path(
    tag = "achats",
    responses((status = 200, description = "Commande close", body = OrderBody))
)]
#[post("/logistics/purchase-orders/{order_id}/close", wrap = "from_fn(forward::reference_data)")]
async fn close_order(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u64>,
) -> Result<web::Json<OrderBody>, ApiError> {
    user.require(Permission::ManageCentral, None)?;
    let command = PurchaseCommand::Close {
        order: path.into_inner(),
        by: user.username.clone(),
    };
    let (order, _, _) = order_of(app.registry.purchase(command).await?)?;
    Ok(web::Json(OrderBody::from(&order)))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_suppliers)
        .service(put_supplier)
        .service(place_order)
        .service(list_orders)
        .service(get_order)
        .service(receive_order)
        .service(approve_over)
        .service(reject_over)
        .service(close_order);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_suppliers,
    put_supplier,
    place_order,
    list_orders,
    get_order,
    receive_order,
    approve_over,
    reject_over,
    close_order
))]
pub(super) struct Docs;
