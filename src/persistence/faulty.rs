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
}

impl Faulty {
    pub fn new(inner: Arc<dyn JournalBackend>) -> Self {
        Self {
            inner,
            failing: AtomicBool::new(false),
        }
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
