//! Client properties.

use std::sync::Arc;
use std::time::Duration;

use gregor_protocol::compression::Compression;

use super::super::*;
use super::{BOOT, assert_invalid, assert_missing, client, producer};
use crate::sasl::{OAuthToken, SaslConfig, SaslMechanism, ScramHash};
use crate::tls::{ClientCertificate, TrustRoots};

#[test]
fn client_defaults() {
    let c = client(&[]).unwrap();
    assert_eq!(
        c.bootstrap_servers(),
        &[BrokerAddress::new("localhost", 9092)]
    );
    assert_eq!(c.client_id(), None);
    assert_eq!(c.security_protocol(), SecurityProtocol::Plaintext);
    assert!(c.tls().is_none());
    assert!(c.sasl().is_none());
    assert_eq!(c.request_timeout(), Duration::from_secs(30));
    assert_eq!(c.metadata_max_age(), Duration::from_secs(300));
    assert_eq!(c.reconnect_backoff(), Duration::from_millis(50));
    assert_eq!(c.reconnect_backoff_max(), Duration::from_secs(1));
    assert_eq!(c.retry_backoff(), Duration::from_millis(100));
    assert_eq!(c.connect_timeout(), Duration::from_secs(10));
    assert_eq!(c.connections_max_idle(), Some(Duration::from_secs(540)));
    assert_eq!(c.max_response_frame(), 100 * 1024 * 1024);
}

#[test]
fn producer_defaults() {
    let p = producer(&[]).unwrap();
    assert_eq!(p.acks(), Acks::All);
    assert_eq!(p.linger(), Duration::from_millis(5));
    assert_eq!(p.batch_size(), 16_384);
    assert_eq!(p.compression(), Compression::None);
    assert!(p.idempotence());
    assert_eq!(p.max_in_flight(), 5);
    assert_eq!(p.delivery_timeout(), None);
    let c = client(&[]).unwrap();
    assert_eq!(c.request_timeout(), Duration::from_secs(30));
    assert_eq!(
        p.delivery_timeout_for(c.request_timeout()),
        Ok(Duration::from_secs(120))
    );
    assert_eq!(p.retries(), i32::MAX as u32);
    assert_eq!(p.partitioner(), Partitioner::Murmur2);
    assert_eq!(p.buffer_memory(), 32 * 1024 * 1024);
    assert_eq!(p.max_request_size(), 1024 * 1024);
}

#[test]
fn bootstrap_servers() {
    let c = ClientConfig::from_properties([(
        "bootstrap.servers",
        " a:1, b.example.com:2,,[::1]:3 ,SSL://c:4,",
    )])
    .unwrap();
    let shown: Vec<String> = c
        .bootstrap_servers()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(shown, ["a:1", "b.example.com:2", "[::1]:3", "c:4"]);
    for bad in ["", " , ", "a", "a:1,b", "a:99999"] {
        assert_invalid(
            ClientConfig::from_properties([("bootstrap.servers", bad)]),
            "bootstrap.servers",
        );
    }
    assert_missing(
        ClientConfig::from_properties([("client.id", "x")]),
        "bootstrap.servers",
    );
    // The builder checks entries too.
    assert_invalid(
        ClientConfig::builder()
            .bootstrap_servers(["a:1", "nope"])
            .build(),
        "bootstrap.servers",
    );
}

#[test]
fn client_id() {
    assert_eq!(
        client(&[("client.id", "orders")]).unwrap().client_id(),
        Some("orders")
    );
    assert_eq!(client(&[("client.id", "")]).unwrap().client_id(), None);
}

#[test]
fn security_protocol() {
    for (value, p) in [
        ("PLAINTEXT", SecurityProtocol::Plaintext),
        ("ssl", SecurityProtocol::Ssl),
        ("SASL_plaintext", SecurityProtocol::SaslPlaintext),
        ("SASL_SSL", SecurityProtocol::SaslSsl),
    ] {
        let c = client(&[
            ("security.protocol", value),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
        ])
        .unwrap();
        assert_eq!(c.security_protocol(), p);
        assert_eq!(c.tls().is_some(), p.uses_tls(), "{value}");
        assert_eq!(c.sasl().is_some(), p.uses_sasl(), "{value}");
        assert_eq!(SecurityProtocol::from_name(p.name()), Some(p));
    }
    assert_invalid(client(&[("security.protocol", "TLS")]), "security.protocol");
}

fn tls_of(props: &[(&str, &str)]) -> Result<crate::tls::TlsConfig, ConfigError> {
    let mut all = vec![("security.protocol", "SSL")];
    all.extend_from_slice(props);
    Ok(client(&all)?.tls().cloned().expect("SSL has TLS settings"))
}

#[test]
fn ssl_ca_location() {
    let tls = tls_of(&[("ssl.ca.location", "/etc/kafka/ca.pem")]).unwrap();
    assert_eq!(tls.roots, TrustRoots::ca_file("/etc/kafka/ca.pem"));
    assert_eq!(
        tls_of(&[("ssl.ca.location", "probe")]).unwrap().roots,
        TrustRoots::System
    );
    assert_eq!(tls_of(&[]).unwrap().roots, TrustRoots::WebPki);
    assert_invalid(tls_of(&[("ssl.ca.location", " ")]), "ssl.ca.location");
}

#[test]
fn ssl_truststore_only_as_pem() {
    let tls = tls_of(&[
        ("ssl.truststore.type", "pem"),
        ("ssl.truststore.location", "/etc/kafka/trust.pem"),
    ])
    .unwrap();
    assert_eq!(tls.roots, TrustRoots::ca_file("/etc/kafka/trust.pem"));
    // Java's default type is JKS.
    assert_invalid(
        tls_of(&[("ssl.truststore.location", "/etc/kafka/trust.jks")]),
        "ssl.truststore.location",
    );
    assert_invalid(
        tls_of(&[
            ("ssl.truststore.location", "/t.p12"),
            ("ssl.truststore.type", "PKCS12"),
        ]),
        "ssl.truststore.location",
    );
    assert_invalid(
        tls_of(&[
            ("ssl.truststore.location", "/t.pem"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.ca.location", "/ca.pem"),
        ]),
        "ssl.truststore.location",
    );
    assert_invalid(
        tls_of(&[("ssl.truststore.type", "BKS")]),
        "ssl.truststore.type",
    );
    // A type without a location changes nothing.
    assert_eq!(
        tls_of(&[("ssl.truststore.type", "JKS")]).unwrap().roots,
        TrustRoots::WebPki
    );
}

#[test]
fn ssl_client_certificate() {
    let tls = tls_of(&[
        ("ssl.certificate.location", "/c.pem"),
        ("ssl.key.location", "/c.key"),
    ])
    .unwrap();
    assert_eq!(
        tls.client_certificate,
        Some(ClientCertificate::from_files("/c.pem", "/c.key"))
    );
    assert_missing(
        tls_of(&[("ssl.certificate.location", "/c.pem")]),
        "ssl.key.location",
    );
    assert_missing(
        tls_of(&[("ssl.key.location", "/c.key")]),
        "ssl.certificate.location",
    );
    assert_invalid(tls_of(&[("ssl.key.location", "")]), "ssl.key.location");
    assert_invalid(
        tls_of(&[("ssl.certificate.location", "")]),
        "ssl.certificate.location",
    );
}

#[test]
fn ssl_key_password_is_refused_unless_empty() {
    assert_invalid(
        tls_of(&[("ssl.key.password", "secret")]),
        "ssl.key.password",
    );
    tls_of(&[("ssl.key.password", "")]).unwrap();
}

#[test]
fn ssl_endpoint_identification() {
    let key = "ssl.endpoint.identification.algorithm";
    assert!(tls_of(&[]).unwrap().verify_hostname);
    assert!(tls_of(&[(key, "HTTPS")]).unwrap().verify_hostname);
    assert!(!tls_of(&[(key, "")]).unwrap().verify_hostname);
    assert!(!tls_of(&[(key, "none")]).unwrap().verify_hostname);
    assert_invalid(tls_of(&[(key, "http")]), key);
}

fn sasl_of(props: &[(&str, &str)]) -> Result<SaslConfig, ConfigError> {
    let mut all = vec![("security.protocol", "SASL_SSL")];
    all.extend_from_slice(props);
    Ok(client(&all)?
        .sasl()
        .cloned()
        .expect("SASL_SSL has SASL settings"))
}

#[test]
fn sasl_mechanism_and_credentials() {
    for key in ["sasl.mechanism", "sasl.mechanisms"] {
        for (value, m) in [
            ("PLAIN", SaslMechanism::Plain),
            ("scram-sha-256", SaslMechanism::ScramSha256),
            ("SCRAM-SHA-512", SaslMechanism::ScramSha512),
        ] {
            let s =
                sasl_of(&[(key, value), ("sasl.username", "u"), ("sasl.password", "p")]).unwrap();
            assert_eq!(s.mechanism(), m, "{key}={value}");
        }
        assert_invalid(sasl_of(&[(key, "GSSAPI")]), key);
        assert_invalid(sasl_of(&[(key, "DIGEST-MD5")]), key);
    }
    match sasl_of(&[
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "alice"),
        ("sasl.password", "pw"),
    ])
    .unwrap()
    {
        SaslConfig::Plain(p) => assert_eq!(p.username(), "alice"),
        other => panic!("{other:?}"),
    }
    assert_missing(sasl_of(&[]), "sasl.mechanism");
    assert_missing(
        sasl_of(&[("sasl.mechanism", "PLAIN"), ("sasl.password", "p")]),
        "sasl.username",
    );
    assert_missing(
        sasl_of(&[("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.username", "u")]),
        "sasl.password",
    );
}

#[test]
fn sasl_jaas_config() {
    let jaas = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="tok" password="hmac" tokenauth=true;"#;
    match sasl_of(&[
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.jaas.config", jaas),
    ])
    .unwrap()
    {
        SaslConfig::Scram(s) => {
            assert_eq!(s.hash(), ScramHash::Sha512);
            assert_eq!(s.username(), "tok");
            assert!(s.token_auth());
        }
        other => panic!("{other:?}"),
    }
    // sasl.username wins over the JAAS user name.
    let plain = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b";"#;
    match sasl_of(&[
        ("sasl.jaas.config", plain),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "override"),
    ])
    .unwrap()
    {
        SaslConfig::Plain(p) => assert_eq!(p.username(), "override"),
        other => panic!("{other:?}"),
    }
    let e = sasl_of(&[("sasl.jaas.config", "PlainLoginModule required username=a")]).unwrap_err();
    assert_eq!(
        e,
        ConfigError::InvalidValue {
            key: "sasl.jaas.config".into(),
            reason: "entry not terminated by ';'"
        }
    );
}

#[test]
fn oauthbearer_needs_a_provider_from_code() {
    assert_missing(
        sasl_of(&[("sasl.mechanism", "OAUTHBEARER")]),
        "OAUTHBEARER token provider",
    );
    let mut b = ClientConfigBuilder::from_properties([
        BOOT,
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "OAUTHBEARER"),
    ])
    .unwrap();
    b = b.oauthbearer_token_provider(Arc::new(OAuthToken::new("eyJ.x.y")));
    let c = b.build().unwrap();
    assert_eq!(c.sasl().unwrap().mechanism(), SaslMechanism::OAuthBearer);
}

#[test]
fn sasl_ignored_without_a_sasl_protocol() {
    let c = client(&[("sasl.mechanism", "PLAIN")]).unwrap();
    assert!(c.sasl().is_none());
}

#[test]
fn durations() {
    type Get = fn(&ClientConfig) -> Duration;
    let cases: [(&str, Get); 6] = [
        ("request.timeout.ms", ClientConfig::request_timeout),
        ("metadata.max.age.ms", ClientConfig::metadata_max_age),
        ("reconnect.backoff.ms", ClientConfig::reconnect_backoff),
        (
            "reconnect.backoff.max.ms",
            ClientConfig::reconnect_backoff_max,
        ),
        ("retry.backoff.ms", ClientConfig::retry_backoff),
        (
            "socket.connection.setup.timeout.ms",
            ClientConfig::connect_timeout,
        ),
    ];
    for (key, get) in cases {
        // Both backoffs set so the cap does not interfere.
        let c = client(&[("reconnect.backoff.max.ms", "5000"), (key, " 1234 ")]).unwrap();
        assert_eq!(get(&c), Duration::from_millis(1234), "{key}");
        for bad in ["-1", "1.5", "10s", "", "99999999999999999999"] {
            assert_invalid(client(&[(key, bad)]), key);
        }
    }
    // request.timeout.ms is an INT in Kafka.
    assert_invalid(
        client(&[("request.timeout.ms", "2147483648")]),
        "request.timeout.ms",
    );
    assert_invalid(client(&[("request.timeout.ms", "0")]), "request.timeout.ms");
    assert_invalid(
        client(&[("socket.connection.setup.timeout.ms", "0")]),
        "socket.connection.setup.timeout.ms",
    );
}

#[test]
fn connections_max_idle() {
    let key = "connections.max.idle.ms";
    assert_eq!(
        client(&[(key, "60000")]).unwrap().connections_max_idle(),
        Some(Duration::from_secs(60))
    );
    assert_eq!(client(&[(key, "-1")]).unwrap().connections_max_idle(), None);
    assert_invalid(client(&[(key, "-2")]), key);
}

#[test]
fn reconnect_backoff_is_capped_by_its_maximum() {
    let c = client(&[
        ("reconnect.backoff.ms", "2000"),
        ("reconnect.backoff.max.ms", "500"),
    ])
    .unwrap();
    assert_eq!(c.reconnect_backoff(), Duration::from_millis(500));
    assert_eq!(c.reconnect_backoff_max(), Duration::from_millis(500));
}

#[test]
fn unknown_keys() {
    assert_eq!(
        client(&[("key.serializer", "x")]).unwrap_err(),
        ConfigError::UnknownKey("key.serializer".into())
    );
    // Producer keys are not client keys.
    assert_eq!(
        client(&[("acks", "1")]).unwrap_err(),
        ConfigError::UnknownKey("acks".into())
    );
    assert_eq!(
        producer(&[("group.id", "g")]).unwrap_err(),
        ConfigError::UnknownKey("group.id".into())
    );
    // Keys are case-sensitive, as in Kafka.
    assert!(matches!(
        client(&[("Client.Id", "x")]),
        Err(ConfigError::UnknownKey(_))
    ));
}

#[test]
fn errors_name_the_key_never_the_value() {
    let e = client(&[("request.timeout.ms", "hunter2")]).unwrap_err();
    assert_eq!(e.key(), "request.timeout.ms");
    let shown = e.to_string();
    assert!(
        shown.contains("request.timeout.ms") && !shown.contains("hunter2"),
        "{shown}"
    );
    let e = sasl_of(&[(
        "sasl.jaas.config",
        "PlainLoginModule required password=hunter2;",
    )])
    .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}
