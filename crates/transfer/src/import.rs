//! Importing a table of rows into the store: header mapping, per-row validation with the domain
//! rules, deduplication against the file and the store, and batched transactional writes.
//!
//! Crash safety comes from two facts: each batch is one transaction (`Store::write_batch`), and a
//! rerun finds every committed row again by its key (`id`, `external_id`, `uscc`, or title and
//! owner), compares it and leaves it unchanged. So an import killed at any moment and run again
//! stores every valid row exactly once.

use std::collections::HashMap;

use serde_json::{Map, Value};
use xietong_domain::{Kind, Listing, ListingBody, ListingId, Reference, Status, validate};
use xietong_store::{ListingKey, Store, StoreError, WriteOp};

use crate::TransferError;
use crate::cells::{CellError, Resolver, parse_cell, unguard};
use crate::columns::{CellType, ColumnSpec, columns, match_header, other_kinds_with_header};
use crate::read::{FileFormat, Table, TableRow, read_table};

/// Rows written per transaction by default.
pub const DEFAULT_BATCH_ROWS: usize = 500;

/// How far an import has got; passed to the progress callback after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    /// Data rows processed so far (written, skipped or rejected).
    pub rows_done: u64,
    /// Data rows in the file.
    pub rows_total: u64,
}

/// Tuning and restrictions of an import. The default imports without restrictions, as the
/// operator's command-line import does.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Rows per transaction; at least 1.
    pub batch_rows: usize,
    /// The organisations whose listings the importing user manages, the default owner first
    /// (`None`: no restriction). With `Some(orgs)`:
    ///
    /// * a row with an empty `owner_org` gets `orgs[0]` (before its keys are looked up, so a
    ///   re-import of the same file finds the rows stored the first time) — except a row that
    ///   matches a stored listing of one of `orgs`, which keeps that listing's owner;
    /// * a row naming an owner not in `orgs` is rejected (column `owner_org`);
    /// * a row matching a stored listing whose owner is not in `orgs` is rejected (column `id`,
    ///   or the key column it matched by).
    ///
    /// An empty list rejects every row.
    pub owners: Option<Vec<String>>,
    /// GB/T 2260 codes of regions where publication needs review: a row that would be stored
    /// `published` and has a region code inside one of them is stored `pending` instead.
    pub pending_regions: Vec<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { batch_rows: DEFAULT_BATCH_ROWS, owners: None, pending_regions: Vec::new() }
    }
}

/// Why a row appears in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The row breaks a rule and was not stored.
    Invalid,
    /// The row looks like a listing that already exists (in the store or earlier in the file) and
    /// was not stored; review it.
    Duplicate,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Invalid => "invalid",
            ProblemKind::Duplicate => "duplicate",
        }
    }
}

/// One problem of one row; a row with three bad cells has three problems.
#[derive(Debug, Clone, PartialEq)]
pub struct RowProblem {
    /// 1-based data row (the header row is not counted).
    pub row: u64,
    /// The column's header as written in the file (or the template's header when the column is
    /// missing); empty for problems of the whole row.
    pub column: String,
    /// The cell's text (cut to 200 characters).
    pub value: String,
    pub reason_zh: String,
    pub reason_en: String,
    pub kind: ProblemKind,
    /// The stored listing a duplicate matches.
    pub existing_id: Option<ListingId>,
    /// The earlier row of the same file a duplicate matches.
    pub duplicate_of_row: Option<u64>,
}

/// The outcome of an import. `rows = accepted + updated + duplicates() + rejected`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportReport {
    pub kind: Kind,
    pub file_name: String,
    pub format: FileFormat,
    /// Encoding of a CSV file.
    pub encoding: Option<&'static str>,
    /// Non-blank data rows.
    pub rows: u64,
    /// Entirely empty rows, skipped.
    pub blank_rows: u64,
    /// New listings created.
    pub accepted: u64,
    /// Existing listings (found by id, external id or USCC) changed.
    pub updated: u64,
    /// Rows identical to a stored listing; nothing written.
    pub unchanged: u64,
    /// Rows that look like an existing listing or an earlier row but differ; not written, listed
    /// in `problems` for review.
    pub likely_duplicates: u64,
    /// Rows with at least one invalid cell; not written.
    pub rejected: u64,
    /// Headers that name no column of this kind; their cells were not imported.
    pub ignored_columns: Vec<String>,
    pub problems: Vec<RowProblem>,
}

impl ImportReport {
    /// Rows skipped as duplicates: unchanged rows plus likely duplicates.
    pub fn duplicates(&self) -> u64 {
        self.unchanged + self.likely_duplicates
    }
}

/// Imports a CSV or XLSX file of `kind` listings given as bytes.
pub fn import_bytes(
    store: &dyn Store,
    kind: Kind,
    file_name: &str,
    bytes: &[u8],
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport, TransferError> {
    import_bytes_with(store, kind, file_name, bytes, &ImportOptions::default(), progress)
}

/// [`import_bytes`] with explicit options.
pub fn import_bytes_with(
    store: &dyn Store,
    kind: Kind,
    file_name: &str,
    bytes: &[u8],
    options: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport, TransferError> {
    let table = read_table(file_name, bytes)?;
    import_table(store, kind, file_name, table, options, progress)
}

/// Maps each header of the file to a column of `kind`, or fails with a file-level error.
pub(crate) struct HeaderMap {
    pub by_index: Vec<Option<&'static ColumnSpec>>,
    pub ignored: Vec<String>,
}

pub(crate) fn map_headers(kind: Kind, file_name: &str, headers: &[String]) -> Result<HeaderMap, TransferError> {
    let mut by_index = Vec::with_capacity(headers.len());
    let mut ignored = Vec::new();
    let mut seen: HashMap<&'static str, &str> = HashMap::new();
    let mut other_kinds: Vec<Kind> = Vec::new();
    for header in headers {
        if header.trim().is_empty() {
            by_index.push(None);
            continue;
        }
        let Some(spec) = match_header(kind, header) else {
            other_kinds.extend(other_kinds_with_header(kind, header));
            ignored.push(header.clone());
            by_index.push(None);
            continue;
        };
        if let Some(first) = seen.insert(spec.field, header) {
            return Err(TransferError::DuplicateColumn {
                file: file_name.to_string(),
                field: spec.field.to_string(),
                first: first.to_string(),
                second: header.clone(),
            });
        }
        by_index.push(Some(spec));
    }
    let all = columns(kind);
    let own_kind_columns = all.iter().filter(|spec| !is_core(spec.field)).any(|spec| seen.contains_key(spec.field));
    if let Some(found) = other_kinds.first()
        && !own_kind_columns
    {
        return Err(TransferError::WrongKind { file: file_name.to_string(), kind, found: *found });
    }
    if seen.is_empty() {
        return Err(TransferError::NoKnownColumns { file: file_name.to_string(), kind, headers: headers.to_vec() });
    }
    let missing: Vec<String> = all
        .iter()
        .filter(|spec| spec.required && !seen.contains_key(spec.field))
        .map(|spec| format!("{} ({})", spec.header_zh, spec.field))
        .collect();
    if !missing.is_empty() {
        return Err(TransferError::MissingColumns { file: file_name.to_string(), kind, missing });
    }
    Ok(HeaderMap { by_index, ignored })
}

fn is_core(field: &str) -> bool {
    columns(Kind::Talent).iter().any(|spec| spec.field == field)
        && columns(Kind::Challenge).iter().any(|spec| spec.field == field)
}

/// A key under which a row may repeat an earlier row of the same file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileKey {
    Listing(ListingId),
    External(Option<String>, String),
    Uscc(String),
    TitleOwner(String, Option<String>),
}

/// What the cells of a row say, before looking at the store.
struct ParsedRow {
    /// Field values to set (`None` = clear the field).
    patch: Vec<(&'static str, Option<Value>)>,
    problems: Vec<RowProblem>,
    id: Option<ListingId>,
    external_id: Option<String>,
    owner_org: Option<String>,
    /// The owner cell was empty and `owner_org` is the default owner of a restricted import.
    owner_defaulted: bool,
    uscc: Option<String>,
    title: String,
    /// Column field -> the cell's text, for reporting validation errors.
    raw: HashMap<&'static str, String>,
}

impl ParsedRow {
    fn is_keyed(&self) -> bool {
        self.id.is_some() || self.external_id.is_some() || self.uscc.is_some()
    }

    /// Sets the owner, in the keys and in the fields to write.
    fn set_owner(&mut self, owner: &str) {
        self.owner_org = Some(owner.to_string());
        self.patch.retain(|(field, _)| *field != "owner_org");
        self.patch.push(("owner_org", Some(Value::String(owner.to_string()))));
    }
}

/// State of one import run.
struct Importer<'a> {
    store: &'a dyn Store,
    kind: Kind,
    headers: &'a [String],
    map: &'a HeaderMap,
    resolver: Resolver,
    options: &'a ImportOptions,
    /// Keys of the rows seen so far: the row and the stored listing it matched, if any.
    file_keys: HashMap<FileKey, (u64, Option<ListingId>)>,
    pending: Vec<(u64, WriteOp)>,
    report: ImportReport,
}

const MAX_REPORTED_VALUE_CHARS: usize = 200;

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_REPORTED_VALUE_CHARS {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(MAX_REPORTED_VALUE_CHARS).collect();
        short.push('…');
        short
    }
}

fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() { None } else { Some(trimmed.to_string()) }
}

impl Importer<'_> {
    fn header_of(&self, field: &str) -> String {
        if let Some(index) = self.map.by_index.iter().position(|spec| spec.is_some_and(|s| s.field == field)) {
            return self.headers[index].clone();
        }
        match columns(self.kind).into_iter().find(|spec| spec.field == field) {
            Some(spec) => format!("{} ({})", spec.header_zh, spec.field),
            None => field.to_string(),
        }
    }

    fn problem(&self, row: u64, field: &str, value: &str, zh: String, en: String) -> RowProblem {
        RowProblem {
            row,
            column: if field.is_empty() { String::new() } else { self.header_of(field) },
            value: cut(value),
            reason_zh: zh,
            reason_en: en,
            kind: ProblemKind::Invalid,
            existing_id: None,
            duplicate_of_row: None,
        }
    }

    fn parse_row(&mut self, row_number: u64, row: &TableRow) -> ParsedRow {
        let mut parsed = ParsedRow {
            patch: Vec::new(),
            problems: Vec::new(),
            id: None,
            external_id: None,
            owner_org: None,
            owner_defaulted: false,
            uscc: None,
            title: String::new(),
            raw: HashMap::new(),
        };
        let bad_columns: Vec<usize> = row.problems.iter().map(|p| p.column).collect();
        for cell_problem in &row.problems {
            let field = self.map.by_index.get(cell_problem.column).copied().flatten().map(|s| s.field);
            let value = row.cells.get(cell_problem.column).map(String::as_str).unwrap_or("");
            let mut problem = self.problem(
                row_number,
                field.unwrap_or(""),
                value,
                cell_problem.reason_zh.clone(),
                cell_problem.reason_en.clone(),
            );
            if field.is_none() {
                problem.column = self.headers.get(cell_problem.column).cloned().unwrap_or_default();
            }
            parsed.problems.push(problem);
        }
        for (index, cell) in row.cells.iter().enumerate() {
            let Some(spec) = self.map.by_index.get(index).copied().flatten() else {
                let named = self.headers.get(index).is_some_and(|h| !h.trim().is_empty());
                if !named && !cell.trim().is_empty() && !bad_columns.contains(&index) {
                    parsed.problems.push(self.problem(
                        row_number,
                        "",
                        cell,
                        format!("第 {} 列没有表头，其内容无法导入", index + 1),
                        format!("column {} has no header, so its value cannot be imported", index + 1),
                    ));
                }
                continue;
            };
            if bad_columns.contains(&index) {
                continue;
            }
            parsed.raw.insert(spec.field, cell.clone());
            let text = if spec.cell.is_numeric() { cell.trim() } else { unguard(cell.trim()).trim() };
            match spec.field {
                "external_id" => parsed.external_id = non_empty(text),
                "owner_org" => parsed.owner_org = non_empty(text),
                "uscc" => parsed.uscc = non_empty(text).map(|code| code.to_ascii_uppercase()),
                "title" => parsed.title = collapse_spaces(text),
                _ => {}
            }
            if spec.field.starts_with("contact_") && text.contains('*') {
                parsed.problems.push(self.problem(
                    row_number,
                    spec.field,
                    cell,
                    "联系方式似乎是打码后的值（含 *）：请使用未打码的导出文件".to_string(),
                    "contact detail looks masked (contains *): import an export with full contacts".to_string(),
                ));
                continue;
            }
            if text.is_empty() {
                let cleared = if spec.cell == CellType::Text { Some(Value::String(String::new())) } else { None };
                parsed.patch.push((spec.field, cleared));
                continue;
            }
            if spec.cell == CellType::Id {
                match text.parse::<ListingId>() {
                    Ok(id) => parsed.id = Some(id),
                    Err(_) => {
                        let problem = self.problem(
                            row_number,
                            spec.field,
                            cell,
                            format!("“{text}”不是平台编号（UUID）"),
                            format!("{text:?} is not a listing id (UUID)"),
                        );
                        parsed.problems.push(problem);
                    }
                }
                continue;
            }
            match parse_cell(spec.cell, text, &mut self.resolver) {
                Ok(value) => parsed.patch.push((spec.field, Some(value))),
                Err(CellError { zh, en }) => parsed.problems.push(self.problem(row_number, spec.field, cell, zh, en)),
            }
        }
        parsed
    }

    fn find_existing(&mut self, row_number: u64, parsed: &mut ParsedRow) -> Result<Option<Listing>, TransferError> {
        let mut existing: Option<Listing> = None;
        if let Some(id) = parsed.id {
            match self.store.get(id) {
                Ok(listing) if listing.kind() == self.kind => existing = Some(listing),
                Ok(listing) => {
                    let problem = self.problem(
                        row_number,
                        "id",
                        &id.to_string(),
                        format!("平台编号属于{}类条目，不是{}", listing.kind().label_zh(), self.kind.label_zh()),
                        format!("the id belongs to a {} listing, not a {}", listing.kind(), self.kind),
                    );
                    parsed.problems.push(problem);
                    return Ok(None);
                }
                // An id from another data directory: fall back to the other keys.
                Err(StoreError::NotFound(_)) => {}
                Err(err) => return Err(err.into()),
            }
        }
        if existing.is_none()
            && let Some(external_id) = &parsed.external_id
        {
            let key = ListingKey::External {
                kind: self.kind,
                owner_org: parsed.owner_org.clone(),
                external_id: external_id.clone(),
            };
            existing = self.store.find_by_key(&key)?;
        }
        if let Some(uscc) = &parsed.uscc
            && self.kind == Kind::Enterprise
            && let Some(found) = self.store.find_by_key(&ListingKey::Uscc(uscc.clone()))?
        {
            match &existing {
                None => existing = Some(found),
                Some(listing) if listing.id == found.id => {}
                Some(_) => {
                    let mut problem = self.problem(
                        row_number,
                        "uscc",
                        uscc,
                        format!("该统一社会信用代码已属于另一条目 {}", found.id),
                        format!("this unified social credit code already belongs to listing {}", found.id),
                    );
                    problem.kind = ProblemKind::Duplicate;
                    problem.existing_id = Some(found.id);
                    parsed.problems.push(problem);
                    return Ok(None);
                }
            }
        }
        Ok(existing)
    }

    fn file_keys_of(&self, parsed: &ParsedRow) -> Vec<FileKey> {
        let mut keys = Vec::new();
        if let Some(id) = parsed.id {
            keys.push(FileKey::Listing(id));
        }
        if let Some(external_id) = &parsed.external_id {
            keys.push(FileKey::External(parsed.owner_org.clone(), external_id.clone()));
        }
        if let Some(uscc) = &parsed.uscc {
            keys.push(FileKey::Uscc(uscc.clone()));
        }
        keys
    }

    fn duplicate_in_file(
        &self,
        row_number: u64,
        parsed: &ParsedRow,
        (earlier_row, listing): (u64, Option<ListingId>),
    ) -> RowProblem {
        let (field, value) = if let Some(external_id) = &parsed.external_id {
            ("external_id", external_id.clone())
        } else if let Some(uscc) = &parsed.uscc {
            ("uscc", uscc.clone())
        } else if let Some(id) = parsed.id {
            ("id", id.to_string())
        } else {
            ("title", parsed.title.clone())
        };
        let mut problem = self.problem(
            row_number,
            field,
            &value,
            format!("与本文件第 {earlier_row} 行重复，未导入"),
            format!("repeats row {earlier_row} of this file; not imported"),
        );
        problem.kind = ProblemKind::Duplicate;
        problem.duplicate_of_row = Some(earlier_row);
        problem.existing_id = listing;
        problem
    }

    fn build_body(&self, row_number: u64, parsed: &mut ParsedRow, base: Option<&Listing>) -> Option<ListingBody> {
        let mut object = match base.map(|listing| serde_json::to_value(&listing.body)) {
            Some(Ok(Value::Object(map))) => map,
            _ => {
                let mut map = Map::new();
                map.insert("kind".into(), Value::String(self.kind.as_str().into()));
                map.insert("title".into(), Value::String(String::new()));
                map.insert("summary".into(), Value::String(String::new()));
                map
            }
        };
        let mut contact = match object.remove("contact") {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for (field, value) in parsed.patch.drain(..) {
            if let Some(sub) = field.strip_prefix("contact_") {
                contact.insert(sub.to_string(), value.unwrap_or(Value::Null));
            } else {
                match value {
                    Some(value) => object.insert(field.to_string(), value),
                    None => object.remove(field),
                };
            }
        }
        if contact.values().any(|value| !value.is_null()) {
            object.insert("contact".into(), Value::Object(contact));
        }
        match serde_json::from_value::<ListingBody>(Value::Object(object)) {
            Ok(body) => Some(body),
            Err(err) => {
                let problem = self.problem(
                    row_number,
                    "",
                    "",
                    format!("无法读取该行：{err}"),
                    format!("the row could not be read: {err}"),
                );
                parsed.problems.push(problem);
                None
            }
        }
    }

    fn validate_row(&self, row_number: u64, parsed: &mut ParsedRow, body: ListingBody) -> Option<ListingBody> {
        let errors = match validate(body, Reference::get()) {
            Ok(body) => return if parsed.problems.is_empty() { Some(normalise(body)) } else { None },
            Err(errors) => errors,
        };
        let already_bad: Vec<String> = parsed.problems.iter().map(|p| p.column.clone()).collect();
        for error in errors.errors {
            let field = error_column(&error.field);
            let column = self.header_of(&field);
            if already_bad.contains(&column) {
                continue;
            }
            let value = parsed.raw.get(field.as_str()).cloned().unwrap_or_default();
            let problem = self.problem(row_number, &field, &value, error.message_zh, error.message_en);
            parsed.problems.push(problem);
        }
        None
    }

    fn reject(&mut self, parsed: ParsedRow) {
        let duplicate = parsed.problems.iter().all(|p| p.kind == ProblemKind::Duplicate);
        if duplicate {
            self.report.likely_duplicates += 1;
        } else {
            self.report.rejected += 1;
        }
        self.report.problems.extend(parsed.problems);
    }

    fn register(&mut self, row_number: u64, parsed: &ParsedRow, listing: Option<ListingId>) {
        let seen = (row_number, listing);
        for key in self.file_keys_of(parsed) {
            self.file_keys.entry(key).or_insert(seen);
        }
        if let Some(id) = listing {
            self.file_keys.entry(FileKey::Listing(id)).or_insert(seen);
        }
        self.file_keys.entry(FileKey::TitleOwner(parsed.title.clone(), parsed.owner_org.clone())).or_insert(seen);
    }

    /// Applies the owners of a restricted import to the row's owner, before its keys are used.
    fn apply_owner(&self, row_number: u64, parsed: &mut ParsedRow) {
        let Some(orgs) = &self.options.owners else { return };
        match &parsed.owner_org {
            Some(owner) if orgs.contains(owner) => {}
            None if !orgs.is_empty() => {
                parsed.set_owner(&orgs[0]);
                parsed.owner_defaulted = true;
            }
            _ => {
                let value = parsed.raw.get("owner_org").cloned().unwrap_or_default();
                let problem = self.problem(
                    row_number,
                    "owner_org",
                    &value,
                    format!("只能导入本机构的数据（{}）", orgs.join("、")),
                    format!("you may only import listings of your organisation ({})", orgs.join(", ")),
                );
                parsed.problems.push(problem);
            }
        }
    }

    /// Rejects a row matching a stored listing of an organisation the importer does not manage;
    /// a row whose owner was defaulted takes the owner of the listing it matches.
    fn check_existing_owner(&self, row_number: u64, parsed: &mut ParsedRow, listing: &Listing) -> bool {
        let Some(orgs) = &self.options.owners else { return true };
        match &listing.body.owner_org {
            Some(owner) if orgs.contains(owner) => {
                if parsed.owner_defaulted && parsed.owner_org.as_ref() != Some(owner) {
                    parsed.set_owner(owner);
                }
                true
            }
            _ => {
                let (field, value) = if parsed.id == Some(listing.id) {
                    ("id", listing.id.to_string())
                } else if let Some(uscc) = parsed.uscc.as_ref().filter(|u| enterprise_uscc(&listing.body) == Some(u)) {
                    ("uscc", uscc.clone())
                } else if let Some(external_id) = &parsed.external_id {
                    ("external_id", external_id.clone())
                } else {
                    ("title", parsed.title.clone())
                };
                let mut problem = self.problem(
                    row_number,
                    field,
                    &value,
                    "该条目属于其他机构，不能修改".to_string(),
                    "this listing belongs to another organisation and cannot be changed".to_string(),
                );
                problem.existing_id = Some(listing.id);
                parsed.problems.push(problem);
                false
            }
        }
    }

    /// Holds a publication for review in the regions that need it. Returns whether it did.
    fn hold_for_review(&self, body: &mut ListingBody) -> bool {
        let reference = Reference::get();
        let needs_review = body.status == Status::Published
            && body
                .region_codes
                .iter()
                .any(|code| self.options.pending_regions.iter().any(|region| reference.region_within(code, region)));
        if needs_review {
            body.status = Status::Pending;
        }
        needs_review
    }

    fn process_row(&mut self, row_number: u64, row: &TableRow) -> Result<(), TransferError> {
        let mut parsed = self.parse_row(row_number, row);
        self.apply_owner(row_number, &mut parsed);
        // Duplicates inside the file: keyed rows by their keys, keyless rows by title and owner.
        let earlier = if parsed.is_keyed() {
            self.file_keys_of(&parsed).iter().find_map(|key| self.file_keys.get(key).copied())
        } else {
            self.file_keys.get(&FileKey::TitleOwner(parsed.title.clone(), parsed.owner_org.clone())).copied()
        };
        if let Some(earlier) = earlier
            && parsed.problems.is_empty()
        {
            let problem = self.duplicate_in_file(row_number, &parsed, earlier);
            parsed.problems.push(problem);
            self.reject(parsed);
            return Ok(());
        }
        let existing = if parsed.problems.is_empty() { self.find_existing(row_number, &mut parsed)? } else { None };
        if let Some(listing) = &existing
            && !self.check_existing_owner(row_number, &mut parsed, listing)
        {
            self.reject(parsed);
            return Ok(());
        }
        if let Some(listing) = &existing
            && let Some(earlier) = self.file_keys.get(&FileKey::Listing(listing.id)).copied()
        {
            let problem = self.duplicate_in_file(row_number, &parsed, earlier);
            parsed.problems.push(problem);
            self.reject(parsed);
            return Ok(());
        }
        let Some(body) = self.build_body(row_number, &mut parsed, existing.as_ref()) else {
            self.reject(parsed);
            return Ok(());
        };
        let Some(mut body) = self.validate_row(row_number, &mut parsed, body) else {
            self.reject(parsed);
            return Ok(());
        };
        let held = self.hold_for_review(&mut body);
        if let Some(listing) = existing {
            self.register(row_number, &parsed, Some(listing.id));
            if same_imported_body(&listing.body, &body, held) {
                self.report.unchanged += 1;
            } else {
                self.pending
                    .push((row_number, WriteOp::Update { id: listing.id, expected_version: listing.version, body }));
            }
            return Ok(());
        }
        let title_match = self.store.find_by_key(&ListingKey::TitleOwner {
            kind: self.kind,
            title: body.title.clone(),
            owner_org: body.owner_org.clone(),
        })?;
        if let Some(found) = title_match {
            let keyed = parsed.is_keyed();
            let found_is_keyless = found.body.external_id.is_none() && enterprise_uscc(&found.body).is_none();
            if !keyed && same_imported_body(&found.body, &body, held) {
                self.register(row_number, &parsed, Some(found.id));
                self.report.unchanged += 1;
                return Ok(());
            }
            if !keyed || found_is_keyless {
                let mut problem = self.problem(
                    row_number,
                    "title",
                    &body.title,
                    format!("疑似重复：已有同一机构同名条目 {}，请核对后再导入（可填写外部编号区分）", found.id),
                    format!(
                        "likely duplicate of listing {} (same title and owner); review it, or give an external_id to tell them apart",
                        found.id
                    ),
                );
                problem.kind = ProblemKind::Duplicate;
                problem.existing_id = Some(found.id);
                parsed.problems.push(problem);
                self.register(row_number, &parsed, None);
                self.reject(parsed);
                return Ok(());
            }
        }
        self.register(row_number, &parsed, None);
        self.pending.push((row_number, WriteOp::Create(body)));
        Ok(())
    }

    fn count_written(&mut self, op: &WriteOp) {
        match op {
            WriteOp::Create(_) => self.report.accepted += 1,
            WriteOp::Update { .. } => self.report.updated += 1,
        }
    }

    /// Writes the pending rows in one transaction; if that fails, row by row, so one bad row
    /// (say, a USCC another process stored meanwhile) cannot sink its batch.
    fn flush(&mut self) -> Result<(), TransferError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let ops: Vec<WriteOp> = pending.iter().map(|(_, op)| op.clone()).collect();
        if self.store.write_batch(ops).is_ok() {
            for (_, op) in &pending {
                self.count_written(op);
            }
            return Ok(());
        }
        for (row_number, op) in pending {
            match self.store.write_batch(vec![op.clone()]) {
                Ok(_) => self.count_written(&op),
                Err(StoreError::Duplicate { field, existing }) => {
                    let mut problem = self.problem(
                        row_number,
                        field,
                        "",
                        format!("已有相同 {field} 的条目 {existing}"),
                        format!("a listing with the same {field} already exists: {existing}"),
                    );
                    problem.kind = ProblemKind::Duplicate;
                    problem.existing_id = Some(existing);
                    self.report.likely_duplicates += 1;
                    self.report.problems.push(problem);
                }
                Err(err @ (StoreError::Conflict { .. } | StoreError::NotFound(_))) => {
                    let problem = self.problem(
                        row_number,
                        "",
                        "",
                        format!("导入期间该条目被其他人修改或删除，请重新导入：{err}"),
                        format!("the listing changed during the import; run the import again: {err}"),
                    );
                    self.report.rejected += 1;
                    self.report.problems.push(problem);
                }
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }
}

/// Stored bodies are compared after the same normalisation, so a re-import of an unchanged row
/// writes nothing.
fn normalise(mut body: ListingBody) -> ListingBody {
    if body.contact.as_ref().is_some_and(|c| c.name.is_none() && c.phone.is_none() && c.email.is_none()) {
        body.contact = None;
    }
    body
}

/// [`same_body`] for a row held for review: a row asking for publication is unchanged when the
/// stored listing is the same and published or pending already (re-importing a file neither
/// sends approved listings back to review nor counts held ones as updated).
fn same_imported_body(stored: &ListingBody, imported: &ListingBody, held: bool) -> bool {
    if held && matches!(stored.status, Status::Published | Status::Pending) && stored.status != imported.status {
        let mut as_stored = imported.clone();
        as_stored.status = stored.status;
        return same_body(stored, &as_stored);
    }
    same_body(stored, imported)
}

fn enterprise_uscc(body: &ListingBody) -> Option<&str> {
    match &body.details {
        xietong_domain::Details::Enterprise(enterprise) => enterprise.uscc.as_deref(),
        _ => None,
    }
}

/// Equal bodies, numbers compared with a relative tolerance (a price stored as JSON may come back
/// one unit in the last place away from the same text parsed again).
pub(crate) fn same_body(stored: &ListingBody, imported: &ListingBody) -> bool {
    let stored = normalise(stored.clone());
    match (serde_json::to_value(&stored), serde_json::to_value(imported)) {
        (Ok(left), Ok(right)) => json_close(&left, &right),
        _ => false,
    }
}

fn json_close(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
            _ => a == b,
        },
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_close(x, y)),
        (Value::Object(a), Value::Object(b)) => {
            let keys_a = a.iter().filter(|(_, v)| !v.is_null()).count();
            let keys_b = b.iter().filter(|(_, v)| !v.is_null()).count();
            keys_a == keys_b && a.iter().all(|(key, x)| x.is_null() || b.get(key).is_some_and(|y| json_close(x, y)))
        }
        _ => left == right,
    }
}

/// The column a validation error's field path belongs to: `region_codes[1]` -> `region_codes`,
/// `contact.email` -> `contact_email`, `sites[0].region_code` -> `sites`.
fn error_column(field: &str) -> String {
    if let Some(sub) = field.strip_prefix("contact.") {
        return format!("contact_{sub}");
    }
    let end = field.find(['[', '.']).unwrap_or(field.len());
    field[..end].to_string()
}

/// Imports an already-read table.
pub(crate) fn import_table(
    store: &dyn Store,
    kind: Kind,
    file_name: &str,
    table: Table,
    options: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport, TransferError> {
    let map = map_headers(kind, file_name, &table.headers)?;
    let rows_total = table.rows.len() as u64;
    let batch_rows = options.batch_rows.max(1);
    let mut importer = Importer {
        store,
        kind,
        headers: &table.headers,
        map: &map,
        resolver: Resolver::default(),
        options,
        file_keys: HashMap::new(),
        pending: Vec::with_capacity(batch_rows),
        report: ImportReport {
            kind,
            file_name: file_name.to_string(),
            format: table.format,
            encoding: table.encoding,
            rows: 0,
            blank_rows: 0,
            accepted: 0,
            updated: 0,
            unchanged: 0,
            likely_duplicates: 0,
            rejected: 0,
            ignored_columns: map.ignored.clone(),
            problems: Vec::new(),
        },
    };
    progress(ImportProgress { rows_done: 0, rows_total });
    for (index, row) in table.rows.iter().enumerate() {
        let row_number = index as u64 + 1;
        if row.is_blank() {
            importer.report.blank_rows += 1;
            continue;
        }
        importer.report.rows += 1;
        importer.process_row(row_number, row)?;
        if importer.pending.len() >= batch_rows {
            importer.flush()?;
            progress(ImportProgress { rows_done: row_number, rows_total });
        }
    }
    importer.flush()?;
    progress(ImportProgress { rows_done: rows_total, rows_total });
    let mut report = importer.report;
    report.problems.sort_by_key(|p| p.row);
    debug_assert_eq!(report.rows, report.accepted + report.updated + report.duplicates() + report.rejected);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_columns() {
        assert_eq!(error_column("region_codes[1]"), "region_codes");
        assert_eq!(error_column("contact.email"), "contact_email");
        assert_eq!(error_column("sites[0].region_code"), "sites");
        assert_eq!(error_column("trl"), "trl");
    }
}
