//! The clock actors read when they stamp a write and when a store recovers the keys of its
//! retention window (the domain never reads it).
//!
//! The wall clock, unless the embedder gives another through [`ActorSettings`]: a
//! benchmark replays months of trading in minutes, and its sales must carry the times of
//! those months, not all the same minute. A server always runs on the wall clock.
//!
//! [`ActorSettings`]: super::ActorSettings

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::domain::Timestamp;

/// The wall clock.
pub fn now() -> Timestamp {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp(millis)
}

/// Where actors read the time: the wall clock by default.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<dyn Fn() -> Timestamp + Send + Sync>>);

impl Clock {
    /// The system's wall clock, as [`now`].
    pub fn wall() -> Self {
        Self(None)
    }

    /// A clock that reads `read`: simulated time, for an embedder replaying a history.
    pub fn reading(read: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(read)))
    }

    pub fn now(&self) -> Timestamp {
        match &self.0 {
            None => now(),
            Some(read) => read(),
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            None => "Clock::wall",
            Some(_) => "Clock::reading",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    #[test]
    fn the_default_clock_is_the_wall_clock_and_another_reads_what_it_is_given() {
        let before = now();
        let read = Clock::default().now();
        assert!(read >= before && read <= now());
        let simulated = Arc::new(AtomicI64::new(1_700_000_000_000));
        let source = simulated.clone();
        let clock = Clock::reading(move || Timestamp(source.load(Ordering::Relaxed)));
        assert_eq!(clock.now(), Timestamp(1_700_000_000_000));
        simulated.store(1_700_000_060_000, Ordering::Relaxed);
        assert_eq!(clock.now(), Timestamp(1_700_000_060_000));
    }
}
