//! Application wiring shared by the server and the command line: where things live in the data
//! directory, and how the derived search index is kept in line with the store.
//!
//! Invariant: the store is the source of truth. Every store write appends to its change log in
//! the same transaction; [`App::sync_index`] replays the log after the index's last applied
//! sequence number, so a crash between the two writes is repaired by the next sync, and
//! [`App::reindex`] can always rebuild the index from the store alone.

pub mod account;
pub mod auth;
pub mod booking;
pub mod bundle;
pub mod chain;
pub mod challenge;
pub mod claim;
pub mod collab;
pub mod credential;
pub mod data_dir;
pub mod deal;
pub mod demo_accounts;
pub mod demo_chains;
mod demo_challenges;
mod demo_talent;
pub mod enclave;
pub mod engagement;
pub mod error;
pub mod feedback;
pub mod funnel;
pub mod listing;
pub mod notify;
pub mod outbox;
pub mod search;
pub mod service_catalog;
pub mod stats;
pub mod transfer;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use anyhow::Context;
use parking_lot::{Mutex, RwLock};
use xietong_domain::{Listing, ListingId, Reference, validate};
use xietong_search::SearchIndex;
use xietong_store::{
    Accounts, Bookings, Challenges, Claims, Deals, Feedback, Idempotency, IdempotencyBegin, NewAudit, Notifications,
    Store, StoredResponse, WriteOp,
};

pub use account::AccountService;
pub use auth::Auth;
pub use data_dir::DataDir;
pub use error::{AppError, AppResult};
pub use listing::{Actor, Written};

/// The data types the use cases take and return, so the entry points (HTTP, web pages, command
/// line) need no direct dependency on the store or the index.
pub mod types {
    pub use crate::booking::{
        Availability, BookingRequest, FreeWindow, Slot, Utilisation, UtilisationBy, VoucherInput,
    };
    pub use crate::challenge::{
        ApplicationInput, ApplicationView, Board, BoardTeam, ChallengeView, MilestoneOutcome, MyApplication, Suggestion,
    };
    pub use crate::claim::OrgRef;
    pub use crate::collab::{ContactRequest, RequestState};
    pub use crate::credential::{CredentialInput, RecognisedAs, RecognitionInput, TalentCard, Verification};
    pub use crate::deal::Handler;
    pub use crate::engagement::{EngagementAction, EngagementInput, EngagementStats};
    pub use crate::service_catalog::{ServiceQuery, ServiceResults};
    pub use xietong_search::budget::{self, Budget};
    pub use xietong_search::eval;
    pub use xietong_search::{
        Embedder, Explanation, FacetCount, Facets, FitPart, HttpEmbedder, LocalModelEmbedder, MatchHit, MatchRequest,
        Outcome, SearchError, SearchHit, SearchQuery, SearchResults, SearchSort, complementary_kinds,
    };
    pub use xietong_store::copy;
    pub use xietong_store::{
        ApiToken, Application, ApplicationId, AuditEntry, Booking, BookingStep, Broker, ChallengeRun, Claim, Clearance,
        Deal, DealStep, Delivery, DeliveryState, FacilityCalendar, GateDecision, IdempotencyBegin, InboxItem,
        InboxPage, KindCount, LedgerEntry, ListFilter, ListPage, ListSort, Milestone, MilestoneId, Org, Report,
        ReportId, Review, Reviewer, ScoreSheet, Session, SiteLink, StoreError, StoredResponse, User, Voucher, Webhook,
        WriteOp,
    };
    pub use xietong_store::{Engagement, RecognitionRule, Service, StoredCredential};
}

/// How long the index may lag behind the store before `/healthz` reports `degraded`.
const DEGRADED_AFTER: Duration = Duration::from_secs(3);
/// How often the follower looks for changes when all is well.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);
/// Longest wait of the follower between retries after a failure.
const FOLLOW_MAX_BACKOFF: Duration = Duration::from_secs(8);

/// Changes replayed per index commit.
const SYNC_BATCH: u32 = 5_000;
/// Meta key recording that the demo dataset was loaded (value: the seed).
const DEMO_META_KEY: &str = "demo_seed";

/// The store and the index derived from it.
pub struct App {
    store: Arc<dyn Store>,
    /// Accounts, sessions, tokens, requests, reviews and the audit trail (same database).
    accounts: Arc<dyn Accounts>,
    /// The account use cases (which the command line also runs without the index).
    account: AccountService,
    index: Arc<SearchIndex>,
    /// Deals (same database).
    deals: Arc<dyn Deals>,
    /// Challenges' runs (same database).
    challenges: Arc<dyn Challenges>,
    /// Facility calendars, bookings, clearances and vouchers (same database).
    bookings: Arc<dyn Bookings>,
    /// Issuing keys, credentials, recognition rules, engagements and the service catalogue.
    talent: Arc<dyn xietong_store::Talent>,
    /// The key sealing issuing keys at rest (`XT_CREDENTIAL_KEY`, see [`credential`]).
    credential_key: credential::SealingKey,
    /// Match impressions and stale reminders (same database).
    feedback: Arc<dyn Feedback>,
    /// Impressions counted since the last flush.
    impressions: feedback::PendingImpressions,
    /// Listings not updated for this many days are stale.
    stale_after_days: u32,
    /// Claims on organisations (same database).
    claims: Arc<dyn Claims>,
    /// Chain edits and enclaves (same database).
    chains: Arc<dyn xietong_store::Chains>,
    /// Inboxes, webhooks and the outbox (same database).
    notifications: Arc<dyn Notifications>,
    /// How notices leave the platform (webhook guard, outbox pace, SMTP).
    notify: RwLock<Arc<notify::NotifySettings>>,
    sync_lock: Mutex<()>,
    /// Listing writes between their start and their store commit (see [`App::sync_index`]).
    writes_in_flight: AtomicUsize,
    health: Mutex<SyncHealth>,
    idempotency: Arc<dyn Idempotency>,
}

impl Drop for App {
    /// Impressions still in memory reach the store when the app closes (at shutdown).
    fn drop(&mut self) {
        if let Err(error) = self.flush_impressions() {
            tracing::warn!(%error, "failed to store match impressions at shutdown");
        }
    }
}

/// How long an index sync waits at most for listing writes under way (see [`App::sync_index`]).
const GROUP_COMMIT_WAIT: Duration = Duration::from_millis(5);

/// A listing write under way; see [`App::listing_write_started`].
pub(crate) struct WriteInFlight<'a>(&'a AtomicUsize);

impl Drop for WriteInFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_KEEP: Duration = Duration::from_secs(24 * 3600);

/// A hash of a request (method, path with query, body) that tells whether a retry with the same
/// idempotency key is the same request.
pub fn request_fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in [method.as_bytes(), b"\n", path.as_bytes(), b"\n", body] {
        hasher.update(part);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What the index follower knows about the index's lag behind the store.
#[derive(Debug, Default)]
struct SyncHealth {
    /// The last failure to apply changes; cleared by a successful sync.
    last_error: Option<String>,
    /// Since when the index has been behind the store (as last observed).
    behind_since: Option<Instant>,
}

/// The index's state for `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHealth {
    pub store_seq: u64,
    pub index_seq: u64,
    /// Whether the index has lagged behind the store for longer than a few seconds.
    pub degraded: bool,
    /// How long it has lagged, in milliseconds (0 when in step).
    pub lag_ms: u64,
    /// The last failure to update the index, while it is not repaired.
    pub last_error: Option<String>,
}

impl App {
    /// Opens the store and index of a data directory and brings the index in line with the store.
    pub fn open(data_dir: &DataDir) -> anyhow::Result<App> {
        let index_path = data_dir.index_path();
        let index = SearchIndex::open(&index_path)
            .with_context(|| format!("failed to open search index at {}", index_path.display()))?;
        Self::open_with_index(data_dir, index)
    }

    /// [`App::open`] with an index opened by the caller (e.g. on a fault-injecting directory).
    pub fn open_with_index(data_dir: &DataDir, index: SearchIndex) -> anyhow::Result<App> {
        let database = data_dir.open_database()?;
        let store: Arc<dyn Store> = database.clone();
        let accounts: Arc<dyn Accounts> = database.clone();
        let deals: Arc<dyn Deals> = database.clone();
        let challenges: Arc<dyn Challenges> = database.clone();
        let bookings: Arc<dyn Bookings> = database.clone();
        let talent: Arc<dyn xietong_store::Talent> = database.clone();
        let feedback: Arc<dyn Feedback> = database.clone();
        let claims: Arc<dyn Claims> = database.clone();
        let chains: Arc<dyn xietong_store::Chains> = database.clone();
        let notifications: Arc<dyn Notifications> = database.clone();
        let idempotency: Arc<dyn Idempotency> = database;
        let app = App {
            idempotency,
            store,
            account: AccountService::new(accounts.clone()),
            deals,
            challenges,
            bookings,
            talent,
            credential_key: credential::SealingKey::from_env(),
            feedback,
            impressions: Default::default(),
            stale_after_days: feedback::DEFAULT_STALE_AFTER_DAYS,
            claims,
            chains,
            notifications,
            notify: RwLock::new(Arc::new(notify::NotifySettings::default())),
            accounts,
            index: Arc::new(index),
            sync_lock: Mutex::new(()),
            writes_in_flight: AtomicUsize::new(0),
            health: Mutex::new(SyncHealth::default()),
        };
        if app.index.applied_seq() > app.store.last_seq()? {
            // The index is ahead of the store (e.g. the database was replaced): rebuild it.
            tracing::warn!(index.seq = app.index.applied_seq(), "index is ahead of the store; rebuilding");
            app.reindex(|_, _| {})?;
        }
        app.sync_index()?;
        app.repair_if_inconsistent()?;
        Ok(app)
    }

    /// Compares the index's documents with the store's published listings, kind by kind, and
    /// rebuilds the index when they differ: a crash or a full disk may have left the index
    /// behind although its applied sequence says otherwise. Returns whether it rebuilt.
    pub fn repair_if_inconsistent(&self) -> anyhow::Result<bool> {
        let mut expected: std::collections::BTreeMap<&'static str, u64> = std::collections::BTreeMap::new();
        for count in self.store.counts()? {
            if count.status == xietong_domain::Status::Published {
                *expected.entry(count.kind.as_str()).or_default() += count.count;
            }
        }
        let indexed = self.index.doc_counts_by_kind()?;
        let differs = xietong_domain::Kind::ALL.iter().any(|kind| {
            expected.get(kind.as_str()).copied().unwrap_or(0) != indexed.get(kind.as_str()).copied().unwrap_or(0)
        });
        if !differs {
            return Ok(false);
        }
        tracing::warn!(?expected, ?indexed, "the index does not hold what the store has published; rebuilding it");
        let started = Instant::now();
        let rebuilt = self.reindex(|_, _| {})?;
        tracing::info!(listings = rebuilt, duration_ms = started.elapsed().as_millis() as u64, "index rebuilt");
        Ok(true)
    }

    /// Brings the index in line after a committed write. A failure does not undo the write (the
    /// store is the truth): it is recorded for `/healthz`, the follower retries, and the caller
    /// learns that the write is not searchable yet. Returns whether the index caught up.
    /// Marks a listing write as under way until the guard is dropped (after its store commit),
    /// so that a concurrent index sync waits for it and commits both at once.
    pub(crate) fn listing_write_started(&self) -> WriteInFlight<'_> {
        self.writes_in_flight.fetch_add(1, Ordering::AcqRel);
        WriteInFlight(&self.writes_in_flight)
    }

    pub fn sync_after_write(&self) -> bool {
        match self.sync_index() {
            Ok(_) => true,
            Err(error) => {
                // Recorded for /healthz by sync_index; the follower logs it once per kind of
                // failure, so a full disk does not log once per write.
                tracing::debug!(
                    error = format!("{error:#}"),
                    "a stored write is not searchable yet; the follower retries"
                );
                false
            }
        }
    }

    /// Reserves an idempotency key of `scope` (the caller) for a request with `fingerprint` (see
    /// [`request_fingerprint`]), or tells what an earlier request with the key left.
    pub fn idempotency_begin(&self, scope: &str, key: &str, fingerprint: &str) -> anyhow::Result<IdempotencyBegin> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Ok(self.idempotency.idempotency_begin(scope, key, fingerprint, now, IDEMPOTENCY_KEEP.as_secs() as i64)?)
    }

    /// Records the answer to a reserved key, or releases it (`None`) so a retry runs again.
    pub fn idempotency_finish(&self, scope: &str, key: &str, response: Option<&StoredResponse>) -> anyhow::Result<()> {
        Ok(self.idempotency.idempotency_finish(scope, key, response)?)
    }

    /// The store, for integration tests (feature `testing`).
    #[cfg(feature = "testing")]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The accounts store, for integration tests (feature `testing`).
    #[cfg(feature = "testing")]
    pub fn accounts(&self) -> &Arc<dyn Accounts> {
        &self.accounts
    }

    /// The bookings store (calendars, bookings, vouchers), for integration tests (feature
    /// `testing`).
    #[cfg(feature = "testing")]
    pub fn booking_store(&self) -> &Arc<dyn Bookings> {
        &self.bookings
    }

    /// The deals store, for integration tests (feature `testing`).
    #[cfg(feature = "testing")]
    pub fn deal_store(&self) -> &Arc<dyn Deals> {
        &self.deals
    }

    /// The challenges store, for integration tests (feature `testing`).
    #[cfg(feature = "testing")]
    pub fn challenge_store(&self) -> &Arc<dyn Challenges> {
        &self.challenges
    }

    /// The feedback store (impressions, stale reminders), for integration tests (feature
    /// `testing`).
    #[cfg(feature = "testing")]
    pub fn feedback_store(&self) -> &Arc<dyn Feedback> {
        &self.feedback
    }

    /// The claims store, for tests that set up claims directly.
    #[cfg(feature = "testing")]
    pub fn claim_store(&self) -> &Arc<dyn Claims> {
        &self.claims
    }

    /// The notifications store, for integration tests (feature `testing`).
    #[cfg(feature = "testing")]
    pub fn notification_store(&self) -> &Arc<dyn Notifications> {
        &self.notifications
    }

    /// The search index, for integration tests (feature `testing`).
    #[cfg(feature = "testing")]
    pub fn index(&self) -> &Arc<SearchIndex> {
        &self.index
    }

    /// Uses `embedder` for semantic matching from now on (`None`: lexical only).
    pub fn set_embedder(&self, embedder: Option<Arc<dyn xietong_search::Embedder>>) {
        self.index.set_embedder(embedder);
    }

    /// Stores listings validated by the caller in one transaction, unaudited and not yet
    /// indexed (sync or reindex afterwards): for the operator's synthetic evaluation and
    /// benchmark data only.
    pub fn bulk_load(&self, ops: Vec<WriteOp>) -> AppResult<usize> {
        let count = ops.len();
        self.store.write_batch(ops)?;
        Ok(count)
    }

    /// The index's lag behind the store, for health checks.
    pub fn index_health(&self) -> anyhow::Result<IndexHealth> {
        let store_seq = self.store.last_seq()?;
        let index_seq = self.index.applied_seq();
        let mut health = self.health.lock();
        let lag = if index_seq < store_seq {
            health.behind_since.get_or_insert_with(Instant::now).elapsed()
        } else {
            health.behind_since = None;
            Duration::ZERO
        };
        Ok(IndexHealth {
            store_seq,
            index_seq,
            degraded: lag > DEGRADED_AFTER,
            lag_ms: lag.as_millis() as u64,
            last_error: health.last_error.clone(),
        })
    }

    /// Starts a thread that follows the store's change log, so writes from other processes (e.g.
    /// `xietong import` on the same data directory) and writes whose index step failed reach the
    /// index. After a failure it retries with back-off, logging once per kind of failure. The
    /// thread ends when the last other handle to the app is dropped.
    pub fn spawn_follower(app: &Arc<App>) -> std::thread::JoinHandle<()> {
        let weak: Weak<App> = Arc::downgrade(app);
        std::thread::Builder::new()
            .name("index-follower".into())
            .spawn(move || {
                let mut delay = FOLLOW_INTERVAL;
                let mut failing: Option<String> = None;
                let mut flush_due = Instant::now();
                loop {
                    std::thread::sleep(delay);
                    let Some(app) = weak.upgrade() else { return };
                    if flush_due.elapsed() >= feedback::IMPRESSIONS_FLUSH_EVERY {
                        flush_due = Instant::now();
                        if let Err(error) = app.flush_impressions() {
                            tracing::warn!(%error, "failed to store match impressions; kept for the next flush");
                        }
                    }
                    match app.sync_index() {
                        Ok(applied) => {
                            if failing.take().is_some() {
                                tracing::info!(changes = applied, "index caught up with the store again");
                            } else if applied > 0 {
                                tracing::info!(changes = applied, "index caught up with the store");
                            }
                            delay = FOLLOW_INTERVAL;
                        }
                        Err(error) => {
                            let kind = error.root_cause().to_string();
                            if failing.as_deref() != Some(kind.as_str()) {
                                tracing::error!(
                                    error = format!("{error:#}"),
                                    "index sync failed; retrying with back-off"
                                );
                                failing = Some(kind);
                            }
                            delay = (delay * 2).min(FOLLOW_MAX_BACKOFF);
                        }
                    }
                }
            })
            .expect("failed to start the index follower thread")
    }

    /// Replays store changes the index has not seen. Returns the number of changes applied.
    pub fn sync_index(&self) -> anyhow::Result<usize> {
        let result = self.sync_index_locked();
        let mut health = self.health.lock();
        match &result {
            Ok(_) => {
                // The index holds every change committed before this sync.
                health.last_error = None;
                health.behind_since = None;
            }
            Err(error) => {
                // The lag starts with the failure, not with the first health check that sees it.
                health.last_error = Some(format!("{error:#}"));
                health.behind_since.get_or_insert_with(Instant::now);
            }
        }
        result
    }

    fn sync_index_locked(&self) -> anyhow::Result<usize> {
        let _guard = self.sync_lock.lock();
        // Group commit: an index commit costs about the same for one listing as for ten, so the
        // syncing writer waits a moment for listing writes already under way (their store
        // commits take well under a millisecond) and takes them into the same commit; each of
        // them then finds its change applied and answers without a commit of its own.
        let deadline = Instant::now() + GROUP_COMMIT_WAIT;
        while self.writes_in_flight.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(100));
        }
        let mut applied = 0;
        loop {
            let after = self.index.applied_seq();
            let changes = self.store.changes_since(after, SYNC_BATCH)?;
            let Some(last) = changes.last() else { break };
            let last_seq = last.seq;
            let mut seen = HashSet::new();
            let ids: Vec<ListingId> = changes.iter().map(|c| c.id).filter(|id| seen.insert(*id)).collect();
            let listings = self.store.get_many(&ids)?;
            let found: HashSet<ListingId> = listings.iter().map(|l| l.id).collect();
            let deletes: Vec<ListingId> = ids.iter().copied().filter(|id| !found.contains(id)).collect();
            self.index.apply(&listings, &deletes, last_seq).context("failed to apply changes to the index")?;
            applied += changes.len();
            tracing::debug!(index.seq = last_seq, changes = changes.len(), "index synced");
        }
        Ok(applied)
    }

    /// Rebuilds the index from the store. `progress(done, total)` is called after each batch.
    pub fn reindex(&self, progress: impl Fn(u64, u64)) -> anyhow::Result<u64> {
        let _guard = self.sync_lock.lock();
        let seq = self.store.last_seq()?;
        let total: u64 = self.store.counts()?.iter().map(|c| c.count).sum();
        self.index.clear()?;
        let mut done = 0u64;
        let mut after = None;
        loop {
            let batch: Vec<Listing> = self.store.scan(after, SYNC_BATCH)?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            done += batch.len() as u64;
            // Writes that land while we scan are replayed by the next sync (upserts are idempotent).
            self.index.apply(&batch, &[], seq)?;
            progress(done, total);
        }
        if done == 0 {
            self.index.apply(&[], &[], seq)?;
        }
        Ok(done)
    }

    /// Appends to the audit trail after an action that wrote in several transactions of its own
    /// (an import); a failure is logged loudly rather than undoing the action.
    fn audit_after(&self, entry: NewAudit) {
        if let Err(error) = self.accounts.audit(entry.clone()) {
            tracing::error!(%error, action = %entry.action, target = %entry.target, "failed to write the audit trail");
        }
    }

    /// Loads the demo dataset once, and makes sure the demo accounts exist (see
    /// [`demo_accounts`]); later calls see the meta flags and do nothing. Returns the number of
    /// generated listings loaded by this call.
    pub fn load_demo(&self, seed: u64) -> anyhow::Result<usize> {
        let listings_loaded = self.store.meta_get(DEMO_META_KEY)?.is_some();
        if listings_loaded && demo_accounts::exist(self)? {
            // A restart: nothing to generate (the chains' curated listings arrived later: issue 19).
            demo_chains::ensure(self)?;
            return Ok(0);
        }
        let data = xietong_demo::generate(seed);
        let count = if listings_loaded { 0 } else { self.store_demo(seed, &data.listings)? };
        demo_accounts::ensure(self, &data.listings)?;
        demo_chains::ensure(self)?;
        Ok(count)
    }

    /// The demo accounts, for the start-up banner (empty unless the demo was loaded).
    pub fn demo_accounts(&self) -> anyhow::Result<Vec<demo_accounts::DemoAccount>> {
        demo_accounts::list(self)
    }

    fn store_demo(&self, seed: u64, listings: &[xietong_domain::ListingBody]) -> anyhow::Result<usize> {
        let reference = Reference::get();
        let mut ops = Vec::with_capacity(listings.len());
        for body in listings {
            let body =
                validate(body.clone(), reference).map_err(|e| anyhow::anyhow!("demo listing is invalid: {e}"))?;
            ops.push(WriteOp::Create(body));
        }
        let count = ops.len();
        let started = std::time::Instant::now();
        // One transaction: either the whole demo is there or none of it.
        self.store.write_batch(ops).context("failed to store the demo dataset")?;
        self.store.meta_set(DEMO_META_KEY, &seed.to_string())?;
        let stored_ms = started.elapsed().as_millis() as u64;
        self.sync_index()?;
        tracing::info!(
            listings = count,
            stored_ms,
            indexed_ms = started.elapsed().as_millis() as u64 - stored_ms,
            "demo dataset stored and indexed"
        );
        Ok(count)
    }
}
