//! [`Membership`]: one member's side of the classic group protocol, sans-io.
//!
//! The membership is a state machine that takes responses (and the time) and returns the next
//! request to send to the coordinator ([`Step`]) plus events for the application
//! ([`MemberEvent`]). It sends one request at a time: JoinGroup, then SyncGroup, then a
//! Heartbeat every `heartbeat.interval.ms` while stable, LeaveGroup on close. The async shell
//! (`group/task.rs`) finds the coordinator, sends what [`Membership::next_step`] returns,
//! feeds the answer back, and runs the leader's assignor when asked ([`Step::Assign`]).
//!
//! # Rounds
//! - **Eager**: before joining, every owned partition is revoked ([`MemberEvent::Revoke`]);
//!   the member joins only once the application has finished with them
//!   ([`Membership::revoke_done`]). SyncGroup's assignment is then assigned whole.
//! - **Cooperative** (KIP-429): the member joins keeping what it owns and says so in its
//!   subscription; after SyncGroup, partitions it owned and was not given again are revoked,
//!   the new ones are assigned at once, and once the revocation is done the member joins a
//!   second round so that the revoked partitions reach their new owners.
//!
//! # Failures
//! Every error code goes through the one table in [`super::errors`]. A member that goes
//! `session.timeout.ms` without a successful heartbeat stops owning its partitions
//! ([`MemberEvent::Lost`]) before the coordinator can give them away, and rejoins.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use gregor_protocol::messages::sync_group::SyncGroupRequestAssignment;
use gregor_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use gregor_protocol::{ErrorCode, TopicPartition};

mod requests;
mod responses;

use requests::{common_protocol, encode_assignment};

use super::assignor::{
    AssignError, GroupAssignment, MemberSubscription, RebalanceProtocol, SharedAssignor,
};
use super::errors::{FatalKind, GroupApi, Reaction, ReactionContext, reaction};

/// The subscription and assignment schema version gregor writes (Kafka 3.x and 4.x read it).
pub const CONSUMER_PROTOCOL_VERSION: i16 = 3;

/// The longest wait between retries of a failing membership request.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// What a membership needs to know about its member.
#[derive(Debug, Clone)]
pub struct MembershipSettings {
    /// `group.id`.
    pub group_id: String,
    /// `group.instance.id`, for a static member (KIP-345).
    pub instance_id: Option<String>,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// The rebalance timeout (`max.poll.interval.ms` by default).
    pub rebalance_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// `retry.backoff.ms`: the first wait before retrying a failed request.
    pub retry_backoff: Duration,
    /// `client.rack`.
    pub rack: Option<String>,
    /// The assignors, in order of preference.
    pub assignors: Vec<SharedAssignor>,
}

/// A request for the coordinator.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupRequest {
    /// JoinGroup: the broker holds it until the group has rejoined.
    Join(JoinGroupRequest),
    /// SyncGroup: the broker holds it until the leader has sent the assignment.
    Sync(SyncGroupRequest),
    /// Heartbeat.
    Heartbeat(HeartbeatRequest),
    /// LeaveGroup.
    Leave(LeaveGroupRequest),
}

impl GroupRequest {
    /// The request's API in the error table.
    pub fn api(&self) -> GroupApi {
        match self {
            GroupRequest::Join(_) => GroupApi::JoinGroup,
            GroupRequest::Sync(_) => GroupApi::SyncGroup,
            GroupRequest::Heartbeat(_) => GroupApi::Heartbeat,
            GroupRequest::Leave(_) => GroupApi::LeaveGroup,
        }
    }
}

/// The coordinator's answer to a [`GroupRequest`].
#[derive(Debug, Clone, PartialEq)]
pub enum GroupResponse {
    /// To JoinGroup.
    Join(JoinGroupResponse),
    /// To SyncGroup.
    Sync(SyncGroupResponse),
    /// To Heartbeat.
    Heartbeat(HeartbeatResponse),
    /// To LeaveGroup.
    Leave(LeaveGroupResponse),
}

/// The leader's job: assign `members` with `assignor`, then call
/// [`Membership::assignment_ready`].
#[derive(Debug, Clone)]
pub struct AssignTask {
    /// The assignor the group chose.
    pub assignor: SharedAssignor,
    /// The members' subscriptions, in the order the coordinator listed them.
    pub members: Vec<MemberSubscription>,
    /// The generation being assigned.
    pub generation: i32,
}

/// What the shell should do next.
#[derive(Debug, Clone)]
pub enum Step {
    /// Send this request to the coordinator and feed back its answer.
    Send(GroupRequest),
    /// Run the leader's assignment.
    Assign(AssignTask),
    /// Nothing until this time (a heartbeat, a retry), a response, or an application call;
    /// `None`: nothing until a response or an application call.
    Wait(Option<Instant>),
}

/// What the application learns about its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberEvent {
    /// These partitions are the member's now (in addition to those it kept).
    Assigned(Vec<TopicPartition>),
    /// These partitions are being taken away: stop, finish what is held, commit, then call
    /// [`Membership::revoke_done`].
    Revoke(Vec<TopicPartition>),
    /// These partitions were lost (session expired, fenced, left): never commit them.
    Lost(Vec<TopicPartition>),
    /// The member cannot go on (fenced instance id, authorization, bad configuration).
    Fatal {
        /// The API that failed.
        api: GroupApi,
        /// The coordinator's error code.
        code: ErrorCode,
        /// What kind of refusal it is.
        kind: FatalKind,
    },
}

/// The member's identity for fenced commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitIdentity {
    /// The generation.
    pub generation: i32,
    /// The member id.
    pub member_id: String,
    /// The instance id of a static member.
    pub instance_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Must join (or rejoin) when nothing blocks it.
    Unjoined,
    /// Eager: waiting for the application to finish the revocation before joining.
    RevokingBeforeJoin,
    /// JoinGroup in flight.
    Joining,
    /// The leader computes the assignment.
    Assigning,
    /// SyncGroup in flight.
    Syncing,
    /// A member of a stable generation.
    Stable,
    /// Out of the group because the application missed `max.poll.interval.ms`: LeaveGroup
    /// (dynamic members), then nothing until the application polls again.
    Paused,
    /// LeaveGroup sent or not needed: the member is done.
    Left,
    /// A fatal error ended the membership.
    Failed,
}

/// One member's classic-protocol state; see the [module docs](self).
#[derive(Debug)]
pub struct Membership {
    settings: MembershipSettings,
    protocol: RebalanceProtocol,
    topics: Vec<String>,
    phase: Phase,
    member_id: String,
    generation: i32,
    /// The assignor the group chose in the current generation.
    chosen: Option<String>,
    leader: bool,
    owned: BTreeSet<TopicPartition>,
    /// Partitions handed to the application in a `Revoke` not yet acknowledged.
    revoking: BTreeSet<TopicPartition>,
    /// A rejoin is due (cooperative second round, heartbeat said so, subscription changed).
    rejoin: bool,
    in_flight: bool,
    events: VecDeque<MemberEvent>,
    next_heartbeat: Option<Instant>,
    /// When the last heartbeat the coordinator accepted was sent (or the member joined).
    last_alive: Option<Instant>,
    retry_at: Option<Instant>,
    failures: u32,
    leave_requested: bool,
    pending_assign: Option<AssignTask>,
    pending_sync: Option<SyncGroupRequest>,
    /// The application polled again after a poll-interval expiry.
    resume: bool,
    /// The last assignment received and its generation: what an eager sticky assignor's
    /// user data carries (the partitions themselves are revoked before the member rejoins).
    last_assignment: (Vec<TopicPartition>, i32),
}

impl Membership {
    /// A member that will join with `topics` as its subscription.
    ///
    /// The rebalance protocol is the highest one every assignor supports (as Java picks it);
    /// with none in common, eager.
    pub fn new(settings: MembershipSettings, topics: Vec<String>) -> Membership {
        let protocol = common_protocol(&settings.assignors);
        Membership {
            settings,
            protocol,
            topics,
            phase: Phase::Unjoined,
            member_id: String::new(),
            generation: -1,
            chosen: None,
            leader: false,
            owned: BTreeSet::new(),
            revoking: BTreeSet::new(),
            rejoin: false,
            in_flight: false,
            events: VecDeque::new(),
            next_heartbeat: None,
            last_alive: None,
            retry_at: None,
            failures: 0,
            leave_requested: false,
            pending_assign: None,
            pending_sync: None,
            resume: false,
            last_assignment: (Vec::new(), -1),
        }
    }

    /// The rebalance protocol this member uses.
    pub fn protocol(&self) -> RebalanceProtocol {
        self.protocol
    }

    /// The partitions the member owns now.
    pub fn owned(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    /// When the member fences itself if no heartbeat succeeds before (the last successful
    /// heartbeat's sending plus `session.timeout.ms`), while it heartbeats. The shell must
    /// not let a request in flight outlast it: past it the coordinator may give the
    /// partitions away, so the shell gives the request up ([`request_failed`](Self::request_failed))
    /// and [`next_step`](Self::next_step) fences.
    pub fn fence_at(&self) -> Option<Instant> {
        if !self.heartbeating() {
            return None;
        }
        self.last_alive
            .map(|alive| alive + self.settings.session_timeout)
    }

    /// The member id (empty before the first JoinGroup answer).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The current generation, -1 outside a group.
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// Whether this member led the last round.
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// Whether the member is in a stable generation with no rejoin pending.
    pub fn is_stable(&self) -> bool {
        self.phase == Phase::Stable && !self.rejoin
    }

    /// Whether the membership has ended (left or failed).
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Left | Phase::Failed)
    }

    /// Whether the membership has nothing left to do: failed, or left with its revocation
    /// done and its LeaveGroup (if any) answered.
    pub fn is_finished(&self) -> bool {
        match self.phase {
            Phase::Failed => true,
            Phase::Left => self.revoking.is_empty() && !self.leave_requested && !self.in_flight,
            _ => false,
        }
    }

    /// The subscribed topics.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// What a commit is fenced with, while the member has a generation.
    pub fn commit_identity(&self) -> Option<CommitIdentity> {
        (self.generation >= 0 && !self.member_id.is_empty()).then(|| CommitIdentity {
            generation: self.generation,
            member_id: self.member_id.clone(),
            instance_id: self.settings.instance_id.clone(),
        })
    }

    /// Whether a rebalance is under way (for the error table's commit rules).
    pub fn is_rebalancing(&self) -> bool {
        self.rejoin || !matches!(self.phase, Phase::Stable)
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<MemberEvent> {
        self.events.pop_front()
    }

    /// Replaces the subscription; a change makes the member rejoin.
    pub fn set_topics(&mut self, mut topics: Vec<String>) {
        topics.sort();
        topics.dedup();
        let mut current = self.topics.clone();
        current.sort();
        current.dedup();
        if topics != current {
            self.topics = topics;
            self.request_rejoin();
        }
    }

    /// Makes the member rejoin at the next opportunity (metadata changed, a new topic matches).
    pub fn request_rejoin(&mut self) {
        if !self.is_done() {
            self.rejoin = true;
        }
    }

    /// The application finished the partitions of the last [`MemberEvent::Revoke`].
    pub fn revoke_done(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.revoking.remove(tp);
            self.owned.remove(tp);
        }
    }

    /// The member stops: revokes what it owns (so the application can commit), then leaves the
    /// group if `leave` (a static member that does not leave keeps its partitions until its
    /// session times out).
    pub fn close(&mut self, leave: bool) {
        if self.is_done() {
            return;
        }
        self.leave_requested = leave;
        self.rejoin = false;
        if !self.owned.is_empty() {
            let all: Vec<TopicPartition> = self.owned.iter().cloned().collect();
            self.start_revoke(all);
        }
        self.phase = Phase::Left;
        if !leave || self.member_id.is_empty() {
            self.leave_requested = false;
        }
    }

    /// The application went longer than `max.poll.interval.ms` without asking for records:
    /// its partitions are lost and the member leaves; [`Self::rejoin_after_poll_timeout`]
    /// brings it back.
    pub fn poll_interval_expired(&mut self) -> Vec<TopicPartition> {
        if self.is_done() {
            return Vec::new();
        }
        let lost = self.lose_all();
        // A static member does not leave (Java's rule): its session keeps its place.
        self.leave_requested = self.settings.instance_id.is_none() && !self.member_id.is_empty();
        self.phase = Phase::Paused;
        self.rejoin = false;
        self.resume = false;
        lost
    }

    /// After a poll-interval expiry, the application polled again: join anew (once the
    /// LeaveGroup, if any, is answered).
    pub fn rejoin_after_poll_timeout(&mut self) {
        if self.phase == Phase::Paused {
            self.resume = true;
        }
    }

    /// The next thing to do at `now`.
    pub fn next_step(&mut self, now: Instant) -> Step {
        if self.in_flight || self.phase == Phase::Failed {
            return Step::Wait(None);
        }
        if self.phase == Phase::Assigning {
            return match self.pending_assign.take() {
                Some(task) => Step::Assign(task),
                None => Step::Wait(None),
            };
        }
        if self.phase == Phase::Syncing {
            if let Some(sync) = self.pending_sync.take() {
                self.in_flight = true;
                return Step::Send(GroupRequest::Sync(sync));
            }
            return Step::Wait(None);
        }
        if self.phase == Phase::Paused {
            if self.leave_requested {
                self.leave_requested = false;
                self.in_flight = true;
                return Step::Send(GroupRequest::Leave(self.leave_request()));
            }
            if !self.resume {
                return Step::Wait(None);
            }
            self.resume = false;
            if self.settings.instance_id.is_none() {
                self.member_id.clear();
            }
            self.generation = -1;
            self.phase = Phase::Unjoined;
        }
        if self.phase == Phase::Left {
            if self.leave_requested && self.revoking.is_empty() {
                self.leave_requested = false;
                self.in_flight = true;
                return Step::Send(GroupRequest::Leave(self.leave_request()));
            }
            if self.heartbeating() {
                return self.heartbeat_or_wait(now);
            }
            return Step::Wait(None);
        }
        if self.heartbeating()
            && self
                .last_alive
                .is_some_and(|alive| now >= alive + self.settings.session_timeout)
        {
            // Self-fence: the coordinator may have given our partitions away by now.
            self.lose_all();
            self.generation = -1;
            self.phase = Phase::Unjoined;
            self.rejoin = false;
            self.retry_at = None;
            self.failures = 0;
            self.last_alive = None;
        }
        if let Some(at) = self.retry_at {
            if now < at {
                let fence = self.last_alive.map(|a| a + self.settings.session_timeout);
                return Step::Wait(Some(fence.map_or(at, |f| f.min(at))));
            }
            self.retry_at = None;
        }
        if self.phase == Phase::Stable {
            if self.rejoin && self.revoking.is_empty() {
                self.rejoin = false;
                self.phase = Phase::Unjoined;
            } else {
                return self.heartbeat_or_wait(now);
            }
        }
        if self.phase == Phase::Unjoined && self.protocol == RebalanceProtocol::Eager {
            if !self.owned.is_empty() {
                let all: Vec<TopicPartition> = self.owned.iter().cloned().collect();
                self.start_revoke(all);
            }
            if !self.revoking.is_empty() {
                self.phase = Phase::RevokingBeforeJoin;
            }
        }
        if self.phase == Phase::RevokingBeforeJoin {
            if !self.revoking.is_empty() {
                // The generation still holds while the application finishes: heartbeat, so
                // that the session does not expire (the coordinator waits for our JoinGroup
                // up to the rebalance timeout).
                return self.heartbeat_or_wait(now);
            }
            self.phase = Phase::Unjoined;
        }
        if self.phase == Phase::Unjoined {
            self.rejoin = false;
            self.phase = Phase::Joining;
            self.in_flight = true;
            return Step::Send(GroupRequest::Join(self.join_request()));
        }
        Step::Wait(None)
    }

    /// Whether the member is in a generation and heartbeats: stable, or finishing a
    /// revocation before it rejoins or leaves.
    fn heartbeating(&self) -> bool {
        match self.phase {
            Phase::Stable => true,
            Phase::RevokingBeforeJoin => self.generation >= 0,
            Phase::Left => self.generation >= 0 && !self.revoking.is_empty(),
            _ => false,
        }
    }

    /// A heartbeat if one is due, else a wait until it is (or until the session would expire).
    fn heartbeat_or_wait(&mut self, now: Instant) -> Step {
        let at = self.next_heartbeat.unwrap_or(now);
        if now >= at {
            self.in_flight = true;
            self.next_heartbeat = Some(now + self.settings.heartbeat_interval);
            return Step::Send(GroupRequest::Heartbeat(self.heartbeat_request()));
        }
        let fence = self.last_alive.map(|a| a + self.settings.session_timeout);
        Step::Wait(Some(fence.map_or(at, |f| f.min(at))))
    }

    /// The request the shell sent could not be answered (connection lost, timeout): find the
    /// coordinator again and retry.
    pub fn request_failed(&mut self, now: Instant, api: GroupApi) {
        self.in_flight = false;
        match api {
            GroupApi::JoinGroup | GroupApi::SyncGroup => {
                self.phase = Phase::Unjoined;
                self.schedule_retry(now);
            }
            GroupApi::Heartbeat => {
                self.next_heartbeat = None;
                self.schedule_retry(now);
            }
            _ => {}
        }
    }

    /// Feeds the coordinator's answer to the request last returned by
    /// [`next_step`](Self::next_step). Returns the [`Reaction`] the error table chose, so that
    /// the shell can forget the coordinator on [`Reaction::Rediscover`].
    pub fn on_response(&mut self, now: Instant, response: GroupResponse) -> Reaction {
        self.in_flight = false;
        match response {
            GroupResponse::Join(r) => self.on_join(now, r),
            GroupResponse::Sync(r) => self.on_sync(now, r),
            GroupResponse::Heartbeat(r) => self.on_heartbeat(now, r),
            GroupResponse::Leave(r) => {
                let code = ErrorCode::from(r.error_code);
                self.member_id.clear();
                self.generation = -1;
                reaction(GroupApi::LeaveGroup, code, self.context())
            }
        }
    }

    /// A commit was refused in a way that says the member is no longer in its generation
    /// ([`Reaction::ResetMember`], [`Reaction::ResetGeneration`]): its partitions are lost and
    /// it rejoins. Other reactions change nothing.
    pub fn commit_refused(&mut self, now: Instant, code: ErrorCode, action: Reaction) {
        if matches!(action, Reaction::ResetMember | Reaction::ResetGeneration) && !self.is_done() {
            self.react(now, GroupApi::OffsetCommit, code, action);
        }
    }

    /// The leader's assignment is ready (or failed): send SyncGroup.
    pub fn assignment_ready(
        &mut self,
        generation: i32,
        assignment: Result<GroupAssignment, AssignError>,
    ) {
        if self.phase != Phase::Assigning || generation != self.generation {
            return;
        }
        let assignments = match assignment {
            Ok(assignment) => assignment
                .iter()
                .filter_map(|(member, a)| {
                    let bytes = encode_assignment(&a.partitions, a.user_data.clone())?;
                    Some(SyncGroupRequestAssignment {
                        member_id: member.clone(),
                        assignment: bytes,
                        ..Default::default()
                    })
                })
                .collect(),
            // An assignor failure leaves everyone without partitions this round, as Java's
            // leader would fail the round; the next rejoin tries again.
            Err(_) => {
                self.rejoin = true;
                Vec::new()
            }
        };
        self.phase = Phase::Syncing;
        self.pending_sync = Some(self.sync_request(assignments));
    }

    fn context(&self) -> ReactionContext {
        ReactionContext {
            rebalancing: self.is_rebalancing(),
            static_member: self.settings.instance_id.is_some(),
            // One request at a time: an answer is always for the member's current generation.
            generation_changed: false,
        }
    }
}

impl Membership {
    fn fail(&mut self, api: GroupApi, code: ErrorCode, kind: FatalKind) {
        self.lose_all();
        self.phase = Phase::Failed;
        self.events
            .push_back(MemberEvent::Fatal { api, code, kind });
    }

    /// Every owned partition is lost (never committed); returns them.
    fn lose_all(&mut self) -> Vec<TopicPartition> {
        let lost: Vec<TopicPartition> = std::mem::take(&mut self.owned).into_iter().collect();
        self.revoking.clear();
        // Partitions lost are not claimed again.
        self.last_assignment = (Vec::new(), -1);
        if !lost.is_empty() {
            self.events.push_back(MemberEvent::Lost(lost.clone()));
        }
        lost
    }

    fn start_revoke(&mut self, partitions: Vec<TopicPartition>) {
        announce_revocation(&mut self.revoking, &mut self.events, partitions);
    }

    fn schedule_retry(&mut self, now: Instant) {
        let wait = retry_wait(self.settings.retry_backoff, self.failures);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(now + wait);
    }

    /// The time by which the membership wants to be asked again, for a shell that sleeps.
    pub fn deadline(&self) -> Option<Instant> {
        let fence = self.last_alive.map(|a| a + self.settings.session_timeout);
        [self.retry_at, self.next_heartbeat, fence]
            .into_iter()
            .flatten()
            .min()
    }
}

/// Adds `partitions` to `revoking` and announces those not already being revoked in one
/// [`MemberEvent::Revoke`] (both protocols' memberships).
pub(crate) fn announce_revocation(
    revoking: &mut BTreeSet<TopicPartition>,
    events: &mut VecDeque<MemberEvent>,
    partitions: Vec<TopicPartition>,
) {
    let fresh: Vec<TopicPartition> = partitions
        .into_iter()
        .filter(|tp| revoking.insert(tp.clone()))
        .collect();
    if !fresh.is_empty() {
        events.push_back(MemberEvent::Revoke(fresh));
    }
}

/// The wait before the retry that follows `failures` failures in a row: `base`, doubled per
/// failure, at most [`MAX_RETRY_BACKOFF`] (both protocols' memberships).
pub(crate) fn retry_wait(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(1 << failures.min(5))
        .min(MAX_RETRY_BACKOFF)
}

#[cfg(test)]
mod tests;
