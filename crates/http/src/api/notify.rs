//! Notifications through the API: the caller's inbox, their organisation's webhooks with a
//! delivery log, and the caller's e-mail address for notices.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xietong_app::types::{Delivery, InboxPage, Webhook};

use super::{page_limit, page_offset};
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::state::AppState;

/// Query of `GET /api/v1/inbox`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct InboxParams {
    /// `true`: only unread notices.
    #[serde(default)]
    pub unread: bool,
    /// At most 200 (default 20).
    pub limit: Option<u32>,
    /// At most 10000.
    pub offset: Option<u64>,
}

/// The caller's notices, newest first (`items`), how many match (`total`) and how many of the
/// whole inbox are unread (`unread_count`). Each item has `event`, `title_zh`/`title_en`,
/// `body_zh`/`body_en`, `link`, `deal_id`, `listing_id`, `created_at` and `read_at`.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "notifications", params(InboxParams),
    responses((status = 200, body = Object, description = "items, total, unread_count"), (status = 401, body = Problem)))]
pub async fn inbox(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<InboxParams>,
) -> ApiResult<Json<InboxPage>> {
    let limit = page_limit(params.limit)?;
    let offset = page_offset(params.offset)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.inbox(&actor, params.unread, limit, offset)?)).await?))
}

/// Unread notices after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unread {
    pub unread_count: u64,
}

/// Marks one notice of the caller's inbox read (again: no change).
#[utoipa::path(post, path = "/api/v1/inbox/{id}/read", tag = "notifications",
    params(("id" = i64, Path, description = "Notice id")),
    responses((status = 200, body = Unread), (status = 404, body = Problem)))]
pub async fn read_one(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> ApiResult<Json<Unread>> {
    let actor = caller.actor();
    let unread_count = state
        .blocking(move |app| {
            app.mark_read(&actor, id)?;
            Ok(app.unread_count(&actor)?)
        })
        .await?;
    Ok(Json(Unread { unread_count }))
}

/// Marks every notice of the caller's inbox read.
#[utoipa::path(post, path = "/api/v1/inbox/read-all", tag = "notifications",
    responses((status = 200, body = Unread)))]
pub async fn read_all(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Unread>> {
    let actor = caller.actor();
    let unread_count = state
        .blocking(move |app| {
            app.mark_all_read(&actor)?;
            Ok(app.unread_count(&actor)?)
        })
        .await?;
    Ok(Json(Unread { unread_count }))
}

/// Body of `POST /api/v1/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    /// http(s) URL the deliveries are POSTed to; loopback, private, link-local and unique-local
    /// addresses are refused unless the server allows them.
    pub url: String,
    /// Signs each delivery (8–256 characters); stored in clear, never shown again.
    pub secret: String,
    /// Event names, or `"*"` for all.
    pub events: Vec<String>,
}

/// Registers a webhook for the caller's organisation (201).
///
/// Each delivery is a `POST` of a JSON body `{"event", "occurred_at", "title": {"zh", "en"},
/// "body": {"zh", "en"}, "link", "deal_id", "listing_id", "data"}` with the headers
/// `X-Xietong-Signature: sha256=<hex HMAC-SHA256 of the exact body with the secret>`,
/// `X-Xietong-Event` and `X-Xietong-Delivery` (the delivery id; a delivery may arrive twice
/// after a server crash, so deduplicate by it). Any 2xx answer counts as delivered; anything
/// else is retried with exponential back-off (2 s, 4 s, 8 s, … capped) up to 8 attempts, then
/// the delivery is `failed`. Redirects are not followed.
///
/// Events (`"*"` subscribes to all):
/// - `deal.proposed`: a deal was proposed on your listing (to the owner)
/// - `deal.accepted`: the owner accepted your deal
/// - `deal.declined`: the owner declined your deal, with the reason
/// - `deal.meeting`: a meeting was recorded
/// - `deal.signed`: an agreement was recorded
/// - `deal.converted`: an outcome (pilot run, small batch, mass production) was recorded
/// - `deal.closed`: the deal was closed
/// - `deal.broker_appointed`: a technology manager now brokers for one side
/// - `listing.approved`: a region operator approved and published your listing
/// - `listing.rejected`: a region operator rejected your listing, with the reason
/// - `listing.stale`: your listing has not been updated for `stale_after_days` (once per period)
/// - `claim.submitted`: someone asks to represent an organisation of your region (operators)
/// - `claim.approved`: your claim on an organisation was approved (the claimant)
/// - `claim.rejected`: your claim was rejected, with the reason (the claimant)
/// - `challenge.applied`: a team applied to your challenge (the organiser)
/// - `challenge.reviewer_appointed`: you were appointed a reviewer of a challenge
/// - `challenge.reviewing`: a challenge you applied to closed its applications
/// - `challenge.race_started`: the racing teams were chosen (racing and not selected teams)
/// - `challenge.report_filed`: a racing team filed a milestone report (the organiser)
/// - `challenge.gate_decided`: a milestone gate of your team was decided (passed or eliminated)
/// - `challenge.awarded`: a challenge you took part in named its winners
/// - `challenge.closed`: a challenge you took part in was closed without award
/// - `challenge.invited`: a challenge's organiser invites your organisation to apply
/// - `booking.requested`: a booking or waitlist entry was requested at your facility (its owner)
/// - `booking.updated`: your booking was approved, declined, cancelled, rescheduled, promoted from
///   the waitlist, completed or marked no-show (the booker)
/// - `engagement.proposed`: an organisation proposed to engage your talent (the talent
///   listing's organisation)
/// - `engagement.decided`: an engagement was accepted, declined or ended (the other side)
///
/// Deal events go to the other party's organisation (and the deal's brokers' inboxes), never to
/// the side that acted; when nobody represents the owner, to the operators and technology
/// managers who handle the deal for it.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "notifications", request_body = NewWebhookBody,
    responses(
        (status = 201, body = Object, description = "The webhook (without its secret)"),
        (status = 403, body = Problem, description = "The caller belongs to no organisation"),
        (status = 422, body = Problem, description = "Unknown event, short secret, or a refused URL (private address)")))]
pub async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewWebhookBody>,
) -> ApiResult<impl IntoResponse> {
    let actor = caller.actor();
    let created =
        state.blocking(move |app| Ok(app.register_webhook(&actor, &body.url, &body.secret, &body.events)?)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The webhooks of the caller's organisation.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "notifications",
    responses((status = 200, body = Vec<Object>), (status = 403, body = Problem)))]
pub async fn list_webhooks(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Webhook>>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.webhooks(&actor)?)).await?))
}

/// Removes a webhook of the caller's organisation, with its delivery log (204).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "notifications",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let actor = caller.actor();
    state.blocking(move |app| Ok(app.delete_webhook(&actor, id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The newest deliveries of a webhook of the caller's organisation: `event`, the `payload` as
/// sent, `attempts`, `state` (pending, delivered, failed), `last_status`, `last_error`,
/// `created_at`, `updated_at` (the last attempt) and `next_attempt_at`.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "notifications",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Problem)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Delivery>>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.webhook_deliveries(&actor, id)?)).await?))
}

/// Body of `PUT /api/v1/me/email`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    /// The address notices are e-mailed to (when the server has SMTP); `null` or empty removes it.
    pub email: Option<String>,
}

/// Sets the caller's e-mail address for notices.
#[utoipa::path(put, path = "/api/v1/me/email", tag = "notifications", request_body = EmailBody,
    responses((status = 200, body = EmailBody), (status = 422, body = Problem)))]
pub async fn set_email(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<EmailBody>,
) -> ApiResult<Json<EmailBody>> {
    let actor = caller.actor();
    let email = state.blocking(move |app| Ok(app.set_email(&actor, body.email.as_deref())?)).await?;
    Ok(Json(EmailBody { email }))
}
