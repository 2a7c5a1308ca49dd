//! Decoding one magic-2 record batch.

use bytes::Bytes;

use super::control::ControlRecord;
use super::error::RecordsError;
use super::header::{
    ATTRIBUTES_OFFSET, LOG_OVERHEAD, RECORD_COUNT_OFFSET, RecordBatchHeader, TimestampType,
};
use super::record::{MIN_RECORD_SIZE, Record, RecordRefs, Records};
use crate::compression::{self, Compression};

/// Settings of the record decoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Check the CRC of every batch (CRC-32C) and legacy message (CRC-32). On by default.
    pub verify_crc: bool,
    /// The most bytes one compressed batch (or legacy wrapper) may decompress to.
    pub max_decompressed_bytes: usize,
}

impl DecodeOptions {
    /// The default cap on a batch's decompressed size: 64 MiB.
    pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            verify_crc: true,
            max_decompressed_bytes: Self::DEFAULT_MAX_DECOMPRESSED_BYTES,
        }
    }
}

/// A decoded magic-2 record batch: its header and its records section, decompressed.
///
/// The CRC was checked (unless disabled) when the batch was decoded; the records themselves
/// are parsed lazily by [`RecordBatch::records`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    header: RecordBatchHeader,
    data: Bytes,
}

impl RecordBatch {
    /// Decodes one whole batch: `batch` must hold exactly `12 + batch_length` bytes.
    ///
    /// Checks the magic, the length, the CRC-32C (if `opts.verify_crc`), the record count's
    /// plausibility and the codec, then decompresses the records section (capped at
    /// `opts.max_decompressed_bytes`). A batch whose count is 0 is not decompressed.
    pub fn decode(batch: Bytes, opts: &DecodeOptions) -> Result<Self, RecordsError> {
        let header = RecordBatchHeader::parse(&batch)?;
        if header.magic != 2 {
            return Err(RecordsError::UnknownMagic(header.magic));
        }
        let body_len = batch.len() - LOG_OVERHEAD;
        if header.batch_length < RecordBatchHeader::MIN_BATCH_LENGTH
            || usize::try_from(header.batch_length).ok() != Some(body_len)
        {
            return Err(RecordsError::InvalidLength {
                context: "record batch length",
                length: i64::from(header.batch_length),
            });
        }
        if opts.verify_crc {
            let actual = crc32c::crc32c(batch.get(ATTRIBUTES_OFFSET..).unwrap_or_default());
            if actual != header.crc {
                return Err(RecordsError::CrcMismatch {
                    expected: header.crc,
                    actual,
                });
            }
        }
        if header.record_count < 0 {
            return Err(RecordsError::InvalidLength {
                context: "record count",
                length: i64::from(header.record_count),
            });
        }
        let codec = header.compression()?;
        let section = batch.slice(RecordBatchHeader::SIZE..);
        let data = match codec {
            Compression::None => section,
            _ if header.record_count == 0 => Bytes::new(),
            _ => compression::decompress(codec, &section, opts.max_decompressed_bytes)?,
        };
        // Every record takes at least MIN_RECORD_SIZE bytes: reject impossible counts up front,
        // so nobody sizes anything from a count the data cannot hold.
        if header.record_count as usize > data.len() / MIN_RECORD_SIZE {
            return Err(RecordsError::RecordCountMismatch {
                declared: header.record_count,
            });
        }
        Ok(Self { header, data })
    }

    /// The batch header.
    pub fn header(&self) -> &RecordBatchHeader {
        &self.header
    }

    /// The records section, decompressed.
    pub fn records_data(&self) -> &Bytes {
        &self.data
    }

    /// The declared number of records.
    pub fn record_count(&self) -> usize {
        // Checked non-negative by `decode`.
        self.header.record_count.max(0) as usize
    }

    /// The codec the records section was compressed with.
    pub fn compression(&self) -> Compression {
        // Checked valid by `decode`.
        self.header.compression().unwrap_or_default()
    }

    /// Iterates the records lazily.
    pub fn records(&self) -> Records<'_> {
        let log_append_time = (self.header.timestamp_type() == TimestampType::LogAppendTime)
            .then_some(self.header.max_timestamp);
        Records::new(
            &self.data,
            self.header.record_count,
            self.header.base_offset,
            self.header.base_timestamp,
            log_append_time,
        )
    }

    /// Iterates the records lazily as borrowed [`RecordRef`](super::RecordRef)s: the fastest
    /// way through a batch (no reference counting per record), for records processed in place.
    pub fn record_refs(&self) -> RecordRefs<'_> {
        let log_append_time = (self.header.timestamp_type() == TimestampType::LogAppendTime)
            .then_some(self.header.max_timestamp);
        RecordRefs::new(
            &self.data,
            self.header.record_count,
            self.header.base_offset,
            self.header.base_timestamp,
            log_append_time,
        )
    }

    /// For a control batch, the control record of its first record (Kafka writes one per
    /// batch). `None` for data batches and empty control batches.
    pub fn control_record(&self) -> Option<Result<ControlRecord, RecordsError>> {
        if !self.header.is_control() {
            return None;
        }
        self.records()
            .next()
            .map(|r| r.and_then(|r: Record| ControlRecord::from_record(&r)))
    }
}

/// The record count position is part of the header layout; keep the constant referenced.
const _: () = assert!(RECORD_COUNT_OFFSET + 4 == RecordBatchHeader::SIZE);
