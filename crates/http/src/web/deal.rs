//! The deal page (`/deals/{id}`): the parties, the state, the timeline, and exactly the forms of
//! the events the viewer may send now; `POST /deals/{id}/events` sends one.

use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use xietong_app::types::{Deal, Handler};
use xietong_domain::deal::{DealEvent, DealState, Side, allowed_events};

use super::{Lang, PageCtx, esc, see_other};
use crate::error::ApiError;
use crate::state::AppState;

const REASONS: [(&str, &str, &str); 7] = [
    ("not_relevant", "不相关", "Not relevant"),
    ("trl_too_low", "技术成熟度不足", "TRL too low"),
    ("price", "价格不合适", "Price"),
    ("region", "地区不合适", "Region"),
    ("timing", "时机不合适", "Timing"),
    ("capacity", "产能不足", "Capacity"),
    ("other", "其他", "Other"),
];

const AGREEMENTS: [(&str, &str, &str); 7] = [
    ("licence", "许可", "Licence"),
    ("assignment", "转让", "Assignment"),
    ("joint_development", "合作开发", "Joint development"),
    ("technical_service", "技术服务", "Technical service"),
    ("dual_appointment", "双聘", "Dual appointment"),
    ("employment", "聘用", "Employment"),
    ("facility_use", "设施使用", "Facility use"),
];

const STAGES: [(&str, &str, &str); 3] = [
    ("pilot_run", "中试", "Pilot run"),
    ("small_batch", "小批量", "Small batch"),
    ("mass_production", "量产", "Mass production"),
];

/// The label of a decline reason by its API name.
pub fn reason_label(reason: &str, lang: Lang) -> &'static str {
    REASONS
        .iter()
        .find(|(value, _, _)| *value == reason)
        .map(|(_, zh, en)| lang.t(zh, en))
        .unwrap_or_else(|| lang.t("其他", "Other"))
}

pub fn state_label(state: DealState, lang: Lang) -> &'static str {
    let (zh, en) = match state {
        DealState::Proposed => ("待回应", "Proposed"),
        DealState::Accepted => ("已接受", "Accepted"),
        DealState::Declined => ("已婉拒", "Declined"),
        DealState::Meeting => ("洽谈中", "Meeting"),
        DealState::Signed => ("已签约", "Signed"),
        DealState::Converted => ("已转化", "Converted"),
        DealState::Closed => ("已关闭", "Closed"),
    };
    lang.t(zh, en)
}

fn event_label(name: &str, lang: Lang) -> &'static str {
    let (zh, en) = match name {
        "accept" => ("接受", "Accept"),
        "decline" => ("婉拒", "Decline"),
        "meeting" => ("记录洽谈", "Record a meeting"),
        "sign" => ("记录签约", "Record an agreement"),
        "outcome" => ("记录转化成果", "Record the outcome"),
        "close" => ("关闭", "Close"),
        _ => ("委托技术经理人", "Appoint a broker"),
    };
    lang.t(zh, en)
}

fn option_list(options: &[(&str, &str, &str)], lang: Lang) -> String {
    options.iter().map(|(value, zh, en)| format!(r#"<option value="{value}">{}</option>"#, lang.t(zh, en))).collect()
}

/// `GET /deals/{id}`
pub async fn page(ctx: PageCtx, State(state): State<AppState>, Path(id): Path<i64>) -> Response {
    let actor = ctx.caller.actor();
    let loaded = state
        .blocking(move |app| {
            let deal = app.deal(&actor, id)?;
            let title = app.titles(&actor, &[deal.listing_id])?.remove(&deal.listing_id);
            let handlers = app.deal_handlers(&deal)?;
            Ok((deal, title, handlers))
        })
        .await;
    match loaded {
        Ok((deal, title, handlers)) => {
            let heading = format!("{} #{}", ctx.t("对接", "Deal"), deal.id);
            // A region operator or technology manager handling the deal for an owner nobody
            // represents acts for the owner's side.
            let side: Option<Side> = xietong_app::deal::acting_side(ctx.caller.principal(), &deal, &handlers);
            let mut html = render(&ctx, &deal, title.as_deref(), side);
            if !handlers.is_empty() {
                html.insert_str(html.find("<h2>").unwrap_or(html.len()), &handled_by(&ctx, &handlers));
            }
            ctx.render(StatusCode::OK, &heading, &html)
        }
        Err(ApiError::NotFound(_)) => ctx.not_found(&format!("{}{id}", ctx.t("没有这项对接：", "No such deal: "))),
        Err(err) => ctx.error_page(err),
    }
}

/// Who acts for an owner organisation nobody represents on the platform.
fn handled_by(ctx: &PageCtx, handlers: &[Handler]) -> String {
    let names: Vec<String> = handlers
        .iter()
        .map(|h| {
            let role = match h.role {
                xietong_domain::Role::RegionOperator => ctx.t("区域运营方", "region operator"),
                _ => ctx.t("技术经理人", "technology manager"),
            };
            format!("{}（{role}）", esc(&h.display_name))
        })
        .collect();
    format!(
        r#"<p class="notice" id="deal-handled-by">{} {}</p>"#,
        ctx.t(
            "资源方尚未入驻平台，本对接由以下人员代为处理，可线下联系资源方：",
            "The owner is not on the platform yet; these people handle the deal for it and can reach it offline:"
        ),
        names.join("、")
    )
}

fn render(ctx: &PageCtx, deal: &Deal, title: Option<&str>, side: Option<Side>) -> String {
    let lang = ctx.lang;
    let mut html = format!(
        r#"<h1>{h} #{id} <span class="badge state-{state}" id="deal-state">{label}</span></h1>
<p class="lead"><a href="/listings/{listing}">{title}</a></p>
<dl class="fields"><div><dt>{l_asker}</dt><dd>{asker}</dd></div><div><dt>{l_owner}</dt><dd>{owner}</dd></div><div><dt>{l_message}</dt><dd>{message}</dd></div></dl>"#,
        h = ctx.t("对接", "Deal"),
        id = deal.id,
        state = deal.state.as_str(),
        label = state_label(deal.state, lang),
        listing = deal.listing_id,
        title = esc(title.unwrap_or(ctx.t("（资源不可见）", "(listing not visible)"))),
        l_asker = ctx.t("发起方", "Asking"),
        asker = esc(&deal.asker_org),
        l_owner = ctx.t("资源方", "Owner"),
        owner = esc(&deal.owner_org),
        l_message = ctx.t("留言", "Message"),
        message = esc(&deal.message),
    );
    let _ = write!(html, r#"<h2>{}</h2><ol class="timeline" id="deal-timeline">"#, ctx.t("进展", "Timeline"));
    let _ = write!(
        html,
        r#"<li><time>{at}</time> {who} · {what}</li>"#,
        at = deal.created_at.format(&Rfc3339).unwrap_or_default(),
        who = esc(&deal.asker_org),
        what = ctx.t("发起对接", "proposed the deal"),
    );
    for step in &deal.timeline {
        let detail = serde_json::to_value(&step.event).ok().map(|v| {
            v.as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| k.as_str() != "type")
                        .map(|(k, v)| format!("{k}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                        .collect::<Vec<_>>()
                        .join("；")
                })
                .unwrap_or_default()
        });
        let _ = write!(
            html,
            r#"<li data-event="{name}"><time>{at}</time> {who} · {what} → {state}{detail}</li>"#,
            name = step.event.name(),
            at = step.at.format(&Rfc3339).unwrap_or_default(),
            who = esc(&step.actor),
            what = event_label(step.event.name(), lang),
            state = state_label(step.state, lang),
            detail = detail
                .filter(|d| !d.is_empty())
                .map(|d| format!(" <span class=\"hint\">（{}）</span>", esc(&d)))
                .unwrap_or_default(),
        );
    }
    html.push_str("</ol>");
    let allowed = allowed_events(deal.state, side);
    if allowed.is_empty() {
        return html;
    }
    let _ = write!(html, r#"<h2>{}</h2><div class="deal-actions" id="deal-actions">"#, ctx.t("下一步", "Next step"));
    for name in allowed {
        let fields = match name {
            "decline" => format!(
                r#"<label>{} <select name="reason" required>{}</select></label><label>{} <input name="note" maxlength="500"></label>"#,
                ctx.t("原因", "Reason"),
                option_list(&REASONS, lang),
                ctx.t("说明", "Note"),
            ),
            "meeting" => format!(
                r#"<label>{} <input type="datetime-local" name="at" required></label><label>{} <input name="place" required maxlength="200"></label>"#,
                ctx.t("时间", "When"),
                ctx.t("地点", "Where"),
            ),
            "sign" => format!(
                r#"<label>{} <select name="agreement_type" required>{}</select></label><label>{} <input type="number" name="value" min="0" step="0.01"></label><label>{} <input type="date" name="signed_on" required></label><label>{} <input type="number" name="share_percent" min="1" max="100" step="1"></label><label>{} <input type="date" name="until"></label><p class="hint">{}</p>"#,
                ctx.t("协议类型", "Agreement"),
                option_list(&AGREEMENTS, lang),
                ctx.t("金额（万元）", "Value (×10,000 CNY)"),
                ctx.t("签约日期", "Signed on"),
                ctx.t("双聘时间占比（%）", "Dual appointment: share of time (%)"),
                ctx.t("聘期至", "Engaged until"),
                ctx.t(
                    "双聘或聘用人才的签约同时登记柔性聘用（默认占比 50%、聘期一年），不得超出人才的可用时间。",
                    "Signing a dual appointment or employment of a talent also records the engagement (50% and one year unless given); it may not exceed the talent's available time.",
                ),
            ),
            "outcome" => format!(
                r#"<label>{} <select name="stage" required>{}</select></label><label>{} <input name="revenue_band" maxlength="50"></label>"#,
                ctx.t("阶段", "Stage"),
                option_list(&STAGES, lang),
                ctx.t("营收区间", "Revenue band"),
            ),
            "close" => {
                format!(r#"<label>{} <input name="reason" required maxlength="500"></label>"#, ctx.t("原因", "Reason"))
            }
            "appoint_broker" => format!(
                r#"<label>{} <input name="username" required maxlength="64"></label>"#,
                ctx.t("技术经理人用户名", "Technology manager's username")
            ),
            _ => String::new(),
        };
        let _ = write!(
            html,
            r#"<form method="post" action="/deals/{id}/events" class="deal-event" data-event="{name}">{csrf}<input type="hidden" name="type" value="{name}"><input type="hidden" name="version" value="{version}">{fields}<button type="submit">{label}</button></form>"#,
            id = deal.id,
            csrf = ctx.csrf_input(),
            version = deal.version,
            label = event_label(name, lang),
        );
    }
    html.push_str("</div>");
    html
}

/// Form of `POST /deals/{id}/events`: the event's fields as text.
#[derive(Debug, Default, Deserialize)]
pub struct EventForm {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub at: String,
    #[serde(default)]
    pub place: String,
    #[serde(default)]
    pub agreement_type: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub signed_on: String,
    #[serde(default)]
    pub share_percent: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub revenue_band: String,
    #[serde(default)]
    pub username: String,
}

impl EventForm {
    /// The event the form describes, in the API's shape (a `datetime-local` is China time).
    fn event(&self) -> Result<DealEvent, String> {
        let text = |value: &str| (!value.trim().is_empty()).then(|| value.trim().to_string());
        let mut json = serde_json::json!({"type": self.kind});
        let object = json.as_object_mut().expect("an object");
        let at = text(&self.at).map(|at| if at.len() == 16 { format!("{at}:00+08:00") } else { at });
        for (key, value) in [
            ("reason", text(&self.reason)),
            ("note", text(&self.note)),
            ("at", at),
            ("place", text(&self.place)),
            ("agreement_type", text(&self.agreement_type)),
            ("signed_on", text(&self.signed_on)),
            ("until", text(&self.until)),
            ("stage", text(&self.stage)),
            ("revenue_band", text(&self.revenue_band)),
            ("username", text(&self.username)),
        ] {
            if let Some(value) = value {
                object.insert(key.into(), value.into());
            }
        }
        if let Some(share) = text(&self.share_percent) {
            let number: u8 = share.parse().map_err(|_| format!("share_percent: {share:?} is not a whole percent"))?;
            object.insert("share_percent".into(), number.into());
        }
        if let Some(value) = text(&self.value) {
            let number: f64 = value.parse().map_err(|_| format!("value: {value:?} is not a number"))?;
            object.insert("value".into(), number.into());
        }
        serde_json::from_value(json).map_err(|err| err.to_string())
    }
}

/// `POST /deals/{id}/events`
pub async fn event(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<EventForm>,
) -> Response {
    let back = format!("/deals/{id}");
    let event = match form.event() {
        Ok(event) => event,
        Err(detail) => return ctx.refused(StatusCode::BAD_REQUEST, &detail, &back),
    };
    let actor = ctx.caller.actor();
    let version = form.version;
    match state.blocking(move |app| Ok(app.deal_event(&actor, id, version, event)?)).await {
        Ok(_) => see_other(&back),
        Err(ApiError::Conflict(detail)) => ctx.refused(StatusCode::CONFLICT, &detail, &back),
        Err(ApiError::NotFound(_)) => ctx.not_found(&format!("{}{id}", ctx.t("没有这项对接：", "No such deal: "))),
        Err(err) => ctx.error_page(err),
    }
}
