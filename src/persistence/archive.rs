//! What compaction moved out of the journal, kept as files under `<data_dir>/archive/`,
//! one directory per stream (`store-3`, `chain`, `product-EPI-0001`), one segment per
//! compaction:
//!
//! - `events-<first>-<last>.jsonl.gz`: a header line, then one event per line with its
//!   sequence, the typed event as JSON (lossless: the ledgers read it back), and since
//!   format 3 the event's journaled bytes and hash (hexadecimal), so that the hash chain
//!   verifies through the archive (`integrity`).
//! - `sales-<first>-<last>.csv.gz` (store streams): one row per line sold or returned, for
//!   BI tools (`zcat sales-*.csv.gz`).
//!
//! A segment is written under a temporary name, flushed to disk and renamed, then the
//! directory is flushed: after a crash a segment is whole or absent, never half there (a
//! leftover `.partial` file is overwritten by the next compaction).

use super::codec::Event;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::integrity::{GENESIS, Hash};
use super::{JournalError, StoredEvent, StreamId};
use crate::domain::{CentralEvent, ChainEvent, StoreEvent, StoreId};

/// The layout of a segment; a reader refuses another.
/// 3 since the hash chain (each line also holds the event's bytes and hash); 2 since the
/// till (events of `codec::EVENT_VERSION` 2); segments of format 1 hold events in their
/// version-1 layout, read through `codec::Event::V1`.
const FORMAT: u32 = 3;
/// The first format whose lines carry the chain.
const CHAINED: u32 = 3;

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    stream: String,
    first: u64,
}

#[derive(Serialize, Deserialize)]
struct Line<E> {
    seq: u64,
    event: E,
    /// The journaled bytes, hexadecimal (format 3).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    payload: String,
    /// The event's hash, hexadecimal (format 3).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    hash: String,
}

/// One line of a chained segment, as `integrity` checks it.
pub struct ArchivedLine {
    pub seq: u64,
    pub payload: Vec<u8>,
    pub hash: Hash,
    stream: StreamId,
    event: serde_json::Value,
}

impl ArchivedLine {
    /// Whether the line's JSON (what the ledgers read) is what its bytes decode to.
    pub fn payload_matches_event(&self) -> Result<bool, JournalError> {
        fn decoded<E: Event>(payload: &[u8]) -> Result<serde_json::Value, JournalError> {
            let event: E = super::codec::decode_event(payload)?;
            serde_json::to_value(&event).map_err(|e| JournalError::Corrupt(e.to_string()))
        }
        let decoded = if self.stream == StreamId::chain() {
            decoded::<ChainEvent>(&self.payload)
        } else if self.stream.store_id().is_some() {
            decoded::<StoreEvent>(&self.payload)
        } else {
            decoded::<CentralEvent>(&self.payload)
        };
        // Bytes that no longer decode are a change too.
        Ok(decoded.is_ok_and(|event| event == self.event))
    }
}

#[derive(Debug, Clone)]
pub struct Archive {
    dir: PathBuf,
}

/// One archived range of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub first: u64,
    pub last: u64,
    pub path: PathBuf,
}

fn corrupt(path: &Path, what: impl std::fmt::Display) -> JournalError {
    JournalError::Corrupt(format!("archive {}: {what}", path.display()))
}

impl Archive {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("archive"),
        }
    }

    fn stream_dir(&self, stream: &StreamId) -> PathBuf {
        self.dir.join(stream.as_str().replace('/', "-"))
    }

    /// The event segments of `stream`, oldest first.
    pub fn segments(&self, stream: &StreamId) -> Result<Vec<Segment>, JournalError> {
        let dir = self.stream_dir(stream);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut segments = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let Some(range) = name
                .strip_prefix("events-")
                .and_then(|n| n.strip_suffix(".jsonl.gz"))
            else {
                continue;
            };
            let parsed = range
                .split_once('-')
                .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
            let (first, last) = parsed.ok_or_else(|| corrupt(&path, "unexpected file name"))?;
            segments.push(Segment { first, last, path });
        }
        segments.sort_by_key(|s| s.first);
        Ok(segments)
    }

    /// The last archived sequence of `stream` (0: nothing archived).
    pub fn last_archived(&self, stream: &StreamId) -> Result<u64, JournalError> {
        Ok(self.segments(stream)?.last().map_or(0, |s| s.last))
    }

    /// Starts a segment of `stream` from event `first`; with `store`, a sales CSV beside
    /// it. Nothing is visible until [`SegmentWriter::finish`].
    pub fn segment(
        &self,
        stream: &StreamId,
        first: u64,
        store: Option<StoreId>,
    ) -> Result<SegmentWriter, JournalError> {
        let dir = self.stream_dir(stream);
        if !dir.exists() {
            std::fs::create_dir_all(&dir)?;
            // The new directories' entries reach the disk too (a segment sealed in a
            // directory a power cut forgets is lost).
            for made in [&self.dir, self.dir.parent().unwrap_or(&self.dir)] {
                File::open(made)?.sync_all()?;
            }
        }
        // A sales CSV sealed just before a crash, without its events segment: this
        // segment starts at the same event and replaces it (BI tools would count it twice).
        let orphan = format!("sales-{first:020}-");
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with(&orphan) {
                std::fs::remove_file(&path)?;
            }
        }
        let events_partial = dir.join(format!("events-{first:020}.partial"));
        let mut events = gz(&events_partial)?;
        let header = Header {
            format: FORMAT,
            stream: stream.as_str().to_owned(),
            first,
        };
        serde_json::to_writer(&mut events, &header).map_err(std::io::Error::other)?;
        events.write_all(b"\n")?;
        let sales = match store {
            Some(store) => {
                let partial = dir.join(format!("sales-{first:020}.partial"));
                let mut csv = csv::Writer::from_writer(gz(&partial)?);
                csv.write_record(SALES_COLUMNS)
                    .map_err(std::io::Error::other)?;
                Some((csv, partial, store.to_string()))
            }
            None => None,
        };
        Ok(SegmentWriter {
            dir,
            first,
            last: None,
            events,
            events_partial,
            sales,
        })
    }
}

const SALES_COLUMNS: [&str; 11] = [
    "store_id",
    "seq",
    "kind",
    "sale_id",
    "return_id",
    "at",
    "by",
    "sku",
    "quantity",
    "unit_price_cents",
    "amount_cents",
];

type Gz = GzEncoder<BufWriter<File>>;

fn gz(path: &Path) -> Result<Gz, JournalError> {
    Ok(GzEncoder::new(
        BufWriter::new(File::create(path)?),
        Compression::fast(),
    ))
}

/// Flushes a finished file to disk and gives it its final name.
fn seal(out: Gz, partial: &Path, path: &Path) -> Result<(), JournalError> {
    let file = out
        .finish()?
        .into_inner()
        .map_err(|e| JournalError::Io(e.into_error()))?;
    file.sync_all()?;
    std::fs::rename(partial, path)?;
    Ok(())
}

/// One segment being written, event by event (a million events never sit in memory).
pub struct SegmentWriter {
    dir: PathBuf,
    first: u64,
    last: Option<u64>,
    events: Gz,
    events_partial: PathBuf,
    sales: Option<(csv::Writer<Gz>, PathBuf, String)>,
}

impl SegmentWriter {
    /// Appends `stored`, decoded as `event` (consecutive from the segment's first).
    pub fn push<E: Serialize>(
        &mut self,
        stored: &StoredEvent,
        event: &E,
    ) -> Result<(), JournalError> {
        let seq = stored.seq;
        let expected = self.last.map_or(self.first, |last| last + 1);
        if seq != expected {
            return Err(JournalError::Corrupt(format!(
                "archive segment: event {seq} where {expected} was expected"
            )));
        }
        let line = Line {
            seq,
            event,
            payload: hex::encode(&stored.payload),
            hash: hex::encode(stored.hash),
        };
        serde_json::to_writer(&mut self.events, &line).map_err(std::io::Error::other)?;
        self.events.write_all(b"\n")?;
        self.last = Some(seq);
        Ok(())
    }

    /// Appends a store's event, and its sold or returned lines to the sales CSV.
    pub fn push_store(
        &mut self,
        stored: &StoredEvent,
        event: &StoreEvent,
    ) -> Result<(), JournalError> {
        let seq = stored.seq;
        self.push(stored, event)?;
        if let Some((csv, _, store)) = &mut self.sales {
            sales_rows(csv, store, seq, event).map_err(std::io::Error::other)?;
        }
        Ok(())
    }

    /// Seals the segment under its final names; `None` if no event was pushed.
    pub fn finish(self) -> Result<Option<Segment>, JournalError> {
        let Some(last) = self.last else {
            drop(self.events);
            let _ = std::fs::remove_file(&self.events_partial);
            if let Some((csv, partial, _)) = self.sales {
                drop(csv);
                let _ = std::fs::remove_file(partial);
            }
            return Ok(None);
        };
        let name = |kind: &str, ext: &str| {
            self.dir
                .join(format!("{kind}-{:020}-{last:020}.{ext}", self.first))
        };
        if let Some((csv, partial, _)) = self.sales {
            let out = csv
                .into_inner()
                .map_err(|e| JournalError::Io(std::io::Error::other(e.to_string())))?;
            seal(out, &partial, &name("sales", "csv.gz"))?;
        }
        // The events segment last: its presence is what says the range is archived.
        let path = name("events", "jsonl.gz");
        seal(self.events, &self.events_partial, &path)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(Some(Segment {
            first: self.first,
            last,
            path,
        }))
    }
}

fn sales_rows<W: Write>(
    csv: &mut csv::Writer<W>,
    store: &str,
    seq: u64,
    event: &StoreEvent,
) -> Result<(), csv::Error> {
    let seq = seq.to_string();
    match event {
        StoreEvent::SaleRecorded(recorded) => {
            let sale = &recorded.sale;
            let (id, at) = (sale.id.0.to_string(), sale.at.rfc3339());
            for line in &sale.lines {
                csv.write_record([
                    store,
                    &seq,
                    "sale",
                    &id,
                    "",
                    &at,
                    sale.by.as_str(),
                    line.sku.as_str(),
                    &line.quantity.to_string(),
                    &line.unit_price.0.to_string(),
                    &(line.unit_price * line.quantity).0.to_string(),
                ])?;
            }
        }
        StoreEvent::SaleReturned(returned) => {
            let ret = &returned.ret;
            let (sale, id, at) = (
                ret.sale_id.0.to_string(),
                ret.id.0.to_string(),
                ret.at.rfc3339(),
            );
            for line in &ret.lines {
                csv.write_record([
                    store,
                    &seq,
                    "return",
                    &sale,
                    &id,
                    &at,
                    ret.by.as_str(),
                    line.sku.as_str(),
                    &(-i64::from(line.quantity)).to_string(),
                    &line.unit_price.0.to_string(),
                    &(-(line.unit_price * line.quantity).0).to_string(),
                ])?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl Archive {
    /// Archived events of `stream` with `seq > after`, in order, at most `limit`.
    pub fn read<E: Event>(
        &self,
        stream: &StreamId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, E)>, JournalError> {
        let mut found = Vec::new();
        self.each(stream, after, |seq, event| {
            found.push((seq, event));
            Ok(found.len() < limit)
        })?;
        Ok(found)
    }

    /// Calls `each` with every archived event of `stream` after `after`, in order, in one
    /// pass over the segments, until it answers `false`.
    pub fn each<E: Event>(
        &self,
        stream: &StreamId,
        after: u64,
        mut each: impl FnMut(u64, E) -> Result<bool, JournalError>,
    ) -> Result<(), JournalError> {
        for segment in self
            .segments(stream)?
            .into_iter()
            .filter(|s| s.last > after)
        {
            let mut lines = BufReader::new(GzDecoder::new(File::open(&segment.path)?)).lines();
            let header: Header = match lines.next() {
                Some(line) => {
                    serde_json::from_str(&line?).map_err(|e| corrupt(&segment.path, e))?
                }
                None => return Err(corrupt(&segment.path, "empty segment")),
            };
            if !(1..=FORMAT).contains(&header.format) || header.stream != stream.as_str() {
                return Err(corrupt(&segment.path, "another format or stream"));
            }
            for line in lines {
                let line = line?;
                // The sequence first: events at or before `after` are passed over undecoded.
                let seq = serde_json::from_str::<Line<serde::de::IgnoredAny>>(&line)
                    .map_err(|e| corrupt(&segment.path, e))?
                    .seq;
                if seq <= after {
                    continue;
                }
                let event: E = if header.format == 1 {
                    serde_json::from_str::<Line<E::V1>>(&line)
                        .map_err(|e| corrupt(&segment.path, e))?
                        .event
                        .into()
                } else {
                    serde_json::from_str::<Line<E>>(&line)
                        .map_err(|e| corrupt(&segment.path, e))?
                        .event
                };
                if !each(seq, event)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Every stream with an archive.
    pub fn streams(&self) -> Result<Vec<StreamId>, JournalError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut streams = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let Some(first) = self.first_header(&path)? else {
                continue;
            };
            streams.push(StreamId::from_stored(first.stream));
        }
        Ok(streams)
    }

    /// The header of the first segment in a stream's directory, if any.
    fn first_header(&self, dir: &Path) -> Result<Option<Header>, JournalError> {
        if !dir.is_dir() {
            return Ok(None);
        }
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("events-") && n.ends_with(".jsonl.gz"))
            })
            .collect();
        names.sort();
        match names.first() {
            Some(path) => self.header(path).map(Some),
            None => Ok(None),
        }
    }

    fn header(&self, path: &Path) -> Result<Header, JournalError> {
        let mut lines = BufReader::new(GzDecoder::new(File::open(path)?)).lines();
        match lines.next() {
            Some(line) => serde_json::from_str(&line?).map_err(|e| corrupt(path, e)),
            None => Err(corrupt(path, "empty segment")),
        }
    }

    /// Whether the segment's lines carry the hash chain (format 3 and later).
    pub fn chained(&self, segment: &Segment) -> Result<bool, JournalError> {
        Ok(self.header(&segment.path)?.format >= CHAINED)
    }

    /// Calls `each` with every line of a chained `segment` of `stream`, in order, until it
    /// answers `false`.
    pub fn each_line(
        &self,
        stream: &StreamId,
        segment: &Segment,
        mut each: impl FnMut(ArchivedLine) -> Result<bool, JournalError>,
    ) -> Result<(), JournalError> {
        let path = &segment.path;
        let lines = BufReader::new(GzDecoder::new(File::open(path)?)).lines();
        for line in lines.skip(1) {
            let line: Line<serde_json::Value> =
                serde_json::from_str(&line?).map_err(|e| corrupt(path, e))?;
            // Hexadecimal that does not parse is a change, named by its event.
            let payload = hex::decode(&line.payload).unwrap_or_default();
            let hash = hex::decode(&line.hash)
                .ok()
                .and_then(|h| Hash::try_from(h.as_slice()).ok())
                .unwrap_or(GENESIS);
            let archived = ArchivedLine {
                seq: line.seq,
                payload,
                hash,
                stream: stream.clone(),
                event: line.event,
            };
            if !each(archived)? {
                break;
            }
        }
        Ok(())
    }

    /// The hash of archived event `seq` of `stream` (segments with hashes only).
    pub fn hash_of(&self, stream: &StreamId, seq: u64) -> Result<Option<Hash>, JournalError> {
        let mut found = None;
        for segment in self.segments(stream)? {
            if !(segment.first..=segment.last).contains(&seq) || !self.chained(&segment)? {
                continue;
            }
            self.each_line(stream, &segment, |line| {
                if line.seq == seq {
                    found = Some(line.hash);
                }
                Ok(line.seq < seq)
            })?;
        }
        Ok(found)
    }

    /// Every byte the archive holds.
    pub fn size(&self) -> u64 {
        dir_size(&self.dir)
    }
}

/// The bytes under `path` (a file or a directory tree); 0 if absent.
pub fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| dir_size(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}
