//! `Notifications` on PostgreSQL. Several nodes share the outbox: a claim selects due rows
//! `FOR UPDATE SKIP LOCKED` (a row another node is claiming right now is skipped, not waited
//! for) and leases them, so no two workers hold one row at once.

use postgres::{GenericClient, Row};
use time::OffsetDateTime;
use xietong_domain::{ListingId, OrgId, UserId};

use super::accounts::insert_audit;
use super::{Db, now, text, texts};
use crate::notifications::{email_payload, webhook_body};
use crate::{
    Delivery, DeliveryState, InboxItem, InboxPage, NewAudit, NewWebhook, Notice, Notifications, OutboxClaim, OutboxJob,
    OutboxOutcome, OutboxTarget, PostgresStore, StoreError, Webhook,
};

const INBOX_COLUMNS: &str =
    "id, user_id, event, title_zh, title_en, body_zh, body_en, link, deal_id, listing_id, created_at, read_at";
const WEBHOOK_COLUMNS: &str = "id, org_id, url, secret, events, created_by, created_at, active";
const DELIVERY_COLUMNS: &str =
    "id, webhook_id, event, payload, attempts, state, last_status, last_error, created_at, updated_at, next_attempt_at";

fn row_inbox(row: &Row) -> Result<InboxItem, StoreError> {
    Ok(InboxItem {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        event: row.try_get(2)?,
        title_zh: row.try_get(3)?,
        title_en: row.try_get(4)?,
        body_zh: row.try_get(5)?,
        body_en: row.try_get(6)?,
        link: row.try_get(7)?,
        deal_id: row.try_get(8)?,
        listing_id: row.try_get::<_, Option<uuid::Uuid>>(9)?.map(ListingId),
        created_at: row.try_get(10)?,
        read_at: row.try_get(11)?,
    })
}

fn row_webhook(row: &Row) -> Result<Webhook, StoreError> {
    let events: String = row.try_get(4)?;
    Ok(Webhook {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        url: row.try_get(2)?,
        secret: row.try_get(3)?,
        events: serde_json::from_str(&events)?,
        created_by: row.try_get(5)?,
        created_at: row.try_get(6)?,
        active: row.try_get(7)?,
    })
}

fn row_delivery(row: &Row) -> Result<Delivery, StoreError> {
    let state: String = row.try_get(5)?;
    Ok(Delivery {
        id: row.try_get(0)?,
        webhook_id: row.try_get(1)?,
        event: row.try_get(2)?,
        payload: row.try_get(3)?,
        attempts: row.try_get(4)?,
        state: DeliveryState::parse(&state)?,
        last_status: row.try_get(6)?,
        last_error: row.try_get(7)?,
        created_at: row.try_get(8)?,
        updated_at: row.try_get(9)?,
        next_attempt_at: row.try_get(10)?,
    })
}

fn load_webhook<C: GenericClient>(db: &mut Db<'_, C>, id: i64) -> Result<Option<Webhook>, StoreError> {
    db.query_opt(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"), &[&id])?
        .map(|row| row_webhook(&row))
        .transpose()
}

/// Stores the inbox and outbox rows of `notices` inside the caller's transaction (the one that
/// stores their audit entry).
pub(super) fn insert_notices<C: GenericClient>(
    db: &mut Db<'_, C>,
    notices: &[Notice],
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    for notice in notices {
        let orgs = texts(&notice.to_orgs);
        let users: Vec<i64> = notice.to_users.iter().map(|u| u.0).collect();
        // Recipients: active members of the organisations and the named users, but not the actor.
        let mut recipients: Vec<(UserId, Option<String>)> = Vec::new();
        for row in db.query(
            "SELECT id, email FROM users
             WHERE NOT disabled AND (org_id IN (SELECT id FROM orgs WHERE name = ANY($1)) OR id = ANY($2))
             ORDER BY id",
            &[&orgs, &users],
        )? {
            recipients.push((row.try_get(0)?, row.try_get(1)?));
        }
        recipients.retain(|(id, _)| Some(*id) != notice.except);
        let event = text(&notice.event);
        let listing_id = notice.listing_id.map(|id| id.0);
        for (user_id, email) in &recipients {
            db.execute(
                "INSERT INTO inbox (user_id, event, title_zh, title_en, body_zh, body_en, link, deal_id, listing_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    user_id,
                    &event,
                    &text(&notice.title_zh),
                    &text(&notice.title_en),
                    &text(&notice.body_zh),
                    &text(&notice.body_en),
                    &text(&notice.link),
                    &notice.deal_id,
                    &listing_id,
                    &at,
                ],
            )?;
            if let Some(address) = email.as_deref().filter(|a| notice.email && !a.is_empty()) {
                db.execute(
                    "INSERT INTO outbox (channel, email_to, event, payload, next_attempt_at, created_at, updated_at)
                     VALUES ('email', $1, $2, $3, $4, $4, $4)",
                    &[&address, &event, &text(&email_payload(notice)?), &at],
                )?;
            }
        }
        if orgs.is_empty() {
            continue;
        }
        let hooks = db.query(
            "SELECT w.id, w.events FROM webhooks w JOIN orgs o ON o.id = w.org_id
             WHERE o.name = ANY($1) AND w.active ORDER BY w.id",
            &[&orgs],
        )?;
        let body = webhook_body(notice, at)?;
        for hook in hooks {
            let webhook_id: i64 = hook.try_get(0)?;
            let events: String = hook.try_get(1)?;
            let events: Vec<String> = serde_json::from_str(&events)?;
            if !xietong_domain::notify::subscribed(&events, &notice.event) {
                continue;
            }
            db.execute(
                "INSERT INTO outbox (channel, webhook_id, event, payload, next_attempt_at, created_at, updated_at)
                 VALUES ('webhook', $1, $2, $3, $4, $4, $4)",
                &[&webhook_id, &event, &body, &at],
            )?;
        }
    }
    Ok(())
}

fn count<C: GenericClient>(db: &mut Db<'_, C>, sql: &str, user_id: UserId) -> Result<u64, StoreError> {
    let counted: i64 = db.query_one(sql, &[&user_id])?.try_get(0)?;
    Ok(counted as u64)
}

impl Notifications for PostgresStore {
    fn inbox(&self, user_id: UserId, unread_only: bool, limit: u32, offset: u64) -> Result<InboxPage, StoreError> {
        let filter = if unread_only { "AND read_at IS NULL" } else { "" };
        let limit = i64::from(limit);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        self.read(|db| {
            let rows = db.query(
                &format!(
                    "SELECT {INBOX_COLUMNS} FROM inbox WHERE user_id = $1 {filter} ORDER BY id DESC LIMIT $2 OFFSET $3"
                ),
                &[&user_id, &limit, &offset],
            )?;
            let items = rows.iter().map(row_inbox).collect::<Result<Vec<_>, _>>()?;
            let total = count(db, &format!("SELECT COUNT(*) FROM inbox WHERE user_id = $1 {filter}"), user_id)?;
            let unread_count = count(db, "SELECT COUNT(*) FROM inbox WHERE user_id = $1 AND read_at IS NULL", user_id)?;
            Ok(InboxPage { items, total, unread_count })
        })
    }

    fn unread_count(&self, user_id: UserId) -> Result<u64, StoreError> {
        self.read(|db| count(db, "SELECT COUNT(*) FROM inbox WHERE user_id = $1 AND read_at IS NULL", user_id))
    }

    fn mark_read(&self, user_id: UserId, id: i64, now: OffsetDateTime) -> Result<bool, StoreError> {
        self.write(|db| {
            let exists =
                db.query_opt("SELECT 1 FROM inbox WHERE id = $1 AND user_id = $2", &[&id, &user_id])?.is_some();
            db.execute(
                "UPDATE inbox SET read_at = $1 WHERE id = $2 AND user_id = $3 AND read_at IS NULL",
                &[&now, &id, &user_id],
            )?;
            Ok(exists)
        })
    }

    fn mark_all_read(&self, user_id: UserId, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.write(|db| {
            db.execute("UPDATE inbox SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL", &[&now, &user_id])
        })
    }

    fn create_webhook(&self, hook: NewWebhook, audit: &dyn Fn(&Webhook) -> NewAudit) -> Result<Webhook, StoreError> {
        self.write(|db| {
            let id: i64 = db
                .query_one(
                    "INSERT INTO webhooks (org_id, url, secret, events, created_by, created_at, active)
                     VALUES ($1, $2, $3, $4, $5, $6, TRUE) RETURNING id",
                    &[
                        &hook.org_id,
                        &text(&hook.url),
                        &text(&hook.secret),
                        &serde_json::to_string(&hook.events)?,
                        &hook.created_by,
                        &now(),
                    ],
                )?
                .try_get(0)?;
            let created = load_webhook(db, id)?.ok_or_else(|| StoreError::backend("the new webhook vanished"))?;
            insert_audit(db, audit(&created))?;
            Ok(created)
        })
    }

    fn webhook(&self, id: i64) -> Result<Option<Webhook>, StoreError> {
        self.read(|db| load_webhook(db, id))
    }

    fn webhooks_of(&self, org_id: OrgId) -> Result<Vec<Webhook>, StoreError> {
        self.read(|db| {
            db.query(
                &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = $1 AND active ORDER BY id"),
                &[&org_id],
            )?
            .iter()
            .map(row_webhook)
            .collect()
        })
    }

    fn delete_webhook(&self, id: i64, audit: NewAudit) -> Result<bool, StoreError> {
        self.write(|db| {
            if db.execute("DELETE FROM webhooks WHERE id = $1", &[&id])? == 0 {
                return Ok(false);
            }
            insert_audit(db, audit)?;
            Ok(true)
        })
    }

    fn deliveries(&self, webhook_id: i64, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        let limit = i64::from(limit);
        self.read(|db| {
            db.query(
                &format!("SELECT {DELIVERY_COLUMNS} FROM outbox WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2"),
                &[&webhook_id, &limit],
            )?
            .iter()
            .map(row_delivery)
            .collect()
        })
    }

    fn set_email(&self, user_id: UserId, email: Option<&str>, audit: NewAudit) -> Result<(), StoreError> {
        let email = email.map(text);
        self.write(|db| {
            if db.execute("UPDATE users SET email = $1 WHERE id = $2", &[&email, &user_id])? == 0 {
                return Err(StoreError::WrongState(format!("user {user_id} does not exist")));
            }
            insert_audit(db, audit)?;
            Ok(())
        })
    }

    fn email_of(&self, user_id: UserId) -> Result<Option<String>, StoreError> {
        self.read(|db| {
            Ok(db
                .query_opt("SELECT email FROM users WHERE id = $1", &[&user_id])?
                .map(|row| row.try_get::<_, Option<String>>(0))
                .transpose()?
                .flatten())
        })
    }

    fn claim_outbox(&self, claim: &OutboxClaim) -> Result<Vec<OutboxJob>, StoreError> {
        let limit = i64::from(claim.limit);
        self.write(|db| {
            let rows = db.query(
                "WITH due AS (
                     SELECT id FROM outbox
                     WHERE state = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                       AND (channel = 'webhook' OR $2)
                     ORDER BY next_attempt_at, id LIMIT $3
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE outbox o SET lease_owner = $4, lease_until = $5
                 FROM due WHERE o.id = due.id
                 RETURNING o.id",
                &[&claim.now, &claim.email, &limit, &claim.owner, &claim.lease_until],
            )?;
            let ids: Vec<i64> = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
            let mut jobs = Vec::with_capacity(ids.len());
            for row in db.query(
                "SELECT o.id, o.channel, o.webhook_id, w.url, w.secret, o.email_to, o.event, o.payload, o.attempts
                 FROM outbox o LEFT JOIN webhooks w ON w.id = o.webhook_id
                 WHERE o.id = ANY($1) ORDER BY o.next_attempt_at, o.id",
                &[&ids],
            )? {
                let channel: String = row.try_get(1)?;
                let target = if channel == "email" {
                    OutboxTarget::Email { to: row.try_get::<_, Option<String>>(5)?.unwrap_or_default() }
                } else {
                    OutboxTarget::Webhook {
                        webhook_id: row.try_get::<_, Option<i64>>(2)?.unwrap_or_default(),
                        url: row.try_get::<_, Option<String>>(3)?.unwrap_or_default(),
                        secret: row.try_get::<_, Option<String>>(4)?.unwrap_or_default(),
                    }
                };
                jobs.push(OutboxJob {
                    id: row.try_get(0)?,
                    target,
                    event: row.try_get(6)?,
                    payload: row.try_get(7)?,
                    attempts: row.try_get(8)?,
                });
            }
            Ok(jobs)
        })
    }

    fn finish_outbox(&self, id: i64, owner: &str, outcome: OutboxOutcome) -> Result<bool, StoreError> {
        let (state, status, error, next) = match outcome {
            OutboxOutcome::Delivered { status } => (DeliveryState::Delivered, status, None, None),
            OutboxOutcome::Retry { status, error, at } => {
                (DeliveryState::Pending, status, Some(text(&error)), Some(at))
            }
            OutboxOutcome::Failed { status, error } => (DeliveryState::Failed, status, Some(text(&error)), None),
        };
        let owner = owner.to_string();
        self.write(|db| {
            let updated = db.execute(
                "UPDATE outbox SET state = $1, attempts = attempts + 1, last_status = $2, last_error = $3,
                   next_attempt_at = COALESCE($4, next_attempt_at), updated_at = $5, lease_owner = NULL, lease_until = NULL
                 WHERE id = $6 AND lease_owner = $7",
                &[&state.as_str(), &status, &error, &next, &now(), &id, &owner],
            )?;
            Ok(updated == 1)
        })
    }
}
