//! Chain-wide reads across instances: each instance answers for the stores and products
//! it owns, so a consolidated report asks every instance for its part (`POST
//! /internal/v1/parts/{name}`, signed) and adds them up. The answer comes within
//! [`DEADLINE`] even when an instance is down: it is then marked partial and names the
//! stores it lacks ([`Coverage`]).
//!
//! One [`Ask`] per kind of part; the instance that coordinates computes its own part with
//! the same code as the others. The parts themselves are computed by the layer that knows
//! them (the reports, the actors): an [`Ask`] names that computation for a context `C`,
//! whatever holds this instance's read models and its place in the cluster ([`Instance`]).

use futures_util::future::join_all;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::time::Duration;

use super::{Cluster, Peers};
use crate::domain::StoreId;
use crate::reports::report::Coverage;

/// How long a chain-wide read waits for the other instances.
pub const DEADLINE: Duration = Duration::from_secs(2);

/// Where a chain-wide read starts: this instance's place in the cluster and its pool to
/// the others.
pub trait Instance {
    fn cluster(&self) -> &Cluster;
    fn peers(&self) -> &Peers;
}

/// A question every instance answers for what it owns, computed from a context `C`.
pub trait Ask<C>: Serialize + DeserializeOwned + Sync {
    type Part: Serialize + DeserializeOwned;
    type Error;
    /// Its name in `/internal/v1/parts/{name}`.
    const NAME: &'static str;
    /// This instance's part: its own stores and products only. A part read from disk is
    /// read on a blocking thread, never on the server's.
    fn local(&self, ctx: &C) -> impl Future<Output = Result<Self::Part, Self::Error>>;
}

/// The parts that came back in time, and the instances that did not answer.
pub struct Gathered<P> {
    pub parts: Vec<P>,
    pub missing: Vec<String>,
}

impl<P> Gathered<P> {
    /// What is missing of `stores` (the scope of the read).
    pub fn coverage(&self, cluster: &Cluster, stores: &[StoreId]) -> Coverage {
        let missing_stores = stores
            .iter()
            .filter(|id| self.missing.iter().any(|m| m == cluster.store_owner(**id)))
            .map(|id| id.get())
            .collect();
        Coverage {
            partial: !self.missing.is_empty(),
            missing_stores,
            missing_instances: self.missing.clone(),
        }
    }
}

/// This instance's part and every other instance's, within [`DEADLINE`].
pub async fn gather<C: Instance, Q: Ask<C>>(
    ctx: &C,
    ask: &Q,
) -> Result<Gathered<Q::Part>, Q::Error> {
    gather_in(ctx, ask, Reach::Chain).await
}

/// How far a read goes: the whole chain, or what this instance holds (an operator's view
/// of one instance; the chain's figures are the sum of every instance's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Chain,
    Instance,
}

impl Reach {
    /// `?scope=chain` (the default) or `?scope=instance`; `None` for anything else.
    pub fn parse(raw: Option<&str>) -> Option<Self> {
        match raw {
            None | Some("chain") => Some(Reach::Chain),
            Some("instance") => Some(Reach::Instance),
            Some(_) => None,
        }
    }
}

/// This instance's part, and with [`Reach::Chain`] every other instance's.
pub async fn gather_in<C: Instance, Q: Ask<C>>(
    ctx: &C,
    ask: &Q,
    reach: Reach,
) -> Result<Gathered<Q::Part>, Q::Error> {
    let mut parts = vec![ask.local(ctx).await?];
    let mut missing = Vec::new();
    if reach == Reach::Instance {
        return Ok(Gathered { parts, missing });
    }
    let path = format!("/internal/v1/parts/{}", Q::NAME);
    let peers = ctx.peers();
    let calls = ctx.cluster().peers().map(|peer| {
        let path = path.as_str();
        async move {
            let answer = match peers.post_json(peer, path, ask) {
                Ok(builder) => {
                    let builder = builder.timeout(DEADLINE);
                    peers.json::<Q::Part>(peer, builder).await
                }
                Err(e) => Err(e),
            };
            (peer, answer)
        }
    });
    for (peer, answer) in join_all(calls).await {
        match answer {
            Ok(part) => parts.push(part),
            Err(e) => {
                tracing::warn!(instance = %peer, part = Q::NAME, error = %e, "chain-wide read without this instance");
                missing.push(peer.to_owned());
            }
        }
    }
    Ok(Gathered { parts, missing })
}

/// The stores of `stores` this instance owns.
pub fn owned(cluster: &Cluster, stores: &[StoreId]) -> Vec<StoreId> {
    stores
        .iter()
        .copied()
        .filter(|id| cluster.owns_store(*id))
        .collect()
}
