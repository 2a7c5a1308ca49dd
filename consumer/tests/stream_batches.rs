//! Direct-stream batch planning against brokers: ranges cover the backlog exactly, rate limits
//! and backpressure bound them, batches come one interval apart, read_committed ranges stop at
//! the last stable offset, and a truncated log is a typed error. Where streams start and which
//! partitions they hold is stream_starts.rs. Runs on our MockCluster, Apache Kafka and, where
//! the broker supports the behaviour, tansu and librdkafka's mock (records are produced one per
//! batch on tansu: tansu 0.6.0 answers ListOffsets LATEST with the last batch's base offset + 1,
//! see testkit's README).

mod stream_support;

use std::collections::BTreeMap;
use std::time::Duration;

use gregor_consumer::direct::rate::{PidConfig, PlanError, RateLimits};
use gregor_consumer::direct::{
    BatchInfo, ConsumerStrategy, DirectStream, StartingOffsets, StreamError,
};
use gregor_consumer::range::{OffsetRange, TopicPartition};
use gregor_consumer::store::PartitionOffsets;
use gregor_consumer::{FetchConfig, IsolationLevel};
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{create_topic, create_topic_on, produce, unique_name, values, within};
use stream_support::txn::{end_transaction, open_transaction};
use stream_support::{broker, client, config, key, per_batch, per_kind, start_positions};

/// Plans batches until every partition of `targets` reached its target position; returns
/// every batch's ranges.
async fn batches_until(
    stream: &mut DirectStream,
    targets: &PartitionOffsets,
) -> Vec<Vec<OffsetRange>> {
    let mut all = Vec::new();
    for _ in 0..500 {
        let batch = within("next batch", stream.next_batch()).await.unwrap();
        all.push(batch.offset_ranges().to_vec());
        drop(batch);
        if targets
            .iter()
            .all(|(k, target)| stream.positions().get(k) == Some(target))
        {
            return all;
        }
    }
    panic!(
        "positions {:?} never reached {targets:?}",
        stream.positions()
    );
}

/// The ranges of one partition, in batch order.
fn of_partition(batches: &[Vec<OffsetRange>], topic: &str, partition: i32) -> Vec<OffsetRange> {
    batches
        .iter()
        .flatten()
        .filter(|r| r.topic() == topic && r.partition() == partition)
        .cloned()
        .collect()
}

/// Ranges follow each other without gap or overlap from `start` to `end`.
fn assert_contiguous(ranges: &[OffsetRange], start: i64, end: i64) {
    let mut next = start;
    for r in ranges {
        assert_eq!(r.from(), next, "gap or overlap at {r} in {ranges:?}");
        next = r.until();
    }
    assert_eq!(next, end, "ranges {ranges:?} end at {next}, not {end}");
}

async fn ranges_cover_the_backlog(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("cover");
    create_topic_on(&broker, &client, &topic, 2).await;
    produce(&client, &topic, 0, &values("a", 23), per_batch(kind)).await;
    produce(&client, &topic, 1, &values("b", 9), per_batch(kind)).await;

    // 200 records/s over 20 ms: at most 4 offsets per partition and batch.
    let rates = RateLimits::new().with_max_per_partition(200.0);
    let mut stream = within(
        "stream",
        DirectStream::new(
            client.clone(),
            config(ConsumerStrategy::subscribe([topic.clone()])).with_rates(rates),
            PartitionOffsets::new(),
        ),
    )
    .await
    .unwrap();
    let first = batches_until(
        &mut stream,
        &BTreeMap::from([(key(&topic, 0), 23), (key(&topic, 1), 9)]),
    )
    .await;
    // More records arrive while the stream runs.
    produce(&client, &topic, 1, &values("c", 6), per_batch(kind)).await;
    let second = batches_until(
        &mut stream,
        &BTreeMap::from([(key(&topic, 0), 23), (key(&topic, 1), 15)]),
    )
    .await;
    let all: Vec<Vec<OffsetRange>> = first.into_iter().chain(second).collect();
    for batch in &all {
        assert_eq!(batch.len(), 2, "one range per partition: {batch:?}");
        for r in batch {
            assert!(r.count() <= 4, "{r} exceeds 200/s x 20 ms");
        }
    }
    assert_contiguous(&of_partition(&all, &topic, 0), 0, 23);
    assert_contiguous(&of_partition(&all, &topic, 1), 0, 15);
    // Lagging partitions progress at the full cap.
    assert_eq!(of_partition(&all, &topic, 0)[0].count(), 4);
}

per_kind!(
    ranges_cover_the_backlog:
    mock => Mock,
    tansu => Tansu,
    kafka => Kafka,
    rdkafka_mock => RdkafkaMock
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_and_min_rate_bound_ranges_under_backpressure() {
    let broker = broker(BrokerKind::Mock).await;
    let client = client(&broker).await;
    let topic = unique_name("rates");
    create_topic(&client, &topic, 2).await;
    produce(&client, &topic, 0, &values("a", 3000), 500).await;
    produce(&client, &topic, 1, &values("b", 3000), 500).await;
    let interval = Duration::from_millis(100);
    // Partition 0: at most 5000/s (500 per batch); partition 1: at most 1000/s (100 per
    // batch); every partition at least 200/s (20 per batch) even under backpressure.
    let rates = RateLimits::new()
        .with_max_per_partition(5000.0)
        .with_min_per_partition(200.0)
        .with_override(TopicPartition::new(topic.as_str(), 1), Some(1000.0), None);
    let pid = PidConfig::default().with_min_rate(1.0);
    let mut stream = within(
        "stream",
        DirectStream::new(
            client.clone(),
            config(ConsumerStrategy::subscribe([topic.clone()]))
                .with_batch_interval(interval)
                .with_rates(rates)
                .with_backpressure(pid),
            PartitionOffsets::new(),
        ),
    )
    .await
    .unwrap();

    let counts = |b: &gregor_consumer::direct::Batch| -> Vec<u64> {
        b.offset_ranges().iter().map(OffsetRange::count).collect()
    };
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert_eq!(counts(&batch), [500, 100], "max rates and the override");
    // Processing took ten intervals: the first report only measures the processing rate.
    stream.batch_completed(BatchInfo::new(600, Duration::from_secs(1)));
    assert_eq!(stream.estimated_rate(), Some(600.0));
    drop(batch);

    let batch = within("batch", stream.next_batch()).await.unwrap();
    let second = counts(&batch);
    // 600 records/s for the stream over 100 ms, split by lag (2500 : 2900).
    assert!(second.iter().sum::<u64>() <= 60, "{second:?}");
    assert!(second.iter().all(|&c| c >= 20), "min rate: {second:?}");
    assert!(
        second[0] < 500 && second[1] < 100,
        "backpressure lowered both: {second:?}"
    );
    stream.batch_completed(BatchInfo::new(second.iter().sum(), Duration::from_secs(1)));
    let lowered = stream.estimated_rate().unwrap();
    assert!(
        lowered < 600.0,
        "slow processing lowers the rate: {lowered}"
    );
    drop(batch);

    let batch = within("batch", stream.next_batch()).await.unwrap();
    let third = counts(&batch);
    assert_eq!(
        third,
        [20, 20],
        "the min rate holds under strong backpressure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_start_one_interval_apart() {
    let broker = broker(BrokerKind::Mock).await;
    let client = client(&broker).await;
    let topic = unique_name("interval");
    create_topic(&client, &topic, 1).await;
    let interval = Duration::from_millis(50);
    let mut stream = within(
        "stream",
        DirectStream::new(
            client.clone(),
            config(ConsumerStrategy::subscribe([topic.clone()])).with_batch_interval(interval),
            PartitionOffsets::new(),
        ),
    )
    .await
    .unwrap();
    let first = within("batch", stream.next_batch()).await.unwrap();
    assert_eq!(first.scheduling_delay(), Duration::ZERO);
    let second = within("batch", stream.next_batch()).await.unwrap();
    assert!(second.started_at() - first.started_at() >= interval);
    assert_eq!(second.scheduling_delay(), Duration::ZERO, "on time");
    // A caller that comes late gets its batch at once, with the lateness recorded.
    tokio::time::sleep(interval * 3).await;
    let third = within("batch", stream.next_batch()).await.unwrap();
    assert!(
        third.scheduling_delay() >= interval * 2,
        "{:?}",
        third.scheduling_delay()
    );
}

async fn read_committed_ranges_stop_at_the_last_stable_offset(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("lso");
    create_topic(&client, &topic, 1).await;
    produce(&client, &topic, 0, &values("a", 3), 3).await;
    let open = open_transaction(&broker, &topic, 0, &["t", "u"]).await;
    produce(&client, &topic, 0, &values("b", 2), 2).await;
    let fetch = FetchConfig::default().with_isolation(IsolationLevel::ReadCommitted);
    let mut committed = within(
        "stream",
        DirectStream::new(
            client.clone(),
            config(ConsumerStrategy::subscribe([topic.clone()])).with_fetch(fetch),
            PartitionOffsets::new(),
        ),
    )
    .await
    .unwrap();
    let mut uncommitted = within(
        "stream",
        DirectStream::new(
            client.clone(),
            config(ConsumerStrategy::subscribe([topic.clone()])),
            PartitionOffsets::new(),
        ),
    )
    .await
    .unwrap();
    let until = |b: &gregor_consumer::direct::Batch| b.offset_ranges()[0].until();
    // The open transaction starts at offset 3: read_committed stops there, the other at the
    // high watermark.
    let batch = within("batch", committed.next_batch()).await.unwrap();
    assert_eq!(until(&batch), 3);
    let batch = within("batch", uncommitted.next_batch()).await.unwrap();
    assert_eq!(until(&batch), 7);
    let marker = end_transaction(&broker, &client, open, true).await;
    assert_eq!(marker, 7);
    // Committed: the range reaches past the marker.
    let batch = within("batch", committed.next_batch()).await.unwrap();
    assert_eq!((batch.offset_ranges()[0].from(), until(&batch)), (3, 8));
}

per_kind!(read_committed_ranges_stop_at_the_last_stable_offset: mock => Mock, kafka => Kafka);

/// Under `tokio::time::pause` (our mock runs on the test's runtime, so its timers are paused
/// too) the stream waits whole intervals of virtual time.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_interval_is_tokio_time() {
    let broker = broker(BrokerKind::Mock).await;
    let client = client(&broker).await;
    let topic = unique_name("paused");
    create_topic(&client, &topic, 1).await;
    let interval = Duration::from_secs(600);
    let mut stream = DirectStream::new(
        client.clone(),
        config(ConsumerStrategy::subscribe([topic.clone()])).with_batch_interval(interval),
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    let first = stream.next_batch().await.unwrap();
    let second = stream.next_batch().await.unwrap();
    let third = stream.next_batch().await.unwrap();
    assert!(second.started_at() - first.started_at() >= interval);
    assert!(third.started_at() - second.started_at() >= interval);
    assert_eq!(third.scheduling_delay(), Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_truncated_below_the_position_is_a_typed_error() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().unwrap();
    let client = client(&broker).await;
    let topic = unique_name("truncated");
    create_topic(&client, &topic, 1).await;
    produce(&client, &topic, 0, &values("a", 10), 1).await;
    let mut stream = start_positions(
        &client,
        ConsumerStrategy::subscribe([topic.clone()]),
        StartingOffsets::Latest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    mock.truncate(&topic, 0, 6).await.unwrap();
    match within("batch", stream.next_batch()).await {
        Err(StreamError::Plan(PlanError::OffsetBehindCurrent {
            partition,
            current,
            latest,
        })) => {
            assert_eq!(partition, TopicPartition::new(topic.as_str(), 0));
            assert_eq!((current, latest), (10, 6));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        stream.positions(),
        &BTreeMap::from([(key(&topic, 0), 10)]),
        "a failed batch leaves the positions alone"
    );
}

/// The stream and its batches can move to other tasks.
#[allow(dead_code)]
fn futures_are_send(stream: &mut DirectStream) {
    fn is_send<T: Send>(_: T) {}
    is_send(stream.next_batch());
}

#[allow(dead_code)]
fn batches_are_send(batch: gregor_consumer::direct::Batch) {
    fn is_send<T: Send>(_: T) {}
    is_send(batch);
}
