//! sled journal (selectable with `[storage] backend = "sled"`), with the two fixes that
//! crash tests showed sled 0.34.7 needs:
//!
//! 1. a kill while sled writes a snapshot leaves `snap.*.generating`, which every later open
//!    picks and rejects as corrupt: such files are deleted before opening;
//! 2. `flush()` only calls `sync_file_range`, which is not durable against power loss: the
//!    data file is `sync_data`ed after every flush.
//!
//! Layout: in the default tree, `e<stream>\0<seq BE>` → event and `l<stream>` → last seq
//! (so start-up does not scan every event); in the `snapshots` tree, `s<stream>` → snapshot
//! (`seq BE` + payload), and `t<stream>` → the head it stands at (`seq BE` + hash). Each
//! event's link of the hash chain is `h<stream>\0<seq BE>` → hash, in the same batch as the
//! event; `!sealed` says every event has one (a journal an earlier version wrote gets them
//! once, from `integrity::seal_unhashed`). Snapshots live apart because sled keeps values inline in its
//! pages: a snapshot of several megabytes next to the keys every commit updates was
//! rewritten at each page consolidation: 64 tills fell to 1,000 sales/s, against 42,000
//! with snapshots apart (`cargo bench --bench store_actor -- sled`). A commit is one atomic batch, or one
//! transaction over both trees when it carries a snapshot.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::{RwLock, RwLockReadGuard};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::integrity::{GENESIS, Hash};
use super::{JournalBackend, JournalError, StoredEvent, StoredSnapshot, StreamId};

const SNAPSHOTS: &str = "snapshots";
/// Present once every event has its hash.
const SEALED: &[u8] = b"!sealed";

pub struct SledJournal {
    /// `None` once closed: sled holds an exclusive file lock until its last `Db` is dropped,
    /// so closing must not wait for every `Arc` holder of the journal to go away.
    db: RwLock<Option<sled::Db>>,
    data_file: File,
}

fn remove_stale_snapshots(dir: &Path) -> Result<(), JournalError> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(file = %name, "removing a half-written sled snapshot left by a crash");
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// sled takes an exclusive lock on its files. A previous holder in this process may still
/// be releasing it (its flusher thread ends after the last handle is dropped), so a lock
/// refusal is retried for a few seconds before it is an error.
fn open_with_lock_retry(dir: &Path) -> Result<sled::Db, JournalError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::Config::new().path(dir).open() {
            Err(sled::Error::Io(e))
                if is_lock_refusal(&e) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other.map_err(JournalError::from),
        }
    }
}

/// Waits (5 s at most) until nothing holds sled's lock on `dir/db` (an exclusive `flock`,
/// which sled takes on open and releases when its last handle and flusher are gone).
fn wait_until_unlocked(dir: &Path) -> Result<(), JournalError> {
    let file = match File::open(dir.join("db")) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match file.try_lock() {
            // Released again when `file` is dropped, before sled opens.
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    format!("{} is held by another sled handle", dir.display()),
                )
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
    }
}

/// sled reports a held lock as an `Other` error whose message names it (sled 0.34.7,
/// `config.rs`), not as `WouldBlock`.
fn is_lock_refusal(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::WouldBlock
        || (error.kind() == std::io::ErrorKind::Other
            && error.to_string().contains("could not acquire lock"))
}

fn event_prefix(stream: &StreamId) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.as_str().len() + 10);
    key.push(b'e');
    key.extend_from_slice(stream.as_str().as_bytes());
    key.push(0);
    key
}

fn event_key(stream: &StreamId, seq: u64) -> Vec<u8> {
    let mut key = event_prefix(stream);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The key of an event's hash: its event key under the tag `h`.
fn hash_key(event_key: &[u8]) -> Vec<u8> {
    let mut key = event_key.to_vec();
    if let Some(tag) = key.first_mut() {
        *tag = b'h';
    }
    key
}

fn hash_from(value: Option<sled::IVec>) -> Hash {
    value
        .and_then(|v| Hash::try_from(v.as_ref()).ok())
        .unwrap_or(GENESIS)
}

fn tagged(tag: u8, stream: &StreamId) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend_from_slice(stream.as_str().as_bytes());
    key
}

fn split_seq(bytes: &[u8]) -> Result<(u64, &[u8]), JournalError> {
    let (head, rest) = bytes
        .split_first_chunk::<8>()
        .ok_or_else(|| JournalError::Corrupt("sled value shorter than a sequence".into()))?;
    Ok((u64::from_be_bytes(*head), rest))
}

impl SledJournal {
    pub fn open(dir: &Path) -> Result<Self, JournalError> {
        // Only once no one holds the database: a previous holder's flusher may be writing
        // the very snapshot that would look half-written.
        wait_until_unlocked(dir)?;
        remove_stale_snapshots(dir)?;
        let db = open_with_lock_retry(dir)?;
        let data_file = File::open(dir.join("db"))?;
        Ok(Self {
            db: RwLock::new(Some(db)),
            data_file,
        })
    }

    fn db(&self) -> Result<DbGuard<'_>, JournalError> {
        let guard = self.db.read().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            return Err(JournalError::Closed);
        }
        Ok(DbGuard(guard))
    }
}

struct DbGuard<'a>(RwLockReadGuard<'a, Option<sled::Db>>);

impl std::ops::Deref for DbGuard<'_> {
    type Target = sled::Db;
    fn deref(&self) -> &sled::Db {
        self.0
            .as_ref()
            .expect("DbGuard is only built over an open database")
    }
}

impl JournalBackend for SledJournal {
    fn commit(
        &self,
        events: &[StoredEvent],
        snapshots: &[StoredSnapshot],
    ) -> Result<(), JournalError> {
        let db = self.db()?;
        let mut batch = sled::Batch::default();
        let mut last: HashMap<&StreamId, u64> = HashMap::new();
        for event in events {
            let key = event_key(&event.stream, event.seq);
            // sled has no uniqueness constraint: refuse to overwrite a journaled event.
            if db.contains_key(&key)? {
                return Err(JournalError::OutOfSequence {
                    stream: event.stream.clone(),
                    last: event.seq,
                    got: event.seq,
                });
            }
            batch.insert(hash_key(&key), event.hash.as_slice());
            batch.insert(key, event.payload.as_slice());
            let entry = last.entry(&event.stream).or_default();
            *entry = (*entry).max(event.seq);
        }
        for (stream, seq) in last {
            batch.insert(tagged(b'l', stream), &seq.to_be_bytes());
        }
        if snapshots.is_empty() {
            db.apply_batch(batch)?;
        } else {
            let snapshot_tree = db.open_tree(SNAPSHOTS)?;
            let mut snapshot_batch = sled::Batch::default();
            for snapshot in snapshots {
                let mut value = snapshot.seq.to_be_bytes().to_vec();
                value.extend_from_slice(&snapshot.payload);
                snapshot_batch.insert(tagged(b's', &snapshot.stream), value);
                let mut head = snapshot.seq.to_be_bytes().to_vec();
                head.extend_from_slice(&snapshot.head);
                snapshot_batch.insert(tagged(b't', &snapshot.stream), head);
            }
            let legacy: Vec<Vec<u8>> = snapshots
                .iter()
                .map(|snapshot| tagged(b's', &snapshot.stream))
                .collect();
            let events_tree: &sled::Tree = &db;
            (events_tree, &snapshot_tree)
                .transaction(|(events, snapshots)| {
                    events.apply_batch(&batch)?;
                    // A journal written before snapshots had their own tree kept them
                    // beside the keys every commit rewrites: drop them as they are replaced.
                    for key in &legacy {
                        events.remove(key.as_slice())?;
                    }
                    snapshots.apply_batch(&snapshot_batch)?;
                    Ok::<(), ConflictableTransactionError<()>>(())
                })
                .map_err(|e| match e {
                    TransactionError::Storage(e) => JournalError::Sled(e),
                    TransactionError::Abort(()) => {
                        JournalError::Corrupt("sled aborted a journal transaction".into())
                    }
                })?;
        }
        db.flush()?;
        self.data_file.sync_data()?;
        Ok(())
    }

    fn read_events(
        &self,
        stream: &StreamId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, JournalError> {
        let start = event_key(stream, after.saturating_add(1));
        let end = event_key(stream, u64::MAX);
        let db = self.db()?;
        db.range(start..=end)
            .take(limit)
            .map(|item| {
                let (key, value) = item?;
                let (_, seq_bytes) = key.split_at(key.len().saturating_sub(8));
                let seq = u64::from_be_bytes(
                    seq_bytes
                        .try_into()
                        .map_err(|_| JournalError::Corrupt("short sled event key".into()))?,
                );
                Ok(StoredEvent {
                    stream: stream.clone(),
                    seq,
                    hash: hash_from(db.get(hash_key(&key))?),
                    payload: value.to_vec(),
                })
            })
            .collect()
    }

    fn latest_snapshot(&self, stream: &StreamId) -> Result<Option<StoredSnapshot>, JournalError> {
        let db = self.db()?;
        let key = tagged(b's', stream);
        // Journals written before snapshots had their own tree kept them in the default one.
        let tree = db.open_tree(SNAPSHOTS)?;
        let Some(value) = tree.get(&key)?.or(db.get(&key)?) else {
            return Ok(None);
        };
        let (seq, payload) = split_seq(&value)?;
        let head = match tree.get(tagged(b't', stream))? {
            Some(head) => match split_seq(&head)? {
                (at, hash) if at == seq => hash_from(Some(hash.into())),
                _ => GENESIS,
            },
            None => GENESIS,
        };
        Ok(Some(StoredSnapshot {
            stream: stream.clone(),
            seq,
            head,
            payload: payload.to_vec(),
        }))
    }

    fn last_seqs(&self) -> Result<HashMap<StreamId, u64>, JournalError> {
        self.db()?
            .scan_prefix([b'l'])
            .map(|item| {
                let (key, value) = item?;
                let stream = String::from_utf8(key[1..].to_vec())
                    .map_err(|_| JournalError::Corrupt("stream name is not UTF-8".into()))?;
                let (seq, _) = split_seq(&value)?;
                Ok((StreamId::from_stored(stream), seq))
            })
            .collect()
    }

    fn delete_events_before(&self, stream: &StreamId, before: u64) -> Result<u64, JournalError> {
        let db = self.db()?;
        let mut deleted = 0;
        loop {
            // In slices, so that a million events are not one batch in memory.
            let keys: Vec<sled::IVec> = db
                .range(event_key(stream, 0)..event_key(stream, before))
                .keys()
                .take(10_000)
                .collect::<Result<_, _>>()?;
            if keys.is_empty() {
                break;
            }
            let mut batch = sled::Batch::default();
            for key in &keys {
                batch.remove(hash_key(key));
                batch.remove(key);
            }
            db.apply_batch(batch)?;
            deleted += keys.len() as u64;
        }
        db.flush()?;
        self.data_file.sync_data()?;
        Ok(deleted)
    }

    fn sealed(&self) -> Result<bool, JournalError> {
        Ok(self.db()?.contains_key(SEALED)?)
    }

    fn set_hashes(&self, stream: &StreamId, hashes: &[(u64, Hash)]) -> Result<(), JournalError> {
        let db = self.db()?;
        let mut batch = sled::Batch::default();
        for (seq, hash) in hashes {
            batch.insert(hash_key(&event_key(stream, *seq)), hash.as_slice());
        }
        db.apply_batch(batch)?;
        Ok(())
    }

    fn set_snapshot_head(
        &self,
        stream: &StreamId,
        seq: u64,
        head: Hash,
    ) -> Result<(), JournalError> {
        let mut value = seq.to_be_bytes().to_vec();
        value.extend_from_slice(&head);
        self.db()?
            .open_tree(SNAPSHOTS)?
            .insert(tagged(b't', stream), value)?;
        Ok(())
    }

    fn mark_sealed(&self) -> Result<(), JournalError> {
        let db = self.db()?;
        db.insert(SEALED, &[1u8])?;
        db.flush()?;
        self.data_file.sync_data()?;
        Ok(())
    }

    fn close(&self) -> Result<(), JournalError> {
        let mut slot = self.db.write().unwrap_or_else(|p| p.into_inner());
        if let Some(db) = slot.take() {
            db.flush()?;
            self.data_file.sync_data()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_waits_for_the_previous_holder_to_release_the_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.sled");
        let first = SledJournal::open(&path).expect("first open");
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(first);
        });
        let second = SledJournal::open(&path);
        releaser.join().expect("releaser thread");
        assert!(
            second.is_ok(),
            "the second open waits for the lock: {:?}",
            second.err()
        );
    }
}
