//! Core's `Store` conformance suite against PostgreSQL with
//! `durable_before_visible`: PostgreSQL's synchronous commit everywhere.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use openclaw_core::ports::Store;
use openclaw_store_postgres::PgStore;

async fn fresh_store() -> Arc<dyn Store> {
    let config = common::config().durable_before_visible(true);
    Arc::new(
        PgStore::connect(&config)
            .await
            .expect("PostgreSQL at DATABASE_URL"),
    )
}

openclaw_core::store_conformance_tests!(fresh_store);
