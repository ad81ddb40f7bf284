//! `Claims` on SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use xietong_domain::claim::ClaimState;

use super::accounts::insert_audit;
use super::{SqliteStore, fmt_utc, now, parse_time, placeholders};
use crate::{Claim, ClaimDecision, ClaimFilter, ClaimId, Claims, NewAudit, NewClaim, StoreError};

const CLAIM_SELECT: &str =
    "SELECT c.id, c.org_id, o.name, o.region_code, c.user_id, u.username, c.uscc, c.note, c.state,
        c.version, c.decided_by, c.reason, c.created_at, c.decided_at
     FROM org_claims c JOIN orgs o ON o.id = c.org_id JOIN users u ON u.id = c.user_id";

fn row_claim(row: &Row<'_>) -> rusqlite::Result<(Claim, String, String, Option<String>)> {
    let claim = Claim {
        id: row.get(0)?,
        org_id: row.get(1)?,
        org_name: row.get(2)?,
        org_region: row.get(3)?,
        user_id: row.get(4)?,
        username: row.get(5)?,
        uscc: row.get(6)?,
        note: row.get(7)?,
        state: ClaimState::Pending,
        version: row.get(9)?,
        decided_by: row.get(10)?,
        reason: row.get(11)?,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        decided_at: None,
    };
    Ok((claim, row.get(8)?, row.get(12)?, row.get(13)?))
}

fn complete(
    (mut claim, state, created_at, decided_at): (Claim, String, String, Option<String>),
) -> Result<Claim, StoreError> {
    claim.state = state.parse().map_err(StoreError::backend)?;
    claim.created_at = parse_time(&created_at)?;
    claim.decided_at = decided_at.as_deref().map(parse_time).transpose()?;
    Ok(claim)
}

fn load(conn: &Connection, id: ClaimId) -> Result<Option<Claim>, StoreError> {
    let found =
        conn.prepare_cached(&format!("{CLAIM_SELECT} WHERE c.id = ?1"))?.query_row([id], row_claim).optional()?;
    found.map(complete).transpose()
}

impl Claims for SqliteStore {
    fn create_claim(&self, claim: NewClaim, audit: &dyn Fn(&Claim) -> NewAudit) -> Result<Claim, StoreError> {
        self.write(|tx| {
            let exists: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1) AND EXISTS (SELECT 1 FROM users WHERE id = ?2)",
                )?
                .query_row(params![claim.org_id, claim.user_id], |r| r.get(0))?;
            if !exists {
                return Err(StoreError::WrongState("the organisation or the user does not exist".into()));
            }
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO org_claims (org_id, user_id, uscc, note, state, version, reason, created_at)
                     VALUES (?1, ?2, ?3, ?4, 'pending', 1, '', ?5)",
                )?
                .execute(params![claim.org_id, claim.user_id, claim.uscc, claim.note, fmt_utc(now())]);
            match inserted {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(error, _))
                    if error.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    return Err(StoreError::WrongState("you already have a pending claim on this organisation".into()));
                }
                Err(other) => return Err(other.into()),
            }
            let created =
                load(tx, tx.last_insert_rowid())?.ok_or_else(|| StoreError::backend("the new claim vanished"))?;
            insert_audit(tx, audit(&created))?;
            Ok(created)
        })
    }

    fn claim(&self, id: ClaimId) -> Result<Option<Claim>, StoreError> {
        self.read(|conn| load(conn, id))
    }

    fn claims(&self, filter: &ClaimFilter, limit: u32) -> Result<Vec<Claim>, StoreError> {
        let mut clauses = Vec::new();
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(user) = filter.user_id {
            clauses.push("c.user_id = ?".to_string());
            values.push(rusqlite::types::Value::Integer(user.0));
        }
        if let Some(prefixes) = &filter.region_prefixes {
            if prefixes.is_empty() {
                return Ok(Vec::new());
            }
            clauses.push(format!("({})", vec!["o.region_code LIKE ? || '%'"; prefixes.len()].join(" OR ")));
            values.extend(prefixes.iter().map(|p| rusqlite::types::Value::Text(p.clone())));
        }
        if let Some(state) = filter.state {
            clauses.push("c.state = ?".into());
            values.push(rusqlite::types::Value::Text(state.as_str().into()));
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let sql = format!("{CLAIM_SELECT} {where_sql} ORDER BY c.id DESC LIMIT {limit}");
        self.read(|conn| {
            let rows: Vec<_> = conn
                .prepare_cached(&sql)?
                .query_map(params_from_iter(values.iter()), row_claim)?
                .collect::<rusqlite::Result<_>>()?;
            rows.into_iter().map(complete).collect()
        })
    }

    fn decide_claim(
        &self,
        decision: ClaimDecision,
        audit: &dyn Fn(&Claim) -> NewAudit,
    ) -> Result<Option<Claim>, StoreError> {
        self.write(|tx| {
            let updated = tx
                .prepare_cached(
                    "UPDATE org_claims SET state = ?1, version = version + 1, decided_by = ?2, reason = ?3, decided_at = ?4
                     WHERE id = ?5 AND state = 'pending'",
                )?
                .execute(params![
                    decision.state.as_str(),
                    decision.decided_by,
                    decision.reason,
                    fmt_utc(now()),
                    decision.claim_id
                ])?;
            if updated == 0 {
                return Ok(None);
            }
            let claim = load(tx, decision.claim_id)?.ok_or_else(|| StoreError::backend("the claim vanished"))?;
            if claim.state == ClaimState::Approved {
                tx.prepare_cached("UPDATE users SET org_id = ?1 WHERE id = ?2")?.execute(params![claim.org_id, claim.user_id])?;
            }
            insert_audit(tx, audit(&claim))?;
            Ok(Some(claim))
        })
    }

    fn represented_orgs(&self, org_names: &[String]) -> Result<Vec<String>, StoreError> {
        if org_names.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT DISTINCT o.name FROM orgs o JOIN users u ON u.org_id = o.id
             WHERE u.disabled = 0 AND o.name IN ({})",
            placeholders(org_names.len())
        );
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&sql)?
                .query_map(params_from_iter(org_names.iter()), |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?)
        })
    }
}
