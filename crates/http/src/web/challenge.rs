//! The challenge page (`/challenges/{id}`, 揭榜挂帅 · 赛马制) by phase: the apply form while
//! `open`, the reviewers' scoring forms while `reviewing`, the race board with milestones while
//! `racing`, the results once `awarded`; the organiser's control panel (close applications,
//! reviewers, race, milestones, gates, award, close, suggested solvers and invitations). Forms
//! post to `/challenges/{id}/apply`, `/challenges/{id}/manage`, `/applications/{id}/act` and
//! `/reports/{id}/decision`, which call the same use cases as the API.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use xietong_app::types::{ApplicationInput, ApplicationView, Board, ChallengeView, Suggestion};
use xietong_domain::challenge::{ApplicationState, MemberRole, Phase, Standing, TeamMember};
use xietong_domain::{Day, ListingId};

use super::account::{data_table, panel};
use super::{Lang, PageCtx, esc, fmt_num, labels, see_other};
use xietong_app::AppError;

use crate::error::ApiError;
use crate::state::AppState;

/// Member rows of the apply form.
const MEMBER_ROWS: usize = 6;
/// Suggested solvers shown to the organiser.
const SUGGESTIONS_SHOWN: usize = 8;

/// The label of a phase.
pub fn phase_label(phase: Phase, lang: Lang) -> &'static str {
    lang.t(phase.label_zh(), phase.label_en())
}

fn state_label(state: ApplicationState, lang: Lang) -> &'static str {
    lang.t(state.label_zh(), state.label_en())
}

fn standing_label(standing: Standing, lang: Lang) -> &'static str {
    let (zh, en) = match standing {
        Standing::Anonymous => ("访客", "visitor"),
        Standing::Organiser => ("发榜方", "organiser"),
        Standing::TeamLead => ("揭榜团队牵头方", "team lead"),
        Standing::TeamMember => ("揭榜团队成员", "team member"),
        Standing::Reviewer => ("评审专家", "reviewer"),
        Standing::ConflictedReviewer => ("评审专家（回避）", "reviewer (conflict of interest)"),
        Standing::Outsider => ("其他机构", "another organisation"),
    };
    lang.t(zh, en)
}

/// Query of the page: `done` names the move just made (a confirmation).
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    pub done: Option<String>,
}

/// `GET /challenges/{id}`
pub async fn page(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Query(params): Query<PageParams>,
) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else { return no_challenge(&ctx, &raw_id) };
    let caller = ctx.caller.clone();
    let loaded = state
        .blocking(move |app| {
            let actor = caller.actor();
            let view = app.challenge(&actor, id)?;
            let board = app.challenge_board(&actor, id)?;
            let suggestions = if view.standing == Standing::Organiser && view.phase == Phase::Open {
                app.challenge_suggestions(&actor, id, SUGGESTIONS_SHOWN)?
            } else {
                Vec::new()
            };
            Ok((view, board, suggestions))
        })
        .await;
    match loaded {
        Ok((view, board, suggestions)) => {
            let html = render(&ctx, &view, &board, &suggestions, params.done.as_deref());
            ctx.render(StatusCode::OK, &view.title, &html)
        }
        Err(ApiError::NotFound(_)) => ctx.not_found(&format!("{}{id}", ctx.t("没有这个榜单：", "No such challenge: "))),
        Err(err) => ctx.error_page(err),
    }
}

fn render(
    ctx: &PageCtx,
    view: &ChallengeView,
    board: &Board,
    suggestions: &[Suggestion],
    done: Option<&str>,
) -> String {
    let lang = ctx.lang;
    let mut html = String::new();
    if let Some(done) = done {
        let _ = write!(
            html,
            r#"<p class="notice ok" role="status" id="challenge-done" data-done="{}">{}</p>"#,
            esc(done),
            ctx.t("已完成。", "Done.")
        );
    }
    let _ = write!(
        html,
        r#"<h1>{title} <span class="badge phase-{phase}" id="challenge-phase" data-phase="{phase}">{label}</span></h1>
<p class="lead"><a href="/listings/{id}">{details}</a> · <a href="/api/v1/challenges/{id}/board">{board_json}</a></p>"#,
        title = esc(&view.title),
        phase = view.phase.as_str(),
        label = phase_label(view.phase, lang),
        id = view.challenge_id,
        details = ctx.t("榜单详情", "Challenge details"),
        board_json = ctx.t("榜单结果数据（JSON）", "Board data (JSON)"),
    );
    html.push_str(&steps(ctx, view.phase));
    html.push_str(&facts(ctx, view));
    match view.phase {
        Phase::Open => html.push_str(&apply_section(ctx, view)),
        Phase::Reviewing => html.push_str(&review_section(ctx, view)),
        Phase::Racing | Phase::Awarded | Phase::Closed => {}
    }
    if !view.applications.is_empty() && view.standing != Standing::Organiser {
        html.push_str(&own_applications(ctx, view));
    }
    html.push_str(&board_section(ctx, view, board));
    if view.standing == Standing::Organiser {
        html.push_str(&control_panel(ctx, view, board, suggestions));
    }
    html
}

/// The phases as steps, the current one marked.
fn steps(ctx: &PageCtx, current: Phase) -> String {
    let order = [Phase::Open, Phase::Reviewing, Phase::Racing, Phase::Awarded];
    let mut html = String::from(r#"<ol class="phase-steps" id="phase-steps">"#);
    for phase in order {
        let mark = if phase == current { r#" aria-current="step" class="current""# } else { "" };
        let _ = write!(html, "<li{mark}>{}</li>", phase_label(phase, ctx.lang));
    }
    if current == Phase::Closed {
        let _ =
            write!(html, r#"<li aria-current="step" class="current">{}</li>"#, phase_label(Phase::Closed, ctx.lang));
    }
    html.push_str("</ol>");
    html
}

fn facts(ctx: &PageCtx, view: &ChallengeView) -> String {
    let dash = "—".to_string();
    let deadline = view
        .deadline
        .map(|d| format!("{d} {}", ctx.t("（北京时间当日 24:00 截止）", "(until the end of the day, Beijing time)")))
        .unwrap_or_else(|| ctx.t("发榜方关闭报名为止", "until the organiser closes applications").to_string());
    let criteria: Vec<String> =
        view.criteria.iter().map(|c| format!("{} {}%", esc(&c.name), fmt_num(c.weight))).collect();
    let mut html = format!(
        r#"<dl class="fields" id="challenge-facts"><div><dt>{l_owner}</dt><dd>{owner}</dd></div><div><dt>{l_deadline}</dt><dd>{deadline}</dd></div><div><dt>{l_teams}</dt><dd>{teams}</dd></div><div><dt>{l_count}</dt><dd id="applications-count">{count}</dd></div><div><dt>{l_criteria}</dt><dd>{criteria}</dd></div><div><dt>{l_you}</dt><dd id="challenge-standing" data-standing="{standing}">{you}</dd></div></dl>"#,
        l_owner = ctx.t("发榜方", "Organiser"),
        owner = esc(view.owner_org.as_ref().unwrap_or(&dash)),
        l_deadline = ctx.t("报名截止", "Applications close"),
        deadline = esc(&deadline),
        l_teams = ctx.t("赛马团队数上限", "Teams racing at most"),
        teams = view.max_teams.map(|n| n.to_string()).unwrap_or_else(|| ctx.t("不限", "no limit").to_string()),
        l_count = ctx.t("揭榜申请", "Applications"),
        count = view.applications_count,
        l_criteria = ctx.t("评价指标（权重）", "Criteria (weights)"),
        criteria = if criteria.is_empty() { dash.clone() } else { criteria.join("、") },
        l_you = ctx.t("您的身份", "You are"),
        standing = view.standing.as_str(),
        you = standing_label(view.standing, ctx.lang),
    );
    if let Some(note) = &view.note {
        let _ = write!(
            html,
            r#"<p class="notice info" id="closed-note">{} {}</p>"#,
            ctx.t("关闭原因：", "Closed because:"),
            esc(note)
        );
    }
    html
}

fn apply_section(ctx: &PageCtx, view: &ChallengeView) -> String {
    let heading = ctx.t("申请揭榜", "Apply");
    if view.standing == Standing::Anonymous {
        let body = format!(
            r#"<p><a class="button" href="{}">{}</a></p>"#,
            esc(&ctx.login_href()),
            ctx.t("登录后申请揭榜", "Log in to apply")
        );
        return panel("apply", heading, "", &body, None);
    }
    if !view.allowed_actions.contains(&"apply") {
        let why = match view.standing {
            Standing::Organiser => {
                ctx.t("发榜方不能揭本机构的榜。", "The organiser cannot apply to its own challenge.")
            }
            Standing::TeamLead => ctx.t("贵机构已提交申请。", "Your organisation has applied."),
            _ => ctx.t("当前不接受申请。", "Applications are not accepted now."),
        };
        return panel("apply", heading, "", &format!(r#"<p class="hint">{why}</p>"#), None);
    }
    let org = ctx.caller.principal().and_then(|p| p.org.clone()).unwrap_or_default();
    let mut rows = String::new();
    for index in 0..MEMBER_ROWS {
        let (name_required, org_value, role) = if index == 0 {
            (" required", esc(&org), MemberRole::Lead)
        } else {
            ("", String::new(), MemberRole::Member)
        };
        let role_select = format!(
            r#"<select name="member_role_{index}"><option value="lead"{lead}>{l_lead}</option><option value="member"{member}>{l_member}</option></select>"#,
            lead = if role == MemberRole::Lead { " selected" } else { "" },
            member = if role == MemberRole::Member { " selected" } else { "" },
            l_lead = ctx.t("牵头", "lead"),
            l_member = ctx.t("成员", "member"),
        );
        let _ = write!(
            rows,
            r#"<tr><td><input name="member_name_{index}" maxlength="200"{name_required} aria-label="{l_name}"></td><td><input name="member_org_{index}" maxlength="200" value="{org_value}" aria-label="{l_org}"></td><td><input name="member_region_{index}" maxlength="12" pattern="[0-9]{{6}}" placeholder="110108" aria-label="{l_region}"></td><td>{role_select}</td></tr>"#,
            l_name = ctx.t("姓名", "Name"),
            l_org = ctx.t("机构", "Organisation"),
            l_region = ctx.t("地区代码", "Region code"),
        );
    }
    let table = data_table(
        &[
            ctx.t("姓名", "Name"),
            ctx.t("所在机构", "Organisation"),
            ctx.t("地区代码（GB/T 2260）", "Region (GB/T 2260)"),
            ctx.t("角色", "Role"),
        ],
        &rows,
    );
    let body = format!(
        r#"<form method="post" action="/challenges/{id}/apply" id="apply-form" class="stacked-form">{csrf}
<label>{l_team} <input name="team_name" required maxlength="200"></label>
<p class="hint">{members_hint}</p>{table}
<label>{l_proposal} <textarea name="proposal" required maxlength="10000" rows="6"></textarea></label>
<button type="submit" id="apply-submit">{submit}</button></form>"#,
        id = view.challenge_id,
        csrf = ctx.csrf_input(),
        l_team = ctx.t("团队名称", "Team name"),
        members_hint = ctx.t(
            "贵机构牵头（第一行）；团队可跨机构、跨地区（如北京 110108、天津 120116、河北 130100）。空行将被忽略。",
            "Your organisation leads (first row); teams may span organisations and regions (e.g. 110108 Beijing, 120116 Tianjin, 130100 Hebei). Empty rows are ignored."
        ),
        l_proposal = ctx.t("技术方案", "Proposal"),
        submit = ctx.t("提交揭榜申请", "Submit the application"),
    );
    panel("apply", heading, "", "", Some(body))
}

fn review_section(ctx: &PageCtx, view: &ChallengeView) -> String {
    let reviews = ctx.caller.principal().is_some_and(|p| view.reviewers.iter().any(|r| r.user_id == p.user_id));
    if !reviews {
        return String::new();
    }
    let heading = ctx.t("评审打分", "Scoring");
    let mut html = format!(
        r#"<p class="hint">{}</p>"#,
        ctx.t(
            "每项指标 0–100 分，提交后不可修改；与您所在机构有关的团队将回避。",
            "Score each criterion 0–100; scores are fixed once submitted. Teams of your organisation are excluded."
        )
    );
    for application in &view.applications {
        let team = &application.application;
        let _ = write!(
            html,
            r#"<article class="score-card" data-application="{id}"><h3>{name} <span class="hint">{lead}</span></h3><p>{proposal}</p>"#,
            id = team.id,
            name = esc(&team.team_name),
            lead = esc(&team.lead_org),
            proposal = esc(&team.proposal),
        );
        let mine = ctx.caller.principal().and_then(|p| application.scores.iter().find(|s| s.reviewer_id == p.user_id));
        if application.standing == Standing::ConflictedReviewer {
            let _ = write!(
                html,
                r#"<p class="notice info conflict" id="conflict-{}">{}</p>"#,
                team.id,
                ctx.t(
                    "利益冲突：您所在机构参与了该团队，您须回避，不为其打分。",
                    "Conflict of interest: your organisation is in this team, so you do not score it."
                )
            );
        } else if let Some(sheet) = mine {
            let given: Vec<String> = sheet.scores.iter().map(|(k, v)| format!("{} {}", esc(k), fmt_num(*v))).collect();
            let _ = write!(html, r#"<p class="hint">{} {}</p>"#, ctx.t("已提交：", "Submitted:"), given.join("，"));
        } else if application.allowed_actions.contains(&"score") {
            let inputs: String = view
                .criteria
                .iter()
                .map(|c| {
                    format!(
                        r#"<label>{name}（{weight}%） <input type="number" name="score:{name}" min="0" max="100" step="0.1" required></label>"#,
                        name = esc(&c.name),
                        weight = fmt_num(c.weight)
                    )
                })
                .collect();
            let _ = write!(
                html,
                r#"<form method="post" action="/applications/{id}/act" class="score-form">{csrf}<input type="hidden" name="action" value="score">{inputs}<button type="submit">{submit}</button></form>"#,
                id = team.id,
                csrf = ctx.csrf_input(),
                submit = ctx.t("提交评分", "Submit scores"),
            );
        }
        html.push_str("</article>");
    }
    panel("scoring", heading, "", "", Some(html))
}

/// The caller's own team(s): state, reports per milestone, the report form while racing.
fn own_applications(ctx: &PageCtx, view: &ChallengeView) -> String {
    let teams: Vec<&ApplicationView> =
        view.applications.iter().filter(|a| matches!(a.standing, Standing::TeamLead | Standing::TeamMember)).collect();
    if teams.is_empty() {
        return String::new();
    }
    let mut html = String::new();
    for application in teams {
        let team = &application.application;
        let _ = write!(
            html,
            r#"<article class="team-card" data-application="{id}" data-state="{state}"><h3>{name} <span class="badge">{label}</span></h3>"#,
            id = team.id,
            state = team.state.as_str(),
            name = esc(&team.team_name),
            label = state_label(team.state, ctx.lang),
        );
        if !application.scores.is_empty() {
            let given: Vec<String> = application
                .scores
                .iter()
                .map(|s| {
                    s.scores.iter().map(|(k, v)| format!("{} {}", esc(k), fmt_num(*v))).collect::<Vec<_>>().join("，")
                })
                .collect();
            let _ = write!(html, r#"<p class="hint">{} {}</p>"#, ctx.t("评审打分：", "Scores:"), given.join(" / "));
        }
        for milestone in &view.milestones {
            let report = application.reports.iter().find(|r| r.milestone_id == milestone.id);
            let outcome = match report.and_then(|r| r.decision.as_ref()) {
                Some(d) if d.passed => ctx.t("通过", "passed").to_string(),
                Some(d) => format!("{}（{}）", ctx.t("未通过", "failed"), esc(&d.note)),
                None if report.is_some() => ctx.t("待考核", "awaiting the decision").to_string(),
                None => ctx.t("未提交", "not reported").to_string(),
            };
            let _ = write!(
                html,
                r#"<p data-milestone="{mid}">{title}（{due}）：{outcome}</p>"#,
                mid = milestone.id,
                title = esc(&milestone.title),
                due = milestone.due_on,
            );
            if report.is_none() && application.allowed_actions.contains(&"file_report") {
                let _ = write!(
                    html,
                    r#"<form method="post" action="/applications/{id}/act" class="report-form">{csrf}<input type="hidden" name="action" value="report"><input type="hidden" name="milestone_id" value="{mid}"><label>{l_text} <textarea name="text" required maxlength="10000" rows="3"></textarea></label><label>{l_link} <input name="attachment" type="url" maxlength="200" placeholder="https://"></label><button type="submit">{submit}</button></form>"#,
                    id = team.id,
                    csrf = ctx.csrf_input(),
                    mid = milestone.id,
                    l_text = ctx.t("节点报告", "Report"),
                    l_link = ctx.t("附件链接（可选）", "Attachment link (optional)"),
                    submit = ctx.t("提交报告", "File the report"),
                );
            }
        }
        if application.allowed_actions.contains(&"withdraw") {
            let _ = write!(
                html,
                r#"<form method="post" action="/applications/{id}/act" class="inline-form">{csrf}<input type="hidden" name="action" value="withdraw"><button type="submit" class="button secondary" id="withdraw-{id}">{label}</button></form>"#,
                id = team.id,
                csrf = ctx.csrf_input(),
                label = ctx.t("撤回申请", "Withdraw"),
            );
        }
        html.push_str("</article>");
    }
    panel("my-team", ctx.t("我的团队", "My team"), "", "", Some(html))
}

/// The race board and results.
fn board_section(ctx: &PageCtx, view: &ChallengeView, board: &Board) -> String {
    let lang = ctx.lang;
    let heading = match board.phase {
        Phase::Awarded => ctx.t("揭榜结果", "Results"),
        Phase::Racing => ctx.t("赛马看板", "Race board"),
        _ => ctx.t("揭榜团队", "Teams"),
    };
    let empty = format!(
        r#"<p class="hint" id="board-empty">{}</p>"#,
        match board.phase {
            Phase::Open | Phase::Reviewing => ctx.t(
                "评审结束并开始赛马后公布入围团队；授榜后公示全部得分。",
                "The racing teams are shown once the race starts; all scores once the challenge is awarded."
            ),
            _ => ctx.t("暂无团队。", "No teams."),
        }
    );
    if board.teams.is_empty() {
        return panel("board", heading, "", &empty, None);
    }
    let mut head: Vec<String> = vec![
        ctx.t("排名", "Rank").to_string(),
        ctx.t("团队", "Team").to_string(),
        ctx.t("地区", "Regions").to_string(),
        ctx.t("状态", "State").to_string(),
    ];
    if board.scores_visible {
        head.extend(view.criteria.iter().map(|c| esc(&c.name)));
        head.push(ctx.t("总分", "Total").to_string());
    }
    head.extend(board.milestones.iter().map(|m| esc(&m.title)));
    let mut rows = String::new();
    for team in &board.teams {
        let regions: Vec<String> = team.regions.iter().map(|code| labels::region_short(code, lang)).collect();
        let winner = board.winners.contains(&team.application_id);
        let _ = write!(
            rows,
            r#"<tr data-application="{id}" data-state="{state}"{class}><td>{rank}</td><td>{name}{trophy}<br><span class="hint">{orgs}</span></td><td>{regions}</td><td>{label}</td>"#,
            id = team.application_id,
            state = team.state.as_str(),
            class = if winner { r#" class="winner""# } else { "" },
            rank = team.rank.map(|r| r.to_string()).unwrap_or_else(|| "—".into()),
            name = esc(&team.team_name),
            trophy = if winner { format!(" 🏆 {}", ctx.t("揭榜", "winner")) } else { String::new() },
            orgs = esc(&team.organisations.join("、")),
            regions = esc(&regions.join("、")),
            label = state_label(team.state, lang),
        );
        if board.scores_visible {
            for criterion in &view.criteria {
                let value =
                    team.criterion_scores.get(&criterion.name).map(|v| fmt_num(*v)).unwrap_or_else(|| "—".into());
                let _ = write!(rows, "<td>{value}</td>");
            }
            let total = team.total.map(fmt_num).unwrap_or_else(|| "—".into());
            let _ = write!(rows, r#"<td class="total" data-total="{total}">{total}</td>"#);
        }
        for milestone in &board.milestones {
            let outcome = team.milestones.iter().find(|m| m.milestone_id == milestone.id);
            let cell = match outcome.map(|o| (o.reported, o.passed)) {
                Some((_, Some(true))) => ctx.t("✓ 通过", "✓ passed"),
                Some((_, Some(false))) => ctx.t("✗ 未通过", "✗ failed"),
                Some((true, None)) => ctx.t("待考核", "pending"),
                Some((false, None)) => ctx.t("未提交", "not reported"),
                None => "—",
            };
            let _ = write!(rows, "<td>{cell}</td>");
        }
        rows.push_str("</tr>");
    }
    let headings: Vec<&str> = head.iter().map(String::as_str).collect();
    let hint = if board.scores_visible {
        format!(
            r#"<p class="hint">{}</p>"#,
            ctx.t(
                "总分 = 各指标得分按权重加权，再对无利益冲突的评审专家取平均；同分按提交先后排序。",
                "Total = the criteria scores weighted, averaged over the reviewers without a conflict of interest; ties go to the earlier submission."
            )
        )
    } else {
        String::new()
    };
    panel("board", heading, &hint, &empty, Some(data_table(&headings, &rows)))
}

/// The organiser's control panel: the moves of the current phase as forms.
fn control_panel(ctx: &PageCtx, view: &ChallengeView, board: &Board, suggestions: &[Suggestion]) -> String {
    let lang = ctx.lang;
    let allowed = |action: &str| view.allowed_actions.contains(&action);
    let form = |action: &str, fields: &str, submit: &str, class: &str| {
        format!(
            r#"<form method="post" action="/challenges/{id}/manage" class="manage-form {class}" data-action="{action}">{csrf}<input type="hidden" name="action" value="{action}">{fields}<button type="submit">{submit}</button></form>"#,
            id = view.challenge_id,
            csrf = ctx.csrf_input(),
        )
    };
    let mut html = String::new();
    // Applications with their states, conflicts and totals.
    if !view.applications.is_empty() {
        let mut rows = String::new();
        for application in &view.applications {
            let team = &application.application;
            let members: Vec<String> = team
                .members
                .iter()
                .map(|m: &TeamMember| {
                    format!(
                        "{}（{}，{}）",
                        esc(&m.name),
                        esc(&m.organisation),
                        esc(&labels::region_short(&m.region_code, lang))
                    )
                })
                .collect();
            let total = board.teams.iter().find(|t| t.application_id == team.id).and_then(|t| t.total);
            let _ = write!(
                rows,
                r#"<tr data-application="{id}"><td>{name}<br><span class="hint">{members}</span></td><td>{state}</td><td>{sheets}</td><td>{conflicts}</td><td>{total}</td></tr>"#,
                id = team.id,
                name = esc(&team.team_name),
                members = members.join("、"),
                state = state_label(team.state, lang),
                sheets = application.scores.len(),
                conflicts = if application.conflicted_reviewers.is_empty() {
                    "—".to_string()
                } else {
                    format!("{} {}", ctx.t("回避：", "excluded:"), esc(&application.conflicted_reviewers.join("、")))
                },
                total = total.map(fmt_num).unwrap_or_else(|| "—".into()),
            );
        }
        html.push_str(&data_table(
            &[
                ctx.t("团队与成员", "Team and members"),
                ctx.t("状态", "State"),
                ctx.t("评分份数", "Score sheets"),
                ctx.t("利益冲突", "Conflicts of interest"),
                ctx.t("总分", "Total"),
            ],
            &rows,
        ));
    }
    if allowed("appoint_reviewer") {
        let names: Vec<String> = view.reviewers.iter().map(|r| esc(&r.username)).collect();
        let _ = write!(
            html,
            r#"<p class="hint" id="reviewers">{} {}</p>"#,
            ctx.t("评审专家：", "Reviewers:"),
            if names.is_empty() { "—".to_string() } else { names.join("、") }
        );
        html.push_str(&form(
            "appoint_reviewer",
            &format!(
                r#"<label>{} <input name="username" required maxlength="64"></label>"#,
                ctx.t("专家用户名", "Reviewer's username")
            ),
            ctx.t("聘请评审专家", "Appoint a reviewer"),
            "",
        ));
    }
    if allowed("close_applications") {
        html.push_str(&form("close_applications", "", ctx.t("提前截止报名，进入评审", "Close applications now"), ""));
    }
    if allowed("race") {
        let boxes: String = view
            .applications
            .iter()
            .filter(|a| a.application.state == ApplicationState::Submitted)
            .map(|a| {
                format!(
                    r#"<label class="check"><input type="checkbox" name="application_id" value="{id}"> {name}</label>"#,
                    id = a.application.id,
                    name = esc(&a.application.team_name)
                )
            })
            .collect();
        let limit = view.max_teams.map(|n| format!("（{} {n}）", ctx.t("至多", "at most"))).unwrap_or_default();
        html.push_str(&form(
            "race",
            &format!(
                "<fieldset><legend>{}{limit}</legend>{boxes}</fieldset>",
                ctx.t("选择入围赛马的团队", "Choose the racing teams")
            ),
            ctx.t("开始赛马", "Start the race"),
            "",
        ));
    }
    if allowed("add_milestone") {
        html.push_str(&form(
            "add_milestone",
            &format!(
                r#"<label>{} <input name="title" required maxlength="200"></label><label>{} <input type="date" name="due_on" required></label>"#,
                ctx.t("里程碑", "Milestone"),
                ctx.t("截止日期", "Due on")
            ),
            ctx.t("设置里程碑", "Add the milestone"),
            "",
        ));
    }
    // Reports awaiting a gate decision.
    for application in view.applications.iter().filter(|a| a.application.state == ApplicationState::Racing) {
        for report in application.reports.iter().filter(|r| r.decision.is_none()) {
            let milestone = view.milestones.iter().find(|m| m.id == report.milestone_id).map(|m| m.title.as_str());
            let link = report
                .attachment
                .as_deref()
                .map(|a| {
                    format!(r#" <a href="{a}" rel="noopener nofollow">{}</a>"#, ctx.t("附件", "attachment"), a = esc(a))
                })
                .unwrap_or_default();
            let _ = write!(
                html,
                r#"<article class="gate" data-report="{id}"><h3>{team} · {milestone}</h3><p>{text}{link}</p><form method="post" action="/reports/{id}/decision" class="inline-form">{csrf}<input type="hidden" name="passed" value="true"><input name="note" maxlength="500" placeholder="{l_note}"><button type="submit">{pass}</button></form> <form method="post" action="/reports/{id}/decision" class="inline-form">{csrf}<input type="hidden" name="passed" value="false"><input name="note" required maxlength="500" placeholder="{l_reason}"><button type="submit" class="button secondary">{fail}</button></form></article>"#,
                id = report.id,
                team = esc(&application.application.team_name),
                milestone = esc(milestone.unwrap_or("—")),
                text = esc(&report.text),
                csrf = ctx.csrf_input(),
                l_note = ctx.t("意见（可选）", "Note (optional)"),
                l_reason = ctx.t("未通过原因", "Why it failed"),
                pass = ctx.t("考核通过", "Pass the gate"),
                fail = ctx.t("不通过（淘汰）", "Fail (eliminate)"),
            );
        }
    }
    if allowed("award") {
        let boxes: String = view
            .applications
            .iter()
            .filter(|a| a.application.state == ApplicationState::Racing)
            .map(|a| {
                format!(
                    r#"<label class="check"><input type="checkbox" name="application_id" value="{id}"> {name}</label>"#,
                    id = a.application.id,
                    name = esc(&a.application.team_name)
                )
            })
            .collect();
        html.push_str(&form(
            "award",
            &format!("<fieldset><legend>{}</legend>{boxes}</fieldset>", ctx.t("选择揭榜团队", "Choose the winners")),
            ctx.t("授榜并公示结果", "Award and publish the results"),
            "",
        ));
    }
    if allowed("close") {
        html.push_str(&form(
            "close",
            &format!(
                r#"<label>{} <input name="reason" required maxlength="500"></label>"#,
                ctx.t("关闭原因", "Reason")
            ),
            ctx.t("关闭榜单（不授榜）", "Close without award"),
            "danger",
        ));
    }
    if view.phase == Phase::Open {
        html.push_str(&suggestions_block(ctx, view, suggestions));
    }
    panel("control-panel", ctx.t("发榜方控制台", "Organiser's control panel"), "", "", Some(html))
}

/// Talents, enterprises and achievements that could take the challenge on, with reasons and an
/// invitation button.
fn suggestions_block(ctx: &PageCtx, view: &ChallengeView, suggestions: &[Suggestion]) -> String {
    let mut html = format!(r#"<h3 id="suggestions-h">{}</h3>"#, ctx.t("推荐揭榜方", "Suggested solvers"));
    if suggestions.is_empty() {
        let _ = write!(html, r#"<p class="hint">{}</p>"#, ctx.t("暂无推荐。", "No suggestions yet."));
        return html;
    }
    html.push_str(r#"<ul class="suggestions" id="suggestions">"#);
    for suggestion in suggestions {
        let hit = &suggestion.hit;
        let reasons: Vec<String> = hit.reasons.iter().map(|r| esc(ctx.t(&r.zh, &r.en))).collect();
        let invite = if suggestion.invitable {
            format!(
                r#"<form method="post" action="/challenges/{id}/manage" class="inline-form">{csrf}<input type="hidden" name="action" value="invite"><input type="hidden" name="listing_id" value="{listing}"><button type="submit" class="button secondary">{label}</button></form>"#,
                id = view.challenge_id,
                csrf = ctx.csrf_input(),
                listing = hit.id,
                label = ctx.t("邀请揭榜", "Invite"),
            )
        } else {
            String::new()
        };
        let _ = write!(
            html,
            r#"<li data-listing="{id}"><a href="/listings/{id}">{title}</a> <span class="badge kind-{kind}">{kind_label}</span> {invite}<br><span class="hint">{reasons}</span></li>"#,
            id = hit.id,
            title = esc(&hit.title),
            kind = hit.kind.as_str(),
            kind_label = labels::kind_label(hit.kind, ctx.lang),
            reasons = reasons.join("；"),
        );
    }
    html.push_str("</ul>");
    html
}

/// Pairs of a posted form (repeated keys kept).
type Pairs = Vec<(String, String)>;

fn field<'a>(pairs: &'a Pairs, name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

fn ids(pairs: &Pairs, name: &str) -> Result<Vec<i64>, String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.trim().parse::<i64>().map_err(|_| format!("{name}: {v:?} is not an id")))
        .collect()
}

fn outcome<T>(ctx: &PageCtx, result: Result<T, ApiError>, back: &str, done: &str) -> Response {
    match result {
        Ok(_) => see_other(&format!("{back}?done={done}")),
        Err(ApiError::Conflict(detail)) => ctx.refused(StatusCode::CONFLICT, &detail, back),
        Err(ApiError::BadRequest { detail, .. }) => ctx.refused(StatusCode::BAD_REQUEST, &detail, back),
        Err(err) => ctx.error_page(err),
    }
}

fn no_challenge(ctx: &PageCtx, raw: &str) -> Response {
    ctx.not_found(&format!("{}{raw}", ctx.t("没有这个榜单：", "No such challenge: ")))
}

/// `POST /challenges/{id}/apply`
pub async fn apply(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(pairs): Form<Pairs>,
) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else { return no_challenge(&ctx, &raw_id) };
    let back = format!("/challenges/{id}");
    let mut members = Vec::new();
    for index in 0..MEMBER_ROWS {
        let name = field(&pairs, &format!("member_name_{index}")).trim().to_string();
        if name.is_empty() {
            continue;
        }
        let role = match field(&pairs, &format!("member_role_{index}")) {
            "lead" => MemberRole::Lead,
            _ => MemberRole::Member,
        };
        members.push(TeamMember {
            name,
            organisation: field(&pairs, &format!("member_org_{index}")).trim().to_string(),
            region_code: field(&pairs, &format!("member_region_{index}")).trim().to_string(),
            role,
        });
    }
    let input = ApplicationInput {
        team_name: field(&pairs, "team_name").to_string(),
        members,
        proposal: field(&pairs, "proposal").to_string(),
    };
    let actor = ctx.caller.actor();
    let result = state.blocking(move |app| Ok(app.apply_to_challenge(&actor, id, input)?)).await;
    outcome(&ctx, result, &back, "apply")
}

/// `POST /challenges/{id}/manage`: one organiser move named by `action`.
pub async fn manage(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Form(pairs): Form<Pairs>,
) -> Response {
    let Ok(id) = raw_id.parse::<ListingId>() else { return no_challenge(&ctx, &raw_id) };
    let back = format!("/challenges/{id}");
    let action = field(&pairs, "action").to_string();
    let chosen = match ids(&pairs, "application_id") {
        Ok(chosen) => chosen,
        Err(detail) => return ctx.refused(StatusCode::BAD_REQUEST, &detail, &back),
    };
    let actor = ctx.caller.actor();
    let text = |name: &str| field(&pairs, name).to_string();
    let (username, title, due_on, reason, listing) =
        (text("username"), text("title"), text("due_on"), text("reason"), text("listing_id"));
    let result: Result<(), ApiError> = state
        .blocking(move |app| {
            match action.as_str() {
                "close_applications" => drop(app.close_applications(&actor, id)?),
                "appoint_reviewer" => drop(app.appoint_reviewer(&actor, id, &username)?),
                "race" => drop(app.race(&actor, id, &chosen)?),
                "add_milestone" => {
                    let due_on = Day::parse(&due_on).map_err(|detail| ApiError::bad_param("due_on", detail))?;
                    drop(app.add_milestone(&actor, id, &title, due_on)?)
                }
                "award" => drop(app.award(&actor, id, &chosen)?),
                "close" => drop(app.close_challenge(&actor, id, &reason)?),
                "invite" => {
                    let listing: ListingId =
                        listing.parse().map_err(|_| ApiError::bad_param("listing_id", "not a listing id"))?;
                    drop(app.invite_to_challenge(&actor, id, listing)?)
                }
                other => return Err(ApiError::bad_param("action", format!("unknown action {other:?}"))),
            }
            Ok(())
        })
        .await;
    let done = field(&pairs, "action").to_string();
    outcome(&ctx, result, &back, &done)
}

/// `POST /applications/{id}/act`: a team's or a reviewer's move on an application (`action`:
/// `score` with `score:<criterion>` fields, `report` with `milestone_id`, `text`, `attachment`,
/// or `withdraw`).
pub async fn act(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(pairs): Form<Pairs>,
) -> Response {
    let action = field(&pairs, "action").to_string();
    let mut scores = BTreeMap::new();
    for (key, value) in &pairs {
        if let Some(criterion) = key.strip_prefix("score:") {
            match value.trim().parse::<f64>() {
                Ok(score) => {
                    scores.insert(criterion.to_string(), score);
                }
                Err(_) => {
                    let detail = format!("{criterion}: {value:?} is not a number");
                    return ctx.refused(StatusCode::BAD_REQUEST, &detail, "/account");
                }
            }
        }
    }
    let milestone = field(&pairs, "milestone_id").trim().parse::<i64>().ok();
    let text = field(&pairs, "text").to_string();
    let attachment = field(&pairs, "attachment").to_string();
    let actor = ctx.caller.actor();
    // The challenge's page is where the form was and where a refusal leads back to.
    let moved = state
        .blocking(move |app| {
            let challenge = app.application_challenge_id(&actor, id)?;
            let outcome = match action.as_str() {
                "score" => app.score_application(&actor, id, &scores).map(drop),
                "report" => match milestone {
                    Some(milestone) => {
                        app.file_report(&actor, id, milestone, &text, Some(attachment.as_str())).map(drop)
                    }
                    None => Err(AppError::bad_input("milestone_id", "choose a milestone")),
                },
                "withdraw" => app.withdraw_application(&actor, id).map(drop),
                other => Err(AppError::bad_input("action", format!("unknown action {other:?}"))),
            };
            Ok((challenge, outcome.map_err(ApiError::from)))
        })
        .await;
    match moved {
        Ok((challenge, result)) => {
            let back = format!("/challenges/{challenge}");
            outcome(&ctx, result, &back, field(&pairs, "action"))
        }
        Err(err) => ctx.error_page(err),
    }
}

/// Form of `POST /reports/{id}/decision`.
#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    pub passed: String,
    #[serde(default)]
    pub note: String,
}

/// `POST /reports/{id}/decision`
pub async fn decide(
    ctx: PageCtx,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let passed = form.passed == "true";
    let actor = ctx.caller.actor();
    let decided = state
        .blocking(move |app| {
            let report = app.decide_gate(&actor, id, passed, &form.note)?;
            Ok(app.application_challenge_id(&actor, report.application_id)?)
        })
        .await;
    match decided {
        Ok(challenge) => see_other(&format!("/challenges/{challenge}?done=decide_gate")),
        Err(ApiError::Conflict(detail)) => ctx.refused(StatusCode::CONFLICT, &detail, "/account"),
        Err(ApiError::BadRequest { detail, .. }) => ctx.refused(StatusCode::BAD_REQUEST, &detail, "/account"),
        Err(err) => ctx.error_page(err),
    }
}

/// The account page's panel: the applications of the user's organisations and the challenges
/// they review.
pub fn account_panel(
    ctx: &PageCtx,
    applications: &[xietong_app::types::MyApplication],
    reviews: &[(ListingId, String, Phase)],
) -> String {
    let lang = ctx.lang;
    let heading = ctx.t("揭榜挂帅", "Challenges");
    let empty = format!(
        r#"<p class="hint">{}</p>"#,
        ctx.t(
            "暂无揭榜申请或评审任务。在榜单页面申请揭榜。",
            "No applications or reviews yet. Apply on a challenge's page."
        )
    );
    if applications.is_empty() && reviews.is_empty() {
        return panel("challenges", heading, "", &empty, None);
    }
    let mut html = String::new();
    if !applications.is_empty() {
        let rows: String = applications
            .iter()
            .map(|a| {
                format!(
                    r#"<tr data-application="{id}" data-state="{state}"><td><a href="/challenges/{challenge}">{title}</a></td><td>{team}</td><td>{phase}</td><td>{label}</td></tr>"#,
                    id = a.application.id,
                    state = a.application.state.as_str(),
                    challenge = a.application.challenge_id,
                    title = esc(&a.challenge_title),
                    team = esc(&a.application.team_name),
                    phase = phase_label(a.phase, lang),
                    label = state_label(a.application.state, lang),
                )
            })
            .collect();
        let _ = write!(html, "<h3>{}</h3>", ctx.t("我的揭榜申请", "My applications"));
        html.push_str(&data_table(
            &[
                ctx.t("榜单", "Challenge"),
                ctx.t("团队", "Team"),
                ctx.t("榜单阶段", "Phase"),
                ctx.t("申请状态", "State"),
            ],
            &rows,
        ));
    }
    if !reviews.is_empty() {
        let _ = write!(html, r#"<h3>{}</h3><ul id="my-reviews">"#, ctx.t("评审任务", "Reviewing"));
        for (id, title, phase) in reviews {
            let _ = write!(
                html,
                r#"<li><a href="/challenges/{id}">{}</a> <span class="badge">{}</span></li>"#,
                esc(title),
                phase_label(*phase, lang)
            );
        }
        html.push_str("</ul>");
    }
    panel("challenges", heading, "", &empty, Some(html))
}
