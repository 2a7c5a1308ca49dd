//! Fetch (key 1): read record batches from partition leaders (or followers, KIP-392).
//!
//! Versions 4-18, flexible from 12. Incremental fetch sessions (KIP-227) use `session_id` and
//! `session_epoch` in the request and `forgotten_topics_data` to drop partitions; from v13 topics
//! are named by id (KIP-516) instead of by name. The response keeps each partition's record data
//! as a `Bytes` slice of the frame it was decoded from, so no record byte is copied here.

use bytes::Bytes;
use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{PartitionLeaderRequest, Request};
use crate::primitives::{UnknownTaggedFields, Uuid};

pub use super::list_offsets::{READ_COMMITTED, READ_UNCOMMITTED};

/// `session_id` of a request that is not part of a fetch session (or asks for a new one).
pub const INVALID_SESSION_ID: i32 = 0;
/// `session_epoch` that asks the broker to create a new fetch session (a full fetch).
pub const INITIAL_SESSION_EPOCH: i32 = 0;
/// `session_epoch` of a full fetch outside any session, or one that closes `session_id`.
pub const FINAL_SESSION_EPOCH: i32 = -1;
/// `replica_id` (and `ReplicaState::replica_id`) of a consumer, as opposed to a follower broker.
pub const CONSUMER_REPLICA_ID: i32 = -1;

/// Asks partition leaders for record batches.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "4-18", flexible = "12+")]
pub struct FetchRequest {
    /// The cluster id, if known; used by KRaft controllers to check the sender (tag 0).
    #[kafka(versions = "12+", nullable = "12+", tag = 0)]
    pub cluster_id: Option<String>,
    /// The follower's broker id, or -1 for a consumer (up to v14; later in `replica_state`).
    #[kafka(versions = "0-14", default = "-1")]
    pub replica_id: i32,
    /// The follower's id and epoch (v15+, tag 1).
    #[kafka(versions = "15+", tag = 1)]
    pub replica_state: ReplicaState,
    /// How long the broker may wait for `min_bytes` to accumulate, in milliseconds.
    pub max_wait_ms: i32,
    /// The minimum number of bytes to return; the broker waits up to `max_wait_ms` for them.
    pub min_bytes: i32,
    /// The maximum number of bytes in the whole response (the first batch may exceed it).
    #[kafka(default = "0x7fff_ffff")]
    pub max_bytes: i32,
    /// 0 reads uncommitted records, 1 only committed ones (see [`READ_COMMITTED`]).
    pub isolation_level: i8,
    /// The fetch session id, or 0 outside a session (v7+).
    #[kafka(versions = "7+")]
    pub session_id: i32,
    /// The fetch session epoch: 0 opens a session, -1 fetches without one (v7+).
    #[kafka(versions = "7+", default = "-1")]
    pub session_epoch: i32,
    /// The topics to fetch (in a session: those added or changed).
    pub topics: Vec<FetchTopic>,
    /// Partitions to remove from the fetch session (v7+).
    #[kafka(versions = "7+")]
    pub forgotten_topics_data: Vec<ForgottenTopic>,
    /// The consumer's rack, for fetching from the closest replica (v11+, KIP-392).
    #[kafka(versions = "11+")]
    pub rack_id: String,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for FetchRequest {
    const API_KEY: ApiKey = ApiKey::Fetch;
    type Response = FetchResponse;
}

impl PartitionLeaderRequest for FetchRequest {}

/// A follower's identity in a fetch request (v15+).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct ReplicaState {
    /// The follower's broker id, or -1 for a consumer.
    #[kafka(default = "-1")]
    pub replica_id: i32,
    /// The follower's broker epoch, or -1 if unknown.
    #[kafka(default = "-1")]
    pub replica_epoch: i64,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A topic to fetch.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct FetchTopic {
    /// The topic's name (up to v12).
    #[kafka(versions = "0-12")]
    pub topic: String,
    /// The topic's id (v13+).
    #[kafka(versions = "13+")]
    pub topic_id: Uuid,
    /// The partitions to fetch.
    pub partitions: Vec<FetchPartition>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A partition to fetch, and where to fetch from.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct FetchPartition {
    /// The partition index.
    pub partition: i32,
    /// The leader epoch the fetcher knows, for fencing, or -1 (v9+).
    #[kafka(versions = "9+", default = "-1")]
    pub current_leader_epoch: i32,
    /// The offset to fetch from.
    pub fetch_offset: i64,
    /// The epoch of the last record fetched, or -1; lets the leader detect divergence (v12+).
    #[kafka(versions = "12+", default = "-1")]
    pub last_fetched_epoch: i32,
    /// The follower's log start offset; -1 from consumers (v5+).
    #[kafka(versions = "5+", default = "-1")]
    pub log_start_offset: i64,
    /// The maximum number of bytes to return for this partition.
    pub partition_max_bytes: i32,
    /// The fetching follower's log directory id (v17+, tag 0).
    #[kafka(versions = "17+", tag = 0)]
    pub replica_directory_id: Uuid,
    /// The high watermark the follower knows; -1 if unknown, `i64::MAX` if not supported
    /// (v18+, tag 1).
    #[kafka(versions = "18+", tag = 1, default = "i64::MAX")]
    pub high_watermark: i64,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// Partitions of one topic to drop from an incremental fetch session (v7+).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct ForgottenTopic {
    /// The topic's name (v7-12).
    #[kafka(versions = "7-12")]
    pub topic: String,
    /// The topic's id (v13+).
    #[kafka(versions = "13+")]
    pub topic_id: Uuid,
    /// The partition indexes to forget.
    #[kafka(versions = "7+")]
    pub partitions: Vec<i32>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// Record data and partition state returned by a fetch.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "4-18", flexible = "12+")]
pub struct FetchResponse {
    /// Time the request was throttled for a quota, in milliseconds.
    pub throttle_time_ms: i32,
    /// The top-level error code (v7+), e.g. a fetch session error.
    #[kafka(versions = "7+")]
    pub error_code: i16,
    /// The fetch session id, or 0 outside a session (v7+).
    #[kafka(versions = "7+")]
    pub session_id: i32,
    /// The topics with data or errors (in a session: only partitions that changed).
    pub responses: Vec<FetchableTopicResponse>,
    /// Endpoints of the new leaders named in `current_leader` fields (v16+, tag 0, KIP-951).
    #[kafka(versions = "16+", tag = 0)]
    pub node_endpoints: Vec<NodeEndpoint>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl FetchResponse {
    /// The topic answered under `name` (versions up to 12 name topics).
    pub fn topic(&self, name: &str) -> Option<&FetchableTopicResponse> {
        self.responses.iter().find(|t| t.topic == name)
    }

    /// The topic answered under `topic_id` (versions 13+ name topics by id).
    pub fn topic_by_id(&self, topic_id: Uuid) -> Option<&FetchableTopicResponse> {
        self.responses.iter().find(|t| t.topic_id == topic_id)
    }

    /// The endpoint of broker `node_id` among `node_endpoints`.
    pub fn node_endpoint(&self, node_id: i32) -> Option<&NodeEndpoint> {
        self.node_endpoints.iter().find(|n| n.node_id == node_id)
    }
}

/// The fetched partitions of one topic.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct FetchableTopicResponse {
    /// The topic's name (up to v12).
    #[kafka(versions = "0-12")]
    pub topic: String,
    /// The topic's id (v13+).
    #[kafka(versions = "13+")]
    pub topic_id: Uuid,
    /// The partitions.
    pub partitions: Vec<PartitionData>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl FetchableTopicResponse {
    /// The data for partition `index`.
    pub fn partition(&self, index: i32) -> Option<&PartitionData> {
        self.partitions.iter().find(|p| p.partition_index == index)
    }
}

/// One partition's records and state.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct PartitionData {
    /// The partition index.
    pub partition_index: i32,
    /// The partition's error code, 0 if none.
    pub error_code: i16,
    /// The partition's high watermark.
    pub high_watermark: i64,
    /// The last stable offset: transactions below it are all decided.
    #[kafka(default = "-1")]
    pub last_stable_offset: i64,
    /// The partition's log start offset (v5+).
    #[kafka(versions = "5+", default = "-1")]
    pub log_start_offset: i64,
    /// The end of the last epoch the leader shares with the fetcher, when their logs diverge
    /// (v12+, tag 0).
    #[kafka(versions = "12+", tag = 0)]
    pub diverging_epoch: EpochEndOffset,
    /// The partition's current leader, sent with leadership errors (v12+, tag 1).
    #[kafka(versions = "12+", tag = 1)]
    pub current_leader: LeaderIdAndEpoch,
    /// The snapshot to fetch when the requested offset is below the log start (v12+, tag 2).
    #[kafka(versions = "12+", tag = 2)]
    pub snapshot_id: SnapshotId,
    /// Transactions aborted within the returned data (read-committed fetches), or null.
    #[kafka(nullable = "4+", default = "Some(Vec::new())")]
    pub aborted_transactions: Option<Vec<AbortedTransaction>>,
    /// The replica the consumer should fetch from next, or -1 (v11+, KIP-392).
    #[kafka(versions = "11+", default = "-1")]
    pub preferred_read_replica: i32,
    /// The record batches, a zero-copy slice of the response buffer; null when absent.
    pub records: Option<Bytes>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// An epoch and its end offset.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct EpochEndOffset {
    /// The epoch.
    #[kafka(default = "-1")]
    pub epoch: i32,
    /// The end offset of the epoch.
    #[kafka(default = "-1")]
    pub end_offset: i64,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A partition leader and its epoch.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct LeaderIdAndEpoch {
    /// The leader's broker id, or -1 if unknown.
    #[kafka(default = "-1")]
    pub leader_id: i32,
    /// The leader epoch, or -1 if unknown.
    #[kafka(default = "-1")]
    pub leader_epoch: i32,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The end offset and epoch identifying a snapshot.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct SnapshotId {
    /// The snapshot's end offset.
    #[kafka(default = "-1")]
    pub end_offset: i64,
    /// The snapshot's epoch.
    #[kafka(default = "-1")]
    pub epoch: i32,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A transaction aborted within fetched data.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct AbortedTransaction {
    /// The producer id of the transaction.
    pub producer_id: i64,
    /// The offset of the transaction's first record.
    pub first_offset: i64,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A broker's address, for leaders named in a fetch response (v16+).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct NodeEndpoint {
    /// The broker id.
    pub node_id: i32,
    /// The broker's host name.
    pub host: String,
    /// The broker's port.
    pub port: i32,
    /// The broker's rack, or null.
    pub rack: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
