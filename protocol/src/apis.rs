//! The list of every API gregor speaks, as a macro, so tests, fuzz targets and the mock broker
//! can generate code for all of them from one place.

/// Calls `$callback!` with one `(ApiKey variant, request type, response type)` entry per API.
///
/// ```
/// macro_rules! count {
///     ($(($key:ident, $req:ty, $resp:ty)),* $(,)?) => { [$(stringify!($key)),*].len() };
/// }
/// assert_eq!(gregor_protocol::for_each_api!(count), gregor_protocol::ApiKey::ALL.len());
/// ```
#[macro_export]
macro_rules! for_each_api {
    ($callback:ident) => {
        $callback! {
            (Produce, $crate::messages::ProduceRequest, $crate::messages::ProduceResponse),
            (Fetch, $crate::messages::FetchRequest, $crate::messages::FetchResponse),
            (ListOffsets, $crate::messages::ListOffsetsRequest, $crate::messages::ListOffsetsResponse),
            (Metadata, $crate::messages::MetadataRequest, $crate::messages::MetadataResponse),
            (OffsetCommit, $crate::messages::OffsetCommitRequest, $crate::messages::OffsetCommitResponse),
            (OffsetFetch, $crate::messages::OffsetFetchRequest, $crate::messages::OffsetFetchResponse),
            (FindCoordinator, $crate::messages::FindCoordinatorRequest, $crate::messages::FindCoordinatorResponse),
            (JoinGroup, $crate::messages::JoinGroupRequest, $crate::messages::JoinGroupResponse),
            (Heartbeat, $crate::messages::HeartbeatRequest, $crate::messages::HeartbeatResponse),
            (LeaveGroup, $crate::messages::LeaveGroupRequest, $crate::messages::LeaveGroupResponse),
            (SyncGroup, $crate::messages::SyncGroupRequest, $crate::messages::SyncGroupResponse),
            (DescribeGroups, $crate::messages::DescribeGroupsRequest, $crate::messages::DescribeGroupsResponse),
            (ListGroups, $crate::messages::ListGroupsRequest, $crate::messages::ListGroupsResponse),
            (SaslHandshake, $crate::messages::SaslHandshakeRequest, $crate::messages::SaslHandshakeResponse),
            (ApiVersions, $crate::messages::ApiVersionsRequest, $crate::messages::ApiVersionsResponse),
            (CreateTopics, $crate::messages::CreateTopicsRequest, $crate::messages::CreateTopicsResponse),
            (DeleteTopics, $crate::messages::DeleteTopicsRequest, $crate::messages::DeleteTopicsResponse),
            (DeleteRecords, $crate::messages::DeleteRecordsRequest, $crate::messages::DeleteRecordsResponse),
            (InitProducerId, $crate::messages::InitProducerIdRequest, $crate::messages::InitProducerIdResponse),
            (OffsetForLeaderEpoch, $crate::messages::OffsetForLeaderEpochRequest, $crate::messages::OffsetForLeaderEpochResponse),
            (SaslAuthenticate, $crate::messages::SaslAuthenticateRequest, $crate::messages::SaslAuthenticateResponse),
            (CreatePartitions, $crate::messages::CreatePartitionsRequest, $crate::messages::CreatePartitionsResponse),
            (ConsumerGroupHeartbeat, $crate::messages::ConsumerGroupHeartbeatRequest, $crate::messages::ConsumerGroupHeartbeatResponse),
            (ConsumerGroupDescribe, $crate::messages::ConsumerGroupDescribeRequest, $crate::messages::ConsumerGroupDescribeResponse),
        }
    };
}
