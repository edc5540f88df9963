//! The wall clock, read by actors when they decide (the domain never reads it).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::domain::Timestamp;

pub fn now() -> Timestamp {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp(millis)
}
