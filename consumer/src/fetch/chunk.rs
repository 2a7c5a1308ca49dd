//! [`RecordChunk`]: the decoded records of one delivery to a reader.

use bytes::Bytes;
use gregor_protocol::records::Record;

use super::budget::BudgetPermit;
use crate::range::TopicPartition;

/// Decoded records of fetched batches, in offset order and all inside the reader's range.
///
/// Keys and values are `Bytes` slices of the fetched (or, for compressed batches, the
/// decompressed) buffer: nothing is copied per record. The chunk holds its share of the
/// engine's memory budget until it is dropped.
#[derive(Debug)]
pub struct RecordChunk {
    pub(crate) partition: TopicPartition,
    pub(crate) records: Vec<Record>,
    pub(crate) next_offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) data: Bytes,
    pub(crate) _permit: Option<BudgetPermit>,
}

impl RecordChunk {
    /// The partition the records come from.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.partition
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the chunk holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records, in offset order (each clone shares the fetched buffer).
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.records.iter().cloned()
    }

    /// The records, borrowed.
    pub fn as_slice(&self) -> &[Record] {
        &self.records
    }

    /// The records, owned (they keep the fetched buffer alive, but the budget share is
    /// released when the chunk is dropped here).
    pub fn into_records(self) -> Vec<Record> {
        let mut this = self;
        std::mem::take(&mut this.records)
    }

    /// The offset to read after this chunk (past the last record, and past any control
    /// records, aborted or compacted-away offsets that followed it).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// The partition leader epoch of the chunk's last batch (-1 when unknown: legacy message
    /// sets). Commit it with [`next_offset`](Self::next_offset), so that a consumer restarting
    /// from the commit can detect a truncated log (KIP-320).
    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
    }

    /// The record data as fetched (the partition's `records` bytes of the Fetch response).
    /// Keys and values of records from uncompressed batches are slices of it; those of
    /// compressed batches are slices of their batch's decompressed buffer.
    pub fn fetched_data(&self) -> &Bytes {
        &self.data
    }

    /// The bytes of the memory budget this chunk holds.
    pub fn budget_bytes(&self) -> usize {
        self._permit.as_ref().map_or(0, BudgetPermit::bytes)
    }
}
