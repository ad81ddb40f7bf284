//! Application wiring shared by the server and the command line: where things live in the data
//! directory, and how the derived search index is kept in line with the store.
//!
//! Invariant: the store is the source of truth. Every store write appends to its change log in
//! the same transaction; [`App::sync_index`] replays the log after the index's last applied
//! sequence number, so a crash between the two writes is repaired by the next sync, and
//! [`App::reindex`] can always rebuild the index from the store alone.

pub mod auth;
pub mod data_dir;
pub mod demo_accounts;

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;
use parking_lot::Mutex;
use xietong_domain::{Listing, ListingId, Reference, validate};
use xietong_search::SearchIndex;
use xietong_store::{Accounts, NewAudit, SqliteStore, Store, WriteOp};

pub use auth::Auth;
pub use data_dir::DataDir;

/// Changes replayed per index commit.
const SYNC_BATCH: u32 = 5_000;
/// Meta key recording that the demo dataset was loaded (value: the seed).
const DEMO_META_KEY: &str = "demo_seed";

/// The store and the index derived from it.
pub struct App {
    pub store: Arc<dyn Store>,
    /// Accounts, sessions, tokens, requests, reviews and the audit trail (same database).
    pub accounts: Arc<dyn Accounts>,
    pub auth: Auth,
    pub index: Arc<SearchIndex>,
    sync_lock: Mutex<()>,
}

impl App {
    /// Opens the store and index of a data directory and brings the index in line with the store.
    pub fn open(data_dir: &DataDir) -> anyhow::Result<App> {
        let sqlite: Arc<SqliteStore> = Arc::new(data_dir.open_store()?);
        let store: Arc<dyn Store> = sqlite.clone();
        let accounts: Arc<dyn Accounts> = sqlite;
        let index_path = data_dir.index_path();
        let index = SearchIndex::open(&index_path)
            .with_context(|| format!("failed to open search index at {}", index_path.display()))?;
        let app = App {
            store,
            auth: Auth::new(accounts.clone()),
            accounts,
            index: Arc::new(index),
            sync_lock: Mutex::new(()),
        };
        if app.index.applied_seq() > app.store.last_seq()? {
            // The index is ahead of the store (e.g. the database was replaced): rebuild it.
            tracing::warn!(index.seq = app.index.applied_seq(), "index is ahead of the store; rebuilding");
            app.reindex(|_, _| {})?;
        }
        app.sync_index()?;
        Ok(app)
    }

    /// Replays store changes the index has not seen. Returns the number of changes applied.
    pub fn sync_index(&self) -> anyhow::Result<usize> {
        let _guard = self.sync_lock.lock();
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

    /// Appends to the audit trail. The entry is written after the action it records, in its own
    /// transaction; a failure is logged loudly rather than undoing the action.
    pub fn audit(&self, entry: NewAudit) {
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
            // A restart: nothing to generate.
            return Ok(0);
        }
        let data = xietong_demo::generate(seed);
        let count = if listings_loaded { 0 } else { self.store_demo(seed, &data.listings)? };
        demo_accounts::ensure(self, &data.listings)?;
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
