//! Errors of the direct stream.

use gregor_client::ClientError;
use gregor_protocol::ErrorCode;

use crate::direct::rate::{PlanError, RateError};
use crate::range::{RangeError, TopicPartition};

/// Why a direct stream could not start or plan a batch.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The rate limits, the batch interval or the backpressure settings are invalid.
    #[error("invalid stream configuration: {0}")]
    Config(#[from] RateError),
    /// The subscription pattern cannot be anchored to match whole topic names.
    #[error("invalid topic pattern: {0}")]
    Pattern(#[from] regex::Error),
    /// Assigned partitions that the cluster does not have.
    #[error("assigned partitions do not exist: {}", list(.partitions))]
    UnknownPartitions {
        /// The missing partitions.
        partitions: Vec<TopicPartition>,
    },
    /// The starting policy is [`StartingOffsets::Fail`](super::StartingOffsets::Fail) and
    /// these partitions have neither an explicit nor a stored offset.
    #[error("no starting offset for {}", list(.partitions))]
    NoStartingOffset {
        /// The partitions without an offset.
        partitions: Vec<TopicPartition>,
    },
    /// A starting offset (explicit or stored) is below the partition's log start offset: the
    /// records in between were deleted (retention, DeleteRecords) before they were read.
    #[error(
        "data loss on {partition}: starting offset {offset} is below the log start offset {log_start_offset}"
    )]
    DataLoss {
        /// The partition.
        partition: TopicPartition,
        /// The starting offset.
        offset: i64,
        /// The first offset the partition still has.
        log_start_offset: i64,
    },
    /// Listing a partition's earliest or latest offset failed with a broker error.
    #[error("listing offsets of {partition}: {code}")]
    ListOffsets {
        /// The partition.
        partition: TopicPartition,
        /// The broker's error.
        code: ErrorCode,
    },
    /// A request failed as a whole (connection, timeout, unsupported feature).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The batch could not be planned, for example because a partition's latest offset is below
    /// the next offset to read (the log was truncated).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// An offset range could not be built (a negative starting offset).
    #[error(transparent)]
    Range(#[from] RangeError),
}

fn list(partitions: &[TopicPartition]) -> String {
    let names: Vec<String> = partitions.iter().map(ToString::to_string).collect();
    names.join(", ")
}
