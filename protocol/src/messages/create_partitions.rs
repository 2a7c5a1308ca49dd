//! CreatePartitions (key 37): add partitions to existing topics.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::Request;
use crate::primitives::UnknownTaggedFields;

/// Raises the partition count of one or more topics.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-3", flexible = "2+")]
pub struct CreatePartitionsRequest {
    /// The topics to grow.
    pub topics: Vec<CreatePartitionsTopic>,
    /// How long to wait for the partitions to be created, in milliseconds.
    pub timeout_ms: i32,
    /// Only check the request; change nothing.
    pub validate_only: bool,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for CreatePartitionsRequest {
    const API_KEY: ApiKey = ApiKey::CreatePartitions;
    type Response = CreatePartitionsResponse;
}

/// One topic to grow.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct CreatePartitionsTopic {
    /// The topic's name.
    pub name: String,
    /// The new total partition count.
    pub count: i32,
    /// Replica placement for the new partitions, or null for an automatic one.
    pub assignments: Option<Vec<CreatePartitionsAssignment>>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The replicas of one new partition.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct CreatePartitionsAssignment {
    /// The brokers holding the partition's replicas.
    pub broker_ids: Vec<i32>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The outcome of a CreatePartitions request, per topic.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-3", flexible = "2+")]
pub struct CreatePartitionsResponse {
    /// Time the request was throttled for a quota, in milliseconds (0 if not throttled).
    pub throttle_time_ms: i32,
    /// The result for each topic.
    pub results: Vec<CreatePartitionsTopicResult>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The result for one topic.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct CreatePartitionsTopicResult {
    /// The topic's name.
    pub name: String,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The error message, or null.
    pub error_message: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
