//! [`FetchConfig`]: how the fetch engine asks brokers for records and how much it may buffer.

use std::time::Duration;

pub use gregor_client::admin::IsolationLevel;

/// Settings of a [`FetchEngine`](super::FetchEngine).
///
/// Build with [`FetchConfig::default`] and the `with_*` setters.
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
    /// together. Default 64 MiB. A response may exceed what is left by one record batch
    /// (KIP-74: a broker always returns the first batch whole).
    pub memory_budget: usize,
    /// Which records are delivered: all, or those of committed transactions only.
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
