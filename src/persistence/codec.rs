//! The one binary format of the journal and the snapshots: a format-version byte, then
//! bincode (standard configuration) of the value.
//!
//! bincode writes enum variants by position: add new variants and fields at the end only,
//! or bump [`FORMAT_VERSION`] and teach [`decode`] the old one. An unknown version is an
//! error, never a silent reset.

use serde::{Serialize, de::DeserializeOwned};

/// Version of the records this build writes.
pub const FORMAT_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty record")]
    Empty,
    #[error(
        "record format version {found} is not supported by this build (it reads version {FORMAT_VERSION})"
    )]
    UnknownVersion { found: u8 },
    #[error("cannot encode a record: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    #[error("corrupt record: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    #[error("corrupt record: {0} trailing bytes")]
    Trailing(usize),
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut bytes = vec![FORMAT_VERSION];
    bincode::serde::encode_into_std_write(value, &mut bytes, bincode::config::standard())?;
    Ok(bytes)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::UnknownVersion { found: version });
    }
    let (value, read) = bincode::serde::decode_from_slice(body, bincode::config::standard())?;
    if read != body.len() {
        return Err(CodecError::Trailing(body.len() - read));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Cents, Sku, StockLevelsSet, StoreEvent};

    #[test]
    fn round_trips_an_event() {
        let event = StoreEvent::StockLevelsSet(StockLevelsSet {
            sku: Sku::parse("EPI-0001").expect("valid sku"),
            reorder_point: 3,
            target_level: 12,
        });
        let bytes = encode(&event).expect("encodes");
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(decode::<StoreEvent>(&bytes).expect("decodes"), event);
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
            Err(CodecError::UnknownVersion { found: 99 })
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
