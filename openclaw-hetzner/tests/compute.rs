//! `HetznerCompute` against the fake: every operation, adoption, lost responses, errors,
//! rate limits, pagination and action batching.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{adapter, adapter_with, config, spec};
use openclaw_core::domain::{InstanceId, ServerId};
use openclaw_core::ports::ownership::{server_labels, server_name};
use openclaw_core::ports::{Compute, ServerStatus};
use openclaw_core::{
    Error, ErrorClass, GuardedCompute, Retrier, RetryBudget, RetryPolicy, TokenBucket,
};
use openclaw_hetzner::fake::{Endpoint, FakeHetzner, Fault};

fn numeric(id: &ServerId) -> u64 {
    id.as_str().parse().unwrap()
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        deadline: Duration::from_secs(10),
        max_retry_after: Duration::from_secs(10),
    }
}

fn guarded(compute: openclaw_hetzner::HetznerCompute) -> GuardedCompute {
    let retrier = Retrier::new("hetzner", fast_policy(), Arc::new(RetryBudget::default()));
    GuardedCompute::new(Arc::new(compute), retrier.with_seed(7))
}

#[tokio::test]
async fn create_sends_the_whole_spec_and_returns_addresses_in_one_request() {
    let fake = FakeHetzner::start().await.unwrap();
    let compute = adapter(&fake, "prod");
    let instance = InstanceId::new();
    let server = compute
        .create_server(&spec("prod", instance))
        .await
        .unwrap();

    assert_eq!(fake.total_requests(), 1, "{:?}", fake.request_counts());
    assert_eq!(server.name, server_name(instance));
    assert!(server.ipv4.is_some() && server.ipv6.is_some());
    assert_eq!(server.ownership().unwrap().instance, instance);

    let stored = fake.server(numeric(&server.id)).unwrap();
    assert_eq!(
        stored.labels,
        server_labels(&common::owner("prod"), instance)
    );
    assert_eq!(stored.firewalls, vec![38]);
    assert_eq!(stored.ssh_keys, vec!["admin-key".to_string()]);
    assert_eq!(stored.location, "fsn1");
    assert!(fake
        .user_data(stored.id)
        .unwrap()
        .starts_with("#cloud-config"));
    let request = &fake.requests()[0];
    assert_eq!(request.body.as_ref().unwrap()["start_after_create"], true);
    assert_eq!(
        request.user_agent.as_deref(),
        Some(openclaw_hetzner::USER_AGENT)
    );
}

#[tokio::test]
async fn find_get_and_list_see_only_what_they_should() {
    let fake = FakeHetzner::start().await.unwrap();
    let ours = adapter(&fake, "prod");
    let theirs = adapter(&fake, "staging");
    let instance = InstanceId::new();
    let created = ours.create_server(&spec("prod", instance)).await.unwrap();
    theirs
        .create_server(&spec("staging", InstanceId::new()))
        .await
        .unwrap();

    let found = ours.find_server(instance).await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    assert!(theirs.find_server(instance).await.unwrap().is_none());
    assert!(ours.find_server(InstanceId::new()).await.unwrap().is_none());

    assert_eq!(
        ours.get_server(&created.id).await.unwrap().unwrap().id,
        created.id
    );
    let before = fake.total_requests();
    assert!(ours
        .get_server(&ServerId::parse("not-a-number").unwrap())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        fake.total_requests(),
        before,
        "an impossible id costs nothing"
    );
    assert!(ours
        .get_server(&ServerId::parse("999999").unwrap())
        .await
        .unwrap()
        .is_none());

    let listed = ours.list_owned().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, created.id);
}

#[tokio::test]
async fn a_second_create_adopts_the_first_server() {
    let fake = FakeHetzner::start().await.unwrap();
    let compute = adapter(&fake, "prod");
    let spec = spec("prod", InstanceId::new());
    let first = compute.create_server(&spec).await.unwrap();
    let again = compute.create_server(&spec).await.unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(fake.servers().len(), 1);
    // POST (201), POST (409 uniqueness_error), GET /servers?name=
    assert_eq!(fake.request_count(Endpoint::CreateServer), 2);
    assert_eq!(fake.request_count(Endpoint::ListServers), 1);
    let lookup = fake.requests().pop().unwrap();
    assert!(lookup.query.contains(&("name".into(), spec.name.clone())));
}

#[tokio::test]
async fn a_server_with_our_name_but_not_our_labels_is_a_conflict() {
    let fake = FakeHetzner::start().await.unwrap();
    let compute = adapter(&fake, "prod");
    let instance = InstanceId::new();
    // Same name, owned by another deployment.
    fake.insert_server(
        &server_name(instance),
        server_labels(&common::owner("staging"), instance),
    );
    let error = compute
        .create_server(&spec("prod", instance))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Conflict { .. }), "{error:?}");
    assert_eq!(fake.servers().len(), 1);
}

#[tokio::test]
async fn a_lost_create_response_is_ambiguous_and_never_makes_two_servers() {
    for fault in [Fault::DropAfterCommit, Fault::GatewayTimeoutAfterCommit] {
        let fake = FakeHetzner::start().await.unwrap();
        let instance = InstanceId::new();
        fake.lose_next_response(Endpoint::CreateServer, 1, fault.clone());
        let error = adapter(&fake, "prod")
            .create_server(&spec("prod", instance))
            .await
            .unwrap_err();
        assert_eq!(error.class(), ErrorClass::Ambiguous, "{fault:?}: {error:?}");
        assert_eq!(fake.servers().len(), 1, "the create was committed");

        // The engine's way: retry under core's retrier, which looks up after an ambiguous
        // failure before it creates again.
        fake.lose_next_response(Endpoint::CreateServer, 1, fault.clone());
        let other = InstanceId::new();
        let server = guarded(adapter(&fake, "prod"))
            .create_server(&spec("prod", other))
            .await
            .unwrap();
        assert_eq!(server.ownership().unwrap().instance, other);
        let for_other: Vec<_> = fake
            .servers()
            .into_iter()
            .filter(|s| s.name == server_name(other))
            .collect();
        assert_eq!(for_other.len(), 1, "{fault:?}");
    }
}

#[tokio::test]
async fn a_create_that_times_out_is_ambiguous() {
    let fake = FakeHetzner::start().await.unwrap();
    fake.set_latency(Endpoint::CreateServer, Duration::from_millis(800));
    let config =
        config(&fake, "prod").with_timeouts(Duration::from_secs(1), Duration::from_millis(200));
    let compute = openclaw_hetzner::HetznerCompute::new(config).unwrap();
    let instance = InstanceId::new();
    let error = compute
        .create_server(&spec("prod", instance))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Ambiguous, "{error:?}");
    fake.set_latency(Endpoint::CreateServer, Duration::ZERO);
    let server = guarded(compute)
        .create_server(&spec("prod", instance))
        .await
        .unwrap();
    let named: Vec<_> = fake
        .servers()
        .into_iter()
        .filter(|s| s.name == server.name)
        .collect();
    assert_eq!(named.len(), 1);
}

#[tokio::test]
async fn delete_is_idempotent() {
    let fake = FakeHetzner::start().await.unwrap();
    let compute = adapter(&fake, "prod");
    let server = compute
        .create_server(&spec("prod", InstanceId::new()))
        .await
        .unwrap();
    compute.delete_server(&server.id).await.unwrap();
    // Hetzner keeps it as `deleting` for a moment; deleting it again meanwhile succeeds.
    compute.delete_server(&server.id).await.unwrap();
    let lingering = compute.get_server(&server.id).await.unwrap().unwrap();
    assert_eq!(lingering.status, ServerStatus::Deleting);

    // And once it is gone (404), too.
    fake.set_deleting_for(Duration::ZERO);
    let other = compute
        .create_server(&spec("prod", InstanceId::new()))
        .await
        .unwrap();
    compute.delete_server(&other.id).await.unwrap();
    assert!(fake.server(numeric(&other.id)).is_none());
    compute.delete_server(&other.id).await.unwrap();
    compute
        .delete_server(&ServerId::parse("not-numeric").unwrap())
        .await
        .unwrap();
    assert!(compute.get_server(&other.id).await.unwrap().is_none());
}

#[tokio::test]
async fn power_operations_wait_for_their_action_and_tolerate_repeats() {
    let fake = FakeHetzner::start().await.unwrap();
    let compute = adapter(&fake, "prod");
    let server = compute
        .create_server(&spec("prod", InstanceId::new()))
        .await
        .unwrap();
    compute.power_off(&server.id).await.unwrap();
    assert_eq!(fake.server(numeric(&server.id)).unwrap().status, "off");
    compute.power_off(&server.id).await.unwrap();
    assert_eq!(
        compute
            .get_server(&server.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ServerStatus::Off
    );
    compute.power_on(&server.id).await.unwrap();
    compute.power_on(&server.id).await.unwrap();
    assert_eq!(fake.server(numeric(&server.id)).unwrap().status, "running");

    let missing = ServerId::parse("424242").unwrap();
    assert!(matches!(
        compute.power_off(&missing).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        compute.power_on(&ServerId::parse("x").unwrap()).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn concurrent_power_operations_share_one_poll_per_tick() {
    const N: usize = 20;
    let fake = FakeHetzner::start().await.unwrap();
    let compute = Arc::new(adapter(&fake, "prod"));
    let mut ids = Vec::new();
    for _ in 0..N {
        let server = compute
            .create_server(&spec("prod", InstanceId::new()))
            .await
            .unwrap();
        ids.push(server.id);
    }
    fake.set_action_delay(Duration::from_millis(600));
    fake.reset_requests();
    let tasks: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let compute = compute.clone();
            tokio::spawn(async move { compute.power_off(&id).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert!(fake.servers().iter().all(|s| s.status == "off"));
    let polls: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Endpoint::GetActions)
        .collect();
    let widest = polls
        .iter()
        .map(|r| r.query.iter().filter(|(k, _)| k == "id").count())
        .max()
        .unwrap();
    // 600 ms of action at a 50 ms tick: about a dozen polls for all twenty actions
    // together, where polling each action alone would take twenty per tick.
    assert_eq!(widest, N, "one poll asked for every pending action");
    assert!(polls.len() < 2 * N, "{} polls", polls.len());
    assert_eq!(fake.request_count(Endpoint::GetAction), 0);
    assert_eq!(fake.request_count(Endpoint::PowerOff), N);
}

#[tokio::test]
async fn list_owned_follows_every_page() {
    let fake = FakeHetzner::start().await.unwrap();
    let owner = common::owner("prod");
    for _ in 0..120 {
        let instance = InstanceId::new();
        fake.insert_server(&server_name(instance), server_labels(&owner, instance));
    }
    for _ in 0..5 {
        let instance = InstanceId::new();
        fake.insert_server(
            &server_name(instance),
            server_labels(&common::owner("staging"), instance),
        );
    }
    let listed = adapter(&fake, "prod").list_owned().await.unwrap();
    assert_eq!(listed.len(), 120);
    assert!(listed.iter().all(|s| s.ownership().unwrap().owner == owner));
    let pages: Vec<_> = fake.requests();
    assert_eq!(pages.len(), 3, "120 servers at 50 per page");
    assert!(pages
        .iter()
        .all(|r| r.query.contains(&("per_page".into(), "50".into()))));
}

#[tokio::test]
async fn a_429_is_rate_limited_with_the_wait_and_correlation_id() {
    let fake = FakeHetzner::start().await.unwrap();
    fake.set_rate_limit(2, 0.5);
    let id = ServerId::parse("1").unwrap();
    // Another client of the project spends the budget; our limiter cannot know.
    let other = adapter(&fake, "prod");
    other.get_server(&id).await.unwrap();
    other.get_server(&id).await.unwrap();
    let compute = adapter(&fake, "prod");
    let error = compute.get_server(&id).await.unwrap_err();
    let Error::Provider {
        code,
        status,
        correlation_id,
        class,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(code, "rate_limit_exceeded");
    assert_eq!(*status, Some(429));
    assert!(correlation_id.as_deref().unwrap().starts_with("fake-"));
    let ErrorClass::RateLimited {
        retry_after: Some(wait),
    } = class
    else {
        panic!("{class:?}")
    };
    // Two requests refill in 4 s at 0.5/s; one comes back in about 2 s.
    assert!(
        *wait >= Duration::from_secs(1) && *wait <= Duration::from_secs(4),
        "{wait:?}"
    );
}

#[tokio::test]
async fn an_adapter_that_ran_its_budget_dry_waits_instead_of_being_refused() {
    let fake = FakeHetzner::start().await.unwrap();
    fake.set_rate_limit(2, 2.0);
    let compute = adapter(&fake, "prod");
    let id = ServerId::parse("1").unwrap();
    let started = std::time::Instant::now();
    for _ in 0..3 {
        compute.get_server(&id).await.unwrap();
    }
    // `RateLimit-Remaining: 0` paused the limiter for one refill interval (0.5 s), so the
    // third request was not sent into a 429.
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(fake.request_count(Endpoint::GetServer), 3);
}

#[tokio::test]
async fn the_limiter_is_corrected_from_the_headers() {
    let fake = FakeHetzner::start().await.unwrap();
    fake.set_rate_limit(10, 0.01);
    // Someone else spent 7 of the project's 10 requests.
    let other = adapter(&fake, "prod");
    for _ in 0..7 {
        other
            .get_server(&ServerId::parse("1").unwrap())
            .await
            .unwrap();
    }
    let bucket = Arc::new(TokenBucket::new(10, 0.01).unwrap());
    let compute = adapter_with(config(&fake, "prod"), bucket.clone());
    compute
        .get_server(&ServerId::parse("1").unwrap())
        .await
        .unwrap();
    // Our bucket granted 1 of 10, but Hetzner says 2 are left: the bucket follows Hetzner.
    assert!(bucket.available() <= 2.01, "{}", bucket.available());
}

#[tokio::test]
async fn errors_keep_hetzners_code_class_and_correlation_id() {
    let fake = FakeHetzner::start().await.unwrap();
    let compute = adapter(&fake, "prod");
    let id = ServerId::parse("1").unwrap();
    let cases: [(u16, &str, ErrorClass); 5] = [
        (423, "locked", ErrorClass::Retryable),
        (409, "conflict", ErrorClass::Retryable),
        (403, "token_readonly", ErrorClass::Permanent),
        (401, "unauthorized", ErrorClass::Permanent),
        (503, "service_error", ErrorClass::Retryable),
    ];
    for (status, code, class) in cases {
        fake.fail_next(Endpoint::GetServer, 1, status, code);
        let error = compute.get_server(&id).await.unwrap_err();
        assert_eq!(error.class(), class, "{code}");
        let Error::Provider {
            code: got,
            correlation_id,
            ..
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(got, code);
        assert!(correlation_id.is_some());
    }
    fake.fail_next_without_body(Endpoint::GetServer, 1, 502);
    let bare = compute.get_server(&id).await.unwrap_err();
    assert_eq!(bare.class(), ErrorClass::Retryable);
    fake.fail_next_without_body(Endpoint::CreateServer, 1, 504);
    let create = compute
        .create_server(&spec("prod", InstanceId::new()))
        .await
        .unwrap_err();
    assert_eq!(create.class(), ErrorClass::Ambiguous);
    fake.fail_next(Endpoint::CreateServer, 1, 403, "resource_limit_exceeded");
    let create = compute
        .create_server(&spec("prod", InstanceId::new()))
        .await
        .unwrap_err();
    assert_eq!(create.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn a_body_that_does_not_parse_names_the_endpoint_and_the_field() {
    let fake = FakeHetzner::start().await.unwrap();
    let compute = adapter(&fake, "prod");
    let id = ServerId::parse("1").unwrap();
    fake.answer_next_with(Endpoint::GetServer, 1, 200, "<html>maintenance</html>");
    let error = compute.get_server(&id).await.unwrap_err().to_string();
    assert!(error.contains("GET /servers/{id}"), "{error}");
    fake.answer_next_with(
        Endpoint::GetServer,
        1,
        200,
        r#"{"server": {"id": 1, "name": "x", "status": 7}}"#,
    );
    let error = compute.get_server(&id).await.unwrap_err().to_string();
    assert!(error.contains("server.status"), "{error}");
    fake.answer_next_with(Endpoint::ListServers, 1, 200, r#"{"servers": [{"id": 1}]}"#);
    let error = compute.list_owned().await.unwrap_err().to_string();
    assert!(
        error.contains("GET /servers") && error.contains("servers[0]"),
        "{error}"
    );

    // An unreadable answer to a create may stand for a server that exists: ambiguous.
    fake.answer_next_with(Endpoint::CreateServer, 1, 201, "{}");
    let error = compute
        .create_server(&spec("prod", InstanceId::new()))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Ambiguous);
}

#[tokio::test]
async fn specs_for_another_owner_or_with_bad_firewalls_are_refused_before_sending() {
    let fake = FakeHetzner::start().await.unwrap();
    let compute = adapter(&fake, "prod");
    let foreign = spec("staging", InstanceId::new());
    assert!(matches!(
        compute.create_server(&foreign).await,
        Err(Error::InvalidInput { ref field, .. }) if field == "owner"
    ));
    let mut bad = spec("prod", InstanceId::new());
    bad.firewalls = vec!["web".into()];
    assert!(matches!(
        compute.create_server(&bad).await,
        Err(Error::InvalidInput { ref field, .. }) if field == "firewalls"
    ));
    assert_eq!(fake.total_requests(), 0);
}

#[tokio::test]
async fn the_action_watcher_rides_out_transient_poll_failures_and_reports_permanent_ones() {
    let fake = FakeHetzner::start().await.unwrap();
    let compute = adapter(&fake, "prod");
    let server = compute
        .create_server(&spec("prod", InstanceId::new()))
        .await
        .unwrap();
    fake.set_action_delay(Duration::from_millis(200));

    fake.fail_next(Endpoint::GetActions, 2, 503, "service_error");
    compute.power_off(&server.id).await.unwrap();
    assert_eq!(fake.server(numeric(&server.id)).unwrap().status, "off");

    fake.fail_next(Endpoint::GetActions, 1, 403, "forbidden");
    let error = compute.power_on(&server.id).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Permanent, "{error:?}");
    assert!(error.to_string().contains("forbidden"), "{error}");
}

/// A limiter that grants everything and counts what it was asked.
#[derive(Default)]
struct Counting {
    acquired: std::sync::atomic::AtomicU32,
    observed: std::sync::Mutex<Vec<openclaw_core::ports::RateLimitObservation>>,
}

#[async_trait::async_trait]
impl openclaw_core::ports::RateLimiter for Counting {
    async fn acquire(&self, permits: u32) -> openclaw_core::Result<()> {
        self.acquired
            .fetch_add(permits, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    async fn try_acquire(&self, _permits: u32) -> openclaw_core::Result<bool> {
        Ok(true)
    }

    async fn observe(
        &self,
        observation: &openclaw_core::ports::RateLimitObservation,
    ) -> openclaw_core::Result<()> {
        self.observed.lock().unwrap().push(*observation);
        Ok(())
    }
}

#[tokio::test]
async fn every_request_takes_one_permit_and_reports_the_headers() {
    let fake = FakeHetzner::start().await.unwrap();
    let limiter = Arc::new(Counting::default());
    let compute = adapter_with(config(&fake, "prod"), limiter.clone());
    let instance = InstanceId::new();
    let server = compute
        .create_server(&spec("prod", instance))
        .await
        .unwrap();
    compute
        .create_server(&spec("prod", instance))
        .await
        .unwrap();
    compute.power_off(&server.id).await.unwrap();
    compute.list_owned().await.unwrap();
    compute.delete_server(&server.id).await.unwrap();

    let requests = fake.total_requests();
    assert!(requests >= 7, "{:?}", fake.request_counts());
    let acquired = limiter.acquired.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(acquired as usize, requests);
    let observed = limiter.observed.lock().unwrap().clone();
    assert_eq!(observed.len(), requests, "one observation per response");
    assert!(observed
        .iter()
        .all(|o| o.limit == Some(3600) && o.remaining.is_some()));
    // The fake's bucket went down with the requests (it refills one per second, so only
    // roughly by one each).
    let (first, last) = (
        observed[0].remaining.unwrap(),
        observed.last().unwrap().remaining.unwrap(),
    );
    assert!(last < first, "{first} -> {last}");
}
