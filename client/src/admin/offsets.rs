//! Partition-leader calls: listing offsets and deleting records.
//!
//! Each round routes the pending partitions to their leaders (from the metadata snapshot,
//! refreshed for topics it lacks), sends one request per leader concurrently, and sorts the
//! per-partition answers. Retriable partition errors (`NOT_LEADER_OR_FOLLOWER`,
//! `FENCED_LEADER_EPOCH`, `OFFSET_NOT_AVAILABLE`, ...) and failed leader connections retry in
//! the next round after a metadata refresh.

use std::collections::BTreeMap;
use std::future::Future;

use gregor_protocol::messages::delete_records::{DeleteRecordsPartition, DeleteRecordsTopic};
use gregor_protocol::messages::list_offsets::{self, ListOffsetsPartition, ListOffsetsTopic};
use gregor_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, ListOffsetsRequest, ListOffsetsResponse,
};
use gregor_protocol::{ApiKey, ErrorCode};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::rounds::{Outcome, by_topic, missing_from_response, route_to_leaders, run_rounds};
use super::{Admin, TopicPartition, remaining_ms, require_version};
use crate::cluster::BrokerId;
use crate::cluster_client::retry::{RetryAction, classify};
use crate::cluster_client::{Client, Purpose};
use crate::error::ClientError;

/// Which offset [`Admin::list_offsets`] looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The end of the log: the high watermark with `read_uncommitted`, the last stable offset
    /// with `read_committed`.
    Latest,
    /// The first offset whose record timestamp is at or after this one (milliseconds since
    /// the epoch).
    Timestamp(i64),
    /// The offset and timestamp of the record with the largest timestamp (KIP-734; needs
    /// ListOffsets v7, Kafka 3.0).
    MaxTimestamp,
}

impl OffsetSpec {
    /// The request's `timestamp` field.
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => list_offsets::EARLIEST_TIMESTAMP,
            OffsetSpec::Latest => list_offsets::LATEST_TIMESTAMP,
            OffsetSpec::Timestamp(ts) => ts,
            OffsetSpec::MaxTimestamp => list_offsets::MAX_TIMESTAMP,
        }
    }
}

/// Which records offsets are counted over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// Every record, including those of open transactions.
    #[default]
    ReadUncommitted,
    /// Records of committed transactions only: [`OffsetSpec::Latest`] is the last stable
    /// offset (needs ListOffsets v2).
    ReadCommitted,
}

/// An offset found by [`Admin::list_offsets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset; -1 when no record matches (a timestamp after every record's).
    pub offset: i64,
    /// The timestamp of the record at that offset, when the lookup was by timestamp.
    pub timestamp: Option<i64>,
    /// The leader epoch of that record (ListOffsets v4+).
    pub leader_epoch: Option<i32>,
}

/// The ListOffsets request for `partitions` (each with the leader epoch the metadata
/// knows, and what to look up) in `version`.
pub(crate) fn list_offsets_request(
    partitions: &[(TopicPartition, i32, OffsetSpec)],
    isolation: IsolationLevel,
    version: i16,
    timeout_ms: i32,
) -> Result<ListOffsetsRequest, ClientError> {
    let api = ApiKey::ListOffsets;
    if isolation == IsolationLevel::ReadCommitted {
        require_version(api, version, 2, "read_committed isolation")?;
    }
    if partitions
        .iter()
        .any(|(_, _, spec)| *spec == OffsetSpec::MaxTimestamp)
    {
        require_version(api, version, 7, "the max-timestamp offset")?;
    }
    let entries = partitions
        .iter()
        .map(|(tp, epoch, spec)| (tp.clone(), (*epoch, *spec)))
        .collect();
    let topics = by_topic(entries)
        .into_iter()
        .map(|(name, parts)| ListOffsetsTopic {
            name,
            partitions: parts
                .into_iter()
                .map(|(partition_index, (epoch, spec))| ListOffsetsPartition {
                    partition_index,
                    current_leader_epoch: if version >= 4 { epoch } else { -1 },
                    timestamp: spec.wire(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    Ok(ListOffsetsRequest {
        replica_id: -1,
        isolation_level: match isolation {
            IsolationLevel::ReadCommitted => list_offsets::READ_COMMITTED,
            IsolationLevel::ReadUncommitted => list_offsets::READ_UNCOMMITTED,
        },
        topics,
        timeout_ms: if version >= 10 { timeout_ms } else { 0 },
        ..Default::default()
    })
}

/// The per-partition outcomes of a ListOffsets response in `version`.
pub(crate) fn list_offsets_outcomes(
    response: &ListOffsetsResponse,
    version: i16,
) -> Vec<(TopicPartition, Outcome<ListedOffset>)> {
    response
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                let outcome = Outcome::from_code(
                    ApiKey::ListOffsets,
                    ErrorCode::from_code(p.error_code),
                    ErrorCode::is_retriable,
                    || ListedOffset {
                        offset: p.offset,
                        timestamp: (p.timestamp >= 0).then_some(p.timestamp),
                        leader_epoch: (version >= 4 && p.leader_epoch >= 0)
                            .then_some(p.leader_epoch),
                    },
                );
                (
                    TopicPartition::new(t.name.as_str(), p.partition_index),
                    outcome,
                )
            })
        })
        .collect()
}

/// The DeleteRecords request deleting below each partition's offset.
pub(crate) fn delete_records_request(
    partitions: &[(TopicPartition, i32, i64)],
    timeout_ms: i32,
) -> DeleteRecordsRequest {
    let entries = partitions
        .iter()
        .map(|(tp, _, offset)| (tp.clone(), *offset))
        .collect();
    DeleteRecordsRequest {
        topics: by_topic(entries)
            .into_iter()
            .map(|(name, parts)| DeleteRecordsTopic {
                name,
                partitions: parts
                    .into_iter()
                    .map(|(partition_index, offset)| DeleteRecordsPartition {
                        partition_index,
                        offset,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        timeout_ms,
        ..Default::default()
    }
}

/// The per-partition outcomes (new low watermarks) of a DeleteRecords response.
pub(crate) fn delete_records_outcomes(
    response: &DeleteRecordsResponse,
) -> Vec<(TopicPartition, Outcome<i64>)> {
    response
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                let outcome = Outcome::from_code(
                    ApiKey::DeleteRecords,
                    ErrorCode::from_code(p.error_code),
                    ErrorCode::is_retriable,
                    || p.low_watermark,
                );
                (
                    TopicPartition::new(t.name.as_str(), p.partition_index),
                    outcome,
                )
            })
        })
        .collect()
}

/// Partitions for one leader: each with its leader epoch and the call's argument.
type LeaderBatch<S> = Vec<(TopicPartition, i32, S)>;

/// Runs a partition-leader call in rounds: `per_leader` sends one request to one leader
/// and returns per-partition outcomes.
async fn leader_rounds<S, V, F, Fut>(
    client: &Client,
    api: ApiKey,
    deadline: Instant,
    items: Vec<(TopicPartition, S)>,
    per_leader: F,
) -> Result<BTreeMap<TopicPartition, Result<V, ErrorCode>>, ClientError>
where
    S: Copy + Send + 'static,
    V: Send + 'static,
    F: Fn(Client, BrokerId, LeaderBatch<S>) -> Fut,
    Fut: Future<Output = Result<Vec<(TopicPartition, Outcome<V>)>, ClientError>> + Send + 'static,
{
    let args: BTreeMap<TopicPartition, S> = items.into_iter().collect();
    let keys: Vec<TopicPartition> = args.keys().cloned().collect();
    run_rounds(client, api, deadline, keys, |pending| {
        let args = &args;
        let per_leader = &per_leader;
        async move {
            let (by_leader, mut outcomes) = route_to_leaders(client, pending).await?;
            let mut tasks = JoinSet::new();
            for (leader, partitions) in by_leader {
                let batch: LeaderBatch<S> = partitions
                    .into_iter()
                    .filter_map(|(tp, epoch)| Some((tp.clone(), epoch, *args.get(&tp)?)))
                    .collect();
                let sent: Vec<TopicPartition> = batch.iter().map(|(tp, _, _)| tp.clone()).collect();
                let request = per_leader(client.clone(), leader, batch);
                tasks.spawn(async move { (sent, request.await) });
            }
            while let Some(joined) = tasks.join_next().await {
                let (sent, result) = match joined {
                    Ok(done) => done,
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(_) => return Err(ClientError::Disconnected),
                };
                match result {
                    Ok(answered) => {
                        let missing = missing_from_response(api, sent, &answered);
                        outcomes.extend(answered);
                        outcomes.extend(missing);
                    }
                    Err(error) if classify(&error) == RetryAction::Fail => return Err(error),
                    Err(error) => {
                        outcomes.extend(
                            sent.into_iter()
                                .map(|tp| (tp, Outcome::Retry(error.clone()))),
                        );
                    }
                }
            }
            Ok(outcomes)
        }
    })
    .await
}

impl Admin {
    /// Looks up offsets: for each partition, the offset `spec` names. Requests go to each
    /// partition's leader, one request per broker. A partition's result is the offset or
    /// its error (`UNKNOWN_TOPIC_OR_PARTITION` for a topic or partition that does not exist,
    /// ...). [`OffsetSpec::MaxTimestamp`] and [`IsolationLevel::ReadCommitted`] fail the call
    /// with [`ClientError::FeatureNotSupported`] on brokers too old for them.
    #[tracing::instrument(level = "debug", skip_all, fields(partitions = partitions.len()))]
    pub async fn list_offsets(
        &self,
        partitions: &[(TopicPartition, OffsetSpec)],
        isolation: IsolationLevel,
    ) -> Result<BTreeMap<TopicPartition, Result<ListedOffset, ErrorCode>>, ClientError> {
        let deadline = self.deadline();
        leader_rounds(
            &self.client,
            ApiKey::ListOffsets,
            deadline,
            partitions.to_vec(),
            move |client, leader, batch| async move {
                let conn = client.connection(leader, Purpose::Control).await?;
                let version = conn.version_for::<ListOffsetsRequest>()?;
                let request =
                    list_offsets_request(&batch, isolation, version, remaining_ms(deadline))?;
                let response = conn.send_versioned(&request, version).await?;
                Ok(list_offsets_outcomes(&response, version))
            },
        )
        .await
    }

    /// Deletes the records of each partition below the offset given (-1: below the high
    /// watermark, so all of them). A partition's result is its new low watermark (log start
    /// offset) or its error (`OFFSET_OUT_OF_RANGE` for an offset past the high watermark,
    /// ...).
    #[tracing::instrument(level = "debug", skip_all, fields(partitions = before.len()))]
    pub async fn delete_records(
        &self,
        before: &[(TopicPartition, i64)],
    ) -> Result<BTreeMap<TopicPartition, Result<i64, ErrorCode>>, ClientError> {
        let deadline = self.deadline();
        leader_rounds(
            &self.client,
            ApiKey::DeleteRecords,
            deadline,
            before.to_vec(),
            move |client, leader, batch| async move {
                let conn = client.connection(leader, Purpose::Control).await?;
                let request = delete_records_request(&batch, remaining_ms(deadline));
                let response = conn.send(request).await?;
                Ok(delete_records_outcomes(&response))
            },
        )
        .await
    }
}

#[cfg(test)]
#[path = "offsets_tests.rs"]
mod tests;
