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
//! - `POST parts/{name}`: this instance's part of a chain-wide read ([`super::fanout`]).
//! - `GET events?after=N`: this instance's live events, for the `/events` clients of the
//!   others ([`super::events`]).
//!
//! [`follow_chain`] is the other side of the feed: the loop of a follower.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::json;
use std::future::ready;
use std::time::Duration;

use super::AppState;
use super::catalog::AvailabilityAsk;
use super::extract::sku;
use super::fanout::{self, Ask};
use super::problem::ApiError;
use super::reports::{SalesAsk, StockAsk};
use super::restock::RestocksAsk;
use crate::actors::CentralOp;
use crate::cluster::{CLUSTER_HEADER, Call, FeedPage, PeerError, chain_digest};
use crate::domain::ChainEvent;
use crate::persistence::StreamId;

/// Events per feed page.
const FEED_PAGE: usize = 1_000;
/// The longest a feed request waits for news.
const MAX_WAIT: Duration = Duration::from_secs(25);
/// How long a follower waits for news per request.
const FOLLOW_WAIT: Duration = Duration::from_secs(10);

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
    /// The follower's [`chain_digest`] of its event `after`.
    digest: Option<String>,
    wait_ms: Option<u64>,
}

/// Event `seq` of the reference data (compacted ones from the archive). Blocking.
fn chain_event(app: &AppState, seq: u64) -> Result<Option<ChainEvent>, ApiError> {
    let events: Vec<(u64, ChainEvent)> = app
        .journal
        .read(&StreamId::chain(), seq.saturating_sub(1), 1)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(events.into_iter().find(|(s, _)| *s == seq).map(|(_, e)| e))
}

#[get("/chain/events")]
async fn chain_events(
    app: web::Data<AppState>,
    _peer: Peer,
    query: web::Query<FeedQuery>,
) -> Result<web::Json<FeedPage>, ApiError> {
    let chain = app.registry.chain();
    // A copy is a prefix of this journal, or it is not a copy of it: a follower ahead of
    // its owner, or whose last event differs, was written elsewhere (it once ran alone, or
    // the owner changed) and must not go on as if it were.
    if query.after > chain.seq() {
        return Err(ApiError::ChainDiverged(format!(
            "the copy has {} events, the owner {}",
            query.after,
            chain.seq()
        )));
    }
    if let Some(theirs) = &query.digest {
        let state = app.clone();
        let after = query.after;
        let ours = web::block(move || chain_event(&state, after))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??
            .map(|e| chain_digest(&e))
            .transpose()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if ours.as_deref() != Some(theirs.as_str()) {
            return Err(ApiError::ChainDiverged(format!(
                "event {after} differs from the owner's"
            )));
        }
    }
    let wait = Duration::from_millis(query.wait_ms.unwrap_or(0)).min(MAX_WAIT);
    // Only what is durable here: a follower must never hold an event the owner could lose.
    let durable = chain.wait_after(query.after, wait).await;
    if durable <= query.after {
        return Ok(web::Json(FeedPage { events: Vec::new() }));
    }
    let journal = app.journal.clone();
    let after = query.after;
    let limit = FEED_PAGE.min(usize::try_from(durable - after).unwrap_or(FEED_PAGE));
    let events = web::block(move || journal.read(&StreamId::chain(), after, limit))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(web::Json(FeedPage { events }))
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
    let reached = app
        .registry
        .wait_applied(query.seq, Duration::from_secs(5))
        .await;
    if reached < query.seq {
        return Err(ApiError::PeerUnavailable(format!(
            "reference data copy at {reached}, waiting for {}",
            query.seq
        )));
    }
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
    let owner = app.cluster.product_owner(&sku);
    if owner != app.cluster.name() {
        return Err(ApiError::PeerUnavailable(format!(
            "central stock of {sku} is held by {owner}"
        )));
    }
    let value = app.registry.central(&sku, op).await?;
    Ok(web::Json(json!({ "value": value })))
}

#[post("/parts/{name}")]
async fn part(
    app: web::Data<AppState>,
    peer: Peer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let body = peer.body;
    match path.as_str() {
        SalesAsk::NAME => fanout::serve::<SalesAsk>(&app, &body).await,
        StockAsk::NAME => fanout::serve::<StockAsk>(&app, &body).await,
        RestocksAsk::NAME => fanout::serve::<RestocksAsk>(&app, &body).await,
        AvailabilityAsk::NAME => fanout::serve::<AvailabilityAsk>(&app, &body).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(chain_events)
        .service(chain_caught_up)
        .service(central)
        .service(part)
        .service(super::events::internal_events);
}

/// A follower's copy of the reference data: asks the owner's feed for what follows its
/// last durable event, journals it, and asks again; after an error, waits and resumes
/// from the same point (nothing is skipped, nothing applied twice).
pub fn follow_chain(app: web::Data<AppState>) {
    actix_rt::spawn(async move {
        let mut failures = 0_u32;
        loop {
            let after = app.registry.chain().seq();
            let digest = match after {
                0 => None,
                _ => {
                    let state = app.clone();
                    web::block(move || chain_event(&state, after))
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .flatten()
                        .and_then(|e| chain_digest(&e).ok())
                }
            };
            let page = app
                .peers
                .chain_feed(after, digest.as_deref(), FOLLOW_WAIT)
                .await;
            if let Err(PeerError::Refused { code, .. }) = &page
                && code == "chain_diverged"
            {
                if !app
                    .chain_diverged
                    .swap(true, std::sync::atomic::Ordering::AcqRel)
                {
                    tracing::error!(
                        after,
                        owner = %app.cluster.chain_owner(),
                        "this instance's reference data is not the owner's: not ready until \
                         its data directory is restored or rebuilt from the owner"
                    );
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
            if let Err(PeerError::Undecodable { reason, .. }) = &page {
                if failures.is_multiple_of(120) {
                    tracing::error!(
                        after,
                        owner = %app.cluster.chain_owner(),
                        reason = %reason,
                        "the owner's reference data holds events this version cannot read: \
                         upgrade this instance (its copy stays as it is until then)"
                    );
                }
                failures += 1;
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
            let result = match page {
                Ok(page) if page.events.is_empty() => Ok(after),
                Ok(page) => app
                    .registry
                    .replicate_chain(page.events)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(_) => {
                    if failures > 0 {
                        tracing::info!("reference data feed resumed");
                    }
                    failures = 0;
                }
                Err(e) => {
                    if failures == 0 {
                        tracing::warn!(error = %e, after, "reference data feed interrupted; retrying");
                    }
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
}
