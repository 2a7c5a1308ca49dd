//! Shared pieces of the producer tests against real brokers (tansu, Apache Kafka): a minimal
//! [`ProducerTransport`] over plain connections and Metadata requests, topic creation, a raw
//! Fetch reader, and a TCP proxy that cuts connections.
#![allow(dead_code)]

pub mod proxy;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gregor_client::cluster::{BrokerId, MetadataCache};
use gregor_client::config::{ClientConfig, ProducerConfigBuilder};
use gregor_client::producer::transport::{
    PartitionInfo, ProducerTransport, TransportFuture, partitions_from_cache, topic_id_from_cache,
};
use gregor_client::{ClientError, ConnectOptions, Connection};
use gregor_protocol::ApiKey;
use gregor_protocol::ErrorCode;
use gregor_protocol::compression::Compression;
use gregor_protocol::messages::create_topics::CreatableTopic;
use gregor_protocol::messages::list_offsets::{ListOffsetsPartition, ListOffsetsTopic};
use gregor_protocol::messages::{
    CreateTopicsRequest, ListOffsetsRequest, MetadataRequest, MetadataResponse,
};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::records::{DecodeOptions, Record, batches};
use gregor_testkit::Tansu;
use gregor_testkit::data::partition_fetch;

/// Starts tansu off the async runtime's threads.
pub async fn start_tansu() -> Tansu {
    tokio::task::spawn_blocking(Tansu::start)
        .await
        .unwrap()
        .expect("tansu starts (run .ci/install-tansu.sh first)")
}

/// Connection options for tests: short timeouts, so a lost request is retried quickly.
pub fn connect_options() -> ConnectOptions {
    ConnectOptions {
        client_id: Some("gregor-producer-test".into()),
        request_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        ..ConnectOptions::default()
    }
}

/// The connection settings of the producer tests for `bootstrap`: short timeouts and
/// backoffs, so a lost request is retried quickly.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .client_id("gregor-producer-test")
        .request_timeout(Duration::from_secs(10))
        .retry_backoff(Duration::from_millis(20))
        .reconnect_backoff(Duration::from_millis(10))
        .reconnect_backoff_max(Duration::from_millis(200))
        .build()
        .expect("a valid test client configuration")
}

/// A producer configuration builder with the defaults (the connection settings come from
/// the transport: [`client_config`]).
pub fn producer_config() -> ProducerConfigBuilder {
    gregor_client::config::ProducerConfig::builder()
}

/// A [`ProducerTransport`] over plain connections: Metadata from the bootstrap broker (or any
/// broker it lists), one Produce connection per broker, reconnecting when one is closed.
pub struct TestTransport {
    bootstrap: String,
    /// Where every broker connection goes instead of the broker's advertised address (a proxy
    /// in front of a single-broker cluster), if anywhere.
    route: Option<String>,
    opts: ConnectOptions,
    config: ClientConfig,
    cache: Mutex<MetadataCache>,
    control: tokio::sync::Mutex<Option<Connection>>,
    produce: tokio::sync::Mutex<HashMap<BrokerId, Connection>>,
    /// Produce connections opened.
    pub produce_connects: AtomicUsize,
}

impl TestTransport {
    /// A transport bootstrapping from `bootstrap`.
    pub fn new(bootstrap: &str) -> Self {
        Self {
            bootstrap: bootstrap.to_owned(),
            route: None,
            opts: connect_options(),
            config: client_config(bootstrap),
            cache: Mutex::new(MetadataCache::new()),
            control: tokio::sync::Mutex::new(None),
            produce: tokio::sync::Mutex::new(HashMap::new()),
            produce_connects: AtomicUsize::new(0),
        }
    }

    /// A transport whose every connection, Metadata and Produce alike, goes to `proxy` (in
    /// front of a single-broker cluster, which advertises its own address).
    pub fn through(proxy: &str) -> Self {
        Self {
            route: Some(proxy.to_owned()),
            ..Self::new(proxy)
        }
    }

    async fn control(&self) -> Result<Connection, ClientError> {
        let mut control = self.control.lock().await;
        if let Some(conn) = control.as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        let conn = Connection::connect(&self.bootstrap, &self.opts).await?;
        *control = Some(conn.clone());
        Ok(conn)
    }

    async fn load(&self, topics: &[String]) -> Result<MetadataResponse, ClientError> {
        let conn = self.control().await?;
        let response = conn
            .send_with(|_| MetadataRequest {
                allow_auto_topic_creation: false,
                ..MetadataRequest::for_topics(topics.iter().cloned())
            })
            .await?;
        self.cache
            .lock()
            .unwrap()
            .apply(&response, false, Instant::now());
        Ok(response)
    }
}

impl ProducerTransport for TestTransport {
    fn partitions<'a>(&'a self, topic: &'a str) -> TransportFuture<'a, Vec<PartitionInfo>> {
        Box::pin(async move {
            let cached = partitions_from_cache(&self.cache.lock().unwrap(), topic);
            if let Some(Ok(partitions)) = cached {
                return Ok(partitions);
            }
            self.load(&[topic.to_owned()]).await?;
            partitions_from_cache(&self.cache.lock().unwrap(), topic).unwrap_or(Err(
                ClientError::Broker {
                    api: ApiKey::Metadata,
                    code: ErrorCode::UnknownTopicOrPartition,
                },
            ))
        })
    }

    fn refresh<'a>(&'a self, topics: &'a [String]) -> TransportFuture<'a, ()> {
        Box::pin(async move { self.load(topics).await.map(|_| ()) })
    }

    fn connection(&self, broker: BrokerId) -> TransportFuture<'_, Connection> {
        Box::pin(async move {
            let mut produce = self.produce.lock().await;
            if let Some(conn) = produce.get(&broker).filter(|c| !c.is_closed()) {
                return Ok(conn.clone());
            }
            let address = match &self.route {
                Some(route) => route.clone(),
                None => self
                    .cache
                    .lock()
                    .unwrap()
                    .broker(broker)
                    .map(|b| b.host_port())
                    .ok_or(ClientError::Disconnected)?,
            };
            let conn = Connection::connect(&address, &self.opts).await?;
            self.produce_connects.fetch_add(1, Ordering::Relaxed);
            produce.insert(broker, conn.clone());
            Ok(conn)
        })
    }

    fn any_connection(&self) -> TransportFuture<'_, Connection> {
        Box::pin(self.control())
    }

    fn topic_id(&self, topic: &str) -> Option<Uuid> {
        topic_id_from_cache(&self.cache.lock().unwrap(), topic)
    }

    fn client_config(&self) -> &ClientConfig {
        &self.config
    }
}

/// Creates `topic` with `partitions` partitions on the broker `conn` is connected to (a
/// single-broker cluster) and waits until the broker serves every partition.
pub async fn create_topic(conn: &Connection, topic: &str, partitions: i32) {
    create_topic_unserved(conn, topic, partitions).await;
    // Kafka answers once its controller has the topic; its broker names the leaders in
    // Metadata once it has applied that record, and serves the partitions (answers ListOffsets
    // and Produce for them, not NOT_LEADER_OR_FOLLOWER) a moment after that.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !served(conn, topic, partitions).await {
        assert!(Instant::now() < deadline, "{topic} is not served yet");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates `topic` with `partitions` partitions with CreateTopics on `conn` and returns at the
/// answer, when Kafka's broker may not serve the partitions yet.
pub async fn create_topic_unserved(conn: &Connection, topic: &str, partitions: i32) {
    let response = conn
        .send_with(|_| CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: topic.to_owned(),
                num_partitions: partitions,
                replication_factor: 1,
                ..CreatableTopic::default()
            }],
            timeout_ms: 10_000,
            ..CreateTopicsRequest::default()
        })
        .await
        .expect("CreateTopics answered");
    let result = &response.topics[0];
    assert_eq!(
        result.error_code, 0,
        "creating {topic}: {:?}",
        result.error_message
    );
}

/// Whether the broker `conn` is connected to (a single-broker cluster) answers ListOffsets
/// without error for each of `topic`'s `partitions`.
async fn served(conn: &Connection, topic: &str, partitions: i32) -> bool {
    let response = conn
        .send_with(|_| ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: topic.to_owned(),
                partitions: (0..partitions)
                    .map(|p| ListOffsetsPartition {
                        partition_index: p,
                        current_leader_epoch: -1,
                        timestamp: -1,
                        ..ListOffsetsPartition::default()
                    })
                    .collect(),
                ..ListOffsetsTopic::default()
            }],
            ..ListOffsetsRequest::default()
        })
        .await
        .expect("ListOffsets answered");
    let answered: Vec<_> = response.topics.iter().flat_map(|t| &t.partitions).collect();
    answered.len() == partitions as usize && answered.iter().all(|p| p.error_code == 0)
}

/// The topic's id, from a Metadata request on `conn`.
pub async fn topic_id(conn: &Connection, topic: &str) -> Uuid {
    let metadata = conn
        .send_with(|_| MetadataRequest::for_topics([topic]))
        .await
        .expect("Metadata answered");
    metadata.topic(topic).expect("topic listed").topic_id
}

/// One fetched batch: its compression and records.
#[derive(Debug, Clone)]
pub struct FetchedBatch {
    /// The batch's codec.
    pub compression: Compression,
    /// The producer id the batch carries (-1 when not idempotent).
    pub producer_id: i64,
    /// Its records.
    pub records: Vec<Record>,
}

/// Every batch of `topic`'s `partition` from offset 0, read with raw Fetch requests until a
/// fetch returns nothing more (the end of the log).
pub async fn fetch_all(conn: &Connection, topic: &str, partition: i32) -> Vec<FetchedBatch> {
    let id = topic_id(conn, topic).await;
    let mut offset = 0i64;
    let mut out = Vec::new();
    loop {
        let response = conn
            .send_with(|version| {
                let mut r = partition_fetch(topic, id, partition, offset, 16 << 20, 50, version);
                r.max_bytes = 64 << 20;
                r
            })
            .await
            .expect("Fetch answered");
        assert_eq!(response.error_code, 0, "fetch error");
        let data = response
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition_index == partition)
            .expect("fetch answers the partition");
        assert_eq!(data.error_code, 0, "fetch partition error");
        let Some(bytes) = data.records.clone().filter(|b| !b.is_empty()) else {
            return out;
        };
        let before = offset;
        for batch in batches(bytes, &DecodeOptions::default()) {
            let batch = batch.expect("fetched batch decodes");
            let records: Vec<Record> = batch
                .records()
                .map(|r| r.expect("fetched record decodes"))
                .filter(|r| r.offset >= offset)
                .collect();
            offset = batch.next_offset();
            if !records.is_empty() {
                out.push(FetchedBatch {
                    compression: batch.compression(),
                    producer_id: batch.producer_id(),
                    records,
                });
            }
        }
        if offset == before {
            return out;
        }
    }
}

/// Every record of `partition`, flattened.
pub async fn fetch_records(conn: &Connection, topic: &str, partition: i32) -> Vec<Record> {
    fetch_all(conn, topic, partition)
        .await
        .into_iter()
        .flat_map(|b| b.records)
        .collect()
}
