//! OffsetCommit (key 8): commit consumed offsets for a group.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{GroupCoordinatorRequest, Request};
use crate::primitives::{UnknownTaggedFields, Uuid};

/// Commits offsets for some partitions on behalf of a group member.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "2-9", flexible = "8+")]
pub struct OffsetCommitRequest {
    /// The group id.
    pub group_id: String,
    /// The generation (classic protocol) or member epoch (KIP-848 protocol); -1 when committing
    /// outside a group.
    #[kafka(default = "-1")]
    pub generation_id_or_member_epoch: i32,
    /// The member id, empty when committing outside a group.
    pub member_id: String,
    /// The static member id, if any (v7+).
    #[kafka(versions = "7+", nullable = "7+")]
    pub group_instance_id: Option<String>,
    /// How long to keep the offsets, -1 for the broker default (v2-4).
    #[kafka(versions = "2-4", default = "-1")]
    pub retention_time_ms: i64,
    /// The topics to commit.
    pub topics: Vec<OffsetCommitRequestTopic>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for OffsetCommitRequest {
    const API_KEY: ApiKey = ApiKey::OffsetCommit;
    type Response = OffsetCommitResponse;
}

impl GroupCoordinatorRequest for OffsetCommitRequest {}

/// A topic's offsets to commit.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetCommitRequestTopic {
    /// The topic name.
    pub name: String,
    /// The partitions to commit.
    pub partitions: Vec<OffsetCommitRequestPartition>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A partition's offset to commit.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetCommitRequestPartition {
    /// The partition index.
    pub partition_index: i32,
    /// The offset to commit (the next one to consume).
    pub committed_offset: i64,
    /// The leader epoch of the last consumed record, -1 if unknown (v6+).
    #[kafka(versions = "6+", default = "-1")]
    pub committed_leader_epoch: i32,
    /// Free-form metadata stored with the offset.
    #[kafka(default = "Some(String::new())")]
    pub committed_metadata: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// Per-partition results of a commit. Version 10 names topics by id instead of by name.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "2-10", flexible = "8+")]
pub struct OffsetCommitResponse {
    /// Throttle time in milliseconds (v3+).
    #[kafka(versions = "3+")]
    pub throttle_time_ms: i32,
    /// The results per topic.
    pub topics: Vec<OffsetCommitResponseTopic>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A topic's commit results.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetCommitResponseTopic {
    /// The topic name (v2-9).
    #[kafka(versions = "0-9")]
    pub name: String,
    /// The topic id (v10+).
    #[kafka(versions = "10+")]
    pub topic_id: Uuid,
    /// The results per partition.
    pub partitions: Vec<OffsetCommitResponsePartition>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A partition's commit result.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct OffsetCommitResponsePartition {
    /// The partition index.
    pub partition_index: i32,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
