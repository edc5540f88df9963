//! The group-commit journal writer: one OS thread (never an actix arbiter) that takes every
//! append waiting in its queue, writes them in one durable commit, records them in the
//! history (sales, returns, adjustments, keys and their figures on disk), tells the
//! in-memory read models (in journal order), then acknowledges each append.
//!
//! A failed commit leaves the journal unwritable until a commit (or a probe from
//! `/health/ready`) succeeds again: the disk may come back. A history write that fails
//! after a durable commit answers that batch's appends with an error (the actors restart
//! and their recovery brings the history up to the journal); until then, appends of the
//! stores it left behind are refused, so an acknowledged write is always in the history.
//!
//! Invariant: per stream, events are journaled with `seq` = last journaled + 1. An append
//! that does not follow (because an earlier one of its stream failed) is refused, so an
//! actor that applied a write in memory whose commit failed can never journal events that
//! were decided on top of it; it must recover from the journal instead.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::history::{History, Recorded};
use super::integrity::{self, GENESIS, Hash};
use super::snapshot::Snapshot;
use super::{JournalBackend, JournalError, StoredEvent, StoredSnapshot, StreamId, codec};
use crate::domain::{DomainEvent, StoreId};

/// An event that is durable, handed to read models in journal order.
#[derive(Debug, Clone)]
pub struct Committed {
    pub stream: StreamId,
    pub seq: u64,
    pub event: DomainEvent,
}

/// What one durable batch cost.
#[derive(Debug, Clone)]
pub struct CommitStats {
    /// From the start of the commit to durable.
    pub duration: Duration,
    /// Writing the batch to the history, after it was durable.
    pub history: Duration,
    pub events: usize,
    /// How long each snapshot of the batch took to encode.
    pub snapshot_encodes: Vec<Duration>,
}

/// Told of every durable batch, on the writer thread, before the writers are answered:
/// keep it quick and never block.
pub trait CommitListener: Send + Sync {
    fn committed(&self, events: &[Committed], stats: &CommitStats);
}

/// Tuning of the writer; the defaults are in `config/default.toml`.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Most events one commit takes; what waits beyond it goes in the next commit.
    pub max_batch_events: usize,
}

struct Append {
    stream: StreamId,
    events: Vec<(u64, DomainEvent)>,
    snapshot: Option<(u64, Vec<u8>)>,
    /// How long encoding the snapshot took (on the caller's thread).
    snapshot_encode: Option<Duration>,
    done: oneshot::Sender<Result<(), JournalError>>,
}

enum Command {
    Append(Append),
    /// Is the backend writable again? (An empty commit.)
    Probe(oneshot::Sender<bool>),
    Stop,
}

/// Events read from the backend at a time during recovery.
const RECOVERY_PAGE: usize = 10_000;

/// Handle to the journal: cheap to clone, usable from any thread or actor.
#[derive(Clone)]
pub struct Journal {
    queue: mpsc::Sender<Command>,
    backend: Arc<dyn JournalBackend>,
    history: Arc<History>,
    /// Where compaction moved the older events (ledgers read them back from there).
    archive: Option<Arc<super::archive::Archive>>,
    writable: Arc<AtomicBool>,
    thread: Arc<std::sync::Mutex<Option<JoinHandle<()>>>>,
}

impl Journal {
    /// Starts the writer thread over an opened backend.
    pub fn start(
        backend: Arc<dyn JournalBackend>,
        history: Arc<History>,
        listeners: Vec<Arc<dyn CommitListener>>,
        settings: WriterSettings,
    ) -> Result<Self, JournalError> {
        let last = backend.heads()?;
        let (queue, inbox) = mpsc::channel();
        let writable = Arc::new(AtomicBool::new(true));
        let mut writer = Writer {
            backend: backend.clone(),
            history: HistoryPipe::start(history.clone())?,
            history_behind: HashSet::new(),
            listeners,
            last,
            settings,
            writable: writable.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run(inbox))?;
        Ok(Self {
            queue,
            backend,
            history,
            archive: None,
            writable,
            thread: Arc::new(std::sync::Mutex::new(Some(thread))),
        })
    }

    /// Queues `events` (numbered from `first_seq`) and an optional snapshot of the stream's
    /// state after them; the future resolves once all of it is durable, or failed.
    pub fn append<S: Snapshot>(
        &self,
        stream: StreamId,
        first_seq: u64,
        events: Vec<DomainEvent>,
        snapshot: Option<&S>,
    ) -> impl Future<Output = Result<(), JournalError>> + use<S> {
        let last_seq = (first_seq + events.len() as u64).saturating_sub(1);
        let encoding = Instant::now();
        let snapshot = snapshot.map(|s| s.encode_snapshot().map(|bytes| (last_seq, bytes)));
        let snapshot_encode = snapshot.as_ref().map(|_| encoding.elapsed());
        let (done, answer) = oneshot::channel();
        let sent = match snapshot.transpose() {
            Err(e) => Err(JournalError::Codec(e)),
            Ok(snapshot) => {
                let events = (first_seq..).zip(events).collect();
                let command = Command::Append(Append {
                    stream,
                    events,
                    snapshot,
                    snapshot_encode,
                    done,
                });
                self.queue.send(command).map_err(|_| JournalError::Closed)
            }
        };
        async move {
            sent?;
            answer.await.map_err(|_| JournalError::Closed)?
        }
    }

    /// Writes a snapshot of a stream's state at `seq` (which must already be journaled).
    pub fn snapshot<S: Snapshot>(
        &self,
        stream: StreamId,
        seq: u64,
        state: &S,
    ) -> impl Future<Output = Result<(), JournalError>> + use<S> {
        let (done, answer) = oneshot::channel();
        let encoding = Instant::now();
        let sent = state
            .encode_snapshot()
            .map_err(JournalError::Codec)
            .and_then(|bytes| {
                let command = Command::Append(Append {
                    stream,
                    events: Vec::new(),
                    snapshot: Some((seq, bytes)),
                    snapshot_encode: Some(encoding.elapsed()),
                    done,
                });
                self.queue.send(command).map_err(|_| JournalError::Closed)
            });
        async move {
            sent?;
            answer.await.map_err(|_| JournalError::Closed)?
        }
    }

    /// A stream's state: its latest snapshot (or `S::default()`), then every event after
    /// it through `apply`, read and decoded a page at a time. Returns the state, its last
    /// seq and how many events were applied after the snapshot (the actor's snapshot
    /// cadence counts on from there). Blocking: call it from a blocking thread, never from
    /// an actor.
    pub fn recover<S, E>(
        &self,
        stream: &StreamId,
        apply: impl FnMut(&mut S, E),
    ) -> Result<(S, u64, u64), JournalError>
    where
        S: Snapshot,
        E: codec::Event,
    {
        recover_stream(
            self.backend.as_ref(),
            self.archive.as_deref(),
            stream,
            apply,
        )
    }

    /// Verifies the hash chain of `stream`, archive and journal (see `integrity`). Blocking.
    pub fn verify(&self, stream: &StreamId) -> Result<integrity::Verified, JournalError> {
        integrity::verify_stream(self.backend.as_ref(), self.archive.as_deref(), stream)
    }

    /// The hash of event `seq` of `stream`, from the journal or, once compacted, the
    /// archive. Blocking.
    pub fn event_hash(&self, stream: &StreamId, seq: u64) -> Result<Option<Hash>, JournalError> {
        let journaled = self
            .backend
            .read_events(stream, seq.saturating_sub(1), 1)?
            .first()
            .filter(|e| e.seq == seq)
            .map(|e| e.hash);
        match (journaled, &self.archive) {
            (Some(hash), _) => Ok(Some(hash)),
            (None, Some(archive)) => archive.hash_of(stream, seq),
            (None, None) => Ok(None),
        }
    }

    /// Reads the older events of a stream from `archive` once compaction moved them there.
    pub fn with_archive(mut self, archive: super::archive::Archive) -> Self {
        self.archive = Some(Arc::new(archive));
        self
    }

    /// Events of a stream after `after`, at most `limit`, from the archive for the part
    /// compaction moved there. Blocking (see [`Journal::recover`]).
    pub fn read<E: codec::Event>(
        &self,
        stream: &StreamId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, E)>, JournalError> {
        let journaled = self.backend.read_events(stream, after, limit)?;
        // The journal always keeps a stream's last event, so only a page that starts past
        // `after + 1` can have its beginning in the archive.
        let skipped = journaled
            .first()
            .is_some_and(|e| e.seq > after.saturating_add(1));
        let mut found = match (&self.archive, skipped) {
            (Some(archive), true) => archive.read(stream, after, limit)?,
            _ => Vec::new(),
        };
        let archived_up_to = found.last().map_or(after, |(seq, _)| *seq);
        let rest = limit.saturating_sub(found.len());
        for stored in journaled
            .into_iter()
            .filter(|e| e.seq > archived_up_to)
            .take(rest)
        {
            found.push((stored.seq, codec::decode_event(&stored.payload)?));
        }
        Ok(found)
    }
}

/// A stream's state: its latest snapshot, then every event after it. Events compaction
/// moved to the archive are read only for a stream without a snapshot whose journal no
/// longer starts at its first event. A snapshot in a layout this build does not read stops
/// recovery with the reason (never a state rebuilt from nothing).
pub fn recover_stream<S, E>(
    backend: &dyn JournalBackend,
    archive: Option<&super::archive::Archive>,
    stream: &StreamId,
    mut apply: impl FnMut(&mut S, E),
) -> Result<(S, u64, u64), JournalError>
where
    S: Snapshot,
    E: codec::Event,
{
    let (base, mut state) = match backend.latest_snapshot(stream)? {
        None => (0, S::default()),
        Some(stored) => (
            stored.seq,
            S::decode_snapshot(&stored.payload).map_err(|e| {
                JournalError::Corrupt(format!("{stream}: snapshot at event {}: {e}", stored.seq))
            })?,
        ),
    };
    let mut seq = base;
    loop {
        let page = backend.read_events(stream, seq, RECOVERY_PAGE)?;
        if page.is_empty() {
            break;
        }
        if let Some(first) = page.first()
            && base == 0
            && seq == 0
            && first.seq != 1
            && let Some(archive) = archive
        {
            let end = first.seq;
            archive.each(stream, 0, |archived, event: E| {
                if archived != seq + 1 {
                    return Err(JournalError::Corrupt(format!(
                        "{stream}: archived event {archived} where {} was expected",
                        seq + 1
                    )));
                }
                apply(&mut state, event);
                seq = archived;
                Ok(archived + 1 < end)
            })?;
            if seq + 1 != end {
                return Err(JournalError::Corrupt(format!(
                    "{stream}: the archive ends at event {seq}, the journal starts at {end}"
                )));
            }
            tracing::warn!(%stream, events = seq, "state rebuilt from the archive");
            continue;
        }
        if let Some(first) = page.first()
            && seq == base
            && first.seq != base + 1
        {
            return Err(JournalError::Corrupt(format!(
                "{stream}: events {} to {} are neither in the journal nor in the archive, and \
                     no readable snapshot stands for them: restore the data directory from a \
                     backup",
                base + 1,
                first.seq - 1
            )));
        }
        for stored in page {
            apply(&mut state, codec::decode_event(&stored.payload)?);
            seq = stored.seq;
        }
    }
    Ok((state, seq, seq - base))
}

impl Journal {
    /// Every stream that has at least one event. Blocking.
    pub fn streams(&self) -> Result<Vec<StreamId>, JournalError> {
        let mut streams: Vec<StreamId> = self.backend.last_seqs()?.into_keys().collect();
        streams.sort();
        Ok(streams)
    }

    /// The last journaled sequence of every stream. Blocking.
    pub fn last_seqs(&self) -> Result<HashMap<StreamId, u64>, JournalError> {
        self.backend.last_seqs()
    }

    /// False since a commit failed, until one succeeds again.
    pub fn is_writable(&self) -> bool {
        self.writable.load(Ordering::Relaxed)
    }

    /// Asks the writer whether the backend takes a commit again (after a failure); true
    /// when it does (and the journal is writable again).
    pub async fn probe(&self) -> bool {
        let (done, answer) = oneshot::channel();
        if self.queue.send(Command::Probe(done)).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// The history the writer fills: sales, returns, adjustments and keys on disk.
    pub fn history(&self) -> &Arc<History> {
        &self.history
    }

    /// Lets the writer finish what is queued, then stops it. Blocking.
    pub fn stop(&self) {
        let _ = self.queue.send(Command::Stop);
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the journal writer thread panicked");
        }
    }
}

struct Writer {
    backend: Arc<dyn JournalBackend>,
    history: HistoryPipe,
    /// Stores whose last committed batch is not in the history: their appends are refused
    /// until their recovery brought the history up to the journal.
    history_behind: HashSet<StoreId>,
    listeners: Vec<Arc<dyn CommitListener>>,
    /// Each stream's last journaled event: its seq and its hash (the chain's head).
    last: HashMap<StreamId, (u64, Hash)>,
    settings: WriterSettings,
    writable: Arc<AtomicBool>,
}

impl Writer {
    fn run(&mut self, inbox: mpsc::Receiver<Command>) {
        let mut stopping = false;
        while !stopping {
            let Ok(first) = inbox.recv() else { break };
            let mut batch = Vec::new();
            let mut events = 0;
            let mut next = Some(first);
            // Group commit: everything that queued while the last commit was syncing goes
            // in this one, up to the batch limit.
            while let Some(command) = next.take() {
                match command {
                    Command::Stop => stopping = true,
                    Command::Probe(done) => {
                        let writable = self.backend.commit(&[], &[]).is_ok();
                        if writable {
                            self.writable.store(true, Ordering::Relaxed);
                        }
                        let _ = done.send(writable);
                    }
                    Command::Append(append) => {
                        events += append.events.len();
                        batch.push(append);
                    }
                }
                if events < self.settings.max_batch_events && !stopping {
                    next = inbox.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.commit(batch);
            }
        }
        if let Err(e) = self.backend.close() {
            tracing::error!(error = %e, "closing the journal failed");
        }
        tracing::info!("journal writer stopped");
    }

    fn commit(&mut self, batch: Vec<Append>) {
        let started = Instant::now();
        let mut last = self.last.clone();
        let mut accepted = Vec::with_capacity(batch.len());
        let mut stored_events = Vec::new();
        let mut stored_snapshots = Vec::new();
        for mut append in batch {
            let checked = self
                .check_history(&append)
                .and_then(|()| self.encode(&mut append, &mut last));
            match checked {
                Ok((events, snapshot)) => {
                    stored_events.extend(events);
                    stored_snapshots.extend(snapshot);
                    accepted.push(append);
                }
                Err(e) => {
                    let _ = append.done.send(Err(e));
                }
            }
        }
        if accepted.is_empty() {
            return;
        }
        let committed: Arc<Vec<Committed>> = Arc::new(
            accepted
                .iter()
                .flat_map(|a| {
                    a.events.iter().map(|(seq, event)| Committed {
                        stream: a.stream.clone(),
                        seq: *seq,
                        event: event.clone(),
                    })
                })
                .collect(),
        );
        // The history writes its rows while the journal syncs, and commits them only once
        // the journal's commit succeeded.
        let recording = self.history.record(committed.clone());
        let journaled = self.backend.commit(&stored_events, &stored_snapshots);
        let durable = started.elapsed();
        let recorded = recording.finish(journaled.is_ok());
        if let Err(e) = journaled {
            tracing::error!(error = %e, events = stored_events.len(), "journal commit failed");
            self.writable.store(false, Ordering::Relaxed);
            for append in accepted {
                let _ = append.done.send(Err(JournalError::BatchFailed));
            }
            return;
        }
        self.last = last;
        self.writable.store(true, Ordering::Relaxed);
        let held_back = match recorded {
            Ok(recorded) => recorded.held_back,
            Err(e) => {
                tracing::error!(error = %e, events = committed.len(), "history write failed; the batch is journaled, its stores catch up at their recovery");
                accepted
                    .iter()
                    .filter_map(|a| a.stream.store_id())
                    .collect()
            }
        };
        self.history_behind.extend(held_back.iter().copied());
        let stats = CommitStats {
            duration: durable,
            history: started.elapsed().saturating_sub(durable),
            events: stored_events.len(),
            snapshot_encodes: accepted.iter().filter_map(|a| a.snapshot_encode).collect(),
        };
        for listener in &self.listeners {
            listener.committed(&committed, &stats);
        }
        for append in accepted {
            let behind = append
                .stream
                .store_id()
                .is_some_and(|store| held_back.contains(&store));
            let _ = append.done.send(if behind {
                Err(JournalError::HistoryBehind)
            } else {
                Ok(())
            });
        }
        log_slow_commit(started.elapsed(), stored_events.len());
    }

    /// The hash of an event journaled before this batch ([`GENESIS`] if it is gone).
    fn hash_at(&self, stream: &StreamId, seq: u64) -> Result<Hash, JournalError> {
        let found = self.backend.read_events(stream, seq.saturating_sub(1), 1)?;
        Ok(found
            .first()
            .filter(|e| e.seq == seq)
            .map_or(GENESIS, |e| e.hash))
    }

    /// Refuses an append of a store the history is behind, unless its recovery has
    /// brought the history up to the journal since.
    fn check_history(&mut self, append: &Append) -> Result<(), JournalError> {
        let Some(store) = append.stream.store_id() else {
            return Ok(());
        };
        if !self.history_behind.contains(&store) {
            return Ok(());
        }
        let journaled = self.last.get(&append.stream).map_or(0, |(seq, _)| *seq);
        if self.history.history.watermark(store)? >= journaled {
            self.history_behind.remove(&store);
            Ok(())
        } else {
            Err(JournalError::HistoryBehind)
        }
    }

    /// Checks sequence numbers against `last` (advancing it), encodes and links each event
    /// to the one before; takes the snapshot's bytes out of the append rather than copying
    /// them (a store's snapshot can be megabytes).
    fn encode(
        &self,
        append: &mut Append,
        last: &mut HashMap<StreamId, (u64, Hash)>,
    ) -> Result<(Vec<StoredEvent>, Option<StoredSnapshot>), JournalError> {
        let (mut position, mut head) = last.get(&append.stream).copied().unwrap_or((0, GENESIS));
        let mut events = Vec::with_capacity(append.events.len());
        for (seq, event) in &append.events {
            if *seq != position + 1 {
                return Err(JournalError::OutOfSequence {
                    stream: append.stream.clone(),
                    last: position,
                    got: *seq,
                });
            }
            let payload = match event {
                DomainEvent::Chain(e) => codec::encode_event(e)?,
                DomainEvent::Store(_, e) => codec::encode_event(e)?,
                DomainEvent::Central(_, e) => codec::encode_event(e)?,
            };
            head = integrity::link(&head, &append.stream, *seq, &payload);
            events.push(StoredEvent {
                stream: append.stream.clone(),
                seq: *seq,
                hash: head,
                payload,
            });
            position = *seq;
        }
        let snapshot = match append.snapshot.take() {
            Some((seq, _)) if seq > position => {
                return Err(JournalError::OutOfSequence {
                    stream: append.stream.clone(),
                    last: position,
                    got: seq,
                });
            }
            Some((seq, payload)) => Some(StoredSnapshot {
                stream: append.stream.clone(),
                seq,
                head: if seq == position {
                    head
                } else {
                    self.hash_at(&append.stream, seq)?
                },
                payload,
            }),
            None => None,
        };
        last.insert(append.stream.clone(), (position, head));
        Ok((events, snapshot))
    }
}

/// The history's writer thread: each batch's rows are written there while the journal
/// writer syncs the same batch.
struct HistoryPipe {
    history: Arc<History>,
    jobs: mpsc::Sender<HistoryJob>,
}

struct HistoryJob {
    events: Arc<Vec<Committed>>,
    durable: mpsc::Receiver<bool>,
    done: mpsc::Sender<Result<Option<Recorded>, JournalError>>,
}

/// A batch being written to the history: [`Recording::finish`] says whether the journal
/// took it and waits for the history's answer.
struct Recording {
    durable: mpsc::Sender<bool>,
    done: mpsc::Receiver<Result<Option<Recorded>, JournalError>>,
}

impl HistoryPipe {
    fn start(history: Arc<History>) -> Result<Self, JournalError> {
        let (jobs, inbox) = mpsc::channel::<HistoryJob>();
        let writer = history.clone();
        std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || {
                while let Ok(job) = inbox.recv() {
                    let durable = job.durable;
                    let answer =
                        writer.record_when(&job.events, move || durable.recv().unwrap_or(false));
                    let _ = job.done.send(answer);
                }
            })?;
        Ok(Self { history, jobs })
    }

    fn record(&self, events: Arc<Vec<Committed>>) -> Recording {
        let (durable, durable_inbox) = mpsc::channel();
        let (done, done_inbox) = mpsc::channel();
        let job = HistoryJob {
            events,
            durable: durable_inbox,
            done,
        };
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            let _ = job.done.send(Err(JournalError::Closed));
        }
        Recording {
            durable,
            done: done_inbox,
        }
    }
}

impl Recording {
    /// Tells the history whether the journal's commit succeeded; answers what it recorded
    /// (an error when the journal did not take the batch or the history failed).
    fn finish(self, journaled: bool) -> Result<Recorded, JournalError> {
        let _ = self.durable.send(journaled);
        match self.done.recv() {
            Ok(Ok(Some(recorded))) => Ok(recorded),
            Ok(Ok(None)) => Err(JournalError::BatchFailed),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(JournalError::Closed),
        }
    }
}

fn log_slow_commit(elapsed: Duration, events: usize) {
    if elapsed > Duration::from_millis(200) {
        tracing::warn!(
            elapsed_ms = elapsed.as_millis() as u64,
            events,
            "slow journal commit"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::StoreId;
    use crate::persistence::in_memory;

    impl codec::Event for u32 {
        type V1 = u32;
    }

    /// A state that is the list of its events, snapshotted in version 1.
    #[derive(Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    struct Pushed(Vec<u32>);

    impl Snapshot for Pushed {
        fn encode_snapshot(&self) -> Result<Vec<u8>, codec::CodecError> {
            codec::encode(self)
        }

        fn decode_snapshot(bytes: &[u8]) -> Result<Self, codec::CodecError> {
            codec::decode(bytes)
        }
    }

    fn history() -> (tempfile::TempDir, Arc<History>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let keys = crate::domain::KeyRetention::from_millis(3_600_000).expect("an hour");
        let history = Arc::new(History::open(dir.path(), keys).expect("opens"));
        (dir, history)
    }

    fn journal_with(
        backend: Arc<dyn JournalBackend>,
        snapshot: Option<StoredSnapshot>,
    ) -> (Journal, StreamId, tempfile::TempDir) {
        let stream = StreamId::store(StoreId::new(1).expect("valid id"));
        let events = stored(&stream, 1..=3);
        backend
            .commit(&events, snapshot.as_slice())
            .expect("commits");
        let (dir, history) = history();
        let journal = Journal::start(
            backend,
            history,
            Vec::new(),
            WriterSettings {
                max_batch_events: 16,
            },
        )
        .expect("starts");
        (journal, stream, dir)
    }

    /// Events `seqs` of `stream`, each the number itself, linked as the writer links them.
    fn stored(stream: &StreamId, seqs: std::ops::RangeInclusive<u32>) -> Vec<StoredEvent> {
        let mut head = GENESIS;
        seqs.map(|n| {
            let payload = codec::encode(&n).expect("encodes");
            head = integrity::link(&head, stream, u64::from(n), &payload);
            StoredEvent {
                stream: stream.clone(),
                seq: u64::from(n),
                hash: head,
                payload,
            }
        })
        .collect()
    }

    fn push(state: &mut Pushed, event: u32) {
        state.0.push(event);
    }

    fn snapshot_at(seq: u64, payload: Vec<u8>) -> StoredSnapshot {
        StoredSnapshot {
            stream: StreamId::store(StoreId::new(1).expect("valid id")),
            seq,
            head: GENESIS,
            payload,
        }
    }

    #[test]
    fn recovery_starts_from_the_snapshot_then_applies_the_tail() {
        let snapshot = snapshot_at(2, codec::encode(&Pushed(vec![10, 20])).expect("encodes"));
        let (journal, stream, _dir) = journal_with(in_memory(), Some(snapshot));
        let recovered = journal.recover(&stream, push).expect("recovers");
        assert_eq!(recovered, (Pushed(vec![10, 20, 3]), 3, 1));
        journal.stop();
    }

    #[test]
    fn a_snapshot_in_a_layout_this_build_does_not_read_stops_recovery() {
        let snapshot = snapshot_at(2, b"\x07written by a newer version".to_vec());
        let (journal, stream, _dir) = journal_with(in_memory(), Some(snapshot));
        let refused = journal.recover(&stream, push);
        assert!(
            matches!(&refused, Err(JournalError::Corrupt(why)) if why.contains("format version 7")),
            "{refused:?}"
        );
        journal.stop();
    }

    #[test]
    fn archived_events_without_a_snapshot_are_rebuilt_from_the_archive_or_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let archive = super::super::archive::Archive::new(dir.path());
        let (journal, stream, _history) = journal_with(in_memory(), None);
        // Compaction archived events 1 and 2 and deleted them from the journal.
        let mut segment = archive.segment(&stream, 1, None).expect("a segment");
        for (n, event) in (1..=2_u32).zip(stored(&stream, 1..=2)) {
            segment.push(&event, &n).expect("archived");
        }
        journal
            .backend
            .delete_events_before(&stream, 3)
            .expect("deleted");
        let refused = journal.recover(&stream, push);
        assert!(
            matches!(refused, Err(JournalError::Corrupt(_))),
            "without the archive: {refused:?}"
        );
        segment.finish().expect("sealed");
        let journal = journal.with_archive(archive);
        let recovered = journal.recover(&stream, push).expect("recovers");
        assert_eq!(recovered, (Pushed(vec![1, 2, 3]), 3, 3));
        journal.stop();
    }

    #[test]
    fn a_failed_commit_is_answered_and_the_journal_is_writable_again_once_the_disk_is_back() {
        let faulty = Arc::new(super::super::faulty::Faulty::new(in_memory()));
        let (journal, _, _dir) = journal_with(faulty.clone(), None);
        let chain = StreamId::chain();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let event = || {
            vec![DomainEvent::Chain(
                crate::domain::ChainEvent::UserDeactivated(
                    crate::domain::Username::parse("caissier9").expect("a name"),
                ),
            )]
        };
        faulty.set_failing(true);
        let failed = runtime.block_on(journal.append(chain.clone(), 1, event(), None::<&Pushed>));
        assert!(
            matches!(failed, Err(JournalError::BatchFailed)),
            "{failed:?}"
        );
        assert!(!journal.is_writable());
        assert!(!runtime.block_on(journal.probe()));
        faulty.set_failing(false);
        assert_eq!(
            journal.backend.last_seqs().expect("reads").get(&chain),
            None
        );
        faulty.set_failing(true);
        assert!(!runtime.block_on(journal.probe()));
        faulty.set_failing(false);
        assert!(runtime.block_on(journal.probe()));
        assert!(journal.is_writable());
        // Nothing of the failed append was written: the stream starts at 1.
        runtime
            .block_on(journal.append(chain.clone(), 1, event(), None::<&Pushed>))
            .expect("durable");
        assert_eq!(
            journal.backend.last_seqs().expect("reads").get(&chain),
            Some(&1)
        );
        journal.stop();
    }

    #[test]
    fn store_events_the_history_cannot_follow_are_not_acknowledged() {
        // Events 1 to 3 of store 1 are in the journal but not in this history: event 4 is
        // journaled, held back by the history, and answered as behind, never as done.
        let (journal, stream, _dir) = journal_with(in_memory(), None);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let store = StoreId::new(1).expect("valid id");
        let levels = || {
            vec![DomainEvent::Store(
                store,
                crate::domain::StoreEvent::StockLevelsSet(crate::domain::StockLevelsSet {
                    sku: crate::domain::Sku::parse("EPI-0001").expect("a SKU"),
                    reorder_point: 1,
                    target_level: 2,
                }),
            )]
        };
        let behind = runtime.block_on(journal.append(stream.clone(), 4, levels(), None::<&Pushed>));
        assert!(
            matches!(behind, Err(JournalError::HistoryBehind)),
            "{behind:?}"
        );
        // Until the history catches up, the store's next appends are refused, unjournaled.
        let refused =
            runtime.block_on(journal.append(stream.clone(), 5, levels(), None::<&Pushed>));
        assert!(
            matches!(refused, Err(JournalError::HistoryBehind)),
            "{refused:?}"
        );
        assert_eq!(
            journal.backend.last_seqs().expect("reads").get(&stream),
            Some(&4)
        );
        assert_eq!(journal.history().watermark(store).expect("reads"), 0);
        journal.stop();
    }
}
