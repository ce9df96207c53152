//! `RedisRateLimiter` when Redis drops its connections (`CLIENT KILL`): it reconnects by
//! itself and the shared budget is used again. A test binary of its own, so that killing
//! every client connection cannot disturb the other tests (cargo runs test binaries one at a
//! time). Needs a Redis at `REDIS_URL`; never skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use openclaw_bus_redis::{RedisLimiterConfig, RedisRateLimiter};
use openclaw_core::ports::RateLimiter;

mod common;
use common::{limiter, redis_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_comes_back_without_a_fallback() {
    let key = format!("openclaw:test-kill-{}:limit", std::process::id());
    let shared = limiter(&key, 100, 100.0, 2);
    assert!(shared.try_acquire(1).await.unwrap());
    // Kill every normal client connection, ours included.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let _: redis::Value = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query_async(&mut admin)
        .await
        .unwrap();
    let mut granted = 0;
    for _ in 0..20 {
        if shared.try_acquire(1).await.unwrap() {
            granted += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(granted >= 10, "{granted} granted after the kill");
    // Whatever the reconnect cost, the budget in Redis is used again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = shared.fallback_grants();
    assert!(shared.try_acquire(1).await.unwrap());
    assert_eq!(shared.fallback_grants(), before, "granted by Redis again");
    assert!(!shared.in_fallback());
}

/// A `redis-server` of the test's own on a free port, so that it can be killed and restarted
/// without touching the Redis other tests use. Killed when dropped.
struct PrivateRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("openclaw-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = PrivateRedis {
            port,
            dir,
            child: None,
        };
        redis.spawn();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (no persistence: a restart loses everything, as the worst case
    /// would) and waits until it answers.
    fn spawn(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/services installs it)");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server on port {} did not come up", self.port);
    }

    /// SIGKILL, as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

mod bus {
    use std::sync::Arc;

    use chrono::Utc;
    use futures_util::StreamExt;
    use openclaw_bus_redis::{RedisBus, RedisBusConfig};
    use openclaw_core::domain::{Event, NewEvent};
    use openclaw_core::ports::{EventBus, EventStream, Store};
    use openclaw_core::InMemoryStore;

    use super::*;

    fn replica(url: &str, store: &Arc<dyn Store>) -> RedisBus {
        let mut config = RedisBusConfig::new(url, "faults");
        config.idle_poll = Duration::from_millis(500);
        RedisBus::new(config, Arc::clone(store)).unwrap()
    }

    /// Appends and publishes `n` events on `bus`, one every few milliseconds, ignoring
    /// publish failures (the log has every event).
    async fn publish_some(store: &Arc<dyn Store>, bus: &RedisBus, n: usize) -> Vec<Event> {
        let mut events = Vec::new();
        for i in 0..n {
            let event = store
                .append_event(&NewEvent::alert(
                    None,
                    "fault",
                    format!("event {i}"),
                    Utc::now(),
                ))
                .await
                .unwrap();
            let _ = bus.publish(&event).await;
            events.push(event);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        events
    }

    /// Reads `expected.len()` events and checks they are exactly `expected`.
    async fn receive_all(stream: &mut EventStream, expected: &[Event]) {
        for wanted in expected {
            let got = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .unwrap_or_else(|_| panic!("event {} never arrived", wanted.sequence))
                .unwrap()
                .unwrap();
            assert_eq!(&got, wanted, "missed, doubled or reordered");
        }
    }

    async fn until_listening(bus: &RedisBus) {
        for _ in 0..500 {
            if bus.stats().live_connected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("not subscribed: {:?}", bus.stats());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn killed_bus_connections_lose_and_double_nothing() {
        let redis = PrivateRedis::start();
        let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
        let a = replica(&redis.url(), &store);
        let b = replica(&redis.url(), &store);
        let mut stream = b.subscribe(None, Some(0)).await.unwrap();
        until_listening(&b).await;
        let mut events = publish_some(&store, &a, 50).await;
        let client = redis::Client::open(redis.url()).unwrap();
        let mut admin = client.get_multiplexed_async_connection().await.unwrap();
        for kind in ["pubsub", "normal"] {
            let _: redis::Value = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("TYPE")
                .arg(kind)
                .arg("SKIPME")
                .arg("yes")
                .query_async(&mut admin)
                .await
                .unwrap();
            events.extend(publish_some(&store, &a, 50).await);
        }
        receive_all(&mut stream, &events).await;
        let stats = b.stats();
        assert!(
            stats.live_connects >= 2,
            "resubscribed after the kill: {stats:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_redis_restart_mid_run_loses_and_doubles_nothing() {
        let mut redis = PrivateRedis::start();
        let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
        let a = replica(&redis.url(), &store);
        let b = replica(&redis.url(), &store);
        let mut stream = b.subscribe(None, Some(0)).await.unwrap();
        until_listening(&b).await;
        let mut events = publish_some(&store, &a, 40).await;
        let epoch = a.stats().epoch.unwrap();
        redis.kill();
        // Published while Redis is down: only the log has them.
        events.extend(publish_some(&store, &a, 20).await);
        assert!(a.stats().publish_failures >= 1);
        redis.spawn();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        events.extend(publish_some(&store, &a, 40).await);
        receive_all(&mut stream, &events).await;
        let after = a.stats();
        assert_ne!(after.epoch.as_deref(), Some(epoch.as_str()), "a new epoch");
        let stats = b.stats();
        assert!(stats.live_connects >= 2, "{stats:?}");
        assert!(stats.fallback_seconds > 0.0, "{stats:?}");
        // A late subscriber resumes across the restart: the new stream, then the log.
        let mut late = b.subscribe(None, Some(0)).await.unwrap();
        receive_all(&mut late, &events).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_limiter_falls_back_while_redis_is_down_and_comes_back() {
        let mut redis = PrivateRedis::start();
        let shared = RedisRateLimiter::new(RedisLimiterConfig {
            url: redis.url(),
            key: "openclaw:faults:limit:hetzner".to_string(),
            capacity: 100,
            refill_per_second: 100.0,
            replicas: 2,
        })
        .unwrap();
        assert!(shared.try_acquire(1).await.unwrap());
        assert_eq!(shared.fallback_grants(), 0);
        redis.kill();
        assert!(
            shared.try_acquire(1).await.unwrap(),
            "granted without Redis"
        );
        assert!(shared.in_fallback());
        assert!(shared.fallback_grants() >= 1);
        redis.spawn();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let before = shared.fallback_grants();
        let mut granted = false;
        for _ in 0..20 {
            if shared.try_acquire(1).await.unwrap() && shared.fallback_grants() == before {
                granted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(granted, "Redis grants again after the restart");
        assert!(!shared.in_fallback());
    }
}
