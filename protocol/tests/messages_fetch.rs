//! Known-answer and version-rule tests for Fetch, ListOffsets, OffsetForLeaderEpoch and Metadata
//! (the last three in `messages_fetch/`).
//!
//! Expected bytes are written field by field from Kafka's message schemas with the small
//! [`W`] builder below (independent of the crate's encoder), then checked both ways.

use std::error::Error;
use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use gregor_protocol::messages::fetch::{
    self, AbortedTransaction, EpochEndOffset, FetchPartition, FetchTopic, FetchableTopicResponse,
    ForgottenTopic, LeaderIdAndEpoch, NodeEndpoint, PartitionData, ReplicaState,
};
use gregor_protocol::messages::list_offsets::READ_COMMITTED;
use gregor_protocol::messages::{FetchRequest, FetchResponse};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::{DecodeError, EncodeError, Message};

#[path = "messages_fetch/metadata.rs"]
mod metadata;
#[path = "messages_fetch/offsets.rs"]
mod offsets;

type TestResult = Result<(), Box<dyn Error>>;

/// A byte builder for expected wire forms: classic (`str`, `bytes`, `count`) and compact
/// (`cstr`, `cbytes`, `ccount`, `uv`) primitives, written out here from the protocol spec.
#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn new() -> Self {
        W::default()
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn i8(self, v: i8) -> Self {
        self.raw(&v.to_be_bytes())
    }
    fn i16(self, v: i16) -> Self {
        self.raw(&v.to_be_bytes())
    }
    fn i32(self, v: i32) -> Self {
        self.raw(&v.to_be_bytes())
    }
    fn i64(self, v: i64) -> Self {
        self.raw(&v.to_be_bytes())
    }
    /// Unsigned LEB128 varint.
    fn uv(mut self, mut v: u32) -> Self {
        while v >= 0x80 {
            self.0.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
        self
    }
    /// Classic string: int16 length and UTF-8 bytes.
    fn str(self, s: &str) -> Self {
        self.i16(s.len() as i16).raw(s.as_bytes())
    }
    /// Compact string: uvarint length+1 and UTF-8 bytes.
    fn cstr(self, s: &str) -> Self {
        self.uv(s.len() as u32 + 1).raw(s.as_bytes())
    }
    /// Classic array count.
    fn count(self, n: i32) -> Self {
        self.i32(n)
    }
    /// Compact array count (n+1; 0 is null).
    fn ccount(self, n: u32) -> Self {
        self.uv(n + 1)
    }
    /// Classic bytes: int32 length and bytes.
    fn bytes(self, b: &[u8]) -> Self {
        self.i32(b.len() as i32).raw(b)
    }
    /// Compact bytes: uvarint length+1 and bytes.
    fn cbytes(self, b: &[u8]) -> Self {
        self.uv(b.len() as u32 + 1).raw(b)
    }
    /// One tagged field: tag, size, and the field's encoded bytes.
    fn tag(self, tag: u32, data: W) -> Self {
        self.uv(tag).uv(data.0.len() as u32).raw(&data.0)
    }
    /// An empty tagged-field section.
    fn no_tags(self) -> Self {
        self.uv(0)
    }
}

/// Encoding `msg` in `version` gives `expected`, and decoding `expected` gives `msg` back.
fn known_answer<M: Message + PartialEq + Debug>(msg: &M, version: i16, expected: &W) -> TestResult {
    let mut buf = BytesMut::new();
    msg.encode(&mut buf, version)?;
    assert_eq!(&buf[..], &expected.0[..], "{} v{version} encode", M::NAME);
    let back = M::decode_exact(Bytes::copy_from_slice(&expected.0), version)?;
    assert_eq!(&back, msg, "{} v{version} decode", M::NAME);
    Ok(())
}

fn encode_err<M: Message>(msg: &M, version: i16) -> Option<EncodeError> {
    msg.encode(&mut BytesMut::new(), version).err()
}

fn decode_err<M: Message + Debug>(bytes: &W, version: i16) -> Option<DecodeError> {
    M::decode_exact(Bytes::copy_from_slice(&bytes.0), version).err()
}

const TOPIC_ID: Uuid = Uuid([
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
]);
const DIR_ID: Uuid = Uuid([0xd0; 16]);

// ---------------------------------------------------------------------------------------------
// Fetch

#[test]
fn fetch_request_v4_known_answer() -> TestResult {
    let msg = FetchRequest {
        max_wait_ms: 500,
        min_bytes: 1,
        isolation_level: READ_COMMITTED,
        topics: vec![FetchTopic {
            topic: "t".into(),
            partitions: vec![FetchPartition {
                partition: 2,
                fetch_offset: 42,
                partition_max_bytes: 1024,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    // replica_id, max_wait_ms, min_bytes, max_bytes (v3+), isolation_level (v4+), topics.
    let expected = W::new()
        .i32(-1)
        .i32(500)
        .i32(1)
        .i32(i32::MAX)
        .i8(1)
        .count(1)
        .str("t")
        .count(1)
        .i32(2) // partition (no current_leader_epoch before v9)
        .i64(42) // fetch_offset (no log_start_offset before v5)
        .i32(1024);
    known_answer(&msg, 4, &expected)
}

#[test]
fn fetch_request_v18_known_answer() -> TestResult {
    let msg = FetchRequest {
        cluster_id: Some("c".into()),
        replica_state: ReplicaState {
            replica_id: 1,
            replica_epoch: 7,
            ..Default::default()
        },
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 1 << 20,
        isolation_level: 0,
        session_id: 9,
        session_epoch: 3,
        topics: vec![FetchTopic {
            topic_id: TOPIC_ID,
            partitions: vec![FetchPartition {
                partition: 0,
                current_leader_epoch: 5,
                fetch_offset: 100,
                last_fetched_epoch: 4,
                log_start_offset: -1,
                partition_max_bytes: 4096,
                replica_directory_id: DIR_ID,
                high_watermark: 90,
                ..Default::default()
            }],
            ..Default::default()
        }],
        forgotten_topics_data: vec![ForgottenTopic {
            topic_id: TOPIC_ID,
            partitions: vec![3, 4],
            ..Default::default()
        }],
        rack_id: "r1".into(),
        ..Default::default()
    };
    let partition = W::new()
        .i32(0)
        .i32(5)
        .i64(100)
        .i32(4)
        .i64(-1)
        .i32(4096)
        .uv(2)
        .tag(0, W::new().raw(&DIR_ID.0))
        .tag(1, W::new().i64(90));
    let expected = W::new()
        .i32(500)
        .i32(1)
        .i32(1 << 20)
        .i8(0)
        .i32(9)
        .i32(3)
        .ccount(1)
        .raw(&TOPIC_ID.0)
        .ccount(1)
        .raw(&partition.0)
        .no_tags()
        .ccount(1)
        .raw(&TOPIC_ID.0)
        .ccount(2)
        .i32(3)
        .i32(4)
        .no_tags()
        .cstr("r1")
        .uv(2)
        .tag(0, W::new().cstr("c"))
        .tag(1, W::new().i32(1).i64(7).no_tags());
    known_answer(&msg, 18, &expected)
}

#[test]
fn fetch_response_v4_known_answer() -> TestResult {
    let msg = FetchResponse {
        throttle_time_ms: 10,
        responses: vec![FetchableTopicResponse {
            topic: "t".into(),
            partitions: vec![PartitionData {
                partition_index: 1,
                error_code: 0,
                high_watermark: 50,
                last_stable_offset: 40,
                aborted_transactions: Some(vec![AbortedTransaction {
                    producer_id: 7,
                    first_offset: 3,
                    ..Default::default()
                }]),
                records: None,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let expected = W::new()
        .i32(10)
        .count(1)
        .str("t")
        .count(1)
        .i32(1)
        .i16(0)
        .i64(50)
        .i64(40)
        .count(1)
        .i64(7)
        .i64(3)
        .i32(-1); // null records
    known_answer(&msg, 4, &expected)
}

#[test]
fn fetch_response_v16_known_answer() -> TestResult {
    let msg = FetchResponse {
        throttle_time_ms: 0,
        error_code: 0,
        session_id: 9,
        responses: vec![FetchableTopicResponse {
            topic_id: TOPIC_ID,
            partitions: vec![PartitionData {
                partition_index: 0,
                error_code: 6,
                high_watermark: 50,
                last_stable_offset: 50,
                log_start_offset: 0,
                diverging_epoch: EpochEndOffset {
                    epoch: 4,
                    end_offset: 90,
                    ..Default::default()
                },
                current_leader: LeaderIdAndEpoch {
                    leader_id: 2,
                    leader_epoch: 3,
                    ..Default::default()
                },
                aborted_transactions: None,
                preferred_read_replica: -1,
                records: Some(Bytes::from_static(b"RECS")),
                ..Default::default()
            }],
            ..Default::default()
        }],
        node_endpoints: vec![NodeEndpoint {
            node_id: 2,
            host: "b2".into(),
            port: 9092,
            rack: Some("r".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let expected = W::new()
        .i32(0)
        .i16(0)
        .i32(9)
        .ccount(1)
        .raw(&TOPIC_ID.0)
        .ccount(1)
        .i32(0)
        .i16(6)
        .i64(50)
        .i64(50)
        .i64(0)
        .uv(0) // null aborted_transactions
        .i32(-1)
        .cbytes(b"RECS")
        .uv(2)
        .tag(0, W::new().i32(4).i64(90).no_tags())
        .tag(1, W::new().i32(2).i32(3).no_tags())
        .no_tags() // topic
        .uv(1)
        .tag(
            0,
            W::new()
                .ccount(1)
                .i32(2)
                .cstr("b2")
                .i32(9092)
                .cstr("r")
                .no_tags(),
        );
    known_answer(&msg, 16, &expected)
}

#[test]
fn fetch_response_records_are_a_slice_of_the_input() -> TestResult {
    let input = W::new()
        .i32(0)
        .i16(0)
        .i32(0)
        .count(1)
        .str("t")
        .count(1)
        .i32(0)
        .i16(0)
        .i64(3)
        .i64(3)
        .i64(0)
        .count(-1) // null aborted_transactions
        .i32(-1) // preferred_read_replica
        .bytes(b"record-batch-bytes");
    let frame = Bytes::from(input.0);
    let resp = FetchResponse::decode_exact(frame.clone(), 11)?;
    let records = resp
        .topic("t")
        .and_then(|t| t.partition(0))
        .and_then(|p| p.records.clone())
        .ok_or("records missing")?;
    assert_eq!(&records[..], b"record-batch-bytes");
    let start = frame.as_ptr() as usize;
    let at = records.as_ptr() as usize;
    assert!(at >= start && at + records.len() <= start + frame.len());
    Ok(())
}

#[test]
fn fetch_fields_outside_their_versions() {
    let by_id = FetchRequest {
        topics: vec![FetchTopic {
            topic_id: TOPIC_ID,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        encode_err(&by_id, 12),
        Some(EncodeError::FieldNotInVersion {
            field: "topic_id",
            version: 12
        })
    );
    let by_name = FetchRequest {
        topics: vec![FetchTopic {
            topic: "t".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        encode_err(&by_name, 13),
        Some(EncodeError::FieldNotInVersion {
            field: "topic",
            version: 13
        })
    );
    let rack = FetchRequest {
        rack_id: "r".into(),
        ..Default::default()
    };
    assert_eq!(
        encode_err(&rack, 10),
        Some(EncodeError::FieldNotInVersion {
            field: "rack_id",
            version: 10
        })
    );
    let follower = FetchRequest {
        replica_id: 3,
        ..Default::default()
    };
    assert_eq!(
        encode_err(&follower, 15),
        Some(EncodeError::FieldNotInVersion {
            field: "replica_id",
            version: 15
        })
    );
    let state = FetchRequest {
        replica_state: ReplicaState {
            replica_id: 3,
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        encode_err(&state, 14),
        Some(EncodeError::FieldNotInVersion {
            field: "replica_state",
            version: 14
        })
    );
    let endpoints = FetchResponse {
        node_endpoints: vec![NodeEndpoint::default()],
        ..Default::default()
    };
    assert_eq!(
        encode_err(&endpoints, 15),
        Some(EncodeError::FieldNotInVersion {
            field: "node_endpoints",
            version: 15
        })
    );
    // Unsupported versions (pre-KIP-896 and past 4.1).
    assert_eq!(
        encode_err(&FetchRequest::default(), 3),
        Some(EncodeError::UnsupportedVersion {
            api: "FetchRequest",
            version: 3
        })
    );
    assert!(matches!(
        FetchResponse::decode_exact(Bytes::new(), 19),
        Err(DecodeError::UnsupportedVersion { version: 19, .. })
    ));
}

#[test]
fn fetch_defaults_follow_the_schema() {
    let req = FetchRequest::default();
    assert_eq!(req.replica_id, -1);
    assert_eq!(req.max_bytes, i32::MAX);
    assert_eq!(req.session_epoch, fetch::FINAL_SESSION_EPOCH);
    assert_eq!(req.session_id, fetch::INVALID_SESSION_ID);
    assert_eq!(req.replica_state.replica_epoch, -1);
    let p = FetchPartition::default();
    assert_eq!(
        (
            p.current_leader_epoch,
            p.last_fetched_epoch,
            p.log_start_offset
        ),
        (-1, -1, -1)
    );
    assert_eq!(p.high_watermark, i64::MAX);
    let d = PartitionData::default();
    assert_eq!((d.last_stable_offset, d.preferred_read_replica), (-1, -1));
    assert_eq!(d.aborted_transactions, Some(Vec::new()));
    assert_eq!(d.current_leader.leader_id, -1);
}
