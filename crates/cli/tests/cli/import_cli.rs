//! The `template`, `import` and `export` commands as reviewers script them.

use std::path::Path;
use std::process::{Command, Output};

fn xietong(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xietong")).args(args).output().expect("failed to run xietong")
}

fn last_json(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no stdout; stderr: {}", String::from_utf8_lossy(&output.stderr)));
    serde_json::from_str(last).unwrap_or_else(|err| panic!("last line {last:?} is not JSON: {err}"))
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn import_reports_errors_beside_the_file_and_is_idempotent() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("成果.csv");
    std::fs::write(
        &file,
        "external_id,title,summary,trl,region_codes,industry_codes,keywords\n\
         A1,激光雷达,固态激光雷达,6,北京市丰台区,专用设备制造业,激光;雷达\n\
         A2,,缺标题,6,110106,C,\n\
         A3,电池,固态电池,10,火星,Z9,\n\
         A4,储能,储能系统,4,120116,C,\n",
    )
    .unwrap();
    let output = xietong(&["import", "achievement", path_str(&file), "--data", path_str(&data), "--no-progress"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = last_json(&output);
    assert_eq!(summary["rows"], 4);
    assert_eq!(summary["accepted"], 2);
    assert_eq!(summary["updated"], 0);
    assert_eq!(summary["rejected"], 2);
    assert_eq!(summary["duplicates"], 0);
    assert!(summary["rows_per_s"].as_f64().is_some());
    let errors_file = dir.path().join("成果.csv.errors.csv");
    assert_eq!(summary["errors_file"], path_str(&errors_file));
    let errors = std::fs::read_to_string(&errors_file).unwrap();
    let mut reader = csv::Reader::from_reader(errors.as_bytes());
    let headers = reader.headers().unwrap().clone();
    for column in ["row", "column", "value", "reason", "reason_zh", "reason_en"] {
        assert!(headers.iter().any(|h| h == column), "missing {column} in {headers:?}");
    }
    let rows: Vec<(String, String)> =
        reader.records().map(|r| r.unwrap()).map(|r| (r[0].to_string(), r[1].to_string())).collect();
    assert_eq!(
        rows,
        vec![
            ("2".into(), "title".into()),
            ("3".into(), "region_codes".into()),
            ("3".into(), "industry_codes".into()),
            ("3".into(), "trl".into()),
        ]
    );

    let again = xietong(&["import", "achievement", path_str(&file), "--data", path_str(&data), "--no-progress"]);
    let summary = last_json(&again);
    assert_eq!((summary["accepted"].as_u64(), summary["updated"].as_u64()), (Some(0), Some(0)));
    assert_eq!((summary["unchanged"].as_u64(), summary["duplicates"].as_u64()), (Some(2), Some(2)));

    // Export and import the export: all unchanged.
    for format in ["csv", "xlsx"] {
        let out = dir.path().join(format!("export.{format}"));
        let export =
            xietong(&["export", "achievement", "--format", format, "--data", path_str(&data), "--out", path_str(&out)]);
        assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
        let back = last_json(&xietong(&["import", "成果", path_str(&out), "--data", path_str(&data), "--no-progress"]));
        assert_eq!(back["unchanged"], 2, "{back}");
        assert_eq!(
            (back["accepted"].as_u64(), back["updated"].as_u64(), back["rejected"].as_u64()),
            (Some(0), Some(0), Some(0))
        );
    }
    let filtered = dir.path().join("tianjin.csv");
    let export = xietong(&[
        "export",
        "achievement",
        "--region",
        "天津市",
        "--data",
        path_str(&data),
        "--out",
        path_str(&filtered),
    ]);
    assert_eq!(last_json(&export)["rows"], 1);
}

#[test]
fn file_level_problems_exit_non_zero() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let unknown = dir.path().join("unknown.csv");
    std::fs::write(&unknown, "foo,bar\n1,2\n").unwrap();
    let output = xietong(&["import", "achievement", path_str(&unknown), "--data", path_str(&data)]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no column"));
    let missing = dir.path().join("missing.csv");
    let output = xietong(&["import", "achievement", path_str(&missing), "--data", path_str(&data)]);
    assert!(!output.status.success());
    let enterprise = dir.path().join("enterprise.csv");
    std::fs::write(&enterprise, "uscc,title,summary,region_codes\n1,t,s,110106\n").unwrap();
    let output = xietong(&["import", "achievement", path_str(&enterprise), "--data", path_str(&data)]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("looks like a enterprise file"));
    let output = xietong(&["import", "robot", path_str(&enterprise), "--data", path_str(&data)]);
    assert!(!output.status.success());
}

#[test]
fn templates_print_csv_and_write_xlsx() {
    let _serial = crate::serial();
    let output = xietong(&["template", "enterprise"]);
    assert!(output.status.success());
    let csv = String::from_utf8(output.stdout).unwrap();
    assert!(csv.contains("标题,摘要") && csv.contains("统一社会信用代码,经营场所"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.xlsx");
    let output = xietong(&["template", "challenge", "--format", "xlsx", "--out", path_str(&out)]);
    assert!(output.status.success());
    assert!(std::fs::read(&out).unwrap().starts_with(b"PK"));
}
