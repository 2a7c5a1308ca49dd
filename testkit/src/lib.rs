//! gregor-testkit: brokers for gregor's tests.
//!
//! # Layout
//! - [`tansu`]: starts tansu, an independent Kafka-compatible broker written in Rust, on a free
//!   loopback port (in-memory storage), waits until it answers ApiVersions, and kills it when
//!   dropped or when the test process exits.
//! - [`certs`]: test certificates generated at test time (a CA, server and client
//!   certificates, an unrelated CA) for TLS tests.
//! - [`stunnel`]: a TLS broker, stunnel terminating TLS in front of tansu, optionally
//!   requiring client certificates.
//! - [`proxy`]: [`ChaosProxy`], a loopback TCP proxy in front of a broker that tests can
//!   break on purpose (cut every connection, stall all traffic) and that counts the
//!   connections it accepts.
//! - [`select`]: picks the broker a test runs against: `KAFKA_BOOTSTRAP_SERVERS` when set,
//!   otherwise one started here.
//!
//! Data flows one way: a test asks [`select::TestBroker::start`] for a broker and gets bootstrap
//! addresses; nothing here talks to a broker on the test's behalf beyond the readiness probe
//! (the proxy only forwards bytes).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod certs;
mod process;
pub mod proxy;
pub mod select;
pub mod stunnel;
pub mod tansu;

pub use proxy::ChaosProxy;
pub use select::TestBroker;
pub use stunnel::{TlsBroker, TlsBrokerOptions};
pub use tansu::Tansu;
