//! Crash safety of `xietong import`: kill -9 during a 100,000-row import, run it again, and every
//! row is stored exactly once (issue 7).

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xietong_domain::Kind;
use xietong_store::{ListFilter, ListSort, SqliteStore, Store};

const ROWS: usize = 100_000;

fn write_rows(path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "external_id,title,summary,keywords,industry_codes,region_codes,trl,owner_org").unwrap();
    let regions = ["110106", "丰台区", "120116", "河北省保定市"];
    for index in 0..ROWS {
        writeln!(
            out,
            "K{index:06},成果 {index},摘要 {index},激光;雷达,C,{},{},研究院{}",
            regions[index % regions.len()],
            index % 9 + 1,
            index % 5
        )
        .unwrap();
    }
    out.flush().unwrap();
}

/// Rows stored so far, read through a store opened once: opening runs migrations, which would
/// compete with the import for the write lock if done on every poll.
fn stored(store: &SqliteStore) -> u64 {
    store.counts().map(|counts| counts.iter().map(|c| c.count).sum()).unwrap_or(0)
}

fn import_command(file: &Path, data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xietong"));
    command.args(["import", "achievement", file.to_str().unwrap(), "--data", data.to_str().unwrap(), "--no-progress"]);
    command
}

#[test]
fn kill_9_during_import_then_rerun_stores_every_row_once() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.csv");
    let data = dir.path().join("data");
    write_rows(&file);
    let db = data.join("xietong.db");

    let started = Instant::now();
    let mut child = import_command(&file, &data).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Kill once some 10,000 rows (20 batches) are committed, so the kill lands in the middle of the run.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut watcher = None;
    while Instant::now() < deadline && watcher.is_none() {
        std::thread::sleep(Duration::from_millis(50));
        if db.exists() {
            watcher = SqliteStore::open(&db).ok();
        }
    }
    let watcher = watcher.expect("the import never created its database");
    while Instant::now() < deadline && stored(&watcher) < 10_000 {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let after_kill = stored(&watcher);
    drop(watcher);
    eprintln!("killed after {:?} with {after_kill} rows stored", started.elapsed());
    assert!(after_kill > 0 && after_kill < ROWS as u64, "kill should land mid-import, {after_kill} rows stored");
    assert_eq!(after_kill % 500, 0, "batches are transactions: only whole batches are stored");

    let rerun_started = Instant::now();
    let output = import_command(&file, &data).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    eprintln!("rerun took {:?}: {summary}", rerun_started.elapsed());
    assert_eq!(summary["rows"], ROWS as u64);
    assert_eq!(summary["rejected"], 0);
    assert_eq!(summary["updated"], 0);
    assert_eq!(summary["accepted"].as_u64().unwrap() + summary["unchanged"].as_u64().unwrap(), ROWS as u64);
    assert_eq!(summary["unchanged"].as_u64().unwrap(), after_kill);

    let store = SqliteStore::open(&db).unwrap();
    let filter = ListFilter { kind: Some(Kind::Achievement), sort: ListSort::Oldest, ..ListFilter::default() };
    let mut external_ids = HashSet::new();
    let mut after = None;
    loop {
        let page = store.scan(after, 5_000).unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for listing in &page {
            assert!(
                external_ids.insert(listing.body.external_id.clone().unwrap()),
                "duplicate {:?}",
                listing.body.external_id
            );
        }
    }
    assert_eq!(external_ids.len(), ROWS);
    assert_eq!(store.list(&filter, 1, 0).unwrap().total, ROWS as u64);
    assert_eq!(store.last_seq().unwrap(), ROWS as u64, "no row was written twice");
}
