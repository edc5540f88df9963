//! How each kind of state is written as a snapshot, and read back from every layout this
//! build knows (one decoder per version: see `codec`).
//!
//! Not to break: a version byte this build does not know is an error that stops start-up,
//! never a state rebuilt from nothing.

use super::codec::{
    self, CENTRAL_SNAPSHOT_VERSION, CHAIN_SNAPSHOT_VERSION, CodecError, STORE_SNAPSHOT_VERSION,
};
use crate::domain::legacy::{
    CentralStockV1, CentralStockV2, ChainStateV1, ChainStateV2, ChainStateV3, StoreStateV1,
    StoreStateV2, StoreStateV3,
};
use crate::domain::{CentralStock, ChainState, StoreState};

/// A state a stream's snapshot holds.
pub trait Snapshot: Default + Sized {
    fn encode_snapshot(&self) -> Result<Vec<u8>, CodecError>;
    fn decode_snapshot(bytes: &[u8]) -> Result<Self, CodecError>;
}

fn unknown(record: &'static str, found: u8, reads: &'static str) -> CodecError {
    CodecError::UnknownVersion {
        record,
        found,
        reads,
    }
}

impl Snapshot for ChainState {
    fn encode_snapshot(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode_as(CHAIN_SNAPSHOT_VERSION, self)
    }

    /// Version 4 as it is; 3 (no purchasing), 2 (no user log) and 1 (no jurisdiction, no
    /// tax class) through `legacy`.
    fn decode_snapshot(bytes: &[u8]) -> Result<Self, CodecError> {
        match codec::split(bytes)? {
            (CHAIN_SNAPSHOT_VERSION, body) => codec::decode_body(body),
            (3, body) => Ok(codec::decode_body::<ChainStateV3>(body)?.into()),
            (2, body) => Ok(codec::decode_body::<ChainStateV2>(body)?.into()),
            (1, body) => Ok(codec::decode_body::<ChainStateV1>(body)?.into()),
            (found, _) => Err(unknown("chain snapshot", found, "versions 1 to 4")),
        }
    }
}

impl Snapshot for CentralStock {
    fn encode_snapshot(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode_as(CENTRAL_SNAPSHOT_VERSION, self)
    }

    /// Version 3 as it is; 2 (no cost) and 1 (no missing or lost units) through `legacy`.
    fn decode_snapshot(bytes: &[u8]) -> Result<Self, CodecError> {
        match codec::split(bytes)? {
            (CENTRAL_SNAPSHOT_VERSION, body) => codec::decode_body(body),
            (2, body) => Ok(codec::decode_body::<CentralStockV2>(body)?.into()),
            (1, body) => Ok(codec::decode_body::<CentralStockV1>(body)?.into()),
            (found, _) => Err(unknown("central stock snapshot", found, "versions 1 to 3")),
        }
    }
}

impl Snapshot for StoreState {
    fn encode_snapshot(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode_as(STORE_SNAPSHOT_VERSION, self)
    }

    /// Version 4 as it is; version 3 (no transfer), 2 (no till) and 1 (every sale held)
    /// converted.
    fn decode_snapshot(bytes: &[u8]) -> Result<Self, CodecError> {
        match codec::split(bytes)? {
            (STORE_SNAPSHOT_VERSION, body) => codec::decode_body(body),
            (3, body) => Ok(StoreState::from_v3(codec::decode_body::<StoreStateV3>(
                body,
            )?)),
            (2, body) => Ok(StoreState::from_v2(codec::decode_body::<StoreStateV2>(
                body,
            )?)),
            (1, body) => Ok(StoreState::from_v1(codec::decode_body::<StoreStateV1>(
                body,
            )?)),
            (found, _) => Err(unknown("store snapshot", found, "versions 1 to 4")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Sku, StockLevelsSet, StoreEvent};

    #[test]
    fn a_store_snapshot_round_trips_in_the_current_version() {
        let mut state = StoreState::default();
        state.apply(&StoreEvent::StockLevelsSet(StockLevelsSet {
            sku: Sku::parse("EPI-0001").expect("valid sku"),
            reorder_point: 3,
            target_level: 9,
        }));
        let bytes = state.encode_snapshot().expect("encodes");
        assert_eq!(bytes[0], STORE_SNAPSHOT_VERSION);
        assert_eq!(StoreState::decode_snapshot(&bytes).expect("decodes"), state);
    }

    /// Version 3's layout, field for field: what the previous release wrote.
    #[derive(serde::Serialize)]
    struct StoreStateV3Layout {
        stock: std::collections::BTreeMap<Sku, crate::domain::StockLine>,
        restocks: std::collections::BTreeMap<u64, crate::domain::RestockRequest>,
        last_sale: u64,
        last_return: u64,
        last_adjustment: u64,
        tills: std::collections::BTreeMap<crate::domain::TillNumber, crate::domain::TillState>,
        last_session: u64,
        last_z: u64,
    }

    #[test]
    fn a_version_3_store_snapshot_reads_with_no_transfer() {
        let mut current = StoreState::default();
        current.apply(&StoreEvent::StockLevelsSet(StockLevelsSet {
            sku: Sku::parse("EPI-0001").expect("valid sku"),
            reorder_point: 3,
            target_level: 9,
        }));
        let old = StoreStateV3Layout {
            stock: current
                .stock_lines()
                .map(|(sku, line)| (sku.clone(), *line))
                .collect(),
            restocks: std::collections::BTreeMap::new(),
            last_sale: 0,
            last_return: 0,
            last_adjustment: 0,
            tills: std::collections::BTreeMap::new(),
            last_session: 0,
            last_z: 0,
        };
        let bytes = codec::encode_as(3, &old).expect("encodes");
        let read = StoreState::decode_snapshot(&bytes).expect("a version 3 snapshot");
        assert_eq!(read, current);
        assert_eq!(read.transfers().outgoing().count(), 0);
    }

    #[test]
    fn an_unknown_snapshot_version_is_refused() {
        let mut bytes = StoreState::default().encode_snapshot().expect("encodes");
        bytes[0] = STORE_SNAPSHOT_VERSION + 1;
        assert!(matches!(
            StoreState::decode_snapshot(&bytes),
            Err(CodecError::UnknownVersion { found, .. }) if found == STORE_SNAPSHOT_VERSION + 1
        ));
        let mut chain = ChainState::default().encode_snapshot().expect("encodes");
        chain[0] = CHAIN_SNAPSHOT_VERSION + 1;
        assert!(ChainState::decode_snapshot(&chain).is_err());
    }
}
