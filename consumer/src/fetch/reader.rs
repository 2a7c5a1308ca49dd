//! [`PartitionReader`]: the records of one range, in offset order.

use super::chunk::RecordChunk;
use super::error::FetchError;
use crate::range::{ConsumedRange, OffsetRange};
use crate::read::OnDataLoss;

/// The records of one range, in offset order. Dropping it cancels the range's fetching and
/// frees its buffers.
#[derive(Debug)]
pub struct PartitionReader {
    range: OffsetRange,
    records_read: u64,
    next_offset: i64,
    skipped: Option<(i64, i64)>,
    failed: bool,
    _on_data_loss: OnDataLoss,
}

impl PartitionReader {
    pub(crate) fn unstarted(range: OffsetRange, on_data_loss: OnDataLoss) -> Self {
        Self {
            next_offset: range.from(),
            range,
            records_read: 0,
            skipped: None,
            failed: false,
            _on_data_loss: on_data_loss,
        }
    }

    /// The range this reader reads.
    pub fn range(&self) -> &OffsetRange {
        &self.range
    }

    /// The next chunk (records of one or more fetched batches, all inside the range), or
    /// `None` once the next offset to read has reached `until` (a range ending in a
    /// compaction gap or on a transaction marker completes too) or after an error.
    pub async fn next_chunk(&mut self) -> Option<Result<RecordChunk, FetchError>> {
        if self.is_complete() || self.failed {
            return None;
        }
        self.failed = true;
        Some(Err(FetchError::EngineStopped))
    }

    /// Records delivered so far.
    pub fn records_read(&self) -> u64 {
        self.records_read
    }

    /// Whether the whole range has been read.
    pub fn is_complete(&self) -> bool {
        self.next_offset >= self.range.until()
    }

    /// The next offset to read.
    pub fn position(&self) -> i64 {
        self.next_offset
    }

    /// The offsets skipped because they were deleted (`from..until`), when the reader was
    /// started with [`OnDataLoss::SkipToLogStart`] and data was lost.
    pub fn skipped(&self) -> Option<(i64, i64)> {
        self.skipped
    }

    /// Once complete: the range with the count of records actually read.
    pub fn consumed(&self) -> Option<ConsumedRange> {
        if !self.is_complete() {
            return None;
        }
        ConsumedRange::new(self.range.clone(), self.records_read).ok()
    }
}
