//! The endpoints the dashboard added, through the router: the page's files and their
//! headers, `config.json`, `/v1/whoami`, `/v1/overview`, `search` on the instance list, and
//! `/v1/customer-links` (who may use it, what it refuses, what it changes for a signed-in
//! user is in `tests/firebase.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn the_page_is_served_with_a_strict_policy_and_no_key() {
    let h = common::harness().await;
    let root = h.call(Method::GET, "/", None, None).await;
    assert!(root.status.is_redirection(), "{}", root.status);
    assert_eq!(root.headers["location"], "/dashboard/");
    for (path, kind) in [
        ("/dashboard/", "text/html"),
        ("/dashboard/app.js", "text/javascript"),
        ("/dashboard/style.css", "text/css"),
    ] {
        let reply = h.call(Method::GET, path, None, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let content_type = reply.headers["content-type"].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        let csp = reply.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
    }
    let index = h.call(Method::GET, "/dashboard/", None, None).await;
    assert!(index.text.contains("app.js"), "the page loads its script");
    assert!(
        !index.text.contains("<script>") && !index.text.contains(" style=\""),
        "nothing inline: the policy would block it"
    );
}

#[tokio::test]
async fn the_page_config_says_whether_customers_can_sign_in() {
    let mut h = common::harness().await;
    let reply = h
        .call(Method::GET, "/dashboard/config.json", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["firebase"], json!(null));

    let mut config = openclaw_http::config::Config::default();
    config.firebase.project_id = Some("openclaw-test".to_string());
    config.firebase.api_key = Some("test-web-key".to_string());
    config.firebase.auth_url = "http://127.0.0.1:9099/".to_string();
    let mut state = h.state.clone();
    state.dashboard = std::sync::Arc::new(openclaw_http::dashboard::PageConfig::of(&config));
    h.app = openclaw_http::routes::app(state);
    let reply = h
        .call(Method::GET, "/dashboard/config.json", None, None)
        .await;
    assert_eq!(
        reply.body["firebase"],
        json!({"project_id": "openclaw-test", "api_key": "test-web-key", "auth_url": "http://127.0.0.1:9099"})
    );
    let csp = reply.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("connect-src 'self' http://127.0.0.1:9099;"),
        "{csp}"
    );
}

#[tokio::test]
async fn whoami_names_the_key_and_its_customer_never_the_secret() {
    let h = common::harness().await;
    let reply = h.get("/v1/whoami", &h.admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["kind"], "api_key");
    assert_eq!(reply.body["scope"], "admin");
    assert_eq!(reply.body["customer_id"], json!(null));
    let secret = h.admin.split_once('.').unwrap().1;
    assert!(!reply.text.contains(secret));
    let reply = h.get("/v1/whoami", &h.alice_read).await;
    assert_eq!(reply.body["scope"], "read");
    assert_eq!(reply.body["customer_id"], "alice");
    let reply = h.get("/v1/whoami", &h.revoked).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "unauthorized");
}

#[tokio::test]
async fn the_overview_counts_instances_and_budgets_for_operators_only() {
    let h = common::harness().await;
    let a = h.create(&h.manage, Some("alice"), "alpha").await;
    h.create(&h.manage, Some("bob"), "bravo").await;
    h.run_jobs().await;
    let reply = h.get("/v1/overview", &h.read).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let o = &reply.body;
    assert_eq!(o["instances_total"], 2);
    let active = o["instances_by_status"]["active"].as_u64().unwrap();
    assert_eq!(active, 2, "{o}");
    assert_eq!(
        o["instances_by_status"]["suspended"], 0,
        "every status is listed"
    );
    assert!(o["last_event_sequence"].as_u64().unwrap() > 0);
    assert_eq!(o["rollbacks"]["provisionings"], 2);
    assert_eq!(o["rollbacks"]["alert_threshold"], 0.05);
    assert_eq!(o["rollbacks"]["alerting"], false);
    let providers: Vec<&str> = o["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["hetzner", "cloudflare"]);
    assert_eq!(o["providers"][0]["limit"], 3600);
    assert_eq!(o["providers"][1]["limit"], 1200);
    assert_eq!(o["providers"][0]["warn_ratio"], 0.8);

    // One rollback out of two provisionings: above 5 %, but too few to alert on.
    let reply = h
        .post(
            &format!("/v1/instances/{a}/rollback"),
            &h.manage,
            json!({"level": "full"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    h.run_jobs().await;
    let o = h.get("/v1/overview", &h.read).await.body;
    assert_eq!(o["rollbacks"]["started"], 1);
    assert_eq!(o["rollbacks"]["rate"], 0.5);
    assert_eq!(
        o["rollbacks"]["alerting"], false,
        "fewer than 5 provisionings"
    );

    for key in [&h.alice, &h.alice_read] {
        let reply = h.get("/v1/overview", key).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
        assert_eq!(reply.code(), "forbidden");
    }
}

#[tokio::test]
async fn search_finds_a_subdomain_prefix_or_an_external_reference() {
    let h = common::harness().await;
    let mut body = json!({"customer_id": "c1", "subdomain": "shop-one", "plan": "starter", "region": "eu-west", "external_ref": "whmcs-77"});
    let one = h.post("/v1/instances", &h.manage, body.clone()).await;
    assert_eq!(one.status, StatusCode::ACCEPTED, "{}", one.text);
    body["subdomain"] = json!("shop-two");
    body["external_ref"] = json!("whmcs-78");
    h.post("/v1/instances", &h.manage, body.clone()).await;
    body["subdomain"] = json!("other");
    body["external_ref"] = json!("shop");
    h.post("/v1/instances", &h.manage, body).await;

    let found = |reply: common::Reply| -> Vec<String> {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let mut s: Vec<String> = reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["subdomain"].as_str().unwrap().to_string())
            .collect();
        s.sort();
        s
    };
    assert_eq!(
        found(h.get("/v1/instances?search=shop-", &h.read).await),
        ["shop-one", "shop-two"]
    );
    assert_eq!(
        found(h.get("/v1/instances?search=shop", &h.read).await),
        ["other", "shop-one", "shop-two"],
        "the prefix, and the reference `shop` exactly"
    );
    assert_eq!(
        found(h.get("/v1/instances?search=whmcs-78", &h.read).await),
        ["shop-two"]
    );
    assert!(found(h.get("/v1/instances?search=hop", &h.read).await).is_empty());
    assert!(found(h.get("/v1/instances?search=whmcs", &h.read).await).is_empty());
    // A customer's key searches its own instances only.
    assert!(found(h.get("/v1/instances?search=shop", &h.alice).await).is_empty());
    for bad in ["a%20b", "%25", "x%2Fy"] {
        let reply = h.get(&format!("/v1/instances?search={bad}"), &h.read).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(reply.text.contains("search"), "{}", reply.text);
    }
}

#[tokio::test]
async fn customer_links_are_admins_and_refuse_bad_input() {
    let h = common::harness().await;
    let list = h.get("/v1/customer-links", &h.admin).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["items"], json!([]));

    let put = |path: &str, key: &str, body: serde_json::Value| {
        let (path, key) = (path.to_string(), key.to_string());
        let h = &h;
        async move { h.call(Method::PUT, &path, Some(&key), Some(body)).await }
    };
    let reply = put(
        "/v1/customer-links/uid-7",
        &h.admin,
        json!({"customer_id": "whmcs-client-12"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["uid"], "uid-7");
    assert_eq!(reply.body["customer_id"], "whmcs-client-12");
    let reply = put(
        "/v1/customer-links/uid-7",
        &h.admin,
        json!({"customer_id": "whmcs-client-13"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let list = h.get("/v1/customer-links", &h.admin).await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "relinking replaces"
    );
    assert_eq!(list.body["items"][0]["customer_id"], "whmcs-client-13");

    // Not an admin: refused, nothing changed.
    for key in [&h.manage, &h.read, &h.alice] {
        let reply = put("/v1/customer-links/uid-8", key, json!({"customer_id": "x"})).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
        let reply = h.get("/v1/customer-links", key).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
    // Bad input: 4xx with the error shape, nothing stored.
    let reply = put(
        "/v1/customer-links/uid%20x",
        &h.admin,
        json!({"customer_id": "x"}),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert!(reply.text.contains("uid"));
    let reply = put(
        "/v1/customer-links/uid-9",
        &h.admin,
        json!({"customer_id": "bad id"}),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let reply = put(
        "/v1/customer-links/uid-9",
        &h.admin,
        json!({"customer": "x"}),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let reply = h
        .send(
            axum::http::Request::builder()
                .method(Method::PUT)
                .uri("/v1/customer-links/uid-9")
                .header("authorization", format!("Bearer {}", h.admin))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{nope"))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    let list = h.get("/v1/customer-links", &h.admin).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);

    let reply = h
        .call(
            Method::DELETE,
            "/v1/customer-links/uid-7",
            Some(&h.admin),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    let reply = h
        .call(
            Method::DELETE,
            "/v1/customer-links/uid-7",
            Some(&h.admin),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "not_found");
}
