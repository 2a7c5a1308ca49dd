//! Group-consumer faults: on our mock only (its control API), a member cut off from the
//! cluster longer than its session, a member killed, and the coordinator moving while members
//! join, sync and commit; on Apache Kafka, a member whose network stalls longer than its
//! session (through a proxy); on our mock and Apache Kafka, a second static member with the
//! same instance id fencing the first. The cut-off, killed, stalled and moving-coordinator
//! cases run with both protocols (`*_848`: KIP-848's consumer protocol), and
//! `heartbeats_refused_and_answers_lost_fence_nobody` injects KIP-848 heartbeat faults.
//! (kill -9 on Kafka is in `group_mixed.rs` and the group soak.)

mod group_support;
mod stream_support;

use std::sync::Arc;
use std::time::Duration;

use gregor_consumer::group::config::GroupProtocol;
use gregor_protocol::ApiKey;
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall, KafkaOptions};
use gregor_testkit::mock::{Action, Intercept, MockCluster};
use gregor_testkit::{BrokerKind, ChaosProxy};
use group_support::scenario::{
    SETTLE, Scenario, member_client, next_chunk_where, range, wait_split,
};
use group_support::{Member, eventually, per_protocol};
use stream_support::{broker, per_kind};

/// The APIs a member uses: cutting them all for one client id cuts that member off.
const MEMBER_APIS: [ApiKey; 10] = [
    ApiKey::Heartbeat,
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::Fetch,
    ApiKey::FindCoordinator,
    ApiKey::Metadata,
    ApiKey::ListOffsets,
];

/// A mock cluster of three brokers, for the coordinator to move between.
async fn three_brokers() -> Arc<MockCluster> {
    Arc::new(
        MockCluster::builder()
            .brokers(3)
            .start()
            .await
            .expect("a 3-broker mock"),
    )
}

/// A member cut off from the cluster for longer than its session stops delivering its
/// partitions before the coordinator gives them away (no partition has two owners), and
/// rejoins once the network is back.
async fn a_member_cut_off_fences_itself_then_rejoins(kind: BrokerKind, protocol: GroupProtocol) {
    let broker = broker(kind).await;
    let mock = broker.mock().expect("the mock");
    let sc = Scenario::new(&broker, "cut", 4)
        .await
        .with_protocol(protocol);
    let producer = sc.produce(4);
    let a = sc.member("a", sc.range()).await;
    let b = sc.member("b", sc.range()).await;
    wait_split(&sc.ledger, "a and b split", &[("a", 2), ("b", 2)]).await;
    let mut rules = Vec::new();
    for api in MEMBER_APIS {
        rules.push(
            mock.intercept(
                api,
                Intercept::always(Action::DropConnection).from_client("cut-a"),
            )
            .await,
        );
    }
    eventually(&sc.ledger, "a fences itself", SETTLE, |l| {
        l.losses("a").0 == 2
    })
    .await;
    wait_split(&sc.ledger, "b owns all", &[("b", 4)]).await;
    for rule in rules {
        mock.remove_intercept(rule).await;
    }
    wait_split(&sc.ledger, "a rejoined", &[("a", 2), ("b", 2)]).await;
    sc.all_delivered(producer).await;
    a.stop().await;
    b.stop().await;
    assert_eq!(sc.ledger.overlaps(), vec![], "a stopped before b took over");
    eprintln!(
        "cut off ({protocol:?}): a fenced itself, rejoined; {} duplicates (what a had not \
         committed)",
        sc.ledger.duplicates()
    );
}

per_protocol!(a_member_cut_off_fences_itself_then_rejoins: mock => Mock Classic, mock_848 => Mock Consumer);

/// The same on Apache Kafka, with the network stalled rather than cut: member a reaches the
/// node only through a proxy (the node advertises the proxy on a listener of its own), b
/// directly. The proxy stops forwarding for longer than a's session, so a's heartbeat goes
/// unanswered (no error, no disconnect). a must fence itself when its session runs out, not
/// when the request times out, before the coordinator gives its partitions to b; it rejoins
/// once the proxy forwards again.
async fn a_member_stalled_on_kafka_fences_itself_then_rejoins(
    _kind: BrokerKind,
    protocol: GroupProtocol,
) {
    if !KafkaInstall::is_available() {
        eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return;
    }
    let proxy = ChaosProxy::bind().expect("a proxy");
    let kafka = KafkaCluster::start(
        KafkaOptions::single()
            .with_security(false)
            .with_proxied_listener(proxy.port()),
    )
    .expect("kafka starts");
    proxy.set_target(kafka.proxied_addr().expect("the proxied listener"));
    let sc = Scenario::on_bootstrap(&kafka.bootstrap(), "stall", 4)
        .await
        .with_protocol(protocol);
    let producer = sc.produce(4);
    let a_client = member_client(&proxy.bootstrap(), "stall-a").await;
    let a = Member::start("a", &a_client, sc.range(), sc.subscription(), &sc.ledger);
    let b = sc.member("b", sc.range()).await;
    wait_split(&sc.ledger, "a and b split", &[("a", 2), ("b", 2)]).await;
    proxy.stall(true);
    let stalled = std::time::Instant::now();
    eventually(&sc.ledger, "a fences itself", SETTLE, |l| {
        l.losses("a").0 == 2
    })
    .await;
    let fenced_after = stalled.elapsed();
    wait_split(&sc.ledger, "b owns all", &[("b", 4)]).await;
    proxy.stall(false);
    wait_split(&sc.ledger, "a rejoined", &[("a", 2), ("b", 2)]).await;
    sc.all_delivered(producer).await;
    a.stop().await;
    b.stop().await;
    assert_eq!(sc.ledger.overlaps(), vec![], "a stopped before b took over");
    // The session: 6 s (classic, the member's), 10 s (consumer protocol, the broker's).
    let session = sc.range().membership.session_timeout;
    assert!(
        fenced_after < session * 2,
        "a fenced itself {fenced_after:?} after the stall: its session is {session:?}"
    );
    eprintln!(
        "stalled on Kafka ({protocol:?}): a fenced itself after {fenced_after:?}, rejoined; {} \
         duplicates (what a had not committed)",
        sc.ledger.duplicates()
    );
}

per_protocol!(a_member_stalled_on_kafka_fences_itself_then_rejoins: kafka => Kafka Classic, kafka_848 => Kafka Consumer);

/// A member that vanishes (the process killed: no commit, no LeaveGroup, no heartbeat) loses
/// its partitions to the others after its session times out; records it had not committed
/// are delivered again (at-least-once), nothing is lost.
async fn a_killed_member_is_replaced_after_its_session(kind: BrokerKind, protocol: GroupProtocol) {
    let broker = broker(kind).await;
    let mock = broker.mock().expect("the mock");
    let sc = Scenario::new(&broker, "kill", 4)
        .await
        .with_protocol(protocol);
    let producer = sc.produce(4);
    let a = sc.member("a", sc.range()).await;
    let b = sc.member("b", sc.range()).await;
    wait_split(&sc.ledger, "a and b split", &[("a", 2), ("b", 2)]).await;
    // Nothing from a reaches the cluster any more (not even the LeaveGroup a dropped
    // consumer sends), and a's application stops: a killed process, as the broker sees it.
    for api in MEMBER_APIS.into_iter().chain([ApiKey::LeaveGroup]) {
        mock.intercept(
            api,
            Intercept::always(Action::DropConnection).from_client("kill-a"),
        )
        .await;
    }
    let killed = std::time::Instant::now();
    a.kill();
    eventually(&sc.ledger, "b owns all", SETTLE, |l| {
        l.owners().values().filter(|o| *o == "b").count() == 4
    })
    .await;
    let moved_after = killed.elapsed();
    sc.all_delivered(producer).await;
    b.stop().await;
    assert!(
        moved_after >= Duration::from_secs(3),
        "partitions moved after {moved_after:?}, before the 6 s session could expire"
    );
    eprintln!(
        "killed member ({protocol:?}): partitions moved after {moved_after:?}; {} records \
         delivered again (uncommitted by a)",
        sc.ledger.duplicates()
    );
}

per_protocol!(a_killed_member_is_replaced_after_its_session: mock => Mock Classic, mock_848 => Mock Consumer);

/// The coordinator moves between brokers again and again while members join, sync, commit
/// and leave: nothing is lost or delivered twice, and no partition has two owners.
async fn the_coordinator_moves_while_members_join_and_commit(
    _kind: BrokerKind,
    protocol: GroupProtocol,
) {
    let mock = three_brokers().await;
    let sc = Scenario::on_mock(&mock, "move", 6)
        .await
        .with_protocol(protocol);
    let producer = sc.produce(6);
    let mover = {
        let mock = mock.clone();
        let group = sc.group.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let _ = mock.move_coordinator(&group, i % 3 + 1).await;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let a = sc.member("a", sc.range()).await;
    let b = sc.member("b", sc.range()).await;
    let c = sc.member("c", sc.range()).await;
    wait_split(&sc.ledger, "three members", &[("a", 2), ("b", 2), ("c", 2)]).await;
    b.stop().await;
    wait_split(&sc.ledger, "two members", &[("a", 3), ("c", 3)]).await;
    let _ = mover.await;
    sc.all_delivered(producer).await;
    a.stop().await;
    c.stop().await;
    assert_eq!(sc.ledger.overlaps(), vec![]);
    assert_eq!(
        sc.ledger.duplicates(),
        0,
        "graceful handoffs with auto-commit"
    );
}

per_protocol!(the_coordinator_moves_while_members_join_and_commit: mock => Mock Classic, mock_848 => Mock Consumer);

/// KIP-848 on the mock's fault injection: while two members share the partitions, the
/// coordinator answers heartbeats `COORDINATOR_LOAD_IN_PROGRESS` for a while, then loses the
/// answers of heartbeats it handled (the connection closes after the request took effect), then
/// a third member joins and leaves. Retried heartbeats are idempotent (same epoch, every field):
/// nobody is fenced, nothing is lost or delivered twice, no partition has two owners.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_refused_and_answers_lost_fence_nobody() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().expect("the mock");
    let sc = Scenario::new(&broker, "cghb", 4)
        .await
        .with_protocol(GroupProtocol::Consumer);
    let producer = sc.produce(4);
    let a = sc.member("a", sc.range()).await;
    let b = sc.member("b", sc.range()).await;
    wait_split(&sc.ledger, "a and b split", &[("a", 2), ("b", 2)]).await;
    let loading = mock
        .intercept(
            ApiKey::ConsumerGroupHeartbeat,
            Intercept::times(
                6,
                Action::Error(gregor_protocol::ErrorCode::CoordinatorLoadInProgress),
            ),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    mock.remove_intercept(loading).await;
    let lost = mock
        .intercept(
            ApiKey::ConsumerGroupHeartbeat,
            Intercept::times(6, Action::DropResponse),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c = sc.member("c", sc.range()).await;
    eventually(&sc.ledger, "c gets partitions", SETTLE, |l| {
        l.owners().values().any(|o| o == "c")
    })
    .await;
    c.stop().await;
    wait_split(&sc.ledger, "a and b split again", &[("a", 2), ("b", 2)]).await;
    mock.remove_intercept(lost).await;
    sc.all_delivered(producer).await;
    a.stop().await;
    b.stop().await;
    assert_eq!(
        sc.ledger.losses("a").0 + sc.ledger.losses("b").0,
        0,
        "nobody was fenced"
    );
    assert_eq!(sc.ledger.overlaps(), vec![]);
    assert_eq!(sc.ledger.duplicates(), 0);
}

/// The coordinator moves at the moment a JoinGroup, a SyncGroup and an OffsetCommit reach it
/// (the mock answers the parked requests NOT_COORDINATOR and reloads the group elsewhere):
/// the members find it again and the group settles with nothing lost or delivered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_moves_mid_join_mid_sync_and_mid_commit() {
    let mock = three_brokers().await;
    let sc = Scenario::on_mock(&mock, "mid", 4).await;
    let producer = sc.produce(4);
    let mut movers = Vec::new();
    for (api, nth) in [
        (ApiKey::JoinGroup, 2),
        (ApiKey::SyncGroup, 1),
        (ApiKey::OffsetCommit, 1),
    ] {
        let (rule, mut seen) = Intercept::observe();
        mock.intercept(api, rule).await;
        let mock = mock.clone();
        let group = sc.group.clone();
        movers.push(tokio::spawn(async move {
            for _ in 0..nth {
                seen.next().await;
            }
            let now = mock.coordinator_of(&group).await.unwrap_or(1);
            let to = now % 3 + 1;
            let moved = mock.move_coordinator(&group, to).await;
            eprintln!("{api:?}: coordinator {now} -> {to} ({moved:?})");
        }));
    }
    let a = sc.member("a", range(&sc.group)).await;
    let b = sc.member("b", range(&sc.group)).await;
    wait_split(&sc.ledger, "a and b split", &[("a", 2), ("b", 2)]).await;
    for mover in movers {
        tokio::time::timeout(SETTLE, mover)
            .await
            .expect("every move happened")
            .expect("the mover");
    }
    sc.all_delivered(producer).await;
    a.stop().await;
    b.stop().await;
    assert_eq!(sc.ledger.overlaps(), vec![]);
    assert_eq!(sc.ledger.duplicates(), 0);
}

/// A second static member with the same group.instance.id fences the first: its next call
/// fails with a typed error naming the instance id, once, without a retry loop.
async fn a_duplicate_instance_id_fences_the_old_member(kind: BrokerKind) {
    let broker = broker(kind).await;
    let sc = Scenario::new(&broker, "fence", 2).await;
    let producer = sc.produce(2);
    let statically = || {
        let mut s = range(&sc.group);
        s.membership.instance_id = Some("pod-x".to_owned());
        s.leave_on_close = false;
        s
    };
    let mut old = gregor_consumer::GroupConsumer::new(
        sc.client_for("old").await,
        statically(),
        sc.subscription(),
    );
    next_chunk_where(&mut old, |_| true).await;
    let mut new = gregor_consumer::GroupConsumer::new(
        sc.client_for("new").await,
        statically(),
        sc.subscription(),
    );
    next_chunk_where(&mut new, |_| true).await;
    let error = tokio::time::timeout(SETTLE, async {
        loop {
            match old.next().await {
                Ok(_) => continue,
                Err(error) => break error,
            }
        }
    })
    .await
    .expect("the old member is fenced in time");
    match &error {
        gregor_consumer::GroupError::FencedInstanceId { instance_id } => {
            assert_eq!(instance_id, "pod-x");
        }
        other => panic!("expected FencedInstanceId, got {other:?}"),
    }
    assert!(error.to_string().contains("pod-x"), "{error}");
    assert!(matches!(
        old.next().await,
        Err(gregor_consumer::GroupError::Closed)
    ));
    producer.stop().await;
    new.close().await.expect("close");
}

per_kind!(a_duplicate_instance_id_fences_the_old_member: mock => Mock, kafka => Kafka);
