//! What reaches the caller when Cloudflare (or something in front of it) misbehaves.

use openclaw_cloudflare::fake::{Fault, Route};
use openclaw_cloudflare::CloudflareDns;
use openclaw_core::ports::Dns;
use openclaw_core::{Error, ErrorClass, SecretString};

use crate::support::{spec, Env, ZONE};

#[tokio::test]
async fn a_body_that_does_not_parse_names_the_endpoint_and_field() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let name = format!("garbage.{ZONE}");

    env.fake.inject(
        Some(Route::ListRecords),
        Fault::Raw {
            status: 200,
            headers: Vec::new(),
            body: "<html><body>502 Bad Gateway</body></html>".into(),
        },
    );
    let err = dns.find_records(&name).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("list_dns_records"), "{text}");
    assert!(text.contains("the body"), "{text}");
    assert_eq!(err.class(), ErrorClass::Retryable);

    env.fake.inject(
        Some(Route::ListRecords),
        Fault::Raw {
            status: 200,
            headers: Vec::new(),
            body: r#"{"success":true,"errors":[],"messages":[],"result":[{"id":"abc","name":"x","type":"A","ttl":"an hour"}]}"#.into(),
        },
    );
    let err = dns.find_records(&name).await.unwrap_err();
    assert!(err.to_string().contains("result[0].ttl"), "{err}");

    env.fake.inject(
        Some(Route::CreateRecord),
        Fault::Raw {
            status: 200,
            headers: Vec::new(),
            body: r#"{"success":true,"errors":[],"messages":[],"result":{"name":"x"}}"#.into(),
        },
    );
    let err = dns
        .ensure_records(&spec("prod", "garbage", false))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("create_dns_record"), "{err}");
    assert!(err.to_string().contains("result"), "{err}");
    assert_eq!(
        err.class(),
        ErrorClass::Ambiguous,
        "a create we cannot read may have happened"
    );

    env.fake.inject(
        Some(Route::ListRecords),
        Fault::Raw {
            status: 200,
            headers: Vec::new(),
            body: r#"{"success":true,"errors":[],"messages":[],"result":[{"id":"has-dashes?","name":"x","type":"A","content":"192.0.2.1"}]}"#.into(),
        },
    );
    let err = dns.find_records(&name).await.unwrap_err();
    assert!(err.to_string().contains("result.id"), "{err}");
}

#[tokio::test]
async fn server_errors_are_retryable_client_errors_are_not() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let name = format!("flaky.{ZONE}");
    env.fake.fail_next(Some(Route::ListRecords), 1, 503, 10001);
    let err = dns.find_records(&name).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retryable);
    assert!(err.is_server_error());
    assert!(
        matches!(&err, Error::Provider { code, status: Some(503), correlation_id: Some(_), .. } if code == "10001")
    );

    env.fake.inject(
        Some(Route::ListRecords),
        Fault::Raw {
            status: 502,
            headers: Vec::new(),
            body: "<html>bad gateway</html>".into(),
        },
    );
    let err = dns.find_records(&name).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: Some(502),
                ..
            }
        ),
        "{err:?}"
    );

    env.fake.fail_next(Some(Route::CreateRecord), 1, 400, 1004);
    let err = dns
        .ensure_records(&spec("prod", "flaky", false))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    // The fault is spent: the same call now works.
    dns.ensure_records(&spec("prod", "flaky", false))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_wrong_token_is_permanent_and_never_shown() {
    let env = Env::start().await;
    let config = env
        .config("prod")
        .with_api_token(SecretString::new("wrong-token-value"));
    let dns = CloudflareDns::new(config, env.limiter.clone()).unwrap();
    let err = dns.find_records(&format!("a.{ZONE}")).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(matches!(&err, Error::Provider { code, status: Some(403), .. } if code == "10000"));
    let shown = format!("{err} {err:?} {dns:?}");
    assert!(!shown.contains("wrong-token-value"), "{shown}");
}

/// The fake refuses a request without the Bearer token (as Cloudflare does), so a test can
/// never pass with an adapter that forgot it.
#[tokio::test]
async fn the_fake_refuses_a_request_without_a_bearer_token() {
    let env = Env::start().await;
    let url = format!("{}/zones/{}/dns_records", env.fake.base_url(), env.zone_id);
    let client = reqwest::Client::new();
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"][0]["code"], 9106);
    let response = client
        .get(&url)
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn the_user_agent_names_the_crate() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    dns.find_records(&format!("ua.{ZONE}")).await.unwrap();
    let captured = env.fake.captured();
    assert_eq!(captured[0].status, 200, "the fake accepted the token");
    assert_eq!(
        captured[0].user_agent.as_deref(),
        Some(openclaw_cloudflare::USER_AGENT_VALUE)
    );
}
