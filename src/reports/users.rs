//! Read copy of the users, checked on every authenticated request: a deactivated user's
//! tokens, and those a new password ended, stop working as soon as the change is committed.
//! It also holds the log of user changes that administrators read.

use dashmap::DashMap;
use std::sync::RwLock;

use crate::domain::{ChainEvent, ChainState, User, UserAccount, UserLogEntry, Username};

#[derive(Default)]
pub struct UsersView {
    users: DashMap<Username, UserAccount>,
    log: RwLock<Vec<UserLogEntry>>,
}

impl UsersView {
    pub fn load(&self, state: &ChainState) {
        for account in state.accounts() {
            self.users
                .insert(account.user.username.clone(), account.clone());
        }
        if let Ok(mut log) = self.log.write() {
            *log = state.user_log().to_vec();
        }
    }

    /// Applies `event` the way [`ChainState::apply`] does, to the users only.
    pub fn apply(&self, event: &ChainEvent) {
        match event {
            ChainEvent::UserCreated(user) | ChainEvent::UserChanged(user) => {
                let mut account = self
                    .account(&user.username)
                    .unwrap_or_else(|| UserAccount::new(user.clone()));
                account.user = user.clone();
                self.users.insert(user.username.clone(), account);
            }
            ChainEvent::UserDeactivated(name) => {
                if let Some(mut account) = self.users.get_mut(name) {
                    account.user.active = false;
                }
            }
            ChainEvent::UserRecorded(record) => {
                let before = self.account(&record.user.username);
                self.users.insert(
                    record.user.username.clone(),
                    record.account_after(before.as_ref()),
                );
                if let Ok(mut log) = self.log.write() {
                    log.push(record.log_entry());
                }
            }
            ChainEvent::ProductAdded(_)
            | ChainEvent::ProductChanged(_)
            | ChainEvent::StoreOpened(_)
            | ChainEvent::StoreChanged(_)
            | ChainEvent::JurisdictionSet(_)
            | ChainEvent::WebhookRegistered(_)
            | ChainEvent::WebhookRemoved(_)
            | ChainEvent::Purchasing(_) => {}
        }
    }

    pub fn get(&self, username: &Username) -> Option<User> {
        self.users.get(username).map(|a| a.user.clone())
    }

    pub fn account(&self, username: &Username) -> Option<UserAccount> {
        self.users.get(username).map(|a| a.clone())
    }

    /// Every user, by username.
    pub fn all(&self) -> Vec<UserAccount> {
        let mut users: Vec<UserAccount> = self.users.iter().map(|a| a.clone()).collect();
        users.sort_by(|a, b| a.user.username.cmp(&b.user.username));
        users
    }

    /// The user changes that `keep` keeps, newest first.
    pub fn changes(&self, keep: impl Fn(&UserLogEntry) -> bool) -> Vec<UserLogEntry> {
        self.log
            .read()
            .map(|log| log.iter().rev().filter(|e| keep(e)).cloned().collect())
            .unwrap_or_default()
    }
}
