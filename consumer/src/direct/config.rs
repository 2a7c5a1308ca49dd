//! The settings of a direct stream, in code or from Kafka consumer properties.

use std::time::Duration;

use gregor_client::config::value::boolean;
use gregor_client::config::{CLIENT_KEYS, ClientConfigBuilder, ConfigError};
use tracing::debug;

use super::starting::StartingOffsets;
use super::strategy::ConsumerStrategy;
use crate::direct::rate::{PidConfig, RateLimits};
use crate::fetch::FetchConfig;
use crate::fetch::OnDataLoss;

/// The direct stream's properties besides
/// [`FETCH_KEYS`](crate::fetch::config::FETCH_KEYS):
/// - `auto.offset.reset`: [`DirectStreamConfig::starting`]: `earliest` (librdkafka also
///   `smallest`, `beginning`), `latest` (`largest`, `end`) or `none` ([`StartingOffsets::Fail`]:
///   every partition needs an explicit or stored offset). It applies only where no offset is
///   known (as in Spark), and only to the partitions found at start: it leaves
///   [`new_partitions`](DirectStreamConfig::new_partitions) at
///   [`StartingOffsets::Earliest`] (a partition that appears while the stream runs holds only
///   records written since, so its start loses nothing), and unlike Java's consumer it never
///   moves a position past deleted records ([`on_data_loss`](DirectStreamConfig::on_data_loss)
///   decides that);
/// - `exclude.internal.topics`: only `true`, what pattern subscriptions always do.
pub const STREAM_KEYS: &[&str] = &["auto.offset.reset", "exclude.internal.topics"];

/// The group id, which a direct stream does not use (it joins no group) but
/// [`KafkaCommits`](crate::store::KafkaCommits) commits under; see
/// [`ConsumerProperties::group_id`].
pub const GROUP_ID_KEY: &str = "group.id";

/// Keys Java's consumer defines that a direct stream accepts and does nothing with: group
/// membership and auto commit (the stream joins no group; the application stores offsets),
/// `max.poll.records` (batches are bounded by rates), Java classes, metrics, socket buffers,
/// DNS and rack settings, API timeouts and topic auto-creation. Security settings are not
/// among them: those gregor lacks (`ssl.keystore.*`, Kerberos, ...) stay unknown keys rather
/// than connections that silently differ.
pub const IGNORED_CONSUMER_KEYS: &[&str] = &[
    "group.instance.id",
    "group.protocol",
    "group.remote.assignor",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "partition.assignment.strategy",
    "max.poll.interval.ms",
    "max.poll.records",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "internal.leave.group.on.close",
    "key.deserializer",
    "value.deserializer",
    "interceptor.classes",
    "metric.reporters",
    "metrics.num.samples",
    "metrics.sample.window.ms",
    "metrics.recording.level",
    "auto.include.jmx.reporter",
    "enable.metrics.push",
    "send.buffer.bytes",
    "receive.buffer.bytes",
    "client.dns.lookup",
    "client.rack",
    "default.api.timeout.ms",
    "retry.backoff.max.ms",
    "socket.connection.setup.timeout.max.ms",
    "allow.auto.create.topics",
];

/// How a [`DirectStream`](super::DirectStream) reads: which partitions, where they start, how
/// often batches come and how large they may be.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DirectStreamConfig {
    /// Which partitions to read.
    pub strategy: ConsumerStrategy,
    /// Where partitions present at start, without an explicit or stored offset, start
    /// (`auto.offset.reset`). Default [`StartingOffsets::Latest`].
    pub starting: StartingOffsets,
    /// Where partitions that appear while the stream runs (partitions added to a topic, new
    /// topics matching a pattern), without an explicit or stored offset, start. Default
    /// [`StartingOffsets::Earliest`]: every record of a new partition was written after the
    /// stream started, so starting at its end would skip them (Spark applies
    /// `auto.offset.reset` here; the `auto.offset.reset` property sets only
    /// [`starting`](Self::starting), see [`STREAM_KEYS`]).
    pub new_partitions: StartingOffsets,
    /// The time between the starts of consecutive batches. Default 1 s.
    pub batch_interval: Duration,
    /// Per-partition rate limits (records/s). Default none.
    pub rates: RateLimits,
    /// Backpressure: a PID rate estimator driven by
    /// [`DirectStream::batch_completed`](super::DirectStream::batch_completed). Default off.
    pub backpressure: Option<PidConfig>,
    /// How records are fetched, including the isolation level. Default
    /// [`FetchConfig::default`].
    pub fetch: FetchConfig,
    /// What happens when a starting offset, or offsets of a batch's range, were deleted
    /// (retention, DeleteRecords): fail (the default) or skip to the log start offset.
    pub on_data_loss: OnDataLoss,
}

impl DirectStreamConfig {
    /// A stream reading per `strategy`, with the defaults above.
    pub fn new(strategy: ConsumerStrategy) -> DirectStreamConfig {
        DirectStreamConfig {
            strategy,
            starting: StartingOffsets::Latest,
            new_partitions: StartingOffsets::Earliest,
            batch_interval: Duration::from_secs(1),
            rates: RateLimits::default(),
            backpressure: None,
            fetch: FetchConfig::default(),
            on_data_loss: OnDataLoss::Fail,
        }
    }

    /// Sets where partitions without an explicit or stored offset start.
    #[must_use]
    pub fn with_starting(mut self, starting: StartingOffsets) -> Self {
        self.starting = starting;
        self
    }

    /// Sets where partitions appearing while the stream runs start.
    #[must_use]
    pub fn with_new_partitions(mut self, starting: StartingOffsets) -> Self {
        self.new_partitions = starting;
        self
    }

    /// Sets the batch interval.
    #[must_use]
    pub fn with_batch_interval(mut self, interval: Duration) -> Self {
        self.batch_interval = interval;
        self
    }

    /// Sets the per-partition rate limits.
    #[must_use]
    pub fn with_rates(mut self, rates: RateLimits) -> Self {
        self.rates = rates;
        self
    }

    /// Turns backpressure on with these PID settings.
    #[must_use]
    pub fn with_backpressure(mut self, pid: PidConfig) -> Self {
        self.backpressure = Some(pid);
        self
    }

    /// Sets what happens when offsets to read were deleted.
    #[must_use]
    pub fn with_on_data_loss(mut self, on_data_loss: OnDataLoss) -> Self {
        self.on_data_loss = on_data_loss;
        self
    }

    /// Sets the fetch settings.
    #[must_use]
    pub fn with_fetch(mut self, fetch: FetchConfig) -> Self {
        self.fetch = fetch;
        self
    }
}

impl DirectStreamConfig {
    /// A stream reading per `strategy`, with the defaults and then these properties applied in
    /// order (a later value for the same key wins): the stream's keys
    /// ([`FETCH_KEYS`](crate::fetch::config::FETCH_KEYS), [`STREAM_KEYS`]) set, the client's
    /// ([`CLIENT_KEYS`]), [`GROUP_ID_KEY`] and [`IGNORED_CONSUMER_KEYS`] skipped unchecked (see
    /// [`ConsumerProperties`] to use them).
    ///
    /// # Errors
    /// [`ConfigError::UnknownKey`] for any other key; [`ConfigError::InvalidValue`] naming the
    /// key of a malformed value.
    pub fn from_properties<I, K, V>(
        strategy: ConsumerStrategy,
        properties: I,
    ) -> Result<DirectStreamConfig, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = DirectStreamConfig::new(strategy);
        for (k, v) in properties {
            config.set(k.as_ref(), v.as_ref())?;
        }
        Ok(config)
    }

    /// Applies one property as [`from_properties`](Self::from_properties) does. Values are
    /// trimmed; keys are case-sensitive, as in Kafka.
    ///
    /// # Errors
    /// As [`from_properties`](Self::from_properties).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match self.apply(key, value.trim())? {
            Applied::Stream => Ok(()),
            Applied::Skipped => {
                debug!(key, "not a direct-stream property; skipped");
                Ok(())
            }
            Applied::Unknown => Err(ConfigError::UnknownKey(key.to_owned())),
        }
    }

    /// Applies `key` if it is a stream property, else says whose it is.
    fn apply(&mut self, key: &str, value: &str) -> Result<Applied, ConfigError> {
        if self.fetch.apply(key, value)? {
            return Ok(Applied::Stream);
        }
        match key {
            "auto.offset.reset" => self.starting = auto_offset_reset(key, value)?,
            "exclude.internal.topics" => {
                if !boolean(key, value)? {
                    return Err(ConfigError::invalid(
                        key,
                        "pattern subscriptions always exclude internal topics; only true is \
                         supported",
                    ));
                }
            }
            _ if key == GROUP_ID_KEY
                || CLIENT_KEYS.contains(&key)
                || IGNORED_CONSUMER_KEYS.contains(&key) =>
            {
                return Ok(Applied::Skipped);
            }
            _ => return Ok(Applied::Unknown),
        }
        Ok(Applied::Stream)
    }
}

/// What [`DirectStreamConfig::apply`] did with a key.
enum Applied {
    /// Set a stream setting.
    Stream,
    /// Skipped a key that belongs elsewhere or means nothing to the stream.
    Skipped,
    /// Did not know the key.
    Unknown,
}

/// `auto.offset.reset` (Java and librdkafka values, any case).
fn auto_offset_reset(key: &str, value: &str) -> Result<StartingOffsets, ConfigError> {
    let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(value));
    if is(&["earliest", "smallest", "beginning"]) {
        Ok(StartingOffsets::Earliest)
    } else if is(&["latest", "largest", "end"]) {
        Ok(StartingOffsets::Latest)
    } else if is(&["none"]) {
        Ok(StartingOffsets::Fail)
    } else if value
        .get(..12)
        .is_some_and(|p| p.eq_ignore_ascii_case("by_duration:"))
    {
        Err(ConfigError::invalid(
            key,
            "by_duration is not supported; give explicit starting offsets instead",
        ))
    } else {
        Err(ConfigError::invalid(
            key,
            "expected earliest, latest or none",
        ))
    }
}

/// One Java consumer properties file, split between the client and the direct stream.
///
/// Every key goes to exactly one place: [`CLIENT_KEYS`] to [`client`](Self::client),
/// [`FETCH_KEYS`](crate::fetch::config::FETCH_KEYS) and [`STREAM_KEYS`] to
/// [`stream`](Self::stream), [`GROUP_ID_KEY`] to [`group_id`](Self::group_id), and
/// [`IGNORED_CONSUMER_KEYS`] (keys Java's consumer defines that mean nothing for a direct
/// stream) to [`ignored`](Self::ignored), so an existing file loads as it is. Any other key
/// is a [`ConfigError::UnknownKey`], and a malformed value a [`ConfigError::InvalidValue`]
/// naming its key, as with the client's own properties.
///
/// ```
/// use gregor_consumer::direct::{ConsumerProperties, ConsumerStrategy, StartingOffsets};
///
/// let props = ConsumerProperties::parse(
///     ConsumerStrategy::subscribe(["orders"]),
///     [
///         ("bootstrap.servers", "broker-1:9092,broker-2:9092"),
///         ("group.id", "orders-audit"),
///         ("auto.offset.reset", "earliest"),
///         ("isolation.level", "read_committed"),
///         ("enable.auto.commit", "false"),
///         ("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer"),
///     ],
/// )?;
/// let client = props.client.build()?;
/// assert_eq!(client.bootstrap_servers().len(), 2);
/// assert_eq!(props.stream.starting, StartingOffsets::Earliest);
/// assert_eq!(props.group_id.as_deref(), Some("orders-audit"));
/// assert_eq!(props.ignored, ["enable.auto.commit", "key.deserializer"]);
/// # Ok::<(), gregor_client::config::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsumerProperties {
    /// The client's settings, not yet built: code can still add what properties cannot say
    /// (an OAUTHBEARER token provider, a TLS configuration) before
    /// [`build`](ClientConfigBuilder::build) checks them.
    pub client: ClientConfigBuilder,
    /// The stream's settings: its strategy with the stream's properties applied.
    pub stream: DirectStreamConfig,
    /// `group.id`, if given: the group [`KafkaCommits`](crate::store::KafkaCommits) commits
    /// under (the stream itself joins no group).
    pub group_id: Option<String>,
    /// The keys of [`IGNORED_CONSUMER_KEYS`] that were given, each once, in the order first
    /// given, for the application to log or refuse.
    pub ignored: Vec<String>,
}

impl ConsumerProperties {
    /// Splits `properties` (applied in order; a later value for the same key wins) into the
    /// client's settings and those of a stream reading per `strategy`. The client's values
    /// are checked as they are set; its combination (bootstrap servers present, TLS and SASL
    /// settings complete) when `client` is built.
    ///
    /// # Errors
    /// [`ConfigError::UnknownKey`] for a key of none of the lists;
    /// [`ConfigError::InvalidValue`] naming the key of a malformed value.
    pub fn parse<I, K, V>(
        strategy: ConsumerStrategy,
        properties: I,
    ) -> Result<ConsumerProperties, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut split = ConsumerProperties {
            client: ClientConfigBuilder::default(),
            stream: DirectStreamConfig::new(strategy),
            group_id: None,
            ignored: Vec::new(),
        };
        for (k, v) in properties {
            let (key, value) = (k.as_ref(), v.as_ref().trim());
            if CLIENT_KEYS.contains(&key) {
                split.client.set(key, value)?;
            } else if key == GROUP_ID_KEY {
                split.group_id = Some(value.to_owned()).filter(|id| !id.is_empty());
            } else {
                match split.stream.apply(key, value)? {
                    Applied::Stream => {}
                    Applied::Skipped => {
                        if !split.ignored.iter().any(|k| k == key) {
                            split.ignored.push(key.to_owned());
                        }
                    }
                    Applied::Unknown => return Err(ConfigError::UnknownKey(key.to_owned())),
                }
            }
        }
        Ok(split)
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
