//! Stream properties and the split of a consumer properties file.

use std::time::Duration;

use gregor_client::config::{CLIENT_KEYS, ConfigError, SecurityProtocol};

use super::*;
use crate::fetch::IsolationLevel;
use crate::fetch::config::{FETCH_KEYS, MEMORY_BUDGET_KEY};

fn topics() -> ConsumerStrategy {
    ConsumerStrategy::subscribe(["t"])
}

fn stream(props: &[(&str, &str)]) -> Result<DirectStreamConfig, ConfigError> {
    DirectStreamConfig::from_properties(topics(), props.iter().copied())
}

fn split(props: &[(&str, &str)]) -> Result<ConsumerProperties, ConfigError> {
    ConsumerProperties::parse(topics(), props.iter().copied())
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(r: Result<T, ConfigError>, key: &str) {
    match r {
        Err(ConfigError::InvalidValue { key: k, .. }) if k == key => {}
        other => panic!("expected InvalidValue for {key}, got {other:?}"),
    }
}

#[track_caller]
fn assert_unknown<T: std::fmt::Debug>(r: Result<T, ConfigError>, key: &str) {
    match r {
        Err(ConfigError::UnknownKey(k)) if k == key => {}
        other => panic!("expected UnknownKey {key}, got {other:?}"),
    }
}

#[test]
fn no_properties_keep_the_defaults() {
    let c = stream(&[]).unwrap();
    let d = DirectStreamConfig::new(topics());
    assert_eq!(c.starting, d.starting);
    assert_eq!(c.new_partitions, d.new_partitions);
    assert_eq!(c.batch_interval, d.batch_interval);
    assert_eq!(c.on_data_loss, d.on_data_loss);
    assert!(c.backpressure.is_none());
    assert!(
        matches!(c.strategy, ConsumerStrategy::Subscribe { ref topics, .. } if topics == &["t"])
    );
}

#[test]
fn the_lists_do_not_overlap() {
    let lists: [(&str, &[&str]); 5] = [
        ("client", CLIENT_KEYS),
        ("fetch", FETCH_KEYS),
        ("stream", STREAM_KEYS),
        ("group", &[GROUP_ID_KEY]),
        ("ignored", IGNORED_CONSUMER_KEYS),
    ];
    for (i, (a, keys_a)) in lists.iter().enumerate() {
        for (b, keys_b) in &lists[i + 1..] {
            for key in *keys_a {
                assert!(!keys_b.contains(key), "{key} is both a {a} and a {b} key");
            }
        }
    }
}

#[test]
fn auto_offset_reset_sets_where_partitions_at_start_begin() {
    let key = "auto.offset.reset";
    for (value, starting) in [
        ("earliest", StartingOffsets::Earliest),
        ("smallest", StartingOffsets::Earliest),
        ("beginning", StartingOffsets::Earliest),
        ("LATEST", StartingOffsets::Latest),
        ("largest", StartingOffsets::Latest),
        ("end", StartingOffsets::Latest),
        (" none ", StartingOffsets::Fail),
    ] {
        let c = stream(&[(key, value)]).unwrap();
        assert_eq!(c.starting, starting, "{value}");
        // Partitions appearing later still start at their beginning, and deleted offsets
        // still fail.
        assert_eq!(c.new_partitions, StartingOffsets::Earliest, "{value}");
        assert_eq!(c.on_data_loss, OnDataLoss::Fail, "{value}");
    }
    for bad in [
        "",
        "earliest,latest",
        "error",
        "by_duration:P1D",
        "BY_DURATION:PT1H",
        "by_durationé:",
    ] {
        assert_invalid(stream(&[(key, bad)]), key);
    }
}

#[test]
fn exclude_internal_topics_only_true() {
    let key = "exclude.internal.topics";
    stream(&[(key, "true")]).unwrap();
    assert_invalid(stream(&[(key, "false")]), key);
    assert_invalid(stream(&[(key, "no")]), key);
}

#[test]
fn fetch_keys_set_the_fetch_settings() {
    let c = stream(&[
        ("isolation.level", "read_committed"),
        ("fetch.max.wait.ms", "100"),
        ("fetch.min.bytes", "10"),
        ("fetch.max.bytes", "2000000"),
        ("max.partition.fetch.bytes", "300000"),
        ("check.crcs", "false"),
        (MEMORY_BUDGET_KEY, "8388608"),
    ])
    .unwrap();
    assert_eq!(c.fetch.isolation, IsolationLevel::ReadCommitted);
    assert_eq!(c.fetch.max_wait, Duration::from_millis(100));
    assert_eq!(c.fetch.min_bytes, 10);
    assert_eq!(c.fetch.max_bytes, 2_000_000);
    assert_eq!(c.fetch.partition_max_bytes, 300_000);
    assert!(!c.fetch.check_crcs);
    assert_eq!(c.fetch.memory_budget, 8 << 20);
    assert_invalid(stream(&[("fetch.min.bytes", "-1")]), "fetch.min.bytes");
}

#[test]
fn every_listed_key_is_accepted() {
    let sample = |key: &str| match key {
        "isolation.level" => "read_committed",
        "auto.offset.reset" => "earliest",
        "check.crcs" | "exclude.internal.topics" => "true",
        _ => "1",
    };
    for key in FETCH_KEYS.iter().chain(STREAM_KEYS) {
        stream(&[(key, sample(key))]).unwrap_or_else(|e| panic!("{key}: {e}"));
        split(&[(key, sample(key))]).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
}

#[test]
fn the_stream_skips_client_group_and_ignored_keys_unchecked() {
    // Not the stream's to check: the client checks its own keys.
    let c = stream(&[
        ("bootstrap.servers", "not an address"),
        ("security.protocol", "TLS"),
        ("group.id", "g"),
        ("enable.auto.commit", "maybe"),
        (
            "key.deserializer",
            "org.apache.kafka.common.serialization.StringDeserializer",
        ),
        ("auto.offset.reset", "earliest"),
    ])
    .unwrap();
    assert_eq!(c.starting, StartingOffsets::Earliest);
    for key in CLIENT_KEYS.iter().chain(IGNORED_CONSUMER_KEYS) {
        stream(&[(key, "x")]).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
}

#[test]
fn unknown_keys() {
    for key in [
        "auto.offset.rest",
        "Auto.Offset.Reset",
        // Security settings gregor lacks are not silently skipped.
        "ssl.keystore.location",
        "sasl.kerberos.service.name",
        // Producer keys.
        "acks",
        "linger.ms",
    ] {
        assert_unknown(stream(&[(key, "1")]), key);
        assert_unknown(split(&[(key, "1")]), key);
    }
    let mut c = DirectStreamConfig::new(topics());
    assert_unknown(c.set("batch.interval.ms", "100"), "batch.interval.ms");
}

#[test]
fn a_consumer_file_splits_between_client_and_stream() {
    let p = split(&[
        ("bootstrap.servers", "a:9092, b:9092"),
        ("client.id", "audit"),
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.username", "u"),
        ("sasl.password", "p"),
        ("request.timeout.ms", "5000"),
        ("group.id", "audit-group"),
        ("auto.offset.reset", "none"),
        ("isolation.level", "read_committed"),
        ("max.poll.records", "500"),
        ("enable.auto.commit", "false"),
        ("max.poll.records", "100"),
    ])
    .unwrap();
    let client = p.client.build().unwrap();
    assert_eq!(client.bootstrap_servers().len(), 2);
    assert_eq!(client.client_id(), Some("audit"));
    assert_eq!(client.security_protocol(), SecurityProtocol::SaslSsl);
    assert!(client.sasl().is_some());
    assert_eq!(client.request_timeout(), Duration::from_secs(5));
    assert_eq!(p.stream.starting, StartingOffsets::Fail);
    assert_eq!(p.stream.fetch.isolation, IsolationLevel::ReadCommitted);
    assert!(matches!(
        p.stream.strategy,
        ConsumerStrategy::Subscribe { .. }
    ));
    assert_eq!(p.group_id.as_deref(), Some("audit-group"));
    // Each ignored key once, in the order first given.
    assert_eq!(p.ignored, ["max.poll.records", "enable.auto.commit"]);
}

#[test]
fn the_split_checks_client_values_as_the_client_does() {
    assert_invalid(split(&[("security.protocol", "TLS")]), "security.protocol");
    assert_invalid(
        split(&[("bootstrap.servers", "nohost")]),
        "bootstrap.servers",
    );
    assert_invalid(split(&[("request.timeout.ms", "-5")]), "request.timeout.ms");
    assert_invalid(
        split(&[("auto.offset.reset", "oldest")]),
        "auto.offset.reset",
    );
    // The combination is checked when the client is built.
    let p = split(&[("auto.offset.reset", "earliest")]).unwrap();
    assert!(matches!(
        p.client.build(),
        Err(ConfigError::Missing {
            key: "bootstrap.servers",
            ..
        })
    ));
}

#[test]
fn group_id() {
    assert_eq!(split(&[]).unwrap().group_id, None);
    assert_eq!(split(&[("group.id", " ")]).unwrap().group_id, None);
    let p = split(&[("group.id", "a"), ("group.id", " b ")]).unwrap();
    assert_eq!(p.group_id.as_deref(), Some("b"));
    assert!(p.ignored.is_empty());
}
