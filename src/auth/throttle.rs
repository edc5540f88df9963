//! Failed-login throttle (ADR 0026). Two counts over a sliding `window`:
//!
//! - per username and client address: after `max_failures`, that address is refused for
//!   that username (429 with the wait) until the oldest failure leaves the window, a right
//!   password included: guessing from one place stops there;
//! - per username, from every address together: past `max_failures`, every login of that
//!   username waits before its password is checked, twice as long for each further failure
//!   (at most [`MAX_DELAY`]). Guessing from many places slows down, and the user, from
//!   their own till, still signs in: a stranger can slow them, never lock them out.
//!
//! In a cluster every login is decided by one instance (the owner of the reference data),
//! so these counts are the cluster's.

use dashmap::DashMap;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    pub max_failures: usize,
    pub window: Duration,
}

/// What the throttle says of a login attempt, before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Check,
    /// Check it after this wait: the username is being guessed from several addresses.
    CheckAfter(Duration),
    /// Refuse it for this long: this address failed too often for this username.
    Refuse(Duration),
}

/// The first wait once a username passed `max_failures`; it doubles with each failure.
const FIRST_DELAY: Duration = Duration::from_millis(500);
/// The longest a login waits: long enough to make guessing slow, short enough for a till.
pub const MAX_DELAY: Duration = Duration::from_secs(8);
/// Above this many tracked keys, those without a failure in the window are swept.
const SWEEP_ABOVE: usize = 10_000;

pub struct LoginThrottle {
    settings: ThrottleSettings,
    /// Failures by (username, address).
    from_address: DashMap<(String, String), VecDeque<Instant>>,
    /// Failures by username, from every address.
    of_user: DashMap<String, VecDeque<Instant>>,
}

impl LoginThrottle {
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            from_address: DashMap::new(),
            of_user: DashMap::new(),
        }
    }

    pub fn verdict(&self, username: &str, address: &str, now: Instant) -> Verdict {
        let max = self.settings.max_failures;
        let key = (username.to_owned(), address.to_owned());
        if let Some(mut times) = self.from_address.get_mut(&key) {
            let oldest = self.recent(&mut times, now);
            if times.len() >= max
                && let Some(oldest) = oldest
            {
                let elapsed = now.saturating_duration_since(oldest);
                return Verdict::Refuse(self.settings.window.saturating_sub(elapsed));
            }
        }
        let Some(mut times) = self.of_user.get_mut(username) else {
            return Verdict::Check;
        };
        self.recent(&mut times, now);
        match times.len().checked_sub(max) {
            None => Verdict::Check,
            Some(beyond) => {
                let doublings = u32::try_from(beyond).unwrap_or(u32::MAX).min(16);
                Verdict::CheckAfter(FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY))
            }
        }
    }

    /// Drops the failures out of the window; the oldest left.
    fn recent(&self, times: &mut VecDeque<Instant>, now: Instant) -> Option<Instant> {
        let window = self.settings.window;
        times.retain(|t| now.saturating_duration_since(*t) < window);
        times.front().copied()
    }

    pub fn record_failure(&self, username: &str, address: &str, now: Instant) {
        if self.from_address.len() > SWEEP_ABOVE || self.of_user.len() > SWEEP_ABOVE {
            self.sweep(now);
        }
        self.from_address
            .entry((username.to_owned(), address.to_owned()))
            .or_default()
            .push_back(now);
        self.of_user
            .entry(username.to_owned())
            .or_default()
            .push_back(now);
    }

    /// A right password from this address forgets its failures there; those from other
    /// addresses still count for the username.
    pub fn record_success(&self, username: &str, address: &str) {
        self.from_address
            .remove(&(username.to_owned(), address.to_owned()));
    }

    fn sweep(&self, now: Instant) {
        let window = self.settings.window;
        let live = |times: &VecDeque<Instant>| {
            times
                .back()
                .is_some_and(|t| now.saturating_duration_since(*t) < window)
        };
        self.from_address.retain(|_, times| live(times));
        self.of_user.retain(|_, times| live(times));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(900);

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottleSettings {
            max_failures: 5,
            window: WINDOW,
        })
    }

    #[test]
    fn the_sixth_attempt_from_one_address_is_refused_until_the_window_passes() {
        let throttle = throttle();
        let start = Instant::now();
        for i in 0..5 {
            assert_eq!(
                throttle.verdict("admin", "10.0.0.1", start),
                Verdict::Check,
                "attempt {i}"
            );
            throttle.record_failure("admin", "10.0.0.1", start);
        }
        assert_eq!(
            throttle.verdict("admin", "10.0.0.1", start + Duration::from_secs(60)),
            Verdict::Refuse(WINDOW - Duration::from_secs(60))
        );
        assert_eq!(
            throttle.verdict("caissier1", "10.0.0.1", start),
            Verdict::Check,
            "another user"
        );
        assert_eq!(
            throttle.verdict("admin", "10.0.0.1", start + WINDOW),
            Verdict::Check,
            "window passed"
        );
    }

    #[test]
    fn another_address_is_slowed_more_with_each_failure_but_never_refused() {
        let throttle = throttle();
        let start = Instant::now();
        for _ in 0..5 {
            throttle.record_failure("caissier1", "203.0.113.9", start);
        }
        assert_eq!(
            throttle.verdict("caissier1", "10.0.0.2", start),
            Verdict::CheckAfter(FIRST_DELAY)
        );
        // A stranger spreading guesses over many addresses.
        for i in 0..40 {
            throttle.record_failure("caissier1", &format!("198.51.100.{i}"), start);
        }
        assert_eq!(
            throttle.verdict("caissier1", "10.0.0.2", start),
            Verdict::CheckAfter(MAX_DELAY)
        );
        assert_eq!(
            throttle.verdict("caissier1", "10.0.0.2", start + WINDOW),
            Verdict::Check
        );
    }

    #[test]
    fn a_right_password_forgets_the_failures_of_its_address_only() {
        let throttle = throttle();
        let start = Instant::now();
        for _ in 0..4 {
            throttle.record_failure("gerant", "10.0.0.1", start);
            throttle.record_failure("gerant", "10.0.0.2", start);
        }
        throttle.record_success("gerant", "10.0.0.1");
        throttle.record_failure("gerant", "10.0.0.2", start);
        assert!(matches!(
            throttle.verdict("gerant", "10.0.0.2", start),
            Verdict::Refuse(_)
        ));
        assert!(matches!(
            throttle.verdict("gerant", "10.0.0.1", start),
            Verdict::CheckAfter(_)
        ));
    }
}
