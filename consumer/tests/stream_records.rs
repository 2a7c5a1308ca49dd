//! Direct-stream batches read through their partition readers: every record exactly once and
//! only inside its batch's ranges, read_committed ranges ending at the last stable offset and
//! on transaction markers, records deleted under a batch, leader moves between and during
//! batches, compacted ranges, and placement of the readers on workers. Runs on our MockCluster
//! and Apache Kafka (transactions from Java's producer there), and for plain records on tansu
//! (one record per produced batch there, see stream_batches.rs) and librdkafka's mock; leader
//! moves, compaction and placement need the mock's control API and three brokers.

mod stream_support;

use std::collections::BTreeMap;
use std::time::Duration;

use gregor_client::Admin;
use gregor_client::admin::{CreateTopicsOptions, NewTopic};
use gregor_consumer::direct::placement::Placement;
use gregor_consumer::direct::rate::RateLimits;
use gregor_consumer::direct::read::{ReadOptions, read_ranges};
use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
};
use gregor_consumer::fetch::{FetchConfig, FetchError, IsolationLevel, PartitionReader};
use gregor_consumer::range::OffsetRange;
use gregor_consumer::store::PartitionOffsets;
use gregor_consumer::{OnDataLoss, TopicPartition};
use gregor_testkit::data::{
    RECORD_TIMESTAMP, create_topic, create_topic_on, produce, produce_keyed, unique_name, values,
    within,
};
use gregor_testkit::{BrokerKind, TestBroker};
use stream_support::txn::{end_transaction, open_transaction, produce_transaction};
use stream_support::{broker, client, per_kind};

/// A record as read: (offset, value).
type Read = (i64, String);

/// Reads every record of `reader`, checking each lies inside its range, and that the reader
/// then reports itself complete with that many records read; returns them.
async fn read_all(reader: PartitionReader) -> Vec<Read> {
    read_rest(reader, 0).await
}

/// [`read_all`] for a reader that already delivered `already` records.
async fn read_rest(mut reader: PartitionReader, already: u64) -> Vec<Read> {
    let range: OffsetRange = reader.range().clone();
    let mut out = Vec::new();
    while let Some(chunk) = within("next chunk", reader.next_chunk()).await {
        let chunk = chunk.unwrap_or_else(|e| panic!("reading {range}: {e}"));
        assert_eq!(chunk.topic_partition(), &range.topic_partition());
        for record in chunk.records() {
            assert!(
                record.offset >= range.from() && record.offset < range.until(),
                "record at {} outside {range}",
                record.offset
            );
            let value = record
                .value
                .as_deref()
                .map(|v| String::from_utf8_lossy(v).into_owned());
            out.push((record.offset, value.unwrap_or_default()));
        }
    }
    assert!(reader.is_complete(), "{range} complete");
    let consumed = reader
        .consumed()
        .expect("a complete reader has its consumed range");
    assert_eq!(consumed.range(), &range);
    assert_eq!(consumed.records_read(), already + out.len() as u64);
    out
}

fn key(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

async fn every_record_once(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("once");
    create_topic_on(&broker, &client, &topic, 3).await;
    let per_batch = if kind == BrokerKind::Tansu { 1 } else { 4 };
    let mut produced: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for p in 0..3 {
        let v = values(&format!("p{p}"), 10 + 5 * p as usize);
        produce(&client, &topic, p, &v, per_batch).await;
        produced.insert(p, v);
    }
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.clone()]))
        .with_batch_interval(Duration::from_millis(20))
        .with_starting(StartingOffsets::Earliest)
        .with_rates(RateLimits::new().with_max_per_partition(300.0));
    let mut stream = within(
        "stream",
        DirectStream::new(client.clone(), config, PartitionOffsets::new()),
    )
    .await
    .unwrap();
    let mut read: BTreeMap<i32, Vec<Read>> = BTreeMap::new();
    let targets = BTreeMap::from([
        (key(&topic, 0), 10),
        (key(&topic, 1), 15),
        (key(&topic, 2), 20),
    ]);
    let mut batches = 0;
    while stream.positions() != &targets {
        batches += 1;
        assert!(batches < 200, "stream stuck at {:?}", stream.positions());
        let batch = within("batch", stream.next_batch()).await.unwrap();
        let ranges = batch.offset_ranges().to_vec();
        let readers = batch.into_partitions();
        assert_eq!(readers.len(), ranges.len(), "one reader per range");
        // Partitions are read in parallel.
        let tasks: Vec<_> = readers
            .into_iter()
            .map(|r| {
                let p = r.range().partition();
                tokio::spawn(async move { (p, read_all(r).await) })
            })
            .collect();
        for task in tasks {
            let (p, records) = task.await.unwrap();
            read.entry(p).or_default().extend(records);
        }
    }
    assert!(
        batches >= 4,
        "the rate limit split the backlog: {batches} batches"
    );
    for (p, values) in produced {
        let expected: Vec<Read> = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as i64, v))
            .collect();
        assert_eq!(
            read.remove(&p).unwrap_or_default(),
            expected,
            "partition {p}"
        );
    }
}

per_kind!(
    every_record_once:
    mock => Mock,
    tansu => Tansu,
    kafka => Kafka,
    rdkafka_mock => RdkafkaMock
);

async fn read_committed_ranges_end_at_the_lso_and_on_markers(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("txn");
    create_topic(&client, &topic, 1).await;
    produce(&client, &topic, 0, &["plain-0", "plain-1"], 2).await;
    let open = open_transaction(&broker, &topic, 0, &["t-2", "t-3"]).await;
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.clone()]))
        .with_batch_interval(Duration::from_millis(20))
        .with_starting(StartingOffsets::Earliest)
        .with_fetch(FetchConfig::default().with_isolation(IsolationLevel::ReadCommitted));
    let mut stream = within(
        "stream",
        DirectStream::new(client.clone(), config, PartitionOffsets::new()),
    )
    .await
    .unwrap();

    // The open transaction holds the last stable offset at its first record.
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert_eq!(
        batch.offset_ranges()[0].until(),
        2,
        "{:?}",
        batch.offset_ranges()
    );
    let mut readers = batch.into_partitions();
    let records = read_all(readers.remove(0)).await;
    assert_eq!(
        records,
        [(0, "plain-0".to_owned()), (1, "plain-1".to_owned())]
    );

    // Committed: the range ends just after the marker (offset 4), and completes on it.
    let marker = end_transaction(&broker, &client, open, true).await;
    assert_eq!(marker, 4);
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert_eq!(
        (
            batch.offset_ranges()[0].from(),
            batch.offset_ranges()[0].until()
        ),
        (2, 5)
    );
    let records = read_all(batch.into_partitions().remove(0)).await;
    assert_eq!(records, [(2, "t-2".to_owned()), (3, "t-3".to_owned())]);

    // Aborted: its records are never delivered; the range ends on the abort marker.
    let marker = produce_transaction(&broker, &client, &topic, 0, &["gone"], false).await;
    assert_eq!(marker, 6);
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert_eq!(
        (
            batch.offset_ranges()[0].from(),
            batch.offset_ranges()[0].until()
        ),
        (5, 7)
    );
    let records = read_all(batch.into_partitions().remove(0)).await;
    assert!(records.is_empty(), "aborted records delivered: {records:?}");
}

per_kind!(read_committed_ranges_end_at_the_lso_and_on_markers: mock => Mock, kafka => Kafka);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_moves_between_and_during_batches() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().unwrap();
    let client = client(&broker).await;
    let topic = unique_name("moves");
    create_topic(&client, &topic, 1).await;
    let all = values("m", 40);
    produce(&client, &topic, 0, &all, 2).await;
    // One record batch (2 records) per fetch, and no prefetch while a chunk is held, so that a
    // batch takes several fetches and the next one happens only after the chunk is dropped.
    let fetch = FetchConfig::default()
        .with_partition_max_bytes(1)
        .with_max_bytes(1)
        .with_memory_budget(1);
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.clone()]))
        .with_batch_interval(Duration::from_millis(20))
        .with_starting(StartingOffsets::Earliest)
        .with_rates(RateLimits::new().with_max_per_partition(1000.0))
        .with_fetch(fetch);
    let mut stream = within(
        "stream",
        DirectStream::new(client.clone(), config, PartitionOffsets::new()),
    )
    .await
    .unwrap();
    let leader = mock.partition_info(&topic, 0).await.unwrap().leader;
    // Mock broker ids are 1, 2 and 3.
    let other = |l: i32| if l == 1 { 2 } else { 1 };
    let mut read = Vec::new();

    // Between batches: the batch is planned, then the leader moves before reading.
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert_eq!(batch.offset_ranges()[0].count(), 20);
    assert_eq!(batch.leaders()[&key(&topic, 0)], leader);
    let moved_to = other(leader);
    mock.move_leader(&topic, 0, moved_to).await.unwrap();
    read.extend(read_all(batch.into_partitions().remove(0)).await);

    // During a batch: after the first chunk.
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert_eq!(
        batch.leaders()[&key(&topic, 0)],
        moved_to,
        "the batch saw the move"
    );
    let mut reader = batch.into_partitions().remove(0);
    let range = reader.range().clone();
    let first = within("chunk", reader.next_chunk()).await.unwrap().unwrap();
    let already = first.len() as u64;
    assert!(already < 20, "the first chunk is not the whole range");
    read.extend(first.records().map(|r| {
        (
            r.offset,
            String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
        )
    }));
    mock.move_leader(&topic, 0, 6 - leader - moved_to)
        .await
        .unwrap();
    drop(first);
    read.extend(read_rest(reader, already).await);
    let expected: Vec<Read> = all
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i as i64, v))
        .collect();
    assert_eq!(read, expected);
    assert_eq!(range.until(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_are_placed_on_workers() {
    let broker = broker(BrokerKind::Mock).await;
    let client = client(&broker).await;
    let topic = unique_name("placed");
    create_topic(&client, &topic, 6).await;
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.clone()]))
        .with_batch_interval(Duration::from_millis(20))
        .with_starting(StartingOffsets::Earliest);
    let mut stream = within(
        "stream",
        DirectStream::new(client.clone(), config, PartitionOffsets::new()),
    )
    .await
    .unwrap();
    let batch = within("batch", stream.next_batch()).await.unwrap();
    let leaders = batch.leaders().clone();
    assert_eq!(
        leaders.len(),
        6,
        "every partition has a leader: {leaders:?}"
    );
    let by_leader = batch.leader_placement();
    let workers = batch.placed(&by_leader, 3).unwrap();
    assert_eq!(workers.iter().map(Vec::len).sum::<usize>(), 6);
    for list in &workers {
        let mut seen: Vec<i32> = list
            .iter()
            .map(|r| leaders[&key(&topic, r.range().partition())])
            .collect();
        seen.dedup();
        assert!(
            seen.len() <= 1,
            "one leader per worker with 3 leaders: {seen:?}"
        );
    }
    let batch = within("batch", stream.next_batch()).await.unwrap();
    let workers = batch.placed(&Placement::Consistent, 4).unwrap();
    let sizes: Vec<usize> = workers.iter().map(Vec::len).collect();
    assert!(
        sizes.iter().all(|&n| n == 1 || n == 2),
        "balanced: {sizes:?}"
    );
}

/// Creates `topic` (one partition) compacted, its segment rolled by any record stamped later
/// than the segment's first (Kafka's cleaner never cleans the active segment).
async fn create_compacted_topic(client: &gregor_client::Client, topic: &str) {
    let topic_spec = NewTopic::new(topic, 1, 1)
        .config("cleanup.policy", "compact")
        .config("segment.ms", "1")
        .config("min.cleanable.dirty.ratio", "0.01");
    let created = within(
        "create topic",
        Admin::new(client.clone()).create_topics(
            vec![topic_spec],
            CreateTopicsOptions::default().wait_for_leaders(true),
        ),
    )
    .await
    .unwrap();
    created[topic].as_ref().unwrap();
}

/// Compacts `topic`'s partition 0, which holds offsets `0..end`: our mock on demand (its
/// control API), Apache Kafka when its log cleaner gets to it (it wakes every 15 s by
/// default), which this waits for: until offset 0 reads as the first record kept.
async fn compact(broker: &TestBroker, client: &gregor_client::Client, topic: &str, end: i64) {
    if let Some(mock) = broker.mock() {
        assert_eq!(mock.compact(topic, 0).await.unwrap(), 4, "records removed");
        return;
    }
    let all = [OffsetRange::new(topic, 0, 0, end).unwrap()];
    within("the log cleaner", async {
        loop {
            let read = read_ranges(client, &all, ReadOptions::default())
                .await
                .unwrap_or_else(|e| panic!("reading {topic}: {e}"));
            if read.ranges[0].records.first().map(|r| r.offset) != Some(0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
}

async fn compacted_ranges_complete_across_gaps(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("compacted");
    create_compacted_topic(&client, &topic).await;
    // Keys k0..k3 written twice in one batch: compaction keeps offsets 4..8 of it, the batch
    // keeping its base and last offsets (0 and 7). The record at offset 8 (key "end", a second
    // later) rolls Kafka's segment, so that the batch's segment can be cleaned.
    let records: Vec<(String, String)> = (0..8)
        .map(|i| (format!("k{}", i % 4), format!("v{i}")))
        .collect();
    let records: Vec<(&str, &str)> = records
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        produce_keyed(&client, &topic, 0, RECORD_TIMESTAMP, &records).await,
        0
    );
    let later = RECORD_TIMESTAMP + 1000;
    assert_eq!(
        produce_keyed(&client, &topic, 0, later, &[("end", "v8")]).await,
        8
    );
    compact(&broker, &client, &topic, 9).await;
    // Three offsets per batch: the first range [0, 3) lies wholly in the gap.
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.clone()]))
        .with_batch_interval(Duration::from_millis(20))
        .with_starting(StartingOffsets::Earliest)
        .with_rates(RateLimits::new().with_max_per_partition(150.0));
    let mut stream = within(
        "stream",
        DirectStream::new(client.clone(), config, PartitionOffsets::new()),
    )
    .await
    .unwrap();
    let mut read = Vec::new();
    let mut ranges = Vec::new();
    while stream.positions()[&key(&topic, 0)] < 9 {
        let batch = within("batch", stream.next_batch()).await.unwrap();
        ranges.push((
            batch.offset_ranges()[0].from(),
            batch.offset_ranges()[0].until(),
        ));
        read.extend(read_all(batch.into_partitions().remove(0)).await);
    }
    assert_eq!(ranges, [(0, 3), (3, 6), (6, 9)]);
    let expected: Vec<Read> = (4..9).map(|i| (i, format!("v{i}"))).collect();
    assert_eq!(read, expected);
}

per_kind!(compacted_ranges_complete_across_gaps: mock => Mock, kafka => Kafka);

async fn records_deleted_under_a_batch_fail_or_are_skipped_per_config(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("deleted");
    create_topic(&client, &topic, 1).await;
    produce(&client, &topic, 0, &values("d", 10), 1).await;
    let config = |on_data_loss| {
        DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.clone()]))
            .with_batch_interval(Duration::from_millis(20))
            .with_starting(StartingOffsets::Earliest)
            .with_on_data_loss(on_data_loss)
            // One record batch per fetch, none while a chunk is held.
            .with_fetch(
                FetchConfig::default()
                    .with_partition_max_bytes(1)
                    .with_max_bytes(1)
                    .with_memory_budget(1),
            )
    };
    let mut failing = within(
        "stream",
        DirectStream::new(
            client.clone(),
            config(OnDataLoss::Fail),
            PartitionOffsets::new(),
        ),
    )
    .await
    .unwrap();
    let mut skipping = within(
        "stream",
        DirectStream::new(
            client.clone(),
            config(OnDataLoss::SkipToLogStart),
            PartitionOffsets::new(),
        ),
    )
    .await
    .unwrap();
    let fail_batch = within("batch", failing.next_batch()).await.unwrap();
    let skip_batch = within("batch", skipping.next_batch()).await.unwrap();
    // Retention deletes the first half while the batches are being read.
    let mut fail_reader = fail_batch.into_partitions().remove(0);
    let mut skip_reader = skip_batch.into_partitions().remove(0);
    let first = within("chunk", fail_reader.next_chunk())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.records().next().map(|r| r.offset), Some(0));
    let first_skip = within("chunk", skip_reader.next_chunk())
        .await
        .unwrap()
        .unwrap();
    let tp = TopicPartition::new(topic.as_str(), 0);
    let deleted = within(
        "delete records",
        Admin::new(client.clone()).delete_records(&[(tp.clone(), 5)]),
    )
    .await
    .unwrap();
    assert_eq!(deleted[&tp], Ok(5), "the new log start offset");
    drop(first);
    drop(first_skip);
    let mut failed = None;
    while let Some(chunk) = within("chunk", fail_reader.next_chunk()).await {
        if let Err(e) = chunk {
            failed = Some(e);
            break;
        }
    }
    match failed {
        Some(FetchError::DataLoss {
            log_start_offset, ..
        }) => assert_eq!(log_start_offset, 5),
        other => panic!("expected data loss, got {other:?}"),
    }
    let mut offsets = vec![0];
    while let Some(chunk) = within("chunk", skip_reader.next_chunk()).await {
        offsets.extend(chunk.unwrap().records().map(|r| r.offset));
    }
    assert_eq!(offsets, [0, 5, 6, 7, 8, 9]);
    assert!(skip_reader.is_complete());
    assert_eq!(skip_reader.skipped(), Some((1, 5)));
}

per_kind!(
    records_deleted_under_a_batch_fail_or_are_skipped_per_config:
    mock => Mock,
    kafka => Kafka
);
