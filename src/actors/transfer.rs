//! Transfers between stores across actors (and instances): the sending store files and
//! ships; the receiving store counts what arrived, then the sending store learns it.
//!
//! No lock spans the two stores. Each store is idempotent by transfer id, and the order
//! makes a crash recoverable by retrying the receipt: the receiving store writes its count
//! first (on-hand, written-off units), then tells the sending store (which closes the
//! transfer); a retry finds the count already there and tells the sending store again.
//! The sending store may be on another instance: its steps then go over the internal API
//! to its owner (`RemoteCentral::at_source`).

use super::registry::Registry;
use super::restock::FlowError;
use super::store::{SourceOp, StoreError};
use crate::domain::{
    Receipt, RequestedLine, StoreId, Transfer, TransferError, TransferId, Username,
};

impl Registry {
    pub async fn request_transfer(
        &self,
        from: StoreId,
        to: StoreId,
        lines: Vec<RequestedLine>,
        by: Username,
    ) -> Result<Transfer, FlowError> {
        Ok(self
            .store(from)
            .await?
            .request_transfer(to, lines, by)
            .await?)
    }

    /// The transfer as its sending store holds it (wherever that store lives).
    pub async fn transfer(&self, id: TransferId) -> Result<Transfer, FlowError> {
        self.at_source(id.store, SourceOp::Get { number: id.number })
            .await
    }

    /// The sending store takes the units out of its on-hand: they are in transit.
    pub async fn ship_transfer(&self, id: TransferId, by: Username) -> Result<Transfer, FlowError> {
        let op = SourceOp::Ship {
            number: id.number,
            by,
        };
        self.at_source(id.store, op).await
    }

    /// The receiving store `to` counts what arrived; then the sending store learns it.
    pub async fn receive_transfer(
        &self,
        to: StoreId,
        id: TransferId,
        receipt: Receipt,
        by: Username,
    ) -> Result<Transfer, FlowError> {
        let transfer = self.transfer(id).await?;
        if transfer.to != to {
            return Err(StoreError::Transfer(TransferError::NotFound(id)).into());
        }
        let arrived = self
            .store(to)
            .await?
            .arrive_transfer(transfer, receipt, by)
            .await?;
        let op = SourceOp::Delivered {
            number: id.number,
            arrived,
        };
        self.at_source(id.store, op).await
    }
}
