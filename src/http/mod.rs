//! The HTTP API v1 (actix-web): routes, extractors, bodies and problem+json errors.
//!
//! Handlers are thin: parse, call one actor or read one read model, map the answer. No
//! business rule lives here; if a handler grows an `if` about stock, it belongs in
//! `domain`.

mod accounting;
mod audit;
mod auth;
mod catalog;
mod client;
mod events;
mod extract;
mod forward;
mod headers;
mod internal;
mod jurisdictions;
mod ledger;
mod observe;
mod openapi;
mod ops;
mod problem;
mod purchasing;
mod receipt;
mod replenishment;
mod reports;
mod restock;
mod route;
mod sales;
mod stock;
mod stores;
mod till;
mod transfers;
mod ui;
mod users;
mod webhooks;

use actix_web::web;
use std::sync::Arc;

use crate::actors::Registry;
use crate::auth::{LoginThrottle, TokenKeys};
use crate::cluster::{Cluster, Peers};
use crate::domain::Timestamp;
use crate::metrics::Metrics;
use crate::reports::{
    CatalogView, CentralView, EventHub, RestockView, SalesFacts, StockView, UsersView,
};

pub use headers::security_headers;
pub use observe::observe;
pub use problem::ApiError;

/// What every handler may reach.
pub struct AppState {
    /// This instance and the owner of every store.
    pub cluster: Arc<Cluster>,
    /// The other instances (internal API).
    pub peers: Arc<Peers>,
    /// Demo data in place (false while a cluster instance still seeds: not ready).
    pub seeded: Arc<std::sync::atomic::AtomicBool>,
    /// This follower's reference data is not the owner's (not ready).
    pub chain_diverged: Arc<std::sync::atomic::AtomicBool>,
    pub registry: Registry,
    pub catalog: Arc<CatalogView>,
    pub stock: Arc<StockView>,
    pub users: Arc<UsersView>,
    pub central: Arc<CentralView>,
    pub restocks: Arc<RestockView>,
    pub transfers: Arc<crate::reports::TransferView>,
    pub sales: Arc<SalesFacts>,
    pub events: Arc<EventHub>,
    pub metrics: Arc<Metrics>,
    /// Where the chain's days begin and end.
    pub time_zone: jiff::tz::TimeZone,
    /// How reorder points are proposed from sales (ADR 0030).
    pub replenishment: crate::domain::ReplenishmentPolicy,
    pub tokens: TokenKeys,
    pub throttle: LoginThrottle,
    /// The proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Signs Z reports.
    pub seal: crate::auth::seal::SealKey,
    /// The webhook endpoints, this instance's deliveries, and the rules for targets.
    pub webhooks: Arc<crate::reports::WebhookDirectory>,
    pub purchasing: Arc<crate::reports::PurchasingView>,
    pub outbox: Arc<crate::webhooks::outbox::Outbox>,
    pub webhook_settings: crate::webhooks::WebhookSettings,
}

impl crate::cluster::fanout::Instance for AppState {
    fn cluster(&self) -> &Cluster {
        &self.cluster
    }
    fn peers(&self) -> &Peers {
        &self.peers
    }
}

impl AsRef<Registry> for AppState {
    fn as_ref(&self) -> &Registry {
        &self.registry
    }
}

/// `2026-11-24T14:05:00.123Z`.
pub fn rfc3339(at: Timestamp) -> String {
    at.rfc3339()
}

/// Mounts the API and its error handlers.
pub fn configure(body_limit: usize) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(
            web::JsonConfig::default()
                .limit(body_limit)
                .error_handler(extract::json_error),
        )
        .app_data(web::PayloadConfig::new(body_limit))
        .app_data(web::QueryConfig::default().error_handler(extract::query_error))
        .app_data(web::PathConfig::default().error_handler(extract::path_error))
        .configure(ops::routes)
        .configure(openapi::routes)
        .configure(ui::routes)
        .service(
            web::scope("/api/v1")
                .configure(auth::routes)
                .configure(users::routes)
                .configure(audit::routes)
                .configure(webhooks::routes)
                .configure(stores::routes)
                .configure(catalog::routes)
                .configure(stock::routes)
                .configure(replenishment::routes)
                .configure(sales::routes)
                .configure(till::routes)
                .configure(accounting::routes)
                .configure(jurisdictions::routes)
                .configure(ledger::routes)
                .configure(restock::routes)
                .configure(transfers::routes)
                .configure(purchasing::routes)
                .configure(reports::routes)
                .configure(events::routes),
        )
        .service(web::scope("/internal/v1").configure(internal::routes))
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::RouteNotFound)
        }));
    }
}
