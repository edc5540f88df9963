//! Prometheus metrics (`GET /metrics`, OpenMetrics text): HTTP traffic, actor mailboxes,
//! the journal, recovery, and business counters fed by committed events.
//!
//! Labels come only from bounded sets (route templates, methods, status classes, restock
//! states). Never label by store, SKU, user or raw path: every distinct label value is a
//! new series kept forever.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::domain::{DomainEvent, StepKind, StoreEvent};
use crate::persistence::{CommitListener, CommitStats, Committed};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route template (`/api/v1/stores/{store_id}/sales`), or `unmatched`.
    pub route: String,
    pub method: String,
    /// `2xx`, `4xx`, …
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub http_in_flight: Gauge,
    /// Messages sent to actors and not yet answered, over every actor.
    pub mailbox_pending: Gauge,
    pub journal_flush: Histogram,
    pub history_write: Histogram,
    pub journal_batch_events: Histogram,
    pub snapshot_encode: Histogram,
    pub snapshots_written: Counter,
    pub recovery_seconds: Gauge<f64, AtomicU64>,
    pub sales: Counter,
    pub sale_units: Counter,
    pub revenue_cents: Counter,
    pub returns: Counter,
    pub refunds_cents: Counter,
    pub restock_transitions: Family<StateLabels, Counter>,
    pub login_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("magasin");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status class",
            http_requests.clone(),
        );
        let http_duration =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register_with_unit(
            "http_request_duration",
            "HTTP request latency by route template and method",
            Unit::Seconds,
            http_duration.clone(),
        );
        let http_in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being served",
            http_in_flight.clone(),
        );
        let mailbox_pending = Gauge::default();
        registry.register(
            "actor_mailbox_pending",
            "Messages sent to store and product actors, not yet answered (all actors)",
            mailbox_pending.clone(),
        );
        let journal_flush = latency_histogram();
        registry.register_with_unit(
            "journal_flush_duration",
            "Time to make one group-commit batch durable",
            Unit::Seconds,
            journal_flush.clone(),
        );
        let history_write = latency_histogram();
        registry.register_with_unit(
            "history_write_duration",
            "Time to write one durable batch to the history (sales, returns, keys, figures)",
            Unit::Seconds,
            history_write.clone(),
        );
        let journal_batch_events = Histogram::new(exponential_buckets(1.0, 2.0, 14));
        registry.register(
            "journal_batch_events",
            "Events per group-commit batch",
            journal_batch_events.clone(),
        );
        let snapshot_encode = latency_histogram();
        registry.register_with_unit(
            "snapshot_encode_duration",
            "Time to encode one actor snapshot (its write is part of a journal batch)",
            Unit::Seconds,
            snapshot_encode.clone(),
        );
        let snapshots_written = Counter::default();
        registry.register(
            "snapshots_written",
            "Snapshots made durable",
            snapshots_written.clone(),
        );
        let recovery_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "recovery_duration",
            "Time the last start spent recovering actors from the journal",
            Unit::Seconds,
            recovery_seconds.clone(),
        );
        let sales = Counter::default();
        registry.register("sales", "Sales recorded (durable)", sales.clone());
        let sale_units = Counter::default();
        registry.register("sale_units", "Units sold", sale_units.clone());
        let revenue_cents = Counter::default();
        registry.register(
            "revenue_cents",
            "Revenue of sales, in cents",
            revenue_cents.clone(),
        );
        let returns = Counter::default();
        registry.register("returns", "Returns recorded", returns.clone());
        let refunds_cents = Counter::default();
        registry.register("refunds_cents", "Refunds, in cents", refunds_cents.clone());
        let restock_transitions = Family::<StateLabels, Counter>::default();
        registry.register(
            "restock_requests",
            "Restock requests entering each state",
            restock_transitions.clone(),
        );
        // Every state exists from the start, at zero, so rates work from the first scrape.
        for state in [
            "requested",
            "allocated",
            "shipped",
            "received",
            "rejected",
            "cancelled",
        ] {
            restock_transitions
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .inc_by(0);
        }
        let login_failures = Counter::default();
        registry.register(
            "login_failures",
            "Failed logins (throttled ones included)",
            login_failures.clone(),
        );
        Self {
            registry,
            http_requests,
            http_duration,
            http_in_flight,
            mailbox_pending,
            journal_flush,
            history_write,
            journal_batch_events,
            snapshot_encode,
            snapshots_written,
            recovery_seconds,
            sales,
            sale_units,
            revenue_cents,
            returns,
            refunds_cents,
            restock_transitions,
            login_failures,
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        text
    }

    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let class = format!("{}xx", status / 100);
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status: class,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    fn state(&self, state: &str) {
        self.restock_transitions
            .get_or_create(&StateLabels {
                state: state.to_owned(),
            })
            .inc();
    }
}

fn positive(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl CommitListener for Metrics {
    fn committed(&self, events: &[Committed], stats: &CommitStats) {
        self.journal_flush.observe(stats.duration.as_secs_f64());
        self.history_write.observe(stats.history.as_secs_f64());
        self.journal_batch_events.observe(stats.events as f64);
        self.snapshots_written
            .inc_by(stats.snapshot_encodes.len() as u64);
        for encode in &stats.snapshot_encodes {
            self.snapshot_encode.observe(encode.as_secs_f64());
        }
        for committed in events {
            let DomainEvent::Store(_, event) = &committed.event else {
                continue;
            };
            match event {
                StoreEvent::SaleRecorded(r) => {
                    self.sales.inc();
                    self.sale_units
                        .inc_by(r.sale.lines.iter().map(|l| u64::from(l.quantity)).sum());
                    self.revenue_cents.inc_by(positive(r.sale.subtotal.0));
                }
                StoreEvent::SaleReturned(r) => {
                    self.returns.inc();
                    self.refunds_cents.inc_by(positive(r.ret.subtotal.0));
                }
                StoreEvent::RestockRequested(_) => self.state("requested"),
                StoreEvent::RestockStep(done) => self.state(match done.step {
                    StepKind::Allocated(_) => "allocated",
                    StepKind::Shipped(_) => "shipped",
                    StepKind::Received(_) | StepKind::ReceivedCounted(_) => "received",
                    StepKind::Rejected(_) => "rejected",
                    StepKind::Cancelled => "cancelled",
                }),
                StoreEvent::StockAdjusted(_)
                | StoreEvent::StockLevelsSet(_)
                | StoreEvent::SalesLetGo { .. }
                | StoreEvent::SessionOpened(_)
                | StoreEvent::SessionClosed(_)
                | StoreEvent::Transfer(_) => {}
            }
        }
    }
}
