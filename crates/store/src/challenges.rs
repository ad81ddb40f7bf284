//! Challenges that run (揭榜挂帅, 赛马制) as the store keeps them, keyed by the challenge
//! listing's id: the phase (a row of its own, changed only by [`Challenges::apply_challenge_change`]),
//! the applications with their team members, the reviewers, the score sheets, the milestones
//! and the teams' reports with the organiser's gate decisions. Which move may happen is
//! `xietong_domain::challenge`'s; the store makes each move atomic: under the challenge's lock it
//! checks the phase the move was decided on and the states it changes, writes, and stores the
//! audit entry, all in one transaction.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;
use xietong_domain::challenge::{ApplicationState, Phase, TeamMember};
use xietong_domain::{Day, ListingId, UserId};

use crate::{NewAudit, StoreError};

/// Id of an application to a challenge.
pub type ApplicationId = i64;
/// Id of a milestone of a challenge.
pub type MilestoneId = i64;
/// Id of a team's milestone report.
pub type ReportId = i64;

/// Everything about a challenge's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChallengeRun {
    pub challenge_id: ListingId,
    /// The phase as stored (`open` for a challenge nothing happened to yet); read it through
    /// `xietong_domain::challenge::effective_phase`, which lets a passed deadline count.
    pub phase: Phase,
    /// Bumped by every move (0 before the first).
    pub version: i64,
    /// Why the organiser closed the challenge without award.
    pub note: Option<String>,
    /// Applications in the order they were submitted.
    pub applications: Vec<Application>,
    /// Reviewers in the order they were appointed.
    pub reviewers: Vec<Reviewer>,
    /// Score sheets in the order they were submitted.
    pub scores: Vec<ScoreSheet>,
    /// Milestones by due day.
    pub milestones: Vec<Milestone>,
    /// Reports in the order they were filed.
    pub reports: Vec<Report>,
}

impl ChallengeRun {
    pub fn application(&self, id: ApplicationId) -> Option<&Application> {
        self.applications.iter().find(|a| a.id == id)
    }
}

/// A team's application.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Application {
    pub id: ApplicationId,
    pub challenge_id: ListingId,
    pub team_name: String,
    /// The applying user's organisation, which leads the team.
    pub lead_org: String,
    pub lead_user_id: UserId,
    pub members: Vec<TeamMember>,
    pub proposal: String,
    pub state: ApplicationState,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Application {
    /// Whether `org` is in the team (leading it or as a member's organisation).
    pub fn involves(&self, org: &str) -> bool {
        self.lead_org == org || self.members.iter().any(|m| m.organisation == org)
    }
}

/// A reviewer the organiser appointed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reviewer {
    pub user_id: UserId,
    pub username: String,
    /// The reviewer's organisation when appointed (for conflicts of interest).
    pub org: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub appointed_at: OffsetDateTime,
}

/// One reviewer's scores of one application, fixed once submitted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreSheet {
    pub application_id: ApplicationId,
    pub reviewer_id: UserId,
    /// Score 0–100 per criterion name.
    pub scores: BTreeMap<String, f64>,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
}

/// A milestone gate of the race.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Milestone {
    pub id: MilestoneId,
    pub title: String,
    pub due_on: Day,
}

/// A racing team's report on a milestone, and the organiser's gate decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub id: ReportId,
    pub application_id: ApplicationId,
    pub milestone_id: MilestoneId,
    pub text: String,
    /// A link to the attached document, if any.
    pub attachment: Option<String>,
    pub filed_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub filed_at: OffsetDateTime,
    pub decision: Option<GateDecision>,
}

/// The organiser's decision on a report: a failed gate eliminates the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateDecision {
    pub passed: bool,
    pub note: String,
    pub decided_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
}

/// An application to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication {
    pub team_name: String,
    pub lead_org: String,
    pub lead_user_id: UserId,
    pub members: Vec<TeamMember>,
    pub proposal: String,
}

/// What a move writes besides the phase.
#[derive(Debug, Clone, PartialEq)]
pub enum ChallengeWrite {
    /// A new application (`submitted`), if the store's clock is still before `accept_until`.
    /// `WrongState` when the lead organisation already has an application that is not withdrawn.
    Apply {
        application: NewApplication,
        accept_until: Option<OffsetDateTime>,
    },
    /// The application moves from `from` to `withdrawn`.
    Withdraw {
        application_id: ApplicationId,
        from: ApplicationState,
    },
    /// `WrongState` when the user already reviews the challenge.
    AppointReviewer {
        user_id: UserId,
        username: String,
        org: Option<String>,
    },
    /// One reviewer's sheet for a `submitted` application; `WrongState` when that reviewer
    /// already scored it (scores are fixed once submitted).
    Score {
        application_id: ApplicationId,
        reviewer_id: UserId,
        scores: Vec<(String, f64)>,
    },
    /// Only the phase changes (closing applications, closing the challenge with `note`).
    Phase {
        note: Option<String>,
    },
    /// The chosen `submitted` applications race, every other `submitted` one is `not_selected`.
    /// `WrongState` unless every chosen one is `submitted`.
    Race {
        application_ids: Vec<ApplicationId>,
    },
    AddMilestone {
        title: String,
        due_on: Day,
    },
    /// A report of a `racing` application on a milestone of the challenge; `WrongState` when
    /// the team already reported on it.
    FileReport {
        application_id: ApplicationId,
        milestone_id: MilestoneId,
        text: String,
        attachment: Option<String>,
        filed_by: UserId,
    },
    /// Decides an undecided report; a failed gate moves its `racing` application to
    /// `eliminated`.
    DecideGate {
        report_id: ReportId,
        passed: bool,
        note: String,
        decided_by: UserId,
    },
    /// The chosen applications, all `racing`, are `awarded`; `WrongState` otherwise.
    Award {
        application_ids: Vec<ApplicationId>,
    },
}

/// A move decided by the domain's rules, to store if the challenge's stored phase is still
/// `expected_phase` (checked under the challenge's lock: of concurrent moves decided on one
/// phase, a phase-changing one wins once and the others find the new phase).
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengeChange {
    pub challenge_id: ListingId,
    pub expected_phase: Phase,
    /// The phase after the move.
    pub phase: Phase,
    pub write: ChallengeWrite,
}

/// A stored move: the run after it and the id of the record it created (application,
/// milestone or report), if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengeWritten {
    pub run: ChallengeRun,
    pub created: Option<i64>,
}

/// An application with the challenge it belongs to, for lists across challenges.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplicationEntry {
    pub application: Application,
    /// The challenge's stored phase.
    pub phase: Phase,
}

/// Challenges' runs.
pub trait Challenges: Send + Sync {
    /// The run of a challenge (`open`, version 0 and nothing else when nothing happened yet).
    fn challenge_run(&self, challenge_id: ListingId) -> Result<ChallengeRun, StoreError>;
    /// Stores one move with its audit entry in one transaction (see [`ChallengeChange`] and
    /// [`ChallengeWrite`]): `WrongState` when the phase or a state it depends on changed
    /// meanwhile, `NotFound` when the challenge listing does not exist.
    fn apply_challenge_change(
        &self,
        change: ChallengeChange,
        audit: &dyn Fn(&ChallengeWritten) -> NewAudit,
    ) -> Result<ChallengeWritten, StoreError>;
    /// The challenge an application belongs to.
    fn application_challenge(&self, id: ApplicationId) -> Result<Option<ListingId>, StoreError>;
    /// The challenge a report belongs to.
    fn report_challenge(&self, id: ReportId) -> Result<Option<ListingId>, StoreError>;
    /// Applications of teams these organisations lead or are in, newest first.
    fn applications_of(&self, orgs: &[String], limit: u32) -> Result<Vec<ApplicationEntry>, StoreError>;
    /// Challenges the user reviews, most recently appointed first.
    fn reviewed_by(&self, user_id: UserId) -> Result<Vec<ListingId>, StoreError>;
    /// The stored phases of the challenges among `ids` that have a run (the others are `open`).
    fn challenge_phases(&self, ids: &[ListingId]) -> Result<Vec<(ListingId, Phase)>, StoreError>;
}
