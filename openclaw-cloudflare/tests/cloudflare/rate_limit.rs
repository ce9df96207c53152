//! The adapter and Cloudflare's rate limit: headers reach the limiter, and a 429 pauses
//! every Cloudflare call of the process until its Retry-After has passed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use openclaw_cloudflare::fake::{FakeOptions, Fault, RateLimitSettings, Route};
use openclaw_cloudflare::CloudflareDns;
use openclaw_core::ports::{Dns, RateLimitObservation, RateLimiter};
use openclaw_core::{Clock, Error, TokenBucket};

use crate::support::{spec, Env, TOKEN, ZONE};

fn tight(limit: u32, block_secs: u64) -> FakeOptions {
    FakeOptions {
        token: Some(TOKEN.to_string()),
        rate_limit: RateLimitSettings {
            limit,
            window: Duration::from_secs(300),
            block: Duration::from_secs(block_secs),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pauses_every_call_of_the_process_until_retry_after() {
    let env = Env::start_with(tight(3, 2)).await;
    // Two adapters (two deployments) with one token share one limiter, as in a process.
    let ours = env.adapter("prod");
    let theirs = env.adapter("staging");
    let name = format!("busy.{ZONE}");
    // Someone else with the same token (another process, a person with curl) spends the
    // quota, so this process's limiter has no reason to hold back: the next call is refused.
    let url = format!("{}/zones/{}/dns_records", env.fake.base_url(), env.zone_id);
    let other_process = reqwest::Client::new();
    for _ in 0..3 {
        let response = other_process
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let refused = ours.find_records(&name).await.unwrap_err();
    assert!(
        matches!(refused, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(2)),
        "{refused:?}"
    );
    assert_eq!(env.fake.rate_limited(), 1);

    // The other adapter's next call waits out the pause instead of extending the block.
    let started = Instant::now();
    theirs.find_records(&name).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900),
        "waited only {waited:?}"
    );
    assert_eq!(
        env.fake.rate_limited(),
        1,
        "no call reached the fake during the block"
    );
    assert_eq!(env.fake.requests(Route::ListRecords), 5);
    assert_eq!(env.fake.rate_limited(), 1);
}

/// Without the shared pause, calling during the block would only earn more 429s: check the
/// fake really blocks, so the test above means something.
#[tokio::test]
async fn the_fake_blocks_every_call_after_a_breach() {
    let env = Env::start_with(tight(1, 60)).await;
    // A limiter of its own per adapter, and nothing observed: every call goes through.
    let config = env.config("prod");
    let name = format!("blocked.{ZONE}");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let fresh = openclaw_cloudflare::CloudflareDns::new(
            config.clone(),
            Arc::new(TokenBucket::cloudflare()),
        )
        .unwrap();
        statuses.push(fresh.find_records(&name).await.is_ok());
    }
    assert_eq!(statuses, [true, false, false]);
    assert_eq!(env.fake.rate_limited(), 2);
}

/// `Ratelimit: r=0` from the server empties the bucket until the window resets, even when
/// the bucket itself still had permits: other users of the token spent them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remaining_zero_waits_for_the_window() {
    let env = Env::start_with(FakeOptions {
        token: Some(TOKEN.to_string()),
        rate_limit: RateLimitSettings {
            limit: 2,
            window: Duration::from_secs(1),
            block: Duration::from_secs(60),
        },
    })
    .await;
    let dns = env.adapter("prod");
    let name = format!("window.{ZONE}");
    let started = Instant::now();
    for _ in 0..4 {
        dns.find_records(&name).await.unwrap();
    }
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        env.fake.rate_limited(),
        0,
        "the limiter kept below the limit"
    );
}

/// Records what the adapter tells its limiter.
#[derive(Debug, Default)]
struct Recorder {
    acquired: std::sync::atomic::AtomicU32,
    seen: std::sync::Mutex<Vec<RateLimitObservation>>,
}

#[async_trait::async_trait]
impl RateLimiter for Recorder {
    async fn acquire(&self, permits: u32) -> openclaw_core::Result<()> {
        self.acquired
            .fetch_add(permits, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
    async fn try_acquire(&self, _permits: u32) -> openclaw_core::Result<bool> {
        Ok(true)
    }
    async fn observe(&self, observation: &RateLimitObservation) -> openclaw_core::Result<()> {
        self.seen.lock().unwrap().push(*observation);
        Ok(())
    }
}

#[derive(Debug)]
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// One permit and one observation per request; a `Retry-After` given as an HTTP date is
/// read against the injected clock.
#[tokio::test]
async fn one_permit_and_one_observation_per_request() {
    let env = Env::start().await;
    let recorder = Arc::new(Recorder::default());
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let dns = CloudflareDns::new(env.config("prod"), recorder.clone())
        .unwrap()
        .with_clock(Arc::new(FixedClock(now)));
    dns.ensure_records(&spec("prod", "observed", true))
        .await
        .unwrap();
    assert_eq!(
        recorder.acquired.load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    {
        let seen = recorder.seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert!(seen
            .iter()
            .all(|o| o.limit == Some(1200) && o.retry_after.is_none()));
        assert_eq!(seen.last().unwrap().remaining, Some(1197));
    }

    let at = httpdate::fmt_http_date((now + chrono::Duration::seconds(42)).into());
    env.fake.inject(
        Some(Route::ListRecords),
        Fault::Raw {
            status: 429,
            headers: vec![("retry-after".into(), at)],
            body: r#"{"success":false,"errors":[{"code":971,"message":"slow down"}],"messages":[],"result":null}"#.into(),
        },
    );
    let err = dns.find_records(&format!("a.{ZONE}")).await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(42)),
        "{err:?}"
    );
    let last = *recorder.seen.lock().unwrap().last().unwrap();
    assert_eq!(last.retry_after, Some(Duration::from_secs(42)));
    assert_eq!(last.remaining, Some(0));

    // A 429 that names no pause at all still pauses: for Cloudflare's full 5-minute block.
    env.fake.inject(
        Some(Route::ListRecords),
        Fault::Raw {
            status: 429,
            headers: Vec::new(),
            body: String::new(),
        },
    );
    let err = dns.find_records(&format!("a.{ZONE}")).await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(300))
    );
}
