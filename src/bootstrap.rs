//! The first administrator of a chain started without demo data. Users are created by an
//! administrator, so an empty chain needs one to begin with: when the reference data has
//! no user at all, the instance that owns it creates `[auth] bootstrap_admin` (`admin`)
//! with the password of [`PASSWORD_ENV`], read from the environment only (a Kubernetes or
//! compose secret). Once any user exists the variable is ignored: it never resets a
//! password, and it can stay set.

use crate::actors::{ChainActorError, Registry};
use crate::auth::{AuthError, hash_in_turn};
use crate::domain::{
    DatedRate, Jurisdiction, Rate, Role, TaxCode, User, Username, ValueError, check_new_password,
    start_of_day,
};
use crate::reports::{CatalogView, UsersView};

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
    let created = registry.chain().create_user(user, None).await?;
    Ok(Bootstrap::Created(created.username))
}

/// The jurisdictions a chain starts with, as data (ADR 0023): Quebec (GST 5 % since
/// 2008-01-01, QST 9.975 % since 2013-01-01) and Ontario (HST 13 % since 2010-07-01).
/// Others, and any later rate, are added through `PUT /api/v1/jurisdictions/{code}`.
pub fn standard_jurisdictions() -> Vec<Jurisdiction> {
    let dated = |code, percent: &str, from_date: &str| -> Option<DatedRate> {
        Some(DatedRate {
            code,
            rate: Rate::parse_percent(percent)?,
            from: start_of_day(from_date, "America/Toronto")?,
            from_date: from_date.to_owned(),
        })
    };
    let quebec = [
        dated(TaxCode::Gst, "5", "2008-01-01"),
        dated(TaxCode::Qst, "9.975", "2013-01-01"),
    ];
    let ontario = [dated(TaxCode::Hst, "13", "2010-07-01")];
    vec![
        Jurisdiction {
            code: "QC".into(),
            name: "Québec".into(),
            time_zone: "America/Toronto".into(),
            rates: quebec.into_iter().flatten().collect(),
        },
        Jurisdiction {
            code: "ON".into(),
            name: "Ontario".into(),
            time_zone: "America/Toronto".into(),
            rates: ontario.into_iter().flatten().collect(),
        },
    ]
}

/// Journals the standard jurisdictions, whatever the chain has (a bench's or a test's
/// fresh chain).
pub async fn add_standard_jurisdictions(registry: &Registry) -> Result<(), ChainActorError> {
    for jurisdiction in standard_jurisdictions() {
        registry.chain().set_jurisdiction(jurisdiction).await?;
    }
    Ok(())
}

/// The migration of a chain that predates sales taxes, and the start of a new one: the
/// standard jurisdictions journaled if the chain has none of that code yet. Only the owner
/// of the reference data writes them.
pub async fn tax_jurisdictions(
    registry: &Registry,
    catalog: &CatalogView,
) -> Result<(), ChainActorError> {
    if !registry.chain().is_owner() {
        return Ok(());
    }
    for jurisdiction in standard_jurisdictions() {
        if catalog.jurisdiction(&jurisdiction.code).is_none() {
            tracing::info!(code = %jurisdiction.code, "adding a standard tax jurisdiction");
            registry.chain().set_jurisdiction(jurisdiction).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_rates_start_on_their_day_in_eastern_time() {
        let all = standard_jurisdictions();
        let quebec = &all[0];
        assert_eq!(quebec.rates.len(), 2);
        // 2013-01-01 00:00 in Montreal is 05:00 UTC.
        assert_eq!(quebec.rates[1].from, 1_357_016_400_000);
        let before = quebec.rates_at(1_357_016_399_999);
        assert_eq!(before, [(TaxCode::Gst, Rate(5_000))]);
        assert_eq!(
            all[1].rates_at(1_357_016_400_000),
            [(TaxCode::Hst, Rate(13_000))]
        );
    }
}
