//! SQLite journal: WAL mode, `synchronous=FULL`, one transaction per group-commit batch.
//!
//! Two connections: the writer (used only by the journal writer thread) and a reader for
//! recovery and ledger reads, so a read never waits for a commit in progress (WAL lets
//! readers see the last committed state while a write is under way).
//!
//! Each event row carries its link of the stream's hash chain (`hash`), each snapshot the
//! head it stands at (`head`). A journal an earlier version wrote has neither column: they
//! are added at open, empty, and filled once by `integrity::seal_unhashed`, after which
//! `PRAGMA user_version` is [`SEALED`].

use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::integrity::{GENESIS, Hash};
use super::{JournalBackend, JournalError, StoredEvent, StoredSnapshot, StreamId};

/// `user_version` once every event has its hash.
const SEALED: i64 = 1;

pub struct SqliteJournal {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

fn connect(path: &Path) -> Result<Connection, JournalError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: the WAL is fsynced at every commit, so an acknowledged batch survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// A poisoned mutex only means another thread panicked while holding it; the connection
/// itself is still consistent (SQLite rolls back an unfinished transaction), so go on.
fn lock(mutex: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SqliteJournal {
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let writer = connect(path)?;
        writer.execute_batch(
            "CREATE TABLE IF NOT EXISTS events (
                 stream  TEXT    NOT NULL,
                 seq     INTEGER NOT NULL,
                 payload BLOB    NOT NULL,
                 hash    BLOB,
                 PRIMARY KEY (stream, seq)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS snapshots (
                 stream  TEXT    PRIMARY KEY,
                 seq     INTEGER NOT NULL,
                 payload BLOB    NOT NULL,
                 head    BLOB
             );",
        )?;
        // Tables an earlier version created lack the chain's columns.
        for (table, column) in [("events", "hash"), ("snapshots", "head")] {
            let present: bool = writer.query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
                params![table, column],
                |row| row.get(0),
            )?;
            if !present {
                writer.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} BLOB"))?;
            }
        }
        let reader = connect(path)?;
        Ok(Self {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }
}

/// A stored hash; a missing or malformed one reads as [`GENESIS`], which no event's hash
/// is, so verification names its event.
fn hash_of(stored: Option<Vec<u8>>) -> Hash {
    stored
        .and_then(|bytes| Hash::try_from(bytes.as_slice()).ok())
        .unwrap_or(GENESIS)
}

fn seq_to_sql(seq: u64) -> Result<i64, JournalError> {
    i64::try_from(seq).map_err(|_| JournalError::Corrupt(format!("sequence {seq} out of range")))
}

fn seq_from_sql(seq: i64) -> Result<u64, JournalError> {
    u64::try_from(seq).map_err(|_| JournalError::Corrupt(format!("negative sequence {seq}")))
}

impl JournalBackend for SqliteJournal {
    fn commit(
        &self,
        events: &[StoredEvent],
        snapshots: &[StoredSnapshot],
    ) -> Result<(), JournalError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (stream, seq, payload, hash) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for event in events {
                insert.execute(params![
                    event.stream.as_str(),
                    seq_to_sql(event.seq)?,
                    event.payload,
                    event.hash.as_slice()
                ])?;
            }
            let mut snap = tx.prepare_cached(
                "INSERT INTO snapshots (stream, seq, payload, head) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(stream) DO UPDATE SET seq = excluded.seq,
                     payload = excluded.payload, head = excluded.head",
            )?;
            for snapshot in snapshots {
                snap.execute(params![
                    snapshot.stream.as_str(),
                    seq_to_sql(snapshot.seq)?,
                    snapshot.payload,
                    snapshot.head.as_slice()
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn read_events(
        &self,
        stream: &StreamId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, JournalError> {
        let conn = lock(&self.reader);
        let mut query = conn.prepare_cached(
            "SELECT seq, payload, hash FROM events WHERE stream = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query.query_map(params![stream.as_str(), seq_to_sql(after)?, limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, Option<Vec<u8>>>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (seq, payload, hash) = row?;
            Ok(StoredEvent {
                stream: stream.clone(),
                seq: seq_from_sql(seq)?,
                hash: hash_of(hash),
                payload,
            })
        })
        .collect()
    }

    fn latest_snapshot(&self, stream: &StreamId) -> Result<Option<StoredSnapshot>, JournalError> {
        let conn = lock(&self.reader);
        let row = conn
            .query_row(
                "SELECT seq, payload, head FROM snapshots WHERE stream = ?1",
                params![stream.as_str()],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, Option<Vec<u8>>>(2)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(seq, payload, head)| {
            Ok(StoredSnapshot {
                stream: stream.clone(),
                seq: seq_from_sql(seq)?,
                head: hash_of(head),
                payload,
            })
        })
        .transpose()
    }

    fn delete_events_before(&self, stream: &StreamId, before: u64) -> Result<u64, JournalError> {
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        let deleted = lock(&self.writer).execute(
            "DELETE FROM events WHERE stream = ?1 AND seq < ?2",
            params![stream.as_str(), before],
        )?;
        Ok(deleted as u64)
    }

    fn reclaim(&self) -> Result<(), JournalError> {
        let conn = lock(&self.writer);
        conn.execute_batch("VACUUM")?;
        conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
        Ok(())
    }

    fn sealed(&self) -> Result<bool, JournalError> {
        let version: i64 = lock(&self.reader).query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok(version >= SEALED)
    }

    fn set_hashes(&self, stream: &StreamId, hashes: &[(u64, Hash)]) -> Result<(), JournalError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        {
            let mut update =
                tx.prepare_cached("UPDATE events SET hash = ?3 WHERE stream = ?1 AND seq = ?2")?;
            for (seq, hash) in hashes {
                update.execute(params![stream.as_str(), seq_to_sql(*seq)?, hash.as_slice()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn set_snapshot_head(
        &self,
        stream: &StreamId,
        seq: u64,
        head: Hash,
    ) -> Result<(), JournalError> {
        lock(&self.writer).execute(
            "UPDATE snapshots SET head = ?3 WHERE stream = ?1 AND seq = ?2",
            params![stream.as_str(), seq_to_sql(seq)?, head.as_slice()],
        )?;
        Ok(())
    }

    fn mark_sealed(&self) -> Result<(), JournalError> {
        lock(&self.writer).pragma_update(None, "user_version", SEALED)?;
        Ok(())
    }

    fn last_seqs(&self) -> Result<HashMap<StreamId, u64>, JournalError> {
        let conn = lock(&self.reader);
        let mut query = conn.prepare("SELECT stream, MAX(seq) FROM events GROUP BY stream")?;
        let rows = query.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        rows.map(|row| {
            let (stream, seq) = row?;
            Ok((StreamId::from_stored(stream), seq_from_sql(seq)?))
        })
        .collect()
    }
}
