//! gregor's built-in assignors against Java's (`kafka-clients` 4.1), on thousands of randomized
//! groups: members with and without `group.instance.id`, equal and different subscriptions,
//! topics missing from the metadata, racks on members and on partition replicas (KIP-881), and
//! for the sticky assignors a previous assignment (owned partitions, generations, user data,
//! with stale and conflicting claims as when a member comes back). Every case of every assignor
//! runs in one JVM (`gregor_testkit::kafka::assignor_peer`); each member's partitions (as a
//! set: Java lists `range`'s in a hash order of topics) and user data must be Java's.
//!
//! Skipped (passing) without Kafka's jars or Java; an assignor `builtin` does not know yet is
//! skipped for the comparison, but its cases still run in Java as a check of the harness.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use gregor_consumer::TopicPartition;
use gregor_consumer::group::assignor::{
    AssignmentInput, GroupAssignment, MemberSubscription, PartitionRacks, RebalanceProtocol,
    SharedAssignor, SubscriptionContext, builtin,
};
use gregor_testkit::kafka::KafkaInstall;
use gregor_testkit::kafka::assignor_peer::{
    AssignorCase, AssignorPeer, CaseAnswer, CaseMember, CaseNode, CasePartition, JavaAssignment,
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
    let mut members: Vec<MemberSubscription> = case
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
    members.sort_by(|a, b| a.member_id.cmp(&b.member_id));
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
fn check_java(case: &AssignorCase, answer: &CaseAnswer) -> Result<(), String> {
    let java = answer
        .result
        .as_ref()
        .map_err(|e| format!("java threw {e}"))?;
    let subscribers: BTreeMap<&str, &CaseMember> = case
        .members
        .iter()
        .map(|m| (m.member_id.as_str(), m))
        .collect();
    let sticky = case.assignor.contains("sticky");
    let mut seen = BTreeSet::new();
    for (member, assignment) in java {
        let m = subscribers
            .get(member.as_str())
            .ok_or(format!("unknown member {member}"))?;
        for tp in &assignment.partitions {
            if !seen.insert(tp.clone()) {
                return Err(format!("{tp} assigned twice"));
            }
            if !sticky && !m.topics.iter().any(|t| **t == *tp.topic) {
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

    let mut compared: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for (case, answer) in cases.iter().zip(&answers) {
        if let Err(e) = check_java(case, answer) {
            failures.push(format!(
                "java's answer to {} is no assignment: {e}\n{}",
                case.label,
                case_text(case)
            ));
            continue;
        }
        let Some(assignor) = rust.get(case.assignor.as_str()) else {
            continue;
        };
        let counts = compared.entry(assignor.name()).or_default();
        counts.0 += 1;
        let java = answer.result.as_ref().map(from_java);
        let ours = assignor.assign(&input(case)).map(|a| from_rust(&a));
        let same = match (&java, &ours) {
            (Ok(j), Ok(o)) => j == o,
            (Err(_), Err(_)) => true,
            _ => false,
        };
        if same {
            counts.1 += 1;
        } else {
            failures.push(format!(
                "{} differs from Java:\n{}java: {java:?}\ngregor: {ours:?}",
                case.label,
                case_text(case)
            ));
        }
    }
    for (name, (total, matching)) in &compared {
        eprintln!("{name}: {matching} of {total} cases match Java");
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
