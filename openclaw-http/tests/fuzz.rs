//! Random methods, paths, headers and bodies never get a 500, and every error answer has
//! the API's JSON shape.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::DELETE),
        Just(Method::PUT),
        Just(Method::PATCH),
    ]
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0192f0c1-7e5a-7cc0-8b8e-4c3f2a1b0d9e".to_string()),
        Just("%00%ff".to_string()),
        Just("..".to_string()),
        "[a-z0-9._~-]{0,40}",
        "[%A-F0-9]{0,12}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    let tail = prop_oneof![
        Just(String::new()),
        Just("/suspend".to_string()),
        Just("/unsuspend".to_string()),
        Just("/retry".to_string()),
        Just("/rollback".to_string()),
        Just("/events".to_string()),
        Just("/access".to_string()),
    ];
    let query = prop_oneof![
        Just(String::new()),
        "\\?[a-z_=&%0-9-]{0,30}",
        Just("?limit=99999999999999999999".to_string()),
        Just("?status=active&after=x".to_string()),
    ];
    prop_oneof![
        (segment(), tail, query.clone()).prop_map(|(s, t, q)| format!("/v1/instances/{s}{t}{q}")),
        query.clone().prop_map(|q| format!("/v1/instances{q}")),
        segment().prop_map(|s| format!("/v1/bootstrap/{s}")),
        query.prop_map(|q| format!("/v1/instances/{q}")),
        Just("/v1/sweep".to_string()),
        segment().prop_map(|s| format!("/{s}")),
        Just("/metrics".to_string()),
        Just("/readyz".to_string()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("customer_id".to_string()),
                    Just("subdomain".to_string()),
                    Just("plan".to_string()),
                    Just("region".to_string()),
                    Just("external_ref".to_string()),
                    Just("provider_keys".to_string()),
                    Just("level".to_string()),
                    Just("dry_run".to_string()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (
            "[a-z0-9-]{0,70}",
            prop_oneof![Just("starter"), Just("gold"), Just("")],
            prop_oneof![Just("eu-west"), Just("mars")]
        )
            .prop_map(|(sub, plan, region)| {
                json!({"customer_id": "c", "subdomain": sub, "plan": plan, "region": region})
                    .to_string()
                    .into_bytes()
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn nothing_a_client_sends_is_a_500(
        method in method(),
        path in path(),
        body in body(),
        key in 0usize..4,
        idempotency in prop::option::of("\\PC{0,10}"),
        last_event_id in prop::option::of("[0-9a-z-]{0,6}"),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let h = common::harness().await;
            let keys = [h.admin.clone(), h.alice.clone(), h.read.clone(), "ock_bad.key".to_string()];
            let mut request = Request::builder().method(method.clone()).uri(path.as_str());
            request = request.header("authorization", format!("Bearer {}", keys[key]));
            if let Some(k) = &idempotency {
                if let Ok(value) = axum::http::HeaderValue::from_str(k) {
                    request = request.header("idempotency-key", value);
                }
            }
            if let Some(id) = &last_event_id {
                request = request.header("last-event-id", id.as_str());
            }
            let Ok(request) = request.body(Body::from(body.clone())) else {
                return;
            };
            let response = h.app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {path}");
            let streaming = response
                .headers()
                .get("content-type")
                .is_some_and(|c| c.to_str().unwrap_or("").starts_with("text/event-stream"));
            if status.is_client_error() || status.is_server_error() {
                assert!(!streaming);
                let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
                let value: Value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {:?}", String::from_utf8_lossy(&bytes)));
                assert!(value["error"]["code"].is_string(), "{method} {path}: {value}");
                assert!(value["error"]["message"].is_string());
            }
        });
    }
}
