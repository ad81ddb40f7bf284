//! Reading a CSV or XLSX file into a table of text cells. Works on bytes so the HTTP layer can use
//! it on uploads; never panics on malformed input (see the property tests and `fuzz/`).

use std::io::Cursor;

use calamine::{Data, Reader};

use crate::TransferError;

/// Cells longer than this (in bytes) are refused: no field accepts that much text, and refusing
/// early keeps error reports small.
pub const MAX_CELL_BYTES: usize = 64 * 1024;

/// Which kind of file was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
        }
    }
}

/// A problem with one cell found while reading (before any field rules).
#[derive(Debug, Clone, PartialEq)]
pub struct CellProblem {
    /// Index of the column in the row.
    pub column: usize,
    pub reason_zh: String,
    pub reason_en: String,
}

/// One data row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableRow {
    pub cells: Vec<String>,
    pub problems: Vec<CellProblem>,
}

impl TableRow {
    pub fn is_blank(&self) -> bool {
        self.problems.is_empty() && self.cells.iter().all(|cell| cell.trim().is_empty())
    }
}

/// A header row and the data rows below it; `rows[0]` is data row 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub format: FileFormat,
    /// Text encoding of a CSV file (`UTF-8`, `GB18030`, ...); `None` for XLSX.
    pub encoding: Option<&'static str>,
    pub headers: Vec<String>,
    pub rows: Vec<TableRow>,
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Reads a CSV or spreadsheet file; the format is taken from the content, not the name.
pub fn read_table(file_name: &str, bytes: &[u8]) -> Result<Table, TransferError> {
    if bytes.is_empty() {
        return Err(TransferError::EmptyFile { file: file_name.to_string() });
    }
    if bytes.starts_with(ZIP_MAGIC) || bytes.starts_with(CFB_MAGIC) {
        read_spreadsheet(file_name, bytes)
    } else {
        read_csv(file_name, bytes)
    }
}

/// Decodes CSV bytes: a BOM decides; otherwise valid UTF-8 is UTF-8, and anything else is decoded
/// with the encoding chardetng guesses (GB18030 for GBK/GB2312 files) unless lossy UTF-8 loses less.
/// Returns the text, the encoding's name and whether some bytes could not be decoded.
pub(crate) fn decode_text(bytes: &[u8]) -> (String, &'static str, bool) {
    if let Some((encoding, bom_length)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_length..]);
        let name = if encoding == encoding_rs::UTF_8 { "UTF-8 (BOM)" } else { encoding.name() };
        return (text.into_owned(), name, had_errors);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_string(), "UTF-8", false);
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let mut guessed = detector.guess(None, chardetng::Utf8Detection::Allow);
    // GBK and GB2312 files are decoded as GB18030, their superset.
    if guessed == encoding_rs::GBK {
        guessed = encoding_rs::GB18030;
    }
    let (legacy_text, legacy_errors) = guessed.decode_without_bom_handling(bytes);
    let legacy_bad = legacy_text.matches('\u{fffd}').count();
    let utf8_text = String::from_utf8_lossy(bytes);
    let utf8_bad = utf8_text.matches('\u{fffd}').count();
    // A UTF-8 file with a few cells pasted from a GBK source: mostly valid multi-byte UTF-8.
    // Decoding it all as GB18030 would turn every good row into plausible-looking garbage, so keep
    // UTF-8 and let the few bad cells become row errors.
    let utf8_good = valid_multibyte_chars(bytes);
    if utf8_bad < legacy_bad || utf8_good >= 2 * utf8_bad {
        return (utf8_text.into_owned(), "UTF-8", true);
    }
    (legacy_text.into_owned(), guessed.name(), legacy_errors)
}

fn valid_multibyte_chars(bytes: &[u8]) -> usize {
    bytes.utf8_chunks().map(|chunk| chunk.valid().chars().filter(|c| !c.is_ascii()).count()).sum()
}

fn guess_delimiter(text: &str) -> u8 {
    let first_line = text.lines().find(|line| !line.trim().is_empty()).unwrap_or("");
    let count = |c: char| first_line.matches(c).count();
    let (commas, tabs, semicolons) = (count(','), count('\t'), count(';'));
    if tabs > commas && tabs >= semicolons {
        b'\t'
    } else if semicolons > commas && semicolons > tabs {
        b';'
    } else {
        b','
    }
}

fn check_cells(row: &mut TableRow, decode_errors: bool) {
    for (index, cell) in row.cells.iter_mut().enumerate() {
        if cell.len() > MAX_CELL_BYTES {
            row.problems.push(CellProblem {
                column: index,
                reason_zh: format!("单元格过长（{} 字节，最多 {MAX_CELL_BYTES} 字节）", cell.len()),
                reason_en: format!("cell is too long ({} bytes, at most {MAX_CELL_BYTES})", cell.len()),
            });
            // Keep only a prefix so the row's report stays small.
            let mut cut = 200;
            while !cell.is_char_boundary(cut) {
                cut -= 1;
            }
            cell.truncate(cut);
        } else if decode_errors && cell.contains('\u{fffd}') {
            row.problems.push(CellProblem {
                column: index,
                reason_zh: "含有无法识别的字符：请将文件另存为 UTF-8 或 GB18030 编码".to_string(),
                reason_en: "holds bytes that are not valid text: save the file as UTF-8 or GB18030".to_string(),
            });
        }
    }
}

fn split_header(file_name: &str, mut rows: Vec<TableRow>) -> Result<(Vec<String>, Vec<TableRow>), TransferError> {
    let Some(header_index) = rows.iter().position(|row| !row.is_blank()) else {
        return Err(TransferError::NoHeader { file: file_name.to_string() });
    };
    let data = rows.split_off(header_index + 1);
    let header_row = rows.pop().unwrap_or_default();
    let headers = header_row
        .cells
        .into_iter()
        .map(|cell| cell.trim().trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    Ok((headers, data))
}

fn read_csv(file_name: &str, bytes: &[u8]) -> Result<Table, TransferError> {
    let (text, encoding, decode_errors) = decode_text(bytes);
    if text.contains('\0') {
        return Err(TransferError::Unreadable {
            file: file_name.to_string(),
            reason: "the file holds NUL bytes: it is neither CSV text nor an XLSX workbook".to_string(),
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(guess_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|err| TransferError::Unreadable {
            file: file_name.to_string(),
            reason: format!("csv syntax error: {err}"),
        })?;
        let mut row = TableRow { cells: record.iter().map(str::to_string).collect(), problems: Vec::new() };
        check_cells(&mut row, decode_errors);
        rows.push(row);
    }
    let (headers, rows) = split_header(file_name, rows)?;
    Ok(Table { format: FileFormat::Csv, encoding: Some(encoding), headers, rows })
}

/// Excel serial day 0 is 1899-12-30 (after the 1900 leap-year bug).
fn excel_serial_to_date(serial: f64) -> Option<String> {
    if !serial.is_finite() || !(0.0..3_000_000.0).contains(&serial) {
        return None;
    }
    let base = time::Date::from_calendar_date(1899, time::Month::December, 30).ok()?;
    let date = base.checked_add(time::Duration::days(serial.floor() as i64))?;
    Some(format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day()))
}

/// Renders a number as the text a person typed: integers without `.0`.
pub(crate) fn number_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { format!("{value}") }
}

fn cell_text(data: &Data) -> Result<String, String> {
    Ok(match data {
        Data::Empty => String::new(),
        Data::String(text) => text.clone(),
        Data::Int(value) => value.to_string(),
        Data::Float(value) => number_text(*value),
        Data::Bool(value) => if *value { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(value) => excel_serial_to_date(value.as_f64()).unwrap_or_else(|| number_text(value.as_f64())),
        Data::DateTimeIso(text) => text.split('T').next().unwrap_or(text).to_string(),
        Data::DurationIso(text) => text.clone(),
        Data::Error(error) => return Err(format!("{error:?}")),
    })
}

fn read_spreadsheet(file_name: &str, bytes: &[u8]) -> Result<Table, TransferError> {
    let unreadable = |reason: String| TransferError::Unreadable { file: file_name.to_string(), reason };
    // calamine is a large third-party parser; a panic inside it on a hostile file must become a
    // file-level error, not a crashed server or import.
    let range = std::panic::catch_unwind(|| {
        let mut workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|err| err.to_string())?;
        match workbook.worksheet_range_at(0) {
            Some(result) => result.map_err(|err| err.to_string()),
            None => Err("the workbook has no worksheet".to_string()),
        }
    })
    .map_err(|_| unreadable("the spreadsheet reader failed on this file".to_string()))?
    .map_err(|reason| unreadable(format!("not a readable XLSX/XLS/ODS workbook: {reason}")))?;

    let mut rows = Vec::with_capacity(range.height());
    for sheet_row in range.rows() {
        let mut row = TableRow::default();
        for (index, data) in sheet_row.iter().enumerate() {
            match cell_text(data) {
                Ok(text) => row.cells.push(text),
                Err(error) => {
                    row.cells.push(String::new());
                    row.problems.push(CellProblem {
                        column: index,
                        reason_zh: format!("单元格是 Excel 错误值 {error}"),
                        reason_en: format!("cell holds the Excel error value {error}"),
                    });
                }
            }
        }
        check_cells(&mut row, false);
        rows.push(row);
    }
    let (headers, rows) = split_header(file_name, rows)?;
    Ok(Table { format: FileFormat::Xlsx, encoding: None, headers, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_bom_and_gb18030() {
        let (text, encoding, errors) = decode_text("\u{feff}标题,摘要\n".as_bytes());
        assert_eq!((text.as_str(), encoding, errors), ("标题,摘要\n", "UTF-8 (BOM)", false));
        let (gb, _, _) = encoding_rs::GB18030.encode("标题,摘要\n北京市丰台区的激光雷达成果,说明\n");
        let (text, encoding, errors) = decode_text(&gb);
        assert_eq!(encoding, "gb18030");
        assert!(!errors);
        assert!(text.starts_with("标题,摘要"));
    }

    #[test]
    fn header_is_first_non_blank_row() {
        let table = read_table("a.csv", b"\n,,\ntitle,summary\nA,B\n").unwrap();
        assert_eq!(table.headers, vec!["title", "summary"]);
        assert_eq!(table.rows.len(), 1);
    }

    #[test]
    fn excel_serials_become_dates() {
        assert_eq!(excel_serial_to_date(45658.0).as_deref(), Some("2025-01-01"));
    }
}
