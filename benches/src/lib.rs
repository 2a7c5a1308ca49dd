//! gregor-benches: side-by-side consume benchmarks of gregor against librdkafka (rust-rdkafka)
//! and rskafka, and criterion micro-benchmarks of gregor's decode paths.
//!
//! # Layout
//! - [`payload`]: JSON-like values, workloads (value size, partitions, codec) and the pool of
//!   pre-encoded record batches a topic is filled with.
//! - [`broker`]: the broker a run drains: our MockCluster in a separate process (this binary
//!   re-run with `--serve-mock`) or tansu.
//! - [`prefill`]: creates a topic and fills it with the pool's batches through raw Produce
//!   requests, returning each partition's end offset and the compression ratio.
//! - [`measure`]: process CPU time (`getrusage(RUSAGE_SELF)`), peak and current RSS
//!   (`/proc/self/status`), and the result line a child prints.
//! - [`clients`]: one drain function per client (gregor raw fetch, gregor direct stream,
//!   rdkafka `BaseConsumer` and `StreamConsumer`, rskafka `PartitionClient`), each also able to
//!   stall (read a little, stop reading, report peak RSS).
//! - [`child`]: what a child process does: drain (or stall) with one client and print its
//!   measurement.
//! - [`options`]: the command line of `consume`.
//! - [`orchestrate`]: the runs: brokers, prefill, interleaved children, the stalled run.
//! - [`report`]: medians, ratios from interleaved runs, and the Markdown tables.
//! - [`loopback`]: the loopback TCP limit of the machine, for the 64 KiB goal.
//! - [`rebalance`]: the `rebalance` benchmark: groups of gregor's, librdkafka's and Java's
//!   consumers on Apache Kafka, how long they stop when a member joins or leaves.
//!
//! Data flows: `consume` (the orchestrator) starts a broker, prefills a topic per workload, then
//! for each run spawns one child per client in turn (A B C A B C ...), parses each child's
//! result line and prints the tables. Every measurement runs in a fresh child process, so peak
//! RSS (VmHWM) and CPU time are that client's alone; the broker is another process.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod broker;
pub mod child;
pub mod clients;
pub mod loopback;
pub mod measure;
pub mod options;
pub mod orchestrate;
pub mod payload;
pub mod prefill;
pub mod rebalance;
pub mod report;

/// Why a benchmark step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// gregor's client failed.
    #[error("gregor client: {0}")]
    Client(#[from] gregor_client::ClientError),
    /// gregor's consumer (fetch engine) failed.
    #[error("gregor fetch: {0}")]
    Fetch(#[from] gregor_consumer::FetchError),
    /// gregor's group consumer failed.
    #[error("gregor group: {0}")]
    Group(#[from] gregor_consumer::GroupError),
    /// gregor's direct stream failed.
    #[error("gregor stream: {0}")]
    Stream(#[from] gregor_consumer::direct::StreamError),
    /// Decoding record batches failed.
    #[error("records: {0}")]
    Records(#[from] gregor_protocol::records::RecordsError),
    /// Encoding record batches failed.
    #[error("encoding records: {0}")]
    Encode(#[from] gregor_protocol::records::RecordsEncodeError),
    /// librdkafka failed.
    #[error("rdkafka: {0}")]
    Rdkafka(#[from] rdkafka::error::KafkaError),
    /// rskafka failed.
    #[error("rskafka: {0}")]
    Rskafka(#[from] rskafka::client::error::Error),
    /// An I/O error (processes, sockets, /proc).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Anything else, with what went wrong.
    #[error("{0}")]
    Other(String),
}

/// Result of a benchmark step.
pub type Result<T> = std::result::Result<T, BenchError>;
