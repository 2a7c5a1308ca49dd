//! `KafkaCommits`: committing a direct stream's offset ranges to Kafka under a group id without
//! joining the group, and loading them back. Round trips run on our MockCluster, Apache Kafka,
//! tansu and librdkafka's mock; error injection needs our mock's interceptions.

mod stream_support;

use std::collections::BTreeMap;
use std::time::Duration;

use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
};
use gregor_consumer::range::{OffsetRange, TopicPartition};
use gregor_consumer::store::{
    CommitError, CommittedOffset, KafkaCommits, OffsetAndMetadata, PartitionOffsets,
};
use gregor_protocol::{ApiKey, ErrorCode};
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{create_topic, create_topic_on, produce, unique_name, values, within};
use gregor_testkit::mock::{Action, Intercept};
use stream_support::{broker, client, per_kind};

fn range(topic: &str, partition: i32, from: i64, until: i64) -> OffsetRange {
    OffsetRange::new(topic, partition, from, until).unwrap()
}

fn tps(topic: &str, n: i32) -> Vec<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

fn offsets(entries: &[(&str, i32, i64)]) -> PartitionOffsets {
    entries
        .iter()
        .map(|&(t, p, o)| (TopicPartition::new(t, p), o))
        .collect()
}

/// Commit then load; merged across ranges; never backwards.
async fn round_trip(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("commits");
    create_topic_on(&broker, &client, &topic, 3).await;
    let commits = KafkaCommits::new(client.clone(), unique_name("group"));
    let all = tps(&topic, 3);

    let loaded = within("load", commits.load(&all)).await.unwrap();
    assert!(loaded.is_empty(), "nothing committed yet: {loaded:?}");

    // Two ranges of partition 0 (merged to the highest until), one of partition 1.
    within(
        "commit",
        commits.commit(&[
            range(&topic, 0, 0, 5),
            range(&topic, 0, 5, 9),
            range(&topic, 1, 0, 3),
        ]),
    )
    .await
    .unwrap();
    let loaded = within("load", commits.load(&all)).await.unwrap();
    assert_eq!(loaded, offsets(&[(&topic, 0, 9), (&topic, 1, 3)]));

    // A lower until for partition 0 is left out; partition 2 is new; partition 1 moves on.
    within(
        "commit",
        commits.commit(&[
            range(&topic, 0, 2, 4),
            range(&topic, 1, 3, 7),
            range(&topic, 2, 0, 1),
        ]),
    )
    .await
    .unwrap();
    let loaded = within("load", commits.load(&all)).await.unwrap();
    assert_eq!(
        loaded,
        offsets(&[(&topic, 0, 9), (&topic, 1, 7), (&topic, 2, 1)])
    );
    let remembered = commits.committed().await;
    assert_eq!(remembered[&TopicPartition::new(topic.as_str(), 0)], 9);

    // A second handle on the same group sees the same offsets.
    let other = KafkaCommits::new(client.clone(), commits.group_id().to_owned());
    assert_eq!(within("load", other.load(&all)).await.unwrap(), loaded);
}

per_kind!(round_trip: mock => Mock, tansu => Tansu, kafka => Kafka, rdkafka_mock => RdkafkaMock);

/// `commit_offsets` commits metadata and leader epochs, `load_committed` reads them back
/// whole; a partition listed twice is committed at its last entry, and an offset that does not
/// move forward is left out, its metadata with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_with_metadata_and_leader_epochs_round_trip() {
    let broker = broker(BrokerKind::Mock).await;
    let client = client(&broker).await;
    let topic = unique_name("meta");
    create_topic_on(&broker, &client, &topic, 3).await;
    let commits = KafkaCommits::new(client.clone(), unique_name("group"));
    let tp = |p: i32| TopicPartition::new(topic.as_str(), p);
    let at = |offset: i64, epoch: Option<i32>, metadata: &str| CommittedOffset {
        offset,
        leader_epoch: epoch,
        metadata: metadata.to_owned(),
    };
    within(
        "commit",
        commits.commit_offsets(&[
            (
                tp(0),
                OffsetAndMetadata::new(5)
                    .with_metadata("first")
                    .with_leader_epoch(3),
            ),
            (tp(1), OffsetAndMetadata::new(7)),
            (
                tp(0),
                OffsetAndMetadata::new(6)
                    .with_metadata("second")
                    .with_leader_epoch(4),
            ),
        ]),
    )
    .await
    .unwrap();
    let loaded = within("load", commits.load_committed(&tps(&topic, 3)))
        .await
        .unwrap();
    assert_eq!(
        loaded,
        BTreeMap::from([(tp(0), at(6, Some(4), "second")), (tp(1), at(7, None, ""))])
    );
    within(
        "commit",
        commits.commit_offsets(&[(tp(0), OffsetAndMetadata::new(6).with_metadata("again"))]),
    )
    .await
    .unwrap();
    let loaded = within("load", commits.load_committed(&[tp(0)]))
        .await
        .unwrap();
    assert_eq!(
        loaded[&tp(0)],
        at(6, Some(4), "second"),
        "not forward: left out"
    );
    let offsets_only = within("load", commits.load(&tps(&topic, 3))).await.unwrap();
    assert_eq!(offsets_only, offsets(&[(&topic, 0, 6), (&topic, 1, 7)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_a_loading_coordinator() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().unwrap();
    let client = client(&broker).await;
    let topic = unique_name("retry");
    create_topic(&client, &topic, 1).await;
    let commits = KafkaCommits::new(client.clone(), unique_name("group"));
    let id = mock
        .intercept(
            ApiKey::OffsetCommit,
            Intercept::once(Action::Error(ErrorCode::CoordinatorLoadInProgress)),
        )
        .await;
    within("commit", commits.commit(&[range(&topic, 0, 0, 4)]))
        .await
        .unwrap();
    assert_eq!(mock.intercept_hits(id).await, 1, "the first attempt failed");
    assert!(mock.request_count(ApiKey::OffsetCommit).await >= 2);
    let loaded = within("load", commits.load(&tps(&topic, 1))).await.unwrap();
    assert_eq!(loaded, offsets(&[(&topic, 0, 4)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_retriable_partition_errors() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().unwrap();
    let client = client(&broker).await;
    let topic = unique_name("retry");
    create_topic(&client, &topic, 2).await;
    let commits = KafkaCommits::new(client.clone(), unique_name("group"));
    // Not a coordinator error, so the admin call reports it and the commit retries it.
    let id = mock
        .intercept(
            ApiKey::OffsetCommit,
            Intercept::times(2, Action::Error(ErrorCode::RequestTimedOut)),
        )
        .await;
    within(
        "commit",
        commits.commit(&[range(&topic, 0, 0, 4), range(&topic, 1, 0, 2)]),
    )
    .await
    .unwrap();
    assert_eq!(mock.intercept_hits(id).await, 2);
    let loaded = within("load", commits.load(&tps(&topic, 2))).await.unwrap();
    assert_eq!(loaded, offsets(&[(&topic, 0, 4), (&topic, 1, 2)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_errors_are_typed_and_persisting_retriable_ones_time_out() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().unwrap();
    let client = client(&broker).await;
    let topic = unique_name("refused");
    create_topic(&client, &topic, 1).await;
    let commits = KafkaCommits::new(client.clone(), unique_name("group"));
    let id = mock
        .intercept(
            ApiKey::OffsetCommit,
            Intercept::once(Action::Error(ErrorCode::GroupAuthorizationFailed)),
        )
        .await;
    let err = within("commit", commits.commit(&[range(&topic, 0, 0, 4)]))
        .await
        .unwrap_err();
    match &err {
        CommitError::Rejected { partitions, .. } => assert_eq!(
            partitions,
            &[(
                TopicPartition::new(topic.as_str(), 0),
                ErrorCode::GroupAuthorizationFailed
            )]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        mock.intercept_hits(id).await,
        1,
        "final errors are not retried"
    );
    assert!(commits.committed().await.is_empty());

    let short = KafkaCommits::new(client.clone(), unique_name("group"))
        .with_timeout(Duration::from_secs(2));
    let id = mock
        .intercept(
            ApiKey::OffsetCommit,
            Intercept::always(Action::Error(ErrorCode::RequestTimedOut)),
        )
        .await;
    let err = within("commit", short.commit(&[range(&topic, 0, 0, 4)]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CommitError::Rejected { partitions, .. }
            if partitions[0].1 == ErrorCode::RequestTimedOut),
        "{err:?}"
    );
    assert!(
        mock.intercept_hits(id).await >= 2,
        "retried before giving up"
    );
    mock.remove_intercept(id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_apply_in_call_order() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().unwrap();
    let client = client(&broker).await;
    let topic = unique_name("ordered");
    create_topic(&client, &topic, 1).await;
    let commits = KafkaCommits::new(client.clone(), unique_name("group"));
    // The first commit's request is slow; the second must not overtake it.
    mock.intercept(
        ApiKey::OffsetCommit,
        Intercept::once(Action::Delay(Duration::from_millis(300))),
    )
    .await;
    let (a, b) = ([range(&topic, 0, 0, 10)], [range(&topic, 0, 10, 20)]);
    let (first, second) = within("commits", async {
        tokio::join!(commits.commit(&a), commits.commit(&b))
    })
    .await;
    first.unwrap();
    second.unwrap();
    let loaded = within("load", commits.load(&tps(&topic, 1))).await.unwrap();
    assert_eq!(loaded, offsets(&[(&topic, 0, 20)]));
}

/// A stream that commits each batch's ranges resumes, after a restart, where it left off.
async fn a_stream_resumes_from_its_commits(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("resume");
    create_topic_on(&broker, &client, &topic, 2).await;
    produce(&client, &topic, 0, &values("a", 6), 1).await;
    produce(&client, &topic, 1, &values("b", 3), 1).await;
    let group = unique_name("group");
    let config = || {
        DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.clone()]))
            .with_batch_interval(Duration::from_millis(10))
            .with_starting(StartingOffsets::Earliest)
    };
    let commits = KafkaCommits::new(client.clone(), group.clone());
    let stored = within("load", commits.load(&tps(&topic, 2))).await.unwrap();
    let mut stream = within(
        "stream",
        DirectStream::new(client.clone(), config(), stored),
    )
    .await
    .unwrap();
    let batch = within("batch", stream.next_batch()).await.unwrap();
    let ranges = batch.offset_ranges().to_vec();
    assert_eq!(batch.offset_count(), 9);
    drop(batch);
    within("commit", commits.commit(&ranges)).await.unwrap();
    drop(stream);

    produce(&client, &topic, 1, &values("c", 2), 1).await;
    let restarted = KafkaCommits::new(client.clone(), group);
    let stored = within("load", restarted.load(&tps(&topic, 2)))
        .await
        .unwrap();
    assert_eq!(stored, offsets(&[(&topic, 0, 6), (&topic, 1, 3)]));
    let mut stream = within(
        "stream",
        DirectStream::new(client.clone(), config(), stored),
    )
    .await
    .unwrap();
    let batch = within("batch", stream.next_batch()).await.unwrap();
    let ranges: Vec<(i32, i64, i64)> = batch
        .offset_ranges()
        .iter()
        .map(|r| (r.partition(), r.from(), r.until()))
        .collect();
    assert_eq!(ranges, [(0, 6, 6), (1, 3, 5)]);
}

per_kind!(
    a_stream_resumes_from_its_commits:
    mock => Mock,
    tansu => Tansu,
    kafka => Kafka,
    rdkafka_mock => RdkafkaMock
);

/// One handle can be shared by tasks.
#[allow(dead_code)]
fn commits_are_shareable(commits: &KafkaCommits, ranges: &[OffsetRange]) {
    fn is_send_sync<T: Send + Sync>(_: &T) {}
    fn is_send<T: Send>(_: T) {}
    is_send_sync(commits);
    is_send(commits.commit(ranges));
    is_send(commits.load(&[]));
}
