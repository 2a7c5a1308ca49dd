//! The async producer against real brokers, each test on every one available here (tansu,
//! Apache Kafka, and the cluster in `KAFKA_BOOTSTRAP_SERVERS`; `GREGOR_TEST_BROKERS` narrows
//! them): every codec and acks level, murmur2 placement, limits, and idempotent producing
//! through connections that are cut mid-stream. Everything produced is read back with raw
//! Fetch requests and compared record by record. Topic names are unique: Kafka's broker is
//! shared by the tests of this file.

mod cluster_support;
mod producer_support;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use gregor_client::Connection;
use gregor_client::config::Acks;
use gregor_client::producer::{
    Producer, ProducerError, ProducerRecord, RecordMetadata, partition_for_key,
};
use gregor_protocol::compression::Compression;
use gregor_protocol::records::{Header, Record};
use gregor_testkit::data::unique_name;
use gregor_testkit::{BrokerKind, TestBroker};
use producer_support::proxy::ProxyListener;
use producer_support::{
    TestTransport, connect_options, create_topic, create_topic_unserved, fetch_all, fetch_records,
    producer_config,
};

/// The real brokers available here, started (Kafka's is this process's shared one).
async fn real_brokers() -> Vec<TestBroker> {
    let mut out = Vec::new();
    for kind in BrokerKind::from_env() {
        if matches!(
            kind,
            BrokerKind::Tansu | BrokerKind::Kafka | BrokerKind::External
        ) {
            let broker = TestBroker::start_kind_async(kind)
                .await
                .unwrap_or_else(|e| panic!("a {kind} broker: {e}"));
            out.push(broker);
        }
    }
    assert!(
        !out.is_empty(),
        "no real broker here (install tansu or Kafka)"
    );
    out
}

/// `broker`'s first bootstrap address and a connection to it.
async fn first_broker(broker: &TestBroker) -> (String, Connection) {
    let bootstrap = broker.bootstrap();
    let first = bootstrap.split(',').next().unwrap_or_default().to_owned();
    let conn = Connection::connect(&first, &connect_options())
        .await
        .unwrap_or_else(|e| panic!("{}: a connection to {first}: {e}", broker.kind()));
    (first, conn)
}

/// `n` records for `topic`: most keyed (37 distinct keys), some without key, some with a null
/// value, headers none / one / a repeated key with a null value, fixed timestamps.
fn records(topic: &str, n: usize) -> Vec<ProducerRecord> {
    (0..n)
        .map(|i| {
            let headers = match i % 3 {
                0 => Vec::new(),
                1 => vec![Header {
                    key: Bytes::from_static(b"h"),
                    value: Some(Bytes::from(format!("hv-{i}"))),
                }],
                _ => vec![
                    Header {
                        key: Bytes::from_static(b"dup"),
                        value: Some(Bytes::from_static(b"first")),
                    },
                    Header {
                        key: Bytes::from_static(b"dup"),
                        value: None,
                    },
                ],
            };
            ProducerRecord {
                topic: topic.to_owned(),
                partition: None,
                key: (i % 5 != 0).then(|| Bytes::from(format!("key-{}", i % 37))),
                value: (i % 11 != 3)
                    .then(|| Bytes::from(format!("value-{i}-{}", "x".repeat(i % 60)))),
                headers,
                timestamp: Some(1_700_000_000_000 + i as i64),
            }
        })
        .collect()
}

/// Sends every record (in order), flushes, and returns each record's delivery.
async fn produce_all(
    producer: &Producer,
    records: &[ProducerRecord],
) -> Vec<Result<RecordMetadata, ProducerError>> {
    let mut pending = Vec::with_capacity(records.len());
    for record in records {
        pending.push(producer.send(record.clone()).await.expect("send accepted"));
    }
    producer.flush().await.expect("flush");
    let mut out = Vec::with_capacity(pending.len());
    for delivery in pending {
        out.push(delivery.await);
    }
    out
}

fn same_record(fetched: &Record, sent: &ProducerRecord) -> bool {
    let headers: Vec<(Bytes, Option<Bytes>)> = fetched
        .headers
        .iter()
        .map(|h| h.expect("header decodes"))
        .map(|h| (h.key, h.value))
        .collect();
    let sent_headers: Vec<(Bytes, Option<Bytes>)> = sent
        .headers
        .iter()
        .map(|h| (h.key.clone(), h.value.clone()))
        .collect();
    fetched.key == sent.key
        && fetched.value == sent.value
        && headers == sent_headers
        && sent.timestamp.is_none_or(|t| t == fetched.timestamp)
}

/// Checks that each partition holds exactly the records delivered to it, in send order, at
/// contiguous offsets from 0, and that every delivered offset (when known) is the record's.
/// Returns the fetched batches' codecs. `settle`: how long records may take to appear (for
/// `acks=0`, where the producer cannot know when the broker has them).
async fn assert_read_back(
    conn: &Connection,
    topic: &str,
    partitions: i32,
    sent: &[ProducerRecord],
    delivered: &[RecordMetadata],
    settle: Duration,
) -> Vec<Compression> {
    let deadline = std::time::Instant::now() + settle;
    let mut by_partition: BTreeMap<i32, Vec<(&ProducerRecord, &RecordMetadata)>> = BTreeMap::new();
    for (record, meta) in sent.iter().zip(delivered) {
        by_partition
            .entry(meta.partition)
            .or_default()
            .push((record, meta));
    }
    let mut codecs = Vec::new();
    for partition in 0..partitions {
        let want = by_partition.get(&partition).map_or(0, Vec::len);
        let mut batches = fetch_all(conn, topic, partition).await;
        while batches.iter().map(|b| b.records.len()).sum::<usize>() < want
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
            batches = fetch_all(conn, topic, partition).await;
        }
        codecs.extend(batches.iter().map(|b| b.compression));
        let fetched: Vec<&Record> = batches.iter().flat_map(|b| &b.records).collect();
        let expected = by_partition.remove(&partition).unwrap_or_default();
        assert_eq!(
            fetched.len(),
            expected.len(),
            "{topic}-{partition}: record count"
        );
        for (i, (record, (sent, meta))) in fetched.iter().zip(&expected).enumerate() {
            assert_eq!(
                record.offset, i as i64,
                "{topic}-{partition}: offsets contiguous"
            );
            assert!(
                same_record(record, sent),
                "{topic}-{partition} offset {i}: fetched {record:?}, sent {sent:?}"
            );
            if meta.offset >= 0 {
                assert_eq!(
                    meta.offset, record.offset,
                    "{topic}-{partition}: delivered offset"
                );
            }
        }
    }
    assert!(by_partition.is_empty(), "deliveries to unknown partitions");
    codecs
}

/// Produces 400 records to a new 3-partition topic with `codec` and `acks`, then checks the
/// deliveries (murmur2 placement of keyed records, offsets -1 for `acks=0`) and reads
/// everything back.
async fn round_trip(
    bootstrap: &str,
    conn: &Connection,
    topic: &str,
    codec: Compression,
    acks: Acks,
) {
    create_topic(conn, topic, 3).await;
    let config = producer_config()
        .acks(acks)
        .compression(codec)
        .batch_size(4096)
        .linger(Duration::from_millis(5))
        .build()
        .unwrap();
    assert_eq!(config.idempotence(), acks == Acks::All);
    let producer = Producer::new(TestTransport::new(bootstrap), config).unwrap();
    let sent = records(topic, 400);
    let delivered: Vec<RecordMetadata> = produce_all(&producer, &sent)
        .await
        .into_iter()
        .map(|d| d.expect("delivered"))
        .collect();
    producer.close().await.unwrap();
    for (record, meta) in sent.iter().zip(&delivered) {
        assert_eq!(&*meta.topic, topic);
        if let Some(key) = &record.key {
            assert_eq!(Some(meta.partition), partition_for_key(key, 3), "murmur2");
        }
        assert_eq!(
            meta.offset == -1,
            acks == Acks::None,
            "offsets known iff acks > 0"
        );
    }
    // With acks=0 the producer cannot know when the broker has the records: give it time.
    let settle = if acks == Acks::None {
        Duration::from_secs(10)
    } else {
        Duration::ZERO
    };
    let codecs = assert_read_back(conn, topic, 3, &sent, &delivered, settle).await;
    assert!(!codecs.is_empty());
    assert!(
        codecs.iter().all(|c| *c == codec),
        "{topic}: batches compressed with {codecs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_with_acks_1_and_all_reads_back_exactly() {
    for broker in real_brokers().await {
        let (bootstrap, conn) = first_broker(&broker).await;
        for codec in Compression::ALL {
            for (acks, name) in [(Acks::Leader, "1"), (Acks::All, "all")] {
                let topic = unique_name(&format!("codec-{}-acks-{name}", codec.name()));
                round_trip(&bootstrap, &conn, &topic, codec, acks).await;
            }
        }
        eprintln!("{}: every codec with acks 1 and all", broker.kind());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_with_acks_0_reads_back_exactly() {
    for broker in real_brokers().await {
        if cluster_support::deviates(
            &broker,
            BrokerKind::Tansu,
            "tansu 0.6.0 deviates: it answers acks=0 Produce requests (Kafka sends no response); the unexpected answer poisons the connection (unknown correlation id) and the requests queued behind it are lost (measured: about half the runs fail, with 12 to 35 of ~150 records of a partition missing)",
        ) {
            continue;
        }
        let (bootstrap, conn) = first_broker(&broker).await;
        for codec in Compression::ALL {
            let topic = unique_name(&format!("codec-{}-acks-0", codec.name()));
            round_trip(&bootstrap, &conn, &topic, codec, Acks::None).await;
        }
        eprintln!("{}: every codec with acks 0", broker.kind());
    }
}

/// An idempotent producer pipelining batches to partitions its broker is still opening:
/// Kafka (up to 4.1, KAFKA-15591) answers NOT_LEADER_OR_FOLLOWER to the first batches of a new
/// topic for a moment after its Metadata names the leader, and takes any sequence as the first
/// of a producer it holds no state for; so a second batch sent behind a refused first one would
/// be appended ahead of it, and the first then refused for good as out of order. gregor's
/// producer sends one batch per partition until the broker has acknowledged one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producing_to_new_topics_keeps_order() {
    for broker in real_brokers().await {
        let (bootstrap, conn) = first_broker(&broker).await;
        for _ in 0..4 {
            let topic = unique_name("fresh");
            create_topic_unserved(&conn, &topic, 3).await;
            let config = producer_config()
                .batch_size(512)
                .linger(Duration::from_millis(1))
                .max_in_flight(5)
                .build()
                .unwrap();
            assert!(config.idempotence());
            let producer = Producer::new(TestTransport::new(&bootstrap), config).unwrap();
            let sent = records(&topic, 300);
            let delivered: Vec<RecordMetadata> = produce_all(&producer, &sent)
                .await
                .into_iter()
                .map(|d| d.unwrap_or_else(|e| panic!("{}: delivered: {e}", broker.kind())))
                .collect();
            producer.close().await.unwrap();
            assert_read_back(&conn, &topic, 3, &sent, &delivered, Duration::ZERO).await;
        }
        eprintln!("{}: idempotent producing to new topics", broker.kind());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_land_on_murmur2_partitions() {
    for broker in real_brokers().await {
        keyed_records_on(&broker).await;
    }
}

async fn keyed_records_on(broker: &TestBroker) {
    let (bootstrap, conn) = first_broker(broker).await;
    let topic = unique_name("keyed");
    create_topic(&conn, &topic, 7).await;
    let config = producer_config().build().unwrap();
    let producer = Producer::new(TestTransport::new(&bootstrap), config).unwrap();
    let sent: Vec<ProducerRecord> = (0..500)
        .map(|i| ProducerRecord::new(&topic, format!("v{i}")).with_key(format!("user-{i}")))
        .collect();
    let delivered: Vec<RecordMetadata> = produce_all(&producer, &sent)
        .await
        .into_iter()
        .map(|d| d.unwrap())
        .collect();
    producer.close().await.unwrap();
    for partition in 0..7 {
        for record in fetch_records(&conn, &topic, partition).await {
            let key = record.key.expect("keyed");
            assert_eq!(partition_for_key(&key, 7), Some(partition), "{key:?}");
        }
    }
    let used: std::collections::BTreeSet<i32> = delivered.iter().map(|m| m.partition).collect();
    assert_eq!(used.len(), 7, "500 keys spread over every partition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_immediate_and_typed() {
    for broker in real_brokers().await {
        refusals_on(&broker).await;
    }
}

async fn refusals_on(broker: &TestBroker) {
    let (bootstrap, conn) = first_broker(broker).await;
    let limits = unique_name("limits");
    create_topic(&conn, &limits, 2).await;
    let config = producer_config()
        .max_request_size(10_000)
        .max_block(Duration::from_millis(300))
        .build()
        .unwrap();
    let producer = Producer::new(TestTransport::new(&bootstrap), config).unwrap();

    let big = ProducerRecord::new(&limits, vec![0u8; 20_000]);
    match producer.send(big).await {
        Err(ProducerError::RecordTooLarge { limit, .. }) => {
            assert_eq!(limit, 10_000)
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    match producer
        .send(ProducerRecord::new(&limits, "x").with_partition(2))
        .await
    {
        Err(ProducerError::UnknownPartition { count: 2, .. }) => {}
        other => panic!("expected UnknownPartition, got {other:?}"),
    }
    let missing = unique_name("no-such-topic");
    match producer.send(ProducerRecord::new(&missing, "x")).await {
        Err(ProducerError::MetadataUnavailable { topic, .. }) => {
            assert_eq!(topic, missing)
        }
        other => panic!("expected MetadataUnavailable, got {other:?}"),
    }
    // The producer still works, and after close it refuses records.
    let ok = producer
        .send(ProducerRecord::new(&limits, "fine"))
        .await
        .unwrap();
    producer.close().await.unwrap();
    assert!(ok.await.unwrap().offset >= 0);
    assert!(matches!(
        producer.send(ProducerRecord::new(&limits, "late")).await,
        Err(ProducerError::Closed)
    ));
}

/// The `n`-th connection's byte budget: pseudo-random between 6 and 40 KiB, so cuts land at
/// every point of a request (header, records, between requests).
fn budget(n: usize) -> Option<usize> {
    let mut x = (n as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    Some(6 * 1024 + (x % (34 * 1024)) as usize)
}

/// What one run through the cutting proxy produced and read back.
struct CutRun {
    cuts: usize,
    /// How many times each value was read back.
    copies: std::collections::HashMap<Bytes, usize>,
    sent: Vec<ProducerRecord>,
    delivered: Vec<RecordMetadata>,
    /// The run's topic.
    topic: String,
}

/// Produces 2,000 keyed records to a new 3-partition topic on `broker` (a single broker)
/// through a proxy that cuts each connection after 6 to 40 KiB, with `idempotence` on or off,
/// and reads everything back on `direct`, a connection to the broker itself.
async fn produce_through_cuts(
    broker: &TestBroker,
    direct: &Connection,
    idempotence: bool,
) -> CutRun {
    const RECORDS: usize = 2_000;
    let topic = unique_name("cut");
    create_topic(direct, &topic, 3).await;
    let upstream = broker
        .bootstrap()
        .parse()
        .expect("a single-broker cluster (one bootstrap address)");
    let listener = ProxyListener::bind().await;
    let proxied = format!("127.0.0.1:{}", listener.port());
    let proxy = listener.start(upstream, budget);

    let config = producer_config()
        .idempotence(idempotence)
        .batch_size(2_000)
        .linger(Duration::from_millis(2))
        .max_in_flight(5)
        .build()
        .unwrap();
    // The broker advertises its own address: the transport sends everything to the proxy.
    let producer = Producer::new(TestTransport::through(&proxied), config).unwrap();
    let sent: Vec<ProducerRecord> = (0..RECORDS)
        .map(|i| {
            ProducerRecord::new(&topic, format!("value-{i:05}-{}", "p".repeat(40)))
                .with_key(format!("k{}", i % 101))
                .with_timestamp(1_700_000_000_000 + i as i64)
        })
        .collect();
    let delivered: Vec<RecordMetadata> = produce_all(&producer, &sent)
        .await
        .into_iter()
        .map(|d| d.expect("delivered despite the cuts"))
        .collect();
    producer.close().await.unwrap();
    let mut copies = std::collections::HashMap::new();
    for partition in 0..3 {
        for record in fetch_records(direct, &topic, partition).await {
            *copies.entry(record.value.clone().unwrap()).or_insert(0) += 1;
        }
    }
    let cuts = proxy.cuts();
    println!(
        "{}: idempotence={idempotence}: {cuts} of {} connections cut, {} values read back, {} \
         of them more than once",
        broker.kind(),
        proxy.accepted(),
        copies.len(),
        copies.values().filter(|&&n| n > 1).count()
    );
    CutRun {
        cuts,
        copies,
        sent,
        delivered,
        topic,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_through_cut_connections_writes_each_record_once() {
    for broker in real_brokers().await {
        if broker.is_external() {
            eprintln!("skipped on external: the proxy stands in front of a single broker");
            continue;
        }
        let kind = broker.kind();
        let (_, direct) = first_broker(&broker).await;
        // Control: without idempotence the same cuts make the producer write records twice (a
        // request the broker carried out loses its answer and is retried). Without that, the
        // check below would prove nothing. Where the cuts land depends on timing (measured on
        // tansu: 6 to 1,266 duplicated values per run), so the control gets three tries.
        let mut control_duplicates = false;
        for _ in 0..3 {
            let plain = produce_through_cuts(&broker, &direct, false).await;
            assert!(
                plain.cuts > 3,
                "{kind}: the proxy cut {} connections",
                plain.cuts
            );
            if plain.copies.values().any(|&n| n > 1) {
                control_duplicates = true;
                break;
            }
        }
        assert!(
            control_duplicates,
            "{kind}: no retry wrote a duplicate without idempotence: the cuts missed the window"
        );

        let run = produce_through_cuts(&broker, &direct, true).await;
        assert!(
            run.cuts > 3,
            "{kind}: the proxy cut {} connections",
            run.cuts
        );
        let missing = run
            .sent
            .iter()
            .filter(|r| !run.copies.contains_key(r.value.as_ref().unwrap()))
            .count();
        let duplicated = run.copies.values().filter(|&&n| n > 1).count();
        assert_eq!(missing, 0, "{kind}: records lost");
        assert_eq!(duplicated, 0, "{kind}: records written twice");
        // And in send order per partition, at the offsets the producer reported.
        assert_read_back(
            &direct,
            &run.topic,
            3,
            &run.sent,
            &run.delivered,
            Duration::ZERO,
        )
        .await;
    }
}
