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
    (10, "challenges", include_str!("../../migrations/sqlite/0010_challenges.sql")),
    (11, "bookings", include_str!("../../migrations/sqlite/0011_bookings.sql")),
    (12, "talent", include_str!("../../migrations/sqlite/0012_talent.sql")),
    (13, "chains_enclaves", include_str!("../../migrations/sqlite/0013_chains_enclaves.sql")),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A database at version 8 with contact requests in every state moves them to deals: each
    /// request a deal in the matching state with its decision on the timeline, a pair that has
    /// an open deal already keeps that deal, and the old table goes.
    #[test]
    fn contact_requests_become_deals() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .unwrap();
        for (version, name, sql) in MIGRATIONS.iter().filter(|(version, _, _)| *version <= 8) {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations VALUES (?1, ?2, 'then')", params![version, name]).unwrap();
        }
        let (asked, decided) = ("2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z");
        for listing in ["L1", "L2", "L3", "L4"] {
            conn.execute(
                "INSERT INTO listings (id, kind, status, visibility, title, version, created_at, updated_at, body)
                 VALUES (?1, 'achievement', 'published', 'public', ?1, 1, ?2, ?2, '{}')",
                params![listing, asked],
            )
            .unwrap();
        }
        for (id, name) in [(1, "asker"), (2, "owner")] {
            conn.execute(
                "INSERT INTO users (id, username, display_name, role, password_hash, disabled, created_at)
                 VALUES (?1, ?2, ?2, 'member', 'x', 0, ?3)",
                params![id, name, asked],
            )
            .unwrap();
        }
        let requests = [
            ("L1", "pending", None, None),
            ("L2", "accepted", Some(2), Some(decided)),
            ("L3", "declined", Some(2), Some(decided)),
            ("L4", "pending", None, None),
        ];
        for (listing, state, by, at) in requests {
            conn.execute(
                "INSERT INTO contact_requests (listing_id, from_org, from_user_id, to_org, message, state, created_at, decided_by, decided_at)
                 VALUES (?1, '乙', 1, '甲', ?1, ?2, ?3, ?4, ?5)",
                params![listing, state, asked, by, at],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO deals (listing_id, asker_org, owner_org, asker_user_id, message, state, version, created_at, updated_at)
             VALUES ('L4', '乙', '甲', 1, 'the deal', 'proposed', 1, ?1, ?1)",
            params![asked],
        )
        .unwrap();

        run(&conn).unwrap();

        let deals: Vec<(String, String, i64, String)> = conn
            .prepare("SELECT listing_id, state, version, message FROM deals ORDER BY listing_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected = [
            ("L1", "proposed", 1, "L1"),
            ("L2", "accepted", 2, "L2"),
            ("L3", "declined", 2, "L3"),
            ("L4", "proposed", 1, "the deal"),
        ];
        assert_eq!(deals, expected.map(|(l, s, v, m)| (l.to_string(), s.to_string(), v, m.to_string())));
        let steps: Vec<(String, String, String, Option<i64>, String)> = conn
            .prepare(
                "SELECT d.listing_id, e.event, e.state, e.actor_id, e.actor FROM deal_events e JOIN deals d ON d.id = e.deal_id
                 ORDER BY d.listing_id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert_eq!(steps[0].0, "L2");
        assert_eq!(serde_json::from_str::<xietong_domain::deal::DealEvent>(&steps[0].1).unwrap().name(), "accept");
        assert_eq!((steps[0].2.as_str(), steps[0].3, steps[0].4.as_str()), ("accepted", Some(2), "owner"));
        let decline: xietong_domain::deal::DealEvent = serde_json::from_str(&steps[1].1).unwrap();
        assert_eq!((steps[1].0.as_str(), decline.name(), steps[1].2.as_str()), ("L3", "decline", "declined"));
        let gone: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'contact_requests'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(gone, 0);
    }
}
