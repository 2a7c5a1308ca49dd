//! Records written by the control API.

use bytes::{Bytes, BytesMut};
use gregor_protocol::records::{BatchSpec, NewHeader, NewRecord, RecordsEncodeError, encode_batch};

/// A record to write with [`MockCluster::produce`](super::MockCluster::produce) and friends.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MockRecord {
    /// The key, `None` for null.
    pub key: Option<Bytes>,
    /// The value, `None` for null (a tombstone).
    pub value: Option<Bytes>,
    /// The headers, in order.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// The timestamp in milliseconds; `None` uses the wall clock at write time.
    pub timestamp: Option<i64>,
}

impl MockRecord {
    /// A record with this key and value.
    pub fn new(key: Option<&[u8]>, value: Option<&[u8]>) -> Self {
        MockRecord {
            key: key.map(Bytes::copy_from_slice),
            value: value.map(Bytes::copy_from_slice),
            ..MockRecord::default()
        }
    }

    /// A record with a string key and value.
    pub fn kv(key: &str, value: &str) -> Self {
        Self::new(Some(key.as_bytes()), Some(value.as_bytes()))
    }

    /// A record with only a value.
    pub fn value(value: &str) -> Self {
        Self::new(None, Some(value.as_bytes()))
    }

    /// Sets the timestamp.
    pub fn at(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// Adds a header.
    pub fn header(mut self, key: &str, value: Option<&[u8]>) -> Self {
        self.headers
            .push((key.to_owned(), value.map(Bytes::copy_from_slice)));
        self
    }
}

/// Milliseconds since the Unix epoch, by the wall clock.
pub(crate) fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Encodes `records` as one batch with `spec`, as a producer would (base offset 0).
pub(crate) fn encode_records(
    spec: &BatchSpec,
    records: &[MockRecord],
) -> Result<Bytes, RecordsEncodeError> {
    let now = wall_clock_ms();
    let headers: Vec<Vec<NewHeader<'_>>> = records
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .map(|(k, v)| NewHeader::new(k, v.as_deref()))
                .collect()
        })
        .collect();
    let new: Vec<NewRecord<'_>> = records
        .iter()
        .zip(&headers)
        .map(|(r, hs)| {
            NewRecord::new(r.key.as_deref(), r.value.as_deref())
                .with_timestamp(r.timestamp.unwrap_or(now))
                .with_headers(hs)
        })
        .collect();
    let mut buf = BytesMut::new();
    encode_batch(spec, &new, &mut buf)?;
    Ok(buf.freeze())
}
