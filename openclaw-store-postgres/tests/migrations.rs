//! Migrations: a fresh schema and schemas migrated step by step (one migration at a time,
//! stopping after each step and letting `migrate` finish) end with the same tables,
//! columns, indexes, constraints and seed rows.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used, clippy::panic)]

mod common;

use openclaw_core::ports::Store;
use openclaw_store_postgres::{migrator, PgStore};
use sqlx::migrate::Migrate;
use sqlx::PgPool;

/// Everything that makes up a schema, as comparable text.
async fn describe(pool: &PgPool, schema: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let columns: Vec<(String, String, i32, String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, ordinal_position::int, data_type::text, \
                is_nullable::text, column_default::text \
         FROM information_schema.columns WHERE table_schema = $1 \
         ORDER BY table_name, ordinal_position",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("columns");
    lines.extend(columns.into_iter().map(|c| format!("column {c:?}")));
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, replace(indexdef, $1 || '.', '') FROM pg_indexes \
         WHERE schemaname = $1 ORDER BY indexname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("indexes");
    lines.extend(indexes.into_iter().map(|i| format!("index {i:?}")));
    let constraints: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.relname::text, k.conname::text, pg_get_constraintdef(k.oid) \
         FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 ORDER BY c.relname, k.conname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("constraints");
    lines.extend(constraints.into_iter().map(|k| format!("constraint {k:?}")));
    let triggers: Vec<(String, String)> = sqlx::query_as(
        "SELECT t.tgname::text, replace(pg_get_triggerdef(t.oid), $1 || '.', '') \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND NOT t.tgisinternal ORDER BY t.tgname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("triggers");
    lines.extend(triggers.into_iter().map(|t| format!("trigger {t:?}")));
    let functions: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.proname::text, p.prosrc FROM pg_proc p \
         JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = $1 ORDER BY p.proname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("functions");
    lines.extend(functions.into_iter().map(|f| format!("function {f:?}")));
    let counts: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT kind, name, n FROM store_counts ORDER BY kind, name")
            .fetch_all(pool)
            .await
            .expect("count rows");
    lines.push(format!("store_counts {counts:?}"));
    let head: Vec<(bool, i64)> =
        sqlx::query_as("SELECT singleton, last_sequence FROM event_log_head")
            .fetch_all(pool)
            .await
            .expect("seed row");
    lines.push(format!("event_log_head {head:?}"));
    let applied: Vec<(i64, String, Vec<u8>, bool)> = sqlx::query_as(
        "SELECT version, description, checksum, success FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(pool)
    .await
    .expect("applied migrations");
    lines.extend(applied.into_iter().map(|m| format!("migration {m:?}")));
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_by_step_ends_like_fresh() {
    let fresh = common::store().await;
    let expected = describe(fresh.pool(), fresh.schema()).await;
    assert!(expected
        .iter()
        .any(|l| l.contains("jobs_one_running_per_instance")));
    assert!(expected.iter().any(|l| l.contains("jobs_counted_update")));
    // Migrating again is a no-op.
    fresh.migrate().await.expect("second migrate");
    assert_eq!(describe(fresh.pool(), fresh.schema()).await, expected);

    let steps: Vec<_> = migrator().iter().collect();
    assert!(steps.len() >= 2, "migrations are split into steps");
    for stop_after in 0..=steps.len() {
        let store = PgStore::connect(&common::config().migrate_on_connect(false))
            .await
            .expect("connect");
        for (n, migration) in steps.iter().take(stop_after).enumerate() {
            // Each step on its own connection, as separate deployments would run them.
            let mut conn = store.pool().acquire().await.expect("connection");
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
            describe(store.pool(), store.schema()).await,
            expected,
            "stopped after {stop_after} steps, then migrated"
        );
        store.ping().await.expect("usable");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_schema_is_created_migrated_and_kept() {
    let name = format!("oc_named_{}", uuid::Uuid::now_v7().simple());
    let config = openclaw_store_postgres::PgConfig::new(common::database_url()).schema(&name);
    let store = PgStore::connect(&config).await.expect("connect");
    assert_eq!(store.schema(), name);
    store.ping().await.expect("usable");
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&name)
    .fetch_one(store.pool())
    .await
    .expect("tables");
    assert!(
        tables >= 8,
        "the migrations ran in the schema: {tables} tables"
    );
    drop(store);
    // A named schema outlives its store; this test made it, so it drops it.
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&common::database_url())
        .await
        .expect("admin connection");
    sqlx::query(&format!("DROP SCHEMA {name} CASCADE"))
        .execute(&mut admin)
        .await
        .expect("the schema was kept");
}
