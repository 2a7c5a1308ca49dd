//! Known-answer and version-rule tests for Produce, InitProducerId, CreateTopics, DeleteTopics,
//! CreatePartitions, DeleteRecords, SaslHandshake and SaslAuthenticate.
//!
//! The expected bytes are written by hand from Kafka's message schemas. Each known answer is
//! also fed to the kafka-protocol crate (an independent implementation), which must read all of
//! it and write it back unchanged, so a slip in the hand-written bytes cannot go unnoticed.

use std::error::Error;
use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use gregor_protocol::messages::create_partitions::{
    CreatePartitionsAssignment, CreatePartitionsTopic, CreatePartitionsTopicResult,
};
use gregor_protocol::messages::create_topics::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig, CreatableTopicConfigs,
    CreatableTopicResult,
};
use gregor_protocol::messages::delete_records::{
    DeleteRecordsPartition, DeleteRecordsPartitionResult, DeleteRecordsTopic,
    DeleteRecordsTopicResult,
};
use gregor_protocol::messages::delete_topics::{DeletableTopicResult, DeleteTopicState};
use gregor_protocol::messages::produce::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceData,
    PartitionProduceResponse, TopicProduceData, TopicProduceResponse,
};
use gregor_protocol::messages::*;
use gregor_protocol::primitives::{RawTaggedField, UnknownTaggedFields, Uuid};
use gregor_protocol::{ApiKey, DecodeError, EncodeError, Message, Request, VersionRange};
use kafka_protocol::messages as kp;
use kafka_protocol::protocol::{Decodable, Encodable};

type TestResult = Result<(), Box<dyn Error>>;

/// Asserts that `msg` encodes to `expected` in `version` and that `expected` decodes back to it;
/// then checks `expected` against the kafka-protocol codec `K`.
fn known_answer<M, K>(msg: &M, version: i16, expected: &[u8]) -> TestResult
where
    M: Message + PartialEq + Debug,
    K: Decodable + Encodable,
{
    let mut buf = BytesMut::new();
    msg.encode(&mut buf, version)?;
    assert_eq!(&buf[..], expected, "{} v{version}: encoded bytes", M::NAME);
    let back = M::decode_exact(Bytes::copy_from_slice(expected), version)?;
    assert_eq!(&back, msg, "{} v{version}: decoded value", M::NAME);

    let mut input = Bytes::copy_from_slice(expected);
    let other =
        K::decode(&mut input, version).map_err(|e| format!("{} v{version}: {e}", M::NAME))?;
    assert!(
        input.is_empty(),
        "{} v{version}: oracle left bytes",
        M::NAME
    );
    let mut again = BytesMut::new();
    other
        .encode(&mut again, version)
        .map_err(|e| format!("{} v{version}: {e}", M::NAME))?;
    assert_eq!(&again[..], expected, "{} v{version}: oracle bytes", M::NAME);
    Ok(())
}

/// The error from encoding `msg` in `version`, which must fail.
fn encode_err<M: Message + Debug>(msg: &M, version: i16) -> EncodeError {
    match msg.encode(&mut BytesMut::new(), version) {
        Err(e) => e,
        Ok(()) => panic!("{} v{version}: {msg:?} encoded", M::NAME),
    }
}

fn not_in_version(field: &'static str, version: i16) -> EncodeError {
    EncodeError::FieldNotInVersion { field, version }
}

/// One unknown tagged field, which only flexible versions can carry.
fn stray_tag() -> UnknownTaggedFields {
    UnknownTaggedFields(vec![RawTaggedField {
        tag: 99,
        data: Bytes::from_static(b"x"),
    }])
}

const TOPIC_ID: Uuid = Uuid([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
const TOPIC_ID_BYTES: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/// `parts` joined into one byte vector.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---------------------------------------------------------------- Produce

fn produce_request(name: &str, topic_id: Uuid, records: Option<&'static [u8]>) -> ProduceRequest {
    ProduceRequest {
        acks: -1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: name.into(),
            topic_id,
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: records.map(Bytes::from_static),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn produce_request_known_answers() -> TestResult {
    let v3 = produce_request("t", Uuid::ZERO, Some(&[1, 2, 3]));
    let bytes = cat(&[
        &[0xff, 0xff, 0xff, 0xff, 0, 0, 0x03, 0xe8], // transactional_id: null, acks: -1, timeout_ms
        &[0, 0, 0, 1, 0, 1, b't'],                   // topic_data: 1, name
        &[0, 0, 0, 1, 0, 0, 0, 0],                   // partition_data: 1, index
        &[0, 0, 0, 3, 1, 2, 3],                      // records
    ]);
    known_answer::<_, kp::ProduceRequest>(&v3, 3, &bytes)?;

    let mut v9 = produce_request("t", Uuid::ZERO, None);
    v9.transactional_id = Some("tx".into());
    v9.acks = 1;
    v9.topic_data[0].partition_data[0].index = 2;
    let bytes = cat(&[
        &[3, b't', b'x', 0, 1, 0, 0, 0x03, 0xe8], // transactional_id, acks, timeout_ms
        &[2, 2, b't'],                            // topic_data: 1, name
        &[2, 0, 0, 0, 2, 0],                      // partition_data: 1, index, records: null
        &[0, 0, 0],                               // tags (partition, topic, request)
    ]);
    known_answer::<_, kp::ProduceRequest>(&v9, 9, &bytes)?;

    // v13 names topics by id.
    let v13 = produce_request("", TOPIC_ID, Some(&[0xaa]));
    let bytes = cat(&[
        &[0, 0xff, 0xff, 0, 0, 0x03, 0xe8], // transactional_id: null, acks, timeout_ms
        &[2],                               // topic_data: 1
        &TOPIC_ID_BYTES,                    //   topic_id
        &[2, 0, 0, 0, 0, 2, 0xaa],          //   partition_data: 1, index, records
        &[0, 0, 0],                         // tags
    ]);
    known_answer::<_, kp::ProduceRequest>(&v13, 13, &bytes)
}

#[test]
fn produce_request_topic_name_and_id_by_version() {
    let by_id = produce_request("", TOPIC_ID, None);
    assert_eq!(encode_err(&by_id, 12), not_in_version("topic_id", 12));
    let by_name = produce_request("t", Uuid::ZERO, None);
    assert_eq!(encode_err(&by_name, 13), not_in_version("name", 13));
}

fn produce_partition() -> PartitionProduceResponse {
    PartitionProduceResponse {
        base_offset: 42,
        ..Default::default()
    }
}

fn produce_response(partition: PartitionProduceResponse) -> ProduceResponse {
    ProduceResponse {
        responses: vec![TopicProduceResponse {
            name: "t".into(),
            partition_responses: vec![partition],
            ..Default::default()
        }],
        ..Default::default()
    }
}

const MINUS_ONE_I64: [u8; 8] = [0xff; 8];

#[test]
fn produce_response_known_answers() -> TestResult {
    let v8 = produce_response(PartitionProduceResponse {
        log_start_offset: 0,
        record_errors: vec![BatchIndexAndErrorMessage {
            batch_index: 3,
            batch_index_error_message: None,
            ..Default::default()
        }],
        error_message: Some("bad".into()),
        ..produce_partition()
    });
    let bytes = cat(&[
        &[0, 0, 0, 1, 0, 1, b't'],             // responses: 1, name
        &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0],       // partition_responses: 1, index, error_code
        &[0, 0, 0, 0, 0, 0, 0, 42],            // base_offset
        &MINUS_ONE_I64,                        // log_append_time_ms
        &[0; 8],                               // log_start_offset: 0
        &[0, 0, 0, 1, 0, 0, 0, 3, 0xff, 0xff], // record_errors: 1, batch_index, message: null
        &[0, 3, b'b', b'a', b'd'],             // error_message
        &[0, 0, 0, 0],                         // throttle_time_ms
    ]);
    known_answer::<_, kp::ProduceResponse>(&v8, 8, &bytes)?;

    let mut v10 = produce_response(PartitionProduceResponse {
        index: 1,
        error_code: 6,
        base_offset: -1,
        current_leader: LeaderIdAndEpoch {
            leader_id: 2,
            leader_epoch: 5,
            ..Default::default()
        },
        ..Default::default()
    });
    v10.node_endpoints = vec![NodeEndpoint {
        node_id: 2,
        host: "h".into(),
        port: 9092,
        ..Default::default()
    }];
    let bytes = cat(&[
        &[2, 2, b't'],                // responses: 1, name
        &[2, 0, 0, 0, 1, 0, 6],       // partition_responses: 1, index, error_code
        &MINUS_ONE_I64,               // base_offset
        &MINUS_ONE_I64,               // log_append_time_ms
        &MINUS_ONE_I64,               // log_start_offset
        &[1, 0],                      // record_errors: 0, error_message: null
        &[1, 0, 9],                   // tags: 1; tag 0 (current_leader), 9 bytes
        &[0, 0, 0, 2, 0, 0, 0, 5, 0], //   leader_id, leader_epoch, tags
        &[0],                         // topic tags
        &[0, 0, 0, 0],                // throttle_time_ms
        &[1, 0, 13],                  // tags: 1; tag 0 (node_endpoints), 13 bytes
        &[2, 0, 0, 0, 2, 2, b'h'],    //   node_endpoints: 1, node_id, host
        &[0, 0, 0x23, 0x84, 0, 0],    //   port: 9092, rack: null, tags
    ]);
    known_answer::<_, kp::ProduceResponse>(&v10, 10, &bytes)?;

    // v13 names topics by id.
    let mut v13 = produce_response(produce_partition());
    v13.responses[0].name.clear();
    v13.responses[0].topic_id = TOPIC_ID;
    let bytes = cat(&[
        &[2],                       // responses: 1
        &TOPIC_ID_BYTES,            //   topic_id
        &[2, 0, 0, 0, 0, 0, 0],     //   partition_responses: 1, index, error_code
        &[0, 0, 0, 0, 0, 0, 0, 42], //     base_offset
        &MINUS_ONE_I64,             //     log_append_time_ms
        &MINUS_ONE_I64,             //     log_start_offset
        &[1, 0, 0, 0],              //     record_errors, error_message, tags, tags
        &[0, 0, 0, 0, 0],           // throttle_time_ms, tags
    ]);
    known_answer::<_, kp::ProduceResponse>(&v13, 13, &bytes)
}

#[test]
fn produce_response_fields_not_in_version() {
    let mut msg = produce_response(produce_partition());
    msg.responses[0].partition_responses[0].log_start_offset = 0;
    assert_eq!(encode_err(&msg, 4), not_in_version("log_start_offset", 4));
    let mut msg = produce_response(produce_partition());
    msg.responses[0].partition_responses[0].error_message = Some("m".into());
    assert_eq!(encode_err(&msg, 7), not_in_version("error_message", 7));
    let mut msg = produce_response(produce_partition());
    msg.responses[0].partition_responses[0]
        .current_leader
        .leader_id = 1;
    assert_eq!(encode_err(&msg, 9), not_in_version("current_leader", 9));
    let mut msg = produce_response(produce_partition());
    msg.node_endpoints = vec![NodeEndpoint::default()];
    assert_eq!(encode_err(&msg, 9), not_in_version("node_endpoints", 9));
}

// ---------------------------------------------------------------- InitProducerId

#[test]
fn init_producer_id_known_answers() -> TestResult {
    let mut request = InitProducerIdRequest {
        transaction_timeout_ms: 60_000,
        ..Default::default()
    };
    // transactional_id: null, transaction_timeout_ms
    let bytes = [0xff, 0xff, 0, 0, 0xea, 0x60];
    known_answer::<_, kp::InitProducerIdRequest>(&request, 1, &bytes)?;
    request.transactional_id = Some("tx".into());
    request.producer_id = 5;
    request.producer_epoch = 1;
    let bytes = cat(&[
        &[3, b't', b'x', 0, 0, 0xea, 0x60], // transactional_id, transaction_timeout_ms
        &[0, 0, 0, 0, 0, 0, 0, 5, 0, 1],    // producer_id, producer_epoch
        &[0],                               // tags
    ]);
    known_answer::<_, kp::InitProducerIdRequest>(&request, 4, &bytes)?;

    let mut response = InitProducerIdResponse {
        producer_id: 1000,
        ..Default::default()
    };
    let bytes = cat(&[
        &[0, 0, 0, 0, 0, 0],             // throttle_time_ms, error_code
        &[0, 0, 0, 0, 0, 0, 0x03, 0xe8], // producer_id
        &[0, 0],                         // producer_epoch
    ]);
    known_answer::<_, kp::InitProducerIdResponse>(&response, 0, &bytes)?;
    response.producer_epoch = 2;
    let bytes = cat(&[
        &bytes[..14],
        &[0, 2],          // producer_epoch
        &MINUS_ONE_I64,   // ongoing_txn_producer_id
        &[0xff, 0xff, 0], // ongoing_txn_producer_epoch: -1, tags
    ]);
    known_answer::<_, kp::InitProducerIdResponse>(&response, 6, &bytes)
}

#[test]
fn init_producer_id_fields_not_in_version() {
    let request = InitProducerIdRequest {
        producer_id: 5,
        ..Default::default()
    };
    assert_eq!(encode_err(&request, 2), not_in_version("producer_id", 2));
    let response = InitProducerIdResponse {
        ongoing_txn_producer_epoch: 0,
        ..Default::default()
    };
    let field = "ongoing_txn_producer_epoch";
    assert_eq!(encode_err(&response, 5), not_in_version(field, 5));
}

// ---------------------------------------------------------------- CreateTopics

#[test]
fn create_topics_request_known_answers() -> TestResult {
    let v4 = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: "t".into(),
            num_partitions: 3,
            replication_factor: 1,
            configs: vec![CreatableTopicConfig {
                name: "k".into(),
                value: None,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = cat(&[
        &[0, 0, 0, 1, 0, 1, b't'],             // topics: 1, name
        &[0, 0, 0, 3, 0, 1],                   //   num_partitions, replication_factor
        &[0, 0, 0, 0],                         //   assignments: 0
        &[0, 0, 0, 1, 0, 1, b'k', 0xff, 0xff], // configs: 1, name, value: null
        &[0, 0, 0xea, 0x60, 0],                // timeout_ms: 60000 (the default), validate_only
    ]);
    known_answer::<_, kp::CreateTopicsRequest>(&v4, 4, &bytes)?;

    let v5 = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: "t".into(),
            num_partitions: -1,
            replication_factor: -1,
            assignments: vec![CreatableReplicaAssignment {
                partition_index: 0,
                broker_ids: vec![1, 2],
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 1000,
        validate_only: true,
        ..Default::default()
    };
    let bytes = cat(&[
        &[2, 2, b't'],                         // topics: 1, name
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // num_partitions: -1, replication_factor: -1
        &[2, 0, 0, 0, 0],                      //   assignments: 1, partition_index
        &[3, 0, 0, 0, 1, 0, 0, 0, 2, 0],       //     broker_ids: [1, 2], tags
        &[1, 0],                               //   configs: 0, tags
        &[0, 0, 0x03, 0xe8, 1, 0],             // timeout_ms, validate_only, tags
    ]);
    known_answer::<_, kp::CreateTopicsRequest>(&v5, 5, &bytes)
}

fn created_topic() -> CreatableTopicResult {
    CreatableTopicResult {
        name: "t".into(),
        ..Default::default()
    }
}

fn create_topics_response(topic: CreatableTopicResult) -> CreateTopicsResponse {
    CreateTopicsResponse {
        topics: vec![topic],
        ..Default::default()
    }
}

#[test]
fn create_topics_response_known_answers() -> TestResult {
    let v2 = create_topics_response(CreatableTopicResult {
        error_code: 36,
        error_message: Some("x".into()),
        ..created_topic()
    });
    // throttle_time_ms, topics: 1, name, error_code, error_message
    let bytes = [0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 36, 0, 1, b'x'];
    known_answer::<_, kp::CreateTopicsResponse>(&v2, 2, &bytes)?;

    let v7 = create_topics_response(CreatableTopicResult {
        topic_id: TOPIC_ID,
        topic_config_error_code: 29,
        num_partitions: 1,
        replication_factor: 3,
        configs: Some(vec![CreatableTopicConfigs {
            name: "k".into(),
            value: Some("v".into()),
            config_source: 5,
            ..Default::default()
        }]),
        ..created_topic()
    });
    let bytes = cat(&[
        &[0, 0, 0, 0, 2, 2, b't'], // throttle_time_ms, topics: 1, name
        &TOPIC_ID_BYTES,           //   topic_id
        &[0, 0, 0],                //   error_code, error_message: null
        &[0, 0, 0, 1, 0, 3],       //   num_partitions, replication_factor
        &[2, 2, b'k', 2, b'v'],    //   configs: 1, name, value
        &[0, 5, 0, 0],             //     read_only, config_source, is_sensitive, tags
        &[1, 0, 2, 0, 29],         //   tags: 1; tag 0 (topic_config_error_code), 2 bytes
        &[0],                      // tags
    ]);
    known_answer::<_, kp::CreateTopicsResponse>(&v7, 7, &bytes)
}

#[test]
fn create_topics_fields_not_in_version() {
    let request = CreateTopicsRequest {
        unknown_tagged_fields: stray_tag(),
        ..Default::default()
    };
    let tags = "unknown_tagged_fields";
    assert_eq!(encode_err(&request, 4), not_in_version(tags, 4));
    let mut msg = create_topics_response(created_topic());
    msg.topics[0].topic_id = TOPIC_ID;
    assert_eq!(encode_err(&msg, 6), not_in_version("topic_id", 6));
    let mut msg = create_topics_response(created_topic());
    msg.topics[0].num_partitions = 3;
    assert_eq!(encode_err(&msg, 4), not_in_version("num_partitions", 4));
    let mut msg = create_topics_response(created_topic());
    msg.topics[0].topic_config_error_code = 29;
    let field = "topic_config_error_code";
    assert_eq!(encode_err(&msg, 4), not_in_version(field, 4));
}

// ---------------------------------------------------------------- DeleteTopics

fn delete_topics_response(result: DeletableTopicResult) -> DeleteTopicsResponse {
    DeleteTopicsResponse {
        responses: vec![result],
        ..Default::default()
    }
}

#[test]
fn delete_topics_known_answers() -> TestResult {
    let v3 = DeleteTopicsRequest {
        topic_names: vec!["a".into(), "b".into()],
        timeout_ms: 5000,
        ..Default::default()
    };
    // topic_names: 2, "a", "b", timeout_ms
    let bytes = [0, 0, 0, 2, 0, 1, b'a', 0, 1, b'b', 0, 0, 0x13, 0x88];
    known_answer::<_, kp::DeleteTopicsRequest>(&v3, 3, &bytes)?;

    let v6 = DeleteTopicsRequest {
        topics: vec![DeleteTopicState {
            name: None,
            topic_id: TOPIC_ID,
            ..Default::default()
        }],
        timeout_ms: 5000,
        ..Default::default()
    };
    // topics: 1 {name: null, topic_id, tags}, timeout_ms, tags
    let bytes = cat(&[&[2, 0], &TOPIC_ID_BYTES, &[0, 0, 0, 0x13, 0x88, 0]]);
    known_answer::<_, kp::DeleteTopicsRequest>(&v6, 6, &bytes)?;

    let v1 = delete_topics_response(DeletableTopicResult {
        name: Some("a".into()),
        ..Default::default()
    });
    // throttle_time_ms, responses: 1, name, error_code
    let bytes = [0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b'a', 0, 0];
    known_answer::<_, kp::DeleteTopicsResponse>(&v1, 1, &bytes)?;

    let v6 = delete_topics_response(DeletableTopicResult {
        name: None,
        topic_id: TOPIC_ID,
        error_code: 3,
        error_message: Some("no".into()),
        ..Default::default()
    });
    let bytes = cat(&[
        &[0, 0, 0, 0, 2, 0],    // throttle_time_ms, responses: 1, name: null
        &TOPIC_ID_BYTES,        //   topic_id
        &[0, 3, 3, b'n', b'o'], //   error_code, error_message
        &[0, 0],                // tags
    ]);
    known_answer::<_, kp::DeleteTopicsResponse>(&v6, 6, &bytes)
}

#[test]
fn delete_topics_fields_not_in_version() {
    let mut request = DeleteTopicsRequest::default();
    request.topic_names.push("a".into());
    assert_eq!(encode_err(&request, 6), not_in_version("topic_names", 6));
    let mut request = DeleteTopicsRequest::default();
    request.topics.push(DeleteTopicState::default());
    assert_eq!(encode_err(&request, 5), not_in_version("topics", 5));
    let named = DeletableTopicResult {
        name: Some("a".into()),
        ..Default::default()
    };
    let mut msg = delete_topics_response(named.clone());
    msg.responses[0].error_message = Some("m".into());
    assert_eq!(encode_err(&msg, 4), not_in_version("error_message", 4));
    let mut msg = delete_topics_response(named);
    msg.responses[0].topic_id = TOPIC_ID;
    assert_eq!(encode_err(&msg, 5), not_in_version("topic_id", 5));
}

#[test]
fn delete_topics_response_name_is_nullable_from_v6() -> TestResult {
    let unnamed = delete_topics_response(DeletableTopicResult::default());
    let null = EncodeError::NullNotAllowed {
        field: "name",
        version: 5,
    };
    assert_eq!(encode_err(&unnamed, 5), null);
    unnamed.encode(&mut BytesMut::new(), 6)?;
    let null = Err(DecodeError::UnexpectedNull { context: "name" });
    // v5 (flexible): throttle_time_ms, responses: 1, name: null, error_code, error_message: null,
    // tags, tags.
    let bytes = Bytes::from_static(&[0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
    assert_eq!(DeleteTopicsResponse::decode_exact(bytes, 5), null);
    // v1 (classic): a -1 string length.
    let bytes = Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0, 0]);
    assert_eq!(DeleteTopicsResponse::decode_exact(bytes, 1), null);
    Ok(())
}

// ---------------------------------------------------------------- CreatePartitions

#[test]
fn create_partitions_known_answers() -> TestResult {
    let topic = |count, assignments| CreatePartitionsTopic {
        name: "t".into(),
        count,
        assignments,
        ..Default::default()
    };
    let v1 = CreatePartitionsRequest {
        topics: vec![topic(4, None)],
        timeout_ms: 1000,
        validate_only: true,
        ..Default::default()
    };
    let bytes = cat(&[
        &[0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 4], // topics: 1, name, count
        &[0xff, 0xff, 0xff, 0xff],             //   assignments: null
        &[0, 0, 0x03, 0xe8, 1],                // timeout_ms, validate_only
    ]);
    known_answer::<_, kp::CreatePartitionsRequest>(&v1, 1, &bytes)?;

    let assignment = CreatePartitionsAssignment {
        broker_ids: vec![1],
        ..Default::default()
    };
    let v3 = CreatePartitionsRequest {
        topics: vec![topic(3, Some(vec![assignment]))],
        timeout_ms: 1000,
        ..Default::default()
    };
    let bytes = cat(&[
        &[2, 2, b't', 0, 0, 0, 3], // topics: 1, name, count
        &[2, 2, 0, 0, 0, 1, 0, 0], //   assignments: 1, broker_ids: [1], tags, tags
        &[0, 0, 0x03, 0xe8, 0, 0], // timeout_ms, validate_only, tags
    ]);
    known_answer::<_, kp::CreatePartitionsRequest>(&v3, 3, &bytes)?;

    let mut response = CreatePartitionsResponse {
        results: vec![CreatePartitionsTopicResult {
            name: "t".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    // throttle_time_ms, results: 1, name, error_code, error_message: null
    let bytes = [0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0xff, 0xff];
    known_answer::<_, kp::CreatePartitionsResponse>(&response, 0, &bytes)?;
    response.throttle_time_ms = 10;
    response.results[0].error_code = 37;
    response.results[0].error_message = Some("x".into());
    // throttle_time_ms, results: 1, name, error_code, error_message, tags, tags
    let bytes = [0, 0, 0, 10, 2, 2, b't', 0, 37, 2, b'x', 0, 0];
    known_answer::<_, kp::CreatePartitionsResponse>(&response, 2, &bytes)
}

#[test]
fn create_partitions_tags_not_in_classic_versions() {
    let tags = "unknown_tagged_fields";
    let request = CreatePartitionsRequest {
        unknown_tagged_fields: stray_tag(),
        ..Default::default()
    };
    assert_eq!(encode_err(&request, 1), not_in_version(tags, 1));
    let response = CreatePartitionsResponse {
        results: vec![CreatePartitionsTopicResult {
            unknown_tagged_fields: stray_tag(),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(encode_err(&response, 0), not_in_version(tags, 0));
}

// ---------------------------------------------------------------- DeleteRecords

#[test]
fn delete_records_known_answers() -> TestResult {
    let request = |partition_index, offset| DeleteRecordsRequest {
        topics: vec![DeleteRecordsTopic {
            name: "t".into(),
            partitions: vec![DeleteRecordsPartition {
                partition_index,
                offset,
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 1000,
        ..Default::default()
    };
    let bytes = cat(&[
        &[0, 0, 0, 1, 0, 1, b't'],   // topics: 1, name
        &[0, 0, 0, 1, 0, 0, 0, 0],   //   partitions: 1, partition_index
        &[0, 0, 0, 0, 0, 0, 0, 100], //     offset
        &[0, 0, 0x03, 0xe8],         // timeout_ms
    ]);
    known_answer::<_, kp::DeleteRecordsRequest>(&request(0, 100), 1, &bytes)?;
    let bytes = cat(&[
        &[2, 2, b't'],          // topics: 1, name
        &[2, 0, 0, 0, 1],       //   partitions: 1, partition_index
        &MINUS_ONE_I64,         //     offset
        &[0, 0],                //     tags, tags
        &[0, 0, 0x03, 0xe8, 0], // timeout_ms, tags
    ]);
    known_answer::<_, kp::DeleteRecordsRequest>(&request(1, -1), 2, &bytes)?;

    let response = |low_watermark, error_code| DeleteRecordsResponse {
        topics: vec![DeleteRecordsTopicResult {
            name: "t".into(),
            partitions: vec![DeleteRecordsPartitionResult {
                partition_index: 0,
                low_watermark,
                error_code,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = cat(&[
        &[0, 0, 0, 0],                     // throttle_time_ms
        &[0, 0, 0, 1, 0, 1, b't'],         // topics: 1, name
        &[0, 0, 0, 1, 0, 0, 0, 0],         //   partitions: 1, partition_index
        &[0, 0, 0, 0, 0, 0, 0, 100, 0, 0], //     low_watermark, error_code
    ]);
    known_answer::<_, kp::DeleteRecordsResponse>(&response(100, 0), 0, &bytes)?;
    let bytes = cat(&[
        &[0, 0, 0, 0],                   // throttle_time_ms
        &[2, 2, b't'],                   // topics: 1, name
        &[2, 0, 0, 0, 0],                //   partitions: 1, partition_index
        &[0, 0, 0, 0, 0, 0, 0, 5, 0, 1], //     low_watermark, error_code
        &[0, 0, 0],                      // tags (partition, topic, response)
    ]);
    known_answer::<_, kp::DeleteRecordsResponse>(&response(5, 1), 2, &bytes)
}

#[test]
fn delete_records_tags_not_in_classic_versions() {
    let request = DeleteRecordsRequest {
        topics: vec![DeleteRecordsTopic {
            unknown_tagged_fields: stray_tag(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let tags = "unknown_tagged_fields";
    assert_eq!(encode_err(&request, 1), not_in_version(tags, 1));
}

// ---------------------------------------------------------------- SaslHandshake

#[test]
fn sasl_handshake_known_answers() -> TestResult {
    let request = SaslHandshakeRequest {
        mechanism: "PLAIN".into(),
    };
    let bytes = [0, 5, b'P', b'L', b'A', b'I', b'N'];
    known_answer::<_, kp::SaslHandshakeRequest>(&request, 0, &bytes)?;
    known_answer::<_, kp::SaslHandshakeRequest>(&request, 1, &bytes)?;

    let response = SaslHandshakeResponse {
        error_code: 33,
        mechanisms: vec!["PLAIN".into()],
    };
    // error_code, mechanisms: 1, "PLAIN"
    let bytes = [0, 33, 0, 0, 0, 1, 0, 5, b'P', b'L', b'A', b'I', b'N'];
    known_answer::<_, kp::SaslHandshakeResponse>(&response, 1, &bytes)
}

#[test]
fn sasl_handshake_is_never_flexible() {
    assert_eq!(SaslHandshakeRequest::FIRST_FLEXIBLE, None);
    assert_eq!(SaslHandshakeRequest::request_header_version(1), 1);
    assert_eq!(SaslHandshakeRequest::response_header_version(1), 0);
}

// ---------------------------------------------------------------- SaslAuthenticate

#[test]
fn sasl_authenticate_known_answers() -> TestResult {
    let request = SaslAuthenticateRequest {
        auth_bytes: Bytes::from_static(b"\0u\0p"),
        ..Default::default()
    };
    let bytes = [0, 0, 0, 4, 0, b'u', 0, b'p'];
    known_answer::<_, kp::SaslAuthenticateRequest>(&request, 0, &bytes)?;
    let bytes = [5, 0, b'u', 0, b'p', 0];
    known_answer::<_, kp::SaslAuthenticateRequest>(&request, 2, &bytes)?;

    let v1 = SaslAuthenticateResponse {
        session_lifetime_ms: 3_600_000,
        ..Default::default()
    };
    let bytes = cat(&[
        &[0, 0, 0xff, 0xff],                // error_code, error_message: null
        &[0, 0, 0, 0],                      // auth_bytes: empty
        &[0, 0, 0, 0, 0, 0x36, 0xee, 0x80], // session_lifetime_ms: 3600000
    ]);
    known_answer::<_, kp::SaslAuthenticateResponse>(&v1, 1, &bytes)?;

    let v2 = SaslAuthenticateResponse {
        error_code: 58,
        error_message: Some("no".into()),
        ..Default::default()
    };
    let bytes = cat(&[
        &[0, 58, 3, b'n', b'o', 1], // error_code, error_message, auth_bytes: empty
        &[0; 8],                    // session_lifetime_ms
        &[0],                       // tags
    ]);
    known_answer::<_, kp::SaslAuthenticateResponse>(&v2, 2, &bytes)
}

#[test]
fn sasl_authenticate_fields_not_in_version() {
    let response = SaslAuthenticateResponse {
        session_lifetime_ms: 1,
        ..Default::default()
    };
    let field = "session_lifetime_ms";
    assert_eq!(encode_err(&response, 0), not_in_version(field, 0));
    let request = SaslAuthenticateRequest {
        unknown_tagged_fields: stray_tag(),
        ..Default::default()
    };
    let tags = "unknown_tagged_fields";
    assert_eq!(encode_err(&request, 1), not_in_version(tags, 1));
}

// ---------------------------------------------------------------- Request metadata

#[test]
fn request_keys_and_versions() {
    fn check<R: Request>(key: ApiKey, min: i16, max: i16, flexible: Option<i16>) {
        let name = R::NAME;
        assert_eq!(R::API_KEY, key, "{name}");
        assert_eq!(R::VERSIONS, VersionRange::new(min, max), "{name}");
        assert_eq!(R::FIRST_FLEXIBLE, flexible, "{name}");
        assert_eq!(R::Response::FIRST_FLEXIBLE, flexible, "{name}");
    }
    check::<ProduceRequest>(ApiKey::Produce, 3, 13, Some(9));
    check::<InitProducerIdRequest>(ApiKey::InitProducerId, 0, 5, Some(2));
    check::<CreateTopicsRequest>(ApiKey::CreateTopics, 2, 7, Some(5));
    check::<DeleteTopicsRequest>(ApiKey::DeleteTopics, 1, 6, Some(4));
    check::<CreatePartitionsRequest>(ApiKey::CreatePartitions, 0, 3, Some(2));
    check::<DeleteRecordsRequest>(ApiKey::DeleteRecords, 0, 2, Some(2));
    check::<SaslHandshakeRequest>(ApiKey::SaslHandshake, 0, 1, None);
    check::<SaslAuthenticateRequest>(ApiKey::SaslAuthenticate, 0, 2, Some(2));
    // kafka-protocol 0.18 (Kafka 4.1) has InitProducerId responses up to v6.
    assert_eq!(InitProducerIdResponse::VERSIONS.max, 6);
}
