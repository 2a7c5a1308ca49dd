//! gregor's client against the MockCluster's TLS and SASL listeners: TLS, SASL_PLAINTEXT with
//! each mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), SASL_SSL; wrong passwords and
//! unauthenticated requests fail the way Kafka fails them.

mod cluster_support;

use std::time::Duration;

use cluster_support::config;
use gregor_client::config::SecurityProtocol;
use gregor_client::sasl::{PlainConfig, SaslConfig, ScramConfig, ScramHash};
use gregor_client::tls::{TlsConfig, TrustRoots};
use gregor_client::{Client, ClientError, ConnectOptions, Connection};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::MetadataRequest;
use gregor_testkit::certs::TestPki;
use gregor_testkit::data::within;
use gregor_testkit::mock::{MockCluster, MockClusterBuilder, MockSasl, SaslMechanism};

const USER: &str = "alice";
const PASSWORD: &str = "alice-secret";

fn sasl_cluster(mechanisms: &[SaslMechanism]) -> MockClusterBuilder {
    MockCluster::builder()
        .brokers(2)
        .topic("secured", 2)
        .sasl(MockSasl::new(mechanisms.iter().copied()).user(USER, PASSWORD))
}

fn tls_for(pki: &TestPki) -> TlsConfig {
    TlsConfig::new().with_roots(TrustRoots::ca_pem(pki.ca_cert_pem.clone()))
}

/// Connects a client and checks that it sees both brokers and the topic's two partitions
/// (which takes Metadata on an authenticated connection).
async fn connects(cluster: &MockCluster, builder: gregor_client::config::ClientConfigBuilder) {
    let client = within("client connects", Client::connect(builder.build().unwrap()))
        .await
        .expect("the client connects");
    let snapshot = within(
        "metadata",
        client.refresh_metadata(Some(&["secured".to_owned()])),
    )
    .await
    .expect("Metadata answered");
    assert_eq!(snapshot.partition_count("secured"), Some(2));
    assert_eq!(snapshot.brokers().len(), cluster.addresses().len());
    let leader = within("leader", client.leader("secured", 1)).await;
    assert!(leader.is_ok(), "{leader:?}");
}

fn scram(hash: ScramHash, password: &str) -> SaslConfig {
    ScramConfig::new(hash, USER, password).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_over_tls() {
    let pki = TestPki::generate().unwrap();
    let cluster = MockCluster::builder()
        .brokers(2)
        .topic("secured", 2)
        .tls(pki.server_config().unwrap())
        .start()
        .await
        .unwrap();
    let builder = config(&cluster.bootstrap())
        .security_protocol(SecurityProtocol::Ssl)
        .tls(tls_for(&pki));
    connects(&cluster, builder).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_client_gets_nowhere_on_a_tls_listener() {
    let pki = TestPki::generate().unwrap();
    let cluster = MockCluster::builder()
        .tls(pki.server_config().unwrap())
        .start()
        .await
        .unwrap();
    let opts = ConnectOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
        ..ConnectOptions::default()
    };
    let result = within(
        "plaintext handshake",
        Connection::connect(&cluster.bootstrap(), &opts),
    )
    .await;
    assert!(result.is_err(), "ApiVersions in plaintext must not succeed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_over_sasl_with_each_mechanism() {
    let cluster = sasl_cluster(&SaslMechanism::ALL).start().await.unwrap();
    let mechanisms: [SaslConfig; 3] = [
        PlainConfig::new(USER, PASSWORD).into(),
        scram(ScramHash::Sha256, PASSWORD),
        scram(ScramHash::Sha512, PASSWORD),
    ];
    for sasl in mechanisms {
        let builder = config(&cluster.bootstrap())
            .security_protocol(SecurityProtocol::SaslPlaintext)
            .sasl(sasl);
        connects(&cluster, builder).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_over_sasl_ssl() {
    let pki = TestPki::generate().unwrap();
    let cluster = sasl_cluster(&[SaslMechanism::ScramSha512, SaslMechanism::Plain])
        .tls(pki.server_config().unwrap())
        .start()
        .await
        .unwrap();
    for sasl in [
        scram(ScramHash::Sha512, PASSWORD),
        PlainConfig::new(USER, PASSWORD).into(),
    ] {
        let builder = config(&cluster.bootstrap())
            .security_protocol(SecurityProtocol::SaslSsl)
            .tls(tls_for(&pki))
            .sasl(sasl);
        connects(&cluster, builder).await;
    }
}

async fn connect_with(cluster: &MockCluster, sasl: SaslConfig) -> Result<Connection, ClientError> {
    let opts = ConnectOptions {
        sasl: Some(sasl),
        ..ConnectOptions::default()
    };
    let first = cluster.bootstrap();
    let first = first.split(',').next().unwrap().to_owned();
    within("SASL handshake", Connection::connect(&first, &opts)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_with_the_sasl_authentication_error() {
    let cluster = sasl_cluster(&SaslMechanism::ALL).start().await.unwrap();
    for sasl in [
        PlainConfig::new(USER, "wrong").into(),
        scram(ScramHash::Sha256, "wrong"),
        scram(ScramHash::Sha512, "wrong"),
        PlainConfig::new("mallory", PASSWORD).into(),
    ] {
        let mechanism = sasl.mechanism();
        match connect_with(&cluster, sasl).await {
            Err(ClientError::SaslAuthentication { code, message }) => {
                assert_eq!(code, ErrorCode::SaslAuthenticationFailed, "{mechanism}");
                // Kafka's messages (client/tests/kafka_security.rs measures them).
                let expected = if mechanism == gregor_client::sasl::SaslMechanism::Plain {
                    "Authentication failed: Invalid username or password".to_owned()
                } else {
                    format!(
                        "Authentication failed during authentication due to invalid \
                         credentials with SASL mechanism {mechanism}"
                    )
                };
                assert_eq!(message.as_deref(), Some(expected.as_str()), "{mechanism}");
            }
            other => panic!("{mechanism}: expected SaslAuthentication, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_mechanism_is_refused_with_the_enabled_ones() {
    let cluster = sasl_cluster(&[SaslMechanism::ScramSha256])
        .start()
        .await
        .unwrap();
    match connect_with(&cluster, PlainConfig::new(USER, PASSWORD).into()).await {
        Err(ClientError::SaslMechanismRejected { code, enabled, .. }) => {
            assert_eq!(code, ErrorCode::UnsupportedSaslMechanism);
            assert_eq!(enabled, ["SCRAM-SHA-256"]);
        }
        other => panic!("expected SaslMechanismRejected, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_before_authentication_close_the_connection() {
    let cluster = sasl_cluster(&[SaslMechanism::Plain]).start().await.unwrap();
    let first = cluster.bootstrap();
    let first = first.split(',').next().unwrap().to_owned();
    // ApiVersions is answered before authentication; Metadata is not.
    let conn = within(
        "handshake without SASL",
        Connection::connect(&first, &ConnectOptions::default()),
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
