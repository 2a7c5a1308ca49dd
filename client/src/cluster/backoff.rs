//! Exponential backoff with jitter, and retry deadlines.
//!
//! Delays grow from `base` by a factor of two per attempt up to `max`, each multiplied by a
//! random factor in `[0.8, 1.2]` (the Java client's jitter), so reconnecting clients spread out.
//! The random source is passed in, keeping the policy deterministic under test.

use std::time::{Duration, Instant};

/// An exponential backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The largest delay.
    pub max: Duration,
}

impl Backoff {
    /// A schedule from `base` to `max` (`max` is raised to `base` if lower).
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max: max.max(base),
        }
    }

    /// The delay before attempt `attempt` (0 is the first retry), with `jitter` in `[0, 1)`
    /// choosing a point in the ±20% band.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = 2f64.powi(attempt.min(62) as i32);
        let raw = (self.base.as_secs_f64() * exp).min(self.max.as_secs_f64());
        let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
        Duration::from_secs_f64((raw * factor).min(self.max.as_secs_f64() * 1.2))
    }
}

/// Bounds a retried operation: attempts stop when the deadline would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    deadline: Instant,
    attempt: u32,
    backoff: Backoff,
}

impl RetryBudget {
    /// A budget ending at `deadline`.
    pub fn new(backoff: Backoff, deadline: Instant) -> Self {
        RetryBudget {
            deadline,
            attempt: 0,
            backoff,
        }
    }

    /// The next delay, or `None` when sleeping it would pass the deadline.
    pub fn next_delay(&mut self, now: Instant, jitter: f64) -> Option<Duration> {
        let delay = self.backoff.delay(self.attempt, jitter);
        self.attempt = self.attempt.saturating_add(1);
        (now + delay < self.deadline).then_some(delay)
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_with_bounded_jitter() {
        let b = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
        assert_eq!(b.delay(0, 0.5), Duration::from_millis(50));
        assert_eq!(b.delay(1, 0.5), Duration::from_millis(100));
        assert_eq!(b.delay(10, 0.5), Duration::from_secs(1));
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(40));
        assert_eq!(b.delay(0, 1.0), Duration::from_millis(60));
        assert!(b.delay(u32::MAX, 1.0) <= Duration::from_millis(1200));
    }

    #[test]
    fn budget_stops_at_deadline() {
        let now = Instant::now();
        let b = Backoff::new(Duration::from_millis(100), Duration::from_millis(100));
        let mut budget = RetryBudget::new(b, now + Duration::from_millis(250));
        assert_eq!(
            budget.next_delay(now, 0.5),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            budget.next_delay(now + Duration::from_millis(100), 0.5),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            budget.next_delay(now + Duration::from_millis(200), 0.5),
            None
        );
        assert_eq!(budget.attempts(), 3);
    }
}
