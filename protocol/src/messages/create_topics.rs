//! CreateTopics (key 19): create topics, with partition counts, replica placement and configs.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::Request;
use crate::primitives::{UnknownTaggedFields, Uuid};

/// Creates one or more topics.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "2-7", flexible = "5+")]
pub struct CreateTopicsRequest {
    /// The topics to create.
    pub topics: Vec<CreatableTopic>,
    /// How long to wait for the creation, in milliseconds.
    #[kafka(default = "60000")]
    pub timeout_ms: i32,
    /// Only check that the topics could be created; create nothing.
    pub validate_only: bool,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for CreateTopicsRequest {
    const API_KEY: ApiKey = ApiKey::CreateTopics;
    type Response = CreateTopicsResponse;
}

/// One topic to create.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct CreatableTopic {
    /// The topic's name.
    pub name: String,
    /// The partition count, or -1 for the broker default or a manual assignment.
    pub num_partitions: i32,
    /// The replica count per partition, or -1 for the broker default or a manual assignment.
    pub replication_factor: i16,
    /// A manual replica placement, or empty for an automatic one.
    pub assignments: Vec<CreatableReplicaAssignment>,
    /// Topic configs to set.
    pub configs: Vec<CreatableTopicConfig>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The replicas of one partition, for a manual placement.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct CreatableReplicaAssignment {
    /// The partition index.
    pub partition_index: i32,
    /// The brokers holding the partition's replicas.
    pub broker_ids: Vec<i32>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// One topic config to set at creation.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct CreatableTopicConfig {
    /// The config's name.
    pub name: String,
    /// The config's value, or null.
    pub value: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The outcome of a CreateTopics request, per topic.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "2-7", flexible = "5+")]
pub struct CreateTopicsResponse {
    /// Time the request was throttled for a quota, in milliseconds (0 if not throttled).
    pub throttle_time_ms: i32,
    /// The result for each topic.
    pub topics: Vec<CreatableTopicResult>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The result for one topic.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct CreatableTopicResult {
    /// The topic's name.
    pub name: String,
    /// The new topic's id (v7+).
    #[kafka(versions = "7+")]
    pub topic_id: Uuid,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The error message, or null.
    pub error_message: Option<String>,
    /// Why the configs are missing, when they are (v5+, tag 0).
    #[kafka(versions = "5+", tag = 0)]
    pub topic_config_error_code: i16,
    /// The topic's partition count (v5+).
    #[kafka(versions = "5+", default = "-1")]
    pub num_partitions: i32,
    /// The topic's replication factor (v5+).
    #[kafka(versions = "5+", default = "-1")]
    pub replication_factor: i16,
    /// The topic's configs, or null (v5+).
    #[kafka(versions = "5+", nullable = "5+", default = "Some(Vec::new())")]
    pub configs: Option<Vec<CreatableTopicConfigs>>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// One config of a created topic.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct CreatableTopicConfigs {
    /// The config's name.
    #[kafka(versions = "5+")]
    pub name: String,
    /// The config's value, or null.
    #[kafka(versions = "5+", nullable = "5+")]
    pub value: Option<String>,
    /// Whether the config is read-only.
    #[kafka(versions = "5+")]
    pub read_only: bool,
    /// Where the value comes from (a ConfigSource code), -1 if unknown.
    #[kafka(versions = "5+", default = "-1")]
    pub config_source: i8,
    /// Whether the value is sensitive.
    #[kafka(versions = "5+")]
    pub is_sensitive: bool,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
