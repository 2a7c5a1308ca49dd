//! gregor's raw fetch path: `gregor_client::Client`, the leader's `Purpose::Fetch`
//! connection, FetchRequest (no session) for all of a leader's unfinished partitions, and
//! `records::batches` (CRC checked) with borrowed record refs: the least a gregor application
//! can do. One task per leader; one request in flight per leader.

use std::collections::BTreeMap;

use gregor_client::{Client, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::FetchRequest;
use gregor_protocol::messages::fetch::{FetchPartition, FetchTopic};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::records::{DecodeOptions, DecodedBatch, batches};
use tokio::task::JoinSet;

use super::{DrainSpec, FETCH_MAX_BYTES, MAX_WAIT_MS, PARTITION_MAX_BYTES, Tally, finish};
use crate::measure::{Mark, Sample};
use crate::prefill::connect;
use crate::{BenchError, Result};

/// Drains `spec` (stalling is not offered: this path does not prefetch).
pub async fn run(spec: &DrainSpec, start_rss: u64) -> Result<Sample> {
    let mark = Mark::now()?;
    let client = connect(&spec.bootstrap).await?;
    let topic_id = client
        .metadata()
        .topic(&spec.topic)
        .map(|t| t.id)
        .ok_or_else(|| BenchError::Other(format!("{} not in metadata", spec.topic)))?;
    let mut by_leader: BTreeMap<i32, Vec<(i32, i64)>> = BTreeMap::new();
    for (p, &end) in spec.end_offsets.iter().enumerate() {
        let (leader, _) = client.leader(&spec.topic, p as i32).await?;
        by_leader.entry(leader).or_default().push((p as i32, end));
    }
    let mut tasks = JoinSet::new();
    for (leader, parts) in by_leader {
        let client = client.clone();
        let topic = spec.topic.clone();
        tasks.spawn(drain_leader(client, leader, topic, topic_id, parts));
    }
    let mut tally = Tally::default();
    while let Some(joined) = tasks.join_next().await {
        let t = joined.map_err(|e| BenchError::Other(format!("fetch task: {e}")))??;
        tally.merge(t);
    }
    finish(&mark, start_rss, tally)
}

async fn drain_leader(
    client: Client,
    leader: i32,
    topic: String,
    topic_id: Uuid,
    parts: Vec<(i32, i64)>,
) -> Result<Tally> {
    let opts = DecodeOptions::default();
    // (partition, next offset, end offset)
    let mut positions: Vec<(i32, i64, i64)> = parts.iter().map(|&(p, e)| (p, 0, e)).collect();
    let mut tally = Tally::default();
    loop {
        let wanted: Vec<FetchPartition> = positions
            .iter()
            .filter(|(_, next, end)| next < end)
            .map(|&(partition, next, _)| FetchPartition {
                partition,
                current_leader_epoch: -1,
                fetch_offset: next,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: PARTITION_MAX_BYTES,
                ..FetchPartition::default()
            })
            .collect();
        if wanted.is_empty() {
            return Ok(tally);
        }
        let conn = client.connection(leader, Purpose::Fetch).await?;
        let topic = &topic;
        let resp = conn
            .send_with(|version| FetchRequest {
                replica_id: -1,
                max_wait_ms: MAX_WAIT_MS,
                min_bytes: 1,
                max_bytes: FETCH_MAX_BYTES,
                isolation_level: 0,
                session_id: 0,
                session_epoch: -1,
                topics: vec![FetchTopic {
                    topic: if version >= 13 {
                        String::new()
                    } else {
                        topic.clone()
                    },
                    topic_id: if version >= 13 {
                        topic_id
                    } else {
                        Uuid::default()
                    },
                    partitions: wanted,
                    ..FetchTopic::default()
                }],
                ..FetchRequest::default()
            })
            .await?;
        let code = ErrorCode::from_code(resp.error_code);
        if code.is_err() {
            return Err(BenchError::Other(format!("fetch failed: {code}")));
        }
        for t in resp.responses {
            for pd in t.partitions {
                let code = ErrorCode::from_code(pd.error_code);
                if code.is_err() {
                    return Err(BenchError::Other(format!(
                        "fetch partition {}: {code}",
                        pd.partition_index
                    )));
                }
                let Some(pos) = positions
                    .iter_mut()
                    .find(|(p, _, _)| *p == pd.partition_index)
                else {
                    continue;
                };
                let Some(data) = pd.records else { continue };
                for batch in batches(data, &opts) {
                    let batch = batch?;
                    if batch.next_offset() <= pos.1 {
                        continue;
                    }
                    match &batch {
                        DecodedBatch::V2(b) => {
                            for r in b.record_refs() {
                                let r = r?;
                                if r.offset >= pos.1 {
                                    tally.add(r.value);
                                }
                            }
                        }
                        other => {
                            for r in other.records() {
                                let r = r?;
                                if r.offset >= pos.1 {
                                    tally.add(r.value.as_deref());
                                }
                            }
                        }
                    }
                    pos.1 = batch.next_offset();
                }
            }
        }
    }
}
