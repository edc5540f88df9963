//! The stores' history on disk: every sale, return, adjustment and idempotency key, and the
//! hourly sales figures, in `<data_dir>/history.sqlite3` (whatever the journal's backend).
//! The journal writer records each batch here once it is durable, before the writes are
//! answered; at start-up [`History::catch_up`] fills in what a crash left out. Store actors
//! keep only what their decisions need and read their past here.
//!
//! What must not break: a read never shows an event that is not durable, since it is only
//! written after the journal's commit; and it is rebuildable, so it is never the only copy
//! of anything. That is why this file is not fsynced at each commit (`synchronous=NORMAL`),
//! and why a file of another schema version is dropped and rebuilt rather than migrated.
//!
//! Per store, a watermark is the last journal `seq` recorded: events at or under it are
//! skipped (a catch-up may overlap the writer), and an event that does not follow it is held
//! back until a catch-up fills the hole, so a hole can never hide under a higher watermark.

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::Duration;

use super::{Committed, Journal, JournalError, StreamId, codec};
use crate::domain::{
    Account, Adjustment, AdjustmentId, DomainEvent, Figures, Fingerprint, IdempotencyKey,
    KeyRetention, KeyUse, MoneyRow, Outcome, ProductFigures, Return, ReturnId, Sale, SaleId, Sku,
    StoreEvent, StoreId, TillReport, Timestamp, accounts_of_return, accounts_of_sale, hour_of,
};

const FILE_NAME: &str = "history.sqlite3";

/// Bump it whenever [`SCHEMA`] changes: a file of another version is dropped and rebuilt.
const SCHEMA_VERSION: i64 = 3;

/// Events read from the journal per transaction when catching up.
const CATCH_UP_PAGE: usize = 10_000;

/// Idle reader connections kept open; more may be open at once under load.
const MAX_IDLE_READERS: usize = 8;

const SCHEMA: &str = "
    CREATE TABLE sales (
        store   INTEGER NOT NULL,
        id      INTEGER NOT NULL,
        at      INTEGER NOT NULL,
        total   INTEGER NOT NULL,
        seq     INTEGER NOT NULL,
        body    BLOB    NOT NULL,
        -- The till session of a till sale (a late one is found by it).
        session INTEGER,
        PRIMARY KEY (store, id)
    ) WITHOUT ROWID;
    CREATE INDEX sales_by_session ON sales (store, session) WHERE session IS NOT NULL;

    CREATE TABLE returns (
        store   INTEGER NOT NULL,
        id      INTEGER NOT NULL,
        sale_id INTEGER NOT NULL,
        at      INTEGER NOT NULL,
        seq     INTEGER NOT NULL,
        body    BLOB    NOT NULL,
        PRIMARY KEY (store, id)
    ) WITHOUT ROWID;
    CREATE INDEX returns_by_sale ON returns (store, sale_id);

    -- Z reports of closed till sessions, numbered per store.
    CREATE TABLE z_reports (
        store     INTEGER NOT NULL,
        z         INTEGER NOT NULL,
        till      INTEGER NOT NULL,
        closed_at INTEGER NOT NULL,
        seq       INTEGER NOT NULL,
        body      BLOB    NOT NULL,
        PRIMARY KEY (store, z)
    ) WITHOUT ROWID;

    CREATE TABLE adjustments (
        store INTEGER NOT NULL,
        id    INTEGER NOT NULL,
        at    INTEGER NOT NULL,
        seq   INTEGER NOT NULL,
        body  BLOB    NOT NULL,
        PRIMARY KEY (store, id)
    ) WITHOUT ROWID;

    -- Each use of an idempotency key; kind: 0 sale, 1 return, 2 adjustment, 3 restock,
    -- 4 session opened, 5 session closed.
    -- Ordered by time, not by key: a batch appends at the end of one B-tree instead of
    -- touching a random page per key, and the only reads are by time (a store's window at
    -- recovery, the sweep of old keys). A key used again once the window let it go has
    -- two rows; the reader keeps the last.
    CREATE TABLE keys (
        store       INTEGER NOT NULL,
        at          INTEGER NOT NULL,
        key         TEXT    NOT NULL,
        fingerprint BLOB    NOT NULL,
        kind        INTEGER NOT NULL,
        outcome     INTEGER NOT NULL,
        PRIMARY KEY (store, at, key)
    ) WITHOUT ROWID;

    -- Figures of each UTC hour (hours since the epoch).
    CREATE TABLE sale_hours (
        store          INTEGER NOT NULL,
        hour           INTEGER NOT NULL,
        sales          INTEGER NOT NULL,
        units          INTEGER NOT NULL,
        revenue        INTEGER NOT NULL,
        returns        INTEGER NOT NULL,
        returned_units INTEGER NOT NULL,
        refunds        INTEGER NOT NULL,
        PRIMARY KEY (store, hour)
    ) WITHOUT ROWID;

    -- Money per hour and account (domain::Account: tax bases and taxes per rate, sales per
    -- tax class, tenders, cash rounding): sold, and refunded.
    CREATE TABLE money_hours (
        store    INTEGER NOT NULL,
        hour     INTEGER NOT NULL,
        account  TEXT    NOT NULL,
        sold     INTEGER NOT NULL,
        refunded INTEGER NOT NULL,
        PRIMARY KEY (store, hour, account)
    ) WITHOUT ROWID;

    CREATE INDEX z_reports_by_time ON z_reports (store, closed_at);

    CREATE TABLE product_hours (
        store   INTEGER NOT NULL,
        hour    INTEGER NOT NULL,
        sku     TEXT    NOT NULL,
        units   INTEGER NOT NULL,
        revenue INTEGER NOT NULL,
        PRIMARY KEY (store, hour, sku)
    ) WITHOUT ROWID;

    CREATE TABLE watermarks (
        store INTEGER PRIMARY KEY,
        seq   INTEGER NOT NULL
    );
";

const KIND_SALE: i64 = 0;
const KIND_RETURN: i64 = 1;
const KIND_ADJUSTMENT: i64 = 2;
const KIND_RESTOCK: i64 = 3;
const KIND_SESSION_OPENED: i64 = 4;
const KIND_SESSION_CLOSED: i64 = 5;

/// The read model of the stores' history. Blocking: call it from blocking threads.
/// What one [`History::record`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub events: u64,
    /// Stores whose events did not follow their watermark: not recorded, their history is
    /// behind the journal until [`History::catch_up`].
    pub held_back: Vec<StoreId>,
}

/// A sale as the history holds it: with its returns, and the store's watermark when read
/// (every event up to it is in what was read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRecord {
    pub sale: Sale,
    pub returns: Vec<Return>,
    pub watermark: u64,
}

pub struct History {
    path: PathBuf,
    /// The stores' idempotency window, which decides how long keys stay on disk.
    key_retention: KeyRetention,
    writer: Mutex<Writer>,
    /// Idle read-only connections; WAL lets them read the last commit while one is under way.
    readers: Mutex<Vec<Connection>>,
    _checkpointer: Checkpointer,
}

struct Writer {
    conn: Connection,
    /// Stores whose events stopped following their watermark: held back until caught up.
    /// Only to log the start and the end of it once, not at every batch.
    held_back: HashSet<StoreId>,
    /// Event time of the last sweep of old keys.
    keys_swept_at: i64,
}

/// Keys are kept on disk for twice the stores' retention window (recovery loads the
/// window from here; the other half is a margin for a clock set back), then deleted at
/// the window's sweep interval: the keys table is bounded by time, not by history.
fn keys_kept_ms(keys: KeyRetention) -> i64 {
    2 * keys.window_ms()
}

/// The event time of a write that used an idempotency key.
fn key_time(event: &StoreEvent) -> Option<i64> {
    match event {
        StoreEvent::SaleRecorded(e) => e.key.as_ref().map(|_| e.sale.recorded().0),
        StoreEvent::SaleReturned(e) => e.key.as_ref().map(|_| e.ret.at.0),
        StoreEvent::StockAdjusted(e) => e.key.as_ref().map(|_| e.adjustment.at.0),
        StoreEvent::RestockRequested(e) => e.key.as_ref().map(|_| e.request.requested_at.0),
        StoreEvent::SessionOpened(e) => e.key.as_ref().map(|_| e.session.opened_at.0),
        StoreEvent::SessionClosed(e) => e
            .key
            .as_ref()
            .and(e.report.closing.as_ref())
            .map(|c| c.closed_at.0),
        StoreEvent::StockLevelsSet(_)
        | StoreEvent::RestockStep(_)
        | StoreEvent::SalesLetGo { .. }
        | StoreEvent::Transfer(_) => None,
    }
}

/// A poisoned mutex only means another thread panicked while holding it; SQLite rolled
/// back whatever transaction it left unfinished, so the connection is still sound.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn connect_writer(path: &Path) -> Result<Connection, JournalError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Small pages: a batch touches a few pages of each table and index, and every page it
    // touches is written whole to the WAL; at 1 KiB instead of 4 KiB the history writes a
    // quarter of the bytes per batch (measured: `scripts/perf-one-store.sh`). Only a new
    // file takes it (before WAL mode).
    conn.pragma_update(None, "page_size", 1024)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL: no fsync per commit. A power cut may lose the last commits, never corrupt the
    // file; the watermarks go back with them and `catch_up` reads those events again.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // No checkpoint on the writer: its commits are on the path of every acknowledgement,
    // and a checkpoint syncs the file. The checkpointer thread runs them beside it.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies the WAL into the database file on its own thread and connection, so the
/// writer's commits never wait for it (PASSIVE: it neither blocks the writer nor readers).
/// Stops when dropped.
struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Self, JournalError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("history-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        row.get::<_, i64>(0)
                    });
                    if let Err(e) = done {
                        tracing::warn!(error = %e, "history checkpoint failed; retried later");
                    }
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the history checkpoint thread panicked");
        }
    }
}

fn connect_reader(path: &Path) -> Result<Connection, JournalError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// Creates the tables, or drops and recreates them when the file has another schema
/// version: everything is rebuilt from the journal, since the watermarks are then gone.
fn prepare_schema(conn: &mut Connection) -> Result<(), JournalError> {
    let tx = conn.transaction()?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version != SCHEMA_VERSION {
        let tables: Vec<String> = tx
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        if version != 0 || !tables.is_empty() {
            tracing::warn!(
                found = version,
                expected = SCHEMA_VERSION,
                tables = tables.len(),
                "history file of another schema version: dropping it, it is rebuilt from the journal"
            );
        }
        for table in tables {
            tx.execute_batch(&format!("DROP TABLE \"{}\"", table.replace('"', "\"\"")))?;
        }
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}

fn to_sql(value: u64, what: &str) -> Result<i64, JournalError> {
    i64::try_from(value).map_err(|_| JournalError::Corrupt(format!("{what} {value} out of range")))
}

fn from_sql(value: i64, what: &str) -> Result<u64, JournalError> {
    u64::try_from(value)
        .map_err(|_| JournalError::Corrupt(format!("history: negative {what} {value}")))
}

fn store_sql(store: StoreId) -> i64 {
    i64::from(store.get())
}

/// SQLite's `LIMIT`/`OFFSET` are i64; a count beyond it means "all".
fn count_sql(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn outcome_to_sql(outcome: Outcome) -> Result<(i64, i64), JournalError> {
    let (kind, id) = match outcome {
        Outcome::Sale(id) => (KIND_SALE, id.0),
        Outcome::Return(id) => (KIND_RETURN, id.0),
        Outcome::Adjustment(id) => (KIND_ADJUSTMENT, id.0),
        Outcome::Restock(number) => (KIND_RESTOCK, number),
        Outcome::SessionOpened(number) => (KIND_SESSION_OPENED, number),
        Outcome::SessionClosed(number) => (KIND_SESSION_CLOSED, number),
    };
    Ok((kind, to_sql(id, "outcome id")?))
}

fn outcome_from_sql(kind: i64, id: i64) -> Result<Outcome, JournalError> {
    let id = from_sql(id, "outcome id")?;
    match kind {
        KIND_SALE => Ok(Outcome::Sale(SaleId(id))),
        KIND_RETURN => Ok(Outcome::Return(ReturnId(id))),
        KIND_ADJUSTMENT => Ok(Outcome::Adjustment(AdjustmentId(id))),
        KIND_RESTOCK => Ok(Outcome::Restock(id)),
        KIND_SESSION_OPENED => Ok(Outcome::SessionOpened(id)),
        KIND_SESSION_CLOSED => Ok(Outcome::SessionClosed(id)),
        other => Err(JournalError::Corrupt(format!(
            "history: unknown key outcome kind {other}"
        ))),
    }
}

/// What one call to `record` adds up before writing it: one upsert per hour and per
/// product-hour, however many sales the batch holds.
#[derive(Default)]
struct Sums<'a> {
    hours: BTreeMap<(StoreId, i64), Figures>,
    products: BTreeMap<(StoreId, i64, &'a Sku), ProductFigures>,
    /// (sold, refunded) per store, hour and account.
    money: BTreeMap<(StoreId, i64, Account), (i64, i64)>,
}

impl Sums<'_> {
    fn add_money(
        &mut self,
        store: StoreId,
        hour: i64,
        accounts: Vec<(Account, i64)>,
        refund: bool,
    ) {
        for (account, amount) in accounts {
            let slot = self.money.entry((store, hour, account)).or_default();
            if refund {
                slot.1 += amount;
            } else {
                slot.0 += amount;
            }
        }
    }
}

/// A store's position during one `record`.
struct Mark {
    before: u64,
    seq: u64,
    /// An event did not follow `seq`: the store's later events of the batch wait too.
    hole: bool,
}

impl History {
    /// Opens (creating if needed) `<data_dir>/history.sqlite3`, keeping the idempotency
    /// keys for twice the stores' window `key_retention`.
    pub fn open(data_dir: &Path, key_retention: KeyRetention) -> Result<Self, JournalError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(FILE_NAME);
        let mut conn = connect_writer(&path)?;
        prepare_schema(&mut conn)?;
        let checkpointer = Checkpointer::start(&path)?;
        Ok(Self {
            _checkpointer: checkpointer,
            path,
            key_retention,
            writer: Mutex::new(Writer {
                conn,
                held_back: HashSet::new(),
                keys_swept_at: i64::MIN,
            }),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `query` on an idle reader connection (opening one when none is idle), then
    /// gives it back.
    fn read<T>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let idle = lock(&self.readers).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => connect_reader(&self.path)?,
        };
        let answer = query(&conn);
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        answer
    }

    /// Records committed events in one transaction: the store events whose `seq` follows
    /// their store's watermark, which rises with them. Events at or under the watermark are
    /// skipped (a catch-up may overlap the writer). An event past `watermark + 1` is held
    /// back, with its store's later events, until [`History::catch_up`] fills the hole:
    /// after a failed `record`, the writer's next batches do not hide what it lost.
    pub fn record(&self, events: &[Committed]) -> Result<Recorded, JournalError> {
        Ok(self.record_when(events, || true)?.unwrap_or_default())
    }

    /// [`History::record`] for a batch whose journal commit runs meanwhile: the rows are
    /// written while the journal syncs, and committed only once `durable()` says the
    /// journal's commit succeeded (rolled back, `None`, otherwise). A read never sees a
    /// row whose event is not durable.
    pub fn record_when(
        &self,
        events: &[Committed],
        durable: impl FnOnce() -> bool,
    ) -> Result<Option<Recorded>, JournalError> {
        if !events
            .iter()
            .any(|c| matches!(c.event, DomainEvent::Store(..)))
        {
            return Ok(durable().then(Recorded::default));
        }
        let mut writer = lock(&self.writer);
        let Writer {
            conn,
            held_back,
            keys_swept_at,
        } = &mut *writer;
        // IMMEDIATE: it reads the watermarks then writes; taking the write lock first means
        // it waits (busy timeout) for another writer rather than fail to upgrade its read.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut marks: BTreeMap<StoreId, Mark> = BTreeMap::new();
        let mut sums = Sums::default();
        let mut recorded = 0;
        let mut newest_key: Option<i64> = None;
        for committed in events {
            let DomainEvent::Store(store, event) = &committed.event else {
                continue;
            };
            let mark = match marks.entry(*store) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => {
                    let before = watermark_in(&tx, *store)?;
                    entry.insert(Mark {
                        before,
                        seq: before,
                        hole: false,
                    })
                }
            };
            if committed.seq <= mark.seq {
                continue;
            }
            if mark.hole || committed.seq != mark.seq + 1 {
                mark.hole = true;
                continue;
            }
            record_event(&tx, *store, committed.seq, event, &mut sums)?;
            newest_key = newest_key.max(key_time(event));
            mark.seq = committed.seq;
            recorded += 1;
        }
        write_sums(&tx, &sums)?;
        let mut raise = tx.prepare_cached(
            "INSERT INTO watermarks (store, seq) VALUES (?1, ?2)
             ON CONFLICT (store) DO UPDATE SET seq = excluded.seq",
        )?;
        for (store, mark) in &marks {
            if mark.seq > mark.before {
                raise.execute(params![store_sql(*store), to_sql(mark.seq, "sequence")?])?;
            }
        }
        drop(raise);
        if !durable() {
            // Dropping the transaction rolls it back: the journal did not take the batch.
            return Ok(None);
        }
        tx.commit()?;
        if let Some(newest) = newest_key
            && newest.saturating_sub(*keys_swept_at) >= self.key_retention.sweep_every_ms()
        {
            conn.prepare_cached(
                "DELETE FROM keys WHERE store IN (SELECT store FROM watermarks) AND at < ?1",
            )?
            .execute(params![
                newest.saturating_sub(keys_kept_ms(self.key_retention))
            ])?;
            *keys_swept_at = newest;
        }
        let mut behind = Vec::new();
        for (store, mark) in &marks {
            if mark.hole {
                behind.push(*store);
                if held_back.insert(*store) {
                    tracing::warn!(%store, watermark = mark.seq, "store events do not follow the history's watermark: held back until a catch-up");
                }
            } else if mark.seq > mark.before && held_back.remove(store) {
                tracing::info!(%store, watermark = mark.seq, "store history caught up");
            }
        }
        Ok(Some(Recorded {
            events: recorded,
            held_back: behind,
        }))
    }

    /// [`History::record`], answering how many events it recorded.
    fn record_counting(&self, events: &[Committed]) -> Result<u64, JournalError> {
        Ok(self.record(events)?.events)
    }

    /// The last journal `seq` of the store recorded here; 0 when none.
    pub fn watermark(&self, store: StoreId) -> Result<u64, JournalError> {
        self.read(|conn| {
            let seq: Option<i64> = conn
                .prepare_cached("SELECT seq FROM watermarks WHERE store = ?1")?
                .query_row(params![store_sql(store)], |row| row.get(0))
                .optional()?;
            seq.map_or(Ok(0), |seq| from_sql(seq, "sequence"))
        })
    }

    /// Deletes every row of a store, its watermark included (before rebuilding it from
    /// seq 1).
    pub fn forget_store(&self, store: StoreId) -> Result<(), JournalError> {
        let mut writer = lock(&self.writer);
        let tx = writer.conn.transaction()?;
        for table in [
            "sales",
            "returns",
            "adjustments",
            "keys",
            "sale_hours",
            "product_hours",
            "watermarks",
        ] {
            tx.prepare_cached(&format!("DELETE FROM {table} WHERE store = ?1"))?
                .execute(params![store_sql(store)])?;
        }
        tx.commit()?;
        writer.held_back.remove(&store);
        Ok(())
    }

    /// Brings a store up to `last_seq` from the journal (and its archive, which the journal
    /// must be given when compaction moved events there). A watermark above `last_seq`
    /// means the journal went back (restored from an older backup): the store's history is
    /// forgotten and rebuilt from its first event. Answers how many events it recorded.
    /// An event missing from both the journal and the archive is [`JournalError::Corrupt`].
    pub fn catch_up(
        &self,
        journal: &Journal,
        store: StoreId,
        last_seq: u64,
    ) -> Result<u64, JournalError> {
        self.catch_up_in_pages(journal, store, last_seq, CATCH_UP_PAGE)
    }

    fn catch_up_in_pages(
        &self,
        journal: &Journal,
        store: StoreId,
        last_seq: u64,
        page_size: usize,
    ) -> Result<u64, JournalError> {
        let mut after = self.watermark(store)?;
        if after > last_seq {
            tracing::warn!(%store, watermark = after, last_seq, "the history is ahead of the journal (restored from a backup?): rebuilding the store's history");
            self.forget_store(store)?;
            after = 0;
        }
        let stream = StreamId::store(store);
        let mut recorded = 0;
        while after < last_seq {
            let page = journal.read::<StoreEvent>(&stream, after, page_size)?;
            if page.is_empty() {
                return Err(JournalError::Corrupt(format!(
                    "{stream}: the journal ends at event {after}, not {last_seq}"
                )));
            }
            let mut batch = Vec::with_capacity(page.len());
            for (seq, event) in page {
                if seq > last_seq {
                    break;
                }
                let expected = after + 1;
                if seq != expected {
                    return Err(JournalError::Corrupt(format!(
                        "{stream}: events {expected} to {} are neither in the journal nor in \
                         the archive",
                        seq - 1
                    )));
                }
                batch.push(Committed {
                    stream: stream.clone(),
                    seq,
                    event: DomainEvent::Store(store, event),
                });
                after = seq;
            }
            recorded += self.record_counting(&batch)?;
        }
        Ok(recorded)
    }

    /// A sale, its returns and the store's watermark, read in one transaction: what a
    /// return is decided against (the store actor adds the returns it made after that
    /// watermark).
    pub fn sale_record(
        &self,
        store: StoreId,
        id: SaleId,
    ) -> Result<Option<SaleRecord>, JournalError> {
        self.read(|conn| {
            let tx = conn.unchecked_transaction()?;
            let body: Option<Vec<u8>> = tx
                .prepare_cached("SELECT body FROM sales WHERE store = ?1 AND id = ?2")?
                .query_row(params![store_sql(store), to_sql(id.0, "sale id")?], |row| {
                    row.get(0)
                })
                .optional()?;
            let Some(body) = body else {
                return Ok(None);
            };
            let sale: Sale = codec::decode(&body)?;
            let mut returns = Vec::new();
            {
                let mut query = tx.prepare_cached(
                    "SELECT body FROM returns WHERE store = ?1 AND sale_id = ?2 ORDER BY id",
                )?;
                let rows = query
                    .query_map(params![store_sql(store), to_sql(id.0, "sale id")?], |row| {
                        row.get::<_, Vec<u8>>(0)
                    })?;
                for body in rows {
                    returns.push(codec::decode(&body?)?);
                }
            }
            let watermark: Option<i64> = tx
                .prepare_cached("SELECT seq FROM watermarks WHERE store = ?1")?
                .query_row(params![store_sql(store)], |row| row.get(0))
                .optional()?;
            let watermark = watermark.map_or(Ok(0), |seq| from_sql(seq, "sequence"))?;
            tx.commit()?;
            Ok(Some(SaleRecord {
                sale,
                returns,
                watermark,
            }))
        })
    }

    pub fn sale(&self, store: StoreId, id: SaleId) -> Result<Option<Sale>, JournalError> {
        self.row_by_id(
            "SELECT body FROM sales WHERE store = ?1 AND id = ?2",
            store,
            id.0,
        )
    }

    /// One row's body, found by store and id, decoded.
    fn row_by_id<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        store: StoreId,
        id: u64,
    ) -> Result<Option<T>, JournalError> {
        self.read(|conn| {
            let body: Option<Vec<u8>> = conn
                .prepare_cached(sql)?
                .query_row(params![store_sql(store), to_sql(id, "id")?], |row| {
                    row.get(0)
                })
                .optional()?;
            Ok(body.map(|b| codec::decode(&b)).transpose()?)
        })
    }

    /// Money per store, hour and account over `hours`: `(store, hour, account, sold,
    /// refunded)`, in that order.
    pub fn money(
        &self,
        stores: &[StoreId],
        hours: std::ops::Range<i64>,
    ) -> Result<Vec<MoneyRow>, JournalError> {
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT hour, account, sold, refunded FROM money_hours
                 WHERE store = ?1 AND hour >= ?2 AND hour < ?3 ORDER BY hour, account",
            )?;
            let mut rows = Vec::new();
            for store in stores {
                let found =
                    query.query_map(params![store_sql(*store), hours.start, hours.end], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get(2)?,
                            row.get(3)?,
                        ))
                    })?;
                for row in found {
                    let (hour, key, sold, refunded) = row?;
                    let account = Account::parse(&key).ok_or_else(|| {
                        JournalError::Corrupt(format!("history: unknown account {key}"))
                    })?;
                    rows.push(MoneyRow {
                        store: *store,
                        hour,
                        account,
                        sold,
                        refunded,
                    });
                }
            }
            Ok(rows)
        })
    }

    /// The Z reports of `stores` closed in `[from, to)`, by store and number.
    pub fn z_reports_closed(
        &self,
        stores: &[StoreId],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<TillReport>, JournalError> {
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT body FROM z_reports WHERE store = ?1 AND closed_at >= ?2 AND closed_at < ?3
                 ORDER BY z",
            )?;
            let mut reports = Vec::new();
            for store in stores {
                let rows = query.query_map(params![store_sql(*store), from.0, to.0], |row| {
                    row.get::<_, Vec<u8>>(0)
                })?;
                for body in rows {
                    reports.push(codec::decode(&body?)?);
                }
            }
            Ok(reports)
        })
    }

    /// The sales of a till session recorded after `after_sale` (a closed session's late
    /// addendum: sales taken offline and sent after the closing).
    pub fn late_sales(
        &self,
        store: StoreId,
        session: u64,
        after_sale: u64,
    ) -> Result<Vec<Sale>, JournalError> {
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT body FROM sales WHERE store = ?1 AND session = ?2 AND id > ?3 ORDER BY id",
            )?;
            let rows = query.query_map(
                params![
                    store_sql(store),
                    to_sql(session, "session")?,
                    to_sql(after_sale, "sale id")?
                ],
                |row| row.get::<_, Vec<u8>>(0),
            )?;
            rows.map(|body| Ok(codec::decode(&body?)?)).collect()
        })
    }

    /// The journal position of a Z report's closing event, by the report's number.
    pub fn z_seq(&self, store: StoreId, z: u64) -> Result<Option<u64>, JournalError> {
        self.read(|conn| {
            let seq: Option<i64> = conn
                .prepare_cached("SELECT seq FROM z_reports WHERE store = ?1 AND z = ?2")?
                .query_row(params![store_sql(store), to_sql(z, "z number")?], |row| {
                    row.get(0)
                })
                .optional()?;
            seq.map(|s| from_sql(s, "seq")).transpose()
        })
    }

    /// A Z report by its number.
    pub fn z_report(&self, store: StoreId, z: u64) -> Result<Option<TillReport>, JournalError> {
        self.row_by_id(
            "SELECT body FROM z_reports WHERE store = ?1 AND z = ?2",
            store,
            z,
        )
    }

    /// A store's Z reports, newest first, `limit` of them after skipping `offset`; with
    /// their total count.
    pub fn z_reports(
        &self,
        store: StoreId,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<TillReport>, u64), JournalError> {
        self.read(|conn| {
            let total: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM z_reports WHERE store = ?1")?
                .query_row(params![store_sql(store)], |row| row.get(0))?;
            let mut query = conn.prepare_cached(
                "SELECT body FROM z_reports WHERE store = ?1 ORDER BY z DESC LIMIT ?2 OFFSET ?3",
            )?;
            let rows = query.query_map(
                params![store_sql(store), count_sql(limit), count_sql(offset)],
                |row| row.get::<_, Vec<u8>>(0),
            )?;
            let reports = rows
                .map(|body| Ok(codec::decode(&body?)?))
                .collect::<Result<Vec<TillReport>, JournalError>>()?;
            Ok((reports, from_sql(total, "count")?))
        })
    }

    /// The returns of a sale, by return id.
    pub fn returns_of(&self, store: StoreId, sale: SaleId) -> Result<Vec<Return>, JournalError> {
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT body FROM returns WHERE store = ?1 AND sale_id = ?2 ORDER BY id",
            )?;
            let rows = query.query_map(
                params![store_sql(store), to_sql(sale.0, "sale id")?],
                |row| row.get::<_, Vec<u8>>(0),
            )?;
            rows.map(|body| Ok(codec::decode(&body?)?)).collect()
        })
    }

    pub fn return_by_id(
        &self,
        store: StoreId,
        id: ReturnId,
    ) -> Result<Option<Return>, JournalError> {
        self.row_by_id(
            "SELECT body FROM returns WHERE store = ?1 AND id = ?2",
            store,
            id.0,
        )
    }

    pub fn adjustment(
        &self,
        store: StoreId,
        id: AdjustmentId,
    ) -> Result<Option<Adjustment>, JournalError> {
        self.row_by_id(
            "SELECT body FROM adjustments WHERE store = ?1 AND id = ?2",
            store,
            id.0,
        )
    }

    /// How many sales the store has made: the sum of its hours' sale counts (written in
    /// the same transaction as the sales, one per sale), which costs a row per hour traded
    /// rather than a row per sale.
    pub fn sale_count(&self, store: StoreId) -> Result<u64, JournalError> {
        self.read(|conn| {
            let count: i64 = conn
                .prepare_cached("SELECT COALESCE(SUM(sales), 0) FROM sale_hours WHERE store = ?1")?
                .query_row(params![store_sql(store)], |row| row.get(0))?;
            from_sql(count, "sale count")
        })
    }

    /// Sales newest first (highest id first), `skip` then at most `take`.
    pub fn sales_newest_first(
        &self,
        store: StoreId,
        skip: usize,
        take: usize,
    ) -> Result<Vec<Sale>, JournalError> {
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT body FROM sales WHERE store = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3",
            )?;
            let rows = query.query_map(
                params![store_sql(store), count_sql(take), count_sql(skip)],
                |row| row.get::<_, Vec<u8>>(0),
            )?;
            rows.map(|body| Ok(codec::decode(&body?)?)).collect()
        })
    }

    /// The keys last used at or after `since`, oldest first: the store actor's idempotency
    /// window at recovery.
    pub fn keys_since(
        &self,
        store: StoreId,
        since: Timestamp,
    ) -> Result<Vec<(KeyUse, Outcome, Timestamp)>, JournalError> {
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT key, fingerprint, kind, outcome, at FROM keys
                 WHERE store = ?1 AND at >= ?2 ORDER BY at, key",
            )?;
            let rows = query.query_map(params![store_sql(store), since.0], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })?;
            // Oldest first, one entry per key: its last use (a key used again once the
            // window let it go has a row per use).
            let mut uses: Vec<(KeyUse, Outcome, Timestamp)> = Vec::new();
            for row in rows {
                let (key, fingerprint, kind, outcome, at) = row?;
                let key = IdempotencyKey::parse(&key).map_err(|_| {
                    JournalError::Corrupt(format!("history: invalid idempotency key {key:?}"))
                })?;
                let used = KeyUse {
                    key,
                    fingerprint: codec::decode::<Fingerprint>(&fingerprint)?,
                };
                uses.push((used, outcome_from_sql(kind, outcome)?, Timestamp(at)));
            }
            let last: HashMap<&IdempotencyKey, usize> = uses
                .iter()
                .enumerate()
                .map(|(index, (used, _, _))| (&used.key, index))
                .collect();
            let keep: Vec<bool> = (0..uses.len())
                .map(|index| last.get(&uses[index].0.key) == Some(&index))
                .collect();
            drop(last);
            let window = uses
                .into_iter()
                .zip(keep)
                .filter_map(|(used, kept)| kept.then_some(used))
                .collect();
            Ok(window)
        })
    }

    /// A store's figures over `hours` (UTC hours since the epoch, as
    /// [`crate::domain::hours`] gives them for a period).
    pub fn figures(
        &self,
        store: StoreId,
        hours: std::ops::Range<i64>,
    ) -> Result<Figures, JournalError> {
        self.read(|conn| {
            let sums = conn
                .prepare_cached(
                    "SELECT COALESCE(SUM(sales), 0), COALESCE(SUM(units), 0),
                            COALESCE(SUM(revenue), 0), COALESCE(SUM(returns), 0),
                            COALESCE(SUM(returned_units), 0), COALESCE(SUM(refunds), 0)
                     FROM sale_hours WHERE store = ?1 AND hour >= ?2 AND hour < ?3",
                )?
                .query_row(
                    params![store_sql(store), hours.start, hours.end],
                    figures_row,
                )?;
            figures_from(sums)
        })
    }

    /// One store's figures for each of `count` hours from `first_hour`.
    pub fn hourly(
        &self,
        store: StoreId,
        first_hour: i64,
        count: usize,
    ) -> Result<Vec<Figures>, JournalError> {
        let end = first_hour.saturating_add(count_sql(count));
        let found = self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT hour, sales, units, revenue, returns, returned_units, refunds
                 FROM sale_hours WHERE store = ?1 AND hour >= ?2 AND hour < ?3",
            )?;
            let rows = query.query_map(params![store_sql(store), first_hour, end], |row| {
                let hour: i64 = row.get(0)?;
                Ok((
                    hour,
                    [
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                    ],
                ))
            })?;
            rows.map(|row| {
                let (hour, sums) = row?;
                Ok((hour, figures_from(sums)?))
            })
            .collect::<Result<Vec<_>, JournalError>>()
        })?;
        let mut series = vec![Figures::default(); count];
        for (hour, figures) in found {
            if let Some(slot) = usize::try_from(hour - first_hour)
                .ok()
                .and_then(|i| series.get_mut(i))
            {
                *slot = figures;
            }
        }
        Ok(series)
    }

    /// Products sold in `stores` over `hours` (gross sales; returns are in the figures).
    pub fn products(
        &self,
        stores: &[StoreId],
        hours: std::ops::Range<i64>,
    ) -> Result<HashMap<Sku, ProductFigures>, JournalError> {
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT sku, SUM(units), SUM(revenue) FROM product_hours
                 WHERE store = ?1 AND hour >= ?2 AND hour < ?3 GROUP BY sku",
            )?;
            let mut found: HashMap<Sku, ProductFigures> = HashMap::new();
            for store in stores {
                let rows =
                    query.query_map(params![store_sql(*store), hours.start, hours.end], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, i64>(2)?,
                        ))
                    })?;
                for row in rows {
                    let (sku, units, revenue) = row?;
                    let sku = Sku::parse(&sku).map_err(|_| {
                        JournalError::Corrupt(format!("history: invalid SKU {sku:?}"))
                    })?;
                    *found.entry(sku).or_default() += ProductFigures {
                        units: from_sql(units, "units")?,
                        revenue,
                    };
                }
            }
            Ok(found)
        })
    }
}

fn figures_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<[i64; 6]> {
    Ok([
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ])
}

fn figures_from(
    [sales, units, revenue, returns, returned_units, refunds]: [i64; 6],
) -> Result<Figures, JournalError> {
    Ok(Figures {
        sales: from_sql(sales, "sale count")?,
        units: from_sql(units, "units")?,
        revenue,
        returns: from_sql(returns, "return count")?,
        returned_units: from_sql(returned_units, "returned units")?,
        refunds,
    })
}

fn watermark_in(tx: &Transaction<'_>, store: StoreId) -> Result<u64, JournalError> {
    let seq: Option<i64> = tx
        .prepare_cached("SELECT seq FROM watermarks WHERE store = ?1")?
        .query_row(params![store_sql(store)], |row| row.get(0))
        .optional()?;
    seq.map_or(Ok(0), |seq| from_sql(seq, "sequence"))
}

/// Writes one event's rows and adds its figures to `sums`.
fn record_event<'a>(
    tx: &Transaction<'_>,
    store: StoreId,
    seq: u64,
    event: &'a StoreEvent,
    sums: &mut Sums<'a>,
) -> Result<(), JournalError> {
    let store_id = store_sql(store);
    let seq = to_sql(seq, "sequence")?;
    match event {
        StoreEvent::SaleRecorded(recorded) => {
            let sale = &recorded.sale;
            tx.prepare_cached(
                "INSERT INTO sales (store, id, at, total, seq, body, session) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                store_id,
                to_sql(sale.id.0, "sale id")?,
                sale.at.0,
                sale.total.0,
                seq,
                codec::encode(sale)?,
                sale.till.map(|t| to_sql(t.session, "session")).transpose()?
            ])?;
            let hour = hour_of(sale.at);
            *sums.hours.entry((store, hour)).or_default() += Figures::of_sale(sale);
            for line in &sale.lines {
                *sums.products.entry((store, hour, &line.sku)).or_default() +=
                    ProductFigures::of_line(line);
            }
            sums.add_money(store, hour, accounts_of_sale(sale), false);
            let outcome = Outcome::Sale(sale.id);
            record_key(tx, store, &recorded.key, outcome, sale.recorded())?;
        }
        StoreEvent::SaleReturned(returned) => {
            let ret = &returned.ret;
            tx.prepare_cached(
                "INSERT INTO returns (store, id, sale_id, at, seq, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                store_id,
                to_sql(ret.id.0, "return id")?,
                to_sql(ret.sale_id.0, "sale id")?,
                ret.at.0,
                seq,
                codec::encode(ret)?
            ])?;
            *sums.hours.entry((store, hour_of(ret.at))).or_default() += Figures::of_return(ret);
            sums.add_money(store, hour_of(ret.at), accounts_of_return(ret), true);
            record_key(tx, store, &returned.key, Outcome::Return(ret.id), ret.at)?;
        }
        StoreEvent::StockAdjusted(adjusted) => {
            let adjustment = &adjusted.adjustment;
            tx.prepare_cached(
                "INSERT INTO adjustments (store, id, at, seq, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                store_id,
                to_sql(adjustment.id.0, "adjustment id")?,
                adjustment.at.0,
                seq,
                codec::encode(adjustment)?
            ])?;
            let outcome = Outcome::Adjustment(adjustment.id);
            record_key(tx, store, &adjusted.key, outcome, adjustment.at)?;
        }
        StoreEvent::RestockRequested(requested) => {
            let request = &requested.request;
            let outcome = Outcome::Restock(request.id.number);
            record_key(tx, store, &requested.key, outcome, request.requested_at)?;
        }
        StoreEvent::SessionOpened(opened) => {
            let session = &opened.session;
            let outcome = Outcome::SessionOpened(session.number);
            record_key(tx, store, &opened.key, outcome, session.opened_at)?;
        }
        StoreEvent::SessionClosed(closed) => {
            let report = &closed.report;
            if let Some(closing) = &report.closing {
                tx.prepare_cached(
                    "INSERT INTO z_reports (store, z, till, closed_at, seq, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    store_id,
                    to_sql(closing.z_number, "z number")?,
                    i64::from(report.till.get()),
                    closing.closed_at.0,
                    seq,
                    codec::encode(report)?
                ])?;
                let outcome = Outcome::SessionClosed(closing.z_number);
                record_key(tx, store, &closed.key, outcome, closing.closed_at)?;
            }
        }
        // Stock levels, restock steps and transfers are the actor's state; sales let go at
        // compaction stay here, where history belongs.
        StoreEvent::StockLevelsSet(_)
        | StoreEvent::RestockStep(_)
        | StoreEvent::SalesLetGo { .. }
        | StoreEvent::Transfer(_) => {}
    }
    Ok(())
}

/// Keeps a key's use: a key may come back once the store's window has let it go.
fn record_key(
    tx: &Transaction<'_>,
    store: StoreId,
    key: &Option<KeyUse>,
    outcome: Outcome,
    at: Timestamp,
) -> Result<(), JournalError> {
    let Some(used) = key else {
        return Ok(());
    };
    let (kind, id) = outcome_to_sql(outcome)?;
    tx.prepare_cached(
        "INSERT INTO keys (store, at, key, fingerprint, kind, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (store, at, key) DO UPDATE SET fingerprint = excluded.fingerprint,
             kind = excluded.kind, outcome = excluded.outcome",
    )?
    .execute(params![
        store_sql(store),
        at.0,
        used.key.as_str(),
        codec::encode(&used.fingerprint)?,
        kind,
        id
    ])?;
    Ok(())
}

fn write_sums(tx: &Transaction<'_>, sums: &Sums<'_>) -> Result<(), JournalError> {
    let mut hours = tx.prepare_cached(
        "INSERT INTO sale_hours (store, hour, sales, units, revenue, returns, returned_units, refunds)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (store, hour) DO UPDATE SET
             sales = sales + excluded.sales,
             units = units + excluded.units,
             revenue = revenue + excluded.revenue,
             returns = returns + excluded.returns,
             returned_units = returned_units + excluded.returned_units,
             refunds = refunds + excluded.refunds",
    )?;
    for ((store, hour), figures) in &sums.hours {
        hours.execute(params![
            store_sql(*store),
            hour,
            to_sql(figures.sales, "sale count")?,
            to_sql(figures.units, "units")?,
            figures.revenue,
            to_sql(figures.returns, "return count")?,
            to_sql(figures.returned_units, "returned units")?,
            figures.refunds
        ])?;
    }
    let mut money = tx.prepare_cached(
        "INSERT INTO money_hours (store, hour, account, sold, refunded) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (store, hour, account) DO UPDATE SET
             sold = sold + excluded.sold,
             refunded = refunded + excluded.refunded",
    )?;
    for ((store, hour, account), (sold, refunded)) in &sums.money {
        money.execute(params![
            store_sql(*store),
            hour,
            account.key(),
            sold,
            refunded
        ])?;
    }
    let mut products = tx.prepare_cached(
        "INSERT INTO product_hours (store, hour, sku, units, revenue) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (store, hour, sku) DO UPDATE SET
             units = units + excluded.units,
             revenue = revenue + excluded.revenue",
    )?;
    for ((store, hour, sku), figures) in &sums.products {
        products.execute(params![
            store_sql(*store),
            hour,
            sku.as_str(),
            to_sql(figures.units, "units")?,
            figures.revenue
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hours;
    use crate::domain::{
        AdjustmentLine, AdjustmentRequest, Cents, ChainEvent, HOUR_MS, PriceLookup, Quantity,
        RequestedLine, RestockAsk, RestockStep, ReturnRequest, SaleRequest, Stamp, StockLevelsSet,
        StoreState, Username,
    };
    use crate::persistence::{Backend, WriterSettings};

    /// What the figures are by definition: every sale and return of the hours asked,
    /// added up one by one.
    #[derive(Default)]
    struct Oracle {
        sales: Vec<(StoreId, Sale)>,
        returns: Vec<(StoreId, Return)>,
    }

    impl Oracle {
        fn record_sale(&mut self, store: StoreId, sale: &Sale) {
            self.sales.push((store, sale.clone()));
        }

        fn record_return(&mut self, store: StoreId, ret: &Return) {
            self.returns.push((store, ret.clone()));
        }

        fn figures(&self, store: StoreId, from: Timestamp, to: Timestamp) -> Figures {
            let within = hours(from, to);
            let mut total = Figures::default();
            for (_, sale) in self
                .sales
                .iter()
                .filter(|(s, sale)| *s == store && within.contains(&hour_of(sale.at)))
            {
                total += Figures::of_sale(sale);
            }
            for (_, ret) in self
                .returns
                .iter()
                .filter(|(s, ret)| *s == store && within.contains(&hour_of(ret.at)))
            {
                total += Figures::of_return(ret);
            }
            total
        }

        fn products(
            &self,
            stores: &[StoreId],
            from: Timestamp,
            to: Timestamp,
        ) -> HashMap<Sku, ProductFigures> {
            let within = hours(from, to);
            let mut found: HashMap<Sku, ProductFigures> = HashMap::new();
            for (_, sale) in self
                .sales
                .iter()
                .filter(|(s, sale)| stores.contains(s) && within.contains(&hour_of(sale.at)))
            {
                for line in &sale.lines {
                    *found.entry(line.sku.clone()).or_default() += ProductFigures::of_line(line);
                }
            }
            found
        }

        fn hourly(&self, store: StoreId, first: i64, count: usize) -> Vec<Figures> {
            (first..first + count as i64)
                .map(|hour| {
                    self.figures(
                        store,
                        Timestamp(hour * HOUR_MS),
                        Timestamp((hour + 1) * HOUR_MS),
                    )
                })
                .collect()
        }
    }
    use std::sync::Arc;

    const MINUTE_MS: i64 = 60_000;

    fn shelf(sku: &Sku) -> Option<Cents> {
        match sku.as_str() {
            "LAI-0001" => Some(Cents(249)),
            "PAI-0002" => Some(Cents(399)),
            "CAF-0003" => Some(Cents(1_299)),
            "THE-0004" => Some(Cents(575)),
            _ => None,
        }
    }

    #[allow(non_upper_case_globals)]
    const Prices: crate::domain::testing::Catalog<crate::domain::testing::Shelf> =
        crate::domain::testing::untaxed(shelf);

    const SKUS: [&str; 4] = ["LAI-0001", "PAI-0002", "CAF-0003", "THE-0004"];

    fn store(id: u32) -> StoreId {
        StoreId::new(id).expect("valid store")
    }

    fn stamp(at: i64) -> Stamp {
        Stamp {
            at: Timestamp(at),
            by: Username::parse("caissier1").expect("valid name"),
        }
    }

    fn requested(lines: &[(&str, i64)]) -> Vec<RequestedLine> {
        lines
            .iter()
            .map(|(sku, quantity)| RequestedLine {
                sku: Sku::parse(sku).expect("valid sku"),
                quantity: Quantity::new(*quantity).expect("valid quantity"),
            })
            .collect()
    }

    fn key_use(key: &str, fingerprint: Fingerprint) -> KeyUse {
        KeyUse {
            key: IdempotencyKey::parse(key).expect("valid key"),
            fingerprint,
        }
    }

    /// A store deciding its writes as its actor does, keeping the events it commits.
    struct Shop {
        id: StoreId,
        state: StoreState,
        events: Vec<Committed>,
        sold: Vec<Sale>,
        returned: Vec<Return>,
    }

    impl Shop {
        fn new(id: u32) -> Self {
            Self {
                id: store(id),
                state: StoreState::default(),
                events: Vec::new(),
                sold: Vec::new(),
                returned: Vec::new(),
            }
        }

        fn commit(&mut self, event: StoreEvent) {
            self.state.apply(&event);
            self.events.push(Committed {
                stream: StreamId::store(self.id),
                seq: self.events.len() as u64 + 1,
                event: DomainEvent::Store(self.id, event),
            });
        }

        fn count(&mut self, at: i64, counts: &[(&str, i64)], key: Option<&str>) -> Adjustment {
            let lines = counts
                .iter()
                .map(|(sku, counted)| {
                    AdjustmentLine::count(Sku::parse(sku).expect("valid sku"), *counted)
                        .expect("valid count")
                })
                .collect();
            let request = AdjustmentRequest::new("inventaire".into(), lines).expect("valid");
            let key = key.map(|k| key_use(k, request.fingerprint()));
            let adjusted = self
                .state
                .decide_adjustment(&request, &Prices, &stamp(at), key)
                .expect("known SKUs");
            let adjustment = adjusted.adjustment.clone();
            self.commit(StoreEvent::StockAdjusted(adjusted));
            adjustment
        }

        fn sell(&mut self, at: i64, lines: &[(&str, i64)], key: Option<&str>) -> Sale {
            let request = SaleRequest::new(requested(lines)).expect("valid lines");
            let key = key.map(|k| key_use(k, request.fingerprint()));
            let recorded = self
                .state
                .decide_sale(self.id, &request, &Prices, &stamp(at), key)
                .expect("in stock");
            let sale = recorded.sale.clone();
            self.commit(StoreEvent::SaleRecorded(recorded));
            self.sold.push(sale.clone());
            sale
        }

        fn give_back(
            &mut self,
            at: i64,
            sale: SaleId,
            lines: &[(&str, i64)],
            key: Option<&str>,
        ) -> Return {
            let request =
                ReturnRequest::new(sale, requested(lines), Some("abîmé".into())).expect("valid");
            let key = key.map(|k| key_use(k, request.fingerprint()));
            let sold = self
                .sold
                .iter()
                .find(|s| s.id == sale)
                .cloned()
                .expect("a sale of this shop");
            let earlier: Vec<Return> = self
                .returned
                .iter()
                .filter(|r| r.sale_id == sale)
                .cloned()
                .collect();
            let returned = self
                .state
                .decide_return(
                    self.id,
                    &request,
                    (&sold, &earlier),
                    Prices.till_rules(self.id),
                    &stamp(at),
                    key,
                )
                .expect("returnable");
            let ret = returned.ret.clone();
            self.commit(StoreEvent::SaleReturned(returned));
            self.returned.push(ret.clone());
            ret
        }

        fn request_restock(&mut self, at: i64, key: Option<&str>) -> u64 {
            let ask = RestockAsk::lines(requested(&[("CAF-0003", 12)])).expect("valid");
            let key = key.map(|k| key_use(k, ask.fingerprint()));
            let requested = self
                .state
                .decide_restock_request(self.id, &ask, &Prices, &stamp(at), key)
                .expect("known SKUs");
            let number = requested.request.id.number;
            self.commit(StoreEvent::RestockRequested(requested));
            number
        }

        /// Days of trading at uneven times (from five hours before the epoch), every fourth
        /// sale partly returned some time later.
        fn trading(id: u32, sales: i64) -> Self {
            let mut shop = Self::new(id);
            shop.count(-6 * HOUR_MS, &SKUS.map(|sku| (sku, 100_000)), None);
            for n in 0..sales {
                let at = -5 * HOUR_MS + n * 37 * MINUTE_MS + (n * 7_919) % 50_000;
                let first = SKUS[(n % 4) as usize];
                let second = SKUS[((n * 3 + 1) % 4) as usize];
                let mut lines = vec![(first, 1 + n % 5)];
                if second != first {
                    lines.push((second, 1 + n % 2));
                }
                let key = format!("till-{id}-{n}");
                let sale = shop.sell(at, &lines, (n % 3 == 0).then_some(key.as_str()));
                if n % 4 == 0 {
                    shop.give_back(at + 95 * MINUTE_MS, sale.id, &[(first, 1)], None);
                }
            }
            shop
        }

        fn sales(&self) -> Vec<Sale> {
            self.sold.clone()
        }
    }

    /// The default window of the stores' keys.
    fn three_days() -> KeyRetention {
        KeyRetention::from_millis(72 * HOUR_MS).expect("within the bounds")
    }

    fn open(dir: &tempfile::TempDir) -> History {
        History::open(dir.path(), three_days()).expect("opens")
    }

    /// Every answer the history gives about a store, to compare two histories.
    fn everything(history: &History, store: StoreId) -> impl PartialEq + std::fmt::Debug {
        let all = -1_000..1_000;
        (
            history.watermark(store).expect("reads"),
            history.sale_count(store).expect("reads"),
            history
                .sales_newest_first(store, 0, usize::MAX)
                .expect("reads"),
            history.figures(store, all.clone()).expect("reads"),
            history.hourly(store, -10, 120).expect("reads"),
            history.products(&[store], all).expect("reads"),
            history
                .keys_since(store, Timestamp(i64::MIN))
                .expect("reads"),
        )
    }

    #[test]
    fn recorded_writes_read_back_by_store_id_and_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = open(&dir);
        let mut shop = Shop::new(3);
        let counted = shop.count(0, &[("LAI-0001", 50), ("PAI-0002", 50)], Some("count-1"));
        let first = shop.sell(HOUR_MS, &[("LAI-0001", 2)], Some("till-1"));
        let second = shop.sell(2 * HOUR_MS, &[("LAI-0001", 1), ("PAI-0002", 3)], None);
        let third = shop.sell(3 * HOUR_MS, &[("PAI-0002", 1)], Some("till-3"));
        let back_one = shop.give_back(4 * HOUR_MS, second.id, &[("PAI-0002", 1)], Some("ret-1"));
        let back_two = shop.give_back(5 * HOUR_MS, second.id, &[("LAI-0001", 1)], None);
        let restock = shop.request_restock(6 * HOUR_MS, Some("restock-1"));
        let mut other = Shop::new(4);
        other.count(0, &[("CAF-0003", 5)], None);
        let elsewhere = other.sell(HOUR_MS, &[("CAF-0003", 4)], Some("till-1"));
        assert_eq!(elsewhere.id, first.id);

        let mut batch = shop.events.clone();
        batch.extend(other.events.clone());
        history.record(&batch).expect("records");
        let (s3, s4) = (shop.id, other.id);

        assert_eq!(
            history.sale(s3, second.id).expect("reads"),
            Some(second.clone())
        );
        assert_eq!(history.sale(s4, first.id).expect("reads"), Some(elsewhere));
        assert_eq!(history.sale(s3, SaleId(99)).expect("reads"), None);
        assert_eq!(
            history.returns_of(s3, second.id).expect("reads"),
            vec![back_one.clone(), back_two.clone()]
        );
        assert!(history.returns_of(s3, first.id).expect("reads").is_empty());
        assert_eq!(
            history.return_by_id(s3, back_two.id).expect("reads"),
            Some(back_two.clone())
        );
        assert_eq!(history.return_by_id(s4, back_two.id).expect("reads"), None);
        assert_eq!(
            history.adjustment(s3, counted.id).expect("reads"),
            Some(counted.clone())
        );
        assert_eq!(
            history.adjustment(s3, AdjustmentId(2)).expect("reads"),
            None
        );
        assert_eq!(history.sale_count(s3).expect("reads"), 3);
        assert_eq!(history.sale_count(s4).expect("reads"), 1);
        assert_eq!(history.sale_count(store(9)).expect("reads"), 0);

        let ids = |skip, take| -> Vec<u64> {
            history
                .sales_newest_first(s3, skip, take)
                .expect("reads")
                .iter()
                .map(|s| s.id.0)
                .collect()
        };
        assert_eq!(ids(0, 2), vec![3, 2]);
        assert_eq!(ids(1, 10), vec![2, 1]);
        assert!(ids(3, 5).is_empty());
        assert_eq!(
            history
                .sales_newest_first(s3, 0, usize::MAX)
                .expect("reads"),
            vec![third, second, first.clone()]
        );

        let keys = history.keys_since(s3, Timestamp(0)).expect("reads");
        let seen: Vec<(&str, Outcome, Timestamp)> = keys
            .iter()
            .map(|(used, outcome, at)| (used.key.as_str(), *outcome, *at))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("count-1", Outcome::Adjustment(counted.id), Timestamp(0)),
                ("till-1", Outcome::Sale(first.id), Timestamp(HOUR_MS)),
                ("till-3", Outcome::Sale(SaleId(3)), Timestamp(3 * HOUR_MS)),
                (
                    "ret-1",
                    Outcome::Return(back_one.id),
                    Timestamp(4 * HOUR_MS)
                ),
                (
                    "restock-1",
                    Outcome::Restock(restock),
                    Timestamp(6 * HOUR_MS)
                ),
            ]
        );
        // The fingerprints are the ones journaled, so a retry is told from a reused key.
        let journaled: Vec<KeyUse> = shop
            .events
            .iter()
            .filter_map(|c| match &c.event {
                DomainEvent::Store(_, StoreEvent::SaleRecorded(e)) => e.key.clone(),
                DomainEvent::Store(_, StoreEvent::SaleReturned(e)) => e.key.clone(),
                DomainEvent::Store(_, StoreEvent::StockAdjusted(e)) => e.key.clone(),
                DomainEvent::Store(_, StoreEvent::RestockRequested(e)) => e.key.clone(),
                _ => None,
            })
            .collect();
        let read: Vec<KeyUse> = keys.into_iter().map(|(used, _, _)| used).collect();
        assert_eq!(read, journaled);
        let recent: Vec<String> = history
            .keys_since(s3, Timestamp(3 * HOUR_MS))
            .expect("reads")
            .into_iter()
            .map(|(used, _, _)| used.key.as_str().to_owned())
            .collect();
        assert_eq!(recent, vec!["till-3", "ret-1", "restock-1"]);
        assert_eq!(
            history.keys_since(s4, Timestamp(0)).expect("reads").len(),
            1
        );

        assert_eq!(history.watermark(s3).expect("reads"), 7);
        assert_eq!(history.watermark(s4).expect("reads"), 2);
        assert_eq!(history.watermark(store(9)).expect("reads"), 0);
    }

    #[test]
    fn figures_hours_and_products_are_what_the_in_memory_facts_answer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = open(&dir);
        let shops = [Shop::trading(1, 130), Shop::trading(2, 75)];
        let mut facts = Oracle::default();
        // Interleave the stores, then record in uneven batches that cut hours in two.
        let mut all: Vec<&Committed> = Vec::new();
        for n in 0..shops[0].events.len().max(shops[1].events.len()) {
            all.extend(shops.iter().filter_map(|shop| shop.events.get(n)));
        }
        for committed in &all {
            match &committed.event {
                DomainEvent::Store(id, StoreEvent::SaleRecorded(e)) => {
                    facts.record_sale(*id, &e.sale)
                }
                DomainEvent::Store(id, StoreEvent::SaleReturned(e)) => {
                    facts.record_return(*id, &e.ret)
                }
                _ => {}
            }
        }
        let mut rest = all.as_slice();
        for size in [1, 17, 3, 60, 9, 200].into_iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (batch, later) = rest.split_at(size.min(rest.len()));
            let batch: Vec<Committed> = batch.iter().map(|c| (*c).clone()).collect();
            history.record(&batch).expect("records");
            rest = later;
        }

        let (one, two) = (shops[0].id, shops[1].id);
        let whole = history.figures(one, -100..200).expect("reads");
        assert_eq!((whole.sales, whole.returns), (130, 33));
        assert!(whole.units > whole.sales && whole.refunds > 0);
        let windows = [
            (-6 * HOUR_MS, 90 * HOUR_MS),
            (0, 24 * HOUR_MS),
            (90 * MINUTE_MS, 25 * HOUR_MS + 1),
            (13 * HOUR_MS - 1, 14 * HOUR_MS),
            (47 * HOUR_MS + 59 * MINUTE_MS, 49 * HOUR_MS),
            (-4 * HOUR_MS - 30 * MINUTE_MS, -HOUR_MS - 1),
            (30 * HOUR_MS, 30 * HOUR_MS),
            (20 * HOUR_MS + 1, 20 * HOUR_MS + 2),
            (500 * HOUR_MS, 600 * HOUR_MS),
        ];
        for (from, to) in windows {
            let (from, to) = (Timestamp(from), Timestamp(to));
            for id in [one, two] {
                assert_eq!(
                    history.figures(id, hours(from, to)).expect("reads"),
                    facts.figures(id, from, to),
                    "figures of {id} over {from:?}..{to:?}"
                );
            }
            for stores in [&[one][..], &[two], &[one, two]] {
                assert_eq!(
                    history.products(stores, hours(from, to)).expect("reads"),
                    facts.products(stores, from, to),
                    "products of {stores:?} over {from:?}..{to:?}"
                );
            }
        }
        let day = history
            .products(&[one, two], hours(Timestamp(0), Timestamp(24 * HOUR_MS)))
            .expect("reads");
        assert_eq!(day.len(), 4);
        for (id, first, count) in [(one, -7, 100), (two, 10, 5), (one, 3, 0), (two, -20, 3)] {
            assert_eq!(
                history.hourly(id, first, count).expect("reads"),
                facts.hourly(id, first, count),
                "hours of {id} from {first}, {count}"
            );
        }
        assert!(
            history
                .hourly(one, -7, 100)
                .expect("reads")
                .iter()
                .filter(|f| f.sales > 0)
                .count()
                > 50
        );
    }

    #[test]
    fn recording_a_batch_again_changes_nothing() {
        let (once_dir, twice_dir) = (
            tempfile::tempdir().expect("temp dir"),
            tempfile::tempdir().expect("temp dir"),
        );
        let (once, twice) = (open(&once_dir), open(&twice_dir));
        let shop = Shop::trading(5, 40);
        let events = &shop.events;
        once.record(events).expect("records");
        assert_eq!(twice.record_counting(&events[..30]).expect("records"), 30);
        assert_eq!(twice.record_counting(&events[..30]).expect("records"), 0);
        // A catch-up that overlaps what the writer recorded: only the new part counts.
        assert_eq!(
            twice.record_counting(&events[20..]).expect("records"),
            events.len() as u64 - 30
        );
        assert_eq!(twice.record_counting(events).expect("records"), 0);
        assert_eq!(everything(&twice, shop.id), everything(&once, shop.id));
        assert_eq!(twice.sale_count(shop.id).expect("reads"), 40);
        assert_eq!(
            twice.returns_of(shop.id, SaleId(1)).expect("reads").len(),
            1
        );
        assert!(twice.record(&[]).is_ok());
    }

    #[test]
    fn events_after_a_hole_wait_for_the_catch_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = open(&dir);
        let shop = Shop::trading(6, 10);
        let events = &shop.events;
        history.record(&events[..3]).expect("records");
        // The batch with events 4 and 5 was lost (its `record` failed).
        assert_eq!(history.record_counting(&events[5..9]).expect("records"), 0);
        assert_eq!(history.watermark(shop.id).expect("reads"), 3);
        let sixth = match &events[5].event {
            DomainEvent::Store(_, StoreEvent::SaleRecorded(e)) => e.sale.id,
            other => panic!("event 6 is a sale in this shop, not {other:?}"),
        };
        assert_eq!(history.sale(shop.id, sixth).expect("reads"), None);
        // Another store's events in the same batch go on.
        let mut batch = events[9..].to_vec();
        let neighbour = Shop::trading(7, 2);
        batch.extend(neighbour.events.clone());
        history.record(&batch).expect("records");
        assert_eq!(history.watermark(shop.id).expect("reads"), 3);
        assert_eq!(
            history.watermark(neighbour.id).expect("reads"),
            neighbour.events.len() as u64
        );
        // The catch-up fills the hole; from then on everything follows.
        history.record(&events[3..]).expect("records");
        assert_eq!(
            history.watermark(shop.id).expect("reads"),
            events.len() as u64
        );
        assert!(history.sale(shop.id, sixth).expect("reads").is_some());
        assert_eq!(history.sale_count(shop.id).expect("reads"), 10);
    }

    #[test]
    fn every_store_event_raises_the_watermark_and_other_streams_touch_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = open(&dir);
        let mut shop = Shop::new(8);
        shop.count(0, &[("LAI-0001", 10), ("CAF-0003", 1)], None);
        let sold = shop.sell(HOUR_MS, &[("LAI-0001", 2)], Some("till-1"));
        shop.commit(StoreEvent::StockLevelsSet(StockLevelsSet {
            sku: Sku::parse("LAI-0001").expect("valid sku"),
            reorder_point: 3,
            target_level: 20,
        }));
        let number = shop.request_restock(2 * HOUR_MS, None);
        let id = crate::domain::RestockId {
            store: shop.id,
            number,
        };
        let cancelled = shop
            .state
            .decide_restock_step(id, &RestockStep::Cancel, &stamp(3 * HOUR_MS))
            .expect("cancellable")
            .expect("not done yet");
        shop.commit(StoreEvent::RestockStep(cancelled));
        shop.commit(StoreEvent::SalesLetGo {
            before: Timestamp(i64::MAX),
        });
        let chain = Committed {
            stream: StreamId::chain(),
            seq: 1,
            event: DomainEvent::Chain(ChainEvent::UserDeactivated(
                Username::parse("caissier1").expect("valid name"),
            )),
        };
        assert_eq!(
            history
                .record_counting(std::slice::from_ref(&chain))
                .expect("records"),
            0
        );
        let mut batch = vec![chain];
        batch.extend(shop.events.clone());
        assert_eq!(history.record_counting(&batch).expect("records"), 6);
        assert_eq!(history.watermark(shop.id).expect("reads"), 6);
        // The sales the store let go stay here: this is where history lives now.
        assert_eq!(history.sale(shop.id, sold.id).expect("reads"), Some(sold));
        assert_eq!(history.sale_count(shop.id).expect("reads"), 1);
        assert_eq!(
            history
                .keys_since(shop.id, Timestamp(0))
                .expect("reads")
                .len(),
            1
        );
    }

    #[test]
    fn a_key_used_again_after_the_window_keeps_its_last_use() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = open(&dir);
        let mut shop = Shop::new(1);
        shop.count(0, &[("LAI-0001", 10)], None);
        shop.sell(HOUR_MS, &[("LAI-0001", 1)], Some("till-1"));
        // The store let the first sale go with its key; a till may use the key again.
        shop.commit(StoreEvent::SalesLetGo {
            before: Timestamp(2 * HOUR_MS),
        });
        let again = shop.sell(3 * HOUR_MS, &[("LAI-0001", 2)], Some("till-1"));
        history.record(&shop.events).expect("records");
        let keys = history.keys_since(shop.id, Timestamp(0)).expect("reads");
        assert_eq!(keys.len(), 1);
        let (used, outcome, at) = &keys[0];
        assert_eq!(used.key.as_str(), "till-1");
        assert_eq!((*outcome, *at), (Outcome::Sale(again.id), again.at));
        assert_eq!(history.sale_count(shop.id).expect("reads"), 2);
    }

    #[test]
    fn reads_neither_wait_for_a_write_in_progress_nor_see_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = open(&dir);
        let shop = Shop::trading(1, 8);
        history.record(&shop.events).expect("records");
        let last = shop.events.len() as u64;
        let mut raw = Connection::open(dir.path().join(FILE_NAME)).expect("opens");
        let writing = raw
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .expect("takes the write lock");
        writing
            .execute("UPDATE watermarks SET seq = 999", [])
            .expect("written");
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..16)
                .map(|_| {
                    scope.spawn(|| {
                        (
                            history.watermark(shop.id).expect("reads"),
                            history.sale_count(shop.id).expect("reads"),
                        )
                    })
                })
                .collect();
            for reader in readers {
                assert_eq!(reader.join().expect("a reader"), (last, 8));
            }
        });
        drop(writing);
        assert!(lock(&history.readers).len() <= MAX_IDLE_READERS);
        assert_eq!(history.watermark(shop.id).expect("reads"), last);
    }

    #[test]
    fn forgetting_a_store_leaves_the_others() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = open(&dir);
        let (gone, kept) = (Shop::trading(1, 12), Shop::trading(2, 12));
        history.record(&gone.events).expect("records");
        history.record(&kept.events).expect("records");
        let before = everything(&history, kept.id);
        history.forget_store(gone.id).expect("forgets");
        assert_eq!(everything(&history, kept.id), before);
        assert_eq!(history.watermark(gone.id).expect("reads"), 0);
        assert_eq!(history.sale_count(gone.id).expect("reads"), 0);
        assert_eq!(
            history.figures(gone.id, -100..100).expect("reads"),
            Figures::default()
        );
        assert!(
            history
                .products(&[gone.id], -100..100)
                .expect("reads")
                .is_empty()
        );
        assert!(
            history
                .keys_since(gone.id, Timestamp(i64::MIN))
                .expect("reads")
                .is_empty()
        );
        assert!(
            history
                .returns_of(gone.id, SaleId(1))
                .expect("reads")
                .is_empty()
        );
        assert_eq!(
            history.adjustment(gone.id, AdjustmentId(1)).expect("reads"),
            None
        );
        // Rebuilt from its first event, it is what it was.
        let fresh_dir = tempfile::tempdir().expect("temp dir");
        let fresh = open(&fresh_dir);
        fresh.record(&gone.events).expect("records");
        history.record(&gone.events).expect("records");
        assert_eq!(everything(&history, gone.id), everything(&fresh, gone.id));
    }

    #[test]
    fn a_file_of_another_schema_version_is_rebuilt_and_one_of_this_version_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let shop = Shop::trading(1, 8);
        {
            let history = open(&dir);
            history.record(&shop.events).expect("records");
        }
        let history = open(&dir);
        assert_eq!(history.sale_count(shop.id).expect("reads"), 8);
        drop(history);
        {
            let raw = Connection::open(dir.path().join(FILE_NAME)).expect("opens");
            raw.execute_batch("PRAGMA user_version = 99; CREATE TABLE stale (x INTEGER);")
                .expect("written");
        }
        let history = open(&dir);
        assert_eq!(history.watermark(shop.id).expect("reads"), 0);
        assert_eq!(history.sale_count(shop.id).expect("reads"), 0);
        assert_eq!(history.sale(shop.id, SaleId(1)).expect("reads"), None);
        let raw = Connection::open(dir.path().join(FILE_NAME)).expect("opens");
        let version: i64 = raw
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("reads");
        assert_eq!(version, SCHEMA_VERSION);
        let stale: i64 = raw
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'stale'",
                [],
                |row| row.get(0),
            )
            .expect("reads");
        assert_eq!(stale, 0);
        history.record(&shop.events).expect("records");
        assert_eq!(history.sale_count(shop.id).expect("reads"), 8);
    }

    #[test]
    fn corrupt_rows_are_errors_not_panics() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = open(&dir);
        let shop = Shop::trading(1, 8);
        history.record(&shop.events).expect("records");
        let raw = Connection::open(dir.path().join(FILE_NAME)).expect("opens");
        raw.execute_batch(
            "UPDATE sales SET body = x'01ff' WHERE id = 2;
             UPDATE keys SET kind = 9;
             UPDATE sale_hours SET sales = -1;
             UPDATE product_hours SET sku = lower(sku);
             UPDATE watermarks SET seq = -5;",
        )
        .expect("written");
        assert!(history.sale(shop.id, SaleId(1)).expect("reads").is_some());
        assert!(matches!(
            history.sale(shop.id, SaleId(2)),
            Err(JournalError::Codec(_))
        ));
        assert!(matches!(
            history.sales_newest_first(shop.id, 0, 10),
            Err(JournalError::Codec(_))
        ));
        assert!(matches!(
            history.keys_since(shop.id, Timestamp(i64::MIN)),
            Err(JournalError::Corrupt(_))
        ));
        assert!(matches!(
            history.figures(shop.id, -100..100),
            Err(JournalError::Corrupt(_))
        ));
        assert!(matches!(
            history.hourly(shop.id, -10, 30),
            Err(JournalError::Corrupt(_))
        ));
        assert!(matches!(
            history.sale_count(shop.id),
            Err(JournalError::Corrupt(_))
        ));
        assert!(matches!(
            history.products(&[shop.id], -100..100),
            Err(JournalError::Corrupt(_))
        ));
        assert!(matches!(
            history.watermark(shop.id),
            Err(JournalError::Corrupt(_))
        ));
        assert!(matches!(
            history.record(&shop.events),
            Err(JournalError::Corrupt(_))
        ));
    }

    /// A journal on real files holding `shops`' events, appended as an actor would.
    fn journal_of(
        dir: &tempfile::TempDir,
        shops: &[&Shop],
    ) -> (Journal, Arc<dyn crate::persistence::JournalBackend>) {
        let backend = crate::persistence::open(Backend::Sqlite, dir.path()).expect("opens");
        // The journal's writer fills a history of its own; the tests catch up another one.
        let own = Arc::new(History::open(&dir.path().join("writer"), three_days()).expect("opens"));
        let journal = Journal::start(
            backend.clone(),
            own,
            Vec::new(),
            WriterSettings {
                max_batch_events: 64,
            },
        )
        .expect("starts");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        for shop in shops {
            for chunk in shop.events.chunks(7) {
                let events = chunk.iter().map(|c| c.event.clone()).collect();
                runtime
                    .block_on(journal.append(
                        StreamId::store(shop.id),
                        chunk[0].seq,
                        events,
                        None::<&StoreState>,
                    ))
                    .expect("durable");
            }
        }
        (journal, backend)
    }

    #[test]
    fn catch_up_reads_the_journal_in_pages_and_rebuilds_a_history_ahead_of_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let shop = Shop::trading(1, 50);
        let neighbour = Shop::trading(2, 20);
        let (journal, _) = journal_of(&dir, &[&shop, &neighbour]);
        let last = shop.events.len() as u64;
        assert_eq!(last, 64);
        let reference_dir = tempfile::tempdir().expect("temp dir");
        let reference = open(&reference_dir);
        reference.record(&shop.events).expect("records");

        let history = open(&dir);
        assert_eq!(
            history
                .catch_up_in_pages(&journal, shop.id, last, 7)
                .expect("catches up"),
            last
        );
        assert_eq!(
            everything(&history, shop.id),
            everything(&reference, shop.id)
        );
        assert_eq!(history.watermark(neighbour.id).expect("reads"), 0);
        assert_eq!(
            history
                .catch_up(&journal, shop.id, last)
                .expect("catches up"),
            0
        );

        // A history that lags: only what it misses is read.
        let lagging_dir = tempfile::tempdir().expect("temp dir");
        let lagging = open(&lagging_dir);
        lagging.record(&shop.events[..20]).expect("records");
        assert_eq!(
            lagging
                .catch_up(&journal, shop.id, last)
                .expect("catches up"),
            last - 20
        );
        assert_eq!(
            everything(&lagging, shop.id),
            everything(&reference, shop.id)
        );

        // Up to a seq, not beyond: the events after it are the writer's to record.
        let partial_dir = tempfile::tempdir().expect("temp dir");
        let partial = open(&partial_dir);
        assert_eq!(
            partial.catch_up(&journal, shop.id, 30).expect("catches up"),
            30
        );
        assert_eq!(partial.watermark(shop.id).expect("reads"), 30);
        // A journal that ends before the seq asked for: what it has is recorded, then refused.
        let short_dir = tempfile::tempdir().expect("temp dir");
        let short = open(&short_dir);
        assert!(matches!(
            short.catch_up(&journal, shop.id, last + 5),
            Err(JournalError::Corrupt(_))
        ));
        assert_eq!(short.watermark(shop.id).expect("reads"), last);
        journal.stop();

        // The journal restored from an older backup: the history ahead of it is rebuilt.
        let older_dir = tempfile::tempdir().expect("temp dir");
        let mut older_shop = Shop::new(1);
        older_shop.events = shop.events[..30].to_vec();
        let (older, _) = journal_of(&older_dir, &[&older_shop]);
        assert_eq!(
            history.catch_up(&older, shop.id, 30).expect("catches up"),
            30
        );
        assert_eq!(history.watermark(shop.id).expect("reads"), 30);
        assert_eq!(everything(&history, shop.id), everything(&partial, shop.id));
        let sold_before: u64 = shop.events[..30]
            .iter()
            .filter(|c| matches!(c.event, DomainEvent::Store(_, StoreEvent::SaleRecorded(_))))
            .count() as u64;
        assert_eq!(history.sale_count(shop.id).expect("reads"), sold_before);
        let newest = shop.sales().last().map(|s| s.id).expect("sales");
        assert_eq!(history.sale(shop.id, newest).expect("reads"), None);
        older.stop();
    }

    #[test]
    fn events_neither_in_the_journal_nor_in_an_archive_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let shop = Shop::trading(1, 20);
        let (journal, backend) = journal_of(&dir, &[&shop]);
        // Compaction deleted events 1 to 9, and this journal was given no archive.
        backend
            .delete_events_before(&StreamId::store(shop.id), 10)
            .expect("deletes");
        let history = open(&dir);
        let last = shop.events.len() as u64;
        assert!(matches!(
            history.catch_up(&journal, shop.id, last),
            Err(JournalError::Corrupt(_))
        ));
        assert_eq!(history.watermark(shop.id).expect("reads"), 0);
        journal.stop();
    }

    #[test]
    fn keys_older_than_twice_the_retention_window_leave_the_disk() {
        for window in [72 * HOUR_MS, 3_000] {
            let keys = KeyRetention::from_millis(window).expect("within the bounds");
            let dir = tempfile::tempdir().expect("temp dir");
            let history = History::open(dir.path(), keys).expect("opens");
            let mut shop = Shop::new(7);
            // One sweep interval apart, so that the sweep at the end lets one go.
            let step = keys.sweep_every_ms();
            shop.count(0, &[("CAF-0003", 100)], None);
            shop.sell(step, &[("CAF-0003", 1)], Some("old"));
            shop.sell(2 * step, &[("CAF-0003", 1)], Some("recent"));
            history.record(&shop.events).expect("records");
            let id = shop.id;
            let kept = |history: &History| -> Vec<String> {
                history
                    .keys_since(id, Timestamp(i64::MIN))
                    .expect("reads")
                    .into_iter()
                    .map(|(used, _, _)| used.key.as_str().to_owned())
                    .collect()
            };
            assert_eq!(kept(&history).len(), 2);
            let seen = shop.events.len();
            // Twice the window after the first key, plus a little: the first goes, the
            // second (a sweep interval younger) stays; the sales themselves stay.
            shop.sell(
                keys_kept_ms(keys) + step + 1,
                &[("CAF-0003", 1)],
                Some("today"),
            );
            history.record(&shop.events[seen..]).expect("records");
            let mut left = kept(&history);
            left.sort();
            assert_eq!(
                left,
                vec!["recent".to_owned(), "today".to_owned()],
                "{window} ms"
            );
            assert_eq!(history.sale_count(shop.id).expect("reads"), 3);
        }
    }
}
