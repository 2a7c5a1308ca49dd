//! SaslHandshake (17) and SaslAuthenticate (36).
//!
//! SASL is negotiated by a SASL listener's authenticator (the `sasl` module) before requests
//! reach the handlers. Requests that do reach them (on a PLAINTEXT or SSL listener, or after
//! authentication) are answered with `ILLEGAL_SASL_STATE`, as Kafka's request handler does.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};

use super::{Ctx, Handle, Reply};

impl Handle for SaslHandshakeRequest {
    fn handle(self, _cx: &mut Ctx<'_>) -> Reply<SaslHandshakeResponse> {
        Reply::Respond(SaslHandshakeResponse {
            error_code: ErrorCode::IllegalSaslState.code(),
            ..SaslHandshakeResponse::default()
        })
    }
}

impl Handle for SaslAuthenticateRequest {
    fn handle(self, _cx: &mut Ctx<'_>) -> Reply<SaslAuthenticateResponse> {
        Reply::Respond(SaslAuthenticateResponse {
            error_code: ErrorCode::IllegalSaslState.code(),
            error_message: Some("SASL is not expected on this connection now".into()),
            ..SaslAuthenticateResponse::default()
        })
    }
}
