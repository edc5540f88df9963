//! Failed-login throttle: after `max_failures` failed logins for one username from one
//! client address within `window`, every attempt (a correct password included) is refused
//! until the oldest failure leaves the window.

use dashmap::DashMap;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    pub max_failures: usize,
    pub window: Duration,
}

pub struct LoginThrottle {
    settings: ThrottleSettings,
    failures: DashMap<(String, String), VecDeque<Instant>>,
}

/// Above this many tracked (username, address) pairs, expired ones are swept.
const SWEEP_ABOVE: usize = 10_000;

impl LoginThrottle {
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            failures: DashMap::new(),
        }
    }

    /// `Some(wait)` when this username and address are locked out at `now`.
    pub fn locked_for(&self, username: &str, address: &str, now: Instant) -> Option<Duration> {
        let key = (username.to_owned(), address.to_owned());
        let mut entry = self.failures.get_mut(&key)?;
        let window = self.settings.window;
        entry.retain(|t| now.saturating_duration_since(*t) < window);
        if entry.len() < self.settings.max_failures {
            return None;
        }
        entry
            .front()
            .map(|oldest| window.saturating_sub(now.saturating_duration_since(*oldest)))
    }

    pub fn record_failure(&self, username: &str, address: &str, now: Instant) {
        if self.failures.len() > SWEEP_ABOVE {
            let window = self.settings.window;
            self.failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < window)
            });
        }
        self.failures
            .entry((username.to_owned(), address.to_owned()))
            .or_default()
            .push_back(now);
    }

    pub fn record_success(&self, username: &str, address: &str) {
        self.failures
            .remove(&(username.to_owned(), address.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_attempt_is_locked_until_the_window_passes() {
        let window = Duration::from_secs(900);
        let throttle = LoginThrottle::new(ThrottleSettings {
            max_failures: 5,
            window,
        });
        let start = Instant::now();
        for i in 0..5 {
            assert_eq!(
                throttle.locked_for("admin", "10.0.0.1", start),
                None,
                "attempt {i}"
            );
            throttle.record_failure("admin", "10.0.0.1", start);
        }
        let wait = throttle
            .locked_for("admin", "10.0.0.1", start)
            .expect("locked");
        assert_eq!(wait, window);
        assert_eq!(
            throttle.locked_for("admin", "10.0.0.2", start),
            None,
            "another address"
        );
        assert_eq!(
            throttle.locked_for("caissier1", "10.0.0.1", start),
            None,
            "another user"
        );
        assert_eq!(
            throttle.locked_for("admin", "10.0.0.1", start + window),
            None,
            "window passed"
        );
    }
}
