//! The group peers (`kafka::group_peer`) on Apache Kafka: Java's `KafkaConsumer` and
//! librdkafka's consumer (Python's `confluent_kafka`) as members of one consumer group split a
//! six-partition topic exactly once between them, hand everything to the member that stays when
//! one stops (or is killed), and between them are delivered every produced offset.
//!
//! Needs `.ci/install-kafka.sh` (Kafka's jars) and Java 17+, and for librdkafka
//! `python3 -m pip install confluent-kafka`; each part is skipped with a message when missing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use gregor_client::Client;
use gregor_testkit::data::{create_topic, produce, test_client, unique_name, values};
use gregor_testkit::kafka::group_peer::{
    GroupPeer, Ledger, MemberConfig, Partition, PeerEvent, partitions_of, wait_for_all,
    wait_owned_exactly_once,
};
use gregor_testkit::kafka::peer::JavaPeer;
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall};

const PARTITIONS: i32 = 6;
/// Records produced per partition in each round.
const PER_ROUND: usize = 25;
/// How long a rebalance may take to settle, and the members to catch up.
const SETTLE: Duration = Duration::from_secs(30);

/// The shared broker, or `None` (after saying so) when Kafka is not installed.
fn kafka(test: &str) -> Option<&'static KafkaCluster> {
    if !KafkaInstall::is_available() {
        eprintln!("{test}: skipped, Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return None;
    }
    Some(KafkaCluster::shared().unwrap_or_else(|e| panic!("kafka starts: {e}")))
}

/// Whether librdkafka's peer can run (after saying so when it cannot).
fn librdkafka(test: &str) -> bool {
    match GroupPeer::librdkafka_version() {
        Some(version) => {
            eprintln!("{test}: {version}");
            true
        }
        None => {
            eprintln!(
                "{test}: skipped, python3 has no confluent_kafka \
                 (python3 -m pip install confluent-kafka==2.16.1)"
            );
            false
        }
    }
}

/// A topic of the test, filled with gregor's data helpers, and its end offsets.
struct Topic {
    runtime: tokio::runtime::Runtime,
    client: Client,
    name: String,
    /// Per partition, the offset after the last record produced.
    end: BTreeMap<i32, i64>,
}

impl Topic {
    fn create(kafka: &KafkaCluster, prefix: &str) -> Topic {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let name = unique_name(prefix);
        let client = runtime.block_on(async {
            let client = test_client(&kafka.bootstrap(), "gregor-group-peers-test").await;
            create_topic(&client, &name, PARTITIONS).await;
            client
        });
        Topic {
            runtime,
            client,
            name,
            end: (0..PARTITIONS).map(|p| (p, 0)).collect(),
        }
    }

    fn partitions(&self) -> BTreeSet<Partition> {
        partitions_of(&self.name, PARTITIONS)
    }

    /// Produces a round of [`PER_ROUND`] records to every partition, in batches of 5.
    fn produce_round(&mut self, round: usize) {
        for partition in 0..PARTITIONS {
            let records = values(&format!("r{round}-p{partition}"), PER_ROUND);
            let first =
                self.runtime
                    .block_on(produce(&self.client, &self.name, partition, &records, 5));
            let end = self.end.get_mut(&partition).unwrap();
            assert_eq!(first, *end, "partition {partition} continues");
            *end += PER_ROUND as i64;
        }
    }

    /// Every offset produced but delivered to none of `logs` (members named `labels`).
    fn missing(&self, labels: &[&str], logs: &[&[PeerEvent]]) -> Vec<(i32, i64)> {
        let ledger = ledger(labels, logs);
        self.end
            .iter()
            .flat_map(|(p, end)| {
                ledger
                    .missing(&self.name, *p, 0..*end)
                    .into_iter()
                    .map(move |o| (*p, o))
            })
            .collect()
    }

    /// Waits until `peers` between them were delivered every offset produced so far; returns
    /// the ledger.
    fn wait_delivered(&self, peers: &[&GroupPeer]) -> Ledger {
        let labels: Vec<&str> = peers.iter().map(|p| p.label()).collect();
        let result = wait_for_all(peers, SETTLE, |logs| self.missing(&labels, logs).is_empty());
        if let Err(e) = result {
            let logs: Vec<Vec<PeerEvent>> = peers.iter().map(|p| p.events()).collect();
            let logs: Vec<&[PeerEvent]> = logs.iter().map(Vec::as_slice).collect();
            let missing = self.missing(&labels, &logs);
            panic!(
                "{} offsets never delivered, the first {:?}:\n{e}",
                missing.len(),
                &missing[..missing.len().min(10)]
            );
        }
        let mut ledger = Ledger::new();
        for peer in peers {
            ledger.add_peer(peer);
        }
        ledger
    }
}

fn ledger(labels: &[&str], logs: &[&[PeerEvent]]) -> Ledger {
    let mut ledger = Ledger::new();
    for (label, log) in labels.iter().zip(logs) {
        ledger.add_events(label, log);
    }
    ledger
}

/// A member's properties: group `group`, assignor `strategy`, named `id`, committing what it
/// processed itself, from the earliest offset, with a short session and quick heartbeats.
fn member(group: &str, strategy: &str, id: &str, topic: &str) -> MemberConfig {
    MemberConfig::new(
        &[
            ("group.id", group),
            ("partition.assignment.strategy", strategy),
            ("client.id", id),
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "500"),
            ("max.poll.interval.ms", "30000"),
        ],
        &[topic],
    )
}

fn settle(peers: &[&GroupPeer], topic: &Topic) -> Vec<BTreeSet<Partition>> {
    wait_owned_exactly_once(peers, &topic.partitions(), SETTLE).unwrap_or_else(|e| panic!("{e}"))
}

/// Partitions in `events` given up by revocation.
fn revoked(events: &[PeerEvent]) -> BTreeSet<Partition> {
    events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Revoked(ps) => Some(ps.iter().cloned()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn two_java_members_split_a_topic_cooperatively_and_the_last_takes_all() {
    let Some(kafka) = kafka("two_java_members") else {
        return;
    };
    let peer = JavaPeer::new(kafka.install()).unwrap();
    let mut topic = Topic::create(kafka, "gp-java-java");
    let group = unique_name("gp-java-java");
    topic.produce_round(0);

    let strategy = "cooperative-sticky";
    let mut a = GroupPeer::java_with(
        &peer,
        &kafka.bootstrap(),
        &member(&group, strategy, "a", &topic.name),
    )
    .unwrap();
    a.wait_ready(SETTLE).unwrap();
    settle(&[&a], &topic);
    let mut b = GroupPeer::java_with(
        &peer,
        &kafka.bootstrap(),
        &member(&group, strategy, "b", &topic.name),
    )
    .unwrap();
    let split = settle(&[&a, &b], &topic);
    assert_eq!((split[0].len(), split[1].len()), (3, 3), "{split:?}");
    // Cooperative: the first member gave up only what moved.
    assert_eq!(revoked(&a.events()), split[1]);

    topic.produce_round(1);
    topic.wait_delivered(&[&a, &b]);

    a.stop().unwrap();
    assert!(a.events().contains(&PeerEvent::Closed));
    settle(&[&b], &topic);
    topic.produce_round(2);
    let ledger = topic.wait_delivered(&[&a, &b]);
    b.stop().unwrap();

    // Every hand-over was graceful (commit on revoke): nothing was delivered twice.
    let dups = ledger.duplicates();
    assert!(
        dups.is_empty(),
        "delivered twice: {:?}",
        &dups[..dups.len().min(5)]
    );
    assert_eq!(ledger.len(), PARTITIONS as usize * PER_ROUND * 3);
}

/// One Java and one librdkafka member with `strategy`; the first member is stopped (`stop`)
/// or killed (`kill`) once both were delivered the first rounds.
fn java_and_librdkafka(test: &str, strategy: &str, kill: bool) {
    let Some(kafka) = kafka(test) else {
        return;
    };
    if !librdkafka(test) {
        return;
    }
    let peer = JavaPeer::new(kafka.install()).unwrap();
    let mut topic = Topic::create(kafka, "gp-java-rd");
    let group = unique_name("gp-java-rd");
    topic.produce_round(0);

    let mut first = GroupPeer::librdkafka_with(
        &kafka.bootstrap(),
        &member(&group, strategy, "rd", &topic.name),
    )
    .unwrap();
    first.wait_ready(SETTLE).unwrap();
    settle(&[&first], &topic);
    let mut java = GroupPeer::java_with(
        &peer,
        &kafka.bootstrap(),
        &member(&group, strategy, "java", &topic.name),
    )
    .unwrap();
    let split = settle(&[&first, &java], &topic);
    assert_eq!((split[0].len(), split[1].len()), (3, 3), "{split:?}");

    topic.produce_round(1);
    topic.wait_delivered(&[&first, &java]);

    if kill {
        first.kill();
    } else {
        first.stop().unwrap();
    }
    settle(&[&java], &topic);
    topic.produce_round(2);
    let ledger = topic.wait_delivered(&[&first, &java]);
    java.stop().unwrap();

    let dups = ledger.duplicates();
    if kill {
        // What the killed member processed and never committed is delivered again, to Java.
        for (tp, offset, deliveries) in &dups {
            assert!(
                split[0].contains(tp) && deliveries.iter().any(|d| d.member == first.label()),
                "{tp:?} {offset} delivered twice: {deliveries:?}"
            );
        }
    } else {
        assert!(
            dups.is_empty(),
            "delivered twice: {:?}",
            &dups[..dups.len().min(5)]
        );
    }
    assert_eq!(ledger.len(), PARTITIONS as usize * PER_ROUND * 3);
}

#[test]
fn java_and_librdkafka_share_a_group_with_range() {
    java_and_librdkafka("java_and_librdkafka_range", "range", false);
}

#[test]
fn java_and_librdkafka_share_a_group_cooperatively_and_java_outlives_a_killed_member() {
    java_and_librdkafka(
        "java_and_librdkafka_cooperative",
        "cooperative-sticky",
        true,
    );
}

/// A member whose process dies makes a wait on it fail at once, naming its exit and its
/// standard error, instead of waiting out the timeout.
#[test]
fn a_member_that_dies_fails_the_wait_at_once() {
    let Some(kafka) = kafka("a_member_that_dies") else {
        return;
    };
    // No group.id: Java's consumer refuses to subscribe, and the program ends with an error.
    let peer = GroupPeer::java(kafka.install(), &kafka.bootstrap(), &[], &["t"]).unwrap();
    let started = std::time::Instant::now();
    let err = peer
        .wait_for(|es| es.contains(&PeerEvent::Closed), SETTLE)
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20), "{err}");
    let text = err.to_string();
    assert!(text.contains("exited"), "{text}");
    assert!(
        text.contains("group.id") || text.contains("InvalidGroupId"),
        "{text}"
    );
    assert!(!peer.is_running());
}

/// A slow member subscribed by pattern, with auto-commit on, reads everything and commits it
/// when told to: Java's, then librdkafka's (when installed), in groups of their own.
#[test]
fn a_slow_member_subscribed_by_pattern_commits_when_told() {
    let Some(kafka) = kafka("a_slow_member_subscribed_by_pattern") else {
        return;
    };
    let mut topic = Topic::create(kafka, "gp-pattern");
    topic.produce_round(0);
    let mut kinds = vec!["java"];
    if librdkafka("a_slow_member_subscribed_by_pattern") {
        kinds.push("librdkafka");
    }
    for kind in kinds {
        let group = unique_name("gp-pattern");
        let config = MemberConfig::pattern(
            &[
                ("group.id", group.as_str()),
                ("auto.offset.reset", "earliest"),
                ("enable.auto.commit", "true"),
                ("auto.commit.interval.ms", "60000"),
            ],
            &format!("{}.*", topic.name),
        )
        .with_record_delay(Duration::from_millis(2));
        let mut member = match kind {
            "java" => GroupPeer::java_with(
                &JavaPeer::new(kafka.install()).unwrap(),
                &kafka.bootstrap(),
                &config,
            ),
            _ => GroupPeer::librdkafka_with(&kafka.bootstrap(), &config),
        }
        .unwrap();
        settle(&[&member], &topic);
        topic.wait_delivered(&[&member]);
        member.commit().unwrap();
        let ends: Vec<(String, i32, i64)> = topic
            .end
            .iter()
            .map(|(p, end)| (topic.name.clone(), *p, *end))
            .collect();
        member
            .wait_for(
                |events| {
                    let mut committed = BTreeMap::new();
                    for e in events {
                        if let PeerEvent::Committed(cs) = e {
                            for (t, p, o) in cs {
                                committed.insert((t.clone(), *p), *o);
                            }
                        }
                    }
                    ends.iter()
                        .all(|(t, p, o)| committed.get(&(t.clone(), *p)) == Some(o))
                },
                SETTLE,
            )
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        member.stop().unwrap();
    }
}
