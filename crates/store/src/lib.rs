//! The store is the source of truth for listings. The search index is derived from it by
//! replaying the change log (`changes_since`), so every write also appends a change in the same
//! transaction.
//!
//! The trait is synchronous: both backends do blocking IO, and async callers wrap calls in
//! `spawn_blocking`.
//!
//! Two backends implement every trait here: [`SqliteStore`] (one file, the embedded default) and
//! [`PostgresStore`] (a server several nodes share). [`open_url`] picks one by URL.

mod accounts;
mod bookings;
mod chains;
mod challenges;
mod claims;
pub mod copy;
mod deals;
mod feedback;
mod idempotency;
mod notifications;
mod postgres;
mod sqlite;
mod talent;

use std::path::Path;
use std::sync::Arc;

use xietong_domain::{Kind, Listing, ListingBody, ListingId, ReadScope, Status};

pub use accounts::*;
pub use bookings::*;
pub use chains::*;
pub use challenges::*;
pub use claims::*;
pub use deals::*;
pub use feedback::{Feedback, ImpressionCount};
pub use idempotency::{Idempotency, IdempotencyBegin, StoredResponse};
pub use notifications::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use talent::*;

/// Everything a database holds (listings, accounts, idempotency keys, deals, feedback, claims,
/// notifications, challenges' runs, bookings and vouchers), as one backend implements it on one
/// database, so writes, their audit entries and their notices share transactions.
/// `Arc<dyn Database>` coerces to `Arc<dyn Store>`, `Arc<dyn Accounts>` and the others.
pub trait Database:
    Store + Accounts + Idempotency + Deals + Feedback + Claims + Notifications + Challenges + Bookings + Chains + Talent
{
}

impl<
    T: Store
        + Accounts
        + Idempotency
        + Deals
        + Feedback
        + Claims
        + Notifications
        + Challenges
        + Bookings
        + Chains
        + Talent,
> Database for T
{
}

/// Opens the database a URL names: `postgres://…` or `postgresql://…` connects to PostgreSQL
/// ([`PostgresStore::connect`]); `sqlite://PATH`, `sqlite:PATH` or a plain path opens (creating)
/// a SQLite file ([`SqliteStore::open`]). Pending migrations are applied either way.
pub fn open_url(url: &str) -> Result<Arc<dyn Database>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::connect(url)?));
    }
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    if path.is_empty() {
        return Err(StoreError::backend(format!("no database file in {url:?}")));
    }
    Ok(Arc::new(SqliteStore::open(Path::new(path))?))
}

/// What can go wrong in a store. Callers match on every variant but `Backend`, which is logged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("listing {0} not found")]
    NotFound(ListingId),
    #[error("listing {id} has version {actual}, not {expected}: reload it and apply your change again")]
    Conflict { id: ListingId, expected: i64, actual: i64 },
    #[error("a listing with the same {field} already exists: {existing}")]
    Duplicate { field: &'static str, existing: ListingId },
    /// A unique name of an account record is in use: `field` is `name` (organisations) or
    /// `username` (users), `value` the name asked for.
    #[error("{field} {value:?} is already taken")]
    Taken { field: &'static str, value: String },
    /// Another change came first: the record is no longer at the version the change was decided
    /// on. `what` names the record.
    #[error("{what} has version {actual}, not {expected}: reload it and decide again")]
    Stale { what: String, expected: i64, actual: i64 },
    /// The record is not in a state that allows the change (e.g. a review of a listing that is
    /// no longer pending): a conflict the caller reports as such.
    #[error("{0}")]
    WrongState(String),
    /// The database failed, or holds something it should not. `context` says what was being
    /// done; `source` keeps the driver's error for logs (`{:#}` prints the chain).
    #[error("storage backend failed: {context}")]
    Backend {
        context: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl StoreError {
    /// A backend failure without an underlying error (e.g. corrupt stored data).
    pub fn backend(context: impl Into<String>) -> StoreError {
        StoreError::Backend { context: context.into(), source: None }
    }

    /// A backend failure caused by `source`.
    pub fn backend_caused(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Backend { context: context.into(), source: Some(Box::new(source)) }
    }
}

/// Filters of a listing query. `region` and `industry` include everything below the given code.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub kind: Option<Kind>,
    pub region: Option<String>,
    pub industry: Option<String>,
    pub status: Option<Status>,
    pub owner_org: Option<String>,
    /// Only listings this scope may read (see `xietong_domain::ReadScope`); `None` is no
    /// restriction, for operator tools.
    pub scope: Option<ReadScope>,
    pub sort: ListSort,
}

/// Order of a listing query; every order ends with the id so pages are stable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListSort {
    #[default]
    Newest,
    Oldest,
    RecentlyUpdated,
    Title,
}

/// One page of results and the number of all matching listings.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Listing>,
    pub total: u64,
}

/// One entry of the change log: listing `id` was written at sequence number `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub seq: u64,
    pub id: ListingId,
}

/// A write inside a batch.
#[derive(Debug, Clone)]
pub enum WriteOp {
    Create(ListingBody),
    Update { id: ListingId, expected_version: i64, body: ListingBody },
}

/// One write to a listing, for [`Store::write_audited`].
#[derive(Debug, Clone)]
pub enum ListingWrite {
    Create(ListingBody),
    Update {
        id: ListingId,
        expected_version: i64,
        body: ListingBody,
    },
    /// Only the status changes (e.g. archive); the version is checked when given.
    SetStatus {
        id: ListingId,
        expected_version: Option<i64>,
        status: Status,
    },
}

/// A natural key under which a listing may already exist.
#[derive(Debug, Clone)]
pub enum ListingKey {
    /// An id from the source system, unique per kind and owner organisation.
    External { kind: Kind, owner_org: Option<String>, external_id: String },
    /// Enterprises: the unified social credit code.
    Uscc(String),
    /// Same kind, same title and same owner organisation.
    TitleOwner { kind: Kind, title: String, owner_org: Option<String> },
}

/// Number of listings per kind and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCount {
    pub kind: Kind,
    pub status: Status,
    pub count: u64,
}

/// Enterprises whose head office is in `hq_region` and that have a site with `role` in
/// `site_region`: the raw material of cross-region flow dashboards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteLink {
    pub hq_region: String,
    pub site_region: String,
    pub role: String,
    /// Distinct enterprises.
    pub enterprises: u64,
    /// Sites (an enterprise may have several in one region).
    pub sites: u64,
    /// Ids of the enterprises, for drill-down and distinct counting across regions.
    pub enterprise_ids: Vec<ListingId>,
}

/// Persistent storage of listings. Bodies passed in are already validated.
pub trait Store: Send + Sync {
    /// Stores a new listing with version 1.
    fn create(&self, body: ListingBody) -> Result<Listing, StoreError>;
    fn get(&self, id: ListingId) -> Result<Listing, StoreError>;
    /// The listings that exist among `ids`, in the order given.
    fn get_many(&self, ids: &[ListingId]) -> Result<Vec<Listing>, StoreError>;
    /// Replaces the body if the stored version equals `expected_version`; bumps the version.
    fn update(&self, id: ListingId, expected_version: i64, body: ListingBody) -> Result<Listing, StoreError>;
    /// Changes only the status (e.g. archive); `expected_version` is checked when given.
    fn set_status(&self, id: ListingId, expected_version: Option<i64>, status: Status) -> Result<Listing, StoreError>;
    /// Applies `write` and appends the audit entry `audit` makes of the written listing, in one
    /// transaction: an acknowledged write always has its audit entry, and an entry never
    /// records a write that did not happen.
    fn write_audited(&self, write: ListingWrite, audit: &dyn Fn(&Listing) -> NewAudit) -> Result<Listing, StoreError>;
    /// Applies all ops in one transaction: all are stored or none.
    fn write_batch(&self, ops: Vec<WriteOp>) -> Result<Vec<Listing>, StoreError>;
    fn list(&self, filter: &ListFilter, limit: u32, offset: u64) -> Result<ListPage, StoreError>;
    /// Listings in id order after `after` (keyset scan for rebuilding the index).
    fn scan(&self, after: Option<ListingId>, limit: u32) -> Result<Vec<Listing>, StoreError>;
    fn counts(&self) -> Result<Vec<KindCount>, StoreError>;
    /// Changes with `seq > after_seq`, oldest first.
    fn changes_since(&self, after_seq: u64, limit: u32) -> Result<Vec<Change>, StoreError>;
    fn last_seq(&self) -> Result<u64, StoreError>;
    /// Removes the listing for good (personal-data deletion), with its contact requests and
    /// reviews; the change log records it so the index drops it too. `NotFound` when absent.
    fn delete(&self, id: ListingId) -> Result<(), StoreError>;
    fn find_by_key(&self, key: &ListingKey) -> Result<Option<Listing>, StoreError>;
    /// Head-office → other-site links of published enterprises.
    fn site_links(&self) -> Result<Vec<SiteLink>, StoreError>;
    fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError>;
    fn meta_set(&self, key: &str, value: &str) -> Result<(), StoreError>;
}
