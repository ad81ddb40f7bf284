//! Reference data: regions (GB/T 2260), industries (GB/T 4754-2017), TRL levels.

use crate::json::ApiQuery;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xietong_domain::{IndustryLevel, Reference};

/// One region.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionDto {
    pub code: String,
    pub name: String,
    /// province, prefecture, county or new_area.
    pub level: String,
    pub parent_code: Option<String>,
    /// Second parent: 雄安新区 (133100) for its three counties.
    pub alt_parent_code: Option<String>,
    pub lat: f64,
    pub lng: f64,
}

/// Regions of Beijing, Tianjin, Hebei and Xiong'an with their hierarchy.
#[utoipa::path(get, path = "/api/v1/reference/regions", tag = "reference",
    responses((status = 200, body = Vec<RegionDto>)))]
pub async fn regions() -> Json<Vec<RegionDto>> {
    let regions = Reference::get()
        .regions()
        .iter()
        .map(|r| RegionDto {
            code: r.code.clone(),
            name: r.name.clone(),
            level: serde_json::to_value(r.level).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            parent_code: r.parent_code.clone(),
            alt_parent_code: r.alt_parent_code.clone(),
            lat: r.lat,
            lng: r.lng,
        })
        .collect();
    Json(regions)
}

/// Query of the industry list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct IndustryParams {
    /// section, division, group or class; all levels by default.
    pub level: Option<String>,
    /// Only codes below this one.
    pub parent: Option<String>,
}

/// One industry code.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndustryDto {
    pub code: String,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub level: String,
    pub parent_code: Option<String>,
}

/// Industry classification GB/T 4754-2017 (as amended).
#[utoipa::path(get, path = "/api/v1/reference/industries", tag = "reference", params(IndustryParams),
    responses((status = 200, body = Vec<IndustryDto>)))]
pub async fn industries(ApiQuery(params): ApiQuery<IndustryParams>) -> Json<Vec<IndustryDto>> {
    let level_name = |level: IndustryLevel| match level {
        IndustryLevel::Section => "section",
        IndustryLevel::Division => "division",
        IndustryLevel::Group => "group",
        IndustryLevel::Class => "class",
    };
    let industries = Reference::get()
        .industries()
        .iter()
        .filter(|i| params.level.as_deref().is_none_or(|l| l == level_name(i.level)))
        .filter(|i| params.parent.as_deref().is_none_or(|p| i.parent_code.as_deref() == Some(p)))
        .map(|i| IndustryDto {
            code: i.code.clone(),
            name_zh: i.name_zh.clone(),
            name_en: i.name_en.clone(),
            level: level_name(i.level).to_string(),
            parent_code: i.parent_code.clone(),
        })
        .collect();
    Json(industries)
}

/// One technology readiness level.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrlDto {
    pub level: u8,
    pub name_zh: String,
    pub name_en: String,
    pub definition_zh: String,
    pub definition_en: String,
}

/// Technology readiness levels 1–9.
#[utoipa::path(get, path = "/api/v1/reference/trl", tag = "reference", responses((status = 200, body = Vec<TrlDto>)))]
pub async fn trl() -> Json<Vec<TrlDto>> {
    Json(
        Reference::get()
            .trl_levels()
            .iter()
            .map(|t| TrlDto {
                level: t.level,
                name_zh: t.name_zh.clone(),
                name_en: t.name_en.clone(),
                definition_zh: t.definition_zh.clone(),
                definition_en: t.definition_en.clone(),
            })
            .collect(),
    )
}
