use bytes::BytesMut;
use gregor_protocol::Message;
use gregor_protocol::messages::offset_commit::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use gregor_protocol::messages::offset_fetch::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};

use super::*;

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

#[test]
fn commits_from_outside_the_group_in_every_version() {
    let offsets = [
        (tp("a", 0), OffsetAndMetadata::new(10).with_metadata("m")),
        (tp("b", 1), OffsetAndMetadata::new(20)),
    ];
    for version in OffsetCommitRequest::VERSIONS.iter() {
        let request = commit_request("g", None, &offsets, version).unwrap();
        assert_eq!(request.group_id, "g");
        assert_eq!(request.generation_id_or_member_epoch, -1);
        assert_eq!(request.member_id, "");
        assert_eq!(request.topics.len(), 2);
        let p = &request.topics[0].partitions[0];
        assert_eq!(
            (p.committed_offset, p.committed_metadata.as_deref()),
            (10, Some("m"))
        );
        assert_eq!(p.committed_leader_epoch, -1);
        request.encode(&mut BytesMut::new(), version).unwrap();
    }
}

#[test]
fn a_member_commits_with_its_generation_member_id_and_instance_id() {
    let offsets = [(tp("a", 0), OffsetAndMetadata::new(10))];
    let fencing = CommitFencing {
        generation_or_epoch: 7,
        member_id: "m-1".to_owned(),
        instance_id: Some("pod-1".to_owned()),
    };
    let request = commit_request("g", Some(&fencing), &offsets, 8).unwrap();
    assert_eq!(request.generation_id_or_member_epoch, 7);
    assert_eq!(request.member_id, "m-1");
    assert_eq!(request.group_instance_id.as_deref(), Some("pod-1"));
}

#[test]
fn committing_a_leader_epoch_needs_version_six() {
    let offsets = [(tp("a", 0), OffsetAndMetadata::new(1).with_leader_epoch(4))];
    assert!(matches!(
        commit_request("g", None, &offsets, 5),
        Err(ClientError::FeatureNotSupported {
            api: ApiKey::OffsetCommit,
            needs: 6,
            ..
        })
    ));
    let request = commit_request("g", None, &offsets, 6).unwrap();
    assert_eq!(request.topics[0].partitions[0].committed_leader_epoch, 4);
}

#[test]
fn commit_errors_are_per_partition_and_coordinator_errors_retry() {
    let response = OffsetCommitResponse {
        topics: vec![OffsetCommitResponseTopic {
            name: "a".into(),
            partitions: vec![
                OffsetCommitResponsePartition {
                    partition_index: 0,
                    error_code: 0,
                    ..Default::default()
                },
                OffsetCommitResponsePartition {
                    partition_index: 1,
                    error_code: ErrorCode::UnknownMemberId.code(),
                    ..Default::default()
                },
                OffsetCommitResponsePartition {
                    partition_index: 2,
                    error_code: ErrorCode::NotCoordinator.code(),
                    ..Default::default()
                },
                OffsetCommitResponsePartition {
                    partition_index: 3,
                    error_code: ErrorCode::UnknownTopicOrPartition.code(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let outcomes = commit_outcomes(&response);
    assert!(matches!(outcomes[0].1, Outcome::Done(Ok(()))));
    assert!(matches!(
        outcomes[1].1,
        Outcome::Done(Err(ErrorCode::UnknownMemberId))
    ));
    assert!(matches!(outcomes[2].1, Outcome::Retry(_)));
    assert!(
        matches!(
            outcomes[3].1,
            Outcome::Done(Err(ErrorCode::UnknownTopicOrPartition))
        ),
        "not retried for commits"
    );
}

#[test]
fn fetch_request_shape_follows_the_version() {
    let partitions = [tp("a", 0), tp("a", 2)];
    for version in OffsetFetchRequest::VERSIONS.iter() {
        let request = fetch_request("g", Some(&partitions), false, version).unwrap();
        if version >= 8 {
            assert_eq!(request.groups[0].group_id, "g");
            let topics = request.groups[0].topics.as_ref().unwrap();
            assert_eq!(topics[0].partition_indexes, [0, 2]);
        } else {
            assert_eq!(request.group_id, "g");
            assert_eq!(
                request.topics.as_ref().unwrap()[0].partition_indexes,
                [0, 2]
            );
        }
        request.encode(&mut BytesMut::new(), version).unwrap();
        if version >= 2 {
            let all = fetch_request("g", None, false, version).unwrap();
            all.encode(&mut BytesMut::new(), version).unwrap();
        }
    }
    assert!(matches!(
        fetch_request("g", None, false, 1),
        Err(ClientError::FeatureNotSupported { needs: 2, .. })
    ));
    assert!(matches!(
        fetch_request("g", Some(&partitions), true, 6),
        Err(ClientError::FeatureNotSupported { needs: 7, .. })
    ));
    assert!(
        fetch_request("g", None, false, 8).unwrap().groups[0]
            .topics
            .is_none()
    );
}

#[test]
fn fetched_offsets_old_and_new_layouts() {
    let old = OffsetFetchResponse {
        topics: vec![OffsetFetchResponseTopic {
            name: "a".into(),
            partitions: vec![
                OffsetFetchResponsePartition {
                    partition_index: 0,
                    committed_offset: 5,
                    committed_leader_epoch: 2,
                    metadata: Some("m".into()),
                    error_code: 0,
                    ..Default::default()
                },
                OffsetFetchResponsePartition {
                    partition_index: 1,
                    committed_offset: -1,
                    metadata: Some(String::new()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let fetched = fetched_offsets(&old, "g", 7).unwrap();
    assert_eq!(
        fetched[&tp("a", 0)],
        Ok(Some(CommittedOffset {
            offset: 5,
            leader_epoch: Some(2),
            metadata: "m".into()
        }))
    );
    assert_eq!(fetched[&tp("a", 1)], Ok(None));
    let v4 = fetched_offsets(&old, "g", 4).unwrap();
    assert!(matches!(&v4[&tp("a", 0)], Ok(Some(c)) if c.leader_epoch.is_none()));

    let new = OffsetFetchResponse {
        groups: vec![OffsetFetchResponseGroup {
            group_id: "g".into(),
            topics: vec![OffsetFetchResponseTopics {
                name: "b".into(),
                partitions: vec![OffsetFetchResponsePartitions {
                    partition_index: 3,
                    committed_offset: 9,
                    committed_leader_epoch: -1,
                    metadata: None,
                    error_code: ErrorCode::UnknownTopicOrPartition.code(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let fetched = fetched_offsets(&new, "g", 9).unwrap();
    assert_eq!(
        fetched[&tp("b", 3)],
        Err(ErrorCode::UnknownTopicOrPartition)
    );
    assert!(fetched_offsets(&new, "other", 9).is_err());
}

#[test]
fn group_and_coordinator_errors_fail_the_fetch_for_a_retry() {
    let group_error = OffsetFetchResponse {
        error_code: ErrorCode::CoordinatorLoadInProgress.code(),
        ..Default::default()
    };
    assert!(matches!(
        fetched_offsets(&group_error, "g", 3),
        Err(ClientError::Broker {
            code: ErrorCode::CoordinatorLoadInProgress,
            ..
        })
    ));
    let partition_error = OffsetFetchResponse {
        topics: vec![OffsetFetchResponseTopic {
            name: "a".into(),
            partitions: vec![OffsetFetchResponsePartition {
                error_code: ErrorCode::NotCoordinator.code(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert!(matches!(
        fetched_offsets(&partition_error, "g", 1),
        Err(ClientError::Broker {
            code: ErrorCode::NotCoordinator,
            ..
        })
    ));
}
