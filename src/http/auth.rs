//! `Authenticated` (the signed-in user of a request, from its bearer token) and
//! `/auth/login`.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, post, web};
use serde::{Deserialize, Serialize};
use std::future::{Ready, ready};
use std::ops::Deref;
use std::time::Instant;

use super::observe::ActingUser;
use super::problem::ApiError;
use super::{AppState, rfc3339};
use crate::actors::now;
use crate::auth::{AuthError, Principal, verify_in_turn};
use crate::domain::Username;

/// The user a request acts as. Extracting it is what makes a route non-public: the token
/// must verify, and its user must still exist and be active (checked on every request).
pub struct Authenticated(Principal);

impl Deref for Authenticated {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let app = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or(AuthError::MissingToken)?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .ok_or_else(|| AuthError::InvalidToken("not a bearer token".into()))?;
    let claims = app.tokens.verify(token.trim())?;
    let username = Username::parse(&claims.sub).map_err(|_| AuthError::InactiveUser)?;
    let user = app
        .users
        .get(&username)
        .filter(|u| u.active)
        .ok_or(AuthError::InactiveUser)?;
    // The current record, not the token, says what the user may do now.
    Ok(Principal {
        username: user.username,
        role: user.role,
        store: user.store,
    })
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let result = authenticate(req);
        if let Ok(principal) = &result {
            req.extensions_mut().insert(ActingUser(principal.clone()));
        }
        ready(result.map(Authenticated))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserSummary {
    pub username: String,
    pub role: &'static str,
    pub store_id: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct LoginAnswer {
    token: String,
    expires_at: String,
    user: UserSummary,
}

/// The active user whose password this is, or why not: the throttle refuses an address
/// that failed too often for this name (before any hash is checked), and every failure is
/// counted, logged and timed the same whether the name exists or not.
pub(super) async fn check_password(
    app: &AppState,
    username: &str,
    password: String,
    address: &str,
) -> Result<crate::domain::User, ApiError> {
    if let Some(wait) = app.throttle.locked_for(username, address, Instant::now()) {
        app.metrics.login_failures.inc();
        return Err(AuthError::TooManyAttempts(wait).into());
    }
    let user = Username::parse(username)
        .ok()
        .and_then(|name| app.users.get(&name))
        .filter(|u| u.active);
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = verify_in_turn(password, hash)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(user) = user.filter(|_| matches) else {
        app.throttle
            .record_failure(username, address, Instant::now());
        app.metrics.login_failures.inc();
        tracing::warn!(username = %username, address = %address, "failed login");
        return Err(AuthError::InvalidCredentials.into());
    };
    app.throttle.record_success(username, address);
    Ok(user)
}

/// Exchanges a username and password for a bearer token. Failed attempts are throttled
/// per username and client address.
#[utoipa::path(
    tag = "auth",
    request_body = LoginBody,
    responses((status = 200, description = "Jeton de connexion", body = LoginAnswer))
)]
#[post("/auth/login")]
async fn login(
    app: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginBody>,
) -> Result<web::Json<LoginAnswer>, ApiError> {
    let body = body.into_inner();
    let address = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let user = check_password(&app, &body.username, body.password, &address).await?;
    let (token, expires_at) = app.tokens.issue(&user, now())?;
    tracing::info!(username = %user.username, "login");
    Ok(web::Json(LoginAnswer {
        token,
        expires_at: rfc3339(expires_at),
        user: UserSummary {
            username: user.username.to_string(),
            role: user.role.as_str(),
            store_id: user.store.map(|s| s.get()),
        },
    }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(login))]
pub(super) struct Docs;
