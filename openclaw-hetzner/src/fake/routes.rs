//! The fake's one handler: route, authenticate, count, delay, rate-limit, inject faults,
//! apply, answer.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::faults::{Endpoint, Fault, Verdict};
use super::label_selector::LabelSelector;
use super::render;
use super::state::FakeError;
use super::vps::{self, VpsView};
use super::{RecordedRequest, Shared};
use crate::model::CreateServerRequest;

/// Marks a response whose connection the server closes instead of answering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// Hetzner's default and largest page sizes.
const DEFAULT_PER_PAGE: u64 = 25;
const MAX_PER_PAGE: u64 = 50;

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(rest) = uri.path().strip_prefix("/__vps/") {
        // The fake machines, not Hetzner's API: not counted, limited or faulted.
        return machine(&shared, &method, rest);
    }
    let correlation_id = shared.next_correlation_id();
    let Some((endpoint, id)) = route(&method, uri.path()) else {
        let error = FakeError::not_found(&format!("{method} {}", uri.path()));
        return finish(error_response(&error), None, &correlation_id);
    };
    let query: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let body_json = (!body.is_empty()).then(|| {
        serde_json::from_slice::<Value>(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    });
    shared.record(RecordedRequest {
        endpoint,
        path: uri.path().to_string(),
        query: query.clone(),
        body: body_json.clone(),
        user_agent: headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    });
    if !authorized(&headers) {
        let error = FakeError::new(401, "unauthorized", "unable to authenticate");
        return finish(error_response(&error), None, &correlation_id);
    }
    // Bound first: a guard in the `if let` would be held across the sleep.
    let latency = shared.faults().latency(endpoint);
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    let verdict = shared.bucket().take(Instant::now());
    if !verdict.allowed {
        let error = FakeError::new(
            429,
            "rate_limit_exceeded",
            "limit of requests per hour reached",
        );
        return finish(error_response(&error), Some(verdict), &correlation_id);
    }
    let fault = shared.faults().take(endpoint);
    if let Some(Fault::Error { status, code }) = &fault {
        let response = match code {
            Some(code) => error_response(&FakeError::new(*status, code, "injected fault")),
            None => bare(*status),
        };
        return finish(response, Some(verdict), &correlation_id);
    }
    if let Some(Fault::Body { status, body }) = &fault {
        let mut response = bare(*status);
        *response.body_mut() = Body::from(body.clone());
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        return finish(response, Some(verdict), &correlation_id);
    }
    let result = apply(&shared, endpoint, id, &query, body_json.as_ref());
    if endpoint == Endpoint::CreateServer {
        // The machine boots whether or not the answer reaches the client.
        if let Some(server) = result
            .as_ref()
            .ok()
            .and_then(|(_, v)| v["server"]["id"].as_u64())
        {
            tokio::spawn(vps::boot(shared.clone(), server));
        }
    }
    let response = match fault {
        Some(Fault::DropAfterCommit) => {
            let mut response = bare(500);
            response.extensions_mut().insert(DropConnection);
            response
        }
        Some(Fault::GatewayTimeoutAfterCommit) => bare(504),
        _ => match result {
            Ok((status, value)) => json_response(status, &value),
            Err(error) => error_response(&error),
        },
    };
    finish(response, Some(verdict), &correlation_id)
}

/// The endpoint and the id in the path, for paths under `/v1`.
fn route(method: &Method, path: &str) -> Option<(Endpoint, Option<u64>)> {
    let rest = path.strip_prefix("/v1")?.trim_end_matches('/');
    let parts: Vec<&str> = rest.split('/').skip(1).collect();
    let id = |s: &str| s.parse::<u64>().ok();
    let found = match (method.as_str(), parts.as_slice()) {
        ("GET", ["servers"]) => (Endpoint::ListServers, None),
        ("POST", ["servers"]) => (Endpoint::CreateServer, None),
        ("GET", ["servers", n]) => (Endpoint::GetServer, Some(id(n)?)),
        ("DELETE", ["servers", n]) => (Endpoint::DeleteServer, Some(id(n)?)),
        ("POST", ["servers", n, "actions", "poweroff"]) => (Endpoint::PowerOff, Some(id(n)?)),
        ("POST", ["servers", n, "actions", "poweron"]) => (Endpoint::PowerOn, Some(id(n)?)),
        ("POST", ["servers", n, "actions", "change_type"]) => (Endpoint::ChangeType, Some(id(n)?)),
        ("GET", ["actions"]) => (Endpoint::GetActions, None),
        ("GET", ["actions", n]) => (Endpoint::GetAction, Some(id(n)?)),
        _ => return None,
    };
    Some(found)
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| !token.trim().is_empty())
}

fn apply(
    shared: &Shared,
    endpoint: Endpoint,
    id: Option<u64>,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Result<(StatusCode, Value), FakeError> {
    let now = Instant::now();
    let mut world = shared.world();
    world.advance(now);
    let id = id.unwrap_or_default();
    match endpoint {
        Endpoint::ListServers => list_servers(&world, query),
        Endpoint::CreateServer => {
            let request = create_request(body)?;
            let with_keys = !request.ssh_keys.is_empty();
            let (server, action, next) = world.create_server(request, now)?;
            let action = render::action(&world.actions[&action]);
            let next: Vec<Value> = next
                .iter()
                .map(|a| render::action(&world.actions[a]))
                .collect();
            Ok((
                StatusCode::CREATED,
                json!({
                    "server": render::server(&world.servers[&server]),
                    "action": action,
                    "next_actions": next,
                    "root_password": if with_keys { None } else { Some("fake-root-password") },
                }),
            ))
        }
        Endpoint::GetServer => {
            let server = world
                .servers
                .get(&id)
                .ok_or_else(|| FakeError::not_found("server"))?;
            Ok((StatusCode::OK, json!({"server": render::server(server)})))
        }
        Endpoint::DeleteServer => {
            let action = world.delete_server(id, now)?;
            Ok((
                StatusCode::OK,
                json!({"action": render::action(&world.actions[&action])}),
            ))
        }
        Endpoint::ChangeType => {
            let body = body.ok_or_else(|| FakeError::invalid("a JSON body is required"))?;
            let server_type = body["server_type"]
                .as_str()
                .ok_or_else(|| FakeError::invalid("server_type is required"))?;
            let upgrade_disk = body["upgrade_disk"]
                .as_bool()
                .ok_or_else(|| FakeError::invalid("upgrade_disk is required"))?;
            let action = world.change_type(id, server_type, upgrade_disk, now)?;
            Ok((
                StatusCode::CREATED,
                json!({"action": render::action(&world.actions[&action])}),
            ))
        }
        Endpoint::PowerOff | Endpoint::PowerOn => {
            let action = world.power(id, endpoint == Endpoint::PowerOn, now)?;
            Ok((
                StatusCode::CREATED,
                json!({"action": render::action(&world.actions[&action])}),
            ))
        }
        Endpoint::GetActions => {
            let mut ids = Vec::new();
            for (key, value) in query.iter().filter(|(k, _)| k == "id") {
                let parsed = value.parse::<u64>().map_err(|_| {
                    FakeError::invalid(format!("{key}={value:?} is not an action id"))
                })?;
                ids.push(parsed);
            }
            if ids.is_empty() {
                return Err(FakeError::invalid("at least one id is required"));
            }
            let actions: Vec<Value> = ids
                .iter()
                .filter_map(|id| world.actions.get(id))
                .map(render::action)
                .collect();
            Ok((StatusCode::OK, json!({"actions": actions})))
        }
        Endpoint::GetAction => {
            let action = world
                .actions
                .get(&id)
                .ok_or_else(|| FakeError::not_found("action"))?;
            Ok((StatusCode::OK, json!({"action": render::action(action)})))
        }
    }
}

fn list_servers(
    world: &super::state::World,
    query: &[(String, String)],
) -> Result<(StatusCode, Value), FakeError> {
    let one = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let number =
        |name: &str, default: u64| -> Result<u64, FakeError> {
            match one(name) {
                None => Ok(default),
                Some(v) => v.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    FakeError::invalid(format!("{name} must be a positive integer"))
                }),
            }
        };
    let selector = LabelSelector::parse(one("label_selector").unwrap_or(""))
        .map_err(|e| FakeError::invalid(e.to_string()))?;
    let statuses: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "status")
        .map(|(_, v)| v.clone())
        .collect();
    let page = number("page", 1)?;
    let per_page = number("per_page", DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE);
    let matching = world.list_servers(one("name"), &selector, &statuses);
    let total = matching.len() as u64;
    let start = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let servers: Vec<Value> = matching
        .into_iter()
        .skip(start)
        .take(usize::try_from(per_page).unwrap_or(usize::MAX))
        .map(render::server)
        .collect();
    Ok((
        StatusCode::OK,
        json!({"servers": servers, "meta": render::pagination(page, per_page, total)}),
    ))
}

/// The create body, accepting ids where the spec allows "ID or name" (clients such as
/// Hetzner's Python library send numbers there).
fn create_request(body: Option<&Value>) -> Result<CreateServerRequest, FakeError> {
    let mut body = match body {
        Some(Value::Object(map)) => Value::Object(map.clone()),
        Some(Value::String(_)) => {
            return Err(FakeError::new(400, "json_error", "body is not JSON"))
        }
        _ => return Err(FakeError::invalid("body must be a JSON object")),
    };
    for field in ["server_type", "image", "location"] {
        if let Some(n) = body.get(field).filter(|v| v.is_number()).cloned() {
            body[field] = Value::String(n.to_string());
        }
    }
    if let Some(Value::Array(keys)) = body.get_mut("ssh_keys") {
        for key in keys.iter_mut().filter(|k| k.is_number()) {
            *key = Value::String(key.to_string());
        }
    }
    serde_json::from_value(body).map_err(|e| FakeError::invalid(e.to_string()))
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn error_response(error: &FakeError) -> Response {
    json_response(
        StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &render::error(&error.code, &error.message, error.details.as_ref()),
    )
}

fn bare(status: u16) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    response
}

/// Adds the rate-limit headers (when the request was counted) and the correlation id.
fn finish(mut response: Response, verdict: Option<Verdict>, correlation_id: &str) -> Response {
    let headers = response.headers_mut();
    if let Some(v) = verdict {
        let reset = chrono::Utc::now()
            .timestamp()
            .saturating_add_unsigned(v.full_in);
        for (name, value) in [
            ("ratelimit-limit", v.limit.to_string()),
            ("ratelimit-remaining", v.remaining.to_string()),
            ("ratelimit-reset", reset.to_string()),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
    if let Ok(value) = HeaderValue::from_str(correlation_id) {
        headers.insert("x-correlation-id", value);
    }
    response
}

/// `GET /__vps/{instance_id}/startupz`: what the gateway of the instance's machine answers
/// (200 ready, 503 booting, not bootstrapped or powered off, 404 no such server or its
/// deletion has started);
/// `GET /__vps/{instance_id}`: the machine's state as JSON, for tests and people.
fn machine(shared: &Shared, method: &Method, rest: &str) -> Response {
    let (instance, what) = match rest.split_once('/') {
        Some((instance, what)) => (instance, what),
        None => (rest, ""),
    };
    if method != Method::GET || !matches!(what, "" | "startupz") {
        return error_response(&FakeError::not_found("machine endpoint"));
    }
    let now = Instant::now();
    let mut world = shared.world();
    world.advance(now);
    // A server being deleted has no machine any more: it is skipped, not answered for.
    let found = world
        .servers
        .values()
        .filter(|s| {
            s.labels
                .get(openclaw_core::ports::ownership::LABEL_INSTANCE)
                .map(String::as_str)
                == Some(instance)
        })
        .find_map(|s| {
            world
                .machines
                .get(&s.id)
                .map(|m| VpsView::of(s.id, m, &s.status, now))
        });
    let Some(view) = found else {
        return error_response(&FakeError::not_found("server of this instance"));
    };
    if what == "startupz" {
        let status = view.startupz;
        let mut response = json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            &json!({"ready": status == 200}),
        );
        response
            .headers_mut()
            .insert("cache-control", HeaderValue::from_static("no-store"));
        response
    } else {
        json_response(StatusCode::OK, &json!(view))
    }
}
