//! Layouts of records that this version no longer writes but must still read: a decoder
//! per format version (see `persistence::codec`). Never change a struct here: it is what
//! an older version wrote, byte for byte (bincode is not self-describing: the field order
//! and types are the format). Fixtures of each are in `tests/fixtures/`.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

use super::store::KeyDigest;
use super::{
    Adjustment, AdjustmentId, Fingerprint, Outcome, RestockRequest, Return, ReturnId, Sale, SaleId,
    SalesHistory, Sku, StockLine,
};

/// A store's snapshot in format version 1: the whole state, every sale it still held
/// included. Read by [`super::StoreState::from_v1`].
#[derive(Debug, Deserialize)]
pub struct StoreStateV1 {
    pub stock: BTreeMap<Sku, StockLine>,
    pub sales: BTreeMap<SaleId, Sale>,
    pub sale_returns: BTreeMap<SaleId, Vec<ReturnId>>,
    pub returns: BTreeMap<ReturnId, Return>,
    pub adjustments: BTreeMap<AdjustmentId, Adjustment>,
    pub restocks: BTreeMap<u64, RestockRequest>,
    /// Read to get past it: these digests carry no time, and the history, rebuilt from
    /// the journal at the upgrade, has every key with its time.
    _keys: HashMap<KeyDigest, (Fingerprint, Outcome)>,
    pub history: SalesHistory,
}
