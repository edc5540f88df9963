//! `/webhooks`: administrators register the endpoints committed events are pushed to,
//! list and remove them, read each one's delivery log, and send a set-aside delivery again
//! (ADR 0029). The log and the set-aside deliveries are those of the instance that made
//! them: each instance delivers its own stores' events (`X-Magasin-Instance` names it).

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};

use super::auth::Authenticated;
use super::problem::{ApiError, FieldError};
use super::{AppState, forward, rfc3339};
use crate::actors::now;
use crate::auth::Permission;
use crate::domain::{Timestamp, ValueError, Webhook, parse_event_types};
use crate::webhooks::outbox::{Attempt, Outbox, Pending};
use crate::webhooks::{check_target, new_secret};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewWebhookBody {
    /// `https://…` (plain `http` and private addresses only where allowed).
    url: String,
    /// Event types (`sale_recorded`, `sale_returned`, `till_session_closed`, …) or `["*"]`.
    events: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct WebhookBody {
    id: u32,
    url: String,
    events: Vec<String>,
    created_at: String,
    created_by: String,
    /// Only in the answer to the registration: it signs every delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl WebhookBody {
    /// The answer to a registration: the one time the secret is shown.
    fn with_secret(webhook: Webhook) -> Self {
        let secret = Some(webhook.secret.clone());
        Self {
            secret,
            ..webhook.into()
        }
    }
}

impl From<Webhook> for WebhookBody {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id,
            url: w.url,
            events: w.events,
            created_at: rfc3339(w.created_at),
            created_by: w.created_by.to_string(),
            secret: None,
        }
    }
}

/// The endpoint a registration describes, every field checked.
async fn new_webhook(
    app: &AppState,
    body: NewWebhookBody,
) -> Result<(String, Vec<String>), ApiError> {
    let allow = app.webhook_settings.allow_private_targets;
    let url = check_target(&body.url, allow, true)
        .await
        .map(|()| body.url);
    let events = parse_event_types(&body.events);
    match (url, events) {
        (Ok(url), Ok(events)) => Ok((url, events)),
        (url, events) => {
            let mut errors = Vec::new();
            if let Err(e) = url {
                let mut error = FieldError::new("url", ValueError::WebhookUrl);
                error.detail = format!("{} ({e})", error.detail);
                errors.push(error);
            }
            if let Err(e) = events {
                errors.push(FieldError::new("events", e));
            }
            Err(ApiError::Validation(errors))
        }
    }
}

/// Registers an endpoint: every matching event committed from now on is pushed to it. The
/// answer holds the secret that signs the deliveries, shown this once.
#[utoipa::path(
    tag = "webhooks",
    request_body = NewWebhookBody,
    responses((status = 201, description = "Webhook enregistré (avec son secret)", body = WebhookBody))
)]
#[post("/webhooks", wrap = "from_fn(forward::reference_data)")]
async fn register(
    app: web::Data<AppState>,
    user: Authenticated,
    body: web::Json<NewWebhookBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageWebhooks, None)?;
    let (url, events) = new_webhook(&app, body.into_inner()).await?;
    let webhook = Webhook {
        id: 0,
        url,
        events,
        secret: new_secret(),
        created_at: now(),
        created_by: user.username.clone(),
    };
    let registered = app.registry.chain().register_webhook(webhook).await?;
    let location = format!("/api/v1/webhooks/{}", registered.id);
    Ok(HttpResponse::Created()
        .insert_header(("Location", location))
        .json(WebhookBody::with_secret(registered)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct WebhookList {
    items: Vec<WebhookBody>,
}

#[utoipa::path(
    tag = "webhooks",
    responses((status = 200, description = "Les webhooks", body = WebhookList))
)]
#[get("/webhooks")]
async fn list(
    app: web::Data<AppState>,
    user: Authenticated,
) -> Result<web::Json<WebhookList>, ApiError> {
    user.require(Permission::ManageWebhooks, None)?;
    let items = app
        .webhooks
        .all()
        .into_iter()
        .map(WebhookBody::from)
        .collect();
    Ok(web::Json(WebhookList { items }))
}

/// Removes an endpoint: nothing more is sent to it.
#[utoipa::path(tag = "webhooks", responses((status = 204, description = "Webhook supprimé")))]
#[delete("/webhooks/{id}", wrap = "from_fn(forward::reference_data)")]
async fn remove(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageWebhooks, None)?;
    let id = path.into_inner();
    match app.registry.chain().remove_webhook(id).await? {
        true => Ok(HttpResponse::NoContent().finish()),
        false => Err(ApiError::WebhookNotFound(id)),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    /// Attempts older than this one (its `id`): the next page.
    before: Option<i64>,
    /// 1 to 500, default 100.
    limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct AttemptBody {
    id: i64,
    event_id: String,
    event_type: String,
    seq: u64,
    at: String,
    /// The receiver's answer; `null` when it did not answer (see `error`).
    status: Option<u16>,
    error: Option<String>,
    /// `delivered`, `failed` (retried later) or `set_aside`.
    outcome: &'static str,
}

impl From<Attempt> for AttemptBody {
    fn from(a: Attempt) -> Self {
        Self {
            id: a.id,
            event_id: a.event_id,
            event_type: a.kind,
            seq: a.seq,
            at: rfc3339(Timestamp(a.at)),
            status: a.status,
            error: a.error,
            outcome: a.outcome,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct AttemptList {
    items: Vec<AttemptBody>,
}

/// The endpoint's delivery log on this instance, newest first.
#[utoipa::path(
    tag = "webhooks",
    params(LogQuery),
    responses((status = 200, description = "Journal des envois", body = AttemptList))
)]
#[get("/webhooks/{id}/deliveries")]
async fn deliveries(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    query: web::Query<LogQuery>,
) -> Result<web::Json<AttemptList>, ApiError> {
    user.require(Permission::ManageWebhooks, None)?;
    let id = known(&app, path.into_inner())?;
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    let before = query.before;
    let attempts = on_outbox(&app, move |o| o.attempts(id, before, limit)).await?;
    let items = attempts.into_iter().map(AttemptBody::from).collect();
    Ok(web::Json(AttemptList { items }))
}

/// Runs `work` on this instance's outbox (SQLite) on the blocking pool, not the arbiter.
async fn on_outbox<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    app: &AppState,
    work: impl FnOnce(&Outbox) -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    let outbox = app.outbox.clone();
    web::block(move || work(&outbox))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}

fn known(app: &AppState, id: u32) -> Result<u32, ApiError> {
    app.webhooks
        .get(id)
        .map(|w| w.id)
        .ok_or(ApiError::WebhookNotFound(id))
}

#[derive(Serialize, utoipa::ToSchema)]
struct SetAsideBody {
    event_id: String,
    event_type: String,
    stream: String,
    seq: u64,
    first_try_at: String,
    attempts: u32,
}

impl From<Pending> for SetAsideBody {
    fn from(p: Pending) -> Self {
        Self {
            event_id: p.event_id,
            event_type: p.kind,
            stream: p.stream.to_string(),
            seq: p.seq,
            first_try_at: rfc3339(Timestamp(p.first_try_at)),
            attempts: p.attempts,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct SetAsideList {
    items: Vec<SetAsideBody>,
}

/// The deliveries this instance set aside after their retry period.
#[utoipa::path(
    tag = "webhooks",
    responses((status = 200, description = "Envois mis de côté", body = SetAsideList))
)]
#[get("/webhooks/{id}/set-aside")]
async fn set_aside(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
) -> Result<web::Json<SetAsideList>, ApiError> {
    user.require(Permission::ManageWebhooks, None)?;
    let id = known(&app, path.into_inner())?;
    let items = on_outbox(&app, move |o| o.set_aside(id)).await?;
    let items = items.into_iter().map(SetAsideBody::from).collect();
    Ok(web::Json(SetAsideList { items }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ResendBody {
    /// The set-aside deliveries to send again (their `event_id`); absent: all of them.
    event_ids: Option<Vec<String>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ResendAnswer {
    /// How many set-aside deliveries will be sent again, once each.
    queued: usize,
}

/// Sends set-aside deliveries again, once each, as soon as the deliverer passes; one that
/// fails again is set aside again.
#[utoipa::path(
    tag = "webhooks",
    request_body = ResendBody,
    responses((status = 200, description = "Renvois demandés", body = ResendAnswer))
)]
#[post("/webhooks/{id}/set-aside/resend")]
async fn resend(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<u32>,
    body: web::Json<ResendBody>,
) -> Result<web::Json<ResendAnswer>, ApiError> {
    user.require(Permission::ManageWebhooks, None)?;
    let id = known(&app, path.into_inner())?;
    let chosen = body.into_inner().event_ids;
    let queued = on_outbox(&app, move |o| {
        let ids = match chosen {
            Some(ids) => ids,
            None => o.set_aside(id)?.into_iter().map(|p| p.event_id).collect(),
        };
        ids.iter()
            .map(|event_id| o.resend(id, event_id).map(usize::from))
            .sum::<Result<usize, _>>()
    })
    .await?;
    Ok(web::Json(ResendAnswer { queued }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(register)
        .service(list)
        .service(remove)
        .service(deliveries)
        .service(set_aside)
        .service(resend);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(register, list, remove, deliveries, set_aside, resend))]
pub(super) struct Docs;
