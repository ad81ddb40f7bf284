//! Notifications: who is told about which event, each user's inbox, each organisation's
//! webhooks, and the user's e-mail address.
//!
//! Notices are built here and handed to the store on the event's audit entry
//! ([`xietong_store::NewAudit::notices`]), so the inbox rows and the outbox rows commit in the
//! event's transaction. Deal events go to the users of the other party's organisation and to the
//! deal's brokers, never to the actor; review decisions go to the publisher's organisation. The
//! outbox is drained by [`crate::outbox`].

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use xietong_domain::deal::{DealEvent, DeclineReason, Side};
use xietong_domain::notify::{ALL_EVENTS, deal_event_name, is_event};
use xietong_domain::{Listing, Principal, ValidationErrors};
use xietong_store::{Deal, Delivery, InboxPage, NewWebhook, Notice, Webhook};

use crate::App;
use crate::error::{AppError, AppResult};
use crate::listing::Actor;

/// Most webhooks an organisation may register.
const MAX_WEBHOOKS_PER_ORG: usize = 20;
/// Deliveries a webhook's log shows.
const DELIVERY_LOG: u32 = 100;

/// How notices leave the platform: the webhook guard and the outbox worker's pace, and SMTP.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Accept webhook URLs on loopback, private, link-local and unique-local addresses
    /// (`XT_WEBHOOK_ALLOW_PRIVATE=1`, `webhooks.allow_private`): for tests and closed networks.
    pub allow_private: bool,
    /// How often the outbox worker looks for due deliveries.
    pub poll_interval: Duration,
    /// The first retry waits this long, each further one twice as long as the one before.
    pub backoff_base: Duration,
    /// No retry waits longer than this.
    pub backoff_cap: Duration,
    /// Attempts before a delivery is given up (`failed`).
    pub max_attempts: u32,
    /// Timeout of one webhook call.
    pub request_timeout: Duration,
    /// E-mail notices through this server; without it no e-mail is sent.
    pub smtp: Option<SmtpSettings>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            allow_private: false,
            poll_interval: Duration::from_secs(1),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(3600),
            max_attempts: 8,
            request_timeout: Duration::from_secs(10),
            smtp: None,
        }
    }
}

impl NotifySettings {
    /// How long to wait after the attempt numbered `attempts_before` (0 for the first) failed.
    pub fn backoff(&self, attempts_before: i64) -> Duration {
        let exponent = u32::try_from(attempts_before.clamp(0, 30)).unwrap_or(30);
        self.backoff_base.saturating_mul(2u32.saturating_pow(exponent)).min(self.backoff_cap)
    }
}

/// How to reach the SMTP server.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// The sender address, e.g. `协同平台 <noreply@example.com>`.
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: SmtpTls,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .finish()
    }
}

/// Transport security of the SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required).
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// No encryption: only for a relay on the same host or network.
    None,
}

impl std::str::FromStr for SmtpTls {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "starttls" => Ok(SmtpTls::StartTls),
            "tls" => Ok(SmtpTls::Tls),
            "none" => Ok(SmtpTls::None),
            other => Err(format!("unknown SMTP tls mode {other:?}; use starttls, tls or none")),
        }
    }
}

fn decline_reason_label(reason: DeclineReason) -> (&'static str, &'static str) {
    match reason {
        DeclineReason::NotRelevant => ("不相关", "not relevant"),
        DeclineReason::TrlTooLow => ("技术成熟度不足", "TRL too low"),
        DeclineReason::Price => ("价格不合适", "price"),
        DeclineReason::Region => ("地区不合适", "region"),
        DeclineReason::Timing => ("时机不合适", "timing"),
        DeclineReason::Capacity => ("产能不足", "capacity"),
        DeclineReason::Other => ("其他", "other"),
    }
}

/// The webhook data of a deal notice.
fn deal_data(deal: &Deal, event: Option<&DealEvent>, actor: &Principal, side: Side) -> serde_json::Value {
    serde_json::json!({
        "deal": {
            "id": deal.id, "state": deal.state.as_str(), "version": deal.version,
            "listing_id": deal.listing_id.to_string(), "asker_org": deal.asker_org, "owner_org": deal.owner_org,
        },
        "event": event,
        "actor": actor.username,
        "side": side.as_str(),
    })
}

/// The notice of a proposed deal: to the owner's organisation.
pub(crate) fn deal_proposed(deal: &Deal, title: &str, actor: &Principal, email: bool) -> Notice {
    let message = if deal.message.is_empty() { "—" } else { deal.message.as_str() };
    Notice {
        event: "deal.proposed".into(),
        title_zh: format!("「{title}」收到新的对接请求"),
        title_en: format!("New deal proposed on “{title}”"),
        body_zh: format!("{} 希望就「{title}」开展对接。留言：{message}", deal.asker_org),
        body_en: format!("{} proposes a deal on “{title}”. Message: {message}", deal.asker_org),
        link: format!("/deals/{}", deal.id),
        deal_id: Some(deal.id),
        listing_id: Some(deal.listing_id),
        to_orgs: vec![deal.owner_org.clone()],
        to_users: deal.brokers.iter().map(|b| b.user_id).collect(),
        except: Some(actor.user_id),
        data: deal_data(deal, None, actor, Side::Asker),
        email,
    }
}

/// The notice of an event on a deal, sent by someone acting for `side`: to the other party's
/// organisation and to the deal's brokers (after the event), not to the actor.
pub(crate) fn deal_moved(
    deal: &Deal,
    event: &DealEvent,
    side: Side,
    title: &str,
    actor: &Principal,
    email: bool,
) -> Notice {
    let other_org = match side {
        Side::Asker => deal.owner_org.clone(),
        Side::Owner => deal.asker_org.clone(),
    };
    let who = actor.username.as_str();
    let (title_zh, title_en, body_zh, body_en) = match event {
        DealEvent::Accept => (
            format!("对接已被接受：「{title}」"),
            format!("Deal accepted: “{title}”"),
            format!("{} 接受了对接，双方的联系方式现已互相可见。", deal.owner_org),
            format!("{} accepted the deal; both parties now see each other's contact details.", deal.owner_org),
        ),
        DealEvent::Decline { reason, note } => {
            let (zh, en) = decline_reason_label(*reason);
            let note = note.as_deref().filter(|n| !n.trim().is_empty());
            (
                format!("对接被婉拒：「{title}」"),
                format!("Deal declined: “{title}”"),
                format!("原因：{zh}{}", note.map(|n| format!("。说明：{n}")).unwrap_or_default()),
                format!("Reason: {en}{}", note.map(|n| format!(". Note: {n}")).unwrap_or_default()),
            )
        }
        DealEvent::Meeting { at, place } => {
            let when = at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
            (
                format!("已记录洽谈：「{title}」"),
                format!("Meeting recorded: “{title}”"),
                format!("{who} 记录了洽谈：{when}，地点 {place}。"),
                format!("{who} recorded a meeting at {when}, {place}."),
            )
        }
        DealEvent::Sign { agreement_type, value, signed_on, .. } => {
            let kind = serde_json::to_value(agreement_type).ok().and_then(|v| v.as_str().map(str::to_string));
            let kind = kind.unwrap_or_default();
            let value_zh = value.map(|v| format!("，金额 {v} 万元")).unwrap_or_default();
            let value_en = value.map(|v| format!(", value {v} (10k CNY)")).unwrap_or_default();
            (
                format!("已签约：「{title}」"),
                format!("Agreement signed: “{title}”"),
                format!("{who} 记录了签约（{kind}，{}{value_zh}）。", signed_on.0),
                format!("{who} recorded an agreement ({kind}, {}{value_en}).", signed_on.0),
            )
        }
        DealEvent::Outcome { stage, .. } => {
            let stage = serde_json::to_value(stage).ok().and_then(|v| v.as_str().map(str::to_string));
            let stage = stage.unwrap_or_default();
            (
                format!("已记录转化成果：「{title}」"),
                format!("Outcome recorded: “{title}”"),
                format!("{who} 记录了转化成果：{stage}。"),
                format!("{who} recorded the outcome: {stage}."),
            )
        }
        DealEvent::Close { reason } => (
            format!("对接已关闭：「{title}」"),
            format!("Deal closed: “{title}”"),
            format!("{who} 关闭了对接。原因：{reason}"),
            format!("{who} closed the deal. Reason: {reason}"),
        ),
        DealEvent::AppointBroker { username } => {
            let (side_zh, side_en) = match side {
                Side::Asker => ("对接发起方", "the asking side"),
                Side::Owner => ("资源所有方", "the owning side"),
            };
            (
                format!("已委托技术经理人：「{title}」"),
                format!("Broker appointed: “{title}”"),
                format!("技术经理人 {username} 现代表{side_zh}参与对接。"),
                format!("Technology manager {username} now acts for {side_en}."),
            )
        }
    };
    Notice {
        event: deal_event_name(event).into(),
        title_zh,
        title_en,
        body_zh,
        body_en,
        link: format!("/deals/{}", deal.id),
        deal_id: Some(deal.id),
        listing_id: Some(deal.listing_id),
        to_orgs: vec![other_org],
        to_users: deal.brokers.iter().map(|b| b.user_id).collect(),
        except: Some(actor.user_id),
        data: deal_data(deal, Some(event), actor, side),
        email,
    }
}

/// The notice of a review decision: to the publisher's organisation (none for a listing
/// without an owner).
pub(crate) fn reviewed(
    listing: &Listing,
    approved: bool,
    reason: &str,
    actor: &Principal,
    email: bool,
) -> Option<Notice> {
    let owner = listing.body.owner_org.clone()?;
    let title = &listing.body.title;
    let status = if approved { xietong_domain::Status::Published } else { xietong_domain::Status::Rejected };
    let (event, title_zh, title_en, body_zh, body_en) = if approved {
        (
            "listing.approved",
            format!("资源已审核通过：「{title}」"),
            format!("Listing approved: “{title}”"),
            "区域管理员已审核通过并发布该资源。".to_string(),
            "A region operator approved and published the listing.".to_string(),
        )
    } else {
        (
            "listing.rejected",
            format!("资源审核未通过：「{title}」"),
            format!("Listing rejected: “{title}”"),
            format!("区域管理员未通过审核。原因：{reason}"),
            format!("A region operator rejected the listing. Reason: {reason}"),
        )
    };
    Some(Notice {
        event: event.into(),
        title_zh,
        title_en,
        body_zh,
        body_en,
        link: format!("/listings/{}", listing.id),
        deal_id: None,
        listing_id: Some(listing.id),
        to_orgs: vec![owner.clone()],
        to_users: Vec::new(),
        except: Some(actor.user_id),
        data: serde_json::json!({
            "listing": {"id": listing.id.to_string(), "title": title, "status": status.as_str(), "owner_org": owner},
            "reason": reason,
        }),
        email,
    })
}

/// The reminder to the owner of a listing nobody updated for `days` days.
pub(crate) fn stale_reminder(listing: &Listing, owner: &str, days: u32, email: bool) -> Notice {
    let title = &listing.body.title;
    Notice {
        event: "listing.stale".into(),
        title_zh: format!("资源超过{days}天未更新：「{title}」"),
        title_en: format!("Listing not updated for {days} days: “{title}”"),
        body_zh: "请核实信息是否仍然有效并更新；长期未更新的资源在匹配中排序靠后。".into(),
        body_en: "Please check that it is still current and update it; stale listings rank lower in matching.".into(),
        link: format!("/listings/{}/edit", listing.id),
        deal_id: None,
        listing_id: Some(listing.id),
        to_orgs: vec![owner.to_string()],
        to_users: Vec::new(),
        except: None,
        data: serde_json::json!({
            "listing": {"id": listing.id.to_string(), "title": title, "owner_org": owner}, "stale_after_days": days,
        }),
        email,
    }
}

/// A claim on an organisation, to the operators who decide it (`submitted`) or to the claimant
/// (`approved`, `rejected` with the reason).
pub(crate) fn claim_notice(claim: &xietong_store::Claim, to_users: Vec<xietong_domain::UserId>, email: bool) -> Notice {
    use xietong_domain::claim::ClaimState;
    let org = &claim.org_name;
    let (event, title_zh, title_en, body_zh, body_en) = match claim.state {
        ClaimState::Approved => (
            "claim.approved",
            format!("机构认领已通过：{org}"),
            format!("Claim approved: {org}"),
            "您现在代表该机构，其资源和进行中的对接已归入您的账户。".to_string(),
            "You now represent the organisation; its listings and open deals are yours.".to_string(),
        ),
        ClaimState::Rejected => (
            "claim.rejected",
            format!("机构认领未通过：{org}"),
            format!("Claim rejected: {org}"),
            format!("原因：{}", claim.reason),
            format!("Reason: {}", claim.reason),
        ),
        _ => (
            "claim.submitted",
            format!("{} 申请认领机构：{org}", claim.username),
            format!("{} asks to represent {org}", claim.username),
            format!("统一社会信用代码 {}。说明：{}", claim.uscc, claim.note),
            format!("Unified social credit code {}. Note: {}", claim.uscc, claim.note),
        ),
    };
    Notice {
        event: event.into(),
        title_zh,
        title_en,
        body_zh,
        body_en,
        link: "/api/v1/claims".into(),
        deal_id: None,
        listing_id: None,
        to_orgs: Vec::new(),
        to_users,
        except: None,
        data: serde_json::json!({"claim": {
            "id": claim.id, "org": org, "org_id": claim.org_id, "claimant": claim.username, "state": claim.state.as_str(),
            "reason": claim.reason,
        }}),
        email,
    }
}

/// A refusal of the webhook's `url` (422).
fn bad_url(message_zh: &str, message_en: &str) -> AppError {
    AppError::Invalid(ValidationErrors::single("url", message_zh, message_en))
}

impl App {
    /// Uses these notification settings from now on (the outbox worker reads them as it starts).
    pub fn set_notify_settings(&self, settings: NotifySettings) {
        *self.notify.write() = Arc::new(settings);
    }

    /// The notification settings in force.
    pub fn notify_settings(&self) -> Arc<NotifySettings> {
        self.notify.read().clone()
    }

    /// Whether notices are also e-mailed (SMTP is configured).
    pub(crate) fn email_notices(&self) -> bool {
        self.notify.read().smtp.is_some()
    }

    /// Sends the inbox reminders of listings stale at `now` (each once per period, see
    /// [`App::listings_due_stale_reminder`]); returns how many were sent. Each reminder is an
    /// audit entry of the system carrying its notice.
    pub fn send_stale_reminders(&self, now: OffsetDateTime) -> AppResult<usize> {
        let due = self.listings_due_stale_reminder(now)?;
        let email = self.email_notices();
        let days = self.stale_after_days();
        for (id, _) in &due {
            let listing = match self.store.get(*id) {
                Ok(listing) => listing,
                Err(xietong_store::StoreError::NotFound(_)) => continue,
                Err(other) => return Err(other.into()),
            };
            let Some(owner) = listing.body.owner_org.clone() else { continue };
            let mut entry = Actor::operator().audit(
                "listing.stale_reminder",
                id.to_string(),
                listing.body.region_codes.first().cloned(),
            );
            entry.actor = "system".into();
            entry.detail = serde_json::json!({"owner_org": owner, "stale_after_days": days});
            entry.notices = vec![stale_reminder(&listing, &owner, days, email)];
            self.accounts.audit(entry)?;
        }
        Ok(due.len())
    }

    /// A page of the actor's inbox, newest first, with its unread count.
    pub fn inbox(&self, actor: &Actor, unread_only: bool, limit: u32, offset: u64) -> AppResult<InboxPage> {
        let principal = actor.user()?;
        Ok(self.notifications.inbox(principal.user_id, unread_only, limit, offset)?)
    }

    /// Unread notices of the actor (0 for visitors).
    pub fn unread_count(&self, actor: &Actor) -> AppResult<u64> {
        match actor.principal() {
            Some(principal) => Ok(self.notifications.unread_count(principal.user_id)?),
            None => Ok(0),
        }
    }

    /// Marks one notice of the actor's inbox read. `NotFound` for another user's notice.
    pub fn mark_read(&self, actor: &Actor, id: i64) -> AppResult<()> {
        let principal = actor.user()?;
        if self.notifications.mark_read(principal.user_id, id, OffsetDateTime::now_utc())? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("no notice {id} in your inbox")))
        }
    }

    /// Marks every notice of the actor's inbox read; returns how many were unread.
    pub fn mark_all_read(&self, actor: &Actor) -> AppResult<u64> {
        let principal = actor.user()?;
        Ok(self.notifications.mark_all_read(principal.user_id, OffsetDateTime::now_utc())?)
    }

    /// The actor's own organisation, which webhooks belong to.
    fn webhook_org(&self, principal: &Principal) -> AppResult<xietong_store::Org> {
        let name = principal.org.as_deref().ok_or_else(|| {
            AppError::Forbidden("your account belongs to no organisation, so it has no webhooks".into())
        })?;
        self.accounts
            .org_by_name(name)?
            .ok_or_else(|| AppError::Forbidden(format!("your organisation {name:?} does not exist")))
    }

    /// Registers a webhook of the actor's organisation for `events` (names of
    /// `xietong_domain::notify::EVENTS`, or `*`). The URL must be http(s) and, unless private
    /// addresses are allowed, must not name or resolve to a loopback, private, link-local,
    /// unique-local or unspecified address (422).
    pub fn register_webhook(&self, actor: &Actor, url: &str, secret: &str, events: &[String]) -> AppResult<Webhook> {
        let principal = actor.user()?;
        let org = self.webhook_org(principal)?;
        let url = url.trim();
        if url.chars().count() > 2_000 {
            return Err(bad_url("网址过长（最多 2000 个字符）", "the URL is too long (at most 2000 characters)"));
        }
        crate::outbox::check_webhook_url(url, self.notify_settings().allow_private)
            .map_err(|refusal| bad_url(&refusal.zh, &refusal.en))?;
        let secret_chars = secret.chars().count();
        if !(8..=256).contains(&secret_chars) {
            return Err(AppError::Invalid(ValidationErrors::single(
                "secret",
                "密钥需 8 至 256 个字符",
                "the secret must have 8 to 256 characters",
            )));
        }
        let mut errors = ValidationErrors::default();
        if events.is_empty() {
            errors.push(
                "events",
                "请至少订阅一个事件，或用 \"*\" 订阅全部",
                "subscribe to at least one event, or to \"*\" for all",
            );
        }
        for (index, event) in events.iter().enumerate() {
            if event != ALL_EVENTS && !is_event(event) {
                errors.push(
                    format!("events[{index}]"),
                    format!("未知事件 {event:?}"),
                    format!(
                        "unknown event {event:?}; use \"*\" or one of {}",
                        xietong_domain::notify::EVENTS.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        if self.notifications.webhooks_of(org.id)?.len() >= MAX_WEBHOOKS_PER_ORG {
            return Err(AppError::Conflict(format!(
                "an organisation has at most {MAX_WEBHOOKS_PER_ORG} webhooks; delete one first"
            )));
        }
        let mut events: Vec<String> = events.to_vec();
        events.sort();
        events.dedup();
        let hook = NewWebhook {
            org_id: org.id,
            url: url.to_string(),
            secret: secret.to_string(),
            events,
            created_by: principal.user_id,
        };
        Ok(self.notifications.create_webhook(hook, &|created| {
            let mut entry = actor.audit("webhook.create", created.id.to_string(), Some(org.region_code.clone()));
            entry.detail = serde_json::json!({"org": org.name, "url": created.url, "events": created.events});
            entry
        })?)
    }

    /// The webhooks of the actor's organisation.
    pub fn webhooks(&self, actor: &Actor) -> AppResult<Vec<Webhook>> {
        let org = self.webhook_org(actor.user()?)?;
        Ok(self.notifications.webhooks_of(org.id)?)
    }

    /// A webhook of the actor's organisation; `NotFound` for any other.
    fn own_webhook(&self, actor: &Actor, id: i64) -> AppResult<(Webhook, xietong_store::Org)> {
        let org = self.webhook_org(actor.user()?)?;
        match self.notifications.webhook(id)? {
            Some(hook) if hook.org_id == org.id => Ok((hook, org)),
            _ => Err(AppError::NotFound(format!("no webhook {id} of your organisation"))),
        }
    }

    /// Removes a webhook of the actor's organisation with its delivery log.
    pub fn delete_webhook(&self, actor: &Actor, id: i64) -> AppResult<()> {
        let (hook, org) = self.own_webhook(actor, id)?;
        let mut entry = actor.audit("webhook.delete", id.to_string(), Some(org.region_code));
        entry.detail = serde_json::json!({"org": org.name, "url": hook.url});
        if self.notifications.delete_webhook(id, entry)? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("no webhook {id} of your organisation")))
        }
    }

    /// The newest deliveries of a webhook of the actor's organisation.
    pub fn webhook_deliveries(&self, actor: &Actor, id: i64) -> AppResult<Vec<Delivery>> {
        self.own_webhook(actor, id)?;
        Ok(self.notifications.deliveries(id, DELIVERY_LOG)?)
    }

    /// Sets the actor's e-mail address for notices (`None` or empty: removes it).
    pub fn set_email(&self, actor: &Actor, email: Option<&str>) -> AppResult<Option<String>> {
        let principal = actor.user()?;
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if let Some(address) = email
            && (address.len() > 254 || address.parse::<lettre::Address>().is_err())
        {
            return Err(AppError::Invalid(ValidationErrors::single(
                "email",
                "电子邮件地址无效",
                "not a valid e-mail address",
            )));
        }
        let mut entry = actor.audit("user.email", principal.username.clone(), principal.region.clone());
        entry.detail = serde_json::json!({"set": email.is_some()});
        self.notifications.set_email(principal.user_id, email, entry)?;
        Ok(email.map(str::to_string))
    }

    /// The actor's e-mail address for notices.
    pub fn email(&self, actor: &Actor) -> AppResult<Option<String>> {
        Ok(self.notifications.email_of(actor.user()?.user_id)?)
    }
}

/// The notice of a new booking (or waitlist entry): to the facility's owner organisation.
pub(crate) fn booking_requested(
    booking: &xietong_store::Booking,
    title: &str,
    owner_org: &str,
    actor: &Principal,
    email: bool,
) -> Notice {
    let when = xietong_domain::booking::fmt_beijing(booking.start);
    let (zh, en) = if booking.state == xietong_domain::booking::BookingState::Waitlisted {
        ("候补", "waitlist entry")
    } else {
        ("预约", "booking")
    };
    Notice {
        event: "booking.requested".into(),
        title_zh: format!("「{title}」收到新的{zh}"),
        title_en: format!("New {en} at “{title}”"),
        body_zh: format!("{} 申请 {when} 起的 {} 个单位。用途：{}", booking.booker, booking.quantity, booking.purpose),
        body_en: format!(
            "{} asks for {} unit(s) from {when}. Purpose: {}",
            booking.booker, booking.quantity, booking.purpose
        ),
        link: "/bookings".into(),
        deal_id: None,
        listing_id: Some(booking.facility_id),
        to_orgs: vec![owner_org.to_string()],
        to_users: Vec::new(),
        except: Some(actor.user_id),
        data: serde_json::json!({"booking_id": booking.id, "state": booking.state.as_str(), "start": when}),
        email,
    }
}

/// The notice of an event on a booking: to its booker (never to the actor).
pub(crate) fn booking_moved(
    booking: &xietong_store::Booking,
    event: &str,
    title: &str,
    actor: &Principal,
    email: bool,
) -> Notice {
    let state = booking.state;
    Notice {
        event: "booking.updated".into(),
        title_zh: format!("「{title}」的预约{}", state.label_zh()),
        title_en: format!("Your booking at “{title}”: {}", state.label_en()),
        body_zh: format!(
            "预约 #{}（{} 起）现为：{}",
            booking.id,
            xietong_domain::booking::fmt_beijing(booking.start),
            state.label_zh()
        ),
        body_en: format!(
            "Booking #{} (from {}) is now {}",
            booking.id,
            xietong_domain::booking::fmt_beijing(booking.start),
            state.as_str()
        ),
        link: format!("/listings/{}", booking.facility_id),
        deal_id: None,
        listing_id: Some(booking.facility_id),
        to_orgs: Vec::new(),
        to_users: vec![booking.booker_id],
        except: Some(actor.user_id),
        data: serde_json::json!({"booking_id": booking.id, "event": event, "state": state.as_str()}),
        email,
    }
}
