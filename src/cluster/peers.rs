//! Calls to the other instances over the internal API (`/internal/v1/...`): one keep-alive
//! connection pool, every call signed ([`InternalKeys`]) and carrying the request id of
//! the request that caused it, so one id follows a sale or a restock across instances.

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use super::Cluster;
use super::internal::{CLUSTER_HEADER, InternalKeys};
use crate::actors::{CentralOp, RemoteCentral, SourceOp, StoreError};
use crate::domain::{ChainEvent, Sku, StoreId, Transfer, TransferError, TransferId};

/// A write to another instance's actor: answered within this, or retried by the caller
/// (every internal write is idempotent).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("instance {0} is not in [cluster] addresses")]
    Unknown(String),
    #[error("instance {instance} is unreachable: {reason}")]
    Unreachable { instance: String, reason: String },
    #[error("instance {instance} answered {status} ({code})")]
    Refused {
        instance: String,
        status: u16,
        code: String,
    },
    /// The answer arrived but this version cannot read it (a newer peer's format).
    #[error("instance {instance} answered what this version cannot read: {reason}")]
    Undecodable { instance: String, reason: String },
    #[error("instance {instance}'s URL is not valid ({reason}): check [cluster] addresses")]
    BadUrl { instance: String, reason: String },
    #[error("a call's body could not be encoded: {0}")]
    Encode(String),
}

/// A page of the chain's change feed: events in journal order, each with its sequence.
#[derive(Debug, Serialize, Deserialize)]
pub struct FeedPage {
    pub events: Vec<(u64, ChainEvent)>,
}

#[derive(Serialize, Deserialize)]
pub struct CentralAnswer {
    pub value: u32,
}

pub struct Peers {
    cluster: Arc<Cluster>,
    keys: InternalKeys,
    client: reqwest::Client,
}

impl Peers {
    pub fn new(cluster: Arc<Cluster>, secret: Option<&str>) -> Self {
        let peers = cluster.peers().map(str::to_owned).collect();
        let keys = InternalKeys::new(cluster.name(), peers, secret);
        // Building a plain-HTTP client only fails without a TLS backend or a resolver,
        // neither of which this client uses; the default one is then as good.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .no_proxy()
            .build()
            .unwrap_or_default();
        Self {
            cluster,
            keys,
            client,
        }
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn keys(&self) -> &InternalKeys {
        &self.keys
    }

    /// `instance`'s URL for `path_and_query`.
    pub fn url(&self, instance: &str, path_and_query: &str) -> Result<String, PeerError> {
        let base = self
            .cluster
            .address(instance)
            .ok_or_else(|| PeerError::Unknown(instance.to_owned()))?;
        Ok(format!("{base}{path_and_query}"))
    }

    /// A request without a body to `instance`, signed and carrying the current request id.
    pub fn request(
        &self,
        method: reqwest::Method,
        instance: &str,
        path_and_query: &str,
    ) -> Result<reqwest::RequestBuilder, PeerError> {
        self.request_with_body(method, instance, path_and_query, Vec::new())
    }

    /// A request carrying `body` (whose content type the caller sets), the token bound to it.
    pub fn request_with_body<B: AsRef<[u8]> + Into<reqwest::Body>>(
        &self,
        method: reqwest::Method,
        instance: &str,
        path_and_query: &str,
        body: B,
    ) -> Result<reqwest::RequestBuilder, PeerError> {
        let url = reqwest::Url::parse(&self.url(instance, path_and_query)?).map_err(|e| {
            PeerError::BadUrl {
                instance: instance.to_owned(),
                reason: e.to_string(),
            }
        })?;
        // Signed as it goes on the wire: the URL parser may normalise the path.
        let sent = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let token = self
            .keys
            .issue(instance, method.as_str(), &sent, body.as_ref());
        let mut builder = self
            .client
            .request(method, url)
            .header(CLUSTER_HEADER, token);
        if !body.as_ref().is_empty() {
            builder = builder.body(body);
        }
        if let Some(id) = crate::request_id::current() {
            builder = builder.header("X-Request-Id", id);
        }
        Ok(builder)
    }

    /// A POST of `body` as JSON.
    pub fn post_json<T: Serialize + ?Sized>(
        &self,
        instance: &str,
        path: &str,
        body: &T,
    ) -> Result<reqwest::RequestBuilder, PeerError> {
        let bytes = serde_json::to_vec(body).map_err(|e| PeerError::Encode(e.to_string()))?;
        Ok(self
            .request_with_body(reqwest::Method::POST, instance, path, bytes)?
            .header(reqwest::header::CONTENT_TYPE, "application/json"))
    }

    /// Sends and reads a JSON answer; a non-2xx answer is [`PeerError::Refused`] with its
    /// problem code.
    pub async fn json<T: DeserializeOwned>(
        &self,
        instance: &str,
        builder: reqwest::RequestBuilder,
    ) -> Result<T, PeerError> {
        let unreachable = |e: reqwest::Error| PeerError::Unreachable {
            instance: instance.to_owned(),
            reason: e.to_string(),
        };
        let response = builder.send().await.map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            let code = response
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
                .unwrap_or_default();
            return Err(PeerError::Refused {
                instance: instance.to_owned(),
                status: status.as_u16(),
                code,
            });
        }
        response.json::<T>().await.map_err(|e| {
            if e.is_decode() {
                PeerError::Undecodable {
                    instance: instance.to_owned(),
                    reason: e.to_string(),
                }
            } else {
                unreachable(e)
            }
        })
    }

    /// The chain owner's change feed after `after`, waiting up to `wait` for news.
    /// `digest` is [`chain_digest`] of this copy's event `after`: the owner checks that
    /// the copy is its own journal (409 `chain_diverged` otherwise).
    pub async fn chain_feed(
        &self,
        after: u64,
        digest: Option<&str>,
        wait: Duration,
    ) -> Result<FeedPage, PeerError> {
        let owner = self.cluster.chain_owner();
        let mut path = format!(
            "/internal/v1/chain/events?after={after}&wait_ms={}",
            wait.as_millis()
        );
        if let Some(digest) = digest {
            path.push_str("&digest=");
            path.push_str(digest);
        }
        let builder = self
            .request(reqwest::Method::GET, owner, &path)?
            .timeout(wait + Duration::from_secs(5));
        self.json(owner, builder).await
    }

    /// Waits until `instance`'s copy of the reference data has the chain event `seq`.
    pub async fn wait_for_chain(&self, instance: &str, seq: u64) -> Result<(), PeerError> {
        let path = format!("/internal/v1/chain/caught-up?seq={seq}");
        let builder = self
            .request(reqwest::Method::POST, instance, &path)?
            .timeout(WRITE_TIMEOUT);
        self.json::<serde_json::Value>(instance, builder)
            .await
            .map(|_| ())
    }
}

/// What identifies one event of the reference data on every instance: the first 16 bytes
/// of the SHA-256 of its encoding, in hexadecimal.
pub fn chain_digest(event: &ChainEvent) -> Result<String, crate::persistence::codec::CodecError> {
    use sha2::Digest;
    let bytes = crate::persistence::codec::encode_event(event)?;
    Ok(hex::encode(&sha2::Sha256::digest(&bytes)[..16]))
}

impl RemoteCentral for Peers {
    fn run(
        &self,
        owner: String,
        sku: Sku,
        op: CentralOp,
    ) -> BoxFuture<'_, Result<u32, StoreError>> {
        Box::pin(async move {
            let path = format!("/internal/v1/central/{sku}");
            let builder = self
                .post_json(&owner, &path, &op)
                .map_err(|e| StoreError::Peer(e.to_string()))?
                .timeout(WRITE_TIMEOUT);
            match self.json::<CentralAnswer>(&owner, builder).await {
                Ok(answer) => Ok(answer.value),
                Err(PeerError::Refused { code, .. }) if code == "stock_out_of_bounds" => {
                    Err(StoreError::CentralOverflow(sku))
                }
                Err(e) => {
                    tracing::warn!(sku = %sku, instance = %owner, error = %e, "central stock call failed");
                    Err(StoreError::Peer(e.to_string()))
                }
            }
        })
    }

    fn at_source(
        &self,
        owner: String,
        store: StoreId,
        op: SourceOp,
    ) -> BoxFuture<'_, Result<Transfer, StoreError>> {
        Box::pin(async move {
            let number = match &op {
                SourceOp::Get { number }
                | SourceOp::Ship { number, .. }
                | SourceOp::Delivered { number, .. } => *number,
            };
            let path = format!("/internal/v1/stores/{store}/transfer");
            let builder = self
                .post_json(&owner, &path, &op)
                .map_err(|e| StoreError::Peer(e.to_string()))?
                .timeout(WRITE_TIMEOUT);
            match self.json::<Transfer>(&owner, builder).await {
                Ok(transfer) => Ok(transfer),
                Err(PeerError::Refused { code, .. }) if code == "transfer_not_found" => {
                    Err(StoreError::Transfer(TransferError::NotFound(TransferId {
                        store,
                        number,
                    })))
                }
                Err(e) => {
                    tracing::warn!(store = %store, instance = %owner, error = %e, "transfer call failed");
                    Err(StoreError::Peer(e.to_string()))
                }
            }
        })
    }
}
