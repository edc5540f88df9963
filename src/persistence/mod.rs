//! The event journal and the snapshots, behind one trait with two backends (SQLite, the
//! default, and sled), plus the group-commit writer every actor appends through.
//!
//! The promise this room makes: when [`Journal::append`] resolves `Ok`, the events are on
//! disk and survive a crash or a power cut. Nothing may acknowledge a write before that.

pub mod archive;
pub mod codec;
pub mod faulty;
pub mod history;
pub mod integrity;
mod memory;
mod sled_backend;
pub mod snapshot;
mod sqlite;
mod writer;

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::domain::{Sku, StoreId};

pub use codec::CodecError;
pub use history::{History, SaleRecord};
pub use snapshot::Snapshot;
pub use writer::{CommitListener, CommitStats, Committed, Journal, WriterSettings, recover_stream};

/// Which storage engine holds the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Sled,
}

/// The name of one ordered sequence of events: `chain`, `store/3`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    pub fn chain() -> Self {
        Self("chain".to_owned())
    }

    pub fn store(id: StoreId) -> Self {
        Self(format!("store/{id}"))
    }

    /// One product's stock at the logistics center.
    pub fn product(sku: &Sku) -> Self {
        Self(format!("product/{sku}"))
    }

    /// The store of a `store/…` stream.
    pub fn store_id(&self) -> Option<StoreId> {
        self.0
            .strip_prefix("store/")
            .and_then(|raw| raw.parse::<u32>().ok())
            .and_then(|id| StoreId::new(id).ok())
    }

    /// The SKU of a `product/…` stream.
    pub fn product_sku(&self) -> Option<Sku> {
        self.0
            .strip_prefix("product/")
            .and_then(|raw| Sku::parse(raw).ok())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One journaled event, as stored: its stream, its position (1, 2, …), its link of the
/// stream's hash chain ([`integrity::link`]) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub stream: StreamId,
    pub seq: u64,
    pub hash: integrity::Hash,
    pub payload: Vec<u8>,
}

/// The whole state of a stream after its event `seq`, and the hash of that event (the
/// chain's head; [`integrity::GENESIS`] when not recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    pub stream: StreamId,
    pub seq: u64,
    pub head: integrity::Hash,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("stream {stream}: event {got} does not follow {last}")]
    OutOfSequence {
        stream: StreamId,
        last: u64,
        got: u64,
    },
    #[error("an earlier write of this batch failed; nothing of it was written")]
    BatchFailed,
    #[error("the journal writer has stopped")]
    Closed,
    #[error("corrupt journal: {0}")]
    Corrupt(String),
    #[error("another magasin process uses the data directory {0}")]
    Busy(String),
    /// The batch is journaled but could not be written to the history; the store catches
    /// up at its recovery.
    #[error("the history is behind the journal for this store")]
    HistoryBehind,
}

/// A durable store of events and snapshots. Implementations must make [`commit`] atomic
/// and durable: after `Ok`, all of it survives a SIGKILL or power loss; after `Err` or a
/// crash during the call, either all of it or none of it is there.
///
/// [`commit`]: JournalBackend::commit
pub trait JournalBackend: Send + Sync + 'static {
    fn commit(
        &self,
        events: &[StoredEvent],
        snapshots: &[StoredSnapshot],
    ) -> Result<(), JournalError>;

    /// Events of `stream` with `seq > after`, in order, at most `limit`.
    fn read_events(
        &self,
        stream: &StreamId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, JournalError>;

    fn latest_snapshot(&self, stream: &StreamId) -> Result<Option<StoredSnapshot>, JournalError>;

    /// The last journaled `seq` of every stream.
    fn last_seqs(&self) -> Result<HashMap<StreamId, u64>, JournalError>;

    /// Deletes the events of `stream` with `seq < before`: compaction, once they are
    /// archived and a snapshot at `before` or later stands for them. The last event of a
    /// stream is never among them, so [`JournalBackend::last_seqs`] does not change.
    /// Answers how many were deleted.
    fn delete_events_before(&self, stream: &StreamId, before: u64) -> Result<u64, JournalError>;

    /// Gives the space of deleted events back to the file system.
    fn reclaim(&self) -> Result<(), JournalError> {
        Ok(())
    }

    /// The last event of every stream: its seq and its hash (the chain's head).
    fn heads(&self) -> Result<HashMap<StreamId, (u64, integrity::Hash)>, JournalError> {
        let mut heads = HashMap::new();
        for (stream, last) in self.last_seqs()? {
            let hash = self
                .read_events(&stream, last.saturating_sub(1), 1)?
                .first()
                .map_or(integrity::GENESIS, |e| e.hash);
            heads.insert(stream, (last, hash));
        }
        Ok(heads)
    }

    /// Whether every event has its hash: false for a journal an earlier version wrote,
    /// until [`integrity::seal_unhashed`] gave them one.
    fn sealed(&self) -> Result<bool, JournalError> {
        Ok(true)
    }

    /// Records the hashes of events journaled without one (sealing, once).
    fn set_hashes(
        &self,
        _stream: &StreamId,
        _hashes: &[(u64, integrity::Hash)],
    ) -> Result<(), JournalError> {
        Ok(())
    }

    /// Records the head of a snapshot written without one (sealing, once).
    fn set_snapshot_head(
        &self,
        _stream: &StreamId,
        _seq: u64,
        _head: integrity::Hash,
    ) -> Result<(), JournalError> {
        Ok(())
    }

    /// Says that every event has its hash from now on.
    fn mark_sealed(&self) -> Result<(), JournalError> {
        Ok(())
    }

    /// Releases the files (locks included) even while handles remain; every later call
    /// fails with [`JournalError::Closed`].
    fn close(&self) -> Result<(), JournalError> {
        Ok(())
    }
}

/// One process at a time per data directory: a server and `magasin compact` hold this
/// lock while they use it (an advisory lock on `<data_dir>/LOCK`, released by the system
/// when the process ends, even killed).
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    pub fn acquire(data_dir: &Path) -> Result<Self, JournalError> {
        std::fs::create_dir_all(data_dir)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(data_dir.join("LOCK"))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(JournalError::Busy(data_dir.display().to_string()))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
        }
    }
}

/// Opens (creating if needed) the journal of `backend` under `data_dir`. A journal an
/// earlier version wrote gets its hash chain first (once).
pub fn open(backend: Backend, data_dir: &Path) -> Result<Arc<dyn JournalBackend>, JournalError> {
    std::fs::create_dir_all(data_dir)?;
    let journal: Arc<dyn JournalBackend> = match backend {
        Backend::Sqlite => Arc::new(sqlite::SqliteJournal::open(
            &data_dir.join("journal.sqlite3"),
        )?),
        Backend::Sled => Arc::new(sled_backend::SledJournal::open(
            &data_dir.join("journal.sled"),
        )?),
    };
    let sealed = integrity::seal_unhashed(journal.as_ref(), &archive::Archive::new(data_dir))?;
    if sealed > 0 {
        tracing::info!(
            events = sealed,
            "journal written by an earlier version: every event now has its hash"
        );
    }
    Ok(journal)
}

/// A journal that lives in memory only: nothing survives the process. For measuring the
/// actors without a disk; never a configured backend.
pub fn in_memory() -> Arc<dyn JournalBackend> {
    Arc::new(memory::MemoryJournal::default())
}

#[cfg(test)]
mod backend_tests {
    //! The contract every backend must keep, run against both on real files.
    use super::*;

    fn event(stream: &StreamId, seq: u64) -> StoredEvent {
        StoredEvent {
            stream: stream.clone(),
            seq,
            hash: [u8::try_from(seq).unwrap_or(0); 32],
            payload: format!("{stream}#{seq}").into_bytes(),
        }
    }

    fn contract(backend: Backend) {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let journal = open(backend, dir.path()).expect("opens");
            write_sample(journal.as_ref());
            journal.close().expect("closes");
        }
        // Reopen: everything committed is there.
        let journal = open(backend, dir.path()).expect("reopens");
        check_sample(journal.as_ref());
        check_deletion(journal.as_ref());
        journal.close().expect("closes");
        let journal = open(backend, dir.path()).expect("reopens");
        assert_eq!(
            journal.read_events(&streams().0, 0, 1).expect("reads")[0].seq,
            4
        );
    }

    fn streams() -> (StreamId, StreamId) {
        (
            StreamId::store(StoreId::new(1).expect("valid id")),
            StreamId::chain(),
        )
    }

    fn write_sample(journal: &dyn JournalBackend) {
        let (a, b) = streams();
        assert!(journal.last_seqs().expect("reads").is_empty());
        let batch: Vec<StoredEvent> = (1..=5)
            .map(|s| event(&a, s))
            .chain([event(&b, 1)])
            .collect();
        journal.commit(&batch, &[]).expect("commits");
        let snapshot = StoredSnapshot {
            stream: a.clone(),
            seq: 3,
            head: [3; 32],
            payload: b"state@3".to_vec(),
        };
        journal
            .commit(&[event(&a, 6)], &[snapshot])
            .expect("commits");
    }

    fn check_sample(journal: &dyn JournalBackend) {
        let (a, b) = streams();
        let seqs = journal.last_seqs().expect("reads");
        assert_eq!(seqs.get(&a), Some(&6));
        assert_eq!(seqs.get(&b), Some(&1));
        let after_two: Vec<u64> = journal
            .read_events(&a, 2, 3)
            .expect("reads")
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(after_two, vec![3, 4, 5]);
        assert_eq!(
            journal.read_events(&a, 5, 10).expect("reads"),
            vec![event(&a, 6)]
        );
        let snapshot = journal
            .latest_snapshot(&a)
            .expect("reads")
            .expect("a snapshot");
        assert_eq!(
            (snapshot.seq, snapshot.head, snapshot.payload.as_slice()),
            (3, [3; 32], &b"state@3"[..])
        );
        assert_eq!(journal.heads().expect("reads").get(&a), Some(&(6, [6; 32])));
        assert!(journal.latest_snapshot(&b).expect("reads").is_none());
    }

    /// Compaction's deletion: the older events go, the rest and the last seqs stay.
    fn check_deletion(journal: &dyn JournalBackend) {
        let (a, _) = streams();
        assert_eq!(journal.delete_events_before(&a, 4).expect("deletes"), 3);
        assert_eq!(journal.delete_events_before(&a, 4).expect("deletes"), 0);
        journal.reclaim().expect("reclaims");
        let left: Vec<u64> = journal
            .read_events(&a, 0, 10)
            .expect("reads")
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(left, vec![4, 5, 6]);
        assert_eq!(journal.last_seqs().expect("reads").get(&a), Some(&6));
    }

    #[test]
    fn memory_keeps_the_contract_while_the_process_lives() {
        let journal = in_memory();
        assert!(journal.last_seqs().expect("reads").is_empty());
        write_sample(journal.as_ref());
        check_sample(journal.as_ref());
        check_deletion(journal.as_ref());
        let chain = StreamId::chain();
        assert!(
            journal
                .commit(&[event(&chain, 2), event(&chain, 1)], &[])
                .is_err()
        );
        assert_eq!(journal.last_seqs().expect("reads").get(&chain), Some(&1));
    }

    #[test]
    fn sqlite_keeps_the_contract() {
        contract(Backend::Sqlite);
    }

    #[test]
    fn sled_keeps_the_contract() {
        contract(Backend::Sled);
    }

    #[test]
    fn sqlite_refuses_a_duplicate_position() {
        let dir = tempfile::tempdir().expect("temp dir");
        let journal = open(Backend::Sqlite, dir.path()).expect("opens");
        let chain = StreamId::chain();
        journal.commit(&[event(&chain, 1)], &[]).expect("commits");
        assert!(
            journal
                .commit(&[event(&chain, 2), event(&chain, 1)], &[])
                .is_err()
        );
        // The failed batch left nothing behind.
        assert_eq!(journal.last_seqs().expect("reads").get(&chain), Some(&1));
    }
}
