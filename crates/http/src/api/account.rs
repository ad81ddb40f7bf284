//! Login, logout, the caller's own account (personal-data export and erasure), API tokens,
//! organisations and users.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use xietong_app::auth::new_password_hash;
use xietong_domain::{OrgKind, Principal, Reference, Role, Scope};
use xietong_store::{ApiToken, AuditFilter, NewOrg, NewUser, Org, StoreError, User};

use crate::auth::{Caller, Credential, SESSION_COOKIE, behind_tls, clear_session_cookie, cookie_value, session_cookie};
use crate::error::{ApiError, ApiResult, Problem};
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
    let session =
        state.blocking(move |app| Ok(app.auth.login(&request.username, &request.password, ip.as_deref())?)).await?;
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
    let cookie = cookie_value(headers, SESSION_COOKIE);
    let caller = caller.clone();
    state
        .blocking(move |app| {
            if let (Some(cookie), Credential::Session { .. }) = (cookie, &caller.credential) {
                app.auth.logout(&cookie)?;
            }
            let target = caller.principal().map(|p| p.username.clone()).unwrap_or_default();
            app.audit(caller.audit("logout", target, caller.principal().and_then(|p| p.region.clone())));
            Ok(())
        })
        .await
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
    let principal = caller.user()?.clone();
    let document = state
        .blocking(move |app| {
            let user = app.accounts.user(principal.user_id)?.ok_or_else(|| ApiError::Unauthorized("no such user".into()))?;
            let listings = match (&principal.org, principal.role) {
                (Some(org), Role::Talent) => personal_listings(app, org)?,
                _ => Vec::new(),
            };
            let requests = app.accounts.contact_requests_of(&principal.orgs())?;
            let requests: Vec<_> = requests.into_iter().filter(|r| r.from_user_id == user.id).collect();
            let tokens = app.accounts.tokens_of(user.id)?;
            let filter = AuditFilter { actor: Some(user.username.clone()), ..AuditFilter::default() };
            let (audit, _) = app.accounts.audit_entries(&filter, 10_000, 0)?;
            app.audit(caller.audit("personal_data.export", user.username.clone(), principal.region.clone()));
            Ok(serde_json::json!({
                "exported_at": OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "account": user,
                "organisation": principal.org,
                "listings": listings,
                "contact_requests_sent": requests,
                "api_tokens": tokens,
                "audit_entries": audit,
            }))
        })
        .await?;
    let disposition = "attachment; filename=\"xietong-personal-data.json\"";
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(document)))
}

fn personal_listings(app: &xietong_app::App, org: &str) -> ApiResult<Vec<xietong_domain::Listing>> {
    let filter = xietong_store::ListFilter { owner_org: Some(org.to_string()), ..Default::default() };
    Ok(app.store.list(&filter, 1_000, 0)?.items)
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
    let principal = caller.user()?.clone();
    if principal.role != Role::Talent {
        return Err(ApiError::Forbidden(
            "only individual talents erase their own data here; members of an organisation ask its admin".into(),
        ));
    }
    let erased = state
        .blocking(move |app| {
            let listings = match &principal.org {
                Some(org) => personal_listings(app, org)?,
                None => Vec::new(),
            };
            for listing in &listings {
                app.store.delete(listing.id)?;
            }
            app.accounts.disable_user(principal.user_id)?;
            let mut entry = caller.audit("personal_data.erase", principal.username.clone(), principal.region.clone());
            entry.detail =
                serde_json::json!({"listings_deleted": listings.iter().map(|l| l.id.to_string()).collect::<Vec<_>>()});
            app.audit(entry);
            app.sync_after_write();
            Ok(Erased { listings_deleted: listings.len(), account_disabled: true })
        })
        .await?;
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
    let user_id = caller.user()?.user_id;
    Ok(Json(state.blocking(move |app| Ok(app.accounts.tokens_of(user_id)?)).await?))
}

/// Issues an API token for the caller, used as `Authorization: Bearer TOKEN`.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts", request_body = NewTokenRequest,
    responses((status = 201, body = IssuedToken), (status = 400, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewTokenRequest>,
) -> ApiResult<impl IntoResponse> {
    let principal = caller.user()?.clone();
    let scopes = match &request.scopes {
        None => principal.scopes.clone(),
        Some(names) => {
            let mut scopes = Vec::new();
            for name in names {
                let scope: Scope = name.parse().map_err(|e: String| ApiError::bad_param("scopes", e))?;
                if !principal.has_scope(scope) {
                    return Err(ApiError::Forbidden(format!("you can't grant the `{name}` scope you don't hold")));
                }
                scopes.push(scope);
            }
            scopes
        }
    };
    if request.name.trim().is_empty() {
        return Err(ApiError::bad_param("name", "name the token, e.g. \"nightly export\""));
    }
    let expires_at = request.expires_in_days.map(|days| OffsetDateTime::now_utc() + time::Duration::days(days.into()));
    let issued = state
        .blocking(move |app| {
            let user =
                app.accounts.user(principal.user_id)?.ok_or_else(|| ApiError::Unauthorized("no such user".into()))?;
            let (stored, token) = app.auth.issue_token(&user, request.name.trim(), scopes, expires_at)?;
            let mut entry = caller.audit("token.issue", stored.id.to_string(), principal.region.clone());
            entry.detail = serde_json::json!({"name": stored.name, "scopes": stored.scopes});
            app.audit(entry);
            Ok(IssuedToken {
                id: stored.id,
                token,
                scopes: stored.scopes.iter().map(|s| s.as_str().to_string()).collect(),
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
    let principal = caller.user()?.clone();
    state
        .blocking(move |app| {
            let token = app.accounts.token(id)?.filter(|t| t.user_id == principal.user_id || principal.is_admin());
            let Some(token) = token else { return Err(ApiError::NotFound(format!("you have no token {id}"))) };
            app.accounts.revoke_token(token.id, OffsetDateTime::now_utc())?;
            app.audit(caller.audit("token.revoke", token.id.to_string(), principal.region.clone()));
            Ok(())
        })
        .await?;
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
    Ok(Json(state.blocking(|app| Ok(app.accounts.orgs()?)).await?))
}

/// Registers an organisation (platform admin).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "accounts", request_body = NewOrgRequest,
    responses((status = 201, description = "Created"), (status = 409, body = Problem)))]
pub async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewOrgRequest>,
) -> ApiResult<impl IntoResponse> {
    let kind: OrgKind = request.kind.parse().map_err(|e: String| ApiError::bad_param("kind", e))?;
    let region = Reference::get()
        .resolve_region(&request.region_code)
        .ok_or_else(|| ApiError::bad_param("region_code", format!("unknown region {:?}", request.region_code)))?
        .code
        .clone();
    if request.name.trim().is_empty() {
        return Err(ApiError::bad_param("name", "an organisation needs a name"));
    }
    let org = state
        .blocking(move |app| {
            let org =
                app.accounts.create_org(NewOrg { name: request.name.trim().to_string(), kind, region_code: region })?;
            app.audit(caller.audit("org.create", org.name.clone(), Some(org.region_code.clone())));
            Ok(org)
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
pub async fn list_users(State(state): State<AppState>) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(state.blocking(|app| Ok(app.accounts.users()?)).await?))
}

/// Creates a user: the platform admin in any organisation, an organisation admin in their own.
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", request_body = NewUserRequest,
    responses((status = 201, description = "Created"), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewUserRequest>,
) -> ApiResult<impl IntoResponse> {
    let principal = caller.user()?.clone();
    let role: Role = request.role.parse().map_err(|e: String| ApiError::bad_param("role", e))?;
    let org_name = match principal.role {
        Role::PlatformAdmin => request.org.clone(),
        Role::OrgAdmin if matches!(role, Role::Member | Role::OrgAdmin) => principal.org.clone(),
        Role::OrgAdmin => return Err(ApiError::Forbidden("organisation admins create members and admins only".into())),
        _ => return Err(ApiError::Forbidden("only the platform admin and organisation admins create users".into())),
    };
    let username = request.username.trim().to_string();
    if username.is_empty() || !username.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        return Err(ApiError::bad_param("username", "use letters, digits, _ - . only"));
    }
    let password_hash = new_password_hash(&request.password)?;
    let user = state
        .blocking(move |app| {
            let org = match &org_name {
                Some(name) => Some(
                    app.accounts
                        .org_by_name(name)?
                        .ok_or_else(|| ApiError::bad_param("org", format!("no organisation named {name:?}")))?,
                ),
                None => None,
            };
            let user = app.accounts.create_user(NewUser {
                display_name: request.display_name.clone().unwrap_or_else(|| username.clone()),
                username,
                role,
                org_id: org.as_ref().map(|o| o.id),
                region_code: request.region_code.clone(),
                password_hash,
            });
            let user = match user {
                Err(error @ StoreError::Backend { .. }) => return Err(ApiError::Internal(anyhow::Error::new(error))),
                other => other?,
            };
            let mut entry = caller.audit("user.create", user.username.clone(), org.map(|o| o.region_code));
            entry.detail = serde_json::json!({"role": user.role.as_str()});
            app.audit(entry);
            Ok(user)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}
