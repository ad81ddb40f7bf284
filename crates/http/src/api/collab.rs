//! Contact requests (consent before contact details are shown), review before publication,
//! and the audit trail.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use xietong_domain::{Listing, ListingId, Reference, Role, Status};
use xietong_store::{AuditEntry, AuditFilter, ContactRequest, ListFilter, Review};
use xietong_transfer::formula_guard;

use super::listings::parse_id;
use super::{page_limit, page_offset};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::guard;
use crate::json::ApiJson;
use crate::json::ApiQuery;
use crate::state::AppState;

/// Body of `POST /api/v1/listings/{id}/contact-requests`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewContactRequest {
    /// Why you want to get in touch.
    #[serde(default)]
    pub message: String,
}

/// Asks the owner of a listing for its contact details. Once the owner accepts, members of the
/// asking organisation see the contact in full on the listing (and each view is audited).
#[utoipa::path(post, path = "/api/v1/listings/{id}/contact-requests", tag = "collaboration",
    params(("id" = String, Path, description = "Listing id")), request_body = NewContactRequest,
    responses((status = 201, description = "Requested"), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn request_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<NewContactRequest>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id)?;
    let created = state.blocking(move |app| create_contact_request(app, &caller, id, &request.message)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Shared by the API and the listing page.
pub fn create_contact_request(
    app: &xietong_app::App,
    caller: &Caller,
    id: xietong_domain::ListingId,
    message: &str,
) -> ApiResult<ContactRequest> {
    let principal = caller.user()?;
    let listing = guard::read(app, caller, id)?;
    let from_org =
        principal.org.clone().ok_or_else(|| ApiError::Forbidden("your account belongs to no organisation".into()))?;
    let Some(owner) = listing.body.owner_org.clone() else {
        return Err(ApiError::Conflict("this listing names no owner to ask".into()));
    };
    if principal.orgs().contains(&owner) {
        return Err(ApiError::Conflict("this is your own organisation's listing".into()));
    }
    let existing = app.accounts.contact_requests_of(std::slice::from_ref(&from_org))?;
    if existing
        .iter()
        .any(|r| r.listing_id == id && r.from_org == from_org && r.state != xietong_store::RequestState::Declined)
    {
        return Err(ApiError::Conflict("your organisation already asked for this contact".into()));
    }
    let created = app.accounts.create_contact_request(id, &from_org, principal.user_id, &owner, message.trim())?;
    let mut entry =
        caller.audit("contact_request.create", created.id.to_string(), listing.body.region_codes.first().cloned());
    entry.detail = serde_json::json!({"listing": id.to_string(), "to_org": owner});
    app.audit(entry);
    Ok(created)
}

/// Contact requests sent by or to the caller's organisations, newest first.
#[utoipa::path(get, path = "/api/v1/contact-requests", tag = "collaboration",
    responses((status = 200, description = "Requests")))]
pub async fn list_contact_requests(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ContactRequest>>> {
    let orgs = caller.user()?.orgs();
    Ok(Json(state.blocking(move |app| Ok(app.accounts.contact_requests_of(&orgs)?)).await?))
}

/// The owner accepts: the asking organisation may now see the contact.
#[utoipa::path(post, path = "/api/v1/contact-requests/{id}/accept", tag = "collaboration",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, description = "Accepted"), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn accept_contact_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<ContactRequest>> {
    Ok(Json(state.blocking(move |app| decide_contact_request(app, &caller, id, true)).await?))
}

/// The owner declines.
#[utoipa::path(post, path = "/api/v1/contact-requests/{id}/decline", tag = "collaboration",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, description = "Declined"), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn decline_contact_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<ContactRequest>> {
    Ok(Json(state.blocking(move |app| decide_contact_request(app, &caller, id, false)).await?))
}

/// Shared by the API and the account page.
pub fn decide_contact_request(
    app: &xietong_app::App,
    caller: &Caller,
    id: i64,
    accepted: bool,
) -> ApiResult<ContactRequest> {
    let principal = caller.user()?;
    let request = app
        .accounts
        .contact_request(id)?
        .filter(|r| principal.orgs().contains(&r.to_org) || principal.orgs().contains(&r.from_org))
        .ok_or_else(|| ApiError::NotFound(format!("no contact request {id} for your organisation")))?;
    if !principal.orgs().contains(&request.to_org) {
        return Err(ApiError::Forbidden("only the listing's owner decides a contact request".into()));
    }
    let decided = app
        .accounts
        .decide_contact_request(id, accepted, principal.user_id, OffsetDateTime::now_utc())?
        .ok_or_else(|| ApiError::Conflict(format!("contact request {id} was already decided")))?;
    let action = if accepted { "contact_request.accept" } else { "contact_request.decline" };
    let mut entry = caller.audit(action, id.to_string(), principal.region.clone());
    entry.detail = serde_json::json!({"listing": decided.listing_id.to_string(), "from_org": decided.from_org});
    app.audit(entry);
    Ok(decided)
}

/// Listings awaiting the caller's review (their region; everything for the platform admin).
#[utoipa::path(get, path = "/api/v1/reviews", tag = "review", responses((status = 200, description = "Pending listings")))]
pub async fn pending_reviews(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Listing>>> {
    let principal = caller.user()?.clone();
    let listings = state
        .blocking(move |app| {
            let region = if principal.role == Role::RegionOperator { principal.region.clone() } else { None };
            let filter = ListFilter { status: Some(Status::Pending), region, ..ListFilter::default() };
            Ok(app.store.list(&filter, 200, 0)?.items)
        })
        .await?;
    Ok(Json(listings))
}

/// Body of `POST /api/v1/listings/{id}/review`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewDecision {
    /// true publishes the listing; false rejects it.
    pub approve: bool,
    /// Required when rejecting; shown to the owner.
    #[serde(default)]
    pub reason: String,
}

/// A review decision and the listing after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reviewed {
    #[schema(value_type = Object)]
    pub review: Review,
    #[schema(value_type = Object)]
    pub listing: Listing,
}

/// A region operator approves (publishes) or rejects (with a reason) a listing awaiting review
/// in their region.
#[utoipa::path(post, path = "/api/v1/listings/{id}/review", tag = "review",
    params(("id" = String, Path, description = "Listing id")), request_body = ReviewDecision,
    responses((status = 200, body = Reviewed), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn review_listing(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(decision): ApiJson<ReviewDecision>,
) -> ApiResult<Json<Reviewed>> {
    let id = parse_id(&id)?;
    let reviewed = state.blocking(move |app| review(app, &caller, id, decision.approve, &decision.reason)).await?;
    Ok(Json(reviewed))
}

/// Approves (publishes) or rejects (with a reason) a listing awaiting review in the caller's
/// region. Shared by the API and the account page.
pub fn review(
    app: &xietong_app::App,
    caller: &Caller,
    id: ListingId,
    approve: bool,
    reason: &str,
) -> ApiResult<Reviewed> {
    if !approve && reason.trim().is_empty() {
        return Err(ApiError::bad_param("reason", "give the owner a reason when rejecting"));
    }
    let principal = caller.user()?;
    let listing = app.store.get(id).map_err(|_| ApiError::NotFound(format!("listing {id} does not exist")))?;
    if !caller.viewer.can_review(&listing.body) {
        return Err(if caller.viewer.can_read(&listing.body) {
            ApiError::Forbidden("this listing is outside the region you operate".into())
        } else {
            ApiError::NotFound(format!("listing {id} does not exist"))
        });
    }
    if listing.body.status != Status::Pending {
        return Err(ApiError::Conflict(format!(
            "listing {id} is {}, not awaiting review",
            listing.body.status.as_str()
        )));
    }
    let status = if approve { Status::Published } else { Status::Rejected };
    let updated = app.store.set_status(id, Some(listing.version), status)?;
    let review = app.accounts.record_review(id, principal.user_id, approve, reason.trim())?;
    let mut entry = caller.audit(
        if approve { "review.approve" } else { "review.reject" },
        id.to_string(),
        listing.body.region_codes.first().cloned(),
    );
    entry.detail = serde_json::json!({"reason": review.reason});
    app.audit(entry);
    app.sync_after_write();
    Ok(Reviewed { review, listing: updated })
}

/// Regions where publication waits for review.
#[utoipa::path(get, path = "/api/v1/review-regions", tag = "review", responses((status = 200, description = "Region codes")))]
pub async fn review_regions(State(state): State<AppState>) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(state.blocking(|app| Ok(app.accounts.review_regions()?)).await?))
}

/// Body of `PUT /api/v1/review-regions/{code}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewSetting {
    pub required: bool,
}

/// Switches review before publication on or off for a region the caller operates.
#[utoipa::path(put, path = "/api/v1/review-regions/{code}", tag = "review",
    params(("code" = String, Path, description = "GB/T 2260 code")), request_body = ReviewSetting,
    responses((status = 200, description = "Region codes after the change"), (status = 403, body = Problem)))]
pub async fn set_review_region(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    ApiJson(setting): ApiJson<ReviewSetting>,
) -> ApiResult<Json<Vec<String>>> {
    let region = Reference::get()
        .region(&code)
        .ok_or_else(|| ApiError::bad_param("code", format!("unknown region {code:?}")))?
        .code
        .clone();
    if !caller.user()?.operates_region(&region) {
        return Err(ApiError::Forbidden("you don't operate this region".into()));
    }
    let regions = state
        .blocking(move |app| {
            app.accounts.set_review_region(&region, setting.required)?;
            let mut entry = caller.audit("review_region.set", region.clone(), Some(region.clone()));
            entry.detail = serde_json::json!({"required": setting.required});
            app.audit(entry);
            Ok(app.accounts.review_regions()?)
        })
        .await?;
    Ok(Json(regions))
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditParams {
    /// Only actions starting with this, e.g. `login.` or `contact.reveal`.
    pub action: Option<String>,
    /// Only this actor (username).
    pub actor: Option<String>,
    /// json (default) or csv (a download of all matching entries).
    pub format: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

/// A page of audit entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<AuditEntry>,
    pub total: u64,
}

/// The audit trail: every write, login and reveal of personal data. Region operators see the
/// entries of their region; the platform admin sees all. `format=csv` exports them.
#[utoipa::path(get, path = "/api/v1/audit", tag = "review", params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 403, body = Problem)))]
pub async fn audit_trail(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Response> {
    let principal = caller.user()?.clone();
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::bad_param("format", format!("unknown format {other:?}; use json or csv"))),
    };
    let limit = if csv { 100_000 } else { page_limit(params.limit)? };
    let offset = if csv { 0 } else { page_offset(params.offset)? };
    let (items, total) = state
        .blocking(move |app| {
            let page = audit_page(app, &caller, params.action, params.actor, limit, offset)?;
            if csv {
                let mut entry = caller.audit("audit.export", "audit", principal.region.clone());
                entry.detail = serde_json::json!({"entries": page.0.len()});
                app.audit(entry);
            }
            Ok(page)
        })
        .await?;
    if !csv {
        return Ok(Json(AuditPage { items, total }).into_response());
    }
    let mut writer = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    writer
        .write_record(["seq", "at", "actor", "action", "target", "region_code", "ip", "detail"])
        .map_err(anyhow::Error::new)?;
    for entry in &items {
        let at = entry.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        writer
            .write_record([
                entry.seq.to_string(),
                at,
                formula_guard(&entry.actor),
                entry.action.clone(),
                formula_guard(&entry.target),
                entry.region_code.clone().unwrap_or_default(),
                entry.ip.clone().unwrap_or_default(),
                if entry.detail.is_null() { String::new() } else { formula_guard(&entry.detail.to_string()) },
            ])
            .map_err(anyhow::Error::new)?;
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"xietong-audit.csv\""),
        ],
        bytes,
    )
        .into_response())
}

/// A page of the audit trail the caller may see, newest first: the platform admin sees every
/// entry, a region operator those of regions inside the region they operate. `action` is a
/// prefix; empty filters are ignored. Shared by the API and the audit page.
pub fn audit_page(
    app: &xietong_app::App,
    caller: &Caller,
    action: Option<String>,
    actor: Option<String>,
    limit: u32,
    offset: u64,
) -> ApiResult<(Vec<AuditEntry>, u64)> {
    let principal = caller.user()?;
    let region_codes = match principal.role {
        Role::PlatformAdmin => None,
        _ => {
            let region = principal.region.clone().unwrap_or_default();
            let reference = Reference::get();
            Some(
                reference
                    .regions()
                    .iter()
                    .filter(|r| reference.region_within(&r.code, &region))
                    .map(|r| r.code.clone())
                    .collect(),
            )
        }
    };
    let filter = AuditFilter {
        region_codes,
        action_prefix: action.filter(|a| !a.is_empty()),
        actor: actor.filter(|a| !a.is_empty()),
    };
    Ok(app.accounts.audit_entries(&filter, limit, offset)?)
}
