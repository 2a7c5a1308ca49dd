//! The sticky assignment when every member subscribes to the same topics (Java's
//! `ConstrainedAssignmentBuilder`).
//!
//! With `n` members and `P` partitions each member gets `minQuota = P / n` or
//! `maxQuota = ceil(P / n)` partitions, and exactly `P % n` members get `maxQuota`:
//!
//! 1. Members keep what they owned, in Java's owned-partitions-map order: a member owning fewer
//!    than `minQuota` keeps all of it; one owning `maxQuota` or more keeps `maxQuota` while
//!    members over `minQuota` are still wanted; any other keeps `minQuota` (and may get one
//!    more later). Owned partitions are taken in the order (partition, topic); with rack-aware
//!    assignment only those with a replica on the member's rack are kept.
//! 2. The partitions nobody kept, in (topic, partition) order (then, when some member has a
//!    rack, stably sorted by how many members sit on their replicas' racks), go round robin:
//!    first, when rack-aware, only to members on a replica's rack; then to the members under
//!    `minQuota`, sorted by id, and once those are filled to the members at `minQuota`.
//!
//! A partition given to a member other than the one that owned it is "transferring ownership":
//! the cooperative assignor withholds it for a round.

use std::collections::{HashMap, HashSet};

use super::sticky_common::{Group, Member, Ownership, Tp};

/// The assignment, and the partitions moving from one owner to another (partition → new
/// owner).
#[derive(Debug)]
pub(super) struct Constrained {
    /// Each member's partitions.
    pub(super) lists: Vec<Vec<Tp>>,
    /// The partitions given to a member other than their previous owner.
    pub(super) transferring: HashMap<Tp, Member>,
}

/// The state of Java's builder.
struct Builder<'g, 'a> {
    /// The group.
    group: &'g Group<'a>,
    /// Partitions claimed by two members in one generation.
    multiple_owners: &'g HashSet<Tp>,
    /// The fewest partitions a member gets.
    min_quota: usize,
    /// The most partitions a member gets.
    max_quota: usize,
    /// How many members get `max_quota` (when the quotas differ).
    expected_over_min: usize,
    /// How many members have been given `max_quota` so far.
    current_over_min: usize,
    /// Members under `min_quota`.
    under_min: Vec<Member>,
    /// Members at `min_quota` that may get one more.
    exactly_min: Vec<Member>,
    /// Each member's partitions.
    assignment: Vec<Vec<Tp>>,
    /// Owned partitions a member did not keep, with that member.
    maybe_revoked: HashMap<Tp, Member>,
    /// Partitions given to a new owner.
    transferring: HashMap<Tp, Member>,
}

/// Assigns `group` whose members all subscribe to the same topics. An `Err` is a state in
/// which Java's assignor throws.
pub(super) fn assign(group: &Group<'_>, ownership: &Ownership) -> Result<Constrained, String> {
    let n = group.members.len().max(1);
    let total = group.topics.total;
    let mut b = Builder {
        group,
        multiple_owners: &ownership.multiple_owners,
        min_quota: total / n,
        max_quota: total.div_ceil(n),
        expected_over_min: total % n,
        current_over_min: 0,
        under_min: Vec::new(),
        exactly_min: Vec::new(),
        assignment: vec![Vec::new(); group.members.len()],
        maybe_revoked: HashMap::new(),
        transferring: HashMap::new(),
    };
    let assigned = b.assign_owned(&ownership.owned);
    let mut unassigned = unassigned(group, assigned);
    let rank = |m: &Member| group.rank.get(*m).copied().unwrap_or(usize::MAX);
    b.under_min.sort_by_key(rank);
    b.exactly_min.sort_by_key(rank);
    group
        .racks
        .sort_by_rack_consumers(&group.topics, &mut unassigned);
    let unassigned = b.assign_rack_aware_round_robin(unassigned);
    b.assign_round_robin(&unassigned)?;
    b.verify()?;
    Ok(Constrained {
        lists: b.assignment,
        transferring: b.transferring,
    })
}

/// The partitions not in `assigned`, in (topic, partition) order, found as Java finds them: a
/// walk of all partitions against the sorted `assigned` (so a claimed partition beyond its
/// topic's count stalls the walk, as in Java).
fn unassigned(group: &Group<'_>, mut assigned: Vec<Tp>) -> Vec<Tp> {
    let topics = &group.topics;
    if assigned.is_empty() {
        return topics.all();
    }
    assigned.sort_by(|a, b| a.topic.cmp(&b.topic).then(a.partition.cmp(&b.partition)));
    let mut out = Vec::with_capacity(topics.total.saturating_sub(assigned.len()));
    let mut rest = assigned.iter();
    let mut next = rest.next().copied();
    let mut add_directly = false;
    for t in 0..topics.len() as u32 {
        for tp in topics.partitions(t) {
            if add_directly || next != Some(tp) {
                out.push(tp);
            } else {
                match rest.next() {
                    Some(&n) => next = Some(n),
                    None => add_directly = true,
                }
            }
        }
    }
    out
}

/// A `LinkedList` iterator over a member list: its cursor, and the element `remove` removes.
#[derive(Debug, Default)]
struct ListIter {
    /// The index `next` returns.
    next: usize,
    /// The index last returned, until removed.
    last: Option<usize>,
}

impl ListIter {
    /// Whether `next` has an element.
    fn has_next(&self, list: &[Member]) -> bool {
        self.next < list.len()
    }

    /// The next element.
    fn next(&mut self, list: &[Member]) -> Option<Member> {
        let m = list.get(self.next).copied()?;
        self.last = Some(self.next);
        self.next += 1;
        Some(m)
    }

    /// Removes the element last returned; Java throws if there is none.
    fn remove(&mut self, list: &mut Vec<Member>) -> Result<(), String> {
        match self.last.take() {
            Some(at) if at < list.len() => {
                list.remove(at);
                if at < self.next {
                    self.next -= 1;
                }
                Ok(())
            }
            _ => Err("IllegalStateException: iterator remove without next".to_owned()),
        }
    }
}

impl Builder<'_, '_> {
    /// Step 1: members keep (part of) what they owned. Returns the partitions kept.
    fn assign_owned(&mut self, owned_lists: &[Vec<Tp>]) -> Vec<Tp> {
        let group = self.group;
        let mut assigned = Vec::new();
        for &m in &group.owned_order {
            let mut owned: Vec<Tp> = Vec::new();
            for &tp in owned_lists.get(m).map(Vec::as_slice).unwrap_or(&[]) {
                if group.racks.mismatch(&group.topics, m, tp) {
                    self.maybe_revoked.insert(tp, m);
                } else {
                    owned.push(tp);
                }
            }
            owned.sort_by(|a, b| a.partition.cmp(&b.partition).then(a.topic.cmp(&b.topic)));
            owned.retain(|tp| !self.multiple_owners.contains(tp));

            let keep = if owned.len() < self.min_quota {
                self.under_min.push(m);
                owned.len()
            } else if owned.len() >= self.max_quota
                && self.current_over_min < self.expected_over_min
            {
                self.current_over_min += 1;
                if self.current_over_min == self.expected_over_min {
                    self.exactly_min.clear();
                }
                self.max_quota
            } else {
                if self.current_over_min < self.expected_over_min {
                    self.exactly_min.push(m);
                }
                self.min_quota
            };
            let (kept, revoked) = owned.split_at(keep.min(owned.len()));
            if let Some(list) = self.assignment.get_mut(m) {
                list.extend_from_slice(kept);
            }
            assigned.extend_from_slice(kept);
            for &tp in revoked {
                self.maybe_revoked.insert(tp, m);
            }
        }
        assigned
    }

    /// Gives `tp` to `m`, noting a transfer of ownership; returns `m`'s new count.
    fn assign_new(&mut self, tp: Tp, m: Member) -> usize {
        let Some(list) = self.assignment.get_mut(m) else {
            return 0;
        };
        list.push(tp);
        let len = list.len();
        let moved = self.maybe_revoked.get(&tp).is_some_and(|&prev| prev != m);
        if moved || self.multiple_owners.contains(&tp) {
            self.transferring.insert(tp, m);
        }
        len
    }

    /// The number of partitions `m` has.
    fn count(&self, m: Member) -> usize {
        self.assignment.get(m).map_or(0, Vec::len)
    }

    /// Step 2 (rack-aware only): round robin among members on a replica's rack. Returns the
    /// partitions left.
    fn assign_rack_aware_round_robin(&mut self, unassigned: Vec<Tp>) -> Vec<Tp> {
        let group = self.group;
        if !group.racks.aware {
            return unassigned;
        }
        let topics = &group.topics;
        let mut next_under = 0;
        let mut left = Vec::new();
        for tp in unassigned {
            let mut chosen = None;
            if let Some(mut at) =
                group
                    .racks
                    .next_rack_consumer(topics, tp, &self.under_min, next_under)
            {
                let m = self.under_min.get(at).copied();
                if let Some(m) = m {
                    let count = self.count(m) + 1;
                    if count >= self.min_quota {
                        self.under_min.remove(at);
                        if count < self.max_quota && self.current_over_min < self.expected_over_min
                        {
                            self.exactly_min.push(m);
                        }
                    } else {
                        at += 1;
                    }
                    next_under = if self.under_min.is_empty() {
                        0
                    } else {
                        at % self.under_min.len()
                    };
                    chosen = Some(m);
                }
            } else if !self.exactly_min.is_empty() {
                if let Some(at) = group
                    .racks
                    .next_rack_consumer(topics, tp, &self.exactly_min, 0)
                {
                    if let Some(m) = self.exactly_min.get(at).copied() {
                        if self.count(m) + 1 == self.max_quota {
                            self.exactly_min.remove(at);
                            self.current_over_min += 1;
                            if self.current_over_min == self.expected_over_min {
                                self.exactly_min.clear();
                            }
                        }
                        chosen = Some(m);
                    }
                }
            }
            match chosen {
                Some(m) => {
                    self.assign_new(tp, m);
                }
                None => left.push(tp),
            }
        }
        left
    }

    /// Step 3: round robin over the members under `min_quota`, then the ones at it.
    fn assign_round_robin(&mut self, unassigned: &[Tp]) -> Result<(), String> {
        let mut iter = ListIter::default();
        for &tp in unassigned {
            let m = if iter.has_next(&self.under_min) {
                iter.next(&self.under_min)
            } else if self.under_min.is_empty() && self.exactly_min.is_empty() {
                return Err(
                    "IllegalStateException: no more unfilled consumers to be assigned".into(),
                );
            } else if self.under_min.is_empty() {
                Some(self.exactly_min.remove(0))
            } else {
                iter = ListIter::default();
                iter.next(&self.under_min)
            };
            let Some(m) = m else {
                return Err("no member to assign to".into());
            };
            let count = self.assign_new(tp, m);
            if count == self.min_quota {
                iter.remove(&mut self.under_min)?;
                self.exactly_min.push(m);
            } else if count == self.max_quota {
                self.current_over_min += 1;
            }
        }
        Ok(())
    }

    /// Java's final check: members left under `min_quota` must be at it, and the members over
    /// it must be as many as expected.
    fn verify(&self) -> Result<(), String> {
        if self.under_min.is_empty() {
            return Ok(());
        }
        if self.current_over_min != self.expected_over_min {
            return Err(format!(
                "IllegalStateException: {} members over minQuota, {} expected, and no more \
                 partitions to assign",
                self.current_over_min, self.expected_over_min
            ));
        }
        for &m in &self.under_min {
            if self.count(m) != self.min_quota {
                return Err(format!(
                    "IllegalStateException: a member has {} partitions, under minQuota {}",
                    self.count(m),
                    self.min_quota
                ));
            }
        }
        Ok(())
    }
}
