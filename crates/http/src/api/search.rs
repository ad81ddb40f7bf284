//! Full-text search with filters, facets and highlighted snippets.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xietong_app::types::{Facets, SearchQuery, SearchSort};
use xietong_domain::{Availability, FacilityType, Kind, ListingId};

use super::{MAX_QUERY_CHARS, industry_param, page_limit, page_offset, parse_param, region_param, text_param};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiQuery;
use crate::state::AppState;

/// Query of `GET /api/v1/search`.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct SearchParams {
    /// Free text (Chinese, English or mixed); empty browses newest first.
    pub q: Option<String>,
    pub kind: Option<String>,
    /// GB/T 2260 code or name; sub-regions included.
    pub region: Option<String>,
    /// GB/T 4754 code at any level.
    pub industry: Option<String>,
    pub trl_min: Option<u8>,
    pub trl_max: Option<u8>,
    /// full_time, dual_appointment, weekend_engineer or remote_consulting.
    pub availability: Option<String>,
    /// instrument, lab, pilot_line or pilot_base.
    pub facility_type: Option<String>,
    /// relevance (default), newest, trl (highest first) or price (lowest first, in 万元).
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

/// Highlighted parts of a hit: HTML-escaped text with `<mark>` around matched terms.
#[derive(Debug, Serialize, ToSchema)]
pub struct Snippets {
    pub title: String,
    pub summary: String,
}

/// One search hit.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchItem {
    #[schema(value_type = String)]
    pub id: ListingId,
    #[schema(value_type = String)]
    pub kind: Kind,
    pub title: String,
    pub score: f32,
    pub snippets: Snippets,
    pub summary: String,
    pub region_codes: Vec<String>,
    pub industry_codes: Vec<String>,
    pub trl: Option<u8>,
    pub owner_org: Option<String>,
}

/// A page of hits with facet counts over all hits.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    pub items: Vec<SearchItem>,
    pub total: u64,
    /// Counts per kind, region (province and prefecture), industry section and TRL.
    #[schema(value_type = Object)]
    pub facets: Facets,
    pub limit: u32,
    pub offset: u64,
}

/// Turns query parameters into a search query, checking each.
pub fn to_query(params: &SearchParams) -> ApiResult<SearchQuery> {
    text_param("q", params.q.as_deref(), MAX_QUERY_CHARS)?;
    for (field, value) in [("trl_min", params.trl_min), ("trl_max", params.trl_max)] {
        if let Some(level) = value
            && !(1..=9).contains(&level)
        {
            return Err(ApiError::bad_param(field, format!("{field} must be between 1 and 9")));
        }
    }
    let availability = match params.availability.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(text) => Some(Availability::ALL.into_iter().find(|a| a.as_str() == text).ok_or_else(|| {
            ApiError::bad_param(
                "availability",
                "use full_time, dual_appointment, weekend_engineer or remote_consulting",
            )
        })?),
    };
    let facility_type =
        match params.facility_type.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(text) => Some(FacilityType::ALL.into_iter().find(|f| f.as_str() == text).ok_or_else(|| {
                ApiError::bad_param("facility_type", "use instrument, lab, pilot_line or pilot_base")
            })?),
        };
    Ok(SearchQuery {
        text: params.q.clone().filter(|q| !q.trim().is_empty()),
        kind: parse_param::<Kind>("kind", params.kind.as_deref())?,
        region: region_param(params.region.as_deref())?,
        industry: industry_param(params.industry.as_deref())?,
        trl_min: params.trl_min,
        trl_max: params.trl_max,
        availability,
        facility_type,
        sort: parse_param::<SearchSort>("sort", params.sort.as_deref())?.unwrap_or_default(),
        // Set by the handler from the caller; `None` here would be unrestricted.
        scope: Some(xietong_domain::ReadScope::anonymous()),
        limit: page_limit(params.limit)? as usize,
        offset: page_offset(params.offset)? as usize,
    })
}

/// Searches the published listings the caller may see. Chinese is segmented with jieba (search
/// mode) and character bigrams, so words inside longer compounds are found; traditional
/// characters find simplified. Totals and facets count only what the caller may see.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchPage), (status = 400, body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> ApiResult<Json<SearchPage>> {
    let query = to_query(&params)?;
    let limit = query.limit as u32;
    let offset = query.offset as u64;
    let actor = caller.actor();
    let results = state.read_work(move |app| Ok(app.search(&actor, query)?)).await?;
    let items = results
        .hits
        .into_iter()
        .map(|hit| SearchItem {
            id: hit.id,
            kind: hit.kind,
            title: hit.title,
            score: hit.score,
            snippets: Snippets { title: hit.title_html, summary: hit.summary_html },
            summary: hit.listing.body.summary.clone(),
            region_codes: hit.listing.body.region_codes.clone(),
            industry_codes: hit.listing.body.industry_codes.clone(),
            trl: hit.listing.body.trl(),
            owner_org: hit.listing.body.owner_org.clone(),
        })
        .collect();
    Ok(Json(SearchPage { items, total: results.total, facets: results.facets, limit, offset }))
}
