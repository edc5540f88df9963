//! Whether this instance may take traffic (`/health/ready`): the orchestrators and HAProxy
//! send none to an instance that is not ready.

use std::sync::atomic::{AtomicBool, Ordering};

use super::Cluster;
use crate::actors::Registry;

/// Why an instance is or is not ready, first reason first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Its copy of the reference data is not the owner's (see [`super::feed`]).
    Diverged,
    /// The demo data is still being put in place with the other instances.
    Seeding,
    /// The journal refuses writes (the disk is failing); ready again once it takes one.
    DiskFailing,
    /// Ready; whether it writes the reference data (upgraded last in a cluster).
    Ready { owns_reference_data: bool },
}

/// This instance's readiness. A journal that failed is probed with an empty commit, so a
/// disk that came back makes the instance ready again.
pub async fn readiness(
    registry: &Registry,
    cluster: &Cluster,
    seeded: &AtomicBool,
    diverged: &AtomicBool,
) -> Readiness {
    if diverged.load(Ordering::Acquire) {
        Readiness::Diverged
    } else if !seeded.load(Ordering::Acquire) {
        Readiness::Seeding
    } else if registry.journal_writable().await {
        Readiness::Ready {
            owns_reference_data: cluster.owns_chain(),
        }
    } else {
        Readiness::DiskFailing
    }
}
