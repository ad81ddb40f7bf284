//! Claims (认领) on organisations through the API: a member account that belongs to no
//! organisation asks to represent one nobody represents; the operator of its region decides.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use xietong_app::types::{Claim, OrgRef};
use xietong_domain::OrgId;
use xietong_domain::claim::{ClaimEvent, ClaimState};

use super::parse_param;
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::state::AppState;

/// Body of `POST /api/v1/orgs/{id}/claims`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClaimBody {
    /// The organisation's unified social credit code (统一社会信用代码, 18 characters).
    pub uscc: String,
    /// Who the claimant is in the organisation, how to verify it.
    #[serde(default)]
    pub note: String,
}

/// Body of a decision: the reason is required to reject.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    #[serde(default)]
    pub reason: String,
}

/// Asks to represent an organisation nobody represents. `{id}` is the organisation's id, or its
/// name as listings carry it (an organisation known only from imported listings gets its record
/// now). The caller must be a member account of no organisation; the code must be valid and
/// equal the one on the organisation's enterprise listing, if any.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/claims", tag = "claims",
    params(("id" = String, Path, description = "Organisation id or name")), request_body = NewClaimBody,
    responses((status = 201, body = Object, description = "The claim, state pending"), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewClaimBody>,
) -> ApiResult<impl IntoResponse> {
    let org = match id.trim().parse::<i64>() {
        Ok(number) => OrgRef::Id(OrgId(number)),
        Err(_) => OrgRef::Name(id),
    };
    let actor = caller.actor();
    let claim = state.blocking(move |app| Ok(app.claim_org(&actor, org, &body.uscc, &body.note)?)).await?;
    Ok((StatusCode::CREATED, Json(claim)))
}

/// Query of `GET /api/v1/claims`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ClaimParams {
    /// pending, approved, rejected or withdrawn.
    pub state: Option<String>,
}

/// Claims the caller may see, newest first: their own; a region operator's region's; all for
/// the platform admin.
#[utoipa::path(get, path = "/api/v1/claims", tag = "claims", params(ClaimParams),
    responses((status = 200, body = Vec<Object>), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ClaimParams>,
) -> ApiResult<Json<Vec<Claim>>> {
    let claim_state = parse_param::<ClaimState>("state", params.state.as_deref())?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.claims(&actor, claim_state)?)).await?))
}

async fn decide(state: AppState, caller: Caller, id: i64, event: ClaimEvent, reason: String) -> ApiResult<Json<Claim>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.decide_claim(&actor, id, event, &reason)?)).await?))
}

/// The operator of the organisation's region approves: the claimant becomes a member, and the
/// organisation's listings and open deals pass to them.
#[utoipa::path(post, path = "/api/v1/claims/{id}/approve", tag = "claims",
    params(("id" = i64, Path, description = "Claim id")),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn approve(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> ApiResult<Json<Claim>> {
    decide(state, caller, id, ClaimEvent::Approve, String::new()).await
}

/// The operator of the organisation's region rejects, saying why (the claimant reads it).
#[utoipa::path(post, path = "/api/v1/claims/{id}/reject", tag = "claims",
    params(("id" = i64, Path, description = "Claim id")), request_body = DecisionBody,
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> ApiResult<Json<Claim>> {
    decide(state, caller, id, ClaimEvent::Reject, body.reason).await
}

/// The claimant withdraws a pending claim.
#[utoipa::path(post, path = "/api/v1/claims/{id}/withdraw", tag = "claims",
    params(("id" = i64, Path, description = "Claim id")),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn withdraw(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> ApiResult<Json<Claim>> {
    decide(state, caller, id, ClaimEvent::Withdraw, String::new()).await
}
