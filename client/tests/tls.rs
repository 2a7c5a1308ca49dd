//! TLS against a real broker: tansu behind stunnel (gregor-testkit), with certificates made at
//! test time. Each test dials the TLS port, does the handshake with `TlsConfig::connector()`
//! and `server_name()`, then one ApiVersions v0 exchange over the TLS stream.
//!
//! Needs tansu (`.ci/install-tansu.sh`) and stunnel (`apt-get install stunnel4`; `.ci/run`
//! installs both).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gregor_client::tls::{ClientCertificate, TlsConfig, TlsError, TrustRoots};
use gregor_protocol::frame::{split_response_header, write_frame};
use gregor_protocol::header::RequestHeader;
use gregor_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, MetadataRequest};
use gregor_protocol::{Message, Request};
use gregor_testkit::certs::TestPki;
use gregor_testkit::stunnel::ServerIdentity;
use gregor_testkit::{TlsBroker, TlsBrokerOptions};
use rustls::{AlertDescription, CertificateError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why an exchange failed.
#[derive(Debug)]
enum Failure {
    /// A TLS failure (certificate rejected, alert from the server, ...).
    Tls(TlsError),
    /// The connection failed or closed without a TLS error.
    #[allow(dead_code)] // read through `Debug` in failure messages
    Io(std::io::ErrorKind),
}

fn failure(e: std::io::Error) -> Failure {
    TlsError::from_io(&e).map_or(Failure::Io(e.kind()), Failure::Tls)
}

/// Dials `addr`, handshakes as if `host` had been dialled, sends `request` at `version` and
/// decodes the answer.
async fn round_trip<R: Request>(
    tls: &TlsConfig,
    host: &str,
    addr: SocketAddr,
    request: R,
    version: i16,
) -> Result<R::Response, Failure> {
    let connector = tls.connector().map_err(Failure::Tls)?;
    let name = tls.server_name(host).map_err(Failure::Tls)?;
    let tcp = TcpStream::connect(addr).await.map_err(failure)?;
    let mut stream = connector.connect(name, tcp).await.map_err(failure)?;

    let header = RequestHeader {
        request_api_key: R::API_KEY.code(),
        request_api_version: version,
        correlation_id: 7,
        client_id: Some("gregor-tls-test".into()),
        ..RequestHeader::default()
    };
    let mut out = BytesMut::new();
    write_frame(&mut out, |buf| {
        header.encode(buf, R::request_header_version(version))?;
        request.encode(buf, version)
    })
    .expect("encode request");
    stream.write_all(&out).await.map_err(failure)?;
    stream.flush().await.map_err(failure)?;

    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.map_err(failure)?;
    let len = usize::try_from(i32::from_be_bytes(len)).expect("non-negative frame length");
    assert!(len < 1 << 20, "response of {len} bytes");
    let mut frame = vec![0u8; len];
    stream.read_exact(&mut frame).await.map_err(failure)?;
    let (header, body) =
        split_response_header(Bytes::from(frame), R::response_header_version(version))
            .expect("response header");
    assert_eq!(header.correlation_id, 7);
    Ok(R::Response::decode_exact(body, version).expect("response body"))
}

/// ApiVersions v0 through the TLS broker.
async fn exchange(
    tls: &TlsConfig,
    host: &str,
    broker: &TlsBroker,
) -> Result<ApiVersionsResponse, Failure> {
    let request = round_trip(tls, host, broker.addr(), ApiVersionsRequest::default(), 0);
    tokio::time::timeout(Duration::from_secs(20), request)
        .await
        .expect("exchange finishes")
}

fn assert_answered(r: Result<ApiVersionsResponse, Failure>) {
    let versions = r.expect("ApiVersions answered over TLS");
    assert_eq!(versions.error_code, 0);
    // Produce (0), Metadata (3) and ApiVersions (18) are served by any broker.
    for key in [0, 3, 18] {
        assert!(
            versions.api_keys.iter().any(|k| k.api_key == key),
            "api key {key} listed"
        );
    }
}

fn certificate_error(r: Result<ApiVersionsResponse, Failure>) -> CertificateError {
    match r {
        Err(Failure::Tls(TlsError::Handshake(rustls::Error::InvalidCertificate(e)))) => e,
        other => panic!("expected a rejected certificate, got {other:?}"),
    }
}

/// The server refused the client with one of `alerts` (TLS 1.3 checks the client
/// certificate after the client's side of the handshake is complete, so the alert may arrive on
/// the first read rather than during `connect`).
fn assert_refused_by_server(r: Result<ApiVersionsResponse, Failure>, alerts: &[AlertDescription]) {
    match r {
        Err(Failure::Tls(TlsError::Handshake(rustls::Error::AlertReceived(alert)))) => {
            assert!(
                alerts.contains(&alert),
                "alert {alert:?}, expected one of {alerts:?}"
            );
        }
        other => panic!("expected the server to refuse the client with an alert, got {other:?}"),
    }
}

fn start(pki: &TestPki, options: TlsBrokerOptions) -> TlsBroker {
    TlsBroker::start(pki, options).expect("TLS broker starts (needs tansu and stunnel4)")
}

#[tokio::test]
async fn ca_file_trust_reaches_the_broker() {
    let pki = TestPki::generate().unwrap();
    let broker = start(&pki, TlsBrokerOptions::default());
    let tls = TlsConfig::new().with_roots(TrustRoots::ca_file(broker.files().ca_cert()));
    assert_eq!(tls.roots, TrustRoots::ca_file(broker.files().ca_cert()));
    assert!(tls.verify_hostname);
    // By name (DNS SAN) and by IP literal (IP SAN).
    assert_answered(exchange(&tls, "localhost", &broker).await);
    assert_answered(exchange(&tls, "127.0.0.1", &broker).await);

    // The broker advertises the TLS address, so clients that follow metadata stay on TLS.
    let metadata = tokio::time::timeout(
        Duration::from_secs(20),
        round_trip(
            &tls,
            "localhost",
            broker.addr(),
            MetadataRequest::all_topics(1),
            1,
        ),
    )
    .await
    .expect("metadata finishes")
    .expect("Metadata answered over TLS");
    assert!(
        metadata
            .brokers
            .iter()
            .any(|b| b.host == "localhost" && b.port == i32::from(broker.port())),
        "advertised brokers: {:?}",
        metadata.brokers
    );
}

#[tokio::test]
async fn untrusted_ca_is_rejected() {
    let pki = TestPki::generate().unwrap();
    let broker = start(&pki, TlsBrokerOptions::default());
    let other = TrustRoots::ca_file(broker.files().other_ca_cert());
    let tls = TlsConfig::new().with_roots(other.clone());
    assert_eq!(
        certificate_error(exchange(&tls, "localhost", &broker).await),
        CertificateError::UnknownIssuer
    );
    // Public roots do not vouch for a private CA either.
    assert_eq!(
        certificate_error(exchange(&TlsConfig::new(), "localhost", &broker).await),
        CertificateError::UnknownIssuer
    );
    // Turning host name verification off does not turn chain verification off.
    let lax = TlsConfig::new()
        .with_roots(other)
        .with_verify_hostname(false);
    assert_eq!(
        certificate_error(exchange(&lax, "localhost", &broker).await),
        CertificateError::UnknownIssuer
    );
}

#[tokio::test]
async fn hostname_mismatch_is_rejected_unless_verification_is_off() {
    let pki = TestPki::generate().unwrap();
    let broker = start(
        &pki,
        TlsBrokerOptions::default().identity(ServerIdentity::Mismatched),
    );
    let roots = TrustRoots::ca_file(broker.files().ca_cert());
    let strict = TlsConfig::new().with_roots(roots.clone());
    for host in ["localhost", "127.0.0.1"] {
        let err = certificate_error(exchange(&strict, host, &broker).await);
        assert!(
            matches!(
                err,
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ),
            "{host}: {err:?}"
        );
    }
    let lax = TlsConfig::new()
        .with_roots(roots)
        .with_verify_hostname(false);
    assert_answered(exchange(&lax, "localhost", &broker).await);
    assert_answered(exchange(&lax, "127.0.0.1", &broker).await);
}

#[tokio::test]
async fn mutual_tls_requires_a_certificate_from_the_trusted_ca() {
    let pki = TestPki::generate().unwrap();
    let broker = start(&pki, TlsBrokerOptions::default().require_client_cert(true));
    let files = broker.files();
    let base = TlsConfig::new().with_roots(TrustRoots::ca_file(files.ca_cert()));

    let with_cert = base
        .clone()
        .with_client_certificate(ClientCertificate::from_files(
            files.client_cert(),
            files.client_key(),
        ));
    assert_answered(exchange(&with_cert, "localhost", &broker).await);

    // TLS 1.3 says certificate_required; TLS 1.2 servers say handshake_failure.
    assert_refused_by_server(
        exchange(&base, "localhost", &broker).await,
        &[
            AlertDescription::CertificateRequired,
            AlertDescription::HandshakeFailure,
        ],
    );

    let intruder = base.with_client_certificate(ClientCertificate::from_files(
        files.other_client_cert(),
        files.other_client_key(),
    ));
    assert_refused_by_server(
        exchange(&intruder, "localhost", &broker).await,
        &[AlertDescription::UnknownCA],
    );
}
