//! The listing page: every field of the kind, readably, and a "best matches" (推荐对接) panel per
//! complementary kind with score parts, reasons and mismatches.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use xietong_domain::{Details, Kind, Listing, ListingId};
use xietong_search::{MatchHit, complementary_kinds};

use super::{Lang, PageCtx, esc, fmt_num, labels};
use crate::state::AppState;

/// Matches shown per complementary kind.
const MATCHES_PER_KIND: usize = 5;

/// `GET /listings/{id}`
pub async fn page(ctx: PageCtx, State(state): State<AppState>, Path(raw_id): Path<String>) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else {
        return ctx.not_found(&format!("{}{raw_id}", ctx.t("没有这条资源：", "No such listing: ")));
    };
    let loaded = state
        .blocking(move |app| {
            let listing = app.store.get(id)?;
            let mut panels = Vec::new();
            for kind in complementary_kinds(listing.kind()) {
                panels.push((kind, app.index.match_listing(&listing, Some(kind), MATCHES_PER_KIND)?));
            }
            Ok((listing, panels))
        })
        .await;
    match loaded {
        Ok((listing, panels)) => ctx.render(StatusCode::OK, &listing.body.title, &render(&ctx, &listing, &panels)),
        Err(crate::error::ApiError::NotFound(_)) => {
            ctx.not_found(&format!("{}{id}", ctx.t("没有这条资源：", "No such listing: ")))
        }
        Err(err) => ctx.error_page(err),
    }
}

struct Rows<'a> {
    html: String,
    lang: Lang,
    _marker: std::marker::PhantomData<&'a ()>,
}

impl Rows<'_> {
    fn text(&mut self, zh: &str, en: &str, value: &str) {
        if value.trim().is_empty() {
            return;
        }
        let _ = write!(self.html, "<div><dt>{}</dt><dd>{}</dd></div>", self.lang.t(zh, en), esc(value));
    }

    fn opt(&mut self, zh: &str, en: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.text(zh, en, value);
        }
    }

    fn list(&mut self, zh: &str, en: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let items: String = values.iter().map(|v| format!(r#"<li>{}</li>"#, esc(v))).collect();
        let _ =
            write!(self.html, r#"<div><dt>{}</dt><dd><ul class="tags">{items}</ul></dd></div>"#, self.lang.t(zh, en));
    }

    fn amount(&mut self, zh: &str, en: &str, value: Option<f64>, unit_zh: &str, unit_en: &str) {
        if let Some(value) = value {
            self.text(zh, en, &format!("{} {}", fmt_num(value), self.lang.t(unit_zh, unit_en)));
        }
    }
}

fn render(ctx: &PageCtx, listing: &Listing, panels: &[(Kind, Vec<MatchHit>)]) -> String {
    let lang = ctx.lang;
    let body = &listing.body;
    let kind = listing.kind();
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<nav class="breadcrumb" aria-label="{bc}"><a href="/">{home}</a> › <a href="/search?kind={k}">{kl}</a></nav>
<article class="listing" data-kind="{k}"><header class="listing-head"><span class="badge kind-{k}">{kl}</span><h1>{title}</h1><p class="summary">{summary}</p><p class="actions"><a class="button secondary" href="/listings/{id}/edit">{edit}</a></p></header>"#,
        bc = ctx.t("位置", "Breadcrumb"),
        home = ctx.t("总览", "Dashboard"),
        k = kind.as_str(),
        kl = labels::kind_label(kind, lang),
        title = esc(&body.title),
        summary = esc(&body.summary),
        id = listing.id,
        edit = ctx.t("编辑", "Edit"),
    );
    let mut rows = Rows { html: String::new(), lang, _marker: std::marker::PhantomData };
    let regions: Vec<String> = body.region_codes.iter().map(|c| labels::region_name(c, lang)).collect();
    rows.list("所在地区", "Regions", &regions);
    let industries: Vec<String> = body.industry_codes.iter().map(|c| labels::industry_name(c, lang)).collect();
    rows.list("行业", "Industries", &industries);
    rows.list("学科", "Disciplines", &body.disciplines);
    rows.list("关键词", "Keywords", &body.keywords);
    rows.opt("所属机构", "Organisation", body.owner_org.as_deref());
    match &body.details {
        Details::Talent(t) => {
            rows.list("专长", "Expertise", &t.expertise);
            rows.opt("职称", "Rank", t.rank.as_deref());
            rows.opt("工作单位", "Employer", t.employer.as_deref());
            let availability: Vec<String> =
                t.availability.iter().map(|a| labels::availability_label(*a, lang).to_string()).collect();
            rows.list("合作方式", "Availability", &availability);
            let willing: Vec<String> = t.willing_regions.iter().map(|c| labels::region_name(c, lang)).collect();
            rows.list("意向工作地区", "Willing to work in", &willing);
        }
        Details::Achievement(a) => {
            if let Some(trl) = a.trl {
                rows.text("技术成熟度", "Technology readiness", &labels::trl_name(trl, lang));
            }
            if let Some(ip) = &a.ip_type {
                rows.text(
                    "知识产权类型",
                    "IP type",
                    &labels::table_label(&labels::IP_TYPES, &labels::wire_name(ip), lang),
                );
            }
            rows.list("专利号", "Patent numbers", &a.patent_numbers);
            let modes: Vec<String> = a
                .transfer_modes
                .iter()
                .map(|m| labels::table_label(&labels::TRANSFER_MODES, &labels::wire_name(m), lang))
                .collect();
            rows.list("转化方式", "Transfer modes", &modes);
            match (a.price_min, a.price_max) {
                (Some(min), Some(max)) => rows.text(
                    "意向价格",
                    "Asking price",
                    &format!("{}–{} {}", fmt_num(min), fmt_num(max), lang.t("万元", "×10,000 CNY")),
                ),
                (min, max) => rows.amount("意向价格", "Asking price", min.or(max), "万元", "×10,000 CNY"),
            }
            rows.opt("完成单位", "Institution", a.institution.as_deref());
        }
        Details::Scenario(s) => {
            rows.opt("场景提供方", "Offered by", s.offering_org.as_deref());
            rows.opt("场景地点", "Site", s.site.as_deref());
            rows.list("所需技术", "Wanted technology", &s.wanted_technology);
            let window = match (&s.window_start, &s.window_end) {
                (Some(a), Some(b)) => format!("{a} – {b}"),
                (Some(a), None) => format!("{a} –"),
                (None, Some(b)) => format!("– {b}"),
                (None, None) => String::new(),
            };
            rows.text("开放时间", "Open window", &window);
            rows.amount("预算", "Budget", s.budget, "万元", "×10,000 CNY");
        }
        Details::Facility(f) => {
            rows.text("设施类型", "Facility type", labels::facility_type_label(f.facility_type, lang));
            rows.list("服务能力", "Capabilities", &f.capabilities);
            rows.opt("计量单位", "Capacity unit", f.capacity_unit.as_deref());
            rows.amount("价格", "Price", f.price, "元/单位", "CNY per unit");
            rows.opt("预约规则", "Booking rules", f.booking_rules.as_deref());
            rows.opt("地点", "Site", f.site.as_deref());
        }
        Details::Enterprise(e) => {
            rows.opt("统一社会信用代码", "Unified social credit code", e.uscc.as_deref());
            let sites: Vec<String> = e
                .sites
                .iter()
                .map(|s| {
                    let mut text = format!(
                        "{}（{}）",
                        labels::region_name(&s.region_code, lang),
                        labels::site_role_label(s.role, lang)
                    );
                    if let Some(address) = &s.address {
                        text.push(' ');
                        text.push_str(address);
                    }
                    text
                })
                .collect();
            rows.list("分支机构", "Sites", &sites);
        }
        Details::Demand(d) => {
            rows.opt("待解决问题", "Problem", d.problem.as_deref());
            if let Some(trl) = d.desired_trl {
                rows.text("期望技术成熟度", "Desired readiness", &labels::trl_name(trl, lang));
            }
            rows.amount("预算", "Budget", d.budget, "万元", "×10,000 CNY");
            rows.opt("截止日期", "Deadline", d.deadline.map(|d| d.to_string()).as_deref());
            let preferred: Vec<String> = d.preferred_regions.iter().map(|c| labels::region_name(c, lang)).collect();
            rows.list("优先地区", "Preferred regions", &preferred);
        }
        Details::Challenge(c) => {
            rows.opt("揭榜要求", "Requirements", c.requirements.as_deref());
            rows.amount("奖金 / 经费", "Prize", c.prize, "万元", "×10,000 CNY");
            rows.opt("截止日期", "Deadline", c.deadline.map(|d| d.to_string()).as_deref());
            let criteria: Vec<String> =
                c.criteria.iter().map(|c| format!("{} {}%", c.name, fmt_num(c.weight))).collect();
            rows.list("评价指标", "Criteria", &criteria);
            if let Some(teams) = c.max_teams {
                rows.text("赛马团队数", "Teams in parallel", &teams.to_string());
            }
        }
    }
    if let Some(contact) = &body.contact {
        let parts: Vec<&str> =
            [&contact.name, &contact.phone, &contact.email].into_iter().filter_map(|v| v.as_deref()).collect();
        rows.text("联系方式", "Contact", &parts.join(" · "));
    }
    rows.text("更新时间", "Updated", &listing.updated_at.date().to_string());
    let _ = write!(
        html,
        r#"<section aria-labelledby="fields-h"><h2 id="fields-h">{}</h2><dl class="fields">{}</dl>"#,
        ctx.t("详细信息", "Details"),
        rows.html
    );
    if !body.description.trim().is_empty() {
        let paragraphs: String = body
            .description
            .split('\n')
            .filter(|p| !p.trim().is_empty())
            .map(|p| format!("<p>{}</p>", esc(p)))
            .collect();
        let _ =
            write!(html, r#"<h3>{}</h3><div class="description">{paragraphs}</div>"#, ctx.t("详细介绍", "Description"));
    }
    html.push_str("</section></article>");

    let _ = write!(
        html,
        r#"<section class="matches" id="matches" aria-labelledby="matches-h"><h2 id="matches-h">{}</h2><p class="hint">{}</p>"#,
        ctx.t("推荐对接", "Best matches"),
        ctx.t(
            "按文本、行业、地区、技术成熟度等综合打分；每条推荐附匹配理由与不匹配之处。",
            "Scored on text, industry, region, readiness and more; each match says why and what does not fit."
        ),
    );
    for (target, hits) in panels {
        let _ = write!(
            html,
            r#"<section class="match-panel" data-kind="{k}" aria-labelledby="m-{k}"><h3 id="m-{k}">{label}</h3>"#,
            k = target.as_str(),
            label = labels::kind_label(*target, lang),
        );
        if hits.is_empty() {
            let _ =
                write!(html, r#"<p class="empty-small">{}</p>"#, ctx.t("暂无合适的推荐。", "No suitable matches yet."));
        } else {
            html.push_str(r#"<ol class="match-list">"#);
            for (rank, hit) in hits.iter().enumerate() {
                html.push_str(&render_match(ctx, hit, rank == 0));
            }
            html.push_str("</ol>");
        }
        html.push_str("</section>");
    }
    html.push_str("</section>");
    html
}

fn part_label(name: &str, lang: Lang) -> String {
    let (zh, en) = match name {
        "text" => ("文本", "Text"),
        "industry" => ("行业", "Industry"),
        "region" => ("地区", "Region"),
        "trl" => ("成熟度", "TRL"),
        "availability" => ("合作方式", "Availability"),
        "discipline" | "disciplines" => ("学科", "Discipline"),
        "budget" => ("预算", "Budget"),
        "semantic" | "embedding" => ("语义", "Semantic"),
        "phrase" => ("短语", "Phrase"),
        "freshness" => ("时效", "Freshness"),
        "completeness" => ("信息完整度", "Completeness"),
        _ => (name, name),
    };
    lang.t(zh, en).to_string()
}

/// One match; the score parts of the best one are shown open.
fn render_match(ctx: &PageCtx, hit: &MatchHit, open: bool) -> String {
    let lang = ctx.lang;
    let max_part = hit.score_parts.values().copied().fold(0.0_f64, f64::max).max(1e-9);
    let mut parts = String::new();
    for (name, value) in &hit.score_parts {
        let width = (value.abs() / max_part * 100.0).round().min(100.0);
        let _ = write!(
            parts,
            r#"<tr><th scope="row">{label}</th><td><span class="part-bar{neg}" style="width:{width}%"></span></td><td class="num">{v}</td></tr>"#,
            label = esc(&part_label(name, lang)),
            v = fmt_num(*value),
            neg = if *value < 0.0 { " negative" } else { "" },
        );
    }
    let explain = |items: &[xietong_search::Explanation], class: &str| -> String {
        if items.is_empty() {
            return String::new();
        }
        let lis: String = items
            .iter()
            .map(|e| format!(r#"<li data-code="{}">{}</li>"#, esc(&e.code), esc(lang.t(&e.zh, &e.en))))
            .collect();
        format!(r#"<ul class="{class}">{lis}</ul>"#)
    };
    let region = hit.listing.body.region_codes.first().map(|c| labels::region_short(c, lang)).unwrap_or_default();
    format!(
        r#"<li class="match" data-id="{id}"><div class="match-head"><a href="/listings/{id}">{title}</a> <span class="score" title="{st}">{score}</span></div><p class="meta">{region}</p>{reasons}{mismatches}<details class="score-parts"{open}><summary>{sp}</summary><table><caption class="visually-hidden">{sp}</caption><tbody>{parts}</tbody></table></details></li>"#,
        id = hit.id,
        title = esc(&hit.title),
        st = ctx.t("匹配得分", "Match score"),
        score = format_args!("{:.2}", hit.score),
        region = esc(&region),
        reasons = explain(&hit.reasons, "reasons"),
        mismatches = explain(&hit.mismatches, "mismatches"),
        sp = ctx.t("得分构成", "Score parts"),
        open = if open { " open" } else { "" },
    )
}
