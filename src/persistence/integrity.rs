//! The hash chain of every stream (ADR 0027): each event's hash is SHA-256 over the hash of
//! the event before it, the stream's name, the event's sequence number and the event's
//! bytes as they were journaled (a format-version byte, then the encoding of that
//! version). The bytes are never re-encoded: a later version reads them through its
//! decoder for that version, and the chain still verifies. No database row id is hashed,
//! so a copy of a journal into another backend or a format migration leaves it whole.
//!
//! Snapshots carry the head (the hash of the event they stand at); compaction moves events
//! to the archive with their bytes and hashes, so the chain verifies from the first event
//! ever written. [`verify_stream`] walks the archive then the journal and names the first
//! sequence number where the chain breaks: an event whose bytes do not match its hash
//! (changed, or two events swapped: the sequence number is hashed), a sequence number
//! missing, or a snapshot whose head is not its event's hash.

use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Read;

use super::archive::{Archive, ArchivedLine};
use super::{JournalBackend, JournalError, StreamId};

/// A link of the chain.
pub type Hash = [u8; 32];

/// The hash before a stream's first event.
pub const GENESIS: Hash = [0; 32];

/// Names this construction inside every hash, so that a later one cannot be confused with it.
const DOMAIN: &[u8] = b"magasin/chain/1";
/// What stands for archive segments written before events had hashes (formats 1 and 2):
/// their files' bytes, bound into the chain when this version first opened the journal.
const SEALED_ARCHIVE: &[u8] = b"magasin/archive-before-chain/1";

/// The hash of event `seq` of `stream`, whose journaled bytes are `payload`, after `prev`.
pub fn link(prev: &Hash, stream: &StreamId, seq: u64, payload: &[u8]) -> Hash {
    let name = stream.as_str().as_bytes();
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(prev);
    hasher.update((name.len() as u64).to_be_bytes());
    hasher.update(name);
    hasher.update(seq.to_be_bytes());
    hasher.update(payload);
    hasher.finalize().into()
}

/// The chain after an archive segment written before hashes, from the file's bytes.
fn link_sealed_segment(prev: &Hash, file: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(SEALED_ARCHIVE);
    hasher.update(prev);
    hasher.update(file);
    hasher.finalize().into()
}

/// Where a stream's chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The event's bytes (or, in the archive, its JSON) are not what its hash says.
    Changed,
    /// No event has this sequence number; the next one does.
    Missing,
    /// The snapshot at this sequence number names another head.
    Snapshot,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Break::Changed => "its content does not match its hash (changed, or moved)",
            Break::Missing => "it is missing",
            Break::Snapshot => "the snapshot there names another head",
        })
    }
}

/// What verifying one stream found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub stream: StreamId,
    /// Events whose hash was checked (archive and journal).
    pub checked: u64,
    /// The hash of the last event checked.
    pub head: Hash,
    /// The first sequence number where the chain breaks, and how.
    pub broken: Option<(u64, Break)>,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.broken {
            None => write!(
                f,
                "{}: {} events checked, head {}",
                self.stream,
                self.checked,
                hex::encode(self.head)
            ),
            Some((seq, why)) => write!(
                f,
                "{}: the chain breaks at event {seq}: {why} ({} events checked before)",
                self.stream, self.checked
            ),
        }
    }
}

/// A walk along one stream's chain.
struct Walk {
    verified: Verified,
    next: u64,
}

impl Walk {
    fn new(stream: &StreamId) -> Self {
        Self {
            verified: Verified {
                stream: stream.clone(),
                checked: 0,
                head: GENESIS,
                broken: None,
            },
            next: 1,
        }
    }

    fn broken(&self) -> bool {
        self.verified.broken.is_some()
    }

    fn fail(&mut self, seq: u64, why: Break) {
        self.verified.broken.get_or_insert((seq, why));
    }

    /// Checks event `seq` with these bytes and stored hash; false once broken.
    fn step(&mut self, seq: u64, payload: &[u8], stored: &Hash) -> bool {
        if seq != self.next {
            self.fail(self.next.min(seq), Break::Missing);
            return false;
        }
        let expected = link(&self.verified.head, &self.verified.stream, seq, payload);
        if expected != *stored {
            self.fail(seq, Break::Changed);
            return false;
        }
        self.verified.head = expected;
        self.verified.checked += 1;
        self.next = seq + 1;
        true
    }
}

/// Events read from the journal at a time.
const PAGE: usize = 10_000;

/// Verifies `stream` from its first event ever written: the archive's segments, then the
/// journal, then its snapshot's head.
pub fn verify_stream(
    journal: &dyn JournalBackend,
    archive: Option<&Archive>,
    stream: &StreamId,
) -> Result<Verified, JournalError> {
    let mut walk = Walk::new(stream);
    if let Some(archive) = archive {
        walk_archive(archive, stream, &mut walk)?;
    }
    let mut after = walk.next - 1;
    while !walk.broken() {
        let page = journal.read_events(stream, after, PAGE)?;
        let Some(last) = page.last().map(|e| e.seq) else {
            break;
        };
        for event in &page {
            if !walk.step(event.seq, &event.payload, &event.hash) {
                break;
            }
        }
        after = last;
    }
    if !walk.broken()
        && let Some(snapshot) = journal.latest_snapshot(stream)?
        && snapshot.head != GENESIS
    {
        let event = journal.read_events(stream, snapshot.seq.saturating_sub(1), 1)?;
        let known = event.first().filter(|e| e.seq == snapshot.seq);
        if known.is_some_and(|e| e.hash != snapshot.head) {
            walk.fail(snapshot.seq, Break::Snapshot);
        }
    }
    Ok(walk.verified)
}

/// Every stream of the journal and of the archive, verified in order of name.
pub fn verify_all(
    journal: &dyn JournalBackend,
    archive: &Archive,
) -> Result<Vec<Verified>, JournalError> {
    let mut streams: Vec<StreamId> = journal.last_seqs()?.into_keys().collect();
    for stream in archive.streams()? {
        if !streams.contains(&stream) {
            streams.push(stream);
        }
    }
    streams.sort();
    streams
        .iter()
        .map(|stream| verify_stream(journal, Some(archive), stream))
        .collect()
}

/// Walks the archived events of `stream`: segments with hashes event by event, older ones
/// by their file's bytes (and their sequence numbers).
fn walk_archive(archive: &Archive, stream: &StreamId, walk: &mut Walk) -> Result<(), JournalError> {
    for segment in archive.segments(stream)? {
        if walk.broken() {
            break;
        }
        if segment.first != walk.next {
            walk.fail(walk.next, Break::Missing);
            break;
        }
        if archive.chained(&segment)? {
            archive.each_line(stream, &segment, |line: ArchivedLine| {
                let matches = line.payload_matches_event()?;
                if !matches {
                    walk.fail(line.seq, Break::Changed);
                    return Ok(false);
                }
                Ok(walk.step(line.seq, &line.payload, &line.hash))
            })?;
        } else {
            let mut file = Vec::new();
            std::fs::File::open(&segment.path)?.read_to_end(&mut file)?;
            walk.verified.head = link_sealed_segment(&walk.verified.head, &file);
            walk.verified.checked += segment.last - segment.first + 1;
            walk.next = segment.last + 1;
        }
    }
    Ok(())
}

/// Gives a hash to every event journaled before events had one (a journal written by an
/// earlier version), from the first event ever written, and a head to every snapshot.
/// Runs once, when this version first opens the journal; answers how many events it
/// sealed.
pub fn seal_unhashed(journal: &dyn JournalBackend, archive: &Archive) -> Result<u64, JournalError> {
    if journal.sealed()? {
        return Ok(0);
    }
    let mut sealed = 0;
    for stream in journal.last_seqs()?.into_keys() {
        let mut walk = Walk::new(&stream);
        walk_archive(archive, &stream, &mut walk)?;
        let mut after = walk.next - 1;
        let snapshot = journal.latest_snapshot(&stream)?;
        let mut snapshot_head = None;
        loop {
            let page = journal.read_events(&stream, after, PAGE)?;
            let Some(last) = page.last().map(|e| e.seq) else {
                break;
            };
            let mut hashes = Vec::with_capacity(page.len());
            for event in &page {
                let hash = link(&walk.verified.head, &stream, event.seq, &event.payload);
                walk.verified.head = hash;
                hashes.push((event.seq, hash));
                if snapshot.as_ref().is_some_and(|s| s.seq == event.seq) {
                    snapshot_head = Some((event.seq, hash));
                }
            }
            sealed += hashes.len() as u64;
            journal.set_hashes(&stream, &hashes)?;
            after = last;
        }
        if let Some((seq, head)) = snapshot_head {
            journal.set_snapshot_head(&stream, seq, head)?;
        }
    }
    journal.mark_sealed()?;
    Ok(sealed)
}

/// Verifies every stream of the stopped instance at `data_dir` (its lock held meanwhile).
pub fn verify_data_dir(
    backend: super::Backend,
    data_dir: &std::path::Path,
) -> Result<Vec<Verified>, JournalError> {
    let _lock = super::DataDirLock::acquire(data_dir)?;
    let journal = super::open(backend, data_dir)?;
    let verified = verify_all(journal.as_ref(), &Archive::new(data_dir));
    journal.close()?;
    verified
}
