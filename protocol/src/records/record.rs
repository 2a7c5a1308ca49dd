//! Records of a magic-2 batch, decoded lazily from the (decompressed) records section.
//!
//! This is the hot path of a consumer: each step parses a handful of varints on a borrowed
//! slice and hands out keys, values and the raw header section as `Bytes` slices of the one
//! buffer the batch owns. Nothing is allocated per record.

use std::ops::Range;

use bytes::Bytes;

use super::error::RecordsError;
use super::headers::{Headers, HeadersRef};
use crate::primitives::varint::{read_varint, read_varlong};

/// The smallest encoded record: a length and six one-byte fields.
pub(crate) const MIN_RECORD_SIZE: usize = 7;

/// One record, with its absolute offset and timestamp resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    /// The record's offset in the partition.
    pub offset: i64,
    /// Milliseconds since the epoch: creation time, or the log append time for batches of that
    /// timestamp type; -1 when the format has none (magic 0).
    pub timestamp: i64,
    /// The key, `None` when null.
    pub key: Option<Bytes>,
    /// The value, `None` when null (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// The headers (always empty for legacy messages).
    pub headers: Headers,
}

/// One record borrowed from its batch's records section: what [`RecordBatch::record_refs`]
/// yields. No reference count is touched, so this is the cheapest way to read records that are
/// processed in place.
///
/// [`RecordBatch::record_refs`]: super::RecordBatch::record_refs
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordRef<'a> {
    /// The record's offset in the partition.
    pub offset: i64,
    /// Milliseconds since the epoch (see [`Record::timestamp`]).
    pub timestamp: i64,
    /// The key, `None` when null.
    pub key: Option<&'a [u8]>,
    /// The value, `None` when null.
    pub value: Option<&'a [u8]>,
    /// The headers, decoded when iterated.
    pub headers: HeadersRef<'a>,
}

/// Where the fields of one record sit in the records section.
struct RawRecord {
    offset: i64,
    timestamp: i64,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
    /// The header section and its count (`None` when the count is 0).
    headers: Option<(Range<usize>, u32)>,
}

/// The parsing state shared by [`Records`] and [`RecordRefs`].
#[derive(Debug, Clone)]
struct Cursor {
    pos: usize,
    remaining: i32,
    declared: i32,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
    done: bool,
}

impl Cursor {
    fn new(
        count: i32,
        base_offset: i64,
        base_timestamp: i64,
        log_append_time: Option<i64>,
    ) -> Self {
        Self {
            pos: 0,
            remaining: count.max(0),
            declared: count,
            base_offset,
            base_timestamp,
            log_append_time,
            done: false,
        }
    }

    fn remaining(&self) -> usize {
        if self.done {
            0
        } else {
            self.remaining as usize
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (0, Some(self.remaining as usize + 1))
        }
    }

    /// The next record's field positions in `section`; an error at most once, then `None`.
    #[inline(always)]
    fn next_raw(&mut self, section: &[u8]) -> Option<Result<RawRecord, RecordsError>> {
        if self.done {
            return None;
        }
        if self.remaining == 0 {
            self.done = true;
            return (self.pos != section.len()).then_some(Err(RecordsError::RecordCountMismatch {
                declared: self.declared,
            }));
        }
        self.remaining -= 1;
        let record = self.parse(section);
        if record.is_err() {
            self.done = true;
        }
        Some(record)
    }

    #[inline(always)]
    fn parse(&mut self, section: &[u8]) -> Result<RawRecord, RecordsError> {
        if self.pos >= section.len() {
            return Err(RecordsError::RecordCountMismatch {
                declared: self.declared,
            });
        }
        let (len, p) = varint(section, self.pos, "record length")?;
        let invalid = RecordsError::InvalidLength {
            context: "record",
            length: i64::from(len),
        };
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| p.checked_add(l))
            .ok_or(invalid)?;
        // Every field read below is bounded by the record's end.
        let body = section.get(..end).ok_or(invalid)?;

        // attributes: int8, unused by every format version so far.
        if p >= end {
            return Err(RecordsError::Truncated {
                context: "record attributes",
            });
        }
        let (timestamp_delta, p) = varlong(body, p + 1, "record timestamp delta")?;
        let (offset_delta, p) = varint(body, p, "record offset delta")?;
        let (key, p) = bytes_field(body, p, "record key")?;
        let (value, p) = bytes_field(body, p, "record value")?;
        let (header_count, p) = varint(body, p, "header count")?;
        let left = end - p;
        let headers = if header_count == 0 {
            if left != 0 {
                return Err(RecordsError::TrailingBytes {
                    context: "record",
                    remaining: left,
                });
            }
            None
        } else {
            // Each header takes at least two bytes (two varint lengths).
            let count = u32::try_from(header_count)
                .ok()
                .filter(|&c| c as usize <= left / 2)
                .ok_or(RecordsError::InvalidLength {
                    context: "header count",
                    length: i64::from(header_count),
                })?;
            Some((p..end, count))
        };
        self.pos = end;
        Ok(RawRecord {
            offset: self.base_offset.wrapping_add(i64::from(offset_delta)),
            timestamp: match self.log_append_time {
                Some(t) => t,
                None => self.base_timestamp.wrapping_add(timestamp_delta),
            },
            key,
            value,
            headers,
        })
    }
}

#[inline(always)]
fn zigzag32(u: u32) -> i32 {
    ((u >> 1) as i32) ^ -((u & 1) as i32)
}

/// Reads a zig-zag varint at `p` of `buf`; returns it and the position after it. One- and
/// two-byte encodings (every length and delta of a typical record) take an inline fast path.
#[inline(always)]
fn varint(buf: &[u8], p: usize, context: &'static str) -> Result<(i32, usize), RecordsError> {
    if let Some(&b0) = buf.get(p) {
        if b0 < 0x80 {
            return Ok((zigzag32(u32::from(b0)), p + 1));
        }
        if let Some(&b1) = buf.get(p + 1) {
            if b1 < 0x80 {
                return Ok((zigzag32(u32::from(b0 & 0x7f) | u32::from(b1) << 7), p + 2));
            }
        }
    }
    varint_slow(buf, p, context)
}

#[cold]
#[inline(never)]
fn varint_slow(buf: &[u8], p: usize, context: &'static str) -> Result<(i32, usize), RecordsError> {
    let (v, n) = read_varint(buf.get(p..).unwrap_or_default(), context)?;
    Ok((v, p + n))
}

/// Reads a zig-zag varlong at `p` of `buf`, with the same fast path as [`varint`].
#[inline(always)]
fn varlong(buf: &[u8], p: usize, context: &'static str) -> Result<(i64, usize), RecordsError> {
    if let Some(&b0) = buf.get(p) {
        if b0 < 0x80 {
            return Ok((i64::from(zigzag32(u32::from(b0))), p + 1));
        }
        if let Some(&b1) = buf.get(p + 1) {
            if b1 < 0x80 {
                let u = u32::from(b0 & 0x7f) | u32::from(b1) << 7;
                return Ok((i64::from(zigzag32(u)), p + 2));
            }
        }
    }
    varlong_slow(buf, p, context)
}

#[cold]
#[inline(never)]
fn varlong_slow(buf: &[u8], p: usize, context: &'static str) -> Result<(i64, usize), RecordsError> {
    let (v, n) = read_varlong(buf.get(p..).unwrap_or_default(), context)?;
    Ok((v, p + n))
}

/// Reads a varint-length-prefixed nullable byte field at `p` of `body` (the records section up
/// to the record's end); returns its range and the position after it.
#[inline(always)]
fn bytes_field(
    body: &[u8],
    p: usize,
    context: &'static str,
) -> Result<(Option<Range<usize>>, usize), RecordsError> {
    let (len, p) = varint(body, p, context)?;
    if len < 0 {
        if len == -1 {
            return Ok((None, p));
        }
        return Err(RecordsError::InvalidLength {
            context,
            length: i64::from(len),
        });
    }
    let end = p + len as usize;
    if end > body.len() {
        return Err(RecordsError::InvalidLength {
            context,
            length: i64::from(len),
        });
    }
    Ok((Some(p..end), end))
}

/// Lazy iterator over the records of a [`RecordBatch`](super::RecordBatch), as owned
/// [`Record`]s whose keys, values and headers are `Bytes` slices of the batch's buffer.
///
/// Yields `Ok(Record)` for each of the declared records, then checks the section was used up
/// exactly: a section that ends early or has bytes left over yields one
/// [`RecordsError::RecordCountMismatch`]. After any error the iterator ends.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    data: &'a Bytes,
    cursor: Cursor,
}

impl<'a> Records<'a> {
    pub(crate) fn new(
        data: &'a Bytes,
        count: i32,
        base_offset: i64,
        base_timestamp: i64,
        log_append_time: Option<i64>,
    ) -> Self {
        Self {
            data,
            cursor: Cursor::new(count, base_offset, base_timestamp, log_append_time),
        }
    }

    /// How many records are still to come (if the data is well formed).
    pub fn remaining(&self) -> usize {
        self.cursor.remaining()
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Record, RecordsError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let data = self.data;
        Some(match self.cursor.next_raw(data)? {
            // Built in place: the record is assembled directly in the returned value.
            Ok(raw) => Ok(Record {
                offset: raw.offset,
                timestamp: raw.timestamp,
                key: raw.key.map(|r| data.slice(r)),
                value: raw.value.map(|r| data.slice(r)),
                headers: match raw.headers {
                    None => Headers::default(),
                    Some((r, count)) => Headers::from_raw(data.slice(r), count),
                },
            }),
            Err(e) => Err(e),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.cursor.size_hint()
    }
}

/// Lazy iterator over the records of a [`RecordBatch`](super::RecordBatch), borrowed
/// ([`RecordRef`]); same checks and errors as [`Records`].
#[derive(Debug, Clone)]
pub struct RecordRefs<'a> {
    data: &'a [u8],
    cursor: Cursor,
}

impl<'a> RecordRefs<'a> {
    pub(crate) fn new(
        data: &'a [u8],
        count: i32,
        base_offset: i64,
        base_timestamp: i64,
        log_append_time: Option<i64>,
    ) -> Self {
        Self {
            data,
            cursor: Cursor::new(count, base_offset, base_timestamp, log_append_time),
        }
    }

    /// How many records are still to come (if the data is well formed).
    pub fn remaining(&self) -> usize {
        self.cursor.remaining()
    }
}

impl<'a> Iterator for RecordRefs<'a> {
    type Item = Result<RecordRef<'a>, RecordsError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let data: &'a [u8] = self.data;
        let slice = |r: Range<usize>| data.get(r).unwrap_or_default();
        Some(match self.cursor.next_raw(data)? {
            Ok(raw) => Ok(RecordRef {
                offset: raw.offset,
                timestamp: raw.timestamp,
                key: raw.key.map(slice),
                value: raw.value.map(slice),
                headers: match raw.headers {
                    None => HeadersRef::default(),
                    Some((r, count)) => HeadersRef::from_raw(slice(r), count),
                },
            }),
            Err(e) => Err(e),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.cursor.size_hint()
    }
}
