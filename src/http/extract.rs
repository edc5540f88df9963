//! Request pieces every route shares: the idempotency key header, pagination, path ids,
//! and the JSON/query/path error handlers that turn framework errors into problem+json.

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{FromRequest, HttpRequest};
use serde::{Deserialize, Serialize};
use std::future::{Ready, ready};

use super::problem::{ApiError, FieldError};
use crate::domain::{IdempotencyKey, Quantity, RequestedLine, Sku, StoreId};

/// The optional `Idempotency-Key` header, validated.
pub struct IdemKey(pub Option<IdempotencyKey>);

impl FromRequest for IdemKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let Some(raw) = req.headers().get("Idempotency-Key") else {
            return ready(Ok(IdemKey(None)));
        };
        let parsed = raw
            .to_str()
            .map_err(|_| crate::domain::ValueError::IdempotencyKey)
            .and_then(IdempotencyKey::parse)
            .map(|key| IdemKey(Some(key)))
            .map_err(|e| ApiError::Validation(vec![FieldError::new("Idempotency-Key", e)]));
        ready(parsed)
    }
}

impl IdemKey {
    /// The key given (a retry is the same write), else a new one (each call is new).
    pub fn or_new(&self) -> String {
        match &self.0 {
            Some(key) => key.as_str().to_owned(),
            None => uuid::Uuid::new_v4().to_string(),
        }
    }
}

pub const DEFAULT_PER_PAGE: u32 = 50;
pub const MAX_PER_PAGE: u32 = 200;

/// `?page=&per_page=` of a listing, before [`Pagination::new`] checks it.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// A validated page request: `page` from 1, `per_page` from 1 to 200 (default 50).
#[derive(Debug, Clone, Copy)]
pub struct Pagination {
    pub page: u32,
    pub per_page: u32,
}

impl Pagination {
    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Result<Self, ApiError> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        let mut errors = Vec::new();
        if page == 0 {
            errors.push(FieldError {
                field: "page".into(),
                code: "invalid_page",
                detail: "La page commence à 1.".into(),
            });
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            errors.push(FieldError {
                field: "per_page".into(),
                code: "invalid_per_page",
                detail: format!("per_page va de 1 à {MAX_PER_PAGE}."),
            });
        }
        if errors.is_empty() {
            Ok(Self { page, per_page })
        } else {
            Err(ApiError::Validation(errors))
        }
    }

    pub fn skip(&self) -> usize {
        (self.page as usize - 1) * self.per_page as usize
    }

    pub fn take(&self) -> usize {
        self.per_page as usize
    }

    /// This page of `items` (already filtered and ordered), with the total.
    pub fn slice<T, U: Serialize>(&self, items: Vec<T>, map: impl Fn(T) -> U) -> Page<U> {
        let total = items.len();
        let items = items
            .into_iter()
            .skip(self.skip())
            .take(self.take())
            .map(map)
            .collect();
        self.page_of(items, total)
    }

    pub fn page_of<U: Serialize>(&self, items: Vec<U>, total: usize) -> Page<U> {
        Page {
            items,
            page: self.page,
            per_page: self.per_page,
            total,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T: Serialize> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total: usize,
}

/// `?after=&limit=` of a ledger (a journal read by position).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// Entries after this position (0: from the start).
    after: Option<u64>,
    /// 1 to 1000, default 100.
    limit: Option<usize>,
}

impl LedgerQuery {
    const MAX: usize = 1000;

    /// The validated position to read after, and how many entries.
    pub fn page(&self) -> Result<(u64, usize), ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=Self::MAX).contains(&limit) {
            return Err(ApiError::Validation(vec![FieldError {
                field: "limit".into(),
                code: "invalid_limit",
                detail: format!("limit va de 1 à {}.", Self::MAX),
            }]));
        }
        Ok((self.after.unwrap_or(0), limit))
    }
}

/// Where the next ledger page starts: after the last entry of a full page; none when the
/// page was not full (the end, for now).
pub fn next_after<E>(events: &[(u64, E)], limit: usize) -> Option<u64> {
    (events.len() == limit)
        .then(|| events.last().map(|(seq, _)| *seq))
        .flatten()
}

/// A store id from the path: 0 is no store.
pub fn store_id(raw: u32) -> Result<StoreId, ApiError> {
    StoreId::new(raw).map_err(|e| ApiError::Validation(vec![FieldError::new("store_id", e)]))
}

/// A SKU from the path.
pub fn sku(raw: &str) -> Result<Sku, ApiError> {
    Sku::parse(raw).map_err(|e| ApiError::Validation(vec![FieldError::new("sku", e)]))
}

pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge
        }
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Deserialize(e) => ApiError::MalformedBody(e.to_string()),
        other => ApiError::MalformedBody(other.to_string()),
    };
    api.into()
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::InvalidQuery(err.to_string()).into()
}

pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::InvalidPath(err.to_string()).into()
}

/// One `{sku, quantity}` line of a request body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    pub sku: String,
    pub quantity: i64,
}

/// Parses `{sku, quantity}` lines, naming every invalid field.
pub fn parse_lines(lines: &[LineBody]) -> Result<Vec<RequestedLine>, ApiError> {
    let mut errors = Vec::new();
    let mut parsed = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let sku = Sku::parse(&line.sku)
            .map_err(|e| errors.push(FieldError::new(format!("lines[{i}].sku"), e)));
        let quantity = Quantity::new(line.quantity)
            .map_err(|e| errors.push(FieldError::new(format!("lines[{i}].quantity"), e)));
        if let (Ok(sku), Ok(quantity)) = (sku, quantity) {
            parsed.push(RequestedLine { sku, quantity });
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// The store of the path, once the user may act on it with `permission` (403 before 404:
/// a store role learns nothing of other stores).
pub fn known_store(
    app: &super::AppState,
    user: &super::auth::Authenticated,
    raw: u32,
    permission: crate::auth::Permission,
) -> Result<StoreId, ApiError> {
    let id = store_id(raw)?;
    user.require(permission, Some(id))?;
    app.catalog.store(id).ok_or(ApiError::StoreNotFound(id))?;
    Ok(id)
}
