//! What the PostgreSQL tests share: the server's URL and a store in a schema of its own.
//!
//! A test that cannot reach PostgreSQL fails; it never skips. `scripts/test` starts the
//! server; `DATABASE_URL` points elsewhere.

#![allow(dead_code, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use openclaw_core::ports::Store;
use openclaw_store_postgres::{PgConfig, PgStore};

/// The test server: `DATABASE_URL`, or the local one `scripts/test` starts.
pub(crate) fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres:postgres@127.0.0.1:5432/test".to_string())
}

/// A config for a fresh schema that is dropped with the store.
pub(crate) fn config() -> PgConfig {
    PgConfig::new(database_url())
        .ephemeral_schema()
        .max_connections(6)
        .connect_timeout(Duration::from_secs(10))
}

/// A migrated store in a schema of its own.
pub(crate) async fn store() -> PgStore {
    PgStore::connect(&config())
        .await
        .expect("PostgreSQL must be reachable at DATABASE_URL (run scripts/services)")
}

/// The conformance suite's factory.
pub(crate) async fn fresh_store() -> Arc<dyn Store> {
    Arc::new(store().await)
}
