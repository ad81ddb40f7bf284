//! Query parameters shared by the API and the web pages: page bounds, filters checked against
//! the reference data, and the search query. Each check names the parameter in its error.

use serde::Deserialize;
use utoipa::IntoParams;
use xietong_app::types::{SearchQuery, SearchSort};
use xietong_domain::{Availability, FacilityType, Kind};

use crate::error::{ApiError, ApiResult};

/// Page size used when a client gives none.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 200;

/// Deepest result a page may start at. Paging further is refused: narrow the filters instead (or,
/// for whole libraries, use the export, which scans with a cursor).
pub const MAX_OFFSET: u64 = 10_000;
/// Longest search text, in characters.
pub const MAX_QUERY_CHARS: usize = 500;

/// Checks a client's page start.
pub fn page_offset(offset: Option<u64>) -> Result<u64, ApiError> {
    match offset {
        None => Ok(0),
        Some(n) if n > MAX_OFFSET => Err(ApiError::bad_param(
            "offset",
            format!(
                "offset must be at most {MAX_OFFSET}; narrow the results with filters (kind, region, industry, TRL) \
                 or export the whole list instead of paging this deep"
            ),
        )),
        Some(n) => Ok(n),
    }
}

/// Checks the length of a free-text parameter, in characters.
pub fn text_param(field: &str, value: Option<&str>, max_chars: usize) -> Result<(), ApiError> {
    match value {
        Some(text) if text.chars().count() > max_chars => Err(ApiError::bad_param(
            field,
            format!("{field} must be at most {max_chars} characters (it has {})", text.chars().count()),
        )),
        _ => Ok(()),
    }
}

/// Checks a client's page size.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(0) => Err(ApiError::bad_param("limit", "limit must be at least 1")),
        Some(n) if n > MAX_LIMIT => Err(ApiError::bad_param("limit", format!("limit must be at most {MAX_LIMIT}"))),
        Some(n) => Ok(n),
    }
}

/// Parses an optional enum-like query parameter, naming it in the error.
pub fn parse_param<T: std::str::FromStr>(field: &str, value: Option<&str>) -> Result<Option<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|err| ApiError::bad_param(field, format!("{err}"))),
    }
}

/// Checks a region filter against the reference data.
pub fn region_param(value: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(text) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    xietong_domain::Reference::get().resolve_region(text).map(|r| Some(r.code.clone())).ok_or_else(|| {
        ApiError::bad_param("region", format!("unknown region {text:?}: use a GB/T 2260 code such as 110106 or 130000"))
    })
}

/// Checks an industry filter against the reference data.
pub fn industry_param(value: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(text) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    xietong_domain::Reference::get().resolve_industry(text).map(|i| Some(i.code.clone())).ok_or_else(|| {
        ApiError::bad_param(
            "industry",
            format!("unknown industry {text:?}: use a GB/T 4754-2017 code such as C, 35 or 3741"),
        )
    })
}

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
