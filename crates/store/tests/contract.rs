//! One contract suite for every `Store` backend: `store_suite!` runs each test on SQLite and on
//! PostgreSQL. The PostgreSQL tests need a server: `./scripts/test.sh` starts one and sets
//! `XT_TEST_DATABASE_URL`; each test makes its own database there and drops it afterwards.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use time::macros::{datetime, offset};
use time::{Duration, OffsetDateTime};
use xietong_domain::booking::{BookingEvent, BookingState, Calendar, HOUR_MS, Request, VoucherMove};
use xietong_domain::challenge::{ApplicationState, MemberRole, Phase, TeamMember};
use xietong_domain::claim::ClaimState;
use xietong_domain::deal::{DealEvent, DealState, Side};
use xietong_domain::engagement::{Mode, State};
use xietong_domain::{
    Kind, ListingBody, ListingId, OrgId, OrgKind, ReadScope, Role, Scope, Status, UserId, Visibility,
};
use xietong_store::{
    Accounts, AuditEntry, AuditFilter, AuditTrail, Booking, BookingChange, BookingFilter, Bookings, Broker, Chains,
    ChallengeChange, ChallengeWrite, Challenges, Change, ClaimDecision, ClaimFilter, Claims, Clearance, Credentials,
    Deal, DealChange, DealFilter, Deals, DeliveryState, Feedback, Idempotency, IdempotencyBegin, Identity,
    ImpressionCount, IssuerKey, ListFilter, ListingKey, ListingWrite, NewApiToken, NewApplication, NewAudit,
    NewBooking, NewClaim, NewCredential, NewDeal, NewEngagement, NewOrg, NewRecognitionRule, NewUser, NewVoucher,
    NewWebhook, Notice, Notifications, OutboxClaim, OutboxOutcome, OutboxTarget, PostgresStore, ReviewDecision,
    Service, Session, SqliteStore, Store, StoreError, StoredResponse, Talent, WriteOp,
};

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

/// An achievement owned by `owner` with the given visibility and status.
fn owned(title: &str, region: &str, owner: &str, visibility: Visibility, status: Status) -> ListingBody {
    let mut body = achievement(title, region, "C");
    body.owner_org = Some(owner.into());
    body.visibility = visibility;
    body.status = status;
    body
}

fn new_org(name: &str, kind: OrgKind, region: &str) -> NewOrg {
    NewOrg { name: name.into(), kind, region_code: region.into() }
}

fn new_user(username: &str, role: Role, org_id: Option<OrgId>, region: Option<&str>) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: format!("{username} 的名字"),
        role,
        org_id,
        region_code: region.map(Into::into),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1${username}"),
    }
}

fn session(token_hash: &str, user_id: UserId, created_at: OffsetDateTime, expires_at: OffsetDateTime) -> Session {
    Session {
        token_hash: token_hash.into(),
        user_id,
        csrf_token: format!("csrf-{token_hash}"),
        created_at,
        expires_at,
        ip: Some("10.0.0.1".into()),
    }
}

const T0: OffsetDateTime = datetime!(2030-01-01 00:00:00 UTC);

/// An audit entry for a write in these tests.
fn noted(action: &str) -> NewAudit {
    NewAudit { actor: "contract".into(), action: action.into(), target: "t".into(), ..NewAudit::default() }
}

fn decision(
    listing_id: ListingId,
    expected_version: i64,
    reviewer_id: UserId,
    approved: bool,
    reason: &str,
) -> ReviewDecision {
    ReviewDecision { listing_id, expected_version, reviewer_id, approved, reason: reason.into() }
}

/// The actions in the audit trail, oldest first.
fn audited(store: &impl AuditTrail) -> Vec<String> {
    let (entries, _) = store.audit_entries(&AuditFilter::default(), 10_000, 0).unwrap();
    entries.into_iter().rev().map(|e| e.action).collect()
}

fn delete_removes_listing_and_logs_change(store: &(impl Store + Accounts + Deals)) {
    let keep = store.create(achievement("保留", "110106", "3741")).unwrap();
    let gone = store.create(enterprise("删除的企业", "91110108551385082Q")).unwrap();
    let user = store.create_user(new_user("asker", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let deal = store.create_deal(deal_of(gone.id, "乙机构", "甲机构", user.id), &|_| noted("deal.propose")).unwrap();
    let pending = store.create(owned("待审删除", "110106", "甲机构", Visibility::Public, Status::Pending)).unwrap();
    store.review_listing(decision(pending.id, 1, user.id, false, "不全"), &|_| noted("review.reject")).unwrap();
    store.delete(pending.id).unwrap();
    store.review_listing(decision(gone.id, gone.version, user.id, true, ""), &|_| noted("review.approve")).unwrap_err();
    let before = store.last_seq().unwrap();

    store.delete(gone.id).unwrap();

    assert!(matches!(store.get(gone.id), Err(StoreError::NotFound(id)) if id == gone.id));
    let changes = store.changes_since(before, 100).unwrap();
    assert_eq!(changes.iter().map(|c| c.id).collect::<Vec<_>>(), vec![gone.id]);
    assert_eq!(store.last_seq().unwrap(), changes[0].seq);
    let all = store.list(&ListFilter::default(), 100, 0).unwrap();
    assert_eq!(all.total, 1);
    assert_eq!(all.items.iter().map(|l| l.id).collect::<Vec<_>>(), vec![keep.id]);
    assert_eq!(
        store.list(&ListFilter { region: Some("110000".into()), ..Default::default() }, 10, 0).unwrap().total,
        1
    );
    assert!(store.scan(None, 100).unwrap().iter().all(|l| l.id != gone.id));
    assert_eq!(store.find_by_key(&ListingKey::Uscc("91110108551385082Q".into())).unwrap(), None);
    assert_eq!(store.deal(deal.id).unwrap(), None, "deals go with the listing");
    assert!(store.reviews_of(gone.id).unwrap().is_empty(), "reviews go with the listing");
    // The USCC is free again.
    store.create(enterprise("新企业", "91110108551385082Q")).unwrap();

    let seq = store.last_seq().unwrap();
    assert!(matches!(store.delete(gone.id), Err(StoreError::NotFound(id)) if id == gone.id));
    let missing = ListingId::new();
    assert!(matches!(store.delete(missing), Err(StoreError::NotFound(id)) if id == missing));
    assert_eq!(store.last_seq().unwrap(), seq, "failed deletes log nothing");
    assert_eq!(store.get(keep.id).unwrap(), keep);
}

fn list_applies_read_scope(store: &dyn Store) {
    let bodies = [
        owned("a 公开", "110106", "甲", Visibility::Public, Status::Published),
        owned("b 注册", "110106", "甲", Visibility::Registered, Status::Published),
        owned("c 河北区域", "130638", "甲", Visibility::Region, Status::Published),
        owned("d 北京区域", "110108", "甲", Visibility::Region, Status::Published),
        owned("e 本机构", "110106", "乙", Visibility::Organisation, Status::Published),
        owned("f 草稿", "110106", "乙", Visibility::Public, Status::Draft),
        owned("g 待审", "110106", "丙", Visibility::Public, Status::Pending),
        owned("h 区域草稿", "130638", "乙", Visibility::Region, Status::Draft),
    ];
    let created: Vec<_> = bodies.into_iter().map(|b| store.create(b).unwrap()).collect();
    let titles = |filter: ListFilter| {
        let page = store.list(&ListFilter { sort: xietong_store::ListSort::Title, ..filter.clone() }, 100, 0).unwrap();
        let titles: Vec<String> = page.items.iter().map(|l| l.body.title.chars().take(1).collect()).collect();
        assert_eq!(page.total, titles.len() as u64, "total counts the scoped rows only");
        let first = store.list(&filter, 1, 0).unwrap();
        assert_eq!(first.total, page.total, "total does not depend on the page");
        titles.join("")
    };
    let limited = |registered: bool, provinces: &[&str], orgs: &[&str]| ReadScope::Limited {
        registered,
        provinces: provinces.iter().map(|p| p.to_string()).collect(),
        orgs: orgs.iter().map(|o| o.to_string()).collect(),
    };
    let scoped = |scope: ReadScope| titles(ListFilter { scope: Some(scope), ..Default::default() });
    let cases = [
        (ReadScope::anonymous(), "a"),
        (limited(true, &[], &[]), "ab"),
        (limited(true, &["130000"], &[]), "abc"),
        (limited(true, &["110000"], &[]), "abd"),
        (limited(true, &["110000", "130000"], &[]), "abcd"),
        (limited(false, &["130000"], &[]), "ac"),
        (limited(true, &["120000"], &[]), "ab"),
        (limited(true, &[], &["乙"]), "abefh"),
        (limited(true, &["130000"], &["乙", "丙"]), "abcefgh"),
        (ReadScope::All, "abcdefgh"),
    ];
    for (scope, expected) in cases {
        assert_eq!(scoped(scope.clone()), expected, "{scope:?}");
        // The SQL agrees with the domain's rule.
        let allowed: String = created
            .iter()
            .filter(|l| scope.allows(&l.body))
            .map(|l| l.body.title.chars().take(1).collect::<String>())
            .collect::<Vec<_>>()
            .join("");
        assert_eq!(allowed, expected, "domain rule for {scope:?}");
    }
    assert_eq!(titles(ListFilter::default()), "abcdefgh");
    // The scope is one condition among the others, not an alternative to them.
    let drafts =
        |scope: ReadScope| titles(ListFilter { scope: Some(scope), status: Some(Status::Draft), ..Default::default() });
    assert_eq!(drafts(ReadScope::anonymous()), "");
    assert_eq!(drafts(limited(true, &["130000"], &[])), "");
    assert_eq!(drafts(limited(true, &[], &["乙"])), "fh");
    let in_hebei = titles(ListFilter {
        scope: Some(limited(true, &["130000"], &["乙"])),
        region: Some("130000".into()),
        ..Default::default()
    });
    assert_eq!(in_hebei, "ch");
    let of_jia =
        titles(ListFilter { scope: Some(ReadScope::anonymous()), owner_org: Some("甲".into()), ..Default::default() });
    assert_eq!(of_jia, "a");
}

fn orgs_and_users(store: &impl Identity) {
    let org =
        store.create_org(new_org("北京某研究院", OrgKind::University, "110108"), &|_| noted("org.create")).unwrap();
    assert_eq!(org.kind, OrgKind::University);
    assert_eq!(store.org(org.id).unwrap(), Some(org.clone()));
    assert_eq!(store.org_by_name("北京某研究院").unwrap(), Some(org.clone()));
    let taken =
        store.create_org(new_org("北京某研究院", OrgKind::Enterprise, "130638"), &|_| noted("org.create")).unwrap_err();
    assert!(matches!(&taken, StoreError::Taken { field: "name", value } if value == "北京某研究院"), "{taken:?}");
    assert!(taken.to_string().contains("already taken"), "{taken}");
    let other = store
        .create_org(new_org("Tianjin Works", OrgKind::FacilityOperator, "120116"), &|_| noted("org.create"))
        .unwrap();
    assert_ne!(other.id, org.id);
    let names: Vec<String> = store.orgs().unwrap().into_iter().map(|o| o.name).collect();
    assert_eq!(names, vec!["Tianjin Works".to_string(), "北京某研究院".to_string()]);
    assert_eq!(store.org(OrgId(other.id.0 + org.id.0 + 1000)).unwrap(), None);
    assert_eq!(store.org_by_name("北京某研究").unwrap(), None);

    let alice = store
        .create_user(new_user("alice", Role::OrgAdmin, Some(org.id), None), &[], &|_| noted("user.create"))
        .unwrap();
    assert!(!alice.disabled);
    assert_eq!((alice.role, alice.org_id), (Role::OrgAdmin, Some(org.id)));
    assert_eq!(store.user(alice.id).unwrap(), Some(alice.clone()));
    assert_eq!(store.user_by_name("alice").unwrap(), Some(alice.clone()));
    let taken =
        store.create_user(new_user("alice", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap_err();
    assert!(matches!(&taken, StoreError::Taken { field: "username", value } if value == "alice"), "{taken:?}");
    // Usernames are case-sensitive.
    let operator = store
        .create_user(new_user("Alice", Role::RegionOperator, None, Some("110000")), &[], &|_| noted("user.create"))
        .unwrap();
    assert_eq!(store.user(operator.id).unwrap().unwrap().region_code.as_deref(), Some("110000"));
    assert_eq!(store.user_by_name("ALICE").unwrap(), None);
    assert!(
        store
            .create_user(
                new_user("orphan", Role::Member, Some(OrgId(other.id.0 + org.id.0 + 1000)), None),
                &[],
                &|_| noted("user.create")
            )
            .is_err()
    );
    let usernames: Vec<String> = store.users().unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(usernames, vec!["Alice".to_string(), "alice".to_string()]);

    store.set_password(alice.id, "$argon2id$changed", noted("user.password")).unwrap();
    assert_eq!(store.user(alice.id).unwrap().unwrap().password_hash, "$argon2id$changed");
    assert_eq!(store.user(operator.id).unwrap().unwrap().password_hash, operator.password_hash);
    assert_eq!(store.user(UserId(operator.id.0 + alice.id.0 + 1000)).unwrap(), None);
}

fn sessions_expire(store: &(impl Identity + Credentials)) {
    let user = store.create_user(new_user("sess", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    // Expires half a second after a whole hour: text with a varying fraction width or an offset
    // other than UTC would compare wrongly.
    let expires = T0 + Duration::hours(1) + Duration::milliseconds(500);
    let long = session("h-long", user.id, T0, expires);
    store.create_session(long.clone(), noted("login.success")).unwrap();
    assert_eq!(store.session("h-long", T0).unwrap(), Some(long.clone()));
    assert_eq!(store.session("h-long", T0 + Duration::hours(1)).unwrap(), Some(long.clone()));
    assert_eq!(store.session("h-long", expires - Duration::nanoseconds(1)).unwrap(), Some(long.clone()));
    assert_eq!(store.session("h-long", expires).unwrap(), None, "expired at expires_at");
    assert_eq!(store.session("h-long", T0 + Duration::hours(2)).unwrap(), None);
    let beijing = (T0 + Duration::minutes(30)).to_offset(offset!(+08:00));
    assert!(store.session("h-long", beijing).unwrap().is_some());
    let new_york = (T0 + Duration::hours(2)).to_offset(offset!(-05:00));
    assert_eq!(store.session("h-long", new_york).unwrap(), None);
    assert_eq!(store.session("h-unknown", T0).unwrap(), None);

    store.create_session(session("h-short", user.id, T0, T0 + Duration::minutes(10)), noted("login.success")).unwrap();
    store.create_session(session("h-later", user.id, T0, T0 + Duration::hours(3)), noted("login.success")).unwrap();
    assert_eq!(store.purge_sessions(T0 + Duration::hours(2)).unwrap(), 2);
    assert_eq!(store.session("h-long", T0).unwrap(), None, "purged");
    assert!(store.session("h-later", T0 + Duration::hours(2)).unwrap().is_some());
    assert_eq!(store.purge_sessions(T0 + Duration::hours(2)).unwrap(), 0);
    store.delete_session("h-later", noted("logout")).unwrap();
    assert_eq!(store.session("h-later", T0).unwrap(), None);
    store.delete_session("h-later", noted("logout")).unwrap();
}

fn tokens_until_revoked_or_expired(store: &(impl Identity + Credentials)) {
    let user = store.create_user(new_user("tok", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let other = store.create_user(new_user("tok2", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let token = store
        .create_token(
            NewApiToken {
                user_id: user.id,
                name: "ci".into(),
                token_hash: "th-ci".into(),
                scopes: vec![Scope::Read, Scope::Write],
                expires_at: None,
            },
            &|_| noted("token.issue"),
        )
        .unwrap();
    assert_eq!(token.scopes, vec![Scope::Read, Scope::Write]);
    assert_eq!((token.revoked_at, token.last_used_at), (None, None));
    assert_eq!(store.token(token.id).unwrap(), Some(token.clone()));

    let used = store.use_token("th-ci", T0).unwrap().unwrap();
    assert_eq!((used.id, used.last_used_at), (token.id, Some(T0)));
    assert_eq!(used.scopes, token.scopes);
    store.use_token("th-ci", T0 + Duration::hours(1)).unwrap().unwrap();
    assert_eq!(store.token(token.id).unwrap().unwrap().last_used_at, Some(T0 + Duration::hours(1)));

    let short = store
        .create_token(
            NewApiToken {
                user_id: user.id,
                name: "short".into(),
                token_hash: "th-short".into(),
                scopes: vec![Scope::Admin],
                expires_at: Some(T0 + Duration::hours(1)),
            },
            &|_| noted("token.issue"),
        )
        .unwrap();
    assert!(store.use_token("th-short", T0 + Duration::minutes(30)).unwrap().is_some());
    assert_eq!(store.use_token("th-short", T0 + Duration::hours(1)).unwrap(), None, "expired at expires_at");
    assert_eq!(store.use_token("th-short", T0 + Duration::hours(2)).unwrap(), None);
    let stored = store.token(short.id).unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(T0 + Duration::minutes(30)), "refused uses are not recorded");
    assert!(
        !store.revoke_token(short.id, T0 + Duration::hours(2), noted("token.revoke")).unwrap(),
        "an expired token is not live"
    );

    assert!(store.revoke_token(token.id, T0 + Duration::hours(2), noted("token.revoke")).unwrap());
    assert!(!store.revoke_token(token.id, T0 + Duration::hours(3), noted("token.revoke")).unwrap(), "idempotent");
    assert_eq!(store.use_token("th-ci", T0 + Duration::hours(3)).unwrap(), None);
    let revoked = store.token(token.id).unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(T0 + Duration::hours(2)));
    assert_eq!(revoked.last_used_at, Some(T0 + Duration::hours(1)));
    assert!(!store.revoke_token(token.id + short.id + 1000, T0, noted("token.revoke")).unwrap());
    assert_eq!(store.use_token("th-unknown", T0).unwrap(), None);

    let bare = store
        .create_token(
            NewApiToken {
                user_id: other.id,
                name: "bare".into(),
                token_hash: "th-bare".into(),
                scopes: vec![],
                expires_at: None,
            },
            &|_| noted("token.issue"),
        )
        .unwrap();
    assert_eq!(store.token(bare.id).unwrap().unwrap().scopes, vec![]);
    let ids = |user_id| store.tokens_of(user_id).unwrap().into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids(user.id), vec![token.id, short.id]);
    assert_eq!(ids(other.id), vec![bare.id]);
}

fn disabling_ends_sessions_and_tokens(store: &(impl Identity + Credentials)) {
    let gone = store.create_user(new_user("gone", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let stays = store.create_user(new_user("stays", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    for (user, hash) in [(&gone, "gone"), (&stays, "stays")] {
        store
            .create_session(session(&format!("s-{hash}"), user.id, T0, T0 + Duration::days(1)), noted("login.success"))
            .unwrap();
        store
            .create_token(
                NewApiToken {
                    user_id: user.id,
                    name: "t".into(),
                    token_hash: format!("t-{hash}"),
                    scopes: vec![Scope::Read],
                    expires_at: None,
                },
                &|_| noted("token.issue"),
            )
            .unwrap();
    }
    store.disable_user(gone.id, &[], noted("user.disable")).unwrap();
    assert!(store.user(gone.id).unwrap().unwrap().disabled);
    assert_eq!(store.session("s-gone", T0).unwrap(), None);
    assert_eq!(store.use_token("t-gone", T0).unwrap(), None);
    assert!(store.tokens_of(gone.id).unwrap().iter().all(|t| t.revoked_at.is_some()));
    assert!(!store.user(stays.id).unwrap().unwrap().disabled);
    assert!(store.session("s-stays", T0).unwrap().is_some());
    assert!(store.use_token("t-stays", T0).unwrap().is_some());
}

fn appointments_are_per_user(store: &impl Identity) {
    let first = store.create_org(new_org("委托A", OrgKind::Enterprise, "110106"), &|_| noted("org.create")).unwrap();
    let second = store.create_org(new_org("委托B", OrgKind::University, "130638"), &|_| noted("org.create")).unwrap();
    let agency = store.create_org(new_org("中介", OrgKind::Enterprise, "110106"), &|_| noted("org.create")).unwrap();
    let manager = store
        .create_user(new_user("manager", Role::TechManager, Some(agency.id), None), &[], &|_| noted("user.create"))
        .unwrap();
    let colleague = store
        .create_user(new_user("colleague", Role::Member, Some(agency.id), None), &[], &|_| noted("user.create"))
        .unwrap();
    assert!(store.appointments(manager.id).unwrap().is_empty());
    store.appoint(manager.id, second.id, noted("user.appoint")).unwrap();
    store.appoint(manager.id, first.id, noted("user.appoint")).unwrap();
    store.appoint(manager.id, first.id, noted("user.appoint")).unwrap();
    assert_eq!(store.appointments(manager.id).unwrap(), vec![first.clone(), second.clone()], "by name");
    assert!(store.appointments(colleague.id).unwrap().is_empty());
}

fn claims_are_decided_once_and_approval_makes_a_member(store: &(impl Store + Accounts + Claims)) {
    let org =
        store.create_org(new_org("无人认领机构", OrgKind::Enterprise, "130629"), &|_| noted("org.create")).unwrap();
    let other = store.create_org(new_org("有人机构", OrgKind::Enterprise, "110106"), &|_| noted("org.create")).unwrap();
    let claimant =
        store.create_user(new_user("claimant", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let rival = store.create_user(new_user("rival", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let member = store
        .create_user(new_user("member", Role::Member, Some(other.id), None), &[], &|_| noted("user.create"))
        .unwrap();
    let operator = store
        .create_user(new_user("hebei_ops", Role::RegionOperator, None, Some("130000")), &[], &|_| noted("user.create"))
        .unwrap();
    let names = vec![org.name.clone(), other.name.clone(), "不存在的机构".to_string()];
    assert_eq!(store.represented_orgs(&names).unwrap(), vec![other.name.clone()]);
    assert!(store.represented_orgs(&[]).unwrap().is_empty());

    let claim_of = |user: UserId, uscc: &str| NewClaim {
        org_id: org.id,
        user_id: user,
        uscc: uscc.into(),
        note: "法人代表".into(),
    };
    let claim = store
        .create_claim(claim_of(claimant.id, "91130629MA0CXXXX1X"), &|c| noted(&format!("claim:{}", c.id)))
        .unwrap();
    assert_eq!(
        (claim.state, claim.version, claim.org_name.as_str(), claim.org_region.as_str()),
        (ClaimState::Pending, 1, "无人认领机构", "130629")
    );
    assert_eq!(claim.username, "claimant");
    assert_eq!(store.claim(claim.id).unwrap(), Some(claim.clone()));
    assert!(
        matches!(
            store.create_claim(claim_of(claimant.id, "91130629MA0CXXXX1X"), &|_| noted("claim:again")),
            Err(StoreError::WrongState(_))
        ),
        "one pending claim per user and organisation"
    );
    assert!(matches!(
        store.create_claim(NewClaim { org_id: OrgId(999_999), ..claim_of(claimant.id, "x") }, &|_| noted("claim:none")),
        Err(StoreError::WrongState(_))
    ));
    let second = store.create_claim(claim_of(rival.id, "91130629MA0CXXXX1X"), &|_| noted("claim:rival")).unwrap();

    // Listing: by user, by region prefix, by state.
    let ids = |filter: &ClaimFilter| store.claims(filter, 10).unwrap().into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(&ClaimFilter::default()), vec![second.id, claim.id], "newest first");
    assert_eq!(ids(&ClaimFilter { user_id: Some(claimant.id), ..Default::default() }), vec![claim.id]);
    assert_eq!(ids(&ClaimFilter { region_prefixes: Some(vec!["13".into()]), ..Default::default() }).len(), 2);
    assert!(ids(&ClaimFilter { region_prefixes: Some(vec!["11".into()]), ..Default::default() }).is_empty());
    assert!(ids(&ClaimFilter { region_prefixes: Some(Vec::new()), ..Default::default() }).is_empty());
    assert!(ids(&ClaimFilter { state: Some(ClaimState::Approved), ..Default::default() }).is_empty());

    let approve = ClaimDecision {
        claim_id: claim.id,
        state: ClaimState::Approved,
        decided_by: operator.id,
        reason: String::new(),
    };
    let approved =
        store.decide_claim(approve.clone(), &|c| noted(&format!("decide:{}", c.state.as_str()))).unwrap().unwrap();
    assert_eq!((approved.state, approved.version, approved.decided_by), (ClaimState::Approved, 2, Some(operator.id)));
    assert!(approved.decided_at.is_some());
    assert_eq!(store.user(claimant.id).unwrap().unwrap().org_id, Some(org.id), "the claimant is a member now");
    assert_eq!(store.represented_orgs(&names).unwrap().len(), 2);
    let again = ClaimDecision { state: ClaimState::Rejected, reason: "晚了".into(), ..approve };
    assert_eq!(store.decide_claim(again, &|_| noted("decide:again")).unwrap(), None, "decided once");
    assert_eq!(store.claim(claim.id).unwrap().unwrap().state, ClaimState::Approved);

    let reject = ClaimDecision {
        claim_id: second.id,
        state: ClaimState::Rejected,
        decided_by: operator.id,
        reason: "代码不符".into(),
    };
    let rejected = store.decide_claim(reject, &|_| noted("decide:rejected")).unwrap().unwrap();
    assert_eq!((rejected.state, rejected.reason.as_str()), (ClaimState::Rejected, "代码不符"));
    assert_eq!(store.user(rival.id).unwrap().unwrap().org_id, None, "a rejection changes no membership");
    let trail = audited(store);
    for action in [format!("claim:{}", claim.id), "decide:approved".into(), "decide:rejected".into()] {
        assert!(trail.contains(&action), "{action} in {trail:?}");
    }
    assert!(!trail.iter().any(|a| a == "decide:again" || a == "claim:again"), "refused writes are not audited");
    // A disabled member represents nobody.
    store.disable_user(member.id, &[], noted("disable")).unwrap();
    assert_eq!(store.represented_orgs(&names).unwrap(), vec![org.name.clone()]);
}

fn review_regions_and_reviews(store: &(impl Store + Accounts)) {
    assert!(store.review_regions().unwrap().is_empty());
    store.set_review_region("130000", true, noted("review_region.set")).unwrap();
    store.set_review_region("110000", true, noted("review_region.set")).unwrap();
    store.set_review_region("110000", true, noted("review_region.set")).unwrap();
    assert_eq!(store.review_regions().unwrap(), vec!["110000".to_string(), "130000".to_string()]);
    store.set_review_region("130000", false, noted("review_region.set")).unwrap();
    store.set_review_region("120000", false, noted("review_region.set")).unwrap();
    assert_eq!(store.review_regions().unwrap(), vec!["110000".to_string()]);

    let reviewer = store
        .create_user(new_user("reviewer", Role::RegionOperator, None, Some("110000")), &[], &|_| noted("user.create"))
        .unwrap();
    let listing = store.create(owned("待审", "110106", "甲", Visibility::Public, Status::Pending)).unwrap();
    let other = store.create(owned("另一个", "110106", "甲", Visibility::Public, Status::Pending)).unwrap();
    let (rejected, after) = store
        .review_listing(decision(listing.id, 1, reviewer.id, false, "信息不全"), &|_| noted("review.reject"))
        .unwrap();
    assert_eq!((after.body.status, after.version), (Status::Rejected, 2));
    // Not pending any more: refused, and nothing recorded or audited.
    let again = store.review_listing(decision(listing.id, 2, reviewer.id, true, ""), &|_| noted("review.approve"));
    assert!(matches!(again, Err(StoreError::WrongState(_))), "{again:?}");
    // A stale version is a conflict.
    let stale = store.review_listing(decision(other.id, 7, reviewer.id, true, ""), &|_| noted("review.approve"));
    assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{stale:?}");
    let (approved, published) = store
        .review_listing(decision(other.id, 1, reviewer.id, true, ""), &|r| noted(&format!("review.approve.{}", r.id)))
        .unwrap();
    assert_eq!(published.body.status, Status::Published);
    assert_eq!(store.get(other.id).unwrap(), published);
    assert!(!rejected.approved && approved.approved);
    assert_eq!(rejected.reason, "信息不全");
    assert_eq!(store.reviews_of(listing.id).unwrap(), vec![rejected]);
    assert_eq!(store.reviews_of(other.id).unwrap(), vec![approved.clone()]);
    let decisions: Vec<String> = audited(store).into_iter().filter(|a| a.starts_with("review.")).collect();
    assert_eq!(decisions, vec!["review.reject".to_string(), format!("review.approve.{}", approved.id)]);
    let missing = ListingId::new();
    let found = store.review_listing(decision(missing, 1, reviewer.id, true, ""), &|_| noted("review.approve"));
    assert!(matches!(found, Err(StoreError::NotFound(id)) if id == missing));
}

fn audit_trail_filters(store: &impl AuditTrail) {
    let entry =
        |actor_id: Option<UserId>, actor: &str, action: &str, region: Option<&str>, detail: serde_json::Value| {
            store
                .audit(NewAudit {
                    actor_id,
                    actor: actor.into(),
                    action: action.into(),
                    target: format!("target-{action}"),
                    region_code: region.map(Into::into),
                    ip: actor_id.map(|id| format!("10.0.0.{id}")),
                    detail,
                    ..NewAudit::default()
                })
                .unwrap()
        };
    let e1 =
        entry(Some(UserId(1)), "alice", "login.success", Some("110108"), serde_json::json!({"method": "password"}));
    let e2 = entry(Some(UserId(2)), "bob", "login.failure", Some("130638"), serde_json::Value::Null);
    let e3 = entry(Some(UserId(1)), "alice", "listing.create", Some("110108"), serde_json::json!(["x", 1]));
    let e4 = entry(None, "cli", "listing.delete", None, serde_json::json!({}));
    let e5 = entry(Some(UserId(3)), "mallory", "login_x", Some("120116"), serde_json::json!({"n": 5}));
    assert!([&e1, &e2, &e3, &e4].iter().zip([&e2, &e3, &e4, &e5]).all(|(a, b)| a.seq < b.seq));
    assert_eq!(e1.detail, serde_json::json!({"method": "password"}));

    let query = |filter: AuditFilter, limit: u32, offset: u64| {
        let (entries, total) = store.audit_entries(&filter, limit, offset).unwrap();
        (entries, total)
    };
    let seqs = |entries: &[AuditEntry]| entries.iter().map(|e| e.seq).collect::<Vec<_>>();
    let (all, total) = query(AuditFilter::default(), 100, 0);
    assert_eq!(total, 5);
    assert_eq!(all, vec![e5.clone(), e4.clone(), e3.clone(), e2.clone(), e1.clone()], "newest first, round trip");

    let codes = |codes: &[&str]| Some(codes.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    let (found, total) = query(AuditFilter { region_codes: codes(&["110108"]), ..Default::default() }, 100, 0);
    assert_eq!((seqs(&found), total), (vec![e3.seq, e1.seq], 2));
    let (found, total) =
        query(AuditFilter { region_codes: codes(&["110108", "130638"]), ..Default::default() }, 100, 0);
    assert_eq!((seqs(&found), total), (vec![e3.seq, e2.seq, e1.seq], 3));
    let (found, total) = query(AuditFilter { region_codes: codes(&[]), ..Default::default() }, 100, 0);
    assert_eq!((found.len(), total), (0, 0), "an empty region list matches nothing");
    let (found, total) = query(AuditFilter { region_codes: codes(&["110000"]), ..Default::default() }, 100, 0);
    assert_eq!((found.len(), total), (0, 0), "codes are exact; the caller expands regions");

    let prefix = |p: &str| AuditFilter { action_prefix: Some(p.into()), ..Default::default() };
    let (found, total) = query(prefix("login."), 100, 0);
    assert_eq!((seqs(&found), total), (vec![e2.seq, e1.seq], 2));
    let (found, total) = query(prefix("login_"), 100, 0);
    assert_eq!((seqs(&found), total), (vec![e5.seq], 1), "_ is not a wildcard");
    let (found, _) = query(prefix("%"), 100, 0);
    assert!(found.is_empty(), "% is not a wildcard");
    let (found, total) = query(prefix(""), 100, 0);
    assert_eq!((found.len(), total), (5, 5));
    let (found, total) = query(
        AuditFilter { action_prefix: Some("listing.".into()), actor: Some("alice".into()), ..Default::default() },
        100,
        0,
    );
    assert_eq!((seqs(&found), total), (vec![e3.seq], 1));
    let (found, total) = query(AuditFilter { actor: Some("cli".into()), ..Default::default() }, 100, 0);
    assert_eq!((seqs(&found), total), (vec![e4.seq], 1));

    let (page, total) = query(AuditFilter::default(), 2, 1);
    assert_eq!((seqs(&page), total), (vec![e4.seq, e3.seq], 5));
    let (page, total) = query(AuditFilter::default(), 2, 10);
    assert_eq!((page.len(), total), (0, 5));
}

fn audited_writes_and_their_entries_commit_together(store: &(impl Store + Accounts)) {
    let audit = |action: &'static str| {
        move |listing: &xietong_domain::Listing| NewAudit {
            actor_id: None,
            actor: "contract".into(),
            action: action.into(),
            target: listing.id.to_string(),
            region_code: None,
            ip: None,
            detail: serde_json::json!({"version": listing.version}),
            ..NewAudit::default()
        }
    };
    let created = store
        .write_audited(ListingWrite::Create(achievement("审计同事务", "110106", "3911")), &audit("t.create"))
        .unwrap();
    let updated = store
        .write_audited(
            ListingWrite::Update { id: created.id, expected_version: 1, body: created.body.clone() },
            &audit("t.update"),
        )
        .unwrap();
    assert_eq!(updated.version, 2);
    // A stale version writes nothing, and so audits nothing.
    let stale = store.write_audited(
        ListingWrite::SetStatus { id: created.id, expected_version: Some(1), status: Status::Archived },
        &audit("t.archive"),
    );
    assert!(matches!(stale, Err(StoreError::Conflict { .. })));
    let archived = store
        .write_audited(
            ListingWrite::SetStatus { id: created.id, expected_version: Some(2), status: Status::Archived },
            &audit("t.archive"),
        )
        .unwrap();
    assert_eq!(archived.body.status, Status::Archived);
    let (entries, total) = store.audit_entries(&AuditFilter::default(), 100, 0).unwrap();
    let mine: Vec<(&str, &serde_json::Value)> = entries
        .iter()
        .filter(|e| e.target == created.id.to_string())
        .map(|e| (e.action.as_str(), &e.detail["version"]))
        .collect();
    assert_eq!(total, 3);
    assert_eq!(mine.len(), 3, "{mine:?}");
    assert!(mine.contains(&("t.create", &serde_json::json!(1))));
    assert!(mine.contains(&("t.update", &serde_json::json!(2))));
    assert!(mine.contains(&("t.archive", &serde_json::json!(3))));
}

/// Every account write appends its own audit entry in its transaction, and a write that does
/// not happen (taken name, request already decided, token already revoked) audits nothing.
fn account_writes_carry_their_audit_entries(store: &(impl Store + Accounts)) {
    let org = store
        .create_org(new_org("审计机构", OrgKind::Enterprise, "110106"), &|o| noted(&format!("org:{}", o.name)))
        .unwrap();
    store.create_org(new_org("审计机构", OrgKind::Enterprise, "110106"), &|_| noted("org:again")).unwrap_err();
    let other = store.create_org(new_org("对方机构", OrgKind::University, "130638"), &|_| noted("org:other")).unwrap();
    let user = store
        .create_user(new_user("auditee", Role::TechManager, Some(org.id), None), &[other.id], &|u| {
            noted(&format!("user:{}", u.username))
        })
        .unwrap();
    assert_eq!(store.appointments(user.id).unwrap().iter().map(|o| o.id).collect::<Vec<_>>(), vec![other.id]);
    store.create_user(new_user("auditee", Role::Member, None, None), &[], &|_| noted("user:again")).unwrap_err();
    store.create_session(session("audit-s", user.id, T0, T0 + Duration::days(1)), noted("login")).unwrap();
    let token = store
        .create_token(
            NewApiToken {
                user_id: user.id,
                name: "t".into(),
                token_hash: "audit-t".into(),
                scopes: vec![Scope::Read],
                expires_at: None,
            },
            &|t| noted(&format!("token:{}", t.name)),
        )
        .unwrap();
    assert!(store.revoke_token(token.id, T0, noted("revoke")).unwrap());
    assert!(!store.revoke_token(token.id, T0, noted("revoke:again")).unwrap());
    let listing = store.create(owned("审计请求", "110106", "对方机构", Visibility::Public, Status::Published)).unwrap();
    store.set_review_region("110000", true, noted("review_region")).unwrap();
    store.delete_session("audit-s", noted("logout")).unwrap();
    store.disable_user(user.id, &[listing.id], noted("erase")).unwrap();
    assert!(matches!(store.get(listing.id), Err(StoreError::NotFound(_))), "erasure deletes the listings named");
    let expected = [
        "org:审计机构".to_string(),
        "org:other".into(),
        "user:auditee".into(),
        "login".into(),
        "token:t".into(),
        "revoke".into(),
        "review_region".into(),
        "logout".into(),
        "erase".into(),
    ];
    assert_eq!(audited(store), expected);
}

/// The login throttle's counts: failures of a username after its last success, and failures
/// from an address, both after `since`.
fn login_failures_count_by_account_and_address(store: &impl AuditTrail) {
    let login = |actor: &str, action: &str, ip: Option<&str>| {
        store
            .audit(NewAudit {
                actor: actor.into(),
                action: action.into(),
                target: actor.into(),
                ip: ip.map(Into::into),
                ..NewAudit::default()
            })
            .unwrap()
    };
    let before = OffsetDateTime::now_utc() - Duration::minutes(1);
    let first = login("alice", "login.failure", Some("10.0.0.1"));
    std::thread::sleep(std::time::Duration::from_millis(5));
    login("alice", "login.failure", Some("10.0.0.2"));
    login("bob", "login.failure", Some("10.0.0.1"));
    login("carol", "login.failure", None);
    let counted = store.login_failures("alice", Some("10.0.0.1"), before).unwrap();
    assert_eq!((counted.account, counted.address), (2, 2));
    assert_eq!(counted.account_oldest, Some(first.at));
    assert_eq!(counted.address_oldest, Some(first.at));
    assert_eq!(store.login_failures("nobody", None, before).unwrap().address, 1, "requests without an address");
    // A success starts the account's count again; the address keeps its failures.
    login("alice", "login.success", Some("10.0.0.1"));
    let counted = store.login_failures("alice", Some("10.0.0.1"), before).unwrap();
    assert_eq!((counted.account, counted.address), (0, 2));
    // Timestamps have millisecond precision: the next failure comes after the success.
    std::thread::sleep(std::time::Duration::from_millis(5));
    login("alice", "login.failure", Some("10.0.0.3"));
    assert_eq!(store.login_failures("alice", Some("10.0.0.3"), before).unwrap().account, 1);
    // Nothing is counted before `since`.
    let later = OffsetDateTime::now_utc() + Duration::minutes(1);
    assert_eq!(store.login_failures("alice", Some("10.0.0.1"), later).unwrap(), Default::default());
}

fn deal_of(listing: ListingId, asker: &str, owner: &str, user: UserId) -> NewDeal {
    NewDeal {
        listing_id: listing,
        from_listing_id: None,
        asker_org: asker.into(),
        owner_org: owner.into(),
        asker_user_id: user,
        message: "希望合作".into(),
    }
}

fn change(deal: &Deal, event: DealEvent, side: Side, state: DealState) -> DealChange {
    DealChange {
        deal_id: deal.id,
        expected_version: deal.version,
        event,
        side,
        actor_id: None,
        actor: "contract".into(),
        state,
        broker: None,
        engagement: None,
    }
}

/// Deals: one open deal per (listing, asker); each event stored with its audit entry if the
/// deal is still at the version it was decided on, so of concurrent events exactly one wins.
fn deals_move_one_version_at_a_time(store: &(impl Store + Accounts + Deals)) {
    let user = store.create_user(new_user("dealer", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let listing = store.create(owned("对接成果", "110106", "甲机构", Visibility::Public, Status::Published)).unwrap();
    let deal = store
        .create_deal(deal_of(listing.id, "乙机构", "甲机构", user.id), &|d| {
            noted(&format!("deal.create.{}", d.id))
        })
        .unwrap();
    assert_eq!((deal.state, deal.version, deal.timeline.len()), (DealState::Proposed, 1, 0));
    assert_eq!(store.deal(deal.id).unwrap(), Some(deal.clone()));
    let twice =
        store.create_deal(deal_of(listing.id, "乙机构", "甲机构", user.id), &|_| noted("deal.create.again"));
    assert!(matches!(twice, Err(StoreError::WrongState(_))), "{twice:?}");
    store.create_deal(deal_of(listing.id, "丙机构", "甲机构", user.id), &|_| noted("deal.create.other")).unwrap();
    let missing = store
        .create_deal(deal_of(ListingId::new(), "乙机构", "甲机构", user.id), &|_| noted("deal.create.missing"));
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");

    // Twenty concurrent accepts decided on version 1: exactly one is stored.
    let winners: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let deal = &deal;
                scope.spawn(move || {
                    store
                        .apply_deal_change(change(deal, DealEvent::Accept, Side::Owner, DealState::Accepted), &|_| {
                            noted("deal.accept")
                        })
                        .is_ok()
                })
            })
            .collect();
        handles.into_iter().map(|h| usize::from(h.join().unwrap())).sum()
    });
    assert_eq!(winners, 1);
    let accepted = store.deal(deal.id).unwrap().unwrap();
    assert_eq!((accepted.state, accepted.version, accepted.timeline.len()), (DealState::Accepted, 2, 1));
    let stale = store.apply_deal_change(
        change(&deal, DealEvent::Close { reason: "x".into() }, Side::Asker, DealState::Closed),
        &|_| noted("deal.close"),
    );
    assert!(matches!(stale, Err(StoreError::Stale { expected: 1, actual: 2, .. })), "{stale:?}");

    let mut appoint =
        change(&accepted, DealEvent::AppointBroker { username: "tm".into() }, Side::Asker, DealState::Accepted);
    appoint.broker = Some((user.id, "dealer".into()));
    let brokered = store.apply_deal_change(appoint, &|_| noted("deal.appoint_broker")).unwrap();
    assert_eq!(brokered.brokers, vec![Broker { side: Side::Asker, user_id: user.id, username: "dealer".into() }]);
    // The pair is free again once the deal is closed.
    let closed = store
        .apply_deal_change(
            change(&brokered, DealEvent::Close { reason: "暂停".into() }, Side::Owner, DealState::Closed),
            &|_| noted("deal.close"),
        )
        .unwrap();
    assert_eq!(
        closed.timeline.iter().map(|s| s.state).collect::<Vec<_>>(),
        vec![DealState::Accepted, DealState::Accepted, DealState::Closed]
    );
    store.create_deal(deal_of(listing.id, "乙机构", "甲机构", user.id), &|_| noted("deal.create.reopen")).unwrap();

    let mine = store.deals(&DealFilter { orgs: Some(vec!["乙机构".into()]), ..DealFilter::default() }, 50).unwrap();
    assert_eq!(mine.len(), 2, "both of 乙机构's deals");
    let owned = store
        .deals(
            &DealFilter {
                orgs: Some(vec!["甲机构".into()]),
                state: Some(DealState::Proposed),
                ..DealFilter::default()
            },
            50,
        )
        .unwrap();
    assert_eq!(owned.iter().map(|d| d.asker_org.as_str()).collect::<Vec<_>>(), vec!["乙机构", "丙机构"]);
    let brokered = store
        .deals(&DealFilter { orgs: Some(Vec::new()), broker: Some(user.id), ..DealFilter::default() }, 50)
        .unwrap();
    assert_eq!(brokered.iter().map(|d| d.id).collect::<Vec<_>>(), vec![deal.id]);
    assert_eq!(store.deals(&DealFilter::default(), 50).unwrap().len(), 3);
    let actions: Vec<String> = audited(store).into_iter().filter(|a| a.starts_with("deal.")).collect();
    assert_eq!(
        actions,
        vec![
            format!("deal.create.{}", deal.id),
            "deal.create.other".to_string(),
            "deal.accept".to_string(),
            "deal.appoint_broker".into(),
            "deal.close".into(),
            "deal.create.reopen".into(),
        ],
        "one entry per stored step, none for refused ones"
    );
}

/// A notice to the members of `orgs` (and `users`), not to `except`.
fn notice(event: &str, orgs: &[&str], users: &[UserId], except: Option<UserId>) -> Notice {
    Notice {
        event: event.into(),
        title_zh: "收到对接请求".into(),
        title_en: "A deal was proposed".into(),
        body_zh: "正文".into(),
        body_en: "Body".into(),
        link: "/deals/1".into(),
        deal_id: Some(1),
        to_orgs: orgs.iter().map(|o| o.to_string()).collect(),
        to_users: users.to_vec(),
        except,
        data: serde_json::json!({"n": 1}),
        email: true,
        ..Notice::default()
    }
}

fn outbox_claim(owner: &str, now: OffsetDateTime, email: bool) -> OutboxClaim {
    OutboxClaim { owner: owner.into(), now, lease_until: now + Duration::minutes(1), limit: 100, email }
}

/// Notices ride on audit entries: the inbox rows, the webhook deliveries of subscribed
/// organisations and the e-mails commit with the event's write, and a write refused or rolled
/// back tells nobody. Claims lease rows to one worker at a time; outcomes are logged.
fn notifications_commit_with_their_event(store: &(impl Store + Accounts + Deals + Notifications)) {
    let org_a = store.create_org(new_org("甲机构", OrgKind::Enterprise, "110106"), &|_| noted("org.create")).unwrap();
    let org_b = store.create_org(new_org("乙机构", OrgKind::University, "120116"), &|_| noted("org.create")).unwrap();
    let user = |name: &str, role: Role, org: Option<OrgId>| {
        store.create_user(new_user(name, role, org, None), &[], &|_| noted("user.create")).unwrap()
    };
    let (a1, a2, a3) = (
        user("a1", Role::Member, Some(org_a.id)),
        user("a2", Role::Member, Some(org_a.id)),
        user("a3", Role::Member, Some(org_a.id)),
    );
    let b1 = user("b1", Role::Member, Some(org_b.id));
    let broker = user("tm", Role::TechManager, None);
    store.disable_user(a3.id, &[], noted("user.disable")).unwrap();
    store.set_email(a1.id, Some("a1@example.com"), noted("user.email")).unwrap();
    assert_eq!(store.email_of(a1.id).unwrap().as_deref(), Some("a1@example.com"));
    assert_eq!(store.email_of(a2.id).unwrap(), None);
    let hook = |org: OrgId, events: &[&str]| {
        store
            .create_webhook(
                NewWebhook {
                    org_id: org,
                    url: "https://hooks.example.com/x".into(),
                    secret: "s3cret".into(),
                    events: events.iter().map(|e| e.to_string()).collect(),
                    created_by: a1.id,
                },
                &|_| noted("webhook.create"),
            )
            .unwrap()
    };
    let proposed_hook = hook(org_a.id, &["deal.proposed"]);
    let closed_hook = hook(org_a.id, &["deal.closed"]);
    let b_hook = hook(org_b.id, &["*"]);
    assert_eq!(proposed_hook.secret, "s3cret");
    assert_eq!(
        store.webhooks_of(org_a.id).unwrap().iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![proposed_hook.id, closed_hook.id]
    );

    let listing = store.create(owned("通知成果", "110106", "甲机构", Visibility::Public, Status::Published)).unwrap();
    let with_notice = |action: &str| {
        let mut entry = noted(action);
        entry.notices = vec![notice("deal.proposed", &["甲机构"], &[broker.id], Some(a2.id))];
        entry
    };
    let deal =
        store.create_deal(deal_of(listing.id, "乙机构", "甲机构", b1.id), &|_| with_notice("deal.propose")).unwrap();
    let inbox_total = |user: UserId| store.inbox(user, false, 50, 0).unwrap().total;
    assert_eq!(inbox_total(a1.id), 1, "a member of the organisation");
    assert_eq!(inbox_total(broker.id), 1, "a named user");
    assert_eq!(inbox_total(a2.id), 0, "the actor is not told");
    assert_eq!(inbox_total(a3.id), 0, "a disabled user is not told");
    assert_eq!(inbox_total(b1.id), 0, "another organisation is not told");
    let item = &store.inbox(a1.id, false, 50, 0).unwrap().items[0];
    assert_eq!(
        (item.event.as_str(), item.title_en.as_str(), item.link.as_str()),
        ("deal.proposed", "A deal was proposed", "/deals/1")
    );
    assert_eq!((item.deal_id, item.read_at), (Some(1), None));
    assert_eq!(store.deliveries(proposed_hook.id, 10).unwrap().len(), 1, "subscribed");
    assert_eq!(store.deliveries(closed_hook.id, 10).unwrap().len(), 0, "not subscribed to this event");
    assert_eq!(store.deliveries(b_hook.id, 10).unwrap().len(), 0, "another organisation's webhook");
    let delivery = &store.deliveries(proposed_hook.id, 10).unwrap()[0];
    let body: serde_json::Value = serde_json::from_str(&delivery.payload).unwrap();
    assert_eq!((body["event"].as_str(), body["data"]["n"].as_i64()), (Some("deal.proposed"), Some(1)));
    assert_eq!((delivery.state, delivery.attempts), (DeliveryState::Pending, 0));

    // Refused writes notify nobody: a second open deal on the pair, a stale event.
    let twice =
        store.create_deal(deal_of(listing.id, "乙机构", "甲机构", b1.id), &|_| with_notice("deal.propose"));
    assert!(matches!(twice, Err(StoreError::WrongState(_))), "{twice:?}");
    let stale =
        DealChange { expected_version: 7, ..change(&deal, DealEvent::Accept, Side::Owner, DealState::Accepted) };
    assert!(store.apply_deal_change(stale, &|_| with_notice("deal.accept")).is_err());
    assert_eq!((inbox_total(a1.id), inbox_total(broker.id)), (1, 1));
    assert_eq!(store.deliveries(proposed_hook.id, 10).unwrap().len(), 1);
    // A listing write that conflicts stores neither its entry nor its notices.
    let conflicting = store.write_audited(
        ListingWrite::Update { id: listing.id, expected_version: 99, body: listing.body.clone() },
        &|_| with_notice("listing.update"),
    );
    assert!(conflicting.is_err());
    assert_eq!(inbox_total(a1.id), 1);

    // A plain audit entry carries notices too; the organisation's events reach its webhook.
    let mut closed = noted("deal.close");
    closed.notices = vec![notice("deal.closed", &["甲机构", "乙机构"], &[], None)];
    store.audit(closed).unwrap();
    assert_eq!((inbox_total(a1.id), inbox_total(a2.id), inbox_total(b1.id)), (2, 1, 1));
    assert_eq!(store.deliveries(closed_hook.id, 10).unwrap().len(), 1);
    assert_eq!(store.deliveries(b_hook.id, 10).unwrap().len(), 1, "`*` subscribes to everything");

    // Reading the inbox: unread first, then one read, then all.
    let page = store.inbox(a1.id, true, 1, 0).unwrap();
    assert_eq!((page.items.len(), page.total, page.unread_count), (1, 2, 2));
    assert_eq!(page.items[0].event, "deal.closed", "newest first");
    assert!(store.mark_read(a1.id, page.items[0].id, T0).unwrap());
    assert!(!store.mark_read(b1.id, page.items[0].id, T0).unwrap(), "not another user's item");
    assert!(!store.mark_read(a1.id, i64::MAX, T0).unwrap());
    assert_eq!(store.unread_count(a1.id).unwrap(), 1);
    let all = store.inbox(a1.id, false, 50, 0).unwrap();
    assert_eq!((all.total, all.unread_count), (2, 1));
    assert_eq!(all.items[0].read_at, Some(T0));
    assert_eq!(store.mark_all_read(a1.id, T0).unwrap(), 1);
    assert_eq!(store.unread_count(a1.id).unwrap(), 0);
    assert_eq!(store.unread_count(b1.id).unwrap(), 1, "another user's inbox is untouched");

    // Claims: one holder at a time, e-mails only when asked for, outcomes counted.
    let now = OffsetDateTime::now_utc() + Duration::seconds(1);
    let webhooks_only = store.claim_outbox(&outbox_claim("w1", now, false)).unwrap();
    assert_eq!(webhooks_only.len(), 3, "{webhooks_only:?}");
    assert!(webhooks_only.iter().all(|job| matches!(job.target, OutboxTarget::Webhook { .. })));
    assert!(
        matches!(&webhooks_only[0].target, OutboxTarget::Webhook { url, secret, .. } if url == "https://hooks.example.com/x" && secret == "s3cret")
    );
    let emails = store.claim_outbox(&outbox_claim("w2", now, true)).unwrap();
    assert_eq!(
        emails.iter().map(|j| j.target.clone()).collect::<Vec<_>>(),
        vec![OutboxTarget::Email { to: "a1@example.com".into() }, OutboxTarget::Email { to: "a1@example.com".into() }],
        "held rows are skipped"
    );
    assert!(emails[0].payload.contains("A deal was proposed"));
    let first = webhooks_only.iter().find(|j| j.event == "deal.proposed").unwrap();
    assert!(
        !store.finish_outbox(first.id, "w2", OutboxOutcome::Delivered { status: Some(200) }).unwrap(),
        "not w2's row"
    );
    let retry_at = now + Duration::hours(1);
    assert!(
        store
            .finish_outbox(
                first.id,
                "w1",
                OutboxOutcome::Retry { status: Some(500), error: "HTTP 500".into(), at: retry_at }
            )
            .unwrap()
    );
    let later = now + Duration::seconds(30);
    assert!(
        store.claim_outbox(&outbox_claim("w3", later, false)).unwrap().is_empty(),
        "leases held, the retry not due yet"
    );
    let again = store.claim_outbox(&outbox_claim("w3", retry_at, false)).unwrap();
    assert_eq!(again.len(), 3, "leases ended and the retry is due");
    let retried = again.iter().find(|j| j.id == first.id).unwrap();
    assert_eq!(retried.attempts, 1);
    assert!(store.finish_outbox(first.id, "w3", OutboxOutcome::Delivered { status: Some(204) }).unwrap());
    let logged = &store.deliveries(proposed_hook.id, 10).unwrap()[0];
    assert_eq!((logged.state, logged.attempts, logged.last_status), (DeliveryState::Delivered, 2, Some(204)));
    let other = again.iter().find(|j| j.id != first.id).unwrap();
    assert!(
        store.finish_outbox(other.id, "w3", OutboxOutcome::Failed { status: None, error: "refused".into() }).unwrap()
    );
    assert!(
        store
            .claim_outbox(&outbox_claim("w4", retry_at + Duration::hours(1), false))
            .unwrap()
            .iter()
            .all(|j| j.id != first.id && j.id != other.id),
        "delivered and failed rows are done"
    );

    // Removing a webhook removes its log.
    assert!(store.delete_webhook(closed_hook.id, noted("webhook.delete")).unwrap());
    assert!(!store.delete_webhook(closed_hook.id, noted("webhook.delete")).unwrap());
    assert_eq!(store.webhook(closed_hook.id).unwrap(), None);
    assert!(store.deliveries(closed_hook.id, 10).unwrap().is_empty());
    assert_eq!(audited(store).iter().filter(|a| *a == "webhook.delete").count(), 1);
}

/// Workers racing for the outbox: every due row is claimed by exactly one of them.
fn outbox_claims_race_without_doubles(store: &(impl Accounts + Notifications)) {
    let org = store.create_org(new_org("竞争机构", OrgKind::Enterprise, "110106"), &|_| noted("org.create")).unwrap();
    let member =
        store.create_user(new_user("racer", Role::Member, Some(org.id), None), &[], &|_| noted("user.create")).unwrap();
    store
        .create_webhook(
            NewWebhook {
                org_id: org.id,
                url: "https://h.example.com/".into(),
                secret: "s".into(),
                events: vec!["*".into()],
                created_by: member.id,
            },
            &|_| noted("webhook.create"),
        )
        .unwrap();
    for _ in 0..30 {
        let mut entry = noted("deal.close");
        entry.notices = vec![notice("deal.closed", &["竞争机构"], &[], None)];
        store.audit(entry).unwrap();
    }
    let now = OffsetDateTime::now_utc() + Duration::seconds(1);
    let claimed: Vec<Vec<i64>> = race(6, |worker| {
        let mut mine = Vec::new();
        loop {
            let claim = OutboxClaim { limit: 4, ..outbox_claim(&format!("w{worker}"), now, false) };
            let jobs = store.claim_outbox(&claim).unwrap();
            if jobs.is_empty() {
                return mine;
            }
            mine.extend(jobs.iter().map(|j| j.id));
        }
    });
    let mut all: Vec<i64> = claimed.into_iter().flatten().collect();
    let count = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!((count, all.len()), (30, 30), "each row claimed once");
}

/// The whole change log after `after_seq`, oldest first.
fn change_log(store: &dyn Store, after_seq: u64) -> Vec<Change> {
    let mut log = Vec::new();
    let mut after = after_seq;
    loop {
        let page = store.changes_since(after, 100).unwrap();
        let Some(last) = page.last() else {
            return log;
        };
        after = last.seq;
        log.extend(page);
    }
}

/// The index follower reads the change log incrementally while writers commit, and assumes that
/// sequence order is commit order: a change that became visible after a later one would be
/// skipped for good. Several threads write (single writes and batches) while a follower reads;
/// what it read must be exactly the final log.
fn change_log_read_while_writing_skips_nothing(store: &dyn Store) {
    const WRITERS: usize = 4;
    const ROUNDS: usize = 25;
    let before = store.last_seq().unwrap();
    let writing_done = AtomicBool::new(false);
    let followed: Vec<Change> = std::thread::scope(|scope| {
        let follower = scope.spawn(|| {
            let mut followed = Vec::new();
            let mut after = before;
            loop {
                // Read the flag first: a read that starts after the last write committed sees all.
                let finished = writing_done.load(Ordering::SeqCst);
                let page = store.changes_since(after, 50).unwrap();
                if let Some(last) = page.last() {
                    after = last.seq;
                } else if finished {
                    return followed;
                }
                followed.extend(page);
            }
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                scope.spawn(move || {
                    for round in 0..ROUNDS {
                        let title = format!("并发 {writer}-{round}");
                        let created = store.create(achievement(&title, "110106", "3741")).unwrap();
                        store.update(created.id, 1, created.body.clone()).unwrap();
                        store
                            .write_batch(vec![
                                WriteOp::Create(achievement(&format!("{title} 甲"), "130638", "C")),
                                WriteOp::Update { id: created.id, expected_version: 2, body: created.body.clone() },
                            ])
                            .unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        writing_done.store(true, Ordering::SeqCst);
        follower.join().unwrap()
    });
    let log = change_log(store, before);
    assert_eq!(log.len(), WRITERS * ROUNDS * 4);
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(followed.len(), log.len(), "the follower skipped changes");
    assert_eq!(followed, log);
}

/// Of concurrent updates from the same version exactly one wins; the others get a conflict (no
/// lost update).
fn concurrent_updates_from_one_version_one_wins(store: &dyn Store) {
    const WRITERS: usize = 6;
    let created = store.create(achievement("争用", "110106", "C")).unwrap();
    let outcomes: Vec<Result<i64, StoreError>> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let mut body = created.body.clone();
                body.title = format!("争用 {writer}");
                scope.spawn(move || store.update(created.id, 1, body).map(|l| l.version))
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let won: Vec<&i64> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(won, vec![&2], "{outcomes:?}");
    for outcome in &outcomes {
        if let Err(err) = outcome {
            assert!(matches!(err, StoreError::Conflict { expected: 1, actual: 2, .. }), "{err:?}");
        }
    }
    let stored = store.get(created.id).unwrap();
    assert_eq!(stored.version, 2);
}

fn idempotency_keys(store: &impl Idempotency) {
    let now = 1_900_000_000;
    let begin = |key: &str, fingerprint: &str, at: i64| store.idempotency_begin("user:1", key, fingerprint, at, 3600);
    assert_eq!(begin("k1", "fp", now).unwrap(), IdempotencyBegin::Started);
    assert_eq!(begin("k1", "fp", now).unwrap(), IdempotencyBegin::InProgress);
    assert_eq!(begin("k1", "other", now).unwrap(), IdempotencyBegin::Mismatch);
    assert_eq!(
        store.idempotency_begin("user:2", "k1", "fp", now, 3600).unwrap(),
        IdempotencyBegin::Started,
        "per scope"
    );
    let response = StoredResponse {
        status: 201,
        content_type: Some("application/json".into()),
        location: Some("/api/v1/listings/x".into()),
        body: b"{\"id\":\"x\"}".to_vec(),
    };
    store.idempotency_finish("user:1", "k1", Some(&response)).unwrap();
    assert_eq!(begin("k1", "fp", now + 1).unwrap(), IdempotencyBegin::Replay(response.clone()));
    assert_eq!(begin("k1", "other", now + 1).unwrap(), IdempotencyBegin::Mismatch);
    // A failed request releases its key; a finished one is not released.
    assert_eq!(begin("k2", "fp", now).unwrap(), IdempotencyBegin::Started);
    store.idempotency_finish("user:1", "k2", None).unwrap();
    assert_eq!(begin("k2", "fp", now).unwrap(), IdempotencyBegin::Started);
    store.idempotency_finish("user:1", "k1", None).unwrap();
    assert_eq!(begin("k1", "fp", now + 2).unwrap(), IdempotencyBegin::Replay(response.clone()));
    // Keys older than the keeping time are forgotten.
    assert_eq!(begin("k1", "other", now + 3601).unwrap(), IdempotencyBegin::Started);
    let empty = StoredResponse { status: 204, content_type: None, location: None, body: Vec::new() };
    store.idempotency_finish("user:1", "k1", Some(&empty)).unwrap();
    assert_eq!(begin("k1", "other", now + 3602).unwrap(), IdempotencyBegin::Replay(empty));
}

/// SQLite stores NUL characters as given; PostgreSQL text cannot hold them. Whatever a user
/// types (a login name, a title) must neither fail a write nor a lookup on either backend.
fn nul_characters_in_text(store: &(impl Store + Accounts)) {
    let mut body = achievement("标题\0尾", "110106", "C");
    body.owner_org = Some("机构\0".into());
    let created = store.create(body).unwrap();
    assert_eq!(store.get(created.id).unwrap(), created, "the body is kept exactly");
    let owned_by = ListFilter { owner_org: Some("机构\0".into()), ..Default::default() };
    assert_eq!(store.list(&owned_by, 10, 0).unwrap().total, 1);
    assert_eq!(store.user_by_name("ghost\0").unwrap(), None);
    assert_eq!(store.org_by_name("ghost\0").unwrap(), None);
    let entry = store
        .audit(NewAudit {
            actor: "anonymous".into(),
            action: "login.failure".into(),
            target: "ghost\0".into(),
            ..Default::default()
        })
        .unwrap();
    let (entries, _) = store.audit_entries(&AuditFilter::default(), 10, 0).unwrap();
    assert_eq!(entries[0].seq, entry.seq);
    assert!(entries[0].target.starts_with("ghost"), "{:?}", entries[0].target);
    let user =
        store.create_user(new_user("nul\0name", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    assert_eq!(store.user_by_name("nul\0name").unwrap().map(|u| u.id), Some(user.id));
}

/// Runs `f(i)` on `n` threads at once and returns the results in thread order.
fn race<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let start = std::sync::Barrier::new(n);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (start, f) = (&start, &f);
                scope.spawn(move || {
                    start.wait();
                    f(i)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// Concurrent requests for one unique thing: exactly one gets it, and the others get the answer
/// they would get one after the other (a duplicate, a key in progress, a decided request).
fn concurrent_claims_of_one_key_one_wins(store: &(impl Store + Accounts + Idempotency + Claims)) {
    const RACERS: usize = 4;
    let creates = race(RACERS, |i| store.create(enterprise(&format!("同码 {i}"), "91110000802100433B")));
    let created: Vec<_> = creates.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "{creates:?}");
    for result in &creates {
        if let Err(err) = result {
            assert!(
                matches!(err, StoreError::Duplicate { field: "uscc", existing } if *existing == created[0].id),
                "{err:?}"
            );
        }
    }

    let begins = race(RACERS, |_| store.idempotency_begin("user:1", "same", "fp", 1_900_000_000, 3600).unwrap());
    assert_eq!(begins.iter().filter(|b| **b == IdempotencyBegin::Started).count(), 1, "{begins:?}");
    assert!(begins.iter().all(|b| matches!(b, IdempotencyBegin::Started | IdempotencyBegin::InProgress)));

    let asker = store.create_user(new_user("racer", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let org = store.create_org(new_org("竞速机构", OrgKind::Enterprise, "110106"), &|_| noted("org.create")).unwrap();
    let claim = store
        .create_claim(NewClaim { org_id: org.id, user_id: asker.id, uscc: "x".into(), note: String::new() }, &|_| {
            noted("claim.create")
        })
        .unwrap();
    let decisions = race(RACERS, |i| {
        let state = if i % 2 == 0 { ClaimState::Approved } else { ClaimState::Rejected };
        let decision = ClaimDecision { claim_id: claim.id, state, decided_by: asker.id, reason: String::new() };
        store.decide_claim(decision, &|_| noted("claim.decide")).unwrap()
    });
    let decided: Vec<_> = decisions.iter().flatten().collect();
    assert_eq!(decided.len(), 1, "{decisions:?}");
    assert_eq!(store.claim(claim.id).unwrap().as_ref(), Some(decided[0]));
    let audited_decisions = audited(store).into_iter().filter(|a| a == "claim.decide").count();
    assert_eq!(audited_decisions, 1, "only the winner is audited");
}

/// Impressions add up per listing, day and province; a stale reminder is claimed once per
/// period; a listing's deals can be listed alone.
fn feedback_counts_and_reminders(store: &(impl Store + Accounts + Deals + Feedback)) {
    let listing =
        store.create(owned("被看见的成果", "110106", "甲机构", Visibility::Public, Status::Published)).unwrap();
    let other = store.create(owned("另一项成果", "110106", "甲机构", Visibility::Public, Status::Published)).unwrap();
    let day = time::macros::date!(2027 - 03 - 01);
    let later = time::macros::date!(2027 - 03 - 05);
    let count = |listing_id, day, province: &str, count| ImpressionCount {
        listing_id,
        day,
        viewer_province: province.into(),
        count,
    };
    store
        .add_impressions(&[
            count(listing.id, day, "130000", 2),
            count(listing.id, day, "", 1),
            count(other.id, later, "110000", 4),
            // A listing that does not exist is dropped, not an error.
            count(ListingId::new(), day, "", 9),
        ])
        .unwrap();
    store.add_impressions(&[count(listing.id, day, "130000", 3), count(listing.id, later, "130000", 1)]).unwrap();
    store.add_impressions(&[]).unwrap();
    let mine = store.impressions(Some(listing.id), None).unwrap();
    assert_eq!(
        mine,
        vec![count(listing.id, day, "", 1), count(listing.id, day, "130000", 5), count(listing.id, later, "130000", 1)]
    );
    assert_eq!(store.impressions(Some(listing.id), Some(later)).unwrap(), vec![count(listing.id, later, "130000", 1)]);
    let all: u64 = store.impressions(None, None).unwrap().iter().map(|c| c.count).sum();
    assert_eq!(all, 11);

    let now = datetime!(2027-03-01 09:00 UTC);
    let period = Duration::days(180);
    assert!(store.claim_stale_reminder(listing.id, now, now - period).unwrap(), "the first reminder");
    assert!(
        !store.claim_stale_reminder(listing.id, now + Duration::days(1), now + Duration::days(1) - period).unwrap()
    );
    let next = now + period + Duration::days(1);
    assert!(store.claim_stale_reminder(listing.id, next, next - period).unwrap(), "a period later");
    assert!(!store.claim_stale_reminder(ListingId::new(), now, now - period).unwrap(), "no such listing");

    let user =
        store.create_user(new_user("feedback", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    store.create_deal(deal_of(listing.id, "乙机构", "甲机构", user.id), &|_| noted("deal.create")).unwrap();
    store.create_deal(deal_of(other.id, "乙机构", "甲机构", user.id), &|_| noted("deal.create")).unwrap();
    let about = store.deals(&DealFilter { listing: Some(listing.id), ..DealFilter::default() }, 50).unwrap();
    assert_eq!(about.iter().map(|d| d.listing_id).collect::<Vec<_>>(), vec![listing.id]);
}

fn team(lead_org: &str, user: UserId) -> NewApplication {
    NewApplication {
        team_name: format!("{lead_org}攻关队"),
        lead_org: lead_org.into(),
        lead_user_id: user,
        members: vec![
            TeamMember {
                name: "张工".into(),
                organisation: lead_org.into(),
                region_code: "110108".into(),
                role: MemberRole::Lead,
            },
            TeamMember {
                name: "李工".into(),
                organisation: "河北工大".into(),
                region_code: "130100".into(),
                role: MemberRole::Member,
            },
        ],
        proposal: "方案".into(),
    }
}

fn challenge_move(challenge: ListingId, expected: Phase, phase: Phase, write: ChallengeWrite) -> ChallengeChange {
    ChallengeChange { challenge_id: challenge, expected_phase: expected, phase, write }
}

/// Challenges: each move stored with its audit entry under the challenge's lock, checked against
/// the phase it was decided on and the states it changes; of twenty concurrent races (and
/// awards) exactly one is stored; scores are fixed once submitted; the deadline is checked by the
/// store's clock; nothing of a refused move is left behind.
fn challenges_run_one_move_at_a_time(store: &(impl Store + Accounts + Challenges)) {
    let user = store.create_user(new_user("solver", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let reviewer =
        store.create_user(new_user("judge", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let listing =
        store.create(owned("揭榜挂帅：氢能储运", "110106", "主办方", Visibility::Public, Status::Published)).unwrap();
    let id = listing.id;
    let fresh = store.challenge_run(id).unwrap();
    assert_eq!((fresh.phase, fresh.version, fresh.applications.len()), (Phase::Open, 0, 0));
    let missing = store.apply_challenge_change(
        challenge_move(ListingId::new(), Phase::Open, Phase::Reviewing, ChallengeWrite::Phase { note: None }),
        &|_| noted("challenge.missing"),
    );
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");

    // Twenty organisations apply at once: all are stored, one application each.
    let applied = race(20, |i| {
        store.apply_challenge_change(
            challenge_move(
                id,
                Phase::Open,
                Phase::Open,
                ChallengeWrite::Apply { application: team(&format!("团队{i:02}"), user.id), accept_until: None },
            ),
            &|w| noted(&format!("challenge.apply.{}", w.created.unwrap())),
        )
    });
    assert!(applied.iter().all(Result::is_ok), "{applied:?}");
    // One organisation twenty times at once: exactly one application.
    let twice = race(20, |_| {
        store.apply_challenge_change(
            challenge_move(
                id,
                Phase::Open,
                Phase::Open,
                ChallengeWrite::Apply { application: team("重复机构", user.id), accept_until: None },
            ),
            &|_| noted("challenge.apply.again"),
        )
    });
    assert_eq!(twice.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(twice.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, StoreError::WrongState(_))));
    let run = store.challenge_run(id).unwrap();
    assert_eq!(run.applications.len(), 21);
    assert_eq!(run.version, 21);
    assert_eq!(run.applications[0].members.len(), 2);
    assert_eq!(run.applications[0].members[1].region_code, "130100");
    let past = store.apply_challenge_change(
        challenge_move(
            id,
            Phase::Open,
            Phase::Open,
            ChallengeWrite::Apply {
                application: team("迟到机构", user.id),
                accept_until: Some(OffsetDateTime::now_utc() - Duration::seconds(1)),
            },
        ),
        &|_| noted("challenge.apply.late"),
    );
    assert!(matches!(past, Err(StoreError::WrongState(_))), "the store's clock decides the deadline: {past:?}");
    let ids: Vec<i64> = run.applications.iter().map(|a| a.id).collect();
    assert_eq!(store.application_challenge(ids[0]).unwrap(), Some(id));
    assert_eq!(store.applications_of(&["河北工大".into()], 100).unwrap().len(), 21, "member organisations see theirs");
    assert_eq!(store.applications_of(&["团队03".into()], 100).unwrap().len(), 1);

    store
        .apply_challenge_change(
            challenge_move(
                id,
                Phase::Open,
                Phase::Open,
                ChallengeWrite::AppointReviewer {
                    user_id: reviewer.id,
                    username: "judge".into(),
                    org: Some("评审院".into()),
                },
            ),
            &|_| noted("challenge.appoint_reviewer"),
        )
        .unwrap();
    assert_eq!(store.reviewed_by(reviewer.id).unwrap(), vec![id]);
    let closed = store
        .apply_challenge_change(
            challenge_move(id, Phase::Open, Phase::Reviewing, ChallengeWrite::Phase { note: None }),
            &|_| noted("challenge.close_applications"),
        )
        .unwrap();
    assert_eq!(closed.run.phase, Phase::Reviewing);
    assert_eq!(store.challenge_phases(&[id, ListingId::new()]).unwrap(), vec![(id, Phase::Reviewing)]);
    let late = store.apply_challenge_change(
        challenge_move(
            id,
            Phase::Open,
            Phase::Open,
            ChallengeWrite::Apply { application: team("迟到机构", user.id), accept_until: None },
        ),
        &|_| noted("challenge.apply.closed"),
    );
    assert!(matches!(late, Err(StoreError::WrongState(_))), "decided on a phase that is gone: {late:?}");

    let score = |application: i64, value: f64| {
        store.apply_challenge_change(
            challenge_move(
                id,
                Phase::Reviewing,
                Phase::Reviewing,
                ChallengeWrite::Score {
                    application_id: application,
                    reviewer_id: reviewer.id,
                    scores: vec![("技术".into(), value), ("落地".into(), value / 2.0)],
                },
            ),
            &|_| noted("challenge.score"),
        )
    };
    let scored = score(ids[0], 90.0).unwrap();
    assert_eq!(scored.run.scores.len(), 1);
    assert_eq!(scored.run.scores[0].scores.get("落地"), Some(&45.0));
    let again = score(ids[0], 10.0);
    assert!(matches!(again, Err(StoreError::WrongState(_))), "scores are fixed: {again:?}");
    let stranger = store.apply_challenge_change(
        challenge_move(
            id,
            Phase::Reviewing,
            Phase::Reviewing,
            ChallengeWrite::Score {
                application_id: ids[1], reviewer_id: user.id, scores: vec![("技术".into(), 1.0)]
            },
        ),
        &|_| noted("challenge.score.stranger"),
    );
    assert!(matches!(stranger, Err(StoreError::WrongState(_))), "{stranger:?}");
    assert_eq!(store.challenge_run(id).unwrap().scores[0].scores.get("技术"), Some(&90.0));

    // Twenty concurrent races decided on `reviewing`, each choosing other teams: one is stored.
    let raced = race(20, |i| {
        store.apply_challenge_change(
            challenge_move(
                id,
                Phase::Reviewing,
                Phase::Racing,
                ChallengeWrite::Race { application_ids: vec![ids[i], ids[(i + 1) % 20]] },
            ),
            &|_| noted("challenge.race"),
        )
    });
    let winners: Vec<usize> = (0..20).filter(|i| raced[*i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{raced:?}");
    let winner = winners[0];
    let run = store.challenge_run(id).unwrap();
    assert_eq!(run.phase, Phase::Racing);
    let mut racing: Vec<i64> =
        run.applications.iter().filter(|a| a.state == ApplicationState::Racing).map(|a| a.id).collect();
    racing.sort_unstable();
    let mut expected = vec![ids[winner], ids[(winner + 1) % 20]];
    expected.sort_unstable();
    assert_eq!(racing, expected, "exactly the winning race's teams");
    assert_eq!(run.applications.iter().filter(|a| a.state == ApplicationState::NotSelected).count(), 19);

    let milestone = store
        .apply_challenge_change(
            challenge_move(
                id,
                Phase::Racing,
                Phase::Racing,
                ChallengeWrite::AddMilestone {
                    title: "样机".into(),
                    due_on: xietong_domain::Day::parse("2027-06-30").unwrap(),
                },
            ),
            &|_| noted("challenge.add_milestone"),
        )
        .unwrap()
        .created
        .unwrap();
    let report = |application: i64| {
        store.apply_challenge_change(
            challenge_move(
                id,
                Phase::Racing,
                Phase::Racing,
                ChallengeWrite::FileReport {
                    application_id: application,
                    milestone_id: milestone,
                    text: "完成样机".into(),
                    attachment: None,
                    filed_by: user.id,
                },
            ),
            &|_| noted("challenge.file_report"),
        )
    };
    let first = report(racing[0]).unwrap().created.unwrap();
    let second = report(racing[1]).unwrap().created.unwrap();
    assert!(matches!(report(racing[1]), Err(StoreError::WrongState(_))), "one report per milestone");
    let not_racing = ids.iter().find(|a| !racing.contains(a)).copied().unwrap();
    assert!(matches!(report(not_racing), Err(StoreError::WrongState(_))), "only racing teams report");
    assert_eq!(store.report_challenge(first).unwrap(), Some(id));
    let decide = |report: i64, passed: bool| {
        store.apply_challenge_change(
            challenge_move(
                id,
                Phase::Racing,
                Phase::Racing,
                ChallengeWrite::DecideGate {
                    report_id: report,
                    passed,
                    note: "评审意见".into(),
                    decided_by: reviewer.id,
                },
            ),
            &|_| noted("challenge.decide_gate"),
        )
    };
    decide(first, true).unwrap();
    assert!(matches!(decide(first, false), Err(StoreError::WrongState(_))), "a gate is decided once");
    let eliminated = decide(second, false).unwrap();
    assert_eq!(eliminated.run.application(racing[1]).unwrap().state, ApplicationState::Eliminated);

    // An award naming an eliminated team is refused whole; twenty concurrent awards: one wins.
    let refused = store.apply_challenge_change(
        challenge_move(id, Phase::Racing, Phase::Awarded, ChallengeWrite::Award { application_ids: racing.clone() }),
        &|_| noted("challenge.award.refused"),
    );
    assert!(matches!(refused, Err(StoreError::WrongState(_))), "{refused:?}");
    assert_eq!(store.challenge_run(id).unwrap().phase, Phase::Racing, "nothing of a refused move stays");
    let awarded = race(20, |_| {
        store.apply_challenge_change(
            challenge_move(
                id,
                Phase::Racing,
                Phase::Awarded,
                ChallengeWrite::Award { application_ids: vec![racing[0]] },
            ),
            &|_| noted("challenge.award"),
        )
    });
    assert_eq!(awarded.iter().filter(|r| r.is_ok()).count(), 1);
    let run = store.challenge_run(id).unwrap();
    assert_eq!(run.phase, Phase::Awarded);
    assert_eq!(run.application(racing[0]).unwrap().state, ApplicationState::Awarded);
    assert_eq!(run.reports.iter().filter(|r| r.decision.is_some()).count(), 2);

    let actions: Vec<String> = audited(store).into_iter().filter(|a| a.starts_with("challenge.")).collect();
    let count = |prefix: &str| actions.iter().filter(|a| a.starts_with(prefix)).count();
    assert_eq!(count("challenge.apply."), 21, "one entry per stored application, none for refused ones");
    assert_eq!(count("challenge.race"), 1);
    assert_eq!(count("challenge.award"), 1);
    assert_eq!(count("challenge.score"), 1);
    assert_eq!(count("challenge.decide_gate"), 2);
    assert_eq!(count("challenge.file_report"), 2);
    assert_eq!(actions.len(), 21 + 1 + 1 + 1 + 1 + 1 + 2 + 2 + 1);
    // The run goes with its listing.
    store.delete(id).unwrap();
    assert_eq!(store.application_challenge(ids[0]).unwrap(), None);
    assert_eq!(store.challenge_run(id).unwrap().applications.len(), 0);
}

// ---------------------------------------------------------------- bookings and vouchers

fn facility(title: &str) -> ListingBody {
    body(serde_json::json!({
        "kind": "facility", "title": title, "summary": "中试反应釜", "region_codes": ["110106"],
        "facility_type": "pilot_base", "owner_org": "甲机构", "status": "published", "visibility": "public"
    }))
}

fn hourly(capacity: u32) -> Calendar {
    serde_json::from_value(serde_json::json!({
        "unit": "hour", "capacity": capacity, "opening_hours": [], "closures": [],
        "requires_clearance": false, "price_per_unit": 100.0
    }))
    .unwrap()
}

/// 2030-01-07 09:00 Beijing time, in milliseconds.
const BOOKING_BASE: i64 = 1_893_978_000_000;

fn new_booking(facility_id: ListingId, booker: UserId, start: i64, hours: i64, quantity: u32) -> NewBooking {
    NewBooking {
        facility_id,
        booker_id: booker,
        booker: "booker".into(),
        booker_org: Some("乙机构".into()),
        request: Request { start, end: start + hours * HOUR_MS, quantity },
        units: hours as u32,
        purpose: "中试放大".into(),
        charge_fen: 10_000 * hours * i64::from(quantity),
        voucher_id: None,
        waitlist: false,
    }
}

fn booking_change(booking: &Booking, event: BookingEvent, state: BookingState, voucher: VoucherMove) -> BookingChange {
    BookingChange {
        booking_id: booking.id,
        expected_version: booking.version,
        event,
        actor: "operator".into(),
        state,
        voucher,
        charged: false,
        reschedule: None,
    }
}

/// Units held (requested or approved) per hour slot of a facility.
fn held_per_slot(store: &impl Bookings, facility_id: ListingId) -> std::collections::BTreeMap<i64, u32> {
    let filter = BookingFilter {
        facilities: Some(vec![facility_id]),
        states: Some(vec![BookingState::Requested, BookingState::Approved]),
        ..BookingFilter::default()
    };
    let mut per_slot = std::collections::BTreeMap::new();
    for booking in store.bookings(&filter, 10_000).unwrap() {
        let mut slot = booking.start;
        while slot < booking.end {
            *per_slot.entry(slot).or_insert(0) += booking.quantity;
            slot += HOUR_MS;
        }
    }
    per_slot
}

/// 200 simultaneous requests for overlapping slots of a facility with capacity 3: every one is
/// answered (a booking or a refusal naming a full slot) and no slot ends over capacity.
fn bookings_never_exceed_capacity_under_concurrency(store: &(impl Store + Accounts + Bookings)) {
    let user = store.create_user(new_user("booker", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let listing = store.create(facility("反应釜中试基地")).unwrap();
    let missing = store.create_booking(new_booking(listing.id, user.id, BOOKING_BASE, 1, 1), &|_| noted("booking"));
    assert!(matches!(missing, Err(StoreError::WrongState(ref m)) if m.contains("no booking calendar")), "{missing:?}");
    store.set_calendar(listing.id, &hourly(3), &|_| noted("calendar.set")).unwrap();
    let outcomes = race(200, |i| {
        // Starts in the first 8 hours, 1 to 3 hours long, 1 or 2 units: plenty of overlap.
        let start = BOOKING_BASE + (i as i64 * 7 % 8) * HOUR_MS;
        let hours = 1 + (i as i64 % 3);
        let quantity = 1 + (i as u32 % 2);
        store.create_booking(new_booking(listing.id, user.id, start, hours, quantity), &|b| {
            noted(&format!("booking.request.{}", b.id))
        })
    });
    let mut created = 0;
    for outcome in &outcomes {
        match outcome {
            Ok(booking) => {
                assert_eq!(booking.state, BookingState::Requested);
                created += 1;
            }
            Err(StoreError::WrongState(message)) => assert!(message.contains("is full"), "{message}"),
            Err(other) => panic!("every request is answered with a booking or a full slot: {other:?}"),
        }
    }
    assert!(created >= 3, "some requests fit: {created}");
    assert!(created < 200, "most were refused");
    let per_slot = held_per_slot(store, listing.id);
    assert!(per_slot.values().all(|units| *units <= 3), "{per_slot:?}");
    assert!(per_slot.values().any(|units| *units == 3), "the slots filled up: {per_slot:?}");
    let (entries, _) = store.audit_entries(&AuditFilter::default(), 1000, 0).unwrap();
    let booked = entries.iter().filter(|e| e.action.starts_with("booking.request.")).count();
    assert_eq!(booked, created, "one audit entry per stored booking, none for a refusal");
}

/// 50 concurrent bookings paid with one voucher: the balance never goes below zero, each booking
/// is covered by what was left, and the ledger adds up to the balance.
fn vouchers_never_go_negative_under_concurrency(store: &(impl Store + Accounts + Bookings)) {
    let org = store.create_org(new_org("乙机构", OrgKind::Enterprise, "133100"), &|_| noted("org.create")).unwrap();
    let user =
        store.create_user(new_user("payer", Role::Member, Some(org.id), None), &[], &|_| noted("user.create")).unwrap();
    let listing = store.create(facility("雄安券中试基地")).unwrap();
    store.set_calendar(listing.id, &hourly(100), &|_| noted("calendar.set")).unwrap();
    // 10.5 bookings' worth (each charge 100 元 = 10 000 fen).
    let voucher = store
        .issue_voucher(
            NewVoucher {
                org_id: org.id,
                organisation: org.name.clone(),
                amount_fen: 105_000,
                issuing_region: "133100".into(),
                accepted_regions: vec!["110000".into()],
                valid_until: BOOKING_BASE + 365 * 24 * HOUR_MS,
                issued_by: "admin".into(),
            },
            &|v| noted(&format!("voucher.issue.{}", v.id)),
        )
        .unwrap();
    assert_eq!((voucher.balance_fen, voucher.reserved_fen, voucher.spent_fen), (105_000, 0, 0));
    let outcomes = race(50, |i| {
        let mut booking = new_booking(listing.id, user.id, BOOKING_BASE + (i as i64 % 5) * HOUR_MS, 1, 1);
        booking.voucher_id = Some(voucher.id);
        store.create_booking(booking, &|_| noted("booking.request"))
    });
    let covered: Vec<i64> = outcomes.iter().filter_map(|o| o.as_ref().ok()).map(|b| b.voucher_fen).collect();
    for outcome in &outcomes {
        if let Err(err) = outcome {
            assert!(matches!(err, StoreError::WrongState(m) if m.contains("no balance left")), "{err:?}");
        }
    }
    assert_eq!(covered.len(), 11, "ten full covers and one partial: {covered:?}");
    assert_eq!(covered.iter().sum::<i64>(), 105_000);
    assert_eq!(covered.iter().filter(|c| **c == 5_000).count(), 1);
    let after = store.voucher(voucher.id).unwrap().unwrap();
    assert_eq!((after.balance_fen, after.reserved_fen), (0, 105_000));
    let ledger = store.voucher_ledger(voucher.id).unwrap();
    assert_eq!(ledger.len(), 12);
    assert_eq!(ledger.iter().map(|e| e.amount_fen).sum::<i64>(), after.balance_fen, "the ledger sums to the balance");
    assert_eq!(ledger.iter().map(|e| e.reserved_fen).sum::<i64>(), after.reserved_fen);
    assert!(ledger.iter().all(|e| e.balance_after_fen >= 0));

    // Completing spends a reservation; declining releases one (and the balance can be used again).
    let mine = store.bookings(&BookingFilter { booker: Some(user.id), ..BookingFilter::default() }, 100).unwrap();
    let first = store.booking(mine[0].id).unwrap().unwrap();
    let approved = store
        .apply_booking_change(
            booking_change(&first, BookingEvent::Approve, BookingState::Approved, VoucherMove::Keep),
            &|_| noted("booking.approve"),
            &|_| noted("booking.promote"),
        )
        .unwrap();
    store
        .apply_booking_change(
            booking_change(&approved, BookingEvent::Complete, BookingState::Completed, VoucherMove::Spend),
            &|_| noted("booking.complete"),
            &|_| noted("booking.promote"),
        )
        .unwrap();
    let second = store.booking(mine[1].id).unwrap().unwrap();
    store
        .apply_booking_change(
            booking_change(
                &second,
                BookingEvent::Decline { reason: "设备检修".into() },
                BookingState::Declined,
                VoucherMove::Release,
            ),
            &|_| noted("booking.decline"),
            &|_| noted("booking.promote"),
        )
        .unwrap();
    let after = store.voucher(voucher.id).unwrap().unwrap();
    assert_eq!(after.spent_fen, first.voucher_fen);
    assert_eq!(after.balance_fen, second.voucher_fen);
    assert_eq!(after.balance_fen + after.reserved_fen + after.spent_fen, after.amount_fen);
    let ledger = store.voucher_ledger(voucher.id).unwrap();
    let kinds: Vec<&str> = ledger.iter().rev().take(2).map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["release", "spend"]);
    assert_eq!(ledger.iter().map(|e| e.amount_fen).sum::<i64>(), after.balance_fen);
    let flows = store.voucher_flows().unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(
        (flows[0].issuing_region.as_str(), flows[0].facility_id, flows[0].spent_fen),
        ("133100", listing.id, first.voucher_fen)
    );
}

/// Events move one version at a time, reschedules meet the capacity rule, and a freed slot
/// promotes the waitlist in order.
fn bookings_move_by_version_and_promote_the_waitlist(store: &(impl Store + Accounts + Bookings)) {
    let user = store.create_user(new_user("waiter", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let listing = store.create(facility("单台质谱仪")).unwrap();
    let calendar = store.set_calendar(listing.id, &hourly(1), &|_| noted("calendar.set")).unwrap();
    assert_eq!(calendar.version, 1);
    let again = store.set_calendar(listing.id, &hourly(1), &|_| noted("calendar.set")).unwrap();
    assert_eq!(again.version, 2);
    assert_eq!(store.calendar(listing.id).unwrap().unwrap().calendar, hourly(1));
    assert_eq!(store.calendars().unwrap().len(), 1);
    let missing = store.set_calendar(ListingId::new(), &hourly(1), &|_| noted("calendar.set"));
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");

    let first = store
        .create_booking(new_booking(listing.id, user.id, BOOKING_BASE, 2, 1), &|_| noted("booking.request"))
        .unwrap();
    let full = store
        .create_booking(new_booking(listing.id, user.id, BOOKING_BASE + HOUR_MS, 1, 1), &|_| noted("booking.request"));
    let Err(StoreError::WrongState(message)) = full else { panic!("{full:?}") };
    assert!(message.contains("2030-01-07T10:00:00+08:00"), "names the first full slot: {message}");
    let waiting = |start| NewBooking { waitlist: true, ..new_booking(listing.id, user.id, start, 1, 1) };
    let second = store.create_booking(waiting(BOOKING_BASE + HOUR_MS), &|_| noted("booking.waitlist")).unwrap();
    let third = store.create_booking(waiting(BOOKING_BASE + HOUR_MS), &|_| noted("booking.waitlist")).unwrap();
    assert_eq!((second.state, third.state), (BookingState::Waitlisted, BookingState::Waitlisted));
    assert_eq!(third.timeline.iter().map(|s| s.event.as_str()).collect::<Vec<_>>(), ["waitlist"]);

    // A stale version changes nothing.
    let approved = store
        .apply_booking_change(
            booking_change(&first, BookingEvent::Approve, BookingState::Approved, VoucherMove::Keep),
            &|_| noted("booking.approve"),
            &|_| noted("booking.promote"),
        )
        .unwrap();
    let stale = store.apply_booking_change(
        booking_change(&first, BookingEvent::Approve, BookingState::Approved, VoucherMove::Keep),
        &|_| noted("booking.approve"),
        &|_| noted("booking.promote"),
    );
    assert!(matches!(stale, Err(StoreError::Stale { expected: 1, actual: 2, .. })), "{stale:?}");

    // Moving the first booking to a later hour frees 10:00: the older waitlisted booking moves up.
    let mut moved = booking_change(
        &approved,
        BookingEvent::Reschedule { start: T0, end: T0 },
        BookingState::Requested,
        VoucherMove::Keep,
    );
    moved.reschedule = Some((BOOKING_BASE + 2 * HOUR_MS, BOOKING_BASE + 4 * HOUR_MS));
    let rescheduled = store
        .apply_booking_change(moved, &|_| noted("booking.reschedule"), &|b| noted(&format!("booking.promote.{}", b.id)))
        .unwrap();
    assert_eq!(
        (rescheduled.start, rescheduled.state, rescheduled.version),
        (BOOKING_BASE + 2 * HOUR_MS, BookingState::Requested, 3)
    );
    let second = store.booking(second.id).unwrap().unwrap();
    let third = store.booking(third.id).unwrap().unwrap();
    assert_eq!((second.state, third.state), (BookingState::Requested, BookingState::Waitlisted), "promoted in order");
    assert_eq!(second.timeline.last().map(|s| (s.event.as_str(), s.actor.as_str())), Some(("promote", "system")));
    let (entries, _) = store.audit_entries(&AuditFilter::default(), 1000, 0).unwrap();
    assert!(entries.iter().any(|e| e.action == format!("booking.promote.{}", second.id)));

    // A reschedule into a full slot is refused and changes nothing.
    let mut clash = booking_change(
        &third,
        BookingEvent::Reschedule { start: T0, end: T0 },
        BookingState::Requested,
        VoucherMove::Keep,
    );
    clash.reschedule = Some((BOOKING_BASE + 3 * HOUR_MS, BOOKING_BASE + 4 * HOUR_MS));
    let waitlisted_clash =
        store.apply_booking_change(clash, &|_| noted("booking.reschedule"), &|_| noted("booking.promote"));
    assert!(
        matches!(waitlisted_clash, Err(StoreError::WrongState(ref m)) if m.contains("is full")),
        "{waitlisted_clash:?}"
    );
    assert_eq!(store.booking(third.id).unwrap().unwrap().version, third.version);

    // Cancelling the promoted booking lets the last one in.
    let cancelled = store
        .apply_booking_change(
            booking_change(
                &second,
                BookingEvent::Cancel { reason: None },
                BookingState::Cancelled,
                VoucherMove::Release,
            ),
            &|_| noted("booking.cancel"),
            &|_| noted("booking.promote"),
        )
        .unwrap();
    assert_eq!(cancelled.state, BookingState::Cancelled);
    assert_eq!(store.booking(third.id).unwrap().unwrap().state, BookingState::Requested);
    let per_slot = held_per_slot(store, listing.id);
    assert!(per_slot.values().all(|units| *units <= 1), "{per_slot:?}");
    let in_window = store
        .bookings(
            &BookingFilter {
                window: Some((BOOKING_BASE + HOUR_MS, BOOKING_BASE + 2 * HOUR_MS)),
                ..BookingFilter::default()
            },
            10,
        )
        .unwrap();
    let ids: Vec<i64> = in_window.iter().map(|b| b.id).collect();
    assert_eq!(ids, [second.id, third.id]);

    // Clearances are granted and renewed per user.
    let granted = Clearance {
        facility_id: listing.id,
        user_id: user.id,
        username: user.username.clone(),
        valid_until: BOOKING_BASE,
        granted_by: "operator".into(),
        granted_at: BOOKING_BASE - HOUR_MS,
    };
    store.grant_clearance(granted.clone(), noted("clearance.grant")).unwrap();
    let renewed = Clearance { valid_until: BOOKING_BASE + HOUR_MS, ..granted };
    store.grant_clearance(renewed.clone(), noted("clearance.grant")).unwrap();
    assert_eq!(store.clearance(listing.id, user.id).unwrap(), Some(renewed.clone()));
    assert_eq!(store.clearances(listing.id).unwrap(), vec![renewed]);
}

/// Chain edits: the first edit is version 1, each edit needs the version it was decided on, of
/// concurrent edits from one version exactly one wins, and each stores its audit entry.
fn chain_edits_are_versioned_and_one_concurrent_edit_wins(store: &(impl Chains + AuditTrail)) {
    let mut chain = xietong_domain::chain::shipped_chains()[0].clone();
    assert!(store.chain_edits().unwrap().is_empty());
    chain.segments[0].name_zh = "改过的环节".into();
    let first = store.save_chain_edit(&chain, 0, None, noted("chain.edit")).unwrap();
    assert_eq!(first.version, 1);
    let again = store.save_chain_edit(&chain, 0, None, noted("chain.edit"));
    assert!(matches!(again, Err(StoreError::Stale { actual: 1, .. })), "{again:?}");
    let edits = store.chain_edits().unwrap();
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].chain, chain);
    let results = race(4, |i| {
        let mut edited = chain.clone();
        edited.segments[0].name_zh = format!("并发{i}");
        store.save_chain_edit(&edited, 1, None, noted("chain.edit"))
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, StoreError::Stale { .. })));
    let stored = store.chain_edits().unwrap();
    assert_eq!(stored[0].version, 2);
    let winner = results.iter().find_map(|r| r.as_ref().ok()).unwrap();
    assert_eq!(stored[0].chain.segments[0].name_zh, winner.chain.segments[0].name_zh);
    let filter = AuditFilter { action_prefix: Some("chain.edit".into()), ..AuditFilter::default() };
    let (_, audited) = store.audit_entries(&filter, 10, 0).unwrap();
    assert_eq!(audited, 2, "one entry per stored edit");
}

/// Enclaves are stored with their enterprises and audited.
fn enclaves_are_recorded_and_audited(store: &(impl Chains + AuditTrail)) {
    use xietong_domain::enclave::{EnclaveBody, EnclaveKind};
    let body = EnclaveBody {
        kind: EnclaveKind::Manufacturing,
        name: "中关村—保定制造飞地".into(),
        home_region: "110108".into(),
        host_region: "130600".into(),
        host_park: "保定·中关村创新中心".into(),
        enterprises: vec![ListingId::new(), ListingId::new()],
    };
    let created = store
        .create_enclave(&body, None, &|enclave| NewAudit {
            action: "enclave.create".into(),
            target: format!("enclave:{}", enclave.id),
            ..NewAudit::default()
        })
        .unwrap();
    let listed = store.enclaves().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].body, body);
    assert_eq!(listed[0].id, created.id);
    let filter = AuditFilter { action_prefix: Some("enclave.create".into()), ..AuditFilter::default() };
    let (entries, _) = store.audit_entries(&filter, 10, 0).unwrap();
    assert_eq!(entries[0].target, format!("enclave:{}", created.id));
}

fn issuer_key(region: &str, public: &str) -> IssuerKey {
    IssuerKey { region_code: region.into(), public_key: public.into(), sealed_secret: "sealed".into(), created_at: 1 }
}

fn new_credential(id: &str, talent: ListingId, region: &str) -> NewCredential {
    NewCredential {
        id: id.into(),
        talent_id: talent,
        issuer_region: region.into(),
        level: "高级工程师".into(),
        field: "电子信息".into(),
        valid_from: 1,
        valid_until: 2,
        issued_by: "op".into(),
    }
}

/// The first key of a region stays; twenty concurrent issues take twenty distinct status
/// entries, each document signed for its own entry; a revocation happens once.
fn credentials_take_distinct_status_entries(store: &(impl Store + Accounts + Talent)) {
    let talent = store.create(achievement("张工", "133100", "3741")).unwrap();
    let missing =
        store.issue_credential(new_credential("urn:uuid:0", talent.id, "133100"), &|_| serde_json::json!({}), &|_| {
            noted("x")
        });
    assert!(matches!(missing, Err(StoreError::WrongState(_))), "{missing:?}");
    assert_eq!(store.ensure_issuer_key(issuer_key("133100", "zFirst")).unwrap().public_key, "zFirst");
    assert_eq!(store.ensure_issuer_key(issuer_key("133100", "zSecond")).unwrap().public_key, "zFirst");
    let outcomes = race(20, |i| {
        store.issue_credential(
            new_credential(&format!("urn:uuid:{i}"), talent.id, "133100"),
            &|index| serde_json::json!({"index": index}),
            &|c| noted(&format!("credential.issue.{}", c.status_index)),
        )
    });
    let mut entries = HashSet::new();
    for outcome in outcomes {
        let stored = outcome.unwrap();
        assert_eq!(stored.document["index"], serde_json::json!(stored.status_index));
        assert_eq!(stored.status_list, "133100");
        entries.insert(stored.status_index);
    }
    assert_eq!(entries, (0..20).collect::<HashSet<u32>>());
    assert_eq!(store.credentials_of(talent.id).unwrap().len(), 20);
    let revoked = store.revoke_credential("urn:uuid:3", "造假", &|_| noted("credential.revoke")).unwrap();
    assert_eq!(revoked.revoke_reason.as_deref(), Some("造假"));
    let again = store.revoke_credential("urn:uuid:3", "again", &|_| noted("credential.revoke"));
    assert!(matches!(again, Err(StoreError::WrongState(_))), "{again:?}");
    assert_eq!(store.revoked_entries("133100").unwrap(), vec![revoked.status_index]);
    let revocations = audited(store).iter().filter(|a| *a == "credential.revoke").count();
    assert_eq!(revocations, 1, "a refused revocation audits nothing");
    assert!(store.credential("urn:uuid:nope").unwrap().is_none());
}

fn recognition_rules_are_unique(store: &(impl Store + Accounts + Talent)) {
    let rule = |level: &str| NewRecognitionRule {
        verifier_region: "110000".into(),
        issuer_region: "133100".into(),
        issuer_level: level.into(),
        recognised_level: level.into(),
        created_by: "op".into(),
    };
    let first = store.add_recognition_rule(rule("高级工程师"), &|_| noted("recognition.add")).unwrap();
    let taken = store.add_recognition_rule(rule("高级工程师"), &|_| noted("recognition.add"));
    assert!(matches!(taken, Err(StoreError::Taken { .. })), "{taken:?}");
    store.add_recognition_rule(rule("正高级工程师"), &|_| noted("recognition.add")).unwrap();
    assert_eq!(store.recognition_rules().unwrap().len(), 2);
    assert!(store.remove_recognition_rule(first.id, &|_| noted("recognition.remove")).unwrap());
    assert!(!store.remove_recognition_rule(first.id, &|_| noted("recognition.remove")).unwrap());
    assert_eq!(store.recognition_rules().unwrap().len(), 1);
    assert_eq!(audited(store).iter().filter(|a| a.starts_with("recognition.")).count(), 3);
}

fn engagement(talent: ListingId, org: OrgId, mode: Mode, weekdays: &[u8], share: u8) -> NewEngagement {
    NewEngagement {
        talent_id: talent,
        talent_region: "110108".into(),
        sector: "I".into(),
        org_id: org,
        organisation: "甲".into(),
        org_region: "133100".into(),
        mode,
        start: "2026-01-01".into(),
        end: "2026-12-31".into(),
        weekdays: weekdays.to_vec(),
        share_percent: share,
        proposed_by: "op".into(),
    }
}

/// Of ten concurrent weekend offers for the same Saturday exactly one is stored; dual
/// appointments stop at 100%; a declined offer frees its time; moves check the version.
fn engagements_respect_commitments_under_concurrency(store: &(impl Store + Accounts + Talent)) {
    let org = store.create_org(new_org("甲", OrgKind::Enterprise, "133100"), &|_| noted("org.create")).unwrap();
    let talent = store.create(achievement("李工", "110108", "3741")).unwrap();
    let outcomes = race(10, |_| {
        store.propose_engagement(engagement(talent.id, org.id, Mode::WeekendEngineer, &[6], 0), &|_| {
            noted("engagement.propose")
        })
    });
    let stored: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(stored.len(), 1, "{outcomes:?}");
    for outcome in &outcomes {
        if let Err(err) = outcome {
            assert!(matches!(err, StoreError::WrongState(m) if m.contains("weekday 6")), "{err:?}");
        }
    }
    let sixty = store
        .propose_engagement(engagement(talent.id, org.id, Mode::DualAppointment, &[], 60), &|_| {
            noted("engagement.propose")
        })
        .unwrap();
    let over = store.propose_engagement(engagement(talent.id, org.id, Mode::DualAppointment, &[], 50), &|_| {
        noted("engagement.propose")
    });
    assert!(matches!(over, Err(StoreError::WrongState(ref m)) if m.contains("110%")), "{over:?}");
    let stale = store.move_engagement(sixty.id, 7, State::Declined, &|_| noted("engagement.decline"));
    assert!(matches!(stale, Err(StoreError::Stale { .. })), "{stale:?}");
    let declined = store.move_engagement(sixty.id, 1, State::Declined, &|_| noted("engagement.decline")).unwrap();
    assert_eq!((declined.state, declined.version), (State::Declined, 2));
    let fifty = store
        .propose_engagement(engagement(talent.id, org.id, Mode::DualAppointment, &[], 50), &|_| {
            noted("engagement.propose")
        })
        .unwrap();
    let accepted = store.move_engagement(fifty.id, 1, State::Accepted, &|_| noted("engagement.accept")).unwrap();
    assert_eq!(accepted.state, State::Accepted);
    assert_eq!(store.engagements(Some(talent.id)).unwrap().len(), 3);
    assert_eq!(audited(store).iter().filter(|a| a.starts_with("engagement.")).count(), 5);
}

/// Signing a deal that starts an engagement stores both in one transaction: an engagement over
/// the talent's time refuses the whole change (the deal keeps its version), one that fits is
/// stored with the signing.
fn signing_stores_the_engagement_with_the_deal(store: &(impl Store + Accounts + Deals + Talent)) {
    let org = store.create_org(new_org("乙机构", OrgKind::Enterprise, "133100"), &|_| noted("org.create")).unwrap();
    let user = store.create_user(new_user("signer", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let talent = store.create(owned("王工", "110106", "甲机构", Visibility::Public, Status::Published)).unwrap();
    store
        .propose_engagement(engagement(talent.id, org.id, Mode::DualAppointment, &[], 70), &|_| {
            noted("engagement.propose")
        })
        .unwrap();
    let deal = store.create_deal(deal_of(talent.id, "乙机构", "甲机构", user.id), &|_| noted("deal.create")).unwrap();
    let sign = DealEvent::Sign {
        agreement_type: xietong_domain::deal::AgreementType::DualAppointment,
        value: None,
        signed_on: xietong_domain::Day(time::macros::date!(2026 - 03 - 01)),
        share_percent: Some(40),
        until: None,
    };
    let signing = |share| DealChange {
        engagement: Some((engagement(talent.id, org.id, Mode::DualAppointment, &[], share), State::Accepted)),
        ..change(&deal, sign.clone(), Side::Owner, DealState::Signed)
    };
    let over = store.apply_deal_change(signing(40), &|_| noted("deal.sign"));
    assert!(matches!(over, Err(StoreError::WrongState(ref m)) if m.contains("110%")), "{over:?}");
    assert_eq!(store.deal(deal.id).unwrap().unwrap().version, deal.version, "the refused signing changed nothing");
    assert_eq!(store.engagements(Some(talent.id)).unwrap().len(), 1);
    let signed = store.apply_deal_change(signing(30), &|_| noted("deal.sign")).unwrap();
    assert_eq!(signed.state, DealState::Signed);
    let engagements = store.engagements(Some(talent.id)).unwrap();
    assert_eq!(engagements.len(), 2);
    assert_eq!((engagements[0].state, engagements[0].share_percent), (State::Accepted, 30));
    assert_eq!(audited(store).iter().filter(|a| *a == "deal.sign").count(), 1);
}

fn services_upsert_by_code(store: &(impl Store + Accounts + Talent)) {
    let service = |code: &str, name: &str, area: &str| Service {
        code: code.into(),
        name: name.into(),
        area: area.into(),
        regions: vec!["110106".into(), "133100".into()],
        cross_region: true,
        documents: vec!["身份证".into()],
        office: "政务服务中心".into(),
        time_limit_days: 5,
    };
    assert_eq!(
        store
            .put_services(
                &[service("S2", "社保转移", "社保"), service("S1", "人才认定", "人才引进")],
                noted("services.import")
            )
            .unwrap(),
        2
    );
    store.put_services(&[service("S2", "社会保险关系转移", "社保")], noted("services.import")).unwrap();
    let all = store.services().unwrap();
    assert_eq!(all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["人才认定", "社会保险关系转移"]);
    assert_eq!(all[0].regions, vec!["110106", "133100"]);
}

macro_rules! store_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;
            #[test]
            fn chain_edits_are_versioned_and_one_concurrent_edit_wins() {
                let (_guard, store) = $make;
                super::chain_edits_are_versioned_and_one_concurrent_edit_wins(&store);
            }
            #[test]
            fn enclaves_are_recorded_and_audited() {
                let (_guard, store) = $make;
                super::enclaves_are_recorded_and_audited(&store);
            }
            #[test]
            fn credentials_take_distinct_status_entries() {
                let (_guard, store) = $make;
                super::credentials_take_distinct_status_entries(&store);
            }
            #[test]
            fn recognition_rules_are_unique() {
                let (_guard, store) = $make;
                super::recognition_rules_are_unique(&store);
            }
            #[test]
            fn engagements_respect_commitments_under_concurrency() {
                let (_guard, store) = $make;
                super::engagements_respect_commitments_under_concurrency(&store);
            }
            #[test]
            fn signing_stores_the_engagement_with_the_deal() {
                let (_guard, store) = $make;
                super::signing_stores_the_engagement_with_the_deal(&store);
            }
            #[test]
            fn services_upsert_by_code() {
                let (_guard, store) = $make;
                super::services_upsert_by_code(&store);
            }
            #[test]
            fn bookings_never_exceed_capacity_under_concurrency() {
                let (_guard, store) = $make;
                super::bookings_never_exceed_capacity_under_concurrency(&store);
            }
            #[test]
            fn vouchers_never_go_negative_under_concurrency() {
                let (_guard, store) = $make;
                super::vouchers_never_go_negative_under_concurrency(&store);
            }
            #[test]
            fn bookings_move_by_version_and_promote_the_waitlist() {
                let (_guard, store) = $make;
                super::bookings_move_by_version_and_promote_the_waitlist(&store);
            }
            #[test]
            fn login_failures_count_by_account_and_address() {
                let (_guard, store) = $make;
                super::login_failures_count_by_account_and_address(&store);
            }
            #[test]
            fn feedback_counts_and_reminders() {
                let (_guard, store) = $make;
                super::feedback_counts_and_reminders(&store);
            }
            #[test]
            fn notifications_commit_with_their_event() {
                let (_guard, store) = $make;
                super::notifications_commit_with_their_event(&store);
            }
            #[test]
            fn outbox_claims_race_without_doubles() {
                let (_guard, store) = $make;
                super::outbox_claims_race_without_doubles(&store);
            }
            #[test]
            fn challenges_run_one_move_at_a_time() {
                let (_guard, store) = $make;
                super::challenges_run_one_move_at_a_time(&store);
            }
            #[test]
            fn deals_move_one_version_at_a_time() {
                let (_guard, store) = $make;
                super::deals_move_one_version_at_a_time(&store);
            }
            #[test]
            fn account_writes_carry_their_audit_entries() {
                let (_guard, store) = $make;
                super::account_writes_carry_their_audit_entries(&store);
            }
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
            #[test]
            fn delete_removes_listing_and_logs_change() {
                let (_guard, store) = $make;
                super::delete_removes_listing_and_logs_change(&store);
            }
            #[test]
            fn list_applies_read_scope() {
                let (_guard, store) = $make;
                super::list_applies_read_scope(&store);
            }
            #[test]
            fn orgs_and_users() {
                let (_guard, store) = $make;
                super::orgs_and_users(&store);
            }
            #[test]
            fn sessions_expire() {
                let (_guard, store) = $make;
                super::sessions_expire(&store);
            }
            #[test]
            fn tokens_until_revoked_or_expired() {
                let (_guard, store) = $make;
                super::tokens_until_revoked_or_expired(&store);
            }
            #[test]
            fn disabling_ends_sessions_and_tokens() {
                let (_guard, store) = $make;
                super::disabling_ends_sessions_and_tokens(&store);
            }
            #[test]
            fn appointments_are_per_user() {
                let (_guard, store) = $make;
                super::appointments_are_per_user(&store);
            }
            #[test]
            fn claims_are_decided_once_and_approval_makes_a_member() {
                let (_guard, store) = $make;
                super::claims_are_decided_once_and_approval_makes_a_member(&store);
            }
            #[test]
            fn review_regions_and_reviews() {
                let (_guard, store) = $make;
                super::review_regions_and_reviews(&store);
            }
            #[test]
            fn audited_writes_and_their_entries_commit_together() {
                let (_guard, store) = $make;
                super::audited_writes_and_their_entries_commit_together(&store);
            }
            #[test]
            fn audit_trail_filters() {
                let (_guard, store) = $make;
                super::audit_trail_filters(&store);
            }
            #[test]
            fn change_log_read_while_writing_skips_nothing() {
                let (_guard, store) = $make;
                super::change_log_read_while_writing_skips_nothing(&store);
            }
            #[test]
            fn concurrent_updates_from_one_version_one_wins() {
                let (_guard, store) = $make;
                super::concurrent_updates_from_one_version_one_wins(&store);
            }
            #[test]
            fn idempotency_keys() {
                let (_guard, store) = $make;
                super::idempotency_keys(&store);
            }
            #[test]
            fn concurrent_claims_of_one_key_one_wins() {
                let (_guard, store) = $make;
                super::concurrent_claims_of_one_key_one_wins(&store);
            }
            #[test]
            fn nul_characters_in_text() {
                let (_guard, store) = $make;
                super::nul_characters_in_text(&store);
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

/// A database of its own on the test server, dropped with the guard.
struct PostgresTestDb {
    admin_url: String,
    name: String,
}

/// The variable naming the test server (a URL of a database to connect to for creating others).
const TEST_DATABASE_URL: &str = "XT_TEST_DATABASE_URL";

impl PostgresTestDb {
    fn create() -> (PostgresTestDb, String) {
        let admin_url = std::env::var(TEST_DATABASE_URL).unwrap_or_else(|_| {
            panic!(
                "{TEST_DATABASE_URL} is not set: the store tests run on PostgreSQL too. Run ./scripts/test.sh, which \
                 starts a server, or set {TEST_DATABASE_URL} to a server's URL, e.g. \
                 postgres://postgres@127.0.0.1:55432/postgres"
            )
        });
        let name = format!("xt_{}_{}", std::process::id(), uuid::Uuid::now_v7().simple());
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|err| panic!("cannot connect to {TEST_DATABASE_URL}={admin_url}: {err}"));
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let url = database_url(&admin_url, &name);
        (PostgresTestDb { admin_url, name }, url)
    }
}

impl Drop for PostgresTestDb {
    fn drop(&mut self) {
        let dropped = postgres::Client::connect(&self.admin_url, postgres::NoTls)
            .and_then(|mut admin| admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)));
        if let Err(err) = dropped {
            eprintln!("failed to drop test database {}: {err}", self.name);
        }
    }
}

/// `url` with its database name replaced by `name` (`postgres://user@host:port/db?options`).
fn database_url(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{name}{query}")
}

fn postgres() -> (PostgresTestDb, PostgresStore) {
    let (guard, url) = PostgresTestDb::create();
    let store = PostgresStore::connect(&url).unwrap();
    (guard, store)
}

store_suite!(postgres_backend, postgres());

/// `store::copy::TABLES` names every table of the SQLite schema, so `xietong migrate` moves
/// them all.
#[test]
fn the_copy_names_every_table() {
    let (dir, store) = sqlite();
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("xietong.db")).unwrap();
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.sort();
    let mut listed: Vec<String> = xietong_store::copy::TABLES.iter().map(|t| t.to_string()).collect();
    listed.sort();
    assert_eq!(listed, tables);
}

#[test]
fn test_database_urls_name_the_database() {
    assert_eq!(database_url("postgres://u@h:1/postgres", "xt_1"), "postgres://u@h:1/xt_1");
    assert_eq!(database_url("postgres://u@h:1", "xt_1"), "postgres://u@h:1/xt_1");
    assert_eq!(
        database_url("postgresql://u:p@h/db?sslmode=disable", "xt_1"),
        "postgresql://u:p@h/xt_1?sslmode=disable"
    );
}

#[test]
fn postgres_data_survives_reconnect() {
    let (guard, url) = PostgresTestDb::create();
    let id = {
        let store = PostgresStore::connect(&url).unwrap();
        store.create(achievement("持久", "110106", "C")).unwrap().id
    };
    // Connecting again finds the schema applied and applies nothing.
    let reconnected = PostgresStore::connect(&url).unwrap();
    assert_eq!(reconnected.get(id).unwrap().body.title, "持久");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let versions: Vec<i64> = client
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "each migration applied once");
    drop(reconnected);
    drop(guard);
}

/// Several nodes starting at once on a fresh database apply each migration once.
#[test]
fn postgres_nodes_starting_together_migrate_once() {
    let (guard, url) = PostgresTestDb::create();
    let stores = race(3, |_| PostgresStore::connect(&url));
    assert!(stores.iter().all(Result::is_ok), "{stores:?}");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let versions: Vec<i64> = client
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "each migration applied once");
    drop(stores);
    drop(guard);
}

/// Connections the server closes (restart, terminated backends) are replaced: a read in flight is
/// run again on a fresh connection, and later calls get fresh ones.
#[test]
fn postgres_store_replaces_connections_the_server_closed() {
    let (guard, url) = PostgresTestDb::create();
    let store = PostgresStore::connect(&url).unwrap();
    let listing = store.create(achievement("断线", "110106", "C")).unwrap();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let terminated: i64 = admin
        .query_one(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(terminated >= 1);
    assert_eq!(store.get(listing.id).unwrap(), listing);
    let terminate = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()";
    admin.batch_execute(terminate).unwrap();
    store.create(achievement("重连", "110106", "C")).unwrap();
    admin.batch_execute(terminate).unwrap();
    assert_eq!(store.list(&ListFilter::default(), 10, 0).unwrap().total, 2);
    drop((store, admin));
    drop(guard);
}

#[test]
fn postgres_audit_is_append_only() {
    let (guard, url) = PostgresTestDb::create();
    let store = PostgresStore::connect(&url).unwrap();
    let entry =
        store.audit(NewAudit { actor: "alice".into(), action: "login.success".into(), ..Default::default() }).unwrap();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for statement in ["UPDATE audit SET actor = 'mallory'", "DELETE FROM audit", "TRUNCATE audit"] {
        let refused = client.batch_execute(statement).unwrap_err();
        let message = refused.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
        assert!(message.contains("append-only"), "{statement}: {refused:?}");
    }
    let (entries, total) = store.audit_entries(&AuditFilter::default(), 10, 0).unwrap();
    assert_eq!((entries, total), (vec![entry], 1));
    drop(store);
    drop(guard);
}

#[test]
fn postgres_delete_removes_derived_rows() {
    let (guard, url) = PostgresTestDb::create();
    let store = PostgresStore::connect(&url).unwrap();
    let listing = store.create(enterprise("企业", "91110108551385082Q")).unwrap();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut derived = |table: &str| -> i64 {
        client
            .query_one(&format!("SELECT COUNT(*) FROM {table} WHERE listing_id = $1"), &[&listing.id.0])
            .unwrap()
            .get(0)
    };
    assert!(derived("listing_regions") > 0 && derived("enterprise_sites") > 0);
    store.delete(listing.id).unwrap();
    assert_eq!((derived("listing_regions"), derived("listing_industries"), derived("enterprise_sites")), (0, 0, 0));
    drop(store);
    drop(guard);
}

#[test]
fn postgres_connect_reports_an_unreachable_server() {
    let err = PostgresStore::connect("postgres://postgres@127.0.0.1:1/xt_nowhere").unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
    assert!(format!("{err}").contains("PostgreSQL"), "{err}");
    let err = PostgresStore::connect("not a url at all").unwrap_err();
    assert!(format!("{err}").contains("invalid PostgreSQL URL"), "{err}");
}

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

#[test]
fn sqlite_audit_is_append_only() {
    let (dir, store) = sqlite();
    let entry =
        store.audit(NewAudit { actor: "alice".into(), action: "login.success".into(), ..Default::default() }).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("xietong.db")).unwrap();
    let update = conn.execute("UPDATE audit SET actor = 'mallory'", []).unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = conn.execute("DELETE FROM audit WHERE seq = ?1", [entry.seq]).unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
    let (entries, total) = store.audit_entries(&AuditFilter::default(), 10, 0).unwrap();
    assert_eq!((entries, total), (vec![entry], 1));
}

#[test]
fn sqlite_delete_removes_derived_rows() {
    let (dir, store) = sqlite();
    let listing = store.create(enterprise("企业", "91110108551385082Q")).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("xietong.db")).unwrap();
    let derived = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table} WHERE listing_id = ?1"), [listing.id.to_string()], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert!(derived("listing_regions") > 0 && derived("enterprise_sites") > 0);
    store.delete(listing.id).unwrap();
    assert_eq!((derived("listing_regions"), derived("listing_industries"), derived("enterprise_sites")), (0, 0, 0));
}

#[test]
fn sqlite_account_timestamps_compare_as_text() {
    let (dir, store) = sqlite();
    let user = store.create_user(new_user("u", Role::Member, None, None), &[], &|_| noted("user.create")).unwrap();
    let expires = (T0 + Duration::milliseconds(250)).to_offset(offset!(+08:00));
    store.create_session(session("h", user.id, T0, expires), noted("login.success")).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("xietong.db")).unwrap();
    let stored: String = conn.query_row("SELECT expires_at FROM sessions", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, "2030-01-01T00:00:00.250000000Z");
}

/// Each connection of the `postgres` client owns a small tokio runtime, and tokio refuses to drop
/// a runtime inside async code; an app whose last handle to the store goes in async code (an
/// async `main` returning) must not panic.
#[test]
fn postgres_store_can_be_dropped_in_async_code() {
    let (guard, url) = PostgresTestDb::create();
    let store = PostgresStore::connect(&url).unwrap();
    store.create(achievement("异步", "110106", "C")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async move { drop(store) });
    drop(guard);
}

#[test]
fn open_url_picks_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("by-url.db");
    let sqlite = xietong_store::open_url(&format!("sqlite://{}", path.display())).unwrap();
    let id = sqlite.create(achievement("按地址", "110106", "C")).unwrap().id;
    drop(sqlite);
    let reopened = xietong_store::open_url(path.to_str().unwrap()).unwrap();
    assert_eq!(reopened.get(id).unwrap().body.title, "按地址");
    assert!(xietong_store::open_url("sqlite://").is_err());

    let (guard, url) = PostgresTestDb::create();
    let database = xietong_store::open_url(&url).unwrap();
    let listing = database.create(achievement("按地址", "110106", "C")).unwrap();
    let store: std::sync::Arc<dyn Store> = database.clone();
    assert_eq!(store.get(listing.id).unwrap(), listing);
    drop((store, database));
    drop(guard);
}
