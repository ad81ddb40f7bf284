//! The audit trail page (`/audit`) for region operators (entries of their region) and the
//! platform admin (all entries): filters by action prefix and actor, 50 entries a page, and a
//! link to the CSV export of the same filters.

use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use xietong_app::types::AuditEntry;
use xietong_domain::ListingId;

use super::{PageCtx, encode_query, esc, labels};
use crate::state::AppState;

/// Entries per page.
const PAGE_SIZE: u32 = 50;

/// Query of `GET /audit`.
#[derive(Debug, Default, Deserialize)]
pub struct AuditPageParams {
    /// Only actions starting with this.
    pub action: Option<String>,
    /// Only this actor (username).
    pub actor: Option<String>,
    /// 1-based page number.
    pub page: Option<String>,
}

impl AuditPageParams {
    fn action(&self) -> String {
        self.action.as_deref().unwrap_or("").trim().to_string()
    }

    fn actor(&self) -> String {
        self.actor.as_deref().unwrap_or("").trim().to_string()
    }

    fn page(&self) -> u64 {
        self.page.as_deref().and_then(|p| p.trim().parse::<u64>().ok()).filter(|p| *p >= 1).unwrap_or(1)
    }

    /// The non-empty filters as query pairs.
    fn filter_pairs(&self) -> Vec<(String, String)> {
        [("action", self.action()), ("actor", self.actor())]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    fn href_page(&self, page: u64) -> String {
        let mut pairs = self.filter_pairs();
        if page > 1 {
            pairs.push(("page".to_string(), page.to_string()));
        }
        if pairs.is_empty() { "/audit".to_string() } else { format!("/audit?{}", encode_query(&pairs)) }
    }

    fn csv_href(&self) -> String {
        let mut pairs = vec![("format".to_string(), "csv".to_string())];
        pairs.extend(self.filter_pairs());
        format!("/api/v1/audit?{}", encode_query(&pairs))
    }
}

/// `GET /audit`
pub async fn page(ctx: PageCtx, State(state): State<AppState>, Query(params): Query<AuditPageParams>) -> Response {
    if ctx.caller.principal().is_none() {
        return ctx.login_required();
    }
    let caller = ctx.caller.actor();
    let (action, actor) = (params.action(), params.actor());
    let offset = (params.page() - 1).saturating_mul(u64::from(PAGE_SIZE));
    let found = match crate::params::page_offset(Some(offset)) {
        Ok(offset) => {
            state.blocking(move |app| Ok(app.audit_trail(&caller, Some(action), Some(actor), PAGE_SIZE, offset)?)).await
        }
        Err(err) => Err(err),
    };
    match found {
        Ok((entries, total)) => {
            ctx.render(StatusCode::OK, ctx.t("审计日志", "Audit trail"), &render(&ctx, &params, &entries, total))
        }
        Err(err) => ctx.error_page(err),
    }
}

/// A time in China Standard Time, to the second.
fn when(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    at.to_offset(time::macros::offset!(+8)).format(&format).unwrap_or_default()
}

fn render(ctx: &PageCtx, params: &AuditPageParams, entries: &[AuditEntry], total: u64) -> String {
    let mut html = format!(
        r#"<h1>{}</h1><p class="hint">{}</p>"#,
        ctx.t("审计日志", "Audit trail"),
        ctx.t(
            "记录所有写操作、登录和个人信息查看。区域运营人员看到本区域的记录，平台管理员看到全部记录。",
            "Every write, login and view of personal data. Region operators see the entries of their region; the platform admin sees all."
        ),
    );
    let _ = write!(
        html,
        r#"<form method="get" action="/audit" class="audit-filters" id="audit-filters">
<div class="field"><label for="audit-action">{l_action}</label><input type="text" id="audit-action" name="action" value="{action}" placeholder="review." spellcheck="false"></div>
<div class="field"><label for="audit-actor">{l_actor}</label><input type="text" id="audit-actor" name="actor" value="{actor}" autocapitalize="none" spellcheck="false"></div>
<p><button type="submit">{filter}</button> <a href="/audit">{clear}</a> · <a class="button secondary" id="audit-csv" href="{csv}" download>{export}</a></p>
</form>"#,
        l_action = ctx.t("操作（前缀）", "Action (prefix)"),
        action = esc(&params.action()),
        l_actor = ctx.t("操作人（用户名）", "Actor (username)"),
        actor = esc(&params.actor()),
        filter = ctx.t("筛选", "Filter"),
        clear = ctx.t("清除筛选", "Clear filters"),
        csv = esc(&params.csv_href()),
        export = ctx.t("导出 CSV", "Export CSV"),
    );
    let page = params.page();
    let pages = total.div_ceil(u64::from(PAGE_SIZE)).max(1);
    let _ = write!(html, r#"<p id="audit-total">{} {total}</p>"#, ctx.t("符合条件的记录：", "Matching entries:"));
    if entries.is_empty() {
        let _ = write!(
            html,
            r#"<p class="empty-state" id="audit-empty">{}</p>"#,
            if total > 0 {
                ctx.t("这一页没有记录。", "No entries on this page.")
            } else {
                ctx.t("没有符合条件的记录。可以清除筛选后再看。", "No entries match. Try clearing the filters.")
            }
        );
    } else {
        let _ = write!(
            html,
            r#"<div class="table-scroll"><table class="data-table" id="audit-table"><thead><tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
            ctx.t("时间", "Time"),
            ctx.t("操作人", "Actor"),
            ctx.t("操作", "Action"),
            ctx.t("对象", "Target"),
            ctx.t("地区", "Region"),
            ctx.t("地址", "Address"),
        );
        for entry in entries {
            let target = match entry.target.parse::<ListingId>() {
                Ok(id) => format!(r#"<a href="/listings/{id}">{id}</a>"#),
                Err(_) => esc(&entry.target),
            };
            let region =
                entry.region_code.as_deref().map(|code| labels::region_name(code, ctx.lang)).unwrap_or_default();
            let _ = write!(
                html,
                r#"<tr data-seq="{seq}" data-action="{action}"><td>{at}</td><td>{actor}</td><td><code>{action}</code></td><td>{target}</td><td>{region}</td><td>{ip}</td></tr>"#,
                seq = entry.seq,
                at = when(entry.at),
                actor = esc(&entry.actor),
                action = esc(&entry.action),
                region = esc(&region),
                ip = esc(entry.ip.as_deref().unwrap_or("")),
            );
        }
        html.push_str("</tbody></table></div>");
    }
    if pages > 1 || page > 1 {
        html.push_str(&pagination(ctx, params, page, pages));
    }
    html
}

fn pagination(ctx: &PageCtx, params: &AuditPageParams, page: u64, pages: u64) -> String {
    let mut html = format!(r#"<nav class="pagination" aria-label="{}"><ul>"#, ctx.t("分页", "Pages"));
    if page > 1 {
        let _ = write!(
            html,
            r#"<li><a rel="prev" href="{}">{}</a></li>"#,
            esc(&params.href_page((page - 1).min(pages))),
            ctx.t("上一页", "Previous")
        );
    }
    let _ = write!(
        html,
        r#"<li><span>{}</span></li>"#,
        match ctx.lang {
            super::Lang::Zh => format!("第 {page} / {pages} 页"),
            super::Lang::En => format!("Page {page} of {pages}"),
        }
    );
    if page < pages {
        let _ = write!(
            html,
            r#"<li><a rel="next" href="{}">{}</a></li>"#,
            esc(&params.href_page(page + 1)),
            ctx.t("下一页", "Next")
        );
    }
    html.push_str("</ul></nav>");
    html
}
