//! Typed errors of record batch and message set decoding and encoding.

use crate::compression::CompressionError;
use crate::error::DecodeError;

/// A failure while decoding record batches, legacy message sets or the records in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// The bytes ended before `context` was complete (inside a batch whose length said they
    /// would be there; a batch cut at the end of a record set is not an error).
    #[error("input ended while reading {context}")]
    Truncated {
        /// What was being read.
        context: &'static str,
    },
    /// A length or size field is out of range: negative (and not the null marker), smaller than
    /// the structure's minimum, or larger than the bytes that contain it.
    #[error("invalid length {length} for {context}")]
    InvalidLength {
        /// What was being read.
        context: &'static str,
        /// The length found on the wire.
        length: i64,
    },
    /// The stored CRC does not match the one computed over the data.
    #[error("CRC mismatch: stored {expected:#010x}, computed {actual:#010x}")]
    CrcMismatch {
        /// The CRC stored in the batch or message.
        expected: u32,
        /// The CRC computed over the bytes.
        actual: u32,
    },
    /// A magic byte other than 0, 1 or 2.
    #[error("unknown magic byte {0}")]
    UnknownMagic(i8),
    /// The records section does not hold exactly the declared number of records: it ends
    /// before them, or bytes are left after them.
    #[error("records section does not hold the declared {declared} records")]
    RecordCountMismatch {
        /// The record count from the batch header.
        declared: i32,
    },
    /// Decompressing the records failed.
    #[error(transparent)]
    Compression(#[from] CompressionError),
    /// A compressed legacy message inside a compressed legacy message.
    #[error("compressed message nested inside a compressed message")]
    NestingTooDeep,
    /// A variable-length integer ran past its maximum width.
    #[error("varint overflow in {context}")]
    VarintOverflow {
        /// What was being read.
        context: &'static str,
    },
    /// A header key is not valid UTF-8.
    #[error("invalid UTF-8 in {context}")]
    InvalidUtf8 {
        /// The field.
        context: &'static str,
    },
    /// Bytes were left over after a structure that should have filled its space.
    #[error("{remaining} trailing bytes after {context}")]
    TrailingBytes {
        /// The structure that should have ended.
        context: &'static str,
        /// How many bytes were left.
        remaining: usize,
    },
    /// A value outside the domain of its field.
    #[error("invalid value in {context}")]
    InvalidValue {
        /// The field.
        context: &'static str,
    },
    /// Any other primitive decoding error.
    #[error(transparent)]
    Decode(DecodeError),
}

impl From<DecodeError> for RecordsError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Truncated { context } => Self::Truncated { context },
            DecodeError::InvalidLength { context, length } => {
                Self::InvalidLength { context, length }
            }
            DecodeError::VarintOverflow { context } => Self::VarintOverflow { context },
            DecodeError::InvalidUtf8 { context } => Self::InvalidUtf8 { context },
            DecodeError::InvalidValue { context } => Self::InvalidValue { context },
            DecodeError::TrailingBytes { context, remaining } => {
                Self::TrailingBytes { context, remaining }
            }
            other => Self::Decode(other),
        }
    }
}

/// A failure while encoding record batches or legacy message sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsEncodeError {
    /// A key, value, header, record or batch is larger than its length field can express.
    #[error("{context} is too long ({length} bytes)")]
    TooLong {
        /// What was being written.
        context: &'static str,
        /// Its length.
        length: usize,
    },
    /// Offset deltas must be non-negative and strictly increasing.
    #[error("offset delta {delta} is negative or not increasing")]
    InvalidOffsetDelta {
        /// The offending delta.
        delta: i64,
    },
    /// A timestamp delta does not fit, or offsets overflow.
    #[error("{context} overflows")]
    Overflow {
        /// What overflowed.
        context: &'static str,
    },
    /// Headers were given for a legacy (magic 0 or 1) message, which cannot carry them.
    #[error("legacy messages cannot carry headers")]
    HeadersNotSupported,
    /// A legacy message set with a magic other than 0 or 1 was requested.
    #[error("magic {0} is not a legacy message format")]
    InvalidMagic(i8),
    /// A compressed legacy wrapper needs at least one message.
    #[error("a compressed message set needs at least one message")]
    EmptyWrapper,
    /// Compressing the records failed.
    #[error(transparent)]
    Compression(#[from] CompressionError),
}
