//! Migrations: a fresh file and files migrated step by step (one migration at a time,
//! stopping after each step and letting `migrate` finish) end with the same schema.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used, clippy::panic)]

use openclaw_core::ports::Store;
use openclaw_store_sqlite::{migrator, SqliteConfig, SqliteStore};
use sqlx::migrate::Migrate;
use sqlx::SqlitePool;

async fn open(migrate: bool) -> SqliteStore {
    SqliteStore::connect(&SqliteConfig::temporary().migrate_on_connect(migrate))
        .await
        .expect("open a temporary store")
}

/// Every table, index and trigger as SQLite keeps its definition, and the applied
/// migrations.
async fn describe(pool: &SqlitePool) -> Vec<String> {
    let objects: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT type, name, tbl_name, sql FROM sqlite_master \
         WHERE name <> '_sqlx_migrations' ORDER BY type, name",
    )
    .fetch_all(pool)
    .await
    .expect("sqlite_master");
    let applied: Vec<(i64, String, Vec<u8>, bool)> = sqlx::query_as(
        "SELECT version, description, checksum, success FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(pool)
    .await
    .expect("applied migrations");
    objects
        .into_iter()
        .map(|o| format!("{o:?}"))
        .chain(applied.into_iter().map(|m| format!("migration {m:?}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_by_step_ends_like_fresh() {
    let fresh = open(true).await;
    let expected = describe(fresh.writer()).await;
    assert!(expected
        .iter()
        .any(|l| l.contains("jobs_one_running_per_instance")));
    fresh.migrate().await.expect("second migrate is a no-op");
    assert_eq!(describe(fresh.writer()).await, expected);

    let steps: Vec<_> = migrator().iter().collect();
    assert!(steps.len() >= 2, "migrations are split into steps");
    for stop_after in 0..=steps.len() {
        let store = open(false).await;
        for (n, migration) in steps.iter().take(stop_after).enumerate() {
            let mut conn = store.writer().acquire().await.expect("connection");
            conn.ensure_migrations_table()
                .await
                .expect("migrations table");
            conn.apply(migration).await.expect("apply one migration");
            let latest: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
                .fetch_one(&mut *conn)
                .await
                .expect("latest version");
            assert_eq!(latest, steps[n].version);
        }
        store.migrate().await.expect("migrate the rest");
        assert_eq!(
            describe(store.writer()).await,
            expected,
            "stopped after {stop_after} steps, then migrated"
        );
        store.ping().await.expect("usable");
    }
}
