//! SQLite backend: one writer connection and a small set of reader connections on a WAL database.

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

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};
use time::OffsetDateTime;
use time::UtcOffset;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use xietong_domain::{Details, Kind, Listing, ListingBody, ListingId, ReadScope, Reference, Status};

use crate::{Change, KindCount, ListFilter, ListPage, ListSort, ListingKey, SiteLink, Store, StoreError, WriteOp};

const READERS: usize = 4;

/// A store in one SQLite file.
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::backend_caused(format!("SQLite: {err}"), err)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        StoreError::backend_caused("corrupt JSON in the store", err)
    }
}

/// Page cache of the writer connection, in KiB (SQLite's default is 2 MiB per connection).
const WRITER_CACHE_KIB: i64 = 64 * 1024;
/// WAL pages (4 KiB each) after which the writer checkpoints: 64 MiB.
const WAL_CHECKPOINT_PAGES: i64 = 16 * 1024;

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn now() -> OffsetDateTime {
    // Stored timestamps have millisecond precision so they survive the text round trip exactly.
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(now)
}

fn fmt_time(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// RFC 3339 in UTC with a fixed nine-digit fraction, so that comparing the text in SQL compares
/// the instants (`fmt_time` drops trailing zeros of the fraction and keeps the offset, which
/// breaks text comparison). Used by the account tables, whose expiry checks run in SQL.
const UTC_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

fn fmt_utc(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC).format(UTC_FORMAT).unwrap_or_default()
}

fn parse_time(text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| StoreError::backend(format!("corrupt timestamp {text:?}")))
}

/// `?, ?, ?` for `n` bound values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let writer = Connection::open(path)?;
        configure(&writer)?;
        // The writer keeps the hot pages of the tables and indexes it grows (a bulk load touches
        // every index once per listing), and checkpoints the WAL every 64 MiB rather than every
        // 4 MiB: fewer fsyncs under a stream of writes, the same durability (a committed
        // transaction is in the WAL, which survives kill -9).
        writer.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        writer.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        migrate::run(&writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open(path)?;
            configure(&reader)?;
            readers.push(Mutex::new(reader));
        }
        Ok(SqliteStore { writer: Mutex::new(writer), readers, next_reader: AtomicUsize::new(0) })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for offset in 0..self.readers.len() {
            if let Some(conn) = self.readers[(start + offset) % self.readers.len()].try_lock() {
                return f(&conn);
            }
        }
        let conn = self.readers[start % self.readers.len()].lock();
        f(&conn)
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.writer.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}

fn uscc_of(body: &ListingBody) -> Option<String> {
    match &body.details {
        Details::Enterprise(e) => e.uscc.clone(),
        _ => None,
    }
}

fn check_unique(tx: &Transaction<'_>, id: ListingId, body: &ListingBody) -> Result<(), StoreError> {
    if let Some(uscc) = uscc_of(body) {
        let existing: Option<String> = tx
            .query_row("SELECT id FROM listings WHERE uscc = ?1 AND id <> ?2", params![uscc, id.to_string()], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(existing) = existing {
            return Err(StoreError::Duplicate { field: "uscc", existing: parse_id(&existing)? });
        }
    }
    if let Some(external_id) = &body.external_id {
        let existing: Option<String> = tx
            .query_row(
                "SELECT id FROM listings WHERE kind = ?1 AND IFNULL(owner_org, '') = IFNULL(?2, '') AND external_id = ?3 AND id <> ?4",
                params![body.kind().as_str(), body.owner_org, external_id, id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(existing) = existing {
            return Err(StoreError::Duplicate { field: "external_id", existing: parse_id(&existing)? });
        }
    }
    Ok(())
}

fn parse_id(text: &str) -> Result<ListingId, StoreError> {
    text.parse().map_err(|_| StoreError::backend(format!("corrupt listing id {text:?}")))
}

/// Writes the derived rows (regions, industries, sites) and the change-log entry of a listing.
fn write_derived(tx: &Transaction<'_>, listing: &Listing, rows: DerivedRows) -> Result<(), StoreError> {
    if rows == DerivedRows::Replace {
        let id = listing.id.to_string();
        tx.prepare_cached("DELETE FROM listing_regions WHERE listing_id = ?1")?.execute([&id])?;
        tx.prepare_cached("DELETE FROM listing_industries WHERE listing_id = ?1")?.execute([&id])?;
        tx.prepare_cached("DELETE FROM enterprise_sites WHERE listing_id = ?1")?.execute([&id])?;
    }
    let mut derived = Derived::default();
    derived.add(listing);
    derived.write(tx)
}

/// The rows derived from listings — regions and industries with their ancestors, enterprise
/// sites, the change log — gathered for several listings and written with multi-row statements
/// (a bulk load writes about seven derived rows per listing; one statement per row made the
/// statements, not the data, its cost).
#[derive(Default)]
struct Derived {
    /// (code, listing id)
    regions: Vec<String>,
    /// (code, listing id)
    industries: Vec<String>,
    /// (listing id, region code, role)
    sites: Vec<String>,
    /// (listing id, at)
    changes: Vec<String>,
}

/// Rows per multi-row statement (SQLite binds at most 32,766 parameters).
const ROWS_PER_STATEMENT: usize = 300;

impl Derived {
    fn add(&mut self, listing: &Listing) {
        let id = listing.id.to_string();
        let reference = Reference::get();
        let mut region_codes: Vec<String> =
            listing.body.region_codes.iter().flat_map(|c| reference.region_ancestry(c)).collect();
        region_codes.sort();
        region_codes.dedup();
        for code in region_codes {
            self.regions.extend([code, id.clone()]);
        }
        let mut industry_codes: Vec<String> =
            listing.body.industry_codes.iter().flat_map(|c| reference.industry_ancestry(c)).collect();
        industry_codes.sort();
        industry_codes.dedup();
        for code in industry_codes {
            self.industries.extend([code, id.clone()]);
        }
        if let Details::Enterprise(enterprise) = &listing.body.details {
            for site in &enterprise.sites {
                self.sites.extend([id.clone(), site.region_code.clone(), site.role.as_str().to_string()]);
            }
        }
        self.changes.extend([id, fmt_time(listing.updated_at)]);
    }

    fn write(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        insert_rows(tx, "listing_regions (code, listing_id)", 2, &self.regions)?;
        insert_rows(tx, "listing_industries (code, listing_id)", 2, &self.industries)?;
        insert_rows(tx, "enterprise_sites (listing_id, region_code, role)", 3, &self.sites)?;
        insert_rows(tx, "changes (listing_id, at)", 2, &self.changes)?;
        Ok(())
    }
}

/// Inserts `values` (row after row, `width` columns each) into `table_columns`, up to
/// [`ROWS_PER_STATEMENT`] rows per statement.
fn insert_rows(tx: &Transaction<'_>, table_columns: &str, width: usize, values: &[String]) -> Result<(), StoreError> {
    let row = format!("({})", vec!["?"; width].join(", "));
    for chunk in values.chunks(ROWS_PER_STATEMENT * width) {
        let rows = chunk.len() / width;
        let sql = format!("INSERT INTO {table_columns} VALUES {}", vec![row.as_str(); rows].join(", "));
        if rows == 1 || rows == ROWS_PER_STATEMENT {
            // The two sizes that recur: keep them prepared.
            tx.prepare_cached(&sql)?.execute(params_from_iter(chunk))?;
        } else {
            tx.prepare(&sql)?.execute(params_from_iter(chunk))?;
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

/// Writes the listing's row, inserting it or replacing every column but `created_at`.
fn write_row(tx: &Transaction<'_>, listing: &Listing) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO listings (id, kind, status, visibility, title, owner_org, external_id, uscc, version, created_at, updated_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, status = excluded.status, visibility = excluded.visibility,
             title = excluded.title, owner_org = excluded.owner_org, external_id = excluded.external_id, uscc = excluded.uscc,
             version = excluded.version, updated_at = excluded.updated_at, body = excluded.body",
    )?
    .execute(params![
        listing.id.to_string(),
        listing.kind().as_str(),
        listing.body.status.as_str(),
        listing.body.visibility.as_str(),
        listing.body.title,
        listing.body.owner_org,
        listing.body.external_id,
        uscc_of(&listing.body),
        listing.version,
        fmt_time(listing.created_at),
        fmt_time(listing.updated_at),
        serde_json::to_string(&listing.body).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
    ])
}

fn insert(tx: &Transaction<'_>, body: ListingBody) -> Result<Listing, StoreError> {
    let listing = insert_row(tx, body)?;
    write_derived(tx, &listing, DerivedRows::Fresh)?;
    Ok(listing)
}

/// Inserts a new listing's row (not its derived rows; see [`Derived`]).
fn insert_row(tx: &Transaction<'_>, body: ListingBody) -> Result<Listing, StoreError> {
    let at = now();
    let listing = Listing { id: ListingId::new(), version: 1, created_at: at, updated_at: at, body };
    // The unique indexes enforce USCC and external-id uniqueness; only when one fires do we look
    // up which listing holds the key, so the common path costs one statement.
    let inserted = write_row(tx, &listing);
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(failure, _)) if failure.code == rusqlite::ErrorCode::ConstraintViolation => {
            check_unique(tx, listing.id, &listing.body)?;
            return Err(StoreError::backend(format!("constraint violated by listing {}", listing.id)));
        }
        Err(err) => return Err(err.into()),
    }
    Ok(listing)
}

/// Deletes a listing for good inside the caller's transaction. Regions, industries, sites,
/// contact requests and reviews go with the row (`ON DELETE CASCADE`; every connection enables
/// foreign keys); the change log records it so the index drops it too.
pub(super) fn delete_listing(tx: &Transaction<'_>, id: ListingId) -> Result<(), StoreError> {
    let deleted = tx.prepare_cached("DELETE FROM listings WHERE id = ?1")?.execute([id.to_string()])?;
    if deleted == 0 {
        return Err(StoreError::NotFound(id));
    }
    tx.prepare_cached("INSERT INTO changes (listing_id, at) VALUES (?1, ?2)")?
        .execute(params![id.to_string(), fmt_time(now())])?;
    Ok(())
}

fn load(conn: &Connection, id: ListingId) -> Result<Listing, StoreError> {
    conn.query_row(
        "SELECT id, version, created_at, updated_at, body FROM listings WHERE id = ?1",
        [id.to_string()],
        row_to_parts,
    )
    .optional()?
    .ok_or(StoreError::NotFound(id))
    .and_then(parts_to_listing)
}

type Parts = (String, i64, String, String, String);

fn row_to_parts(row: &rusqlite::Row<'_>) -> rusqlite::Result<Parts> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
}

fn parts_to_listing((id, version, created_at, updated_at, body): Parts) -> Result<Listing, StoreError> {
    Ok(Listing {
        id: parse_id(&id)?,
        version,
        created_at: parse_time(&created_at)?,
        updated_at: parse_time(&updated_at)?,
        body: serde_json::from_str(&body)?,
    })
}

fn replace(
    tx: &Transaction<'_>,
    id: ListingId,
    expected_version: Option<i64>,
    body: ListingBody,
) -> Result<Listing, StoreError> {
    let current = load(tx, id)?;
    if let Some(expected) = expected_version
        && expected != current.version
    {
        return Err(StoreError::Conflict { id, expected, actual: current.version });
    }
    check_unique(tx, id, &body)?;
    let listing = Listing { id, version: current.version + 1, created_at: current.created_at, updated_at: now(), body };
    write_row(tx, &listing)?;
    write_derived(tx, &listing, DerivedRows::Replace)?;
    Ok(listing)
}

/// The SQL condition of `ReadScope::Limited`, mirroring `ReadScope::allows`; binds the `orgs`
/// and then the `provinces`. `listing_regions` holds every ancestor of a listing's regions, so a
/// province code matches listings anywhere inside it.
fn scope_clause(registered: bool, provinces: &[String], orgs: &[String]) -> String {
    let mut visible = vec!["visibility = 'public'".to_string()];
    if registered {
        visible.push("visibility = 'registered'".into());
    }
    if !provinces.is_empty() {
        visible.push(format!(
            "(visibility = 'region' AND EXISTS (SELECT 1 FROM listing_regions r WHERE r.listing_id = listings.id AND r.code IN ({})))",
            placeholders(provinces.len())
        ));
    }
    let published = format!("(status = 'published' AND ({}))", visible.join(" OR "));
    if orgs.is_empty() { published } else { format!("(owner_org IN ({}) OR {published})", placeholders(orgs.len())) }
}

impl Store for SqliteStore {
    fn create(&self, body: ListingBody) -> Result<Listing, StoreError> {
        self.write(|tx| insert(tx, body))
    }

    fn get(&self, id: ListingId) -> Result<Listing, StoreError> {
        self.read(|conn| load(conn, id))
    }

    fn get_many(&self, ids: &[ListingId]) -> Result<Vec<Listing>, StoreError> {
        self.read(|conn| {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                match load(conn, *id) {
                    Ok(listing) => found.push(listing),
                    Err(StoreError::NotFound(_)) => {}
                    Err(err) => return Err(err),
                }
            }
            Ok(found)
        })
    }

    fn update(&self, id: ListingId, expected_version: i64, body: ListingBody) -> Result<Listing, StoreError> {
        self.write(|tx| replace(tx, id, Some(expected_version), body))
    }

    fn set_status(&self, id: ListingId, expected_version: Option<i64>, status: Status) -> Result<Listing, StoreError> {
        self.write(|tx| {
            let mut body = load(tx, id)?.body;
            body.status = status;
            replace(tx, id, expected_version, body)
        })
    }

    fn write_audited(
        &self,
        write: crate::ListingWrite,
        audit: &dyn Fn(&Listing) -> crate::NewAudit,
    ) -> Result<Listing, StoreError> {
        use crate::ListingWrite;
        self.write(|tx| {
            let listing = match write {
                ListingWrite::Create(body) => insert(tx, body)?,
                ListingWrite::Update { id, expected_version, body } => replace(tx, id, Some(expected_version), body)?,
                ListingWrite::SetStatus { id, expected_version, status } => {
                    let mut body = load(tx, id)?.body;
                    body.status = status;
                    replace(tx, id, expected_version, body)?
                }
            };
            accounts::insert_audit(tx, audit(&listing))?;
            Ok(listing)
        })
    }

    fn write_batch(&self, ops: Vec<WriteOp>) -> Result<Vec<Listing>, StoreError> {
        self.write(|tx| {
            let mut written = Vec::with_capacity(ops.len());
            // New listings' derived rows are written together at the end of the transaction.
            let mut derived = Derived::default();
            for op in ops {
                let listing = match op {
                    WriteOp::Create(body) => {
                        let listing = insert_row(tx, body)?;
                        derived.add(&listing);
                        listing
                    }
                    WriteOp::Update { id, expected_version, body } => replace(tx, id, Some(expected_version), body)?,
                };
                written.push(listing);
            }
            derived.write(tx)?;
            Ok(written)
        })
    }

    fn list(&self, filter: &ListFilter, limit: u32, offset: u64) -> Result<ListPage, StoreError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut values: Vec<String> = Vec::new();
        if let Some(kind) = filter.kind {
            clauses.push("kind = ?".into());
            values.push(kind.as_str().to_string());
        }
        if let Some(status) = filter.status {
            clauses.push("status = ?".into());
            values.push(status.as_str().to_string());
        }
        if let Some(owner) = &filter.owner_org {
            clauses.push("owner_org = ?".into());
            values.push(owner.clone());
        }
        if let Some(region) = &filter.region {
            clauses.push("id IN (SELECT listing_id FROM listing_regions WHERE code = ?)".into());
            values.push(region.clone());
        }
        if let Some(industry) = &filter.industry {
            clauses.push("id IN (SELECT listing_id FROM listing_industries WHERE code = ?)".into());
            values.push(industry.trim().to_ascii_uppercase());
        }
        if let Some(ReadScope::Limited { registered, provinces, orgs }) = &filter.scope {
            clauses.push(scope_clause(*registered, provinces, orgs));
            values.extend(orgs.iter().cloned());
            values.extend(provinces.iter().cloned());
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let order_sql = match filter.sort {
            ListSort::Newest => "created_at DESC, id DESC",
            ListSort::Oldest => "created_at ASC, id ASC",
            ListSort::RecentlyUpdated => "updated_at DESC, id DESC",
            ListSort::Title => "title ASC, id ASC",
        };
        self.read(|conn| {
            let total: i64 = conn.query_row(
                &format!("SELECT COUNT(*) FROM listings {where_sql}"),
                params_from_iter(values.iter()),
                |r| r.get(0),
            )?;
            let sql = format!(
                "SELECT id, version, created_at, updated_at, body FROM listings {where_sql} ORDER BY {order_sql} LIMIT {limit} OFFSET {offset}"
            );
            let mut statement = conn.prepare(&sql)?;
            let rows = statement.query_map(params_from_iter(values.iter()), row_to_parts)?;
            let mut items = Vec::new();
            for row in rows {
                items.push(parts_to_listing(row?)?);
            }
            Ok(ListPage { items, total: total as u64 })
        })
    }

    fn scan(&self, after: Option<ListingId>, limit: u32) -> Result<Vec<Listing>, StoreError> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        self.read(|conn| {
            let mut statement = conn.prepare(
                "SELECT id, version, created_at, updated_at, body FROM listings WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = statement.query_map(params![after, limit], row_to_parts)?;
            let mut items = Vec::new();
            for row in rows {
                items.push(parts_to_listing(row?)?);
            }
            Ok(items)
        })
    }

    fn counts(&self) -> Result<Vec<KindCount>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare("SELECT kind, status, COUNT(*) FROM listings GROUP BY kind, status")?;
            let rows = statement
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
            let mut counts = Vec::new();
            for row in rows {
                let (kind, status, count) = row?;
                let kind: Kind = kind.parse().map_err(StoreError::backend)?;
                let status: Status = status.parse().map_err(StoreError::backend)?;
                counts.push(KindCount { kind, status, count: count as u64 });
            }
            Ok(counts)
        })
    }

    fn changes_since(&self, after_seq: u64, limit: u32) -> Result<Vec<Change>, StoreError> {
        self.read(|conn| {
            let mut statement =
                conn.prepare("SELECT seq, listing_id FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
            let rows = statement
                .query_map(params![after_seq as i64, limit], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            let mut changes = Vec::new();
            for row in rows {
                let (seq, id) = row?;
                changes.push(Change { seq: seq as u64, id: parse_id(&id)? });
            }
            Ok(changes)
        })
    }

    fn last_seq(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let seq: Option<i64> = conn.query_row("SELECT MAX(seq) FROM changes", [], |r| r.get(0))?;
            Ok(seq.unwrap_or(0) as u64)
        })
    }

    fn delete(&self, id: ListingId) -> Result<(), StoreError> {
        self.write(|tx| delete_listing(tx, id))
    }

    fn find_by_key(&self, key: &ListingKey) -> Result<Option<Listing>, StoreError> {
        self.read(|conn| {
            let id: Option<String> = match key {
                ListingKey::External { kind, owner_org, external_id } => conn
                    .query_row(
                        "SELECT id FROM listings WHERE kind = ?1 AND IFNULL(owner_org, '') = IFNULL(?2, '') AND external_id = ?3",
                        params![kind.as_str(), owner_org, external_id],
                        |r| r.get(0),
                    )
                    .optional()?,
                ListingKey::Uscc(uscc) => conn
                    .query_row("SELECT id FROM listings WHERE uscc = ?1", [uscc.trim().to_ascii_uppercase()], |r| r.get(0))
                    .optional()?,
                ListingKey::TitleOwner { kind, title, owner_org } => conn
                    .query_row(
                        "SELECT id FROM listings WHERE kind = ?1 AND title = ?2 AND IFNULL(owner_org, '') = IFNULL(?3, '') ORDER BY id LIMIT 1",
                        params![kind.as_str(), title.trim(), owner_org],
                        |r| r.get(0),
                    )
                    .optional()?,
            };
            match id {
                Some(id) => load(conn, parse_id(&id)?).map(Some),
                None => Ok(None),
            }
        })
    }

    fn site_links(&self) -> Result<Vec<SiteLink>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare(
                "SELECT h.region_code, s.region_code, s.role, s.listing_id, COUNT(*)
                 FROM enterprise_sites h
                 JOIN enterprise_sites s ON s.listing_id = h.listing_id AND s.role <> 'hq'
                 JOIN listings l ON l.id = h.listing_id AND l.status = 'published'
                 WHERE h.role = 'hq'
                 GROUP BY h.region_code, s.region_code, s.role, s.listing_id
                 ORDER BY h.region_code, s.region_code, s.role",
            )?;
            let rows = statement.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            let mut links: Vec<SiteLink> = Vec::new();
            for row in rows {
                let (hq_region, site_region, role, listing_id, sites) = row?;
                let id = parse_id(&listing_id)?;
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
        self.read(|conn| Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?))
    }

    fn meta_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
            Ok(())
        })
    }
}

impl crate::Idempotency for SqliteStore {
    fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: i64,
        keep_s: i64,
    ) -> Result<crate::IdempotencyBegin, StoreError> {
        use crate::{IdempotencyBegin, StoredResponse};
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM idempotency WHERE created_at < ?1")?.execute([now - keep_s])?;
            let found = tx
                .prepare_cached(
                    "SELECT fingerprint, status, content_type, location, body FROM idempotency WHERE scope = ?1 AND key = ?2",
                )?
                .query_row(params![scope, key], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<u16>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<Vec<u8>>>(4)?,
                    ))
                })
                .optional()?;
            Ok(match found {
                None => {
                    tx.prepare_cached(
                        "INSERT INTO idempotency (scope, key, fingerprint, created_at) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![scope, key, fingerprint, now])?;
                    IdempotencyBegin::Started
                }
                Some((stored, _, _, _, _)) if stored != fingerprint => IdempotencyBegin::Mismatch,
                Some((_, None, _, _, _)) => IdempotencyBegin::InProgress,
                Some((_, Some(status), content_type, location, body)) => IdempotencyBegin::Replay(StoredResponse {
                    status,
                    content_type,
                    location,
                    body: body.unwrap_or_default(),
                }),
            })
        })
    }

    fn idempotency_finish(
        &self,
        scope: &str,
        key: &str,
        response: Option<&crate::StoredResponse>,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            match response {
                Some(response) => {
                    tx.prepare_cached(
                        "UPDATE idempotency SET status = ?3, content_type = ?4, location = ?5, body = ?6 WHERE scope = ?1 AND key = ?2",
                    )?
                    .execute(params![
                        scope,
                        key,
                        response.status,
                        response.content_type,
                        response.location,
                        response.body
                    ])?;
                }
                None => {
                    tx.prepare_cached("DELETE FROM idempotency WHERE scope = ?1 AND key = ?2 AND status IS NULL")?
                        .execute(params![scope, key])?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn backend_errors_keep_their_cause() {
        let error: StoreError = rusqlite::Error::QueryReturnedNoRows.into();
        let source = std::error::Error::source(&error).expect("the driver's error is kept as the source");
        assert!(source.downcast_ref::<rusqlite::Error>().is_some());
        assert!(error.to_string().contains("Query returned no rows"), "{error}");
    }
}
