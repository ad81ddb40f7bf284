//! Spreadsheets through the API: column templates, import with a per-row report, and export of a
//! library, a filtered list or a search result, in the template's columns.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use xietong_app::transfer::ExportSource;
use xietong_app::types::{ListFilter, ListSort};
use xietong_domain::{Kind, Listing};
use xietong_transfer::{ImportReport, ProblemKind};

use super::search::{SearchParams, to_query};
use super::{industry_param, parse_param, region_param};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::ApiQuery;
use crate::state::AppState;

/// Largest spreadsheet accepted by the import route.
pub const IMPORT_LIMIT_BYTES: usize = 64 * 1024 * 1024;
/// Most rows one export may hold.
const EXPORT_MAX_ROWS: usize = 100_000;

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn kind_param(raw: &str) -> ApiResult<Kind> {
    raw.parse().map_err(|err: String| ApiError::bad_param("kind", err))
}

/// `csv` or `xlsx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    Xlsx,
}

pub(crate) fn format_param(raw: Option<&str>) -> ApiResult<Format> {
    match raw.map(str::trim) {
        None | Some("") | Some("csv") => Ok(Format::Csv),
        Some("xlsx") => Ok(Format::Xlsx),
        Some(other) => Err(ApiError::bad_param("format", format!("unknown format {other:?}; use csv or xlsx"))),
    }
}

pub(crate) fn attachment(format: Format, stem: &str, bytes: Vec<u8>) -> Response {
    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (XLSX_TYPE, "xlsx"),
    };
    let disposition = format!("attachment; filename=\"{stem}.{extension}\"");
    ([(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response()
}

/// Query of the template route.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FormatParams {
    /// csv (default) or xlsx; the XLSX has a second sheet explaining each column.
    pub format: Option<String>,
}

/// Column template of one kind: Chinese headers (English field names are accepted on import).
#[utoipa::path(get, path = "/api/v1/templates/{kind}", tag = "transfer",
    params(("kind" = String, Path, description = "talent, achievement, scenario, facility, enterprise, demand or challenge"), FormatParams),
    responses((status = 200, description = "The template file"), (status = 400, body = Problem)))]
pub async fn template(Path(kind): Path<String>, ApiQuery(params): ApiQuery<FormatParams>) -> ApiResult<Response> {
    let kind = kind_param(&kind)?;
    let format = format_param(params.format.as_deref())?;
    let bytes = match format {
        Format::Csv => xietong_transfer::template_csv(kind),
        Format::Xlsx => xietong_transfer::template_xlsx(kind).map_err(ApiError::from)?,
    };
    Ok(attachment(format, &format!("xietong-{kind}-template"), bytes))
}

/// Query of the import route.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportParams {
    /// The file's name; its extension (.csv or .xlsx) tells the format.
    pub file_name: Option<String>,
}

/// One rejected or duplicate row of an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProblemDto {
    /// 1-based data row (header excluded).
    pub row: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
    pub reason_zh: String,
    /// invalid or duplicate.
    pub problem: String,
    pub existing_id: Option<String>,
    pub duplicate_of_row: Option<u64>,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportSummary {
    pub rows: u64,
    pub accepted: u64,
    pub updated: u64,
    pub rejected: u64,
    /// unchanged + likely_duplicates.
    pub duplicates: u64,
    pub unchanged: u64,
    pub likely_duplicates: u64,
    pub encoding: Option<String>,
    pub ignored_columns: Vec<String>,
    pub problems: Vec<ImportProblemDto>,
}

/// Converts a report to the wire shape.
pub fn summary(report: &ImportReport) -> ImportSummary {
    ImportSummary {
        rows: report.rows,
        accepted: report.accepted,
        updated: report.updated,
        rejected: report.rejected,
        duplicates: report.duplicates(),
        unchanged: report.unchanged,
        likely_duplicates: report.likely_duplicates,
        encoding: report.encoding.map(str::to_string),
        ignored_columns: report.ignored_columns.clone(),
        problems: report
            .problems
            .iter()
            .map(|p| ImportProblemDto {
                row: p.row,
                column: p.column.clone(),
                value: p.value.clone(),
                reason: p.reason_en.clone(),
                reason_zh: p.reason_zh.clone(),
                problem: match p.kind {
                    ProblemKind::Invalid => "invalid",
                    ProblemKind::Duplicate => "duplicate",
                }
                .to_string(),
                existing_id: p.existing_id.map(|id| id.to_string()),
                duplicate_of_row: p.duplicate_of_row,
            })
            .collect(),
    }
}

/// Imports a CSV (UTF-8, UTF-8 with BOM, GB18030) or XLSX file of one kind, sent as the raw
/// request body. Every row is validated like the API; valid rows are stored, each rejected row is
/// reported with its reason, and rows already stored (same external id or USCC) are not stored
/// twice. Rows are owned by the caller's organisation; rows naming another organisation, or
/// matching another organisation's listing, are rejected (the platform admin imports for anyone).
#[utoipa::path(post, path = "/api/v1/imports/{kind}", tag = "transfer",
    params(("kind" = String, Path, description = "Kind of the rows"), ImportParams),
    request_body(content = Vec<u8>, description = "The file's bytes", content_type = "application/octet-stream"),
    responses((status = 200, body = ImportSummary), (status = 400, body = Problem), (status = 413, body = Problem)))]
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
    ApiQuery(params): ApiQuery<ImportParams>,
    bytes: Bytes,
) -> ApiResult<Json<ImportSummary>> {
    let kind = kind_param(&kind)?;
    let file_name = params.file_name.unwrap_or_else(|| "upload.csv".to_string());
    let actor = caller.actor();
    let report = state.blocking(move |app| Ok(app.import_rows(&actor, kind, &file_name, &bytes)?)).await?;
    Ok(Json(summary(&report)))
}

/// Query of the export route: a kind, a format, and either search parameters (`q` and filters,
/// exporting the search result) or list filters (exporting the library or a filtered list).
#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportParams {
    pub kind: String,
    /// csv (default) or xlsx.
    pub format: Option<String>,
    /// Free text: export the search result instead of the list.
    pub q: Option<String>,
    pub region: Option<String>,
    pub industry: Option<String>,
    /// draft, published or archived (list exports only).
    pub status: Option<String>,
    pub trl_min: Option<u8>,
    pub trl_max: Option<u8>,
}

/// Exports listings in the template's columns (so the file imports back unchanged). Contact
/// details are masked in exports served over HTTP, except the caller's own organisation's; only
/// listings the caller may see are exported.
#[utoipa::path(get, path = "/api/v1/exports", tag = "transfer", params(ExportParams),
    responses((status = 200, description = "The exported file"), (status = 400, body = Problem)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    let kind = kind_param(&params.kind)?;
    let format = format_param(params.format.as_deref())?;
    let listings = collect_export(&state, &caller, kind, &params).await?;
    let bytes = match format {
        Format::Csv => xietong_transfer::export_csv(kind, &listings, false),
        Format::Xlsx => xietong_transfer::export_xlsx(kind, &listings, false).map_err(ApiError::from)?,
    };
    Ok(attachment(format, &format!("xietong-{kind}-export"), bytes))
}

async fn collect_export(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    params: &ExportParams,
) -> ApiResult<Vec<Listing>> {
    let searching = params.q.as_deref().is_some_and(|q| !q.trim().is_empty())
        || params.trl_min.is_some()
        || params.trl_max.is_some();
    let source = if searching {
        let search = SearchParams {
            q: params.q.clone(),
            kind: Some(kind.as_str().to_string()),
            region: params.region.clone(),
            industry: params.industry.clone(),
            trl_min: params.trl_min,
            trl_max: params.trl_max,
            ..Default::default()
        };
        ExportSource::Search(to_query(&search)?)
    } else {
        ExportSource::List(ListFilter {
            kind: Some(kind),
            region: region_param(params.region.as_deref())?,
            industry: industry_param(params.industry.as_deref())?,
            status: parse_param("status", params.status.as_deref())?,
            sort: ListSort::Oldest,
            ..ListFilter::default()
        })
    };
    let actor = caller.actor();
    let work = move |app: &xietong_app::App| Ok(app.export_listings(&actor, source, EXPORT_MAX_ROWS)?);
    if searching { state.read_work(work).await } else { state.blocking(work).await }
}
