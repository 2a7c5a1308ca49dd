//! Unit tests of the sans-io handshake: response bodies in, requests out.

use bytes::BytesMut;
use gregor_protocol::messages::api_versions::ApiVersion;
use gregor_protocol::messages::{MetadataRequest, SaslAuthenticateResponse, SaslHandshakeResponse};

use super::*;
use crate::sasl::{PlainConfig, SaslError, SaslMechanism};

fn body<M: Message>(message: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    message.encode(&mut buf, version).unwrap();
    buf.freeze()
}

fn api_versions(error_code: i16, ranges: &[(ApiKey, i16, i16)]) -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code,
        api_keys: ranges
            .iter()
            .map(|&(key, min_version, max_version)| ApiVersion {
                api_key: key.code(),
                min_version,
                max_version,
                ..ApiVersion::default()
            })
            .collect(),
        ..ApiVersionsResponse::default()
    }
}

const FULL: &[(ApiKey, i16, i16)] = &[
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
];

fn expect_send(step: HandshakeStep) -> HandshakeRequest {
    match step {
        HandshakeStep::Send(request) => request,
        HandshakeStep::Done(n) => panic!("expected a request, handshake done: {n:?}"),
    }
}

fn expect_done(step: HandshakeStep) -> Negotiated {
    match step {
        HandshakeStep::Done(negotiated) => negotiated,
        HandshakeStep::Send(r) => panic!("expected the end, got {r:?}"),
    }
}

#[test]
fn without_sasl_one_api_versions_round_trip_negotiates() {
    let mut handshake = Handshake::new(None, 4);
    let request = handshake.start().unwrap();
    let HandshakeRequest::ApiVersions(ref req, 4) = request else {
        panic!("{request:?}");
    };
    assert_eq!(req.client_software_name, "gregor");
    assert_eq!(req.client_software_version, env!("CARGO_PKG_VERSION"));
    let done = expect_done(
        handshake
            .on_response(body(&api_versions(0, FULL), 4))
            .unwrap(),
    );
    assert_eq!(done.versions.choose::<MetadataRequest>().unwrap(), 12);
    assert_eq!(done.sasl_session_lifetime, None);
    assert!(handshake.start().is_err());
}

#[test]
fn old_api_versions_versions_carry_no_software_name() {
    let mut handshake = Handshake::new(None, 2);
    assert_eq!(
        handshake.start().unwrap(),
        HandshakeRequest::ApiVersions(ApiVersionsRequest::default(), 2)
    );
}

#[test]
fn unsupported_version_retries_once_with_the_brokers_highest() {
    let mut handshake = Handshake::new(None, 4);
    handshake.start().unwrap();
    // The refusal is in the v0 format, listing only ApiVersions.
    let refusal = api_versions(35, &[(ApiKey::ApiVersions, 0, 2)]);
    let retry = expect_send(handshake.on_response(body(&refusal, 0)).unwrap());
    assert_eq!(
        retry,
        HandshakeRequest::ApiVersions(ApiVersionsRequest::default(), 2)
    );
    let done = expect_done(
        handshake
            .on_response(body(&api_versions(0, FULL), 2))
            .unwrap(),
    );
    assert_eq!(done.versions.len(), FULL.len());

    // A second refusal is final.
    let mut handshake = Handshake::new(None, 4);
    handshake.start().unwrap();
    expect_send(handshake.on_response(body(&refusal, 0)).unwrap());
    let err = handshake.on_response(body(&refusal, 0)).unwrap_err();
    assert!(matches!(
        err,
        ClientError::Broker {
            api: ApiKey::ApiVersions,
            code: ErrorCode::UnsupportedVersion
        }
    ));
}

#[test]
fn unsupported_version_without_a_range_falls_back_to_v0() {
    let mut handshake = Handshake::new(None, 4);
    handshake.start().unwrap();
    let retry = expect_send(
        handshake
            .on_response(body(&api_versions(35, &[]), 0))
            .unwrap(),
    );
    assert_eq!(retry.version(), 0);
}

#[test]
fn a_refusal_at_v0_or_naming_no_older_version_is_final() {
    for (start, listed) in [(0, 0), (2, 3)] {
        let mut handshake = Handshake::new(None, start);
        handshake.start().unwrap();
        let refusal = api_versions(35, &[(ApiKey::ApiVersions, 0, listed)]);
        assert!(matches!(
            handshake.on_response(body(&refusal, 0)),
            Err(ClientError::Broker {
                code: ErrorCode::UnsupportedVersion,
                ..
            })
        ));
    }
}

#[test]
fn other_api_versions_errors_are_broker_errors() {
    let mut handshake = Handshake::new(None, 4);
    handshake.start().unwrap();
    let err = handshake
        .on_response(body(&api_versions(-1, &[]), 4))
        .unwrap_err();
    assert!(matches!(
        err,
        ClientError::Broker {
            api: ApiKey::ApiVersions,
            code: ErrorCode::UnknownServerError
        }
    ));
    let mut handshake = Handshake::new(None, 4);
    handshake.start().unwrap();
    assert!(matches!(
        handshake.on_response(Bytes::from_static(&[0])),
        Err(ClientError::Poisoned(PoisonCause::MalformedBody(
            ApiKey::ApiVersions,
            _
        )))
    ));
}

#[test]
fn a_closed_connection_during_api_versions_asks_for_a_v0_retry() {
    for error in [
        ClientError::Disconnected,
        ClientError::io_kind(
            std::io::ErrorKind::ConnectionReset,
            "reading from the broker",
        ),
    ] {
        let mut handshake = Handshake::new(None, 4);
        handshake.start().unwrap();
        assert!(matches!(
            handshake.on_connection_error(error),
            ClientError::ApiVersionsRejected { version: 4 }
        ));
    }
    // At v0 there is nothing older to try, and timeouts are not refusals.
    let mut handshake = Handshake::new(None, 0);
    handshake.start().unwrap();
    assert!(matches!(
        handshake.on_connection_error(ClientError::Disconnected),
        ClientError::Disconnected
    ));
    let mut handshake = Handshake::new(None, 4);
    handshake.start().unwrap();
    let timeout = ClientError::Timeout {
        api: ApiKey::ApiVersions,
    };
    assert!(matches!(
        handshake.on_connection_error(timeout),
        ClientError::Timeout { .. }
    ));
}

fn plain() -> SaslConfig {
    PlainConfig::new("alice", "secret").into()
}

/// A PLAIN handshake that has sent its SaslHandshake request.
fn at_sasl_handshake(ranges: &[(ApiKey, i16, i16)]) -> Result<Handshake, ClientError> {
    let config = plain();
    let mut handshake = Handshake::new(Some(&config), 4);
    handshake.start()?;
    let request = expect_send(handshake.on_response(body(&api_versions(0, ranges), 4))?);
    let expected = SaslHandshakeRequest {
        mechanism: "PLAIN".into(),
    };
    assert_eq!(request, HandshakeRequest::SaslHandshake(expected, 1));
    Ok(handshake)
}

#[test]
fn plain_exchange_with_session_lifetime() {
    let mut handshake = at_sasl_handshake(FULL).unwrap();
    let accepted = SaslHandshakeResponse {
        error_code: 0,
        mechanisms: vec!["PLAIN".into()],
    };
    let request = expect_send(handshake.on_response(body(&accepted, 1)).unwrap());
    let HandshakeRequest::SaslAuthenticate(req, 2) = request else {
        panic!("{request:?}");
    };
    assert_eq!(&req.auth_bytes[..], b"\0alice\0secret");
    let ok = SaslAuthenticateResponse {
        session_lifetime_ms: 60_000,
        ..SaslAuthenticateResponse::default()
    };
    let done = expect_done(handshake.on_response(body(&ok, 2)).unwrap());
    assert_eq!(done.sasl_session_lifetime, Some(Duration::from_secs(60)));
}

#[test]
fn a_broker_without_sasl_handshake_v1_is_unsupported() {
    let err = at_sasl_handshake(&[(ApiKey::ApiVersions, 0, 4), (ApiKey::SaslHandshake, 0, 0)])
        .unwrap_err();
    assert!(matches!(
        err,
        ClientError::UnsupportedApi {
            api: ApiKey::SaslHandshake,
            broker: Some(_),
            ..
        }
    ));
}

#[test]
fn a_refused_mechanism_lists_the_enabled_ones() {
    let mut handshake = at_sasl_handshake(FULL).unwrap();
    let refused = SaslHandshakeResponse {
        error_code: ErrorCode::UnsupportedSaslMechanism.code(),
        mechanisms: vec!["SCRAM-SHA-512".into(), "GSSAPI".into()],
    };
    match handshake.on_response(body(&refused, 1)) {
        Err(ClientError::SaslMechanismRejected {
            mechanism,
            code,
            enabled,
        }) => {
            assert_eq!(mechanism, SaslMechanism::Plain);
            assert_eq!(code, ErrorCode::UnsupportedSaslMechanism);
            assert_eq!(enabled, ["SCRAM-SHA-512", "GSSAPI"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_authentication_carries_the_brokers_code_and_message() {
    let mut handshake = at_sasl_handshake(FULL).unwrap();
    let accepted = SaslHandshakeResponse {
        error_code: 0,
        mechanisms: vec!["PLAIN".into()],
    };
    expect_send(handshake.on_response(body(&accepted, 1)).unwrap());
    let failed = SaslAuthenticateResponse {
        error_code: ErrorCode::SaslAuthenticationFailed.code(),
        error_message: Some("Invalid username or password".into()),
        ..SaslAuthenticateResponse::default()
    };
    match handshake.on_response(body(&failed, 2)) {
        Err(ClientError::SaslAuthentication { code, message }) => {
            assert_eq!(code, ErrorCode::SaslAuthenticationFailed);
            assert_eq!(message.as_deref(), Some("Invalid username or password"));
        }
        other => panic!("{other:?}"),
    }
    assert!(handshake.on_response(body(&failed, 2)).is_err());
}

#[test]
fn a_failing_mechanism_sends_its_last_message_then_reports_its_own_error() {
    use std::sync::Arc;

    use crate::sasl::{OAuthBearerConfig, OAuthErrorStatus, OAuthToken};

    let token = OAuthToken::new("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.c2ln");
    let config: SaslConfig = OAuthBearerConfig::new(Arc::new(token)).into();
    let mut handshake = Handshake::new(Some(&config), 4);
    handshake.start().unwrap();
    expect_send(
        handshake
            .on_response(body(&api_versions(0, FULL), 4))
            .unwrap(),
    );
    let accepted = SaslHandshakeResponse {
        error_code: 0,
        mechanisms: vec!["OAUTHBEARER".into()],
    };
    expect_send(handshake.on_response(body(&accepted, 1)).unwrap());
    let challenge = SaslAuthenticateResponse {
        auth_bytes: Bytes::from_static(br#"{"status":"invalid_token"}"#),
        ..SaslAuthenticateResponse::default()
    };
    let last = expect_send(handshake.on_response(body(&challenge, 2)).unwrap());
    let HandshakeRequest::SaslAuthenticate(req, 2) = last else {
        panic!("{last:?}");
    };
    assert_eq!(&req.auth_bytes[..], b"\x01");
    // Whatever the broker answers now, the mechanism's error is the outcome.
    let broker_error = SaslAuthenticateResponse {
        error_code: ErrorCode::SaslAuthenticationFailed.code(),
        ..SaslAuthenticateResponse::default()
    };
    let err = handshake.on_response(body(&broker_error, 2)).unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Sasl(SaslError::OAuthServer {
                status: OAuthErrorStatus::InvalidToken
            })
        ),
        "{err:?}"
    );
}

#[test]
fn an_undecodable_refusal_falls_back_to_v0() {
    // librdkafka's mock cluster answers an unsupported ApiVersions version with error 35 but a
    // body that is not in the v0 format (here: a one-byte count); v0 is still safe to ask.
    let mut handshake = Handshake::new(None, 4);
    handshake.start().unwrap();
    let malformed = Bytes::from_static(&[0, 35, 1, 0, 18, 0, 0, 0, 2, 0, 0, 0, 0]);
    let retry = expect_send(handshake.on_response(malformed.clone()).unwrap());
    assert_eq!(retry.version(), 0);
    // A second undecodable refusal, now at v0, is final.
    let err = handshake.on_response(malformed).unwrap_err();
    assert!(matches!(
        err,
        ClientError::Broker {
            api: ApiKey::ApiVersions,
            code: ErrorCode::UnsupportedVersion
        }
    ));
}
