//! Argon2id password hashes (PHC strings). Both calls cost tens of milliseconds of CPU on
//! purpose: run them on a blocking thread, never on an actix arbiter.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::sync::OnceLock;

use super::AuthError;

/// A fresh salted argon2id hash of `password`, default parameters (19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

/// A hash of a random password nobody knows, verified against when the username is
/// unknown, so that an unknown user and a wrong password take the same time.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let secret = uuid::Uuid::new_v4().to_string();
        hash_password(&secret).unwrap_or_default()
    })
}

/// True when `password` matches `hash`; `None` as hash burns the same time and fails.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let candidate: &str = match hash {
        Some(h) => h,
        None => decoy(),
    };
    let Ok(parsed) = PasswordHash::new(candidate) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && hash.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").expect("hashes");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("wrong horse", Some(&hash)));
        assert!(!verify_password("correct horse", None));
        assert!(!verify_password("x", Some("not a hash")));
    }
}
