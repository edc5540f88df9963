//! Identifiers and small value types that carry their own validation.
//!
//! Parse at the edge, then trust: once a `Sku` or a `Quantity` exists it is valid, and no
//! code past the HTTP layer checks it again. Do not add a constructor that skips the checks.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

use super::ValueError;

/// A store of the chain. Ids start at 1; 0 is never a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StoreId(u32);

impl StoreId {
    pub fn new(raw: u32) -> Result<Self, ValueError> {
        if raw == 0 {
            return Err(ValueError::StoreId);
        }
        Ok(Self(raw))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Stock keeping unit: 3 to 32 characters, uppercase ASCII letters, digits and `-`.
/// Shared, not copied: a store's state points every sale line at its stock line's SKU.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Sku(Arc<str>);

/// A code of the chain (SKU, store, supplier): `len` characters of A-Z, 0-9 and `-`.
pub(super) fn is_code(raw: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

impl Sku {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if is_code(raw, 3..=Self::MAX_LEN) {
            Ok(Self(raw.into()))
        } else {
            Err(ValueError::Sku)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A GS1 EAN-13 barcode, check digit verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ean13(String);

impl Ean13 {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let digits: Vec<u32> = raw.chars().filter_map(|c| c.to_digit(10)).collect();
        if raw.len() != 13 || digits.len() != 13 {
            return Err(ValueError::Ean13);
        }
        let weighted: u32 = digits[..12]
            .iter()
            .enumerate()
            .map(|(i, d)| if i % 2 == 0 { *d } else { d * 3 })
            .sum();
        let check = (10 - weighted % 10) % 10;
        if check != digits[12] {
            return Err(ValueError::Ean13);
        }
        Ok(Self(raw.to_owned()))
    }

    /// True when `raw` looks like a barcode a scanner typed (13 digits), valid or not.
    pub fn looks_like(raw: &str) -> bool {
        raw.len() == 13 && raw.bytes().all(|b| b.is_ascii_digit())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ean13 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A positive number of units, bounded so that no sum of a sale can overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Quantity(u32);

impl Quantity {
    /// The most units one line of a sale, return or adjustment may move.
    pub const MAX: u32 = 10_000;

    pub fn new(raw: i64) -> Result<Self, ValueError> {
        match u32::try_from(raw) {
            Ok(q) if (1..=Self::MAX).contains(&q) => Ok(Self(q)),
            _ => Err(ValueError::Quantity),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Number of a sale within its store (1, 2, 3, …): what the receipt prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SaleId(pub u64);

/// Number of a return within its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReturnId(pub u64);

/// Number of a stock adjustment within its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AdjustmentId(pub u64);

/// Milliseconds since the Unix epoch, UTC. The domain never reads the clock: callers pass it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// `2026-11-24T14:05:00.123Z`; empty for an instant outside the calendar's range.
    pub fn rfc3339(self) -> String {
        use time::format_description::well_known::Rfc3339;
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ean13_check_digit_is_verified() {
        assert!(Ean13::parse("4006381333931").is_ok());
        assert_eq!(Ean13::parse("4006381333932"), Err(ValueError::Ean13));
        assert_eq!(Ean13::parse("400638133393"), Err(ValueError::Ean13));
        assert_eq!(Ean13::parse("40063813339３1"), Err(ValueError::Ean13));
    }

    #[test]
    fn sku_rejects_lowercase_and_bad_lengths() {
        assert!(Sku::parse("EPI-0001").is_ok());
        assert_eq!(Sku::parse("epi-0001"), Err(ValueError::Sku));
        assert_eq!(Sku::parse("AB"), Err(ValueError::Sku));
        assert_eq!(Sku::parse(&"A".repeat(33)), Err(ValueError::Sku));
    }

    #[test]
    fn quantity_is_positive_and_bounded() {
        assert_eq!(Quantity::new(0), Err(ValueError::Quantity));
        assert_eq!(Quantity::new(-3), Err(ValueError::Quantity));
        assert_eq!(Quantity::new(10_001), Err(ValueError::Quantity));
        assert_eq!(Quantity::new(10_000).map(Quantity::get), Ok(10_000));
    }

    #[test]
    fn store_zero_is_not_a_store() {
        assert_eq!(StoreId::new(0), Err(ValueError::StoreId));
        assert_eq!(StoreId::new(7).map(StoreId::get), Ok(7));
    }
}
