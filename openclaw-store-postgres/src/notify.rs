//! Waking idle workers: a write that makes a job runnable sends `NOTIFY openclaw_jobs` with
//! the schema as payload; every store listens on a connection of its own and wakes the
//! workers waiting in `wait_for_jobs`. Notifications are hints: a lost one only delays a
//! worker until its poll timeout, and a reconnected listener wakes everyone, since it may
//! have missed some.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The channel every openclaw store notifies and listens on. The payload (the schema) keeps
/// stores that share a database apart.
pub(crate) const JOBS_CHANNEL: &str = "openclaw_jobs";

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub(crate) struct Wakeups {
    notify: Arc<Notify>,
    listener: JoinHandle<()>,
}

impl Wakeups {
    /// Starts listening for notifications of `schema` on a connection of `pool`.
    pub(crate) fn start(pool: PgPool, schema: String) -> Self {
        let notify = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(pool, schema, Arc::clone(&notify)));
        Wakeups { notify, listener }
    }

    /// Wakes this process's waiting workers now (the notification reaches other processes).
    pub(crate) fn wake(&self) {
        wake(&self.notify);
    }

    /// Returns on a wake-up or after `timeout`.
    pub(crate) async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Wakes the workers waiting now and, through the stored permit, the next one to start
/// waiting: it may have looked for jobs just before the change.
fn wake(notify: &Notify) {
    notify.notify_waiters();
    notify.notify_one();
}

async fn listen(pool: PgPool, schema: String, notify: Arc<Notify>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let mut listener = match subscribe(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for job notifications; workers poll");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = MIN_BACKOFF;
        // Whatever was notified while we were not listening is lost: look now.
        wake(&notify);
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if notification.payload() == schema {
                        wake(&notify);
                    }
                }
                // The connection was lost and has been re-established.
                Ok(None) => wake(&notify),
                Err(error) => {
                    tracing::warn!(%error, "job notification listener lost its connection");
                    wake(&notify);
                    tokio::time::sleep(backoff).await;
                    break;
                }
            }
        }
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(JOBS_CHANNEL).await?;
    Ok(listener)
}
