//! Figures for the government dashboard: listing counts, key-sector counts and cross-region
//! enterprise flows. Every figure counts only the published listings the reader's
//! [`ReadScope`] allows, so an organisation-only listing is counted for its own organisation and
//! for nobody else. The API overview and the web dashboard share [`figures`] and its cache.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use parking_lot::Mutex;
use serde::Serialize;
use utoipa::ToSchema;
use xietong_app::App;
use xietong_app::types::SiteLink;
use xietong_domain::{Details, EnterpriseDetails, Kind, ListingId, ReadScope, Reference, SiteRole};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;

/// The five key sectors (五大重点产业), counted by name: Chinese name, English label.
pub const SECTORS: [(&str, &str); 5] = [
    ("安全应急", "Safety & emergency"),
    ("航空航天", "Aerospace"),
    ("人工智能", "Artificial intelligence"),
    ("医药健康", "Medicine & health"),
    ("智能制造", "Intelligent manufacturing"),
];

/// Read scopes whose figures are kept at once (visitors, each organisation's members, …).
const CACHED_SCOPES: usize = 32;

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

/// The figures one read scope may see, over the published listings it allows.
#[derive(Debug)]
pub struct ScopedFigures {
    /// Published listings per kind, in [`Kind::ALL`] order.
    pub kinds: Vec<(Kind, u64)>,
    /// Published listings naming each of [`SECTORS`] in their title, summary, keywords or
    /// description. A text search would also count listings matching only part of the name
    /// (智能 of 智能制造).
    pub sectors: Vec<u64>,
    pub flows: Vec<FlowDto>,
    pub fengtai: FengtaiFigures,
}

/// Counts everything in one scan of the store. The cross-region layout is computed from the
/// readable enterprises' sites exactly as the store's site links computes it from
/// all published ones, so a scope that reads every enterprise gets the same figures.
pub fn scoped_figures(app: &App, scope: &ReadScope) -> ApiResult<ScopedFigures> {
    let mut kind_counts: HashMap<Kind, u64> = HashMap::new();
    let mut sector_counts = vec![0u64; SECTORS.len()];
    let mut links = SiteLinks::default();
    app.scan_published(scope, |listing| {
        let body = &listing.body;
        *kind_counts.entry(listing.kind()).or_default() += 1;
        for (index, (sector, _)) in SECTORS.iter().enumerate() {
            let named = body.title.contains(sector)
                || body.summary.contains(sector)
                || body.keywords.iter().any(|k| k.contains(sector))
                || body.description.contains(sector);
            if named {
                sector_counts[index] += 1;
            }
        }
        if let Details::Enterprise(enterprise) = &body.details {
            links.add(listing.id, enterprise);
        }
    })?;
    let kinds = Kind::ALL.into_iter().map(|kind| (kind, kind_counts.get(&kind).copied().unwrap_or(0))).collect();
    let (flows, fengtai) = flows(&links.into_links());
    Ok(ScopedFigures { kinds, sectors: sector_counts, flows, fengtai })
}

/// Site links being gathered: (head-office region, site region, site role) → sites per
/// enterprise.
#[derive(Default)]
struct SiteLinks(BTreeMap<(String, String, &'static str), BTreeMap<ListingId, u64>>);

impl SiteLinks {
    /// Pairs every head office of the enterprise with every other site, like the store's query.
    fn add(&mut self, id: ListingId, enterprise: &EnterpriseDetails) {
        let head_offices = enterprise.sites.iter().filter(|s| s.role == SiteRole::Hq);
        for head_office in head_offices {
            for site in enterprise.sites.iter().filter(|s| s.role != SiteRole::Hq) {
                let key = (head_office.region_code.clone(), site.region_code.clone(), site.role.as_str());
                *self.0.entry(key).or_default().entry(id).or_default() += 1;
            }
        }
    }

    fn into_links(self) -> Vec<SiteLink> {
        self.0
            .into_iter()
            .map(|((hq_region, site_region, role), per_enterprise)| SiteLink {
                hq_region,
                site_region,
                role: role.to_string(),
                enterprises: per_enterprise.len() as u64,
                sites: per_enterprise.values().sum(),
                enterprise_ids: per_enterprise.into_keys().collect(),
            })
            .collect()
    }
}

/// Figures of one app and read scope at one index state.
struct CachedFigures {
    /// Held weakly: while the entry exists, no other app can get the same address.
    app: Weak<App>,
    scope_key: String,
    seq: u64,
    figures: Arc<ScopedFigures>,
    /// A background recount is under way.
    refreshing: bool,
    used_at: Instant,
}

static CACHE: Mutex<Vec<CachedFigures>> = Mutex::new(Vec::new());

/// The figures of `scope` for the current index state. Every write syncs the index, so a new
/// sequence number means the figures may have changed; the previous figures are then served while
/// new ones are counted in the background, so no request waits on the recount. Only the first
/// request of a scope counts inline. At most 32 scopes are kept, least recently
/// used first out.
pub async fn figures(state: &AppState, scope: &ReadScope) -> ApiResult<Arc<ScopedFigures>> {
    let seq = state.app.catalogue_version();
    let scope_key = scope.cache_key();
    let stale = {
        let mut cache = CACHE.lock();
        cache.retain(|entry| entry.app.strong_count() > 0);
        let found = cache
            .iter_mut()
            .find(|entry| std::ptr::eq(entry.app.as_ptr(), Arc::as_ptr(&state.app)) && entry.scope_key == scope_key);
        match found {
            Some(entry) => {
                entry.used_at = Instant::now();
                if entry.seq == seq {
                    return Ok(entry.figures.clone());
                }
                let start_refresh = !entry.refreshing;
                entry.refreshing = true;
                Some((entry.figures.clone(), start_refresh))
            }
            None => None,
        }
    };
    let Some((figures, start_refresh)) = stale else {
        let counting_scope = scope.clone();
        let figures = Arc::new(state.blocking(move |app| scoped_figures(app, &counting_scope)).await?);
        remember(&state.app, scope_key, seq, figures.clone());
        return Ok(figures);
    };
    if start_refresh {
        let app = state.app.clone();
        let counting_scope = scope.clone();
        tokio::task::spawn_blocking(move || match scoped_figures(&app, &counting_scope) {
            Ok(fresh) => remember(&app, scope_key, seq, Arc::new(fresh)),
            Err(error) => {
                tracing::error!(?error, "failed to refresh the dashboard figures");
                let mut cache = CACHE.lock();
                let found = cache
                    .iter_mut()
                    .find(|entry| std::ptr::eq(entry.app.as_ptr(), Arc::as_ptr(&app)) && entry.scope_key == scope_key);
                if let Some(entry) = found {
                    entry.refreshing = false;
                }
            }
        });
    }
    Ok(figures)
}

fn remember(app: &Arc<App>, scope_key: String, seq: u64, figures: Arc<ScopedFigures>) {
    let mut cache = CACHE.lock();
    let found = cache
        .iter_mut()
        .find(|entry| std::ptr::eq(entry.app.as_ptr(), Arc::as_ptr(app)) && entry.scope_key == scope_key);
    if let Some(entry) = found {
        if seq >= entry.seq {
            entry.seq = seq;
            entry.figures = figures;
        }
        entry.refreshing = false;
        return;
    }
    if cache.len() >= CACHED_SCOPES {
        let oldest = cache.iter().enumerate().min_by_key(|(_, entry)| entry.used_at).map(|(index, _)| index);
        if let Some(index) = oldest {
            cache.swap_remove(index);
        }
    }
    cache.push(CachedFigures {
        app: Arc::downgrade(app),
        scope_key,
        seq,
        figures,
        refreshing: false,
        used_at: Instant::now(),
    });
}

/// Counts per library and the cross-region enterprise layout, over the published listings the
/// caller may read. The figures may lag a write by one background recount.
#[utoipa::path(get, path = "/api/v1/stats/overview", tag = "stats", responses((status = 200, body = Overview)))]
pub async fn overview(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Overview>> {
    let figures = figures(&state, &caller.viewer.read_scope()).await?;
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
    Ok(Json(Overview { kinds, flows: figures.flows.clone(), fengtai: figures.fengtai.clone() }))
}
