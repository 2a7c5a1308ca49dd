//! The sticky assignment when members subscribe to different topics (Java's
//! `GeneralAssignmentBuilder`).
//!
//! 1. Members keep the partitions they owned and still subscribe to (with rack-aware assignment,
//!    only those with a replica on their rack); a partition dropped because of the subscription
//!    or the rack means "revocation is required".
//! 2. The remaining partitions, topics ordered by (number of subscribers, name), each go to the
//!    member with the fewest partitions (ties by id) that subscribes to its topic (first only
//!    to members on a replica's rack, when rack-aware).
//! 3. Balancing: topics with fewer than two subscribers, and members that cannot change, are set
//!    aside. Then partitions are moved, one at a time, from a member with at least two more than
//!    another subscriber of the topic (first back to the partition's owner of an older
//!    generation, when that owner has at least two fewer), until the assignment is balanced. A
//!    move that would undo an earlier move between the same members moves back one of the
//!    partitions of that earlier move instead (Java's `PartitionMovements`, whose sets are walked
//!    in Java's `HashSet` order). If this changed the assignment and the result is not more
//!    balanced (sum of differences of sizes over all pairs), it is reverted, unless every
//!    member started with nothing.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::java_order::JavaHashTable;
use super::sticky_common::{DEFAULT_GENERATION, Group, Member, MemberData, Ownership, Tp};

/// The message for a state in which Java dereferences null.
const NPE: &str =
    "NullPointerException: a member or partition the Java assignor looks up is absent";

/// A map keyed by partition: dense for partitions that exist, a hash map for claimed ones that
/// do not.
#[derive(Debug, Clone)]
struct PartitionMap<V> {
    /// By dense partition number.
    dense: Vec<Option<V>>,
    /// Partitions beyond their topic's count.
    other: HashMap<Tp, V>,
}

impl<V: Copy> PartitionMap<V> {
    /// An empty map for `total` partitions.
    fn new(total: usize) -> Self {
        PartitionMap {
            dense: vec![None; total],
            other: HashMap::new(),
        }
    }

    /// The value of `tp`.
    fn get(&self, group: &Group<'_>, tp: Tp) -> Option<V> {
        match group.topics.dense(tp) {
            Some(d) => self.dense.get(d).copied().flatten(),
            None => self.other.get(&tp).copied(),
        }
    }

    /// Sets the value of `tp`.
    fn insert(&mut self, group: &Group<'_>, tp: Tp, value: V) {
        match group.topics.dense(tp) {
            Some(d) => {
                if let Some(slot) = self.dense.get_mut(d) {
                    *slot = Some(value);
                }
            }
            None => {
                self.other.insert(tp, value);
            }
        }
    }
}

/// Java's `PartitionMovements`: for each moved partition where it came from and went to, and per
/// topic and (from, to) pair the partitions that moved so.
#[derive(Debug, Default)]
struct Movements {
    /// Partition → (first owner, current owner).
    by_partition: HashMap<Tp, (Member, Member)>,
    /// Topic → (from, to) → the partitions, as Java's `HashSet`.
    by_topic: HashMap<u32, HashMap<(Member, Member), JavaHashTable<Tp>>>,
}

impl Movements {
    /// Forgets `tp`'s movement; returns it.
    fn remove_record(&mut self, group: &Group<'_>, tp: Tp) -> Option<(Member, Member)> {
        let pair = self.by_partition.remove(&tp)?;
        if let Some(pairs) = self.by_topic.get_mut(&tp.topic) {
            if let Some(set) = pairs.get_mut(&pair) {
                set.remove(group.topics.hash(tp), &tp);
                if set.is_empty() {
                    pairs.remove(&pair);
                }
            }
            if pairs.is_empty() {
                self.by_topic.remove(&tp.topic);
            }
        }
        Some(pair)
    }

    /// Records that `tp` moved as `pair`.
    fn add_record(&mut self, group: &Group<'_>, tp: Tp, pair: (Member, Member)) {
        self.by_partition.insert(tp, pair);
        self.by_topic
            .entry(tp.topic)
            .or_default()
            .entry(pair)
            .or_insert_with(JavaHashTable::new)
            .insert(group.topics.hash(tp), tp);
    }

    /// Records a move of `tp` from `old` to `new`, collapsing it with an earlier move.
    fn move_partition(&mut self, group: &Group<'_>, tp: Tp, old: Member, new: Member) {
        match self.remove_record(group, tp) {
            Some((source, _)) => {
                if source != new {
                    self.add_record(group, tp, (source, new));
                }
            }
            None => self.add_record(group, tp, (old, new)),
        }
    }

    /// Java's `getTheActualPartitionToBeMoved`: if partitions of `tp`'s topic moved from `new`
    /// to `tp`'s first owner, move one of those back instead.
    fn actual_partition_to_move(&self, tp: Tp, old: Member, new: Member) -> Tp {
        let Some(pairs) = self.by_topic.get(&tp.topic) else {
            return tp;
        };
        let old = self
            .by_partition
            .get(&tp)
            .map_or(old, |&(source, _)| source);
        pairs
            .get(&(new, old))
            .and_then(|set| set.first().copied())
            .unwrap_or(tp)
    }
}

/// The state of Java's builder.
struct Balancer<'g, 'a> {
    /// The group.
    group: &'g Group<'a>,
    /// Each member's partitions; `None` while a member that cannot change is set aside.
    current: Vec<Option<Vec<Tp>>>,
    /// Each partition's member.
    owner: PartitionMap<Member>,
    /// Each topic's subscribers, in Java's subscription order (repeats kept).
    topic_members: Vec<Vec<Member>>,
    /// Each member's subscribed topics, as a set.
    subscribes: Vec<HashSet<u32>>,
    /// The most partitions each member could have (Java's `getMaxAssignmentSize`).
    max_size: Vec<usize>,
    /// The members by (number of partitions, rank of id): Java's `TreeSet`.
    sorted: BTreeSet<(usize, usize)>,
    /// The partition movements.
    movements: Movements,
    /// Whether a member lost an owned partition to its subscription or rack.
    revocation_required: bool,
}

/// Assigns `group` whose members subscribe to different topics. An `Err` is a state in which
/// Java's assignor throws.
pub(super) fn assign(group: &Group<'_>, ownership: &Ownership) -> Result<Vec<Vec<Tp>>, String> {
    let topics = &group.topics;
    let mut topic_members: Vec<Vec<Member>> = vec![Vec::new(); topics.len()];
    for &m in &group.subscription_order {
        for &t in group.subscribed.get(m).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(list) = topic_members.get_mut(t as usize) {
                list.push(m);
            }
        }
    }
    let max_size = group
        .subscribed
        .iter()
        .map(|ts| {
            if ts.len() == topics.len() {
                topics.total
            } else {
                ts.iter()
                    .map(|&t| topics.counts.get(t as usize).copied().unwrap_or(0))
                    .sum()
            }
        })
        .collect();
    let mut b = Balancer {
        group,
        current: ownership.owned.iter().cloned().map(Some).collect(),
        owner: PartitionMap::new(topics.total),
        topic_members,
        subscribes: group
            .subscribed
            .iter()
            .map(|ts| ts.iter().copied().collect())
            .collect(),
        max_size,
        sorted: BTreeSet::new(),
        movements: Movements::default(),
        revocation_required: false,
    };
    for &m in &group.owned_order {
        for &tp in b
            .current
            .get(m)
            .and_then(Option::as_ref)
            .map_or(&[][..], Vec::as_slice)
        {
            b.owner.insert(group, tp, m);
        }
    }
    // Topics by (subscribers, name), then their partitions.
    let mut topic_order: Vec<u32> = (0..topics.len() as u32).collect();
    topic_order.sort_by_key(|&t| (b.subscribers(t), t));
    let sorted_all: Vec<Tp> = topic_order
        .iter()
        .flat_map(|&t| topics.partitions(t))
        .collect();

    let prev = previous_assignment(group, &group.member_data, ownership.max_generation);
    let assigned = b.keep_owned();
    let unassigned = b.unassigned(&sorted_all, assigned);
    for m in 0..group.members.len() {
        let key = b.key(m)?;
        b.sorted.insert(key);
    }
    b.balance(&prev, sorted_all, unassigned)?;
    Ok(b.current
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

/// Java's `prepopulateCurrentAssignments`: for each partition, the member that claimed it in
/// the highest generation below the group's highest (first claim wins a tie; a claim without a
/// generation counts as -1 when some member said one).
fn previous_assignment(
    group: &Group<'_>,
    data: &[MemberData],
    max_generation: i32,
) -> PartitionMap<(Member, i32)> {
    let mut prev = PartitionMap::new(group.topics.total);
    for &m in &group.subscription_order {
        let Some(d) = data.get(m) else {
            continue;
        };
        let generation = match d.generation {
            Some(g) if g < max_generation => g,
            None if max_generation > DEFAULT_GENERATION => DEFAULT_GENERATION,
            _ => continue,
        };
        for &tp in &d.partitions {
            if group.topics.dense(tp).is_none() {
                continue;
            }
            match prev.get(group, tp) {
                Some((_, g)) if generation <= g => {}
                _ => prev.insert(group, tp, (m, generation)),
            }
        }
    }
    prev
}

impl Balancer<'_, '_> {
    /// The number of subscribers of topic `t`.
    fn subscribers(&self, t: u32) -> usize {
        self.topic_members.get(t as usize).map_or(0, Vec::len)
    }

    /// Member `m`'s partitions; Java dereferences null for a member set aside.
    fn list(&self, m: Member) -> Result<&Vec<Tp>, String> {
        self.current
            .get(m)
            .and_then(Option::as_ref)
            .ok_or_else(|| NPE.to_owned())
    }

    /// The number of partitions of `m`.
    fn size(&self, m: Member) -> Result<usize, String> {
        self.list(m).map(Vec::len)
    }

    /// `m`'s place in the sorted set.
    fn key(&self, m: Member) -> Result<(usize, usize), String> {
        let rank = self
            .group
            .rank
            .get(m)
            .copied()
            .ok_or_else(|| NPE.to_owned())?;
        Ok((self.size(m)?, rank))
    }

    /// The member of a sorted-set entry.
    fn member_of(&self, (_, rank): (usize, usize)) -> Member {
        self.group.by_rank.get(rank).copied().unwrap_or(usize::MAX)
    }

    /// Whether `m` subscribes to topic `t`.
    fn subscribes_to(&self, m: Member, t: u32) -> bool {
        self.subscribes.get(m).is_some_and(|s| s.contains(&t))
    }

    /// Step 1: drops owned partitions the member no longer subscribes to or (rack-aware) that
    /// have no replica on its rack. Returns the partitions kept.
    fn keep_owned(&mut self) -> Vec<Tp> {
        let group = self.group;
        let mut assigned = Vec::new();
        let mut revoked = false;
        for &m in &group.owned_order {
            let subscribes = self.subscribes.get(m);
            let Some(Some(list)) = self.current.get_mut(m) else {
                continue;
            };
            list.retain(|&tp| {
                let keep = subscribes.is_some_and(|s| s.contains(&tp.topic))
                    && !group.racks.mismatch(&group.topics, m, tp);
                if keep {
                    assigned.push(tp);
                } else {
                    revoked = true;
                }
                keep
            });
        }
        self.revocation_required |= revoked;
        assigned
    }

    /// The partitions of `sorted_all` not in `assigned`, found by Java's walk of both in the
    /// same order.
    fn unassigned(&self, sorted_all: &[Tp], mut assigned: Vec<Tp>) -> Vec<Tp> {
        if assigned.is_empty() {
            return sorted_all.to_vec();
        }
        assigned.sort_by(|a, b| {
            self.subscribers(a.topic)
                .cmp(&self.subscribers(b.topic))
                .then(a.topic.cmp(&b.topic))
                .then(a.partition.cmp(&b.partition))
        });
        let mut out = Vec::new();
        let mut rest = assigned.iter();
        let mut next = rest.next().copied();
        let mut add_directly = false;
        for &tp in sorted_all {
            if add_directly || next != Some(tp) {
                out.push(tp);
            } else {
                match rest.next() {
                    Some(&n) => next = Some(n),
                    None => add_directly = true,
                }
            }
        }
        out
    }

    /// Step 2 and 3: assigns `unassigned`, then balances.
    fn balance(
        &mut self,
        prev: &PartitionMap<(Member, i32)>,
        mut sorted_all: Vec<Tp>,
        mut unassigned: Vec<Tp>,
    ) -> Result<(), String> {
        let group = self.group;
        let initializing = match self.sorted.last() {
            Some(&last) => self.size(self.member_of(last))? == 0,
            None => return Err("NoSuchElementException: no member".into()),
        };
        if group.racks.aware {
            let left = self.assign_each(&unassigned, true)?;
            self.assign_each(&left, false)?;
        } else {
            self.assign_each(&unassigned, false)?;
        }

        // Topics with fewer than two subscribers cannot move.
        let fixed_topic =
            |b: &Self, tp: Tp| b.subscribers(tp.topic) < 2 && group.topics.dense(tp).is_some();
        sorted_all.retain(|&tp| !fixed_topic(self, tp));
        unassigned.retain(|&tp| !fixed_topic(self, tp));

        // Members that cannot change are set aside.
        let mut fixed: Vec<(Member, Vec<Tp>)> = Vec::new();
        for m in 0..group.members.len() {
            if !self.can_participate(m)? {
                let key = self.key(m)?;
                self.sorted.remove(&key);
                if let Some(list) = self.current.get_mut(m).and_then(Option::take) {
                    fixed.push((m, list));
                }
            }
        }

        let before = self.current.clone();
        let owner_before = self.owner.clone();
        if !self.revocation_required {
            self.perform_reassignments(&unassigned, prev)?;
        }
        let performed = self.perform_reassignments(&sorted_all, prev)?;
        if !initializing && performed && score(&self.current) >= score(&before) {
            self.current = before;
            self.owner = owner_before;
        }
        for (m, list) in fixed {
            if let Some(slot) = self.current.get_mut(m) {
                *slot = Some(list);
            }
        }
        Ok(())
    }

    /// Java's `maybeAssign`: gives each partition to the first member in the sorted set that
    /// subscribes to its topic (and, with `by_rack`, is on one of its replicas' racks).
    /// Returns the partitions not given.
    fn assign_each(&mut self, partitions: &[Tp], by_rack: bool) -> Result<Vec<Tp>, String> {
        let group = self.group;
        let mut left = Vec::new();
        for &tp in partitions {
            if self.subscribers(tp.topic) == 0 {
                left.push(tp);
                continue;
            }
            let chosen = self.sorted.iter().copied().find(|&entry| {
                let m = self.member_of(entry);
                self.subscribes_to(m, tp.topic)
                    && (!by_rack || !group.racks.mismatch(&group.topics, m, tp))
            });
            match chosen {
                Some(entry) => {
                    let m = self.member_of(entry);
                    self.sorted.remove(&entry);
                    if let Some(Some(list)) = self.current.get_mut(m) {
                        list.push(tp);
                    }
                    self.owner.insert(group, tp, m);
                    let key = self.key(m)?;
                    self.sorted.insert(key);
                }
                None => left.push(tp),
            }
        }
        Ok(left)
    }

    /// Java's `canConsumerParticipateInReassignment`.
    fn can_participate(&self, m: Member) -> Result<bool, String> {
        let list = self.list(m)?;
        let max = self.max_size.get(m).copied().unwrap_or(0);
        Ok(list.len() < max || list.iter().any(|tp| self.subscribers(tp.topic) >= 2))
    }

    /// Java's `isBalanced`: sizes differ by at most one, or no member could take a partition
    /// of its topics from a member with at least two more.
    fn is_balanced(&self) -> Result<bool, String> {
        let (Some(&(min, _)), Some(&(max, _))) = (self.sorted.first(), self.sorted.last()) else {
            return Err("NoSuchElementException: no member to balance".into());
        };
        if min + 1 >= max {
            return Ok(true);
        }
        let topics = &self.group.topics;
        for &entry in &self.sorted {
            let m = self.member_of(entry);
            let count = entry.0;
            if count == self.max_size.get(m).copied().unwrap_or(0) {
                continue;
            }
            for &t in self
                .group
                .subscribed
                .get(m)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                for tp in topics.partitions(t) {
                    let other = self
                        .owner
                        .get(self.group, tp)
                        .ok_or_else(|| NPE.to_owned())?;
                    if other == m {
                        continue;
                    }
                    if count + 1 < self.size(other)? {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }

    /// Java's `performReassignments`: passes over `partitions` until one changes nothing.
    /// Returns whether anything moved.
    fn perform_reassignments(
        &mut self,
        partitions: &[Tp],
        prev: &PartitionMap<(Member, i32)>,
    ) -> Result<bool, String> {
        let group = self.group;
        let mut performed = false;
        loop {
            let mut modified = false;
            for &tp in partitions {
                if self.is_balanced()? {
                    break;
                }
                let consumer = self.owner.get(group, tp).ok_or_else(|| NPE.to_owned())?;
                if let Some((previous, _)) = prev.get(group, tp) {
                    if self.size(consumer)? > self.size(previous)? + 1 {
                        self.reassign(tp, previous)?;
                        performed = true;
                        modified = true;
                        continue;
                    }
                }
                // Prefer a move within the partition's racks.
                let mut moved = false;
                let racks = group.racks.partition_racks(&group.topics, tp);
                if let (Some(rack), Some(racks)) = (group.racks.member_rack(consumer), racks) {
                    if !racks.is_empty() && racks.contains(&rack) {
                        moved = self.move_if_heavier(tp, consumer, Some(racks))?;
                    }
                }
                if !moved {
                    moved = self.move_if_heavier(tp, consumer, None)?;
                }
                if moved {
                    performed = true;
                    modified = true;
                }
            }
            if !modified {
                return Ok(performed);
            }
        }
    }

    /// If some subscriber of `tp`'s topic (on one of `racks`, if given) has at least two fewer
    /// partitions than `consumer`, moves `tp` (to the least loaded subscriber).
    fn move_if_heavier(
        &mut self,
        tp: Tp,
        consumer: Member,
        racks: Option<&[u32]>,
    ) -> Result<bool, String> {
        let candidates = self
            .topic_members
            .get(tp.topic as usize)
            .cloned()
            .unwrap_or_default();
        for other in candidates {
            if let Some(racks) = racks {
                match self.group.racks.member_rack(other) {
                    Some(r) if racks.contains(&r) => {}
                    _ => continue,
                }
            }
            if self.size(consumer)? > self.size(other)? + 1 {
                self.reassign_to_least_loaded(tp)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Moves `tp` to the first member of the sorted set that subscribes to its topic.
    fn reassign_to_least_loaded(&mut self, tp: Tp) -> Result<(), String> {
        let target = self
            .sorted
            .iter()
            .map(|&entry| self.member_of(entry))
            .find(|&m| self.subscribes_to(m, tp.topic))
            .ok_or_else(|| NPE.to_owned())?;
        self.reassign(tp, target)
    }

    /// Moves `tp`, or the partition Java's movement records pick instead, to `new`.
    fn reassign(&mut self, tp: Tp, new: Member) -> Result<(), String> {
        let group = self.group;
        let consumer = self.owner.get(group, tp).ok_or_else(|| NPE.to_owned())?;
        let tp = self.movements.actual_partition_to_move(tp, consumer, new);
        let old = self.owner.get(group, tp).ok_or_else(|| NPE.to_owned())?;
        let (old_key, new_key) = (self.key(old)?, self.key(new)?);
        self.sorted.remove(&old_key);
        self.sorted.remove(&new_key);
        self.movements.move_partition(group, tp, old, new);
        // Java: remove from the old member's list, append to the new one's.
        if let Some(Some(list)) = self.current.get_mut(old) {
            if let Some(at) = list.iter().position(|&x| x == tp) {
                list.remove(at);
            }
        }
        if let Some(Some(list)) = self.current.get_mut(new) {
            list.push(tp);
        }
        self.owner.insert(group, tp, new);
        let (new_key, old_key) = (self.key(new)?, self.key(old)?);
        self.sorted.insert(new_key);
        self.sorted.insert(old_key);
        Ok(())
    }
}

/// Java's `getBalanceScore`: the sum over all pairs of members of the difference of their
/// sizes.
fn score(lists: &[Option<Vec<Tp>>]) -> u64 {
    let mut sizes: Vec<u64> = lists.iter().flatten().map(|l| l.len() as u64).collect();
    sizes.sort_unstable();
    // Sorted, each size counts positively against the ones before it.
    let mut score = 0u64;
    let mut prefix = 0u64;
    for (i, &s) in sizes.iter().enumerate() {
        score += s * i as u64 - prefix;
        prefix += s;
    }
    score
}
