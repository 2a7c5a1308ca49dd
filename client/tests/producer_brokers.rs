//! The async producer against tansu: every codec and acks level, murmur2 placement, limits,
//! and idempotent producing through connections that are cut mid-stream. Everything produced
//! is read back with raw Fetch requests and compared record by record.

mod producer_support;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use gregor_client::config::Acks;
use gregor_client::producer::{
    Producer, ProducerError, ProducerRecord, RecordMetadata, partition_for_key,
};
use gregor_client::{ClientError, Connection};
use gregor_protocol::compression::Compression;
use gregor_protocol::records::{Header, Record};
use producer_support::proxy::ProxyListener;
use producer_support::{
    TestTransport, connect_options, create_topic, fetch_all, fetch_records, producer_config,
    start_tansu,
};

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
) -> Vec<Result<RecordMetadata, ClientError>> {
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
    let config = producer_config(bootstrap)
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
    let broker = start_tansu().await;
    let conn = Connection::connect(&broker.bootstrap(), &connect_options())
        .await
        .unwrap();
    for codec in Compression::ALL {
        for (acks, name) in [(Acks::Leader, "1"), (Acks::All, "all")] {
            let topic = format!("codec-{}-acks-{name}", codec.name());
            round_trip(&broker.bootstrap(), &conn, &topic, codec, acks).await;
        }
    }
}

/// acks=0 against the selected broker (`KAFKA_BOOTSTRAP_SERVERS`, else tansu).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "tansu 0.6.0 answers acks=0 Produce requests (Kafka sends no response): the \
            unexpected answer poisons the connection (unknown correlation id) and the requests \
            queued behind it are lost (measured: about half the runs fail, with 12 to 35 of ~150 records of a partition missing). \
            Run with KAFKA_BOOTSTRAP_SERVERS (docker-compose Kafka) or on MockCluster"]
async fn every_codec_with_acks_0_reads_back_exactly() {
    let broker = tokio::task::spawn_blocking(gregor_testkit::TestBroker::start)
        .await
        .unwrap()
        .expect("a broker");
    let bootstrap = broker.bootstrap();
    let first = bootstrap.split(',').next().unwrap_or_default().to_owned();
    let conn = Connection::connect(&first, &connect_options())
        .await
        .unwrap();
    let run = unique_suffix();
    for codec in Compression::ALL {
        let topic = format!("codec-{}-acks-0-{run}", codec.name());
        round_trip(&bootstrap, &conn, &topic, codec, Acks::None).await;
    }
}

/// A suffix that keeps topic names apart between runs on an external cluster.
fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_land_on_murmur2_partitions() {
    let broker = start_tansu().await;
    let conn = Connection::connect(&broker.bootstrap(), &connect_options())
        .await
        .unwrap();
    create_topic(&conn, "keyed", 7).await;
    let config = producer_config(&broker.bootstrap()).build().unwrap();
    let producer = Producer::new(TestTransport::new(&broker.bootstrap()), config).unwrap();
    let sent: Vec<ProducerRecord> = (0..500)
        .map(|i| ProducerRecord::new("keyed", format!("v{i}")).with_key(format!("user-{i}")))
        .collect();
    let delivered: Vec<RecordMetadata> = produce_all(&producer, &sent)
        .await
        .into_iter()
        .map(|d| d.unwrap())
        .collect();
    producer.close().await.unwrap();
    for partition in 0..7 {
        for record in fetch_records(&conn, "keyed", partition).await {
            let key = record.key.expect("keyed");
            assert_eq!(partition_for_key(&key, 7), Some(partition), "{key:?}");
        }
    }
    let used: std::collections::BTreeSet<i32> = delivered.iter().map(|m| m.partition).collect();
    assert_eq!(used.len(), 7, "500 keys spread over every partition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_immediate_and_typed() {
    let broker = start_tansu().await;
    let conn = Connection::connect(&broker.bootstrap(), &connect_options())
        .await
        .unwrap();
    create_topic(&conn, "limits", 2).await;
    let config = producer_config(&broker.bootstrap())
        .max_request_size(10_000)
        .max_block(Duration::from_millis(300))
        .build()
        .unwrap();
    let producer = Producer::new(TestTransport::new(&broker.bootstrap()), config).unwrap();

    let big = ProducerRecord::new("limits", vec![0u8; 20_000]);
    match producer.send(big).await {
        Err(ClientError::Producer(ProducerError::RecordTooLarge { limit, .. })) => {
            assert_eq!(limit, 10_000)
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    match producer
        .send(ProducerRecord::new("limits", "x").with_partition(2))
        .await
    {
        Err(ClientError::Producer(ProducerError::UnknownPartition { count: 2, .. })) => {}
        other => panic!("expected UnknownPartition, got {other:?}"),
    }
    match producer
        .send(ProducerRecord::new("no-such-topic", "x"))
        .await
    {
        Err(ClientError::Producer(ProducerError::MetadataUnavailable { topic, .. })) => {
            assert_eq!(topic, "no-such-topic")
        }
        other => panic!("expected MetadataUnavailable, got {other:?}"),
    }
    // The producer still works, and after close it refuses records.
    let ok = producer
        .send(ProducerRecord::new("limits", "fine"))
        .await
        .unwrap();
    producer.close().await.unwrap();
    assert!(ok.await.unwrap().offset >= 0);
    assert!(matches!(
        producer.send(ProducerRecord::new("limits", "late")).await,
        Err(ClientError::Producer(ProducerError::Closed))
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
    /// A direct connection to the broker (kept alive with it).
    direct: Connection,
    _broker: gregor_testkit::Tansu,
}

/// Produces 2,000 keyed records to a 3-partition topic through a proxy that cuts each
/// connection after 6 to 40 KiB, with `idempotence` on or off, and reads everything back.
async fn produce_through_cuts(idempotence: bool) -> CutRun {
    const RECORDS: usize = 2_000;
    let listener = ProxyListener::bind().await;
    let port = listener.port();
    let broker = tokio::task::spawn_blocking(move || {
        gregor_testkit::Tansu::start_with_advertised("127.0.0.1", port)
    })
    .await
    .unwrap()
    .expect("tansu starts");
    let direct = Connection::connect(&broker.bootstrap(), &connect_options())
        .await
        .unwrap();
    create_topic(&direct, "cut", 3).await;
    let proxy = listener.start(broker.addr(), budget);
    let bootstrap = format!("127.0.0.1:{port}");

    let config = producer_config(&bootstrap)
        .idempotence(idempotence)
        .batch_size(2_000)
        .linger(Duration::from_millis(2))
        .max_in_flight(5)
        .build()
        .unwrap();
    let producer = Producer::new(TestTransport::new(&bootstrap), config).unwrap();
    let sent: Vec<ProducerRecord> = (0..RECORDS)
        .map(|i| {
            ProducerRecord::new("cut", format!("value-{i:05}-{}", "p".repeat(40)))
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
        for record in fetch_records(&direct, "cut", partition).await {
            *copies.entry(record.value.clone().unwrap()).or_insert(0) += 1;
        }
    }
    let cuts = proxy.cuts();
    println!(
        "idempotence={idempotence}: {cuts} of {} connections cut, {} values read back, {} \
         of them more than once",
        proxy.accepted(),
        copies.len(),
        copies.values().filter(|&&n| n > 1).count()
    );
    CutRun {
        cuts,
        copies,
        sent,
        delivered,
        direct,
        _broker: broker,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_through_cut_connections_writes_each_record_once() {
    // Control: without idempotence the same cuts make the producer write records twice (a
    // request the broker carried out loses its answer and is retried). Without that, the
    // check below would prove nothing. Where the cuts land depends on timing (measured: 6 to
    // 1,266 duplicated values per run), so the control gets three tries.
    let mut control_duplicates = false;
    for _ in 0..3 {
        let plain = produce_through_cuts(false).await;
        assert!(plain.cuts > 3, "the proxy cut {} connections", plain.cuts);
        if plain.copies.values().any(|&n| n > 1) {
            control_duplicates = true;
            break;
        }
    }
    assert!(
        control_duplicates,
        "no retry wrote a duplicate without idempotence: the cuts missed the window"
    );

    let run = produce_through_cuts(true).await;
    assert!(run.cuts > 3, "the proxy cut {} connections", run.cuts);
    let missing = run
        .sent
        .iter()
        .filter(|r| !run.copies.contains_key(r.value.as_ref().unwrap()))
        .count();
    let duplicated = run.copies.values().filter(|&&n| n > 1).count();
    assert_eq!(missing, 0, "records lost");
    assert_eq!(duplicated, 0, "records written twice");
    // And in send order per partition, at the offsets the producer reported.
    assert_read_back(
        &run.direct,
        "cut",
        3,
        &run.sent,
        &run.delivered,
        Duration::ZERO,
    )
    .await;
}
