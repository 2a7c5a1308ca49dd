//! One drain function per client. Each reads every record of a prefilled topic (all partitions
//! from offset 0 to their end offsets), counting records and value bytes, and measures from
//! creating its client to the last record. With a stall set, it instead reads a first record,
//! stops reading for the stall while the client keeps whatever prefetching it does, and
//! reports the peak RSS.

use std::sync::OnceLock;
use std::time::Duration;

use crate::Result;
use crate::measure::{Mark, Sample, status_kb};

pub mod gregor_group;
pub mod gregor_raw;
pub mod gregor_stream;
pub mod rdkafka_base;
pub mod rdkafka_stream;
pub mod rskafka_partition;

/// Bytes one partition may return per fetch, for every client (Kafka's
/// `max.partition.fetch.bytes` default).
pub const PARTITION_MAX_BYTES: i32 = 1 << 20;
/// Bytes a whole fetch response may hold (Kafka's `fetch.max.bytes` default).
pub const FETCH_MAX_BYTES: i32 = 50 << 20;
/// Longest a fetch waits at the broker.
pub const MAX_WAIT_MS: i32 = 500;

/// How long a drain may go without a new record before it fails (instead of hanging).
pub const IDLE_LIMIT: Duration = Duration::from_secs(15);

/// The clients compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientKind {
    /// gregor_client + Fetch requests + `records::batches` (CRC checked, zero copy).
    GregorRaw,
    /// gregor_consumer's direct stream (fetch engine, readers per partition).
    GregorStream,
    /// gregor_consumer's group consumer (`GroupConsumer`), the only member of a fresh group.
    GregorGroup,
    /// rust-rdkafka `BaseConsumer` (librdkafka), `poll` loop.
    RdkafkaBase,
    /// rust-rdkafka `StreamConsumer`, `recv().await` loop.
    RdkafkaStream,
    /// rust-rdkafka `BaseConsumer` subscribed in a fresh group (the only member), `poll` loop.
    RdkafkaGroup,
    /// rskafka `PartitionClient::fetch_records`, one task per partition.
    Rskafka,
}

impl ClientKind {
    /// Every client, in table order.
    pub const ALL: [ClientKind; 7] = [
        ClientKind::RdkafkaBase,
        ClientKind::RdkafkaStream,
        ClientKind::RdkafkaGroup,
        ClientKind::GregorRaw,
        ClientKind::GregorStream,
        ClientKind::GregorGroup,
        ClientKind::Rskafka,
    ];

    /// The clients of the default run: every one but the group consumers, which have a
    /// run of their own (`--clients rdkafka-base,rdkafka-group,gregor-stream,gregor-group`,
    /// BENCHMARKS.md).
    pub const DEFAULT: [ClientKind; 5] = [
        ClientKind::RdkafkaBase,
        ClientKind::RdkafkaStream,
        ClientKind::GregorRaw,
        ClientKind::GregorStream,
        ClientKind::Rskafka,
    ];

    /// Its name on the command line and in the tables.
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::GregorRaw => "gregor-raw",
            ClientKind::GregorStream => "gregor-stream",
            ClientKind::GregorGroup => "gregor-group",
            ClientKind::RdkafkaBase => "rdkafka-base",
            ClientKind::RdkafkaStream => "rdkafka-stream",
            ClientKind::RdkafkaGroup => "rdkafka-group",
            ClientKind::Rskafka => "rskafka",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<ClientKind> {
        ClientKind::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether the client prefetches without the application asking (only those are in the
    /// stalled run).
    pub fn prefetches(self) -> bool {
        !matches!(self, ClientKind::GregorRaw | ClientKind::Rskafka)
    }

    /// Why this client is left out on `broker`, if it is.
    pub fn skipped_on(self, broker: crate::broker::BrokerKind) -> Option<&'static str> {
        match (self, broker) {
            (ClientKind::GregorStream, crate::broker::BrokerKind::Tansu) => Some(
                "tansu 0.6.0 answers ListOffsets LATEST with the last batch's base offset + 1 \
                 (testkit README), so the direct stream's batches end before the last batch's \
                 records and the drain never completes",
            ),
            (
                ClientKind::GregorGroup | ClientKind::RdkafkaGroup,
                crate::broker::BrokerKind::Tansu,
            ) => Some(
                "neither group consumer (librdkafka's, gregor's) received a record from tansu \
                 0.6.0 within 15 s (not looked into; the group clients are measured on the mock)",
            ),
            _ => None,
        }
    }
}

/// What to drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainSpec {
    /// The broker.
    pub bootstrap: String,
    /// The topic.
    pub topic: String,
    /// Each partition's end offset (all start at 0).
    pub end_offsets: Vec<i64>,
    /// Stalled mode: read a first record, then stop reading this long.
    pub stall: Option<Duration>,
    /// The memory limit configured where the client has one (gregor's memory budget,
    /// librdkafka's `queued.max.messages.kbytes`), in bytes; 0 keeps the client's default.
    pub memory_limit: usize,
}

impl DrainSpec {
    /// Records in the topic.
    pub fn total_records(&self) -> u64 {
        self.end_offsets.iter().map(|&e| e.max(0) as u64).sum()
    }
}

/// When the first record reached the application (set once per process: one client runs per
/// child process).
static FIRST_RECORD: OnceLock<Option<Mark>> = OnceLock::new();

fn mark_first_record() {
    FIRST_RECORD.get_or_init(|| Mark::now().ok());
}

/// Counts what the application saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records.
    pub records: u64,
    /// Bytes of values.
    pub value_bytes: u64,
}

impl Tally {
    /// Counts one record's value.
    #[inline]
    pub fn add(&mut self, value: Option<&[u8]>) {
        if self.records == 0 {
            mark_first_record();
        }
        self.records += 1;
        self.value_bytes += value.map_or(0, |v| v.len() as u64);
    }

    /// Adds another tally.
    pub fn merge(&mut self, other: Tally) {
        self.records += other.records;
        self.value_bytes += other.value_bytes;
    }
}

/// Ends a measurement of `tally`: CPU time from `created` (just before the client was
/// created: every cycle the client spent, prefetching included), wall time from the first
/// record on (steady state; the time from `created` to the first record is the startup).
pub fn finish(created: &Mark, start_rss: u64, tally: Tally) -> Result<Sample> {
    let first = FIRST_RECORD.get().copied().flatten().unwrap_or(*created);
    let (wall, _) = first.elapsed()?;
    let (_, cpu) = created.elapsed()?;
    Ok(Sample {
        records: tally.records,
        value_bytes: tally.value_bytes,
        wall,
        cpu,
        startup: first.since(created),
        peak_rss: status_kb("VmHWM")?,
        start_rss,
    })
}

/// Runs the client named by `kind` on `spec` (on a fresh tokio runtime where it needs one).
pub fn run(kind: ClientKind, spec: &DrainSpec) -> Result<Sample> {
    let start_rss = status_kb("VmRSS")?;
    match kind {
        ClientKind::RdkafkaBase => return rdkafka_base::run(spec, start_rss),
        ClientKind::RdkafkaGroup => return rdkafka_base::run_group(spec, start_rss),
        _ => {}
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match kind {
            ClientKind::GregorRaw => gregor_raw::run(spec, start_rss).await,
            ClientKind::GregorStream => gregor_stream::run(spec, start_rss).await,
            ClientKind::GregorGroup => gregor_group::run(spec, start_rss).await,
            ClientKind::RdkafkaStream => rdkafka_stream::run(spec, start_rss).await,
            ClientKind::Rskafka => rskafka_partition::run(spec, start_rss).await,
            ClientKind::RdkafkaBase => rdkafka_base::run(spec, start_rss),
            ClientKind::RdkafkaGroup => rdkafka_base::run_group(spec, start_rss),
        }
    })
}
