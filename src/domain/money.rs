//! Money in integer minor units (cents, CAD). Never a float: a till that drifts by a cent
//! per thousand sales is a till nobody trusts.

use serde::{Deserialize, Serialize};
use std::iter::Sum;
use std::ops::{Add, Mul};

use super::ValueError;

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Cents(pub i64);

impl Cents {
    /// The highest shelf price accepted for one unit: 1,000,000.00 $.
    pub const MAX_PRICE: i64 = 100_000_000;

    /// A shelf price: zero (a free item) up to [`Cents::MAX_PRICE`].
    pub fn price(raw: i64) -> Result<Self, ValueError> {
        if (0..=Self::MAX_PRICE).contains(&raw) {
            Ok(Self(raw))
        } else {
            Err(ValueError::Price)
        }
    }
}

impl Add for Cents {
    type Output = Cents;
    fn add(self, rhs: Cents) -> Cents {
        Cents(self.0 + rhs.0)
    }
}

impl Mul<u32> for Cents {
    type Output = Cents;
    fn mul(self, rhs: u32) -> Cents {
        Cents(self.0 * i64::from(rhs))
    }
}

impl Sum for Cents {
    fn sum<I: Iterator<Item = Cents>>(iter: I) -> Cents {
        iter.fold(Cents(0), Add::add)
    }
}
