use bytes::BytesMut;
use gregor_protocol::Message;
use gregor_protocol::messages::delete_records::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use gregor_protocol::messages::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};

use super::*;

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

#[test]
fn list_offsets_request_groups_by_topic_and_follows_the_version() {
    let partitions = [
        (tp("a", 0), 5, OffsetSpec::Earliest),
        (tp("b", 1), 6, OffsetSpec::Latest),
        (tp("a", 2), 7, OffsetSpec::Timestamp(1_700_000_000_000)),
    ];
    for version in ListOffsetsRequest::VERSIONS.iter() {
        let request =
            list_offsets_request(&partitions, IsolationLevel::ReadUncommitted, version, 900)
                .unwrap();
        assert_eq!(request.replica_id, -1);
        assert_eq!(request.topics.len(), 2);
        let a = &request.topics[0];
        assert_eq!(a.name, "a");
        assert_eq!(
            a.partitions
                .iter()
                .map(|p| (p.partition_index, p.timestamp))
                .collect::<Vec<_>>(),
            [
                (0, list_offsets::EARLIEST_TIMESTAMP),
                (2, 1_700_000_000_000)
            ]
        );
        let epoch = a.partitions[0].current_leader_epoch;
        assert_eq!(epoch, if version >= 4 { 5 } else { -1 });
        assert_eq!(request.timeout_ms, if version >= 10 { 900 } else { 0 });
        let mut buf = BytesMut::new();
        request.encode(&mut buf, version).unwrap();
    }
}

#[test]
fn features_beyond_the_version_are_typed_errors() {
    let latest = [(tp("a", 0), -1, OffsetSpec::Latest)];
    assert!(matches!(
        list_offsets_request(&latest, IsolationLevel::ReadCommitted, 1, 1),
        Err(ClientError::FeatureNotSupported {
            api: ApiKey::ListOffsets,
            needs: 2,
            negotiated: 1,
            ..
        })
    ));
    let request = list_offsets_request(&latest, IsolationLevel::ReadCommitted, 2, 1).unwrap();
    assert_eq!(request.isolation_level, list_offsets::READ_COMMITTED);
    let max = [(tp("a", 0), -1, OffsetSpec::MaxTimestamp)];
    assert!(matches!(
        list_offsets_request(&max, IsolationLevel::ReadUncommitted, 6, 1),
        Err(ClientError::FeatureNotSupported { needs: 7, .. })
    ));
    let request = list_offsets_request(&max, IsolationLevel::ReadUncommitted, 7, 1).unwrap();
    assert_eq!(
        request.topics[0].partitions[0].timestamp,
        list_offsets::MAX_TIMESTAMP
    );
}

#[test]
fn list_offsets_answers_are_typed_per_partition() {
    let partition = |index, error_code: ErrorCode, offset, timestamp, leader_epoch| {
        ListOffsetsPartitionResponse {
            partition_index: index,
            error_code: error_code.code(),
            offset,
            timestamp,
            leader_epoch,
            ..Default::default()
        }
    };
    let response = ListOffsetsResponse {
        topics: vec![ListOffsetsTopicResponse {
            name: "a".into(),
            partitions: vec![
                partition(0, ErrorCode::None, 42, -1, 3),
                partition(1, ErrorCode::NotLeaderOrFollower, -1, -1, -1),
                partition(2, ErrorCode::None, 7, 1_000, 2),
                partition(3, ErrorCode::UnsupportedForMessageFormat, -1, -1, -1),
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let outcomes = list_offsets_outcomes(&response, 9);
    assert!(matches!(
        outcomes[0],
        (
            _,
            Outcome::Done(Ok(ListedOffset {
                offset: 42,
                timestamp: None,
                leader_epoch: Some(3)
            }))
        )
    ));
    assert_eq!(outcomes[0].0, tp("a", 0));
    assert!(matches!(
        outcomes[1].1,
        Outcome::Retry(ClientError::Broker {
            code: ErrorCode::NotLeaderOrFollower,
            ..
        })
    ));
    assert!(matches!(
        outcomes[2].1,
        Outcome::Done(Ok(ListedOffset {
            offset: 7,
            timestamp: Some(1_000),
            ..
        }))
    ));
    assert!(matches!(
        outcomes[3].1,
        Outcome::Done(Err(ErrorCode::UnsupportedForMessageFormat))
    ));
    let old = list_offsets_outcomes(&response, 3);
    assert!(matches!(
        old[0].1,
        Outcome::Done(Ok(ListedOffset {
            leader_epoch: None,
            ..
        }))
    ));
}

#[test]
fn delete_records_round_trip() {
    let request = delete_records_request(&[(tp("a", 1), 0, 10), (tp("a", 0), 0, -1)], 77);
    assert_eq!(request.timeout_ms, 77);
    assert_eq!(request.topics.len(), 1);
    assert_eq!(
        request.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.offset))
            .collect::<Vec<_>>(),
        [(1, 10), (0, -1)]
    );
    for version in DeleteRecordsRequest::VERSIONS.iter() {
        request.encode(&mut BytesMut::new(), version).unwrap();
    }
    let response = DeleteRecordsResponse {
        topics: vec![DeleteRecordsTopicResult {
            name: "a".into(),
            partitions: vec![
                DeleteRecordsPartitionResult {
                    partition_index: 1,
                    low_watermark: 10,
                    error_code: 0,
                    ..Default::default()
                },
                DeleteRecordsPartitionResult {
                    partition_index: 0,
                    low_watermark: -1,
                    error_code: ErrorCode::OffsetOutOfRange.code(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let outcomes = delete_records_outcomes(&response);
    assert!(matches!(outcomes[0], (_, Outcome::Done(Ok(10)))));
    assert!(matches!(
        outcomes[1],
        (_, Outcome::Done(Err(ErrorCode::OffsetOutOfRange)))
    ));
}
