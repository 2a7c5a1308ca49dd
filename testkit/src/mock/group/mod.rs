//! The classic group coordinator of the mock cluster, as a sans-io state machine.
//!
//! One [`GroupCoordinator`] holds every consumer group of the cluster (members, generations,
//! assignments, committed offsets). It never touches a socket or a clock: each request comes in
//! as a decoded gregor-protocol request with a [`RequestCtx`] (the receiving broker, the request
//! version, the client id and host, `now`, and the cluster's [`Topology`]), and goes out as the
//! response struct for that version, ready to encode.
//!
//! # Deferred responses
//! Kafka parks two requests: JoinGroup (until every member has rejoined or the rebalance timeout
//! expires) and a follower's SyncGroup (until the leader sends the assignment). Their handlers
//! return [`Reply::Later`] with a [`Ticket`]; the response arrives later from
//! [`GroupCoordinator::poll`] as `(Ticket, Completed)`. A request can also complete *other*
//! members' tickets (the last member to rejoin completes everyone's JoinGroup), so the async
//! shell should:
//! 1. after every handled request, call [`GroupCoordinator::poll`] and route what it returns;
//! 2. sleep until [`GroupCoordinator::next_deadline`] (it is also "now" while completions are
//!    waiting) and call `poll` then: session timeouts, rebalance timeouts, the initial rebalance
//!    delay and the sync timeout are all driven from there.
//!
//! Kafka answers the requests of one connection in order, so a connection whose JoinGroup is
//! parked must not get later responses first; that ordering is the shell's business.
//!
//! # Layout
//! One module per API, like a broker's request handlers: `find_coordinator`, `join_group`,
//! `sync_group`, `heartbeat`, `leave_group`, `offset_commit`, `offset_fetch`,
//! `describe_groups`, `list_groups`. Underneath: `state` (a group's members, state and
//! offsets), `member` (a member, its parked requests, member ids), and `coordinator` (the
//! rebalance engine and the timers).
//!
//! # Semantics
//! Apache Kafka's classic protocol: KIP-394 (`MEMBER_ID_REQUIRED` from JoinGroup v4), KIP-345
//! (static members, `FENCED_INSTANCE_ID`), KIP-62 (rebalance timeout apart from the session
//! timeout), KIP-814 (a static leader rejoining without change gets `skip_assignment` from v9),
//! protocol selection by member votes, `group.initial.rebalance.delay.ms`, pending-sync
//! expiration, simple (standalone) offset commits, `NOT_COORDINATOR` from brokers that do not
//! coordinate the group. Where Kafka is arbitrary (a tie between protocols with as many votes),
//! the choice here is deterministic (the smallest name), and member ids are generated from a
//! seeded counter rather than random UUIDs, so runs repeat.

mod consumer_apis;
mod coordinator;
mod describe_groups;
mod find_coordinator;
mod heartbeat;
mod join_group;
mod leave_group;
mod list_groups;
mod member;
mod offset_commit;
mod offset_fetch;
mod state;
mod sync_group;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gregor_protocol::messages::{
    DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest,
    SyncGroupResponse,
};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::{ErrorCode, TopicPartition};

use super::consumer_group::{ConsumerGroupConfig, ConsumerGroupState, ConsumerGroups};
use member::IdGen;
use state::Group;

/// Broker-side settings of the group coordinator (Kafka's `group.*` broker configs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits
    /// for more members (extended while members keep arriving). Kafka's default is 3 s; tests
    /// want 0, the default here.
    pub initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms` (Kafka: 6 s); shorter session timeouts get
    /// `INVALID_SESSION_TIMEOUT`.
    pub min_session_timeout: Duration,
    /// `group.max.session.timeout.ms` (Kafka: 30 min).
    pub max_session_timeout: Duration,
    /// `group.max.size` (Kafka: unbounded); more members get `GROUP_MAX_SIZE_REACHED`.
    pub max_group_size: usize,
    /// How long a new member's first JoinGroup may stay parked before the member is dropped
    /// (Kafka: 5 min).
    pub new_member_join_timeout: Duration,
    /// `offset.metadata.max.bytes` (Kafka: 4096); longer commit metadata gets
    /// `OFFSET_METADATA_TOO_LARGE`.
    pub offset_metadata_max_bytes: usize,
    /// Seed of the generated member ids (`<client id>-<uuid-like>`), for repeatable runs.
    pub member_id_seed: u64,
    /// The KIP-848 consumer group coordinator's settings (`group.consumer.*`).
    pub consumer: ConsumerGroupConfig,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay: Duration::ZERO,
            min_session_timeout: Duration::from_secs(6),
            max_session_timeout: Duration::from_secs(30 * 60),
            max_group_size: usize::MAX,
            new_member_join_timeout: Duration::from_secs(5 * 60),
            offset_metadata_max_bytes: 4096,
            member_id_seed: 0x6772_6567_6f72,
            consumer: ConsumerGroupConfig::default(),
        }
    }
}

/// What the group coordinator needs to know about the rest of the cluster; implemented by the
/// cluster that embeds it.
pub trait Topology {
    /// The broker coordinating `group_id` (in Kafka, the leader of its `__consumer_offsets`
    /// partition, see [`offsets_partition_for`]), or `None` when no broker can.
    fn group_coordinator(&self, group_id: &str) -> Option<i32>;

    /// The transaction coordinator of `transactional_id`, for FindCoordinator key type 1;
    /// `None` (the default) answers `COORDINATOR_NOT_AVAILABLE`.
    fn transaction_coordinator(&self, transactional_id: &str) -> Option<i32> {
        let _ = transactional_id;
        None
    }

    /// A live broker's advertised host and port, or `None` when it is unknown or down.
    fn broker_address(&self, node_id: i32) -> Option<(String, i32)>;

    /// Whether the partition exists (OffsetCommit answers `UNKNOWN_TOPIC_OR_PARTITION`
    /// otherwise). Defaults to true.
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        let _ = (topic, partition);
        true
    }

    /// Every topic by name, with its id and partition count, for the consumer group
    /// coordinator's assignments. Defaults to none.
    fn topics(&self) -> BTreeMap<String, TopicMeta> {
        BTreeMap::new()
    }
}

/// A topic as the consumer group coordinator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicMeta {
    /// The topic id.
    pub id: Uuid,
    /// The partition count.
    pub partitions: i32,
}

/// The `__consumer_offsets` partition of a group, as Kafka computes it: the absolute value of
/// Java's `String.hashCode` of the group id, modulo the partition count
/// (`offsets.topic.num.partitions`, 50 by default). A cluster can map it to a broker to
/// implement [`Topology::group_coordinator`].
pub fn offsets_partition_for(group_id: &str, partitions: i32) -> i32 {
    let hash = group_id.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    });
    (hash & 0x7fff_ffff) % partitions.max(1)
}

/// Everything about one request besides its body.
#[derive(Clone, Copy)]
pub struct RequestCtx<'a> {
    /// The broker that received the request.
    pub broker_id: i32,
    /// The request's API version (from its header).
    pub api_version: i16,
    /// The client id from the request header.
    pub client_id: &'a str,
    /// The client's address as Kafka reports it in DescribeGroups (e.g. `/127.0.0.1`).
    pub client_host: &'a str,
    /// The current time.
    pub now: Instant,
    /// The cluster around the coordinator.
    pub topology: &'a dyn Topology,
}

impl RequestCtx<'_> {
    /// Whether the receiving broker coordinates `group_id`.
    fn coordinates(&self, group_id: &str) -> bool {
        self.topology.group_coordinator(group_id) == Some(self.broker_id)
    }
}

/// Identifies a parked request; its response comes out of [`GroupCoordinator::poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(u64);

impl Ticket {
    /// The ticket's number (unique within one coordinator).
    pub fn id(self) -> u64 {
        self.0
    }
}

/// A handler's answer: a response now, or a ticket for a response later.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply<T> {
    /// The response, to send at once.
    Now(T),
    /// The request is parked; [`GroupCoordinator::poll`] returns its response later.
    Later(Ticket),
}

/// The response of a parked request, shaped for the version it was sent in.
#[derive(Debug, Clone, PartialEq)]
pub enum Completed {
    /// A JoinGroup response.
    JoinGroup(JoinGroupResponse),
    /// A SyncGroup response.
    SyncGroup(SyncGroupResponse),
}

/// A classic group's state, with Kafka's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members (possibly committed offsets).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Assigned and running.
    Stable,
    /// Deleted (what DescribeGroups reports for a group that does not exist).
    Dead,
}

impl GroupState {
    /// Kafka's name for the state (`"PreparingRebalance"`...), as DescribeGroups and
    /// ListGroups report it.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// A committed offset as the coordinator stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The committed offset (the next one to consume).
    pub offset: i64,
    /// The leader epoch committed with it, -1 if unknown.
    pub leader_epoch: i32,
    /// The metadata committed with it (empty when the commit had none).
    pub metadata: String,
    /// When it was committed.
    pub committed_at: Instant,
}

/// Completed tickets waiting for [`GroupCoordinator::poll`], and the ticket counter.
#[derive(Debug, Default)]
struct Outbox {
    next_ticket: u64,
    ready: Vec<(Ticket, Completed)>,
    ready_since: Option<Instant>,
}

impl Outbox {
    fn ticket(&mut self) -> Ticket {
        self.next_ticket += 1;
        Ticket(self.next_ticket)
    }

    fn push(&mut self, ticket: Ticket, completed: Completed, now: Instant) {
        self.ready_since.get_or_insert(now);
        self.ready.push((ticket, completed));
    }

    /// Removes and returns `ticket`'s completion, if it is ready.
    fn take(&mut self, ticket: Ticket) -> Option<Completed> {
        let i = self.ready.iter().position(|(t, _)| *t == ticket)?;
        let (_, completed) = self.ready.remove(i);
        if self.ready.is_empty() {
            self.ready_since = None;
        }
        Some(completed)
    }
}

/// The classic group coordinator of the whole cluster. See the [module docs](self).
#[derive(Debug)]
pub struct GroupCoordinator {
    cfg: GroupConfig,
    groups: BTreeMap<String, Group>,
    out: Outbox,
    ids: IdGen,
    /// The KIP-848 consumer groups (a group id names a classic group or a consumer group).
    consumer: ConsumerGroups,
}

impl GroupCoordinator {
    /// A coordinator with no groups.
    pub fn new(cfg: GroupConfig) -> Self {
        let ids = IdGen::new(cfg.member_id_seed);
        let consumer = ConsumerGroups::new(cfg.consumer.clone(), cfg.member_id_seed);
        GroupCoordinator {
            cfg,
            groups: BTreeMap::new(),
            out: Outbox::default(),
            ids,
            consumer,
        }
    }

    /// FindCoordinator (key 10, v0-6, batched keys from v4): the coordinator of each key per
    /// the [`Topology`]; any broker answers.
    pub fn handle_find_coordinator(
        &self,
        ctx: &RequestCtx<'_>,
        req: &FindCoordinatorRequest,
    ) -> FindCoordinatorResponse {
        find_coordinator::handle(ctx, req)
    }

    /// JoinGroup (key 11, v0-9). Usually [`Reply::Later`]: the response comes when the
    /// rebalance's join phase completes.
    pub fn handle_join_group(
        &mut self,
        ctx: &RequestCtx<'_>,
        req: &JoinGroupRequest,
    ) -> Reply<JoinGroupResponse> {
        self.advance(ctx.now);
        let reply = join_group::handle(self, ctx, req);
        self.advance(ctx.now);
        match reply {
            Reply::Later(t) => match self.out.take(t) {
                Some(Completed::JoinGroup(resp)) => Reply::Now(resp),
                _ => Reply::Later(t),
            },
            now => now,
        }
    }

    /// SyncGroup (key 14, v0-5). A follower's sync is [`Reply::Later`] until the leader's
    /// assignment arrives.
    pub fn handle_sync_group(
        &mut self,
        ctx: &RequestCtx<'_>,
        req: &SyncGroupRequest,
    ) -> Reply<SyncGroupResponse> {
        self.advance(ctx.now);
        let reply = sync_group::handle(self, ctx, req);
        self.advance(ctx.now);
        match reply {
            Reply::Later(t) => match self.out.take(t) {
                Some(Completed::SyncGroup(resp)) => Reply::Now(resp),
                _ => Reply::Later(t),
            },
            now => now,
        }
    }

    /// Heartbeat (key 12, v0-4).
    pub fn handle_heartbeat(
        &mut self,
        ctx: &RequestCtx<'_>,
        req: &HeartbeatRequest,
    ) -> HeartbeatResponse {
        self.advance(ctx.now);
        let resp = heartbeat::handle(self, ctx, req);
        self.advance(ctx.now);
        resp
    }

    /// LeaveGroup (key 13, v0-5, batched members from v3).
    pub fn handle_leave_group(
        &mut self,
        ctx: &RequestCtx<'_>,
        req: &LeaveGroupRequest,
    ) -> LeaveGroupResponse {
        self.advance(ctx.now);
        let resp = leave_group::handle(self, ctx, req);
        self.advance(ctx.now);
        resp
    }

    /// OffsetCommit (key 8, v2-9).
    pub fn handle_offset_commit(
        &mut self,
        ctx: &RequestCtx<'_>,
        req: &OffsetCommitRequest,
    ) -> OffsetCommitResponse {
        self.advance(ctx.now);
        let resp = offset_commit::handle(self, ctx, req);
        self.advance(ctx.now);
        resp
    }

    /// OffsetFetch (key 9, v1-9, several groups from v8).
    pub fn handle_offset_fetch(
        &mut self,
        ctx: &RequestCtx<'_>,
        req: &OffsetFetchRequest,
    ) -> OffsetFetchResponse {
        self.advance(ctx.now);
        offset_fetch::handle(self, ctx, req)
    }

    /// DescribeGroups (key 15, v0-6).
    pub fn handle_describe_groups(
        &mut self,
        ctx: &RequestCtx<'_>,
        req: &DescribeGroupsRequest,
    ) -> DescribeGroupsResponse {
        self.advance(ctx.now);
        describe_groups::handle(self, ctx, req)
    }

    /// ListGroups (key 16, v0-5): the groups the receiving broker coordinates.
    pub fn handle_list_groups(
        &mut self,
        ctx: &RequestCtx<'_>,
        req: &ListGroupsRequest,
    ) -> ListGroupsResponse {
        self.advance(ctx.now);
        list_groups::handle(self, ctx, req)
    }

    /// Runs the timers due at `now` and returns every parked request completed since the last
    /// call, in completion order.
    pub fn poll(&mut self, now: Instant) -> Vec<(Ticket, Completed)> {
        self.advance(now);
        self.out.ready_since = None;
        std::mem::take(&mut self.out.ready)
    }

    /// When [`poll`](Self::poll) has something to do: the earliest timer, or the moment
    /// completions became ready if some are waiting. `None` when nothing is scheduled.
    pub fn next_deadline(&self) -> Option<Instant> {
        let timers = self.groups.values().filter_map(coordinator::next_deadline);
        timers
            .chain(self.out.ready_since)
            .chain(self.consumer.next_deadline())
            .min()
    }

    /// The cluster moved `group_id` to another coordinator (call it after changing what
    /// [`Topology::group_coordinator`] answers, e.g. when the coordinator broker goes down).
    /// As when a Kafka broker unloads a group: parked JoinGroup and SyncGroup requests get
    /// `NOT_COORDINATOR`, and the group continues from what was last persisted (the last
    /// completed generation with its members and assignments, `Stable`, or `Empty`), with
    /// fresh session timeouts; in-flight rebalance state is lost. Offsets are kept.
    pub fn coordinator_changed(&mut self, group_id: &str, now: Instant) {
        self.advance(now);
        if let Some(g) = self.groups.get_mut(group_id) {
            let mut env = coordinator::Env {
                cfg: &self.cfg,
                out: &mut self.out,
                now,
            };
            coordinator::unload(g, &mut env);
            g.reload(now);
        }
        self.consumer.coordinator_changed(group_id, now);
    }

    /// Deletes an empty group and its offsets, as DeleteGroups does: `GROUP_ID_NOT_FOUND`
    /// when it does not exist, `NON_EMPTY_GROUP` when it has members. A deleted group is
    /// `Dead`: DescribeGroups reports it so, and it can be created again.
    pub fn delete_group(&mut self, group_id: &str) -> ErrorCode {
        if let Some(g) = self.consumer.groups.get(group_id) {
            if !g.members.is_empty() {
                return ErrorCode::NonEmptyGroup;
            }
            self.consumer.groups.remove(group_id);
            return ErrorCode::None;
        }
        match self.groups.get(group_id) {
            None => ErrorCode::GroupIdNotFound,
            Some(g) if g.state != GroupState::Empty => ErrorCode::NonEmptyGroup,
            Some(_) => {
                self.groups.remove(group_id);
                ErrorCode::None
            }
        }
    }

    /// Marks (or clears) a pending transactional offset commit for a partition: OffsetFetch
    /// with `require_stable` then answers `UNSTABLE_OFFSET_COMMIT` for it. A hook, since
    /// transactional offset commits are not implemented.
    pub fn set_pending_transactional_offset(
        &mut self,
        group_id: &str,
        topic: &str,
        partition: i32,
        pending: bool,
    ) {
        let key = TopicPartition::new(topic, partition);
        match self.groups.get_mut(group_id) {
            Some(g) if pending => {
                g.pending_txn.insert(key);
            }
            Some(g) => {
                g.pending_txn.remove(&key);
            }
            None if pending => {
                let mut g = Group::new(group_id);
                g.pending_txn.insert(key);
                self.groups.insert(group_id.to_owned(), g);
            }
            None => {}
        }
    }

    /// The ids of all groups (classic and consumer), in order.
    pub fn group_ids(&self) -> impl Iterator<Item = &str> {
        let mut ids: Vec<&str> = self
            .groups
            .keys()
            .chain(self.consumer.groups.keys())
            .map(String::as_str)
            .collect();
        ids.sort_unstable();
        ids.into_iter()
    }

    /// A KIP-848 consumer group's state and group epoch, `None` when there is no such group.
    pub fn consumer_group_state(&self, group_id: &str) -> Option<(ConsumerGroupState, i32)> {
        self.consumer
            .groups
            .get(group_id)
            .map(|g| (g.state(), g.epoch))
    }

    /// The member ids of a KIP-848 consumer group with their member epochs.
    pub fn consumer_group_members(&self, group_id: &str) -> Vec<(String, i32)> {
        self.consumer
            .groups
            .get(group_id)
            .map(|g| {
                g.members
                    .values()
                    .map(|m| (m.id.clone(), m.epoch()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A group's state, `None` when it does not exist.
    pub fn group_state(&self, group_id: &str) -> Option<GroupState> {
        self.groups.get(group_id).map(|g| g.state)
    }

    /// A group's generation, `None` when it does not exist.
    pub fn generation(&self, group_id: &str) -> Option<i32> {
        self.groups.get(group_id).map(|g| g.generation)
    }

    /// The ids of a group's members, in join order (empty when it does not exist).
    pub fn member_ids(&self, group_id: &str) -> Vec<String> {
        self.groups
            .get(group_id)
            .map(|g| g.members.iter().map(|m| m.id.clone()).collect())
            .unwrap_or_default()
    }

    /// The offset `group_id` committed for a partition.
    pub fn committed_offset(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
    ) -> Option<&CommittedOffset> {
        let key = TopicPartition::new(topic, partition);
        if let Some(g) = self.consumer.groups.get(group_id) {
            return g.offsets.get(&key);
        }
        self.groups.get(group_id)?.offsets.get(&key)
    }

    /// Fires every timer due at `now`, each at its own deadline, earliest first.
    fn advance(&mut self, now: Instant) {
        self.consumer.advance(now);
        loop {
            let mut best: Option<(Instant, &String, coordinator::Due)> = None;
            for (id, g) in &self.groups {
                let Some((at, due)) = coordinator::earliest_due(g) else {
                    continue;
                };
                if at <= now && best.as_ref().is_none_or(|(b, _, _)| at < *b) {
                    best = Some((at, id, due));
                }
            }
            let Some((at, id, due)) = best else { break };
            let id = id.clone();
            if let Some(g) = self.groups.get_mut(&id) {
                let mut env = coordinator::Env {
                    cfg: &self.cfg,
                    out: &mut self.out,
                    now: at,
                };
                coordinator::fire(g, due, &mut env);
            }
        }
    }
}
