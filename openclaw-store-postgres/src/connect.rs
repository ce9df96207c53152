//! Connecting: the first connection (so an unreachable server is reported at once, naming
//! the URL), the schema, the pool, migrations, and the listener that wakes idle workers.

use std::sync::Arc;
use std::time::Duration;

use openclaw_core::{Clock, Error, Result, SystemClock};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::config::{check_schema_name, PgConfig, SchemaChoice};
use crate::error;
use crate::notify::Wakeups;

/// The embedded migrations: numbered, forward-only SQL files from the crate's
/// `migrations/` folder, compiled into the binary.
static MIGRATOR: Migrator = sqlx::migrate!();

/// The embedded migrations, for tools and tests that apply them one at a time.
pub fn migrator() -> &'static Migrator {
    &MIGRATOR
}

/// Pooled connections idle for longer than this are checked with a round trip before use,
/// so a restarted server costs no failed call; busy connections skip the check, which would
/// otherwise double the round trips of every call.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// openclaw's [`Store`](openclaw_core::ports::Store) on PostgreSQL.
///
/// Clones share one pool. See the [crate docs](crate) for the schema and its guarantees.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) inner: Arc<Inner>,
    pub(crate) clock: Arc<dyn Clock>,
}

pub(crate) struct Inner {
    pub(crate) pool: PgPool,
    pub(crate) wakeups: Wakeups,
    /// The schema the tables live in, as the server resolved it.
    pub(crate) schema: String,
    redacted_url: String,
    /// See [`PgConfig::durable_before_visible`].
    durable_before_visible: bool,
    /// Set for an ephemeral schema: dropped with the store.
    drop_schema: Option<PgConnectOptions>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.inner.redacted_url)
            .field("schema", &self.inner.schema)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, creates the configured schema if needed, and (unless
    /// [`PgConfig::migrate_on_connect`] is off) applies pending migrations.
    ///
    /// A server that cannot be reached within [`PgConfig::connect_timeout`] is
    /// [`Error::Unavailable`] naming the URL without its password.
    pub async fn connect(config: &PgConfig) -> Result<Self> {
        let redacted = config.redacted_url();
        if config.max_connections < 2 {
            return Err(Error::invalid(
                "max_connections",
                "must be at least 2: one connection listens for job notifications",
            ));
        }
        let (schema, ephemeral) = match &config.schema {
            SchemaChoice::Default => (None, false),
            SchemaChoice::Named(name) => {
                check_schema_name(name)?;
                (Some(name.clone()), false)
            }
            SchemaChoice::Ephemeral => (
                Some(format!("openclaw_tmp_{}", uuid::Uuid::now_v7().simple())),
                true,
            ),
        };
        let mut options: PgConnectOptions = config
            .url
            .parse()
            .map_err(|e| Error::invalid("database_url", format!("cannot parse {redacted}: {e}")))?;
        options = options.application_name(&config.application_name);
        if let Some(schema) = &schema {
            options = options.options([("search_path", schema.as_str())]);
        }

        let mut first =
            tokio::time::timeout(config.connect_timeout, PgConnection::connect_with(&options))
                .await
                .map_err(|_| unreachable(&redacted, "timed out"))?
                .map_err(|e| unreachable(&redacted, e))?;
        if let Some(schema) = &schema {
            // The name was checked (or generated) to be a plain identifier.
            first
                .execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
                .await
                .map_err(|e| error::map("connect", e))?;
        }
        let resolved: Option<String> = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&mut first)
            .await
            .map_err(|e| error::map("connect", e))?;
        let _ = first.close().await;

        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.connect_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > CHECK_IDLE_AFTER {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options.clone());
        let schema = resolved.or(schema).unwrap_or_else(|| "public".to_string());
        let store = PgStore {
            inner: Arc::new(Inner {
                wakeups: Wakeups::start(pool.clone(), schema.clone()),
                pool,
                schema,
                redacted_url: redacted,
                durable_before_visible: config.durable_before_visible,
                drop_schema: ephemeral.then_some(options),
            }),
            clock: Arc::new(SystemClock),
        };
        if config.migrate_on_connect {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Applies the migrations not yet applied, in order, under PostgreSQL's advisory lock (so
    /// two processes starting together migrate once). Already migrated: does nothing.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(&self.inner.pool)
            .await
            .map_err(|e| Error::Store {
                message: format!("migrating {}: {e}", self.inner.redacted_url),
                retryable: false,
            })
    }

    /// Reads timestamps no caller provides (when a job was enqueued, when a heartbeat
    /// changed it) from `clock` instead of the system clock. Lease expiry is not one of
    /// them: it is always the database server's clock (`now()`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The connection pool, for operational queries and tests.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    pub(crate) fn pool_ref(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The `synchronous_commit` of statements that append an event, claim or complete a
    /// job: see
    /// [`PgConfig::durable_before_visible`].
    pub(crate) fn commit_setting(&self) -> &'static str {
        if self.inner.durable_before_visible {
            "on"
        } else {
            "off"
        }
    }

    /// Returns once everything committed so far is on disk: commits, synchronously, a
    /// transaction that wrote to the write-ahead log, which flushes the log up to its own
    /// commit record and so past every commit before it. Concurrent callers share flushes
    /// (group commit). A no-op when appends commit synchronously anyway.
    ///
    /// The write is a transactional logical-decoding message (ignored by anything that does
    /// not decode the log): it touches no table, so callers never wait on each other's
    /// locks. A transaction that only takes an id writes no log before its commit record,
    /// and PostgreSQL commits such a transaction without flushing.
    pub(crate) async fn make_durable(&self, operation: &'static str) -> Result<()> {
        if self.inner.durable_before_visible {
            return Ok(());
        }
        sqlx::query("SELECT pg_logical_emit_message(true, 'openclaw.flush', '')")
            .execute(self.pool_ref())
            .await
            .map_err(|e| error::map(operation, e))?;
        Ok(())
    }
}

fn unreachable(redacted_url: &str, cause: impl std::fmt::Display) -> Error {
    Error::Unavailable {
        service: "postgresql".to_string(),
        message: format!("cannot connect to {redacted_url}: {cause}"),
        status: None,
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let Some(options) = self.drop_schema.take() else {
            return;
        };
        let schema = self.schema.clone();
        // Drop cannot await, and the pool's connections belong to the caller's runtime: a
        // thread with a runtime of its own opens a fresh connection for the DROP.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect_with(&options)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.execute("SET lock_timeout = '10s'")
                    .await
                    .map_err(|e| e.to_string())?;
                conn.execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok::<_, String>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(schema = %self.schema, %error, "ephemeral schema not dropped");
            }
            Err(_) => {
                tracing::warn!(schema = %self.schema, "dropping the ephemeral schema panicked");
            }
        }
    }
}
