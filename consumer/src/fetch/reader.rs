//! [`PartitionReader`]: the records of one range, in offset order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use super::chunk::RecordChunk;
use super::engine::{Delivery, EngineInner};
use super::error::FetchError;
use super::fetched::FetchedData;
use crate::range::{ConsumedRange, OffsetRange};

/// The records of one range, in offset order. Dropping it cancels the range's fetching and
/// frees its buffers.
#[derive(Debug)]
pub struct PartitionReader {
    engine: Arc<EngineInner>,
    id: u64,
    range: OffsetRange,
    rx: mpsc::UnboundedReceiver<Delivery>,
    waiting: Arc<AtomicBool>,
    records_read: u64,
    next_offset: i64,
    skipped: Option<(i64, i64)>,
    failed: bool,
    /// Fetched data not decoded into chunks yet.
    current: Option<FetchedData>,
}

impl PartitionReader {
    pub(crate) fn new(
        engine: Arc<EngineInner>,
        id: u64,
        range: OffsetRange,
        rx: mpsc::UnboundedReceiver<Delivery>,
        waiting: Arc<AtomicBool>,
    ) -> Self {
        Self {
            engine,
            id,
            next_offset: range.from(),
            range,
            rx,
            waiting,
            records_read: 0,
            skipped: None,
            failed: false,
            current: None,
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
        loop {
            if let Some(fetched) = self.current.as_mut() {
                match fetched.next_chunk() {
                    Some(Ok(chunk)) => {
                        self.next_offset = self.next_offset.max(chunk.next_offset);
                        if chunk.is_empty() {
                            continue;
                        }
                        self.records_read += chunk.len() as u64;
                        return Some(Ok(chunk));
                    }
                    Some(Err(source)) => {
                        let partition = fetched.partition.clone();
                        self.current = None;
                        self.failed = true;
                        // Stop fetching for a range that cannot go on.
                        self.engine.remove(self.id);
                        return Some(Err(FetchError::Records {
                            topic: partition.topic.to_string(),
                            partition: partition.partition,
                            source,
                        }));
                    }
                    None => {
                        self.next_offset = self.next_offset.max(fetched.next_offset);
                        self.current = None;
                    }
                }
            }
            if self.is_complete() || self.failed {
                return None;
            }
            let delivery = match self.rx.try_recv() {
                Ok(delivery) => Some(delivery),
                Err(_) => {
                    // Nothing buffered: tell the broker loops this partition is in demand.
                    self.waiting.store(true, Ordering::Release);
                    self.engine.wake();
                    let delivery = self.rx.recv().await;
                    self.waiting.store(false, Ordering::Release);
                    delivery
                }
            };
            match delivery {
                None => {
                    self.failed = true;
                    return Some(Err(FetchError::EngineStopped));
                }
                Some(Delivery::Failed(error)) => {
                    self.failed = true;
                    return Some(Err(error));
                }
                Some(Delivery::Skipped(from, to)) => {
                    let start = self.skipped.map_or(from, |(s, _)| s);
                    self.skipped = Some((start, to));
                    self.next_offset = self.next_offset.max(to.min(self.range.until()));
                }
                Some(Delivery::Fetched(fetched)) => self.current = Some(fetched),
            }
        }
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
    /// started with [`OnDataLoss::SkipToLogStart`](crate::read::OnDataLoss) and data was lost.
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

impl Drop for PartitionReader {
    fn drop(&mut self) {
        self.engine.remove(self.id);
    }
}
