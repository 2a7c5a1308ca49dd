//! JoinGroup (key 11): a member joins (or rejoins) a classic consumer group.

use bytes::Bytes;
use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{GroupCoordinatorRequest, Request};
use crate::primitives::UnknownTaggedFields;

/// Joins a group, offering the protocols (assignors) this member supports.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-9", flexible = "6+")]
pub struct JoinGroupRequest {
    /// The group id.
    pub group_id: String,
    /// The member is considered dead after this long without a heartbeat (ms).
    pub session_timeout_ms: i32,
    /// How long the coordinator waits for members to rejoin during a rebalance (ms, v1+).
    #[kafka(versions = "1+", default = "-1")]
    pub rebalance_timeout_ms: i32,
    /// The member id the coordinator assigned, or empty on the first join.
    pub member_id: String,
    /// The static member id from `group.instance.id`, if any (v5+).
    #[kafka(versions = "5+", nullable = "5+")]
    pub group_instance_id: Option<String>,
    /// The protocol type, `consumer` for consumers.
    pub protocol_type: String,
    /// The protocols the member supports, in order of preference.
    pub protocols: Vec<JoinGroupRequestProtocol>,
    /// Why the member (re)joins (v8+).
    #[kafka(versions = "8+", nullable = "8+")]
    pub reason: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for JoinGroupRequest {
    const API_KEY: ApiKey = ApiKey::JoinGroup;
    type Response = JoinGroupResponse;
}

impl GroupCoordinatorRequest for JoinGroupRequest {}

/// One protocol the joining member supports.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct JoinGroupRequestProtocol {
    /// The protocol (assignor) name.
    pub name: String,
    /// The protocol metadata (for consumers, a versioned `ConsumerProtocolSubscription`).
    pub metadata: Bytes,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The outcome of a join: the generation, the chosen protocol, and for the leader the members.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-9", flexible = "6+")]
pub struct JoinGroupResponse {
    /// Throttle time in milliseconds (v2+).
    #[kafka(versions = "2+")]
    pub throttle_time_ms: i32,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The generation of the group.
    #[kafka(default = "-1")]
    pub generation_id: i32,
    /// The group's protocol type (v7+).
    #[kafka(versions = "7+", nullable = "7+")]
    pub protocol_type: Option<String>,
    /// The protocol the coordinator chose (nullable in v7+).
    #[kafka(nullable = "7+", default = "Some(String::new())")]
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// True when the leader must not run the assignment (v9+).
    #[kafka(versions = "9+")]
    pub skip_assignment: bool,
    /// This member's id.
    pub member_id: String,
    /// The members and their metadata (only sent to the leader).
    pub members: Vec<JoinGroupResponseMember>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A group member as the leader sees it.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct JoinGroupResponseMember {
    /// The member id.
    pub member_id: String,
    /// The member's static instance id, if any (v5+).
    #[kafka(versions = "5+", nullable = "5+")]
    pub group_instance_id: Option<String>,
    /// The member's metadata for the chosen protocol.
    pub metadata: Bytes,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
