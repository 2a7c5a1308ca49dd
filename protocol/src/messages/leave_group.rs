//! LeaveGroup (key 13): one member (v0-2) or a batch of members (v3+) leave a classic group.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{GroupCoordinatorRequest, Request};
use crate::primitives::UnknownTaggedFields;

/// Removes members from a group.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-5", flexible = "4+")]
pub struct LeaveGroupRequest {
    /// The group id.
    pub group_id: String,
    /// The leaving member's id (v0-2).
    #[kafka(versions = "0-2")]
    pub member_id: String,
    /// The leaving members (v3+).
    #[kafka(versions = "3+")]
    pub members: Vec<MemberIdentity>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for LeaveGroupRequest {
    const API_KEY: ApiKey = ApiKey::LeaveGroup;
    type Response = LeaveGroupResponse;
}

impl GroupCoordinatorRequest for LeaveGroupRequest {}

/// A leaving member (v3+).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct MemberIdentity {
    /// The member id.
    pub member_id: String,
    /// The static member id, if any.
    pub group_instance_id: Option<String>,
    /// Why the member leaves (v5+).
    #[kafka(versions = "5+", nullable = "5+")]
    pub reason: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// The outcome, overall and per member (v3+).
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-5", flexible = "4+")]
pub struct LeaveGroupResponse {
    /// Throttle time in milliseconds (v1+).
    #[kafka(versions = "1+")]
    pub throttle_time_ms: i32,
    /// The top-level error code, 0 on success.
    pub error_code: i16,
    /// The per-member results (v3+).
    #[kafka(versions = "3+")]
    pub members: Vec<MemberResponse>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// One member's leave result (v3+).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct MemberResponse {
    /// The member id.
    pub member_id: String,
    /// The static member id, if any.
    #[kafka(default = "Some(String::new())")]
    pub group_instance_id: Option<String>,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
