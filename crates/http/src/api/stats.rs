//! Figures for the government dashboard: listing counts and cross-region enterprise flows.

use std::collections::{BTreeMap, HashSet};

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use xietong_domain::{Kind, Reference, Status};
use xietong_store::SiteLink;

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
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
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

const FENGTAI: &str = "110106";

/// The flow node of a region: Fengtai stays itself, everything else folds to its province.
pub fn flow_node(code: &str) -> String {
    if code == FENGTAI {
        return FENGTAI.to_string();
    }
    Reference::get().province_of(code).map(|p| p.code.clone()).unwrap_or_else(|| code.to_string())
}

fn node_name(code: &str) -> String {
    match code {
        "110000" => "北京市（不含丰台）".to_string(),
        other => Reference::get().region(other).map(|r| r.name.clone()).unwrap_or_else(|| other.to_string()),
    }
}

/// Folds site links to flows between Fengtai, the rest of Beijing, Tianjin and Hebei.
pub fn flows(links: &[SiteLink]) -> (Vec<FlowDto>, FengtaiFigures) {
    let reference = Reference::get();
    let mut folded: BTreeMap<(String, String, String), (HashSet<xietong_domain::ListingId>, u64)> = BTreeMap::new();
    let mut fengtai_out = HashSet::new();
    let mut jinji_in = HashSet::new();
    let mut jinji_in_sites = 0;
    for link in links {
        let from = flow_node(&link.hq_region);
        let to = flow_node(&link.site_region);
        let in_jinji = |code: &str| reference.region_within(code, "120000") || reference.region_within(code, "130000");
        if from == FENGTAI && in_jinji(&link.site_region) && (link.role == "r_and_d" || link.role == "manufacturing") {
            fengtai_out.extend(link.enterprise_ids.iter().copied());
        }
        if in_jinji(&link.hq_region) && link.site_region == FENGTAI {
            jinji_in.extend(link.enterprise_ids.iter().copied());
            jinji_in_sites += link.sites;
        }
        if from == to {
            continue;
        }
        let entry = folded.entry((from, to, link.role.clone())).or_default();
        entry.0.extend(link.enterprise_ids.iter().copied());
        entry.1 += link.sites;
    }
    let flows = folded
        .into_iter()
        .map(|((from, to, role), (enterprises, sites))| FlowDto {
            from_name: node_name(&from),
            to_name: node_name(&to),
            from,
            to,
            role,
            enterprises: enterprises.len() as u64,
            sites,
        })
        .collect();
    let figures = FengtaiFigures {
        fengtai_firms_with_jinji_branches: fengtai_out.len() as u64,
        jinji_firms_with_fengtai_sites: jinji_in.len() as u64,
        fengtai_sites_of_jinji_firms: jinji_in_sites,
    };
    (flows, figures)
}

/// Counts per library and the cross-region enterprise layout.
#[utoipa::path(get, path = "/api/v1/stats/overview", tag = "stats", responses((status = 200, body = Overview)))]
pub async fn overview(State(state): State<AppState>) -> ApiResult<Json<Overview>> {
    let (counts, links) = state.blocking(|app| Ok((app.store.counts()?, app.store.site_links()?))).await?;
    let kinds = Kind::ALL
        .into_iter()
        .map(|kind| KindCountDto {
            kind: kind.as_str().to_string(),
            label_zh: kind.label_zh().to_string(),
            label_en: kind.label_en().to_string(),
            count: counts.iter().filter(|c| c.kind == kind && c.status == Status::Published).map(|c| c.count).sum(),
        })
        .collect();
    let (flows, fengtai) = flows(&links);
    Ok(Json(Overview { kinds, flows, fengtai }))
}
