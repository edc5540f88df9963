//! How instances recognise each other's internal calls: a short-lived HS256 token signed
//! with the cluster secret (`MAGASIN_CLUSTER_SECRET`, the same on every instance), sent in
//! [`CLUSTER_HEADER`]. It names the calling instance (one of the configured peers), the
//! instance called, and the method and path of the call, so a token seen on the wire opens
//! nothing else. Users' tokens never open the internal API, and this token never acts as
//! a user.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// The header carrying an instance's signed token on an internal call.
pub const CLUSTER_HEADER: &str = "x-magasin-cluster";
const AUDIENCE: &str = "magasin-cluster";
/// A token is valid this long: enough for clock drift, short for a leaked header.
const LIFETIME_SECONDS: u64 = 60;

#[derive(Debug, Serialize, Deserialize)]
struct InternalClaims {
    /// The calling instance.
    iss: String,
    /// `magasin-cluster:<called instance>`.
    aud: String,
    iat: u64,
    exp: u64,
    /// The method and path called.
    m: String,
    p: String,
}

pub struct InternalKeys {
    me: String,
    /// The instances whose calls are accepted.
    peers: Vec<String>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

fn audience(instance: &str) -> String {
    format!("{AUDIENCE}:{instance}")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl InternalKeys {
    /// `secret` is checked by [`super::Cluster::from_settings`]; without peers it may be
    /// absent, and a random key then refuses every internal call.
    pub fn new(me: &str, peers: Vec<String>, secret: Option<&str>) -> Self {
        let random;
        let key = match secret {
            Some(secret) => secret.as_bytes(),
            None => {
                random = rand::random::<[u8; 32]>();
                &random[..]
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_audience(&[audience(me)]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
        Self {
            me: me.to_owned(),
            peers,
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
        }
    }

    /// A token naming this instance, for one call of `method path` on `target`.
    pub fn issue(&self, target: &str, method: &str, path: &str) -> String {
        let now = unix_now();
        let claims = InternalClaims {
            iss: self.me.clone(),
            aud: audience(target),
            iat: now,
            exp: now + LIFETIME_SECONDS,
            m: method.to_owned(),
            p: path.to_owned(),
        };
        // HS256 over a small struct cannot fail; an empty token is refused by the peer.
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// The calling instance's name, if the token is current, signed with the cluster
    /// secret by a peer, for this instance and this very call.
    pub fn verify(&self, token: &str, method: &str, path: &str) -> Option<String> {
        let claims = decode::<InternalClaims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        (claims.m == method && claims.p == path && self.peers.contains(&claims.iss))
            .then_some(claims.iss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_opens_one_call_on_one_instance_from_a_peer() {
        let names = |all: &[&str]| all.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let one = InternalKeys::new(
            "magasin-1",
            names(&["magasin-2", "magasin-3"]),
            Some(SECRET),
        );
        let two = InternalKeys::new(
            "magasin-2",
            names(&["magasin-1", "magasin-3"]),
            Some(SECRET),
        );
        let three = InternalKeys::new("magasin-3", names(&["magasin-2"]), Some(SECRET));
        let token = one.issue("magasin-2", "POST", "/internal/v1/central/EPI-0001");
        assert_eq!(
            two.verify(&token, "POST", "/internal/v1/central/EPI-0001")
                .as_deref(),
            Some("magasin-1")
        );
        // Another call, another instance, a caller that is not a peer: refused.
        assert_eq!(
            two.verify(&token, "POST", "/internal/v1/central/EPI-0002"),
            None
        );
        assert_eq!(
            two.verify(&token, "GET", "/internal/v1/central/EPI-0001"),
            None
        );
        let for_three = one.issue("magasin-3", "GET", "/internal/v1/events");
        assert_eq!(three.verify(&for_three, "GET", "/internal/v1/events"), None);
        assert_eq!(two.verify(&for_three, "GET", "/internal/v1/events"), None);
        let stranger = InternalKeys::new(
            "magasin-1",
            names(&["magasin-2"]),
            Some("another secret of 32 characters!"),
        );
        let forged = stranger.issue("magasin-2", "GET", "/internal/v1/events");
        assert_eq!(two.verify(&forged, "GET", "/internal/v1/events"), None);
        assert_eq!(
            two.verify("not a token", "GET", "/internal/v1/events"),
            None
        );
        let unset = InternalKeys::new("magasin-2", names(&["magasin-1"]), None);
        assert_eq!(
            unset.verify(&token, "POST", "/internal/v1/central/EPI-0001"),
            None
        );
    }
}
