//! Group offsets between Java's own client (kafka-clients 4.1.2) and gregor's `KafkaCommits`, on
//! Apache Kafka 4.1.2: what Java's consumer commits (offset, leader epoch, metadata) gregor
//! loads whole, and a direct stream resumes from it; what gregor commits (a stream's ranges,
//! and offsets with metadata and leader epochs) Java's `committed()` returns exactly.
//!
//! Skipped (with a message) when Kafka's jars or Java are not installed.

mod java_support;

use std::collections::BTreeMap;
use std::time::Duration;

use gregor_client::config::ProducerConfig;
use gregor_client::producer::{Producer, ProducerRecord};
use gregor_consumer::direct::rate::RateLimits;
use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
};
use gregor_consumer::range::{OffsetRange, TopicPartition};
use gregor_consumer::store::{CommittedOffset, KafkaCommits, OffsetAndMetadata, PartitionOffsets};
use gregor_testkit::data::{create_topic, unique_name, values, within};
use gregor_testkit::kafka::peer::{PeerCommitted, PeerScript};
use java_support::reading::drain;
use java_support::{client, kafka_and_peer, run};

/// Metadata strings with spaces, punctuation and non-ASCII characters, as a Java application
/// may commit them.
const JAVA_METADATA: &str = "spark batch 7; {\"ts\": 1700000000000}";
const GREGOR_METADATA: &str = "gregor: ranges ✓ ü";

fn peer_committed(offset: i64, leader_epoch: Option<i32>, metadata: &str) -> PeerCommitted {
    PeerCommitted {
        offset,
        leader_epoch,
        metadata: metadata.to_owned(),
    }
}

fn committed(offset: i64, leader_epoch: Option<i32>, metadata: &str) -> CommittedOffset {
    CommittedOffset {
        offset,
        leader_epoch,
        metadata: metadata.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_committed_by_either_client_are_read_by_the_other() {
    let Some((kafka, peer)) = kafka_and_peer("offsets_committed_by_either_client").await else {
        return;
    };
    let client = client(kafka).await;
    let topic = unique_name("java-offsets");
    create_topic(&client, &topic, 4).await;
    // gregor's producer (it retries while the new topic's leaders are being announced).
    let config = ProducerConfig::builder().build().unwrap();
    let producer = Producer::new(client.clone(), config).unwrap();
    let mut deliveries = Vec::new();
    for p in 0..2 {
        for value in values(&format!("p{p}"), 20) {
            let record = ProducerRecord::new(topic.as_str(), value).with_partition(p);
            deliveries.push(producer.send(record).await.unwrap());
        }
    }
    producer.flush().await.unwrap();
    for delivery in deliveries {
        delivery.await.unwrap();
    }
    producer.close().await.unwrap();
    let tp = |p: i32| TopicPartition::new(topic.as_str(), p);
    let all: Vec<TopicPartition> = (0..4).map(tp).collect();
    let (java_group, gregor_group, stream_group) = (
        unique_name("java-group"),
        unique_name("gregor-group"),
        unique_name("stream-group"),
    );

    // gregor commits first: a direct stream's first batch (12 offsets per partition) ...
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.clone()]))
        .with_batch_interval(Duration::from_millis(20))
        .with_starting(StartingOffsets::Earliest)
        .with_rates(RateLimits::new().with_max_per_partition(600.0));
    let mut stream = within(
        "stream",
        DirectStream::new(client.clone(), config.clone(), PartitionOffsets::new()),
    )
    .await
    .unwrap();
    let batch = within("batch", stream.next_batch()).await.unwrap();
    let ranges: Vec<OffsetRange> = batch.offset_ranges().to_vec();
    let until: Vec<i64> = ranges.iter().map(OffsetRange::until).collect();
    assert_eq!(until, [12, 12, 0, 0]);
    for reader in batch.into_partitions() {
        drain(reader).await;
    }
    let stream_commits = KafkaCommits::new(client.clone(), stream_group.clone());
    within("commit", stream_commits.commit(&ranges))
        .await
        .unwrap();
    // ... and offsets with metadata and leader epochs, one of them past 2^32.
    let commits = KafkaCommits::new(client.clone(), gregor_group.clone());
    within(
        "commit",
        commits.commit_offsets(&[
            (
                tp(0),
                OffsetAndMetadata::new(17)
                    .with_metadata(GREGOR_METADATA)
                    .with_leader_epoch(0),
            ),
            (tp(1), OffsetAndMetadata::new(9)),
            (tp(2), OffsetAndMetadata::new(1 << 40).with_leader_epoch(7)),
        ]),
    )
    .await
    .unwrap();

    // Java commits its own, and reads gregor's.
    let mut script = PeerScript::new();
    script
        .commit_offset(&java_group, &topic, 0, 5, Some(0), JAVA_METADATA)
        .commit_offset(&java_group, &topic, 1, 0, None, "")
        .commit_offset(&java_group, &topic, 2, 123_456_789_012, Some(5), "ü")
        .commit_offset(&java_group, &topic, 0, 6, Some(0), JAVA_METADATA);
    for p in 0..4 {
        script.committed(&gregor_group, &topic, p);
    }
    for p in 0..4 {
        script.committed(&stream_group, &topic, p);
    }
    let out = run(kafka, &peer, &script).await;
    assert_eq!(
        out.committed,
        [
            Some(peer_committed(17, Some(0), GREGOR_METADATA)),
            Some(peer_committed(9, None, "")),
            Some(peer_committed(1 << 40, Some(7), "")),
            None,
            // The stream's ranges (empty ones too): their ends, no metadata, no leader epoch.
            Some(peer_committed(12, None, "")),
            Some(peer_committed(12, None, "")),
            Some(peer_committed(0, None, "")),
            Some(peer_committed(0, None, "")),
        ]
    );

    // gregor loads Java's commits whole (the last one of partition 0 counts).
    let java_commits = KafkaCommits::new(client.clone(), java_group.clone());
    let loaded = within("load", java_commits.load_committed(&all))
        .await
        .unwrap();
    assert_eq!(
        loaded,
        BTreeMap::from([
            (tp(0), committed(6, Some(0), JAVA_METADATA)),
            (tp(1), committed(0, None, "")),
            (tp(2), committed(123_456_789_012, Some(5), "ü")),
        ])
    );
    // A stream started from Java's offsets of partitions 0 and 1 reads on from them.
    let stored: PartitionOffsets = within("load", java_commits.load(&[tp(0), tp(1)]))
        .await
        .unwrap();
    assert_eq!(stored, PartitionOffsets::from([(tp(0), 6), (tp(1), 0)]));
    let config = DirectStreamConfig::new(ConsumerStrategy::assign([tp(0), tp(1)]))
        .with_batch_interval(Duration::from_millis(20))
        .with_starting(StartingOffsets::Fail);
    let mut resumed = within("stream", DirectStream::new(client.clone(), config, stored))
        .await
        .unwrap();
    let batch = within("batch", resumed.next_batch()).await.unwrap();
    let spans: Vec<(i64, i64)> = batch
        .offset_ranges()
        .iter()
        .map(|r| (r.from(), r.until()))
        .collect();
    assert_eq!(spans, [(6, 20), (0, 20)]);
    let mut read = Vec::new();
    for reader in batch.into_partitions() {
        let records = drain(reader).await;
        read.push(
            records
                .iter()
                .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(read[0], values("p0", 20)[6..]);
    assert_eq!(read[1], values("p1", 20));
}
