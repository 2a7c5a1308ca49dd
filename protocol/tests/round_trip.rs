//! Round-trip properties for every message and every version it supports:
//! encode → decode gives the value back, and decode → encode gives the same bytes.
//! Also: arbitrary bytes into every decoder give `Ok` or a typed error, never a panic.

use std::fmt::Debug;

use arbitrary::Unstructured;
use bytes::{Bytes, BytesMut};
use gregor_protocol::Message;
use gregor_protocol::messages::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Samples a value valid in each version from `seed`, and checks both round trips.
fn round_trips<M: Message + PartialEq + Debug>(seed: &[u8]) -> Result<(), TestCaseError> {
    for version in M::VERSIONS.iter() {
        let mut u = Unstructured::new(seed);
        let Ok(msg) = M::sample(&mut u, version) else {
            continue;
        };
        let mut first = BytesMut::new();
        msg.encode(&mut first, version).map_err(|e| {
            TestCaseError::fail(format!(
                "{} v{version}: sampled value failed to encode: {e}",
                M::NAME
            ))
        })?;
        let back = M::decode_exact(first.clone().freeze(), version).map_err(|e| {
            TestCaseError::fail(format!("{} v{version}: decode failed: {e}", M::NAME))
        })?;
        prop_assert_eq!(&back, &msg, "{} v{}", M::NAME, version);
        let mut second = BytesMut::new();
        back.encode(&mut second, version).map_err(|e| {
            TestCaseError::fail(format!("{} v{version}: re-encode failed: {e}", M::NAME))
        })?;
        prop_assert_eq!(first, second, "{} v{}", M::NAME, version);
    }
    Ok(())
}

/// Feeds arbitrary bytes to the decoder of every version; it must return, not panic.
fn never_panics<M: Message>(input: &[u8]) {
    for version in M::VERSIONS.iter() {
        let _ = M::decode_exact(Bytes::copy_from_slice(input), version);
    }
}

macro_rules! message_properties {
    ($($test:ident => $ty:ty),* $(,)?) => {
        $(
            mod $test {
                use super::*;
                proptest! {
                    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
                    #[test]
                    fn round_trip(seed in proptest::collection::vec(any::<u8>(), 32..1024)) {
                        round_trips::<$ty>(&seed)?;
                    }
                    #[test]
                    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..256)) {
                        never_panics::<$ty>(&input);
                    }
                }
            }
        )*
    };
}

message_properties! {
    api_versions_request => ApiVersionsRequest,
    api_versions_response => ApiVersionsResponse,
    fetch_request => FetchRequest,
    fetch_response => FetchResponse,
    list_offsets_request => ListOffsetsRequest,
    list_offsets_response => ListOffsetsResponse,
    metadata_request => MetadataRequest,
    metadata_response => MetadataResponse,
    offset_for_leader_epoch_request => OffsetForLeaderEpochRequest,
    offset_for_leader_epoch_response => OffsetForLeaderEpochResponse,
    consumer_group_heartbeat_request => ConsumerGroupHeartbeatRequest,
    consumer_group_heartbeat_response => ConsumerGroupHeartbeatResponse,
    consumer_group_describe_request => ConsumerGroupDescribeRequest,
    consumer_group_describe_response => ConsumerGroupDescribeResponse,
    consumer_protocol_assignment => ConsumerProtocolAssignment,
    consumer_protocol_subscription => ConsumerProtocolSubscription,
    describe_groups_request => DescribeGroupsRequest,
    describe_groups_response => DescribeGroupsResponse,
    find_coordinator_request => FindCoordinatorRequest,
    find_coordinator_response => FindCoordinatorResponse,
    heartbeat_request => HeartbeatRequest,
    heartbeat_response => HeartbeatResponse,
    join_group_request => JoinGroupRequest,
    join_group_response => JoinGroupResponse,
    leave_group_request => LeaveGroupRequest,
    leave_group_response => LeaveGroupResponse,
    list_groups_request => ListGroupsRequest,
    list_groups_response => ListGroupsResponse,
    offset_commit_request => OffsetCommitRequest,
    offset_commit_response => OffsetCommitResponse,
    offset_fetch_request => OffsetFetchRequest,
    offset_fetch_response => OffsetFetchResponse,
    sync_group_request => SyncGroupRequest,
    sync_group_response => SyncGroupResponse,
    create_partitions_request => CreatePartitionsRequest,
    create_partitions_response => CreatePartitionsResponse,
    create_topics_request => CreateTopicsRequest,
    create_topics_response => CreateTopicsResponse,
    delete_records_request => DeleteRecordsRequest,
    delete_records_response => DeleteRecordsResponse,
    delete_topics_request => DeleteTopicsRequest,
    delete_topics_response => DeleteTopicsResponse,
    init_producer_id_request => InitProducerIdRequest,
    init_producer_id_response => InitProducerIdResponse,
    produce_request => ProduceRequest,
    produce_response => ProduceResponse,
    sasl_authenticate_request => SaslAuthenticateRequest,
    sasl_authenticate_response => SaslAuthenticateResponse,
    sasl_handshake_request => SaslHandshakeRequest,
    sasl_handshake_response => SaslHandshakeResponse,
}
