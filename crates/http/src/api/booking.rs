//! Bookable facilities through the API: calendars, availability, bookings and their events,
//! clearances, innovation vouchers (创新券) with their ledger, the iCalendar feed and utilisation.
//! Times are RFC 3339; opening hours Beijing time; prices in 元, voucher amounts in 万元.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use xietong_app::booking::{BookingRequest, UtilisationBy, VoucherInput, acting};
use xietong_app::types::{Booking, Clearance, FacilityCalendar, LedgerEntry, Voucher};
use xietong_app::{Actor, App};
use xietong_domain::booking::{BookingEvent, Calendar, allowed_events};

use super::parse_param;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::state::AppState;

/// A booking as the API shows it, with the events the caller may send now.
#[derive(Debug, Serialize)]
pub struct BookingView {
    #[serde(flatten)]
    pub booking: Booking,
    /// e.g. `["approve", "decline", "reschedule"]` for the operator of a requested booking.
    pub allowed_events: Vec<&'static str>,
}

impl BookingView {
    fn of(app: &App, actor: &Actor, booking: Booking) -> Result<BookingView, ApiError> {
        let (booking, facility) = app.booking(actor, booking.id)?;
        let principal = actor.user()?;
        Ok(BookingView {
            allowed_events: allowed_events(booking.state, acting(principal, &booking, &facility)),
            booking,
        })
    }
}

/// Sets the facility's booking calendar (its operator: a member of the owner organisation, the
/// region operator, the admin). Fields: `unit` (hour, day, batch), `capacity`, `opening_hours`
/// (`[{"weekday": "mon", "open": "08:00", "close": "18:00"}]`, Beijing time, `24:00` allowed as
/// a close; empty: always open), `closures` (`[{"start", "end", "reason"}]`, RFC 3339),
/// `min_length` and `max_length` (units), `lead_time_hours`, `requires_clearance`,
/// `price_per_unit` (元), `free_cancellation_hours` (default 24).
#[utoipa::path(put, path = "/api/v1/facilities/{id}/calendar", tag = "bookings",
    params(("id" = String, Path, description = "Facility listing id")), request_body = Object,
    responses((status = 200, body = Object, description = "The calendar with its version"), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn set_calendar(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(calendar): ApiJson<Calendar>,
) -> ApiResult<Json<FacilityCalendar>> {
    let id = super::listings::parse_id(&id)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.set_calendar(&actor, id, calendar)?)).await?))
}

/// The facility's booking calendar (404 when the facility has none).
#[utoipa::path(get, path = "/api/v1/facilities/{id}/calendar", tag = "bookings",
    params(("id" = String, Path, description = "Facility listing id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get_calendar(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<FacilityCalendar>> {
    let id = super::listings::parse_id(&id)?;
    let actor = caller.actor();
    let calendar = state.blocking(move |app| Ok(app.facility_calendar(&actor, id)?)).await?;
    calendar.map(Json).ok_or_else(|| ApiError::NotFound(format!("facility {id} has no booking calendar")))
}

/// Query of the availability.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AvailabilityParams {
    /// First day, `YYYY-MM-DD` (Beijing); default today.
    pub from: Option<String>,
    /// Last day, included; default a week after `from`; at most 62 days after it.
    pub to: Option<String>,
}

fn day_param(field: &str, value: Option<&str>) -> Result<Option<time::Date>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => {
            xietong_domain::Day::parse(text).map(|day| Some(day.0)).map_err(|err| ApiError::bad_param(field, err))
        }
    }
}

fn today() -> time::Date {
    OffsetDateTime::now_utc().to_offset(xietong_domain::booking::beijing()).date()
}

/// Free capacity per open slot (`start`, `end`, `capacity`, `booked`, `free`), counting
/// requested and approved bookings; closed hours and closures are left out.
#[utoipa::path(get, path = "/api/v1/facilities/{id}/availability", tag = "bookings",
    params(("id" = String, Path, description = "Facility listing id"), AvailabilityParams),
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn availability(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<AvailabilityParams>,
) -> ApiResult<Json<xietong_app::types::Availability>> {
    let id = super::listings::parse_id(&id)?;
    let from = day_param("from", params.from.as_deref())?.unwrap_or_else(today);
    let to = day_param("to", params.to.as_deref())?.unwrap_or(from + time::Duration::days(6));
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.availability(&actor, id, from, to)?)).await?))
}

/// Body of `POST /api/v1/facilities/{id}/bookings`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBookingBody {
    /// RFC 3339, on the calendar's grid (the hour, or Beijing midnight for days and batches).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub end: OffsetDateTime,
    /// Units of capacity taken at once (e.g. one of three reactors).
    #[serde(default = "one")]
    pub quantity: u32,
    #[serde(default)]
    pub purpose: String,
    /// A voucher of the caller's organisation to pay part of the charge with.
    #[serde(default)]
    pub voucher_id: Option<i64>,
    /// When a slot is full: wait in line (state `waitlisted`) instead of a 409.
    #[serde(default)]
    pub waitlist: bool,
}

fn one() -> u32 {
    1
}

/// Books the facility: 201 with `id` and `state` (`requested`, or `waitlisted` when a slot is
/// full and `waitlist` is true). A slot that would go over capacity (counting requested and
/// approved bookings) is a 409 naming the first full slot; outside opening hours or inside a
/// closure a 409; without a required clearance a 403; an expired or wrong-region voucher a 409.
#[utoipa::path(post, path = "/api/v1/facilities/{id}/bookings", tag = "bookings",
    params(("id" = String, Path, description = "Facility listing id")), request_body = NewBookingBody,
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn request_booking(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewBookingBody>,
) -> ApiResult<impl IntoResponse> {
    let id = super::listings::parse_id(&id)?;
    let actor = caller.actor();
    let request = BookingRequest {
        start: body.start,
        end: body.end,
        quantity: body.quantity,
        purpose: body.purpose,
        voucher_id: body.voucher_id,
        waitlist: body.waitlist,
    };
    let view = state
        .blocking(move |app| {
            let booking = app.request_booking(&actor, id, request)?;
            BookingView::of(app, &actor, booking)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Query of a facility's bookings.
#[derive(Debug, Deserialize, IntoParams)]
pub struct WindowParams {
    /// First day, `YYYY-MM-DD`; default today.
    pub from: Option<String>,
    /// Last day, included; default 62 days after `from`.
    pub to: Option<String>,
}

/// The facility's bookings in a date range: all of them for its operators, one's own for
/// anyone else.
#[utoipa::path(get, path = "/api/v1/facilities/{id}/bookings", tag = "bookings",
    params(("id" = String, Path, description = "Facility listing id"), WindowParams),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Problem)))]
pub async fn facility_bookings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<WindowParams>,
) -> ApiResult<Json<Vec<Booking>>> {
    let id = super::listings::parse_id(&id)?;
    let from = day_param("from", params.from.as_deref())?.unwrap_or_else(today);
    let to = day_param("to", params.to.as_deref())?.unwrap_or(from + time::Duration::days(62));
    let (start, end) = (
        xietong_domain::booking::day_start(from),
        xietong_domain::booking::day_start(to) + xietong_domain::booking::DAY_MS,
    );
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.facility_bookings(&actor, id, start, end)?)).await?))
}

/// The caller's own bookings, by start.
#[utoipa::path(get, path = "/api/v1/bookings", tag = "bookings", responses((status = 200, body = Vec<Object>)))]
pub async fn my_bookings(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Booking>>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.my_bookings(&actor)?)).await?))
}

/// The operator's approval queue: requested and waitlisted bookings of the facilities the
/// caller operates, by start.
#[utoipa::path(get, path = "/api/v1/bookings/queue", tag = "bookings", responses((status = 200, body = Vec<Object>)))]
pub async fn queue(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<BookingView>>> {
    let actor = caller.actor();
    Ok(Json(
        state
            .blocking(move |app| {
                let principal = actor.user()?;
                Ok(app
                    .approval_queue(&actor)?
                    .into_iter()
                    .map(|(booking, facility)| BookingView {
                        allowed_events: allowed_events(booking.state, acting(principal, &booking, &facility)),
                        booking,
                    })
                    .collect())
            })
            .await?,
    ))
}

/// One booking with its timeline and the events the caller may send (`allowed_events`): for its
/// booker and the facility's operators.
#[utoipa::path(get, path = "/api/v1/bookings/{id}", tag = "bookings",
    params(("id" = i64, Path, description = "Booking id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get_booking(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<BookingView>> {
    let actor = caller.actor();
    Ok(Json(
        state
            .blocking(move |app| {
                let (booking, facility) = app.booking(&actor, id)?;
                let principal = actor.user()?;
                Ok(BookingView {
                    allowed_events: allowed_events(booking.state, acting(principal, &booking, &facility)),
                    booking,
                })
            })
            .await?,
    ))
}

/// Body of `POST /api/v1/bookings/{id}/events`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BookingEventBody {
    /// Optional: the booking's version the caller saw; a stale one is a 409.
    #[serde(default)]
    pub version: Option<i64>,
    /// approve, decline (`reason`), cancel (`reason` optional; free until the calendar's
    /// `free_cancellation_hours` before the start, then charged), reschedule (`start`, `end`:
    /// the same length, the same capacity check), complete, no_show.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub event: BookingEvent,
}

/// Moves a booking: states requested, approved, declined, cancelled, waitlisted, completed,
/// no_show. Only the facility's operator approves, declines, completes or marks a no-show; the
/// booker cancels; either reschedules. An event the caller may not send is a 403, one the state
/// does not allow (or a stale version, a full or closed slot) a 409.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/events", tag = "bookings",
    params(("id" = i64, Path, description = "Booking id")), request_body = BookingEventBody,
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn booking_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<BookingEventBody>,
) -> ApiResult<Json<BookingView>> {
    if body.event == BookingEvent::Promote {
        return Err(ApiError::bad_param("type", "promote is the platform's own event".to_string()));
    }
    let actor = caller.actor();
    Ok(Json(
        state
            .blocking(move |app| {
                let booking = app.booking_event(&actor, id, body.version, body.event)?;
                BookingView::of(app, &actor, booking)
            })
            .await?,
    ))
}

/// Body of `POST /api/v1/facilities/{id}/clearances`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearanceBody {
    pub username: String,
    /// RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub valid_until: OffsetDateTime,
}

/// Grants (or renews) a user's clearance (安全准入) for the facility: its operator.
#[utoipa::path(post, path = "/api/v1/facilities/{id}/clearances", tag = "bookings",
    params(("id" = String, Path, description = "Facility listing id")), request_body = ClearanceBody,
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn grant_clearance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ClearanceBody>,
) -> ApiResult<impl IntoResponse> {
    let id = super::listings::parse_id(&id)?;
    let actor = caller.actor();
    let clearance =
        state.blocking(move |app| Ok(app.grant_clearance(&actor, id, &body.username, body.valid_until)?)).await?;
    Ok((StatusCode::CREATED, Json(clearance)))
}

/// The facility's clearances: its operator.
#[utoipa::path(get, path = "/api/v1/facilities/{id}/clearances", tag = "bookings",
    params(("id" = String, Path, description = "Facility listing id")),
    responses((status = 200, body = Vec<Object>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn clearances(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Clearance>>> {
    let id = super::listings::parse_id(&id)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.clearances(&actor, id)?)).await?))
}

/// Body of `POST /api/v1/vouchers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoucherBody {
    /// The enterprise's organisation id or exact name.
    #[schema(value_type = String)]
    pub organisation: serde_json::Value,
    /// In 万元.
    pub amount: f64,
    /// GB/T 2260 code of the issuing region.
    pub issuing_region: String,
    /// Where the voucher may be spent (a region accepts everything within it).
    pub accepted_regions: Vec<String>,
    /// `YYYY-MM-DD` (through that day, Beijing time) or RFC 3339.
    pub valid_until: String,
}

/// Issues an innovation voucher (创新券): a region operator to an enterprise of their region,
/// the admin to any.
#[utoipa::path(post, path = "/api/v1/vouchers", tag = "bookings", request_body = VoucherBody,
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn issue_voucher(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<VoucherBody>,
) -> ApiResult<impl IntoResponse> {
    let organisation = match body.organisation {
        serde_json::Value::String(text) => text,
        serde_json::Value::Number(number) => number.to_string(),
        _ => return Err(ApiError::bad_param("organisation", "an organisation id or name".to_string())),
    };
    let input = VoucherInput {
        organisation,
        amount: body.amount,
        issuing_region: body.issuing_region,
        accepted_regions: body.accepted_regions,
        valid_until: body.valid_until,
    };
    let actor = caller.actor();
    let voucher = state.blocking(move |app| Ok(app.issue_voucher(&actor, input)?)).await?;
    Ok((StatusCode::CREATED, Json(voucher)))
}

/// The vouchers the caller may see: their organisation's; those their region issued; all for
/// the admin.
#[utoipa::path(get, path = "/api/v1/vouchers", tag = "bookings", responses((status = 200, body = Vec<Object>)))]
pub async fn vouchers(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Voucher>>> {
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.vouchers(&actor)?)).await?))
}

/// A voucher and every movement of it: `issue`, `reserve` (on request), `spend` (on completion,
/// a no-show or a charged cancellation), `release` (on cancel or decline). Each entry's `amount`
/// is the change of the balance, so the amounts add up to `balance`.
#[derive(Debug, Serialize)]
pub struct LedgerView {
    pub voucher: Voucher,
    pub entries: Vec<LedgerEntry>,
}

/// A voucher's ledger.
#[utoipa::path(get, path = "/api/v1/vouchers/{id}/ledger", tag = "bookings",
    params(("id" = i64, Path, description = "Voucher id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn voucher_ledger(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<LedgerView>> {
    let actor = caller.actor();
    let (voucher, entries) = state.blocking(move |app| Ok(app.voucher_ledger(&actor, id)?)).await?;
    Ok(Json(LedgerView { voucher, entries }))
}

/// The facility's approved bookings as iCalendar (RFC 5545), from 30 days ago on;
/// who booked only for the facility's operators.
#[utoipa::path(get, path = "/api/v1/facilities/{id}/calendar.ics", tag = "bookings",
    params(("id" = String, Path, description = "Facility listing id")),
    responses((status = 200, description = "text/calendar", content_type = "text/calendar"), (status = 404, body = Problem)))]
pub async fn calendar_ics(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id = super::listings::parse_id(&id)?;
    let actor = caller.actor();
    let feed = state.blocking(move |app| Ok(app.facility_feed(&actor, id)?)).await?;
    Ok(([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], ics(&feed)))
}

/// The feed as iCalendar text: CRLF line ends, lines folded at 75 octets, text escaped.
pub fn ics(feed: &xietong_app::booking::FacilityFeed) -> String {
    let stamp = |at: i64| {
        let utc = xietong_domain::booking::to_datetime(at);
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second()
        )
    };
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".to_string(),
        "PRODID:-//xietong//facility bookings//ZH".to_string(),
        "CALSCALE:GREGORIAN".to_string(),
        format!("X-WR-CALNAME:{}", escape(&feed.facility.body.title)),
    ];
    for booking in &feed.bookings {
        let summary = if feed.show_booker {
            format!("{} · {}", booking.booker_org.as_deref().unwrap_or(&booking.booker), booking.booker)
        } else {
            "已预约 Booked".to_string()
        };
        lines.extend([
            "BEGIN:VEVENT".to_string(),
            format!("UID:booking-{}@xietong", booking.id),
            format!("DTSTAMP:{}", stamp(booking.updated_at)),
            format!("DTSTART:{}", stamp(booking.start)),
            format!("DTEND:{}", stamp(booking.end)),
            format!("SUMMARY:{}", escape(&format!("{} ×{}", summary, booking.quantity))),
            format!("LOCATION:{}", escape(&feed.facility.body.title)),
            "STATUS:CONFIRMED".to_string(),
            "END:VEVENT".to_string(),
        ]);
        if feed.show_booker && !booking.purpose.is_empty() {
            let at = lines.len() - 2;
            lines.insert(at, format!("DESCRIPTION:{}", escape(&booking.purpose)));
        }
    }
    lines.push("END:VCALENDAR".to_string());
    lines.iter().map(|line| fold(line)).collect()
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace("\r\n", "\\n").replace('\n', "\\n")
}

/// Folds a content line at 75 octets without splitting a character, ending it with CRLF.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for ch in line.chars() {
        if width + ch.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += ch.len_utf8();
    }
    out.push_str("\r\n");
    out
}

/// Query of the utilisation.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UtilisationParams {
    /// facility (default), region or month.
    pub by: Option<String>,
    /// First day, `YYYY-MM-DD`; default 60 days ago.
    pub from: Option<String>,
    /// Last day, included; default 30 days ahead.
    pub to: Option<String>,
}

/// Booked (approved, completed, no-show) and used (completed) units against open capacity of
/// the bookable facilities the caller may read, by facility, region (province) or month; and
/// voucher spending by issuing and spending region.
#[utoipa::path(get, path = "/api/v1/stats/utilisation", tag = "stats", params(UtilisationParams),
    responses((status = 200, body = Object), (status = 400, body = Problem)))]
pub async fn utilisation(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<UtilisationParams>,
) -> ApiResult<Json<xietong_app::types::Utilisation>> {
    let by = parse_param::<UtilisationBy>("by", params.by.as_deref())?.unwrap_or(UtilisationBy::Facility);
    let from = day_param("from", params.from.as_deref())?.unwrap_or(today() - time::Duration::days(60));
    let to = day_param("to", params.to.as_deref())?.unwrap_or(today() + time::Duration::days(30));
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.utilisation(&actor, by, from, to)?)).await?))
}
