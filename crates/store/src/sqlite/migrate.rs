//! Versioned migrations. Applied migrations are never edited; add a new file instead.

use rusqlite::{Connection, params};

use crate::StoreError;

/// (version, name, sql) in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "listings", include_str!("../../migrations/sqlite/0001_listings.sql")),
    (2, "derived_indexes", include_str!("../../migrations/sqlite/0002_derived_indexes.sql")),
    (3, "accounts", include_str!("../../migrations/sqlite/0003_accounts.sql")),
    (4, "idempotency", include_str!("../../migrations/sqlite/0004_idempotency.sql")),
    (5, "login_throttle", include_str!("../../migrations/sqlite/0005_login_throttle.sql")),
    (6, "deals", include_str!("../../migrations/sqlite/0006_deals.sql")),
    (7, "notifications", include_str!("../../migrations/sqlite/0007_notifications.sql")),
    (8, "feedback", include_str!("../../migrations/sqlite/0008_feedback.sql")),
    (9, "orgs_claims", include_str!("../../migrations/sqlite/0009_orgs_claims.sql")),
];

/// Applies every migration newer than the database's version, each in its own transaction.
pub fn run(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    let current: i64 = conn.query_row("SELECT IFNULL(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    for (version, name, sql) in MIGRATIONS {
        if *version <= current {
            continue;
        }
        tracing::info!(migration.version = version, migration.name = name, "applying migration");
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let applied = conn.execute_batch(sql).and_then(|_| {
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, datetime('now'))",
                params![version, name],
            )
        });
        match applied {
            Ok(_) => conn.execute_batch("COMMIT")?,
            Err(err) => {
                conn.execute_batch("ROLLBACK")?;
                return Err(StoreError::backend_caused(format!("migration {version} ({name}) failed"), err));
            }
        }
    }
    Ok(())
}
