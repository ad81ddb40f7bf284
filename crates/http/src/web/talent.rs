//! Pages of issue 18: the talent service card (京雄人才服务一卡通) on a talent's page and at
//! `/talents/{id}/card` — credentials that verify now with a badge per recognising region, a QR
//! code carrying the verification link, the services the holder can handle in Fengtai and
//! Xiong'an —; `/credentials/verify?id=` (where the QR code leads: the verification result);
//! and `/services`, the cross-region catalogue (跨省通办) by area, searchable.

use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use xietong_app::service_catalog::{AREAS, ServiceQuery};
use xietong_app::types::{TalentCard, Verification};
use xietong_domain::ListingId;

use super::{PageCtx, esc, labels, see_other};
use crate::api::credential::{card_link, qr_svg};
use crate::error::ApiError;
use crate::state::AppState;

/// The card block (inserted in a talent's page).
pub fn render_card(ctx: &PageCtx, card: &TalentCard, headers: &HeaderMap) -> String {
    let link = card_link(card, headers);
    let qr = qr_svg(&link).unwrap_or_default();
    let mut html = format!(
        r#"<section class="talent-card" id="talent-card"><h2>{h}</h2><div class="card-qr" title="{link_e}">{qr}<p class="hint">{scan}</p></div>"#,
        h = ctx.t("京雄人才服务一卡通", "Jing–Xiong talent service card"),
        link_e = esc(&link),
        scan = ctx.t("扫码核验人才评价证书", "Scan to verify the evaluation credential"),
    );
    let _ = write!(html, "<h3>{}</h3>", ctx.t("人才评价证书（互认）", "Evaluation credentials (mutual recognition)"));
    if card.credentials.is_empty() {
        let _ = write!(html, r#"<p class="empty">{}</p>"#, ctx.t("暂无有效的评价证书。", "No valid credential."));
    } else {
        html.push_str(r#"<ul class="credentials">"#);
        for credential in &card.credentials {
            let badges: String = credential
                .recognised_as
                .iter()
                .map(|r| {
                    format!(
                        r#"<span class="badge recognised" data-region="{code}">{region} · {level}</span> "#,
                        code = esc(&r.region),
                        region = esc(&labels::region_name(&r.region, ctx.lang)),
                        level = esc(&r.level),
                    )
                })
                .collect();
            let _ = write!(
                html,
                r#"<li><strong>{level}</strong> · {field} · {issued} {issuer} · {until} {date} <a href="/credentials/verify?id={id_q}">{verify}</a><div class="badges">{badges}</div></li>"#,
                level = esc(&credential.level),
                field = esc(&credential.field),
                issued = ctx.t("颁发：", "issued by"),
                issuer = esc(&labels::region_name(&credential.issuer_region, ctx.lang)),
                until = ctx.t("有效期至", "valid until"),
                date = esc(&credential.valid_until),
                id_q = super::encode_component(&credential.id),
                verify = ctx.t("核验", "Verify"),
            );
        }
        html.push_str("</ul>");
    }
    let _ =
        write!(html, "<h3>{}</h3><ul class=\"card-services\">", ctx.t("可办理的服务", "Services you can handle here"));
    for region in &card.services {
        let names: Vec<String> = region.cross_region.iter().take(6).map(|s| esc(&s.name)).collect();
        let _ = write!(
            html,
            r#"<li><a href="/services?region={code}&amp;cross_region=true">{name}</a>：{total} {items}，{cross}{more}</li>"#,
            code = esc(&region.region),
            name = esc(&labels::region_name(&region.region, ctx.lang)),
            total = region.total,
            items = ctx.t("项", "services"),
            cross = ctx.t("异地可办：", "cross-region: "),
            more = names.join("、"),
        );
    }
    html.push_str("</ul></section>");
    html
}

/// `GET /talents/{id}/card`.
pub async fn card_page(
    ctx: PageCtx,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else {
        return ctx.not_found(&format!("{}{raw_id}", ctx.t("没有这位人才：", "No such talent: ")));
    };
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.talent_card(&actor, id)?)).await {
        Ok(card) => {
            let body = format!(
                r#"<nav class="breadcrumb"><a href="/listings/{id}">← {name}</a></nav>{card}"#,
                name = esc(&card.name),
                card = render_card(&ctx, &card, &headers),
            );
            ctx.render(StatusCode::OK, ctx.t("人才服务一卡通", "Talent service card"), &body)
        }
        Err(err) => ctx.error_page(err),
    }
}

/// Query of the verification page.
#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    pub id: Option<String>,
    pub region: Option<String>,
}

fn reason_text(ctx: &PageCtx, verification: &Verification) -> String {
    let (zh, en) = match verification.reason.as_str() {
        "valid" => ("有效", "Valid"),
        "bad_signature" => ("签名无效（内容被改动或密钥不符）", "Bad signature (changed content or wrong key)"),
        "unknown_issuer" => ("颁发机构未知", "Unknown issuer"),
        "expired" => ("已过期", "Expired"),
        "not_yet_valid" => ("尚未生效", "Not yet valid"),
        "revoked" => ("已撤销", "Revoked"),
        "status_unverifiable" => ("无法核实撤销状态", "Revocation status unverifiable"),
        _ => ("格式错误", "Malformed"),
    };
    ctx.t(zh, en).to_string()
}

/// `GET /credentials/verify?id=…[&region=…]`: the verification of a stored credential.
pub async fn verify_page(ctx: PageCtx, State(state): State<AppState>, Query(query): Query<VerifyQuery>) -> Response {
    let Some(id) = query.id.filter(|id| !id.trim().is_empty()) else {
        return ctx.not_found(ctx.t("请给出证书编号。", "Name a credential."));
    };
    let region = query.region.filter(|r| xietong_domain::Reference::get().region(r).is_some());
    let loaded = state
        .blocking(move |app| {
            let stored = app.credential(&id)?;
            let verification = app.verify_credential(&stored.document, region.as_deref())?;
            Ok((stored, verification))
        })
        .await;
    let (stored, verification) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return ctx.error_page(err),
    };
    let badges: String = verification
        .recognised_as
        .iter()
        .map(|r| {
            format!(
                r#"<span class="badge recognised">{} · {}</span> "#,
                esc(&labels::region_name(&r.region, ctx.lang)),
                esc(&r.level)
            )
        })
        .collect();
    let body = format!(
        r#"<h1>{h}</h1><p class="verification {class}" id="verification" data-reason="{reason}">{text}</p>
<dl class="fields"><div><dt>{l_level}</dt><dd>{level}</dd></div><div><dt>{l_field}</dt><dd>{field}</dd></div><div><dt>{l_issuer}</dt><dd>{issuer}</dd></div><div><dt>{l_talent}</dt><dd><a href="/listings/{talent}">{talent}</a></dd></div><div><dt>{l_recognised}</dt><dd>{badges}</dd></div></dl>
<details><summary>JSON</summary><pre>{json}</pre></details>"#,
        h = ctx.t("人才评价证书核验", "Credential verification"),
        class = if verification.valid { "valid" } else { "invalid" },
        reason = esc(&verification.reason),
        text = esc(&reason_text(&ctx, &verification)),
        l_level = ctx.t("评价等级", "Level"),
        level = esc(&stored.level),
        l_field = ctx.t("专业领域", "Field"),
        field = esc(&stored.field),
        l_issuer = ctx.t("颁发地区", "Issued by"),
        issuer = esc(&labels::region_name(&stored.issuer_region, ctx.lang)),
        l_talent = ctx.t("人才", "Talent"),
        talent = stored.talent_id,
        l_recognised = ctx.t("互认", "Recognised as"),
        json = esc(&serde_json::to_string_pretty(&stored.document).unwrap_or_default()),
    );
    ctx.render(StatusCode::OK, ctx.t("证书核验", "Verification"), &body)
}

/// Query of the catalogue page.
#[derive(Debug, Deserialize)]
pub struct ServicesQuery {
    pub q: Option<String>,
    pub area: Option<String>,
    pub region: Option<String>,
    pub cross_region: Option<bool>,
}

/// `GET /services`: the catalogue by area (counts of all and of cross-region services), with a
/// search form; the services of one area when `area` is given (at most 200 shown).
pub async fn services_page(
    ctx: PageCtx,
    State(state): State<AppState>,
    Query(query): Query<ServicesQuery>,
) -> Response {
    let region = query.region.clone().filter(|r| xietong_domain::Reference::get().region(r).is_some());
    let search = ServiceQuery {
        q: query.q.clone().filter(|q| q.chars().count() <= 500),
        area: query.area.clone(),
        region: region.clone(),
        cross_region: query.cross_region,
        limit: 200,
        offset: 0,
    };
    let results = match state.blocking(move |app| Ok(app.services(&search)?)).await {
        Ok(results) => results,
        Err(err) => return ctx.error_page(err),
    };
    let mut html = format!(
        r#"<h1>{h}</h1><p>{intro}</p><form method="get" action="/services" class="search-form"><input type="search" name="q" value="{q}" placeholder="{ph}"><select name="region"><option value="">{all}</option><option value="110106"{s1}>{fengtai}</option><option value="133100"{s2}>{xiongan}</option></select><button>{go}</button></form>"#,
        h = ctx.t("跨省通办服务目录", "Cross-region service catalogue"),
        intro = ctx.t(
            "丰台与雄安两地可互办的政务服务，按领域列出。",
            "Public services that can be handled in Fengtai or Xiong'an, by area."
        ),
        q = esc(query.q.as_deref().unwrap_or("")),
        ph = ctx.t("搜索服务，如：社保", "Search, e.g. 社保"),
        all = ctx.t("全部地区", "All regions"),
        s1 = if region.as_deref() == Some("110106") { " selected" } else { "" },
        s2 = if region.as_deref() == Some("133100") { " selected" } else { "" },
        fengtai = esc(&labels::region_name("110106", ctx.lang)),
        xiongan = esc(&labels::region_name("133100", ctx.lang)),
        go = ctx.t("搜索", "Search"),
    );
    let _ = write!(
        html,
        r#"<table class="data" id="service-areas"><thead><tr><th>{a}</th><th>{n}</th><th>{c}</th></tr></thead><tbody>"#,
        a = ctx.t("领域", "Area"),
        n = ctx.t("服务数", "Services"),
        c = ctx.t("异地可办", "Cross-region"),
    );
    for area in AREAS {
        let Some(count) = results.areas.get(area) else { continue };
        let _ = write!(
            html,
            r#"<tr><td><a href="/services?area={q_area}">{area}</a></td><td>{n}</td><td>{c}</td></tr>"#,
            q_area = super::encode_component(area),
            area = esc(area),
            n = count.services,
            c = count.cross_region,
        );
    }
    let _ = write!(html, "</tbody></table><p>{} {}</p>", ctx.t("共", "Total"), results.total);
    if query.area.is_some() || query.q.as_deref().is_some_and(|q| !q.trim().is_empty()) {
        html.push_str(r#"<ul class="services" id="service-list">"#);
        for service in &results.items {
            let regions: Vec<String> = service.regions.iter().map(|r| labels::region_name(r, ctx.lang)).collect();
            let _ = write!(
                html,
                r#"<li><strong>{name}</strong> <span class="badge">{area}</span>{cross} — {regions} · {office} · {days} {d} · {docs}</li>"#,
                name = esc(&service.name),
                area = esc(&service.area),
                cross = if service.cross_region {
                    format!(r#" <span class="badge recognised">{}</span>"#, ctx.t("异地可办", "cross-region"))
                } else {
                    String::new()
                },
                regions = esc(&regions.join("、")),
                office = esc(&service.office),
                days = service.time_limit_days,
                d = ctx.t("个工作日", "working days"),
                docs = esc(&service.documents.join("、")),
            );
        }
        html.push_str("</ul>");
    }
    ctx.render(StatusCode::OK, ctx.t("跨省通办", "Cross-region services"), &html)
}

/// The talent's engagements with, for the talent's side, the forms to accept or decline the
/// proposed ones (inserted in a talent's page for those who may edit it).
pub fn render_engagements(ctx: &PageCtx, talent: ListingId, engagements: &[xietong_app::types::Engagement]) -> String {
    if engagements.is_empty() {
        return String::new();
    }
    let mut html = format!(
        r#"<section class="panel" id="engagements"><h2>{h}</h2><ul>"#,
        h = ctx.t("柔性聘用", "Flexible engagements")
    );
    for engagement in engagements {
        let mode = if ctx.lang == super::Lang::Zh {
            engagement.mode.label_zh().to_string()
        } else {
            engagement.mode.as_str().replace('_', " ")
        };
        let _ = write!(
            html,
            r#"<li data-state="{state}">{org} · {mode} · {start} – {end} · {state}"#,
            org = esc(&engagement.organisation),
            mode = esc(&mode),
            start = esc(&engagement.start),
            end = esc(&engagement.end),
            state = engagement.state.as_str(),
        );
        if engagement.state == xietong_domain::engagement::State::Proposed {
            for (action, zh, en) in [("accept", "接受", "Accept"), ("decline", "婉拒", "Decline")] {
                let _ = write!(
                    html,
                    r#" <form method="post" action="/engagements/{id}/respond" class="inline">{csrf}<input type="hidden" name="action" value="{action}"><input type="hidden" name="version" value="{version}"><input type="hidden" name="back" value="/listings/{talent}#engagements"><button>{label}</button></form>"#,
                    id = engagement.id,
                    csrf = ctx.csrf_input(),
                    version = engagement.version,
                    label = ctx.t(zh, en),
                );
            }
        }
        html.push_str("</li>");
    }
    html.push_str("</ul></section>");
    html
}

/// Form of `POST /engagements/{id}/respond`.
#[derive(Debug, Deserialize)]
pub struct RespondForm {
    pub action: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub back: String,
}

/// `POST /engagements/{id}/respond`: the talent's side accepts or declines, either side ends.
pub async fn respond(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<RespondForm>,
) -> Response {
    let back = match form.back.trim() {
        "" => "/account".to_string(),
        other => super::account::safe_next(other).to_string(),
    };
    let action = match form.action.as_str() {
        "accept" => xietong_app::types::EngagementAction::Accept,
        "decline" => xietong_app::types::EngagementAction::Decline,
        "end" => xietong_app::types::EngagementAction::End,
        _ => return ctx.refused(StatusCode::BAD_REQUEST, ctx.t("未知操作", "Unknown action"), &back),
    };
    let version = form.version.trim().parse::<i64>().ok();
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.move_engagement(&actor, id, version, action)?)).await {
        Ok(_) => see_other(&back),
        Err(ApiError::NotFound(_)) => {
            ctx.not_found(&format!("{}{id}", ctx.t("没有这项聘用：", "No such engagement: ")))
        }
        Err(ApiError::Forbidden(detail)) => ctx.refused(StatusCode::FORBIDDEN, &detail, &back),
        Err(ApiError::Conflict(detail)) => ctx.refused(StatusCode::CONFLICT, &detail, &back),
        Err(err) => ctx.error_page(err),
    }
}
