//! Helpers shared by the direct-stream and Kafka-commit tests: their brokers and clients.
//! Names, values, topics and records produced by hand come from `gregor_testkit::data`.
#![allow(dead_code)]

use gregor_client::Client;
use gregor_testkit::data::test_client;
use gregor_testkit::{BrokerKind, TestBroker};

/// The client id of the stream tests' clients.
pub const CLIENT_ID: &str = "gregor-stream-test";

/// A broker of `kind` (our mock runs on the test's runtime).
pub async fn broker(kind: BrokerKind) -> TestBroker {
    TestBroker::start_kind_async(kind)
        .await
        .unwrap_or_else(|e| panic!("a {kind} broker (tansu needs .ci/install-tansu.sh): {e}"))
}

/// A client of `broker` with the short backoffs of `gregor_testkit::data::test_client_config`.
pub async fn client(broker: &TestBroker) -> Client {
    test_client(&broker.bootstrap(), CLIENT_ID).await
}
