//! The metadata cache follows Metadata responses: full and partial refreshes, leader epochs that
//! never go backwards, topic ids, staleness.

use std::time::{Duration, Instant};

use gregor_client::cluster::MetadataCache;
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::MetadataResponse;
use gregor_protocol::messages::metadata::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use gregor_protocol::primitives::Uuid;

fn broker(id: i32, port: i32) -> MetadataResponseBroker {
    MetadataResponseBroker {
        node_id: id,
        host: "127.0.0.1".into(),
        port,
        ..Default::default()
    }
}

fn partition(index: i32, leader: i32, epoch: i32) -> MetadataResponsePartition {
    MetadataResponsePartition {
        partition_index: index,
        leader_id: leader,
        leader_epoch: epoch,
        replica_nodes: vec![leader],
        isr_nodes: vec![leader],
        ..Default::default()
    }
}

fn topic(name: &str, id: u8, partitions: Vec<MetadataResponsePartition>) -> MetadataResponseTopic {
    MetadataResponseTopic {
        name: Some(name.into()),
        topic_id: Uuid([id; 16]),
        partitions,
        ..Default::default()
    }
}

fn response(topics: Vec<MetadataResponseTopic>) -> MetadataResponse {
    MetadataResponse {
        brokers: vec![broker(1, 9092), broker(2, 9093)],
        controller_id: 1,
        cluster_id: Some("c1".into()),
        topics,
        ..Default::default()
    }
}

#[test]
fn answers_leaders_and_counts() {
    let now = Instant::now();
    let mut cache = MetadataCache::new();
    assert!(cache.is_stale(now, Duration::from_secs(300)));
    cache.apply(
        &response(vec![topic(
            "a",
            1,
            vec![partition(1, 2, 5), partition(0, 1, 3)],
        )]),
        true,
        now,
    );
    assert_eq!(cache.partition_count("a"), Some(2));
    let (addr, epoch) = cache.leader("a", 1).unwrap();
    assert_eq!(
        (addr.id, addr.host_port().as_str(), epoch),
        (2, "127.0.0.1:9093", 5)
    );
    assert_eq!(cache.leader("a", 0).unwrap().0.id, 1);
    assert!(cache.leader("a", 2).is_none());
    assert_eq!(cache.topic_name(Uuid([1; 16])), Some("a"));
    assert_eq!(cache.controller(), Some(1));
    assert_eq!(cache.cluster_id(), Some("c1"));
    assert!(!cache.is_stale(now, Duration::from_secs(300)));
    assert!(cache.is_stale(now + Duration::from_secs(300), Duration::from_secs(300)));
}

#[test]
fn partial_refresh_keeps_other_topics_full_refresh_drops_them() {
    let now = Instant::now();
    let mut cache = MetadataCache::new();
    cache.apply(
        &response(vec![
            topic("a", 1, vec![partition(0, 1, 0)]),
            topic("b", 2, vec![partition(0, 1, 0)]),
        ]),
        true,
        now,
    );
    cache.apply(
        &response(vec![topic("a", 1, vec![partition(0, 2, 1)])]),
        false,
        now,
    );
    assert_eq!(cache.topic_names(), vec!["a", "b"]);
    assert_eq!(cache.leader("a", 0).unwrap().0.id, 2);
    cache.apply(
        &response(vec![topic("a", 1, vec![partition(0, 2, 1)])]),
        true,
        now,
    );
    assert_eq!(cache.topic_names(), vec!["a"]);
    assert_eq!(cache.topic_name(Uuid([2; 16])), None);
}

#[test]
fn a_stale_leader_epoch_does_not_replace_a_newer_one() {
    let now = Instant::now();
    let mut cache = MetadataCache::new();
    cache.apply(
        &response(vec![topic("a", 1, vec![partition(0, 2, 7)])]),
        true,
        now,
    );
    // A lagging broker still thinks broker 1 leads at epoch 6.
    cache.apply(
        &response(vec![topic("a", 1, vec![partition(0, 1, 6)])]),
        false,
        now,
    );
    assert_eq!(cache.leader("a", 0).map(|(b, e)| (b.id, e)), Some((2, 7)));
    // A newer epoch moves it.
    cache.apply(
        &response(vec![topic("a", 1, vec![partition(0, 1, 8)])]),
        false,
        now,
    );
    assert_eq!(cache.leader("a", 0).map(|(b, e)| (b.id, e)), Some((1, 8)));
}

#[test]
fn errors_and_missing_leaders_are_recorded() {
    let now = Instant::now();
    let mut cache = MetadataCache::new();
    let mut missing = topic("gone", 3, vec![]);
    missing.error_code = ErrorCode::UnknownTopicOrPartition.code();
    let mut leaderless = partition(0, -1, 2);
    leaderless.error_code = ErrorCode::LeaderNotAvailable.code();
    cache.apply(
        &response(vec![missing, topic("a", 1, vec![leaderless])]),
        true,
        now,
    );
    assert_eq!(
        cache.topic("gone").unwrap().error,
        ErrorCode::UnknownTopicOrPartition
    );
    assert_eq!(cache.partition_count("gone"), None);
    assert!(cache.leader("a", 0).is_none());
    assert_eq!(
        cache.partition("a", 0).unwrap().error,
        ErrorCode::LeaderNotAvailable
    );
}
