//! ListGroups (key 16): the groups a broker coordinates.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::Request;
use crate::primitives::UnknownTaggedFields;

/// Lists groups, optionally filtered by state (v4+) and type (v5+).
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-5", flexible = "3+")]
pub struct ListGroupsRequest {
    /// Only groups in these states; empty for all (v4+).
    #[kafka(versions = "4+")]
    pub states_filter: Vec<String>,
    /// Only groups of these types; empty for all (v5+).
    #[kafka(versions = "5+")]
    pub types_filter: Vec<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for ListGroupsRequest {
    const API_KEY: ApiKey = ApiKey::ListGroups;
    type Response = ListGroupsResponse;
}

/// The groups on the broker.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-5", flexible = "3+")]
pub struct ListGroupsResponse {
    /// Throttle time in milliseconds (v1+).
    #[kafka(versions = "1+")]
    pub throttle_time_ms: i32,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The groups.
    pub groups: Vec<ListedGroup>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// One listed group.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct ListedGroup {
    /// The group id.
    pub group_id: String,
    /// The protocol type (`consumer`, or empty for KIP-848 groups).
    pub protocol_type: String,
    /// The group state (v4+).
    #[kafka(versions = "4+")]
    pub group_state: String,
    /// The group type, `classic` or `consumer` (v5+).
    #[kafka(versions = "5+")]
    pub group_type: String,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
