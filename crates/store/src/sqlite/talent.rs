//! `Talent` on SQLite. Every write runs in the one writer's `BEGIN IMMEDIATE` transaction: the
//! status-list entry taken for a credential and the commitments an engagement is checked
//! against cannot change before it commits.

use rusqlite::{Connection, OptionalExtension, Row, params};
use xietong_domain::ListingId;
use xietong_domain::engagement::State;

use super::SqliteStore;
use super::accounts::insert_audit;
use crate::talent::check_fits;
use crate::{
    Engagement, IssuerKey, NewAudit, NewCredential, NewEngagement, NewRecognitionRule, RecognitionRule, Service,
    StoreError, StoredCredential, Talent,
};

fn now_ms() -> i64 {
    xietong_domain::booking::to_ms(time::OffsetDateTime::now_utc())
}

fn conversion(idx: usize, err: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(err))
}

fn parse_listing(idx: usize, text: &str) -> rusqlite::Result<ListingId> {
    text.parse::<ListingId>().map_err(|err| conversion(idx, err))
}

fn parse_json<T: serde::de::DeserializeOwned>(idx: usize, text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|err| conversion(idx, err))
}

fn parse_with<T>(idx: usize, text: &str, parse: impl Fn(&str) -> Result<T, String>) -> rusqlite::Result<T> {
    parse(text).map_err(|err| conversion(idx, std::io::Error::other(err)))
}

const CREDENTIAL_COLUMNS: &str = "id, talent_id, issuer_region, level, field, valid_from_ms, valid_until_ms, status_list, status_index, document, issued_by, created_at_ms, revoked_at_ms, revoke_reason";

fn row_credential(row: &Row<'_>) -> rusqlite::Result<StoredCredential> {
    Ok(StoredCredential {
        id: row.get(0)?,
        talent_id: parse_listing(1, &row.get::<_, String>(1)?)?,
        issuer_region: row.get(2)?,
        level: row.get(3)?,
        field: row.get(4)?,
        valid_from: row.get(5)?,
        valid_until: row.get(6)?,
        status_list: row.get(7)?,
        status_index: row.get(8)?,
        document: parse_json(9, &row.get::<_, String>(9)?)?,
        issued_by: row.get(10)?,
        created_at: row.get(11)?,
        revoked_at: row.get(12)?,
        revoke_reason: row.get(13)?,
    })
}

fn load_credential(conn: &Connection, id: &str) -> Result<Option<StoredCredential>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {CREDENTIAL_COLUMNS} FROM talent_credentials WHERE id = ?1"))?
        .query_row([id], row_credential)
        .optional()?)
}

const RULE_COLUMNS: &str =
    "id, verifier_region, issuer_region, issuer_level, recognised_level, created_by, created_at_ms";

fn row_rule(row: &Row<'_>) -> rusqlite::Result<RecognitionRule> {
    Ok(RecognitionRule {
        id: row.get(0)?,
        verifier_region: row.get(1)?,
        issuer_region: row.get(2)?,
        issuer_level: row.get(3)?,
        recognised_level: row.get(4)?,
        created_by: row.get(5)?,
        created_at: row.get(6)?,
    })
}

const ENGAGEMENT_COLUMNS: &str = "id, talent_id, talent_region, sector, org_id, organisation, org_region, mode, start_date, end_date, weekdays, share_percent, state, version, proposed_by, created_at_ms, updated_at_ms";

fn row_engagement(row: &Row<'_>) -> rusqlite::Result<Engagement> {
    Ok(Engagement {
        id: row.get(0)?,
        talent_id: parse_listing(1, &row.get::<_, String>(1)?)?,
        talent_region: row.get(2)?,
        sector: row.get(3)?,
        org_id: xietong_domain::OrgId(row.get(4)?),
        organisation: row.get(5)?,
        org_region: row.get(6)?,
        mode: parse_with(7, &row.get::<_, String>(7)?, str::parse)?,
        start: row.get(8)?,
        end: row.get(9)?,
        weekdays: parse_json(10, &row.get::<_, String>(10)?)?,
        share_percent: row.get(11)?,
        state: parse_with(12, &row.get::<_, String>(12)?, str::parse)?,
        version: row.get(13)?,
        proposed_by: row.get(14)?,
        created_at: row.get(15)?,
        updated_at: row.get(16)?,
    })
}

fn load_engagement(conn: &Connection, id: i64) -> Result<Option<Engagement>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {ENGAGEMENT_COLUMNS} FROM engagements WHERE id = ?1"))?
        .query_row([id], row_engagement)
        .optional()?)
}

fn talent_engagements(conn: &Connection, talent_id: ListingId) -> Result<Vec<Engagement>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {ENGAGEMENT_COLUMNS} FROM engagements WHERE talent_id = ?1 ORDER BY id DESC"))?
        .query_map([talent_id.to_string()], row_engagement)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Inserts an engagement in `state` if it fits the talent's commitments (`WrongState` with the
/// rule's message if not), inside the caller's transaction: proposing one, or signing a deal of
/// type dual appointment or employment.
pub(crate) fn insert_engagement(tx: &Connection, new: &NewEngagement, state: State) -> Result<Engagement, StoreError> {
    let at = now_ms();
    let candidate = Engagement {
        id: 0,
        talent_id: new.talent_id,
        talent_region: new.talent_region.clone(),
        sector: new.sector.clone(),
        org_id: new.org_id,
        organisation: new.organisation.clone(),
        org_region: new.org_region.clone(),
        mode: new.mode,
        start: new.start.clone(),
        end: new.end.clone(),
        weekdays: new.weekdays.clone(),
        share_percent: new.share_percent,
        state,
        version: 1,
        proposed_by: new.proposed_by.clone(),
        created_at: at,
        updated_at: at,
    };
    check_fits(&talent_engagements(tx, new.talent_id)?, &candidate)?;
    let id: i64 = tx
                .prepare_cached(
                    "INSERT INTO engagements (talent_id, talent_region, sector, org_id, organisation, org_region, mode, start_date,
                         end_date, weekdays, share_percent, state, version, proposed_by, created_at_ms, updated_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?14, 1, ?12, ?13, ?13) RETURNING id",
                )?
                .query_row(
                    params![
                        new.talent_id.to_string(),
                        new.talent_region,
                        new.sector,
                        new.org_id.0,
                        new.organisation,
                        new.org_region,
                        new.mode.as_str(),
                        new.start,
                        new.end,
                        serde_json::to_string(&new.weekdays)?,
                        new.share_percent,
                        new.proposed_by,
                        at,
                        state.as_str()
                    ],
                    |r| r.get(0),
                )?;
    load_engagement(tx, id)?.ok_or_else(|| StoreError::backend("an engagement vanished"))
}

fn row_service(row: &Row<'_>) -> rusqlite::Result<Service> {
    Ok(Service {
        code: row.get(0)?,
        name: row.get(1)?,
        area: row.get(2)?,
        regions: parse_json(3, &row.get::<_, String>(3)?)?,
        cross_region: row.get(4)?,
        documents: parse_json(5, &row.get::<_, String>(5)?)?,
        office: row.get(6)?,
        time_limit_days: row.get(7)?,
    })
}

impl Talent for SqliteStore {
    fn issuer_keys(&self) -> Result<Vec<IssuerKey>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT region_code, public_key, sealed_secret, created_at_ms FROM issuer_keys ORDER BY region_code",
            )?;
            let rows = statement.query_map([], |r| {
                Ok(IssuerKey {
                    region_code: r.get(0)?,
                    public_key: r.get(1)?,
                    sealed_secret: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn ensure_issuer_key(&self, key: IssuerKey) -> Result<IssuerKey, StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO issuer_keys (region_code, public_key, sealed_secret, created_at_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (region_code) DO NOTHING",
            )?
            .execute(params![key.region_code, key.public_key, key.sealed_secret, key.created_at])?;
            Ok(tx
                .prepare_cached(
                    "SELECT region_code, public_key, sealed_secret, created_at_ms FROM issuer_keys WHERE region_code = ?1",
                )?
                .query_row([&key.region_code], |r| {
                    Ok(IssuerKey { region_code: r.get(0)?, public_key: r.get(1)?, sealed_secret: r.get(2)?, created_at: r.get(3)? })
                })?)
        })
    }

    fn issue_credential(
        &self,
        new: NewCredential,
        sign: &dyn Fn(u32) -> serde_json::Value,
        audit: &dyn Fn(&StoredCredential) -> NewAudit,
    ) -> Result<StoredCredential, StoreError> {
        self.write(|tx| {
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM listings WHERE id = ?1)")?
                .query_row([new.talent_id.to_string()], |r| r.get(0))?;
            if !exists {
                return Err(StoreError::NotFound(new.talent_id));
            }
            let index: Option<u32> = tx
                .prepare_cached(
                    "UPDATE issuer_keys SET next_index = next_index + 1 WHERE region_code = ?1 RETURNING next_index - 1",
                )?
                .query_row([&new.issuer_region], |r| r.get(0))
                .optional()?;
            let index = index.ok_or_else(|| StoreError::WrongState(format!("region {} has no issuing key", new.issuer_region)))?;
            let document = sign(index);
            tx.prepare_cached(
                "INSERT INTO talent_credentials (id, talent_id, issuer_region, level, field, valid_from_ms, valid_until_ms,
                     status_list, status_index, document, issued_by, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?3, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                new.id,
                new.talent_id.to_string(),
                new.issuer_region,
                new.level,
                new.field,
                new.valid_from,
                new.valid_until,
                index,
                document.to_string(),
                new.issued_by,
                now_ms()
            ])?;
            let stored = load_credential(tx, &new.id)?.ok_or_else(|| StoreError::backend("an issued credential vanished"))?;
            insert_audit(tx, audit(&stored))?;
            Ok(stored)
        })
    }

    fn credential(&self, id: &str) -> Result<Option<StoredCredential>, StoreError> {
        self.read(|conn| load_credential(conn, id))
    }

    fn credentials_of(&self, talent_id: ListingId) -> Result<Vec<StoredCredential>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {CREDENTIAL_COLUMNS} FROM talent_credentials WHERE talent_id = ?1 ORDER BY created_at_ms DESC, id"
                ))?
                .query_map([talent_id.to_string()], row_credential)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn revoke_credential(
        &self,
        id: &str,
        reason: &str,
        audit: &dyn Fn(&StoredCredential) -> NewAudit,
    ) -> Result<StoredCredential, StoreError> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE talent_credentials SET revoked_at_ms = ?2, revoke_reason = ?3 WHERE id = ?1 AND revoked_at_ms IS NULL",
                )?
                .execute(params![id, now_ms(), reason])?;
            let stored = load_credential(tx, id)?
                .ok_or_else(|| StoreError::WrongState(format!("no credential {id}")))?;
            if changed == 0 {
                return Err(StoreError::WrongState(format!("credential {id} is already revoked")));
            }
            insert_audit(tx, audit(&stored))?;
            Ok(stored)
        })
    }

    fn revoked_entries(&self, status_list: &str) -> Result<Vec<u32>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT status_index FROM talent_credentials WHERE status_list = ?1 AND revoked_at_ms IS NOT NULL ORDER BY status_index",
                )?
                .query_map([status_list], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn recognition_rules(&self) -> Result<Vec<RecognitionRule>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {RULE_COLUMNS} FROM recognition_rules ORDER BY verifier_region, issuer_region, issuer_level"
                ))?
                .query_map([], row_rule)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn add_recognition_rule(
        &self,
        rule: NewRecognitionRule,
        audit: &dyn Fn(&RecognitionRule) -> NewAudit,
    ) -> Result<RecognitionRule, StoreError> {
        self.write(|tx| {
            let id: Option<i64> = tx
                .prepare_cached(
                    "INSERT INTO recognition_rules (verifier_region, issuer_region, issuer_level, recognised_level, created_by, created_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING RETURNING id",
                )?
                .query_row(
                    params![rule.verifier_region, rule.issuer_region, rule.issuer_level, rule.recognised_level, rule.created_by, now_ms()],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else {
                return Err(StoreError::Taken {
                    field: "rule",
                    value: format!("{} recognises {} {}", rule.verifier_region, rule.issuer_region, rule.issuer_level),
                });
            };
            let stored = tx
                .prepare_cached(&format!("SELECT {RULE_COLUMNS} FROM recognition_rules WHERE id = ?1"))?
                .query_row([id], row_rule)?;
            insert_audit(tx, audit(&stored))?;
            Ok(stored)
        })
    }

    fn remove_recognition_rule(
        &self,
        id: i64,
        audit: &dyn Fn(&RecognitionRule) -> NewAudit,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let Some(stored) = tx
                .prepare_cached(&format!("DELETE FROM recognition_rules WHERE id = ?1 RETURNING {RULE_COLUMNS}"))?
                .query_row([id], row_rule)
                .optional()?
            else {
                return Ok(false);
            };
            insert_audit(tx, audit(&stored))?;
            Ok(true)
        })
    }

    fn propose_engagement(
        &self,
        new: NewEngagement,
        audit: &dyn Fn(&Engagement) -> NewAudit,
    ) -> Result<Engagement, StoreError> {
        self.write(|tx| {
            let stored = insert_engagement(tx, &new, State::Proposed)?;
            insert_audit(tx, audit(&stored))?;
            Ok(stored)
        })
    }

    fn move_engagement(
        &self,
        id: i64,
        expected_version: i64,
        to: State,
        audit: &dyn Fn(&Engagement) -> NewAudit,
    ) -> Result<Engagement, StoreError> {
        self.write(|tx| {
            let current =
                load_engagement(tx, id)?.ok_or_else(|| StoreError::WrongState(format!("no engagement {id}")))?;
            if current.version != expected_version {
                return Err(StoreError::Stale {
                    what: format!("engagement {id}"),
                    expected: expected_version,
                    actual: current.version,
                });
            }
            if to == State::Accepted {
                check_fits(&talent_engagements(tx, current.talent_id)?, &current)?;
            }
            tx.prepare_cached(
                "UPDATE engagements SET state = ?2, version = version + 1, updated_at_ms = ?3 WHERE id = ?1",
            )?
            .execute(params![id, to.as_str(), now_ms()])?;
            let stored = load_engagement(tx, id)?.ok_or_else(|| StoreError::backend("an engagement vanished"))?;
            insert_audit(tx, audit(&stored))?;
            Ok(stored)
        })
    }

    fn engagement(&self, id: i64) -> Result<Option<Engagement>, StoreError> {
        self.read(|conn| load_engagement(conn, id))
    }

    fn engagements(&self, talent_id: Option<ListingId>) -> Result<Vec<Engagement>, StoreError> {
        self.read(|conn| match talent_id {
            Some(talent) => talent_engagements(conn, talent),
            None => Ok(conn
                .prepare_cached(&format!("SELECT {ENGAGEMENT_COLUMNS} FROM engagements ORDER BY id DESC"))?
                .query_map([], row_engagement)?
                .collect::<rusqlite::Result<_>>()?),
        })
    }

    fn put_services(&self, services: &[Service], audit: NewAudit) -> Result<usize, StoreError> {
        self.write(|tx| {
            let mut statement = tx.prepare_cached(
                "INSERT INTO services (code, name, area, regions, cross_region, documents, office, time_limit_days)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, area = excluded.area, regions = excluded.regions,
                     cross_region = excluded.cross_region, documents = excluded.documents, office = excluded.office,
                     time_limit_days = excluded.time_limit_days",
            )?;
            for service in services {
                statement.execute(params![
                    service.code,
                    service.name,
                    service.area,
                    serde_json::to_string(&service.regions)?,
                    service.cross_region,
                    serde_json::to_string(&service.documents)?,
                    service.office,
                    service.time_limit_days
                ])?;
            }
            drop(statement);
            insert_audit(tx, audit)?;
            Ok(services.len())
        })
    }

    fn services(&self) -> Result<Vec<Service>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT code, name, area, regions, cross_region, documents, office, time_limit_days FROM services ORDER BY area, code",
                )?
                .query_map([], row_service)?
                .collect::<rusqlite::Result<_>>()?)
        })
    }
}
