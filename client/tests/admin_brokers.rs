//! Admin calls against a broker: the kind named by `GREGOR_TEST_BROKER` (`mock`, `rdkafka-mock`,
//! `tansu`, `kafka`; default tansu) or the cluster in `KAFKA_BOOTSTRAP_SERVERS`. CI runs this file once
//! per kind.
//!
//! A check a broker is known to get wrong is skipped on that broker only, with the deviation
//! printed (see testkit's README for the conformance table): tansu 0.6.0 answers ListOffsets
//! LATEST with the last batch's base offset + 1 instead of the high watermark, ignores the
//! timestamp in lookups by time, returns an empty OffsetFetch metadata string whatever was
//! committed, and closes the connection on DeleteRecords although it lists the API.
//! librdkafka's mock cluster (2.12.1) does not serve the admin APIs (CreateTopics, DeleteTopics,
//! CreatePartitions, DeleteRecords, ListGroups, DescribeGroups; topics are created through its
//! control API instead), answers offset -1 to ListOffsets by timestamp, and answers a null
//! topics array to OffsetFetch for all topics.

mod cluster_support;

use cluster_support::{broker, client, deviates};
use gregor_client::admin::{
    CreateTopicsOptions, FetchOffsetsOptions, IsolationLevel, ListGroupsOptions, NewTopic,
    OffsetAndMetadata, OffsetSpec, TopicPartition,
};
use gregor_client::{Admin, ClientError};
use gregor_protocol::messages::CreatePartitionsRequest;
use gregor_protocol::{ApiKey, ErrorCode, Request};
use gregor_testkit::data::{create_topic_by_protocol_on, produce, unique_name, within};
use gregor_testkit::{BrokerKind, TestBroker};

async fn admin() -> (gregor_testkit::TestBroker, Admin) {
    let broker = broker().await;
    let admin = Admin::new(client(&broker.bootstrap()).await);
    (broker, admin)
}

/// True (and says so) on librdkafka's mock cluster, which does not serve `api`: the caller skips
/// its check there. Asserts that the mock indeed does not list `api`, so that the skip ends
/// when a librdkafka version adds it.
async fn rdkafka_mock_lacks(broker: &TestBroker, admin: &Admin, api: ApiKey) -> bool {
    if broker.kind() != BrokerKind::RdkafkaMock {
        return false;
    }
    let conn = admin.client().any_broker().await.unwrap();
    assert_eq!(
        conn.versions().broker_range(api.code()),
        None,
        "librdkafka's mock cluster now lists {api:?}"
    );
    deviates(
        broker,
        BrokerKind::RdkafkaMock,
        &format!("not supported: librdkafka's mock cluster does not serve {api:?}"),
    )
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_topics_and_reports_already_exists_per_topic() {
    let (broker, admin) = admin().await;
    if rdkafka_mock_lacks(&broker, &admin, ApiKey::CreateTopics).await {
        return;
    }
    let topic = unique_name("created");
    let compacted = unique_name("compacted");
    let results = admin
        .create_topics(
            vec![
                NewTopic::new(&topic, 3, 1),
                NewTopic::new(&compacted, 1, 1).config("cleanup.policy", "compact"),
            ],
            CreateTopicsOptions::default().wait_for_leaders(true),
        )
        .await
        .unwrap();
    let created = results[&topic].as_ref().expect("created");
    if let Some(n) = created.num_partitions {
        assert_eq!(n, 3);
    }
    results[&compacted].as_ref().expect("created with a config");
    let snapshot = admin.client().metadata();
    assert_eq!(
        snapshot.partition_count(&topic),
        Some(3),
        "waited for metadata"
    );
    if let Some(id) = created.topic_id {
        assert_eq!(snapshot.topic(&topic).unwrap().id, id);
    }

    let again = admin
        .create_topics(
            vec![NewTopic::new(&topic, 3, 1)],
            CreateTopicsOptions::default(),
        )
        .await
        .unwrap();
    let error = again[&topic].as_ref().unwrap_err();
    assert_eq!(error.code, ErrorCode::TopicAlreadyExists);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_topics_and_reports_unknown_ones() {
    let (broker, admin) = admin().await;
    if rdkafka_mock_lacks(&broker, &admin, ApiKey::DeleteTopics).await {
        return;
    }
    let topic = unique_name("doomed");
    create_topic_by_protocol_on(&broker, admin.client(), &topic, 1).await;
    let missing = unique_name("never-created");
    let results = admin
        .delete_topics(&[topic.clone(), missing.clone()])
        .await
        .unwrap();
    results[&topic].as_ref().expect("deleted");
    assert_eq!(
        results[&missing].as_ref().unwrap_err().code,
        ErrorCode::UnknownTopicOrPartition
    );
    // Kafka answers once its controller has committed the deletion; a broker's Metadata stops
    // naming the topic once it has applied that record (KRaft propagates metadata
    // asynchronously): a full refresh forgets the topic then.
    within("a full refresh forgets the deleted topic", async {
        while admin
            .client()
            .refresh_metadata(None)
            .await
            .unwrap()
            .topic(&topic)
            .is_some()
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_partitions_where_the_broker_supports_it() {
    let (broker, admin) = admin().await;
    if rdkafka_mock_lacks(&broker, &admin, ApiKey::CreatePartitions).await {
        return;
    }
    let topic = unique_name("growing");
    create_topic_by_protocol_on(&broker, admin.client(), &topic, 1).await;
    let conn = admin.client().any_broker().await.unwrap();
    let supported = conn.version_for::<CreatePartitionsRequest>().is_ok();
    let result = admin.create_partitions(&[(topic.clone(), 3)], false).await;
    if !supported {
        // tansu 0.6.0 does not list CreatePartitions (API 37).
        match result {
            Err(ClientError::UnsupportedApi { api, broker, .. }) => {
                assert_eq!(api, CreatePartitionsRequest::API_KEY);
                assert_eq!(broker, None);
            }
            other => panic!("expected UnsupportedApi, got {other:?}"),
        }
        return;
    }
    result.unwrap()[&topic].as_ref().expect("partitions added");
    let shrink = admin
        .create_partitions(&[(topic.clone(), 2)], false)
        .await
        .unwrap();
    assert_eq!(
        shrink[&topic].as_ref().unwrap_err().code,
        ErrorCode::InvalidPartitions
    );
    // Kafka answers once its controller has committed the new partitions; a broker's Metadata
    // names them once it has applied that record, a moment later (KRaft propagates metadata
    // asynchronously), so the check waits for them.
    let count = within("three partitions in the metadata", async {
        loop {
            let snapshot = admin
                .client()
                .refresh_metadata(Some(std::slice::from_ref(&topic)))
                .await
                .unwrap();
            match snapshot.partition_count(&topic) {
                Some(1) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                other => return other,
            }
        }
    })
    .await;
    assert_eq!(count, Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_and_fetches_offsets_without_joining_the_group() {
    let (broker, admin) = admin().await;
    let topic = unique_name("committed");
    create_topic_by_protocol_on(&broker, admin.client(), &topic, 3).await;
    let group = unique_name("offsets-only");
    let results = admin
        .commit_offsets(
            &group,
            &[
                (
                    tp(&topic, 0),
                    OffsetAndMetadata::new(5).with_metadata("checkpoint-a"),
                ),
                (tp(&topic, 1), OffsetAndMetadata::new(7)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    for (partition, result) in &results {
        assert_eq!(result, &Ok(()), "{partition}");
    }

    let asked = [tp(&topic, 0), tp(&topic, 1), tp(&topic, 2)];
    let fetched = admin
        .fetch_offsets(&group, Some(&asked), FetchOffsetsOptions::default())
        .await
        .unwrap();
    let p0 = fetched[&tp(&topic, 0)].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(p0.offset, 5);
    let p1 = fetched[&tp(&topic, 1)].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(p1.offset, 7);
    assert_eq!(fetched[&tp(&topic, 2)], Ok(None), "nothing committed there");

    if deviates(
        &broker,
        BrokerKind::RdkafkaMock,
        "librdkafka's mock cluster (2.12.1) deviates: OffsetFetch for all topics answers a null topics array",
    ) {
        return;
    }
    let all = admin
        .fetch_offsets(&group, None, FetchOffsetsOptions::default())
        .await
        .unwrap();
    let committed: Vec<(TopicPartition, i64)> = all
        .into_iter()
        .filter_map(|(tp, r)| Some((tp, r.ok()??.offset)))
        .collect();
    assert_eq!(committed, [(tp(&topic, 0), 5), (tp(&topic, 1), 7)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_metadata_comes_back_with_the_offset() {
    let (broker, admin) = admin().await;
    if deviates(
        &broker,
        BrokerKind::Tansu,
        "tansu 0.6.0 deviates: OffsetFetch answers an empty metadata string whatever was committed",
    ) {
        return;
    }
    let topic = unique_name("with-metadata");
    create_topic_by_protocol_on(&broker, admin.client(), &topic, 1).await;
    let group = unique_name("metadata-group");
    let committed = admin
        .commit_offsets(
            &group,
            &[(
                tp(&topic, 0),
                OffsetAndMetadata::new(3).with_metadata("checkpoint-a"),
            )],
        )
        .await
        .unwrap();
    assert_eq!(committed[&tp(&topic, 0)], Ok(()));
    let fetched = admin
        .fetch_offsets(
            &group,
            Some(&[tp(&topic, 0)]),
            FetchOffsetsOptions::default(),
        )
        .await
        .unwrap();
    let p0 = fetched[&tp(&topic, 0)].as_ref().unwrap().as_ref().unwrap();
    assert_eq!((p0.offset, p0.metadata.as_str()), (3, "checkpoint-a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_earliest_offsets_from_each_leader() {
    let (broker, admin) = admin().await;
    let client = admin.client();
    let topic = unique_name("earliest");
    create_topic_by_protocol_on(&broker, admin.client(), &topic, 2).await;
    for batch in 0..3 {
        let base = produce(client, &topic, 0, &["a", "b"], 2).await;
        assert_eq!(base, batch * 2);
    }
    let missing = unique_name("no-such-topic");
    let offsets = admin
        .list_offsets(
            &[
                (tp(&topic, 0), OffsetSpec::Earliest),
                (tp(&topic, 1), OffsetSpec::Earliest),
                (tp(&topic, 7), OffsetSpec::Earliest),
                (tp(&missing, 0), OffsetSpec::Earliest),
            ],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(offsets[&tp(&topic, 0)].unwrap().offset, 0);
    assert_eq!(
        offsets[&tp(&topic, 1)].unwrap().offset,
        0,
        "empty partition"
    );
    assert_eq!(
        offsets[&tp(&topic, 7)],
        Err(ErrorCode::UnknownTopicOrPartition)
    );
    assert_eq!(
        offsets[&tp(&missing, 0)],
        Err(ErrorCode::UnknownTopicOrPartition)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_latest_offsets_at_the_high_watermark() {
    let (broker, admin) = admin().await;
    if deviates(
        &broker,
        BrokerKind::Tansu,
        "tansu 0.6.0 deviates: ListOffsets LATEST answers the last batch's base offset + 1 instead of the high watermark",
    ) {
        return;
    }
    let topic = unique_name("latest");
    create_topic_by_protocol_on(&broker, admin.client(), &topic, 1).await;
    for _ in 0..3 {
        produce(admin.client(), &topic, 0, &["a", "b"], 2).await;
    }
    let offsets = admin
        .list_offsets(
            &[(tp(&topic, 0), OffsetSpec::Latest)],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(offsets[&tp(&topic, 0)].unwrap().offset, 6);
    let committed = admin
        .list_offsets(
            &[(tp(&topic, 0), OffsetSpec::Latest)],
            IsolationLevel::ReadCommitted,
        )
        .await
        .unwrap();
    assert_eq!(
        committed[&tp(&topic, 0)].unwrap().offset,
        6,
        "no open transaction"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_offsets_by_timestamp_and_max_timestamp() {
    let (broker, admin) = admin().await;
    if deviates(
        &broker,
        BrokerKind::Tansu,
        "tansu 0.6.0 deviates: offsets-for-times ignores the timestamp",
    ) || deviates(
        &broker,
        BrokerKind::RdkafkaMock,
        "librdkafka's mock cluster (2.12.1) deviates: ListOffsets by timestamp or max timestamp answers offset -1",
    ) {
        return;
    }
    let topic = unique_name("by-time");
    create_topic_by_protocol_on(&broker, admin.client(), &topic, 1).await;
    // Each produced batch carries timestamp 1_700_000_000_000 (gregor_testkit::data::RECORD_TIMESTAMP).
    produce(admin.client(), &topic, 0, &["a", "b"], 2).await;
    let offsets = admin
        .list_offsets(
            &[(tp(&topic, 0), OffsetSpec::Timestamp(1_700_000_000_001))],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(
        offsets[&tp(&topic, 0)].unwrap().offset,
        -1,
        "no record that late"
    );
    let offsets = admin
        .list_offsets(
            &[(tp(&topic, 0), OffsetSpec::Timestamp(1_600_000_000_000))],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    let found = offsets[&tp(&topic, 0)].unwrap();
    assert_eq!(
        (found.offset, found.timestamp),
        (0, Some(1_700_000_000_000))
    );
    let max = admin
        .list_offsets(
            &[(tp(&topic, 0), OffsetSpec::MaxTimestamp)],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(
        max[&tp(&topic, 0)].unwrap().timestamp,
        Some(1_700_000_000_000)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_records_below_an_offset() {
    let (broker, admin) = admin().await;
    if rdkafka_mock_lacks(&broker, &admin, ApiKey::DeleteRecords).await {
        return;
    }
    if deviates(
        &broker,
        BrokerKind::Tansu,
        "tansu 0.6.0 deviates: it lists DeleteRecords v0-2 but closes the connection on every DeleteRecords request",
    ) {
        return;
    }
    let topic = unique_name("truncated");
    create_topic_by_protocol_on(&broker, admin.client(), &topic, 1).await;
    for _ in 0..3 {
        produce(admin.client(), &topic, 0, &["a", "b"], 2).await;
    }
    let deleted = admin.delete_records(&[(tp(&topic, 0), 2)]).await.unwrap();
    assert_eq!(deleted[&tp(&topic, 0)], Ok(2), "the new low watermark");
    let earliest = admin
        .list_offsets(
            &[(tp(&topic, 0), OffsetSpec::Earliest)],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(earliest[&tp(&topic, 0)].unwrap().offset, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_describes_groups() {
    let (broker, admin) = admin().await;
    if rdkafka_mock_lacks(&broker, &admin, ApiKey::ListGroups).await {
        return;
    }
    let topic = unique_name("grouped");
    create_topic_by_protocol_on(&broker, admin.client(), &topic, 1).await;
    let group = unique_name("described");
    admin
        .commit_offsets(&group, &[(tp(&topic, 0), OffsetAndMetadata::new(1))])
        .await
        .unwrap();
    let listed = admin
        .list_groups(&ListGroupsOptions::default())
        .await
        .unwrap();
    assert!(listed.errors.is_empty(), "{:?}", listed.errors);
    for g in &listed.groups {
        assert!(admin.client().metadata().broker(g.coordinator).is_some());
    }
    // Kafka lists a group that only holds offsets as an empty classic group without a
    // protocol type.
    let ours = listed
        .groups
        .iter()
        .find(|g| g.group_id == group)
        .expect("the group is listed");
    if !deviates(
        &broker,
        BrokerKind::Tansu,
        "tansu 0.6.0 deviates: ListGroups gives a group that only holds offsets protocol type \"consumer\" and state \"Unknown\" (Kafka: \"\" and \"Empty\")",
    ) {
        assert_eq!(ours.protocol_type, "");
        if ours.state.is_some() {
            assert_eq!(ours.state.as_deref(), Some("Empty"));
        }
    }
    let missing = unique_name("never-used");
    let described = admin
        .describe_groups(&[group.clone(), missing.clone()])
        .await
        .unwrap();
    let d = described[&group].as_ref().expect("described");
    assert_eq!(d.group_id, group);
    assert_eq!(
        (
            d.state.as_str(),
            d.protocol_type.as_str(),
            d.protocol.as_str()
        ),
        ("Empty", "", "")
    );
    assert!(d.members.is_empty(), "nobody joined");
    assert!(admin.client().metadata().broker(d.coordinator).is_some());
    if !deviates(
        &broker,
        BrokerKind::Tansu,
        "tansu 0.6.0 deviates: DescribeGroups describes a group that does not exist as an empty one (Kafka: GROUP_ID_NOT_FOUND)",
    ) {
        assert_eq!(described[&missing], Err(ErrorCode::GroupIdNotFound));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn features_the_negotiated_version_lacks_are_typed_errors() {
    let (_broker, admin) = admin().await;
    let conn = admin.client().any_broker().await.unwrap();
    let groups = conn.versions().broker_range(ApiKey::ListGroups.code());
    let filter = ListGroupsOptions::default().types(["consumer"]);
    let result = admin.list_groups(&filter).await;
    match groups {
        Some(range) if range.max < 5 => assert!(matches!(
            result,
            Err(ClientError::FeatureNotSupported {
                api: ApiKey::ListGroups,
                needs: 5,
                ..
            })
        )),
        Some(_) => {
            result.expect("the type filter is supported");
        }
        // librdkafka's mock cluster does not serve ListGroups.
        None => assert!(matches!(
            result,
            Err(ClientError::UnsupportedApi {
                api: ApiKey::ListGroups,
                broker: None,
                ..
            })
        )),
    }
}
