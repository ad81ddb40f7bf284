//! `Notifications` on SQLite. One writer holds the database, so a claim (select due rows, then
//! lease them) is atomic in its write transaction; the lease columns keep a second process on
//! the same file (or a restarted one) from sending a row another worker holds.

use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;
use xietong_domain::{ListingId, OrgId, UserId};

use super::accounts::insert_audit;
use super::{SqliteStore, fmt_utc, now, parse_time, placeholders};
use crate::notifications::{email_payload, webhook_body};
use crate::{
    Delivery, DeliveryState, InboxItem, InboxPage, NewAudit, NewWebhook, Notice, Notifications, OutboxClaim, OutboxJob,
    OutboxOutcome, OutboxTarget, StoreError, Webhook,
};

const INBOX_COLUMNS: &str =
    "id, user_id, event, title_zh, title_en, body_zh, body_en, link, deal_id, listing_id, created_at, read_at";
const WEBHOOK_COLUMNS: &str = "id, org_id, url, secret, events, created_by, created_at, active";
const DELIVERY_COLUMNS: &str =
    "id, webhook_id, event, payload, attempts, state, last_status, last_error, created_at, updated_at, next_attempt_at";

fn row_inbox(row: &Row<'_>) -> rusqlite::Result<(InboxItem, Option<String>, String, Option<String>)> {
    let item = InboxItem {
        id: row.get(0)?,
        user_id: row.get(1)?,
        event: row.get(2)?,
        title_zh: row.get(3)?,
        title_en: row.get(4)?,
        body_zh: row.get(5)?,
        body_en: row.get(6)?,
        link: row.get(7)?,
        deal_id: row.get(8)?,
        listing_id: None,
        created_at: OffsetDateTime::UNIX_EPOCH,
        read_at: None,
    };
    Ok((item, row.get(9)?, row.get(10)?, row.get(11)?))
}

fn complete_inbox(
    (mut item, listing_id, created_at, read_at): (InboxItem, Option<String>, String, Option<String>),
) -> Result<InboxItem, StoreError> {
    item.listing_id = listing_id
        .map(|text| text.parse::<ListingId>().map_err(|_| StoreError::backend(format!("corrupt listing id {text:?}"))))
        .transpose()?;
    item.created_at = parse_time(&created_at)?;
    item.read_at = read_at.as_deref().map(parse_time).transpose()?;
    Ok(item)
}

fn row_webhook(row: &Row<'_>) -> rusqlite::Result<(Webhook, String, String)> {
    let hook = Webhook {
        id: row.get(0)?,
        org_id: row.get(1)?,
        url: row.get(2)?,
        secret: row.get(3)?,
        events: Vec::new(),
        created_by: row.get(5)?,
        created_at: OffsetDateTime::UNIX_EPOCH,
        active: row.get(7)?,
    };
    Ok((hook, row.get(4)?, row.get(6)?))
}

fn complete_webhook((mut hook, events, created_at): (Webhook, String, String)) -> Result<Webhook, StoreError> {
    hook.events = serde_json::from_str(&events)?;
    hook.created_at = parse_time(&created_at)?;
    Ok(hook)
}

type DeliveryParts = (Delivery, String, String, String, String);

fn row_delivery(row: &Row<'_>) -> rusqlite::Result<DeliveryParts> {
    let delivery = Delivery {
        id: row.get(0)?,
        webhook_id: row.get(1)?,
        event: row.get(2)?,
        payload: row.get(3)?,
        attempts: row.get(4)?,
        state: DeliveryState::Pending,
        last_status: row.get(6)?,
        last_error: row.get(7)?,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        next_attempt_at: OffsetDateTime::UNIX_EPOCH,
    };
    Ok((delivery, row.get(5)?, row.get(8)?, row.get(9)?, row.get(10)?))
}

fn complete_delivery((mut delivery, state, created, updated, next): DeliveryParts) -> Result<Delivery, StoreError> {
    delivery.state = DeliveryState::parse(&state)?;
    delivery.created_at = parse_time(&created)?;
    delivery.updated_at = parse_time(&updated)?;
    delivery.next_attempt_at = parse_time(&next)?;
    Ok(delivery)
}

fn load_webhook(conn: &Connection, id: i64) -> Result<Option<Webhook>, StoreError> {
    let parts = conn
        .prepare_cached(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?1"))?
        .query_row([id], row_webhook)
        .optional()?;
    parts.map(complete_webhook).transpose()
}

/// Stores the inbox and outbox rows of `notices` inside the caller's transaction (the one that
/// stores their audit entry).
pub(super) fn insert_notices(tx: &Connection, notices: &[Notice], at: OffsetDateTime) -> Result<(), StoreError> {
    let stamp = fmt_utc(at);
    for notice in notices {
        // Recipients: active members of the organisations and the named users, but not the actor.
        let mut recipients: Vec<(UserId, Option<String>)> = Vec::new();
        if !notice.to_orgs.is_empty() {
            let sql = format!(
                "SELECT u.id, u.email FROM users u JOIN orgs o ON o.id = u.org_id
                 WHERE o.name IN ({}) AND u.disabled = 0 ORDER BY u.id",
                placeholders(notice.to_orgs.len())
            );
            let rows = tx
                .prepare_cached(&sql)?
                .query_map(rusqlite::params_from_iter(notice.to_orgs.iter()), |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<(UserId, Option<String>)>>>()?;
            recipients.extend(rows);
        }
        for user_id in &notice.to_users {
            let found: Option<Option<String>> = tx
                .prepare_cached("SELECT email FROM users WHERE id = ?1 AND disabled = 0")?
                .query_row([user_id], |r| r.get(0))
                .optional()?;
            if let Some(email) = found {
                recipients.push((*user_id, email));
            }
        }
        let mut seen = std::collections::HashSet::new();
        recipients.retain(|(id, _)| Some(*id) != notice.except && seen.insert(*id));
        for (user_id, email) in &recipients {
            tx.prepare_cached(
                "INSERT INTO inbox (user_id, event, title_zh, title_en, body_zh, body_en, link, deal_id, listing_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                user_id,
                notice.event,
                notice.title_zh,
                notice.title_en,
                notice.body_zh,
                notice.body_en,
                notice.link,
                notice.deal_id,
                notice.listing_id.map(|id| id.to_string()),
                stamp,
            ])?;
            if let Some(address) = email.as_deref().filter(|a| notice.email && !a.is_empty()) {
                tx.prepare_cached(
                    "INSERT INTO outbox (channel, email_to, event, payload, next_attempt_at, created_at, updated_at)
                     VALUES ('email', ?1, ?2, ?3, ?4, ?4, ?4)",
                )?
                .execute(params![address, notice.event, email_payload(notice)?, stamp])?;
            }
        }
        if notice.to_orgs.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT w.id, w.events FROM webhooks w JOIN orgs o ON o.id = w.org_id
             WHERE o.name IN ({}) AND w.active = 1 ORDER BY w.id",
            placeholders(notice.to_orgs.len())
        );
        let hooks = tx
            .prepare_cached(&sql)?
            .query_map(rusqlite::params_from_iter(notice.to_orgs.iter()), |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<(i64, String)>>>()?;
        let body = webhook_body(notice, at)?;
        for (webhook_id, events) in hooks {
            let events: Vec<String> = serde_json::from_str(&events)?;
            if !xietong_domain::notify::subscribed(&events, &notice.event) {
                continue;
            }
            tx.prepare_cached(
                "INSERT INTO outbox (channel, webhook_id, event, payload, next_attempt_at, created_at, updated_at)
                 VALUES ('webhook', ?1, ?2, ?3, ?4, ?4, ?4)",
            )?
            .execute(params![webhook_id, notice.event, body, stamp])?;
        }
    }
    Ok(())
}

impl Notifications for SqliteStore {
    fn inbox(&self, user_id: UserId, unread_only: bool, limit: u32, offset: u64) -> Result<InboxPage, StoreError> {
        let filter = if unread_only { "AND read_at IS NULL" } else { "" };
        self.read(|conn| {
            let rows = conn
                .prepare_cached(&format!(
                    "SELECT {INBOX_COLUMNS} FROM inbox WHERE user_id = ?1 {filter} ORDER BY id DESC LIMIT ?2 OFFSET ?3"
                ))?
                .query_map(params![user_id, limit, offset as i64], row_inbox)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let items = rows.into_iter().map(complete_inbox).collect::<Result<Vec<_>, _>>()?;
            let total: i64 = conn
                .prepare_cached(&format!("SELECT COUNT(*) FROM inbox WHERE user_id = ?1 {filter}"))?
                .query_row([user_id], |r| r.get(0))?;
            let unread: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM inbox WHERE user_id = ?1 AND read_at IS NULL")?
                .query_row([user_id], |r| r.get(0))?;
            Ok(InboxPage { items, total: total as u64, unread_count: unread as u64 })
        })
    }

    fn unread_count(&self, user_id: UserId) -> Result<u64, StoreError> {
        self.read(|conn| {
            let unread: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM inbox WHERE user_id = ?1 AND read_at IS NULL")?
                .query_row([user_id], |r| r.get(0))?;
            Ok(unread as u64)
        })
    }

    fn mark_read(&self, user_id: UserId, id: i64, now: OffsetDateTime) -> Result<bool, StoreError> {
        self.write(|tx| {
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM inbox WHERE id = ?1 AND user_id = ?2)")?
                .query_row(params![id, user_id], |r| r.get(0))?;
            tx.prepare_cached("UPDATE inbox SET read_at = ?1 WHERE id = ?2 AND user_id = ?3 AND read_at IS NULL")?
                .execute(params![fmt_utc(now), id, user_id])?;
            Ok(exists)
        })
    }

    fn mark_all_read(&self, user_id: UserId, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.write(|tx| {
            let marked = tx
                .prepare_cached("UPDATE inbox SET read_at = ?1 WHERE user_id = ?2 AND read_at IS NULL")?
                .execute(params![fmt_utc(now), user_id])?;
            Ok(marked as u64)
        })
    }

    fn create_webhook(&self, hook: NewWebhook, audit: &dyn Fn(&Webhook) -> NewAudit) -> Result<Webhook, StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO webhooks (org_id, url, secret, events, created_by, created_at, active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)",
            )?
            .execute(params![
                hook.org_id,
                hook.url,
                hook.secret,
                serde_json::to_string(&hook.events)?,
                hook.created_by,
                fmt_utc(now()),
            ])?;
            let created = load_webhook(tx, tx.last_insert_rowid())?
                .ok_or_else(|| StoreError::backend("the new webhook vanished"))?;
            insert_audit(tx, audit(&created))?;
            Ok(created)
        })
    }

    fn webhook(&self, id: i64) -> Result<Option<Webhook>, StoreError> {
        self.read(|conn| load_webhook(conn, id))
    }

    fn webhooks_of(&self, org_id: OrgId) -> Result<Vec<Webhook>, StoreError> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(&format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE org_id = ?1 AND active = 1 ORDER BY id"
                ))?
                .query_map([org_id], row_webhook)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(complete_webhook).collect()
        })
    }

    fn delete_webhook(&self, id: i64, audit: NewAudit) -> Result<bool, StoreError> {
        self.write(|tx| {
            let deleted = tx.prepare_cached("DELETE FROM webhooks WHERE id = ?1")?.execute([id])?;
            if deleted == 0 {
                return Ok(false);
            }
            insert_audit(tx, audit)?;
            Ok(true)
        })
    }

    fn deliveries(&self, webhook_id: i64, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        self.read(|conn| {
            let rows = conn
                .prepare_cached(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM outbox WHERE webhook_id = ?1 ORDER BY id DESC LIMIT ?2"
                ))?
                .query_map(params![webhook_id, limit], row_delivery)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(complete_delivery).collect()
        })
    }

    fn set_email(&self, user_id: UserId, email: Option<&str>, audit: NewAudit) -> Result<(), StoreError> {
        self.write(|tx| {
            let updated =
                tx.prepare_cached("UPDATE users SET email = ?1 WHERE id = ?2")?.execute(params![email, user_id])?;
            if updated == 0 {
                return Err(StoreError::WrongState(format!("user {user_id} does not exist")));
            }
            insert_audit(tx, audit)?;
            Ok(())
        })
    }

    fn email_of(&self, user_id: UserId) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT email FROM users WHERE id = ?1")?
                .query_row([user_id], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .flatten())
        })
    }

    fn claim_outbox(&self, claim: &OutboxClaim) -> Result<Vec<OutboxJob>, StoreError> {
        let now = fmt_utc(claim.now);
        self.write(|tx| {
            let ids = tx
                .prepare_cached(
                    "SELECT id FROM outbox
                     WHERE state = 'pending' AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
                       AND (channel = 'webhook' OR ?2)
                     ORDER BY next_attempt_at, id LIMIT ?3",
                )?
                .query_map(params![now, claim.email, claim.limit], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            let mut jobs = Vec::with_capacity(ids.len());
            for id in ids {
                tx.prepare_cached("UPDATE outbox SET lease_owner = ?1, lease_until = ?2 WHERE id = ?3")?.execute(
                    params![claim.owner, fmt_utc(claim.lease_until), id],
                )?;
                let job = tx
                    .prepare_cached(
                        "SELECT o.id, o.channel, o.webhook_id, w.url, w.secret, o.email_to, o.event, o.payload, o.attempts
                         FROM outbox o LEFT JOIN webhooks w ON w.id = o.webhook_id WHERE o.id = ?1",
                    )?
                    .query_row([id], |r| {
                        let channel: String = r.get(1)?;
                        let target = if channel == "email" {
                            OutboxTarget::Email { to: r.get::<_, Option<String>>(5)?.unwrap_or_default() }
                        } else {
                            OutboxTarget::Webhook {
                                webhook_id: r.get::<_, Option<i64>>(2)?.unwrap_or_default(),
                                url: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                                secret: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                            }
                        };
                        Ok(OutboxJob { id: r.get(0)?, target, event: r.get(6)?, payload: r.get(7)?, attempts: r.get(8)? })
                    })?;
                jobs.push(job);
            }
            Ok(jobs)
        })
    }

    fn finish_outbox(&self, id: i64, owner: &str, outcome: OutboxOutcome) -> Result<bool, StoreError> {
        let stamp = fmt_utc(now());
        let (state, status, error, next) = match outcome {
            OutboxOutcome::Delivered { status } => (DeliveryState::Delivered, status, None, None),
            OutboxOutcome::Retry { status, error, at } => {
                (DeliveryState::Pending, status, Some(error), Some(fmt_utc(at)))
            }
            OutboxOutcome::Failed { status, error } => (DeliveryState::Failed, status, Some(error), None),
        };
        self.write(|tx| {
            let updated = tx
                .prepare_cached(
                    "UPDATE outbox SET state = ?1, attempts = attempts + 1, last_status = ?2, last_error = ?3,
                       next_attempt_at = COALESCE(?4, next_attempt_at), updated_at = ?5, lease_owner = NULL, lease_until = NULL
                     WHERE id = ?6 AND lease_owner = ?7",
                )?
                .execute(params![state.as_str(), status, error, next, stamp, id, owner])?;
            Ok(updated == 1)
        })
    }
}
