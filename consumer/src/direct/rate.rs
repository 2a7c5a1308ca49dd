//! Batch planning: how far each partition's next [`OffsetRange`] reaches.
//!
//! [`plan_batch`] turns the next offset to read and the latest offset of each partition into
//! one range per partition, bounded by per-partition rate limits ([`RateLimits`], in
//! records/s, the `maxRatePerPartition` / `minRatePerPartition` of a Spark direct stream) and,
//! with backpressure, by a rate estimated for the whole stream ([`PidRateEstimator`]).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::range::{OffsetRange, RangeError, TopicPartition};

/// Per-partition rate limits, in records per second.
///
/// `overrides` replaces the limits of single partitions: each entry is `(max, min)`, and a
/// `None` there falls back to the stream-wide `max_per_partition` / `min_per_partition`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RateLimits {
    /// The most records/s read from one partition; `None` for no limit.
    pub max_per_partition: Option<f64>,
    /// The fewest records/s read from a lagging partition, even under backpressure.
    pub min_per_partition: Option<f64>,
    /// Per-partition `(max, min)` overrides of the two limits above.
    pub overrides: HashMap<TopicPartition, (Option<f64>, Option<f64>)>,
}

impl RateLimits {
    /// No limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the stream-wide maximum rate per partition.
    #[must_use]
    pub fn with_max_per_partition(mut self, rate: f64) -> Self {
        self.max_per_partition = Some(rate);
        self
    }

    /// Sets the stream-wide minimum rate per partition.
    #[must_use]
    pub fn with_min_per_partition(mut self, rate: f64) -> Self {
        self.min_per_partition = Some(rate);
        self
    }

    /// Overrides the `(max, min)` rates of one partition (`None` keeps the stream-wide one).
    #[must_use]
    pub fn with_override(mut self, tp: TopicPartition, max: Option<f64>, min: Option<f64>) -> Self {
        self.overrides.insert(tp, (max, min));
        self
    }

    /// The `(max, min)` rates that apply to `tp`, overrides first.
    pub fn for_partition(&self, tp: &TopicPartition) -> (Option<f64>, Option<f64>) {
        match self.overrides.get(tp) {
            Some(&(max, min)) => (
                max.or(self.max_per_partition),
                min.or(self.min_per_partition),
            ),
            None => (self.max_per_partition, self.min_per_partition),
        }
    }

    /// Checks that every rate is finite, maxima are positive, minima non-negative, and no
    /// partition's minimum exceeds its maximum.
    ///
    /// # Errors
    /// [`RateError::InvalidRate`] or [`RateError::MinAboveMax`] for the first offending limit.
    pub fn validate(&self) -> Result<(), RateError> {
        check_pair(None, self.max_per_partition, self.min_per_partition)?;
        for tp in self.overrides.keys() {
            let (max, min) = self.for_partition(tp);
            check_pair(Some(tp), max, min)?;
        }
        Ok(())
    }
}

fn check_pair(
    tp: Option<&TopicPartition>,
    max: Option<f64>,
    min: Option<f64>,
) -> Result<(), RateError> {
    let invalid = |what, value| RateError::InvalidRate {
        what,
        partition: tp.cloned(),
        value,
    };
    if let Some(max) = max {
        if !max.is_finite() || max <= 0.0 {
            return Err(invalid("maximum rate", max));
        }
    }
    if let Some(min) = min {
        if !min.is_finite() || min < 0.0 {
            return Err(invalid("minimum rate", min));
        }
        if let Some(max) = max {
            if min > max {
                return Err(RateError::MinAboveMax {
                    partition: tp.cloned(),
                    min,
                    max,
                });
            }
        }
    }
    Ok(())
}

/// An invalid rate limit or rate estimator setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RateError {
    /// A rate is not finite, a maximum is not positive, or a minimum is negative.
    #[error("invalid {what} {value}{}", on(.partition))]
    InvalidRate {
        /// Which rate.
        what: &'static str,
        /// The partition of an override, `None` for a stream-wide limit.
        partition: Option<TopicPartition>,
        /// The rate given.
        value: f64,
    },
    /// A minimum rate exceeds the maximum rate of the same partition.
    #[error("minimum rate {min} exceeds maximum rate {max}{}", on(.partition))]
    MinAboveMax {
        /// The partition of an override, `None` for the stream-wide limits.
        partition: Option<TopicPartition>,
        /// The minimum rate.
        min: f64,
        /// The maximum rate.
        max: f64,
    },
    /// A PID gain is negative or not finite.
    #[error("invalid PID {what} gain {value}")]
    InvalidGain {
        /// Which gain.
        what: &'static str,
        /// The gain given.
        value: f64,
    },
    /// The batch interval of a rate estimator is zero.
    #[error("the batch interval must be positive")]
    ZeroBatchInterval,
}

fn on(partition: &Option<TopicPartition>) -> String {
    partition
        .as_ref()
        .map(|tp| format!(" for {tp}"))
        .unwrap_or_default()
}

/// Why a batch could not be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The latest offset of a partition is below the next offset to read: the log was
    /// truncated (retention, unclean leader election). The caller must pick a new start.
    #[error("{partition}: latest offset {latest} is below the next offset to read {current}")]
    OffsetBehindCurrent {
        /// The partition.
        partition: TopicPartition,
        /// The next offset to read.
        current: i64,
        /// The latest offset reported.
        latest: i64,
    },
    /// A partition being read has no latest offset.
    #[error("{partition}: no latest offset")]
    MissingLatest {
        /// The partition.
        partition: TopicPartition,
    },
    /// A next offset to read is invalid (negative).
    #[error(transparent)]
    Range(#[from] RangeError),
    /// The rate limits are invalid.
    #[error(transparent)]
    Limits(#[from] RateError),
}

/// Plans the next batch: one [`OffsetRange`] per partition of `current`, in partition order.
///
/// `current` holds the next offset to read of each partition, `latest` its latest offset (the
/// last stable offset, or the high watermark). For each partition, `until = min(latest, from
/// + cap)` where `cap` is the number of records its rate allows in `interval`:
/// - without backpressure (`estimated_rate` is `None`, or not a positive number), the rate is
///   the partition's maximum, and a partition without one is read up to `latest`;
/// - with backpressure, `estimated_rate` (records/s for the whole stream) is split across
///   partitions in proportion to their lag, each share bounded by the partition's maximum.
///
/// `cap` is `floor(rate × interval)`, but never below `floor(min rate × interval)`, and at
/// least 1 while the partition lags, so that every lagging partition progresses. A partition
/// without lag yields an empty range. Partitions of `latest` absent from `current` are
/// skipped: the caller decides where they start.
///
/// # Errors
/// [`PlanError::OffsetBehindCurrent`] if a partition's latest offset is below its current
/// one, [`PlanError::MissingLatest`] if a partition of `current` has no latest offset,
/// [`PlanError::Range`] for a negative current offset, [`PlanError::Limits`] if `limits` is
/// invalid ([`RateLimits::validate`]).
pub fn plan_batch(
    current: &BTreeMap<TopicPartition, i64>,
    latest: &BTreeMap<TopicPartition, i64>,
    interval: Duration,
    limits: &RateLimits,
    estimated_rate: Option<f64>,
) -> Result<Vec<OffsetRange>, PlanError> {
    limits.validate()?;
    let mut lags = Vec::with_capacity(current.len());
    for (tp, &from) in current {
        let &end = latest.get(tp).ok_or_else(|| PlanError::MissingLatest {
            partition: tp.clone(),
        })?;
        if end < from {
            return Err(PlanError::OffsetBehindCurrent {
                partition: tp.clone(),
                current: from,
                latest: end,
            });
        }
        // Validates `from` before it is used in arithmetic.
        OffsetRange::for_partition(tp, from, end)?;
        lags.push((tp, from, end, end - from));
    }
    let estimated = estimated_rate.filter(|r| r.is_finite() && *r > 0.0);
    // Lags as f64 lose precision only beyond 2^53 records, where it no longer matters.
    let total_lag: f64 = lags.iter().map(|&(_, _, _, lag)| lag as f64).sum();
    let secs = interval.as_secs_f64();
    let mut ranges = Vec::with_capacity(lags.len());
    for (tp, from, end, lag) in lags {
        let (max, min) = limits.for_partition(tp);
        let rate = match estimated {
            Some(total) if total_lag > 0.0 => {
                let share = lag as f64 / total_lag * total;
                Some(max.map_or(share, |max| share.min(max)))
            }
            _ => max,
        };
        let until = match rate {
            None => end,
            Some(rate) => {
                let floor = min.map_or(0.0, |min| (min * secs).floor());
                let cap = (rate * secs).floor().max(floor).max(1.0);
                // Float to int casts saturate; caps beyond i64 mean "no limit".
                from.saturating_add(cap as i64).min(end)
            }
        };
        ranges.push(OffsetRange::for_partition(tp, from, until)?);
    }
    Ok(ranges)
}

/// The gains and floor of a [`PidRateEstimator`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct PidConfig {
    /// Weight of the current error (latest rate − processing rate). Default 1.0.
    pub proportional: f64,
    /// Weight of the accumulated error, derived from the scheduling delay. Default 0.2.
    pub integral: f64,
    /// Weight of the change of the error over time. Default 0.0.
    pub derivative: f64,
    /// The lowest rate ever returned, in records/s. Default 100.
    pub min_rate: f64,
}

impl Default for PidConfig {
    fn default() -> Self {
        Self {
            proportional: 1.0,
            integral: 0.2,
            derivative: 0.0,
            min_rate: 100.0,
        }
    }
}

impl PidConfig {
    /// Sets the proportional, integral and derivative gains.
    #[must_use]
    pub fn with_gains(mut self, proportional: f64, integral: f64, derivative: f64) -> Self {
        self.proportional = proportional;
        self.integral = integral;
        self.derivative = derivative;
        self
    }

    /// Sets the lowest rate the estimator returns, in records/s.
    #[must_use]
    pub fn with_min_rate(mut self, min_rate: f64) -> Self {
        self.min_rate = min_rate;
        self
    }
}

/// A PID controller estimating the rate (records/s for the whole stream) at which batches
/// can be processed within the batch interval, as Spark Streaming's backpressure does.
///
/// After each batch, [`PidRateEstimator::compute`] takes the batch's completion time, size,
/// processing delay and scheduling delay. With `processing rate = elements / processing
/// delay`, it computes
/// - the error: `latest rate − processing rate`;
/// - the historical error: `scheduling delay × processing rate / batch interval`, the records
///   queued up behind slow batches;
/// - the error's derivative: its change since the previous update over the time between them,
///
/// and the new rate `latest rate − proportional × error − integral × historical error −
/// derivative × d(error)`, never below `min_rate`. The first valid update only records the
/// processing rate as the latest rate and returns `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct PidRateEstimator {
    config: PidConfig,
    batch_interval_ms: f64,
    first_run: bool,
    latest_time_ms: i64,
    latest_rate: f64,
    latest_error: f64,
}

impl PidRateEstimator {
    /// An estimator for batches every `batch_interval`.
    ///
    /// # Errors
    /// [`RateError::ZeroBatchInterval`], [`RateError::InvalidGain`] for a negative or
    /// non-finite gain, [`RateError::InvalidRate`] for a non-positive or non-finite
    /// `min_rate`.
    pub fn new(batch_interval: Duration, config: PidConfig) -> Result<Self, RateError> {
        if batch_interval.is_zero() {
            return Err(RateError::ZeroBatchInterval);
        }
        for (what, value) in [
            ("proportional", config.proportional),
            ("integral", config.integral),
            ("derivative", config.derivative),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(RateError::InvalidGain { what, value });
            }
        }
        if !config.min_rate.is_finite() || config.min_rate <= 0.0 {
            return Err(RateError::InvalidRate {
                what: "PID minimum rate",
                partition: None,
                value: config.min_rate,
            });
        }
        Ok(Self {
            config,
            batch_interval_ms: batch_interval.as_secs_f64() * 1000.0,
            first_run: true,
            latest_time_ms: -1,
            latest_rate: -1.0,
            latest_error: -1.0,
        })
    }

    /// The estimator's settings.
    pub fn config(&self) -> &PidConfig {
        &self.config
    }

    /// The rate the estimator holds: the last estimate returned by
    /// [`PidRateEstimator::compute`] or, after only one valid update, that batch's processing
    /// rate. `None` before any valid update.
    pub fn latest_rate(&self) -> Option<f64> {
        (!self.first_run).then_some(self.latest_rate)
    }

    /// Updates the estimate with a completed batch and returns the new rate (records/s).
    ///
    /// `time_ms` is when the batch completed, `elements` its record count,
    /// `processing_delay_ms` how long processing took and `scheduling_delay_ms` how long the
    /// batch waited before processing started.
    ///
    /// Returns `None`, and changes nothing, unless `time_ms` is later than the previous
    /// update's, `elements > 0`, `processing_delay_ms > 0` and `scheduling_delay_ms >= 0`.
    /// Also `None` for the first valid update, which only records the processing rate.
    pub fn compute(
        &mut self,
        time_ms: i64,
        elements: u64,
        processing_delay_ms: i64,
        scheduling_delay_ms: i64,
    ) -> Option<f64> {
        if time_ms <= self.latest_time_ms
            || elements == 0
            || processing_delay_ms <= 0
            || scheduling_delay_ms < 0
        {
            return None;
        }
        // The time since the last update, in seconds (positive: checked above).
        let since_update = (time_ms as f64 - self.latest_time_ms as f64) / 1000.0;
        let processing_rate = elements as f64 / processing_delay_ms as f64 * 1000.0;
        let error = self.latest_rate - processing_rate;
        let historical_error =
            scheduling_delay_ms as f64 * processing_rate / self.batch_interval_ms;
        let d_error = (error - self.latest_error) / since_update;
        let c = &self.config;
        let new_rate = (self.latest_rate
            - c.proportional * error
            - c.integral * historical_error
            - c.derivative * d_error)
            .max(c.min_rate);
        self.latest_time_ms = time_ms;
        if self.first_run {
            self.first_run = false;
            self.latest_rate = processing_rate;
            self.latest_error = 0.0;
            None
        } else {
            self.latest_rate = new_rate;
            self.latest_error = error;
            Some(new_rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    #[test]
    fn limits_validate() {
        assert!(
            RateLimits::new()
                .with_max_per_partition(0.0)
                .validate()
                .is_err()
        );
        assert!(
            RateLimits::new()
                .with_min_per_partition(f64::NAN)
                .validate()
                .is_err()
        );
        let err = RateLimits::new()
            .with_max_per_partition(10.0)
            .with_override(tp(3), None, Some(20.0))
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "minimum rate 20 exceeds maximum rate 10 for t-3"
        );
    }

    #[test]
    fn unlimited_reads_to_latest() {
        let current = BTreeMap::from([(tp(0), 5), (tp(1), 7)]);
        let latest = BTreeMap::from([(tp(0), 500), (tp(1), 7), (tp(2), 9)]);
        let ranges = plan_batch(
            &current,
            &latest,
            Duration::from_secs(1),
            &RateLimits::new(),
            None,
        )
        .unwrap();
        let got: Vec<_> = ranges
            .iter()
            .map(|r| (r.partition(), r.from(), r.until()))
            .collect();
        assert_eq!(got, [(0, 5, 500), (1, 7, 7)]);
    }

    #[test]
    fn missing_latest_is_an_error() {
        let current = BTreeMap::from([(tp(0), 5)]);
        let err = plan_batch(
            &current,
            &BTreeMap::new(),
            Duration::from_secs(1),
            &RateLimits::new(),
            None,
        )
        .unwrap_err();
        assert_eq!(err, PlanError::MissingLatest { partition: tp(0) });
    }

    #[test]
    fn pid_rejects_bad_config() {
        let d = Duration::from_secs(1);
        assert!(PidRateEstimator::new(Duration::ZERO, PidConfig::default()).is_err());
        let c = PidConfig::default().with_gains(1.0, -1.0, 0.0);
        assert!(PidRateEstimator::new(d, c).is_err());
        let c = PidConfig::default().with_min_rate(0.0);
        assert!(PidRateEstimator::new(d, c).is_err());
    }

    #[test]
    fn pid_ignores_invalid_input() {
        let mut pid = PidRateEstimator::new(Duration::from_secs(1), PidConfig::default()).unwrap();
        assert_eq!(pid.compute(1000, 0, 100, 0), None);
        assert_eq!(pid.compute(1000, 10, 0, 0), None);
        assert_eq!(pid.compute(1000, 10, 100, -1), None);
        assert_eq!(pid.latest_rate(), None);
        assert_eq!(pid.compute(1000, 1000, 1000, 0), None);
        // Not later than the previous update.
        assert_eq!(pid.compute(1000, 1000, 1000, 0), None);
        assert!(pid.compute(2000, 1000, 1000, 0).is_some());
    }

    #[test]
    fn pid_steady_state_keeps_rate() {
        let mut pid = PidRateEstimator::new(Duration::from_secs(1), PidConfig::default()).unwrap();
        assert_eq!(pid.compute(1000, 1000, 1000, 0), None);
        // Processing exactly at the latest rate, no scheduling delay: no change.
        assert_eq!(pid.compute(2000, 1000, 1000, 0), Some(1000.0));
        assert_eq!(pid.latest_rate(), Some(1000.0));
    }
}
