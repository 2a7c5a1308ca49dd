//! The membership task: the thin async shell around [`Membership`].
//!
//! One tokio task per group consumer owns the [`Membership`]. It finds the coordinator, sends
//! what the membership asks for on the coordinator's `Group` connection (so a parked JoinGroup
//! never delays commits or metadata), feeds the answers back, runs the leader's assignor, and
//! sleeps until the next heartbeat. The application never blocks it: heartbeats go on while
//! the application processes records, and the task hears from the consumer only through
//! `Command`s. What the membership decides for the application ([`MemberEvent`]) goes to the
//! consumer over a channel; the member's identity for fenced commits is published in a
//! `watch` (`MemberState`).
//!
//! Self-fence: a request left unanswered (a stalled connection) is given up when the member's
//! session would run out ([`Membership::fence_at`]), so the member stops delivering before
//! the coordinator can give its partitions away, whatever the request timeout.
//!
//! Poll-interval watchdog: the consumer stamps `PollClock` whenever the application asks for
//! records and while it waits inside gregor; when the stamp is older than
//! `max.poll.interval.ms`, the task gives the partitions up as lost and leaves, and joins again
//! once the application comes back (`Command::Rejoin`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gregor_client::cluster_client::{CoordinatorKind, Purpose};
use gregor_client::{Client, ClientError};
use gregor_protocol::TopicPartition;
use regex::Regex;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::assignor::{AssignmentInput, PartitionRacks};
use super::errors::Reaction;
use super::membership::{
    AssignTask, CommitIdentity, GroupRequest, GroupResponse, MemberEvent, Membership, Step,
};

/// What the consumer tells the membership task.
#[derive(Debug)]
pub(crate) enum Command {
    /// The application finished these revoked partitions (and committed them).
    RevokeDone(Vec<TopicPartition>),
    /// Stop: revoke everything, then leave the group if `leave`.
    Close {
        /// Send LeaveGroup.
        leave: bool,
    },
    /// The application is back after a poll-interval expiry: join again.
    Rejoin,
    /// A commit was refused with `code`, which the error table answered with `reaction`.
    CommitRefused(gregor_protocol::ErrorCode, Reaction),
}

/// The member's identity and whether a rebalance is under way, for fenced commits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MemberState {
    /// Generation, member id and instance id, while the member has a generation.
    pub(crate) identity: Option<CommitIdentity>,
    /// A rebalance is under way (a refused commit is then "rebalance in progress").
    pub(crate) rebalancing: bool,
}

/// When the application last asked for records, shared by the consumer and the task.
#[derive(Debug)]
pub(crate) struct PollClock {
    origin: Instant,
    /// Milliseconds since `origin` of the last stamp.
    last: AtomicU64,
    /// The application is waiting inside gregor right now (that counts as polling).
    waiting: AtomicBool,
    /// The task gave the partitions up because the application did not poll.
    expired: AtomicBool,
}

impl PollClock {
    pub(crate) fn new() -> PollClock {
        PollClock {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
            expired: AtomicBool::new(false),
        }
    }

    /// The application asked for records now.
    pub(crate) fn stamp(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    /// The application is (or is no longer) waiting inside gregor.
    pub(crate) fn set_waiting(&self, waiting: bool) {
        self.stamp();
        self.waiting.store(waiting, Ordering::Relaxed);
    }

    /// The task gave the partitions up for lack of polls.
    pub(crate) fn mark_expired(&self) {
        self.expired.store(true, Ordering::Relaxed);
    }

    /// Whether the task gave up the partitions for lack of polls; clears the flag.
    pub(crate) fn take_expired(&self) -> bool {
        self.expired.swap(false, Ordering::Relaxed)
    }

    /// The time the last poll is older than `limit` by, if it is.
    pub(crate) fn overdue(&self, limit: Duration) -> Option<Instant> {
        if self.waiting.load(Ordering::Relaxed) {
            return None;
        }
        let last = self.origin + Duration::from_millis(self.last.load(Ordering::Relaxed));
        let due = last + limit;
        (Instant::now() >= due).then_some(due)
    }

    pub(crate) fn next_check(&self, limit: Duration) -> Instant {
        self.origin + Duration::from_millis(self.last.load(Ordering::Relaxed)) + limit
    }
}

/// What the member subscribes to.
#[derive(Debug, Clone)]
pub enum Subscription {
    /// These topics.
    Topics(Vec<String>),
    /// Every topic whose whole name matches the pattern (matched on the client, against the
    /// metadata; internal topics never match).
    Pattern(Regex),
}

impl Subscription {
    /// The topics it names in `metadata` (for a pattern: those that match, sorted).
    pub(crate) fn resolve(&self, client: &Client) -> Vec<String> {
        match self {
            Subscription::Topics(topics) => topics.clone(),
            Subscription::Pattern(regex) => {
                let metadata = client.metadata();
                let mut topics: Vec<String> = metadata
                    .topic_names()
                    .into_iter()
                    .filter(|name| {
                        metadata.topic(name).is_some_and(|t| !t.is_internal)
                            && regex
                                .find(name)
                                .is_some_and(|m| m.start() == 0 && m.end() == name.len())
                    })
                    .map(str::to_owned)
                    .collect();
                topics.sort();
                topics
            }
        }
    }
}

/// The task's side of the channels.
pub(crate) struct TaskContext {
    pub(crate) client: Client,
    pub(crate) group_id: String,
    pub(crate) rebalance_timeout: Duration,
    pub(crate) max_poll_interval: Duration,
    pub(crate) subscription: Subscription,
    /// This member's own coordinator connection.
    pub(crate) purpose: Purpose,
    pub(crate) events: mpsc::UnboundedSender<MemberEvent>,
    pub(crate) state: watch::Sender<MemberState>,
    pub(crate) poll_clock: Arc<PollClock>,
}

/// Runs the membership until it has left the group (or failed), or the consumer is gone.
pub(crate) async fn run(
    mut membership: Membership,
    cx: TaskContext,
    commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut listening = Listening::new(commands, &cx);
    // The partition counts the leader assigned, to rejoin when they change.
    let mut assigned_counts: Option<BTreeMap<String, usize>> = None;
    loop {
        let now = Instant::now();
        let step = membership.next_step(now);
        publish(&membership, &cx);
        // Events go out before the step runs: `next_step` itself may start a revocation (an
        // eager rejoin, a close) and then wait for the next heartbeat, and the application
        // must hear of it now, not one heartbeat interval later.
        if !deliver(&mut membership, &cx) {
            // The consumer is gone: nobody can finish a revocation. Stop.
            return;
        }
        if membership.is_finished() && matches!(step, Step::Wait(_)) {
            break;
        }
        match step {
            Step::Send(request) => {
                let api = request.api();
                let fence = membership.fence_at();
                let answer = listening
                    .answer_within_fence(send(&cx, request), fence, &mut membership, &cx)
                    .await;
                let Some(answer) = answer else {
                    warn!(group = %cx.group_id, ?api, "no answer within the session timeout; fencing");
                    cx.client
                        .forget_coordinator(CoordinatorKind::Group, &cx.group_id);
                    membership.request_failed(Instant::now(), api);
                    continue;
                };
                debug!(
                    group = %cx.group_id,
                    member = membership.member_id(),
                    ?api,
                    ok = answer.is_ok(),
                    "group request answered"
                );
                match answer {
                    Ok(response) => {
                        let reaction = membership.on_response(Instant::now(), response);
                        if reaction == Reaction::Rediscover {
                            cx.client
                                .forget_coordinator(CoordinatorKind::Group, &cx.group_id);
                        }
                    }
                    Err(error) => {
                        debug!(group = %cx.group_id, ?api, %error, "group request failed");
                        if error.is_connection_error()
                            || matches!(&error, ClientError::Broker { code, .. } if code.is_coordinator_error())
                            || matches!(error, ClientError::Timeout { .. })
                        {
                            cx.client
                                .forget_coordinator(CoordinatorKind::Group, &cx.group_id);
                        }
                        membership.request_failed(Instant::now(), api);
                    }
                }
            }
            Step::Assign(task) => {
                let generation = task.generation;
                let (result, counts) = assign(&cx.client, &task).await;
                if let Err(error) = &result {
                    warn!(group = %cx.group_id, %error, "the assignor failed");
                }
                assigned_counts = Some(counts);
                membership.assignment_ready(generation, result);
            }
            Step::Wait(at) => {
                let woken = listening.wait_until(at, &mut membership, &cx).await;
                if woken == Woken::Metadata {
                    let topics = cx.subscription.resolve(&cx.client);
                    membership.set_topics(topics);
                    if membership.is_leader()
                        && counts_changed(&cx.client, assigned_counts.as_ref())
                    {
                        info!(group = %cx.group_id, "partition counts changed; rejoining");
                        membership.request_rejoin();
                    }
                }
            }
        }
    }
    publish(&membership, &cx);
}

/// What the shell needs of a membership, whichever protocol it speaks: its events, the
/// consumer's commands, and the identity commits are fenced with.
pub(crate) trait MemberMachine {
    /// The next event for the consumer.
    fn poll_event(&mut self) -> Option<MemberEvent>;
    /// The application finished these revoked partitions.
    fn revoke_done(&mut self, partitions: &[TopicPartition]);
    /// Stop: revoke everything, then leave if `leave`.
    fn close(&mut self, leave: bool);
    /// A commit was refused with `code`, which the table answered with `action`.
    fn commit_refused(&mut self, now: Instant, code: gregor_protocol::ErrorCode, action: Reaction);
    /// The application polled again after a poll-interval expiry.
    fn rejoin_after_poll_timeout(&mut self);
    /// The member has left or failed.
    fn is_done(&self) -> bool;
    /// The partitions the member owns.
    fn owned_partitions(&self) -> Vec<TopicPartition>;
    /// The identity commits are fenced with.
    fn commit_identity(&self) -> Option<CommitIdentity>;
    /// A rebalance is under way.
    fn is_rebalancing(&self) -> bool;
    /// The application missed `max.poll.interval.ms`: give the partitions up and leave.
    fn poll_interval_expired(&mut self);
}

impl MemberMachine for Membership {
    fn poll_event(&mut self) -> Option<MemberEvent> {
        Membership::poll_event(self)
    }
    fn revoke_done(&mut self, partitions: &[TopicPartition]) {
        Membership::revoke_done(self, partitions);
    }
    fn close(&mut self, leave: bool) {
        Membership::close(self, leave);
    }
    fn commit_refused(&mut self, now: Instant, code: gregor_protocol::ErrorCode, action: Reaction) {
        Membership::commit_refused(self, now, code, action);
    }
    fn rejoin_after_poll_timeout(&mut self) {
        Membership::rejoin_after_poll_timeout(self);
    }
    fn is_done(&self) -> bool {
        Membership::is_done(self)
    }
    fn owned_partitions(&self) -> Vec<TopicPartition> {
        self.owned().iter().cloned().collect()
    }
    fn commit_identity(&self) -> Option<CommitIdentity> {
        Membership::commit_identity(self)
    }
    fn is_rebalancing(&self) -> bool {
        Membership::is_rebalancing(self)
    }
    fn poll_interval_expired(&mut self) {
        Membership::poll_interval_expired(self);
    }
}

/// What a membership task hears besides its requests' answers: the consumer's commands (read
/// until the consumer is gone: a closing member still hears when its revocation is done),
/// whether one of them closed the member, and the metadata's changes. Both tasks wait
/// through it.
pub(crate) struct Listening {
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    closing: bool,
    metadata: watch::Receiver<Arc<gregor_client::cluster::MetadataCache>>,
}

impl Listening {
    /// Listens to `commands` and to `cx`'s client's metadata.
    pub(crate) fn new(commands: mpsc::UnboundedReceiver<Command>, cx: &TaskContext) -> Listening {
        Listening {
            commands,
            commands_open: true,
            closing: false,
            metadata: cx.client.metadata_updates(),
        }
    }

    /// The commands, for the task that takes over (a fallback to the classic protocol).
    pub(crate) fn into_commands(self) -> mpsc::UnboundedReceiver<Command> {
        self.commands
    }

    /// Applies a command to `membership` (`None`: the consumer is gone).
    fn apply<M: MemberMachine>(
        &mut self,
        command: Option<Command>,
        membership: &mut M,
        cx: &TaskContext,
    ) {
        self.commands_open = command.is_some();
        self.closing |= handle(membership, command, cx);
    }

    /// Waits for `send`'s answer while applying the consumer's commands to `membership`. A
    /// request left unanswered (a stalled connection) must not outlast the session: at
    /// `fence` it is given up (`None`) and the member fences itself.
    pub(crate) async fn answer_within_fence<M: MemberMachine, T>(
        &mut self,
        send: impl std::future::Future<Output = T>,
        fence: Option<Instant>,
        membership: &mut M,
        cx: &TaskContext,
    ) -> Option<T> {
        tokio::pin!(send);
        let fenced = async {
            match fence {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(fenced);
        loop {
            tokio::select! {
                answer = &mut send => return Some(answer),
                () = &mut fenced => return None,
                command = self.commands.recv(), if self.commands_open => {
                    self.apply(command, membership, cx);
                }
            }
        }
    }

    /// Sleeps until `at` (or the poll-interval watchdog's next check while the member owns
    /// partitions), a command from the consumer (applied to `membership`), or a metadata
    /// change. Then, unless closing, gives the partitions up if the application missed
    /// `max.poll.interval.ms`.
    pub(crate) async fn wait_until<M: MemberMachine>(
        &mut self,
        at: Option<Instant>,
        membership: &mut M,
        cx: &TaskContext,
    ) -> Woken {
        let watching = !self.closing && !membership.owned_partitions().is_empty();
        let watchdog = watching.then(|| cx.poll_clock.next_check(cx.max_poll_interval));
        let wake = [at, watchdog].into_iter().flatten().min();
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let woken = tokio::select! {
            () = sleep => Woken::Time,
            command = self.commands.recv(), if self.commands_open => {
                self.apply(command, membership, cx);
                Woken::Command
            }
            changed = self.metadata.changed() => {
                if changed.is_ok() { Woken::Metadata } else { Woken::Time }
            }
        };
        if !self.closing && !membership.owned_partitions().is_empty() {
            if let Some(since) = cx.poll_clock.overdue(cx.max_poll_interval) {
                warn!(group = %cx.group_id, ?since, "max.poll.interval.ms passed without a poll; leaving the group");
                membership.poll_interval_expired();
                cx.poll_clock.mark_expired();
            }
        }
        woken
    }
}

/// What ended a [`Listening::wait_until`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// The time came (or the poll-interval watchdog's).
    Time,
    /// A command from the consumer, applied.
    Command,
    /// The metadata changed.
    Metadata,
}

/// Hands the membership's pending events to the consumer; false if the consumer is gone.
pub(crate) fn deliver<M: MemberMachine>(membership: &mut M, cx: &TaskContext) -> bool {
    while let Some(event) = membership.poll_event() {
        if cx.events.send(event).is_err() {
            return false;
        }
    }
    true
}

/// Applies a command; returns whether the consumer is closing.
pub(crate) fn handle<M: MemberMachine>(
    membership: &mut M,
    command: Option<Command>,
    cx: &TaskContext,
) -> bool {
    match command {
        Some(Command::RevokeDone(partitions)) => {
            membership.revoke_done(&partitions);
            membership.is_done()
        }
        Some(Command::Close { leave }) => {
            membership.close(leave);
            true
        }
        Some(Command::CommitRefused(code, action)) => {
            membership.commit_refused(Instant::now(), code, action);
            membership.is_done()
        }
        Some(Command::Rejoin) => {
            cx.poll_clock.stamp();
            membership.rejoin_after_poll_timeout();
            membership.is_done()
        }
        // The consumer was dropped without closing: leave as a close would, without waiting.
        None => {
            membership.close(true);
            let owned = membership.owned_partitions();
            membership.revoke_done(&owned);
            true
        }
    }
}

pub(crate) fn publish<M: MemberMachine>(membership: &M, cx: &TaskContext) {
    let state = MemberState {
        identity: membership.commit_identity(),
        rebalancing: membership.is_rebalancing(),
    };
    cx.state.send_if_modified(|current| {
        let changed = *current != state;
        *current = state;
        changed
    });
}

/// Sends `request` to the group's coordinator on its `Group` connection.
async fn send(cx: &TaskContext, request: GroupRequest) -> Result<GroupResponse, ClientError> {
    let client = &cx.client;
    let coordinator = client
        .coordinator(CoordinatorKind::Group, &cx.group_id)
        .await?;
    let conn = client.connection(coordinator, cx.purpose).await?;
    // The coordinator holds a JoinGroup up to the rebalance timeout, and a SyncGroup until
    // the leader's assignment arrives.
    let hold = cx.rebalance_timeout;
    Ok(match request {
        GroupRequest::Join(r) => {
            let version = conn.version_for::<gregor_protocol::messages::JoinGroupRequest>()?;
            GroupResponse::Join(conn.send_held(&r, version, hold).await?)
        }
        GroupRequest::Sync(mut r) => {
            let version = conn.version_for::<gregor_protocol::messages::SyncGroupRequest>()?;
            if version < 5 {
                // The protocol type and name travel from version 5 on.
                r.protocol_type = None;
                r.protocol_name = None;
            }
            GroupResponse::Sync(conn.send_held(&r, version, hold).await?)
        }
        GroupRequest::Heartbeat(r) => GroupResponse::Heartbeat(conn.send(r).await?),
        GroupRequest::Leave(mut r) => {
            let version = conn.version_for::<gregor_protocol::messages::LeaveGroupRequest>()?;
            // Versions 0-2 name one member by id; 3+ list members (with instance ids).
            if version >= 3 {
                r.member_id.clear();
            } else {
                r.members.clear();
            }
            GroupResponse::Leave(conn.send_versioned(&r, version).await?)
        }
    })
}

/// The leader's assignment: metadata for every subscribed topic, then the assignor. Also
/// returns the partition counts it saw.
async fn assign(
    client: &Client,
    task: &AssignTask,
) -> (
    Result<super::assignor::GroupAssignment, super::assignor::AssignError>,
    BTreeMap<String, usize>,
) {
    let mut topics: Vec<String> = task
        .members
        .iter()
        .flat_map(|m| m.topics.iter().cloned())
        .collect();
    topics.sort();
    topics.dedup();
    let metadata = match client.refresh_metadata(Some(&topics)).await {
        Ok(metadata) => metadata,
        Err(error) => {
            debug!(%error, "metadata for the assignment failed; using the cached metadata");
            client.metadata()
        }
    };
    let mut input = AssignmentInput {
        members: task.members.clone(),
        topics: BTreeMap::new(),
    };
    let mut counts = BTreeMap::new();
    for topic in &topics {
        let Some(meta) = metadata.topic(topic) else {
            continue;
        };
        if meta.error.is_err() || meta.partitions.is_empty() {
            continue;
        }
        let mut partitions = vec![PartitionRacks::default(); meta.partitions.len()];
        for p in &meta.partitions {
            let Some(slot) = usize::try_from(p.partition)
                .ok()
                .and_then(|i| partitions.get_mut(i))
            else {
                continue;
            };
            let mut racks: Vec<String> = p
                .replicas
                .iter()
                .filter_map(|id| metadata.broker(*id).and_then(|b| b.rack.clone()))
                .collect();
            racks.sort();
            racks.dedup();
            slot.racks = racks;
        }
        counts.insert(topic.clone(), partitions.len());
        input.topics.insert(topic.clone(), partitions);
    }
    (task.assignor.assign(&input), counts)
}

fn counts_changed(client: &Client, assigned: Option<&BTreeMap<String, usize>>) -> bool {
    let Some(assigned) = assigned else {
        return false;
    };
    let metadata = client.metadata();
    assigned.iter().any(|(topic, count)| {
        metadata
            .partition_count(topic)
            .is_some_and(|now| now != *count)
    })
}
