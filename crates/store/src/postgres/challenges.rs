//! `Challenges` on PostgreSQL. Every move first locks the challenge's phase row
//! (`SELECT … FOR UPDATE`), so concurrent moves on one challenge run one after the other and
//! each checks the phase and the states it changes as the one before left them.

use std::collections::BTreeMap;

use postgres::GenericClient;
use uuid::Uuid;
use xietong_domain::challenge::{ApplicationState, Phase, TeamMember};
use xietong_domain::{Day, ListingId, UserId};

use super::accounts::insert_audit;
use super::{Db, is_unique_violation, now, opt_text, text, texts};
use crate::{
    Application, ApplicationEntry, ApplicationId, ChallengeChange, ChallengeRun, ChallengeWrite, ChallengeWritten,
    Challenges, GateDecision, Milestone, NewAudit, PostgresStore, Report, ReportId, Reviewer, ScoreSheet, StoreError,
};

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::backend(format!("corrupt challenge data: {what}"))
}

const APPLICATION_COLUMNS: &str =
    "a.id, a.challenge_id, a.team_name, a.lead_org, a.lead_user_id, a.proposal, a.state, a.submitted_at, a.updated_at";

fn application_of<C: GenericClient>(db: &mut Db<'_, C>, row: &postgres::Row) -> Result<Application, StoreError> {
    let id: ApplicationId = row.try_get(0)?;
    let state: String = row.try_get(6)?;
    let mut members = Vec::new();
    for member in db.query(
        "SELECT name, organisation, region_code, role FROM challenge_members WHERE application_id = $1 ORDER BY position",
        &[&id],
    )? {
        let role: String = member.try_get(3)?;
        members.push(TeamMember {
            name: member.try_get(0)?,
            organisation: member.try_get(1)?,
            region_code: member.try_get(2)?,
            role: role.parse().map_err(corrupt)?,
        });
    }
    Ok(Application {
        id,
        challenge_id: ListingId(row.try_get(1)?),
        team_name: row.try_get(2)?,
        lead_org: row.try_get(3)?,
        lead_user_id: row.try_get(4)?,
        members,
        proposal: row.try_get(5)?,
        state: state.parse().map_err(corrupt)?,
        submitted_at: row.try_get(7)?,
        updated_at: row.try_get(8)?,
    })
}

fn load<C: GenericClient>(db: &mut Db<'_, C>, challenge_id: ListingId) -> Result<ChallengeRun, StoreError> {
    let key: Uuid = challenge_id.0;
    let (phase, version, note) =
        match db.query_opt("SELECT phase, version, note FROM challenge_phases WHERE listing_id = $1", &[&key])? {
            Some(row) => {
                let phase: String = row.try_get(0)?;
                (phase.parse().map_err(corrupt)?, row.try_get(1)?, row.try_get(2)?)
            }
            None => (Phase::Open, 0, None),
        };
    let mut applications = Vec::new();
    let rows = db.query(
        &format!(
            "SELECT {APPLICATION_COLUMNS} FROM challenge_applications a WHERE a.challenge_id = $1 ORDER BY a.submitted_at, a.id"
        ),
        &[&key],
    )?;
    for row in &rows {
        applications.push(application_of(db, row)?);
    }
    let mut reviewers = Vec::new();
    for row in db.query(
        "SELECT user_id, username, org, appointed_at FROM challenge_reviewers WHERE challenge_id = $1 ORDER BY appointed_at, user_id",
        &[&key],
    )? {
        reviewers.push(Reviewer {
            user_id: row.try_get(0)?,
            username: row.try_get(1)?,
            org: row.try_get(2)?,
            appointed_at: row.try_get(3)?,
        });
    }
    let mut scores: Vec<ScoreSheet> = Vec::new();
    for row in db.query(
        "SELECT s.application_id, s.reviewer_id, s.criterion, s.score, s.submitted_at FROM challenge_scores s
         JOIN challenge_applications a ON a.id = s.application_id
         WHERE a.challenge_id = $1 ORDER BY s.submitted_at, s.application_id, s.reviewer_id, s.criterion COLLATE \"C\"",
        &[&key],
    )? {
        let application_id: ApplicationId = row.try_get(0)?;
        let reviewer_id: UserId = row.try_get(1)?;
        let criterion: String = row.try_get(2)?;
        let score: f64 = row.try_get(3)?;
        match scores.iter_mut().find(|s| s.application_id == application_id && s.reviewer_id == reviewer_id) {
            Some(sheet) => {
                sheet.scores.insert(criterion, score);
            }
            None => scores.push(ScoreSheet {
                application_id,
                reviewer_id,
                scores: BTreeMap::from([(criterion, score)]),
                submitted_at: row.try_get(4)?,
            }),
        }
    }
    let mut milestones = Vec::new();
    for row in db.query(
        "SELECT id, title, due_on FROM challenge_milestones WHERE challenge_id = $1 ORDER BY due_on, id",
        &[&key],
    )? {
        let due_on: String = row.try_get(2)?;
        milestones.push(Milestone {
            id: row.try_get(0)?,
            title: row.try_get(1)?,
            due_on: Day::parse(&due_on).map_err(corrupt)?,
        });
    }
    let mut reports = Vec::new();
    for row in db.query(
        "SELECT r.id, r.application_id, r.milestone_id, r.text, r.attachment, r.filed_by, r.filed_at,
                r.passed, r.note, r.decided_by, r.decided_at
         FROM challenge_reports r JOIN challenge_applications a ON a.id = r.application_id
         WHERE a.challenge_id = $1 ORDER BY r.id",
        &[&key],
    )? {
        let passed: Option<bool> = row.try_get(7)?;
        let note: Option<String> = row.try_get(8)?;
        let decided_by: Option<UserId> = row.try_get(9)?;
        let decided_at: Option<time::OffsetDateTime> = row.try_get(10)?;
        let decision = match (passed, decided_by, decided_at) {
            (Some(passed), Some(decided_by), Some(decided_at)) => {
                Some(GateDecision { passed, note: note.unwrap_or_default(), decided_by, decided_at })
            }
            _ => None,
        };
        reports.push(Report {
            id: row.try_get(0)?,
            application_id: row.try_get(1)?,
            milestone_id: row.try_get(2)?,
            text: row.try_get(3)?,
            attachment: row.try_get(4)?,
            filed_by: row.try_get(5)?,
            filed_at: row.try_get(6)?,
            decision,
        });
    }
    Ok(ChallengeRun { challenge_id, phase, version, note, applications, reviewers, scores, milestones, reports })
}

fn wrong(detail: impl Into<String>) -> StoreError {
    StoreError::WrongState(detail.into())
}

fn state_of<C: GenericClient>(
    db: &mut Db<'_, C>,
    challenge: Uuid,
    id: ApplicationId,
) -> Result<ApplicationState, StoreError> {
    let row = db.query_opt(
        "SELECT state FROM challenge_applications WHERE id = $1 AND challenge_id = $2",
        &[&id, &challenge],
    )?;
    let row = row.ok_or_else(|| wrong(format!("application {id} is not one of this challenge")))?;
    let state: String = row.try_get(0)?;
    state.parse().map_err(corrupt)
}

/// Moves the listed applications of the challenge from `from` to `to`; `WrongState` unless
/// every one of them was in `from`.
fn move_listed<C: GenericClient>(
    db: &mut Db<'_, C>,
    challenge: Uuid,
    ids: &[ApplicationId],
    from: ApplicationState,
    to: ApplicationState,
    at: time::OffsetDateTime,
) -> Result<(), StoreError> {
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    if ids.is_empty() || distinct.len() != ids.len() {
        return Err(wrong("name each application once, at least one"));
    }
    let moved = db.execute(
        "UPDATE challenge_applications SET state = $1, updated_at = $2 WHERE challenge_id = $3 AND state = $4 AND id = ANY($5)",
        &[&to.as_str(), &at, &challenge, &from.as_str(), &ids.to_vec()],
    )?;
    if moved != ids.len() as u64 {
        return Err(wrong(format!("every application named must be {from}")));
    }
    Ok(())
}

fn write<C: GenericClient>(
    db: &mut Db<'_, C>,
    challenge: Uuid,
    change: &ChallengeChange,
    at: time::OffsetDateTime,
) -> Result<Option<i64>, StoreError> {
    match &change.write {
        ChallengeWrite::Apply { application, accept_until } => {
            if accept_until.is_some_and(|until| now() >= until) {
                return Err(wrong("applications closed at the deadline"));
            }
            let inserted = db.execute_in_savepoint(
                "INSERT INTO challenge_applications (challenge_id, team_name, lead_org, lead_user_id, proposal, state, submitted_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $6)",
                &[
                    &challenge,
                    &text(&application.team_name),
                    &text(&application.lead_org),
                    &application.lead_user_id,
                    &text(&application.proposal),
                    &at,
                ],
            )?;
            match inserted {
                Ok(_) => {}
                Err(err) if is_unique_violation(&err) => {
                    return Err(wrong(format!("{} has already applied to this challenge", application.lead_org)));
                }
                Err(err) => return Err(err.into()),
            }
            let id: ApplicationId = db
                .query_one(
                    "SELECT id FROM challenge_applications WHERE challenge_id = $1 AND lead_org = $2 AND state = 'submitted' ORDER BY id DESC LIMIT 1",
                    &[&challenge, &text(&application.lead_org)],
                )?
                .try_get(0)?;
            for (position, member) in application.members.iter().enumerate() {
                db.execute(
                    "INSERT INTO challenge_members (application_id, position, name, organisation, region_code, role) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &id,
                        &(position as i32),
                        &text(&member.name),
                        &text(&member.organisation),
                        &text(&member.region_code),
                        &member.role.as_str(),
                    ],
                )?;
            }
            Ok(Some(id))
        }
        ChallengeWrite::Withdraw { application_id, from } => {
            move_listed(db, challenge, &[*application_id], *from, ApplicationState::Withdrawn, at)?;
            Ok(None)
        }
        ChallengeWrite::AppointReviewer { user_id, username, org } => {
            let inserted = db.execute(
                "INSERT INTO challenge_reviewers (challenge_id, user_id, username, org, appointed_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
                &[&challenge, user_id, &text(username), &opt_text(org), &at],
            )?;
            if inserted == 0 {
                return Err(wrong(format!("{username} already reviews this challenge")));
            }
            Ok(None)
        }
        ChallengeWrite::Score { application_id, reviewer_id, scores } => {
            if state_of(db, challenge, *application_id)? != ApplicationState::Submitted {
                return Err(wrong(format!("application {application_id} is no longer submitted")));
            }
            if db
                .query_opt(
                    "SELECT 1 FROM challenge_reviewers WHERE challenge_id = $1 AND user_id = $2",
                    &[&challenge, reviewer_id],
                )?
                .is_none()
            {
                return Err(wrong("only appointed reviewers score"));
            }
            if db
                .query_opt(
                    "SELECT 1 FROM challenge_scores WHERE application_id = $1 AND reviewer_id = $2 LIMIT 1",
                    &[application_id, reviewer_id],
                )?
                .is_some()
            {
                return Err(wrong("scores are fixed once submitted: this reviewer already scored this application"));
            }
            for (criterion, score) in scores {
                db.execute(
                    "INSERT INTO challenge_scores (application_id, reviewer_id, criterion, score, submitted_at) VALUES ($1, $2, $3, $4, $5)",
                    &[application_id, reviewer_id, &text(criterion), score, &at],
                )?;
            }
            Ok(None)
        }
        ChallengeWrite::Phase { .. } => Ok(None),
        ChallengeWrite::Race { application_ids } => {
            move_listed(db, challenge, application_ids, ApplicationState::Submitted, ApplicationState::Racing, at)?;
            db.execute(
                "UPDATE challenge_applications SET state = 'not_selected', updated_at = $1 WHERE challenge_id = $2 AND state = 'submitted'",
                &[&at, &challenge],
            )?;
            Ok(None)
        }
        ChallengeWrite::AddMilestone { title, due_on } => {
            let row = db.query_one(
                "INSERT INTO challenge_milestones (challenge_id, title, due_on, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                &[&challenge, &text(title), &due_on.to_string(), &at],
            )?;
            Ok(Some(row.try_get(0)?))
        }
        ChallengeWrite::FileReport { application_id, milestone_id, text: report, attachment, filed_by } => {
            if state_of(db, challenge, *application_id)? != ApplicationState::Racing {
                return Err(wrong(format!("application {application_id} is no longer racing")));
            }
            if db
                .query_opt(
                    "SELECT 1 FROM challenge_milestones WHERE id = $1 AND challenge_id = $2",
                    &[milestone_id, &challenge],
                )?
                .is_none()
            {
                return Err(wrong(format!("milestone {milestone_id} is not one of this challenge")));
            }
            let inserted = db.execute_in_savepoint(
                "INSERT INTO challenge_reports (application_id, milestone_id, text, attachment, filed_by, filed_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[application_id, milestone_id, &text(report), &opt_text(attachment), filed_by, &at],
            )?;
            match inserted {
                Ok(_) => {}
                Err(err) if is_unique_violation(&err) => {
                    return Err(wrong("the team already reported on this milestone"));
                }
                Err(err) => return Err(err.into()),
            }
            let row = db.query_one(
                "SELECT id FROM challenge_reports WHERE application_id = $1 AND milestone_id = $2",
                &[application_id, milestone_id],
            )?;
            Ok(Some(row.try_get(0)?))
        }
        ChallengeWrite::DecideGate { report_id, passed, note, decided_by } => {
            let row = db.query_opt(
                "SELECT r.application_id FROM challenge_reports r JOIN challenge_applications a ON a.id = r.application_id
                 WHERE r.id = $1 AND a.challenge_id = $2",
                &[report_id, &challenge],
            )?;
            let application: ApplicationId =
                row.ok_or_else(|| wrong(format!("report {report_id} is not one of this challenge")))?.try_get(0)?;
            let decided = db.execute(
                "UPDATE challenge_reports SET passed = $1, note = $2, decided_by = $3, decided_at = $4 WHERE id = $5 AND decided_at IS NULL",
                &[passed, &text(note), decided_by, &at, report_id],
            )?;
            if decided == 0 {
                return Err(wrong(format!("report {report_id} was already decided")));
            }
            let to = if *passed { ApplicationState::Racing } else { ApplicationState::Eliminated };
            move_listed(db, challenge, &[application], ApplicationState::Racing, to, at)?;
            Ok(None)
        }
        ChallengeWrite::Award { application_ids } => {
            move_listed(db, challenge, application_ids, ApplicationState::Racing, ApplicationState::Awarded, at)?;
            Ok(None)
        }
    }
}

impl Challenges for PostgresStore {
    fn challenge_run(&self, challenge_id: ListingId) -> Result<ChallengeRun, StoreError> {
        self.read(|db| load(db, challenge_id))
    }

    fn apply_challenge_change(
        &self,
        change: ChallengeChange,
        audit: &dyn Fn(&ChallengeWritten) -> NewAudit,
    ) -> Result<ChallengeWritten, StoreError> {
        self.write(|db| {
            let challenge = change.challenge_id.0;
            if db.query_opt("SELECT 1 FROM listings WHERE id = $1", &[&challenge])?.is_none() {
                return Err(StoreError::NotFound(change.challenge_id));
            }
            db.execute(
                "INSERT INTO challenge_phases (listing_id, phase, version, updated_at) VALUES ($1, 'open', 0, $2) ON CONFLICT DO NOTHING",
                &[&challenge, &now()],
            )?;
            // The lock every move on this challenge takes first: concurrent moves wait here.
            let stored: String = db
                .query_one("SELECT phase FROM challenge_phases WHERE listing_id = $1 FOR UPDATE", &[&challenge])?
                .try_get(0)?;
            let stored: Phase = stored.parse().map_err(corrupt)?;
            // Taken under the lock, so moves on one challenge are stamped in the order they
            // commit (ties of applications go to the earlier submission).
            let at = now();
            if stored != change.expected_phase {
                return Err(wrong(format!("the challenge is now {stored}, not {}", change.expected_phase)));
            }
            let created = write(db, challenge, &change, at)?;
            let note = match &change.write {
                ChallengeWrite::Phase { note } => opt_text(note),
                _ => None,
            };
            db.execute(
                "UPDATE challenge_phases SET phase = $1, version = version + 1, note = COALESCE($2, note), updated_at = $3 WHERE listing_id = $4",
                &[&change.phase.as_str(), &note, &at, &challenge],
            )?;
            let written = ChallengeWritten { run: load(db, change.challenge_id)?, created };
            insert_audit(db, audit(&written))?;
            Ok(written)
        })
    }

    fn application_challenge(&self, id: ApplicationId) -> Result<Option<ListingId>, StoreError> {
        self.read(|db| {
            let row = db.query_opt("SELECT challenge_id FROM challenge_applications WHERE id = $1", &[&id])?;
            row.map(|r| r.try_get(0).map(ListingId)).transpose().map_err(StoreError::from)
        })
    }

    fn report_challenge(&self, id: ReportId) -> Result<Option<ListingId>, StoreError> {
        self.read(|db| {
            let row = db.query_opt(
                "SELECT a.challenge_id FROM challenge_reports r JOIN challenge_applications a ON a.id = r.application_id WHERE r.id = $1",
                &[&id],
            )?;
            row.map(|r| r.try_get(0).map(ListingId)).transpose().map_err(StoreError::from)
        })
    }

    fn applications_of(&self, orgs: &[String], limit: u32) -> Result<Vec<ApplicationEntry>, StoreError> {
        if orgs.is_empty() {
            return Ok(Vec::new());
        }
        let orgs = texts(orgs);
        let sql = format!(
            "SELECT {APPLICATION_COLUMNS}, COALESCE(p.phase, 'open') FROM challenge_applications a
             LEFT JOIN challenge_phases p ON p.listing_id = a.challenge_id
             WHERE a.lead_org = ANY($1) OR a.id IN (SELECT application_id FROM challenge_members WHERE organisation = ANY($1))
             ORDER BY a.id DESC LIMIT {limit}"
        );
        self.read(|db| {
            let rows = db.query(&sql, &[&orgs])?;
            let mut entries = Vec::with_capacity(rows.len());
            for row in &rows {
                let phase: String = row.try_get(9)?;
                entries.push(ApplicationEntry {
                    application: application_of(db, row)?,
                    phase: phase.parse().map_err(corrupt)?,
                });
            }
            Ok(entries)
        })
    }

    fn reviewed_by(&self, user_id: UserId) -> Result<Vec<ListingId>, StoreError> {
        self.read(|db| {
            let rows = db.query(
                "SELECT challenge_id FROM challenge_reviewers WHERE user_id = $1 ORDER BY appointed_at DESC, challenge_id",
                &[&user_id],
            )?;
            rows.iter().map(|r| Ok(ListingId(r.try_get(0)?))).collect()
        })
    }

    fn challenge_phases(&self, ids: &[ListingId]) -> Result<Vec<(ListingId, Phase)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        self.read(|db| {
            let rows = db.query(
                "SELECT listing_id, phase FROM challenge_phases WHERE listing_id = ANY($1) ORDER BY listing_id::text",
                &[&keys],
            )?;
            rows.iter()
                .map(|r| {
                    let phase: String = r.try_get(1)?;
                    Ok((ListingId(r.try_get(0)?), phase.parse().map_err(corrupt)?))
                })
                .collect()
        })
    }
}
