//! [`RedisBus`]: core's [`EventBus`] across replicas, through Redis Pub/Sub and a Redis
//! Stream, with the store's event log as the truth behind both.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{self, StreamExt};
use openclaw_core::domain::{Event, Topic, ALL_TOPICS};
use openclaw_core::event_feed::{resume, LiveEvent};
use openclaw_core::ports::{EventBus, EventStream, Store};
use openclaw_core::{Error, Result};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::AbortHandle;

use crate::connection::{RedisLink, REDIS_TIMEOUT};
use crate::live;
use crate::message::{stream_id, BusMessage, RedisKeys};
use crate::observer::{BusObserver, NoObserver};
use crate::scripts;
use crate::stream_log::StreamFirstLog;

/// Events a slow subscriber of this process may fall behind before it is told it lagged (and
/// reads the log).
const LOCAL_CAPACITY: usize = 1024;

/// How a [`RedisBus`] is set up.
#[derive(Clone, PartialEq)]
pub struct RedisBusConfig {
    /// `redis://[:password@]host:port[/db]`.
    pub url: String,
    /// The deployment's name: every key and channel is under `openclaw:<deployment>:`.
    pub deployment: String,
    /// About how many recent events the stream keeps (Redis trims it to roughly this).
    pub stream_length: u32,
    /// How long a subscriber waits without a live event before it reads the log itself.
    pub idle_poll: Duration,
    /// The store's event log identity (a value it records once, at its first start): the
    /// stream is keyed by it, so that a new database under the same deployment name never
    /// reads the stream of the one before (sequences start again at 1). `None`: one stream
    /// per deployment.
    pub log_id: Option<String>,
}

impl RedisBusConfig {
    /// A stream of 10,000 events and a 1 s idle poll.
    pub fn new(url: impl Into<String>, deployment: impl Into<String>) -> Self {
        RedisBusConfig {
            url: url.into(),
            deployment: deployment.into(),
            stream_length: 10_000,
            idle_poll: Duration::from_secs(1),
            log_id: None,
        }
    }
}

impl fmt::Debug for RedisBusConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password.
        f.debug_struct("RedisBusConfig")
            .field("deployment", &self.deployment)
            .field("stream_length", &self.stream_length)
            .field("idle_poll", &self.idle_poll)
            .field("log_id", &self.log_id)
            .finish_non_exhaustive()
    }
}

/// What a [`RedisBus`] has done so far, for metrics and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisBusStats {
    /// Events that reached Redis.
    pub published: u64,
    /// Events that did not (Redis away); subscribers read them from the log.
    pub publish_failures: u64,
    /// Subscriber reads answered (at least partly) by the stream.
    pub stream_reads: u64,
    /// Subscriber reads that went to the store.
    pub store_reads: u64,
    /// Whether the channel subscription is up now.
    pub live_connected: bool,
    /// Times the channel subscription was (re)made.
    pub live_connects: u64,
    /// Seconds the channel subscription has been down in all (while it was down, other
    /// replicas' events reached this one's subscribers through the idle poll of the log).
    pub fallback_seconds: f64,
    /// Times a message showed a new epoch (the stream was recreated).
    pub epoch_changes: u64,
    /// The stream's epoch last seen.
    pub epoch: Option<String>,
}

/// A counter.
#[derive(Debug, Default)]
pub(crate) struct Count(AtomicU64);

impl Count {
    pub(crate) fn incr(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) published: Count,
    pub(crate) publish_failures: Count,
    pub(crate) stream_reads: Count,
    pub(crate) store_reads: Count,
    pub(crate) live_connects: Count,
    pub(crate) epoch_changes: Count,
}

/// What the bus, its listener and its subscribers' logs share. Holds no sender, so that the
/// subscriber streams end when the last [`RedisBus`] clone is dropped.
pub(crate) struct Shared {
    pub(crate) url: String,
    pub(crate) keys: RedisKeys,
    stream_length: u32,
    link: RedisLink,
    publish: redis::Script,
    read: redis::Script,
    pub(crate) observer: Arc<dyn BusObserver>,
    pub(crate) stats: Stats,
    epoch: Mutex<Option<String>>,
    /// Whether the channel subscription is up, and since when it is down if not.
    live: Mutex<LiveState>,
}

#[derive(Debug, Default)]
struct LiveState {
    connected: bool,
    down_since: Option<std::time::Instant>,
    down_total: Duration,
}

impl Shared {
    /// Runs a script with the Redis timeout; the error says why it did not answer.
    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Option<T> {
        let mut connection = self.link.connection().await?;
        match tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async::<T>(&mut connection))
            .await
        {
            Ok(Ok(value)) => {
                self.link.answered();
                Some(value)
            }
            Ok(Err(e)) => {
                self.link.failed(&e.to_string());
                None
            }
            Err(_) => {
                self.link.failed("Redis did not answer in time");
                None
            }
        }
    }

    async fn publish(&self, event: &Event) -> Result<()> {
        let json = serde_json::to_string(event)
            .map_err(|e| Error::internal(format!("event {}: {e}", event.sequence)))?;
        let started = tokio::time::Instant::now();
        let mut invocation = self.publish.prepare_invoke();
        invocation
            .key(self.keys.stream())
            .key(self.keys.epoch())
            .key(self.keys.channel(event.topic))
            .arg(stream_id(event.sequence))
            .arg(self.stream_length)
            .arg(json);
        match self.run::<Vec<String>>(invocation).await.as_deref() {
            Some([epoch, _outcome]) => {
                self.note_epoch(epoch);
                self.stats.published.incr();
                self.observer.published(started.elapsed());
                Ok(())
            }
            _ => {
                self.stats.publish_failures.incr();
                self.observer.publish_failed();
                Err(Error::unavailable(
                    "redis",
                    format!("event {} not published to Redis", event.sequence),
                ))
            }
        }
    }

    /// The stream's events from sequence `first` on, as many as `limit`, in stream order;
    /// `None` when Redis does not answer.
    pub(crate) async fn read_stream(&self, first: u64, limit: usize) -> Option<Vec<Event>> {
        let mut invocation = self.read.prepare_invoke();
        invocation
            .key(self.keys.stream())
            .key(self.keys.epoch())
            .arg(stream_id(first))
            .arg(limit);
        let mut answer = self.run::<Vec<String>>(invocation).await?.into_iter();
        let epoch = answer.next()?;
        let events = answer
            .map_while(|text| BusMessage::parse(&text).filter(|m| m.epoch == epoch))
            .map(|m| m.event)
            .collect();
        Some(events)
    }

    /// Records `epoch`; `true` when it differs from one seen before (the stream was
    /// recreated).
    pub(crate) fn note_epoch(&self, epoch: &str) -> bool {
        let mut known = self.epoch.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = known.as_deref().is_some_and(|k| k != epoch);
        if known.as_deref() != Some(epoch) {
            *known = Some(epoch.to_string());
        }
        if changed {
            self.stats.epoch_changes.incr();
            tracing::warn!(
                epoch,
                "the Redis event stream was recreated; subscribers read what it lost from the log"
            );
        }
        changed
    }

    pub(crate) fn live_up(&self) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.connected = true;
        if let Some(since) = live.down_since.take() {
            live.down_total += since.elapsed();
            tracing::info!("subscribed to the Redis event channels again");
        }
        self.stats.live_connects.incr();
    }

    pub(crate) fn live_down(&self, why: &str) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if live.down_since.is_none() {
            tracing::warn!(
                error = why,
                "not subscribed to the Redis event channels; other replicas' events arrive through the store's log"
            );
            live.down_since = Some(std::time::Instant::now());
        }
        live.connected = false;
    }

    fn stats(&self) -> RedisBusStats {
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let ongoing = live.down_since.map_or(Duration::ZERO, |s| s.elapsed());
        RedisBusStats {
            published: self.stats.published.get(),
            publish_failures: self.stats.publish_failures.get(),
            stream_reads: self.stats.stream_reads.get(),
            store_reads: self.stats.store_reads.get(),
            live_connected: live.connected,
            live_connects: self.stats.live_connects.get(),
            fallback_seconds: (live.down_total + ongoing).as_secs_f64(),
            epoch_changes: self.stats.epoch_changes.get(),
            epoch: self
                .epoch
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

/// One process's handle on the bus. Dropping the last clone ends its subscribers' streams and
/// its channel subscription.
struct Inner {
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
    sender: broadcast::Sender<LiveEvent>,
    idle_poll: Duration,
    listener: Mutex<Option<AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(listener) = self
            .listener
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            listener.abort();
        }
    }
}

/// An [`EventBus`] shared by every replica of a deployment through Redis.
///
/// - [`publish`](EventBus::publish) hands the event to this process's subscribers at once,
///   then, in one Lua script, appends it to the deployment's stream under its sequence and
///   publishes it on its topic's channel (`openclaw:<deployment>:<topic>`; the message format
///   is in the [`message`](crate::message) module). When Redis does not answer it returns
///   `Unavailable`; the event is in the store's log and every subscriber gets it from there.
/// - [`subscribe`](EventBus::subscribe) follows the three channels through one subscription
///   per process, and reads what the live feed did not bring (a replay after `after`, a gap,
///   a reconnect, an epoch change, a quiet spell) from the stream where it holds it and from
///   the store otherwise. Every subscriber on every replica sees every event once, in
///   sequence order, with no gap — Redis or not: without Redis, other replicas' events come
///   through the idle poll of the log.
#[derive(Clone)]
pub struct RedisBus {
    inner: Arc<Inner>,
}

impl fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBus")
            .field("keys", &self.inner.shared.keys)
            .field("subscribers", &self.inner.sender.receiver_count())
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    /// A bus over `store`'s log. Connects lazily: Redis need not be up yet. `InvalidInput`
    /// for a URL the client refuses, an empty deployment name or a stream length of 0.
    pub fn new(config: RedisBusConfig, store: Arc<dyn Store>) -> Result<Self> {
        Self::with_observer(config, store, Arc::new(NoObserver))
    }

    /// [`new`](Self::new), reporting measurements to `observer`.
    pub fn with_observer(
        config: RedisBusConfig,
        store: Arc<dyn Store>,
        observer: Arc<dyn BusObserver>,
    ) -> Result<Self> {
        redis::Client::open(config.url.as_str())
            .map_err(|e| Error::invalid("redis_url", format!("is not a Redis URL: {e}")))?;
        if config.deployment.is_empty() {
            return Err(Error::invalid("deployment", "must not be empty"));
        }
        if config.stream_length == 0 {
            return Err(Error::invalid("stream_length", "must be at least 1"));
        }
        let shared = Shared {
            keys: RedisKeys::for_deployment(&config.deployment).with_log(config.log_id.as_deref()),
            link: RedisLink::new(
                config.url.clone(),
                "events reach other replicas through the store's log until it does",
                "events fan out through it again",
            ),
            url: config.url,
            stream_length: config.stream_length,
            publish: scripts::publish(),
            read: scripts::read_stream(),
            observer,
            stats: Stats::default(),
            epoch: Mutex::new(None),
            live: Mutex::new(LiveState::default()),
        };
        Ok(RedisBus {
            inner: Arc::new(Inner {
                shared: Arc::new(shared),
                store,
                sender: broadcast::channel(LOCAL_CAPACITY).0,
                idle_poll: config.idle_poll,
                listener: Mutex::new(None),
            }),
        })
    }

    /// The channel of `topic` (`openclaw:<deployment>:<topic>`).
    pub fn channel(&self, topic: Topic) -> String {
        self.inner.shared.keys.channel(topic)
    }

    /// What the bus has done so far.
    pub fn stats(&self) -> RedisBusStats {
        self.inner.shared.stats()
    }

    /// Asks Redis for `PING`; `Unavailable` when it does not answer within 500 ms.
    pub async fn ping(&self) -> Result<()> {
        let unavailable = |why: String| Error::unavailable("redis", why);
        let mut connection = self
            .inner
            .shared
            .link
            .connection_now()
            .await
            .map_err(unavailable)?;
        let ping = redis::cmd("PING");
        let pong = ping.query_async::<String>(&mut connection);
        match tokio::time::timeout(REDIS_TIMEOUT, pong).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(unavailable(e.to_string())),
            Err(_) => Err(unavailable("PING timed out".to_string())),
        }
    }

    /// The newest sequence the stream holds (`None` when it is empty or Redis does not
    /// answer). The store's newest minus this is how far the stream lags the log.
    pub async fn stream_head(&self) -> Option<u64> {
        let shared = &self.inner.shared;
        let mut connection = shared.link.connection().await?;
        let mut command = redis::cmd("XREVRANGE");
        command
            .arg(shared.keys.stream())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1);
        let newest = command.query_async::<Vec<(String, Vec<(String, String)>)>>(&mut connection);
        let entries = tokio::time::timeout(REDIS_TIMEOUT, newest)
            .await
            .ok()?
            .ok()?;
        let (id, _) = entries.into_iter().next()?;
        id.split('-').next()?.parse().ok()
    }

    /// Starts the channel subscription if it is not running.
    fn ensure_listening(&self) {
        let mut listener = self
            .inner
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if listener.as_ref().is_some_and(|l| !l.is_finished()) {
            return;
        }
        let channels = ALL_TOPICS
            .iter()
            .map(|t| self.inner.shared.keys.channel(*t))
            .collect();
        let task = tokio::spawn(live::listen(
            Arc::clone(&self.inner.shared),
            self.inner.sender.downgrade(),
            channels,
        ));
        *listener = Some(task.abort_handle());
    }
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, event: &Event) -> Result<()> {
        // This process's subscribers need not wait for Redis.
        let _ = self.inner.sender.send(LiveEvent::Event(event.clone()));
        self.inner.shared.publish(event).await
    }

    async fn subscribe(&self, topic: Option<Topic>, after: Option<u64>) -> Result<EventStream> {
        self.ensure_listening();
        // Subscribe to the live feed first: whatever is published from here on is either in
        // the receiver or already in the log when it is read.
        let receiver = self.inner.sender.subscribe();
        let after = match after {
            Some(after) => after,
            None => self.inner.store.last_event_sequence().await?,
        };
        let live = stream::unfold(receiver, |mut receiver| async move {
            let item = match receiver.recv().await {
                Ok(item) => item,
                Err(RecvError::Lagged(_)) => LiveEvent::Lagged,
                Err(RecvError::Closed) => return None,
            };
            Some((item, receiver))
        })
        .boxed();
        let log = StreamFirstLog {
            shared: Arc::clone(&self.inner.shared),
            store: Arc::clone(&self.inner.store),
        };
        Ok(resume(
            Arc::new(log),
            live,
            topic,
            Some(after),
            self.inner.idle_poll,
        ))
    }
}
