//! # openclaw-store-postgres
//!
//! openclaw's [`Store`](openclaw_core::ports::Store) and
//! [`ApiKeyStore`](openclaw_core::ports::ApiKeyStore) on PostgreSQL: instances with
//! optimistic versions, the event log (the outbox), the job queue, idempotency keys, sealed
//! instance secrets, API keys and the rollback log. The production store;
//! `openclaw-store-sqlite` is the embedded default.
//!
//! ```no_run
//! use std::sync::Arc;
//! use openclaw_core::ports::Store;
//! use openclaw_store_postgres::{PgConfig, PgStore};
//!
//! # async fn run() -> openclaw_core::Result<()> {
//! // postgres://user:password@host:port/database, from DATABASE_URL.
//! let config = PgConfig::from_env()?.max_connections(16);
//! // Connects and applies pending migrations.
//! let store: Arc<dyn Store> = Arc::new(PgStore::connect(&config).await?);
//! store.ping().await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Guarantees, and how they are kept
//!
//! - **A write and its event commit together.** Every write is a single statement of
//!   data-modifying CTEs (one round trip, one implicit transaction): the instance row, its
//!   job, its event.
//! - **Compare-and-swap.** An update matches `id` *and* `version`; a concurrent winner makes
//!   the row fail the re-check, so the loser writes nothing and gets `Conflict`.
//! - **Events are visible in sequence order.** Sequences come from the one row of
//!   `event_log_head`, updated by the statement that appends the event. Its row lock is held
//!   until commit, so appends commit in sequence order and a reader resuming after `n`
//!   never misses an event that commits later with a smaller number (the gap a plain
//!   sequence leaves). Appends are therefore serialized; by default each one releases the
//!   log before its disk flush and returns after it, so concurrent writers share flushes
//!   (see [`PgConfig::durable_before_visible`] for the trade-off and the strict mode).
//! - **Live uniqueness.** Partial unique indexes allow one live instance (not `terminated`
//!   or `rolled_back`) per `external_ref` and per `fqdn`: a violation is `Conflict`.
//! - **Jobs.** Claims lock with `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait
//!   on nor share a job; a partial unique index allows one `running` job per instance; every
//!   claim gets a fresh lease token and later calls must present it (`LeaseLost`
//!   otherwise); an expired lease is rescued as a new attempt; a job out of attempts is
//!   dead-lettered. Idle workers are woken with `LISTEN`/`NOTIFY` and fall back to polling.
//! - **Leases run on the database's clock.** Claims and heartbeats set
//!   `lease_expires_at = now() + lease_for`; rescues, heartbeats and fences compare it with
//!   `now()`, so workers on hosts whose clocks disagree agree on who holds a job.
//! - **Fenced writes.** A write of an instance made by a job carries its lease; the
//!   statement that writes also checks (and share-locks, so no rescue can slip in before
//!   the commit) that the lease is its job's current one and has not run out. Otherwise
//!   nothing is written and the result is `LeaseLost`, named before any version conflict.
//! - **Counts.** `stats` reads `store_counts`, kept by triggers in the transaction of every
//!   write (one row per count), not a scan.
//! - **Precision.** PostgreSQL keeps timestamps to the microsecond; every value a method
//!   returns is the value stored, so what a write returns equals what a later read returns.
//!
//! Errors: unique violations are `Conflict`; lost connections, an administrator's
//! `pg_terminate_backend`, deadlocks and serialization failures are retryable
//! [`Error::Store`](openclaw_core::Error::Store); the pool replaces broken connections.

mod agents;
mod api_keys;
mod config;
mod connect;
mod error;
mod events;
mod facts;
mod idempotency;
mod instances;
mod jobs;
mod leases;
mod notify;
mod rollback_log;
mod row;
mod secrets;
mod store;

pub use config::{redact_url, PgConfig, SchemaChoice, DATABASE_URL_ENV};
pub use connect::{migrator, PgStore};
