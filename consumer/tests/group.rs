//! The group consumer on our mock and on Apache Kafka: members join and leave while a producer
//! appends; the delivery ledger checks exclusive ownership, no gap and no duplicate.

mod group_support;
mod stream_support;

use std::time::Duration;

use gregor_consumer::group::assignor::{SharedAssignor, builtin};
use gregor_consumer::group::task::Subscription;
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{create_topic_on, unique_name};
use group_support::come_and_go::members_come_and_go;
use group_support::settings;
use stream_support::{broker, client, per_kind};

fn assignors(name: &str) -> Vec<SharedAssignor> {
    vec![builtin(name).expect("a built-in assignor")]
}

/// Also on tansu. Not on librdkafka's mock, which lists JoinGroup v6 but cannot parse it
/// (testkit/README.md, conformance). Cooperative runs on the mock and Kafka only: on tansu
/// its ledger holds (0 gaps, 0 duplicates, 0 overlaps) but a kept partition waited 1.09 s
/// (the conformance table).
async fn eager_range(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    members_come_and_go(
        &broker,
        &client,
        &format!("{kind} range"),
        |g| settings(g, assignors("range")),
        None,
    )
    .await;
}

per_kind!(eager_range: mock => Mock, kafka => Kafka, tansu => Tansu);

/// Heartbeats every 300 ms: partitions that do not move wait less than two of them.
async fn cooperative_sticky(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    members_come_and_go(
        &broker,
        &client,
        &format!("{kind} cooperative-sticky"),
        |g| settings(g, assignors("cooperative-sticky")),
        Some(Duration::from_millis(600)),
    )
    .await;
}

per_kind!(cooperative_sticky: mock => Mock, kafka => Kafka);

/// A rebalance the coordinator announces in a heartbeat reaches the application at once. With
/// heartbeats 4 s apart, member a hears that b joined at its first heartbeat (about 4 s after
/// its assignment, when b starts) and must hand the application its eager revocation then,
/// not one more heartbeat later: the revocation the membership starts in `next_step` used to
/// wait in the task until the next heartbeat (found by the rebalance benchmark: eager
/// rebalances took one heartbeat interval longer than Java's and librdkafka's).
async fn a_revocation_is_heard_before_the_next_heartbeat(kind: BrokerKind) {
    use gregor_consumer::{GroupConsumer, GroupEvent};
    const HEARTBEAT: Duration = Duration::from_secs(4);
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("group-heard");
    create_topic_on(&broker, &client, &topic, 2).await;
    let group = unique_name("g");
    let member = || {
        let mut s = settings(&group, assignors("range"));
        s.membership.heartbeat_interval = HEARTBEAT;
        s.membership.session_timeout = Duration::from_secs(12);
        GroupConsumer::new(client.clone(), s, Subscription::Topics(vec![topic.clone()]))
    };
    let mut a = member();
    let wait_for = |what: &'static str| {
        move |event: &GroupEvent| match what {
            "assigned" => matches!(event, GroupEvent::Assigned(_)),
            _ => matches!(event, GroupEvent::Revoked(_)),
        }
    };
    let is_assigned = wait_for("assigned");
    tokio::time::timeout(Duration::from_secs(30), async {
        while !is_assigned(&a.next().await.expect("an event")) {}
    })
    .await
    .expect("a assigned within 30 s");
    let b_started = std::time::Instant::now();
    let mut b = member();
    let b_task = tokio::spawn(async move {
        let is_assigned = wait_for("assigned");
        while !is_assigned(&b.next().await.expect("an event")) {}
        b
    });
    let is_revoked = wait_for("revoked");
    tokio::time::timeout(Duration::from_secs(30), async {
        while !is_revoked(&a.next().await.expect("an event")) {}
    })
    .await
    .expect("a revoked within 30 s");
    let heard = b_started.elapsed();
    eprintln!(
        "{kind}: a heard of the rebalance {heard:?} after b started (heartbeat {HEARTBEAT:?})"
    );
    assert!(
        heard < HEARTBEAT + HEARTBEAT / 2,
        "the revocation reached the application {heard:?} after b started: later than the \
         first heartbeat ({HEARTBEAT:?})"
    );
    // a rejoins; b gets its partition; both leave.
    let b = tokio::time::timeout(Duration::from_secs(30), async {
        let mut b_task = b_task;
        loop {
            tokio::select! {
                b = &mut b_task => break b.expect("b's task"),
                event = a.next() => { event.expect("an event"); }
            }
        }
    })
    .await
    .expect("b assigned within 30 s");
    b.close().await.expect("b closes");
    a.close().await.expect("a closes");
}

per_kind!(a_revocation_is_heard_before_the_next_heartbeat: mock => Mock, kafka => Kafka);
