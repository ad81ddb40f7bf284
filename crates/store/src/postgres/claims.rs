//! `Claims` on PostgreSQL.

use postgres::{GenericClient, Row};

use super::accounts::insert_audit;
use super::{Db, is_unique_violation, now, text, texts};
use crate::{Claim, ClaimDecision, ClaimFilter, ClaimId, Claims, NewAudit, NewClaim, PostgresStore, StoreError};

const CLAIM_SELECT: &str =
    "SELECT c.id, c.org_id, o.name, o.region_code, c.user_id, u.username, c.uscc, c.note, c.state,
        c.version, c.decided_by, c.reason, c.created_at, c.decided_at
     FROM org_claims c JOIN orgs o ON o.id = c.org_id JOIN users u ON u.id = c.user_id";

fn row_claim(row: &Row) -> Result<Claim, StoreError> {
    let state: String = row.try_get(8)?;
    Ok(Claim {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        org_name: row.try_get(2)?,
        org_region: row.try_get(3)?,
        user_id: row.try_get(4)?,
        username: row.try_get(5)?,
        uscc: row.try_get(6)?,
        note: row.try_get(7)?,
        state: state.parse().map_err(StoreError::backend)?,
        version: row.try_get(9)?,
        decided_by: row.try_get(10)?,
        reason: row.try_get(11)?,
        created_at: row.try_get(12)?,
        decided_at: row.try_get(13)?,
    })
}

fn load<C: GenericClient>(db: &mut Db<'_, C>, id: ClaimId) -> Result<Option<Claim>, StoreError> {
    db.query_opt(&format!("{CLAIM_SELECT} WHERE c.id = $1"), &[&id])?.as_ref().map(row_claim).transpose()
}

impl Claims for PostgresStore {
    fn create_claim(&self, claim: NewClaim, audit: &dyn Fn(&Claim) -> NewAudit) -> Result<Claim, StoreError> {
        self.write(|db| {
            let exists: bool = db
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM orgs WHERE id = $1) AND EXISTS (SELECT 1 FROM users WHERE id = $2)",
                    &[&claim.org_id, &claim.user_id],
                )?
                .try_get(0)?;
            if !exists {
                return Err(StoreError::WrongState("the organisation or the user does not exist".into()));
            }
            let inserted = db.execute_in_savepoint(
                "INSERT INTO org_claims (org_id, user_id, uscc, note, state, version, reason, created_at)
                 VALUES ($1, $2, $3, $4, 'pending', 1, '', $5)",
                &[&claim.org_id, &claim.user_id, &text(&claim.uscc), &text(&claim.note), &now()],
            )?;
            match inserted {
                Ok(_) => {}
                Err(err) if is_unique_violation(&err) => {
                    return Err(StoreError::WrongState("you already have a pending claim on this organisation".into()));
                }
                Err(err) => return Err(err.into()),
            }
            let id: ClaimId = db
                .query_one(
                    "SELECT id FROM org_claims WHERE org_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT 1",
                    &[&claim.org_id, &claim.user_id],
                )?
                .try_get(0)?;
            let created = load(db, id)?.ok_or_else(|| StoreError::backend("the new claim vanished"))?;
            insert_audit(db, audit(&created))?;
            Ok(created)
        })
    }

    fn claim(&self, id: ClaimId) -> Result<Option<Claim>, StoreError> {
        self.read(|db| load(db, id))
    }

    fn claims(&self, filter: &ClaimFilter, limit: u32) -> Result<Vec<Claim>, StoreError> {
        let user = filter.user_id;
        let prefixes = filter.region_prefixes.as_ref().map(|p| texts(p));
        if prefixes.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let state = filter.state.map(|s| s.as_str().to_string());
        let sql = format!(
            "{CLAIM_SELECT}
             WHERE ($1::BIGINT IS NULL OR c.user_id = $1)
               AND ($2::TEXT[] IS NULL OR EXISTS (SELECT 1 FROM unnest($2::TEXT[]) p WHERE starts_with(o.region_code, p)))
               AND ($3::TEXT IS NULL OR c.state = $3)
             ORDER BY c.id DESC LIMIT {limit}"
        );
        self.read(|db| db.query(&sql, &[&user, &prefixes, &state])?.iter().map(row_claim).collect())
    }

    fn decide_claim(
        &self,
        decision: ClaimDecision,
        audit: &dyn Fn(&Claim) -> NewAudit,
    ) -> Result<Option<Claim>, StoreError> {
        self.write(|db| {
            // The row lock of the update makes a concurrent decision wait, then find the claim
            // no longer pending: exactly one wins.
            let updated = db.execute(
                "UPDATE org_claims SET state = $1, version = version + 1, decided_by = $2, reason = $3, decided_at = $4
                 WHERE id = $5 AND state = 'pending'",
                &[&decision.state.as_str(), &decision.decided_by, &text(&decision.reason), &now(), &decision.claim_id],
            )?;
            if updated == 0 {
                return Ok(None);
            }
            let claim = load(db, decision.claim_id)?.ok_or_else(|| StoreError::backend("the claim vanished"))?;
            if claim.state == xietong_domain::claim::ClaimState::Approved {
                db.execute("UPDATE users SET org_id = $1 WHERE id = $2", &[&claim.org_id, &claim.user_id])?;
            }
            insert_audit(db, audit(&claim))?;
            Ok(Some(claim))
        })
    }

    fn represented_orgs(&self, org_names: &[String]) -> Result<Vec<String>, StoreError> {
        if org_names.is_empty() {
            return Ok(Vec::new());
        }
        let names = texts(org_names);
        self.read(|db| {
            db.query(
                "SELECT DISTINCT o.name FROM orgs o JOIN users u ON u.org_id = o.id
                 WHERE NOT u.disabled AND o.name = ANY($1)",
                &[&names],
            )?
            .iter()
            .map(|row| Ok(row.try_get(0)?))
            .collect()
        })
    }
}
