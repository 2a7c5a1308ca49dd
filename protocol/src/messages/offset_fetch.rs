//! OffsetFetch (key 9): read a group's committed offsets. Version 8+ asks about several groups
//! at once; version 7+ can ask the broker to wait for pending transactional commits.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{GroupCoordinatorRequest, Request};
use crate::primitives::{UnknownTaggedFields, Uuid};

/// Asks for committed offsets of one group (v1-7) or several groups (v8+).
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "1-9", flexible = "6+")]
pub struct OffsetFetchRequest {
    /// The group id (v1-7).
    #[kafka(versions = "0-7")]
    pub group_id: String,
    /// The topics to fetch, or null for all topics (null allowed in v2-7).
    #[kafka(versions = "0-7", nullable = "2-7", default = "Some(Vec::new())")]
    pub topics: Option<Vec<OffsetFetchRequestTopic>>,
    /// The groups to fetch (v8+).
    #[kafka(versions = "8+")]
    pub groups: Vec<OffsetFetchRequestGroup>,
    /// Return `UNSTABLE_OFFSET_COMMIT` for partitions with pending transactional commits instead
    /// of possibly stale offsets (v7+).
    #[kafka(versions = "7+")]
    pub require_stable: bool,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for OffsetFetchRequest {
    const API_KEY: ApiKey = ApiKey::OffsetFetch;
    type Response = OffsetFetchResponse;
}

impl GroupCoordinatorRequest for OffsetFetchRequest {}

/// A topic to fetch offsets for (v1-7).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetFetchRequestTopic {
    /// The topic name.
    pub name: String,
    /// The partitions to fetch.
    pub partition_indexes: Vec<i32>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A group to fetch offsets for (v8+).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetFetchRequestGroup {
    /// The group id.
    pub group_id: String,
    /// The member id, when the member uses the KIP-848 protocol (v9+).
    #[kafka(versions = "9+", nullable = "9+")]
    pub member_id: Option<String>,
    /// The member epoch, -1 outside the KIP-848 protocol (v9+).
    #[kafka(versions = "9+", default = "-1")]
    pub member_epoch: i32,
    /// The topics to fetch, or null for all topics.
    #[kafka(default = "Some(Vec::new())")]
    pub topics: Option<Vec<OffsetFetchRequestTopics>>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A topic to fetch offsets for, within a group (v8+).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetFetchRequestTopics {
    /// The topic name.
    pub name: String,
    /// The partitions to fetch.
    pub partition_indexes: Vec<i32>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// Committed offsets of one group (v1-7) or per group (v8+).
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "1-10", flexible = "6+")]
pub struct OffsetFetchResponse {
    /// Throttle time in milliseconds (v3+).
    #[kafka(versions = "3+")]
    pub throttle_time_ms: i32,
    /// The results per topic (v1-7).
    #[kafka(versions = "0-7")]
    pub topics: Vec<OffsetFetchResponseTopic>,
    /// The top-level error code, 0 on success (v2-7).
    #[kafka(versions = "2-7")]
    pub error_code: i16,
    /// The results per group (v8+).
    #[kafka(versions = "8+")]
    pub groups: Vec<OffsetFetchResponseGroup>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A topic's committed offsets (v1-7).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetFetchResponseTopic {
    /// The topic name.
    pub name: String,
    /// The results per partition.
    pub partitions: Vec<OffsetFetchResponsePartition>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A partition's committed offset (v1-7).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetFetchResponsePartition {
    /// The partition index.
    pub partition_index: i32,
    /// The committed offset, -1 if none.
    pub committed_offset: i64,
    /// The leader epoch stored with the offset, -1 if unknown (v5+).
    #[kafka(versions = "5-7", default = "-1")]
    pub committed_leader_epoch: i32,
    /// The metadata stored with the offset.
    #[kafka(default = "Some(String::new())")]
    pub metadata: Option<String>,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// One group's committed offsets (v8+).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetFetchResponseGroup {
    /// The group id.
    pub group_id: String,
    /// The results per topic.
    pub topics: Vec<OffsetFetchResponseTopics>,
    /// The group-level error code, 0 on success.
    pub error_code: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A topic's committed offsets within a group (v8+).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetFetchResponseTopics {
    /// The topic name (v8-9).
    #[kafka(versions = "8-9")]
    pub name: String,
    /// The topic id (v10+).
    #[kafka(versions = "10+")]
    pub topic_id: Uuid,
    /// The results per partition.
    pub partitions: Vec<OffsetFetchResponsePartitions>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A partition's committed offset within a group (v8+).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetFetchResponsePartitions {
    /// The partition index.
    pub partition_index: i32,
    /// The committed offset, -1 if none.
    pub committed_offset: i64,
    /// The leader epoch stored with the offset, -1 if unknown.
    #[kafka(default = "-1")]
    pub committed_leader_epoch: i32,
    /// The metadata stored with the offset.
    #[kafka(default = "Some(String::new())")]
    pub metadata: Option<String>,
    /// The partition-level error code, 0 on success.
    pub error_code: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
