//! Scenario benchmark of the SQLite store (the scenarios are `openclaw_store_sql::bench`,
//! shared with the PostgreSQL store): state transitions per second (`update_instance` with
//! its event, plain and fenced by a job's lease), jobs claimed and completed per second with
//! four workers, and `stats` reads, next to baselines measured in the same run (raw
//! `SELECT 1` round trips on the same file, the in-memory store, and the same scenarios
//! without the count triggers), so the figures can be read as ratios.
//!
//! `cargo bench -p openclaw-store-sqlite`, on temporary files. `OPENCLAW_BENCH_SCALE`
//! multiplies the amount of work (default 1).

// A benchmark reports on stdout and stops on the first failure.
#![allow(clippy::print_stdout, clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use openclaw_core::ports::Store;
use openclaw_store_sql::bench::{self, report, round_trips, WORKERS, WRITERS};
use openclaw_store_sqlite::{SqliteConfig, SqliteStore};
use sqlx::SqlitePool;

/// A task of `each` raw `sql` round trips on a connection of its own.
fn raw(
    pool: &SqlitePool,
    sql: &'static str,
) -> impl Fn(usize) -> Pin<Box<dyn Future<Output = ()> + Send>> {
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
     UNION ALL SELECT 'events', 'last', \
         coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)";

/// Drops the count triggers, for the figures without them.
const NO_COUNTS: &str = "DROP TRIGGER instances_counted_insert; \
     DROP TRIGGER instances_counted_update; DROP TRIGGER instances_counted_delete; \
     DROP TRIGGER jobs_counted_insert; DROP TRIGGER jobs_counted_update; \
     DROP TRIGGER jobs_counted_delete;";

async fn temporary(durable: bool) -> SqliteStore {
    SqliteStore::connect(&SqliteConfig::temporary().durable_commits(durable))
        .await
        .expect("temporary store")
}

fn main() {
    bench::runtime().block_on(async {
        let n = bench::scale();
        let store = temporary(true).await;
        let version: String = sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(store.readers())
            .await
            .unwrap();
        println!(
            "openclaw-store-sqlite: SQLite {version} (WAL), {} cores, scale {n}",
            bench::cores()
        );
        let rtt1 = round_trips(1, 20_000 * n, raw(store.readers(), "SELECT 1")).await;
        let rtt4 = round_trips(4, 5_000 * n, raw(store.readers(), "SELECT 1")).await;
        let write1 = round_trips(1, 20_000 * n, raw(store.writer(), "SELECT 1")).await;
        report("baseline: SELECT 1 round trips, 1 reader", rtt1, None);
        report("baseline: SELECT 1 round trips, 4 readers", rtt4, None);
        report("baseline: SELECT 1 round trips, the writer", write1, None);
        bench::in_memory_baselines(n).await;
        let per_write = Some((write1, "SELECT 1 (writer)"));
        let per_pair = Some((write1 / 2.0, "SELECT 1 pairs (writer)"));

        for (label, durable) in [("sqlite", true), ("sqlite, synchronous=NORMAL", false)] {
            let file = temporary(durable).await;
            let store: Arc<dyn Store> = Arc::new(file.clone());
            let rate = bench::transitions(Arc::clone(&store), 1, 1_000 * n).await;
            report(&format!("{label}: transitions, 1 writer"), rate, per_write);
            let plain = bench::transitions(Arc::clone(&store), WRITERS, 500 * n).await;
            report(
                &format!("{label}: transitions, 8 writers"),
                plain,
                per_write,
            );
            let fenced = bench::fenced_transitions(Arc::clone(&store), WRITERS, 500 * n).await;
            report(
                &format!("{label}: fenced transitions, 8 writers"),
                fenced,
                Some((plain, "unfenced")),
            );
            let claimed = bench::jobs(Arc::clone(&store), WORKERS, 2_000 * n).await;
            report(
                &format!("{label}: jobs claimed+completed, 4 workers"),
                claimed,
                per_pair,
            );
            if !durable {
                continue;
            }
            // The tables now hold every row the scenarios wrote (2,000+ jobs).
            let stats = bench::stats_reads(Arc::clone(&store), 5_000 * n).await;
            report(
                &format!("{label}: stats(), 1 caller"),
                stats,
                Some((rtt1, "SELECT 1 (1 reader)")),
            );
            let scan = round_trips(1, 1_000 * n, raw(file.readers(), STATS_BY_SCAN)).await;
            report(
                "  the GROUP BY stats() ran before, same tables",
                scan,
                Some((stats, "stats()")),
            );

            // The count triggers' cost: the same on a fresh file without them.
            let bare = temporary(durable).await;
            sqlx::raw_sql(NO_COUNTS)
                .execute(bare.writer())
                .await
                .unwrap();
            let bare: Arc<dyn Store> = Arc::new(bare);
            let rate = bench::transitions(Arc::clone(&bare), WRITERS, 500 * n).await;
            report(
                "without count triggers: transitions, 8 writers",
                rate,
                Some((plain, "with")),
            );
            let rate = bench::jobs(bare, WORKERS, 2_000 * n).await;
            report(
                "without count triggers: jobs, 4 workers",
                rate,
                Some((claimed, "with")),
            );
        }
    });
}
