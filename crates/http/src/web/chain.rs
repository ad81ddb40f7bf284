//! The planner's pages (issue 19): `/chains` (the five sectors' chains with their gap counts),
//! `/chains/{id}` (the chain map — segments as an SVG diagram by stage, coloured by the chosen
//! region's label, counts per region — and the gap report of the region), `/chains/{id}/attraction`
//! (the attraction list of a segment for a region, with the spreadsheet links) and `/enclaves`
//! (the enclave flow view).

use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use xietong_app::chain::{ChainView, PROVINCES, SegmentView};
use xietong_domain::chain::{Gap, GapRules, Stage};
use xietong_domain::enclave::EnclaveKind;

use super::{PageCtx, encode_component, esc, see_other};
use crate::state::AppState;

/// Query of the chain pages.
#[derive(Debug, Default, Deserialize)]
pub struct ChainPageParams {
    /// The region whose labels colour the map (default Beijing).
    pub region: Option<String>,
    /// The segment of an attraction list.
    pub segment: Option<String>,
    /// `1` after the admin saved an edit.
    pub saved: Option<String>,
}

/// Form of `POST /chains/{id}`: the admin's edit.
#[derive(Debug, Deserialize)]
pub struct ChainEditForm {
    /// The version the edit starts from.
    pub version: i64,
    /// The whole chain as JSON (as `PUT /api/v1/chains/{id}` takes it).
    pub chain: String,
}

/// `POST /chains/{id}`: stores the admin's edit of a chain, then shows the chain.
pub async fn edit(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<ChainEditForm>,
) -> Response {
    let back = format!("/chains/{}", encode_component(&id));
    let chain: xietong_domain::chain::Chain = match serde_json::from_str(&form.chain) {
        Ok(chain) => chain,
        Err(error) => {
            let detail = format!("{}{error}", ctx.t("产业链 JSON 有误：", "The chain JSON is invalid: "));
            return ctx.refused(StatusCode::BAD_REQUEST, &detail, &back);
        }
    };
    if chain.id != id {
        return ctx.refused(
            StatusCode::BAD_REQUEST,
            ctx.t("JSON 中的 id 须与本产业链一致。", "The id in the JSON must be this chain's."),
            &back,
        );
    }
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.save_chain(&actor, chain, form.version)?)).await {
        Ok(_) => see_other(&format!("{back}?saved=1")),
        Err(crate::error::ApiError::Conflict(detail)) => ctx.refused(StatusCode::CONFLICT, &detail, &back),
        Err(crate::error::ApiError::Invalid(errors)) => {
            let lines: Vec<String> =
                errors.errors.iter().map(|e| format!("{}：{}", e.field, ctx.t(&e.message_zh, &e.message_en))).collect();
            ctx.refused(StatusCode::UNPROCESSABLE_ENTITY, &lines.join("；"), &back)
        }
        Err(err) => ctx.error_page(err),
    }
}

fn gap_colour(gap: Gap) -> &'static str {
    match gap {
        Gap::Strong => "#2e7d4f",
        Gap::Weak => "#e0a030",
        Gap::Missing => "#b3261e",
    }
}

fn gap_label(ctx: &PageCtx, gap: Gap) -> &'static str {
    ctx.t(gap.label_zh(), gap.label_en())
}

fn region_of(params: &ChainPageParams) -> String {
    params.region.as_deref().map(str::trim).filter(|r| !r.is_empty()).unwrap_or(PROVINCES[0]).to_string()
}

/// `GET /chains`.
pub async fn index(ctx: PageCtx, State(state): State<AppState>) -> Response {
    let actor = ctx.caller.actor();
    let loaded = state
        .read_work(move |app| {
            let regions = app.chain_regions(None)?;
            Ok(app.chain_views(&actor, &app.chains()?, &regions, GapRules::default())?)
        })
        .await;
    let views = match loaded {
        Ok(views) => views,
        Err(err) => return ctx.error_page(err),
    };
    let mut body = format!(
        r#"<h1>{}</h1><p class="lead">{}</p><table class="data-table" id="chains"><thead><tr><th>{}</th>"#,
        ctx.t("重点产业链", "Priority industry chains"),
        ctx.t(
            "五大重点产业的产业链环节，按北京、天津、河北统计供给与需求，标出强链、补链、建链环节。",
            "The segments of the five priority sectors' chains, with supply and demand in Beijing, Tianjin and Hebei, and which links are strong, weak or missing.",
        ),
        ctx.t("产业链", "Chain"),
    );
    let first = views.first().map(|v| v.regions.clone()).unwrap_or_default();
    for region in &first {
        let name = views[0].segments.first().and_then(|s| s.cells.iter().find(|c| &c.region == region));
        let _ = write!(body, "<th>{}</th>", esc(name.map_or(region.as_str(), |c| c.region_name.as_str())));
    }
    body.push_str("</tr></thead><tbody>");
    for view in &views {
        let _ = write!(
            body,
            r#"<tr><td><a href="/chains/{id}">{name}</a></td>"#,
            id = encode_component(&view.id),
            name = esc(ctx.t(&view.name_zh, &view.name_en)),
        );
        for slot in 0..view.regions.len() {
            let count = |gap: Gap| view.segments.iter().filter(|s| s.cells[slot].label.gap == gap).count();
            let _ = write!(
                body,
                "<td>{} {} · {} {} · {} {}</td>",
                gap_label(&ctx, Gap::Strong),
                count(Gap::Strong),
                gap_label(&ctx, Gap::Weak),
                count(Gap::Weak),
                gap_label(&ctx, Gap::Missing),
                count(Gap::Missing)
            );
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table>");
    let _ = write!(body, r#"<p><a href="/enclaves">{}</a></p>"#, ctx.t("飞地流向 →", "Enclave flows →"));
    ctx.render(StatusCode::OK, ctx.t("重点产业链", "Industry chains"), &body)
}

/// The chain map: one column per stage, one box per segment coloured by `slot`'s label.
fn chain_svg(ctx: &PageCtx, view: &ChainView, slot: usize) -> String {
    const COLUMN_WIDTH: usize = 300;
    const BOX_HEIGHT: usize = 86;
    const GAP: usize = 14;
    let columns: Vec<Vec<&SegmentView>> =
        Stage::ALL.iter().map(|stage| view.segments.iter().filter(|s| s.segment.stage == *stage).collect()).collect();
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    let height = 40 + rows * (BOX_HEIGHT + GAP);
    let width = COLUMN_WIDTH * 3 + 20;
    let mut svg = format!(
        r#"<svg class="chain-map" id="chain-map" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">"#,
        label = esc(ctx.t("产业链图谱", "Chain map")),
    );
    for (index, stage) in Stage::ALL.iter().enumerate() {
        let x = 10 + index * COLUMN_WIDTH;
        let _ = write!(
            svg,
            r##"<text x="{tx}" y="24" font-size="16" font-weight="bold" fill="#1d2733">{name}</text>"##,
            tx = x + 8,
            name = esc(ctx.t(stage.label_zh(), stage.label_en())),
        );
        if index < 2 {
            let _ = write!(
                svg,
                r##"<text x="{ax}" y="24" font-size="16" fill="#5b6776">→</text>"##,
                ax = x + COLUMN_WIDTH - 26
            );
        }
        for (row, segment) in columns[index].iter().enumerate() {
            let y = 40 + row * (BOX_HEIGHT + GAP);
            let cell = &segment.cells[slot];
            let colour = gap_colour(cell.label.gap);
            let counts: Vec<String> = segment
                .cells
                .iter()
                .map(|c| format!("{} {}/{}", short_name(&c.region_name), c.supply, c.demand))
                .collect();
            let _ = write!(
                svg,
                r##"<g class="segment" data-segment="{id}" data-gap="{gap}"><title>{reason}</title><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{colour}" fill-opacity="0.15" stroke="{colour}" stroke-width="2"/><text x="{tx}" y="{ty1}" font-size="14" font-weight="bold" fill="#1d2733">{name}</text><text x="{tx}" y="{ty2}" font-size="12" fill="{colour}">{label}</text><text x="{tx}" y="{ty3}" font-size="11" fill="#5b6776">{counts}</text></g>"##,
                id = esc(&segment.segment.id),
                gap = cell.label.gap.as_str(),
                reason = esc(ctx.t(&cell.label.reason_zh, &cell.label.reason_en)),
                w = COLUMN_WIDTH - 40,
                h = BOX_HEIGHT,
                tx = x + 10,
                ty1 = y + 22,
                ty2 = y + 44,
                ty3 = y + 68,
                name = esc(ctx.t(&segment.segment.name_zh, &segment.segment.name_en)),
                label = esc(gap_label(ctx, cell.label.gap)),
                counts = esc(&counts.join("  ")),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn short_name(name: &str) -> String {
    name.trim_end_matches('市').trim_end_matches('省').chars().take(4).collect()
}

/// `GET /chains/{id}`.
pub async fn page(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<ChainPageParams>,
) -> Response {
    let actor = ctx.caller.actor();
    let region = region_of(&params);
    let district = region.clone();
    let is_admin = actor.viewer.is_admin();
    let loaded = state
        .read_work(move |app| {
            let view = app.chain_view(&actor, &id, Some(&district), GapRules::default())?;
            let record = if is_admin { Some(app.chain(&id)?) } else { None };
            Ok((view, record))
        })
        .await;
    let (view, record) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return ctx.error_page(err),
    };
    let slot = view.regions.iter().position(|r| r == &region).unwrap_or(0);
    let region_name = view.segments.first().map(|s| s.cells[slot].region_name.clone()).unwrap_or_default();
    let mut body = format!(
        r#"<h1>{name}{suffix}</h1><p class="lead">{lead}</p><p>"#,
        name = esc(ctx.t(&view.name_zh, &view.name_en)),
        suffix = ctx.t("产业链", " chain"),
        lead = esc(&format!("{}{}", ctx.t("按地区着色：", "Coloured by: "), region_name)),
    );
    if params.saved.as_deref() == Some("1") {
        let notice = format!(
            r#"<p class="notice ok" role="status" id="chain-saved">{}{})</p>"#,
            ctx.t("已保存（版本 ", "Saved (version "),
            view.version
        );
        body.insert_str(0, &notice);
    }
    for code in PROVINCES {
        let name = view.segments.first().and_then(|s| s.cells.iter().find(|c| c.region == code));
        let current = if code == region { r#" aria-current="page""# } else { "" };
        let _ = write!(
            body,
            r#"<a href="/chains/{id}?region={code}"{current}>{name}</a> · "#,
            id = encode_component(&view.id),
            name = esc(name.map_or(code, |c| c.region_name.as_str())),
        );
    }
    let _ = write!(
        body,
        r#"<span class="hint">{}</span></p><form method="get" action="/chains/{}" class="inline-form"><label>{} <input name="region" value="{}" size="8"></label> <button type="submit">{}</button></form>"#,
        ctx.t("格内数字：供给/需求", "Figures: supply/demand"),
        encode_component(&view.id),
        ctx.t("区县代码", "District code"),
        esc(&region),
        ctx.t("查看", "Show"),
    );
    let _ = write!(body, r#"<div class="panel">{}</div>"#, chain_svg(&ctx, &view, slot));
    let _ = write!(
        body,
        r#"<h2 id="gap-report">{h}{region}</h2><p class="hint">{rules}</p><table class="data-table" id="gap-table"><thead><tr><th>{stage}</th><th>{segment}</th><th>{supply}</th><th>{demand}</th><th>{status}</th><th>{reason}</th><th>{attract}</th></tr></thead><tbody>"#,
        h = ctx.t("缺链报告：", "Gap report: "),
        region = esc(&region_name),
        rules = esc(&format!(
            "{} {}，{} {}",
            ctx.t("规则：无本地供给为建链；供给不少于", "Rules: no local supply is missing; supply at least"),
            view.rules.strong_min_supply,
            ctx.t("且不少于需求的倍数", "and at least this multiple of demand for strong:"),
            view.rules.strong_supply_per_demand
        )),
        stage = ctx.t("阶段", "Stage"),
        segment = ctx.t("环节", "Segment"),
        supply = ctx.t("供给", "Supply"),
        demand = ctx.t("需求", "Demand"),
        status = ctx.t("状态", "Status"),
        reason = ctx.t("依据", "Reason"),
        attract = ctx.t("联合招商", "Attraction"),
    );
    for segment in &view.segments {
        let cell = &segment.cells[slot];
        let attract = if cell.label.gap == Gap::Strong {
            String::new()
        } else {
            format!(
                r#"<a href="/chains/{id}/attraction?segment={segment}&amp;region={region}">{text}</a>"#,
                id = encode_component(&view.id),
                segment = encode_component(&segment.segment.id),
                region = encode_component(&region),
                text = ctx.t("招商清单", "Candidates"),
            )
        };
        let _ = write!(
            body,
            r#"<tr data-gap="{gap}"><td>{stage}</td><td>{name}<br><span class="hint">{codes}</span></td><td>{supply}</td><td>{demand}</td><td><strong style="color:{colour}">{label}</strong></td><td>{reason}</td><td>{attract}</td></tr>"#,
            gap = cell.label.gap.as_str(),
            stage = ctx.t(segment.segment.stage.label_zh(), segment.segment.stage.label_en()),
            name = esc(ctx.t(&segment.segment.name_zh, &segment.segment.name_en)),
            codes = esc(&segment.segment.industry_codes.join(" ")),
            supply = cell.supply,
            demand = cell.demand,
            colour = gap_colour(cell.label.gap),
            label = gap_label(&ctx, cell.label.gap),
            reason = esc(ctx.t(&cell.label.reason_zh, &cell.label.reason_en)),
        );
    }
    body.push_str("</tbody></table>");
    let _ = write!(body, r#"<h2>{}</h2><ul>"#, ctx.t("数据来源", "Sources"));
    for source in &view.sources {
        let _ = write!(body, "<li>{}</li>", esc(source));
    }
    body.push_str("</ul>");
    if let Some(record) = record {
        let json = serde_json::to_string_pretty(&record.chain).unwrap_or_default();
        let _ = write!(
            body,
            r#"<details class="panel" id="chain-edit"><summary>{summary}</summary><form method="post" action="/chains/{id}">{csrf}<input type="hidden" name="version" value="{version}"><p class="hint">{hint}</p><textarea name="chain" rows="24" cols="100" spellcheck="false">{json}</textarea><p><button type="submit">{save}</button></p></form></details>"#,
            summary = ctx.t("编辑产业链（管理员）", "Edit the chain (admin)"),
            id = encode_component(&record.chain.id),
            csrf = ctx.csrf_input(),
            version = record.version,
            hint = ctx.t(
                "环节、行业代码（GB/T 4754）、关键产品与技术，以及明确归入各环节的资源编号（listings）。",
                "Segments, GB/T 4754 codes, key products and technologies, and the listings placed on each segment explicitly.",
            ),
            json = esc(&json),
            save = ctx.t("保存", "Save"),
        );
    }
    ctx.render(StatusCode::OK, ctx.t(&view.name_zh, &view.name_en), &body)
}

/// `GET /chains/{id}/attraction?segment=…&region=…`.
pub async fn attraction(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<ChainPageParams>,
) -> Response {
    let actor = ctx.caller.actor();
    let region = region_of(&params);
    let Some(segment) = params.segment.clone() else {
        return ctx.refused(StatusCode::BAD_REQUEST, ctx.t("请选择环节。", "Choose a segment."), "/chains");
    };
    let (chain_id, segment_id, target) = (id.clone(), segment.clone(), region.clone());
    let loaded = state
        .read_work(move |app| Ok(app.attraction(&actor, &chain_id, &segment_id, &target, GapRules::default(), 50)?))
        .await;
    let list = match loaded {
        Ok(list) => list,
        Err(err) => return ctx.error_page(err),
    };
    let api = format!(
        "/api/v1/chains/{}/segments/{}/attraction?region={}",
        encode_component(&id),
        encode_component(&segment),
        encode_component(&region)
    );
    let mut body = format!(
        r#"<h1>{h}</h1><p class="lead">{what}</p><p><a href="{api}&amp;format=xlsx" id="attraction-xlsx">{xlsx}</a> · <a href="{api}&amp;format=csv">CSV</a> · <a href="/chains/{chain}?region={region}">{back}</a></p>"#,
        h = esc(&format!(
            "{}{} → {}",
            ctx.t("联合招商：", "Joint attraction: "),
            list.segment_name_zh,
            list.region_name
        )),
        what = esc(&format!(
            "{}{}（{}）",
            ctx.t("本地状态：", "Local status: "),
            gap_label(&ctx, list.label.gap),
            ctx.t(&list.label.reason_zh, &list.label.reason_en)
        )),
        api = esc(&api),
        xlsx = ctx.t("下载招商清单（Excel）", "Download (Excel)"),
        chain = encode_component(&id),
        region = encode_component(&region),
        back = ctx.t("返回产业链", "Back to the chain"),
    );
    if list.candidates.is_empty() {
        let _ = write!(
            body,
            r#"<p class="empty">{}</p>"#,
            ctx.t(
                "区域内暂无该环节的强链企业可招引。",
                "No enterprise strong in this segment elsewhere in the region yet."
            )
        );
    } else {
        body.push_str(r#"<ol id="attraction-list">"#);
        for candidate in &list.candidates {
            let reasons = if ctx.lang == super::Lang::En { &candidate.reasons_en } else { &candidate.reasons_zh };
            let _ = write!(
                body,
                r#"<li><a href="/listings/{id}">{title}</a> <span class="badge">{kind}</span> <span class="hint">{score_label}{score}</span><ul>{reasons}</ul></li>"#,
                id = candidate.id,
                title = esc(&candidate.title),
                kind = ctx.t(candidate.kind.label_zh(), candidate.kind.label_en()),
                score_label = ctx.t("得分 ", "score "),
                score = candidate.score,
                reasons = reasons.iter().map(|r| format!("<li>{}</li>", esc(r))).collect::<String>(),
            );
        }
        body.push_str("</ol>");
    }
    ctx.render(StatusCode::OK, ctx.t("联合招商", "Joint attraction"), &body)
}

/// `GET /enclaves`: the enclave flow view.
pub async fn enclaves(ctx: PageCtx, State(state): State<AppState>) -> Response {
    let actor = ctx.caller.actor();
    let stats = match state.read_work(move |app| Ok(app.enclave_stats(&actor)?)).await {
        Ok(stats) => stats,
        Err(err) => return ctx.error_page(err),
    };
    let mut body = format!(
        r#"<h1>{}</h1><p class="lead">{}</p>"#,
        ctx.t("飞地流向", "Enclave flows"),
        ctx.t(
            "北京研发、津冀制造与应用：由多地布局企业推算的飞地关系，以及已登记的科创飞地、制造飞地、场景应用飞地。",
            "Research in Beijing, making and applying in Tianjin and Hebei: enclave pairs derived from multi-site enterprises, and the recorded science, manufacturing and scenario enclaves.",
        ),
    );
    let _ = write!(
        body,
        r#"<div class="panel" id="fengtai-figures"><p>{a}<strong>{fa}</strong></p><p>{b}<strong>{fb}</strong>{c}<strong>{fc}</strong></p></div>"#,
        a = ctx.t(
            "丰台总部在津冀设研发或制造分支的企业：",
            "Fengtai-headquartered firms with R&D or plants in Tianjin/Hebei: "
        ),
        fa = stats.fengtai.fengtai_firms_with_jinji_branches,
        b = ctx.t("津冀总部在丰台设点的企业：", "Tianjin/Hebei firms with sites in Fengtai: "),
        fb = stats.fengtai.jinji_firms_with_fengtai_sites,
        c = ctx.t("，站点数：", ", sites: "),
        fc = stats.fengtai.fengtai_sites_of_jinji_firms,
    );
    let max = stats.flows.iter().map(|f| f.enterprises).max().unwrap_or(1).max(1);
    let _ = write!(
        body,
        r#"<table class="data-table" id="enclave-flows"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>"#,
        ctx.t("类型", "Kind"),
        ctx.t("产业", "Sector"),
        ctx.t("派出地 → 承接地", "Home → host"),
        ctx.t("企业数", "Enterprises"),
        ctx.t("其中已登记飞地", "In recorded enclaves"),
    );
    for flow in &stats.flows {
        let width = (flow.enterprises * 200 / max).max(1);
        let _ = write!(
            body,
            r##"<tr data-kind="{kind}"><td>{kind_label}</td><td>{sector}</td><td>{home} → {host}</td><td><svg width="210" height="14" aria-hidden="true"><rect width="{width}" height="12" fill="#175a9c"/></svg> {count}</td><td>{recorded}</td></tr>"##,
            kind = flow.kind.as_str(),
            kind_label = ctx.t(flow.kind.label_zh(), flow.kind.label_en()),
            sector = esc(&flow.sector_name_zh),
            home = esc(&flow.home_name),
            host = esc(&flow.host_name),
            count = flow.enterprises,
            recorded = flow.in_recorded_enclaves,
        );
    }
    body.push_str("</tbody></table>");
    let _ = write!(body, r#"<h2>{}</h2><ul id="recorded-enclaves">"#, ctx.t("已登记飞地", "Recorded enclaves"));
    for enclave in &stats.recorded {
        let _ = write!(
            body,
            "<li>{} · {} · {} → {} · {}</li>",
            ctx.t(enclave.body.kind.label_zh(), enclave.body.kind.label_en()),
            esc(&enclave.body.name),
            esc(&enclave.body.home_region),
            esc(&enclave.body.host_region),
            esc(&enclave.body.host_park),
        );
    }
    if stats.recorded.is_empty() {
        let _ = write!(body, "<li>{}</li>", ctx.t("暂无", "None yet"));
    }
    body.push_str("</ul>");
    let totals: Vec<String> = EnclaveKind::ALL
        .iter()
        .map(|k| format!("{} {}", ctx.t(k.label_zh(), k.label_en()), stats.totals.get(k).copied().unwrap_or(0)))
        .collect();
    let _ = write!(body, r#"<p class="hint" id="enclave-totals">{}</p>"#, esc(&totals.join(" · ")));
    ctx.render(StatusCode::OK, ctx.t("飞地流向", "Enclave flows"), &body)
}
