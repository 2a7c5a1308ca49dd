//! gregor-protocol: sans-io codecs for the Kafka wire protocol.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod compression;
pub mod error;
pub mod primitives;
pub mod records;

pub use error::{DecodeError, EncodeError};
