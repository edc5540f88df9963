//! What the tills took in, for accounting: the taxes collected per jurisdiction and tax
//! (what the chain remits), the tenders per day, and the closed sessions with their
//! over/short. Assembled from every instance's [`TillPart`]; each report also flattens to
//! CSV rows.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::CatalogView;
use super::report::Coverage;
use crate::domain::{
    Account, HOUR_MS, MoneyRow, Rate, StoreId, TaxClass, TaxCode, TenderKind, TillReport, Timestamp,
};

/// One instance's answer for the stores it owns: money per hour and account, and the Z
/// reports closed in the period.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TillPart {
    pub money: Vec<MoneyRow>,
    pub sessions: Vec<TillReport>,
}

/// Every instance's parts, side by side.
#[derive(Default)]
pub struct TillSum {
    pub money: Vec<MoneyRow>,
    pub sessions: Vec<TillReport>,
}

impl TillSum {
    pub fn of(parts: Vec<TillPart>) -> Self {
        let mut sum = TillSum::default();
        for part in parts {
            sum.money.extend(part.money);
            sum.sessions.extend(part.sessions);
        }
        sum.sessions
            .sort_by_key(|r| (r.store, r.closing.as_ref().map(|c| c.z_number)));
        sum
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TaxTotalLine {
    code: &'static str,
    /// Percent, as a decimal: `9.975`.
    rate: String,
    /// Taxable sales less taxable refunds, after discounts.
    taxable_cents: i64,
    collected_cents: i64,
    refunded_cents: i64,
    /// Collected less refunded: what is remitted.
    net_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClassLine {
    /// `taxable`, `zero_rated` or `exempt`.
    class: &'static str,
    sold_cents: i64,
    refunded_cents: i64,
    net_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JurisdictionTaxes {
    code: String,
    name: String,
    stores: Vec<u32>,
    taxes: Vec<TaxTotalLine>,
    /// Sales after discounts, before taxes, per tax class (zero-rated and exempt apart).
    sales_by_class: Vec<ClassLine>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TaxReport {
    from: String,
    to: String,
    jurisdictions: Vec<JurisdictionTaxes>,
    coverage: Coverage,
}

/// (sold, refunded) per account.
type Balances = BTreeMap<Account, (i64, i64)>;

fn jurisdiction_of(catalog: &CatalogView, store: StoreId) -> String {
    catalog
        .store(store)
        .map(|s| s.jurisdiction)
        .unwrap_or_default()
}

/// Taxes collected and refunded per jurisdiction and tax, over the period.
pub fn tax_report(
    catalog: &CatalogView,
    (from, to): (Timestamp, Timestamp),
    sum: &TillSum,
    coverage: Coverage,
) -> TaxReport {
    // (jurisdiction) → (account) → (sold, refunded), and its stores.
    let mut by_place: BTreeMap<String, (Balances, Vec<u32>)> = BTreeMap::new();
    for row in &sum.money {
        let place = by_place
            .entry(jurisdiction_of(catalog, row.store))
            .or_default();
        let slot = place.0.entry(row.account).or_default();
        slot.0 += row.sold;
        slot.1 += row.refunded;
        if !place.1.contains(&row.store.get()) {
            place.1.push(row.store.get());
        }
    }
    let jurisdictions = by_place
        .into_iter()
        .map(|(code, (accounts, mut stores))| {
            stores.sort_unstable();
            jurisdiction_taxes(catalog, code, &accounts, stores)
        })
        .collect();
    TaxReport {
        from: from.rfc3339(),
        to: to.rfc3339(),
        jurisdictions,
        coverage,
    }
}

fn jurisdiction_taxes(
    catalog: &CatalogView,
    code: String,
    accounts: &Balances,
    stores: Vec<u32>,
) -> JurisdictionTaxes {
    let get = |account: Account| accounts.get(&account).copied().unwrap_or_default();
    let taxes: Vec<(TaxCode, Rate)> = accounts
        .keys()
        .filter_map(|a| match a {
            Account::Tax(code, rate) => Some((*code, *rate)),
            _ => None,
        })
        .collect();
    let classes = [TaxClass::Taxable, TaxClass::ZeroRated, TaxClass::Exempt];
    JurisdictionTaxes {
        name: catalog
            .jurisdiction(&code)
            .map(|j| j.name)
            .unwrap_or_default(),
        code,
        stores,
        taxes: taxes
            .into_iter()
            .map(|(code, rate)| {
                let (base_sold, base_back) = get(Account::TaxBase(code, rate));
                let (collected, refunded) = get(Account::Tax(code, rate));
                TaxTotalLine {
                    code: code.as_str(),
                    rate: rate.percent(),
                    taxable_cents: base_sold - base_back,
                    collected_cents: collected,
                    refunded_cents: refunded,
                    net_cents: collected - refunded,
                }
            })
            .collect(),
        sales_by_class: classes
            .into_iter()
            .map(|class| {
                let (sold, refunded) = get(Account::Class(class));
                ClassLine {
                    class: class.as_str(),
                    sold_cents: sold,
                    refunded_cents: refunded,
                    net_cents: sold - refunded,
                }
            })
            .collect(),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TenderLine {
    #[serde(rename = "type")]
    kind: &'static str,
    taken_cents: i64,
    refunded_cents: i64,
    net_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TenderDay {
    /// The day in the chain's time zone: `2026-12-04`.
    day: String,
    tenders: Vec<TenderLine>,
    cash_rounding_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TenderReport {
    from: String,
    to: String,
    days: Vec<TenderDay>,
    totals: Vec<TenderLine>,
    coverage: Coverage,
}

fn tender_lines(by_kind: &BTreeMap<TenderKind, (i64, i64)>) -> Vec<TenderLine> {
    by_kind
        .iter()
        .map(|(kind, (taken, refunded))| TenderLine {
            kind: kind.as_str(),
            taken_cents: *taken,
            refunded_cents: *refunded,
            net_cents: taken - refunded,
        })
        .collect()
}

/// The local day (`2026-12-04`) of a UTC hour in `zone`.
fn day_of(hour: i64, zone: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(hour * HOUR_MS)
        .map(|t| t.to_zoned_datetime(zone.clone()).date().to_string())
        .unwrap_or_default()
}

/// What each tender took in and gave back, per day of the chain's time zone.
pub fn tender_report(
    (from, to): (Timestamp, Timestamp),
    sum: &TillSum,
    zone: &jiff::tz::TimeZone,
    coverage: Coverage,
) -> TenderReport {
    type Day = (BTreeMap<TenderKind, (i64, i64)>, i64);
    let mut days: BTreeMap<String, Day> = BTreeMap::new();
    let mut totals: BTreeMap<TenderKind, (i64, i64)> = BTreeMap::new();
    for row in &sum.money {
        let day = days.entry(day_of(row.hour, zone)).or_default();
        match row.account {
            Account::Tender(kind) => {
                for slot in [
                    day.0.entry(kind).or_default(),
                    totals.entry(kind).or_default(),
                ] {
                    slot.0 += row.sold;
                    slot.1 += row.refunded;
                }
            }
            Account::CashRounding => day.1 += row.sold - row.refunded,
            _ => {}
        }
    }
    TenderReport {
        from: from.rfc3339(),
        to: to.rfc3339(),
        days: days
            .into_iter()
            .map(|(day, (kinds, rounding))| TenderDay {
                day,
                tenders: tender_lines(&kinds),
                cash_rounding_cents: rounding,
            })
            .collect(),
        totals: tender_lines(&totals),
        coverage,
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionLine {
    store_id: u32,
    till: u8,
    z_number: u64,
    session: u64,
    opened_at: String,
    opened_by: String,
    closed_at: String,
    closed_by: String,
    float_cents: i64,
    sales_count: u32,
    total_cents: i64,
    cash_expected_cents: i64,
    counted_cash_cents: i64,
    /// Counted less expected: negative when short.
    over_short_cents: i64,
    reason: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionReport {
    from: String,
    to: String,
    sessions: Vec<SessionLine>,
    over_short_total_cents: i64,
    coverage: Coverage,
}

/// The sessions closed in the period, with their over/short.
pub fn session_report(
    (from, to): (Timestamp, Timestamp),
    sum: TillSum,
    coverage: Coverage,
) -> SessionReport {
    let sessions: Vec<SessionLine> = sum
        .sessions
        .into_iter()
        .filter_map(|r| {
            let closing = r.closing?;
            Some(SessionLine {
                store_id: r.store.get(),
                till: r.till.get(),
                z_number: closing.z_number,
                session: r.session,
                opened_at: r.opened_at.rfc3339(),
                opened_by: r.opened_by.to_string(),
                closed_at: closing.closed_at.rfc3339(),
                closed_by: closing.closed_by.to_string(),
                float_cents: r.float.0,
                sales_count: r.totals.sales,
                total_cents: r.totals.total,
                cash_expected_cents: r.cash_expected,
                counted_cash_cents: closing.count.counted.0,
                over_short_cents: closing.over_short,
                reason: closing.count.reason,
            })
        })
        .collect();
    SessionReport {
        from: from.rfc3339(),
        to: to.rfc3339(),
        over_short_total_cents: sessions.iter().map(|s| s.over_short_cents).sum(),
        sessions,
        coverage,
    }
}

/// A report as CSV rows: a header, then one row per line of the report.
pub trait CsvRows {
    fn header(&self) -> Vec<&'static str>;
    fn rows(&self) -> Vec<Vec<String>>;
}

impl CsvRows for TaxReport {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "jurisdiction",
            "tax",
            "rate",
            "taxable_cents",
            "collected_cents",
            "refunded_cents",
            "net_cents",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.jurisdictions
            .iter()
            .flat_map(|j| {
                j.taxes.iter().map(|t| {
                    vec![
                        j.code.clone(),
                        t.code.to_owned(),
                        t.rate.clone(),
                        t.taxable_cents.to_string(),
                        t.collected_cents.to_string(),
                        t.refunded_cents.to_string(),
                        t.net_cents.to_string(),
                    ]
                })
            })
            .collect()
    }
}

impl CsvRows for TenderReport {
    fn header(&self) -> Vec<&'static str> {
        vec!["day", "type", "taken_cents", "refunded_cents", "net_cents"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.days
            .iter()
            .flat_map(|d| {
                d.tenders.iter().map(|t| {
                    vec![
                        d.day.clone(),
                        t.kind.to_owned(),
                        t.taken_cents.to_string(),
                        t.refunded_cents.to_string(),
                        t.net_cents.to_string(),
                    ]
                })
            })
            .collect()
    }
}

impl CsvRows for SessionReport {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "store_id",
            "till",
            "z_number",
            "closed_at",
            "closed_by",
            "sales_count",
            "total_cents",
            "cash_expected_cents",
            "counted_cash_cents",
            "over_short_cents",
            "reason",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.sessions
            .iter()
            .map(|s| {
                vec![
                    s.store_id.to_string(),
                    s.till.to_string(),
                    s.z_number.to_string(),
                    s.closed_at.clone(),
                    s.closed_by.clone(),
                    s.sales_count.to_string(),
                    s.total_cents.to_string(),
                    s.cash_expected_cents.to_string(),
                    s.counted_cash_cents.to_string(),
                    s.over_short_cents.to_string(),
                    s.reason.clone().unwrap_or_default(),
                ]
            })
            .collect()
    }
}
