//! FindCoordinator (key 10): which broker coordinates a group or transactional id. Version 4+
//! looks up several keys in one request (KIP-699).

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::Request;
use crate::primitives::UnknownTaggedFields;

/// Asks for the coordinator of one key (v0-3) or several keys (v4+).
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-6", flexible = "3+")]
pub struct FindCoordinatorRequest {
    /// The key to look up (v0-3).
    #[kafka(versions = "0-3")]
    pub key: String,
    /// The kind of key: 0 group, 1 transaction, 2 share group (v1+).
    #[kafka(versions = "1+")]
    pub key_type: i8,
    /// The keys to look up (v4+).
    #[kafka(versions = "4+")]
    pub coordinator_keys: Vec<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for FindCoordinatorRequest {
    const API_KEY: ApiKey = ApiKey::FindCoordinator;
    type Response = FindCoordinatorResponse;
}

/// The coordinator found for the key (v0-3), or one result per key (v4+).
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-6", flexible = "3+")]
pub struct FindCoordinatorResponse {
    /// Throttle time in milliseconds (v1+).
    #[kafka(versions = "1+")]
    pub throttle_time_ms: i32,
    /// The error code, 0 on success (v0-3).
    #[kafka(versions = "0-3")]
    pub error_code: i16,
    /// The error message, null on success (v1-3).
    #[kafka(versions = "1-3", nullable = "1-3", default = "Some(String::new())")]
    pub error_message: Option<String>,
    /// The coordinator's broker id (v0-3).
    #[kafka(versions = "0-3")]
    pub node_id: i32,
    /// The coordinator's host (v0-3).
    #[kafka(versions = "0-3")]
    pub host: String,
    /// The coordinator's port (v0-3).
    #[kafka(versions = "0-3")]
    pub port: i32,
    /// One result per requested key (v4+).
    #[kafka(versions = "4+")]
    pub coordinators: Vec<Coordinator>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl FindCoordinatorResponse {
    /// The v4+ result for `key`, if the response has one.
    pub fn coordinator(&self, key: &str) -> Option<&Coordinator> {
        self.coordinators.iter().find(|c| c.key == key)
    }
}

/// The coordinator of one key (v4+).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct Coordinator {
    /// The key looked up.
    pub key: String,
    /// The coordinator's broker id.
    pub node_id: i32,
    /// The coordinator's host.
    pub host: String,
    /// The coordinator's port.
    pub port: i32,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The error message, null on success.
    #[kafka(default = "Some(String::new())")]
    pub error_message: Option<String>,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
