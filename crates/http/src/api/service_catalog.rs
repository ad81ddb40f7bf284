//! The cross-region service catalogue (跨省通办) through the API: search by text (the listings'
//! Chinese analysis), area and region; CSV export and import.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use xietong_app::service_catalog::ServiceQuery;
use xietong_app::types::ServiceResults;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiQuery;
use crate::state::AppState;

/// Query of the catalogue.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ServiceParams {
    /// Search text (at most 500 characters), e.g. 社保.
    pub q: Option<String>,
    /// One of the 20 areas (人才引进, 社保, 医疗, …).
    pub area: Option<String>,
    /// Services handled in this region (GB/T 2260), e.g. 110106 or 133100.
    pub region: Option<String>,
    /// Only services that can (true) or cannot (false) be handled in the other region.
    pub cross_region: Option<bool>,
    /// At most 200 (default 50).
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// Searches the catalogue: `{"total", "items": [{"code", "name", "area", "regions",
/// "cross_region", "documents", "office", "time_limit_days"}], "areas": {"社保":
/// {"services", "cross_region"}, …}}` (the counts are of everything that matched).
#[utoipa::path(get, path = "/api/v1/services", tag = "services", params(ServiceParams),
    responses((status = 200, body = Object), (status = 400, body = Problem)))]
pub async fn search(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ServiceParams>,
) -> ApiResult<Json<ServiceResults>> {
    let limit = params.limit.unwrap_or(50);
    if limit > 200 {
        return Err(ApiError::bad_param("limit", "at most 200"));
    }
    let offset = params.offset.unwrap_or(0);
    if offset > super::MAX_OFFSET as usize {
        return Err(ApiError::bad_param("offset", "at most 10000"));
    }
    if params.q.as_deref().is_some_and(|q| q.chars().count() > 500) {
        return Err(ApiError::bad_param("q", "at most 500 characters"));
    }
    if let Some(code) = &params.region
        && xietong_domain::Reference::get().region(code).is_none()
    {
        return Err(ApiError::bad_param("region", format!("{code:?} is not a GB/T 2260 region code")));
    }
    let query = ServiceQuery {
        q: params.q,
        area: params.area,
        region: params.region,
        cross_region: params.cross_region,
        limit,
        offset,
    };
    Ok(Json(state.blocking(move |app| Ok(app.services(&query)?)).await?))
}

/// The catalogue as CSV (UTF-8): code, name, area, regions, cross_region (是/否), documents,
/// office, time_limit_days; lists separated by `;`. The file imports back unchanged.
#[utoipa::path(get, path = "/api/v1/services/export", tag = "services",
    responses((status = 200, description = "CSV")))]
pub async fn export(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let csv = state.blocking(|app| Ok(app.services_csv()?)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"xietong-services.csv\""),
        ],
        csv,
    ))
}

/// Imports services from CSV in the export's columns, replacing those with the same code
/// (region operators and the admin): `{"imported": n}`.
#[utoipa::path(post, path = "/api/v1/services/import", tag = "services", request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn import(State(state): State<AppState>, caller: Caller, body: Bytes) -> ApiResult<Json<serde_json::Value>> {
    let actor = caller.actor();
    let count = state.blocking(move |app| Ok(app.import_services(&actor, &body)?)).await?;
    Ok(Json(serde_json::json!({"imported": count})))
}
