//! # openclaw-store-sqlite
//!
//! openclaw's [`Store`](openclaw_core::ports::Store) and
//! [`ApiKeyStore`](openclaw_core::ports::ApiKeyStore) on SQLite: the embedded default of the
//! `openclaw` binary, so a new user needs no database server. Instances with optimistic
//! versions, the event log (the outbox), the job queue, idempotency keys, sealed instance
//! secrets, API keys and the rollback log, in one file (`./openclaw.db` unless configured).
//!
//! ```no_run
//! use std::sync::Arc;
//! use openclaw_core::ports::Store;
//! use openclaw_store_sqlite::{SqliteConfig, SqliteStore};
//!
//! # async fn run() -> openclaw_core::Result<()> {
//! // DATABASE_URL=sqlite:///var/lib/openclaw/openclaw.db, or ./openclaw.db by default.
//! let config = SqliteConfig::from_env()?;
//! // Opens (creating it if needed) and applies pending migrations.
//! let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&config).await?);
//! store.ping().await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Guarantees, and how they are kept
//!
//! - **One writer.** All writes go through one connection (WAL, a busy timeout for other
//!   processes, `BEGIN IMMEDIATE` for multi-statement writes); reads use a few other
//!   connections that WAL lets read while the writer writes.
//! - **A write and its event commit together**, in one transaction; an update matches `id`
//!   *and* `version`, so a stale version is `Conflict` and writes nothing.
//! - **Events are visible in sequence order**: sequences are assigned by the single writer,
//!   which commits one transaction at a time.
//! - **Live uniqueness**: partial unique indexes allow one live instance per `external_ref`
//!   and per `fqdn`.
//! - **Jobs**: a claim is one statement that picks the oldest runnable job (a due queued job
//!   of an instance with no running job, or a running job whose lease ran out) and leases
//!   it with a fresh token; later calls must present the token (`LeaseLost` otherwise).
//!   Idle workers of this process are woken at once; other processes sharing the file find
//!   new jobs when they poll.
//! - **Leases run on the store's clock** ([`SqliteStore::with_clock`], the system clock by
//!   default), never a caller's: claims and heartbeats set the expiry from it, and rescues,
//!   heartbeats and fences compare with it.
//! - **Fenced writes**: a write of an instance made by a job carries its lease, checked in
//!   the statement that writes; a lease that is not current or has run out writes nothing
//!   and is `LeaseLost`, named before any version conflict.
//! - **Counts**: `stats` reads `store_counts`, kept by triggers in the transaction of every
//!   write, not a scan.
//! - **Precision**: times are stored to the nanosecond, so values read back equal what was
//!   written.

mod agents;
mod api_keys;
mod cache;
mod config;
mod connect;
mod convert;
mod error;
mod events;
mod facts;
mod idempotency;
mod instances;
mod jobs;
mod leases;
mod rollback_log;
mod row;
mod secrets;
mod store;

pub use config::{SqliteConfig, DATABASE_URL_ENV, DEFAULT_PATH};
pub use connect::{migrator, SqliteStore};
