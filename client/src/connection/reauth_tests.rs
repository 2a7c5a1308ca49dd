//! Unit tests of the sans-io re-authentication: the schedule, and the exchange driven with
//! response bodies and times, no sockets and no clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use gregor_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use gregor_protocol::{ErrorCode, Message};

use super::*;
use crate::sasl::{
    NonceGenerator, OAuthBearerConfig, OAuthToken, PlainConfig, SaslError, ScramConfig, ScramHash,
    TokenError, TokenProvider,
};

const VERSIONS: SaslVersions = SaslVersions {
    handshake: 1,
    authenticate: 2,
};

fn body<M: Message>(message: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    message.encode(&mut buf, version).unwrap();
    buf.freeze()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn accepted(mechanism: &str) -> Bytes {
    let response = SaslHandshakeResponse {
        error_code: 0,
        mechanisms: vec![mechanism.into()],
    };
    body(&response, 1)
}

fn authenticated(auth_bytes: &'static [u8], lifetime_ms: i64) -> Bytes {
    let response = SaslAuthenticateResponse {
        auth_bytes: Bytes::from_static(auth_bytes),
        session_lifetime_ms: lifetime_ms,
        ..SaslAuthenticateResponse::default()
    };
    body(&response, 2)
}

fn expect_handshake(request: Option<HandshakeRequest>, mechanism: &str) {
    match request {
        Some(HandshakeRequest::SaslHandshake(SaslHandshakeRequest { mechanism: m }, 1)) => {
            assert_eq!(m, mechanism);
        }
        other => panic!("expected SaslHandshake, got {other:?}"),
    }
}

fn expect_authenticate(step: ReauthStep) -> Vec<u8> {
    match step {
        ReauthStep::Send(HandshakeRequest::SaslAuthenticate(
            SaslAuthenticateRequest { auth_bytes, .. },
            2,
        )) => auth_bytes.to_vec(),
        other => panic!("expected SaslAuthenticate, got {other:?}"),
    }
}

fn expect_reauthenticated(step: ReauthStep) -> Option<Duration> {
    match step {
        ReauthStep::Reauthenticated { session_lifetime } => session_lifetime,
        other => panic!("expected the end, got {other:?}"),
    }
}

/// A PLAIN re-authenticator of a 10 s session authenticated at `t0`, due at 8.5 s.
fn plain_scheduled(t0: Instant) -> Reauthenticator {
    let config: SaslConfig = PlainConfig::new("alice", "secret").into();
    let mut reauth = Reauthenticator::new(config, VERSIONS);
    reauth.schedule(Some(secs(10.0)), t0, 0.0);
    reauth
}

#[test]
fn due_between_85_and_95_percent_of_the_lifetime() {
    let t0 = Instant::now();
    let lifetime = secs(10.0);
    for (jitter, at) in [
        (0.0, 8.5),
        (0.5, 9.0),
        (1.0, 9.5),
        (-3.0, 8.5),
        (7.0, 9.5),
        (f64::NAN, 9.0),
    ] {
        let due = reauth_due(t0, lifetime, jitter).unwrap();
        let off = (due - t0).as_secs_f64() - at;
        assert!(off.abs() < 1e-6, "jitter {jitter}: {:?}", due - t0);
    }
    // Every jitter in [0, 1) lands in the window, before the session ends.
    for i in 0..100 {
        let due = reauth_due(t0, lifetime, f64::from(i) / 100.0).unwrap();
        assert!(due >= t0 + secs(8.5) && due < t0 + secs(9.5), "{i}");
    }
    // A lifetime past what the clock holds means never.
    assert_eq!(reauth_due(t0, Duration::MAX, 0.5), None);
}

#[test]
fn nothing_happens_without_a_lifetime() {
    let t0 = Instant::now();
    let config: SaslConfig = PlainConfig::new("alice", "secret").into();
    let mut reauth = Reauthenticator::new(config, VERSIONS);
    assert_eq!(reauth.due(), None);
    reauth.schedule(None, t0, 0.5);
    assert_eq!(reauth.due(), None);
    assert_eq!(reauth.poll(t0 + secs(1e6), 0).unwrap(), None);
    assert!(!reauth.holds_requests());
    assert!(
        reauth
            .on_response(Bytes::new(), t0, 0.5)
            .is_err_and(|e| matches!(e, ClientError::InvalidState { .. }))
    );
}

#[test]
fn holds_when_due_drains_then_exchanges_and_reschedules() {
    let t0 = Instant::now();
    let mut reauth = plain_scheduled(t0);
    assert_eq!(reauth.due(), Some(t0 + secs(8.5)));

    // Not due yet.
    assert_eq!(reauth.poll(t0 + secs(8.0), 3).unwrap(), None);
    assert!(!reauth.holds_requests());
    // Due, with requests in flight: hold, and wait for them.
    assert_eq!(reauth.poll(t0 + secs(8.5), 3).unwrap(), None);
    assert!(reauth.holds_requests());
    assert!(!reauth.is_exchanging());
    assert_eq!(reauth.due(), None);
    assert_eq!(reauth.poll(t0 + secs(8.7), 1).unwrap(), None);
    // The last one answered: the exchange starts.
    expect_handshake(reauth.poll(t0 + secs(9.0), 0).unwrap(), "PLAIN");
    assert!(reauth.is_exchanging());
    assert!(reauth.holds_requests());
    // Polling again starts nothing more.
    assert_eq!(reauth.poll(t0 + secs(9.0), 0).unwrap(), None);

    let step = reauth
        .on_response(accepted("PLAIN"), t0 + secs(9.1), 0.0)
        .unwrap();
    assert_eq!(expect_authenticate(step), b"\0alice\0secret");
    assert_eq!(reauth.completed(), 0);
    let step = reauth
        .on_response(authenticated(b"", 20_000), t0 + secs(9.2), 1.0)
        .unwrap();
    assert_eq!(expect_reauthenticated(step), Some(secs(20.0)));
    assert_eq!(reauth.completed(), 1);
    assert!(!reauth.holds_requests());
    // The new session counts from when its SaslAuthenticate was sent (9.1 s): 95 % of 20 s.
    assert_eq!(reauth.due(), Some(t0 + secs(9.1) + secs(19.0)));
}

#[test]
fn a_session_the_broker_no_longer_limits_is_not_renewed() {
    let t0 = Instant::now();
    let mut reauth = plain_scheduled(t0);
    expect_handshake(reauth.poll(t0 + secs(9.0), 0).unwrap(), "PLAIN");
    reauth
        .on_response(accepted("PLAIN"), t0 + secs(9.0), 0.5)
        .unwrap();
    let step = reauth
        .on_response(authenticated(b"", 0), t0 + secs(9.1), 0.5)
        .unwrap();
    assert_eq!(expect_reauthenticated(step), None);
    assert_eq!(reauth.due(), None);
    assert_eq!(reauth.poll(t0 + secs(1e6), 0).unwrap(), None);
    assert_eq!(reauth.completed(), 1);
}

#[test]
fn refusals_fail_with_the_sasl_errors_of_a_first_authentication() {
    let t0 = Instant::now();
    // The broker refuses the credentials now (a rotated password).
    let mut reauth = plain_scheduled(t0);
    reauth.poll(t0 + secs(9.0), 0).unwrap();
    reauth
        .on_response(accepted("PLAIN"), t0 + secs(9.0), 0.5)
        .unwrap();
    let refused = SaslAuthenticateResponse {
        error_code: ErrorCode::SaslAuthenticationFailed.code(),
        error_message: Some("Invalid username or password".into()),
        ..SaslAuthenticateResponse::default()
    };
    match reauth.on_response(body(&refused, 2), t0 + secs(9.1), 0.5) {
        Err(ClientError::SaslAuthentication { code, message }) => {
            assert_eq!(code, ErrorCode::SaslAuthenticationFailed);
            assert_eq!(message.as_deref(), Some("Invalid username or password"));
        }
        other => panic!("{other:?}"),
    }
    // The broker refuses a re-authentication outright (ILLEGAL_SASL_STATE).
    let mut reauth = plain_scheduled(t0);
    reauth.poll(t0 + secs(9.0), 0).unwrap();
    let illegal = SaslHandshakeResponse {
        error_code: ErrorCode::IllegalSaslState.code(),
        mechanisms: vec![],
    };
    let err = reauth
        .on_response(body(&illegal, 1), t0 + secs(9.0), 0.5)
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::SaslMechanismRejected {
                code: ErrorCode::IllegalSaslState,
                ..
            }
        ),
        "{err:?}"
    );
    // An answer that does not decode.
    let mut reauth = plain_scheduled(t0);
    reauth.poll(t0 + secs(9.0), 0).unwrap();
    let err = reauth
        .on_response(Bytes::from_static(&[0]), t0 + secs(9.0), 0.5)
        .unwrap_err();
    assert!(matches!(err, ClientError::Poisoned(_)), "{err:?}");
}

/// Hands out `token-1`, `token-2`, ... and counts the calls.
#[derive(Default)]
struct Rotating(AtomicUsize);

impl TokenProvider for Rotating {
    fn token(&self) -> Result<OAuthToken, TokenError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(OAuthToken::new(format!("token-{n}")))
    }
}

#[test]
fn oauthbearer_asks_the_provider_for_a_token_at_each_round() {
    let t0 = Instant::now();
    let provider = Arc::new(Rotating::default());
    let config: SaslConfig = OAuthBearerConfig::new(provider.clone()).into();
    let mut reauth = Reauthenticator::new(config, VERSIONS);
    reauth.schedule(Some(secs(10.0)), t0, 0.0);
    let mut now = t0;
    for round in 1..=3 {
        now += secs(9.5);
        expect_handshake(reauth.poll(now, 0).unwrap(), "OAUTHBEARER");
        let step = reauth
            .on_response(accepted("OAUTHBEARER"), now, 0.0)
            .unwrap();
        let message = expect_authenticate(step);
        let expected = format!("n,,\x01auth=Bearer token-{round}\x01\x01");
        assert_eq!(String::from_utf8_lossy(&message), expected);
        let step = reauth
            .on_response(authenticated(b"", 10_000), now, 0.0)
            .unwrap();
        assert_eq!(expect_reauthenticated(step), Some(secs(10.0)));
        assert_eq!(provider.0.load(Ordering::SeqCst), round);
    }
    assert_eq!(reauth.completed(), 3);
}

struct FixedNonce;

impl NonceGenerator for FixedNonce {
    fn generate(&self) -> Result<String, SaslError> {
        Ok("rOprNGfwEbeRWgbNEkqO".to_owned())
    }
}

#[test]
fn scram_runs_its_whole_exchange_again_and_checks_the_server() {
    // The RFC 7677 §3 example, once per round.
    const SERVER_FIRST: &[u8] =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
    let t0 = Instant::now();
    let scram = ScramConfig::new(ScramHash::Sha256, "user", "pencil")
        .with_nonce_generator(Arc::new(FixedNonce));
    let mut reauth = Reauthenticator::new(scram.into(), VERSIONS);
    reauth.schedule(Some(secs(10.0)), t0, 0.0);
    let mut now = t0;
    for round in 1..=2 {
        now += secs(9.5);
        expect_handshake(reauth.poll(now, 0).unwrap(), "SCRAM-SHA-256");
        let first = expect_authenticate(
            reauth
                .on_response(accepted("SCRAM-SHA-256"), now, 0.0)
                .unwrap(),
        );
        assert_eq!(first, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let last = expect_authenticate(
            reauth
                .on_response(authenticated(SERVER_FIRST, 0), now, 0.0)
                .unwrap(),
        );
        assert_eq!(last, CLIENT_FINAL);
        let step = reauth
            .on_response(authenticated(SERVER_FINAL, 10_000), now, 0.0)
            .unwrap();
        assert_eq!(expect_reauthenticated(step), Some(secs(10.0)));
        assert_eq!(reauth.completed(), round);
    }
    // A server that cannot prove it knows the password fails the round.
    now += secs(9.5);
    reauth.poll(now, 0).unwrap();
    reauth
        .on_response(accepted("SCRAM-SHA-256"), now, 0.0)
        .unwrap();
    reauth
        .on_response(authenticated(SERVER_FIRST, 0), now, 0.0)
        .unwrap();
    let forged = b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let err = reauth
        .on_response(authenticated(forged, 10_000), now, 0.0)
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Sasl(SaslError::ServerSignatureMismatch)),
        "{err:?}"
    );
}
