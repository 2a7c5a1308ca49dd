//! Legacy message sets: magic 0 and magic 1 messages, including compressed wrappers.
//!
//! A message is `offset: int64, size: int32, crc: uint32, magic: int8, attributes: int8,
//! [timestamp: int64 (magic 1)], key: bytes, value: bytes`, where `bytes` is an int32 length
//! (-1 for null) and the data; the CRC-32 (IEEE) covers `magic` to the end. A compressed message
//! (attributes bits 0-2) is a *wrapper* whose value is a compressed message set. In magic 1 the
//! inner offsets are relative: the wrapper carries the absolute offset of the last inner message,
//! so `absolute = wrapper offset - last inner offset + inner offset`; in magic 0 they are
//! absolute. Wrappers never nest.

use bytes::Bytes;

use super::batch::DecodeOptions;
use super::crc32::crc32;
use super::error::RecordsError;
use super::header::{LOG_OVERHEAD, TimestampType};
use super::headers::Headers;
use super::record::Record;
use crate::compression::{self, Compression};

/// The smallest magic-0 message body (crc, magic, attributes, two null lengths).
pub(crate) const MIN_MESSAGE_SIZE_V0: usize = 14;
/// The smallest magic-1 message body (adds the timestamp).
pub(crate) const MIN_MESSAGE_SIZE_V1: usize = 22;
/// Attributes bit 3 of a magic-1 message: log append time.
const TIMESTAMP_TYPE_FLAG: i8 = 0x08;

/// The smallest body of a message with `magic`, or `None` for other magics.
pub(crate) fn min_message_size(magic: i8) -> Option<usize> {
    match magic {
        0 => Some(MIN_MESSAGE_SIZE_V0),
        1 => Some(MIN_MESSAGE_SIZE_V1),
        _ => None,
    }
}

/// One parsed legacy message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Message {
    offset: i64,
    crc: u32,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

fn read_i32(buf: &[u8], at: usize, context: &'static str) -> Result<i32, RecordsError> {
    buf.get(at..)
        .and_then(|b| b.first_chunk::<4>())
        .map(|b| i32::from_be_bytes(*b))
        .ok_or(RecordsError::Truncated { context })
}

fn read_i64(buf: &[u8], at: usize, context: &'static str) -> Result<i64, RecordsError> {
    buf.get(at..)
        .and_then(|b| b.first_chunk::<8>())
        .map(|b| i64::from_be_bytes(*b))
        .ok_or(RecordsError::Truncated { context })
}

/// Reads an int32-length-prefixed nullable byte field at `*p` of `data`.
fn read_bytes(
    data: &Bytes,
    end: usize,
    p: &mut usize,
    context: &'static str,
) -> Result<Option<Bytes>, RecordsError> {
    let len = read_i32(data.get(..end).unwrap_or_default(), *p, context)?;
    *p += 4;
    if len == -1 {
        return Ok(None);
    }
    let invalid = RecordsError::InvalidLength {
        context,
        length: i64::from(len),
    };
    let len = usize::try_from(len).map_err(|_| invalid)?;
    if len > end - *p {
        return Err(invalid);
    }
    let start = *p;
    *p += len;
    Ok(Some(data.slice(start..*p)))
}

/// The length of the message starting at `at` in `data` (header included), checked to fit.
fn message_len(data: &[u8], at: usize) -> Result<usize, RecordsError> {
    let size = read_i32(data, at + 8, "message size")?;
    let magic = data.get(at + 16).map(|&m| m as i8);
    let min = magic
        .and_then(min_message_size)
        .unwrap_or(MIN_MESSAGE_SIZE_V0);
    let invalid = RecordsError::InvalidLength {
        context: "message size",
        length: i64::from(size),
    };
    let size = usize::try_from(size).map_err(|_| invalid)?;
    if size < min {
        return Err(invalid);
    }
    if size > data.len() - at - LOG_OVERHEAD {
        return Err(RecordsError::Truncated { context: "message" });
    }
    Ok(size + LOG_OVERHEAD)
}

/// Parses the message occupying `data[at..end]` exactly.
fn parse_message(
    data: &Bytes,
    at: usize,
    end: usize,
    verify_crc: bool,
) -> Result<Message, RecordsError> {
    let buf = data.get(..end).unwrap_or_default();
    let offset = read_i64(buf, at, "message offset")?;
    let size = read_i32(buf, at + 8, "message size")?;
    let invalid = RecordsError::InvalidLength {
        context: "message size",
        length: i64::from(size),
    };
    let body = end.checked_sub(at + LOG_OVERHEAD).ok_or(invalid)?;
    if usize::try_from(size).ok() != Some(body) {
        return Err(invalid);
    }
    let crc = read_i32(buf, at + 12, "message crc")? as u32;
    let magic = *buf.get(at + 16).ok_or(RecordsError::Truncated {
        context: "message magic",
    })? as i8;
    let min = min_message_size(magic).ok_or(RecordsError::UnknownMagic(magic))?;
    if body < min {
        return Err(invalid);
    }
    if verify_crc {
        let actual = crc32(buf.get(at + 16..).unwrap_or_default());
        if actual != crc {
            return Err(RecordsError::CrcMismatch {
                expected: crc,
                actual,
            });
        }
    }
    let attributes = *buf.get(at + 17).ok_or(RecordsError::Truncated {
        context: "message attributes",
    })? as i8;
    let mut p = at + 18;
    let timestamp = if magic == 1 {
        p += 8;
        read_i64(buf, at + 18, "message timestamp")?
    } else {
        -1
    };
    let key = read_bytes(data, end, &mut p, "message key")?;
    let value = read_bytes(data, end, &mut p, "message value")?;
    if p != end {
        return Err(RecordsError::TrailingBytes {
            context: "message",
            remaining: end - p,
        });
    }
    Ok(Message {
        offset,
        crc,
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

/// A decompressed inner message set and how to turn its offsets into absolute ones.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    data: Bytes,
    count: usize,
    /// Added to each inner offset (0 for magic-0 wrappers).
    offset_shift: i64,
    first_offset: i64,
    last_offset: i64,
}

/// One top-level legacy message: a plain message, or a compressed wrapper and its inner
/// messages. This is what a legacy record set yields per entry, the counterpart of a magic-2
/// [`RecordBatch`](super::RecordBatch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyBatch {
    message: Message,
    inner: Option<Inner>,
}

impl LegacyBatch {
    /// Decodes one top-level message, `message` holding exactly its `12 + size` bytes.
    ///
    /// A compressed wrapper is decompressed (capped), and its inner messages are all checked now
    /// (lengths, CRCs, no further compression), so that iterating them later cannot fail for
    /// structural reasons.
    pub fn decode(message: Bytes, opts: &DecodeOptions) -> Result<Self, RecordsError> {
        let end = message.len();
        let outer = parse_message(&message, 0, end, opts.verify_crc)?;
        let codec = Compression::from_attributes(i16::from(outer.attributes))?;
        if codec == Compression::None {
            return Ok(Self {
                message: outer,
                inner: None,
            });
        }
        let compressed = outer.value.as_deref().ok_or(RecordsError::InvalidValue {
            context: "compressed message value",
        })?;
        let cap = opts.max_decompressed_bytes;
        let data = match codec {
            Compression::Lz4 => compression::decompress_legacy_lz4(compressed, cap)?,
            _ => compression::decompress(codec, compressed, cap)?,
        };
        let mut count = 0usize;
        let mut first_offset = 0i64;
        let mut last_offset = 0i64;
        let mut at = 0usize;
        while at < data.len() {
            let len = message_len(&data, at)?;
            let inner = parse_message(&data, at, at + len, opts.verify_crc)?;
            if inner.attributes & (Compression::ATTRIBUTE_MASK as i8) != 0 {
                return Err(RecordsError::NestingTooDeep);
            }
            if count == 0 {
                first_offset = inner.offset;
            }
            last_offset = inner.offset;
            count += 1;
            at += len;
        }
        if count == 0 {
            return Err(RecordsError::InvalidLength {
                context: "compressed message set",
                length: 0,
            });
        }
        let offset_shift = if outer.magic == 0 {
            0
        } else {
            outer.offset.wrapping_sub(last_offset)
        };
        let inner = Inner {
            data,
            count,
            offset_shift,
            first_offset: first_offset.wrapping_add(offset_shift),
            last_offset: last_offset.wrapping_add(offset_shift),
        };
        Ok(Self {
            message: outer,
            inner: Some(inner),
        })
    }

    /// The magic byte (0 or 1) of the top-level message.
    pub fn magic(&self) -> i8 {
        self.message.magic
    }

    /// The top-level message's attributes.
    pub fn attributes(&self) -> i8 {
        self.message.attributes
    }

    /// The top-level message's stored CRC-32.
    pub fn crc(&self) -> u32 {
        self.message.crc
    }

    /// The offset stored in the top-level message (for a magic-1 wrapper, its last record's).
    pub fn wrapper_offset(&self) -> i64 {
        self.message.offset
    }

    /// The top-level timestamp (-1 for magic 0).
    pub fn timestamp(&self) -> i64 {
        self.message.timestamp
    }

    /// The timestamp type (always create time for magic 0).
    pub fn timestamp_type(&self) -> TimestampType {
        if self.message.magic > 0 && self.message.attributes & TIMESTAMP_TYPE_FLAG != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// The codec of a wrapper, or [`Compression::None`].
    pub fn compression(&self) -> Compression {
        Compression::from_attributes(i16::from(self.message.attributes)).unwrap_or_default()
    }

    /// The absolute offset of the first record.
    pub fn base_offset(&self) -> i64 {
        self.inner
            .as_ref()
            .map_or(self.message.offset, |i| i.first_offset)
    }

    /// The absolute offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.inner
            .as_ref()
            .map_or(self.message.offset, |i| i.last_offset)
    }

    /// The number of records (1 for a plain message).
    pub fn record_count(&self) -> usize {
        self.inner.as_ref().map_or(1, |i| i.count)
    }

    /// Iterates the records: the message itself, or a wrapper's inner messages.
    pub fn records(&self) -> LegacyRecords<'_> {
        LegacyRecords {
            batch: self,
            pos: 0,
            remaining: self.record_count(),
        }
    }
}

/// Lazy iterator over the records of a [`LegacyBatch`].
#[derive(Debug, Clone)]
pub struct LegacyRecords<'a> {
    batch: &'a LegacyBatch,
    pos: usize,
    remaining: usize,
}

impl LegacyRecords<'_> {
    fn next_inner(&mut self, inner: &Inner) -> Result<Record, RecordsError> {
        let len = message_len(&inner.data, self.pos)?;
        // CRCs were verified by `LegacyBatch::decode`.
        let message = parse_message(&inner.data, self.pos, self.pos + len, false)?;
        self.pos += len;
        let outer = &self.batch.message;
        let timestamp = if self.batch.timestamp_type() == TimestampType::LogAppendTime {
            outer.timestamp
        } else {
            message.timestamp
        };
        Ok(Record {
            offset: message.offset.wrapping_add(inner.offset_shift),
            timestamp,
            key: message.key,
            value: message.value,
            headers: Headers::default(),
        })
    }
}

impl Iterator for LegacyRecords<'_> {
    type Item = Result<Record, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let batch = self.batch;
        let record = match &batch.inner {
            None => Ok(Record {
                offset: batch.message.offset,
                timestamp: batch.message.timestamp,
                key: batch.message.key.clone(),
                value: batch.message.value.clone(),
                headers: Headers::default(),
            }),
            Some(inner) => self.next_inner(inner),
        };
        if record.is_err() {
            self.remaining = 0;
        }
        Some(record)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}
