//! DeleteRecords (key 21): advance partitions' log start offsets, dropping older records.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{PartitionLeaderRequest, Request};
use crate::primitives::UnknownTaggedFields;

/// Deletes the records below given offsets.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-2", flexible = "2+")]
pub struct DeleteRecordsRequest {
    /// The topics to delete records from.
    pub topics: Vec<DeleteRecordsTopic>,
    /// How long to wait for the deletion, in milliseconds.
    pub timeout_ms: i32,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for DeleteRecordsRequest {
    const API_KEY: ApiKey = ApiKey::DeleteRecords;
    type Response = DeleteRecordsResponse;
}

impl PartitionLeaderRequest for DeleteRecordsRequest {}

/// One topic's partitions to trim.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct DeleteRecordsTopic {
    /// The topic's name.
    pub name: String,
    /// The partitions to trim.
    pub partitions: Vec<DeleteRecordsPartition>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// One partition to trim.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct DeleteRecordsPartition {
    /// The partition index.
    pub partition_index: i32,
    /// Records below this offset are deleted (-1: up to the high watermark).
    pub offset: i64,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The outcome of a DeleteRecords request, per partition.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-2", flexible = "2+")]
pub struct DeleteRecordsResponse {
    /// Time the request was throttled for a quota, in milliseconds (0 if not throttled).
    pub throttle_time_ms: i32,
    /// The results, per topic.
    pub topics: Vec<DeleteRecordsTopicResult>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The results for one topic.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct DeleteRecordsTopicResult {
    /// The topic's name.
    pub name: String,
    /// The result for each partition.
    pub partitions: Vec<DeleteRecordsPartitionResult>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The result for one partition.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct DeleteRecordsPartitionResult {
    /// The partition index.
    pub partition_index: i32,
    /// The partition's low watermark after the deletion.
    pub low_watermark: i64,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
