//! [`FetchEngine`]: the shared handle, and the registry of ranges being read.
//!
//! Every started range is a [`Slot`] in one registry behind a short `std::sync::Mutex`
//! (never held across `.await`). Broker tasks ([`super::broker`]) take the slots whose
//! partition their broker leads (by the current metadata snapshot), so a partition moves
//! to another broker's task as soon as the metadata names a new leader.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use gregor_client::Client;
use gregor_client::cluster::BrokerId;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::budget::MemoryBudget;
use super::config::FetchConfig;
use super::error::FetchError;
use super::fetched::FetchedData;
use super::reader::PartitionReader;
use crate::range::{OffsetRange, TopicPartition};
use crate::read::OnDataLoss;

/// Cloneable handle; owns one fetch task per broker (spawned lazily), shared by all readers.
#[derive(Clone, Debug)]
pub struct FetchEngine {
    pub(crate) inner: Arc<EngineInner>,
}

/// What a reader receives.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// Planned batches (possibly none) and the position after them.
    Fetched(FetchedData),
    /// Offsets `from..to` were deleted and skipped ([`OnDataLoss::SkipToLogStart`]).
    Skipped(i64, i64),
    /// The range failed.
    Failed(FetchError),
}

/// Where a slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Wants data from `next_fetch`.
    Fetching,
    /// Waiting for an out-of-range offset to be looked up.
    Resolving,
    /// Complete or failed: fetches nothing more.
    Done,
}

/// One range being read.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) tp: TopicPartition,
    pub(crate) until: i64,
    pub(crate) next_fetch: i64,
    /// Bumped whenever the position is moved other than by delivered data, so answers to
    /// requests sent before are discarded.
    pub(crate) generation: u64,
    pub(crate) in_flight: bool,
    pub(crate) state: SlotState,
    pub(crate) retry_at: Option<Instant>,
    pub(crate) unknown_rounds: u32,
    /// The leader epoch of the last batch fetched, or -1.
    pub(crate) last_fetched_epoch: i32,
    /// The leader epoch (from the metadata) the position was last fetched or validated
    /// under; when the metadata names another, the position is validated first.
    pub(crate) fetch_epoch: Option<i32>,
    pub(crate) on_data_loss: OnDataLoss,
    /// The highest log end seen for the partition while reading the range (the range's own
    /// end when it was planned from the log end), or -1: a log end seen at or past `until`
    /// makes a lower one later a lag to wait out, not the end (see `log_end`).
    pub(crate) known_end: i64,
    /// When a log end below `until` (after a higher one) was first seen, while it lasts.
    pub(crate) lagging_since: Option<Instant>,
    /// Set by the reader while it waits for data with nothing buffered: such a partition is
    /// fetched even when the budget is spent, so readers that consume in turn never starve
    /// behind data prefetched for others.
    pub(crate) waiting: Arc<AtomicBool>,
    pub(crate) tx: mpsc::UnboundedSender<Delivery>,
}

impl Slot {
    /// Sends `delivery` to the reader (a gone reader is not an error: its slot goes soon).
    pub(crate) fn deliver(&self, delivery: Delivery) {
        let _ = self.tx.send(delivery);
    }

    /// Fails the range.
    pub(crate) fn fail(&mut self, error: FetchError) {
        self.state = SlotState::Done;
        self.deliver(Delivery::Failed(error));
    }
}

#[derive(Debug)]
pub(crate) struct EngineInner {
    pub(crate) client: Client,
    pub(crate) config: FetchConfig,
    pub(crate) budget: MemoryBudget,
    pub(crate) slots: Mutex<HashMap<u64, Slot>>,
    /// Brokers with a running task.
    pub(crate) brokers: Mutex<HashSet<BrokerId>>,
    /// Woken when there is new work (a new range, a reposition, a metadata change).
    pub(crate) work: Arc<Notify>,
    next_id: AtomicU64,
}

impl EngineInner {
    pub(crate) fn slots(&self) -> MutexGuard<'_, HashMap<u64, Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Removes a reader's slot (its reader was dropped).
    pub(crate) fn remove(&self, id: u64) {
        self.slots().remove(&id);
    }

    /// Wakes every broker task.
    pub(crate) fn wake(&self) {
        self.work.notify_waiters();
        self.budget.wake();
    }

    /// Spawns a task for every broker that leads an active slot and has none.
    pub(crate) fn ensure_tasks(self: &Arc<Self>) {
        let metadata = self.client.metadata();
        let leaders: HashSet<BrokerId> = self
            .slots()
            .values()
            .filter(|s| s.state != SlotState::Done)
            .filter_map(|s| metadata.partition(&s.tp.topic, s.tp.partition)?.leader)
            .collect();
        let mut brokers = self
            .brokers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for leader in leaders {
            if brokers.insert(leader) {
                super::broker::spawn(Arc::downgrade(self), leader);
            }
        }
    }

    /// Asks for fresh metadata in the background, then lets the tasks re-route. While an
    /// active range's partition has no leader (its broker is down, an election is running)
    /// or is missing from the metadata, refreshes again with a growing backoff (capped at one
    /// second); ranges whose partition is still missing after
    /// [`UNKNOWN_PARTITION_REFRESHES`] refreshes fail with [`FetchError::UnknownPartition`].
    pub(crate) fn refresh_metadata(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let client = self.client.clone();
        let backoff = client.config().retry_backoff();
        tokio::spawn(async move {
            for attempt in 1..=MAX_LEADERLESS_REFRESHES {
                if let Err(error) = client.refresh_metadata(None).await {
                    tracing::debug!(%error, "metadata refresh for fetching failed");
                }
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let waiting = inner.check_missing(attempt >= UNKNOWN_PARTITION_REFRESHES);
                inner.ensure_tasks();
                inner.wake();
                if !waiting {
                    return;
                }
                drop(inner);
                let delay = (backoff * attempt).min(std::time::Duration::from_secs(1));
                tokio::time::sleep(delay).await;
            }
        });
    }

    /// Whether an active range's partition is missing from the metadata or has no leader;
    /// with `fail`, ranges of missing partitions fail.
    fn check_missing(&self, fail: bool) -> bool {
        let metadata = self.client.metadata();
        let mut waiting = false;
        for slot in self.slots().values_mut() {
            if slot.state == SlotState::Done {
                continue;
            }
            match metadata.partition(&slot.tp.topic, slot.tp.partition) {
                Some(p) if p.leader.is_some() => {}
                Some(_) => waiting = true,
                None if fail => {
                    let error = FetchError::UnknownPartition {
                        topic: slot.tp.topic.to_string(),
                        partition: slot.tp.partition,
                    };
                    slot.fail(error);
                }
                None => waiting = true,
            }
        }
        waiting
    }
}

/// How many refreshes a leaderless partition's range waits for a leader.
const MAX_LEADERLESS_REFRESHES: u32 = 600;
/// How many metadata refreshes a range waits for its partition to appear.
const UNKNOWN_PARTITION_REFRESHES: u32 = 5;

impl FetchEngine {
    /// An engine fetching through `client`. Must be used inside a tokio runtime.
    pub fn new(client: Client, config: FetchConfig) -> FetchEngine {
        let budget = MemoryBudget::new(config.memory_budget);
        FetchEngine {
            inner: Arc::new(EngineInner {
                client,
                config,
                budget,
                slots: Mutex::new(HashMap::new()),
                brokers: Mutex::new(HashSet::new()),
                work: Arc::new(Notify::new()),
                next_id: AtomicU64::new(0),
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
        self.start(range, on_data_loss, -1)
    }

    /// Starts reading a range planned from the partition's log end (its offsets existed when
    /// it was planned): a log end seen below its end later, as a newly elected leader shows
    /// for a moment, is waited out instead of failing the range.
    pub(crate) fn read_planned(
        &self,
        range: OffsetRange,
        on_data_loss: OnDataLoss,
    ) -> PartitionReader {
        let until = range.until();
        self.start(range, on_data_loss, until)
    }

    fn start(
        &self,
        range: OffsetRange,
        on_data_loss: OnDataLoss,
        known_end: i64,
    ) -> PartitionReader {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let waiting = Arc::new(AtomicBool::new(false));
        if !range.is_empty() {
            self.inner.slots().insert(
                id,
                Slot {
                    tp: range.topic_partition(),
                    until: range.until(),
                    next_fetch: range.from(),
                    generation: 0,
                    in_flight: false,
                    state: SlotState::Fetching,
                    retry_at: None,
                    unknown_rounds: 0,
                    last_fetched_epoch: -1,
                    fetch_epoch: None,
                    on_data_loss,
                    known_end,
                    lagging_since: None,
                    waiting: Arc::clone(&waiting),
                    tx,
                },
            );
            if self
                .inner
                .client
                .metadata()
                .partition(range.topic(), range.partition())
                .and_then(|p| p.leader)
                .is_none()
            {
                self.inner.refresh_metadata();
            }
            self.inner.ensure_tasks();
            self.inner.wake();
        }
        PartitionReader::new(Arc::clone(&self.inner), id, range, rx, waiting)
    }

    /// Bytes of fetched-but-undelivered data currently held (for tests and the RSS example).
    /// Includes bytes reserved for requests in flight.
    pub fn buffered_bytes(&self) -> usize {
        self.inner.budget.used()
    }
}
