//! Reorder points from a store's own sales (ADR 0030): the daily demand of a window (days
//! without a sale count as zero) gives a mean and a sample standard deviation; the reorder
//! point covers the demand of the lead time plus a safety stock for a cycle service level,
//! `ceil(mean × L + z × σ × √L)`; the target level adds a review period of mean demand.
//!
//! Pure arithmetic on plain values: no clock, no history, no store. Floats are fine here,
//! they are statistics, never money; what leaves this module is a whole number of units.
//! A proposal never exceeds [`MAX_ON_HAND`], so it is always a valid pair of levels.

use serde::{Deserialize, Serialize};

use super::MAX_ON_HAND;

/// Mean and sample standard deviation of a series of daily demands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DemandStats {
    /// Days in the series, the days without a sale included.
    pub days: usize,
    /// Mean units per day.
    pub mean: f64,
    /// Sample standard deviation (n − 1) of the units per day; 0 for fewer than two days.
    pub std_dev: f64,
}

impl DemandStats {
    /// The statistics of `daily` units, one entry per day of the window.
    pub fn of(daily: &[u64]) -> Self {
        let days = daily.len();
        if days == 0 {
            return Self {
                days,
                mean: 0.0,
                std_dev: 0.0,
            };
        }
        let n = days as f64;
        let mean = daily.iter().map(|&d| d as f64).sum::<f64>() / n;
        let std_dev = if days < 2 {
            0.0
        } else {
            let squares: f64 = daily.iter().map(|&d| (d as f64 - mean).powi(2)).sum();
            (squares / (n - 1.0)).sqrt()
        };
        Self {
            days,
            mean,
            std_dev,
        }
    }
}

/// The safety factor z of a cycle service level: the standard normal quantile of `p`
/// (Acklam's rational approximation, relative error under 1.2 × 10⁻⁹), so 0.95 → 1.645.
/// `p` outside (0, 1) is clamped to the nearest sensible level.
pub fn z_score(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    let low = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < low {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - low {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// How levels are proposed: `[replenishment]` of the configuration, checked once at start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PolicyFields")]
pub struct ReplenishmentPolicy {
    /// Cycle service level: the probability that a replenishment cycle ends without a
    /// stockout (0.5 to 0.999).
    pub service_level: f64,
    /// Days of sales the demand is measured over, today included (7 to 365).
    pub window_days: u32,
    /// Days of mean demand between the reorder point and the target level: about one
    /// order every `review_days` (1 to 90).
    pub review_days: u32,
    /// Lead time of the logistics center → store route until the route has received a
    /// restock (above 0, at most 90 days).
    pub lead_time_days: f64,
}

/// The configuration's fields, before their bounds are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFields {
    service_level: f64,
    window_days: u32,
    review_days: u32,
    lead_time_days: f64,
}

impl TryFrom<PolicyFields> for ReplenishmentPolicy {
    type Error = String;

    fn try_from(f: PolicyFields) -> Result<Self, String> {
        if !(0.5..=0.999).contains(&f.service_level) {
            return Err(format!("service_level = {}: 0.5 to 0.999", f.service_level));
        }
        if !(7..=365).contains(&f.window_days) {
            return Err(format!("window_days = {}: 7 to 365", f.window_days));
        }
        if !(1..=90).contains(&f.review_days) {
            return Err(format!("review_days = {}: 1 to 90", f.review_days));
        }
        if !(f.lead_time_days > 0.0 && f.lead_time_days <= 90.0) {
            return Err(format!(
                "lead_time_days = {}: above 0, at most 90",
                f.lead_time_days
            ));
        }
        Ok(Self {
            service_level: f.service_level,
            window_days: f.window_days,
            review_days: f.review_days,
            lead_time_days: f.lead_time_days,
        })
    }
}

/// Where a lead time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadTimeSource {
    /// `[replenishment] lead_time_days`: the route has no received restock yet.
    Configured,
    /// The mean of the route's received restocks, request to receipt.
    Measured,
}

impl LeadTimeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LeadTimeSource::Configured => "configured",
            LeadTimeSource::Measured => "measured",
        }
    }
}

/// A route's replenishment lead time in days.
///
/// Two kinds of route: logistics center → store (from its restocks), and supplier →
/// logistics center (from its purchase orders, order to first receipt).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LeadTime {
    pub days: f64,
    pub source: LeadTimeSource,
    /// Receipts the measure is the mean of (0 when configured).
    pub samples: usize,
}

const DAY_MS: f64 = 86_400_000.0;

impl LeadTime {
    /// The mean of `durations_ms` (each from a request to its receipt; a negative one is
    /// ignored), else `configured_days`.
    pub fn of(durations_ms: &[i64], configured_days: f64) -> Self {
        let valid: Vec<i64> = durations_ms.iter().copied().filter(|&d| d >= 0).collect();
        if valid.is_empty() {
            return Self {
                days: configured_days,
                source: LeadTimeSource::Configured,
                samples: 0,
            };
        }
        let mean_ms = valid.iter().map(|&d| d as f64).sum::<f64>() / valid.len() as f64;
        Self {
            days: mean_ms / DAY_MS,
            source: LeadTimeSource::Measured,
            samples: valid.len(),
        }
    }
}

/// Proposed levels of one line, with what they were computed from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub demand: DemandStats,
    pub lead_time: LeadTime,
    /// z × σ × √L, in units (before rounding).
    pub safety_stock: f64,
    pub reorder_point: u32,
    pub target_level: u32,
}

/// Whole units that cover `x`, ignoring the last bits a float sum leaves (10.000000001
/// is 10), within `[0, MAX_ON_HAND]`.
fn units_covering(x: f64) -> u32 {
    let x = (x - 1e-9).ceil();
    if x.is_nan() || x <= 0.0 {
        0
    } else if x >= f64::from(MAX_ON_HAND) {
        MAX_ON_HAND
    } else {
        x as u32
    }
}

impl ReplenishmentPolicy {
    /// The levels `policy` proposes for a line whose daily demand over the window is
    /// `daily` and whose route takes `lead_time`:
    /// reorder point = ⌈mean × L + z × σ × √L⌉, target = reorder point + ⌈mean × review⌉.
    pub fn propose(&self, daily: &[u64], lead_time: LeadTime) -> Proposal {
        let demand = DemandStats::of(daily);
        let lead = lead_time.days.max(0.0);
        let safety_stock = z_score(self.service_level) * demand.std_dev * lead.sqrt();
        let reorder_point = units_covering(demand.mean * lead + safety_stock);
        let cycle = units_covering(demand.mean * f64::from(self.review_days));
        Proposal {
            demand,
            lead_time,
            safety_stock,
            reorder_point,
            target_level: reorder_point.saturating_add(cycle).min(MAX_ON_HAND),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(service_level: f64) -> ReplenishmentPolicy {
        ReplenishmentPolicy {
            service_level,
            window_days: 90,
            review_days: 7,
            lead_time_days: 3.0,
        }
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn z_scores_match_the_normal_table() {
        for (p, z) in [
            (0.5, 0.0),
            (0.8, 0.8416),
            (0.9, 1.2816),
            (0.95, 1.6449),
            (0.975, 1.9600),
            (0.98, 2.0537),
            (0.99, 2.3263),
            (0.999, 3.0902),
            (0.01, -2.3263),
        ] {
            assert!(close(z_score(p), z, 1e-4), "z({p}) = {}", z_score(p));
        }
    }

    #[test]
    fn ninety_days_of_known_demand_give_the_formula_s_levels() {
        // 45 days of 7 units and 45 of 13: mean 10, population σ 3, sample σ 3·√(90/89).
        let daily: Vec<u64> = (0..90).map(|d| if d % 2 == 0 { 7 } else { 13 }).collect();
        let lead = LeadTime::of(&[], 4.0);
        let proposal = policy(0.95).propose(&daily, lead);
        let sigma = 3.0 * (90.0_f64 / 89.0).sqrt();
        assert_eq!(proposal.demand.days, 90);
        assert!(close(proposal.demand.mean, 10.0, 1e-12));
        assert!(close(proposal.demand.std_dev, sigma, 1e-12));
        // 10 × 4 + 1.6449 × 3.0169 × 2 = 40 + 9.925 → 50; target 50 + 10 × 7 = 120.
        assert!(close(
            proposal.safety_stock,
            1.644_853_6 * sigma * 2.0,
            1e-6
        ));
        assert_eq!(proposal.reorder_point, 50);
        assert_eq!(proposal.target_level, 120);
        assert_eq!(proposal.lead_time.source, LeadTimeSource::Configured);
    }

    #[test]
    fn a_higher_service_level_or_a_longer_lead_time_asks_for_more() {
        let daily: Vec<u64> = (0..90).map(|d| [0, 2, 9, 1, 4][d % 5]).collect();
        let lead = |days| LeadTime::of(&[], days);
        let at = |level, days| policy(level).propose(&daily, lead(days)).reorder_point;
        assert!(at(0.99, 3.0) > at(0.95, 3.0));
        assert!(at(0.95, 3.0) > at(0.8, 3.0));
        assert!(at(0.95, 6.0) > at(0.95, 3.0));
    }

    #[test]
    fn steady_demand_needs_no_safety_stock_and_no_sale_no_stock() {
        let steady = policy(0.95).propose(&[5; 30], LeadTime::of(&[], 2.0));
        assert_eq!((steady.reorder_point, steady.target_level), (10, 45));
        let none = policy(0.95).propose(&[0; 30], LeadTime::of(&[], 2.0));
        assert_eq!((none.reorder_point, none.target_level), (0, 0));
        let empty = policy(0.95).propose(&[], LeadTime::of(&[], 2.0));
        assert_eq!((empty.reorder_point, empty.target_level), (0, 0));
    }

    #[test]
    fn huge_demand_is_capped_at_the_largest_stock_a_line_holds() {
        let proposal = policy(0.99).propose(&[u64::MAX / 4, 0], LeadTime::of(&[], 90.0));
        assert_eq!(proposal.reorder_point, MAX_ON_HAND);
        assert_eq!(proposal.target_level, MAX_ON_HAND);
    }

    #[test]
    fn a_measured_lead_time_is_the_mean_of_the_route_s_receipts() {
        let day = 86_400_000;
        let measured = LeadTime::of(&[day, 2 * day, 3 * day, -5], 7.0);
        assert_eq!(measured.source, LeadTimeSource::Measured);
        assert_eq!(measured.samples, 3);
        assert!(close(measured.days, 2.0, 1e-12));
        let configured = LeadTime::of(&[-1], 7.0);
        assert_eq!((configured.days, configured.samples), (7.0, 0));
    }

    #[test]
    fn the_configuration_is_checked_at_its_bounds() {
        let fields = |service_level, window_days, review_days, lead_time_days| PolicyFields {
            service_level,
            window_days,
            review_days,
            lead_time_days,
        };
        assert!(ReplenishmentPolicy::try_from(fields(0.95, 90, 7, 3.0)).is_ok());
        assert!(ReplenishmentPolicy::try_from(fields(1.0, 90, 7, 3.0)).is_err());
        assert!(ReplenishmentPolicy::try_from(fields(0.95, 6, 7, 3.0)).is_err());
        assert!(ReplenishmentPolicy::try_from(fields(0.95, 90, 0, 3.0)).is_err());
        assert!(ReplenishmentPolicy::try_from(fields(0.95, 90, 7, 0.0)).is_err());
        assert!(ReplenishmentPolicy::try_from(fields(0.95, 90, 7, f64::NAN)).is_err());
    }
}
