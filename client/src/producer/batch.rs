//! Records waiting to be sent, and the batches they travel in.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use gregor_protocol::compression::Compression;
use gregor_protocol::primitives::varint::{varint_len, varlong_len};
use gregor_protocol::records::{
    BatchSpec, Header, NewHeader, NewRecord, RecordBatchHeader, RecordsEncodeError, encode_batch,
};

use super::idempotence::BatchSequence;
use gregor_protocol::TopicPartition;

/// One record to produce, owned: key, value and headers are `Bytes`, so the caller's buffers
/// are shared, not copied, until the batch is encoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchRecord {
    /// The key, `None` for null.
    pub key: Option<Bytes>,
    /// The value, `None` for null (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// The headers, in order (keys may repeat).
    pub headers: Vec<Header>,
    /// The record's timestamp, milliseconds since the epoch.
    pub timestamp_ms: i64,
}

impl BatchRecord {
    /// A record without headers.
    pub fn new(key: Option<Bytes>, value: Option<Bytes>, timestamp_ms: i64) -> Self {
        Self {
            key,
            value,
            headers: Vec::new(),
            timestamp_ms,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, key: impl Into<Bytes>, value: Option<Bytes>) -> Self {
        self.headers.push(Header {
            key: key.into(),
            value,
        });
        self
    }

    /// The size of this record once encoded in a magic-2 batch at `offset_delta` and
    /// `timestamp_delta` from the batch's bases, length prefix included (exact, before
    /// compression).
    pub fn encoded_size(&self, offset_delta: i32, timestamp_delta: i64) -> usize {
        fn field(b: Option<&[u8]>) -> usize {
            b.map_or(1, |b| varint_len(len_i32(b.len())) + b.len())
        }
        let mut body = 1 + varlong_len(timestamp_delta) + varint_len(offset_delta);
        body += field(self.key.as_deref()) + field(self.value.as_deref());
        body += varint_len(len_i32(self.headers.len()));
        for h in &self.headers {
            body += field(Some(&h.key)) + field(h.value.as_deref());
        }
        varint_len(len_i32(body)) + body
    }
}

/// Lengths past `i32::MAX` cannot be encoded; sizing them as the largest varint keeps the
/// estimate an upper bound, and the encoder reports the error.
fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// A batch of records for one partition, from its first append until the caller releases it.
///
/// `C` is the caller's completion token for each record (a channel sender, a slot index...):
/// [`Accumulator::release`](super::Accumulator::release) hands the tokens back in record
/// order, record `i` having offset `base_offset + i`.
#[derive(Debug)]
pub struct ProducerBatch<C> {
    pub(super) tp: TopicPartition,
    /// Creation order among all batches of the accumulator: keeps retried batches in order.
    pub(super) id: u64,
    pub(super) records: Vec<BatchRecord>,
    pub(super) completions: Vec<C>,
    /// The encoded size estimate: header plus exact uncompressed record sizes.
    pub(super) size: usize,
    pub(super) created: Instant,
    /// How many times the batch was drained for sending.
    pub(super) attempts: u32,
    /// Not to be sent before this (retry backoff).
    pub(super) retry_at: Option<Instant>,
    /// No more appends (sent once, or followed by a newer batch).
    pub(super) closed: bool,
    pub(super) sequence: Option<BatchSequence>,
    pub(super) encoded: Option<Bytes>,
}

impl<C> ProducerBatch<C> {
    pub(super) fn new(tp: TopicPartition, id: u64, now: Instant) -> Self {
        Self {
            tp,
            id,
            records: Vec::new(),
            completions: Vec::new(),
            size: RecordBatchHeader::SIZE,
            created: now,
            attempts: 0,
            retry_at: None,
            closed: false,
            sequence: None,
            encoded: None,
        }
    }

    /// The size `record` adds when appended next.
    pub(super) fn size_of_next(&self, record: &BatchRecord) -> usize {
        let delta = self.records.first().map_or(0, |first| {
            record.timestamp_ms.saturating_sub(first.timestamp_ms)
        });
        record.encoded_size(len_i32(self.records.len()), delta)
    }

    pub(super) fn push(&mut self, record: BatchRecord, completion: C, size: usize) {
        self.records.push(record);
        self.completions.push(completion);
        self.size += size;
    }

    /// Encodes the records as one magic-2 batch with `sequence`'s producer fields (none when not
    /// idempotent) and keeps the bytes for sending (and resending).
    pub(super) fn encode(
        &mut self,
        compression: Compression,
        sequence: Option<BatchSequence>,
    ) -> Result<(), RecordsEncodeError> {
        let headers: Vec<Vec<NewHeader<'_>>> = self
            .records
            .iter()
            .map(|r| {
                r.headers
                    .iter()
                    .map(|h| NewHeader {
                        key: &h.key,
                        value: h.value.as_deref(),
                    })
                    .collect()
            })
            .collect();
        let records: Vec<NewRecord<'_>> = self
            .records
            .iter()
            .zip(&headers)
            .map(|(r, h)| NewRecord {
                offset_delta: None,
                timestamp: r.timestamp_ms,
                key: r.key.as_deref(),
                value: r.value.as_deref(),
                headers: h,
            })
            .collect();
        let mut spec = BatchSpec {
            compression,
            ..BatchSpec::default()
        };
        if let Some(s) = sequence {
            spec.producer_id = s.producer_id;
            spec.producer_epoch = s.epoch;
            spec.base_sequence = s.base_sequence;
        }
        let mut out = BytesMut::with_capacity(self.size);
        encode_batch(&spec, &records, &mut out)?;
        drop(records);
        drop(headers);
        self.encoded = Some(out.freeze());
        self.sequence = sequence;
        Ok(())
    }

    /// The partition the batch is for.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }

    /// The records, in order.
    pub fn records(&self) -> &[BatchRecord] {
        &self.records
    }

    /// The number of records.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// The completion tokens, in record order.
    pub fn completions(&self) -> &[C] {
        &self.completions
    }

    /// The estimated encoded size in bytes (batch header plus records, uncompressed): what
    /// `batch_size`, `max_request_size` and the memory limit are measured against.
    pub fn estimated_size(&self) -> usize {
        self.size
    }

    /// When the batch's first record was appended.
    pub fn created_at(&self) -> Instant {
        self.created
    }

    /// How many times the batch was drained for sending (more than 1: a retry).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The sequence the batch was last encoded with (idempotent producers).
    pub fn sequence(&self) -> Option<BatchSequence> {
        self.sequence
    }

    /// The encoded record batch, once drained: the `records` of the Produce request.
    pub fn encoded(&self) -> Option<&Bytes> {
        self.encoded.as_ref()
    }
}
