//! SaslHandshake (key 17): choose a SASL mechanism before authenticating.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::Request;

/// Proposes a SASL mechanism. From v1 the SASL tokens then travel in SaslAuthenticate requests.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-1", flexible = "none")]
pub struct SaslHandshakeRequest {
    /// The mechanism the client wants, e.g. `PLAIN` or `SCRAM-SHA-512`.
    pub mechanism: String,
}

impl Request for SaslHandshakeRequest {
    const API_KEY: ApiKey = ApiKey::SaslHandshake;
    type Response = SaslHandshakeResponse;
}

/// Whether the mechanism is accepted, and which ones the broker enables.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-1", flexible = "none")]
pub struct SaslHandshakeResponse {
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The mechanisms the broker enables.
    pub mechanisms: Vec<String>,
}
