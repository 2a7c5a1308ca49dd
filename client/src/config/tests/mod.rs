//! Property parsing and build-time checks of the client and producer configurations.

mod client;
mod producer;

use std::path::PathBuf;
use std::time::Duration;

use gregor_protocol::compression::Compression;

use super::*;
use crate::sasl::SaslMechanism;
use crate::tls::TrustRoots;

pub(super) const BOOT: (&str, &str) = ("bootstrap.servers", "localhost:9092");

pub(super) fn client(props: &[(&str, &str)]) -> Result<ClientConfig, ConfigError> {
    ClientConfig::from_properties([BOOT].iter().chain(props).copied())
}

pub(super) fn producer(props: &[(&str, &str)]) -> Result<ProducerConfig, ConfigError> {
    ProducerConfig::from_properties([BOOT].iter().chain(props).copied()).map(|(_, p)| p)
}

pub(super) fn invalid(key: &str) -> impl Fn(&ConfigError) -> bool + '_ {
    move |e| matches!(e, ConfigError::InvalidValue { key: k, .. } if k == key)
}

#[track_caller]
pub(super) fn assert_invalid<T: std::fmt::Debug>(r: Result<T, ConfigError>, key: &str) {
    let e = r.expect_err("an invalid value is rejected");
    assert!(
        invalid(key)(&e),
        "expected InvalidValue for {key}, got {e:?}"
    );
}

#[track_caller]
pub(super) fn assert_missing<T: std::fmt::Debug>(r: Result<T, ConfigError>, key: &str) {
    match r {
        Err(ConfigError::Missing { key: k, .. }) if k == key => {}
        other => panic!("expected Missing {key}, got {other:?}"),
    }
}

/// A valid sample value for every listed key: the key lists and the parser agree.
#[test]
fn every_listed_key_is_accepted() {
    let sample = |key: &str| -> &'static str {
        match key {
            "bootstrap.servers" => "h:1",
            "security.protocol" => "SSL",
            "ssl.truststore.type" => "PEM",
            "ssl.endpoint.identification.algorithm" => "https",
            "ssl.key.password" => "",
            "sasl.mechanism" | "sasl.mechanisms" => "PLAIN",
            "sasl.jaas.config" => "PlainLoginModule required username=u password=p;",
            "acks" => "all",
            "compression.type" => "lz4",
            "enable.idempotence" => "true",
            "partitioner.class" => "DefaultPartitioner",
            "partitioner" => "murmur2_random",
            k if k.ends_with(".location") => "/x.pem",
            k if k.contains(".ms") => "1000",
            _ => "1",
        }
    };
    let mut c = ClientConfigBuilder::default();
    for key in CLIENT_KEYS {
        c.set(key, sample(key))
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert!(!PRODUCER_KEYS.contains(key));
    }
    let mut p = ProducerConfigBuilder::new();
    for key in PRODUCER_KEYS {
        p.set(key, sample(key))
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    // The producer's builder takes only producer keys; a properties map takes both.
    for key in CLIENT_KEYS {
        assert_eq!(
            p.set(key, sample(key)),
            Err(ConfigError::UnknownKey(key.to_string()))
        );
    }
    let all = CLIENT_KEYS
        .iter()
        .chain(PRODUCER_KEYS)
        .map(|k| (*k, sample(k)));
    ProducerConfigBuilder::from_properties(all).unwrap();
}

/// A producer properties map is split: connection keys configure the client, producer keys
/// the producer.
#[test]
fn producer_properties_split_between_client_and_producer() {
    let (client, producer) = ProducerConfig::from_properties([
        ("bootstrap.servers", "a:1,b:2"),
        ("client.id", "orders"),
        ("request.timeout.ms", "5000"),
        ("retry.backoff.ms", "7"),
        ("acks", "1"),
        ("linger.ms", "20"),
    ])
    .unwrap();
    assert_eq!(client.bootstrap_servers().len(), 2);
    assert_eq!(client.request_timeout(), Duration::from_millis(5000));
    assert_eq!(client.retry_backoff(), Duration::from_millis(7));
    assert_eq!(producer.acks(), Acks::Leader);
    assert_eq!(producer.linger(), Duration::from_millis(20));
    assert_eq!(
        producer.delivery_timeout_for(client.request_timeout()),
        Ok(Duration::from_secs(120))
    );
    assert!(matches!(
        ProducerConfig::from_properties([BOOT, ("no.such.key", "1")]),
        Err(ConfigError::UnknownKey(k)) if k == "no.such.key"
    ));
}

#[test]
fn typed_builders() {
    let tls =
        crate::tls::TlsConfig::new().with_roots(TrustRoots::ca_file(PathBuf::from("/ca.pem")));
    let client = ClientConfig::builder()
        .bootstrap_servers(["a:1,b:2", "c:3"])
        .client_id("svc")
        .security_protocol(SecurityProtocol::SaslSsl)
        .tls(tls.clone())
        .sasl(crate::sasl::PlainConfig::new("u", "p"))
        .request_timeout(Duration::from_secs(5))
        .connections_max_idle(None)
        .max_response_frame(1 << 20);
    let p = ProducerConfig::builder()
        .acks(Acks::Leader)
        .compression(Compression::Zstd)
        .linger(Duration::ZERO)
        .partitioner(Partitioner::RoundRobin)
        .build()
        .unwrap();
    let c = client.build().unwrap();
    assert_eq!(c.bootstrap_servers().len(), 3);
    assert_eq!(c.tls(), Some(&tls));
    assert_eq!(c.sasl().unwrap().mechanism(), SaslMechanism::Plain);
    assert_eq!(c.max_response_frame(), 1 << 20);
    assert_eq!(c.connections_max_idle(), None);
    assert!(!p.idempotence());
    assert_eq!(p.delivery_timeout(), None);
    assert_eq!(
        p.delivery_timeout_for(c.request_timeout()),
        Ok(Duration::from_secs(120))
    );
    assert_invalid(
        ClientConfig::builder()
            .bootstrap_servers(["a:1"])
            .max_response_frame(0)
            .build(),
        "max_response_frame",
    );
}
