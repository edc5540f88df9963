//! Users of the system, their role and the store they are scoped to.
//!
//! A store role (cashier, manager) always has exactly one store; a chain role (logistics,
//! admin) never has one. The password hash is opaque here (a PHC string made by `auth`).

use serde::{Deserialize, Serialize};
use std::fmt;

use super::{StoreId, ValueError};

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
