//! Demo challenges (揭榜挂帅, 赛马制) in every phase, so the challenge pages, the board and
//! /account are alive on first start: the demo enterprise `ent_a` (Beijing) organises five
//! challenges — one `open`, one whose deadline passed (it reads `reviewing`), one `racing`, one
//! `awarded` and one `closed` — and teams led from Beijing, Hebei and Tianjin apply, with members
//! across the three. `fengtai_ops` and `uni_1` review (`uni_1` is conflicted for its own
//! university's team, whose scores it never gives), milestones gate the race, winners are named.
//! Every move is stored with its audit entry, as the use cases store them.

use anyhow::Context;
use time::{Duration, OffsetDateTime};
use xietong_domain::challenge::{BEIJING, MemberRole, Phase, TeamMember};
use xietong_domain::{Day, ListingId, Reference, UserId, validate};
use xietong_store::{ChallengeChange, ChallengeWrite, NewApplication, NewAudit};

use crate::App;

/// Names of the demo organisations the challenges involve.
pub(crate) struct DemoOrgs<'a> {
    /// The organiser (Beijing enterprise with the `ent_a` accounts).
    pub organiser: &'a str,
    /// A Hebei enterprise (`ent_b`).
    pub hebei: &'a str,
    /// A Beijing university (`uni_1`).
    pub university: &'a str,
    /// The personal organisation of `talent_1`.
    pub talent: &'a str,
}

/// Tianjin organisations without an account, members of the teams.
const TIANJIN_INSTITUTE: &str = "天津滨海新材料研究院";
const TIANJIN_FACTORY: &str = "天津南开精密制造有限公司";

fn audit(action: &str, target: ListingId) -> NewAudit {
    NewAudit { actor: "demo".into(), action: action.into(), target: target.to_string(), ..NewAudit::default() }
}

fn member(name: &str, organisation: &str, region: &str, role: MemberRole) -> TeamMember {
    TeamMember { name: name.into(), organisation: organisation.into(), region_code: region.into(), role }
}

/// Stores the demo challenges and their runs.
pub(crate) fn create(app: &App, orgs: &DemoOrgs<'_>) -> anyhow::Result<()> {
    let user = |name: &str| -> anyhow::Result<UserId> {
        Ok(app.accounts.user_by_name(name)?.with_context(|| format!("demo user {name} is missing"))?.id)
    };
    let (b_user, uni_user, talent_user, ops_user, a_user) =
        (user("ent_b")?, user("uni_1")?, user("talent_1")?, user("fengtai_ops")?, user("ent_a")?);
    let today = OffsetDateTime::now_utc().to_offset(BEIJING).date();
    let day = |offset_days: i64| Day(today + Duration::days(offset_days));
    let reference = Reference::get();
    let criteria = serde_json::json!([
        {"name": "技术先进性", "weight": 40},
        {"name": "方案可行性", "weight": 35},
        {"name": "团队能力", "weight": 25},
    ]);
    let challenge = |title: &str, summary: &str, deadline: Day, prize: f64| -> anyhow::Result<ListingId> {
        let body = serde_json::from_value(serde_json::json!({
            "kind": "challenge",
            "title": title,
            "summary": summary,
            "keywords": ["揭榜挂帅", "赛马制"],
            "region_codes": ["110106"],
            "owner_org": orgs.organiser,
            "requirements": "牵头单位须为京津冀注册法人，鼓励跨区域组队；按里程碑节点考核，未通过者淘汰。",
            "prize": prize,
            "deadline": deadline.to_string(),
            "criteria": criteria,
            "max_teams": 2,
            "preferred_regions": ["110000", "120000", "130000"],
        }))?;
        let body = validate(body, reference).map_err(|e| anyhow::anyhow!("demo challenge is invalid: {e}"))?;
        Ok(app.store.create(body).context("failed to store a demo challenge")?.id)
    };
    let store = &app.challenges;
    let step = |id: ListingId, from: Phase, to: Phase, write: ChallengeWrite, action: &str| -> anyhow::Result<i64> {
        let written = store
            .apply_challenge_change(
                ChallengeChange { challenge_id: id, expected_phase: from, phase: to, write },
                &|_| audit(action, id),
            )
            .with_context(|| format!("demo challenge move {action}"))?;
        Ok(written.created.unwrap_or(0))
    };
    let apply =
        |id: ListingId, team: &str, lead_org: &str, lead_user: UserId, members: Vec<TeamMember>, proposal: &str| {
            step(
                id,
                Phase::Open,
                Phase::Open,
                ChallengeWrite::Apply {
                    application: NewApplication {
                        team_name: team.into(),
                        lead_org: lead_org.into(),
                        lead_user_id: lead_user,
                        members,
                        proposal: proposal.into(),
                    },
                    accept_until: None,
                },
                "challenge.apply",
            )
        };
    let appoint = |id: ListingId, user_id: UserId, username: &str, org: &str| {
        step(
            id,
            Phase::Open,
            Phase::Open,
            ChallengeWrite::AppointReviewer { user_id, username: username.into(), org: Some(org.into()) },
            "challenge.appoint_reviewer",
        )
    };
    let score = |id: ListingId, application: i64, reviewer: UserId, values: [f64; 3]| {
        step(
            id,
            Phase::Reviewing,
            Phase::Reviewing,
            ChallengeWrite::Score {
                application_id: application,
                reviewer_id: reviewer,
                scores: vec![
                    ("技术先进性".into(), values[0]),
                    ("方案可行性".into(), values[1]),
                    ("团队能力".into(), values[2]),
                ],
            },
            "challenge.score",
        )
    };
    // The three teams every challenge past `open` sees: Hebei-led with Tianjin and Xiong'an
    // members, Beijing university-led with a Tianjin factory, and the Beijing talent with a
    // Tianjin institute.
    let teams = |id: ListingId| -> anyhow::Result<[i64; 3]> {
        let hebei = apply(
            id,
            "冀津联合攻关队",
            orgs.hebei,
            b_user,
            vec![
                member("李工", orgs.hebei, "130602", MemberRole::Lead),
                member("赵博士", TIANJIN_INSTITUTE, "120116", MemberRole::Member),
                member("孙工", orgs.hebei, "133100", MemberRole::Member),
            ],
            "以雄安中试线为依托，联合天津新材料研究院开发低温高活性催化层，分三阶段完成样机、示范与量产验证。",
        )?;
        let university = apply(
            id,
            "京津产学研联合体",
            orgs.university,
            uni_user,
            vec![
                member("陈教授", orgs.university, "110108", MemberRole::Lead),
                member("周工", TIANJIN_FACTORY, "120104", MemberRole::Member),
            ],
            "高校团队负责机理研究与仿真，天津制造企业负责工艺放大；已有小试数据支撑。",
        )?;
        let talent = apply(
            id,
            "个人揭榜·王晓明团队",
            orgs.talent,
            talent_user,
            vec![
                member("王晓明", orgs.talent, "110108", MemberRole::Lead),
                member("吴工", TIANJIN_INSTITUTE, "120116", MemberRole::Member),
            ],
            "以机器视觉在线检测为切入点，周末工程师模式赴河北工厂现场联调。",
        )?;
        appoint(id, ops_user, "fengtai_ops", crate::demo_accounts::FENGTAI_BUREAU)?;
        appoint(id, uni_user, "uni_1", orgs.university)?;
        Ok([hebei, university, talent])
    };
    let score_all = |id: ListingId, [hebei, university, talent]: [i64; 3]| -> anyhow::Result<()> {
        score(id, hebei, ops_user, [88.0, 82.0, 85.0])?;
        score(id, university, ops_user, [90.0, 75.0, 80.0])?;
        score(id, talent, ops_user, [70.0, 78.0, 72.0])?;
        // uni_1 is conflicted for its university's team and scores only the others.
        score(id, hebei, uni_user, [84.0, 86.0, 80.0])?;
        score(id, talent, uni_user, [74.0, 70.0, 76.0])?;
        Ok(())
    };
    let milestone = |id: ListingId, title: &str, due: Day| {
        step(
            id,
            Phase::Racing,
            Phase::Racing,
            ChallengeWrite::AddMilestone { title: title.into(), due_on: due },
            "challenge.add_milestone",
        )
    };
    let report = |id: ListingId, application: i64, milestone_id: i64, text: &str, by: UserId| {
        step(
            id,
            Phase::Racing,
            Phase::Racing,
            ChallengeWrite::FileReport {
                application_id: application,
                milestone_id,
                text: text.into(),
                attachment: None,
                filed_by: by,
            },
            "challenge.file_report",
        )
    };
    let decide = |id: ListingId, report_id: i64, passed: bool, note: &str| {
        step(
            id,
            Phase::Racing,
            Phase::Racing,
            ChallengeWrite::DecideGate { report_id, passed, note: note.into(), decided_by: a_user },
            "challenge.decide_gate",
        )
    };

    // Open: applications accepted for two more months; one team applied, reviewers appointed.
    let open = challenge(
        "揭榜挂帅：氢燃料电池零下30℃冷启动技术攻关",
        "面向京津冀征集燃料电池低温冷启动解决方案，入围团队赛马攻关。",
        day(60),
        800.0,
    )?;
    apply(
        open,
        "冀津联合攻关队",
        orgs.hebei,
        b_user,
        vec![
            member("李工", orgs.hebei, "130602", MemberRole::Lead),
            member("赵博士", TIANJIN_INSTITUTE, "120116", MemberRole::Member),
        ],
        "电堆低温自加热与水管理联合方案。",
    )?;
    appoint(open, ops_user, "fengtai_ops", crate::demo_accounts::FENGTAI_BUREAU)?;

    // Reviewing: the deadline passed yesterday, so the phase reads `reviewing` although nobody
    // closed applications; the first score moves the stored phase along in its transaction, as
    // a score through the use cases does. One reviewer has scored two teams.
    let reviewing = challenge(
        "揭榜挂帅：工业视觉缺陷检测通用模型",
        "征集适用于京津冀制造企业产线的缺陷检测通用模型，按指标评审后赛马。",
        day(-1),
        300.0,
    )?;
    let [hebei, _, talent] = teams(reviewing)?;
    step(
        reviewing,
        Phase::Open,
        Phase::Reviewing,
        ChallengeWrite::Score {
            application_id: hebei,
            reviewer_id: ops_user,
            scores: vec![("技术先进性".into(), 80.0), ("方案可行性".into(), 85.0), ("团队能力".into(), 82.0)],
        },
        "challenge.score",
    )?;
    score(reviewing, talent, ops_user, [76.0, 80.0, 79.0])?;

    // Racing: two teams race; the first gate is decided for one, the other's report awaits.
    let racing = challenge(
        "揭榜挂帅：高镍正极材料低成本量产工艺",
        "面向河北、天津产业基地征集高镍正极材料量产工艺，赛马制推进。",
        day(-20),
        1200.0,
    )?;
    let racing_teams = teams(racing)?;
    step(racing, Phase::Open, Phase::Reviewing, ChallengeWrite::Phase { note: None }, "challenge.close_applications")?;
    score_all(racing, racing_teams)?;
    step(
        racing,
        Phase::Reviewing,
        Phase::Racing,
        ChallengeWrite::Race { application_ids: vec![racing_teams[0], racing_teams[1]] },
        "challenge.race",
    )?;
    let first = milestone(racing, "小试样品性能验证", day(-5))?;
    milestone(racing, "中试线连续运行 72 小时", day(45))?;
    let passed = report(racing, racing_teams[0], first, "样品首效 91%，循环 500 次容量保持率 93%。", b_user)?;
    decide(racing, passed, true, "指标达标，进入中试。")?;
    report(racing, racing_teams[1], first, "样品首效 89%，循环数据整理中。", uni_user)?;

    // Awarded: the Hebei-led team won after one team was eliminated at a gate.
    let awarded = challenge(
        "揭榜挂帅：雄安新区智慧工地安全监测系统",
        "征集智慧工地安全监测整体方案，已完成赛马并公示揭榜结果。",
        day(-90),
        500.0,
    )?;
    let awarded_teams = teams(awarded)?;
    step(awarded, Phase::Open, Phase::Reviewing, ChallengeWrite::Phase { note: None }, "challenge.close_applications")?;
    score_all(awarded, awarded_teams)?;
    step(
        awarded,
        Phase::Reviewing,
        Phase::Racing,
        ChallengeWrite::Race { application_ids: vec![awarded_teams[0], awarded_teams[1]] },
        "challenge.race",
    )?;
    let gate = milestone(awarded, "试点工地部署验收", day(-30))?;
    let winner_report = report(awarded, awarded_teams[0], gate, "雄安 3 个工地部署完成，告警准确率 96%。", b_user)?;
    let loser_report = report(awarded, awarded_teams[1], gate, "部署 1 个工地，告警准确率 82%。", uni_user)?;
    decide(awarded, winner_report, true, "验收通过。")?;
    decide(awarded, loser_report, false, "告警准确率未达到 90% 的门槛。")?;
    step(
        awarded,
        Phase::Racing,
        Phase::Awarded,
        ChallengeWrite::Award { application_ids: vec![awarded_teams[0]] },
        "challenge.award",
    )?;

    // Closed without award.
    let closed =
        challenge("揭榜挂帅：京津冀冷链物流碳足迹核算平台", "因需求调整，本榜单已关闭，未授榜。", day(-120), 200.0)?;
    teams(closed)?;
    step(
        closed,
        Phase::Open,
        Phase::Closed,
        ChallengeWrite::Phase { note: Some("需求方业务调整，本榜单终止，未授榜。".into()) },
        "challenge.close",
    )?;
    Ok(())
}
