//! Record batches (magic 2) and legacy message sets (magic 0 and 1).
//!
//! The entry point for consumers is [`batches`]: it walks the `records` bytes of a Fetch
//! response partition and yields one [`DecodedBatch`] per magic-2 batch or top-level legacy
//! message, CRC checked and decompressed. Records are parsed lazily from there
//! ([`DecodedBatch::records`]), as `Bytes` slices of the fetched buffer (uncompressed) or of
//! one decompressed buffer per batch — nothing is allocated per record. Where records are
//! processed in place, [`RecordBatch::record_refs`] yields borrowed [`RecordRef`]s instead and
//! skips the two reference-count updates (and two on drop) that each owned record's key and
//! value cost: it is the fastest way through a batch.
//!
//! Producers, tests and mock brokers encode with [`RecordBatchBuilder`] / [`encode_batch`],
//! [`encode_control_batch`] and, for the legacy formats, [`encode_message_set`].
//!
//! ```
//! use bytes::BytesMut;
//! use gregor_protocol::records::{batches, encode_batch, BatchSpec, DecodeOptions, NewRecord};
//!
//! let mut buf = BytesMut::new();
//! let records = [NewRecord::new(Some(b"k"), Some(b"v")).with_timestamp(1_700_000_000_000)];
//! encode_batch(&BatchSpec { base_offset: 42, ..BatchSpec::default() }, &records, &mut buf)?;
//!
//! let mut set = batches(buf.freeze(), &DecodeOptions::default());
//! let batch = set.next().unwrap()?;
//! for record in batch.records() {
//!     let record = record?;
//!     assert_eq!(record.offset, 42);
//!     assert_eq!(record.value.as_deref(), Some(&b"v"[..]));
//! }
//! assert!(!set.truncated_tail());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod batch;
pub mod control;
mod crc32;
pub mod encode;
pub mod error;
pub mod header;
pub mod headers;
pub mod legacy;
pub mod legacy_encode;
pub mod record;
pub mod set;

pub use batch::{DecodeOptions, RecordBatch};
pub use control::{ControlRecord, ControlRecordKind};
pub use encode::{
    BatchSpec, NewHeader, NewRecord, RecordBatchBuilder, encode_batch, encode_control_batch,
};
pub use error::{RecordsEncodeError, RecordsError};
pub use header::{LOG_OVERHEAD, MAGIC_OFFSET, RecordBatchHeader, TimestampType};
pub use headers::{Header, HeaderRef, HeaderRefs, Headers, HeadersIter, HeadersRef};
pub use legacy::{LegacyBatch, LegacyRecords};
pub use legacy_encode::{LegacySpec, encode_message_set};
pub use record::{Record, RecordRef, RecordRefs, Records};
pub use set::{BatchRecords, DecodedBatch, RawBatch, RecordSetIter, batches};
