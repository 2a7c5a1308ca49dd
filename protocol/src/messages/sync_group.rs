//! SyncGroup (key 14): the leader hands out assignments; every member receives its own.

use bytes::Bytes;
use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{GroupCoordinatorRequest, Request};
use crate::primitives::UnknownTaggedFields;

/// Completes a rebalance; the leader includes every member's assignment.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-5", flexible = "4+")]
pub struct SyncGroupRequest {
    /// The group id.
    pub group_id: String,
    /// The generation from JoinGroup.
    pub generation_id: i32,
    /// This member's id.
    pub member_id: String,
    /// The static member id, if any (v3+).
    #[kafka(versions = "3+", nullable = "3+")]
    pub group_instance_id: Option<String>,
    /// The group's protocol type (v5+).
    #[kafka(versions = "5+", nullable = "5+")]
    pub protocol_type: Option<String>,
    /// The chosen protocol name (v5+).
    #[kafka(versions = "5+", nullable = "5+")]
    pub protocol_name: Option<String>,
    /// The assignments (leader only; empty for followers).
    pub assignments: Vec<SyncGroupRequestAssignment>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for SyncGroupRequest {
    const API_KEY: ApiKey = ApiKey::SyncGroup;
    type Response = SyncGroupResponse;
}

impl GroupCoordinatorRequest for SyncGroupRequest {}

/// One member's assignment, as the leader computed it.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct SyncGroupRequestAssignment {
    /// The member id.
    pub member_id: String,
    /// The assignment (for consumers, a versioned `ConsumerProtocolAssignment`).
    pub assignment: Bytes,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// This member's assignment.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-5", flexible = "4+")]
pub struct SyncGroupResponse {
    /// Throttle time in milliseconds (v1+).
    #[kafka(versions = "1+")]
    pub throttle_time_ms: i32,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The group's protocol type (v5+).
    #[kafka(versions = "5+", nullable = "5+")]
    pub protocol_type: Option<String>,
    /// The chosen protocol name (v5+).
    #[kafka(versions = "5+", nullable = "5+")]
    pub protocol_name: Option<String>,
    /// The member's assignment (may be empty).
    pub assignment: Bytes,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
