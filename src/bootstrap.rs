//! The first administrator of a chain started without demo data. Users are created by an
//! administrator, so an empty chain needs one to begin with: when the reference data has
//! no user at all, the instance that owns it creates `[auth] bootstrap_admin` (`admin`)
//! with the password of [`PASSWORD_ENV`], read from the environment only (a Kubernetes or
//! compose secret). Once any user exists the variable is ignored: it never resets a
//! password, and it can stay set.

use crate::actors::{ChainActorError, Registry};
use crate::auth::{AuthError, hash_in_turn};
use crate::domain::{Role, User, Username, ValueError, check_new_password};
use crate::reports::UsersView;

/// The environment variable holding the first administrator's password.
pub const PASSWORD_ENV: &str = "MAGASIN_BOOTSTRAP_ADMIN_PASSWORD";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("[auth] bootstrap_admin {name:?}: {reason}")]
    Username { name: String, reason: ValueError },
    #[error("{PASSWORD_ENV}: {0}")]
    Password(ValueError),
    #[error("hashing the first administrator's password: {0}")]
    Hashing(#[from] AuthError),
    #[error("creating the first administrator: {0}")]
    Chain(#[from] ChainActorError),
}

/// What [`first_admin`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// The administrator was created.
    Created(Username),
    /// Users exist already (or another instance owns the reference data): nothing to do.
    NotNeeded,
    /// No user exists and no password was given: nobody can sign in yet.
    NoPassword,
}

/// Creates the first administrator if the chain has no user and `password` is given.
pub async fn first_admin(
    registry: &Registry,
    users: &UsersView,
    name: &str,
    password: Option<&str>,
) -> Result<Bootstrap, BootstrapError> {
    // A follower's copy may not have the owner's users yet: only the owner decides.
    if !registry.chain().is_owner() || !users.all().is_empty() {
        return Ok(Bootstrap::NotNeeded);
    }
    let Some(password) = password else {
        return Ok(Bootstrap::NoPassword);
    };
    let username = Username::parse(name).map_err(|reason| BootstrapError::Username {
        name: name.to_owned(),
        reason,
    })?;
    check_new_password(password).map_err(BootstrapError::Password)?;
    let hash = hash_in_turn(password.to_owned()).await?;
    let user = User::new(username, hash, Role::Admin, None).map_err(|reason| {
        BootstrapError::Username {
            name: name.to_owned(),
            reason,
        }
    })?;
    let created = registry.chain().create_user(user).await?;
    Ok(Bootstrap::Created(created.username))
}
