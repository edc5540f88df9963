//! Compaction: a journal that runs for years keeps only what recovery needs. For every
//! stream (the chain, each store, each product of the logistics center):
//!
//! 1. recover its state and write a snapshot at its last event (in this version's layout,
//!    so that recovery never needs an older event again). A store's state holds no sale,
//!    so nothing is let go: its sales, returns and figures stay readable in the history
//!    (`history.sqlite3`), which is not compacted;
//! 2. copy the events before that one to the archive ([`Archive`]: every event as JSON
//!    lines, a store's sold and returned lines as CSV), sealed on disk;
//! 3. only then delete them from the journal, and give the space back (SQLite `VACUUM`).
//!
//! Each step is safe to repeat after a crash: a stream's events are deleted only once a
//! snapshot stands for them and their archive segment is sealed; a segment already there
//! is not written twice. It runs with the instance stopped (`magasin compact`): the data
//! directory's lock says none is running.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::domain::{
    CentralEvent, CentralStock, ChainEvent, ChainState, StoreEvent, StoreId, StoreState,
};
use crate::persistence::archive::{Archive, SegmentWriter, dir_size};
use crate::persistence::{
    Backend, DataDirLock, JournalBackend, JournalError, Snapshot, StoredEvent, StoredSnapshot,
    StreamId, codec, recover_stream,
};

/// Events read from the journal at a time.
const PAGE: usize = 10_000;

/// What compaction did to one stream.
#[derive(Debug, Clone)]
pub struct StreamCompaction {
    pub stream: StreamId,
    /// The snapshot that now stands for every event up to it.
    pub snapshot_seq: u64,
    /// Events moved to the archive (0: nothing older than the snapshot was left).
    pub archived: u64,
}

/// What compaction did, and the disk it took before and after.
#[derive(Debug, Clone)]
pub struct Compaction {
    pub streams: Vec<StreamCompaction>,
    pub journal_bytes_before: u64,
    pub journal_bytes_after: u64,
    pub archive_bytes: u64,
    pub took: Duration,
}

impl Compaction {
    pub fn archived(&self) -> u64 {
        self.streams.iter().map(|s| s.archived).sum()
    }
}

fn journal_bytes(data_dir: &Path) -> u64 {
    dir_size(data_dir).saturating_sub(dir_size(&data_dir.join("archive")))
}

/// Compacts every stream of the journal under `data_dir`. Blocking.
pub fn compact(backend: Backend, data_dir: &Path) -> Result<Compaction, JournalError> {
    let started = Instant::now();
    let _lock = DataDirLock::acquire(data_dir)?;
    let journal_bytes_before = journal_bytes(data_dir);
    let journal = crate::persistence::open(backend, data_dir)?;
    let archive = Archive::new(data_dir);
    let mut streams: Vec<StreamId> = journal.last_seqs()?.into_keys().collect();
    streams.sort();
    let mut done = Vec::with_capacity(streams.len());
    for stream in streams {
        let report = if stream == StreamId::chain() {
            compact_stream(
                journal.as_ref(),
                &archive,
                &stream,
                None,
                |s: &mut ChainState, e: ChainEvent| s.apply(&e),
            )?
        } else if let Some(store) = stream.store_id() {
            compact_stream(
                journal.as_ref(),
                &archive,
                &stream,
                Some(store),
                StoreState::apply_owned,
            )?
        } else if stream.product_sku().is_some() {
            compact_stream(
                journal.as_ref(),
                &archive,
                &stream,
                None,
                |s: &mut CentralStock, e: CentralEvent| s.apply(&e),
            )?
        } else {
            return Err(JournalError::Corrupt(format!("unknown stream {stream}")));
        };
        done.push(report);
    }
    journal.reclaim()?;
    journal.close()?;
    Ok(Compaction {
        streams: done,
        journal_bytes_before,
        journal_bytes_after: journal_bytes(data_dir),
        archive_bytes: archive.size(),
        took: started.elapsed(),
    })
}

fn compact_stream<S, E>(
    journal: &dyn JournalBackend,
    archive: &Archive,
    stream: &StreamId,
    store: Option<StoreId>,
    apply: impl FnMut(&mut S, E),
) -> Result<StreamCompaction, JournalError>
where
    S: Snapshot,
    E: codec::Event + ArchivedEvent,
{
    let (state, seq, _) = recover_stream(journal, Some(archive), stream, apply)?;
    // The head the snapshot stands at: its event stays in the journal (the last one).
    let head = journal
        .read_events(stream, seq.saturating_sub(1), 1)?
        .first()
        .filter(|e| e.seq == seq)
        .map_or(crate::persistence::integrity::GENESIS, |e| e.hash);
    journal.commit(
        &[],
        &[StoredSnapshot {
            stream: stream.clone(),
            seq,
            head,
            payload: state.encode_snapshot()?,
        }],
    )?;
    drop(state);
    let first_kept = journal
        .read_events(stream, 0, 1)?
        .first()
        .map_or(seq, |e| e.seq);
    // A crash after sealing a segment and before deleting its events: do not archive them
    // a second time.
    let from = first_kept.max(archive.last_archived(stream)? + 1);
    let mut archived = 0;
    if from < seq {
        let mut segment = archive.segment(stream, from, store)?;
        let mut after = from - 1;
        'pages: loop {
            let page = journal.read_events(stream, after, PAGE)?;
            if page.is_empty() {
                break;
            }
            for stored in page {
                if stored.seq >= seq {
                    break 'pages;
                }
                let event: E = codec::decode_event(&stored.payload)?;
                event.write_to(&mut segment, &stored)?;
                after = stored.seq;
                archived += 1;
            }
        }
        segment.finish()?;
    }
    journal.delete_events_before(stream, seq)?;
    Ok(StreamCompaction {
        stream: stream.clone(),
        snapshot_seq: seq,
        archived,
    })
}

/// How an event goes into its archive segment (a store's also into the sales CSV).
pub trait ArchivedEvent: serde::Serialize + Sized {
    fn write_to(
        &self,
        segment: &mut SegmentWriter,
        stored: &StoredEvent,
    ) -> Result<(), JournalError> {
        segment.push(stored, self)
    }
}

impl ArchivedEvent for StoreEvent {
    fn write_to(
        &self,
        segment: &mut SegmentWriter,
        stored: &StoredEvent,
    ) -> Result<(), JournalError> {
        segment.push_store(stored, self)
    }
}

impl ArchivedEvent for ChainEvent {}

impl ArchivedEvent for CentralEvent {}
