//! The internal API (`/internal/v1/...`), between the instances of one chain, never for
//! clients: every call carries a token signed with the cluster secret
//! ([`crate::cluster::InternalKeys`]). HAProxy does not route `/internal` (see
//! `haproxy/haproxy.cfg`).
//!
//! - `GET chain/events?after=N&wait_ms=W`: the reference data's change feed, in journal
//!   order, resumable from any sequence; waits up to `W` ms for news (long poll).
//! - `POST chain/caught-up?seq=N`: answers once this copy has event `N` (a new store's
//!   owner is told before `POST /stores` answers, so the store is usable at once).
//! - `POST central/{sku}`: one [`CentralOp`] on the product's actor, which this instance
//!   owns; idempotent by request or receipt id, so the caller may retry.
//! - `POST stores/{id}/transfer`: one [`SourceOp`] on a transfer's sending store, which
//!   this instance owns; idempotent by transfer id.
//! - `POST parts/{name}`: this instance's part of a chain-wide read ([`super::fanout`]).
//! - `GET events?after=N`: this instance's live events, for the `/events` clients of the
//!   others ([`super::events`]).
//!
//! The feed's rules and the follower's loop are in [`crate::cluster::feed`].

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::json;
use std::future::ready;
use std::time::Duration;

use super::AppState;
use super::accounting::TillAsk;
use super::catalog::AvailabilityAsk;
use super::extract::{sku, store_id};
use super::problem::ApiError;
use super::reports::{SalesAsk, StockAsk};
use super::restock::RestocksAsk;
use super::transfers::TransfersAsk;
use crate::actors::{CentralOp, SourceOp};
use crate::cluster::fanout::Ask;
use crate::cluster::{CLUSTER_HEADER, Call, FeedPage, feed};
use crate::domain::Transfer;

/// A call from another instance of the chain: its name, and the body it signed.
pub struct Peer {
    pub name: String,
    pub body: web::Bytes,
}

/// The path and query a request was sent to, as its caller signed them.
fn path_and_query(req: &HttpRequest) -> &str {
    req.uri()
        .path_and_query()
        .map_or(req.path(), |p| p.as_str())
}

fn signed_call(req: &HttpRequest) -> Option<Call> {
    let app = req.app_data::<web::Data<AppState>>()?;
    let token = req.headers().get(CLUSTER_HEADER)?.to_str().ok()?;
    app.peers
        .keys()
        .call(token, req.method().as_str(), path_and_query(req))
}

impl Peer {
    /// The instance that forwarded this request, if another instance did. The body is not
    /// read here: this only keeps a forwarded request from being forwarded again, and the
    /// request still carries its user's own credentials.
    pub fn forwarder(req: &HttpRequest) -> Option<String> {
        signed_call(req).map(|call| call.from)
    }
}

impl FromRequest for Peer {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    /// Refuses a call without a valid token before reading its body, then a body other
    /// than the one signed, then a token already used.
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (Some(call), Some(app)) = (
            signed_call(req),
            req.app_data::<web::Data<AppState>>().cloned(),
        ) else {
            return Box::pin(ready(Err(ApiError::ClusterUnauthenticated)));
        };
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|e| match e.as_error::<PayloadError>() {
                Some(PayloadError::Overflow) => ApiError::PayloadTooLarge,
                _ => ApiError::MalformedBody(e.to_string()),
            })?;
            if !call.sent(&body) || !app.peers.keys().first_use(&call) {
                return Err(ApiError::ClusterUnauthenticated);
            }
            Ok(Peer {
                name: call.from,
                body,
            })
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    after: u64,
    /// The follower's [`crate::cluster::chain_digest`] of its event `after`.
    digest: Option<String>,
    wait_ms: Option<u64>,
}

#[get("/chain/events")]
async fn chain_events(
    app: web::Data<AppState>,
    _peer: Peer,
    query: web::Query<FeedQuery>,
) -> Result<web::Json<FeedPage>, ApiError> {
    let wait = Duration::from_millis(query.wait_ms.unwrap_or(0));
    let page = feed::page(&app.registry, query.after, query.digest.as_deref(), wait).await?;
    Ok(web::Json(page))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeqQuery {
    seq: u64,
}

#[post("/chain/caught-up")]
async fn chain_caught_up(
    app: web::Data<AppState>,
    _peer: Peer,
    query: web::Query<SeqQuery>,
) -> Result<web::Json<serde_json::Value>, ApiError> {
    let reached = feed::caught_up(&app.registry, query.seq)
        .await
        .map_err(|reached| {
            ApiError::PeerUnavailable(format!(
                "reference data copy at {reached}, waiting for {}",
                query.seq
            ))
        })?;
    Ok(web::Json(json!({ "seq": reached })))
}

#[post("/central/{sku}")]
async fn central(
    app: web::Data<AppState>,
    peer: Peer,
    path: web::Path<String>,
) -> Result<web::Json<serde_json::Value>, ApiError> {
    let sku = sku(&path)?;
    let op: CentralOp =
        serde_json::from_slice(&peer.body).map_err(|e| ApiError::MalformedBody(e.to_string()))?;
    tracing::debug!(from = %peer.name, sku = %sku, op = ?op, "central stock call");
    app.cluster.holds_product(&sku).map_err(|owner| {
        ApiError::PeerUnavailable(format!("central stock of {sku} is held by {owner}"))
    })?;
    let value = app.registry.central(&sku, op).await?;
    Ok(web::Json(json!({ "value": value })))
}

#[post("/stores/{store_id}/transfer")]
async fn transfer_at_source(
    app: web::Data<AppState>,
    peer: Peer,
    path: web::Path<u32>,
) -> Result<web::Json<Transfer>, ApiError> {
    let store = store_id(*path)?;
    let op: SourceOp =
        serde_json::from_slice(&peer.body).map_err(|e| ApiError::MalformedBody(e.to_string()))?;
    tracing::debug!(from = %peer.name, store = %store, op = ?op, "transfer call");
    if !app.cluster.owns_store(store) {
        return Err(ApiError::PeerUnavailable(format!(
            "store {store} is held by {}",
            app.cluster.store_owner(store)
        )));
    }
    Ok(web::Json(app.registry.at_source(store, op).await?))
}

#[post("/parts/{name}")]
async fn part(
    app: web::Data<AppState>,
    peer: Peer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let body = peer.body;
    match path.as_str() {
        SalesAsk::NAME => serve::<SalesAsk>(&app, &body).await,
        StockAsk::NAME => serve::<StockAsk>(&app, &body).await,
        TillAsk::NAME => serve::<TillAsk>(&app, &body).await,
        RestocksAsk::NAME => serve::<RestocksAsk>(&app, &body).await,
        TransfersAsk::NAME => serve::<TransfersAsk>(&app, &body).await,
        AvailabilityAsk::NAME => serve::<AvailabilityAsk>(&app, &body).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

/// This instance's part of the question in `body`.
async fn serve<Q: Ask<AppState, Error = ApiError>>(
    app: &AppState,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let ask: Q =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedBody(e.to_string()))?;
    Ok(HttpResponse::Ok().json(ask.local(app).await?))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(chain_events)
        .service(chain_caught_up)
        .service(central)
        .service(transfer_at_source)
        .service(part)
        .service(super::events::internal_events);
}
