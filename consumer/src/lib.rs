//! gregor-consumer: the consumer side of the gregor Kafka client.
//!
//! Two consumers share one fetch engine: the **direct stream** (Spark Streaming's direct
//! approach: each batch is a set of offset ranges, one per partition, read from the partition
//! leaders; offsets live where the application says) and the rebalancing **group consumer**
//! ([`GroupConsumer`]: the classic protocol, eager and cooperative, with assignors equal to
//! Java's; see [`group`] for an example). What a user touches is re-exported here, at the
//! crate root.
//!
//! # Consuming a topic with the direct stream
//! ```no_run
//! use gregor_consumer::{
//!     CheckpointFile, Client, ClientConfig, ConsumerStrategy, DirectStream, DirectStreamConfig,
//!     OffsetStore, StartingOffsets,
//! };
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::connect(
//!     ClientConfig::builder()
//!         .bootstrap_servers(["127.0.0.1:9092"])
//!         .build()?,
//! )
//! .await?;
//! // Offsets live in a checkpoint file here; the stream starts where it says.
//! let store = CheckpointFile::new("offsets.json");
//! let stored = store.load()?.map(|s| s.offsets).unwrap_or_default();
//! let config = DirectStreamConfig::new(ConsumerStrategy::subscribe(["events"]))
//!     .with_starting(StartingOffsets::Earliest);
//! let mut stream = DirectStream::new(client, config, stored).await?;
//! loop {
//!     let batch = stream.next_batch().await?;
//!     let (starts, ends) = (batch.starts(), batch.ends());
//!     for mut reader in batch.into_partitions() {
//!         while let Some(chunk) = reader.next_chunk().await {
//!             for record in chunk?.as_slice() {
//!                 println!("{} {:?}", record.offset, record.value);
//!             }
//!         }
//!     }
//!     // Compare-and-set: refused if another run stored these ranges already.
//!     store.save(&starts, &ends)?;
//! }
//! # }
//! ```
//!
//! # Layout and data flow
//! - [`fetch`]: the engine both consumers read through. [`FetchEngine`] keeps every partition
//!   being read as a cursor in one sans-io core (`fetch/core.rs`): bounded
//!   ([`FetchEngine::read`], an [`OffsetRange`]) or open-ended ([`FetchEngine::follow`], as the
//!   log grows), with a reset policy ([`OffsetReset`]), `seek`, `pause`/`resume` and an
//!   awaitable [`FetchEngine::revoke`]. One fetch loop per broker (KIP-227 sessions) does the
//!   I/O; one memory budget bounds what is buffered; each [`PartitionReader`] decodes its own
//!   batches into zero-copy [`RecordChunk`]s (also a `futures::Stream`).
//! - [`direct`]: the direct stream, [`DirectStream`]: a [`ConsumerStrategy`] (topics, a
//!   pattern, or assigned partitions) with [`StartingOffsets`]; each [`Batch`] exposes its
//!   offset ranges and one ordered reader per partition; [`direct::rate`] plans batches under
//!   rate limits and backpressure, [`direct::placement`] places partitions on worker tasks,
//!   [`direct::read`] reads exactly given ranges ([`read_ranges`], Spark's `createRDD`).
//! - [`range`]: [`OffsetRange`] (`from` inclusive, `until` exclusive), [`ConsumedRange`] and
//!   [`range::merge_until`].
//! - [`store`]: where offsets live: the compare-and-set [`OffsetStore`] (in memory, or an
//!   atomic [`CheckpointFile`]; or the application's own database next to its output) and
//!   [`KafkaCommits`] (commits to Kafka under a group id without joining it).
//! - [`group`]: the group consumer: a sans-io membership, its async task, the assignors, the
//!   error table, [`GroupConfig`], and [`GroupConsumer`] (open-ended readers in the same
//!   engine, commits fenced by the generation, the revoke barrier).
//!
//! Data flows: metadata and latest offsets (the client) → the stream plans ranges → the engine
//! fetches them from the leaders → readers decode chunks on the application's tasks → the
//! application writes its output and stores the ranges' ends.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod direct;
pub mod fetch;
pub mod group;
pub mod range;
pub mod store;

pub use direct::read::{RangeRead, RangeRecords, ReadOptions, read_ranges};
pub use direct::{
    Batch, Batches, ConsumerProperties, ConsumerStrategy, DirectStream, DirectStreamConfig,
    StartingOffsets, StreamError,
};
pub use fetch::{
    FetchConfig, FetchEngine, FetchError, IsolationLevel, OffsetReset, OnDataLoss, PartitionReader,
    RecordChunk, StartAt,
};
pub use gregor_client::Client;
pub use gregor_client::config::ClientConfig;
pub use gregor_protocol::TopicPartition;
pub use gregor_protocol::records::{Header, Record};
pub use group::assignor::{Assignor, SharedAssignor};
pub use group::config::GroupConfig;
pub use group::consumer::{GroupConsumer, GroupEvent, RebalanceListener};
pub use group::errors::GroupError;
pub use group::partition_stream::PartitionStream;
pub use group::task::Subscription;
pub use range::{ConsumedRange, OffsetRange};
pub use store::{
    CheckpointFile, KafkaCommits, MemoryOffsetStore, OffsetStore, PartitionOffsets, StoreError,
};
