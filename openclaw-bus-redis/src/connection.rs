//! One Redis connection, made on first use and shared, and the short memory of a failure that
//! keeps callers from waiting on a Redis that just did not answer; [`RedisLink`] is the two
//! together, as the limiter and the bus use them.

use std::sync::{Mutex, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::time::Instant;

/// How long a call waits for Redis before it counts as not answering.
pub(crate) const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// After Redis failed, how long it is not asked again.
pub(crate) const RETRY_REDIS_AFTER: Duration = Duration::from_secs(1);

/// A reconnecting connection ([`ConnectionManager`]), made when first asked for, so Redis
/// need not be up when the owner is built. Clones of the manager multiplex one socket.
pub(crate) struct LazyConnection {
    url: String,
    slot: RwLock<Option<ConnectionManager>>,
    /// Held while a connection is being made, so callers make one between them.
    connecting: tokio::sync::Mutex<()>,
}

impl LazyConnection {
    /// A connection to `url` (checked by the caller), not made yet.
    pub(crate) fn new(url: String) -> Self {
        LazyConnection {
            url,
            slot: RwLock::new(None),
            connecting: tokio::sync::Mutex::new(()),
        }
    }

    fn made(&self) -> Option<ConnectionManager> {
        self.slot.read().ok().and_then(|c| c.as_ref().cloned())
    }

    /// The connection, made now if it was not; the error says why it could not be.
    pub(crate) async fn get(&self) -> Result<ConnectionManager, String> {
        if let Some(connection) = self.made() {
            return Ok(connection);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(connection) = self.made() {
            return Ok(connection);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(REDIS_TIMEOUT)
            .set_response_timeout(REDIS_TIMEOUT)
            .set_number_of_retries(1);
        let made = async {
            redis::Client::open(self.url.as_str())?
                .get_connection_manager_with_config(config)
                .await
        };
        match tokio::time::timeout(REDIS_TIMEOUT * 2, made).await {
            Ok(Ok(connection)) => {
                if let Ok(mut slot) = self.slot.write() {
                    *slot = Some(connection.clone());
                }
                Ok(connection)
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("connecting timed out".to_string()),
        }
    }
}

/// Remembers that Redis failed, for [`RETRY_REDIS_AFTER`].
#[derive(Default)]
pub(crate) struct DownWindow {
    until: Mutex<Option<Instant>>,
}

impl DownWindow {
    /// Whether Redis failed within the window.
    pub(crate) fn is_down(&self) -> bool {
        self.until
            .lock()
            .map(|until| until.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }

    /// Records a failure; `true` when Redis was not already known to be down (log it once).
    pub(crate) fn failed(&self) -> bool {
        match self.until.lock() {
            Ok(mut until) => {
                let newly = until.is_none_or(|t| Instant::now() >= t);
                *until = Some(Instant::now() + RETRY_REDIS_AFTER);
                newly
            }
            Err(_) => false,
        }
    }

    /// Records an answer; `true` when Redis had failed before (log that it is back).
    pub(crate) fn answered(&self) -> bool {
        self.until
            .lock()
            .map(|mut until| until.take().is_some())
            .unwrap_or(false)
    }
}

/// A [`LazyConnection`] with its [`DownWindow`]: a connection unless Redis failed within the
/// last second, and each outage logged once when it starts and once when it ends.
pub(crate) struct RedisLink {
    connection: LazyConnection,
    down: DownWindow,
    /// What goes on without Redis, for the warning (`the rate limit falls back to …`).
    without: &'static str,
    /// What works again, for the all-clear.
    again: &'static str,
}

impl RedisLink {
    /// A link to `url`, logging `without` when Redis stops answering and `again` when it
    /// answers again.
    pub(crate) fn new(url: String, without: &'static str, again: &'static str) -> Self {
        RedisLink {
            connection: LazyConnection::new(url),
            down: DownWindow::default(),
            without,
            again,
        }
    }

    /// Whether Redis failed within the last second.
    pub(crate) fn is_down(&self) -> bool {
        self.down.is_down()
    }

    /// The connection, unless Redis failed within the last second or cannot be reached now.
    pub(crate) async fn connection(&self) -> Option<ConnectionManager> {
        if self.is_down() {
            return None;
        }
        match self.connection.get().await {
            Ok(connection) => Some(connection),
            Err(why) => {
                self.failed(&why);
                None
            }
        }
    }

    /// The connection even while Redis is known to be down (a health check asks anyway).
    pub(crate) async fn connection_now(&self) -> Result<ConnectionManager, String> {
        self.connection.get().await
    }

    /// Records that Redis did not answer (`why`).
    pub(crate) fn failed(&self, why: &str) {
        if self.down.failed() {
            tracing::warn!(error = why, "Redis does not answer; {}", self.without);
        }
    }

    /// Records that Redis answered.
    pub(crate) fn answered(&self) {
        if self.down.answered() {
            tracing::info!("Redis answers again; {}", self.again);
        }
    }
}
