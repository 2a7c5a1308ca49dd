//! What the fetch core and its shell exchange: the metadata the core plans with, the requests
//! it plans, the answers and lookups the shell brings back, and the [`Effect`]s transitions
//! ask for. Plain data; the core's transitions are in `core`.

use std::time::Duration;

use bytes::Bytes;
use gregor_client::ClientError;
use gregor_client::cluster::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_protocol::primitives::Uuid;
use gregor_protocol::records::{DecodeOptions, RecordsError};
use tokio::time::Instant;

use super::config::IsolationLevel;
use super::cursor::{CursorEnd, CursorId, StartAt};
use super::delivery::Delivery;
use super::partition::Planned;
use super::session::WantedPartition;
use crate::range::TopicPartition;

/// Who leads a partition, as the current metadata says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Leadership {
    pub(crate) leader: Option<BrokerId>,
    /// The leader epoch, or -1.
    pub(crate) epoch: i32,
    /// The topic's id (zero when unknown).
    pub(crate) topic_id: Uuid,
}

/// The metadata the core plans with.
pub(crate) trait LeaderView {
    /// The partition's leadership, or `None` when the metadata does not know the partition.
    fn leadership(&self, tp: &TopicPartition) -> Option<Leadership>;
}

/// One partition of a planned request.
#[derive(Debug, Clone)]
pub(crate) struct Taken {
    pub(crate) id: CursorId,
    pub(crate) generation: u64,
    /// Whether its reader waits with nothing buffered.
    pub(crate) demand: bool,
    /// Plans in a row that took another cursor of its partition instead.
    pub(crate) passed_over: u32,
    pub(crate) end: CursorEnd,
    pub(crate) wanted: WantedPartition,
}

/// A request planned for one broker.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The partitions to ask for, one per partition, sorted by partition.
    pub(crate) taken: Vec<Taken>,
    /// The earliest time a backing-off cursor of this broker becomes ready.
    pub(crate) next_retry: Option<Instant>,
    /// Whether a reader of one of them waits with nothing buffered.
    pub(crate) demand: bool,
}

/// Why offsets are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LookupReason {
    /// The broker said the position is out of range.
    OutOfRange,
    /// An open cursor starts (or was sought) at the log start or end.
    Start(StartAt),
}

/// A log-offsets lookup for the shell to run (ListOffsets earliest and latest).
#[derive(Debug, Clone)]
pub(crate) struct OffsetLookup {
    pub(crate) cursor: CursorId,
    pub(crate) generation: u64,
    pub(crate) tp: TopicPartition,
    pub(crate) position: i64,
    pub(crate) reason: LookupReason,
    /// Wait this long first (a retry).
    pub(crate) delay: Option<Duration>,
}

/// A partition's log offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogBounds {
    /// The log start offset.
    pub(crate) start: i64,
    /// The log end offset (the high watermark).
    pub(crate) end: i64,
}

/// Why a lookup found nothing.
#[derive(Debug)]
pub(crate) enum LookupFailure {
    /// The request failed after the client's retries.
    Client(ClientError),
    /// The answer did not name the partition.
    UnknownPartition,
    /// The broker answered the partition with this error.
    Broker(ErrorCode),
}

/// A leader-epoch check (KIP-320) for the shell to run (OffsetForLeaderEpoch).
#[derive(Debug, Clone)]
pub(crate) struct EpochCheck {
    pub(crate) cursor: CursorId,
    pub(crate) generation: u64,
    pub(crate) tp: TopicPartition,
    pub(crate) leader: BrokerId,
    pub(crate) current_epoch: i32,
    pub(crate) last_fetched_epoch: i32,
    pub(crate) position: i64,
}

/// What an epoch check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EpochOutcome {
    /// The position is valid under the current epoch.
    Valid,
    /// The epoch ends at this offset, below the position: the log was truncated.
    Truncated(i64),
    /// Ask again later (stale metadata, connection trouble).
    Retry,
}

/// One partition's answer in a Fetch response.
#[derive(Debug)]
pub(crate) struct PartitionAnswer {
    pub(crate) code: ErrorCode,
    pub(crate) high_watermark: i64,
    pub(crate) last_stable_offset: i64,
    /// The end offset of a diverging epoch the leader reported, if any.
    pub(crate) diverging_end: Option<i64>,
    /// The partition's record bytes.
    pub(crate) records: Bytes,
    /// The records planned (headers only), when the answer is not an error.
    pub(crate) planned: Option<Result<Planned, RecordsError>>,
}

/// What a transition asks of the shell.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Hand this to the cursor's reader (it belongs to the cursor's `generation`).
    Deliver {
        cursor: CursorId,
        generation: u64,
        delivery: Delivery,
    },
    /// Look the partition's log offsets up.
    LookUpOffsets(OffsetLookup),
    /// Check the position against the leader's epochs.
    CheckEpoch(EpochCheck),
    /// Refresh the metadata (leaders moved, or a partition is missing).
    RefreshMetadata,
    /// The cursor is gone from the core (a revoked one whose request is over).
    Retired(CursorId),
}

/// The core's settings.
#[derive(Debug, Clone)]
pub(crate) struct CoreSettings {
    pub(crate) isolation: IsolationLevel,
    pub(crate) retry_backoff: Duration,
    pub(crate) decode: DecodeOptions,
}
