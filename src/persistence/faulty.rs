//! A journal backend that fails on demand: the disk-failure drill of the tests (and of an
//! operator who wants to see what the tills see). While switched to failing, every commit
//! and every read answers an I/O error and changes nothing; switched back, the backend it
//! wraps answers again, with everything committed before intact.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{JournalBackend, JournalError, StoredEvent, StoredSnapshot, StreamId};

pub struct Faulty {
    inner: Arc<dyn JournalBackend>,
    failing: AtomicBool,
    /// Only commits that write a product's stream fail (a crash between the chain's
    /// journal and the products', as a purchase order's receipt sees it).
    failing_products: AtomicBool,
}

impl Faulty {
    pub fn new(inner: Arc<dyn JournalBackend>) -> Self {
        Self {
            inner,
            failing: AtomicBool::new(false),
            failing_products: AtomicBool::new(false),
        }
    }

    /// From now on, commits that write a product's central stock fail (`true`), or reach
    /// the disk again (`false`); every other stream is written as usual.
    pub fn set_failing_products(&self, failing: bool) {
        self.failing_products.store(failing, Ordering::SeqCst);
    }

    /// From now on, every call fails (`true`) or reaches the disk again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), JournalError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(JournalError::Io(std::io::Error::other(
                "disk failure (switched on by Faulty)",
            )))
        } else {
            Ok(())
        }
    }
}

impl JournalBackend for Faulty {
    fn commit(
        &self,
        events: &[StoredEvent],
        snapshots: &[StoredSnapshot],
    ) -> Result<(), JournalError> {
        self.check()?;
        let touches_products = events.iter().any(|e| e.stream.product_sku().is_some())
            || snapshots.iter().any(|s| s.stream.product_sku().is_some());
        if touches_products && self.failing_products.load(Ordering::SeqCst) {
            return Err(JournalError::Io(std::io::Error::other(
                "disk failure on product streams (switched on by Faulty)",
            )));
        }
        self.inner.commit(events, snapshots)
    }

    fn read_events(
        &self,
        stream: &StreamId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, JournalError> {
        self.check()?;
        self.inner.read_events(stream, after, limit)
    }

    fn latest_snapshot(&self, stream: &StreamId) -> Result<Option<StoredSnapshot>, JournalError> {
        self.check()?;
        self.inner.latest_snapshot(stream)
    }

    fn last_seqs(&self) -> Result<HashMap<StreamId, u64>, JournalError> {
        self.check()?;
        self.inner.last_seqs()
    }

    fn delete_events_before(&self, stream: &StreamId, before: u64) -> Result<u64, JournalError> {
        self.check()?;
        self.inner.delete_events_before(stream, before)
    }

    fn reclaim(&self) -> Result<(), JournalError> {
        self.check()?;
        self.inner.reclaim()
    }

    fn close(&self) -> Result<(), JournalError> {
        self.inner.close()
    }
}
