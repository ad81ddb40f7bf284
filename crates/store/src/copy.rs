//! Moving an embedded SQLite database to PostgreSQL without loss: every table, row by row, with
//! the same ids, versions, sequence numbers and times. Each table's rows are then read back on
//! both sides and compared by count and checksum. Copying again changes nothing: a table whose
//! checksums already agree is left alone. Times are compared to the microsecond, PostgreSQL's
//! precision (the store writes milliseconds; a few caller-given times carry more).

use std::collections::HashMap;

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls};
use rusqlite::types::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{PostgresStore, SqliteStore, StoreError};

/// Tables in an order that respects their foreign keys.
pub const TABLES: &[&str] = &[
    "listings",
    "listing_regions",
    "listing_industries",
    "enterprise_sites",
    "changes",
    "meta",
    "orgs",
    "users",
    "appointments",
    "sessions",
    "api_tokens",
    "review_regions",
    "reviews",
    "audit",
    "idempotency",
    "deals",
    "deal_events",
    "deal_brokers",
    "match_impressions",
    "stale_reminders",
    "org_claims",
    "inbox",
    "webhooks",
    "outbox",
    "challenge_phases",
    "challenge_applications",
    "challenge_members",
    "challenge_reviewers",
    "challenge_scores",
    "challenge_milestones",
    "challenge_reports",
    "facility_calendars",
    "vouchers",
    "bookings",
    "booking_events",
    "facility_clearances",
    "voucher_ledger",
    "chain_edits",
    "enclaves",
    "issuer_keys",
    "talent_credentials",
    "recognition_rules",
    "engagements",
    "services",
];

/// What happened to one table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableCopy {
    pub table: String,
    pub source_rows: u64,
    pub target_rows: u64,
    /// Rows written by this run (0 when the table was already the same).
    pub copied: u64,
    pub source_checksum: String,
    pub target_checksum: String,
}

impl TableCopy {
    pub fn matches(&self) -> bool {
        self.source_rows == self.target_rows && self.source_checksum == self.target_checksum
    }
}

/// A column of the target table: its name and PostgreSQL type.
struct Column {
    name: String,
    ty: Type,
}

/// A value in a form both backends agree on, for inserting and for checksums.
#[derive(Debug, Clone, PartialEq)]
enum Canonical {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    Uuid(uuid::Uuid),
    Time(OffsetDateTime),
    Bytes(Vec<u8>),
}

impl Canonical {
    fn render(&self) -> String {
        match self {
            Canonical::Null => "∅".into(),
            Canonical::Int(v) => v.to_string(),
            Canonical::Real(v) => format!("{v:?}"),
            Canonical::Text(v) => format!("{v:?}"),
            Canonical::Bool(v) => v.to_string(),
            Canonical::Uuid(v) => v.to_string(),
            // PostgreSQL keeps microseconds; SQLite text may carry nanoseconds.
            Canonical::Time(v) => {
                let micros = v.replace_nanosecond(v.nanosecond() / 1_000 * 1_000).unwrap_or(*v);
                micros.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
            }
            Canonical::Bytes(v) => v.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// The value as a parameter for a column of type `ty`.
    fn as_sql(&self, ty: &Type) -> Box<dyn ToSql + Sync> {
        match self.clone() {
            Canonical::Null if *ty == Type::INT8 => Box::new(Option::<i64>::None),
            Canonical::Null if *ty == Type::INT4 => Box::new(Option::<i32>::None),
            Canonical::Null if *ty == Type::INT2 => Box::new(Option::<i16>::None),
            Canonical::Null if *ty == Type::BOOL => Box::new(Option::<bool>::None),
            Canonical::Null if *ty == Type::FLOAT8 => Box::new(Option::<f64>::None),
            Canonical::Null if *ty == Type::UUID => Box::new(Option::<uuid::Uuid>::None),
            Canonical::Null if *ty == Type::TIMESTAMPTZ => Box::new(Option::<OffsetDateTime>::None),
            Canonical::Null if *ty == Type::BYTEA => Box::new(Option::<Vec<u8>>::None),
            Canonical::Null => Box::new(Option::<String>::None),
            Canonical::Int(v) if *ty == Type::INT4 => Box::new(v as i32),
            Canonical::Int(v) if *ty == Type::INT2 => Box::new(v as i16),
            Canonical::Int(v) => Box::new(v),
            Canonical::Bytes(v) => Box::new(v),
            Canonical::Real(v) => Box::new(v),
            Canonical::Text(v) => Box::new(v),
            Canonical::Bool(v) => Box::new(v),
            Canonical::Uuid(v) => Box::new(v),
            Canonical::Time(v) => Box::new(v),
        }
    }
}

fn corrupt(table: &str, column: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::backend(format!("{table}.{column}: {detail}"))
}

/// A SQLite value as the target column's type wants it.
fn from_sqlite(table: &str, column: &Column, value: Value) -> Result<Canonical, StoreError> {
    Ok(match (value, &column.ty) {
        (Value::Null, _) => Canonical::Null,
        (Value::Integer(v), ty) if *ty == Type::BOOL => Canonical::Bool(v != 0),
        (Value::Integer(v), _) => Canonical::Int(v),
        (Value::Real(v), _) => Canonical::Real(v),
        (Value::Text(v), ty) if *ty == Type::UUID => {
            Canonical::Uuid(v.parse().map_err(|e| corrupt(table, &column.name, format!("{v:?}: {e}")))?)
        }
        (Value::Text(v), ty) if *ty == Type::TIMESTAMPTZ => Canonical::Time(
            OffsetDateTime::parse(&v, &Rfc3339).map_err(|e| corrupt(table, &column.name, format!("{v:?}: {e}")))?,
        ),
        (Value::Text(v), _) => Canonical::Text(v),
        (Value::Blob(v), _) => Canonical::Bytes(v),
    })
}

/// A PostgreSQL value read back.
fn from_postgres(row: &postgres::Row, index: usize, column: &Column) -> Result<Canonical, StoreError> {
    let ty = &column.ty;
    let value = if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(index)?.map(Canonical::Bool)
    } else if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(index)?.map(Canonical::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(index)?.map(|v| Canonical::Int(v.into()))
    } else if *ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(index)?.map(Canonical::Real)
    } else if *ty == Type::UUID {
        row.try_get::<_, Option<uuid::Uuid>>(index)?.map(Canonical::Uuid)
    } else if *ty == Type::TIMESTAMPTZ {
        row.try_get::<_, Option<OffsetDateTime>>(index)?.map(Canonical::Time)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(index)?.map(Canonical::Bytes)
    } else {
        row.try_get::<_, Option<String>>(index)?.map(Canonical::Text)
    };
    Ok(value.unwrap_or(Canonical::Null))
}

fn checksum(rows: &mut [String]) -> String {
    use sha2::{Digest, Sha256};
    rows.sort_unstable();
    let mut hasher = Sha256::new();
    for row in rows.iter() {
        hasher.update(row.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Copies every table of the SQLite database at `sqlite_path` into the PostgreSQL database at
/// `postgres_url` (both migrated first), then compares them. `progress(table, rows)` is called
/// as each table is done.
pub fn copy_sqlite_to_postgres(
    sqlite_path: &std::path::Path,
    postgres_url: &str,
    mut progress: impl FnMut(&TableCopy),
) -> Result<Vec<TableCopy>, StoreError> {
    drop(SqliteStore::open(sqlite_path)?);
    drop(PostgresStore::connect(postgres_url)?);
    let source = rusqlite::Connection::open_with_flags(sqlite_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut target = Client::connect(postgres_url, NoTls)?;
    let mut report = Vec::new();
    for table in TABLES {
        let columns = target_columns(&mut target, table)?;
        let source_rows = read_source(&source, table, &columns)?;
        let mut source_rendered: Vec<String> = source_rows.iter().map(|row| render(row)).collect();
        let source_checksum = checksum(&mut source_rendered);
        let (mut target_rendered, _) = read_target(&mut target, table, &columns)?;
        let mut copied = 0;
        if checksum(&mut target_rendered) != source_checksum {
            if !target_rendered.is_empty() && !has_primary_key(&mut target, table)? {
                return Err(StoreError::backend(format!(
                    "table {table} in the target differs from the source and has no key to merge on; migrate into an empty database"
                )));
            }
            copied = insert(&mut target, table, &columns, &source_rows)?;
            reset_identity(&mut target, table, &columns)?;
        }
        let (mut target_rendered, target_rows) = read_target(&mut target, table, &columns)?;
        let entry = TableCopy {
            table: table.to_string(),
            source_rows: source_rows.len() as u64,
            target_rows,
            copied,
            source_checksum,
            target_checksum: checksum(&mut target_rendered),
        };
        progress(&entry);
        report.push(entry);
    }
    Ok(report)
}

fn render(row: &[Canonical]) -> String {
    row.iter().map(Canonical::render).collect::<Vec<_>>().join("\u{1f}")
}

fn target_columns(target: &mut Client, table: &str) -> Result<Vec<Column>, StoreError> {
    let rows = target.query(
        "SELECT a.attname, a.atttypid FROM pg_attribute a
         WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        &[&table],
    )?;
    rows.iter()
        .map(|row| {
            let oid: u32 = row.try_get(1)?;
            let ty = Type::from_oid(oid)
                .ok_or_else(|| StoreError::backend(format!("{table}: unknown column type {oid}")))?;
            Ok(Column { name: row.try_get(0)?, ty })
        })
        .collect()
}

fn read_source(
    source: &rusqlite::Connection,
    table: &str,
    columns: &[Column],
) -> Result<Vec<Vec<Canonical>>, StoreError> {
    let list = columns.iter().map(|c| format!("\"{}\"", c.name)).collect::<Vec<_>>().join(", ");
    let mut statement = source.prepare(&format!("SELECT {list} FROM {table}"))?;
    let mut rows = statement.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for (index, column) in columns.iter().enumerate() {
            values.push(from_sqlite(table, column, row.get::<_, Value>(index)?)?);
        }
        out.push(values);
    }
    Ok(out)
}

fn read_target(target: &mut Client, table: &str, columns: &[Column]) -> Result<(Vec<String>, u64), StoreError> {
    let list = columns.iter().map(|c| format!("\"{}\"", c.name)).collect::<Vec<_>>().join(", ");
    let rows = target.query(&format!("SELECT {list} FROM {table}"), &[])?;
    let mut rendered = Vec::with_capacity(rows.len());
    for row in &rows {
        let values =
            columns.iter().enumerate().map(|(i, c)| from_postgres(row, i, c)).collect::<Result<Vec<_>, _>>()?;
        rendered.push(render(&values));
    }
    let count = rendered.len() as u64;
    Ok((rendered, count))
}

fn has_primary_key(target: &mut Client, table: &str) -> Result<bool, StoreError> {
    let row = target.query_one(
        "SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = $1::text::regclass AND indisprimary)",
        &[&table],
    )?;
    Ok(row.try_get(0)?)
}

/// Inserts the rows (keeping identity values); rows whose key is already there are skipped.
fn insert(target: &mut Client, table: &str, columns: &[Column], rows: &[Vec<Canonical>]) -> Result<u64, StoreError> {
    let list = columns.iter().map(|c| format!("\"{}\"", c.name)).collect::<Vec<_>>().join(", ");
    let placeholders = (1..=columns.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql =
        format!("INSERT INTO {table} ({list}) OVERRIDING SYSTEM VALUE VALUES ({placeholders}) ON CONFLICT DO NOTHING");
    let mut tx = target.transaction()?;
    let statement = tx.prepare(&sql)?;
    let mut inserted = 0;
    for row in rows {
        let values: Vec<Box<dyn ToSql + Sync>> = row.iter().zip(columns).map(|(v, c)| v.as_sql(&c.ty)).collect();
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        inserted += tx.execute(&statement, &params)?;
    }
    tx.commit()?;
    Ok(inserted)
}

/// Moves identity sequences past the copied values, so new rows get new ids.
fn reset_identity(target: &mut Client, table: &str, columns: &[Column]) -> Result<(), StoreError> {
    let identity: HashMap<String, bool> = target
        .query(
            "SELECT attname, attidentity <> '' FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0",
            &[&table],
        )?
        .iter()
        .map(|row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, bool>(1)?)))
        .collect::<Result<_, StoreError>>()?;
    for column in columns.iter().filter(|c| identity.get(&c.name).copied().unwrap_or(false)) {
        target.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{name}'), COALESCE((SELECT MAX(\"{name}\") FROM {table}), 0) + 1, false)",
                name = column.name
            ),
            &[],
        )?;
    }
    Ok(())
}
