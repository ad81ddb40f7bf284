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

/// Query of `GET /api/v1/stats/funnel`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct FunnelParams {
    /// sector (GB/T 4754 section of the listing's industry; default), region_pair (asker's
    /// province → owner's province, e.g. 北京→河北) or month (of the proposal or impression).
    pub by: Option<String>,
}

/// One row of the funnel.
#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelRowDto {
    /// Section letter, `110000→130000`, or `2027-03` (`none`/`unknown` where not known).
    pub key: String,
    /// Section name, `北京→河北`, or the month.
    pub label: String,
    /// Appearances of the group's listings in match results.
    pub matches_viewed: u64,
    /// Deals proposed.
    pub proposed: u64,
    /// Deals that ever reached accepted or a later step (meeting, signed, converted).
    pub accepted: u64,
    /// Deals that ever reached signed or converted.
    pub signed: u64,
    /// Deals converted.
    pub converted: u64,
}

/// The funnel: rows by key and their sum.
#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelDto {
    /// sector, region_pair or month.
    pub by: String,
    pub rows: Vec<FunnelRowDto>,
    /// The sum of the rows (`key` "total").
    pub total: FunnelRowDto,
}

fn row_dto(row: xietong_app::funnel::FunnelRow) -> FunnelRowDto {
    FunnelRowDto {
        key: row.key,
        label: row.label,
        matches_viewed: row.matches_viewed,
        proposed: row.proposed,
        accepted: row.accepted,
        signed: row.signed,
        converted: row.converted,
    }
}

/// The conversion funnel (转化漏斗): matches viewed, deals proposed, accepted, signed and
/// converted, grouped by sector, region pair or month. Like every figure it counts only
/// impressions and deals of published listings the caller may read.
#[utoipa::path(get, path = "/api/v1/stats/funnel", tag = "stats", params(FunnelParams),
    responses((status = 200, body = FunnelDto), (status = 400, body = crate::error::Problem)))]
pub async fn funnel(
    State(state): State<AppState>,
    caller: Caller,
    crate::json::ApiQuery(params): crate::json::ApiQuery<FunnelParams>,
) -> ApiResult<Json<FunnelDto>> {
    let by = super::parse_param::<xietong_app::funnel::FunnelBy>("by", params.by.as_deref())?
        .unwrap_or(xietong_app::funnel::FunnelBy::Sector);
    let scope = caller.viewer.read_scope();
    let funnel = state.blocking(move |app| Ok(app.funnel(&scope, by)?)).await?;
    let by = match by {
        xietong_app::funnel::FunnelBy::Sector => "sector",
        xietong_app::funnel::FunnelBy::RegionPair => "region_pair",
        xietong_app::funnel::FunnelBy::Month => "month",
    };
    Ok(Json(FunnelDto {
        by: by.to_string(),
        rows: funnel.rows.into_iter().map(row_dto).collect(),
        total: row_dto(funnel.total),
    }))
}
