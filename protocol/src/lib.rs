//! gregor-protocol: sans-io codecs for the Kafka wire protocol.
//!
//! # Layout
//! - [`primitives`]: the wire types every message is made of (integers, varints, strings, byte
//!   arrays, arrays, UUIDs, tagged fields), classic and flexible (KIP-482).
//! - [`message`]: the [`Message`] and [`Request`] traits; [`api_key`] the API keys.
//! - [`messages`]: one module per Kafka API, each a request and a response body described with
//!   `#[derive(Message)]`, which generates the versioned encoder, decoder and sampler.
//! - [`header`]: request and response headers; [`frame`]: size-prefixed frames.
//! - [`records`]: record batches (magic 2) and legacy message sets (magic 0/1);
//!   [`compression`]: the codecs inside them.
//! - [`error`]: typed decode/encode errors; [`error_code`]: Kafka's error-code table and the
//!   one classifier of codes ([`error_code::ErrorClass`]: stale metadata, stale coordinator,
//!   retriable, fatal).
//! - [`topic_partition`]: [`TopicPartition`], the partition name every gregor crate keys by.
//!
//! # Data flow
//! Outbound: a request struct → [`Message::encode`] in the negotiated version, behind a
//! [`header::RequestHeader`], framed with a length. Inbound: [`frame::FrameReader`] splits a byte
//! stream into frames without copying; the header and then the body decode from the frame's
//! `Bytes`, and record data stays a `Bytes` slice of it until [`records`] iterates it lazily.
//! Nothing here does I/O.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api_key;
mod apis;
pub mod compression;
pub mod error;
pub mod error_code;
pub mod frame;
pub mod header;
pub mod message;
pub mod messages;
pub mod primitives;
pub mod records;
pub mod topic_partition;

pub use api_key::ApiKey;
pub use error::{DecodeError, EncodeError};
pub use error_code::{ErrorClass, ErrorCode};
pub use message::{Message, Request, VersionRange};
pub use topic_partition::TopicPartition;
