//! Helpers shared by the direct-stream and Kafka-commit tests: brokers, clients, topics and
//! producing records by hand.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use gregor_client::admin::{CreateTopicsOptions, NewTopic};
use gregor_client::config::ClientConfig;
use gregor_client::{Admin, Client, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::ProduceRequest;
use gregor_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use gregor_protocol::records::{BatchSpec, NewRecord, encode_batch};
use gregor_testkit::{BrokerKind, TestBroker};

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A broker of `kind` (our mock runs on the test's runtime).
pub async fn broker(kind: BrokerKind) -> TestBroker {
    TestBroker::start_kind_async(kind)
        .await
        .unwrap_or_else(|e| panic!("a {kind} broker (tansu needs .ci/install-tansu.sh): {e}"))
}

/// A connected client with short backoffs and a short metadata max age.
pub async fn client(broker: &TestBroker) -> Client {
    let config = ClientConfig::builder()
        .bootstrap_servers([broker.bootstrap()])
        .client_id("gregor-stream-test")
        .reconnect_backoff(Duration::from_millis(20))
        .reconnect_backoff_max(Duration::from_millis(200))
        .retry_backoff(Duration::from_millis(20))
        .request_timeout(Duration::from_secs(10))
        .build()
        .expect("client config");
    Client::connect(config).await.expect("client connects")
}

/// Creates `topic` through the broker's control API where it has one (our mock and
/// librdkafka's, which serves no CreateTopics), else with CreateTopics.
pub async fn create_topic_on(broker: &TestBroker, client: &Client, topic: &str, partitions: i32) {
    if broker.create_topic(topic, partitions).await.is_ok() {
        client
            .refresh_metadata(Some(&[topic.to_owned()]))
            .await
            .expect("metadata");
    } else {
        create_topic(client, topic, partitions).await;
    }
}

/// Creates `topic` with `partitions` partitions (replication 1) and waits for its leaders.
pub async fn create_topic(client: &Client, topic: &str, partitions: i32) {
    let admin = Admin::new(client.clone());
    let results = admin
        .create_topics(
            vec![NewTopic::new(topic, partitions, 1)],
            CreateTopicsOptions::default().wait_for_leaders(true),
        )
        .await
        .expect("CreateTopics answered");
    results[topic].as_ref().expect("topic created");
    client
        .refresh_metadata(Some(&[topic.to_owned()]))
        .await
        .expect("metadata");
}

/// Produces `values` to `topic`'s `partition`, one batch per `per_batch` records (acks = all),
/// with a Produce request built by hand; returns the first record's offset.
///
/// Tests that list latest offsets on tansu use one record per batch: tansu 0.6.0 answers
/// ListOffsets LATEST with the last batch's base offset + 1 (testkit's conformance table), which
/// is the high watermark only then.
pub async fn produce(
    client: &Client,
    topic: &str,
    partition: i32,
    values: &[String],
    per_batch: usize,
) -> i64 {
    let mut first = None;
    for chunk in values.chunks(per_batch.max(1)) {
        let base = produce_batch(client, topic, partition, chunk).await;
        first.get_or_insert(base);
    }
    first.unwrap_or(-1)
}

async fn produce_batch(client: &Client, topic: &str, partition: i32, values: &[String]) -> i64 {
    let (leader, _) = client.leader(topic, partition).await.expect("leader");
    let conn = client
        .connection(leader, Purpose::Produce)
        .await
        .expect("produce connection");
    let records: Vec<NewRecord<'_>> = values
        .iter()
        .map(|v| NewRecord::new(None, Some(v.as_bytes())).with_timestamp(1_700_000_000_000))
        .collect();
    let mut batch = BytesMut::new();
    encode_batch(&BatchSpec::default(), &records, &mut batch).expect("batch encodes");
    let topic_id = client
        .metadata()
        .topic(topic)
        .map(|t| t.id)
        .unwrap_or_default();
    let response = conn
        .send_with(|version| ProduceRequest {
            transactional_id: None,
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
        .expect("Produce answered");
    let p = &response.responses[0].partition_responses[0];
    assert_eq!(ErrorCode::from_code(p.error_code), ErrorCode::None);
    p.base_offset
}

/// `n` values `"{prefix}-{i}"`.
pub fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Fails a test that would otherwise hang.
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish"))
}
