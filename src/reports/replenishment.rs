//! A store's reorder proposals (ADR 0030): its daily sales over the window, read from the
//! history by [`super::SalesFacts::daily_units`], the lead time of the logistics center →
//! store route from the store's received restocks, and the current levels of the stock
//! read model, side by side.
//!
//! What must not break: a product the store has not sold in the window gets no proposal
//! (its levels stay as a person set them); the proposal itself is the domain's.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;
use std::collections::HashMap;
use std::ops::Range;

use super::{CatalogView, ProductQuery, RestockView, StockView, hours};
use crate::domain::{
    LeadTime, Proposal, ReplenishmentPolicy, RestockStatus, Sku, StoreId, Timestamp,
};

/// The first instant of `day` in `tz`.
fn start(day: Date, tz: &TimeZone) -> Option<Timestamp> {
    let zoned = day.to_zoned_datetime(tz.clone()).ok()?;
    Some(Timestamp(zoned.timestamp().as_millisecond()))
}

/// The hours of each of the `count` days ending with the day of `now` in `tz` (today
/// included, so far), oldest first.
pub fn window(now: Timestamp, tz: &TimeZone, count: u32) -> Vec<Range<i64>> {
    let Ok(instant) = jiff::Timestamp::from_millisecond(now.0) else {
        return Vec::new();
    };
    let mut day = instant.to_zoned_datetime(tz.clone()).date();
    let mut days = Vec::new();
    for _ in 0..count {
        let next = day.tomorrow().ok();
        if let (Some(from), Some(to)) = (start(day, tz), next.and_then(|d| start(d, tz))) {
            days.push(hours(from, to));
        }
        match day.yesterday() {
            Ok(before) => day = before,
            Err(_) => break,
        }
    }
    days.reverse();
    days
}

/// The lead time of the logistics center → `store` route: the mean time from request to
/// receipt of the store's received restocks, else the configured one.
pub fn store_lead_time(restocks: &RestockView, store: StoreId, configured_days: f64) -> LeadTime {
    let durations: Vec<i64> = restocks
        .list(Some(store), Some(RestockStatus::Received))
        .iter()
        .map(|r| r.updated_at.0 - r.requested_at.0)
        .collect();
    LeadTime::of(&durations, configured_days)
}

/// One product of a store: its levels now, and the proposed ones.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProposalLine {
    #[schema(value_type = String)]
    pub sku: Sku,
    pub name: String,
    pub on_hand: u32,
    pub reorder_point: u32,
    pub target_level: u32,
    /// `null` when the product did not sell in the window: its levels are left alone.
    #[schema(value_type = Option<Object>)]
    pub proposed: Option<Proposal>,
    /// The proposal differs from the current levels (applying it changes the line).
    pub changes: bool,
}

impl ProposalLine {
    /// The levels to apply: `Some` when there is a proposal that changes the line.
    pub fn levels(&self) -> Option<(u32, u32)> {
        self.proposed
            .filter(|_| self.changes)
            .map(|p| (p.reorder_point, p.target_level))
    }
}

/// Where a store's proposals are read from.
pub struct Sources<'a> {
    pub catalog: &'a CatalogView,
    pub stock: &'a StockView,
}

/// Every product of the catalog for `store`, by SKU, with its proposal from `daily` (units
/// per day of the window, as [`super::SalesFacts::daily_units`] reads them).
pub fn proposals(
    sources: Sources<'_>,
    store: StoreId,
    daily: &HashMap<Sku, Vec<u64>>,
    lead_time: LeadTime,
    policy: &ReplenishmentPolicy,
) -> Vec<ProposalLine> {
    let mut products = sources.catalog.search(&ProductQuery {
        text: None,
        category: None,
    });
    products.sort_by(|a, b| a.sku.cmp(&b.sku));
    products
        .into_iter()
        .map(|product| {
            let line = sources.stock.line(store, &product.sku);
            let proposed = daily
                .get(&product.sku)
                .filter(|days| days.iter().any(|&d| d > 0))
                .map(|days| policy.propose(days, lead_time));
            let changes = proposed.is_some_and(|p| {
                (p.reorder_point, p.target_level) != (line.reorder_point, line.target_level)
            });
            ProposalLine {
                sku: product.sku,
                name: product.name,
                on_hand: line.on_hand,
                reorder_point: line.reorder_point,
                target_level: line.target_level,
                proposed,
                changes,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_whole_local_days_ending_today() {
        let tz = TimeZone::get("America/Toronto").expect("a zone of the built-in database");
        // 2026-03-09 15:00 UTC, the day after the spring change in Toronto.
        let now = Timestamp(1_773_068_400_000);
        let days = window(now, &tz, 3);
        assert_eq!(days.len(), 3);
        let lengths: Vec<i64> = days.iter().map(|d| d.end - d.start).collect();
        assert_eq!(
            lengths,
            vec![24, 23, 24],
            "the 8th of March is 23 hours long"
        );
        assert!(days.windows(2).all(|w| w[0].end == w[1].start));
        assert!(days[2].contains(&(now.0 / 3_600_000)));
    }
}
