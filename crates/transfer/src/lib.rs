//! Spreadsheet import and export of listings (issue 7).
//!
//! * Templates per kind: [`template_csv`], [`template_xlsx`] (Chinese headers; English field names
//!   are accepted on import; a second sheet explains every column).
//! * Import: [`import_bytes`] reads CSV (UTF-8, UTF-8 with BOM, GB18030 and other encodings
//!   detected with chardetng) or XLSX (calamine), validates every row with the domain rules, finds
//!   duplicates, and writes valid rows through [`Store::write_batch`] in batches. Problems are in
//!   [`ImportReport::problems`]; render them with [`error_report_csv`] / [`error_report_xlsx`].
//! * Export: [`export_csv`], [`export_xlsx`] in the template's columns, so an export imports back
//!   unchanged.
//!
//! This crate knows nothing of HTTP or the command line; both call these functions.
//!
//! [`Store::write_batch`]: xietong_store::Store::write_batch

mod cells;
mod columns;
mod export;
mod import;
mod read;

use xietong_domain::Kind;
use xietong_store::StoreError;

pub use cells::guard as formula_guard;
pub use columns::{CellType, ColumnSpec, columns};
pub use export::{
    error_report_csv, error_report_xlsx, export_csv, export_xlsx, headers, mask_contact_value, table_csv, table_xlsx,
    template_csv, template_xlsx,
};
pub use import::{
    DEFAULT_BATCH_ROWS, ImportOptions, ImportProgress, ImportReport, ProblemKind, RowProblem, import_bytes,
    import_bytes_with,
};
pub use read::{CellProblem, FileFormat, MAX_CELL_BYTES, Table, TableRow, read_table};

/// File-level failures of an import or export. Row-level problems are not errors; they are in the
/// [`ImportReport`].
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{file} is empty (文件为空)")]
    EmptyFile { file: String },
    #[error("cannot read {file} (无法读取文件): {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file} has no header row (文件没有表头行)")]
    NoHeader { file: String },
    #[error(
        "{file} has no column of the {kind} template (没有可识别的列); headers found: {headers:?}; run `xietong template {kind}` for the expected columns"
    )]
    NoKnownColumns { file: String, kind: Kind, headers: Vec<String> },
    #[error("{file} looks like a {found} file, not {kind} (文件类型不符：像是{}数据)", found.label_zh())]
    WrongKind { file: String, kind: Kind, found: Kind },
    #[error("{file} lacks required columns for {kind} (缺少必填列): {}", missing.join(", "))]
    MissingColumns { file: String, kind: Kind, missing: Vec<String> },
    #[error("{file}: headers {first:?} and {second:?} both name the column {field} (列重复)")]
    DuplicateColumn { file: String, field: String, first: String, second: String },
    #[error("storage failed during the import: {0}")]
    Store(#[from] StoreError),
    #[error("failed to write xlsx: {0}")]
    Xlsx(String),
}
