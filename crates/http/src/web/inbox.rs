//! The inbox page (`/inbox`): the signed-in user's notices, newest first, unread ones marked,
//! with "mark read" on each and "mark all read"; `?unread=1` shows only unread ones. The page
//! header shows the unread count as a badge on every page (see [`super::PageCtx`]).

use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use xietong_app::types::InboxItem;

use super::{PageCtx, esc, see_other};
use crate::state::AppState;

/// Notices per page.
const PAGE_SIZE: u32 = 50;

/// Query of `GET /inbox`.
#[derive(Debug, Default, Deserialize)]
pub struct InboxPageParams {
    /// `1` or `true`: only unread notices.
    pub unread: Option<String>,
    /// 1-based page number.
    pub page: Option<String>,
}

impl InboxPageParams {
    fn unread_only(&self) -> bool {
        matches!(self.unread.as_deref().map(str::trim), Some("1" | "true"))
    }

    fn page(&self) -> u64 {
        self.page.as_deref().and_then(|p| p.trim().parse::<u64>().ok()).filter(|p| *p >= 1).unwrap_or(1).min(200)
    }
}

fn item_html(ctx: &PageCtx, item: &InboxItem) -> String {
    let title = ctx.t(&item.title_zh, &item.title_en);
    let body = ctx.t(&item.body_zh, &item.body_en);
    let at = item.created_at.format(&Rfc3339).unwrap_or_default();
    let (class, action) = if item.read_at.is_some() {
        ("notice-item read", String::new())
    } else {
        (
            "notice-item unread",
            format!(
                r#"<form method="post" action="/inbox/{id}/read" class="inline-form">{csrf}<button type="submit" class="link-button" id="read-{id}">{label}</button></form>"#,
                id = item.id,
                csrf = ctx.csrf_input(),
                label = ctx.t("标为已读", "Mark read"),
            ),
        )
    };
    let link = if item.link.starts_with('/') {
        format!(r#" <a href="{}">{}</a>"#, esc(&item.link), ctx.t("查看", "Open"))
    } else {
        String::new()
    };
    format!(
        r#"<li class="{class}" data-event="{event}" id="notice-{id}"><p class="notice-title"><strong>{title}</strong>{unread}</p><p>{body}{link}</p><p class="hint"><time datetime="{at}">{at}</time> · <code>{event}</code> {action}</p></li>"#,
        id = item.id,
        event = esc(&item.event),
        title = esc(title),
        unread = if item.read_at.is_none() {
            format!(r#" <span class="badge">{}</span>"#, ctx.t("未读", "unread"))
        } else {
            String::new()
        },
        body = esc(body),
    )
}

/// `GET /inbox`.
pub async fn page(ctx: PageCtx, State(state): State<AppState>, Query(params): Query<InboxPageParams>) -> Response {
    let actor = ctx.caller.actor();
    let unread_only = params.unread_only();
    let page = params.page();
    let offset = (page - 1) * u64::from(PAGE_SIZE);
    let loaded = state.blocking(move |app| Ok(app.inbox(&actor, unread_only, PAGE_SIZE, offset)?)).await;
    let inbox = match loaded {
        Ok(inbox) => inbox,
        Err(err) => return ctx.error_page(err),
    };
    let mut body = format!(
        r#"<h1>{h}</h1><p class="hint" id="inbox-summary">{summary}</p>"#,
        h = ctx.t("消息", "Inbox"),
        summary = esc(&format!("{}{}", ctx.t("未读：", "Unread: "), inbox.unread_count)),
    );
    let _ = write!(
        body,
        r#"<p><a href="/inbox"{all_current}>{all}</a> · <a href="/inbox?unread=1"{unread_current}>{unread}</a></p>"#,
        all = ctx.t("全部", "All"),
        unread = ctx.t("仅未读", "Unread only"),
        all_current = if unread_only { "" } else { r#" aria-current="page""# },
        unread_current = if unread_only { r#" aria-current="page""# } else { "" },
    );
    if inbox.unread_count > 0 {
        let _ = write!(
            body,
            r#"<form method="post" action="/inbox/read-all">{}<button type="submit" id="read-all">{}</button></form>"#,
            ctx.csrf_input(),
            ctx.t("全部标为已读", "Mark all read"),
        );
    }
    if inbox.items.is_empty() {
        let _ = write!(
            body,
            r#"<p class="empty" id="inbox-empty">{}</p>"#,
            if unread_only {
                ctx.t("没有未读消息。", "No unread notices.")
            } else {
                ctx.t(
                    "还没有消息。对接有进展、资源审核有结果时，这里会通知您。",
                    "No notices yet. You are told here when a deal moves or a review of your listing is decided.",
                )
            }
        );
    } else {
        body.push_str(r#"<ul class="notice-list" id="inbox-items">"#);
        for item in &inbox.items {
            body.push_str(&item_html(&ctx, item));
        }
        body.push_str("</ul>");
        let pages = inbox.total.div_ceil(u64::from(PAGE_SIZE));
        if pages > 1 {
            let base = if unread_only { "/inbox?unread=1&" } else { "/inbox?" };
            let _ = write!(body, r#"<p class="pager">"#);
            if page > 1 {
                let _ = write!(body, r#"<a href="{base}page={}">{}</a> "#, page - 1, ctx.t("上一页", "Previous"));
            }
            if page < pages {
                let _ = write!(body, r#"<a href="{base}page={}">{}</a>"#, page + 1, ctx.t("下一页", "Next"));
            }
            body.push_str("</p>");
        }
    }
    ctx.render(StatusCode::OK, ctx.t("消息", "Inbox"), &body)
}

/// `POST /inbox/{id}/read`.
pub async fn read_one(ctx: PageCtx, State(state): State<AppState>, Path(raw_id): Path<String>) -> Response {
    let Ok(id) = raw_id.parse::<i64>() else {
        return ctx.not_found(&format!("{}{raw_id}", ctx.t("没有这条消息：", "No such notice: ")));
    };
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.mark_read(&actor, id)?)).await {
        Ok(()) => see_other("/inbox"),
        Err(err) => ctx.error_page(err),
    }
}

/// `POST /inbox/read-all`.
pub async fn read_all(ctx: PageCtx, State(state): State<AppState>) -> Response {
    let actor = ctx.caller.actor();
    match state.blocking(move |app| Ok(app.mark_all_read(&actor)?)).await {
        Ok(_) => see_other("/inbox"),
        Err(err) => ctx.error_page(err),
    }
}
