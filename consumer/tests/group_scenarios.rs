//! Group-consumer membership scenarios on our mock and Apache Kafka: a static member restarting
//! within its session, rolling restarts of dynamic and static members, processing longer than
//! the session timeout, a member missing `max.poll.interval.ms`, a closing member leaving
//! (while another cancels its calls all the time), a pattern subscription meeting a new topic,
//! partitions added; each with the classic protocol and with KIP-848's consumer protocol
//! (`mock_848`, `kafka_848`: the coordinator's range assignor). The faults (members cut off or killed, the coordinator moving, a
//! duplicate instance id) are in `group_faults.rs`; what an application calls (seek, pause,
//! commits, its rebalance listener, partition streams) in `group_api.rs`.

mod group_support;
mod stream_support;

use std::time::Duration;

use gregor_client::admin::Admin;
use gregor_consumer::group::config::GroupProtocol;
use gregor_consumer::group::task::Subscription;
use gregor_protocol::ApiKey;
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{create_topic_on, unique_name};
use group_support::scenario::{
    SETTLE, Scenario, consumer_protocol, member_client, range, wait_split,
};
use group_support::{Behaviour, Ledger, Member, Producer, eventually, per_protocol};
use stream_support::broker;

/// A static member that closes without leaving and comes back within its session gets the
/// same partitions, and the other member sees no rebalance.
async fn static_member_restarts(kind: BrokerKind, protocol: GroupProtocol) {
    let broker = broker(kind).await;
    let sc = Scenario::new(&broker, "static", 6)
        .await
        .with_protocol(protocol);
    let producer = sc.produce(6);
    let statically = |instance: &str| {
        let mut s = sc.range();
        s.membership.instance_id = Some(instance.to_owned());
        s.leave_on_close = false;
        s
    };
    let a = sc.member("a", statically("pod-a")).await;
    let b = sc.member("b", statically("pod-b")).await;
    wait_split(&sc.ledger, "a and b split", &[("a", 3), ("b", 3)]).await;
    let before: Vec<_> = sc
        .ledger
        .owners()
        .into_iter()
        .filter(|(_, o)| o == "a")
        .map(|(tp, _)| tp)
        .collect();
    let generation = match broker.mock() {
        Some(mock) => mock.group_generation(&sc.group).await,
        None => None,
    };
    let b_releases = sc.ledger.releases("b");
    a.stop().await;
    let a2 = sc.member("a2", statically("pod-a")).await;
    wait_split(
        &sc.ledger,
        "the restarted a gets its partitions back",
        &[("a2", 3), ("b", 3)],
    )
    .await;
    let after: Vec<_> = sc
        .ledger
        .owners()
        .into_iter()
        .filter(|(_, o)| o == "a2")
        .map(|(tp, _)| tp)
        .collect();
    assert_eq!(after, before, "the same partitions as before the restart");
    assert_eq!(sc.ledger.releases("b"), b_releases, "b saw no rebalance");
    if let (Some(mock), Some(generation)) = (broker.mock(), generation) {
        assert_eq!(
            mock.group_generation(&sc.group).await,
            Some(generation),
            "no new generation"
        );
    }
    sc.all_delivered(producer).await;
    a2.stop().await;
    b.stop().await;
    assert_eq!(sc.ledger.duplicates(), 0);
    eprintln!(
        "{kind}: static restart kept {} partitions, no rebalance, 0 duplicates",
        after.len()
    );
}

per_protocol!(static_member_restarts: mock => Mock Classic, kafka => Kafka Classic, mock_848 => Mock Consumer, kafka_848 => Kafka Consumer);

/// Restarts every member of a three-member group one after the other while a producer
/// appends, with dynamic members (each restart is two rebalances) or static ones (no
/// rebalance at all: the others never give anything up).
async fn rolling_restart(kind: BrokerKind, protocol: GroupProtocol, statically: bool) {
    let broker = broker(kind).await;
    let sc = Scenario::new(&broker, "roll", 6)
        .await
        .with_protocol(protocol);
    let producer = sc.produce(6);
    let member_settings = |slot: usize| {
        let mut s = sc.range();
        if statically {
            s.membership.instance_id = Some(format!("pod-{slot}"));
            s.leave_on_close = false;
        }
        s
    };
    let mut members = Vec::new();
    for slot in 0..3 {
        let name = format!("m{slot}");
        members.push(Some(sc.member(&name, member_settings(slot)).await));
    }
    let mut names: Vec<String> = (0..3).map(|slot| format!("m{slot}")).collect();
    let split = |names: &[String]| -> Vec<(String, usize)> {
        names.iter().map(|n| (n.clone(), 2)).collect()
    };
    let wait = |names: Vec<String>, what: &'static str| {
        let ledger = sc.ledger.clone();
        async move {
            let split = split(&names);
            let split: Vec<(&str, usize)> = split.iter().map(|(n, c)| (n.as_str(), *c)).collect();
            wait_split(&ledger, what, &split).await;
        }
    };
    wait(names.clone(), "three members").await;
    for slot in 0..3 {
        let others: Vec<String> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != slot)
            .map(|(_, n)| n.clone())
            .collect();
        let releases: Vec<usize> = others.iter().map(|n| sc.ledger.releases(n)).collect();
        if let Some(member) = members[slot].take() {
            member.stop().await;
        }
        let name = format!("m{slot}-restarted");
        members[slot] = Some(sc.member(&name, member_settings(slot)).await);
        names[slot] = name;
        wait(names.clone(), "three members after a restart").await;
        if statically {
            let after: Vec<usize> = others.iter().map(|n| sc.ledger.releases(n)).collect();
            assert_eq!(
                after, releases,
                "a static restart made the others give partitions up"
            );
        }
    }
    let ends = sc.all_delivered(producer).await;
    for member in members.into_iter().flatten() {
        member.stop().await;
    }
    assert_eq!(sc.ledger.overlaps(), vec![]);
    assert_eq!(sc.ledger.duplicates(), 0);
    let produced: i64 = ends.values().sum();
    eprintln!(
        "{kind} rolling restart (static: {statically}): {produced} records, 0 gaps, 0 duplicates"
    );
}

async fn rolling_restart_dynamic(kind: BrokerKind, protocol: GroupProtocol) {
    rolling_restart(kind, protocol, false).await;
}

async fn rolling_restart_static(kind: BrokerKind, protocol: GroupProtocol) {
    rolling_restart(kind, protocol, true).await;
}

per_protocol!(rolling_restart_dynamic: mock => Mock Classic, kafka => Kafka Classic, mock_848 => Mock Consumer, kafka_848 => Kafka Consumer);
per_protocol!(rolling_restart_static: mock => Mock Classic, kafka => Kafka Classic, mock_848 => Mock Consumer, kafka_848 => Kafka Consumer);

/// Processing a chunk for longer than the session timeout (but under max.poll.interval.ms)
/// keeps the membership: heartbeats go on in the background.
async fn slow_processing_keeps_membership(kind: BrokerKind, protocol: GroupProtocol) {
    let broker = broker(kind).await;
    let sc = Scenario::new(&broker, "slow", 3)
        .await
        .with_protocol(protocol);
    let producer = sc.produce(3);
    let behaviour = Behaviour {
        stall_after_first_records: Some(Duration::from_secs(8)),
        ..Behaviour::default()
    };
    let a = sc.member_with("a", sc.range(), behaviour).await;
    // Session timeout 6 s; the member holds its first chunk for 8 s.
    tokio::time::sleep(Duration::from_secs(10)).await;
    sc.all_delivered(producer).await;
    a.stop().await;
    assert_eq!(
        sc.ledger.losses("a"),
        (0, 0),
        "no partition lost, no poll timeout"
    );
    assert_eq!(sc.ledger.releases("a"), 1, "released only when closing");
    assert_eq!(sc.ledger.duplicates(), 0);
}

per_protocol!(slow_processing_keeps_membership: mock => Mock Classic, kafka => Kafka Classic, mock_848 => Mock Consumer, kafka_848 => Kafka Consumer);

/// A member that does not poll within max.poll.interval.ms leaves: the other member takes
/// its partitions; when it polls again it is told (lost, then the poll timeout) and rejoins.
async fn poll_interval_exceeded(kind: BrokerKind, protocol: GroupProtocol) {
    let broker = broker(kind).await;
    let sc = Scenario::new(&broker, "poll", 4)
        .await
        .with_protocol(protocol);
    let producer = sc.produce(4);
    let b = sc.member("b", sc.range()).await;
    wait_split(&sc.ledger, "b owns all", &[("b", 4)]).await;
    let mut slow = sc.range();
    slow.max_poll_interval = Duration::from_secs(3);
    let a = sc
        .member_with(
            "a",
            slow,
            Behaviour {
                stall_after_first_records: Some(Duration::from_secs(7)),
                ..Behaviour::default()
            },
        )
        .await;
    eventually(
        &sc.ledger,
        "a is told it missed the poll interval",
        SETTLE,
        |l| l.losses("a").1 == 1,
    )
    .await;
    let (lost, timeouts) = sc.ledger.losses("a");
    assert_eq!(
        (lost, timeouts),
        (2, 1),
        "a lost its two partitions and was told once"
    );
    wait_split(&sc.ledger, "a rejoined", &[("a", 2), ("b", 2)]).await;
    sc.all_delivered(producer).await;
    a.stop().await;
    b.stop().await;
    eprintln!(
        "{kind}: a missed max.poll.interval.ms, lost 2 partitions, rejoined; {} duplicates (a's held chunk)",
        sc.ledger.duplicates()
    );
}

per_protocol!(poll_interval_exceeded: mock => Mock Classic, kafka => Kafka Classic, mock_848 => Mock Consumer, kafka_848 => Kafka Consumer);

/// Closing sends LeaveGroup once the revocation is done: the other member takes over at once,
/// not after the closed member's session times out (20 s here); and an application that
/// cancels `next()` all the time (a 1 ms timeout around every call) still completes
/// rebalances and loses no group event.
async fn close_leaves_and_cancelled_calls_lose_nothing(kind: BrokerKind, protocol: GroupProtocol) {
    let broker = broker(kind).await;
    let sc = Scenario::new(&broker, "leave", 4)
        .await
        .with_protocol(protocol);
    let producer = sc.produce(4);
    let long_session = || {
        let mut s = sc.range();
        s.membership.session_timeout = Duration::from_secs(20);
        s
    };
    let impatient = Behaviour {
        cancel_often: true,
        ..Behaviour::default()
    };
    let x = sc.member_with("x", long_session(), impatient).await;
    wait_split(&sc.ledger, "x owns all", &[("x", 4)]).await;
    let y = sc.member("y", long_session()).await;
    // The rebalance completes although x cancels nearly every call.
    let started = std::time::Instant::now();
    wait_split(&sc.ledger, "x and y split", &[("x", 2), ("y", 2)]).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "the rebalance waited for a timeout ({took:?})"
    );
    let closed = std::time::Instant::now();
    x.stop().await;
    if let (Some(mock), GroupProtocol::Classic) = (broker.mock(), protocol) {
        eprintln!(
            "LeaveGroup requests after x closed: {}",
            mock.request_count(ApiKey::LeaveGroup).await
        );
    }
    wait_split(&sc.ledger, "y owns all", &[("y", 4)]).await;
    let handover = closed.elapsed();
    assert!(
        handover < Duration::from_secs(15),
        "y waited {handover:?}: the closed member did not leave"
    );
    if let (Some(mock), GroupProtocol::Classic) = (broker.mock(), protocol) {
        assert!(mock.request_count(ApiKey::LeaveGroup).await >= 1);
    }
    sc.all_delivered(producer).await;
    y.stop().await;
    assert_eq!(sc.ledger.overlaps(), vec![]);
    assert_eq!(sc.ledger.duplicates(), 0);
    eprintln!(
        "{kind}: rebalance with a cancelling member {took:?}, handover after close {handover:?}"
    );
}

per_protocol!(close_leaves_and_cancelled_calls_lose_nothing: mock => Mock Classic, kafka => Kafka Classic, mock_848 => Mock Consumer, kafka_848 => Kafka Consumer);

/// A pattern subscription picks up a topic created after the members joined, and lets go of
/// a topic deleted while they run.
async fn pattern_meets_a_new_topic(kind: BrokerKind, protocol: GroupProtocol) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "pattern-setup").await;
    let prefix = unique_name("pattern");
    let first = format!("{prefix}-one");
    create_topic_on(&broker, &client, &first, 2).await;
    let group = unique_name("pattern");
    let ledger = Ledger::default();
    let regex = regex::Regex::new(&format!("{}-.*", regex::escape(&prefix))).expect("a regex");
    let subscription = Subscription::Pattern(regex);
    let range = |group: &str| match protocol {
        GroupProtocol::Consumer => consumer_protocol(group, "range"),
        _ => range(group),
    };
    let a = Member::start(
        "a",
        &member_client(&broker.bootstrap(), "pattern-a").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    let b = Member::start(
        "b",
        &member_client(&broker.bootstrap(), "pattern-b").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    wait_split(&ledger, "the first topic split", &[("a", 1), ("b", 1)]).await;
    let second = format!("{prefix}-two");
    create_topic_on(&broker, &client, &second, 2).await;
    wait_split(&ledger, "the new topic split too", &[("a", 2), ("b", 2)]).await;
    // The first topic goes away: the members rejoin without it and keep reading the other.
    match broker.mock() {
        Some(mock) => mock.delete_topic(&first).await.expect("delete the topic"),
        None => {
            let deleted = Admin::new(client.clone())
                .delete_topics(std::slice::from_ref(&first))
                .await
                .expect("DeleteTopics");
            assert!(deleted.values().all(Result::is_ok), "{deleted:?}");
        }
    }
    // The consumer protocol leaves this to the coordinator, whose regex resolution runs
    // every 10 s or so after the metadata changed: on Kafka 4.1 it took from 10 s to over
    // 40 s to take the deleted topic away (the one wait that is longer for it).
    let deleted = std::time::Instant::now();
    let limit = match protocol {
        GroupProtocol::Consumer => SETTLE * 3,
        _ => SETTLE,
    };
    eventually(&ledger, "only the second topic left", limit, |l| {
        let owners = l.owners();
        owners.len() == 2
            && ["a", "b"]
                .iter()
                .all(|m| owners.values().filter(|o| o == m).count() == 1)
    })
    .await;
    eprintln!(
        "{kind} {protocol:?}: the deleted topic was let go after {:?}",
        deleted.elapsed()
    );
    assert!(ledger.owners().keys().all(|tp| *tp.topic == *second));
    let producer = Producer::start(&client, &second, 2, 3, Duration::from_millis(100));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ends = producer.stop().await;
    eventually(&ledger, "the new topic's records delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    a.stop().await;
    b.stop().await;
}

per_protocol!(pattern_meets_a_new_topic: mock => Mock Classic, kafka => Kafka Classic, mock_848 => Mock Consumer, kafka_848 => Kafka Consumer);

/// Partitions added to a subscribed topic are assigned (the leader sees the count change).
async fn partitions_added(kind: BrokerKind, protocol: GroupProtocol) {
    let broker = broker(kind).await;
    let sc = Scenario::new(&broker, "grow", 2)
        .await
        .with_protocol(protocol);
    let a = sc.member("a", sc.range()).await;
    let b = sc.member("b", sc.range()).await;
    wait_split(&sc.ledger, "two partitions split", &[("a", 1), ("b", 1)]).await;
    let added = Admin::new(sc.client.clone())
        .create_partitions(&[(sc.topic.clone(), 4)], false)
        .await
        .expect("CreatePartitions");
    assert!(added.values().all(Result::is_ok), "{added:?}");
    wait_split(&sc.ledger, "four partitions split", &[("a", 2), ("b", 2)]).await;
    let producer = sc.produce(4);
    tokio::time::sleep(Duration::from_millis(500)).await;
    sc.all_delivered(producer).await;
    a.stop().await;
    b.stop().await;
}

per_protocol!(partitions_added: mock => Mock Classic, kafka => Kafka Classic, mock_848 => Mock Consumer, kafka_848 => Kafka Consumer);
