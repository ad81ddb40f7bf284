//! Accounts on PostgreSQL: the same statements as the SQLite store's, with PostgreSQL's types
//! (BIGINT ids, TIMESTAMPTZ, BOOLEAN) and arrays in place of `IN (?, ?, …)` lists.

use std::fmt::Display;
use std::str::FromStr;

use postgres::{GenericClient, Row};
use time::OffsetDateTime;
use xietong_domain::{Listing, ListingId, OrgId, Scope, Status, UserId};

use super::{Db, PostgresStore, now, opt_text, text, texts};
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

fn parsed<T>(row: &Row, idx: usize) -> Result<T, StoreError>
where
    T: FromStr,
    T::Err: Display,
{
    let text: &str = row.try_get(idx)?;
    text.parse().map_err(|err| StoreError::backend(format!("corrupt value {text:?} in column {idx}: {err}")))
}

fn row_org(row: &Row) -> Result<Org, StoreError> {
    Ok(Org {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        kind: parsed(row, 2)?,
        region_code: row.try_get(3)?,
        created_at: row.try_get(4)?,
    })
}

fn row_user(row: &Row) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get(0)?,
        username: row.try_get(1)?,
        display_name: row.try_get(2)?,
        role: parsed(row, 3)?,
        org_id: row.try_get(4)?,
        region_code: row.try_get(5)?,
        password_hash: row.try_get(6)?,
        disabled: row.try_get(7)?,
        created_at: row.try_get(8)?,
    })
}

fn row_session(row: &Row) -> Result<Session, StoreError> {
    Ok(Session {
        token_hash: row.try_get(0)?,
        user_id: row.try_get(1)?,
        csrf_token: row.try_get(2)?,
        created_at: row.try_get(3)?,
        expires_at: row.try_get(4)?,
        ip: row.try_get(5)?,
    })
}

fn fmt_scopes(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

fn row_token(row: &Row) -> Result<ApiToken, StoreError> {
    let scopes: &str = row.try_get(4)?;
    let scopes = scopes
        .split_whitespace()
        .map(|s| s.parse::<Scope>().map_err(|err| StoreError::backend(format!("corrupt token scope {s:?}: {err}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ApiToken {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        name: row.try_get(2)?,
        token_hash: row.try_get(3)?,
        scopes,
        created_at: row.try_get(5)?,
        expires_at: row.try_get(6)?,
        revoked_at: row.try_get(7)?,
        last_used_at: row.try_get(8)?,
    })
}

fn row_review(row: &Row) -> Result<Review, StoreError> {
    Ok(Review {
        id: row.try_get(0)?,
        listing_id: ListingId(row.try_get(1)?),
        reviewer_id: row.try_get(2)?,
        approved: row.try_get(3)?,
        reason: row.try_get(4)?,
        at: row.try_get(5)?,
    })
}

fn row_audit(row: &Row) -> Result<AuditEntry, StoreError> {
    let detail: &str = row.try_get(8)?;
    Ok(AuditEntry {
        seq: row.try_get(0)?,
        at: row.try_get(1)?,
        actor_id: row.try_get(2)?,
        actor: row.try_get(3)?,
        action: row.try_get(4)?,
        target: row.try_get(5)?,
        region_code: row.try_get(6)?,
        ip: row.try_get(7)?,
        detail: serde_json::from_str(detail)?,
    })
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

fn insert_appointment<C: GenericClient>(db: &mut Db<'_, C>, user_id: UserId, org_id: OrgId) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO appointments (user_id, org_id) VALUES ($1, $2) ON CONFLICT (user_id, org_id) DO NOTHING",
        &[&user_id, &org_id],
    )?;
    Ok(())
}

/// Appends an audit entry inside the caller's transaction, with the inbox and outbox rows of
/// its notices.
pub(super) fn insert_audit<C: GenericClient>(
    db: &mut Db<'_, C>,
    mut entry: NewAudit,
) -> Result<AuditEntry, StoreError> {
    let at = now();
    let notices = std::mem::take(&mut entry.notices);
    super::notifications::insert_notices(db, &notices, at)?;
    let detail = serde_json::to_string(&entry.detail)?;
    let seq: i64 = db
        .query_one(
            "INSERT INTO audit (at, actor_id, actor, action, target, region_code, ip, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
            &[
                &at,
                &entry.actor_id,
                &text(&entry.actor),
                &text(&entry.action),
                &text(&entry.target),
                &opt_text(&entry.region_code),
                &opt_text(&entry.ip),
                &detail,
            ],
        )?
        .try_get(0)?;
    Ok(AuditEntry {
        seq,
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

impl Identity for PostgresStore {
    fn create_org(&self, org: NewOrg, audit: &dyn Fn(&Org) -> NewAudit) -> Result<Org, StoreError> {
        self.write(|db| {
            let created_at = now();
            let inserted = db.query_opt(
                "INSERT INTO orgs (name, kind, region_code, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO NOTHING RETURNING id",
                &[&text(&org.name), &org.kind.as_str(), &text(&org.region_code), &created_at],
            )?;
            let Some(inserted) = inserted else {
                return Err(StoreError::Taken { field: "name", value: org.name });
            };
            let org = Org {
                id: inserted.try_get(0)?,
                name: org.name,
                kind: org.kind,
                region_code: org.region_code,
                created_at,
            };
            insert_audit(db, audit(&org))?;
            Ok(org)
        })
    }

    fn org(&self, id: OrgId) -> Result<Option<Org>, StoreError> {
        self.read(|db| {
            db.query_opt(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = $1"), &[&id])?
                .as_ref()
                .map(row_org)
                .transpose()
        })
    }

    fn org_by_name(&self, name: &str) -> Result<Option<Org>, StoreError> {
        self.read(|db| {
            db.query_opt(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE name = $1"), &[&text(name)])?
                .as_ref()
                .map(row_org)
                .transpose()
        })
    }

    fn orgs(&self) -> Result<Vec<Org>, StoreError> {
        self.read(|db| {
            db.query(&format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY name, id"), &[])?.iter().map(row_org).collect()
        })
    }

    fn create_user(
        &self,
        user: NewUser,
        appointed_by: &[OrgId],
        audit: &dyn Fn(&User) -> NewAudit,
    ) -> Result<User, StoreError> {
        self.write(|db| {
            let created_at = now();
            let inserted = db.query_opt(
                "INSERT INTO users (username, display_name, role, org_id, region_code, password_hash, disabled, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7)
                 ON CONFLICT (username) DO NOTHING RETURNING id",
                &[
                    &text(&user.username),
                    &text(&user.display_name),
                    &user.role.as_str(),
                    &user.org_id,
                    &opt_text(&user.region_code),
                    &text(&user.password_hash),
                    &created_at,
                ],
            )?;
            let Some(inserted) = inserted else {
                return Err(StoreError::Taken { field: "username", value: user.username });
            };
            let user = User {
                id: inserted.try_get(0)?,
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
                insert_appointment(db, user.id, *org_id)?;
            }
            insert_audit(db, audit(&user))?;
            Ok(user)
        })
    }

    fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read(|db| {
            db.query_opt(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), &[&id])?
                .as_ref()
                .map(row_user)
                .transpose()
        })
    }

    fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.read(|db| {
            db.query_opt(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"), &[&text(username)])?
                .as_ref()
                .map(row_user)
                .transpose()
        })
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.read(|db| {
            db.query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"), &[])?
                .iter()
                .map(row_user)
                .collect()
        })
    }

    fn set_password(&self, user_id: UserId, password_hash: &str, audit: NewAudit) -> Result<(), StoreError> {
        self.write(|db| {
            let updated =
                db.execute("UPDATE users SET password_hash = $1 WHERE id = $2", &[&password_hash, &user_id])?;
            if updated == 0 {
                return Err(StoreError::backend(format!("user {user_id} does not exist")));
            }
            insert_audit(db, audit)?;
            Ok(())
        })
    }

    fn disable_user(&self, user_id: UserId, erase: &[ListingId], audit: NewAudit) -> Result<(), StoreError> {
        self.write(|db| {
            for id in erase {
                super::delete_listing(db, *id)?;
            }
            let updated = db.execute("UPDATE users SET disabled = TRUE WHERE id = $1", &[&user_id])?;
            if updated == 0 {
                return Err(StoreError::backend(format!("user {user_id} does not exist")));
            }
            db.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])?;
            db.execute(
                "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                &[&now(), &user_id],
            )?;
            insert_audit(db, audit)?;
            Ok(())
        })
    }

    fn appoint(&self, user_id: UserId, org_id: OrgId, audit: NewAudit) -> Result<(), StoreError> {
        self.write(|db| {
            insert_appointment(db, user_id, org_id)?;
            insert_audit(db, audit)?;
            Ok(())
        })
    }

    fn appointments(&self, user_id: UserId) -> Result<Vec<Org>, StoreError> {
        self.read(|db| {
            db.query(
                "SELECT o.id, o.name, o.kind, o.region_code, o.created_at
                 FROM appointments a JOIN orgs o ON o.id = a.org_id
                 WHERE a.user_id = $1 ORDER BY o.name, o.id",
                &[&user_id],
            )?
            .iter()
            .map(row_org)
            .collect()
        })
    }
}

impl Credentials for PostgresStore {
    fn create_session(&self, session: Session, audit: NewAudit) -> Result<(), StoreError> {
        self.write(|db| {
            db.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, ip)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &session.token_hash,
                    &session.user_id,
                    &session.csrf_token,
                    &session.created_at,
                    &session.expires_at,
                    &opt_text(&session.ip),
                ],
            )?;
            insert_audit(db, audit)?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<Session>, StoreError> {
        self.read(|db| {
            db.query_opt(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1 AND expires_at > $2"),
                &[&token_hash, &now],
            )?
            .as_ref()
            .map(row_session)
            .transpose()
        })
    }

    fn delete_session(&self, token_hash: &str, audit: NewAudit) -> Result<(), StoreError> {
        self.write(|db| {
            db.execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])?;
            insert_audit(db, audit)?;
            Ok(())
        })
    }

    fn purge_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.write(|db| db.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now]))
    }

    fn create_token(&self, token: NewApiToken, audit: &dyn Fn(&ApiToken) -> NewAudit) -> Result<ApiToken, StoreError> {
        self.write(|db| {
            let created_at = now();
            let id: i64 = db
                .query_one(
                    "INSERT INTO api_tokens (user_id, name, token_hash, scopes, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    &[
                        &token.user_id,
                        &text(&token.name),
                        &token.token_hash,
                        &fmt_scopes(&token.scopes),
                        &created_at,
                        &token.expires_at,
                    ],
                )?
                .try_get(0)?;
            let token = ApiToken {
                id,
                user_id: token.user_id,
                name: token.name,
                token_hash: token.token_hash,
                scopes: token.scopes,
                created_at,
                expires_at: token.expires_at,
                revoked_at: None,
                last_used_at: None,
            };
            insert_audit(db, audit(&token))?;
            Ok(token)
        })
    }

    fn use_token(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<ApiToken>, StoreError> {
        self.write(|db| {
            db.query_opt(
                &format!(
                    "UPDATE api_tokens SET last_used_at = $1
                     WHERE token_hash = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)
                     RETURNING {TOKEN_COLUMNS}"
                ),
                &[&now, &token_hash],
            )?
            .as_ref()
            .map(row_token)
            .transpose()
        })
    }

    fn tokens_of(&self, user_id: UserId) -> Result<Vec<ApiToken>, StoreError> {
        self.read(|db| {
            db.query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id"), &[&user_id])?
                .iter()
                .map(row_token)
                .collect()
        })
    }

    fn token(&self, id: i64) -> Result<Option<ApiToken>, StoreError> {
        self.read(|db| {
            db.query_opt(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"), &[&id])?
                .as_ref()
                .map(row_token)
                .transpose()
        })
    }

    fn revoke_token(&self, id: i64, now: OffsetDateTime, audit: NewAudit) -> Result<bool, StoreError> {
        self.write(|db| {
            let revoked = db.execute(
                "UPDATE api_tokens SET revoked_at = $1
                 WHERE id = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
                &[&now, &id],
            )?;
            if revoked > 0 {
                insert_audit(db, audit)?;
            }
            Ok(revoked > 0)
        })
    }
}

impl Collaboration for PostgresStore {
    fn review_regions(&self) -> Result<Vec<String>, StoreError> {
        self.read(|db| {
            db.query("SELECT region_code FROM review_regions ORDER BY region_code", &[])?
                .iter()
                .map(|row| Ok(row.try_get(0)?))
                .collect()
        })
    }

    fn set_review_region(&self, region_code: &str, required: bool, audit: NewAudit) -> Result<(), StoreError> {
        self.write(|db| {
            if required {
                db.execute(
                    "INSERT INTO review_regions (region_code) VALUES ($1) ON CONFLICT (region_code) DO NOTHING",
                    &[&text(region_code)],
                )?;
            } else {
                db.execute("DELETE FROM review_regions WHERE region_code = $1", &[&text(region_code)])?;
            }
            insert_audit(db, audit)?;
            Ok(())
        })
    }

    fn review_listing(
        &self,
        decision: ReviewDecision,
        audit: &dyn Fn(&Review) -> NewAudit,
    ) -> Result<(Review, Listing), StoreError> {
        let ReviewDecision { listing_id, expected_version, reviewer_id, approved, reason } = decision;
        self.write(|db| {
            let current = super::load_for_update(db, listing_id)?;
            if current.body.status != Status::Pending {
                return Err(StoreError::WrongState(format!(
                    "listing {listing_id} is {}, not awaiting review",
                    current.body.status.as_str()
                )));
            }
            let mut body = current.body;
            body.status = if approved { Status::Published } else { Status::Rejected };
            let listing = super::replace(db, listing_id, Some(expected_version), body)?;
            let at = now();
            let id: i64 = db
                .query_one(
                    "INSERT INTO reviews (listing_id, reviewer_id, approved, reason, at) VALUES ($1, $2, $3, $4, $5)
                     RETURNING id",
                    &[&listing_id.0, &reviewer_id, &approved, &text(&reason), &at],
                )?
                .try_get(0)?;
            let review = Review { id, listing_id, reviewer_id, approved, reason, at };
            insert_audit(db, audit(&review))?;
            Ok((review, listing))
        })
    }

    fn reviews_of(&self, listing_id: ListingId) -> Result<Vec<Review>, StoreError> {
        self.read(|db| {
            db.query(
                &format!("SELECT {REVIEW_COLUMNS} FROM reviews WHERE listing_id = $1 ORDER BY id DESC"),
                &[&listing_id.0],
            )?
            .iter()
            .map(row_review)
            .collect()
        })
    }
}

impl AuditTrail for PostgresStore {
    fn login_failures(
        &self,
        username: &str,
        ip: Option<&str>,
        since: OffsetDateTime,
    ) -> Result<LoginFailures, StoreError> {
        let username = text(username);
        let ip = ip.map(text);
        self.read(|db| {
            let account = db.query_one(
                "SELECT COUNT(*), MIN(at) FROM audit
                 WHERE actor = $1 AND action = 'login.failure'
                   AND at > GREATEST($2, COALESCE((SELECT MAX(at) FROM audit WHERE actor = $1 AND action = 'login.success'), $2))",
                &[&username, &since],
            )?;
            let address = db.query_one(
                "SELECT COUNT(*), MIN(at) FROM audit
                 WHERE action = 'login.failure' AND COALESCE(ip, '') = COALESCE($1, '') AND at > $2",
                &[&ip, &since],
            )?;
            Ok(LoginFailures {
                account: account.try_get::<_, i64>(0)? as u64,
                account_oldest: account.try_get(1)?,
                address: address.try_get::<_, i64>(0)? as u64,
                address_oldest: address.try_get(1)?,
            })
        })
    }

    fn audit(&self, entry: NewAudit) -> Result<AuditEntry, StoreError> {
        self.write(|db| insert_audit(db, entry))
    }

    fn audit_entries(
        &self,
        filter: &AuditFilter,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<AuditEntry>, u64), StoreError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut values: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::new();
        if let Some(codes) = &filter.region_codes {
            if codes.is_empty() {
                return Ok((Vec::new(), 0));
            }
            values.push(Box::new(texts(codes)));
            clauses.push(format!("region_code = ANY(${})", values.len()));
        }
        if let Some(prefix) = &filter.action_prefix {
            // ILIKE: SQLite's LIKE, which the SQLite store uses, ignores ASCII case too.
            values.push(Box::new(like_prefix(&text(prefix))));
            clauses.push(format!("action ILIKE ${} ESCAPE '\\'", values.len()));
        }
        if let Some(actor) = &filter.actor {
            values.push(Box::new(text(actor)));
            clauses.push(format!("actor = ${}", values.len()));
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let count_sql = format!("SELECT COUNT(*) FROM audit {where_sql}");
        let page_sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit {where_sql} ORDER BY seq DESC LIMIT ${} OFFSET ${}",
            values.len() + 1,
            values.len() + 2
        );
        let limit = i64::from(limit);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        self.read(|db| {
            let filter_params: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
            let total: i64 = db.query_one(&count_sql, &filter_params)?.try_get(0)?;
            let mut page_params = filter_params.clone();
            page_params.push(&limit);
            page_params.push(&offset);
            let entries = db.query(&page_sql, &page_params)?.iter().map(row_audit).collect::<Result<Vec<_>, _>>()?;
            Ok((entries, total as u64))
        })
    }
}
