//! What the consumer examples share: a broker (`KAFKA_BOOTSTRAP_SERVERS`, or our MockCluster
//! in-process), a client, topics, producing sample records with the gregor producer, and
//! reading a batch's partition readers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gregor_client::admin::{CreateTopicsOptions, NewTopic};
use gregor_client::config::{ClientConfig, ClientConfigBuilder, ProducerConfig};
use gregor_client::producer::{Producer, ProducerRecord};
use gregor_client::{Admin, Client};
use gregor_consumer::PartitionReader;
use gregor_consumer::direct::Batch;
use gregor_testkit::mock::MockCluster;

/// A boxed error: the examples report any failure and exit non-zero.
pub type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Where the example's broker lives.
pub struct Broker {
    /// The bootstrap servers, comma separated.
    pub bootstrap: String,
    /// Our in-process mock, kept alive while the example runs (`None` for an external cluster).
    pub mock: Option<MockCluster>,
}

/// `KAFKA_BOOTSTRAP_SERVERS` when set, otherwise a 3-broker MockCluster on loopback.
pub async fn broker() -> Result<Broker, AnyError> {
    if let Some(servers) = std::env::var("KAFKA_BOOTSTRAP_SERVERS")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        return Ok(Broker {
            bootstrap: servers,
            mock: None,
        });
    }
    let mock = MockCluster::builder().brokers(3).start().await?;
    Ok(Broker {
        bootstrap: mock.bootstrap(),
        mock: Some(mock),
    })
}

/// A client configuration for `bootstrap` with short backoffs.
pub fn client_config(bootstrap: &str) -> ClientConfigBuilder {
    ClientConfig::builder()
        .bootstrap_servers(bootstrap.split(',').map(str::trim))
        .client_id("gregor-example")
        .reconnect_backoff(Duration::from_millis(20))
        .reconnect_backoff_max(Duration::from_millis(500))
        .retry_backoff(Duration::from_millis(20))
        .request_timeout(Duration::from_secs(10))
}

/// A connected client.
pub async fn client(bootstrap: &str) -> Result<Client, AnyError> {
    Ok(Client::connect(client_config(bootstrap).build()?).await?)
}

/// A topic name no earlier run used (an external cluster keeps old topics).
pub fn unique_topic(prefix: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{prefix}-{}-{millis}", std::process::id())
}

/// Creates `topic` with `partitions` partitions and waits for their leaders.
pub async fn create_topic(client: &Client, topic: &str, partitions: i32) -> Result<(), AnyError> {
    let results = Admin::new(client.clone())
        .create_topics(
            vec![NewTopic::new(topic, partitions, 1)],
            CreateTopicsOptions::default().wait_for_leaders(true),
        )
        .await?;
    match results.get(topic) {
        Some(Ok(_)) => {}
        Some(Err(e)) => return Err(format!("creating {topic}: {e}").into()),
        None => return Err(format!("creating {topic}: no answer").into()),
    }
    client.refresh_metadata(Some(&[topic.to_owned()])).await?;
    Ok(())
}

/// The value of record `i` of `partition`.
pub fn sample_value(partition: i32, i: u64) -> String {
    format!("p{partition}-record-{i}")
}

/// Produces `per_partition` records to each of `partitions` partitions of `topic` with the gregor
/// producer (idempotent, acks=all); returns what was written: (partition, offset) -> value.
pub async fn produce(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    per_partition: u64,
) -> Result<BTreeMap<(i32, i64), String>, AnyError> {
    let config = ProducerConfig::builder()
        .linger(Duration::from_millis(5))
        .build()?;
    let producer = Producer::new(client(bootstrap).await?, config)?;
    let mut pending = Vec::new();
    for i in 0..per_partition {
        for p in 0..partitions {
            let value = sample_value(p, i);
            let record = ProducerRecord::new(topic, Bytes::from(value.clone())).with_partition(p);
            pending.push((value, producer.send(record).await?));
        }
    }
    producer.flush().await?;
    let mut written = BTreeMap::new();
    for (value, delivery) in pending {
        let meta = delivery.await?;
        if written
            .insert((meta.partition, meta.offset), value)
            .is_some()
        {
            return Err(format!("offset {}/{} reported twice", meta.partition, meta.offset).into());
        }
    }
    producer.close().await?;
    Ok(written)
}

/// Reads every record of `reader`, checking each lies inside its range; returns
/// (offset, value) pairs in order.
pub async fn drain(mut reader: PartitionReader) -> Result<Vec<(i64, Bytes)>, AnyError> {
    let range = reader.range().clone();
    let mut out = Vec::new();
    while let Some(chunk) = reader.next_chunk().await {
        for record in chunk?.records() {
            if record.offset < range.from() || record.offset >= range.until() {
                return Err(format!("record at {} outside {range}", record.offset).into());
            }
            out.push((record.offset, record.value.unwrap_or_default()));
        }
    }
    Ok(out)
}

/// What the examples have read: (partition, offset) -> value.
pub type Seen = BTreeMap<(i32, i64), String>;

/// Reads every partition of `batch` in turn into `seen`, failing on a record read twice;
/// returns one summary per range, `p{partition}[{from}, {until}): {records read}`.
pub async fn read_batch(batch: Batch, seen: &mut Seen) -> Result<Vec<String>, AnyError> {
    let mut summary = Vec::new();
    for reader in batch.into_partitions() {
        let range = reader.range().clone();
        let records = drain(reader).await?;
        for (offset, value) in &records {
            let value = String::from_utf8_lossy(value).into_owned();
            if seen.insert((range.partition(), *offset), value).is_some() {
                return Err(format!(
                    "offset {offset} of partition {} read twice",
                    range.partition()
                )
                .into());
            }
        }
        summary.push(format!(
            "p{}[{}, {}): {}",
            range.partition(),
            range.from(),
            range.until(),
            records.len()
        ));
    }
    Ok(summary)
}
