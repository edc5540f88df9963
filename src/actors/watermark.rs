//! The last durable (or applied) sequence of an actor's stream, watched: readers wait on it
//! for their write, a copy or a feed to catch up. It only moves forward.

use std::time::Duration;
use tokio::sync::watch;

/// Moves the mark up to `seq` (never back), waking waiters only when it moved.
pub(super) fn raise(mark: &watch::Sender<u64>, seq: u64) {
    mark.send_if_modified(|current| {
        let newer = seq > *current;
        *current = (*current).max(seq);
        newer
    });
}

/// Waits for the mark to reach `seq`, however long that takes; `false` when it never will
/// (its actor stopped: a failed commit drops the sender).
pub(super) async fn reached(mut mark: watch::Receiver<u64>, seq: u64) -> bool {
    mark.wait_for(|current| *current >= seq).await.is_ok()
}

/// Waits up to `wait` for the mark to reach `seq`; answers where it stands.
pub(super) async fn reach(mut mark: watch::Receiver<u64>, seq: u64, wait: Duration) -> u64 {
    let _ = tokio::time::timeout(wait, mark.wait_for(|current| *current >= seq)).await;
    *mark.borrow()
}
