//! DescribeGroups (key 15): state, protocol and members of classic groups.

use bytes::Bytes;
use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{GroupCoordinatorRequest, Request};
use crate::primitives::UnknownTaggedFields;

/// Asks for the description of some groups.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-6", flexible = "5+")]
pub struct DescribeGroupsRequest {
    /// The group ids.
    pub groups: Vec<String>,
    /// Whether to return the caller's authorized operations on each group (v3+).
    #[kafka(versions = "3+")]
    pub include_authorized_operations: bool,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for DescribeGroupsRequest {
    const API_KEY: ApiKey = ApiKey::DescribeGroups;
    type Response = DescribeGroupsResponse;
}

impl GroupCoordinatorRequest for DescribeGroupsRequest {}

/// The described groups.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-6", flexible = "5+")]
pub struct DescribeGroupsResponse {
    /// Throttle time in milliseconds (v1+).
    #[kafka(versions = "1+")]
    pub throttle_time_ms: i32,
    /// One entry per requested group.
    pub groups: Vec<DescribedGroup>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// One group's description.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct DescribedGroup {
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The error message, null on success (v6+).
    #[kafka(versions = "6+", nullable = "6+")]
    pub error_message: Option<String>,
    /// The group id.
    pub group_id: String,
    /// The group state (`Stable`, `Empty`...), or empty.
    pub group_state: String,
    /// The protocol type, or empty.
    pub protocol_type: String,
    /// The chosen protocol (assignor) name, or empty.
    pub protocol_data: String,
    /// The members (empty for a dead group).
    pub members: Vec<DescribedGroupMember>,
    /// A bit field of the caller's authorized operations; `i32::MIN` when not requested (v3+).
    #[kafka(versions = "3+", default = "i32::MIN")]
    pub authorized_operations: i32,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A member of a described group.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct DescribedGroupMember {
    /// The member id.
    pub member_id: String,
    /// The static member id, if any (v4+).
    #[kafka(versions = "4+", nullable = "4+")]
    pub group_instance_id: Option<String>,
    /// The client id of the member's last JoinGroup.
    pub client_id: String,
    /// The member's host.
    pub client_host: String,
    /// The member's metadata for the chosen protocol (stable groups only).
    pub member_metadata: Bytes,
    /// The member's assignment (stable groups only).
    pub member_assignment: Bytes,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
