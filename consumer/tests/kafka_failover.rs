//! Failover on a three-node Apache Kafka cluster: while gregor's idempotent producer writes
//! (acks=all, replication factor 3, `min.insync.replicas` 2) and a direct stream reads, the
//! leader of a partition is killed with SIGKILL and later restarted. Every acknowledged record
//! is read exactly once, no record is in the log twice, the stream's ranges tile every
//! partition without a gap, and the stream carries on across the election without the
//! application doing anything: `next_batch` and the readers never fail.
//!
//! Needs `.ci/install-kafka.sh` and Java; skipped (with a message) without them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gregor_client::admin::{CreateTopicsOptions, IsolationLevel, NewTopic, OffsetSpec};
use gregor_client::config::Acks;
use gregor_client::config::ProducerConfig;
use gregor_client::producer::{Producer, ProducerRecord};
use gregor_client::{Admin, Client};
use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
};
use gregor_consumer::store::PartitionOffsets;
use gregor_testkit::data::{test_client, unique_name};
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall, KafkaOptions};

const PARTITIONS: i32 = 3;
/// Records per burst, one burst every [`BURST_EVERY`]: about 2,000 records a second.
const BURST: usize = 20;
const BURST_EVERY: Duration = Duration::from_millis(10);
/// How long the producer writes before the kill, while the node is down, and after its restart.
const BEFORE_KILL: Duration = Duration::from_secs(4);
const DOWN_FOR: Duration = Duration::from_secs(8);
const AFTER_RESTART: Duration = Duration::from_secs(4);
/// Deadline for the whole run, against hangs.
const DEADLINE: Duration = Duration::from_secs(240);

/// A record as the stream read it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Read {
    partition: i32,
    offset: i64,
    value: Bytes,
}

/// What the reading task saw.
#[derive(Debug, Default)]
struct StreamOutcome {
    records: Vec<Read>,
    batches: usize,
    /// `(partition, from, until)` of every non-empty range, in batch order.
    ranges: Vec<(i32, i64, i64)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_loses_no_acknowledged_record_and_duplicates_none() {
    if !KafkaInstall::is_available() {
        eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return;
    }
    tokio::time::timeout(DEADLINE, failover_run())
        .await
        .expect("the failover run finished within its deadline");
}

async fn failover_run() {
    let kafka = Arc::new(
        tokio::task::spawn_blocking(|| KafkaCluster::start(KafkaOptions::cluster(3)))
            .await
            .unwrap()
            .expect("a three-node Kafka cluster"),
    );
    eprintln!("three nodes answered in {:?}", kafka.started_in());
    let client = test_client(&kafka.bootstrap(), "gregor-failover").await;
    let topic = unique_name("failover");
    let created = Admin::new(client.clone())
        .create_topics(
            vec![NewTopic::new(&topic, PARTITIONS, 3).config("min.insync.replicas", "2")],
            CreateTopicsOptions::default().wait_for_leaders(true),
        )
        .await
        .expect("CreateTopics answered");
    assert!(matches!(created.get(&topic), Some(Ok(_))), "{created:?}");

    // The reader: a direct stream from the earliest offsets, reading every batch whole.
    let stop_reading = Arc::new(AtomicBool::new(false));
    let read_count = Arc::new(AtomicUsize::new(0));
    let reader = tokio::spawn(read_stream(
        client.clone(),
        topic.clone(),
        stop_reading.clone(),
        read_count.clone(),
    ));

    // The writer: gregor's idempotent producer, acks=all, explicit partitions in turn.
    let config = ProducerConfig::builder()
        .acks(Acks::All)
        .idempotence(true)
        .linger(Duration::from_millis(5))
        .delivery_timeout(Duration::from_secs(120))
        .build()
        .expect("producer configuration");
    let producer_client = test_client(&kafka.bootstrap(), "gregor-failover-producer").await;
    let producer = Producer::new(producer_client, config).expect("producer");
    let stop_writing = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_until_stopped(
        producer.clone(),
        topic.clone(),
        stop_writing.clone(),
    ));

    tokio::time::sleep(BEFORE_KILL).await;
    let (victim, epoch_before) = client
        .leader(&topic, 0)
        .await
        .expect("partition 0's leader");
    let victim = usize::try_from(victim).expect("node ids are positive");
    let read_before_kill = read_count.load(Ordering::Relaxed);
    let killer = kafka.clone();
    tokio::task::spawn_blocking(move || killer.kill(victim))
        .await
        .unwrap()
        .expect("kill");
    eprintln!(
        "killed node {victim}, leader of partition 0 at epoch {epoch_before}, after {read_before_kill} records read"
    );

    tokio::time::sleep(DOWN_FOR).await;
    let (new_leader, epoch_after) = client.leader(&topic, 0).await.expect("a new leader");
    assert_ne!(
        new_leader as usize, victim,
        "partition 0 moved off the killed node"
    );
    assert!(
        epoch_after > epoch_before,
        "the election bumped the leader epoch"
    );
    let restarter = kafka.clone();
    tokio::task::spawn_blocking(move || restarter.restart(victim))
        .await
        .unwrap()
        .expect("restart");
    eprintln!("restarted node {victim}; partition 0 led by {new_leader} at epoch {epoch_after}");
    tokio::time::sleep(AFTER_RESTART).await;

    stop_writing.store(true, Ordering::Relaxed);
    let (sent, acked, failed) = writer.await.unwrap();
    producer.close().await.expect("producer closes");

    // The log ends the stream must reach.
    let admin = Admin::new(client.clone());
    let tps: Vec<_> = (0..PARTITIONS)
        .map(|p| {
            (
                gregor_client::TopicPartition::new(topic.as_str(), p),
                OffsetSpec::Latest,
            )
        })
        .collect();
    let ends: BTreeMap<i32, i64> = admin
        .list_offsets(&tps, IsolationLevel::ReadUncommitted)
        .await
        .expect("ListOffsets")
        .into_iter()
        .map(|(tp, r)| (tp.partition, r.expect("an end offset").offset))
        .collect();
    let log_records: i64 = ends.values().sum();
    while (read_count.load(Ordering::Relaxed) as i64) < log_records {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_reading.store(true, Ordering::Relaxed);
    let outcome = reader.await.unwrap();

    // Every offset of every partition was read once, by ranges that tile the log.
    let mut next: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
    for (partition, from, until) in &outcome.ranges {
        let expected = next.get_mut(partition).unwrap();
        assert_eq!(
            from, expected,
            "partition {partition}: ranges are contiguous"
        );
        *expected = *until;
    }
    let mut by_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for r in &outcome.records {
        by_partition.entry(r.partition).or_default().push(r.offset);
    }
    for (partition, end) in &ends {
        let offsets = by_partition.remove(partition).unwrap_or_default();
        let expected: Vec<i64> = (0..*end).collect();
        assert_eq!(
            offsets, expected,
            "partition {partition}: every offset once, in order"
        );
    }

    // Every acknowledged record was read once, at the offset the producer was told; no value
    // is in the log twice.
    let mut copies: HashMap<&Bytes, Vec<&Read>> = HashMap::new();
    for r in &outcome.records {
        copies.entry(&r.value).or_default().push(r);
    }
    let duplicated = copies.values().filter(|c| c.len() > 1).count();
    let mut lost = 0;
    for (value, partition, offset) in &acked {
        match copies.get(value).map(Vec::as_slice) {
            Some([read]) => assert_eq!(
                (read.partition, read.offset),
                (*partition, *offset),
                "an acknowledged record is where its acknowledgement said"
            ),
            _ => lost += 1,
        }
    }
    let unacked_written = copies.len() - acked.len().min(copies.len());
    eprintln!(
        "records sent {sent}, acknowledged {}, failed {failed}, read {}, lost {lost}, \
         duplicated {duplicated}, written without an acknowledgement {unacked_written}; \
         {} batches",
        acked.len(),
        outcome.records.len(),
        outcome.batches
    );
    assert!(
        read_before_kill > 0,
        "the stream was reading before the kill"
    );
    assert_eq!(lost, 0, "acknowledged records lost");
    assert_eq!(duplicated, 0, "records written twice");
    assert_eq!(
        outcome.records.len(),
        copies.len(),
        "every record read is a distinct value"
    );
    assert!(acked.len() > sent / 2, "most records were acknowledged");
}

/// Sends bursts of records (value `r-<n>`, partition `n % PARTITIONS`) until told to stop;
/// returns how many were sent, the acknowledged ones `(value, partition, offset)`, and how
/// many failed.
async fn write_until_stopped(
    producer: Producer,
    topic: String,
    stop: Arc<AtomicBool>,
) -> (usize, Vec<(Bytes, i32, i64)>, usize) {
    let mut pending = Vec::new();
    let mut n = 0usize;
    let mut tick = tokio::time::interval(BURST_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        for _ in 0..BURST {
            let value = Bytes::from(format!("r-{n:07}"));
            let mut record = ProducerRecord::new(topic.as_str(), value.clone());
            record.partition = Some((n % PARTITIONS as usize) as i32);
            let delivery = producer.send(record).await.expect("send accepted");
            pending.push((value, delivery));
            n += 1;
        }
    }
    producer.flush().await.expect("flush");
    let mut acked = Vec::with_capacity(pending.len());
    let mut failed = 0;
    for (value, delivery) in pending {
        match delivery.await {
            Ok(meta) => acked.push((value, meta.partition, meta.offset)),
            Err(e) => {
                if failed == 0 {
                    eprintln!("first failed delivery: {e}");
                }
                failed += 1;
            }
        }
    }
    (n, acked, failed)
}

/// Reads the topic with a direct stream until told to stop, failing on any error: the stream
/// must carry on across the election by itself.
async fn read_stream(
    client: Client,
    topic: String,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
) -> StreamOutcome {
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic]))
        .with_starting(StartingOffsets::Earliest)
        .with_batch_interval(Duration::from_millis(200));
    let mut stream = DirectStream::new(client, config, PartitionOffsets::new())
        .await
        .expect("the stream starts");
    let mut outcome = StreamOutcome::default();
    while !stop.load(Ordering::Relaxed) {
        let batch = stream
            .next_batch()
            .await
            .unwrap_or_else(|e| panic!("batch {} failed: {e}", outcome.batches));
        outcome.batches += 1;
        for range in batch.offset_ranges() {
            if range.count() > 0 {
                outcome
                    .ranges
                    .push((range.partition(), range.from(), range.until()));
            }
        }
        for mut reader in batch.into_partitions() {
            while let Some(chunk) = reader.next_chunk().await {
                let chunk = chunk.unwrap_or_else(|e| panic!("reading {}: {e}", reader.range()));
                let partition = chunk.topic_partition().partition;
                for record in chunk.records() {
                    outcome.records.push(Read {
                        partition,
                        offset: record.offset,
                        value: record.value.clone().unwrap_or_default(),
                    });
                }
                count.store(outcome.records.len(), Ordering::Relaxed);
            }
        }
    }
    outcome
}
