//! Opening the file: one writing connection (SQLite has one writer at a time anyway, and a
//! single connection makes writers queue in this process instead of failing with "busy"),
//! a few reading connections (WAL lets them read during a write), and migrations.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openclaw_core::{Clock, Error, Result, SystemClock};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::Notify;

use crate::cache::InstanceCache;

use crate::config::SqliteConfig;

/// The embedded migrations: numbered, forward-only SQL files from the crate's
/// `migrations/` folder, compiled into the binary.
static MIGRATOR: Migrator = sqlx::migrate!();

/// The embedded migrations, for tools and tests that apply them one at a time.
pub fn migrator() -> &'static Migrator {
    &MIGRATOR
}

/// openclaw's [`Store`](openclaw_core::ports::Store) on SQLite.
///
/// Clones share the connections. See the [crate docs](crate) for the schema and its
/// guarantees.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) inner: Arc<Inner>,
    pub(crate) clock: Arc<dyn Clock>,
}

pub(crate) struct Inner {
    pub(crate) writer: SqlitePool,
    pub(crate) readers: SqlitePool,
    /// Wakes workers of this process waiting in `wait_for_jobs`. Other processes sharing
    /// the file find new jobs when they poll.
    pub(crate) jobs_changed: Notify,
    /// Instances this process has read or written (see `cache.rs`).
    pub(crate) cache: InstanceCache,
    path: PathBuf,
    temporary_dir: Option<PathBuf>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the file in WAL mode and, unless
    /// [`SqliteConfig::migrate_on_connect`] is off, applies pending migrations.
    ///
    /// A file that cannot be opened is [`Error::Unavailable`] naming it.
    pub async fn connect(config: &SqliteConfig) -> Result<Self> {
        if config.readers == 0 {
            return Err(Error::invalid("readers", "must be at least 1"));
        }
        if let Some(dir) = &config.temporary_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| cannot_open(&config.path, format!("creating its folder: {e}")))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&config.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if config.durable_commits {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(config.busy_timeout);
        // The writer opens (and creates) the file first and switches it to WAL, so the
        // readers find a WAL database.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.clone())
            .await
            .map_err(|e| cannot_open(&config.path, e))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(config.readers)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.pragma("query_only", "ON"))
            .await
            .map_err(|e| cannot_open(&config.path, e))?;
        let store = SqliteStore {
            inner: Arc::new(Inner {
                writer,
                readers,
                jobs_changed: Notify::new(),
                cache: InstanceCache::new(config.instance_cache_ttl),
                path: config.path.clone(),
                temporary_dir: config.temporary_dir.clone(),
            }),
            clock: Arc::new(SystemClock),
        };
        if config.migrate_on_connect {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Applies the migrations not yet applied, in order. Already migrated: does nothing.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(&self.inner.writer)
            .await
            .map_err(|e| Error::Store {
                message: format!("migrating {}: {e}", self.inner.path.display()),
                retryable: false,
            })
    }

    /// Reads this store's time from `clock` instead of the system clock: when a job was
    /// enqueued, and lease expiry (set by claims and heartbeats, compared by rescues,
    /// heartbeats and fences). Tests of the engine on a paused tokio clock give the store
    /// the engine's clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The writing connection (a pool of one), for operational statements and tests.
    pub fn writer(&self) -> &SqlitePool {
        &self.inner.writer
    }

    /// The reading connections.
    pub fn readers(&self) -> &SqlitePool {
        &self.inner.readers
    }

    /// Wakes this process's idle workers: a job may have become runnable.
    pub(crate) fn wake_workers(&self) {
        // Those waiting now, and through the stored permit the next one to wait: it may
        // have looked for jobs just before the change.
        self.inner.jobs_changed.notify_waiters();
        self.inner.jobs_changed.notify_one();
    }
}

fn cannot_open(path: &Path, cause: impl std::fmt::Display) -> Error {
    Error::Unavailable {
        service: "sqlite".to_string(),
        message: format!("cannot open {}: {cause}", path.display()),
        status: None,
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The folder was made for this store alone (see `SqliteConfig::temporary`); removing
        // it takes the -wal and -shm files along. Open connections keep working on unlinked
        // files until they close.
        if let Some(dir) = &self.temporary_dir {
            if let Err(error) = std::fs::remove_dir_all(dir) {
                tracing::warn!(path = %dir.display(), %error, "temporary database not removed");
            }
        }
    }
}
