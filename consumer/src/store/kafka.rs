//! Offsets committed to Kafka under a group id, without joining the group (Spark's
//! `CanCommitOffsets.commitAsync`): [`KafkaCommits`].

use std::collections::BTreeMap;
use std::time::Duration;

/// What a group has committed for one partition, as [`KafkaCommits::load_committed`] returns
/// it: the offset, the leader epoch committed with it (if any) and its metadata string.
pub use gregor_client::admin::CommittedOffset;
use gregor_client::admin::FetchOffsetsOptions;
/// An offset to commit with its metadata string and, optionally, the leader epoch of the last
/// record consumed ([`KafkaCommits::commit_offsets`]).
pub use gregor_client::admin::OffsetAndMetadata;
use gregor_client::{Admin, Client, ClientError};
use gregor_protocol::ErrorCode;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::debug;

use super::PartitionOffsets;
use crate::range::{OffsetRange, TopicPartition, merge_until};

/// How long one [`KafkaCommits::commit`] or [`KafkaCommits::load`] keeps retrying by default.
pub const DEFAULT_COMMIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The first retry backoff of a commit; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest retry backoff of a commit.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Why a commit or a load of Kafka offsets failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// The request failed as a whole (connection, timeout, coordinator lookup, an
    /// unsupported feature) after the client's retries.
    #[error("offset request for group {group}: {source}")]
    Client {
        /// The group id.
        group: String,
        /// The client's error.
        #[source]
        source: ClientError,
    },
    /// The coordinator refused some partitions with a final error, or a retriable one that
    /// persisted until the timeout. Other partitions of the same call may have succeeded.
    #[error("group {group}: {}", describe(.partitions))]
    Rejected {
        /// The group id.
        group: String,
        /// Each refused partition with the error the coordinator gave.
        partitions: Vec<(TopicPartition, ErrorCode)>,
    },
}

fn describe(partitions: &[(TopicPartition, ErrorCode)]) -> String {
    let list: Vec<String> = partitions
        .iter()
        .map(|(tp, code)| format!("{tp}: {code}"))
        .collect();
    format!("offsets refused ({})", list.join(", "))
}

/// Offsets of a direct stream committed to Kafka under a group id. Share it behind an `Arc`;
/// calls on one handle are serialized.
///
/// [`KafkaCommits::commit`] takes the offset ranges of processed batches, merges them to the
/// highest `until` per partition ([`merge_until`]) and commits those with OffsetCommit,
/// generation -1 and an empty member id, through the group's coordinator. Commits are applied
/// in call order: an async mutex serializes them, so a commit starts only once the previous one
/// finished. A partition never moves backwards: the handle remembers the highest offset it
/// committed per partition and leaves out any partition whose merged `until` is not above it
/// (what other processes commit to the group is not known to the handle).
///
/// [`KafkaCommits::commit_offsets`] commits offsets given one by one, each with its metadata
/// string and the leader epoch of the last record consumed (what Java's
/// `OffsetAndMetadata` carries); [`KafkaCommits::load_committed`] reads them back whole, and
/// [`KafkaCommits::load`] reads just the offsets, in the form [`DirectStream::new`] takes.
///
/// Retriable errors are retried with a doubling backoff until the commit timeout: coordinator
/// errors (`COORDINATOR_LOAD_IN_PROGRESS`, `NOT_COORDINATOR`, ...) and lost connections by
/// [`Admin::commit_offsets`] itself, other retriable per-partition errors here. Final errors
/// are typed ([`CommitError`]); partitions committed before a failure stay committed.
///
/// A coordinator accepts commits from outside the group only while the group has no active
/// members: a group used by subscribed consumers answers `UNKNOWN_MEMBER_ID` or
/// `ILLEGAL_GENERATION` ([`CommitError::Rejected`]).
///
/// [`DirectStream::new`]: crate::direct::DirectStream::new
#[derive(Debug)]
pub struct KafkaCommits {
    admin: Admin,
    group_id: String,
    timeout: Duration,
    /// The highest offset committed per partition by this handle; the lock also serializes
    /// commits.
    committed: Mutex<BTreeMap<TopicPartition, i64>>,
}

impl KafkaCommits {
    /// Commits for `group_id` through `client`, each call retrying for at most
    /// [`DEFAULT_COMMIT_TIMEOUT`].
    pub fn new(client: Client, group_id: impl Into<String>) -> KafkaCommits {
        KafkaCommits {
            admin: Admin::new(client).with_timeout(DEFAULT_COMMIT_TIMEOUT),
            group_id: group_id.into(),
            timeout: DEFAULT_COMMIT_TIMEOUT,
            committed: Mutex::new(BTreeMap::new()),
        }
    }

    /// Bounds each call, its retries included, by `timeout`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> KafkaCommits {
        self.admin = self.admin.with_timeout(timeout);
        self.timeout = timeout;
        self
    }

    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The highest offset this handle committed for each partition.
    pub async fn committed(&self) -> BTreeMap<TopicPartition, i64> {
        self.committed.lock().await.clone()
    }

    /// Commits the merged highest `until` of `ranges` per partition (generation -1, no
    /// membership), after every earlier commit of this handle finished, leaving out
    /// partitions whose offset would not move forward, and retrying retriable errors.
    ///
    /// # Errors
    /// [`CommitError::Client`] if the request failed as a whole, [`CommitError::Rejected`]
    /// naming the partitions refused (the others are committed).
    pub async fn commit(&self, ranges: &[OffsetRange]) -> Result<(), CommitError> {
        let merged: Vec<(TopicPartition, OffsetAndMetadata)> = merge_until(ranges)
            .into_iter()
            .map(|(tp, until)| (tp, OffsetAndMetadata::new(until)))
            .collect();
        self.commit_offsets(&merged).await
    }

    /// Commits `offsets` as given, each with its metadata string and leader epoch (generation
    /// -1, no membership), with the rules of [`commit`](Self::commit): after every earlier
    /// commit of this handle finished, leaving out partitions whose offset would not move
    /// forward (not above the highest this handle committed), and retrying retriable errors.
    /// A partition listed more than once is committed at its last entry.
    ///
    /// A leader epoch needs OffsetCommit v6 (Kafka 2.1): older brokers fail the call with
    /// [`ClientError::FeatureNotSupported`] (as [`CommitError::Client`]).
    ///
    /// # Errors
    /// [`CommitError::Client`] if the request failed as a whole, [`CommitError::Rejected`]
    /// naming the partitions refused (the others are committed).
    pub async fn commit_offsets(
        &self,
        offsets: &[(TopicPartition, OffsetAndMetadata)],
    ) -> Result<(), CommitError> {
        let last: BTreeMap<&TopicPartition, &OffsetAndMetadata> =
            offsets.iter().map(|(tp, o)| (tp, o)).collect();
        let mut committed = self.committed.lock().await;
        let mut pending: Vec<(TopicPartition, OffsetAndMetadata)> = last
            .into_iter()
            .filter(|(tp, o)| committed.get(*tp).is_none_or(|done| o.offset > *done))
            .map(|(tp, o)| (tp.clone(), o.clone()))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + self.timeout;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let results = self
                .admin
                .commit_offsets(&self.group_id, &pending)
                .await
                .map_err(|source| self.client_error(source))?;
            let mut retry = Vec::new();
            let mut refused = Vec::new();
            for (tp, offset) in pending {
                match results.get(&tp) {
                    Some(Ok(())) => {
                        committed.insert(tp, offset.offset);
                    }
                    Some(Err(code)) if code.is_retriable() => retry.push((tp, offset, *code)),
                    Some(Err(code)) => refused.push((tp, *code)),
                    None => retry.push((tp, offset, ErrorCode::UnknownServerError)),
                }
            }
            if retry.is_empty() || Instant::now() + backoff >= deadline {
                refused.extend(retry.into_iter().map(|(tp, _, code)| (tp, code)));
                return if refused.is_empty() {
                    Ok(())
                } else {
                    Err(CommitError::Rejected {
                        group: self.group_id.clone(),
                        partitions: refused,
                    })
                };
            }
            debug!(group = %self.group_id, partitions = retry.len(), ?backoff, "retrying commit");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            pending = retry
                .into_iter()
                .map(|(tp, offset, _)| (tp, offset))
                .collect();
        }
    }

    /// The offsets the group has committed for `partitions`: the next offset to consume of
    /// each partition that has one (partitions without a committed offset are left out).
    ///
    /// # Errors
    /// [`CommitError::Client`] if the request failed, [`CommitError::Rejected`] for
    /// partitions the coordinator answered with an error.
    pub async fn load(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<PartitionOffsets, CommitError> {
        Ok(self
            .load_committed(partitions)
            .await?
            .into_iter()
            .map(|(tp, committed)| (tp, committed.offset))
            .collect())
    }

    /// What the group has committed for `partitions`, whole: each partition that has an
    /// offset maps to it with its leader epoch (`None` when none was committed, or the broker
    /// is older than OffsetFetch v5) and its metadata string (empty when none). Partitions
    /// without a committed offset are left out.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn load_committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, CommittedOffset>, CommitError> {
        if partitions.is_empty() {
            return Ok(BTreeMap::new());
        }
        let fetched = self
            .admin
            .fetch_offsets(
                &self.group_id,
                Some(partitions),
                FetchOffsetsOptions::default(),
            )
            .await
            .map_err(|source| self.client_error(source))?;
        let mut offsets = BTreeMap::new();
        let mut refused = Vec::new();
        for (tp, result) in fetched {
            match result {
                Ok(Some(committed)) => {
                    offsets.insert(tp, committed);
                }
                Ok(None) => {}
                Err(code) => refused.push((tp, code)),
            }
        }
        if refused.is_empty() {
            Ok(offsets)
        } else {
            Err(CommitError::Rejected {
                group: self.group_id.clone(),
                partitions: refused,
            })
        }
    }

    fn client_error(&self, source: ClientError) -> CommitError {
        CommitError::Client {
            group: self.group_id.clone(),
            source,
        }
    }
}
