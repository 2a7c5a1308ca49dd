//! Direct-stream batch planning against brokers: ranges cover the backlog exactly, rate limits
//! and backpressure bound them, starting offsets follow explicit > stored > policy, and
//! partitions join and leave as the cluster changes. Runs on our MockCluster and, where the
//! broker supports the behaviour, tansu (records are produced one per batch there: tansu 0.6.0
//! answers ListOffsets LATEST with the last batch's base offset + 1, see testkit's README).

mod stream_support;

use std::collections::BTreeMap;
use std::time::Duration;

use gregor_client::Admin;
use gregor_consumer::range::{OffsetRange, TopicPartition};
use gregor_consumer::rate::{PidConfig, PlanError, RateLimits};
use gregor_consumer::store::{BatchStart, PartitionOffsets};
use gregor_consumer::stream::{
    BatchInfo, ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets, StreamError,
};
use gregor_consumer::{FetchConfig, IsolationLevel, OnDataLoss};
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{create_topic, create_topic_on, produce, unique_name, values, within};
use gregor_testkit::mock::MockRecord;
use regex::Regex;
use stream_support::{broker, client};

const INTERVAL: Duration = Duration::from_millis(20);

fn config(strategy: ConsumerStrategy) -> DirectStreamConfig {
    DirectStreamConfig::new(strategy)
        .with_batch_interval(INTERVAL)
        .with_starting(StartingOffsets::Earliest)
}

fn per_batch(kind: BrokerKind) -> usize {
    if kind == BrokerKind::Tansu { 1 } else { 7 }
}

fn key(topic: &str, partition: i32) -> (String, i32) {
    (topic.to_owned(), partition)
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_cover_the_backlog_on_mock() {
    ranges_cover_the_backlog(BrokerKind::Mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_cover_the_backlog_on_tansu() {
    ranges_cover_the_backlog(BrokerKind::Tansu).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_cover_the_backlog_on_kafka() {
    ranges_cover_the_backlog(BrokerKind::Kafka).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_cover_the_backlog_on_rdkafka_mock() {
    ranges_cover_the_backlog(BrokerKind::RdkafkaMock).await;
}

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

    let counts = |b: &gregor_consumer::stream::Batch| -> Vec<u64> {
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

async fn start_positions(
    client: &gregor_client::Client,
    strategy: ConsumerStrategy,
    starting: StartingOffsets,
    stored: PartitionOffsets,
) -> Result<DirectStream, StreamError> {
    within(
        "stream",
        DirectStream::new(
            client.clone(),
            config(strategy).with_starting(starting),
            stored,
        ),
    )
    .await
}

async fn starting_policies(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("start");
    create_topic_on(&broker, &client, &topic, 2).await;
    produce(&client, &topic, 0, &values("a", 10), per_batch(kind)).await;
    produce(&client, &topic, 1, &values("b", 4), per_batch(kind)).await;
    let subscribe = || ConsumerStrategy::subscribe([topic.clone()]);

    let s = start_positions(
        &client,
        subscribe(),
        StartingOffsets::Earliest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.positions(),
        &BTreeMap::from([(key(&topic, 0), 0), (key(&topic, 1), 0)])
    );
    let s = start_positions(
        &client,
        subscribe(),
        StartingOffsets::Latest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.positions(),
        &BTreeMap::from([(key(&topic, 0), 10), (key(&topic, 1), 4)])
    );
    // Fail names the partitions without an offset; a stored one is enough for the other.
    let stored = BTreeMap::from([(key(&topic, 0), 6)]);
    match start_positions(&client, subscribe(), StartingOffsets::Fail, stored.clone()).await {
        Err(StreamError::NoStartingOffset { partitions }) => {
            assert_eq!(partitions, [TopicPartition::new(topic.as_str(), 1)]);
        }
        other => panic!("{other:?}"),
    }
    // Explicit beats stored beats policy.
    let explicit = subscribe().with_offsets(BTreeMap::from([(
        TopicPartition::new(topic.as_str(), 1),
        2,
    )]));
    let mut s = start_positions(&client, explicit, StartingOffsets::Fail, stored.clone())
        .await
        .unwrap();
    assert_eq!(
        s.positions(),
        &BTreeMap::from([(key(&topic, 0), 6), (key(&topic, 1), 2)])
    );
    let explicit = subscribe().with_offsets(BTreeMap::from([(
        TopicPartition::new(topic.as_str(), 0),
        1,
    )]));
    let s2 = start_positions(&client, explicit, StartingOffsets::Latest, stored)
        .await
        .unwrap();
    assert_eq!(
        s2.positions(),
        &BTreeMap::from([(key(&topic, 0), 1), (key(&topic, 1), 4)])
    );
    // A stored start continues the store's progress; an explicit one is a first batch.
    let batch = within("batch", s.next_batch()).await.unwrap();
    assert_eq!(
        batch.starts(),
        BTreeMap::from([
            (key(&topic, 0), BatchStart::Continue(6)),
            (key(&topic, 1), BatchStart::First(2))
        ])
    );
    assert_eq!(
        batch.ends(),
        BTreeMap::from([(key(&topic, 0), 10), (key(&topic, 1), 4)])
    );
    drop(batch);
    let batch = within("batch", s.next_batch()).await.unwrap();
    assert_eq!(
        batch.starts(),
        BTreeMap::from([
            (key(&topic, 0), BatchStart::Continue(10)),
            (key(&topic, 1), BatchStart::Continue(4))
        ])
    );
    assert_eq!(batch.offset_count(), 0, "nothing new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_policies_on_mock() {
    starting_policies(BrokerKind::Mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_policies_on_tansu() {
    starting_policies(BrokerKind::Tansu).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_policies_on_kafka() {
    starting_policies(BrokerKind::Kafka).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_policies_on_rdkafka_mock() {
    starting_policies(BrokerKind::RdkafkaMock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_offsets_below_the_log_start_are_data_loss() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().unwrap();
    let client = client(&broker).await;
    let topic = unique_name("lost");
    create_topic(&client, &topic, 1).await;
    produce(&client, &topic, 0, &values("a", 10), 1).await;
    mock.delete_records(&topic, 0, 5).await.unwrap();
    let stored = BTreeMap::from([(key(&topic, 0), 2)]);
    match start_positions(
        &client,
        ConsumerStrategy::subscribe([topic.clone()]),
        StartingOffsets::Earliest,
        stored,
    )
    .await
    {
        Err(StreamError::DataLoss {
            partition,
            offset,
            log_start_offset,
        }) => {
            assert_eq!(partition, TopicPartition::new(topic.as_str(), 0));
            assert_eq!((offset, log_start_offset), (2, 5));
        }
        other => panic!("{other:?}"),
    }
    // Or skip to the log start offset when so configured.
    let s = within(
        "stream",
        DirectStream::new(
            client.clone(),
            config(ConsumerStrategy::subscribe([topic.clone()]))
                .with_on_data_loss(OnDataLoss::SkipToLogStart),
            BTreeMap::from([(key(&topic, 0), 2)]),
        ),
    )
    .await
    .unwrap();
    assert_eq!(s.positions(), &BTreeMap::from([(key(&topic, 0), 5)]));
    // Earliest starts at the log start offset.
    let s = start_positions(
        &client,
        ConsumerStrategy::subscribe([topic.clone()]),
        StartingOffsets::Earliest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert_eq!(s.positions(), &BTreeMap::from([(key(&topic, 0), 5)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigned_partitions_must_exist() {
    let broker = broker(BrokerKind::Mock).await;
    let client = client(&broker).await;
    let topic = unique_name("assign");
    create_topic(&client, &topic, 1).await;
    let assign = ConsumerStrategy::assign([
        TopicPartition::new(topic.as_str(), 0),
        TopicPartition::new(topic.as_str(), 3),
    ]);
    match start_positions(
        &client,
        assign,
        StartingOffsets::Earliest,
        PartitionOffsets::new(),
    )
    .await
    {
        Err(StreamError::UnknownPartitions { partitions }) => {
            assert_eq!(partitions, [TopicPartition::new(topic.as_str(), 3)]);
        }
        other => panic!("{other:?}"),
    }
    let s = start_positions(
        &client,
        ConsumerStrategy::assign([TopicPartition::new(topic.as_str(), 0)]),
        StartingOffsets::Earliest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert_eq!(s.positions(), &BTreeMap::from([(key(&topic, 0), 0)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_partitions_join_and_deleted_topics_leave() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().unwrap();
    let client = client(&broker).await;
    let topic = unique_name("grow");
    let other = unique_name("grow-other");
    create_topic(&client, &topic, 1).await;
    create_topic(&client, &other, 1).await;
    produce(&client, &topic, 0, &values("a", 3), 3).await;
    // Latest at start: the records already there are skipped on the partitions present then.
    let mut stream = start_positions(
        &client,
        ConsumerStrategy::subscribe([topic.clone(), other.clone()]),
        StartingOffsets::Latest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert_eq!(batch.offset_ranges().len(), 2);
    assert_eq!(batch.offset_count(), 0);
    drop(batch);

    let admin = Admin::new(client.clone());
    let created = within(
        "create partitions",
        admin.create_partitions(&[(topic.clone(), 3)], false),
    )
    .await
    .unwrap();
    created[&topic].as_ref().unwrap();
    produce(&client, &topic, 2, &values("b", 5), 5).await;
    let batch = within("batch", stream.next_batch()).await.unwrap();
    let ranges: Vec<(String, i32, i64, i64)> = batch
        .offset_ranges()
        .iter()
        .map(|r| (r.topic().to_owned(), r.partition(), r.from(), r.until()))
        .collect();
    // New partitions start at their earliest offset, so the 5 records are in this batch.
    let mut expected = vec![
        (topic.clone(), 0, 3, 3),
        (topic.clone(), 1, 0, 0),
        (topic.clone(), 2, 0, 5),
        (other.clone(), 0, 0, 0),
    ];
    expected.sort();
    assert_eq!(ranges, expected);
    assert_eq!(batch.starts()[&key(&topic, 2)], BatchStart::First(0));
    drop(batch);

    mock.delete_topic(&other).await.unwrap();
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert!(
        batch.offset_ranges().iter().all(|r| r.topic() == topic),
        "the deleted topic left: {:?}",
        batch.offset_ranges()
    );
    assert!(!stream.positions().contains_key(&key(&other, 0)));
}

async fn a_pattern_picks_up_new_matching_topics(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let prefix = unique_name("pat");
    let first = format!("{prefix}-one");
    create_topic(&client, &first, 1).await;
    create_topic(&client, &format!("x{prefix}-one"), 1).await;
    produce(&client, &first, 0, &values("a", 2), per_batch(kind)).await;
    let pattern = Regex::new(&format!("{}-.*", regex::escape(&prefix))).unwrap();
    let mut stream = start_positions(
        &client,
        ConsumerStrategy::pattern(pattern),
        StartingOffsets::Earliest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        stream.positions(),
        &BTreeMap::from([(key(&first, 0), 0)]),
        "whole names only"
    );
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert_eq!(batch.offset_count(), 2);
    drop(batch);

    let second = format!("{prefix}-two");
    create_topic(&client, &second, 2).await;
    create_topic(&client, &prefix, 1).await;
    produce(&client, &second, 1, &values("b", 4), per_batch(kind)).await;
    let batch = within("batch", stream.next_batch()).await.unwrap();
    let ranges: Vec<(String, i32, i64, i64)> = batch
        .offset_ranges()
        .iter()
        .map(|r| (r.topic().to_owned(), r.partition(), r.from(), r.until()))
        .collect();
    assert_eq!(
        ranges,
        [
            (first.clone(), 0, 2, 2),
            (second.clone(), 0, 0, 0),
            (second.clone(), 1, 0, 4)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_picks_up_new_matching_topics_on_mock() {
    a_pattern_picks_up_new_matching_topics(BrokerKind::Mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_picks_up_new_matching_topics_on_tansu() {
    a_pattern_picks_up_new_matching_topics(BrokerKind::Tansu).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_picks_up_new_matching_topics_on_kafka() {
    a_pattern_picks_up_new_matching_topics(BrokerKind::Kafka).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_ranges_stop_at_the_last_stable_offset() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().unwrap();
    let client = client(&broker).await;
    let topic = unique_name("lso");
    create_topic(&client, &topic, 1).await;
    produce(&client, &topic, 0, &values("a", 3), 3).await;
    let open = mock
        .open_transaction(&topic, 0, &[MockRecord::value("t"), MockRecord::value("u")])
        .await
        .unwrap();
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
    let until = |b: &gregor_consumer::stream::Batch| b.offset_ranges()[0].until();
    // The open transaction starts at offset 3: read_committed stops there, the other at the
    // high watermark.
    let batch = within("batch", committed.next_batch()).await.unwrap();
    assert_eq!(until(&batch), 3);
    let batch = within("batch", uncommitted.next_batch()).await.unwrap();
    assert_eq!(until(&batch), 7);
    let marker = mock.end_transaction(&open, true).await.unwrap();
    assert_eq!(marker, 7);
    // Committed: the range reaches past the marker.
    let batch = within("batch", committed.next_batch()).await.unwrap();
    assert_eq!((batch.offset_ranges()[0].from(), until(&batch)), (3, 8));
}

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
fn batches_are_send(batch: gregor_consumer::stream::Batch) {
    fn is_send<T: Send>(_: T) {}
    is_send(batch);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_topic_created_later_joins() {
    let broker = broker(BrokerKind::Mock).await;
    let client = client(&broker).await;
    let topic = unique_name("later");
    let mut stream = start_positions(
        &client,
        ConsumerStrategy::subscribe([topic.clone()]),
        StartingOffsets::Latest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert!(stream.positions().is_empty(), "{:?}", stream.positions());
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert!(batch.offset_ranges().is_empty());
    assert!(
        !client.metadata().topic_names().contains(&topic.as_str())
            || client.metadata().partition_count(&topic).is_none(),
        "refreshing a subscription does not create its topics"
    );
    drop(batch);
    create_topic(&client, &topic, 2).await;
    produce(&client, &topic, 1, &values("x", 3), 3).await;
    let batch = within("batch", stream.next_batch()).await.unwrap();
    let ranges: Vec<(i32, i64, i64)> = batch
        .offset_ranges()
        .iter()
        .map(|r| (r.partition(), r.from(), r.until()))
        .collect();
    assert_eq!(
        ranges,
        [(0, 0, 0), (1, 0, 3)],
        "new partitions start at the earliest"
    );
}
