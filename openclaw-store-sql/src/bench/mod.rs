//! The scenario benchmark harness both stores' `benches/` call (feature `bench`): the same
//! scenarios on any [`Store`](openclaw_core::ports::Store), rates in operations per second,
//! printed next to baselines measured in the same run so figures read as ratios on a
//! machine whose speed varies.
//!
//! A benchmark stops at its first failure and reports on stdout, hence the lints allowed
//! here and nowhere else in the crate.
#![allow(clippy::expect_used, clippy::print_stdout)]

use std::future::Future;
use std::time::Instant;

mod scenarios;

pub use scenarios::{fenced_transitions, in_memory_baselines, jobs, stats_reads, transitions};

/// Writers of the transition scenarios.
pub const WRITERS: usize = 8;
/// Workers of the job scenarios.
pub const WORKERS: usize = 4;

/// The runtime the stores' figures were taken on: two worker threads.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// `OPENCLAW_BENCH_SCALE`, which multiplies the amount of work (default 1).
pub fn scale() -> usize {
    std::env::var("OPENCLAW_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// The number of cores, for the header line.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |p| p.get())
}

/// Prints one figure, with its ratio to `baseline` (a rate and its name) if given.
pub fn report(what: &str, rate: f64, baseline: Option<(f64, &str)>) {
    match baseline {
        Some((base, name)) => {
            println!("{what:<58} {rate:>10.0} /s   {:>5.2} x {name}", rate / base);
        }
        None => println!("{what:<58} {rate:>10.0} /s"),
    }
}

/// Operations per second of `tasks` concurrent tasks, each made by `task(each)` and doing
/// `each` operations (for raw round-trip baselines: a task takes a connection of its own
/// and runs `SELECT 1` `each` times).
pub async fn round_trips<F, Fut>(tasks: usize, each: usize, task: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks).map(|_| tokio::spawn(task(each))).collect();
    for handle in handles {
        handle.await.expect("a round-trip task");
    }
    (tasks * each) as f64 / started.elapsed().as_secs_f64()
}
