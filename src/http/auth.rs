//! `Authenticated` (the signed-in user of a request, from its bearer token), `/auth/login`
//! and `/auth/password`.
//!
//! In a cluster both routes are answered by the owner of the reference data (forwarded
//! there like a write of it), so that one throttle counts every instance's failures and a
//! new password is decided where users are written.

use actix_web::dev::Payload;
use actix_web::middleware::from_fn;
use actix_web::{FromRequest, HttpMessage, HttpRequest, post, web};
use serde::{Deserialize, Serialize};
use std::future::{Ready, ready};
use std::ops::Deref;
use std::time::Instant;

use super::observe::ActingUser;
use super::problem::{ApiError, FieldError};
use super::{AppState, client, forward, rfc3339};
use crate::actors::now;
use crate::auth::{AuthError, Principal, Verdict, hash_in_turn, verify_in_turn};
use crate::domain::{UserAccount, UserChange, Username, ValueError, check_new_password};

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
    let account = app
        .users
        .account(&username)
        .filter(|a| a.user.active)
        .ok_or(AuthError::InactiveUser)?;
    if claims.generation != account.generation {
        return Err(AuthError::InvalidToken("ended by a new password".into()).into());
    }
    let user = account.user;
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
/// that failed too often for this name and slows a name guessed from several (before any
/// hash is checked), and every failure is counted, logged and timed the same whether the
/// name exists or not.
pub(super) async fn check_password(
    app: &AppState,
    username: &str,
    password: String,
    address: &str,
) -> Result<UserAccount, ApiError> {
    match app.throttle.verdict(username, address, Instant::now()) {
        Verdict::Check => {}
        Verdict::CheckAfter(wait) => tokio::time::sleep(wait).await,
        Verdict::Refuse(wait) => {
            app.metrics.login_failures.inc();
            tracing::warn!(username = %username, address = %address, "login refused: too many failures");
            return Err(AuthError::TooManyAttempts(wait).into());
        }
    }
    let account = Username::parse(username)
        .ok()
        .and_then(|name| app.users.account(&name))
        .filter(|a| a.user.active);
    let hash = account.as_ref().map(|a| a.user.password_hash.clone());
    let matches = verify_in_turn(password, hash)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(account) = account.filter(|_| matches) else {
        app.throttle
            .record_failure(username, address, Instant::now());
        app.metrics.login_failures.inc();
        tracing::warn!(username = %username, address = %address, "failed login");
        return Err(AuthError::InvalidCredentials.into());
    };
    app.throttle.record_success(username, address);
    Ok(account)
}

/// The client's address, as the throttle counts it.
pub(super) fn client_address(app: &AppState, req: &HttpRequest) -> String {
    client::address(req, &app.trusted_proxies).to_string()
}

/// A token for `account`, as the login answers it.
fn signed_in(app: &AppState, account: &UserAccount) -> Result<LoginAnswer, ApiError> {
    let (token, expires_at) = app.tokens.issue(account, now())?;
    let user = &account.user;
    Ok(LoginAnswer {
        token,
        expires_at: rfc3339(expires_at),
        user: UserSummary {
            username: user.username.to_string(),
            role: user.role.as_str(),
            store_id: user.store.map(|s| s.get()),
        },
    })
}

/// Exchanges a username and password for a bearer token. Failed attempts are throttled
/// per username and client address (429), and slowed per username; a password an
/// administrator reset is refused with 403 `password_change_required` until the user
/// chooses a new one (`/auth/password`).
#[utoipa::path(
    tag = "auth",
    request_body = LoginBody,
    responses((status = 200, description = "Jeton de connexion", body = LoginAnswer))
)]
#[post("/auth/login", wrap = "from_fn(forward::reference_data)")]
async fn login(
    app: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginBody>,
) -> Result<web::Json<LoginAnswer>, ApiError> {
    let body = body.into_inner();
    let address = client_address(&app, &req);
    let account = check_password(&app, &body.username, body.password, &address).await?;
    if account.must_change_password {
        return Err(AuthError::PasswordChangeRequired.into());
    }
    tracing::info!(username = %account.user.username, %address, "login");
    Ok(web::Json(signed_in(&app, &account)?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    username: String,
    current_password: String,
    /// 8 to 128 characters, other than the current one.
    new_password: String,
}

/// The new password, checked before the current one is (a weak one is refused without
/// costing a hash or a throttle count).
fn new_password(body: &PasswordBody) -> Result<(), ApiError> {
    let field = |e| ApiError::Validation(vec![FieldError::new("new_password", e)]);
    check_new_password(&body.new_password).map_err(field)?;
    if body.new_password == body.current_password {
        return Err(field(ValueError::SamePassword));
    }
    Ok(())
}

/// A user changes their own password, the current one given (throttled as a login). Every
/// token of the user issued before stops working; the answer carries a new one. This is
/// also how a user whose password was reset chooses theirs.
#[utoipa::path(
    tag = "auth",
    request_body = PasswordBody,
    responses((status = 200, description = "Mot de passe changé, nouveau jeton", body = LoginAnswer))
)]
#[post("/auth/password", wrap = "from_fn(forward::reference_data)")]
async fn change_password(
    app: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<PasswordBody>,
) -> Result<web::Json<LoginAnswer>, ApiError> {
    let body = body.into_inner();
    new_password(&body)?;
    let address = client_address(&app, &req);
    let account = check_password(&app, &body.username, body.current_password, &address).await?;
    let hash = hash_in_turn(body.new_password).await?;
    let username = account.user.username;
    let change = UserChange::Password(hash);
    let chain = app.registry.chain();
    let changed = chain
        .change_user(username.clone(), change, Some(username))
        .await?;
    tracing::info!(username = %changed.user.username, %address, "password changed");
    Ok(web::Json(signed_in(&app, &changed)?))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login).service(change_password);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(login, change_password))]
pub(super) struct Docs;
