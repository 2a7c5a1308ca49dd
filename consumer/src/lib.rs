//! gregor-consumer: the consumer side of the gregor Kafka client.
//!
//! This crate is being built. What exists so far is the sans-io planning core of a
//! Spark-Streaming-style *direct stream* (each batch is a set of offset ranges, one per
//! partition, planned from the latest offsets and per-partition rate limits, optionally
//! throttled by a backpressure rate estimator) and the fetch engine that reads such ranges.
//!
//! # Layout
//! - [`fetch`]: [`FetchEngine`] reads [`range::OffsetRange`]s through a `gregor_client::Client`:
//!   one fetch loop per broker (spawned lazily, KIP-227 incremental fetch sessions), one
//!   memory budget for all buffered data, per-range [`PartitionReader`]s yielding zero-copy
//!   [`RecordChunk`]s in offset order, `read_committed` filtering, and typed
//!   [`FetchError`]s (data loss, truncation, unknown partition, ...). Its sans-io parts are
//!   [`fetch::session`] (the fetch session), [`fetch::partition`] (planning one partition's
//!   data from batch headers; readers decode the planned batches) and [`fetch::budget`].
//! - [`read`]: [`read_ranges`], reading exactly given ranges (Spark's `createRDD`), with
//!   [`OnDataLoss`] saying what deleted offsets do.
//! - [`range`]: [`range::OffsetRange`] (`from` inclusive, `until` exclusive) of a
//!   [`TopicPartition`] (gregor-protocol's, the one partition type of the workspace, re-exported
//!   here and in [`range`]), [`range::ConsumedRange`] (a range with the records actually read) and
//!   [`range::merge_until`] (the offsets a commit stores).
//! - [`rate`]: [`rate::RateLimits`] (max/min records/s per partition, with per-partition
//!   overrides), [`rate::plan_batch`] (the next batch's ranges) and
//!   [`rate::PidRateEstimator`] (the backpressure PID rate estimator).
//! - [`store`]: where offsets live — the compare-and-set [`store::OffsetStore`] ("the stored end
//!   of each partition equals this batch's start", so a repeated or skipped range is refused),
//!   in memory or in an atomic, versioned [`store::CheckpointFile`].
//! - [`placement`]: which of N worker tasks processes each partition (consistent, by leader,
//!   or a fixed map).
//! - [`stream`]: the direct stream itself, [`stream::DirectStream`]: a
//!   [`stream::ConsumerStrategy`] (subscribe to topics or a pattern, or assign partitions)
//!   with starting offsets (explicit, stored, or the [`stream::StartingOffsets`] policy);
//!   each [`stream::Batch`] exposes its offset ranges (Spark's `HasOffsetRanges`) and one
//!   ordered reader per partition, placed on workers with [`placement`]. The settings come
//!   from code or from a Java consumer properties file ([`stream::ConsumerProperties`]
//!   splits it between the client and the stream); [`stream::DirectStream::into_batches`]
//!   makes the stream a `futures::Stream` of batches.
//!   [`store::KafkaCommits`] commits processed ranges to Kafka under a group id without
//!   joining the group (Spark's `CanCommitOffsets`).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod fetch;
pub mod placement;
pub mod range;
pub mod rate;
pub mod read;
pub mod store;
pub mod stream;

pub use fetch::{
    FetchConfig, FetchEngine, FetchError, IsolationLevel, PartitionReader, RecordChunk,
};
pub use gregor_protocol::TopicPartition;
pub use read::{OnDataLoss, RangeRead, RangeRecords, ReadOptions, read_ranges};
