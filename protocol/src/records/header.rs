//! The fixed 61-byte header of a magic-2 record batch.

use bytes::BufMut;
use nom::Parser;
use nom::number::complete::{be_i8, be_i16, be_i32, be_i64, be_u32};

use super::error::RecordsError;
use crate::compression::{Compression, CompressionError};

/// The bytes before a batch's (or legacy message's) length-delimited body: the base offset
/// (int64) and the length (int32).
pub const LOG_OVERHEAD: usize = 12;
/// Where the magic byte sits in both magic-2 batches and legacy messages.
pub const MAGIC_OFFSET: usize = 16;
/// Where the CRC-32C of a magic-2 batch sits.
pub(crate) const CRC_OFFSET: usize = 17;
/// Where the CRC-covered part of a magic-2 batch starts (the attributes).
pub(crate) const ATTRIBUTES_OFFSET: usize = 21;
/// Where the record count of a magic-2 batch sits.
pub(crate) const RECORD_COUNT_OFFSET: usize = 57;

/// How the timestamps of a batch were assigned (attributes bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer (bit clear).
    #[default]
    CreateTime,
    /// Set by the broker when it appended the batch (bit set); every record then carries the
    /// batch's `max_timestamp`.
    LogAppendTime,
}

/// The header of a magic-2 record batch, every field as it is on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordBatchHeader {
    /// The offset of the first record (the base for every record's offset delta).
    pub base_offset: i64,
    /// The number of bytes after this field to the end of the batch.
    pub batch_length: i32,
    /// The leader epoch the batch was appended in (-1 if unknown).
    pub partition_leader_epoch: i32,
    /// The format version: 2.
    pub magic: i8,
    /// CRC-32C of everything from `attributes` to the end of the batch.
    pub crc: u32,
    /// Bits 0-2 codec, bit 3 timestamp type, bit 4 transactional, bit 5 control, bit 6 delete
    /// horizon present.
    pub attributes: i16,
    /// The offset delta of the last record (which may no longer exist after compaction).
    pub last_offset_delta: i32,
    /// The base for record timestamp deltas; the delete horizon if bit 6 is set.
    pub base_timestamp: i64,
    /// The largest record timestamp, or the log append time.
    pub max_timestamp: i64,
    /// The idempotent/transactional producer id, or -1.
    pub producer_id: i64,
    /// The producer epoch, or -1.
    pub producer_epoch: i16,
    /// The producer sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// The number of records in the batch.
    pub record_count: i32,
}

impl RecordBatchHeader {
    /// The encoded size of the header: the minimum size of a batch.
    pub const SIZE: usize = 61;
    /// The smallest valid `batch_length` (a batch with no records).
    pub const MIN_BATCH_LENGTH: i32 = (Self::SIZE - LOG_OVERHEAD) as i32;
    /// Attributes bit 3: log append time.
    pub const TIMESTAMP_TYPE_FLAG: i16 = 0x08;
    /// Attributes bit 4: transactional.
    pub const TRANSACTIONAL_FLAG: i16 = 0x10;
    /// Attributes bit 5: control batch.
    pub const CONTROL_FLAG: i16 = 0x20;
    /// Attributes bit 6: `base_timestamp` is the delete horizon.
    pub const DELETE_HORIZON_FLAG: i16 = 0x40;

    /// Parses the header fields from the first [`Self::SIZE`] bytes of `input`.
    ///
    /// Only the layout is read here; the magic, lengths and CRC are checked by the batch
    /// decoder.
    pub fn parse(input: &[u8]) -> Result<Self, RecordsError> {
        let parsed: nom::IResult<&[u8], _, nom::error::Error<&[u8]>> = (
            (be_i64, be_i32, be_i32, be_i8, be_u32, be_i16, be_i32),
            (be_i64, be_i64, be_i64, be_i16, be_i32, be_i32),
        )
            .parse(input);
        let (_, (a, b)) = parsed.map_err(|_| RecordsError::Truncated {
            context: "record batch header",
        })?;
        let (
            base_offset,
            batch_length,
            partition_leader_epoch,
            magic,
            crc,
            attributes,
            last_offset_delta,
        ) = a;
        let (
            base_timestamp,
            max_timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            record_count,
        ) = b;
        Ok(Self {
            base_offset,
            batch_length,
            partition_leader_epoch,
            magic,
            crc,
            attributes,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            record_count,
        })
    }

    /// Writes the header's [`Self::SIZE`] bytes as they are (no length or CRC computed).
    pub fn write(&self, out: &mut impl BufMut) {
        out.put_i64(self.base_offset);
        out.put_i32(self.batch_length);
        out.put_i32(self.partition_leader_epoch);
        out.put_i8(self.magic);
        out.put_u32(self.crc);
        out.put_i16(self.attributes);
        out.put_i32(self.last_offset_delta);
        out.put_i64(self.base_timestamp);
        out.put_i64(self.max_timestamp);
        out.put_i64(self.producer_id);
        out.put_i16(self.producer_epoch);
        out.put_i32(self.base_sequence);
        out.put_i32(self.record_count);
    }

    /// The codec of the records section (an error for codes 5-7).
    pub fn compression(&self) -> Result<Compression, CompressionError> {
        Compression::from_attributes(self.attributes)
    }

    /// How the timestamps were assigned.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & Self::TIMESTAMP_TYPE_FLAG != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch was written by a transactional producer.
    pub fn is_transactional(&self) -> bool {
        self.attributes & Self::TRANSACTIONAL_FLAG != 0
    }

    /// Whether the batch holds control records (transaction markers) rather than data.
    pub fn is_control(&self) -> bool {
        self.attributes & Self::CONTROL_FLAG != 0
    }

    /// The delete horizon set by compaction (attributes bit 6), which is then `base_timestamp`.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.attributes & Self::DELETE_HORIZON_FLAG != 0).then_some(self.base_timestamp)
    }

    /// The offset of the last record the batch was written with.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// The offset just past the batch: where the next fetch continues.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// The whole batch's size on the wire (`batch_length` plus the 12 leading bytes).
    pub fn size_in_bytes(&self) -> i64 {
        i64::from(self.batch_length) + LOG_OVERHEAD as i64
    }
}
