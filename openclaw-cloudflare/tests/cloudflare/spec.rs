//! The OpenAPI spec (`shared/specs/cloudflare-dns.openapi.json`) as the judge: every record
//! and envelope example in it decodes with our model, every request the adapter sends
//! validates against the operation's request schema and declared parameters, and every
//! successful answer of the fake validates against the response schema.
//!
//! Examples are built by walking the spec (the `example` of each property, through `$ref`,
//! `allOf` and `oneOf`), so nothing is copied by hand.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use jsonschema::{Draft, Validator};
use openclaw_cloudflare::fake::{CapturedRequest, FakeRecord};
use openclaw_cloudflare::model::{Deleted, Envelope, Record};
use openclaw_core::ports::Dns;
use serde_json::{json, Map, Value};

use crate::support::{spec as record_spec, Env, ZONE};

/// The API's base path in the spec's server URL; the fake serves under it too.
const BASE_PATH: &str = "/client/v4";

fn specs_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("OPENCLAW_SPECS_DIR") {
        return PathBuf::from(dir);
    }
    // The shared folder sits beside the repository (…/shared next to …/<repo>).
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs")
}

fn load_spec() -> Value {
    let path = specs_dir().join("cloudflare-dns.openapi.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the Cloudflare spec at {} ({e}); set OPENCLAW_SPECS_DIR to the folder \
             holding cloudflare-dns.openapi.json",
            path.display()
        )
    });
    let mut spec = serde_json::from_str(&text).unwrap();
    nullable_to_json_schema(&mut spec);
    spec
}

/// OpenAPI 3.0's `nullable: true` is not JSON Schema: turn `{type: T, nullable: true}` into
/// `{type: [T, "null"]}` so a draft-4 validator reads it as OpenAPI means it (the failure
/// envelope's `result: null` depends on it).
fn nullable_to_json_schema(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                }
            }
            map.values_mut().for_each(nullable_to_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_to_json_schema),
        _ => {}
    }
}

/// Follows `$ref` (local JSON pointers) until a schema without one.
fn resolve<'a>(spec: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..32 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').unwrap();
                schema = spec
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling $ref {reference}"));
            }
            None => return schema,
        }
    }
    panic!("$ref cycle");
}

fn component<'a>(spec: &'a Value, name: &str) -> &'a Value {
    spec.pointer(&format!("/components/schemas/{name}"))
        .unwrap_or_else(|| panic!("no schema {name}"))
}

/// An example instance of `schema`, from the spec's own `example` values.
fn example(spec: &Value, schema: &Value) -> Option<Value> {
    let schema = resolve(spec, schema);
    if let Some(example) = schema.get("example") {
        return Some(example.clone());
    }
    let mut object: Option<Map<String, Value>> = None;
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for part in parts {
            match example(spec, part) {
                Some(Value::Object(fields)) => {
                    let merged = object.get_or_insert_with(Map::new);
                    for (k, v) in fields {
                        merged.entry(k).or_insert(v);
                    }
                }
                Some(other) if object.is_none() => return Some(other),
                _ => {}
            }
        }
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        let merged = object.get_or_insert_with(Map::new);
        for (name, property) in properties {
            if let Some(value) = example(spec, property) {
                merged.entry(name.clone()).or_insert(value);
            }
        }
    }
    if let Some(object) = object {
        return Some(Value::Object(object));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(first) = schema.get(key).and_then(|v| v.get(0)) {
            return example(spec, first);
        }
    }
    if let Some(items) = schema.get("items") {
        return Some(Value::Array(example(spec, items).into_iter().collect()));
    }
    if let Some(default) = schema.get("default") {
        return Some(default.clone());
    }
    schema.get("enum").and_then(|e| e.get(0)).cloned()
}

/// A validator for `schema`, whose `$ref`s point into the spec. OpenAPI 3.0 schemas are
/// JSON Schema draft 4 with extras (`nullable`, `example`) that draft 4 ignores.
fn validator(spec: &Value, schema: &Value) -> Validator {
    let document = json!({
        "allOf": [schema],
        "components": spec["components"],
    });
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .should_validate_formats(true)
        .build(&document)
        .unwrap()
}

fn assert_valid(spec: &Value, schema: &Value, instance: &Value, what: &str) {
    let validator = validator(spec, schema);
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not validate: {errors:#?}\n{instance:#}"
    );
}

fn record_examples(spec: &Value) -> Vec<Value> {
    let members = component(spec, "dns-records_dns-record")["oneOf"]
        .as_array()
        .unwrap();
    members
        .iter()
        .map(|member| example(spec, member).unwrap())
        .collect()
}

#[test]
fn every_record_example_decodes() {
    let spec = load_spec();
    let records = record_examples(&spec);
    assert_eq!(records.len(), 20, "one example per record type");
    for ex in &records {
        // The types we write must be valid records as the spec's examples build them. (The
        // spec's other types, CAA and friends, carry `data` and no `content` example while
        // the union requires `content`, so their examples only have to decode.)
        if ex["type"] == "A" || ex["type"] == "AAAA" {
            assert_valid(
                &spec,
                component(&spec, "dns-records_dns-record"),
                ex,
                "a record example",
            );
        }
        let record: Record = serde_json::from_value(ex.clone())
            .unwrap_or_else(|e| panic!("{} example does not decode: {e}\n{ex:#}", ex["type"]));
        assert_eq!(record.record_type, ex["type"].as_str().unwrap());
        assert_eq!(record.id, ex["id"].as_str().unwrap());
        assert_eq!(record.name, ex["name"].as_str().unwrap());
        assert_eq!(record.content.as_deref(), ex["content"].as_str());
        assert_eq!(Some(u64::from(record.ttl)), ex["ttl"].as_u64());
        assert_eq!(record.comment.as_deref(), ex["comment"].as_str());
        assert_eq!(record.tags.len(), ex["tags"].as_array().map_or(0, Vec::len));
    }
    let a = records.iter().find(|r| r["type"] == "A").unwrap();
    assert_eq!(a["content"], "198.51.100.4");
}

#[test]
fn every_envelope_example_decodes() {
    let spec = load_spec();
    let records = record_examples(&spec);

    let single_schema = component(&spec, "dns-records_dns_response_single");
    let single = example(&spec, single_schema).unwrap();
    assert_valid(
        &spec,
        single_schema,
        &single,
        "the single-record envelope example",
    );
    for record in &records {
        let mut envelope = single.clone();
        envelope["result"] = record.clone();
        let decoded: Envelope<Record> = serde_json::from_value(envelope).unwrap();
        assert!(decoded.success);
        assert_eq!(
            decoded.result.unwrap().record_type,
            record["type"].as_str().unwrap()
        );
    }

    let collection_schema = component(&spec, "dns-records_dns_response_collection");
    let mut collection = example(&spec, collection_schema).unwrap();
    assert_valid(
        &spec,
        collection_schema,
        &collection,
        "the collection envelope example",
    );
    collection["result"] = Value::Array(records.clone());
    let decoded: Envelope<Vec<Record>> = serde_json::from_value(collection).unwrap();
    assert_eq!(decoded.result.unwrap().len(), records.len());
    let info = decoded.result_info.unwrap();
    assert_eq!(
        (info.page, info.per_page, info.count, info.total_count),
        (Some(1), Some(20), Some(1), Some(2000))
    );

    let failure_schema = component(&spec, "dns-records_api-response-common-failure");
    let failure = example(&spec, failure_schema).unwrap();
    assert_valid(
        &spec,
        failure_schema,
        &failure,
        "the failure envelope example",
    );
    let decoded: Envelope<Record> = serde_json::from_value(failure).unwrap();
    assert!(!decoded.success);
    assert_eq!(decoded.errors[0].code, 7003);
    assert!(decoded.result.is_none());

    let delete_schema = spec.pointer(
        "/paths/~1zones~1{zone_id}~1dns_records~1{dns_record_id}/delete/responses/200/content/application~1json/schema",
    )
    .unwrap();
    let deleted = example(&spec, delete_schema).unwrap();
    let decoded: Envelope<Deleted> = serde_json::from_value(deleted).unwrap();
    assert_eq!(
        decoded.result.unwrap().id.as_deref(),
        Some("023e105f4ecef8ad9ca31a8372d0c353")
    );
}

#[test]
fn the_validator_really_validates() {
    let spec = load_spec();
    let body = component(&spec, "dns-records_dns-record");
    let v = validator(&spec, body);
    assert!(v.is_valid(&json!({"type":"A","name":"a.example.com","content":"192.0.2.1","ttl":120})));
    assert!(
        !v.is_valid(&json!({"type":"A","name":"a.example.com"})),
        "content is required"
    );
    assert!(!v.is_valid(&json!({"type":"A","name":"a.example.com","content":"192.0.2.1","ttl":5})));
    assert!(!v.is_valid(&json!({"type":"A","name":"a","content":"not an address"})));
}

/// The operation of the spec that `method path` (a concrete path under the base) calls.
fn operation<'a>(spec: &'a Value, method: &str, path: &str) -> &'a Value {
    let path = path.strip_prefix(BASE_PATH).unwrap();
    let concrete: Vec<&str> = path.split('/').collect();
    for (template, item) in spec["paths"].as_object().unwrap() {
        let parts: Vec<&str> = template.split('/').collect();
        let fits = parts.len() == concrete.len()
            && parts
                .iter()
                .zip(&concrete)
                .all(|(t, c)| t == c || (t.starts_with('{') && !c.is_empty()));
        if fits {
            if let Some(op) = item.get(method.to_ascii_lowercase()) {
                return op;
            }
        }
    }
    panic!("the spec has no operation {method} {path}");
}

/// A query value as the parameter's schema types it.
fn typed(spec: &Value, schema: &Value, value: &str) -> Value {
    match resolve(spec, schema).get("type").and_then(Value::as_str) {
        Some("number" | "integer") => value
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(value.into()), Value::Number),
        Some("boolean") => value
            .parse::<bool>()
            .map_or_else(|_| Value::String(value.into()), Value::Bool),
        _ => Value::String(value.into()),
    }
}

fn check_request(spec: &Value, request: &CapturedRequest) {
    let what = format!("{} {}", request.method, request.path);
    let op = operation(spec, &request.method, &request.path);
    let declared = op["parameters"].as_array().cloned().unwrap_or_default();
    for (key, value) in &request.query {
        let parameter = declared
            .iter()
            .find(|p| p["in"] == "query" && p["name"] == key.as_str())
            .unwrap_or_else(|| panic!("{what}: query parameter {key} is not in the spec"));
        let schema = &parameter["schema"];
        assert_valid(
            spec,
            schema,
            &typed(spec, schema, value),
            &format!("{what}: {key}={value}"),
        );
    }
    let body_schema = op.pointer("/requestBody/content/application~1json/schema");
    match (&request.body, body_schema) {
        (Some(body), Some(schema)) => {
            assert_valid(spec, schema, body, &format!("the body of {what}"));
        }
        (Some(body), None) => panic!("{what} sent a body the spec does not describe: {body}"),
        // DELETE: the spec lists a JSON body without a schema; the adapter sends none, as
        // the live API accepts and Cloudflare's own clients do.
        (None, None) => {}
        (None, Some(_)) => panic!("{what} sent no body"),
    }
    if request.status == 200 {
        let response_schema = op
            .pointer("/responses/200/content/application~1json/schema")
            .unwrap();
        assert_valid(
            spec,
            response_schema,
            &request.response,
            &format!("the answer to {what}"),
        );
    }
}

/// Drives every request kind the adapter makes — look-ups, creates of A and AAAA, updates,
/// deletes, paged owned listing, the adopt-after-duplicate path — then checks each one the
/// fake captured against the spec.
#[tokio::test]
async fn every_request_the_adapter_sends_validates() {
    let spec = load_spec();
    let env = Env::start().await;
    let dns = env.adapter_with(env.config("prod").with_page_size(2));

    let mut s = record_spec("prod", "checked", true);
    let created = dns.ensure_records(&s).await.unwrap();
    dns.ensure_records(&s).await.unwrap();
    s.ipv4 = Ipv4Addr::new(192, 0, 2, 55);
    s.ttl = 3600;
    dns.ensure_records(&s).await.unwrap();
    s.proxied = true;
    dns.ensure_records(&s).await.unwrap();
    let other = record_spec("prod", "second", false);
    dns.ensure_records(&other).await.unwrap();
    let racer = FakeRecord {
        ttl: 300,
        ..FakeRecord::new(format!("raced.{ZONE}"), "A", "192.0.2.10")
    };
    let mut raced = record_spec("prod", "raced", false);
    let racer = racer.with_comment(raced.ownership.dns_comment());
    env.fake.inject(
        Some(openclaw_cloudflare::fake::Route::CreateRecord),
        openclaw_cloudflare::fake::Fault::Race(racer),
    );
    raced.ttl = 300;
    dns.ensure_records(&raced).await.unwrap();
    assert_eq!(dns.list_owned().await.unwrap().len(), 4);
    dns.find_records(&format!("checked.{ZONE}")).await.unwrap();
    for record in &created {
        dns.delete_record(&record.id).await.unwrap();
        dns.delete_record(&record.id).await.unwrap();
    }

    let captured = env.fake.captured();
    let methods: std::collections::BTreeSet<&str> =
        captured.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(
        methods.into_iter().collect::<Vec<_>>(),
        ["DELETE", "GET", "PATCH", "POST"],
        "every kind of request was made"
    );
    assert!(
        captured.iter().any(|c| c.status == 400),
        "the duplicate path ran"
    );
    for request in &captured {
        check_request(&spec, request);
    }
}
