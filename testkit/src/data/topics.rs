//! Topics created for a test and led before the test uses them.

use std::sync::Arc;
use std::time::Duration;

use gregor_client::admin::{
    CreateTopicsOptions, IsolationLevel, NewTopic, OffsetSpec, TopicPartition,
};
use gregor_client::cluster::MetadataCache;
use gregor_client::{Admin, Client};

use super::client::within;
use crate::{BrokerKind, TestBroker};

/// Creates `topic` with `partitions` partitions (replication factor 1) with CreateTopics,
/// waiting for its leaders, then refreshes `client`'s metadata for it and waits until every
/// leader serves its partition ([`wait_until_served`]). Panics on any error.
pub async fn create_topic(client: &Client, topic: &str, partitions: i32) {
    let admin = Admin::new(client.clone());
    let results = admin
        .create_topics(
            vec![NewTopic::new(topic, partitions, 1)],
            CreateTopicsOptions::default().wait_for_leaders(true),
        )
        .await
        .unwrap_or_else(|e| panic!("CreateTopics for {topic} answered: {e}"));
    match results.get(topic) {
        Some(Ok(_)) => {}
        Some(Err(e)) => panic!("topic {topic} created: {e}"),
        None => panic!("CreateTopics answered for {topic}"),
    }
    refresh(client, topic).await;
    wait_until_served(client, topic, partitions).await;
}

/// Waits until the leader of each of `topic`'s first `partitions` partitions answers ListOffsets
/// for it without error. Apache Kafka's broker names a new partition's leader in Metadata a
/// moment before its replica manager has opened the partition, and answers
/// NOT_LEADER_OR_FOLLOWER to requests for it until then (Produce included): a test that
/// produces right after creating a topic waits for this first. Panics after
/// [`DEADLINE`](super::client::DEADLINE).
pub async fn wait_until_served(client: &Client, topic: &str, partitions: i32) {
    let admin = Admin::new(client.clone());
    let asked: Vec<(TopicPartition, OffsetSpec)> = (0..partitions)
        .map(|p| (TopicPartition::new(topic, p), OffsetSpec::Latest))
        .collect();
    within("every partition served by its leader", async {
        loop {
            match admin
                .list_offsets(&asked, IsolationLevel::ReadUncommitted)
                .await
            {
                Ok(listed) if listed.len() == asked.len() && listed.values().all(Result::is_ok) => {
                    return;
                }
                Ok(_) | Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await;
}

/// Creates `topic` on `broker` through the broker's control API where it has one (our mock
/// cluster and librdkafka's, which serves no CreateTopics), else with [`create_topic`]; then
/// waits until `client`'s metadata names a leader for every partition.
pub async fn create_topic_on(broker: &TestBroker, client: &Client, topic: &str, partitions: i32) {
    match broker.kind() {
        BrokerKind::Mock | BrokerKind::RdkafkaMock => {
            create_by_control(broker, client, topic, partitions).await
        }
        _ => create_topic(client, topic, partitions).await,
    }
}

/// Creates `topic` on `broker` with CreateTopics ([`create_topic`]) wherever the broker serves
/// it, that is on every kind but librdkafka's mock cluster, which gets it through its control
/// API; then waits until `client`'s metadata names a leader for every partition. For tests
/// whose subject includes the broker's CreateTopics (replication factor 1).
pub async fn create_topic_by_protocol_on(
    broker: &TestBroker,
    client: &Client,
    topic: &str,
    partitions: i32,
) {
    match broker.kind() {
        BrokerKind::RdkafkaMock => create_by_control(broker, client, topic, partitions).await,
        _ => create_topic(client, topic, partitions).await,
    }
}

async fn create_by_control(broker: &TestBroker, client: &Client, topic: &str, partitions: i32) {
    broker
        .create_topic(topic, partitions)
        .await
        .unwrap_or_else(|e| panic!("the {} creates topic {topic}: {e}", broker.kind()));
    within("leaders for the new topic", async {
        loop {
            let snapshot = refresh(client, topic).await;
            let led = (0..partitions).all(|p| snapshot.leader(topic, p).is_some());
            if led && snapshot.partition_count(topic) == usize::try_from(partitions).ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

async fn refresh(client: &Client, topic: &str) -> Arc<MetadataCache> {
    client
        .refresh_metadata(Some(&[topic.to_owned()]))
        .await
        .unwrap_or_else(|e| panic!("Metadata for {topic} answered: {e}"))
}
