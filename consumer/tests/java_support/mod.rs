//! Helpers shared by the interoperability tests with Java's own client on Apache Kafka: the
//! shared broker and the Java peer (or a clean skip without them), running a peer script off
//! the async runtime, and gregor's records in the peer's form for exact comparison;
//! [`scenario`] models what a script sends, [`reading`] reads it with gregor.
#![allow(dead_code)]

pub mod reading;
pub mod scenario;

use gregor_client::Client;
use gregor_protocol::records::Record;
use gregor_testkit::data::{test_client, within};
use gregor_testkit::kafka::peer::{JavaPeer, PeerOutput, PeerRecord, PeerScript};
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall};

/// The client id of these tests' gregor clients.
pub const CLIENT_ID: &str = "gregor-java-interop-test";

/// The process's Apache Kafka broker and the compiled Java peer, or `None` (after saying so)
/// when Kafka's jars or Java are not installed, so that `cargo test` passes without them.
pub async fn kafka_and_peer(test: &str) -> Option<(&'static KafkaCluster, JavaPeer)> {
    if !KafkaInstall::is_available() {
        eprintln!("{test}: skipped, Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return None;
    }
    let started = tokio::task::spawn_blocking(|| {
        let kafka = KafkaCluster::shared().unwrap_or_else(|e| panic!("kafka starts: {e}"));
        let peer = JavaPeer::new(kafka.install()).unwrap_or_else(|e| panic!("java peer: {e}"));
        (kafka, peer)
    });
    Some(started.await.unwrap())
}

/// A gregor client of `kafka`.
pub async fn client(kafka: &KafkaCluster) -> Client {
    test_client(&kafka.bootstrap(), CLIENT_ID).await
}

/// Runs `script` in one Java process (off the runtime's threads); panics with Java's error.
pub async fn run(kafka: &KafkaCluster, peer: &JavaPeer, script: &PeerScript) -> PeerOutput {
    within("the java peer", peer.run_async(&kafka.bootstrap(), script))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A record gregor read from `partition`, in the form the Java peer reports records, so the
/// two compare field by field: offset, timestamp, key, value and headers in order.
pub fn as_peer(partition: i32, record: &Record) -> PeerRecord {
    PeerRecord {
        partition,
        offset: record.offset,
        timestamp: record.timestamp,
        key: record.key.as_ref().map(|k| k.to_vec()),
        value: record.value.as_ref().map(|v| v.to_vec()),
        headers: record
            .headers
            .iter()
            .map(|h| {
                let h = h.expect("a header decodes");
                let key = String::from_utf8(h.key.to_vec()).expect("a UTF-8 header key");
                (key, h.value.map(|v| v.to_vec()))
            })
            .collect(),
    }
}

/// Where two record lists differ, by (partition, offset): records only in `got`, only in
/// `want`, and records at the same place that differ in content.
fn differences(got: &[PeerRecord], want: &[PeerRecord]) -> String {
    use std::collections::BTreeMap;
    let index = |rs: &[PeerRecord]| -> BTreeMap<(i32, i64), PeerRecord> {
        rs.iter()
            .map(|r| ((r.partition, r.offset), r.clone()))
            .collect()
    };
    let (g, w) = (index(got), index(want));
    let extra: Vec<_> = g.keys().filter(|k| !w.contains_key(k)).collect();
    let missing: Vec<_> = w.keys().filter(|k| !g.contains_key(k)).collect();
    let changed: Vec<_> = g
        .iter()
        .filter(|(k, r)| w.get(k).is_some_and(|o| o != *r))
        .map(|(k, _)| k)
        .collect();
    format!(
        "{} records read, {} expected; only read (partition, offset): {extra:?}; \
         not read: {missing:?}; different: {changed:?}",
        got.len(),
        want.len()
    )
}

/// Asserts `got` is exactly `want` (in order), saying where they differ if not.
#[track_caller]
pub fn assert_same(got: &[PeerRecord], want: &[PeerRecord], what: &str) {
    if got != want {
        panic!("{what}: {}", differences(got, want));
    }
}
