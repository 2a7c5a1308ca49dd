//! [`GroupConsumer`]: what the application holds.
//!
//! The consumer owns the partitions' readers (one open-ended cursor each in the shared
//! [`FetchEngine`]) and the offsets the application has finished. [`GroupConsumer::next`]
//! returns, in order, the group's decisions ([`GroupEvent::Assigned`], [`GroupEvent::Revoked`],
//! [`GroupEvent::Lost`]) and records, one chunk of one partition at a time, taking turns
//! between partitions.
//!
//! # Acknowledgement and the revoke barrier
//! Asking for the next event acknowledges the chunk returned before it: its offsets count as
//! processed, and they are what auto-commit and [`GroupConsumer::commit`] commit (Java's
//! semantics for `poll`). When partitions are revoked:
//! 1. the engine stops fetching them and drops their buffered data, and no record of them is
//!    delivered any more;
//! 2. with auto-commit on, what the application finished of them is committed;
//! 3. [`GroupEvent::Revoked`] is returned, and the revocation completes when the application
//!    asks for the next event: in between it may finish its own work on them and commit
//!    ([`GroupConsumer::commit`]).
//!
//! Only then does the membership rejoin (eager) or hand them over (cooperative). Lost
//! partitions ([`GroupEvent::Lost`]) are never committed.
//!
//! # Layout
//! This file holds the consumer, its event loop and the revoke barrier; `commit.rs` its
//! commits (fenced by the generation; auto-commit and the offset lookups of assigned
//! partitions run on tasks of their own); `events.rs` what the application sees
//! ([`GroupEvent`], [`RebalanceListener`]).

mod commit;
mod events;

use commit::{Background, CommitOutcome};
use events::Listener;
pub use events::{GroupEvent, RebalanceListener};

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use gregor_client::Admin;
use gregor_client::admin::FetchOffsetsOptions;
use gregor_client::{Client, Purpose};
use gregor_protocol::TopicPartition;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::assignor::{self, SharedAssignor};
use super::config::{GroupConfig, GroupProtocol, MembershipOnClose};
use super::consumer_membership::{
    ConsumerMembership, ConsumerMembershipSettings, ConsumerSubscription, LEAVE_EPOCH,
    STATIC_LEAVE_EPOCH,
};
use super::consumer_task;
use super::errors::GroupError;
use super::membership::{MemberEvent, Membership, MembershipSettings};
use super::partition_stream::{PartitionStream, StreamShared};
use super::task::{self, Command, MemberState, PollClock, Subscription, TaskContext};
use crate::fetch::{FetchConfig, FetchEngine, OffsetReset, PartitionReader, RecordChunk, StartAt};

/// How the shell runs, besides the membership's own settings.
#[derive(Debug, Clone)]
pub struct GroupConsumerSettings {
    /// The membership (group id, timeouts, assignors, rack, instance id).
    pub membership: MembershipSettings,
    /// `max.poll.interval.ms`.
    pub max_poll_interval: Duration,
    /// `auto.commit.interval.ms` when `enable.auto.commit` is on.
    pub auto_commit: Option<Duration>,
    /// `auto.offset.reset`: where a partition without a committed offset starts, and what
    /// happens when a position is out of range.
    pub offset_reset: OffsetReset,
    /// Send LeaveGroup on close (Java 4.1's default: dynamic members leave, static ones stay).
    pub leave_on_close: bool,
    /// The fetch engine's settings.
    pub fetch: FetchConfig,
    /// The group protocol (`group.protocol`).
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor`, for the consumer protocol.
    pub remote_assignor: Option<String>,
    /// Fall back to the classic protocol when the coordinator lacks the consumer protocol.
    pub protocol_fallback: bool,
    /// What the member does about its membership on close (the consumer protocol leaves
    /// temporarily, epoch -2, for a static member by default).
    pub on_close: MembershipOnClose,
}

impl GroupConsumerSettings {
    /// The consumer protocol's settings drawn from these.
    pub fn consumer_membership(&self) -> ConsumerMembershipSettings {
        let m = &self.membership;
        let leave_epoch_on_close = match self.on_close {
            MembershipOnClose::RemainInGroup => None,
            MembershipOnClose::LeaveGroup => Some(LEAVE_EPOCH),
            _ if m.instance_id.is_some() => Some(STATIC_LEAVE_EPOCH),
            _ => Some(LEAVE_EPOCH),
        };
        ConsumerMembershipSettings {
            group_id: m.group_id.clone(),
            instance_id: m.instance_id.clone(),
            rack: m.rack.clone(),
            rebalance_timeout: m.rebalance_timeout,
            session_timeout: m.session_timeout,
            retry_backoff: m.retry_backoff,
            server_assignor: self.remote_assignor.clone(),
            leave_epoch_on_close,
            fallback_to_classic: self.protocol_fallback,
        }
    }
}

impl GroupConsumerSettings {
    /// The settings `config` describes. Assignors are looked up by name among `custom` first,
    /// then the built-in ones.
    pub fn from_config(
        config: &GroupConfig,
        custom: &[SharedAssignor],
    ) -> Result<GroupConsumerSettings, GroupError> {
        config.validate()?;
        let assignors = config
            .assignors
            .iter()
            .map(|name| {
                custom
                    .iter()
                    .find(|a| a.name() == name)
                    .cloned()
                    .or_else(|| assignor::builtin(name))
                    .ok_or_else(|| GroupError::UnknownAssignor { name: name.clone() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GroupConsumerSettings {
            membership: MembershipSettings {
                group_id: config.group_id.clone(),
                instance_id: config.instance_id.clone(),
                session_timeout: config.session_timeout,
                rebalance_timeout: config.effective_rebalance_timeout(),
                heartbeat_interval: config.heartbeat_interval,
                retry_backoff: config.retry_backoff,
                rack: config.client_rack.clone(),
                assignors,
            },
            max_poll_interval: config.max_poll_interval,
            auto_commit: config.auto_commit.then_some(config.auto_commit_interval),
            offset_reset: config.auto_offset_reset,
            leave_on_close: config.leaves_group_on_close(),
            fetch: config.fetch.clone(),
            group_protocol: config.group_protocol,
            remote_assignor: config.remote_assignor.clone(),
            protocol_fallback: config.protocol_fallback,
            on_close: config.on_close,
        })
    }
}

/// A member id for the consumer protocol: 16 random bytes in unpadded base64url (22
/// characters), as Java's `Uuid.toString`. Without the operating system's randomness, the
/// time and the process id stand in (the coordinator only needs it unique in the group).
fn new_member_id() -> String {
    use base64::Engine as _;
    let mut raw = [0u8; 16];
    if getrandom::fill(&mut raw).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        raw[..12].copy_from_slice(&nanos.to_le_bytes()[..12]);
        raw[12..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// A partition this member owns.
#[derive(Debug)]
struct Owned {
    /// The reader, unless the application took the partition's stream.
    reader: Option<PartitionReader>,
    /// What the partition's stream shares, once the application took it.
    stream: Option<Arc<StreamShared>>,
    /// The offset after the last chunk the application finished, with its leader epoch.
    finished: Option<(i64, i32)>,
    /// The offset last committed by this member.
    committed: Option<i64>,
}

/// A rebalancing consumer-group member; see the [module docs](self).
#[derive(Debug)]
pub struct GroupConsumer {
    group_id: String,
    instance_id: Option<String>,
    engine: FetchEngine,
    admin: Admin,
    settings: GroupConsumerSettings,
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<MemberEvent>,
    state: watch::Receiver<MemberState>,
    poll_clock: Arc<PollClock>,
    task: Option<JoinHandle<()>>,
    owned: BTreeMap<TopicPartition, Owned>,
    /// Partitions in turn order for delivery.
    turns: VecDeque<TopicPartition>,
    /// The last chunk delivered: partition, next offset, leader epoch.
    held: Option<(TopicPartition, i64, i32)>,
    /// Revoked partitions returned to the application, released at its next call.
    revoking: Option<Vec<TopicPartition>>,
    pending: VecDeque<GroupEvent>,
    /// Group events received and not yet fully applied (see `next_inner`).
    inbox: VecDeque<MemberEvent>,
    next_auto_commit: Option<Instant>,
    /// The background auto-commit in flight.
    auto_commit: Option<JoinHandle<CommitOutcome>>,
    /// The offset lookup or commit of the group event being applied, on its own task.
    background: Option<JoinHandle<Background>>,
    /// The application's rebalance callbacks, if it set them.
    listener: Option<Listener>,
    /// The offsets the listener chose for the revocation being applied.
    revoke_offsets: Option<Vec<(TopicPartition, i64)>>,
    closed: bool,
}

impl GroupConsumer {
    /// Joins the group and starts the membership task. Records flow once partitions are
    /// assigned; call [`next`](Self::next) in a loop.
    pub fn new(
        client: Client,
        settings: GroupConsumerSettings,
        subscription: Subscription,
    ) -> GroupConsumer {
        let group_id = settings.membership.group_id.clone();
        let instance_id = settings.membership.instance_id.clone();
        let engine = FetchEngine::new(client.clone(), settings.fetch.clone());
        let topics = match &subscription {
            Subscription::Topics(topics) => topics.clone(),
            Subscription::Pattern(_) => Vec::new(),
        };
        let classic = Membership::new(settings.membership.clone(), topics.clone());
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(MemberState::default());
        let poll_clock = Arc::new(PollClock::new());
        poll_clock.stamp();
        let context = TaskContext {
            client: client.clone(),
            group_id: group_id.clone(),
            rebalance_timeout: settings.membership.rebalance_timeout,
            max_poll_interval: settings.max_poll_interval,
            subscription: subscription.clone(),
            purpose: Purpose::new_group_member(),
            events: event_tx,
            state: state_tx,
            poll_clock: poll_clock.clone(),
        };
        if let Subscription::Pattern(_) = subscription {
            // The pattern is matched against the metadata: fetch all of it once now.
            client.request_metadata_refresh();
        }
        let task = match settings.group_protocol {
            GroupProtocol::Consumer => {
                let subscription = match &subscription {
                    Subscription::Topics(_) => ConsumerSubscription::Topics(topics),
                    Subscription::Pattern(regex) => {
                        ConsumerSubscription::Regex(regex.as_str().to_owned())
                    }
                };
                let membership = ConsumerMembership::new(
                    settings.consumer_membership(),
                    subscription,
                    new_member_id(),
                );
                tokio::spawn(async move {
                    if let consumer_task::Ended::FallBack(context, commands) =
                        consumer_task::run(membership, context, command_rx).await
                    {
                        task::run(classic, context, commands).await;
                    }
                })
            }
            _ => tokio::spawn(task::run(classic, context, command_rx)),
        };
        GroupConsumer {
            group_id,
            instance_id,
            engine,
            // A commit (or an offset lookup) retries no longer than a rebalance may take.
            admin: Admin::new(client).with_timeout(settings.membership.rebalance_timeout),
            next_auto_commit: settings.auto_commit.map(|every| Instant::now() + every),
            settings,
            commands,
            events,
            state,
            poll_clock,
            task: Some(task),
            owned: BTreeMap::new(),
            turns: VecDeque::new(),
            held: None,
            revoking: None,
            pending: VecDeque::new(),
            inbox: VecDeque::new(),
            auto_commit: None,
            background: None,
            listener: None,
            revoke_offsets: None,
            closed: false,
        }
    }

    /// Joins `config`'s group subscribed to `topics` (with the built-in assignors it names).
    pub fn subscribe<I, S>(
        client: Client,
        config: &GroupConfig,
        topics: I,
    ) -> Result<GroupConsumer, GroupError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let settings = GroupConsumerSettings::from_config(config, &[])?;
        let topics = topics.into_iter().map(Into::into).collect();
        Ok(GroupConsumer::new(
            client,
            settings,
            Subscription::Topics(topics),
        ))
    }

    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The partitions this member owns now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.owned.keys().cloned().collect()
    }

    /// The member's generation and member id, while it is in a generation.
    pub fn generation(&self) -> Option<(i32, String)> {
        self.state
            .borrow()
            .identity
            .as_ref()
            .map(|i| (i.generation, i.member_id.clone()))
    }

    /// The next offset to deliver of an owned partition.
    pub fn position(&self, partition: &TopicPartition) -> Option<i64> {
        self.owned
            .get(partition)
            .and_then(|o| o.reader.as_ref())
            .map(PartitionReader::position)
    }

    /// How far this member is behind on `partition`: the log end its last fetch saw (the high
    /// watermark, or the last stable offset under `read_committed`) minus its position.
    /// `None` before the first fetch answered, or for a partition it does not own.
    pub fn lag(&self, partition: &TopicPartition) -> Option<i64> {
        self.owned
            .get(partition)
            .and_then(|o| o.reader.as_ref())
            .and_then(PartitionReader::lag)
    }

    /// The offset this member last committed for `partition` (or found committed when the
    /// partition was assigned).
    pub fn committed(&self, partition: &TopicPartition) -> Option<i64> {
        self.owned.get(partition).and_then(|o| o.committed)
    }

    /// Stops delivering `partitions` (owned ones) without giving them up: their positions
    /// stay, nothing more is fetched for them until [`resume`](Self::resume).
    pub fn pause(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            if let Some(reader) = self.owned.get(tp).and_then(|o| o.reader.as_ref()) {
                reader.pause();
            }
        }
    }

    /// Delivers paused partitions again.
    pub fn resume(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            if let Some(reader) = self.owned.get(tp).and_then(|o| o.reader.as_ref()) {
                reader.resume();
            }
        }
    }

    /// Moves an owned partition's position: the next records delivered start at `to`. A seek
    /// to an offset also makes that offset what the next commit stores for the partition (as
    /// Java commits positions); buffered records of the old position are dropped.
    pub fn seek(&mut self, partition: &TopicPartition, to: StartAt) -> Result<(), GroupError> {
        let Some(owned) = self.owned.get_mut(partition) else {
            return Err(GroupError::NotAssigned {
                partition: partition.clone(),
            });
        };
        let Some(reader) = owned.reader.as_mut() else {
            // Its stream was taken: seek there.
            return Err(GroupError::NotAssigned {
                partition: partition.clone(),
            });
        };
        reader.seek(to)?;
        if self.held.as_ref().is_some_and(|(tp, _, _)| tp == partition) {
            self.held = None;
        }
        owned.finished = match to {
            StartAt::Offset(offset) => Some((offset, -1)),
            _ => None,
        };
        Ok(())
    }

    /// The offset after the last chunk of `partition` the application finished (what a
    /// commit would store).
    pub fn finished(&self, partition: &TopicPartition) -> Option<i64> {
        self.owned
            .get(partition)
            .and_then(|o| o.finished.map(|(offset, _)| offset))
    }

    /// The next event: a group decision or a chunk of records. Acknowledges the chunk
    /// returned before (and completes a revocation returned before).
    ///
    /// Cancel-safe: a call dropped before it returns (in a `select!` or under a timeout) loses
    /// nothing; the next call goes on where it stopped.
    pub async fn next(&mut self) -> Result<GroupEvent, GroupError> {
        if self.closed {
            return Err(self.closed_error());
        }
        self.acknowledge();
        if let Some(done) = self.revoking.take() {
            let _ = self.commands.send(Command::RevokeDone(done));
        }
        self.poll_clock.stamp();
        self.collect_auto_commit(false).await;
        if self.next_auto_commit.is_some_and(|at| Instant::now() >= at) {
            self.start_auto_commit();
            self.next_auto_commit = self
                .settings
                .auto_commit
                .map(|every| Instant::now() + every);
        }
        // Waiting in here counts as polling, until this call returns or is dropped.
        let _waiting = Waiting::start(&self.poll_clock);
        self.next_inner().await
    }

    async fn next_inner(&mut self) -> Result<GroupEvent, GroupError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            // A group event stays in the inbox until it is fully applied: a call dropped while
            // applying it (its awaits: offset lookups, the engine's revoke, commits, which are
            // all safe to repeat) applies it again on the next call.
            if let Some(event) = self.inbox.front().cloned() {
                let result = self.on_member_event(event).await;
                self.inbox.pop_front();
                result?;
                continue;
            }
            let wake = self.next_auto_commit;
            let event = {
                let events = &mut self.events;
                let owned = &mut self.owned;
                let turns = &mut self.turns;
                let auto_commit = async {
                    match wake {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    biased;
                    event = events.recv() => Next::Member(event),
                    chunk = poll_turns(owned, turns) => Next::Chunk(chunk),
                    () = auto_commit => Next::AutoCommit,
                }
            };
            match event {
                Next::Member(Some(event)) => self.inbox.push_back(event),
                Next::Member(None) => {
                    self.closed = true;
                    return Err(self.closed_error());
                }
                Next::Chunk((tp, Ok(chunk))) => {
                    self.held = Some((tp, chunk.next_offset(), chunk.leader_epoch()));
                    return Ok(GroupEvent::Records(chunk));
                }
                Next::Chunk((tp, Err(crate::fetch::FetchError::UnknownPartition { .. }))) => {
                    // The topic was deleted (the engine refreshed the metadata and retried):
                    // nothing is left to read, and the group takes the partition away (the
                    // coordinator, or the pattern when the metadata no longer lists the
                    // topic), as Java's consumer goes on. Stop fetching it; it waits for its
                    // revocation.
                    warn!(group = %self.group_id, partition = %tp, "the partition no longer exists; not fetched until it is revoked");
                    if let Some(owned) = self.owned.get_mut(&tp) {
                        owned.reader = None;
                    }
                }
                Next::Chunk((_, Err(error))) => return Err(error.into()),
                Next::AutoCommit => {
                    self.collect_auto_commit(false).await;
                    self.start_auto_commit();
                    self.next_auto_commit = self
                        .settings
                        .auto_commit
                        .map(|every| Instant::now() + every);
                }
            }
        }
    }

    async fn on_member_event(&mut self, event: MemberEvent) -> Result<(), GroupError> {
        match event {
            MemberEvent::Assigned(partitions) => {
                self.start(&partitions).await?;
                if let Some(listener) = self.listener.as_mut() {
                    listener.get().on_assigned(&partitions);
                }
                self.pending.push_back(GroupEvent::Assigned(partitions));
            }
            MemberEvent::Revoke(partitions) => {
                if let Err(error) = self.apply_revoke(&partitions).await {
                    warn!(group = %self.group_id, %error, "commit of revoked partitions failed");
                }
                for tp in &partitions {
                    self.owned.remove(tp);
                }
                self.revoking = Some(partitions.clone());
                self.pending.push_back(GroupEvent::Revoked(partitions));
            }
            MemberEvent::Lost(partitions) => {
                self.drop_lost(&partitions);
                for tp in &partitions {
                    self.owned.remove(tp);
                }
                if let Some(listener) = self.listener.as_mut() {
                    listener.get().on_lost(&partitions);
                }
                self.pending.push_back(GroupEvent::Lost(partitions));
                if self.poll_clock.take_expired() {
                    let _ = self.commands.send(Command::Rejoin);
                    self.pending.push_back(GroupEvent::PollIntervalExceeded);
                }
            }
            MemberEvent::Fatal { api, code, kind } => {
                self.closed = true;
                return Err(kind.error(api, code, &self.group_id, self.instance_id.as_deref()));
            }
        }
        Ok(())
    }

    /// Starts reading newly assigned partitions from their committed offsets (read with
    /// `require_stable`), or per `auto.offset.reset` where nothing is committed.
    async fn start(&mut self, partitions: &[TopicPartition]) -> Result<(), GroupError> {
        // The lookup runs as a task of its own, so that a call dropped while it runs picks it
        // up again instead of starting over.
        if self.background.is_none() {
            let admin = self.admin.clone();
            let group = self.group_id.clone();
            let list = partitions.to_vec();
            self.background = Some(tokio::spawn(async move {
                let options = FetchOffsetsOptions::default().require_stable(true);
                Background::Offsets(admin.fetch_offsets(&group, Some(&list), options).await)
            }));
        }
        let committed = match self.background_outcome().await {
            Some(Background::Offsets(result)) => result.map_err(GroupError::Client)?,
            _ => return Err(GroupError::Closed),
        };
        for tp in partitions {
            let offset = committed
                .get(tp)
                .and_then(|r| r.as_ref().ok())
                .and_then(|c| c.as_ref())
                .map(|c| c.offset);
            let start = match (offset, self.settings.offset_reset) {
                (Some(offset), _) => StartAt::Offset(offset),
                (None, OffsetReset::Earliest) => StartAt::Earliest,
                (None, OffsetReset::Latest) => StartAt::Latest,
                (None, _) => {
                    return Err(GroupError::NoOffset {
                        partition: tp.clone(),
                    });
                }
            };
            let reader = self
                .engine
                .follow(tp.clone(), start, self.settings.offset_reset);
            self.owned.insert(
                tp.clone(),
                Owned {
                    reader: Some(reader),
                    stream: None,
                    finished: None,
                    committed: offset,
                },
            );
            self.turns.push_back(tp.clone());
        }
        Ok(())
    }

    /// Sets callbacks the consumer calls as it applies the group's decisions (before
    /// returning the matching [`GroupEvent`]), for applications that prefer them to events.
    pub fn set_listener(&mut self, listener: impl RebalanceListener + 'static) {
        self.listener = Some(Listener(std::sync::Mutex::new(Box::new(listener))));
    }

    /// Stops revoked `partitions`, waits for their streams, asks the listener which offsets
    /// to commit, and commits (what was finished too, with auto-commit on). Safe to run
    /// again after a dropped call: the listener is asked once per revocation.
    async fn apply_revoke(&mut self, partitions: &[TopicPartition]) -> Result<(), GroupError> {
        self.stop(partitions).await;
        self.wait_for_streams(partitions).await;
        let chosen = match self.revoke_offsets.take() {
            Some(chosen) => chosen,
            None => self
                .listener
                .as_mut()
                .map(|l| l.get().on_revoked(partitions))
                .unwrap_or_default(),
        };
        self.revoke_offsets = Some(chosen.clone());
        let auto = self.settings.auto_commit.is_some();
        let result = if auto || !chosen.is_empty() {
            self.commit_resumable(partitions, auto, &chosen).await
        } else {
            Ok(())
        };
        self.revoke_offsets = None;
        result
    }

    /// Detaches an owned partition's records from [`next`](Self::next) into a
    /// [`PartitionStream`] the application reads on a task of its choosing (`None` if the
    /// partition is not owned, or its stream was taken already). The stream ends when the
    /// partition is revoked or lost; a revocation waits (up to the rebalance timeout) until
    /// the application is done with it, then commits what it finished.
    pub fn take_stream(&mut self, partition: &TopicPartition) -> Option<PartitionStream> {
        let owned = self.owned.get_mut(partition)?;
        let reader = owned.reader.take()?;
        let shared = Arc::new(StreamShared::default());
        owned.stream = Some(shared.clone());
        self.turns.retain(|tp| tp != partition);
        if self.held.as_ref().is_some_and(|(tp, _, _)| tp == partition) {
            self.acknowledge();
        }
        Some(PartitionStream::new(partition.clone(), reader, shared))
    }

    /// Waits until the application is done with the streams of revoked `partitions` (each
    /// at most the rebalance timeout).
    async fn wait_for_streams(&self, partitions: &[TopicPartition]) {
        let limit = self.settings.membership.rebalance_timeout;
        let waits = partitions
            .iter()
            .filter_map(|tp| self.owned.get(tp)?.stream.clone())
            .map(|stream| async move {
                if !stream.wait_released(limit).await {
                    warn!(
                        "a revoked partition's stream was not released within the rebalance timeout"
                    );
                }
            });
        futures::future::join_all(waits).await;
    }

    /// Stops fetching `partitions`; returns once no request in flight can deliver them.
    async fn stop(&mut self, partitions: &[TopicPartition]) {
        self.turns.retain(|tp| !partitions.contains(tp));
        self.engine.revoke(partitions).await;
    }

    /// Stops lost `partitions` at once: nothing more of them is delivered, without waiting
    /// for a fetch in flight (which a stalled connection could hold until its timeout, long
    /// after the coordinator gave them to another member).
    fn drop_lost(&mut self, partitions: &[TopicPartition]) {
        self.turns.retain(|tp| !partitions.contains(tp));
        self.engine.revoke_without_waiting(partitions);
    }

    /// Marks the chunk returned last as finished.
    fn acknowledge(&mut self) {
        if let Some((tp, next, epoch)) = self.held.take() {
            if let Some(owned) = self.owned.get_mut(&tp) {
                owned.finished = Some((next, epoch));
            }
        }
    }

    /// Leaves the group: revokes every partition (committing what was finished, with
    /// auto-commit on), then sends LeaveGroup unless the settings say to stay (a static
    /// member keeps its partitions until its session times out). Returns once the membership
    /// task has ended.
    pub async fn close(mut self) -> Result<(), GroupError> {
        self.acknowledge();
        // Finish what a dropped call left half-applied (the inbox's front and its background
        // step): a revocation completes (its commit, then `RevokeDone`, which the membership
        // waits for before it leaves); an assignment is not started, since the close revokes
        // it at once.
        while let Some(event) = self.inbox.pop_front() {
            match event {
                MemberEvent::Assigned(_) => {
                    if let Some(lookup) = self.background.take() {
                        lookup.abort();
                    }
                }
                other => {
                    if let Err(error) = self.on_member_event(other).await {
                        debug!(group = %self.group_id, %error, "while closing");
                    }
                }
            }
        }
        self.pending.clear();
        if let Some(done) = self.revoking.take() {
            let _ = self.commands.send(Command::RevokeDone(done));
        }
        if self.settings.auto_commit.is_some() {
            // As Java does: commit what the application finished first, while the member's
            // generation holds. The revocation below waits for fetches in flight, and a
            // parked rejoin answered meanwhile leaves the group completing a rebalance, in
            // which every commit is refused (found by the group soak). What is left (a
            // partition stream still finishing) is committed by the revocation.
            let partitions: Vec<TopicPartition> = self
                .owned
                .iter()
                .filter(|(_, o)| o.stream.is_none())
                .map(|(tp, _)| tp.clone())
                .collect();
            if let Err(error) = self.commit_resumable(&partitions, true, &[]).await {
                debug!(group = %self.group_id, %error, "the commit at close failed; the revocation commits again");
            }
        }
        let _ = self.commands.send(Command::Close {
            leave: self.settings.leave_on_close,
        });
        let mut result = Ok(());
        while let Some(event) = self.events.recv().await {
            match event {
                MemberEvent::Revoke(partitions) => {
                    if let Err(error) = self.apply_revoke(&partitions).await {
                        result = Err(error);
                    }
                    for tp in &partitions {
                        self.owned.remove(tp);
                    }
                    let _ = self.commands.send(Command::RevokeDone(partitions));
                }
                MemberEvent::Lost(partitions) => {
                    self.drop_lost(&partitions);
                    for tp in &partitions {
                        self.owned.remove(tp);
                    }
                }
                MemberEvent::Assigned(_) | MemberEvent::Fatal { .. } => {}
            }
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.closed = true;
        result
    }

    fn closed_error(&self) -> GroupError {
        GroupError::Closed
    }
}

/// Marks the application as waiting inside gregor (which counts as polling) while alive.
struct Waiting(Arc<PollClock>);

impl Waiting {
    fn start(clock: &Arc<PollClock>) -> Waiting {
        clock.set_waiting(true);
        Waiting(clock.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.set_waiting(false);
    }
}

enum Next {
    Member(Option<MemberEvent>),
    Chunk(
        (
            TopicPartition,
            Result<RecordChunk, crate::fetch::FetchError>,
        ),
    ),
    AutoCommit,
}

/// The first chunk any owned partition has, taking turns: the partition that delivered goes
/// to the back of the line.
async fn poll_turns(
    owned: &mut BTreeMap<TopicPartition, Owned>,
    turns: &mut VecDeque<TopicPartition>,
) -> (
    TopicPartition,
    Result<RecordChunk, crate::fetch::FetchError>,
) {
    std::future::poll_fn(|cx| {
        for i in 0..turns.len() {
            let Some(tp) = turns.get(i) else { break };
            let Some(reader) = owned.get_mut(tp).and_then(|o| o.reader.as_mut()) else {
                continue;
            };
            match reader.poll_chunk(cx) {
                Poll::Ready(Some(result)) => {
                    let tp = tp.clone();
                    if let Some(tp) = turns.remove(i) {
                        turns.push_back(tp);
                    }
                    return Poll::Ready((tp, result));
                }
                Poll::Ready(None) | Poll::Pending => {}
            }
        }
        Poll::Pending
    })
    .await
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        // Dropping the command sender tells the task to leave; it does not wait for it.
        let _ = self.task.take();
    }
}
