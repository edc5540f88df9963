//! How instances recognise each other's internal calls: a short-lived HS256 token signed
//! with the cluster secret (`MAGASIN_CLUSTER_SECRET`, the same on every instance), sent in
//! [`CLUSTER_HEADER`]. It names the calling instance (one of the configured peers), the
//! instance called, the method, path and query of the call and the SHA-256 of its body, so
//! a token seen on the wire opens nothing else: not another call, not the same call with
//! another body (a central stock operation replayed with other quantities), and it is
//! accepted once. Users' tokens never open the internal API, and this token never acts as
//! a user.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
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
    /// The method, and the path with its query (`/internal/v1/chain/events?after=3`).
    m: String,
    p: String,
    /// The body's SHA-256, hexadecimal (of nothing for a call without a body).
    b: String,
    /// A random id: the receiver accepts each token once ([`InternalKeys::first_use`]).
    jti: String,
}

fn body_digest(body: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(body))
}

pub struct InternalKeys {
    me: String,
    /// The instances whose calls are accepted.
    peers: Vec<String>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// The ids of the tokens accepted, with their expiry: a token read on the wire cannot
    /// be sent again while it is valid (a replayed allocation would take central stock
    /// for a request cancelled meanwhile).
    used: Mutex<HashMap<String, u64>>,
}

/// Accepted token ids are swept of the expired ones every this many acceptances.
const SWEEP_EVERY: usize = 1024;

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
            used: Mutex::new(HashMap::new()),
        }
    }

    /// A token naming this instance, for one call of `method path_and_query` with `body`
    /// on `target`.
    pub fn issue(&self, target: &str, method: &str, path_and_query: &str, body: &[u8]) -> String {
        let now = unix_now();
        let claims = InternalClaims {
            iss: self.me.clone(),
            aud: audience(target),
            iat: now,
            exp: now + LIFETIME_SECONDS,
            m: method.to_owned(),
            p: path_and_query.to_owned(),
            b: body_digest(body),
            jti: hex::encode(rand::random::<[u8; 16]>()),
        };
        // HS256 over a small struct cannot fail; an empty token is refused by the peer.
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// The call a token opens, if it is current, signed with the cluster secret by a peer,
    /// for this instance and for `method path_and_query`; its body is checked apart
    /// ([`Call::sent`]), once read.
    pub fn call(&self, token: &str, method: &str, path_and_query: &str) -> Option<Call> {
        let claims = decode::<InternalClaims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        (claims.m == method && claims.p == path_and_query && self.peers.contains(&claims.iss))
            .then_some(Call {
                from: claims.iss,
                body: claims.b,
                id: claims.jti,
                expires: claims.exp,
            })
    }

    /// Whether `call`'s token is used for the first time; remembers it until it expires.
    pub fn first_use(&self, call: &Call) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.contains_key(&call.id) {
            return false;
        }
        if used.len() % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // The validation's leeway lets a token live a little past its expiry.
            let now = unix_now().saturating_sub(self.validation.leeway);
            used.retain(|_, expires| *expires >= now);
        }
        used.insert(call.id.clone(), call.expires);
        true
    }

    /// The calling instance's name, if the token opens this very call, body included.
    pub fn verify(
        &self,
        token: &str,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Option<String> {
        self.call(token, method, path_and_query)
            .filter(|call| call.sent(body))
            .map(|call| call.from)
    }
}

/// A call another instance signed.
pub struct Call {
    /// The calling instance.
    pub from: String,
    body: String,
    id: String,
    expires: u64,
}

impl Call {
    /// Whether `body` is the body the caller signed.
    pub fn sent(&self, body: &[u8]) -> bool {
        self.body == body_digest(body)
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
        let op = br#"{"Allocate":{"request":"3-1","requested":7}}"#;
        let central = "/internal/v1/central/EPI-0001";
        let token = one.issue("magasin-2", "POST", central, op);
        assert_eq!(
            two.verify(&token, "POST", central, op).as_deref(),
            Some("magasin-1")
        );
        // The same call with another body (a replay with other quantities): refused.
        let other = br#"{"Allocate":{"request":"3-1","requested":700}}"#;
        assert_eq!(two.verify(&token, "POST", central, other), None);
        assert_eq!(two.verify(&token, "POST", central, b""), None);
        // The call is recognised before its body is read, and the body checked after.
        let call = two
            .call(&token, "POST", central)
            .expect("a call from a peer");
        assert_eq!(call.from, "magasin-1");
        assert!(call.sent(op) && !call.sent(other));
        // Accepted once: the same token sent again is a replay.
        assert!(two.first_use(&call));
        assert!(!two.first_use(&call));
        let fresh = one.issue("magasin-2", "POST", central, op);
        let fresh = two
            .call(&fresh, "POST", central)
            .expect("a call from a peer");
        assert!(two.first_use(&fresh), "every token has its own id");
        // Another call, another query, another instance, a caller that is not a peer:
        // refused.
        assert_eq!(
            two.verify(&token, "POST", "/internal/v1/central/EPI-0002", op),
            None
        );
        assert_eq!(two.verify(&token, "GET", central, op), None);
        let feed = one.issue("magasin-2", "GET", "/internal/v1/chain/events?after=3", b"");
        assert!(
            two.verify(&feed, "GET", "/internal/v1/chain/events?after=3", b"")
                .is_some()
        );
        assert_eq!(
            two.verify(&feed, "GET", "/internal/v1/chain/events?after=0", b""),
            None
        );
        assert!(
            two.call(&feed, "GET", "/internal/v1/chain/events?after=0")
                .is_none()
        );
        let for_three = one.issue("magasin-3", "GET", "/internal/v1/events", b"");
        assert_eq!(
            three.verify(&for_three, "GET", "/internal/v1/events", b""),
            None
        );
        assert_eq!(
            two.verify(&for_three, "GET", "/internal/v1/events", b""),
            None
        );
        let stranger = InternalKeys::new(
            "magasin-1",
            names(&["magasin-2"]),
            Some("another secret of 32 characters!"),
        );
        let forged = stranger.issue("magasin-2", "GET", "/internal/v1/events", b"");
        assert_eq!(two.verify(&forged, "GET", "/internal/v1/events", b""), None);
        assert_eq!(
            two.verify("not a token", "GET", "/internal/v1/events", b""),
            None
        );
        let unset = InternalKeys::new("magasin-2", names(&["magasin-1"]), None);
        assert_eq!(unset.verify(&token, "POST", central, op), None);
    }
}
