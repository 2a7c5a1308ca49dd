//! The group consumer with KIP-848's consumer protocol (`group.protocol=consumer`) on Apache
//! Kafka and on our mock: the classic suite's scenario (members come and go while a producer
//! appends; the ledger checks exclusive ownership, no gap, no duplicate, balance) with the
//! coordinator's assignors, plus what only this protocol has: a regex subscription the
//! coordinator matches (a topic created after the join is not stranded), static members
//! leaving temporarily and coming back, `UNRELEASED_INSTANCE_ID`, and the fallback to the
//! classic protocol on a broker without it.

mod group_support;
mod stream_support;

use std::time::{Duration, Instant};

use gregor_consumer::group::consumer::{GroupConsumer, GroupEvent};
use gregor_consumer::group::errors::GroupError;
use gregor_consumer::group::task::Subscription;
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{create_topic_on, unique_name};
use group_support::come_and_go::members_come_and_go;
use group_support::scenario::consumer_protocol;
use group_support::{Producer, partitions};
use stream_support::{broker, client, per_kind};

/// The classic suite's main scenario (`group_support::come_and_go`) with the coordinator's
/// uniform assignor; heartbeats every 500 ms, so partitions that do not move wait less than
/// two of them (no group-wide barrier).
async fn uniform(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    members_come_and_go(
        &broker,
        &client,
        &format!("{kind} consumer protocol, uniform"),
        |g| consumer_protocol(g, "uniform"),
        Some(Duration::from_secs(1)),
    )
    .await;
}

per_kind!(uniform: mock => Mock, kafka => Kafka);

/// The same with the coordinator's range assignor.
async fn range(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    members_come_and_go(
        &broker,
        &client,
        &format!("{kind} consumer protocol, range"),
        |g| consumer_protocol(g, "range"),
        Some(Duration::from_secs(1)),
    )
    .await;
}

per_kind!(range: mock => Mock, kafka => Kafka);

/// Waits up to `limit` for an event `pick` accepts, returning what it picked.
async fn next_matching<T>(
    consumer: &mut GroupConsumer,
    limit: Duration,
    mut pick: impl FnMut(GroupEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(limit, async {
        loop {
            let event = consumer.next().await.expect("an event");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    })
    .await
    .expect("the event within the limit")
}

/// A regex subscription is matched by the coordinator: a topic created after the member
/// joined is assigned to it (its id resolved once the metadata names it), and records
/// produced to it are delivered.
async fn a_regex_topic_created_after_joining_is_assigned(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let prefix = unique_name("g848re");
    let first = format!("{prefix}-one");
    create_topic_on(&broker, &client, &first, 2).await;
    let group = unique_name("g");
    let regex = regex::Regex::new(&format!("{prefix}-.*")).expect("a regex");
    let mut consumer = GroupConsumer::new(
        client.clone(),
        consumer_protocol(&group, "uniform"),
        Subscription::Pattern(regex),
    );
    let assigned = next_matching(&mut consumer, Duration::from_secs(30), |e| match e {
        GroupEvent::Assigned(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(
        assigned
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
        partitions(&first, 2)
    );
    let later = format!("{prefix}-two");
    create_topic_on(&broker, &client, &later, 3).await;
    let started = Instant::now();
    let added = next_matching(&mut consumer, Duration::from_secs(60), |e| match e {
        GroupEvent::Assigned(p) => Some(p),
        _ => None,
    })
    .await;
    eprintln!(
        "{kind}: the topic created after the join was assigned {:?} later",
        started.elapsed()
    );
    assert_eq!(
        added.into_iter().collect::<std::collections::BTreeSet<_>>(),
        partitions(&later, 3)
    );
    consumer.close().await.expect("closes");
}

per_kind!(a_regex_topic_created_after_joining_is_assigned: mock => Mock, kafka => Kafka);

/// Polls `members` in turn (each call acknowledges the event before it, which completes a
/// revocation), keeping `owned` up to date, until `done` holds for it, then once more each.
async fn poll_both(
    members: [&mut GroupConsumer; 2],
    owned: &mut [Vec<gregor_consumer::TopicPartition>; 2],
    done: impl Fn(&[Vec<gregor_consumer::TopicPartition>; 2]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last_round = false;
    let [a, b] = members;
    loop {
        for (i, member) in [&mut *a, &mut *b].into_iter().enumerate() {
            match tokio::time::timeout(Duration::from_millis(100), member.next()).await {
                Ok(Ok(GroupEvent::Assigned(p))) => owned[i].extend(p),
                Ok(Ok(GroupEvent::Revoked(p) | GroupEvent::Lost(p))) => {
                    owned[i].retain(|tp| !p.contains(tp));
                }
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(e)) => panic!("member {i}: {e}"),
            }
        }
        if last_round {
            return;
        }
        last_round = done(owned);
        assert!(Instant::now() < deadline, "not reached in 30 s: {owned:?}");
    }
}

/// A static member that closes leaves temporarily (epoch -2): a member with the same
/// instance id that starts within the session gets the same partitions back at once, and
/// a second member with an instance id in use is refused with a typed error.
async fn a_static_member_comes_back_and_a_duplicate_is_refused(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("g848-static");
    create_topic_on(&broker, &client, &topic, 4).await;
    let group = unique_name("g");
    let member = |instance: &str| {
        let mut s = consumer_protocol(&group, "uniform");
        s.membership.instance_id = Some(instance.to_owned());
        GroupConsumer::new(client.clone(), s, Subscription::Topics(vec![topic.clone()]))
    };
    let assigned = |e: GroupEvent| match e {
        GroupEvent::Assigned(p) => Some(p),
        _ => None,
    };
    let mut one = member("pod-1");
    let mut two = member("pod-2");
    // The split (two each) before anything else, acknowledged by both (a revocation
    // completes at the member's next call).
    let mut owned = [Vec::new(), Vec::new()];
    poll_both([&mut one, &mut two], &mut owned, |o| {
        o.iter().all(|p| p.len() == 2)
    })
    .await;
    let [mut owned_by_one, _] = owned;
    owned_by_one.sort();

    // A duplicate of pod-2 while pod-2 is in the group.
    let mut duplicate = member("pod-2");
    let refused = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match duplicate.next().await {
                Ok(_) => continue,
                Err(e) => break e,
            }
        }
    })
    .await
    .expect("refused within 30 s");
    assert!(
        matches!(&refused, GroupError::UnreleasedInstanceId { instance_id } if instance_id == "pod-2"),
        "{refused:?}"
    );

    one.close().await.expect("one leaves temporarily");
    let back = Instant::now();
    let mut again = member("pod-1");
    let mut reassigned = next_matching(&mut again, Duration::from_secs(30), assigned).await;
    reassigned.sort();
    eprintln!(
        "{kind}: pod-1 came back with its partitions in {:?}",
        back.elapsed()
    );
    assert_eq!(reassigned, owned_by_one, "the same partitions come back");
    again.close().await.expect("closes");
    two.close().await.expect("closes");
}

per_kind!(a_static_member_comes_back_and_a_duplicate_is_refused: mock => Mock, kafka => Kafka);

/// On a broker without the consumer protocol (tansu), a member configured to fall back
/// joins with the classic protocol; one that is not stops with a typed error.
async fn falls_back_to_classic_only_when_allowed(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("g848-fallback");
    create_topic_on(&broker, &client, &topic, 2).await;
    let group = unique_name("g");
    let mut strict = GroupConsumer::new(
        client.clone(),
        consumer_protocol(&group, "uniform"),
        Subscription::Topics(vec![topic.clone()]),
    );
    let error = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Err(e) = strict.next().await {
                break e;
            }
        }
    })
    .await
    .expect("fails within 30 s");
    assert!(
        matches!(error, GroupError::UnsupportedVersion { .. }),
        "{error:?}"
    );
    let mut s = consumer_protocol(&group, "uniform");
    s.protocol_fallback = true;
    s.membership.assignors =
        vec![gregor_consumer::group::assignor::builtin("range").expect("range")];
    let mut lenient =
        GroupConsumer::new(client.clone(), s, Subscription::Topics(vec![topic.clone()]));
    let assigned = next_matching(&mut lenient, Duration::from_secs(30), |e| match e {
        GroupEvent::Assigned(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(assigned.len(), 2);
    lenient.close().await.expect("closes");
}

per_kind!(falls_back_to_classic_only_when_allowed: tansu => Tansu);

/// A commit the coordinator refuses with `STALE_MEMBER_EPOCH` (a heartbeat answer moved the
/// member on while the commit travelled) is sent again with the member's epoch, never failed
/// (pitfall 10 of the notes: clients that gave up there skipped or re-read offsets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_refused_for_a_stale_epoch_is_sent_again() {
    use gregor_protocol::{ApiKey, ErrorCode};
    use gregor_testkit::mock::{Action, Intercept};
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().expect("the mock");
    let client = client(&broker).await;
    let topic = unique_name("g848-stale");
    create_topic_on(&broker, &client, &topic, 1).await;
    let producer = Producer::start(&client, &topic, 1, 3, Duration::from_millis(50));
    let mut s = consumer_protocol(&unique_name("g"), "uniform");
    s.auto_commit = None;
    let mut consumer =
        GroupConsumer::new(client.clone(), s, Subscription::Topics(vec![topic.clone()]));
    let tp = gregor_consumer::TopicPartition::new(topic.as_str(), 0);
    let next = next_matching(&mut consumer, Duration::from_secs(30), |e| match e {
        GroupEvent::Records(chunk) => Some(chunk.next_offset()),
        _ => None,
    })
    .await;
    let rule = mock
        .intercept(
            ApiKey::OffsetCommit,
            Intercept::times(2, Action::Error(ErrorCode::StaleMemberEpoch)),
        )
        .await;
    // Asking for the next event acknowledges the chunk; then commit it.
    next_matching(&mut consumer, Duration::from_secs(30), |e| {
        matches!(e, GroupEvent::Records(_)).then_some(())
    })
    .await;
    consumer
        .commit()
        .await
        .expect("committed despite two stale-epoch refusals");
    mock.remove_intercept(rule).await;
    let committed = consumer.committed(&tp).expect("a committed offset");
    assert!(committed >= next, "committed {committed}, finished {next}");
    producer.stop().await;
    consumer.close().await.expect("closes");
}
