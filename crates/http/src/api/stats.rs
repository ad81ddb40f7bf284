//! The dashboard figures through the API (`xietong_app::stats` counts them; the cache in
//! `crate::figures` is shared with the web dashboard). Every figure counts only the published
//! listings the reader may read.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;

/// Published listings per kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindCountDto {
    pub kind: String,
    pub label_zh: String,
    pub label_en: String,
    pub count: u64,
}

/// Enterprises with head office in `from` and a site of `role` in `to` (province level, with
/// Fengtai kept apart from the rest of Beijing).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowDto {
    pub from: String,
    pub from_name: String,
    pub to: String,
    pub to_name: String,
    /// r_and_d, manufacturing or scenario.
    pub role: String,
    pub enterprises: u64,
    pub sites: u64,
}

/// The Fengtai figures of the cross-region layout.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FengtaiFigures {
    /// Fengtai-headquartered enterprises with a branch (R&D or manufacturing) in Tianjin or Hebei.
    pub fengtai_firms_with_jinji_branches: u64,
    /// Tianjin/Hebei-headquartered enterprises with sites in Fengtai.
    pub jinji_firms_with_fengtai_sites: u64,
    /// Their sites in Fengtai.
    pub fengtai_sites_of_jinji_firms: u64,
}

/// Dashboard overview.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    pub kinds: Vec<KindCountDto>,
    pub flows: Vec<FlowDto>,
    pub fengtai: FengtaiFigures,
}

/// Counts per library and the cross-region enterprise layout, over the published listings the
/// caller may read. The figures may lag a write by one background recount.
#[utoipa::path(get, path = "/api/v1/stats/overview", tag = "stats", responses((status = 200, body = Overview)))]
pub async fn overview(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Overview>> {
    let figures = crate::figures::figures(&state, &caller.viewer.read_scope()).await?;
    let kinds = figures
        .kinds
        .iter()
        .map(|(kind, count)| KindCountDto {
            kind: kind.as_str().to_string(),
            label_zh: kind.label_zh().to_string(),
            label_en: kind.label_en().to_string(),
            count: *count,
        })
        .collect();
    let flows = figures
        .flows
        .iter()
        .map(|flow| FlowDto {
            from: flow.from.clone(),
            from_name: flow.from_name.clone(),
            to: flow.to.clone(),
            to_name: flow.to_name.clone(),
            role: flow.role.clone(),
            enterprises: flow.enterprises,
            sites: flow.sites,
        })
        .collect();
    let fengtai = &figures.fengtai;
    let fengtai = FengtaiFigures {
        fengtai_firms_with_jinji_branches: fengtai.fengtai_firms_with_jinji_branches,
        jinji_firms_with_fengtai_sites: fengtai.jinji_firms_with_fengtai_sites,
        fengtai_sites_of_jinji_firms: fengtai.fengtai_sites_of_jinji_firms,
    };
    Ok(Json(Overview { kinds, flows, fengtai }))
}
