//! Producer properties and builders.

use std::time::Duration;

use gregor_protocol::compression::Compression;

use super::super::*;
use super::{assert_invalid, producer};

#[test]
fn acks() {
    for (value, acks) in [
        ("0", Acks::None),
        ("1", Acks::Leader),
        ("all", Acks::All),
        ("-1", Acks::All),
        ("ALL", Acks::All),
    ] {
        let p = producer(&[("acks", value), ("enable.idempotence", "false")]).unwrap();
        assert_eq!(p.acks(), acks, "{value}");
    }
    assert_eq!(Acks::All.wire_value(), -1);
    assert_eq!(Acks::None.wire_value(), 0);
    for bad in ["2", "leader", ""] {
        assert_invalid(producer(&[("acks", bad)]), "acks");
    }
}

#[test]
fn producer_sizes_and_durations() {
    let p = producer(&[
        ("linger.ms", "20"),
        ("batch.size", "0"),
        ("buffer.memory", "1048576"),
        ("max.request.size", "2097152"),
        ("retries", "3"),
        ("delivery.timeout.ms", "60000"),
        ("max.block.ms", "1500"),
    ])
    .unwrap();
    assert_eq!(p.linger(), Duration::from_millis(20));
    assert_eq!(p.batch_size(), 0);
    assert_eq!(p.buffer_memory(), 1_048_576);
    assert_eq!(p.max_request_size(), 2_097_152);
    assert_eq!(p.retries(), 3);
    assert_eq!(p.delivery_timeout(), Some(Duration::from_secs(60)));
    assert_eq!(p.max_block(), Duration::from_millis(1500));
    for key in [
        "linger.ms",
        "batch.size",
        "buffer.memory",
        "max.request.size",
        "retries",
        "delivery.timeout.ms",
        "max.in.flight.requests.per.connection",
        "max.block.ms",
    ] {
        for bad in ["-1", "x", "1e3"] {
            assert_invalid(producer(&[(key, bad)]), key);
        }
    }
    assert_invalid(producer(&[("batch.size", "2147483648")]), "batch.size");
    assert_invalid(producer(&[("buffer.memory", "0")]), "buffer.memory");
    assert_invalid(producer(&[("max.request.size", "0")]), "max.request.size");
}

#[test]
fn compression_type() {
    for (value, c) in [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("LZ4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ] {
        assert_eq!(
            producer(&[("compression.type", value)])
                .unwrap()
                .compression(),
            c
        );
    }
    assert_invalid(
        producer(&[("compression.type", "brotli")]),
        "compression.type",
    );
}

#[test]
fn idempotence_rules() {
    let key = "enable.idempotence";
    assert!(!producer(&[(key, "false")]).unwrap().idempotence());
    assert!(producer(&[(key, "TRUE")]).unwrap().idempotence());
    assert_invalid(producer(&[(key, "yes")]), key);
    // A conflicting setting turns default idempotence off...
    for conflict in [
        ("acks", "1"),
        ("acks", "0"),
        ("max.in.flight.requests.per.connection", "6"),
        ("retries", "0"),
    ] {
        let p = producer(&[conflict]).unwrap();
        assert!(!p.idempotence(), "{conflict:?}");
    }
    // ...and is an error when idempotence is asked for.
    assert_invalid(producer(&[(key, "true"), ("acks", "1")]), "acks");
    assert_invalid(
        producer(&[
            (key, "true"),
            ("max.in.flight.requests.per.connection", "6"),
        ]),
        "max.in.flight.requests.per.connection",
    );
    assert_invalid(producer(&[(key, "true"), ("retries", "0")]), "retries");
    let p = producer(&[
        (key, "true"),
        ("max.in.flight.requests.per.connection", "5"),
    ])
    .unwrap();
    assert!(p.idempotence());
    assert_eq!(p.max_in_flight(), 5);
    let p = producer(&[("max.in.flight.requests.per.connection", "1")]).unwrap();
    assert!(p.idempotence());
    assert_invalid(
        producer(&[("max.in.flight.requests.per.connection", "0")]),
        "max.in.flight.requests.per.connection",
    );
}

#[test]
fn delivery_timeout_covers_linger_and_request_timeout() {
    assert_invalid(
        producer(&[("delivery.timeout.ms", "30000"), ("linger.ms", "1")]),
        "delivery.timeout.ms",
    );
    // Unset, the default is raised to fit.
    let (c, p) = ProducerConfig::from_properties([
        super::BOOT,
        ("request.timeout.ms", "200000"),
        ("linger.ms", "100"),
    ])
    .unwrap();
    assert_eq!(c.request_timeout(), Duration::from_millis(200_000));
    assert_eq!(p.delivery_timeout(), None);
    assert_eq!(
        p.delivery_timeout_for(c.request_timeout()),
        Ok(Duration::from_millis(200_100))
    );
    // The check is made where the client is known: a builder alone does not know it.
    let p = ProducerConfig::builder()
        .delivery_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    assert_invalid(
        p.delivery_timeout_for(Duration::from_secs(30)),
        "delivery.timeout.ms",
    );
}

#[test]
fn partitioners() {
    for (key, value, expected) in [
        (
            "partitioner.class",
            "org.apache.kafka.clients.producer.internals.DefaultPartitioner",
            Partitioner::Murmur2,
        ),
        (
            "partitioner.class",
            "org.apache.kafka.clients.producer.RoundRobinPartitioner",
            Partitioner::RoundRobin,
        ),
        (
            "partitioner.class",
            "UniformStickyPartitioner",
            Partitioner::UniformSticky,
        ),
        ("partitioner.class", "", Partitioner::Murmur2),
        ("partitioner", "murmur2_random", Partitioner::Murmur2),
        ("partitioner", "murmur2", Partitioner::Murmur2),
    ] {
        assert_eq!(
            producer(&[(key, value)]).unwrap().partitioner(),
            expected,
            "{value}"
        );
    }
    assert_invalid(
        producer(&[("partitioner.class", "com.acme.MyPartitioner")]),
        "partitioner.class",
    );
    for bad in ["consistent_random", "random", "fnv1a"] {
        assert_invalid(producer(&[("partitioner", bad)]), "partitioner");
    }
}
