//! Users of the system, their role and the store they are scoped to.
//!
//! A store role (cashier, manager) always has exactly one store; a chain role (logistics,
//! admin) never has one. The password hash is opaque here (a PHC string made by `auth`).

use serde::{Deserialize, Serialize};
use std::fmt;

use super::{StoreId, Timestamp, ValueError};

/// 3 to 32 characters: lowercase ASCII letters, digits, `.`, `-`, `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let ok = (3..=32).contains(&raw.len())
            && raw.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
            });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError::Username)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    Cashier,
    Manager,
    Logistics,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Manager => "manager",
            Role::Logistics => "logistics",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        match raw {
            "cashier" => Ok(Role::Cashier),
            "manager" => Ok(Role::Manager),
            "logistics" => Ok(Role::Logistics),
            "admin" => Ok(Role::Admin),
            _ => Err(ValueError::Role),
        }
    }

    /// Whether the role works in one store (and so needs a store id).
    pub fn is_store_role(self) -> bool {
        matches!(self, Role::Cashier | Role::Manager)
    }
}

/// A new password: 8 to 128 characters. (Demo users, seeded with hashes, are exempt.)
pub fn check_new_password(raw: &str) -> Result<(), ValueError> {
    if (8..=128).contains(&raw.chars().count()) {
        Ok(())
    } else {
        Err(ValueError::Password)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: Username,
    /// Argon2id PHC string; never leaves the server.
    pub password_hash: String,
    pub role: Role,
    pub store: Option<StoreId>,
    pub active: bool,
}

impl User {
    /// A store role needs a store, a chain role must not have one.
    pub fn new(
        username: Username,
        password_hash: String,
        role: Role,
        store: Option<StoreId>,
    ) -> Result<Self, ValueError> {
        if role.is_store_role() != store.is_some() {
            return Err(ValueError::RoleScope);
        }
        Ok(Self {
            username,
            password_hash,
            role,
            store,
            active: true,
        })
    }
}

/// A user as the chain keeps them: the record, which of their tokens still stand, and
/// whether the password they sign in with was set by someone else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAccount {
    pub user: User,
    /// Tokens carry the generation they were issued in; a new password or a deactivation
    /// starts the next one, and every older token stops working.
    pub generation: u32,
    /// Set by an administrator's reset or a recovery: the next login must choose a new one.
    pub must_change_password: bool,
}

impl UserAccount {
    pub fn new(user: User) -> Self {
        Self {
            user,
            generation: 0,
            must_change_password: false,
        }
    }
}

/// Who changed something and when: `by` is `None` for the command line, run on a stopped
/// instance by whoever holds its data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedBy {
    pub by: Option<Username>,
    pub at: Timestamp,
}

/// What happened to a user, as the log of user changes names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserChangeKind {
    Created,
    Deactivated,
    Reactivated,
    RoleChanged,
    /// By the user, who gave the current one.
    PasswordChanged,
    /// By an administrator: the user chooses a new one at the next login.
    PasswordReset,
    /// On a stopped instance (`magasin admin reset-password`), like a reset.
    PasswordRecovered,
}

impl UserChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Deactivated => "deactivated",
            Self::Reactivated => "reactivated",
            Self::RoleChanged => "role_changed",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::PasswordRecovered => "password_recovered",
        }
    }

    /// Whether the user's tokens so far stop working.
    fn ends_sessions(self) -> bool {
        matches!(
            self,
            Self::Deactivated
                | Self::PasswordChanged
                | Self::PasswordReset
                | Self::PasswordRecovered
        )
    }
}

/// One change to a user, journaled with who made it and when: the user as they are after
/// it (the password hash included, so replaying the journal rebuilds the account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub user: User,
    pub change: UserChangeKind,
    pub stamp: ChangedBy,
}

impl UserRecord {
    /// The account after this change, from the one before (`None` for a new user).
    pub fn account_after(&self, before: Option<&UserAccount>) -> UserAccount {
        let generation = before.map_or(0, |a| a.generation);
        let must_change = before.is_some_and(|a| a.must_change_password);
        UserAccount {
            user: self.user.clone(),
            generation: generation + u32::from(self.change.ends_sessions()),
            must_change_password: match self.change {
                UserChangeKind::PasswordChanged => false,
                UserChangeKind::PasswordReset | UserChangeKind::PasswordRecovered => true,
                _ => must_change,
            },
        }
    }

    /// The line of the user-change log (no password hash).
    pub fn log_entry(&self) -> UserLogEntry {
        UserLogEntry {
            username: self.user.username.clone(),
            change: self.change,
            stamp: self.stamp.clone(),
            role: self.user.role,
            store: self.user.store,
            active: self.user.active,
        }
    }
}

/// A line of the user-change log, readable by administrators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLogEntry {
    pub username: Username,
    pub change: UserChangeKind,
    pub stamp: ChangedBy,
    pub role: Role,
    pub store: Option<StoreId>,
    pub active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_roles_need_a_store_and_chain_roles_none() {
        let name = || Username::parse("caissier1").expect("valid name");
        let store = StoreId::new(1).ok();
        assert!(User::new(name(), "h".into(), Role::Cashier, store).is_ok());
        assert_eq!(
            User::new(name(), "h".into(), Role::Cashier, None),
            Err(ValueError::RoleScope)
        );
        assert_eq!(
            User::new(name(), "h".into(), Role::Admin, store),
            Err(ValueError::RoleScope)
        );
        assert!(User::new(name(), "h".into(), Role::Logistics, None).is_ok());
    }

    #[test]
    fn usernames_are_lowercase_words() {
        assert!(Username::parse("gestionnaire1").is_ok());
        assert_eq!(Username::parse("Admin"), Err(ValueError::Username));
        assert_eq!(Username::parse("a b"), Err(ValueError::Username));
        assert_eq!(Username::parse("ab"), Err(ValueError::Username));
    }
}
