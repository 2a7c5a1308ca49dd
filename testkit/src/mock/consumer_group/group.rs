//! One KIP-848 consumer group: its epochs, members, target assignment, resolved regular
//! expressions and committed offsets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use gregor_protocol::TopicPartition;
use gregor_protocol::primitives::Uuid;

use super::assignor::{self, MemberSpec};
use super::reconcile::Progress;
use super::{Parts, TopicMeta};
use crate::mock::group::CommittedOffset;

/// A member of a consumer group.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub subscribed_names: BTreeSet<String>,
    /// The subscribed regular expression; empty when none.
    pub regex: String,
    pub server_assignor: Option<String>,
    pub progress: Progress,
    /// When the session expires without a heartbeat.
    pub session_deadline: Option<Instant>,
    /// When the member is fenced if it has not revoked what it must, with the epoch it was
    /// asked at.
    pub rebalance_deadline: Option<(Instant, i32)>,
}

impl Member {
    pub fn new(id: String) -> Member {
        Member {
            id,
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            rebalance_timeout_ms: -1,
            subscribed_names: BTreeSet::new(),
            regex: String::new(),
            server_assignor: None,
            progress: Progress::new(),
            session_deadline: None,
            rebalance_deadline: None,
        }
    }

    pub fn epoch(&self) -> i32 {
        self.progress.epoch
    }

    /// The partitions the member holds: assigned and pending revocation.
    pub fn holds(&self, topic: Uuid, partition: i32) -> bool {
        let has = |p: &Parts| p.get(&topic).is_some_and(|ps| ps.contains(&partition));
        has(&self.progress.assigned) || has(&self.progress.pending_revocation)
    }
}

/// A consumer group's state, with Kafka's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    /// No members.
    Empty,
    /// The group epoch is ahead of the target assignment.
    Assigning,
    /// Some member is not at the target yet.
    Reconciling,
    /// Every member is at the target.
    Stable,
}

impl ConsumerGroupState {
    /// Kafka's name for the state (`"Reconciling"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

/// A KIP-848 consumer group.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerGroup {
    pub id: String,
    pub epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, Member>,
    /// The target assignment, by member id.
    pub target: BTreeMap<String, Parts>,
    /// The subscribed topics that exist, with their id and partition count, as of the last
    /// epoch bump.
    pub subscribed_meta: BTreeMap<String, TopicMeta>,
    /// Resolved regular expressions: the topics each matches.
    pub resolved: BTreeMap<String, BTreeSet<String>>,
    /// When the regular expressions were last resolved, and the topics that existed then.
    pub regex_refreshed: Option<(Instant, BTreeSet<String>)>,
    pub offsets: BTreeMap<TopicPartition, CommittedOffset>,
}

impl ConsumerGroup {
    pub fn new(id: &str) -> ConsumerGroup {
        ConsumerGroup {
            id: id.to_owned(),
            epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            target: BTreeMap::new(),
            subscribed_meta: BTreeMap::new(),
            resolved: BTreeMap::new(),
            regex_refreshed: None,
            offsets: BTreeMap::new(),
        }
    }

    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .all(|m| m.progress.is_reconciled_to(self.assignment_epoch))
        {
            ConsumerGroupState::Stable
        } else {
            ConsumerGroupState::Reconciling
        }
    }

    /// The member holding `instance_id`.
    pub fn static_member(&self, instance_id: &str) -> Option<&Member> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
    }

    /// How many members subscribe to `regex`.
    pub fn regex_subscribers(&self, regex: &str) -> usize {
        self.members.values().filter(|m| m.regex == regex).count()
    }

    /// Whether a member other than `member_id` holds a partition.
    pub fn held_by_other(&self, member_id: &str, topic: Uuid, partition: i32) -> bool {
        self.members
            .values()
            .any(|m| m.id != member_id && m.holds(topic, partition))
    }

    /// The topic names a member subscribes to: its names and its resolved regex's topics.
    pub fn member_topics(&self, m: &Member) -> BTreeSet<String> {
        let mut topics = m.subscribed_names.clone();
        if !m.regex.is_empty() {
            if let Some(resolved) = self.resolved.get(&m.regex) {
                topics.extend(resolved.iter().cloned());
            }
        }
        topics
    }

    /// The existing topics some member subscribes to, with their metadata.
    pub fn compute_subscribed_meta(
        &self,
        topics: &BTreeMap<String, TopicMeta>,
    ) -> BTreeMap<String, TopicMeta> {
        let mut out = BTreeMap::new();
        for m in self.members.values() {
            for name in self.member_topics(m) {
                if let Some(meta) = topics.get(&name) {
                    out.insert(name, *meta);
                }
            }
        }
        out
    }

    /// The group's assignor: the one most members ask for (ties: the smallest name), else
    /// the default.
    pub fn preferred_assignor(&self) -> String {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = m.server_assignor.as_deref() {
                *votes.entry(a).or_default() += 1;
            }
        }
        let most = votes.values().copied().max().unwrap_or(0);
        votes
            .into_iter()
            .find(|(_, v)| *v == most && most > 0)
            .map_or(assignor::UNIFORM.to_owned(), |(a, _)| a.to_owned())
    }

    /// Computes the target assignment for the current epoch.
    pub fn compute_target(&mut self, topics: &BTreeMap<String, TopicMeta>) {
        let assignor = self.preferred_assignor();
        let partitions: BTreeMap<Uuid, i32> = self
            .subscribed_meta
            .values()
            .map(|t| (t.id, t.partitions))
            .collect();
        let specs: Vec<MemberSpec<'_>> = self
            .members
            .values()
            .map(|m| MemberSpec {
                id: &m.id,
                topics: self
                    .member_topics(m)
                    .iter()
                    .filter_map(|n| topics.get(n).map(|t| t.id))
                    .collect(),
                previous: self.target.get(&m.id),
            })
            .collect();
        let target = assignor::assign(&assignor, &specs, &partitions);
        self.target = target;
        self.assignment_epoch = self.epoch;
    }

    /// Removes a member (fenced, left, or expired): its partitions are free, and the group
    /// epoch moves so the target assignment is computed again.
    pub fn remove_member(&mut self, member_id: &str, topics: Option<&BTreeMap<String, TopicMeta>>) {
        if self.members.remove(member_id).is_none() {
            return;
        }
        self.target.remove(member_id);
        // Regular expressions nobody subscribes to any more are forgotten.
        let used: BTreeSet<String> = self.members.values().map(|m| m.regex.clone()).collect();
        self.resolved.retain(|r, _| used.contains(r));
        if let Some(topics) = topics {
            self.subscribed_meta = self.compute_subscribed_meta(topics);
        } else {
            let names: BTreeSet<String> = self
                .members
                .values()
                .flat_map(|m| self.member_topics(m))
                .collect();
            self.subscribed_meta.retain(|n, _| names.contains(n));
        }
        self.epoch += 1;
    }
}
