//! The OpenAPI 3.1 document served at `GET /openapi.json`, made from the router itself
//! ([`routes()`](crate::routes::routes()): every route registered from its handler's annotation) and the
//! body types in [`crate::model`], then completed with the answers every route of a kind can
//! give whatever its handler does — the authentication middleware's 401/403/429, the body
//! and query extractors' 400/413/422, the timeout's 503, an internal error's 500 — so the
//! document lists every status the server can send.

use std::sync::OnceLock;

use serde_json::{json, Value};

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::model;
use crate::routes::{actions, fleet};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "openclaw",
        description = "Managed OpenClaw hosting: instances on Hetzner Cloud with Cloudflare DNS, \
                       provisioned, suspended and terminated as billing (WHMCS) says. Every error \
                       is {\"error\": {\"code\", \"message\", \"details\"}}."
    ),
    components(schemas(
        model::ErrorBody, model::ErrorDetail, model::Status, model::InstanceView,
        model::ResourcesView, model::LastErrorView, model::CreateInstanceRequest, model::Level,
        model::RollbackRequest, model::InstancePage, model::EventKindView, model::EventView,
        model::EventList, model::EventStreamMessage, model::AccessView, model::BootstrapView, model::SweepRequest,
        model::OrphanView, model::SweepView, model::StatusView, model::AgentView,
        model::BootstrapAgentView, model::AgentHeartbeatRequest, model::GatewayProbeView,
        model::CapacityView, model::AgentTaskView, model::AgentTaskResultRequest,
        model::AgentTaskStatusView, actions::UpgradeRequest, actions::RevokeDeviceRequest, actions::RestoreRequest, actions::AgentTaskDetailView,
        fleet::FleetUpgradeRequest, fleet::FleetUpgradeView, model::BackupView,
        model::ChangePlanRequest, model::PlanChangeView,
    )),
    modifiers(&BearerKeys),
    tags(
        (name = "instances", description = "Create and manage instances"),
        (name = "events", description = "Live events, resumable by sequence"),
        (name = "bootstrap", description = "Called by new servers, not by clients"),
        (name = "agent", description = "The agent on each instance: its endpoints (agent credential) and the operator actions it runs"),
        (name = "admin", description = "Admin keys only"),
        (name = "dashboard", description = "What the dashboard reads: who is calling, the deployment at a glance, which customer a signed-in user acts for"),
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
                    .description(Some(
                        "An API key (ock_<id>.<secret>). With firebase.project_id set, a \
                         customer's Firebase ID token (a JWT) is accepted too: it reads that \
                         customer's own instances (read scope, customer id = the user's uid).",
                    ))
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

/// The document as a JSON value (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let routes = crate::routes::routes();
        let mut doc = utoipa_axum::router::OpenApiRouter::<crate::state::AppState>::with_openapi(
            ApiDoc::openapi(),
        )
        .merge(routes.authenticated)
        .merge(routes.open)
        .merge(routes.transfers)
        .into_openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        let mut value = serde_json::to_value(&doc).unwrap_or_else(|_| json!({}));
        complete(&mut value);
        value
    })
}

/// The document as JSON text.
pub fn json() -> String {
    document().to_string()
}

/// The document as this deployment serves it: what an order may name depends on its
/// configuration — the catalog's plans and regions, the provider keys it accepts — so those
/// enums are filled in from `config`.
pub fn for_deployment(config: &openclaw_core::EngineConfig) -> Value {
    let mut doc = document().clone();
    let order = &mut doc["components"]["schemas"]["CreateInstanceRequest"]["properties"];
    if order.is_object() {
        order["plan"]["enum"] = json!(config.catalog.plans.keys().collect::<Vec<_>>());
        order["region"]["enum"] = json!(config.catalog.regions.keys().collect::<Vec<_>>());
        let mut names: Vec<&str> = openclaw_core::domain::KNOWN_PROVIDER_KEYS.to_vec();
        names.extend(config.provider_keys.extra.iter().map(String::as_str));
        let keys = &mut order["provider_keys"];
        keys["propertyNames"] = json!({"enum": names});
        keys["maxProperties"] = json!(openclaw_core::instance_secrets::MAX_PROVIDER_KEYS);
        keys["additionalProperties"] = json!({
            "type": "string",
            "minLength": 1,
            "maxLength": openclaw_core::instance_secrets::MAX_PROVIDER_KEY_LEN,
            // Printable: no control characters (C0, DEL, C1).
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]+$",
        });
    }
    doc
}

/// Routes outside the request timeout (their answer takes as long as their data does).
const UNTIMED: &[&str] = &["/v1/agent/tasks/{task}/backup"];

/// Adds to every operation the answers that come from the layers around its handler, where
/// the handler's annotation does not already list them.
fn complete(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for operation in operations.values_mut() {
            let schemes: Vec<String> = operation["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|r| r.keys().cloned())
                .collect();
            let has = |name: &str| schemes.iter().any(|s| s == name);
            let params = operation["parameters"].as_array().is_some_and(|p| {
                p.iter()
                    .any(|p| matches!(p["in"].as_str(), Some("path" | "query")))
            });
            let body = operation.get("requestBody").is_some();
            let mut add: Vec<(u16, &str)> = Vec::new();
            if has("api_key") {
                add.push((
                    401,
                    "No API key, or one that is unknown, malformed or revoked",
                ));
                add.push((403, "The key's scope or customer does not allow this"));
                add.push((
                    429,
                    "Rate limited: this key's requests, or failed authentications from this \
                     address; Retry-After says when to try again",
                ));
            }
            if has("agent_token") || has("bootstrap_token") {
                add.push((401, "No credential, or not one of this deployment"));
            }
            if params || body {
                add.push((400, "A query string or body that cannot be read"));
                add.push((
                    422,
                    "A parameter or field is invalid; details.field names it",
                ));
            }
            if body {
                add.push((413, "The body is larger than the server accepts"));
            }
            add.push((
                500,
                "An internal error (logged; the message says nothing more)",
            ));
            if !UNTIMED.contains(&path.as_str()) {
                add.push((
                    503,
                    "Not answered within the request timeout, or a dependency is down",
                ));
            }
            for parameter in operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                // A query string or header has no JSON null: a parameter is there or not.
                if let Some(types) = parameter["schema"]["type"].as_array() {
                    let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                    if let [only] = kept.as_slice() {
                        parameter["schema"]["type"] = only.clone();
                    }
                }
                let named = parameter["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(crate::idempotency::HEADER));
                if named && parameter["in"] == "header" {
                    // What `crate::idempotency` accepts: printable ASCII, no spaces.
                    parameter["schema"] = json!({
                        "type": "string",
                        "minLength": 1,
                        "maxLength": crate::idempotency::MAX_KEY_LEN,
                        "pattern": "^[!-~]+$",
                    });
                }
            }
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for (status, description) in add {
                responses.entry(status.to_string()).or_insert_with(|| {
                    json!({
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
                    })
                });
            }
        }
    }
}
