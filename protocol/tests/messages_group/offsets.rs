//! OffsetCommit and OffsetFetch.

use super::*;

// ---------------------------------------------------------------- OffsetCommit

#[test]
fn offset_commit_request_known_answers() {
    let req = OffsetCommitRequest {
        group_id: s("g"),
        generation_id_or_member_epoch: 1,
        member_id: s("m"),
        topics: vec![OffsetCommitRequestTopic {
            name: s("t"),
            partitions: vec![OffsetCommitRequestPartition {
                committed_offset: 42,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new().s("g").i32(1).s("m").i64(-1).arr(1).s("t").arr(1);
    known_answer(&req, 2, &bytes.i32(0).i64(42).s("").done());

    let mut req = OffsetCommitRequest {
        generation_id_or_member_epoch: 5,
        ..req
    };
    req.topics[0].partitions[0].committed_leader_epoch = 3;
    req.topics[0].partitions[0].committed_metadata = None;
    let bytes = W::new()
        .cs("g")
        .i32(5)
        .cs("m")
        .null_cs()
        .carr(1)
        .cs("t")
        .carr(1);
    let bytes = bytes
        .i32(0)
        .i64(42)
        .i32(3)
        .null_cs()
        .tags0()
        .tags0()
        .tags0();
    known_answer(&req, 8, &bytes.done());
}

#[test]
fn offset_commit_response_known_answers() {
    let partitions = vec![OffsetCommitResponsePartition {
        partition_index: 1,
        error_code: 0,
        ..Default::default()
    }];
    let resp = OffsetCommitResponse {
        topics: vec![OffsetCommitResponseTopic {
            name: s("t"),
            partitions: partitions.clone(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new().i32(0).arr(1).s("t").arr(1).i32(1).i16(0);
    known_answer(&resp, 3, &bytes.done());
    let resp = OffsetCommitResponse {
        topics: vec![OffsetCommitResponseTopic {
            topic_id: TOPIC_ID,
            partitions,
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new()
        .i32(0)
        .carr(1)
        .raw(&TOPIC_ID.0)
        .carr(1)
        .i32(1)
        .i16(0);
    known_answer(&resp, 10, &bytes.tags0().tags0().tags0().done());
}

#[test]
fn offset_commit_fields_outside_their_versions() {
    let req = OffsetCommitRequest {
        retention_time_ms: 1000,
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 5), not_in("retention_time_ms", 5));
    let req = OffsetCommitRequest {
        topics: vec![OffsetCommitRequestTopic {
            partitions: vec![OffsetCommitRequestPartition {
                committed_leader_epoch: 4,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 5), not_in("committed_leader_epoch", 5));
    let by_id = OffsetCommitResponse {
        topics: vec![OffsetCommitResponseTopic {
            topic_id: TOPIC_ID,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(encode_err(&by_id, 9), not_in("topic_id", 9));
    let by_name = OffsetCommitResponse {
        topics: vec![OffsetCommitResponseTopic {
            name: s("t"),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(encode_err(&by_name, 10), not_in("name", 10));
}

// ---------------------------------------------------------------- OffsetFetch

#[test]
fn offset_fetch_request_known_answers() {
    let req = OffsetFetchRequest {
        group_id: s("g"),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: s("t"),
            partition_indexes: vec![0, 1],
            ..Default::default()
        }]),
        ..Default::default()
    };
    let bytes = W::new().s("g").arr(1).s("t").arr(2).i32(0).i32(1);
    known_answer(&req, 1, &bytes.done());
    let all = OffsetFetchRequest {
        group_id: s("g"),
        topics: None,
        ..Default::default()
    };
    known_answer(&all, 2, &W::new().s("g").arr(-1).done());
    let stable = OffsetFetchRequest {
        require_stable: true,
        ..all
    };
    let bytes = W::new().cs("g").null_carr().i8(1).tags0();
    known_answer(&stable, 7, &bytes.done());

    let multi = OffsetFetchRequest {
        groups: vec![
            OffsetFetchRequestGroup {
                group_id: s("g1"),
                member_id: Some(s("m")),
                member_epoch: 3,
                topics: None,
                ..Default::default()
            },
            OffsetFetchRequestGroup {
                group_id: s("g2"),
                topics: Some(vec![OffsetFetchRequestTopics {
                    name: s("t"),
                    partition_indexes: vec![0],
                    ..Default::default()
                }]),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let bytes = W::new().carr(2).cs("g1").cs("m").i32(3).null_carr().tags0();
    let bytes = bytes
        .cs("g2")
        .null_cs()
        .i32(-1)
        .carr(1)
        .cs("t")
        .carr(1)
        .i32(0)
        .tags0();
    known_answer(&multi, 9, &bytes.tags0().i8(0).tags0().done());
}

#[test]
fn offset_fetch_response_known_answers() {
    let resp = OffsetFetchResponse {
        topics: vec![OffsetFetchResponseTopic {
            name: s("t"),
            partitions: vec![OffsetFetchResponsePartition {
                committed_offset: 10,
                committed_leader_epoch: 2,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new()
        .i32(0)
        .arr(1)
        .s("t")
        .arr(1)
        .i32(0)
        .i64(10)
        .i32(2)
        .s("");
    known_answer(&resp, 5, &bytes.i16(0).i16(0).done());

    let partitions = vec![OffsetFetchResponsePartitions {
        committed_offset: 10,
        metadata: None,
        ..Default::default()
    }];
    let resp = OffsetFetchResponse {
        groups: vec![OffsetFetchResponseGroup {
            group_id: s("g"),
            topics: vec![OffsetFetchResponseTopics {
                name: s("t"),
                partitions,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new().i32(0).carr(1).cs("g").carr(1).cs("t").carr(1);
    let bytes = bytes.i32(0).i64(10).i32(-1).null_cs().i16(0).tags0();
    known_answer(&resp, 8, &bytes.tags0().i16(0).tags0().tags0().done());
}

#[test]
fn offset_fetch_version_rules() {
    let req = OffsetFetchRequest {
        require_stable: true,
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 6), not_in("require_stable", 6));
    let req = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup::default()],
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 7), not_in("groups", 7));
    let req = OffsetFetchRequest {
        group_id: s("g"),
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 8), not_in("group_id", 8));
    let req = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            member_id: Some(s("m")),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 8), not_in("member_id", 8));
    let resp = OffsetFetchResponse {
        error_code: 16,
        ..Default::default()
    };
    assert_eq!(encode_err(&resp, 1), not_in("error_code", 1));

    // Topics exists from v1 but may be null ("all topics") only from v2.
    let all = OffsetFetchRequest {
        topics: None,
        ..Default::default()
    };
    assert_eq!(encode_err(&all, 1), null_not_allowed("topics", 1));
    assert_eq!(
        decode_err::<OffsetFetchRequest>(W::new().s("g").arr(-1).done(), 1),
        DecodeError::UnexpectedNull { context: "topics" }
    );
}
