//! Per-operation figures from goose's metrics: requests, throughput, latency percentiles
//! from its response-time histogram, errors by status; the readable table and the
//! `summary.json` of a run.

use goose::metrics::{GooseMetrics, GooseRequestMetricAggregate, GooseRequestMetricTimingData};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

use crate::check::CheckReport;

/// The figures of one operation, or of a whole pass.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub operation: String,
    pub method: String,
    pub requests: usize,
    /// Requests per second over the pass.
    pub throughput: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Failed requests by status: `0` is no answer, `rejected` a success status whose
    /// body the tool refused (wrong sale on a retry, a search that missed).
    pub errors: BTreeMap<String, usize>,
    /// This figure over the ceiling's (throughput, then each latency).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_ceiling: Option<VsCeiling>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct VsCeiling {
    pub throughput: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

impl Figures {
    pub fn error_count(&self) -> usize {
        self.errors.values().sum()
    }

    fn from_timing(
        operation: &str,
        method: &str,
        timing: &GooseRequestMetricTimingData,
        seconds: f64,
    ) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            operation: operation.to_owned(),
            method: method.to_owned(),
            requests: timing.counter,
            throughput: timing.counter as f64 / seconds,
            p50_ms: ms(timing.percentile_us(0.50)),
            p95_ms: ms(timing.percentile_us(0.95)),
            p99_ms: ms(timing.percentile_us(0.99)),
            max_ms: ms(timing.maximum_time_us),
            errors: BTreeMap::new(),
            vs_ceiling: None,
        }
    }

    fn compare(&mut self, ceiling: &Figures) {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        self.vs_ceiling = Some(VsCeiling {
            throughput: ratio(self.throughput, ceiling.throughput),
            p50: ratio(self.p50_ms, ceiling.p50_ms),
            p95: ratio(self.p95_ms, ceiling.p95_ms),
            p99: ratio(self.p99_ms, ceiling.p99_ms),
        });
    }
}

fn errors_of(aggregate: &GooseRequestMetricAggregate) -> BTreeMap<String, usize> {
    let mut errors: BTreeMap<String, usize> = aggregate
        .status_code_counts
        .iter()
        .filter(|(status, _)| !(200..300).contains(*status))
        .map(|(status, count)| (status.to_string(), *count))
        .collect();
    let by_status: usize = errors.values().sum();
    let rejected = aggregate.fail_count.saturating_sub(by_status);
    if rejected > 0 {
        errors.insert("rejected".into(), rejected);
    }
    errors
}

/// One measured pass.
#[derive(Debug, Clone, Serialize)]
pub struct Pass {
    pub scenario: String,
    pub users: usize,
    pub seconds: f64,
    pub total: Figures,
    pub operations: Vec<Figures>,
    /// Transactions that ended in an error not tied to one request.
    pub transaction_errors: usize,
}

impl Pass {
    pub fn from_metrics(scenario: &str, users: usize, metrics: &GooseMetrics) -> Self {
        let seconds = metrics.duration.max(1) as f64;
        let mut all: BTreeMap<u64, usize> = BTreeMap::new();
        let mut total = GooseRequestMetricTimingData::default();
        let mut operations: Vec<Figures> = metrics
            .requests
            .values()
            .map(|aggregate| {
                let timing = &aggregate.raw_data;
                for (bucket, count) in timing.times_us.iter() {
                    *all.entry(*bucket).or_default() += count;
                }
                if total.counter == 0 || timing.minimum_time_us < total.minimum_time_us {
                    total.minimum_time_us = timing.minimum_time_us;
                }
                total.maximum_time_us = total.maximum_time_us.max(timing.maximum_time_us);
                total.total_time_us += timing.total_time_us;
                total.counter += timing.counter;
                let mut figures = Figures::from_timing(
                    &aggregate.path,
                    aggregate.method_label(),
                    timing,
                    seconds,
                );
                figures.errors = errors_of(aggregate);
                figures
            })
            .collect();
        for (bucket, count) in all {
            total.times_us.insert(bucket, count);
        }
        operations.sort_by(|a, b| a.operation.cmp(&b.operation));
        let mut total = Figures::from_timing("total", "", &total, seconds);
        for op in &operations {
            for (status, count) in &op.errors {
                *total.errors.entry(status.clone()).or_default() += count;
            }
        }
        Self {
            scenario: scenario.to_owned(),
            users,
            seconds,
            total,
            operations,
            transaction_errors: metrics
                .transaction_errors
                .values()
                .map(|e| e.occurrences)
                .sum(),
        }
    }

    pub fn errors(&self) -> usize {
        self.total.error_count() + self.transaction_errors
    }

    /// Sets every figure's ratio to the ceiling's totals.
    pub fn compare(&mut self, ceiling: &Pass) {
        self.total.compare(&ceiling.total);
        for op in &mut self.operations {
            op.compare(&ceiling.total);
        }
    }

    /// The pass as a table, one line per operation, then the total.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<6} {:<18} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9} {:>7}  errors",
            "method",
            "operation",
            "requests",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "×ceil"
        );
        for figures in self.operations.iter().chain([&self.total]) {
            let errors = if figures.errors.is_empty() {
                "0".to_owned()
            } else {
                figures
                    .errors
                    .iter()
                    .map(|(status, count)| format!("{status}×{count}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let vs = figures
                .vs_ceiling
                .map_or("-".to_owned(), |v| format!("{:.3}", v.throughput));
            let _ = writeln!(
                out,
                "{:<6} {:<18} {:>9} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>7}  {errors}",
                figures.method,
                figures.operation,
                figures.requests,
                figures.throughput,
                figures.p50_ms,
                figures.p95_ms,
                figures.p99_ms,
                figures.max_ms,
                vs
            );
        }
        if self.transaction_errors > 0 {
            let _ = writeln!(out, "transaction errors: {}", self.transaction_errors);
        }
        out
    }
}

/// `summary.json`.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    pub host: &'a str,
    pub scenario: &'a str,
    pub users: usize,
    pub duration_s: u64,
    /// Requests per second of the ceiling pass, if one ran.
    pub ceiling_throughput: Option<f64>,
    pub ceiling: Option<&'a Pass>,
    pub pass: &'a Pass,
    /// Users of each kind out of 100, for the mixed pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mixed_weights: Option<BTreeMap<&'static str, usize>>,
    pub check: Option<&'a CheckReport>,
    pub passed: bool,
    pub failures: &'a [String],
}
