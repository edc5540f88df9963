//! The deliverer's own durable state, `<data_dir>/webhooks.sqlite3`: how far each endpoint
//! has got in each stream, the event each endpoint is retrying (and those set aside), and
//! the log of every attempt. The events themselves are read from the journal, which is
//! the outbox: nothing here can lose one. A kill -9 at any point leaves at worst an event
//! delivered again (same event id), never one skipped: a cursor moves only after its event
//! was answered 2xx or set aside.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use crate::persistence::{JournalError, StreamId};

pub struct Outbox {
    conn: Mutex<Connection>,
}

/// An event an endpoint is retrying, or that was set aside after the retry period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub webhook: u32,
    pub stream: StreamId,
    pub seq: u64,
    pub event_id: String,
    pub kind: String,
    pub first_try_at: i64,
    pub attempts: u32,
    pub next_try_at: i64,
    pub set_aside: bool,
}

/// One attempt to deliver an event, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub id: i64,
    pub webhook: u32,
    pub event_id: String,
    pub kind: String,
    pub seq: u64,
    pub at: i64,
    /// The receiver's HTTP status; `None` when it did not answer.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// `delivered`, `failed`, `set_aside`.
    pub outcome: &'static str,
}

fn sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn unsql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Outbox {
    pub fn open(data_dir: &Path) -> Result<Self, JournalError> {
        std::fs::create_dir_all(data_dir)?;
        let conn = Connection::open(data_dir.join("webhooks.sqlite3"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A cursor lost to a power cut only sends its events again (same ids): the journal
        // holds them. Not worth a sync per delivery.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS started (webhook INTEGER PRIMARY KEY);
             CREATE TABLE IF NOT EXISTS cursors (
                 webhook INTEGER NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
                 PRIMARY KEY (webhook, stream)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS pending (
                 webhook INTEGER NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
                 event_id TEXT NOT NULL, kind TEXT NOT NULL, first_try_at INTEGER NOT NULL,
                 attempts INTEGER NOT NULL, next_try_at INTEGER NOT NULL,
                 set_aside INTEGER NOT NULL,
                 PRIMARY KEY (webhook, stream, seq)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS attempts (
                 id INTEGER PRIMARY KEY, webhook INTEGER NOT NULL, event_id TEXT NOT NULL,
                 kind TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,
                 status INTEGER, error TEXT, outcome TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS attempts_by_webhook ON attempts (webhook, id);",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the endpoint's cursors were set when this instance first saw it.
    pub fn started(&self, webhook: u32) -> Result<bool, JournalError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM started WHERE webhook = ?1",
                params![webhook],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Starts an endpoint at these positions: what was journaled before is not its.
    pub fn start(&self, webhook: u32, at: &[(StreamId, u64)]) -> Result<(), JournalError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (stream, seq) in at {
            tx.execute(
                "INSERT OR IGNORE INTO cursors (webhook, stream, seq) VALUES (?1, ?2, ?3)",
                params![webhook, stream.as_str(), sql(*seq)],
            )?;
        }
        tx.execute(
            "INSERT OR IGNORE INTO started (webhook) VALUES (?1)",
            params![webhook],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The last event of `stream` the endpoint is done with (0: none yet).
    pub fn cursor(&self, webhook: u32, stream: &StreamId) -> Result<u64, JournalError> {
        let seq: Option<i64> = self
            .conn()
            .query_row(
                "SELECT seq FROM cursors WHERE webhook = ?1 AND stream = ?2",
                params![webhook, stream.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(seq.map_or(0, unsql))
    }

    pub fn advance(&self, webhook: u32, stream: &StreamId, seq: u64) -> Result<(), JournalError> {
        self.conn().execute(
            "INSERT INTO cursors (webhook, stream, seq) VALUES (?1, ?2, ?3)
             ON CONFLICT (webhook, stream) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            params![webhook, stream.as_str(), sql(seq)],
        )?;
        Ok(())
    }

    fn pending_rows(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Pending>, JournalError> {
        let conn = self.conn();
        let mut query = conn.prepare(&format!(
            "SELECT webhook, stream, seq, event_id, kind, first_try_at, attempts, next_try_at,
                    set_aside FROM pending WHERE {filter} ORDER BY webhook, stream, seq"
        ))?;
        let rows = query.query_map(args, |r| {
            Ok(Pending {
                webhook: r.get(0)?,
                stream: StreamId::from_stored(r.get::<_, String>(1)?),
                seq: unsql(r.get(2)?),
                event_id: r.get(3)?,
                kind: r.get(4)?,
                first_try_at: r.get(5)?,
                attempts: r.get(6)?,
                next_try_at: r.get(7)?,
                set_aside: r.get::<_, i64>(8)? != 0,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The event the endpoint is retrying in `stream`, if any (it holds the stream back).
    pub fn retrying(
        &self,
        webhook: u32,
        stream: &StreamId,
    ) -> Result<Option<Pending>, JournalError> {
        Ok(self
            .pending_rows(
                "webhook = ?1 AND stream = ?2 AND set_aside = 0",
                &[&webhook, &stream.as_str()],
            )?
            .into_iter()
            .next())
    }

    /// Events set aside (or sent again by hand and not yet answered), for one endpoint.
    pub fn set_aside(&self, webhook: u32) -> Result<Vec<Pending>, JournalError> {
        self.pending_rows("webhook = ?1 AND set_aside = 1", &[&webhook])
    }

    /// Set-aside events an administrator asked to send again (now behind their cursor).
    pub fn resends(&self) -> Result<Vec<Pending>, JournalError> {
        self.pending_rows("set_aside = 2", &[])
    }

    pub fn save(&self, pending: &Pending) -> Result<(), JournalError> {
        self.conn().execute(
            "INSERT INTO pending (webhook, stream, seq, event_id, kind, first_try_at, attempts,
                                  next_try_at, set_aside)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (webhook, stream, seq) DO UPDATE SET attempts = excluded.attempts,
                 next_try_at = excluded.next_try_at, set_aside = excluded.set_aside",
            params![
                pending.webhook,
                pending.stream.as_str(),
                sql(pending.seq),
                pending.event_id,
                pending.kind,
                pending.first_try_at,
                pending.attempts,
                pending.next_try_at,
                i64::from(pending.set_aside)
            ],
        )?;
        Ok(())
    }

    pub fn forget(&self, pending: &Pending) -> Result<(), JournalError> {
        self.conn().execute(
            "DELETE FROM pending WHERE webhook = ?1 AND stream = ?2 AND seq = ?3",
            params![pending.webhook, pending.stream.as_str(), sql(pending.seq)],
        )?;
        Ok(())
    }

    /// Asks for a set-aside event to be sent again; false if there is no such one.
    pub fn resend(&self, webhook: u32, event_id: &str) -> Result<bool, JournalError> {
        let changed = self.conn().execute(
            "UPDATE pending SET set_aside = 2 WHERE webhook = ?1 AND event_id = ?2 AND set_aside = 1",
            params![webhook, event_id],
        )?;
        Ok(changed > 0)
    }

    pub fn log(&self, attempt: &Attempt) -> Result<(), JournalError> {
        self.conn().execute(
            "INSERT INTO attempts (webhook, event_id, kind, seq, at, status, error, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                attempt.webhook,
                attempt.event_id,
                attempt.kind,
                sql(attempt.seq),
                attempt.at,
                attempt.status,
                attempt.error,
                attempt.outcome
            ],
        )?;
        Ok(())
    }

    /// The endpoint's attempts, newest first: `limit` after the one with id `before`.
    pub fn attempts(
        &self,
        webhook: u32,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Attempt>, JournalError> {
        let conn = self.conn();
        let mut query = conn.prepare_cached(
            "SELECT id, webhook, event_id, kind, seq, at, status, error, outcome FROM attempts
             WHERE webhook = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = query.query_map(
            params![webhook, before.unwrap_or(i64::MAX), sql(limit as u64)],
            |r| {
                let outcome: String = r.get(8)?;
                Ok(Attempt {
                    id: r.get(0)?,
                    webhook: r.get(1)?,
                    event_id: r.get(2)?,
                    kind: r.get(3)?,
                    seq: unsql(r.get(4)?),
                    at: r.get(5)?,
                    status: r.get(6)?,
                    error: r.get(7)?,
                    outcome: match outcome.as_str() {
                        "delivered" => "delivered",
                        "set_aside" => "set_aside",
                        _ => "failed",
                    },
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
