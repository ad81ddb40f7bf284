//! Login, logout, the caller's own account (personal-data export and erasure), API tokens,
//! organisations and users.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use xietong_app::account::NewAccount;
use xietong_app::types::{ApiToken, Org, User};
use xietong_domain::Principal;

use crate::auth::{Caller, Credential, SESSION_COOKIE, behind_tls, clear_session_cookie, cookie_value, session_cookie};
use crate::error::{ApiResult, Problem};
use crate::json::ApiJson;
use crate::state::AppState;

/// Body of `POST /api/v1/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// The logged-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub username: String,
    pub display_name: String,
    /// platform_admin, region_operator, org_admin, member, tech_manager or talent.
    pub role: String,
    pub org: Option<String>,
    /// Home region (GB/T 2260).
    pub region: Option<String>,
    /// Organisations a technology manager acts for.
    pub acting_for: Vec<String>,
    pub scopes: Vec<String>,
    /// The CSRF token to send as `X-CSRF-Token` with unsafe requests authenticated by the
    /// session cookie; absent for API tokens.
    pub csrf_token: Option<String>,
}

impl Me {
    fn of(principal: &Principal, csrf_token: Option<String>) -> Me {
        Me {
            username: principal.username.clone(),
            display_name: principal.display_name.clone(),
            role: principal.role.as_str().to_string(),
            org: principal.org.clone(),
            region: principal.region.clone(),
            acting_for: principal.acting_for.clone(),
            scopes: principal.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            csrf_token,
        }
    }
}

/// Logs in with username and password and sets the `xt_session` cookie (HttpOnly,
/// SameSite=Lax, Secure behind TLS). Failed attempts are throttled per account and address.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses(
        (status = 200, body = Me, description = "Logged in; the cookie is set"),
        (status = 401, body = Problem, description = "Wrong username or password"),
        (status = 429, body = Problem, description = "Too many failed attempts; see Retry-After"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let ip = caller.ip.clone();
    let session = state
        .blocking(move |app| Ok(app.account().login(&request.username, &request.password, ip.as_deref())?))
        .await?;
    let max_age = (session.expires_at - OffsetDateTime::now_utc()).whole_seconds();
    let cookie = session_cookie(&session.token, max_age, state.secure_cookies || behind_tls(&headers));
    Ok(([(header::SET_COOKIE, cookie)], Json(Me::of(&session.principal, Some(session.csrf_token)))))
}

/// Ends the session of the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts",
    responses((status = 204, description = "Logged out")))]
pub async fn logout(State(state): State<AppState>, caller: Caller, headers: HeaderMap) -> ApiResult<impl IntoResponse> {
    end_session(&state, &caller, &headers).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear_session_cookie())]))
}

/// Deletes the caller's session (if the request came with one) and audits the logout.
pub async fn end_session(state: &AppState, caller: &Caller, headers: &HeaderMap) -> ApiResult<()> {
    let cookie = match caller.credential {
        Credential::Session { .. } => cookie_value(headers, SESSION_COOKIE),
        _ => None,
    };
    let actor = caller.actor();
    state.blocking(move |app| Ok(app.account().logout(&actor, cookie.as_deref())?)).await
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(caller: Caller) -> ApiResult<Json<Me>> {
    let principal = caller.user()?;
    Ok(Json(Me::of(principal, caller.csrf_token().map(str::to_string))))
}

/// Everything the platform holds about the caller: account, listings of their personal or own
/// organisation with contacts in full, contact requests, tokens and audit entries they caused.
#[utoipa::path(get, path = "/api/v1/me/export", tag = "accounts",
    responses((status = 200, description = "JSON document of the caller's personal data")))]
pub async fn export_me(State(state): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let document = state.blocking(move |app| Ok(app.export_personal_data(&actor)?)).await?;
    let disposition = "attachment; filename=\"xietong-personal-data.json\"";
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(document)))
}

/// What an erasure removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    pub listings_deleted: usize,
    pub account_disabled: bool,
}

/// Erases the caller's personal data on request: an individual talent's listings are deleted
/// for good (and leave the index), the account is disabled and its sessions and tokens end.
/// The audit trail keeps the record that this happened.
#[utoipa::path(delete, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, body = Erased), (status = 403, body = Problem, description = "Only individual talents erase themselves; organisations ask their admin")))]
pub async fn erase_me(State(state): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let erased = state.blocking(move |app| Ok(app.erase_personal_data(&actor)?)).await?;
    let erased = Erased { listings_deleted: erased.listings_deleted, account_disabled: erased.account_disabled };
    Ok(([(header::SET_COOKIE, clear_session_cookie())], Json(erased)))
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTokenRequest {
    /// What the token is for, e.g. "nightly export".
    pub name: String,
    /// read, write, admin; default all the caller's.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Days until it expires; default never.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A new token; `token` is shown only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedToken {
    pub id: i64,
    pub token: String,
    pub scopes: Vec<String>,
}

/// The caller's API tokens (never the token values).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts", responses((status = 200, description = "Tokens")))]
pub async fn list_tokens(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ApiToken>>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.account().tokens(&actor, None)?)).await?))
}

/// Issues an API token for the caller, used as `Authorization: Bearer TOKEN`.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts", request_body = NewTokenRequest,
    responses((status = 201, body = IssuedToken), (status = 400, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewTokenRequest>,
) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let issued = state
        .blocking(move |app| {
            let issued = app.account().issue_token(
                &actor,
                None,
                &request.name,
                request.scopes.as_deref(),
                request.expires_in_days,
            )?;
            Ok(IssuedToken {
                id: issued.stored.id,
                token: issued.token,
                scopes: issued.stored.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Revokes a token of the caller (the platform admin may revoke anyone's). Revoked tokens are
/// refused at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "accounts",
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = Problem)))]
pub async fn revoke_token(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let actor = caller.actor();
    state.blocking(move |app| Ok(app.account().revoke_token(&actor, id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /api/v1/orgs`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrgRequest {
    pub name: String,
    /// enterprise, university, facility_operator, government or individual.
    pub kind: String,
    /// GB/T 2260 code.
    pub region_code: String,
}

/// All organisations.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "accounts", responses((status = 200, description = "Organisations")))]
pub async fn list_orgs(State(state): State<AppState>) -> ApiResult<Json<Vec<Org>>> {
    Ok(Json(state.blocking(|app| Ok(app.account().orgs()?)).await?))
}

/// Registers an organisation (platform admin).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "accounts", request_body = NewOrgRequest,
    responses((status = 201, description = "Created"), (status = 409, body = Problem)))]
pub async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewOrgRequest>,
) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let org = state
        .blocking(move |app| {
            Ok(app.account().create_org(&actor, &request.name, &request.kind, &request.region_code)?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserRequest {
    pub username: String,
    pub display_name: Option<String>,
    pub password: String,
    /// A role name; organisation admins may create `member` and `org_admin` only.
    pub role: String,
    /// Organisation name; organisation admins always create in their own.
    pub org: Option<String>,
    /// For region operators: the region they operate.
    pub region_code: Option<String>,
}

/// All users (platform admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts", responses((status = 200, description = "Users")))]
pub async fn list_users(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<User>>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.account().users(&actor)?)).await?))
}

/// Creates a user: the platform admin in any organisation, an organisation admin in their own.
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", request_body = NewUserRequest,
    responses((status = 201, description = "Created"), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewUserRequest>,
) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let account = NewAccount {
        username: request.username,
        display_name: request.display_name,
        password: request.password,
        role: request.role,
        org: request.org,
        region: request.region_code,
        acting_for: Vec::new(),
    };
    let user = state.blocking(move |app| Ok(app.account().create_user(&actor, account)?)).await?;
    Ok((StatusCode::CREATED, Json(user)))
}
