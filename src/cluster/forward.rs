//! Forwarding to the instance that owns what a request writes: a write of the reference
//! data (a store opened, a user created or deactivated) that reaches a follower goes to
//! the owner of the reference data over the keep-alive pool, and its answer comes back as
//! the owner gave it, `X-Magasin-Instance` included. The owner names the sequence of its
//! reference data after the write ([`CHAIN_SEQ_HEADER`]) and the follower answers once its
//! own copy has it (at most [`CATCH_UP`]), so the client reads its write on either. Which
//! routes are forwarded is declared on each route (`http::forward`).

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpResponse, web};

use super::{CLUSTER_HEADER, Peers};
use crate::actors::Registry;

/// Why a forwarded request got no answer from its owner.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The owner did not answer (or not in time).
    #[error("{0}")]
    Unavailable(String),
    /// The request could not be sent as it came.
    #[error("{0}")]
    Unsendable(String),
}

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

/// Waits until the copies of the reference data on `instances` have this instance's latest
/// write, at most `wait` each (together). An instance that does not answer in time is
/// logged, `what` naming the write; it takes the write from its change feed when back.
pub async fn in_effect_on<'a>(
    registry: &Registry,
    peers: &Peers,
    instances: impl Iterator<Item = &'a str>,
    wait: std::time::Duration,
    what: &str,
) {
    let seq = registry.chain().seq();
    let waits = instances.map(|instance| async move {
        let caught_up = tokio::time::timeout(wait, peers.wait_for_chain(instance, seq)).await;
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

/// After a store was opened here: once the store's owner (when it is another instance)
/// has it in its copy of the reference data, so the store takes requests as soon as the
/// client is answered (at most `wait`).
pub async fn store_in_effect(
    registry: &Registry,
    peers: &Peers,
    cluster: &super::Cluster,
    store: crate::domain::StoreId,
    wait: std::time::Duration,
) {
    let owner = cluster.store_owner(store);
    if owner != cluster.name() {
        in_effect_on(registry, peers, std::iter::once(owner), wait, "new store").await;
    }
}

/// Sends the request (`http` and its `body`) to `owner` and gives back the owner's answer,
/// once this instance's copy of the reference data holds what the owner wrote. The owner
/// learns the client's address, as this instance resolved it, in `client_header`.
pub async fn relay(
    registry: &Registry,
    peers: &Peers,
    owner: &str,
    http: &actix_web::HttpRequest,
    body: web::Bytes,
    client_header: (&str, String),
) -> Result<HttpResponse, ForwardError> {
    let path = http
        .uri()
        .path_and_query()
        .map_or(http.path(), |p| p.as_str());
    let method = reqwest::Method::from_bytes(http.method().as_str().as_bytes())
        .map_err(|e| ForwardError::Unsendable(e.to_string()))?;
    let unavailable =
        |e: &dyn std::fmt::Display| ForwardError::Unavailable(format!("{owner}: {e}"));
    let mut builder = peers
        .request_with_body(method, owner, path, body)
        .map_err(|e| unavailable(&e))?;
    for (name, value) in http.headers() {
        // The body was read decompressed: its encoding no longer applies.
        let ours = matches!(
            name.as_str(),
            "x-request-id" | "content-encoding" | CLUSTER_HEADER
        ) || name.as_str() == client_header.0;
        if !HOP_HEADERS.contains(&name.as_str()) && !ours {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    builder = builder.header(client_header.0, client_header.1);
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
        registry.chain().wait_for(seq, CATCH_UP).await;
    }
    Ok(response.body(bytes))
}
