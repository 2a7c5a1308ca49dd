//! ConsumerGroupDescribe (key 69, KIP-848): the state, epochs, assignor and members (with their
//! current and target assignments) of consumer-protocol groups.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{GroupCoordinatorRequest, Request};
use crate::primitives::{UnknownTaggedFields, Uuid};

/// Asks for the description of some consumer groups. Version 1 is the same as version 0 (it
/// tells the broker the caller reads `Member::member_type`).
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-1", flexible = "0+")]
pub struct ConsumerGroupDescribeRequest {
    /// The ids of the groups to describe.
    pub group_ids: Vec<String>,
    /// Whether to include the caller's authorized operations on each group.
    pub include_authorized_operations: bool,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for ConsumerGroupDescribeRequest {
    const API_KEY: ApiKey = ApiKey::ConsumerGroupDescribe;
    type Response = ConsumerGroupDescribeResponse;
}

impl GroupCoordinatorRequest for ConsumerGroupDescribeRequest {}

/// The described groups, one entry per requested group id.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-1", flexible = "0+")]
pub struct ConsumerGroupDescribeResponse {
    /// Throttle time in milliseconds.
    pub throttle_time_ms: i32,
    /// Each described group.
    pub groups: Vec<DescribedGroup>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// One consumer group's description.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct DescribedGroup {
    /// The error code, 0 on success (`GROUP_ID_NOT_FOUND` for an unknown group or one that is
    /// not a consumer-protocol group).
    pub error_code: i16,
    /// The error message, null on success.
    pub error_message: Option<String>,
    /// The group id.
    pub group_id: String,
    /// The group state (`Empty`, `Assigning`, `Reconciling`, `Stable`, `Dead`), or empty.
    pub group_state: String,
    /// The group epoch.
    pub group_epoch: i32,
    /// The epoch of the group's target assignment.
    pub assignment_epoch: i32,
    /// The server-side assignor the group uses.
    pub assignor_name: String,
    /// The members.
    pub members: Vec<Member>,
    /// A bit field of the caller's authorized operations; `i32::MIN` when not requested.
    #[kafka(default = "i32::MIN")]
    pub authorized_operations: i32,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A member of a described consumer group.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct Member {
    /// The member id.
    pub member_id: String,
    /// The static instance id, or null.
    pub instance_id: Option<String>,
    /// The rack id, or null.
    pub rack_id: Option<String>,
    /// The member's current epoch.
    pub member_epoch: i32,
    /// The client id of the member's requests.
    pub client_id: String,
    /// The member's host.
    pub client_host: String,
    /// The subscribed topic names.
    pub subscribed_topic_names: Vec<String>,
    /// The subscribed topic regex, or null if none.
    pub subscribed_topic_regex: Option<String>,
    /// The partitions the member may use now.
    pub assignment: Assignment,
    /// The partitions the group's target assignment gives the member.
    pub target_assignment: Assignment,
    /// The member's protocol: -1 unknown, 0 classic, 1 consumer (v1+).
    #[kafka(versions = "1+", default = "-1")]
    pub member_type: i8,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// Some partitions of one topic, by id and by name.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct TopicPartitions {
    /// The topic id.
    pub topic_id: Uuid,
    /// The topic name.
    pub topic_name: String,
    /// The partition indexes.
    pub partitions: Vec<i32>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A member's assignment.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct Assignment {
    /// The assigned partitions, by topic.
    pub topic_partitions: Vec<TopicPartitions>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
