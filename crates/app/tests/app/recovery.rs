//! The index is derived from the store: a crash between the store write and the index write is
//! repaired on the next start, and a rebuild from the store alone gives the same index.

use xietong_app::{App, DataDir};
use xietong_domain::{ListingBody, OrgKind, Role};
use xietong_search::SearchQuery;
use xietong_store::ListFilter;

fn achievement(title: &str) -> ListingBody {
    serde_json::from_value(serde_json::json!({
        "kind": "achievement", "title": title, "summary": "用于恢复测试的成果", "region_codes": ["110106"], "trl": 5
    }))
    .unwrap()
}

fn hits(app: &App, text: &str) -> u64 {
    app.index().search(&SearchQuery { text: Some(text.to_string()), ..Default::default() }).unwrap().total
}

#[test]
fn restart_replays_writes_the_index_missed() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::create(dir.path()).unwrap();
    {
        let app = App::open(&data_dir).unwrap();
        app.store().create(achievement("已同步的成果")).unwrap();
        app.sync_index().unwrap();
        // Simulated crash: the store commits, the process dies before the index is written.
        app.store().create(achievement("崩溃前写入的成果")).unwrap();
        assert_eq!(hits(&app, "崩溃前写入"), 0);
        assert!(app.index().applied_seq() < app.store().last_seq().unwrap());
    }
    let reopened = App::open(&data_dir).unwrap();
    assert_eq!(hits(&reopened, "崩溃前写入"), 1);
    assert_eq!(hits(&reopened, "已同步"), 1);
    assert_eq!(reopened.index().applied_seq(), reopened.store().last_seq().unwrap());
}

#[test]
fn reindex_rebuilds_from_the_store_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::create(dir.path()).unwrap();
    {
        let app = App::open(&data_dir).unwrap();
        for n in 0..25 {
            app.store().create(achievement(&format!("重建测试成果{n}"))).unwrap();
        }
        app.sync_index().unwrap();
    }
    // Lose the index entirely.
    std::fs::remove_dir_all(data_dir.index_path()).unwrap();
    let app = App::open(&data_dir).unwrap();
    assert_eq!(app.index().doc_count(), 25, "opening replays the whole change log into a fresh index");
    let calls = std::sync::atomic::AtomicU64::new(0);
    let rebuilt = app
        .reindex(|done, total| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            assert!(done <= total);
        })
        .unwrap();
    assert_eq!(rebuilt, 25);
    assert!(calls.into_inner() >= 1);
    assert_eq!(app.index().doc_count(), 25);
    assert_eq!(hits(&app, "重建测试"), 25);
}

#[test]
fn demo_loads_once() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::create(dir.path()).unwrap();
    let app = App::open(&data_dir).unwrap();
    let loaded = app.load_demo(xietong_demo::DEFAULT_SEED).unwrap();
    assert_eq!(loaded, xietong_demo::counts().total());
    assert_eq!(app.load_demo(xietong_demo::DEFAULT_SEED).unwrap(), 0, "a second start reuses the data");
    let stored: u64 = app.store().counts().unwrap().iter().map(|c| c.count).sum();
    // ent_a's draft, region-only and organisation-only demands; talent_1's profile; ent_a's five
    // challenges (one per phase); the curated listings of the chains' gaps (issue 19).
    let showcase = 4 + 5 + xietong_app::demo_chains::COUNT;
    assert_eq!(stored as usize, loaded + showcase);
    // Demo accounts exist once, with the fixed usernames reviewers' scripts use.
    for username in ["admin", "fengtai_ops", "ent_a", "ent_b", "talent_1"] {
        assert!(app.accounts().user_by_name(username).unwrap().is_some(), "{username}");
    }
    let fengtai = app.accounts().user_by_name("fengtai_ops").unwrap().unwrap();
    assert_eq!((fengtai.role, fengtai.region_code.as_deref()), (Role::RegionOperator, Some("110106")));
    let ent_a =
        app.accounts().org(app.accounts().user_by_name("ent_a").unwrap().unwrap().org_id.unwrap()).unwrap().unwrap();
    let ent_b =
        app.accounts().org(app.accounts().user_by_name("ent_b").unwrap().unwrap().org_id.unwrap()).unwrap().unwrap();
    assert_ne!(ent_a.id, ent_b.id, "ent_a and ent_b belong to two different enterprises");
    assert_eq!((ent_a.kind, ent_b.kind), (OrgKind::Enterprise, OrgKind::Enterprise));
    let owned =
        app.store().list(&ListFilter { owner_org: Some(ent_a.name.clone()), ..ListFilter::default() }, 1, 0).unwrap();
    assert!(owned.total > 4, "ent_a's enterprise owns demo listings");
    let admin = app.accounts().user_by_name("admin").unwrap().unwrap();
    assert!(xietong_app::auth::verify_password(&admin.password_hash, xietong_app::demo_accounts::DEMO_PASSWORD));
    assert_eq!(app.accounts().users().unwrap().len(), 9, "the second load created no second set of accounts");
}
