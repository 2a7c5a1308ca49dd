//! ApiVersions (18).
//!
//! Advertises exactly the version ranges gregor-protocol decodes, for all its APIs. A request in
//! a version the broker does not support is answered the way Kafka does (KIP-511): error
//! `UNSUPPORTED_VERSION` in a version-0 response whose API list holds only ApiVersions' own
//! range, so the client can retry with a version both sides know; see
//! [`unsupported_version_response`]. Version 3+ requests with an invalid client software name or
//! version (Kafka's pattern `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`) get `INVALID_REQUEST`.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::{Ctx, Handle, Reply, supported_apis};
use crate::mock::error_response::ErrorResponse;

/// The version-0 answer to an ApiVersions request in a version this broker does not support.
pub(crate) fn unsupported_version_response() -> ApiVersionsResponse {
    ApiVersionsRequest::default().error_response(0, ErrorCode::UnsupportedVersion)
}

fn valid_software_field(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_alphanumeric();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            ok(first) && ok(last) && b.iter().all(|c| ok(c) || *c == b'-' || *c == b'.')
        }
        _ => false,
    }
}

impl Handle for ApiVersionsRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<ApiVersionsResponse> {
        if cx.version >= 3
            && !(valid_software_field(&self.client_software_name)
                && valid_software_field(&self.client_software_version))
        {
            return Reply::Respond(self.error_response(cx.version, ErrorCode::InvalidRequest));
        }
        Reply::Respond(ApiVersionsResponse {
            error_code: 0,
            api_keys: supported_apis(),
            ..ApiVersionsResponse::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_names_follow_kafkas_pattern() {
        assert!(valid_software_field("gregor"));
        assert!(valid_software_field("0.1.0-beta.2"));
        assert!(!valid_software_field(""));
        assert!(!valid_software_field("-a"));
        assert!(!valid_software_field("a b"));
        assert!(!valid_software_field("a."));
    }
}
