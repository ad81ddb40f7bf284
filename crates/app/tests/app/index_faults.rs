//! Index faults are never silent: a failed index write does not advance the applied sequence,
//! the follower heals the index once writes work again, and a start-up check repairs an index
//! that holds less than the store although its sequence says otherwise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use xietong_app::{App, DataDir};
use xietong_domain::ListingBody;
use xietong_search::fault::FailingDirectory;
use xietong_search::{SearchIndex, SearchQuery};

fn achievement(title: &str) -> ListingBody {
    serde_json::from_value(serde_json::json!({
        "kind": "achievement", "title": title, "summary": "用于索引故障测试的成果", "region_codes": ["110106"], "trl": 5
    }))
    .unwrap()
}

fn hits(app: &App, text: &str) -> u64 {
    app.index().search(&SearchQuery { text: Some(text.to_string()), limit: 1, ..Default::default() }).unwrap().total
}

fn open_failing(data_dir: &DataDir) -> (App, FailingDirectory) {
    let directory = FailingDirectory::open(&data_dir.index_path()).unwrap();
    let index = SearchIndex::open_in_directory(directory.clone(), &data_dir.index_path()).unwrap();
    (App::open_with_index(data_dir, index).unwrap(), directory)
}

#[test]
fn a_full_disk_holds_the_sequence_back_and_the_follower_heals_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::create(dir.path()).unwrap();
    let (app, disk) = open_failing(&data_dir);
    app.store().create(achievement("磁盘写满前的成果")).unwrap();
    assert!(app.sync_after_write());
    let before = app.index().applied_seq();

    disk.fail(true);
    for n in 0..20 {
        app.store().create(achievement(&format!("磁盘写满时的成果{n}"))).unwrap();
        assert!(!app.sync_after_write(), "an index write on a full disk must report failure");
    }
    assert_eq!(app.index().applied_seq(), before, "a failed index write must not advance the applied sequence");
    let health = app.index_health().unwrap();
    assert!(health.index_seq < health.store_seq);
    assert!(health.last_error.as_deref().is_some_and(|e| e.contains("No space left")), "{health:?}");

    // Space is freed: the follower's retries bring every stored listing into the index.
    disk.fail(false);
    let app = Arc::new(app);
    let _follower = App::spawn_follower(&app);
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.index().applied_seq() < app.store().last_seq().unwrap() {
        assert!(Instant::now() < deadline, "the follower did not catch up within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(app.index().doc_count(), 21, "every stored listing is in the index");
    assert_eq!(hits(&app, "磁盘写满"), 21, "and found by a search");
    let health = app.index_health().unwrap();
    assert!(!health.degraded && health.last_error.is_none(), "{health:?}");
}

#[test]
fn health_turns_degraded_while_the_index_lags() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::create(dir.path()).unwrap();
    let (app, disk) = open_failing(&data_dir);
    disk.fail(true);
    app.store().create(achievement("滞后的成果")).unwrap();
    assert!(!app.sync_after_write());
    assert!(!app.index_health().unwrap().degraded, "a lag of a moment is not yet degraded");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.index_health().unwrap().degraded {
        assert!(Instant::now() < deadline, "health never turned degraded");
        std::thread::sleep(Duration::from_millis(200));
    }
    disk.fail(false);
    app.sync_index().unwrap();
    assert!(!app.index_health().unwrap().degraded);
}

#[test]
fn start_up_repairs_an_index_that_lost_documents() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::create(dir.path()).unwrap();
    {
        let app = App::open(&data_dir).unwrap();
        for n in 0..12 {
            app.store().create(achievement(&format!("修复测试成果{n}"))).unwrap();
        }
        app.sync_index().unwrap();
        // The index loses documents but keeps its sequence (what a full disk left behind before).
        let seq = app.index().applied_seq();
        let victims: Vec<_> = app.store().scan(None, 5).unwrap().into_iter().map(|l| l.id).collect();
        app.index().apply(&[], &victims, seq).unwrap();
        assert_eq!(hits(&app, "修复测试成果"), 7);
    }
    let app = App::open(&data_dir).unwrap();
    assert_eq!(hits(&app, "修复测试成果"), 12, "opening must detect and repair the missing documents");
    assert!(!app.repair_if_inconsistent().unwrap(), "a repaired index is consistent");
}
