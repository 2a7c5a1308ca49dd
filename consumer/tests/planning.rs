//! Batch planning and rate estimation, through the public API.

use std::collections::BTreeMap;
use std::time::Duration;

use gregor_consumer::direct::rate::{
    PidConfig, PidRateEstimator, PlanError, RateLimits, plan_batch,
};
use gregor_consumer::range::{ConsumedRange, OffsetRange, TopicPartition, merge_until};
use proptest::prelude::*;

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("events", p)
}

fn offsets(pairs: &[(i32, i64)]) -> BTreeMap<TopicPartition, i64> {
    pairs.iter().map(|&(p, o)| (tp(p), o)).collect()
}

/// `(partition, from, until)` of each range.
fn spans(ranges: &[OffsetRange]) -> Vec<(i32, i64, i64)> {
    ranges
        .iter()
        .map(|r| (r.partition(), r.from(), r.until()))
        .collect()
}

const SEC: Duration = Duration::from_secs(1);

#[test]
fn max_rate_caps_each_partition() {
    let current = offsets(&[(0, 0), (1, 100), (2, 50)]);
    let latest = offsets(&[(0, 10_000), (1, 150), (2, 50)]);
    let limits = RateLimits::new().with_max_per_partition(100.0);
    let ranges = plan_batch(&current, &latest, Duration::from_secs(2), &limits, None).unwrap();
    assert_eq!(spans(&ranges), [(0, 0, 200), (1, 100, 150), (2, 50, 50)]);
}

#[test]
fn empty_lag_gives_empty_range() {
    let current = offsets(&[(0, 42)]);
    let limits = RateLimits::new().with_max_per_partition(100.0);
    for estimated in [None, Some(1000.0)] {
        let ranges = plan_batch(&current, &current, SEC, &limits, estimated).unwrap();
        assert_eq!(ranges.len(), 1);
        assert!(ranges[0].is_empty());
        assert_eq!(ranges[0].count(), 0);
        assert_eq!((ranges[0].from(), ranges[0].until()), (42, 42));
    }
}

#[test]
fn at_least_one_record_when_lagging() {
    let current = offsets(&[(0, 0)]);
    let latest = offsets(&[(0, 10)]);
    let limits = RateLimits::new().with_max_per_partition(1.0);
    let ranges = plan_batch(&current, &latest, Duration::from_millis(100), &limits, None).unwrap();
    assert_eq!(spans(&ranges), [(0, 0, 1)]);
}

#[test]
fn overrides_apply_per_partition() {
    let current = offsets(&[(0, 0), (1, 0), (2, 0)]);
    let latest = offsets(&[(0, 1000), (1, 1000), (2, 1000)]);
    let limits = RateLimits::new()
        .with_max_per_partition(100.0)
        .with_override(tp(1), Some(10.0), None)
        // A min-only override keeps the stream-wide max.
        .with_override(tp(2), None, Some(50.0));
    assert_eq!(limits.for_partition(&tp(2)), (Some(100.0), Some(50.0)));
    let ranges = plan_batch(&current, &latest, SEC, &limits, None).unwrap();
    assert_eq!(spans(&ranges), [(0, 0, 100), (1, 0, 10), (2, 0, 100)]);
    // Under heavy backpressure the override's min rate wins over the tiny share.
    let ranges = plan_batch(&current, &latest, SEC, &limits, Some(3.0)).unwrap();
    assert_eq!(spans(&ranges), [(0, 0, 1), (1, 0, 1), (2, 0, 50)]);
}

#[test]
fn backpressure_splits_rate_by_lag() {
    let current = offsets(&[(0, 0), (1, 500), (2, 7)]);
    let latest = offsets(&[(0, 3000), (1, 1500), (2, 7)]);
    let unlimited = RateLimits::new();
    let ranges = plan_batch(&current, &latest, SEC, &unlimited, Some(400.0)).unwrap();
    assert_eq!(spans(&ranges), [(0, 0, 300), (1, 500, 600), (2, 7, 7)]);
    // Each share is bounded by the partition's max rate.
    let limits = RateLimits::new().with_max_per_partition(200.0);
    let ranges = plan_batch(&current, &latest, SEC, &limits, Some(400.0)).unwrap();
    assert_eq!(spans(&ranges), [(0, 0, 200), (1, 500, 600), (2, 7, 7)]);
    // A non-positive estimate means no backpressure.
    let ranges = plan_batch(&current, &latest, SEC, &limits, Some(0.0)).unwrap();
    assert_eq!(spans(&ranges), [(0, 0, 200), (1, 500, 700), (2, 7, 7)]);
}

#[test]
fn min_rate_floors_backpressure() {
    let current = offsets(&[(0, 0), (1, 0)]);
    let latest = offsets(&[(0, 1000), (1, 1000)]);
    let limits = RateLimits::new()
        .with_max_per_partition(500.0)
        .with_min_per_partition(50.0);
    let ranges = plan_batch(&current, &latest, SEC, &limits, Some(10.0)).unwrap();
    assert_eq!(spans(&ranges), [(0, 0, 50), (1, 0, 50)]);
    // The min rate never reads past the latest offset.
    let latest = offsets(&[(0, 20), (1, 1000)]);
    let ranges = plan_batch(&current, &latest, SEC, &limits, Some(10.0)).unwrap();
    assert_eq!(spans(&ranges), [(0, 0, 20), (1, 0, 50)]);
}

#[test]
fn truncated_partition_is_a_typed_error() {
    let current = offsets(&[(0, 10), (3, 100)]);
    let latest = offsets(&[(0, 20), (3, 40)]);
    let err = plan_batch(&current, &latest, SEC, &RateLimits::new(), None).unwrap_err();
    assert_eq!(
        err,
        PlanError::OffsetBehindCurrent {
            partition: tp(3),
            current: 100,
            latest: 40,
        }
    );
    assert!(err.to_string().contains("events-3"), "{err}");
}

#[test]
fn new_partitions_in_latest_are_skipped() {
    let current = offsets(&[(0, 10)]);
    let latest = offsets(&[(0, 20), (1, 40)]);
    let ranges = plan_batch(&current, &latest, SEC, &RateLimits::new(), None).unwrap();
    assert_eq!(spans(&ranges), [(0, 10, 20)]);
}

#[test]
fn invalid_limits_are_rejected() {
    let current = offsets(&[(0, 10)]);
    let limits = RateLimits::new()
        .with_max_per_partition(10.0)
        .with_min_per_partition(20.0);
    let err = plan_batch(&current, &current, SEC, &limits, None).unwrap_err();
    assert!(matches!(err, PlanError::Limits(_)), "{err:?}");
    let err = plan_batch(
        &offsets(&[(0, -1)]),
        &current,
        SEC,
        &RateLimits::new(),
        None,
    );
    assert!(matches!(err, Err(PlanError::Range(_))), "{err:?}");
}

#[test]
fn offset_range_json_round_trip() {
    let range = OffsetRange::new("events", 4, 17, 99).unwrap();
    let json = serde_json::to_string(&range).unwrap();
    assert_eq!(
        json,
        r#"{"topic":"events","partition":4,"from":17,"until":99}"#
    );
    assert_eq!(serde_json::from_str::<OffsetRange>(&json).unwrap(), range);
    let consumed = ConsumedRange::new(range, 80).unwrap();
    let json = serde_json::to_string(&consumed).unwrap();
    assert_eq!(
        serde_json::from_str::<ConsumedRange>(&json).unwrap(),
        consumed
    );
    let tp_json = serde_json::to_string(&tp(1)).unwrap();
    assert_eq!(
        serde_json::from_str::<TopicPartition>(&tp_json).unwrap(),
        tp(1)
    );
}

#[test]
fn merge_until_keeps_the_highest() {
    let ranges = [
        OffsetRange::new("events", 0, 0, 10).unwrap(),
        OffsetRange::new("events", 0, 10, 25).unwrap(),
        OffsetRange::new("events", 1, 5, 5).unwrap(),
        OffsetRange::new("events", 0, 3, 7).unwrap(),
        OffsetRange::new("other", 0, 0, 1).unwrap(),
    ];
    let merged = merge_until(&ranges);
    let expected = BTreeMap::from([
        (tp(0), 25),
        (tp(1), 5),
        (TopicPartition::new("other", 0), 1),
    ]);
    assert_eq!(merged, expected);
}

fn estimator() -> PidRateEstimator {
    PidRateEstimator::new(SEC, PidConfig::default()).unwrap()
}

#[test]
fn pid_first_call_is_none() {
    let mut pid = estimator();
    assert_eq!(pid.compute(1000, 1000, 500, 0), None);
    assert_eq!(pid.latest_rate(), Some(2000.0));
}

#[test]
fn pid_lowers_then_raises_rate() {
    let mut pid = estimator();
    assert_eq!(pid.compute(1000, 1000, 1000, 0), None);
    // 1000 records took 2 s in a 1 s interval, and the batch waited 1 s: slow down.
    // error = 1000 - 500, historical = 1000 * 500 / 1000: 1000 - 500 - 0.2 * 500.
    let slow = pid.compute(2000, 1000, 2000, 1000).unwrap();
    assert_eq!(slow, 400.0);
    // 400 records in 200 ms (2000 records/s), no queue: speed back up.
    let fast = pid.compute(3000, 400, 200, 0).unwrap();
    assert!(fast > slow, "{fast} <= {slow}");
    assert_eq!(fast, 2000.0);
}

#[test]
fn pid_never_below_min_rate() {
    let config = PidConfig::default().with_min_rate(50.0);
    let mut pid = PidRateEstimator::new(SEC, config).unwrap();
    assert_eq!(pid.compute(1000, 1000, 1000, 0), None);
    let mut time = 1000;
    for _ in 0..20 {
        time += 1000;
        // One record every 10 s, with a long queue.
        let rate = pid.compute(time, 1, 10_000, 60_000).unwrap();
        assert!(rate >= 50.0, "{rate}");
    }
    assert_eq!(pid.latest_rate(), Some(50.0));
}

#[test]
fn pid_derivative_gain_dampens() {
    let config = PidConfig::default().with_gains(1.0, 0.0, 0.5);
    let mut pid = PidRateEstimator::new(SEC, config).unwrap();
    assert_eq!(pid.compute(1000, 1000, 1000, 0), None);
    // error = 1000 - 500 = 500, d(error) = (500 - 0) / 1 s; 1000 - 500 - 0.5 * 500.
    assert_eq!(pid.compute(2000, 1000, 2000, 0), Some(250.0));
}

proptest! {
    #[test]
    fn plan_respects_limits(
        parts in prop::collection::vec((0i64..1_000_000_000, 0i64..1_000_000), 1..8),
        max in 1.0f64..100_000.0,
        min_frac in prop::option::of(0.0f64..=1.0),
        interval_ms in 0u64..10_000,
        estimated in prop::option::of(1.0f64..1_000_000.0),
    ) {
        let current: BTreeMap<_, _> =
            parts.iter().enumerate().map(|(i, &(from, _))| (tp(i as i32), from)).collect();
        let latest: BTreeMap<_, _> = parts
            .iter()
            .enumerate()
            .map(|(i, &(from, lag))| (tp(i as i32), from + lag))
            .collect();
        let mut limits = RateLimits::new().with_max_per_partition(max);
        if let Some(frac) = min_frac {
            limits = limits.with_min_per_partition(max * frac);
        }
        let interval = Duration::from_millis(interval_ms);
        let secs = interval.as_secs_f64();
        let ranges = plan_batch(&current, &latest, interval, &limits, estimated).unwrap();
        prop_assert_eq!(ranges.len(), parts.len());
        for (range, &(from, lag)) in ranges.iter().zip(&parts) {
            let lag = lag as u64;
            prop_assert_eq!(range.from(), from);
            prop_assert!(range.count() <= lag);
            let cap = ((max * secs).floor() as u64).max(1);
            prop_assert!(range.count() <= cap, "{} > {}", range.count(), cap);
            if lag > 0 {
                prop_assert!(range.count() >= 1);
            }
            if let Some(frac) = min_frac {
                let floor = (max * frac * secs).floor() as u64;
                prop_assert!(range.count() >= floor.min(lag));
            }
            if estimated.is_none() {
                prop_assert_eq!(range.count(), cap.min(lag));
            }
        }
    }

    #[test]
    fn backpressure_total_bounded_by_estimate(
        lags in prop::collection::vec(0i64..1_000_000, 1..8),
        estimated in 1.0f64..100_000.0,
        interval_ms in 1u64..10_000,
    ) {
        let current: BTreeMap<_, _> = (0..lags.len()).map(|i| (tp(i as i32), 0)).collect();
        let latest: BTreeMap<_, _> =
            lags.iter().enumerate().map(|(i, &lag)| (tp(i as i32), lag)).collect();
        let ranges =
            plan_batch(&current, &latest, Duration::from_millis(interval_ms), &RateLimits::new(), Some(estimated))
                .unwrap();
        let total: u64 = ranges.iter().map(OffsetRange::count).sum();
        let budget = (estimated * interval_ms as f64 / 1000.0).floor() as u64;
        // Each lagging partition may round its share up to one record.
        prop_assert!(total <= budget.max(1) + lags.len() as u64, "{total} > {budget}");
    }
}
