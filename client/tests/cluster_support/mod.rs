//! Helpers for the cluster-client and admin tests against a broker (tansu, Apache Kafka, our
//! mocks, or the cluster named by `KAFKA_BOOTSTRAP_SERVERS`): choosing the broker, skipping
//! its known deviations, and reaching a group's coordinator the way clients do. Names, topics
//! and records come from `gregor_testkit::data`.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use gregor_client::config::ClientConfigBuilder;
use gregor_client::{Client, Connection, CoordinatorKind, Purpose};
use gregor_protocol::{ApiKey, ErrorCode};
use gregor_testkit::data::{test_client, test_client_config, within};
use gregor_testkit::{BrokerKind, ChaosProxy, Tansu, TestBroker};

/// A broker for a test: `KAFKA_BOOTSTRAP_SERVERS` when set; else the kind `GREGOR_TEST_BROKER`
/// names (`mock`, `rdkafka-mock`, `tansu`, `kafka`); else a fresh tansu.
pub async fn broker() -> TestBroker {
    if std::env::var("KAFKA_BOOTSTRAP_SERVERS").is_ok_and(|s| !s.trim().is_empty()) {
        return TestBroker::start_kind_async(BrokerKind::External)
            .await
            .expect("external cluster");
    }
    let kind: BrokerKind = match std::env::var("GREGOR_TEST_BROKER") {
        Ok(name) if !name.trim().is_empty() => name
            .trim()
            .parse()
            .expect("GREGOR_TEST_BROKER names a broker kind"),
        _ => BrokerKind::Tansu,
    };
    TestBroker::start_kind_async(kind)
        .await
        .unwrap_or_else(|e| panic!("a {kind} broker (tansu needs .ci/install-tansu.sh): {e}"))
}

/// True (and says so on stderr) when `broker` is of `kind`, which is known to get the checked
/// behaviour wrong: the caller then skips the check on that broker only. The conformance table
/// in testkit's README records these deviations.
pub fn deviates(broker: &TestBroker, kind: BrokerKind, why: &str) -> bool {
    let skip = broker.kind() == kind;
    if skip {
        eprintln!("skipped on {kind}: {why}");
    }
    skip
}

/// A tansu behind a [`ChaosProxy`] (tansu advertises the proxy's address).
pub async fn proxied_tansu() -> (ChaosProxy, Tansu) {
    tokio::task::spawn_blocking(ChaosProxy::in_front_of_tansu)
        .await
        .unwrap()
        .expect("tansu behind the proxy")
}

/// The client id of the cluster tests' clients.
pub const CLIENT_ID: &str = "gregor-cluster-test";

/// A client configuration for `bootstrap` with short backoffs.
pub fn config(bootstrap: &str) -> ClientConfigBuilder {
    test_client_config(bootstrap, CLIENT_ID)
}

/// A connected client.
pub async fn client(bootstrap: &str) -> Client {
    test_client(bootstrap, CLIENT_ID).await
}

/// A started broker of `kind` (panics if it cannot start) and a client of it.
pub async fn broker_and_client(kind: BrokerKind) -> (TestBroker, Client) {
    let broker = TestBroker::start_kind_async(kind)
        .await
        .unwrap_or_else(|e| panic!("a {kind} broker: {e}"));
    let client = client(&broker.bootstrap()).await;
    (broker, client)
}

/// A connection to `group`'s coordinator and the answer to the group's first request there,
/// sent the way Kafka's clients send it: FindCoordinator is retried while it answers a
/// retriable error (COORDINATOR_NOT_AVAILABLE while Kafka creates `__consumer_offsets`), and
/// `attempt` (the request, returning its error code and answer) is sent again to a coordinator
/// looked up afresh while it answers NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or
/// COORDINATOR_LOAD_IN_PROGRESS (the coordinator still loading the group's partition). Any
/// other answer is returned for the test to check. `what` names the request in a panic.
pub async fn at_coordinator<T, F, Fut>(
    client: &Client,
    group: &str,
    what: &str,
    mut attempt: F,
) -> (Connection, T)
where
    F: FnMut(Connection) -> Fut,
    Fut: Future<Output = (ErrorCode, T)>,
{
    within(what, async {
        loop {
            let id = client
                .retry(ApiKey::FindCoordinator, || {
                    client.coordinator(CoordinatorKind::Group, group)
                })
                .await
                .unwrap_or_else(|e| panic!("FindCoordinator for {group}: {e}"));
            let conn = client
                .connection(id, Purpose::Control)
                .await
                .expect("coordinator connection");
            let (code, answer) = attempt(conn.clone()).await;
            if !code.is_coordinator_error() {
                return (conn, answer);
            }
            eprintln!("{what}: {code} from broker {id}; looking the coordinator up again");
            client.forget_coordinator(CoordinatorKind::Group, group);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}
