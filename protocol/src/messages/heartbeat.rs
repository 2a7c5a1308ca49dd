//! Heartbeat (key 12): a classic group member tells the coordinator it is alive.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::{GroupCoordinatorRequest, Request};
use crate::primitives::UnknownTaggedFields;

/// Keeps a member's session alive.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-4", flexible = "4+")]
pub struct HeartbeatRequest {
    /// The group id.
    pub group_id: String,
    /// The member's generation.
    pub generation_id: i32,
    /// The member id.
    pub member_id: String,
    /// The static member id, if any (v3+).
    #[kafka(versions = "3+", nullable = "3+")]
    pub group_instance_id: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for HeartbeatRequest {
    const API_KEY: ApiKey = ApiKey::Heartbeat;
    type Response = HeartbeatResponse;
}

impl GroupCoordinatorRequest for HeartbeatRequest {}

/// The heartbeat's outcome (e.g. `REBALANCE_IN_PROGRESS` asks the member to rejoin).
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-4", flexible = "4+")]
pub struct HeartbeatResponse {
    /// Throttle time in milliseconds (v1+).
    #[kafka(versions = "1+")]
    pub throttle_time_ms: i32,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
