//! The till: what a sale costs (discounts, then taxes), how it is paid (cash with change and
//! rounding to 5 cents, card, split), receipt numbers, till sessions with their X and Z
//! reports, and refunds at what was paid. Pure values and functions; the store's state
//! (`store.rs`) calls them and journals what they return. Rules and sources: ADR 0023.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::tax::{Rate, TaxClass, TaxCode, TaxLine, cash_rounding, receipt_taxes, share};
use super::{Cents, StoreId, Timestamp, Username, ValueError};

/// A till of a store: 1 to 99 (printed on two digits in receipt numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TillNumber(u8);

impl TillNumber {
    pub const MAX: u8 = 99;

    pub fn new(raw: i64) -> Result<Self, ValueError> {
        match u8::try_from(raw) {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(ValueError::Till),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for TillNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A receipt's number: store, till and the till's own gap-free sequence, `1-02-000123`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptNumber {
    pub store: StoreId,
    pub till: TillNumber,
    pub number: u64,
}

impl fmt::Display for ReceiptNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}-{:06}", self.store, self.till.0, self.number)
    }
}

/// Where a till sale or refund was rung: the till, its session and the receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtTill {
    pub till: TillNumber,
    pub session: u64,
    pub receipt: ReceiptNumber,
}

/// A discount on a line or on a whole sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Discount {
    /// 1 to 100 % of the amount, half up to the cent.
    Percent(u8),
    /// An amount off, at most the amount it applies to.
    Amount(Cents),
}

impl Discount {
    pub fn percent(raw: i64) -> Result<Self, ValueError> {
        match u8::try_from(raw) {
            Ok(p) if (1..=100).contains(&p) => Ok(Self::Percent(p)),
            _ => Err(ValueError::Discount),
        }
    }

    pub fn amount(raw: i64) -> Result<Self, ValueError> {
        match Cents::price(raw) {
            Ok(c) if c.0 > 0 => Ok(Self::Amount(c)),
            _ => Err(ValueError::Discount),
        }
    }

    /// The cents taken off `amount`, never more than it.
    pub fn of(self, amount: i64) -> i64 {
        let off = match self {
            Discount::Percent(p) => (amount * i64::from(p) + 50).div_euclid(100),
            Discount::Amount(c) => c.0,
        };
        off.clamp(0, amount.max(0))
    }

    fn bytes(self) -> Vec<u8> {
        match self {
            Discount::Percent(p) => vec![b'%', p],
            Discount::Amount(c) => {
                let mut b = vec![b'$'];
                b.extend_from_slice(&c.0.to_le_bytes());
                b
            }
        }
    }
}

/// Fingerprint bytes of an optional discount.
pub(super) fn discount_bytes(discount: Option<Discount>) -> Vec<u8> {
    discount.map(Discount::bytes).unwrap_or_default()
}

/// How a sale was paid, or a refund given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TenderKind {
    Cash,
    Card,
    /// A sale made outside a till (an integration, the back office): paid elsewhere.
    Other,
}

impl TenderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TenderKind::Cash => "cash",
            TenderKind::Card => "card",
            TenderKind::Other => "other",
        }
    }
}

/// A tender as the cashier enters it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenderRequest {
    /// The cash the customer hands over.
    Cash { given: Cents },
    /// The exact amount charged to a card, with the terminal's reference if any.
    Card {
        amount: Cents,
        reference: Option<String>,
    },
}

impl TenderRequest {
    pub(super) fn bytes(&self) -> Vec<u8> {
        match self {
            TenderRequest::Cash { given } => {
                let mut b = vec![b'c'];
                b.extend_from_slice(&given.0.to_le_bytes());
                b
            }
            TenderRequest::Card { amount, reference } => {
                let mut b = vec![b'k'];
                b.extend_from_slice(&amount.0.to_le_bytes());
                b.extend_from_slice(reference.as_deref().unwrap_or_default().as_bytes());
                b
            }
        }
    }
}

/// A tender as recorded: what it paid of the sale (cash: the rounded amount due; card: the
/// exact amount), and for cash what was handed over (the change is the difference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tender {
    pub kind: TenderKind,
    pub amount: Cents,
    pub given: Cents,
    pub reference: Option<String>,
}

/// Tenders that do not pay a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TenderError {
    #[error("the tenders are {} cents short of the amount due", .short.0)]
    Short { due: Cents, short: Cents },
    #[error("the card amounts exceed the total by {} cents", .over.0)]
    CardOver { over: Cents },
}

/// What paying a sale gave: the tenders, the rounding of the cash part, the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub tenders: Vec<Tender>,
    pub cash_rounding: Cents,
    pub change: Cents,
}

/// Pays `total` with `tenders`: cards are exact; what is left is paid in cash, rounded to
/// 5 cents; the cash handed over beyond it is the change. No tender at all (a sale outside
/// a till) is paid by `other`, exactly.
pub fn settle(total: Cents, tenders: &[TenderRequest]) -> Result<Settled, TenderError> {
    if tenders.is_empty() {
        return Ok(Settled {
            tenders: vec![Tender {
                kind: TenderKind::Other,
                amount: total,
                given: total,
                reference: None,
            }],
            cash_rounding: Cents(0),
            change: Cents(0),
        });
    }
    let mut recorded = Vec::with_capacity(tenders.len());
    let mut cards = 0_i64;
    let mut cash_given: Option<i64> = None;
    for tender in tenders {
        match tender {
            TenderRequest::Card { amount, reference } => {
                cards += amount.0;
                recorded.push(Tender {
                    kind: TenderKind::Card,
                    amount: *amount,
                    given: *amount,
                    reference: reference.clone(),
                });
            }
            TenderRequest::Cash { given } => *cash_given.get_or_insert(0) += given.0,
        }
    }
    let left = total.0 - cards;
    if left < 0 {
        return Err(TenderError::CardOver { over: Cents(-left) });
    }
    let Some(given) = cash_given else {
        return match left {
            0 => Ok(Settled {
                tenders: recorded,
                cash_rounding: Cents(0),
                change: Cents(0),
            }),
            short => Err(TenderError::Short {
                due: total,
                short: Cents(short),
            }),
        };
    };
    let rounding = cash_rounding(left);
    let due = left + rounding;
    if given < due {
        return Err(TenderError::Short {
            due: Cents(cards + due),
            short: Cents(due - given),
        });
    }
    recorded.push(Tender {
        kind: TenderKind::Cash,
        amount: Cents(due),
        given: Cents(given),
        reference: None,
    });
    Ok(Settled {
        tenders: recorded,
        cash_rounding: Cents(rounding),
        change: Cents(given - due),
    })
}

/// A line to price: its catalog price, the price charged if overridden, its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineToPrice {
    pub unit_price: Cents,
    pub quantity: u32,
    pub class: TaxClass,
    pub discount: Option<Discount>,
}

/// A priced line: before discounts, the discounts (its own and its share of the sale's),
/// after them, and its share of each tax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub gross: i64,
    pub discount: i64,
    pub net: i64,
    pub taxes: Vec<(TaxCode, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub lines: Vec<PricedLine>,
    pub taxes: Vec<TaxLine>,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
}

/// Prices a basket: line discounts, then the sale's discount shared over the lines in
/// proportion to what is left of each (to the cent), then each tax on the receipt's
/// taxable amount, shared back over the taxable lines (so that a line's refund carries
/// its exact part of each tax).
pub fn price(
    lines: &[LineToPrice],
    sale_discount: Option<Discount>,
    rates: &[(TaxCode, Rate)],
) -> Priced {
    let gross: Vec<i64> = lines
        .iter()
        .map(|l| l.unit_price.0 * i64::from(l.quantity))
        .collect();
    let own: Vec<i64> = lines
        .iter()
        .zip(&gross)
        .map(|(l, g)| l.discount.map_or(0, |d| d.of(*g)))
        .collect();
    let after: Vec<i64> = gross.iter().zip(&own).map(|(g, d)| g - d).collect();
    let whole = sale_discount.map_or(0, |d| d.of(after.iter().sum()));
    let shared = share(whole, &after);
    let net: Vec<i64> = after.iter().zip(&shared).map(|(a, s)| a - s).collect();
    let classed: Vec<(i64, TaxClass)> = net.iter().zip(lines).map(|(n, l)| (*n, l.class)).collect();
    let taxes = receipt_taxes(&classed, rates);
    let taxable: Vec<i64> = classed
        .iter()
        .map(|(n, c)| if *c == TaxClass::Taxable { *n } else { 0 })
        .collect();
    let mut line_taxes: Vec<Vec<(TaxCode, i64)>> =
        vec![Vec::with_capacity(taxes.len()); lines.len()];
    for tax in &taxes {
        for (slot, part) in line_taxes.iter_mut().zip(share(tax.amount_cents, &taxable)) {
            slot.push((tax.code, part));
        }
    }
    let subtotal: i64 = net.iter().sum();
    let total = subtotal + taxes.iter().map(|t| t.amount_cents).sum::<i64>();
    Priced {
        lines: (0..lines.len())
            .map(|i| PricedLine {
                gross: gross[i],
                discount: own[i] + shared[i],
                net: net[i],
                taxes: std::mem::take(&mut line_taxes[i]),
            })
            .collect(),
        taxes,
        discount: own.iter().sum::<i64>() + whole,
        subtotal,
        total,
    }
}

/// Whether a discount of `discount` on `gross` is above `threshold_percent`.
pub fn above_threshold(discount: i64, gross: i64, threshold_percent: u8) -> bool {
    i128::from(discount) * 100 > i128::from(gross) * i128::from(threshold_percent)
}

/// The part of `amount` that `units` of `of` units stand for, half up to the cent: at
/// `units == of` it is `amount` exactly, so a line returned in several parts refunds its
/// amount to the cent.
pub fn part(amount: i64, units: u32, of: u32) -> i64 {
    if of == 0 {
        return 0;
    }
    let exact = i128::from(amount) * i128::from(units);
    let of = i128::from(of);
    let q = (exact * 2 + of).div_euclid(2 * of);
    i64::try_from(q).unwrap_or(0)
}

/// How a refund of `due` is given back: to the card first (up to what cards paid and
/// were not refunded yet), then to `other`, then in cash rounded to 5 cents (up to the cash
/// kept). When the sale is then wholly returned, each tender gets back exactly what it
/// paid less what it already got back, so a whole sale returned refunds what was paid.
pub fn refund_tenders(
    due: i64,
    paid: &[Tender],
    refunded: &[Tender],
    whole_sale_back: bool,
) -> (Vec<Tender>, i64) {
    let kept = |kind: TenderKind| -> i64 {
        let p: i64 = paid
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.amount.0)
            .sum();
        let r: i64 = refunded
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.amount.0)
            .sum();
        (p - r).max(0)
    };
    let mut left = due;
    let mut out = Vec::new();
    let give = |kind: TenderKind, amount: i64, out: &mut Vec<Tender>| {
        if amount > 0 {
            out.push(Tender {
                kind,
                amount: Cents(amount),
                given: Cents(amount),
                reference: None,
            });
        }
    };
    for kind in [TenderKind::Card, TenderKind::Other] {
        let amount = if whole_sale_back {
            kept(kind)
        } else {
            left.min(kept(kind))
        };
        give(kind, amount, &mut out);
        left -= amount;
    }
    let cash_kept = kept(TenderKind::Cash);
    let cash = if whole_sale_back {
        cash_kept
    } else if cash_kept > 0 {
        (left + cash_rounding(left)).clamp(0, cash_kept)
    } else {
        0
    };
    give(TenderKind::Cash, cash, &mut out);
    let given: i64 = out.iter().map(|t| t.amount.0).sum();
    (out, given - due)
}

/// One tax of a session's totals, per rate (a rate may change during a session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxTotal {
    pub code: TaxCode,
    pub rate: Rate,
    pub base_cents: i64,
    pub amount_cents: i64,
}

/// What a session took in and gave back: bounded (a few taxes, three tenders), updated by
/// each sale and refund, so an X or Z report never reads the session's sales again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTotals {
    pub sales: u32,
    pub gross: i64,
    pub discounts: i64,
    pub net: i64,
    pub taxes: Vec<TaxTotal>,
    pub total: i64,
    pub tenders: Vec<(TenderKind, i64)>,
    pub cash_received: i64,
    pub change: i64,
    pub cash_rounding: i64,
    pub refunds: u32,
    pub refunded: i64,
    pub refunded_taxes: Vec<(TaxCode, i64)>,
    pub refund_tenders: Vec<(TenderKind, i64)>,
}

fn add_to<K: PartialEq + Copy>(list: &mut Vec<(K, i64)>, key: K, amount: i64) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 += amount,
        None => list.push((key, amount)),
    }
}

impl SessionTotals {
    pub fn add_sale(&mut self, sale: &super::Sale) {
        self.sales += 1;
        self.gross += sale
            .lines
            .iter()
            .map(|l| l.unit_price.0 * i64::from(l.quantity))
            .sum::<i64>();
        self.discounts += sale.discount.0;
        self.net += sale.subtotal.0;
        self.total += sale.total.0;
        for tax in &sale.taxes {
            match self
                .taxes
                .iter_mut()
                .find(|t| t.code == tax.code && t.rate == tax.rate)
            {
                Some(t) => {
                    t.base_cents += tax.base_cents;
                    t.amount_cents += tax.amount_cents;
                }
                None => self.taxes.push(TaxTotal {
                    code: tax.code,
                    rate: tax.rate,
                    base_cents: tax.base_cents,
                    amount_cents: tax.amount_cents,
                }),
            }
        }
        for tender in &sale.tenders {
            add_to(&mut self.tenders, tender.kind, tender.amount.0);
            if tender.kind == TenderKind::Cash {
                self.cash_received += tender.given.0;
            }
        }
        self.change += sale.change.0;
        self.cash_rounding += sale.cash_rounding.0;
    }

    pub fn add_return(&mut self, ret: &super::Return) {
        self.refunds += 1;
        self.refunded += ret.tenders.iter().map(|t| t.amount.0).sum::<i64>();
        for tax in &ret.taxes {
            add_to(&mut self.refunded_taxes, tax.code, tax.amount_cents);
        }
        for tender in &ret.tenders {
            add_to(&mut self.refund_tenders, tender.kind, tender.amount.0);
        }
    }

    /// Cash that should be in the drawer: the float, plus the cash received, less the
    /// change given and the cash refunded. (The rounding of cash totals is inside what
    /// was received; it is shown apart.)
    pub fn cash_expected(&self, float: Cents) -> i64 {
        let refunded_cash = self
            .refund_tenders
            .iter()
            .filter(|(k, _)| *k == TenderKind::Cash)
            .map(|(_, a)| a)
            .sum::<i64>();
        float.0 + self.cash_received - self.change - refunded_cash
    }
}

/// A session open on a till.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenSession {
    pub number: u64,
    pub float: Cents,
    pub opened_at: Timestamp,
    pub opened_by: Username,
    pub totals: SessionTotals,
}

/// The cash counted at closing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub counted: Cents,
    /// By denomination, when counted that way: (value in cents, how many).
    pub denominations: Vec<(i64, u32)>,
    /// Why the count differs from what was expected; required when it does.
    pub reason: Option<String>,
}

/// A till's report: X while the session is open (no count, no number), Z at its close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TillReport {
    pub store: StoreId,
    pub till: TillNumber,
    /// The till's last receipt number when the report was read: an offline till numbers
    /// its sales from it.
    pub last_receipt: u64,
    pub session: u64,
    pub float: Cents,
    pub opened_at: Timestamp,
    pub opened_by: Username,
    pub totals: SessionTotals,
    pub cash_expected: i64,
    pub closing: Option<Closing>,
}

/// What closing added to the report: its number, when and by whom, the count and the
/// difference (counted − expected: negative is short, positive over).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closing {
    pub z_number: u64,
    /// The store's last sale id at the closing: a sale of this session recorded after it
    /// (taken offline, sent late) is the report's late addendum.
    pub last_sale: u64,
    pub closed_at: Timestamp,
    pub closed_by: Username,
    pub count: Count,
    pub over_short: i64,
}

/// The X or Z report of a session: one function for both, so they cannot disagree.
pub fn till_report(
    (store, till, last_receipt): (StoreId, TillNumber, u64),
    session: &OpenSession,
    closing: Option<Closing>,
) -> TillReport {
    TillReport {
        store,
        till,
        last_receipt,
        session: session.number,
        float: session.float,
        opened_at: session.opened_at,
        opened_by: session.opened_by.clone(),
        cash_expected: session.totals.cash_expected(session.float),
        totals: session.totals.clone(),
        closing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GST: (TaxCode, Rate) = (TaxCode::Gst, Rate(5_000));
    const QST: (TaxCode, Rate) = (TaxCode::Qst, Rate(9_975));

    fn line(price: i64, quantity: u32, class: TaxClass) -> LineToPrice {
        LineToPrice {
            unit_price: Cents(price),
            quantity,
            class,
            discount: None,
        }
    }

    #[test]
    fn receipt_numbers_print_store_till_and_six_digits() {
        let number = ReceiptNumber {
            store: StoreId::new(1).expect("store"),
            till: TillNumber::new(2).expect("till"),
            number: 123,
        };
        assert_eq!(number.to_string(), "1-02-000123");
        assert!(TillNumber::new(0).is_err() && TillNumber::new(100).is_err());
    }

    #[test]
    fn milk_chips_and_cola_in_quebec() {
        let priced = price(
            &[
                line(499, 1, TaxClass::ZeroRated),
                line(349, 1, TaxClass::Taxable),
                line(229, 1, TaxClass::Taxable),
            ],
            None,
            &[GST, QST],
        );
        // Base 5.78: GST 0.289 → 0.29, QST 0.576555 → 0.58; total 11.64.
        let taxes: Vec<i64> = priced.taxes.iter().map(|t| t.amount_cents).collect();
        assert_eq!(
            (priced.subtotal, taxes, priced.total),
            (1_077, vec![29, 58], 1_164)
        );
        assert_eq!(
            priced.lines[0].taxes,
            [(TaxCode::Gst, 0), (TaxCode::Qst, 0)]
        );
        let cash = settle(
            Cents(1_164),
            &[TenderRequest::Cash {
                given: Cents(2_000),
            }],
        )
        .expect("enough");
        assert_eq!((cash.cash_rounding, cash.change), (Cents(1), Cents(835)));
    }

    #[test]
    fn a_sale_discount_comes_off_before_the_taxes() {
        let priced = price(
            &[line(2_000, 1, TaxClass::Taxable)],
            Some(Discount::Percent(10)),
            &[GST, QST],
        );
        // 18.00 after 10 %: GST 0.90, QST 1.7955 → 1.80; total 20.70.
        assert_eq!(
            (priced.discount, priced.subtotal, priced.total),
            (200, 1_800, 2_070)
        );
    }

    #[test]
    fn split_tenders_round_only_the_cash_part_and_short_tenders_say_by_how_much() {
        let split = settle(
            Cents(1_164),
            &[
                TenderRequest::Card {
                    amount: Cents(500),
                    reference: Some("T-1".into()),
                },
                TenderRequest::Cash { given: Cents(700) },
            ],
        )
        .expect("enough");
        // Cash due 6.64 → 6.65, change 0.35.
        assert_eq!((split.cash_rounding, split.change), (Cents(1), Cents(35)));
        assert_eq!(split.tenders[1].amount, Cents(665));
        assert_eq!(
            settle(
                Cents(1_164),
                &[TenderRequest::Cash {
                    given: Cents(1_000)
                }]
            ),
            Err(TenderError::Short {
                due: Cents(1_165),
                short: Cents(165)
            })
        );
        assert_eq!(
            settle(
                Cents(1_164),
                &[TenderRequest::Card {
                    amount: Cents(1_000),
                    reference: None
                }]
            ),
            Err(TenderError::Short {
                due: Cents(1_164),
                short: Cents(164)
            })
        );
        assert!(matches!(
            settle(
                Cents(100),
                &[TenderRequest::Card {
                    amount: Cents(101),
                    reference: None
                }]
            ),
            Err(TenderError::CardOver { .. })
        ));
    }

    proptest! {
        #[test]
        fn shares_of_a_line_add_up_to_the_line(amount in 0_i64..10_000_000, of in 1_u32..50, cut in 0_u32..50) {
            let cut = cut.min(of);
            prop_assert_eq!(part(amount, of, of), amount);
            prop_assert!(part(amount, cut, of) <= amount);
            prop_assert!(part(amount, cut, of) >= 0);
        }

        #[test]
        fn a_basket_adds_up(
            lines in proptest::collection::vec((0_i64..50_000, 1_u32..5, 0_u8..3, 0_u8..40), 1..12),
            sale_percent in 0_u8..60,
        ) {
            let classes = [TaxClass::Taxable, TaxClass::ZeroRated, TaxClass::Exempt];
            let lines: Vec<LineToPrice> = lines
                .into_iter()
                .map(|(p, q, c, d)| LineToPrice {
                    unit_price: Cents(p),
                    quantity: q,
                    class: classes[usize::from(c)],
                    discount: (d > 0).then_some(Discount::Percent(d)),
                })
                .collect();
            let discount = (sale_percent > 0).then_some(Discount::Percent(sale_percent));
            let priced = price(&lines, discount, &[GST, QST]);
            let nets: i64 = priced.lines.iter().map(|l| l.net).sum();
            prop_assert_eq!(nets, priced.subtotal);
            for (i, tax) in priced.taxes.iter().enumerate() {
                let parts: i64 = priced.lines.iter().map(|l| l.taxes[i].1).sum();
                prop_assert_eq!(parts, tax.amount_cents);
            }
            for l in &priced.lines {
                prop_assert_eq!(l.gross - l.discount, l.net);
                prop_assert!(l.net >= 0);
            }
        }
    }
}
