//! Who may do what, and where. The table is DESIGN.md section 4 and the auth issue.

use crate::domain::{Role, StoreId, Username};

use super::AuthError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Catalog, store list: every signed-in user.
    ReadChain,
    /// One product's quantity in every store.
    ReadAvailability,
    ReadStock,
    Sell,
    Return,
    ReadSales,
    Adjust,
    ReadLedger,
    ManageStores,
    ManageUsers,
    /// Add products, change their names, categories and prices: head office.
    ManageCatalog,
    /// File and cancel a store's restock requests.
    RequestRestock,
    /// Follow a store's restock requests.
    ReadRestocks,
    /// Receive a shipment into a store's stock.
    ReceiveRestock,
    /// Logistics center stock and the request queue.
    ReadCentral,
    /// Supplier receipts, allocation, shipping, rejection.
    ManageCentral,
    /// Sales, stock and dashboard figures (a manager's own store; every store for admin).
    ReadReports,
    /// Approve at a till a discount above the store's threshold or a price override.
    ApproveDiscounts,
    /// Jurisdictions, their tax rates, and stores' tax details: head office.
    ManageTaxes,
    /// Verify a store's hash chain: administrators (the auditors' door).
    VerifyJournal,
    /// Register, list and remove webhook endpoints, read their deliveries: administrators.
    ManageWebhooks,
    /// Create and change suppliers: logistics and head office.
    ManageSuppliers,
    /// Approve or refuse units received beyond a purchase order: head office only, so
    /// that whoever receives does not also approve (ADR 0032).
    ApproveOverReceipts,
}

impl Permission {
    /// Every permission, in the order of the table in `docs/permissions.md`. A new
    /// permission goes here too (then the document's test names its row).
    pub const ALL: [Permission; 23] = [
        Permission::ReadChain,
        Permission::ReadAvailability,
        Permission::ReadStock,
        Permission::Sell,
        Permission::Return,
        Permission::ReadSales,
        Permission::Adjust,
        Permission::ReadLedger,
        Permission::ApproveDiscounts,
        Permission::ReadReports,
        Permission::RequestRestock,
        Permission::ReadRestocks,
        Permission::ReceiveRestock,
        Permission::ReadCentral,
        Permission::ManageCentral,
        Permission::ManageSuppliers,
        Permission::ApproveOverReceipts,
        Permission::ManageStores,
        Permission::ManageUsers,
        Permission::ManageCatalog,
        Permission::ManageTaxes,
        Permission::VerifyJournal,
        Permission::ManageWebhooks,
    ];
}

/// The signed-in user a request acts as (from a verified token and the current user record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub username: Username,
    pub role: Role,
    pub store: Option<StoreId>,
}

fn role_allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    match role {
        Role::Admin => true,
        Role::Cashier => matches!(
            permission,
            ReadChain | ReadAvailability | ReadStock | Sell | Return | ReadSales
        ),
        Role::Manager => matches!(
            permission,
            ApproveDiscounts
                | ReadChain
                | ReadAvailability
                | ReadStock
                | Sell
                | Return
                | ReadSales
                | Adjust
                | ReadLedger
                | RequestRestock
                | ReadRestocks
                | ReceiveRestock
                | ReadReports
        ),
        Role::Logistics => matches!(
            permission,
            ReadChain
                | ReadAvailability
                | ReadStock
                | ReadRestocks
                | ReadCentral
                | ManageCentral
                | ManageSuppliers
        ),
    }
}

impl Principal {
    /// A user as the principal of a request.
    pub fn of(user: &crate::domain::User) -> Self {
        Self {
            username: user.username.clone(),
            role: user.role,
            store: user.store,
        }
    }

    /// Allows `permission`, on `store` when the action targets one. A store role acting on
    /// another store gets [`AuthError::ForbiddenStore`].
    pub fn require(&self, permission: Permission, store: Option<StoreId>) -> Result<(), AuthError> {
        if !role_allows(self.role, permission) {
            return Err(AuthError::Forbidden);
        }
        match (self.role.is_store_role(), store, self.store) {
            (true, Some(target), Some(own)) if target != own => Err(AuthError::ForbiddenStore),
            (true, Some(_), None) => Err(AuthError::ForbiddenStore),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, store: Option<u32>) -> Principal {
        Principal {
            username: Username::parse("someone").expect("valid name"),
            role,
            store: store.and_then(|s| StoreId::new(s).ok()),
        }
    }

    #[test]
    fn store_roles_act_on_their_store_only() {
        let one = StoreId::new(1).ok();
        let two = StoreId::new(2).ok();
        let cashier = principal(Role::Cashier, Some(1));
        assert!(cashier.require(Permission::Sell, one).is_ok());
        assert!(matches!(
            cashier.require(Permission::Sell, two),
            Err(AuthError::ForbiddenStore)
        ));
        assert!(matches!(
            cashier.require(Permission::Adjust, one),
            Err(AuthError::Forbidden)
        ));
        let manager = principal(Role::Manager, Some(1));
        assert!(manager.require(Permission::Adjust, one).is_ok());
        assert!(matches!(
            manager.require(Permission::ManageUsers, None),
            Err(AuthError::Forbidden)
        ));
    }

    /// The table of `docs/permissions.md`, as `role_allows` has it.
    fn table() -> String {
        let roles = [Role::Cashier, Role::Manager, Role::Logistics, Role::Admin];
        let mut rows = vec![
            "| permission | cashier | manager | logistics | admin |".to_owned(),
            "|---|:-:|:-:|:-:|:-:|".to_owned(),
        ];
        for permission in Permission::ALL {
            let marks: Vec<&str> = roles
                .iter()
                .map(|r| {
                    if role_allows(*r, permission) {
                        "✓"
                    } else {
                        ""
                    }
                })
                .collect();
            rows.push(format!("| `{permission:?}` | {} |", marks.join(" | ")));
        }
        rows.join("\n")
    }

    #[test]
    fn the_documented_permission_table_is_the_one_enforced() {
        // Read at run time: the image's build context leaves docs/ out.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/permissions.md");
        let doc = std::fs::read_to_string(path).expect("docs/permissions.md is readable");
        let expected = table();
        assert!(
            doc.contains(&expected),
            "docs/permissions.md differs from auth::permission; the table is:\n{expected}"
        );
    }

    #[test]
    fn chain_roles_act_everywhere_they_are_allowed() {
        let two = StoreId::new(2).ok();
        let logistics = principal(Role::Logistics, None);
        assert!(logistics.require(Permission::ReadStock, two).is_ok());
        assert!(matches!(
            logistics.require(Permission::Sell, two),
            Err(AuthError::Forbidden)
        ));
        let admin = principal(Role::Admin, None);
        assert!(admin.require(Permission::Sell, two).is_ok());
        assert!(admin.require(Permission::ManageUsers, None).is_ok());
    }
}
