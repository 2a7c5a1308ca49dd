//! OffsetForLeaderEpoch (key 23): the end offset of a leader epoch, for log truncation and for
//! consumers validating their position after a leader change (KIP-320).
//!
//! Versions 2-4, flexible from 4.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{PartitionLeaderRequest, Request};
use crate::primitives::UnknownTaggedFields;

/// `replica_id` of a consumer; the schema's default, -2, marks a debug client.
pub const CONSUMER_REPLICA_ID: i32 = -1;

/// Asks partition leaders where given epochs end.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "2-4", flexible = "4+")]
pub struct OffsetForLeaderEpochRequest {
    /// The follower's broker id, -1 for a consumer, -2 (default) for a debug client (v3+).
    #[kafka(versions = "3+", default = "-2")]
    pub replica_id: i32,
    /// The topics to look up.
    pub topics: Vec<OffsetForLeaderTopic>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for OffsetForLeaderEpochRequest {
    const API_KEY: ApiKey = ApiKey::OffsetForLeaderEpoch;
    type Response = OffsetForLeaderEpochResponse;
}

impl PartitionLeaderRequest for OffsetForLeaderEpochRequest {}

/// A topic in an OffsetForLeaderEpoch request.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetForLeaderTopic {
    /// The topic's name.
    pub topic: String,
    /// The partitions to look up.
    pub partitions: Vec<OffsetForLeaderPartition>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A partition and the epoch to look up.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetForLeaderPartition {
    /// The partition index.
    pub partition: i32,
    /// The leader epoch the client knows, for fencing, or -1.
    #[kafka(default = "-1")]
    pub current_leader_epoch: i32,
    /// The epoch whose end offset is wanted.
    pub leader_epoch: i32,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The end offsets found for each requested partition.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "2-4", flexible = "4+")]
pub struct OffsetForLeaderEpochResponse {
    /// Time the request was throttled for a quota, in milliseconds.
    pub throttle_time_ms: i32,
    /// The topics.
    pub topics: Vec<OffsetForLeaderTopicResult>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl OffsetForLeaderEpochResponse {
    /// The answer for partition `index` of topic `name`.
    pub fn partition(&self, name: &str, index: i32) -> Option<&EpochEndOffset> {
        self.topics
            .iter()
            .filter(|t| t.topic == name)
            .flat_map(|t| t.partitions.iter())
            .find(|p| p.partition == index)
    }
}

/// A topic in an OffsetForLeaderEpoch response.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetForLeaderTopicResult {
    /// The topic's name.
    pub topic: String,
    /// The partitions.
    pub partitions: Vec<EpochEndOffset>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// Where the requested epoch (or the largest epoch not above it) ends on the leader.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct EpochEndOffset {
    /// The partition's error code, 0 if none.
    pub error_code: i16,
    /// The partition index.
    pub partition: i32,
    /// The largest leader epoch not above the requested one, or -1.
    #[kafka(default = "-1")]
    pub leader_epoch: i32,
    /// The end offset of that epoch, or -1.
    #[kafka(default = "-1")]
    pub end_offset: i64,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
