//! The server-side assignors of KIP-848: `uniform` (Kafka's default) and `range`, both sticky:
//! a member keeps what it had in the previous target assignment up to its quota, and the rest
//! is handed out in partition order.
//!
//! `range` is Kafka's `RangeAssignor` step for step (per topic, members in member-id order where
//! Kafka iterates a hash map). `uniform` follows Kafka's homogeneous builder (one quota over all
//! subscribed partitions) when every member subscribes to the same topics; with different
//! subscriptions it balances greedily, partition by partition, which can place partitions
//! differently from Kafka's heterogeneous builder (the counts stay balanced).

use std::collections::{BTreeMap, BTreeSet};

use gregor_protocol::primitives::Uuid;

use super::Parts;

/// Kafka's default assignor (the first of `group.consumer.assignors`).
pub(crate) const UNIFORM: &str = "uniform";
/// Kafka's range assignor.
pub(crate) const RANGE: &str = "range";

/// Whether `name` is an assignor the coordinator serves.
pub(crate) fn is_supported(name: &str) -> bool {
    name == UNIFORM || name == RANGE
}

/// One member as an assignor sees it.
pub(crate) struct MemberSpec<'a> {
    /// The member id.
    pub id: &'a str,
    /// The topics it subscribes to that exist, by id.
    pub topics: BTreeSet<Uuid>,
    /// Its previous target assignment.
    pub previous: Option<&'a Parts>,
}

/// The new target assignment of every member (members without partitions get an empty entry).
pub(crate) fn assign(
    assignor: &str,
    members: &[MemberSpec<'_>],
    partitions: &BTreeMap<Uuid, i32>,
) -> BTreeMap<String, Parts> {
    let mut out: BTreeMap<String, Parts> = members
        .iter()
        .map(|m| (m.id.to_owned(), Parts::new()))
        .collect();
    if members.is_empty() {
        return out;
    }
    if assignor == RANGE {
        range(members, partitions, &mut out);
    } else {
        uniform(members, partitions, &mut out);
    }
    out.retain(|_, parts| {
        parts.retain(|_, ps| !ps.is_empty());
        true
    });
    out
}

/// The partitions `member` had of `topic` in the previous target, sorted.
fn previous_of(m: &MemberSpec<'_>, topic: Uuid, count: i32) -> Vec<i32> {
    m.previous
        .and_then(|p| p.get(&topic))
        .map(|ps| ps.iter().copied().filter(|p| *p < count).collect())
        .unwrap_or_default()
}

fn range(
    members: &[MemberSpec<'_>],
    partitions: &BTreeMap<Uuid, i32>,
    out: &mut BTreeMap<String, Parts>,
) {
    for (topic, count) in partitions {
        let subscribed: Vec<&MemberSpec<'_>> = members
            .iter()
            .filter(|m| m.topics.contains(topic))
            .collect();
        if subscribed.is_empty() {
            continue;
        }
        let n = subscribed.len() as i32;
        let quota = count / n;
        let mut extra = count % n;
        let mut sticky: BTreeSet<i32> = BTreeSet::new();
        let mut unfilled: Vec<(&str, i32)> = Vec::new();
        for m in &subscribed {
            let had = previous_of(m, *topic, *count);
            let keep = had.len().min(quota as usize);
            let entry = out
                .entry(m.id.to_owned())
                .or_default()
                .entry(*topic)
                .or_default();
            for p in had.iter().take(keep) {
                sticky.insert(*p);
                entry.insert(*p);
            }
            let remaining = quota - had.len() as i32;
            if remaining < 0 && extra > 0 {
                extra -= 1;
                if let Some(p) = had.get(quota as usize) {
                    sticky.insert(*p);
                    entry.insert(*p);
                }
            } else {
                unfilled.push((m.id, remaining));
            }
        }
        let mut free = (0..*count).filter(|p| !sticky.contains(p));
        for (id, mut remaining) in unfilled {
            if extra > 0 {
                remaining += 1;
                extra -= 1;
            }
            let entry = out
                .entry(id.to_owned())
                .or_default()
                .entry(*topic)
                .or_default();
            for _ in 0..remaining.max(0) {
                if let Some(p) = free.next() {
                    entry.insert(p);
                }
            }
        }
    }
}

fn uniform(
    members: &[MemberSpec<'_>],
    partitions: &BTreeMap<Uuid, i32>,
    out: &mut BTreeMap<String, Parts>,
) {
    let homogeneous = members.windows(2).all(|w| w[0].topics == w[1].topics);
    if homogeneous {
        uniform_homogeneous(members, partitions, out);
    } else {
        uniform_heterogeneous(members, partitions, out);
    }
}

/// Every (topic, partition) the members subscribe to, in order.
fn all_partitions(topics: &BTreeSet<Uuid>, partitions: &BTreeMap<Uuid, i32>) -> Vec<(Uuid, i32)> {
    topics
        .iter()
        .filter_map(|t| partitions.get(t).map(|n| (*t, *n)))
        .flat_map(|(t, n)| (0..n).map(move |p| (t, p)))
        .collect()
}

fn uniform_homogeneous(
    members: &[MemberSpec<'_>],
    partitions: &BTreeMap<Uuid, i32>,
    out: &mut BTreeMap<String, Parts>,
) {
    let Some(first) = members.first() else { return };
    let all = all_partitions(&first.topics, partitions);
    let n = members.len();
    let quota = all.len() / n;
    let mut extra = all.len() % n;
    let mut taken: BTreeSet<(Uuid, i32)> = BTreeSet::new();
    let mut unfilled: Vec<(&str, usize)> = Vec::new();
    for m in members {
        let had: Vec<(Uuid, i32)> = all
            .iter()
            .filter(|(t, p)| {
                m.previous
                    .and_then(|x| x.get(t))
                    .is_some_and(|ps| ps.contains(p))
            })
            .copied()
            .collect();
        let mut keep = had.len().min(quota);
        if had.len() > quota && extra > 0 {
            extra -= 1;
            keep = quota + 1;
        }
        let entry = out.entry(m.id.to_owned()).or_default();
        for (t, p) in had.iter().take(keep) {
            taken.insert((*t, *p));
            entry.entry(*t).or_default().insert(*p);
        }
        if keep <= quota {
            unfilled.push((m.id, keep));
        }
    }
    let mut free = all.iter().filter(|tp| !taken.contains(tp));
    for (id, have) in unfilled {
        let mut want = quota.saturating_sub(have);
        if extra > 0 && have <= quota {
            extra -= 1;
            want += 1;
        }
        let entry = out.entry(id.to_owned()).or_default();
        for _ in 0..want {
            if let Some((t, p)) = free.next() {
                entry.entry(*t).or_default().insert(*p);
            }
        }
    }
}

fn uniform_heterogeneous(
    members: &[MemberSpec<'_>],
    partitions: &BTreeMap<Uuid, i32>,
    out: &mut BTreeMap<String, Parts>,
) {
    // Topics with fewer subscribers first, so the members that can take them do.
    let mut topics: Vec<Uuid> = members
        .iter()
        .flat_map(|m| m.topics.iter().copied())
        .collect::<BTreeSet<Uuid>>()
        .into_iter()
        .collect();
    topics.sort_by_key(|t| members.iter().filter(|m| m.topics.contains(t)).count());
    let all: Vec<(Uuid, i32)> = topics
        .iter()
        .filter_map(|t| partitions.get(t).map(|n| (*t, *n)))
        .flat_map(|(t, n)| (0..n).map(move |p| (t, p)))
        .collect();
    let count = |out: &BTreeMap<String, Parts>, id: &str| -> usize {
        out.get(id)
            .map_or(0, |p| p.values().map(BTreeSet::len).sum())
    };
    for (t, p) in all {
        let candidates: Vec<&MemberSpec<'_>> =
            members.iter().filter(|m| m.topics.contains(&t)).collect();
        let least = candidates
            .iter()
            .map(|m| count(out, m.id))
            .min()
            .unwrap_or(0);
        // The previous owner keeps it unless it is already ahead of the least loaded member.
        let previous = candidates.iter().find(|m| {
            m.previous
                .and_then(|x| x.get(&t))
                .is_some_and(|ps| ps.contains(&p))
                && count(out, m.id) <= least
        });
        let chosen = previous.or_else(|| candidates.iter().find(|m| count(out, m.id) == least));
        if let Some(m) = chosen {
            out.entry(m.id.to_owned())
                .or_default()
                .entry(t)
                .or_default()
                .insert(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Uuid = Uuid([1; 16]);
    const U: Uuid = Uuid([2; 16]);

    fn spec<'a>(id: &'a str, topics: &[Uuid], previous: Option<&'a Parts>) -> MemberSpec<'a> {
        MemberSpec {
            id,
            topics: topics.iter().copied().collect(),
            previous,
        }
    }

    fn parts(t: Uuid, ps: &[i32]) -> Parts {
        [(t, ps.iter().copied().collect())].into_iter().collect()
    }

    fn sizes(a: &BTreeMap<String, Parts>) -> Vec<usize> {
        a.values()
            .map(|p| p.values().map(BTreeSet::len).sum())
            .collect()
    }

    #[test]
    fn range_gives_contiguous_ranges_and_keeps_the_low_end() {
        let topics = BTreeMap::from([(T, 4)]);
        let a = assign(RANGE, &[spec("a", &[T], None)], &topics);
        assert_eq!(a["a"], parts(T, &[0, 1, 2, 3]));
        let prev = a["a"].clone();
        let b = assign(
            RANGE,
            &[spec("a", &[T], Some(&prev)), spec("b", &[T], None)],
            &topics,
        );
        assert_eq!(b["a"], parts(T, &[0, 1]));
        assert_eq!(b["b"], parts(T, &[2, 3]));
        let c = assign(
            RANGE,
            &[
                spec("a", &[T], None),
                spec("b", &[T], None),
                spec("c", &[T], None),
            ],
            &BTreeMap::from([(T, 5)]),
        );
        assert_eq!(c["a"], parts(T, &[0, 1]));
        assert_eq!(c["b"], parts(T, &[2, 3]));
        assert_eq!(c["c"], parts(T, &[4]));
    }

    #[test]
    fn uniform_balances_and_is_sticky() {
        let topics = BTreeMap::from([(T, 3), (U, 2)]);
        let a = assign(UNIFORM, &[spec("a", &[T, U], None)], &topics);
        assert_eq!(sizes(&a), vec![5]);
        let prev = a["a"].clone();
        let b = assign(
            UNIFORM,
            &[spec("a", &[T, U], Some(&prev)), spec("b", &[T, U], None)],
            &topics,
        );
        assert_eq!(sizes(&b), vec![3, 2]);
        // a keeps three of its own; b gets the rest.
        let a_kept: usize = b["a"]
            .iter()
            .map(|(t, ps)| ps.intersection(&prev[t]).count())
            .sum();
        assert_eq!(a_kept, 3);
        let union: usize = sizes(&b).iter().sum();
        assert_eq!(union, 5);
    }

    #[test]
    fn uniform_with_different_subscriptions_stays_balanced() {
        let topics = BTreeMap::from([(T, 4), (U, 2)]);
        let a = assign(
            UNIFORM,
            &[spec("a", &[T, U], None), spec("b", &[T], None)],
            &topics,
        );
        assert_eq!(sizes(&a), vec![3, 3]);
        assert!(!a["b"].contains_key(&U));
        let none = assign(UNIFORM, &[spec("a", &[], None)], &topics);
        assert!(none["a"].is_empty());
    }
}
