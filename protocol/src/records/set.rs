//! Walking a record set (the `records` field of a Fetch or Produce partition): a sequence of
//! magic-2 batches and/or legacy messages, told apart by the magic byte at offset 16.

use bytes::Bytes;

use super::batch::{DecodeOptions, RecordBatch};
use super::error::RecordsError;
use super::header::{ATTRIBUTES_OFFSET, LOG_OVERHEAD, MAGIC_OFFSET, RecordBatchHeader};
use super::legacy::{LegacyBatch, LegacyRecords, MIN_MESSAGE_SIZE_V0, min_message_size};
use super::record::{Record, Records};
use crate::compression::Compression;

/// One entry of a record set: a magic-2 batch or a top-level legacy message, behind one
/// interface so a consumer can treat them alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedBatch {
    /// A magic-2 record batch.
    V2(RecordBatch),
    /// A magic-0 or magic-1 message (a plain one, or a compressed wrapper and its inner set).
    Legacy(LegacyBatch),
}

impl DecodedBatch {
    /// The format version: 0, 1 or 2.
    pub fn magic(&self) -> i8 {
        match self {
            Self::V2(b) => b.header().magic,
            Self::Legacy(b) => b.magic(),
        }
    }

    /// The offset of the first record.
    pub fn base_offset(&self) -> i64 {
        match self {
            Self::V2(b) => b.header().base_offset,
            Self::Legacy(b) => b.base_offset(),
        }
    }

    /// The offset of the last record (for magic 2, as written: compaction may have removed it).
    pub fn last_offset(&self) -> i64 {
        match self {
            Self::V2(b) => b.header().last_offset(),
            Self::Legacy(b) => b.last_offset(),
        }
    }

    /// The offset to fetch from after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// Whether this is a control batch (never for legacy messages).
    pub fn is_control(&self) -> bool {
        matches!(self, Self::V2(b) if b.header().is_control())
    }

    /// Whether the batch belongs to a transaction (never for legacy messages).
    pub fn is_transactional(&self) -> bool {
        matches!(self, Self::V2(b) if b.header().is_transactional())
    }

    /// The producer id, -1 when none (always for legacy messages).
    pub fn producer_id(&self) -> i64 {
        match self {
            Self::V2(b) => b.header().producer_id,
            Self::Legacy(_) => -1,
        }
    }

    /// The producer epoch, -1 when none.
    pub fn producer_epoch(&self) -> i16 {
        match self {
            Self::V2(b) => b.header().producer_epoch,
            Self::Legacy(_) => -1,
        }
    }

    /// The leader epoch the batch was appended in, -1 if unknown (always for legacy messages).
    pub fn partition_leader_epoch(&self) -> i32 {
        match self {
            Self::V2(b) => b.header().partition_leader_epoch,
            Self::Legacy(_) => -1,
        }
    }

    /// The codec the records were compressed with.
    pub fn compression(&self) -> Compression {
        match self {
            Self::V2(b) => b.compression(),
            Self::Legacy(b) => b.compression(),
        }
    }

    /// The number of records the batch declares.
    pub fn record_count(&self) -> usize {
        match self {
            Self::V2(b) => b.record_count(),
            Self::Legacy(b) => b.record_count(),
        }
    }

    /// The magic-2 header, if this is a magic-2 batch.
    pub fn header(&self) -> Option<&RecordBatchHeader> {
        match self {
            Self::V2(b) => Some(b.header()),
            Self::Legacy(_) => None,
        }
    }

    /// Iterates the records lazily.
    pub fn records(&self) -> BatchRecords<'_> {
        match self {
            Self::V2(b) => BatchRecords::V2(b.records()),
            Self::Legacy(b) => BatchRecords::Legacy(b.records()),
        }
    }
}

/// Records of a [`DecodedBatch`], whatever its format.
#[derive(Debug, Clone)]
pub enum BatchRecords<'a> {
    /// Records of a magic-2 batch.
    V2(Records<'a>),
    /// Records of a legacy message or wrapper.
    Legacy(LegacyRecords<'a>),
}

impl Iterator for BatchRecords<'_> {
    type Item = Result<Record, RecordsError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::V2(r) => r.next(),
            Self::Legacy(r) => r.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Self::V2(r) => r.size_hint(),
            Self::Legacy(r) => r.size_hint(),
        }
    }
}

/// Iterator over the batches of a record set; see [`batches`].
#[derive(Debug, Clone)]
pub struct RecordSetIter {
    input: Bytes,
    pos: usize,
    opts: DecodeOptions,
    truncated: bool,
    done: bool,
}

/// Walks the batches of a record set (magic 2 and legacy magic 0/1, in any mix).
///
/// Each item is one decoded batch, its CRC checked and its records section decompressed; the
/// records themselves are parsed lazily. A last batch cut short (fewer bytes left than its
/// length announces, as brokers do at the fetch size limit) is not an error: iteration ends and
/// [`RecordSetIter::truncated_tail`] reports it. Any error ends the iteration after it is
/// yielded.
pub fn batches(input: Bytes, opts: &DecodeOptions) -> RecordSetIter {
    RecordSetIter::new(input, opts)
}

impl RecordSetIter {
    /// An iterator over the batches of `input`.
    pub fn new(input: Bytes, opts: &DecodeOptions) -> Self {
        Self {
            input,
            pos: 0,
            opts: *opts,
            truncated: false,
            done: false,
        }
    }

    /// Whether the record set ended with a partial batch, which was skipped.
    pub fn truncated_tail(&self) -> bool {
        self.truncated
    }

    /// How many bytes of the input the batches yielded so far took.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not consumed yet (the partial batch, once the iteration has ended on one).
    pub fn remaining(&self) -> Bytes {
        self.input.slice(self.pos.min(self.input.len())..)
    }

    /// Locates the next entry: `Ok(Some((magic, len)))`, `Ok(None)` at the end (sets
    /// `truncated` for a partial tail), or an error for impossible sizes and unknown magics.
    fn next_entry(&mut self) -> Result<Option<(i8, usize)>, RecordsError> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(None);
        }
        let Some(size) = rest.get(8..).and_then(|b| b.first_chunk::<4>()) else {
            self.truncated = true;
            return Ok(None);
        };
        let size = i32::from_be_bytes(*size);
        let invalid = RecordsError::InvalidLength {
            context: "batch length",
            length: i64::from(size),
        };
        let body = usize::try_from(size).map_err(|_| invalid)?;
        if body < MIN_MESSAGE_SIZE_V0 {
            return Err(invalid);
        }
        // The magic is checked as soon as it is there, even in a partial tail.
        let Some(&magic) = rest.get(MAGIC_OFFSET) else {
            self.truncated = true;
            return Ok(None);
        };
        let magic = magic as i8;
        let min = match magic {
            2 => RecordBatchHeader::SIZE - LOG_OVERHEAD,
            m => min_message_size(m).ok_or(RecordsError::UnknownMagic(m))?,
        };
        if body < min {
            return Err(invalid);
        }
        let len = body + LOG_OVERHEAD;
        if rest.len() < len {
            self.truncated = true;
            return Ok(None);
        }
        Ok(Some((magic, len)))
    }
}

impl RecordSetIter {
    /// The next entry, located and length-checked but not decoded: no CRC check, no
    /// decompression. [`RawBatch::decode`] does the rest, possibly later or on another task.
    /// Shares the iterator's position with [`Iterator::next`]; any error ends the iteration.
    pub fn next_raw(&mut self) -> Option<Result<RawBatch, RecordsError>> {
        if self.done {
            return None;
        }
        let (magic, len) = match self.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let bytes = self.input.slice(self.pos..self.pos + len);
        self.pos += len;
        Some(Ok(RawBatch { magic, bytes }))
    }
}

/// One entry of a record set, located but not decoded (see [`RecordSetIter::next_raw`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBatch {
    magic: i8,
    bytes: Bytes,
}

impl RawBatch {
    /// The format version: 0, 1 or 2.
    pub fn magic(&self) -> i8 {
        self.magic
    }

    /// The whole entry as on the wire (a slice of the record set).
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// For a magic-2 batch, its header (read from the uncompressed front; the CRC is checked
    /// by [`RawBatch::decode`]). `None` for legacy messages.
    pub fn header(&self) -> Option<RecordBatchHeader> {
        // The record set checked that a magic-2 entry holds a whole header.
        (self.magic == 2)
            .then(|| RecordBatchHeader::parse(&self.bytes).ok())
            .flatten()
    }

    /// For a magic-2 batch, checks its CRC-32C (covering everything from the attributes on)
    /// without decompressing it. Legacy messages pass: their CRC is checked when decoded.
    pub fn check_crc(&self) -> Result<(), RecordsError> {
        let Some(header) = self.header() else {
            return Ok(());
        };
        let actual = crc32c::crc32c(self.bytes.get(ATTRIBUTES_OFFSET..).unwrap_or_default());
        if actual == header.crc {
            Ok(())
        } else {
            Err(RecordsError::CrcMismatch {
                expected: header.crc,
                actual,
            })
        }
    }

    /// Decodes the entry: CRC check and decompression, as [`batches`] does.
    pub fn decode(&self, opts: &DecodeOptions) -> Result<DecodedBatch, RecordsError> {
        if self.magic == 2 {
            RecordBatch::decode(self.bytes.clone(), opts).map(DecodedBatch::V2)
        } else {
            LegacyBatch::decode(self.bytes.clone(), opts).map(DecodedBatch::Legacy)
        }
    }
}

impl Iterator for RecordSetIter {
    type Item = Result<DecodedBatch, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        let decoded = match self.next_raw()? {
            Ok(raw) => raw.decode(&self.opts),
            Err(e) => Err(e),
        };
        if decoded.is_err() {
            self.done = true;
        }
        Some(decoded)
    }
}

impl std::iter::FusedIterator for RecordSetIter {}
