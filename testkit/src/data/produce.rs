//! Records produced with Produce requests built by hand (acks = all), so that a test of the
//! consumer or the admin client does not depend on gregor's producer.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gregor_client::{Client, ClientError, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::compression::Compression;
use gregor_protocol::messages::ProduceRequest;
use gregor_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::records::{BatchSpec, NewRecord, encode_batch};

/// The timestamp of every record produced here (2023-11-14T22:13:20Z).
pub const RECORD_TIMESTAMP: i64 = 1_700_000_000_000;

/// How a hand-built batch is encoded: its batch-level fields (codec, producer id, sequence ...)
/// and the key every record carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchShape<'a> {
    /// The batch-level fields; the default is a plain, non-idempotent, uncompressed batch.
    pub spec: BatchSpec,
    /// The key of every record (none by default).
    pub key: Option<&'a [u8]>,
}

impl<'a> BatchShape<'a> {
    /// The records section compressed with `compression`.
    pub fn compressed(mut self, compression: Compression) -> Self {
        self.spec.compression = compression;
        self
    }

    /// Every record keyed `key`.
    pub fn keyed(mut self, key: &'a [u8]) -> Self {
        self.key = Some(key);
        self
    }
}

impl From<BatchSpec> for BatchShape<'_> {
    fn from(spec: BatchSpec) -> Self {
        BatchShape { spec, key: None }
    }
}

/// One batch holding a record per value, each stamped [`RECORD_TIMESTAMP`]. Panics if the
/// batch does not encode.
pub fn encode_values(values: &[impl AsRef<[u8]>], shape: &BatchShape<'_>) -> Bytes {
    let records: Vec<NewRecord<'_>> = values
        .iter()
        .map(|v| NewRecord::new(shape.key, Some(v.as_ref())).with_timestamp(RECORD_TIMESTAMP))
        .collect();
    let mut batch = BytesMut::new();
    encode_batch(&shape.spec, &records, &mut batch)
        .unwrap_or_else(|e| panic!("the test batch encodes: {e}"));
    batch.freeze()
}

/// A Produce request of `version` carrying `batch` to `topic`'s `partition`: the topic is named
/// below v13 and identified (by the id in `client`'s metadata) from v13 (KIP-516).
pub fn produce_request(
    client: &Client,
    topic: &str,
    partition: i32,
    version: i16,
    acks: i16,
    batch: Bytes,
) -> ProduceRequest {
    let by_id = version >= 13;
    let topic_id: Uuid = if by_id {
        client
            .metadata()
            .topic(topic)
            .map(|t| t.id)
            .unwrap_or_default()
    } else {
        Uuid::default()
    };
    ProduceRequest {
        transactional_id: None,
        acks,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: if by_id {
                String::new()
            } else {
                topic.to_owned()
            },
            topic_id,
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(batch),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Produces one batch of `values` shaped by `shape` to `topic`'s `partition` through its leader
/// (acks = all) and returns the batch's base offset. Panics unless the partition answers NONE.
///
/// Errors that say the batch was not appended because the partition is not ready there yet
/// (`NOT_LEADER_OR_FOLLOWER`, `UNKNOWN_TOPIC_OR_PARTITION`, `LEADER_NOT_AVAILABLE`, in the
/// Produce response or in Metadata) are retried, after a metadata refresh, for up to
/// [`NOT_READY_FOR`], as any producer does: Apache Kafka answers CreateTopics and
/// CreatePartitions a moment before its brokers list the new partitions in Metadata and
/// accept Produce for them.
pub async fn produce_batch(
    client: &Client,
    topic: &str,
    partition: i32,
    values: &[impl AsRef<[u8]>],
    shape: &BatchShape<'_>,
) -> i64 {
    produce_encoded(client, topic, partition, encode_values(values, shape)).await
}

/// Produces one plain batch holding a record per `(key, value)` pair, each stamped
/// `timestamp`, as [`produce_batch`] does; returns the batch's base offset. For compacted
/// topics, whose records need keys; Kafka rolls a segment by the records' timestamps
/// (`segment.ms` after the segment's first one), hence the explicit timestamp.
pub async fn produce_keyed(
    client: &Client,
    topic: &str,
    partition: i32,
    timestamp: i64,
    records: &[(&str, &str)],
) -> i64 {
    let records: Vec<NewRecord<'_>> = records
        .iter()
        .map(|(k, v)| {
            NewRecord::new(Some(k.as_bytes()), Some(v.as_bytes())).with_timestamp(timestamp)
        })
        .collect();
    let mut batch = BytesMut::new();
    encode_batch(&BatchSpec::default(), &records, &mut batch)
        .unwrap_or_else(|e| panic!("the test batch encodes: {e}"));
    produce_encoded(client, topic, partition, batch.freeze()).await
}

/// Produces the encoded `batch`, retrying as [`produce_batch`] says.
async fn produce_encoded(client: &Client, topic: &str, partition: i32, batch: Bytes) -> i64 {
    let started = Instant::now();
    loop {
        match produce_once(client, topic, partition, batch.clone()).await {
            Ok(base_offset) => return base_offset,
            Err(
                ErrorCode::NotLeaderOrFollower
                | ErrorCode::UnknownTopicOrPartition
                | ErrorCode::LeaderNotAvailable,
            ) if started.elapsed() < NOT_READY_FOR => {
                let _ = client.refresh_metadata(Some(&[topic.to_owned()])).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(code) => panic!("Produce to {topic}-{partition} answered {code:?}"),
        }
    }
}

/// How long [`produce_batch`] and [`produce_keyed`] retry a partition that is not ready for
/// Produce yet.
pub const NOT_READY_FOR: Duration = Duration::from_secs(10);

/// One Produce of `batch`: its base offset, or the partition's error.
async fn produce_once(
    client: &Client,
    topic: &str,
    partition: i32,
    batch: Bytes,
) -> Result<i64, ErrorCode> {
    let leader = match client.leader(topic, partition).await {
        Ok((leader, _)) => leader,
        // Not in the metadata yet (a partition just created).
        Err(ClientError::Broker { code, .. }) => return Err(code),
        Err(e) => panic!("a leader for {topic}-{partition}: {e}"),
    };
    let conn = client
        .connection(leader, Purpose::Produce)
        .await
        .unwrap_or_else(|e| panic!("a produce connection to {leader:?}: {e}"));
    let response = conn
        .send_with(|version| produce_request(client, topic, partition, version, -1, batch))
        .await
        .unwrap_or_else(|e| panic!("Produce to {topic}-{partition} answered: {e}"));
    let answer = response
        .responses
        .first()
        .and_then(|t| t.partition_responses.first())
        .unwrap_or_else(|| panic!("Produce to {topic}-{partition} answered for the partition"));
    match ErrorCode::from_code(answer.error_code) {
        ErrorCode::None => Ok(answer.base_offset),
        code => Err(code),
    }
}

/// Produces `values` to `topic`'s `partition` in plain batches of `per_batch` records (at least
/// one) and returns the first record's offset (-1 when `values` is empty).
///
/// Tests that list latest offsets on tansu use one record per batch: tansu 0.6.0 answers
/// ListOffsets LATEST with the last batch's base offset + 1 (testkit's conformance table), which
/// is the high watermark only then.
pub async fn produce(
    client: &Client,
    topic: &str,
    partition: i32,
    values: &[impl AsRef<[u8]>],
    per_batch: usize,
) -> i64 {
    let mut first = None;
    for chunk in values.chunks(per_batch.max(1)) {
        let base = produce_batch(client, topic, partition, chunk, &BatchShape::default()).await;
        first.get_or_insert(base);
    }
    first.unwrap_or(-1)
}
