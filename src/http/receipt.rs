//! A sale as a till rings it (lines, discounts, tenders, approval) and as its receipt
//! shows it (taxes, tenders, change, the store's registration numbers, its local time).

use serde::{Deserialize, Serialize};

use super::AppState;
use super::problem::{ApiError, FieldError};
use super::rfc3339;
use super::till::approver;
use crate::actors::SaleView;
use crate::domain::{
    Cents, Discount, Offline, Quantity, Return, SaleLineRequest, SaleRequest, SaleTerms, Sku,
    Store, StoreId, TaxCode, TaxLine, Tender, TenderRequest, TillNumber, Timestamp, ValueError,
};
use crate::reports::CatalogView;

/// What a receipt says of returns, printed under every receipt.
pub const RETURN_POLICY: &str = "Retours et échanges dans les 30 jours sur présentation du reçu, remboursés selon le mode de paiement d'origine.";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSaleBody {
    lines: Vec<SaleLineBody>,
    /// A discount on the whole sale, shared over the lines.
    discount: Option<DiscountBody>,
    /// The till it is rung at (its session must be open); none for a sale outside a till
    /// (integration, back office), recorded as paid by `other`.
    till: Option<i64>,
    /// How it is paid at a till: cash (the amount handed over), card (exact), or several.
    #[serde(default)]
    tenders: Vec<TenderBody>,
    /// A manager's approval (`POST …/approvals`) for a discount above the store's
    /// threshold or a price override.
    approval: Option<String>,
    /// A sale the till completed while the server could not be reached: when (RFC 3339).
    /// With `receipt_number` (the till's own next number) and `session`. Recorded even if
    /// the stock is short, at the line prices sent and the taxes of that time.
    captured_offline_at: Option<String>,
    /// The receipt number the till printed offline: `1-02-000124`.
    receipt_number: Option<String>,
    /// The session the till was in when it took the sale offline.
    session: Option<u64>,
}

/// How far ahead of the server's clock a till's clock may be.
const CLOCK_SKEW_MS: i64 = 5 * 60_000;

fn offline_error(field: &str, detail: &str) -> FieldError {
    FieldError {
        field: field.into(),
        code: "invalid_offline_sale",
        detail: detail.into(),
    }
}

/// What an offline sale's body says of it: its time, receipt number and session, checked
/// against the store and till of the sale.
fn offline(
    body: &NewSaleBody,
    store: StoreId,
    till: Option<TillNumber>,
    now: Timestamp,
) -> Result<Option<Offline>, FieldError> {
    let Some(at) = body.captured_offline_at.as_deref() else {
        return Ok(None);
    };
    let captured = at
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .ok()
        .filter(|ms| *ms <= now.0 + CLOCK_SKEW_MS)
        .ok_or_else(|| {
            offline_error(
                "captured_offline_at",
                "Un instant RFC 3339 passé (2026-12-04T14:05:00Z).",
            )
        })?;
    let till =
        till.ok_or_else(|| offline_error("till", "Une vente hors ligne est faite à une caisse."))?;
    let expected = format!("{store}-{:02}-", till.get());
    let receipt = body
        .receipt_number
        .as_deref()
        .and_then(|r| r.strip_prefix(&expected))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| {
            offline_error(
                "receipt_number",
                &format!("Le numéro de reçu de la caisse : {expected}000123."),
            )
        })?;
    let session = body
        .session
        .ok_or_else(|| offline_error("session", "La session de caisse de la vente."))?;
    Ok(Some(Offline {
        captured_at: Timestamp(captured),
        receipt,
        session,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountBody {
    /// 1 to 100.
    percent: Option<i64>,
    amount_cents: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleLineBody {
    sku: String,
    quantity: i64,
    discount: Option<DiscountBody>,
    /// A price that overrides the catalog's: needs a manager's approval.
    unit_price_cents: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum TenderBody {
    /// The cash handed over; the change comes back.
    Cash { amount_cents: i64 },
    /// The exact amount charged to a card; the terminal's reference if any.
    Card {
        amount_cents: i64,
        reference: Option<String>,
    },
}

/// Collects the errors of many fields, each under its name.
#[derive(Default)]
struct Fields(Vec<FieldError>);

impl Fields {
    fn check<T>(&mut self, field: impl Into<String>, value: Result<T, ValueError>) -> Option<T> {
        value
            .map_err(|e| self.0.push(FieldError::new(field, e)))
            .ok()
    }
}

fn discount(body: &DiscountBody) -> Result<Discount, ValueError> {
    match (body.percent, body.amount_cents) {
        (Some(p), None) => Discount::percent(p),
        (None, Some(a)) => Discount::amount(a),
        _ => Err(ValueError::Discount),
    }
}

fn line(fields: &mut Fields, i: usize, body: &SaleLineBody) -> Option<SaleLineRequest> {
    let sku = fields.check(format!("lines[{i}].sku"), Sku::parse(&body.sku));
    let quantity = fields.check(format!("lines[{i}].quantity"), Quantity::new(body.quantity));
    let discount = match &body.discount {
        Some(d) => Some(fields.check(format!("lines[{i}].discount"), discount(d))?),
        None => None,
    };
    let unit_price = match body.unit_price_cents {
        Some(p) => Some(fields.check(format!("lines[{i}].unit_price_cents"), Cents::price(p))?),
        None => None,
    };
    Some(SaleLineRequest {
        sku: sku?,
        quantity: quantity?,
        discount,
        unit_price,
    })
}

fn tender(fields: &mut Fields, i: usize, body: &TenderBody) -> Option<TenderRequest> {
    let field = format!("tenders[{i}].amount_cents");
    let amount = |raw| Cents::price(raw).map_err(|_| ValueError::Amount);
    match body {
        TenderBody::Cash { amount_cents } => Some(TenderRequest::Cash {
            given: fields.check(field, amount(*amount_cents))?,
        }),
        TenderBody::Card {
            amount_cents,
            reference,
        } => {
            let reference = match reference {
                Some(r) => Some(fields.check(
                    format!("tenders[{i}].reference"),
                    crate::domain::parse_label(r, 64),
                )?),
                None => None,
            };
            Some(TenderRequest::Card {
                amount: fields.check(field, amount(*amount_cents))?,
                reference,
            })
        }
    }
}

/// The sale a body asks for at `store`, every field checked and the approval verified.
pub fn sale_request(
    app: &AppState,
    store: StoreId,
    body: NewSaleBody,
) -> Result<SaleRequest, ApiError> {
    let mut fields = Fields::default();
    let lines: Vec<Option<SaleLineRequest>> = body
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| line(&mut fields, i, l))
        .collect();
    let tenders: Vec<Option<TenderRequest>> = body
        .tenders
        .iter()
        .enumerate()
        .map(|(i, t)| tender(&mut fields, i, t))
        .collect();
    let discount = body
        .discount
        .as_ref()
        .and_then(|d| fields.check("discount", discount(d)));
    let till = body
        .till
        .and_then(|t| fields.check("till", TillNumber::new(t)));
    if !body.tenders.is_empty() && body.till.is_none() {
        fields.0.push(FieldError::new("till", ValueError::Till));
    }
    let offline = offline(&body, store, till, crate::actors::now())
        .map_err(|e| fields.0.push(e))
        .ok()
        .flatten();
    if !fields.0.is_empty() {
        return Err(ApiError::Validation(fields.0));
    }
    let approved_by = match body.approval.as_deref() {
        Some(token) => Some(approver(app, store, token)?),
        None => None,
    };
    let terms = SaleTerms {
        discount,
        till,
        tenders: tenders.into_iter().flatten().collect(),
        approved_by,
        offline,
    };
    SaleRequest::with_terms(lines.into_iter().flatten().collect(), terms)
        .map_err(super::problem::lines_error)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LineTaxBody {
    code: &'static str,
    amount_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SoldLineBody {
    sku: String,
    name: Option<String>,
    quantity: u32,
    /// The price charged per unit.
    unit_price_cents: i64,
    /// The catalog's price at the time of the sale.
    list_price_cents: i64,
    /// Before discounts.
    line_total_cents: i64,
    discount_cents: i64,
    /// After discounts, before taxes.
    net_cents: i64,
    /// `taxable`, `zero_rated` or `exempt`.
    tax_class: &'static str,
    /// The codes of the taxes on the line, as printed beside it (`GST QST`).
    tax_codes: Vec<&'static str>,
    taxes: Vec<LineTaxBody>,
    /// Units sold offline beyond what the shelf held (an écart).
    unstocked: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TaxBody {
    code: &'static str,
    /// Percent, as a decimal: `9.975`.
    rate: String,
    base_cents: i64,
    amount_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TenderLineBody {
    #[serde(rename = "type")]
    kind: &'static str,
    /// What it paid of the sale (cash: the rounded amount due).
    amount_cents: i64,
    /// Cash handed over.
    given_cents: i64,
    reference: Option<String>,
}

fn tender_lines(tenders: Vec<Tender>) -> Vec<TenderLineBody> {
    tenders
        .into_iter()
        .map(|t| TenderLineBody {
            kind: t.kind.as_str(),
            amount_cents: t.amount.0,
            given_cents: t.given.0,
            reference: t.reference,
        })
        .collect()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RegistrationLine {
    code: &'static str,
    number: String,
}

/// What the printed receipt adds to the sale: who sold, where and when (in the store's
/// time zone), its registration numbers and the return policy; `copy` on a reprint.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReceiptBody {
    receipt_number: Option<String>,
    copy: bool,
    store_name: String,
    address: String,
    registrations: Vec<RegistrationLine>,
    /// `2026-12-04 14:05`, local time of the store.
    local_time: String,
    time_zone: String,
    till: Option<u8>,
    cashier: String,
    return_policy: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SaleBody {
    id: u64,
    store_id: u32,
    lines: Vec<SoldLineBody>,
    /// After discounts, before taxes.
    subtotal_cents: i64,
    discount_cents: i64,
    taxes: Vec<TaxBody>,
    /// Subtotal and taxes.
    total_cents: i64,
    /// Rounding of the cash part to 5 cents (−2 to +2).
    cash_rounding_cents: i64,
    /// What the customer paid: total and cash rounding.
    paid_cents: i64,
    tenders: Vec<TenderLineBody>,
    change_cents: i64,
    till: Option<u8>,
    session: Option<u64>,
    receipt_number: Option<String>,
    approved_by: Option<String>,
    /// When it happened (for a sale taken offline, when the till completed it).
    created_at: String,
    /// For a sale taken offline: when the server recorded it.
    recorded_at: Option<String>,
    /// Username of who rang it up.
    by: String,
    receipt: ReceiptBody,
    returns: Vec<ReturnBody>,
}

/// Whether a receipt is printed for the first time or again.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Printed {
    Original,
    Copy,
}

/// `2026-12-04 14:05` in `time_zone` (UTC when the zone is unknown).
fn local_time(at: Timestamp, time_zone: &str) -> String {
    let zone = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_millisecond(at.0)
        .map(|t| {
            t.to_zoned_datetime(zone)
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

fn receipt(store: Option<Store>, view: &SaleView, printed: Printed) -> ReceiptBody {
    // A sale is only read in a store the catalog has; without it the receipt is blank.
    let (name, address, time_zone, registrations) = store.map_or_else(Default::default, |s| {
        (s.name, s.address, s.time_zone, s.registrations)
    });
    let sale = &view.sale;
    ReceiptBody {
        receipt_number: sale.till.map(|t| t.receipt.to_string()),
        copy: printed == Printed::Copy,
        local_time: local_time(sale.at, &time_zone),
        store_name: name,
        address,
        registrations: registrations
            .into_iter()
            .map(|(code, number)| RegistrationLine {
                code: code.as_str(),
                number,
            })
            .collect(),
        time_zone,
        till: sale.till.map(|t| t.till.get()),
        cashier: sale.by.to_string(),
        return_policy: RETURN_POLICY,
    }
}

pub fn sale_body(
    catalog: &CatalogView,
    store: StoreId,
    view: SaleView,
    printed: Printed,
) -> SaleBody {
    let receipt = receipt(catalog.store(store), &view, printed);
    let sale = view.sale;
    let lines = sale
        .lines
        .into_iter()
        .map(|l| SoldLineBody {
            name: catalog.product(&l.sku).map(|p| p.name),
            sku: l.sku.to_string(),
            quantity: l.quantity,
            unit_price_cents: l.unit_price.0,
            list_price_cents: l.list_price.0,
            line_total_cents: (l.unit_price * l.quantity).0,
            discount_cents: l.discount.0,
            net_cents: l.net.0,
            tax_class: l.tax_class.as_str(),
            tax_codes: l
                .taxes
                .iter()
                .filter(|(_, a)| *a != 0)
                .map(|(c, _)| c.as_str())
                .collect(),
            taxes: line_taxes(&l.taxes),
            unstocked: l.unstocked,
        })
        .collect();
    SaleBody {
        id: sale.id.0,
        store_id: store.get(),
        lines,
        subtotal_cents: sale.subtotal.0,
        discount_cents: sale.discount.0,
        taxes: tax_bodies(&sale.taxes),
        total_cents: sale.total.0,
        cash_rounding_cents: sale.cash_rounding.0,
        paid_cents: sale.total.0 + sale.cash_rounding.0,
        tenders: tender_lines(sale.tenders),
        change_cents: sale.change.0,
        till: sale.till.map(|t| t.till.get()),
        session: sale.till.map(|t| t.session),
        receipt_number: sale.till.map(|t| t.receipt.to_string()),
        approved_by: sale.approved_by.map(|u| u.to_string()),
        created_at: rfc3339(sale.at),
        recorded_at: sale.recorded_at.map(rfc3339),
        by: sale.by.to_string(),
        receipt,
        returns: view.returns.into_iter().map(ReturnBody::from).collect(),
    }
}

fn tax_bodies(taxes: &[TaxLine]) -> Vec<TaxBody> {
    taxes
        .iter()
        .map(|t| TaxBody {
            code: t.code.as_str(),
            rate: t.rate.percent(),
            base_cents: t.base_cents,
            amount_cents: t.amount_cents,
        })
        .collect()
}

fn line_taxes(taxes: &[(TaxCode, i64)]) -> Vec<LineTaxBody> {
    taxes
        .iter()
        .map(|(code, amount)| LineTaxBody {
            code: code.as_str(),
            amount_cents: *amount,
        })
        .collect()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReturnedLineBody {
    sku: String,
    quantity: u32,
    unit_price_cents: i64,
    /// The units' part of the line after discounts, before taxes.
    net_cents: i64,
    taxes: Vec<LineTaxBody>,
    /// Net and taxes.
    refund_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReturnBody {
    id: u64,
    sale_id: u64,
    lines: Vec<ReturnedLineBody>,
    subtotal_cents: i64,
    taxes: Vec<TaxBody>,
    /// What was given back, over every tender (cash rounding included).
    refund_cents: i64,
    cash_rounding_cents: i64,
    tenders: Vec<TenderLineBody>,
    till: Option<u8>,
    receipt_number: Option<String>,
    reason: Option<String>,
    created_at: String,
    by: String,
}

impl From<Return> for ReturnBody {
    fn from(r: Return) -> Self {
        Self {
            id: r.id.0,
            sale_id: r.sale_id.0,
            lines: r
                .lines
                .into_iter()
                .map(|l| ReturnedLineBody {
                    refund_cents: l.net.0 + l.taxes.iter().map(|(_, t)| t).sum::<i64>(),
                    sku: l.sku.to_string(),
                    quantity: l.quantity,
                    unit_price_cents: l.unit_price.0,
                    net_cents: l.net.0,
                    taxes: line_taxes(&l.taxes),
                })
                .collect(),
            subtotal_cents: r.subtotal.0,
            taxes: tax_bodies(&r.taxes),
            refund_cents: r.refund.0,
            cash_rounding_cents: r.cash_rounding.0,
            tenders: tender_lines(r.tenders),
            till: r.till.map(|t| t.till.get()),
            receipt_number: r.till.map(|t| t.receipt.to_string()),
            reason: r.reason,
            created_at: rfc3339(r.at),
            by: r.by.to_string(),
        }
    }
}
