//! SaslHandshake (17) and SaslAuthenticate (36).
//!
//! The mock's listeners are PLAINTEXT. On such a listener Kafka's request handler answers
//! both with `ILLEGAL_SASL_STATE` (SASL is only negotiated by the authenticator of a SASL
//! listener, before requests reach the handler); so does the mock.

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
            error_message: Some("SASL is not enabled on this listener".into()),
            ..SaslAuthenticateResponse::default()
        })
    }
}
