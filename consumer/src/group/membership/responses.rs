//! How the membership takes the coordinator's answers: JoinGroup (KIP-394, the leader's
//! assignment task, KIP-814), SyncGroup (eager and cooperative rounds), Heartbeat, and the
//! reactions of the error table.

use std::collections::BTreeSet;
use std::time::Instant;

use gregor_protocol::messages::consumer_protocol::ConsumerProtocolAssignment;
use gregor_protocol::messages::{HeartbeatResponse, JoinGroupResponse, SyncGroupResponse};
use gregor_protocol::{ErrorCode, TopicPartition};

use super::requests::decode_member;
use super::{AssignTask, MemberEvent, Membership, Phase};
use crate::group::errors::{FatalKind, GroupApi, Reaction, reaction};

impl Membership {
    pub(super) fn on_join(&mut self, now: Instant, r: JoinGroupResponse) -> Reaction {
        let code = ErrorCode::from(r.error_code);
        let action = reaction(GroupApi::JoinGroup, code, self.context());
        if self.phase == Phase::Left {
            // Closed while the JoinGroup was parked: it only tells who to leave as.
            if action == Reaction::Done {
                self.member_id = r.member_id;
                self.generation = r.generation_id;
            }
            return action;
        }
        match action {
            Reaction::Done => {}
            Reaction::RetryJoinWithMemberId => {
                self.member_id = r.member_id;
                self.phase = Phase::Unjoined;
                return action;
            }
            other => {
                self.phase = Phase::Unjoined;
                self.react(now, GroupApi::JoinGroup, code, other);
                return action;
            }
        }
        self.member_id = r.member_id.clone();
        self.generation = r.generation_id;
        self.chosen = r.protocol_name.clone();
        self.leader = r.leader == r.member_id;
        self.failures = 0;
        let assignor = self
            .chosen
            .as_deref()
            .and_then(|name| self.settings.assignors.iter().find(|a| a.name() == name))
            .cloned();
        if self.leader && !r.skip_assignment {
            let Some(assignor) = assignor else {
                // The coordinator chose a protocol this member did not offer.
                let kind = FatalKind::InconsistentProtocol;
                self.fail(
                    GroupApi::JoinGroup,
                    ErrorCode::InconsistentGroupProtocol,
                    kind,
                );
                return Reaction::Fatal(kind);
            };
            // In the coordinator's order, as Java's leader reads them (the sticky assignors'
            // tie-breaks follow it).
            let members = r
                .members
                .iter()
                .map(|m| {
                    decode_member(
                        m.member_id.clone(),
                        m.group_instance_id.clone(),
                        &m.metadata,
                    )
                })
                .collect::<Vec<_>>();
            self.phase = Phase::Assigning;
            self.pending_assign = Some(AssignTask {
                assignor,
                members,
                generation: self.generation,
            });
        } else {
            self.phase = Phase::Syncing;
            self.pending_sync = Some(self.sync_request(Vec::new()));
        }
        Reaction::Done
    }

    pub(super) fn on_sync(&mut self, now: Instant, r: SyncGroupResponse) -> Reaction {
        let code = ErrorCode::from(r.error_code);
        let action = reaction(GroupApi::SyncGroup, code, self.context());
        if self.phase == Phase::Left {
            // Closed while the SyncGroup was out: the assignment is not taken.
            return action;
        }
        if action != Reaction::Done {
            self.phase = Phase::Unjoined;
            self.react(now, GroupApi::SyncGroup, code, action);
            return action;
        }
        let assigned: BTreeSet<TopicPartition> = if r.assignment.is_empty() {
            BTreeSet::new()
        } else {
            match ConsumerProtocolAssignment::from_bytes(r.assignment.clone()) {
                Ok((_, a)) => a
                    .assigned_partitions
                    .iter()
                    .flat_map(|t| {
                        t.partitions
                            .iter()
                            .map(|p| TopicPartition::new(t.topic.as_str(), *p))
                    })
                    .collect(),
                Err(_) => {
                    // A leader that wrote garbage: take nothing and ask for another round.
                    self.rejoin = true;
                    BTreeSet::new()
                }
            }
        };
        self.phase = Phase::Stable;
        self.last_assignment = (assigned.iter().cloned().collect(), self.generation);
        self.last_alive = Some(now);
        self.next_heartbeat = Some(now + self.settings.heartbeat_interval);
        self.failures = 0;
        let revoked: Vec<TopicPartition> = self.owned.difference(&assigned).cloned().collect();
        let added: Vec<TopicPartition> = assigned.difference(&self.owned).cloned().collect();
        if !revoked.is_empty() {
            // Cooperative: give up what moves, then a second round hands it over.
            self.start_revoke(revoked);
            self.rejoin = true;
        }
        let subscribed: BTreeSet<&str> = self.topics.iter().map(String::as_str).collect();
        if added.iter().any(|tp| !subscribed.contains(tp.topic())) {
            // The leader assigned a topic we no longer subscribe to: its view is old.
            self.rejoin = true;
        }
        if !added.is_empty() {
            self.owned.extend(added.iter().cloned());
            self.events.push_back(MemberEvent::Assigned(added));
        }
        Reaction::Done
    }

    pub(super) fn on_heartbeat(&mut self, now: Instant, r: HeartbeatResponse) -> Reaction {
        let code = ErrorCode::from(r.error_code);
        let action = reaction(GroupApi::Heartbeat, code, self.context());
        if !self.heartbeating() {
            // An answer for a generation we already left behind.
            return action;
        }
        match action {
            // The coordinator still counts the member alive while the group rebalances.
            Reaction::Done | Reaction::Rejoin => {
                if action == Reaction::Rejoin && self.phase == Phase::Stable {
                    self.request_rejoin();
                }
                // The coordinator saw this member alive no earlier than the heartbeat was sent,
                // which was at most one interval ago.
                let sent = self
                    .next_heartbeat
                    .map_or(now, |next| next - self.settings.heartbeat_interval);
                self.last_alive = Some(sent.min(now));
                self.failures = 0;
            }
            other => {
                let closing = self.phase == Phase::Left;
                self.react(now, GroupApi::Heartbeat, code, other);
                if closing && self.phase != Phase::Failed {
                    // A closing member does not rejoin; without a generation it has nothing
                    // to leave either.
                    self.phase = Phase::Left;
                    if self.generation < 0 {
                        self.leave_requested = false;
                    }
                }
            }
        }
        action
    }

    /// Applies a failing reaction of `api`.
    pub(super) fn react(&mut self, now: Instant, api: GroupApi, code: ErrorCode, action: Reaction) {
        match action {
            Reaction::Done | Reaction::PartitionError => {}
            Reaction::Rediscover => {
                // Find the coordinator again at once; repeated failures back off.
                if self.failures > 0 {
                    self.schedule_retry(now);
                } else {
                    self.failures = 1;
                }
                self.next_heartbeat = None;
            }
            Reaction::Backoff => self.schedule_retry(now),
            Reaction::Rejoin | Reaction::RetryJoinWithMemberId => self.request_rejoin(),
            Reaction::ResetGeneration => {
                self.lose_all();
                self.generation = -1;
                self.phase = Phase::Unjoined;
            }
            Reaction::ResetMember => {
                self.lose_all();
                self.generation = -1;
                self.member_id.clear();
                self.phase = Phase::Unjoined;
            }
            // Commit outcomes: the member's state stays as it is.
            Reaction::CommitRebalancing | Reaction::CommitFailed | Reaction::RetryWithNewEpoch => {}
            Reaction::Fatal(kind) => self.fail(api, code, kind),
        }
    }
}
