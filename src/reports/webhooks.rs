//! Read copy of the webhook endpoints, for the deliverer of every instance.

use std::collections::BTreeMap;
use std::sync::RwLock;

use crate::domain::{ChainEvent, ChainState, Webhook};

#[derive(Default)]
pub struct WebhookDirectory {
    hooks: RwLock<BTreeMap<u32, Webhook>>,
}

impl WebhookDirectory {
    pub fn load(&self, state: &ChainState) {
        if let Ok(mut hooks) = self.hooks.write() {
            *hooks = state.webhooks().map(|w| (w.id, w.clone())).collect();
        }
    }

    pub fn apply(&self, event: &ChainEvent) {
        let Ok(mut hooks) = self.hooks.write() else {
            return;
        };
        match event {
            ChainEvent::WebhookRegistered(w) => {
                hooks.insert(w.id, w.clone());
            }
            ChainEvent::WebhookRemoved(id) => {
                hooks.remove(id);
            }
            _ => {}
        }
    }

    /// Every endpoint, by id.
    pub fn all(&self) -> Vec<Webhook> {
        self.hooks
            .read()
            .map(|hooks| hooks.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn get(&self, id: u32) -> Option<Webhook> {
        self.hooks
            .read()
            .ok()
            .and_then(|hooks| hooks.get(&id).cloned())
    }
}
