//! Challenges at the use-case layer: concurrent moves decided on one phase (two organisers race
//! and award at once, teams apply as the organiser closes applications) leave one consistent
//! outcome, and each stored move has exactly one audit entry.

use xietong_app::account::NewAccount;
use xietong_app::types::{ApplicationInput, ListFilter};
use xietong_app::{Actor, App, AppError, DataDir};
use xietong_domain::challenge::{ApplicationState, MemberRole, Phase, TeamMember};

struct Setup {
    _dir: tempfile::TempDir,
    app: App,
    organisers: Vec<Actor>,
    teams: Vec<Actor>,
}

fn login(app: &App, username: &str, org: &str) -> Actor {
    let account = NewAccount {
        username: username.into(),
        password: "long-enough-password".into(),
        role: "member".into(),
        org: Some(org.into()),
        ..NewAccount::default()
    };
    app.account().create_user(&Actor::operator(), account).unwrap();
    let session = app.account().login(username, "long-enough-password", None).unwrap();
    Actor::new(xietong_domain::Viewer::User(session.principal), None)
}

fn setup(teams: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(&DataDir::create(dir.path()).unwrap()).unwrap();
    let operator = Actor::operator();
    app.account().create_org(&operator, "发榜企业", "enterprise", "110106").unwrap();
    let organisers = (0..2).map(|i| login(&app, &format!("organiser{i}"), "发榜企业")).collect();
    let mut team_actors = Vec::new();
    for i in 0..teams {
        let org = format!("揭榜机构{i}");
        let region = ["110108", "120116", "130602"][i % 3];
        app.account().create_org(&operator, &org, "enterprise", region).unwrap();
        team_actors.push(login(&app, &format!("solver{i}"), &org));
    }
    let body: xietong_domain::ListingBody = serde_json::from_value(serde_json::json!({
        "kind": "challenge", "title": "并发榜单", "summary": "赛马", "region_codes": ["110106"],
        "owner_org": "发榜企业", "max_teams": 2, "deadline": "2099-12-31",
        "criteria": [{"name": "技术", "weight": 100}],
    }))
    .unwrap();
    let body = xietong_domain::validate(body, xietong_domain::Reference::get()).unwrap();
    app.create_listing(&operator, body).unwrap();
    Setup { _dir: dir, app, organisers, teams: team_actors }
}

fn challenge_id(app: &App) -> xietong_domain::ListingId {
    let filter = ListFilter { kind: Some(xietong_domain::Kind::Challenge), ..ListFilter::default() };
    app.list_listings(&Actor::operator(), filter, 10, 0).unwrap().items[0].id
}

fn input(actor: &Actor) -> ApplicationInput {
    let org = actor.principal().unwrap().org.clone().unwrap();
    ApplicationInput {
        team_name: format!("{org}队"),
        members: vec![TeamMember {
            name: "负责人".into(),
            organisation: org,
            region_code: "110108".into(),
            role: MemberRole::Lead,
        }],
        proposal: "方案".into(),
    }
}

fn audited(app: &App, action: &str) -> usize {
    let filter = xietong_store::AuditFilter { action_prefix: Some(action.into()), ..Default::default() };
    app.accounts().audit_entries(&filter, 10_000, 0).unwrap().0.iter().filter(|e| e.action == action).count()
}

#[test]
fn two_organisers_racing_and_awarding_at_once_store_one_outcome_each() {
    let setup = setup(3);
    let (app, id) = (&setup.app, challenge_id(&setup.app));
    let ids: Vec<i64> =
        setup.teams.iter().map(|team| app.apply_to_challenge(team, id, input(team)).unwrap().id).collect();
    app.close_applications(&setup.organisers[0], id).unwrap();
    let raced: Vec<Result<_, AppError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = setup
            .organisers
            .iter()
            .enumerate()
            .map(|(i, organiser)| {
                let chosen = vec![ids[i], ids[2]];
                scope.spawn(move || app.race(organiser, id, &chosen))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<_> = raced.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{raced:?}");
    assert!(raced.iter().any(|r| matches!(r, Err(AppError::Conflict(_)))), "the other is a conflict: {raced:?}");
    let view = app.challenge(&setup.organisers[0], id).unwrap();
    assert_eq!(view.phase, Phase::Racing);
    let racing: Vec<i64> = view
        .applications
        .iter()
        .filter(|a| a.application.state == ApplicationState::Racing)
        .map(|a| a.application.id)
        .collect();
    let expected: Vec<i64> = won[0]
        .applications
        .iter()
        .filter(|a| a.application.state == ApplicationState::Racing)
        .map(|a| a.application.id)
        .collect();
    assert_eq!(racing, expected);
    assert_eq!(audited(app, "challenge.race"), 1, "one entry for the one stored race");

    let awarded: Vec<Result<_, AppError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = setup
            .organisers
            .iter()
            .enumerate()
            .map(|(i, organiser)| {
                let chosen = vec![racing[i]];
                scope.spawn(move || app.award(organiser, id, &chosen))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(awarded.iter().filter(|r| r.is_ok()).count(), 1, "{awarded:?}");
    let board = app.challenge_board(&Actor::new(xietong_domain::Viewer::Anonymous, None), id).unwrap();
    assert_eq!(board.winners.len(), 1);
    assert_eq!(audited(app, "challenge.award"), 1);
}

#[test]
fn applications_racing_the_close_of_applications_are_all_before_it_or_refused() {
    let setup = setup(12);
    let (app, id) = (&setup.app, challenge_id(&setup.app));
    let outcomes: Vec<Result<_, AppError>> = std::thread::scope(|scope| {
        let mut handles: Vec<_> = setup
            .teams
            .iter()
            .map(|team| scope.spawn(move || app.apply_to_challenge(team, id, input(team)).map(|a| a.id)))
            .collect();
        let organiser = &setup.organisers[0];
        handles.insert(6, scope.spawn(move || app.close_applications(organiser, id).map(|_| 0)));
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(outcomes[6].is_ok(), "the organiser closes: {:?}", outcomes[6]);
    let stored: Vec<i64> =
        outcomes.iter().enumerate().filter(|(i, _)| *i != 6).filter_map(|(_, r)| r.as_ref().ok().copied()).collect();
    for (i, outcome) in outcomes.iter().enumerate().filter(|(i, _)| *i != 6) {
        if let Err(error) = outcome {
            assert!(matches!(error, AppError::Conflict(_)), "application {i}: {error:?}");
        }
    }
    let view = app.challenge(&setup.organisers[0], id).unwrap();
    assert_eq!(view.phase, Phase::Reviewing);
    let listed: Vec<i64> = view.applications.iter().map(|a| a.application.id).collect();
    let mut expected = stored.clone();
    expected.sort_unstable();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort_unstable();
    assert_eq!(listed_sorted, expected, "exactly the acknowledged applications are stored");
    assert_eq!(audited(app, "challenge.apply"), stored.len());
    let late = app.apply_to_challenge(&setup.teams[0], id, input(&setup.teams[0]));
    assert!(matches!(late, Err(AppError::Conflict(_))), "{late:?}");
}
