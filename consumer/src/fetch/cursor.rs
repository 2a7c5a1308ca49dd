//! A cursor: one partition being read, as the fetch core keeps it.
//!
//! A cursor is either **bounded** (it reads `position..until` and completes, as a direct
//! stream's range does) or **open-ended** (it follows the partition as the log grows, as a
//! group consumer's assigned partition does). Only the fetch core (`core.rs`)
//! changes a cursor; everything else sees copies of what it needs.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use gregor_protocol::primitives::Uuid;
use tokio::time::Instant;

use super::refetch::CorruptRefetch;
use crate::range::TopicPartition;

/// Identifies a cursor within one engine.
pub(crate) type CursorId = u64;

/// Where a cursor stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorEnd {
    /// At this offset (exclusive): the cursor completes there.
    Until(i64),
    /// Never: the cursor follows the log, waiting at its end with long polls.
    Open,
}

impl CursorEnd {
    /// The offset planning stops at (`i64::MAX` for an open cursor).
    pub(crate) fn limit(self) -> i64 {
        match self {
            CursorEnd::Until(until) => until,
            CursorEnd::Open => i64::MAX,
        }
    }
}

/// What a bounded read does when offsets it needs were deleted (retention, DeleteRecords).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnDataLoss {
    /// Fail with [`FetchError::DataLoss`](super::FetchError::DataLoss).
    #[default]
    Fail,
    /// Continue from the log start offset and report the skipped span.
    SkipToLogStart,
}

/// What an open-ended reader does when its position is out of range (below the log start:
/// the records were deleted; past the log end; or on a log truncated below it), Kafka's
/// `auto.offset.reset` applied per partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsetReset {
    /// Fail with the typed error ([`FetchError::DataLoss`](super::FetchError::DataLoss),
    /// [`FetchError::PastLogEnd`](super::FetchError::PastLogEnd),
    /// [`FetchError::Truncated`](super::FetchError::Truncated)); Kafka's `none`.
    #[default]
    Fail,
    /// Move to the log start offset (and, on truncation, to where the logs diverge).
    Earliest,
    /// Move to the log end offset (and, on truncation, to where the logs diverge).
    Latest,
}

impl From<OnDataLoss> for OffsetReset {
    fn from(policy: OnDataLoss) -> Self {
        match policy {
            OnDataLoss::Fail => OffsetReset::Fail,
            OnDataLoss::SkipToLogStart => OffsetReset::Earliest,
        }
    }
}

/// Where an open-ended reader starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartAt {
    /// At this offset.
    Offset(i64),
    /// At the log start offset, looked up when the reader starts.
    Earliest,
    /// At the log end offset (the high watermark), looked up when the reader starts.
    Latest,
}

/// Where a cursor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CursorState {
    /// Wants data from its position.
    Fetching,
    /// Waiting for a lookup (log offsets, or a leader epoch check) to place it.
    Resolving,
    /// Complete or failed: fetches nothing more (an open cursor is revived by a seek).
    Done,
    /// Revoked while a request for it was in flight: retired once that request is over.
    Revoked,
}

/// One partition being read.
#[derive(Debug)]
pub(crate) struct Cursor {
    pub(crate) tp: TopicPartition,
    pub(crate) end: CursorEnd,
    /// The next offset to fetch.
    pub(crate) position: i64,
    /// Bumped whenever the position moves other than by delivered data (seek, reset), so
    /// answers to requests sent before, and deliveries made before, are discarded.
    pub(crate) generation: u64,
    pub(crate) state: CursorState,
    /// Not fetched while set; the position and buffered data are kept.
    pub(crate) paused: bool,
    pub(crate) in_flight: bool,
    /// Plans in a row that took another cursor of the same partition instead of this one.
    pub(crate) passed_over: u32,
    pub(crate) retry_at: Option<Instant>,
    /// `UNKNOWN_TOPIC_OR_PARTITION` answers in a row.
    pub(crate) unknown_rounds: u32,
    /// Metadata refreshes in a row that did not know the partition.
    pub(crate) missing_rounds: u32,
    /// The leader epoch of the last batch fetched, or -1.
    pub(crate) last_fetched_epoch: i32,
    /// The leader epoch (from the metadata) the position was last fetched or validated
    /// under; when the metadata names another, the position is validated first.
    pub(crate) fetch_epoch: Option<i32>,
    pub(crate) reset: OffsetReset,
    /// The highest log end seen for the partition while reading (a bounded range planned from
    /// the log end starts with its own end), or -1: a log end seen at or past `until` makes a
    /// lower one later a lag to wait out, not the end (see `log_end`).
    pub(crate) known_end: i64,
    /// When a log end below `until` (after a higher one) was first seen, while it lasts.
    pub(crate) lagging_since: Option<Instant>,
    /// Set by the reader while it waits with nothing buffered: such a partition is fetched
    /// even when the budget is spent, so readers that consume in turn never starve behind
    /// data prefetched for others.
    pub(crate) demand: Arc<AtomicBool>,
    /// Refetches of data whose batch headers did not check out while planning.
    pub(crate) refetch: CorruptRefetch,
    /// The topic id the cursor first fetched under (from the metadata); another one later
    /// means the topic was deleted and created again, and the cursor fails.
    pub(crate) topic_id: Option<Uuid>,
}

/// What a new cursor is.
#[derive(Debug, Clone)]
pub(crate) struct CursorSpec {
    pub(crate) tp: TopicPartition,
    pub(crate) start: StartAt,
    pub(crate) end: CursorEnd,
    pub(crate) reset: OffsetReset,
    /// A log end known to reach at least this far (-1: none known).
    pub(crate) known_end: i64,
    pub(crate) demand: Arc<AtomicBool>,
}

impl Cursor {
    /// Whether the position has reached a bounded cursor's end.
    pub(crate) fn reached_end(&self) -> bool {
        matches!(self.end, CursorEnd::Until(until) if self.position >= until)
    }
}
