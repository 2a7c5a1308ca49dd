//! [`ConsumerMembership`]: one member's side of KIP-848's consumer group protocol, sans-io.
//!
//! The coordinator assigns: the member sends ConsumerGroupHeartbeat every heartbeat interval
//! (the coordinator sets it), and an answer may carry the member's new epoch and its target
//! assignment (by topic id). The membership takes answers and the time, and returns the next
//! heartbeat to send ([`ConsumerStep`]) plus the same [`MemberEvent`]s as the classic
//! [`Membership`](super::membership::Membership), so the consumer and its revoke barrier do
//! not care which protocol runs.
//!
//! # Reconciliation
//! Revocation comes before assignment: partitions the member owns and the target leaves out
//! are revoked first ([`MemberEvent::Revoke`]); the member keeps reporting them as owned until
//! the application has finished with them ([`ConsumerMembership::revoke_done`]: processed,
//! committed), then heartbeats at once without them. Only then are the target's new
//! partitions assigned ([`MemberEvent::Assigned`]) and acknowledged by the next heartbeat.
//! A target topic id that the metadata does not name yet stays pending (the shell refreshes
//! the metadata, [`ConsumerMembership::needs_metadata`]) and is assigned once it resolves: a
//! topic created after the member joined is never stranded.
//!
//! # Heartbeats and their retries
//! A member joins with epoch 0 and its own member id (KIP-1082: generated once by the client
//! and kept for the consumer's lifetime, also across fencing). A heartbeat carries every field
//! when the member joins and after any failure; otherwise only what changed since the
//! coordinator acknowledged it. A heartbeat whose answer was lost is sent again with the same
//! epoch and the same or fewer partitions, which Kafka accepts (it takes the previous epoch
//! with a subset of the assignment), so a lossy link does not fence the member.
//!
//! # Failures
//! Error codes go through the one table in [`super::errors`]. `FENCED_MEMBER_EPOCH` and
//! `UNKNOWN_MEMBER_ID`: every owned partition is lost ([`MemberEvent::Lost`], never
//! committed) and the member joins again at epoch 0 at once, keeping its member id. A member
//! that goes `session.timeout.ms` without an answered heartbeat gives its partitions up the
//! same way, before the coordinator can hand them to someone else. Leaving (epoch -1, or -2
//! for a static member that means to come back) is sent only after the revocation of every
//! partition has completed.

mod heartbeat;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use gregor_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::{ErrorCode, TopicPartition};

use heartbeat::{OwnedIds, SentFields, assignment_ids, topic_partitions};

use super::errors::{FatalKind, GroupApi, Reaction, ReactionContext, reaction};
use super::membership::{CommitIdentity, MemberEvent, announce_revocation, retry_wait};

/// The epoch a member leaves the group with.
pub const LEAVE_EPOCH: i32 = -1;
/// The epoch a static member leaves with when it means to come back (its assignment waits
/// for its instance id until the session times out).
pub const STATIC_LEAVE_EPOCH: i32 = -2;

/// What a consumer-protocol membership needs to know about its member.
#[derive(Debug, Clone)]
pub struct ConsumerMembershipSettings {
    /// `group.id`.
    pub group_id: String,
    /// `group.instance.id`, for a static member.
    pub instance_id: Option<String>,
    /// `client.rack`.
    pub rack: Option<String>,
    /// The rebalance timeout (`max.poll.interval.ms` by default): how long the coordinator
    /// waits for the member to revoke.
    pub rebalance_timeout: Duration,
    /// How long the member goes on without an answered heartbeat before it gives its
    /// partitions up (the broker's `group.consumer.session.timeout.ms`, as far as the member
    /// knows it).
    pub session_timeout: Duration,
    /// The first wait before retrying a failed heartbeat.
    pub retry_backoff: Duration,
    /// `group.remote.assignor`, or `None` for the broker's default.
    pub server_assignor: Option<String>,
    /// The epoch to leave with on close: [`LEAVE_EPOCH`], [`STATIC_LEAVE_EPOCH`], or `None`
    /// to stay in the group (the coordinator expires the member after its session).
    pub leave_epoch_on_close: Option<i32>,
    /// Switch to the classic protocol when the coordinator does not know this one.
    pub fallback_to_classic: bool,
}

/// What the member subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerSubscription {
    /// These topics.
    Topics(Vec<String>),
    /// The topics whose whole name matches this regular expression, matched by the
    /// coordinator (RE2/J syntax).
    Regex(String),
}

/// What the shell should do next.
#[derive(Debug, Clone)]
pub enum ConsumerStep {
    /// Send this heartbeat to the coordinator and feed back its answer.
    Send(Box<ConsumerGroupHeartbeatRequest>),
    /// Nothing until this time, an answer or an application call; `None`: nothing until an
    /// answer or an application call.
    Wait(Option<Instant>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Joining (or rejoining) with epoch 0.
    Joining,
    /// In the group, heartbeating and reconciling.
    Stable,
    /// Closing: revoking everything, then leaving.
    Leaving,
    /// Out of the group because the application missed `max.poll.interval.ms`; waits for it.
    Paused,
    /// Left: the member is done.
    Left,
    /// A fatal error ended the membership.
    Failed,
    /// The coordinator does not serve this protocol and the member falls back to the classic
    /// one: the shell hands over.
    FallBack,
}

/// The heartbeat in flight.
#[derive(Debug, Clone)]
struct InFlight {
    sent_at: Instant,
    /// The fields the request carried, acknowledged if the answer is a success.
    fields: SentFields,
    /// It is a leave heartbeat.
    leave: bool,
}

/// One member's consumer-protocol state; see the [module docs](self).
#[derive(Debug)]
pub struct ConsumerMembership {
    settings: ConsumerMembershipSettings,
    subscription: ConsumerSubscription,
    phase: Phase,
    member_id: String,
    epoch: i32,
    /// Owned partitions with their topic ids.
    owned: BTreeMap<TopicPartition, Uuid>,
    /// The coordinator's latest assignment for the member.
    target: OwnedIds,
    /// Topic names by id, as the metadata resolved them.
    names: BTreeMap<Uuid, String>,
    /// Partitions handed to the application in a `Revoke` not yet acknowledged.
    revoking: BTreeSet<TopicPartition>,
    events: VecDeque<MemberEvent>,
    in_flight: Option<InFlight>,
    sent: SentFields,
    /// The next heartbeat must carry every field.
    full: bool,
    heartbeat_interval: Duration,
    next_heartbeat: Option<Instant>,
    /// The owned partitions changed: heartbeat at once to say so.
    ack_due: bool,
    /// When the last heartbeat the coordinator answered was sent.
    last_alive: Option<Instant>,
    retry_at: Option<Instant>,
    failures: u32,
    /// Leave with this epoch once nothing is left to revoke.
    leave_epoch: Option<i32>,
    /// The application polled again after a poll-interval expiry.
    resume: bool,
}

impl ConsumerMembership {
    /// A member with id `member_id` (the client generates it: 22 characters of base64url
    /// randomness, as Java's `Uuid`) that will join with `subscription`.
    pub fn new(
        settings: ConsumerMembershipSettings,
        subscription: ConsumerSubscription,
        member_id: String,
    ) -> ConsumerMembership {
        ConsumerMembership {
            settings,
            subscription,
            phase: Phase::Joining,
            member_id,
            epoch: 0,
            owned: BTreeMap::new(),
            target: OwnedIds::new(),
            names: BTreeMap::new(),
            revoking: BTreeSet::new(),
            events: VecDeque::new(),
            in_flight: None,
            sent: SentFields::default(),
            full: true,
            heartbeat_interval: Duration::from_secs(5),
            next_heartbeat: None,
            ack_due: false,
            last_alive: None,
            retry_at: None,
            failures: 0,
            leave_epoch: None,
            resume: false,
        }
    }

    /// The member id.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The member epoch (0 while joining).
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    /// The heartbeat interval the coordinator asked for.
    pub fn heartbeat_interval(&self) -> Duration {
        self.heartbeat_interval
    }

    /// The partitions the member owns now.
    pub fn owned(&self) -> BTreeSet<TopicPartition> {
        self.owned.keys().cloned().collect()
    }

    /// The subscription.
    pub fn subscription(&self) -> &ConsumerSubscription {
        &self.subscription
    }

    /// Whether the member has left or failed (or hands over to the classic protocol).
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Left | Phase::Failed | Phase::FallBack)
    }

    /// Whether nothing is left to do: done, nothing in flight, nothing being revoked.
    pub fn is_finished(&self) -> bool {
        self.is_done() && self.in_flight.is_none() && self.revoking.is_empty()
    }

    /// Whether the coordinator does not serve this protocol and the member is configured to
    /// fall back to the classic one.
    pub fn wants_classic(&self) -> bool {
        self.phase == Phase::FallBack
    }

    /// The identity commits are fenced with (the member epoch as the generation), while the
    /// member is in the group.
    pub fn commit_identity(&self) -> Option<CommitIdentity> {
        (self.epoch > 0 && matches!(self.phase, Phase::Stable | Phase::Leaving)).then(|| {
            CommitIdentity {
                generation: self.epoch,
                member_id: self.member_id.clone(),
                instance_id: self.settings.instance_id.clone(),
            }
        })
    }

    /// Whether the member is between a new target and having reached it (revoking, or
    /// waiting for partitions).
    pub fn is_rebalancing(&self) -> bool {
        self.phase == Phase::Joining || !self.revoking.is_empty() || self.owned_ids() != self.target
    }

    /// When the member would give its partitions up for lack of an answered heartbeat.
    pub fn fence_at(&self) -> Option<Instant> {
        if self.epoch <= 0 {
            return None;
        }
        self.last_alive.map(|a| a + self.settings.session_timeout)
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<MemberEvent> {
        self.events.pop_front()
    }

    /// Target topic ids the metadata does not name yet: the shell should refresh it.
    pub fn needs_metadata(&self) -> bool {
        self.target.keys().any(|id| !self.names.contains_key(id))
    }

    /// The topic ids of the target assignment the metadata has not named yet.
    pub fn unresolved(&self) -> Vec<Uuid> {
        self.target
            .keys()
            .filter(|id| !self.names.contains_key(id))
            .copied()
            .collect()
    }

    /// Names topic ids from the metadata (`lookup`); partitions of newly named topics are
    /// assigned (after any revocation under way).
    pub fn resolve_topics(&mut self, lookup: impl Fn(Uuid) -> Option<String>) {
        let mut named = false;
        for id in self.unresolved() {
            if let Some(name) = lookup(id) {
                self.names.insert(id, name);
                named = true;
            }
        }
        if named {
            self.reconcile();
        }
    }

    /// The subscribed topics changed (a [`ConsumerSubscription::Topics`] subscription): the
    /// next heartbeat says so.
    pub fn set_topics(&mut self, mut topics: Vec<String>) {
        topics.sort();
        topics.dedup();
        if let ConsumerSubscription::Topics(current) = &mut self.subscription {
            if *current != topics {
                *current = topics;
                self.ack_due = true;
            }
        }
    }

    /// The application finished these revoked partitions (and committed them).
    pub fn revoke_done(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            if self.revoking.remove(tp) {
                self.owned.remove(tp);
                self.ack_due = true;
            }
        }
        if self.revoking.is_empty() {
            self.reconcile();
        }
    }

    /// Stop: revoke every partition, then leave with the configured epoch (see
    /// [`ConsumerMembershipSettings::leave_epoch_on_close`], which decides for this protocol:
    /// `_leave` is the classic protocol's LeaveGroup choice, which cannot say "leave
    /// temporarily").
    pub fn close(&mut self, _leave: bool) {
        if self.is_done() {
            return;
        }
        if self.phase == Phase::Paused {
            // Already out of the group (a leave may still be pending).
            self.phase = Phase::Left;
            return;
        }
        // Decided when the revocation is over: a join answered meanwhile makes the member
        // one that has to leave.
        self.leave_epoch = self.settings.leave_epoch_on_close;
        let all: Vec<TopicPartition> = self.owned.keys().cloned().collect();
        self.start_revoke(all);
        self.phase = Phase::Leaving;
    }

    /// The application missed `max.poll.interval.ms`: the partitions are lost and the member
    /// leaves (a static member temporarily), until the application polls again
    /// ([`rejoin_after_poll_timeout`](Self::rejoin_after_poll_timeout)). Returns the lost
    /// partitions.
    pub fn poll_interval_expired(&mut self) -> Vec<TopicPartition> {
        if matches!(self.phase, Phase::Stable | Phase::Joining) {
            let lost = self.lose_all();
            self.leave_epoch = (self.epoch > 0).then_some(if self.settings.instance_id.is_some() {
                STATIC_LEAVE_EPOCH
            } else {
                LEAVE_EPOCH
            });
            self.phase = Phase::Paused;
            self.resume = false;
            return lost;
        }
        Vec::new()
    }

    /// After a poll-interval expiry, the application polled again: join anew.
    pub fn rejoin_after_poll_timeout(&mut self) {
        if self.phase == Phase::Paused {
            self.resume = true;
        }
    }

    /// A commit was refused in a way that says the member is out of its epoch (a stale
    /// epoch, or fenced): heartbeat at once, whose answer brings the newer epoch or decides
    /// what is lost.
    pub fn commit_refused(&mut self, _now: Instant, _code: ErrorCode, action: Reaction) {
        if matches!(
            action,
            Reaction::ResetMember | Reaction::ResetGeneration | Reaction::RetryWithNewEpoch
        ) {
            self.ack_due = true;
        }
    }

    /// The next thing to do at `now`.
    pub fn next_step(&mut self, now: Instant) -> ConsumerStep {
        if self.in_flight.is_some() || self.is_done() {
            return ConsumerStep::Wait(None);
        }
        if self.phase == Phase::Paused {
            if let Some(epoch) = self.leave_epoch.take() {
                return self.send_leave(now, epoch);
            }
            if !self.resume {
                return ConsumerStep::Wait(None);
            }
            self.resume = false;
            self.rejoin();
        }
        if self.epoch > 0
            && self
                .last_alive
                .is_some_and(|alive| now >= alive + self.settings.session_timeout)
        {
            // Self-fence: the coordinator may have given the partitions away by now.
            self.lose_all();
            if self.phase == Phase::Leaving {
                self.phase = Phase::Left;
                return ConsumerStep::Wait(None);
            }
            self.rejoin();
        }
        if let Some(at) = self.retry_at {
            if now < at {
                let wake = self.fence_at().map_or(at, |f| f.min(at));
                return ConsumerStep::Wait(Some(wake));
            }
            self.retry_at = None;
        }
        if self.phase == Phase::Leaving && self.revoking.is_empty() {
            return match self.leave_epoch.take() {
                Some(epoch) if self.epoch > 0 => self.send_leave(now, epoch),
                _ => {
                    self.phase = Phase::Left;
                    ConsumerStep::Wait(None)
                }
            };
        }
        if self.phase == Phase::Leaving && self.epoch <= 0 {
            // Not in the group (yet): nothing to keep alive while the application finishes.
            return ConsumerStep::Wait(None);
        }
        let due = self.phase == Phase::Joining
            || self.ack_due
            || self.next_heartbeat.is_none_or(|at| now >= at);
        if due {
            return self.send_heartbeat(now);
        }
        let at = self.next_heartbeat.unwrap_or(now);
        ConsumerStep::Wait(Some(self.fence_at().map_or(at, |f| f.min(at))))
    }

    /// The heartbeat could not be answered (connection lost, timeout, no answer within the
    /// session): retry after the backoff with every field.
    pub fn request_failed(&mut self, now: Instant) {
        let Some(flight) = self.in_flight.take() else {
            return;
        };
        if flight.leave {
            // Leaving is best effort: the coordinator expires the member otherwise.
            self.finish_leave();
            return;
        }
        self.full = true;
        // Due as soon as the backoff is over (as Java resets its heartbeat timer).
        self.next_heartbeat = None;
        self.schedule_retry(now);
    }

    /// Feeds the coordinator's answer to the heartbeat last returned by
    /// [`next_step`](Self::next_step). Returns the [`Reaction`] the error table chose, so
    /// that the shell can forget the coordinator on [`Reaction::Rediscover`].
    pub fn on_response(
        &mut self,
        now: Instant,
        response: ConsumerGroupHeartbeatResponse,
    ) -> Reaction {
        let Some(flight) = self.in_flight.take() else {
            return Reaction::Done;
        };
        let code = ErrorCode::from(response.error_code);
        let action = reaction(GroupApi::ConsumerGroupHeartbeat, code, self.context());
        if flight.leave {
            self.finish_leave();
            return action;
        }
        if code.is_ok() {
            self.accept(flight, response);
            return Reaction::Done;
        }
        self.full = true;
        self.next_heartbeat = None;
        match action {
            Reaction::Rediscover => {
                // To the coordinator the shell looks up again, at once the first time;
                // repeated failures back off.
                if self.failures > 0 {
                    self.schedule_retry(now);
                } else {
                    self.failures = 1;
                    self.retry_at = None;
                }
                self.next_heartbeat = None;
            }
            Reaction::ResetGeneration | Reaction::ResetMember => {
                // Fenced or unknown: whatever we own may be someone else's already.
                self.lose_all();
                if self.phase == Phase::Leaving {
                    self.leave_epoch = None;
                    self.phase = Phase::Left;
                } else {
                    let was_joining = self.phase == Phase::Joining;
                    self.rejoin();
                    if was_joining {
                        // Refused as it joined: not at once again.
                        self.schedule_retry(now);
                    }
                }
            }
            Reaction::Fatal(FatalKind::UnsupportedVersion)
                if self.settings.fallback_to_classic && self.epoch == 0 =>
            {
                self.phase = Phase::FallBack;
            }
            Reaction::Fatal(kind) => self.fail(code, kind),
            _ => self.schedule_retry(now),
        }
        action
    }

    /// The coordinator does not serve ConsumerGroupHeartbeat at all (missing from its
    /// ApiVersions): fall back to the classic protocol if configured to, else fail.
    pub fn unsupported(&mut self) {
        self.in_flight = None;
        if self.settings.fallback_to_classic && self.epoch == 0 {
            self.phase = Phase::FallBack;
        } else {
            self.fail(ErrorCode::UnsupportedVersion, FatalKind::UnsupportedVersion);
        }
    }

    /// The time by which the membership wants to be asked again, for a shell that sleeps.
    pub fn deadline(&self) -> Option<Instant> {
        [self.retry_at, self.next_heartbeat, self.fence_at()]
            .into_iter()
            .flatten()
            .min()
    }
}

impl ConsumerMembership {
    fn context(&self) -> ReactionContext {
        ReactionContext {
            rebalancing: self.is_rebalancing(),
            static_member: self.settings.instance_id.is_some(),
            // One heartbeat at a time: an answer is always for the current epoch.
            generation_changed: false,
        }
    }

    fn owned_ids(&self) -> OwnedIds {
        let mut ids = OwnedIds::new();
        for (tp, id) in &self.owned {
            ids.entry(*id).or_default().insert(tp.partition);
        }
        ids
    }

    /// A successful answer: epoch, interval, and the assignment if it carries one.
    fn accept(&mut self, flight: InFlight, response: ConsumerGroupHeartbeatResponse) {
        if let Some(id) = response.member_id.filter(|id| !id.is_empty()) {
            // Version 0: the coordinator chose the member id when the member joined.
            self.member_id = id;
        }
        self.epoch = response.member_epoch;
        if let Ok(ms) = u64::try_from(response.heartbeat_interval_ms) {
            if ms > 0 {
                self.heartbeat_interval = Duration::from_millis(ms);
            }
        }
        self.sent = flight.fields;
        self.full = false;
        self.failures = 0;
        self.retry_at = None;
        self.last_alive = Some(flight.sent_at);
        self.next_heartbeat = Some(flight.sent_at + self.heartbeat_interval);
        if self.phase == Phase::Joining {
            self.phase = Phase::Stable;
        }
        if let Some(assignment) = response.assignment {
            self.target = assignment_ids(&assignment.topic_partitions);
            self.reconcile();
        }
        if self.sent.owned_changed(&self.owned_ids()) {
            // Reconciled while the heartbeat was in flight: acknowledge now.
            self.ack_due = true;
        }
    }

    /// Moves the owned partitions towards the target: revoke first, then assign.
    fn reconcile(&mut self) {
        if self.phase != Phase::Stable || !self.revoking.is_empty() {
            return;
        }
        let mut resolved: BTreeMap<TopicPartition, Uuid> = BTreeMap::new();
        for (id, partitions) in &self.target {
            if let Some(name) = self.names.get(id) {
                for p in partitions {
                    resolved.insert(TopicPartition::new(name.as_str(), *p), *id);
                }
            }
        }
        let revoke: Vec<TopicPartition> = self
            .owned
            .iter()
            .filter(|(tp, id)| resolved.get(*tp) != Some(*id))
            .map(|(tp, _)| tp.clone())
            .collect();
        if !revoke.is_empty() {
            self.start_revoke(revoke);
            return;
        }
        let added: Vec<TopicPartition> = resolved
            .iter()
            .filter(|(tp, _)| !self.owned.contains_key(*tp))
            .map(|(tp, _)| tp.clone())
            .collect();
        if !added.is_empty() {
            for tp in &added {
                if let Some(id) = resolved.get(tp) {
                    self.owned.insert(tp.clone(), *id);
                }
            }
            self.events.push_back(MemberEvent::Assigned(added));
            self.ack_due = true;
        }
    }

    fn send_heartbeat(&mut self, now: Instant) -> ConsumerStep {
        let full = self.full || self.phase == Phase::Joining;
        let owned = self.owned_ids();
        let mut fields = self.sent.clone();
        let mut request = self.base_request(self.epoch);
        if full || !fields.rebalance_timeout {
            request.rebalance_timeout_ms = millis(self.settings.rebalance_timeout);
            fields.rebalance_timeout = true;
        }
        if full {
            request.rack_id = self.settings.rack.clone();
        }
        match &self.subscription {
            ConsumerSubscription::Topics(topics) => {
                if full || fields.topics.as_ref() != Some(topics) {
                    request.subscribed_topic_names = Some(topics.clone());
                    fields.topics = Some(topics.clone());
                }
            }
            ConsumerSubscription::Regex(regex) => {
                if full || fields.regex.as_ref() != Some(regex) {
                    request.subscribed_topic_regex = Some(regex.clone());
                    fields.regex = Some(regex.clone());
                }
            }
        }
        if let Some(assignor) = &self.settings.server_assignor {
            if full || fields.assignor.as_ref() != Some(assignor) {
                request.server_assignor = Some(assignor.clone());
                fields.assignor = Some(assignor.clone());
            }
        }
        if full || fields.owned_changed(&owned) {
            request.topic_partitions = Some(topic_partitions(&owned));
            fields.owned = Some(owned);
        }
        self.ack_due = false;
        self.next_heartbeat = Some(now + self.heartbeat_interval);
        self.in_flight = Some(InFlight {
            sent_at: now,
            fields,
            leave: false,
        });
        ConsumerStep::Send(Box::new(request))
    }

    fn send_leave(&mut self, now: Instant, epoch: i32) -> ConsumerStep {
        let request = self.base_request(epoch);
        self.in_flight = Some(InFlight {
            sent_at: now,
            fields: SentFields::default(),
            leave: true,
        });
        ConsumerStep::Send(Box::new(request))
    }

    fn base_request(&self, epoch: i32) -> ConsumerGroupHeartbeatRequest {
        ConsumerGroupHeartbeatRequest {
            group_id: self.settings.group_id.clone(),
            member_id: self.member_id.clone(),
            member_epoch: epoch,
            instance_id: self.settings.instance_id.clone(),
            rack_id: None,
            rebalance_timeout_ms: -1,
            subscribed_topic_names: None,
            subscribed_topic_regex: None,
            server_assignor: None,
            topic_partitions: None,
            unknown_tagged_fields: Default::default(),
        }
    }

    fn finish_leave(&mut self) {
        self.epoch = 0;
        self.last_alive = None;
        if self.phase != Phase::Paused {
            self.phase = Phase::Left;
        }
    }

    /// Join again at epoch 0 with the same member id, at once.
    fn rejoin(&mut self) {
        self.epoch = 0;
        self.phase = Phase::Joining;
        self.full = true;
        self.target.clear();
        self.last_alive = None;
        self.retry_at = None;
        self.failures = 0;
        self.next_heartbeat = None;
    }

    fn fail(&mut self, code: ErrorCode, kind: FatalKind) {
        self.lose_all();
        self.phase = Phase::Failed;
        self.events.push_back(MemberEvent::Fatal {
            api: GroupApi::ConsumerGroupHeartbeat,
            code,
            kind,
        });
    }

    /// Every owned partition is lost (never committed); returns them.
    fn lose_all(&mut self) -> Vec<TopicPartition> {
        let lost: Vec<TopicPartition> = std::mem::take(&mut self.owned).into_keys().collect();
        self.revoking.clear();
        self.target.clear();
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
}

/// A duration as a Kafka `INT` of milliseconds (saturating).
fn millis(duration: Duration) -> i32 {
    i32::try_from(duration.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests;
