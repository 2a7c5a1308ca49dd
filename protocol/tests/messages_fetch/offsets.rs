//! ListOffsets and OffsetForLeaderEpoch: known answers and version rules.

use gregor_protocol::EncodeError;
use gregor_protocol::messages::list_offsets::{
    EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, ListOffsetsPartition, ListOffsetsPartitionResponse,
    ListOffsetsTopic, ListOffsetsTopicResponse, READ_COMMITTED,
};
use gregor_protocol::messages::offset_for_leader_epoch::{
    self as ofle, OffsetForLeaderPartition, OffsetForLeaderTopic, OffsetForLeaderTopicResult,
};
use gregor_protocol::messages::*;

use super::{TestResult, W, encode_err, known_answer};

// ---------------------------------------------------------------------------------------------
// ListOffsets

#[test]
fn list_offsets_request_v1_known_answer() -> TestResult {
    let msg = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 3,
                timestamp: EARLIEST_TIMESTAMP,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let expected = W::new().i32(-1).count(1).str("t").count(1).i32(3).i64(-2);
    known_answer(&msg, 1, &expected)
}

#[test]
fn list_offsets_request_v10_known_answer() -> TestResult {
    let msg = ListOffsetsRequest {
        replica_id: -1,
        isolation_level: READ_COMMITTED,
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                current_leader_epoch: 5,
                timestamp: LATEST_TIMESTAMP,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    let expected = W::new()
        .i32(-1)
        .i8(1)
        .ccount(1)
        .cstr("t")
        .ccount(1)
        .i32(0)
        .i32(5)
        .i64(-1)
        .no_tags()
        .no_tags()
        .i32(30_000)
        .no_tags();
    known_answer(&msg, 10, &expected)
}

#[test]
fn list_offsets_response_known_answers() -> TestResult {
    let partition = ListOffsetsPartitionResponse {
        partition_index: 3,
        error_code: 0,
        timestamp: 1_700_000_000_000,
        offset: 77,
        ..Default::default()
    };
    let v1 = ListOffsetsResponse {
        topics: vec![ListOffsetsTopicResponse {
            name: "t".into(),
            partitions: vec![partition.clone()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let expected_v1 = W::new()
        .count(1)
        .str("t")
        .count(1)
        .i32(3)
        .i16(0)
        .i64(1_700_000_000_000)
        .i64(77);
    known_answer(&v1, 1, &expected_v1)?;

    let mut v6 = v1.clone();
    v6.throttle_time_ms = 5;
    v6.topics[0].partitions[0].leader_epoch = 8;
    let expected_v6 = W::new()
        .i32(5)
        .ccount(1)
        .cstr("t")
        .ccount(1)
        .i32(3)
        .i16(0)
        .i64(1_700_000_000_000)
        .i64(77)
        .i32(8)
        .no_tags()
        .no_tags()
        .no_tags();
    known_answer(&v6, 6, &expected_v6)?;
    assert_eq!(v6.partition("t", 3).map(|p| p.offset), Some(77));
    Ok(())
}

#[test]
fn list_offsets_fields_outside_their_versions() {
    let isolation = ListOffsetsRequest {
        isolation_level: READ_COMMITTED,
        ..Default::default()
    };
    assert_eq!(
        encode_err(&isolation, 1),
        Some(EncodeError::FieldNotInVersion {
            field: "isolation_level",
            version: 1
        })
    );
    let timeout = ListOffsetsRequest {
        timeout_ms: 1,
        ..Default::default()
    };
    assert_eq!(
        encode_err(&timeout, 9),
        Some(EncodeError::FieldNotInVersion {
            field: "timeout_ms",
            version: 9
        })
    );
    let epoch = ListOffsetsRequest {
        topics: vec![ListOffsetsTopic {
            partitions: vec![ListOffsetsPartition {
                current_leader_epoch: 2,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        encode_err(&epoch, 3),
        Some(EncodeError::FieldNotInVersion {
            field: "current_leader_epoch",
            version: 3
        })
    );
    let throttle = ListOffsetsResponse {
        throttle_time_ms: 1,
        ..Default::default()
    };
    assert_eq!(
        encode_err(&throttle, 1),
        Some(EncodeError::FieldNotInVersion {
            field: "throttle_time_ms",
            version: 1
        })
    );
}

// ---------------------------------------------------------------------------------------------
// OffsetForLeaderEpoch

fn ofle_request() -> OffsetForLeaderEpochRequest {
    OffsetForLeaderEpochRequest {
        replica_id: ofle::CONSUMER_REPLICA_ID,
        topics: vec![OffsetForLeaderTopic {
            topic: "t".into(),
            partitions: vec![OffsetForLeaderPartition {
                partition: 1,
                current_leader_epoch: 6,
                leader_epoch: 4,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn offset_for_leader_epoch_request_known_answers() -> TestResult {
    let msg = ofle_request();
    let v3 = W::new()
        .i32(-1)
        .count(1)
        .str("t")
        .count(1)
        .i32(1)
        .i32(6)
        .i32(4);
    known_answer(&msg, 3, &v3)?;
    let v4 = W::new()
        .i32(-1)
        .ccount(1)
        .cstr("t")
        .ccount(1)
        .i32(1)
        .i32(6)
        .i32(4)
        .no_tags()
        .no_tags()
        .no_tags();
    known_answer(&msg, 4, &v4)
}

#[test]
fn offset_for_leader_epoch_response_known_answers() -> TestResult {
    let msg = OffsetForLeaderEpochResponse {
        throttle_time_ms: 2,
        topics: vec![OffsetForLeaderTopicResult {
            topic: "t".into(),
            partitions: vec![ofle::EpochEndOffset {
                error_code: 0,
                partition: 1,
                leader_epoch: 4,
                end_offset: 120,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let v2 = W::new()
        .i32(2)
        .count(1)
        .str("t")
        .count(1)
        .i16(0)
        .i32(1)
        .i32(4)
        .i64(120);
    known_answer(&msg, 2, &v2)?;
    let v4 = W::new()
        .i32(2)
        .ccount(1)
        .cstr("t")
        .ccount(1)
        .i16(0)
        .i32(1)
        .i32(4)
        .i64(120)
        .no_tags()
        .no_tags()
        .no_tags();
    known_answer(&msg, 4, &v4)?;
    assert_eq!(msg.partition("t", 1).map(|p| p.end_offset), Some(120));
    Ok(())
}

#[test]
fn offset_for_leader_epoch_fields_outside_their_versions() {
    // v2 has no replica_id: only the schema default (-2) may be left in it.
    assert_eq!(
        encode_err(&ofle_request(), 2),
        Some(EncodeError::FieldNotInVersion {
            field: "replica_id",
            version: 2
        })
    );
    let debug = OffsetForLeaderEpochRequest {
        replica_id: -2,
        ..ofle_request()
    };
    assert_eq!(encode_err(&debug, 2), None);
    assert_eq!(OffsetForLeaderEpochRequest::default().replica_id, -2);
}
