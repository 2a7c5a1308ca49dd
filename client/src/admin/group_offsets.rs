//! A group's committed offsets: committing without joining the group, and fetching them.
//!
//! Both go to the group's coordinator. A commit from outside the group carries generation -1
//! and an empty member id, which the coordinator accepts only while the group has no active
//! members (else `UNKNOWN_MEMBER_ID` or `ILLEGAL_GENERATION` for each partition). Coordinator
//! errors (`NOT_COORDINATOR`, `COORDINATOR_NOT_AVAILABLE`, `COORDINATOR_LOAD_IN_PROGRESS`) and
//! lost coordinator connections forget the cached coordinator and retry; other per-partition
//! errors are final.

use std::collections::BTreeMap;

use gregor_protocol::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use gregor_protocol::messages::offset_fetch::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use gregor_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};
use gregor_protocol::{ApiKey, ErrorCode};

use super::rounds::{Outcome, by_topic, missing_from_response, run_rounds};
use super::{Admin, TopicPartition, require_version};
use crate::cluster_client::{Client, CoordinatorKind, Purpose};
use crate::connection::Connection;
use crate::error::ClientError;

/// An offset to commit, with its optional metadata string and leader epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The offset of the next record to consume.
    pub offset: i64,
    /// Free-form metadata stored with the offset (empty: none).
    pub metadata: String,
    /// The leader epoch of the last consumed record (OffsetCommit v6+), if known.
    pub leader_epoch: Option<i32>,
}

impl OffsetAndMetadata {
    /// An offset without metadata or leader epoch.
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata {
            offset,
            metadata: String::new(),
            leader_epoch: None,
        }
    }

    /// With a metadata string.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = metadata.into();
        self
    }

    /// With the leader epoch of the last consumed record.
    pub fn with_leader_epoch(mut self, epoch: i32) -> Self {
        self.leader_epoch = Some(epoch);
        self
    }
}

/// A committed offset as [`Admin::fetch_offsets`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The committed offset.
    pub offset: i64,
    /// The committed leader epoch (OffsetFetch v5+), if one was committed.
    pub leader_epoch: Option<i32>,
    /// The metadata string committed with it (empty: none).
    pub metadata: String,
}

/// Who commits, for a commit the coordinator fences: a member of the group commits with its
/// generation (classic protocol) or member epoch (KIP-848) and member id, and the coordinator
/// refuses it (`ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`, `STALE_MEMBER_EPOCH`,
/// `FENCED_INSTANCE_ID`, `REBALANCE_IN_PROGRESS`) when that member no longer owns the group's
/// current generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitFencing {
    /// The generation id (classic) or member epoch (consumer protocol).
    pub generation_or_epoch: i32,
    /// The member id.
    pub member_id: String,
    /// The static member's `group.instance.id`.
    pub instance_id: Option<String>,
}

/// Options of [`Admin::fetch_offsets`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchOffsetsOptions {
    /// Wait for pending transactional commits to settle (KIP-447; needs OffsetFetch v7):
    /// partitions with one answer `UNSTABLE_OFFSET_COMMIT`, retried until the deadline.
    pub require_stable: bool,
}

impl FetchOffsetsOptions {
    /// Requires stable offsets (or not).
    pub fn require_stable(mut self, require: bool) -> Self {
        self.require_stable = require;
        self
    }
}

/// The OffsetCommit request committing `offsets` for `group_id` from outside the group.
pub(crate) fn commit_request(
    group_id: &str,
    fencing: Option<&CommitFencing>,
    offsets: &[(TopicPartition, OffsetAndMetadata)],
    version: i16,
) -> Result<OffsetCommitRequest, ClientError> {
    if offsets.iter().any(|(_, o)| o.leader_epoch.is_some()) {
        require_version(
            ApiKey::OffsetCommit,
            version,
            6,
            "committing a leader epoch",
        )?;
    }
    let topics = by_topic(offsets.to_vec())
        .into_iter()
        .map(|(name, parts)| OffsetCommitRequestTopic {
            name,
            partitions: parts
                .into_iter()
                .map(|(partition_index, o)| OffsetCommitRequestPartition {
                    partition_index,
                    committed_offset: o.offset,
                    committed_leader_epoch: o.leader_epoch.unwrap_or(-1),
                    committed_metadata: Some(o.metadata),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    Ok(OffsetCommitRequest {
        group_id: group_id.to_owned(),
        generation_id_or_member_epoch: fencing.map_or(-1, |f| f.generation_or_epoch),
        member_id: fencing.map(|f| f.member_id.clone()).unwrap_or_default(),
        group_instance_id: fencing.and_then(|f| f.instance_id.clone()),
        retention_time_ms: -1,
        topics,
        ..Default::default()
    })
}

/// The per-partition outcomes of an OffsetCommit response; coordinator errors retry.
pub(crate) fn commit_outcomes(
    response: &OffsetCommitResponse,
) -> Vec<(TopicPartition, Outcome<()>)> {
    response
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                let outcome = Outcome::from_code(
                    ApiKey::OffsetCommit,
                    ErrorCode::from_code(p.error_code),
                    ErrorCode::is_coordinator_error,
                    || (),
                );
                (
                    TopicPartition::new(t.name.as_str(), p.partition_index),
                    outcome,
                )
            })
        })
        .collect()
}

/// The OffsetFetch request for `group_id`'s offsets of `partitions` (`None`: all).
pub(crate) fn fetch_request(
    group_id: &str,
    partitions: Option<&[TopicPartition]>,
    require_stable: bool,
    version: i16,
) -> Result<OffsetFetchRequest, ClientError> {
    let api = ApiKey::OffsetFetch;
    if partitions.is_none() {
        require_version(api, version, 2, "fetching all of a group's offsets")?;
    }
    if require_stable {
        require_version(api, version, 7, "require_stable")?;
    }
    let grouped = partitions.map(|ps| by_topic(ps.iter().map(|tp| (tp.clone(), ())).collect()));
    let indexes = |parts: Vec<(i32, ())>| parts.into_iter().map(|(p, ())| p).collect();
    let mut request = OffsetFetchRequest {
        require_stable,
        ..Default::default()
    };
    if version >= 8 {
        request.groups = vec![OffsetFetchRequestGroup {
            group_id: group_id.to_owned(),
            member_id: None,
            member_epoch: -1,
            topics: grouped.map(|ts| {
                ts.into_iter()
                    .map(|(name, parts)| OffsetFetchRequestTopics {
                        name,
                        partition_indexes: indexes(parts),
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        }];
    } else {
        request.group_id = group_id.to_owned();
        request.topics = grouped.map(|ts| {
            ts.into_iter()
                .map(|(name, parts)| OffsetFetchRequestTopic {
                    name,
                    partition_indexes: indexes(parts),
                    ..Default::default()
                })
                .collect()
        });
    }
    Ok(request)
}

/// One partition's committed offset, or `None` when nothing is committed.
type Fetched = BTreeMap<TopicPartition, Result<Option<CommittedOffset>, ErrorCode>>;

/// One partition of an OffsetFetch answer, from either layout.
struct FetchedRow<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: Option<&'a String>,
    error: i16,
}

/// The committed offsets in an OffsetFetch response in `version`. A group-level error, or a
/// partition error that calls for retrying the request (coordinator errors,
/// `UNSTABLE_OFFSET_COMMIT`), is returned as [`ClientError::Broker`].
pub(crate) fn fetched_offsets(
    response: &OffsetFetchResponse,
    group_id: &str,
    version: i16,
) -> Result<Fetched, ClientError> {
    let fail = |code| ClientError::Broker {
        api: ApiKey::OffsetFetch,
        code,
    };
    let mut rows: Vec<FetchedRow<'_>> = Vec::new();
    if version >= 8 {
        let group = response
            .groups
            .iter()
            .find(|g| g.group_id == group_id)
            .ok_or(fail(ErrorCode::UnknownServerError))?;
        let code = ErrorCode::from_code(group.error_code);
        if code.is_err() {
            return Err(fail(code));
        }
        for t in &group.topics {
            rows.extend(t.partitions.iter().map(|p| FetchedRow {
                topic: &t.name,
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p.metadata.as_ref(),
                error: p.error_code,
            }));
        }
    } else {
        let code = ErrorCode::from_code(response.error_code);
        if code.is_err() {
            return Err(fail(code));
        }
        for t in &response.topics {
            rows.extend(t.partitions.iter().map(|p| FetchedRow {
                topic: &t.name,
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 5 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: p.metadata.as_ref(),
                error: p.error_code,
            }));
        }
    }
    let mut offsets = Fetched::new();
    for row in rows {
        let code = ErrorCode::from_code(row.error);
        if code.is_coordinator_error() || code == ErrorCode::UnstableOffsetCommit {
            return Err(fail(code));
        }
        let result = if code.is_err() {
            Err(code)
        } else if row.offset < 0 {
            Ok(None)
        } else {
            Ok(Some(CommittedOffset {
                offset: row.offset,
                leader_epoch: (row.leader_epoch >= 0).then_some(row.leader_epoch),
                metadata: row.metadata.cloned().unwrap_or_default(),
            }))
        };
        offsets.insert(TopicPartition::new(row.topic, row.partition), result);
    }
    Ok(offsets)
}

/// A control connection to `group_id`'s coordinator. A failed connection forgets the
/// coordinator, so the retry looks it up again.
async fn coordinator_connection(
    client: &Client,
    group_id: &str,
) -> Result<Connection, ClientError> {
    let id = client.coordinator(CoordinatorKind::Group, group_id).await?;
    client
        .connection(id, Purpose::Control)
        .await
        .inspect_err(|_| client.forget_coordinator(CoordinatorKind::Group, group_id))
}

/// Forgets the coordinator of `group_id` after errors that mean it moved or failed.
fn forget_on_coordinator_error(client: &Client, group_id: &str, error: &ClientError) {
    let moved = match error {
        ClientError::Broker { code, .. } => code.is_stale_coordinator(),
        e => e.is_connection_error(),
    };
    if moved {
        client.forget_coordinator(CoordinatorKind::Group, group_id);
    }
}

impl Admin {
    /// Commits offsets for `group_id` without joining it (generation -1, empty member id), as
    /// tools that reset a group's offsets do; the group must have no active members. Each
    /// partition's result is `Ok(())` or its error (`UNKNOWN_TOPIC_OR_PARTITION`,
    /// `UNKNOWN_MEMBER_ID` while the group has members, `OFFSET_METADATA_TOO_LARGE`, ...).
    /// Leader epochs need OffsetCommit v6 ([`ClientError::FeatureNotSupported`] before).
    #[tracing::instrument(level = "debug", skip_all, fields(group = group_id, partitions = offsets.len()))]
    pub async fn commit_offsets(
        &self,
        group_id: &str,
        offsets: &[(TopicPartition, OffsetAndMetadata)],
    ) -> Result<BTreeMap<TopicPartition, Result<(), ErrorCode>>, ClientError> {
        self.commit_offsets_with(group_id, None, offsets).await
    }

    /// Commits offsets as a member of `group_id` ([`CommitFencing`]): the coordinator accepts
    /// them only from the member of its current generation (or epoch). Refusals are per
    /// partition, as with [`commit_offsets`](Self::commit_offsets); they are final (not
    /// retried), since only a rejoin can change the member's generation.
    #[tracing::instrument(level = "debug", skip_all, fields(group = group_id, partitions = offsets.len()))]
    pub async fn commit_offsets_fenced(
        &self,
        group_id: &str,
        fencing: &CommitFencing,
        offsets: &[(TopicPartition, OffsetAndMetadata)],
    ) -> Result<BTreeMap<TopicPartition, Result<(), ErrorCode>>, ClientError> {
        self.commit_offsets_with(group_id, Some(fencing), offsets)
            .await
    }

    async fn commit_offsets_with(
        &self,
        group_id: &str,
        fencing: Option<&CommitFencing>,
        offsets: &[(TopicPartition, OffsetAndMetadata)],
    ) -> Result<BTreeMap<TopicPartition, Result<(), ErrorCode>>, ClientError> {
        let client = &self.client;
        let keys: Vec<TopicPartition> = offsets.iter().map(|(tp, _)| tp.clone()).collect();
        run_rounds(
            client,
            ApiKey::OffsetCommit,
            self.deadline(),
            keys,
            |pending| async move {
                let batch: Vec<(TopicPartition, OffsetAndMetadata)> = offsets
                    .iter()
                    .filter(|(tp, _)| pending.contains(tp))
                    .cloned()
                    .collect();
                let answer = async {
                    let conn = coordinator_connection(client, group_id).await?;
                    let version = conn.version_for::<OffsetCommitRequest>()?;
                    let request = commit_request(group_id, fencing, &batch, version)?;
                    conn.send_versioned(&request, version).await
                }
                .await;
                let response =
                    answer.inspect_err(|e| forget_on_coordinator_error(client, group_id, e))?;
                let mut outcomes = commit_outcomes(&response);
                if outcomes.iter().any(|(_, o)| matches!(o, Outcome::Retry(_))) {
                    client.forget_coordinator(CoordinatorKind::Group, group_id);
                }
                let missing = missing_from_response(ApiKey::OffsetCommit, pending, &outcomes);
                outcomes.extend(missing);
                Ok(outcomes)
            },
        )
        .await
    }

    /// The offsets `group_id` has committed for `partitions` (`None`: every partition it has
    /// an offset for; needs OffsetFetch v2). A partition without a committed offset maps to
    /// `Ok(None)`.
    #[tracing::instrument(level = "debug", skip_all, fields(group = group_id))]
    pub async fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[TopicPartition]>,
        options: FetchOffsetsOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<Option<CommittedOffset>, ErrorCode>>, ClientError>
    {
        let client = &self.client;
        client
            .retry_until(ApiKey::OffsetFetch, self.deadline(), || async {
                let answer = async {
                    let conn = coordinator_connection(client, group_id).await?;
                    let version = conn.version_for::<OffsetFetchRequest>()?;
                    let request =
                        fetch_request(group_id, partitions, options.require_stable, version)?;
                    let response = conn.send_versioned(&request, version).await?;
                    fetched_offsets(&response, group_id, version)
                }
                .await;
                answer.inspect_err(|e| forget_on_coordinator_error(client, group_id, e))
            })
            .await
    }
}

#[cfg(test)]
#[path = "group_offsets_tests.rs"]
mod tests;
