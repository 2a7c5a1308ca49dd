//! Log maintenance: deleting records below an offset, truncating the end, compacting.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use gregor_protocol::records::{
    BatchSpec, ControlRecord, ControlRecordKind, NewHeader, NewRecord, RecordsError, encode_batch,
};

use super::{AbortedTxn, BatchMeta, PartitionLog, StoredBatch, last_sequence};

/// Why a maintenance operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaintainError {
    /// The offset is outside what the operation accepts.
    #[error("offset {offset} is outside [{low}, {high}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// The lowest accepted.
        low: i64,
        /// The highest accepted.
        high: i64,
    },
    /// A stored batch did not decode (it cannot happen for batches the log validated).
    #[error("stored batch does not decode: {0}")]
    Records(#[from] RecordsError),
    /// Re-encoding a compacted batch failed.
    #[error("re-encoding a batch: {0}")]
    Encode(String),
}

impl PartitionLog {
    /// Moves the log start offset up to `offset` (at most the high watermark), dropping the
    /// batches wholly below it. Returns the new log start offset.
    pub fn delete_records(&mut self, offset: i64) -> Result<i64, MaintainError> {
        if offset < 0 || offset > self.log_end {
            return Err(MaintainError::OffsetOutOfRange {
                offset,
                low: 0,
                high: self.log_end,
            });
        }
        if offset > self.log_start {
            self.log_start = offset;
            while self
                .batches
                .front()
                .is_some_and(|b| b.next_offset() <= offset)
            {
                self.batches.pop_front();
            }
            self.epochs.truncate_from_start(offset);
            self.aborted.retain(|t| t.last_offset >= offset);
        }
        Ok(self.log_start)
    }

    /// Truncates the log to end at `offset`: a batch holding `offset` goes whole, so the new end
    /// is `offset` or that batch's base offset, whichever is lower. Producer and transaction
    /// state are rebuilt from what remains. Returns the new log end offset.
    pub fn truncate(&mut self, offset: i64) -> Result<i64, MaintainError> {
        if offset < self.log_start || offset > self.log_end {
            return Err(MaintainError::OffsetOutOfRange {
                offset,
                low: self.log_start,
                high: self.log_end,
            });
        }
        let keep = self.index_for(offset);
        let end = self
            .batches
            .get(keep)
            .map_or(offset, |b| b.base_offset.min(offset));
        self.batches.truncate(keep);
        self.log_end = end.max(self.log_start);
        self.epochs.truncate_from_end(self.log_end);
        self.rebuild_transactions_and_producers()?;
        Ok(self.log_end)
    }

    /// Re-derives producer sequences and transaction state from the stored batches.
    fn rebuild_transactions_and_producers(&mut self) -> Result<(), MaintainError> {
        let first_kept = self.batches.front().map_or(self.log_end, |b| b.base_offset);
        // Aborted transactions whose data is gone from the front are kept as they were.
        let mut aborted: Vec<AbortedTxn> = self
            .aborted
            .iter()
            .copied()
            .filter(|t| t.first_offset < first_kept && t.last_offset < self.log_end)
            .collect();
        self.producers.clear();
        self.ongoing.clear();
        for b in &self.batches {
            if b.producer_id < 0 {
                continue;
            }
            if b.control {
                self.producers
                    .record_marker(b.producer_id, b.producer_epoch);
                let kind = b
                    .decode()?
                    .control_record()
                    .transpose()?
                    .map(|c: ControlRecord| c.kind);
                if let Some(first) = self.ongoing.remove(&b.producer_id) {
                    if kind == Some(ControlRecordKind::Abort)
                        && !aborted.iter().any(|t| t.last_offset == b.base_offset)
                    {
                        aborted.push(AbortedTxn {
                            producer_id: b.producer_id,
                            first_offset: first,
                            last_offset: b.base_offset,
                        });
                    }
                }
                continue;
            }
            let delta = i32::try_from(b.last_offset - b.base_offset).unwrap_or(i32::MAX);
            self.producers.record(
                b.producer_id,
                b.producer_epoch,
                BatchMeta {
                    first_seq: b.base_sequence,
                    last_seq: last_sequence(b.base_sequence, delta),
                    first_offset: b.base_offset,
                    last_offset: b.last_offset,
                },
            );
            if b.transactional {
                self.ongoing.entry(b.producer_id).or_insert(b.base_offset);
            }
        }
        aborted.sort_by_key(|t| t.last_offset);
        self.aborted = aborted;
        Ok(())
    }

    /// Compacts the log as Kafka's cleaner would, over the whole log: of the records sharing a
    /// key only the one with the highest offset stays. Records without a key and control
    /// batches stay. A batch that loses records is re-encoded with the same base offset, last
    /// offset delta, producer fields, epoch and codec (offsets of removed records become gaps);
    /// a batch that loses all of them is dropped, unless it carries a producer id (it is then
    /// kept empty, so the producer's sequence state survives). Returns how many records were
    /// removed.
    pub fn compact(&mut self) -> Result<usize, MaintainError> {
        let mut latest: HashMap<Bytes, i64> = HashMap::new();
        for b in self.batches.iter().filter(|b| !b.control) {
            for r in b.decode()?.records() {
                let r = r?;
                if let Some(key) = r.key {
                    latest.insert(key, r.offset);
                }
            }
        }
        let mut removed = 0;
        let mut out = std::collections::VecDeque::with_capacity(self.batches.len());
        for b in std::mem::take(&mut self.batches) {
            if b.control {
                out.push_back(b);
                continue;
            }
            let decoded = b.decode()?;
            let mut kept = Vec::new();
            let mut total = 0;
            for r in decoded.records() {
                let r = r?;
                total += 1;
                let stays = r
                    .key
                    .as_ref()
                    .is_none_or(|k| latest.get(k) == Some(&r.offset));
                if stays {
                    kept.push(r);
                }
            }
            removed += total - kept.len();
            if kept.len() == total {
                out.push_back(b);
                continue;
            }
            if kept.is_empty() && b.producer_id < 0 {
                continue;
            }
            let h = *decoded.header();
            let spec = BatchSpec {
                base_offset: h.base_offset,
                partition_leader_epoch: h.partition_leader_epoch,
                producer_id: h.producer_id,
                producer_epoch: h.producer_epoch,
                base_sequence: h.base_sequence,
                transactional: h.is_transactional(),
                control: false,
                timestamp_type: h.timestamp_type(),
                compression: decoded.compression(),
                delete_horizon_ms: None,
                last_offset_delta: Some(h.last_offset_delta),
            };
            let headers: Vec<Vec<(Bytes, Option<Bytes>)>> = kept
                .iter()
                .map(|r| {
                    r.headers
                        .iter()
                        .map(|h| h.map(|h| (h.key, h.value)))
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect::<Result<_, _>>()?;
            let header_refs: Vec<Vec<NewHeader<'_>>> = headers
                .iter()
                .map(|hs| {
                    hs.iter()
                        .map(|(k, v)| NewHeader {
                            key: k,
                            value: v.as_deref(),
                        })
                        .collect()
                })
                .collect();
            let records: Vec<NewRecord<'_>> = kept
                .iter()
                .zip(&header_refs)
                .map(|(r, hs)| NewRecord {
                    offset_delta: Some((r.offset - h.base_offset) as i32),
                    timestamp: r.timestamp,
                    key: r.key.as_deref(),
                    value: r.value.as_deref(),
                    headers: hs,
                })
                .collect();
            let mut buf = BytesMut::new();
            encode_batch(&spec, &records, &mut buf)
                .map_err(|e| MaintainError::Encode(e.to_string()))?;
            out.push_back(StoredBatch::parse(buf.freeze())?);
        }
        self.batches = out;
        Ok(removed)
    }
}
