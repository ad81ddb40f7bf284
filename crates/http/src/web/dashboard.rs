//! The dashboard (总览): counts per library, the region map, the cross-region flow chart, the
//! sector breakdown and the newest demands, scenarios and challenges. Every figure counts only
//! the listings the viewer may read.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use xietong_app::Actor;
use xietong_app::types::{Facets, SearchQuery};
use xietong_app::types::{ListFilter, ListSort};
use xietong_domain::{Kind, Listing, Status};

use super::charts::{self, Bar};
use super::{PageCtx, esc, labels};
use crate::error::ApiError;
use crate::figures::figures;
use crate::state::AppState;
use xietong_app::funnel::{Funnel, FunnelBy};
use xietong_app::stats::{SECTORS, ScopedFigures};
use xietong_app::types::{Utilisation, UtilisationBy};

/// The utilisation panel covers this many days back and ahead (the API's default window).
const UTILISATION_DAYS_BACK: i64 = 60;
const UTILISATION_DAYS_AHEAD: i64 = 30;
/// Facilities shown in the utilisation panel (the busiest).
const UTILISATION_ROWS: usize = 10;

/// Everything the dashboard shows, for one viewer.
struct DashboardData {
    /// Counts from one scan of the store, cached per read scope.
    figures: Arc<ScopedFigures>,
    region_counts: HashMap<String, u64>,
    facets: Facets,
    latest: Vec<(Kind, Vec<Listing>)>,
    /// The conversion funnel by region pair (its total is the funnel chart).
    funnel: Funnel,
    /// Utilisation of the bookable facilities by facility, 60 days back to 30 ahead.
    utilisation: Utilisation,
    /// Beijing talents serving Tianjin and Hebei organisations (issue 18).
    engagements: xietong_app::types::EngagementStats,
}

/// Adds to the cached figures the region and industry facets and the newest demands, scenarios
/// and challenges the scope may read: quick index and store queries, so they are not cached.
fn with_facets_and_latest(
    app: &xietong_app::App,
    actor: &Actor,
    figures: Arc<ScopedFigures>,
) -> Result<DashboardData, ApiError> {
    let everything = app.search(actor, SearchQuery { limit: 1, ..SearchQuery::default() })?;
    let mut region_counts = HashMap::new();
    for facet in everything.facets.region_province.iter().chain(&everything.facets.region_prefecture) {
        region_counts.insert(facet.value.clone(), facet.count);
    }
    let mut latest = Vec::new();
    for kind in [Kind::Demand, Kind::Scenario, Kind::Challenge] {
        let filter = ListFilter {
            kind: Some(kind),
            status: Some(Status::Published),
            sort: ListSort::Newest,
            ..ListFilter::default()
        };
        latest.push((kind, app.list_listings(actor, filter, 6, 0)?.items));
    }
    let funnel = app.funnel(&actor.viewer.read_scope(), FunnelBy::RegionPair)?;
    let today = time::OffsetDateTime::now_utc().to_offset(xietong_domain::booking::beijing()).date();
    let utilisation = app.utilisation(
        actor,
        UtilisationBy::Facility,
        today - time::Duration::days(UTILISATION_DAYS_BACK),
        today + time::Duration::days(UTILISATION_DAYS_AHEAD),
    )?;
    let engagements = app.engagement_stats(actor)?;
    Ok(DashboardData { figures, region_counts, facets: everything.facets, latest, funnel, utilisation, engagements })
}

async fn data(state: &AppState, actor: Actor) -> Result<DashboardData, ApiError> {
    let figures = figures(state, &actor.viewer.read_scope()).await?;
    state.blocking(move |app| with_facets_and_latest(app, &actor, figures)).await
}

/// `GET /`: the figures count only what the viewer may read.
pub async fn page(ctx: PageCtx, State(state): State<AppState>) -> Response {
    match data(&state, ctx.caller.actor()).await {
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
    for (kind, count) in &data.figures.kinds {
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
    let figures = &data.figures.fengtai;
    let _ = write!(
        html,
        r#"<section class="panel" aria-labelledby="flow-h"><h2 id="flow-h">{h}</h2><p class="hint">{hint}</p>{chart}
<dl class="figures" id="fengtai-figures">
<div><dt>{a}</dt><dd data-figure="fengtai-out">{n1}</dd></div>
<div><dt>{b}</dt><dd data-figure="jinji-in">{n2}</dd></div>
<div><dt>{c}</dt><dd data-figure="jinji-sites">{n3}</dd></div>
</dl><p id="planner-links"><a href="/enclaves">{enclaves}</a> · <a href="/chains">{chains}</a></p></section>"#,
        h = ctx.t("跨区域企业布局", "Cross-region enterprise layout"),
        hint = ctx.t(
            "左：总部所在地（研发/总部）；右：分支机构所在地；带宽与企业数成正比。",
            "Left: head-office region; right: branch region; band width ∝ enterprises."
        ),
        chart = charts::flow_chart(&data.figures.flows, lang),
        a = ctx.t("丰台区企业在津冀设有分支机构", "Fengtai firms with branches in Tianjin/Hebei"),
        b = ctx.t("津冀企业在丰台设有分支机构", "Tianjin/Hebei firms with sites in Fengtai"),
        c = ctx.t("津冀企业在丰台的分支机构数", "Their sites in Fengtai"),
        n1 = figures.fengtai_firms_with_jinji_branches,
        n2 = figures.jinji_firms_with_fengtai_sites,
        n3 = figures.fengtai_sites_of_jinji_firms,
        enclaves = ctx.t("飞地流向：按产业与地区对 →", "Enclave flows by sector and region pair →"),
        chains = ctx.t("产业链缺链分析与联合招商 →", "Chain gaps and joint attraction →"),
    );
    html.push_str("</div>");

    let sector_bars: Vec<Bar> = SECTORS
        .iter()
        .zip(&data.figures.sectors)
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

    render_funnel(ctx, &data.funnel, &mut html);
    render_utilisation(ctx, &data.utilisation, &mut html);
    render_engagements(ctx, &data.engagements, &mut html);

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

/// The conversion funnel (all deals the viewer's scope may read) and its region-pair table.
fn render_funnel(ctx: &PageCtx, funnel: &Funnel, html: &mut String) {
    let total = &funnel.total;
    let stages = [
        (ctx.t("匹配曝光", "Matches viewed"), "matches_viewed", total.matches_viewed),
        (ctx.t("发起对接", "Proposed"), "proposed", total.proposed),
        (ctx.t("已接受", "Accepted"), "accepted", total.accepted),
        (ctx.t("已签约", "Signed"), "signed", total.signed),
        (ctx.t("已转化", "Converted"), "converted", total.converted),
    ]
    .map(|(label, key, value)| (label.to_string(), key, value));
    let mut rows = String::new();
    for row in funnel.rows.iter().filter(|row| row.proposed > 0) {
        let _ = write!(
            rows,
            r#"<tr data-pair="{key}"><th scope="row">{label}</th><td class="num">{m}</td><td class="num">{p}</td><td class="num">{a}</td><td class="num">{s}</td><td class="num">{c}</td></tr>"#,
            key = esc(&row.key),
            label = esc(&row.label),
            m = row.matches_viewed,
            p = row.proposed,
            a = row.accepted,
            s = row.signed,
            c = row.converted,
        );
    }
    if rows.is_empty() {
        let _ = write!(rows, r#"<tr><td colspan="6">{}</td></tr>"#, ctx.t("暂无对接", "No deals yet"));
    }
    let _ = write!(
        html,
        r#"<div class="grid-2"><section class="panel" aria-labelledby="funnel-h"><h2 id="funnel-h">{h1}</h2><p class="hint">{hint}</p>{chart}</section><section class="panel" aria-labelledby="pairs-h"><h2 id="pairs-h">{h2}</h2><div class="table-scroll"><table class="data-table" id="region-pairs"><thead><tr><th scope="col">{c0}</th><th scope="col">{c1}</th><th scope="col">{c2}</th><th scope="col">{c3}</th><th scope="col">{c4}</th><th scope="col">{c5}</th></tr></thead><tbody>{rows}</tbody></table></div></section></div>"#,
        h1 = ctx.t("对接转化漏斗", "Conversion funnel"),
        hint = ctx.t(
            "从匹配结果曝光到发起对接、接受、签约与转化；括号内为相对上一环节的比例。",
            "From listings shown in match results to deals proposed, accepted, signed and converted; in brackets the share of the step before."
        ),
        chart = charts::funnel_chart("funnel-chart", ctx.t("对接转化漏斗", "Conversion funnel"), &stages),
        h2 = ctx.t("跨区域对接（发起方→资源方）", "Deals by region pair (asking → owning)"),
        c0 = ctx.t("地区", "Regions"),
        c1 = ctx.t("曝光", "Viewed"),
        c2 = ctx.t("发起", "Proposed"),
        c3 = ctx.t("接受", "Accepted"),
        c4 = ctx.t("签约", "Signed"),
        c5 = ctx.t("转化", "Converted"),
    );
}

/// Utilisation of the bookable facilities (the busiest by booked units, each with a bar of
/// booked ÷ open capacity) and voucher spending by issuing and spending region.
fn render_utilisation(ctx: &PageCtx, utilisation: &Utilisation, html: &mut String) {
    let mut busiest: Vec<_> = utilisation.rows.iter().collect();
    busiest.sort_by(|a, b| b.booked_units.cmp(&a.booked_units).then_with(|| a.key.cmp(&b.key)));
    let (open, booked, used) = utilisation
        .rows
        .iter()
        .fold((0, 0, 0), |(o, b, u), row| (o + row.open_units, b + row.booked_units, u + row.used_units));
    let percent = |share: f64| (share * 1000.0).round() / 10.0;
    let mut rows = String::new();
    for row in busiest.into_iter().take(UTILISATION_ROWS) {
        let share = percent(row.utilisation);
        let _ = write!(
            rows,
            r#"<tr data-facility="{key}"><th scope="row"><a href="/listings/{key}#booking">{label}</a></th><td class="num">{open}</td><td class="num">{booked}</td><td class="num">{used}</td><td><span class="part-bar" style="width:{width}%"></span> {share}%</td></tr>"#,
            key = esc(&row.key),
            label = esc(&row.label),
            open = row.open_units,
            booked = row.booked_units,
            used = row.used_units,
            width = share.min(100.0),
        );
    }
    if rows.is_empty() {
        let _ = write!(
            rows,
            r#"<tr><td colspan="5">{}</td></tr>"#,
            ctx.t("暂无可预约的设施", "No bookable facilities yet")
        );
    }
    let mut flows = String::new();
    for flow in &utilisation.voucher_spending {
        let cross = flow.issuing_region != flow.spending_region;
        let _ = write!(
            flows,
            r#"<tr data-flow="{from}-{to}" data-cross="{cross}"><th scope="row">{from_name} → {to_name}</th><td class="num">{spent}</td></tr>"#,
            from = esc(&flow.issuing_region),
            to = esc(&flow.spending_region),
            from_name = esc(&flow.issuing_region_name),
            to_name = esc(&flow.spending_region_name),
            spent = super::fmt_num(flow.spent),
        );
    }
    if flows.is_empty() {
        let _ = write!(flows, r#"<tr><td colspan="2">{}</td></tr>"#, ctx.t("暂无创新券核销", "No voucher spent yet"));
    }
    let overall = if open == 0 { 0.0 } else { percent(booked as f64 / open as f64) };
    let _ = write!(
        html,
        r#"<div class="grid-2"><section class="panel" id="utilisation" aria-labelledby="utilisation-h"><h2 id="utilisation-h">{h1}</h2><p class="hint">{hint}</p><p class="figures" id="utilisation-total" data-open="{open}" data-booked="{booked}" data-used="{used}">{total}</p><div class="table-scroll"><table class="data-table" id="utilisation-table"><thead><tr><th scope="col">{c0}</th><th scope="col">{c1}</th><th scope="col">{c2}</th><th scope="col">{c3}</th><th scope="col">{c4}</th></tr></thead><tbody>{rows}</tbody></table></div></section><section class="panel" aria-labelledby="voucher-flows-h"><h2 id="voucher-flows-h">{h2}</h2><p class="hint">{hint2}</p><div class="table-scroll"><table class="data-table" id="voucher-flows"><thead><tr><th scope="col">{d0}</th><th scope="col">{d1}</th></tr></thead><tbody>{flows}</tbody></table></div></section></div>"#,
        h1 = ctx.t("中试基地与科研设施利用率", "Utilisation of pilot bases and instruments"),
        hint = esc(ctx.t(
            &format!(
                "{} 至 {}（北京时间）：已批准、已完成与未到的预约单位数占开放产能的比例。",
                utilisation.from, utilisation.to
            ),
            &format!(
                "{} to {} (Beijing time): units approved, completed or no-show against open capacity.",
                utilisation.from, utilisation.to
            ),
        )),
        total = esc(ctx.t(
            &format!("合计：开放 {open}，已预约 {booked}，已使用 {used}，利用率 {overall}%"),
            &format!("In all: {open} open, {booked} booked, {used} used, {overall}% utilised"),
        )),
        c0 = ctx.t("设施", "Facility"),
        c1 = ctx.t("开放产能", "Open"),
        c2 = ctx.t("已预约", "Booked"),
        c3 = ctx.t("已使用", "Used"),
        c4 = ctx.t("利用率", "Utilisation"),
        h2 = ctx.t("创新券跨区域使用", "Innovation vouchers across regions"),
        hint2 = ctx.t(
            "已核销金额（万元），按发放地区→使用地（设施所在省市）。",
            "Spent (×10,000 CNY) by issuing region → the facility's province."
        ),
        d0 = ctx.t("发放地 → 使用地", "Issued in → spent in"),
        d1 = ctx.t("核销（万元）", "Spent (×10,000 CNY)"),
    );
}

/// Beijing talents serving Tianjin and Hebei organisations, by mode and by sector.
fn render_engagements(ctx: &PageCtx, stats: &xietong_app::types::EngagementStats, html: &mut String) {
    let mode_name = |mode: &str| {
        mode.parse::<xietong_domain::engagement::Mode>()
            .map(|m| if ctx.lang == super::Lang::Zh { m.label_zh().to_string() } else { mode.replace('_', " ") })
            .unwrap_or_else(|_| mode.to_string())
    };
    let rows = |counts: &std::collections::BTreeMap<String, usize>, name: &dyn Fn(&str) -> String| {
        counts.iter().fold(String::new(), |mut out, (key, count)| {
            let _ = write!(out, "<tr><td>{}</td><td>{count}</td></tr>", esc(&name(key)));
            out
        })
    };
    let sector = |code: &str| {
        xietong_domain::Reference::get()
            .industry(code)
            .map_or_else(|| code.to_string(), |i| format!("{code} {}", i.name_zh))
    };
    let _ = write!(
        html,
        r#"<section class="panel" id="engagements" aria-labelledby="engagements-h"><h2 id="engagements-h">{h}</h2><p class="figures" data-talents="{n}">{lead} <strong>{n}</strong></p><div class="grid-2"><table class="data-table" id="engagements-by-mode"><thead><tr><th scope="col">{c_mode}</th><th scope="col">{c_n}</th></tr></thead><tbody>{by_mode}</tbody></table><table class="data-table" id="engagements-by-sector"><thead><tr><th scope="col">{c_sector}</th><th scope="col">{c_n}</th></tr></thead><tbody>{by_sector}</tbody></table></div><p><a href="/services">{services}</a></p></section>"#,
        h = ctx.t("柔性引才：北京人才服务津冀", "Flexible engagements: Beijing talents serving Tianjin and Hebei"),
        lead = ctx.t("服务津冀机构的北京人才", "Beijing talents engaged by Tianjin/Hebei organisations"),
        n = stats.beijing_talents_serving_tianjin_hebei,
        c_mode = ctx.t("方式", "Mode"),
        c_sector = ctx.t("行业门类", "Sector"),
        c_n = ctx.t("聘用数", "Engagements"),
        by_mode = rows(&stats.by_mode, &mode_name),
        by_sector = rows(&stats.by_sector, &sector),
        services = ctx.t("跨省通办服务目录 →", "Cross-region service catalogue →"),
    );
}
