//! [`FetchEngine`]: the handle both consumers fetch through, and the executor task that
//! starts the I/O the core asks for.
//!
//! Starting a read adds a cursor to the core and a mailbox for its reader; the executor
//! (one task per engine) starts broker loops ([`super::broker`]) for the leaders of active
//! cursors, lookups and epoch checks ([`super::lookup`]), and metadata refreshes (one at a
//! time; it keeps refreshing while an active cursor's partition has no leader or is missing).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use gregor_client::Client;
use gregor_protocol::records::DecodeOptions;
use tokio::sync::mpsc;

use super::config::FetchConfig;
use super::core::FetchCore;
use super::cursor::{CursorEnd, CursorSpec, OffsetReset, OnDataLoss, StartAt};
use super::exchange::CoreSettings;
use super::mailbox::Mailbox;
use super::reader::PartitionReader;
use super::shared::{Shared, ShellTask};
use crate::range::{OffsetRange, TopicPartition};

/// How many refreshes in a row a leaderless partition's cursor waits for a leader.
const MAX_LEADERLESS_REFRESHES: u32 = 600;

/// Cloneable handle; owns one fetch loop per broker (spawned lazily), shared by all readers.
///
/// Readers are **bounded** ([`read`](Self::read): the records of one [`OffsetRange`], then
/// complete; the direct stream's) or **open-ended** ([`follow`](Self::follow): the partition's
/// records as the log grows, waiting at its end with long polls; the group consumer's). All
/// share one memory budget ([`FetchConfig::memory_budget`]) and one fetch session per broker.
/// Partitions can be paused and resumed (not fetched, position and buffered data kept) and
/// revoked ([`revoke`](Self::revoke): their readers end and their buffered data is dropped).
#[derive(Clone, Debug)]
pub struct FetchEngine {
    shared: Arc<Shared>,
}

impl FetchEngine {
    /// An engine fetching through `client`. Must be called inside a tokio runtime.
    pub fn new(client: Client, config: FetchConfig) -> FetchEngine {
        let (tx, rx) = mpsc::unbounded_channel();
        let settings = CoreSettings {
            isolation: config.isolation,
            retry_backoff: client.config().retry_backoff(),
            decode: DecodeOptions {
                verify_crc: config.check_crcs,
                ..DecodeOptions::default()
            },
        };
        let shared = Arc::new(Shared::new(client, config, FetchCore::new(settings), tx));
        tokio::spawn(execute(Arc::downgrade(&shared), rx));
        FetchEngine { shared }
    }

    /// The client fetches go through.
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// The configuration.
    pub fn config(&self) -> &FetchConfig {
        &self.shared.config
    }

    /// Starts reading one range now (prefetch begins immediately, within the memory budget).
    /// Data loss fails the reader ([`OnDataLoss::Fail`]).
    pub fn read(&self, range: OffsetRange) -> PartitionReader {
        self.read_with(range, OnDataLoss::Fail)
    }

    /// Starts reading one range, handling data loss as `on_data_loss` says.
    pub fn read_with(&self, range: OffsetRange, on_data_loss: OnDataLoss) -> PartitionReader {
        self.start_range(range, on_data_loss, -1)
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
        self.start_range(range, on_data_loss, until)
    }

    /// Starts following a partition from `start`, open-ended: the reader delivers records as
    /// the log grows and waits at its end (with long polls, [`FetchConfig::max_wait`]). When
    /// its position is out of range (deleted by retention, past the log end, or on a log
    /// truncated below it), `reset` says what happens.
    pub fn follow(
        &self,
        partition: TopicPartition,
        start: StartAt,
        reset: OffsetReset,
    ) -> PartitionReader {
        let from = match start {
            StartAt::Offset(offset) => offset,
            StartAt::Earliest | StartAt::Latest => -1,
        };
        let spec = CursorSpec {
            tp: partition,
            start,
            end: CursorEnd::Open,
            reset,
            known_end: -1,
            demand: Arc::default(),
        };
        let range = OffsetRange::open_from(&spec.tp, from);
        self.start(spec, range, from)
    }

    fn start_range(
        &self,
        range: OffsetRange,
        on_data_loss: OnDataLoss,
        known_end: i64,
    ) -> PartitionReader {
        let spec = CursorSpec {
            tp: range.topic_partition(),
            start: StartAt::Offset(range.from()),
            end: CursorEnd::Until(range.until()),
            reset: on_data_loss.into(),
            known_end,
            demand: Arc::default(),
        };
        let from = range.from();
        self.start(spec, range, from)
    }

    fn start(&self, mut spec: CursorSpec, range: OffsetRange, from: i64) -> PartitionReader {
        let mailbox = Arc::new(Mailbox::new());
        spec.demand = Arc::clone(&mailbox.demand);
        let end = spec.end;
        let tp = range.topic_partition();
        let mut out = Vec::new();
        let (id, tasks, retired) = {
            let mut state = self.shared.state();
            let id = state.core.add(spec, &mut out);
            state.mailboxes.insert(id, Arc::clone(&mailbox));
            let (tasks, retired) = state.dispatch(out);
            (id, tasks, retired)
        };
        self.shared.start(tasks, retired);
        let led = self
            .shared
            .client
            .metadata()
            .partition(&tp.topic, tp.partition)
            .is_some_and(|p| p.leader.is_some());
        if !led {
            self.shared.ask(ShellTask::RefreshMetadata);
        }
        ensure_loops(&self.shared);
        self.shared.wake();
        PartitionReader::new(Arc::clone(&self.shared), id, mailbox, range, from, end)
    }

    /// Pauses `partitions`: nothing more is fetched for them and their readers hand out
    /// nothing (they wait) until [`resume`](Self::resume); positions and data already fetched
    /// are kept, so memory stays where it was.
    pub fn pause(&self, partitions: &[TopicPartition]) {
        self.set_paused(partitions, true);
    }

    /// Resumes `partitions` after [`pause`](Self::pause): their readers hand out what was
    /// buffered, and fetching goes on from their positions.
    pub fn resume(&self, partitions: &[TopicPartition]) {
        self.set_paused(partitions, false);
        self.shared.wake();
    }

    fn set_paused(&self, partitions: &[TopicPartition], paused: bool) {
        let mut state = self.shared.state();
        for id in state.core.set_paused(partitions, paused) {
            if let Some(mailbox) = state.mailboxes.get(&id) {
                mailbox.set_paused(paused);
            }
        }
    }

    /// Revokes `partitions`: their readers stop (they return `None` and
    /// [`PartitionReader::is_revoked`] says why), the data buffered for them is dropped (its
    /// memory budget released), and nothing more is fetched for them. Returns once no request
    /// in flight can deliver records for them: a request already sent for one of them is
    /// waited for (at most the fetch's `max_wait` plus the time the broker takes to answer)
    /// and its data for them discarded.
    pub async fn revoke(&self, partitions: &[TopicPartition]) {
        let ids = self.revoke_at_once(partitions);
        loop {
            let settled = self.shared.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            if self.shared.state().core.all_retired(&ids) {
                return;
            }
            settled.await;
        }
    }

    /// Revokes `partitions` as [`revoke`](Self::revoke) does, without waiting for the
    /// requests in flight: their readers stop now, and whatever a request already sent brings
    /// for them is discarded when it comes. For partitions the application must stop at once
    /// (lost: its session ran out), when a stalled request could take until its timeout.
    pub fn revoke_without_waiting(&self, partitions: &[TopicPartition]) {
        self.revoke_at_once(partitions);
    }

    /// The part of a revocation that takes effect at once; returns the cursors revoked.
    fn revoke_at_once(&self, partitions: &[TopicPartition]) -> Vec<super::cursor::CursorId> {
        let mut out = Vec::new();
        let (ids, tasks, retired) = {
            let mut state = self.shared.state();
            let ids = state.core.revoke(partitions, &mut out);
            for id in &ids {
                if let Some(mailbox) = state.mailboxes.get(id) {
                    mailbox.close();
                }
            }
            let (tasks, retired) = state.dispatch(out);
            (ids, tasks, retired)
        };
        self.shared.start(tasks, retired);
        ids
    }

    /// Bytes of fetched-but-undelivered data currently held (for tests and the RSS example).
    /// Includes bytes reserved for requests in flight.
    pub fn buffered_bytes(&self) -> usize {
        self.shared.budget.used()
    }
}

/// Starts a loop for every broker that leads an active cursor and has none.
fn ensure_loops(shared: &Arc<Shared>) {
    let metadata = shared.client.metadata();
    let leaders = shared.state().core.leaders(&*metadata);
    let mut brokers = shared
        .brokers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for leader in leaders {
        if brokers.insert(leader) {
            tokio::spawn(super::broker::run(Arc::downgrade(shared), leader));
        }
    }
}

/// The executor: starts what the core and the loops ask for, until the engine is dropped.
async fn execute(engine: Weak<Shared>, mut tasks: mpsc::UnboundedReceiver<ShellTask>) {
    let refresh = Arc::new(RefreshFlags::default());
    while let Some(task) = tasks.recv().await {
        match task {
            ShellTask::LookUp(lookup) => {
                tokio::spawn(super::lookup::look_up_offsets(engine.clone(), lookup));
            }
            ShellTask::CheckEpoch(check) => {
                tokio::spawn(super::lookup::check_epoch(engine.clone(), check));
            }
            ShellTask::EnsureLoops => {
                if let Some(shared) = engine.upgrade() {
                    ensure_loops(&shared);
                }
            }
            ShellTask::RefreshMetadata => {
                refresh.again.store(true, Ordering::Release);
                if !refresh.running.swap(true, Ordering::AcqRel) {
                    tokio::spawn(refresh_metadata(engine.clone(), Arc::clone(&refresh)));
                }
            }
        }
    }
}

/// The state of the one metadata refresher.
#[derive(Debug, Default)]
struct RefreshFlags {
    running: AtomicBool,
    /// A refresh was asked for since the refresher last started one.
    again: AtomicBool,
}

/// Refreshes the metadata, then lets the loops re-route; goes on with a growing backoff
/// (capped at one second) while an active cursor's partition has no leader (its broker is
/// down, an election is running) or is missing, and while refreshes are asked for.
async fn refresh_metadata(engine: Weak<Shared>, flags: Arc<RefreshFlags>) {
    let mut attempt = 0u32;
    loop {
        flags.again.store(false, Ordering::Release);
        attempt += 1;
        let Some(shared) = engine.upgrade() else {
            flags.running.store(false, Ordering::Release);
            return;
        };
        let client = shared.client.clone();
        drop(shared);
        if let Err(error) = client.refresh_metadata(None).await {
            tracing::debug!(%error, "metadata refresh for fetching failed");
        }
        let Some(shared) = engine.upgrade() else {
            flags.running.store(false, Ordering::Release);
            return;
        };
        let metadata = client.metadata();
        let waiting = shared.transition(|core, out| core.check_missing(&*metadata, out));
        ensure_loops(&shared);
        shared.wake();
        drop(shared);
        let again = flags.again.load(Ordering::Acquire);
        if (!waiting && !again) || attempt >= MAX_LEADERLESS_REFRESHES {
            flags.running.store(false, Ordering::Release);
            // A refresh asked for between the check and the store above starts no refresher:
            // take it here.
            if flags.again.load(Ordering::Acquire) && !flags.running.swap(true, Ordering::AcqRel) {
                attempt = 0;
                continue;
            }
            return;
        }
        if waiting {
            let backoff = client.config().retry_backoff();
            let delay = (backoff * attempt).min(Duration::from_secs(1));
            tokio::time::sleep(delay).await;
        }
    }
}
