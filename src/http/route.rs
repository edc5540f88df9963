//! What the HTTP layer reads of a request's path before routing it: the store it is about,
//! as HAProxy reads it, so that a request reaching an instance that does not own its store
//! is answered 421 naming the owner (`observe.rs`).

use crate::domain::StoreId;

/// The store a request path is about, read as HAProxy reads it
/// (`haproxy/magasin.lua`): `/api/v1/stores/<id>…`, or a restock request of the
/// logistics center, `/api/v1/logistics/restock-requests/<id>-<number>…` (its store's
/// actor holds it). Decimal digits, leading zeros allowed.
pub fn store_in_path(path: &str) -> Option<StoreId> {
    let (rest, dash) = match path.strip_prefix("/api/v1/stores/") {
        Some(rest) => (rest, false),
        None => (
            path.strip_prefix("/api/v1/logistics/restock-requests/")?,
            true,
        ),
    };
    let end = rest.find(|c: char| !c.is_ascii_digit());
    let digits = end.map_or(rest, |end| &rest[..end]);
    if dash && !end.is_some_and(|end| rest[end..].starts_with('-')) {
        return None;
    }
    if digits.is_empty() || digits.len() > 10 {
        return None;
    }
    digits
        .parse::<u32>()
        .ok()
        .and_then(|id| StoreId::new(id).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_ids_are_read_from_paths_as_haproxy_reads_them() {
        let id = |n| StoreId::new(n).ok();
        assert_eq!(store_in_path("/api/v1/stores/7/sales"), id(7));
        assert_eq!(store_in_path("/api/v1/stores/007"), id(7));
        assert_eq!(store_in_path("/api/v1/stores/4294967295/x"), id(u32::MAX));
        assert_eq!(
            store_in_path("/api/v1/logistics/restock-requests/12-3/allocate"),
            id(12)
        );
        for other in [
            "/api/v1/stores",
            "/api/v1/stores/",
            "/api/v1/stores/0/sales",
            "/api/v1/stores/abc",
            "/api/v1/stores/99999999999",
            "/api/v1/stores/4294967296",
            "/api/v1/products",
            "/api/v1/logistics/restock-requests",
            "/api/v1/logistics/restock-requests/12",
            "/api/v1/logistics/restock-requests/x-1/ship",
        ] {
            assert_eq!(store_in_path(other), None, "{other}");
        }
    }
}
