//! Argon2id password hashes (PHC strings). Both calls cost tens of milliseconds of CPU and
//! 7 MiB of memory on purpose: handlers use [`hash_in_turn`] and [`verify_in_turn`], which
//! run them on a blocking thread, never on an actix arbiter, and never more at once than
//! there are cores. Unbounded, 64 tills logging in together at the start of a shift took
//! the server from 98 MiB to 1.4 GiB resident (the allocator keeps what argon2 freed) for
//! no gain in throughput, since the work is CPU-bound.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{LazyLock, OnceLock};
use tokio::sync::Semaphore;

use super::AuthError;

/// Hashes and verifications allowed to run at once: one per core.
static IN_TURN: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// Runs `work` on a blocking thread once a core is free for it.
async fn in_turn<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AuthError> {
    let permit = IN_TURN
        .acquire()
        .await
        .map_err(|e| AuthError::Hashing(e.to_string()))?;
    // The permit goes with the work: a client that hangs up drops this future, not the
    // hash already running, which must keep its core until it ends.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|e| AuthError::Hashing(e.to_string()))
}

/// [`hash_password`], in turn with the other hashes (see the module's note).
pub async fn hash_in_turn(password: String) -> Result<String, AuthError> {
    in_turn(move || hash_password(&password)).await?
}

/// [`verify_password`], in turn with the other hashes (see the module's note).
pub async fn verify_in_turn(password: String, hash: Option<String>) -> Result<bool, AuthError> {
    in_turn(move || verify_password(&password, hash.as_deref())).await
}

/// Letters and digits that cannot be misread for one another when a password is read out
/// or copied from a screen (no 0/O, 1/l/I).
const UNAMBIGUOUS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A temporary password an administrator hands over, good for one login that replaces it:
/// 16 characters of 56, about 93 bits, from a generator seeded by the operating system.
pub fn temporary_password() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(UNAMBIGUOUS[rng.random_range(0..UNAMBIGUOUS.len())]))
        .collect()
}

/// Argon2id with 7 MiB of memory and 5 passes: one of the equivalent settings the OWASP
/// password storage guidance lists next to the crate's default (19 MiB, 2 passes), chosen
/// for the smaller memory each login takes. A hash carries its own parameters, so hashes
/// made with other settings still verify.
fn hasher() -> Result<Argon2<'static>, AuthError> {
    let params =
        Params::new(7 * 1024, 5, 1, None).map_err(|e| AuthError::Hashing(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A fresh salted argon2id hash of `password` (see [`hasher`]).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    hasher()?
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
