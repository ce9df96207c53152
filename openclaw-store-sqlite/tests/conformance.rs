//! Core's `Store` conformance suite against SQLite: one test per check, each on a temporary
//! file of its own that is deleted when the check ends.

// Helpers outside `#[test]` functions stop the test on failure, as the tests themselves do.
#![allow(clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use openclaw_core::ports::Store;
use openclaw_store_sqlite::{SqliteConfig, SqliteStore};

async fn fresh_store() -> Arc<dyn Store> {
    match SqliteStore::connect(&SqliteConfig::temporary()).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("cannot open a temporary SQLite store: {e}"),
    }
}

openclaw_core::store_conformance_tests!(fresh_store);

async fn fresh_api_key_store() -> Arc<dyn openclaw_core::ports::ApiKeyStore> {
    match SqliteStore::connect(&SqliteConfig::temporary()).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("cannot open a temporary SQLite store: {e}"),
    }
}

openclaw_core::api_key_conformance_tests!(fresh_api_key_store);

async fn fresh_facts() -> Arc<dyn openclaw_core::ports::DeploymentFacts> {
    match SqliteStore::connect(&SqliteConfig::temporary()).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("cannot open a temporary SQLite store: {e}"),
    }
}

openclaw_core::deployment_facts_conformance_tests!(fresh_facts);

async fn fresh_agent_store() -> Arc<dyn openclaw_core::ports::AgentStore> {
    match SqliteStore::connect(&SqliteConfig::temporary()).await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("cannot open a temporary SQLite store: {e}"),
    }
}

openclaw_core::agent_store_conformance_tests!(fresh_agent_store);
