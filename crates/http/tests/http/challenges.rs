//! Challenges that run (揭榜挂帅, 赛马制) through the API: the fixed routes and names, who may
//! make each move, the deadline, conflicts of interest, fixed scores, the race limit, gates,
//! the award, the board (recomputed from the stored scores), notices, and one outcome among
//! twenty concurrent races, awards and applications.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use xietong_domain::Role;
use xietong_domain::challenge::{Phase, weighted_mean};
use xietong_store::{ChallengeChange, ChallengeWrite};

use crate::deals::join_all;
use crate::fixture::{Fixture, GOV, ORG_A, ORG_B, ORG_C, TALENT_ORG, Who};

/// A published challenge of OrgA (criteria 技术先进性 60, 落地可行性 40; at most two teams).
pub(crate) fn challenge(fx: &Fixture, deadline: &str) -> String {
    let listing = fx.store_listing(json!({
        "kind": "challenge", "title": "揭榜挂帅：氢燃料电池低温冷启动", "summary": "零下30度冷启动攻关",
        "region_codes": ["110106"], "owner_org": ORG_A, "visibility": "public", "status": "published",
        "deadline": deadline, "max_teams": 2, "prize": 500,
        "criteria": [{"name": "技术先进性", "weight": 60}, {"name": "落地可行性", "weight": 40}],
    }));
    fx.sync();
    listing.id.to_string()
}

fn team(name: &str, lead_org: &str, lead_region: &str, others: &[(&str, &str)]) -> Value {
    let mut members =
        vec![json!({"name": "负责人", "organisation": lead_org, "region_code": lead_region, "role": "lead"})];
    for (org, region) in others {
        members.push(json!({"name": "成员", "organisation": org, "region_code": region, "role": "member"}));
    }
    json!({"team_name": name, "members": members, "proposal": "低温电堆与热管理联合攻关方案"})
}

async fn post(fx: &Fixture, who: Who, uri: &str, body: Value) -> crate::fixture::Reply {
    fx.call(who, "POST", uri, Some(body)).await
}

/// A reviewer of `org` with an all-scope token.
fn reviewer(fx: &Fixture, username: &str, org: &str) -> String {
    fx.add_user(username, Role::Member, Some(org)).1
}

async fn as_token(fx: &Fixture, token: &str, method: &str, uri: &str, body: Option<Value>) -> crate::fixture::Reply {
    fx.send(crate::fixture::with_bearer(crate::fixture::json_request(method, uri, body), Some(token))).await
}

#[tokio::test]
async fn a_challenge_runs_from_applications_to_a_public_board() {
    let fx = Fixture::new();
    let id = challenge(&fx, "2099-12-31");
    let apps = format!("/api/v1/challenges/{id}/applications");

    // Applications: the organiser cannot apply, anonymous callers log in, teams span regions.
    let own = post(&fx, Who::AMember, &apps, team("甲队", ORG_A, "110106", &[])).await;
    assert_eq!(own.status, 409, "{}", own.text);
    assert_eq!(post(&fx, Who::Anonymous, &apps, team("无名", ORG_B, "130602", &[])).await.status, 401);
    let bad_lead = post(&fx, Who::BMember, &apps, team("乙队", ORG_C, "110108", &[])).await;
    assert_eq!(bad_lead.status, 400, "the lead belongs to the applying organisation: {}", bad_lead.text);
    let bad_region = post(&fx, Who::BMember, &apps, team("乙队", ORG_B, "999999", &[])).await;
    assert_eq!(bad_region.status, 400, "{}", bad_region.text);
    let b = post(&fx, Who::BMember, &apps, team("冀津联合队", ORG_B, "130602", &[(TALENT_ORG, "120101")])).await;
    assert_eq!(b.status, 201, "{}", b.text);
    assert_eq!(b.json()["state"], "submitted");
    let b_id = b.json()["id"].as_i64().unwrap();
    assert_eq!(post(&fx, Who::BMember, &apps, team("乙队二", ORG_B, "130602", &[])).await.status, 409, "once per org");
    let c_id = post(&fx, Who::CMember, &apps, team("京队", ORG_C, "110108", &[])).await.json()["id"].as_i64().unwrap();
    let t_id = post(&fx, Who::Talent, &apps, team("津门个人队", TALENT_ORG, "120101", &[])).await.json()["id"]
        .as_i64()
        .unwrap();

    // Reviewers: the organiser appoints them; one of them is of OrgC (conflicted for OrgC's team).
    let neutral = reviewer(&fx, "judge_gov", GOV);
    let conflicted = reviewer(&fx, "judge_c", ORG_C);
    let reviewers = format!("/api/v1/challenges/{id}/reviewers");
    assert_eq!(post(&fx, Who::BMember, &reviewers, json!({"username": "judge_gov"})).await.status, 403);
    for username in ["judge_gov", "judge_c"] {
        let appointed = post(&fx, Who::AAdmin, &reviewers, json!({"username": username})).await;
        assert_eq!(appointed.status, 201, "{}", appointed.text);
    }
    assert_eq!(post(&fx, Who::AAdmin, &reviewers, json!({"username": "judge_gov"})).await.status, 409);
    let scores = |a: f64, b: f64| json!({"scores": {"技术先进性": a, "落地可行性": b}});
    let early =
        as_token(&fx, &neutral, "POST", &format!("/api/v1/applications/{b_id}/scores"), Some(scores(80.0, 70.0))).await;
    assert_eq!(early.status, 409, "no scoring while open: {}", early.text);

    // Closing applications: the organiser only; then no more applications.
    let close = format!("/api/v1/challenges/{id}/close-applications");
    assert_eq!(fx.call(Who::BMember, "POST", &close, None).await.status, 403);
    let closed = fx.call(Who::AAdmin, "POST", &close, None).await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    assert_eq!(closed.json()["phase"], "reviewing");
    assert_eq!(fx.call(Who::AAdmin, "POST", &close, None).await.status, 409);
    let late = post(&fx, Who::Tm, &apps, team("迟到", "AgencyTM", "110106", &[])).await;
    assert_eq!(late.status, 409, "{}", late.text);

    // Scores: one per criterion, 0–100, fixed once submitted; the conflicted reviewer is refused
    // for OrgC's team (and shown as such); teams and strangers may not score.
    let score_uri = |app: i64| format!("/api/v1/applications/{app}/scores");
    let refused = as_token(&fx, &conflicted, "POST", &score_uri(c_id), Some(scores(100.0, 100.0))).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(refused.text.contains("conflict"), "{}", refused.text);
    let view = as_token(&fx, &conflicted, "GET", &format!("/api/v1/challenges/{id}"), None).await.json();
    let c_view = view["applications"].as_array().unwrap().iter().find(|a| a["id"] == c_id).unwrap().clone();
    assert_eq!(c_view["standing"], "conflicted_reviewer");
    assert_eq!(c_view["conflicted_reviewers"], json!(["judge_c"]));
    assert_eq!(post(&fx, Who::BMember, &score_uri(c_id), scores(1.0, 1.0)).await.status, 403);
    assert_eq!(post(&fx, Who::AAdmin, &score_uri(c_id), scores(1.0, 1.0)).await.status, 403);
    let missing = as_token(&fx, &neutral, "POST", &score_uri(b_id), Some(json!({"scores": {"技术先进性": 80}}))).await;
    assert_eq!(missing.status, 400, "{}", missing.text);
    let too_high = as_token(&fx, &neutral, "POST", &score_uri(b_id), Some(scores(101.0, 1.0))).await;
    assert_eq!(too_high.status, 400, "{}", too_high.text);
    for (token, app, a, b) in [
        (&neutral, b_id, 90.0, 80.0),
        (&neutral, c_id, 85.0, 60.0),
        (&neutral, t_id, 50.0, 50.0),
        (&conflicted, b_id, 70.0, 90.0),
        (&conflicted, t_id, 60.0, 40.0),
    ] {
        let scored = as_token(&fx, token, "POST", &score_uri(app), Some(scores(a, b))).await;
        assert_eq!(scored.status, 201, "{}", scored.text);
    }
    let again = as_token(&fx, &neutral, "POST", &score_uri(b_id), Some(scores(0.0, 0.0))).await;
    assert_eq!(again.status, 409, "scores are fixed once submitted: {}", again.text);
    // A conflicted sheet that reached the store anyway never counts.
    let judge_c = fx.app.accounts().user_by_name("judge_c").unwrap().unwrap();
    fx.app
        .challenge_store()
        .apply_challenge_change(
            ChallengeChange {
                challenge_id: id.parse().unwrap(),
                expected_phase: Phase::Reviewing,
                phase: Phase::Reviewing,
                write: ChallengeWrite::Score {
                    application_id: c_id,
                    reviewer_id: judge_c.id,
                    scores: vec![("技术先进性".into(), 100.0), ("落地可行性".into(), 100.0)],
                },
            },
            &|_| Default::default(),
        )
        .unwrap();

    // Before the award: the public sees no team; a team sees itself without scores; the
    // organiser sees totals.
    let board_uri = format!("/api/v1/challenges/{id}/board");
    let public = fx.get(Who::Anonymous, &board_uri).await.json();
    assert_eq!((public["scores_visible"].as_bool(), public["teams"].as_array().unwrap().len()), (Some(false), 0));
    assert_eq!(public["applications_count"], 3);
    let own = fx.get(Who::BMember, &board_uri).await.json();
    assert_eq!(own["teams"].as_array().unwrap().len(), 1);
    assert_eq!(own["teams"][0]["total"], Value::Null, "a team sees its scores only after the award");
    let b_view = fx.get(Who::BMember, &format!("/api/v1/challenges/{id}")).await.json();
    assert_eq!(b_view["applications"][0]["scores"], json!([]));
    let organiser = fx.get(Who::AAdmin, &board_uri).await.json();
    assert_eq!(organiser["scores_visible"], true);
    assert_eq!(organiser["teams"][0]["application_id"], b_id, "best total first: {organiser}");

    // The race: at most max_teams; the organiser only; the others are not selected.
    let race = format!("/api/v1/challenges/{id}/race");
    let too_many = post(&fx, Who::AAdmin, &race, json!({"application_ids": [b_id, c_id, t_id]})).await;
    assert_eq!(too_many.status, 409, "{}", too_many.text);
    assert_eq!(post(&fx, Who::BMember, &race, json!({"application_ids": [b_id]})).await.status, 403);
    let raced = post(&fx, Who::AAdmin, &race, json!({"application_ids": [b_id, c_id]})).await;
    assert_eq!(raced.status, 200, "{}", raced.text);
    assert_eq!(raced.json()["phase"], "racing");
    let states: BTreeMap<i64, String> = raced.json()["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["id"].as_i64().unwrap(), a["state"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(states[&t_id], "not_selected");
    assert_eq!((states[&b_id].as_str(), states[&c_id].as_str()), ("racing", "racing"));
    let racing_public = fx.get(Who::Anonymous, &board_uri).await.json();
    assert_eq!(racing_public["teams"].as_array().unwrap().len(), 2, "the racing teams are public");
    assert_eq!(racing_public["teams"][0]["total"], Value::Null);

    // Milestones, reports and gates.
    let milestones = format!("/api/v1/challenges/{id}/milestones");
    assert_eq!(
        post(&fx, Who::BMember, &milestones, json!({"title": "样机", "due_on": "2099-06-30"})).await.status,
        403
    );
    let milestone = post(&fx, Who::AAdmin, &milestones, json!({"title": "样机验证", "due_on": "2099-06-30"})).await;
    assert_eq!(milestone.status, 201, "{}", milestone.text);
    let m_id = milestone.json()["id"].as_i64().unwrap();
    let report = |app: i64| format!("/api/v1/applications/{app}/reports");
    let body = json!({"milestone_id": m_id, "text": "-30℃ 冷启动成功", "attachment": "https://example.com/r.pdf"});
    assert_eq!(post(&fx, Who::Talent, &report(b_id), body.clone()).await.status, 403, "a team member, not the lead");
    assert_eq!(post(&fx, Who::Talent, &report(t_id), body.clone()).await.status, 409, "not racing");
    let b_report = post(&fx, Who::BMember, &report(b_id), body.clone()).await;
    assert_eq!(b_report.status, 201, "{}", b_report.text);
    assert_eq!(post(&fx, Who::BMember, &report(b_id), body.clone()).await.status, 409, "one report per milestone");
    let c_report = post(&fx, Who::CMember, &report(c_id), json!({"milestone_id": m_id, "text": "未达标"})).await;
    assert_eq!(c_report.status, 201, "{}", c_report.text);
    let decide = |report: &crate::fixture::Reply| format!("/api/v1/reports/{}/decision", report.json()["id"]);
    assert_eq!(post(&fx, Who::BMember, &decide(&b_report), json!({"passed": true})).await.status, 403);
    assert_eq!(post(&fx, Who::AAdmin, &decide(&c_report), json!({"passed": false})).await.status, 400, "a reason");
    let passed = post(&fx, Who::AAdmin, &decide(&b_report), json!({"passed": true, "note": "达标"})).await;
    assert_eq!(passed.status, 200, "{}", passed.text);
    assert_eq!(passed.json()["decision"]["passed"], true);
    let failed = post(&fx, Who::AAdmin, &decide(&c_report), json!({"passed": false, "note": "未达到 -30℃"})).await;
    assert_eq!(failed.status, 200, "{}", failed.text);
    assert_eq!(post(&fx, Who::AAdmin, &decide(&c_report), json!({"passed": true})).await.status, 409);

    // The award: only teams still racing.
    let award = format!("/api/v1/challenges/{id}/award");
    assert_eq!(post(&fx, Who::AAdmin, &award, json!({"application_ids": [c_id]})).await.status, 409, "eliminated");
    assert_eq!(post(&fx, Who::AAdmin, &award, json!({"application_ids": [t_id]})).await.status, 409, "never raced");
    assert_eq!(post(&fx, Who::BMember, &award, json!({"application_ids": [b_id]})).await.status, 403);
    let awarded = post(&fx, Who::AAdmin, &award, json!({"application_ids": [b_id]})).await;
    assert_eq!(awarded.status, 200, "{}", awarded.text);
    assert_eq!(awarded.json()["phase"], "awarded");
    assert_eq!(post(&fx, Who::AAdmin, &award, json!({"application_ids": [b_id]})).await.status, 409);

    // The public board: teams, regions, per-criterion scores, milestone outcomes, winners; the
    // totals equal a recomputation from the stored scores without conflicted sheets.
    let board = fx.get(Who::Anonymous, &board_uri).await.json();
    assert_eq!(board["phase"], "awarded");
    assert_eq!(board["scores_visible"], true);
    assert_eq!(board["winners"], json!([b_id]));
    let run = fx.app.challenge_store().challenge_run(id.parse().unwrap()).unwrap();
    let listing = fx.app.store().get(id.parse().unwrap()).unwrap();
    let xietong_domain::Details::Challenge(details) = listing.body.details else { panic!("a challenge") };
    let teams = board["teams"].as_array().unwrap();
    assert_eq!(teams.len(), 3);
    for team in teams {
        let app = team["application_id"].as_i64().unwrap();
        let application = run.application(app).unwrap();
        let means: Vec<f64> = run
            .scores
            .iter()
            .filter(|s| s.application_id == app)
            .filter(|s| {
                let reviewer = run.reviewers.iter().find(|r| r.user_id == s.reviewer_id).unwrap();
                !reviewer.org.as_deref().is_some_and(|org| application.involves(org))
            })
            .map(|s| weighted_mean(&details, &s.scores).unwrap())
            .collect();
        let expected = means.iter().sum::<f64>() / means.len() as f64;
        let total = team["total"].as_f64().unwrap();
        assert!((total - expected).abs() < 1e-9, "team {app}: board {total}, recomputed {expected}");
    }
    // OrgC's team: only the neutral reviewer counts (85×0.6 + 60×0.4 = 75), not the conflicted 100s.
    let c_team = teams.iter().find(|t| t["application_id"] == c_id).unwrap();
    assert_eq!(c_team["total"], 75.0);
    assert_eq!(c_team["reviewers_counted"], 1);
    assert_eq!(c_team["criterion_scores"]["技术先进性"], 85.0);
    assert_eq!(c_team["milestones"][0]["passed"], false);
    assert_eq!(c_team["state"], "eliminated");
    let b_team = &teams[0];
    assert_eq!(b_team["application_id"], b_id);
    assert_eq!(b_team["rank"], 1);
    assert_eq!(b_team["regions"], json!(["130602", "120101"]));
    assert_eq!(b_team["organisations"], json!([ORG_B, TALENT_ORG]));
    assert_eq!(b_team["milestones"][0]["passed"], true);
    // B: (90×0.6+80×0.4 + 70×0.6+90×0.4) / 2 = (86 + 78) / 2 = 82.
    assert_eq!(b_team["total"], 82.0);
    let own_scores = fx.get(Who::BMember, &format!("/api/v1/challenges/{id}")).await.json();
    assert_eq!(own_scores["applications"][0]["scores"].as_array().unwrap().len(), 2, "after the award");

    // Notices reached the teams' inboxes through the notification outbox.
    let inbox = fx.get(Who::BMember, "/api/v1/inbox").await.json();
    let events: Vec<&str> = inbox["items"].as_array().unwrap().iter().map(|i| i["event"].as_str().unwrap()).collect();
    for event in ["challenge.reviewing", "challenge.race_started", "challenge.gate_decided", "challenge.awarded"] {
        assert!(events.contains(&event), "{event} in {events:?}");
    }
    let organiser_inbox = fx.get(Who::AMember, "/api/v1/inbox").await.json();
    let organiser_events: Vec<&str> =
        organiser_inbox["items"].as_array().unwrap().iter().map(|i| i["event"].as_str().unwrap()).collect();
    assert!(organiser_events.contains(&"challenge.applied") && organiser_events.contains(&"challenge.report_filed"));
    // The account's applications.
    let mine = fx.get(Who::Talent, "/api/v1/me/applications").await.json();
    assert_eq!(mine.as_array().unwrap().len(), 2, "its own and the one it is a member of: {mine}");

    // Every move is audited.
    let audit = fx.get(Who::Admin, "/api/v1/audit?action=challenge.&limit=200").await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    for action in ["challenge.apply", "challenge.score", "challenge.race", "challenge.decide_gate", "challenge.award"] {
        assert!(audit.text.contains(action), "{action} audited");
    }
}

#[tokio::test]
async fn applications_end_with_the_deadline_day_in_beijing_and_the_phase_reads_reviewing() {
    let fx = Fixture::new();
    let yesterday = (time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+8)).date().previous_day())
        .unwrap()
        .to_string();
    let id = challenge(&fx, &yesterday);
    let view = fx.get(Who::Anonymous, &format!("/api/v1/challenges/{id}")).await.json();
    assert_eq!(view["phase"], "reviewing", "{view}");
    let late =
        post(&fx, Who::BMember, &format!("/api/v1/challenges/{id}/applications"), team("乙", ORG_B, "130602", &[]))
            .await;
    assert_eq!(late.status, 409, "{}", late.text);
    // An application made before the deadline (stored directly); the phase is still stored as
    // `open`, and the first move decided on `reviewing` stores it.
    let challenge_id: xietong_domain::ListingId = id.parse().unwrap();
    let store = fx.app.challenge_store();
    assert_eq!(store.challenge_run(challenge_id).unwrap().phase, Phase::Open);
    let lead = xietong_domain::challenge::TeamMember {
        name: "李工".into(),
        organisation: ORG_B.into(),
        region_code: "130602".into(),
        role: xietong_domain::challenge::MemberRole::Lead,
    };
    let application = xietong_store::NewApplication {
        team_name: "按时提交".into(),
        lead_org: ORG_B.into(),
        lead_user_id: fx.user(Who::BMember).id,
        members: vec![lead],
        proposal: "方案".into(),
    };
    let change = ChallengeChange {
        challenge_id,
        expected_phase: Phase::Open,
        phase: Phase::Open,
        write: ChallengeWrite::Apply { application, accept_until: None },
    };
    let application = store.apply_challenge_change(change, &|_| Default::default()).unwrap().created.unwrap();
    let race = format!("/api/v1/challenges/{id}/race");
    let raced = post(&fx, Who::AAdmin, &race, json!({"application_ids": [application]})).await;
    assert_eq!(raced.status, 200, "a race decided on the read phase `reviewing`: {}", raced.text);
    assert_eq!(store.challenge_run(challenge_id).unwrap().phase, Phase::Racing);
    let today = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+8)).date().to_string();
    let open = challenge(&fx, &today);
    assert_eq!(fx.get(Who::Anonymous, &format!("/api/v1/challenges/{open}")).await.json()["phase"], "open");
    let on_time =
        post(&fx, Who::BMember, &format!("/api/v1/challenges/{open}/applications"), team("乙", ORG_B, "130602", &[]))
            .await;
    assert_eq!(on_time.status, 201, "accepted through the end of the deadline's day: {}", on_time.text);
    // Not a challenge, or not readable: 404.
    let demand = fx.listings[&crate::fixture::Vis::Public];
    assert_eq!(fx.get(Who::Anonymous, &format!("/api/v1/challenges/{demand}")).await.status, 404);
    let organisation_only = fx.listings[&crate::fixture::Vis::Organisation];
    assert_eq!(fx.get(Who::BMember, &format!("/api/v1/challenges/{organisation_only}/board")).await.status, 404);
}

/// Twenty concurrent race calls (each naming other teams), then twenty concurrent awards, then
/// twenty concurrent applications of one organisation: one outcome each time.
#[tokio::test]
async fn concurrent_races_awards_and_applications_leave_one_outcome() {
    let fx = Fixture::new();
    let id = challenge(&fx, "2099-12-31");
    let apps = format!("/api/v1/challenges/{id}/applications");
    let mut ids = Vec::new();
    for who in [Who::BMember, Who::CMember, Who::Talent, Who::Tm] {
        let lead = match who {
            Who::BMember => (ORG_B, "130602"),
            Who::CMember => (ORG_C, "110108"),
            Who::Talent => (TALENT_ORG, "120101"),
            _ => ("AgencyTM", "110106"),
        };
        if who == Who::Tm {
            // The technology manager acts for OrgA, the organiser: refused.
            assert_eq!(post(&fx, who, &apps, team("经理人队", lead.0, lead.1, &[])).await.status, 409);
            continue;
        }
        let reply = post(&fx, who, &apps, team(&format!("{} 队", lead.0), lead.0, lead.1, &[])).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        ids.push(reply.json()["id"].as_i64().unwrap());
    }
    assert_eq!(
        fx.call(Who::AAdmin, "POST", &format!("/api/v1/challenges/{id}/close-applications"), None).await.status,
        200
    );

    let race = format!("/api/v1/challenges/{id}/race");
    let calls = (0..20).map(|i| {
        let chosen = json!({"application_ids": [ids[i % 3], ids[(i + 1) % 3]]});
        post(&fx, Who::AAdmin, &race, chosen)
    });
    let replies = join_all(calls.collect()).await;
    let winners: Vec<&crate::fixture::Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "{:?}", replies.iter().map(|r| r.status.as_u16()).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| r.status == 200 || r.status == 409));
    let chosen: Vec<i64> = winners[0].json()["applications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "racing")
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    let stored = fx.get(Who::AAdmin, &format!("/api/v1/challenges/{id}")).await.json();
    let stored_racing: Vec<i64> = stored["applications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "racing")
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(stored_racing, chosen, "the stored race is the winner's");
    assert_eq!(chosen.len(), 2);

    let award = format!("/api/v1/challenges/{id}/award");
    let calls = (0..20).map(|i| post(&fx, Who::AAdmin, &award, json!({"application_ids": [chosen[i % 2]]})));
    let replies = join_all(calls.collect()).await;
    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 1);
    let board = fx.get(Who::Anonymous, &format!("/api/v1/challenges/{id}/board")).await.json();
    assert_eq!(board["winners"].as_array().unwrap().len(), 1);

    let other = challenge(&fx, "2099-12-31");
    let apps = format!("/api/v1/challenges/{other}/applications");
    let calls = (0..20).map(|i| post(&fx, Who::BMember, &apps, team(&format!("乙队{i}"), ORG_B, "130602", &[])));
    let replies = join_all(calls.collect()).await;
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert!(replies.iter().all(|r| r.status == 201 || r.status == 409));
    let view = fx.get(Who::AAdmin, &format!("/api/v1/challenges/{other}")).await.json();
    assert_eq!(view["applications_count"], 1);
}

#[tokio::test]
async fn the_organiser_sees_suggested_solvers_and_invites_them() {
    let fx = Fixture::new();
    let talent = fx.store_listing(json!({
        "kind": "talent", "title": "氢燃料电池低温冷启动专家", "summary": "燃料电池电堆低温冷启动与热管理研究",
        "region_codes": ["120101"], "owner_org": TALENT_ORG, "visibility": "public", "status": "published",
        "expertise": ["燃料电池", "冷启动"],
    }));
    let id = challenge(&fx, "2099-12-31");
    let uri = format!("/api/v1/challenges/{id}/suggestions");
    assert_eq!(fx.get(Who::BMember, &uri).await.status, 403);
    assert_eq!(fx.get(Who::Anonymous, &uri).await.status, 401);
    let suggested = fx.get(Who::AMember, &uri).await;
    assert_eq!(suggested.status, 200, "{}", suggested.text);
    let hits = suggested.json();
    let hit = hits.as_array().unwrap().iter().find(|h| h["id"] == talent.id.to_string()).expect("the talent");
    assert!(!hit["reasons"].as_array().unwrap().is_empty(), "with explanations: {hit}");
    assert_eq!(hit["invitable"], true);
    let invite = format!("/api/v1/challenges/{id}/invitations");
    assert_eq!(post(&fx, Who::BMember, &invite, json!({"listing_id": talent.id.to_string()})).await.status, 403);
    let invited = post(&fx, Who::AMember, &invite, json!({"listing_id": talent.id.to_string()})).await;
    assert_eq!(invited.status, 201, "{}", invited.text);
    let inbox = fx.get(Who::Talent, "/api/v1/inbox").await.json();
    let item = &inbox["items"][0];
    assert_eq!(item["event"], "challenge.invited");
    assert_eq!(item["link"], format!("/challenges/{id}"));
}

async fn form(fx: &Fixture, who: Who, uri: &str, pairs: &[(&str, &str)]) -> crate::fixture::Reply {
    fx.send(crate::fixture::with_bearer(crate::fixture::form_request("POST", uri, pairs), fx.token(who))).await
}

/// The challenge page through every phase, driven by its own forms: apply, the organiser's
/// control panel, scoring, reports, gates, the award and the results; in Chinese and English;
/// and the applications on /account.
#[tokio::test]
async fn the_challenge_page_runs_every_phase_through_its_forms() {
    let fx = Fixture::new();
    let id = challenge(&fx, "2099-12-31");
    let page = format!("/challenges/{id}");
    let anonymous = fx.get(Who::Anonymous, &page).await;
    assert_eq!(anonymous.status, 200);
    assert!(anonymous.text.contains("揭榜报名中") && anonymous.text.contains("登录后申请揭榜"), "{}", anonymous.text);
    assert!(!anonymous.text.contains("control-panel"));
    let english = fx.get(Who::Anonymous, &format!("{page}?lang=en")).await.text;
    assert!(english.contains("Open for applications") && english.contains("Log in to apply"));
    let listing_page = fx.get(Who::Anonymous, &format!("/listings/{id}")).await.text;
    assert!(listing_page.contains(&format!("/challenges/{id}")), "the listing links to its run");

    let b_page = fx.get(Who::BMember, &page).await.text;
    assert!(b_page.contains(r#"id="apply-form""#));
    let applied = form(
        &fx,
        Who::BMember,
        &format!("{page}/apply"),
        &[
            ("team_name", "冀津联合攻关队"),
            ("proposal", "低温电堆方案"),
            ("member_name_0", "王工"),
            ("member_org_0", ORG_B),
            ("member_region_0", "130602"),
            ("member_role_0", "lead"),
            ("member_name_1", "刘博士"),
            ("member_org_1", TALENT_ORG),
            ("member_region_1", "120101"),
            ("member_role_1", "member"),
        ],
    )
    .await;
    assert_eq!(applied.status, 303, "{}", applied.text);
    assert_eq!(applied.header("location"), Some(format!("{page}?done=apply").as_str()));
    let refused = form(&fx, Who::CMember, &format!("{page}/apply"), &[("team_name", "京队"), ("proposal", "x")]).await;
    assert_eq!(refused.status, 400, "no lead named: {}", refused.text);
    assert!(refused.text.contains("refused"), "an explained refusal page");
    let b_page = fx.get(Who::BMember, &page).await.text;
    assert!(b_page.contains("我的团队") && b_page.contains("冀津联合攻关队"));
    let account = fx.get(Who::Talent, "/account").await.text;
    assert!(account.contains("我的揭榜申请") && account.contains("冀津联合攻关队"), "a member organisation sees it");

    // The organiser's control panel.
    let organiser = fx.get(Who::AMember, &page).await.text;
    assert!(organiser.contains("发榜方控制台") && organiser.contains("推荐揭榜方"), "{organiser}");
    let manage = format!("{page}/manage");
    assert_eq!(
        form(&fx, Who::AMember, &manage, &[("action", "appoint_reviewer"), ("username", "region_op")]).await.status,
        303
    );
    assert_eq!(form(&fx, Who::BMember, &manage, &[("action", "close_applications")]).await.status, 403);
    assert_eq!(form(&fx, Who::AMember, &manage, &[("action", "close_applications")]).await.status, 303);
    let reviewer_page = fx.get(Who::RegionOp, &page).await.text;
    assert!(reviewer_page.contains("评审打分") && reviewer_page.contains("score:技术先进性"), "{reviewer_page}");
    let view = fx.get(Who::AMember, &format!("/api/v1/challenges/{id}")).await.json();
    let application = view["applications"][0]["id"].as_i64().unwrap().to_string();
    let scored = form(
        &fx,
        Who::RegionOp,
        &format!("/applications/{application}/act"),
        &[("action", "score"), ("score:技术先进性", "88"), ("score:落地可行性", "72")],
    )
    .await;
    assert_eq!(scored.status, 303, "{}", scored.text);
    assert!(fx.get(Who::RegionOp, &page).await.text.contains("已提交"));
    let raced = form(&fx, Who::AMember, &manage, &[("action", "race"), ("application_id", &application)]).await;
    assert_eq!(raced.status, 303, "{}", raced.text);
    let added = form(
        &fx,
        Who::AMember,
        &manage,
        &[("action", "add_milestone"), ("title", "样机验证"), ("due_on", "2099-06-30")],
    )
    .await;
    assert_eq!(added.status, 303, "{}", added.text);
    let board = fx.get(Who::Anonymous, &page).await.text;
    assert!(board.contains("赛马看板") && board.contains("冀津联合攻关队") && board.contains("样机验证"), "{board}");
    let milestone = fx.get(Who::AMember, &format!("/api/v1/challenges/{id}")).await.json()["milestones"][0]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let reported = form(
        &fx,
        Who::BMember,
        &format!("/applications/{application}/act"),
        &[("action", "report"), ("milestone_id", &milestone), ("text", "-30℃ 启动成功"), ("attachment", "")],
    )
    .await;
    assert_eq!(reported.status, 303, "{}", reported.text);
    let organiser = fx.get(Who::AMember, &page).await.text;
    assert!(organiser.contains("考核通过"), "the gate form");
    let view = fx.get(Who::AMember, &format!("/api/v1/challenges/{id}")).await.json();
    let report = view["applications"][0]["reports"][0]["id"].as_i64().unwrap();
    let decided =
        form(&fx, Who::AMember, &format!("/reports/{report}/decision"), &[("passed", "true"), ("note", "达标")]).await;
    assert_eq!(decided.status, 303, "{}", decided.text);
    let awarded = form(&fx, Who::AMember, &manage, &[("action", "award"), ("application_id", &application)]).await;
    assert_eq!(awarded.status, 303, "{}", awarded.text);
    let results = fx.get(Who::Anonymous, &page).await.text;
    assert!(
        results.contains("揭榜结果")
            && results.contains(r#"class="winner""#)
            && results.contains("data-total=\"81.60\""),
        "{results}"
    );
    let english = fx.get(Who::Anonymous, &format!("{page}?lang=en")).await.text;
    assert!(english.contains("Results") && english.contains("winner"));
    let reviewer_account = fx.get(Who::RegionOp, "/account").await.text;
    assert!(reviewer_account.contains("评审任务"));
    let again = form(&fx, Who::AMember, &manage, &[("action", "award"), ("application_id", &application)]).await;
    assert_eq!(again.status, 409);
}

/// The demo data hold challenges in every phase, with teams from Beijing, Tianjin and Hebei,
/// scores (a conflicted reviewer's left out), milestones and a winner.
#[tokio::test]
async fn the_demo_has_challenges_in_every_phase() {
    use std::sync::Arc;
    use xietong_app::types::ListFilter;
    use xietong_app::{Actor, App, DataDir};
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(App::open(&DataDir::create(dir.path()).unwrap()).unwrap());
    app.load_demo(xietong_demo::DEFAULT_SEED).unwrap();
    let operator = Actor::operator();
    let filter = ListFilter { kind: Some(xietong_domain::Kind::Challenge), ..ListFilter::default() };
    let challenges = app.list_listings(&operator, filter, 200, 0).unwrap().items;
    let phases = app.challenge_phases(&challenges).unwrap();
    for phase in Phase::ALL {
        assert!(phases.values().any(|p| *p == phase), "a demo challenge is {phase}: {phases:?}");
    }
    let awarded = phases.iter().find(|(_, p)| **p == Phase::Awarded).map(|(id, _)| *id).unwrap();
    let router = xietong_http::router(xietong_http::AppState::new(app.clone()));
    let send = |uri: String| {
        let router = router.clone();
        async move {
            use tower::ServiceExt;
            let response = router.oneshot(crate::fixture::json_request("GET", &uri, None)).await.unwrap();
            let status = response.status();
            let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
            (status.as_u16(), String::from_utf8_lossy(&body).into_owned())
        }
    };
    let (status, text) = send(format!("/api/v1/challenges/{awarded}/board")).await;
    assert_eq!(status, 200, "{text}");
    let board: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(board["winners"].as_array().unwrap().len(), 1);
    let provinces: std::collections::BTreeSet<String> = board["teams"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["regions"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()[..2].to_string()))
        .collect();
    assert_eq!(provinces, ["11", "12", "13"].map(String::from).into(), "teams from Beijing, Tianjin and Hebei");
    let university = board["teams"].as_array().unwrap().iter().find(|t| t["team_name"] == "京津产学研联合体").unwrap();
    assert_eq!(university["reviewers_counted"], 1, "uni_1 is conflicted for its own team");
    assert!(board["teams"].as_array().unwrap().iter().any(|t| t["milestones"][0]["passed"] == false));
    for (id, _) in phases.iter().filter(|(_, p)| **p != Phase::Open) {
        let (status, text) = send(format!("/challenges/{id}")).await;
        assert_eq!(status, 200, "{text}");
    }
}
