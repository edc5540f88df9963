//! Purchase orders across actors (ADR 0032): the chain actor decides and journals each
//! receipt, then every product of the receipt records its units once per posting id. A
//! retried call, or the owner of the reference data starting again, posts the same
//! postings again and moves nothing twice.

use super::chain::{PurchaseCommand, Purchased};
use super::product::CentralOp;
use super::registry::Registry;
use super::restock::FlowError;
use crate::domain::{Posting, PurchaseOrder, Timestamp, Username};

impl Registry {
    /// Runs `command` on the reference data's owner, then posts what it brought in.
    pub async fn purchase(&self, command: PurchaseCommand) -> Result<Purchased, FlowError> {
        let done = self.chain().purchase(command.clone()).await?;
        let (PurchaseCommand::Receive { by, .. } | PurchaseCommand::DecideOver { by, .. }) =
            &command
        else {
            return Ok(done);
        };
        if let Purchased::Order {
            order,
            receipt: Some(number),
            ..
        } = &done
        {
            self.post(&order.receipt_postings(*number), by).await?;
        }
        Ok(done)
    }

    /// Records each posting in its product's central stock (each product once per id).
    async fn post(&self, postings: &[Posting], by: &Username) -> Result<(), FlowError> {
        for posting in postings {
            let op = CentralOp::ReceiveGoods {
                receipt: posting.id.clone(),
                quantity: posting.quantity,
                damaged: posting.damaged,
                damage_reason: posting.damage_reason,
                unit_cost: Some(posting.unit_cost),
                by: by.clone(),
            };
            self.central(&posting.sku, op).await?;
        }
        Ok(())
    }

    /// Posts again every receipt of `orders` that moved stock since `since` (received, or
    /// its excess approved): a crash between the chain's journal and the products' is
    /// mended at the next start. A receipt that cannot be posted (its product's instance
    /// down) does not hold up the others. Answers how many receipts failed.
    pub async fn repost_purchases(&self, orders: &[PurchaseOrder], since: Timestamp) -> usize {
        let mut failed = 0;
        let recent = orders.iter().filter(|o| o.last_moved() >= Some(since));
        for order in recent {
            for receipt in &order.receipts {
                let postings = order.receipt_postings(receipt.number);
                if let Err(e) = self.post(&postings, &receipt.by).await {
                    failed += 1;
                    tracing::warn!(order = order.id, receipt = receipt.number, error = %e, "supplier receipt not posted yet");
                }
            }
        }
        failed
    }
}
