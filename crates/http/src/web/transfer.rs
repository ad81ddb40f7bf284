//! `/transfer`: download column templates, upload a spreadsheet for import with a per-row report,
//! and export whole libraries. Importing needs a login: rows are owned by the user's organisation.

use std::fmt::Write;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use xietong_domain::Kind;
use xietong_transfer::ProblemKind;

use super::{PageCtx, encode_component, esc, labels};
use crate::state::AppState;

/// Rows of problems shown on the page; the downloadable report has all of them.
const SHOWN_PROBLEMS: usize = 200;

fn kind_options(ctx: &PageCtx, selected: Option<Kind>) -> String {
    Kind::ALL
        .iter()
        .map(|kind| {
            let mark = if Some(*kind) == selected { " selected" } else { "" };
            format!(r#"<option value="{}"{mark}>{}</option>"#, kind.as_str(), labels::kind_label(*kind, ctx.lang))
        })
        .collect()
}

/// The upload form, or a login hint for visitors. The multipart body is not read by the CSRF
/// check, so the token travels in the query.
fn import_form(ctx: &PageCtx, selected: Option<Kind>) -> String {
    if ctx.caller.principal().is_none() {
        return format!(
            r#"<p class="notice info" id="import-login">{} <a href="{}">{}</a></p>"#,
            ctx.t(
                "批量导入的资源归属于您的机构，请先登录。",
                "Imported rows belong to your organisation, so log in first."
            ),
            esc(&ctx.login_href()),
            ctx.t("登录", "Log in"),
        );
    }
    format!(
        r#"<form method="post" action="/transfer/import{csrf}" enctype="multipart/form-data" class="import-form">
<p><label for="import-kind">{l_kind}</label> <select id="import-kind" name="kind">{kinds}</select></p>
<p><label for="import-file">{l_file}</label> <input id="import-file" name="file" type="file" accept=".csv,.xlsx,.xls,.ods" required aria-describedby="import-help"></p>
<p id="import-help" class="help">{help}</p>
<p><button type="submit">{submit}</button></p>
</form>"#,
        csrf = esc(&ctx.csrf_query()),
        l_kind = ctx.t("资源类型", "Kind"),
        l_file = ctx.t("文件", "File"),
        kinds = kind_options(ctx, selected),
        help = ctx.t("CSV（UTF-8 或 GB18030）或 Excel。每行按发布规则校验；有问题的行会逐行列出原因，已导入过的行（相同外部编号或统一社会信用代码）不会重复导入。导入的资源归属于您的机构。", "CSV (UTF-8 or GB18030) or Excel. Every row is checked like a publication; rejected rows are listed with their reasons, and rows already imported (same external id or USCC) are not stored twice. Imported listings belong to your organisation."),
        submit = ctx.t("上传并导入", "Upload and import"),
    )
}

fn forms(ctx: &PageCtx, selected: Option<Kind>) -> String {
    let mut templates = String::new();
    for kind in Kind::ALL {
        let _ = write!(
            templates,
            r#"<li>{label}: <a href="/api/v1/templates/{k}?format=xlsx">Excel</a> · <a href="/api/v1/templates/{k}?format=csv">CSV</a></li>"#,
            label = labels::kind_label(kind, ctx.lang),
            k = kind.as_str(),
        );
    }
    format!(
        r#"<section class="card"><h2>{h_tpl}</h2><p>{p_tpl}</p><ul class="template-links">{templates}</ul></section>
<section class="card"><h2>{h_imp}</h2>
{import}</section>
<section class="card"><h2>{h_exp}</h2>
<form method="get" action="/api/v1/exports" class="export-form">
<p><label for="export-kind">{l_kind}</label> <select id="export-kind" name="kind">{kinds}</select>
<label for="export-format">{l_format}</label> <select id="export-format" name="format"><option value="xlsx">Excel</option><option value="csv">CSV</option></select>
<button type="submit">{export}</button></p>
<p class="help">{exp_help}</p>
</form></section>"#,
        h_tpl = ctx.t("下载模板", "Download a template"),
        p_tpl = ctx.t("每类资源一个模板：中文表头（也接受英文字段名），Excel 模板第二页说明每一列及取值。", "One template per kind: Chinese headers (English field names are accepted too); the Excel template's second sheet explains every column."),
        h_imp = ctx.t("批量导入", "Import a spreadsheet"),
        import = import_form(ctx, selected),
        l_kind = ctx.t("资源类型", "Kind"),
        kinds = kind_options(ctx, selected),
        h_exp = ctx.t("导出资源库", "Export a library"),
        l_format = ctx.t("格式", "Format"),
        export = ctx.t("导出", "Export"),
        exp_help = ctx.t("列与模板一致，可修改后再导入。只导出您可查看的资源；联系方式已脱敏（本机构的除外）。检索结果页也可导出当前结果。", "Same columns as the template, so the file can be edited and imported again. Only listings you may see are exported; contact details are masked except your organisation's. The search page exports its current results too."),
    )
}

/// `GET /transfer`.
pub async fn page(ctx: PageCtx) -> Response {
    let body = format!("<h1>{}</h1>{}", ctx.t("导入导出", "Import and export"), forms(&ctx, None));
    ctx.render(StatusCode::OK, ctx.t("导入导出", "Import and export"), &body)
}

/// `POST /transfer/import`: runs the import and shows its report.
pub async fn import(ctx: PageCtx, State(state): State<AppState>, mut multipart: Multipart) -> Response {
    let mut kind = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => return failure(&ctx, kind, &format!("{}: {err}", ctx.t("上传失败", "Upload failed"))),
        };
        match field.name() {
            Some("kind") => kind = field.text().await.ok().and_then(|t| t.parse::<Kind>().ok()),
            Some("file") => {
                let name = field.file_name().unwrap_or("upload.csv").to_string();
                match field.bytes().await {
                    Ok(bytes) => file = Some((name, bytes.to_vec())),
                    Err(err) => return failure(&ctx, kind, &format!("{}: {err}", ctx.t("上传失败", "Upload failed"))),
                }
            }
            _ => {}
        }
    }
    let Some(kind) = kind else {
        return failure(&ctx, None, ctx.t("请选择资源类型。", "Choose a kind."));
    };
    let Some((name, bytes)) = file.filter(|(_, bytes)| !bytes.is_empty()) else {
        return failure(&ctx, Some(kind), ctx.t("请选择要上传的文件。", "Choose a file to upload."));
    };
    let actor = ctx.caller.actor();
    let file_name = name.clone();
    let report = match state.blocking(move |app| Ok(app.import_rows(&actor, kind, &file_name, &bytes)?)).await {
        Ok(report) => report,
        Err(crate::error::ApiError::BadRequest { detail, .. }) => return failure(&ctx, Some(kind), &detail),
        Err(crate::error::ApiError::Forbidden(detail)) => return failure(&ctx, Some(kind), &detail),
        Err(err) => return ctx.error_page(err),
    };
    let mut html = format!(
        r#"<h1>{h}</h1><p role="status" id="import-summary">{file}: {rows} {l_rows} · <strong>{accepted}</strong> {l_acc} · {updated} {l_upd} · <strong>{rejected}</strong> {l_rej} · {dups} {l_dup}</p>"#,
        h = ctx.t("导入结果", "Import result"),
        file = esc(&name),
        rows = report.rows,
        l_rows = ctx.t("行", "rows"),
        accepted = report.accepted,
        l_acc = ctx.t("条已导入", "accepted"),
        updated = report.updated,
        l_upd = ctx.t("条已更新", "updated"),
        rejected = report.rejected,
        l_rej = ctx.t("条被拒绝", "rejected"),
        dups = report.duplicates(),
        l_dup = ctx.t("条重复已跳过", "duplicates skipped"),
    );
    if !report.problems.is_empty() {
        let csv = xietong_transfer::error_report_csv(&report);
        let _ = write!(
            html,
            r#"<p><a id="error-report" download="{name}.errors.csv" href="data:text/csv;charset=utf-8,{data}">{label}</a></p><table class="problems"><thead><tr><th scope="col">{c_row}</th><th scope="col">{c_col}</th><th scope="col">{c_val}</th><th scope="col">{c_reason}</th></tr></thead><tbody>"#,
            name = esc(&name),
            data = encode_component(&String::from_utf8_lossy(&csv)),
            label = ctx.t("下载问题报告（CSV）", "Download the problem report (CSV)"),
            c_row = ctx.t("行", "Row"),
            c_col = ctx.t("列", "Column"),
            c_val = ctx.t("值", "Value"),
            c_reason = ctx.t("原因", "Reason"),
        );
        for problem in report.problems.iter().take(SHOWN_PROBLEMS) {
            let reason = match ctx.lang {
                super::Lang::Zh => &problem.reason_zh,
                super::Lang::En => &problem.reason_en,
            };
            let class = if problem.kind == ProblemKind::Duplicate { "duplicate" } else { "invalid" };
            let _ = write!(
                html,
                r#"<tr class="{class}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                problem.row,
                esc(&problem.column),
                esc(&problem.value),
                esc(reason)
            );
        }
        html.push_str("</tbody></table>");
        if report.problems.len() > SHOWN_PROBLEMS {
            let _ = write!(
                html,
                "<p>{} {}</p>",
                ctx.t(
                    "仅显示前 200 条，完整列表见问题报告。共",
                    "Only the first 200 are shown; the report has all. Total:"
                ),
                report.problems.len()
            );
        }
    }
    let _ = write!(
        html,
        r#"<p><a href="/search?kind={}">{}</a></p>"#,
        kind.as_str(),
        ctx.t("查看该类资源", "Browse this library")
    );
    html.push_str(&forms(&ctx, Some(kind)));
    ctx.render(StatusCode::OK, ctx.t("导入结果", "Import result"), &html)
}

fn failure(ctx: &PageCtx, kind: Option<Kind>, message: &str) -> Response {
    let body = format!(
        r#"<h1>{}</h1><p class="notice error" role="alert" id="import-error">{}</p>{}"#,
        ctx.t("导入导出", "Import and export"),
        esc(message),
        forms(ctx, kind)
    );
    ctx.render(StatusCode::BAD_REQUEST, ctx.t("导入失败", "Import failed"), &body)
}
