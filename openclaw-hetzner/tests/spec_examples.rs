//! Every Server, Action and error example in Hetzner's spec decodes with our models.
//!
//! The examples are found by walking the spec, not copied: each response example is walked
//! together with its schema, and every value whose schema is `server`, `action` or
//! `error_response` (at any depth) is decoded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod openapi;

use serde_json::Value;

use openclaw_hetzner::model::{
    ActionListResponse, ActionModel, ActionResponse, CreateServerResponse, ErrorResponse,
    ListServersResponse, ServerModel, ServerResponse,
};

#[derive(Default, Debug)]
struct Found {
    servers: Vec<(String, Value)>,
    actions: Vec<(String, Value)>,
    errors: Vec<(String, Value)>,
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> (&'a Value, Option<&'a str>) {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            (&spec["components"]["schemas"][name], Some(name))
        }
        None => (schema, None),
    }
}

/// Walks `value` along `schema`, collecting the values of the schemas we decode.
fn walk(spec: &Value, schema: &Value, value: &Value, at: &str, found: &mut Found) {
    let (schema, name) = resolve(spec, schema);
    if value.is_null() {
        // A nullable reference with no value: nothing to decode.
        return;
    }
    match name {
        Some("server") => found.servers.push((at.to_string(), value.clone())),
        Some("action") => found.actions.push((at.to_string(), value.clone())),
        Some("error_response") => found.errors.push((at.to_string(), value.clone())),
        _ => {}
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        walk(spec, part, value, at, found);
    }
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema.get("properties") {
                for (key, child) in map {
                    if let Some(child_schema) = properties.get(key) {
                        walk(spec, child_schema, child, &format!("{at}.{key}"), found);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(spec, item_schema, item, &format!("{at}[{i}]"), found);
                }
            }
        }
        _ => {}
    }
}

fn collect(spec: &Value) -> Found {
    let mut found = Found::default();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for (status, response) in responses {
                for (_, media) in response
                    .get("content")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let schema = &media["schema"];
                    for (name, example) in media
                        .get("examples")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        let at = format!("{method} {path} {status} {name}");
                        walk(spec, schema, &example["value"], &at, &mut found);
                    }
                    if let Some(example) = media.get("example") {
                        walk(
                            spec,
                            schema,
                            example,
                            &format!("{method} {path} {status}"),
                            &mut found,
                        );
                    }
                }
            }
        }
    }
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        if let Some(example) = schema.get("example") {
            let reference = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
            walk(
                spec,
                &reference,
                example,
                &format!("schema {name}"),
                &mut found,
            );
        }
    }
    found
}

#[test]
fn every_server_action_and_error_example_decodes() {
    let spec = openapi::spec();
    let found = collect(&spec);
    // The spec has one server example (in the create response), an action in almost every
    // action endpoint's example, and the error example of `error_response`.
    eprintln!(
        "decoding {} server, {} action and {} error examples",
        found.servers.len(),
        found.actions.len(),
        found.errors.len()
    );
    assert!(!found.servers.is_empty(), "no server example found");
    assert!(found.actions.len() >= 20, "{} actions", found.actions.len());
    assert!(!found.errors.is_empty(), "no error example found");

    for (at, value) in &found.servers {
        let server: ServerModel =
            serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{at}: {e}"));
        if let Some(ipv4) = &server.public_net.ipv4 {
            assert!(ipv4.ipv4().is_some(), "{at}: {ipv4:?}");
        }
        if let Some(ipv6) = &server.public_net.ipv6 {
            assert!(ipv6.ipv6().is_some(), "{at}: {ipv6:?}");
        }
    }
    for (at, value) in &found.actions {
        let action: ActionModel =
            serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert!(
            ["running", "success", "error"].contains(&action.status.as_str()),
            "{at}: {}",
            action.status
        );
    }
    for (at, value) in &found.errors {
        let error: ErrorResponse =
            serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert!(!error.error.code.is_empty(), "{at}");
    }
}

/// The example of `operation_id`'s first 2xx response.
fn success_example(spec: &Value, operation_id: &str) -> Option<Value> {
    let (_, _, op) = openapi::operation(spec, operation_id);
    op["responses"]
        .as_object()?
        .iter()
        .find(|(status, _)| status.starts_with('2'))
        .and_then(|(_, r)| {
            r["content"]["application/json"]["examples"]
                .as_object()?
                .values()
                .next()
                .map(|e| e["value"].clone())
        })
}

#[test]
fn the_responses_openclaw_reads_decode_whole() {
    let spec = openapi::spec();
    let decode = |operation_id: &str, f: &dyn Fn(Value)| {
        if let Some(example) = success_example(&spec, operation_id) {
            f(example);
        }
    };
    decode("create_server", &|v| {
        let r: CreateServerResponse = serde_json::from_value(v).unwrap();
        assert_eq!(r.server.public_net.ipv4.unwrap().ip, "1.2.3.4");
        assert_eq!(r.next_actions.len(), 1);
    });
    decode("list_servers", &|v| {
        let _: ListServersResponse = serde_json::from_value(v).unwrap();
    });
    decode("get_server", &|v| {
        let _: ServerResponse = serde_json::from_value(v).unwrap();
    });
    for op in [
        "power_off_server",
        "power_on_server",
        "delete_server",
        "get_action",
    ] {
        decode(op, &|v| {
            let _: ActionResponse = serde_json::from_value(v).unwrap();
        });
    }
    decode("get_multiple_actions", &|v| {
        let _: ActionListResponse = serde_json::from_value(v).unwrap();
    });
    // The one example that certainly exists.
    assert!(success_example(&spec, "create_server").is_some());
}
