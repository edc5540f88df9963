//! Sales figures: what a period's sales and returns add up to. The reports keep them per
//! store and per hour; a store keeps them too for the sales it no longer holds one by one
//! ([`SalesHistory`]: sales older than its retention window leave its state at compaction,
//! their figures stay, so the reports of any period are unchanged).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{Rate, Return, Sale, Sku, TaxClass, TaxCode, TaxLine, TenderKind, Timestamp};

pub const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The UTC hour (hours since the epoch) of an instant.
pub fn hour_of(at: Timestamp) -> i64 {
    at.0.div_euclid(HOUR_MS)
}

/// The hours a `[from, to)` period covers: from rounded down, to rounded up.
pub fn hours(from: Timestamp, to: Timestamp) -> std::ops::Range<i64> {
    hour_of(from)..(to.0 + HOUR_MS - 1).div_euclid(HOUR_MS)
}

/// Sums over a period: what the ledgers say, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub sales: u64,
    pub units: u64,
    pub revenue: i64,
    pub returns: u64,
    pub returned_units: u64,
    pub refunds: i64,
}

impl std::ops::AddAssign for Figures {
    fn add_assign(&mut self, other: Figures) {
        self.sales += other.sales;
        self.units += other.units;
        self.revenue += other.revenue;
        self.returns += other.returns;
        self.returned_units += other.returned_units;
        self.refunds += other.refunds;
    }
}

impl Figures {
    pub fn net_revenue(&self) -> i64 {
        self.revenue - self.refunds
    }

    /// Revenue per sale, rounded down to the cent; 0 without sales.
    pub fn average_basket(&self) -> i64 {
        match i64::try_from(self.sales) {
            Ok(n) if n > 0 => self.revenue / n,
            _ => 0,
        }
    }

    /// One sale's figures.
    pub fn of_sale(sale: &Sale) -> Self {
        Self {
            sales: 1,
            units: sale.lines.iter().map(|l| u64::from(l.quantity)).sum(),
            // Before taxes: what the store sold, not what it collects for the governments.
            revenue: sale.subtotal.0,
            ..Self::default()
        }
    }

    /// One return's figures.
    pub fn of_return(ret: &Return) -> Self {
        Self {
            returns: 1,
            returned_units: ret.lines.iter().map(|l| u64::from(l.quantity)).sum(),
            refunds: ret.subtotal.0,
            ..Self::default()
        }
    }
}

/// Units and revenue of one product (sales after discounts, before taxes; returns are in
/// the store figures).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductFigures {
    pub units: u64,
    pub revenue: i64,
}

impl ProductFigures {
    /// What one line of a sale adds to its product.
    pub fn of_line(line: &super::SoldLine) -> Self {
        Self {
            units: u64::from(line.quantity),
            revenue: line.net.0,
        }
    }
}

impl std::ops::AddAssign for ProductFigures {
    fn add_assign(&mut self, other: ProductFigures) {
        self.units += other.units;
        self.revenue += other.revenue;
    }
}

/// Where the money of a sale or a return goes, as the tax, tender and session reports
/// count it: per hour and per store, sold and refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Account {
    /// The taxable amount a tax was computed on, at its rate.
    TaxBase(TaxCode, Rate),
    /// The tax itself.
    Tax(TaxCode, Rate),
    /// Sales after discounts, before taxes, of a tax class (zero-rated and exempt sales are
    /// reported apart from taxable ones).
    Class(TaxClass),
    /// What a tender took in (sales) or gave back (refunds).
    Tender(TenderKind),
    /// What rounding cash totals to 5 cents added.
    CashRounding,
}

impl Account {
    /// A stable key, `tax/GST/5000`, `base/QST/9975`, `class/zero_rated`, `tender/cash`,
    /// `rounding`: how the history stores it.
    pub fn key(self) -> String {
        match self {
            Account::TaxBase(code, rate) => format!("base/{}/{}", code.as_str(), rate.0),
            Account::Tax(code, rate) => format!("tax/{}/{}", code.as_str(), rate.0),
            Account::Class(class) => format!("class/{}", class.as_str()),
            Account::Tender(kind) => format!("tender/{}", kind.as_str()),
            Account::CashRounding => "rounding".to_owned(),
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        let parts: Vec<&str> = key.split('/').collect();
        let tax = |code: &str, rate: &str| Some((TaxCode::parse(code)?, Rate(rate.parse().ok()?)));
        match parts.as_slice() {
            ["base", code, rate] => tax(code, rate).map(|(c, r)| Account::TaxBase(c, r)),
            ["tax", code, rate] => tax(code, rate).map(|(c, r)| Account::Tax(c, r)),
            ["class", class] => TaxClass::parse(class).map(Account::Class),
            ["tender", "cash"] => Some(Account::Tender(TenderKind::Cash)),
            ["tender", "card"] => Some(Account::Tender(TenderKind::Card)),
            ["tender", "other"] => Some(Account::Tender(TenderKind::Other)),
            ["rounding"] => Some(Account::CashRounding),
            _ => None,
        }
    }
}

fn tax_accounts(taxes: &[TaxLine]) -> impl Iterator<Item = (Account, i64)> + '_ {
    taxes.iter().flat_map(|t| {
        [
            (Account::TaxBase(t.code, t.rate), t.base_cents),
            (Account::Tax(t.code, t.rate), t.amount_cents),
        ]
    })
}

/// One store's money of one hour on one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyRow {
    pub store: super::StoreId,
    pub hour: i64,
    pub account: Account,
    pub sold: i64,
    pub refunded: i64,
}

/// Where a sale's money goes.
pub fn accounts_of_sale(sale: &Sale) -> Vec<(Account, i64)> {
    let classes = sale
        .lines
        .iter()
        .map(|l| (Account::Class(l.tax_class), l.net.0));
    let tenders = sale
        .tenders
        .iter()
        .map(|t| (Account::Tender(t.kind), t.amount.0));
    tax_accounts(&sale.taxes)
        .chain(classes)
        .chain(tenders)
        .chain(std::iter::once((
            Account::CashRounding,
            sale.cash_rounding.0,
        )))
        .collect()
}

/// Where a refund's money comes from.
pub fn accounts_of_return(ret: &Return) -> Vec<(Account, i64)> {
    let classes = ret
        .lines
        .iter()
        .map(|l| (Account::Class(l.tax_class), l.net.0));
    let tenders = ret
        .tenders
        .iter()
        .map(|t| (Account::Tender(t.kind), t.amount.0));
    tax_accounts(&ret.taxes)
        .chain(classes)
        .chain(tenders)
        .chain(std::iter::once((
            Account::CashRounding,
            ret.cash_rounding.0,
        )))
        .collect()
}

/// What a store keeps of the sales and returns it no longer holds one by one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesHistory {
    /// Per UTC hour: the figures of the sales and returns let go.
    pub hours: BTreeMap<i64, Figures>,
    /// Per UTC day (days since the epoch): what each product sold (per day, not per hour:
    /// a store sells hundreds of products a day, and this is kept for years).
    pub products: BTreeMap<i64, BTreeMap<Sku, ProductFigures>>,
    /// The highest sale and return ids ever given: new ids never reuse one let go.
    pub last_sale: u64,
    pub last_return: u64,
}

impl SalesHistory {
    pub fn add_sale(&mut self, sale: &Sale) {
        *self.hours.entry(hour_of(sale.at)).or_default() += Figures::of_sale(sale);
        let day = self
            .products
            .entry(sale.at.0.div_euclid(DAY_MS))
            .or_default();
        for line in &sale.lines {
            *day.entry(line.sku.clone()).or_default() += ProductFigures::of_line(line);
        }
        self.last_sale = self.last_sale.max(sale.id.0);
    }

    pub fn add_return(&mut self, ret: &Return) {
        *self.hours.entry(hour_of(ret.at)).or_default() += Figures::of_return(ret);
        self.last_return = self.last_return.max(ret.id.0);
    }

    /// The first hour of a day of [`SalesHistory::products`].
    pub fn first_hour_of_day(day: i64) -> i64 {
        day * 24
    }
}
