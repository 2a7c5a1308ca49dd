//! What Kafka's two sticky assignors share before they assign: the group as Java's
//! `AbstractStickyAssignor` sees it, who owned what before, and the racks.
//!
//! The input is turned into indices: topics are numbered in Java's string order (so comparing
//! numbers compares names as Java does), members are numbered in input order. Then, as Java:
//!
//! 1. Each member's previous ownership is read ([`MemberData`]): for `sticky` from its user
//!    data (partitions and generation), for `cooperative-sticky` from the subscription's owned
//!    partitions and generation (falling back to the generation in its user data).
//! 2. [`ownership`] walks the members in the iteration order of Java's subscriptions map and
//!    settles partitions claimed twice: a claim in a higher generation wins; two claims in the
//!    same generation cancel (the partition is then "claimed by multiple owners"). It also
//!    decides whether all members subscribe to the same topics, which selects the constrained
//!    algorithm ([`super::sticky_constrained`]) or the general one ([`super::sticky_balance`]).
//! 3. [`RackInfo`] decides whether assignment is rack-aware (KIP-881): some member has a rack,
//!    some partition has a replica on a member's rack, and not every partition has replicas on
//!    every rack.
//!
//! The members' order is the one thing the input does not fix: Java's leader puts the
//! subscriptions in a `HashMap` in the order of the JoinGroup response. The members of an
//! [`AssignmentInput`] are taken to be inserted in their given order, so a leader matches Java's
//! when it passes them on in the JoinGroup response's order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gregor_protocol::TopicPartition;

use super::java_order::{JavaHashTable, string_cmp, string_hash, topic_partition_hash};
use super::sticky_user_data::{decode_cooperative, decode_sticky};
use super::{AssignError, AssignmentInput, GroupAssignment, MemberAssignment, MemberSubscription};

/// A member: its index in [`Group::members`].
pub(super) type Member = usize;

/// The generation Java assumes when a member says none.
pub(super) const DEFAULT_GENERATION: i32 = -1;

/// A partition of a known topic. The partition index is whatever a member claimed, so it may be
/// out of the topic's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Tp {
    /// The topic's index in [`Topics`].
    pub(super) topic: u32,
    /// The partition's index.
    pub(super) partition: i32,
}

/// Which of the two assignors runs: they differ in where a member's previous ownership comes
/// from, and in their name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    /// `sticky`: ownership from the user data.
    Sticky,
    /// `cooperative-sticky`: ownership from the subscription.
    Cooperative,
}

impl Flavor {
    /// The assignor's protocol name.
    pub(super) fn name(self) -> &'static str {
        match self {
            Flavor::Sticky => "sticky",
            Flavor::Cooperative => "cooperative-sticky",
        }
    }

    /// The error for a state in which Java's assignor throws.
    pub(super) fn error(self, reason: impl Into<String>) -> AssignError {
        AssignError::Custom {
            assignor: self.name().to_owned(),
            reason: reason.into(),
        }
    }
}

/// The topics to assign: those a member subscribes to that have partitions, in Java's string
/// order.
#[derive(Debug)]
pub(super) struct Topics {
    /// The names.
    pub(super) names: Vec<Arc<str>>,
    /// `String.hashCode()` of each name.
    hashes: Vec<i32>,
    /// The number of partitions of each.
    pub(super) counts: Vec<usize>,
    /// Where each topic's partitions start in the dense numbering of all partitions.
    offsets: Vec<usize>,
    /// The number of partitions of all topics.
    pub(super) total: usize,
    /// Index by name.
    index: HashMap<Arc<str>, u32>,
}

impl Topics {
    /// The number of topics.
    pub(super) fn len(&self) -> usize {
        self.names.len()
    }

    /// The index of topic `name`, if it is to be assigned.
    pub(super) fn lookup(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// The partition count of topic `t` as an `i32` partition bound.
    pub(super) fn count(&self, t: u32) -> i32 {
        self.counts
            .get(t as usize)
            .map_or(0, |&c| i32::try_from(c).unwrap_or(i32::MAX))
    }

    /// The dense number of `tp` among all partitions, if it exists.
    pub(super) fn dense(&self, tp: Tp) -> Option<usize> {
        let t = tp.topic as usize;
        let p = usize::try_from(tp.partition).ok()?;
        (p < *self.counts.get(t)?).then(|| self.offsets.get(t).map(|o| o + p))?
    }

    /// Java's `hashCode()` of `tp`.
    pub(super) fn hash(&self, tp: Tp) -> i32 {
        let h = self.hashes.get(tp.topic as usize).copied().unwrap_or(0);
        topic_partition_hash(h, tp.partition)
    }

    /// The partitions of topic `t`, in order.
    pub(super) fn partitions(&self, t: u32) -> impl Iterator<Item = Tp> {
        (0..self.count(t)).map(move |partition| Tp {
            topic: t,
            partition,
        })
    }

    /// All partitions, topic by topic in Java's name order.
    pub(super) fn all(&self) -> Vec<Tp> {
        (0..self.len() as u32)
            .flat_map(|t| self.partitions(t))
            .collect()
    }

    /// `tp` as the crate spells it.
    pub(super) fn to_topic_partition(&self, tp: Tp) -> Option<TopicPartition> {
        let name = self.names.get(tp.topic as usize)?;
        Some(TopicPartition::new(name.clone(), tp.partition))
    }

    /// A member's claim as a [`Tp`], if its topic is to be assigned.
    pub(super) fn claim(&self, tp: &TopicPartition) -> Option<Tp> {
        Some(Tp {
            topic: self.lookup(&tp.topic)?,
            partition: tp.partition,
        })
    }
}

/// A member's previous ownership as Java's `MemberData`: the partitions it claims (of topics to
/// assign, in its order) and the generation it claims them in.
#[derive(Debug, Clone, Default)]
pub(super) struct MemberData {
    /// The claimed partitions.
    pub(super) partitions: Vec<Tp>,
    /// The generation, if the member said one.
    pub(super) generation: Option<i32>,
}

/// The group as the assignors see it.
#[derive(Debug)]
pub(super) struct Group<'a> {
    /// The members, one per member id, in input order.
    pub(super) members: Vec<&'a MemberSubscription>,
    /// Each member's position in Java's order of member ids.
    pub(super) rank: Vec<usize>,
    /// The members by that position.
    pub(super) by_rank: Vec<Member>,
    /// The iteration order of Java's subscriptions map.
    pub(super) subscription_order: Vec<Member>,
    /// The iteration order of Java's map of owned partitions (built in subscription order).
    pub(super) owned_order: Vec<Member>,
    /// The topics to assign.
    pub(super) topics: Topics,
    /// Each member's subscribed topics that are to be assigned, in its order (repeats kept).
    pub(super) subscribed: Vec<Vec<u32>>,
    /// Each member's previous ownership.
    pub(super) member_data: Vec<MemberData>,
    /// The racks.
    pub(super) racks: RackInfo,
}

impl<'a> Group<'a> {
    /// The group of `input`, or `None` if it has no member.
    pub(super) fn new(input: &'a AssignmentInput, flavor: Flavor) -> Option<Group<'a>> {
        // One member per id, as a HashMap would hold them: a repeated id keeps its first place
        // and its last subscription.
        let mut members: Vec<&MemberSubscription> = Vec::new();
        let mut by_id: HashMap<&str, usize> = HashMap::new();
        for m in &input.members {
            match by_id.get(m.member_id.as_str()) {
                Some(&at) => {
                    if let Some(slot) = members.get_mut(at) {
                        *slot = m;
                    }
                }
                None => {
                    by_id.insert(&m.member_id, members.len());
                    members.push(m);
                }
            }
        }
        if members.is_empty() {
            return None;
        }

        let mut by_rank: Vec<Member> = (0..members.len()).collect();
        by_rank.sort_by(|&a, &b| string_cmp(&members[a].member_id, &members[b].member_id));
        let mut rank = vec![0; members.len()];
        for (r, &m) in by_rank.iter().enumerate() {
            rank[m] = r;
        }

        let mut subscriptions = JavaHashTable::new();
        for (m, sub) in members.iter().enumerate() {
            subscriptions.insert(string_hash(&sub.member_id), m);
        }
        let subscription_order: Vec<Member> = subscriptions.iter().copied().collect();
        let mut owned = JavaHashTable::new();
        for &m in &subscription_order {
            owned.insert(string_hash(&members[m].member_id), m);
        }
        let owned_order: Vec<Member> = owned.iter().copied().collect();

        let topics = topics(input, &members);
        let subscribed = members
            .iter()
            .map(|m| m.topics.iter().filter_map(|t| topics.lookup(t)).collect())
            .collect();
        let member_data = members
            .iter()
            .map(|m| member_data(flavor, m, &topics))
            .collect();
        let racks = RackInfo::new(input, &members, &topics);
        Some(Group {
            members,
            rank,
            by_rank,
            subscription_order,
            owned_order,
            topics,
            subscribed,
            member_data,
            racks,
        })
    }

    /// The member's generation as its subscription says it, -1 if none: what Java compares a
    /// claim against when another member claimed the same partition first.
    pub(super) fn subscription_generation(&self, m: Member) -> i32 {
        match self.members.get(m) {
            Some(sub) if sub.generation >= 0 => sub.generation,
            _ => DEFAULT_GENERATION,
        }
    }

    /// The result: every member with its partitions, in the order assigned.
    pub(super) fn output(&self, lists: &[Vec<Tp>]) -> GroupAssignment {
        let mut out = GroupAssignment::new();
        for (m, sub) in self.members.iter().enumerate() {
            let partitions = lists
                .get(m)
                .map(|l| {
                    l.iter()
                        .filter_map(|&tp| self.topics.to_topic_partition(tp))
                        .collect()
                })
                .unwrap_or_default();
            out.insert(
                sub.member_id.clone(),
                MemberAssignment {
                    partitions,
                    user_data: None,
                },
            );
        }
        out
    }
}

/// The topics of `input` a member subscribes to and that have partitions (what Java's
/// `assign(Cluster, GroupSubscription)` passes on), in Java's string order.
fn topics(input: &AssignmentInput, members: &[&MemberSubscription]) -> Topics {
    let subscribed: HashSet<&str> = members
        .iter()
        .flat_map(|m| m.topics.iter().map(String::as_str))
        .collect();
    let mut names: Vec<&String> = input
        .topics
        .iter()
        .filter(|(name, parts)| !parts.is_empty() && subscribed.contains(name.as_str()))
        .map(|(name, _)| name)
        .collect();
    names.sort_by(|a, b| string_cmp(a, b));
    let mut topics = Topics {
        names: Vec::with_capacity(names.len()),
        hashes: Vec::with_capacity(names.len()),
        counts: Vec::with_capacity(names.len()),
        offsets: Vec::with_capacity(names.len()),
        total: 0,
        index: HashMap::with_capacity(names.len()),
    };
    for (t, name) in names.into_iter().enumerate() {
        let count = input.topics.get(name).map_or(0, Vec::len);
        let arc: Arc<str> = Arc::from(name.as_str());
        topics.index.insert(arc.clone(), t as u32);
        topics.names.push(arc);
        topics.hashes.push(string_hash(name));
        topics.counts.push(count);
        topics.offsets.push(topics.total);
        topics.total += count;
    }
    topics
}

/// Java's `memberData(subscription)` of each assignor, with claims of unknown topics dropped
/// (Java ignores them).
fn member_data(flavor: Flavor, sub: &MemberSubscription, topics: &Topics) -> MemberData {
    match flavor {
        Flavor::Sticky => {
            // Only the user data counts: an eager member revoked everything before joining.
            let Some(data) = sub.user_data.as_ref().filter(|d| !d.is_empty()) else {
                return MemberData::default();
            };
            match decode_sticky(data) {
                Ok(decoded) => MemberData {
                    partitions: decoded
                        .partitions
                        .iter()
                        .filter_map(|tp| topics.claim(tp))
                        .collect(),
                    generation: decoded.generation,
                },
                // Java takes unreadable user data as owning nothing, in generation -1.
                Err(_) => MemberData {
                    partitions: Vec::new(),
                    generation: Some(DEFAULT_GENERATION),
                },
            }
        }
        Flavor::Cooperative => {
            let generation = if sub.generation >= 0 {
                Some(sub.generation)
            } else {
                sub.user_data
                    .as_ref()
                    .map(|d| decode_cooperative(d).unwrap_or(DEFAULT_GENERATION))
            };
            MemberData {
                partitions: sub
                    .owned_partitions
                    .iter()
                    .filter_map(|tp| topics.claim(tp))
                    .collect(),
                generation,
            }
        }
    }
}

/// Who owned what before, once double claims are settled (Java's `allSubscriptionsEqual`).
#[derive(Debug)]
pub(super) struct Ownership {
    /// Whether every member subscribes to the same topics (as Java decides it).
    pub(super) all_equal: bool,
    /// Each member's previously owned partitions it keeps a claim to.
    pub(super) owned: Vec<Vec<Tp>>,
    /// Partitions two members claimed in the same generation.
    pub(super) multiple_owners: HashSet<Tp>,
    /// The highest generation any member said (at least -1).
    pub(super) max_generation: i32,
}

/// Settles the previous ownership, walking the members in Java's subscription order.
pub(super) fn ownership(group: &Group<'_>) -> Ownership {
    let n = group.members.len();
    let mut all_equal = true;
    let mut first_topics: HashSet<&str> = HashSet::new();
    let mut owner: HashMap<Tp, Member> = HashMap::new();
    let mut owned: Vec<Vec<Tp>> = vec![Vec::new(); n];
    let mut multiple_owners = HashSet::new();
    let mut max_generation = DEFAULT_GENERATION;

    for &m in &group.subscription_order {
        let Some(sub) = group.members.get(m) else {
            continue;
        };
        // Java keeps the first non-empty topic set and compares sizes (of a list against a
        // set) and containment.
        if first_topics.is_empty() {
            first_topics.extend(sub.topics.iter().map(String::as_str));
        } else if all_equal
            && !(sub.topics.len() == first_topics.len()
                && sub.topics.iter().all(|t| first_topics.contains(t.as_str())))
        {
            all_equal = false;
        }

        let Some(data) = group.member_data.get(m) else {
            continue;
        };
        let generation = data.generation.unwrap_or(DEFAULT_GENERATION);
        max_generation = max_generation.max(generation);
        for &tp in &data.partitions {
            match owner.get(&tp).copied() {
                None => {
                    push(&mut owned, m, tp);
                    owner.insert(tp, m);
                }
                Some(other) => {
                    // The earlier claimant's generation as its subscription says it.
                    let other_generation = group.subscription_generation(other);
                    if generation == other_generation {
                        multiple_owners.insert(tp);
                        remove_first(&mut owned, other, tp);
                        owner.insert(tp, m);
                    } else if generation > other_generation {
                        push(&mut owned, m, tp);
                        remove_first(&mut owned, other, tp);
                        owner.insert(tp, m);
                    }
                }
            }
        }
    }
    Ownership {
        all_equal,
        owned,
        multiple_owners,
        max_generation,
    }
}

/// Appends `tp` to member `m`'s list.
fn push(lists: &mut [Vec<Tp>], m: Member, tp: Tp) {
    if let Some(list) = lists.get_mut(m) {
        list.push(tp);
    }
}

/// Removes the first `tp` from member `m`'s list, as Java's `List.remove(Object)`.
fn remove_first(lists: &mut [Vec<Tp>], m: Member, tp: Tp) -> bool {
    let Some(list) = lists.get_mut(m) else {
        return false;
    };
    match list.iter().position(|&x| x == tp) {
        Some(at) => {
            list.remove(at);
            true
        }
        None => false,
    }
}

/// The racks, as Java's `RackInfo`.
#[derive(Debug, Default)]
pub(super) struct RackInfo {
    /// Whether assignment is rack-aware: only then are the racks below filled.
    pub(super) aware: bool,
    /// Each member's rack (interned), if it has one.
    member_rack: Vec<Option<u32>>,
    /// Each partition's replica racks (interned, sorted), by dense number.
    partition_racks: Vec<Vec<u32>>,
    /// For each partition, how many members are on its replicas' racks; present whenever some
    /// member has a rack (even if assignment is not rack-aware, as in Java).
    consumers_on_racks: Option<Vec<usize>>,
}

impl RackInfo {
    /// The racks of `input`'s members and of the partitions of `topics`.
    fn new<'a>(
        input: &'a AssignmentInput,
        members: &[&'a MemberSubscription],
        topics: &Topics,
    ) -> RackInfo {
        let mut intern: HashMap<&str, u32> = HashMap::new();
        let member_rack: Vec<Option<u32>> = members
            .iter()
            .map(|m| {
                m.rack
                    .as_deref()
                    .filter(|r| !r.is_empty())
                    .map(|r| intern_rack(&mut intern, r))
            })
            .collect();
        let mut members_per_rack: HashMap<u32, usize> = HashMap::new();
        for r in member_rack.iter().flatten() {
            *members_per_rack.entry(*r).or_default() += 1;
        }
        if members_per_rack.is_empty() {
            return RackInfo::default();
        }

        let mut partition_racks: Vec<Vec<u32>> = Vec::with_capacity(topics.total);
        for name in &topics.names {
            let parts = input.topics.get(&**name).map(Vec::as_slice).unwrap_or(&[]);
            for p in parts {
                let mut racks: Vec<u32> = p
                    .racks
                    .iter()
                    .map(|r| intern_rack(&mut intern, r))
                    .collect();
                racks.sort_unstable();
                racks.dedup();
                partition_racks.push(racks);
            }
        }
        let union: HashSet<u32> = partition_racks.iter().flatten().copied().collect();
        let consumers_on_racks: Vec<usize> = partition_racks
            .iter()
            .map(|racks| {
                racks
                    .iter()
                    .map(|r| members_per_rack.get(r).copied().unwrap_or(0))
                    .sum()
            })
            .collect();
        // Java: rack-aware if member racks meet partition racks and some partition lacks a
        // replica on some rack.
        let aware = members_per_rack.keys().any(|r| union.contains(r))
            && !partition_racks
                .iter()
                .all(|racks| racks.len() == union.len());
        if aware {
            RackInfo {
                aware,
                member_rack,
                partition_racks,
                consumers_on_racks: Some(consumers_on_racks),
            }
        } else {
            RackInfo {
                consumers_on_racks: Some(consumers_on_racks),
                ..RackInfo::default()
            }
        }
    }

    /// Member `m`'s rack, when assignment is rack-aware.
    pub(super) fn member_rack(&self, m: Member) -> Option<u32> {
        self.member_rack.get(m).copied().flatten()
    }

    /// The replica racks of `tp`, when assignment is rack-aware and `tp` exists.
    pub(super) fn partition_racks(&self, topics: &Topics, tp: Tp) -> Option<&[u32]> {
        self.partition_racks
            .get(topics.dense(tp)?)
            .map(Vec::as_slice)
    }

    /// Java's `racksMismatch`: `m` has a rack and `tp` has no replica there.
    pub(super) fn mismatch(&self, topics: &Topics, m: Member, tp: Tp) -> bool {
        match self.member_rack(m) {
            None => false,
            Some(rack) => !self
                .partition_racks(topics, tp)
                .is_some_and(|racks| racks.contains(&rack)),
        }
    }

    /// Java's `nextRackConsumer`: the first index from `first` on (wrapping) of a member of
    /// `list` on one of `tp`'s racks.
    pub(super) fn next_rack_consumer(
        &self,
        topics: &Topics,
        tp: Tp,
        list: &[Member],
        first: usize,
    ) -> Option<usize> {
        let racks = self.partition_racks(topics, tp)?;
        if racks.is_empty() || list.is_empty() {
            return None;
        }
        (0..list.len())
            .map(|i| (first + i) % list.len())
            .find(|&at| {
                list.get(at)
                    .and_then(|&m| self.member_rack(m))
                    .is_some_and(|r| racks.contains(&r))
            })
    }

    /// Java's `sortPartitionsByRackConsumers`: a stable sort by the number of members on the
    /// partition's racks, when some member has a rack.
    pub(super) fn sort_by_rack_consumers(&self, topics: &Topics, partitions: &mut [Tp]) {
        if let Some(counts) = &self.consumers_on_racks {
            if counts.is_empty() {
                return;
            }
            partitions.sort_by_key(|&tp| {
                topics
                    .dense(tp)
                    .and_then(|d| counts.get(d).copied())
                    .unwrap_or(0)
            });
        }
    }
}

/// The number of rack `name`, numbering new racks in order of appearance.
fn intern_rack<'a>(intern: &mut HashMap<&'a str, u32>, name: &'a str) -> u32 {
    let next = intern.len() as u32;
    *intern.entry(name).or_insert(next)
}
