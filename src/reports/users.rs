//! Read copy of the users, checked on every authenticated request: a deactivated user's
//! tokens stop working as soon as the deactivation is committed.

use dashmap::DashMap;

use crate::domain::{ChainEvent, ChainState, User, Username};

#[derive(Default)]
pub struct UsersView {
    users: DashMap<Username, User>,
}

impl UsersView {
    pub fn load(&self, state: &ChainState) {
        for user in state.users() {
            self.users.insert(user.username.clone(), user.clone());
        }
    }

    pub fn apply(&self, event: &ChainEvent) {
        match event {
            ChainEvent::UserCreated(user) | ChainEvent::UserChanged(user) => {
                self.users.insert(user.username.clone(), user.clone());
            }
            ChainEvent::UserDeactivated(name) => {
                if let Some(mut user) = self.users.get_mut(name) {
                    user.active = false;
                }
            }
            ChainEvent::ProductAdded(_)
            | ChainEvent::ProductChanged(_)
            | ChainEvent::StoreOpened(_)
            | ChainEvent::StoreChanged(_)
            | ChainEvent::JurisdictionSet(_) => {}
        }
    }

    pub fn get(&self, username: &Username) -> Option<User> {
        self.users.get(username).map(|u| u.clone())
    }

    /// Every user, by username.
    pub fn all(&self) -> Vec<User> {
        let mut users: Vec<User> = self.users.iter().map(|u| u.clone()).collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        users
    }
}
