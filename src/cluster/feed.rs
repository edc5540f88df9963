//! The reference data's change feed, both sides. The owner serves its journal of the
//! reference data from any sequence ([`page`]); a follower copies it ([`follow`]): it asks
//! for what follows its last durable event, journals it, and asks again. A copy must be a
//! prefix of the owner's journal: a follower ahead of its owner, or whose last event
//! differs, was written elsewhere (it once ran alone, or the owner changed) and must not
//! go on as if it were (the divergence rule, [`page`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Cluster, FeedPage, PeerError, Peers, chain_digest};
use crate::actors::Registry;

/// The most events one page of the feed carries.
const FEED_PAGE: usize = 1_000;
/// The longest a page waits for news (long poll).
pub const MAX_WAIT: Duration = Duration::from_secs(25);
/// How long a follower asks the owner to wait for news.
const FOLLOW_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The asking copy is not a prefix of this journal.
    #[error("{0}")]
    Diverged(String),
    /// The journal could not be read.
    #[error("{0}")]
    Unavailable(String),
}

/// The page of the feed after a copy's event `after`, whose digest the copy gives (so a
/// copy that differs is told instead of fed): only events durable here, at most
/// [`FEED_PAGE`]; when there is none yet, waits up to `wait` for one.
pub async fn page(
    registry: &Registry,
    after: u64,
    digest: Option<&str>,
    wait: Duration,
) -> Result<FeedPage, FeedError> {
    let chain = registry.chain();
    if after > chain.seq() {
        return Err(FeedError::Diverged(format!(
            "the copy has {after} events, the owner {}",
            chain.seq()
        )));
    }
    if let Some(theirs) = digest {
        let ours = digest_of(registry, after).await?;
        if ours.as_deref() != Some(theirs) {
            return Err(FeedError::Diverged(format!(
                "event {after} differs from the owner's"
            )));
        }
    }
    // Only what is durable here: a follower must never hold an event the owner could lose.
    let durable = chain.wait_after(after, wait.min(MAX_WAIT)).await;
    if durable <= after {
        return Ok(FeedPage { events: Vec::new() });
    }
    let limit = FEED_PAGE.min(usize::try_from(durable - after).unwrap_or(FEED_PAGE));
    let events = registry
        .chain_events(after, limit)
        .await
        .map_err(|e| FeedError::Unavailable(e.to_string()))?;
    Ok(FeedPage { events })
}

/// How long an owner waits for a copy to hold a new event before saying it does not.
const CATCH_UP_WAIT: Duration = Duration::from_secs(5);

/// Answers once this copy holds the reference data's event `seq` (its effects in place:
/// a new store's actor started); the sequence reached, or `Err` with it when `seq` was not
/// reached in time.
pub async fn caught_up(registry: &Registry, seq: u64) -> Result<u64, u64> {
    let reached = registry.wait_applied(seq, CATCH_UP_WAIT).await;
    if reached < seq {
        return Err(reached);
    }
    Ok(reached)
}

/// The digest of this instance's reference-data event `seq` (none when it has no such event).
async fn digest_of(registry: &Registry, seq: u64) -> Result<Option<String>, FeedError> {
    let event = registry
        .chain_event(seq)
        .await
        .map_err(|e| FeedError::Unavailable(e.to_string()))?;
    event
        .map(|e| chain_digest(&e))
        .transpose()
        .map_err(|e| FeedError::Unavailable(e.to_string()))
}

/// A follower's copy of the reference data: runs until the process ends. After an error
/// it waits and resumes from the same point (nothing is skipped, nothing applied twice).
/// A copy the owner finds diverged sets `diverged` (the instance is then not ready) and
/// is logged once. `state` is whatever holds this instance's registry.
pub fn follow<S>(state: S, peers: Arc<Peers>, cluster: Arc<Cluster>, diverged: Arc<AtomicBool>)
where
    S: std::ops::Deref + 'static,
    S::Target: AsRef<Registry>,
{
    actix_rt::spawn(async move {
        let registry: &Registry = (*state).as_ref();
        let mut failures = 0_u32;
        loop {
            let after = registry.chain().seq();
            let digest = match after {
                0 => None,
                _ => digest_of(registry, after).await.ok().flatten(),
            };
            let page = peers
                .chain_feed(after, digest.as_deref(), FOLLOW_WAIT)
                .await;
            let pause = match page {
                Err(PeerError::Refused { code, .. }) if code == "chain_diverged" => {
                    if !diverged.swap(true, Ordering::AcqRel) {
                        tracing::error!(
                            after,
                            owner = %cluster.chain_owner(),
                            "this instance's reference data is not the owner's: not ready until \
                             its data directory is restored or rebuilt from the owner"
                        );
                    }
                    Some(Duration::from_secs(5))
                }
                Err(PeerError::Undecodable { reason, .. }) => {
                    if failures.is_multiple_of(120) {
                        tracing::error!(
                            after,
                            owner = %cluster.chain_owner(),
                            reason = %reason,
                            "the owner's reference data holds events this version cannot read: \
                             upgrade this instance (its copy stays as it is until then)"
                        );
                    }
                    failures += 1;
                    Some(Duration::from_secs(5))
                }
                page => copy(registry, after, page, &mut failures).await,
            };
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
        }
    });
}

/// Journals a page of the owner's feed; logs the first failure of a run and the recovery.
/// Returns how long to wait before asking again after a failure.
async fn copy(
    registry: &Registry,
    after: u64,
    page: Result<FeedPage, PeerError>,
    failures: &mut u32,
) -> Option<Duration> {
    let result = match page {
        Ok(page) if page.events.is_empty() => Ok(after),
        Ok(page) => registry
            .replicate_chain(page.events)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(_) => {
            if *failures > 0 {
                tracing::info!("reference data feed resumed");
            }
            *failures = 0;
            None
        }
        Err(e) => {
            if *failures == 0 {
                tracing::warn!(error = %e, after, "reference data feed interrupted; retrying");
            }
            *failures += 1;
            Some(Duration::from_millis(500))
        }
    }
}
