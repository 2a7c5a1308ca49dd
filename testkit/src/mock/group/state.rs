//! One classic group: its state, members, generation, timers and committed offsets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gregor_protocol::{ErrorCode, TopicPartition};

use super::member::Member;
use super::{CommittedOffset, GroupState};

/// The timer of the join phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JoinTimer {
    pub at: Instant,
    pub kind: JoinTimerKind,
}

/// What the join timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinTimerKind {
    /// The first rebalance of an empty group (`group.initial.rebalance.delay.ms`): extended by
    /// another delay while new members keep arriving, within the rebalance timeout.
    Initial {
        delay: Duration,
        remaining: Duration,
    },
    /// The rebalance timeout: complete the join phase with whoever rejoined.
    Rebalance,
}

/// The timer of the sync phase: members that have not sent SyncGroup by then are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyncTimer {
    pub at: Instant,
    pub generation: i32,
}

/// What Kafka last wrote to `__consumer_offsets` about the group; a coordinator that takes the
/// group over starts from it.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    generation: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader: Option<String>,
    members: Vec<Member>,
}

/// A classic group.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub id: String,
    pub state: GroupState,
    pub previous_state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    /// Members in join order (the order a new leader is picked in).
    pub members: Vec<Member>,
    /// Members given an id by `MEMBER_ID_REQUIRED` that have not rejoined yet, with the
    /// deadline for doing so.
    pub pending: Vec<(String, Instant)>,
    /// Members of the current generation that have not sent SyncGroup yet.
    pub pending_sync: BTreeSet<String>,
    /// A member was added during the initial rebalance delay.
    pub new_member_added: bool,
    pub join_timer: Option<JoinTimer>,
    pub sync_timer: Option<SyncTimer>,
    pub snapshot: Option<Snapshot>,
    pub offsets: BTreeMap<TopicPartition, CommittedOffset>,
    /// Partitions with pending transactional offset commits (a test hook).
    pub pending_txn: BTreeSet<TopicPartition>,
}

impl Group {
    /// A new, empty group (persisted as such, like Kafka's empty group record).
    pub fn new(id: &str) -> Group {
        let mut g = Group {
            id: id.to_owned(),
            state: GroupState::Empty,
            previous_state: GroupState::Dead,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: Vec::new(),
            pending: Vec::new(),
            pending_sync: BTreeSet::new(),
            new_member_added: false,
            join_timer: None,
            sync_timer: None,
            snapshot: None,
            offsets: BTreeMap::new(),
            pending_txn: BTreeSet::new(),
        };
        g.persist();
        g
    }

    pub fn index_of(&self, member_id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.id == member_id)
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == member_id)
    }

    pub fn member_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == member_id)
    }

    pub fn has_member(&self, member_id: &str) -> bool {
        self.index_of(member_id).is_some()
    }

    pub fn is_pending(&self, member_id: &str) -> bool {
        self.pending.iter().any(|(id, _)| id == member_id)
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// The member id of the static member `instance_id`.
    pub fn static_member_id(&self, instance_id: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
            .map(|m| m.id.as_str())
    }

    /// Kafka's member check: a given instance id must map to this member id
    /// (`UNKNOWN_MEMBER_ID` if it maps to none, `FENCED_INSTANCE_ID` if to another), and the
    /// member must exist.
    pub fn validate_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), ErrorCode> {
        if let Some(instance) = instance_id {
            match self.static_member_id(instance) {
                None => return Err(ErrorCode::UnknownMemberId),
                Some(existing) if existing != member_id => {
                    return Err(ErrorCode::FencedInstanceId);
                }
                Some(_) => {}
            }
        }
        if self.has_member(member_id) {
            Ok(())
        } else {
            Err(ErrorCode::UnknownMemberId)
        }
    }

    /// Adds a member (it becomes the leader if there is none; the group takes its protocol
    /// type if it has no members).
    pub fn add(&mut self, member: Member) {
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        self.pending.retain(|(id, _)| *id != member.id);
        self.members.push(member);
    }

    /// Removes a member (the first remaining member becomes leader if it led).
    pub fn remove(&mut self, member_id: &str) -> Option<Member> {
        let removed = self.index_of(member_id).map(|i| self.members.remove(i));
        if self.is_leader(member_id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        self.pending.retain(|(id, _)| id != member_id);
        self.pending_sync.remove(member_id);
        removed
    }

    /// How many members support `protocol`.
    fn support_count(&self, protocol: &str) -> usize {
        self.members
            .iter()
            .filter(|m| m.protocols.iter().any(|(n, _)| n == protocol))
            .count()
    }

    /// Whether a member with this protocol type and these protocols can be in the group: an
    /// empty group takes any non-empty type and protocol list; otherwise the type must match
    /// and one of the protocols must be supported by every member.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.state == GroupState::Empty {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols
                    .iter()
                    .any(|(n, _)| self.support_count(n) == self.members.len())
        }
    }

    /// The group's protocol: among the protocols every member supports, each member votes for
    /// its most preferred; most votes wins (ties: the smallest name, where Kafka is arbitrary).
    pub fn select_protocol(&self) -> Option<String> {
        let mut candidates: Vec<&str> = Vec::new();
        for m in &self.members {
            for (n, _) in &m.protocols {
                let n = n.as_str();
                if !candidates.contains(&n) && self.support_count(n) == self.members.len() {
                    candidates.push(n);
                }
            }
        }
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &self.members {
            if let Some(p) = m.vote(&candidates) {
                *votes.entry(p).or_default() += 1;
            }
        }
        let most = votes.values().copied().max()?;
        votes
            .into_iter()
            .find(|(_, v)| *v == most)
            .map(|(p, _)| p.to_owned())
    }

    /// The group's rebalance timeout: the largest of its members'.
    pub fn rebalance_timeout(&self) -> Duration {
        self.members
            .iter()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    pub fn awaiting_join(&self) -> usize {
        self.members
            .iter()
            .filter(|m| m.join_waiter.is_some())
            .count()
    }

    /// Every member has rejoined and no member is between `MEMBER_ID_REQUIRED` and its join.
    pub fn all_joined(&self) -> bool {
        self.awaiting_join() == self.members.len() && self.pending.is_empty()
    }

    /// Whether a rebalance may start from the current state.
    pub fn can_rebalance(&self) -> bool {
        matches!(
            self.state,
            GroupState::Empty | GroupState::CompletingRebalance | GroupState::Stable
        )
    }

    pub fn transition(&mut self, state: GroupState) {
        self.previous_state = self.state;
        self.state = state;
    }

    /// Keeps the leader if it rejoined, else elects a member that did; false when nobody did.
    pub fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader.as_deref() else {
            return false;
        };
        if self.member(leader).is_some_and(|m| m.join_waiter.is_some()) {
            return true;
        }
        match self.members.iter().find(|m| m.join_waiter.is_some()) {
            Some(m) => {
                self.leader = Some(m.id.clone());
                true
            }
            None => false,
        }
    }

    /// Starts the next generation: `CompletingRebalance` with the selected protocol, or `Empty`.
    pub fn init_next_generation(&mut self) {
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition(GroupState::Empty);
        } else {
            self.protocol_name = self.select_protocol();
            self.transition(GroupState::CompletingRebalance);
        }
        self.pending_sync.clear();
    }

    /// The members as the leader's JoinGroup response lists them.
    pub fn leader_view(&self) -> Vec<(String, Option<String>, Bytes)> {
        let protocol = self.protocol_name.as_deref();
        self.members
            .iter()
            .map(|m| (m.id.clone(), m.instance_id.clone(), m.metadata(protocol)))
            .collect()
    }

    /// Records the group as Kafka writes it to the log (after a completed generation, a new
    /// empty group, or a static member's replacement).
    pub fn persist(&mut self) {
        let protocol = self.protocol_name.clone();
        let members = self
            .members
            .iter()
            .map(|m| {
                let mut m = m.clone();
                m.join_waiter = None;
                m.sync_waiter = None;
                if let Some(p) = &protocol {
                    m.protocols = vec![(p.clone(), m.metadata(Some(p)))];
                }
                m
            })
            .collect();
        self.snapshot = Some(Snapshot {
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: protocol,
            leader: self.leader.clone(),
            members,
        });
    }

    /// Reloads the group from its snapshot, as a new coordinator does: `Stable` with the
    /// persisted members (fresh session timeouts) or `Empty`; in-flight state is dropped.
    pub fn reload(&mut self, now: Instant) {
        let snapshot = self.snapshot.clone();
        let Some(s) = snapshot else { return };
        self.generation = s.generation;
        self.protocol_type = s.protocol_type;
        self.protocol_name = s.protocol_name;
        self.leader = s.leader;
        self.members = s.members;
        for m in &mut self.members {
            m.is_new = false;
            m.reschedule_heartbeat(now);
        }
        self.previous_state = GroupState::Dead;
        self.state = if self.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        self.pending.clear();
        self.pending_sync.clear();
        self.new_member_added = false;
        self.join_timer = None;
        self.sync_timer = None;
    }

    /// Kafka's OffsetCommit checks for a classic group.
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        if generation < 0 && self.state == GroupState::Empty {
            // A simple (standalone) consumer or an admin client: allowed while empty.
            return Ok(());
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            self.validate_member(member_id, instance_id)?;
            if generation != self.generation {
                return Err(ErrorCode::IllegalGeneration);
            }
        } else if self.state != GroupState::Empty {
            // Only members commit while the group has members.
            return Err(ErrorCode::UnknownMemberId);
        }
        if self.state == GroupState::CompletingRebalance {
            return Err(ErrorCode::RebalanceInProgress);
        }
        Ok(())
    }
}
