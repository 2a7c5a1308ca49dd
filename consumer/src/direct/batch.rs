//! One batch of a direct stream: its offset ranges (Spark's `HasOffsetRanges`) and one ordered
//! reader per range, so partitions can be processed in parallel (Spark's 1:1 mapping).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::direct::placement::{Placement, PlacementError};
use crate::fetch::PartitionReader;
use crate::range::OffsetRange;
use crate::store::{BatchStarts, PartitionOffsets};
use gregor_protocol::TopicPartition;

/// A batch: at most one [`OffsetRange`] per partition, each with its [`PartitionReader`].
///
/// Readers start fetching as soon as the batch is made (within the fetch engine's memory
/// budget); dropping a reader cancels its range.
pub struct Batch {
    pub(crate) ranges: Vec<OffsetRange>,
    pub(crate) readers: Vec<PartitionReader>,
    pub(crate) starts: BatchStarts,
    pub(crate) leaders: BTreeMap<TopicPartition, i32>,
    pub(crate) started_at: Instant,
    pub(crate) scheduling_delay: Duration,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("ranges", &self.ranges)
            .field("starts", &self.starts)
            .field("leaders", &self.leaders)
            .field("scheduling_delay", &self.scheduling_delay)
            .finish_non_exhaustive()
    }
}

impl Batch {
    /// The batch's ranges, one per partition of the stream, in partition order (empty ranges
    /// for partitions without new records).
    pub fn offset_ranges(&self) -> &[OffsetRange] {
        &self.ranges
    }

    /// The batch's start per partition, as [`OffsetStore::save`](crate::store::OffsetStore::save)
    /// expects it: [`BatchStart::First`](crate::store::BatchStart::First) for a partition whose
    /// offset did not come from the store and was never in an earlier batch of this stream,
    /// [`BatchStart::Continue`](crate::store::BatchStart::Continue) otherwise.
    pub fn starts(&self) -> BatchStarts {
        self.starts.clone()
    }

    /// The batch's end (each range's `until`) per partition: the `new_end` of
    /// [`OffsetStore::save`](crate::store::OffsetStore::save).
    pub fn ends(&self) -> PartitionOffsets {
        self.ranges
            .iter()
            .map(|r| (r.topic_partition(), r.until()))
            .collect()
    }

    /// The number of offsets the batch covers (an upper bound on its records).
    pub fn offset_count(&self) -> u64 {
        self.ranges.iter().map(OffsetRange::count).sum()
    }

    /// When the batch was planned (tokio time).
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// How late the batch was planned after its scheduled time (the caller asked for it late).
    pub fn scheduling_delay(&self) -> Duration {
        self.scheduling_delay
    }

    /// The leader broker of each partition when the batch was planned.
    pub fn leaders(&self) -> &BTreeMap<TopicPartition, i32> {
        &self.leaders
    }

    /// [`Placement::ByLeader`] with this batch's leaders.
    pub fn leader_placement(&self) -> Placement {
        Placement::ByLeader(self.leaders.clone())
    }

    /// One ordered reader per range (1:1 with [`offset_ranges`](Self::offset_ranges), same
    /// order).
    pub fn into_partitions(self) -> Vec<PartitionReader> {
        self.readers
    }

    /// The readers placed on `workers` workers by `placement` (Spark's `LocationStrategies`):
    /// index `w` holds worker `w`'s readers, in partition order.
    ///
    /// # Errors
    /// [`PlacementError::NoWorkers`] for zero workers, [`PlacementError::WorkerOutOfRange`]
    /// for a fixed map naming a missing worker.
    pub fn placed(
        self,
        placement: &Placement,
        workers: usize,
    ) -> Result<Vec<Vec<PartitionReader>>, PlacementError> {
        let keys: Vec<TopicPartition> = self
            .ranges
            .iter()
            .map(OffsetRange::topic_partition)
            .collect();
        let assignment = placement.assign(&keys, workers)?;
        let worker_of: BTreeMap<&TopicPartition, usize> = assignment
            .iter()
            .enumerate()
            .flat_map(|(w, list)| list.iter().map(move |k| (k, w)))
            .collect();
        let mut out: Vec<Vec<PartitionReader>> = (0..workers).map(|_| Vec::new()).collect();
        for (key, reader) in keys.iter().zip(self.readers) {
            // Every key is in the assignment; worker 0 is a safe fallback that never happens.
            let w = worker_of.get(key).copied().unwrap_or(0);
            if let Some(list) = out.get_mut(w) {
                list.push(reader);
            }
        }
        Ok(out)
    }
}

/// What processing a batch took, for backpressure
/// ([`DirectStream::batch_completed`](super::DirectStream::batch_completed)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchInfo {
    /// The records processed.
    pub records: u64,
    /// How long processing took, from the batch's start until its output was done.
    pub processing_time: Duration,
}

impl BatchInfo {
    /// `records` records processed in `processing_time`.
    pub fn new(records: u64, processing_time: Duration) -> BatchInfo {
        BatchInfo {
            records,
            processing_time,
        }
    }
}
