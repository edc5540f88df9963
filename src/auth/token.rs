//! Signed access tokens: JWT, HS256 only (`alg: none` and every other algorithm are
//! refused by the validation), with `sub`, `role`, `store_id`, `iat`, `exp`, `jti`, and
//! `gen`, the generation of the user's sessions it belongs to: a new password or a
//! deactivation starts the next generation, and every older token stops working.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::AuthError;
use crate::domain::{Timestamp, User, UserAccount};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    pub store_id: Option<u32>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The generation of the user's sessions ([`UserAccount::generation`]) at issue.
    #[serde(default)]
    pub generation: u32,
    /// `approval` for a manager's approval at a till: never a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// How long a manager's approval at a till stays valid: long enough to finish the sale.
pub const APPROVAL_TTL_SECS: i64 = 120;
const APPROVAL: &str = "approval";

/// The HS256 key, from `MAGASIN_JWT_SECRET` or generated for a demo run.
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    pub const MIN_LEN: usize = 32;

    /// The configured secret; without one, a random key in demo mode, else an error.
    pub fn from_config(secret: Option<&str>, demo: bool) -> Result<(Self, bool), AuthError> {
        match secret {
            Some(s) if s.len() >= Self::MIN_LEN => Ok((Self(s.as_bytes().to_vec()), false)),
            Some(s) => Err(AuthError::WeakSecret(s.len())),
            None if demo => Ok((Self(rand::random::<[u8; 32]>().to_vec()), true)),
            None => Err(AuthError::MissingSecret),
        }
    }
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenKeys {
    pub fn new(key: &SigningKey, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(&key.0),
            decoding: DecodingKey::from_secret(&key.0),
            validation,
            ttl,
        }
    }

    /// A token for `account` issued at `now`, and its expiry.
    pub fn issue(
        &self,
        account: &UserAccount,
        now: Timestamp,
    ) -> Result<(String, Timestamp), AuthError> {
        let user = &account.user;
        let iat = now.0 / 1000;
        let exp = iat + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims = Claims {
            sub: user.username.to_string(),
            role: user.role.as_str().to_owned(),
            store_id: user.store.map(|s| s.get()),
            iat,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
            generation: account.generation,
            scope: None,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))?;
        Ok((token, Timestamp(exp * 1000)))
    }

    /// Checks signature, algorithm and expiry.
    /// A bearer token: an approval is refused here.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.decode(token)?;
        match claims.scope {
            None => Ok(claims),
            Some(_) => Err(AuthError::InvalidToken("not a bearer token".into())),
        }
    }

    fn decode(&self, token: &str) -> Result<Claims, AuthError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))
    }

    /// A manager's approval for sales at `store`, valid [`APPROVAL_TTL_SECS`]: it names
    /// the manager, never carries a password, and cannot be used as a bearer token.
    pub fn issue_approval(
        &self,
        manager: &User,
        store: u32,
        now: Timestamp,
    ) -> Result<(String, Timestamp), AuthError> {
        let iat = now.0 / 1000;
        let claims = Claims {
            sub: manager.username.to_string(),
            role: manager.role.as_str().to_owned(),
            store_id: Some(store),
            iat,
            exp: iat + APPROVAL_TTL_SECS,
            jti: uuid::Uuid::new_v4().to_string(),
            generation: 0,
            scope: Some(APPROVAL.to_owned()),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))?;
        Ok((token, Timestamp(claims.exp * 1000)))
    }

    /// The approval's claims, if it is an approval for `store` still valid.
    pub fn verify_approval(&self, token: &str, store: u32) -> Result<Claims, AuthError> {
        let claims = self.decode(token)?;
        if claims.scope.as_deref() != Some(APPROVAL) || claims.store_id != Some(store) {
            return Err(AuthError::InvalidToken(
                "not an approval for this store".into(),
            ));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, Username};

    fn keys(secret: &str) -> TokenKeys {
        let (key, _) = SigningKey::from_config(Some(secret), false).expect("long secret");
        TokenKeys::new(&key, Duration::from_secs(3600))
    }

    fn admin() -> UserAccount {
        UserAccount::new(
            User::new(
                Username::parse("admin").expect("valid"),
                String::new(),
                Role::Admin,
                None,
            )
            .expect("valid user"),
        )
    }

    fn now() -> Timestamp {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        Timestamp(i64::try_from(secs).expect("fits") * 1000)
    }

    #[test]
    fn a_token_verifies_with_its_key_only() {
        let a = keys("a-secret-of-at-least-thirty-two-bytes!");
        let b = keys("another-secret-of-at-least-32-bytes!!");
        let (token, _) = a.issue(&admin(), now()).expect("issues");
        assert_eq!(a.verify(&token).expect("valid").sub, "admin");
        assert!(b.verify(&token).is_err());
        assert!(a.verify("garbage").is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let a = keys("a-secret-of-at-least-thirty-two-bytes!");
        let (token, _) = a
            .issue(&admin(), Timestamp(now().0 - 7_200_000))
            .expect("issues");
        assert!(a.verify(&token).is_err());
    }

    #[test]
    fn secrets_are_required_outside_demo_mode() {
        assert!(matches!(
            SigningKey::from_config(None, false),
            Err(AuthError::MissingSecret)
        ));
        assert!(matches!(
            SigningKey::from_config(Some("short"), true),
            Err(AuthError::WeakSecret(5))
        ));
        assert!(matches!(SigningKey::from_config(None, true), Ok((_, true))));
    }
}
