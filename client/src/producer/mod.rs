//! The producer: [`Producer`], an async shell, on top of a sans-io core (partitioning,
//! batching, idempotence, Produce requests, and the sender's decisions).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use gregor_client::Client;
//! use gregor_client::config::{ClientConfig, ProducerConfig};
//! use gregor_client::producer::{Producer, ProducerRecord};
//!
//! let client = Client::connect(
//!     ClientConfig::builder()
//!         .bootstrap_servers(["localhost:9092"])
//!         .build()?,
//! )
//! .await?;
//! // The producer follows the client's connection settings; its config holds only its own.
//! let producer = Producer::new(client, ProducerConfig::builder().build()?)?;
//! let delivery = producer
//!     .send(ProducerRecord::new("orders", "created").with_key("order-17"))
//!     .await?;
//! let written = delivery.await?;
//! println!("{}-{} @ {}", written.topic, written.partition, written.offset);
//! producer.close().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The async part:
//! - [`Producer`] (`handle`): `send` / `flush` / `close`; records go to the sender task through
//!   a channel, and each comes back as a [`DeliveryFuture`] resolving to [`RecordMetadata`].
//! - [`sender`]: the sender's sans-io core, [`SenderCore`](sender::SenderCore): it takes
//!   appends and network events with `now` and returns actions (load metadata, connect, send a
//!   Produce request, resolve a record).
//! - `task`: the tokio task that owns the core, carries out its actions through a
//!   [`ProducerTransport`] and feeds back the results. It is the only owner of the state below.
//! - [`transport`]: what the producer needs from the cluster (leaders, metadata refreshes,
//!   connections), implemented by the cluster client and by tests.
//!
//! Nothing in the core does I/O or reads a clock: every time-dependent call takes `now:
//! Instant`, and every network outcome comes in as an event. The parts, in the order a record
//! meets them:
//!
//! - [`partitioner`]: picks the partition of a record. Keyed records go where Kafka's Java client
//!   puts them (`murmur2(key) & 0x7fffffff % partitions`); records without a key follow the sticky
//!   partitioner of KIP-480; a [`Partitioner`] trait takes a user's own choice.
//! - [`accumulator`]: collects records per partition into batches bounded by `batch_size` and
//!   `linger`, accounts their memory against `buffer_memory` (a full buffer is a typed error that
//!   hands the record back), tells which partitions are [`ready`](Accumulator::ready) and
//!   [`drains`](Accumulator::drain) them per broker into encoded record batches.
//! - [`idempotence`]: the producer id and epoch, per-partition sequence numbers, the in-flight
//!   limit, and what to do with each Produce outcome (complete, retry with the same sequence,
//!   fail), including the epoch bump of KIP-360.
//! - [`produce_request`]: builds the `ProduceRequest` for the batches drained for one broker
//!   and matches the `ProduceResponse` back to them.
//!
//! A record's journey: partition it; [`Accumulator::append`] it with a completion token; when
//! the partition is ready and its leader known, [`Accumulator::drain`] stamps the batch with its
//! sequence (through [`Idempotence`]) and encodes it; [`build_produce_request`] puts it in a
//! request; [`match_produce_response`] yields its [`PartitionOutcome`];
//! [`Idempotence::on_response`] (or [`non_idempotent_decision`]) turns that into a
//! [`BatchDecision`]; a completed or failed batch goes back to [`Accumulator::release`], which
//! frees its memory and returns the completion tokens in record order (record `i` got offset
//! `base_offset + i`), and a retried one to [`Accumulator::reenqueue`].

pub mod accumulator;
pub mod batch;
mod client_transport;
pub mod error;
mod handle;
pub mod idempotence;
pub mod partitioner;
pub mod produce_request;
pub mod record;
pub mod sender;
mod task;
pub mod transport;

pub use accumulator::{
    Accumulator, AccumulatorConfig, AppendError, AppendRejected, AppendResult, Drained,
};
pub use batch::{BatchRecord, ProducerBatch};
pub use error::ProducerError;
pub use handle::Producer;
pub use idempotence::{
    BatchDecision, BatchSequence, Idempotence, IdentityChange, ProducerIdentity,
    non_idempotent_decision,
};
pub use partitioner::{
    DefaultPartitioner, Partitioner, RoundRobinPartitioner, StickyPartitioner, TopicPartitions,
    murmur2, partition_for_key, to_positive,
};
pub use produce_request::{
    LeaderHint, PartitionOutcome, ProduceRequestError, RecordError, build_produce_request,
    match_produce_response,
};
pub use record::{DeliveryFuture, ProducerRecord, RecordMetadata};
pub use transport::{PartitionInfo, ProducerTransport};
