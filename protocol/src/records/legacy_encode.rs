//! Encoding legacy (magic 0 and 1) message sets, for tests and mock brokers.

use bytes::{BufMut, BytesMut};

use super::crc32::crc32;
use super::encode::{NewRecord, offset_deltas};
use super::error::RecordsEncodeError;
use super::header::{LOG_OVERHEAD, TimestampType};
use crate::compression::{self, Compression};

/// The settings of a legacy message set to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LegacySpec {
    /// 0 or 1.
    pub magic: i8,
    /// The absolute offset of the first message.
    pub base_offset: i64,
    /// With a codec, the messages are wrapped in one compressed wrapper message.
    pub compression: Compression,
    /// Magic 1 only: sets attributes bit 3 on the top-level messages.
    pub timestamp_type: TimestampType,
}

impl Default for LegacySpec {
    fn default() -> Self {
        Self {
            magic: 1,
            base_offset: 0,
            compression: Compression::None,
            timestamp_type: TimestampType::CreateTime,
        }
    }
}

fn put_field(
    out: &mut BytesMut,
    field: Option<&[u8]>,
    context: &'static str,
) -> Result<(), RecordsEncodeError> {
    match field {
        None => out.put_i32(-1),
        Some(b) => {
            let len = i32::try_from(b.len()).map_err(|_| RecordsEncodeError::TooLong {
                context,
                length: b.len(),
            })?;
            out.put_i32(len);
            out.put_slice(b);
        }
    }
    Ok(())
}

/// Writes one message with its size and CRC-32.
fn put_message(
    out: &mut BytesMut,
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<(), RecordsEncodeError> {
    let start = out.len();
    out.put_i64(offset);
    out.put_i32(0); // size, patched below
    out.put_u32(0); // crc, patched below
    out.put_i8(magic);
    out.put_i8(attributes);
    if magic == 1 {
        out.put_i64(timestamp);
    }
    put_field(out, key, "message key")?;
    put_field(out, value, "message value")?;
    let size = out.len() - start - LOG_OVERHEAD;
    let size = i32::try_from(size).map_err(|_| RecordsEncodeError::TooLong {
        context: "message",
        length: size,
    })?;
    let message = out.get_mut(start..).unwrap_or_default();
    let crc = crc32(message.get(LOG_OVERHEAD + 4..).unwrap_or_default());
    if let Some(mut fields) = message.get_mut(8..) {
        fields.put_i32(size);
        fields.put_u32(crc);
    }
    Ok(())
}

/// Encodes `records` as a legacy message set, appending it to `out`.
///
/// Without compression each record becomes one message at `base_offset + offset delta`. With
/// compression the messages are compressed into the value of one wrapper message whose offset
/// is that of the last record; inner offsets are relative (the deltas) in magic 1 and absolute
/// in magic 0. Magic-0 LZ4 wrappers use Kafka's historical frame checksum. Headers are not
/// representable and are an error. On error `out` is left as it was.
pub fn encode_message_set(
    spec: &LegacySpec,
    records: &[NewRecord<'_>],
    out: &mut BytesMut,
) -> Result<(), RecordsEncodeError> {
    let start = out.len();
    let result = encode_message_set_at(spec, records, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode_message_set_at(
    spec: &LegacySpec,
    records: &[NewRecord<'_>],
    out: &mut BytesMut,
) -> Result<(), RecordsEncodeError> {
    if spec.magic != 0 && spec.magic != 1 {
        return Err(RecordsEncodeError::InvalidMagic(spec.magic));
    }
    if records.iter().any(|r| !r.headers.is_empty()) {
        return Err(RecordsEncodeError::HeadersNotSupported);
    }
    let ts_flag: i8 = if spec.magic == 1 && spec.timestamp_type == TimestampType::LogAppendTime {
        0x08
    } else {
        0
    };
    let absolute = |delta: i32| {
        spec.base_offset
            .checked_add(i64::from(delta))
            .ok_or(RecordsEncodeError::Overflow {
                context: "message offset",
            })
    };
    if spec.compression == Compression::None {
        for (record, delta) in records.iter().zip(offset_deltas(records)) {
            let offset = absolute(delta?)?;
            put_message(
                out,
                offset,
                spec.magic,
                ts_flag,
                record.timestamp,
                record.key,
                record.value,
            )?;
        }
        return Ok(());
    }
    if records.is_empty() {
        return Err(RecordsEncodeError::EmptyWrapper);
    }
    let mut inner = BytesMut::new();
    let mut last_delta = 0;
    for (record, delta) in records.iter().zip(offset_deltas(records)) {
        let delta = delta?;
        let offset = if spec.magic == 1 {
            i64::from(delta)
        } else {
            absolute(delta)?
        };
        put_message(
            &mut inner,
            offset,
            spec.magic,
            0,
            record.timestamp,
            record.key,
            record.value,
        )?;
        last_delta = delta;
    }
    let mut compressed = BytesMut::new();
    if spec.magic == 0 && spec.compression == Compression::Lz4 {
        compression::compress_legacy_lz4(&inner, &mut compressed)?;
    } else {
        compression::compress(spec.compression, &inner, &mut compressed)?;
    }
    let max_timestamp = records.iter().map(|r| r.timestamp).max().unwrap_or(-1);
    let attributes = spec.compression.code() as i8 | ts_flag;
    put_message(
        out,
        absolute(last_delta)?,
        spec.magic,
        attributes,
        max_timestamp,
        None,
        Some(&compressed),
    )
}
