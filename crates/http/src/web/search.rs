//! The search page (检索): a GET form whose filters stay in the URL, facet links, highlighted
//! snippets, pagination and an empty state with suggestions.

use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use xietong_app::types::{FacetCount, SearchResults};
use xietong_domain::Kind;

use super::{PageCtx, encode_query, esc, labels};
use crate::error::ApiError;
use crate::params::{SearchParams, to_query};
use crate::state::AppState;

/// Results per page.
const PAGE_SIZE: u64 = 20;

/// Query of `GET /search`. Every value is text, because an empty form field arrives as "".
#[derive(Debug, Default, Deserialize)]
pub struct WebSearchParams {
    pub q: Option<String>,
    pub kind: Option<String>,
    pub region: Option<String>,
    pub industry: Option<String>,
    pub trl_min: Option<String>,
    pub trl_max: Option<String>,
    pub page: Option<String>,
}

impl WebSearchParams {
    /// The non-empty filters as query pairs, page excluded.
    fn pairs(&self) -> Vec<(String, String)> {
        let fields = [
            ("q", &self.q),
            ("kind", &self.kind),
            ("region", &self.region),
            ("industry", &self.industry),
            ("trl_min", &self.trl_min),
            ("trl_max", &self.trl_max),
        ];
        fields
            .into_iter()
            .filter_map(|(k, v)| {
                v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(|v| (k.to_string(), v.to_string()))
            })
            .collect()
    }

    fn value<'a>(&'a self, field: &str) -> &'a str {
        let value = match field {
            "q" => &self.q,
            "kind" => &self.kind,
            "region" => &self.region,
            "industry" => &self.industry,
            "trl_min" => &self.trl_min,
            "trl_max" => &self.trl_max,
            _ => &None,
        };
        value.as_deref().map(str::trim).unwrap_or("")
    }

    fn page(&self) -> u64 {
        self.page.as_deref().and_then(|p| p.trim().parse::<u64>().ok()).filter(|p| *p >= 1).unwrap_or(1)
    }

    /// Address of the search with one filter replaced (or removed when `value` is empty).
    fn href_with(&self, field: &str, value: &str) -> String {
        let mut pairs: Vec<(String, String)> = self.pairs().into_iter().filter(|(k, _)| k != field).collect();
        if !value.is_empty() {
            pairs.push((field.to_string(), value.to_string()));
        }
        format!("/search?{}", encode_query(&pairs))
    }

    /// Address of the search narrowed to exactly one TRL level (or widened again when chosen).
    fn href_trl(&self, level: &str) -> String {
        let exact = self.value("trl_min") == level && self.value("trl_max") == level;
        let mut pairs: Vec<(String, String)> =
            self.pairs().into_iter().filter(|(k, _)| k != "trl_min" && k != "trl_max").collect();
        if !exact {
            pairs.push(("trl_min".to_string(), level.to_string()));
            pairs.push(("trl_max".to_string(), level.to_string()));
        }
        format!("/search?{}", encode_query(&pairs))
    }

    fn href_page(&self, page: u64) -> String {
        let mut pairs = self.pairs();
        if page > 1 {
            pairs.push(("page".to_string(), page.to_string()));
        }
        format!("/search?{}", encode_query(&pairs))
    }

    fn to_api(&self) -> Result<SearchParams, ApiError> {
        let level = |field: &str| -> Result<Option<u8>, ApiError> {
            let text = self.value(field);
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<u8>()
                .map(Some)
                .map_err(|_| ApiError::bad_param(field, format!("{field} must be a number from 1 to 9")))
        };
        let text = |field: &str| Some(self.value(field).to_string()).filter(|v| !v.is_empty());
        Ok(SearchParams {
            q: text("q"),
            kind: text("kind"),
            region: text("region"),
            industry: text("industry"),
            trl_min: level("trl_min")?,
            trl_max: level("trl_max")?,
            limit: Some(PAGE_SIZE as u32),
            offset: Some((self.page() - 1).saturating_mul(PAGE_SIZE)),
            ..SearchParams::default()
        })
    }
}

/// `GET /search`
pub async fn page(ctx: PageCtx, State(state): State<AppState>, Query(params): Query<WebSearchParams>) -> Response {
    let query = match params.to_api().and_then(|api| to_query(&api)) {
        Ok(query) => query,
        Err(err) => {
            let message = match &err {
                ApiError::BadRequest { detail, .. } => detail.clone(),
                other => format!("{other:?}"),
            };
            let body = format!(
                r#"<h1>{h}</h1>{form}<p class="notice error" role="alert">{m}: {d}</p>"#,
                h = ctx.t("检索", "Search"),
                form = search_form(&ctx, &params),
                m = ctx.t("筛选条件无效", "Invalid filter"),
                d = esc(&message),
            );
            return ctx.render(StatusCode::BAD_REQUEST, ctx.t("检索", "Search"), &body);
        }
    };
    let actor = ctx.caller.actor();
    match state.read_work(move |app| Ok(app.search(&actor, query)?)).await {
        Ok(results) => {
            let title = match params.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                Some(q) => format!("{} · {}", q, ctx.t("检索", "Search")),
                None => ctx.t("检索", "Search").to_string(),
            };
            ctx.render(StatusCode::OK, &title, &render(&ctx, &params, &results))
        }
        Err(err) => ctx.error_page(err),
    }
}

fn option(value: &str, label: &str, selected: &str) -> String {
    let mark = if value == selected { " selected" } else { "" };
    format!(r#"<option value="{}"{mark}>{}</option>"#, esc(value), esc(label))
}

fn search_form(ctx: &PageCtx, params: &WebSearchParams) -> String {
    let lang = ctx.lang;
    let mut kinds = option("", ctx.t("全部类型", "All kinds"), params.value("kind"));
    for kind in Kind::ALL {
        kinds.push_str(&option(kind.as_str(), labels::kind_label(kind, lang), params.value("kind")));
    }
    let mut regions = option("", ctx.t("全部地区", "All regions"), params.value("region"));
    for (group, options) in labels::region_groups(lang) {
        let _ = write!(regions, r#"<optgroup label="{}">"#, esc(group));
        for (code, label) in options {
            regions.push_str(&option(code, label, params.value("region")));
        }
        regions.push_str("</optgroup>");
    }
    let mut industries = option("", ctx.t("全部行业", "All industries"), params.value("industry"));
    for (code, label) in labels::industry_sections(lang) {
        industries.push_str(&option(&code, &label, params.value("industry")));
    }
    let trl_options = |field: &str| {
        let mut out = option("", ctx.t("不限", "Any"), params.value(field));
        for level in 1..=9u8 {
            out.push_str(&option(&level.to_string(), &labels::trl_name(level, lang), params.value(field)));
        }
        out
    };
    format!(
        r#"<form class="search-form" method="get" action="/search" role="search">
<div class="field grow"><label for="q">{lq}</label><input id="q" name="q" type="search" value="{q}" placeholder="{ph}"></div>
<div class="field"><label for="kind">{lk}</label><select id="kind" name="kind" data-autosubmit>{kinds}</select></div>
<div class="field"><label for="region">{lr}</label><select id="region" name="region" data-autosubmit>{regions}</select></div>
<div class="field"><label for="industry">{li}</label><select id="industry" name="industry" data-autosubmit>{industries}</select></div>
<div class="field"><label for="trl_min">{ltmin}</label><select id="trl_min" name="trl_min" data-autosubmit>{tmin}</select></div>
<div class="field"><label for="trl_max">{ltmax}</label><select id="trl_max" name="trl_max" data-autosubmit>{tmax}</select></div>
<div class="field actions"><button type="submit" id="search-submit">{go}</button> <a href="/search">{clear}</a></div>
</form>"#,
        lq = ctx.t("关键词", "Keywords"),
        q = esc(params.value("q")),
        ph = ctx.t("如：机器视觉、无人机、中试基地", "e.g. machine vision, drone, pilot base"),
        lk = ctx.t("资源类型", "Kind"),
        lr = ctx.t("地区", "Region"),
        li = ctx.t("行业门类", "Industry section"),
        ltmin = ctx.t("技术成熟度 不低于", "TRL at least"),
        ltmax = ctx.t("技术成熟度 不高于", "TRL at most"),
        tmin = trl_options("trl_min"),
        tmax = trl_options("trl_max"),
        go = ctx.t("检索", "Search"),
        clear = ctx.t("清除条件", "Clear filters"),
    )
}

fn facet_block(
    ctx: &PageCtx,
    params: &WebSearchParams,
    title: &str,
    field: &str,
    facets: &[FacetCount],
    label: impl Fn(&FacetCount) -> String,
) -> String {
    if facets.is_empty() {
        return String::new();
    }
    let current = if field == "trl" {
        if params.value("trl_min") == params.value("trl_max") { params.value("trl_min") } else { "" }
    } else {
        params.value(field)
    };
    let mut html = format!(r#"<section class="facet" aria-label="{t}"><h3>{t}</h3><ul>"#, t = esc(title));
    for facet in facets.iter().take(16) {
        let selected = facet.value == current;
        let href = match (field, selected) {
            ("trl", _) => params.href_trl(&facet.value),
            (_, true) => params.href_with(field, ""),
            (_, false) => params.href_with(field, &facet.value),
        };
        let _ = write!(
            html,
            r#"<li><a href="{href}"{cur} data-facet="{field}" data-value="{v}">{label}</a> <span class="count">{count}</span></li>"#,
            href = esc(&href),
            cur = if selected { r#" aria-current="true" class="selected""# } else { "" },
            v = esc(&facet.value),
            label = esc(&label(facet)),
            count = facet.count,
        );
    }
    let _ = ctx;
    html.push_str("</ul></section>");
    html
}

fn render(ctx: &PageCtx, params: &WebSearchParams, results: &SearchResults) -> String {
    let lang = ctx.lang;
    let mut html = format!(r#"<h1>{}</h1>{}"#, ctx.t("检索", "Search"), search_form(ctx, params));
    let page = params.page();
    let pages = results.total.div_ceil(PAGE_SIZE).max(1);
    let _ = write!(
        html,
        r#"<p class="result-count" role="status">{pre}<strong id="result-total" data-total="{n}">{n}</strong>{post}</p>"#,
        pre = ctx.t("共找到 ", "Found "),
        n = results.total,
        post = ctx.t(" 条资源", " listings"),
    );
    html.push_str(&export_links(ctx, params, results.total));
    html.push_str(r#"<div class="search-layout"><aside class="facets" aria-label=""#);
    html.push_str(ctx.t("分面筛选", "Facets"));
    html.push_str(r#"">"#);
    let facets = &results.facets;
    html.push_str(&facet_block(ctx, params, ctx.t("类型", "Kind"), "kind", &facets.kind, |f| {
        f.value.parse::<Kind>().map(|k| labels::kind_label(k, lang).to_string()).unwrap_or_else(|_| f.label.clone())
    }));
    html.push_str(&facet_block(
        ctx,
        params,
        ctx.t("省级地区", "Province"),
        "region",
        &facets.region_province,
        |f| labels::region_short(&f.value, lang),
    ));
    html.push_str(&facet_block(
        ctx,
        params,
        ctx.t("地市 / 区", "Prefecture / district"),
        "region",
        &facets.region_prefecture,
        |f| labels::region_short(&f.value, lang),
    ));
    html.push_str(&facet_block(
        ctx,
        params,
        ctx.t("行业门类", "Industry section"),
        "industry",
        &facets.industry_section,
        |f| labels::industry_name(&f.value, lang),
    ));
    html.push_str(&facet_block(ctx, params, ctx.t("技术成熟度", "TRL"), "trl", &facets.trl, |f| {
        format!("TRL {}", f.value)
    }));
    html.push_str(r#"</aside><div class="results">"#);
    if results.hits.is_empty() {
        let q = params.value("q");
        let _ = write!(
            html,
            r#"<div class="empty" id="empty-state"><h2>{h}</h2><p>{p}</p><ul><li>{s1}</li><li>{s2}</li><li>{s3}</li></ul><p><a href="/search">{all}</a> · <a href="/listings/new?kind=demand">{publish}</a></p></div>"#,
            h = if q.is_empty() {
                ctx.t("没有找到符合条件的资源", "No listings match these filters").to_string()
            } else {
                format!("{}“{}”{}", ctx.t("没有找到与", "Nothing found for "), esc(q), ctx.t("相关的资源", ""))
            },
            p = ctx.t("可以试试：", "Suggestions:"),
            s1 = ctx.t(
                "换用更短或更通用的关键词，如“视觉”“传感器”",
                "use shorter or more general words, e.g. “vision”, “sensor”"
            ),
            s2 = ctx.t("减少筛选条件（地区、行业、技术成熟度）", "remove a filter (region, industry, TRL)"),
            s3 = ctx.t("检查错别字，或用中文检索", "check the spelling, or search in Chinese"),
            all = ctx.t("浏览全部资源", "Browse all listings"),
            publish = ctx.t("发布一条需求", "Publish a demand"),
        );
    } else {
        html.push_str(r#"<ol class="hits" id="hits">"#);
        for hit in &results.hits {
            let body = &hit.listing.body;
            let regions: Vec<String> = body.region_codes.iter().map(|c| labels::region_name(c, lang)).collect();
            let mut meta = vec![esc(&regions.join("、"))];
            if let Some(trl) = body.trl() {
                meta.push(esc(&labels::trl_name(trl, lang)));
            }
            if let Some(org) = &body.owner_org {
                meta.push(esc(org));
            }
            // title_html and summary_html come escaped from the index, with only <mark> added.
            let _ = write!(
                html,
                r#"<li class="hit" data-kind="{k}" data-regions="{rc}"><span class="badge kind-{k}">{kl}</span> <h2 class="hit-title"><a href="/listings/{id}">{title}</a></h2><p class="snippet">{summary}</p><p class="meta">{meta}</p></li>"#,
                k = hit.kind.as_str(),
                rc = esc(&body.region_codes.join(" ")),
                kl = labels::kind_label(hit.kind, lang),
                id = hit.id,
                title = hit.title_html,
                summary = hit.summary_html,
                meta = meta.join(" · "),
            );
        }
        html.push_str("</ol>");
        html.push_str(&pagination(ctx, params, page, pages));
    }
    html.push_str("</div></div>");
    html
}

fn pagination(ctx: &PageCtx, params: &WebSearchParams, page: u64, pages: u64) -> String {
    if pages <= 1 {
        return String::new();
    }
    let mut html = format!(r#"<nav class="pagination" aria-label="{}"><ul>"#, ctx.t("分页", "Pages"));
    if page > 1 {
        let _ = write!(
            html,
            r#"<li><a rel="prev" href="{}">‹ {}</a></li>"#,
            esc(&params.href_page(page - 1)),
            ctx.t("上一页", "Previous")
        );
    }
    let mut shown: Vec<u64> = vec![1, pages];
    shown.extend(page.saturating_sub(2).max(1)..=(page + 2).min(pages));
    shown.sort();
    shown.dedup();
    let mut previous = 0;
    for number in shown {
        if number > previous + 1 {
            html.push_str(r#"<li class="gap" aria-hidden="true">…</li>"#);
        }
        if number == page {
            let _ = write!(
                html,
                r#"<li><a aria-current="page" class="current" href="{}">{number}</a></li>"#,
                esc(&params.href_page(number))
            );
        } else {
            let _ = write!(html, r#"<li><a href="{}">{number}</a></li>"#, esc(&params.href_page(number)));
        }
        previous = number;
    }
    if page < pages {
        let _ = write!(
            html,
            r#"<li><a rel="next" href="{}">{} ›</a></li>"#,
            esc(&params.href_page(page + 1)),
            ctx.t("下一页", "Next")
        );
    }
    html.push_str("</ul></nav>");
    html
}

/// Links exporting this search result; an export needs one kind, so without one the user is told
/// to pick it.
fn export_links(ctx: &PageCtx, params: &WebSearchParams, total: u64) -> String {
    if total == 0 {
        return String::new();
    }
    let kind = params.value("kind");
    if kind.is_empty() {
        return format!(
            r#"<p class="export-links">{}</p>"#,
            ctx.t(
                "选择一种资源类型后可导出结果为 CSV / Excel。",
                "Pick one kind to export the results to CSV / Excel."
            )
        );
    };
    let mut pairs: Vec<(String, String)> = params.pairs().into_iter().filter(|(k, _)| k != "page").collect();
    pairs.retain(|(k, _)| k != "kind");
    pairs.push(("kind".to_string(), kind.to_string()));
    let link = |format: &str| {
        let mut with_format = pairs.clone();
        with_format.push(("format".to_string(), format.to_string()));
        format!("/api/v1/exports?{}", encode_query(&with_format))
    };
    format!(
        r#"<p class="export-links">{label} <a id="export-csv" href="{csv}">CSV</a> · <a id="export-xlsx" href="{xlsx}">Excel</a></p>"#,
        label = ctx.t("导出结果：", "Export results:"),
        csv = esc(&link("csv")),
        xlsx = esc(&link("xlsx")),
    )
}
