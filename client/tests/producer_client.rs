//! The producer over the cluster `Client` (its `ProducerTransport`), against tansu: keyed
//! records land on their murmur2 partitions, every record is delivered once at the offset its
//! future reported, and the records read back with a raw Fetch are exactly those sent.

mod producer_support;

use std::collections::HashMap;

use bytes::Bytes;
use gregor_client::Client;
use gregor_client::producer::{Producer, ProducerRecord, partition_for_key};
use producer_support::{
    client_config, connect_options, create_topic, fetch_records, producer_config, start_tansu,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_over_the_cluster_client_delivers_each_record_once() {
    let tansu = start_tansu().await;
    let bootstrap = tansu.bootstrap();
    let conn = gregor_client::Connection::connect(&bootstrap, &connect_options())
        .await
        .unwrap();
    let topic = "over-client";
    create_topic(&conn, topic, 3).await;

    let config = producer_config().build().unwrap();
    let client = Client::connect(client_config(&bootstrap)).await.unwrap();
    let producer = Producer::new(client, config).unwrap();

    let mut sent: HashMap<(i32, i64), (String, String)> = HashMap::new();
    let mut futures = Vec::new();
    for i in 0..300 {
        let key = format!("key-{}", i % 37);
        let value = format!("value-{i}");
        let record = ProducerRecord::new(topic, Bytes::from(value.clone()))
            .with_key(Bytes::from(key.clone()));
        futures.push((key, value, producer.send(record).await.unwrap()));
    }
    producer.flush().await.unwrap();
    for (key, value, delivery) in futures {
        let meta = delivery.await.unwrap();
        assert_eq!(
            meta.partition,
            partition_for_key(key.as_bytes(), 3).unwrap(),
            "murmur2 partition of {key}"
        );
        assert!(
            sent.insert((meta.partition, meta.offset), (key, value))
                .is_none(),
            "offsets are unique"
        );
    }
    producer.close().await.unwrap();

    let mut read = 0;
    for partition in 0..3 {
        for record in fetch_records(&conn, topic, partition).await {
            let (key, value) = sent
                .get(&(partition, record.offset))
                .expect("read back a record that was sent");
            assert_eq!(record.key.as_deref(), Some(key.as_bytes()));
            assert_eq!(record.value.as_deref(), Some(value.as_bytes()));
            read += 1;
        }
    }
    assert_eq!(read, 300, "every record read back exactly once");
}
