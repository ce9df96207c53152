//! The counts `stats` reads: kept by triggers as every write happens, and started from the
//! rows already there when the migration that adds them runs.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use openclaw_core::ports::{Store, StoreStats};
use openclaw_store_sql::stats_from;
use openclaw_store_sqlite::{migrator, SqliteConfig, SqliteStore};
use sqlx::migrate::Migrate;

/// The counts the slow way: a `GROUP BY` over the tables.
async fn scanned(store: &SqliteStore) -> StoreStats {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT 'instances', status, count(*) FROM instances GROUP BY status \
         UNION ALL SELECT 'jobs', state, count(*) FROM jobs GROUP BY state \
         UNION ALL SELECT 'events', 'last', \
             coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
    )
    .fetch_all(store.readers())
    .await
    .expect("scan");
    stats_from(rows.iter().map(|(k, n, c)| (k.as_str(), n.as_str(), *c))).expect("stats")
}

async fn temporary(migrate: bool) -> SqliteStore {
    SqliteStore::connect(&SqliteConfig::temporary().migrate_on_connect(migrate))
        .await
        .expect("open a temporary store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_follow_every_write() {
    let store = temporary(true).await;
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    openclaw_store_sql::testing::counts_follow_every_write(shared, || scanned(&store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_start_from_the_rows_already_there() {
    let store = temporary(false).await;
    // The migrations before the one that adds the counts (later ones build on them).
    let counts_version = migrator()
        .iter()
        .find(|m| m.description.contains("store counts"))
        .expect("the counts migration")
        .version;
    let before_counts = migrator()
        .iter()
        .filter(|m| m.version < counts_version)
        .collect::<Vec<_>>();
    assert!(before_counts.len() < migrator().iter().count());
    let mut conn = store.writer().acquire().await.expect("connection");
    conn.ensure_migrations_table().await.expect("table");
    for migration in before_counts {
        conn.apply(migration).await.expect("apply");
    }
    drop(conn);
    openclaw_store_sql::testing::write_rows_before_counts(&store).await;
    store.migrate().await.expect("migrate");
    let stats = store.stats().await.expect("stats");
    openclaw_store_sql::testing::check_counts_of_rows_before(&stats, &scanned(&store).await);
}

/// The `resizing` migration rebuilds the instances table (SQLite cannot alter a CHECK):
/// rows, secrets (a foreign key with ON DELETE CASCADE) and counts all survive it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resizing_migration_keeps_instances_and_their_secrets() {
    let store = temporary(false).await;
    let resizing_version = migrator()
        .iter()
        .find(|m| m.description.contains("resizing"))
        .expect("the resizing migration")
        .version;
    let mut conn = store.writer().acquire().await.expect("connection");
    conn.ensure_migrations_table().await.expect("table");
    for migration in migrator().iter().filter(|m| m.version < resizing_version) {
        conn.apply(migration).await.expect("apply");
    }
    drop(conn);
    let instance = openclaw_store_sql::testing::write_rows_before_resizing(&store).await;
    store.migrate().await.expect("migrate");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(store.writer())
        .await
        .expect("pragma");
    assert_eq!(
        foreign_keys, 1,
        "foreign keys are on again after the rebuild"
    );
    openclaw_store_sql::testing::check_rows_after_resizing(&store, &instance).await;
    assert_eq!(store.stats().await.expect("stats"), scanned(&store).await);
}
