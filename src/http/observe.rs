//! Every request gets an id (`X-Request-Id`, accepted when sane, else generated, always
//! echoed), one structured log line (method, route template, status, latency, id, user,
//! store) and its HTTP metrics. Error bodies name the id in `instance`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use std::time::Instant;

use super::AppState;
use super::problem::ApiError;
use super::route::store_in_path;
use crate::auth::Principal;
use crate::cluster::Cluster;
use crate::request_id::REQUEST_ID;

/// Who a request acted as, recorded by the `Authenticated` extractor for the log line.
#[derive(Clone)]
pub struct ActingUser(pub Principal);

fn accepted_id(raw: &str) -> bool {
    (1..=128).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub async fn observe<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("X-Request-Id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| accepted_id(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let app = req.app_data::<web::Data<AppState>>().cloned();
    let metrics = app.as_ref().map(|app| app.metrics.clone());
    if let Some(m) = &metrics {
        m.http_in_flight.inc();
    }
    let method = req.method().to_string();
    let misdirected = app
        .as_ref()
        .and_then(|app| not_owned(&app.cluster, req.path()));
    let result = REQUEST_ID
        .scope(request_id.clone(), async move {
            match misdirected {
                Some(error) => Ok(req.error_response(error).map_into_right_body()),
                None => next
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_left_body),
            }
        })
        .await;
    if let Some(m) = &metrics {
        m.http_in_flight.dec();
    }
    let mut response = result?;
    let elapsed = started.elapsed();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16();
    let acting = response.request().extensions().get::<ActingUser>().cloned();
    let (user, store) = acting.map_or((String::new(), String::new()), |a| {
        (
            a.0.username.to_string(),
            a.0.store.map(|s| s.to_string()).unwrap_or_default(),
        )
    });
    tracing::info!(
        target: "magasin::http",
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = %request_id,
        user = %user,
        store = %store,
        "request"
    );
    if let Some(m) = &metrics {
        m.observe_request(&route, &method, status, elapsed);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    // A forwarded answer keeps the name of the instance that made it.
    let instance = HeaderName::from_static("x-magasin-instance");
    if !response.headers().contains_key(&instance)
        && let Some(name) = app.and_then(|app| HeaderValue::from_str(app.cluster.name()).ok())
    {
        response.headers_mut().insert(instance, name);
    }
    Ok(response)
}

/// A request about a store that another instance owns: answered 421 naming the owner,
/// never from this instance's copy (HAProxy routes by owner; a client that bypasses it
/// learns where to go).
fn not_owned(cluster: &Cluster, path: &str) -> Option<ApiError> {
    let store = store_in_path(path)?;
    let owner = cluster.store_owner(store);
    (owner != cluster.name()).then(|| ApiError::NotOwner {
        store,
        owner: owner.to_owned(),
    })
}
