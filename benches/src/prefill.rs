//! Creating a topic and filling it with a pool of batches through raw Produce requests
//! (acks=1), a few requests in flight, one batch per partition per request.

use std::collections::BTreeMap;
use std::time::Duration;

use gregor_client::admin::{CreateTopicsOptions, NewTopic};
use gregor_client::config::ClientConfig;
use gregor_client::{Admin, Client, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use gregor_protocol::messages::{ProduceRequest, ProduceResponse};
use gregor_protocol::primitives::Uuid;
use tokio::task::JoinSet;

use crate::payload::PoolBatch;
use crate::{BenchError, Result};

/// Produce requests in flight while filling.
const IN_FLIGHT: usize = 8;

/// What a filled topic holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Filled {
    /// The topic.
    pub topic: String,
    /// End offset (records, all from offset 0) of each partition.
    pub end_offsets: Vec<i64>,
    /// Records in all partitions.
    pub records: u64,
    /// Bytes of values in all partitions.
    pub value_bytes: u64,
    /// Bytes of the stored batches.
    pub stored_bytes: u64,
    /// Uncompressed size of the records sections / their stored size.
    pub compression_ratio: f64,
}

/// A gregor client for `bootstrap`.
pub async fn connect(bootstrap: &str) -> Result<Client> {
    let config = ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .client_id("gregor-benches")
        .build()
        .map_err(|e| BenchError::Other(e.to_string()))?;
    Ok(Client::connect(config).await?)
}

/// Creates `topic` with `partitions` and appends `batches_per_partition` batches from `pool`
/// (round robin) to each partition.
pub async fn fill(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    pool: &[PoolBatch],
    batches_per_partition: usize,
) -> Result<Filled> {
    let client = connect(bootstrap).await?;
    let admin = Admin::new(client.clone());
    let created = deadline(
        "CreateTopics",
        admin.create_topics(
            vec![NewTopic::new(topic, partitions, 1)],
            CreateTopicsOptions::default().wait_for_leaders(true),
        ),
    )
    .await??;
    if let Some(Err(e)) = created.get(topic) {
        return Err(BenchError::Other(format!("creating {topic}: {e:?}")));
    }
    let meta = client.refresh_metadata(Some(&[topic.to_owned()])).await?;
    let topic_id = meta
        .topic(topic)
        .map(|t| t.id)
        .ok_or_else(|| BenchError::Other(format!("{topic} missing from metadata")))?;
    // Group partitions by leader; one request carries one batch per partition of a leader.
    let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for p in 0..partitions {
        let (leader, _) = client.leader(topic, p).await?;
        by_leader.entry(leader).or_default().push(p);
    }
    let mut filled = Filled {
        topic: topic.to_owned(),
        end_offsets: vec![0; partitions as usize],
        records: 0,
        value_bytes: 0,
        stored_bytes: 0,
        compression_ratio: 0.0,
    };
    let mut uncompressed = 0u64;
    let mut jobs = JoinSet::new();
    for (leader, parts) in by_leader {
        for round in 0..batches_per_partition {
            let Some(batch) = pool.get(round % pool.len().max(1)) else {
                return Err(BenchError::Other("empty batch pool".into()));
            };
            for &p in &parts {
                filled.end_offsets[p as usize] += batch.records as i64;
                filled.records += batch.records as u64;
                filled.value_bytes += batch.value_bytes as u64;
                filled.stored_bytes += batch.bytes.len() as u64;
                uncompressed += batch.uncompressed_bytes as u64;
            }
            let data: Vec<PartitionProduceData> = parts
                .iter()
                .map(|&p| PartitionProduceData {
                    index: p,
                    records: Some(batch.bytes.clone()),
                    ..PartitionProduceData::default()
                })
                .collect();
            let conn = deadline("connect", client.connection(leader, Purpose::Produce)).await??;
            let topic = topic.to_owned();
            while jobs.len() >= IN_FLIGHT {
                join_one(&mut jobs).await?;
            }
            jobs.spawn(async move {
                let resp = deadline(
                    "Produce",
                    conn.send_with(|version| {
                        produce_request(version, topic, topic_id, data, Duration::from_secs(30))
                    }),
                )
                .await??;
                check_produce(&resp)
            });
        }
    }
    while !jobs.is_empty() {
        join_one(&mut jobs).await?;
    }
    filled.compression_ratio = uncompressed as f64 / (filled.stored_bytes as f64).max(1.0);
    Ok(filled)
}

/// How long one prefill request may take before the run fails instead of hanging.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// An acks=1 Produce of `data` to one topic, named as `version` wants it (by id from v13).
pub fn produce_request(
    version: i16,
    topic: String,
    topic_id: Uuid,
    data: Vec<PartitionProduceData>,
    timeout: Duration,
) -> ProduceRequest {
    let by_id = version >= 13;
    ProduceRequest {
        transactional_id: None,
        acks: 1,
        timeout_ms: i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
        topic_data: vec![TopicProduceData {
            name: if by_id { String::new() } else { topic },
            topic_id: if by_id { topic_id } else { Default::default() },
            partition_data: data,
            ..TopicProduceData::default()
        }],
        unknown_tagged_fields: Default::default(),
    }
}

async fn deadline<T>(what: &str, f: impl std::future::Future<Output = T>) -> Result<T> {
    tokio::time::timeout(REQUEST_DEADLINE, f)
        .await
        .map_err(|_| BenchError::Other(format!("{what} took over {REQUEST_DEADLINE:?}")))
}

async fn join_one(jobs: &mut JoinSet<Result<()>>) -> Result<()> {
    match jobs.join_next().await {
        Some(Ok(r)) => r,
        Some(Err(e)) => Err(BenchError::Other(format!("produce task: {e}"))),
        None => Ok(()),
    }
}

fn check_produce(resp: &ProduceResponse) -> Result<()> {
    for t in &resp.responses {
        for p in &t.partition_responses {
            let code = ErrorCode::from_code(p.error_code);
            if code.is_err() {
                return Err(BenchError::Other(format!(
                    "produce to partition {} failed: {code} {:?}",
                    p.index, p.error_message
                )));
            }
        }
    }
    Ok(())
}

/// Deletes `topic` (frees the broker's memory between workloads).
pub async fn delete(bootstrap: &str, topic: &str) -> Result<()> {
    let admin = Admin::new(connect(bootstrap).await?);
    deadline("DeleteTopics", admin.delete_topics(&[topic.to_owned()])).await??;
    Ok(())
}
