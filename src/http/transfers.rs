//! Transfers between stores (`/stores/{store_id}/transfers`): the sending store files and
//! ships them, the receiving store receives them (counted per line like a restock, with
//! damaged and missing units). Each step is served by the owner of the store in its path
//! (the store it writes); the sending store's side is reached over the internal API when
//! it lives elsewhere (`actors::transfer`).

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

use super::auth::Authenticated;
use super::extract::{LineBody, Pagination, known_store, parse_lines, store_id};
use super::problem::{ApiError, FieldError, lines_error};
use super::restock::{ChainPage, parse_receipt};
use super::{AppState, rfc3339};
use crate::actors::StoreError;
use crate::auth::Permission;
use crate::cluster::fanout::{self, Ask};
use crate::domain::{
    RequestedLine, StoreId, Transfer, TransferError, TransferId, TransferStatus, transfer_lines,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewTransferBody {
    /// The receiving store.
    to_store_id: u32,
    lines: Vec<LineBody>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TransferLineBody {
    sku: String,
    quantity: u32,
    shipped: u32,
    /// Reached the receiving store, damaged units included (written off in its ledger).
    received: u32,
    in_transit: u32,
    /// Once received: shipped and never arrived.
    missing: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TransferBody {
    id: String,
    from_store_id: u32,
    to_store_id: u32,
    /// requested, shipped or received.
    status: &'static str,
    lines: Vec<TransferLineBody>,
    requested_at: String,
    requested_by: String,
    updated_at: String,
}

impl From<Transfer> for TransferBody {
    fn from(t: Transfer) -> Self {
        let (shipped, received) = (
            t.status == TransferStatus::Shipped,
            t.status == TransferStatus::Received,
        );
        Self {
            id: t.id.to_string(),
            from_store_id: t.id.store.get(),
            to_store_id: t.to.get(),
            status: t.status.as_str(),
            lines: t
                .lines
                .iter()
                .map(|l| TransferLineBody {
                    sku: l.sku.to_string(),
                    quantity: l.quantity,
                    shipped: l.shipped,
                    received: l.received,
                    in_transit: if shipped { l.shipped } else { 0 },
                    missing: if received {
                        l.shipped.saturating_sub(l.received)
                    } else {
                        0
                    },
                })
                .collect(),
            requested_at: rfc3339(t.requested_at),
            requested_by: t.requested_by.to_string(),
            updated_at: rfc3339(t.updated_at),
        }
    }
}

/// The store and transfer of a `/stores/{store_id}/transfers/{transfer_id}` path, once
/// the user may act on that store with `permission`.
fn transfer_path(
    user: &Authenticated,
    permission: Permission,
    (raw_store, raw_id): (u32, String),
) -> Result<(StoreId, TransferId), ApiError> {
    let store = store_id(raw_store)?;
    user.require(permission, Some(store))?;
    let id = TransferId::parse(&raw_id)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("transfer_id", e)]))?;
    Ok((store, id))
}

fn not_found(id: TransferId) -> ApiError {
    ApiError::Store(StoreError::Transfer(TransferError::NotFound(id)))
}

fn parse_new(body: &NewTransferBody) -> Result<(StoreId, Vec<RequestedLine>), ApiError> {
    let to = StoreId::new(body.to_store_id)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("to_store_id", e)]))?;
    let lines = transfer_lines(parse_lines(&body.lines)?).map_err(lines_error)?;
    Ok((to, lines))
}

/// Files a transfer of stock from this store to another: nothing moves until it ships.
#[utoipa::path(
    tag = "transferts",
    request_body = NewTransferBody,
    responses((status = 201, description = "Transfert demandé", body = TransferBody))
)]
#[post("/stores/{store_id}/transfers")]
async fn create_transfer(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    body: web::Json<NewTransferBody>,
) -> Result<HttpResponse, ApiError> {
    let from = store_id(path.into_inner())?;
    user.require(Permission::RequestRestock, Some(from))?;
    let (to, lines) = parse_new(&body)?;
    app.catalog.store(to).ok_or(ApiError::StoreNotFound(to))?;
    let transfer = app
        .registry
        .request_transfer(from, to, lines, user.username.clone())
        .await?;
    let location = format!("/api/v1/stores/{from}/transfers/{}", transfer.id);
    Ok(HttpResponse::Created()
        .insert_header(("Location", location))
        .json(TransferBody::from(transfer)))
}

/// A transfer, read by either of its stores.
#[utoipa::path(
    tag = "transferts",
    responses((status = 200, description = "Transfert", body = TransferBody))
)]
#[get("/stores/{store_id}/transfers/{transfer_id}")]
async fn get_transfer(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, String)>,
) -> Result<web::Json<TransferBody>, ApiError> {
    let (store, id) = transfer_path(&user, Permission::ReadRestocks, path.into_inner())?;
    let transfer = app.registry.transfer(id).await?;
    if store != id.store && store != transfer.to {
        return Err(not_found(id));
    }
    Ok(web::Json(transfer.into()))
}

/// The sending store ships: every line leaves its on-hand (409 if short), in transit
/// until received. Shipping again moves nothing.
#[utoipa::path(
    tag = "transferts",
    responses((status = 200, description = "Transfert expédié", body = TransferBody))
)]
#[post("/stores/{store_id}/transfers/{transfer_id}/ship")]
async fn ship_transfer(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, String)>,
) -> Result<web::Json<TransferBody>, ApiError> {
    let (store, id) = transfer_path(&user, Permission::RequestRestock, path.into_inner())?;
    if store != id.store {
        return Err(not_found(id));
    }
    let by = user.username.clone();
    Ok(web::Json(app.registry.ship_transfer(id, by).await?.into()))
}

/// The receiving store receives: no body, everything shipped; or counted per line like a
/// restock (received, damaged with a reason and written off, missing), adding up to what
/// was shipped. Receiving again moves nothing.
#[utoipa::path(
    tag = "transferts",
    request_body(content = Option<super::restock::ReceiveBody>, description = "Sans corps : tout est arrivé"),
    responses((status = 200, description = "Transfert reçu", body = TransferBody))
)]
#[post("/stores/{store_id}/transfers/{transfer_id}/receive")]
async fn receive_transfer(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, String)>,
    body: web::Bytes,
) -> Result<web::Json<TransferBody>, ApiError> {
    let (store, id) = transfer_path(&user, Permission::ReceiveRestock, path.into_inner())?;
    let receipt = parse_receipt(&body)?;
    let by = user.username.clone();
    let transfer = app
        .registry
        .receive_transfer(store, id, receipt, by)
        .await?;
    Ok(web::Json(transfer.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TransfersQuery {
    /// requested, shipped or received.
    status: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// The transfers of one store, sent and received, on whichever instance the sending
/// stores live.
#[derive(Serialize, Deserialize)]
pub(super) struct TransfersAsk {
    store: StoreId,
    status: Option<TransferStatus>,
}

impl Ask<AppState> for TransfersAsk {
    type Part = Vec<Transfer>;
    type Error = ApiError;
    const NAME: &'static str = "transfers";

    fn local(&self, app: &AppState) -> impl Future<Output = Result<Self::Part, ApiError>> {
        std::future::ready(Ok(app.transfers.of_store(self.store, self.status)))
    }
}

/// The transfers a store sends and receives, newest first (each instance's part: a
/// transfer lives with its sending store).
#[utoipa::path(
    tag = "transferts",
    params(TransfersQuery),
    responses((status = 200, description = "Transferts du magasin", body = ChainPage<TransferBody>))
)]
#[get("/stores/{store_id}/transfers")]
async fn list_transfers(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    query: web::Query<TransfersQuery>,
) -> Result<web::Json<ChainPage<TransferBody>>, ApiError> {
    let store = known_store(&app, &user, path.into_inner(), Permission::ReadRestocks)?;
    let pagination = Pagination::new(query.page, query.per_page)?;
    let status = query
        .status
        .as_deref()
        .map(TransferStatus::parse)
        .transpose();
    let status = status.map_err(|e| ApiError::Validation(vec![FieldError::new("status", e)]))?;
    let gathered = fanout::gather(app.get_ref(), &TransfersAsk { store, status }).await?;
    // A transfer lives with its sending store, on any instance: one that did not answer
    // leaves the list partial.
    let coverage = gathered.coverage(&app.cluster, &[]);
    let mut found: Vec<Transfer> = gathered.parts.into_iter().flatten().collect();
    found.sort_by_key(|t| std::cmp::Reverse((t.requested_at, t.id)));
    let page = pagination.slice(found, TransferBody::from);
    Ok(web::Json(ChainPage { page, coverage }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_transfers)
        .service(create_transfer)
        .service(get_transfer)
        .service(ship_transfer)
        .service(receive_transfer);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_transfers, create_transfer, get_transfer, ship_transfer, receive_transfer))]
pub(super) struct Docs;
