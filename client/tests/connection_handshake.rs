//! The connection handshake against a scripted fake broker: ApiVersions fallbacks, and SASL
//! PLAIN and SCRAM-SHA-256 exchanges.
//!
//! The SCRAM exchange is the RFC 7677 §3 example (user `user`, password `pencil`, the RFC's
//! client nonce); the fake broker plays the server side with the RFC's messages.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gregor_client::sasl::{
    NonceGenerator, PlainConfig, SaslConfig, SaslError, SaslMechanism, ScramConfig, ScramHash,
};
use gregor_client::{ClientError, ConnectOptions, Connection};
use gregor_protocol::messages::{
    ApiVersionsRequest, MetadataRequest, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use gregor_protocol::{ApiKey, ErrorCode};
use support::{FakeBroker, api_versions, full_ranges, topic_names};
use tokio::io::DuplexStream;
use tokio::net::TcpListener;

const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const CLIENT_FIRST: &[u8] = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST: &[u8] =
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

struct FixedNonce;

impl NonceGenerator for FixedNonce {
    fn generate(&self) -> Result<String, SaslError> {
        Ok(CLIENT_NONCE.to_owned())
    }
}

fn with_sasl(sasl: impl Into<SaslConfig>) -> ConnectOptions {
    ConnectOptions {
        sasl: Some(sasl.into()),
        ..ConnectOptions::default()
    }
}

fn pipe() -> (DuplexStream, FakeBroker) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    (client, FakeBroker::new(server))
}

/// Checks the connection works after the handshake: one Metadata round trip.
async fn assert_usable(conn: &Connection, broker: &mut FakeBroker) {
    let (answer, topics) = tokio::join!(
        conn.send(MetadataRequest::for_topics(["after-handshake"])),
        broker.echo_metadata()
    );
    assert_eq!(topics, ["after-handshake"]);
    assert_eq!(topic_names(&answer.unwrap()), ["after-handshake"]);
}

/// The broker side of SaslHandshake: expects `mechanism`, answers with `error_code`.
async fn sasl_handshake(broker: &mut FakeBroker, mechanism: &str, error_code: ErrorCode) {
    let req = broker.expect().await;
    assert_eq!(req.version, 1);
    let (header, body) = req.decode::<SaslHandshakeRequest>();
    assert_eq!(header.client_id.as_deref(), Some("gregor"));
    assert_eq!(body.mechanism, mechanism);
    let answer = SaslHandshakeResponse {
        error_code: error_code.code(),
        mechanisms: vec!["PLAIN".into(), "SCRAM-SHA-256".into()],
    };
    broker.respond::<SaslHandshakeRequest>(&req, &answer).await;
}

/// The broker side of one SaslAuthenticate round trip: checks the client's bytes, answers.
async fn sasl_round(broker: &mut FakeBroker, expect: &[u8], answer: SaslAuthenticateResponse) {
    let req = broker.expect().await;
    let (_, body) = req.decode::<SaslAuthenticateRequest>();
    assert_eq!(
        String::from_utf8_lossy(&body.auth_bytes),
        String::from_utf8_lossy(expect)
    );
    broker
        .respond::<SaslAuthenticateRequest>(&req, &answer)
        .await;
}

fn server_says(bytes: &'static [u8]) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse {
        auth_bytes: Bytes::from_static(bytes),
        ..SaslAuthenticateResponse::default()
    }
}

#[tokio::test]
async fn unsupported_api_versions_version_falls_back_to_the_brokers_newest() {
    let (client, mut broker) = pipe();
    let opts = ConnectOptions::default();
    let script = async {
        let first = broker.expect().await;
        assert_eq!(first.version, 4);
        // A broker that knows ApiVersions 0-2 only: error 35 in the v0 format.
        let refusal = api_versions(35, &[(ApiKey::ApiVersions, 0, 2)]);
        broker.respond_in(&first, &refusal, 0).await;
        let second = broker.expect().await;
        assert_eq!(second.version, 2);
        let mut ranges = full_ranges();
        ranges.retain(|r| r.0 != ApiKey::ApiVersions);
        ranges.push((ApiKey::ApiVersions, 0, 2));
        broker
            .respond::<ApiVersionsRequest>(&second, &api_versions(0, &ranges))
            .await;
    };
    let (conn, ()) = tokio::join!(Connection::handshake(client, &opts), script);
    let conn = conn.unwrap();
    assert_eq!(conn.version_for::<ApiVersionsRequest>().unwrap(), 2);
    assert_usable(&conn, &mut broker).await;
}

#[tokio::test]
async fn a_broker_closing_on_api_versions_is_a_typed_error() {
    let (client, mut broker) = pipe();
    let script = async move {
        assert_eq!(broker.expect().await.version, 4);
        drop(broker);
    };
    let opts = ConnectOptions::default();
    let (conn, ()) = tokio::join!(Connection::handshake(client, &opts), script);
    assert!(matches!(
        conn.unwrap_err(),
        ClientError::ApiVersionsRejected { version: 4 }
    ));
}

#[tokio::test]
async fn connect_retries_with_api_versions_v0_on_a_new_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        // First connection: read ApiVersions, then hang up, as some brokers do.
        let (socket, _) = listener.accept().await.unwrap();
        let mut broker = FakeBroker::new(socket);
        seen.push(broker.expect().await.version);
        drop(broker);
        // Second connection: v0 is answered.
        let (socket, _) = listener.accept().await.unwrap();
        let mut broker = FakeBroker::new(socket);
        seen.push(broker.accept_api_versions(&full_ranges()).await.version);
        assert_eq!(broker.echo_metadata().await, ["retried"]);
        seen
    });
    let conn = Connection::connect(&addr.to_string(), &ConnectOptions::default())
        .await
        .unwrap();
    let answer = conn.send(MetadataRequest::for_topics(["retried"])).await;
    assert_eq!(topic_names(&answer.unwrap()), ["retried"]);
    assert_eq!(server.await.unwrap(), [4, 0]);
}

#[tokio::test]
async fn sasl_plain_authenticates_then_serves_requests() {
    let (client, mut broker) = pipe();
    let opts = with_sasl(PlainConfig::new("alice", "secret"));
    let script = async {
        broker.accept_api_versions(&full_ranges()).await;
        sasl_handshake(&mut broker, "PLAIN", ErrorCode::None).await;
        let ok = SaslAuthenticateResponse {
            session_lifetime_ms: 3_600_000,
            ..SaslAuthenticateResponse::default()
        };
        sasl_round(&mut broker, b"\0alice\0secret", ok).await;
    };
    let (conn, ()) = tokio::join!(Connection::handshake(client, &opts), script);
    let conn = conn.unwrap();
    assert_eq!(
        conn.sasl_session_lifetime(),
        Some(Duration::from_secs(3600))
    );
    assert_usable(&conn, &mut broker).await;
}

#[tokio::test]
async fn sasl_plain_with_a_wrong_password_gets_the_brokers_code() {
    let (client, mut broker) = pipe();
    let opts = with_sasl(PlainConfig::new("alice", "wrong"));
    let script = async {
        broker.accept_api_versions(&full_ranges()).await;
        sasl_handshake(&mut broker, "PLAIN", ErrorCode::None).await;
        let refused = SaslAuthenticateResponse {
            error_code: ErrorCode::SaslAuthenticationFailed.code(),
            error_message: Some("Authentication failed: Invalid username or password".into()),
            ..SaslAuthenticateResponse::default()
        };
        sasl_round(&mut broker, b"\0alice\0wrong", refused).await;
    };
    let (conn, ()) = tokio::join!(Connection::handshake(client, &opts), script);
    match conn.unwrap_err() {
        ClientError::SaslAuthentication { code, message } => {
            assert_eq!(code, ErrorCode::SaslAuthenticationFailed);
            assert!(message.unwrap().contains("Invalid username or password"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_refused_mechanism_reports_what_the_broker_enables() {
    let (client, mut broker) = pipe();
    let opts = with_sasl(ScramConfig::new(ScramHash::Sha512, "user", "pencil"));
    let script = async {
        broker.accept_api_versions(&full_ranges()).await;
        sasl_handshake(
            &mut broker,
            "SCRAM-SHA-512",
            ErrorCode::UnsupportedSaslMechanism,
        )
        .await;
    };
    let (conn, ()) = tokio::join!(Connection::handshake(client, &opts), script);
    match conn.unwrap_err() {
        ClientError::SaslMechanismRejected {
            mechanism,
            code,
            enabled,
        } => {
            assert_eq!(mechanism, SaslMechanism::ScramSha512);
            assert_eq!(code, ErrorCode::UnsupportedSaslMechanism);
            assert_eq!(enabled, ["PLAIN", "SCRAM-SHA-256"]);
        }
        other => panic!("{other:?}"),
    }
}

fn rfc7677_scram() -> ScramConfig {
    ScramConfig::new(ScramHash::Sha256, "user", "pencil").with_nonce_generator(Arc::new(FixedNonce))
}

#[tokio::test]
async fn sasl_scram_sha256_exchange_verifies_the_server() {
    let (client, mut broker) = pipe();
    let opts = with_sasl(rfc7677_scram());
    let script = async {
        broker.accept_api_versions(&full_ranges()).await;
        sasl_handshake(&mut broker, "SCRAM-SHA-256", ErrorCode::None).await;
        sasl_round(&mut broker, CLIENT_FIRST, server_says(SERVER_FIRST)).await;
        sasl_round(&mut broker, CLIENT_FINAL, server_says(SERVER_FINAL)).await;
    };
    let (conn, ()) = tokio::join!(Connection::handshake(client, &opts), script);
    let conn = conn.unwrap();
    assert_eq!(conn.sasl_session_lifetime(), None);
    assert_usable(&conn, &mut broker).await;
}

#[tokio::test]
async fn sasl_scram_refuses_a_server_that_does_not_know_the_password() {
    let (client, mut broker) = pipe();
    let opts = with_sasl(rfc7677_scram());
    let script = async {
        broker.accept_api_versions(&full_ranges()).await;
        sasl_handshake(&mut broker, "SCRAM-SHA-256", ErrorCode::None).await;
        sasl_round(&mut broker, CLIENT_FIRST, server_says(SERVER_FIRST)).await;
        let forged = b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        sasl_round(&mut broker, CLIENT_FINAL, server_says(forged)).await;
    };
    let (conn, ()) = tokio::join!(Connection::handshake(client, &opts), script);
    let err = conn.unwrap_err();
    assert!(
        matches!(err, ClientError::Sasl(SaslError::ServerSignatureMismatch)),
        "{err:?}"
    );
}
