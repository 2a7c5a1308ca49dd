//! gregor-testkit: brokers for gregor's tests.
//!
//! # Layout
//! - [`mock`]: `MockCluster`, our own in-process Kafka cluster: N brokers on loopback speaking
//!   the protocol with Apache Kafka's semantics (gregor-protocol codecs both ways), a sans-io
//!   state behind one lock, and a control API for fault injection (interceptions, brokers down
//!   and up, leader moves, compaction, truncation, transactions). The binary
//!   `gregor-mock-cluster` serves one from the command line.
//! - [`tansu`]: starts tansu, an independent Kafka-compatible broker written in Rust, on a free
//!   loopback port (in-memory storage), waits until it answers ApiVersions, and kills it when
//!   dropped or when the test process exits.
//! - [`kafka`]: Apache Kafka 4.1 itself, the reference broker: single nodes and multi-node
//!   KRaft clusters started from Maven Central's jars (`.ci/install-kafka.sh`), one shared
//!   single-node cluster per test process with PLAINTEXT, SSL and SASL listeners, and Java's own
//!   client as a scripted peer ([`kafka::peer`]); Java's and librdkafka's consumers as
//!   members of a consumer group ([`kafka::group_peer`]).
//! - [`certs`]: test certificates generated at test time (a CA, server and client
//!   certificates, an unrelated CA) for TLS tests.
//! - [`stunnel`]: a TLS broker, stunnel terminating TLS in front of tansu, optionally
//!   requiring client certificates.
//! - [`proxy`]: [`ChaosProxy`], a loopback TCP proxy in front of a broker that tests can
//!   break on purpose (cut every connection, stall all traffic) and that counts the
//!   connections it accepts.
//! - [`corrupting_proxy`]: [`CorruptingProxy`], a loopback proxy that reads Kafka frames both
//!   ways and corrupts chosen APIs' responses at random, seeded (a byte flipped inside a Fetch
//!   response's record batch, or a body cut short), recording each [`Corruption`].
//! - `rdkafka_mock` (feature `rdkafka-mock`): librdkafka's mock cluster as a broker, run on
//!   a thread of its own.
//! - [`ledger`]: [`DeliveryLedger`](ledger::DeliveryLedger), what a test wrote and what a
//!   consumer delivered, and a checker of the two (lost, duplicated, skipped, rewound,
//!   mismatched) under the semantics of the consumer kind.
//! - [`select`]: picks the broker a test runs against: `KAFKA_BOOTSTRAP_SERVERS` when set,
//!   otherwise one started here; or a chosen [`BrokerKind`] (our mock, librdkafka's mock,
//!   tansu, Apache Kafka, external), so one test can run against several.
//! - `data` (feature `client`): what tests of gregor's client and consumer do to a broker
//!   through a gregor client: unique names, values, test clients, topics created and led,
//!   records produced with hand-built Produce requests. Its helpers panic on failure.
//!
//! Data flows one way: a test asks [`select::TestBroker::start`] for a broker and gets bootstrap
//! addresses; apart from the `data` helpers (which the test calls with its own client), nothing
//! here talks to a broker on the test's behalf beyond the readiness probe (the proxy only
//! forwards bytes).
//! The mock cluster is driven the same way by clients, plus its control API.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod certs;
pub mod corrupting_proxy;
#[cfg(feature = "client")]
pub mod data;
pub mod kafka;
pub mod ledger;
pub mod mock;
mod process;
pub mod proxy;
#[cfg(feature = "rdkafka-mock")]
pub mod rdkafka_mock;
pub mod select;
pub mod stunnel;
pub mod tansu;

pub use corrupting_proxy::{CorruptingProxy, Corruption, FetchRewrite};
pub use kafka::{KafkaCluster, KafkaOptions};
pub use proxy::ChaosProxy;
pub use select::{BrokerKind, MockBroker, SelectError, SharedKafka, TestBroker};
pub use stunnel::{TlsBroker, TlsBrokerOptions};
pub use tansu::Tansu;
