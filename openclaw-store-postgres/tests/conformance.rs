//! Core's `Store` conformance suite against PostgreSQL: one test per check, each on a
//! migrated schema of its own that is dropped when the check ends.

mod common;

use common::fresh_store;

openclaw_core::store_conformance_tests!(fresh_store);

async fn fresh_api_key_store() -> std::sync::Arc<dyn openclaw_core::ports::ApiKeyStore> {
    std::sync::Arc::new(common::store().await)
}

openclaw_core::api_key_conformance_tests!(fresh_api_key_store);

async fn fresh_facts() -> std::sync::Arc<dyn openclaw_core::ports::DeploymentFacts> {
    std::sync::Arc::new(common::store().await)
}

openclaw_core::deployment_facts_conformance_tests!(fresh_facts);

async fn fresh_agent_store() -> std::sync::Arc<dyn openclaw_core::ports::AgentStore> {
    std::sync::Arc::new(common::store().await)
}

openclaw_core::agent_store_conformance_tests!(fresh_agent_store);
