//! Wall-clock time, injected so tests can run on tokio's paused clock.

use std::fmt::Debug;

use chrono::{DateTime, Utc};

/// A source of wall-clock time. Waiting always uses `tokio::time`, so a clock that follows
/// tokio's time ([`TokioClock`]) makes deadlines, leases and timestamps agree under a paused
/// test clock.
pub trait Clock: Send + Sync + Debug + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at a fixed time and advances with `tokio::time` (so with
/// `tokio::time::pause` and `advance` in tests).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `base` now, advancing with tokio's time.
    pub fn starting_at(base: DateTime<Utc>) -> Self {
        TokioClock {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    /// Starts at 2026-01-01T00:00:00Z so test output is stable.
    fn default() -> Self {
        let base = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        Self::starting_at(base)
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = self.start.elapsed();
        self.base + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let clock = TokioClock::default();
        let t0 = clock.now();
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        assert_eq!((clock.now() - t0).num_seconds(), 90);
    }
}
