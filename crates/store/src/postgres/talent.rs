//! `Talent` on PostgreSQL. Issuing locks the region's issuer-key row (`UPDATE … RETURNING`
//! takes its row lock) while it takes the next status entry; engagements of one talent are
//! written under `pg_advisory_xact_lock(18, hashtext(talent))`, so the commitments a new one is
//! checked against cannot change before it commits.

use postgres::{GenericClient, Row};
use xietong_domain::engagement::State;
use xietong_domain::{ListingId, OrgId};

use super::accounts::insert_audit;
use super::{Db, text};
use crate::talent::check_fits;
use crate::{
    Engagement, IssuerKey, NewAudit, NewCredential, NewEngagement, NewRecognitionRule, PostgresStore, RecognitionRule,
    Service, StoreError, StoredCredential, Talent,
};

fn now_ms() -> i64 {
    xietong_domain::booking::to_ms(time::OffsetDateTime::now_utc())
}

fn narrow<T: TryFrom<i64>>(value: i64) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::backend(format!("corrupt number {value}")))
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::backend(format!("corrupt {what}: {err}"))
}

const CREDENTIAL_COLUMNS: &str = "id, talent_id, issuer_region, level, field, valid_from_ms, valid_until_ms, status_list, status_index, document, issued_by, created_at_ms, revoked_at_ms, revoke_reason";

fn row_credential(row: &Row) -> Result<StoredCredential, StoreError> {
    let document: String = row.try_get(9)?;
    Ok(StoredCredential {
        id: row.try_get(0)?,
        talent_id: ListingId(row.try_get(1)?),
        issuer_region: row.try_get(2)?,
        level: row.try_get(3)?,
        field: row.try_get(4)?,
        valid_from: row.try_get(5)?,
        valid_until: row.try_get(6)?,
        status_list: row.try_get(7)?,
        status_index: narrow(row.try_get(8)?)?,
        document: serde_json::from_str(&document)?,
        issued_by: row.try_get(10)?,
        created_at: row.try_get(11)?,
        revoked_at: row.try_get(12)?,
        revoke_reason: row.try_get(13)?,
    })
}

fn load_credential<C: GenericClient>(db: &mut Db<'_, C>, id: &str) -> Result<Option<StoredCredential>, StoreError> {
    db.query_opt(&format!("SELECT {CREDENTIAL_COLUMNS} FROM talent_credentials WHERE id = $1"), &[&id])?
        .as_ref()
        .map(row_credential)
        .transpose()
}

const RULE_COLUMNS: &str =
    "id, verifier_region, issuer_region, issuer_level, recognised_level, created_by, created_at_ms";

fn row_rule(row: &Row) -> Result<RecognitionRule, StoreError> {
    Ok(RecognitionRule {
        id: row.try_get(0)?,
        verifier_region: row.try_get(1)?,
        issuer_region: row.try_get(2)?,
        issuer_level: row.try_get(3)?,
        recognised_level: row.try_get(4)?,
        created_by: row.try_get(5)?,
        created_at: row.try_get(6)?,
    })
}

const ENGAGEMENT_COLUMNS: &str = "id, talent_id, talent_region, sector, org_id, organisation, org_region, mode, start_date, end_date, weekdays, share_percent, state, version, proposed_by, created_at_ms, updated_at_ms";

fn row_engagement(row: &Row) -> Result<Engagement, StoreError> {
    let mode: String = row.try_get(7)?;
    let weekdays: String = row.try_get(10)?;
    let state: String = row.try_get(12)?;
    Ok(Engagement {
        id: row.try_get(0)?,
        talent_id: ListingId(row.try_get(1)?),
        talent_region: row.try_get(2)?,
        sector: row.try_get(3)?,
        org_id: OrgId(row.try_get(4)?),
        organisation: row.try_get(5)?,
        org_region: row.try_get(6)?,
        mode: mode.parse().map_err(|err| corrupt("engagement mode", err))?,
        start: row.try_get(8)?,
        end: row.try_get(9)?,
        weekdays: serde_json::from_str(&weekdays)?,
        share_percent: narrow(row.try_get(11)?)?,
        state: state.parse().map_err(|err| corrupt("engagement state", err))?,
        version: row.try_get(13)?,
        proposed_by: row.try_get(14)?,
        created_at: row.try_get(15)?,
        updated_at: row.try_get(16)?,
    })
}

fn load_engagement<C: GenericClient>(db: &mut Db<'_, C>, id: i64) -> Result<Option<Engagement>, StoreError> {
    db.query_opt(&format!("SELECT {ENGAGEMENT_COLUMNS} FROM engagements WHERE id = $1"), &[&id])?
        .as_ref()
        .map(row_engagement)
        .transpose()
}

fn talent_engagements<C: GenericClient>(
    db: &mut Db<'_, C>,
    talent_id: ListingId,
) -> Result<Vec<Engagement>, StoreError> {
    db.query(
        &format!("SELECT {ENGAGEMENT_COLUMNS} FROM engagements WHERE talent_id = $1 ORDER BY id DESC"),
        &[&talent_id.0],
    )?
    .iter()
    .map(row_engagement)
    .collect()
}

pub(crate) fn lock_talent<C: GenericClient>(db: &mut Db<'_, C>, talent_id: ListingId) -> Result<(), StoreError> {
    db.execute("SELECT pg_advisory_xact_lock(18, hashtext($1))", &[&talent_id.to_string()])?;
    Ok(())
}

/// Inserts an engagement in `state` if it fits the talent's commitments (`WrongState` with the
/// rule's message if not), inside the caller's transaction, which holds the talent's lock
/// (`lock_talent`): proposing one, or signing a deal of type dual appointment or employment.
pub(crate) fn insert_engagement<C: GenericClient>(
    db: &mut Db<'_, C>,
    new: &NewEngagement,
    state: State,
) -> Result<Engagement, StoreError> {
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
    check_fits(&talent_engagements(db, new.talent_id)?, &candidate)?;
    let row = db.query_one(
        "INSERT INTO engagements (talent_id, talent_region, sector, org_id, organisation, org_region, mode, start_date,
                     end_date, weekdays, share_percent, state, version, proposed_by, created_at_ms, updated_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $14, 1, $12, $13, $13) RETURNING id",
        &[
            &new.talent_id.0,
            &text(&new.talent_region),
            &text(&new.sector),
            &new.org_id.0,
            &text(&new.organisation),
            &text(&new.org_region),
            &new.mode.as_str(),
            &text(&new.start),
            &text(&new.end),
            &serde_json::to_string(&new.weekdays)?,
            &i64::from(new.share_percent),
            &text(&new.proposed_by),
            &at,
            &state.as_str(),
        ],
    )?;
    let id: i64 = row.try_get(0)?;
    load_engagement(db, id)?.ok_or_else(|| StoreError::backend("an engagement vanished"))
}

fn row_key(row: &Row) -> Result<IssuerKey, StoreError> {
    Ok(IssuerKey {
        region_code: row.try_get(0)?,
        public_key: row.try_get(1)?,
        sealed_secret: row.try_get(2)?,
        created_at: row.try_get(3)?,
    })
}

fn row_service(row: &Row) -> Result<Service, StoreError> {
    let regions: String = row.try_get(3)?;
    let documents: String = row.try_get(5)?;
    Ok(Service {
        code: row.try_get(0)?,
        name: row.try_get(1)?,
        area: row.try_get(2)?,
        regions: serde_json::from_str(&regions)?,
        cross_region: row.try_get(4)?,
        documents: serde_json::from_str(&documents)?,
        office: row.try_get(6)?,
        time_limit_days: narrow(row.try_get(7)?)?,
    })
}

impl Talent for PostgresStore {
    fn issuer_keys(&self) -> Result<Vec<IssuerKey>, StoreError> {
        self.read(|db| {
            db.query(
                "SELECT region_code, public_key, sealed_secret, created_at_ms FROM issuer_keys ORDER BY region_code",
                &[],
            )?
            .iter()
            .map(row_key)
            .collect()
        })
    }

    fn ensure_issuer_key(&self, key: IssuerKey) -> Result<IssuerKey, StoreError> {
        self.write(|db| {
            db.execute(
                "INSERT INTO issuer_keys (region_code, public_key, sealed_secret, created_at_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (region_code) DO NOTHING",
                &[&text(&key.region_code), &key.public_key, &key.sealed_secret, &key.created_at],
            )?;
            row_key(&db.query_one(
                "SELECT region_code, public_key, sealed_secret, created_at_ms FROM issuer_keys WHERE region_code = $1",
                &[&text(&key.region_code)],
            )?)
        })
    }

    fn issue_credential(
        &self,
        new: NewCredential,
        sign: &dyn Fn(u32) -> serde_json::Value,
        audit: &dyn Fn(&StoredCredential) -> NewAudit,
    ) -> Result<StoredCredential, StoreError> {
        self.write(|db| {
            if db.query_opt("SELECT 1 FROM listings WHERE id = $1", &[&new.talent_id.0])?.is_none() {
                return Err(StoreError::NotFound(new.talent_id));
            }
            let Some(row) = db.query_opt(
                "UPDATE issuer_keys SET next_index = next_index + 1 WHERE region_code = $1 RETURNING next_index - 1",
                &[&text(&new.issuer_region)],
            )?
            else {
                return Err(StoreError::WrongState(format!("region {} has no issuing key", new.issuer_region)));
            };
            let index: u32 = narrow(row.try_get(0)?)?;
            let document = sign(index);
            db.execute(
                "INSERT INTO talent_credentials (id, talent_id, issuer_region, level, field, valid_from_ms, valid_until_ms,
                     status_list, status_index, document, issued_by, created_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $3, $8, $9, $10, $11)",
                &[
                    &text(&new.id),
                    &new.talent_id.0,
                    &text(&new.issuer_region),
                    &text(&new.level),
                    &text(&new.field),
                    &new.valid_from,
                    &new.valid_until,
                    &i64::from(index),
                    &document.to_string(),
                    &text(&new.issued_by),
                    &now_ms(),
                ],
            )?;
            let stored = load_credential(db, &text(&new.id))?
                .ok_or_else(|| StoreError::backend("an issued credential vanished"))?;
            insert_audit(db, audit(&stored))?;
            Ok(stored)
        })
    }

    fn credential(&self, id: &str) -> Result<Option<StoredCredential>, StoreError> {
        self.read(|db| load_credential(db, &text(id)))
    }

    fn credentials_of(&self, talent_id: ListingId) -> Result<Vec<StoredCredential>, StoreError> {
        self.read(|db| {
            db.query(
                &format!(
                    "SELECT {CREDENTIAL_COLUMNS} FROM talent_credentials WHERE talent_id = $1 ORDER BY created_at_ms DESC, id"
                ),
                &[&talent_id.0],
            )?
            .iter()
            .map(row_credential)
            .collect()
        })
    }

    fn revoke_credential(
        &self,
        id: &str,
        reason: &str,
        audit: &dyn Fn(&StoredCredential) -> NewAudit,
    ) -> Result<StoredCredential, StoreError> {
        self.write(|db| {
            let id = text(id);
            let changed = db.execute(
                "UPDATE talent_credentials SET revoked_at_ms = $2, revoke_reason = $3 WHERE id = $1 AND revoked_at_ms IS NULL",
                &[&id, &now_ms(), &text(reason)],
            )?;
            let stored =
                load_credential(db, &id)?.ok_or_else(|| StoreError::WrongState(format!("no credential {id}")))?;
            if changed == 0 {
                return Err(StoreError::WrongState(format!("credential {id} is already revoked")));
            }
            insert_audit(db, audit(&stored))?;
            Ok(stored)
        })
    }

    fn revoked_entries(&self, status_list: &str) -> Result<Vec<u32>, StoreError> {
        self.read(|db| {
            db.query(
                "SELECT status_index FROM talent_credentials WHERE status_list = $1 AND revoked_at_ms IS NOT NULL ORDER BY status_index",
                &[&text(status_list)],
            )?
            .iter()
            .map(|row| narrow(row.try_get(0)?))
            .collect()
        })
    }

    fn recognition_rules(&self) -> Result<Vec<RecognitionRule>, StoreError> {
        self.read(|db| {
            db.query(
                &format!(
                    "SELECT {RULE_COLUMNS} FROM recognition_rules ORDER BY verifier_region, issuer_region, issuer_level"
                ),
                &[],
            )?
            .iter()
            .map(row_rule)
            .collect()
        })
    }

    fn add_recognition_rule(
        &self,
        rule: NewRecognitionRule,
        audit: &dyn Fn(&RecognitionRule) -> NewAudit,
    ) -> Result<RecognitionRule, StoreError> {
        self.write(|db| {
            let Some(row) = db.query_opt(
                &format!(
                    "INSERT INTO recognition_rules (verifier_region, issuer_region, issuer_level, recognised_level, created_by, created_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING {RULE_COLUMNS}"
                ),
                &[
                    &text(&rule.verifier_region),
                    &text(&rule.issuer_region),
                    &text(&rule.issuer_level),
                    &text(&rule.recognised_level),
                    &text(&rule.created_by),
                    &now_ms(),
                ],
            )?
            else {
                return Err(StoreError::Taken {
                    field: "rule",
                    value: format!("{} recognises {} {}", rule.verifier_region, rule.issuer_region, rule.issuer_level),
                });
            };
            let stored = row_rule(&row)?;
            insert_audit(db, audit(&stored))?;
            Ok(stored)
        })
    }

    fn remove_recognition_rule(
        &self,
        id: i64,
        audit: &dyn Fn(&RecognitionRule) -> NewAudit,
    ) -> Result<bool, StoreError> {
        self.write(|db| {
            let Some(row) =
                db.query_opt(&format!("DELETE FROM recognition_rules WHERE id = $1 RETURNING {RULE_COLUMNS}"), &[&id])?
            else {
                return Ok(false);
            };
            insert_audit(db, audit(&row_rule(&row)?))?;
            Ok(true)
        })
    }

    fn propose_engagement(
        &self,
        new: NewEngagement,
        audit: &dyn Fn(&Engagement) -> NewAudit,
    ) -> Result<Engagement, StoreError> {
        self.write(|db| {
            lock_talent(db, new.talent_id)?;
            let stored = insert_engagement(db, &new, State::Proposed)?;
            insert_audit(db, audit(&stored))?;
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
        self.write(|db| {
            let Some(talent) = db.query_opt("SELECT talent_id FROM engagements WHERE id = $1", &[&id])? else {
                return Err(StoreError::WrongState(format!("no engagement {id}")));
            };
            lock_talent(db, ListingId(talent.try_get(0)?))?;
            let current =
                load_engagement(db, id)?.ok_or_else(|| StoreError::WrongState(format!("no engagement {id}")))?;
            if current.version != expected_version {
                return Err(StoreError::Stale {
                    what: format!("engagement {id}"),
                    expected: expected_version,
                    actual: current.version,
                });
            }
            if to == State::Accepted {
                check_fits(&talent_engagements(db, current.talent_id)?, &current)?;
            }
            db.execute(
                "UPDATE engagements SET state = $2, version = version + 1, updated_at_ms = $3 WHERE id = $1",
                &[&id, &to.as_str(), &now_ms()],
            )?;
            let stored = load_engagement(db, id)?.ok_or_else(|| StoreError::backend("an engagement vanished"))?;
            insert_audit(db, audit(&stored))?;
            Ok(stored)
        })
    }

    fn engagement(&self, id: i64) -> Result<Option<Engagement>, StoreError> {
        self.read(|db| load_engagement(db, id))
    }

    fn engagements(&self, talent_id: Option<ListingId>) -> Result<Vec<Engagement>, StoreError> {
        self.read(|db| match talent_id {
            Some(talent) => talent_engagements(db, talent),
            None => db
                .query(&format!("SELECT {ENGAGEMENT_COLUMNS} FROM engagements ORDER BY id DESC"), &[])?
                .iter()
                .map(row_engagement)
                .collect(),
        })
    }

    fn put_services(&self, services: &[Service], audit: NewAudit) -> Result<usize, StoreError> {
        self.write(|db| {
            for service in services {
                db.execute(
                    "INSERT INTO services (code, name, area, regions, cross_region, documents, office, time_limit_days)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, area = excluded.area, regions = excluded.regions,
                         cross_region = excluded.cross_region, documents = excluded.documents, office = excluded.office,
                         time_limit_days = excluded.time_limit_days",
                    &[
                        &text(&service.code),
                        &text(&service.name),
                        &text(&service.area),
                        &serde_json::to_string(&service.regions)?,
                        &service.cross_region,
                        &text(&serde_json::to_string(&service.documents)?),
                        &text(&service.office),
                        &i64::from(service.time_limit_days),
                    ],
                )?;
            }
            insert_audit(db, audit)?;
            Ok(services.len())
        })
    }

    fn services(&self) -> Result<Vec<Service>, StoreError> {
        self.read(|db| {
            db.query(
                "SELECT code, name, area, regions, cross_region, documents, office, time_limit_days FROM services ORDER BY area, code",
                &[],
            )?
            .iter()
            .map(row_service)
            .collect()
        })
    }
}
