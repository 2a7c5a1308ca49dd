//! The control API: what a test does to the cluster while clients are connected. Every call
//! takes the state lock once, changes the state, and wakes waiting fetches.

use std::ops::Range;

use gregor_protocol::records::BatchSpec;
use gregor_protocol::{ApiKey, ErrorCode};

use super::cluster::MockCluster;
use super::intercept::{Intercept, InterceptId};
use super::log::{AppendRules, MaintainError};
use super::record::{MockRecord, encode_records, wall_clock_ms};
use super::state::{ClusterState, PartitionState};

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No broker has this id.
    #[error("no broker {0}")]
    UnknownBroker(i32),
    /// No such topic or partition.
    #[error("no partition {topic}-{partition}")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// The cluster refused it with a Kafka error code (as it would a client request).
    #[error("{code}: {message}")]
    Refused {
        /// The error code.
        code: ErrorCode,
        /// Why.
        message: String,
    },
    /// A log operation was refused.
    #[error(transparent)]
    Log(#[from] MaintainError),
    /// A listener could not be bound again.
    #[error("binding the listener: {0}")]
    Io(std::io::Error),
}

/// A partition's leadership and offsets, as the cluster holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The leader's broker id.
    pub leader: i32,
    /// The leader epoch.
    pub leader_epoch: i32,
    /// The log start offset.
    pub log_start_offset: i64,
    /// The high watermark (the log end offset).
    pub high_watermark: i64,
    /// The last stable offset.
    pub last_stable_offset: i64,
}

/// A transaction opened with [`MockCluster::open_transaction`], not yet committed or aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTransaction {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The producer id the transaction was written with.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The offsets of its records.
    pub offsets: Range<i64>,
}

/// Where a truncation left a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// The new log end offset.
    pub end_offset: i64,
    /// The new leader epoch.
    pub leader_epoch: i32,
}

fn unknown(topic: &str, partition: i32) -> ControlError {
    ControlError::UnknownPartition {
        topic: topic.to_owned(),
        partition,
    }
}

fn part<'a>(
    st: &'a mut ClusterState,
    topic: &str,
    partition: i32,
) -> Result<&'a mut PartitionState, ControlError> {
    st.partition_mut(topic, partition)
        .ok_or_else(|| unknown(topic, partition))
}

/// Appends `records` as one batch with `spec`, as a client produce to the leader would.
fn append(
    st: &mut ClusterState,
    topic: &str,
    partition: i32,
    spec: &BatchSpec,
    records: &[MockRecord],
) -> Result<Range<i64>, ControlError> {
    let batch = encode_records(spec, records).map_err(|e| ControlError::Refused {
        code: ErrorCode::InvalidRecord,
        message: e.to_string(),
    })?;
    let p = part(st, topic, partition)?;
    let rules = AppendRules {
        leader_epoch: p.leader_epoch,
        max_message_bytes: usize::MAX,
        allow_zstd: true,
    };
    let info = p
        .log
        .append_client(&batch, &rules)
        .map_err(|e| ControlError::Refused {
            code: e.code,
            message: e.message,
        })?;
    Ok(info.base_offset..info.last_offset + 1)
}

impl MockCluster {
    /// Runs `f` on the state under the lock, then delivers what the group coordinator
    /// completed and wakes waiting fetches if it changed anything.
    pub(crate) async fn with_state<T>(
        &self,
        f: impl FnOnce(&mut ClusterState, std::time::Instant) -> T,
    ) -> T {
        let mut st = self.inner.state.lock().await;
        let now = self.now();
        let before = st.change_seq;
        let out = f(&mut st, now);
        st.touch();
        self.inner.groups.pump(&mut st, now);
        self.inner.publish(&st, before);
        out
    }

    /// Installs an interception rule for `key`; see [`Intercept`].
    pub async fn intercept(&self, key: ApiKey, rule: Intercept) -> InterceptId {
        self.inner.state.lock().await.intercepts.add(key, rule)
    }

    /// Removes a rule; false if it was not installed or already used up.
    pub async fn remove_intercept(&self, id: InterceptId) -> bool {
        self.inner.state.lock().await.intercepts.remove(id)
    }

    /// How many requests rule `id` matched.
    pub async fn intercept_hits(&self, id: InterceptId) -> u64 {
        self.inner.state.lock().await.intercepts.hits(id)
    }

    /// How many requests of `key` the cluster received (whose header decoded).
    pub async fn request_count(&self, key: ApiKey) -> u64 {
        self.inner.state.lock().await.intercepts.count(key)
    }

    /// Creates a topic with the default replication factor.
    pub async fn create_topic(&self, name: &str, partitions: i32) -> Result<(), ControlError> {
        self.with_state(|st, _| {
            st.create_topic(name, partitions, -1, &[])
                .map(|_| ())
                .map_err(|(code, message)| ControlError::Refused { code, message })
        })
        .await
    }

    /// Deletes a topic.
    pub async fn delete_topic(&self, name: &str) -> Result<(), ControlError> {
        self.with_state(|st, _| {
            st.delete_topic(name)
                .map(|_| ())
                .ok_or_else(|| unknown(name, -1))
        })
        .await
    }

    /// A partition's leadership and offsets.
    pub async fn partition_info(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<PartitionInfo, ControlError> {
        let st = self.inner.state.lock().await;
        let p = st
            .partition(topic, partition)
            .ok_or_else(|| unknown(topic, partition))?;
        Ok(PartitionInfo {
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            log_start_offset: p.log.log_start_offset(),
            high_watermark: p.log.high_watermark(),
            last_stable_offset: p.log.last_stable_offset(),
        })
    }

    /// Makes `broker` the partition's leader with the next leader epoch. Returns the epoch.
    /// Requests to the old leader then get `NOT_LEADER_OR_FOLLOWER`, and ones naming the old
    /// epoch `FENCED_LEADER_EPOCH`.
    pub async fn move_leader(
        &self,
        topic: &str,
        partition: i32,
        broker: i32,
    ) -> Result<i32, ControlError> {
        self.with_state(|st, _| {
            if st.broker(broker).is_none() {
                return Err(ControlError::UnknownBroker(broker));
            }
            st.move_leader(topic, partition, broker)
                .ok_or_else(|| unknown(topic, partition))
        })
        .await
    }

    /// Bumps the partition's leader epoch, keeping its leader. Returns the epoch.
    pub async fn bump_leader_epoch(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<i32, ControlError> {
        self.with_state(|st, _| {
            st.bump_leader_epoch(topic, partition)
                .ok_or_else(|| unknown(topic, partition))
        })
        .await
    }

    /// Appends `records` as one plain batch, as a producer with `acks=all` would; returns their
    /// offsets. Timestamps default to the wall clock.
    pub async fn produce(
        &self,
        topic: &str,
        partition: i32,
        records: &[MockRecord],
    ) -> Result<Range<i64>, ControlError> {
        self.with_state(|st, _| append(st, topic, partition, &BatchSpec::default(), records))
            .await
    }

    /// Opens a transaction: appends `records` as a transactional batch of a new producer id.
    /// The last stable offset stays at its first offset until
    /// [`end_transaction`](Self::end_transaction).
    pub async fn open_transaction(
        &self,
        topic: &str,
        partition: i32,
        records: &[MockRecord],
    ) -> Result<OpenTransaction, ControlError> {
        self.with_state(|st, _| {
            let (producer_id, producer_epoch) = st.init_producer_id(None);
            let spec = BatchSpec {
                producer_id,
                producer_epoch,
                base_sequence: 0,
                transactional: true,
                ..BatchSpec::default()
            };
            let offsets = append(st, topic, partition, &spec, records)?;
            Ok(OpenTransaction {
                topic: topic.to_owned(),
                partition,
                producer_id,
                producer_epoch,
                offsets,
            })
        })
        .await
    }

    /// Commits or aborts an open transaction by writing its marker; returns the marker's offset.
    pub async fn end_transaction(
        &self,
        txn: &OpenTransaction,
        commit: bool,
    ) -> Result<i64, ControlError> {
        self.with_state(|st, _| {
            let p = part(st, &txn.topic, txn.partition)?;
            let epoch = p.leader_epoch;
            p.log
                .append_marker(
                    txn.producer_id,
                    txn.producer_epoch,
                    commit,
                    epoch,
                    wall_clock_ms(),
                )
                .map_err(|e| ControlError::Refused {
                    code: e.code,
                    message: e.message,
                })
        })
        .await
    }

    /// Appends `records` as a transaction of a new producer id followed by its commit
    /// (`commit`) or abort marker; returns the records' offsets.
    pub async fn produce_transaction(
        &self,
        topic: &str,
        partition: i32,
        records: &[MockRecord],
        commit: bool,
    ) -> Result<Range<i64>, ControlError> {
        let txn = self.open_transaction(topic, partition, records).await?;
        self.end_transaction(&txn, commit).await?;
        Ok(txn.offsets)
    }

    /// Compacts the whole partition as Kafka's cleaner would: of the records sharing a key only
    /// the latest stays, leaving offset gaps; records without a key and transaction markers stay.
    /// Batches that lose records are re-encoded (same base offset, last offset delta, producer
    /// fields, epoch and codec): the one place the mock rewrites records. A batch left empty is
    /// dropped, unless it has a producer id (kept empty for its sequence state). Returns how many
    /// records were removed.
    pub async fn compact(&self, topic: &str, partition: i32) -> Result<usize, ControlError> {
        self.with_state(|st, _| Ok(part(st, topic, partition)?.log.compact()?))
            .await
    }

    /// Holds the partition's high watermark at `offset` (clamped to the log) until called with
    /// `None`, as a newly elected Kafka leader shows one below the old leader's until its
    /// followers fetch again; the records stay in the log, and fetches and ListOffsets see the
    /// held value.
    pub async fn hold_high_watermark(
        &self,
        topic: &str,
        partition: i32,
        offset: Option<i64>,
    ) -> Result<(), ControlError> {
        self.with_state(|st, _| {
            part(st, topic, partition)?.log.hold_high_watermark(offset);
            Ok(())
        })
        .await
    }

    /// Deletes the records below `offset` (DeleteRecords); returns the new log start offset.
    pub async fn delete_records(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<i64, ControlError> {
        self.with_state(|st, _| Ok(part(st, topic, partition)?.log.delete_records(offset)?))
            .await
    }

    /// Truncates the partition's log at `offset` (a batch holding it goes whole) and starts a
    /// new leader epoch at the new end, as a new leader that lacked those records would: a
    /// consumer that fetched past the new end gets a diverging epoch (v12+) and the new epoch's
    /// records from then on.
    pub async fn truncate(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<Truncated, ControlError> {
        self.with_state(|st, _| {
            let end_offset = part(st, topic, partition)?.log.truncate(offset)?;
            let leader_epoch = st
                .bump_leader_epoch(topic, partition)
                .ok_or_else(|| unknown(topic, partition))?;
            Ok(Truncated {
                end_offset,
                leader_epoch,
            })
        })
        .await
    }
}
