//! Operations: liveness, readiness and Prometheus metrics. Open (no token): HAProxy and
//! Prometheus call them.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use super::AppState;

/// The process is up and serving HTTP.
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "live"}))
}

/// Ready to take writes: recovery finished (the server only listens after it) and the
/// journal is writable (no commit has failed since start).
#[get("/health/ready")]
async fn ready(app: web::Data<AppState>) -> HttpResponse {
    if app
        .chain_diverged
        .load(std::sync::atomic::Ordering::Acquire)
    {
        HttpResponse::ServiceUnavailable()
            .content_type("application/problem+json")
            .json(json!({
                "type": "urn:magasin:problem:chain_diverged",
                "title": "Not ready",
                "status": 503,
                "code": "chain_diverged",
                "detail": "Le référentiel de cette instance n'est pas celui de son propriétaire ; restaurez ou reconstruisez son répertoire de données.",
            }))
    } else if !app.seeded.load(std::sync::atomic::Ordering::Acquire) {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "1"))
            .content_type("application/problem+json")
            .json(json!({
                "type": "urn:magasin:problem:not_ready",
                "title": "Not ready",
                "status": 503,
                "code": "not_ready",
                "detail": "Les données de démonstration se mettent en place avec les autres instances.",
            }))
    } else if app.journal.is_writable() {
        HttpResponse::Ok().json(json!({"status": "ready"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .content_type("application/problem+json")
            .json(json!({
                "type": "urn:magasin:problem:not_ready",
                "title": "Not ready",
                "status": 503,
                "code": "not_ready",
                "detail": "Le journal n'accepte plus d'écritures ; l'instance doit redémarrer.",
            }))
    }
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
