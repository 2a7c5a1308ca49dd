//! Helpers shared by the direct-stream and Kafka-commit tests: their brokers, clients, stream
//! settings and partition keys. Names, values, topics and records produced by hand come from
//! `gregor_testkit::data`.
#![allow(dead_code)]

pub mod txn;

use std::time::Duration;

use gregor_client::Client;
use gregor_consumer::TopicPartition;
use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets, StreamError,
};
use gregor_consumer::store::PartitionOffsets;
use gregor_testkit::data::{test_client, within};
use gregor_testkit::{BrokerKind, TestBroker};

/// The client id of the stream tests' clients.
pub const CLIENT_ID: &str = "gregor-stream-test";

/// The batch interval of [`config`].
pub const INTERVAL: Duration = Duration::from_millis(20);

/// A broker of `kind` (our mock runs on the test's runtime).
pub async fn broker(kind: BrokerKind) -> TestBroker {
    TestBroker::start_kind_async(kind)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "a {kind} broker (tansu needs .ci/install-tansu.sh, Apache Kafka \
             .ci/install-kafka.sh): {e}"
            )
        })
}

/// A client of `broker` with the short backoffs of `gregor_testkit::data::test_client_config`.
pub async fn client(broker: &TestBroker) -> Client {
    test_client(&broker.bootstrap(), CLIENT_ID).await
}

/// A stream of `strategy` planning a batch every [`INTERVAL`], from the earliest offsets.
pub fn config(strategy: ConsumerStrategy) -> DirectStreamConfig {
    DirectStreamConfig::new(strategy)
        .with_batch_interval(INTERVAL)
        .with_starting(StartingOffsets::Earliest)
}

/// How many records each produced batch holds on `kind`: one on tansu, whose ListOffsets
/// LATEST is the last batch's base offset + 1 (testkit's conformance table), which is the
/// high watermark only then.
pub fn per_batch(kind: BrokerKind) -> usize {
    if kind == BrokerKind::Tansu { 1 } else { 7 }
}

/// A stream's key of a partition.
pub fn key(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// A stream of `strategy` (settings of [`config`]) starting by `starting` over `stored`.
pub async fn start_positions(
    client: &Client,
    strategy: ConsumerStrategy,
    starting: StartingOffsets,
    stored: PartitionOffsets,
) -> Result<DirectStream, StreamError> {
    within(
        "stream",
        DirectStream::new(
            client.clone(),
            config(strategy).with_starting(starting),
            stored,
        ),
    )
    .await
}

/// One test per broker kind for an `async fn name(kind: BrokerKind)`: `per_kind!(name: mock =>
/// Mock, kafka => Kafka)` makes the tests `name::mock` and `name::kafka` (filter them with
/// `cargo test name::` or `cargo test ::kafka`), each on a two-worker runtime.
#[allow(unused_macros)]
macro_rules! per_kind {
    ($test:ident: $($suffix:ident => $kind:ident),+ $(,)?) => {
        mod $test {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $suffix() {
                    super::$test(gregor_testkit::BrokerKind::$kind).await;
                }
            )+
        }
    };
}
#[allow(unused_imports)]
pub(crate) use per_kind;
