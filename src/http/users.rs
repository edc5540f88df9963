//! `/users`: admins create, list and deactivate users. Password hashes never leave here.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};

use actix_web::middleware::from_fn;

use super::AppState;
use super::auth::Authenticated;
use super::extract::store_id;
use super::forward;
use super::problem::{ApiError, FieldError};
use crate::auth::{Permission, hash_in_turn};
use crate::domain::{Role, User, UserChange, Username, check_new_password};

#[derive(Serialize, utoipa::ToSchema)]
struct UserBody {
    username: String,
    role: &'static str,
    store_id: Option<u32>,
    active: bool,
}

impl From<User> for UserBody {
    fn from(u: User) -> Self {
        Self {
            username: u.username.to_string(),
            role: u.role.as_str(),
            store_id: u.store.map(|s| s.get()),
            active: u.active,
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
        .create_user(User {
            password_hash: hash,
            ..checked
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{}", created.username)))
        .json(UserBody::from(created)))
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
    user.require(Permission::ManageUsers, None)?;
    let username = Username::parse(&path)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("username", e)]))?;
    let deactivated = app.registry.chain().deactivate_user(username).await?;
    Ok(web::Json(deactivated.into()))
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
    Ok(UserChange {
        role: Some((role, store)),
        reactivate: false,
    })
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
    let username = path_user(&path)?;
    let change = role_change(&body)?;
    let changed = app.registry.chain().change_user(username, change).await?;
    Ok(web::Json(changed.into()))
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
    user.require(Permission::ManageUsers, None)?;
    let username = path_user(&path)?;
    let change = UserChange {
        role: None,
        reactivate: true,
    };
    let changed = app.registry.chain().change_user(username, change).await?;
    Ok(web::Json(changed.into()))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list_users)
        .service(create_user)
        .service(deactivate_user)
        .service(change_user)
        .service(reactivate_user);
}

/// The OpenAPI description of this module's routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_users, create_user, deactivate_user, change_user, reactivate_user))]
pub(super) struct Docs;
