//! `xietong chains` (issue 19): a chain's gap table, and a segment's attraction list written as
//! a spreadsheet for the investment-promotion office.

use xietong_app::{Actor, App, DataDir};

#[test]
fn chains_prints_the_gap_table_and_writes_the_attraction_list() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let app = App::open(&DataDir::create(&data).unwrap()).unwrap();
        for index in 0..5 {
            let body = serde_json::from_value(serde_json::json!({"kind": "enterprise",
                "title": format!("北京无人机{index}号企业"), "summary": "工业级无人机整机制造",
                "region_codes": ["110108"], "industry_codes": ["3963"], "owner_org": format!("北京无人机{index}号企业")}))
            .unwrap();
            app.create_listing(&Actor::operator(), body).unwrap();
        }
    }
    let data = data.to_str().unwrap();
    let table = crate::xietong(&["chains", "--chain", "safety", "--data", data]);
    let uav = table.lines().find(|l| l.contains("safety-uav")).unwrap_or_else(|| panic!("{table}"));
    assert!(uav.contains("北京市 供5/需0 强链") && uav.contains("河北省 供0/需0 建链"), "{uav}");

    let csv = crate::xietong(&[
        "chains",
        "--chain",
        "safety",
        "--segment",
        "safety-uav",
        "--region",
        "130000",
        "--data",
        data,
    ]);
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    assert_eq!(&reader.headers().unwrap()[1], "名称");
    let names: Vec<String> = reader.records().map(|r| r.unwrap()[1].to_string()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("北京无人机")));

    let out = dir.path().join("attraction.xlsx");
    crate::xietong(&[
        "chains",
        "--chain",
        "safety",
        "--segment",
        "safety-uav",
        "--region",
        "130000",
        "--out",
        out.to_str().unwrap(),
        "--data",
        data,
    ]);
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"PK"), "an XLSX (zip) file");
}
