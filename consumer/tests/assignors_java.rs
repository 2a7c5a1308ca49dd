//! gregor's built-in assignors against Java's (`kafka-clients` 4.1), on thousands of randomized
//! groups: members with and without `group.instance.id`, equal and different subscriptions,
//! topics missing from the metadata, racks on members and on partition replicas (KIP-881), and
//! for the sticky assignors a previous assignment (owned partitions, generations, user data,
//! with stale and conflicting claims as when a member comes back). Every case of every assignor
//! runs in one JVM (`gregor_testkit::kafka::assignor_peer`), with a fresh Java assignor per case;
//! each member's partitions (as a set: Java lists `range`'s in a hash order of topics) and user
//! data must be Java's.
//!
//! The members reach both sides in the same order: Java's harness puts them in a `new
//! HashMap<>()` in the case's order, and gregor's assignors get them in that order (as a leader
//! gets them in the JoinGroup response's order). The sticky assignors walk that map, so the order
//! decides ties.
//!
//! One documented class of inputs is told apart: a partition's previous owner (a claim in an
//! older generation) that Java sets aside before balancing ([`previous_owner_set_aside`]), on
//! which Java 4.1 can throw a `NullPointerException`. Such inputs are counted and printed; where
//! Java throws, gregor must fail too or give a valid assignment. Java throwing on any other
//! input, or assigning otherwise than gregor, fails the test.
//!
//! Skipped (passing) without Kafka's jars or Java; an assignor `builtin` does not know yet is
//! skipped for the comparison, but its cases still run in Java as a check of the harness.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use gregor_consumer::TopicPartition;
use gregor_consumer::group::assignor::sticky_user_data::{decode_cooperative, decode_sticky};
use gregor_consumer::group::assignor::{
    AssignmentInput, GroupAssignment, MemberSubscription, PartitionRacks, RebalanceProtocol,
    SharedAssignor, SubscriptionContext, builtin,
};
use gregor_testkit::kafka::KafkaInstall;
use gregor_testkit::kafka::assignor_peer::{
    AssignorCase, AssignorPeer, CaseMember, CaseNode, CasePartition, JavaAssignment,
};

/// The assignors compared, by Kafka's names.
const ASSIGNORS: [&str; 4] = ["range", "roundrobin", "sticky", "cooperative-sticky"];
/// Cases per assignor gregor has.
const CASES: usize = 3000;
/// Cases run in Java only, for an assignor gregor does not have yet.
const HARNESS_CASES: usize = 100;
const SEED: u64 = 0x6772_6567_6f72_2d61;

/// SplitMix64: a tiny deterministic generator, so that a failing case can be reproduced.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64) / ((1u64 << 53) as f64) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() - 1)]
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.range(0, i);
            items.swap(i, j);
        }
    }

    /// A random subset of `items` of `1..=max` elements (at least one if `items` has any).
    fn subset<T: Clone>(&mut self, items: &[T], max: usize) -> Vec<T> {
        let mut all = items.to_vec();
        self.shuffle(&mut all);
        all.truncate(self.range(1, max.clamp(1, items.len().max(1))));
        all
    }

    fn hex(&mut self, digits: usize) -> String {
        (0..digits)
            .map(|_| char::from_digit((self.next() % 16) as u32, 16).unwrap_or('0'))
            .collect()
    }
}

const TOPICS: [&str; 10] = [
    "t0", "t1", "orders", "Orders", "a.b", "a-b", "a_b", "zeta", "x9", "events",
];
const RACKS: [&str; 3] = ["r0", "r1", "r2"];

/// A random group for `assignor`: the case Java runs. For the sticky assignors the members
/// carry a previous assignment, and (as gregor's members would send it) the user data the
/// Rust assignor writes for it, when there is one.
fn random_case(
    rng: &mut Rng,
    label: String,
    assignor: &str,
    rust: Option<&SharedAssignor>,
) -> AssignorCase {
    let mut case = AssignorCase::new(label, assignor);

    // Brokers and partitions, with racks in some cases.
    let racked = rng.chance(0.45);
    let aligned = rng.chance(0.5);
    let node_count = rng.range(1, 6);
    for id in 0..node_count as i32 {
        let rack = (racked && !rng.chance(0.05)).then(|| rng.pick(&RACKS).to_string());
        case.nodes.push(CaseNode { id, rack });
    }
    let nodes: Vec<i32> = (0..node_count as i32).collect();
    let mut topics: Vec<&str> = TOPICS.to_vec();
    rng.shuffle(&mut topics);
    topics.truncate(rng.range(1, 6));
    let replication = rng.range(1, 3.min(node_count));
    for topic in &topics {
        let count = rng.range(1, 16);
        for index in 0..count as i32 {
            let replicas = if aligned {
                // Partition p of every topic on the same brokers: co-partitioned racks.
                (0..replication as i32)
                    .map(|r| (index + r) % node_count as i32)
                    .collect()
            } else {
                let mut r = nodes.clone();
                rng.shuffle(&mut r);
                r.truncate(replication);
                r
            };
            case.partitions.push(CasePartition {
                topic: topic.to_string(),
                index,
                replicas,
            });
        }
    }

    // Members and their subscriptions.
    let member_count = rng.range(1, 12);
    let some_static = rng.chance(0.35);
    let equal = rng.chance(0.5);
    let mut subscribable: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
    if rng.chance(0.15) {
        subscribable.push("missing".to_string());
    }
    let common = rng.subset(&subscribable, subscribable.len());
    let mut member_ids = BTreeSet::new();
    let mut instance_ids = BTreeSet::new();
    for _ in 0..member_count {
        let prefix = rng.pick(&["consumer", "c", "app-1", "Z"]).to_string();
        let member_id = loop {
            let digits = rng.range(1, 6);
            let id = format!("{prefix}-{}", rng.hex(digits));
            if member_ids.insert(id.clone()) {
                break id;
            }
        };
        let topics = if equal {
            common.clone()
        } else {
            rng.subset(&subscribable, subscribable.len())
        };
        let mut member = CaseMember::new(member_id, topics);
        if some_static && rng.chance(0.6) {
            member.instance_id = loop {
                let digits = rng.range(1, 3);
                let id = format!("i-{}", rng.hex(digits));
                if instance_ids.insert(id.clone()) {
                    break Some(id);
                }
            };
        }
        if racked && rng.chance(0.8) {
            member.rack = Some(rng.pick(&["r0", "r1", "r2", "r3", ""]).to_string());
        }
        case.members.push(member);
    }

    if assignor.contains("sticky") {
        previous_assignment(rng, &mut case, assignor, rust);
    }
    case
}

/// Gives the members of a sticky case what they owned before: a random previous assignment
/// of some generation, with stale members, newcomers, conflicting claims and partitions that
/// no longer exist or are no longer subscribed.
fn previous_assignment(
    rng: &mut Rng,
    case: &mut AssignorCase,
    assignor: &str,
    rust: Option<&SharedAssignor>,
) {
    let generation = rng.range(1, 10) as i32;
    let mut all: Vec<TopicPartition> = case
        .partitions
        .iter()
        .map(|p| TopicPartition::new(p.topic.as_str(), p.index))
        .collect();
    if rng.chance(0.1) {
        all.push(TopicPartition::new("deleted", 0));
    }
    let members = case.members.len();
    let mut owned: Vec<Vec<TopicPartition>> = vec![Vec::new(); members];
    let newcomers: Vec<bool> = (0..members).map(|_| rng.chance(0.2)).collect();
    for tp in &all {
        if !rng.chance(0.75) {
            continue;
        }
        let subscribers: Vec<usize> = (0..members)
            .filter(|&m| !newcomers[m] && case.members[m].topics.iter().any(|t| **t == *tp.topic))
            .collect();
        let holder = if subscribers.is_empty() || rng.chance(0.1) {
            rng.range(0, members - 1)
        } else {
            *rng.pick(&subscribers)
        };
        owned[holder].push(tp.clone());
        if rng.chance(0.08) {
            // A second claim: a member that missed a rebalance, or a conflicting one.
            owned[rng.range(0, members - 1)].push(tp.clone());
        }
    }
    let cooperative = assignor == "cooperative-sticky";
    for (m, member) in case.members.iter_mut().enumerate() {
        let mut mine = std::mem::take(&mut owned[m]);
        mine.sort();
        mine.dedup();
        let member_generation = if newcomers[m] && mine.is_empty() {
            -1
        } else if rng.chance(0.25) {
            generation - rng.range(1, 3) as i32
        } else {
            generation
        };
        let user_data = rust.and_then(|a| {
            a.user_data(&SubscriptionContext {
                topics: &member.topics,
                owned_partitions: &mine,
                generation: member_generation,
            })
        });
        // Cooperative members always report what they own; eager sticky members either send
        // it in their user data alone (having revoked everything) or as owned partitions.
        let with_user_data = rng.chance(if cooperative { 0.85 } else { 0.6 });
        member.user_data = user_data.filter(|_| with_user_data).map(|b| b.to_vec());
        member.generation = member_generation;
        if cooperative || member.user_data.is_none() {
            member.owned = mine;
        }
    }
}

/// The case as gregor's assignors see it.
fn input(case: &AssignorCase) -> AssignmentInput {
    let racks: BTreeMap<i32, &str> = case
        .nodes
        .iter()
        .filter_map(|n| Some((n.id, n.rack.as_deref()?)))
        .collect();
    let subscribed: BTreeSet<&str> = case
        .members
        .iter()
        .flat_map(|m| m.topics.iter().map(String::as_str))
        .collect();
    let mut topics: BTreeMap<String, Vec<PartitionRacks>> = BTreeMap::new();
    for p in case
        .partitions
        .iter()
        .filter(|p| subscribed.contains(p.topic.as_str()))
    {
        let mut racks: Vec<String> = p
            .replicas
            .iter()
            .filter_map(|id| racks.get(id).map(|r| r.to_string()))
            .collect();
        racks.sort();
        racks.dedup();
        let partitions = topics.entry(p.topic.clone()).or_default();
        let index = p.index as usize;
        if partitions.len() <= index {
            partitions.resize(index + 1, PartitionRacks::default());
        }
        partitions[index] = PartitionRacks { racks };
    }
    // In the order Java's harness puts them in its `HashMap` (the JoinGroup response's order
    // for a leader): the sticky assignors walk that map, so the order decides ties.
    let members: Vec<MemberSubscription> = case
        .members
        .iter()
        .map(|m| MemberSubscription {
            member_id: m.member_id.clone(),
            instance_id: m.instance_id.clone(),
            topics: m.topics.clone(),
            owned_partitions: m.owned.clone(),
            generation: m.generation,
            rack: m.rack.clone(),
            user_data: m.user_data.clone().map(Bytes::from),
        })
        .collect();
    AssignmentInput { members, topics }
}

/// An assignment in one comparable form: per member, the partitions sorted and the user data.
type Compared = BTreeMap<String, (Vec<TopicPartition>, Option<Vec<u8>>)>;

fn from_java(java: &BTreeMap<String, JavaAssignment>) -> Compared {
    java.iter()
        .map(|(m, a)| {
            let mut partitions = a.partitions.clone();
            partitions.sort();
            (m.clone(), (partitions, a.user_data.clone()))
        })
        .collect()
}

fn from_rust(rust: &GroupAssignment) -> Compared {
    rust.iter()
        .map(|(m, a)| {
            let mut partitions = a.partitions.clone();
            partitions.sort();
            (
                m.clone(),
                (partitions, a.user_data.as_ref().map(|b| b.to_vec())),
            )
        })
        .collect()
}

/// Java's answer must be an assignment at all (the harness's check): members of the case, no
/// partition twice; for the eager assignors every partition of a subscribed topic (the
/// cooperative one holds back those that change owner, for a second round). For `range` and
/// `roundrobin` each partition goes to a subscriber of its topic. (Not so for the sticky
/// ones: given a partition claimed by two members in different generations, one of which no
/// longer subscribes to its topic, Java 4.1's `cooperative-sticky` can leave it with that one.)
fn check_java(case: &AssignorCase, java: &BTreeMap<String, JavaAssignment>) -> Result<(), String> {
    let assigned = java
        .iter()
        .map(|(m, a)| (m.as_str(), a.partitions.as_slice()));
    check_assignment(case, assigned, !case.assignor.contains("sticky"))
}

/// Whether `assigned` (member → partitions) is an assignment of `case`: members of the case,
/// no partition twice, only partitions of the metadata; unless the assignor is
/// `cooperative-sticky`, every partition of a subscribed topic; with `to_subscribers`, each
/// partition to a member subscribed to its topic.
fn check_assignment<'a>(
    case: &AssignorCase,
    assigned: impl IntoIterator<Item = (&'a str, &'a [TopicPartition])>,
    to_subscribers: bool,
) -> Result<(), String> {
    let members: BTreeMap<&str, &CaseMember> = case
        .members
        .iter()
        .map(|m| (m.member_id.as_str(), m))
        .collect();
    let existing: BTreeSet<TopicPartition> = case
        .partitions
        .iter()
        .map(|p| TopicPartition::new(p.topic.as_str(), p.index))
        .collect();
    let mut seen = BTreeSet::new();
    for (member, partitions) in assigned {
        let m = members
            .get(member)
            .ok_or(format!("unknown member {member}"))?;
        for tp in partitions {
            if !seen.insert(tp.clone()) {
                return Err(format!("{tp} assigned twice"));
            }
            if !existing.contains(tp) {
                return Err(format!("{tp} assigned to {member}, not in the metadata"));
            }
            if to_subscribers && !m.topics.iter().any(|t| **t == *tp.topic) {
                return Err(format!("{tp} assigned to {member}, not subscribed"));
            }
        }
    }
    let expected: BTreeSet<TopicPartition> = case
        .partitions
        .iter()
        .filter(|p| case.members.iter().any(|m| m.topics.contains(&p.topic)))
        .map(|p| TopicPartition::new(p.topic.as_str(), p.index))
        .collect();
    if case.assignor != "cooperative-sticky" && seen != expected {
        return Err(format!(
            "assigned {} of {} partitions",
            seen.len(),
            expected.len()
        ));
    }
    Ok(())
}

/// A member's previous ownership as Java's sticky assignors read it (`memberData`): for
/// `sticky` the partitions and generation of its user data, for `cooperative-sticky` its owned
/// partitions and the subscription's generation (else the one in its user data).
fn member_data(assignor: &str, m: &CaseMember) -> (Vec<TopicPartition>, Option<i32>) {
    if assignor == "cooperative-sticky" {
        let generation = if m.generation >= 0 {
            Some(m.generation)
        } else {
            m.user_data
                .as_deref()
                .map(|d| decode_cooperative(d).unwrap_or(-1))
        };
        return (m.owned.clone(), generation);
    }
    match m.user_data.as_deref().filter(|d| !d.is_empty()) {
        None => (Vec::new(), None),
        Some(d) => match decode_sticky(d) {
            Ok(data) => (data.partitions, data.generation),
            Err(_) => (Vec::new(), Some(-1)),
        },
    }
}

/// The documented input class on which Java 4.1's sticky assignors throw a
/// `NullPointerException`, if `case` is in it: the "previous owner set aside".
///
/// With different subscriptions (Java's `GeneralAssignmentBuilder`), each partition has a
/// previous owner: of the claims in a generation below the group's highest, one in the highest
/// such generation. Before balancing, Java sets aside (removes from its current assignment) each
/// member that cannot take part, which is one whose existing subscribed topics have no other
/// subscriber. When `performReassignments` then looks at a partition whose previous owner was
/// set aside, `currentAssignment.get(previousOwner).size()` dereferences null. So Java can
/// throw only if such a member is a previous owner (with the highest claim below the maximum)
/// of a partition of a topic two or more members subscribe to; whether it does depends on
/// whether the balancing reaches that partition while unbalanced. A necessary condition, read
/// from the input alone: returns the partition and member.
fn previous_owner_set_aside(case: &AssignorCase) -> Option<String> {
    if !case.assignor.contains("sticky") {
        return None;
    }
    let counts: BTreeMap<&str, i32> = case.partitions.iter().fold(BTreeMap::new(), |mut c, p| {
        let n = c.entry(p.topic.as_str()).or_insert(0);
        *n = (*n).max(p.index + 1);
        c
    });
    let subscribers = |topic: &str| {
        case.members
            .iter()
            .filter(|m| m.topics.iter().any(|t| t == topic))
            .count()
    };
    let set_aside = |m: &CaseMember| {
        m.topics
            .iter()
            .filter(|t| counts.contains_key(t.as_str()))
            .all(|t| subscribers(t) < 2)
    };
    let data: Vec<_> = case
        .members
        .iter()
        .map(|m| member_data(&case.assignor, m))
        .collect();
    let max_generation = data.iter().filter_map(|d| d.1).fold(-1, i32::max);
    // Partition → (highest generation below the maximum, the members claiming it in that one).
    let mut previous: BTreeMap<TopicPartition, (i32, Vec<usize>)> = BTreeMap::new();
    for (i, (partitions, generation)) in data.iter().enumerate() {
        let generation = match *generation {
            Some(g) if g < max_generation => g,
            None if max_generation > -1 => -1,
            _ => continue,
        };
        for tp in partitions {
            let exists = counts
                .get(&*tp.topic)
                .is_some_and(|&n| (0..n).contains(&tp.partition));
            if !exists || subscribers(&tp.topic) < 2 {
                continue;
            }
            let entry = previous
                .entry(tp.clone())
                .or_insert((generation, Vec::new()));
            if generation > entry.0 {
                *entry = (generation, Vec::new());
            }
            if generation == entry.0 {
                entry.1.push(i);
            }
        }
    }
    previous.iter().find_map(|(tp, (generation, claimants))| {
        claimants
            .iter()
            .map(|&i| &case.members[i])
            .find(|m| set_aside(m))
            .map(|m| {
                format!(
                    "previous owner set aside: {tp} claimed by {} in generation {generation}, \
                     below {max_generation}; no other member subscribes to its topics",
                    m.member_id
                )
            })
    })
}

/// How many cases of one assignor fell into each outcome.
#[derive(Debug, Default)]
struct Counts {
    /// Cases Java assigned: compared member by member.
    compared: usize,
    /// Of those, the ones where gregor's answer is Java's.
    matching: usize,
    /// Inputs in the class where Java can throw ([`previous_owner_set_aside`]).
    in_class: usize,
    /// Of those, the ones where Java threw and gregor failed as well.
    both_fail: usize,
    /// Of those, the ones where Java threw and gregor assigned (validly, or it is a failure).
    gregor_assigns: usize,
}

fn case_text(case: &AssignorCase) -> String {
    let mut text = String::new();
    let _ = case.write(&mut text);
    text
}

#[test]
fn builtin_assignors_assign_as_java_does() {
    let install = match KafkaInstall::find() {
        Ok(install) => install,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let peer = AssignorPeer::new(&install).unwrap_or_else(|e| panic!("the assignor peer: {e}"));

    let mut rng = Rng(SEED);
    let mut cases = Vec::new();
    let mut rust: BTreeMap<&str, SharedAssignor> = BTreeMap::new();
    for name in ASSIGNORS {
        let assignor = builtin(name);
        let count = match &assignor {
            Some(a) => {
                assert_eq!(a.name(), name);
                if name.contains("sticky") {
                    assert!(a.supported_protocols().contains(&RebalanceProtocol::Eager));
                }
                CASES
            }
            None => {
                eprintln!(
                    "{name}: not built in yet, compared with nothing; {HARNESS_CASES} cases \
                     run in Java only"
                );
                HARNESS_CASES
            }
        };
        for i in 0..count {
            cases.push(random_case(
                &mut rng,
                format!("{name}-{i}"),
                name,
                assignor.as_ref(),
            ));
        }
        if let Some(a) = assignor {
            rust.insert(name, a);
        }
    }

    let started = std::time::Instant::now();
    let answers = peer.run(&cases).unwrap_or_else(|e| panic!("java: {e}"));
    eprintln!(
        "java answered {} cases in {:?}",
        answers.len(),
        started.elapsed()
    );

    let mut counts: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut classified = Vec::new();
    for (case, answer) in cases.iter().zip(&answers) {
        let known = previous_owner_set_aside(case);
        if let Ok(java) = &answer.result {
            if let Err(e) = check_java(case, java) {
                failures.push(format!(
                    "java's answer to {} is no assignment: {e}\n{}",
                    case.label,
                    case_text(case)
                ));
                continue;
            }
        }
        let Some(assignor) = rust.get(case.assignor.as_str()) else {
            if let Err(e) = &answer.result {
                failures.push(format!(
                    "java threw on {}: {e}\n{}",
                    case.label,
                    case_text(case)
                ));
            }
            continue;
        };
        let count = counts.entry(assignor.name()).or_default();
        count.in_class += usize::from(known.is_some());
        let ours = assignor.assign(&input(case));
        match (&answer.result, known.as_deref()) {
            (Ok(java), _) => {
                count.compared += 1;
                let java = from_java(java);
                let ours = ours.map(|a| from_rust(&a));
                if ours.as_ref() == Ok(&java) {
                    count.matching += 1;
                } else {
                    failures.push(format!(
                        "{} differs from Java:\n{}java: {java:?}\ngregor: {ours:?}",
                        case.label,
                        case_text(case)
                    ));
                }
            }
            (Err(e), Some(why)) if e.starts_with("java.lang.NullPointerException") => {
                // Java fails on this input; gregor may fail the same way, or else its answer
                // must be an assignment.
                let outcome = match &ours {
                    Err(ours) => {
                        count.both_fail += 1;
                        format!("gregor fails too: {ours}")
                    }
                    Ok(assignment) => {
                        count.gregor_assigns += 1;
                        let assigned = assignment
                            .iter()
                            .map(|(m, a)| (m.as_str(), a.partitions.as_slice()));
                        if let Err(invalid) = check_assignment(case, assigned, true) {
                            failures.push(format!(
                                "{}: java threw, and gregor's answer is no assignment: \
                                 {invalid}\n{}gregor: {assignment:?}",
                                case.label,
                                case_text(case)
                            ));
                        }
                        "gregor assigns".to_owned()
                    }
                };
                classified.push(format!(
                    "{}: {why}\n    java threw {e}\n    {outcome}",
                    case.label
                ));
            }
            (Err(e), known) => failures.push(format!(
                "java threw on {} ({}): {e}\n{}gregor: {ours:?}",
                case.label,
                known.map_or("an input of no known class".to_owned(), |why| format!(
                    "{why}, but not the NullPointerException of that class"
                )),
                case_text(case)
            )),
        }
    }
    for (name, c) in &counts {
        eprintln!(
            "{name}: {} of {} comparable cases match Java",
            c.matching, c.compared
        );
        if name.contains("sticky") {
            eprintln!(
                "{name}: {} inputs with a previous owner set aside; Java threw on {} of them \
                 (gregor failed too on {}, assigned on {})",
                c.in_class,
                c.both_fail + c.gregor_assigns,
                c.both_fail,
                c.gregor_assigns
            );
        }
    }
    for case in &classified {
        eprintln!("{case}");
    }
    for failure in failures.iter().take(5) {
        eprintln!("{failure}\n");
    }
    assert!(
        failures.is_empty(),
        "{} cases fail (the first 5 above)",
        failures.len()
    );
}
