//! Sans-io planning of one partition's fetched record data: which batches its reader gets.
//!
//! [`plan_partition`] walks the `records` blob of a Fetch response partition batch by batch,
//! reading only the uncompressed batch headers
//! ([`RecordSetIter::next_raw`](gregor_protocol::records::RecordSetIter::next_raw)), and keeps:
//! - batches with records at or after the reader's position (a batch may start before it) and
//!   before the range's `until`;
//! - data batches only: control batches (transaction markers) are skipped, but the position
//!   moves past them;
//! - under `read_committed`, batches of transactions that were not aborted, using the
//!   response's aborted-transactions list (producer id and first offset) and the abort
//!   markers that close them, as Kafka's consumer does.
//!
//! The position after the data is the next offset after the last whole batch (or `until`),
//! so compaction gaps and trailing control batches are stepped over. A batch that is skipped
//! but moves the position has its CRC checked here, so a corrupt header cannot skip offsets.
//!
//! The kept batches are decoded (CRC, decompression, records) later by
//! [`PlannedBatch::decode_into`], on the reader's side: decompression then runs on the
//! reader's task, batch by batch, while the application reads, instead of a whole response at
//! once on the broker's loop.

use std::collections::HashSet;

use bytes::Bytes;
use gregor_protocol::messages::fetch::AbortedTransaction;
use gregor_protocol::records::{
    ControlRecordKind, DecodeOptions, DecodedBatch, RawBatch, Record, RecordsError, batches,
};

use super::config::IsolationLevel;

/// One data batch for a reader, not decoded yet, and which of its records to keep.
#[derive(Debug, Clone)]
pub struct PlannedBatch {
    entry: Entry,
    /// Records below this offset are skipped (the reader's position inside the first batch).
    from: i64,
    /// Records at or after this offset are dropped (the range's end).
    until: i64,
    /// The position once this batch is read: past its last offset, at most `until`.
    pub next_offset: i64,
    /// The batch's partition leader epoch (-1 for legacy message sets).
    pub leader_epoch: i32,
}

/// A planned batch's data.
#[derive(Debug, Clone)]
enum Entry {
    /// A magic-2 batch as fetched.
    Raw(RawBatch),
    /// A legacy message set, decoded while planning (their offsets are inside).
    Decoded(DecodedBatch),
}

/// The most records reserved for at once when a batch is decoded.
const RESERVE_RECORDS: usize = 16 * 1024;

impl PlannedBatch {
    /// The first offset this batch delivers (the reader's position inside a first batch).
    pub fn start(&self) -> i64 {
        self.from
    }

    /// The batch's size as fetched.
    pub fn wire_size(&self) -> usize {
        match &self.entry {
            Entry::Raw(raw) => raw.bytes().len(),
            Entry::Decoded(_) => 0,
        }
    }

    /// Decodes the batch (CRC check, decompression) and appends its records inside
    /// `from..until` to `out`. Returns the bytes of record data decoded (decompressed size).
    pub fn decode_into(
        &self,
        out: &mut Vec<Record>,
        options: &DecodeOptions,
    ) -> Result<usize, RecordsError> {
        let decoded;
        let batch = match &self.entry {
            Entry::Raw(raw) => {
                decoded = raw.decode(options)?;
                &decoded
            }
            Entry::Decoded(batch) => batch,
        };
        let size = match batch {
            DecodedBatch::V2(b) => b.records_data().len(),
            DecodedBatch::Legacy(_) => 0,
        };
        // The count is bounded by the decompressed bytes, but a record in memory is far larger
        // than its smallest encoding: reserve no more than the records of an ordinary batch up
        // front, and let records that do decode grow the vector.
        out.reserve(batch.record_count().min(RESERVE_RECORDS));
        for record in batch.records() {
            let record = record?;
            if record.offset < self.from {
                continue;
            }
            if record.offset >= self.until {
                break;
            }
            out.push(record);
        }
        Ok(size)
    }
}

/// What one partition's fetched data yields for its reader.
#[derive(Debug, Default)]
pub struct Planned {
    /// The data batches to decode and deliver, in offset order.
    pub batches: Vec<PlannedBatch>,
    /// The position after this data: where the next fetch starts.
    pub next_offset: i64,
    /// The leader epoch of the last batch the position moved past (-1 if none or unknown).
    pub last_epoch: i32,
}

/// The header fields planning needs, from a magic-2 header or a decoded legacy entry.
struct BatchFacts {
    last_offset: i64,
    next_offset: i64,
    is_control: bool,
    is_transactional: bool,
    producer_id: i64,
    leader_epoch: i32,
}

/// Plans `data` for a reader at `position` reading up to `until` (exclusive).
///
/// `aborted` is the response's aborted-transactions list (used under `read_committed`
/// only). An empty plan with `next_offset == position` means the data held no whole batch
/// past the position.
pub fn plan_partition(
    data: Bytes,
    aborted: &[AbortedTransaction],
    position: i64,
    until: i64,
    isolation: IsolationLevel,
    options: &DecodeOptions,
) -> Result<Planned, RecordsError> {
    let read_committed = isolation == IsolationLevel::ReadCommitted;
    let mut pending_aborts: Vec<&AbortedTransaction> = if read_committed {
        aborted.iter().collect()
    } else {
        Vec::new()
    };
    // Ascending by first offset; popped from the back.
    pending_aborts.sort_by_key(|a| std::cmp::Reverse(a.first_offset));
    let mut aborting: HashSet<i64> = HashSet::new();
    let mut out = Planned {
        batches: Vec::new(),
        next_offset: position,
        last_epoch: -1,
    };
    let mut set = batches(data, options);
    while out.next_offset < until {
        let Some(raw) = set.next_raw() else {
            break;
        };
        let raw = raw?;
        let (entry, facts) = match raw.header() {
            Some(h) => {
                let facts = BatchFacts {
                    last_offset: h.last_offset(),
                    next_offset: h.next_offset(),
                    is_control: h.is_control(),
                    is_transactional: h.is_transactional(),
                    producer_id: h.producer_id,
                    leader_epoch: h.partition_leader_epoch,
                };
                (Entry::Raw(raw), facts)
            }
            None if raw.magic() == 2 => {
                return Err(RecordsError::Truncated {
                    context: "record batch header",
                });
            }
            None => {
                let legacy = raw.decode(options)?;
                let facts = BatchFacts {
                    last_offset: legacy.last_offset(),
                    next_offset: legacy.next_offset(),
                    is_control: false,
                    is_transactional: false,
                    producer_id: -1,
                    leader_epoch: -1,
                };
                (Entry::Decoded(legacy), facts)
            }
        };
        if facts.last_offset < out.next_offset {
            continue; // entirely before the position
        }
        if read_committed {
            while let Some(a) = pending_aborts.last() {
                if a.first_offset > facts.last_offset {
                    break;
                }
                aborting.insert(a.producer_id);
                pending_aborts.pop();
            }
        }
        let next = facts.next_offset.min(until);
        let skipped_txn =
            read_committed && facts.is_transactional && aborting.contains(&facts.producer_id);
        if facts.is_control || skipped_txn {
            // Not delivered, but the position moves past it: check it is what it says.
            if let Entry::Raw(raw) = &entry {
                raw.check_crc()?;
            }
            if facts.is_control && read_committed && is_abort_marker(&entry, options)? {
                aborting.remove(&facts.producer_id);
            }
        } else {
            out.batches.push(PlannedBatch {
                entry,
                from: out.next_offset,
                until,
                next_offset: next.max(out.next_offset),
                leader_epoch: facts.leader_epoch,
            });
        }
        out.next_offset = next.max(out.next_offset);
        out.last_epoch = facts.leader_epoch;
    }
    Ok(out)
}

/// What one partition's fetched data yields, decoded at once (the plan, then every batch).
#[derive(Debug, Default)]
pub struct Decoded {
    /// The records to deliver, in offset order.
    pub records: Vec<Record>,
    /// The position after this data: where the next fetch starts.
    pub next_offset: i64,
    /// The leader epoch of the last batch the position moved past (-1 if none or unknown).
    pub last_epoch: i32,
}

/// [`plan_partition`], then [`PlannedBatch::decode_into`] for every planned batch: the
/// records of one partition's fetched data, decoded at once.
pub fn decode_partition(
    data: Bytes,
    aborted: &[AbortedTransaction],
    position: i64,
    until: i64,
    isolation: IsolationLevel,
    options: &DecodeOptions,
) -> Result<Decoded, RecordsError> {
    let planned = plan_partition(data, aborted, position, until, isolation, options)?;
    let mut records = Vec::new();
    for batch in &planned.batches {
        batch.decode_into(&mut records, options)?;
    }
    Ok(Decoded {
        records,
        next_offset: planned.next_offset,
        last_epoch: planned.last_epoch,
    })
}

/// Whether a control batch is an abort marker.
fn is_abort_marker(entry: &Entry, options: &DecodeOptions) -> Result<bool, RecordsError> {
    let Entry::Raw(raw) = entry else {
        return Ok(false);
    };
    let DecodedBatch::V2(b) = raw.decode(options)? else {
        return Ok(false);
    };
    match b.control_record() {
        Some(control) => Ok(control?.kind == ControlRecordKind::Abort),
        None => Ok(false),
    }
}

#[cfg(test)]
#[path = "partition_tests.rs"]
mod tests;
