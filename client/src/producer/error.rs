//! [`ProducerError`]: the ways a record can fail to be produced. Connection and broker
//! failures every request shares are [`ClientError`]s, carried as
//! [`ProducerError::Client`] (the producer's errors wrap the client's, never the other way
//! round).

use gregor_protocol::ErrorCode;
use gregor_protocol::records::RecordsEncodeError;

use crate::ClientError;

/// Why a record was refused by `send` or failed after it was accepted, or why a producer
/// could not be made.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProducerError {
    /// The record can never be sent: alone in a batch it exceeds a limit. Refused by `send`.
    #[error("record of {size} bytes (in its own batch) exceeds {limit_name} of {limit} bytes")]
    RecordTooLarge {
        /// The size of a batch holding only this record, before compression.
        size: usize,
        /// The limit.
        limit: usize,
        /// Which setting the limit is (`max_request_size` or `buffer_memory`).
        limit_name: &'static str,
    },
    /// `buffer.memory` stayed full for `max.block.ms`. Refused by `send`.
    #[error("producer buffer full for max.block.ms: {requested} bytes needed, {available} free")]
    BufferFull {
        /// The bytes the record needed.
        requested: usize,
        /// The bytes free when the wait ended.
        available: usize,
    },
    /// The topic's partitions were not known within `max.block.ms` (the topic does not exist,
    /// or no broker answered). Refused by `send`.
    #[error("no metadata for topic {topic:?} within max.block.ms")]
    MetadataUnavailable {
        /// The topic.
        topic: String,
        /// The error of the last metadata attempt for it, if it failed.
        #[source]
        last_error: Option<Box<ClientError>>,
    },
    /// The record names a partition the topic does not have. Refused by `send`.
    #[error("topic {topic:?} has {count} partitions; partition {partition} does not exist")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition the record named (or the partitioner chose).
        partition: i32,
        /// The topic's partition count.
        count: i32,
    },
    /// The record was not acknowledged within `delivery.timeout.ms` (retries included).
    #[error("record not acknowledged within delivery.timeout.ms after {attempts} attempts")]
    DeliveryTimeout {
        /// How many times its batch was sent.
        attempts: u32,
    },
    /// Every retry allowed by `retries` failed.
    #[error("record failed after {attempts} attempts (retries exhausted)")]
    RetriesExhausted {
        /// How many times its batch was sent.
        attempts: u32,
        /// The error of the last attempt.
        #[source]
        last_error: Box<ProducerError>,
    },
    /// The broker rejected the record's batch with an error that retrying cannot fix.
    #[error("broker rejected the batch ({code}): {message:?}")]
    Rejected {
        /// The broker's error code.
        code: ErrorCode,
        /// The broker's explanation (Produce v8+), with the offending records' messages.
        message: Option<String>,
    },
    /// The batch could not be encoded.
    #[error("record batch cannot be encoded: {0}")]
    Encode(RecordsEncodeError),
    /// The idempotent producer could not get a producer id, so nothing can be sent.
    #[error("the producer cannot continue")]
    Fatal(#[source] Box<ClientError>),
    /// The producer was closed before the record was accepted (or its sender task ended).
    #[error("the producer is closed")]
    Closed,
    /// A failure of the client underneath: a connection or broker error the producer does not
    /// retry (an unsupported API, an undecodable answer, ...), a configuration the producer
    /// cannot run with, or [`Producer::new`](super::Producer::new) called outside a tokio
    /// runtime.
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl From<crate::config::ConfigError> for ProducerError {
    fn from(error: crate::config::ConfigError) -> Self {
        ProducerError::Client(error.into())
    }
}
