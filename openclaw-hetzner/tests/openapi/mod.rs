//! Reading Hetzner's OpenAPI spec in tests: operations by id, schemas as JSON Schema, and
//! request and response validation.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::{json, Map, Value};

/// The spec, from `../shared/specs` beside the repository (or `OPENCLAW_SPECS_DIR`).
pub(crate) fn spec() -> Value {
    let dir = std::env::var_os("OPENCLAW_SPECS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs"));
    let path = dir.join("hetzner-cloud.openapi.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the Hetzner spec at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The operation with `operation_id`: (method, path, operation object).
pub(crate) fn operation<'a>(spec: &'a Value, operation_id: &str) -> (String, String, &'a Value) {
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("operationId").and_then(Value::as_str) == Some(operation_id) {
                return (method.clone(), path.clone(), op);
            }
        }
    }
    panic!("no operation {operation_id} in the spec")
}

/// OpenAPI 3.0's `nullable: true` as JSON Schema: `null` added to the type (or as an
/// alternative to a `$ref`/`allOf`), recursively.
pub(crate) fn nullable_to_json_schema(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(nullable_to_json_schema),
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                // Examples are data, not schemas.
                if key != "example" && key != "examples" {
                    nullable_to_json_schema(child);
                }
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                    if let Some(Value::Array(values)) = map.get_mut("enum") {
                        values.push(Value::Null);
                    }
                } else {
                    let inner = Value::Object(std::mem::take(map));
                    map.insert("anyOf".into(), json!([{"type": "null"}, inner]));
                }
            }
        }
        _ => {}
    }
}

/// A validator for `schema` (a schema object that may `$ref` into the spec's components).
pub(crate) fn validator(spec: &Value, schema: &Value) -> jsonschema::Validator {
    let mut components = spec["components"].clone();
    nullable_to_json_schema(&mut components);
    let mut schema = schema.clone();
    nullable_to_json_schema(&mut schema);
    let mut root = Map::new();
    root.insert("allOf".into(), json!([schema]));
    root.insert("components".into(), components);
    jsonschema::validator_for(&Value::Object(root)).unwrap()
}

/// Every validation error of `instance`, as text.
pub(crate) fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}
