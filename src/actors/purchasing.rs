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
            let mut postings = Vec::new();
            if matches!(command, PurchaseCommand::Receive { .. }) {
                postings = order.postings(*number);
            }
            postings.extend(order.over_postings(*number));
            self.post(&postings, by).await?;
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

    /// Posts again every receipt of `orders` received since `since`: a crash between the
    /// chain's journal and the products' is mended at the next start. Answers how many
    /// postings were sent (most are already recorded and change nothing).
    pub async fn repost_purchases(
        &self,
        orders: Vec<PurchaseOrder>,
        since: Timestamp,
    ) -> Result<usize, FlowError> {
        let mut sent = 0;
        for order in orders {
            for receipt in order.receipts.iter().filter(|r| r.at >= since) {
                let mut postings = order.postings(receipt.number);
                postings.extend(order.over_postings(receipt.number));
                sent += postings.len();
                self.post(&postings, &receipt.by).await?;
            }
        }
        Ok(sent)
    }
}
