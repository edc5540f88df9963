//! Webhook endpoints: where committed events are pushed (ADR 0029). An administrator
//! registers a URL and the event types it wants; its secret signs every delivery.
//! Endpoints are reference data: every instance delivers the events of the streams it
//! owns to every endpoint.

use serde::{Deserialize, Serialize};

use super::{Timestamp, Username, ValueError};

/// Every event type: `["*"]`.
pub const ALL_EVENTS: &str = "*";
/// Most event types one endpoint lists.
const MAX_TYPES: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: u32,
    pub url: String,
    /// Event types (`sale_recorded`, …), or `*` for every one.
    pub events: Vec<String>,
    /// Signs deliveries (HMAC-SHA256); shown once, at registration.
    pub secret: String,
    pub created_at: Timestamp,
    pub created_by: Username,
}

impl Webhook {
    /// Whether events of type `kind` go to this endpoint.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|e| e == ALL_EVENTS || e == kind)
    }
}

/// The event types of a registration: `*`, or 1 to 50 names of lowercase letters and `_`.
pub fn parse_event_types(raw: &[String]) -> Result<Vec<String>, ValueError> {
    let valid = |t: &String| {
        t == ALL_EVENTS
            || ((1..=64).contains(&t.len())
                && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    };
    if raw.is_empty() || raw.len() > MAX_TYPES || !raw.iter().all(valid) {
        return Err(ValueError::EventTypes);
    }
    let mut types = raw.to_vec();
    types.sort();
    types.dedup();
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_names_or_every_one() {
        let parse = |raw: &[&str]| {
            parse_event_types(&raw.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(parse(&["*"]), Ok(vec!["*".to_owned()]));
        assert_eq!(
            parse(&["sale_returned", "sale_recorded", "sale_recorded"]),
            Ok(vec!["sale_recorded".to_owned(), "sale_returned".to_owned()])
        );
        assert_eq!(parse(&[]), Err(ValueError::EventTypes));
        assert_eq!(parse(&["Sale"]), Err(ValueError::EventTypes));
    }
}
