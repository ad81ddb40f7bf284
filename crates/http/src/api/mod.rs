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
