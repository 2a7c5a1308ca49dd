//! SASL re-authentication (KIP-368) against a scripted fake broker that limits sessions: the
//! connection re-authenticates on the same stream before each session ends, after the answers
//! to the requests already written and before the requests sent meanwhile, which are all
//! answered; OAUTHBEARER sends a fresh token from its provider; a refused re-authentication
//! ends the connection with the SASL error; held requests still time out.
//!
//! Time is tokio's paused clock, so the schedule is checked to the millisecond.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gregor_client::sasl::{
    OAuthBearerConfig, OAuthToken, PlainConfig, SaslConfig, TokenError, TokenProvider,
};
use gregor_client::{ClientError, ConnectOptions, Connection};
use gregor_protocol::messages::{
    MetadataRequest, MetadataResponse, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use gregor_protocol::{ApiKey, ErrorCode};
use support::{FakeBroker, full_ranges, metadata_naming, requested_topics, topic_names};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};

/// The session lifetime the fake broker states.
const LIFETIME: Duration = Duration::from_secs(10);
const LIFETIME_MS: i64 = 10_000;

fn with_sasl(sasl: impl Into<SaslConfig>) -> ConnectOptions {
    ConnectOptions {
        sasl: Some(sasl.into()),
        ..ConnectOptions::default()
    }
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// The broker side of one SASL exchange: SaslHandshake for `mechanism`, then one
/// SaslAuthenticate whose bytes must be `expect`, answered with `answer`. Returns when the
/// SaslAuthenticate request arrived (the session counts from there).
async fn sasl_exchange(
    broker: &mut FakeBroker,
    mechanism: &str,
    expect: &[u8],
    answer: SaslAuthenticateResponse,
) -> Instant {
    let req = broker.expect().await;
    assert_eq!(req.api(), ApiKey::SaslHandshake, "a SaslHandshake");
    let (_, body) = req.decode::<SaslHandshakeRequest>();
    assert_eq!(body.mechanism, mechanism);
    let accepted = SaslHandshakeResponse {
        error_code: 0,
        mechanisms: vec![mechanism.into()],
    };
    broker
        .respond::<SaslHandshakeRequest>(&req, &accepted)
        .await;
    let req = broker.expect().await;
    assert_eq!(req.api(), ApiKey::SaslAuthenticate, "a SaslAuthenticate");
    let at = Instant::now();
    let (_, body) = req.decode::<SaslAuthenticateRequest>();
    assert_eq!(
        String::from_utf8_lossy(&body.auth_bytes),
        String::from_utf8_lossy(expect)
    );
    broker
        .respond::<SaslAuthenticateRequest>(&req, &answer)
        .await;
    at
}

fn session(lifetime_ms: i64) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse {
        session_lifetime_ms: lifetime_ms,
        ..SaslAuthenticateResponse::default()
    }
}

/// A connection authenticated with `sasl` by a broker that limits the session to
/// [`LIFETIME`]; returns when its SaslAuthenticate arrived.
async fn connect(
    sasl: impl Into<SaslConfig>,
    expect: &[u8],
    opts: impl FnOnce(ConnectOptions) -> ConnectOptions,
) -> (Connection, FakeBroker, Instant) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let mut broker = FakeBroker::new(server);
    let opts = opts(with_sasl(sasl));
    let mechanism = opts.sasl.as_ref().unwrap().mechanism().name();
    let script = async {
        broker.accept_api_versions(&full_ranges()).await;
        sasl_exchange(&mut broker, mechanism, expect, session(LIFETIME_MS)).await
    };
    let (conn, authenticated) = tokio::join!(Connection::handshake(client, &opts), script);
    let conn = conn.expect("handshake");
    assert_eq!(conn.sasl_session_lifetime(), Some(LIFETIME));
    assert_eq!(conn.reauthentications(), 0);
    (conn, broker, authenticated)
}

fn ask(conn: &Connection, topic: &str) -> JoinHandle<Result<MetadataResponse, ClientError>> {
    let conn = conn.clone();
    let req = MetadataRequest::for_topics([topic]);
    tokio::spawn(async move { conn.send(req).await })
}

async fn answered(task: JoinHandle<Result<MetadataResponse, ClientError>>) -> Vec<String> {
    topic_names(&task.await.unwrap().expect("answered"))
}

/// Receives the next request, which must be a Metadata one for `topic`, and answers it.
async fn answer_metadata(broker: &mut FakeBroker, topic: &str) {
    let req = broker.expect().await;
    assert_eq!(requested_topics(&req), [topic]);
    broker
        .respond::<MetadataRequest>(&req, &metadata_naming(&[topic.to_owned()]))
        .await;
}

/// Nothing arrives at the broker for `wait`.
async fn nothing_arrives(broker: &mut FakeBroker, wait: Duration) {
    if let Ok(req) = timeout(wait, broker.recv()).await {
        panic!("expected silence, got {req:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn plain_reauthenticates_before_expiry_after_in_flight_answers_and_before_held_requests() {
    let (conn, mut broker, t0) = connect(
        PlainConfig::new("alice", "secret"),
        b"\0alice\0secret",
        |o| o,
    )
    .await;

    // A request is in flight when the re-authentication falls due (8.5 to 9.5 s).
    sleep_until(t0 + ms(8000)).await;
    let in_flight = ask(&conn, "in-flight");
    let first = broker.expect().await;
    assert_eq!(requested_topics(&first), ["in-flight"]);
    // Past the due time, requests are held: the broker hears nothing.
    sleep_until(t0 + ms(9600)).await;
    let held = [ask(&conn, "held-1"), ask(&conn, "held-2")];
    nothing_arrives(&mut broker, ms(200)).await;
    assert!(!in_flight.is_finished());

    // The in-flight request is answered; only then the exchange starts, before expiry.
    broker
        .respond::<MetadataRequest>(&first, &metadata_naming(&["in-flight".to_owned()]))
        .await;
    let t1 = sasl_exchange(
        &mut broker,
        "PLAIN",
        b"\0alice\0secret",
        session(LIFETIME_MS),
    )
    .await;
    assert!(t1 < t0 + LIFETIME, "re-authenticated at {:?}", t1 - t0);
    // Then the held requests, in order; every request is answered.
    answer_metadata(&mut broker, "held-1").await;
    answer_metadata(&mut broker, "held-2").await;
    assert_eq!(answered(in_flight).await, ["in-flight"]);
    for (task, topic) in held.into_iter().zip(["held-1", "held-2"]) {
        assert_eq!(answered(task).await, [topic]);
    }
    assert_eq!(conn.reauthentications(), 1);
    assert!(!conn.is_closed());

    // Idle, the next round comes within 85 to 95 % of the new session.
    let t2 = sasl_exchange(
        &mut broker,
        "PLAIN",
        b"\0alice\0secret",
        session(LIFETIME_MS),
    )
    .await;
    let after = t2 - t1;
    assert!(
        after >= ms(8500) && after <= ms(9500),
        "next round after {after:?}"
    );
    // A request right after it is served as usual.
    let later = ask(&conn, "later");
    answer_metadata(&mut broker, "later").await;
    assert_eq!(answered(later).await, ["later"]);
    assert_eq!(conn.reauthentications(), 2);
    assert!(!conn.is_closed());
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

fn bearer(token: &str) -> Vec<u8> {
    format!("n,,\x01auth=Bearer {token}\x01\x01").into_bytes()
}

#[tokio::test(start_paused = true)]
async fn oauthbearer_reauthenticates_with_a_fresh_token_from_the_provider() {
    let provider = Arc::new(Rotating::default());
    let config = OAuthBearerConfig::new(provider.clone());
    let (conn, mut broker, _) = connect(config, &bearer("token-1"), |o| o).await;
    assert_eq!(provider.0.load(Ordering::SeqCst), 1);
    for round in 2..=3 {
        sasl_exchange(
            &mut broker,
            "OAUTHBEARER",
            &bearer(&format!("token-{round}")),
            session(LIFETIME_MS),
        )
        .await;
        assert_eq!(provider.0.load(Ordering::SeqCst), round);
        let after = ask(&conn, "after");
        answer_metadata(&mut broker, "after").await;
        assert_eq!(answered(after).await, ["after"]);
    }
    assert_eq!(conn.reauthentications(), 2);
    assert!(!conn.is_closed());
}

#[tokio::test(start_paused = true)]
async fn a_refused_reauthentication_fails_the_held_requests_and_the_connection() {
    let (conn, mut broker, _) = connect(
        PlainConfig::new("alice", "secret"),
        b"\0alice\0secret",
        |o| o,
    )
    .await;
    // Wait for the re-authentication to start, then send a request: it is held.
    let req = broker.expect().await;
    assert_eq!(req.api(), ApiKey::SaslHandshake);
    let held = ask(&conn, "held");
    nothing_arrives(&mut broker, ms(100)).await;
    let accepted = SaslHandshakeResponse {
        error_code: 0,
        mechanisms: vec!["PLAIN".into()],
    };
    broker
        .respond::<SaslHandshakeRequest>(&req, &accepted)
        .await;
    let req = broker.expect().await;
    let refused = SaslAuthenticateResponse {
        error_code: ErrorCode::SaslAuthenticationFailed.code(),
        error_message: Some("Invalid username or password".into()),
        ..SaslAuthenticateResponse::default()
    };
    broker
        .respond::<SaslAuthenticateRequest>(&req, &refused)
        .await;
    let err = held.await.unwrap().expect_err("the held request fails");
    assert!(
        matches!(
            err,
            ClientError::SaslAuthentication {
                code: ErrorCode::SaslAuthenticationFailed,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(conn.is_closed());
    // The held request was never written; the connection is closed to later ones too.
    assert!(broker.recv().await.is_none());
    let later = conn.send(MetadataRequest::for_topics(["later"])).await;
    assert!(
        matches!(later, Err(ClientError::SaslAuthentication { .. })),
        "{later:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_held_request_times_out_on_its_own_deadline() {
    let (conn, mut broker, t0) = connect(
        PlainConfig::new("alice", "secret"),
        b"\0alice\0secret",
        |o| ConnectOptions {
            request_timeout: Duration::from_secs(2),
            ..o
        },
    )
    .await;
    // A request the broker may hold for a minute is in flight when the round falls due, so
    // the round waits for it; a request sent then is held, and times out 2 s later.
    sleep_until(t0 + ms(8000)).await;
    let version = conn.version_for::<MetadataRequest>().unwrap();
    let parked = {
        let conn = conn.clone();
        tokio::spawn(async move {
            let req = MetadataRequest::for_topics(["parked"]);
            conn.send_held(&req, version, Duration::from_secs(60)).await
        })
    };
    assert_eq!(requested_topics(&broker.expect().await), ["parked"]);
    sleep_until(t0 + ms(9600)).await;
    let sent_at = Instant::now();
    let held = ask(&conn, "held");
    let err = held.await.unwrap().expect_err("the held request times out");
    assert!(
        matches!(
            err,
            ClientError::Timeout {
                api: ApiKey::Metadata
            }
        ),
        "{err:?}"
    );
    assert_eq!(Instant::now() - sent_at, Duration::from_secs(2));
    // A timeout ends the connection, as it does outside re-authentication.
    let err = parked.await.unwrap().expect_err("the connection is gone");
    assert!(matches!(err, ClientError::Poisoned(_)), "{err:?}");
    assert!(conn.is_closed());
}
