//! The dashboard (总览): counts per library, the region map, the cross-region flow chart, the
//! sector breakdown and the newest demands, scenarios and challenges.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use parking_lot::Mutex;
use xietong_domain::{Kind, Listing, Status};
use xietong_search::{Facets, SearchQuery};
use xietong_store::{ListFilter, ListSort};

use super::charts::{self, Bar};
use super::{PageCtx, esc, labels};
use crate::api::stats::{FengtaiFigures, FlowDto, flows};
use crate::error::ApiError;
use crate::state::AppState;

/// The five key sectors (五大重点产业), counted by name.
const SECTORS: [(&str, &str); 5] = [
    ("安全应急", "Safety & emergency"),
    ("航空航天", "Aerospace"),
    ("人工智能", "Artificial intelligence"),
    ("医药健康", "Medicine & health"),
    ("智能制造", "Intelligent manufacturing"),
];

/// Everything the dashboard shows; computed once per index state.
struct DashboardData {
    kind_counts: Vec<(Kind, u64)>,
    region_counts: HashMap<String, u64>,
    facets: Facets,
    sector_counts: Vec<u64>,
    flows: Vec<FlowDto>,
    fengtai: FengtaiFigures,
    latest: Vec<(Kind, Vec<Listing>)>,
}

/// The last computed figures, keyed by app and index sequence number: every write syncs the
/// index, so a new sequence number means the figures may have changed.
struct CacheEntry {
    key: (usize, u64),
    data: Arc<DashboardData>,
    /// A background recount is under way.
    refreshing: bool,
}

static CACHE: Mutex<Option<CacheEntry>> = Mutex::new(None);

fn compute(app: &xietong_app::App) -> Result<DashboardData, ApiError> {
    let counts = app.store.counts()?;
    let kind_counts = Kind::ALL
        .into_iter()
        .map(|kind| {
            (kind, counts.iter().filter(|c| c.kind == kind && c.status == Status::Published).map(|c| c.count).sum())
        })
        .collect();
    let everything = app.index.search(&SearchQuery { limit: 1, ..SearchQuery::default() })?;
    let mut region_counts = HashMap::new();
    for facet in everything.facets.region_province.iter().chain(&everything.facets.region_prefecture) {
        region_counts.insert(facet.value.clone(), facet.count);
    }
    let sector_counts = sector_counts(app)?;
    let (flows, fengtai) = flows(&app.store.site_links()?);
    let mut latest = Vec::new();
    for kind in [Kind::Demand, Kind::Scenario, Kind::Challenge] {
        let filter = ListFilter {
            kind: Some(kind),
            status: Some(Status::Published),
            sort: ListSort::Newest,
            ..ListFilter::default()
        };
        latest.push((kind, app.store.list(&filter, 6, 0)?.items));
    }
    Ok(DashboardData { kind_counts, region_counts, facets: everything.facets, sector_counts, flows, fengtai, latest })
}

/// Published listings that name each sector in their title, summary, keywords or description.
/// A text search would also count listings matching only part of the name (智能 of 智能制造).
fn sector_counts(app: &xietong_app::App) -> Result<Vec<u64>, ApiError> {
    let mut counts = vec![0u64; SECTORS.len()];
    let mut after = None;
    loop {
        let batch = app.store.scan(after, 5_000)?;
        let Some(last) = batch.last() else { break };
        after = Some(last.id);
        for listing in batch.iter().filter(|l| l.body.status == Status::Published) {
            let body = &listing.body;
            for (index, (sector, _)) in SECTORS.iter().enumerate() {
                let named = body.title.contains(sector)
                    || body.summary.contains(sector)
                    || body.keywords.iter().any(|k| k.contains(sector))
                    || body.description.contains(sector);
                if named {
                    counts[index] += 1;
                }
            }
        }
    }
    Ok(counts)
}

/// The figures for the current index state. After a write the previous figures are served
/// while new ones are computed in the background, so no page waits on the recount; only the very
/// first request computes them inline.
async fn data(state: &AppState) -> Result<Arc<DashboardData>, ApiError> {
    let app_key = Arc::as_ptr(&state.app) as usize;
    let key = (app_key, state.app.index.applied_seq());
    let stale = {
        let mut cache = CACHE.lock();
        match cache.as_mut() {
            Some(entry) if entry.key == key => return Ok(entry.data.clone()),
            Some(entry) if entry.key.0 == app_key => {
                let start_refresh = !entry.refreshing;
                entry.refreshing = true;
                Some((entry.data.clone(), start_refresh))
            }
            _ => None,
        }
    };
    match stale {
        Some((data, start_refresh)) => {
            if start_refresh {
                let app = state.app.clone();
                tokio::task::spawn_blocking(move || {
                    let fresh = compute(&app);
                    let mut cache = CACHE.lock();
                    match (fresh, cache.as_mut()) {
                        (Ok(fresh), _) => *cache = Some(CacheEntry { key, data: Arc::new(fresh), refreshing: false }),
                        (Err(err), Some(entry)) => {
                            tracing::error!(error = ?err, "failed to refresh the dashboard figures");
                            entry.refreshing = false;
                        }
                        (Err(_), None) => {}
                    }
                });
            }
            Ok(data)
        }
        None => {
            let data = Arc::new(state.blocking(compute).await?);
            *CACHE.lock() = Some(CacheEntry { key, data: data.clone(), refreshing: false });
            Ok(data)
        }
    }
}

/// `GET /`
pub async fn page(ctx: PageCtx, State(state): State<AppState>) -> Response {
    match data(&state).await {
        Ok(data) => ctx.render(StatusCode::OK, ctx.t("总览", "Dashboard"), &render(&ctx, &data)),
        Err(err) => ctx.error_page(err),
    }
}

fn render(ctx: &PageCtx, data: &DashboardData) -> String {
    let lang = ctx.lang;
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<h1>{}</h1><p class="lead">{}</p>"#,
        ctx.t("京津冀创新资源总览", "Beijing–Tianjin–Hebei innovation resources at a glance"),
        ctx.t(
            "汇聚人才、成果、场景、科研设施、企业、需求与榜单七类资源，支持检索与精准对接。",
            "Seven libraries — talents, achievements, scenarios, facilities, enterprises, demands and challenges — to search and match."
        ),
    );
    html.push_str(r#"<section aria-labelledby="libraries-h"><h2 id="libraries-h" class="visually-hidden">"#);
    html.push_str(ctx.t("各资源库数量", "Listings per library"));
    html.push_str(r#"</h2><ul class="cards">"#);
    for (kind, count) in &data.kind_counts {
        let _ = write!(
            html,
            r#"<li class="card kind-{k}"><a href="/search?kind={k}"><span class="card-label">{label}</span><span class="card-count" data-kind="{k}">{count}</span></a></li>"#,
            k = kind.as_str(),
            label = labels::kind_label(*kind, lang),
        );
    }
    html.push_str("</ul></section>");

    html.push_str(r#"<div class="grid-2">"#);
    let _ = write!(
        html,
        r#"<section class="panel" aria-labelledby="map-h"><h2 id="map-h">{h}</h2><p class="hint">{hint}</p>{map}</section>"#,
        h = ctx.t("资源分布地图", "Where the listings are"),
        hint = ctx.t(
            "按各市已发布资源数量着色；点击地区查看其资源。",
            "Shaded by published listings; select a region to search it."
        ),
        map = charts::region_map(&data.region_counts, lang),
    );
    let figures = &data.fengtai;
    let _ = write!(
        html,
        r#"<section class="panel" aria-labelledby="flow-h"><h2 id="flow-h">{h}</h2><p class="hint">{hint}</p>{chart}
<dl class="figures" id="fengtai-figures">
<div><dt>{a}</dt><dd data-figure="fengtai-out">{n1}</dd></div>
<div><dt>{b}</dt><dd data-figure="jinji-in">{n2}</dd></div>
<div><dt>{c}</dt><dd data-figure="jinji-sites">{n3}</dd></div>
</dl></section>"#,
        h = ctx.t("跨区域企业布局", "Cross-region enterprise layout"),
        hint = ctx.t(
            "左：总部所在地（研发/总部）；右：分支机构所在地；带宽与企业数成正比。",
            "Left: head-office region; right: branch region; band width ∝ enterprises."
        ),
        chart = charts::flow_chart(&data.flows, lang),
        a = ctx.t("丰台区企业在津冀设有分支机构", "Fengtai firms with branches in Tianjin/Hebei"),
        b = ctx.t("津冀企业在丰台设有分支机构", "Tianjin/Hebei firms with sites in Fengtai"),
        c = ctx.t("津冀企业在丰台的分支机构数", "Their sites in Fengtai"),
        n1 = figures.fengtai_firms_with_jinji_branches,
        n2 = figures.jinji_firms_with_fengtai_sites,
        n3 = figures.fengtai_sites_of_jinji_firms,
    );
    html.push_str("</div>");

    let sector_bars: Vec<Bar> = SECTORS
        .iter()
        .zip(&data.sector_counts)
        .map(|((zh, en), count)| Bar {
            label: ctx.t(zh, en).to_string(),
            value: *count,
            href: charts::search_href(&[("q", zh)]),
        })
        .collect();
    let mut sections: Vec<_> = data.facets.industry_section.iter().collect();
    sections.sort_by_key(|f| std::cmp::Reverse(f.count));
    let section_bars: Vec<Bar> = sections
        .into_iter()
        .take(8)
        .map(|f| Bar {
            label: labels::industry_name(&f.value, lang),
            value: f.count,
            href: charts::search_href(&[("industry", &f.value)]),
        })
        .collect();
    let _ = write!(
        html,
        r#"<div class="grid-2"><section class="panel" aria-labelledby="sector-h"><h2 id="sector-h">{h1}</h2>{c1}</section><section class="panel" aria-labelledby="industry-h"><h2 id="industry-h">{h2}</h2>{c2}</section></div>"#,
        h1 = ctx.t("重点产业资源", "Key sectors"),
        c1 =
            charts::bar_chart("sector-chart", ctx.t("五大重点产业的资源数量", "Listings per key sector"), &sector_bars),
        h2 = ctx.t("行业门类分布", "By industry section"),
        c2 = charts::bar_chart(
            "industry-chart",
            ctx.t("按国民经济行业门类的资源数量", "Listings per industry section"),
            &section_bars
        ),
    );

    html.push_str(r#"<div class="grid-3">"#);
    for (kind, items) in &data.latest {
        let title = match kind {
            Kind::Demand => ctx.t("最新需求", "Latest demands"),
            Kind::Scenario => ctx.t("最新场景", "Latest scenarios"),
            _ => ctx.t("开放榜单", "Open challenges"),
        };
        let _ = write!(
            html,
            r#"<section class="panel" aria-labelledby="latest-{k}"><h2 id="latest-{k}">{title}</h2><ul class="latest">"#,
            k = kind.as_str()
        );
        for listing in items {
            let region = listing.body.region_codes.first().map(|c| labels::region_short(c, lang)).unwrap_or_default();
            let _ = write!(
                html,
                r#"<li><a href="/listings/{id}">{t}</a> <span class="meta">{region}</span></li>"#,
                id = listing.id,
                t = esc(&listing.body.title),
                region = esc(&region),
            );
        }
        if items.is_empty() {
            html.push_str(&format!("<li>{}</li>", ctx.t("暂无", "None yet")));
        }
        let _ = write!(
            html,
            r#"</ul><p><a href="/search?kind={}">{}</a></p></section>"#,
            kind.as_str(),
            ctx.t("查看全部 →", "See all →")
        );
    }
    html.push_str("</div>");
    html
}
