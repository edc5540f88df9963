//! The OpenAPI 3 description of `/api/v1`, generated from the handlers' annotations
//! (utoipa), served at `/api/v1/openapi.json`, and a page to read it at `/docs` whose
//! assets are built into the binary (it works with no internet access).

use actix_web::{HttpResponse, get, web};
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Required};

use super::problem::ProblemJson;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "magasin",
        version = "1",
        description = "API de la chaîne : magasins, ventes, retours, stock, réapprovisionnement, rapports. \
                       Errors are RFC 9457 problem+json with a stable `code` (docs/errors.md)."
    ),
    components(schemas(ProblemJson))
)]
struct ApiDoc;

/// The errors any operation may answer, besides its own success.
const COMMON_ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "Requête invalide (validation_failed, malformed_body, invalid_query, invalid_path)",
    ),
    (
        "401",
        "Jeton absent ou invalide (unauthenticated, invalid_token)",
    ),
    (
        "403",
        "Rôle ou magasin non permis (forbidden, forbidden_store)",
    ),
    ("404", "Ressource introuvable"),
    ("409", "Refusé par l'état courant (stock, transitions)"),
    ("422", "Référence inconnue ou clé d'idempotence réutilisée"),
    (
        "503",
        "Acteur occupé (unavailable) ou instance injoignable (instance_unavailable) ; réessayer après Retry-After",
    ),
    (
        "500",
        "Erreur interne ; le détail donne la référence de la requête",
    ),
];

/// In a cluster, the answer of an instance that does not hold the store a path names.
const MISDIRECTED: &str = "Magasin servi par une autre instance (misdirected_request) : \
                           errors[0].owner la nomme ; HAProxy y envoie directement";

/// A path that only its store's owner serves (the same rule as `route::store_in_path`).
fn owned_by_one_instance(path: &str) -> bool {
    path.starts_with("/api/v1/stores/{store_id}")
        || path.starts_with("/api/v1/logistics/restock-requests/{request_id}")
}

fn build() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for part in [
        super::auth::Docs::openapi(),
        super::users::Docs::openapi(),
        super::audit::Docs::openapi(),
        super::webhooks::Docs::openapi(),
        super::stores::Docs::openapi(),
        super::catalog::Docs::openapi(),
        super::stock::Docs::openapi(),
        super::replenishment::Docs::openapi(),
        super::sales::Docs::openapi(),
        super::till::Docs::openapi(),
        super::ledger::Docs::openapi(),
        super::restock::Docs::openapi(),
        super::transfers::Docs::openapi(),
        super::purchasing::Docs::openapi(),
        super::reports::Docs::openapi(),
        super::accounting::Docs::openapi(),
        super::jurisdictions::Docs::openapi(),
        super::events::Docs::openapi(),
    ] {
        doc.merge(part);
    }
    // Handlers are declared relative to the /api/v1 scope.
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(path, item)| (format!("/api/v1{path}"), item))
        .collect();
    let problem = |description: &str| {
        ResponseBuilder::new()
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ProblemJson")))
                    .build(),
            )
            .description(description)
            .build()
    };
    let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
    for (path, item) in doc.paths.paths.iter_mut() {
        let retried_writes = [
            "/sales",
            "/returns",
            "/adjustments",
            "/restock-requests",
            "/receipts",
        ];
        if let Some(post) = item.post.as_mut()
            && retried_writes.iter().any(|w| path.ends_with(w))
        {
            post.parameters.get_or_insert_with(Vec::new).push(RefOr::T(
                ParameterBuilder::new()
                    .name("Idempotency-Key")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(
                        "Clé de la caisse (1 à 200 caractères ASCII imprimables) : la même clé et le même corps \
                         rejouent la réponse d'origine (Idempotent-Replayed: true) ; un autre corps donne 422.",
                    ))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            ));
        }
        for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
            for (status, description) in COMMON_ERRORS {
                let response = problem(description);
                operation
                    .responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert(RefOr::T(response));
            }
            if path != "/api/v1/auth/login" {
                operation.security = Some(vec![bearer.clone()]);
            }
            if owned_by_one_instance(path) {
                operation
                    .responses
                    .responses
                    .entry("421".to_owned())
                    .or_insert(RefOr::T(problem(MISDIRECTED)));
            }
        }
    }
    if let Some(components) = doc.components.as_mut() {
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
    doc
}

/// The document, built once.
pub fn document() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        build()
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    })
}

#[get("/api/v1/openapi.json")]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

#[get("/docs")]
async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("docs/index.html"))
}

#[get("/docs/docs.js")]
async fn docs_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(include_str!("docs/docs.js"))
}

#[get("/docs/docs.css")]
async fn docs_style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(include_str!("docs/swagger-ui/swagger-ui.css"))
}

/// Swagger UI, vendored (`docs/swagger-ui/README.md`).
#[get("/docs/swagger-ui-bundle.js")]
async fn docs_viewer() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "max-age=86400"))
        .body(include_str!("docs/swagger-ui/swagger-ui-bundle.js"))
}

/// `/api/v1/openapi.json`, `/docs` and its assets; public, mounted at the root.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(openapi_json)
        .service(docs_page)
        .service(docs_script)
        .service(docs_style)
        .service(docs_viewer);
}
