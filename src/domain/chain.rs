//! Chain-wide reference data: the catalog (products and prices) and the list of stores.
//!
//! One writer owns it (the chain actor); everything else reads committed copies. A product
//! or a store, once created, keeps its key (SKU, barcode, store id, store code) forever:
//! sales and ledgers point at them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::legacy::{DEFAULT_APPROVAL_PERCENT, DEFAULT_TILLS};
use super::purchasing::{Purchasing, PurchasingEvent};
use super::{
    Cents, ChangedBy, Ean13, Jurisdiction, Rate, Sku, StoreId, TaxClass, TaxCode, TillRules,
    Timestamp, User, UserAccount, UserChangeKind, UserLogEntry, UserRecord, Username, ValueError,
    Webhook,
};

/// A short human text (name, city, category, reason): trimmed, 1 to `max` characters.
pub fn parse_label(raw: &str, max: usize) -> Result<String, ValueError> {
    let trimmed = raw.trim();
    let count = trimmed.chars().count();
    if count == 0 || count > max || trimmed.chars().any(char::is_control) {
        return Err(ValueError::Label { max });
    }
    Ok(trimmed.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: Sku,
    pub ean13: Ean13,
    pub name: String,
    pub category: String,
    pub price: Cents,
    pub tax_class: TaxClass,
}

/// The value of a field, or its error noted under the field's name.
fn field<T>(
    errors: &mut Vec<(&'static str, ValueError)>,
    name: &'static str,
    value: Result<T, ValueError>,
) -> Option<T> {
    value.map_err(|e| errors.push((name, e))).ok()
}

/// Longest product name and category.
pub const PRODUCT_NAME_MAX: usize = 120;
pub const CATEGORY_MAX: usize = 60;

impl Product {
    /// A new catalog product from raw values, with every field's error.
    pub fn parse(
        sku: &str,
        ean13: &str,
        name: &str,
        category: &str,
        price_cents: i64,
        tax_class: Option<&str>,
    ) -> Result<Self, Vec<(&'static str, ValueError)>> {
        let mut errors = Vec::new();
        let sku = field(&mut errors, "sku", Sku::parse(sku));
        let ean13 = field(&mut errors, "ean13", Ean13::parse(ean13));
        let name = field(&mut errors, "name", parse_label(name, PRODUCT_NAME_MAX));
        let category = field(&mut errors, "category", parse_label(category, CATEGORY_MAX));
        let price = field(&mut errors, "price_cents", Cents::price(price_cents));
        let class = field(&mut errors, "tax_class", parse_class(tax_class));
        match (sku, ean13, name, category, price, class) {
            (Some(sku), Some(ean13), Some(name), Some(category), Some(price), Some(tax_class)) => {
                Ok(Self {
                    sku,
                    ean13,
                    name,
                    category,
                    price,
                    tax_class,
                })
            }
            _ => Err(errors),
        }
    }
}

/// A tax class as a client writes it: `taxable`, `zero_rated` or `exempt`; missing is an
/// error too (every product says how it is taxed).
pub fn parse_class(raw: Option<&str>) -> Result<TaxClass, ValueError> {
    raw.and_then(TaxClass::parse).ok_or(ValueError::TaxClass)
}

/// What may change of a catalog product: its name, category, price and tax class (its SKU
/// and barcode identify it, in sales and on shelves). `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductChange {
    pub name: Option<String>,
    pub category: Option<String>,
    pub price: Option<Cents>,
    pub tax_class: Option<TaxClass>,
}

impl ProductChange {
    /// Keeps every value: a change that changes nothing is refused, not journaled.
    pub fn changes_nothing(&self) -> bool {
        self.name.is_none()
            && self.category.is_none()
            && self.price.is_none()
            && self.tax_class.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    pub id: StoreId,
    /// Short unique code printed on receipts and used by people (`MTL-CENTRE`).
    pub code: String,
    pub name: String,
    pub city: String,
    pub opened_at: Timestamp,
    /// Street address, as printed on receipts.
    pub address: String,
    /// Where it collects sales taxes (`QC`, `ON`).
    pub jurisdiction: String,
    /// IANA time zone of its receipts and days (`America/Toronto`).
    pub time_zone: String,
    /// Its tax registration numbers, printed on receipts (GST/HST, QST).
    pub registrations: Vec<(TaxCode, String)>,
    /// Tills 1 to `tills`.
    pub tills: u8,
    /// A discount above this percentage needs a manager's approval.
    pub approval_percent: u8,
}

impl Store {
    pub fn till_rules(&self) -> TillRules {
        TillRules {
            tills: self.tills,
            approval_percent: self.approval_percent,
        }
    }
}

/// A store about to be opened; the chain assigns its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStore {
    pub code: String,
    pub name: String,
    pub city: String,
    pub details: StoreDetails,
}

/// What head office may set of a store after it opened: where it is, its taxes, its tills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreDetails {
    pub address: String,
    pub jurisdiction: String,
    pub time_zone: String,
    pub registrations: Vec<(TaxCode, String)>,
    pub tills: u8,
    pub approval_percent: u8,
}

impl StoreDetails {
    /// A Quebec store with two tills, at `address`.
    pub fn quebec(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            jurisdiction: "QC".to_owned(),
            time_zone: "America/Toronto".to_owned(),
            registrations: Vec::new(),
            tills: DEFAULT_TILLS,
            approval_percent: DEFAULT_APPROVAL_PERCENT,
        }
    }
}

impl NewStore {
    pub fn parse(
        code: &str,
        name: &str,
        city: &str,
        details: StoreDetails,
    ) -> Result<Self, Vec<(&'static str, ValueError)>> {
        let mut errors = Vec::new();
        let code = code.trim();
        if !super::ids::is_code(code, 2..=24) {
            errors.push(("code", ValueError::StoreCode));
        }
        let name = parse_label(name, 80)
            .map_err(|e| errors.push(("name", e)))
            .ok();
        let city = parse_label(city, 80)
            .map_err(|e| errors.push(("city", e)))
            .ok();
        match (name, city) {
            (Some(name), Some(city)) if errors.is_empty() => Ok(Self {
                code: code.to_owned(),
                name,
                city,
                details,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainEvent {
    ProductAdded(Product),
    StoreOpened(Store),
    UserCreated(User),
    UserDeactivated(Username),
    /// A product's name, category, price or tax class changed: the product as it is now.
    ProductChanged(Product),
    /// A jurisdiction and every rate it ever had, whole.
    JurisdictionSet(Jurisdiction),
    /// A store's details changed: the store as it is now.
    StoreChanged(Store),
    /// A user's role, store or activity changed: the user as they are now. (Written by
    /// one version only; every user change since is a [`ChainEvent::UserRecorded`].)
    UserChanged(User),
    /// A user created or changed, with who did it and when.
    UserRecorded(UserRecord),
    /// A webhook endpoint registered (ADR 0029).
    WebhookRegistered(Webhook),
    /// A webhook endpoint removed: nothing more is delivered to it.
    WebhookRemoved(u32),
    /// Suppliers and the logistics center's purchase orders (ADR 0032).
    Purchasing(PurchasingEvent),
}

/// A change to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    /// Role and store together (they must agree).
    Role(super::Role, Option<StoreId>),
    Deactivate,
    Reactivate,
    /// A password the user chose (its hash).
    Password(String),
    /// A password someone else set (its hash), changed at the next login: by an
    /// administrator, or by a recovery on a stopped instance, which also reactivates.
    TemporaryPassword {
        hash: String,
        recovery: bool,
    },
}

impl UserChange {
    fn kind(&self) -> UserChangeKind {
        match self {
            Self::Role(..) => UserChangeKind::RoleChanged,
            Self::Deactivate => UserChangeKind::Deactivated,
            Self::Reactivate => UserChangeKind::Reactivated,
            Self::Password(_) => UserChangeKind::PasswordChanged,
            Self::TemporaryPassword {
                recovery: false, ..
            } => UserChangeKind::PasswordReset,
            Self::TemporaryPassword { recovery: true, .. } => UserChangeKind::PasswordRecovered,
        }
    }

    /// Whether the change stands even when the user record stays the same (a new password
    /// always does: its hash is salted, and the sessions it ends must end).
    fn always_recorded(&self) -> bool {
        matches!(self, Self::Password(_) | Self::TemporaryPassword { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("SKU {0} already in the catalog")]
    DuplicateSku(Sku),
    #[error("barcode {0} already in the catalog")]
    DuplicateBarcode(Ean13),
    #[error("store code {0} already taken")]
    DuplicateStoreCode(String),
    #[error("username {0} already taken")]
    DuplicateUsername(Username),
    #[error("no user {0}")]
    UnknownUser(Username),
    #[error("store {0} does not exist")]
    UnknownStore(StoreId),
    #[error("no product {0} in the catalog")]
    UnknownProduct(Sku),
    #[error("no jurisdiction {0}")]
    UnknownJurisdiction(String),
    #[error("{0} is the last active administrator")]
    LastAdministrator(Username),
}

/// The reference data as the chain actor holds it, rebuilt by replaying [`ChainEvent`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    products: BTreeMap<Sku, Product>,
    stores: BTreeMap<StoreId, Store>,
    users: BTreeMap<Username, UserAccount>,
    jurisdictions: BTreeMap<String, Jurisdiction>,
    /// Every [`ChainEvent::UserRecorded`], oldest first, without password hashes. User
    /// changes are rare (a chain of a thousand stores makes a few thousand a year).
    user_log: Vec<UserLogEntry>,
    webhooks: BTreeMap<u32, Webhook>,
    purchasing: Purchasing,
}

/// A version-3 snapshot's state: everything but purchasing, which it did not have.
impl From<super::legacy::ChainStateV3> for ChainState {
    fn from(old: super::legacy::ChainStateV3) -> Self {
        Self {
            products: old.products,
            stores: old.stores,
            users: old.users,
            jurisdictions: old.jurisdictions,
            user_log: old.user_log,
            webhooks: old.webhooks,
            purchasing: Purchasing::default(),
        }
    }
}

impl ChainState {
    pub fn purchasing(&self) -> &Purchasing {
        &self.purchasing
    }

    pub fn jurisdictions(&self) -> impl Iterator<Item = &Jurisdiction> {
        self.jurisdictions.values()
    }

    pub fn jurisdiction(&self, code: &str) -> Option<&Jurisdiction> {
        self.jurisdictions.get(code)
    }

    pub fn store(&self, id: StoreId) -> Option<&Store> {
        self.stores.get(&id)
    }

    /// The rates a store collects at `at`: none for an unknown store or jurisdiction.
    pub fn store_rates(&self, id: StoreId, at: Timestamp) -> Vec<(TaxCode, Rate)> {
        self.stores
            .get(&id)
            .and_then(|s| self.jurisdictions.get(&s.jurisdiction))
            .map(|j| j.rates_at(at.0))
            .unwrap_or_default()
    }

    /// A jurisdiction to journal as [`ChainEvent::JurisdictionSet`]; `None` when it is
    /// already exactly that.
    pub fn decide_set_jurisdiction(&self, jurisdiction: Jurisdiction) -> Option<ChainEvent> {
        (self.jurisdictions.get(&jurisdiction.code) != Some(&jurisdiction))
            .then_some(ChainEvent::JurisdictionSet(jurisdiction))
    }

    /// The store with new details, to journal as [`ChainEvent::StoreChanged`]; `None` when
    /// nothing would change.
    pub fn decide_change_store(
        &self,
        id: StoreId,
        details: StoreDetails,
    ) -> Result<Option<Store>, ChainError> {
        let current = self.stores.get(&id).ok_or(ChainError::UnknownStore(id))?;
        if !self.jurisdictions.contains_key(&details.jurisdiction) {
            return Err(ChainError::UnknownJurisdiction(details.jurisdiction));
        }
        let changed = with_details(current.clone(), details);
        Ok((changed != *current).then_some(changed))
    }

    pub fn products(&self) -> impl Iterator<Item = &Product> {
        self.products.values()
    }

    pub fn stores(&self) -> impl Iterator<Item = &Store> {
        self.stores.values()
    }

    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values().map(|a| &a.user)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &UserAccount> {
        self.users.values()
    }

    pub fn account(&self, username: &Username) -> Option<&UserAccount> {
        self.users.get(username)
    }

    pub fn webhooks(&self) -> impl Iterator<Item = &Webhook> {
        self.webhooks.values()
    }

    /// The endpoint to journal as [`ChainEvent::WebhookRegistered`]: the next id.
    pub fn decide_register_webhook(&self, mut webhook: Webhook) -> ChainEvent {
        webhook.id = self.webhooks.keys().next_back().map_or(1, |id| id + 1);
        ChainEvent::WebhookRegistered(webhook)
    }

    /// `None` when there is no such endpoint (removing twice is harmless).
    pub fn decide_remove_webhook(&self, id: u32) -> Option<ChainEvent> {
        self.webhooks
            .contains_key(&id)
            .then_some(ChainEvent::WebhookRemoved(id))
    }

    /// Every change to a user since they were recorded with their author, oldest first.
    pub fn user_log(&self) -> &[UserLogEntry] {
        &self.user_log
    }

    pub fn decide_create_user(
        &self,
        user: User,
        stamp: ChangedBy,
    ) -> Result<ChainEvent, ChainError> {
        if self.users.contains_key(&user.username) {
            return Err(ChainError::DuplicateUsername(user.username));
        }
        if let Some(store) = user.store
            && !self.stores.contains_key(&store)
        {
            return Err(ChainError::UnknownStore(store));
        }
        Ok(ChainEvent::UserRecorded(UserRecord {
            user,
            change: UserChangeKind::Created,
            stamp,
        }))
    }

    /// The change to journal, by `stamp`; `None` when it would change nothing (the same
    /// role again, deactivating an inactive user: the call is idempotent). The last active
    /// administrator stays one (409).
    pub fn decide_change_user(
        &self,
        username: &Username,
        change: UserChange,
        stamp: ChangedBy,
    ) -> Result<Option<ChainEvent>, ChainError> {
        let current = self
            .user(username)
            .ok_or_else(|| ChainError::UnknownUser(username.clone()))?;
        let mut changed = current.clone();
        let kind = change.kind();
        let recorded = change.always_recorded();
        match change {
            UserChange::Role(role, store) => {
                if let Some(store) = store
                    && !self.stores.contains_key(&store)
                {
                    return Err(ChainError::UnknownStore(store));
                }
                changed.role = role;
                changed.store = store;
            }
            UserChange::Deactivate => changed.active = false,
            UserChange::Reactivate => changed.active = true,
            UserChange::Password(hash) => changed.password_hash = hash,
            UserChange::TemporaryPassword { hash, recovery } => {
                changed.password_hash = hash;
                changed.active |= recovery;
            }
        }
        let admin = |u: &User| u.active && u.role == super::Role::Admin;
        if admin(current) && !admin(&changed) && self.active_admins() == 1 {
            return Err(ChainError::LastAdministrator(username.clone()));
        }
        let unchanged = changed == *current;
        let event = ChainEvent::UserRecorded(UserRecord {
            user: changed,
            change: kind,
            stamp,
        });
        Ok((recorded || !unchanged).then_some(event))
    }

    /// How many administrators can still sign in: the chain never goes below one.
    fn active_admins(&self) -> usize {
        self.users()
            .filter(|u| u.active && u.role == super::Role::Admin)
            .count()
    }

    pub fn user(&self, username: &Username) -> Option<&User> {
        self.users.get(username).map(|a| &a.user)
    }

    pub fn product(&self, sku: &Sku) -> Option<&Product> {
        self.products.get(sku)
    }

    pub fn decide_add_product(&self, product: Product) -> Result<ChainEvent, ChainError> {
        if self.products.contains_key(&product.sku) {
            return Err(ChainError::DuplicateSku(product.sku));
        }
        if self.products.values().any(|p| p.ean13 == product.ean13) {
            return Err(ChainError::DuplicateBarcode(product.ean13));
        }
        Ok(ChainEvent::ProductAdded(product))
    }

    /// The product after `change`, to journal as [`ChainEvent::ProductChanged`]; `None`
    /// when nothing would change (the call is idempotent).
    pub fn decide_change_product(
        &self,
        sku: &Sku,
        change: ProductChange,
    ) -> Result<Option<Product>, ChainError> {
        let current = self
            .products
            .get(sku)
            .ok_or_else(|| ChainError::UnknownProduct(sku.clone()))?;
        let changed = Product {
            name: change.name.unwrap_or_else(|| current.name.clone()),
            category: change.category.unwrap_or_else(|| current.category.clone()),
            price: change.price.unwrap_or(current.price),
            tax_class: change.tax_class.unwrap_or(current.tax_class),
            ..current.clone()
        };
        Ok((changed != *current).then_some(changed))
    }

    /// The store to open; journal it as [`ChainEvent::StoreOpened`].
    pub fn decide_open_store(&self, new: NewStore, now: Timestamp) -> Result<Store, ChainError> {
        if self.stores.values().any(|s| s.code == new.code) {
            return Err(ChainError::DuplicateStoreCode(new.code));
        }
        if !self.jurisdictions.contains_key(&new.details.jurisdiction) {
            return Err(ChainError::UnknownJurisdiction(new.details.jurisdiction));
        }
        let next = self.stores.keys().next_back().map_or(1, |id| id.get() + 1);
        let id = StoreId::new(next).expect("next store id is at least 1");
        let details = new.details;
        Ok(Store {
            id,
            code: new.code,
            name: new.name,
            city: new.city,
            opened_at: now,
            address: details.address,
            jurisdiction: details.jurisdiction,
            time_zone: details.time_zone,
            registrations: details.registrations,
            tills: details.tills,
            approval_percent: details.approval_percent,
        })
    }

    pub fn apply(&mut self, event: &ChainEvent) {
        match event {
            ChainEvent::ProductAdded(p) | ChainEvent::ProductChanged(p) => {
                self.products.insert(p.sku.clone(), p.clone());
            }
            ChainEvent::StoreOpened(s) | ChainEvent::StoreChanged(s) => {
                self.stores.insert(s.id, s.clone());
            }
            ChainEvent::JurisdictionSet(j) => {
                self.jurisdictions.insert(j.code.clone(), j.clone());
            }
            ChainEvent::UserCreated(u) | ChainEvent::UserChanged(u) => {
                let account = match self.users.remove(&u.username) {
                    Some(before) => UserAccount {
                        user: u.clone(),
                        ..before
                    },
                    None => UserAccount::new(u.clone()),
                };
                self.users.insert(u.username.clone(), account);
            }
            ChainEvent::UserDeactivated(name) => {
                // Written before sessions had generations: the generation stays, as a v2
                // snapshot (which has none) would give it; the user is inactive anyway.
                if let Some(account) = self.users.get_mut(name) {
                    account.user.active = false;
                }
            }
            ChainEvent::WebhookRegistered(webhook) => {
                self.webhooks.insert(webhook.id, webhook.clone());
            }
            ChainEvent::WebhookRemoved(id) => {
                self.webhooks.remove(id);
            }
            ChainEvent::Purchasing(event) => self.purchasing.apply(event),
            ChainEvent::UserRecorded(record) => {
                let account = record.account_after(self.users.get(&record.user.username));
                self.users.insert(record.user.username.clone(), account);
                self.user_log.push(record.log_entry());
            }
        }
    }
}

fn with_details(store: Store, details: StoreDetails) -> Store {
    Store {
        address: details.address,
        jurisdiction: details.jurisdiction,
        time_zone: details.time_zone,
        registrations: details.registrations,
        tills: details.tills,
        approval_percent: details.approval_percent,
        ..store
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::domain::{DatedRate, Rate};

    fn name(raw: &str) -> Username {
        Username::parse(raw).expect("a username")
    }

    fn by(raw: &str, at: i64) -> ChangedBy {
        ChangedBy {
            by: Some(name(raw)),
            at: Timestamp(at),
        }
    }

    /// `admin`, an administrator, and `logistique1`.
    fn with_users() -> ChainState {
        let mut chain = ChainState::default();
        for (user, role) in [("admin", Role::Admin), ("logistique1", Role::Logistics)] {
            let user = User::new(name(user), "h0".into(), role, None).expect("a user");
            let event = chain.decide_create_user(user, by("admin", 1)).expect("new");
            chain.apply(&event);
        }
        chain
    }

    fn change(
        chain: &mut ChainState,
        user: &str,
        change: UserChange,
        at: i64,
    ) -> Result<bool, ChainError> {
        let event = chain.decide_change_user(&name(user), change, by("admin", at))?;
        let changed = event.is_some();
        if let Some(event) = event {
            chain.apply(&event);
        }
        Ok(changed)
    }

    #[test]
    fn a_reset_password_must_be_changed_and_ends_every_session() {
        let mut chain = with_users();
        let account =
            |chain: &ChainState| chain.account(&name("logistique1")).cloned().expect("there");
        assert_eq!(account(&chain).generation, 0);
        let reset = UserChange::TemporaryPassword {
            hash: "h1".into(),
            recovery: false,
        };
        assert_eq!(change(&mut chain, "logistique1", reset, 2), Ok(true));
        let after_reset = account(&chain);
        assert!(after_reset.must_change_password);
        assert_eq!(
            (
                after_reset.generation,
                after_reset.user.password_hash.as_str()
            ),
            (1, "h1")
        );
        assert_eq!(
            change(
                &mut chain,
                "logistique1",
                UserChange::Password("h2".into()),
                3
            ),
            Ok(true)
        );
        let after_change = account(&chain);
        assert!(!after_change.must_change_password);
        assert_eq!(after_change.generation, 2);
        // A role change keeps the sessions (every request reads the role afresh).
        let role = UserChange::Role(Role::Admin, None);
        assert_eq!(change(&mut chain, "logistique1", role.clone(), 4), Ok(true));
        assert_eq!(account(&chain).generation, 2);
        assert_eq!(
            change(&mut chain, "logistique1", role, 5),
            Ok(false),
            "the same role again"
        );
        let log: Vec<_> = chain
            .user_log()
            .iter()
            .map(|e| (e.username.as_str().to_owned(), e.change, e.stamp.at.0))
            .collect();
        assert_eq!(
            log[2..],
            [
                ("logistique1".to_owned(), UserChangeKind::PasswordReset, 2),
                ("logistique1".to_owned(), UserChangeKind::PasswordChanged, 3),
                ("logistique1".to_owned(), UserChangeKind::RoleChanged, 4),
            ]
        );
        assert!(
            chain
                .user_log()
                .iter()
                .all(|e| e.stamp.by == Some(name("admin")))
        );
    }

    #[test]
    fn the_last_active_administrator_stays_one() {
        let mut chain = with_users();
        let demote = UserChange::Role(Role::Logistics, None);
        assert_eq!(
            change(&mut chain, "admin", UserChange::Deactivate, 2),
            Err(ChainError::LastAdministrator(name("admin")))
        );
        assert_eq!(
            change(&mut chain, "admin", demote.clone(), 2),
            Err(ChainError::LastAdministrator(name("admin")))
        );
        let promote = UserChange::Role(Role::Admin, None);
        assert_eq!(change(&mut chain, "logistique1", promote, 3), Ok(true));
        assert_eq!(
            change(&mut chain, "admin", UserChange::Deactivate, 4),
            Ok(true)
        );
        assert_eq!(
            change(&mut chain, "admin", UserChange::Deactivate, 5),
            Ok(false)
        );
        assert_eq!(
            change(&mut chain, "logistique1", demote, 6),
            Err(ChainError::LastAdministrator(name("logistique1")))
        );
    }

    /// A chain rebuilt from the events of version 2 and one rebuilt from its snapshot
    /// (which lists the users as they were) agree on every account, generations included.
    #[test]
    fn events_written_before_generations_rebuild_the_accounts_a_snapshot_gives() {
        let user = User::new(name("caissier6"), "h".into(), Role::Logistics, None).expect("a user");
        let mut replayed = ChainState::default();
        replayed.apply(&ChainEvent::UserCreated(user.clone()));
        replayed.apply(&ChainEvent::UserDeactivated(name("caissier6")));
        let mut from_snapshot = ChainState::default();
        from_snapshot.apply(&ChainEvent::UserCreated(User {
            active: false,
            ..user
        }));
        assert_eq!(replayed, from_snapshot);
    }

    #[test]
    fn a_recovery_reactivates_and_a_deactivation_ends_the_sessions() {
        let mut chain = with_users();
        assert_eq!(
            change(&mut chain, "logistique1", UserChange::Deactivate, 2),
            Ok(true)
        );
        let account = chain.account(&name("logistique1")).cloned().expect("there");
        assert!(!account.user.active);
        assert_eq!(account.generation, 1);
        let recovery = UserChange::TemporaryPassword {
            hash: "h9".into(),
            recovery: true,
        };
        assert_eq!(change(&mut chain, "logistique1", recovery, 3), Ok(true));
        let account = chain.account(&name("logistique1")).cloned().expect("there");
        assert!(account.user.active && account.must_change_password);
        assert_eq!(account.generation, 2);
        assert_eq!(
            chain.user_log().last().map(|e| e.change),
            Some(UserChangeKind::PasswordRecovered)
        );
    }

    fn with_quebec() -> ChainState {
        let mut chain = ChainState::default();
        chain.apply(&ChainEvent::JurisdictionSet(Jurisdiction {
            code: "QC".into(),
            name: "Québec".into(),
            time_zone: "America/Toronto".into(),
            rates: vec![DatedRate {
                code: TaxCode::Gst,
                rate: Rate(5_000),
                from_date: "2008-01-01".into(),
                from: 0,
            }],
        }));
        chain
    }

    #[test]
    fn a_store_opens_only_in_a_known_jurisdiction_and_collects_its_rates() {
        let mut chain = ChainState::default();
        let new =
            |code: &str| NewStore::parse(code, "Magasin", "Laval", StoreDetails::quebec("1 rue"));
        assert_eq!(
            chain.decide_open_store(new("A1").expect("valid"), Timestamp(0)),
            Err(ChainError::UnknownJurisdiction("QC".into()))
        );
        chain = with_quebec();
        let store = chain
            .decide_open_store(new("A1").expect("valid"), Timestamp(0))
            .expect("QC is known");
        chain.apply(&ChainEvent::StoreOpened(store.clone()));
        assert_eq!(
            chain.store_rates(store.id, Timestamp(1)),
            [(TaxCode::Gst, Rate(5_000))]
        );
        let mut elsewhere = StoreDetails::quebec("1 rue");
        elsewhere.jurisdiction = "ZZ".into();
        assert_eq!(
            chain.decide_change_store(store.id, elsewhere),
            Err(ChainError::UnknownJurisdiction("ZZ".into()))
        );
        let mut more_tills = StoreDetails::quebec("1 rue");
        more_tills.tills = 4;
        let changed = chain
            .decide_change_store(store.id, more_tills)
            .expect("known store")
            .expect("a change");
        assert_eq!(changed.tills, 4);
    }

    fn product(sku: &str, ean: &str) -> Product {
        Product {
            sku: Sku::parse(sku).expect("test sku"),
            ean13: Ean13::parse(ean).expect("test ean"),
            name: "Lait 2 % 2 L".into(),
            category: "Produits laitiers".into(),
            price: Cents(499),
            tax_class: TaxClass::ZeroRated,
        }
    }

    #[test]
    fn store_ids_follow_the_highest_one() {
        let mut chain = with_quebec();
        for code in ["A1", "B2"] {
            let new = NewStore::parse(code, "Magasin", "Laval", StoreDetails::quebec("1 rue"))
                .expect("valid store");
            let store = chain
                .decide_open_store(new, Timestamp(0))
                .expect("new code");
            chain.apply(&ChainEvent::StoreOpened(store));
        }
        let ids: Vec<u32> = chain.stores().map(|s| s.id.get()).collect();
        assert_eq!(ids, vec![1, 2]);
        let again = NewStore::parse("A1", "Autre", "Laval", StoreDetails::quebec("2 rue"))
            .expect("valid store");
        assert!(matches!(
            chain.decide_open_store(again, Timestamp(0)),
            Err(ChainError::DuplicateStoreCode(_))
        ));
    }

    #[test]
    fn sku_and_barcode_are_unique() {
        let mut chain = ChainState::default();
        let event = chain
            .decide_add_product(product("LAI-0001", "4006381333931"))
            .expect("first product");
        chain.apply(&event);
        assert!(matches!(
            chain.decide_add_product(product("LAI-0001", "0627000000009")),
            Err(ChainError::DuplicateSku(_))
        ));
        assert!(matches!(
            chain.decide_add_product(product("LAI-0002", "4006381333931")),
            Err(ChainError::DuplicateBarcode(_))
        ));
    }

    #[test]
    fn a_product_changes_name_category_and_price_but_keeps_its_sku_and_barcode() {
        let mut chain = ChainState::default();
        let milk = product("LAI-0001", "4006381333931");
        chain.apply(&chain.decide_add_product(milk.clone()).expect("added"));
        let sku = milk.sku.clone();
        let same = ProductChange {
            price: Some(milk.price),
            ..ProductChange::default()
        };
        assert_eq!(chain.decide_change_product(&sku, same), Ok(None));
        let dearer = ProductChange {
            price: Some(Cents(549)),
            category: Some("Crèmerie".into()),
            ..ProductChange::default()
        };
        let changed = chain
            .decide_change_product(&sku, dearer)
            .expect("a known product")
            .expect("a change");
        assert_eq!(
            (
                changed.price,
                changed.category.as_str(),
                changed.name.as_str()
            ),
            (Cents(549), "Crèmerie", milk.name.as_str())
        );
        assert_eq!((&changed.sku, &changed.ean13), (&milk.sku, &milk.ean13));
        chain.apply(&ChainEvent::ProductChanged(changed.clone()));
        assert_eq!(chain.product(&sku), Some(&changed));
        let unknown = Sku::parse("LAI-0404").expect("test sku");
        assert_eq!(
            chain.decide_change_product(&unknown, ProductChange::default()),
            Err(ChainError::UnknownProduct(unknown))
        );
    }

    #[test]
    fn product_fields_are_checked_together() {
        let errors = Product::parse("lai 1", "4006381333931", " ", "Lait", -1, Some("luxe"))
            .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, vec!["sku", "name", "price_cents", "tax_class"]);
        let missing = Product::parse("LAI-0001", "4006381333931", "Lait", "Lait", 499, None)
            .expect_err("a class is required");
        assert_eq!(missing[0].0, "tax_class");
        let milk = Product::parse(
            "LAI-0001",
            "4006381333931",
            " Lait 2 % ",
            "Lait",
            499,
            Some("zero_rated"),
        )
        .expect("valid");
        assert_eq!(milk.tax_class, TaxClass::ZeroRated);
        assert_eq!(milk.name, "Lait 2 %");
    }

    #[test]
    fn store_fields_are_checked_together() {
        let errors = NewStore::parse("bad code", "", "Laval", StoreDetails::quebec(""))
            .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, vec!["code", "name"]);
    }
}
