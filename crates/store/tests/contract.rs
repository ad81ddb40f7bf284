//! One contract suite for every `Store` backend.

use std::collections::HashSet;

use xietong_domain::{Kind, ListingBody, Status};
use xietong_store::{ListFilter, ListingKey, SqliteStore, Store, StoreError, WriteOp};

fn body(json: serde_json::Value) -> ListingBody {
    serde_json::from_value(json).unwrap()
}

fn achievement(title: &str, region: &str, industry: &str) -> ListingBody {
    body(serde_json::json!({
        "kind": "achievement", "title": title, "summary": "摘要", "trl": 5,
        "region_codes": [region], "industry_codes": [industry]
    }))
}

fn enterprise(title: &str, uscc: &str) -> ListingBody {
    body(serde_json::json!({
        "kind": "enterprise", "title": title, "summary": "企业", "region_codes": ["110106"], "uscc": uscc,
        "sites": [{"region_code": "120116", "role": "manufacturing"}]
    }))
}

fn create_get_round_trip(store: &dyn Store) {
    let created = store.create(achievement("激光雷达点云处理", "110106", "3741")).unwrap();
    assert_eq!(created.version, 1);
    let loaded = store.get(created.id).unwrap();
    assert_eq!(loaded, created);
    let missing = xietong_domain::ListingId::new();
    assert!(matches!(store.get(missing), Err(StoreError::NotFound(id)) if id == missing));
}

fn update_checks_version(store: &dyn Store) {
    let created = store.create(achievement("原标题", "110106", "C")).unwrap();
    let mut changed = created.body.clone();
    changed.title = "新标题".into();
    let updated = store.update(created.id, 1, changed.clone()).unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.created_at, created.created_at);
    let stale = store.update(created.id, 1, changed).unwrap_err();
    assert!(matches!(stale, StoreError::Conflict { expected: 1, actual: 2, .. }), "{stale:?}");
    assert_eq!(store.get(created.id).unwrap().body.title, "新标题");
    let archived = store.set_status(created.id, Some(2), Status::Archived).unwrap();
    assert_eq!(archived.body.status, Status::Archived);
    assert_eq!(archived.version, 3);
}

fn list_filters_and_pages(store: &dyn Store) {
    store.create(achievement("丰台成果", "110106", "3741")).unwrap();
    store.create(achievement("雄县成果", "130638", "2710")).unwrap();
    store.create(achievement("天津成果", "120116", "3741")).unwrap();
    store.create(enterprise("企业甲", "91350100M000100Y43")).unwrap();
    let in_hebei = store.list(&ListFilter { region: Some("130000".into()), ..Default::default() }, 10, 0).unwrap();
    assert_eq!(in_hebei.total, 1);
    assert_eq!(in_hebei.items[0].body.title, "雄县成果");
    let in_xiongan = store.list(&ListFilter { region: Some("133100".into()), ..Default::default() }, 10, 0).unwrap();
    assert_eq!(in_xiongan.total, 1);
    let aerospace = store.list(&ListFilter { industry: Some("37".into()), ..Default::default() }, 10, 0).unwrap();
    assert_eq!(aerospace.total, 2);
    let manufacturing = store.list(&ListFilter { industry: Some("C".into()), ..Default::default() }, 10, 0).unwrap();
    assert_eq!(manufacturing.total, 3);
    let enterprises = store.list(&ListFilter { kind: Some(Kind::Enterprise), ..Default::default() }, 10, 0).unwrap();
    assert_eq!(enterprises.total, 1);
    // Pages are disjoint and cover everything.
    let all = store.list(&ListFilter::default(), 100, 0).unwrap();
    let mut seen = HashSet::new();
    for offset in 0..all.total {
        let page = store.list(&ListFilter::default(), 1, offset).unwrap();
        assert!(seen.insert(page.items[0].id));
    }
    assert_eq!(seen.len() as u64, all.total);
    let published = store.list(&ListFilter { status: Some(Status::Published), ..Default::default() }, 100, 0).unwrap();
    assert_eq!(published.total, all.total);
}

fn change_log_follows_writes(store: &dyn Store) {
    let before = store.last_seq().unwrap();
    let first = store.create(achievement("一", "110106", "C")).unwrap();
    let second = store.create(achievement("二", "110106", "C")).unwrap();
    store.update(first.id, 1, first.body.clone()).unwrap();
    let changes = store.changes_since(before, 100).unwrap();
    let ids: Vec<_> = changes.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![first.id, second.id, first.id]);
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(store.last_seq().unwrap(), changes.last().unwrap().seq);
}

fn keys_and_duplicates(store: &dyn Store) {
    let created = store.create(enterprise("企业乙", "91110108551385082Q")).unwrap();
    let found = store.find_by_key(&ListingKey::Uscc("91110108551385082q".into())).unwrap().unwrap();
    assert_eq!(found.id, created.id);
    let duplicate = store.create(enterprise("企业丙", "91110108551385082Q")).unwrap_err();
    assert!(matches!(duplicate, StoreError::Duplicate { field: "uscc", .. }));
    let mut with_external = achievement("外部成果", "110106", "C");
    with_external.external_id = Some("row-7".into());
    with_external.owner_org = Some("某研究院".into());
    let stored = store.create(with_external.clone()).unwrap();
    let key = ListingKey::External {
        kind: Kind::Achievement,
        owner_org: Some("某研究院".into()),
        external_id: "row-7".into(),
    };
    assert_eq!(store.find_by_key(&key).unwrap().unwrap().id, stored.id);
    assert!(matches!(store.create(with_external).unwrap_err(), StoreError::Duplicate { field: "external_id", .. }));
    let by_title = ListingKey::TitleOwner {
        kind: Kind::Achievement,
        title: "外部成果".into(),
        owner_org: Some("某研究院".into()),
    };
    assert_eq!(store.find_by_key(&by_title).unwrap().unwrap().id, stored.id);
}

fn batch_is_atomic(store: &dyn Store) {
    let before = store.list(&ListFilter::default(), 1, 0).unwrap().total;
    let result = store.write_batch(vec![
        WriteOp::Create(enterprise("企业丁", "91110000802100433B")),
        WriteOp::Create(enterprise("企业戊", "91110000802100433B")),
    ]);
    assert!(result.is_err());
    assert_eq!(store.list(&ListFilter::default(), 1, 0).unwrap().total, before);
    let written = store
        .write_batch(vec![
            WriteOp::Create(achievement("甲", "110106", "C")),
            WriteOp::Create(achievement("乙", "110106", "C")),
        ])
        .unwrap();
    assert_eq!(written.len(), 2);
    let scanned = store.scan(None, 1000).unwrap();
    assert!(scanned.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(scanned.len() as u64, before + 2);
}

fn site_links_follow_enterprises(store: &dyn Store) {
    let mut two_sites = enterprise("企业己", "91110108551385082Q");
    if let xietong_domain::Details::Enterprise(details) = &mut two_sites.details {
        details.sites = serde_json::from_value(serde_json::json!([
            {"region_code": "110106", "role": "hq"},
            {"region_code": "130638", "role": "manufacturing"},
            {"region_code": "130638", "role": "manufacturing"}
        ]))
        .unwrap();
    }
    store.create(two_sites).unwrap();
    let links = store.site_links().unwrap();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!((links[0].hq_region.as_str(), links[0].site_region.as_str()), ("110106", "130638"));
    assert_eq!((links[0].enterprises, links[0].sites), (1, 2));
}

fn counts_and_meta(store: &dyn Store) {
    store.create(achievement("计数", "110106", "C")).unwrap();
    let counts = store.counts().unwrap();
    assert!(counts.iter().any(|c| c.kind == Kind::Achievement && c.status == Status::Published && c.count >= 1));
    assert_eq!(store.meta_get("demo").unwrap(), None);
    store.meta_set("demo", "1").unwrap();
    store.meta_set("demo", "2").unwrap();
    assert_eq!(store.meta_get("demo").unwrap().as_deref(), Some("2"));
}

macro_rules! store_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;
            #[test]
            fn create_get_round_trip() {
                let (_guard, store) = $make;
                super::create_get_round_trip(&store);
            }
            #[test]
            fn update_checks_version() {
                let (_guard, store) = $make;
                super::update_checks_version(&store);
            }
            #[test]
            fn list_filters_and_pages() {
                let (_guard, store) = $make;
                super::list_filters_and_pages(&store);
            }
            #[test]
            fn change_log_follows_writes() {
                let (_guard, store) = $make;
                super::change_log_follows_writes(&store);
            }
            #[test]
            fn keys_and_duplicates() {
                let (_guard, store) = $make;
                super::keys_and_duplicates(&store);
            }
            #[test]
            fn batch_is_atomic() {
                let (_guard, store) = $make;
                super::batch_is_atomic(&store);
            }
            #[test]
            fn site_links_follow_enterprises() {
                let (_guard, store) = $make;
                super::site_links_follow_enterprises(&store);
            }
            #[test]
            fn counts_and_meta() {
                let (_guard, store) = $make;
                super::counts_and_meta(&store);
            }
        }
    };
}

fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("xietong.db")).unwrap();
    (dir, store)
}

store_suite!(sqlite_backend, sqlite());

#[test]
fn sqlite_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("xietong.db");
    let id = {
        let store = SqliteStore::open(&path).unwrap();
        store.create(achievement("持久", "110106", "C")).unwrap().id
    };
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.get(id).unwrap().body.title, "持久");
}
