//! The `roundrobin` assignor: all partitions of all subscribed topics dealt out one by one
//! (Java's `RoundRobinAssignor`).
//!
//! The members are put in Java's member order (static members first by `group.instance.id`,
//! then the others by member id), the partitions in topic order, then partition order. Each
//! partition goes to the next member in that circle that subscribes to its topic; members
//! that do not are skipped. With equal subscriptions the counts differ by at most one; with
//! different subscriptions they may be uneven, as in Java.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gregor_protocol::TopicPartition;

use super::range::{cmp_java_str, cmp_members};
use super::{AssignError, AssignmentInput, Assignor, GroupAssignment, MemberAssignment};

/// Kafka's `roundrobin` assignor (eager only). See the [module documentation](self).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundRobinAssignor;

impl RoundRobinAssignor {
    /// The protocol name, `roundrobin`.
    pub const NAME: &'static str = "roundrobin";
}

/// A topic name in Java's `String` order, for the sorted set of subscribed topics.
#[derive(PartialEq, Eq)]
struct JavaOrdered<'a>(&'a str);

impl Ord for JavaOrdered<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        cmp_java_str(self.0, other.0)
    }
}

impl PartialOrd for JavaOrdered<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn assign(&self, input: &AssignmentInput) -> Result<GroupAssignment, AssignError> {
        let members = &input.members;
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by(|&a, &b| cmp_members(&members[a], &members[b]));
        let subscribed: Vec<BTreeSet<&str>> = members
            .iter()
            .map(|m| m.topics.iter().map(String::as_str).collect())
            .collect();
        let topics: BTreeSet<JavaOrdered<'_>> = members
            .iter()
            .flat_map(|m| m.topics.iter().map(|t| JavaOrdered(t)))
            .collect();

        let mut out: Vec<Vec<TopicPartition>> = vec![Vec::new(); members.len()];
        let mut next = 0;
        for JavaOrdered(topic) in topics {
            let count = input.topics.get(topic).map_or(0, Vec::len);
            if count == 0 {
                continue;
            }
            let name: Arc<str> = Arc::from(topic);
            for partition in 0..count {
                // Someone subscribes to `topic`, so this finds a member within one circle.
                for _ in 0..order.len() {
                    if subscribed[order[next]].contains(topic) {
                        break;
                    }
                    next = (next + 1) % order.len();
                }
                out[order[next]].push(TopicPartition::new(name.clone(), partition as i32));
                next = (next + 1) % order.len();
            }
        }

        let assignment: BTreeMap<String, MemberAssignment> = members
            .iter()
            .zip(out)
            .map(|(member, partitions)| {
                let assignment = MemberAssignment {
                    partitions,
                    user_data: None,
                };
                (member.member_id.clone(), assignment)
            })
            .collect();
        Ok(assignment)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MemberSubscription, PartitionRacks};
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    fn topics(counts: &[(&str, usize)]) -> BTreeMap<String, Vec<PartitionRacks>> {
        counts
            .iter()
            .map(|&(t, n)| (t.to_string(), vec![PartitionRacks::default(); n]))
            .collect()
    }

    fn assign(input: &AssignmentInput) -> BTreeMap<String, Vec<TopicPartition>> {
        RoundRobinAssignor
            .assign(input)
            .unwrap()
            .into_iter()
            .map(|(m, a)| (m, a.partitions))
            .collect()
    }

    #[test]
    fn equal_subscriptions_deal_partitions_evenly() {
        let input = AssignmentInput {
            members: vec![
                MemberSubscription::new("c0", ["t0", "t1"]),
                MemberSubscription::new("c1", ["t0", "t1"]),
            ],
            topics: topics(&[("t0", 3), ("t1", 3)]),
        };
        let got = assign(&input);
        assert_eq!(got["c0"], [tp("t0", 0), tp("t0", 2), tp("t1", 1)]);
        assert_eq!(got["c1"], [tp("t0", 1), tp("t1", 0), tp("t1", 2)]);
    }

    #[test]
    fn members_not_subscribed_are_skipped() {
        // Java's own example: C0 on t0; C1 on t0, t1; C2 on t0, t1, t2.
        let input = AssignmentInput {
            members: vec![
                MemberSubscription::new("C0", ["t0"]),
                MemberSubscription::new("C1", ["t0", "t1"]),
                MemberSubscription::new("C2", ["t0", "t1", "t2"]),
            ],
            topics: topics(&[("t0", 1), ("t1", 2), ("t2", 3)]),
        };
        let got = assign(&input);
        assert_eq!(got["C0"], [tp("t0", 0)]);
        assert_eq!(got["C1"], [tp("t1", 0)]);
        assert_eq!(
            got["C2"],
            [tp("t1", 1), tp("t2", 0), tp("t2", 1), tp("t2", 2)]
        );
    }

    #[test]
    fn static_members_are_ordered_by_instance_id() {
        let mut c0 = MemberSubscription::new("c0", ["t"]);
        let mut c1 = MemberSubscription::new("c1", ["t"]);
        c0.instance_id = Some("b".into());
        c1.instance_id = Some("a".into());
        let c2 = MemberSubscription::new("a-dynamic", ["t"]);
        let input = AssignmentInput {
            members: vec![c0, c1, c2],
            topics: topics(&[("t", 4)]),
        };
        let got = assign(&input);
        assert_eq!(got["c1"], [tp("t", 0), tp("t", 3)]);
        assert_eq!(got["c0"], [tp("t", 1)]);
        assert_eq!(got["a-dynamic"], [tp("t", 2)]);
    }

    #[test]
    fn topics_missing_from_metadata_and_empty_groups_assign_nothing() {
        let input = AssignmentInput {
            members: vec![MemberSubscription::new("c", ["gone"])],
            topics: topics(&[("other", 2)]),
        };
        assert_eq!(assign(&input)["c"], []);
        assert!(assign(&AssignmentInput::default()).is_empty());
    }
}
