//! Sales taxes as a receipt computes them (Canada: GST, QST, HST), and the rounding of a
//! cash total to 5 cents. Sources and the rules' reasons: `docs/research/sales-taxes-sources.md`.
//!
//! - Each tax is computed on the receipt's taxable amount (after discounts), not line by
//!   line, and rounded half up to the cent (Revenu Québec allows the receipt total; a half
//!   cent or more counts as a cent). QST is on the price before GST, never on GST.
//! - Zero-rated and exempt lines carry no tax; they are kept apart because they are
//!   reported apart.
//! - A receipt's tax is shared back over its lines by largest remainder, so that the
//!   lines' shares add up to the receipt's tax to the cent (a full return refunds exactly
//!   what was collected).
//! - Only a total paid in cash is rounded, to the nearest 5 cents (…1, …2 → …0; …3, …4 →
//!   …5; …6, …7 → …5; …8, …9 → next …0); the taxes themselves never are.

use serde::{Deserialize, Serialize};

/// A sales tax, as named on a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaxCode {
    Gst,
    Qst,
    Hst,
}

impl TaxCode {
    pub fn as_str(self) -> &'static str {
        match self {
            TaxCode::Gst => "GST",
            TaxCode::Qst => "QST",
            TaxCode::Hst => "HST",
        }
    }
}

/// How a product is taxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaxClass {
    /// Taxed at every rate of the store's jurisdiction.
    Taxable,
    /// Taxed at 0 % (basic groceries): no tax, reported as zero-rated.
    ZeroRated,
    /// Not taxed, reported as exempt.
    Exempt,
}

impl TaxClass {
    /// `taxable`, `zero_rated` or `exempt`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "taxable" => Some(TaxClass::Taxable),
            "zero_rated" => Some(TaxClass::ZeroRated),
            "exempt" => Some(TaxClass::Exempt),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaxClass::Taxable => "taxable",
            TaxClass::ZeroRated => "zero_rated",
            TaxClass::Exempt => "exempt",
        }
    }
}

/// A tax rate in hundred-thousandths: 5 % is 5,000, 9.975 % is 9,975, 13 % is 13,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rate(pub u32);

const RATE_SCALE: i128 = 100_000;

impl Rate {
    /// The tax on `base_cents`, rounded half away from zero to the cent (a refund's tax is
    /// the sale's, negated).
    pub fn of(self, base_cents: i64) -> i64 {
        let exact = i128::from(base_cents) * i128::from(self.0);
        let rounded = (exact.abs() + RATE_SCALE / 2) / RATE_SCALE;
        let signed = if exact < 0 { -rounded } else { rounded };
        i64::try_from(signed).unwrap_or(if exact < 0 { i64::MIN } else { i64::MAX })
    }
}

/// One tax of a receipt: its rate, the amount it was computed on, and the tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    pub code: TaxCode,
    pub rate: Rate,
    pub base_cents: i64,
    pub amount_cents: i64,
}

/// The taxes of a receipt whose lines are `(amount after discounts, class)`, at `rates`
/// (the store's jurisdiction on the day of the sale): one entry per rate, on the sum of the
/// taxable lines.
pub fn receipt_taxes(lines: &[(i64, TaxClass)], rates: &[(TaxCode, Rate)]) -> Vec<TaxLine> {
    let base: i64 = lines
        .iter()
        .filter(|(_, class)| *class == TaxClass::Taxable)
        .map(|(amount, _)| *amount)
        .sum();
    rates
        .iter()
        .map(|&(code, rate)| TaxLine {
            code,
            rate,
            base_cents: base,
            amount_cents: rate.of(base),
        })
        .collect()
}

/// Shares `total` over `weights` in proportion, to the cent: each share rounded down, the
/// cents left given to the largest remainders (ties to the first). The shares add up to
/// `total`; a weight of zero gets nothing.
pub fn share(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(i128, i128)> = weights
        .iter()
        .map(|w| {
            let product = i128::from(total) * i128::from(*w);
            (product.div_euclid(sum), product.rem_euclid(sum))
        })
        .collect();
    let given: i128 = exact.iter().map(|(q, _)| q).sum();
    let mut left = i128::from(total) - given;
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    let mut shares: Vec<i128> = exact.iter().map(|(q, _)| *q).collect();
    for index in order {
        if left == 0 {
            break;
        }
        shares[index] += 1;
        left -= 1;
    }
    shares
        .into_iter()
        .map(|s| i64::try_from(s).unwrap_or(0))
        .collect()
}

/// What rounding a cash total to the nearest 5 cents adds (−2 to +2 cents).
pub fn cash_rounding(total_cents: i64) -> i64 {
    let rest = total_cents.rem_euclid(5);
    if rest <= 2 { -rest } else { 5 - rest }
}

impl Rate {
    /// A percentage written as a decimal (`5`, `9.975`, `13`): at most 3 decimals, from 0 to
    /// 100 %. Never through a float: `9.975` is 9,975 hundred-thousandths exactly.
    pub fn parse_percent(raw: &str) -> Option<Self> {
        let (whole, fraction) = raw.trim().split_once('.').unwrap_or((raw.trim(), ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || whole.len() > 3
            || fraction.len() > 3
            || !digits(whole)
            || !digits(fraction)
        {
            return None;
        }
        let whole: u32 = whole.parse().ok()?;
        let fraction: u32 = format!("{fraction:0<3}").parse().ok()?;
        let rate = whole * 1_000 + fraction;
        (rate <= 100_000).then_some(Self(rate))
    }

    /// As a receipt prints it: `5`, `9,975`, `13` (decimal comma, no trailing zero).
    pub fn percent_fr(self) -> String {
        self.percent().replace('.', ",")
    }

    /// `5`, `9.975`, `13`.
    pub fn percent(self) -> String {
        let whole = self.0 / 1_000;
        let fraction = self.0 % 1_000;
        if fraction == 0 {
            return whole.to_string();
        }
        let fraction = format!("{fraction:03}");
        format!("{whole}.{}", fraction.trim_end_matches('0'))
    }
}

impl TaxCode {
    /// `GST`, `QST` or `HST`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "GST" => Some(TaxCode::Gst),
            "QST" => Some(TaxCode::Qst),
            "HST" => Some(TaxCode::Hst),
            _ => None,
        }
    }
}

/// The first instant of `date` (`2013-01-01`) in `time_zone`, in ms since the epoch; `None`
/// for a date or a zone that is not one. (The zone database is data built into the binary.)
pub fn start_of_day(date: &str, time_zone: &str) -> Option<i64> {
    let day: jiff::civil::Date = date.parse().ok()?;
    let zone = jiff::tz::TimeZone::get(time_zone).ok()?;
    let zoned = day.to_zoned_datetime(zone).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

/// A tax rate of a jurisdiction from a date on: it applies to sales made from `from` (the
/// first instant of that day in the jurisdiction's time zone) until the next rate of the
/// same tax. A rate of 0 ends a tax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatedRate {
    pub code: TaxCode,
    pub rate: Rate,
    /// The day as written in law: `2013-01-01`.
    pub from_date: String,
    /// That day's first instant where the jurisdiction is, in ms since the epoch.
    pub from: i64,
}

/// A place whose sales taxes a store collects (`QC`, `ON`): data, not code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jurisdiction {
    /// `QC`, `ON`: 2 to 8 characters, A-Z and digits.
    pub code: String,
    pub name: String,
    /// IANA time zone where its dates start (`America/Toronto`).
    pub time_zone: String,
    /// Every rate ever in force, in the order given.
    pub rates: Vec<DatedRate>,
}

impl Jurisdiction {
    /// The rates in force at `at` (ms since the epoch), in the order their taxes print
    /// (GST, QST, HST), without the taxes at 0 %.
    pub fn rates_at(&self, at: i64) -> Vec<(TaxCode, Rate)> {
        let mut current: Vec<(TaxCode, i64, Rate)> = Vec::with_capacity(2);
        for dated in self.rates.iter().filter(|r| r.from <= at) {
            match current.iter_mut().find(|(code, _, _)| *code == dated.code) {
                Some(slot) if slot.1 <= dated.from => *slot = (dated.code, dated.from, dated.rate),
                Some(_) => {}
                None => current.push((dated.code, dated.from, dated.rate)),
            }
        }
        current.sort_by_key(|(code, _, _)| *code);
        current
            .into_iter()
            .filter(|(_, _, rate)| rate.0 > 0)
            .map(|(code, _, rate)| (code, rate))
            .collect()
    }

    /// A jurisdiction code: 2 to 8 characters, A-Z and 0-9.
    pub fn valid_code(code: &str) -> bool {
        (2..=8).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GST: (TaxCode, Rate) = (TaxCode::Gst, Rate(5_000));
    const QST: (TaxCode, Rate) = (TaxCode::Qst, Rate(9_975));
    const HST: (TaxCode, Rate) = (TaxCode::Hst, Rate(13_000));

    /// The tax by decimal arithmetic on strings of digits, independent of `Rate::of`:
    /// base × rate in hundred-thousandths of a cent, then half up.
    fn by_hand(base: i64, rate: u32) -> i64 {
        let exact = u128::from(base.unsigned_abs()) * u128::from(rate);
        let digits = format!("{exact:06}");
        let (cents, fraction) = digits.split_at(digits.len() - 5);
        let mut cents: i64 = cents.parse().expect("digits");
        if fraction.as_bytes()[0] >= b'5' {
            cents += 1;
        }
        if base < 0 { -cents } else { cents }
    }

    #[test]
    fn a_quebec_receipt_taxes_the_taxable_line_only_and_qst_is_not_on_gst() {
        let lines = [(1_000, TaxClass::Taxable), (459, TaxClass::ZeroRated)];
        let taxes = receipt_taxes(&lines, &[GST, QST]);
        let amounts: Vec<(&str, i64, i64)> = taxes
            .iter()
            .map(|t| (t.code.as_str(), t.base_cents, t.amount_cents))
            .collect();
        // 10.00 $: GST 0.50, QST 0.9975 → 1.00 (on 10.00, not on 10.50).
        assert_eq!(amounts, [("GST", 1_000, 50), ("QST", 1_000, 100)]);
    }

    #[test]
    fn an_ontario_receipt_has_one_harmonized_tax() {
        let taxes = receipt_taxes(&[(1_999, TaxClass::Taxable)], &[HST]);
        // 19.99 × 13 % = 2.5987 → 2.60.
        assert_eq!(taxes[0].amount_cents, 260);
        assert_eq!(taxes[0].code.as_str(), "HST");
    }

    #[test]
    fn a_half_cent_rounds_up() {
        // 0.10 $ × 5 % = 0.005 → 0.01; 0.09 $ × 5 % = 0.0045 → 0.00.
        assert_eq!(Rate(5_000).of(10), 1);
        assert_eq!(Rate(5_000).of(9), 0);
        assert_eq!(Rate(5_000).of(-10), -1);
    }

    #[test]
    fn cash_rounds_by_the_table_of_2013() {
        let table = [
            (100, 100),
            (101, 100),
            (102, 100),
            (103, 105),
            (104, 105),
            (105, 105),
            (106, 105),
            (107, 105),
            (108, 110),
            (109, 110),
        ];
        for (total, paid) in table {
            assert_eq!(total + cash_rounding(total), paid, "{total}");
        }
    }

    #[test]
    fn class_names_read_back() {
        for class in [TaxClass::Taxable, TaxClass::ZeroRated, TaxClass::Exempt] {
            assert_eq!(TaxClass::parse(class.as_str()), Some(class));
        }
        assert_eq!(TaxClass::parse("luxe"), None);
    }

    #[test]
    fn percentages_parse_exactly_and_print_back() {
        assert_eq!(Rate::parse_percent("9.975"), Some(QST.1));
        assert_eq!(Rate::parse_percent("5"), Some(GST.1));
        assert_eq!(Rate::parse_percent("13.0"), Some(HST.1));
        for bad in ["", "-5", "9.9751", "101", "5,5", "a"] {
            assert_eq!(Rate::parse_percent(bad), None, "{bad}");
        }
        assert_eq!(QST.1.percent_fr(), "9,975");
        assert_eq!(HST.1.percent(), "13");
    }

    #[test]
    fn a_rate_applies_from_its_date_and_past_rates_stay_in_the_past() {
        let dated = |code, rate, from| DatedRate {
            code,
            rate: Rate(rate),
            from_date: String::new(),
            from,
        };
        let quebec = Jurisdiction {
            code: "QC".into(),
            name: "Québec".into(),
            time_zone: "America/Toronto".into(),
            rates: vec![
                dated(TaxCode::Qst, 8_500, 0),
                dated(TaxCode::Gst, 5_000, 0),
                dated(TaxCode::Qst, 9_975, 1_000),
                dated(TaxCode::Gst, 0, 5_000),
            ],
        };
        assert_eq!(quebec.rates_at(999), [GST, (TaxCode::Qst, Rate(8_500))]);
        assert_eq!(quebec.rates_at(1_000), [GST, QST]);
        assert_eq!(quebec.rates_at(5_000), [QST]);
        assert_eq!(quebec.rates_at(-1), []);
    }

    proptest! {
        #[test]
        fn taxes_equal_an_independent_computation(
            lines in proptest::collection::vec((0_i64..500_000, 0_u8..3), 1..30)
        ) {
            let classes = [TaxClass::Taxable, TaxClass::ZeroRated, TaxClass::Exempt];
            let lines: Vec<(i64, TaxClass)> =
                lines.into_iter().map(|(a, c)| (a, classes[usize::from(c)])).collect();
            let base: i64 = lines.iter().filter(|l| l.1 == TaxClass::Taxable).map(|l| l.0).sum();
            for tax in receipt_taxes(&lines, &[GST, QST, HST]) {
                prop_assert_eq!(tax.base_cents, base);
                prop_assert_eq!(tax.amount_cents, by_hand(base, tax.rate.0));
            }
        }

        #[test]
        fn shares_add_up_to_the_total_and_follow_the_weights(
            total in 0_i64..1_000_000,
            weights in proptest::collection::vec(0_i64..100_000, 1..30)
        ) {
            let shares = share(total, &weights);
            let sum: i64 = weights.iter().sum();
            prop_assert_eq!(shares.iter().sum::<i64>(), if sum == 0 { 0 } else { total });
            for (s, w) in shares.iter().zip(&weights) {
                // Each share is its exact part, rounded down or up by less than a cent.
                let exact = i128::from(total) * i128::from(*w);
                let s = i128::from(*s) * i128::from(sum.max(1));
                prop_assert!(sum == 0 || (s - exact).abs() < i128::from(sum));
            }
        }

        #[test]
        fn a_cash_total_becomes_a_multiple_of_5_cents_moved_by_at_most_2(total in -1_000_000_i64..1_000_000) {
            let adjusted = total + cash_rounding(total);
            prop_assert_eq!(adjusted.rem_euclid(5), 0);
            prop_assert!(cash_rounding(total).abs() <= 2);
        }
    }
}
