//! Notifications as the store keeps them: the inbox of each user, the webhooks of each
//! organisation, and the outbox of deliveries (webhook calls and e-mails) still to make.
//!
//! Notices ride on audit entries ([`crate::NewAudit::notices`]): wherever a backend stores an
//! audit entry in a write's transaction, it also stores the notices' inbox rows and outbox rows
//! there, so an event and the news of it commit together or not at all. Delivery is
//! at-least-once: a worker claims due outbox rows under a lease, sends them, and records the
//! outcome; a worker that dies mid-send leaves the row to be claimed again when its lease ends.

use serde::Serialize;
use time::OffsetDateTime;
use xietong_domain::{ListingId, OrgId, UserId};

use crate::{NewAudit, StoreError};

/// A notice about an event, to store with the event's audit entry: one inbox row for each
/// recipient user, one webhook delivery for each active webhook of the recipient organisations
/// subscribed to the event, and (when `email`) one e-mail for each recipient with an address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notice {
    /// One of `xietong_domain::notify::EVENTS`.
    pub event: String,
    pub title_zh: String,
    pub title_en: String,
    pub body_zh: String,
    pub body_en: String,
    /// Path of the page about the subject, e.g. `/deals/12`.
    pub link: String,
    pub deal_id: Option<i64>,
    pub listing_id: Option<ListingId>,
    /// Organisations (by name, as listings name them) whose users are told and whose webhooks
    /// are called.
    pub to_orgs: Vec<String>,
    /// Further users told (e.g. a deal's brokers).
    pub to_users: Vec<UserId>,
    /// Who is never told (the actor).
    pub except: Option<UserId>,
    /// The event's data for webhooks (`data` of the delivered body).
    pub data: serde_json::Value,
    /// Whether to e-mail the recipients too (only when SMTP is configured).
    pub email: bool,
}

/// One notice in a user's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxItem {
    pub id: i64,
    pub user_id: UserId,
    pub event: String,
    pub title_zh: String,
    pub title_en: String,
    pub body_zh: String,
    pub body_en: String,
    pub link: String,
    pub deal_id: Option<i64>,
    pub listing_id: Option<ListingId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub read_at: Option<OffsetDateTime>,
}

/// A page of an inbox, with the counts of the whole inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    /// Items matching the query (all, or the unread ones).
    pub total: u64,
    /// Unread items of the whole inbox.
    pub unread_count: u64,
}

/// A webhook of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: i64,
    pub org_id: OrgId,
    pub url: String,
    /// Signs each delivery; stored in clear because signing needs it, never serialised.
    #[serde(skip)]
    pub secret: String,
    /// Event names, or `*` for all.
    pub events: Vec<String>,
    pub created_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub active: bool,
}

/// A webhook to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub org_id: OrgId,
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub created_by: UserId,
}

/// State of an outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    Delivered,
    /// Given up after the last attempt.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<DeliveryState, StoreError> {
        match text {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "failed" => Ok(DeliveryState::Failed),
            other => Err(StoreError::backend(format!("corrupt delivery state {other:?}"))),
        }
    }
}

/// One webhook delivery as its log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub event: String,
    /// The exact body that is (or was) sent.
    pub payload: String,
    pub attempts: i64,
    pub state: DeliveryState,
    /// HTTP status of the last attempt, if the receiver answered.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the last attempt ended (or the row was created).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
}

/// Where a claimed outbox row goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxTarget {
    Webhook { webhook_id: i64, url: String, secret: String },
    Email { to: String },
}

/// An outbox row a worker claimed, to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxJob {
    pub id: i64,
    pub target: OutboxTarget,
    pub event: String,
    /// Webhooks: the exact body to send. E-mails: `{"subject", "body"}`.
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxOutcome {
    Delivered {
        status: Option<i64>,
    },
    /// Failed; try again at `at`.
    Retry {
        status: Option<i64>,
        error: String,
        at: OffsetDateTime,
    },
    /// Failed for the last time.
    Failed {
        status: Option<i64>,
        error: String,
    },
}

/// Which rows a worker claims.
#[derive(Debug, Clone)]
pub struct OutboxClaim {
    /// Names the worker (the lease holder).
    pub owner: String,
    pub now: OffsetDateTime,
    /// The lease ends then; another worker may claim the row afterwards.
    pub lease_until: OffsetDateTime,
    pub limit: u32,
    /// Also e-mails (only when SMTP is configured).
    pub email: bool,
}

/// Inboxes, webhooks and the outbox.
pub trait Notifications: Send + Sync {
    /// A page of the user's inbox, newest first (`unread_only`: only unread items).
    fn inbox(&self, user_id: UserId, unread_only: bool, limit: u32, offset: u64) -> Result<InboxPage, StoreError>;
    /// Unread items of the user's inbox.
    fn unread_count(&self, user_id: UserId) -> Result<u64, StoreError>;
    /// Marks one item of the user's inbox read (idempotent); `false` when the user has no such
    /// item.
    fn mark_read(&self, user_id: UserId, id: i64, now: OffsetDateTime) -> Result<bool, StoreError>;
    /// Marks every unread item read; returns how many.
    fn mark_all_read(&self, user_id: UserId, now: OffsetDateTime) -> Result<u64, StoreError>;

    /// Registers a webhook with its audit entry.
    fn create_webhook(&self, hook: NewWebhook, audit: &dyn Fn(&Webhook) -> NewAudit) -> Result<Webhook, StoreError>;
    fn webhook(&self, id: i64) -> Result<Option<Webhook>, StoreError>;
    /// Active webhooks of an organisation, oldest first.
    fn webhooks_of(&self, org_id: OrgId) -> Result<Vec<Webhook>, StoreError>;
    /// Removes a webhook with its deliveries (audited); `false` when it did not exist.
    fn delete_webhook(&self, id: i64, audit: NewAudit) -> Result<bool, StoreError>;
    /// The newest deliveries of a webhook.
    fn deliveries(&self, webhook_id: i64, limit: u32) -> Result<Vec<Delivery>, StoreError>;

    /// Sets (or, with `None`, removes) the user's e-mail address (audited).
    fn set_email(&self, user_id: UserId, email: Option<&str>, audit: NewAudit) -> Result<(), StoreError>;
    fn email_of(&self, user_id: UserId) -> Result<Option<String>, StoreError>;

    /// Leases up to `limit` due pending outbox rows to `claim.owner`: rows whose
    /// `next_attempt_at` has come and whose lease (if any) has ended. Several workers on one
    /// database never hold the same row at once.
    fn claim_outbox(&self, claim: &OutboxClaim) -> Result<Vec<OutboxJob>, StoreError>;
    /// Records the outcome of an attempt of a row `owner` holds (counting the attempt) and ends
    /// the lease; `false` when the lease was lost meanwhile (the outcome is then dropped).
    fn finish_outbox(&self, id: i64, owner: &str, outcome: OutboxOutcome) -> Result<bool, StoreError>;
}

/// The JSON body of a webhook delivery of `notice`, as sent (and signed).
pub(crate) fn webhook_body(notice: &Notice, at: OffsetDateTime) -> Result<String, StoreError> {
    let at = at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let body = serde_json::json!({
        "event": notice.event,
        "occurred_at": at,
        "title": {"zh": notice.title_zh, "en": notice.title_en},
        "body": {"zh": notice.body_zh, "en": notice.body_en},
        "link": notice.link,
        "deal_id": notice.deal_id,
        "listing_id": notice.listing_id.map(|id| id.to_string()),
        "data": notice.data,
    });
    Ok(serde_json::to_string(&body)?)
}

/// The e-mail outbox payload of `notice`: subject and plain-text body in both languages.
pub(crate) fn email_payload(notice: &Notice) -> Result<String, StoreError> {
    let subject = format!("{} / {}", notice.title_zh, notice.title_en);
    let body = format!("{}\n\n{}\n\n{}\n\n{}\n", notice.title_zh, notice.body_zh, notice.body_en, notice.link);
    Ok(serde_json::to_string(&serde_json::json!({"subject": subject, "body": body}))?)
}
