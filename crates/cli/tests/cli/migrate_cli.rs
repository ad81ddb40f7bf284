//! `xietong migrate --from DIR --to postgres://…`: an embedded data directory moves to PostgreSQL
//! without loss (every table compared by count and checksum), a second run copies nothing, and a
//! node on the new database serves the same data. Needs `XT_TEST_DATABASE_URL` (./scripts/test.sh).

use std::process::Command;

use serde_json::Value;
use xietong_app::account::NewAccount;
use xietong_app::{AccountService, Actor, App, DataDir};

fn migrate(from: &str, to: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_xietong"))
        .args(["migrate", "--from", from, "--to", to])
        .output()
        .expect("failed to run xietong migrate");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().expect("a summary line")).expect("the last line is JSON")
}

#[test]
fn an_embedded_directory_moves_to_postgresql_and_a_second_run_changes_nothing() {
    let _serial = crate::serial();
    let admin_url = std::env::var("XT_TEST_DATABASE_URL").expect(
        "XT_TEST_DATABASE_URL is not set: run ./scripts/test.sh, which starts a PostgreSQL server for the tests",
    );
    let name = format!("xt_migrate_{}", std::process::id());
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);

    // A data directory with accounts, listings, a deal and the audit trail they leave.
    let source = tempfile::tempdir().unwrap();
    let listings = {
        let app = App::open(&DataDir::create(source.path()).unwrap()).unwrap();
        let operator = Actor::operator();
        app.account().create_org(&operator, "迁移测试企业", "enterprise", "110106").unwrap();
        let account = NewAccount {
            username: "mover".into(),
            password: "long-enough-password".into(),
            role: "member".into(),
            org: Some("迁移测试企业".into()),
            ..NewAccount::default()
        };
        app.account().create_user(&operator, account).unwrap();
        let mut ids = Vec::new();
        for n in 0..25 {
            let body: xietong_domain::ListingBody = serde_json::from_value(serde_json::json!({
                "kind": "achievement", "title": format!("迁移成果 {n}"), "summary": "膜电极", "trl": 5,
                "region_codes": ["110106", "130638"], "industry_codes": ["3841"], "owner_org": "另一机构",
            }))
            .unwrap();
            let body = xietong_domain::validate(body, xietong_domain::Reference::get()).unwrap();
            ids.push(app.create_listing(&operator, body).unwrap().listing.id);
        }
        let session = app.account().login("mover", "long-enough-password", Some("10.1.1.1")).unwrap();
        let mover = Actor::new(xietong_domain::Viewer::User(session.principal), None);
        app.propose_deal(&mover, ids[0], None, "迁移前的对接").unwrap();
        // A challenge of another organisation run to its award: applications with members,
        // a reviewer's scores (REAL), a milestone (a day), a decided report (a boolean).
        app.account().create_org(&operator, "发榜机构", "enterprise", "110106").unwrap();
        let organiser = NewAccount {
            username: "organiser".into(),
            password: "long-enough-password".into(),
            role: "member".into(),
            org: Some("发榜机构".into()),
            ..NewAccount::default()
        };
        app.account().create_user(&operator, organiser).unwrap();
        let body: xietong_domain::ListingBody = serde_json::from_value(serde_json::json!({
            "kind": "challenge", "title": "迁移榜单", "summary": "赛马", "region_codes": ["110106"],
            "owner_org": "发榜机构", "max_teams": 1,
            "criteria": [{"name": "技术", "weight": 70}, {"name": "落地", "weight": 30}],
        }))
        .unwrap();
        let body = xietong_domain::validate(body, xietong_domain::Reference::get()).unwrap();
        let challenge = app.create_listing(&operator, body).unwrap().listing.id;
        let session = app.account().login("organiser", "long-enough-password", None).unwrap();
        let organiser = Actor::new(xietong_domain::Viewer::User(session.principal), None);
        let member = |org: &str, region: &str, role| xietong_domain::challenge::TeamMember {
            name: "成员".into(),
            organisation: org.into(),
            region_code: region.into(),
            role,
        };
        let input = xietong_app::types::ApplicationInput {
            team_name: "迁移队".into(),
            members: vec![
                member("迁移测试企业", "110106", xietong_domain::challenge::MemberRole::Lead),
                member("天津某院", "120116", xietong_domain::challenge::MemberRole::Member),
            ],
            proposal: "方案".into(),
        };
        let application = app.apply_to_challenge(&mover, challenge, input).unwrap().id;
        app.appoint_reviewer(&organiser, challenge, "organiser").unwrap();
        app.close_applications(&organiser, challenge).unwrap();
        let scores = [("技术".to_string(), 81.5), ("落地".to_string(), 60.0)].into_iter().collect();
        app.score_application(&organiser, application, &scores).unwrap();
        app.race(&organiser, challenge, &[application]).unwrap();
        let day = xietong_domain::Day::parse("2027-06-30").unwrap();
        let milestone = app.add_milestone(&organiser, challenge, "样机", day).unwrap().id;
        let report = app.file_report(&mover, application, milestone, "完成", None).unwrap().id;
        app.decide_gate(&organiser, report, true, "通过").unwrap();
        app.award(&organiser, challenge, &[application]).unwrap();
        ids
    };

    let first = migrate(source.path().to_str().unwrap(), &url);
    assert_eq!(first["identical"], true, "{first}");
    assert!(first["copied"].as_u64().unwrap() > 60, "{first}");
    let second = migrate(source.path().to_str().unwrap(), &url);
    assert_eq!((second["identical"].as_bool(), second["copied"].as_u64()), (Some(true), Some(0)), "{second}");

    // A node on the new database: the same listings, the same account, the deal, new ids after.
    let node = tempfile::tempdir().unwrap();
    let app = App::open(&DataDir::create(node.path()).unwrap().with_database_url(Some(url.clone()))).unwrap();
    let operator = Actor::operator();
    for id in &listings {
        assert_eq!(app.read_listing(&operator, *id).unwrap().id, *id);
    }
    let session = app.account().login("mover", "long-enough-password", None).unwrap();
    let mover = Actor::new(xietong_domain::Viewer::User(session.principal), None);
    assert_eq!(app.deals(&mover, None, None).unwrap().len(), 1);
    let mine = app.my_applications(&mover).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].phase, xietong_domain::challenge::Phase::Awarded);
    let board = app
        .challenge_board(&Actor::new(xietong_domain::Viewer::Anonymous, None), mine[0].application.challenge_id)
        .unwrap();
    assert_eq!(board.teams[0].total, Some(81.5 * 0.7 + 60.0 * 0.3), "the scores survive the move");
    assert_eq!(board.teams[0].milestones[0].passed, Some(true));
    app.propose_deal(&mover, listings[1], None, "迁移后的对接").unwrap();
    let accounts = AccountService::open(&DataDir::create(node.path()).unwrap().with_database_url(Some(url))).unwrap();
    assert!(accounts.orgs().unwrap().iter().any(|o| o.name == "迁移测试企业"));
    drop(app);
    drop(accounts);
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}
