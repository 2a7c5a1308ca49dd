//! Offset lookups by record timestamp (ListOffsets).

use gregor_protocol::records::RecordsError;

use super::PartitionLog;

/// A record found by a timestamp lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundOffset {
    /// The record's timestamp.
    pub timestamp: i64,
    /// The record's offset.
    pub offset: i64,
    /// The leader epoch of the batch holding it.
    pub leader_epoch: i32,
}

impl PartitionLog {
    /// The first record at or after the log start whose timestamp is at least `target`, below
    /// `upper` (the high watermark or the last stable offset). Control batches are skipped.
    pub fn offset_for_timestamp(
        &self,
        target: i64,
        upper: i64,
    ) -> Result<Option<FoundOffset>, RecordsError> {
        for b in self.batches() {
            if b.base_offset >= upper {
                break;
            }
            if b.control || b.max_timestamp < target || b.last_offset < self.log_start_offset() {
                continue;
            }
            let batch = b.decode()?;
            for r in batch.record_refs() {
                let r = r?;
                if r.offset < self.log_start_offset() || r.offset >= upper {
                    continue;
                }
                if r.timestamp >= target {
                    return Ok(Some(FoundOffset {
                        timestamp: r.timestamp,
                        offset: r.offset,
                        leader_epoch: b.leader_epoch,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// The record with the largest timestamp (the first of equals), at or after the log start
    /// (KIP-734). Control batches are skipped.
    pub fn max_timestamp_offset(&self) -> Result<Option<FoundOffset>, RecordsError> {
        let mut best: Option<FoundOffset> = None;
        for b in self.batches() {
            if b.control || best.is_some_and(|f| b.max_timestamp <= f.timestamp) {
                continue;
            }
            let batch = b.decode()?;
            for r in batch.record_refs() {
                let r = r?;
                if r.offset < self.log_start_offset() {
                    continue;
                }
                if best.is_none_or(|f| r.timestamp > f.timestamp) {
                    best = Some(FoundOffset {
                        timestamp: r.timestamp,
                        offset: r.offset,
                        leader_epoch: b.leader_epoch,
                    });
                }
            }
        }
        Ok(best)
    }
}
