//! What an application of the group consumer calls, on our mock and Apache Kafka: seek, pause
//! and resume, lag and position, background commits, commits from its rebalance listener, and
//! partitions read as streams of their own; with the classic protocol and with KIP-848's
//! consumer protocol (`mock_848`, `kafka_848`).

mod group_support;
mod stream_support;

use std::time::Duration;

use gregor_client::admin::Admin;
use gregor_consumer::group::config::GroupProtocol;
use gregor_consumer::group::consumer::GroupConsumerSettings;
use gregor_testkit::BrokerKind;
use group_support::scenario::{Scenario, next_chunk_where, wait_split};
use group_support::{Behaviour, Producer, per_protocol};
use stream_support::broker;

/// pause holds a partition back while the others flow; resume brings it back; seek moves a
/// position (and is what the next commit stores).
async fn seek_pause_resume(kind: BrokerKind, protocol: GroupProtocol) {
    let broker = broker(kind).await;
    let sc = Scenario::new(&broker, "seek", 2)
        .await
        .with_protocol(protocol);
    let producer = Producer::start(&sc.client, &sc.topic, 2, 5, Duration::from_millis(50));
    let p0 = gregor_consumer::TopicPartition::new(sc.topic.as_str(), 0);
    let p1 = gregor_consumer::TopicPartition::new(sc.topic.as_str(), 1);
    let mut consumer = gregor_consumer::GroupConsumer::new(
        sc.client_for("a").await,
        sc.range(),
        sc.subscription(),
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
    let stored = Admin::new(sc.client.clone())
        .fetch_offsets(
            &sc.group,
            Some(std::slice::from_ref(&tp)),
            Default::default(),
        )
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

per_protocol!(seek_pause_resume: mock => Mock Classic, kafka => Kafka Classic, mock_848 => Mock Consumer, kafka_848 => Kafka Consumer);

/// a alone, then a and b, then b alone, each step held for `hold`, while a producer appends
/// to 4 partitions: no partition has two owners, every offset is delivered, none twice.
/// Returns how many records were produced.
async fn a_then_b(
    sc: &Scenario,
    settings: impl Fn() -> GroupConsumerSettings,
    behaviour: Behaviour,
    hold: Duration,
    why_no_duplicates: &str,
) -> i64 {
    let producer = sc.produce(4);
    let a = sc.member_with("a", settings(), behaviour).await;
    wait_split(&sc.ledger, "a owns all", &[("a", 4)]).await;
    tokio::time::sleep(hold).await;
    let b = sc.member_with("b", settings(), behaviour).await;
    wait_split(&sc.ledger, "a and b split", &[("a", 2), ("b", 2)]).await;
    tokio::time::sleep(hold).await;
    a.stop().await;
    wait_split(&sc.ledger, "b owns all", &[("b", 4)]).await;
    let ends = sc.all_delivered(producer).await;
    b.stop().await;
    assert_eq!(sc.ledger.overlaps(), vec![]);
    assert_eq!(sc.ledger.duplicates(), 0, "{why_no_duplicates}");
    ends.values().sum()
}

/// Auto-commit off: the application commits what it processed from its rebalance listener
/// when partitions are revoked (and on close); handoffs deliver nothing twice.
async fn manual_commits_on_revoke(kind: BrokerKind, protocol: GroupProtocol) {
    let broker = broker(kind).await;
    let sc = Scenario::new(&broker, "manual", 4)
        .await
        .with_protocol(protocol);
    let manual = || {
        let mut s = sc.range();
        s.auto_commit = None;
        s
    };
    let behaviour = Behaviour {
        manual_commits: true,
        ..Behaviour::default()
    };
    let produced = a_then_b(
        &sc,
        manual,
        behaviour,
        Duration::from_millis(500),
        "the listener's commits hand over exactly",
    )
    .await;
    eprintln!("{kind}: manual commits on revoke, {produced} records, 0 gaps, 0 duplicates");
}

per_protocol!(manual_commits_on_revoke: mock => Mock Classic, kafka => Kafka Classic, mock_848 => Mock Consumer, kafka_848 => Kafka Consumer);

/// Members that read each partition as its own stream on its own task (slowly): a
/// revocation waits until the stream's task is done with what it holds, so the next owner
/// starts where it stopped: no partition has two owners, nothing is lost or read twice.
async fn partition_streams_hold_the_revocation(kind: BrokerKind, protocol: GroupProtocol) {
    let broker = broker(kind).await;
    let sc = Scenario::new(&broker, "streams", 4)
        .await
        .with_protocol(protocol);
    let streams = Behaviour {
        streams: Some(Duration::from_millis(150)),
        ..Behaviour::default()
    };
    let produced = a_then_b(
        &sc,
        || sc.range(),
        streams,
        Duration::from_secs(1),
        "each revocation waited for its stream",
    )
    .await;
    eprintln!("{kind}: partition streams, {produced} records, 0 gaps, 0 duplicates");
}

per_protocol!(partition_streams_hold_the_revocation: mock => Mock Classic, kafka => Kafka Classic, mock_848 => Mock Consumer, kafka_848 => Kafka Consumer);
