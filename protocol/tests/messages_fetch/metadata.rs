//! Metadata: known answers, version rules and nullability.

use gregor_protocol::messages::metadata::{
    MetadataRequestTopic, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use gregor_protocol::messages::*;
use gregor_protocol::{DecodeError, EncodeError};

use super::{TOPIC_ID, TestResult, W, decode_err, encode_err, known_answer};

#[test]
fn metadata_request_known_answers() -> TestResult {
    let v4 = MetadataRequest {
        allow_auto_topic_creation: false,
        ..MetadataRequest::for_topics(["a"])
    };
    known_answer(&v4, 4, &W::new().count(1).str("a").i8(0))?;

    let v12 = MetadataRequest {
        topics: Some(vec![
            MetadataRequestTopic {
                topic_id: TOPIC_ID,
                name: None,
                ..Default::default()
            },
            MetadataRequestTopic {
                name: Some("b".into()),
                ..Default::default()
            },
        ]),
        allow_auto_topic_creation: true,
        include_topic_authorized_operations: true,
        ..Default::default()
    };
    let expected = W::new()
        .ccount(2)
        .raw(&TOPIC_ID.0)
        .uv(0) // null name
        .no_tags()
        .raw(&[0; 16])
        .cstr("b")
        .no_tags()
        .i8(1)
        .i8(1)
        .no_tags();
    known_answer(&v12, 12, &expected)?;

    // All topics: null from v1 (classic and compact), an empty array in v0.
    known_answer(&MetadataRequest::all_topics(1), 1, &W::new().count(-1))?;
    known_answer(
        &MetadataRequest::all_topics(9),
        9,
        &W::new().uv(0).i8(1).i8(0).i8(0).no_tags(),
    )?;
    known_answer(&MetadataRequest::all_topics(0), 0, &W::new().count(0))
}

#[test]
fn metadata_response_v1_known_answer() -> TestResult {
    let msg = MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "h".into(),
            port: 9092,
            rack: None,
            ..Default::default()
        }],
        controller_id: 1,
        topics: vec![MetadataResponseTopic {
            error_code: 0,
            name: Some("t".into()),
            is_internal: false,
            partitions: vec![MetadataResponsePartition {
                error_code: 0,
                partition_index: 0,
                leader_id: 1,
                replica_nodes: vec![1, 2],
                isr_nodes: vec![1],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let expected = W::new()
        .count(1)
        .i32(1)
        .str("h")
        .i32(9092)
        .i16(-1) // null rack
        .i32(1)
        .count(1)
        .i16(0)
        .str("t")
        .i8(0)
        .count(1)
        .i16(0)
        .i32(0)
        .i32(1)
        .count(2)
        .i32(1)
        .i32(2)
        .count(1)
        .i32(1);
    known_answer(&msg, 1, &expected)?;
    assert_eq!(msg.broker(1).map(|b| b.port), Some(9092));
    assert_eq!(
        msg.topic("t")
            .and_then(|t| t.partition(0))
            .map(|p| p.leader_id),
        Some(1)
    );
    Ok(())
}

#[test]
fn metadata_response_v13_known_answer() -> TestResult {
    let msg = MetadataResponse {
        throttle_time_ms: 0,
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "h".into(),
            port: 9092,
            rack: Some("r".into()),
            ..Default::default()
        }],
        cluster_id: Some("cl".into()),
        controller_id: 1,
        topics: vec![MetadataResponseTopic {
            error_code: 100,
            name: None,
            topic_id: TOPIC_ID,
            is_internal: false,
            partitions: vec![MetadataResponsePartition {
                error_code: 0,
                partition_index: 0,
                leader_id: 1,
                leader_epoch: 7,
                replica_nodes: vec![1],
                isr_nodes: vec![1],
                offline_replicas: vec![],
                ..Default::default()
            }],
            topic_authorized_operations: i32::MIN,
            ..Default::default()
        }],
        error_code: 0,
        ..Default::default()
    };
    let expected = W::new()
        .i32(0)
        .ccount(1)
        .i32(1)
        .cstr("h")
        .i32(9092)
        .cstr("r")
        .no_tags()
        .cstr("cl")
        .i32(1)
        .ccount(1)
        .i16(100)
        .uv(0) // null name
        .raw(&TOPIC_ID.0)
        .i8(0)
        .ccount(1)
        .i16(0)
        .i32(0)
        .i32(1)
        .i32(7)
        .ccount(1)
        .i32(1)
        .ccount(1)
        .i32(1)
        .ccount(0)
        .no_tags()
        .i32(i32::MIN)
        .no_tags()
        .i16(0) // top-level error_code (v13+); no cluster_authorized_operations after v10
        .no_tags();
    known_answer(&msg, 13, &expected)
}

#[test]
fn metadata_fields_outside_their_versions() {
    let cluster_ops = MetadataRequest {
        include_cluster_authorized_operations: true,
        ..Default::default()
    };
    assert_eq!(
        encode_err(&cluster_ops, 11),
        Some(EncodeError::FieldNotInVersion {
            field: "include_cluster_authorized_operations",
            version: 11
        })
    );
    assert_eq!(encode_err(&cluster_ops, 10), None);
    let no_auto = MetadataRequest {
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    assert_eq!(
        encode_err(&no_auto, 3),
        Some(EncodeError::FieldNotInVersion {
            field: "allow_auto_topic_creation",
            version: 3
        })
    );
    let by_id = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            topic_id: TOPIC_ID,
            ..Default::default()
        }]),
        ..Default::default()
    };
    assert_eq!(
        encode_err(&by_id, 9),
        Some(EncodeError::FieldNotInVersion {
            field: "topic_id",
            version: 9
        })
    );
    let top_error = MetadataResponse {
        error_code: 1,
        ..Default::default()
    };
    assert_eq!(
        encode_err(&top_error, 12),
        Some(EncodeError::FieldNotInVersion {
            field: "error_code",
            version: 12
        })
    );
    let rack = MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            rack: Some("r".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        encode_err(&rack, 0),
        Some(EncodeError::FieldNotInVersion {
            field: "rack",
            version: 0
        })
    );
}

#[test]
fn metadata_nulls_before_their_nullable_versions() {
    // Request topics: nullable from v1.
    let all = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    assert_eq!(
        encode_err(&all, 0),
        Some(EncodeError::NullNotAllowed {
            field: "topics",
            version: 0
        })
    );
    assert_eq!(
        decode_err::<MetadataRequest>(&W::new().count(-1), 0),
        Some(DecodeError::UnexpectedNull { context: "topics" })
    );

    // Request topic name: nullable from v10.
    let unnamed = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: None,
            ..Default::default()
        }]),
        ..Default::default()
    };
    assert_eq!(
        encode_err(&unnamed, 9),
        Some(EncodeError::NullNotAllowed {
            field: "name",
            version: 9
        })
    );
    assert_eq!(encode_err(&unnamed, 10), None);
    let v9 = W::new()
        .ccount(1)
        .uv(0) // null name
        .no_tags()
        .i8(1)
        .i8(0)
        .i8(0)
        .no_tags();
    assert_eq!(
        decode_err::<MetadataRequest>(&v9, 9),
        Some(DecodeError::UnexpectedNull { context: "name" })
    );

    // Response topic name: nullable from v12.
    let unnamed = MetadataResponse {
        topics: vec![MetadataResponseTopic {
            name: None,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        encode_err(&unnamed, 11),
        Some(EncodeError::NullNotAllowed {
            field: "name",
            version: 11
        })
    );
    assert_eq!(encode_err(&unnamed, 12), None);
    let v1 = W::new()
        .count(0)
        .i32(-1)
        .count(1)
        .i16(0)
        .i16(-1) // null topic name
        .i8(0)
        .count(0);
    assert_eq!(
        decode_err::<MetadataResponse>(&v1, 1),
        Some(DecodeError::UnexpectedNull { context: "name" })
    );
}
