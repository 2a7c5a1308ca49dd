//! Known-answer and version-rule tests for the consumer-group APIs and the embedded consumer
//! protocol. Expected bytes are written by hand from the Kafka schemas with the small builder
//! below (which knows only wire primitives, not our messages).

// A failed expectation is a test failure: panicking on it is the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use gregor_protocol::messages::consumer_group_heartbeat::{Assignment, TopicPartitions};
use gregor_protocol::messages::consumer_protocol::TopicPartitionList;
use gregor_protocol::messages::describe_groups::{DescribedGroup, DescribedGroupMember};
use gregor_protocol::messages::find_coordinator::Coordinator;
use gregor_protocol::messages::join_group::{JoinGroupRequestProtocol, JoinGroupResponseMember};
use gregor_protocol::messages::leave_group::{MemberIdentity, MemberResponse};
use gregor_protocol::messages::list_groups::ListedGroup;
use gregor_protocol::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic, OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
};
use gregor_protocol::messages::offset_fetch::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use gregor_protocol::messages::sync_group::SyncGroupRequestAssignment;
use gregor_protocol::messages::*;
use gregor_protocol::primitives::{RawTaggedField, UnknownTaggedFields, Uuid};
use gregor_protocol::{DecodeError, EncodeError, Message};

/// Hand-written wire bytes, big-endian, one primitive at a time.
struct W(Vec<u8>);

impl W {
    fn new() -> Self {
        W(Vec::new())
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
    /// A one-byte unsigned varint (values below 128 only).
    fn uv(self, v: u32) -> Self {
        assert!(v < 128);
        self.raw(&[v as u8])
    }
    /// Classic string: int16 length + UTF-8.
    fn s(self, v: &str) -> Self {
        self.i16(v.len() as i16).raw(v.as_bytes())
    }
    fn null_s(self) -> Self {
        self.i16(-1)
    }
    /// Compact string: uvarint length+1 + UTF-8.
    fn cs(self, v: &str) -> Self {
        self.uv(v.len() as u32 + 1).raw(v.as_bytes())
    }
    fn null_cs(self) -> Self {
        self.uv(0)
    }
    /// Classic bytes: int32 length + data.
    fn b(self, v: &[u8]) -> Self {
        self.i32(v.len() as i32).raw(v)
    }
    /// Compact bytes.
    fn cb(self, v: &[u8]) -> Self {
        self.uv(v.len() as u32 + 1).raw(v)
    }
    /// Classic array count (-1 for null).
    fn arr(self, n: i32) -> Self {
        self.i32(n)
    }
    /// Compact array count.
    fn carr(self, n: u32) -> Self {
        self.uv(n + 1)
    }
    fn null_carr(self) -> Self {
        self.uv(0)
    }
    /// An empty tagged-field section.
    fn tags0(self) -> Self {
        self.uv(0)
    }
    fn done(self) -> Vec<u8> {
        self.0
    }
}

/// `msg` encodes to exactly `expected` in `version`, and `expected` decodes back to `msg`.
fn known_answer<M: Message + PartialEq + Debug>(msg: &M, version: i16, expected: &[u8]) {
    let mut buf = BytesMut::new();
    msg.encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("{} v{version}: encode failed: {e}", M::NAME));
    assert_eq!(&buf[..], expected, "{} v{version}: encoded bytes", M::NAME);
    let back = M::decode_exact(Bytes::copy_from_slice(expected), version)
        .unwrap_or_else(|e| panic!("{} v{version}: decode failed: {e}", M::NAME));
    assert_eq!(&back, msg, "{} v{version}: decoded value", M::NAME);
}

fn encode_err<M: Message>(msg: &M, version: i16) -> EncodeError {
    msg.encode(&mut BytesMut::new(), version)
        .expect_err("encode should fail")
}

fn decode_err<M: Message + Debug>(bytes: Vec<u8>, version: i16) -> DecodeError {
    M::decode_exact(Bytes::from(bytes), version).expect_err("decode should fail")
}

fn not_in(field: &'static str, version: i16) -> EncodeError {
    EncodeError::FieldNotInVersion { field, version }
}

fn null_not_allowed(field: &'static str, version: i16) -> EncodeError {
    EncodeError::NullNotAllowed { field, version }
}

fn s(v: &str) -> String {
    v.to_string()
}

const TOPIC_ID: Uuid = Uuid([
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
]);

// ---------------------------------------------------------------- FindCoordinator

#[test]
fn find_coordinator_known_answers() {
    let classic = FindCoordinatorRequest {
        key: s("grp"),
        ..Default::default()
    };
    known_answer(&classic, 1, &W::new().s("grp").i8(0).done());
    let batched = FindCoordinatorRequest {
        key_type: 1,
        coordinator_keys: vec![s("a"), s("b")],
        ..Default::default()
    };
    known_answer(
        &batched,
        4,
        &W::new().i8(1).carr(2).cs("a").cs("b").tags0().done(),
    );

    let resp = FindCoordinatorResponse {
        throttle_time_ms: 10,
        error_message: None,
        node_id: 3,
        host: s("h"),
        port: 9092,
        ..Default::default()
    };
    let bytes = W::new().i32(10).i16(0).null_s().i32(3).s("h").i32(9092);
    known_answer(&resp, 2, &bytes.done());
    let resp = FindCoordinatorResponse {
        coordinators: vec![Coordinator {
            key: s("g"),
            node_id: 1,
            host: s("b1"),
            port: 9092,
            error_message: None,
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new()
        .i32(0)
        .carr(1)
        .cs("g")
        .i32(1)
        .cs("b1")
        .i32(9092)
        .i16(0);
    known_answer(&resp, 4, &bytes.null_cs().tags0().tags0().done());
    assert_eq!(resp.coordinator("g").map(|c| c.node_id), Some(1));
}

#[test]
fn find_coordinator_fields_outside_their_versions() {
    let batched = FindCoordinatorRequest {
        coordinator_keys: vec![s("a")],
        ..Default::default()
    };
    assert_eq!(encode_err(&batched, 3), not_in("coordinator_keys", 3));
    let single = FindCoordinatorRequest {
        key: s("g"),
        ..Default::default()
    };
    assert_eq!(encode_err(&single, 4), not_in("key", 4));
    let resp = FindCoordinatorResponse {
        node_id: 1,
        ..Default::default()
    };
    assert_eq!(encode_err(&resp, 5), not_in("node_id", 5));
}

// ---------------------------------------------------------------- JoinGroup

fn join_protocols() -> Vec<JoinGroupRequestProtocol> {
    vec![JoinGroupRequestProtocol {
        name: s("range"),
        metadata: Bytes::from_static(&[1, 2]),
        ..Default::default()
    }]
}

#[test]
fn join_group_request_known_answers() {
    let req = JoinGroupRequest {
        group_id: s("g"),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: s("consumer"),
        protocols: join_protocols(),
        ..Default::default()
    };
    let bytes = W::new()
        .s("g")
        .i32(10_000)
        .i32(30_000)
        .s("")
        .null_s()
        .s("consumer");
    known_answer(&req, 5, &bytes.arr(1).s("range").b(&[1, 2]).done());

    let req = JoinGroupRequest {
        member_id: s("m"),
        group_instance_id: Some(s("i1")),
        reason: Some(s("r")),
        ..req
    };
    let bytes = W::new()
        .cs("g")
        .i32(10_000)
        .i32(30_000)
        .cs("m")
        .cs("i1")
        .cs("consumer");
    let bytes = bytes.carr(1).cs("range").cb(&[1, 2]).tags0();
    known_answer(&req, 8, &bytes.cs("r").tags0().done());
}

#[test]
fn join_group_response_known_answers() {
    let resp = JoinGroupResponse {
        generation_id: 1,
        protocol_name: Some(s("range")),
        leader: s("m1"),
        member_id: s("m1"),
        members: vec![JoinGroupResponseMember {
            member_id: s("m1"),
            metadata: Bytes::from_static(&[9]),
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new().i32(0).i16(0).i32(1).s("range").s("m1").s("m1");
    known_answer(&resp, 5, &bytes.arr(1).s("m1").null_s().b(&[9]).done());

    let resp = JoinGroupResponse {
        throttle_time_ms: 7,
        protocol_type: Some(s("consumer")),
        skip_assignment: true,
        members: vec![],
        ..resp
    };
    let bytes = W::new()
        .i32(7)
        .i16(0)
        .i32(1)
        .cs("consumer")
        .cs("range")
        .cs("m1");
    known_answer(&resp, 9, &bytes.i8(1).cs("m1").carr(0).tags0().done());
}

#[test]
fn join_group_version_rules() {
    let req = JoinGroupRequest {
        reason: Some(s("because")),
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 7), not_in("reason", 7));
    let req = JoinGroupRequest {
        group_instance_id: Some(s("i")),
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 4), not_in("group_instance_id", 4));
    let resp = JoinGroupResponse {
        skip_assignment: true,
        ..Default::default()
    };
    assert_eq!(encode_err(&resp, 8), not_in("skip_assignment", 8));

    // ProtocolName exists in every version but is nullable only from v7.
    let resp = JoinGroupResponse {
        protocol_name: None,
        ..Default::default()
    };
    assert_eq!(encode_err(&resp, 6), null_not_allowed("protocol_name", 6));
    assert!(resp.encode(&mut BytesMut::new(), 7).is_ok());
    let v6_null = W::new()
        .i32(0)
        .i16(0)
        .i32(-1)
        .null_cs()
        .cs("")
        .cs("")
        .carr(0)
        .tags0();
    assert_eq!(
        decode_err::<JoinGroupResponse>(v6_null.done(), 6),
        DecodeError::UnexpectedNull {
            context: "protocol_name"
        }
    );
    let v1_null = W::new().i16(0).i32(-1).null_s().s("").s("").arr(0);
    assert_eq!(
        decode_err::<JoinGroupResponse>(v1_null.done(), 1),
        DecodeError::UnexpectedNull {
            context: "protocol_name"
        }
    );
}

// ---------------------------------------------------------------- SyncGroup

#[test]
fn sync_group_known_answers() {
    let req = SyncGroupRequest {
        group_id: s("g"),
        generation_id: 1,
        member_id: s("m"),
        assignments: vec![SyncGroupRequestAssignment {
            member_id: s("m"),
            assignment: Bytes::from_static(&[0, 1]),
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new()
        .s("g")
        .i32(1)
        .s("m")
        .null_s()
        .arr(1)
        .s("m")
        .b(&[0, 1]);
    known_answer(&req, 3, &bytes.done());
    let req = SyncGroupRequest {
        group_instance_id: Some(s("i")),
        protocol_type: Some(s("consumer")),
        protocol_name: Some(s("range")),
        assignments: vec![],
        ..req
    };
    let bytes = W::new()
        .cs("g")
        .i32(1)
        .cs("m")
        .cs("i")
        .cs("consumer")
        .cs("range");
    known_answer(&req, 5, &bytes.carr(0).tags0().done());

    let resp = SyncGroupResponse::default();
    known_answer(&resp, 1, &W::new().i32(0).i16(0).b(&[]).done());
    let resp = SyncGroupResponse {
        protocol_type: Some(s("consumer")),
        protocol_name: Some(s("range")),
        assignment: Bytes::from_static(&[7]),
        ..Default::default()
    };
    let bytes = W::new()
        .i32(0)
        .i16(0)
        .cs("consumer")
        .cs("range")
        .cb(&[7])
        .tags0();
    known_answer(&resp, 5, &bytes.done());
}

#[test]
fn sync_group_fields_outside_their_versions() {
    let req = SyncGroupRequest {
        protocol_type: Some(s("consumer")),
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 4), not_in("protocol_type", 4));
    let resp = SyncGroupResponse {
        protocol_name: Some(s("range")),
        ..Default::default()
    };
    assert_eq!(encode_err(&resp, 4), not_in("protocol_name", 4));
}

// ---------------------------------------------------------------- Heartbeat

#[test]
fn heartbeat_known_answers() {
    let req = HeartbeatRequest {
        group_id: s("g"),
        generation_id: 2,
        member_id: s("m"),
        group_instance_id: Some(s("inst")),
        ..Default::default()
    };
    known_answer(&req, 3, &W::new().s("g").i32(2).s("m").s("inst").done());
    let req = HeartbeatRequest {
        group_instance_id: None,
        ..req
    };
    let bytes = W::new().cs("g").i32(2).cs("m").null_cs().tags0();
    known_answer(&req, 4, &bytes.done());

    let resp = HeartbeatResponse {
        error_code: 27,
        ..Default::default()
    };
    known_answer(&resp, 0, &W::new().i16(27).done());
    let resp = HeartbeatResponse {
        throttle_time_ms: 5,
        ..Default::default()
    };
    known_answer(&resp, 4, &W::new().i32(5).i16(0).tags0().done());
}

#[test]
fn heartbeat_version_rules_and_unknown_tags() {
    let req = HeartbeatRequest {
        group_instance_id: Some(s("i")),
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 2), not_in("group_instance_id", 2));
    let resp = HeartbeatResponse {
        throttle_time_ms: 1,
        ..Default::default()
    };
    assert_eq!(encode_err(&resp, 0), not_in("throttle_time_ms", 0));

    // A tag from a future schema is kept and written back unchanged.
    let bytes = W::new()
        .i32(0)
        .i16(0)
        .uv(1)
        .uv(7)
        .uv(2)
        .raw(&[0xaa, 0xbb])
        .done();
    let resp = HeartbeatResponse {
        unknown_tagged_fields: UnknownTaggedFields(vec![RawTaggedField {
            tag: 7,
            data: Bytes::from_static(&[0xaa, 0xbb]),
        }]),
        ..Default::default()
    };
    known_answer(&resp, 4, &bytes);
}

// ---------------------------------------------------------------- LeaveGroup

#[test]
fn leave_group_known_answers() {
    let single = LeaveGroupRequest {
        group_id: s("g"),
        member_id: s("m"),
        ..Default::default()
    };
    known_answer(&single, 2, &W::new().s("g").s("m").done());
    let batch = LeaveGroupRequest {
        group_id: s("g"),
        members: vec![
            MemberIdentity {
                member_id: s("m1"),
                ..Default::default()
            },
            MemberIdentity {
                member_id: s("m2"),
                group_instance_id: Some(s("i2")),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let bytes = W::new().s("g").arr(2).s("m1").null_s().s("m2").s("i2");
    known_answer(&batch, 3, &bytes.done());
    let flexible = LeaveGroupRequest {
        group_id: s("g"),
        members: vec![MemberIdentity {
            member_id: s("m1"),
            reason: Some(s("bye")),
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new()
        .cs("g")
        .carr(1)
        .cs("m1")
        .null_cs()
        .cs("bye")
        .tags0()
        .tags0();
    known_answer(&flexible, 5, &bytes.done());

    let resp = LeaveGroupResponse {
        members: vec![MemberResponse {
            member_id: s("m1"),
            group_instance_id: None,
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new().i32(0).i16(0).arr(1).s("m1").null_s().i16(0);
    known_answer(&resp, 3, &bytes.done());
    let resp = LeaveGroupResponse {
        members: vec![MemberResponse {
            member_id: s("m1"),
            group_instance_id: Some(s("i1")),
            error_code: 25,
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new()
        .i32(0)
        .i16(0)
        .carr(1)
        .cs("m1")
        .cs("i1")
        .i16(25)
        .tags0();
    known_answer(&resp, 4, &bytes.tags0().done());
}

#[test]
fn leave_group_fields_outside_their_versions() {
    let single = LeaveGroupRequest {
        member_id: s("m"),
        ..Default::default()
    };
    assert_eq!(encode_err(&single, 3), not_in("member_id", 3));
    let batch = LeaveGroupRequest {
        members: vec![MemberIdentity::default()],
        ..Default::default()
    };
    assert_eq!(encode_err(&batch, 2), not_in("members", 2));
    let with_reason = LeaveGroupRequest {
        members: vec![MemberIdentity {
            reason: Some(s("bye")),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(encode_err(&with_reason, 4), not_in("reason", 4));
}

#[path = "messages_group/admin.rs"]
mod admin;
#[path = "messages_group/consumer_group_describe.rs"]
mod consumer_group_describe;
#[path = "messages_group/consumer_protocol.rs"]
mod consumer_protocol;
#[path = "messages_group/offsets.rs"]
mod offsets;
