//! `/stores/{store_id}/ledger`: the store's journal, read back as its stock ledger.

use actix_web::{get, web};
use serde::Serialize;

use super::auth::Authenticated;
use super::extract::{LedgerQuery, next_after, store_id};
use super::problem::ApiError;
use super::{AppState, rfc3339};
use crate::auth::Permission;
use crate::domain::{
    DamageReason, ReceiptLine, RestockId, RestockRequested, RestockStepDone, SaleRecorded,
    SaleReturned, StepKind, StockAdjusted, StockLevelsSet, StoreEvent, StoreId, TransferEvent,
    TransferId,
};

#[derive(Serialize, utoipa::ToSchema)]
struct Movement {
    sku: String,
    /// Signed change of on-hand stock.
    change: i64,
    on_hand_after: u32,
    /// For sales and returns: the unit price the line was sold at.
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_price_cents: Option<i64>,
    /// An écart: units an offline sale took beyond what the shelf held (negative), which
    /// on-hand did not go below 0 for; the line is listed for a count.
    #[serde(skip_serializing_if = "Option::is_none")]
    discrepancy: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct LedgerEntry {
    seq: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sale_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    adjustment_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    movements: Vec<Movement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    levels: Option<Levels>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restock_id: Option<String>,
    /// Quantities a restock step names (requested, allocated or shipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    quantities: Option<Vec<Quantity>>,
    /// A transfer between stores: `<from>-<n>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    transfer_id: Option<String>,
    /// A receipt with discrepancies: units that arrived damaged, written off here (they
    /// never reach on-hand), with their reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    written_off: Option<Vec<WrittenOff>>,
    /// A receipt with discrepancies: units shipped that did not arrive (the logistics
    /// center settles them: lost in transit, or found).
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<Vec<Quantity>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct WrittenOff {
    sku: String,
    quantity: u32,
    /// broken, expired, wet or other.
    reason: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Quantity {
    sku: String,
    quantity: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Levels {
    sku: String,
    reorder_point: u32,
    target_level: u32,
}

fn entry(seq: u64, kind: &'static str) -> LedgerEntry {
    LedgerEntry {
        seq,
        kind,
        at: None,
        by: None,
        sale_id: None,
        return_id: None,
        adjustment_id: None,
        amount_cents: None,
        reason: None,
        movements: Vec::new(),
        levels: None,
        restock_id: None,
        quantities: None,
        written_off: None,
        missing: None,
        transfer_id: None,
    }
}

/// A transfer's step on this store's side: requested and delivered move nothing here;
/// shipped takes units out; arrived is a receipt (with its discrepancies, if any).
fn transfer_entry(seq: u64, store: StoreId, event: TransferEvent) -> LedgerEntry {
    let id = |number| TransferId { store, number }.to_string();
    match event {
        TransferEvent::Requested(t) => LedgerEntry {
            at: Some(rfc3339(t.requested_at)),
            by: Some(t.requested_by.to_string()),
            transfer_id: Some(t.id.to_string()),
            quantities: Some(
                t.lines
                    .iter()
                    .map(|l| Quantity {
                        sku: l.sku.to_string(),
                        quantity: l.quantity,
                    })
                    .collect(),
            ),
            ..entry(seq, "transfer_requested")
        },
        TransferEvent::Shipped {
            number,
            lines,
            at,
            by,
        } => LedgerEntry {
            at: Some(rfc3339(at)),
            by: Some(by.to_string()),
            transfer_id: Some(id(number)),
            movements: lines
                .into_iter()
                .map(|l| Movement {
                    sku: l.sku.to_string(),
                    change: -i64::from(l.quantity),
                    on_hand_after: l.on_hand_after,
                    unit_price_cents: None,
                    discrepancy: None,
                })
                .collect(),
            ..entry(seq, "transfer_shipped")
        },
        TransferEvent::Arrived {
            transfer,
            lines,
            at,
            by,
        } => LedgerEntry {
            kind: "transfer_received",
            transfer_id: Some(transfer.to_string()),
            ..received_counted_entry(
                lines,
                LedgerEntry {
                    at: Some(rfc3339(at)),
                    by: Some(by.to_string()),
                    ..entry(seq, "")
                },
            )
        },
        TransferEvent::Delivered {
            number,
            arrived,
            at,
        } => LedgerEntry {
            at: Some(rfc3339(at)),
            transfer_id: Some(id(number)),
            quantities: quantities(&arrived),
            ..entry(seq, "transfer_delivered")
        },
    }
}

fn ledger_entry(seq: u64, store: StoreId, event: StoreEvent) -> LedgerEntry {
    match event {
        StoreEvent::SaleRecorded(SaleRecorded { sale, .. }) => LedgerEntry {
            at: Some(rfc3339(sale.at)),
            by: Some(sale.by.to_string()),
            sale_id: Some(sale.id.0),
            // Before taxes, as the reports count it.
            amount_cents: Some(sale.subtotal.0),
            movements: sale
                .lines
                .into_iter()
                .map(|l| Movement {
                    sku: l.sku.to_string(),
                    change: -i64::from(l.quantity - l.unstocked),
                    on_hand_after: l.on_hand_after,
                    unit_price_cents: Some(l.unit_price.0),
                    discrepancy: (l.unstocked > 0).then(|| -i64::from(l.unstocked)),
                })
                .collect(),
            ..entry(seq, "sale_recorded")
        },
        StoreEvent::SaleReturned(SaleReturned { ret, .. }) => LedgerEntry {
            at: Some(rfc3339(ret.at)),
            by: Some(ret.by.to_string()),
            sale_id: Some(ret.sale_id.0),
            return_id: Some(ret.id.0),
            amount_cents: Some(-ret.subtotal.0),
            reason: ret.reason,
            movements: ret
                .lines
                .into_iter()
                .map(|l| Movement {
                    sku: l.sku.to_string(),
                    change: i64::from(l.quantity),
                    on_hand_after: l.on_hand_after,
                    unit_price_cents: Some(l.unit_price.0),
                    discrepancy: None,
                })
                .collect(),
            ..entry(seq, "sale_returned")
        },
        StoreEvent::StockAdjusted(StockAdjusted { adjustment, .. }) => LedgerEntry {
            at: Some(rfc3339(adjustment.at)),
            by: Some(adjustment.by.to_string()),
            adjustment_id: Some(adjustment.id.0),
            reason: Some(adjustment.reason),
            movements: adjustment
                .lines
                .into_iter()
                .map(|l| Movement {
                    sku: l.sku.to_string(),
                    change: i64::from(l.on_hand_after) - i64::from(l.on_hand_before),
                    on_hand_after: l.on_hand_after,
                    unit_price_cents: None,
                    discrepancy: None,
                })
                .collect(),
            ..entry(seq, "stock_adjusted")
        },
        StoreEvent::RestockRequested(RestockRequested { request, .. }) => LedgerEntry {
            at: Some(rfc3339(request.requested_at)),
            by: Some(request.requested_by.to_string()),
            restock_id: Some(request.id.to_string()),
            quantities: Some(
                request
                    .lines
                    .iter()
                    .map(|l| Quantity {
                        sku: l.sku.to_string(),
                        quantity: l.requested,
                    })
                    .collect(),
            ),
            ..entry(seq, "restock_requested")
        },
        StoreEvent::RestockStep(done) => restock_step_entry(seq, store, done),
        StoreEvent::Transfer(event) => transfer_entry(seq, store, event),
        StoreEvent::StockLevelsSet(StockLevelsSet {
            sku,
            reorder_point,
            target_level,
        }) => LedgerEntry {
            levels: Some(Levels {
                sku: sku.to_string(),
                reorder_point,
                target_level,
            }),
            ..entry(seq, "stock_levels_set")
        },
        // No stock moves: the sales before `at` leave the store's memory (compaction).
        StoreEvent::SalesLetGo { before } => LedgerEntry {
            at: Some(rfc3339(before)),
            ..entry(seq, "sales_let_go")
        },
        // No stock moves: a till session opened or closed (its Z report).
        StoreEvent::SessionOpened(opened) => LedgerEntry {
            at: Some(rfc3339(opened.session.opened_at)),
            by: Some(opened.session.opened_by.to_string()),
            amount_cents: Some(opened.session.float.0),
            ..entry(seq, "till_session_opened")
        },
        StoreEvent::SessionClosed(closed) => LedgerEntry {
            at: closed.report.closing.as_ref().map(|c| rfc3339(c.closed_at)),
            by: closed
                .report
                .closing
                .as_ref()
                .map(|c| c.closed_by.to_string()),
            amount_cents: closed.report.closing.as_ref().map(|c| c.count.counted.0),
            ..entry(seq, "till_session_closed")
        },
    }
}

fn quantities(map: &std::collections::BTreeMap<crate::domain::Sku, u32>) -> Option<Vec<Quantity>> {
    Some(
        map.iter()
            .map(|(sku, quantity)| Quantity {
                sku: sku.to_string(),
                quantity: *quantity,
            })
            .collect(),
    )
}

fn restock_step_entry(seq: u64, store: StoreId, done: RestockStepDone) -> LedgerEntry {
    let restock_id = Some(
        RestockId {
            store,
            number: done.number,
        }
        .to_string(),
    );
    let base = LedgerEntry {
        at: Some(rfc3339(done.at)),
        by: Some(done.by.to_string()),
        restock_id,
        ..entry(seq, "")
    };
    match done.step {
        StepKind::Allocated(map) => LedgerEntry {
            kind: "restock_allocated",
            quantities: quantities(&map),
            ..base
        },
        StepKind::Shipped(map) => LedgerEntry {
            kind: "restock_shipped",
            quantities: quantities(&map),
            ..base
        },
        StepKind::Received(lines) => LedgerEntry {
            kind: "restock_received",
            movements: lines
                .into_iter()
                .map(|l| Movement {
                    sku: l.sku.to_string(),
                    change: i64::from(l.quantity),
                    on_hand_after: l.on_hand_after,
                    unit_price_cents: None,
                    discrepancy: None,
                })
                .collect(),
            ..base
        },
        StepKind::ReceivedCounted(lines) => received_counted_entry(lines, base),
        StepKind::Rejected(reason) => LedgerEntry {
            kind: "restock_rejected",
            reason: Some(reason),
            ..base
        },
        StepKind::Cancelled => LedgerEntry {
            kind: "restock_cancelled",
            ..base
        },
    }
}

/// A receipt with discrepancies: the units received in good condition as movements, the
/// damaged ones written off, the missing ones named.
fn received_counted_entry(lines: Vec<ReceiptLine>, base: LedgerEntry) -> LedgerEntry {
    let written_off = lines
        .iter()
        .filter(|l| l.damaged > 0)
        .map(|l| WrittenOff {
            sku: l.sku.to_string(),
            quantity: l.damaged,
            reason: l.damage_reason.unwrap_or(DamageReason::Other).as_str(),
        })
        .collect();
    let missing = lines
        .iter()
        .filter(|l| l.missing > 0)
        .map(|l| Quantity {
            sku: l.sku.to_string(),
            quantity: l.missing,
        })
        .collect();
    LedgerEntry {
        kind: "restock_received",
        movements: lines
            .into_iter()
            .filter(|l| l.received > 0)
            .map(|l| Movement {
                sku: l.sku.to_string(),
                change: i64::from(l.received),
                on_hand_after: l.on_hand_after,
                unit_price_cents: None,
                discrepancy: None,
            })
            .collect(),
        written_off: Some(written_off),
        missing: Some(missing),
        ..base
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct LedgerPage {
    items: Vec<LedgerEntry>,
    /// Pass as `after` to read on; absent when this page is the end for now.
    next_after: Option<u64>,
}

/// The store's events in journal order: every stock movement with the balance after it.
#[utoipa::path(
    tag = "magasins",
    responses((status = 200, description = "Grand livre de stock du magasin", body = LedgerPage))
)]
#[get("/stores/{store_id}/ledger")]
async fn ledger(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    query: web::Query<LedgerQuery>,
) -> Result<web::Json<LedgerPage>, ApiError> {
    let id = store_id(path.into_inner())?;
    user.require(Permission::ReadLedger, Some(id))?;
    let (after, limit) = query.page()?;
    let events = app.registry.ledger(id, after, limit).await?;
    let next_after = next_after(&events, limit);
    let items = events
        .into_iter()
        .map(|(seq, e)| ledger_entry(seq, id, e))
        .collect();
    Ok(web::Json(LedgerPage { items, next_after }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(ledger);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(ledger))]
pub(super) struct Docs;
