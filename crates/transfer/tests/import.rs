//! Import, dedup, error reports, export round trips and file-level errors, on a real SQLite store.

use std::collections::BTreeMap;

use xietong_domain::{Kind, Listing, Status, Uscc};
use xietong_store::{ListFilter, ListSort, SqliteStore, Store};
use xietong_transfer::{
    ImportOptions, ImportReport, ProblemKind, TransferError, error_report_csv, export_csv, export_xlsx, import_bytes,
    import_bytes_with, read_table, template_csv, template_xlsx,
};

struct TestStore {
    _dir: tempfile::TempDir,
    store: SqliteStore,
}

fn test_store() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("xietong.db")).unwrap();
    TestStore { _dir: dir, store }
}

fn import(store: &dyn Store, kind: Kind, name: &str, bytes: &[u8]) -> Result<ImportReport, TransferError> {
    import_bytes(store, kind, name, bytes, &mut |_| {})
}

fn all_listings(store: &dyn Store, kind: Kind) -> Vec<Listing> {
    let filter = ListFilter { kind: Some(kind), sort: ListSort::Oldest, ..ListFilter::default() };
    let mut listings = Vec::new();
    loop {
        let page = store.list(&filter, 1000, listings.len() as u64).unwrap();
        let fetched = page.items.len();
        listings.extend(page.items);
        if fetched < 1000 {
            return listings;
        }
    }
}

fn csv_line(cells: &[String]) -> String {
    let quoted: Vec<String> =
        cells
            .iter()
            .map(|cell| {
                if cell.contains([',', '"', '\n']) {
                    format!("\"{}\"", cell.replace('"', "\"\""))
                } else {
                    cell.clone()
                }
            })
            .collect();
    quoted.join(",") + "\n"
}

/// The ten kinds of bad demand row used by the 10,000-row test: (header of the bad column,
/// substring of the English reason, the row's cells changed).
const BAD_KINDS: [(&str, &str); 10] = [
    ("region_codes", "unknown region code"),
    ("desired_trl", "between 1 and 9"),
    ("title", "must not be empty"),
    ("deadline", "not a valid date"),
    ("industry_codes", "unknown industry code"),
    ("budget", "at least 0"),
    ("contact_email", "not an email"),
    ("desired_trl", "not a whole number"),
    ("region_codes", "unknown region code"),
    ("budget", "is not a number"),
];

const DEMAND_HEADERS: [&str; 11] = [
    "external_id",
    "title",
    "summary",
    "region_codes",
    "industry_codes",
    "desired_trl",
    "budget",
    "deadline",
    "owner_org",
    "contact_email",
    "keywords",
];

/// 10,000 demand rows; every 20th row (500 in all) is bad in one of ten ways.
fn demand_file() -> (String, BTreeMap<u64, usize>) {
    let mut text = csv_line(&DEMAND_HEADERS.map(String::from));
    let mut bad_rows = BTreeMap::new();
    let regions = ["110106", "丰台区", "北京市丰台区", "120116", "保定市"];
    let industries = ["C", "3741", "专用设备制造业", "35;C"];
    for index in 0..10_000usize {
        let row_number = index as u64 + 1;
        let mut cells = vec![
            format!("D{index:05}"),
            format!("需求 {index}：高精度传感器国产化"),
            format!("第 {index} 条需求的摘要"),
            regions[index % regions.len()].to_string(),
            industries[index % industries.len()].to_string(),
            (index % 9 + 1).to_string(),
            format!("{}.5", index % 300),
            format!("2026-{:02}-{:02}", index % 12 + 1, index % 28 + 1),
            format!("某区科委{}", index % 7),
            format!("user{index}@example.com"),
            "传感器;国产化".to_string(),
        ];
        if index % 20 == 7 {
            let bad_kind = (index / 20) % BAD_KINDS.len();
            bad_rows.insert(row_number, bad_kind);
            match bad_kind {
                0 => cells[3] = "999999".into(),
                1 => cells[5] = "10".into(),
                2 => cells[1] = "".into(),
                3 => cells[7] = "2026-13-40".into(),
                4 => cells[4] = "Z99".into(),
                5 => cells[6] = "-5".into(),
                6 => cells[9] = "nobody".into(),
                7 => cells[5] = "high".into(),
                8 => cells[3] = "火星区".into(),
                _ => cells[6] = "很多".into(),
            }
        }
        text.push_str(&csv_line(&cells));
    }
    (text, bad_rows)
}

#[test]
fn ten_thousand_rows_with_500_bad_ones() {
    let test = test_store();
    let (text, bad_rows) = demand_file();
    let report = import(&test.store, Kind::Demand, "demands.csv", text.as_bytes()).unwrap();
    assert_eq!(report.rows, 10_000);
    assert_eq!(report.accepted, 9_500);
    assert_eq!(report.rejected, 500);
    assert_eq!((report.updated, report.duplicates()), (0, 0));
    assert_eq!(all_listings(&test.store, Kind::Demand).len(), 9_500);

    // Exactly the bad rows are reported, one problem each, in the right column with the right reason.
    assert_eq!(report.problems.len(), 500);
    for problem in &report.problems {
        let bad_kind = bad_rows.get(&problem.row).unwrap_or_else(|| panic!("row {} reported but good", problem.row));
        let (column, reason) = BAD_KINDS[*bad_kind];
        assert_eq!(problem.column, column, "row {}", problem.row);
        assert!(problem.reason_en.contains(reason), "row {}: {:?} lacks {reason:?}", problem.row, problem.reason_en);
        assert!(!problem.reason_zh.is_empty());
        assert_eq!(problem.kind, ProblemKind::Invalid);
    }
    let reported: Vec<u64> = report.problems.iter().map(|p| p.row).collect();
    assert_eq!(reported, bad_rows.keys().copied().collect::<Vec<_>>());

    // Region and industry names were stored as codes.
    let stored = test.store.find_by_key(&xietong_store::ListingKey::External {
        kind: Kind::Demand,
        owner_org: Some("某区科委2".into()),
        external_id: "D00002".into(),
    });
    let stored = stored.unwrap().unwrap();
    assert_eq!(stored.body.region_codes, vec!["110106"]);
    assert_eq!(stored.body.industry_codes, vec!["35"]);

    // The error report has the fixed columns and one line per problem.
    let report_csv = String::from_utf8(error_report_csv(&report)).unwrap();
    assert!(report_csv.starts_with("row,column,value,reason,reason_zh,reason_en"));
    assert_eq!(report_csv.lines().count(), 501);

    // A second import changes nothing.
    let before = all_listings(&test.store, Kind::Demand);
    let again = import(&test.store, Kind::Demand, "demands.csv", text.as_bytes()).unwrap();
    assert_eq!((again.accepted, again.updated, again.unchanged, again.rejected), (0, 0, 9_500, 500));
    assert_eq!(all_listings(&test.store, Kind::Demand), before);
    assert_eq!(test.store.last_seq().unwrap(), 9_500);
}

fn uscc(index: usize) -> String {
    Uscc::with_check_digit(&format!("91110106MA{index:07}")).unwrap().as_str().to_string()
}

#[test]
fn enterprises_are_keyed_by_uscc_and_bad_codes_are_rejected() {
    let test = test_store();
    let file = |summary: &str| {
        let mut text = String::from("统一社会信用代码,标题,摘要,所在地区,经营场所\n");
        for index in 0..200 {
            let code = if index % 10 == 3 { "91350100M000100Y44".to_string() } else { uscc(index) };
            text.push_str(&format!(
                "{code},企业{index},{summary},丰台区,120116:manufacturing;110106:hq:丰台区某路 {index} 号\n"
            ));
        }
        text
    };
    let text = file("摘要");
    let report = import(&test.store, Kind::Enterprise, "e.csv", text.as_bytes()).unwrap();
    assert_eq!((report.accepted, report.rejected), (180, 20));
    assert!(report.problems.iter().all(|p| p.column == "统一社会信用代码" && p.reason_en.contains("check digit")));
    // Same codes with a new summary: updates, found by USCC.
    let changed = file("新摘要");
    let report = import(&test.store, Kind::Enterprise, "e.csv", changed.as_bytes()).unwrap();
    assert_eq!((report.accepted, report.updated, report.rejected), (0, 180, 20));
    assert_eq!(all_listings(&test.store, Kind::Enterprise).len(), 180);
}

#[test]
fn keyless_rows_matching_title_and_owner_are_reported_not_created() {
    let test = test_store();
    let first = "title,summary,trl,region_codes,owner_org\n激光雷达,一,6,110106,研究院\n";
    assert_eq!(import(&test.store, Kind::Achievement, "a.csv", first.as_bytes()).unwrap().accepted, 1);
    let existing = all_listings(&test.store, Kind::Achievement)[0].id;
    // Same row again: unchanged. Different summary: likely duplicate, with the existing id.
    // Repeated row in the file: duplicate of the earlier row.
    let second = "title,summary,trl,region_codes,owner_org\n激光雷达,一,6,110106,研究院\n激光雷达,二,6,110106,研究院\n新成果,三,5,110106,研究院\n新成果,三,5,110106,研究院\n";
    let report = import(&test.store, Kind::Achievement, "a.csv", second.as_bytes()).unwrap();
    assert_eq!((report.accepted, report.unchanged, report.likely_duplicates, report.duplicates()), (1, 1, 2, 3));
    assert_eq!(report.problems[0].row, 2);
    assert_eq!(report.problems[0].existing_id, Some(existing));
    assert_eq!(report.problems[1].row, 4);
    assert_eq!(report.problems[1].duplicate_of_row, Some(3));
    assert_eq!(all_listings(&test.store, Kind::Achievement).len(), 2);
}

#[test]
fn gb18030_and_bom_files_import_the_same() {
    let text = "标题,摘要,技术成熟度,所在地区,行业\n激光雷达,固态激光雷达,6,北京市丰台区,专用设备制造业\n";
    let (gb, _, _) = encoding_rs::GB18030.encode(text);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    for bytes in [text.as_bytes().to_vec(), bom, gb.into_owned()] {
        let test = test_store();
        let report = import(&test.store, Kind::Achievement, "a.csv", &bytes).unwrap();
        assert_eq!(report.accepted, 1, "{report:?}");
        let listing = &all_listings(&test.store, Kind::Achievement)[0];
        assert_eq!(listing.body.title, "激光雷达");
        assert_eq!(listing.body.region_codes, vec!["110106"]);
        assert_eq!(listing.body.industry_codes, vec!["35"]);
    }
}

#[test]
fn file_level_problems_are_errors() {
    let test = test_store();
    let store = &test.store;
    assert!(matches!(import(store, Kind::Achievement, "a.csv", b""), Err(TransferError::EmptyFile { .. })));
    assert!(matches!(import(store, Kind::Achievement, "a.csv", b"\n\n,,\n"), Err(TransferError::NoHeader { .. })));
    assert!(matches!(
        import(store, Kind::Achievement, "a.csv", b"foo,bar\n1,2\n"),
        Err(TransferError::NoKnownColumns { .. })
    ));
    let enterprise = "uscc,title,summary,region_codes\nX,t,s,110106\n";
    assert!(matches!(
        import(store, Kind::Achievement, "a.csv", enterprise.as_bytes()),
        Err(TransferError::WrongKind { found: Kind::Enterprise, .. })
    ));
    assert!(matches!(
        import(store, Kind::Achievement, "a.csv", b"title,summary,region_codes\nt,s,110106\n"),
        Err(TransferError::MissingColumns { .. })
    ));
    assert!(matches!(
        import(store, Kind::Achievement, "a.xlsx", b"PK\x03\x04garbage"),
        Err(TransferError::Unreadable { .. })
    ));
    assert!(matches!(
        import(store, Kind::Talent, "a.csv", "title,标题,summary,region_codes\n".as_bytes()),
        Err(TransferError::DuplicateColumn { .. })
    ));
}

#[test]
fn templates_have_chinese_headers_and_a_help_sheet() {
    for kind in Kind::ALL {
        let csv = String::from_utf8(template_csv(kind)).unwrap();
        assert!(csv.starts_with("\u{feff}平台编号,外部编号,标题,摘要"), "{csv}");
        let table = read_table("t.xlsx", &template_xlsx(kind).unwrap()).unwrap();
        assert_eq!(table.headers, xietong_transfer::headers(kind));
        assert!(table.rows.is_empty());
    }
    assert!(String::from_utf8(template_csv(Kind::Enterprise)).unwrap().contains("统一社会信用代码,经营场所"));
}

/// One row per kind-specific shape: lists, enums, dates, sites, criteria, contacts, formula-like text.
fn rich_files() -> Vec<(Kind, String)> {
    vec![
        (
            Kind::Achievement,
            "external_id,title,summary,description,keywords,industry_codes,region_codes,trl,ip_type,patent_numbers,transfer_modes,price_min,price_max,institution,owner_org,contact_name,contact_phone,contact_email,visibility,status\n\
             A1,=HYPERLINK(\"http://evil\"),@摘要,-描述,-负面;+正面;普通,C;3741,110106;120116,6,发明专利,ZL1;ZL2,许可;equity,0,12.5,'=某大学,研究院,张三,+86 10-1234,zs@example.com,registered,draft\n\
             A2,普通成果,摘要,,,,丰台区,9,,,,,,,研究院,,,,,\n"
                .to_string(),
        ),
        (
            Kind::Enterprise,
            format!(
                "uscc,title,summary,region_codes,sites\n{},企业甲,摘要,110106,120116:manufacturing;110106:hq:丰台区某路 1 号\n,企业乙,摘要,130600,\n",
                uscc(1)
            ),
        ),
        (
            Kind::Challenge,
            "external_id,title,summary,region_codes,requirements,prize,deadline,criteria,max_teams\nC1,揭榜,摘要,110106,要求,100,2026-06-30,技术先进性:40;成本:60,3\n".to_string(),
        ),
        (
            Kind::Scenario,
            "title,summary,region_codes,wanted_technology,window_start,window_end,budget,offering_org,site\n场景,摘要,133100,自动驾驶;5G,2026/1/1,2026-12-31,300,雄安,容东\n".to_string(),
        ),
        (
            Kind::Talent,
            "title,summary,region_codes,expertise,rank,employer,availability,willing_regions\n张教授,摘要,110108,材料;电池,教授,某大学,双聘;remote_consulting,丰台区;天津市\n".to_string(),
        ),
        (
            Kind::Facility,
            "title,summary,region_codes,facility_type,capabilities,capacity_unit,price,booking_rules,site\n电镜,摘要,110108,仪器设备,成像,机时,800,提前一周,某楼\n".to_string(),
        ),
    ]
}

fn field_by_field(left: &Listing, right: &Listing) {
    let left_json = serde_json::to_value(&left.body).unwrap();
    let right_json = serde_json::to_value(&right.body).unwrap();
    for (field, value) in left_json.as_object().unwrap() {
        assert_eq!(Some(value), right_json.get(field), "field {field} of {:?}", left.body.title);
    }
    assert_eq!(left_json.as_object().unwrap().len(), right_json.as_object().unwrap().len());
}

#[test]
fn export_imports_back_unchanged_in_csv_and_xlsx() {
    for (kind, text) in rich_files() {
        let source = test_store();
        let report = import(&source.store, kind, "in.csv", text.as_bytes()).unwrap();
        assert_eq!(report.rejected, 0, "{kind}: {:?}", report.problems);
        let listings = all_listings(&source.store, kind);
        for (format, bytes) in
            [("csv", export_csv(kind, &listings, false)), ("xlsx", export_xlsx(kind, &listings, false).unwrap())]
        {
            // Back into the same store: every row unchanged, nothing written.
            let seq = source.store.last_seq().unwrap();
            let again = import(&source.store, kind, &format!("out.{format}"), &bytes).unwrap();
            assert_eq!(again.unchanged, listings.len() as u64, "{kind} {format}: {again:?}");
            assert_eq!((again.accepted, again.updated, again.rejected), (0, 0, 0));
            assert_eq!(source.store.last_seq().unwrap(), seq);
            // Into a fresh store: the same bodies, field by field.
            let target = test_store();
            let fresh = import(&target.store, kind, &format!("out.{format}"), &bytes).unwrap();
            assert_eq!(fresh.accepted, listings.len() as u64, "{kind} {format}: {:?}", fresh.problems);
            let copies = all_listings(&target.store, kind);
            for listing in &listings {
                let copy = copies.iter().find(|c| c.body.title == listing.body.title).unwrap();
                field_by_field(listing, copy);
            }
        }
    }
}

#[test]
fn formula_cells_are_neutralised_on_export_but_numbers_are_not() {
    let test = test_store();
    let (_, text) = rich_files().remove(0);
    import(&test.store, Kind::Achievement, "a.csv", text.as_bytes()).unwrap();
    let listings = all_listings(&test.store, Kind::Achievement);
    let rich = listings.iter().find(|l| l.body.external_id.as_deref() == Some("A1")).unwrap();
    assert_eq!(rich.body.title, "=HYPERLINK(\"http://evil\")");
    assert_eq!(rich.body.summary, "@摘要");
    let exported = String::from_utf8(export_csv(Kind::Achievement, &listings, false)).unwrap();
    assert!(exported.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""), "{exported}");
    assert!(exported.contains(",'@摘要,'-描述,'-负面;+正面;普通,"));
    // The import stripped the guard of `'=某大学`, so the export adds it back.
    assert_eq!(rich.body.details, listings[0].body.details);
    assert!(exported.contains(",'=某大学,"));
    let table = read_table("x.csv", exported.as_bytes()).unwrap();
    let price_min = table.headers.iter().position(|h| h == "最低价（万元）").unwrap();
    assert_eq!(table.rows.iter().map(|r| r.cells[price_min].as_str()).collect::<Vec<_>>(), vec!["0", ""]);
}

#[test]
fn masked_exports_hide_contacts_and_do_not_import_back_over_them() {
    let test = test_store();
    let (_, text) = rich_files().remove(0);
    import(&test.store, Kind::Achievement, "a.csv", text.as_bytes()).unwrap();
    let listings = all_listings(&test.store, Kind::Achievement);
    let masked = String::from_utf8(export_csv(Kind::Achievement, &listings, true)).unwrap();
    assert!(masked.contains("张*") && masked.contains("z***@example.com") && !masked.contains("zs@example.com"));
    let report = import(&test.store, Kind::Achievement, "m.csv", masked.as_bytes()).unwrap();
    assert_eq!(report.rejected, 1);
    assert!(report.problems.iter().all(|p| p.reason_en.contains("masked")));
}

/// An import by a logged-in user managing `orgs`, with review required in `pending_regions`.
fn import_as(store: &dyn Store, kind: Kind, orgs: &[&str], pending_regions: &[&str], bytes: &[u8]) -> ImportReport {
    let options = ImportOptions {
        owners: Some(orgs.iter().map(|org| org.to_string()).collect()),
        pending_regions: pending_regions.iter().map(|code| code.to_string()).collect(),
        ..ImportOptions::default()
    };
    import_bytes_with(store, kind, "mine.csv", bytes, &options, &mut |_| {}).unwrap()
}

#[test]
fn restricted_imports_force_the_owner_and_reject_other_organisations() {
    let test = test_store();
    let orgs = ["研究院", "研究院二所"];
    let file = "external_id,title,summary,trl,region_codes,owner_org\n\
                A1,成果一,摘要,6,110106,\n\
                A2,成果二,摘要,6,110106,其他机构\n\
                A3,成果三,摘要,6,110106,研究院二所\n\
                ,无编号成果,摘要,5,120116,\n";
    let report = import_as(&test.store, Kind::Achievement, &orgs, &[], file.as_bytes());
    assert_eq!((report.accepted, report.updated, report.rejected), (3, 0, 1), "{:?}", report.problems);
    assert_eq!(report.problems.len(), 1);
    let problem = &report.problems[0];
    assert_eq!((problem.row, problem.column.as_str(), problem.value.as_str()), (2, "owner_org", "其他机构"));
    assert_eq!(problem.kind, ProblemKind::Invalid);
    assert_eq!(problem.reason_zh, "只能导入本机构的数据（研究院、研究院二所）");
    assert_eq!(problem.reason_en, "you may only import listings of your organisation (研究院, 研究院二所)");
    let owners: BTreeMap<String, Option<String>> = all_listings(&test.store, Kind::Achievement)
        .into_iter()
        .map(|listing| (listing.body.title, listing.body.owner_org))
        .collect();
    assert_eq!(owners["成果一"].as_deref(), Some("研究院"), "empty owner: the default organisation");
    assert_eq!(owners["成果三"].as_deref(), Some("研究院二所"));
    assert_eq!(owners["无编号成果"].as_deref(), Some("研究院"));
    assert!(!owners.contains_key("成果二"));

    // The same file again: found by the forced owner, nothing written, nothing duplicated.
    let seq = test.store.last_seq().unwrap();
    let again = import_as(&test.store, Kind::Achievement, &orgs, &[], file.as_bytes());
    assert_eq!((again.accepted, again.updated, again.unchanged, again.rejected), (0, 0, 3, 1), "{again:?}");
    assert_eq!(again.likely_duplicates, 0);
    assert_eq!(all_listings(&test.store, Kind::Achievement).len(), 3);
    assert_eq!(test.store.last_seq().unwrap(), seq);

    // Chinese headers: the problem names the column as written.
    let chinese = "标题,摘要,技术成熟度,所在地区,所属机构\n成果四,摘要,6,110106,其他机构\n";
    let report = import_as(&test.store, Kind::Achievement, &orgs, &[], chinese.as_bytes());
    assert_eq!(report.rejected, 1);
    assert_eq!(report.problems[0].column, "所属机构");
}

#[test]
fn restricted_imports_cannot_change_listings_of_other_organisations() {
    let test = test_store();
    // The operator's import stores listings of several organisations.
    let operator = "external_id,title,summary,trl,region_codes,owner_org\n\
                    X1,别人的成果,摘要,6,110106,别的机构\n\
                    X2,二所的成果,摘要,6,110106,研究院二所\n\
                    X3,无主成果,摘要,6,110106,\n";
    assert_eq!(import(&test.store, Kind::Achievement, "op.csv", operator.as_bytes()).unwrap().accepted, 3);
    let enterprises =
        format!("uscc,title,summary,region_codes,owner_org\n{},别人的企业,摘要,110106,别的机构\n", uscc(7));
    assert_eq!(import(&test.store, Kind::Enterprise, "op.csv", enterprises.as_bytes()).unwrap().accepted, 1);
    let stored = all_listings(&test.store, Kind::Achievement);
    let by_title = |title: &str| stored.iter().find(|l| l.body.title == title).unwrap().clone();
    let (theirs, second, ownerless) = (by_title("别人的成果"), by_title("二所的成果"), by_title("无主成果"));
    let their_enterprise = all_listings(&test.store, Kind::Enterprise).remove(0);

    let orgs = ["研究院", "研究院二所"];
    let file = format!(
        "id,title,summary,trl,region_codes,owner_org\n\
         {},改别人的成果,新摘要,6,110106,\n\
         {},二所的成果,新摘要,6,110106,\n\
         {},改无主成果,新摘要,6,110106,\n",
        theirs.id, second.id, ownerless.id
    );
    let report = import_as(&test.store, Kind::Achievement, &orgs, &[], file.as_bytes());
    assert_eq!((report.accepted, report.updated, report.rejected), (0, 1, 2), "{:?}", report.problems);
    let rows: Vec<(u64, &str)> = report.problems.iter().map(|p| (p.row, p.column.as_str())).collect();
    assert_eq!(rows, vec![(1, "id"), (3, "id")]);
    for problem in &report.problems {
        assert_eq!(problem.reason_zh, "该条目属于其他机构，不能修改");
        assert_eq!(problem.reason_en, "this listing belongs to another organisation and cannot be changed");
        assert_eq!(problem.kind, ProblemKind::Invalid);
    }
    assert_eq!(report.problems[0].existing_id, Some(theirs.id));
    assert_eq!(test.store.get(theirs.id).unwrap(), theirs, "other organisation's listing untouched");
    assert_eq!(test.store.get(ownerless.id).unwrap(), ownerless);
    // A listing of one of the user's organisations matched with an empty owner cell keeps its owner.
    let updated = test.store.get(second.id).unwrap();
    assert_eq!(updated.body.summary, "新摘要");
    assert_eq!(updated.body.owner_org.as_deref(), Some("研究院二所"));

    // Matched by USCC: rejected on the USCC column.
    let file = format!("统一社会信用代码,标题,摘要,所在地区\n{},我的企业,摘要,110106\n", uscc(7));
    let report = import_as(&test.store, Kind::Enterprise, &orgs, &[], file.as_bytes());
    assert_eq!((report.accepted, report.updated, report.rejected), (0, 0, 1), "{:?}", report.problems);
    assert_eq!(report.problems[0].column, "统一社会信用代码");
    assert_eq!(report.problems[0].reason_en, "this listing belongs to another organisation and cannot be changed");
    assert_eq!(test.store.get(their_enterprise.id).unwrap(), their_enterprise);
    assert_eq!(all_listings(&test.store, Kind::Enterprise).len(), 1);
}

#[test]
fn publications_in_review_regions_wait_as_pending() {
    let test = test_store();
    let file = |summary: &str| {
        format!(
            "external_id,title,summary,trl,region_codes,status\n\
             P1,丰台成果,{summary},6,110106,\n\
             P2,保定成果,{summary},6,130602,published\n\
             P3,丰台草稿,{summary},6,110106,draft\n\
             P4,两地成果,{summary},6,130602;110106,published\n"
        )
    };
    let report = import_as(&test.store, Kind::Achievement, &["研究院"], &["110000"], file("摘要").as_bytes());
    assert_eq!((report.accepted, report.rejected), (4, 0), "{:?}", report.problems);
    let status_of = |title: &str| {
        let listings = all_listings(&test.store, Kind::Achievement);
        listings.iter().find(|l| l.body.title == title).unwrap().body.status
    };
    assert_eq!(status_of("丰台成果"), Status::Pending);
    assert_eq!(status_of("保定成果"), Status::Published);
    assert_eq!(status_of("丰台草稿"), Status::Draft);
    assert_eq!(status_of("两地成果"), Status::Pending);

    // The same file again: unchanged, though the rows say published and the store says pending.
    let seq = test.store.last_seq().unwrap();
    let again = import_as(&test.store, Kind::Achievement, &["研究院"], &["110000"], file("摘要").as_bytes());
    assert_eq!((again.accepted, again.updated, again.unchanged), (0, 0, 4), "{again:?}");
    assert_eq!(test.store.last_seq().unwrap(), seq);

    // Approved meanwhile: the same file does not send it back to review.
    let approved =
        all_listings(&test.store, Kind::Achievement).into_iter().find(|l| l.body.title == "丰台成果").unwrap();
    test.store.set_status(approved.id, None, Status::Published).unwrap();
    let again = import_as(&test.store, Kind::Achievement, &["研究院"], &["110000"], file("摘要").as_bytes());
    assert_eq!((again.accepted, again.updated, again.unchanged), (0, 0, 4), "{again:?}");
    assert_eq!(status_of("丰台成果"), Status::Published);

    // Changed content in a review region goes back to review.
    let changed = import_as(&test.store, Kind::Achievement, &["研究院"], &["110106"], file("新摘要").as_bytes());
    assert_eq!((changed.accepted, changed.updated, changed.unchanged), (0, 4, 0), "{changed:?}");
    assert_eq!(status_of("丰台成果"), Status::Pending);
    assert_eq!(status_of("保定成果"), Status::Published);
    assert_eq!(all_listings(&test.store, Kind::Achievement).len(), 4);

    // Only a review sets `pending` or `rejected`: a file can't, and says why.
    let claims = "external_id,title,summary,trl,region_codes,status\n\
                S1,自称已驳回,摘要,6,130602,rejected\n\
                S2,自称待审,摘要,6,110106,pending\n";
    let report = import_as(&test.store, Kind::Achievement, &["研究院"], &["110000"], claims.as_bytes());
    assert_eq!((report.accepted, report.rejected), (0, 2), "{:?}", report.problems);
    assert!(report.problems.iter().all(|p| p.column == "status" && p.reason_en.contains("not allowed")));

    // The unrestricted import stores what the file says.
    let test = test_store();
    import(&test.store, Kind::Achievement, "op.csv", file("摘要").as_bytes()).unwrap();
    assert!(all_listings(&test.store, Kind::Achievement).iter().all(|l| l.body.status != Status::Pending));
}
