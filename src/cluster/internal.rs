//! How instances recognise each other's internal calls: a short-lived HS256 token signed
//! with the cluster secret (`MAGASIN_CLUSTER_SECRET`, the same on every instance), sent in
//! [`CLUSTER_HEADER`]. Users' tokens never open the internal API, and this token never
//! acts as a user.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// The header carrying an instance's signed token on an internal call.
pub const CLUSTER_HEADER: &str = "x-magasin-cluster";
/// On a chain-wide read sent by another instance: `local` asks for this instance's own
/// part only (the caller merges the parts).
pub const SCOPE_HEADER: &str = "x-magasin-scope";

const AUDIENCE: &str = "magasin-cluster";
/// A token is valid this long: enough for clock drift, short for a leaked header.
const LIFETIME_SECONDS: u64 = 60;

#[derive(Debug, Serialize, Deserialize)]
struct InternalClaims {
    /// The calling instance.
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
}

pub struct InternalKeys {
    me: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl InternalKeys {
    /// `secret` is checked by [`super::Cluster::from_settings`]; without peers it may be
    /// absent, and a random key then refuses every internal call.
    pub fn new(me: &str, secret: Option<&str>) -> Self {
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
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
        Self {
            me: me.to_owned(),
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
        }
    }

    /// A token naming this instance, for one call.
    pub fn issue(&self) -> String {
        let now = unix_now();
        let claims = InternalClaims {
            iss: self.me.clone(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + LIFETIME_SECONDS,
        };
        // HS256 over a small struct cannot fail; an empty token is refused by the peer.
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// The calling instance's name, if the token is ours and current.
    pub fn verify(&self, token: &str) -> Option<String> {
        decode::<InternalClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims.iss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_is_accepted_with_the_same_secret_only() {
        let one = InternalKeys::new("magasin-1", Some(SECRET));
        let two = InternalKeys::new("magasin-2", Some(SECRET));
        let stranger = InternalKeys::new("magasin-3", Some("another secret of 32 characters!"));
        let token = one.issue();
        assert_eq!(two.verify(&token).as_deref(), Some("magasin-1"));
        assert_eq!(stranger.verify(&token), None);
        assert_eq!(two.verify("not a token"), None);
        let unset = InternalKeys::new("solo", None);
        assert_eq!(unset.verify(&one.issue()), None);
    }
}
