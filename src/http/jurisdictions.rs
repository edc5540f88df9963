//! `/jurisdictions`: where stores collect sales taxes, and every rate each ever had, as
//! reference data (ADR 0023). Head office adds a jurisdiction or a new rate from a date;
//! sales from that date use it, recorded sales keep theirs.

use actix_web::middleware::from_fn;
use actix_web::{get, put, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Authenticated;
use super::forward;
use super::problem::{ApiError, FieldError};
use crate::auth::Permission;
use crate::domain::{
    DatedRate, Jurisdiction, Rate, TaxCode, ValueError, parse_label, start_of_day,
};

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateBody {
    /// `GST`, `QST` or `HST`.
    code: String,
    /// Percent, as a decimal string: `9.975`.
    rate: String,
    /// The first day it applies, in the jurisdiction's time zone: `2013-01-01`.
    from: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JurisdictionBody {
    code: String,
    name: String,
    time_zone: String,
    rates: Vec<RateBody>,
}

impl From<Jurisdiction> for JurisdictionBody {
    fn from(j: Jurisdiction) -> Self {
        Self {
            code: j.code,
            name: j.name,
            time_zone: j.time_zone,
            rates: j
                .rates
                .into_iter()
                .map(|r| RateBody {
                    code: r.code.as_str().to_owned(),
                    rate: r.rate.percent(),
                    from: r.from_date,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct JurisdictionList {
    items: Vec<JurisdictionBody>,
}

/// Every jurisdiction with its rates (the till computes its taxes from them offline too).
#[utoipa::path(
    tag = "taxes",
    responses((status = 200, description = "Les juridictions et leurs taux", body = JurisdictionList))
)]
#[get("/jurisdictions")]
async fn list_jurisdictions(
    app: web::Data<AppState>,
    user: Authenticated,
) -> Result<web::Json<JurisdictionList>, ApiError> {
    user.require(Permission::ReadChain, None)?;
    let items = app
        .catalog
        .jurisdictions()
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(web::Json(JurisdictionList { items }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct JurisdictionChange {
    name: String,
    time_zone: String,
    /// Every rate the jurisdiction ever had, the new one included.
    rates: Vec<RateBody>,
}

fn dated(i: usize, body: &RateBody, zone: &str) -> Result<DatedRate, FieldError> {
    let field = |name: &str| format!("rates[{i}].{name}");
    let code = TaxCode::parse(&body.code).ok_or_else(|| FieldError {
        field: field("code"),
        code: "invalid_tax_code",
        detail: "Une taxe est GST, QST ou HST.".into(),
    })?;
    let rate = Rate::parse_percent(&body.rate).ok_or_else(|| FieldError {
        field: field("rate"),
        code: "invalid_rate",
        detail: "Un taux est un pourcentage de 0 à 100, trois décimales au plus (9.975).".into(),
    })?;
    let from = start_of_day(&body.from, zone).ok_or_else(|| FieldError {
        field: field("from"),
        code: "invalid_date",
        detail: "Une date AAAA-MM-JJ.".into(),
    })?;
    Ok(DatedRate {
        code,
        rate,
        from_date: body.from.clone(),
        from,
    })
}

fn jurisdiction(code: &str, body: JurisdictionChange) -> Result<Jurisdiction, ApiError> {
    let mut errors = Vec::new();
    if !Jurisdiction::valid_code(code) {
        errors.push(FieldError::new("code", ValueError::StoreCode));
    }
    let name = parse_label(&body.name, 80).map_err(|e| errors.push(FieldError::new("name", e)));
    if jiff::tz::TimeZone::get(&body.time_zone).is_err() {
        errors.push(FieldError::new("time_zone", ValueError::Label { max: 64 }));
    }
    let rates: Vec<DatedRate> = body
        .rates
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            dated(i, r, &body.time_zone)
                .map_err(|e| errors.push(e))
                .ok()
        })
        .collect();
    match name {
        Ok(name) if errors.is_empty() => Ok(Jurisdiction {
            code: code.to_owned(),
            name,
            time_zone: body.time_zone,
            rates,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Defines a jurisdiction with every rate it ever had (a new rate is added with its first
/// day). Sales from that day use it; recorded sales keep the taxes they were rung with.
#[utoipa::path(
    tag = "taxes",
    request_body = JurisdictionChange,
    responses((status = 200, description = "La juridiction", body = JurisdictionBody))
)]
#[put("/jurisdictions/{code}", wrap = "from_fn(forward::reference_data)")]
async fn set_jurisdiction(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
    body: web::Json<JurisdictionChange>,
) -> Result<web::Json<JurisdictionBody>, ApiError> {
    user.require(Permission::ManageTaxes, None)?;
    let jurisdiction = jurisdiction(&path.into_inner(), body.into_inner())?;
    let set = app.registry.chain().set_jurisdiction(jurisdiction).await?;
    Ok(web::Json(set.into()))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_jurisdictions).service(set_jurisdiction);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_jurisdictions, set_jurisdiction))]
pub(super) struct Docs;
