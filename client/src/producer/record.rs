//! What the caller hands the producer ([`ProducerRecord`]) and what it gets back
//! ([`DeliveryFuture`] resolving to [`RecordMetadata`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use gregor_protocol::records::Header;
use tokio::sync::oneshot;

use super::error::ProducerError;

/// A record to produce.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProducerRecord {
    /// The topic.
    pub topic: String,
    /// The partition; `None` lets the partitioner choose (by default: murmur2 of the key, or
    /// the sticky partition for records without a key).
    pub partition: Option<i32>,
    /// The key, `None` for null.
    pub key: Option<Bytes>,
    /// The value, `None` for null (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// The headers, in order (keys may repeat).
    pub headers: Vec<Header>,
    /// Milliseconds since the epoch; `None` takes the time of `send`.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with a value and nothing else.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the partition.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, key: impl Into<Bytes>, value: Option<Bytes>) -> Self {
        self.headers.push(Header {
            key: key.into(),
            value,
        });
        self
    }

    /// Sets the timestamp (milliseconds since the epoch).
    pub fn with_timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }
}

/// Where a record was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset; -1 when the broker does not say (`acks=0`, or a duplicate batch
    /// whose offsets the broker no longer reports).
    pub offset: i64,
    /// The record's timestamp: the broker's append time for topics with LogAppendTime, else
    /// the record's own.
    pub timestamp: i64,
}

/// The outcome of one record, delivered to its [`DeliveryFuture`].
pub(crate) type DeliveryResult = Result<RecordMetadata, ProducerError>;

/// Resolves when the record is acknowledged (or has failed for good). Dropping it does not
/// cancel the record.
#[derive(Debug)]
#[must_use = "a DeliveryFuture tells whether the record was written"]
pub struct DeliveryFuture {
    rx: oneshot::Receiver<DeliveryResult>,
}

impl DeliveryFuture {
    pub(crate) fn new(rx: oneshot::Receiver<DeliveryResult>) -> Self {
        Self { rx }
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, ProducerError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|r| match r {
            Ok(result) => result,
            // The sender task ended without resolving the record.
            Err(_) => Err(ProducerError::Closed),
        })
    }
}
