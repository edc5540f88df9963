//! Forwarding to the instance that owns what a request writes: a write of the reference
//! data (a store opened, a user created or deactivated) that reaches a follower goes to
//! the owner of the reference data over the keep-alive pool, and its answer comes back as
//! the owner gave it, `X-Magasin-Instance` included. The owner names the sequence of its
//! reference data after the write ([`CHAIN_SEQ_HEADER`]) and the follower answers once its
//! own copy has it (at most [`CATCH_UP`]), so the client reads its write on either.

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpResponse, ResponseError, web};

use super::AppState;
use super::problem::ApiError;

/// On the answer to a write of the reference data: the owner's sequence after it.
pub const CHAIN_SEQ_HEADER: &str = "x-magasin-chain-seq";
/// The longest the owner may take to answer a forwarded write.
const FORWARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The longest a follower holds a forwarded answer for its copy to catch up.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(1);

/// Request headers that describe one hop, not the request.
const HOP_HEADERS: [&str; 6] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
];

/// A write of the reference data: `POST /api/v1/stores`, `POST /api/v1/users[/…]`,
/// `POST /api/v1/products`, `PATCH /api/v1/products/{sku}`.
pub fn is_chain_write(method: &actix_web::http::Method, path: &str) -> bool {
    use actix_web::http::Method;
    match *method {
        Method::POST => {
            path == "/api/v1/stores"
                || path == "/api/v1/products"
                || path == "/api/v1/users"
                || path.starts_with("/api/v1/users/")
        }
        Method::PATCH => path.starts_with("/api/v1/products/"),
        _ => false,
    }
}

/// The product whose central ledger a path reads (`/api/v1/logistics/stock/{sku}/ledger`):
/// its journal is on the product's owner.
pub fn central_ledger_sku(path: &str) -> Option<crate::domain::Sku> {
    let rest = path.strip_prefix("/api/v1/logistics/stock/")?;
    let sku = rest.strip_suffix("/ledger")?;
    crate::domain::Sku::parse(sku).ok()
}

/// Waits until the copies of the reference data on `instances` have this instance's latest
/// write, at most `wait` each (together). An instance that does not answer in time is
/// logged, `what` naming the write; it takes the write from its change feed when back.
pub async fn in_effect_on<'a>(
    app: &AppState,
    instances: impl Iterator<Item = &'a str>,
    wait: std::time::Duration,
    what: &str,
) {
    let seq = app.registry.chain().seq();
    let waits = instances.map(|instance| async move {
        let caught_up = tokio::time::timeout(wait, app.peers.wait_for_chain(instance, seq)).await;
        (instance, caught_up)
    });
    for (instance, caught_up) in futures_util::future::join_all(waits).await {
        let error = match caught_up {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} ms", wait.as_millis()),
        };
        tracing::warn!(%instance, seq, %error, "{what} not yet in effect there");
    }
}

/// Sends `req` to `owner` and answers with the owner's response.
pub async fn to_owner(app: &AppState, owner: &str, req: ServiceRequest) -> ServiceResponse {
    let (http, mut payload) = req.into_parts();
    let response = match web::Bytes::from_request(&http, &mut payload).await {
        Ok(body) => relay(app, owner, &http, body)
            .await
            .unwrap_or_else(|e| e.error_response()),
        Err(e) => e.error_response(),
    };
    ServiceResponse::new(http, response)
}

async fn relay(
    app: &AppState,
    owner: &str,
    http: &actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let path = http
        .uri()
        .path_and_query()
        .map_or(http.path(), |p| p.as_str());
    let method = reqwest::Method::from_bytes(http.method().as_str().as_bytes())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let unavailable =
        |e: &dyn std::fmt::Display| ApiError::PeerUnavailable(format!("{owner}: {e}"));
    let mut builder = app
        .peers
        .request_with_body(method, owner, path, body)
        .map_err(|e| unavailable(&e))?;
    for (name, value) in http.headers() {
        // The body was read decompressed: its encoding no longer applies.
        let ours = matches!(
            name.as_str(),
            "x-request-id" | "content-encoding" | crate::cluster::CLUSTER_HEADER
        );
        if !HOP_HEADERS.contains(&name.as_str()) && !ours {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = builder
        .timeout(FORWARD_TIMEOUT)
        .send()
        .await
        .map_err(|e| unavailable(&e))?;
    let status = StatusCode::from_u16(answer.status().as_u16()).map_err(|e| unavailable(&e))?;
    let mut response = HttpResponse::build(status);
    for (name, value) in answer.headers() {
        if HOP_HEADERS.contains(&name.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            response.append_header((name, value));
        }
    }
    let written = answer
        .headers()
        .get(CHAIN_SEQ_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bytes = answer.bytes().await.map_err(|e| unavailable(&e))?;
    if let Some(seq) = written {
        app.registry.chain().wait_for(seq, CATCH_UP).await;
    }
    Ok(response.body(bytes))
}
