//! The settings of a direct stream.

use std::time::Duration;

use super::starting::StartingOffsets;
use super::strategy::ConsumerStrategy;
use crate::fetch::FetchConfig;
use crate::rate::{PidConfig, RateLimits};
use crate::read::OnDataLoss;

/// How a [`DirectStream`](super::DirectStream) reads: which partitions, where they start, how
/// often batches come and how large they may be.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DirectStreamConfig {
    /// Which partitions to read.
    pub strategy: ConsumerStrategy,
    /// Where partitions present at start, without an explicit or stored offset, start.
    /// Default [`StartingOffsets::Latest`].
    pub starting: StartingOffsets,
    /// Where partitions that appear while the stream runs (partitions added to a topic, new
    /// topics matching a pattern), without an explicit or stored offset, start. Default
    /// [`StartingOffsets::Earliest`]: every record of a new partition was written after the
    /// stream started, so starting at its end would skip them (Spark applies
    /// `auto.offset.reset` here).
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
