//! Accounts and everything the access rules need to remember: organisations, users, sessions,
//! API tokens, technology-manager appointments, contact requests and the grants they create,
//! per-region review settings and decisions, and the append-only audit trail.
//!
//! Secrets never reach the store in clear: sessions and API tokens are stored as hashes of the
//! token (the caller hashes), passwords as argon2id PHC strings.

use serde::Serialize;
use time::OffsetDateTime;
use xietong_domain::{Listing, ListingId, OrgId, OrgKind, Role, Scope, UserId};

use crate::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Org {
    pub id: OrgId,
    /// Unique; listings' `owner_org` holds this name.
    pub name: String,
    pub kind: OrgKind,
    /// GB/T 2260 code.
    pub region_code: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrg {
    pub name: String,
    pub kind: OrgKind,
    pub region_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    /// Unique, case-sensitive.
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_id: Option<OrgId>,
    /// The region a region operator operates.
    pub region_code: Option<String>,
    /// argon2id PHC string; never serialised.
    #[serde(skip)]
    pub password_hash: String,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_id: Option<OrgId>,
    pub region_code: Option<String>,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Hash of the cookie value.
    pub token_hash: String,
    pub user_id: UserId,
    /// The CSRF token forms and unsafe API calls of this session must carry.
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: UserId,
    pub name: String,
    /// Hash of the token; never serialised.
    #[serde(skip)]
    pub token_hash: String,
    pub scopes: Vec<Scope>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub user_id: UserId,
    pub name: String,
    pub token_hash: String,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<OffsetDateTime>,
}

/// A region operator's decision on a listing awaiting review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub id: i64,
    pub listing_id: ListingId,
    pub reviewer_id: UserId,
    pub approved: bool,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// One entry of the audit trail: who did what, when, from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor_id: Option<UserId>,
    /// Username, or `cli` / `anonymous`.
    pub actor: String,
    /// Dotted action name: `listing.create`, `login.success`, `login.failure`, `contact.reveal`…
    pub action: String,
    /// What was acted on: a listing id, a username, a token id.
    pub target: String,
    /// The region the entry belongs to (a listing's first region, a user's home region); region
    /// operators see entries inside their region.
    pub region_code: Option<String>,
    pub ip: Option<String>,
    /// Free-form JSON details.
    pub detail: serde_json::Value,
}

/// An audit entry to append (`seq` and `at` are assigned by the store).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewAudit {
    pub actor_id: Option<UserId>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub region_code: Option<String>,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
    /// Notices of the event, stored with the entry in the same transaction (see
    /// [`crate::Notice`]); not part of the entry itself.
    pub notices: Vec<crate::Notice>,
}

/// A region operator's decision on a listing awaiting review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewDecision {
    pub listing_id: ListingId,
    pub expected_version: i64,
    pub reviewer_id: UserId,
    pub approved: bool,
    pub reason: String,
}

/// Filter of an audit query.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries whose region is one of these codes (a region and everything below it,
    /// expanded by the caller). `None` means all entries.
    pub region_codes: Option<Vec<String>>,
    pub action_prefix: Option<String>,
    pub actor: Option<String>,
}

/// Persistent accounts and access records: the four focused traits below, which every backend
/// implements on one database (so the audit entry of a write can share its transaction).
pub trait Accounts: Identity + Credentials + Collaboration + AuditTrail {}

impl<T: Identity + Credentials + Collaboration + AuditTrail> Accounts for T {}

/// Organisations, users and technology-manager appointments.
pub trait Identity: Send + Sync {
    /// Fails with `Taken { field: "name", .. }` when the name is taken.
    fn create_org(&self, org: NewOrg, audit: &dyn Fn(&Org) -> NewAudit) -> Result<Org, StoreError>;
    fn org(&self, id: OrgId) -> Result<Option<Org>, StoreError>;
    fn org_by_name(&self, name: &str) -> Result<Option<Org>, StoreError>;
    fn orgs(&self) -> Result<Vec<Org>, StoreError>;

    /// Fails with `Taken { field: "username", .. }` when the username is taken; `appointed_by`
    /// are the organisations a technology manager acts for.
    fn create_user(
        &self,
        user: NewUser,
        appointed_by: &[OrgId],
        audit: &dyn Fn(&User) -> NewAudit,
    ) -> Result<User, StoreError>;
    fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// All users, by username.
    fn users(&self) -> Result<Vec<User>, StoreError>;
    fn set_password(&self, user_id: UserId, password_hash: &str, audit: NewAudit) -> Result<(), StoreError>;
    /// Disables the account, deletes its sessions and revokes its API tokens; with `erase`, also
    /// deletes those listings for good (personal-data erasure; the change log records it).
    fn disable_user(&self, user_id: UserId, erase: &[ListingId], audit: NewAudit) -> Result<(), StoreError>;

    /// Technology managers: organisations that appointed `user_id`.
    fn appoint(&self, user_id: UserId, org_id: OrgId, audit: NewAudit) -> Result<(), StoreError>;
    fn appointments(&self, user_id: UserId) -> Result<Vec<Org>, StoreError>;
}

/// Login sessions and API tokens (stored as hashes).
pub trait Credentials: Send + Sync {
    /// A new session and the audit entry of the login that opened it.
    fn create_session(&self, session: Session, audit: NewAudit) -> Result<(), StoreError>;
    /// The session with this token hash, if it exists and has not expired at `now`.
    fn session(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<Session>, StoreError>;
    fn delete_session(&self, token_hash: &str, audit: NewAudit) -> Result<(), StoreError>;
    /// Deletes expired sessions; returns how many.
    fn purge_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    fn create_token(&self, token: NewApiToken, audit: &dyn Fn(&ApiToken) -> NewAudit) -> Result<ApiToken, StoreError>;
    /// The token with this hash if it is neither revoked nor expired at `now`; records `now` as
    /// its last use.
    fn use_token(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<ApiToken>, StoreError>;
    fn tokens_of(&self, user_id: UserId) -> Result<Vec<ApiToken>, StoreError>;
    fn token(&self, id: i64) -> Result<Option<ApiToken>, StoreError>;
    /// Idempotent: returns whether a live token was revoked by this call (audited only then).
    fn revoke_token(&self, id: i64, now: OffsetDateTime, audit: NewAudit) -> Result<bool, StoreError>;
}

/// Reviews before publication.
pub trait Collaboration: Send + Sync {
    /// Regions where publication waits for a region operator's review.
    fn review_regions(&self) -> Result<Vec<String>, StoreError>;
    fn set_review_region(&self, region_code: &str, required: bool, audit: NewAudit) -> Result<(), StoreError>;
    /// Publishes (`approved`) or rejects a listing awaiting review if it is still at
    /// `expected_version`, and records the decision and its audit entry, in one transaction.
    /// `NotFound` when the listing does not exist, `Conflict` when it changed or is not pending.
    fn review_listing(
        &self,
        decision: ReviewDecision,
        audit: &dyn Fn(&Review) -> NewAudit,
    ) -> Result<(Review, Listing), StoreError>;
    /// Decisions on a listing, newest first.
    fn reviews_of(&self, listing_id: ListingId) -> Result<Vec<Review>, StoreError>;
}

/// Failed logins counted by the login throttle, read from the audit trail (so every node of a
/// shared database counts the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginFailures {
    /// `login.failure` entries of the username since `since` and since its last success.
    pub account: u64,
    /// The oldest of them.
    pub account_oldest: Option<OffsetDateTime>,
    /// `login.failure` entries from the client address since `since`.
    pub address: u64,
    pub address_oldest: Option<OffsetDateTime>,
}

/// The append-only audit trail.
pub trait AuditTrail: Send + Sync {
    /// Failed logins for `username` (after its last `login.success`) and from `ip` (`None`:
    /// requests without an address) recorded after `since`.
    fn login_failures(
        &self,
        username: &str,
        ip: Option<&str>,
        since: OffsetDateTime,
    ) -> Result<LoginFailures, StoreError>;
    /// Appends to the audit trail; the table refuses updates and deletes.
    fn audit(&self, entry: NewAudit) -> Result<AuditEntry, StoreError>;
    /// Entries matching the filter, newest first, and the number of all matching entries.
    fn audit_entries(
        &self,
        filter: &AuditFilter,
        limit: u32,
        offset: u64,
    ) -> Result<(Vec<AuditEntry>, u64), StoreError>;
}
