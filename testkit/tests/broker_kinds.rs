//! Choosing a broker kind: our mock and (with the `rdkafka-mock` feature) librdkafka's mock
//! start from sync and async tests and serve a client (librdkafka) the same way.

use std::time::Duration;

use gregor_testkit::select::MOCK_BROKERS;
use gregor_testkit::{BrokerKind, SelectError, TestBroker};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

const WAIT: Duration = Duration::from_secs(20);

/// The in-process kinds this build can start (tansu and external clusters are covered by
/// their own tests).
fn mock_kinds() -> Vec<BrokerKind> {
    [BrokerKind::Mock, BrokerKind::RdkafkaMock]
        .into_iter()
        .filter(|k| k.is_available())
        .collect()
}

#[test]
fn kinds_parse_and_report_availability() {
    for kind in BrokerKind::ALL {
        assert_eq!(kind.name().parse::<BrokerKind>().unwrap(), kind);
        assert_eq!(kind.to_string(), kind.name());
    }
    assert_eq!(
        "RDKAFKA-MOCK".parse::<BrokerKind>().unwrap(),
        BrokerKind::RdkafkaMock
    );
    assert!(matches!(
        "redpanda".parse::<BrokerKind>(),
        Err(SelectError::UnknownKind(_))
    ));
    assert!(BrokerKind::available().contains(&BrokerKind::Mock));
    assert_eq!(
        BrokerKind::RdkafkaMock.is_available(),
        cfg!(feature = "rdkafka-mock")
    );
    if !cfg!(feature = "rdkafka-mock") {
        assert!(matches!(
            TestBroker::start_kind(BrokerKind::RdkafkaMock),
            Err(SelectError::Unavailable { .. })
        ));
    }
    if std::env::var_os("KAFKA_BOOTSTRAP_SERVERS").is_none() {
        assert!(matches!(
            TestBroker::start_kind(BrokerKind::External),
            Err(SelectError::Unavailable { .. })
        ));
    }
}

/// No tokio runtime here: the mock serves from its own.
#[test]
fn a_mock_started_from_a_sync_test_serves_on_its_own_runtime() {
    for kind in mock_kinds() {
        let broker = TestBroker::start_kind(kind).unwrap();
        assert_eq!(broker.kind(), kind);
        assert_eq!(broker.bootstrap().split(',').count(), MOCK_BROKERS);
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap())
            .create()
            .unwrap();
        // All topics: librdkafka's request for them made our mock close the connection until
        // it ignored trailing bytes as Kafka does (see mock_admin.rs).
        let md = consumer.fetch_metadata(None, WAIT).unwrap();
        assert_eq!(md.brokers().len(), MOCK_BROKERS, "{kind}");
        let mut ids: Vec<i32> = md.brokers().iter().map(|b| b.id()).collect();
        ids.sort();
        assert_eq!(ids, vec![1, 2, 3], "{kind}");
    }
}

/// Produces three records and reads them back with librdkafka.
async fn round_trip(broker: &TestBroker, topic: &str) {
    broker.create_topic(topic, 2).await.unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("message.timeout.ms", "15000")
        .create()
        .unwrap();
    for i in 0..3 {
        let key = format!("k{i}");
        let value = format!("v{i}");
        let record = FutureRecord::to(topic)
            .partition(1)
            .key(&key)
            .payload(&value);
        let d = producer.send(record, WAIT).await.unwrap();
        assert_eq!(
            (d.partition, d.offset),
            (1, i64::from(i)),
            "{}",
            broker.kind()
        );
    }
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 1, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let got = tokio::task::spawn_blocking(move || {
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + WAIT;
        while got.len() < 3 && std::time::Instant::now() < deadline {
            if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                let m = m.unwrap();
                let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                got.push((m.offset(), key));
            }
        }
        got
    })
    .await
    .unwrap();
    let expected: Vec<(i64, String)> = (0..3).map(|i| (i, format!("k{i}"))).collect();
    assert_eq!(got, expected, "{}", broker.kind());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mock_kind_serves_the_same_round_trip() {
    for kind in mock_kinds() {
        // Detached (its own runtime) and, for our mock, on this runtime.
        let detached = TestBroker::start_kind(kind).unwrap();
        round_trip(&detached, "detached").await;
        let here = TestBroker::start_kind_async(kind).await.unwrap();
        round_trip(&here, "here").await;
        assert_eq!(here.mock().is_some(), kind == BrokerKind::Mock);
        drop(detached);
        drop(here);
    }
}
