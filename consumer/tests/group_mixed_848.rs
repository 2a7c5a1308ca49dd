//! Mixed groups with KIP-848's consumer protocol on Apache Kafka 4.1.2 (the testkit's broker:
//! `group.coordinator.rebalance.protocols=classic,consumer`, heartbeats 500 ms, sessions 10 s,
//! `group.consumer.migration.policy` left at its default, `bidirectional`).
//!
//! gregor's group consumer (`gregor-group-member` processes) speaking the consumer protocol
//! shares one group with Java's `KafkaConsumer` 4.1.2 and librdkafka's consumer
//! (`confluent_kafka`) speaking it too, and with classic members: Java's joined by gregor's
//! KIP-848 members (the coordinator converts the classic group into a consumer group, online
//! migration), and a rolling upgrade of gregor's own members from the classic protocol to the
//! consumer protocol and back. Members join and leave while gregor's producer appends; every
//! member auto-commits every 500 ms and leaves gracefully. From every member's log
//! (`mixed848_support::findings`): no partition is delivered by two members at once, every
//! produced offset is delivered, no member delivers an offset twice itself, and none is
//! delivered again after a graceful handoff (KIP-848 members commit what they consumed before
//! they give a partition up; gregor's classic members too). What Java's classic
//! cooperative-sticky members deliver again on their own (their auto-commit leaves out what
//! the last poll of a revoking round returned, as `group_mixed.rs` found) is reported, not
//! asserted. Each step's settling time (until the running members own the partitions exactly
//! once) and the longest pause of a partition are printed.
//!
//! KAFKA-21582: Apache Kafka before 4.3.3 / 4.4.1 / 4.5.0 can mis-convert a classic group
//! that is in the middle of a rebalance when a consumer-protocol member joins; these tests
//! run 4.1.2, so they wait for the classic group to be `Stable` before the first KIP-848
//! member joins it.
//!
//! Members killed with SIGKILL (scope 6) hand their partitions on once the coordinator ends
//! their sessions; what they delivered after their last commit is delivered again, counted.
//!
//! Needs `.ci/install-kafka.sh`; the librdkafka tests need `confluent-kafka` for python3.
//! Each is skipped with a message when its peer is missing. The tests run one at a time (they
//! take a lock): each starts several JVMs.

mod group_support;
mod mixed848_support;

use mixed848_support::{Findings, Kind, Mixed, Protocol};

use Kind::{Gregor, Java, Librdkafka};
use Protocol::{Classic, Consumer};

/// Asserts the invariants on what `mixed`'s members delivered, and prints the figures.
/// `peers_redeliver` names a client whose own re-deliveries after handoffs are reported, not
/// asserted (Java's classic cooperative auto-commit).
fn check(test: &str, mixed: &Mixed, found: &Findings, peers_redeliver: Option<Kind>) {
    eprintln!("{test}: {found}\n{test}: steps: {}", mixed.timings());
    assert!(found.produced > 0, "nothing was produced");
    assert_eq!(
        found.gap_count, 0,
        "every produced offset delivered: {found}"
    );
    assert!(found.overlaps.is_empty(), "exclusive ownership: {found}");
    assert!(
        found.outside.is_empty(),
        "records only of partitions the member owned: {found}"
    );
    assert_eq!(
        found.self_duplicates, 0,
        "no member delivers an offset twice itself: {found}"
    );
    assert_eq!(
        found.after(Gregor),
        0,
        "graceful handoffs from gregor's members deliver nothing twice: {found}"
    );
    for kind in [Java, Librdkafka] {
        if Some(kind) != peers_redeliver {
            assert_eq!(
                found.after(kind),
                0,
                "graceful handoffs from {kind:?}'s members deliver nothing twice: {found}"
            );
        }
    }
}

/// Scope 1: gregor's and Java's KIP-848 members (uniform) in one group, joining and leaving
/// in turns: 1 -> 4 members -> 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gregor_and_java_848() {
    let Some(mut mixed) = Mixed::start("mixed848-java", &[Java]).await else {
        return;
    };
    mixed.join_settled("g1", Gregor, Consumer).await;
    mixed.join_settled("j1", Java, Consumer).await;
    mixed.join_settled("g2", Gregor, Consumer).await;
    mixed.join_settled("j2", Java, Consumer).await;
    assert_eq!(
        mixed.group_type().await.map(|t| t.0).as_deref(),
        Some("consumer")
    );
    mixed.leave_settled("g1").await;
    mixed.leave_settled("j1").await;
    mixed.join_settled("g3", Gregor, Consumer).await;
    mixed.leave_settled("j2").await;
    let found = mixed.finish().await;
    check("gregor_and_java_848", &mixed, &found, None);
}

/// Scope 2: gregor's and librdkafka's KIP-848 members (uniform) in one group, joining and
/// leaving in turns: 1 -> 4 members -> 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gregor_and_librdkafka_848() {
    let Some(mut mixed) = Mixed::start("mixed848-rdk", &[Librdkafka]).await else {
        return;
    };
    mixed.join_settled("g1", Gregor, Consumer).await;
    mixed.join_settled("r1", Librdkafka, Consumer).await;
    mixed.join_settled("g2", Gregor, Consumer).await;
    mixed.join_settled("r2", Librdkafka, Consumer).await;
    assert_eq!(
        mixed.group_type().await.map(|t| t.0).as_deref(),
        Some("consumer")
    );
    mixed.leave_settled("g1").await;
    mixed.leave_settled("r1").await;
    mixed.join_settled("g3", Gregor, Consumer).await;
    mixed.leave_settled("r2").await;
    let found = mixed.finish().await;
    check("gregor_and_librdkafka_848", &mixed, &found, None);
}

/// Scope 3: gregor's, Java's and librdkafka's KIP-848 members in one group: 1 -> 5 members,
/// then each client's first member leaves, one more of each joins, and Java's and
/// librdkafka's leave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gregor_java_and_librdkafka_848() {
    let Some(mut mixed) = Mixed::start("mixed848-all", &[Java, Librdkafka]).await else {
        return;
    };
    mixed.join_settled("g1", Gregor, Consumer).await;
    mixed.join_settled("j1", Java, Consumer).await;
    mixed.join_settled("r1", Librdkafka, Consumer).await;
    mixed.join_settled("g2", Gregor, Consumer).await;
    mixed.join_settled("j2", Java, Consumer).await;
    mixed.leave_settled("r1").await;
    mixed.leave_settled("g1").await;
    mixed.join_settled("r2", Librdkafka, Consumer).await;
    mixed.leave_settled("j1").await;
    mixed.join_settled("g3", Gregor, Consumer).await;
    mixed.leave_settled("j2").await;
    mixed.leave_settled("r2").await;
    let found = mixed.finish().await;
    check("gregor_java_and_librdkafka_848", &mixed, &found, None);
}

/// Scope 4: gregor's KIP-848 members join a group of Java's classic cooperative-sticky
/// members: the coordinator converts the classic group into a consumer group (online
/// migration; the classic members learn of revocations from heartbeats answered
/// REBALANCE_IN_PROGRESS), and assigns with its uniform assignor. Then a Java member and the
/// gregor members leave: with the last KIP-848 member gone the coordinator converts the group
/// back into a classic group, which another classic Java member joins. The group is `Stable`
/// before the first KIP-848 member joins (KAFKA-21582, Apache Kafka 4.1.2).
///
/// Java's classic members deliver a few records again here (0 to 10 per run so far: the
/// last poll's batch of a partition the coordinator revoked from them, read again by the
/// gregor member it went to, about 200-400 ms later, with no overlap): the
/// cooperative auto-commit behaviour `group_mixed.rs` reports, counted, not asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gregor_848_joins_a_classic_java_group() {
    let Some(mut mixed) = Mixed::start("mixed848-migrate", &[Java]).await else {
        return;
    };
    mixed.join_settled("j1", Java, Classic).await;
    mixed.join_settled("j2", Java, Classic).await;
    let stable = mixed.wait_group("classic", Some("Stable")).await;
    eprintln!("the classic group was Stable {stable:?} after the split");
    mixed.join_settled("g1", Gregor, Consumer).await;
    let converted = mixed.wait_group("consumer", None).await;
    eprintln!("the group was a consumer group {converted:?} after the split");
    mixed.join_settled("g2", Gregor, Consumer).await;
    mixed.leave_settled("j1").await;
    mixed.leave_settled("g1").await;
    mixed.leave_settled("g2").await;
    let back = mixed.wait_group("classic", None).await;
    eprintln!("the group was classic again {back:?} after the last 848 member left");
    mixed.join_settled("j3", Java, Classic).await;
    let found = mixed.finish().await;
    check(
        "gregor_848_joins_a_classic_java_group",
        &mixed,
        &found,
        Some(Java),
    );
}

/// Scope 5: a rolling upgrade of gregor's members: three classic cooperative-sticky members
/// replaced one by one with KIP-848 members (the group converts to a consumer group when the
/// first joins), then one by one back to classic members (it converts back to a classic group
/// when the last KIP-848 member leaves), while the producer appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_upgrade_from_classic_to_848_and_back() {
    let Some(mut mixed) = Mixed::start("mixed848-rolling", &[]).await else {
        return;
    };
    for name in ["c1", "c2", "c3"] {
        mixed.join_settled(name, Gregor, Classic).await;
    }
    for (old, new) in [("c1", "n1"), ("c2", "n2"), ("c3", "n3")] {
        mixed.leave_settled(old).await;
        if old == "c1" {
            mixed.wait_group("classic", Some("Stable")).await;
        }
        mixed.join_settled(new, Gregor, Consumer).await;
        assert_eq!(
            mixed.group_type().await.map(|t| t.0).as_deref(),
            Some("consumer")
        );
    }
    for (old, new) in [("n1", "c4"), ("n2", "c5"), ("n3", "c6")] {
        mixed.leave_settled(old).await;
        if old == "n3" {
            let back = mixed.wait_group("classic", None).await;
            eprintln!("the group was classic again {back:?} after the last 848 member left");
        }
        mixed.join_settled(new, Gregor, Classic).await;
    }
    assert_eq!(
        mixed.group_type().await.map(|t| t.0).as_deref(),
        Some("classic")
    );
    let found = mixed.finish().await;
    check(
        "a_rolling_upgrade_from_classic_to_848_and_back",
        &mixed,
        &found,
        None,
    );
}

/// Scope 6: members killed (SIGKILL) in a KIP-848 group of gregor's and Java's members: the
/// coordinator gives a killed member's partitions to the others once its session has ended
/// (10 s on the test broker); they read on from its last commit. Nothing is lost, no partition
/// is read by two members at once, and only what a killed member delivered after its last
/// auto-commit is delivered again (at least once; counted and printed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_members_of_a_848_group_lose_nothing() {
    let Some(mut mixed) = Mixed::start("mixed848-kill", &[Java]).await else {
        return;
    };
    mixed.join_settled("g1", Gregor, Consumer).await;
    mixed.join_settled("j1", Java, Consumer).await;
    mixed.join_settled("g2", Gregor, Consumer).await;
    mixed.kill_settled("j1").await;
    mixed.kill_settled("g1").await;
    mixed.join_settled("j2", Java, Consumer).await;
    let found = mixed.finish().await;
    check(
        "killed_members_of_a_848_group_lose_nothing",
        &mixed,
        &found,
        None,
    );
}
