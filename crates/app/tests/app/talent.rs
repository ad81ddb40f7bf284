//! Issue 18 at the use-case layer: credentials issued, verified, revoked and recognised;
//! engagements under the commitment rule (concurrent offers: one wins); the demo catalogue's
//! figures and its search.

use xietong_app::account::NewAccount;
use xietong_app::service_catalog::{AREAS, CROSS_REGION_PER_AREA, ServiceQuery};
use xietong_app::types::{CredentialInput, EngagementAction, EngagementInput, RecognitionInput};
use xietong_app::{Actor, App, AppError, DataDir};
use xietong_domain::ListingId;

struct Setup {
    _dir: tempfile::TempDir,
    app: App,
    talent: ListingId,
    hebei: Actor,
}

fn login(app: &App, username: &str, role: &str, org: Option<&str>, region: Option<&str>) -> Actor {
    let account = NewAccount {
        username: username.into(),
        password: "long-enough-password".into(),
        role: role.into(),
        org: org.map(str::to_string),
        region: region.map(str::to_string),
        ..NewAccount::default()
    };
    app.account().create_user(&Actor::operator(), account).unwrap();
    let session = app.account().login(username, "long-enough-password", None).unwrap();
    Actor::new(xietong_domain::Viewer::User(session.principal), None)
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(&DataDir::create(dir.path()).unwrap()).unwrap();
    let operator = Actor::operator();
    app.account().create_org(&operator, "保定智造", "enterprise", "130602").unwrap();
    let hebei = login(&app, "hebei", "member", Some("保定智造"), None);
    let body: xietong_domain::ListingBody = serde_json::from_value(serde_json::json!({
        "kind": "talent", "title": "王工", "summary": "芯片设计", "region_codes": ["110108"],
        "industry_codes": ["3973"],
    }))
    .unwrap();
    let body = xietong_domain::validate(body, xietong_domain::Reference::get()).unwrap();
    let talent = app.create_listing(&operator, body).unwrap().listing.id;
    Setup { _dir: dir, app, talent, hebei }
}

fn issue(
    app: &App,
    actor: &Actor,
    talent: ListingId,
    region: &str,
) -> Result<xietong_app::types::StoredCredential, AppError> {
    app.issue_credential(
        actor,
        CredentialInput {
            talent: talent.to_string(),
            level: "高级工程师".into(),
            field: "集成电路".into(),
            valid_days: 365,
            issuer: region.into(),
        },
    )
}

#[test]
fn credentials_verify_until_revoked_and_say_how_regions_recognise_them() {
    let setup = setup();
    let app = &setup.app;
    let xiongan_ops = login(app, "xiongan_ops", "region_operator", None, Some("133100"));
    assert!(matches!(issue(app, &setup.hebei, setup.talent, "133100"), Err(AppError::Forbidden(_))));
    assert!(matches!(issue(app, &xiongan_ops, setup.talent, "110106"), Err(AppError::Forbidden(_))));
    let credential = issue(app, &xiongan_ops, setup.talent, "133100").unwrap();
    assert_eq!(app.issuers().unwrap().issuers.len(), 1, "the key was made on first use");
    let rule = RecognitionInput {
        verifier_region: "110000".into(),
        issuer_region: "133100".into(),
        issuer_level: "高级工程师".into(),
        recognised_level: "高级工程师（京）".into(),
    };
    assert!(matches!(app.add_recognition_rule(&xiongan_ops, rule.clone()), Err(AppError::Forbidden(_))));
    app.add_recognition_rule(&Actor::operator(), rule).unwrap();
    let verified = app.verify_credential(&credential.document, Some("110106")).unwrap();
    assert!(verified.valid, "{verified:?}");
    assert_eq!(verified.recognised_as.len(), 1);
    assert_eq!(verified.recognised_as[0].level, "高级工程师（京）");
    assert_eq!(verified.recognised_as[0].region, "110106");
    let unrecognised = app.verify_credential(&credential.document, Some("120000")).unwrap();
    assert!(unrecognised.valid && unrecognised.recognised_as.is_empty());

    let mut changed = credential.document.clone();
    changed["credentialSubject"]["field"] = serde_json::json!("集成电路设计");
    assert_eq!(app.verify_credential(&changed, None).unwrap().reason, "bad_signature");

    assert!(matches!(app.revoke_credential(&setup.hebei, &credential.id, "x"), Err(AppError::Forbidden(_))));
    app.revoke_credential(&xiongan_ops, &credential.id, "复核未通过").unwrap();
    let again = app.revoke_credential(&xiongan_ops, &credential.id, "again");
    assert!(matches!(again, Err(AppError::Store(xietong_app::types::StoreError::WrongState(_)))), "{again:?}");
    assert_eq!(app.verify_credential(&credential.document, None).unwrap().reason, "revoked");
    let list = app.status_list("133100").unwrap();
    assert_eq!(list["type"][1], "BitstringStatusListCredential");
}

fn weekend(talent: ListingId, days: &[u8]) -> EngagementInput {
    EngagementInput {
        talent: talent.to_string(),
        organisation: None,
        mode: "weekend_engineer".into(),
        start: "2026-03-01".into(),
        end: "2026-12-31".into(),
        weekdays: days.to_vec(),
        share_percent: None,
    }
}

#[test]
fn concurrent_offers_for_the_same_saturday_store_one() {
    let setup = setup();
    let app = &setup.app;
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            (0..8).map(|_| scope.spawn(|| app.propose_engagement(&setup.hebei, weekend(setup.talent, &[6])))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    let engagement = outcomes.into_iter().find_map(Result::ok).unwrap();
    let dual = |share: u8| EngagementInput {
        mode: "dual_appointment".into(),
        weekdays: vec![],
        share_percent: Some(share),
        ..weekend(setup.talent, &[])
    };
    app.propose_engagement(&setup.hebei, dual(70)).unwrap();
    let over = app.propose_engagement(&setup.hebei, dual(31));
    assert!(
        matches!(over, Err(AppError::Store(xietong_app::types::StoreError::WrongState(ref m))) if m.contains("101%")),
        "{over:?}"
    );
    // The engaging organisation cannot accept for the talent.
    let refused = app.move_engagement(&setup.hebei, engagement.id, None, EngagementAction::Accept);
    assert!(matches!(refused, Err(AppError::Forbidden(_))), "{refused:?}");
    let accepted = app.move_engagement(&Actor::operator(), engagement.id, None, EngagementAction::Accept).unwrap();
    assert_eq!(accepted.state, xietong_domain::engagement::State::Accepted);
    let stats = app.engagement_stats(&Actor::operator()).unwrap();
    assert_eq!(stats.beijing_talents_serving_tianjin_hebei, 1);
    assert_eq!(stats.by_mode.get("weekend_engineer"), Some(&1));
    assert_eq!(stats.by_province.get("130000"), Some(&1));
}

#[test]
fn the_demo_catalogue_has_the_seeds_figures_and_finds_social_insurance() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(&DataDir::create(dir.path()).unwrap()).unwrap();
    app.load_demo(xietong_demo::DEFAULT_SEED).unwrap();
    let all = app.services(&ServiceQuery { limit: 10, ..ServiceQuery::default() }).unwrap();
    assert!(all.total >= 1_400, "{}", all.total);
    let across = app
        .services(&ServiceQuery {
            region: Some("110106".into()),
            cross_region: Some(true),
            limit: 10,
            ..ServiceQuery::default()
        })
        .unwrap();
    assert_eq!(across.total, 174);
    assert_eq!(across.areas.len(), 20);
    for (area, expected) in AREAS.iter().zip(CROSS_REGION_PER_AREA) {
        assert_eq!(across.areas[*area].cross_region, expected, "{area}");
        let in_xiongan = app
            .services(&ServiceQuery {
                area: Some(area.to_string()),
                region: Some("133100".into()),
                cross_region: Some(true),
                limit: 1,
                ..ServiceQuery::default()
            })
            .unwrap();
        assert_eq!(in_xiongan.total, expected, "{area} in Xiong'an");
    }
    let social = app.services(&ServiceQuery { q: Some("社保".into()), limit: 200, ..ServiceQuery::default() }).unwrap();
    assert!(social.total >= 72, "{}", social.total);
    assert!(social.items.iter().all(|s| s.area == "社保" || s.name.contains("社保")), "only social insurance");
    assert!(social.items.iter().any(|s| s.name.starts_with("社会保险关系转移")));
    // The demo credentials: some valid, some expired, one revoked.
    let issuers = app.issuers().unwrap().issuers;
    assert_eq!(issuers.len(), 3);
    let filter = xietong_app::types::ListFilter { kind: Some(xietong_domain::Kind::Talent), ..Default::default() };
    let mut reasons = Vec::new();
    for talent in app.list_listings(&Actor::operator(), filter, 200, 0).unwrap().items {
        for credential in app.credentials_of(talent.id).unwrap() {
            reasons.push(app.verify_credential(&credential.document, None).unwrap().reason);
        }
    }
    assert_eq!(reasons.iter().filter(|r| *r == "revoked").count(), 1, "{reasons:?}");
    assert!(reasons.iter().any(|r| r == "expired"), "{reasons:?}");
    assert!(reasons.iter().filter(|r| *r == "valid").count() >= 5, "{reasons:?}");
    assert!(app.engagement_stats(&Actor::operator()).unwrap().beijing_talents_serving_tianjin_hebei >= 3);
}
