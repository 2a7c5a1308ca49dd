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

use gregor_consumer::group::config::GroupProtocol;
use gregor_consumer::group::consumer::{GroupConsumer, GroupConsumerSettings, GroupEvent};
use gregor_consumer::group::errors::GroupError;
use gregor_consumer::group::task::Subscription;
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{create_topic_on, unique_name};
use group_support::{Ledger, Member, Producer, eventually, partitions, settings};
use stream_support::{broker, client, per_kind};

/// The members that join after the first.
const OTHERS: [&str; 4] = ["b", "c", "d", "e"];

/// Test settings for the consumer protocol with the coordinator's `assignor`. The session
/// timeout is the test brokers' `group.consumer.session.timeout.ms` (10 s): the member gives
/// its partitions up when it has not been heard for that long.
fn consumer_protocol(group: &str, assignor: &str) -> GroupConsumerSettings {
    let mut s = settings(group, Vec::new());
    s.group_protocol = GroupProtocol::Consumer;
    s.remote_assignor = Some(assignor.to_owned());
    s.membership.session_timeout = Duration::from_secs(10);
    s
}

/// 1 -> 5 -> 1 members with auto-commit and graceful leaves while a producer appends: every
/// offset is delivered, none twice, no partition has two owners at once, five members split
/// ten partitions two each, and partitions that stay with their owner keep flowing.
async fn members_come_and_go(kind: BrokerKind, assignor: &str) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("g848-come-go");
    create_topic_on(&broker, &client, &topic, 10).await;
    let group = unique_name("g");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 10, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let start = |name: &str| {
        Member::start(
            name,
            &client,
            consumer_protocol(&group, assignor),
            subscription.clone(),
            &ledger,
        )
    };

    let a = start("a");
    eventually(&ledger, "a owns all", Duration::from_secs(30), |l| {
        l.owners().len() == 10
    })
    .await;
    let joined = Instant::now();
    let others: Vec<Member> = OTHERS.iter().map(|name| start(name)).collect();
    eventually(
        &ledger,
        "five owners, two each",
        Duration::from_secs(45),
        |l| {
            let owners = l.owners();
            owners.len() == 10
                && std::iter::once("a")
                    .chain(OTHERS)
                    .all(|m| owners.values().filter(|o| *o == m).count() == 2)
        },
    )
    .await;
    let settled = Instant::now();
    let kept_gap = ledger.longest_gap_of_kept("a", joined, settled);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for member in others {
        member.stop().await;
    }
    eventually(&ledger, "a owns all again", Duration::from_secs(30), |l| {
        let owners = l.owners();
        owners.len() == 10 && owners.values().all(|o| o == "a")
    })
    .await;
    let ends = producer.stop().await;
    eventually(
        &ledger,
        "every offset delivered",
        Duration::from_secs(30),
        |l| l.gaps(&ends).is_empty(),
    )
    .await;
    a.stop().await;

    assert_eq!(
        ends.keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        partitions(&topic, 10)
    );
    let produced: i64 = ends.values().sum();
    assert_eq!(
        ledger.overlaps(),
        vec![],
        "a partition had two owners at once"
    );
    assert_eq!(
        ledger.duplicates(),
        0,
        "duplicates among {produced} records"
    );
    eprintln!(
        "{kind} consumer protocol, {assignor}: {produced} records, 0 gaps, 0 duplicates, \
         0 overlaps; partitions a kept while four members joined: longest delivery gap \
         {kept_gap:?}; 1 -> 5 members settled in {:?}",
        settled - joined
    );
    // I5: no group-wide barrier; what does not move keeps flowing (heartbeats 500 ms).
    assert!(
        kept_gap < Duration::from_secs(1),
        "a partition that did not move waited {kept_gap:?}"
    );
}

async fn uniform(kind: BrokerKind) {
    members_come_and_go(kind, "uniform").await;
}

per_kind!(uniform: mock => Mock, kafka => Kafka);

async fn range(kind: BrokerKind) {
    members_come_and_go(kind, "range").await;
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
    let mut owned_by_one = next_matching(&mut one, Duration::from_secs(30), assigned).await;
    next_matching(&mut two, Duration::from_secs(30), assigned).await;
    // Wait for the split (two each) before restarting one.
    let deadline = Instant::now() + Duration::from_secs(30);
    while owned_by_one.len() != 2 {
        assert!(Instant::now() < deadline, "no 2/2 split: {owned_by_one:?}");
        let event = tokio::time::timeout(Duration::from_millis(200), one.next()).await;
        match event {
            Ok(Ok(GroupEvent::Assigned(p))) => owned_by_one.extend(p),
            Ok(Ok(GroupEvent::Revoked(p))) => owned_by_one.retain(|tp| !p.contains(tp)),
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => panic!("one: {e}"),
        }
        tokio::select! {
            _ = two.next() => {}
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
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
