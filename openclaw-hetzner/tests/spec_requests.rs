//! What crosses the wire matches Hetzner's spec: every request the adapter sends (body, query
//! parameters, path ids) validates against its operation's request schema, and every
//! response the fake gives validates against the operation's response schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod openapi;

use std::collections::BTreeSet;
use std::time::Duration;

use common::adapter;
use openclaw_core::domain::InstanceId;
use openclaw_core::ports::Compute;
use openclaw_hetzner::fake::{Endpoint, FakeHetzner, FakeOptions, Fault, RecordedRequest};
use serde_json::{json, Value};

/// Validates one recorded request against its operation.
fn check_request(spec: &Value, request: &RecordedRequest) -> Vec<String> {
    let (_, template, op) = openapi::operation(spec, request.endpoint.operation_id());
    let mut problems = Vec::new();
    let parameters: Vec<&Value> = op
        .get("parameters")
        .and_then(Value::as_array)
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    let parameter = |name: &str, place: &str| {
        parameters
            .iter()
            .find(|p| p["name"] == name && p["in"] == place)
            .copied()
    };
    let typed = |schema: &Value, raw: &str| -> Value {
        match schema["type"].as_str() {
            Some("integer") => raw.parse::<i64>().map(Value::from).unwrap_or(json!(raw)),
            _ => json!(raw),
        }
    };
    // Path ids.
    let sent: Vec<&str> = request.path.trim_start_matches("/v1").split('/').collect();
    let wanted: Vec<&str> = template.split('/').collect();
    assert_eq!(sent.len(), wanted.len(), "{} vs {template}", request.path);
    for (segment, pattern) in sent.iter().zip(&wanted) {
        if let Some(name) = pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let param = parameter(name, "path").expect("path parameter in spec");
            let schema = &param["schema"];
            let validator = openapi::validator(spec, schema);
            problems.extend(
                openapi::errors(&validator, &typed(schema, segment))
                    .into_iter()
                    .map(|e| format!("path {name}: {e}")),
            );
        }
    }
    // Query parameters: each must be declared, and its values must fit.
    let names: BTreeSet<&str> = request.query.iter().map(|(k, _)| k.as_str()).collect();
    for name in names {
        let Some(param) = parameter(name, "query") else {
            problems.push(format!("query parameter {name} is not in the spec"));
            continue;
        };
        let schema = &param["schema"];
        let values: Vec<&str> = request
            .query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        let instance = if schema["type"] == "array" {
            Value::Array(values.iter().map(|v| typed(&schema["items"], v)).collect())
        } else {
            if values.len() > 1 {
                problems.push(format!("query parameter {name} repeated"));
            }
            typed(schema, values[0])
        };
        let validator = openapi::validator(spec, schema);
        problems.extend(
            openapi::errors(&validator, &instance)
                .into_iter()
                .map(|e| format!("query {name}: {e}")),
        );
    }
    for param in &parameters {
        if param["in"] == "query"
            && param["required"] == true
            && !request.query.iter().any(|(k, _)| *k == param["name"])
        {
            problems.push(format!(
                "required query parameter {} missing",
                param["name"]
            ));
        }
    }
    // Body.
    let body_schema = &op["requestBody"]["content"]["application/json"]["schema"];
    match (&request.body, body_schema.is_null()) {
        (Some(body), false) => {
            let validator = openapi::validator(spec, body_schema);
            problems.extend(
                openapi::errors(&validator, body)
                    .into_iter()
                    .map(|e| format!("body: {e}")),
            );
        }
        (None, false) if op["requestBody"]["required"] == true => {
            problems.push("required body missing".into());
        }
        (Some(body), true) => problems.push(format!("unexpected body {body}")),
        _ => {}
    }
    problems
}

#[tokio::test]
async fn every_request_the_adapter_sends_matches_the_spec() {
    let openapi = openapi::spec();
    let fake = FakeHetzner::start().await.unwrap();
    let compute = adapter(&fake, "prod");
    let other = adapter(&fake, "staging");

    // Everything the adapter can do, failures included.
    let instance = InstanceId::new();
    let mut minimal = common::spec("prod", InstanceId::new());
    minimal.ssh_keys.clear();
    minimal.firewalls.clear();
    minimal.enable_ipv6 = false;
    let server = compute
        .create_server(&common::spec("prod", instance))
        .await
        .unwrap();
    compute.create_server(&minimal).await.unwrap();
    compute
        .create_server(&common::spec("prod", instance))
        .await
        .unwrap(); // adopts
    fake.lose_next_response(Endpoint::CreateServer, 1, Fault::DropAfterCommit);
    let _ = compute
        .create_server(&common::spec("prod", InstanceId::new()))
        .await;
    other
        .create_server(&common::spec("staging", InstanceId::new()))
        .await
        .unwrap();
    compute.find_server(instance).await.unwrap();
    compute.get_server(&server.id).await.unwrap();
    compute.power_off(&server.id).await.unwrap();
    compute.change_type(&server.id, "cpx32").await.unwrap();
    compute.power_on(&server.id).await.unwrap();
    compute.list_owned().await.unwrap();
    compute.delete_server(&server.id).await.unwrap();
    compute.delete_server(&server.id).await.unwrap();

    let requests = fake.requests();
    let seen: BTreeSet<Endpoint> = requests.iter().map(|r| r.endpoint).collect();
    for endpoint in [
        Endpoint::CreateServer,
        Endpoint::ListServers,
        Endpoint::GetServer,
        Endpoint::DeleteServer,
        Endpoint::PowerOff,
        Endpoint::PowerOn,
        Endpoint::ChangeType,
        Endpoint::GetActions,
    ] {
        assert!(seen.contains(&endpoint), "{endpoint} was not exercised");
    }
    let mut failures = Vec::new();
    for request in &requests {
        for problem in check_request(&openapi, request) {
            failures.push(format!("{} {}: {problem}", request.endpoint, request.path));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_checker_catches_a_bad_request() {
    let spec = openapi::spec();
    let bad = RecordedRequest {
        endpoint: Endpoint::CreateServer,
        path: "/v1/servers".into(),
        query: vec![("bogus".into(), "1".into())],
        body: Some(
            json!({"name": "x", "image": "ubuntu-24.04", "firewalls": [{"firewall": "38"}]}),
        ),
        user_agent: None,
    };
    let problems = check_request(&spec, &bad);
    assert!(problems.iter().any(|p| p.contains("bogus")), "{problems:?}");
    assert!(
        problems.iter().any(|p| p.starts_with("body")),
        "{problems:?}"
    );
}

/// The schema of `operation_id`'s response with `status` (or its `4xx`/`5xx` range).
fn response_schema(spec: &Value, operation_id: &str, status: u16) -> Value {
    let (_, _, op) = openapi::operation(spec, operation_id);
    let responses = &op["responses"];
    let exact = &responses[status.to_string()];
    let range = &responses[format!("{}xx", status / 100)];
    let response = if exact.is_null() { range } else { exact };
    response["content"]["application/json"]["schema"].clone()
}

#[tokio::test]
async fn every_response_the_fake_gives_matches_the_spec() {
    let spec = openapi::spec();
    let fake = FakeHetzner::start_with(FakeOptions {
        deleting_for: Duration::from_millis(50),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    fake.set_action_delay(Duration::from_millis(1));
    let http = reqwest::Client::new();
    let base = fake.base_url().to_string();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(FakeHetzner::TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let mut checked = Vec::new();
    let mut check = |operation_id: &str, status: u16, body: &Value| {
        let validator = openapi::validator(&spec, &response_schema(&spec, operation_id, status));
        let errors = openapi::errors(&validator, body);
        assert!(
            errors.is_empty(),
            "{operation_id} {status}: {errors:#?}\n{body:#}"
        );
        checked.push(format!("{operation_id} {status}"));
    };

    let create = json!({
        "name": "web-1", "server_type": "cpx22", "image": "ubuntu-24.04", "location": "nbg1",
        "labels": {"openclaw/owner": "prod"}, "firewalls": [{"firewall": 38}],
        "public_net": {"enable_ipv4": true, "enable_ipv6": true}
    });
    let (status, created) = call(reqwest::Method::POST, "/servers", Some(create.clone())).await;
    check("create_server", status, &created);
    let id = created["server"]["id"].as_u64().unwrap();
    let (status, duplicate) = call(reqwest::Method::POST, "/servers", Some(create)).await;
    assert_eq!(duplicate["error"]["code"], "uniqueness_error");
    check("create_server", status, &duplicate);
    let (status, body) = call(
        reqwest::Method::GET,
        "/servers?label_selector=openclaw/owner%3Dprod&per_page=1",
        None,
    )
    .await;
    check("list_servers", status, &body);
    let (status, body) = call(reqwest::Method::GET, &format!("/servers/{id}"), None).await;
    check("get_server", status, &body);
    let (status, body) = call(
        reqwest::Method::POST,
        &format!("/servers/{id}/actions/poweroff"),
        None,
    )
    .await;
    check("power_off_server", status, &body);
    let action = body["action"]["id"].as_u64().unwrap();
    let (status, body) = call(
        reqwest::Method::POST,
        &format!("/servers/{id}/actions/poweron"),
        None,
    )
    .await;
    check("power_on_server", status, &body);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (status, body) = call(
        reqwest::Method::GET,
        &format!("/actions?id={action}&id=1"),
        None,
    )
    .await;
    check("get_multiple_actions", status, &body);
    assert_eq!(body["actions"][0]["status"], "success");
    let (status, body) = call(reqwest::Method::GET, &format!("/actions/{action}"), None).await;
    check("get_action", status, &body);
    let (status, body) = call(reqwest::Method::DELETE, &format!("/servers/{id}"), None).await;
    check("delete_server", status, &body);
    let (status, body) = call(reqwest::Method::GET, &format!("/servers/{id}"), None).await;
    assert_eq!(body["server"]["status"], "deleting");
    check("get_server", status, &body);
    let (status, body) = call(
        reqwest::Method::POST,
        &format!("/servers/{id}/actions/poweron"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (423, Some("locked"))
    );
    check("power_on_server", status, &body);
    tokio::time::sleep(Duration::from_millis(80)).await;
    let (status, body) = call(reqwest::Method::GET, &format!("/servers/{id}"), None).await;
    assert_eq!(status, 404);
    check("get_server", status, &body);
    let (status, body) = call(
        reqwest::Method::GET,
        "/servers?label_selector=a%20in%20(",
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_input"))
    );
    check("list_servers", status, &body);
    fake.set_rate_limit(1, 0.001);
    let _ = call(reqwest::Method::GET, "/servers", None).await;
    let (status, body) = call(reqwest::Method::GET, "/servers", None).await;
    assert_eq!(status, 429);
    check("list_servers", status, &body);
    assert_eq!(checked.len(), 14);
    // And the validation is not vacuous.
    let strict = openapi::validator(&spec, &response_schema(&spec, "get_server", 200));
    assert!(!strict.is_valid(&json!({"server": {"id": 1, "name": "x"}})));
}
