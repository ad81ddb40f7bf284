//! Full-text search with filters, facets and highlighted snippets.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use xietong_app::types::Facets;
use xietong_domain::{Kind, ListingId};

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::json::ApiQuery;
pub use crate::params::{SearchParams, to_query};
use crate::state::AppState;

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
    /// Not updated for `stale_after_days` (config, default 180).
    pub stale: bool,
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
    let (results, stale) = state
        .read_work(move |app| {
            let results = app.search(&actor, query)?;
            let stale: Vec<bool> = results.hits.iter().map(|hit| app.is_stale(&hit.listing)).collect();
            Ok((results, stale))
        })
        .await?;
    let items = results
        .hits
        .into_iter()
        .zip(stale)
        .map(|(hit, stale)| SearchItem {
            stale,
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
