//! Metadata (key 3): brokers, topics, partitions and their leaders.
//!
//! Versions 0-13, flexible from 9. In v0 an empty `topics` list asks for every topic; from v1 a
//! null list does, and an empty one asks for none (see [`MetadataRequest::all_topics`]).

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::Request;
use crate::primitives::{UnknownTaggedFields, Uuid};

/// Value of the authorized-operations fields when they were not requested.
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;

/// Asks a broker for cluster metadata.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-13", flexible = "9+")]
pub struct MetadataRequest {
    /// The topics to describe; null (v1+) for all of them.
    #[kafka(nullable = "1+", default = "Some(Vec::new())")]
    pub topics: Option<Vec<MetadataRequestTopic>>,
    /// Whether the broker may auto-create requested topics that do not exist (v4+).
    #[kafka(versions = "4+", default = "true")]
    pub allow_auto_topic_creation: bool,
    /// Whether to return the cluster's authorized operations (v8-10).
    #[kafka(versions = "8-10")]
    pub include_cluster_authorized_operations: bool,
    /// Whether to return each topic's authorized operations (v8+).
    #[kafka(versions = "8+")]
    pub include_topic_authorized_operations: bool,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl MetadataRequest {
    /// A request for every topic in `version`: null topics from v1, an empty list in v0.
    pub fn all_topics(version: i16) -> Self {
        MetadataRequest {
            topics: if version >= 1 { None } else { Some(Vec::new()) },
            ..MetadataRequest::default()
        }
    }

    /// A request for the named topics.
    pub fn for_topics<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        MetadataRequest {
            topics: Some(
                names
                    .into_iter()
                    .map(|n| MetadataRequestTopic {
                        name: Some(n.into()),
                        ..MetadataRequestTopic::default()
                    })
                    .collect(),
            ),
            ..MetadataRequest::default()
        }
    }
}

impl Request for MetadataRequest {
    const API_KEY: ApiKey = ApiKey::Metadata;
    type Response = MetadataResponse;
}

/// A topic to describe, by name or (v12+) by id.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct MetadataRequestTopic {
    /// The topic's id, or zero (v10+).
    #[kafka(versions = "10+")]
    pub topic_id: Uuid,
    /// The topic's name; may be null from v10 when asking by id.
    #[kafka(nullable = "10+", default = "Some(String::new())")]
    pub name: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The cluster's brokers and the requested topics.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-13", flexible = "9+")]
pub struct MetadataResponse {
    /// Time the request was throttled for a quota, in milliseconds (v3+).
    #[kafka(versions = "3+")]
    pub throttle_time_ms: i32,
    /// The brokers in the cluster.
    pub brokers: Vec<MetadataResponseBroker>,
    /// The cluster id, or null (v2+).
    #[kafka(versions = "2+", nullable = "2+")]
    pub cluster_id: Option<String>,
    /// The controller's broker id, or -1 (v1+).
    #[kafka(versions = "1+", default = "-1")]
    pub controller_id: i32,
    /// The topics.
    pub topics: Vec<MetadataResponseTopic>,
    /// The cluster's authorized operations as a bit field (v8-10).
    #[kafka(versions = "8-10", default = "i32::MIN")]
    pub cluster_authorized_operations: i32,
    /// The top-level error code (v13+).
    #[kafka(versions = "13+")]
    pub error_code: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl MetadataResponse {
    /// The broker with id `node_id`.
    pub fn broker(&self, node_id: i32) -> Option<&MetadataResponseBroker> {
        self.brokers.iter().find(|b| b.node_id == node_id)
    }

    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<&MetadataResponseTopic> {
        self.topics.iter().find(|t| t.name.as_deref() == Some(name))
    }
}

/// A broker in the cluster.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct MetadataResponseBroker {
    /// The broker id.
    pub node_id: i32,
    /// The broker's host name.
    pub host: String,
    /// The broker's port.
    pub port: i32,
    /// The broker's rack, or null (v1+).
    #[kafka(versions = "1+", nullable = "1+")]
    pub rack: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A topic and its partitions.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct MetadataResponseTopic {
    /// The topic's error code, 0 if none.
    pub error_code: i16,
    /// The topic's name; null (v12+) for an unknown topic asked for by id.
    #[kafka(nullable = "12+", default = "Some(String::new())")]
    pub name: Option<String>,
    /// The topic's id, or zero for an unknown topic asked for by name (v10+).
    #[kafka(versions = "10+")]
    pub topic_id: Uuid,
    /// Whether the topic is internal (v1+).
    #[kafka(versions = "1+")]
    pub is_internal: bool,
    /// The partitions.
    pub partitions: Vec<MetadataResponsePartition>,
    /// The topic's authorized operations as a bit field (v8+).
    #[kafka(versions = "8+", default = "i32::MIN")]
    pub topic_authorized_operations: i32,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl MetadataResponseTopic {
    /// The partition with index `index`.
    pub fn partition(&self, index: i32) -> Option<&MetadataResponsePartition> {
        self.partitions.iter().find(|p| p.partition_index == index)
    }
}

/// A partition's leader and replicas.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct MetadataResponsePartition {
    /// The partition's error code, 0 if none.
    pub error_code: i16,
    /// The partition index.
    pub partition_index: i32,
    /// The leader's broker id, or -1 if there is none.
    pub leader_id: i32,
    /// The leader epoch, or -1 (v7+).
    #[kafka(versions = "7+", default = "-1")]
    pub leader_epoch: i32,
    /// The brokers holding a replica.
    pub replica_nodes: Vec<i32>,
    /// The replicas in sync with the leader.
    pub isr_nodes: Vec<i32>,
    /// The replicas that are offline (v5+).
    #[kafka(versions = "5+")]
    pub offline_replicas: Vec<i32>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
