//! `xietong bench` as reviewers script it: its last line is one JSON object with the figures.

use std::process::Command;

#[test]
fn bench_prints_its_figures_as_one_json_object_last() {
    let _serial = crate::serial();
    let output = Command::new(env!("CARGO_BIN_EXE_xietong"))
        .args(["bench", "--listings", "10500", "--iterations", "3"])
        .env_remove("XT_DATABASE_URL")
        .output()
        .expect("failed to run xietong bench");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let last = stdout.lines().last().expect("a line");
    let figures: serde_json::Value = serde_json::from_str(last).expect("the last line is JSON");
    // More than one demo set: the copies load without clashing keys.
    assert_eq!(figures["listings"], 10500, "{figures}");
    assert_eq!(figures["backend"], "sqlite");
    for key in [
        "ingest_per_s",
        "index_build_s",
        "index_bytes",
        "peak_rss_mb",
        "search_p50_ms",
        "search_p99_ms",
        "match_p50_ms",
        "match_p99_ms",
        "http_search_p99_ms",
        "http_match_p99_ms",
        "search_p99_ms_c8",
        "match_p99_ms_c8",
    ] {
        assert!(figures[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {figures}");
    }
}
