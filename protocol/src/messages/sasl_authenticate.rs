//! SaslAuthenticate (key 36): carry SASL tokens after a SaslHandshake v1.

use bytes::Bytes;
use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::Request;
use crate::primitives::UnknownTaggedFields;

/// One client step of the SASL exchange.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-2", flexible = "2+")]
pub struct SaslAuthenticateRequest {
    /// The client's token, as the mechanism defines it.
    pub auth_bytes: Bytes,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for SaslAuthenticateRequest {
    const API_KEY: ApiKey = ApiKey::SaslAuthenticate;
    type Response = SaslAuthenticateResponse;
}

/// One server step of the SASL exchange.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-2", flexible = "2+")]
pub struct SaslAuthenticateResponse {
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The error message, or null.
    pub error_message: Option<String>,
    /// The server's token, as the mechanism defines it.
    pub auth_bytes: Bytes,
    /// How long the session may last before re-authentication, in ms; 0 for no limit (v1+).
    #[kafka(versions = "1+")]
    pub session_lifetime_ms: i64,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}
