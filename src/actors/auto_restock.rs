//! The opt-in daily automatic restock (ADR 0030): each store listed in `[auto_restock]
//! stores` files, once a day from `hour` (local time, the chain's time zone), the automatic
//! restock request of ADR 0010: every line under its reorder point up to its target level,
//! less what is already on its way.
//!
//! What must not break: one request per store and day. The request's idempotency key is
//! the day (`reappro-auto-2026-12-04`), so a restart the same day answers the request
//! already filed instead of filing another; only the store's owner files it.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::{Registry, StoreError, now};
use crate::domain::{IdempotencyKey, RestockAsk, RestockError, StoreId, Username};

/// `[auto_restock]` of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoRestockSettings {
    /// The stores that opted in (none by default).
    pub stores: Vec<u32>,
    /// The local hour (0 to 23) from which the day's request is filed.
    #[serde(deserialize_with = "hour_of_day")]
    pub hour: i8,
}

/// An hour of the day, 0 to 23: any other stops start-up rather than never firing.
fn hour_of_day<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i8, D::Error> {
    let hour = i64::deserialize(deserializer)?;
    match i8::try_from(hour) {
        Ok(hour) if (0..=23).contains(&hour) => Ok(hour),
        _ => Err(serde::de::Error::custom(format!("hour = {hour}: 0 to 23"))),
    }
}

/// Who the automatic requests are filed by.
const FILED_BY: &str = "reappro.auto";
/// How often the task looks at the clock; after a failure it tries again this soon.
const TICK: Duration = Duration::from_secs(60);
const RETRY: Duration = Duration::from_secs(5);

/// Files the day's automatic request of `store` (its key is the day). `Ok` when filed, when
/// already filed today, or when no line is under its reorder point.
async fn file(registry: &Registry, store: StoreId, day: &str) -> Result<(), String> {
    let key = IdempotencyKey::parse(&format!("reappro-auto-{day}")).map_err(|e| e.to_string())?;
    let by = Username::parse(FILED_BY).map_err(|e| e.to_string())?;
    let handle = registry.store(store).await.map_err(|e| e.to_string())?;
    match handle
        .request_restock(RestockAsk::Automatic, Some(key), by)
        .await
    {
        Ok(_) | Err(StoreError::Restock(RestockError::NothingToRestock)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs for the life of the server: each tick, a store of `settings` this instance owns
/// whose day has reached `hour` and that has not filed that day files its request.
pub async fn run<S: AsRef<Registry> + 'static>(
    owner: Arc<S>,
    settings: AutoRestockSettings,
    time_zone: jiff::tz::TimeZone,
) {
    let stores: Vec<StoreId> = settings
        .stores
        .iter()
        .filter_map(|&id| StoreId::new(id).ok())
        .collect();
    if stores.is_empty() {
        return;
    }
    let mut filed: Vec<Option<jiff::civil::Date>> = vec![None; stores.len()];
    loop {
        let mut failed = false;
        let local = jiff::Timestamp::from_millisecond(now().0)
            .map(|t| t.to_zoned_datetime(time_zone.clone()))
            .ok();
        let registry: &Registry = (*owner).as_ref();
        if let Some(local) = local.filter(|l| l.hour() >= settings.hour) {
            let today = local.date();
            for (store, done) in stores.iter().zip(filed.iter_mut()) {
                if *done == Some(today) || !registry.owns_store(*store) {
                    continue;
                }
                match file(registry, *store, &today.to_string()).await {
                    Ok(()) => *done = Some(today),
                    Err(error) => {
                        failed = true;
                        tracing::warn!(store = store.get(), %error, "automatic restock not filed");
                    }
                }
            }
        }
        actix_rt::time::sleep(if failed { RETRY } else { TICK }).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hour_is_one_of_the_day() {
        let parse = |hour: i64| {
            serde_json::from_value::<AutoRestockSettings>(
                serde_json::json!({"stores": [1], "hour": hour}),
            )
        };
        assert_eq!(parse(0).map(|s| s.hour).ok(), Some(0));
        assert_eq!(parse(23).map(|s| s.hour).ok(), Some(23));
        assert!(parse(24).is_err());
        assert!(parse(-1).is_err());
    }
}
