//! Every endpoint, error status and scope of the router, through `oneshot`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures_util::StreamExt;
use openclaw_http::config::HttpConfig;
use openclaw_http::rate_limit::RateLimitConfig;
use serde_json::{json, Value};

use common::{harness, harness_with};

#[tokio::test]
async fn requests_without_a_usable_key_are_401() {
    let h = harness().await;
    let reply = h.call(Method::GET, "/v1/instances", None, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "unauthorized");
    assert_eq!(reply.headers["www-authenticate"], "Bearer");
    for key in ["nonsense", "ock_nosuchkey.secret", &h.revoked] {
        let reply = h.get("/v1/instances", key).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{key}");
        assert_eq!(reply.code(), "unauthorized");
    }
    // The right id with the wrong secret.
    let (id, _) = openclaw_http::auth::parse_token(&h.admin).unwrap();
    let forged = format!("ock_{id}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(
        h.get("/v1/instances", &forged).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn scopes_decide_who_may_do_what() {
    let h = harness().await;
    let create =
        json!({"customer_id": "c1", "subdomain": "a1", "plan": "starter", "region": "eu-west"});
    let reply = h.post("/v1/instances", &h.read, create.clone()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.code(), "forbidden");
    let id = h.create(&h.manage, Some("c1"), "a1").await;
    assert_eq!(
        h.get(&format!("/v1/instances/{id}"), &h.read).await.status,
        StatusCode::OK
    );
    for path in ["suspend", "unsuspend", "retry", "rollback"] {
        let reply = h
            .post(&format!("/v1/instances/{id}/{path}"), &h.read, json!({}))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
    }
    let reply = h
        .call(
            Method::DELETE,
            &format!("/v1/instances/{id}"),
            Some(&h.read),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = h
        .post("/v1/sweep", &h.manage, json!({"dry_run": true}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = h
        .post("/v1/sweep", &h.admin, json!({"dry_run": true}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["dry_run"], true);
    assert_eq!(reply.body["orphans"], json!([]));
}

#[tokio::test]
async fn the_lifecycle_through_the_api() {
    let h = harness().await;
    let id = h.create(&h.manage, Some("c1"), "life").await;
    assert_eq!(h.status_of(&id).await, "pending");
    // A suspend before the instance is active is accepted, and waits for it; an unsuspend
    // withdraws it.
    let reply = h
        .post(&format!("/v1/instances/{id}/suspend"), &h.manage, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.body["status"], "pending");
    assert_eq!(reply.body["pending_request"], "suspend");
    let reply = h
        .post(
            &format!("/v1/instances/{id}/unsuspend"),
            &h.manage,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.body["pending_request"], serde_json::Value::Null);
    assert_eq!(reply.body["activated_at"], serde_json::Value::Null);
    h.run_jobs().await;
    assert_eq!(h.status_of(&id).await, "active");
    let reply = h.get(&format!("/v1/instances/{id}"), &h.manage).await;
    assert!(reply.body["resources"]["server_id"].is_string());
    let reply = h
        .post(&format!("/v1/instances/{id}/retry"), &h.manage, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);

    let reply = h
        .post(&format!("/v1/instances/{id}/suspend"), &h.manage, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.body["status"], "suspending");
    h.run_jobs().await;
    assert_eq!(h.status_of(&id).await, "suspended");
    let reply = h
        .post(
            &format!("/v1/instances/{id}/unsuspend"),
            &h.manage,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    h.run_jobs().await;
    assert_eq!(h.status_of(&id).await, "active");
    let reply = h
        .call(
            Method::DELETE,
            &format!("/v1/instances/{id}"),
            Some(&h.manage),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.body["status"], "terminating");
    h.run_jobs().await;
    assert_eq!(h.status_of(&id).await, "terminated");
    // Nothing is left to suspend.
    let reply = h
        .post(&format!("/v1/instances/{id}/suspend"), &h.manage, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "invalid_transition");
    assert_eq!(reply.body["error"]["details"]["from"], "terminated");

    let reply = h.get(&format!("/v1/instances/{id}/events"), &h.read).await;
    assert_eq!(reply.status, StatusCode::OK);
    let statuses: Vec<&str> = reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"]["to"].as_str())
        .collect();
    assert_eq!(
        statuses,
        [
            "pending",
            "provisioning",
            "active",
            "suspending",
            "suspended",
            "unsuspending",
            "active",
            "terminating",
            "terminated"
        ]
    );
}

#[tokio::test]
async fn a_plan_change_through_the_api() {
    let h = harness().await;
    let id = h.create(&h.manage, Some("c1"), "grow").await;
    let path = format!("/v1/instances/{id}/plan");
    // Not active yet: nothing to resize.
    let reply = h
        .post(&path, &h.manage, json!({"plan": "professional"}))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    assert_eq!(reply.code(), "invalid_transition");
    assert_eq!(reply.body["error"]["details"]["to"], "resizing");
    h.run_jobs().await;

    for (body, field) in [
        (json!({"plan": "gigantic"}), "plan"),
        (json!({}), "plan"),
        (json!({"plan": "professional", "extra": 1}), "extra"),
    ] {
        let reply = h.post(&path, &h.manage, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.text
        );
        assert!(reply.text.contains(field), "{body}: {}", reply.text);
    }
    let reply = h
        .post(&path, &h.read, json!({"plan": "professional"}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    let reply = h
        .post(&path, &h.manage, json!({"plan": "professional"}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.body["status"], "resizing");
    assert_eq!(reply.body["plan"], "starter");
    assert_eq!(
        reply.body["plan_change"],
        json!({"from": "starter", "to": "professional", "resume": "active", "reverting": false})
    );
    // Another plan while this one is under way: refused, nothing changes.
    let reply = h
        .post(&path, &h.manage, json!({"plan": "enterprise"}))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    h.run_jobs().await;
    let reply = h.get(&format!("/v1/instances/{id}"), &h.manage).await;
    assert_eq!(reply.body["status"], "active");
    assert_eq!(reply.body["plan"], "professional");
    assert_eq!(reply.body["plan_change"], serde_json::Value::Null);

    // Down again to the smaller plan: the disk was kept, so it is allowed; the same plan
    // twice is answered as is.
    let reply = h.post(&path, &h.manage, json!({"plan": "starter"})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    h.run_jobs().await;
    let reply = h.post(&path, &h.manage, json!({"plan": "starter"})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.body["status"], "active");
    assert_eq!(reply.body["plan"], "starter");
}

#[tokio::test]
async fn rollback_takes_an_optional_level() {
    let h = harness().await;
    let id = h.create(&h.manage, Some("c1"), "rb").await;
    h.run_jobs().await;
    // No body at all: partial.
    let reply = h
        .call(
            Method::POST,
            &format!("/v1/instances/{id}/rollback"),
            Some(&h.manage),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.body["status"], "rolling_back");
    h.run_jobs().await;
    assert_eq!(h.status_of(&id).await, "rolled_back");
    let reply = h
        .post(&format!("/v1/instances/{id}/retry"), &h.manage, json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    h.run_jobs().await;
    assert_eq!(h.status_of(&id).await, "active");
    let reply = h
        .post(
            &format!("/v1/instances/{id}/rollback"),
            &h.manage,
            json!({"level": "full"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    h.run_jobs().await;
    let reply = h.get(&format!("/v1/instances/{id}"), &h.manage).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = h
        .post(
            &format!("/v1/instances/{id}/rollback"),
            &h.manage,
            json!({"level": "total"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn customer_keys_see_only_their_customer() {
    let h = harness().await;
    // A bound key creates for itself without naming the customer, and may not name another.
    let mine = h.create(&h.alice, None, "alice1").await;
    let reply = h
        .post(
            "/v1/instances",
            &h.alice,
            json!({"customer_id": "bob", "subdomain": "x", "plan": "starter", "region": "eu-west"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let theirs = h.create(&h.bob, None, "bob1").await;
    let reply = h.get(&format!("/v1/instances/{mine}"), &h.alice).await;
    assert_eq!(reply.body["customer_id"], "alice");
    for (method, path) in [
        (Method::GET, format!("/v1/instances/{theirs}")),
        (Method::GET, format!("/v1/instances/{theirs}/events")),
        (Method::GET, format!("/v1/instances/{theirs}/access")),
        (Method::POST, format!("/v1/instances/{theirs}/suspend")),
        (Method::POST, format!("/v1/instances/{theirs}/rollback")),
        (Method::DELETE, format!("/v1/instances/{theirs}")),
        (Method::GET, format!("/v1/events?instance_id={theirs}")),
    ] {
        let reply = h.call(method.clone(), &path, Some(&h.alice), None).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            reply.text
        );
        assert_eq!(reply.code(), "not_found");
    }
    let reply = h.get("/v1/instances", &h.alice).await;
    let ids: Vec<&str> = reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    let reply = h.get("/v1/instances?customer_id=bob", &h.alice).await;
    assert_eq!(reply.body["items"], json!([]));
    // A taken external reference does not tell a bound key whose it is.
    let reply = h
        .post("/v1/instances", &h.bob, json!({"external_ref": "svc-1", "subdomain": "b2", "plan": "starter", "region": "eu-west"}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let bobs = reply.body["id"].as_str().unwrap().to_string();
    let reply = h
        .post("/v1/instances", &h.alice, json!({"external_ref": "svc-1", "subdomain": "a2", "plan": "starter", "region": "eu-west"}))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(!reply.text.contains(&bobs));
    // An unbound key sees both.
    let reply = h.get("/v1/instances", &h.read).await;
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn lists_filter_and_page() {
    let h = harness().await;
    for i in 0..5 {
        h.create(
            &h.manage,
            Some(if i % 2 == 0 { "even" } else { "odd" }),
            &format!("p{i}"),
        )
        .await;
    }
    let reply = h.get("/v1/instances?limit=2", &h.read).await;
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 2);
    let next = reply.body["next"].as_str().unwrap().to_string();
    let reply = h
        .get(&format!("/v1/instances?limit=2&after={next}"), &h.read)
        .await;
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 2);
    let reply = h
        .get("/v1/instances?customer_id=even&status=pending", &h.read)
        .await;
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 3);
    let reply = h.get("/v1/instances?status=active", &h.read).await;
    assert_eq!(reply.body["items"], json!([]));
    for bad in [
        "limit=0",
        "limit=501",
        "status=dancing",
        "after=nope",
        "colour=red",
        "limit=x",
    ] {
        let reply = h.get(&format!("/v1/instances?{bad}"), &h.read).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            reply.text
        );
        assert_eq!(reply.code(), "invalid_input");
    }
}

#[tokio::test]
async fn bad_bodies_ids_and_routes_answer_in_the_error_shape() {
    let h = harness().await;
    let cases: [(&str, StatusCode, &str); 8] = [
        ("{not json", StatusCode::BAD_REQUEST, "malformed_json"),
        ("", StatusCode::BAD_REQUEST, "malformed_json"),
        // JSON, but not an object: serde would read a struct from an array of its fields.
        (
            r#"["c","a","starter","eu-west"]"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        ("[nope", StatusCode::BAD_REQUEST, "malformed_json"),
        (
            r#"{"customer_id":"c","subdomain":"a","plan":"starter","region":"eu-west","color":1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            r#"{"customer_id":"c","subdomain":7,"plan":"starter","region":"eu-west"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            r#"{"customer_id":"c","subdomain":"www","plan":"starter","region":"eu-west"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            r#"{"customer_id":"c","subdomain":"ok","plan":"gold","region":"eu-west"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
    ];
    for (body, status, code) in cases {
        let request = Request::post("/v1/instances")
            .header("authorization", format!("Bearer {}", h.manage))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let reply = h.send(request).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
        assert_eq!(reply.code(), code, "{body}");
    }
    let reply = h
        .post(
            "/v1/instances",
            &h.manage,
            json!({"customer_id": "c", "subdomain": "www", "plan": "starter", "region": "eu-west"}),
        )
        .await;
    assert_eq!(reply.body["error"]["details"]["field"], "subdomain");
    let reply = h.get("/v1/instances/not-a-uuid", &h.read).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["error"]["details"]["field"], "id");
    let reply = h
        .get(
            "/v1/instances/0192f0c1-7e5a-7cc0-8b8e-4c3f2a1b0d9e",
            &h.read,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "not_found");
    let reply = h.get("/v1/nothing-here", &h.read).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "not_found");
    let reply = h
        .call(Method::PUT, "/v1/instances", Some(&h.manage), None)
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.code(), "method_not_allowed");
}

#[tokio::test]
async fn an_array_is_not_a_sweep_request() {
    let h = harness().await;
    // `[]` once read as "every field at its default": a sweep that deletes.
    let request = Request::post("/v1/sweep")
        .header("authorization", format!("Bearer {}", h.admin))
        .header("content-type", "application/json")
        .body(Body::from("[]"))
        .unwrap();
    let reply = h.send(request).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert_eq!(reply.code(), "invalid_input");
    assert!(reply.text.contains("JSON object"), "{}", reply.text);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let h = harness_with(HttpConfig {
        body_limit: 1024,
        ..HttpConfig::default()
    })
    .await;
    let big = json!({"customer_id": "c", "subdomain": "big", "plan": "starter", "region": "eu-west",
                     "provider_keys": {"ANTHROPIC_API_KEY": "k".repeat(2000)}});
    let reply = h.post("/v1/instances", &h.manage, big.clone()).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
    assert_eq!(reply.code(), "payload_too_large");
    // Through the idempotency layer too, which reads the body first.
    let request = Request::post("/v1/instances")
        .header("authorization", format!("Bearer {}", h.manage))
        .header("idempotency-key", "big-1")
        .body(Body::from(big.to_string()))
        .unwrap();
    let reply = h.send(request).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.code(), "payload_too_large");
}

async fn create_with_key(h: &common::Harness, key: &str, body: &Value) -> common::Reply {
    let request = Request::post("/v1/instances")
        .header("authorization", format!("Bearer {}", h.manage))
        .header("idempotency-key", key)
        .body(Body::from(body.to_string()))
        .unwrap();
    h.send(request).await
}

#[tokio::test]
async fn idempotency_keys_replay_and_refuse_another_body() {
    let h = harness().await;
    let body =
        json!({"customer_id": "c1", "subdomain": "idem", "plan": "starter", "region": "eu-west"});
    let first = create_with_key(&h, "order-1", &body).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = create_with_key(&h, "order-1", &body).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    let other =
        json!({"customer_id": "c1", "subdomain": "idem2", "plan": "starter", "region": "eu-west"});
    let reply = create_with_key(&h, "order-1", &other).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.code(), "idempotency_conflict");
    // Validation failures are replayed too; a bad key is refused.
    let bad =
        json!({"customer_id": "c1", "subdomain": "www", "plan": "starter", "region": "eu-west"});
    assert_eq!(
        create_with_key(&h, "order-2", &bad).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let replay = create_with_key(&h, "order-2", &bad).await;
    assert_eq!(replay.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    let reply = create_with_key(&h, &"k".repeat(300), &body).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    // One instance in all, whatever the retries.
    let list = h.get("/v1/instances", &h.read).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_same_external_reference_never_makes_a_second_instance() {
    let h = harness().await;
    let body = json!({"customer_id": "c1", "external_ref": "whmcs-1001", "subdomain": "ref", "plan": "starter", "region": "eu-west"});
    let first = h.post("/v1/instances", &h.manage, body.clone()).await;
    let second = h.post("/v1/instances", &h.manage, body).await;
    assert_eq!(first.body["id"], second.body["id"]);
    let different = json!({"customer_id": "c1", "external_ref": "whmcs-1001", "subdomain": "ref", "plan": "enterprise", "region": "eu-west"});
    assert_eq!(
        h.post("/v1/instances", &h.manage, different).await.status,
        StatusCode::CONFLICT
    );
    let reply = h
        .get("/v1/instances?external_ref=whmcs-1001", &h.read)
        .await;
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn each_key_is_rate_limited_with_retry_after() {
    let h = harness_with(HttpConfig {
        rate_limit: RateLimitConfig {
            burst: 3,
            per_second: 0.5,
        },
        ..HttpConfig::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(h.get("/v1/instances", &h.read).await.status, StatusCode::OK);
    }
    let reply = h.get("/v1/instances", &h.read).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.code(), "rate_limited");
    assert_eq!(reply.headers["retry-after"], "2");
    // Other keys have their own budget.
    assert_eq!(
        h.get("/v1/instances", &h.manage).await.status,
        StatusCode::OK
    );
    let metrics = h.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics.text.contains("openclaw_api_rate_limited_total 1"),
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn bootstrap_delivers_once_then_410() {
    let h = harness().await;
    let id = h
        .post("/v1/instances", &h.manage, json!({"customer_id": "c1", "subdomain": "boot", "plan": "starter", "region": "eu-west",
                                                  "provider_keys": {"ANTHROPIC_API_KEY": "sk-ant-secret"}}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = h.bootstrap_token(&id).await;
    // Never in the path (proxies log paths): that route does not exist.
    let in_path = h
        .call(
            Method::POST,
            &format!("/v1/bootstrap/{}", token.expose()),
            None,
            None,
        )
        .await;
    assert_eq!(in_path.status, StatusCode::NOT_FOUND);
    let missing = h.call(Method::POST, "/v1/bootstrap", None, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.code(), "unauthorized");
    let path = "/v1/bootstrap";
    let reply = h.call(Method::POST, path, Some(token.expose()), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert_eq!(reply.body["env"]["ANTHROPIC_API_KEY"], "sk-ant-secret");
    assert!(
        reply.body["env"]["OPENCLAW_GATEWAY_TOKEN"]
            .as_str()
            .unwrap()
            .len()
            >= 43
    );
    let again = h.call(Method::POST, path, Some(token.expose()), None).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert_eq!(again.code(), "gone");
    for bad in [
        "nonsense",
        "0192f0c17e5a7cc08b8e4c3f2a1b0d9e.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let reply = h.call(Method::POST, "/v1/bootstrap", Some(bad), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
    // No other answer carries the secret.
    for path in [
        format!("/v1/instances/{id}"),
        format!("/v1/instances/{id}/events"),
        "/v1/instances".to_string(),
    ] {
        let reply = h.get(&path, &h.admin).await;
        assert!(!reply.text.contains("sk-ant-secret"), "{path}");
    }
}

#[tokio::test]
async fn access_links_are_for_operators_and_the_owner_and_are_audited() {
    let h = harness().await;
    let id = h.create(&h.alice, None, "acc").await;
    let reply = h
        .get(&format!("/v1/instances/{id}/access"), &h.manage)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CONFLICT,
        "not active yet: {}",
        reply.text
    );
    h.run_jobs().await;
    // Active, but its agent has not connected: 503, saying so, with a time to come back.
    let reply = h
        .get(&format!("/v1/instances/{id}/access"), &h.manage)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    assert_eq!(reply.body["error"]["code"], "agent_unavailable");
    assert!(reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("agent has not connected yet"));
    assert_eq!(reply.headers["retry-after"], "30");

    let instance = id.parse().unwrap();
    let agent = openclaw_core::memory::InProcessAgent::spawn(
        h.provisioner.clone(),
        instance,
        openclaw_core::memory::SimulatedMachine::new("gw"),
        Duration::from_secs(30),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut links = Vec::new();
    for key in [&h.admin, &h.manage, &h.alice, &h.alice_read] {
        let reply = h.get(&format!("/v1/instances/{id}/access"), key).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let url = reply.body["url"].as_str().unwrap().to_string();
        assert!(
            url.starts_with("https://acc.claw.example.com/#bootstrapToken="),
            "{url}"
        );
        assert!(url.ends_with("&bootstrapProfile=owner"), "{url}");
        assert_eq!(reply.headers["cache-control"], "no-store");
        links.push(url);
    }
    let minted = agent.machine.lock().unwrap().pairing_tokens().to_vec();
    assert_eq!(minted.len(), 4, "one fresh pairing token per request");
    for (url, token) in links.iter().zip(&minted) {
        assert!(url.contains(token.as_str()));
    }
    let reply = h.get(&format!("/v1/instances/{id}/access"), &h.read).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let events = h.get(&format!("/v1/instances/{id}/events"), &h.admin).await;
    let issued: Vec<&Value> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"]["type"] == "audit" && e["kind"]["action"] == "access_link_issued")
        .collect();
    assert_eq!(issued.len(), 4);
    assert!(issued
        .iter()
        .any(|e| e["kind"]["actor"].as_str().unwrap().contains("alice-read")));
    assert!(minted.iter().all(|t| !events.text.contains(t.as_str())));

    // The instance view shows the agent.
    let reply = h.get(&format!("/v1/instances/{id}"), &h.alice).await;
    assert_eq!(reply.body["agent"]["connected"], true, "{}", reply.text);
    assert_eq!(reply.body["agent"]["gateway"], "up");
    assert_eq!(reply.body["agent"]["openclaw_version"], "2026.9.6");
}

#[tokio::test]
async fn system_endpoints_answer_without_a_key() {
    let h = harness().await;
    let reply = h.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (reply.status, reply.body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let reply = h.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    h.store.faults().fail_next(
        "ping",
        1,
        openclaw_core::Error::Store {
            message: "db down; password=hunter2".into(),
            retryable: true,
        },
    );
    let reply = h.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.code(), "unavailable");
    assert!(!reply.text.contains("hunter2"));
    assert!(reply.headers.contains_key("retry-after"));
    h.create(&h.manage, Some("c"), "m1").await;
    let reply = h.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(reply.text.ends_with("# EOF\n"));
    for family in [
        "openclaw_provider_requests_total",
        "openclaw_provider_requests_last_minute",
        "openclaw_provider_rate_limited_total",
        "openclaw_provider_retries_total",
        "openclaw_api_rate_limited_total",
        "openclaw_rollbacks_started_total",
        "openclaw_rollback_success_ratio",
        "openclaw_rollback_seconds_total",
        "openclaw_websocket_connections",
        "openclaw_event_delivery_seconds_bucket",
        "openclaw_job_queue_depth 1",
        "openclaw_instances{status=\"pending\"} 1",
        // Per route: the create above, counted under its template.
        "openclaw_http_requests_total{method=\"POST\",route=\"/v1/instances\",status=\"202\"} 1",
        "openclaw_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/instances\",status=\"202\"} 1",
        "openclaw_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"503\"} 1",
    ] {
        assert!(reply.text.contains(family), "{family} missing:\n{}", reply.text);
    }
    let reply = h.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["openapi"], "3.1.0");
    for path in [
        "/v1/instances",
        "/v1/instances/{id}",
        "/v1/instances/{id}/suspend",
        "/v1/events",
        "/v1/events/ws",
        "/v1/bootstrap",
        "/v1/instances/{id}/access",
        "/metrics",
    ] {
        assert!(
            reply.body["paths"].get(path).is_some(),
            "{path} undocumented"
        );
    }
    assert!(reply.body["components"]["schemas"]
        .get("InstanceView")
        .is_some());
    assert!(reply.body["components"]["securitySchemes"]
        .get("api_key")
        .is_some());
}

#[tokio::test]
async fn store_failures_are_503_not_500() {
    let h = harness().await;
    let id = h.create(&h.manage, Some("c"), "s1").await;
    h.store.faults().fail_next(
        "get_instance",
        1,
        openclaw_core::Error::Store {
            message: "connection reset".into(),
            retryable: true,
        },
    );
    let reply = h.get(&format!("/v1/instances/{id}"), &h.read).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    h.store.faults().fail_next(
        "get_api_key",
        1,
        openclaw_core::Error::Store {
            message: "connection reset".into(),
            retryable: true,
        },
    );
    let reply = h.get(&format!("/v1/instances/{id}"), &h.read).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
}

/// Reads SSE frames from a response body until `n` events arrived.
async fn sse_events(body: Body, n: usize) -> Vec<Value> {
    let mut parser = openclaw_http::cli::sse::SseParser::default();
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("an event in time")
            .expect("the stream goes on")
            .unwrap();
        for message in parser.feed(&chunk) {
            let value: Value = serde_json::from_str(&message.data).unwrap();
            assert_eq!(
                message.id.as_deref(),
                Some(value["sequence"].to_string().as_str())
            );
            out.push(value);
        }
    }
    out
}

async fn open_sse(
    h: &common::Harness,
    key: &str,
    query: &str,
    last: Option<u64>,
) -> axum::response::Response {
    use tower::ServiceExt;
    let mut request =
        Request::get(format!("/v1/events{query}")).header("authorization", format!("Bearer {key}"));
    if let Some(last) = last {
        request = request.header("last-event-id", last.to_string());
    }
    let response = h
        .app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    response
}

#[tokio::test]
async fn server_sent_events_resume_after_the_last_id_and_respect_customers() {
    let h = harness().await;
    let a = h.create(&h.alice, None, "ev-a").await;
    let b = h.create(&h.bob, None, "ev-b").await;
    h.run_jobs().await;
    // Everything from the start: both instances' pending → provisioning → active.
    let all = sse_events(open_sse(&h, &h.read, "?after=0", None).await.into_body(), 6).await;
    let sequences: Vec<u64> = all
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]));
    // Resuming after the third sees the rest exactly once.
    let rest = sse_events(
        open_sse(&h, &h.read, "", Some(sequences[2]))
            .await
            .into_body(),
        3,
    )
    .await;
    assert_eq!(
        rest.iter()
            .map(|e| e["sequence"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        sequences[3..]
    );
    // Alice's key sees Alice's instance only.
    let alices = sse_events(
        open_sse(&h, &h.alice, "?after=0", None).await.into_body(),
        3,
    )
    .await;
    assert!(alices.iter().all(|e| e["instance_id"] == a.as_str()));
    // Live: a new change arrives on an open stream; instance filter applies.
    let response = open_sse(&h, &h.read, &format!("?instance_id={b}"), None).await;
    h.post(&format!("/v1/instances/{b}/suspend"), &h.manage, json!({}))
        .await;
    let live = sse_events(response.into_body(), 1).await;
    assert_eq!(live[0]["kind"]["to"], "suspending");
    assert_eq!(live[0]["instance_id"], b.as_str());
    for bad in ["?topic=gossip", "?instance_id=x", "?after=-1"] {
        let reply = h.get(&format!("/v1/events{bad}"), &h.read).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let request = Request::get("/v1/events")
        .header("authorization", format!("Bearer {}", h.read))
        .header("last-event-id", "soon")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        h.send(request).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn websocket_streams_events_and_resumes() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let h = harness().await;
    let id = h.create(&h.manage, Some("c"), "ws").await;
    h.run_jobs().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = h.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let connect = |after: u64| {
        let mut request = format!("ws://{addr}/v1/events/ws?after={after}")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", h.read).parse().unwrap(),
        );
        tokio_tungstenite::connect_async(request)
    };
    let (mut socket, _) = connect(0).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            let event: Value = serde_json::from_str(&text).unwrap();
            seen.push(event["sequence"].as_u64().unwrap());
            assert_eq!(event["instance_id"], id.as_str());
        }
    }
    let metrics = h.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics.text.contains("openclaw_websocket_connections 1"),
        "{}",
        metrics.text
    );
    drop(socket);
    let (mut socket, _) = connect(seen[0]).await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let event: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
    assert_eq!(event["sequence"].as_u64().unwrap(), seen[1]);

    // Without a key the handshake is refused with 401.
    let request = format!("ws://{addr}/v1/events/ws")
        .into_client_request()
        .unwrap();
    let refused = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
}

#[tokio::test]
async fn a_server_whose_workers_do_not_run_is_not_ready() {
    use tower::ServiceExt;
    let h = harness().await;
    let app = openclaw_http::routes::app(h.state.clone().with_workers());
    let ready = |app: axum::Router| async move {
        let request = axum::http::Request::get("/readyz")
            .body(axum::body::Body::empty())
            .unwrap();
        app.oneshot(request).await.unwrap().status()
    };
    assert_eq!(ready(app.clone()).await, StatusCode::SERVICE_UNAVAILABLE);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let p = h.provisioner.clone();
    let workers = tokio::spawn(async move {
        p.run_workers(async {
            let _ = stopped.await;
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(ready(app.clone()).await, StatusCode::OK);
    let metrics = h.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics.text.contains("openclaw_workers_running 1"),
        "{}",
        metrics.text
    );
    stop.send(()).unwrap();
    workers.await.unwrap().unwrap();
    assert_eq!(ready(app).await, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_customer_key_stored_as_admin_acts_as_manage_at_most() {
    use openclaw_core::domain::{CustomerId, Scope};
    use openclaw_core::ports::ApiKeyStore;

    let h = harness().await;
    assert!(openclaw_http::auth::generate(
        "carol",
        Scope::Admin,
        Some(CustomerId::parse("carol").unwrap())
    )
    .is_err());
    // Made before that was refused: stored as admin, bound to a customer.
    let mut legacy = openclaw_http::auth::generate("carol", Scope::Manage, None).unwrap();
    legacy.key.scope = Scope::Admin;
    legacy.key.customer_id = Some(CustomerId::parse("carol").unwrap());
    h.store.insert_api_key(&legacy.key).await.unwrap();
    let token = legacy.token.expose().to_string();
    let reply = h.post("/v1/sweep", &token, json!({"dry_run": true})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    assert!(reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("scope manage"));
    let reply = h.get("/v1/fleet/upgrades", &token).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Its own customer's instances it still manages.
    let id = h.create(&token, Some("carol"), "carol1").await;
    assert_eq!(
        h.get(&format!("/v1/instances/{id}"), &token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn metrics_ask_for_their_own_token_when_one_is_configured() {
    let token = "metrics-token-0123456789";
    let h = harness_with(HttpConfig {
        metrics_token: Some(openclaw_http::config::Secret::new(token)),
        ..HttpConfig::default()
    })
    .await;
    for key in [None, Some("wrong-token-0123456789"), Some(h.admin.as_str())] {
        let reply = h.call(Method::GET, "/metrics", key, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(reply.code(), "unauthorized");
    }
    let reply = h.call(Method::GET, "/metrics", Some(token), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text.contains("openclaw_instances"), "{}", reply.text);
}

#[tokio::test]
async fn event_streams_per_key_are_bounded_and_slots_come_back() {
    let h = harness_with(HttpConfig {
        max_streams_per_key: 2,
        rate_limit: RateLimitConfig {
            burst: 10_000,
            per_second: 10_000.0,
        },
        ..HttpConfig::default()
    })
    .await;
    let open = |key: &str| {
        let app = h.app.clone();
        let request = Request::get("/v1/events")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        async move { tower::ServiceExt::oneshot(app, request).await.unwrap() }
    };
    let first = open(&h.read).await;
    let second = open(&h.read).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    let third = open(&h.read).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
    let body = axum::body::to_bytes(third.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "too_many_streams");
    // Another key is not held back; a stream that ends frees its slot.
    assert_eq!(open(&h.admin).await.status(), StatusCode::OK);
    drop(first);
    assert_eq!(
        h.state
            .streams
            .open(openclaw_http::auth::parse_token(&h.read).unwrap().0),
        1
    );
    assert_eq!(open(&h.read).await.status(), StatusCode::OK);
    drop(second);
}

#[tokio::test]
async fn a_websocket_client_sending_large_messages_is_disconnected() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let h = harness().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = h.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut request = format!("ws://{addr}/v1/events/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", h.read).parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let big = "x".repeat(openclaw_http::routes::events::MAX_CLIENT_MESSAGE + 1);
    futures_util::SinkExt::send(&mut socket, Message::Text(big.into()))
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server ends the connection");
    // Its slot came back.
    let key_id = openclaw_http::auth::parse_token(&h.read)
        .unwrap()
        .0
        .to_string();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.state.streams.open(&key_id), 0);
}

#[tokio::test]
async fn a_client_guessing_keys_is_stopped_before_any_lookup() {
    let h = harness_with(HttpConfig {
        failed_auth_rate_limit: RateLimitConfig {
            burst: 3,
            per_second: 0.01,
        },
        rate_limit: RateLimitConfig {
            burst: 10_000,
            per_second: 10_000.0,
        },
        ..HttpConfig::default()
    })
    .await;
    let from =
        |ip: [u8; 4], key: &str| {
            let mut request = Request::get("/v1/instances")
                .header("authorization", format!("Bearer {key}"))
                .body(Body::empty())
                .unwrap();
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from((ip, 40000)),
            ));
            h.send(request)
        };
    let guesser = [198, 51, 100, 7];
    for n in 0..4 {
        let reply = from(
            guesser,
            &format!("ock_guess{n:07}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "guess {n}");
    }
    // Blocked now: even a real key from that address is answered 429 without being looked
    // up (the harness caches no keys).
    let reply = from(guesser, &h.read).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text
    );
    assert!(reply.headers.contains_key("retry-after"));
    // Another address is not affected.
    let reply = from([198, 51, 100, 8], &h.read).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test]
async fn a_cancelled_request_frees_its_idempotency_key_at_once() {
    use axum::routing::post;
    use openclaw_core::domain::Scope;
    use openclaw_http::auth::Caller;

    let h = harness().await;
    // A slow handler behind the idempotency layer, as the router puts it.
    let slow = axum::Router::new()
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "never"
            }),
        )
        .route(
            "/fast",
            post(|| async {
                (
                    StatusCode::ACCEPTED,
                    [("location", "/v1/instances/42")],
                    axum::Json(json!({"ok": true})),
                )
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            h.state.clone(),
            openclaw_http::idempotency::idempotency,
        ));
    let caller = Caller {
        key_id: "k1".into(),
        name: "test".into(),
        scope: Scope::Manage,
        customer: None,
    };
    let request = |path: &str| {
        let mut request = Request::post(path)
            .header("idempotency-key", "cancel-1")
            .body(Body::from("{}"))
            .unwrap();
        request.extensions_mut().insert(caller.clone());
        request
    };
    // The client gives up after 50 ms: the request's future is dropped.
    let cut = tokio::time::timeout(
        Duration::from_millis(50),
        tower::ServiceExt::oneshot(slow.clone(), request("/slow")),
    )
    .await;
    assert!(cut.is_err(), "the slow request was cancelled");
    let freed = async {
        for _ in 0..100 {
            let left = openclaw_core::ports::Store::get_idempotency(
                &h.store,
                "k1:cancel-1",
                chrono::Utc::now(),
            )
            .await
            .unwrap();
            if left.is_none() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    };
    assert!(freed.await, "the key is freed, not held for 120 s");

    // The same key is free for the retry; its replay repeats status, body and Location.
    let first = tower::ServiceExt::oneshot(slow.clone(), request("/fast"))
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let again = tower::ServiceExt::oneshot(slow, request("/fast"))
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], "/v1/instances/42");
}

#[tokio::test]
async fn the_document_and_the_router_have_the_same_routes_and_every_keyed_route_a_scope() {
    use openclaw_core::domain::Scope;
    use openclaw_http::routes::scopes::{route_scopes, scope_for};

    let h = harness().await;
    let doc: Value = serde_json::from_str(&openclaw_http::openapi::json()).unwrap();
    let mut keyed = 0;
    let mut operations_seen = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            operations_seen += 1;
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // Every documented operation is served: the router answers it with something
            // other than its no-such-route or wrong-method fallbacks.
            let concrete = path
                .replace("{id}", "0192f0c1-7e5a-7cc0-8b8e-4c3f2a1b0d9e")
                .replace("{task}", "0192f0c1-7e5a-7cc0-8b8e-4c3f2a1b0d9f")
                .replace("{backup}", "0192f0c1-7e5a-7cc0-8b8e-4c3f2a1b0da0")
                .replace("{action}", "restart");
            let reply = h.call(method.clone(), &concrete, None, None).await;
            assert!(
                !reply.body.to_string().contains("see /openapi.json"),
                "{method} {path} is documented but not routed: {}",
                reply.body
            );
            let takes_key = operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("api_key").is_some()));
            if takes_key {
                keyed += 1;
                assert!(
                    scope_for(&method, path).is_some(),
                    "{method} {path} takes an API key but its annotation declares no scope"
                );
            }
        }
    }
    assert_eq!(route_scopes().len(), keyed);
    assert!(operations_seen >= 30, "{operations_seen}");
    assert_eq!(scope_for(&Method::POST, "/v1/sweep"), Some(Scope::Admin));
    assert_eq!(scope_for(&Method::GET, "/v1/instances"), Some(Scope::Read));
    assert_eq!(
        scope_for(&Method::DELETE, "/v1/instances/{id}"),
        Some(Scope::Manage)
    );
    // And the other way: a path the document lacks is not served.
    let reply = h.call(Method::GET, "/v1/not-documented", None, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_route_without_a_declared_scope_is_refused_not_let_through() {
    use openclaw_core::domain::Scope;
    use openclaw_http::auth::Caller;

    let app = axum::Router::new()
        .route("/v1/undeclared", axum::routing::get(|| async { "reached" }))
        .route("/v1/sweep", axum::routing::post(|| async { "reached" }))
        .route_layer(axum::middleware::from_fn(
            openclaw_http::routes::scopes::require_scope,
        ));
    let call = |method: Method, path: &str, scope: Scope| {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        request.extensions_mut().insert(Caller {
            key_id: "k".into(),
            name: "k".into(),
            scope,
            customer: None,
        });
        tower::ServiceExt::oneshot(app.clone(), request)
    };
    let undeclared = call(Method::GET, "/v1/undeclared", Scope::Admin)
        .await
        .unwrap();
    assert_eq!(undeclared.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let manage = call(Method::POST, "/v1/sweep", Scope::Manage)
        .await
        .unwrap();
    assert_eq!(manage.status(), StatusCode::FORBIDDEN);
    let admin = call(Method::POST, "/v1/sweep", Scope::Admin).await.unwrap();
    assert_eq!(admin.status(), StatusCode::OK);
}

#[tokio::test]
async fn customers_read_codes_and_their_own_words_never_provider_text() {
    use openclaw_core::{Error, ErrorClass};

    let h = harness().await;
    let provider_text = "server limit of project 4711 reached";
    h.compute.faults().fail_next(
        "create_server",
        100,
        Error::Provider {
            provider: "hetzner".into(),
            code: "resource_limit_exceeded".into(),
            status: Some(403),
            message: provider_text.into(),
            correlation_id: None,
            class: ErrorClass::Permanent,
        },
    );
    let id = h.create(&h.alice, None, "limited").await;
    h.run_jobs().await;
    let operator = h.get(&format!("/v1/instances/{id}"), &h.manage).await;
    assert!(
        operator.text.contains(provider_text),
        "operators read the provider's words: {}",
        operator.text
    );
    let code = operator.body["last_error"]["code"].clone();
    assert!(code.is_string(), "{}", operator.text);
    for path in [
        format!("/v1/instances/{id}"),
        format!("/v1/instances/{id}/events"),
        "/v1/instances".to_string(),
    ] {
        let reply = h.get(&path, &h.alice).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
        assert!(
            !reply.text.contains(provider_text) && !reply.text.contains("hetzner"),
            "{path} shows a customer the provider's words: {}",
            reply.text
        );
    }
    let customer = h.get(&format!("/v1/instances/{id}"), &h.alice).await;
    assert_eq!(
        customer.body["last_error"]["code"], code,
        "the stable code stays"
    );
    assert!(customer.body["last_error"]["message"]
        .as_str()
        .unwrap()
        .contains("Our team has been notified"));
}
