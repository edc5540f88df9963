//! Which instance owns what, when several magasin instances share a chain: a pure function
//! of a key and the configured instance names, the same function HAProxy runs
//! (`haproxy/magasin.lua`), so that every request for a store reaches the instance whose
//! actor holds it. ADR 0014 says why rendezvous hashing.
//!
//! `score(instance, key) = mix64(fnv1a64(instance ‖ 0 ‖ key))`; the highest score owns the
//! key (unsigned comparison), a tie goes to the name that sorts first. Adding or removing
//! an instance moves only the keys it wins or held.

pub mod fanout;
pub mod feed;
pub mod forward;
pub mod health;
mod internal;
mod peers;

pub use internal::{CLUSTER_HEADER, Call, InternalKeys};
pub use peers::{FeedPage, PeerError, Peers, chain_digest};

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::actors::Ownership;
use crate::domain::{Sku, StoreId};

/// The instances of a chain and which one this is (ADR 0014).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// This instance's name, in every response's `X-Magasin-Instance` header.
    pub instance: String,
    /// Every instance's name, this one included; empty: this instance owns every store.
    pub instances: Vec<String>,
    /// The internal base URL (`http://host:port`) of every other instance, by name.
    #[serde(default)]
    pub addresses: std::collections::BTreeMap<String, String>,
    /// Only from the environment (`MAGASIN_CLUSTER_SECRET`), never from a file: signs the
    /// instances' internal calls to each other.
    #[serde(skip)]
    pub secret: Option<String>,
}

/// The key of the chain's reference data (catalog, stores, users): one owner writes it.
pub const CHAIN_KEY: &str = "chain";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClusterError {
    #[error("[cluster] instance is empty: every instance needs a name")]
    NoName,
    #[error("[cluster] instances lists {0:?} twice")]
    Duplicate(String),
    #[error("[cluster] instances does not list this instance ({0:?})")]
    NotListed(String),
    #[error("[cluster] addresses gives no address for instance {0:?}")]
    NoAddress(String),
    #[error("[cluster] address {address:?} of {instance:?} is not an http://host:port URL")]
    BadAddress { instance: String, address: String },
    #[error(
        "MAGASIN_CLUSTER_SECRET must be set (at least 32 characters) when there are several \
         instances: they authenticate each other's internal calls with it"
    )]
    NoSecret,
}

/// This instance's place in the chain's instances.
#[derive(Debug, Clone)]
pub struct Cluster {
    me: String,
    /// Empty: a single instance that owns every store.
    instances: Vec<String>,
    /// The base URL (`http://host:port`) of every other instance.
    addresses: BTreeMap<String, String>,
}

impl Cluster {
    pub fn from_settings(settings: &ClusterSettings) -> Result<Self, ClusterError> {
        let me = settings.instance.trim().to_owned();
        if me.is_empty() {
            return Err(ClusterError::NoName);
        }
        let mut seen = std::collections::HashSet::new();
        for name in &settings.instances {
            if !seen.insert(name.as_str()) {
                return Err(ClusterError::Duplicate(name.clone()));
            }
        }
        if !settings.instances.is_empty() && !seen.contains(me.as_str()) {
            return Err(ClusterError::NotListed(me));
        }
        let mut addresses = BTreeMap::new();
        for name in settings.instances.iter().filter(|n| **n != me) {
            let address = settings
                .addresses
                .get(name)
                .ok_or_else(|| ClusterError::NoAddress(name.clone()))?;
            let base = address.trim().trim_end_matches('/');
            let host = base.strip_prefix("http://").unwrap_or_default();
            if host.is_empty() || host.contains('/') {
                return Err(ClusterError::BadAddress {
                    instance: name.clone(),
                    address: address.clone(),
                });
            }
            addresses.insert(name.clone(), base.to_owned());
        }
        let secret_ok = settings.secret.as_ref().is_some_and(|s| s.len() >= 32);
        if !addresses.is_empty() && !secret_ok {
            return Err(ClusterError::NoSecret);
        }
        Ok(Self {
            me,
            instances: settings.instances.clone(),
            addresses,
        })
    }

    /// A single instance: every store, product and the reference data are its own.
    pub fn single(name: &str) -> Self {
        Self {
            me: name.to_owned(),
            instances: Vec::new(),
            addresses: BTreeMap::new(),
        }
    }

    /// Other instances exist: some keys are owned elsewhere.
    pub fn has_peers(&self) -> bool {
        !self.addresses.is_empty()
    }

    /// Every instance's name in configuration order (empty when alone).
    pub fn instances(&self) -> &[String] {
        &self.instances
    }

    /// The other instances, by name.
    pub fn peers(&self) -> impl Iterator<Item = &str> {
        self.addresses.keys().map(String::as_str)
    }

    /// The base URL of another instance.
    pub fn address(&self, instance: &str) -> Option<&str> {
        self.addresses.get(instance).map(String::as_str)
    }

    /// The instance that owns a key (this one when there is no instance list).
    pub fn owner_of(&self, key: &str) -> &str {
        owner(key, &self.instances).unwrap_or(&self.me)
    }

    /// The owner of the chain's reference data (catalog, stores, users).
    pub fn chain_owner(&self) -> &str {
        self.owner_of(CHAIN_KEY)
    }

    pub fn owns_chain(&self) -> bool {
        self.chain_owner() == self.me
    }

    pub fn owns_store(&self, id: StoreId) -> bool {
        self.store_owner(id) == self.me
    }

    /// The instance whose actor holds a product's stock at the logistics center.
    pub fn product_owner(&self, sku: &Sku) -> &str {
        self.owner_of(&product_key(sku))
    }

    /// Whether this instance holds the product's central stock; `Err` names the one that
    /// does (a call sent here by an instance that disagrees is not passed on again).
    pub fn holds_product(&self, sku: &Sku) -> Result<(), &str> {
        let owner = self.product_owner(sku);
        if owner != self.me {
            return Err(owner);
        }
        Ok(())
    }

    /// This instance's name.
    pub fn name(&self) -> &str {
        &self.me
    }

    /// The instance that owns a store.
    pub fn store_owner(&self, id: StoreId) -> &str {
        self.owner_of(&store_key(id))
    }
}

impl Ownership for Cluster {
    fn me(&self) -> &str {
        &self.me
    }
    fn owns_store(&self, id: StoreId) -> bool {
        Cluster::owns_store(self, id)
    }
    fn store_owner(&self, id: StoreId) -> &str {
        Cluster::store_owner(self, id)
    }
    fn product_owner(&self, sku: &Sku) -> &str {
        Cluster::product_owner(self, sku)
    }
    fn chain_owner(&self) -> &str {
        Cluster::chain_owner(self)
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a64(parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .flat_map(|part| part.iter())
        .fold(FNV_OFFSET, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(FNV_PRIME)
        })
}

/// The SplitMix64 finalizer: FNV alone spreads similar keys ("store/1", "store/2") badly.
fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn score(instance: &str, key: &str) -> u64 {
    mix64(fnv1a64(&[instance.as_bytes(), &[0], key.as_bytes()]))
}

/// The instance that owns `key` among `instances` (`None` when there are none).
pub fn owner<'a>(key: &str, instances: &'a [String]) -> Option<&'a str> {
    instances
        .iter()
        .map(|name| (score(name, key), name.as_str()))
        .max_by(|(a, a_name), (b, b_name)| a.cmp(b).then_with(|| b_name.cmp(a_name)))
        .map(|(_, name)| name)
}

/// The key of a store's actor.
pub fn store_key(id: StoreId) -> String {
    format!("store/{id}")
}

/// The key of a product's central stock actor.
pub fn product_key(sku: &Sku) -> String {
    format!("product/{sku}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("magasin-{i}")).collect()
    }

    #[test]
    fn fnv_and_the_mixer_are_the_published_functions() {
        // FNV-1a 64 of "a" and of "foobar" (reference values of the FNV specification).
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[b"foobar"]), 0x8594_4171_f739_67e8);
        // SplitMix64's first output from seed 0 is mix64(0x9e3779b97f4a7c15).
        assert_eq!(mix64(0x9e37_79b9_7f4a_7c15), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn ownership_is_spread_and_moves_little_when_an_instance_joins() {
        let three = names(3);
        let four = names(4);
        let mut counts = [0_usize; 3];
        let mut moved = 0;
        for id in 1..=10_000_u32 {
            let key = format!("store/{id}");
            let before = owner(&key, &three).expect("an owner");
            let after = owner(&key, &four).expect("an owner");
            let index = three
                .iter()
                .position(|n| n == before)
                .expect("one of three");
            counts[index] += 1;
            if before != after {
                // A store only ever moves to the newcomer.
                assert_eq!(after, "magasin-4");
                moved += 1;
            }
        }
        for count in counts {
            assert!((3_000..=3_700).contains(&count), "{counts:?}");
        }
        assert!((2_200..=2_800).contains(&moved), "{moved} of 10,000 moved");
    }

    #[test]
    fn settings_name_this_instance_among_unique_instances() {
        let settings = |me: &str, all: &[&str]| ClusterSettings {
            instance: me.to_owned(),
            instances: all.iter().map(|s| (*s).to_owned()).collect(),
            addresses: all
                .iter()
                .map(|s| ((*s).to_owned(), format!("http://{s}:8080")))
                .collect(),
            secret: Some("0123456789abcdef0123456789abcdef".into()),
        };
        let single = Cluster::from_settings(&settings("solo", &[])).expect("valid");
        assert_eq!(single.store_owner(StoreId::new(9).expect("valid")), "solo");
        let three = Cluster::from_settings(&settings(
            "magasin-2",
            &["magasin-1", "magasin-2", "magasin-3"],
        ))
        .expect("valid");
        let id = StoreId::new(9).expect("valid");
        assert_eq!(
            three.store_owner(id),
            owner("store/9", &names(3)).expect("an owner")
        );
        assert_eq!(
            Cluster::from_settings(&settings("x", &["a", "b"])).err(),
            Some(ClusterError::NotListed("x".into()))
        );
        assert_eq!(
            Cluster::from_settings(&settings("a", &["a", "a"])).err(),
            Some(ClusterError::Duplicate("a".into()))
        );
        assert_eq!(
            Cluster::from_settings(&settings(" ", &[])).err(),
            Some(ClusterError::NoName)
        );
    }

    #[test]
    fn no_instance_owns_nothing_and_one_owns_everything() {
        assert_eq!(owner("store/1", &[]), None);
        assert_eq!(owner("store/1", &names(1)), Some("magasin-1"));
    }
}
