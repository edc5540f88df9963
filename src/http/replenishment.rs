//! `/stores/{store_id}/reorder-proposals`: reorder points and target levels proposed from
//! the store's own sales (ADR 0030), beside the current ones, and applied through the
//! store's levels message, so each change is journaled as `PUT …/levels` journals it.
//!
//! Served by the store's owner: the store's history and restocks are on that instance.

use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::AppState;
use super::auth::Authenticated;
use super::extract::known_store;
use super::problem::{ApiError, FieldError};
use crate::actors::now;
use crate::auth::Permission;
use crate::domain::{LeadTime, ReplenishmentPolicy, Sku, StoreId, z_score};
use crate::reports::replenishment::{self, ProposalLine, Sources};

/// The proposals of a store with what they were computed from.
#[derive(Serialize, utoipa::ToSchema)]
struct PreviewBody {
    store_id: u32,
    /// Cycle service level and its safety factor z.
    service_level: f64,
    z: f64,
    window_days: u32,
    review_days: u32,
    /// Logistics center → store, in days: `measured` (mean request → receipt of the
    /// store's received restocks, with their count) or `configured`.
    #[schema(value_type = Object)]
    lead_time: LeadTime,
    lines: Vec<ProposalLine>,
}

/// Every line's proposal for `id`: the window's sales from the history (on a blocking
/// thread), the route's lead time, the current levels.
async fn store_proposals(
    app: &AppState,
    id: StoreId,
) -> Result<(LeadTime, Vec<ProposalLine>), ApiError> {
    let policy: ReplenishmentPolicy = app.replenishment;
    let days = replenishment::window(now(), &app.time_zone, policy.window_days);
    let sales = app.sales.clone();
    let daily = web::block(move || sales.daily_units(id, &days)).await??;
    let lead = replenishment::store_lead_time(&app.restocks, id, policy.lead_time_days);
    let sources = Sources {
        catalog: &app.catalog,
        stock: &app.stock,
    };
    Ok((
        lead,
        replenishment::proposals(sources, id, &daily, lead, &policy),
    ))
}

/// Proposed levels of every product beside its current ones (a manager for their store,
/// head office for any). Nothing changes.
#[utoipa::path(
    tag = "stock",
    responses((status = 200, description = "Seuils proposés à partir des ventes", body = PreviewBody))
)]
#[get("/stores/{store_id}/reorder-proposals")]
async fn preview(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
) -> Result<web::Json<PreviewBody>, ApiError> {
    let id = known_store(&app, &user, path.into_inner(), Permission::ReadReports)?;
    let (lead_time, lines) = store_proposals(&app, id).await?;
    let policy = app.replenishment;
    Ok(web::Json(PreviewBody {
        store_id: id.get(),
        service_level: policy.service_level,
        z: z_score(policy.service_level),
        window_days: policy.window_days,
        review_days: policy.review_days,
        lead_time,
        lines,
    }))
}

/// Which proposals to apply: `{"all": true}`, or `{"skus": [...]}` (products of the
/// catalog, at most 1000).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ApplyBody {
    #[serde(default)]
    all: bool,
    skus: Option<Vec<String>>,
}

fn invalid(field: String, detail: &str) -> FieldError {
    FieldError {
        field,
        code: "invalid_selection",
        detail: detail.into(),
    }
}

/// The SKUs asked for (`None`: all), each a product of the catalog; else 400 naming each
/// bad field.
fn chosen(app: &AppState, body: ApplyBody) -> Result<Option<BTreeSet<Sku>>, ApiError> {
    let raw = match (body.all, body.skus) {
        (true, None) => return Ok(None),
        (false, Some(raw)) if (1..=1000).contains(&raw.len()) => raw,
        _ => {
            let detail = "Indiquez all: true ou une liste skus de 1 à 1000 produits.";
            return Err(ApiError::Validation(vec![invalid("skus".into(), detail)]));
        }
    };
    let mut errors = Vec::new();
    let mut skus = BTreeSet::new();
    for (i, raw) in raw.iter().enumerate() {
        match Sku::parse(raw) {
            Ok(sku) if app.catalog.product(&sku).is_some() => {
                skus.insert(sku);
            }
            Ok(_) => errors.push(invalid(format!("skus[{i}]"), "Produit inconnu.")),
            Err(e) => errors.push(FieldError::new(format!("skus[{i}]"), e)),
        }
    }
    if errors.is_empty() {
        Ok(Some(skus))
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// One line whose levels were set.
#[derive(Serialize, utoipa::ToSchema)]
struct AppliedLine {
    #[schema(value_type = String)]
    sku: Sku,
    reorder_point: u32,
    target_level: u32,
    previous_reorder_point: u32,
    previous_target_level: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
struct AppliedBody {
    /// The lines changed; a chosen line without a proposal, or already at it, is not.
    applied: Vec<AppliedLine>,
}

fn applied(lines: Vec<ProposalLine>, chosen: Option<&BTreeSet<Sku>>) -> Vec<AppliedLine> {
    lines
        .into_iter()
        .filter(|line| chosen.is_none_or(|skus| skus.contains(&line.sku)))
        .filter_map(|line| {
            let (reorder_point, target_level) = line.levels()?;
            Some(AppliedLine {
                sku: line.sku,
                reorder_point,
                target_level,
                previous_reorder_point: line.reorder_point,
                previous_target_level: line.target_level,
            })
        })
        .collect()
}

/// Sets the proposed levels of every line (`all`) or of the SKUs listed, in one durable
/// step (a manager for their store, head office for any). Applying again changes nothing.
#[utoipa::path(
    tag = "stock",
    request_body = ApplyBody,
    responses((status = 200, description = "Les lignes dont les seuils ont changé", body = AppliedBody))
)]
#[post("/stores/{store_id}/reorder-proposals/apply")]
async fn apply(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    body: web::Json<ApplyBody>,
) -> Result<web::Json<AppliedBody>, ApiError> {
    let id = known_store(&app, &user, path.into_inner(), Permission::Adjust)?;
    let chosen = chosen(&app, body.into_inner())?;
    let (_, lines) = store_proposals(&app, id).await?;
    let applied = applied(lines, chosen.as_ref());
    let levels: Vec<(Sku, u32, u32)> = applied
        .iter()
        .map(|a| (a.sku.clone(), a.reorder_point, a.target_level))
        .collect();
    if !levels.is_empty() {
        app.registry.store(id).await?.set_levels(levels).await?;
    }
    Ok(web::Json(AppliedBody { applied }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(preview).service(apply);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(preview, apply))]
pub(super) struct Docs;
