//! ListOffsets (key 2): look up partition offsets by timestamp, or the earliest/latest ones.
//!
//! Versions 1-10, flexible from 6. The request's `timestamp` is either a real timestamp in
//! milliseconds (the first offset whose record timestamp is at or after it) or one of the
//! special values below.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{PartitionLeaderRequest, Request};
use crate::primitives::UnknownTaggedFields;

/// `timestamp` asking for the next offset to be written (the log end offset, or the last
/// stable offset under [`READ_COMMITTED`]).
pub const LATEST_TIMESTAMP: i64 = -1;
/// `timestamp` asking for the log start offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// `timestamp` asking for the offset of the record with the largest timestamp (v7+, KIP-734).
pub const MAX_TIMESTAMP: i64 = -3;
/// `timestamp` asking for the local log start offset of a tiered topic (v8+, KIP-405).
pub const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;
/// `timestamp` asking for the highest offset copied to tiered storage (v9+, KIP-1005).
pub const LATEST_TIERED_TIMESTAMP: i64 = -5;

/// Isolation level that sees every record, including those of open or aborted transactions.
pub const READ_UNCOMMITTED: i8 = 0;
/// Isolation level that sees only non-transactional and committed records, up to the last
/// stable offset.
pub const READ_COMMITTED: i8 = 1;

/// Asks partition leaders for offsets.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "1-10", flexible = "6+")]
pub struct ListOffsetsRequest {
    /// The requesting broker's id, or -1 for a consumer.
    pub replica_id: i32,
    /// [`READ_UNCOMMITTED`] or [`READ_COMMITTED`] (v2+).
    #[kafka(versions = "2+")]
    pub isolation_level: i8,
    /// The topics to look up.
    pub topics: Vec<ListOffsetsTopic>,
    /// How long to wait for offsets that need reading remote storage, in milliseconds (v10+).
    #[kafka(versions = "10+")]
    pub timeout_ms: i32,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for ListOffsetsRequest {
    const API_KEY: ApiKey = ApiKey::ListOffsets;
    type Response = ListOffsetsResponse;
}

impl PartitionLeaderRequest for ListOffsetsRequest {}

/// A topic in a ListOffsets request.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct ListOffsetsTopic {
    /// The topic's name.
    pub name: String,
    /// The partitions to look up.
    pub partitions: Vec<ListOffsetsPartition>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A partition to look up, and the timestamp to look for.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct ListOffsetsPartition {
    /// The partition index.
    pub partition_index: i32,
    /// The leader epoch the client knows, for fencing, or -1 (v4+).
    #[kafka(versions = "4+", default = "-1")]
    pub current_leader_epoch: i32,
    /// A timestamp in milliseconds, or a special value such as [`EARLIEST_TIMESTAMP`].
    pub timestamp: i64,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The offsets found for each requested partition.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "1-10", flexible = "6+")]
pub struct ListOffsetsResponse {
    /// Time the request was throttled for a quota, in milliseconds (v2+).
    #[kafka(versions = "2+")]
    pub throttle_time_ms: i32,
    /// The topics.
    pub topics: Vec<ListOffsetsTopicResponse>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl ListOffsetsResponse {
    /// The answer for partition `index` of topic `name`.
    pub fn partition(&self, name: &str, index: i32) -> Option<&ListOffsetsPartitionResponse> {
        self.topics
            .iter()
            .filter(|t| t.name == name)
            .flat_map(|t| t.partitions.iter())
            .find(|p| p.partition_index == index)
    }
}

/// A topic in a ListOffsets response.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct ListOffsetsTopicResponse {
    /// The topic's name.
    pub name: String,
    /// The partitions.
    pub partitions: Vec<ListOffsetsPartitionResponse>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The offset found for one partition.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct ListOffsetsPartitionResponse {
    /// The partition index.
    pub partition_index: i32,
    /// The partition's error code, 0 if none.
    pub error_code: i16,
    /// The timestamp of the record at `offset`, or -1.
    #[kafka(default = "-1")]
    pub timestamp: i64,
    /// The offset found, or -1.
    #[kafka(default = "-1")]
    pub offset: i64,
    /// The leader epoch of the record at `offset`, or -1 (v4+).
    #[kafka(versions = "4+", default = "-1")]
    pub leader_epoch: i32,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
