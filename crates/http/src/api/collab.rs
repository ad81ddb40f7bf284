//! Contact requests (consent before contact details are shown), review before publication,
//! and the audit trail.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xietong_app::types::{AuditEntry, ContactRequest, Review};
use xietong_domain::Listing;
use xietong_transfer::formula_guard;

use super::listings::parse_id;
use super::{page_limit, page_offset};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
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
    let actor = caller.actor();
    let created = state.blocking(move |app| Ok(app.request_contact(&actor, id, &request.message)?)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Contact requests sent by or to the caller's organisations, newest first.
#[utoipa::path(get, path = "/api/v1/contact-requests", tag = "collaboration",
    responses((status = 200, description = "Requests")))]
pub async fn list_contact_requests(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ContactRequest>>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.contact_requests(&actor)?)).await?))
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
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.decide_contact_request(&actor, id, true)?)).await?))
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
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.decide_contact_request(&actor, id, false)?)).await?))
}

/// Listings awaiting the caller's review (their region; everything for the platform admin).
#[utoipa::path(get, path = "/api/v1/reviews", tag = "review", responses((status = 200, description = "Pending listings")))]
pub async fn pending_reviews(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Listing>>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.review_queue(&actor)?)).await?))
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
    let actor = caller.actor();
    let reviewed =
        state.blocking(move |app| Ok(app.review_listing(&actor, id, decision.approve, &decision.reason)?)).await?;
    Ok(Json(Reviewed { review: reviewed.review, listing: reviewed.listing }))
}

/// Regions where publication waits for review.
#[utoipa::path(get, path = "/api/v1/review-regions", tag = "review", responses((status = 200, description = "Region codes")))]
pub async fn review_regions(State(state): State<AppState>) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(state.blocking(|app| Ok(app.review_regions()?)).await?))
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
    let actor = caller.actor();
    let regions = state.blocking(move |app| Ok(app.set_review_region(&actor, &code, setting.required)?)).await?;
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
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::bad_param("format", format!("unknown format {other:?}; use json or csv"))),
    };
    let limit = if csv { 100_000 } else { page_limit(params.limit)? };
    let offset = if csv { 0 } else { page_offset(params.offset)? };
    let actor = caller.actor();
    let (items, total) = state
        .blocking(move |app| {
            let page = app.audit_trail(&actor, params.action, params.actor, limit, offset)?;
            if csv {
                app.audit_exported(&actor, page.0.len())?;
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
