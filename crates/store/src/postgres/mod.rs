//! PostgreSQL backend, for several nodes sharing one database.
//!
//! Built on the synchronous `postgres` client (each connection drives its own small runtime), as
//! the store traits are synchronous and callers run them on blocking threads. Connections come
//! from an `r2d2` pool; each keeps its prepared statements, so a statement is parsed once per
//! connection rather than on every call.
//!
//! Listing writes lock the row they change (`SELECT … FOR UPDATE`), so concurrent writers get a
//! version `Conflict` rather than a lost update; the change-log rows of a transaction are
//! appended just before it commits, under one advisory lock, so that sequence order is commit
//! order (see [`append_changes`]).
//!
//! Connections the server closed (a restart, an idle timeout) are replaced without failing calls
//! where that is safe: reads run again, and a write whose BEGIN fails moves to another
//! connection; a write that fails after its BEGIN is reported, never repeated.

mod accounts;
mod bookings;
mod chains;
mod challenges;
mod claims;
mod deals;
mod feedback;
mod migrate;
mod notifications;
mod talent;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use postgres::error::{Severity, SqlState};
use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row, Statement, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;
use xietong_domain::{Details, Kind, Listing, ListingBody, ListingId, ReadScope, Reference, Status};

use crate::{
    Change, IdempotencyBegin, KindCount, ListFilter, ListPage, ListSort, ListingKey, ListingWrite, NewAudit, SiteLink,
    Store, StoreError, StoredResponse, WriteOp,
};

/// Connections a store opens at most.
const DEFAULT_POOL_SIZE: u32 = 8;

/// How long a call waits for a free connection before failing.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Prepared statements a connection keeps at most; past that it forgets them all and starts
/// again (the SQL the store runs has far fewer shapes, so this only bounds a surprise).
const STATEMENT_CACHE_LIMIT: usize = 512;

/// A connection idle longer than this is probed (an empty query) before use: the server may have
/// closed it meanwhile (restart, idle timeout, terminated). Busier connections are not probed, so
/// the hot path pays no extra round trip.
const PROBE_IDLE_AFTER: Duration = Duration::from_secs(5);

/// Key of the transaction-level advisory lock that every transaction appending to the change
/// log holds while it takes its sequence numbers and commits ("xietong" and 1).
const CHANGE_LOG_LOCK: i64 = 0x7869_6574_6f6e_6701;

/// A store in a PostgreSQL database, shared by any number of processes.
///
/// Like every store, its calls block: call them from blocking threads (`spawn_blocking`), never
/// on an async task (the client would try to start its runtime inside the caller's and panic).
/// Dropping it anywhere is fine.
pub struct PostgresStore {
    pool: r2d2::Pool<ConnectionManager>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("connections", &self.pool.state().connections).finish()
    }
}

impl From<postgres::Error> for StoreError {
    fn from(err: postgres::Error) -> Self {
        let context = match err.as_db_error() {
            Some(db_error) => format!("PostgreSQL: {} ({})", db_error.message(), db_error.code().code()),
            None => format!("PostgreSQL: {err}"),
        };
        StoreError::backend_caused(context, err)
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(err: r2d2::Error) -> Self {
        StoreError::backend_caused(format!("no PostgreSQL connection available: {err}"), err)
    }
}

/// Opens pooled connections.
struct ConnectionManager {
    config: postgres::Config,
}

/// A pooled connection and its prepared statements, by SQL text.
struct PooledClient {
    /// Always `Some` until dropped.
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    /// When it was last checked out.
    last_used: Instant,
    /// Found dead (by a probe or a failed call): the pool drops it when it comes back.
    broken: bool,
}

impl PooledClient {
    fn new(client: Client) -> PooledClient {
        PooledClient { client: Some(client), statements: HashMap::new(), last_used: Instant::now(), broken: false }
    }

    /// The client and the statements prepared on it.
    fn parts(&mut self) -> (&mut Client, &mut HashMap<String, Statement>) {
        let client = self.client.as_mut().expect("a pooled client is present until it is dropped");
        (client, &mut self.statements)
    }
}

impl Drop for PooledClient {
    fn drop(&mut self) {
        // A `postgres::Client` owns a small tokio runtime and blocks on it to say goodbye to the
        // server when dropped, which panics inside async code (e.g. when the last handle to the
        // store goes as an async `main` returns). Connections close rarely (pool shrinking,
        // broken connections, the store dropped), so each closes on a thread of its own.
        let Some(client) = self.client.take() else {
            return;
        };
        let statements = std::mem::take(&mut self.statements);
        let closing = std::thread::Builder::new().name("xietong-pg-close".into()).spawn(move || {
            drop(statements);
            drop(client);
        });
        if let Err(err) = closing {
            tracing::warn!(error = %err, "failed to start a thread to close a PostgreSQL connection");
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = PooledClient;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PooledClient, postgres::Error> {
        Ok(PooledClient::new(self.config.connect(NoTls)?))
    }

    fn is_valid(&self, conn: &mut PooledClient) -> Result<(), postgres::Error> {
        conn.parts().0.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PooledClient) -> bool {
        conn.broken || conn.client.as_ref().is_none_or(Client::is_closed)
    }
}

/// A connection, or a transaction on it, with the connection's prepared statements.
pub(super) struct Db<'a, C> {
    client: &'a mut C,
    statements: &'a mut HashMap<String, Statement>,
    /// Listings written by this transaction and when, in order: their change-log rows are
    /// appended at commit (see [`append_changes`]).
    changes: Vec<(ListingId, OffsetDateTime)>,
}

/// Bound parameters of a statement.
type Params<'p> = [&'p (dyn ToSql + Sync)];

impl<C: GenericClient> Db<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        if self.statements.len() >= STATEMENT_CACHE_LIMIT {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.execute(&statement, params)?)
    }

    fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.query(&statement, params)?)
    }

    fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.query_opt(&statement, params)?)
    }

    fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.query_one(&statement, params)?)
    }

    /// Runs a statement inside a savepoint: when it fails, the transaction rolls back to before
    /// it and stays usable, and the caller gets the error to look at.
    fn execute_in_savepoint(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Result<u64, postgres::Error>, StoreError> {
        let statement = self.statement(sql)?;
        let mut savepoint = self.client.transaction()?;
        match savepoint.execute(&statement, params) {
            Ok(rows) => {
                savepoint.commit()?;
                Ok(Ok(rows))
            }
            Err(err) => {
                savepoint.rollback()?;
                Ok(Err(err))
            }
        }
    }
}

fn now() -> OffsetDateTime {
    // Stored timestamps have millisecond precision, as in the SQLite store.
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(now)
}

/// PostgreSQL text cannot hold NUL characters, which SQLite stores as given. Text that users
/// choose (names, titles, filters, audit fields) goes through here on its way into a statement:
/// NUL becomes U+FFFD, so such a write succeeds and a lookup finds nothing rather than failing.
/// Listing bodies and audit details are JSON text, where NUL is escaped, and are kept exactly.
pub(super) fn text(value: &str) -> String {
    value.replace('\0', "\u{FFFD}")
}

/// [`text`] of an optional value.
pub(super) fn opt_text(value: &Option<String>) -> Option<String> {
    value.as_deref().map(text)
}

/// [`text`] of each value.
pub(super) fn texts(values: &[String]) -> Vec<String> {
    values.iter().map(|value| text(value)).collect()
}

/// Whether the error says the connection is gone (closed, broken, or ended by the server with a
/// FATAL error such as "terminating connection due to administrator command").
fn is_connection_lost(err: &postgres::Error) -> bool {
    err.is_closed()
        || err.as_db_error().is_some_and(|db_error| db_error.parsed_severity() == Some(Severity::Fatal))
        || std::error::Error::source(err).is_some_and(|source| source.is::<std::io::Error>())
}

/// [`is_connection_lost`] of a store error's cause.
fn lost_connection(err: &StoreError) -> bool {
    let StoreError::Backend { source: Some(source), .. } = err else {
        return false;
    };
    source.downcast_ref::<postgres::Error>().is_some_and(is_connection_lost)
}

/// Whether the statement failed on a unique index.
fn is_unique_violation(err: &postgres::Error) -> bool {
    err.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/dbname`, or any form the
    /// `postgres` crate's `Config` parses) and applies pending migrations. Connections are not
    /// encrypted: use a local server, a private network or a TLS-terminating proxy.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        Self::connect_with_pool_size(url, DEFAULT_POOL_SIZE)
    }

    /// [`PostgresStore::connect`] with at most `max_connections` connections.
    pub fn connect_with_pool_size(url: &str, max_connections: u32) -> Result<PostgresStore, StoreError> {
        let config: postgres::Config =
            url.parse().map_err(|err| StoreError::backend_caused("invalid PostgreSQL URL", err))?;
        // The first connection runs the migrations; it also reports a wrong URL or an unreachable
        // server at once, where the pool would retry until its timeout.
        let mut first = PooledClient::new(config.connect(NoTls)?);
        migrate::run(first.parts().0)?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(max_connections.max(1))
            .min_idle(Some(1))
            // Probing every checkout costs a round trip per call; `checkout` probes idle ones only.
            .test_on_check_out(false)
            .connection_timeout(CONNECTION_TIMEOUT)
            .build(ConnectionManager { config })?;
        Ok(PostgresStore { pool })
    }

    /// A pooled connection; one idle for a while is probed first, and one found dead is dropped
    /// for another.
    fn checkout(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, StoreError> {
        let attempts = self.pool.max_size() + 1;
        for _ in 0..attempts {
            let mut pooled = self.pool.get()?;
            let idle = pooled.last_used.elapsed() >= PROBE_IDLE_AFTER;
            if !idle || pooled.parts().0.simple_query("").is_ok() {
                pooled.last_used = Instant::now();
                return Ok(pooled);
            }
            tracing::debug!("dropping a PostgreSQL connection the server closed");
            pooled.broken = true;
        }
        Err(StoreError::backend(format!("no working PostgreSQL connection after {attempts} attempts")))
    }

    /// Runs the read `f`. A read has no effects, so when it failed because the server had closed
    /// the connection (every pooled one may be closed after a server restart), it runs again on
    /// another one.
    fn read<T>(&self, mut f: impl FnMut(&mut Db<'_, Client>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut attempts_left = self.pool.max_size();
        loop {
            let mut pooled = self.checkout()?;
            let (client, statements) = pooled.parts();
            let result = f(&mut Db { client, statements, changes: Vec::new() });
            match &result {
                Err(err) if attempts_left > 0 && lost_connection(err) => {
                    tracing::debug!(error = %err, "retrying a read on another PostgreSQL connection");
                    pooled.broken = true;
                    attempts_left -= 1;
                }
                _ => return result,
            }
        }
    }

    /// Runs `f` in a transaction and commits it, with the change-log rows of the listings it
    /// wrote.
    fn write<T>(&self, f: impl FnOnce(&mut Db<'_, Transaction<'_>>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut f = Some(f);
        let attempts = self.pool.max_size() + 1;
        for attempt in 1..=attempts {
            let mut pooled = self.checkout()?;
            // Field by field, so that `broken` can be set while the client is borrowed.
            let connection = &mut *pooled;
            let client = connection.client.as_mut().expect("a pooled client is present until it is dropped");
            let statements = &mut connection.statements;
            // A connection the server closed fails on BEGIN, before anything was done: then the
            // write goes to another connection (all may be closed after a server restart). Failures after BEGIN are not retried (a lost
            // COMMIT may have committed).
            let mut tx = match client.transaction() {
                Ok(tx) => tx,
                Err(err) if attempt < attempts && is_connection_lost(&err) => {
                    tracing::debug!(error = %err, "retrying a write on a fresh PostgreSQL connection");
                    connection.broken = true;
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
            let f = f.take().expect("the write runs once, after a BEGIN that succeeded");
            let value = {
                let mut db = Db { client: &mut tx, statements, changes: Vec::new() };
                let value = f(&mut db)?;
                let changes = std::mem::take(&mut db.changes);
                append_changes(&mut db, &changes)?;
                value
            };
            tx.commit()?;
            return Ok(value);
        }
        Err(StoreError::backend("no working PostgreSQL connection for a write"))
    }
}

/// Appends the change-log rows of a transaction, just before it commits.
///
/// The follower reads `changes_since(n)` and assumes that sequence order is commit order: were
/// seq 8 visible while seq 7 is still uncommitted, it would move past 7 and never index it.
/// Sequences alone do not give that, so every transaction appending here first takes one
/// transaction-level advisory lock and keeps it until its commit is visible (PostgreSQL releases
/// it after the commit). Numbers are thus taken and made visible one transaction at a time. The
/// lock is taken last, after the transaction's row locks, and nothing but this insert runs while
/// holding it, so it is held for one statement and the commit, and cannot deadlock.
fn append_changes(db: &mut Db<'_, Transaction<'_>>, changes: &[(ListingId, OffsetDateTime)]) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = changes.iter().map(|(id, _)| id.0).collect();
    let times: Vec<OffsetDateTime> = changes.iter().map(|(_, at)| *at).collect();
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&CHANGE_LOG_LOCK])?;
    db.execute(
        "INSERT INTO changes (listing_id, at)
         SELECT id, at FROM UNNEST($1::uuid[], $2::timestamptz[]) WITH ORDINALITY AS c (id, at, n) ORDER BY n",
        &[&ids, &times],
    )?;
    Ok(())
}

fn uscc_of(body: &ListingBody) -> Option<String> {
    match &body.details {
        Details::Enterprise(e) => e.uscc.clone(),
        _ => None,
    }
}

const LISTING_COLUMNS: &str = "id, version, created_at, updated_at, body";

fn row_listing(row: &Row) -> Result<Listing, StoreError> {
    let body: String = row.try_get(4)?;
    Ok(Listing {
        id: ListingId(row.try_get(0)?),
        version: row.try_get(1)?,
        created_at: row.try_get(2)?,
        updated_at: row.try_get(3)?,
        body: serde_json::from_str(&body)?,
    })
}

fn check_unique<C: GenericClient>(db: &mut Db<'_, C>, id: ListingId, body: &ListingBody) -> Result<(), StoreError> {
    if let Some(uscc) = uscc_of(body) {
        let existing = db.query_opt("SELECT id FROM listings WHERE uscc = $1 AND id <> $2", &[&text(&uscc), &id.0])?;
        if let Some(existing) = existing {
            return Err(StoreError::Duplicate { field: "uscc", existing: ListingId(existing.try_get(0)?) });
        }
    }
    if let Some(external_id) = &body.external_id {
        let existing = db.query_opt(
            "SELECT id FROM listings
             WHERE kind = $1 AND COALESCE(owner_org, '') = COALESCE($2, '') AND external_id = $3 AND id <> $4",
            &[&body.kind().as_str(), &opt_text(&body.owner_org), &text(external_id), &id.0],
        )?;
        if let Some(existing) = existing {
            return Err(StoreError::Duplicate { field: "external_id", existing: ListingId(existing.try_get(0)?) });
        }
    }
    Ok(())
}

/// Whether a listing's derived rows are new or replace earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DerivedRows {
    Fresh,
    Replace,
}

/// Writes the derived rows (regions, industries, sites) of a listing and notes the change for
/// the change log.
fn write_derived<C: GenericClient>(db: &mut Db<'_, C>, listing: &Listing, rows: DerivedRows) -> Result<(), StoreError> {
    let id = listing.id.0;
    let reference = Reference::get();
    if rows == DerivedRows::Replace {
        db.execute("DELETE FROM listing_regions WHERE listing_id = $1", &[&id])?;
        db.execute("DELETE FROM listing_industries WHERE listing_id = $1", &[&id])?;
        db.execute("DELETE FROM enterprise_sites WHERE listing_id = $1", &[&id])?;
    }
    let mut region_codes: Vec<String> =
        listing.body.region_codes.iter().flat_map(|c| reference.region_ancestry(c)).collect();
    region_codes.sort();
    region_codes.dedup();
    if !region_codes.is_empty() {
        db.execute(
            "INSERT INTO listing_regions (code, listing_id) SELECT code, $2 FROM UNNEST($1::text[]) AS code",
            &[&region_codes, &id],
        )?;
    }
    let mut industry_codes: Vec<String> =
        listing.body.industry_codes.iter().flat_map(|c| reference.industry_ancestry(c)).collect();
    industry_codes.sort();
    industry_codes.dedup();
    if !industry_codes.is_empty() {
        db.execute(
            "INSERT INTO listing_industries (code, listing_id) SELECT code, $2 FROM UNNEST($1::text[]) AS code",
            &[&industry_codes, &id],
        )?;
    }
    if let Details::Enterprise(enterprise) = &listing.body.details
        && !enterprise.sites.is_empty()
    {
        let site_regions: Vec<&str> = enterprise.sites.iter().map(|s| s.region_code.as_str()).collect();
        let site_roles: Vec<&str> = enterprise.sites.iter().map(|s| s.role.as_str()).collect();
        db.execute(
            "INSERT INTO enterprise_sites (listing_id, region_code, role)
             SELECT $1, region_code, role FROM UNNEST($2::text[], $3::text[]) AS s (region_code, role)",
            &[&id, &site_regions, &site_roles],
        )?;
    }
    db.changes.push((listing.id, listing.updated_at));
    Ok(())
}

fn insert<C: GenericClient>(db: &mut Db<'_, C>, body: ListingBody) -> Result<Listing, StoreError> {
    let at = now();
    let listing = Listing { id: ListingId::new(), version: 1, created_at: at, updated_at: at, body };
    let json = serde_json::to_string(&listing.body)?;
    let uscc = uscc_of(&listing.body);
    // The unique indexes enforce USCC and external-id uniqueness; only when one refuses the row
    // do we look up which listing holds the key, so the common path costs one statement.
    let inserted = db.execute(
        "INSERT INTO listings (id, kind, status, visibility, title, owner_org, external_id, uscc, version, created_at, updated_at, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT DO NOTHING",
        &[
            &listing.id.0,
            &listing.kind().as_str(),
            &listing.body.status.as_str(),
            &listing.body.visibility.as_str(),
            &text(&listing.body.title),
            &opt_text(&listing.body.owner_org),
            &opt_text(&listing.body.external_id),
            &uscc.as_deref().map(text),
            &listing.version,
            &listing.created_at,
            &listing.updated_at,
            &json,
        ],
    )?;
    if inserted == 0 {
        check_unique(db, listing.id, &listing.body)?;
        return Err(StoreError::backend(format!("constraint violated by listing {}", listing.id)));
    }
    write_derived(db, &listing, DerivedRows::Fresh)?;
    Ok(listing)
}

/// Deletes a listing for good inside the caller's transaction. Regions, industries, sites,
/// contact requests and reviews go with the row (`ON DELETE CASCADE`); the change log records it
/// so the index drops it too.
pub(super) fn delete_listing<C: GenericClient>(db: &mut Db<'_, C>, id: ListingId) -> Result<(), StoreError> {
    let deleted = db.execute("DELETE FROM listings WHERE id = $1", &[&id.0])?;
    if deleted == 0 {
        return Err(StoreError::NotFound(id));
    }
    db.changes.push((id, now()));
    Ok(())
}

fn load<C: GenericClient>(db: &mut Db<'_, C>, id: ListingId) -> Result<Listing, StoreError> {
    let row = db.query_opt(&format!("SELECT {LISTING_COLUMNS} FROM listings WHERE id = $1"), &[&id.0])?;
    row.as_ref().map(row_listing).unwrap_or(Err(StoreError::NotFound(id)))
}

/// Loads a listing and locks its row until the transaction ends, so that the version checked is
/// the version replaced.
pub(super) fn load_for_update<C: GenericClient>(db: &mut Db<'_, C>, id: ListingId) -> Result<Listing, StoreError> {
    let row = db.query_opt(&format!("SELECT {LISTING_COLUMNS} FROM listings WHERE id = $1 FOR UPDATE"), &[&id.0])?;
    row.as_ref().map(row_listing).unwrap_or(Err(StoreError::NotFound(id)))
}

pub(super) fn replace<C: GenericClient>(
    db: &mut Db<'_, C>,
    id: ListingId,
    expected_version: Option<i64>,
    body: ListingBody,
) -> Result<Listing, StoreError> {
    let current = load_for_update(db, id)?;
    if let Some(expected) = expected_version
        && expected != current.version
    {
        return Err(StoreError::Conflict { id, expected, actual: current.version });
    }
    check_unique(db, id, &body)?;
    let listing = Listing { id, version: current.version + 1, created_at: current.created_at, updated_at: now(), body };
    let json = serde_json::to_string(&listing.body)?;
    let uscc = uscc_of(&listing.body);
    let sql =
        "UPDATE listings SET kind = $2, status = $3, visibility = $4, title = $5, owner_org = $6, external_id = $7,
                   uscc = $8, version = $9, updated_at = $10, body = $11
               WHERE id = $1";
    let params: &Params<'_> = &[
        &listing.id.0,
        &listing.kind().as_str(),
        &listing.body.status.as_str(),
        &listing.body.visibility.as_str(),
        &text(&listing.body.title),
        &opt_text(&listing.body.owner_org),
        &opt_text(&listing.body.external_id),
        &uscc.as_deref().map(text),
        &listing.version,
        &listing.updated_at,
        &json,
    ];
    if uscc.is_none() && listing.body.external_id.is_none() {
        // No unique key but the id, which does not change: the update cannot be refused.
        db.execute(sql, params)?;
    } else {
        // A concurrent transaction may have taken the key since `check_unique` looked; then the
        // index refuses the row, and a second look (after that transaction committed) names it.
        if let Err(err) = db.execute_in_savepoint(sql, params)? {
            if !is_unique_violation(&err) {
                return Err(err.into());
            }
            check_unique(db, id, &listing.body)?;
            return Err(err.into());
        }
    }
    write_derived(db, &listing, DerivedRows::Replace)?;
    Ok(listing)
}

fn set_status<C: GenericClient>(
    db: &mut Db<'_, C>,
    id: ListingId,
    expected_version: Option<i64>,
    status: Status,
) -> Result<Listing, StoreError> {
    let mut body = load_for_update(db, id)?.body;
    body.status = status;
    replace(db, id, expected_version, body)
}

/// The SQL condition of `ReadScope::Limited`, mirroring `ReadScope::allows`. `listing_regions`
/// holds every ancestor of a listing's regions, so a province code matches listings anywhere
/// inside it. Binds `provinces` and `orgs` as arrays in `values`.
fn scope_clause(
    registered: bool,
    provinces: &[String],
    orgs: &[String],
    values: &mut Vec<Box<dyn ToSql + Sync>>,
) -> String {
    let mut visible = vec!["visibility = 'public'".to_string()];
    if registered {
        visible.push("visibility = 'registered'".into());
    }
    if !provinces.is_empty() {
        values.push(Box::new(texts(provinces)));
        visible.push(format!(
            "(visibility = 'region' AND EXISTS (SELECT 1 FROM listing_regions r WHERE r.listing_id = listings.id AND r.code = ANY(${})))",
            values.len()
        ));
    }
    let published = format!("(status = 'published' AND ({}))", visible.join(" OR "));
    if orgs.is_empty() {
        return published;
    }
    values.push(Box::new(texts(orgs)));
    format!("(owner_org = ANY(${}) OR {published})", values.len())
}

impl Store for PostgresStore {
    fn create(&self, body: ListingBody) -> Result<Listing, StoreError> {
        self.write(|db| insert(db, body))
    }

    fn get(&self, id: ListingId) -> Result<Listing, StoreError> {
        self.read(|db| load(db, id))
    }

    fn get_many(&self, ids: &[ListingId]) -> Result<Vec<Listing>, StoreError> {
        let uuids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        self.read(|db| {
            let rows = db.query(&format!("SELECT {LISTING_COLUMNS} FROM listings WHERE id = ANY($1)"), &[&uuids])?;
            let mut by_id = HashMap::with_capacity(rows.len());
            for row in &rows {
                let listing = row_listing(row)?;
                by_id.insert(listing.id, listing);
            }
            Ok(ids.iter().filter_map(|id| by_id.get(id).cloned()).collect())
        })
    }

    fn update(&self, id: ListingId, expected_version: i64, body: ListingBody) -> Result<Listing, StoreError> {
        self.write(|db| replace(db, id, Some(expected_version), body))
    }

    fn set_status(&self, id: ListingId, expected_version: Option<i64>, status: Status) -> Result<Listing, StoreError> {
        self.write(|db| set_status(db, id, expected_version, status))
    }

    fn write_audited(&self, write: ListingWrite, audit: &dyn Fn(&Listing) -> NewAudit) -> Result<Listing, StoreError> {
        self.write(|db| {
            let listing = match write {
                ListingWrite::Create(body) => insert(db, body)?,
                ListingWrite::Update { id, expected_version, body } => replace(db, id, Some(expected_version), body)?,
                ListingWrite::SetStatus { id, expected_version, status } => {
                    set_status(db, id, expected_version, status)?
                }
            };
            accounts::insert_audit(db, audit(&listing))?;
            Ok(listing)
        })
    }

    fn write_batch(&self, ops: Vec<WriteOp>) -> Result<Vec<Listing>, StoreError> {
        self.write(|db| {
            let mut written = Vec::with_capacity(ops.len());
            for op in ops {
                let listing = match op {
                    WriteOp::Create(body) => insert(db, body)?,
                    WriteOp::Update { id, expected_version, body } => replace(db, id, Some(expected_version), body)?,
                };
                written.push(listing);
            }
            Ok(written)
        })
    }

    fn list(&self, filter: &ListFilter, limit: u32, offset: u64) -> Result<ListPage, StoreError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        if let Some(kind) = filter.kind {
            values.push(Box::new(kind.as_str()));
            clauses.push(format!("kind = ${}", values.len()));
        }
        if let Some(status) = filter.status {
            values.push(Box::new(status.as_str()));
            clauses.push(format!("status = ${}", values.len()));
        }
        if let Some(owner) = &filter.owner_org {
            values.push(Box::new(text(owner)));
            clauses.push(format!("owner_org = ${}", values.len()));
        }
        if let Some(region) = &filter.region {
            values.push(Box::new(text(region)));
            clauses.push(format!("id IN (SELECT listing_id FROM listing_regions WHERE code = ${})", values.len()));
        }
        if let Some(industry) = &filter.industry {
            values.push(Box::new(text(&industry.trim().to_ascii_uppercase())));
            clauses.push(format!("id IN (SELECT listing_id FROM listing_industries WHERE code = ${})", values.len()));
        }
        if let Some(ReadScope::Limited { registered, provinces, orgs }) = &filter.scope {
            clauses.push(scope_clause(*registered, provinces, orgs, &mut values));
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let order_sql = match filter.sort {
            ListSort::Newest => "created_at DESC, id DESC",
            ListSort::Oldest => "created_at ASC, id ASC",
            ListSort::RecentlyUpdated => "updated_at DESC, id DESC",
            ListSort::Title => "title ASC, id ASC",
        };
        let count_sql = format!("SELECT COUNT(*) FROM listings {where_sql}");
        let page_sql = format!(
            "SELECT {LISTING_COLUMNS} FROM listings {where_sql} ORDER BY {order_sql} LIMIT ${} OFFSET ${}",
            values.len() + 1,
            values.len() + 2
        );
        let limit = i64::from(limit);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        self.read(|db| {
            let filter_params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
            let total: i64 = db.query_one(&count_sql, &filter_params)?.try_get(0)?;
            let mut page_params = filter_params.clone();
            page_params.push(&limit);
            page_params.push(&offset);
            let rows = db.query(&page_sql, &page_params)?;
            let items = rows.iter().map(row_listing).collect::<Result<Vec<_>, _>>()?;
            Ok(ListPage { items, total: total as u64 })
        })
    }

    fn scan(&self, after: Option<ListingId>, limit: u32) -> Result<Vec<Listing>, StoreError> {
        let limit = i64::from(limit);
        self.read(|db| {
            // Two statements rather than `$1 IS NULL OR id > $1`, whose cached generic plan could
            // not use the primary key and would read the whole table for every page.
            let rows = match after {
                Some(after) => db.query(
                    &format!("SELECT {LISTING_COLUMNS} FROM listings WHERE id > $1 ORDER BY id LIMIT $2"),
                    &[&after.0, &limit],
                )?,
                None => db.query(&format!("SELECT {LISTING_COLUMNS} FROM listings ORDER BY id LIMIT $1"), &[&limit])?,
            };
            rows.iter().map(row_listing).collect()
        })
    }

    fn counts(&self) -> Result<Vec<KindCount>, StoreError> {
        self.read(|db| {
            let rows = db.query("SELECT kind, status, COUNT(*) FROM listings GROUP BY kind, status", &[])?;
            let mut counts = Vec::with_capacity(rows.len());
            for row in rows {
                let kind: Kind = row.try_get::<_, &str>(0)?.parse().map_err(StoreError::backend)?;
                let status: Status = row.try_get::<_, &str>(1)?.parse().map_err(StoreError::backend)?;
                let count: i64 = row.try_get(2)?;
                counts.push(KindCount { kind, status, count: count as u64 });
            }
            Ok(counts)
        })
    }

    fn changes_since(&self, after_seq: u64, limit: u32) -> Result<Vec<Change>, StoreError> {
        let after_seq = i64::try_from(after_seq).unwrap_or(i64::MAX);
        let limit = i64::from(limit);
        self.read(|db| {
            let rows = db.query(
                "SELECT seq, listing_id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after_seq, &limit],
            )?;
            let mut changes = Vec::with_capacity(rows.len());
            for row in rows {
                let seq: i64 = row.try_get(0)?;
                changes.push(Change { seq: seq as u64, id: ListingId(row.try_get(1)?) });
            }
            Ok(changes)
        })
    }

    fn last_seq(&self) -> Result<u64, StoreError> {
        self.read(|db| {
            let seq: i64 = db.query_one("SELECT COALESCE(MAX(seq), 0) FROM changes", &[])?.try_get(0)?;
            Ok(seq as u64)
        })
    }

    fn delete(&self, id: ListingId) -> Result<(), StoreError> {
        self.write(|db| delete_listing(db, id))
    }

    fn find_by_key(&self, key: &ListingKey) -> Result<Option<Listing>, StoreError> {
        self.read(|db| {
            let row = match key {
                ListingKey::External { kind, owner_org, external_id } => db.query_opt(
                    &format!(
                        "SELECT {LISTING_COLUMNS} FROM listings
                         WHERE kind = $1 AND COALESCE(owner_org, '') = COALESCE($2, '') AND external_id = $3"
                    ),
                    &[&kind.as_str(), &opt_text(owner_org), &text(external_id)],
                )?,
                ListingKey::Uscc(uscc) => db.query_opt(
                    &format!("SELECT {LISTING_COLUMNS} FROM listings WHERE uscc = $1"),
                    &[&text(&uscc.trim().to_ascii_uppercase())],
                )?,
                ListingKey::TitleOwner { kind, title, owner_org } => db.query_opt(
                    &format!(
                        "SELECT {LISTING_COLUMNS} FROM listings
                         WHERE kind = $1 AND title = $2 AND COALESCE(owner_org, '') = COALESCE($3, '')
                         ORDER BY id LIMIT 1"
                    ),
                    &[&kind.as_str(), &text(title.trim()), &opt_text(owner_org)],
                )?,
            };
            row.as_ref().map(row_listing).transpose()
        })
    }

    fn site_links(&self) -> Result<Vec<SiteLink>, StoreError> {
        self.read(|db| {
            let rows = db.query(
                "SELECT h.region_code, s.region_code, s.role, s.listing_id, COUNT(*)
                 FROM enterprise_sites h
                 JOIN enterprise_sites s ON s.listing_id = h.listing_id AND s.role <> 'hq'
                 JOIN listings l ON l.id = h.listing_id AND l.status = 'published'
                 WHERE h.role = 'hq'
                 GROUP BY h.region_code, s.region_code, s.role, s.listing_id
                 ORDER BY h.region_code, s.region_code, s.role, s.listing_id",
                &[],
            )?;
            let mut links: Vec<SiteLink> = Vec::new();
            for row in rows {
                let hq_region: String = row.try_get(0)?;
                let site_region: String = row.try_get(1)?;
                let role: String = row.try_get(2)?;
                let id = ListingId(row.try_get(3)?);
                let sites: i64 = row.try_get(4)?;
                match links.last_mut() {
                    Some(last)
                        if last.hq_region == hq_region && last.site_region == site_region && last.role == role =>
                    {
                        last.enterprises += 1;
                        last.sites += sites as u64;
                        last.enterprise_ids.push(id);
                    }
                    _ => links.push(SiteLink {
                        hq_region,
                        site_region,
                        role,
                        enterprises: 1,
                        sites: sites as u64,
                        enterprise_ids: vec![id],
                    }),
                }
            }
            Ok(links)
        })
    }

    fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|db| {
            let row = db.query_opt("SELECT value FROM meta WHERE key = $1", &[&text(key)])?;
            Ok(row.map(|row| row.try_get(0)).transpose()?)
        })
    }

    fn meta_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write(|db| {
            db.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&text(key), &text(value)],
            )?;
            Ok(())
        })
    }
}

impl crate::Idempotency for PostgresStore {
    fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
        keep_s: i64,
    ) -> Result<IdempotencyBegin, StoreError> {
        self.write(|db| {
            db.execute("DELETE FROM idempotency WHERE created_at < $1", &[&(now - keep_s)])?;
            // Of concurrent first requests with one key, one inserts; the others wait for it to
            // commit, insert nothing, and then find its row.
            let reserved = db.execute(
                "INSERT INTO idempotency (scope, key, fingerprint, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (scope, key) DO NOTHING",
                &[&text(scope), &text(key), &fingerprint, &now],
            )?;
            if reserved == 1 {
                return Ok(IdempotencyBegin::Started);
            }
            let found = db.query_opt(
                "SELECT fingerprint, status, content_type, location, body FROM idempotency WHERE scope = $1 AND key = $2",
                &[&text(scope), &text(key)],
            )?;
            // Gone again: its request failed and released it in the meantime; retrying is safe.
            let Some(row) = found else {
                return Ok(IdempotencyBegin::InProgress);
            };
            let stored: String = row.try_get(0)?;
            let status: Option<i32> = row.try_get(1)?;
            Ok(match status {
                _ if stored != fingerprint => IdempotencyBegin::Mismatch,
                None => IdempotencyBegin::InProgress,
                Some(status) => IdempotencyBegin::Replay(StoredResponse {
                    status: u16::try_from(status)
                        .map_err(|_| StoreError::backend(format!("corrupt stored status {status}")))?,
                    content_type: row.try_get(2)?,
                    location: row.try_get(3)?,
                    body: row.try_get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
                }),
            })
        })
    }

    fn idempotency_finish(&self, scope: &str, key: &str, response: Option<&StoredResponse>) -> Result<(), StoreError> {
        self.write(|db| {
            match response {
                Some(response) => {
                    db.execute(
                        "UPDATE idempotency SET status = $3, content_type = $4, location = $5, body = $6
                         WHERE scope = $1 AND key = $2",
                        &[
                            &text(scope),
                            &text(key),
                            &i32::from(response.status),
                            &response.content_type,
                            &response.location,
                            &response.body,
                        ],
                    )?;
                }
                None => {
                    db.execute(
                        "DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND status IS NULL",
                        &[&text(scope), &text(key)],
                    )?;
                }
            }
            Ok(())
        })
    }
}
