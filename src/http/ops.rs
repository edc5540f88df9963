//! Operations: liveness, readiness and Prometheus metrics. Open (no token): HAProxy and
//! Prometheus call them.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use super::AppState;
use crate::cluster::health::{self, Readiness};

/// The process is up and serving HTTP.
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "live"}))
}

/// Ready to take writes: recovery finished (the server only listens after it) and the
/// journal is writable (its last commit succeeded, or, after a failure, an empty commit
/// tried now does: a disk that came back makes the instance ready again).
#[get("/health/ready")]
async fn ready(app: web::Data<AppState>) -> HttpResponse {
    let readiness = health::readiness(
        &app.registry,
        &app.cluster,
        &app.seeded,
        &app.chain_diverged,
    );
    answer(readiness.await)
}

/// 200 with the instance's part in the reference data, or 503 saying why not.
fn answer(readiness: Readiness) -> HttpResponse {
    match readiness {
        Readiness::Diverged => not_ready(
            "chain_diverged",
            None,
            "Le référentiel de cette instance n'est pas celui de son propriétaire ; \
             restaurez ou reconstruisez son répertoire de données.",
        ),
        Readiness::Seeding => not_ready(
            "not_ready",
            Some(1),
            "Les données de démonstration se mettent en place avec les autres instances.",
        ),
        Readiness::DiskFailing => not_ready(
            "not_ready",
            Some(5),
            "Le journal n'accepte pas d'écriture pour le moment (disque en défaut) ; \
             l'instance redevient prête quand il en accepte de nouveau.",
        ),
        Readiness::Ready {
            owns_reference_data,
        } => {
            let reference_data = if owns_reference_data {
                "owner"
            } else {
                "follower"
            };
            HttpResponse::Ok().json(json!({"status": "ready", "reference_data": reference_data}))
        }
    }
}

/// 503 problem+json: HAProxy and orchestrators send no traffic here meanwhile.
fn not_ready(code: &str, retry_after: Option<u32>, detail: &str) -> HttpResponse {
    let mut response = HttpResponse::ServiceUnavailable();
    if let Some(seconds) = retry_after {
        response.insert_header(("Retry-After", seconds.to_string()));
    }
    response
        .content_type("application/problem+json")
        .json(json!({
            "type": format!("urn:magasin:problem:{code}"),
            "title": "Not ready",
            "status": 503,
            "code": code,
            "detail": detail,
        }))
}

#[get("/metrics")]
async fn metrics(app: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(app.metrics.encode())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(live).service(ready).service(metrics);
}
