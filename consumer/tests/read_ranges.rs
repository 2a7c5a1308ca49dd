//! read_ranges and the fetch engine against each broker kind that supports the behaviour:
//! our MockCluster, librdkafka's mock cluster and tansu.
//! Set GREGOR_TEST_BROKER to run only one kind (`mock`, `rdkafka-mock`, `tansu`).

use std::time::Duration;

use bytes::BytesMut;
use gregor_client::admin::{CreateTopicsOptions, NewTopic};
use gregor_client::config::ClientConfig;
use gregor_client::{Admin, Client, Purpose};
use gregor_consumer::fetch::{FetchConfig, FetchEngine, FetchError};
use gregor_consumer::range::OffsetRange;
use gregor_consumer::read::{ReadOptions, read_ranges};
use gregor_protocol::ErrorCode;
use gregor_protocol::compression::Compression;
use gregor_protocol::messages::ProduceRequest;
use gregor_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use gregor_protocol::records::{BatchSpec, NewRecord, encode_batch};
use gregor_testkit::{BrokerKind, TestBroker};

const DEADLINE: Duration = Duration::from_secs(60);

fn kinds() -> Vec<BrokerKind> {
    match std::env::var("GREGOR_TEST_BROKER") {
        Ok(name) if !name.trim().is_empty() => vec![name.trim().parse().expect("a broker kind")],
        _ => vec![BrokerKind::Mock, BrokerKind::RdkafkaMock, BrokerKind::Tansu],
    }
}

async fn client(bootstrap: &str) -> Client {
    let config = ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .reconnect_backoff(Duration::from_millis(20))
        .reconnect_backoff_max(Duration::from_millis(200))
        .retry_backoff(Duration::from_millis(20))
        .request_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Client::connect(config).await.unwrap()
}

async fn create_topic(client: &Client, topic: &str, partitions: i32) {
    let admin = Admin::new(client.clone());
    let results = admin
        .create_topics(
            vec![NewTopic::new(topic, partitions, 1)],
            CreateTopicsOptions::default().wait_for_leaders(true),
        )
        .await
        .unwrap();
    results[topic].as_ref().expect("topic created");
}

/// Produces one batch of `values` to `partition`, compressed with `compression`.
async fn produce(
    client: &Client,
    topic: &str,
    partition: i32,
    values: &[String],
    compression: Compression,
) {
    let (leader, _) = client.leader(topic, partition).await.unwrap();
    let conn = client.connection(leader, Purpose::Produce).await.unwrap();
    let records: Vec<NewRecord<'_>> = values
        .iter()
        .map(|v| NewRecord::new(Some(b"k"), Some(v.as_bytes())).with_timestamp(1_700_000_000_000))
        .collect();
    let mut batch = BytesMut::new();
    let spec = BatchSpec {
        compression,
        ..BatchSpec::default()
    };
    encode_batch(&spec, &records, &mut batch).unwrap();
    let topic_id = client
        .metadata()
        .topic(topic)
        .map(|t| t.id)
        .unwrap_or_default();
    let response = conn
        .send_with(|version| ProduceRequest {
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: if version < 13 {
                    topic.to_owned()
                } else {
                    String::new()
                },
                topic_id: if version >= 13 {
                    topic_id
                } else {
                    Default::default()
                },
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: Some(batch.freeze()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let p = &response.responses[0].partition_responses[0];
    assert_eq!(ErrorCode::from_code(p.error_code), ErrorCode::None);
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Three partitions, each with five batches of ten records in different codecs.
async fn fill(broker: &TestBroker, client: &Client, topic: &str) {
    // The mock clusters (librdkafka's serves no CreateTopics) take topics through their
    // control API; real brokers through CreateTopics.
    if broker.create_topic(topic, 3).await.is_ok() {
        client
            .refresh_metadata(Some(&[topic.to_owned()]))
            .await
            .expect("metadata");
    } else {
        create_topic(client, topic, 3).await;
    }
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    for p in 0..3 {
        for (b, codec) in codecs.iter().enumerate() {
            produce(client, topic, p, &values(&format!("p{p}b{b}-"), 10), *codec).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_ranges_reads_exactly_the_ranges() {
    for kind in kinds() {
        let broker = TestBroker::start_kind_async(kind)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        eprintln!("running on {kind} at {}", broker.bootstrap());
        let client = client(&broker.bootstrap()).await;
        fill(&broker, &client, "rr").await;
        let ranges = [
            OffsetRange::new("rr", 0, 0, 50).unwrap(),
            OffsetRange::new("rr", 1, 5, 33).unwrap(),
            OffsetRange::new("rr", 2, 17, 17).unwrap(),
            OffsetRange::new("rr", 2, 49, 50).unwrap(),
        ];
        let options = ReadOptions::default().with_fetch(
            FetchConfig::default()
                .with_max_wait(Duration::from_millis(100))
                .with_partition_max_bytes(200),
        );
        let read = tokio::time::timeout(DEADLINE, read_ranges(&client, &ranges, options))
            .await
            .expect("read before the deadline")
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(read.len(), 4);
        for (range, got) in ranges.iter().zip(read.iter()) {
            let offsets: Vec<i64> = got.records.iter().map(|r| r.offset).collect();
            assert_eq!(
                offsets,
                (range.from()..range.until()).collect::<Vec<_>>(),
                "{kind} {range:?}"
            );
            assert_eq!(got.consumed.records_read(), range.count());
            for r in &got.records {
                let b = (r.offset / 10) as usize;
                let want = format!("p{}b{b}-{}", range.partition(), r.offset % 10);
                assert_eq!(r.value.as_deref(), Some(want.as_bytes()), "{kind}");
                assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_reads_many_ranges_concurrently_and_fails_past_the_end() {
    for kind in kinds() {
        let broker = TestBroker::start_kind_async(kind)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        eprintln!("running on {kind} at {}", broker.bootstrap());
        let client = client(&broker.bootstrap()).await;
        fill(&broker, &client, "ec").await;
        let engine = FetchEngine::new(
            client.clone(),
            FetchConfig::default()
                .with_max_wait(Duration::from_millis(100))
                .with_memory_budget(4096),
        );
        let mut readers: Vec<_> = (0..3)
            .map(|p| engine.read(OffsetRange::new("ec", p, 10, 40).unwrap()))
            .collect();
        for reader in readers.iter_mut().rev() {
            let mut next = 10;
            tokio::time::timeout(DEADLINE, async {
                while let Some(chunk) = reader.next_chunk().await {
                    for r in chunk.unwrap().records() {
                        assert_eq!(r.offset, next, "{kind}");
                        next += 1;
                    }
                }
            })
            .await
            .expect("read before the deadline");
            assert_eq!(next, 40);
            assert_eq!(reader.consumed().unwrap().records_read(), 30);
        }
        drop(readers);
        let mut past = engine.read(OffsetRange::new("ec", 0, 45, 60).unwrap());
        let mut delivered = 0;
        let error = tokio::time::timeout(DEADLINE, async {
            loop {
                match past.next_chunk().await {
                    Some(Ok(chunk)) => delivered += chunk.len(),
                    Some(Err(e)) => return e,
                    None => panic!("{kind}: a range past the end completed"),
                }
            }
        })
        .await
        .expect("error before the deadline");
        assert_eq!(delivered, 5, "{kind}: the records that exist come first");
        assert!(
            matches!(error, FetchError::BeyondLogEnd { log_end: 50, .. }),
            "{kind}: {error:?}"
        );
    }
}
