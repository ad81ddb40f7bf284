//! `Challenges` on SQLite. The one writer connection serialises every move; each checks the
//! stored phase and the states it changes inside its transaction.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use xietong_domain::challenge::{ApplicationState, Phase, TeamMember};
use xietong_domain::{Day, ListingId, UserId};

use super::accounts::insert_audit;
use super::{SqliteStore, fmt_utc, now, parse_time, placeholders};
use crate::{
    Application, ApplicationEntry, ApplicationId, ChallengeChange, ChallengeRun, ChallengeWrite, ChallengeWritten,
    Challenges, GateDecision, Milestone, NewAudit, Report, ReportId, Reviewer, ScoreSheet, StoreError,
};

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::backend(format!("corrupt challenge data: {what}"))
}

fn parse_id(text: &str) -> Result<ListingId, StoreError> {
    text.parse().map_err(|_| corrupt(format!("listing id {text:?}")))
}

const APPLICATION_COLUMNS: &str =
    "id, challenge_id, team_name, lead_org, lead_user_id, proposal, state, submitted_at, updated_at";

type ApplicationRow = (ApplicationId, String, String, String, UserId, String, String, String, String);

fn application_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ApplicationRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn application_of(conn: &Connection, row: ApplicationRow) -> Result<Application, StoreError> {
    let (id, challenge_id, team_name, lead_org, lead_user_id, proposal, state, submitted_at, updated_at) = row;
    let mut members = Vec::new();
    let mut statement = conn.prepare_cached(
        "SELECT name, organisation, region_code, role FROM challenge_members WHERE application_id = ?1 ORDER BY position",
    )?;
    let rows = statement.query_map([id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
    })?;
    for row in rows {
        let (name, organisation, region_code, role) = row?;
        members.push(TeamMember { name, organisation, region_code, role: role.parse().map_err(corrupt)? });
    }
    Ok(Application {
        id,
        challenge_id: parse_id(&challenge_id)?,
        team_name,
        lead_org,
        lead_user_id,
        members,
        proposal,
        state: state.parse().map_err(corrupt)?,
        submitted_at: parse_time(&submitted_at)?,
        updated_at: parse_time(&updated_at)?,
    })
}

/// The run of a challenge as stored now.
fn load(conn: &Connection, challenge_id: ListingId) -> Result<ChallengeRun, StoreError> {
    let key = challenge_id.to_string();
    let phase_row: Option<(String, i64, Option<String>)> = conn
        .prepare_cached("SELECT phase, version, note FROM challenge_phases WHERE listing_id = ?1")?
        .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let (phase, version, note) = match phase_row {
        Some((phase, version, note)) => (phase.parse().map_err(corrupt)?, version, note),
        None => (Phase::Open, 0, None),
    };
    let mut applications = Vec::new();
    let rows: Vec<ApplicationRow> = conn
        .prepare_cached(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM challenge_applications WHERE challenge_id = ?1 ORDER BY submitted_at, id"
        ))?
        .query_map([&key], application_row)?
        .collect::<rusqlite::Result<_>>()?;
    for row in rows {
        applications.push(application_of(conn, row)?);
    }
    let mut reviewers = Vec::new();
    let mut statement = conn.prepare_cached(
        "SELECT user_id, username, org, appointed_at FROM challenge_reviewers WHERE challenge_id = ?1 ORDER BY appointed_at, user_id",
    )?;
    let rows = statement.query_map([&key], |r| {
        Ok((r.get::<_, UserId>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, String>(3)?))
    })?;
    for row in rows {
        let (user_id, username, org, appointed_at) = row?;
        reviewers.push(Reviewer { user_id, username, org, appointed_at: parse_time(&appointed_at)? });
    }
    let mut scores: Vec<ScoreSheet> = Vec::new();
    let mut statement = conn.prepare_cached(
        "SELECT s.application_id, s.reviewer_id, s.criterion, s.score, s.submitted_at FROM challenge_scores s
         JOIN challenge_applications a ON a.id = s.application_id
         WHERE a.challenge_id = ?1 ORDER BY s.submitted_at, s.application_id, s.reviewer_id, s.criterion",
    )?;
    let rows = statement.query_map([&key], |r| {
        Ok((
            r.get::<_, ApplicationId>(0)?,
            r.get::<_, UserId>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, f64>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    for row in rows {
        let (application_id, reviewer_id, criterion, score, submitted_at) = row?;
        match scores.iter_mut().find(|s| s.application_id == application_id && s.reviewer_id == reviewer_id) {
            Some(sheet) => {
                sheet.scores.insert(criterion, score);
            }
            None => scores.push(ScoreSheet {
                application_id,
                reviewer_id,
                scores: BTreeMap::from([(criterion, score)]),
                submitted_at: parse_time(&submitted_at)?,
            }),
        }
    }
    let mut milestones = Vec::new();
    let mut statement = conn.prepare_cached(
        "SELECT id, title, due_on FROM challenge_milestones WHERE challenge_id = ?1 ORDER BY due_on, id",
    )?;
    let rows =
        statement.query_map([&key], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    for row in rows {
        let (id, title, due_on) = row?;
        milestones.push(Milestone { id, title, due_on: Day::parse(&due_on).map_err(corrupt)? });
    }
    let mut reports = Vec::new();
    let mut statement = conn.prepare_cached(
        "SELECT r.id, r.application_id, r.milestone_id, r.text, r.attachment, r.filed_by, r.filed_at,
                r.passed, r.note, r.decided_by, r.decided_at
         FROM challenge_reports r JOIN challenge_applications a ON a.id = r.application_id
         WHERE a.challenge_id = ?1 ORDER BY r.id",
    )?;
    type ReportRow = (
        i64,
        i64,
        i64,
        String,
        Option<String>,
        UserId,
        String,
        Option<bool>,
        Option<String>,
        Option<UserId>,
        Option<String>,
    );
    let rows = statement.query_map([&key], |r| -> rusqlite::Result<ReportRow> {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
            r.get(10)?,
        ))
    })?;
    for row in rows {
        let (
            id,
            application_id,
            milestone_id,
            text,
            attachment,
            filed_by,
            filed_at,
            passed,
            note,
            decided_by,
            decided_at,
        ) = row?;
        let decision = match (passed, decided_by, decided_at) {
            (Some(passed), Some(decided_by), Some(decided_at)) => Some(GateDecision {
                passed,
                note: note.unwrap_or_default(),
                decided_by,
                decided_at: parse_time(&decided_at)?,
            }),
            _ => None,
        };
        reports.push(Report {
            id,
            application_id,
            milestone_id,
            text,
            attachment,
            filed_by,
            filed_at: parse_time(&filed_at)?,
            decision,
        });
    }
    Ok(ChallengeRun { challenge_id, phase, version, note, applications, reviewers, scores, milestones, reports })
}

fn wrong(detail: impl Into<String>) -> StoreError {
    StoreError::WrongState(detail.into())
}

fn is_constraint(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// The state of an application of this challenge, or `WrongState` when it is not one.
fn state_of(conn: &Connection, challenge: &str, id: ApplicationId) -> Result<ApplicationState, StoreError> {
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM challenge_applications WHERE id = ?1 AND challenge_id = ?2")?
        .query_row(params![id, challenge], |r| r.get(0))
        .optional()?;
    state.ok_or_else(|| wrong(format!("application {id} is not one of this challenge")))?.parse().map_err(corrupt)
}

/// Moves the listed applications of the challenge from `from` to `to`; `WrongState` unless
/// every one of them was in `from`.
fn move_listed(
    conn: &Connection,
    challenge: &str,
    ids: &[ApplicationId],
    from: ApplicationState,
    to: ApplicationState,
    at: &str,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Err(wrong("name at least one application"));
    }
    let sql = format!(
        "UPDATE challenge_applications SET state = ?, updated_at = ? WHERE challenge_id = ? AND state = ? AND id IN ({})",
        placeholders(ids.len())
    );
    let mut values: Vec<rusqlite::types::Value> = vec![
        to.as_str().to_string().into(),
        at.to_string().into(),
        challenge.to_string().into(),
        from.as_str().to_string().into(),
    ];
    values.extend(ids.iter().map(|id| rusqlite::types::Value::Integer(*id)));
    let moved = conn.prepare_cached(&sql)?.execute(params_from_iter(values))?;
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    if moved != distinct.len() || distinct.len() != ids.len() {
        return Err(wrong(format!("every application named must be {from} (and named once)")));
    }
    Ok(())
}

/// The write of a move, after the phase check; the id of the record it created.
fn write(conn: &Connection, challenge: &str, change: &ChallengeChange, at: &str) -> Result<Option<i64>, StoreError> {
    match &change.write {
        ChallengeWrite::Apply { application, accept_until } => {
            if accept_until.is_some_and(|until| now() >= until) {
                return Err(wrong("applications closed at the deadline"));
            }
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO challenge_applications (challenge_id, team_name, lead_org, lead_user_id, proposal, state, submitted_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'submitted', ?6, ?6)",
                )?
                .execute(params![
                    challenge,
                    application.team_name,
                    application.lead_org,
                    application.lead_user_id,
                    application.proposal,
                    at
                ]);
            match inserted {
                Ok(_) => {}
                Err(err) if is_constraint(&err) => {
                    return Err(wrong(format!("{} has already applied to this challenge", application.lead_org)));
                }
                Err(err) => return Err(err.into()),
            }
            let id = conn.last_insert_rowid();
            for (position, member) in application.members.iter().enumerate() {
                conn.prepare_cached(
                    "INSERT INTO challenge_members (application_id, position, name, organisation, region_code, role) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    id,
                    position as i64,
                    member.name,
                    member.organisation,
                    member.region_code,
                    member.role.as_str()
                ])?;
            }
            Ok(Some(id))
        }
        ChallengeWrite::Withdraw { application_id, from } => {
            move_listed(conn, challenge, &[*application_id], *from, ApplicationState::Withdrawn, at)?;
            Ok(None)
        }
        ChallengeWrite::AppointReviewer { user_id, username, org } => {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO challenge_reviewers (challenge_id, user_id, username, org, appointed_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![challenge, user_id, username, org, at])?;
            if inserted == 0 {
                return Err(wrong(format!("{username} already reviews this challenge")));
            }
            Ok(None)
        }
        ChallengeWrite::Score { application_id, reviewer_id, scores } => {
            if state_of(conn, challenge, *application_id)? != ApplicationState::Submitted {
                return Err(wrong(format!("application {application_id} is no longer submitted")));
            }
            let reviews: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM challenge_reviewers WHERE challenge_id = ?1 AND user_id = ?2)",
                )?
                .query_row(params![challenge, reviewer_id], |r| r.get(0))?;
            if !reviews {
                return Err(wrong("only appointed reviewers score"));
            }
            let scored: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM challenge_scores WHERE application_id = ?1 AND reviewer_id = ?2)",
                )?
                .query_row(params![application_id, reviewer_id], |r| r.get(0))?;
            if scored {
                return Err(wrong("scores are fixed once submitted: this reviewer already scored this application"));
            }
            for (criterion, score) in scores {
                conn.prepare_cached(
                    "INSERT INTO challenge_scores (application_id, reviewer_id, criterion, score, submitted_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![application_id, reviewer_id, criterion, score, at])?;
            }
            Ok(None)
        }
        ChallengeWrite::Phase { .. } => Ok(None),
        ChallengeWrite::Race { application_ids } => {
            move_listed(conn, challenge, application_ids, ApplicationState::Submitted, ApplicationState::Racing, at)?;
            conn.prepare_cached(
                "UPDATE challenge_applications SET state = 'not_selected', updated_at = ?1 WHERE challenge_id = ?2 AND state = 'submitted'",
            )?
            .execute(params![at, challenge])?;
            Ok(None)
        }
        ChallengeWrite::AddMilestone { title, due_on } => {
            conn.prepare_cached(
                "INSERT INTO challenge_milestones (challenge_id, title, due_on, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![challenge, title, due_on.to_string(), at])?;
            Ok(Some(conn.last_insert_rowid()))
        }
        ChallengeWrite::FileReport { application_id, milestone_id, text, attachment, filed_by } => {
            if state_of(conn, challenge, *application_id)? != ApplicationState::Racing {
                return Err(wrong(format!("application {application_id} is no longer racing")));
            }
            let milestone: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM challenge_milestones WHERE id = ?1 AND challenge_id = ?2)",
                )?
                .query_row(params![milestone_id, challenge], |r| r.get(0))?;
            if !milestone {
                return Err(wrong(format!("milestone {milestone_id} is not one of this challenge")));
            }
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO challenge_reports (application_id, milestone_id, text, attachment, filed_by, filed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![application_id, milestone_id, text, attachment, filed_by, at]);
            match inserted {
                Ok(_) => Ok(Some(conn.last_insert_rowid())),
                Err(err) if is_constraint(&err) => Err(wrong("the team already reported on this milestone")),
                Err(err) => Err(err.into()),
            }
        }
        ChallengeWrite::DecideGate { report_id, passed, note, decided_by } => {
            let application: Option<ApplicationId> = conn
                .prepare_cached(
                    "SELECT r.application_id FROM challenge_reports r JOIN challenge_applications a ON a.id = r.application_id
                     WHERE r.id = ?1 AND a.challenge_id = ?2",
                )?
                .query_row(params![report_id, challenge], |r| r.get(0))
                .optional()?;
            let application =
                application.ok_or_else(|| wrong(format!("report {report_id} is not one of this challenge")))?;
            let decided = conn
                .prepare_cached(
                    "UPDATE challenge_reports SET passed = ?1, note = ?2, decided_by = ?3, decided_at = ?4 WHERE id = ?5 AND decided_at IS NULL",
                )?
                .execute(params![passed, note, decided_by, at, report_id])?;
            if decided == 0 {
                return Err(wrong(format!("report {report_id} was already decided")));
            }
            let to = if *passed { ApplicationState::Racing } else { ApplicationState::Eliminated };
            move_listed(conn, challenge, &[application], ApplicationState::Racing, to, at)?;
            Ok(None)
        }
        ChallengeWrite::Award { application_ids } => {
            move_listed(conn, challenge, application_ids, ApplicationState::Racing, ApplicationState::Awarded, at)?;
            Ok(None)
        }
    }
}

impl Challenges for SqliteStore {
    fn challenge_run(&self, challenge_id: ListingId) -> Result<ChallengeRun, StoreError> {
        self.read(|conn| load(conn, challenge_id))
    }

    fn apply_challenge_change(
        &self,
        change: ChallengeChange,
        audit: &dyn Fn(&ChallengeWritten) -> NewAudit,
    ) -> Result<ChallengeWritten, StoreError> {
        self.write(|tx| {
            let challenge = change.challenge_id.to_string();
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM listings WHERE id = ?1)")?
                .query_row([&challenge], |r| r.get(0))?;
            if !exists {
                return Err(StoreError::NotFound(change.challenge_id));
            }
            let at = fmt_utc(now());
            tx.prepare_cached(
                "INSERT INTO challenge_phases (listing_id, phase, version, updated_at) VALUES (?1, 'open', 0, ?2) ON CONFLICT DO NOTHING",
            )?
            .execute(params![challenge, at])?;
            let stored: String = tx
                .prepare_cached("SELECT phase FROM challenge_phases WHERE listing_id = ?1")?
                .query_row([&challenge], |r| r.get(0))?;
            let stored: Phase = stored.parse().map_err(corrupt)?;
            if stored != change.expected_phase {
                return Err(wrong(format!("the challenge is now {stored}, not {}", change.expected_phase)));
            }
            let created = write(tx, &challenge, &change, &at)?;
            let note = match &change.write {
                ChallengeWrite::Phase { note } => note.clone(),
                _ => None,
            };
            tx.prepare_cached(
                "UPDATE challenge_phases SET phase = ?1, version = version + 1, note = COALESCE(?2, note), updated_at = ?3 WHERE listing_id = ?4",
            )?
            .execute(params![change.phase.as_str(), note, at, challenge])?;
            let written = ChallengeWritten { run: load(tx, change.challenge_id)?, created };
            insert_audit(tx, audit(&written))?;
            Ok(written)
        })
    }

    fn application_challenge(&self, id: ApplicationId) -> Result<Option<ListingId>, StoreError> {
        self.read(|conn| {
            let found: Option<String> = conn
                .prepare_cached("SELECT challenge_id FROM challenge_applications WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            found.as_deref().map(parse_id).transpose()
        })
    }

    fn report_challenge(&self, id: ReportId) -> Result<Option<ListingId>, StoreError> {
        self.read(|conn| {
            let found: Option<String> = conn
                .prepare_cached(
                    "SELECT a.challenge_id FROM challenge_reports r JOIN challenge_applications a ON a.id = r.application_id WHERE r.id = ?1",
                )?
                .query_row([id], |r| r.get(0))
                .optional()?;
            found.as_deref().map(parse_id).transpose()
        })
    }

    fn applications_of(&self, orgs: &[String], limit: u32) -> Result<Vec<ApplicationEntry>, StoreError> {
        if orgs.is_empty() {
            return Ok(Vec::new());
        }
        let list = placeholders(orgs.len());
        let columns = APPLICATION_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {columns}, COALESCE(p.phase, 'open') FROM challenge_applications a
             LEFT JOIN challenge_phases p ON p.listing_id = a.challenge_id
             WHERE a.lead_org IN ({list}) OR a.id IN (SELECT application_id FROM challenge_members WHERE organisation IN ({list}))
             ORDER BY a.id DESC LIMIT {limit}"
        );
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&sql)?;
            let rows: Vec<(ApplicationRow, String)> = statement
                .query_map(params_from_iter(orgs.iter().chain(orgs)), |r| Ok((application_row(r)?, r.get(9)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter()
                .map(|(row, phase)| {
                    Ok(ApplicationEntry {
                        application: application_of(conn, row)?,
                        phase: phase.parse().map_err(corrupt)?,
                    })
                })
                .collect()
        })
    }

    fn reviewed_by(&self, user_id: UserId) -> Result<Vec<ListingId>, StoreError> {
        self.read(|conn| {
            let ids: Vec<String> = conn
                .prepare_cached(
                    "SELECT challenge_id FROM challenge_reviewers WHERE user_id = ?1 ORDER BY appointed_at DESC, challenge_id",
                )?
                .query_map([user_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.iter().map(|id| parse_id(id)).collect()
        })
    }

    fn challenge_phases(&self, ids: &[ListingId]) -> Result<Vec<(ListingId, Phase)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT listing_id, phase FROM challenge_phases WHERE listing_id IN ({}) ORDER BY listing_id",
            placeholders(ids.len())
        );
        self.read(|conn| {
            let rows: Vec<(String, String)> = conn
                .prepare_cached(&sql)?
                .query_map(params_from_iter(ids.iter().map(|id| id.to_string())), |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter().map(|(id, phase)| Ok((parse_id(&id)?, phase.parse().map_err(corrupt)?))).collect()
        })
    }
}
