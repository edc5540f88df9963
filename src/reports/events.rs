//! The live feed of committed events, for Server-Sent Events: a position per event (in
//! commit order), a bounded buffer to resume from (`Last-Event-ID`), and a broadcast to
//! every subscriber.
//!
//! Positions count from the start of this process: after a restart, or when a client
//! resumes from a position the buffer no longer holds, it is told to reload (`reset`).

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::broadcast;

use crate::domain::{
    CentralEvent, ChainEvent, DomainEvent, PurchasingEvent, StepKind, StoreEvent, StoreId,
    TransferEvent, TransferId, Username,
};

/// Who may see an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The users of this store, logistics for restocks, head office.
    Store(StoreId),
    /// Logistics and head office.
    Logistics,
    /// Everybody signed in.
    Everyone,
    /// Head office only.
    HeadOffice,
}

/// One committed event as live clients see it; also what instances relay to each other
/// (`/internal/v1/events`), so it crosses the wire as JSON.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LiveEvent {
    pub position: u64,
    pub audience: Audience,
    /// Restock events reach logistics as well as the store.
    pub restock: bool,
    pub kind: std::borrow::Cow<'static, str>,
    pub data: Value,
    /// A change of the reference data: every instance publishes it from its own copy, so
    /// instances never relay it to each other.
    #[serde(default)]
    pub chain: bool,
}

pub struct EventHub {
    buffer: Mutex<(u64, VecDeque<LiveEvent>)>,
    capacity: usize,
    live: broadcast::Sender<LiveEvent>,
    closing: tokio::sync::watch::Sender<bool>,
}

impl EventHub {
    pub fn new(capacity: usize) -> Self {
        let (live, _) = broadcast::channel(capacity.max(16));
        Self {
            buffer: Mutex::new((0, VecDeque::with_capacity(capacity))),
            capacity: capacity.max(1),
            live,
            closing: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Ends every subscription (at shutdown, so open feeds do not hold it up).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`EventHub::close`] has been called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + use<> {
        let mut closing = self.closing.subscribe();
        async move {
            let _ = closing.wait_for(|closed| *closed).await;
        }
    }

    /// Appends a committed event (called by the projector, in commit order).
    pub fn publish(&self, event: &DomainEvent, seq: u64) {
        let (audience, restock, kind, data) = describe(event, seq);
        let mut buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        buffer.0 += 1;
        let live = LiveEvent {
            position: buffer.0,
            audience,
            restock,
            kind: kind.into(),
            data,
            chain: matches!(event, DomainEvent::Chain(_)),
        };
        if buffer.1.len() == self.capacity {
            buffer.1.pop_front();
        }
        buffer.1.push_back(live.clone());
        // No subscriber is not an error.
        let _ = self.live.send(live);
    }

    /// Subscribes, then returns the buffered events after `after` (`None` if the buffer
    /// no longer reaches back that far) and the live receiver; a caller skips live events
    /// at or before the last one replayed.
    pub fn subscribe(
        &self,
        after: Option<u64>,
    ) -> (Option<Vec<LiveEvent>>, broadcast::Receiver<LiveEvent>) {
        let receiver = self.live.subscribe();
        let buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let replay = match after {
            None => Some(Vec::new()),
            Some(after) => {
                let oldest = buffer.1.front().map_or(buffer.0 + 1, |e| e.position);
                (after + 1 >= oldest && after <= buffer.0).then(|| {
                    buffer
                        .1
                        .iter()
                        .filter(|e| e.position > after)
                        .cloned()
                        .collect()
                })
            }
        };
        (replay, receiver)
    }
}

/// An event as the live feed and webhooks show it: who may see it, whether it is a restock's
/// (logistics sees those), its type, and its data.
pub fn describe(event: &DomainEvent, seq: u64) -> (Audience, bool, &'static str, Value) {
    match event {
        DomainEvent::Store(store, event) => {
            let base = |kind: &'static str, extra: Value, restock: bool| {
                let mut data = json!({"store_id": store.get(), "seq": seq});
                if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
                    data.extend(extra);
                }
                (Audience::Store(*store), restock, kind, data)
            };
            match event {
                StoreEvent::SaleRecorded(r) => base(
                    "sale_recorded",
                    json!({"sale_id": r.sale.id.0, "total_cents": r.sale.total.0,
                           "subtotal_cents": r.sale.subtotal.0,
                           "units": r.sale.lines.iter().map(|l| u64::from(l.quantity)).sum::<u64>()}),
                    false,
                ),
                StoreEvent::SaleReturned(r) => base(
                    "sale_returned",
                    json!({"sale_id": r.ret.sale_id.0, "return_id": r.ret.id.0, "refund_cents": r.ret.refund.0}),
                    false,
                ),
                StoreEvent::StockAdjusted(a) => base(
                    "stock_adjusted",
                    json!({"adjustment_id": a.adjustment.id.0}),
                    false,
                ),
                StoreEvent::StockLevelsSet(l) => {
                    base("stock_levels_set", json!({"sku": l.sku.as_str()}), false)
                }
                StoreEvent::SalesLetGo { before } => {
                    base("sales_let_go", json!({"before": before.rfc3339()}), false)
                }
                StoreEvent::SessionOpened(o) => base(
                    "till_session_opened",
                    json!({"till": o.till.get(), "session": o.session.number}),
                    false,
                ),
                StoreEvent::SessionClosed(c) => base(
                    "till_session_closed",
                    json!({"till": c.report.till.get(), "session": c.report.session,
                           "z_number": c.report.closing.as_ref().map(|z| z.z_number)}),
                    false,
                ),
                StoreEvent::Transfer(t) => {
                    let (id, status) = match t {
                        TransferEvent::Requested(t) => (t.id, "requested"),
                        TransferEvent::Shipped { number, .. } => (
                            TransferId {
                                store: *store,
                                number: *number,
                            },
                            "shipped",
                        ),
                        TransferEvent::Arrived { transfer, .. } => (*transfer, "arrived"),
                        TransferEvent::Delivered { number, .. } => (
                            TransferId {
                                store: *store,
                                number: *number,
                            },
                            "received",
                        ),
                    };
                    base(
                        "transfer_updated",
                        json!({"transfer_id": id.to_string(), "status": status}),
                        false,
                    )
                }
                StoreEvent::RestockRequested(r) => base(
                    "restock_requested",
                    json!({"restock_id": r.request.id.to_string(), "status": "requested"}),
                    true,
                ),
                StoreEvent::RestockStep(done) => {
                    let status = match done.step {
                        StepKind::Allocated(_) => "allocated",
                        StepKind::Shipped(_) => "shipped",
                        StepKind::Received(_) | StepKind::ReceivedCounted(_) => "received",
                        StepKind::Rejected(_) => "rejected",
                        StepKind::Cancelled => "cancelled",
                    };
                    let id = format!("{store}-{}", done.number);
                    base(
                        "restock_updated",
                        json!({"restock_id": id, "status": status}),
                        true,
                    )
                }
            }
        }
        DomainEvent::Central(sku, event) => {
            let kind = match event {
                CentralEvent::GoodsReceived { .. } | CentralEvent::PurchaseReceived { .. } => {
                    "central_received"
                }
                CentralEvent::Allocated { .. } => "central_allocated",
                CentralEvent::Released { .. } => "central_released",
                CentralEvent::Shipped { .. } => "central_shipped",
                CentralEvent::Delivered { .. } | CentralEvent::DeliveredShort { .. } => {
                    "central_delivered"
                }
                CentralEvent::MissingResolved { .. } => "central_missing_resolved",
            };
            (
                Audience::Logistics,
                false,
                kind,
                json!({"sku": sku.as_str(), "seq": seq}),
            )
        }
        DomainEvent::Chain(event) => match event {
            ChainEvent::ProductAdded(p) => (
                Audience::Everyone,
                false,
                "product_added",
                json!({"sku": p.sku.as_str()}),
            ),
            ChainEvent::ProductChanged(p) => (
                Audience::Everyone,
                false,
                "product_changed",
                json!({"sku": p.sku.as_str(), "price_cents": p.price.0}),
            ),
            ChainEvent::StoreOpened(s) => (
                Audience::Everyone,
                false,
                "store_opened",
                json!({"store_id": s.id.get()}),
            ),
            ChainEvent::StoreChanged(s) => (
                Audience::Everyone,
                false,
                "store_changed",
                json!({"store_id": s.id.get()}),
            ),
            ChainEvent::JurisdictionSet(j) => (
                Audience::HeadOffice,
                false,
                "jurisdiction_set",
                json!({"code": j.code}),
            ),
            ChainEvent::UserCreated(u) => (
                Audience::HeadOffice,
                false,
                "user_created",
                json!({"username": u.username.as_str()}),
            ),
            ChainEvent::UserDeactivated(name) => (
                Audience::HeadOffice,
                false,
                "user_deactivated",
                json!({"username": name.as_str()}),
            ),
            ChainEvent::UserChanged(u) => (
                Audience::HeadOffice,
                false,
                "user_changed",
                json!({"username": u.username.as_str(), "role": u.role.as_str(), "active": u.active}),
            ),
            // Never the secret.
            ChainEvent::WebhookRegistered(w) => (
                Audience::HeadOffice,
                false,
                "webhook_registered",
                json!({"id": w.id, "url": w.url, "events": w.events}),
            ),
            ChainEvent::WebhookRemoved(id) => (
                Audience::HeadOffice,
                false,
                "webhook_removed",
                json!({"id": id}),
            ),
            ChainEvent::UserRecorded(r) => (
                Audience::HeadOffice,
                false,
                "user_changed",
                json!({
                    "username": r.user.username.as_str(),
                    "change": r.change.as_str(),
                    "role": r.user.role.as_str(),
                    "active": r.user.active,
                    "by": r.stamp.by.as_ref().map(Username::as_str),
                }),
            ),
            ChainEvent::Purchasing(p) => purchasing_event(p),
        },
    }
}

/// A supplier or purchase order event, for logistics and head office.
fn purchasing_event(event: &PurchasingEvent) -> (Audience, bool, &'static str, Value) {
    let (kind, body) = match event {
        PurchasingEvent::SupplierSet(s) => ("supplier_set", json!({"code": s.code.as_str()})),
        PurchasingEvent::OrderPlaced(o) => (
            "purchase_order_placed",
            json!({"order_id": o.id, "supplier": o.supplier.as_str()}),
        ),
        PurchasingEvent::GoodsReceived { order, receipt } => (
            "purchase_order_received",
            json!({"order_id": order, "receipt": receipt.number, "over": receipt.over()}),
        ),
        PurchasingEvent::OverDecided {
            order,
            receipt,
            decision,
        } => (
            "over_receipt_decided",
            json!({"order_id": order, "receipt": receipt, "approved": decision.approved}),
        ),
        PurchasingEvent::OrderClosed { order, .. } => {
            ("purchase_order_closed", json!({"order_id": order}))
        }
    };
    (Audience::Logistics, false, kind, body)
}
