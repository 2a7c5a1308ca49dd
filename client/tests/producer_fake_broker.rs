//! The async producer against a scripted broker that behaves as Kafka does with `acks=0`: it
//! takes the Produce requests and never answers them. (tansu 0.6.0 answers them, see
//! `producer_brokers.rs`.)

mod support;

use std::time::Duration;

use gregor_client::cluster::BrokerId;
use gregor_client::config::{Acks, ClientConfig, ProducerConfig};
use gregor_client::producer::transport::TransportFuture;
use gregor_client::producer::{PartitionInfo, Producer, ProducerRecord, ProducerTransport};
use gregor_client::{ConnectOptions, Connection};
use gregor_protocol::ApiKey;
use gregor_protocol::messages::ProduceRequest;
use gregor_protocol::primitives::Uuid;
use gregor_protocol::records::{DecodeOptions, batches};

/// The topic's id (Produce v13+ names topics by id).
const TOPIC_ID: Uuid = Uuid([7; 16]);

/// One broker (id 1) leading the only partition of every topic, reached over `conn`.
struct OneBroker {
    conn: Connection,
    config: ClientConfig,
}

impl ProducerTransport for OneBroker {
    fn partitions<'a>(&'a self, _topic: &'a str) -> TransportFuture<'a, Vec<PartitionInfo>> {
        Box::pin(async {
            Ok(vec![PartitionInfo {
                partition: 0,
                leader: Some(1),
            }])
        })
    }

    fn refresh<'a>(&'a self, _topics: &'a [String]) -> TransportFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn connection(&self, broker: BrokerId) -> TransportFuture<'_, Connection> {
        assert_eq!(broker, 1);
        Box::pin(async { Ok(self.conn.clone()) })
    }

    fn any_connection(&self) -> TransportFuture<'_, Connection> {
        Box::pin(async { Ok(self.conn.clone()) })
    }

    fn topic_id(&self, _topic: &str) -> Option<Uuid> {
        Some(TOPIC_ID)
    }

    fn client_config(&self) -> &ClientConfig {
        &self.config
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_0_resolves_without_answers_and_every_record_arrives_in_order() {
    const RECORDS: usize = 500;
    let (conn, mut broker) = support::connected(&ConnectOptions::default()).await;
    // The broker side: read Produce requests until the client goes away, never answering.
    let received = tokio::spawn(async move {
        let mut values = Vec::new();
        while let Some(req) = broker.recv().await {
            assert_eq!(req.api(), ApiKey::Produce);
            let (_, body) = req.decode::<ProduceRequest>();
            assert_eq!(body.acks, 0);
            if req.version >= 13 {
                assert!(body.topic_data.iter().all(|t| t.topic_id == TOPIC_ID));
            }
            for partition in body.topic_data.iter().flat_map(|t| &t.partition_data) {
                let records = partition.records.clone().expect("records");
                for batch in batches(records, &DecodeOptions::default()) {
                    for record in batch.expect("batch decodes").records() {
                        values.push(record.expect("record decodes").value.expect("value"));
                    }
                }
            }
        }
        values
    });

    let client = ClientConfig::builder()
        .bootstrap_servers(["fake:9092"])
        .build()
        .unwrap();
    let config = ProducerConfig::builder()
        .acks(Acks::None)
        .linger(Duration::from_millis(1))
        .batch_size(1_000)
        .build()
        .unwrap();
    assert!(!config.idempotence());
    let producer = Producer::new(
        OneBroker {
            conn,
            config: client,
        },
        config,
    )
    .unwrap();
    let mut deliveries = Vec::new();
    for i in 0..RECORDS {
        let record = ProducerRecord::new("t", format!("value-{i}"));
        deliveries.push(producer.send(record).await.unwrap());
    }
    producer.close().await.unwrap();
    for delivery in deliveries {
        let meta = delivery.await.expect("acks=0 records resolve");
        assert_eq!((meta.partition, meta.offset), (0, -1));
    }
    let values = received.await.unwrap();
    let expected: Vec<String> = (0..RECORDS).map(|i| format!("value-{i}")).collect();
    let got: Vec<String> = values
        .iter()
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
        .collect();
    assert_eq!(got, expected, "every record once, in order");
}
