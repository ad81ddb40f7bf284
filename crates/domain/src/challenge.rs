//! Open challenges that run (揭榜挂帅 with parallel racing teams, 赛马制), as a state machine.
//! The names of the phases, application states and actions are fixed (the API uses them).
//!
//! ```text
//! open ──close-applications / deadline──► reviewing ──race──► racing ──award──► awarded
//!   └────────────────────────┴──────────────close──────────────┴──────────► closed
//! ```
//!
//! Applications: `submitted` ──race──► `racing` (the chosen) or `not_selected` (the others);
//! `racing` ──failed gate──► `eliminated`; `racing` ──award──► `awarded`; a team withdraws while
//! `submitted` (open, reviewing) or `racing` (racing) ──► `withdrawn`.
//!
//! Who acts is a [`Standing`]: the organiser (the challenge's owner organisation and the
//! technology managers it appointed), a team's lead (the applying organisation) or member (an
//! organisation in the team), an appointed reviewer (conflicted when their organisation is in the
//! team), another organisation, or an anonymous visitor. [`transition`] decides every move.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

use crate::{ChallengeDetails, Day};

/// Where a challenge stands (`phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Applications accepted until the deadline (the end of its day, Beijing time).
    Open,
    /// Applications closed; reviewers score them.
    Reviewing,
    /// The chosen teams race through milestone gates.
    Racing,
    /// Winners named; the board is public.
    Awarded,
    /// Ended without award.
    Closed,
}

impl Phase {
    pub const ALL: [Phase; 5] = [Phase::Open, Phase::Reviewing, Phase::Racing, Phase::Awarded, Phase::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Open => "open",
            Phase::Reviewing => "reviewing",
            Phase::Racing => "racing",
            Phase::Awarded => "awarded",
            Phase::Closed => "closed",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Phase::Open => "揭榜报名中",
            Phase::Reviewing => "评审中",
            Phase::Racing => "赛马攻关中",
            Phase::Awarded => "已揭榜（结果公示）",
            Phase::Closed => "已关闭（未授榜）",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Phase::Open => "Open for applications",
            Phase::Reviewing => "Reviewing",
            Phase::Racing => "Racing",
            Phase::Awarded => "Awarded",
            Phase::Closed => "Closed without award",
        }
    }

    /// Whether no move changes the challenge any more.
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Awarded | Phase::Closed)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL.into_iter().find(|p| p.as_str() == s.trim()).ok_or_else(|| {
            format!("unknown challenge phase {s:?}; use one of open, reviewing, racing, awarded, closed")
        })
    }
}

/// Where an application stands (`state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    Submitted,
    Racing,
    NotSelected,
    Eliminated,
    Awarded,
    Withdrawn,
}

impl ApplicationState {
    pub const ALL: [ApplicationState; 6] = [
        ApplicationState::Submitted,
        ApplicationState::Racing,
        ApplicationState::NotSelected,
        ApplicationState::Eliminated,
        ApplicationState::Awarded,
        ApplicationState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationState::Submitted => "submitted",
            ApplicationState::Racing => "racing",
            ApplicationState::NotSelected => "not_selected",
            ApplicationState::Eliminated => "eliminated",
            ApplicationState::Awarded => "awarded",
            ApplicationState::Withdrawn => "withdrawn",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ApplicationState::Submitted => "已提交",
            ApplicationState::Racing => "赛马中",
            ApplicationState::NotSelected => "未入围",
            ApplicationState::Eliminated => "已淘汰",
            ApplicationState::Awarded => "揭榜成功",
            ApplicationState::Withdrawn => "已撤回",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            ApplicationState::Submitted => "Submitted",
            ApplicationState::Racing => "Racing",
            ApplicationState::NotSelected => "Not selected",
            ApplicationState::Eliminated => "Eliminated",
            ApplicationState::Awarded => "Awarded",
            ApplicationState::Withdrawn => "Withdrawn",
        }
    }
}

impl fmt::Display for ApplicationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ApplicationState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApplicationState::ALL.into_iter().find(|p| p.as_str() == s.trim()).ok_or_else(|| {
            format!(
                "unknown application state {s:?}; use one of submitted, racing, not_selected, eliminated, awarded, withdrawn"
            )
        })
    }
}

/// A team member's role (`role`: `lead` or `member`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    Lead,
    Member,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Lead => "lead",
            MemberRole::Member => "member",
        }
    }
}

impl std::str::FromStr for MemberRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "lead" => Ok(MemberRole::Lead),
            "member" => Ok(MemberRole::Member),
            other => Err(format!("unknown member role {other:?}; use lead or member")),
        }
    }
}

/// One person of a team; teams may span organisations and regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamMember {
    pub name: String,
    pub organisation: String,
    /// GB/T 2260 code of the member's region.
    pub region_code: String,
    pub role: MemberRole,
}

/// How the actor stands towards a challenge (or, for moves on one application, towards that
/// application).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Anonymous,
    /// Acts for the challenge's owner organisation.
    Organiser,
    /// Acts for the organisation that applied (leads the team).
    TeamLead,
    /// Acts for another organisation of the team.
    TeamMember,
    /// An appointed reviewer with no organisation in the team.
    Reviewer,
    /// An appointed reviewer whose organisation is in the team: excluded from scoring it.
    ConflictedReviewer,
    /// Logged in, none of the above.
    Outsider,
}

impl Standing {
    pub const ALL: [Standing; 7] = [
        Standing::Anonymous,
        Standing::Organiser,
        Standing::TeamLead,
        Standing::TeamMember,
        Standing::Reviewer,
        Standing::ConflictedReviewer,
        Standing::Outsider,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Anonymous => "anonymous",
            Standing::Organiser => "organiser",
            Standing::TeamLead => "team_lead",
            Standing::TeamMember => "team_member",
            Standing::Reviewer => "reviewer",
            Standing::ConflictedReviewer => "conflicted_reviewer",
            Standing::Outsider => "another_organisation",
        }
    }
}

/// Something someone does to a challenge or one of its applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Submit an application (`POST /api/v1/challenges/{id}/applications`).
    Apply,
    /// A team withdraws its application.
    Withdraw,
    /// End the open phase before the deadline.
    CloseApplications,
    AppointReviewer,
    /// Score one application (once per reviewer).
    Score,
    /// Choose the racing teams (per chosen application: `submitted` → `racing`).
    Race,
    AddMilestone,
    /// A racing team reports on a milestone.
    FileReport,
    /// Decide a milestone gate: a failed gate eliminates the team.
    DecideGate {
        passed: bool,
    },
    /// Name the winners (per winner: `racing` → `awarded`).
    Award,
    /// End the challenge without award.
    Close,
}

impl Action {
    pub const ALL: [Action; 12] = [
        Action::Apply,
        Action::Withdraw,
        Action::CloseApplications,
        Action::AppointReviewer,
        Action::Score,
        Action::Race,
        Action::AddMilestone,
        Action::FileReport,
        Action::DecideGate { passed: true },
        Action::DecideGate { passed: false },
        Action::Award,
        Action::Close,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Apply => "apply",
            Action::Withdraw => "withdraw",
            Action::CloseApplications => "close_applications",
            Action::AppointReviewer => "appoint_reviewer",
            Action::Score => "score",
            Action::Race => "race",
            Action::AddMilestone => "add_milestone",
            Action::FileReport => "file_report",
            Action::DecideGate { .. } => "decide_gate",
            Action::Award => "award",
            Action::Close => "close",
        }
    }

    /// Who may take the action.
    fn allowed(self, standing: Standing) -> bool {
        match self {
            Action::Apply => !matches!(standing, Standing::Anonymous | Standing::Organiser),
            Action::Withdraw | Action::FileReport => standing == Standing::TeamLead,
            Action::Score => standing == Standing::Reviewer,
            Action::CloseApplications
            | Action::AppointReviewer
            | Action::Race
            | Action::AddMilestone
            | Action::DecideGate { .. }
            | Action::Award
            | Action::Close => standing == Standing::Organiser,
        }
    }
}

/// The result of an allowed move: the challenge's phase after it, and the application's state
/// after it (for moves on an application).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub phase: Phase,
    pub application: Option<ApplicationState>,
}

/// Why a move may not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("log in first")]
    LogIn,
    /// A reviewer whose organisation is in the team.
    #[error("conflict of interest: your organisation is in this team, so you may not score it")]
    Conflicted,
    #[error("the organiser cannot apply to its own challenge")]
    OwnChallenge,
    #[error("your organisation has already applied to this challenge")]
    AlreadyApplied,
    #[error("as {standing} you may not {action}", standing = .standing.as_str())]
    NotPermitted { standing: Standing, action: &'static str },
    #[error("a challenge that is {phase} does not allow {action}")]
    WrongPhase { phase: Phase, action: &'static str },
    #[error("an application that is {state} does not allow {action}")]
    WrongState { state: ApplicationState, action: &'static str },
}

/// The move `action` by someone of `standing`, on a challenge in `phase` (the phase as read:
/// see [`effective_phase`]) and, for moves on one application, that application's `state`.
/// Who is checked first, then the phase, then the application's state.
pub fn transition(
    phase: Phase,
    application: Option<ApplicationState>,
    action: Action,
    standing: Standing,
) -> Result<Move, Refusal> {
    use ApplicationState as S;
    use Phase::{Awarded, Closed, Open, Racing, Reviewing};
    let name = action.name();
    match (action, standing) {
        (_, Standing::Anonymous) => return Err(Refusal::LogIn),
        (Action::Apply, Standing::Organiser) => return Err(Refusal::OwnChallenge),
        (Action::Apply, Standing::TeamLead) => return Err(Refusal::AlreadyApplied),
        (Action::Score, Standing::ConflictedReviewer) => return Err(Refusal::Conflicted),
        _ if !action.allowed(standing) => return Err(Refusal::NotPermitted { standing, action: name }),
        _ => {}
    }
    let wrong_phase = || Refusal::WrongPhase { phase, action: name };
    let next_phase = match action {
        Action::Apply => (phase == Open).then_some(Open),
        Action::Withdraw => matches!(phase, Open | Reviewing | Racing).then_some(phase),
        Action::CloseApplications => (phase == Open).then_some(Reviewing),
        Action::AppointReviewer => matches!(phase, Open | Reviewing).then_some(phase),
        Action::Score => (phase == Reviewing).then_some(Reviewing),
        Action::Race => (phase == Reviewing).then_some(Racing),
        Action::AddMilestone => matches!(phase, Reviewing | Racing).then_some(phase),
        Action::FileReport | Action::DecideGate { .. } => (phase == Racing).then_some(Racing),
        Action::Award => (phase == Racing).then_some(Awarded),
        Action::Close => matches!(phase, Open | Reviewing | Racing).then_some(Closed),
    }
    .ok_or_else(wrong_phase)?;
    let Some(state) = application else {
        let next = match action {
            Action::Apply => Some(S::Submitted),
            _ => None,
        };
        return Ok(Move { phase: next_phase, application: next });
    };
    let wrong_state = || Refusal::WrongState { state, action: name };
    let next_state = match action {
        Action::Withdraw => match (state, phase) {
            (S::Submitted, Open | Reviewing) | (S::Racing, Racing) => Some(S::Withdrawn),
            _ => None,
        },
        Action::Score => (state == S::Submitted).then_some(S::Submitted),
        Action::Race => (state == S::Submitted).then_some(S::Racing),
        Action::FileReport => (state == S::Racing).then_some(S::Racing),
        Action::DecideGate { passed } => (state == S::Racing).then_some(if passed { S::Racing } else { S::Eliminated }),
        Action::Award => (state == S::Racing).then_some(S::Awarded),
        // Moves on the challenge alone do not look at one application.
        Action::Apply | Action::CloseApplications | Action::AppointReviewer | Action::AddMilestone | Action::Close => {
            Some(state)
        }
    }
    .ok_or_else(wrong_state)?;
    Ok(Move { phase: next_phase, application: Some(next_state) })
}

/// The names of the actions someone of `standing` may take on a challenge in `phase` (and, for
/// moves on one application, on an application in `state`): what the pages offer as forms.
pub fn allowed_actions(phase: Phase, application: Option<ApplicationState>, standing: Standing) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Action::ALL
        .into_iter()
        .filter(|action| transition(phase, application, *action, standing).is_ok())
        .map(Action::name)
        .collect();
    names.dedup();
    names
}

/// Beijing time (UTC+8), in which challenge deadlines are days.
pub const BEIJING: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

/// The instant applications stop: the end of the deadline's day in Beijing time (the midnight
/// that starts the next day). Applications are accepted strictly before it.
pub fn applications_close_at(deadline: Day) -> OffsetDateTime {
    let next_day = deadline.0.next_day().unwrap_or(deadline.0);
    next_day.midnight().assume_offset(BEIJING)
}

/// The phase as read at `now`: a stored `open` whose deadline has passed reads `reviewing`
/// (every move is decided on this phase; the store keeps the stored one until the next move).
pub fn effective_phase(stored: Phase, deadline: Option<Day>, now: OffsetDateTime) -> Phase {
    match (stored, deadline) {
        (Phase::Open, Some(deadline)) if now >= applications_close_at(deadline) => Phase::Reviewing,
        _ => stored,
    }
}

/// Why a set of scores cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    #[error("this challenge names no criteria to score")]
    NoCriteria,
    #[error("no score for the criterion {0:?}")]
    Missing(String),
    #[error("{0:?} is not a criterion of this challenge")]
    Unknown(String),
    #[error("the score for {0:?} must be between 0 and 100")]
    OutOfRange(String),
}

/// Checks one reviewer's scores of one application: exactly one score, 0–100, per criterion of
/// the challenge. Returns them in the criteria's order.
pub fn check_scores(
    challenge: &ChallengeDetails,
    scores: &std::collections::BTreeMap<String, f64>,
) -> Result<Vec<(String, f64)>, ScoreError> {
    if challenge.criteria.is_empty() {
        return Err(ScoreError::NoCriteria);
    }
    if let Some(unknown) = scores.keys().find(|name| !challenge.criteria.iter().any(|c| &c.name == *name)) {
        return Err(ScoreError::Unknown(unknown.clone()));
    }
    let mut checked = Vec::with_capacity(challenge.criteria.len());
    for criterion in &challenge.criteria {
        let score = *scores.get(&criterion.name).ok_or_else(|| ScoreError::Missing(criterion.name.clone()))?;
        if !(0.0..=100.0).contains(&score) {
            return Err(ScoreError::OutOfRange(criterion.name.clone()));
        }
        checked.push((criterion.name.clone(), score));
    }
    Ok(checked)
}

/// One reviewer's weighted mean over the criteria (the challenge's weights, which add up to
/// 100): Σ weight × score / Σ weight. `None` when a criterion has no score.
pub fn weighted_mean(challenge: &ChallengeDetails, scores: &std::collections::BTreeMap<String, f64>) -> Option<f64> {
    let total_weight: f64 = challenge.criteria.iter().map(|c| c.weight).sum();
    if total_weight <= 0.0 {
        return None;
    }
    let mut sum = 0.0;
    for criterion in &challenge.criteria {
        sum += criterion.weight * scores.get(&criterion.name)?;
    }
    Some(sum / total_weight)
}

/// An application's total: the mean of its non-conflicted reviewers' weighted means. `None`
/// when nobody (not conflicted) scored it.
pub fn application_total(
    challenge: &ChallengeDetails,
    sheets: &[(bool, &std::collections::BTreeMap<String, f64>)],
) -> Option<f64> {
    let means: Vec<f64> =
        sheets.iter().filter(|(conflicted, _)| !conflicted).filter_map(|(_, s)| weighted_mean(challenge, s)).collect();
    if means.is_empty() { None } else { Some(means.iter().sum::<f64>() / means.len() as f64) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use ApplicationState as S;
    use Phase::*;
    use Standing as W;

    /// Who may take each action (besides the refusals with reasons of their own).
    fn permitted(action: Action) -> &'static [Standing] {
        match action {
            Action::Apply => &[W::TeamMember, W::Reviewer, W::ConflictedReviewer, W::Outsider],
            Action::Withdraw | Action::FileReport => &[W::TeamLead],
            Action::Score => &[W::Reviewer],
            _ => &[W::Organiser],
        }
    }

    /// The allowed challenge-level moves, written out: (phase, action, phase after).
    const PHASE_MOVES: &[(Phase, &str, Phase)] = &[
        (Open, "apply", Open),
        (Open, "withdraw", Open),
        (Reviewing, "withdraw", Reviewing),
        (Racing, "withdraw", Racing),
        (Open, "close_applications", Reviewing),
        (Open, "appoint_reviewer", Open),
        (Reviewing, "appoint_reviewer", Reviewing),
        (Reviewing, "score", Reviewing),
        (Reviewing, "race", Racing),
        (Reviewing, "add_milestone", Reviewing),
        (Racing, "add_milestone", Racing),
        (Racing, "file_report", Racing),
        (Racing, "decide_gate", Racing),
        (Racing, "award", Awarded),
        (Open, "close", Closed),
        (Reviewing, "close", Closed),
        (Racing, "close", Closed),
    ];

    #[test]
    fn every_phase_action_and_actor_is_decided_as_the_table_says() {
        for phase in Phase::ALL {
            for action in Action::ALL {
                for standing in Standing::ALL {
                    let result = transition(phase, None, action, standing);
                    let expected = PHASE_MOVES.iter().find(|(p, a, _)| *p == phase && *a == action.name());
                    let label = format!("{phase} {} by {}", action.name(), standing.as_str());
                    match standing {
                        W::Anonymous => assert_eq!(result, Err(Refusal::LogIn), "{label}"),
                        W::Organiser if action == Action::Apply => {
                            assert_eq!(result, Err(Refusal::OwnChallenge), "{label}")
                        }
                        W::TeamLead if action == Action::Apply => {
                            assert_eq!(result, Err(Refusal::AlreadyApplied), "{label}")
                        }
                        W::ConflictedReviewer if action == Action::Score => {
                            assert_eq!(result, Err(Refusal::Conflicted), "{label}")
                        }
                        _ if !permitted(action).contains(&standing) => assert_eq!(
                            result,
                            Err(Refusal::NotPermitted { standing, action: action.name() }),
                            "{label}"
                        ),
                        _ => match expected {
                            Some((_, _, to)) => {
                                let moved = result.unwrap_or_else(|e| panic!("{label}: {e}"));
                                assert_eq!(moved.phase, *to, "{label}");
                                let submitted = (action == Action::Apply).then_some(S::Submitted);
                                assert_eq!(moved.application, submitted, "{label}");
                            }
                            None => {
                                assert_eq!(result, Err(Refusal::WrongPhase { phase, action: action.name() }), "{label}")
                            }
                        },
                    }
                }
            }
        }
    }

    /// The allowed moves of one application, written out: (phase, state, action, state after).
    const APPLICATION_MOVES: &[(Phase, ApplicationState, &str, ApplicationState)] = &[
        (Open, S::Submitted, "withdraw", S::Withdrawn),
        (Reviewing, S::Submitted, "withdraw", S::Withdrawn),
        (Racing, S::Racing, "withdraw", S::Withdrawn),
        (Reviewing, S::Submitted, "score", S::Submitted),
        (Reviewing, S::Submitted, "race", S::Racing),
        (Racing, S::Racing, "file_report", S::Racing),
        (Racing, S::Racing, "award", S::Awarded),
    ];

    #[test]
    fn every_application_state_takes_exactly_its_moves() {
        let per_application = [
            Action::Withdraw,
            Action::Score,
            Action::Race,
            Action::FileReport,
            Action::DecideGate { passed: true },
            Action::DecideGate { passed: false },
            Action::Award,
        ];
        for phase in Phase::ALL {
            for state in ApplicationState::ALL {
                for action in per_application {
                    let standing = permitted(action)[0];
                    let result = transition(phase, Some(state), action, standing);
                    let label = format!("{phase} {state} {}", action.name());
                    if transition(phase, None, action, standing).is_err() {
                        assert!(matches!(result, Err(Refusal::WrongPhase { .. })), "{label}: {result:?}");
                        continue;
                    }
                    let expected =
                        match action {
                            Action::DecideGate { passed } => (phase == Racing && state == S::Racing)
                                .then_some(if passed { S::Racing } else { S::Eliminated }),
                            _ => APPLICATION_MOVES
                                .iter()
                                .find(|(p, s, a, _)| *p == phase && *s == state && *a == action.name())
                                .map(|(_, _, _, to)| *to),
                        };
                    match expected {
                        Some(to) => assert_eq!(result.map(|m| m.application), Ok(Some(to)), "{label}"),
                        None => {
                            assert_eq!(result, Err(Refusal::WrongState { state, action: action.name() }), "{label}")
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn finished_challenges_take_no_move() {
        for phase in [Awarded, Closed] {
            assert!(phase.is_final());
            for standing in Standing::ALL {
                assert!(allowed_actions(phase, None, standing).is_empty(), "{phase} {standing:?}");
            }
        }
        assert_eq!(allowed_actions(Open, None, W::Organiser), ["close_applications", "appoint_reviewer", "close"]);
        assert_eq!(allowed_actions(Racing, Some(S::Racing), W::TeamLead), ["withdraw", "file_report"]);
        assert_eq!(allowed_actions(Reviewing, Some(S::Submitted), W::ConflictedReviewer), Vec::<&str>::new());
    }

    #[test]
    fn the_deadline_is_the_end_of_its_day_in_beijing() {
        let deadline = Day(time::macros::date!(2027 - 03 - 31));
        let last_minute = time::macros::datetime!(2027-03-31 23:59:59 +08:00);
        let next_day = time::macros::datetime!(2027-04-01 00:00:00 +08:00);
        assert_eq!(effective_phase(Open, Some(deadline), last_minute), Open);
        assert_eq!(effective_phase(Open, Some(deadline), next_day), Reviewing);
        // 16:00 UTC on the 31st is already the 1st in Beijing.
        assert_eq!(effective_phase(Open, Some(deadline), time::macros::datetime!(2027-03-31 16:00 UTC)), Reviewing);
        assert_eq!(effective_phase(Open, Some(deadline), time::macros::datetime!(2027-03-31 15:59 UTC)), Open);
        assert_eq!(effective_phase(Open, None, next_day), Open);
        assert_eq!(effective_phase(Racing, Some(deadline), next_day), Racing);
        assert_eq!(applications_close_at(deadline), next_day);
    }

    fn challenge() -> ChallengeDetails {
        ChallengeDetails {
            criteria: vec![
                crate::Criterion { name: "技术先进性".into(), weight: 60.0 },
                crate::Criterion { name: "落地可行性".into(), weight: 40.0 },
            ],
            ..ChallengeDetails::default()
        }
    }

    fn sheet(a: f64, b: f64) -> BTreeMap<String, f64> {
        BTreeMap::from([("技术先进性".to_string(), a), ("落地可行性".to_string(), b)])
    }

    #[test]
    fn scores_are_one_per_criterion_and_weighted() {
        let challenge = challenge();
        assert_eq!(check_scores(&challenge, &sheet(80.0, 50.0)).unwrap().len(), 2);
        let mut missing = sheet(80.0, 50.0);
        missing.remove("落地可行性");
        assert_eq!(check_scores(&challenge, &missing), Err(ScoreError::Missing("落地可行性".into())));
        let mut extra = sheet(80.0, 50.0);
        extra.insert("颜值".into(), 10.0);
        assert_eq!(check_scores(&challenge, &extra), Err(ScoreError::Unknown("颜值".into())));
        assert_eq!(check_scores(&challenge, &sheet(101.0, 0.0)), Err(ScoreError::OutOfRange("技术先进性".into())));
        assert_eq!(check_scores(&challenge, &sheet(-1.0, 0.0)), Err(ScoreError::OutOfRange("技术先进性".into())));
        assert_eq!(check_scores(&ChallengeDetails::default(), &sheet(1.0, 1.0)), Err(ScoreError::NoCriteria));
        assert_eq!(weighted_mean(&challenge, &sheet(80.0, 50.0)), Some(68.0));
        let (a, b, c) = (sheet(80.0, 50.0), sheet(60.0, 70.0), sheet(0.0, 0.0));
        // The conflicted reviewer's zeros do not count: (68 + 64) / 2.
        assert_eq!(application_total(&challenge, &[(false, &a), (false, &b), (true, &c)]), Some(66.0));
        assert_eq!(application_total(&challenge, &[(true, &c)]), None);
    }

    #[test]
    fn names_are_fixed() {
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(names, ["open", "reviewing", "racing", "awarded", "closed"]);
        let states: Vec<&str> = ApplicationState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(states, ["submitted", "racing", "not_selected", "eliminated", "awarded", "withdrawn"]);
        assert_eq!(serde_json::to_value(S::NotSelected).unwrap(), "not_selected");
        assert_eq!("racing".parse::<Phase>(), Ok(Racing));
        let member: TeamMember = serde_json::from_value(serde_json::json!({
            "name": "张工", "organisation": "河北某院", "region_code": "130100", "role": "lead"
        }))
        .unwrap();
        assert_eq!(member.role, MemberRole::Lead);
        assert!(
            serde_json::from_value::<TeamMember>(serde_json::json!({
                "name": "x", "organisation": "y", "region_code": "110000", "role": "boss"
            }))
            .is_err()
        );
    }
}
