//! [`GroupConfig`]: the settings of a group consumer, in code or from Kafka consumer
//! properties.
//!
//! ```
//! use std::time::Duration;
//! use gregor_consumer::group::config::GroupConfig;
//! use gregor_consumer::OffsetReset;
//!
//! // In code: the defaults are Java's.
//! let config = GroupConfig::new("orders-audit")
//!     .with_instance_id("audit-0")
//!     .with_assignors(["org.apache.kafka.clients.consumer.CooperativeStickyAssignor"])
//!     .with_auto_offset_reset(OffsetReset::Earliest);
//! config.validate()?;
//! assert_eq!(config.assignors, ["cooperative-sticky"]);
//! assert_eq!(config.effective_rebalance_timeout(), Duration::from_secs(300));
//! assert!(!config.leaves_group_on_close()); // a static member stays in the group
//!
//! // From properties (Java's or librdkafka's names).
//! let config = GroupConfig::from_properties([
//!     ("group.id", "orders-audit"),
//!     ("partition.assignment.strategy", "range,cooperative-sticky"),
//!     ("session.timeout.ms", "30000"),
//!     ("isolation.level", "read_committed"),
//!     ("bootstrap.servers", "broker-1:9092"), // a client key: skipped here
//! ])?;
//! assert_eq!(config.session_timeout, Duration::from_secs(30));
//! # Ok::<(), gregor_client::config::ConfigError>(())
//! ```

use std::time::Duration;

use gregor_client::config::value::{INT_MAX, LONG_MAX, boolean, millis};
use gregor_client::config::{CLIENT_KEYS, ClientConfigBuilder, ConfigError};
use tracing::debug;

use crate::direct::IGNORED_CONSUMER_KEYS;
use crate::fetch::{FetchConfig, IsolationLevel, OffsetReset};

/// The property of [`GroupConfig::rebalance_timeout`]: gregor's own (Java and librdkafka send
/// `max.poll.interval.ms` as the rebalance timeout and have no setting for it). A positive
/// Kafka `INT` of milliseconds.
pub const REBALANCE_TIMEOUT_KEY: &str = "gregor.group.rebalance.timeout.ms";

/// gregor's own key for [`GroupConfig::protocol_fallback`] (`true`/`false`).
pub const PROTOCOL_FALLBACK_KEY: &str = "gregor.group.protocol.fallback";

/// Every property a [`GroupConfig`] reads besides
/// [`FETCH_KEYS`](crate::fetch::config::FETCH_KEYS). `retry.backoff.ms` is also a client key
/// ([`CLIENT_KEYS`]): both read it.
pub const GROUP_KEYS: &[&str] = &[
    "group.id",
    "group.instance.id",
    "group.protocol",
    "group.remote.assignor",
    "partition.assignment.strategy",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    REBALANCE_TIMEOUT_KEY,
    PROTOCOL_FALLBACK_KEY,
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "auto.offset.reset",
    "client.rack",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "internal.leave.group.on.close",
    "allow.auto.create.topics",
    "exclude.internal.topics",
];

/// The built-in assignors by their protocol names (what members vote on in JoinGroup, Java's
/// `ConsumerPartitionAssignor.name()`).
pub const BUILTIN_ASSIGNORS: [&str; 4] = ["range", "roundrobin", "sticky", "cooperative-sticky"];

/// Java's default `partition.assignment.strategy`: `[RangeAssignor, CooperativeStickyAssignor]`
/// (the group uses range until every member lists cooperative-sticky first, which allows the
/// upgrade to cooperative rebalancing with one rolling bounce).
pub const DEFAULT_ASSIGNORS: [&str; 2] = ["range", "cooperative-sticky"];

/// The package of Java's built-in assignor classes.
const JAVA_ASSIGNOR_PACKAGE: &str = "org.apache.kafka.clients.consumer.";

/// The protocol name of a built-in assignor, from its name (`range`, `roundrobin`, `sticky`,
/// `cooperative-sticky`, librdkafka's names, in any case) or its Java class
/// (`org.apache.kafka.clients.consumer.RangeAssignor`, or just `RangeAssignor`); `None` for
/// anything else.
pub fn builtin_assignor(name: &str) -> Option<&'static str> {
    let name = name.trim();
    let class = name.strip_prefix(JAVA_ASSIGNOR_PACKAGE);
    let from_class = match class.unwrap_or(name) {
        "RangeAssignor" => Some("range"),
        "RoundRobinAssignor" => Some("roundrobin"),
        "StickyAssignor" => Some("sticky"),
        "CooperativeStickyAssignor" => Some("cooperative-sticky"),
        _ => None,
    };
    if class.is_some() {
        return from_class;
    }
    from_class.or_else(|| {
        BUILTIN_ASSIGNORS
            .iter()
            .find(|b| b.eq_ignore_ascii_case(name))
            .copied()
    })
}

/// What a member does about its membership when the consumer closes (Java 4.1's
/// `CloseOptions.GroupMembershipOperation`, KIP-1092).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MembershipOnClose {
    /// A dynamic member leaves (LeaveGroup: the group rebalances at once); a static member
    /// stays (its partitions wait `session.timeout.ms` for it to come back).
    #[default]
    Default,
    /// Leave the group, static members too.
    LeaveGroup,
    /// Stay in the group: no LeaveGroup (Java's `internal.leave.group.on.close=false`).
    RemainInGroup,
}

/// Which group protocol a member speaks (`group.protocol`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupProtocol {
    /// The classic protocol: JoinGroup, SyncGroup, Heartbeat; a member assigns
    /// (`group.protocol=classic`).
    #[default]
    Classic,
    /// KIP-848's consumer protocol: ConsumerGroupHeartbeat; the coordinator assigns
    /// (`group.protocol=consumer`, Kafka 4.0 and later).
    Consumer,
}

/// The settings of a group consumer.
///
/// Build with [`GroupConfig::new`] and the `with_*` setters, or from properties with
/// [`GroupConfig::from_properties`]; check with [`GroupConfig::validate`]. Defaults are Java's
/// consumer's, except [`allow_auto_create_topics`](Self::allow_auto_create_topics).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GroupConfig {
    /// The group (`group.id`). Required, not empty.
    pub group_id: String,
    /// The member's static identity (`group.instance.id`, KIP-345), or `None` for a dynamic
    /// member. Default `None`.
    pub instance_id: Option<String>,
    /// The assignors the member supports, most preferred first, by protocol name
    /// (`partition.assignment.strategy`): built-in names are canonical (see
    /// [`builtin_assignor`]), other names are those of custom assignors. Default
    /// [`DEFAULT_ASSIGNORS`].
    pub assignors: Vec<String>,
    /// How long the coordinator waits for a heartbeat before it removes the member
    /// (`session.timeout.ms`). Default 45 s.
    pub session_timeout: Duration,
    /// The time between heartbeats (`heartbeat.interval.ms`); below the session timeout.
    /// Default 3 s.
    pub heartbeat_interval: Duration,
    /// The longest time between polls before the member leaves the group
    /// (`max.poll.interval.ms`). Default 300 s.
    pub max_poll_interval: Duration,
    /// How long the coordinator waits for every member to rejoin in a rebalance
    /// ([`REBALANCE_TIMEOUT_KEY`]); `None` uses
    /// [`max_poll_interval`](Self::max_poll_interval), as Java does. Default `None`.
    pub rebalance_timeout: Option<Duration>,
    /// Whether delivered offsets are committed in the background (`enable.auto.commit`).
    /// Default true.
    pub auto_commit: bool,
    /// The time between auto commits (`auto.commit.interval.ms`). Default 5 s.
    pub auto_commit_interval: Duration,
    /// Where a partition without a committed offset starts, and what happens when a position
    /// is out of range (`auto.offset.reset`). Default [`OffsetReset::Latest`].
    pub auto_offset_reset: OffsetReset,
    /// The member's rack (`client.rack`), sent in its subscription for rack-aware assignment
    /// (KIP-881) and used to fetch from the closest replica. Default `None`.
    pub client_rack: Option<String>,
    /// The first wait before retrying a failed group request (`retry.backoff.ms`). Default
    /// 100 ms.
    pub retry_backoff: Duration,
    /// The longest wait between retries as the backoff doubles (`retry.backoff.max.ms`).
    /// Default 1 s.
    pub retry_backoff_max: Duration,
    /// Whether the member sends LeaveGroup when the consumer closes. Default
    /// [`MembershipOnClose::Default`]: dynamic members leave, static members stay.
    pub on_close: MembershipOnClose,
    /// Whether subscribing to a missing topic may create it, where the broker allows that
    /// (`allow.auto.create.topics`). Default false (Java's default is true: a typo in a
    /// topic name then creates a topic).
    pub allow_auto_create_topics: bool,
    /// Whether a pattern subscription leaves out internal topics such as
    /// `__consumer_offsets` (`exclude.internal.topics`). Default true.
    pub exclude_internal_topics: bool,
    /// How records are fetched, the isolation level included (`fetch.*`,
    /// `max.partition.fetch.bytes`, `isolation.level`, `check.crcs`; see
    /// [`FETCH_KEYS`](crate::fetch::config::FETCH_KEYS)). Default [`FetchConfig::default`]:
    /// `read_uncommitted`, as in Java.
    pub fetch: FetchConfig,
    /// The group protocol (`group.protocol`). Default [`GroupProtocol::Classic`]. With
    /// [`GroupProtocol::Consumer`] the coordinator assigns and sets the heartbeat interval and
    /// session timeout: [`assignors`](Self::assignors) and
    /// [`heartbeat_interval`](Self::heartbeat_interval) are not used, and
    /// [`session_timeout`](Self::session_timeout) only bounds how long the member goes on
    /// without a heartbeat answer before it gives its partitions up (set it to the broker's
    /// `group.consumer.session.timeout.ms`, 45 s by default).
    pub group_protocol: GroupProtocol,
    /// The coordinator's assignor for the consumer protocol (`group.remote.assignor`:
    /// `uniform`, `range`), or `None` for the broker's default. Default `None`.
    pub remote_assignor: Option<String>,
    /// With [`GroupProtocol::Consumer`]: join with the classic protocol instead when the
    /// coordinator does not support the consumer protocol (`UNSUPPORTED_VERSION`, or
    /// ConsumerGroupHeartbeat missing from its ApiVersions) ([`PROTOCOL_FALLBACK_KEY`]).
    /// Default false: the consumer stops with [`GroupError::UnsupportedVersion`](super::errors::GroupError::UnsupportedVersion).
    pub protocol_fallback: bool,
}

impl GroupConfig {
    /// A member of `group_id` with the defaults above.
    pub fn new(group_id: impl Into<String>) -> GroupConfig {
        GroupConfig {
            group_id: group_id.into(),
            instance_id: None,
            assignors: DEFAULT_ASSIGNORS.iter().map(|&a| a.to_owned()).collect(),
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            rebalance_timeout: None,
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            auto_offset_reset: OffsetReset::Latest,
            client_rack: None,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            on_close: MembershipOnClose::Default,
            allow_auto_create_topics: false,
            exclude_internal_topics: true,
            fetch: FetchConfig::default(),
            group_protocol: GroupProtocol::Classic,
            remote_assignor: None,
            protocol_fallback: false,
        }
    }

    /// Makes the member static with this `group.instance.id`.
    #[must_use]
    pub fn with_instance_id(mut self, instance_id: impl Into<String>) -> Self {
        self.instance_id = Some(instance_id.into());
        self
    }

    /// Sets the assignors, most preferred first. Built-in assignors may be named as Java
    /// classes or by librdkafka's names; they are stored by their protocol names. Other names
    /// are kept as given, for custom assignors.
    #[must_use]
    pub fn with_assignors<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.assignors = names
            .into_iter()
            .map(|name| {
                let name = name.into();
                builtin_assignor(&name).map_or(name, str::to_owned)
            })
            .collect();
        self
    }

    /// Sets [`session_timeout`](Self::session_timeout).
    #[must_use]
    pub fn with_session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// Sets [`heartbeat_interval`](Self::heartbeat_interval).
    #[must_use]
    pub fn with_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Sets [`max_poll_interval`](Self::max_poll_interval).
    #[must_use]
    pub fn with_max_poll_interval(mut self, interval: Duration) -> Self {
        self.max_poll_interval = interval;
        self
    }

    /// Sets [`rebalance_timeout`](Self::rebalance_timeout).
    #[must_use]
    pub fn with_rebalance_timeout(mut self, timeout: Duration) -> Self {
        self.rebalance_timeout = Some(timeout);
        self
    }

    /// Sets [`auto_commit`](Self::auto_commit).
    #[must_use]
    pub fn with_auto_commit(mut self, enabled: bool) -> Self {
        self.auto_commit = enabled;
        self
    }

    /// Sets [`auto_commit_interval`](Self::auto_commit_interval).
    #[must_use]
    pub fn with_auto_commit_interval(mut self, interval: Duration) -> Self {
        self.auto_commit_interval = interval;
        self
    }

    /// Sets [`auto_offset_reset`](Self::auto_offset_reset).
    #[must_use]
    pub fn with_auto_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.auto_offset_reset = reset;
        self
    }

    /// Sets [`client_rack`](Self::client_rack).
    #[must_use]
    pub fn with_client_rack(mut self, rack: impl Into<String>) -> Self {
        self.client_rack = Some(rack.into());
        self
    }

    /// Sets [`retry_backoff`](Self::retry_backoff).
    #[must_use]
    pub fn with_retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = backoff;
        self
    }

    /// Sets [`retry_backoff_max`](Self::retry_backoff_max).
    #[must_use]
    pub fn with_retry_backoff_max(mut self, backoff: Duration) -> Self {
        self.retry_backoff_max = backoff;
        self
    }

    /// Sets [`on_close`](Self::on_close).
    #[must_use]
    pub fn with_on_close(mut self, on_close: MembershipOnClose) -> Self {
        self.on_close = on_close;
        self
    }

    /// Sets [`allow_auto_create_topics`](Self::allow_auto_create_topics).
    #[must_use]
    pub fn with_allow_auto_create_topics(mut self, allow: bool) -> Self {
        self.allow_auto_create_topics = allow;
        self
    }

    /// Sets [`exclude_internal_topics`](Self::exclude_internal_topics).
    #[must_use]
    pub fn with_exclude_internal_topics(mut self, exclude: bool) -> Self {
        self.exclude_internal_topics = exclude;
        self
    }

    /// Sets the isolation level of [`fetch`](Self::fetch).
    #[must_use]
    pub fn with_isolation(mut self, isolation: IsolationLevel) -> Self {
        self.fetch.isolation = isolation;
        self
    }

    /// Sets [`fetch`](Self::fetch).
    #[must_use]
    pub fn with_fetch(mut self, fetch: FetchConfig) -> Self {
        self.fetch = fetch;
        self
    }

    /// Sets [`group_protocol`](Self::group_protocol).
    #[must_use]
    pub fn with_group_protocol(mut self, protocol: GroupProtocol) -> Self {
        self.group_protocol = protocol;
        self
    }

    /// Sets [`remote_assignor`](Self::remote_assignor).
    #[must_use]
    pub fn with_remote_assignor(mut self, assignor: impl Into<String>) -> Self {
        self.remote_assignor = Some(assignor.into());
        self
    }

    /// Sets [`protocol_fallback`](Self::protocol_fallback).
    #[must_use]
    pub fn with_protocol_fallback(mut self, fallback: bool) -> Self {
        self.protocol_fallback = fallback;
        self
    }
}

impl GroupConfig {
    /// Whether the member is static (has a `group.instance.id`).
    pub fn is_static(&self) -> bool {
        self.instance_id.is_some()
    }

    /// The rebalance timeout sent in JoinGroup: [`rebalance_timeout`](Self::rebalance_timeout)
    /// if set, else [`max_poll_interval`](Self::max_poll_interval).
    pub fn effective_rebalance_timeout(&self) -> Duration {
        self.rebalance_timeout.unwrap_or(self.max_poll_interval)
    }

    /// Whether the member sends LeaveGroup when the consumer closes (see
    /// [`MembershipOnClose`]).
    pub fn leaves_group_on_close(&self) -> bool {
        match self.on_close {
            MembershipOnClose::Default => !self.is_static(),
            MembershipOnClose::LeaveGroup => true,
            MembershipOnClose::RemainInGroup => false,
        }
    }

    /// Checks the settings together.
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] naming the property of the first setting that is wrong:
    /// an empty `group.id`; a `group.instance.id` Kafka refuses (empty, `.` or `..`, longer
    /// than 249 characters, or other characters than ASCII letters, digits, `.`, `_` and
    /// `-`); no assignor, an empty or repeated one; a session timeout, heartbeat interval,
    /// poll interval or rebalance timeout that is zero or beyond a Kafka `INT` of
    /// milliseconds; a heartbeat interval not below the session timeout (Java's `Heartbeat`
    /// refuses it too); an auto commit interval beyond an `INT`; an empty `client.rack`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.group_id.is_empty() {
            return Err(ConfigError::invalid("group.id", "must not be empty"));
        }
        if let Some(id) = &self.instance_id {
            validate_instance_id(id)?;
        }
        validate_assignors(&self.assignors)?;
        let session = positive_int_millis("session.timeout.ms", self.session_timeout)?;
        let heartbeat = positive_int_millis("heartbeat.interval.ms", self.heartbeat_interval)?;
        if heartbeat >= session {
            return Err(ConfigError::invalid(
                "heartbeat.interval.ms",
                "must be lower than session.timeout.ms",
            ));
        }
        positive_int_millis("max.poll.interval.ms", self.max_poll_interval)?;
        if let Some(timeout) = self.rebalance_timeout {
            positive_int_millis(REBALANCE_TIMEOUT_KEY, timeout)?;
        }
        if self.auto_commit_interval.as_millis() > u128::from(INT_MAX) {
            return Err(ConfigError::invalid("auto.commit.interval.ms", "too large"));
        }
        if self.client_rack.as_deref() == Some("") {
            return Err(ConfigError::invalid("client.rack", "must not be empty"));
        }
        Ok(())
    }
}

/// A duration that is at least 1 ms and fits a Kafka `INT` of milliseconds, in milliseconds.
fn positive_int_millis(key: &str, duration: Duration) -> Result<u128, ConfigError> {
    let ms = duration.as_millis();
    if ms == 0 {
        return Err(ConfigError::invalid(key, "must be at least 1 ms"));
    }
    if ms > u128::from(INT_MAX) {
        return Err(ConfigError::invalid(key, "too large"));
    }
    Ok(ms)
}

/// Kafka's rules for a `group.instance.id` (Java's `JoinGroupRequest.validateGroupInstanceId`,
/// the rules of topic names).
fn validate_instance_id(id: &str) -> Result<(), ConfigError> {
    const KEY: &str = "group.instance.id";
    if id.is_empty() {
        return Err(ConfigError::invalid(KEY, "must not be empty"));
    }
    if id == "." || id == ".." {
        return Err(ConfigError::invalid(KEY, "must not be '.' or '..'"));
    }
    if id.len() > 249 {
        return Err(ConfigError::invalid(KEY, "longer than 249 characters"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(ConfigError::invalid(
            KEY,
            "only ASCII letters, digits, '.', '_' and '-' are allowed",
        ));
    }
    Ok(())
}

/// At least one assignor, none empty, none twice.
fn validate_assignors(assignors: &[String]) -> Result<(), ConfigError> {
    const KEY: &str = "partition.assignment.strategy";
    if assignors.is_empty() {
        return Err(ConfigError::invalid(KEY, "must name at least one assignor"));
    }
    for (i, name) in assignors.iter().enumerate() {
        if name.is_empty() {
            return Err(ConfigError::invalid(KEY, "an assignor name is empty"));
        }
        if assignors[..i].contains(name) {
            return Err(ConfigError::invalid(KEY, "names an assignor twice"));
        }
    }
    Ok(())
}

/// `partition.assignment.strategy`: a comma-separated list of built-in assignors (Java
/// classes or names). Custom assignors are set in code ([`GroupConfig::with_assignors`]).
fn parse_assignors(key: &str, value: &str) -> Result<Vec<String>, ConfigError> {
    let mut assignors = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some(name) = builtin_assignor(entry) else {
            return Err(ConfigError::invalid(
                key,
                "unknown assignor: expected range, roundrobin, sticky, cooperative-sticky or \
                 their Java classes (custom assignors are set in code)",
            ));
        };
        assignors.push(name.to_owned());
    }
    Ok(assignors)
}

/// `auto.offset.reset` (Java's and librdkafka's values, any case).
fn auto_offset_reset(key: &str, value: &str) -> Result<OffsetReset, ConfigError> {
    let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(value));
    if is(&["earliest", "smallest", "beginning"]) {
        Ok(OffsetReset::Earliest)
    } else if is(&["latest", "largest", "end"]) {
        Ok(OffsetReset::Latest)
    } else if is(&["none", "error"]) {
        Ok(OffsetReset::Fail)
    } else if value
        .get(..12)
        .is_some_and(|p| p.eq_ignore_ascii_case("by_duration:"))
    {
        Err(ConfigError::invalid(key, "by_duration is not supported"))
    } else {
        Err(ConfigError::invalid(
            key,
            "expected earliest, latest or none",
        ))
    }
}

/// What [`GroupConfig::apply`] did with a key.
enum Applied {
    /// Set a group setting.
    Group,
    /// Skipped a key that belongs to the client or means nothing to a group consumer.
    Skipped,
    /// Did not know the key.
    Unknown,
}

/// Whether a group consumer skips `key`: a key of Java's consumer that means nothing to it
/// ([`IGNORED_CONSUMER_KEYS`] less [`GROUP_KEYS`]: deserializers, interceptors, metrics,
/// socket buffers, DNS, `max.poll.records`, `default.api.timeout.ms`, ...).
pub fn is_ignored_group_key(key: &str) -> bool {
    IGNORED_CONSUMER_KEYS.contains(&key) && !GROUP_KEYS.contains(&key)
}

impl GroupConfig {
    /// A group consumer's settings from properties applied in order (a later value for the
    /// same key wins): [`GROUP_KEYS`] and [`FETCH_KEYS`](crate::fetch::config::FETCH_KEYS)
    /// set; the client's keys ([`CLIENT_KEYS`]; `retry.backoff.ms` is read by both) and the
    /// keys of [`is_ignored_group_key`] skipped unchecked (see [`GroupProperties`] to keep
    /// the client's). The result is [validated](Self::validate).
    ///
    /// # Errors
    /// [`ConfigError::Missing`] without `group.id`; [`ConfigError::UnknownKey`] for any other
    /// key; [`ConfigError::InvalidValue`] naming the key of a malformed value or of a
    /// combination [`validate`](Self::validate) refuses.
    pub fn from_properties<I, K, V>(properties: I) -> Result<GroupConfig, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = GroupConfig::new("");
        let mut has_group_id = false;
        for (k, v) in properties {
            let key = k.as_ref();
            has_group_id |= key == "group.id";
            config.set(key, v.as_ref())?;
        }
        config.finish(has_group_id)?;
        Ok(config)
    }

    /// Applies one property as [`from_properties`](Self::from_properties) does, without
    /// checking the combination. Values are trimmed; keys are case-sensitive, as in Kafka.
    ///
    /// Besides Java's values: `partition.assignment.strategy` takes a comma-separated list
    /// of built-in assignors (see [`builtin_assignor`]); `auto.offset.reset` also takes
    /// librdkafka's `smallest`, `beginning`, `largest`, `end` and `error`;
    /// `group.instance.id` and `client.rack` are unset by an empty value;
    /// `group.protocol` is `classic` or `consumer` (any case); an empty
    /// `group.remote.assignor` is the broker's default; `internal.leave.group.on.close=false` is
    /// [`MembershipOnClose::RemainInGroup`], `true` [`MembershipOnClose::Default`].
    ///
    /// # Errors
    /// [`ConfigError::UnknownKey`], [`ConfigError::InvalidValue`] as in
    /// [`from_properties`](Self::from_properties).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match self.apply(key, value.trim())? {
            Applied::Group => Ok(()),
            Applied::Skipped => {
                debug!(key, "not a group consumer property; skipped");
                Ok(())
            }
            Applied::Unknown => Err(ConfigError::UnknownKey(key.to_owned())),
        }
    }

    /// Checks what properties left: a `group.id` given, and the combination.
    fn finish(&self, has_group_id: bool) -> Result<(), ConfigError> {
        if !has_group_id {
            return Err(ConfigError::Missing {
                key: "group.id",
                reason: "a group consumer needs a group id",
            });
        }
        self.validate()
    }

    /// Applies `key` if it is a group or fetch property, else says whose it is.
    fn apply(&mut self, key: &str, value: &str) -> Result<Applied, ConfigError> {
        if self.fetch.apply(key, value)? {
            return Ok(Applied::Group);
        }
        match key {
            "group.id" => self.group_id = value.to_owned(),
            "group.instance.id" => {
                self.instance_id = Some(value.to_owned()).filter(|id| !id.is_empty());
            }
            "group.protocol" => {
                self.group_protocol = if value.eq_ignore_ascii_case("consumer") {
                    GroupProtocol::Consumer
                } else if value.eq_ignore_ascii_case("classic") {
                    GroupProtocol::Classic
                } else {
                    return Err(ConfigError::invalid(key, "expected classic or consumer"));
                };
            }
            "group.remote.assignor" => {
                self.remote_assignor = Some(value.to_owned()).filter(|a| !a.is_empty());
            }
            PROTOCOL_FALLBACK_KEY => self.protocol_fallback = boolean(key, value)?,
            "partition.assignment.strategy" => self.assignors = parse_assignors(key, value)?,
            "session.timeout.ms" => self.session_timeout = millis(key, value, INT_MAX)?,
            "heartbeat.interval.ms" => self.heartbeat_interval = millis(key, value, INT_MAX)?,
            "max.poll.interval.ms" => self.max_poll_interval = millis(key, value, INT_MAX)?,
            REBALANCE_TIMEOUT_KEY => self.rebalance_timeout = Some(millis(key, value, INT_MAX)?),
            "enable.auto.commit" => self.auto_commit = boolean(key, value)?,
            "auto.commit.interval.ms" => self.auto_commit_interval = millis(key, value, INT_MAX)?,
            "auto.offset.reset" => self.auto_offset_reset = auto_offset_reset(key, value)?,
            "client.rack" => self.client_rack = Some(value.to_owned()).filter(|r| !r.is_empty()),
            "retry.backoff.ms" => self.retry_backoff = millis(key, value, LONG_MAX)?,
            "retry.backoff.max.ms" => self.retry_backoff_max = millis(key, value, LONG_MAX)?,
            "internal.leave.group.on.close" => {
                self.on_close = if boolean(key, value)? {
                    MembershipOnClose::Default
                } else {
                    MembershipOnClose::RemainInGroup
                };
            }
            "allow.auto.create.topics" => self.allow_auto_create_topics = boolean(key, value)?,
            "exclude.internal.topics" => self.exclude_internal_topics = boolean(key, value)?,
            _ if CLIENT_KEYS.contains(&key) || is_ignored_group_key(key) => {
                return Ok(Applied::Skipped);
            }
            _ => return Ok(Applied::Unknown),
        }
        Ok(Applied::Group)
    }
}

/// One Java consumer properties file, split between the client and a group consumer.
///
/// [`CLIENT_KEYS`] go to [`client`](Self::client) (`retry.backoff.ms` to the group too),
/// [`GROUP_KEYS`] and [`FETCH_KEYS`](crate::fetch::config::FETCH_KEYS) to
/// [`group`](Self::group), and keys Java's consumer defines that mean nothing to a group
/// consumer ([`is_ignored_group_key`]) to [`ignored`](Self::ignored), so an existing file
/// loads as it is. Any other key is a [`ConfigError::UnknownKey`].
///
/// ```
/// use gregor_consumer::group::config::GroupProperties;
///
/// let props = GroupProperties::parse([
///     ("bootstrap.servers", "broker-1:9092"),
///     ("group.id", "orders-audit"),
///     ("group.instance.id", "audit-0"),
///     ("retry.backoff.ms", "250"),
///     ("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer"),
/// ])?;
/// let client = props.client.build()?;
/// assert_eq!(client.retry_backoff().as_millis(), 250);
/// assert_eq!(props.group.retry_backoff.as_millis(), 250);
/// assert_eq!(props.group.instance_id.as_deref(), Some("audit-0"));
/// assert_eq!(props.ignored, ["key.deserializer"]);
/// # Ok::<(), gregor_client::config::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GroupProperties {
    /// The client's settings, not yet built: code can still add what properties cannot say
    /// before [`build`](ClientConfigBuilder::build) checks them.
    pub client: ClientConfigBuilder,
    /// The group consumer's settings, validated.
    pub group: GroupConfig,
    /// The keys of [`is_ignored_group_key`] that were given, each once, in the order first
    /// given, for the application to log or refuse.
    pub ignored: Vec<String>,
}

impl GroupProperties {
    /// Splits `properties` (applied in order; a later value for the same key wins) into the
    /// client's settings and the group consumer's. The client's values are checked as they
    /// are set, its combination when `client` is built; the group's settings are
    /// [validated](GroupConfig::validate).
    ///
    /// # Errors
    /// [`ConfigError::Missing`] without `group.id`; [`ConfigError::UnknownKey`] for a key of
    /// none of the lists; [`ConfigError::InvalidValue`] naming the key of a malformed value.
    pub fn parse<I, K, V>(properties: I) -> Result<GroupProperties, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut split = GroupProperties {
            client: ClientConfigBuilder::default(),
            group: GroupConfig::new(""),
            ignored: Vec::new(),
        };
        let mut has_group_id = false;
        for (k, v) in properties {
            let (key, value) = (k.as_ref(), v.as_ref().trim());
            has_group_id |= key == "group.id";
            if CLIENT_KEYS.contains(&key) {
                split.client.set(key, value)?;
                if !GROUP_KEYS.contains(&key) {
                    continue;
                }
            }
            match split.group.apply(key, value)? {
                Applied::Group => {}
                Applied::Skipped => {
                    if !split.ignored.iter().any(|k| k == key) {
                        split.ignored.push(key.to_owned());
                    }
                }
                Applied::Unknown => return Err(ConfigError::UnknownKey(key.to_owned())),
            }
        }
        split.group.finish(has_group_id)?;
        Ok(split)
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
