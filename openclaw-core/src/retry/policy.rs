//! The retry decision: whether to try again after an error, and after how long.

use std::time::Duration;

use rand::Rng;

use crate::error::{Error, ErrorClass};

/// How persistently to retry, and how long to wait between attempts.
///
/// The policy is pure: [`decide`](RetryPolicy::decide) looks at the error, what has been
/// spent so far and a random source, and says what to do. [`Retrier`](super::Retrier) carries
/// the decision out.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Most attempts in total, the first one included.
    pub max_attempts: u32,
    /// Upper bound of the first backoff; it doubles with every retry.
    pub base_delay: Duration,
    /// Cap of any one backoff (a provider's `Retry-After` may be longer).
    pub max_delay: Duration,
    /// The total time slept between attempts never exceeds this; a retry that would go past
    /// it is not made.
    pub deadline: Duration,
    /// The longest `Retry-After` that is waited for; a provider that asks for longer is given
    /// up on (the caller's job can be tried again later instead of holding a worker).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, backoff from 250 ms up to 30 s, a 120 s deadline, and `Retry-After` up to
    /// 300 s (Cloudflare's lockout after its limit is exceeded).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum RetryDecision {
    /// Wait `after`, then make the same call again.
    Retry {
        /// How long to wait.
        after: Duration,
    },
    /// The outcome of the failed call is unknown: look the resource up before calling again,
    /// and wait `after` before doing either.
    LookUpThenRetry {
        /// How long to wait.
        after: Duration,
    },
    /// Stop and report the error.
    GiveUp,
}

impl RetryPolicy {
    /// The largest backoff before retry number `retry_number` (1 for the first retry):
    /// `min(max_delay, base_delay × 2^(retry_number − 1))`, saturating instead of overflowing.
    pub fn backoff_cap(&self, retry_number: u32) -> Duration {
        let doublings = retry_number.saturating_sub(1);
        let factor = 1u32.checked_shl(doublings).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }

    /// The wait before retry number `retry_number` (1 for the first retry), with full jitter:
    /// uniform in `[0, min(max_delay, base_delay × 2^(retry_number − 1))]`.
    ///
    /// # Why full jitter
    /// Many workers failing at the same moment would otherwise retry at the same moments
    /// too; spreading each wait over the whole interval keeps their retries apart.
    pub fn backoff(&self, retry_number: u32, rng: &mut impl Rng) -> Duration {
        let cap = self.backoff_cap(retry_number);
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=cap_nanos))
    }

    /// What to do after `error`, when `attempts_made` attempts were made (this one included)
    /// and `slept` was slept between them so far.
    ///
    /// - [`ErrorClass::Permanent`] → give up.
    /// - [`ErrorClass::Retryable`] and `RateLimited` without a `Retry-After` → retry after the
    ///   backoff.
    /// - `RateLimited` with `Retry-After: d` → retry after `max(d, backoff)`, or give up when
    ///   `d` is over [`max_retry_after`](RetryPolicy::max_retry_after).
    /// - [`ErrorClass::Ambiguous`] → look up, then retry, after the backoff.
    /// - Give up in any case once `attempts_made >= max_attempts`, or when the wait would take
    ///   the total sleep past the [`deadline`](RetryPolicy::deadline).
    pub fn decide(
        &self,
        error: &Error,
        attempts_made: u32,
        slept: Duration,
        rng: &mut impl Rng,
    ) -> RetryDecision {
        let class = error.class();
        if class == ErrorClass::Permanent || attempts_made >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        let backoff = self.backoff(attempts_made, rng);
        let decision = match class {
            ErrorClass::RateLimited {
                retry_after: Some(asked),
            } => {
                if asked > self.max_retry_after {
                    return RetryDecision::GiveUp;
                }
                RetryDecision::Retry {
                    after: asked.max(backoff),
                }
            }
            ErrorClass::Ambiguous => RetryDecision::LookUpThenRetry { after: backoff },
            ErrorClass::Retryable
            | ErrorClass::RateLimited { retry_after: None }
            | ErrorClass::Permanent => RetryDecision::Retry { after: backoff },
        };
        let after = match &decision {
            RetryDecision::Retry { after } | RetryDecision::LookUpThenRetry { after } => *after,
            RetryDecision::GiveUp => return decision,
        };
        match slept.checked_add(after) {
            Some(total) if total <= self.deadline => decision,
            _ => RetryDecision::GiveUp,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    fn unavailable() -> Error {
        Error::unavailable("hetzner", "502 bad gateway")
    }

    fn limited(after: Option<Duration>) -> Error {
        Error::RateLimited {
            provider: "cloudflare".into(),
            retry_after: after,
        }
    }

    #[test]
    fn the_class_decides() {
        let policy = RetryPolicy::default();
        let slept = Duration::ZERO;
        assert_eq!(
            policy.decide(&Error::invalid("plan", "unknown"), 1, slept, &mut rng()),
            RetryDecision::GiveUp
        );
        assert!(matches!(
            policy.decide(&unavailable(), 1, slept, &mut rng()),
            RetryDecision::Retry { after } if after <= policy.base_delay
        ));
        assert!(matches!(
            policy.decide(&limited(None), 1, slept, &mut rng()),
            RetryDecision::Retry { after } if after <= policy.base_delay
        ));
        assert!(matches!(
            policy.decide(&Error::ambiguous("create_server", "timeout"), 1, slept, &mut rng()),
            RetryDecision::LookUpThenRetry { after } if after <= policy.base_delay
        ));
    }

    #[test]
    fn retry_after_is_a_floor_and_has_a_cap() {
        let policy = RetryPolicy::default();
        let asked = Duration::from_secs(7);
        assert!(matches!(
            policy.decide(&limited(Some(asked)), 1, Duration::ZERO, &mut rng()),
            RetryDecision::Retry { after } if after == asked
        ));
        let too_long = policy.max_retry_after + Duration::from_secs(1);
        assert_eq!(
            policy.decide(&limited(Some(too_long)), 1, Duration::ZERO, &mut rng()),
            RetryDecision::GiveUp
        );
        // Within the cap but past the deadline: given up too.
        let policy = RetryPolicy {
            deadline: Duration::from_secs(5),
            ..RetryPolicy::default()
        };
        assert_eq!(
            policy.decide(&limited(Some(asked)), 1, Duration::ZERO, &mut rng()),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn attempts_and_deadline_end_it() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.decide(&unavailable(), 5, Duration::ZERO, &mut rng()),
            RetryDecision::GiveUp
        );
        assert!(matches!(
            policy.decide(&unavailable(), 4, Duration::ZERO, &mut rng()),
            RetryDecision::Retry { .. }
        ));
        // Slept right up to the deadline: any non-zero wait is too much.
        let mut rng = rng();
        let gave_up = (0..100)
            .map(|_| policy.decide(&unavailable(), 1, policy.deadline, &mut rng))
            .filter(|d| *d == RetryDecision::GiveUp)
            .count();
        assert!(gave_up >= 99);
    }

    #[test]
    fn backoff_cap_doubles_then_saturates() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff_cap(0), Duration::from_millis(250));
        assert_eq!(policy.backoff_cap(1), Duration::from_millis(250));
        assert_eq!(policy.backoff_cap(2), Duration::from_millis(500));
        assert_eq!(policy.backoff_cap(4), Duration::from_secs(2));
        assert_eq!(policy.backoff_cap(9), Duration::from_secs(30));
        assert_eq!(policy.backoff_cap(u32::MAX), Duration::from_secs(30));
    }
}
