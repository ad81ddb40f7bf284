//! Challenges that run (揭榜挂帅, 赛马制) through the API: phases `open`, `reviewing`, `racing`,
//! `awarded`, `closed`; application states `submitted`, `racing`, `not_selected`, `eliminated`,
//! `awarded`, `withdrawn`. Each handler parses its body once and calls one use case.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use xietong_app::types::{
    Application, ApplicationId, ApplicationInput, Board, ChallengeView, Milestone, MyApplication, Report, ReportId,
    Reviewer, ScoreSheet, Suggestion,
};
use xietong_domain::Day;
use xietong_domain::challenge::TeamMember;

use super::listings::parse_id;
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::state::AppState;

/// Body of `POST /api/v1/challenges/{id}/applications`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationBody {
    pub team_name: String,
    /// Each with `name`, `organisation`, `region_code` (GB/T 2260) and `role` (`lead` or
    /// `member`); exactly one `lead`, of the applying user's organisation. Teams may span
    /// organisations and regions.
    #[schema(value_type = Vec<Object>)]
    pub members: Vec<TeamMember>,
    pub proposal: String,
}

/// Body of `POST /api/v1/challenges/{id}/reviewers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewerBody {
    pub username: String,
}

/// Body of `POST /api/v1/applications/{id}/scores`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoresBody {
    /// One score 0–100 per criterion name of the challenge.
    pub scores: BTreeMap<String, f64>,
}

/// Body of `POST /api/v1/challenges/{id}/race` and `…/award`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectionBody {
    pub application_ids: Vec<ApplicationId>,
}

/// Body of `POST /api/v1/challenges/{id}/milestones`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MilestoneBody {
    pub title: String,
    /// `YYYY-MM-DD`.
    #[schema(value_type = String)]
    pub due_on: Day,
}

/// Body of `POST /api/v1/applications/{id}/reports`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    pub milestone_id: i64,
    pub text: String,
    /// Optional link (http/https) to the attached document.
    #[serde(default)]
    pub attachment: Option<String>,
}

/// Body of `POST /api/v1/reports/{id}/decision`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub passed: bool,
    /// Required when the gate is not passed.
    #[serde(default)]
    pub note: String,
}

/// Body of `POST /api/v1/challenges/{id}/close`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    pub reason: String,
}

/// Body of `POST /api/v1/challenges/{id}/invitations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationBody {
    /// A suggested talent, enterprise or achievement; its organisation is invited.
    pub listing_id: String,
}

/// Query of `GET /api/v1/challenges/{id}/suggestions`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SuggestionParams {
    /// 1–50, default 10.
    pub limit: Option<usize>,
}

/// A challenge's run as the caller may see it: `phase` (a passed deadline reads `reviewing`),
/// the caller's `standing` and `allowed_actions`, the applications the caller may see (all for
/// the organiser and reviewers, with conflicts of interest; a team its own), reviewers and
/// milestones.
#[utoipa::path(get, path = "/api/v1/challenges/{id}", tag = "challenges",
    params(("id" = String, Path, description = "Challenge listing id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ChallengeView>> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.challenge(&actor, id)?)).await?))
}

/// Applies to a challenge for the caller's organisation (`state: submitted`). 409 after the
/// deadline (the end of its day, Beijing time) or outside `open`, for the organiser, and for an
/// organisation that already applied.
#[utoipa::path(post, path = "/api/v1/challenges/{id}/applications", tag = "challenges",
    params(("id" = String, Path, description = "Challenge listing id")), request_body = ApplicationBody,
    responses((status = 201, body = Object, description = "The application with `id` and `state`"), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ApplicationBody>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    let input = ApplicationInput { team_name: body.team_name, members: body.members, proposal: body.proposal };
    let created: Application = state.blocking(move |app| Ok(app.apply_to_challenge(&actor, id, input)?)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The team lead withdraws the application (while `submitted`, or `racing` during the race).
#[utoipa::path(post, path = "/api/v1/applications/{id}/withdraw", tag = "challenges",
    params(("id" = i64, Path, description = "Application id")),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Application>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.withdraw_application(&actor, id)?)).await?))
}

/// The organiser closes applications before the deadline: `open` → `reviewing`.
#[utoipa::path(post, path = "/api/v1/challenges/{id}/close-applications", tag = "challenges",
    params(("id" = String, Path, description = "Challenge listing id")),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn close_applications(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ChallengeView>> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.close_applications(&actor, id)?)).await?))
}

/// The organiser appoints a reviewer (while `open` or `reviewing`). A reviewer whose
/// organisation is in a team is excluded from scoring it.
#[utoipa::path(post, path = "/api/v1/challenges/{id}/reviewers", tag = "challenges",
    params(("id" = String, Path, description = "Challenge listing id")), request_body = ReviewerBody,
    responses((status = 201, body = Object), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn appoint_reviewer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReviewerBody>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    let reviewer: Reviewer = state.blocking(move |app| Ok(app.appoint_reviewer(&actor, id, &body.username)?)).await?;
    Ok((StatusCode::CREATED, Json(reviewer)))
}

/// A reviewer scores an application in `reviewing`: one score 0–100 per criterion, fixed once
/// submitted (a second submission is a 409); a conflicted reviewer gets 403.
#[utoipa::path(post, path = "/api/v1/applications/{id}/scores", tag = "challenges",
    params(("id" = i64, Path, description = "Application id")), request_body = ScoresBody,
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn score(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ScoresBody>,
) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let sheet: ScoreSheet = state.blocking(move |app| Ok(app.score_application(&actor, id, &body.scores)?)).await?;
    Ok((StatusCode::CREATED, Json(sheet)))
}

/// The organiser starts the race (赛马): the named applications (at most `max_teams`, else 409)
/// race, the others are `not_selected`, the challenge is `racing`.
#[utoipa::path(post, path = "/api/v1/challenges/{id}/race", tag = "challenges",
    params(("id" = String, Path, description = "Challenge listing id")), request_body = SelectionBody,
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn race(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SelectionBody>,
) -> ApiResult<Json<ChallengeView>> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.race(&actor, id, &body.application_ids)?)).await?))
}

/// The organiser sets a milestone (`title`, `due_on`) while `reviewing` or `racing`.
#[utoipa::path(post, path = "/api/v1/challenges/{id}/milestones", tag = "challenges",
    params(("id" = String, Path, description = "Challenge listing id")), request_body = MilestoneBody,
    responses((status = 201, body = Object), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn add_milestone(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MilestoneBody>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    let milestone: Milestone =
        state.blocking(move |app| Ok(app.add_milestone(&actor, id, &body.title, body.due_on)?)).await?;
    Ok((StatusCode::CREATED, Json(milestone)))
}

/// A racing team's lead files its report on a milestone (once per milestone).
#[utoipa::path(post, path = "/api/v1/applications/{id}/reports", tag = "challenges",
    params(("id" = i64, Path, description = "Application id")), request_body = ReportBody,
    responses((status = 201, body = Object), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn file_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ReportBody>,
) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let report: Report = state
        .blocking(move |app| {
            Ok(app.file_report(&actor, id, body.milestone_id, &body.text, body.attachment.as_deref())?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(report)))
}

/// The organiser decides a milestone gate; a team that fails it is `eliminated`.
#[utoipa::path(post, path = "/api/v1/reports/{id}/decision", tag = "challenges",
    params(("id" = i64, Path, description = "Report id")), request_body = DecisionBody,
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ReportId>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> ApiResult<Json<Report>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.decide_gate(&actor, id, body.passed, &body.note)?)).await?))
}

/// The organiser names the winners: only teams still `racing` (otherwise 409); the challenge
/// is `awarded` and its board public.
#[utoipa::path(post, path = "/api/v1/challenges/{id}/award", tag = "challenges",
    params(("id" = String, Path, description = "Challenge listing id")), request_body = SelectionBody,
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn award(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SelectionBody>,
) -> ApiResult<Json<ChallengeView>> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.award(&actor, id, &body.application_ids)?)).await?))
}

/// The organiser closes the challenge without award (`closed`), with a reason.
#[utoipa::path(post, path = "/api/v1/challenges/{id}/close", tag = "challenges",
    params(("id" = String, Path, description = "Challenge listing id")), request_body = CloseBody,
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CloseBody>,
) -> ApiResult<Json<ChallengeView>> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.close_challenge(&actor, id, &body.reason)?)).await?))
}

/// The board: after the award, public — teams, their regions, per-criterion scores, totals
/// (the weighted mean over criteria averaged over the non-conflicted reviewers; ties by earlier
/// submission), milestone outcomes and the winners. Before it, only what the caller may see.
#[utoipa::path(get, path = "/api/v1/challenges/{id}/board", tag = "challenges",
    params(("id" = String, Path, description = "Challenge listing id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn board(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Board>> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.challenge_board(&actor, id)?)).await?))
}

/// For the organiser: talents, enterprises and achievements that could take the challenge on,
/// with the matching's reasons and mismatches, and whether each can be invited.
#[utoipa::path(get, path = "/api/v1/challenges/{id}/suggestions", tag = "challenges",
    params(("id" = String, Path, description = "Challenge listing id"), SuggestionParams),
    responses((status = 200, body = Vec<Object>), (status = 403, body = Problem)))]
pub async fn suggestions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<SuggestionParams>,
) -> ApiResult<Json<Vec<Suggestion>>> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    let limit = params.limit.unwrap_or(10);
    Ok(Json(state.blocking(move |app| Ok(app.challenge_suggestions(&actor, id, limit)?)).await?))
}

/// The organiser of an open challenge invites the organisation behind a listing to apply (an
/// inbox notice `challenge.invited`, webhooks and e-mail through the outbox).
#[utoipa::path(post, path = "/api/v1/challenges/{id}/invitations", tag = "challenges",
    params(("id" = String, Path, description = "Challenge listing id")), request_body = InvitationBody,
    responses((status = 201, body = Object), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InvitationBody>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_id(&id)?;
    let listing_id = super::listings::parse_id(&body.listing_id)
        .map_err(|_| crate::error::ApiError::bad_param("listing_id", "not a listing id (a UUID)"))?;
    let actor = caller.actor();
    let org = state.blocking(move |app| Ok(app.invite_to_challenge(&actor, id, listing_id)?)).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({"invited_org": org, "listing_id": listing_id.to_string()}))))
}

/// Applications of teams the caller's organisation leads or is in, newest first, with the
/// challenge's title and phase.
#[utoipa::path(get, path = "/api/v1/me/applications", tag = "challenges",
    responses((status = 200, body = Vec<Object>)))]
pub async fn mine(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<MyApplication>>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.my_applications(&actor)?)).await?))
}
