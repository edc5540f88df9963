//! Authentication and authorization: password hashing (argon2id), signed tokens (JWT
//! HS256), roles and permissions, and the failed-login throttle.
//!
//! The one thing not to break: every permission decision goes through
//! [`Principal::require`]; a route that does not call it is open to every role.

mod password;
mod permission;
pub mod seal;
mod throttle;
mod token;

pub use password::{
    hash_in_turn, hash_password, temporary_password, verify_in_turn, verify_password,
};
pub use permission::{Permission, Principal};
pub use throttle::{LoginThrottle, ThrottleSettings, Verdict};
pub use token::{Claims, SigningKey, TokenKeys};

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    MissingToken,
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("user unknown or deactivated")]
    InactiveUser,
    #[error("bad username or password")]
    InvalidCredentials,
    #[error("too many failed logins; retry in {0:?}")]
    TooManyAttempts(Duration),
    /// The password is right but was set by someone else: the user chooses a new one.
    #[error("the password must be changed before signing in")]
    PasswordChangeRequired,
    #[error("the role may not do this")]
    Forbidden,
    #[error("the token is scoped to another store")]
    ForbiddenStore,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("the Z reports' signing key is 64 hexadecimal characters (a 32-byte Ed25519 seed)")]
    BadSealKey,
    #[error("MAGASIN_JWT_SECRET is required outside demo mode (at least 32 bytes)")]
    MissingSecret,
    #[error("MAGASIN_JWT_SECRET must be at least 32 bytes (it has {0})")]
    WeakSecret(usize),
}
