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
    (7, "challenges", include_str!("../../migrations/postgres/0007_challenges.sql")),
    (8, "bookings", include_str!("../../migrations/postgres/0008_bookings.sql")),
    (9, "talent", include_str!("../../migrations/postgres/0009_talent.sql")),
    (10, "chains_enclaves", include_str!("../../migrations/postgres/0010_chains_enclaves.sql")),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The PostgreSQL half of the SQLite test of the same name: contact requests in every state
    /// become deals with their decisions, a pair with an open deal keeps it, the table goes. Runs
    /// in a schema of its own on the test server (`XT_TEST_DATABASE_URL`, set by
    /// `./scripts/test.sh`).
    #[test]
    fn contact_requests_become_deals() {
        let url = std::env::var("XT_TEST_DATABASE_URL").expect(
            "XT_TEST_DATABASE_URL is not set: run ./scripts/test.sh, which starts a PostgreSQL server for the tests",
        );
        let mut client = Client::connect(&url, postgres::NoTls).expect("connect to the test server");
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let schema = format!("xt_migration_{}_{nanos}", std::process::id());
        client.batch_execute(&format!("CREATE SCHEMA {schema}; SET search_path TO {schema}")).unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&mut client)));
        client.batch_execute(&format!("SET search_path TO public; DROP SCHEMA {schema} CASCADE")).unwrap();
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    fn check(client: &mut Client) {
        client
            .batch_execute(
                "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .unwrap();
        for (version, name, sql) in MIGRATIONS.iter().filter(|(version, _, _)| *version <= 5) {
            client.batch_execute(sql).unwrap();
            client.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[version, name]).unwrap();
        }
        let ids: Vec<uuid::Uuid> = (0..4).map(|_| uuid::Uuid::now_v7()).collect();
        for (n, id) in ids.iter().enumerate() {
            client
                .execute(
                    "INSERT INTO listings (id, kind, status, visibility, title, version, created_at, updated_at, body)
                     VALUES ($1, 'achievement', 'published', 'public', $2, 1, now(), now(), '{}')",
                    &[id, &format!("L{n}")],
                )
                .unwrap();
        }
        for (id, name) in [(1i64, "asker"), (2, "owner")] {
            client
                .execute(
                    "INSERT INTO users (id, username, display_name, role, password_hash, created_at)
                     VALUES ($1, $2, $2, 'member', 'x', now())",
                    &[&id, &name],
                )
                .unwrap();
        }
        let requests: [(&str, Option<i64>); 4] =
            [("pending", None), ("accepted", Some(2)), ("declined", Some(2)), ("pending", None)];
        for (n, (state, by)) in requests.iter().enumerate() {
            client
                .execute(
                    "INSERT INTO contact_requests (listing_id, from_org, from_user_id, to_org, message, state, created_at, decided_by, decided_at)
                     VALUES ($1, '乙', 1, '甲', $2, $3, now(), $4, CASE WHEN $4::BIGINT IS NULL THEN NULL ELSE now() END)",
                    &[&ids[n], &format!("L{n}"), state, by],
                )
                .unwrap();
        }
        client
            .execute(
                "INSERT INTO deals (listing_id, asker_org, owner_org, asker_user_id, message, state, version, created_at, updated_at)
                 VALUES ($1, '乙', '甲', 1, 'the deal', 'proposed', 1, now(), now())",
                &[&ids[3]],
            )
            .unwrap();

        run(client).unwrap();

        let deals: Vec<(String, String, i64)> = client
            .query(
                "SELECT d.message, d.state, d.version FROM deals d JOIN listings l ON l.id = d.listing_id ORDER BY l.title",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let expected =
            [("L0", "proposed", 1), ("L1", "accepted", 2), ("L2", "declined", 2), ("the deal", "proposed", 1)];
        assert_eq!(deals, expected.map(|(m, s, v)| (m.to_string(), s.to_string(), v)));
        let steps: Vec<(String, String, String)> = client
            .query(
                "SELECT d.message, e.event, e.state FROM deal_events e JOIN deals d ON d.id = e.deal_id ORDER BY d.message",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(steps.len(), 2, "{steps:?}");
        let event = |text: &str| serde_json::from_str::<xietong_domain::deal::DealEvent>(text).unwrap().name();
        assert_eq!((steps[0].0.as_str(), event(&steps[0].1), steps[0].2.as_str()), ("L1", "accept", "accepted"));
        assert_eq!((steps[1].0.as_str(), event(&steps[1].1), steps[1].2.as_str()), ("L2", "decline", "declined"));
        let left: i64 = client
            .query_one("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'contact_requests' AND table_schema = current_schema()", &[])
            .unwrap()
            .get(0);
        assert_eq!(left, 0);
    }
}
