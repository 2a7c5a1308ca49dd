//! The log of one partition, in memory.
//!
//! Batches are stored **as the producer sent them**: the bytes of the produce request, copied
//! once, with only the base offset and the partition leader epoch patched in place, as a broker
//! does. Neither field is covered by the batch CRC (it starts at the attributes), so nothing
//! else is recomputed. A fetch hands out `Bytes` slices of the stored batches; nothing is
//! re-encoded, except by compaction ([`PartitionLog::compact`]), the one place records are
//! rewritten.
//!
//! Offsets: the log start offset (moved by DeleteRecords), the log end offset, equal to the high
//! watermark (every replica is in sync), and the last stable offset: the first offset of the
//! oldest open transaction, or the high watermark. Aborted transactions are indexed by
//! `(producer id, first offset, marker offset)` for read-committed fetches.

mod epochs;
mod lookup;
mod maintain;
mod producer;

use std::collections::{BTreeMap, VecDeque};

use bytes::{Bytes, BytesMut};
use gregor_protocol::ErrorCode;
use gregor_protocol::compression::Compression;
use gregor_protocol::records::{
    BatchSpec, ControlRecord, DecodeOptions, LOG_OVERHEAD, MAGIC_OFFSET, RecordBatch,
    RecordBatchHeader, RecordsError, encode_control_batch,
};

pub use epochs::{EpochCache, UNDEFINED_EPOCH, UNDEFINED_OFFSET};
pub use maintain::MaintainError;
pub use producer::{BatchMeta, ProducerStates, SequenceCheck, last_sequence};

/// Where the partition leader epoch sits in a batch.
const LEADER_EPOCH_OFFSET: usize = 12;

/// One stored batch: its bytes and the header fields the broker looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatch {
    /// The offset of its first record.
    pub base_offset: i64,
    /// The offset of its last record as written (compaction may have removed that record).
    pub last_offset: i64,
    /// The leader epoch it was appended in.
    pub leader_epoch: i32,
    /// Its largest record timestamp.
    pub max_timestamp: i64,
    /// The producer id, or -1.
    pub producer_id: i64,
    /// The producer epoch, or -1.
    pub producer_epoch: i16,
    /// The first sequence number, or -1.
    pub base_sequence: i32,
    /// Whether it belongs to a transaction.
    pub transactional: bool,
    /// Whether it is a control batch (a transaction marker).
    pub control: bool,
    /// The batch as stored: what a fetch returns.
    pub bytes: Bytes,
}

impl StoredBatch {
    /// Reads the header fields of a whole batch.
    pub fn parse(bytes: Bytes) -> Result<Self, RecordsError> {
        let h = RecordBatchHeader::parse(&bytes)?;
        Ok(StoredBatch {
            base_offset: h.base_offset,
            last_offset: h.last_offset(),
            leader_epoch: h.partition_leader_epoch,
            max_timestamp: h.max_timestamp,
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            base_sequence: h.base_sequence,
            transactional: h.is_transactional(),
            control: h.is_control(),
            bytes,
        })
    }

    /// The offset after its last record.
    pub fn next_offset(&self) -> i64 {
        self.last_offset + 1
    }

    /// Decodes it (CRC checked, decompressed).
    pub fn decode(&self) -> Result<RecordBatch, RecordsError> {
        RecordBatch::decode(self.bytes.clone(), &DecodeOptions::default())
    }
}

/// An aborted transaction: what a read-committed fetch is told to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer id.
    pub producer_id: i64,
    /// The offset of the transaction's first record in this partition.
    pub first_offset: i64,
    /// The offset of its abort marker.
    pub last_offset: i64,
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// The offset of the first record.
    pub base_offset: i64,
    /// The offset of the last record.
    pub last_offset: i64,
    /// True when the batch was a duplicate of one already written (offsets are the original's).
    pub duplicate: bool,
}

/// Why an append was refused: a Kafka error code and a message for the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendError {
    /// The partition error code.
    pub code: ErrorCode,
    /// A human-readable reason.
    pub message: String,
}

impl AppendError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppendError {
            code,
            message: message.into(),
        }
    }
}

/// What an append from a client must respect.
#[derive(Debug, Clone, Copy)]
pub struct AppendRules {
    /// The leader epoch the batch is stamped with.
    pub leader_epoch: i32,
    /// The largest batch accepted (Kafka's `message.max.bytes`).
    pub max_message_bytes: usize,
    /// Whether zstd is allowed (Produce v7+).
    pub allow_zstd: bool,
}

/// The log of one partition.
#[derive(Debug, Clone)]
pub struct PartitionLog {
    batches: VecDeque<StoredBatch>,
    log_start: i64,
    log_end: i64,
    epochs: EpochCache,
    producers: ProducerStates,
    /// Open transactions: producer id → first offset.
    ongoing: BTreeMap<i64, i64>,
    aborted: Vec<AbortedTxn>,
    /// A high watermark held below the log end ([`PartitionLog::hold_high_watermark`]).
    held_high_watermark: Option<i64>,
}

impl PartitionLog {
    /// An empty log whose first leader has `leader_epoch`.
    pub fn new(leader_epoch: i32) -> Self {
        let mut epochs = EpochCache::default();
        epochs.assign(leader_epoch, 0);
        PartitionLog {
            batches: VecDeque::new(),
            log_start: 0,
            log_end: 0,
            epochs,
            producers: ProducerStates::default(),
            ongoing: BTreeMap::new(),
            aborted: Vec::new(),
            held_high_watermark: None,
        }
    }

    /// The first offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start
    }

    /// The offset the next record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end
    }

    /// The high watermark: the log end offset, since every replica is in sync, unless one is
    /// held below it ([`hold_high_watermark`](Self::hold_high_watermark)).
    pub fn high_watermark(&self) -> i64 {
        self.held_high_watermark
            .map_or(self.log_end, |held| held.min(self.log_end))
    }

    /// Holds the high watermark at `offset` (clamped to the log) until called with `None`: what
    /// a newly elected Kafka leader shows until its followers have fetched from it again (a
    /// follower learns the high watermark one fetch late). The records stay in the log.
    pub fn hold_high_watermark(&mut self, offset: Option<i64>) {
        self.held_high_watermark = offset.map(|o| o.clamp(self.log_start, self.log_end));
    }

    /// The last stable offset: the first offset of the oldest open transaction, else the high
    /// watermark.
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark();
        self.ongoing.values().copied().min().unwrap_or(hw).min(hw)
    }

    /// The leader epoch cache.
    pub fn epochs(&self) -> &EpochCache {
        &self.epochs
    }

    /// The stored batches, oldest first.
    pub fn batches(&self) -> impl Iterator<Item = &StoredBatch> {
        self.batches.iter()
    }

    /// A new leader epoch starts at the log end offset.
    pub fn become_leader(&mut self, epoch: i32) {
        self.epochs.assign(epoch, self.log_end);
    }

    /// Appends the record set of one Produce partition, validating it as Kafka does for a
    /// client append: exactly one magic-2 batch, base offset 0, a consistent offset range and
    /// record count, a valid CRC, records that parse with consecutive offset deltas, no control
    /// batch, and the idempotent producer's epoch and sequence.
    pub fn append_client(
        &mut self,
        records: &Bytes,
        rules: &AppendRules,
    ) -> Result<AppendInfo, AppendError> {
        let batch = single_batch(records)?;
        if batch.len() > rules.max_message_bytes {
            return Err(AppendError::new(
                ErrorCode::MessageTooLarge,
                format!(
                    "batch of {} bytes exceeds the maximum of {}",
                    batch.len(),
                    rules.max_message_bytes
                ),
            ));
        }
        let header = RecordBatchHeader::parse(&batch).map_err(corrupt)?;
        if header.base_offset != 0 {
            return Err(invalid(format!(
                "the base offset of a produced batch must be 0, not {}",
                header.base_offset
            )));
        }
        if !rules.allow_zstd && header.compression().ok() == Some(Compression::Zstd) {
            return Err(AppendError::new(
                ErrorCode::UnsupportedCompressionType,
                "zstd needs Produce v7 or later",
            ));
        }
        let decoded =
            RecordBatch::decode(batch.clone(), &DecodeOptions::default()).map_err(corrupt)?;
        check_batch_structure(&header, &decoded)?;
        let pid = header.producer_id;
        let last_seq = last_sequence(header.base_sequence, header.last_offset_delta);
        if pid >= 0 {
            match self
                .producers
                .check(pid, header.producer_epoch, header.base_sequence, last_seq)
                .map_err(|(code, message)| AppendError { code, message })?
            {
                SequenceCheck::Duplicate(meta) => {
                    return Ok(AppendInfo {
                        base_offset: meta.first_offset,
                        last_offset: meta.last_offset,
                        duplicate: true,
                    });
                }
                SequenceCheck::Append => {}
            }
        }
        let stored = self.push(&batch, rules.leader_epoch).map_err(corrupt)?;
        if pid >= 0 {
            self.producers.record(
                pid,
                header.producer_epoch,
                BatchMeta {
                    first_seq: header.base_sequence,
                    last_seq,
                    first_offset: stored.0,
                    last_offset: stored.1,
                },
            );
            if header.is_transactional() {
                self.ongoing.entry(pid).or_insert(stored.0);
            }
        }
        Ok(AppendInfo {
            base_offset: stored.0,
            last_offset: stored.1,
            duplicate: false,
        })
    }

    /// Writes a commit or abort marker for `pid`'s open transaction, returning its offset.
    pub fn append_marker(
        &mut self,
        pid: i64,
        producer_epoch: i16,
        commit: bool,
        leader_epoch: i32,
        timestamp: i64,
    ) -> Result<i64, AppendError> {
        let Some(first) = self.ongoing.remove(&pid) else {
            return Err(AppendError::new(
                ErrorCode::InvalidTxnState,
                format!("producer {pid} has no open transaction here"),
            ));
        };
        let marker = if commit {
            ControlRecord::commit(0)
        } else {
            ControlRecord::abort(0)
        };
        let spec = BatchSpec {
            producer_id: pid,
            producer_epoch,
            ..BatchSpec::default()
        };
        let mut buf = BytesMut::new();
        encode_control_batch(&spec, &marker, timestamp, &mut buf)
            .map_err(|e| AppendError::new(ErrorCode::UnknownServerError, e.to_string()))?;
        let (offset, _) = self.push(&buf.freeze(), leader_epoch).map_err(corrupt)?;
        self.producers.record_marker(pid, producer_epoch);
        if !commit {
            self.aborted.push(AbortedTxn {
                producer_id: pid,
                first_offset: first,
                last_offset: offset,
            });
        }
        Ok(offset)
    }

    /// Copies `batch`, stamps its base offset and leader epoch, and appends it.
    fn push(&mut self, batch: &Bytes, leader_epoch: i32) -> Result<(i64, i64), RecordsError> {
        let mut owned = BytesMut::from(&batch[..]);
        let base = self.log_end;
        owned[..8].copy_from_slice(&base.to_be_bytes());
        owned[LEADER_EPOCH_OFFSET..LEADER_EPOCH_OFFSET + 4]
            .copy_from_slice(&leader_epoch.to_be_bytes());
        let stored = StoredBatch::parse(owned.freeze())?;
        let range = (stored.base_offset, stored.last_offset);
        if self.epochs.latest() != Some(leader_epoch) {
            self.epochs.assign(leader_epoch, base);
        }
        self.log_end = stored.next_offset();
        self.batches.push_back(stored);
        Ok(range)
    }

    /// The index of the first batch holding offsets at or after `offset`.
    fn index_for(&self, offset: i64) -> usize {
        self.batches.partition_point(|b| b.last_offset < offset)
    }

    /// Reads from `offset` (validated by the caller to lie between the log start and end) up to
    /// `upper` (the high watermark or the last stable offset), at most `max_bytes`, Kafka's way:
    /// the read starts at the batch holding `offset`; when `min_one` is set the first batch is
    /// returned whole even if larger than `max_bytes` (KIP-74); otherwise a first batch that
    /// does not fit gives an empty read, and a later batch that does not fit is cut at the limit
    /// (the client drops the partial tail).
    #[cfg(test)]
    pub fn read(&self, offset: i64, max_bytes: usize, min_one: bool, upper: i64) -> Bytes {
        let parts = self.read_parts(offset, max_bytes, min_one, upper);
        match parts.len() {
            0 => Bytes::new(),
            1 => parts.into_iter().next().unwrap_or_default(),
            _ => {
                let mut out = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
                for p in &parts {
                    out.extend_from_slice(p);
                }
                out.freeze()
            }
        }
    }

    /// [`read`](Self::read) as the stored batches themselves (shared, not copied), the last
    /// one possibly cut.
    pub fn read_parts(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        upper: i64,
    ) -> Vec<Bytes> {
        let start = self.index_for(offset);
        let mut parts: Vec<Bytes> = Vec::new();
        let mut budget = max_bytes;
        for (i, b) in self.batches.iter().enumerate().skip(start) {
            if b.base_offset >= upper {
                break;
            }
            let len = b.bytes.len();
            if i == start && min_one {
                budget = budget.max(len);
            }
            if len <= budget {
                parts.push(b.bytes.clone());
                budget -= len;
            } else {
                if i != start && budget > 0 {
                    parts.push(b.bytes.slice(..budget));
                }
                break;
            }
        }
        parts
    }

    /// The offset after the last complete batch of a read that started at `offset` and returned
    /// `len` bytes: the upper end of the range its aborted transactions are collected for.
    pub fn read_upper_bound(&self, offset: i64, len: usize) -> i64 {
        let mut left = len;
        let mut upper = offset;
        for b in self.batches.iter().skip(self.index_for(offset)) {
            if b.bytes.len() > left {
                break;
            }
            left -= b.bytes.len();
            upper = b.next_offset();
        }
        upper
    }

    /// The aborted transactions overlapping `[start, upper)`, as `(producer id, first offset)`.
    pub fn aborted_between(&self, start: i64, upper: i64) -> Vec<(i64, i64)> {
        self.aborted
            .iter()
            .filter(|t| t.last_offset >= start && t.first_offset < upper)
            .map(|t| (t.producer_id, t.first_offset))
            .collect()
    }
}

fn corrupt(e: RecordsError) -> AppendError {
    AppendError::new(ErrorCode::CorruptMessage, e.to_string())
}

fn invalid(message: String) -> AppendError {
    AppendError::new(ErrorCode::InvalidRecord, message)
}

/// The one magic-2 batch a Produce partition (v3+) must hold.
fn single_batch(records: &Bytes) -> Result<Bytes, AppendError> {
    if records.len() < LOG_OVERHEAD {
        return Err(invalid(
            "a produce request must hold at least one record batch per partition".into(),
        ));
    }
    let declared = i32::from_be_bytes([records[8], records[9], records[10], records[11]]);
    let size = usize::try_from(declared)
        .ok()
        .filter(|&len| len >= RecordBatchHeader::MIN_BATCH_LENGTH as usize)
        .map(|len| len + LOG_OVERHEAD)
        .filter(|&size| size <= records.len())
        .ok_or_else(|| {
            AppendError::new(
                ErrorCode::CorruptMessage,
                format!("invalid batch length {declared}"),
            )
        })?;
    if records.get(MAGIC_OFFSET).copied() != Some(2) {
        return Err(invalid(
            "produce requests v3+ may only hold record batches with magic 2".into(),
        ));
    }
    if size != records.len() {
        return Err(invalid(
            "produce requests v3+ may hold exactly one record batch per partition".into(),
        ));
    }
    Ok(records.clone())
}

/// Kafka's structural checks of a client batch.
fn check_batch_structure(h: &RecordBatchHeader, batch: &RecordBatch) -> Result<(), AppendError> {
    if h.is_control() {
        return Err(invalid("clients may not write control batches".into()));
    }
    if h.record_count <= 0 {
        return Err(invalid(format!("invalid record count {}", h.record_count)));
    }
    if i64::from(h.last_offset_delta) + 1 != i64::from(h.record_count) {
        return Err(invalid(format!(
            "inconsistent batch: last offset delta {} with {} records",
            h.last_offset_delta, h.record_count
        )));
    }
    if h.producer_id >= 0 && h.base_sequence < 0 {
        return Err(invalid(format!(
            "producer {} sent an invalid sequence {}",
            h.producer_id, h.base_sequence
        )));
    }
    if h.is_transactional() && h.producer_id < 0 {
        return Err(invalid("a transactional batch needs a producer id".into()));
    }
    for (i, record) in batch.record_refs().enumerate() {
        let record = record.map_err(corrupt)?;
        if record.offset != h.base_offset + i as i64 {
            return Err(invalid(format!(
                "record {i} has offset delta {}, expected {i}",
                record.offset - h.base_offset
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
