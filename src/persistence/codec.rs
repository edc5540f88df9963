//! The one binary format of the journal and the snapshots: a format-version byte, then
//! bincode (standard configuration) of the value.
//!
//! bincode is not self-describing: it writes fields in order with no names and enum
//! variants by position, so a reader must know the exact layout a record was written
//! with. The rule (ADR 0019): any change to the layout of a stored type, a field added
//! at the end included, is a new version byte for that kind of record, and a decoder per
//! version that this build still reads (old layouts live in `domain::legacy`), with a
//! fixture of every past version under `tests/fixtures/` decoded by the tests. An
//! unknown version is an error, never a silent reset.

use serde::{Serialize, de::DeserializeOwned};

use crate::domain::legacy::{ChainEventV1, StoreEventV1};
use crate::domain::{CentralEvent, ChainEvent, StoreEvent};

/// Version of the records whose layout has not changed since the first: the history's own
/// bodies (the history is a read model rebuilt whole when its schema version changes).
pub const FORMAT_VERSION: u8 = 1;
/// Version of a product's snapshot (central stock): 3 since it holds the average cost and
/// the units written off on arrival (2: units missing at stores' receipts and lost in
/// transit; 1 held neither; both still read).
pub const CENTRAL_SNAPSHOT_VERSION: u8 = 3;
/// Version of the events of every stream: 2 since the till (sales with taxes and tenders,
/// products with a tax class, stores in a jurisdiction, till sessions). Version 1 events
/// are read through `domain::legacy`.
pub const EVENT_VERSION: u8 = 2;
/// Version of the chain's snapshot: 4 since it holds suppliers and purchase orders (3:
/// users' token generations and the log of user changes; 2: jurisdictions and tax
/// classes).
pub const CHAIN_SNAPSHOT_VERSION: u8 = 4;
/// Version of a store's snapshot: 4 since it holds its transfers between stores (3 held
/// none, 2 held no till, 1 held every sale not yet let go; `persistence::snapshot` still
/// reads them all).
pub const STORE_SNAPSHOT_VERSION: u8 = 4;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty record")]
    Empty,
    #[error(
        "{record} format version {found} is not supported by this build (it reads {reads}): \
         was the data directory written by a newer version?"
    )]
    UnknownVersion {
        record: &'static str,
        found: u8,
        reads: &'static str,
    },
    #[error("cannot encode a record: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    #[error("corrupt record: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    #[error("corrupt record: {0} trailing bytes")]
    Trailing(usize),
}

/// Encodes a record of [`FORMAT_VERSION`].
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_as(FORMAT_VERSION, value)
}

/// Encodes `value` behind the version byte of its kind of record.
pub fn encode_as<T: Serialize>(version: u8, value: &T) -> Result<Vec<u8>, CodecError> {
    let mut bytes = vec![version];
    bincode::serde::encode_into_std_write(value, &mut bytes, bincode::config::standard())?;
    Ok(bytes)
}

/// Decodes a record of [`FORMAT_VERSION`]; any other version is refused.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match split(bytes)? {
        (FORMAT_VERSION, body) => decode_body(body),
        (found, _) => Err(CodecError::UnknownVersion {
            record: "record",
            found,
            reads: "version 1",
        }),
    }
}

/// A record's version byte and the body after it, for a decoder that reads several.
pub fn split(bytes: &[u8]) -> Result<(u8, &[u8]), CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    Ok((version, body))
}

/// Decodes a body (after its version byte) in the layout the caller knows it has; every
/// byte must be read.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    let (value, read) = bincode::serde::decode_from_slice(body, bincode::config::standard())?;
    if read != body.len() {
        return Err(CodecError::Trailing(body.len() - read));
    }
    Ok(value)
}

/// The events of a stream, with the layout of version 1 this build still reads (in the
/// journal, and in the archive's segments of format 1).
pub trait Event: Serialize + DeserializeOwned {
    /// The layout version 1 wrote, converted to the current one.
    type V1: DeserializeOwned + Into<Self>;
}

/// Encodes an event of [`EVENT_VERSION`].
pub fn encode_event<E: Event>(event: &E) -> Result<Vec<u8>, CodecError> {
    encode_as(EVENT_VERSION, event)
}

/// Decodes an event of any version this build reads, converted to the current layout.
pub fn decode_event<E: Event>(bytes: &[u8]) -> Result<E, CodecError> {
    match split(bytes)? {
        (EVENT_VERSION, body) => decode_body(body),
        (1, body) => decode_body::<E::V1>(body).map(Into::into),
        (found, _) => Err(CodecError::UnknownVersion {
            record: "event",
            found,
            reads: "versions 1 and 2",
        }),
    }
}

impl Event for StoreEvent {
    type V1 = StoreEventV1;
}

impl Event for ChainEvent {
    type V1 = ChainEventV1;
}

impl Event for CentralEvent {
    /// Unchanged since version 1.
    type V1 = CentralEvent;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Cents, Sku, StockLevelsSet};

    #[test]
    fn round_trips_an_event() {
        let event = StoreEvent::StockLevelsSet(StockLevelsSet {
            sku: Sku::parse("EPI-0001").expect("valid sku"),
            reorder_point: 3,
            target_level: 12,
        });
        let bytes = encode_event(&event).expect("encodes");
        assert_eq!(bytes[0], EVENT_VERSION);
        assert_eq!(decode_event::<StoreEvent>(&bytes).expect("decodes"), event);
        let mut unknown = bytes.clone();
        unknown[0] = 9;
        assert!(matches!(
            decode_event::<StoreEvent>(&unknown),
            Err(CodecError::UnknownVersion { found: 9, .. })
        ));
        assert_eq!(
            decode::<Cents>(&encode(&Cents(-42)).expect("encodes")).expect("decodes"),
            Cents(-42)
        );
    }

    #[test]
    fn an_unknown_version_is_an_error_not_a_default() {
        let mut bytes = encode(&Cents(5)).expect("encodes");
        bytes[0] = 99;
        assert!(matches!(
            decode::<Cents>(&bytes),
            Err(CodecError::UnknownVersion { found: 99, .. })
        ));
        assert!(matches!(decode::<Cents>(&[]), Err(CodecError::Empty)));
    }

    #[test]
    fn trailing_garbage_is_corruption() {
        let mut bytes = encode(&Cents(5)).expect("encodes");
        bytes.push(0);
        assert!(matches!(
            decode::<Cents>(&bytes),
            Err(CodecError::Trailing(1))
        ));
    }
}
