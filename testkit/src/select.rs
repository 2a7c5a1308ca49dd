//! Which broker a test runs against.
//!
//! `KAFKA_BOOTSTRAP_SERVERS`, when set, points every broker-backed test at the user's own
//! cluster (for example Apache Kafka from the repository's docker-compose.yml). Otherwise a test
//! gets a broker started here, on loopback.

use crate::tansu::{StartError, Tansu};

/// A broker for one test: either an external cluster or one this process started (and stops on
/// drop).
#[derive(Debug)]
#[non_exhaustive]
pub enum TestBroker {
    /// The cluster named by `KAFKA_BOOTSTRAP_SERVERS`.
    External(String),
    /// A tansu broker started for this test.
    Tansu(Tansu),
}

impl TestBroker {
    /// `KAFKA_BOOTSTRAP_SERVERS` if set, else a fresh tansu broker.
    pub fn start() -> Result<TestBroker, StartError> {
        match std::env::var("KAFKA_BOOTSTRAP_SERVERS") {
            Ok(servers) if !servers.trim().is_empty() => Ok(TestBroker::External(servers)),
            _ => Tansu::start().map(TestBroker::Tansu),
        }
    }

    /// The bootstrap servers, comma separated.
    pub fn bootstrap(&self) -> String {
        match self {
            TestBroker::External(s) => s.clone(),
            TestBroker::Tansu(t) => t.bootstrap(),
        }
    }

    /// Whether this is an external cluster (tests that need a specific broker may skip).
    pub fn is_external(&self) -> bool {
        matches!(self, TestBroker::External(_))
    }
}
