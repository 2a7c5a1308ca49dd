//! Produce (key 0): write record batches to partition leaders.
//!
//! Record data travels as already-encoded bytes (`records`); see [`crate::records`] to build or
//! read them. From v13 topics are named by id instead of by name (KIP-516).

use bytes::Bytes;
use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{PartitionLeaderRequest, Request};
use crate::primitives::{UnknownTaggedFields, Uuid};

/// Appends record batches to one or more partitions.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "3-13", flexible = "9+")]
pub struct ProduceRequest {
    /// The transactional id, or null for a non-transactional producer.
    #[kafka(nullable = "3+")]
    pub transactional_id: Option<String>,
    /// Acknowledgements required: 0 (none), 1 (leader only) or -1 (all in-sync replicas).
    pub acks: i16,
    /// How long the broker may wait for the acknowledgements, in milliseconds.
    pub timeout_ms: i32,
    /// The data to write, per topic.
    pub topic_data: Vec<TopicProduceData>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for ProduceRequest {
    const API_KEY: ApiKey = ApiKey::Produce;
    type Response = ProduceResponse;
}

impl PartitionLeaderRequest for ProduceRequest {}

/// The data for one topic.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct TopicProduceData {
    /// The topic's name (up to v12).
    #[kafka(versions = "0-12")]
    pub name: String,
    /// The topic's id (v13+).
    #[kafka(versions = "13+")]
    pub topic_id: Uuid,
    /// The data for each partition.
    pub partition_data: Vec<PartitionProduceData>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The data for one partition.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct PartitionProduceData {
    /// The partition index.
    pub index: i32,
    /// Encoded record batches, or null.
    pub records: Option<Bytes>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The outcome of a produce, per partition.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "3-13", flexible = "9+")]
pub struct ProduceResponse {
    /// The results, per topic.
    pub responses: Vec<TopicProduceResponse>,
    /// Time the request was throttled for a quota, in milliseconds (0 if not throttled).
    pub throttle_time_ms: i32,
    /// Endpoints of the new leaders named in NOT_LEADER_OR_FOLLOWER answers (v10+, tag 0).
    #[kafka(versions = "10+", tag = 0)]
    pub node_endpoints: Vec<NodeEndpoint>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The results for one topic.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct TopicProduceResponse {
    /// The topic's name (up to v12).
    #[kafka(versions = "0-12")]
    pub name: String,
    /// The topic's id (v13+).
    #[kafka(versions = "13+")]
    pub topic_id: Uuid,
    /// The result for each partition.
    pub partition_responses: Vec<PartitionProduceResponse>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The result for one partition.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct PartitionProduceResponse {
    /// The partition index.
    pub index: i32,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The offset given to the first record written.
    pub base_offset: i64,
    /// The broker's append time when the topic uses LogAppendTime, else -1.
    #[kafka(default = "-1")]
    pub log_append_time_ms: i64,
    /// The partition's log start offset (v5+).
    #[kafka(versions = "5+", default = "-1")]
    pub log_start_offset: i64,
    /// The records that made the broker reject the batch (v8+).
    #[kafka(versions = "8+")]
    pub record_errors: Vec<BatchIndexAndErrorMessage>,
    /// A message summarizing why the batch was rejected, or null (v8+).
    #[kafka(versions = "8+", nullable = "8+")]
    pub error_message: Option<String>,
    /// The leader to use from now on, when this one is not it (v10+, tag 0).
    #[kafka(versions = "10+", tag = 0)]
    pub current_leader: LeaderIdAndEpoch,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// One record that caused its batch to be rejected.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct BatchIndexAndErrorMessage {
    /// The record's index in its batch.
    #[kafka(versions = "8+")]
    pub batch_index: i32,
    /// What was wrong with the record, or null.
    #[kafka(versions = "8+", nullable = "8+")]
    pub batch_index_error_message: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A partition leader and its epoch.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct LeaderIdAndEpoch {
    /// The leader's broker id, or -1 if unknown.
    #[kafka(versions = "10+", default = "-1")]
    pub leader_id: i32,
    /// The leader's epoch, or -1 if unknown.
    #[kafka(versions = "10+", default = "-1")]
    pub leader_epoch: i32,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// Where to reach a broker.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct NodeEndpoint {
    /// The broker id.
    #[kafka(versions = "10+")]
    pub node_id: i32,
    /// The broker's host name.
    #[kafka(versions = "10+")]
    pub host: String,
    /// The broker's port.
    #[kafka(versions = "10+")]
    pub port: i32,
    /// The broker's rack, or null if it has none.
    #[kafka(versions = "10+", nullable = "10+")]
    pub rack: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
