//! Where a direct stream starts and which partitions it has: starting offsets follow explicit,
//! then stored, then policy; stored offsets below the log start are data loss; assigned
//! partitions must exist; and partitions join and leave as the cluster changes (new
//! partitions, deleted topics, topics matching a pattern, subscribed topics created later).
//! Runs on our MockCluster, Apache Kafka and, where the broker supports the behaviour, tansu
//! and librdkafka's mock (see stream_batches.rs for tansu's one record per produced batch).

mod stream_support;

use std::collections::BTreeMap;

use gregor_client::Admin;
use gregor_consumer::OnDataLoss;
use gregor_consumer::direct::{ConsumerStrategy, DirectStream, StartingOffsets, StreamError};
use gregor_consumer::range::TopicPartition;
use gregor_consumer::store::{BatchStart, PartitionOffsets};
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{create_topic, create_topic_on, produce, unique_name, values, within};
use regex::Regex;
use stream_support::{broker, client, config, key, per_batch, per_kind, start_positions};

async fn starting_policies(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("start");
    create_topic_on(&broker, &client, &topic, 2).await;
    produce(&client, &topic, 0, &values("a", 10), per_batch(kind)).await;
    produce(&client, &topic, 1, &values("b", 4), per_batch(kind)).await;
    let subscribe = || ConsumerStrategy::subscribe([topic.clone()]);

    let s = start_positions(
        &client,
        subscribe(),
        StartingOffsets::Earliest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.positions(),
        &BTreeMap::from([(key(&topic, 0), 0), (key(&topic, 1), 0)])
    );
    let s = start_positions(
        &client,
        subscribe(),
        StartingOffsets::Latest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.positions(),
        &BTreeMap::from([(key(&topic, 0), 10), (key(&topic, 1), 4)])
    );
    // Fail names the partitions without an offset; a stored one is enough for the other.
    let stored = BTreeMap::from([(key(&topic, 0), 6)]);
    match start_positions(&client, subscribe(), StartingOffsets::Fail, stored.clone()).await {
        Err(StreamError::NoStartingOffset { partitions }) => {
            assert_eq!(partitions, [TopicPartition::new(topic.as_str(), 1)]);
        }
        other => panic!("{other:?}"),
    }
    // Explicit beats stored beats policy.
    let explicit = subscribe().with_offsets(BTreeMap::from([(
        TopicPartition::new(topic.as_str(), 1),
        2,
    )]));
    let mut s = start_positions(&client, explicit, StartingOffsets::Fail, stored.clone())
        .await
        .unwrap();
    assert_eq!(
        s.positions(),
        &BTreeMap::from([(key(&topic, 0), 6), (key(&topic, 1), 2)])
    );
    let explicit = subscribe().with_offsets(BTreeMap::from([(
        TopicPartition::new(topic.as_str(), 0),
        1,
    )]));
    let s2 = start_positions(&client, explicit, StartingOffsets::Latest, stored)
        .await
        .unwrap();
    assert_eq!(
        s2.positions(),
        &BTreeMap::from([(key(&topic, 0), 1), (key(&topic, 1), 4)])
    );
    // A stored start continues the store's progress; an explicit one is a first batch.
    let batch = within("batch", s.next_batch()).await.unwrap();
    assert_eq!(
        batch.starts(),
        BTreeMap::from([
            (key(&topic, 0), BatchStart::Continue(6)),
            (key(&topic, 1), BatchStart::First(2))
        ])
    );
    assert_eq!(
        batch.ends(),
        BTreeMap::from([(key(&topic, 0), 10), (key(&topic, 1), 4)])
    );
    drop(batch);
    let batch = within("batch", s.next_batch()).await.unwrap();
    assert_eq!(
        batch.starts(),
        BTreeMap::from([
            (key(&topic, 0), BatchStart::Continue(10)),
            (key(&topic, 1), BatchStart::Continue(4))
        ])
    );
    assert_eq!(batch.offset_count(), 0, "nothing new");
}

per_kind!(
    starting_policies:
    mock => Mock,
    tansu => Tansu,
    kafka => Kafka,
    rdkafka_mock => RdkafkaMock
);

/// Deletes the records of `topic`'s `partition` below `before` with DeleteRecords and checks
/// the new log start offset.
async fn delete_records(client: &gregor_client::Client, topic: &str, partition: i32, before: i64) {
    let tp = TopicPartition::new(topic, partition);
    let deleted = within(
        "delete records",
        Admin::new(client.clone()).delete_records(&[(tp.clone(), before)]),
    )
    .await
    .unwrap();
    assert_eq!(deleted[&tp], Ok(before), "the new log start offset");
}

async fn stored_offsets_below_the_log_start_are_data_loss(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("lost");
    create_topic(&client, &topic, 1).await;
    produce(&client, &topic, 0, &values("a", 10), 1).await;
    delete_records(&client, &topic, 0, 5).await;
    let stored = BTreeMap::from([(key(&topic, 0), 2)]);
    match start_positions(
        &client,
        ConsumerStrategy::subscribe([topic.clone()]),
        StartingOffsets::Earliest,
        stored,
    )
    .await
    {
        Err(StreamError::DataLoss {
            partition,
            offset,
            log_start_offset,
        }) => {
            assert_eq!(partition, TopicPartition::new(topic.as_str(), 0));
            assert_eq!((offset, log_start_offset), (2, 5));
        }
        other => panic!("{other:?}"),
    }
    // Or skip to the log start offset when so configured.
    let s = within(
        "stream",
        DirectStream::new(
            client.clone(),
            config(ConsumerStrategy::subscribe([topic.clone()]))
                .with_on_data_loss(OnDataLoss::SkipToLogStart),
            BTreeMap::from([(key(&topic, 0), 2)]),
        ),
    )
    .await
    .unwrap();
    assert_eq!(s.positions(), &BTreeMap::from([(key(&topic, 0), 5)]));
    // Earliest starts at the log start offset.
    let s = start_positions(
        &client,
        ConsumerStrategy::subscribe([topic.clone()]),
        StartingOffsets::Earliest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert_eq!(s.positions(), &BTreeMap::from([(key(&topic, 0), 5)]));
}

per_kind!(stored_offsets_below_the_log_start_are_data_loss: mock => Mock, kafka => Kafka);

async fn assigned_partitions_must_exist(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("assign");
    create_topic_on(&broker, &client, &topic, 1).await;
    let assign = ConsumerStrategy::assign([
        TopicPartition::new(topic.as_str(), 0),
        TopicPartition::new(topic.as_str(), 3),
    ]);
    match start_positions(
        &client,
        assign,
        StartingOffsets::Earliest,
        PartitionOffsets::new(),
    )
    .await
    {
        Err(StreamError::UnknownPartitions { partitions }) => {
            assert_eq!(partitions, [TopicPartition::new(topic.as_str(), 3)]);
        }
        other => panic!("{other:?}"),
    }
    let s = start_positions(
        &client,
        ConsumerStrategy::assign([TopicPartition::new(topic.as_str(), 0)]),
        StartingOffsets::Earliest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert_eq!(s.positions(), &BTreeMap::from([(key(&topic, 0), 0)]));
}

per_kind!(
    assigned_partitions_must_exist:
    mock => Mock,
    kafka => Kafka,
    tansu => Tansu,
    rdkafka_mock => RdkafkaMock
);

async fn added_partitions_join_and_deleted_topics_leave(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("grow");
    let other = unique_name("grow-other");
    create_topic(&client, &topic, 1).await;
    create_topic(&client, &other, 1).await;
    produce(&client, &topic, 0, &values("a", 3), 3).await;
    // Latest at start: the records already there are skipped on the partitions present then.
    let mut stream = start_positions(
        &client,
        ConsumerStrategy::subscribe([topic.clone(), other.clone()]),
        StartingOffsets::Latest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert_eq!(batch.offset_ranges().len(), 2);
    assert_eq!(batch.offset_count(), 0);
    drop(batch);

    let admin = Admin::new(client.clone());
    let created = within(
        "create partitions",
        admin.create_partitions(&[(topic.clone(), 3)], false),
    )
    .await
    .unwrap();
    created[&topic].as_ref().unwrap();
    produce(&client, &topic, 2, &values("b", 5), 5).await;
    let batch = within("batch", stream.next_batch()).await.unwrap();
    let ranges: Vec<(String, i32, i64, i64)> = batch
        .offset_ranges()
        .iter()
        .map(|r| (r.topic().to_owned(), r.partition(), r.from(), r.until()))
        .collect();
    // New partitions start at their earliest offset, so the 5 records are in this batch.
    let mut expected = vec![
        (topic.clone(), 0, 3, 3),
        (topic.clone(), 1, 0, 0),
        (topic.clone(), 2, 0, 5),
        (other.clone(), 0, 0, 0),
    ];
    expected.sort();
    assert_eq!(ranges, expected);
    assert_eq!(batch.starts()[&key(&topic, 2)], BatchStart::First(0));
    drop(batch);

    let deleted = within(
        "delete topic",
        admin.delete_topics(std::slice::from_ref(&other)),
    )
    .await
    .unwrap();
    deleted[&other].as_ref().unwrap();
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert!(
        batch.offset_ranges().iter().all(|r| r.topic() == topic),
        "the deleted topic left: {:?}",
        batch.offset_ranges()
    );
    assert!(!stream.positions().contains_key(&key(&other, 0)));
}

per_kind!(added_partitions_join_and_deleted_topics_leave: mock => Mock, kafka => Kafka);

async fn a_pattern_picks_up_new_matching_topics(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let prefix = unique_name("pat");
    let first = format!("{prefix}-one");
    create_topic(&client, &first, 1).await;
    create_topic(&client, &format!("x{prefix}-one"), 1).await;
    produce(&client, &first, 0, &values("a", 2), per_batch(kind)).await;
    let pattern = Regex::new(&format!("{}-.*", regex::escape(&prefix))).unwrap();
    let mut stream = start_positions(
        &client,
        ConsumerStrategy::pattern(pattern),
        StartingOffsets::Earliest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        stream.positions(),
        &BTreeMap::from([(key(&first, 0), 0)]),
        "whole names only"
    );
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert_eq!(batch.offset_count(), 2);
    drop(batch);

    let second = format!("{prefix}-two");
    create_topic(&client, &second, 2).await;
    create_topic(&client, &prefix, 1).await;
    produce(&client, &second, 1, &values("b", 4), per_batch(kind)).await;
    let batch = within("batch", stream.next_batch()).await.unwrap();
    let ranges: Vec<(String, i32, i64, i64)> = batch
        .offset_ranges()
        .iter()
        .map(|r| (r.topic().to_owned(), r.partition(), r.from(), r.until()))
        .collect();
    assert_eq!(
        ranges,
        [
            (first.clone(), 0, 2, 2),
            (second.clone(), 0, 0, 0),
            (second.clone(), 1, 0, 4)
        ]
    );
}

per_kind!(a_pattern_picks_up_new_matching_topics: mock => Mock, tansu => Tansu, kafka => Kafka);

async fn a_subscribed_topic_created_later_joins(kind: BrokerKind) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("later");
    let mut stream = start_positions(
        &client,
        ConsumerStrategy::subscribe([topic.clone()]),
        StartingOffsets::Latest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    assert!(stream.positions().is_empty(), "{:?}", stream.positions());
    let batch = within("batch", stream.next_batch()).await.unwrap();
    assert!(batch.offset_ranges().is_empty());
    assert!(
        !client.metadata().topic_names().contains(&topic.as_str())
            || client.metadata().partition_count(&topic).is_none(),
        "refreshing a subscription does not create its topics"
    );
    drop(batch);
    create_topic(&client, &topic, 2).await;
    produce(&client, &topic, 1, &values("x", 3), per_batch(kind)).await;
    let batch = within("batch", stream.next_batch()).await.unwrap();
    let ranges: Vec<(i32, i64, i64)> = batch
        .offset_ranges()
        .iter()
        .map(|r| (r.partition(), r.from(), r.until()))
        .collect();
    assert_eq!(
        ranges,
        [(0, 0, 0), (1, 0, 3)],
        "new partitions start at the earliest"
    );
}

per_kind!(a_subscribed_topic_created_later_joins: mock => Mock, kafka => Kafka, tansu => Tansu);
