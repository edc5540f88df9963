//! `/stores`: the chain's stores.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};

use actix_web::middleware::from_fn;

use super::auth::Authenticated;
use super::extract::store_id;
use super::forward;
use super::problem::{ApiError, FieldError};
use super::{AppState, rfc3339};
use crate::auth::Permission;
use crate::domain::{NewStore, Store, StoreDetails, TaxCode, TillNumber, ValueError, parse_label};

/// The longest `POST /stores` waits for the new store's owner to start it (the owner's
/// own wait for its copy).
const OWNER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Serialize, utoipa::ToSchema)]
pub struct StoreBody {
    id: u32,
    code: String,
    name: String,
    city: String,
    opened_at: String,
    address: String,
    /// Where it collects sales taxes: `QC`, `ON`.
    jurisdiction: String,
    time_zone: String,
    /// Tax registration numbers printed on its receipts, by tax code.
    registrations: Vec<RegistrationBody>,
    /// Tills 1 to `tills`.
    tills: u8,
    /// A discount above this percentage needs a manager's approval.
    approval_percent: u8,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    /// `GST`, `QST` or `HST`.
    code: String,
    number: String,
}

impl From<Store> for StoreBody {
    fn from(s: Store) -> Self {
        Self {
            id: s.id.get(),
            code: s.code,
            name: s.name,
            city: s.city,
            opened_at: rfc3339(s.opened_at),
            address: s.address,
            jurisdiction: s.jurisdiction,
            time_zone: s.time_zone,
            registrations: s
                .registrations
                .into_iter()
                .map(|(code, number)| RegistrationBody {
                    code: code.as_str().to_owned(),
                    number,
                })
                .collect(),
            tills: s.tills,
            approval_percent: s.approval_percent,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewStoreBody {
    code: String,
    name: String,
    city: String,
    /// Street address for receipts; the city when absent.
    address: Option<String>,
    /// `QC` when absent.
    jurisdiction: Option<String>,
    /// `America/Toronto` when absent.
    time_zone: Option<String>,
    #[serde(default)]
    registrations: Vec<RegistrationBody>,
    /// 2 when absent.
    tills: Option<i64>,
    /// 20 when absent.
    approval_percent: Option<i64>,
}

/// The details a new store's body gives, defaults filled and every field checked.
fn store_details(body: &NewStoreBody) -> Result<StoreDetails, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut details = StoreDetails::quebec(body.address.as_deref().unwrap_or(&body.city));
    if let Some(j) = &body.jurisdiction {
        details.jurisdiction = j.clone();
    }
    if let Some(tz) = &body.time_zone {
        match jiff::tz::TimeZone::get(tz) {
            Ok(_) => details.time_zone = tz.clone(),
            Err(_) => errors.push(FieldError::new("time_zone", ValueError::Label { max: 64 })),
        }
    }
    for (i, r) in body.registrations.iter().enumerate() {
        match (TaxCode::parse(&r.code), parse_label(&r.number, 32)) {
            (Some(code), Ok(number)) => details.registrations.push((code, number)),
            _ => errors.push(FieldError::new(
                format!("registrations[{i}]"),
                ValueError::Label { max: 32 },
            )),
        }
    }
    match body.tills.map(TillNumber::new).transpose() {
        Ok(tills) => details.tills = tills.map_or(details.tills, TillNumber::get),
        Err(e) => errors.push(FieldError::new("tills", e)),
    }
    match body
        .approval_percent
        .map(|p| u8::try_from(p).ok().filter(|p| *p <= 100))
    {
        None => {}
        Some(Some(p)) => details.approval_percent = p,
        Some(None) => errors.push(FieldError::new("approval_percent", ValueError::Discount)),
    }
    if errors.is_empty() {
        Ok(details)
    } else {
        Err(errors)
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct StoreList {
    items: Vec<StoreBody>,
}

#[utoipa::path(
    tag = "magasins",
    responses((status = 200, description = "Les magasins", body = StoreList))
)]
#[get("/stores")]
async fn list_stores(
    app: web::Data<AppState>,
    user: Authenticated,
) -> Result<web::Json<StoreList>, ApiError> {
    user.require(Permission::ReadChain, None)?;
    let items = app
        .catalog
        .stores()
        .into_iter()
        .map(StoreBody::from)
        .collect();
    Ok(web::Json(StoreList { items }))
}

#[utoipa::path(
    tag = "magasins",
    responses((status = 200, description = "Le magasin", body = StoreBody))
)]
#[get("/stores/{store_id}")]
async fn get_store(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
) -> Result<web::Json<StoreBody>, ApiError> {
    user.require(Permission::ReadChain, None)?;
    let id = store_id(path.into_inner())?;
    let store = app.catalog.store(id).ok_or(ApiError::StoreNotFound(id))?;
    Ok(web::Json(store.into()))
}

/// Opens a store; it is usable as soon as the answer arrives, with every catalog product
/// at zero on hand.
#[utoipa::path(
    tag = "magasins",
    request_body = NewStoreBody,
    responses((status = 201, description = "Magasin ouvert", body = StoreBody))
)]
#[post("/stores", wrap = "from_fn(forward::reference_data)")]
async fn create_store(
    app: web::Data<AppState>,
    user: Authenticated,
    body: web::Json<NewStoreBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageStores, None)?;
    let details = store_details(&body).map_err(ApiError::Validation)?;
    let new = NewStore::parse(&body.code, &body.name, &body.city, details).map_err(|errors| {
        errors
            .into_iter()
            .map(|(f, e)| FieldError::new(f, e))
            .collect::<Vec<_>>()
    })?;
    let store = app.registry.open_store(new).await?;
    // The store's owner starts its actor when its copy of the chain has the store.
    let (registry, peers, cluster) = (&app.registry, &app.peers, &app.cluster);
    crate::cluster::forward::store_in_effect(registry, peers, cluster, store.id, OWNER_WAIT).await;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/stores/{}", store.id)))
        .json(StoreBody::from(store)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StoreChangeBody {
    address: Option<String>,
    jurisdiction: Option<String>,
    time_zone: Option<String>,
    /// Replaces every registration number when given.
    registrations: Option<Vec<RegistrationBody>>,
    tills: Option<i64>,
    approval_percent: Option<i64>,
}

/// The store's details with the body's changes, each field checked.
fn changed_details(store: Store, body: StoreChangeBody) -> Result<StoreDetails, ApiError> {
    let replaced = body.registrations.is_some();
    let as_new = NewStoreBody {
        code: store.code,
        name: store.name,
        city: store.city,
        address: Some(body.address.unwrap_or(store.address)),
        jurisdiction: Some(body.jurisdiction.unwrap_or(store.jurisdiction)),
        time_zone: Some(body.time_zone.unwrap_or(store.time_zone)),
        registrations: body.registrations.unwrap_or_default(),
        tills: Some(body.tills.unwrap_or(i64::from(store.tills))),
        approval_percent: Some(
            body.approval_percent
                .unwrap_or(i64::from(store.approval_percent)),
        ),
    };
    let mut details = store_details(&as_new).map_err(ApiError::Validation)?;
    if !replaced {
        details.registrations = store.registrations;
    }
    Ok(details)
}

/// Changes a store's address, tax jurisdiction, registration numbers, tills or approval
/// threshold (head office). Sales from now on use them; recorded sales keep theirs.
#[utoipa::path(
    tag = "magasins",
    request_body = StoreChangeBody,
    responses((status = 200, description = "Le magasin modifié", body = StoreBody))
)]
#[patch("/stores/{store_id}", wrap = "from_fn(forward::reference_data)")]
async fn change_store(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    body: web::Json<StoreChangeBody>,
) -> Result<web::Json<StoreBody>, ApiError> {
    let id = store_id(path.into_inner())?;
    user.require(Permission::ManageStores, None)?;
    let store = app.catalog.store(id).ok_or(ApiError::StoreNotFound(id))?;
    let details = changed_details(store, body.into_inner())?;
    let changed = app.registry.chain().change_store(id, details).await?;
    Ok(web::Json(changed.into()))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_stores)
        .service(get_store)
        .service(create_store)
        .service(change_store);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_stores, get_store, create_store, change_store))]
pub(super) struct Docs;
