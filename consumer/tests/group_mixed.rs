//! Mixed groups on Apache Kafka: gregor's group consumer with Java's `KafkaConsumer` (the
//! reference) and librdkafka's consumer (Python's `confluent_kafka`) in one group, gregor as
//! the leader and as a follower. The partitions are split exactly once at every step, every
//! produced offset is delivered, and graceful handoffs with auto-commit deliver none twice.
//!
//! Needs `.ci/install-kafka.sh`; the librdkafka test needs `confluent-kafka` for python3. Each
//! is skipped with a message when its peer is missing.

mod group_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use gregor_consumer::group::assignor::builtin;
use gregor_consumer::group::task::Subscription;
use gregor_testkit::data::{create_topic, test_client, unique_name};
use gregor_testkit::kafka::group_peer::{GroupPeer, MemberConfig, Partition, PeerEvent};
use gregor_testkit::kafka::peer::JavaPeer;
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall};
use group_support::{Entry, Ledger, Member, Producer, eventually, settings};

const PARTITIONS: i32 = 6;
const SETTLE: Duration = Duration::from_secs(45);

#[derive(Clone, Copy, Debug)]
enum Peer {
    Java,
    Librdkafka,
}

fn peer_properties<'a>(group: &'a str, assignor: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("group.id", group),
        ("partition.assignment.strategy", assignor),
        ("enable.auto.commit", "true"),
        ("auto.commit.interval.ms", "500"),
        ("auto.offset.reset", "earliest"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "300"),
    ]
}

fn start_peer(
    kind: Peer,
    kafka: &KafkaCluster,
    group: &str,
    assignor: &str,
    topic: &str,
) -> GroupPeer {
    let config = MemberConfig::new(&peer_properties(group, assignor), &[topic]);
    let peer = match kind {
        Peer::Java => {
            let java = JavaPeer::new(kafka.install()).expect("the Java peer compiles");
            GroupPeer::java_with(&java, &kafka.bootstrap(), &config)
        }
        Peer::Librdkafka => GroupPeer::librdkafka_with(&kafka.bootstrap(), &config),
    }
    .expect("the peer starts");
    peer.wait_ready(SETTLE).expect("the peer subscribes");
    peer
}

/// Waits until gregor's member `name` owns exactly `mine` partitions and the peer the rest,
/// with no partition owned twice.
async fn split(ledger: &Ledger, name: &str, peer: &GroupPeer, mine: usize) {
    let start = Instant::now();
    loop {
        let gregor: BTreeSet<Partition> = ledger
            .owners()
            .into_iter()
            .filter(|(_, owner)| owner == name)
            .map(|(tp, _)| (tp.topic.to_string(), tp.partition))
            .collect();
        let theirs = peer.owned();
        let together: BTreeSet<&Partition> = gregor.iter().chain(theirs.iter()).collect();
        if gregor.len() == mine
            && theirs.len() == PARTITIONS as usize - mine
            && together.len() == PARTITIONS as usize
        {
            return;
        }
        assert!(
            start.elapsed() < SETTLE,
            "no {mine}/{} split: gregor {gregor:?}, {} {theirs:?}",
            PARTITIONS as usize - mine,
            peer.label()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// gregor leads, the peer joins (3/3), gregor leaves (the peer takes all), a new gregor
/// member joins as a follower (3/3), the peer leaves (gregor takes all).
async fn mixed(kind: Peer, assignor: &str) {
    if !KafkaInstall::is_available() {
        eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return;
    }
    if matches!(kind, Peer::Librdkafka) && !GroupPeer::librdkafka_available() {
        eprintln!("skipped: python3 has no confluent_kafka");
        return;
    }
    let kafka = KafkaCluster::shared().expect("kafka starts");
    let clock = Clock::start();
    let client = test_client(&kafka.bootstrap(), "gregor-group-mixed").await;
    let topic = unique_name("group-mixed");
    create_topic(&client, &topic, PARTITIONS).await;
    let group = unique_name("mixed");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, PARTITIONS, 5, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let assignors = || vec![builtin(assignor).expect("built in")];

    let first = Member::start(
        "g1",
        &client,
        settings(&group, assignors()),
        subscription.clone(),
        &ledger,
    );
    eventually(&ledger, "g1 owns all", SETTLE, |l| {
        l.owners().len() == PARTITIONS as usize
    })
    .await;
    let mut peer = start_peer(kind, kafka, &group, assignor, &topic);
    split(&ledger, "g1", &peer, 3).await;
    first.stop().await;
    split(&ledger, "g1", &peer, 0).await;
    let second = Member::start(
        "g2",
        &client,
        settings(&group, assignors()),
        subscription.clone(),
        &ledger,
    );
    split(&ledger, "g2", &peer, 3).await;
    peer.stop_async().await.expect("the peer closes");
    eventually(&ledger, "g2 owns all", SETTLE, |l| {
        let owners = l.owners();
        owners.len() == PARTITIONS as usize && owners.values().all(|o| o == "g2")
    })
    .await;
    let ends = producer.stop().await;
    let peer_events = peer.events();
    let by_gregor = clock.deliveries(&ledger);
    ledger.add_peer_records(peer.label(), &peer_events);
    let combined = ledger.clone();
    eventually(&combined, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    second.stop().await;
    let produced: i64 = ends.values().sum();
    let duplicates = ledger.duplicates();
    let (after_gregor, after_peer) = who_handed_over(&by_gregor, &peer_events);
    eprintln!(
        "{kind:?} {assignor}: {produced} records, 0 gaps, {duplicates} duplicates \
         ({after_gregor} after gregor had them, {after_peer} after the peer had them)"
    );
    assert_eq!(
        after_gregor,
        0,
        "graceful handoffs from gregor's members with auto-commit deliver nothing twice: {:?}",
        ledger.duplicated(20)
    );
    assert_eq!(
        duplicates,
        after_gregor + after_peer,
        "no client delivered an offset twice by itself: {:?}",
        ledger.duplicated(20)
    );
    if matches!(kind, Peer::Librdkafka) || assignor != "cooperative-sticky" {
        // Java's auto-commit leaves out records its poll returned, during a cooperative
        // round, from partitions that round revokes (they are not in its next commit), so
        // their next owner reads them again: a Java behaviour, reported above, not asserted.
        assert_eq!(after_peer, 0, "the peer's handoffs deliver nothing twice");
    }
}

/// Maps the test's `Instant`s to wall-clock milliseconds, the peers' clock.
struct Clock {
    instant: Instant,
    wall_ms: i64,
}

impl Clock {
    fn start() -> Clock {
        let wall_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Clock {
            instant: Instant::now(),
            wall_ms,
        }
    }

    /// When gregor's members first delivered each offset, in wall-clock milliseconds.
    fn deliveries(&self, ledger: &Ledger) -> BTreeMap<(String, i32, i64), i64> {
        let mut first = BTreeMap::new();
        for e in ledger.entries() {
            if let Entry::Records {
                partition,
                first: from,
                last,
                at,
                ..
            } = e
            {
                let ms = self.wall_ms + at.duration_since(self.instant).as_millis() as i64;
                for offset in from..=last {
                    first
                        .entry((partition.topic.to_string(), partition.partition, offset))
                        .or_insert(ms);
                }
            }
        }
        first
    }
}

/// Offsets delivered by both gregor and the peer, split by who had them first: (after
/// gregor, after the peer).
fn who_handed_over(
    by_gregor: &BTreeMap<(String, i32, i64), i64>,
    peer_events: &[PeerEvent],
) -> (usize, usize) {
    let (mut after_gregor, mut after_peer) = (0, 0);
    for event in peer_events {
        if let PeerEvent::Records {
            topic,
            partition,
            offsets,
            at_ms,
            ..
        } = event
        {
            for offset in offsets {
                match by_gregor.get(&(topic.clone(), *partition, *offset)) {
                    Some(gregor_ms) if gregor_ms <= at_ms => after_gregor += 1,
                    Some(_) => after_peer += 1,
                    None => {}
                }
            }
        }
    }
    (after_gregor, after_peer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gregor_and_java_range() {
    mixed(Peer::Java, "range").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gregor_and_librdkafka_range() {
    mixed(Peer::Librdkafka, "range").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gregor_and_java_cooperative_sticky() {
    mixed(Peer::Java, "cooperative-sticky").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gregor_and_librdkafka_cooperative_sticky() {
    mixed(Peer::Librdkafka, "cooperative-sticky").await;
}

/// kill -9 of a member on Apache Kafka: Java's member is SIGKILLed (no commit, no
/// LeaveGroup) while it owns half the partitions. The coordinator gives them to gregor's
/// member once the dead member's session (6 s) has expired; every produced offset is
/// delivered, and what is delivered twice is only what the dead member read after its last
/// auto-commit (at-least-once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_java_member_s_partitions_move_to_gregor() {
    if !KafkaInstall::is_available() {
        eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return;
    }
    let kafka = KafkaCluster::shared().expect("kafka starts");
    let client = test_client(&kafka.bootstrap(), "gregor-group-kill").await;
    let topic = unique_name("group-kill");
    create_topic(&client, &topic, PARTITIONS).await;
    let group = unique_name("kill");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, PARTITIONS, 5, Duration::from_millis(100));
    let member = Member::start(
        "g1",
        &client,
        settings(&group, vec![builtin("range").expect("built in")]),
        Subscription::Topics(vec![topic.clone()]),
        &ledger,
    );
    eventually(&ledger, "g1 owns all", SETTLE, |l| {
        l.owners().len() == PARTITIONS as usize
    })
    .await;
    let mut peer = start_peer(Peer::Java, kafka, &group, "range", &topic);
    split(&ledger, "g1", &peer, 3).await;
    // Let the peer read (and auto-commit) for a while, then kill it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed_owned = peer.owned();
    peer.kill();
    let killed = Instant::now();
    eventually(&ledger, "g1 owns all again", SETTLE, |l| {
        l.owners().len() == PARTITIONS as usize && l.owners().values().all(|o| o == "g1")
    })
    .await;
    let moved_after = killed.elapsed();
    let ends = producer.stop().await;
    ledger.add_peer_records(peer.label(), &peer.events());
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    member.stop().await;
    let produced: i64 = ends.values().sum();
    let duplicates = ledger.duplicates();
    eprintln!(
        "java member killed owning {} partitions: they moved to gregor after {moved_after:?} \
         (session 6 s); {produced} records, 0 gaps, {duplicates} delivered twice",
        killed_owned.len()
    );
    assert_eq!(killed_owned.len(), 3);
    assert!(
        moved_after >= Duration::from_secs(3),
        "the coordinator gave a live-session member's partitions away after {moved_after:?}"
    );
}
