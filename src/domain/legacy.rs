//! Layouts of records that this version no longer writes but must still read: a decoder
//! per format version (see `persistence::codec`). Never change a struct here: it is what
//! an older version wrote, byte for byte (bincode is not self-describing: the field order
//! and types are the format). Fixtures of each are in `tests/fixtures/`.
//!
//! Version 1 is every record before the till (sales without taxes or tenders, products
//! without a tax class, stores without a jurisdiction); version 2 is a store's snapshot
//! without its tills.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

use super::store::KeyDigest;
use super::{
    Adjustment, AdjustmentId, Cents, ChainEvent, ChainState, Ean13, Fingerprint, Jurisdiction,
    KeyUse, Outcome, Product, RestockRequest, RestockRequested, RestockStepDone, Return, ReturnId,
    ReturnedLine, Sale, SaleId, SaleRecorded, SaleReturned, SalesHistory, Sku, SoldLine,
    StockAdjusted, StockLevelsSet, StockLine, Store, StoreEvent, StoreId, TaxClass, TaxCode,
    Tender, TenderKind, Timestamp, User, Username,
};

/// A store's snapshot in format version 3: its tills, and no transfer between stores.
#[derive(Debug, Deserialize)]
pub struct StoreStateV3 {
    pub stock: BTreeMap<Sku, StockLine>,
    pub restocks: BTreeMap<u64, RestockRequest>,
    pub last_sale: u64,
    pub last_return: u64,
    pub last_adjustment: u64,
    pub tills: BTreeMap<super::TillNumber, super::store::TillState>,
    pub last_session: u64,
    pub last_z: u64,
}

/// A product's central stock in snapshot version 1 (before missing and lost units); its
/// fields are the central stock's own, so it lives beside it and is named here.
pub use super::restock::{CentralStockV1, CentralStockV2};

/// What a store that was upgraded from version 1 is, until head office says otherwise:
/// in Quebec, with two tills and the default approval threshold (ADR 0023).
pub const UPGRADED_JURISDICTION: &str = "QC";
pub const UPGRADED_TIME_ZONE: &str = "America/Toronto";
pub const DEFAULT_TILLS: u8 = 2;
pub const DEFAULT_APPROVAL_PERCENT: u8 = 20;

/// A store's snapshot in format version 1: the whole state, every sale it still held
/// included. Read by [`super::StoreState::from_v1`].
/// A stock line of versions 1 and 2 of a store's snapshot: no count asked.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct StockLineV1 {
    pub on_hand: u32,
    pub reorder_point: u32,
    pub target_level: u32,
}

impl From<StockLineV1> for StockLine {
    fn from(old: StockLineV1) -> Self {
        StockLine {
            on_hand: old.on_hand,
            reorder_point: old.reorder_point,
            target_level: old.target_level,
            to_count: false,
        }
    }
}

/// The stock lines of an older snapshot, in the current layout.
pub fn stock_lines(old: BTreeMap<Sku, StockLineV1>) -> BTreeMap<Sku, StockLine> {
    old.into_iter()
        .map(|(sku, line)| (sku, line.into()))
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct StoreStateV1 {
    pub stock: BTreeMap<Sku, StockLineV1>,
    pub sales: BTreeMap<SaleId, SaleV1>,
    pub sale_returns: BTreeMap<SaleId, Vec<ReturnId>>,
    pub returns: BTreeMap<ReturnId, ReturnV1>,
    pub adjustments: BTreeMap<AdjustmentId, Adjustment>,
    pub restocks: BTreeMap<u64, RestockRequest>,
    /// Read to get past it: these digests carry no time, and the history, rebuilt from
    /// the journal at the upgrade, has every key with its time.
    _keys: HashMap<KeyDigest, (Fingerprint, Outcome)>,
    pub history: SalesHistory,
}

/// A store's snapshot in format version 2: no sale, no till. Read by
/// [`super::StoreState::from_v2`].
#[derive(Debug, Deserialize)]
pub struct StoreStateV2 {
    pub stock: BTreeMap<Sku, StockLineV1>,
    pub restocks: BTreeMap<u64, RestockRequest>,
    pub last_sale: u64,
    pub last_return: u64,
    pub last_adjustment: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SoldLineV1 {
    pub sku: Sku,
    pub quantity: u32,
    pub unit_price: Cents,
    pub on_hand_after: u32,
}

/// A sale of version 1: catalog prices, no tax, no tender.
#[derive(Debug, Clone, Deserialize)]
pub struct SaleV1 {
    pub id: SaleId,
    pub lines: Vec<SoldLineV1>,
    pub total: Cents,
    pub at: Timestamp,
    pub by: Username,
}

fn paid_by_other(amount: Cents) -> Vec<Tender> {
    vec![Tender {
        kind: TenderKind::Other,
        amount,
        given: amount,
        reference: None,
    }]
}

impl From<SaleV1> for Sale {
    /// Taxes were not collected then: none is invented. The sale was paid outside a till.
    fn from(old: SaleV1) -> Self {
        let lines = old
            .lines
            .into_iter()
            .map(|l| SoldLine::untaxed(l.sku, l.quantity, l.unit_price, l.on_hand_after))
            .collect();
        Sale::untaxed(old.id, lines, old.at, old.by)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReturnedLineV1 {
    pub sku: Sku,
    pub quantity: u32,
    pub unit_price: Cents,
    pub on_hand_after: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReturnV1 {
    pub id: ReturnId,
    pub sale_id: SaleId,
    pub lines: Vec<ReturnedLineV1>,
    pub refund: Cents,
    pub reason: Option<String>,
    pub at: Timestamp,
    pub by: Username,
}

impl From<ReturnV1> for Return {
    fn from(old: ReturnV1) -> Self {
        Return {
            id: old.id,
            sale_id: old.sale_id,
            lines: old
                .lines
                .into_iter()
                .map(|l| ReturnedLine {
                    net: l.unit_price * l.quantity,
                    sku: l.sku,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    tax_class: TaxClass::Taxable,
                    taxes: Vec::new(),
                    on_hand_after: l.on_hand_after,
                })
                .collect(),
            subtotal: old.refund,
            taxes: Vec::new(),
            refund: old.refund,
            cash_rounding: Cents(0),
            tenders: paid_by_other(old.refund),
            till: None,
            reason: old.reason,
            at: old.at,
            by: old.by,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SaleRecordedV1 {
    pub sale: SaleV1,
    pub key: Option<KeyUse>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SaleReturnedV1 {
    pub ret: ReturnV1,
    pub key: Option<KeyUse>,
}

/// A store's event in format version 1, variants in their order of then.
#[derive(Debug, Clone, Deserialize)]
pub enum StoreEventV1 {
    SaleRecorded(SaleRecordedV1),
    SaleReturned(SaleReturnedV1),
    StockAdjusted(StockAdjusted),
    StockLevelsSet(StockLevelsSet),
    RestockRequested(RestockRequested),
    RestockStep(RestockStepDone),
    SalesLetGo { before: Timestamp },
}

impl From<StoreEventV1> for StoreEvent {
    fn from(old: StoreEventV1) -> Self {
        match old {
            StoreEventV1::SaleRecorded(e) => StoreEvent::SaleRecorded(SaleRecorded {
                sale: e.sale.into(),
                key: e.key,
            }),
            StoreEventV1::SaleReturned(e) => StoreEvent::SaleReturned(SaleReturned {
                ret: e.ret.into(),
                key: e.key,
            }),
            StoreEventV1::StockAdjusted(e) => StoreEvent::StockAdjusted(e),
            StoreEventV1::StockLevelsSet(e) => StoreEvent::StockLevelsSet(e),
            StoreEventV1::RestockRequested(e) => StoreEvent::RestockRequested(e),
            StoreEventV1::RestockStep(e) => StoreEvent::RestockStep(e),
            StoreEventV1::SalesLetGo { before } => StoreEvent::SalesLetGo { before },
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProductV1 {
    pub sku: Sku,
    pub ean13: Ean13,
    pub name: String,
    pub category: String,
    pub price: Cents,
}

impl From<ProductV1> for Product {
    /// The documented migration: a product of version 1 is taxable until head office
    /// classes it otherwise.
    fn from(old: ProductV1) -> Self {
        Product {
            sku: old.sku,
            ean13: old.ean13,
            name: old.name,
            category: old.category,
            price: old.price,
            tax_class: TaxClass::Taxable,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct StoreV1 {
    pub id: StoreId,
    pub code: String,
    pub name: String,
    pub city: String,
    pub opened_at: Timestamp,
}

impl From<StoreV1> for Store {
    fn from(old: StoreV1) -> Self {
        Store {
            id: old.id,
            code: old.code,
            name: old.name,
            address: old.city.clone(),
            city: old.city,
            opened_at: old.opened_at,
            jurisdiction: UPGRADED_JURISDICTION.to_owned(),
            time_zone: UPGRADED_TIME_ZONE.to_owned(),
            registrations: Vec::<(TaxCode, String)>::new(),
            tills: DEFAULT_TILLS,
            approval_percent: DEFAULT_APPROVAL_PERCENT,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub enum ChainEventV1 {
    ProductAdded(ProductV1),
    StoreOpened(StoreV1),
    UserCreated(User),
    UserDeactivated(Username),
    ProductChanged(ProductV1),
}

impl From<ChainEventV1> for ChainEvent {
    fn from(old: ChainEventV1) -> Self {
        match old {
            ChainEventV1::ProductAdded(p) => ChainEvent::ProductAdded(p.into()),
            ChainEventV1::StoreOpened(s) => ChainEvent::StoreOpened(s.into()),
            ChainEventV1::UserCreated(u) => ChainEvent::UserCreated(u),
            ChainEventV1::UserDeactivated(u) => ChainEvent::UserDeactivated(u),
            ChainEventV1::ProductChanged(p) => ChainEvent::ProductChanged(p.into()),
        }
    }
}

/// The chain's snapshot in version 3: no supplier, no purchase order.
#[derive(Debug, Deserialize)]
pub struct ChainStateV3 {
    pub(super) products: BTreeMap<Sku, Product>,
    pub(super) stores: BTreeMap<StoreId, Store>,
    pub(super) users: BTreeMap<Username, super::UserAccount>,
    pub(super) jurisdictions: BTreeMap<String, Jurisdiction>,
    pub(super) user_log: Vec<super::UserLogEntry>,
    pub(super) webhooks: BTreeMap<u32, super::Webhook>,
}

/// The chain's snapshot in version 2: users without their token generation, no log of
/// user changes (none had an author yet).
#[derive(Debug, Deserialize)]
pub struct ChainStateV2 {
    products: BTreeMap<Sku, Product>,
    stores: BTreeMap<StoreId, Store>,
    users: BTreeMap<Username, User>,
    jurisdictions: BTreeMap<String, Jurisdiction>,
}

impl From<ChainStateV2> for ChainState {
    fn from(old: ChainStateV2) -> Self {
        let mut state = ChainState::default();
        let events = old
            .jurisdictions
            .into_values()
            .map(ChainEvent::JurisdictionSet)
            .chain(old.products.into_values().map(ChainEvent::ProductAdded))
            .chain(old.stores.into_values().map(ChainEvent::StoreOpened))
            .chain(old.users.into_values().map(ChainEvent::UserCreated));
        for event in events {
            state.apply(&event);
        }
        state
    }
}

/// The chain's snapshot in version 1: no tax class, no jurisdiction.
#[derive(Debug, Deserialize)]
pub struct ChainStateV1 {
    products: BTreeMap<Sku, ProductV1>,
    stores: BTreeMap<StoreId, StoreV1>,
    users: BTreeMap<Username, User>,
}

impl From<ChainStateV1> for ChainState {
    fn from(old: ChainStateV1) -> Self {
        let mut state = ChainState::default();
        let events = old
            .products
            .into_values()
            .map(|p| ChainEvent::ProductAdded(p.into()))
            .chain(
                old.stores
                    .into_values()
                    .map(|s| ChainEvent::StoreOpened(s.into())),
            )
            .chain(old.users.into_values().map(ChainEvent::UserCreated));
        for event in events {
            state.apply(&event);
        }
        state
    }
}
