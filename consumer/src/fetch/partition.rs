//! Sans-io decoding of one partition's fetched record data into the records a reader gets.
//!
//! [`decode_partition`] walks the `records` blob of a Fetch response partition with
//! [`gregor_protocol::records::batches`] (zero-copy: record keys and values stay `Bytes`
//! slices of the fetched buffer, or of the batch's decompressed buffer) and keeps only:
//! - records at or after the reader's position (a batch may start before it) and before the
//!   range's `until`;
//! - records of data batches: control batches (transaction markers) are skipped, but the
//!   position moves past them;
//! - under `read_committed`, records of transactions that were not aborted, using the
//!   response's aborted-transactions list (producer id and first offset) and the abort
//!   markers that close them, as Kafka's consumer does.
//!
//! The position after the data is the next offset after the last whole batch (or `until`),
//! so compaction gaps and trailing control batches are stepped over.

use std::collections::HashSet;

use bytes::Bytes;
use gregor_protocol::messages::fetch::AbortedTransaction;
use gregor_protocol::records::{
    ControlRecordKind, DecodeOptions, DecodedBatch, Record, RecordsError, batches,
};

use super::config::IsolationLevel;

/// What one partition's fetched data yields.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The records to deliver, in offset order.
    pub records: Vec<Record>,
    /// The position after this data: where the next fetch starts.
    pub next_offset: i64,
    /// The leader epoch of the last batch the position moved past (-1 if none or unknown).
    pub last_epoch: i32,
}

/// Decodes `data` for a reader at `position` reading up to `until` (exclusive).
///
/// `aborted` is the response's aborted-transactions list (used under `read_committed`
/// only). An empty result with `next_offset == position` means the data held no whole
/// batch past the position.
pub fn decode_partition(
    data: Bytes,
    aborted: &[AbortedTransaction],
    position: i64,
    until: i64,
    isolation: IsolationLevel,
    options: &DecodeOptions,
) -> Result<Decoded, RecordsError> {
    let read_committed = isolation == IsolationLevel::ReadCommitted;
    let mut pending_aborts: Vec<&AbortedTransaction> = if read_committed {
        aborted.iter().collect()
    } else {
        Vec::new()
    };
    // Ascending by first offset; popped from the back.
    pending_aborts.sort_by_key(|a| std::cmp::Reverse(a.first_offset));
    let mut aborting: HashSet<i64> = HashSet::new();
    let mut out = Decoded {
        records: Vec::new(),
        next_offset: position,
        last_epoch: -1,
    };
    for batch in batches(data, options) {
        let batch = batch?;
        if out.next_offset >= until {
            break;
        }
        let last = batch.last_offset();
        if last < out.next_offset {
            continue; // entirely before the position
        }
        if read_committed {
            while let Some(a) = pending_aborts.last() {
                if a.first_offset > last {
                    break;
                }
                aborting.insert(a.producer_id);
                pending_aborts.pop();
            }
        }
        let next = batch.next_offset().min(until);
        if batch.is_control() {
            if read_committed && is_abort_marker(&batch)? {
                aborting.remove(&batch.producer_id());
            }
        } else if !(read_committed
            && batch.is_transactional()
            && aborting.contains(&batch.producer_id()))
        {
            if out.records.is_empty() {
                out.records.reserve(batch.record_count());
            }
            for record in batch.records() {
                let record = record?;
                if record.offset < out.next_offset {
                    continue;
                }
                if record.offset >= until {
                    break;
                }
                out.records.push(record);
            }
        }
        out.next_offset = next.max(out.next_offset);
        out.last_epoch = batch.partition_leader_epoch();
    }
    Ok(out)
}

/// Whether a control batch is an abort marker.
fn is_abort_marker(batch: &DecodedBatch) -> Result<bool, RecordsError> {
    let DecodedBatch::V2(b) = batch else {
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
