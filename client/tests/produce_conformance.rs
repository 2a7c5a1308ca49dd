//! Produce behaviours of every available broker kind (`GREGOR_TEST_BROKERS`, else all that can
//! start here), measured with hand-made Produce requests on gregor's connections: the
//! idempotent producer's duplicate and out-of-order detection, and acks=0 getting no answer.
//! These fill testkit's conformance table; a known deviation is skipped on that broker only.

mod cluster_support;

use std::time::Duration;

use cluster_support::{broker_and_client, deviates};
use gregor_client::{Client, Connection, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProduceRequest};
use gregor_protocol::records::BatchSpec;
use gregor_testkit::data::{
    BatchShape, create_topic_by_protocol_on, encode_values, produce_request, unique_name, within,
};
use gregor_testkit::{BrokerKind, TestBroker};

struct Subject {
    broker: TestBroker,
    client: Client,
    topic: String,
    conn: Connection,
}

async fn subjects() -> Vec<Subject> {
    let mut out = Vec::new();
    for kind in BrokerKind::from_env() {
        let (broker, client) = broker_and_client(kind).await;
        let topic = unique_name("produced");
        create_topic_by_protocol_on(&broker, &client, &topic, 1).await;
        let (leader, _) = client.leader(&topic, 0).await.expect("leader");
        let conn = client
            .connection(leader, Purpose::Produce)
            .await
            .expect("produce connection");
        out.push(Subject {
            broker,
            client,
            topic,
            conn,
        });
    }
    out
}

fn request(s: &Subject, version: i16, acks: i16, spec: &BatchSpec, n: usize) -> ProduceRequest {
    let batch = encode_values(&vec![b"value"; n], &BatchShape::from(*spec));
    produce_request(&s.client, &s.topic, 0, version, acks, batch)
}

/// Produces `n` records with `spec` (acks = all); returns the error and base offset.
async fn produce(s: &Subject, spec: &BatchSpec, n: usize) -> (ErrorCode, i64) {
    let response = within("Produce", s.conn.send_with(|v| request(s, v, -1, spec, n)))
        .await
        .expect("Produce answered");
    let p = &response.responses[0].partition_responses[0];
    (ErrorCode::from_code(p.error_code), p.base_offset)
}

/// InitProducerId for an idempotent producer, sent again while the answer is a retriable error,
/// as Kafka's producer does: a fresh Kafka answers COORDINATOR_LOAD_IN_PROGRESS until its
/// broker has been given a block of producer ids by the controller.
async fn init_producer_id(conn: &Connection) -> InitProducerIdResponse {
    within("InitProducerId", async {
        loop {
            let id = conn
                .send(InitProducerIdRequest {
                    transactional_id: None,
                    transaction_timeout_ms: 60_000,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                })
                .await
                .expect("InitProducerId answered");
            let code = ErrorCode::from_code(id.error_code);
            if !code.is_retriable() {
                return id;
            }
            eprintln!("InitProducerId: {code}; retrying");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producers_are_deduplicated_and_sequenced() {
    for s in subjects().await {
        let kind = s.broker.kind();
        if deviates(
            &s.broker,
            BrokerKind::RdkafkaMock,
            "librdkafka's mock cluster (2.12.1) deviates: it checks sequences of transactional producers only; an idempotent producer's retry is appended again",
        ) {
            continue;
        }
        let id = init_producer_id(&s.conn).await;
        assert_eq!(
            ErrorCode::from_code(id.error_code),
            ErrorCode::None,
            "{kind}"
        );
        let spec = |base_sequence| BatchSpec {
            producer_id: id.producer_id,
            producer_epoch: id.producer_epoch,
            base_sequence,
            ..BatchSpec::default()
        };
        assert_eq!(
            produce(&s, &spec(0), 2).await,
            (ErrorCode::None, 0),
            "{kind}"
        );
        // A retry of the same batch is acknowledged with its first offset, not appended again.
        let duplicate = produce(&s, &spec(0), 2).await;
        if !deviates(
            &s.broker,
            BrokerKind::Tansu,
            "tansu 0.6.0 deviates: a retry of the last batch gets DUPLICATE_SEQUENCE_NUMBER (Kafka: no error and the batch's offset); it is not appended again",
        ) {
            assert_eq!(duplicate, (ErrorCode::None, 0), "{kind}: duplicate");
        }
        assert_eq!(
            produce(&s, &spec(2), 2).await,
            (ErrorCode::None, 2),
            "{kind}"
        );
        let (gap, _) = produce(&s, &spec(9), 1).await;
        assert_eq!(
            gap,
            ErrorCode::OutOfOrderSequenceNumber,
            "{kind}: sequence gap"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_zero_gets_no_answer() {
    for s in subjects().await {
        if deviates(
            &s.broker,
            BrokerKind::Tansu,
            "tansu 0.6.0 deviates: it answers acks=0 Produce requests",
        ) || deviates(
            &s.broker,
            BrokerKind::RdkafkaMock,
            "librdkafka's mock cluster (2.12.1) deviates: it answers acks=0 Produce requests",
        ) {
            continue;
        }
        let kind = s.broker.kind();
        let version = s.conn.version_for::<ProduceRequest>().unwrap();
        let unacked = request(&s, version, 0, &BatchSpec::default(), 3);
        within("acks=0 Produce", s.conn.send_no_response(unacked))
            .await
            .expect("sent");
        // The next answer on the connection is this request's (an answer to the acks=0 one
        // would be a correlation id the connection does not know), after the three records.
        let (code, base) = produce(&s, &BatchSpec::default(), 1).await;
        assert_eq!((code, base), (ErrorCode::None, 3), "{kind}");
        assert!(!s.conn.is_closed(), "{kind}");
    }
}
