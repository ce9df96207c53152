//! Scenario benchmark of the PostgreSQL store (the scenarios are `openclaw_store_sql::bench`,
//! shared with the SQLite store): state transitions per second (`update_instance` with its
//! event, plain and fenced by a job's lease), jobs claimed and completed per second with
//! four workers, and `stats` reads, next to baselines measured in the same run (raw
//! `SELECT 1` round trips on the same server, the in-memory store, and the same scenarios
//! without the count triggers), so the figures can be read as ratios.
//!
//! `cargo bench -p openclaw-store-postgres` against `DATABASE_URL` (default: the local test
//! server). `OPENCLAW_BENCH_SCALE` multiplies the amount of work (default 1).

// A benchmark reports on stdout and stops on the first failure.
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;
use std::sync::Arc;

use openclaw_core::ports::Store;
use openclaw_store_postgres::{PgConfig, PgStore};
use openclaw_store_sql::bench::{self, report, round_trips, WORKERS, WRITERS};
use sqlx::PgPool;

/// Enough concurrent writers for one disk flush to cover many commits (group commit).
const CROWD: usize = 32;

/// A task of `each` raw `SQL` round trips on a connection of its own.
fn raw(
    pool: &PgPool,
    sql: &'static str,
) -> impl Fn(usize) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    let pool = pool.clone();
    move |each| {
        let pool = pool.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await.unwrap();
            for _ in 0..each {
                sqlx::query(sql).execute(&mut *conn).await.unwrap();
            }
        })
    }
}

/// What `stats` ran before the count rows: a `GROUP BY` over both tables.
const STATS_BY_SCAN: &str = "SELECT 'instances', status, count(*) FROM instances GROUP BY status \
     UNION ALL SELECT 'jobs', state, count(*) FROM jobs GROUP BY state \
     UNION ALL SELECT 'events', 'last', last_sequence FROM event_log_head";

async fn fresh(config: &PgConfig, setup: &str) -> Arc<dyn Store> {
    let store = PgStore::connect(config).await.unwrap();
    if !setup.is_empty() {
        sqlx::raw_sql(setup).execute(store.pool()).await.unwrap();
    }
    Arc::new(store)
}

fn main() {
    bench::runtime().block_on(async {
        let url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/test".into());
        let config = PgConfig::new(url)
            .ephemeral_schema()
            .max_connections(CROWD as u32 + 4);
        let store = PgStore::connect(&config)
            .await
            .expect("PostgreSQL at DATABASE_URL");
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let n = bench::scale();
        println!(
            "openclaw-store-postgres: PostgreSQL {version} at {}, {} cores, scale {n}",
            config.redacted_url(),
            bench::cores()
        );

        let rtt1 = round_trips(1, 5_000 * n, raw(store.pool(), "SELECT 1")).await;
        let rtt8 = round_trips(WRITERS, 2_000 * n, raw(store.pool(), "SELECT 1")).await;
        report("baseline: SELECT 1 round trips, 1 connection", rtt1, None);
        report("baseline: SELECT 1 round trips, 8 connections", rtt8, None);
        bench::in_memory_baselines(n).await;
        let per_rtt8 = Some((rtt8, "SELECT 1 (8 conns)"));
        let per_pair = Some((rtt8 / 2.0, "SELECT 1 pairs (8 conns)"));

        let pg: Arc<dyn Store> = Arc::new(store.clone());
        let rate = bench::transitions(Arc::clone(&pg), 1, 1_000 * n).await;
        report(
            "postgres: transitions (update + event), 1 writer",
            rate,
            Some((rtt1, "SELECT 1 (1 conn)")),
        );
        let plain = bench::transitions(Arc::clone(&pg), WRITERS, 1_000 * n).await;
        report(
            "postgres: transitions (update + event), 8 writers",
            plain,
            per_rtt8,
        );
        let fenced = bench::fenced_transitions(Arc::clone(&pg), WRITERS, 1_000 * n).await;
        report(
            "postgres: fenced transitions, 8 writers",
            fenced,
            Some((plain, "unfenced")),
        );
        let rate = bench::transitions(Arc::clone(&pg), CROWD, 250 * n).await;
        report(
            "postgres: transitions (update + event), 32 writers",
            rate,
            per_rtt8,
        );
        let claimed = bench::jobs(Arc::clone(&pg), WORKERS, 4_000 * n).await;
        report(
            "postgres: jobs claimed+completed, 4 workers",
            claimed,
            per_pair,
        );
        // The tables now hold every row the scenarios wrote (4,000+ jobs).
        let rtt1_pool = round_trips(1, 2_000 * n, raw(store.pool(), "SELECT 1")).await;
        let stats = bench::stats_reads(Arc::clone(&pg), 2_000 * n).await;
        report(
            "postgres: stats(), 1 caller",
            stats,
            Some((rtt1_pool, "SELECT 1 (1 conn)")),
        );
        let scan = round_trips(1, 500 * n, raw(store.pool(), STATS_BY_SCAN)).await;
        report(
            "  the GROUP BY stats() ran before, same tables",
            scan,
            Some((stats, "stats()")),
        );

        // The count triggers' cost: the same on a fresh schema without them.
        let bare = fresh(
            &config,
            "ALTER TABLE instances DISABLE TRIGGER USER; ALTER TABLE jobs DISABLE TRIGGER USER;",
        )
        .await;
        let rate = bench::transitions(Arc::clone(&bare), WRITERS, 1_000 * n).await;
        report(
            "without count triggers: transitions, 8 writers",
            rate,
            Some((plain, "with")),
        );
        let rate = bench::jobs(bare, WORKERS, 4_000 * n).await;
        report(
            "without count triggers: jobs, 4 workers",
            rate,
            Some((claimed, "with")),
        );

        // The same with PostgreSQL's synchronous commit everywhere: bound by disk flushes.
        let strict = fresh(&config.clone().durable_before_visible(true), "").await;
        let rate = bench::transitions(Arc::clone(&strict), WRITERS, 250 * n).await;
        report(
            "postgres, durable_before_visible: transitions, 8 writers",
            rate,
            per_rtt8,
        );
        let rate = bench::jobs(strict, WORKERS, 1_000 * n).await;
        report(
            "postgres, durable_before_visible: jobs, 4 workers",
            rate,
            per_pair,
        );
    });
}
