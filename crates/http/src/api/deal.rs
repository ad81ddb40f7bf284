//! Deals (对接) through the API: propose, move by events, read one with its timeline, list.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xietong_app::deal::DealSide;
use xietong_app::types::{Deal, Handler};
use xietong_app::{Actor, App};
use xietong_domain::ListingId;
use xietong_domain::deal::{DealEvent, DealState, allowed_events};

use super::parse_param;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::state::AppState;

/// A deal as the API shows it: the deal with its timeline, the events the caller may send now
/// (`allowed_events`, empty for someone acting for neither side), and who handles the owner's
/// side when nobody represents the owner's organisation (`handled_by`: its region's operators
/// and technology managers; empty otherwise).
#[derive(Debug, Serialize)]
pub struct DealView {
    #[serde(flatten)]
    pub deal: Deal,
    /// Names of the events the caller may send in the deal's state, e.g. `["accept", "decline",
    /// "close", "appoint_broker"]` for the owner of a proposed deal.
    pub allowed_events: Vec<&'static str>,
    pub handled_by: Vec<Handler>,
}

impl DealView {
    fn new(actor: &Actor, deal: Deal, handled_by: Vec<Handler>) -> DealView {
        let side = xietong_app::deal::acting_side(actor.principal(), &deal, &handled_by);
        DealView { allowed_events: allowed_events(deal.state, side), handled_by, deal }
    }

    fn of(app: &App, actor: &Actor, deal: Deal) -> Result<DealView, ApiError> {
        let handled_by = app.deal_handlers(&deal)?;
        Ok(DealView::new(actor, deal, handled_by))
    }
}

/// Body of `POST /api/v1/deals`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDealBody {
    /// The listing the deal is about (another organisation's).
    #[schema(value_type = String)]
    pub listing_id: ListingId,
    /// Optional: the asker's own listing the deal starts from.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub from_listing_id: Option<ListingId>,
    #[serde(default)]
    pub message: String,
}

/// Body of `POST /api/v1/deals/{id}/events`: the event (`type` and its fields) and the version
/// it was decided on.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EventBody {
    /// The deal's version the caller saw; a stale one is a 409.
    pub version: i64,
    /// accept, decline (`reason`, `note`), meeting (`at`, `place`), sign (`agreement_type`,
    /// `value`, `signed_on`; for a dual appointment or employment of a talent also
    /// `share_percent` and `until`, which start the talent's engagement), outcome (`stage`, `revenue_band`), close (`reason`),
    /// appoint_broker (`username`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub event: DealEvent,
}

/// Proposes a deal (对接) on another organisation's listing, for the caller's organisation.
#[utoipa::path(post, path = "/api/v1/deals", tag = "deals", request_body = NewDealBody,
    responses((status = 201, body = Object, description = "The deal, state proposed"), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn propose(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewDealBody>,
) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let view = state
        .blocking(move |app| {
            DealView::of(app, &actor, app.propose_deal(&actor, body.listing_id, body.from_listing_id, &body.message)?)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Moves a deal: states proposed, accepted, declined, meeting, signed, converted, closed. Only
/// the owner's side accepts or declines; a stale version or an event the state does not allow is
/// a 409; someone acting for neither side gets 403.
#[utoipa::path(post, path = "/api/v1/deals/{id}/events", tag = "deals",
    params(("id" = i64, Path, description = "Deal id")), request_body = EventBody,
    responses((status = 200, body = Object, description = "The deal after the event"), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<EventBody>,
) -> ApiResult<Json<DealView>> {
    let actor = caller.actor();
    Ok(Json(
        state
            .blocking(move |app| DealView::of(app, &actor, app.deal_event(&actor, id, body.version, body.event)?))
            .await?,
    ))
}

/// A deal with its timeline, the events the caller may send now (`allowed_events`) and who
/// handles an unrepresented owner (`handled_by`): for its parties and their brokers, those
/// handlers, the platform admin and the operators of either party's region.
#[utoipa::path(get, path = "/api/v1/deals/{id}", tag = "deals",
    params(("id" = i64, Path, description = "Deal id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> ApiResult<Json<DealView>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| DealView::of(app, &actor, app.deal(&actor, id)?)).await?))
}

/// Query of `GET /api/v1/deals`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DealParams {
    /// proposed, accepted, declined, meeting, signed, converted or closed.
    pub state: Option<String>,
    /// asker, owner or broker.
    pub side: Option<String>,
}

/// The caller's deals, newest first.
#[utoipa::path(get, path = "/api/v1/deals", tag = "deals", params(DealParams),
    responses((status = 200, body = Vec<Object>), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<DealParams>,
) -> ApiResult<Json<Vec<DealView>>> {
    let deal_state = parse_param::<DealState>("state", params.state.as_deref())?;
    let side = parse_param::<DealSide>("side", params.side.as_deref())?;
    let actor = caller.actor();
    let views = state
        .blocking(move |app| {
            let deals = app.deals(&actor, deal_state, side)?;
            let handlers = app.deals_handlers(&deals)?;
            Ok(deals
                .into_iter()
                .zip(handlers)
                .map(|(deal, handled_by)| DealView::new(&actor, deal, handled_by))
                .collect())
        })
        .await?;
    Ok(Json(views))
}
