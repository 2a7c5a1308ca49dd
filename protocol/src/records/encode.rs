//! Encoding magic-2 record batches.

use bytes::{BufMut, Bytes, BytesMut};

use super::control::ControlRecord;
use super::error::RecordsEncodeError;
use super::header::{
    ATTRIBUTES_OFFSET, CRC_OFFSET, LOG_OVERHEAD, RecordBatchHeader, TimestampType,
};
use crate::compression::{self, Compression};
use crate::primitives::varint::{put_varint, put_varlong, varint_len, varlong_len};

/// One header of a record to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NewHeader<'a> {
    /// The key (UTF-8 by convention; written as given).
    pub key: &'a [u8],
    /// The value, or `None` for null.
    pub value: Option<&'a [u8]>,
}

impl<'a> NewHeader<'a> {
    /// A header with a string key.
    pub fn new(key: &'a str, value: Option<&'a [u8]>) -> Self {
        Self {
            key: key.as_bytes(),
            value,
        }
    }
}

/// One record to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NewRecord<'a> {
    /// The offset delta from the batch's base offset; `None` means the record's position.
    pub offset_delta: Option<i32>,
    /// The timestamp in milliseconds.
    pub timestamp: i64,
    /// The key, `None` for null.
    pub key: Option<&'a [u8]>,
    /// The value, `None` for null.
    pub value: Option<&'a [u8]>,
    /// The headers, in order (duplicates allowed).
    pub headers: &'a [NewHeader<'a>],
}

impl<'a> NewRecord<'a> {
    /// A record with a key and a value, timestamp 0 and no headers.
    pub fn new(key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Self {
        Self {
            key,
            value,
            ..Self::default()
        }
    }

    /// Sets the timestamp.
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// Sets the headers.
    pub fn with_headers(mut self, headers: &'a [NewHeader<'a>]) -> Self {
        self.headers = headers;
        self
    }

    /// Sets an explicit offset delta.
    pub fn with_offset_delta(mut self, delta: i32) -> Self {
        self.offset_delta = Some(delta);
        self
    }
}

/// The batch-level fields of a magic-2 batch to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchSpec {
    /// The offset of the first record (0 for a producer; the broker assigns offsets).
    pub base_offset: i64,
    /// The partition leader epoch (-1 for a producer).
    pub partition_leader_epoch: i32,
    /// The producer id, -1 if not idempotent.
    pub producer_id: i64,
    /// The producer epoch, -1 if not idempotent.
    pub producer_epoch: i16,
    /// The sequence number of the first record, -1 if not idempotent.
    pub base_sequence: i32,
    /// Sets the transactional attribute.
    pub transactional: bool,
    /// Sets the control attribute.
    pub control: bool,
    /// The timestamp type attribute. With log append time, `max_timestamp` is still the largest
    /// record timestamp, so a broker-side caller stamps the records with the append time.
    pub timestamp_type: TimestampType,
    /// The codec of the records section.
    pub compression: Compression,
    /// If set, stored as the base timestamp with attributes bit 6, record timestamps being
    /// encoded relative to it.
    pub delete_horizon_ms: Option<i64>,
    /// Overrides the last offset delta (it must not be below the last record's delta); needed
    /// for empty batches that keep an offset range, as compaction leaves them.
    pub last_offset_delta: Option<i32>,
}

impl Default for BatchSpec {
    fn default() -> Self {
        Self {
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            control: false,
            timestamp_type: TimestampType::CreateTime,
            compression: Compression::None,
            delete_horizon_ms: None,
            last_offset_delta: None,
        }
    }
}

impl BatchSpec {
    /// The attributes field these settings produce.
    pub fn attributes(&self) -> i16 {
        let mut attributes = i16::from(self.compression.code());
        if self.timestamp_type == TimestampType::LogAppendTime {
            attributes |= RecordBatchHeader::TIMESTAMP_TYPE_FLAG;
        }
        if self.transactional {
            attributes |= RecordBatchHeader::TRANSACTIONAL_FLAG;
        }
        if self.control {
            attributes |= RecordBatchHeader::CONTROL_FLAG;
        }
        if self.delete_horizon_ms.is_some() {
            attributes |= RecordBatchHeader::DELETE_HORIZON_FLAG;
        }
        attributes
    }
}

fn len_i32(len: usize, context: &'static str) -> Result<i32, RecordsEncodeError> {
    i32::try_from(len).map_err(|_| RecordsEncodeError::TooLong {
        context,
        length: len,
    })
}

/// The encoded size of a varint-length-prefixed nullable byte field.
fn bytes_field_len(
    field: Option<&[u8]>,
    context: &'static str,
) -> Result<usize, RecordsEncodeError> {
    Ok(match field {
        None => 1,
        Some(b) => varint_len(len_i32(b.len(), context)?) + b.len(),
    })
}

fn put_bytes_field(out: &mut impl BufMut, field: Option<&[u8]>) {
    match field {
        None => put_varint(out, -1),
        Some(b) => {
            // Lengths were checked to fit an i32 while sizing the record.
            put_varint(out, b.len() as i32);
            out.put_slice(b);
        }
    }
}

/// A record's position-resolved deltas.
struct Deltas {
    offset: i32,
    timestamp: i64,
}

/// Writes one record (length prefix included).
fn put_record(
    out: &mut impl BufMut,
    record: &NewRecord<'_>,
    d: &Deltas,
) -> Result<(), RecordsEncodeError> {
    let mut body = 1 + varlong_len(d.timestamp) + varint_len(d.offset);
    body += bytes_field_len(record.key, "record key")?;
    body += bytes_field_len(record.value, "record value")?;
    body += varint_len(len_i32(record.headers.len(), "record headers")?);
    for h in record.headers {
        body += bytes_field_len(Some(h.key), "header key")?;
        body += bytes_field_len(h.value, "header value")?;
    }
    put_varint(out, len_i32(body, "record")?);
    out.put_i8(0);
    put_varlong(out, d.timestamp);
    put_varint(out, d.offset);
    put_bytes_field(out, record.key);
    put_bytes_field(out, record.value);
    put_varint(out, record.headers.len() as i32);
    for h in record.headers {
        put_bytes_field(out, Some(h.key));
        put_bytes_field(out, h.value);
    }
    Ok(())
}

/// Resolves every record's offset delta (explicit, else its position), checking they are
/// non-negative and strictly increasing.
pub(crate) fn offset_deltas<'r>(
    records: &'r [NewRecord<'_>],
) -> impl Iterator<Item = Result<i32, RecordsEncodeError>> + 'r {
    let mut previous: i64 = -1;
    records.iter().enumerate().map(move |(i, r)| {
        let delta = match r.offset_delta {
            Some(d) => i64::from(d),
            None => i64::try_from(i).unwrap_or(i64::MAX),
        };
        if delta <= previous || delta > i64::from(i32::MAX) {
            return Err(RecordsEncodeError::InvalidOffsetDelta { delta });
        }
        previous = delta;
        Ok(delta as i32)
    })
}

/// Encodes a magic-2 batch of `records` with `spec`, appending it to `out`.
///
/// Computes the record deltas (base timestamp: the first record's, or the delete horizon),
/// `max_timestamp`, `last_offset_delta`, the batch length and the CRC-32C.
///
/// On error `out` is left as it was.
pub fn encode_batch(
    spec: &BatchSpec,
    records: &[NewRecord<'_>],
    out: &mut BytesMut,
) -> Result<(), RecordsEncodeError> {
    let start = out.len();
    let result = encode_batch_at(spec, records, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode_batch_at(
    spec: &BatchSpec,
    records: &[NewRecord<'_>],
    out: &mut BytesMut,
) -> Result<(), RecordsEncodeError> {
    let first_timestamp = records.first().map_or(-1, |r| r.timestamp);
    let base_timestamp = spec.delete_horizon_ms.unwrap_or(first_timestamp);
    let max_timestamp = records.iter().map(|r| r.timestamp).max().unwrap_or(-1);
    let mut last_delta = 0i32;

    let mut section = BytesMut::new();
    let start = out.len();
    let mut header = RecordBatchHeader {
        base_offset: spec.base_offset,
        batch_length: 0,
        partition_leader_epoch: spec.partition_leader_epoch,
        magic: 2,
        crc: 0,
        attributes: spec.attributes(),
        last_offset_delta: 0,
        base_timestamp,
        max_timestamp,
        producer_id: spec.producer_id,
        producer_epoch: spec.producer_epoch,
        base_sequence: spec.base_sequence,
        record_count: len_i32(records.len(), "record count")?,
    };
    header.write(out);
    {
        // Uncompressed records go straight to `out`; compressed ones through `section`.
        let target: &mut BytesMut = if spec.compression == Compression::None {
            &mut *out
        } else {
            &mut section
        };
        for (record, delta) in records.iter().zip(offset_deltas(records)) {
            let offset = delta?;
            let timestamp = record.timestamp.checked_sub(base_timestamp).ok_or(
                RecordsEncodeError::Overflow {
                    context: "timestamp delta",
                },
            )?;
            put_record(target, record, &Deltas { offset, timestamp })?;
            last_delta = offset;
        }
    }
    if spec.compression != Compression::None {
        compression::compress(spec.compression, &section, out)?;
    }
    if let Some(d) = spec.last_offset_delta {
        if d < last_delta || d < 0 {
            return Err(RecordsEncodeError::InvalidOffsetDelta {
                delta: i64::from(d),
            });
        }
        last_delta = d;
    }
    header.last_offset_delta = last_delta;
    header.batch_length = len_i32(out.len() - start - LOG_OVERHEAD, "record batch")?;
    let batch = out.get_mut(start..).unwrap_or_default();
    if let Some(mut fields) = batch.get_mut(LOG_OVERHEAD - 4..) {
        fields.put_i32(header.batch_length);
    }
    if let Some(mut fields) = batch.get_mut(ATTRIBUTES_OFFSET + 2..) {
        fields.put_i32(header.last_offset_delta);
    }
    let crc = crc32c::crc32c(batch.get(ATTRIBUTES_OFFSET..).unwrap_or_default());
    if let Some(mut fields) = batch.get_mut(CRC_OFFSET..) {
        fields.put_u32(crc);
    }
    Ok(())
}

/// Encodes a control batch holding one marker record, appending it to `out`.
///
/// The transactional and control attributes are set and compression is off, whatever `spec`
/// says; `spec` provides the offset and producer fields.
pub fn encode_control_batch(
    spec: &BatchSpec,
    marker: &ControlRecord,
    timestamp: i64,
    out: &mut BytesMut,
) -> Result<(), RecordsEncodeError> {
    let spec = BatchSpec {
        transactional: true,
        control: true,
        compression: Compression::None,
        ..*spec
    };
    let key = marker.encode_key();
    let value = marker.encode_value();
    let record = NewRecord::new(Some(&key), Some(&value)).with_timestamp(timestamp);
    encode_batch(&spec, &[record], out)
}

/// Collects records and encodes them as one magic-2 batch.
#[derive(Debug, Clone, Default)]
pub struct RecordBatchBuilder<'a> {
    spec: BatchSpec,
    records: Vec<NewRecord<'a>>,
}

impl<'a> RecordBatchBuilder<'a> {
    /// A builder for a batch with these batch-level fields.
    pub fn new(spec: BatchSpec) -> Self {
        Self {
            spec,
            records: Vec::new(),
        }
    }

    /// The batch-level fields, for adjustment.
    pub fn spec_mut(&mut self) -> &mut BatchSpec {
        &mut self.spec
    }

    /// Appends a record.
    pub fn push(&mut self, record: NewRecord<'a>) -> &mut Self {
        self.records.push(record);
        self
    }

    /// The records collected so far.
    pub fn records(&self) -> &[NewRecord<'a>] {
        &self.records
    }

    /// Encodes the batch, appending it to `out`.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), RecordsEncodeError> {
        encode_batch(&self.spec, &self.records, out)
    }

    /// Encodes the batch into a new buffer.
    pub fn build(&self) -> Result<Bytes, RecordsEncodeError> {
        let mut out = BytesMut::new();
        self.encode(&mut out)?;
        Ok(out.freeze())
    }
}
