//! Actors: one `StoreActor` per store (the only writer of its stock, sales, returns and
//! adjustments), the `ChainActor` (catalog and store list), and the registry that recovers,
//! starts and finds them.
//!
//! The one thing not to break: a write is answered only after its events are durable, and
//! an actor never blocks its arbiter on the disk.

pub mod auto_restock;
mod cadence;
mod chain;
mod clock;
mod durable;
mod product;
mod purchasing;
mod registry;
mod restock;
mod store;
mod transfer;
mod watermark;

/// What verifying a store's hash chain found (`Registry::verify_store`).
pub use crate::persistence::integrity::Verified;
pub use chain::{Added, ChainActorError, ChainHandle, PurchaseCommand, Purchased};
pub use clock::{Clock, now};
pub use product::{CentralOp, ProductHandle, RemoteCentral};
pub use registry::{
    OnProductRecovered, OnStoreRecovered, Ownership, Placement, RecoveryHooks, Registry,
    RegistryError,
};
pub use restock::FlowError;
pub use store::{ActorSettings, Prices, Recorded, SaleView, SourceOp, StoreError, StoreHandle};
