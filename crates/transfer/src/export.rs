//! Writing templates, exports and error reports as CSV and XLSX.

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use serde_json::Value;
use xietong_domain::{Kind, Listing, Reference};

use crate::TransferError;
use crate::cells::{CellOut, guard, needs_guard, render_cell};
use crate::columns::{CellType, ColumnSpec, columns};
use crate::import::ImportReport;

/// Excel opens a UTF-8 CSV with Chinese text correctly only when it starts with a BOM.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

impl From<XlsxError> for TransferError {
    fn from(err: XlsxError) -> Self {
        TransferError::Xlsx(err.to_string())
    }
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().from_writer(UTF8_BOM.to_vec())
}

fn finish_csv(writer: csv::Writer<Vec<u8>>) -> Vec<u8> {
    // Writing to a Vec cannot fail, and into_inner only fails when a flush fails.
    writer.into_inner().unwrap_or_default()
}

fn write_csv_record(writer: &mut csv::Writer<Vec<u8>>, record: &[String]) {
    // Writing to memory cannot fail; a failure would only lose this record.
    if let Err(err) = writer.write_record(record) {
        debug_assert!(false, "csv write to memory failed: {err}");
    }
}

/// The Chinese header row of `kind`.
pub fn headers(kind: Kind) -> Vec<String> {
    columns(kind).into_iter().map(|spec| spec.header_zh.to_string()).collect()
}

/// A CSV template for `kind`: the header row only (UTF-8 with BOM).
pub fn template_csv(kind: Kind) -> Vec<u8> {
    let mut writer = csv_writer();
    write_csv_record(&mut writer, &headers(kind));
    finish_csv(writer)
}

fn format_help(spec: &ColumnSpec) -> (&'static str, &'static str, String) {
    let values = |values: &[(&str, &str)]| {
        values.iter().map(|(code, label)| format!("{code}（{label}）")).collect::<Vec<_>>().join("；")
    };
    match spec.cell {
        CellType::Id => ("编号", "id (UUID)", String::new()),
        CellType::Text | CellType::OptText => ("文本", "text", String::new()),
        CellType::List => ("多值，用 ; 分隔", "list separated by ;", String::new()),
        CellType::Regions => (
            "地区代码或名称，多值用 ; 分隔",
            "region codes or names, ; separated",
            "见“地区代码”表 / see the regions sheet".into(),
        ),
        CellType::Industries => (
            "行业代码或名称，多值用 ; 分隔",
            "industry codes or names, ; separated",
            "见“行业代码”表 / see the industries sheet".into(),
        ),
        CellType::Integer { .. } => ("整数", "whole number", String::new()),
        CellType::Number => ("数字", "number", String::new()),
        CellType::Date => ("日期 YYYY-MM-DD", "date YYYY-MM-DD", String::new()),
        CellType::Flag => ("是 / 否", "yes / no", "是; 否".to_string()),
        CellType::Enum(list) => ("单选（代码或中文）", "one value (code or Chinese label)", values(list)),
        CellType::EnumList(list) => ("多选，用 ; 分隔", "several values, ; separated", values(list)),
        CellType::Sites => {
            ("地区:角色[:地址]，用 ; 分隔", "region:role[:address], ; separated", values(crate::columns::SITE_ROLE))
        }
        CellType::Criteria => ("名称:权重，用 ; 分隔", "name:weight, ; separated", String::new()),
    }
}

fn write_header_row(sheet: &mut Worksheet, texts: &[&str]) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    for (index, text) in texts.iter().enumerate() {
        sheet.write_string_with_format(0, index as u16, *text, &bold)?;
    }
    Ok(())
}

fn data_sheet(workbook: &mut Workbook, kind: Kind) -> Result<(), XlsxError> {
    let sheet = workbook.add_worksheet();
    sheet.set_name(format!("{} {}", kind.label_zh(), kind.as_str()))?;
    let header_texts = headers(kind);
    let header_refs: Vec<&str> = header_texts.iter().map(String::as_str).collect();
    write_header_row(sheet, &header_refs)?;
    for index in 0..header_refs.len() {
        sheet.set_column_width(index as u16, 16)?;
    }
    Ok(())
}

fn help_sheets(workbook: &mut Workbook, kind: Kind) -> Result<(), XlsxError> {
    let sheet = workbook.add_worksheet();
    sheet.set_name("说明 columns")?;
    write_header_row(
        sheet,
        &["列名", "字段名 field", "必填 required", "格式", "format", "允许的值 allowed values", "说明", "notes"],
    )?;
    for (row, spec) in columns(kind).into_iter().enumerate() {
        let row = row as u32 + 1;
        let (format_zh, format_en, allowed) = format_help(spec);
        sheet.write_string(row, 0, spec.header_zh)?;
        sheet.write_string(row, 1, spec.field)?;
        sheet.write_string(row, 2, if spec.required { "是 yes" } else { "" })?;
        sheet.write_string(row, 3, format_zh)?;
        sheet.write_string(row, 4, format_en)?;
        sheet.write_string(row, 5, allowed)?;
        sheet.write_string(row, 6, spec.help_zh)?;
        sheet.write_string(row, 7, spec.help_en)?;
    }
    let notes_row = columns(kind).len() as u32 + 2;
    sheet.write_string(
        notes_row,
        0,
        "表头可用中文列名或英文字段名；地区和行业可填代码或名称；多个值用英文分号 ; 分隔。",
    )?;
    sheet.write_string(
        notes_row + 1,
        0,
        "Headers may be the Chinese names or the English field names; regions and industries may be codes or names; separate several values with `;`.",
    )?;
    sheet.set_column_width(0, 18)?;
    sheet.set_column_width(5, 40)?;
    sheet.set_column_width(6, 50)?;
    sheet.set_column_width(7, 50)?;

    let reference = Reference::get();
    let regions = workbook.add_worksheet();
    regions.set_name("地区代码 regions")?;
    write_header_row(regions, &["代码 code", "名称 name", "全称 full name"])?;
    for (row, region) in reference.regions().iter().enumerate() {
        let row = row as u32 + 1;
        let full: String = reference.region_chain(&region.code).iter().rev().map(|r| r.name.as_str()).collect();
        regions.write_string(row, 0, &region.code)?;
        regions.write_string(row, 1, &region.name)?;
        regions.write_string(row, 2, &full)?;
    }
    let industries = workbook.add_worksheet();
    industries.set_name("行业代码 industries")?;
    write_header_row(industries, &["代码 code", "名称", "name"])?;
    for (row, industry) in reference.industries().iter().enumerate() {
        let row = row as u32 + 1;
        industries.write_string(row, 0, &industry.code)?;
        industries.write_string(row, 1, &industry.name_zh)?;
        industries.write_string(row, 2, industry.name_en.as_deref().unwrap_or(""))?;
    }
    Ok(())
}

/// An XLSX template for `kind`: the header row, a sheet explaining each column and its allowed
/// values, and sheets listing the region and industry codes.
pub fn template_xlsx(kind: Kind) -> Result<Vec<u8>, TransferError> {
    let mut workbook = Workbook::new();
    data_sheet(&mut workbook, kind)?;
    help_sheets(&mut workbook, kind)?;
    Ok(workbook.save_to_buffer()?)
}

fn mask_text(text: &str, keep_start: usize, keep_end: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= keep_start + keep_end {
        return "*".repeat(chars.len().max(1));
    }
    let middle = chars.len() - keep_start - keep_end;
    let mut masked: String = chars[..keep_start].iter().collect();
    masked.push_str(&"*".repeat(middle));
    masked.extend(&chars[chars.len() - keep_end..]);
    masked
}

/// Masks contact details the way listings show them to viewers without access: `138****5678`,
/// `z***@example.com`, `张*`.
pub fn mask_contact_value(field: &str, text: &str) -> String {
    match field {
        "contact_phone" => mask_text(text, 3, 4),
        "contact_email" => match text.split_once('@') {
            Some((user, domain)) => format!("{}***@{domain}", user.chars().next().unwrap_or('*')),
            None => mask_text(text, 1, 0),
        },
        _ => mask_text(text, 1, 0),
    }
}

/// The cells of one listing in `kind`'s template columns (before formula guarding).
pub(crate) fn listing_cells(kind: Kind, listing: &Listing, mask_contacts: bool) -> Vec<CellOut> {
    let body = serde_json::to_value(&listing.body).unwrap_or(Value::Null);
    columns(kind)
        .into_iter()
        .map(|spec| {
            if spec.field == "id" {
                return CellOut::Text(listing.id.to_string());
            }
            let value = match spec.field.strip_prefix("contact_") {
                Some(sub) => body.get("contact").and_then(|contact| contact.get(sub)),
                None => body.get(spec.field),
            };
            let cell = render_cell(spec.cell, value);
            match cell {
                CellOut::Text(text) if mask_contacts && spec.field.starts_with("contact_") => {
                    CellOut::Text(mask_contact_value(spec.field, &text))
                }
                other => other,
            }
        })
        .collect()
}

/// Exports listings of `kind` as CSV (UTF-8 with BOM) in the template's columns. Text cells that
/// start with `=`, `+`, `-` or `@` get a leading `'` (numbers never do); the import strips it again.
/// Listings of other kinds are skipped. With `mask_contacts`, contact details are masked.
pub fn export_csv(kind: Kind, listings: &[Listing], mask_contacts: bool) -> Vec<u8> {
    let mut writer = csv_writer();
    write_csv_record(&mut writer, &headers(kind));
    for listing in listings.iter().filter(|listing| listing.kind() == kind) {
        let record: Vec<String> = listing_cells(kind, listing, mask_contacts)
            .into_iter()
            .map(|cell| match cell {
                CellOut::Empty => String::new(),
                CellOut::Number(number) => crate::read::number_text(number),
                CellOut::Text(text) => guard(&text),
            })
            .collect();
        write_csv_record(&mut writer, &record);
    }
    finish_csv(writer)
}

/// Exports listings of `kind` as XLSX in the template's columns. Numbers are number cells; text
/// cells starting with a formula character carry Excel's quote prefix (and a literal `'` when the
/// text itself starts with `'`, so that the import's unguarding gives it back exactly).
pub fn export_xlsx(kind: Kind, listings: &[Listing], mask_contacts: bool) -> Result<Vec<u8>, TransferError> {
    let mut workbook = Workbook::new();
    data_sheet(&mut workbook, kind)?;
    let quoted = Format::new().set_quote_prefix();
    let sheet = workbook.worksheet_from_index(0)?;
    let mut row = 0u32;
    for listing in listings.iter().filter(|listing| listing.kind() == kind) {
        row += 1;
        for (column, cell) in listing_cells(kind, listing, mask_contacts).into_iter().enumerate() {
            let column = column as u16;
            match cell {
                CellOut::Empty => {}
                CellOut::Number(number) => {
                    sheet.write_number(row, column, number)?;
                }
                CellOut::Text(text) if text.starts_with('\'') && needs_guard(&text) => {
                    sheet.write_string_with_format(row, column, guard(&text), &quoted)?;
                }
                CellOut::Text(text) if needs_guard(&text) => {
                    sheet.write_string_with_format(row, column, text, &quoted)?;
                }
                CellOut::Text(text) => {
                    sheet.write_string(row, column, text)?;
                }
            }
        }
    }
    help_sheets(&mut workbook, kind)?;
    Ok(workbook.save_to_buffer()?)
}

const REPORT_HEADERS: [&str; 9] =
    ["row", "column", "value", "reason", "reason_zh", "reason_en", "problem", "existing_id", "duplicate_of_row"];

fn report_records(report: &ImportReport) -> impl Iterator<Item = [String; 9]> + '_ {
    report.problems.iter().map(|problem| {
        [
            problem.row.to_string(),
            problem.column.clone(),
            guard(&problem.value),
            format!("{} / {}", problem.reason_zh, problem.reason_en),
            problem.reason_zh.clone(),
            problem.reason_en.clone(),
            problem.kind.as_str().to_string(),
            problem.existing_id.map(|id| id.to_string()).unwrap_or_default(),
            problem.duplicate_of_row.map(|row| row.to_string()).unwrap_or_default(),
        ]
    })
}

/// The error report as CSV: one line per problem with the columns `row` (1-based data row),
/// `column`, `value`, `reason` (Chinese / English), `reason_zh`, `reason_en`, `problem`
/// (`invalid` or `duplicate`), `existing_id` and `duplicate_of_row`. Plain UTF-8 without BOM, so
/// scripts find the `row` header as is.
pub fn error_report_csv(report: &ImportReport) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    write_csv_record(&mut writer, &REPORT_HEADERS.map(String::from));
    for record in report_records(report) {
        write_csv_record(&mut writer, &record);
    }
    finish_csv(writer)
}

/// The error report as XLSX, same columns as [`error_report_csv`].
pub fn error_report_xlsx(report: &ImportReport) -> Result<Vec<u8>, TransferError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("errors")?;
    write_header_row(sheet, &REPORT_HEADERS)?;
    for (index, record) in report_records(report).enumerate() {
        let row = index as u32 + 1;
        for (column, text) in record.iter().enumerate() {
            sheet.write_string(row, column as u16, text)?;
        }
    }
    Ok(workbook.save_to_buffer()?)
}

/// Any table as CSV (UTF-8 with BOM, for Excel), text cells formula-neutralised; for reports
/// such as the attraction list (联合招商).
pub fn table_csv(headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().from_writer(UTF8_BOM.to_vec());
    write_csv_record(&mut writer, &headers.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for row in rows {
        write_csv_record(&mut writer, &row.iter().map(|cell| guard(cell)).collect::<Vec<_>>());
    }
    finish_csv(writer)
}

/// Any table as XLSX with a bold header row on one sheet named `sheet_name`.
pub fn table_xlsx(sheet_name: &str, headers: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, TransferError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name)?;
    write_header_row(sheet, headers)?;
    for (index, row) in rows.iter().enumerate() {
        for (column, text) in row.iter().enumerate() {
            sheet.write_string(index as u32 + 1, column as u16, guard(text))?;
        }
    }
    Ok(workbook.save_to_buffer()?)
}
