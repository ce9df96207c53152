//! Adopt, update, refuse: what `ensure_records` does with what it finds, how many requests
//! each operation costs, and how it survives duplicates and lost responses.

use std::net::Ipv4Addr;
use std::time::Duration;

use openclaw_cloudflare::fake::{FakeRecord, Fault, Route};
use openclaw_core::domain::RecordId;
use openclaw_core::ports::{Dns, RecordType};
use openclaw_core::{Error, ErrorClass};

use crate::support::{spec, Env, ZONE};

fn counts(env: &Env) -> [u64; 4] {
    [
        env.fake.requests(Route::ListRecords),
        env.fake.requests(Route::CreateRecord),
        env.fake.requests(Route::PatchRecord),
        env.fake.requests(Route::DeleteRecord),
    ]
}

/// What each operation costs in requests against the 1200/5 min budget: a new instance with
/// A and AAAA is one look-up and two creates; ensuring it again is one look-up; an update is
/// one look-up and one PATCH per record; a delete is one request.
#[tokio::test]
async fn requests_per_operation() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let mut s = spec("prod", "counted", true);

    let created = dns.ensure_records(&s).await.unwrap();
    assert_eq!(counts(&env), [1, 2, 0, 0], "create A+AAAA");
    assert_eq!(created.len(), 2);

    let again = dns.ensure_records(&s).await.unwrap();
    assert_eq!(again, created);
    assert_eq!(counts(&env), [2, 2, 0, 0], "adopt: one look-up");

    s.ipv4 = Ipv4Addr::new(192, 0, 2, 99);
    dns.ensure_records(&s).await.unwrap();
    assert_eq!(counts(&env), [3, 2, 1, 0], "update the A record only");

    dns.delete_record(&created[0].id).await.unwrap();
    assert_eq!(counts(&env), [3, 2, 1, 1], "delete: one request");
    dns.delete_record(&created[0].id).await.unwrap();
    assert_eq!(counts(&env), [3, 2, 1, 2], "delete again: one request");

    let s4 = spec("prod", "only-v4", false);
    dns.ensure_records(&s4).await.unwrap();
    assert_eq!(counts(&env), [4, 3, 1, 2], "create A only");
}

#[tokio::test]
async fn ours_is_adopted_and_updated_in_place() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let mut s = spec("prod", "moving", true);
    let first = dns.ensure_records(&s).await.unwrap();
    s.ttl = 600;
    s.ipv4 = Ipv4Addr::new(192, 0, 2, 77);
    let moved = dns.ensure_records(&s).await.unwrap();
    assert_eq!(moved[0].id, first[0].id);
    assert_eq!(moved[0].content, "192.0.2.77");
    assert_eq!(moved[0].ttl, 600);
    assert_eq!(moved[1].ttl, 600, "the AAAA's TTL follows too");
    let stored = env.fake.records(&env.zone_id);
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .all(|r| r.comment.as_deref() == Some(s.ownership.dns_comment().as_str())));
}

/// Proxied records are kept at TTL 1 by Cloudflare: ensuring a proxied spec with TTL 300
/// twice must not update anything the second time.
#[tokio::test]
async fn proxied_records_are_not_updated_for_ever() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let mut s = spec("prod", "orange", false);
    s.proxied = true;
    let first = dns.ensure_records(&s).await.unwrap();
    assert!(first[0].proxied);
    assert_eq!(first[0].ttl, 1);
    dns.ensure_records(&s).await.unwrap();
    assert_eq!(env.fake.requests(Route::PatchRecord), 0);
}

#[tokio::test]
async fn config_overrides_ttl_and_proxying() {
    let env = Env::start().await;
    let dns = env.adapter_with(env.config("prod").with_ttl(3600));
    let records = dns
        .ensure_records(&spec("prod", "forced", false))
        .await
        .unwrap();
    assert_eq!(records[0].ttl, 3600);
    let dns = env.adapter_with(env.config("prod").with_proxied(true));
    let records = dns
        .ensure_records(&spec("prod", "forced-proxy", false))
        .await
        .unwrap();
    assert!(records[0].proxied);
}

/// A record made by hand at the name is never changed, whatever we ask for, and costs us
/// exactly the look-up.
#[tokio::test]
async fn an_unmarked_record_is_never_changed() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let manual = FakeRecord::new(format!("hand.{ZONE}"), "A", "198.51.100.7")
        .with_comment("set up by the ops team");
    let manual = env.fake.insert_record(&env.zone_id, &manual).unwrap();
    for ipv6 in [false, true] {
        let err = dns
            .ensure_records(&spec("prod", "hand", ipv6))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
        assert!(err.to_string().contains("not marked by openclaw"), "{err}");
    }
    assert_eq!(env.fake.records(&env.zone_id), vec![manual]);
    assert_eq!(counts(&env), [2, 0, 0, 0], "only look-ups");
}

/// A conflict on the AAAA is found before the A is created: nothing is left behind.
#[tokio::test]
async fn a_conflict_on_one_type_writes_nothing() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let manual = FakeRecord::new(format!("half.{ZONE}"), "AAAA", "2001:db8::99");
    env.fake.insert_record(&env.zone_id, &manual).unwrap();
    let err = dns
        .ensure_records(&spec("prod", "half", true))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }));
    assert_eq!(env.fake.records(&env.zone_id).len(), 1);
}

#[tokio::test]
async fn another_deployments_or_instances_record_is_refused() {
    let env = Env::start().await;
    let theirs = env.adapter("staging");
    let ours = env.adapter("prod");
    let their_records = theirs
        .ensure_records(&spec("staging", "shared", false))
        .await
        .unwrap();
    let err = ours
        .ensure_records(&spec("prod", "shared", false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }));
    assert!(err.to_string().contains("deployment staging"), "{err}");

    let first = ours
        .ensure_records(&spec("prod", "mine", false))
        .await
        .unwrap();
    let other_instance = spec("prod", "mine", false);
    let err = ours.ensure_records(&other_instance).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }));
    assert_eq!(
        ours.find_records(&format!("mine.{ZONE}")).await.unwrap(),
        first
    );
    assert_eq!(
        theirs
            .find_records(&format!("shared.{ZONE}"))
            .await
            .unwrap(),
        their_records
    );
}

#[tokio::test]
async fn a_cname_at_the_name_is_a_conflict() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let cname = FakeRecord::new(format!("alias.{ZONE}"), "CNAME", "elsewhere.example.net");
    env.fake.insert_record(&env.zone_id, &cname).unwrap();
    let err = dns
        .ensure_records(&spec("prod", "alias", false))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("CNAME"), "{err}");
    assert_eq!(env.fake.requests(Route::CreateRecord), 0);
}

/// A record of ours appears between our look-up and our create (a concurrent worker, or a
/// create of ours whose response was lost): Cloudflare refuses the create with 81057 or
/// 81058, and the adapter looks again and adopts it.
#[tokio::test]
async fn duplicate_codes_on_create_lead_to_adoption() {
    for code in [81057, 81058] {
        let env = Env::start().await;
        env.fake.set_duplicate_code(code);
        let dns = env.adapter("prod");
        let s = spec("prod", "raced", false);
        let racer = FakeRecord {
            ttl: s.ttl,
            ..FakeRecord::new(&s.name, "A", s.ipv4.to_string())
                .with_comment(s.ownership.dns_comment())
        };
        env.fake
            .inject(Some(Route::CreateRecord), Fault::Race(racer));
        let records = dns.ensure_records(&s).await.unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].ownership.as_ref(), Some(&s.ownership));
        assert_eq!(env.fake.records(&env.zone_id).len(), 1, "code {code}");
        assert_eq!(
            counts(&env),
            [2, 1, 0, 0],
            "look-up, create (refused), look-up"
        );
        let refused = env
            .fake
            .captured()
            .into_iter()
            .find(|c| c.route == Some(Route::CreateRecord))
            .unwrap();
        assert_eq!(refused.response["errors"][0]["code"], code);
    }
}

/// The racer was someone else: the duplicate code ends in a conflict, not an adoption.
#[tokio::test]
async fn a_duplicate_that_is_not_ours_is_a_conflict() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let s = spec("prod", "stolen", false);
    let racer = FakeRecord::new(&s.name, "A", s.ipv4.to_string());
    env.fake
        .inject(Some(Route::CreateRecord), Fault::Race(racer));
    let err = dns.ensure_records(&s).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
}

/// Two records of ours for one type (left by an old bug or a lost response at a provider
/// that allows it) become one: the matching one is kept, the other deleted.
#[tokio::test]
async fn duplicates_of_ours_are_reduced_to_one() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let s = spec("prod", "twice", false);
    for content in ["192.0.2.200", "192.0.2.10"] {
        let mut r = FakeRecord::new(&s.name, "A", content).with_comment(s.ownership.dns_comment());
        r.ttl = s.ttl;
        env.fake.insert_record(&env.zone_id, &r).unwrap();
    }
    let records = dns.ensure_records(&s).await.unwrap();
    assert_eq!(records[0].content, "192.0.2.10");
    let stored = env.fake.records(&env.zone_id);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].content, "192.0.2.10");
    assert_eq!(env.fake.requests(Route::PatchRecord), 0);
}

/// The create happened but its response was lost: the adapter reports it as ambiguous, and
/// ensuring again adopts the record instead of creating a second.
#[tokio::test]
async fn a_lost_create_response_is_ambiguous_and_the_retry_adopts() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let s = spec("prod", "lost", true);
    env.fake
        .inject(Some(Route::CreateRecord), Fault::CommitThenDrop);
    let err = dns.ensure_records(&s).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Ambiguous, "{err:?}");
    assert_eq!(env.fake.records(&env.zone_id).len(), 1, "the A was created");
    let records = dns.ensure_records(&s).await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(
        env.fake.records(&env.zone_id).len(),
        2,
        "nothing created twice"
    );
}

/// A create that outlives the client's timeout is ambiguous too.
#[tokio::test]
async fn a_create_past_the_timeout_is_ambiguous() {
    let env = Env::start().await;
    let config = env
        .config("prod")
        .with_timeouts(Duration::from_secs(1), Duration::from_millis(300));
    let dns = env.adapter_with(config);
    let s = spec("prod", "slow", false);
    env.fake.inject(
        Some(Route::CreateRecord),
        Fault::CommitThenStall(Duration::from_secs(2)),
    );
    let err = dns.ensure_records(&s).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Ambiguous, "{err:?}");
    let records = dns.ensure_records(&s).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(env.fake.records(&env.zone_id).len(), 1);
}

#[tokio::test]
async fn delete_of_a_missing_record_succeeds_but_a_wrong_zone_does_not() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let missing = RecordId::parse("0123456789abcdef0123456789abcdef").unwrap();
    dns.delete_record(&missing).await.unwrap();
    let captured = env.fake.captured();
    assert_eq!(captured.last().unwrap().status, 404);
    assert_eq!(
        captured.last().unwrap().response["errors"][0]["code"],
        81044
    );

    let mut config = env.config("prod");
    config.zone_id = "ffffffffffffffffffffffffffffffff".into();
    let wrong_zone = env.adapter_with(config);
    let err = wrong_zone.delete_record(&missing).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(err.to_string().contains("7003"), "{err}");
}

#[tokio::test]
async fn names_outside_the_zone_and_foreign_owners_are_refused_before_any_request() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let mut s = spec("prod", "x", false);
    s.name = "x.example.org".into();
    let err = dns.ensure_records(&s).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "name"));
    let err = dns
        .ensure_records(&spec("staging", "y", false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "ownership"));
    let mut s = spec("prod", "z", false);
    s.ttl = 5;
    let err = dns.ensure_records(&s).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "ttl"));
    assert!(dns.find_records("a.example.org").await.is_err());
    assert_eq!(env.fake.total_requests(), 0);
}

#[tokio::test]
async fn names_compare_without_case_or_trailing_dot() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let mut s = spec("prod", "Upper", false);
    s.name = format!("Upper.{}.", ZONE.to_uppercase());
    let created = dns.ensure_records(&s).await.unwrap();
    assert_eq!(created[0].name, format!("upper.{ZONE}"));
    let again = dns.ensure_records(&s).await.unwrap();
    assert_eq!(again, created);
    let found = dns.find_records(&format!("UPPER.{ZONE}.")).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].record_type, RecordType::A);
}

/// `find_records` reports A and AAAA only: a TXT at the name is none of its business.
#[tokio::test]
async fn find_records_skips_other_types() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let txt = FakeRecord::new(format!("mixed.{ZONE}"), "TXT", "v=spf1 -all");
    env.fake.insert_record(&env.zone_id, &txt).unwrap();
    assert!(dns
        .find_records(&format!("mixed.{ZONE}"))
        .await
        .unwrap()
        .is_empty());
    let records = dns
        .ensure_records(&spec("prod", "mixed", false))
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "a TXT does not block an A");
}

/// A gateway error after the create went through: retryable, and the retry adopts.
#[tokio::test]
async fn a_server_error_after_the_create_is_retried_without_a_second_record() {
    let env = Env::start().await;
    let dns = env.adapter("prod");
    let s = spec("prod", "gateway", false);
    env.fake.inject(
        Some(Route::CreateRecord),
        Fault::CommitThenError {
            status: 504,
            code: 10001,
        },
    );
    let err = dns.ensure_records(&s).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retryable, "{err:?}");
    dns.ensure_records(&s).await.unwrap();
    assert_eq!(env.fake.records(&env.zone_id).len(), 1);
}

/// The way the engine uses the adapter: behind `GuardedDns` (without a limiter: the adapter
/// limits every request itself). Lost responses and gateway errors on creates are retried by
/// the wrapper and still end in exactly one record per type.
#[tokio::test]
async fn behind_guarded_dns_faults_end_in_exactly_one_record_per_type() {
    use std::sync::Arc;

    use openclaw_core::{GuardedDns, Retrier, RetryBudget, RetryPolicy};

    let env = Env::start().await;
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::default()
    };
    let retrier = Retrier::new("cloudflare", policy, Arc::new(RetryBudget::default())).with_seed(7);
    let guarded = GuardedDns::new(Arc::new(env.adapter("prod")), retrier);
    env.fake
        .inject(Some(Route::CreateRecord), Fault::CommitThenDrop);
    env.fake.inject(
        Some(Route::CreateRecord),
        Fault::CommitThenError {
            status: 502,
            code: 10001,
        },
    );
    env.fake.fail_next(Some(Route::ListRecords), 1, 503, 10001);
    let s = spec("prod", "guarded", true);
    let records = guarded.ensure_records(&s).await.unwrap();
    assert_eq!(records.len(), 2);
    let stored = env.fake.records(&env.zone_id);
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(
        guarded.ensure_records(&s).await.unwrap(),
        records,
        "and a further ensure changes nothing"
    );
}
