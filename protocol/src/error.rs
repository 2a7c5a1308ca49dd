//! Typed errors of the codec layer.
//!
//! Every failure carries `&'static str` context (the field or structure being read), never a
//! formatted string, so errors are `Copy`, cheap, and comparable in tests.

/// A failure while decoding bytes that came from the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before `context` was complete.
    #[error("input ended while reading {context}")]
    Truncated {
        /// What was being read.
        context: &'static str,
    },
    /// A length or count prefix is negative (and not the null marker), or larger than the bytes left.
    #[error("invalid length {length} for {context}")]
    InvalidLength {
        /// What was being read.
        context: &'static str,
        /// The length found on the wire.
        length: i64,
    },
    /// A null (-1 length, or null marker) where the field is not nullable in this version.
    #[error("null value for non-nullable {context}")]
    UnexpectedNull {
        /// The field.
        context: &'static str,
    },
    /// A variable-length integer ran past its maximum width.
    #[error("varint overflow in {context}")]
    VarintOverflow {
        /// What was being read.
        context: &'static str,
    },
    /// A string was not valid UTF-8.
    #[error("invalid UTF-8 in {context}")]
    InvalidUtf8 {
        /// The field.
        context: &'static str,
    },
    /// A value outside the domain of its type (a boolean that is neither 0 nor 1, for example).
    #[error("invalid value in {context}")]
    InvalidValue {
        /// The field.
        context: &'static str,
    },
    /// Bytes were left over after a complete structure was decoded.
    #[error("{remaining} trailing bytes after {context}")]
    TrailingBytes {
        /// The structure that should have ended.
        context: &'static str,
        /// How many bytes were left.
        remaining: usize,
    },
    /// Tagged fields out of ascending order, or repeated.
    #[error("tagged field {tag} out of order in {context}")]
    TagOutOfOrder {
        /// The structure being read.
        context: &'static str,
        /// The offending tag.
        tag: u32,
    },
    /// The message version is outside the range this codec supports.
    #[error("{api} version {version} is not supported")]
    UnsupportedVersion {
        /// The message.
        api: &'static str,
        /// The requested version.
        version: i16,
    },
    /// A frame announced a size above the configured maximum.
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// The announced size.
        size: i64,
        /// The configured maximum.
        max: usize,
    },
}

/// A failure while encoding a value for the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A field holds a non-default value in a version that does not have the field.
    #[error("field {field} is not in version {version}")]
    FieldNotInVersion {
        /// The field.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// A field is null in a version where it is not nullable.
    #[error("field {field} cannot be null in version {version}")]
    NullNotAllowed {
        /// The field.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// The message version is outside the range this codec supports.
    #[error("{api} version {version} is not supported")]
    UnsupportedVersion {
        /// The message.
        api: &'static str,
        /// The requested version.
        version: i16,
    },
    /// A string, byte array or array is longer than its length prefix can express.
    #[error("{context} is too long ({length})")]
    TooLong {
        /// What was being written.
        context: &'static str,
        /// Its length.
        length: usize,
    },
}
