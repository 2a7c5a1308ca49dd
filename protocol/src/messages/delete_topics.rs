//! DeleteTopics (key 20): delete topics by name or (v6+) by id.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::Request;
use crate::primitives::{UnknownTaggedFields, Uuid};

/// Deletes one or more topics.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "1-6", flexible = "4+")]
pub struct DeleteTopicsRequest {
    /// The topics to delete, each by name or id (v6+).
    #[kafka(versions = "6+")]
    pub topics: Vec<DeleteTopicState>,
    /// The names of the topics to delete (up to v5).
    #[kafka(versions = "0-5")]
    pub topic_names: Vec<String>,
    /// How long to wait for the deletion, in milliseconds.
    pub timeout_ms: i32,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for DeleteTopicsRequest {
    const API_KEY: ApiKey = ApiKey::DeleteTopics;
    type Response = DeleteTopicsResponse;
}

/// A topic to delete, named by name or by id.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct DeleteTopicState {
    /// The topic's name, or null when the id is given.
    #[kafka(versions = "6+", nullable = "6+")]
    pub name: Option<String>,
    /// The topic's id, or zero when the name is given.
    #[kafka(versions = "6+")]
    pub topic_id: Uuid,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The outcome of a DeleteTopics request, per topic.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "1-6", flexible = "4+")]
pub struct DeleteTopicsResponse {
    /// Time the request was throttled for a quota, in milliseconds (0 if not throttled).
    pub throttle_time_ms: i32,
    /// The result for each topic.
    pub responses: Vec<DeletableTopicResult>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The result for one topic.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct DeletableTopicResult {
    /// The topic's name; null allowed from v6 (when the topic was named by id).
    #[kafka(nullable = "6+")]
    pub name: Option<String>,
    /// The topic's id (v6+).
    #[kafka(versions = "6+")]
    pub topic_id: Uuid,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The error message, or null (v5+).
    #[kafka(versions = "5+", nullable = "5+")]
    pub error_message: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
