//! The OpenAPI 3.1 document, generated from the handlers' annotations and the body types in
//! [`crate::model`], served at `GET /openapi.json`.

use std::sync::OnceLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::model;
use crate::routes::{
    access, actions, agent, backups, bootstrap, events, fleet, instances, sweep, system,
};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "openclaw",
        description = "Managed OpenClaw hosting: instances on Hetzner Cloud with Cloudflare DNS, \
                       provisioned, suspended and terminated as billing (WHMCS) says. Every error \
                       is {\"error\": {\"code\", \"message\", \"details\"}}."
    ),
    paths(
        instances::create, instances::list, instances::get_one, instances::suspend,
        instances::unsuspend, instances::retry, instances::rollback, instances::terminate,
        instances::events, access::access, events::sse, events::websocket,
        bootstrap::bootstrap, sweep::sweep,
        actions::act, actions::list, actions::get_one, backups::list, backups::delete,
        fleet::upgrade, fleet::list,
        agent::heartbeat, agent::next_task, agent::task_result, agent::upload_backup,
        agent::download_backup, agent::script,
        system::healthz, system::readyz, system::metrics, system::openapi,
    ),
    components(schemas(
        model::ErrorBody, model::ErrorDetail, model::Status, model::InstanceView,
        model::ResourcesView, model::LastErrorView, model::CreateInstanceRequest, model::Level,
        model::RollbackRequest, model::InstancePage, model::EventKindView, model::EventView,
        model::EventList, model::AccessView, model::BootstrapView, model::SweepRequest,
        model::OrphanView, model::SweepView, model::StatusView, model::AgentView,
        model::BootstrapAgentView, model::AgentHeartbeatRequest, model::GatewayProbeView,
        model::CapacityView, model::AgentTaskView, model::AgentTaskResultRequest,
        model::AgentTaskStatusView, actions::ActionRequest, actions::AgentTaskDetailView,
        fleet::FleetUpgradeRequest, fleet::FleetUpgradeView, model::BackupView,
    )),
    modifiers(&BearerKeys),
    tags(
        (name = "instances", description = "Create and manage instances"),
        (name = "events", description = "Live events, resumable by sequence"),
        (name = "bootstrap", description = "Called by new servers, not by clients"),
        (name = "agent", description = "The agent on each instance: its endpoints (agent credential) and the operator actions it runs"),
        (name = "admin", description = "Admin keys only"),
        (name = "system", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// Declares the `api_key` bearer scheme the paths refer to.
struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ock_<id>.<secret>")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "bootstrap_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("the single-use token in a new server's user data")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("http.metrics_token, when configured")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "agent_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("<instance hex>.<mac>, handed to the instance at bootstrap")
                    .build(),
            ),
        );
    }
}

/// The document as JSON (built once).
pub fn json() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        doc.to_json().unwrap_or_else(|_| "{}".to_string())
    })
    .clone()
}
