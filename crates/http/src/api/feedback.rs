//! Feedback on a listing for its owner: why others declined, deals per state, and how often it
//! appeared in others' match results.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use xietong_app::feedback::ListingFeedback;

use super::listings::parse_id;
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

/// A decline's reason and note.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeclineNoteDto {
    /// not_relevant, trl_too_low, price, region, timing, capacity or other.
    pub reason: String,
    pub note: Option<String>,
    /// RFC 3339.
    pub at: String,
}

/// What the owner learns about one listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackDto {
    /// Declined deals per reason: `not_relevant`, `trl_too_low`, `price`, `region`, `timing`,
    /// `capacity`, `other` (zero included).
    pub decline_reasons: BTreeMap<String, u64>,
    /// Deals on the listing per current state (`proposed` … `closed`, zero included).
    pub deals_by_state: BTreeMap<String, u64>,
    /// Appearances in match results shown to anyone, ever.
    pub impressions: u64,
    /// The same in the last 30 days.
    pub impressions_30d: u64,
    /// The notes declines carried, newest first.
    pub decline_notes: Vec<DeclineNoteDto>,
}

impl From<ListingFeedback> for FeedbackDto {
    fn from(feedback: ListingFeedback) -> FeedbackDto {
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        FeedbackDto {
            decline_reasons: feedback.decline_reasons.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            deals_by_state: feedback.deals_by_state.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            impressions: feedback.impressions,
            impressions_30d: feedback.impressions_30d,
            decline_notes: feedback
                .decline_notes
                .into_iter()
                .map(|n| DeclineNoteDto {
                    reason: n.reason.to_string(),
                    note: n.note,
                    at: n.at.format(rfc3339).unwrap_or_default(),
                })
                .collect(),
        }
    }
}

/// Feedback on a listing: decline reasons counted, deals per state and match impressions. For
/// the listing's organisation (and technology managers acting for it) and the platform admin;
/// others who may read the listing get 403, the rest 404.
#[utoipa::path(get, path = "/api/v1/listings/{id}/feedback", tag = "listings",
    params(("id" = String, Path, description = "Listing id")),
    responses((status = 200, body = FeedbackDto), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn listing_feedback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<FeedbackDto>> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    let feedback = state.blocking(move |app| Ok(app.listing_feedback(&actor, id)?)).await?;
    Ok(Json(feedback.into()))
}
