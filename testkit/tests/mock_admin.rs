//! ApiVersions, Metadata, admin APIs, SASL and the group stub against the mock cluster.

mod mock_support;

use bytes::BytesMut;
use gregor_protocol::frame::{split_response_header, write_frame};
use gregor_protocol::header::RequestHeader;
use gregor_protocol::messages::create_partitions::CreatePartitionsTopic;
use gregor_protocol::messages::create_topics::CreatableTopic;
use gregor_protocol::messages::delete_topics::DeleteTopicState;
use gregor_protocol::messages::*;
use gregor_protocol::{ApiKey, ErrorCode, Message, Request};
use gregor_testkit::mock::MockCluster;
use mock_support::*;

/// A request frame with any key and version and an empty body.
fn raw_request(key: i16, version: i16, header_version: i16) -> BytesMut {
    let mut buf = BytesMut::new();
    write_frame(&mut buf, |b| {
        RequestHeader {
            request_api_key: key,
            request_api_version: version,
            correlation_id: 77,
            client_id: Some("raw".into()),
            ..RequestHeader::default()
        }
        .encode(b, header_version)
    })
    .unwrap();
    buf
}

#[tokio::test]
async fn api_versions_advertises_exactly_the_protocol_ranges() {
    let c = MockCluster::builder().start().await.unwrap();
    let mut client = RawClient::to_broker(&c, 1).await;
    let req = ApiVersionsRequest {
        client_software_name: "gregor".into(),
        client_software_version: "0.1.0".into(),
        ..Default::default()
    };
    let resp = client.call(&req, 4).await;
    assert_eq!(resp.error_code, 0);
    // Every API, KIP-848's included.
    assert_eq!(resp.api_keys.len(), ApiKey::ALL.len());
    let range = |k: ApiKey| {
        let v = resp
            .api_keys
            .iter()
            .find(|a| a.api_key == k.code())
            .unwrap();
        (v.min_version, v.max_version)
    };
    let fetch = <FetchRequest as Message>::VERSIONS;
    assert_eq!(range(ApiKey::Fetch), (fetch.min, fetch.max));
    let produce = <ProduceRequest as Message>::VERSIONS;
    assert_eq!(range(ApiKey::Produce), (produce.min, produce.max));
    let join = <JoinGroupRequest as Message>::VERSIONS;
    assert_eq!(range(ApiKey::JoinGroup), (join.min, join.max));
    let find = <FindCoordinatorRequest as Message>::VERSIONS;
    assert_eq!(range(ApiKey::FindCoordinator), (find.min, find.max));

    let bad = ApiVersionsRequest {
        client_software_name: "bad name".into(),
        client_software_version: "1".into(),
        ..Default::default()
    };
    assert_eq!(
        client.call(&bad, 3).await.error_code,
        ErrorCode::InvalidRequest.code()
    );
    assert_eq!(
        client
            .call(&ApiVersionsRequest::default(), 0)
            .await
            .api_keys
            .len(),
        ApiKey::ALL.len()
    );
}

/// Found by librdkafka 2.12: its all-topics Metadata v9+ request leaves the 4-byte array
/// count placeholder in place (a compact null count `00` then three more zero bytes), so the
/// body ends with three stray bytes. Kafka ignores bytes after the last field; so does the mock
/// (it closed the connection before).
#[tokio::test]
async fn bytes_after_the_request_body_are_ignored_as_kafka_does() {
    let c = MockCluster::builder()
        .brokers(2)
        .topic("t", 1)
        .start()
        .await
        .unwrap();
    let mut client = RawClient::to_broker(&c, 1).await;
    let mut frame = BytesMut::new();
    write_frame(&mut frame, |b| {
        RequestHeader {
            request_api_key: ApiKey::Metadata.code(),
            request_api_version: 13,
            correlation_id: 5,
            client_id: Some("rdkafka".into()),
            ..RequestHeader::default()
        }
        .encode(b, 2)?;
        // What librdkafka 2.12.1 sends for "all topics".
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0]);
        Ok(())
    })
    .unwrap();
    client.send_raw(&frame).await;
    let resp = client.recv::<MetadataRequest>(5, 13).await;
    assert_eq!(resp.brokers.len(), 2);
    assert_eq!(resp.topics.len(), 1, "a null topic list: every topic");
    // The connection still serves.
    assert_eq!(metadata(&mut client, &["t"]).await.topics[0].error_code, 0);
}

/// Our mock's first broker and, when installed, Apache Kafka's shared broker (the reference
/// these answers are measured against), by name.
async fn mock_and_kafka(c: &MockCluster) -> Vec<(&'static str, std::net::SocketAddr)> {
    let mut out = vec![("mock", c.broker_addr(1).unwrap())];
    if gregor_testkit::kafka::KafkaInstall::is_available() {
        let kafka = tokio::task::spawn_blocking(gregor_testkit::KafkaCluster::shared)
            .await
            .unwrap()
            .expect("kafka starts");
        let addr = kafka
            .addr(1, gregor_testkit::kafka::Listener::Plaintext)
            .unwrap();
        out.push(("kafka", addr));
    }
    out
}

#[tokio::test]
async fn unsupported_api_versions_version_gets_a_v0_error_answer() {
    let c = MockCluster::builder().start().await.unwrap();
    for (name, addr) in mock_and_kafka(&c).await {
        let mut client = RawClient::connect(addr).await.unwrap();
        client
            .send_raw(&raw_request(ApiKey::ApiVersions.code(), 99, 2))
            .await;
        let frame = client.read_frame().await.unwrap();
        let (header, body) = split_response_header(frame, 0).unwrap();
        assert_eq!(header.correlation_id, 77, "{name}");
        let resp = ApiVersionsResponse::decode_exact(body, 0).unwrap();
        assert_eq!(
            resp.error_code,
            ErrorCode::UnsupportedVersion.code(),
            "{name}"
        );
        let own = <ApiVersionsRequest as Message>::VERSIONS;
        assert_eq!(resp.api_keys.len(), 1, "{name}");
        assert_eq!(
            (
                resp.api_keys[0].api_key,
                resp.api_keys[0].min_version,
                resp.api_keys[0].max_version
            ),
            (18, own.min, own.max),
            "{name}"
        );
        // The connection stays usable.
        assert_eq!(metadata(&mut client, &[]).await.brokers.len(), 1, "{name}");
    }
}

#[tokio::test]
async fn other_unsupported_versions_and_unknown_keys_close_the_connection() {
    let c = MockCluster::builder().start().await.unwrap();
    for (name, addr) in mock_and_kafka(&c).await {
        let mut client = RawClient::connect(addr).await.unwrap();
        client
            .send_raw(&raw_request(ApiKey::Metadata.code(), 99, 2))
            .await;
        assert!(client.closed().await, "{name}: an unsupported version");
        let mut client = RawClient::connect(addr).await.unwrap();
        client.send_raw(&raw_request(1000, 0, 1)).await;
        assert!(client.closed().await, "{name}: an unknown API key");
        let mut client = RawClient::connect(addr).await.unwrap();
        client
            .send_raw(&raw_request(ApiKey::Metadata.code(), 12, 2))
            .await;
        assert!(client.closed().await, "{name}: a body that does not decode");
    }
    // An API the mock does not serve (DescribeConfigs) is an unknown one to it.
    let mut client = RawClient::to_broker(&c, 1).await;
    client.send_raw(&raw_request(32, 0, 1)).await;
    assert!(client.closed().await, "an API the mock does not serve");
}

#[tokio::test]
async fn metadata_describes_brokers_topics_and_leaders() {
    let c = MockCluster::builder()
        .brokers(3)
        .topic("t", 4)
        .cluster_id("cid")
        .start()
        .await
        .unwrap();
    let mut client = RawClient::to_broker(&c, 2).await;
    let md = metadata(&mut client, &[]).await;
    assert_eq!(md.cluster_id.as_deref(), Some("cid"));
    assert_eq!(md.controller_id, 1);
    for (id, addr) in c.addresses() {
        let b = md.broker(id).unwrap();
        assert_eq!(
            (b.host.as_str(), b.port),
            ("127.0.0.1", i32::from(addr.port()))
        );
    }
    let t = md.topic("t").unwrap();
    assert_ne!(t.topic_id, gregor_protocol::primitives::Uuid::ZERO);
    assert_eq!(t.partitions.len(), 4);
    for p in &t.partitions {
        let info = c.partition_info("t", p.partition_index).await.unwrap();
        assert_eq!((p.leader_id, p.leader_epoch), (info.leader, 0));
        assert_eq!(p.replica_nodes.len(), 3);
        assert_eq!(p.replica_nodes[0], p.leader_id);
    }
    let md = metadata(&mut client, &["missing"]).await;
    assert_eq!(
        md.topics[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    assert!(
        c.partition_info("missing", 0).await.is_err(),
        "auto-creation is off by default"
    );

    let by_id = MetadataRequest {
        topics: Some(vec![metadata::MetadataRequestTopic {
            topic_id: t.topic_id,
            name: None,
            ..Default::default()
        }]),
        ..Default::default()
    };
    let md = client.call(&by_id, 12).await;
    assert_eq!(md.topics[0].name.as_deref(), Some("t"));
}

#[tokio::test]
async fn metadata_auto_creates_when_enabled() {
    let c = MockCluster::builder()
        .auto_create_topics(true)
        .default_partitions(2)
        .start()
        .await
        .unwrap();
    let mut client = RawClient::to_broker(&c, 1).await;
    let md = metadata(&mut client, &["fresh"]).await;
    assert_eq!(
        md.topics[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    let md = metadata(&mut client, &["fresh"]).await;
    assert_eq!(md.topic("fresh").unwrap().partitions.len(), 2);
    let mut no = MetadataRequest::for_topics(["other"]);
    no.allow_auto_topic_creation = false;
    let md = client.call(&no, 12).await;
    assert_eq!(
        md.topics[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    assert!(
        c.partition_info("other", 0).await.is_err(),
        "the request forbade creation"
    );
}

#[tokio::test]
async fn create_delete_and_grow_topics() {
    let c = MockCluster::builder()
        .brokers(2)
        .topic("old", 1)
        .start()
        .await
        .unwrap();
    let mut client = RawClient::to_broker(&c, 1).await;
    let topic = |name: &str, n, rf| CreatableTopic {
        name: name.into(),
        num_partitions: n,
        replication_factor: rf,
        ..Default::default()
    };
    let req = CreateTopicsRequest {
        topics: vec![
            topic("a", 3, 2),
            topic("old", 1, 1),
            topic("b", 0, 1),
            topic("c", 1, 3),
            topic("bad/name", 1, 1),
        ],
        timeout_ms: 1000,
        ..Default::default()
    };
    let resp = client.call(&req, 7).await;
    let codes: Vec<i16> = resp.topics.iter().map(|t| t.error_code).collect();
    assert_eq!(
        codes,
        vec![
            0,
            ErrorCode::TopicAlreadyExists.code(),
            ErrorCode::InvalidPartitions.code(),
            ErrorCode::InvalidReplicationFactor.code(),
            ErrorCode::InvalidTopicException.code(),
        ]
    );
    assert_eq!(
        (
            resp.topics[0].num_partitions,
            resp.topics[0].replication_factor
        ),
        (3, 2)
    );
    let id = resp.topics[0].topic_id;

    let grow = CreatePartitionsRequest {
        topics: vec![
            CreatePartitionsTopic {
                name: "a".into(),
                count: 5,
                ..Default::default()
            },
            CreatePartitionsTopic {
                name: "old".into(),
                count: 1,
                ..Default::default()
            },
        ],
        timeout_ms: 1000,
        ..Default::default()
    };
    let resp = client.call(&grow, 3).await;
    assert_eq!(resp.results[0].error_code, 0);
    assert_eq!(
        resp.results[1].error_code,
        ErrorCode::InvalidPartitions.code()
    );
    assert_eq!(
        metadata(&mut client, &["a"])
            .await
            .topic("a")
            .unwrap()
            .partitions
            .len(),
        5
    );

    let del = DeleteTopicsRequest {
        topics: vec![
            DeleteTopicState {
                name: None,
                topic_id: id,
                ..Default::default()
            },
            DeleteTopicState {
                name: Some("nope".into()),
                ..Default::default()
            },
        ],
        timeout_ms: 1000,
        ..Default::default()
    };
    let resp = client.call(&del, 6).await;
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(resp.responses[0].name.as_deref(), Some("a"));
    assert_eq!(
        resp.responses[1].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    let md = metadata(&mut client, &["a"]).await;
    assert_eq!(
        md.topics[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
}

#[tokio::test]
async fn producer_ids_sasl_and_the_group_apis() {
    let c = MockCluster::builder().start().await.unwrap();
    let mut client = RawClient::to_broker(&c, 1).await;
    let a = client.call(&InitProducerIdRequest::default(), 4).await;
    let b = client.call(&InitProducerIdRequest::default(), 4).await;
    assert_ne!(a.producer_id, b.producer_id);
    let tx = InitProducerIdRequest {
        transactional_id: Some("tx".into()),
        transaction_timeout_ms: 60_000,
        ..Default::default()
    };
    let t1 = client.call(&tx, 4).await;
    let t2 = client.call(&tx, 4).await;
    assert_eq!(
        (t2.producer_id, t2.producer_epoch),
        (t1.producer_id, t1.producer_epoch + 1)
    );

    let hs = client
        .call(
            &SaslHandshakeRequest {
                mechanism: "PLAIN".into(),
            },
            1,
        )
        .await;
    assert_eq!(hs.error_code, ErrorCode::IllegalSaslState.code());

    let fc = FindCoordinatorRequest {
        key_type: 0,
        coordinator_keys: vec!["g".into()],
        ..Default::default()
    };
    let resp = client.call(&fc, 4).await;
    assert_eq!(
        (
            resp.coordinators[0].error_code,
            resp.coordinators[0].node_id
        ),
        (0, 1)
    );
    let hb = client
        .call(
            &HeartbeatRequest {
                group_id: "g".into(),
                ..Default::default()
            },
            4,
        )
        .await;
    assert_eq!(hb.error_code, ErrorCode::UnknownMemberId.code());
    let _ = <HeartbeatRequest as Request>::API_KEY;

    // ConsumerGroupHeartbeat is served: v1 without a member id is refused, as Kafka does.
    let cgh = ConsumerGroupHeartbeatRequest {
        group_id: "g".into(),
        ..Default::default()
    };
    let v = <ConsumerGroupHeartbeatRequest as Message>::VERSIONS.max;
    let resp = client.call(&cgh, v).await;
    assert_eq!(resp.error_code, ErrorCode::InvalidRequest.code());
}

#[tokio::test]
async fn delete_records_moves_the_log_start_offset() {
    use gregor_protocol::messages::delete_records::{DeleteRecordsPartition, DeleteRecordsTopic};
    use gregor_testkit::mock::MockRecord;

    let c = MockCluster::builder()
        .brokers(2)
        .topic("t", 1)
        .start()
        .await
        .unwrap();
    c.produce(
        "t",
        0,
        &[MockRecord::kv("a", "1"), MockRecord::kv("b", "2")],
    )
    .await
    .unwrap();
    c.produce("t", 0, &[MockRecord::kv("c", "3")])
        .await
        .unwrap();
    let req = |offset| DeleteRecordsRequest {
        topics: vec![DeleteRecordsTopic {
            name: "t".into(),
            partitions: vec![DeleteRecordsPartition {
                partition_index: 0,
                offset,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 1000,
        ..Default::default()
    };
    let mut leader = leader_client(&c, "t", 0).await;
    let answer = |resp: DeleteRecordsResponse| {
        let p = &resp.topics[0].partitions[0];
        (p.error_code, p.low_watermark)
    };
    assert_eq!(answer(leader.call(&req(1), 2).await), (0, 1));
    assert_eq!(
        answer(leader.call(&req(9), 2).await),
        (ErrorCode::OffsetOutOfRange.code(), -1)
    );
    assert_eq!(
        answer(leader.call(&req(-1), 2).await),
        (0, 3),
        "-1: up to the high watermark"
    );
    let mut other = RawClient::to_broker(&c, non_leader(&c, "t", 0).await).await;
    assert_eq!(
        answer(other.call(&req(3), 2).await),
        (ErrorCode::NotLeaderOrFollower.code(), -1)
    );
    assert_eq!(c.partition_info("t", 0).await.unwrap().log_start_offset, 3);
}
