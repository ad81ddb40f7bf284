//! Challenges that run (揭榜挂帅, 赛马制): applications, review with conflicts of interest,
//! the race through milestone gates, the award, the board, and the suggestions and invitations
//! of solvers. Who may do what is `xietong_domain::challenge::transition`'s; this module finds
//! the actor's standing, reads the phase (a passed deadline reads `reviewing`), and stores each
//! move with its audit entry and notices in one transaction (`Challenges::apply_challenge_change`).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use time::OffsetDateTime;
use xietong_domain::challenge::{
    Action, ApplicationState, MemberRole, Phase, Refusal, Standing, TeamMember, allowed_actions, applications_close_at,
    check_scores, effective_phase, transition, weighted_mean,
};
use xietong_domain::{
    ChallengeDetails, Criterion, Day, Details, Kind, Listing, ListingId, Principal, Reference, Status,
};
use xietong_search::MatchHit;
use xietong_store::{
    Application, ApplicationEntry, ApplicationId, ChallengeChange, ChallengeRun, ChallengeWrite, ChallengeWritten,
    Milestone, MilestoneId, NewApplication, NewAudit, Notice, Report, ReportId, Reviewer, ScoreSheet, StoreError,
};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::listing::{Actor, load};

/// Most members a team may name.
pub const MAX_MEMBERS: usize = 50;
/// Longest proposal, report or note, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest team name, milestone title or attachment link, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most applications listed on the account page.
const APPLICATIONS_LISTED: u32 = 200;

/// A team's application as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationInput {
    pub team_name: String,
    pub members: Vec<TeamMember>,
    pub proposal: String,
}

/// A challenge and its run as the actor may see them.
#[derive(Debug, Clone, Serialize)]
pub struct ChallengeView {
    pub challenge_id: ListingId,
    pub title: String,
    pub owner_org: Option<String>,
    /// The phase as read now (`open` after the deadline reads `reviewing`).
    pub phase: Phase,
    pub deadline: Option<Day>,
    /// When applications stop: the end of the deadline's day, Beijing time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub applications_close_at: Option<OffsetDateTime>,
    pub max_teams: Option<u32>,
    pub criteria: Vec<Criterion>,
    /// Why the challenge was closed without award.
    pub note: Option<String>,
    /// How the caller stands towards the challenge.
    pub standing: Standing,
    /// The challenge-level actions the caller may take now.
    pub allowed_actions: Vec<&'static str>,
    /// Applications the caller may see (all for the organiser and reviewers; a team its own).
    pub applications: Vec<ApplicationView>,
    /// Applications in all (what everyone may know).
    pub applications_count: usize,
    /// Reviewers (for the organiser; a reviewer sees themselves).
    pub reviewers: Vec<Reviewer>,
    pub milestones: Vec<Milestone>,
    pub version: i64,
}

/// An application as the caller may see it.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationView {
    #[serde(flatten)]
    pub application: Application,
    /// How the caller stands towards this application.
    pub standing: Standing,
    /// The application-level actions the caller may take now (withdraw, score, file_report…).
    pub allowed_actions: Vec<&'static str>,
    /// Reviewers excluded from scoring it (their organisation is in the team): shown to the
    /// organiser and to reviewers.
    pub conflicted_reviewers: Vec<String>,
    /// Score sheets the caller may see: the organiser all, a reviewer their own, the team its
    /// own after the award.
    pub scores: Vec<ScoreSheet>,
    /// The team's reports (organiser and team).
    pub reports: Vec<Report>,
}

/// The board of a challenge (`GET /api/v1/challenges/{id}/board`): public after the award;
/// before it, only what the caller may see.
#[derive(Debug, Clone, Serialize)]
pub struct Board {
    pub challenge_id: ListingId,
    pub title: String,
    pub phase: Phase,
    pub criteria: Vec<Criterion>,
    pub milestones: Vec<Milestone>,
    /// Whether scores and totals are shown (after the award, or to the organiser).
    pub scores_visible: bool,
    /// Teams, ranked by total when scores are visible (ties: earlier submission first).
    pub teams: Vec<BoardTeam>,
    /// Applications of the awarded teams.
    pub winners: Vec<ApplicationId>,
    pub applications_count: usize,
}

/// One team on the board.
#[derive(Debug, Clone, Serialize)]
pub struct BoardTeam {
    pub application_id: ApplicationId,
    pub team_name: String,
    pub lead_org: String,
    /// The team's organisations, lead first.
    pub organisations: Vec<String>,
    /// The team's regions (GB/T 2260 codes), in the members' order.
    pub regions: Vec<String>,
    pub state: ApplicationState,
    /// 1 for the best total (when scores are visible).
    pub rank: Option<usize>,
    /// The weighted mean over criteria averaged over the non-conflicted reviewers.
    pub total: Option<f64>,
    /// Per criterion: the mean over the non-conflicted reviewers.
    pub criterion_scores: BTreeMap<String, f64>,
    /// Reviewers whose scores count.
    pub reviewers_counted: usize,
    /// Per milestone: whether the team reported and the gate's outcome.
    pub milestones: Vec<MilestoneOutcome>,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
}

/// A team's outcome at one milestone gate.
#[derive(Debug, Clone, Serialize)]
pub struct MilestoneOutcome {
    pub milestone_id: MilestoneId,
    pub title: String,
    pub reported: bool,
    /// `None` until decided.
    pub passed: Option<bool>,
}

/// An application of the actor's organisation, with its challenge's title and phase.
#[derive(Debug, Clone, Serialize)]
pub struct MyApplication {
    #[serde(flatten)]
    pub application: Application,
    pub challenge_title: String,
    pub phase: Phase,
}

/// A listing that could take a challenge on, with why.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    #[serde(flatten)]
    pub hit: MatchHit,
    /// Whether the listing names an organisation to invite.
    pub invitable: bool,
}

/// A move the domain allowed, to store: the phase after it, what it writes, its audit action
/// (`challenge.<action>`) and the entry's detail.
struct Planned<'a> {
    phase: Phase,
    write: ChallengeWrite,
    action: &'a str,
    detail: serde_json::Value,
}

/// A challenge listing with its details, as the rules need it.
struct Loaded {
    listing: Listing,
    details: ChallengeDetails,
    run: ChallengeRun,
    phase: Phase,
}

fn refused(refusal: Refusal) -> AppError {
    match refusal {
        Refusal::LogIn => AppError::Unauthorized(refusal.to_string()),
        Refusal::Conflicted | Refusal::NotPermitted { .. } => AppError::Forbidden(refusal.to_string()),
        Refusal::OwnChallenge | Refusal::AlreadyApplied | Refusal::WrongPhase { .. } | Refusal::WrongState { .. } => {
            AppError::Conflict(refusal.to_string())
        }
    }
}

fn stored(error: StoreError) -> AppError {
    match error {
        StoreError::WrongState(detail) => AppError::Conflict(detail),
        other => other.into(),
    }
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn required(field: &str, text: &str, max: usize) -> AppResult<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(AppError::bad_input(field, "must not be empty"));
    }
    if chars(trimmed) > max {
        return Err(AppError::bad_input(field, format!("at most {max} characters")));
    }
    Ok(trimmed.to_string())
}

/// Whether the principal acts for the challenge's owner organisation.
fn organises(principal: &Principal, listing: &Listing) -> bool {
    listing.body.owner_org.as_ref().is_some_and(|owner| principal.orgs().contains(owner))
}

/// How the principal stands towards the challenge as a whole.
pub fn challenge_standing(principal: Option<&Principal>, listing: &Listing, run: &ChallengeRun) -> Standing {
    let Some(principal) = principal else { return Standing::Anonymous };
    if organises(principal, listing) {
        return Standing::Organiser;
    }
    if let Some(org) = &principal.org
        && run.applications.iter().any(|a| &a.lead_org == org && a.state != ApplicationState::Withdrawn)
    {
        return Standing::TeamLead;
    }
    if run.reviewers.iter().any(|r| r.user_id == principal.user_id) {
        return Standing::Reviewer;
    }
    Standing::Outsider
}

/// Whether a reviewer is excluded from scoring an application: their organisation (when
/// appointed, or now) is in the team.
pub fn conflicted(reviewer: &Reviewer, current_org: Option<&str>, application: &Application) -> bool {
    [reviewer.org.as_deref(), current_org].into_iter().flatten().any(|org| application.involves(org))
}

/// How the principal stands towards one application.
pub fn application_standing(
    principal: Option<&Principal>,
    listing: &Listing,
    run: &ChallengeRun,
    application: &Application,
) -> Standing {
    let Some(principal) = principal else { return Standing::Anonymous };
    if organises(principal, listing) {
        return Standing::Organiser;
    }
    let orgs = principal.orgs();
    if orgs.contains(&application.lead_org) {
        return Standing::TeamLead;
    }
    if application.members.iter().any(|m| orgs.contains(&m.organisation)) {
        return Standing::TeamMember;
    }
    reviewer_standing(principal, run, application).unwrap_or(Standing::Outsider)
}

/// The principal's standing as an appointed reviewer of the challenge (conflicted when their
/// organisation is in the team), or `None` when they are not one.
fn reviewer_standing(principal: &Principal, run: &ChallengeRun, application: &Application) -> Option<Standing> {
    let reviewer = run.reviewers.iter().find(|r| r.user_id == principal.user_id)?;
    Some(if conflicted(reviewer, principal.org.as_deref(), application) {
        Standing::ConflictedReviewer
    } else {
        Standing::Reviewer
    })
}

/// How the principal stands towards an application when scoring it: as an appointed reviewer
/// (conflicted when their organisation is in the team, even when it leads it; an organiser's
/// user the organiser appointed reviews too), else as [`application_standing`] says.
pub fn scoring_standing(
    principal: Option<&Principal>,
    listing: &Listing,
    run: &ChallengeRun,
    application: &Application,
) -> Standing {
    principal
        .and_then(|p| reviewer_standing(p, run, application))
        .unwrap_or_else(|| application_standing(principal, listing, run, application))
}

/// An application's scores as they count: over the reviewers not in conflict with the team.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Per criterion, the mean score.
    pub per_criterion: BTreeMap<String, f64>,
    /// The mean of the reviewers' weighted means.
    pub total: Option<f64>,
    /// Score sheets counted.
    pub counted: usize,
}

/// The [`Totals`] of every application of a run.
pub fn totals(details: &ChallengeDetails, run: &ChallengeRun) -> BTreeMap<ApplicationId, Totals> {
    let mut out = BTreeMap::new();
    for application in &run.applications {
        let counted: Vec<&ScoreSheet> = run
            .scores
            .iter()
            .filter(|sheet| sheet.application_id == application.id)
            .filter(|sheet| {
                run.reviewers
                    .iter()
                    .find(|r| r.user_id == sheet.reviewer_id)
                    .is_some_and(|reviewer| !conflicted(reviewer, None, application))
            })
            .collect();
        let mut per_criterion = BTreeMap::new();
        if !counted.is_empty() {
            for criterion in &details.criteria {
                let values: Vec<f64> = counted.iter().filter_map(|s| s.scores.get(&criterion.name)).copied().collect();
                if !values.is_empty() {
                    per_criterion.insert(criterion.name.clone(), values.iter().sum::<f64>() / values.len() as f64);
                }
            }
        }
        let means: Vec<f64> = counted.iter().filter_map(|s| weighted_mean(details, &s.scores)).collect();
        let total = (!means.is_empty()).then(|| means.iter().sum::<f64>() / means.len() as f64);
        out.insert(application.id, Totals { per_criterion, total, counted: counted.len() });
    }
    out
}

impl App {
    fn load_challenge(&self, actor: &Actor, id: ListingId) -> AppResult<Loaded> {
        let not_found = || AppError::NotFound(format!("challenge {id} does not exist"));
        let listing = match load(self, id) {
            Ok(listing) => listing,
            Err(AppError::NotFound(_)) => return Err(not_found()),
            Err(other) => return Err(other),
        };
        if !actor.viewer.can_read(&listing.body) {
            return Err(not_found());
        }
        let Details::Challenge(details) = listing.body.details.clone() else {
            return Err(AppError::NotFound(format!("listing {id} is not a challenge")));
        };
        let run = self.challenges.challenge_run(id)?;
        let phase = effective_phase(run.phase, details.deadline, OffsetDateTime::now_utc());
        Ok(Loaded { listing, details, run, phase })
    }

    fn challenge_of_application(&self, actor: &Actor, id: ApplicationId) -> AppResult<(Loaded, Application)> {
        let not_found = || AppError::NotFound(format!("application {id} does not exist"));
        let challenge = self.challenges.application_challenge(id)?.ok_or_else(not_found)?;
        let loaded = self.load_challenge(actor, challenge).map_err(|_| not_found())?;
        let application = loaded.run.application(id).cloned().ok_or_else(not_found)?;
        Ok((loaded, application))
    }

    /// Stores one move with its audit entry (`challenge.<action>`) and its notices.
    fn store_move(
        &self,
        actor: &Actor,
        loaded: &Loaded,
        planned: Planned<'_>,
        notices: &dyn Fn(&ChallengeWritten) -> Vec<Notice>,
    ) -> AppResult<ChallengeWritten> {
        let Planned { phase, write, action, detail } = planned;
        let change =
            ChallengeChange { challenge_id: loaded.listing.id, expected_phase: loaded.run.phase, phase, write };
        let region = loaded.listing.body.region_codes.first().cloned();
        let written = self.challenges.apply_challenge_change(change, &|written| {
            let mut entry: NewAudit =
                actor.audit(&format!("challenge.{action}"), loaded.listing.id.to_string(), region.clone());
            entry.detail = detail.clone();
            entry.detail["phase"] = serde_json::json!(written.run.phase.as_str());
            entry.detail["version"] = serde_json::json!(written.run.version);
            if let Some(created) = written.created {
                entry.detail["created"] = serde_json::json!(created);
            }
            entry.notices = notices(written);
            entry
        });
        written.map_err(stored)
    }

    /// A challenge and its run as the actor may see them. `NotFound` for a listing the actor may
    /// not read or that is not a challenge.
    pub fn challenge(&self, actor: &Actor, id: ListingId) -> AppResult<ChallengeView> {
        let loaded = self.load_challenge(actor, id)?;
        Ok(self.view(actor, &loaded))
    }

    fn view(&self, actor: &Actor, loaded: &Loaded) -> ChallengeView {
        let principal = actor.principal();
        let standing = challenge_standing(principal, &loaded.listing, &loaded.run);
        let sees_all = principal.is_some_and(|p| p.is_admin()) || standing == Standing::Organiser;
        let reviews = principal.is_some_and(|p| loaded.run.reviewers.iter().any(|r| r.user_id == p.user_id));
        let awarded = loaded.phase == Phase::Awarded;
        let mut applications = Vec::new();
        for application in &loaded.run.applications {
            let team_standing = application_standing(principal, &loaded.listing, &loaded.run, application);
            let review_standing = scoring_standing(principal, &loaded.listing, &loaded.run, application);
            let in_team = matches!(team_standing, Standing::TeamLead | Standing::TeamMember);
            let app_standing =
                if review_standing == Standing::ConflictedReviewer { review_standing } else { team_standing };
            if !(sees_all || reviews || in_team) {
                continue;
            }
            let scores = loaded
                .run
                .scores
                .iter()
                .filter(|s| s.application_id == application.id)
                .filter(|s| sees_all || (in_team && awarded) || principal.is_some_and(|p| p.user_id == s.reviewer_id))
                .cloned()
                .collect();
            let conflicted_reviewers = if sees_all || reviews {
                loaded
                    .run
                    .reviewers
                    .iter()
                    .filter(|r| conflicted(r, None, application))
                    .map(|r| r.username.clone())
                    .collect()
            } else {
                Vec::new()
            };
            let reports = if sees_all || in_team {
                loaded.run.reports.iter().filter(|r| r.application_id == application.id).cloned().collect()
            } else {
                Vec::new()
            };
            let mut actions = allowed_actions(loaded.phase, Some(application.state), team_standing);
            for action in allowed_actions(loaded.phase, Some(application.state), review_standing) {
                if !actions.contains(&action) {
                    actions.push(action);
                }
            }
            actions.retain(|a| matches!(*a, "withdraw" | "score" | "file_report" | "decide_gate"));
            if actions.contains(&"score")
                && principal.is_some_and(|p| {
                    loaded.run.scores.iter().any(|s| s.application_id == application.id && s.reviewer_id == p.user_id)
                })
            {
                actions.retain(|a| *a != "score");
            }
            applications.push(ApplicationView {
                application: application.clone(),
                standing: app_standing,
                allowed_actions: actions,
                conflicted_reviewers,
                scores,
                reports,
            });
        }
        let mut actions = allowed_actions(loaded.phase, None, standing);
        actions.retain(|a| !matches!(*a, "withdraw" | "score" | "file_report" | "decide_gate"));
        if loaded.listing.body.status != Status::Published {
            actions.retain(|a| *a != "apply");
        }
        let reviewers = if sees_all {
            loaded.run.reviewers.clone()
        } else {
            loaded.run.reviewers.iter().filter(|r| principal.is_some_and(|p| p.user_id == r.user_id)).cloned().collect()
        };
        ChallengeView {
            challenge_id: loaded.listing.id,
            title: loaded.listing.body.title.clone(),
            owner_org: loaded.listing.body.owner_org.clone(),
            phase: loaded.phase,
            deadline: loaded.details.deadline,
            applications_close_at: loaded.details.deadline.map(applications_close_at),
            max_teams: loaded.details.max_teams,
            criteria: loaded.details.criteria.clone(),
            note: loaded.run.note.clone(),
            standing,
            allowed_actions: actions,
            applications,
            applications_count: loaded
                .run
                .applications
                .iter()
                .filter(|a| a.state != ApplicationState::Withdrawn)
                .count(),
            reviewers,
            milestones: loaded.run.milestones.clone(),
            version: loaded.run.version,
        }
    }

    /// Applies to a challenge for the actor's organisation, which leads the team (exactly one
    /// member is `lead`, of that organisation). `Conflict` after the deadline or outside `open`,
    /// for the organiser, and for an organisation that already applied.
    pub fn apply_to_challenge(&self, actor: &Actor, id: ListingId, input: ApplicationInput) -> AppResult<Application> {
        let loaded = self.load_challenge(actor, id)?;
        let standing = challenge_standing(actor.principal(), &loaded.listing, &loaded.run);
        transition(loaded.phase, None, Action::Apply, standing).map_err(refused)?;
        let principal = actor.user()?;
        let lead_org = principal
            .org
            .clone()
            .ok_or_else(|| AppError::Forbidden("your account belongs to no organisation, so it cannot apply".into()))?;
        if loaded.listing.body.status != Status::Published {
            return Err(AppError::Conflict("this challenge is not published".into()));
        }
        let team_name = required("team_name", &input.team_name, MAX_NAME_CHARS)?;
        let proposal = required("proposal", &input.proposal, MAX_TEXT_CHARS)?;
        let members = check_members(&input.members, &lead_org)?;
        let application = NewApplication { team_name, lead_org, lead_user_id: principal.user_id, members, proposal };
        let accept_until = loaded.details.deadline.map(applications_close_at);
        let email = self.email_notices();
        let title = loaded.listing.body.title.clone();
        let owner = loaded.listing.body.owner_org.clone();
        let written = self.store_move(
            actor,
            &loaded,
            Planned {
                phase: Phase::Open,
                write: ChallengeWrite::Apply { application: application.clone(), accept_until },
                action: "apply",
                detail: serde_json::json!({"team_name": application.team_name, "lead_org": application.lead_org}),
            },
            &|written| {
                let Some(owner) = &owner else { return Vec::new() };
                let id = written.created.unwrap_or_default();
                vec![challenge_notice(
                    "challenge.applied",
                    &loaded.listing,
                    (format!("「{title}」收到揭榜申请"), format!("New application to “{title}”")),
                    (
                        format!("{} 以团队「{}」申请揭榜。", application.lead_org, application.team_name),
                        format!("{} applied as team “{}”.", application.lead_org, application.team_name),
                    ),
                    vec![owner.clone()],
                    Vec::new(),
                    principal,
                    serde_json::json!({"application_id": id}),
                    email,
                )]
            },
        )?;
        let created = written.created.ok_or_else(|| AppError::Internal(anyhow::anyhow!("no application id")))?;
        written.run.application(created).cloned().ok_or_else(|| AppError::Internal(anyhow::anyhow!("lost application")))
    }

    /// The team lead withdraws its application.
    pub fn withdraw_application(&self, actor: &Actor, id: ApplicationId) -> AppResult<Application> {
        let (loaded, application) = self.challenge_of_application(actor, id)?;
        let standing = application_standing(actor.principal(), &loaded.listing, &loaded.run, &application);
        let moved = transition(loaded.phase, Some(application.state), Action::Withdraw, standing).map_err(refused)?;
        let written = self.store_move(
            actor,
            &loaded,
            Planned {
                phase: moved.phase,
                write: ChallengeWrite::Withdraw { application_id: id, from: application.state },
                action: "withdraw",
                detail: serde_json::json!({"application_id": id}),
            },
            &|_| Vec::new(),
        )?;
        written
            .run
            .application(id)
            .cloned()
            .ok_or_else(|| AppError::NotFound(format!("application {id} does not exist")))
    }

    /// The challenge an application the actor may see belongs to (`NotFound` otherwise).
    pub fn application_challenge_id(&self, actor: &Actor, id: ApplicationId) -> AppResult<ListingId> {
        Ok(self.challenge_of_application(actor, id)?.0.listing.id)
    }

    /// The organiser ends the open phase before the deadline (`open` → `reviewing`).
    pub fn close_applications(&self, actor: &Actor, id: ListingId) -> AppResult<ChallengeView> {
        let loaded = self.load_challenge(actor, id)?;
        let standing = challenge_standing(actor.principal(), &loaded.listing, &loaded.run);
        let moved = transition(loaded.phase, None, Action::CloseApplications, standing).map_err(refused)?;
        let principal = actor.user()?;
        let email = self.email_notices();
        let teams = team_orgs(&loaded.run, |a| a.state == ApplicationState::Submitted);
        let title = loaded.listing.body.title.clone();
        let written = self.store_move(
            actor,
            &loaded,
            Planned {
                phase: moved.phase,
                write: ChallengeWrite::Phase { note: None },
                action: "close_applications",
                detail: serde_json::json!({}),
            },
            &|_| {
                vec![challenge_notice(
                    "challenge.reviewing",
                    &loaded.listing,
                    (format!("「{title}」报名截止，进入评审"), format!("“{title}” closed its applications")),
                    ("评审专家将按评价指标打分。".into(), "Reviewers now score the applications.".into()),
                    teams.clone(),
                    Vec::new(),
                    principal,
                    serde_json::json!({}),
                    email,
                )]
            },
        )?;
        self.view_after(actor, loaded, written)
    }

    fn view_after(&self, actor: &Actor, loaded: Loaded, written: ChallengeWritten) -> AppResult<ChallengeView> {
        let phase = effective_phase(written.run.phase, loaded.details.deadline, OffsetDateTime::now_utc());
        Ok(self.view(actor, &Loaded { run: written.run, phase, ..loaded }))
    }

    /// The organiser appoints a reviewer by username (while `open` or `reviewing`).
    pub fn appoint_reviewer(&self, actor: &Actor, id: ListingId, username: &str) -> AppResult<Reviewer> {
        let loaded = self.load_challenge(actor, id)?;
        let standing = challenge_standing(actor.principal(), &loaded.listing, &loaded.run);
        let moved = transition(loaded.phase, None, Action::AppointReviewer, standing).map_err(refused)?;
        let principal = actor.user()?;
        let user = self
            .accounts
            .user_by_name(username.trim())?
            .filter(|u| !u.disabled)
            .ok_or_else(|| AppError::bad_input("username", format!("no user {username:?}")))?;
        let org = match user.org_id {
            Some(org) => self.accounts.org(org)?.map(|o| o.name),
            None => None,
        };
        let email = self.email_notices();
        let title = loaded.listing.body.title.clone();
        let written = self.store_move(actor, &loaded, Planned { phase: moved.phase, write: ChallengeWrite::AppointReviewer { user_id: user.id, username: user.username.clone(), org: org.clone() }, action: "appoint_reviewer", detail: serde_json::json!({"reviewer": user.username, "org": org}) }, &|_| {
                vec![challenge_notice(
                    "challenge.reviewer_appointed",
                    &loaded.listing,
                    (format!("您被聘为「{title}」的评审专家"), format!("You review “{title}”")),
                    (
                        "报名截止后请按评价指标为各团队打分；与您所在机构有关的团队将回避。".into(),
                        "Score the teams by the criteria once applications close; teams of your organisation are excluded.".into(),
                    ),
                    Vec::new(),
                    vec![user.id],
                    principal,
                    serde_json::json!({"reviewer": user.username}),
                    email,
                )]
            })?;
        written
            .run
            .reviewers
            .into_iter()
            .find(|r| r.user_id == user.id)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("lost reviewer")))
    }

    /// A reviewer scores an application: one score 0–100 per criterion, fixed once submitted
    /// (a second submission is a `Conflict`). A conflicted reviewer is `Forbidden`.
    pub fn score_application(
        &self,
        actor: &Actor,
        id: ApplicationId,
        scores: &BTreeMap<String, f64>,
    ) -> AppResult<ScoreSheet> {
        let (loaded, application) = self.challenge_of_application(actor, id)?;
        let standing = scoring_standing(actor.principal(), &loaded.listing, &loaded.run, &application);
        let moved = transition(loaded.phase, Some(application.state), Action::Score, standing).map_err(refused)?;
        let principal = actor.user()?;
        let checked =
            check_scores(&loaded.details, scores).map_err(|e| AppError::bad_input("scores", e.to_string()))?;
        let written = self.store_move(
            actor,
            &loaded,
            Planned {
                phase: moved.phase,
                write: ChallengeWrite::Score {
                    application_id: id,
                    reviewer_id: principal.user_id,
                    scores: checked.clone(),
                },
                action: "score",
                detail: serde_json::json!({"application_id": id, "scores": scores}),
            },
            &|_| Vec::new(),
        )?;
        written
            .run
            .scores
            .into_iter()
            .find(|s| s.application_id == id && s.reviewer_id == principal.user_id)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("lost score sheet")))
    }

    /// The organiser chooses the racing teams (at most `max_teams`, each `submitted`): they race,
    /// the others are `not_selected`, the challenge races.
    pub fn race(&self, actor: &Actor, id: ListingId, application_ids: &[ApplicationId]) -> AppResult<ChallengeView> {
        let loaded = self.load_challenge(actor, id)?;
        let standing = challenge_standing(actor.principal(), &loaded.listing, &loaded.run);
        let moved = transition(loaded.phase, None, Action::Race, standing).map_err(refused)?;
        let principal = actor.user()?;
        let chosen = distinct_ids(application_ids)?;
        if let Some(max) = loaded.details.max_teams
            && chosen.len() > max as usize
        {
            return Err(AppError::Conflict(format!(
                "at most {max} teams may race in this challenge; {} were named",
                chosen.len()
            )));
        }
        for id in &chosen {
            let application = loaded.run.application(*id).ok_or_else(|| {
                AppError::bad_input("application_ids", format!("{id} is not an application of this challenge"))
            })?;
            transition(loaded.phase, Some(application.state), Action::Race, standing).map_err(refused)?;
        }
        let email = self.email_notices();
        let title = loaded.listing.body.title.clone();
        let raced = team_orgs(&loaded.run, |a| chosen.contains(&a.id));
        let others = team_orgs(&loaded.run, |a| a.state == ApplicationState::Submitted && !chosen.contains(&a.id));
        let written = self.store_move(
            actor,
            &loaded,
            Planned {
                phase: moved.phase,
                write: ChallengeWrite::Race { application_ids: chosen.clone() },
                action: "race",
                detail: serde_json::json!({"application_ids": chosen}),
            },
            &|_| {
                vec![
                    challenge_notice(
                        "challenge.race_started",
                        &loaded.listing,
                        (format!("入围赛马：「{title}」"), format!("Your team races in “{title}”")),
                        ("请按里程碑节点提交报告。".into(), "File a report at each milestone.".into()),
                        raced.clone(),
                        Vec::new(),
                        principal,
                        serde_json::json!({"racing": chosen}),
                        email,
                    ),
                    challenge_notice(
                        "challenge.race_started",
                        &loaded.listing,
                        (format!("未入围：「{title}」"), format!("Not selected for “{title}”")),
                        (
                            "感谢参与，本次未入围赛马。".into(),
                            "Thank you for applying; your team was not selected.".into(),
                        ),
                        others.clone(),
                        Vec::new(),
                        principal,
                        serde_json::json!({"racing": chosen}),
                        email,
                    ),
                ]
            },
        )?;
        self.view_after(actor, loaded, written)
    }

    /// The organiser sets a milestone (while `reviewing` or `racing`).
    pub fn add_milestone(&self, actor: &Actor, id: ListingId, title: &str, due_on: Day) -> AppResult<Milestone> {
        let loaded = self.load_challenge(actor, id)?;
        let standing = challenge_standing(actor.principal(), &loaded.listing, &loaded.run);
        let moved = transition(loaded.phase, None, Action::AddMilestone, standing).map_err(refused)?;
        let title = required("title", title, MAX_NAME_CHARS)?;
        let written = self.store_move(
            actor,
            &loaded,
            Planned {
                phase: moved.phase,
                write: ChallengeWrite::AddMilestone { title: title.clone(), due_on },
                action: "add_milestone",
                detail: serde_json::json!({"title": title, "due_on": due_on.to_string()}),
            },
            &|_| Vec::new(),
        )?;
        let created = written.created.unwrap_or_default();
        written
            .run
            .milestones
            .into_iter()
            .find(|m| m.id == created)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("lost milestone")))
    }

    /// A racing team's lead files its report on a milestone (once per milestone).
    pub fn file_report(
        &self,
        actor: &Actor,
        id: ApplicationId,
        milestone_id: MilestoneId,
        text: &str,
        attachment: Option<&str>,
    ) -> AppResult<Report> {
        let (loaded, application) = self.challenge_of_application(actor, id)?;
        let standing = application_standing(actor.principal(), &loaded.listing, &loaded.run, &application);
        let moved = transition(loaded.phase, Some(application.state), Action::FileReport, standing).map_err(refused)?;
        let principal = actor.user()?;
        let text = required("text", text, MAX_TEXT_CHARS)?;
        let attachment = match attachment.map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(link) if chars(link) > MAX_NAME_CHARS => {
                return Err(AppError::bad_input("attachment", format!("at most {MAX_NAME_CHARS} characters")));
            }
            Some(link) if !(link.starts_with("https://") || link.starts_with("http://")) => {
                return Err(AppError::bad_input("attachment", "give a link (http:// or https://) to the document"));
            }
            Some(link) => Some(link.to_string()),
        };
        let milestone = loaded
            .run
            .milestones
            .iter()
            .find(|m| m.id == milestone_id)
            .ok_or_else(|| {
                AppError::bad_input("milestone_id", format!("{milestone_id} is not a milestone of this challenge"))
            })?
            .clone();
        let email = self.email_notices();
        let owner = loaded.listing.body.owner_org.clone();
        let title = loaded.listing.body.title.clone();
        let written = self.store_move(
            actor,
            &loaded,
            Planned {
                phase: moved.phase,
                write: ChallengeWrite::FileReport {
                    application_id: id,
                    milestone_id,
                    text: text.clone(),
                    attachment,
                    filed_by: principal.user_id,
                },
                action: "file_report",
                detail: serde_json::json!({"application_id": id, "milestone_id": milestone_id}),
            },
            &|_| {
                vec![challenge_notice(
                    "challenge.report_filed",
                    &loaded.listing,
                    (format!("「{title}」收到节点报告"), format!("Milestone report on “{title}”")),
                    (
                        format!("团队「{}」提交了「{}」的报告，请考核。", application.team_name, milestone.title),
                        format!("Team “{}” reported on “{}”; decide the gate.", application.team_name, milestone.title),
                    ),
                    owner.iter().cloned().collect(),
                    Vec::new(),
                    principal,
                    serde_json::json!({"application_id": id, "milestone_id": milestone_id}),
                    email,
                )]
            },
        )?;
        let created = written.created.unwrap_or_default();
        written
            .run
            .reports
            .into_iter()
            .find(|r| r.id == created)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("lost report")))
    }

    /// The organiser decides a milestone gate; a failed gate eliminates the team.
    pub fn decide_gate(&self, actor: &Actor, report_id: ReportId, passed: bool, note: &str) -> AppResult<Report> {
        let not_found = || AppError::NotFound(format!("report {report_id} does not exist"));
        let challenge = self.challenges.report_challenge(report_id)?.ok_or_else(not_found)?;
        let loaded = self.load_challenge(actor, challenge).map_err(|_| not_found())?;
        let report = loaded.run.reports.iter().find(|r| r.id == report_id).cloned().ok_or_else(not_found)?;
        let application = loaded.run.application(report.application_id).cloned().ok_or_else(not_found)?;
        let standing = challenge_standing(actor.principal(), &loaded.listing, &loaded.run);
        let admin = actor.principal().is_some_and(|p| p.is_admin());
        if standing != Standing::Organiser && !admin {
            // Only the organiser, the team and the platform admin know of a report.
            let team = application_standing(actor.principal(), &loaded.listing, &loaded.run, &application);
            if !matches!(team, Standing::TeamLead | Standing::TeamMember) {
                return Err(match actor.principal() {
                    None => AppError::Unauthorized("log in first".into()),
                    Some(_) => not_found(),
                });
            }
        }
        let moved = transition(loaded.phase, Some(application.state), Action::DecideGate { passed }, standing)
            .map_err(refused)?;
        if report.decision.is_some() {
            return Err(AppError::Conflict(format!("report {report_id} was already decided")));
        }
        let principal = actor.user()?;
        let note = note.trim().to_string();
        if chars(&note) > MAX_TEXT_CHARS {
            return Err(AppError::bad_input("note", format!("at most {MAX_TEXT_CHARS} characters")));
        }
        if !passed && note.is_empty() {
            return Err(AppError::bad_input("note", "say why the gate was not passed"));
        }
        let email = self.email_notices();
        let title = loaded.listing.body.title.clone();
        let milestone = loaded.run.milestones.iter().find(|m| m.id == report.milestone_id).map(|m| m.title.clone());
        let milestone = milestone.unwrap_or_default();
        let team = team_orgs(&loaded.run, |a| a.id == application.id);
        let written = self.store_move(actor, &loaded, Planned { phase: moved.phase, write: ChallengeWrite::DecideGate { report_id, passed, note: note.clone(), decided_by: principal.user_id }, action: "decide_gate", detail: serde_json::json!({"report_id": report_id, "application_id": application.id, "passed": passed, "note": note}) }, &|_| {
                let (zh, en) = if passed {
                    (format!("节点「{milestone}」考核通过"), format!("Gate “{milestone}” passed"))
                } else {
                    (format!("节点「{milestone}」未通过，团队已淘汰"), format!("Gate “{milestone}” failed; your team is eliminated"))
                };
                vec![challenge_notice(
                    "challenge.gate_decided",
                    &loaded.listing,
                    (format!("「{title}」：{zh}"), format!("“{title}”: {en}")),
                    (format!("意见：{note}"), format!("Note: {note}")),
                    team.clone(),
                    Vec::new(),
                    principal,
                    serde_json::json!({"report_id": report_id, "passed": passed}),
                    email,
                )]
            })?;
        written
            .run
            .reports
            .into_iter()
            .find(|r| r.id == report_id)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("lost report")))
    }

    /// The organiser names the winners, all still `racing`; the challenge is `awarded` and its
    /// board public.
    pub fn award(&self, actor: &Actor, id: ListingId, application_ids: &[ApplicationId]) -> AppResult<ChallengeView> {
        let loaded = self.load_challenge(actor, id)?;
        let standing = challenge_standing(actor.principal(), &loaded.listing, &loaded.run);
        let moved = transition(loaded.phase, None, Action::Award, standing).map_err(refused)?;
        let principal = actor.user()?;
        let chosen = distinct_ids(application_ids)?;
        for id in &chosen {
            let application = loaded.run.application(*id).ok_or_else(|| {
                AppError::bad_input("application_ids", format!("{id} is not an application of this challenge"))
            })?;
            transition(loaded.phase, Some(application.state), Action::Award, standing).map_err(refused)?;
        }
        let email = self.email_notices();
        let title = loaded.listing.body.title.clone();
        let everyone = team_orgs(&loaded.run, |a| a.state != ApplicationState::Withdrawn);
        let winners: Vec<String> =
            loaded.run.applications.iter().filter(|a| chosen.contains(&a.id)).map(|a| a.team_name.clone()).collect();
        let written = self.store_move(
            actor,
            &loaded,
            Planned {
                phase: moved.phase,
                write: ChallengeWrite::Award { application_ids: chosen.clone() },
                action: "award",
                detail: serde_json::json!({"application_ids": chosen}),
            },
            &|_| {
                vec![challenge_notice(
                    "challenge.awarded",
                    &loaded.listing,
                    (format!("「{title}」揭榜结果公示"), format!("“{title}” named its winners")),
                    (format!("揭榜团队：{}", winners.join("、")), format!("Winners: {}", winners.join(", "))),
                    everyone.clone(),
                    Vec::new(),
                    principal,
                    serde_json::json!({"winners": chosen}),
                    email,
                )]
            },
        )?;
        self.view_after(actor, loaded, written)
    }

    /// The organiser closes the challenge without award, with a reason.
    pub fn close_challenge(&self, actor: &Actor, id: ListingId, reason: &str) -> AppResult<ChallengeView> {
        let loaded = self.load_challenge(actor, id)?;
        let standing = challenge_standing(actor.principal(), &loaded.listing, &loaded.run);
        let moved = transition(loaded.phase, None, Action::Close, standing).map_err(refused)?;
        let principal = actor.user()?;
        let reason = required("reason", reason, MAX_TEXT_CHARS)?;
        let email = self.email_notices();
        let title = loaded.listing.body.title.clone();
        let everyone = team_orgs(&loaded.run, |a| a.state != ApplicationState::Withdrawn);
        let written = self.store_move(
            actor,
            &loaded,
            Planned {
                phase: moved.phase,
                write: ChallengeWrite::Phase { note: Some(reason.clone()) },
                action: "close",
                detail: serde_json::json!({"reason": reason}),
            },
            &|_| {
                vec![challenge_notice(
                    "challenge.closed",
                    &loaded.listing,
                    (format!("「{title}」已关闭，未授榜"), format!("“{title}” closed without award")),
                    (format!("原因：{reason}"), format!("Reason: {reason}")),
                    everyone.clone(),
                    Vec::new(),
                    principal,
                    serde_json::json!({"reason": reason}),
                    email,
                )]
            },
        )?;
        self.view_after(actor, loaded, written)
    }

    /// The board: after the award everyone sees teams, regions, per-criterion scores, totals,
    /// milestone outcomes and the winners. Before it the organiser (and the platform admin) see
    /// all of it; a team sees itself without scores; everyone sees the racing teams once the race
    /// started, without scores.
    pub fn challenge_board(&self, actor: &Actor, id: ListingId) -> AppResult<Board> {
        let loaded = self.load_challenge(actor, id)?;
        let principal = actor.principal();
        let standing = challenge_standing(principal, &loaded.listing, &loaded.run);
        let organiser = standing == Standing::Organiser || principal.is_some_and(|p| p.is_admin());
        let public = loaded.phase == Phase::Awarded;
        let scores_visible = organiser || public;
        let totals = totals(&loaded.details, &loaded.run);
        let mut teams = Vec::new();
        for application in &loaded.run.applications {
            if application.state == ApplicationState::Withdrawn && !organiser {
                continue;
            }
            let team_standing = application_standing(principal, &loaded.listing, &loaded.run, application);
            let own = matches!(team_standing, Standing::TeamLead | Standing::TeamMember);
            let raced = matches!(
                application.state,
                ApplicationState::Racing | ApplicationState::Eliminated | ApplicationState::Awarded
            );
            let listed = organiser || public || own || (raced && matches!(loaded.phase, Phase::Racing | Phase::Closed));
            if !listed {
                continue;
            }
            let Totals { per_criterion: criterion_scores, total, counted } =
                totals.get(&application.id).cloned().unwrap_or_default();
            let outcomes_visible = organiser || public || own;
            let milestones = if outcomes_visible {
                loaded
                    .run
                    .milestones
                    .iter()
                    .map(|m| {
                        let report = loaded
                            .run
                            .reports
                            .iter()
                            .find(|r| r.application_id == application.id && r.milestone_id == m.id);
                        MilestoneOutcome {
                            milestone_id: m.id,
                            title: m.title.clone(),
                            reported: report.is_some(),
                            passed: report.and_then(|r| r.decision.as_ref()).map(|d| d.passed),
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let mut organisations = vec![application.lead_org.clone()];
            for member in &application.members {
                if !organisations.contains(&member.organisation) {
                    organisations.push(member.organisation.clone());
                }
            }
            let mut regions: Vec<String> = Vec::new();
            for member in &application.members {
                if !regions.contains(&member.region_code) {
                    regions.push(member.region_code.clone());
                }
            }
            teams.push(BoardTeam {
                application_id: application.id,
                team_name: application.team_name.clone(),
                lead_org: application.lead_org.clone(),
                organisations,
                regions,
                state: application.state,
                rank: None,
                total: if scores_visible { total } else { None },
                criterion_scores: if scores_visible { criterion_scores } else { BTreeMap::new() },
                reviewers_counted: if scores_visible { counted } else { 0 },
                milestones,
                submitted_at: application.submitted_at,
            });
        }
        if scores_visible {
            // Best total first; ties (and unscored teams, last) by earlier submission.
            teams.sort_by(|a, b| {
                b.total
                    .unwrap_or(f64::NEG_INFINITY)
                    .total_cmp(&a.total.unwrap_or(f64::NEG_INFINITY))
                    .then(a.submitted_at.cmp(&b.submitted_at))
                    .then(a.application_id.cmp(&b.application_id))
            });
            for (index, team) in teams.iter_mut().enumerate() {
                team.rank = team.total.map(|_| index + 1);
            }
        }
        let winners =
            loaded.run.applications.iter().filter(|a| a.state == ApplicationState::Awarded).map(|a| a.id).collect();
        Ok(Board {
            challenge_id: loaded.listing.id,
            title: loaded.listing.body.title.clone(),
            phase: loaded.phase,
            criteria: loaded.details.criteria.clone(),
            milestones: loaded.run.milestones.clone(),
            scores_visible,
            teams,
            winners,
            applications_count: loaded
                .run
                .applications
                .iter()
                .filter(|a| a.state != ApplicationState::Withdrawn)
                .count(),
        })
    }

    /// Applications of teams the actor's organisations lead or are in, newest first, with their
    /// challenges' titles and phases as read now.
    pub fn my_applications(&self, actor: &Actor) -> AppResult<Vec<MyApplication>> {
        let principal = actor.user()?;
        let entries: Vec<ApplicationEntry> = self.challenges.applications_of(&principal.orgs(), APPLICATIONS_LISTED)?;
        let ids: Vec<ListingId> = entries.iter().map(|e| e.application.challenge_id).collect();
        let listings: BTreeMap<ListingId, Listing> =
            self.store.get_many(&ids)?.into_iter().map(|l| (l.id, l)).collect();
        let now = OffsetDateTime::now_utc();
        Ok(entries
            .into_iter()
            .filter_map(|entry| {
                let listing = listings.get(&entry.application.challenge_id)?;
                let deadline = match &listing.body.details {
                    Details::Challenge(c) => c.deadline,
                    _ => None,
                };
                Some(MyApplication {
                    challenge_title: listing.body.title.clone(),
                    phase: effective_phase(entry.phase, deadline, now),
                    application: entry.application,
                })
            })
            .collect())
    }

    /// Challenges the actor reviews (id, title, phase as read now).
    pub fn my_reviews(&self, actor: &Actor) -> AppResult<Vec<(ListingId, String, Phase)>> {
        let principal = actor.user()?;
        let ids = self.challenges.reviewed_by(principal.user_id)?;
        let phases: BTreeMap<ListingId, Phase> = self.challenges.challenge_phases(&ids)?.into_iter().collect();
        let now = OffsetDateTime::now_utc();
        Ok(self
            .store
            .get_many(&ids)?
            .into_iter()
            .map(|listing| {
                let deadline = match &listing.body.details {
                    Details::Challenge(c) => c.deadline,
                    _ => None,
                };
                let stored = phases.get(&listing.id).copied().unwrap_or(Phase::Open);
                (listing.id, listing.body.title, effective_phase(stored, deadline, now))
            })
            .collect())
    }

    /// The phases (as read now) of challenge listings, for lists and listing pages; challenges
    /// nothing happened to are `open` (or `reviewing` after their deadline).
    pub fn challenge_phases(&self, listings: &[Listing]) -> AppResult<BTreeMap<ListingId, Phase>> {
        let ids: Vec<ListingId> = listings.iter().filter(|l| l.body.kind() == Kind::Challenge).map(|l| l.id).collect();
        let stored: BTreeMap<ListingId, Phase> = self.challenges.challenge_phases(&ids)?.into_iter().collect();
        let now = OffsetDateTime::now_utc();
        Ok(listings
            .iter()
            .filter_map(|listing| match &listing.body.details {
                Details::Challenge(c) => {
                    let phase = stored.get(&listing.id).copied().unwrap_or(Phase::Open);
                    Some((listing.id, effective_phase(phase, c.deadline, now)))
                }
                _ => None,
            })
            .collect())
    }

    /// Talents, enterprises and achievements that could take an open challenge on, with the
    /// matching's explanations (for the organiser; `Forbidden` for others).
    pub fn challenge_suggestions(&self, actor: &Actor, id: ListingId, limit: usize) -> AppResult<Vec<Suggestion>> {
        let loaded = self.load_challenge(actor, id)?;
        let standing = challenge_standing(actor.principal(), &loaded.listing, &loaded.run);
        if standing == Standing::Anonymous {
            return Err(AppError::Unauthorized("log in first".into()));
        }
        if standing != Standing::Organiser {
            return Err(AppError::Forbidden("only the organiser sees the suggested solvers".into()));
        }
        let applied: HashSet<&str> = loaded.run.applications.iter().map(|a| a.lead_org.as_str()).collect();
        let hits = self.match_source(actor, &loaded.listing, None, limit.clamp(1, 50))?;
        Ok(hits
            .into_iter()
            .filter(|hit| matches!(hit.kind, Kind::Talent | Kind::Enterprise | Kind::Achievement))
            .map(|hit| {
                let invitable = hit.listing.body.owner_org.as_deref().is_some_and(|owner| {
                    !applied.contains(owner) && Some(owner) != loaded.listing.body.owner_org.as_deref()
                });
                Suggestion { hit, invitable }
            })
            .collect())
    }

    /// The organiser of an open challenge invites the organisation behind a suggested listing
    /// to apply: an inbox notice (and webhook, e-mail) through the notification outbox, audited.
    pub fn invite_to_challenge(&self, actor: &Actor, id: ListingId, listing_id: ListingId) -> AppResult<String> {
        let loaded = self.load_challenge(actor, id)?;
        let standing = challenge_standing(actor.principal(), &loaded.listing, &loaded.run);
        match standing {
            Standing::Anonymous => return Err(AppError::Unauthorized("log in first".into())),
            Standing::Organiser => {}
            _ => return Err(AppError::Forbidden("only the organiser invites solvers".into())),
        }
        if loaded.phase != Phase::Open {
            return Err(AppError::Conflict(format!("a challenge that is {} takes no applications", loaded.phase)));
        }
        let principal = actor.user()?;
        let invited = self
            .read_listing(actor, listing_id)
            .map_err(|_| AppError::bad_input("listing_id", format!("listing {listing_id} does not exist")))?;
        if !matches!(invited.body.kind(), Kind::Talent | Kind::Enterprise | Kind::Achievement) {
            return Err(AppError::bad_input("listing_id", "invite a talent, an enterprise or an achievement"));
        }
        let Some(org) = invited.body.owner_org.clone() else {
            return Err(AppError::Conflict("this listing names no organisation to invite".into()));
        };
        if principal.orgs().contains(&org) {
            return Err(AppError::Conflict("this is your own organisation".into()));
        }
        if loaded.run.applications.iter().any(|a| a.lead_org == org && a.state != ApplicationState::Withdrawn) {
            return Err(AppError::Conflict(format!("{org} has already applied")));
        }
        let title = &loaded.listing.body.title;
        let deadline = loaded.details.deadline.map(|d| d.to_string()).unwrap_or_else(|| "—".into());
        let mut entry =
            actor.audit("challenge.invite", id.to_string(), loaded.listing.body.region_codes.first().cloned());
        entry.detail = serde_json::json!({"listing": listing_id.to_string(), "org": org});
        entry.notices = vec![challenge_notice(
            "challenge.invited",
            &loaded.listing,
            (format!("邀请揭榜：「{title}」"), format!("Invitation to take on “{title}”")),
            (
                format!(
                    "{} 认为贵方的「{}」适合承担此榜单，邀请贵方揭榜。报名截止：{deadline}。",
                    loaded.listing.body.owner_org.clone().unwrap_or_default(),
                    invited.body.title
                ),
                format!(
                    "{} thinks your “{}” fits this challenge and invites you to apply. Applications close: {deadline}.",
                    loaded.listing.body.owner_org.clone().unwrap_or_default(),
                    invited.body.title
                ),
            ),
            vec![org.clone()],
            Vec::new(),
            principal,
            serde_json::json!({"invited_listing": listing_id.to_string()}),
            self.email_notices(),
        )];
        self.accounts.audit(entry)?;
        Ok(org)
    }
}

/// The organisations of the teams `keep` selects (their users are told).
fn team_orgs(run: &ChallengeRun, keep: impl Fn(&Application) -> bool) -> Vec<String> {
    let mut orgs: Vec<String> = Vec::new();
    for application in run.applications.iter().filter(|a| keep(a)) {
        let names = std::iter::once(&application.lead_org).chain(application.members.iter().map(|m| &m.organisation));
        for name in names {
            if !orgs.contains(name) {
                orgs.push(name.clone());
            }
        }
    }
    orgs
}

fn distinct_ids(ids: &[ApplicationId]) -> AppResult<Vec<ApplicationId>> {
    if ids.is_empty() {
        return Err(AppError::bad_input("application_ids", "name at least one application"));
    }
    let mut seen = HashSet::new();
    if let Some(twice) = ids.iter().find(|id| !seen.insert(**id)) {
        return Err(AppError::bad_input("application_ids", format!("{twice} is named twice")));
    }
    Ok(ids.to_vec())
}

/// Checks the team: 1–50 members with names, organisations and known regions, exactly one
/// `lead`, of the applying organisation.
fn check_members(members: &[TeamMember], lead_org: &str) -> AppResult<Vec<TeamMember>> {
    if members.is_empty() {
        return Err(AppError::bad_input("members", "name at least the team's lead"));
    }
    if members.len() > MAX_MEMBERS {
        return Err(AppError::bad_input("members", format!("at most {MAX_MEMBERS} members")));
    }
    let reference = Reference::get();
    let mut checked = Vec::with_capacity(members.len());
    for (index, member) in members.iter().enumerate() {
        let field = format!("members[{index}]");
        let name = required(&format!("{field}.name"), &member.name, MAX_NAME_CHARS)?;
        let organisation = required(&format!("{field}.organisation"), &member.organisation, MAX_NAME_CHARS)?;
        let region_code = member.region_code.trim().to_string();
        if reference.region(&region_code).is_none() {
            return Err(AppError::bad_input(
                &format!("{field}.region_code"),
                format!("{region_code:?} is not a GB/T 2260 region code"),
            ));
        }
        checked.push(TeamMember { name, organisation, region_code, role: member.role });
    }
    let leads: Vec<&TeamMember> = checked.iter().filter(|m| m.role == MemberRole::Lead).collect();
    match leads.as_slice() {
        [lead] if lead.organisation == lead_org => Ok(checked),
        [_] => {
            Err(AppError::bad_input("members", format!("the lead belongs to the applying organisation ({lead_org})")))
        }
        _ => Err(AppError::bad_input("members", "name exactly one member with role lead")),
    }
}

/// A notice about a challenge: to the users of `to_orgs` and `to_users`, never the actor.
#[expect(clippy::too_many_arguments, reason = "a notice has this many parts; a struct would only rename them")]
fn challenge_notice(
    event: &str,
    listing: &Listing,
    (title_zh, title_en): (String, String),
    (body_zh, body_en): (String, String),
    to_orgs: Vec<String>,
    to_users: Vec<xietong_domain::UserId>,
    actor: &Principal,
    data: serde_json::Value,
    email: bool,
) -> Notice {
    let mut data = data;
    data["challenge"] = serde_json::json!({"id": listing.id.to_string(), "title": listing.body.title});
    Notice {
        event: event.into(),
        title_zh,
        title_en,
        body_zh,
        body_en,
        link: format!("/challenges/{}", listing.id),
        deal_id: None,
        listing_id: Some(listing.id),
        to_orgs,
        to_users,
        except: Some(actor.user_id),
        data,
        email,
    }
}
