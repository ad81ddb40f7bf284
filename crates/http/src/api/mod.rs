//! JSON API under `/api/v1`.

pub mod account;
pub mod collab;
pub mod listings;
pub mod matching;
pub mod reference;
pub mod schema;
pub mod search;
pub mod stats;
pub mod transfer;

use crate::error::ApiError;

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
