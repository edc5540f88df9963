//! `/users`: administrators create, list, change, deactivate and reactivate users, reset a
//! password, and read the log of every change with who made it and when
//! (`/user-changes`). Password hashes never leave here.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};

use actix_web::middleware::from_fn;

use super::auth::Authenticated;
use super::extract::{Page, Pagination, store_id};
use super::problem::{ApiError, FieldError};
use super::{AppState, forward, rfc3339};
use crate::auth::{Permission, hash_in_turn, temporary_password};
use crate::domain::{
    Role, User, UserAccount, UserChange, UserLogEntry, Username, check_new_password,
};

#[derive(Serialize, utoipa::ToSchema)]
struct UserBody {
    username: String,
    role: &'static str,
    store_id: Option<u32>,
    active: bool,
    /// The password was reset: the next login must choose a new one.
    must_change_password: bool,
}

impl From<UserAccount> for UserBody {
    fn from(a: UserAccount) -> Self {
        let u = a.user;
        Self {
            username: u.username.to_string(),
            role: u.role.as_str(),
            store_id: u.store.map(|s| s.get()),
            active: u.active,
            must_change_password: a.must_change_password,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct UserList {
    items: Vec<UserBody>,
}

#[utoipa::path(
    tag = "utilisateurs",
    responses((status = 200, description = "Les utilisateurs", body = UserList))
)]
#[get("/users")]
async fn list_users(
    app: web::Data<AppState>,
    user: Authenticated,
) -> Result<web::Json<UserList>, ApiError> {
    user.require(Permission::ManageUsers, None)?;
    let items = app.users.all().into_iter().map(UserBody::from).collect();
    Ok(web::Json(UserList { items }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    username: String,
    password: String,
    role: String,
    store_id: Option<u32>,
}

/// The user a creation body describes, checked field by field (every error named at
/// once), its store known; its password is hashed by the caller.
fn new_user(app: &AppState, body: &NewUserBody) -> Result<User, ApiError> {
    let mut errors = Vec::new();
    let username = Username::parse(&body.username)
        .map_err(|e| errors.push(FieldError::new("username", e)))
        .ok();
    let role = Role::parse(&body.role)
        .map_err(|e| errors.push(FieldError::new("role", e)))
        .ok();
    let store = match body.store_id.map(store_id).transpose() {
        Ok(store) => store,
        Err(_) => {
            errors.push(FieldError::new(
                "store_id",
                crate::domain::ValueError::StoreId,
            ));
            None
        }
    };
    if let Err(e) = check_new_password(&body.password) {
        errors.push(FieldError::new("password", e));
    }
    let (Some(username), Some(role)) = (username, role) else {
        return Err(ApiError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if let Some(id) = store
        && app.catalog.store(id).is_none()
    {
        return Err(ApiError::StoreNotFound(id));
    }
    User::new(username, String::new(), role, store)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("store_id", e)]))
}

/// Creates a user; the password is hashed (argon2id) off the arbiter and only the hash is
/// journaled.
#[utoipa::path(
    tag = "utilisateurs",
    request_body = NewUserBody,
    responses((status = 201, description = "Utilisateur créé", body = UserBody))
)]
#[post("/users", wrap = "from_fn(forward::reference_data)")]
async fn create_user(
    app: web::Data<AppState>,
    user: Authenticated,
    body: web::Json<NewUserBody>,
) -> Result<HttpResponse, ApiError> {
    user.require(Permission::ManageUsers, None)?;
    let checked = new_user(&app, &body)?;
    let hash = hash_in_turn(body.into_inner().password).await?;
    let created = app
        .registry
        .chain()
        .create_user(
            User {
                password_hash: hash,
                ..checked
            },
            Some(user.username.clone()),
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{}", created.username)))
        .json(UserBody::from(UserAccount::new(created))))
}

/// Deactivates a user; their tokens stop working at once. Deactivating twice is harmless.
#[utoipa::path(
    tag = "utilisateurs",
    responses((status = 200, description = "Utilisateur désactivé", body = UserBody))
)]
#[post("/users/{username}/deactivate", wrap = "from_fn(forward::reference_data)")]
async fn deactivate_user(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
) -> Result<web::Json<UserBody>, ApiError> {
    by_admin(&app, &user, &path, UserChange::Deactivate).await
}

/// An administrator's change to the user named in the path, journaled as theirs.
async fn by_admin(
    app: &AppState,
    admin: &Authenticated,
    username: &str,
    change: UserChange,
) -> Result<web::Json<UserBody>, ApiError> {
    admin.require(Permission::ManageUsers, None)?;
    let username = path_user(username)?;
    let by = Some(admin.username.clone());
    let changed = app
        .registry
        .chain()
        .change_user(username, change, by)
        .await?;
    Ok(web::Json(changed.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UserChangeBody {
    /// `cashier` and `manager` with their `store_id`; `logistics` and `admin` without.
    role: String,
    store_id: Option<u32>,
}

fn path_user(raw: &str) -> Result<Username, ApiError> {
    Username::parse(raw).map_err(|e| ApiError::Validation(vec![FieldError::new("username", e)]))
}

/// A new role (and store) for a user, checked together.
fn role_change(body: &UserChangeBody) -> Result<UserChange, ApiError> {
    let role = Role::parse(&body.role)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("role", e)]))?;
    let store = body.store_id.map(store_id).transpose()?;
    if role.is_store_role() != store.is_some() {
        let scope = crate::domain::ValueError::RoleScope;
        return Err(ApiError::Validation(vec![FieldError::new(
            "store_id", scope,
        )]));
    }
    Ok(UserChange::Role(role, store))
}

/// Changes a user's role and store; the last active administrator stays one (409).
#[utoipa::path(
    tag = "utilisateurs",
    request_body = UserChangeBody,
    responses((status = 200, description = "Utilisateur modifié", body = UserBody))
)]
#[patch("/users/{username}", wrap = "from_fn(forward::reference_data)")]
async fn change_user(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
    body: web::Json<UserChangeBody>,
) -> Result<web::Json<UserBody>, ApiError> {
    user.require(Permission::ManageUsers, None)?;
    let change = role_change(&body)?;
    by_admin(&app, &user, &path, change).await
}

/// Lets a deactivated user sign in again (with the password they had).
#[utoipa::path(
    tag = "utilisateurs",
    responses((status = 200, description = "Utilisateur réactivé", body = UserBody))
)]
#[post("/users/{username}/reactivate", wrap = "from_fn(forward::reference_data)")]
async fn reactivate_user(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
) -> Result<web::Json<UserBody>, ApiError> {
    by_admin(&app, &user, &path, UserChange::Reactivate).await
}

#[derive(Serialize, utoipa::ToSchema)]
struct ResetAnswer {
    username: String,
    /// Shown once: the user signs in with it and must then choose their own.
    temporary_password: String,
}

/// An administrator resets a user's password: the answer holds a temporary one, which
/// the user must replace at their next login; every token of the user stops working.
#[utoipa::path(
    tag = "utilisateurs",
    responses((status = 200, description = "Mot de passe temporaire", body = ResetAnswer))
)]
#[post("/users/{username}/reset-password", wrap = "from_fn(forward::reference_data)")]
async fn reset_password(
    app: web::Data<AppState>,
    user: Authenticated,
    path: web::Path<String>,
) -> Result<web::Json<ResetAnswer>, ApiError> {
    user.require(Permission::ManageUsers, None)?;
    let username = path_user(&path)?;
    let temporary = temporary_password();
    let hash = hash_in_turn(temporary.clone()).await?;
    let change = UserChange::TemporaryPassword {
        hash,
        recovery: false,
    };
    let by = Some(user.username.clone());
    let reset = app
        .registry
        .chain()
        .change_user(username, change, by)
        .await?;
    tracing::info!(username = %reset.user.username, by = %user.username, "password reset");
    Ok(web::Json(ResetAnswer {
        username: reset.user.username.to_string(),
        temporary_password: temporary,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ChangesQuery {
    /// Only the changes to this user.
    username: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct UserChangeItem {
    at: String,
    /// Who made the change; `null` when no user did: the demo seed, the first administrator
    /// at start-up, `magasin admin reset-password` on a stopped instance.
    by: Option<String>,
    username: String,
    /// `created`, `deactivated`, `reactivated`, `role_changed`, `password_changed`,
    /// `password_reset` or `password_recovered`.
    change: &'static str,
    role: &'static str,
    store_id: Option<u32>,
    active: bool,
}

impl From<UserLogEntry> for UserChangeItem {
    fn from(e: UserLogEntry) -> Self {
        Self {
            at: rfc3339(e.stamp.at),
            by: e.stamp.by.map(|u| u.to_string()),
            username: e.username.to_string(),
            change: e.change.as_str(),
            role: e.role.as_str(),
            store_id: e.store.map(|s| s.get()),
            active: e.active,
        }
    }
}

/// Every change to a user, newest first, with who made it and when.
#[utoipa::path(
    tag = "utilisateurs",
    params(ChangesQuery),
    responses((status = 200, description = "Journal des utilisateurs", body = Page<UserChangeItem>))
)]
#[get("/user-changes")]
async fn user_changes(
    app: web::Data<AppState>,
    user: Authenticated,
    query: web::Query<ChangesQuery>,
) -> Result<web::Json<Page<UserChangeItem>>, ApiError> {
    user.require(Permission::ManageUsers, None)?;
    let query = query.into_inner();
    let pagination = Pagination::new(query.page, query.per_page)?;
    let only = query.username.as_deref().map(path_user).transpose()?;
    let changes = app
        .users
        .changes(|e| only.as_ref().is_none_or(|name| e.username == *name));
    Ok(web::Json(pagination.slice(changes, UserChangeItem::from)))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_users)
        .service(create_user)
        .service(deactivate_user)
        .service(change_user)
        .service(reactivate_user)
        .service(reset_password)
        .service(user_changes);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_users,
    create_user,
    deactivate_user,
    change_user,
    reactivate_user,
    reset_password,
    user_changes
))]
pub(super) struct Docs;
