//! Helpers for the cluster-client and admin tests against a real broker (tansu, or the
//! cluster named by `KAFKA_BOOTSTRAP_SERVERS`).
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
use gregor_testkit::{BrokerKind, ChaosProxy, Tansu, TestBroker};

/// A name no other test (or earlier run against an external cluster) uses.
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

/// A broker for a test: `KAFKA_BOOTSTRAP_SERVERS` when set; else the kind `GREGOR_TEST_BROKER`
/// names (`mock`, `rdkafka-mock`, `tansu`); else a fresh tansu.
pub async fn broker() -> TestBroker {
    if std::env::var("KAFKA_BOOTSTRAP_SERVERS").is_ok_and(|s| !s.trim().is_empty()) {
        return TestBroker::start_kind_async(BrokerKind::External)
            .await
            .expect("external cluster");
    }
    let kind: BrokerKind = match std::env::var("GREGOR_TEST_BROKER") {
        Ok(name) if !name.trim().is_empty() => name
            .trim()
            .parse()
            .expect("GREGOR_TEST_BROKER names a broker kind"),
        _ => BrokerKind::Tansu,
    };
    TestBroker::start_kind_async(kind)
        .await
        .unwrap_or_else(|e| panic!("a {kind} broker (tansu needs .ci/install-tansu.sh): {e}"))
}

/// True (and says so on stderr) when `broker` is of `kind`, which is known to get the checked
/// behaviour wrong: the caller then skips the check on that broker only. The conformance table
/// in testkit's README records these deviations.
pub fn deviates(broker: &TestBroker, kind: BrokerKind, why: &str) -> bool {
    let skip = broker.kind() == kind;
    if skip {
        eprintln!("skipped on {kind}: {why}");
    }
    skip
}

/// A tansu behind a [`ChaosProxy`] (tansu advertises the proxy's address).
pub async fn proxied_tansu() -> (ChaosProxy, Tansu) {
    tokio::task::spawn_blocking(ChaosProxy::in_front_of_tansu)
        .await
        .unwrap()
        .expect("tansu behind the proxy")
}

/// A client configuration for `bootstrap` with short backoffs.
pub fn config(bootstrap: &str) -> gregor_client::config::ClientConfigBuilder {
    ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .client_id("gregor-cluster-test")
        .reconnect_backoff(Duration::from_millis(20))
        .reconnect_backoff_max(Duration::from_millis(200))
        .retry_backoff(Duration::from_millis(20))
        .request_timeout(Duration::from_secs(10))
}

/// A connected client.
pub async fn client(bootstrap: &str) -> Client {
    Client::connect(config(bootstrap).build().unwrap())
        .await
        .expect("client connects")
}

/// Creates `topic` with `partitions` partitions (replication 1) and waits for its leaders.
pub async fn create_topic(admin: &Admin, topic: &str, partitions: i32) {
    let results = admin
        .create_topics(
            vec![NewTopic::new(topic, partitions, 1)],
            CreateTopicsOptions::default().wait_for_leaders(true),
        )
        .await
        .expect("CreateTopics answered");
    results[topic].as_ref().expect("topic created");
}

/// Creates `topic` on `broker`: through the mock's control API on librdkafka's mock cluster,
/// which does not serve CreateTopics, else with [`create_topic`]. Waits until the client's
/// metadata names a leader for every partition.
pub async fn create_topic_on(broker: &TestBroker, admin: &Admin, topic: &str, partitions: i32) {
    if broker.kind() != BrokerKind::RdkafkaMock {
        return create_topic(admin, topic, partitions).await;
    }
    broker
        .create_topic(topic, partitions)
        .await
        .expect("the mock creates the topic");
    within("leaders for the new topic", async {
        loop {
            let snapshot = admin
                .client()
                .refresh_metadata(Some(&[topic.to_owned()]))
                .await
                .expect("Metadata answered");
            let led = (0..partitions).all(|p| snapshot.leader(topic, p).is_some());
            if snapshot.partition_count(topic) == Some(partitions as usize) && led {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Produces one batch of `values` to `topic`'s `partition` with a Produce request built by
/// hand (acks = all); returns the batch's base offset.
pub async fn produce(client: &Client, topic: &str, partition: i32, values: &[&str]) -> i64 {
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

/// Fails a test that would otherwise hang.
pub async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish"))
}
