//! `Accounts` on SQLite: writes through the writer connection, reads through the reader pool.

use std::fmt::Display;
use std::str::FromStr;

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use time::OffsetDateTime;
use xietong_domain::{Listing, ListingId, OrgId, Scope, Status, UserId};

use super::{SqliteStore, fmt_utc, now, parse_time, placeholders};
use crate::{
    ApiToken, AuditEntry, AuditFilter, AuditTrail, Collaboration, Credentials, Identity, LoginFailures, NewApiToken,
    NewAudit, NewOrg, NewUser, Org, Review, ReviewDecision, Session, StoreError, User,
};

const ORG_COLUMNS: &str = "id, name, kind, region_code, created_at";
const USER_COLUMNS: &str = "id, username, display_name, role, org_id, region_code, password_hash, disabled, created_at";
const SESSION_COLUMNS: &str = "token_hash, user_id, csrf_token, created_at, expires_at, ip";
const TOKEN_COLUMNS: &str = "id, user_id, name, token_hash, scopes, created_at, expires_at, revoked_at, last_used_at";
const REVIEW_COLUMNS: &str = "id, listing_id, reviewer_id, approved, reason, at";
const AUDIT_COLUMNS: &str = "seq, at, actor_id, actor, action, target, region_code, ip, detail";

/// A column that failed to parse, as the error row mappers return.
fn corrupt(idx: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, message.into())
}

fn parsed<T>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    let text: String = row.get(idx)?;
    text.parse().map_err(|err| corrupt(idx, format!("{text:?}: {err}")))
}

fn time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<OffsetDateTime> {
    let text: String = row.get(idx)?;
    parse_time(&text).map_err(|err| corrupt(idx, err.to_string()))
}

fn time_opt(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<OffsetDateTime>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|text| parse_time(&text).map_err(|err| corrupt(idx, err.to_string()))).transpose()
}

fn row_org(row: &Row<'_>) -> rusqlite::Result<Org> {
    Ok(Org {
        id: row.get(0)?,
        name: row.get(1)?,
        kind: parsed(row, 2)?,
        region_code: row.get(3)?,
        created_at: time_at(row, 4)?,
    })
}

fn row_user(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        display_name: row.get(2)?,
        role: parsed(row, 3)?,
        org_id: row.get(4)?,
        region_code: row.get(5)?,
        password_hash: row.get(6)?,
        disabled: row.get(7)?,
        created_at: time_at(row, 8)?,
    })
}

fn row_session(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        token_hash: row.get(0)?,
        user_id: row.get(1)?,
        csrf_token: row.get(2)?,
        created_at: time_at(row, 3)?,
        expires_at: time_at(row, 4)?,
        ip: row.get(5)?,
    })
}

fn fmt_scopes(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

fn row_token(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    let scopes: String = row.get(4)?;
    let scopes = scopes
        .split_whitespace()
        .map(|s| s.parse::<Scope>().map_err(|err| corrupt(4, err)))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ApiToken {
        id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        token_hash: row.get(3)?,
        scopes,
        created_at: time_at(row, 5)?,
        expires_at: time_opt(row, 6)?,
        revoked_at: time_opt(row, 7)?,
        last_used_at: time_opt(row, 8)?,
    })
}

fn row_review(row: &Row<'_>) -> rusqlite::Result<Review> {
    Ok(Review {
        id: row.get(0)?,
        listing_id: parsed(row, 1)?,
        reviewer_id: row.get(2)?,
        approved: row.get(3)?,
        reason: row.get(4)?,
        at: time_at(row, 5)?,
    })
}

fn row_audit(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let detail: String = row.get(8)?;
    Ok(AuditEntry {
        seq: row.get(0)?,
        at: time_at(row, 1)?,
        actor_id: row.get(2)?,
        actor: row.get(3)?,
        action: row.get(4)?,
        target: row.get(5)?,
        region_code: row.get(6)?,
        ip: row.get(7)?,
        detail: serde_json::from_str(&detail).map_err(|err| corrupt(8, format!("audit detail: {err}")))?,
    })
}

/// Whether the statement failed on a UNIQUE (or PRIMARY KEY) constraint.
fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Runs a query binding `values` and collects the mapped rows.
fn query_all<T>(
    conn: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(values, map)?;
    Ok(rows.collect::<rusqlite::Result<Vec<T>>>()?)
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Identity for SqliteStore {
    fn create_org(&self, org: NewOrg, audit: &dyn Fn(&Org) -> NewAudit) -> Result<Org, StoreError> {
        self.write(|tx| {
            let created_at = now();
            let inserted = tx
                .prepare_cached("INSERT INTO orgs (name, kind, region_code, created_at) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![org.name, org.kind.as_str(), org.region_code, fmt_utc(created_at)]);
            match inserted {
                Ok(_) => {}
                Err(err) if is_unique_violation(&err) => {
                    return Err(StoreError::Taken { field: "name", value: org.name });
                }
                Err(err) => return Err(err.into()),
            }
            let org = Org {
                id: OrgId(tx.last_insert_rowid()),
                name: org.name,
                kind: org.kind,
                region_code: org.region_code,
                created_at,
            };
            insert_audit(tx, audit(&org))?;
            Ok(org)
        })
    }

    fn org(&self, id: OrgId) -> Result<Option<Org>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?1"))?
                .query_row([id], row_org)
                .optional()?)
        })
    }

    fn org_by_name(&self, name: &str) -> Result<Option<Org>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE name = ?1"))?
                .query_row([name], row_org)
                .optional()?)
        })
    }

    fn orgs(&self) -> Result<Vec<Org>, StoreError> {
        self.read(|conn| query_all(conn, &format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY name, id"), [], row_org))
    }

    fn create_user(
        &self,
        user: NewUser,
        appointed_by: &[OrgId],
        audit: &dyn Fn(&User) -> NewAudit,
    ) -> Result<User, StoreError> {
        self.write(|tx| {
            let created_at = now();
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO users (username, display_name, role, org_id, region_code, password_hash, disabled, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
                )?
                .execute(params![
                    user.username,
                    user.display_name,
                    user.role.as_str(),
                    user.org_id,
                    user.region_code,
                    user.password_hash,
                    fmt_utc(created_at),
                ]);
            match inserted {
                Ok(_) => {}
                Err(err) if is_unique_violation(&err) => {
                    return Err(StoreError::Taken { field: "username", value: user.username });
                }
                Err(err) => return Err(err.into()),
            }
            let user = User {
                id: UserId(tx.last_insert_rowid()),
                username: user.username,
                display_name: user.display_name,
                role: user.role,
                org_id: user.org_id,
                region_code: user.region_code,
                password_hash: user.password_hash,
                disabled: false,
                created_at,
            };
            for org_id in appointed_by {
                insert_appointment(tx, user.id, *org_id)?;
            }
            insert_audit(tx, audit(&user))?;
            Ok(user)
        })
    }

    fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                .query_row([id], row_user)
                .optional()?)
        })
    }

    fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"))?
                .query_row([username], row_user)
                .optional()?)
        })
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.read(|conn| query_all(conn, &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"), [], row_user))
    }

    fn set_password(&self, user_id: UserId, password_hash: &str, audit: NewAudit) -> Result<(), StoreError> {
        self.write(|tx| {
            let updated = tx
                .prepare_cached("UPDATE users SET password_hash = ?1 WHERE id = ?2")?
                .execute(params![password_hash, user_id])?;
            if updated == 0 {
                return Err(StoreError::backend(format!("user {user_id} does not exist")));
            }
            insert_audit(tx, audit)?;
            Ok(())
        })
    }

    fn disable_user(&self, user_id: UserId, erase: &[ListingId], audit: NewAudit) -> Result<(), StoreError> {
        self.write(|tx| {
            for id in erase {
                super::delete_listing(tx, *id)?;
            }
            let updated = tx.prepare_cached("UPDATE users SET disabled = 1 WHERE id = ?1")?.execute([user_id])?;
            if updated == 0 {
                return Err(StoreError::backend(format!("user {user_id} does not exist")));
            }
            tx.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?.execute([user_id])?;
            tx.prepare_cached("UPDATE api_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL")?
                .execute(params![fmt_utc(now()), user_id])?;
            insert_audit(tx, audit)?;
            Ok(())
        })
    }

    fn appoint(&self, user_id: UserId, org_id: OrgId, audit: NewAudit) -> Result<(), StoreError> {
        self.write(|tx| {
            insert_appointment(tx, user_id, org_id)?;
            insert_audit(tx, audit)?;
            Ok(())
        })
    }

    fn appointments(&self, user_id: UserId) -> Result<Vec<Org>, StoreError> {
        self.read(|conn| {
            query_all(
                conn,
                "SELECT o.id, o.name, o.kind, o.region_code, o.created_at
                 FROM appointments a JOIN orgs o ON o.id = a.org_id
                 WHERE a.user_id = ?1 ORDER BY o.name, o.id",
                [user_id],
                row_org,
            )
        })
    }
}

impl Credentials for SqliteStore {
    fn create_session(&self, session: Session, audit: NewAudit) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, ip)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                session.token_hash,
                session.user_id,
                session.csrf_token,
                fmt_utc(session.created_at),
                fmt_utc(session.expires_at),
                session.ip,
            ])?;
            insert_audit(tx, audit)?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<Session>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = ?1 AND expires_at > ?2"
                ))?
                .query_row(params![token_hash, fmt_utc(now)], row_session)
                .optional()?)
        })
    }

    fn delete_session(&self, token_hash: &str, audit: NewAudit) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?.execute([token_hash])?;
            insert_audit(tx, audit)?;
            Ok(())
        })
    }

    fn purge_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.write(|tx| {
            let purged = tx.prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")?.execute([fmt_utc(now)])?;
            Ok(purged as u64)
        })
    }

    fn create_token(&self, token: NewApiToken, audit: &dyn Fn(&ApiToken) -> NewAudit) -> Result<ApiToken, StoreError> {
        self.write(|tx| {
            let created_at = now();
            tx.prepare_cached(
                "INSERT INTO api_tokens (user_id, name, token_hash, scopes, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                token.user_id,
                token.name,
                token.token_hash,
                fmt_scopes(&token.scopes),
                fmt_utc(created_at),
                token.expires_at.map(fmt_utc),
            ])?;
            let token = ApiToken {
                id: tx.last_insert_rowid(),
                user_id: token.user_id,
                name: token.name,
                token_hash: token.token_hash,
                scopes: token.scopes,
                created_at,
                expires_at: token.expires_at,
                revoked_at: None,
                last_used_at: None,
            };
            insert_audit(tx, audit(&token))?;
            Ok(token)
        })
    }

    fn use_token(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<ApiToken>, StoreError> {
        self.write(|tx| {
            let now = fmt_utc(now);
            Ok(tx
                .prepare_cached(&format!(
                    "UPDATE api_tokens SET last_used_at = ?1
                     WHERE token_hash = ?2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)
                     RETURNING {TOKEN_COLUMNS}"
                ))?
                .query_row(params![now, token_hash], row_token)
                .optional()?)
        })
    }

    fn tokens_of(&self, user_id: UserId) -> Result<Vec<ApiToken>, StoreError> {
        self.read(|conn| {
            query_all(
                conn,
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ?1 ORDER BY id"),
                [user_id],
                row_token,
            )
        })
    }

    fn token(&self, id: i64) -> Result<Option<ApiToken>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?1"))?
                .query_row([id], row_token)
                .optional()?)
        })
    }

    fn revoke_token(&self, id: i64, now: OffsetDateTime, audit: NewAudit) -> Result<bool, StoreError> {
        self.write(|tx| {
            let revoked = tx
                .prepare_cached(
                    "UPDATE api_tokens SET revoked_at = ?1
                     WHERE id = ?2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)",
                )?
                .execute(params![fmt_utc(now), id])?;
            if revoked > 0 {
                insert_audit(tx, audit)?;
            }
            Ok(revoked > 0)
        })
    }
}

impl Collaboration for SqliteStore {
    fn review_regions(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            query_all(conn, "SELECT region_code FROM review_regions ORDER BY region_code", [], |r| r.get(0))
        })
    }

    fn set_review_region(&self, region_code: &str, required: bool, audit: NewAudit) -> Result<(), StoreError> {
        self.write(|tx| {
            if required {
                tx.prepare_cached(
                    "INSERT INTO review_regions (region_code) VALUES (?1) ON CONFLICT (region_code) DO NOTHING",
                )?
                .execute([region_code])?;
            } else {
                tx.prepare_cached("DELETE FROM review_regions WHERE region_code = ?1")?.execute([region_code])?;
            }
            insert_audit(tx, audit)?;
            Ok(())
        })
    }

    fn review_listing(
        &self,
        decision: ReviewDecision,
        audit: &dyn Fn(&Review) -> NewAudit,
    ) -> Result<(Review, Listing), StoreError> {
        let ReviewDecision { listing_id, expected_version, reviewer_id, approved, reason } = decision;
        self.write(|tx| {
            let current = super::load(tx, listing_id)?;
            if current.body.status != Status::Pending {
                return Err(StoreError::WrongState(format!(
                    "listing {listing_id} is {}, not awaiting review",
                    current.body.status.as_str()
                )));
            }
            let mut body = current.body;
            body.status = if approved { Status::Published } else { Status::Rejected };
            let listing = super::replace(tx, listing_id, Some(expected_version), body)?;
            let at = now();
            tx.prepare_cached(
                "INSERT INTO reviews (listing_id, reviewer_id, approved, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![listing_id.to_string(), reviewer_id, approved, reason, fmt_utc(at)])?;
            let review = Review { id: tx.last_insert_rowid(), listing_id, reviewer_id, approved, reason, at };
            insert_audit(tx, audit(&review))?;
            Ok((review, listing))
        })
    }

    fn reviews_of(&self, listing_id: ListingId) -> Result<Vec<Review>, StoreError> {
        self.read(|conn| {
            query_all(
                conn,
                &format!("SELECT {REVIEW_COLUMNS} FROM reviews WHERE listing_id = ?1 ORDER BY id DESC"),
                [listing_id.to_string()],
                row_review,
            )
        })
    }
}

impl AuditTrail for SqliteStore {
    fn login_failures(
        &self,
        username: &str,
        ip: Option<&str>,
        since: OffsetDateTime,
    ) -> Result<LoginFailures, StoreError> {
        let since = fmt_utc(since);
        self.read(|conn| {
            let (account, account_oldest): (i64, Option<String>) = conn.prepare_cached(
                "SELECT COUNT(*), MIN(at) FROM audit
                 WHERE actor = ?1 AND action = 'login.failure'
                   AND at > MAX(?2, IFNULL((SELECT MAX(at) FROM audit WHERE actor = ?1 AND action = 'login.success'), ''))",
            )?
            .query_row(params![username, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let (address, address_oldest): (i64, Option<String>) = conn.prepare_cached(
                "SELECT COUNT(*), MIN(at) FROM audit
                 WHERE action = 'login.failure' AND IFNULL(ip, '') = IFNULL(?1, '') AND at > ?2",
            )?
            .query_row(params![ip, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(LoginFailures {
                account: account as u64,
                account_oldest: account_oldest.as_deref().map(parse_time).transpose()?,
                address: address as u64,
                address_oldest: address_oldest.as_deref().map(parse_time).transpose()?,
            })
        })
    }

    fn audit(&self, entry: NewAudit) -> Result<AuditEntry, StoreError> {
        self.write(|tx| insert_audit(tx, entry))
    }

    fn audit_entries(
        &self,
        filter: &AuditFilter,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<AuditEntry>, u64), StoreError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut values: Vec<String> = Vec::new();
        if let Some(codes) = &filter.region_codes {
            if codes.is_empty() {
                return Ok((Vec::new(), 0));
            }
            clauses.push(format!("region_code IN ({})", placeholders(codes.len())));
            values.extend(codes.iter().cloned());
        }
        if let Some(prefix) = &filter.action_prefix {
            clauses.push("action LIKE ? ESCAPE '\\'".into());
            values.push(like_prefix(prefix));
        }
        if let Some(actor) = &filter.actor {
            clauses.push("actor = ?".into());
            values.push(actor.clone());
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        self.read(|conn| {
            let total: i64 = conn.query_row(
                &format!("SELECT COUNT(*) FROM audit {where_sql}"),
                params_from_iter(values.iter()),
                |r| r.get(0),
            )?;
            let entries = query_all(
                conn,
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit {where_sql} ORDER BY seq DESC LIMIT {limit} OFFSET {offset}"
                ),
                params_from_iter(values.iter()),
                row_audit,
            )?;
            Ok((entries, total as u64))
        })
    }
}

fn insert_appointment(tx: &Connection, user_id: UserId, org_id: OrgId) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO appointments (user_id, org_id) VALUES (?1, ?2) ON CONFLICT (user_id, org_id) DO NOTHING",
    )?
    .execute(params![user_id, org_id])?;
    Ok(())
}

/// Appends an audit entry inside the caller's transaction, with the inbox and outbox rows of
/// its notices.
pub(super) fn insert_audit(tx: &Connection, mut entry: NewAudit) -> Result<AuditEntry, StoreError> {
    let at = now();
    let notices = std::mem::take(&mut entry.notices);
    super::notifications::insert_notices(tx, &notices, at)?;
    tx.prepare_cached(
        "INSERT INTO audit (at, actor_id, actor, action, target, region_code, ip, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        fmt_utc(at),
        entry.actor_id,
        entry.actor,
        entry.action,
        entry.target,
        entry.region_code,
        entry.ip,
        serde_json::to_string(&entry.detail)?,
    ])?;
    Ok(AuditEntry {
        seq: tx.last_insert_rowid(),
        at,
        actor_id: entry.actor_id,
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        region_code: entry.region_code,
        ip: entry.ip,
        detail: entry.detail,
    })
}
