//! `/stores/{store_id}/tills/{till}/sessions…`: a till's sessions with their X and Z
//! reports, the store's Z reports, and a manager's approval at a till. Writes are
//! idempotent on `Idempotency-Key` and answered once durable.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

use super::auth::{Authenticated, check_password, client_address};
use super::extract::{IdemKey, Page, PageQuery, Pagination, store_id};
use super::problem::{ApiError, FieldError};
use super::{AppState, rfc3339};
use crate::actors::{Recorded, now};
use crate::auth::{AuthError, Permission};
use crate::domain::{
    Cents, Count, SessionTotals, StoreId, TillNumber, TillReport, ValueError, parse_label,
};

/// A store and one of its tills, from the path.
fn till_path(raw: (u32, i64)) -> Result<(StoreId, TillNumber), ApiError> {
    let till = TillNumber::new(raw.1)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("till", e)]))?;
    Ok((store_id(raw.0)?, till))
}

fn amount(field: &str, raw: i64) -> Result<Cents, ApiError> {
    Cents::price(raw)
        .map_err(|_| ApiError::Validation(vec![FieldError::new(field, ValueError::Amount)]))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TaxTotalBody {
    code: &'static str,
    /// Percent, as a decimal: `9.975`.
    rate: String,
    base_cents: i64,
    amount_cents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AmountBody {
    kind: &'static str,
    amount_cents: i64,
}

/// An X report (open session) or a Z report (closed: with `z_number`, the count and the
/// over/short, negative when short).
#[derive(Serialize, utoipa::ToSchema)]
pub struct TillReportBody {
    /// `X` or `Z`.
    report: &'static str,
    store_id: u32,
    till: u8,
    session: u64,
    /// The till's last receipt number: an offline till numbers its sales from it.
    last_receipt: u64,
    opened_at: String,
    opened_by: String,
    float_cents: i64,
    sales_count: u32,
    /// Before discounts and taxes.
    gross_cents: i64,
    discounts_cents: i64,
    /// After discounts, before taxes.
    net_cents: i64,
    taxes: Vec<TaxTotalBody>,
    total_cents: i64,
    tenders: Vec<AmountBody>,
    cash_received_cents: i64,
    change_cents: i64,
    cash_rounding_cents: i64,
    refunds_count: u32,
    refunds_cents: i64,
    refund_tenders: Vec<AmountBody>,
    cash_expected_cents: i64,
    z_number: Option<u64>,
    closed_at: Option<String>,
    closed_by: Option<String>,
    counted_cash_cents: Option<i64>,
    denominations: Vec<DenominationBody>,
    reason: Option<String>,
    over_short_cents: Option<i64>,
    /// Sales of this session recorded after its closing (taken offline, sent late).
    late_addendum: Option<AddendumBody>,
    /// A Z report's seal: the head of the store's chain at its closing, signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    seal: Option<SealBody>,
}

/// What proves a Z report is what the journal held that evening (ADR 0027): the hash of
/// its closing event in the store's chain, and an Ed25519 signature, by the key published
/// at `/api/v1/audit/public-key`, of the canonical JSON (keys sorted, no whitespace) of
/// `{"chain": {"stream", "seq", "head"}, "report": <this report without "seal" and
/// "late_addendum">}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SealBody {
    stream: String,
    /// The closing event's sequence number in the store's stream.
    seq: u64,
    /// The closing event's hash (hexadecimal): the chain's head at the closing.
    head: String,
    /// The signing key's public half (hexadecimal).
    public_key: String,
    /// Ed25519, hexadecimal.
    signature: String,
}

/// What a closed session took in after its Z report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AddendumBody {
    sales_count: u32,
    net_cents: i64,
    taxes: Vec<TaxTotalBody>,
    total_cents: i64,
    tenders: Vec<AmountBody>,
}

fn tax_totals(taxes: &[crate::domain::TaxTotal]) -> Vec<TaxTotalBody> {
    taxes
        .iter()
        .map(|x| TaxTotalBody {
            code: x.code.as_str(),
            rate: x.rate.percent(),
            base_cents: x.base_cents,
            amount_cents: x.amount_cents,
        })
        .collect()
}

impl From<SessionTotals> for AddendumBody {
    fn from(t: SessionTotals) -> Self {
        Self {
            sales_count: t.sales,
            net_cents: t.net,
            taxes: tax_totals(&t.taxes),
            total_cents: t.total,
            tenders: amounts(&t.tenders),
        }
    }
}

/// Z reports with their late addenda.
async fn with_addenda(
    app: &AppState,
    store: &crate::actors::StoreHandle,
    reports: Vec<TillReport>,
) -> Result<Vec<TillReportBody>, ApiError> {
    let mut bodies = Vec::with_capacity(reports.len());
    for report in reports {
        let late = store.late_addendum(&report).await?;
        let body = sealed(app, store, report.into()).await?;
        bodies.push(TillReportBody {
            late_addendum: late.map(Into::into),
            ..body
        });
    }
    Ok(bodies)
}

/// A Z report with its seal (an X report, or a Z whose closing event is no longer known,
/// as it is).
async fn sealed(
    app: &AppState,
    store: &crate::actors::StoreHandle,
    body: TillReportBody,
) -> Result<TillReportBody, ApiError> {
    let Some(z) = body.z_number else {
        return Ok(body);
    };
    let Some(seq) = store.z_seq(z).await? else {
        return Ok(body);
    };
    let id = store_id(body.store_id)?;
    let Some(head) = app.registry.store_event_hash(id, seq).await? else {
        return Ok(body);
    };
    let chain = serde_json::json!({
        "stream": format!("store/{}", body.store_id),
        "seq": seq,
        "head": hex::encode(head),
    });
    let mut report = serde_json::to_value(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    // Sales sent late may add to it after the closing: not part of what was sealed.
    if let Some(fields) = report.as_object_mut() {
        fields.remove("late_addendum");
    }
    let signed = serde_json::json!({"chain": chain, "report": report});
    let seal = SealBody {
        stream: format!("store/{}", body.store_id),
        seq,
        head: hex::encode(head),
        public_key: app.seal.public_hex(),
        signature: app.seal.sign(&signed),
    };
    Ok(TillReportBody {
        seal: Some(seal),
        ..body
    })
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DenominationBody {
    /// A bill's or coin's value in cents: 2000 for a 20 $ bill.
    value_cents: i64,
    count: u32,
}

fn amounts(list: &[(crate::domain::TenderKind, i64)]) -> Vec<AmountBody> {
    list.iter()
        .map(|(kind, amount)| AmountBody {
            kind: kind.as_str(),
            amount_cents: *amount,
        })
        .collect()
}

impl From<TillReport> for TillReportBody {
    fn from(r: TillReport) -> Self {
        let t = &r.totals;
        let closing = r.closing.as_ref();
        Self {
            report: if closing.is_some() { "Z" } else { "X" },
            store_id: r.store.get(),
            till: r.till.get(),
            session: r.session,
            last_receipt: r.last_receipt,
            opened_at: rfc3339(r.opened_at),
            opened_by: r.opened_by.to_string(),
            float_cents: r.float.0,
            sales_count: t.sales,
            gross_cents: t.gross,
            discounts_cents: t.discounts,
            net_cents: t.net,
            taxes: tax_totals(&t.taxes),
            total_cents: t.total,
            tenders: amounts(&t.tenders),
            cash_received_cents: t.cash_received,
            change_cents: t.change,
            cash_rounding_cents: t.cash_rounding,
            refunds_count: t.refunds,
            refunds_cents: t.refunded,
            refund_tenders: amounts(&t.refund_tenders),
            cash_expected_cents: r.cash_expected,
            z_number: closing.map(|c| c.z_number),
            closed_at: closing.map(|c| rfc3339(c.closed_at)),
            closed_by: closing.map(|c| c.closed_by.to_string()),
            counted_cash_cents: closing.map(|c| c.count.counted.0),
            denominations: closing
                .map(|c| {
                    c.count
                        .denominations
                        .iter()
                        .map(|(value, count)| DenominationBody {
                            value_cents: *value,
                            count: *count,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            reason: closing.and_then(|c| c.count.reason.clone()),
            over_short_cents: closing.map(|c| c.over_short),
            late_addendum: None,
            seal: None,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OpenSessionBody {
    /// The cash in the drawer at the start.
    float_cents: i64,
}

/// 201 with the report; a replay is marked as one.
fn answered(recorded: Recorded<TillReport>) -> HttpResponse {
    super::sales::replayable(recorded.replayed).json(TillReportBody::from(recorded.value))
}

/// 201 with the Z report and its seal; a replay is marked as one.
async fn answered_sealed(
    app: &AppState,
    store: &crate::actors::StoreHandle,
    recorded: Recorded<TillReport>,
) -> Result<HttpResponse, ApiError> {
    let body = sealed(app, store, recorded.value.into()).await?;
    Ok(super::sales::replayable(recorded.replayed).json(body))
}

/// Opens a session on a till with its float: till sales and refunds belong to it.
#[utoipa::path(
    tag = "caisses",
    request_body = OpenSessionBody,
    responses((status = 201, description = "Session ouverte (rapport X vide)", body = TillReportBody))
)]
#[post("/stores/{store_id}/tills/{till}/sessions")]
async fn open_session(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, i64)>,
    key: IdemKey,
    body: web::Json<OpenSessionBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, till) = till_path(path.into_inner())?;
    user.require(Permission::Sell, Some(id))?;
    let float = amount("float_cents", body.float_cents)?;
    let store = app.registry.store(id).await?;
    let opened = store
        .open_session(till, float, key.0, user.username.clone())
        .await?;
    Ok(answered(opened))
}

/// The X report of the till's open session: read at any time, changes nothing.
#[utoipa::path(
    tag = "caisses",
    responses((status = 200, description = "Rapport X", body = TillReportBody))
)]
#[get("/stores/{store_id}/tills/{till}/sessions/current")]
async fn current_session(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, i64)>,
) -> Result<web::Json<TillReportBody>, ApiError> {
    let (id, till) = till_path(path.into_inner())?;
    user.require(Permission::ReadSales, Some(id))?;
    let report = app.registry.store(id).await?.x_report(till).await?;
    Ok(web::Json(report.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CloseSessionBody {
    counted_cash_cents: i64,
    /// The count by bill and coin, if counted that way: it must add up to the total.
    #[serde(default)]
    denominations: Vec<DenominationBody>,
    /// Why the count differs from the cash expected; required when it does.
    reason: Option<String>,
}

fn count(body: CloseSessionBody) -> Result<Count, ApiError> {
    let counted = amount("counted_cash_cents", body.counted_cash_cents)?;
    let by_denomination: i64 = body
        .denominations
        .iter()
        .map(|d| d.value_cents.saturating_mul(i64::from(d.count)))
        .sum();
    let bad = body
        .denominations
        .iter()
        .any(|d| !(1..=100_000).contains(&d.value_cents));
    if bad || (!body.denominations.is_empty() && by_denomination != counted.0) {
        return Err(ApiError::Validation(vec![FieldError {
            field: "denominations".into(),
            code: "denominations_mismatch",
            detail: format!(
                "Les coupures totalisent {by_denomination} cents, pas {} cents.",
                counted.0
            ),
        }]));
    }
    let reason = body
        .reason
        .as_deref()
        .map(|r| parse_label(r, 200))
        .transpose()
        .map_err(|e| ApiError::Validation(vec![FieldError::new("reason", e)]))?;
    let denominations = body
        .denominations
        .iter()
        .map(|d| (d.value_cents, d.count))
        .collect();
    Ok(Count {
        counted,
        denominations,
        reason,
    })
}

/// Closes the till's session with the cash counted: its Z report, numbered and immutable.
#[utoipa::path(
    tag = "caisses",
    request_body = CloseSessionBody,
    responses((status = 201, description = "Rapport Z", body = TillReportBody))
)]
#[post("/stores/{store_id}/tills/{till}/sessions/current/close")]
async fn close_session(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<(u32, i64)>,
    key: IdemKey,
    body: web::Json<CloseSessionBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, till) = till_path(path.into_inner())?;
    user.require(Permission::Sell, Some(id))?;
    let count = count(body.into_inner())?;
    let store = app.registry.store(id).await?;
    let closed = store
        .close_session(till, count, key.0, user.username.clone())
        .await?;
    answered_sealed(&app, &store, closed).await
}

/// The store's Z reports, newest first.
#[utoipa::path(
    tag = "caisses",
    responses((status = 200, description = "Rapports Z", body = Page<TillReportBody>))
)]
#[get("/stores/{store_id}/z-reports")]
async fn z_reports(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    query: web::Query<PageQuery>,
) -> Result<web::Json<Page<TillReportBody>>, ApiError> {
    let id = store_id(path.into_inner())?;
    user.require(Permission::ReadSales, Some(id))?;
    let pagination = Pagination::new(query.page, query.per_page)?;
    let store = app.registry.store(id).await?;
    let (reports, total) = store
        .z_reports(pagination.skip(), pagination.take())
        .await?;
    let items = with_addenda(&app, &store, reports).await?;
    let total = usize::try_from(total).unwrap_or(usize::MAX);
    Ok(web::Json(pagination.page_of(items, total)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ApprovalBody {
    username: String,
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ApprovalAnswer {
    /// Sent with the sale as `approval`; valid two minutes, for this store only.
    approval: String,
    approver: String,
    expires_at: String,
}

/// A manager authenticates at the till: a short-lived approval for a discount above the
/// store's threshold or a price override. The password goes no further than this call.
#[utoipa::path(
    tag = "caisses",
    request_body = ApprovalBody,
    responses((status = 201, description = "Approbation", body = ApprovalAnswer))
)]
#[post("/stores/{store_id}/approvals")]
async fn approve(
    app: web::Data<AppState>,
    user: Authenticated,
    req: HttpRequest,
    path: web::Path<u32>,
    body: web::Json<ApprovalBody>,
) -> Result<HttpResponse, ApiError> {
    let id = store_id(path.into_inner())?;
    user.require(Permission::Sell, Some(id))?;
    let address = client_address(&app, &req);
    let body = body.into_inner();
    let manager = check_password(&app, &body.username, body.password, &address)
        .await?
        .user;
    let principal = crate::auth::Principal::of(&manager);
    principal.require(Permission::ApproveDiscounts, Some(id))?;
    let (approval, expires_at) = app.tokens.issue_approval(&manager, id.get(), now())?;
    tracing::info!(approver = %manager.username, cashier = %user.username, store = %id, "approval given");
    Ok(HttpResponse::Created().json(ApprovalAnswer {
        approval,
        approver: manager.username.to_string(),
        expires_at: rfc3339(expires_at),
    }))
}

/// The manager an approval names, if it is valid for `store` and that manager still may
/// approve there.
pub(super) fn approver(
    app: &AppState,
    store: StoreId,
    token: &str,
) -> Result<crate::domain::Username, ApiError> {
    let claims = app.tokens.verify_approval(token, store.get())?;
    let manager = crate::domain::Username::parse(&claims.sub)
        .ok()
        .and_then(|name| app.users.get(&name))
        .filter(|u| u.active)
        .ok_or(AuthError::InvalidCredentials)?;
    crate::auth::Principal::of(&manager).require(Permission::ApproveDiscounts, Some(store))?;
    Ok(manager.username)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(open_session)
        .service(current_session)
        .service(close_session)
        .service(z_reports)
        .service(approve);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(open_session, current_session, close_session, z_reports, approve))]
pub(super) struct Docs;
