//! Retry policy, retry budget, `Retry-After` parsing, the retrier, and the guarded ports.

// Test helpers outside `#[test]` functions may fail loudly too; clippy only exempts the
// test functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use openclaw_core::domain::{DeploymentName, InstanceId, RecordId, ServerId};
use openclaw_core::ports::ownership::{server_labels, server_name, Ownership};
use openclaw_core::ports::{
    Compute, Dns, DnsRecord, RateLimitObservation, RateLimiter, RecordSpec, RecordType, Server,
    ServerSpec, ServerStatus,
};
use openclaw_core::retry::{parse_retry_after, RetryDecision};
use openclaw_core::{
    Error, GuardedCompute, GuardedDns, Result, Retrier, RetryBudget, RetryPolicy, SecretString,
    TokenBucket,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------
// Retry-After
// ---------------------------------------------------------------------------------------

/// Wed, 21 Oct 2015 07:28:00 GMT.
const OCT_21_2015: u64 = 1_445_412_480;

#[test]
fn retry_after_in_seconds() {
    let now = SystemTime::now();
    assert_eq!(
        parse_retry_after("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
    assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
}

#[test]
fn retry_after_as_an_http_date() {
    let now = UNIX_EPOCH + Duration::from_secs(OCT_21_2015 - 90);
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
        Some(Duration::from_secs(90))
    );
    let later = UNIX_EPOCH + Duration::from_secs(OCT_21_2015 + 3600);
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", later),
        Some(Duration::ZERO),
        "a date in the past means: now"
    );
}

#[test]
fn retry_after_garbage_is_none() {
    let now = SystemTime::now();
    for garbage in [
        "",
        "   ",
        "soon",
        "-5",
        "1.5",
        "+3",
        "12s",
        "99999999999999999999999999",
        "Wed, 32 Oct 2015 07:28:00 GMT",
        "2015-10-21T07:28:00Z",
    ] {
        assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
    }
}

// ---------------------------------------------------------------------------------------
// A scripted operation
// ---------------------------------------------------------------------------------------

/// What a scripted call returns.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Ok,
    Retryable,
    RateLimited(Option<u64>),
    Permanent,
    Ambiguous,
}

impl Outcome {
    fn error(self) -> Option<Error> {
        match self {
            Outcome::Ok => None,
            Outcome::Retryable => Some(Error::unavailable("hetzner", "503")),
            Outcome::RateLimited(ms) => Some(Error::RateLimited {
                provider: "hetzner".into(),
                retry_after: ms.map(Duration::from_millis),
            }),
            Outcome::Permanent => Some(Error::invalid("plan", "unknown")),
            Outcome::Ambiguous => Some(Error::ambiguous("create_server", "timeout")),
        }
    }
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        2 => Just(Outcome::Ok),
        4 => Just(Outcome::Retryable),
        2 => proptest::option::of(0u64..400_000).prop_map(Outcome::RateLimited),
        1 => Just(Outcome::Permanent),
        3 => Just(Outcome::Ambiguous),
    ]
}

/// What a scripted look-up returns.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Found {
    Yes,
    No,
    Fails(Outcome),
}

fn found() -> impl Strategy<Value = Found> {
    prop_oneof![
        1 => Just(Found::Yes),
        3 => Just(Found::No),
        2 => outcome()
            .prop_filter("an error", |o| *o != Outcome::Ok)
            .prop_map(Found::Fails),
    ]
}

/// One call the retrier made, and what it got.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    Op(Outcome),
    Lookup(Found),
}

/// A script of outcomes for the operation and the look-up (past the end: success / not
/// found), and the record of every call with its time.
#[derive(Clone)]
struct Script {
    ops: Arc<Mutex<VecDeque<Outcome>>>,
    lookups: Arc<Mutex<VecDeque<Found>>>,
    calls: Arc<Mutex<Vec<(Duration, Call)>>>,
    start: Instant,
}

impl Script {
    fn new(ops: Vec<Outcome>, lookups: Vec<Found>) -> Self {
        Script {
            ops: Arc::new(Mutex::new(ops.into())),
            lookups: Arc::new(Mutex::new(lookups.into())),
            calls: Arc::new(Mutex::new(Vec::new())),
            start: Instant::now(),
        }
    }

    fn op(&self) -> impl std::future::Future<Output = Result<u32>> {
        let outcome = self.ops.lock().unwrap().pop_front().unwrap_or(Outcome::Ok);
        self.record(Call::Op(outcome));
        let result = outcome.error().map_or(Ok(1), Err);
        async move { result }
    }

    fn lookup(&self) -> impl std::future::Future<Output = Result<Option<u32>>> {
        let found = self
            .lookups
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Found::No);
        self.record(Call::Lookup(found));
        let result = match found {
            Found::Yes => Ok(Some(2)),
            Found::No => Ok(None),
            Found::Fails(outcome) => Err(outcome.error().unwrap()),
        };
        async move { result }
    }

    fn record(&self, call: Call) {
        self.calls
            .lock()
            .unwrap()
            .push((self.start.elapsed(), call));
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().iter().map(|(_, c)| *c).collect()
    }

    fn times(&self) -> Vec<Duration> {
        self.calls.lock().unwrap().iter().map(|(t, _)| *t).collect()
    }
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

/// A budget large enough never to be the reason to stop.
fn ample_budget() -> Arc<RetryBudget> {
    Arc::new(RetryBudget::new(1.0, 1000.0, 1e6).unwrap())
}

fn retrier(policy: RetryPolicy, seed: u64) -> Retrier {
    Retrier::new("hetzner", policy, ample_budget()).with_seed(seed)
}

fn policy() -> impl Strategy<Value = RetryPolicy> {
    (
        1u32..10,
        0u64..2_000,
        0u64..60_000,
        0u64..200_000,
        0u64..400_000,
    )
        .prop_map(
            |(max_attempts, base, max, deadline, max_retry_after)| RetryPolicy {
                max_attempts,
                base_delay: Duration::from_millis(base),
                max_delay: Duration::from_millis(max),
                deadline: Duration::from_millis(deadline),
                max_retry_after: Duration::from_millis(max_retry_after),
            },
        )
}

/// Runs `run` over a script on a paused clock: (result, calls, total time slept).
fn run_script(
    policy: RetryPolicy,
    seed: u64,
    ops: Vec<Outcome>,
) -> (Result<u32>, Vec<Call>, Duration) {
    paused_runtime().block_on(async move {
        let script = Script::new(ops, Vec::new());
        let start = Instant::now();
        let result = retrier(policy, seed).run("op", || script.op()).await;
        (result, script.calls(), start.elapsed())
    })
}

/// Runs `run_with_lookup` over a script on a paused clock: (result, calls, time slept).
fn run_script_with_lookup(
    policy: RetryPolicy,
    seed: u64,
    ops: Vec<Outcome>,
    lookups: Vec<Found>,
) -> (Result<u32>, Vec<Call>, Duration) {
    paused_runtime().block_on(async move {
        let script = Script::new(ops, lookups);
        let start = Instant::now();
        let result = retrier(policy, seed)
            .run_with_lookup("create", || script.op(), || script.lookup())
            .await;
        (result, script.calls(), start.elapsed())
    })
}

/// The largest backoff before retry `n`, computed independently of the code under test.
fn backoff_cap(policy: &RetryPolicy, n: u32) -> Duration {
    let doubled = policy.base_delay.as_nanos() << n.saturating_sub(1).min(64);
    Duration::from_nanos(u64::try_from(doubled).unwrap_or(u64::MAX)).min(policy.max_delay)
}

// ---------------------------------------------------------------------------------------
// Policy and retrier properties
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn total_sleep_never_exceeds_the_deadline(
        policy in policy(),
        seed in any::<u64>(),
        ops in proptest::collection::vec(outcome(), 0..12),
        lookups in proptest::collection::vec(found(), 0..12),
    ) {
        let (_, calls, slept) = run_script(policy.clone(), seed, ops.clone());
        prop_assert!(slept <= policy.deadline, "slept {slept:?}");
        prop_assert!(calls.len() <= policy.max_attempts as usize);

        let (_, _, slept) = run_script_with_lookup(policy.clone(), seed, ops, lookups);
        prop_assert!(slept <= policy.deadline, "slept {slept:?} with look-ups");
    }

    #[test]
    fn a_permanent_error_is_never_retried(
        policy in policy(),
        seed in any::<u64>(),
        before in proptest::collection::vec(
            outcome().prop_filter("not permanent", |o| *o != Outcome::Permanent), 0..6),
        after in proptest::collection::vec(outcome(), 0..6),
    ) {
        let mut ops = before;
        ops.push(Outcome::Permanent);
        ops.extend(after);
        let (result, calls, _) = run_script(policy, seed, ops);
        // Calls end at the first permanent error, if they get that far.
        if let Some(i) = calls.iter().position(|c| *c == Call::Op(Outcome::Permanent)) {
            prop_assert_eq!(i + 1, calls.len());
            let err = result.unwrap_err();
            prop_assert_eq!(err.root().code(), "invalid_input");
            if i == 0 {
                prop_assert!(matches!(err, Error::InvalidInput { .. }), "returned unchanged");
            }
        }
    }

    #[test]
    fn a_permanent_first_error_means_exactly_one_call(
        policy in policy(),
        seed in any::<u64>(),
        with_lookup in any::<bool>(),
    ) {
        let ops = vec![Outcome::Permanent, Outcome::Ok];
        let (result, calls, slept) = if with_lookup {
            run_script_with_lookup(policy, seed, ops, vec![Found::Yes])
        } else {
            run_script(policy, seed, ops)
        };
        prop_assert_eq!(calls, vec![Call::Op(Outcome::Permanent)]);
        prop_assert!(matches!(result, Err(Error::InvalidInput { .. })), "returned unchanged");
        prop_assert_eq!(slept, Duration::ZERO);
    }

    #[test]
    fn an_ambiguous_create_is_never_repeated_without_a_look_up(
        policy in policy(),
        seed in any::<u64>(),
        ops in proptest::collection::vec(outcome(), 0..12),
        lookups in proptest::collection::vec(found(), 0..12),
    ) {
        let (result, calls, _) = run_script_with_lookup(policy, seed, ops, lookups);
        // After an ambiguous create, the next create must follow a look-up that answered
        // "not found"; a failed look-up does not count.
        let mut unresolved = false;
        for call in &calls {
            match call {
                Call::Op(outcome) => {
                    prop_assert!(!unresolved, "blind create in {calls:?}");
                    unresolved = *outcome == Outcome::Ambiguous;
                }
                Call::Lookup(Found::No) => unresolved = false,
                Call::Lookup(_) => {}
            }
        }
        // A look-up that found the resource ends it with that resource.
        if let Some(Call::Lookup(Found::Yes)) = calls.last() {
            prop_assert_eq!(result.unwrap(), 2);
        }
        prop_assert!(!calls.iter().rev().skip(1).any(|c| *c == Call::Lookup(Found::Yes)));
    }

    #[test]
    fn backoff_stays_within_full_jitter_bounds(
        base_ms in 0u64..100_000,
        max_ms in 0u64..1_000_000,
        retry in 0u32..200,
        seed in any::<u64>(),
    ) {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(base_ms),
            max_delay: Duration::from_millis(max_ms),
            ..RetryPolicy::default()
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let cap = backoff_cap(&policy, retry);
        prop_assert_eq!(policy.backoff_cap(retry), cap);
        for _ in 0..20 {
            let wait = policy.backoff(retry, &mut rng);
            prop_assert!(wait <= cap, "{wait:?} > {cap:?}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_delays(
        seed in any::<u64>(),
        ops in proptest::collection::vec(outcome(), 0..8),
    ) {
        let times = |seed: u64| {
            paused_runtime().block_on(async {
                let script = Script::new(ops.clone(), Vec::new());
                let _ = retrier(RetryPolicy::default(), seed).run("op", || script.op()).await;
                script.times()
            })
        };
        prop_assert_eq!(times(seed), times(seed));
    }
}

#[test]
fn jitter_spreads_over_the_whole_interval() {
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    let mut rng = StdRng::seed_from_u64(1);
    let waits: Vec<Duration> = (0..1000).map(|_| policy.backoff(3, &mut rng)).collect();
    let (min, max) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
    assert!(*min < Duration::from_millis(40), "{min:?}");
    assert!(*max > Duration::from_millis(360), "{max:?}");
    assert!(*max <= Duration::from_millis(400));
}

#[test]
fn different_seeds_give_different_delays() {
    let ops = vec![Outcome::Retryable; 4];
    let (_, _, a) = run_script(RetryPolicy::default(), 1, ops.clone());
    let (_, _, b) = run_script(RetryPolicy::default(), 2, ops);
    assert_ne!(a, b);
}

#[test]
fn decisions_follow_the_error_class() {
    let policy = RetryPolicy::default();
    let mut rng = StdRng::seed_from_u64(3);
    let mut decide = |o: Outcome| policy.decide(&o.error().unwrap(), 1, Duration::ZERO, &mut rng);
    assert_eq!(decide(Outcome::Permanent), RetryDecision::GiveUp);
    assert!(matches!(
        decide(Outcome::Retryable),
        RetryDecision::Retry { .. }
    ));
    assert!(matches!(
        decide(Outcome::Ambiguous),
        RetryDecision::LookUpThenRetry { .. }
    ));
    assert_eq!(
        decide(Outcome::RateLimited(Some(20_000))),
        RetryDecision::Retry {
            after: Duration::from_secs(20)
        }
    );
    assert_eq!(
        decide(Outcome::RateLimited(Some(301_000))),
        RetryDecision::GiveUp
    );
}

#[test]
fn retries_until_success_and_honours_retry_after() {
    let ops = vec![
        Outcome::Retryable,
        Outcome::RateLimited(Some(10_000)),
        Outcome::Ambiguous,
        Outcome::Ok,
    ];
    let (result, calls, slept) = run_script(RetryPolicy::default(), 9, ops);
    assert_eq!(result.unwrap(), 1);
    assert_eq!(calls.len(), 4, "ambiguous is retried like retryable by run");
    assert!(slept >= Duration::from_secs(10));
}

#[test]
fn exhausted_retries_name_the_attempts_and_the_last_error() {
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let (result, calls, _) = run_script(policy, 4, vec![Outcome::Retryable; 10]);
    assert_eq!(calls.len(), 3);
    match result {
        Err(Error::RetriesExhausted { attempts, last }) => {
            assert_eq!(attempts, 3);
            assert_eq!(last.code(), "unavailable");
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
}

#[test]
fn an_ambiguous_create_found_by_the_look_up_is_not_created_again() {
    let (result, calls, _) = run_script_with_lookup(
        RetryPolicy::default(),
        5,
        vec![Outcome::Ambiguous],
        vec![Found::Fails(Outcome::Retryable), Found::Yes],
    );
    assert_eq!(result.unwrap(), 2);
    assert_eq!(
        calls,
        vec![
            Call::Op(Outcome::Ambiguous),
            Call::Lookup(Found::Fails(Outcome::Retryable)),
            Call::Lookup(Found::Yes),
        ]
    );
}

#[test]
fn a_permanent_look_up_error_gives_up() {
    let (result, calls, _) = run_script_with_lookup(
        RetryPolicy::default(),
        5,
        vec![Outcome::Ambiguous],
        vec![Found::Fails(Outcome::Permanent)],
    );
    assert_eq!(calls.len(), 2);
    assert!(matches!(
        result,
        Err(Error::RetriesExhausted { attempts: 2, .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Retry budget
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_spent_budget_stops_retries_and_deposits_bring_them_back() {
    let budget = Arc::new(RetryBudget::new(0.5, 0.0, 1.0).unwrap());
    assert!(budget.try_withdraw());
    assert!(!budget.try_withdraw());
    let retrier = Retrier::new("hetzner", RetryPolicy::default(), Arc::clone(&budget)).with_seed(1);

    // First run: its own deposit (0.5) does not pay for a retry.
    let script = Script::new(vec![Outcome::Retryable; 10], Vec::new());
    let result = retrier.run("op", || script.op()).await;
    assert_eq!(script.calls().len(), 1, "tried once");
    assert!(
        matches!(result, Err(Error::Unavailable { .. })),
        "a first-attempt give-up returns the error unchanged"
    );

    // Second run: two deposits make one token, so exactly one retry.
    let script = Script::new(vec![Outcome::Retryable; 10], Vec::new());
    let result = retrier.run("op", || script.op()).await;
    assert_eq!(script.calls().len(), 2);
    assert!(matches!(
        result,
        Err(Error::RetriesExhausted { attempts: 2, .. })
    ));
    assert!(budget.available() < 1.0);
}

#[tokio::test(start_paused = true)]
async fn an_outage_does_not_become_a_retry_storm() {
    let budget = Arc::new(RetryBudget::new(0.2, 0.0, 5.0).unwrap());
    let retrier = Retrier::new("hetzner", RetryPolicy::default(), budget).with_seed(2);
    let mut calls = 0;
    for _ in 0..50 {
        let script = Script::new(vec![Outcome::Retryable; 10], Vec::new());
        let _ = retrier.run("op", || script.op()).await;
        calls += script.calls().len();
    }
    // Without a budget: 50 × 5 = 250 calls. With it: 50 first attempts, plus the 5 banked
    // tokens and 0.2 per first attempt.
    assert!(calls <= 50 + 5 + 10, "{calls} calls");
    assert!(calls > 50, "the budget still allows some retries");
}

// ---------------------------------------------------------------------------------------
// Guarded ports with hand-written fakes
// ---------------------------------------------------------------------------------------

/// What the fake does to the next call.
#[derive(Debug, Clone)]
enum Fault {
    Fail(Error),
    /// Do the call, then lose the response (Ambiguous).
    LoseResponse,
}

/// A compute provider with scripted faults that, unlike a real one, happily creates a second
/// server with the same name, so any blind repeated create shows.
#[derive(Default)]
struct FakeCompute {
    servers: Mutex<Vec<Server>>,
    faults: Mutex<VecDeque<Fault>>,
    calls: Mutex<Vec<&'static str>>,
}

impl FakeCompute {
    fn with_faults(faults: Vec<Fault>) -> Arc<Self> {
        Arc::new(FakeCompute {
            faults: Mutex::new(faults.into()),
            ..FakeCompute::default()
        })
    }

    /// Records the call and returns the fault it suffers, if any.
    fn enter(&self, name: &'static str) -> Option<Fault> {
        self.calls.lock().unwrap().push(name);
        self.faults.lock().unwrap().pop_front()
    }

    fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().clone()
    }

    fn server_count(&self) -> usize {
        self.servers.lock().unwrap().len()
    }
}

#[async_trait]
impl Compute for FakeCompute {
    async fn create_server(&self, spec: &ServerSpec) -> Result<Server> {
        let fault = self.enter("create");
        if let Some(Fault::Fail(error)) = fault {
            return Err(error);
        }
        let mut servers = self.servers.lock().unwrap();
        let server = Server {
            id: ServerId::parse(format!("{}", servers.len() + 1)).unwrap(),
            name: spec.name.clone(),
            status: ServerStatus::Initializing,
            ipv4: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ipv6: None,
            labels: spec.labels.clone(),
            created_at: None,
            server_type: Some(spec.server_type.clone()),
            disk_gb: None,
        };
        servers.push(server.clone());
        match fault {
            Some(Fault::LoseResponse) => Err(Error::ambiguous("create_server", "timeout")),
            _ => Ok(server),
        }
    }

    async fn find_server(&self, instance: InstanceId) -> Result<Option<Server>> {
        if let Some(Fault::Fail(error)) = self.enter("find") {
            return Err(error);
        }
        let servers = self.servers.lock().unwrap();
        Ok(servers
            .iter()
            .find(|s| s.ownership().is_some_and(|o| o.instance == instance))
            .cloned())
    }

    async fn get_server(&self, id: &ServerId) -> Result<Option<Server>> {
        if let Some(Fault::Fail(error)) = self.enter("get") {
            return Err(error);
        }
        let servers = self.servers.lock().unwrap();
        Ok(servers.iter().find(|s| &s.id == id).cloned())
    }

    async fn delete_server(&self, id: &ServerId) -> Result<()> {
        if let Some(Fault::Fail(error)) = self.enter("delete") {
            return Err(error);
        }
        self.servers.lock().unwrap().retain(|s| &s.id != id);
        Ok(())
    }

    async fn power_off(&self, _id: &ServerId) -> Result<()> {
        match self.enter("power_off") {
            Some(Fault::Fail(error)) => Err(error),
            _ => Ok(()),
        }
    }

    async fn power_on(&self, _id: &ServerId) -> Result<()> {
        match self.enter("power_on") {
            Some(Fault::Fail(error)) => Err(error),
            _ => Ok(()),
        }
    }

    async fn change_type(&self, _id: &ServerId, _server_type: &str) -> Result<()> {
        match self.enter("change_type") {
            Some(Fault::Fail(error)) => Err(error),
            _ => Ok(()),
        }
    }

    async fn list_owned(&self) -> Result<Vec<Server>> {
        if let Some(Fault::Fail(error)) = self.enter("list") {
            return Err(error);
        }
        Ok(self.servers.lock().unwrap().clone())
    }
}

/// A DNS provider with scripted faults.
#[derive(Default)]
struct FakeDns {
    records: Mutex<Vec<DnsRecord>>,
    faults: Mutex<VecDeque<Fault>>,
    calls: Mutex<Vec<&'static str>>,
}

impl FakeDns {
    fn with_faults(faults: Vec<Fault>) -> Arc<Self> {
        Arc::new(FakeDns {
            faults: Mutex::new(faults.into()),
            ..FakeDns::default()
        })
    }

    fn enter(&self, name: &'static str) -> Option<Fault> {
        self.calls.lock().unwrap().push(name);
        self.faults.lock().unwrap().pop_front()
    }
}

#[async_trait]
impl Dns for FakeDns {
    async fn ensure_records(&self, spec: &RecordSpec) -> Result<Vec<DnsRecord>> {
        let fault = self.enter("ensure");
        if let Some(Fault::Fail(error)) = fault {
            return Err(error);
        }
        // Idempotent, as the port demands: adopt what is there.
        let mut records = self.records.lock().unwrap();
        if records.is_empty() {
            records.push(DnsRecord {
                id: RecordId::parse("r1").unwrap(),
                name: spec.name.clone(),
                record_type: RecordType::A,
                content: spec.ipv4.to_string(),
                ttl: spec.ttl,
                proxied: spec.proxied,
                ownership: Some(spec.ownership.clone()),
                created_at: None,
            });
        }
        match fault {
            Some(Fault::LoseResponse) => Err(Error::ambiguous("ensure_records", "timeout")),
            _ => Ok(records.clone()),
        }
    }

    async fn find_records(&self, name: &str) -> Result<Vec<DnsRecord>> {
        if let Some(Fault::Fail(error)) = self.enter("find") {
            return Err(error);
        }
        let records = self.records.lock().unwrap();
        Ok(records.iter().filter(|r| r.name == name).cloned().collect())
    }

    async fn delete_record(&self, id: &RecordId) -> Result<()> {
        if let Some(Fault::Fail(error)) = self.enter("delete") {
            return Err(error);
        }
        self.records.lock().unwrap().retain(|r| &r.id != id);
        Ok(())
    }

    async fn list_owned(&self) -> Result<Vec<DnsRecord>> {
        if let Some(Fault::Fail(error)) = self.enter("list") {
            return Err(error);
        }
        Ok(self.records.lock().unwrap().clone())
    }
}

/// A limiter that grants everything and counts what it was asked.
#[derive(Default)]
struct CountingLimiter {
    permits: AtomicU32,
    observations: Mutex<Vec<RateLimitObservation>>,
}

#[async_trait]
impl RateLimiter for CountingLimiter {
    async fn acquire(&self, permits: u32) -> Result<()> {
        self.permits.fetch_add(permits, Ordering::SeqCst);
        Ok(())
    }

    async fn try_acquire(&self, permits: u32) -> Result<bool> {
        self.permits.fetch_add(permits, Ordering::SeqCst);
        Ok(true)
    }

    async fn observe(&self, observation: &RateLimitObservation) -> Result<()> {
        self.observations.lock().unwrap().push(*observation);
        Ok(())
    }
}

fn owner() -> DeploymentName {
    DeploymentName::parse("test").unwrap()
}

fn spec(instance: InstanceId) -> ServerSpec {
    ServerSpec {
        instance_id: instance,
        name: server_name(instance),
        owner: owner(),
        server_type: "cpx22".into(),
        image: "ubuntu-24.04".into(),
        location: "fsn1".into(),
        user_data: SecretString::new("#cloud-config\n"),
        labels: server_labels(&owner(), instance),
        ssh_keys: Vec::new(),
        firewalls: Vec::new(),
        enable_ipv6: false,
    }
}

fn record_spec() -> RecordSpec {
    RecordSpec {
        ownership: Ownership {
            owner: owner(),
            instance: InstanceId::new(),
        },
        name: "alice.example.com".into(),
        ipv4: Ipv4Addr::new(192, 0, 2, 1),
        ipv6: None,
        ttl: 60,
        proxied: false,
    }
}

fn guarded_retrier() -> Retrier {
    Retrier::new("fake", RetryPolicy::default(), ample_budget()).with_seed(11)
}

fn unavailable() -> Fault {
    Fault::Fail(Error::unavailable("fake", "502"))
}

#[tokio::test(start_paused = true)]
async fn guarded_compute_retries_until_success() {
    let fake = FakeCompute::with_faults(vec![unavailable(), unavailable(), unavailable()]);
    let limiter = Arc::new(CountingLimiter::default());
    let compute =
        GuardedCompute::new(fake.clone(), guarded_retrier()).with_limiter(limiter.clone());
    let server = compute
        .create_server(&spec(InstanceId::new()))
        .await
        .unwrap();
    assert_eq!(fake.calls(), vec!["create"; 4]);
    assert_eq!(fake.server_count(), 1);
    assert_eq!(
        limiter.permits.load(Ordering::SeqCst),
        4,
        "one permit per call"
    );
    assert_eq!(
        compute.get_server(&server.id).await.unwrap().map(|s| s.id),
        Some(server.id)
    );
    assert_eq!(limiter.permits.load(Ordering::SeqCst), 5);
}

#[tokio::test(start_paused = true)]
async fn guarded_compute_creates_exactly_one_server_when_the_response_is_lost() {
    let fake = FakeCompute::with_faults(vec![Fault::LoseResponse]);
    let limiter = Arc::new(CountingLimiter::default());
    let compute =
        GuardedCompute::new(fake.clone(), guarded_retrier()).with_limiter(limiter.clone());
    let instance = InstanceId::new();
    let server = compute.create_server(&spec(instance)).await.unwrap();
    assert_eq!(fake.calls(), vec!["create", "find"]);
    assert_eq!(fake.server_count(), 1, "found, not created again");
    assert_eq!(server.name, server_name(instance));
    assert_eq!(
        limiter.permits.load(Ordering::SeqCst),
        2,
        "the look-up costs a permit too"
    );
}

#[tokio::test(start_paused = true)]
async fn guarded_compute_creates_again_when_the_look_up_finds_nothing() {
    let ambiguous = Fault::Fail(Error::ambiguous("create_server", "connection reset"));
    let fake = FakeCompute::with_faults(vec![ambiguous, unavailable()]);
    let compute = GuardedCompute::new(fake.clone(), guarded_retrier());
    compute
        .create_server(&spec(InstanceId::new()))
        .await
        .unwrap();
    // The failed look-up is looked up again before any create.
    assert_eq!(fake.calls(), vec!["create", "find", "find", "create"]);
    assert_eq!(fake.server_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn guarded_compute_ignores_a_server_of_the_instance_under_another_name() {
    let fake = FakeCompute::with_faults(Vec::new());
    let instance = InstanceId::new();
    let mut hand_made = spec(instance);
    hand_made.name = "hand-made".into();
    // A server labelled for the instance, but not the one a create of the spec makes.
    fake.create_server(&hand_made).await.unwrap();
    fake.calls.lock().unwrap().clear();
    let ambiguous = Fault::Fail(Error::ambiguous("create_server", "connection reset"));
    fake.faults.lock().unwrap().push_back(ambiguous);

    let compute = GuardedCompute::new(fake.clone(), guarded_retrier());
    let created = compute.create_server(&spec(instance)).await.unwrap();
    assert_eq!(fake.calls(), vec!["create", "find", "create"]);
    assert_eq!(created.name, server_name(instance));
}

#[tokio::test(start_paused = true)]
async fn guarded_compute_returns_a_permanent_error_at_once() {
    let fake = FakeCompute::with_faults(vec![Fault::Fail(Error::conflict("name taken"))]);
    let compute = GuardedCompute::new(fake.clone(), guarded_retrier());
    let err = compute
        .power_off(&ServerId::parse("1").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }));
    assert_eq!(fake.calls(), vec!["power_off"]);
}

#[tokio::test(start_paused = true)]
async fn guarded_compute_tells_its_limiter_about_retry_after() {
    let start = Instant::now();
    let limited = Fault::Fail(Error::RateLimited {
        provider: "fake".into(),
        retry_after: Some(Duration::from_secs(3)),
    });
    let fake = FakeCompute::with_faults(vec![limited]);
    let limiter = Arc::new(CountingLimiter::default());
    let compute =
        GuardedCompute::new(fake.clone(), guarded_retrier()).with_limiter(limiter.clone());
    assert!(compute.list_owned().await.unwrap().is_empty());
    assert!(start.elapsed() >= Duration::from_secs(3));
    let observations = limiter.observations.lock().unwrap().clone();
    assert_eq!(
        observations,
        vec![RateLimitObservation {
            retry_after: Some(Duration::from_secs(3)),
            ..Default::default()
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn guarded_dns_retries_ensure_records_which_is_idempotent() {
    let fake = FakeDns::with_faults(vec![unavailable(), Fault::LoseResponse]);
    let bucket = Arc::new(TokenBucket::new(10, 0.001).unwrap());
    let dns = GuardedDns::new(fake.clone(), guarded_retrier()).with_limiter(bucket.clone());
    let records = dns.ensure_records(&record_spec()).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(*fake.calls.lock().unwrap(), vec!["ensure"; 3]);
    assert!(
        (bucket.available() - 7.0).abs() < 0.01,
        "{}",
        bucket.available()
    );
    dns.delete_record(&records[0].id).await.unwrap();
    assert!(dns
        .find_records("alice.example.com")
        .await
        .unwrap()
        .is_empty());
    assert!(dns.list_owned().await.unwrap().is_empty());
    assert!(
        (bucket.available() - 4.0).abs() < 0.01,
        "{}",
        bucket.available()
    );
}
