//! Property tests: malformed, truncated, huge-cell, formula-bearing and mis-encoded files give row
//! errors or a file-level error, never a panic (issue 7, "Robustness").

use proptest::prelude::*;
use xietong_domain::Kind;
use xietong_store::SqliteStore;
use xietong_transfer::{export_xlsx, import_bytes, read_table, template_xlsx};

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("xietong.db")).unwrap();
    (dir, store)
}

/// Cells that are likely to break something: formulas, quotes, separators, huge text, control
/// characters, numbers, region and industry names.
fn nasty_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("=HYPERLINK(\"x\")".to_string()),
        Just("'=1+1".to_string()),
        Just("-5".to_string()),
        Just("10".to_string()),
        Just("丰台区;北京市丰台区;999999".to_string()),
        Just("专用设备制造业;Z9".to_string()),
        Just("120116:manufacturing;x:y:z".to_string()),
        Just("a:1;b:".to_string()),
        Just("2025-02-30".to_string()),
        Just("\"unterminated".to_string()),
        Just("*@*".to_string()),
        "[\\PC]{0,40}",
        "[,;\"'\\n\\r\\t=+@-]{0,10}",
        (1usize..3).prop_map(|n| "长".repeat(n * 40_000)),
    ]
}

fn csv_file() -> impl Strategy<Value = String> {
    let header = prop::sample::subsequence(
        vec![
            "external_id",
            "title",
            "标题",
            "summary",
            "trl",
            "region_codes",
            "industry_codes",
            "keywords",
            "price_min",
            "contact_email",
            "bogus",
            "",
        ],
        0..12,
    );
    (header, prop::collection::vec(prop::collection::vec(nasty_cell(), 0..12), 0..6)).prop_map(|(header, rows)| {
        let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        writer.write_record(&header).unwrap();
        for row in rows {
            writer.write_record(&row).unwrap();
        }
        String::from_utf8(writer.into_inner().unwrap()).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2_000)) {
        let _ = read_table("random.csv", &bytes);
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend_from_slice(&bytes);
        prop_assert!(read_table("random.xlsx", &zip).is_err());
    }

    #[test]
    fn generated_csv_imports_without_panicking(text in csv_file(), encode_gb in any::<bool>(), cut in any::<prop::sample::Index>()) {
        let (_dir, store) = store();
        let bytes = if encode_gb { encoding_rs::GB18030.encode(&text).0.into_owned() } else { text.into_bytes() };
        // Whole file and a truncated one (possibly mid-character, mid-quote).
        for candidate in [bytes.clone(), bytes[..cut.index(bytes.len() + 1)].to_vec()] {
            if let Ok(report) = import_bytes(&store, Kind::Achievement, "p.csv", &candidate, &mut |_| {}) {
                prop_assert_eq!(report.rows, report.accepted + report.updated + report.duplicates() + report.rejected);
                for problem in &report.problems {
                    prop_assert!(problem.row >= 1 && problem.row <= report.rows + report.blank_rows);
                    prop_assert!(!problem.reason_zh.is_empty() && !problem.reason_en.is_empty());
                    prop_assert!(problem.value.chars().count() <= 201);
                }
            }
        }
    }

    #[test]
    fn mis_encoded_text_is_a_row_error_not_garbage(index in 0usize..6) {
        let (_dir, store) = store();
        // Valid UTF-8 with one GB18030-encoded cell pasted in.
        let mut bytes = "title,summary,trl,region_codes\n成果一,摘要,6,110106\n成果二,摘要,6,110106\n成果三,摘要,6,丰台区\n".as_bytes().to_vec();
        let (gb, _, _) = encoding_rs::GB18030.encode("乱码成果");
        bytes.extend_from_slice(&gb[..gb.len() - index % 2]);
        bytes.extend_from_slice(",摘要,6,110106\n".as_bytes());
        let report = import_bytes(&store, Kind::Achievement, "m.csv", &bytes, &mut |_| {}).unwrap();
        prop_assert_eq!(report.encoding, Some("UTF-8"));
        prop_assert_eq!(report.accepted, 3);
        prop_assert_eq!(report.rejected, 1);
        prop_assert_eq!(report.problems[0].row, 4);
        prop_assert_eq!(report.problems[0].column.as_str(), "title");
    }

    #[test]
    fn truncated_or_corrupted_xlsx_never_panics(cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let (_dir, store) = store();
        let workbook = template_xlsx(Kind::Achievement).unwrap();
        let truncated = &workbook[..cut.index(workbook.len())];
        let outcome = import_bytes(&store, Kind::Achievement, "t.xlsx", truncated, &mut |_| {});
        // A cut workbook is a file-level error (or, rarely, a cut that only drops trailing bytes).
        if let Ok(report) = outcome {
            prop_assert_eq!(report.rows, 0);
        }
        let mut corrupted = workbook.clone();
        let position = flip.index(corrupted.len());
        corrupted[position] ^= byte;
        let _ = import_bytes(&store, Kind::Achievement, "c.xlsx", &corrupted, &mut |_| {});
    }
}

#[test]
fn empty_export_workbook_is_read_back_with_headers_only() {
    let bytes = export_xlsx(Kind::Facility, &[], false).unwrap();
    let table = read_table("e.xlsx", &bytes).unwrap();
    assert_eq!(table.headers, xietong_transfer::headers(Kind::Facility));
    assert!(table.rows.is_empty());
}
