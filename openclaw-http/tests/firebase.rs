//! Firebase ID tokens, verified offline: tokens signed by test RSA keys
//! (`tests/fixtures/firebase-test-key-*.der`, PKCS#1, made for these tests only) whose public halves a
//! local key endpoint serves as a JWK set, the way Google serves its own. One test per
//! refusal, and the key cache: kept per `Cache-Control`, fetched again once for an unknown
//! `kid` (a rotation), never more often than `MIN_REFETCH`. Then the API with a signed-in
//! customer: their own instances only, read scope, plain 401s, and sign-in off by default.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openclaw_http::firebase::{FirebaseVerifier, TokenError, MIN_REFETCH};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_SHA256};
use serde_json::{json, Value};

const PROJECT: &str = "openclaw-test";

struct TestKey {
    kid: &'static str,
    pair: RsaKeyPair,
}

impl TestKey {
    fn load(kid: &'static str, file: &str) -> Self {
        let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
        let der = std::fs::read(path).unwrap();
        TestKey {
            kid,
            pair: RsaKeyPair::from_der(&der).unwrap(),
        }
    }

    fn jwk(&self) -> Value {
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(self.pair.public());
        json!({
            "kid": self.kid,
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(&public.n),
            "e": URL_SAFE_NO_PAD.encode(&public.e),
        })
    }

    /// A token with `header` and `claims`, signed with this key.
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// A good token for `uid` at `now`.
    fn token(&self, uid: &str, now: u64) -> String {
        self.sign(&header(self.kid), &claims(uid, now))
    }
}

fn header(kid: &str) -> Value {
    json!({"alg": "RS256", "kid": kid, "typ": "JWT"})
}

fn claims(uid: &str, now: u64) -> Value {
    json!({
        "iss": format!("https://securetoken.google.com/{PROJECT}"),
        "aud": PROJECT,
        "auth_time": now - 30,
        "user_id": uid,
        "sub": uid,
        "iat": now - 10,
        "exp": now + 3600,
        "email": "bob@example.com",
        "firebase": {"sign_in_provider": "password"},
    })
}

fn secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A local key endpoint: serves the JWK set in `keys`, counting requests.
struct KeyServer {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

async fn key_server(keys: Vec<Value>) -> KeyServer {
    let keys = Arc::new(Mutex::new(keys));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (served, counted) = (keys.clone(), fetches.clone());
    let app = Router::new().route(
        "/jwk",
        get(move || {
            let served = served.clone();
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let body = json!({"keys": *served.lock().unwrap()}).to_string();
                (
                    [
                        ("content-type", "application/json"),
                        ("cache-control", "public, max-age=3600, must-revalidate"),
                    ],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwk", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    KeyServer { url, keys, fetches }
}

struct Fixture {
    one: TestKey,
    two: TestKey,
    server: KeyServer,
    verifier: FirebaseVerifier,
    now: SystemTime,
}

async fn fixture() -> Fixture {
    let one = TestKey::load("key-1", "firebase-test-key-1.der");
    let two = TestKey::load("key-2", "firebase-test-key-2.der");
    let server = key_server(vec![one.jwk()]).await;
    let verifier = FirebaseVerifier::new(PROJECT, &server.url);
    Fixture {
        one,
        two,
        server,
        verifier,
        now: SystemTime::now(),
    }
}

impl Fixture {
    async fn refused(&self, token: &str) -> TokenError {
        self.verifier
            .verify_at(token, self.now)
            .await
            .expect_err("the token must be refused")
    }
}

#[tokio::test]
async fn a_good_token_names_its_user_and_keys_are_fetched_once() {
    let f = fixture().await;
    let now = secs(f.now);
    let user = f
        .verifier
        .verify_at(&f.one.token("uid-bob", now), f.now)
        .await
        .unwrap();
    assert_eq!(user.uid, "uid-bob");
    assert_eq!(user.email.as_deref(), Some("bob@example.com"));
    assert_eq!(user.expires_at, now + 3600);
    for _ in 0..5 {
        f.verifier
            .verify_at(&f.one.token("uid-ann", now), f.now)
            .await
            .unwrap();
    }
    assert_eq!(
        f.server.fetches.load(Ordering::SeqCst),
        1,
        "kept per max-age"
    );
    // Past max-age the keys are fetched again.
    let later = f.now + Duration::from_secs(3601);
    f.verifier
        .verify_at(&f.one.token("uid-ann", secs(later)), later)
        .await
        .unwrap();
    assert_eq!(f.server.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn no_kid_is_refused() {
    let f = fixture().await;
    let token = f
        .one
        .sign(&json!({"alg": "RS256"}), &claims("u", secs(f.now)));
    assert_eq!(f.refused(&token).await, TokenError::MissingKid);
}

#[tokio::test]
async fn hs256_and_none_are_refused() {
    let f = fixture().await;
    let body = URL_SAFE_NO_PAD.encode(claims("u", secs(f.now)).to_string());
    for alg in ["HS256", "none", "RS512"] {
        let head = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "key-1"}).to_string());
        let token = format!("{head}.{body}.{}", URL_SAFE_NO_PAD.encode(b"whatever"));
        assert_eq!(
            f.refused(&token).await,
            TokenError::UnsupportedAlgorithm(alg.to_string())
        );
    }
    // `none` with an empty signature, the classic.
    let head = URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string());
    assert_eq!(
        f.refused(&format!("{head}.{body}.")).await.code(),
        "unsupported_algorithm"
    );
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let f = fixture().await;
    let mut c = claims("u", secs(f.now));
    c["aud"] = json!("someone-elses-project");
    assert_eq!(
        f.refused(&f.one.sign(&header("key-1"), &c)).await,
        TokenError::WrongAudience
    );
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    let f = fixture().await;
    let mut c = claims("u", secs(f.now));
    c["iss"] = json!("https://securetoken.google.com/someone-elses-project");
    assert_eq!(
        f.refused(&f.one.sign(&header("key-1"), &c)).await,
        TokenError::WrongIssuer
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_past_the_leeway() {
    let f = fixture().await;
    let now = secs(f.now);
    let mut c = claims("u", now);
    c["exp"] = json!(now - 61);
    assert_eq!(
        f.refused(&f.one.sign(&header("key-1"), &c)).await,
        TokenError::Expired
    );
    // Within the leeway a clock a little behind is forgiven.
    c["exp"] = json!(now - 30);
    f.verifier
        .verify_at(&f.one.sign(&header("key-1"), &c), f.now)
        .await
        .unwrap();
}

#[tokio::test]
async fn iat_or_auth_time_in_the_future_is_refused() {
    let f = fixture().await;
    let now = secs(f.now);
    let mut c = claims("u", now);
    c["iat"] = json!(now + 120);
    assert_eq!(
        f.refused(&f.one.sign(&header("key-1"), &c)).await,
        TokenError::IssuedInFuture
    );
    let mut c = claims("u", now);
    c["auth_time"] = json!(now + 120);
    assert_eq!(
        f.refused(&f.one.sign(&header("key-1"), &c)).await,
        TokenError::AuthTimeInFuture
    );
}

#[tokio::test]
async fn an_empty_subject_is_refused() {
    let f = fixture().await;
    let now = secs(f.now);
    for sub in [json!(""), Value::Null, json!("x".repeat(129))] {
        let mut c = claims("u", now);
        c["sub"] = sub.clone();
        assert_eq!(
            f.refused(&f.one.sign(&header("key-1"), &c)).await,
            TokenError::EmptySubject,
            "sub = {sub}"
        );
    }
}

#[tokio::test]
async fn an_unknown_kid_is_fetched_once_then_refused() {
    let f = fixture().await;
    let now = secs(f.now);
    f.verifier
        .verify_at(&f.one.token("u", now), f.now)
        .await
        .unwrap();
    // Signed by a key Google does not publish.
    let stranger = f.two.sign(&header("key-9"), &claims("u", now));
    let later = f.now + MIN_REFETCH;
    assert_eq!(
        f.verifier.verify_at(&stranger, later).await.unwrap_err(),
        TokenError::UnknownKid
    );
    assert_eq!(
        f.server.fetches.load(Ordering::SeqCst),
        2,
        "fetched again once"
    );
    // Made-up kids right after that do not make it ask again.
    for n in 0..5 {
        let made_up = f
            .two
            .sign(&header(&format!("made-up-{n}")), &claims("u", now));
        assert_eq!(
            f.verifier.verify_at(&made_up, later).await.unwrap_err(),
            TokenError::UnknownKid
        );
    }
    assert_eq!(f.server.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_a_forged_signature_is_not() {
    let f = fixture().await;
    let now = secs(f.now);
    f.verifier
        .verify_at(&f.one.token("u", now), f.now)
        .await
        .unwrap();
    // Google rotates: key-2 is published next to key-1.
    f.server.keys.lock().unwrap().push(f.two.jwk());
    let later = f.now + MIN_REFETCH;
    let user = f
        .verifier
        .verify_at(&f.two.token("uid-rotated", secs(later)), later)
        .await
        .unwrap();
    assert_eq!(user.uid, "uid-rotated");
    // A token that names key-1 but is signed with key-2 does not verify.
    let forged = f.two.sign(&header("key-1"), &claims("uid-mallory", now));
    assert_eq!(
        f.verifier.verify_at(&forged, later).await.unwrap_err(),
        TokenError::BadSignature
    );
    // Nor does a good token whose claims were changed after signing.
    let good = f.one.token("uid-bob", now);
    let parts: Vec<&str> = good.split('.').collect();
    let mut c = claims("uid-bob", now);
    c["sub"] = json!("uid-admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(c.to_string()),
        parts[2]
    );
    assert_eq!(
        f.verifier.verify_at(&tampered, later).await.unwrap_err(),
        TokenError::BadSignature
    );
}

#[tokio::test]
async fn garbage_is_malformed_and_an_unreachable_key_endpoint_is_unavailable() {
    let f = fixture().await;
    for token in ["", "a.b", "a.b.c.d", "!!!.???.***"] {
        assert_eq!(f.refused(token).await, TokenError::Malformed, "{token:?}");
    }
    let verifier = FirebaseVerifier::new(PROJECT, "http://127.0.0.1:9/jwk");
    let err = verifier
        .verify(&f.one.token("u", secs(SystemTime::now())))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "keys_unavailable", "{err}");
}

#[tokio::test]
async fn a_signed_in_customer_sees_only_their_own_instances() {
    let f = fixture().await;
    let mut h = common::harness().await;
    let alice = h.create(&h.manage, Some("alice"), "alices").await;
    let bob = h.create(&h.manage, Some("bob"), "bobs").await;
    // Off by default: a Firebase token is refused, and says why.
    let token = f.one.token("alice", secs(SystemTime::now()));
    let reply = h.get("/v1/instances", &token).await;
    assert_eq!(reply.status, axum::http::StatusCode::UNAUTHORIZED);
    assert!(reply.text.contains("firebase.project_id"), "{}", reply.text);

    let mut state = h.state.clone();
    state.firebase = Some(Arc::new(FirebaseVerifier::new(PROJECT, &f.server.url)));
    h.app = openclaw_http::routes::app(state);
    let reply = h.get("/v1/instances", &token).await;
    assert_eq!(reply.status, axum::http::StatusCode::OK, "{}", reply.text);
    let ids: Vec<&str> = reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![alice.as_str()]);
    let reply = h.get(&format!("/v1/instances/{alice}"), &token).await;
    assert_eq!(reply.status, axum::http::StatusCode::OK);
    let reply = h
        .get(&format!("/v1/instances/{alice}/events"), &token)
        .await;
    assert_eq!(reply.status, axum::http::StatusCode::OK);
    // Someone else's instance does not exist for them.
    let reply = h.get(&format!("/v1/instances/{bob}"), &token).await;
    assert_eq!(reply.status, axum::http::StatusCode::NOT_FOUND);
    // Read scope: billing's operations are not theirs.
    let reply = h
        .post(&format!("/v1/instances/{alice}/suspend"), &token, json!({}))
        .await;
    assert_eq!(
        reply.status,
        axum::http::StatusCode::FORBIDDEN,
        "{}",
        reply.text
    );
    // A bad token is a plain 401 with the error shape.
    let mut expired = claims("alice", secs(SystemTime::now()));
    expired["exp"] = json!(secs(SystemTime::now()) - 3600);
    let reply = h
        .get("/v1/instances", &f.one.sign(&header("key-1"), &expired))
        .await;
    assert_eq!(reply.status, axum::http::StatusCode::UNAUTHORIZED);
    assert_eq!(reply.code(), "unauthorized");
    assert!(reply.text.contains("expired"), "{}", reply.text);
    // API keys still work beside it.
    let reply = h.get("/v1/instances", &h.read).await;
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_linked_user_acts_for_the_linked_customer_until_unlinked() {
    let f = fixture().await;
    let mut h = common::harness().await;
    let client = h.create(&h.manage, Some("whmcs-client-12"), "linked").await;
    h.create(&h.manage, Some("other"), "unlinked").await;
    let mut state = h.state.clone();
    state.firebase = Some(Arc::new(FirebaseVerifier::new(PROJECT, &f.server.url)));
    h.app = openclaw_http::routes::app(state);
    let token = f.one.token("uid-42", secs(SystemTime::now()));
    let ids = |reply: &common::Reply| -> Vec<String> {
        assert_eq!(reply.status, axum::http::StatusCode::OK, "{}", reply.text);
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };

    // No link: the user is customer `uid-42`, with nothing.
    let who = h.get("/v1/whoami", &token).await;
    assert_eq!(who.body["kind"], "firebase");
    assert_eq!(who.body["customer_id"], "uid-42");
    assert_eq!(who.body["scope"], "read");
    assert!(ids(&h.get("/v1/instances", &token).await).is_empty());

    let reply = h
        .call(
            axum::http::Method::PUT,
            "/v1/customer-links/uid-42",
            Some(&h.admin),
            Some(json!({"customer_id": "whmcs-client-12"})),
        )
        .await;
    assert_eq!(reply.status, axum::http::StatusCode::OK, "{}", reply.text);
    let who = h.get("/v1/whoami", &token).await;
    assert_eq!(who.body["customer_id"], "whmcs-client-12");
    assert_eq!(
        ids(&h.get("/v1/instances", &token).await),
        vec![client.clone()]
    );
    let reply = h.get(&format!("/v1/instances/{client}"), &token).await;
    assert_eq!(reply.status, axum::http::StatusCode::OK);
    // The link gives the customer's instances, not operators' views.
    let reply = h.get("/v1/overview", &token).await;
    assert_eq!(reply.status, axum::http::StatusCode::FORBIDDEN);
    let reply = h.get("/v1/customer-links", &token).await;
    assert_eq!(reply.status, axum::http::StatusCode::FORBIDDEN);

    let reply = h
        .call(
            axum::http::Method::DELETE,
            "/v1/customer-links/uid-42",
            Some(&h.admin),
            None,
        )
        .await;
    assert_eq!(reply.status, axum::http::StatusCode::NO_CONTENT);
    assert!(ids(&h.get("/v1/instances", &token).await).is_empty());
    let reply = h.get(&format!("/v1/instances/{client}"), &token).await;
    assert_eq!(reply.status, axum::http::StatusCode::NOT_FOUND);
}
