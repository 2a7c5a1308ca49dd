//! librdkafka drives MockCluster: a client we did not write produces, consumes, joins a
//! consumer group, commits, and lists offsets against our mock, and everything it sees is
//! checked exactly.
//!
//! The mock runs on the test's multi-threaded runtime; librdkafka's blocking calls (metadata,
//! list offsets, commits, closing a consumer) run on `spawn_blocking` so they never stall the
//! mock's tasks.

mod mock_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gregor_protocol::compression::Compression;
use gregor_protocol::records::{DecodeOptions, batches};
use gregor_testkit::mock::{GroupConfig, MockCluster, MockRecord};
use mock_support::{RawClient, fetch_partition, fetch_request};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

const WAIT: Duration = Duration::from_secs(20);

/// What a consumer saw of one record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
    timestamp: Option<i64>,
}

fn seen<M: Message>(m: &M) -> Seen {
    let headers = m
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default();
    Seen {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers,
        timestamp: m.timestamp().to_millis(),
    }
}

/// A client context that records every warning and error librdkafka reports (a protocol
/// mismatch with the mock shows up there first). `GREGOR_RDKAFKA_DEBUG` (e.g. `protocol,cgrp`)
/// turns librdkafka's debug logs on and prints them.
#[derive(Clone, Default)]
struct Watch(Arc<Mutex<Vec<String>>>);

impl Watch {
    /// What librdkafka complained about so far.
    fn complaints(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl ClientContext for Watch {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if (level as i32) <= RDKafkaLogLevel::Warning as i32 {
            self.0
                .lock()
                .unwrap()
                .push(format!("{level:?} {fac}: {message}"));
        }
        if std::env::var_os("GREGOR_RDKAFKA_DEBUG").is_some() {
            eprintln!("librdkafka {level:?} {fac}: {message}");
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.0
            .lock()
            .unwrap()
            .push(format!("error {error}: {reason}"));
    }
}

impl ConsumerContext for Watch {}

fn config(c: &MockCluster) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", c.bootstrap())
        .set("broker.address.family", "v4")
        .set("topic.metadata.refresh.interval.ms", "500")
        // Without a `log` logger rdkafka would only pass errors on; the Watch wants warnings.
        .set_log_level(RDKafkaLogLevel::Warning);
    if let Ok(debug) = std::env::var("GREGOR_RDKAFKA_DEBUG") {
        cfg.set("debug", debug)
            .set_log_level(RDKafkaLogLevel::Debug);
    }
    cfg
}

/// Runs a blocking librdkafka call off the runtime's workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_is_built_with_every_codec() {
    let (hex, version) = rdkafka::util::get_rdkafka_version();
    assert!(hex >= 0x0208_0000, "librdkafka {version} ({hex:#x})");
    let mut cfg = ClientConfig::new();
    // Creating a producer with each codec fails if librdkafka lacks it.
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        cfg.set("compression.codec", codec);
        let p: Result<FutureProducer, _> = cfg.create();
        assert!(p.is_ok(), "{codec}: {:?}", p.err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_with_headers_round_trips_through_the_mock() {
    let codecs = [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ];
    let mut builder = MockCluster::builder().brokers(3);
    for (name, _) in codecs {
        builder = builder.topic(&format!("codec-{name}"), 2);
    }
    let c = builder.start().await.unwrap();
    let watch = Watch::default();
    for (name, codec) in codecs {
        let topic = format!("codec-{name}");
        let producer: FutureProducer<Watch> = config(&c)
            .set("compression.codec", name)
            .set("enable.idempotence", "true")
            .set("linger.ms", "50")
            .set("message.timeout.ms", "15000")
            .create_with_context(watch.clone())
            .unwrap();
        let mut sent = Vec::new();
        let mut deliveries = Vec::new();
        let base_ts = 1_700_000_000_000i64;
        for i in 0..40i64 {
            let partition = (i % 2) as i32;
            let key = format!("key-{i}").into_bytes();
            // Repetitive values so every codec has something to compress.
            let value = format!("value-{i}-{}", "x".repeat(200)).into_bytes();
            let extra = vec![i as u8; 3];
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "trace",
                    value: Some(&extra),
                })
                .insert(Header {
                    key: "empty",
                    value: None::<&[u8]>,
                });
            let record = FutureRecord::to(&topic)
                .partition(partition)
                .key(&key)
                .payload(&value)
                .timestamp(base_ts + i)
                .headers(headers);
            deliveries.push(producer.send_result(record).unwrap());
            sent.push(Seen {
                partition,
                offset: -1,
                key: Some(key),
                value: Some(value),
                headers: vec![("trace".into(), Some(extra)), ("empty".into(), None)],
                timestamp: Some(base_ts + i),
            });
        }
        for (d, s) in deliveries.into_iter().zip(sent.iter_mut()) {
            let delivery = tokio::time::timeout(WAIT, d).await.unwrap().unwrap();
            let delivery = delivery.unwrap_or_else(|(e, _)| panic!("{name}: {e}"));
            assert_eq!(delivery.partition, s.partition);
            s.offset = delivery.offset;
        }
        // Per partition, offsets 0..20 in send order.
        for p in 0..2 {
            let offsets: Vec<i64> = sent
                .iter()
                .filter(|s| s.partition == p)
                .map(|s| s.offset)
                .collect();
            assert_eq!(offsets, (0..20).collect::<Vec<_>>(), "{name} p{p}");
        }

        // The mock kept librdkafka's batches as they came: compressed with the codec.
        for p in 0..2 {
            let leader = c.partition_info(&topic, p).await.unwrap().leader;
            let mut raw = RawClient::to_broker(&c, leader).await;
            let resp = raw
                .call(
                    &fetch_request(&topic, vec![fetch_partition(p, 0, 1 << 20)], 0, 1),
                    12,
                )
                .await;
            let data = resp.responses[0].partitions[0].records.clone().unwrap();
            let mut count = 0;
            for b in batches(data, &DecodeOptions::default()) {
                let b = b.unwrap();
                assert_eq!(b.compression(), codec, "{name} p{p}");
                assert!(b.header().unwrap().producer_id >= 0, "idempotent batches");
                count += b.record_count();
            }
            assert_eq!(count, 20);
        }

        // Consumed back with assign from the beginning: exactly what was sent. (librdkafka wants
        // a group id even for assign; nothing is committed.)
        let consumer: BaseConsumer<Watch> = config(&c)
            .set("group.id", format!("reader-{name}"))
            .set("enable.auto.commit", "false")
            .create_with_context(watch.clone())
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..2 {
            tpl.add_partition_offset(&topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).unwrap();
        let got = blocking(move || {
            let mut got = Vec::new();
            let deadline = std::time::Instant::now() + WAIT;
            while got.len() < 40 && std::time::Instant::now() < deadline {
                if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                    got.push(seen(&m.unwrap()));
                }
            }
            got
        })
        .await;
        let mut got = got;
        got.sort();
        sent.sort();
        assert_eq!(got, sent, "{name}");
        drop(producer);
    }
    assert_eq!(watch.complaints(), Vec::<String>::new());
}

/// Produces `n` records per partition (keys `p{p}-{i}`, values `v{i}`) through the control API.
async fn fill(c: &MockCluster, topic: &str, partitions: i32, from: usize, n: usize) {
    for p in 0..partitions {
        let records: Vec<MockRecord> = (from..from + n)
            .map(|i| MockRecord::kv(&format!("p{p}-{i}"), &format!("v{i}")))
            .collect();
        c.produce(topic, p, &records).await.unwrap();
    }
}

type GroupConsumer = StreamConsumer<Watch>;

fn group_consumer(c: &MockCluster, group: &str, watch: &Watch) -> GroupConsumer {
    config(c)
        .set("group.id", group)
        .set("client.id", "gregor-rdkafka-test")
        .set("partition.assignment.strategy", "range")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "100")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "50")
        .create_with_context(watch.clone())
        .unwrap()
}

/// Partitions of `topic` assigned to `c`.
fn assigned(c: &GroupConsumer, topic: &str) -> Vec<i32> {
    let mut ps: Vec<i32> = c
        .assignment()
        .unwrap()
        .elements_for_topic(topic)
        .iter()
        .map(|e| e.partition())
        .collect();
    ps.sort();
    ps
}

/// Receives from `consumer` until `done` says so (or panics after `WAIT`).
async fn receive_until(
    consumer: &GroupConsumer,
    got: &mut Vec<(i32, i64)>,
    done: impl Fn(&[(i32, i64)]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(got) {
        let m = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out with {got:?}"))
            .unwrap();
        got.push((m.partition(), m.offset()));
    }
}

/// Polls both consumers until each holds two of the four partitions.
async fn until_split(a: &GroupConsumer, b: &GroupConsumer, topic: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (pa, pb) = (assigned(a, topic), assigned(b, topic));
        if pa.len() == 2 && pb.len() == 2 {
            let mut all = [pa, pb].concat();
            all.sort();
            assert_eq!(all, vec![0, 1, 2, 3]);
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{pa:?} {pb:?}");
        // Drive both consumers (the topic is empty: nothing to receive).
        for consumer in [a, b] {
            let r = tokio::time::timeout(Duration::from_millis(50), consumer.recv()).await;
            assert!(r.is_err(), "no record before the split: {:?}", r.ok());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_member_group_rebalances_and_resumes_from_committed_offsets() {
    let topic = "orders";
    let group = "rdkafka-group";
    let c = MockCluster::builder()
        .brokers(3)
        .topic(topic, 4)
        .group_config(GroupConfig {
            min_session_timeout: Duration::from_millis(500),
            ..GroupConfig::default()
        })
        .start()
        .await
        .unwrap();
    let watch = Watch::default();
    let a = Arc::new(group_consumer(&c, group, &watch));
    let b = Arc::new(group_consumer(&c, group, &watch));
    a.subscribe(&[topic]).unwrap();
    b.subscribe(&[topic]).unwrap();
    until_split(&a, &b, topic).await;
    assert_eq!(c.group_members(group).await.len(), 2);
    let (pa, pb) = (assigned(&a, topic), assigned(&b, topic));

    // 10 records per partition; each member reads all of its own.
    fill(&c, topic, 4, 0, 10).await;
    let mut got_a = Vec::new();
    let mut got_b = Vec::new();
    receive_until(&a, &mut got_a, |g| g.len() == 20).await;
    receive_until(&b, &mut got_b, |g| g.len() == 20).await;
    let all = |ps: &[i32]| -> Vec<(i32, i64)> {
        ps.iter()
            .flat_map(|p| (0..10).map(move |o| (*p, o)))
            .collect()
    };
    got_a.sort();
    got_b.sort();
    assert_eq!(got_a, all(&pa));
    assert_eq!(got_b, all(&pb));

    // Each commits its first partition fully and its second only up to offset 6: records
    // 6..=9 of those are processed but uncommitted work.
    let commit = |consumer: Arc<GroupConsumer>, ps: Vec<i32>| {
        blocking(move || {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(topic, ps[0], Offset::Offset(10))
                .unwrap();
            tpl.add_partition_offset(topic, ps[1], Offset::Offset(6))
                .unwrap();
            consumer.commit(&tpl, CommitMode::Sync).unwrap();
        })
    };
    commit(a.clone(), pa.clone()).await;
    commit(b.clone(), pb.clone()).await;
    let mut committed = BTreeMap::new();
    for p in 0..4 {
        let o = c.committed_offset(group, topic, p).await.unwrap().offset;
        committed.insert(p, o);
    }
    let expect: BTreeMap<i32, i64> = [(pa[0], 10), (pa[1], 6), (pb[0], 10), (pb[1], 6)]
        .into_iter()
        .collect();
    assert_eq!(committed, expect);

    // A leaves (close sends LeaveGroup); B gets everything and resumes from the commits.
    let a = Arc::into_inner(a).unwrap();
    blocking(move || drop(a)).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut after = Vec::new();
    while assigned(&b, topic) != vec![0, 1, 2, 3] {
        assert!(tokio::time::Instant::now() < deadline);
        if let Ok(m) = tokio::time::timeout(Duration::from_millis(50), b.recv()).await {
            let m = m.unwrap();
            after.push((m.partition(), m.offset()));
        }
    }
    assert_eq!(c.group_members(group).await.len(), 1);
    fill(&c, topic, 4, 10, 5).await;
    // Exactly: the uncommitted 6..=9 of both half-committed partitions again, then the new
    // records 10..=14 of every partition. Nothing below a committed offset, nothing lost.
    let mut expected: Vec<(i32, i64)> = [pa[1], pb[1]]
        .iter()
        .flat_map(|p| (6..10).map(move |o| (*p, o)))
        .chain((0..4).flat_map(|p| (10..15).map(move |o| (p, o))))
        .collect();
    expected.sort();
    receive_until(&b, &mut after, |g| g.len() >= expected.len()).await;
    // Nothing more arrives.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), b.recv())
            .await
            .is_err()
    );
    after.sort();
    assert_eq!(after, expected);
    let b = Arc::into_inner(b).unwrap();
    blocking(move || drop(b)).await;
    assert!(c.group_members(group).await.is_empty());
    assert_eq!(watch.complaints(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watermarks_list_offsets_and_offsets_for_times() {
    let topic = "timed";
    let c = MockCluster::builder()
        .brokers(2)
        .topic(topic, 1)
        .start()
        .await
        .unwrap();
    // Ten records with timestamps 1000, 1010, ..., 1090, one batch each.
    for i in 0..10i64 {
        let r = MockRecord::kv(&format!("k{i}"), &format!("v{i}")).at(1000 + 10 * i);
        c.produce(topic, 0, &[r]).await.unwrap();
    }
    c.delete_records(topic, 0, 2).await.unwrap();
    let watch = Watch::default();
    let consumer: BaseConsumer<Watch> = config(&c).create_with_context(watch.clone()).unwrap();
    let (wm, times) = blocking(move || {
        // Metadata for all topics (librdkafka's request carries three stray bytes).
        let md = consumer.fetch_metadata(None, WAIT).unwrap();
        let names: Vec<&str> = md.topics().iter().map(|t| t.name()).collect();
        assert_eq!(names, vec![topic]);
        assert_eq!(md.brokers().len(), 2);
        let wm = consumer.fetch_watermarks(topic, 0, WAIT).unwrap();
        let mut results = Vec::new();
        for ts in [0i64, 1035, 1040, 1090, 1091] {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(topic, 0, Offset::Offset(ts))
                .unwrap();
            let r = consumer
                .offsets_for_times(tpl, Timeout::After(WAIT))
                .unwrap();
            let e = r.find_partition(topic, 0).unwrap();
            assert!(e.error().is_ok(), "{ts}: {:?}", e.error());
            results.push((ts, e.offset()));
        }
        (wm, results)
    })
    .await;
    // Low: the log start after DeleteRecords; high: the log end (ListOffsets earliest/latest).
    assert_eq!(wm, (2, 10));
    assert_eq!(
        times,
        vec![
            // Before every record: the first one still in the log.
            (0, Offset::Offset(2)),
            (1035, Offset::Offset(4)),
            (1040, Offset::Offset(4)),
            (1090, Offset::Offset(9)),
            // After every record: none (-1, which librdkafka calls the end).
            (1091, Offset::End),
        ]
    );
    assert_eq!(watch.complaints(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_follows_its_coordinator_when_it_moves() {
    let topic = "moving";
    let group = "rdkafka-mover";
    let c = MockCluster::builder()
        .brokers(3)
        .topic(topic, 2)
        .start()
        .await
        .unwrap();
    let watch = Watch::default();
    let consumer = Arc::new(group_consumer(&c, group, &watch));
    consumer.subscribe(&[topic]).unwrap();
    fill(&c, topic, 2, 0, 3).await;
    let mut got = Vec::new();
    receive_until(&consumer, &mut got, |g| g.len() == 6).await;
    let old = c.coordinator_of(group).await.unwrap();
    let generation = c.group_generation(group).await.unwrap();
    let new = if old == 3 { 1 } else { old + 1 };
    assert!(c.move_coordinator(group, new).await.unwrap());

    // The commit meets NOT_COORDINATOR at the old broker, finds the new one, and lands there.
    let committer = consumer.clone();
    blocking(move || {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Offset(3))
            .unwrap();
        tpl.add_partition_offset(topic, 1, Offset::Offset(2))
            .unwrap();
        committer.commit(&tpl, CommitMode::Sync).unwrap();
    })
    .await;
    assert_eq!(c.committed_offset(group, topic, 0).await.unwrap().offset, 3);
    assert_eq!(c.committed_offset(group, topic, 1).await.unwrap().offset, 2);
    // Heartbeats reach the new coordinator: the member keeps its generation and partitions.
    fill(&c, topic, 2, 3, 1).await;
    receive_until(&consumer, &mut got, |g| g.len() == 8).await;
    assert_eq!(c.group_generation(group).await, Some(generation));
    assert_eq!(assigned(&consumer, topic), vec![0, 1]);
    got.sort();
    let expected: Vec<(i32, i64)> = (0..2).flat_map(|p| (0..4).map(move |o| (p, o))).collect();
    assert_eq!(got, expected);
    let consumer = Arc::into_inner(consumer).unwrap();
    blocking(move || drop(consumer)).await;
    assert!(c.group_members(group).await.is_empty());
    assert_eq!(watch.complaints(), Vec::<String>::new());
}
