//! Pure types and rules of the retail chain: ids, money, catalog, stores, sales, returns,
//! adjustments and the events they produce.
//!
//! No I/O, no async, no actix, no clock, no randomness here: time comes in as an argument.
//! Everything in this room must stay testable with plain values.

mod chain;
mod history;
mod ids;
pub mod legacy;
mod money;
mod purchasing;
mod replenishment;
mod restock;
mod store;
mod tax;
#[cfg(test)]
pub(crate) mod testing;
mod till;
#[cfg(test)]
mod till_tests;
mod transfer;
mod user;
mod webhook;

pub use chain::{
    CATEGORY_MAX, ChainError, ChainEvent, ChainState, NewStore, PRODUCT_NAME_MAX, Product,
    ProductChange, Store, StoreDetails, UserChange, parse_class, parse_label,
};
pub use history::{
    Account, Figures, HOUR_MS, MoneyRow, ProductFigures, SalesHistory, accounts_of_return,
    accounts_of_sale, hour_of, hours,
};
pub use ids::{AdjustmentId, Ean13, Quantity, ReturnId, SaleId, Sku, StoreId, Timestamp};
pub use money::Cents;
pub use purchasing::{
    Decided, LineTally, MAX_LEAD_TIME_DAYS, MAX_ORDER_LINES, NewOrder, OrderLine, OrderStatus,
    OverDecision, Posting, PurchaseError, PurchaseOrder, Purchasing, PurchasingEvent, Supplier,
    SupplierCode, SupplierReceipt, SupplierReceiptLine,
};
pub use replenishment::{
    DemandStats, LeadTime, LeadTimeSource, Proposal, ReplenishmentPolicy, z_score,
};
pub use restock::{
    COST_SCALE, CentralEvent, CentralStock, CountedLine, DamageReason, Goods, MAX_CENTRAL,
    MissingOutcome, Receipt, ReceiptLine, ReceiptMismatch, ReceivedLine, RestockError, RestockId,
    RestockLine, RestockRequest, RestockStatus, RestockStep, RestockStepDone, StepKind,
    check_receipt, to_cents, weighted_average,
};
pub use store::{
    AdjustedLine, Adjustment, AdjustmentError, AdjustmentKind, AdjustmentLine, AdjustmentRequest,
    Fingerprint, IdempotencyKey, KeyCheck, KeyRetention, KeyUse, KeyWindow, LinesError, MAX_LINES,
    MAX_ON_HAND, NegativeLine, Offline, Outcome, PriceLookup, RequestedLine, RestockAsk,
    RestockRequested, RetentionOutOfBounds, Return, ReturnError, ReturnExcess, ReturnRequest,
    ReturnedLine, Sale, SaleError, SaleLineRequest, SaleRecorded, SaleRequest, SaleReturned,
    SaleTerms, SessionClosed, SessionOpened, Shortage, SoldLine, Stamp, StockAdjusted,
    StockLevelsSet, StockLine, StoreEvent, StoreState, TillError, TillRules, TillState,
};
pub use tax::{
    DatedRate, Jurisdiction, Rate, TaxClass, TaxCode, TaxLine, cash_rounding, receipt_taxes, share,
    start_of_day,
};
pub use till::{
    AtTill, Closing, Count, Discount, OpenSession, ReceiptNumber, SessionTotals, TaxTotal, Tender,
    TenderError, TenderKind, TenderRequest, TillNumber, TillReport, part, refund_tenders, settle,
    till_report,
};
pub use transfer::{
    ShippedLine, Transfer, TransferError, TransferEvent, TransferId, TransferLine, TransferStatus,
    Transfers, transfer_lines,
};
pub use user::{
    ChangedBy, Role, User, UserAccount, UserChangeKind, UserLogEntry, UserRecord, Username,
    check_new_password,
};
pub use webhook::{ALL_EVENTS, Webhook, parse_event_types};

/// A value that failed its constructor's checks. The HTTP layer names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("a store id is a positive integer")]
    StoreId,
    #[error("a SKU is 3 to 32 characters: A-Z, 0-9 and '-'")]
    Sku,
    #[error("an EAN-13 barcode is 13 digits with a valid check digit")]
    Ean13,
    #[error("a quantity is an integer from 1 to 10000")]
    Quantity,
    #[error("a counted quantity is an integer from 0 to 1000000")]
    Counted,
    #[error("a delta is a non-zero integer from -1000000 to 1000000")]
    Delta,
    #[error("a price is an integer number of cents from 0 to 100000000")]
    Price,
    #[error("a store code is 2 to 24 characters: A-Z, 0-9 and '-'")]
    StoreCode,
    #[error("a text of 1 to {max} characters, without control characters")]
    Label { max: usize },
    #[error("an idempotency key is 1 to 200 printable ASCII characters")]
    IdempotencyKey,
    #[error("a username is 3 to 32 characters: a-z, 0-9, '.', '-', '_'")]
    Username,
    #[error("a role is cashier, manager, logistics or admin")]
    Role,
    #[error("cashiers and managers belong to one store; logistics and admins to none")]
    RoleScope,
    #[error("a password is 8 to 128 characters")]
    Password,
    #[error("the new password is the current one")]
    SamePassword,
    #[error("events is [\"*\"] or 1 to 50 event types (lowercase letters and _)")]
    EventTypes,
    #[error("a webhook URL is an absolute https URL (http only where private targets are allowed)")]
    WebhookUrl,
    #[error("a restock request id is <store>-<number>, e.g. 3-12")]
    RestockId,
    #[error("a restock status is requested, allocated, shipped, received, rejected or cancelled")]
    RestockStatus,
    #[error("a till is a number from 1 to 99")]
    Till,
    #[error("a discount is a percent from 1 to 100 or an amount in cents above 0")]
    Discount,
    #[error("a tax class is taxable, zero_rated or exempt")]
    TaxClass,
    #[error("an amount in cents from 0 to 100000000")]
    Amount,
    #[error("a damage reason is broken, expired, wet or other")]
    DamageReason,
    #[error("missing units are lost or found")]
    MissingOutcome,
    #[error("a supplier code is 2 to 24 characters: A-Z, 0-9 and '-'")]
    SupplierCode,
    #[error("a purchase order status is open, partially_received, received or closed")]
    OrderStatus,
    #[error("a lead time is a whole number of days from 0 to 365")]
    LeadTime,
    #[error("a unit cost is an integer number of cents from 0 to 100000000")]
    UnitCost,
    #[error("an ordered quantity is an integer from 1 to 1000000")]
    OrderQuantity,
    #[error("a transfer status is requested, shipped or received")]
    TransferStatus,
}

/// Any event of the system, tagged with the stream it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DomainEvent {
    Chain(ChainEvent),
    Store(StoreId, StoreEvent),
    Central(Sku, CentralEvent),
}
