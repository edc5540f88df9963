//! What auditors read: the public key that signs Z reports, and a store's hash chain
//! verified from its first event (ADR 0027).

use actix_web::{get, web};
use serde::Serialize;

use super::AppState;
use super::auth::Authenticated;
use super::extract::store_id;
use super::problem::ApiError;
use crate::actors::Verified;
use crate::auth::Permission;

#[derive(Serialize, utoipa::ToSchema)]
struct PublicKeyBody {
    algorithm: &'static str,
    /// The Ed25519 public key that signs Z reports (32 bytes, hexadecimal).
    public_key: String,
}

/// The key Z reports are signed with: anyone may check a printed Z report with it.
#[utoipa::path(
    tag = "audit",
    responses((status = 200, description = "Clé publique des rapports Z", body = PublicKeyBody))
)]
#[get("/audit/public-key")]
async fn public_key(app: web::Data<AppState>) -> web::Json<PublicKeyBody> {
    web::Json(PublicKeyBody {
        algorithm: "Ed25519",
        public_key: app.seal.public_hex(),
    })
}

#[derive(Serialize, utoipa::ToSchema)]
struct BreakBody {
    seq: u64,
    reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct VerifiedBody {
    stream: String,
    /// Events whose hash was checked, from the first ever written (archive included).
    events_checked: u64,
    /// The hash of the last event checked (hexadecimal).
    head: String,
    /// Where the chain breaks; `null` when it is whole.
    broken: Option<BreakBody>,
}

impl From<Verified> for VerifiedBody {
    fn from(v: Verified) -> Self {
        Self {
            stream: v.stream.to_string(),
            events_checked: v.checked,
            head: hex::encode(v.head),
            broken: v.broken.map(|(seq, why)| BreakBody {
                seq,
                reason: why.to_string(),
            }),
        }
    }
}

/// Verifies the store's hash chain from its first event, as `magasin verify` does for a
/// stopped instance: 200 in both cases, `broken` says where it breaks.
#[utoipa::path(
    tag = "audit",
    responses((status = 200, description = "Chaîne du magasin vérifiée", body = VerifiedBody))
)]
#[get("/stores/{store_id}/verify")]
async fn verify_store(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
) -> Result<web::Json<VerifiedBody>, ApiError> {
    let id = store_id(path.into_inner())?;
    user.require(Permission::VerifyJournal, Some(id))?;
    app.registry.store(id).await?;
    let verified = app.registry.verify_store(id).await?;
    Ok(web::Json(verified.into()))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(public_key).service(verify_store);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(public_key, verify_store))]
pub(super) struct Docs;
