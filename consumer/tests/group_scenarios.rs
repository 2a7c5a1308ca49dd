//! Group-consumer scenarios on our mock and Apache Kafka: a static member restarting within its
//! session, processing longer than the session timeout, a member missing
//! `max.poll.interval.ms`, a pattern subscription meeting a new topic, partitions added; and on
//! the mock only (its control API): a member cut off from the cluster longer than its session,
//! and the coordinator moving while members join, sync and commit.

mod group_support;
mod stream_support;

use std::time::Duration;

use gregor_client::admin::Admin;
use gregor_consumer::group::assignor::builtin;
use gregor_consumer::group::consumer::GroupConsumerSettings;
use gregor_consumer::group::task::Subscription;
use gregor_protocol::ApiKey;
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{create_topic_on, test_client_config, unique_name};
use gregor_testkit::mock::{Action, Intercept};
use group_support::{Behaviour, Ledger, Member, Producer, eventually, settings};
use stream_support::{broker, per_kind};

const SETTLE: Duration = Duration::from_secs(40);

/// A client of its own for a member (its client id names it), with metadata refreshed every
/// half second so that new topics and partitions show up quickly.
async fn member_client(bootstrap: &str, id: &str) -> gregor_client::Client {
    let config = test_client_config(bootstrap, id)
        .metadata_max_age(Duration::from_millis(500))
        .build()
        .expect("a client configuration");
    gregor_client::Client::connect(config)
        .await
        .expect("the client connects")
}

fn range(group: &str) -> GroupConsumerSettings {
    settings(group, vec![builtin("range").expect("built in")])
}

/// Waits until the owners are exactly `split` (member, partition count).
async fn wait_split(ledger: &Ledger, what: &str, split: &[(&str, usize)]) {
    eventually(ledger, what, SETTLE, |l| {
        let owners = l.owners();
        let total: usize = split.iter().map(|(_, n)| n).sum();
        owners.len() == total
            && split
                .iter()
                .all(|(m, n)| owners.values().filter(|o| o == m).count() == *n)
    })
    .await;
}

/// A static member that closes without leaving and comes back within its session gets the
/// same partitions, and the other member sees no rebalance.
async fn static_member_restarts(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "static-setup").await;
    let topic = unique_name("group-static");
    create_topic_on(&broker, &client, &topic, 6).await;
    let group = unique_name("static");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 6, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let statically = |instance: &str| {
        let mut s = range(&group);
        s.membership.instance_id = Some(instance.to_owned());
        s.leave_on_close = false;
        s
    };
    let a = Member::start(
        "a",
        &member_client(&broker.bootstrap(), "static-a").await,
        statically("pod-a"),
        subscription.clone(),
        &ledger,
    );
    let b = Member::start(
        "b",
        &member_client(&broker.bootstrap(), "static-b").await,
        statically("pod-b"),
        subscription.clone(),
        &ledger,
    );
    wait_split(&ledger, "a and b split", &[("a", 3), ("b", 3)]).await;
    let before: Vec<_> = ledger
        .owners()
        .into_iter()
        .filter(|(_, o)| o == "a")
        .map(|(tp, _)| tp)
        .collect();
    let generation = match broker.mock() {
        Some(mock) => mock.group_generation(&group).await,
        None => None,
    };
    let b_releases = ledger.releases("b");
    a.stop().await;
    let a2 = Member::start(
        "a2",
        &member_client(&broker.bootstrap(), "static-a2").await,
        statically("pod-a"),
        subscription.clone(),
        &ledger,
    );
    wait_split(
        &ledger,
        "the restarted a gets its partitions back",
        &[("a2", 3), ("b", 3)],
    )
    .await;
    let after: Vec<_> = ledger
        .owners()
        .into_iter()
        .filter(|(_, o)| o == "a2")
        .map(|(tp, _)| tp)
        .collect();
    assert_eq!(after, before, "the same partitions as before the restart");
    assert_eq!(ledger.releases("b"), b_releases, "b saw no rebalance");
    if let (Some(mock), Some(generation)) = (broker.mock(), generation) {
        assert_eq!(
            mock.group_generation(&group).await,
            Some(generation),
            "no new generation"
        );
    }
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    a2.stop().await;
    b.stop().await;
    assert_eq!(ledger.duplicates(), 0);
    eprintln!(
        "{kind}: static restart kept {} partitions, no rebalance, 0 duplicates",
        after.len()
    );
}

per_kind!(static_member_restarts: mock => Mock, kafka => Kafka);

/// Processing a chunk for longer than the session timeout (but under max.poll.interval.ms)
/// keeps the membership: heartbeats go on in the background.
async fn slow_processing_keeps_membership(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "slow-setup").await;
    let topic = unique_name("group-slow");
    create_topic_on(&broker, &client, &topic, 3).await;
    let group = unique_name("slow");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 3, 3, Duration::from_millis(100));
    let behaviour = Behaviour {
        stall_after_first_records: Some(Duration::from_secs(8)),
        ..Behaviour::default()
    };
    let a = Member::start_with(
        "a",
        &member_client(&broker.bootstrap(), "slow-a").await,
        range(&group),
        Subscription::Topics(vec![topic.clone()]),
        &ledger,
        behaviour,
    );
    // Session timeout 6 s; the member holds its first chunk for 8 s.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    a.stop().await;
    assert_eq!(
        ledger.losses("a"),
        (0, 0),
        "no partition lost, no poll timeout"
    );
    assert_eq!(ledger.releases("a"), 1, "released only when closing");
    assert_eq!(ledger.duplicates(), 0);
}

per_kind!(slow_processing_keeps_membership: mock => Mock, kafka => Kafka);

/// A member that does not poll within max.poll.interval.ms leaves: the other member takes
/// its partitions; when it polls again it is told (lost, then the poll timeout) and rejoins.
async fn poll_interval_exceeded(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "poll-setup").await;
    let topic = unique_name("group-poll");
    create_topic_on(&broker, &client, &topic, 4).await;
    let group = unique_name("poll");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 4, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let b = Member::start(
        "b",
        &member_client(&broker.bootstrap(), "poll-b").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    wait_split(&ledger, "b owns all", &[("b", 4)]).await;
    let mut slow = range(&group);
    slow.max_poll_interval = Duration::from_secs(3);
    let a = Member::start_with(
        "a",
        &member_client(&broker.bootstrap(), "poll-a").await,
        slow,
        subscription.clone(),
        &ledger,
        Behaviour {
            stall_after_first_records: Some(Duration::from_secs(7)),
            ..Behaviour::default()
        },
    );
    eventually(
        &ledger,
        "a is told it missed the poll interval",
        SETTLE,
        |l| l.losses("a").1 == 1,
    )
    .await;
    let (lost, timeouts) = ledger.losses("a");
    assert_eq!(
        (lost, timeouts),
        (2, 1),
        "a lost its two partitions and was told once"
    );
    wait_split(&ledger, "a rejoined", &[("a", 2), ("b", 2)]).await;
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    a.stop().await;
    b.stop().await;
    eprintln!(
        "{kind}: a missed max.poll.interval.ms, lost 2 partitions, rejoined; {} duplicates (a's held chunk)",
        ledger.duplicates()
    );
}

per_kind!(poll_interval_exceeded: mock => Mock, kafka => Kafka);

/// A pattern subscription picks up a topic created after the members joined, and lets go of
/// a topic deleted while they run.
async fn pattern_meets_a_new_topic(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "pattern-setup").await;
    let prefix = unique_name("pattern");
    let first = format!("{prefix}-one");
    create_topic_on(&broker, &client, &first, 2).await;
    let group = unique_name("pattern");
    let ledger = Ledger::default();
    let regex = regex::Regex::new(&format!("{}-.*", regex::escape(&prefix))).expect("a regex");
    let subscription = Subscription::Pattern(regex);
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
    wait_split(&ledger, "only the second topic left", &[("a", 1), ("b", 1)]).await;
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

per_kind!(pattern_meets_a_new_topic: mock => Mock, kafka => Kafka);

/// Partitions added to a subscribed topic are assigned (the leader sees the count change).
async fn partitions_added(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "grow-setup").await;
    let topic = unique_name("group-grow");
    create_topic_on(&broker, &client, &topic, 2).await;
    let group = unique_name("grow");
    let ledger = Ledger::default();
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let a = Member::start(
        "a",
        &member_client(&broker.bootstrap(), "grow-a").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    let b = Member::start(
        "b",
        &member_client(&broker.bootstrap(), "grow-b").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    wait_split(&ledger, "two partitions split", &[("a", 1), ("b", 1)]).await;
    let added = Admin::new(client.clone())
        .create_partitions(&[(topic.clone(), 4)], false)
        .await
        .expect("CreatePartitions");
    assert!(added.values().all(Result::is_ok), "{added:?}");
    wait_split(&ledger, "four partitions split", &[("a", 2), ("b", 2)]).await;
    let producer = Producer::start(&client, &topic, 4, 3, Duration::from_millis(100));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    a.stop().await;
    b.stop().await;
}

per_kind!(partitions_added: mock => Mock, kafka => Kafka);

/// The APIs a member uses: cutting them all for one client id cuts that member off.
const MEMBER_APIS: [ApiKey; 9] = [
    ApiKey::Heartbeat,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::Fetch,
    ApiKey::FindCoordinator,
    ApiKey::Metadata,
    ApiKey::ListOffsets,
];

/// A member cut off from the cluster for longer than its session stops delivering its
/// partitions before the coordinator gives them away (no partition has two owners), and
/// rejoins once the network is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cut_off_fences_itself_then_rejoins() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().expect("the mock");
    let client = member_client(&broker.bootstrap(), "cut-setup").await;
    let topic = unique_name("group-cut");
    create_topic_on(&broker, &client, &topic, 4).await;
    let group = unique_name("cut");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 4, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let a = Member::start(
        "a",
        &member_client(&broker.bootstrap(), "cut-a").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    let b = Member::start(
        "b",
        &member_client(&broker.bootstrap(), "cut-b").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    wait_split(&ledger, "a and b split", &[("a", 2), ("b", 2)]).await;
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
    eventually(&ledger, "a fences itself", SETTLE, |l| l.losses("a").0 == 2).await;
    wait_split(&ledger, "b owns all", &[("b", 4)]).await;
    for rule in rules {
        mock.remove_intercept(rule).await;
    }
    wait_split(&ledger, "a rejoined", &[("a", 2), ("b", 2)]).await;
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    a.stop().await;
    b.stop().await;
    assert_eq!(ledger.overlaps(), vec![], "a stopped before b took over");
    eprintln!(
        "cut off: a fenced itself, rejoined; {} duplicates (what a had not committed)",
        ledger.duplicates()
    );
}

/// The coordinator moves between brokers again and again while members join, sync, commit
/// and leave: nothing is lost or delivered twice, and no partition has two owners.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_moves_while_members_join_and_commit() {
    let mock = std::sync::Arc::new(
        gregor_testkit::mock::MockCluster::builder()
            .brokers(3)
            .start()
            .await
            .expect("a 3-broker mock"),
    );
    let bootstrap = mock.bootstrap();
    let client = member_client(&bootstrap, "move-setup").await;
    let topic = unique_name("group-move");
    mock.create_topic(&topic, 6).await.expect("the topic");
    let group = unique_name("move");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 6, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let mover = {
        let mock = mock.clone();
        let group = group.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let _ = mock.move_coordinator(&group, i % 3 + 1).await;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let a = Member::start(
        "a",
        &member_client(&bootstrap, "move-a").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    let b = Member::start(
        "b",
        &member_client(&bootstrap, "move-b").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    let c = Member::start(
        "c",
        &member_client(&bootstrap, "move-c").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    wait_split(&ledger, "three members", &[("a", 2), ("b", 2), ("c", 2)]).await;
    b.stop().await;
    wait_split(&ledger, "two members", &[("a", 3), ("c", 3)]).await;
    let _ = mover.await;
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    a.stop().await;
    c.stop().await;
    assert_eq!(ledger.overlaps(), vec![]);
    assert_eq!(ledger.duplicates(), 0, "graceful handoffs with auto-commit");
}

/// Reads until `pred` holds for a chunk (skipping group events), returning that chunk's
/// partition and first offset.
async fn next_chunk_where(
    consumer: &mut gregor_consumer::GroupConsumer,
    mut pred: impl FnMut(&gregor_consumer::RecordChunk) -> bool,
) -> (gregor_consumer::TopicPartition, i64) {
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        assert!(std::time::Instant::now() < deadline, "no such chunk");
        let event = tokio::time::timeout(SETTLE, consumer.next())
            .await
            .expect("an event in time")
            .expect("no error");
        if let gregor_consumer::GroupEvent::Records(chunk) = event {
            if pred(&chunk) {
                let first = chunk.as_slice().first().map_or(-1, |r| r.offset);
                return (chunk.topic_partition().clone(), first);
            }
        }
    }
}

/// pause holds a partition back while the others flow; resume brings it back; seek moves a
/// position (and is what the next commit stores).
async fn seek_pause_resume(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "seek-setup").await;
    let topic = unique_name("group-seek");
    create_topic_on(&broker, &client, &topic, 2).await;
    let group = unique_name("seek");
    let producer = Producer::start(&client, &topic, 2, 5, Duration::from_millis(50));
    let p0 = gregor_consumer::TopicPartition::new(topic.as_str(), 0);
    let p1 = gregor_consumer::TopicPartition::new(topic.as_str(), 1);
    let mut consumer = gregor_consumer::GroupConsumer::new(
        member_client(&broker.bootstrap(), "seek-a").await,
        range(&group),
        Subscription::Topics(vec![topic.clone()]),
    );
    next_chunk_where(&mut consumer, |c| c.topic_partition() == &p1).await;
    consumer.pause(std::slice::from_ref(&p1));
    // Let whatever was in flight for p1 drain, then only p0 comes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut seen_p1 = 0;
    for _ in 0..20 {
        let (tp, _) = next_chunk_where(&mut consumer, |_| true).await;
        if tp == p1 {
            seen_p1 += 1;
        }
    }
    assert!(
        seen_p1 <= 1,
        "a paused partition kept flowing ({seen_p1} chunks)"
    );
    consumer.resume(std::slice::from_ref(&p1));
    next_chunk_where(&mut consumer, |c| c.topic_partition() == &p1).await;
    let log_end = {
        let lag = consumer.lag(&p0).expect("p0 was fetched");
        consumer.position(&p0).expect("owned") + lag
    };
    consumer
        .seek(&p0, gregor_consumer::StartAt::Offset(3))
        .expect("seek an owned partition");
    // Lag is the log end the last fetch saw minus the position: the seek went back.
    assert_eq!(consumer.lag(&p0), Some(log_end - 3));
    let (_, first) = next_chunk_where(&mut consumer, |c| c.topic_partition() == &p0).await;
    assert_eq!(first, 3, "the first record after the seek");
    // A background commit of what was finished; awaiting it says how it went.
    let (tp, _) = next_chunk_where(&mut consumer, |c| c.topic_partition() == &p0).await;
    let pending = consumer.commit_async();
    let finished = consumer.finished(&tp).expect("a finished chunk");
    pending.await.expect("the commit");
    let stored = Admin::new(client.clone())
        .fetch_offsets(&group, Some(std::slice::from_ref(&tp)), Default::default())
        .await
        .expect("OffsetFetch");
    let stored = stored
        .get(&tp)
        .and_then(|r| r.as_ref().ok())
        .and_then(|c| c.as_ref())
        .map(|c| c.offset);
    assert_eq!(
        stored,
        Some(finished),
        "commit_async stored what was finished"
    );
    assert!(matches!(
        consumer.seek(
            &gregor_consumer::TopicPartition::new("elsewhere", 0),
            gregor_consumer::StartAt::Offset(0)
        ),
        Err(gregor_consumer::GroupError::NotAssigned { .. })
    ));
    producer.stop().await;
    consumer.close().await.expect("close");
}

per_kind!(seek_pause_resume: mock => Mock, kafka => Kafka);

/// A second static member with the same group.instance.id fences the first: its next call
/// fails with a typed error naming the instance id, once, without a retry loop.
async fn a_duplicate_instance_id_fences_the_old_member(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "fence-setup").await;
    let topic = unique_name("group-fence");
    create_topic_on(&broker, &client, &topic, 2).await;
    let group = unique_name("fence");
    let producer = Producer::start(&client, &topic, 2, 3, Duration::from_millis(100));
    let statically = || {
        let mut s = range(&group);
        s.membership.instance_id = Some("pod-x".to_owned());
        s.leave_on_close = false;
        s
    };
    let mut old = gregor_consumer::GroupConsumer::new(
        member_client(&broker.bootstrap(), "fence-old").await,
        statically(),
        Subscription::Topics(vec![topic.clone()]),
    );
    next_chunk_where(&mut old, |_| true).await;
    let mut new = gregor_consumer::GroupConsumer::new(
        member_client(&broker.bootstrap(), "fence-new").await,
        statically(),
        Subscription::Topics(vec![topic.clone()]),
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

/// Restarts every member of a three-member group one after the other while a producer
/// appends, with dynamic members (each restart is two rebalances) or static ones (no
/// rebalance at all: the others never give anything up).
async fn rolling_restart(kind: BrokerKind, statically: bool) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "roll-setup").await;
    let topic = unique_name("group-roll");
    create_topic_on(&broker, &client, &topic, 6).await;
    let group = unique_name("roll");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 6, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let member_settings = |slot: usize| {
        let mut s = range(&group);
        if statically {
            s.membership.instance_id = Some(format!("pod-{slot}"));
            s.leave_on_close = false;
        }
        s
    };
    let mut members = Vec::new();
    for slot in 0..3 {
        let name = format!("m{slot}");
        let client = member_client(&broker.bootstrap(), &format!("roll-{name}")).await;
        members.push(Some(Member::start(
            &name,
            &client,
            member_settings(slot),
            subscription.clone(),
            &ledger,
        )));
    }
    let mut names: Vec<String> = (0..3).map(|slot| format!("m{slot}")).collect();
    let split = |names: &[String]| -> Vec<(String, usize)> {
        names.iter().map(|n| (n.clone(), 2)).collect()
    };
    let wait = |names: Vec<String>, what: &'static str| {
        let ledger = ledger.clone();
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
        let releases: Vec<usize> = others.iter().map(|n| ledger.releases(n)).collect();
        if let Some(member) = members[slot].take() {
            member.stop().await;
        }
        let name = format!("m{slot}-restarted");
        let client = member_client(&broker.bootstrap(), &format!("roll-{name}")).await;
        members[slot] = Some(Member::start(
            &name,
            &client,
            member_settings(slot),
            subscription.clone(),
            &ledger,
        ));
        names[slot] = name;
        wait(names.clone(), "three members after a restart").await;
        if statically {
            let after: Vec<usize> = others.iter().map(|n| ledger.releases(n)).collect();
            assert_eq!(
                after, releases,
                "a static restart made the others give partitions up"
            );
        }
    }
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    for member in members.into_iter().flatten() {
        member.stop().await;
    }
    assert_eq!(ledger.overlaps(), vec![]);
    assert_eq!(ledger.duplicates(), 0);
    let produced: i64 = ends.values().sum();
    eprintln!(
        "{kind} rolling restart (static: {statically}): {produced} records, 0 gaps, 0 duplicates"
    );
}

async fn rolling_restart_dynamic(kind: BrokerKind) {
    rolling_restart(kind, false).await;
}

async fn rolling_restart_static(kind: BrokerKind) {
    rolling_restart(kind, true).await;
}

per_kind!(rolling_restart_dynamic: mock => Mock, kafka => Kafka);
per_kind!(rolling_restart_static: mock => Mock, kafka => Kafka);

/// Closing sends LeaveGroup once the revocation is done: the other member takes over at once,
/// not after the closed member's session times out (20 s here); and an application that
/// cancels `next()` all the time (a 1 ms timeout around every call) still completes
/// rebalances and loses no group event.
async fn close_leaves_and_cancelled_calls_lose_nothing(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "leave-setup").await;
    let topic = unique_name("group-leave");
    create_topic_on(&broker, &client, &topic, 4).await;
    let group = unique_name("leave");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 4, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let long_session = || {
        let mut s = range(&group);
        s.membership.session_timeout = Duration::from_secs(20);
        s
    };
    let impatient = Behaviour {
        cancel_often: true,
        ..Behaviour::default()
    };
    let x = Member::start_with(
        "x",
        &member_client(&broker.bootstrap(), "leave-x").await,
        long_session(),
        subscription.clone(),
        &ledger,
        impatient,
    );
    wait_split(&ledger, "x owns all", &[("x", 4)]).await;
    let y = Member::start(
        "y",
        &member_client(&broker.bootstrap(), "leave-y").await,
        long_session(),
        subscription.clone(),
        &ledger,
    );
    // The rebalance completes although x cancels nearly every call.
    let started = std::time::Instant::now();
    wait_split(&ledger, "x and y split", &[("x", 2), ("y", 2)]).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "the rebalance waited for a timeout ({took:?})"
    );
    let closed = std::time::Instant::now();
    x.stop().await;
    if let Some(mock) = broker.mock() {
        eprintln!(
            "LeaveGroup requests after x closed: {}",
            mock.request_count(ApiKey::LeaveGroup).await
        );
    }
    wait_split(&ledger, "y owns all", &[("y", 4)]).await;
    let handover = closed.elapsed();
    assert!(
        handover < Duration::from_secs(15),
        "y waited {handover:?}: the closed member did not leave"
    );
    if let Some(mock) = broker.mock() {
        assert!(mock.request_count(ApiKey::LeaveGroup).await >= 1);
    }
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    y.stop().await;
    assert_eq!(ledger.overlaps(), vec![]);
    assert_eq!(ledger.duplicates(), 0);
    eprintln!(
        "{kind}: rebalance with a cancelling member {took:?}, handover after close {handover:?}"
    );
}

per_kind!(close_leaves_and_cancelled_calls_lose_nothing: mock => Mock, kafka => Kafka);

/// A member that vanishes (the process killed: no commit, no LeaveGroup, no heartbeat) loses
/// its partitions to the others after its session times out; records it had not committed
/// are delivered again (at-least-once), nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_member_is_replaced_after_its_session() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().expect("the mock");
    let client = member_client(&broker.bootstrap(), "kill-setup").await;
    let topic = unique_name("group-kill");
    create_topic_on(&broker, &client, &topic, 4).await;
    let group = unique_name("kill");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 4, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let a = Member::start(
        "a",
        &member_client(&broker.bootstrap(), "kill-a").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    let b = Member::start(
        "b",
        &member_client(&broker.bootstrap(), "kill-b").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    wait_split(&ledger, "a and b split", &[("a", 2), ("b", 2)]).await;
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
    eventually(&ledger, "b owns all", SETTLE, |l| {
        l.owners().values().filter(|o| *o == "b").count() == 4
    })
    .await;
    let moved_after = killed.elapsed();
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    b.stop().await;
    assert!(
        moved_after >= Duration::from_secs(3),
        "partitions moved after {moved_after:?}, before the 6 s session could expire"
    );
    eprintln!(
        "killed member: partitions moved after {moved_after:?}; {} records delivered again (uncommitted by a)",
        ledger.duplicates()
    );
}

/// The coordinator moves at the moment a JoinGroup, a SyncGroup and an OffsetCommit reach it
/// (the mock answers the parked requests NOT_COORDINATOR and reloads the group elsewhere):
/// the members find it again and the group settles with nothing lost or delivered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_moves_mid_join_mid_sync_and_mid_commit() {
    let mock = std::sync::Arc::new(
        gregor_testkit::mock::MockCluster::builder()
            .brokers(3)
            .start()
            .await
            .expect("a 3-broker mock"),
    );
    let bootstrap = mock.bootstrap();
    let client = member_client(&bootstrap, "mid-setup").await;
    let topic = unique_name("group-mid");
    mock.create_topic(&topic, 4).await.expect("the topic");
    let group = unique_name("mid");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 4, 3, Duration::from_millis(100));
    let mut movers = Vec::new();
    for (api, nth) in [
        (ApiKey::JoinGroup, 2),
        (ApiKey::SyncGroup, 1),
        (ApiKey::OffsetCommit, 1),
    ] {
        let (rule, mut seen) = Intercept::observe();
        mock.intercept(api, rule).await;
        let mock = mock.clone();
        let group = group.clone();
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
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let a = Member::start(
        "a",
        &member_client(&bootstrap, "mid-a").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    let b = Member::start(
        "b",
        &member_client(&bootstrap, "mid-b").await,
        range(&group),
        subscription.clone(),
        &ledger,
    );
    wait_split(&ledger, "a and b split", &[("a", 2), ("b", 2)]).await;
    for mover in movers {
        tokio::time::timeout(SETTLE, mover)
            .await
            .expect("every move happened")
            .expect("the mover");
    }
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    a.stop().await;
    b.stop().await;
    assert_eq!(ledger.overlaps(), vec![]);
    assert_eq!(ledger.duplicates(), 0);
}

/// Members that read each partition as its own stream on its own task (slowly): a
/// revocation waits until the stream's task is done with what it holds, so the next owner
/// starts where it stopped: no partition has two owners, nothing is lost or read twice.
async fn partition_streams_hold_the_revocation(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "streams-setup").await;
    let topic = unique_name("group-streams");
    create_topic_on(&broker, &client, &topic, 4).await;
    let group = unique_name("streams");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 4, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let streams = Behaviour {
        streams: Some(Duration::from_millis(150)),
        ..Behaviour::default()
    };
    let a = Member::start_with(
        "a",
        &member_client(&broker.bootstrap(), "streams-a").await,
        range(&group),
        subscription.clone(),
        &ledger,
        streams,
    );
    wait_split(&ledger, "a owns all", &[("a", 4)]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b = Member::start_with(
        "b",
        &member_client(&broker.bootstrap(), "streams-b").await,
        range(&group),
        subscription.clone(),
        &ledger,
        streams,
    );
    wait_split(&ledger, "a and b split", &[("a", 2), ("b", 2)]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    a.stop().await;
    wait_split(&ledger, "b owns all", &[("b", 4)]).await;
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    b.stop().await;
    assert_eq!(ledger.overlaps(), vec![]);
    assert_eq!(
        ledger.duplicates(),
        0,
        "each revocation waited for its stream"
    );
    let produced: i64 = ends.values().sum();
    eprintln!("{kind}: partition streams, {produced} records, 0 gaps, 0 duplicates");
}

per_kind!(partition_streams_hold_the_revocation: mock => Mock, kafka => Kafka);

/// Auto-commit off: the application commits what it processed from its rebalance listener
/// when partitions are revoked (and on close); handoffs deliver nothing twice.
async fn manual_commits_on_revoke(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = member_client(&broker.bootstrap(), "manual-setup").await;
    let topic = unique_name("group-manual");
    create_topic_on(&broker, &client, &topic, 4).await;
    let group = unique_name("manual");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 4, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let manual = || {
        let mut s = range(&group);
        s.auto_commit = None;
        s
    };
    let behaviour = Behaviour {
        manual_commits: true,
        ..Behaviour::default()
    };
    let a = Member::start_with(
        "a",
        &member_client(&broker.bootstrap(), "manual-a").await,
        manual(),
        subscription.clone(),
        &ledger,
        behaviour,
    );
    wait_split(&ledger, "a owns all", &[("a", 4)]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = Member::start_with(
        "b",
        &member_client(&broker.bootstrap(), "manual-b").await,
        manual(),
        subscription.clone(),
        &ledger,
        behaviour,
    );
    wait_split(&ledger, "a and b split", &[("a", 2), ("b", 2)]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.stop().await;
    wait_split(&ledger, "b owns all", &[("b", 4)]).await;
    let ends = producer.stop().await;
    eventually(&ledger, "every offset delivered", SETTLE, |l| {
        l.gaps(&ends).is_empty()
    })
    .await;
    b.stop().await;
    assert_eq!(ledger.overlaps(), vec![]);
    assert_eq!(
        ledger.duplicates(),
        0,
        "the listener's commits hand over exactly"
    );
    let produced: i64 = ends.values().sum();
    eprintln!("{kind}: manual commits on revoke, {produced} records, 0 gaps, 0 duplicates");
}

per_kind!(manual_commits_on_revoke: mock => Mock, kafka => Kafka);
