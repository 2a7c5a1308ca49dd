//! The `range` assignor: each topic on its own, its partitions cut into contiguous ranges, one
//! per subscribed member (Java's `RangeAssignor`, Kafka 4.1, KIP-881 rack awareness included).
//!
//! For every topic, the members subscribed to it are put in Java's member order (static members
//! first by `group.instance.id`, then the others by member id). With `n` partitions and `c`
//! members, each member gets `n / c` partitions and the first `n % c` members one more, in
//! partition order: the first member the lowest partitions.
//!
//! Rack awareness applies when some topic *needs* it: one of its members has a rack, that rack
//! is among the racks of its replicas, and not every partition has replicas on every one of
//! those racks. Then, before the plain ranges:
//!
//! - topics with the same subscribers and the same partition count are co-partitioned: for
//!   each partition index in turn, the first member (in member order) whose rack holds that
//!   partition of every such topic, and who may still take one more partition of each, gets
//!   that index of all of them;
//! - every other topic that needs it gives each member, in member order, the lowest unassigned
//!   partitions with a replica on the member's rack, as many as its quota allows.
//!
//! A member without a rack matches every partition. Whatever is left is then assigned as plain
//! ranges (each member, in order, takes the lowest unassigned partitions up to its quota), so
//! the counts are those of the plain range assignment; only which partitions differ.
//!
//! Each member's partitions are listed sorted by topic, then partition (Java lists them in a
//! hash order of topics unless racks were used; the set is the same).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gregor_protocol::TopicPartition;

use super::{
    AssignError, AssignmentInput, Assignor, GroupAssignment, MemberAssignment, MemberSubscription,
    PartitionRacks,
};

/// Kafka's `range` assignor (eager only). See the [module documentation](self).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeAssignor;

impl RangeAssignor {
    /// The protocol name, `range`.
    pub const NAME: &'static str = "range";
}

/// Strings compared as Java's `String.compareTo` does: by UTF-16 code units (which differs
/// from Rust's byte order only for characters above U+FFFF against U+E000..U+FFFF).
pub(crate) fn cmp_java_str(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Java's `AbstractPartitionAssignor.MemberInfo` order: members with a `group.instance.id`
/// first, by instance id; then the others by member id. (Java leaves two members with the same
/// instance id in its hash order; they are ordered by member id here.)
pub(crate) fn cmp_members(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    let by_instance = match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => cmp_java_str(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_instance.then_with(|| cmp_java_str(&a.member_id, &b.member_id))
}

/// The rack a member is matched by: `client.rack` unless absent or empty (Java ignores empty).
fn member_rack(member: &MemberSubscription) -> Option<&str> {
    member.rack.as_deref().filter(|r| !r.is_empty())
}

/// One topic's assignment in progress (Java's `TopicAssignmentState`).
struct TopicState<'a> {
    topic: Arc<str>,
    /// The subscribed members (indexes into the input's members), in member order.
    consumers: Vec<usize>,
    /// Their racks, by position in `consumers`.
    consumer_racks: Vec<Option<&'a str>>,
    /// The replica racks of every partition; only kept when a consumer has a rack.
    partition_racks: Option<Vec<BTreeSet<&'a str>>>,
    needs_rack_aware: bool,
    /// Whether each partition is still unassigned.
    unassigned: Vec<bool>,
    unassigned_count: usize,
    /// How many partitions each consumer (by position) holds.
    assigned: Vec<usize>,
    per_consumer: usize,
    remaining_with_extra: usize,
}

impl<'a> TopicState<'a> {
    fn new(
        topic: &str,
        partitions: &'a [PartitionRacks],
        consumers: Vec<usize>,
        members: &'a [MemberSubscription],
    ) -> TopicState<'a> {
        let consumer_racks: Vec<Option<&str>> = consumers
            .iter()
            .map(|&i| member_rack(&members[i]))
            .collect();
        let all_consumer_racks: BTreeSet<&str> = consumer_racks.iter().flatten().copied().collect();
        let partition_racks: Option<Vec<BTreeSet<&str>>> =
            (!all_consumer_racks.is_empty()).then(|| {
                partitions
                    .iter()
                    .map(|p| p.racks.iter().map(String::as_str).collect())
                    .collect()
            });
        let needs_rack_aware = match &partition_racks {
            None => false,
            Some(racks) => {
                let all: BTreeSet<&str> = racks.iter().flatten().copied().collect();
                !all_consumer_racks.is_disjoint(&all) && racks.iter().any(|r| *r != all)
            }
        };
        let n = partitions.len();
        let c = consumers.len();
        TopicState {
            topic: Arc::from(topic),
            consumer_racks,
            partition_racks,
            needs_rack_aware,
            unassigned: vec![true; n],
            unassigned_count: n,
            assigned: vec![0; c],
            per_consumer: n.checked_div(c).unwrap_or(0),
            remaining_with_extra: n.checked_rem(c).unwrap_or(0),
            consumers,
        }
    }

    /// Whether the consumer at `pos` may read `partition` rack-locally (always, without a rack).
    fn racks_match(&self, pos: usize, partition: usize) -> bool {
        match (self.consumer_racks[pos], &self.partition_racks) {
            (None, _) => true,
            (Some(rack), Some(racks)) => racks[partition].contains(rack),
            (Some(_), None) => false,
        }
    }

    /// How many more partitions the consumer at `pos` may take.
    fn max_assignable(&self, pos: usize) -> usize {
        let extra = usize::from(self.remaining_with_extra > 0);
        (self.per_consumer + extra).saturating_sub(self.assigned[pos])
    }

    /// Gives `partitions` to the consumer at `pos`.
    fn assign(&mut self, pos: usize, partitions: &[usize], out: &mut [Vec<TopicPartition>]) {
        for &p in partitions {
            out[self.consumers[pos]].push(TopicPartition::new(self.topic.clone(), p as i32));
            if self.unassigned[p] {
                self.unassigned[p] = false;
                self.unassigned_count -= 1;
            }
        }
        self.assigned[pos] += partitions.len();
        if self.assigned[pos] > self.per_consumer {
            self.remaining_with_extra = self.remaining_with_extra.saturating_sub(1);
        }
    }

    /// Each consumer in order takes the lowest unassigned partitions it may (`rack_local`:
    /// only those with a replica on its rack), up to its quota.
    fn assign_ranges(&mut self, rack_local: bool, out: &mut [Vec<TopicPartition>]) {
        for pos in 0..self.consumers.len() {
            if self.unassigned_count == 0 {
                break;
            }
            let max = self.max_assignable(pos);
            let chosen: Vec<usize> = (0..self.unassigned.len())
                .filter(|&p| self.unassigned[p] && (!rack_local || self.racks_match(pos, p)))
                .take(max)
                .collect();
            if !chosen.is_empty() {
                self.assign(pos, &chosen, out);
            }
        }
    }
}

/// Co-partitioned topics (same consumers, same partition count `n`): partition `p` of all of
/// them goes to the first remaining consumer that is rack-local to all and may take one more
/// of each.
fn assign_co_partitioned(
    states: &mut [&mut TopicState<'_>],
    n: usize,
    out: &mut [Vec<TopicPartition>],
) {
    let Some(first) = states.first() else {
        return;
    };
    let mut remaining: Vec<usize> = (0..first.consumers.len()).collect();
    for p in 0..n {
        let found = remaining.iter().position(|&pos| {
            states
                .iter()
                .all(|t| t.racks_match(pos, p) && t.max_assignable(pos) > 0)
        });
        let Some(at) = found else {
            continue;
        };
        let pos = remaining[at];
        for t in states.iter_mut() {
            t.assign(pos, &[p], out);
        }
        if states.iter().all(|t| t.max_assignable(pos) == 0) {
            remaining.remove(at);
            if remaining.is_empty() {
                break;
            }
        }
    }
}

impl Assignor for RangeAssignor {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn assign(&self, input: &AssignmentInput) -> Result<GroupAssignment, AssignError> {
        let members = &input.members;
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by(|&a, &b| cmp_members(&members[a], &members[b]));

        // Only topics someone subscribes to that have partitions.
        let mut states: Vec<TopicState<'_>> = Vec::new();
        for (topic, partitions) in &input.topics {
            if partitions.is_empty() {
                continue;
            }
            let consumers: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&i| members[i].topics.iter().any(|t| t == topic))
                .collect();
            if consumers.is_empty() {
                continue;
            }
            states.push(TopicState::new(topic, partitions, consumers, members));
        }

        let mut out: Vec<Vec<TopicPartition>> = vec![Vec::new(); members.len()];
        if states.iter().any(|s| s.needs_rack_aware) {
            // Grouped by subscribers and by the number of partitions whose racks are known
            // (zero when none of the subscribers has a rack): Java's co-partitioning key.
            let mut groups: BTreeMap<(Vec<usize>, usize), Vec<&mut TopicState<'_>>> =
                BTreeMap::new();
            for state in &mut states {
                let racked = state.partition_racks.as_ref().map_or(0, Vec::len);
                groups
                    .entry((state.consumers.clone(), racked))
                    .or_default()
                    .push(state);
            }
            for ((_, n), mut group) in groups {
                if group.len() > 1 {
                    assign_co_partitioned(&mut group, n, &mut out);
                } else if let Some(state) = group.pop()
                    && state.needs_rack_aware
                {
                    state.assign_ranges(true, &mut out);
                }
            }
        }
        for state in &mut states {
            state.assign_ranges(false, &mut out);
        }

        Ok(members
            .iter()
            .zip(out)
            .map(|(member, mut partitions)| {
                partitions.sort_by(|a, b| {
                    cmp_java_str(&a.topic, &b.topic).then(a.partition.cmp(&b.partition))
                });
                let assignment = MemberAssignment {
                    partitions,
                    user_data: None,
                };
                (member.member_id.clone(), assignment)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    fn plain(partitions: usize) -> Vec<PartitionRacks> {
        vec![PartitionRacks::default(); partitions]
    }

    /// Partitions whose replicas sit on the given racks, one list per partition.
    fn racked(racks: &[&[&str]]) -> Vec<PartitionRacks> {
        racks
            .iter()
            .map(|r| PartitionRacks {
                racks: r.iter().map(|s| s.to_string()).collect(),
            })
            .collect()
    }

    fn assign(input: &AssignmentInput) -> BTreeMap<String, Vec<TopicPartition>> {
        RangeAssignor
            .assign(input)
            .unwrap()
            .into_iter()
            .map(|(m, a)| (m, a.partitions))
            .collect()
    }

    fn member(id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription::new(id, topics.iter().copied())
    }

    fn with_rack(mut m: MemberSubscription, rack: &str) -> MemberSubscription {
        m.rack = Some(rack.to_string());
        m
    }

    #[test]
    fn ranges_per_topic_with_the_first_members_taking_the_extra_partition() {
        let input = AssignmentInput {
            members: vec![member("c0", &["t0", "t1"]), member("c1", &["t0", "t1"])],
            topics: [("t0".into(), plain(3)), ("t1".into(), plain(3))].into(),
        };
        let got = assign(&input);
        assert_eq!(
            got["c0"],
            [tp("t0", 0), tp("t0", 1), tp("t1", 0), tp("t1", 1)]
        );
        assert_eq!(got["c1"], [tp("t0", 2), tp("t1", 2)]);
    }

    #[test]
    fn static_members_come_first_in_instance_id_order() {
        let mut a = member("a", &["t"]);
        let mut z = member("z", &["t"]);
        z.instance_id = Some("i0".into());
        a.instance_id = Some("i1".into());
        let dynamic = member("0", &["t"]);
        let input = AssignmentInput {
            members: vec![dynamic, a, z],
            topics: [("t".into(), plain(5))].into(),
        };
        let got = assign(&input);
        assert_eq!(got["z"], [tp("t", 0), tp("t", 1)]);
        assert_eq!(got["a"], [tp("t", 2), tp("t", 3)]);
        assert_eq!(got["0"], [tp("t", 4)]);
    }

    #[test]
    fn members_of_other_topics_and_missing_topics_get_nothing() {
        let input = AssignmentInput {
            members: vec![
                member("a", &["t", "gone"]),
                member("b", &["u"]),
                member("c", &["gone"]),
            ],
            topics: [("t".into(), plain(2)), ("u".into(), plain(1))].into(),
        };
        let got = assign(&input);
        assert_eq!(got["a"], [tp("t", 0), tp("t", 1)]);
        assert_eq!(got["b"], [tp("u", 0)]);
        assert_eq!(got["c"], []);
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn racks_pick_local_partitions_within_the_same_counts() {
        // p0 and p1 on rack a, p2 and p3 on rack b; c0 is on b, c1 on a.
        let parts = racked(&[&["a"], &["a"], &["b"], &["b"]]);
        let input = AssignmentInput {
            members: vec![
                with_rack(member("c0", &["t"]), "b"),
                with_rack(member("c1", &["t"]), "a"),
            ],
            topics: [("t".into(), parts)].into(),
        };
        let got = assign(&input);
        assert_eq!(got["c0"], [tp("t", 2), tp("t", 3)]);
        assert_eq!(got["c1"], [tp("t", 0), tp("t", 1)]);
    }

    #[test]
    fn balance_wins_over_rack_locality() {
        // Most partitions are on rack a, where only c1 is: it takes its three (its quota, with
        // the extra one), c0 gets the rest.
        let parts = racked(&[&["a"], &["a"], &["a"], &["a"], &["b"]]);
        let input = AssignmentInput {
            members: vec![
                with_rack(member("c0", &["t"]), "x"),
                with_rack(member("c1", &["t"]), "a"),
            ],
            topics: [("t".into(), parts)].into(),
        };
        let got = assign(&input);
        assert_eq!(got["c1"], [tp("t", 0), tp("t", 1), tp("t", 2)]);
        assert_eq!(got["c0"], [tp("t", 3), tp("t", 4)]);
    }

    #[test]
    fn no_rack_awareness_when_every_partition_is_on_every_rack() {
        let parts = racked(&[&["a", "b"], &["b", "a"]]);
        let input = AssignmentInput {
            members: vec![
                with_rack(member("c0", &["t"]), "b"),
                with_rack(member("c1", &["t"]), "a"),
            ],
            topics: [("t".into(), parts)].into(),
        };
        let got = assign(&input);
        assert_eq!(got["c0"], [tp("t", 0)]);
        assert_eq!(got["c1"], [tp("t", 1)]);
    }

    #[test]
    fn co_partitioned_topics_keep_equal_indexes_together() {
        // Both topics: p0 on a, p1 on b. t0's p0 also on b. c0 (rack b) first in order.
        let t0 = racked(&[&["a", "b"], &["b"]]);
        let t1 = racked(&[&["a"], &["b"]]);
        let input = AssignmentInput {
            members: vec![
                with_rack(member("c0", &["t0", "t1"]), "b"),
                with_rack(member("c1", &["t0", "t1"]), "a"),
            ],
            topics: [("t0".into(), t0), ("t1".into(), t1)].into(),
        };
        let got = assign(&input);
        // p0 is on a for both only for c1; c0 takes p1 of both.
        assert_eq!(got["c0"], [tp("t0", 1), tp("t1", 1)]);
        assert_eq!(got["c1"], [tp("t0", 0), tp("t1", 0)]);
    }

    #[test]
    fn an_empty_rack_is_no_rack() {
        assert_eq!(member_rack(&with_rack(member("c", &["t"]), "")), None);
        assert_eq!(member_rack(&with_rack(member("c", &["t"]), "a")), Some("a"));
    }

    #[test]
    fn java_string_order_is_by_utf16_units() {
        assert_eq!(cmp_java_str("\u{FFFF}", "\u{10000}"), Ordering::Greater);
        assert_eq!(cmp_java_str("a", "b"), Ordering::Less);
    }
}
