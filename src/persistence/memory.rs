//! A journal kept in memory: the same contract as the durable backends except that nothing
//! survives the process. It exists to measure what an actor costs without a disk
//! (benchmarks) and is never offered as a configured backend.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::integrity::Hash;
use super::{JournalBackend, JournalError, StoredEvent, StoredSnapshot, StreamId};

#[derive(Default)]
struct Streams {
    events: HashMap<StreamId, BTreeMap<u64, (Hash, Vec<u8>)>>,
    snapshots: HashMap<StreamId, StoredSnapshot>,
}

#[derive(Default)]
pub struct MemoryJournal {
    streams: Mutex<Streams>,
}

impl MemoryJournal {
    fn streams(&self) -> std::sync::MutexGuard<'_, Streams> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl JournalBackend for MemoryJournal {
    fn commit(
        &self,
        events: &[StoredEvent],
        snapshots: &[StoredSnapshot],
    ) -> Result<(), JournalError> {
        let mut streams = self.streams();
        // All or nothing, like the durable backends: refuse a taken position before
        // writing any of the batch.
        for event in events {
            let taken = streams
                .events
                .get(&event.stream)
                .is_some_and(|stream| stream.contains_key(&event.seq));
            if taken {
                return Err(JournalError::Corrupt(format!(
                    "{} already has event {}",
                    event.stream, event.seq
                )));
            }
        }
        for event in events {
            streams
                .events
                .entry(event.stream.clone())
                .or_default()
                .insert(event.seq, (event.hash, event.payload.clone()));
        }
        for snapshot in snapshots {
            streams
                .snapshots
                .insert(snapshot.stream.clone(), snapshot.clone());
        }
        Ok(())
    }

    fn read_events(
        &self,
        stream: &StreamId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, JournalError> {
        let streams = self.streams();
        let Some(events) = streams.events.get(stream) else {
            return Ok(Vec::new());
        };
        Ok(events
            .range(after.saturating_add(1)..)
            .take(limit)
            .map(|(seq, (hash, payload))| StoredEvent {
                stream: stream.clone(),
                seq: *seq,
                hash: *hash,
                payload: payload.clone(),
            })
            .collect())
    }

    fn latest_snapshot(&self, stream: &StreamId) -> Result<Option<StoredSnapshot>, JournalError> {
        Ok(self.streams().snapshots.get(stream).cloned())
    }

    fn delete_events_before(&self, stream: &StreamId, before: u64) -> Result<u64, JournalError> {
        let mut streams = self.streams();
        let Some(events) = streams.events.get_mut(stream) else {
            return Ok(0);
        };
        let kept = events.split_off(&before);
        let deleted = events.len() as u64;
        *events = kept;
        Ok(deleted)
    }

    fn last_seqs(&self) -> Result<HashMap<StreamId, u64>, JournalError> {
        Ok(self
            .streams()
            .events
            .iter()
            .filter_map(|(stream, events)| {
                events
                    .last_key_value()
                    .map(|(seq, _)| (stream.clone(), *seq))
            })
            .collect())
    }
}
