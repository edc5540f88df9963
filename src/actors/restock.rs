//! The restock cycle across actors (réapprovisionnement): a store's request, allocation and
//! shipping by the product actors of the logistics center, receipt by the store.
//!
//! No lock spans two actors. Each step talks to each actor in turn, and every actor is
//! idempotent by request id, so the order below makes every crash recoverable by retrying
//! the same call:
//! - allocate: products first (each keeps its allocation for the request), then the store
//!   records them; a retry finds the same allocations and nothing more is taken;
//! - ship: products move their allocation out, then the store records the shipment;
//! - receive: the store adds the shipped units to on-hand, then the products note delivery;
//! - reject / cancel: the store records it first, then every allocation is given back
//!   (always, on a retry too), so no allocation can be stranded by a crash in between.

use std::collections::BTreeMap;

use super::product::CentralOp;
use super::registry::{Registry, RegistryError};
use super::store::{Recorded, StoreError};
use crate::domain::{
    Cents, IdempotencyKey, MissingOutcome, Receipt, RestockAsk, RestockError, RestockId,
    RestockRequest, RestockStatus, RestockStep, Sku, StoreId, Username,
};

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chain(#[from] super::ChainActorError),
}

fn invalid(request: &RestockRequest, to: RestockStatus) -> FlowError {
    FlowError::Store(StoreError::Restock(RestockError::InvalidTransition {
        id: request.id,
        from: request.status,
        to,
    }))
}

impl Registry {
    pub async fn request_restock(
        &self,
        store: StoreId,
        ask: RestockAsk,
        key: Option<IdempotencyKey>,
        by: Username,
    ) -> Result<Recorded<RestockRequest>, FlowError> {
        Ok(self
            .store(store)
            .await?
            .request_restock(ask, key, by)
            .await?)
    }

    /// Takes what central stock has for each line (partial allocation is normal).
    pub async fn allocate_restock(
        &self,
        id: RestockId,
        by: Username,
    ) -> Result<RestockRequest, FlowError> {
        let store = self.store(id.store).await?;
        let request = store.restock(id).await?;
        match request.status {
            RestockStatus::Requested => {}
            RestockStatus::Allocated => return Ok(request),
            _ => return Err(invalid(&request, RestockStatus::Allocated)),
        }
        let mut allocations = BTreeMap::new();
        for line in &request.lines {
            let quantity = self
                .central(
                    &line.sku,
                    CentralOp::Allocate {
                        request: id,
                        requested: line.requested,
                    },
                )
                .await?;
            allocations.insert(line.sku.clone(), quantity);
        }
        match store
            .step_restock(id, RestockStep::Allocate(allocations), by)
            .await
        {
            Ok(request) => Ok(request),
            // Rejected or cancelled meanwhile: give back what was just taken.
            Err(StoreError::Restock(e @ RestockError::InvalidTransition { .. })) => {
                self.release_all(&request).await;
                Err(FlowError::Store(StoreError::Restock(e)))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn ship_restock(
        &self,
        id: RestockId,
        by: Username,
    ) -> Result<RestockRequest, FlowError> {
        let store = self.store(id.store).await?;
        let request = store.restock(id).await?;
        match request.status {
            RestockStatus::Allocated => {}
            RestockStatus::Shipped => return Ok(request),
            _ => return Err(invalid(&request, RestockStatus::Shipped)),
        }
        let mut shipped = BTreeMap::new();
        for line in request.lines.iter().filter(|l| l.allocated > 0) {
            let quantity = self
                .central(&line.sku, CentralOp::Ship { request: id })
                .await?;
            shipped.insert(line.sku.clone(), quantity);
        }
        Ok(store
            .step_restock(id, RestockStep::Ship(shipped), by)
            .await?)
    }

    /// The store receives the shipment: everything shipped, or counted line by line (only
    /// the units received in good condition reach on-hand; damaged ones are written off).
    /// Then each product notes the delivery, and what went missing waits at the center.
    /// A retry finds the receipt done and notes the deliveries again (idempotent).
    pub async fn receive_restock(
        &self,
        id: RestockId,
        receipt: Receipt,
        by: Username,
    ) -> Result<RestockRequest, FlowError> {
        let store = self.store(id.store).await?;
        let request = store
            .step_restock(id, RestockStep::Receive(receipt), by)
            .await?;
        for line in request.lines.iter().filter(|l| l.shipped > 0) {
            // The request says what went missing (shipped − arrived), so a retry after a
            // crash here tells the center the same thing.
            let missing = line.shipped.saturating_sub(line.received);
            if let Err(e) = self.note_delivery(id, &line.sku, missing).await {
                tracing::warn!(request = %id, sku = %line.sku, error = %e, "delivery not noted centrally; a retry of the receipt notes it");
            }
        }
        Ok(request)
    }

    async fn note_delivery(
        &self,
        id: RestockId,
        sku: &Sku,
        missing: u32,
    ) -> Result<u32, FlowError> {
        let op = match missing {
            0 => CentralOp::Deliver { request: id },
            _ => CentralOp::DeliverShort {
                request: id,
                missing,
            },
        };
        self.central(sku, op).await
    }

    /// Settles at the center the units of `sku` missing from request `id`: lost in
    /// transit, or found and back in central stock. Answers how many this call settled.
    pub async fn resolve_missing(
        &self,
        id: RestockId,
        sku: &Sku,
        outcome: MissingOutcome,
        by: Username,
    ) -> Result<u32, FlowError> {
        let op = CentralOp::ResolveMissing {
            request: id,
            outcome,
            by,
        };
        self.central(sku, op).await
    }

    pub async fn reject_restock(
        &self,
        id: RestockId,
        reason: String,
        by: Username,
    ) -> Result<RestockRequest, FlowError> {
        self.close_restock(id, RestockStep::Reject(reason), by)
            .await
    }

    pub async fn cancel_restock(
        &self,
        id: RestockId,
        by: Username,
    ) -> Result<RestockRequest, FlowError> {
        self.close_restock(id, RestockStep::Cancel, by).await
    }

    async fn close_restock(
        &self,
        id: RestockId,
        step: RestockStep,
        by: Username,
    ) -> Result<RestockRequest, FlowError> {
        let store = self.store(id.store).await?;
        // A shipment that failed half-way (one product shipped, another's owner did not
        // answer) leaves the request allocated with goods already on the road: closing it
        // then would lose them. Shipping again completes it; only then may it be received.
        let request = store.restock(id).await?;
        if request.status == RestockStatus::Allocated {
            for line in &request.lines {
                let shipped = self
                    .central(&line.sku, CentralOp::Shipped { request: id })
                    .await?;
                if shipped > 0 {
                    let to = match step {
                        RestockStep::Reject(_) => RestockStatus::Rejected,
                        _ => RestockStatus::Cancelled,
                    };
                    return Err(invalid(&request, to));
                }
            }
        }
        let request = store.step_restock(id, step, by).await?;
        self.release_all(&request).await;
        Ok(request)
    }

    /// Gives back every allocation of the request (idempotent: nothing held, nothing done).
    async fn release_all(&self, request: &RestockRequest) {
        for line in &request.lines {
            let released = self
                .central(
                    &line.sku,
                    CentralOp::Release {
                        request: request.id,
                    },
                )
                .await;
            if let Err(e) = released {
                tracing::error!(request = %request.id, sku = %line.sku, error = %e, "allocation not released; retry the rejection");
            }
        }
    }

    /// Goods from a supplier, one receipt id for all lines (each product records it once).
    /// A line's cost, when given, moves the product's average cost.
    pub async fn receive_goods(
        &self,
        receipt: &str,
        lines: Vec<(Sku, u32, Option<Cents>)>,
        by: Username,
    ) -> Result<Vec<(Sku, u32)>, FlowError> {
        let mut on_hand = Vec::with_capacity(lines.len());
        for (sku, quantity, unit_cost) in lines {
            let after = self
                .central(
                    &sku,
                    CentralOp::ReceiveGoods {
                        receipt: receipt.to_owned(),
                        quantity,
                        damaged: 0,
                        damage_reason: None,
                        unit_cost,
                        by: by.clone(),
                    },
                )
                .await?;
            on_hand.push((sku, after));
        }
        Ok(on_hand)
    }
}
