//! The till through a store's state: sessions, tenders, discounts, receipt numbers, and
//! refunds that give back exactly what was paid.

use proptest::prelude::*;

use super::testing::{Catalog, Shelf, quebec};
use super::*;

fn shelf(sku: &Sku) -> Option<Cents> {
    match sku.as_str() {
        "ZER-MILK" => Some(Cents(499)),
        "TAX-CHIPS" => Some(Cents(349)),
        "TAX-COLA" => Some(Cents(229)),
        "TAX-TOOL" => Some(Cents(2_000)),
        _ => None,
    }
}

fn catalog() -> Catalog<Shelf> {
    quebec(shelf as Shelf)
}

fn store() -> StoreId {
    StoreId::new(1).expect("store 1")
}

fn till(n: i64) -> TillNumber {
    TillNumber::new(n).expect("a till")
}

fn stamp(at: i64, by: &str) -> Stamp {
    Stamp {
        at: Timestamp(at),
        by: Username::parse(by).expect("a username"),
    }
}

fn sku(s: &str) -> Sku {
    Sku::parse(s).expect("a sku")
}

fn stocked() -> StoreState {
    let mut state = StoreState::default();
    let lines = ["ZER-MILK", "TAX-CHIPS", "TAX-COLA", "TAX-TOOL"]
        .iter()
        .map(|s| AdjustmentLine::count(sku(s), 1_000).expect("a count"))
        .collect();
    let request = AdjustmentRequest::new("inventaire".into(), lines).expect("lines");
    let counted = state
        .decide_adjustment(&request, &catalog(), &stamp(0, "gestionnaire1"), None)
        .expect("counted");
    state.apply(&StoreEvent::StockAdjusted(counted));
    state
}

fn open(state: &mut StoreState, n: i64, float: i64) {
    let opened = state
        .decide_open_session(
            till(n),
            Cents(float),
            catalog().till_rules(store()),
            &stamp(1, "caissier1"),
            None,
        )
        .expect("opens");
    state.apply(&StoreEvent::SessionOpened(opened));
}

fn line(s: &str, quantity: i64, discount: Option<Discount>) -> SaleLineRequest {
    SaleLineRequest {
        sku: sku(s),
        quantity: Quantity::new(quantity).expect("a quantity"),
        discount,
        unit_price: None,
    }
}

fn ring(
    state: &mut StoreState,
    lines: Vec<SaleLineRequest>,
    terms: SaleTerms,
) -> Result<Sale, SaleError> {
    let request = SaleRequest::with_terms(lines, terms).expect("distinct lines");
    let recorded =
        state.decide_sale(store(), &request, &catalog(), &stamp(2, "caissier1"), None)?;
    state.apply(&StoreEvent::SaleRecorded(recorded.clone()));
    Ok(recorded.sale)
}

fn at_till(n: i64, tenders: Vec<TenderRequest>) -> SaleTerms {
    SaleTerms {
        till: Some(till(n)),
        tenders,
        ..SaleTerms::default()
    }
}

fn cash(cents: i64) -> TenderRequest {
    TenderRequest::Cash {
        given: Cents(cents),
    }
}

fn card(cents: i64) -> TenderRequest {
    TenderRequest::Card {
        amount: Cents(cents),
        reference: None,
    }
}

fn give_back(
    state: &mut StoreState,
    sale: &Sale,
    earlier: &[Return],
    lines: Vec<(Sku, i64)>,
    at: Option<i64>,
) -> Return {
    let lines = lines
        .into_iter()
        .map(|(sku, q)| RequestedLine {
            sku,
            quantity: Quantity::new(q).expect("a quantity"),
        })
        .collect();
    let mut request = ReturnRequest::new(sale.id, lines, None).expect("lines");
    if let Some(n) = at {
        request = request.at_till(till(n));
    }
    let rules = catalog().till_rules(store());
    let returned = state
        .decide_return(
            store(),
            &request,
            (sale, earlier),
            rules,
            &stamp(3, "caissier1"),
            None,
        )
        .expect("returnable");
    state.apply(&StoreEvent::SaleReturned(returned.clone()));
    returned.ret
}

#[test]
fn a_quebec_sale_taxes_the_taxable_lines_and_pays_cash_with_rounding_and_change() {
    let mut state = stocked();
    open(&mut state, 1, 20_000);
    let lines = vec![
        line("ZER-MILK", 1, None),
        line("TAX-CHIPS", 1, None),
        line("TAX-COLA", 1, None),
    ];
    let sale = ring(&mut state, lines, at_till(1, vec![cash(2_000)])).expect("paid");
    let taxes: Vec<(TaxCode, i64, i64)> = sale
        .taxes
        .iter()
        .map(|t| (t.code, t.base_cents, t.amount_cents))
        .collect();
    assert_eq!(taxes, [(TaxCode::Gst, 578, 29), (TaxCode::Qst, 578, 58)]);
    assert_eq!(
        (sale.total, sale.cash_rounding, sale.change),
        (Cents(1_164), Cents(1), Cents(835))
    );
    assert_eq!(
        sale.till.map(|t| t.receipt.to_string()).as_deref(),
        Some("1-01-000001")
    );
    assert_eq!(sale.lines[0].taxes, [(TaxCode::Gst, 0), (TaxCode::Qst, 0)]);
}

#[test]
fn a_till_without_an_open_session_refuses_to_sell() {
    let mut state = stocked();
    let refused = ring(
        &mut state,
        vec![line("TAX-COLA", 1, None)],
        at_till(1, vec![cash(500)]),
    );
    assert_eq!(refused, Err(SaleError::Till(TillError::Closed(till(1)))));
    let unknown = ring(
        &mut state,
        vec![line("TAX-COLA", 1, None)],
        at_till(3, vec![cash(500)]),
    );
    assert_eq!(
        unknown,
        Err(SaleError::Till(TillError::UnknownTill(till(3))))
    );
}

#[test]
fn a_discount_above_the_threshold_needs_a_manager_and_records_who_approved() {
    let mut state = stocked();
    open(&mut state, 1, 0);
    let tool = |percent| vec![line("TAX-TOOL", 1, Some(Discount::Percent(percent)))];
    let ten =
        ring(&mut state, tool(10), at_till(1, vec![card(2_070)])).expect("10 % is the cashier's");
    assert_eq!(
        (ten.subtotal, ten.total, &ten.approved_by),
        (Cents(1_800), Cents(2_070), &None)
    );
    let refused = ring(&mut state, tool(30), at_till(1, vec![card(1_610)]));
    assert_eq!(
        refused,
        Err(SaleError::ApprovalRequired {
            threshold_percent: 20
        })
    );
    let manager = Username::parse("gestionnaire1").expect("a name");
    let approved = SaleTerms {
        approved_by: Some(manager.clone()),
        ..at_till(1, vec![card(1_610)])
    };
    let thirty = ring(&mut state, tool(30), approved).expect("approved");
    assert_eq!(thirty.approved_by, Some(manager));
    let numbers: Vec<u64> = [&ten, &thirty]
        .iter()
        .filter_map(|s| s.till.map(|t| t.receipt.number))
        .collect();
    assert_eq!(numbers, [1, 2], "a refused sale takes no receipt number");
}

#[test]
fn a_session_closed_five_cents_short_says_so_and_adds_up_to_its_sales() {
    let mut state = stocked();
    open(&mut state, 2, 20_000);
    let chips = ring(
        &mut state,
        vec![line("TAX-CHIPS", 2, None)],
        at_till(2, vec![cash(1_000)]),
    )
    .expect("paid");
    let tool = ring(
        &mut state,
        vec![line("TAX-TOOL", 1, None)],
        at_till(2, vec![card(2_300)]),
    )
    .expect("paid");
    let split = ring(
        &mut state,
        vec![line("ZER-MILK", 1, None), line("TAX-COLA", 1, None)],
        at_till(2, vec![card(500), cash(500)]),
    )
    .expect("paid");
    let back = give_back(
        &mut state,
        &chips,
        &[],
        vec![(sku("TAX-CHIPS"), 1)],
        Some(2),
    );
    let sales = [&chips, &tool, &split];
    let x = state
        .x_report(store(), till(2), catalog().till_rules(store()))
        .expect("open");
    assert_eq!(x.totals.sales, 3);
    assert_eq!(x.totals.total, sales.iter().map(|s| s.total.0).sum::<i64>());
    assert_eq!(
        x.totals.net,
        sales.iter().map(|s| s.subtotal.0).sum::<i64>()
    );
    for tax in &x.totals.taxes {
        let of_sales: i64 = sales
            .iter()
            .flat_map(|s| &s.taxes)
            .filter(|t| t.code == tax.code)
            .map(|t| t.amount_cents)
            .sum();
        assert_eq!(tax.amount_cents, of_sales);
    }
    let cash_in: i64 = sales
        .iter()
        .flat_map(|s| &s.tenders)
        .filter(|t| t.kind == TenderKind::Cash)
        .map(|t| t.amount.0)
        .sum();
    let cash_back: i64 = back
        .tenders
        .iter()
        .filter(|t| t.kind == TenderKind::Cash)
        .map(|t| t.amount.0)
        .sum();
    assert!(cash_back > 0, "a cash sale is refunded in cash");
    let expected = 20_000 + cash_in - cash_back;
    assert_eq!(x.cash_expected, expected);

    let short = Count {
        counted: Cents(expected - 5),
        denominations: Vec::new(),
        reason: None,
    };
    let rules = catalog().till_rules(store());
    let closing = stamp(9, "caissier1");
    assert_eq!(
        state.decide_close_session(store(), till(2), short.clone(), rules, &closing, None),
        Err(TillError::ReasonRequired { over_short: -5 })
    );
    let explained = Count {
        reason: Some("pièce manquante".into()),
        ..short
    };
    let closed = state
        .decide_close_session(store(), till(2), explained, rules, &closing, None)
        .expect("closes");
    let z = closed.report.closing.clone().expect("a Z report");
    assert_eq!((z.z_number, z.over_short), (1, -5));
    assert_eq!(
        closed.report.totals, x.totals,
        "X and Z come from the same totals"
    );
    state.apply(&StoreEvent::SessionClosed(Box::new(closed)));
    assert_eq!(
        state.x_report(store(), till(2), rules),
        Err(TillError::Closed(till(2)))
    );
}

proptest! {
    #[test]
    fn a_whole_sale_returned_in_parts_refunds_exactly_what_was_paid(
        lines in proptest::collection::vec((0_usize..4, 1_i64..6, 0_u8..25), 1..4),
        sale_percent in 0_u8..20,
        tender in 0_u8..3,
        chunks in proptest::collection::vec(1_i64..4, 1..6),
    ) {
        let names = ["ZER-MILK", "TAX-CHIPS", "TAX-COLA", "TAX-TOOL"];
        let mut seen = std::collections::BTreeSet::new();
        let basket: Vec<SaleLineRequest> = lines
            .into_iter()
            .filter(|(i, _, _)| seen.insert(*i))
            .map(|(i, q, d)| line(names[i], q, (d > 0).then_some(Discount::Percent(d))))
            .collect();
        let mut state = stocked();
        open(&mut state, 1, 10_000);
        // Priced once without tenders to know the total, then paid.
        let manager = Username::parse("gestionnaire1").ok();
        let probe = SaleRequest::with_terms(basket.clone(), SaleTerms {
            discount: (sale_percent > 0).then_some(Discount::Percent(sale_percent)),
            approved_by: manager.clone(),
            ..SaleTerms::default()
        }).expect("lines");
        let total = state.decide_sale(store(), &probe, &catalog(), &stamp(2, "caissier1"), None).expect("priced").sale.total.0;
        let tenders = match tender {
            0 => vec![cash(total + 500)],
            1 => vec![card(total)],
            _ => vec![card(total / 3), cash(total)],
        };
        let terms = SaleTerms {
            discount: (sale_percent > 0).then_some(Discount::Percent(sale_percent)),
            approved_by: manager,
            ..at_till(1, tenders)
        };
        let sale = ring(&mut state, basket, terms).expect("paid");
        // The taxes, computed again from the lines by hand.
        let base: i64 = sale.lines.iter().filter(|l| l.tax_class == TaxClass::Taxable).map(|l| l.net.0).sum();
        for tax in &sale.taxes {
            let exact = i128::from(base) * i128::from(tax.rate.0);
            let by_hand = i64::try_from((exact + 50_000) / 100_000).expect("fits");
            prop_assert_eq!(tax.amount_cents, by_hand);
        }
        // Every unit back, a few at a time, line by line.
        let mut earlier: Vec<Return> = Vec::new();
        let mut chunk = chunks.iter().cycle();
        for sold in &sale.lines {
            let mut left = i64::from(sold.quantity);
            while left > 0 {
                let take = (*chunk.next().expect("cycles")).min(left);
                let ret = give_back(&mut state, &sale, &earlier, vec![(sold.sku.clone(), take)], Some(1));
                earlier.push(ret);
                left -= take;
            }
        }
        let paid: i64 = sale.tenders.iter().map(|t| t.amount.0).sum();
        let refunded: i64 = earlier.iter().flat_map(|r| &r.tenders).map(|t| t.amount.0).sum();
        prop_assert_eq!(refunded, paid);
        prop_assert_eq!(paid, sale.paid().0);
        for kind in [TenderKind::Cash, TenderKind::Card] {
            let of = |list: &mut dyn Iterator<Item = &Tender>| list.filter(|t| t.kind == kind).map(|t| t.amount.0).sum::<i64>();
            prop_assert_eq!(of(&mut earlier.iter().flat_map(|r| &r.tenders)), of(&mut sale.tenders.iter()));
        }
        let tax_back: i64 = earlier.iter().flat_map(|r| &r.taxes).map(|t| t.amount_cents).sum();
        prop_assert_eq!(tax_back, sale.taxes.iter().map(|t| t.amount_cents).sum::<i64>());
        let receipts: Vec<u64> = std::iter::once(sale.till.map(|t| t.receipt.number))
            .chain(earlier.iter().map(|r| r.till.map(|t| t.receipt.number)))
            .flatten()
            .collect();
        prop_assert_eq!(receipts, (1..=1 + earlier.len() as u64).collect::<Vec<_>>());
    }
}
