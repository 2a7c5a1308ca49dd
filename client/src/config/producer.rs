//! [`ProducerConfig`]: the producer's own settings. The connection settings (bootstrap
//! servers, security, timeouts, backoffs) are the [`ClientConfig`] of the client the producer
//! runs over; [`ProducerConfig::from_properties`] splits a Java producer properties map
//! between the two.

use std::fmt;
use std::time::Duration;

use gregor_protocol::compression::Compression;

use super::{ClientConfig, ConfigError};

const DEFAULT_LINGER: Duration = Duration::from_millis(5);
const DEFAULT_BATCH_SIZE: usize = 16_384;
const DEFAULT_MAX_IN_FLIGHT: u32 = 5;
const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_millis(120_000);
const DEFAULT_RETRIES: u32 = i32::MAX as u32;
const DEFAULT_BUFFER_MEMORY: u64 = 32 * 1024 * 1024;
const DEFAULT_MAX_REQUEST_SIZE: usize = 1024 * 1024;
const DEFAULT_MAX_BLOCK: Duration = Duration::from_millis(60_000);
/// The most requests in flight per connection for which the broker keeps idempotent
/// producer state (it remembers the last five batches per partition).
const MAX_IDEMPOTENT_IN_FLIGHT: u32 = 5;

/// How many replicas must have a record before the broker acknowledges it (`acks`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Acks {
    /// `0`: the broker sends no response; records may be lost silently.
    None,
    /// `1`: the leader has written it.
    Leader,
    /// `all` / `-1`: every in-sync replica has it (the default).
    #[default]
    All,
}

impl Acks {
    /// The `acks` field of a Produce request: 0, 1 or -1.
    pub const fn wire_value(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }

    /// From a property value: `0`, `1`, `all` or `-1`.
    pub fn from_property(value: &str) -> Option<Acks> {
        match value {
            "0" => Some(Acks::None),
            "1" => Some(Acks::Leader),
            "-1" => Some(Acks::All),
            v if v.eq_ignore_ascii_case("all") => Some(Acks::All),
            _ => None,
        }
    }
}

impl fmt::Display for Acks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        })
    }
}

/// How the producer picks a partition for a record that names none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Partitioner {
    /// The Java client's default, so the same key lands on the same partition as with Java
    /// producers: a keyed record goes to `(murmur2(key) & 0x7fffffff) % partitions`; records
    /// without a key stick to one partition per batch, then move on (KIP-480, KIP-794).
    #[default]
    Murmur2,
    /// Every record, keyed or not, to the next partition in turn (Java's
    /// `RoundRobinPartitioner`).
    RoundRobin,
    /// Keys ignored: every record sticks to one partition per batch (Java's
    /// `UniformStickyPartitioner`).
    UniformSticky,
}

impl Partitioner {
    /// From a Java `partitioner.class` (full or simple class name; empty for the default).
    pub fn from_java_class(value: &str) -> Option<Partitioner> {
        if value.is_empty() {
            return Some(Partitioner::Murmur2);
        }
        let simple = value.rsplit('.').next().unwrap_or(value);
        match simple {
            "DefaultPartitioner" => Some(Partitioner::Murmur2),
            "RoundRobinPartitioner" => Some(Partitioner::RoundRobin),
            "UniformStickyPartitioner" => Some(Partitioner::UniformSticky),
            _ => None,
        }
    }

    /// From a librdkafka `partitioner` name: `murmur2_random` (keyless records spread) or
    /// `murmur2` both map to [`Partitioner::Murmur2`], whose keyed placement matches theirs.
    /// librdkafka's CRC32 and FNV-1a partitioners (its default `consistent_random` among
    /// them) are not offered: they place keys differently from Java producers.
    pub fn from_librdkafka_name(value: &str) -> Option<Partitioner> {
        match value {
            "murmur2" | "murmur2_random" => Some(Partitioner::Murmur2),
            _ => None,
        }
    }
}

/// A checked producer configuration: acks, batching, compression, idempotence, retries, the
/// partitioner, memory and blocking limits. Make one with [`ProducerConfig::builder`] or
/// [`ProducerConfig::from_properties`].
///
/// It holds no connection settings: a [`Producer`](crate::producer::Producer) takes those
/// (`request.timeout.ms`, `retry.backoff.ms`, `reconnect.backoff.ms`, `metadata.max.age.ms`,
/// ...) from the [`ClientConfig`] of the client it is given.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    acks: Acks,
    linger: Duration,
    batch_size: usize,
    compression: Compression,
    idempotence: bool,
    max_in_flight: u32,
    delivery_timeout: Option<Duration>,
    retries: u32,
    partitioner: Partitioner,
    buffer_memory: u64,
    max_request_size: usize,
    max_block: Duration,
}

impl ProducerConfig {
    /// A builder with the producer defaults.
    pub fn builder() -> ProducerConfigBuilder {
        ProducerConfigBuilder::new()
    }

    /// The connection and producer settings of a Java producer properties map (see
    /// [`super::CLIENT_KEYS`] and [`super::PRODUCER_KEYS`]): connection keys go to the
    /// [`ClientConfig`] (for [`Client::connect`](crate::Client::connect)), producer keys to the
    /// [`ProducerConfig`]. Also checks what the two only decide together
    /// ([`delivery_timeout_for`](Self::delivery_timeout_for)).
    pub fn from_properties<I, K, V>(
        properties: I,
    ) -> Result<(ClientConfig, ProducerConfig), ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let (client, producer) = ProducerConfigBuilder::from_properties(properties)?;
        let (client, producer) = (client.build()?, producer.build()?);
        producer.delivery_timeout_for(client.request_timeout())?;
        Ok((client, producer))
    }

    /// Acknowledgements required (`acks`).
    pub fn acks(&self) -> Acks {
        self.acks
    }

    /// How long a batch waits for more records before it is sent (`linger.ms`).
    pub fn linger(&self) -> Duration {
        self.linger
    }

    /// The target size of a batch in bytes (`batch.size`); 0 sends each record alone.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The batch compression codec (`compression.type`).
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Whether the producer is idempotent (`enable.idempotence`): on by default, and turned
    /// off by a setting that idempotence cannot work with (`acks` other than `all`, more than
    /// five requests in flight, no retries) unless it was asked for explicitly, in which case
    /// such a setting is an error.
    pub fn idempotence(&self) -> bool {
        self.idempotence
    }

    /// Requests in flight per connection (`max.in.flight.requests.per.connection`).
    pub fn max_in_flight(&self) -> u32 {
        self.max_in_flight
    }

    /// How long a record may take from `send` to acknowledgement, retries included
    /// (`delivery.timeout.ms`), as set; `None` for the default (see
    /// [`delivery_timeout_for`](Self::delivery_timeout_for)).
    pub fn delivery_timeout(&self) -> Option<Duration> {
        self.delivery_timeout
    }

    /// The delivery timeout a producer uses over a client whose requests time out after
    /// `request_timeout` (`request.timeout.ms`): the one set, which must be at least `linger +
    /// request_timeout`, or by default 120 s raised to `linger + request_timeout` if that is
    /// larger.
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] for `delivery.timeout.ms` when the one set is too short.
    pub fn delivery_timeout_for(&self, request_timeout: Duration) -> Result<Duration, ConfigError> {
        let floor = self.linger.saturating_add(request_timeout);
        match self.delivery_timeout {
            Some(t) if t < floor => Err(ConfigError::invalid(
                "delivery.timeout.ms",
                "must be at least linger.ms + request.timeout.ms",
            )),
            Some(t) => Ok(t),
            None => Ok(DEFAULT_DELIVERY_TIMEOUT.max(floor)),
        }
    }

    /// How many times a failed batch is retried within the delivery timeout (`retries`).
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The partitioner (`partitioner.class` or `partitioner`).
    pub fn partitioner(&self) -> Partitioner {
        self.partitioner
    }

    /// The bytes of records the producer may buffer before `send` waits (`buffer.memory`).
    pub fn buffer_memory(&self) -> u64 {
        self.buffer_memory
    }

    /// The largest produce request in bytes (`max.request.size`), which also caps a record.
    pub fn max_request_size(&self) -> usize {
        self.max_request_size
    }

    /// How long `send` may wait for room in the buffer or for the topic's metadata before it
    /// fails (`max.block.ms`).
    pub fn max_block(&self) -> Duration {
        self.max_block
    }
}

/// Builds a [`ProducerConfig`]. Unset producer settings take the Java client's defaults
/// (Kafka 4.0: `linger.ms=5`).
#[derive(Debug, Clone)]
pub struct ProducerConfigBuilder {
    pub(super) acks: Option<Acks>,
    pub(super) linger: Duration,
    pub(super) batch_size: usize,
    pub(super) compression: Compression,
    pub(super) idempotence: Option<bool>,
    pub(super) max_in_flight: u32,
    pub(super) delivery_timeout: Option<Duration>,
    pub(super) retries: u32,
    pub(super) partitioner: Partitioner,
    pub(super) buffer_memory: u64,
    pub(super) max_request_size: usize,
    pub(super) max_block: Duration,
}

impl Default for ProducerConfigBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ProducerConfigBuilder {
    /// The producer defaults.
    pub fn new() -> ProducerConfigBuilder {
        ProducerConfigBuilder {
            acks: None,
            linger: DEFAULT_LINGER,
            batch_size: DEFAULT_BATCH_SIZE,
            compression: Compression::None,
            idempotence: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            delivery_timeout: None,
            retries: DEFAULT_RETRIES,
            partitioner: Partitioner::default(),
            buffer_memory: DEFAULT_BUFFER_MEMORY,
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            max_block: DEFAULT_MAX_BLOCK,
        }
    }

    /// Acknowledgements required (default `all`).
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = Some(acks);
        self
    }

    /// How long a batch waits for more records (default 5 ms).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// The target batch size in bytes (default 16384).
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }

    /// The compression codec (default none).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Asks for idempotence on (an error at build if another setting rules it out) or off.
    pub fn idempotence(mut self, enabled: bool) -> Self {
        self.idempotence = Some(enabled);
        self
    }

    /// Requests in flight per connection (default 5; at least 1, at most 5 when idempotent).
    pub fn max_in_flight(mut self, n: u32) -> Self {
        self.max_in_flight = n;
        self
    }

    /// The delivery timeout (default 120 s, raised to `linger + request timeout` if that is
    /// larger; set explicitly, a smaller value is an error when the producer starts, see
    /// [`ProducerConfig::delivery_timeout_for`]).
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = Some(timeout);
        self
    }

    /// Retries of a failed batch (default `i32::MAX`: bounded by the delivery timeout).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The partitioner (default [`Partitioner::Murmur2`]).
    pub fn partitioner(mut self, partitioner: Partitioner) -> Self {
        self.partitioner = partitioner;
        self
    }

    /// Bytes of records buffered before `send` waits (default 32 MiB; must be positive).
    pub fn buffer_memory(mut self, bytes: u64) -> Self {
        self.buffer_memory = bytes;
        self
    }

    /// The largest produce request in bytes (default 1 MiB; must be positive).
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }

    /// How long `send` may wait for buffer room or metadata (default 60 s).
    pub fn max_block(mut self, max_block: Duration) -> Self {
        self.max_block = max_block;
        self
    }

    /// Checks the settings and makes the configuration.
    pub fn build(&self) -> Result<ProducerConfig, ConfigError> {
        let acks = self.acks.unwrap_or_default();
        if self.max_in_flight == 0 {
            return Err(ConfigError::invalid(
                "max.in.flight.requests.per.connection",
                "must be at least 1",
            ));
        }
        if self.buffer_memory == 0 {
            return Err(ConfigError::invalid("buffer.memory", "must be positive"));
        }
        if self.max_request_size == 0 {
            return Err(ConfigError::invalid("max.request.size", "must be positive"));
        }
        let idempotence = self.resolve_idempotence(acks)?;
        Ok(ProducerConfig {
            acks,
            linger: self.linger,
            batch_size: self.batch_size,
            compression: self.compression,
            idempotence,
            max_in_flight: self.max_in_flight,
            delivery_timeout: self.delivery_timeout,
            retries: self.retries,
            partitioner: self.partitioner,
            buffer_memory: self.buffer_memory,
            max_request_size: self.max_request_size,
            max_block: self.max_block,
        })
    }

    /// Kafka's rule: idempotence asked for explicitly must be possible; by default it is on
    /// only when every setting allows it.
    fn resolve_idempotence(&self, acks: Acks) -> Result<bool, ConfigError> {
        let conflict = if acks != Acks::All {
            Some(("acks", "must be all when enable.idempotence=true"))
        } else if self.max_in_flight > MAX_IDEMPOTENT_IN_FLIGHT {
            Some((
                "max.in.flight.requests.per.connection",
                "must be at most 5 when enable.idempotence=true",
            ))
        } else if self.retries == 0 {
            Some(("retries", "must be non-zero when enable.idempotence=true"))
        } else {
            None
        };
        match (self.idempotence, conflict) {
            (Some(true), Some((key, reason))) => Err(ConfigError::invalid(key, reason)),
            (Some(explicit), _) => Ok(explicit),
            (None, Some((key, _))) => {
                tracing::debug!(key, "idempotence turned off by a conflicting setting");
                Ok(false)
            }
            (None, None) => Ok(true),
        }
    }
}
