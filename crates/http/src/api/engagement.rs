//! Flexible engagements through the API (双聘, 周末工程师, remote consulting, full time): propose,
//! read, accept / decline / end, and the dashboard's figures of Beijing talents serving Tianjin
//! and Hebei organisations. A proposal or acceptance that would overcommit the talent (the same
//! weekday twice, time shares above 100%) is 409.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use xietong_app::types::{Engagement, EngagementAction, EngagementInput, EngagementStats};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiJson;
use crate::state::AppState;

/// Body of `POST /api/v1/engagements`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngagementBody {
    /// The talent listing's id.
    pub talent: String,
    /// The engaging organisation (name or id); the caller's own when omitted.
    pub organisation: Option<String>,
    /// `dual_appointment`, `weekend_engineer`, `remote_consulting` or `full_time`.
    pub mode: String,
    /// First day, `YYYY-MM-DD`.
    pub start: String,
    /// Last day, `YYYY-MM-DD` (included).
    pub end: String,
    /// ISO weekdays 1 (Monday) … 7 (Sunday): required for `weekend_engineer`.
    #[serde(default)]
    pub weekdays: Vec<u8>,
    /// Percent of the talent's time (1–100): required for `dual_appointment`.
    pub share_percent: Option<u8>,
}

/// Proposes an engagement of a talent by the caller's organisation (`proposed`, for the talent
/// to accept). 409 when it does not fit the talent's commitments.
#[utoipa::path(post, path = "/api/v1/engagements", tag = "engagements", request_body = EngagementBody,
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn propose(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<EngagementBody>,
) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let input = EngagementInput {
        talent: body.talent,
        organisation: body.organisation,
        mode: body.mode,
        start: body.start,
        end: body.end,
        weekdays: body.weekdays,
        share_percent: body.share_percent,
    };
    let engagement = state.blocking(move |app| Ok(app.propose_engagement(&actor, input)?)).await?;
    Ok((StatusCode::CREATED, Json(engagement)))
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::bad_param("id", "an engagement id"))
}

/// An engagement (its two sides, the operators of either region, the admin).
#[utoipa::path(get, path = "/api/v1/engagements/{id}", tag = "engagements",
    params(("id" = i64, Path, description = "Engagement id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Engagement>> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.engagement(&actor, id)?)).await?))
}

/// A talent's engagements, newest first (readable with the talent's listing): proposed ones,
/// those started by signing a deal of type dual appointment or employment, and ended ones.
#[utoipa::path(get, path = "/api/v1/talents/{id}/engagements", tag = "engagements",
    params(("id" = String, Path, description = "The talent's listing id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn of_talent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let talent: xietong_domain::ListingId = id.parse().map_err(|_| ApiError::bad_param("id", "a listing id"))?;
    let actor = caller.actor();
    let items = state.blocking(move |app| Ok(app.engagements_of(&actor, talent)?)).await?;
    Ok(Json(serde_json::json!({ "items": items })))
}

/// Body of a move.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// `accept` or `decline` (the talent's side), `end` (either side).
    #[schema(value_type = String)]
    pub action: EngagementAction,
    /// The version the move was decided on (409 when another came first).
    pub version: Option<i64>,
}

/// Accepts, declines or ends an engagement. Accepting re-checks the commitment rule (409).
#[utoipa::path(post, path = "/api/v1/engagements/{id}/respond", tag = "engagements",
    params(("id" = i64, Path, description = "Engagement id")), request_body = MoveBody,
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn respond(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MoveBody>,
) -> ApiResult<Json<Engagement>> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.move_engagement(&actor, id, body.version, body.action)?)).await?))
}

/// Beijing talents serving Tianjin and Hebei organisations (accepted engagements): the number of
/// talents, and engagements by mode, sector (GB/T 4754 section) and province.
#[utoipa::path(get, path = "/api/v1/stats/engagements", tag = "stats",
    responses((status = 200, body = Object)))]
pub async fn stats(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<EngagementStats>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.engagement_stats(&actor)?)).await?))
}
