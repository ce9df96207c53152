//! The counts `stats` reads: kept by triggers as every write happens, and started from the
//! rows already there when the migration that adds them runs.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use openclaw_core::ports::{Store, StoreStats};
use openclaw_store_postgres::{migrator, PgStore};
use openclaw_store_sql::stats_from;
use sqlx::migrate::Migrate;

/// The counts the slow way: a `GROUP BY` over the tables.
async fn scanned(store: &PgStore) -> StoreStats {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT 'instances', status, count(*) FROM instances GROUP BY status \
         UNION ALL SELECT 'jobs', state, count(*) FROM jobs GROUP BY state \
         UNION ALL SELECT 'events', 'last', last_sequence FROM event_log_head",
    )
    .fetch_all(store.pool())
    .await
    .expect("scan");
    stats_from(rows.iter().map(|(k, n, c)| (k.as_str(), n.as_str(), *c))).expect("stats")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_follow_every_write() {
    let store = common::store().await;
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    openclaw_store_sql::testing::counts_follow_every_write(shared, || scanned(&store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_start_from_the_rows_already_there() {
    let store = PgStore::connect(&common::config().migrate_on_connect(false))
        .await
        .expect("connect");
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
    let mut conn = store.pool().acquire().await.expect("connection");
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

/// The `resizing` migration changes the status constraint in place: rows, secrets and
/// counts all survive it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resizing_migration_keeps_instances_and_their_secrets() {
    let store = PgStore::connect(&common::config().migrate_on_connect(false))
        .await
        .expect("connect");
    let resizing_version = migrator()
        .iter()
        .find(|m| m.description.contains("resizing"))
        .expect("the resizing migration")
        .version;
    let mut conn = store.pool().acquire().await.expect("connection");
    conn.ensure_migrations_table().await.expect("table");
    for migration in migrator().iter().filter(|m| m.version < resizing_version) {
        conn.apply(migration).await.expect("apply");
    }
    drop(conn);
    let instance = openclaw_store_sql::testing::write_rows_before_resizing(&store).await;
    store.migrate().await.expect("migrate");
    openclaw_store_sql::testing::check_rows_after_resizing(&store, &instance).await;
    assert_eq!(store.stats().await.expect("stats"), scanned(&store).await);
}
