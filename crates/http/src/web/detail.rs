//! The listing page: every field of the kind, readably, and a "best matches" (推荐对接) panel per
//! complementary kind: eight matches with their fit score (0–100) and its explained parts,
//! reasons and mismatches, a 发起对接 button on each (the contact-request flow of the match) and a
//! "更多" link that shows fifty of the kind. When nobody represents the owner organisation, a
//! note says who handles deals for it, with the claim form (`web::claim`) for a member account of
//! no organisation.

use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use xietong_app::AppError;
use xietong_app::feedback::ListingFeedback;
use xietong_app::types::RequestState;
use xietong_app::types::{MatchHit, complementary_kinds};
use xietong_domain::{Contact, Details, Kind, Listing, ListingId};

use super::{Lang, PageCtx, esc, fmt_num, labels, see_other};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Matches shown per complementary kind.
const MATCHES_PER_KIND: usize = 8;
/// Matches shown for the kind whose "更多" link was followed.
const MORE_MATCHES: usize = 50;

/// What the viewer may see of the listing's contact, and whether they may ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ContactAccess {
    /// The listing names no contact.
    NoContact,
    /// The viewer's organisation owns the listing.
    Own,
    /// The owner accepted a contact request of the viewer's organisation.
    Granted,
    /// Masked for a visitor; logging in lets them ask.
    MaskedAnonymous,
    /// Masked for a logged-in user; `last_request` is the newest request of their organisation.
    Masked { last_request: Option<RequestState>, can_ask: bool },
}

/// Query of `GET /listings/{id}`.
#[derive(Debug, Default, Deserialize)]
pub struct DetailParams {
    /// Set after a contact request was sent, to confirm it.
    pub requested: Option<String>,
    /// A complementary kind whose matches are shown at length (the "更多" link).
    pub more: Option<String>,
    /// Set after a deal was proposed, to confirm it.
    pub proposed: Option<String>,
    /// A facility's week of free capacity to show: any day of it, `YYYY-MM-DD`.
    pub week: Option<String>,
    /// Set after a booking was requested, to its state (`requested` or `waitlisted`).
    pub booked: Option<String>,
}

/// `GET /listings/{id}`: listings the viewer may not read are the 404 page; the contact is masked
/// unless the viewer is entitled to it, and the matches count only listings the viewer may read.
pub async fn page(
    ctx: PageCtx,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Path(raw_id): Path<String>,
    Query(params): Query<DetailParams>,
) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else {
        return ctx.not_found(&format!("{}{raw_id}", ctx.t("没有这条资源：", "No such listing: ")));
    };
    let caller = ctx.caller.clone();
    let more = params.more.as_deref().and_then(|k| k.parse::<Kind>().ok());
    let week = params.week.clone();
    let loaded = state
        .read_work(move |app| {
            let actor = caller.actor();
            let listing = app.read_listing(&actor, id)?;
            let mut panels = Vec::new();
            for kind in complementary_kinds(listing.kind()) {
                let shown = if more == Some(kind) { MORE_MATCHES } else { MATCHES_PER_KIND };
                // One more than shown tells whether a "更多" link leads anywhere.
                let mut hits = app.match_source(&actor, &listing, Some(kind), shown + 1)?;
                let has_more = hits.len() > shown;
                hits.truncate(shown);
                panels.push(Panel { kind, hits, has_more });
            }
            let access = contact_access(app, &caller, &listing)?;
            let stale = app.is_stale(&listing).then(|| app.stale_after_days());
            let unrepresented = super::claim::unrepresented_owner(app, &caller, &listing)?;
            // The owner's organisation and the admin learn why others said no.
            let feedback = match app.listing_feedback(&actor, id) {
                Ok(feedback) => Some(feedback),
                Err(AppError::Forbidden(_) | AppError::Unauthorized(_) | AppError::NotFound(_)) => None,
                Err(other) => return Err(other.into()),
            };
            // A bookable facility's week of free capacity and its booking form.
            let booking = match listing.kind() {
                Kind::Facility => Some(super::booking::load_section(app, &caller, &listing, week.as_deref())?),
                _ => None,
            };
            // The chain segments it sits on, with the evidence (issue 19).
            let placements = app.listing_placements(&actor, id)?;
            // Three-party bundles (S8) of an achievement.
            let bundles = match listing.kind() {
                Kind::Achievement => Some(app.bundles(&actor, id, &[])?),
                _ => None,
            };
            // A talent's service card (京雄人才服务一卡通).
            let card = match listing.kind() {
                Kind::Talent => {
                    // The talent's side sees its engagements, with the forms to answer offers.
                    let engagements = if actor.viewer.can_write(&listing.body) {
                        app.engagements_of(&actor, id)?
                    } else {
                        Vec::new()
                    };
                    Some((app.talent_card(&actor, id)?, engagements))
                }
                _ => None,
            };
            Ok((listing, panels, access, stale, feedback, unrepresented, (booking, card), (bundles, placements)))
        })
        .await;
    match loaded {
        Ok((listing, panels, access, stale, feedback, unrepresented, (booking, card), (bundles, placements))) => {
            let requested = params.requested.as_deref() == Some("1");
            let mut html = render(&ctx, &listing, &panels, &access, requested);
            if let Some(section) = &booking {
                let block = super::booking::render_section(&ctx, &listing, section, params.booked.as_deref());
                match html.find(r#"<section class="matches""#) {
                    Some(at) => html.insert_str(at, &block),
                    None => html.push_str(&block),
                }
            }
            if let Some((card, engagements)) = &card {
                let mut block = super::talent::render_card(&ctx, card, &headers);
                block.push_str(&super::talent::render_engagements(&ctx, listing.id, engagements));
                match html.find(r#"<section class="matches""#) {
                    Some(at) => html.insert_str(at, &block),
                    None => html.push_str(&block),
                }
            }
            if !placements.is_empty() {
                let block = render_placements(&ctx, &placements);
                match html.find("</article>") {
                    Some(at) => html.insert_str(at, &block),
                    None => html.push_str(&block),
                }
            }
            if let Some(bundles) = &bundles {
                let block = render_bundles(&ctx, bundles);
                match html.find(r#"<section class="matches""#) {
                    Some(at) => html.insert_str(at, &block),
                    None => html.push_str(&block),
                }
            }
            if let Some(owner) = &unrepresented {
                let block = super::claim::unrepresented_block(&ctx, listing.id, owner);
                match html.find("</article>") {
                    Some(at) => html.insert_str(at, &block),
                    None => html.push_str(&block),
                }
            }
            if let Some(feedback) = &feedback {
                let block = render_feedback(&ctx, feedback);
                match html.find("</article>") {
                    Some(at) => html.insert_str(at, &block),
                    None => html.push_str(&block),
                }
            }
            if let Some(days) = stale {
                let notice = format!(
                    r#"<p class="notice stale" role="note" id="listing-stale">{}</p>"#,
                    esc(ctx.t(
                        &format!("这条资源已超过{days}天未更新，信息可能已过时；在匹配结果中排序靠后。"),
                        &format!("This listing has not been updated for {days} days and may be out of date; it ranks lower in matches."),
                    ))
                );
                html.insert_str(0, &notice);
            }
            if listing.kind() == Kind::Challenge {
                let link = format!(
                    r#"<p class="notice info" id="challenge-run-link"><a href="/challenges/{}">{}</a></p>"#,
                    listing.id,
                    ctx.t(
                        "揭榜挂帅进展：申请揭榜、评审、赛马与结果 →",
                        "This challenge's run: apply, review, race and results →"
                    ),
                );
                html.insert_str(0, &link);
            }
            if params.proposed.as_deref() == Some("1") {
                let notice = format!(
                    r#"<p class="notice ok" role="status" id="deal-proposed">{}</p>"#,
                    ctx.t(
                        "已发起对接；对方接受后，双方可在此查看彼此的联系方式。",
                        "The deal was proposed; once the owner accepts, both sides see each other's contact details."
                    )
                );
                html.insert_str(0, &notice);
            }
            ctx.render(StatusCode::OK, &listing.body.title, &html)
        }
        Err(ApiError::NotFound(_)) => ctx.not_found(&format!("{}{id}", ctx.t("没有这条资源：", "No such listing: "))),
        Err(err) => ctx.error_page(err),
    }
}

/// The chain segments a listing sits on (产业链环节), each marked explicit or inferred, with the
/// evidence.
fn render_placements(ctx: &PageCtx, placements: &[xietong_app::chain::Placement]) -> String {
    let mut html = format!(
        r#"<section class="panel" id="chain-segments" aria-labelledby="segments-h"><h2 id="segments-h">{}</h2><ul>"#,
        ctx.t("所在产业链环节", "Industry-chain segments"),
    );
    let english = ctx.lang == super::Lang::En;
    for placement in placements {
        let evidence: Vec<String> =
            placement.evidence.iter().map(|e| if english { e.describe_en() } else { e.describe_zh() }).collect();
        let _ = write!(
            html,
            r#"<li data-segment="{id}" data-inferred="{inferred}"><a href="/chains/{chain}">{chain_name}</a> · {name} <span class="badge">{how}</span> <span class="hint">{why}</span></li>"#,
            id = esc(&placement.segment_id),
            inferred = placement.inferred,
            chain = super::encode_component(&placement.chain_id),
            chain_name = esc(&placement.chain_name_zh),
            name = esc(ctx.t(&placement.segment_name_zh, &placement.segment_name_en)),
            how = if placement.inferred { ctx.t("推断", "inferred") } else { ctx.t("明确", "explicit") },
            why = esc(&evidence.join("；")),
        );
    }
    html.push_str("</ul></section>");
    html
}

/// Three-party bundles (三方组合, S8): 科研院所出技术、共享工厂出方案、制造基地出产能, each part
/// with its reasons and what is missing.
fn render_bundles(ctx: &PageCtx, bundles: &[xietong_app::bundle::Bundle]) -> String {
    let mut html = format!(
        r#"<section class="panel" id="bundles" aria-labelledby="bundles-h"><h2 id="bundles-h">{h}</h2><p class="hint">{hint}</p>"#,
        h = ctx.t("三方组合推荐", "Three-party bundles"),
        hint = ctx.t(
            "科研院所出技术、共享工厂（中试线/中试基地）出方案、制造基地出产能。",
            "The institute's technology, a shared factory (pilot line or base) for the process, a manufacturer for capacity.",
        ),
    );
    if bundles.is_empty() {
        let _ = write!(
            html,
            "<p>{}</p></section>",
            ctx.t("该成果尚未落在产业链环节上。", "This achievement is on no chain segment yet.")
        );
        return html;
    }
    html.push_str(r#"<ol class="bundles">"#);
    let english = ctx.lang == super::Lang::En;
    let part = |label: &str, party: Option<&xietong_app::bundle::Party>| -> String {
        match party {
            Some(p) => {
                let reasons = if english { &p.reasons_en } else { &p.reasons_zh };
                format!(
                    r#"<li><strong>{label}</strong> <a href="/listings/{id}">{title}</a><br><span class="hint">{why}</span></li>"#,
                    id = p.id,
                    title = esc(&p.title),
                    why = esc(&reasons.join("；")),
                )
            }
            None => format!(r#"<li><strong>{label}</strong> —</li>"#),
        }
    };
    for bundle in bundles {
        let missing = if english { &bundle.missing_en } else { &bundle.missing_zh };
        let _ = write!(
            html,
            r#"<li class="bundle" data-score="{score}"><ul>{pilot}{maker}</ul>{missing}</li>"#,
            score = bundle.score,
            pilot = part(ctx.t("中试：", "Pilot: "), bundle.pilot.as_ref()),
            maker = part(ctx.t("制造：", "Manufacturer: "), bundle.manufacturer.as_ref()),
            missing = if missing.is_empty() {
                String::new()
            } else {
                format!(r#"<p class="hint">{}{}</p>"#, ctx.t("缺少：", "Missing: "), esc(&missing.join("；")))
            },
        );
    }
    html.push_str("</ol></section>");
    html
}

/// "Why others said no" (对方为何拒绝): the decline reasons counted, the notes, deals per state
/// and impressions, for the listing's organisation.
fn render_feedback(ctx: &PageCtx, feedback: &ListingFeedback) -> String {
    let mut html = format!(
        r#"<section class="panel" id="listing-feedback" aria-labelledby="feedback-h"><h2 id="feedback-h">{h}</h2><p class="hint">{hint}</p>"#,
        h = ctx.t("对方为何拒绝", "Why others said no"),
        hint = esc(ctx.t(
            &format!(
                "近30天在他人匹配结果中出现 {} 次（累计 {} 次）。",
                feedback.impressions_30d, feedback.impressions
            ),
            &format!(
                "Shown in others' match results {} times in the last 30 days ({} in all).",
                feedback.impressions_30d, feedback.impressions
            ),
        )),
    );
    let declined: Vec<_> = feedback.decline_reasons.iter().filter(|(_, count)| **count > 0).collect();
    if declined.is_empty() {
        let _ = write!(html, "<p>{}</p>", ctx.t("尚无对接被婉拒。", "No deal on this listing was declined yet."));
    } else {
        html.push_str(r#"<ul class="decline-reasons">"#);
        for (reason, count) in declined {
            let _ = write!(
                html,
                r#"<li data-reason="{reason}">{label}：<strong>{count}</strong></li>"#,
                label = super::deal::reason_label(reason, ctx.lang),
            );
        }
        html.push_str("</ul>");
        let notes: Vec<_> = feedback.decline_notes.iter().filter_map(|n| n.note.as_deref()).take(5).collect();
        if !notes.is_empty() {
            html.push_str(r#"<ul class="decline-notes">"#);
            for note in notes {
                let _ = write!(html, "<li>{}</li>", esc(note));
            }
            html.push_str("</ul>");
        }
    }
    let states: Vec<String> = feedback
        .deals_by_state
        .iter()
        .filter(|(_, count)| **count > 0)
        .filter_map(|(state, count)| {
            let state: xietong_domain::deal::DealState = state.parse().ok()?;
            Some(format!("{} {count}", super::deal::state_label(state, ctx.lang)))
        })
        .collect();
    if !states.is_empty() {
        let _ = write!(
            html,
            r#"<p class="meta" id="feedback-states">{}{}</p>"#,
            ctx.t("对接：", "Deals: "),
            esc(&states.join(" · "))
        );
    }
    html.push_str("</section>");
    html
}

fn contact_access(app: &xietong_app::App, caller: &Caller, listing: &Listing) -> ApiResult<ContactAccess> {
    if listing.body.contact.is_none() {
        return Ok(ContactAccess::NoContact);
    }
    if caller.viewer.sees_contact(&listing.body, false) {
        return Ok(ContactAccess::Own);
    }
    let Some(principal) = caller.principal() else { return Ok(ContactAccess::MaskedAnonymous) };
    let actor = caller.actor();
    if app.contact_granted(&actor, listing.id)? {
        return Ok(ContactAccess::Granted);
    }
    let Some(org) = &principal.org else { return Ok(ContactAccess::Masked { last_request: None, can_ask: false }) };
    let requests = app.contact_requests_about(&actor, listing.id)?;
    // Newest first: the state of the organisation's latest request for this listing.
    let last_request = requests.iter().find(|r| r.listing_id == listing.id && &r.from_org == org).map(|r| r.state);
    Ok(ContactAccess::Masked { last_request, can_ask: true })
}

/// The matches of one complementary kind.
struct Panel {
    kind: Kind,
    hits: Vec<MatchHit>,
    /// More matches exist than are shown.
    has_more: bool,
}

/// Form of `POST /listings/{id}/contact-request`.
#[derive(Debug, Deserialize)]
pub struct ContactRequestForm {
    /// Why the user wants to get in touch (optional).
    #[serde(default)]
    pub message: String,
}

/// `POST /listings/{id}/contact-request`: asks the owner for the contact details, then back to
/// the listing with a confirmation.
pub async fn request_contact(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(form): Form<ContactRequestForm>,
) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else {
        return ctx.not_found(&format!("{}{raw_id}", ctx.t("没有这条资源：", "No such listing: ")));
    };
    let actor = ctx.caller.actor();
    let created = state.blocking(move |app| Ok(app.request_contact(&actor, id, &form.message)?)).await;
    match created {
        Ok(request) => {
            tracing::info!(listing.id = %id, contact_request.id = request.id, "contact request sent from the listing page");
            see_other(&format!("/listings/{id}?requested=1"))
        }
        Err(ApiError::Conflict(detail)) => {
            let message = format!("{}（{detail}）", ctx.t("申请未发送", "The request was not sent"));
            ctx.refused(StatusCode::CONFLICT, &message, &format!("/listings/{id}"))
        }
        Err(err) => ctx.error_page(err),
    }
}

/// Form of `POST /listings/{id}/deal`.
#[derive(Debug, Deserialize)]
pub struct DealForm {
    /// The viewer's own listing the deal starts from (a match's source), if any.
    #[serde(default)]
    pub from_listing_id: String,
    #[serde(default)]
    pub message: String,
}

/// `POST /listings/{id}/deal` (发起对接): proposes a deal on the listing for the viewer's
/// organisation, then back to the listing with a confirmation.
pub async fn propose_deal(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(form): Form<DealForm>,
) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else {
        return ctx.not_found(&format!("{}{raw_id}", ctx.t("没有这条资源：", "No such listing: ")));
    };
    let from = form.from_listing_id.trim().parse::<ListingId>().ok();
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.propose_deal(&actor, id, from, &form.message)?)).await {
        Ok(deal) => {
            tracing::info!(listing.id = %id, deal.id = deal.id, "deal proposed from the listing page");
            see_other(&format!("/listings/{id}?proposed=1"))
        }
        Err(ApiError::Conflict(detail)) => {
            let message = format!("{}（{detail}）", ctx.t("对接未发起", "The deal was not proposed"));
            ctx.refused(StatusCode::CONFLICT, &message, &format!("/listings/{id}"))
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

fn render(ctx: &PageCtx, listing: &Listing, panels: &[Panel], access: &ContactAccess, requested: bool) -> String {
    let lang = ctx.lang;
    let body = &listing.body;
    let kind = listing.kind();
    let mut html = String::new();
    if requested {
        let _ = write!(
            html,
            r#"<p class="notice ok" role="status" id="request-sent">{}</p>"#,
            ctx.t(
                "已发送查看联系方式的申请；对方同意后，您所在机构的成员即可在此查看。",
                "Your request for the contact details was sent; once the owner accepts, members of your organisation see them here."
            )
        );
    }
    let edit = if ctx.caller.viewer.can_write(body) {
        format!(
            r#"<p class="actions"><a class="button secondary" id="edit-link" href="/listings/{}/edit">{}</a></p>"#,
            listing.id,
            ctx.t("编辑", "Edit")
        )
    } else {
        String::new()
    };
    let _ = write!(
        html,
        r#"<nav class="breadcrumb" aria-label="{bc}"><a href="/">{home}</a> › <a href="/search?kind={k}">{kl}</a></nav>
<article class="listing" data-kind="{k}"><header class="listing-head"><span class="badge kind-{k}">{kl}</span> <span class="badge status-{s}" id="listing-status">{sl}</span> <span class="badge visibility" id="listing-visibility" title="{vt}">{vl}</span><h1>{title}</h1><p class="summary">{summary}</p>{edit}</header>"#,
        bc = ctx.t("位置", "Breadcrumb"),
        home = ctx.t("总览", "Dashboard"),
        k = kind.as_str(),
        kl = labels::kind_label(kind, lang),
        s = body.status.as_str(),
        sl = ctx.t(body.status.label_zh(), body.status.label_en()),
        vt = ctx.t("可见范围", "Visibility"),
        vl = ctx.t(body.visibility.label_zh(), body.visibility.label_en()),
        title = esc(&body.title),
        summary = esc(&body.summary),
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
    // What a need asks of its partners (issue 13 item 3).
    let terms = body.partner_terms();
    let preferred: Vec<String> = terms.preferred_regions.iter().map(|c| labels::region_name(c, lang)).collect();
    if terms.regions_required {
        rows.list("限定地区（仅此范围）", "Required regions (only these)", &preferred);
    } else {
        rows.list("优先地区", "Preferred regions", &preferred);
    }
    let modes: Vec<String> =
        terms.talent_modes.iter().map(|a| labels::availability_label(*a, lang).to_string()).collect();
    rows.list("接受的人才合作方式", "Accepted working patterns", &modes);
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
    html.push_str("</section>");
    if let Some(contact) = &body.contact {
        html.push_str(&contact_block(ctx, listing.id, contact, access));
    }
    html.push_str("</article>");

    let _ = write!(
        html,
        r#"<section class="matches" id="matches" aria-labelledby="matches-h"><h2 id="matches-h">{}</h2><p class="hint">{}</p>"#,
        ctx.t("推荐对接", "Best matches"),
        ctx.t(
            "按文本、行业、地区、技术成熟度等综合打分；每条推荐附匹配理由与不匹配之处。",
            "Scored on text, industry, region, readiness and more; each match says why and what does not fit."
        ),
    );
    for panel in panels {
        let target = panel.kind;
        let _ = write!(
            html,
            r#"<section class="match-panel" data-kind="{k}" aria-labelledby="m-{k}"><h3 id="m-{k}">{label}</h3>"#,
            k = target.as_str(),
            label = labels::kind_label(target, lang),
        );
        if panel.hits.is_empty() {
            let _ =
                write!(html, r#"<p class="empty-small">{}</p>"#, ctx.t("暂无合适的推荐。", "No suitable matches yet."));
        } else {
            html.push_str(r#"<ol class="match-list">"#);
            for (rank, hit) in panel.hits.iter().enumerate() {
                html.push_str(&render_match(ctx, listing, hit, rank == 0));
            }
            html.push_str("</ol>");
        }
        if panel.has_more {
            let _ = write!(
                html,
                r#"<p class="more-matches"><a href="/listings/{id}?more={k}#m-{k}" data-kind="{k}">{more}</a></p>"#,
                id = listing.id,
                k = target.as_str(),
                more = ctx.t("更多", "More"),
            );
        }
        html.push_str("</section>");
    }
    html.push_str("</section>");
    html
}

/// The contact details (masked unless the viewer is entitled) and what the viewer can do about
/// them: log in, ask the owner, or wait for the answer.
fn contact_block(ctx: &PageCtx, id: ListingId, contact: &Contact, access: &ContactAccess) -> String {
    let mut rows = String::new();
    for (zh, en, value, field) in [
        ("联系人", "Name", &contact.name, "name"),
        ("电话", "Phone", &contact.phone, "phone"),
        ("邮箱", "Email", &contact.email, "email"),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            let _ =
                write!(rows, r#"<div><dt>{}</dt><dd id="contact-{field}">{}</dd></div>"#, ctx.t(zh, en), esc(value));
        }
    }
    let ask_form = || {
        format!(
            r#"<form method="post" action="/listings/{id}/contact-request" class="contact-request-form" id="contact-request-form">{csrf}<div class="field"><label for="contact-message">{l}</label><textarea id="contact-message" name="message" rows="2" maxlength="500"></textarea></div><p><button type="submit" id="contact-request-submit">{b}</button></p></form>"#,
            csrf = ctx.csrf_input(),
            l = ctx.t("留言（可选）：说明合作意向", "Message (optional): what you have in mind"),
            b = ctx.t("申请查看联系方式", "Request contact details"),
        )
    };
    let masked_note = ctx.t(
        "联系方式已脱敏，资源所属机构同意后方可查看完整信息。",
        "The contact details are masked; the owning organisation decides who sees them in full.",
    );
    let status = match access {
        ContactAccess::NoContact | ContactAccess::Own => format!(
            r#"<p class="hint" id="contact-state" data-state="own">{}</p>"#,
            ctx.t("您所在机构发布的资源，联系方式完整显示。", "Your organisation's listing: the contact details are shown in full.")
        ),
        ContactAccess::Granted => format!(
            r#"<p class="hint" id="contact-state" data-state="granted">{}</p>"#,
            ctx.t(
                "对方已同意您所在机构查看联系方式；每次查看都会记入审计日志。",
                "The owner agreed to share the contact details with your organisation; each view is recorded in the audit trail."
            )
        ),
        ContactAccess::MaskedAnonymous => format!(
            r#"<p class="hint" id="contact-state" data-state="anonymous">{masked_note} <a href="{href}">{login}</a></p>"#,
            href = esc(&super::login_href_for(&format!("/listings/{id}"))),
            login = ctx.t("登录后申请查看", "Log in to ask for them"),
        ),
        ContactAccess::Masked { last_request: Some(RequestState::Pending), .. } => format!(
            r#"<p class="hint" id="contact-state" data-state="pending">{masked_note} {}</p>"#,
            ctx.t("您所在机构已提交申请，等待对方同意。", "Your organisation has asked; the owner has not answered yet.")
        ),
        ContactAccess::Masked { last_request: Some(RequestState::Declined), can_ask: true } => format!(
            r#"<p class="hint" id="contact-state" data-state="declined">{masked_note} {}</p>{}"#,
            ctx.t("对方未同意上一次申请，您可以补充说明后再次申请。", "The owner declined the last request; you may ask again with more detail."),
            ask_form()
        ),
        ContactAccess::Masked { can_ask: true, .. } => {
            format!(r#"<p class="hint" id="contact-state" data-state="masked">{masked_note}</p>{}"#, ask_form())
        }
        ContactAccess::Masked { .. } => format!(
            r#"<p class="hint" id="contact-state" data-state="masked">{masked_note} {}</p>"#,
            ctx.t("您的账户不属于任何机构，无法申请。", "Your account belongs to no organisation, so it cannot ask.")
        ),
    };
    format!(
        r#"<section class="contact-block" id="contact" aria-labelledby="contact-h"><h2 id="contact-h">{h}</h2><dl class="fields">{rows}</dl>{status}</section>"#,
        h = ctx.t("联系方式", "Contact"),
    )
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
        "relevance" => ("内容相关度", "Relevance"),
        "talent_mode" => ("合作方式", "Working pattern"),
        "willing_region" => ("意向地区", "Willing regions"),
        "deadline" => ("截止日期", "Deadline"),
        "semantic" | "embedding" => ("语义", "Semantic"),
        "phrase" => ("短语", "Phrase"),
        "freshness" => ("时效", "Freshness"),
        "completeness" => ("信息完整度", "Completeness"),
        _ => (name, name),
    };
    lang.t(zh, en).to_string()
}

/// One match: its fit score (0–100) with the parts that add up to it, each explained; the parts
/// of the best one are shown open. A logged-in viewer can start a contact (发起对接) from it.
fn render_match(ctx: &PageCtx, source: &Listing, hit: &MatchHit, open: bool) -> String {
    let lang = ctx.lang;
    let mut parts = String::new();
    for part in &hit.fit_parts {
        let width = if part.max == 0 { 0.0 } else { (f64::from(part.points) / f64::from(part.max) * 100.0).round() };
        let unmet = part.outcome == Some(xietong_app::types::Outcome::Unmet);
        let _ = write!(
            parts,
            r#"<tr data-part="{name}"><th scope="row">{label}</th><td><span class="part-bar{neg}" style="width:{width}%"></span></td><td class="num">{points}/{max}</td><td class="part-text">{text}</td></tr>"#,
            name = esc(&part.name),
            label = esc(&part_label(&part.name, lang)),
            points = part.points,
            max = part.max,
            neg = if unmet { " negative" } else { "" },
            text = esc(lang.t(&part.zh, &part.en)),
        );
    }
    let explain = |items: &[xietong_app::types::Explanation], class: &str| -> String {
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
    // 发起对接 proposes a deal on the matched listing, from the source when it is the viewer's own.
    let connect = if ctx.caller.viewer.principal().is_some() {
        let message = format!("{}{}", ctx.t("发起对接，来自推荐对接：", "Match request from: "), source.body.title);
        let from = if ctx.caller.viewer.can_write(&source.body) { source.id.to_string() } else { String::new() };
        format!(
            r#"<form method="post" action="/listings/{id}/deal" class="connect-form">{csrf}<input type="hidden" name="from_listing_id" value="{from}"><input type="hidden" name="message" value="{message}"><button type="submit" class="connect">{label}</button></form>"#,
            id = hit.id,
            csrf = ctx.csrf_input(),
            message = esc(&message),
            label = ctx.t("发起对接", "Propose a deal"),
        )
    } else {
        format!(
            r#"<a class="connect" href="{href}">{label}</a>"#,
            href = esc(&ctx.login_href()),
            label = ctx.t("登录后发起对接", "Log in to get in touch"),
        )
    };
    format!(
        r#"<li class="match" data-id="{id}" data-fit="{fit}"><div class="match-head"><a href="/listings/{id}">{title}</a> <span class="score" title="{st}">{fit}</span></div><p class="meta">{region}</p>{reasons}{mismatches}<details class="score-parts"{open}><summary>{sp}</summary><table><caption class="visually-hidden">{sp}</caption><tbody>{parts}</tbody></table></details>{connect}</li>"#,
        id = hit.id,
        title = esc(&hit.title),
        st = ctx.t("匹配度（满分 100）", "Fit (out of 100)"),
        fit = hit.fit,
        region = esc(&region),
        reasons = explain(&hit.reasons, "reasons"),
        mismatches = explain(&hit.mismatches, "mismatches"),
        sp = ctx.t("匹配度构成", "Fit parts"),
        open = if open { " open" } else { "" },
    )
}
