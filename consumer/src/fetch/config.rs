//! [`FetchConfig`]: how the fetch engine asks brokers for records and how much it may buffer.
//!
//! It can also be read from Kafka consumer properties ([`FETCH_KEYS`]), with the client's
//! value parsers and its [`ConfigError`]:
//!
//! ```
//! use gregor_consumer::{FetchConfig, IsolationLevel};
//!
//! let fetch = FetchConfig::from_properties([
//!     ("isolation.level", "read_committed"),
//!     ("fetch.max.wait.ms", "100"),
//!     ("gregor.fetch.memory.budget.bytes", "16777216"),
//! ])?;
//! assert_eq!(fetch.isolation, IsolationLevel::ReadCommitted);
//! assert_eq!(fetch.memory_budget, 16 << 20);
//! # Ok::<(), gregor_client::config::ConfigError>(())
//! ```

use std::time::Duration;

pub use gregor_client::admin::IsolationLevel;
use gregor_client::config::ConfigError;
use gregor_client::config::value::{INT_MAX, LONG_MAX, boolean, millis, whole};

/// The property of [`FetchConfig::memory_budget`]: gregor's own, as no Kafka client has the
/// same setting (librdkafka's `queued.max.messages.kbytes` is the closest). A positive number
/// of bytes.
pub const MEMORY_BUDGET_KEY: &str = "gregor.fetch.memory.budget.bytes";

/// Every property [`FetchConfig::set`] accepts: the Java consumer's fetch settings,
/// librdkafka's spelling `fetch.wait.max.ms` of `fetch.max.wait.ms`, and
/// [`MEMORY_BUDGET_KEY`].
pub const FETCH_KEYS: &[&str] = &[
    "fetch.max.wait.ms",
    "fetch.wait.max.ms",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "isolation.level",
    "check.crcs",
    MEMORY_BUDGET_KEY,
];

/// Settings of a [`FetchEngine`](super::FetchEngine).
///
/// Build with [`FetchConfig::default`] and the `with_*` setters, or from properties with
/// [`FetchConfig::from_properties`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FetchConfig {
    /// How long a broker may hold a Fetch request waiting for `min_bytes` (Kafka's
    /// `fetch.max.wait.ms`). Default 500 ms.
    pub max_wait: Duration,
    /// The bytes a broker waits for before answering (`fetch.min.bytes`). Default 1.
    pub min_bytes: i32,
    /// The most bytes one Fetch response should hold (`fetch.max.bytes`). Default 50 MiB.
    /// Never more than the memory budget left is asked for.
    pub max_bytes: i32,
    /// The most bytes per partition in one response (`max.partition.fetch.bytes`).
    /// Default 1 MiB.
    pub partition_max_bytes: i32,
    /// Bytes of fetched-but-undelivered record data all readers of an engine may hold
    /// together ([`MEMORY_BUDGET_KEY`]). Default 64 MiB. A response may exceed what is left by one record batch
    /// (KIP-74: a broker always returns the first batch whole).
    pub memory_budget: usize,
    /// Which records are delivered: all, or those of committed transactions only
    /// (`isolation.level`). Default `read_uncommitted`.
    pub isolation: IsolationLevel,
    /// Whether batch CRCs are checked (`check.crcs`). Default true.
    pub check_crcs: bool,
    /// Whether incremental fetch sessions (KIP-227) are used where the broker supports them.
    /// Default true.
    pub use_sessions: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 50 * 1024 * 1024,
            partition_max_bytes: 1024 * 1024,
            memory_budget: 64 * 1024 * 1024,
            isolation: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            use_sessions: true,
        }
    }
}

impl FetchConfig {
    /// Sets [`memory_budget`](Self::memory_budget).
    pub fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Sets [`isolation`](Self::isolation).
    pub fn with_isolation(mut self, isolation: IsolationLevel) -> Self {
        self.isolation = isolation;
        self
    }

    /// Sets [`max_wait`](Self::max_wait).
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Sets [`min_bytes`](Self::min_bytes).
    pub fn with_min_bytes(mut self, min_bytes: i32) -> Self {
        self.min_bytes = min_bytes;
        self
    }

    /// Sets [`max_bytes`](Self::max_bytes).
    pub fn with_max_bytes(mut self, max_bytes: i32) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets [`partition_max_bytes`](Self::partition_max_bytes).
    pub fn with_partition_max_bytes(mut self, bytes: i32) -> Self {
        self.partition_max_bytes = bytes;
        self
    }

    /// Sets [`check_crcs`](Self::check_crcs).
    pub fn with_check_crcs(mut self, check: bool) -> Self {
        self.check_crcs = check;
        self
    }

    /// Sets [`use_sessions`](Self::use_sessions).
    pub fn with_sessions(mut self, use_sessions: bool) -> Self {
        self.use_sessions = use_sessions;
        self
    }
}

impl FetchConfig {
    /// The defaults with these properties (see [`FETCH_KEYS`]) applied in order; a later
    /// value for the same key wins.
    ///
    /// # Errors
    /// [`ConfigError::UnknownKey`] for a key not in [`FETCH_KEYS`] (for a whole consumer
    /// properties file, use [`ConsumerProperties`](crate::direct::ConsumerProperties));
    /// [`ConfigError::InvalidValue`] naming the key of a malformed or out-of-range value.
    pub fn from_properties<I, K, V>(properties: I) -> Result<FetchConfig, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = FetchConfig::default();
        for (k, v) in properties {
            config.set(k.as_ref(), v.as_ref())?;
        }
        Ok(config)
    }

    /// Applies one property (see [`FETCH_KEYS`]). Values are trimmed; keys are
    /// case-sensitive, as in Kafka.
    ///
    /// - `fetch.max.wait.ms` (or `fetch.wait.max.ms`): [`max_wait`](Self::max_wait), a Kafka
    ///   `INT` of milliseconds;
    /// - `fetch.min.bytes`, `fetch.max.bytes`, `max.partition.fetch.bytes`:
    ///   [`min_bytes`](Self::min_bytes), [`max_bytes`](Self::max_bytes),
    ///   [`partition_max_bytes`](Self::partition_max_bytes), each a non-negative Kafka `INT`;
    /// - `isolation.level`: `read_uncommitted` or `read_committed` (any case);
    /// - `check.crcs`: `true` or `false`;
    /// - [`MEMORY_BUDGET_KEY`]: [`memory_budget`](Self::memory_budget), positive.
    ///
    /// # Errors
    /// As [`from_properties`](Self::from_properties).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        if self.apply(key, value.trim())? {
            Ok(())
        } else {
            Err(ConfigError::UnknownKey(key.to_owned()))
        }
    }

    /// Applies `key` if it is a fetch property; `Ok(false)` if it is not one.
    pub(crate) fn apply(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "fetch.max.wait.ms" | "fetch.wait.max.ms" => {
                self.max_wait = millis(key, value, INT_MAX)?;
            }
            "fetch.min.bytes" => self.min_bytes = int(key, value)?,
            "fetch.max.bytes" => self.max_bytes = int(key, value)?,
            "max.partition.fetch.bytes" => self.partition_max_bytes = int(key, value)?,
            "isolation.level" => {
                self.isolation = if value.eq_ignore_ascii_case("read_uncommitted") {
                    IsolationLevel::ReadUncommitted
                } else if value.eq_ignore_ascii_case("read_committed") {
                    IsolationLevel::ReadCommitted
                } else {
                    return Err(ConfigError::invalid(
                        key,
                        "expected read_uncommitted or read_committed",
                    ));
                };
            }
            "check.crcs" => self.check_crcs = boolean(key, value)?,
            MEMORY_BUDGET_KEY => {
                let bytes = usize::try_from(whole(key, value, LONG_MAX)?)
                    .map_err(|_| ConfigError::invalid(key, "too large"))?;
                if bytes == 0 {
                    return Err(ConfigError::invalid(key, "must be positive"));
                }
                self.memory_budget = bytes;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A non-negative Kafka `INT`.
fn int(key: &str, value: &str) -> Result<i32, ConfigError> {
    i32::try_from(whole(key, value, INT_MAX)?).map_err(|_| ConfigError::invalid(key, "too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch(props: &[(&str, &str)]) -> Result<FetchConfig, ConfigError> {
        FetchConfig::from_properties(props.iter().copied())
    }

    #[track_caller]
    fn assert_invalid(r: Result<FetchConfig, ConfigError>, key: &str) {
        match r {
            Err(ConfigError::InvalidValue { key: k, .. }) if k == key => {}
            other => panic!("expected InvalidValue for {key}, got {other:?}"),
        }
    }

    #[test]
    fn no_properties_keep_the_defaults() {
        let c = fetch(&[]).unwrap();
        let d = FetchConfig::default();
        assert_eq!(c.max_wait, d.max_wait);
        assert_eq!(c.min_bytes, d.min_bytes);
        assert_eq!(c.max_bytes, d.max_bytes);
        assert_eq!(c.partition_max_bytes, d.partition_max_bytes);
        assert_eq!(c.memory_budget, d.memory_budget);
        assert_eq!(c.isolation, IsolationLevel::ReadUncommitted);
        assert!(c.check_crcs);
        assert!(c.use_sessions);
    }

    #[test]
    fn every_listed_key_is_accepted() {
        for key in FETCH_KEYS {
            let sample = match *key {
                "isolation.level" => "read_committed",
                "check.crcs" => "false",
                _ => "1",
            };
            fetch(&[(key, sample)]).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
    }

    #[test]
    fn max_wait() {
        for key in ["fetch.max.wait.ms", "fetch.wait.max.ms"] {
            let c = fetch(&[(key, " 250 ")]).unwrap();
            assert_eq!(c.max_wait, Duration::from_millis(250), "{key}");
            assert_eq!(fetch(&[(key, "0")]).unwrap().max_wait, Duration::ZERO);
            // An INT in Kafka.
            for bad in ["-1", "1.5", "", "2147483648", "100ms"] {
                assert_invalid(fetch(&[(key, bad)]), key);
            }
        }
    }

    #[test]
    fn byte_sizes() {
        type Get = fn(&FetchConfig) -> i32;
        let cases: [(&str, Get); 3] = [
            ("fetch.min.bytes", |c| c.min_bytes),
            ("fetch.max.bytes", |c| c.max_bytes),
            ("max.partition.fetch.bytes", |c| c.partition_max_bytes),
        ];
        for (key, get) in cases {
            assert_eq!(get(&fetch(&[(key, "4096")]).unwrap()), 4096, "{key}");
            assert_eq!(get(&fetch(&[(key, "0")]).unwrap()), 0, "{key}");
            assert_eq!(
                get(&fetch(&[(key, "2147483647")]).unwrap()),
                i32::MAX,
                "{key}"
            );
            for bad in ["-1", "2147483648", "1e6", "1 MiB", ""] {
                assert_invalid(fetch(&[(key, bad)]), key);
            }
        }
    }

    #[test]
    fn isolation_level() {
        let key = "isolation.level";
        for (value, level) in [
            ("read_committed", IsolationLevel::ReadCommitted),
            ("READ_COMMITTED", IsolationLevel::ReadCommitted),
            ("read_uncommitted", IsolationLevel::ReadUncommitted),
        ] {
            assert_eq!(fetch(&[(key, value)]).unwrap().isolation, level, "{value}");
        }
        for bad in ["committed", "read-committed", "1", ""] {
            assert_invalid(fetch(&[(key, bad)]), key);
        }
    }

    #[test]
    fn check_crcs() {
        let key = "check.crcs";
        assert!(!fetch(&[(key, "false")]).unwrap().check_crcs);
        assert!(fetch(&[(key, "TRUE")]).unwrap().check_crcs);
        for bad in ["yes", "0", ""] {
            assert_invalid(fetch(&[(key, bad)]), key);
        }
    }

    #[test]
    fn memory_budget() {
        let key = MEMORY_BUDGET_KEY;
        assert_eq!(
            fetch(&[(key, "1048576")]).unwrap().memory_budget,
            1024 * 1024
        );
        for bad in ["0", "-1", "64MiB", "99999999999999999999", ""] {
            assert_invalid(fetch(&[(key, bad)]), key);
        }
    }

    #[test]
    fn a_later_value_wins() {
        let c = fetch(&[("fetch.min.bytes", "10"), ("fetch.min.bytes", "20")]).unwrap();
        assert_eq!(c.min_bytes, 20);
    }

    #[test]
    fn unknown_keys() {
        // Client, stream and misspelled keys are not fetch keys; keys are case-sensitive.
        for key in [
            "bootstrap.servers",
            "auto.offset.reset",
            "group.id",
            "Fetch.Min.Bytes",
            "fetch.min.byte",
        ] {
            assert_eq!(
                fetch(&[(key, "1")]).unwrap_err(),
                ConfigError::UnknownKey(key.to_owned())
            );
        }
        let mut c = FetchConfig::default();
        assert_eq!(
            c.set("memory.budget", "1"),
            Err(ConfigError::UnknownKey("memory.budget".to_owned()))
        );
    }

    #[test]
    fn errors_name_the_key_never_the_value() {
        let e = fetch(&[("fetch.max.bytes", "hunter2")]).unwrap_err();
        assert_eq!(e.key(), "fetch.max.bytes");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
