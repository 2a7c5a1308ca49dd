//! gregor's client against Apache Kafka's own TLS and SASL listeners: the shared broker's SSL
//! listener (trust in the test CA, the broker's name checked as `127.0.0.1` and `localhost`,
//! an untrusted CA and a name the certificate lacks rejected), mutual TLS on a cluster of its
//! own that requires client certificates, and SASL_PLAINTEXT and SASL_SSL with PLAIN,
//! SCRAM-SHA-256 and SCRAM-SHA-512 (Metadata, then a topic created, produced to and fetched
//! on authenticated connections). Wrong credentials, a disabled mechanism and requests before
//! authentication fail the way Kafka fails them.
//!
//! Runs when Kafka is among the broker kinds (`GREGOR_TEST_BROKERS`, else every kind that can
//! start here); needs `.ci/install-kafka.sh` and Java 17+.

mod cluster_support;
mod producer_support;

use std::sync::Arc;

use cluster_support::config;
use gregor_client::config::{ClientConfigBuilder, SecurityProtocol};
use gregor_client::sasl::{
    OAuthBearerConfig, OAuthToken, PlainConfig, SaslConfig, SaslMechanism, ScramConfig, ScramHash,
};
use gregor_client::tls::{ClientCertificate, TlsConfig, TlsError, TrustRoots};
use gregor_client::{Client, ClientError, ConnectOptions, Connection, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::MetadataRequest;
use gregor_testkit::BrokerKind;
use gregor_testkit::certs::TestPki;
use gregor_testkit::data::{create_topic, produce, unique_name, within};
use gregor_testkit::kafka::{KafkaCluster, KafkaOptions, Listener, SASL_PASSWORD, SASL_USER};
use rustls::{AlertDescription, CertificateError};

/// The shared Kafka broker, or `None` (said on stderr) when Kafka is not among the kinds.
async fn kafka() -> Option<&'static KafkaCluster> {
    if !BrokerKind::from_env().contains(&BrokerKind::Kafka) {
        eprintln!("skipped: Kafka is not among the broker kinds here");
        return None;
    }
    let kafka = tokio::task::spawn_blocking(KafkaCluster::shared)
        .await
        .unwrap()
        .expect("the shared Kafka broker starts");
    Some(kafka)
}

/// `host:port` of `kafka`'s node 1 `listener`.
fn address(kafka: &KafkaCluster, host: &str, listener: Listener) -> String {
    let addr = kafka.addr(1, listener).expect("the listener is open");
    format!("{host}:{}", addr.port())
}

fn pki(kafka: &KafkaCluster) -> &TestPki {
    kafka.pki().expect("the cluster has TLS listeners")
}

fn trusting(pki: &TestPki) -> TlsConfig {
    TlsConfig::new().with_roots(TrustRoots::ca_pem(pki.ca_cert_pem.clone()))
}

fn mechanisms(password: &str) -> [SaslConfig; 3] {
    [
        PlainConfig::new(SASL_USER, password).into(),
        ScramConfig::new(ScramHash::Sha256, SASL_USER, password).into(),
        ScramConfig::new(ScramHash::Sha512, SASL_USER, password).into(),
    ]
}

/// Connects a client with `builder` (bootstrapping from `listener`) and checks what it can do
/// there: Metadata names the broker at the listener's port (Kafka answers with the endpoints
/// of the listener asked), and a topic is created, produced to and fetched from.
async fn round_trip(kafka: &KafkaCluster, listener: Listener, builder: ClientConfigBuilder) {
    let client = within(
        "the client connects",
        Client::connect(builder.build().unwrap()),
    )
    .await
    .unwrap_or_else(|e| panic!("{listener:?}: the client connects: {e}"));
    let snapshot = within("Metadata", client.refresh_metadata(None))
        .await
        .expect("Metadata answered");
    let port = kafka.addr(1, listener).unwrap().port();
    let brokers: Vec<_> = snapshot.brokers().iter().map(|b| (b.id, b.port)).collect();
    assert_eq!(
        brokers,
        [(1, port)],
        "{listener:?}: the listener's endpoint"
    );

    let topic = unique_name("secured");
    create_topic(&client, &topic, 1).await;
    let values = ["first", "second", "third"];
    assert_eq!(produce(&client, &topic, 0, &values, 2).await, 0);
    let (leader, _) = client.leader(&topic, 0).await.expect("a leader");
    let conn = client
        .connection(leader, Purpose::Fetch)
        .await
        .expect("a fetch connection");
    let fetched: Vec<Vec<u8>> = within("Fetch", producer_support::fetch_records(&conn, &topic, 0))
        .await
        .into_iter()
        .map(|r| r.value.expect("a value").to_vec())
        .collect();
    let expected: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
    assert_eq!(fetched, expected, "{listener:?}");
}

/// The rustls error behind a failed connection ([`ClientError::Tls`] carries it in a
/// [`TlsError`]).
fn rustls_error(error: &ClientError) -> Option<rustls::Error> {
    match error {
        ClientError::Tls {
            source: Some(source),
            ..
        } => source
            .downcast_ref::<TlsError>()
            .and_then(TlsError::rustls_error)
            .cloned(),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_over_ssl_checking_the_broker_name() {
    let Some(kafka) = kafka().await else { return };
    // By IP literal (the certificate's IP SAN) and by name (its DNS SAN); Kafka advertises
    // 127.0.0.1, so the connections after bootstrap check the IP.
    for host in ["127.0.0.1", "localhost"] {
        let builder = config(&address(kafka, host, Listener::Ssl))
            .security_protocol(SecurityProtocol::Ssl)
            .tls(trusting(pki(kafka)));
        round_trip(kafka, Listener::Ssl, builder).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_ca_is_rejected() {
    let Some(kafka) = kafka().await else { return };
    let other = TrustRoots::ca_pem(pki(kafka).other_ca_cert_pem.clone());
    for tls in [
        TlsConfig::new().with_roots(other.clone()),
        // Public roots do not vouch for a private CA.
        TlsConfig::new(),
        // Turning the name check off leaves the chain check on.
        TlsConfig::new()
            .with_roots(other)
            .with_verify_hostname(false),
    ] {
        let builder = config(&address(kafka, "127.0.0.1", Listener::Ssl))
            .security_protocol(SecurityProtocol::Ssl)
            .tls(tls);
        let error = within("connect", Client::connect(builder.build().unwrap()))
            .await
            .expect_err("an untrusted broker certificate");
        assert!(matches!(error, ClientError::Tls { .. }), "{error}");
        assert_eq!(
            rustls_error(&error),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            )),
            "{error}"
        );
    }
}

/// A TLS handshake with Kafka's SSL listener as if `name` had been dialled.
async fn handshake(kafka: &KafkaCluster, tls: &TlsConfig, name: &str) -> Result<(), TlsError> {
    let connector = tls.connector()?;
    let server_name = tls.server_name(name)?;
    let tcp = tokio::net::TcpStream::connect(kafka.addr(1, Listener::Ssl).unwrap())
        .await
        .expect("TCP connect");
    within("TLS handshake", connector.connect(server_name, tcp))
        .await
        .map(drop)
        .map_err(|e| TlsError::from_io(&e).unwrap_or_else(|| panic!("not a TLS error: {e}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_the_certificate_lacks_is_rejected_unless_the_check_is_off() {
    let Some(kafka) = kafka().await else { return };
    let strict = trusting(pki(kafka));
    for name in ["127.0.0.1", "localhost"] {
        let result = handshake(kafka, &strict, name).await;
        assert!(result.is_ok(), "{name}: {result:?}");
    }
    match handshake(kafka, &strict, "broker.invalid").await {
        Err(TlsError::Handshake(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ))) => {}
        other => panic!("expected a name mismatch, got {other:?}"),
    }
    let lax = strict.with_verify_hostname(false);
    let result = handshake(kafka, &lax, "broker.invalid").await;
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_client_gets_nowhere_on_the_ssl_listener() {
    let Some(kafka) = kafka().await else { return };
    let opts = ConnectOptions {
        connect_timeout: std::time::Duration::from_secs(5),
        request_timeout: std::time::Duration::from_secs(5),
        ..ConnectOptions::default()
    };
    let result = within(
        "plaintext handshake",
        Connection::connect(&address(kafka, "127.0.0.1", Listener::Ssl), &opts),
    )
    .await;
    assert!(result.is_err(), "ApiVersions in plaintext must not succeed");
}

/// The broker's refusal of a client: a TLS alert, which with TLS 1.3 comes after the client's
/// side of the handshake is done, with the first read (ApiVersions' answer).
fn refused_with(result: Result<Client, ClientError>, expected: AlertDescription, what: &str) {
    let error = result.expect_err(what);
    assert_eq!(
        rustls_error(&error),
        Some(rustls::Error::AlertReceived(expected)),
        "{what}: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_requires_a_client_certificate_from_the_trusted_ca() {
    if !BrokerKind::from_env().contains(&BrokerKind::Kafka) {
        eprintln!("skipped: Kafka is not among the broker kinds here");
        return;
    }
    let kafka = tokio::task::spawn_blocking(|| {
        KafkaCluster::start(KafkaOptions::single().require_client_cert(true))
    })
    .await
    .unwrap()
    .expect("an mTLS Kafka starts");
    let pki = pki(&kafka);
    let ssl = |tls: TlsConfig| {
        config(&address(&kafka, "127.0.0.1", Listener::Ssl))
            .security_protocol(SecurityProtocol::Ssl)
            .tls(tls)
    };
    let with_cert = trusting(pki).with_client_certificate(ClientCertificate::from_pem(
        pki.client_cert_pem.clone(),
        pki.client_key_pem.clone(),
    ));
    round_trip(&kafka, Listener::Ssl, ssl(with_cert)).await;
    // Kafka applies the broker-wide `ssl.client.auth` to SSL listeners only (SASL_SSL needs
    // the listener-prefixed setting): SASL_SSL takes a client without a certificate.
    let sasl_ssl = config(&address(&kafka, "127.0.0.1", Listener::SaslSsl))
        .security_protocol(SecurityProtocol::SaslSsl)
        .tls(trusting(pki))
        .sasl(ScramConfig::new(
            ScramHash::Sha512,
            SASL_USER,
            SASL_PASSWORD,
        ));
    round_trip(&kafka, Listener::SaslSsl, sasl_ssl).await;

    let without = within(
        "connect",
        Client::connect(ssl(trusting(pki)).build().unwrap()),
    )
    .await;
    // Java's TLS stack answers an empty certificate chain with bad_certificate (OpenSSL, and
    // the MockCluster's rustls, with TLS 1.3's certificate_required).
    refused_with(
        without,
        AlertDescription::BadCertificate,
        "no client certificate",
    );
    let intruder = trusting(pki).with_client_certificate(ClientCertificate::from_pem(
        pki.other_client_cert_pem.clone(),
        pki.other_client_key_pem.clone(),
    ));
    let intruding = within("connect", Client::connect(ssl(intruder).build().unwrap())).await;
    // Java: certificate_unknown for a chain its trust manager refuses (OpenSSL: unknown_ca).
    refused_with(
        intruding,
        AlertDescription::CertificateUnknown,
        "a client certificate from another CA",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plaintext_with_each_mechanism() {
    let Some(kafka) = kafka().await else { return };
    for sasl in mechanisms(SASL_PASSWORD) {
        let builder = config(&address(kafka, "127.0.0.1", Listener::SaslPlaintext))
            .security_protocol(SecurityProtocol::SaslPlaintext)
            .sasl(sasl);
        round_trip(kafka, Listener::SaslPlaintext, builder).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_with_each_mechanism() {
    let Some(kafka) = kafka().await else { return };
    for sasl in mechanisms(SASL_PASSWORD) {
        let builder = config(&address(kafka, "localhost", Listener::SaslSsl))
            .security_protocol(SecurityProtocol::SaslSsl)
            .tls(trusting(pki(kafka)))
            .sasl(sasl);
        round_trip(kafka, Listener::SaslSsl, builder).await;
    }
}

async fn connect_with(
    kafka: &KafkaCluster,
    listener: Listener,
    sasl: SaslConfig,
) -> Result<Connection, ClientError> {
    let tls = matches!(listener, Listener::SaslSsl).then(|| trusting(pki(kafka)));
    let opts = ConnectOptions {
        sasl: Some(sasl),
        tls,
        ..ConnectOptions::default()
    };
    within(
        "SASL handshake",
        Connection::connect(&address(kafka, "127.0.0.1", listener), &opts),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_with_the_sasl_authentication_error() {
    let Some(kafka) = kafka().await else { return };
    let mut attempts: Vec<(Listener, SaslConfig)> = mechanisms("wrong")
        .into_iter()
        .map(|sasl| (Listener::SaslPlaintext, sasl))
        .collect();
    attempts.push((
        Listener::SaslPlaintext,
        ScramConfig::new(ScramHash::Sha256, "mallory", SASL_PASSWORD).into(),
    ));
    attempts.push((
        Listener::SaslPlaintext,
        PlainConfig::new("mallory", SASL_PASSWORD).into(),
    ));
    attempts.push((
        Listener::SaslSsl,
        ScramConfig::new(ScramHash::Sha512, SASL_USER, "wrong").into(),
    ));
    for (listener, sasl) in attempts {
        let mechanism = sasl.mechanism();
        match connect_with(kafka, listener, sasl).await {
            Err(ClientError::SaslAuthentication { code, message }) => {
                assert_eq!(
                    code,
                    ErrorCode::SaslAuthenticationFailed,
                    "{listener:?} {mechanism}"
                );
                // PLAIN's own message; SCRAM fails with a plain SaslException (a wrong
                // password or an unknown user alike), which Kafka's authenticator words so.
                let expected = if mechanism == SaslMechanism::Plain {
                    "Authentication failed: Invalid username or password".to_owned()
                } else {
                    format!(
                        "Authentication failed during authentication due to invalid \
                         credentials with SASL mechanism {mechanism}"
                    )
                };
                assert_eq!(
                    message.as_deref(),
                    Some(expected.as_str()),
                    "{listener:?} {mechanism}"
                );
            }
            other => panic!("{listener:?} {mechanism}: expected SaslAuthentication, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_mechanism_is_refused_with_the_enabled_ones() {
    let Some(kafka) = kafka().await else { return };
    let oauth: SaslConfig = OAuthBearerConfig::new(Arc::new(OAuthToken::new("token"))).into();
    match connect_with(kafka, Listener::SaslPlaintext, oauth).await {
        Err(ClientError::SaslMechanismRejected {
            code, mut enabled, ..
        }) => {
            assert_eq!(code, ErrorCode::UnsupportedSaslMechanism);
            // Kafka lists them in an order of its own (measured: PLAIN, SCRAM-SHA-512,
            // SCRAM-SHA-256), not the configured one.
            enabled.sort();
            assert_eq!(enabled, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
        }
        other => panic!("expected SaslMechanismRejected, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_before_authentication_close_the_connection() {
    let Some(kafka) = kafka().await else { return };
    // ApiVersions is answered before authentication; Metadata is not.
    let conn = within(
        "handshake without SASL",
        Connection::connect(
            &address(kafka, "127.0.0.1", Listener::SaslPlaintext),
            &ConnectOptions::default(),
        ),
    )
    .await
    .expect("ApiVersions is answered");
    let result = within(
        "unauthenticated Metadata",
        conn.send(MetadataRequest::for_topics(["secured"])),
    )
    .await;
    assert!(result.is_err(), "{result:?}");
    assert!(conn.is_closed());
}
