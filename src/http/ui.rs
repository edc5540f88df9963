//! The web application (French, for stores and head office): static files from `web/`,
//! built into the release binary, served at `/` and `/ui/…`. Nothing is fetched from
//! elsewhere: the pages work on an isolated store network.

use actix_web::{HttpResponse, get, web};

use super::problem::ApiError;

#[derive(rust_embed::RustEmbed)]
#[folder = "web/"]
struct Assets;

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

fn serve(name: &str) -> Result<HttpResponse, ApiError> {
    let file = Assets::get(name).ok_or(ApiError::RouteNotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(content_type(name))
        .insert_header(("Cache-Control", "no-cache"))
        .body(file.data.into_owned()))
}

/// The application shell; screens are chosen by the URL fragment (`#/caisse`).
#[get("/")]
async fn index() -> Result<HttpResponse, ApiError> {
    serve("index.html")
}

#[get("/ui/{file}")]
async fn asset(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&path)
}

/// The till's service worker, at the root so that it serves the whole application offline.
#[get("/sw.js")]
async fn service_worker() -> Result<HttpResponse, ApiError> {
    serve("sw.js")
}

/// What makes the till installable.
#[get("/manifest.webmanifest")]
async fn manifest() -> Result<HttpResponse, ApiError> {
    serve("manifest.webmanifest")
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(index)
        .service(asset)
        .service(service_worker)
        .service(manifest);
}
