//! Offset stores for the direct stream.
//!
//! A batch of the direct stream covers, per partition, the half-open range
//! `[start, end)`. After the batch has been processed the caller records the
//! batch ends with [`OffsetStore::save`], which is a **compare-and-set**: it
//! succeeds only if every partition's stored end equals the batch start the
//! caller believes it is continuing from. A batch that is replayed (stored end
//! already past the start) or one that would skip records (stored end before
//! the start) is refused with [`StoreError::Conflict`] and nothing is written.
//!
//! The first batch of a partition is explicit: the caller says
//! [`BatchStart::First`], which is accepted only when the store holds nothing
//! for that partition. Continuing batches say [`BatchStart::Continue`], which
//! is accepted only when the store holds exactly that offset. So a wiped or
//! misplaced store is never mistaken for a fresh start, and a fresh start is
//! never silently applied over existing progress.
//!
//! Stored offsets never move backwards: a batch whose end is before its start
//! is refused with [`StoreError::Backwards`].
//!
//! Implementations: [`MemoryOffsetStore`] (reference semantics, used by tests)
//! and [`CheckpointFile`] (an atomically replaced, versioned JSON file). [`KafkaCommits`]
//! commits a group's offsets to Kafka instead (Spark's `CanCommitOffsets`); it is not an
//! [`OffsetStore`]: Kafka has no compare-and-set of offsets.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod checkpoint;
mod kafka;
mod memory;

use std::collections::BTreeMap;
use std::path::PathBuf;

use gregor_protocol::TopicPartition;

pub use checkpoint::{CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointFile};
pub use kafka::{
    CommitError, CommittedOffset, DEFAULT_COMMIT_TIMEOUT, KafkaCommits, OffsetAndMetadata,
};
pub use memory::MemoryOffsetStore;

/// Offsets per partition. For stored offsets this is the *next* offset to
/// consume (the exclusive end of the last committed batch).
pub type PartitionOffsets = BTreeMap<TopicPartition, i64>;

/// The start of a batch for one partition, as the caller expects to find it in
/// the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchStart {
    /// The first batch ever committed for this partition, starting at the given
    /// offset. Accepted only if the store holds no offset for the partition.
    First(i64),
    /// A batch continuing from the previous one: accepted only if the stored
    /// end equals this offset.
    Continue(i64),
}

impl BatchStart {
    /// The batch's inclusive start offset.
    pub fn offset(self) -> i64 {
        match self {
            BatchStart::First(o) | BatchStart::Continue(o) => o,
        }
    }
}

/// Batch starts per partition: the `expected_start` argument of
/// [`OffsetStore::save`].
pub type BatchStarts = BTreeMap<TopicPartition, BatchStart>;

/// What a store holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredOffsets {
    /// The next offset to consume per partition.
    pub offsets: PartitionOffsets,
    /// When the offsets were written, in milliseconds since the Unix epoch, if
    /// the store records it.
    pub written_at_ms: Option<u64>,
}

/// Errors of an [`OffsetStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The stored end of a partition is not the batch start the caller
    /// expected: the batch is a repeat, skips records, or claims to be a first
    /// batch for a partition that already has progress. Nothing was written.
    #[error(
        "offset conflict for {topic}/{partition}: stored {stored:?}, batch expected {expected} ({})",
        if *first { "first batch" } else { "continuing batch" }
    )]
    Conflict {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The stored end, `None` if the partition was never stored.
        stored: Option<i64>,
        /// The batch start the caller expected to continue from.
        expected: i64,
        /// Whether the caller marked the batch as the partition's first.
        first: bool,
    },
    /// The batch end is before the batch start: offsets never move backwards.
    #[error("offsets of {topic}/{partition} would move backwards: {from} -> {to}")]
    Backwards {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The batch start.
        from: i64,
        /// The refused batch end.
        to: i64,
    },
    /// A negative offset was given.
    #[error("negative offset {offset} for {topic}/{partition}")]
    NegativeOffset {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The offending offset.
        offset: i64,
    },
    /// `expected_start` and `new_end` do not cover the same partitions.
    #[error("partition {topic}/{partition} is in only one of the batch starts and ends")]
    PartitionMismatch {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// An I/O error on a file-backed store.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint file exists but is not a valid checkpoint (truncated,
    /// corrupt, wrong format tag, duplicate or invalid entries). It is never
    /// treated as empty.
    #[error("corrupt checkpoint {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint was written in a format version this reader does not
    /// understand.
    #[error("checkpoint {path} has unsupported version {found} (supported: {supported})")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u64,
        /// The version this reader supports.
        supported: u64,
    },
    /// A lock guarding the store was poisoned by a panicking thread.
    #[error("offset store lock poisoned")]
    Poisoned,
}

/// Where the offsets of a direct stream live.
pub trait OffsetStore {
    /// Loads the stored offsets; `None` if nothing was ever stored.
    fn load(&self) -> Result<Option<StoredOffsets>, StoreError>;

    /// Records `new_end` as the next offsets to consume, compare-and-set
    /// against `expected_start`.
    ///
    /// Both maps must cover the same partitions. For each partition the save
    /// is accepted only if the stored end matches the [`BatchStart`] (see its
    /// variants) and `new_end >= start`. Either all partitions are updated or
    /// none; partitions not in the batch keep their stored offsets. An empty
    /// batch is a no-op.
    fn save(
        &self,
        expected_start: &BatchStarts,
        new_end: &PartitionOffsets,
    ) -> Result<(), StoreError>;
}

/// Checks a compare-and-set against `stored` and returns the merged offsets
/// to write. Shared by every store so that they behave identically.
pub(crate) fn apply_batch(
    stored: Option<&PartitionOffsets>,
    expected_start: &BatchStarts,
    new_end: &PartitionOffsets,
) -> Result<PartitionOffsets, StoreError> {
    for tp in new_end.keys() {
        if !expected_start.contains_key(tp) {
            return Err(StoreError::PartitionMismatch {
                topic: tp.topic.to_string(),
                partition: tp.partition,
            });
        }
    }
    let mut merged = stored.cloned().unwrap_or_default();
    for (tp, start) in expected_start {
        let topic = || tp.topic.to_string();
        let partition = tp.partition;
        let Some(&end) = new_end.get(tp) else {
            return Err(StoreError::PartitionMismatch {
                topic: topic(),
                partition,
            });
        };
        let from = start.offset();
        for offset in [from, end] {
            if offset < 0 {
                return Err(StoreError::NegativeOffset {
                    topic: topic(),
                    partition,
                    offset,
                });
            }
        }
        let current = stored.and_then(|s| s.get(tp)).copied();
        let ok = match start {
            BatchStart::First(_) => current.is_none(),
            BatchStart::Continue(s) => current == Some(*s),
        };
        if !ok {
            return Err(StoreError::Conflict {
                topic: topic(),
                partition,
                stored: current,
                expected: from,
                first: matches!(start, BatchStart::First(_)),
            });
        }
        if end < from {
            return Err(StoreError::Backwards {
                topic: topic(),
                partition,
                from,
                to: end,
            });
        }
        merged.insert(tp.clone(), end);
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    #[test]
    fn first_then_continue() {
        let starts = BatchStarts::from([(k(0), BatchStart::First(5))]);
        let ends = PartitionOffsets::from([(k(0), 9)]);
        let m = apply_batch(None, &starts, &ends).unwrap();
        assert_eq!(m[&k(0)], 9);
        let starts = BatchStarts::from([(k(0), BatchStart::Continue(9))]);
        let ends = PartitionOffsets::from([(k(0), 9)]);
        assert_eq!(apply_batch(Some(&m), &starts, &ends).unwrap(), m);
    }

    #[test]
    fn mismatched_keys_refused() {
        let starts = BatchStarts::from([(k(0), BatchStart::First(0))]);
        let ends = PartitionOffsets::from([(k(1), 1)]);
        assert!(matches!(
            apply_batch(None, &starts, &ends),
            Err(StoreError::PartitionMismatch { partition: 1, .. })
        ));
        let ends = PartitionOffsets::new();
        assert!(matches!(
            apply_batch(None, &starts, &ends),
            Err(StoreError::PartitionMismatch { partition: 0, .. })
        ));
    }

    #[test]
    fn negative_refused() {
        let starts = BatchStarts::from([(k(0), BatchStart::First(-1))]);
        let ends = PartitionOffsets::from([(k(0), 1)]);
        assert!(matches!(
            apply_batch(None, &starts, &ends),
            Err(StoreError::NegativeOffset { offset: -1, .. })
        ));
    }
}
