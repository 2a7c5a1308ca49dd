//! [`Shared`]: what the engine's handle, readers, broker loops and lookup tasks share.
//!
//! The mutable fetch state is one [`State`] behind one `std::sync::Mutex` (never held across
//! `.await`): the sans-io [`FetchCore`] and each reader's [`Mailbox`]. A transition runs under
//! the lock and its deliveries are pushed to the mailboxes before the lock is released, so each
//! reader sees them in the order the core made them; the I/O the core asks for (lookups, epoch
//! checks, metadata refreshes, new broker loops) goes as a [`ShellTask`] to the engine's
//! executor task, which starts it. Nothing here starts a task itself.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use gregor_client::Client;
use gregor_client::cluster::{BrokerId, MetadataCache};
use gregor_protocol::primitives::Uuid;
use tokio::sync::{Notify, mpsc};

use super::budget::MemoryBudget;
use super::config::FetchConfig;
use super::core::FetchCore;
use super::cursor::CursorId;
use super::exchange::{Effect, EpochCheck, LeaderView, Leadership, OffsetLookup};
use super::mailbox::Mailbox;
use crate::range::TopicPartition;

/// I/O the shell starts for the core.
#[derive(Debug)]
pub(crate) enum ShellTask {
    /// Look a partition's log offsets up.
    LookUp(OffsetLookup),
    /// Check a position against the leader's epochs.
    CheckEpoch(EpochCheck),
    /// Refresh the metadata, and keep refreshing while a partition has no leader.
    RefreshMetadata,
    /// Start a loop for every broker that leads an active cursor and has none.
    EnsureLoops,
}

/// The fetch state under the engine's lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) core: FetchCore,
    pub(crate) mailboxes: HashMap<CursorId, Arc<Mailbox>>,
}

impl State {
    /// Pushes `effects`' deliveries to their mailboxes and drops retired cursors' mailboxes;
    /// returns the I/O to start and whether a cursor was retired.
    pub(crate) fn dispatch(&mut self, effects: Vec<Effect>) -> (Vec<ShellTask>, bool) {
        let mut tasks = Vec::new();
        let mut retired = false;
        for effect in effects {
            match effect {
                Effect::Deliver {
                    cursor,
                    generation,
                    delivery,
                } => {
                    if let Some(mailbox) = self.mailboxes.get(&cursor) {
                        mailbox.push(generation, delivery);
                    }
                }
                Effect::Retired(cursor) => {
                    if let Some(mailbox) = self.mailboxes.remove(&cursor) {
                        mailbox.close();
                    }
                    retired = true;
                }
                Effect::LookUpOffsets(lookup) => tasks.push(ShellTask::LookUp(lookup)),
                Effect::CheckEpoch(check) => tasks.push(ShellTask::CheckEpoch(check)),
                Effect::RefreshMetadata => {
                    if !tasks
                        .iter()
                        .any(|t| matches!(t, ShellTask::RefreshMetadata))
                    {
                        tasks.push(ShellTask::RefreshMetadata);
                    }
                }
            }
        }
        (tasks, retired)
    }
}

/// Everything an engine's parts share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) config: FetchConfig,
    pub(crate) budget: MemoryBudget,
    state: Mutex<State>,
    /// Brokers with a running loop.
    pub(crate) brokers: Mutex<HashSet<BrokerId>>,
    /// Woken when there is new work (a new cursor, a seek, a resume, a metadata change).
    pub(crate) work: Arc<Notify>,
    /// Woken when cursors are retired (revokes wait on it).
    pub(crate) settled: Notify,
    tasks: mpsc::UnboundedSender<ShellTask>,
}

impl Shared {
    pub(crate) fn new(
        client: Client,
        config: FetchConfig,
        core: FetchCore,
        tasks: mpsc::UnboundedSender<ShellTask>,
    ) -> Self {
        let budget = MemoryBudget::new(config.memory_budget);
        Self {
            client,
            config,
            budget,
            state: Mutex::new(State {
                core,
                mailboxes: HashMap::new(),
            }),
            brokers: Mutex::new(HashSet::new()),
            work: Arc::new(Notify::new()),
            settled: Notify::new(),
            tasks,
        }
    }

    /// Locks the fetch state.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs one transition of the core under the lock, pushes its deliveries, and starts the
    /// I/O it asked for.
    pub(crate) fn transition<R>(&self, f: impl FnOnce(&mut FetchCore, &mut Vec<Effect>) -> R) -> R {
        let mut out = Vec::new();
        let (result, tasks, retired) = {
            let mut state = self.state();
            let result = f(&mut state.core, &mut out);
            let (tasks, retired) = state.dispatch(out);
            (result, tasks, retired)
        };
        self.start(tasks, retired);
        result
    }

    /// Hands `tasks` to the executor; wakes revokes waiting when cursors were retired.
    pub(crate) fn start(&self, tasks: Vec<ShellTask>, retired: bool) {
        for task in tasks {
            // The executor outlives every sender but this one; a send fails only when the
            // runtime is shutting down, and then nothing is left to do.
            let _ = self.tasks.send(task);
        }
        if retired {
            self.settled.notify_waiters();
        }
    }

    /// Asks the executor for one shell task.
    pub(crate) fn ask(&self, task: ShellTask) {
        let _ = self.tasks.send(task);
    }

    /// Wakes every broker loop.
    pub(crate) fn wake(&self) {
        self.work.notify_waiters();
        self.budget.wake();
    }
}

impl LeaderView for MetadataCache {
    fn leadership(&self, tp: &TopicPartition) -> Option<Leadership> {
        let partition = self.partition(&tp.topic, tp.partition)?;
        Some(Leadership {
            leader: partition.leader,
            epoch: partition.leader_epoch,
            topic_id: self.topic(&tp.topic).map_or(Uuid::ZERO, |t| t.id),
        })
    }
}
