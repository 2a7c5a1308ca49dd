//! Transactions written into a partition, for the read_committed tests: on our MockCluster
//! through its control API, on Apache Kafka with Java's transactional producer (the testkit's
//! peer, fed its script in parts so that a transaction can stay open while the test reads).

use std::time::Duration;

use gregor_client::admin::{IsolationLevel, OffsetSpec, TopicPartition};
use gregor_client::{Admin, Client};
use gregor_testkit::TestBroker;
use gregor_testkit::data::{unique_name, within};
use gregor_testkit::kafka::peer::{JavaPeer, PEER_TIMEOUT, PeerError, PeerScript, PeerSession};
use gregor_testkit::mock::{MockRecord, OpenTransaction};

/// A transaction left open by [`open_transaction`].
pub enum OpenTxn {
    /// Written by our mock's control API.
    Mock(OpenTransaction),
    /// Java's producer, waiting in its session to end the transaction.
    Kafka {
        /// The peer holding the transaction.
        session: PeerSession,
        /// Where the transaction's records are.
        topic: String,
        /// Their partition.
        partition: i32,
    },
}

/// A transactional producer of the peer: its settings, and the calls up to a begun transaction.
fn begin(script: &mut PeerScript) -> &mut PeerScript {
    let id = unique_name("txn");
    script
        .producer(&[
            ("transactional.id", id.as_str()),
            ("acks", "all"),
            ("linger.ms", "0"),
        ])
        .init_transactions()
        .begin()
}

/// Sends `values` to `topic`'s `partition` in the script's transaction and flushes them.
fn send_all<'a>(
    script: &'a mut PeerScript,
    topic: &str,
    partition: i32,
    values: &[&str],
) -> &'a mut PeerScript {
    for v in values {
        script.send(topic, Some(partition), None, Some(v.as_bytes()), &[]);
    }
    script.flush()
}

/// Awaits a step of the peer run on a blocking thread. The peer exits by itself after
/// [`PEER_TIMEOUT`], which bounds the step; the deadline here is a little longer (and longer
/// than `within`'s: a JVM starts slowly on a loaded machine).
async fn peer_step<T>(what: &str, step: tokio::task::JoinHandle<T>) -> T {
    tokio::time::timeout(PEER_TIMEOUT + Duration::from_secs(10), step)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {PEER_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{what}: the peer's thread: {e}"))
}

fn peer(broker: &TestBroker) -> JavaPeer {
    let kafka = broker
        .kafka()
        .unwrap_or_else(|| panic!("transactions on {}: only mock and kafka", broker.kind()));
    JavaPeer::new(kafka.install()).unwrap_or_else(|e| panic!("the Java peer: {e}"))
}

/// Writes `values` to `topic`'s `partition` in a transaction that stays open: once this
/// returns, the records are in the log (below the high watermark) and the last stable offset
/// stays at the first of them until [`end_transaction`].
pub async fn open_transaction(
    broker: &TestBroker,
    topic: &str,
    partition: i32,
    values: &[&str],
) -> OpenTxn {
    if let Some(mock) = broker.mock() {
        let records: Vec<MockRecord> = values.iter().map(|v| MockRecord::value(v)).collect();
        let open = mock
            .open_transaction(topic, partition, &records)
            .await
            .unwrap_or_else(|e| panic!("the mock opens a transaction: {e}"));
        return OpenTxn::Mock(open);
    }
    let peer = peer(broker);
    let bootstrap = broker.bootstrap();
    let mut script = PeerScript::new();
    send_all(begin(&mut script), topic, partition, values);
    let topic = topic.to_owned();
    peer_step(
        "Java's producer opens a transaction",
        tokio::task::spawn_blocking(move || {
            let mut session = peer.start(&bootstrap)?;
            session.run(&script)?;
            Ok::<_, PeerError>(OpenTxn::Kafka {
                session,
                topic,
                partition,
            })
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("Java's producer opens a transaction: {e}"))
}

/// Commits or aborts `open` and returns the offset of its marker, once the marker is in the
/// log: the last stable offset has passed it. Nothing else may be written to the partition
/// meanwhile (on Kafka the marker is the log's last record then).
pub async fn end_transaction(
    broker: &TestBroker,
    client: &Client,
    open: OpenTxn,
    commit: bool,
) -> i64 {
    match open {
        OpenTxn::Mock(open) => {
            let mock = broker
                .mock()
                .expect("a mock's transaction ends on the mock");
            mock.end_transaction(&open, commit)
                .await
                .unwrap_or_else(|e| panic!("the mock ends its transaction: {e}"))
        }
        OpenTxn::Kafka {
            mut session,
            topic,
            partition,
        } => {
            let mut script = PeerScript::new();
            if commit {
                script.commit();
            } else {
                script.abort();
            }
            script.close();
            peer_step(
                "Java's producer ends its transaction",
                tokio::task::spawn_blocking(move || {
                    session.run(&script)?;
                    session.finish()
                }),
            )
            .await
            .unwrap_or_else(|e| panic!("Java's producer ends its transaction: {e}"));
            marker_written(client, &topic, partition).await
        }
    }
}

/// Writes `values` to `topic`'s `partition` in one whole transaction, committed or aborted,
/// and returns the offset of its marker once it is in the log (as [`end_transaction`]).
pub async fn produce_transaction(
    broker: &TestBroker,
    client: &Client,
    topic: &str,
    partition: i32,
    values: &[&str],
    commit: bool,
) -> i64 {
    if let Some(mock) = broker.mock() {
        let records: Vec<MockRecord> = values.iter().map(|v| MockRecord::value(v)).collect();
        let written = mock
            .produce_transaction(topic, partition, &records, commit)
            .await
            .unwrap_or_else(|e| panic!("the mock writes a transaction: {e}"));
        // The records, then the marker.
        return written.end;
    }
    let open = open_transaction(broker, topic, partition, values).await;
    end_transaction(broker, client, open, commit).await
}

/// Waits until `topic`'s `partition` has no open transaction (the last stable offset is the
/// high watermark: Kafka's coordinator writes markers after EndTxn is answered) and returns
/// the offset of the log's last record, the marker.
async fn marker_written(client: &Client, topic: &str, partition: i32) -> i64 {
    let admin = Admin::new(client.clone());
    let tp = TopicPartition::new(topic, partition);
    let latest = |isolation| {
        let admin = admin.clone();
        let tp = tp.clone();
        async move {
            let listed = admin
                .list_offsets(&[(tp.clone(), OffsetSpec::Latest)], isolation)
                .await
                .unwrap_or_else(|e| panic!("ListOffsets of {tp:?}: {e}"));
            match listed.get(&tp) {
                Some(Ok(o)) => o.offset,
                other => panic!("ListOffsets of {tp:?} answered {other:?}"),
            }
        }
    };
    within("the transaction's marker", async {
        loop {
            let stable = latest(IsolationLevel::ReadCommitted).await;
            let high = latest(IsolationLevel::ReadUncommitted).await;
            if stable == high {
                return high - 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}
