//! The planner's view through the API (issue 19): industry chains with per-segment, per-region
//! counts and gap labels, the joint-attraction list (联合招商) and its spreadsheet, enclaves
//! (飞地) and three-party bundles. `xietong_app::chain`, `enclave` and `bundle` own the rules.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use xietong_app::bundle::Bundle;
use xietong_app::chain::ChainView;
use xietong_app::enclave::EnclaveStats;
use xietong_domain::chain::{Chain, GapRules};
use xietong_domain::enclave::EnclaveBody;

use super::listings::parse_id;
use super::transfer::{Format, attachment, format_param};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiQuery};
use crate::state::AppState;

/// Query of the chain views: an extra region and the gap rules.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ChainParams {
    /// A further region (GB/T 2260, e.g. a district such as 110106) counted beside Beijing,
    /// Tianjin and Hebei.
    pub district: Option<String>,
    /// Least local supply of a strong segment (default 5).
    pub strong_min_supply: Option<u64>,
    /// Least supply per unit of local demand of a strong segment (default 1.0).
    pub strong_supply_per_demand: Option<f64>,
}

impl ChainParams {
    /// The gap rules asked for, the defaults filling the rest.
    pub fn rules(&self) -> GapRules {
        let defaults = GapRules::default();
        GapRules {
            strong_min_supply: self.strong_min_supply.unwrap_or(defaults.strong_min_supply),
            strong_supply_per_demand: self.strong_supply_per_demand.unwrap_or(defaults.strong_supply_per_demand),
        }
    }
}

/// Every industry chain of the five priority sectors (and any the admin added) with, per
/// segment and region (Beijing, Tianjin, Hebei and the `district` asked for), the supply
/// (enterprises, achievements, facilities, talents) and demand (demands, scenarios, challenges)
/// the caller may read, and the gap label — `strong` (强链), `weak` (补链), `missing` (建链) —
/// with its reason. Rules: no supply → missing; supply ≥ `strong_min_supply` and ≥
/// `strong_supply_per_demand` × demand → strong; otherwise weak.
#[utoipa::path(get, path = "/api/v1/chains", tag = "chains", params(ChainParams),
    responses((status = 200, body = Vec<Object>), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ChainParams>,
) -> ApiResult<Json<Vec<ChainView>>> {
    let actor = caller.actor();
    let views = state
        .read_work(move |app| {
            let regions = app.chain_regions(params.district.as_deref())?;
            Ok(app.chain_views(&actor, &app.chains()?, &regions, params.rules())?)
        })
        .await?;
    Ok(Json(views))
}

/// One chain's view (see `GET /api/v1/chains`), with its sources and its version (0: as
/// shipped; an edit must carry it).
#[utoipa::path(get, path = "/api/v1/chains/{id}", tag = "chains",
    params(("id" = String, Path, description = "Chain id: safety, aerospace, ai, medicine, manufacturing"), ChainParams),
    responses((status = 200, body = Object), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ChainParams>,
) -> ApiResult<Json<ChainView>> {
    let actor = caller.actor();
    let view = state
        .read_work(move |app| Ok(app.chain_view(&actor, &id, params.district.as_deref(), params.rules())?))
        .await?;
    Ok(Json(view))
}

/// Body of `PUT /api/v1/chains/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainEditBody {
    /// The version the edit starts from (0 for the shipped chain or a new one).
    pub version: i64,
    /// The whole chain: `id` (equal to the path's), `name_zh`, `name_en`, `sources`, `segments`
    /// (`id`, `stage`, `name_zh`, `name_en`, `industry_codes`, `products`, `technologies`,
    /// `listings` placed explicitly).
    #[schema(value_type = Object)]
    pub chain: Chain,
}

/// Replaces a chain (the platform admin): segments, their GB/T 4754 codes, key products and
/// technologies, and the listings placed on them explicitly. 409 when another edit came first.
#[utoipa::path(put, path = "/api/v1/chains/{id}", tag = "chains",
    params(("id" = String, Path, description = "Chain id")), request_body = ChainEditBody,
    responses((status = 200, body = Object, description = "The stored chain and its new version"),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChainEditBody>,
) -> ApiResult<Response> {
    if body.chain.id != id {
        return Err(ApiError::bad_param("chain.id", "must equal the chain id of the path"));
    }
    let actor = caller.actor();
    let saved = state.blocking(move |app| Ok(app.save_chain(&actor, body.chain, body.version)?)).await?;
    Ok(Json(saved).into_response())
}

/// Query of the attraction list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AttractionParams {
    /// The region to bring enterprises into (GB/T 2260: a province or a district).
    pub region: String,
    /// json (default), csv or xlsx (a spreadsheet for the investment-promotion office).
    pub format: Option<String>,
    /// At most this many candidates (default 50, at most 200).
    pub limit: Option<usize>,
    pub strong_min_supply: Option<u64>,
    pub strong_supply_per_demand: Option<f64>,
}

/// The joint-attraction list (联合招商) of one segment for one region: enterprises and
/// achievements placed on the segment, outside the region, in a province where the segment is
/// strong, ranked, each with its reasons; `format=xlsx` or `csv` gives the spreadsheet.
#[utoipa::path(get, path = "/api/v1/chains/{id}/segments/{segment}/attraction", tag = "chains",
    params(("id" = String, Path, description = "Chain id"), ("segment" = String, Path, description = "Segment id"),
        AttractionParams),
    responses((status = 200, body = Object, description = "The list, or the spreadsheet"), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn attraction(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, segment)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<AttractionParams>,
) -> ApiResult<Response> {
    let format = match params.format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => None,
        other => Some(format_param(other)?),
    };
    let limit = params.limit.unwrap_or(50);
    if limit == 0 || limit > xietong_app::chain::MAX_ATTRACTION {
        return Err(ApiError::bad_param("limit", "from 1 to 200"));
    }
    let rules = ChainParams {
        district: None,
        strong_min_supply: params.strong_min_supply,
        strong_supply_per_demand: params.strong_supply_per_demand,
    }
    .rules();
    let actor = caller.actor();
    let region = params.region.clone();
    let list = state.read_work(move |app| Ok(app.attraction(&actor, &id, &segment, &region, rules, limit)?)).await?;
    let Some(format) = format else { return Ok(Json(list).into_response()) };
    let (headers, rows) = list.table();
    let bytes = match format {
        Format::Csv => xietong_transfer::table_csv(&headers, &rows),
        Format::Xlsx => xietong_transfer::table_xlsx("联合招商", &headers, &rows).map_err(ApiError::from)?,
    };
    Ok(attachment(format, &format!("xietong-attraction-{}-{}", list.segment_id, list.region), bytes))
}

/// The enclave figures (飞地): recorded enclaves, the pairs derived from every multi-site
/// enterprise by kind (`science` 科创飞地, `manufacturing` 制造飞地, `scenario` 场景应用飞地), sector
/// and region pair, totals per kind, and the Fengtai cross-region figures — over the
/// enterprises the caller may read.
#[utoipa::path(get, path = "/api/v1/stats/enclaves", tag = "stats",
    responses((status = 200, body = Object)))]
pub async fn enclave_stats(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<EnclaveStats>> {
    let actor = caller.actor();
    Ok(Json(state.read_work(move |app| Ok(app.enclave_stats(&actor)?)).await?))
}

/// Body of `POST /api/v1/enclaves`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnclaveInput {
    /// science, manufacturing or scenario.
    pub kind: String,
    pub name: String,
    pub home_region: String,
    pub host_region: String,
    pub host_park: String,
    /// Enterprise listing ids.
    #[serde(default)]
    pub enterprises: Vec<String>,
}

/// Records an enclave (the admin, or an operator of its home or host region).
#[utoipa::path(post, path = "/api/v1/enclaves", tag = "stats", request_body = EnclaveInput,
    responses((status = 201, body = Object), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_enclave(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<EnclaveInput>,
) -> ApiResult<impl IntoResponse> {
    let kind = input.kind.parse().map_err(|message: String| ApiError::bad_param("kind", message))?;
    let mut enterprises = Vec::new();
    for id in &input.enterprises {
        enterprises.push(parse_id(id)?);
    }
    let body = EnclaveBody {
        kind,
        name: input.name,
        home_region: input.home_region,
        host_region: input.host_region,
        host_park: input.host_park,
        enterprises,
    };
    let actor = caller.actor();
    let created = state.blocking(move |app| Ok(app.create_enclave(&actor, body)?)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Query of the bundles.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct BundleParams {
    /// Preferred region of manufacture (GB/T 2260); Tianjin and Hebei when absent.
    pub region: Option<String>,
}

/// Three-party bundles (S8) for an achievement: its technology + a pilot line or pilot base on
/// the same chain segment (free capacity counts) + an enterprise with a plant on the segment,
/// preferably in `region`; ranked, each part with its reasons, each bundle with what is missing.
#[utoipa::path(get, path = "/api/v1/listings/{id}/bundles", tag = "matching",
    params(("id" = String, Path, description = "Achievement id"), BundleParams),
    responses((status = 200, body = Vec<Object>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn bundles(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<BundleParams>,
) -> ApiResult<Json<Vec<Bundle>>> {
    let id = parse_id(&id)?;
    let regions: Vec<String> = params.region.iter().map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect();
    let actor = caller.actor();
    Ok(Json(state.read_work(move |app| Ok(app.bundles(&actor, id, &regions)?)).await?))
}

/// The industry-chain segments a listing is placed on, each with its evidence: `explicit` (the
/// admin placed it), or inferred from an `industry_code` or a `text` phrase.
#[utoipa::path(get, path = "/api/v1/listings/{id}/segments", tag = "chains",
    params(("id" = String, Path, description = "Listing id")),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Problem)))]
pub async fn listing_segments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<xietong_app::chain::Placement>>> {
    let id = parse_id(&id)?;
    let actor = caller.actor();
    Ok(Json(state.blocking(move |app| Ok(app.listing_placements(&actor, id)?)).await?))
}
