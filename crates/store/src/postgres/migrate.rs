//! Versioned migrations. Applied migrations are never edited; add a new file instead.

use postgres::Client;

use crate::StoreError;

/// (version, name, sql) in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "schema", include_str!("../../migrations/postgres/0001_schema.sql")),
    (2, "login_throttle", include_str!("../../migrations/postgres/0002_login_throttle.sql")),
    (3, "deals", include_str!("../../migrations/postgres/0003_deals.sql")),
    (4, "notifications", include_str!("../../migrations/postgres/0004_notifications.sql")),
    (5, "feedback", include_str!("../../migrations/postgres/0005_feedback.sql")),
    (6, "orgs_claims", include_str!("../../migrations/postgres/0006_orgs_claims.sql")),
];

/// Key of the advisory lock that serialises migrations, so that several nodes starting at once
/// apply each migration once.
const MIGRATION_LOCK: i64 = 0x7869_6574_6f6e_6700;

/// Applies every migration newer than the database's version, each in its own transaction.
pub fn run(client: &mut Client) -> Result<(), StoreError> {
    for (version, name, sql) in MIGRATIONS {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )?;
        let current: i64 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?.get(0);
        if *version <= current {
            continue;
        }
        tracing::info!(migration.version = version, migration.name = name, "applying migration");
        let applied = tx.batch_execute(sql).and_then(|()| {
            tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[version, name])
        });
        if let Err(err) = applied {
            return Err(StoreError::backend_caused(format!("migration {version} ({name}) failed"), err));
        }
        tx.commit()?;
    }
    Ok(())
}
