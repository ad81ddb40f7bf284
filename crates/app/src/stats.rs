//! Figures for the government dashboard: listing counts, key-sector counts and cross-region
//! enterprise flows. Every figure counts only the published listings a [`ReadScope`] allows, so
//! an organisation-only listing is counted for its own organisation and for nobody else.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use xietong_domain::{Details, EnterpriseDetails, Kind, ListingId, ReadScope, Reference, SiteRole};
use xietong_store::SiteLink;

use crate::App;
use crate::error::AppResult;

/// The five key sectors (五大重点产业), counted by name: Chinese name, English label.
pub const SECTORS: [(&str, &str); 5] = [
    ("安全应急", "Safety & emergency"),
    ("航空航天", "Aerospace"),
    ("人工智能", "Artificial intelligence"),
    ("医药健康", "Medicine & health"),
    ("智能制造", "Intelligent manufacturing"),
];

/// Enterprises with head office in `from` and a site of `role` in `to` (province level, with
/// Fengtai kept apart from the rest of Beijing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flow {
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FengtaiFigures {
    /// Fengtai-headquartered enterprises with a branch (R&D or manufacturing) in Tianjin or Hebei.
    pub fengtai_firms_with_jinji_branches: u64,
    /// Tianjin/Hebei-headquartered enterprises with sites in Fengtai.
    pub jinji_firms_with_fengtai_sites: u64,
    /// Their sites in Fengtai.
    pub fengtai_sites_of_jinji_firms: u64,
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
pub fn flows(links: &[SiteLink]) -> (Vec<Flow>, FengtaiFigures) {
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
        .map(|((from, to, role), (enterprises, sites))| Flow {
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
    pub flows: Vec<Flow>,
    pub fengtai: FengtaiFigures,
}

/// Counts everything in one scan of the store. The cross-region layout is computed from the
/// readable enterprises' sites exactly as the store's site links computes it from
/// all published ones, so a scope that reads every enterprise gets the same figures.
pub fn scoped_figures(app: &App, scope: &ReadScope) -> AppResult<ScopedFigures> {
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
