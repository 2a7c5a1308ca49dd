//! read_committed on every broker that can host transactions from Java's own client: Apache
//! Kafka (the reference), tansu and librdkafka's mock cluster. Java writes a committed
//! transaction, an aborted one, plain idempotent records and a transaction left open; gregor
//! then lists the end offsets (high watermark and last stable offset) and reads the partition
//! with `read_ranges` under both isolation levels. The conformance table's read_committed row
//! comes from here (our MockCluster's, whose transactions come from its control API, from
//! testkit's `mock_produce_fetch.rs`).

mod java_support;

use gregor_consumer::range::OffsetRange;
use gregor_testkit::data::{create_topic_on, test_client, unique_name, within};
use gregor_testkit::kafka::peer::{JavaPeer, PeerScript};
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall};
use gregor_testkit::{BrokerKind, TestBroker};
use java_support::reading::{ends, read};

/// What the script leaves in the partition, in offset order: `(offset, value)` of the data
/// records, with the control markers between them.
const COMMITTED: [(i64, &str); 3] = [(0, "c0"), (1, "c1"), (2, "c2")]; // marker at 3
const ABORTED: [(i64, &str); 2] = [(4, "x0"), (5, "x1")]; // marker at 6
const PLAIN: [(i64, &str); 2] = [(7, "p0"), (8, "p1")];
const OPEN: (i64, &str) = (9, "o0");

/// Short enough that a broker which cannot serve a transaction fails the script in time.
const LIMITS: [(&str, &str); 3] = [
    ("max.block.ms", "15000"),
    ("delivery.timeout.ms", "15000"),
    ("request.timeout.ms", "5000"),
];

fn script(topic: &str) -> PeerScript {
    let mut s = PeerScript::new();
    let with_limits = |props: &[(&str, &str)]| -> Vec<(String, String)> {
        props
            .iter()
            .chain(LIMITS.iter())
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let producer = |s: &mut PeerScript, props: Vec<(String, String)>| {
        let props: Vec<(&str, &str)> = props
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        s.producer(&props);
    };
    let send = |s: &mut PeerScript, v: &str| {
        s.send(topic, Some(0), None, Some(v.as_bytes()), &[]);
    };
    s.use_producer("committing");
    producer(
        &mut s,
        with_limits(&[("transactional.id", &format!("{topic}-c"))]),
    );
    s.init_transactions().begin();
    COMMITTED.iter().for_each(|(_, v)| send(&mut s, v));
    s.flush().commit().begin();
    ABORTED.iter().for_each(|(_, v)| send(&mut s, v));
    s.flush().abort();
    s.use_producer("plain");
    producer(
        &mut s,
        with_limits(&[("enable.idempotence", "true"), ("acks", "all")]),
    );
    PLAIN.iter().for_each(|(_, v)| send(&mut s, v));
    s.flush();
    s.use_producer("open");
    producer(
        &mut s,
        with_limits(&[("transactional.id", &format!("{topic}-o"))]),
    );
    s.init_transactions().begin();
    send(&mut s, OPEN.1);
    // Exits without ending the transaction: it stays open on the broker.
    s.flush().halt();
    s
}

fn values(records: &[gregor_testkit::kafka::peer::PeerRecord]) -> Vec<(i64, String)> {
    records
        .iter()
        .map(|r| {
            let v = r.value.as_deref().unwrap_or_default();
            (r.offset, String::from_utf8_lossy(v).into_owned())
        })
        .collect()
}

fn expected(parts: &[&[(i64, &str)]]) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = parts
        .iter()
        .flat_map(|p| p.iter().map(|(o, v)| (*o, (*v).to_owned())))
        .collect();
    out.sort();
    out
}

async fn measure(kind: BrokerKind, peer: &JavaPeer) {
    let broker = TestBroker::start_kind_async(kind)
        .await
        .unwrap_or_else(|e| panic!("a {kind} broker: {e}"));
    let client = test_client(&broker.bootstrap(), "gregor-read-committed").await;
    let topic = unique_name("txn");
    create_topic_on(&broker, &client, &topic, 1).await;
    let ran = within(
        "the java peer",
        peer.run_async(&broker.bootstrap(), &script(&topic)),
    )
    .await;
    let out = match ran {
        Ok(out) => out,
        Err(e) if kind != BrokerKind::Kafka => {
            eprintln!("{kind} deviates: Java's transactional producer fails on it: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let acked: Vec<i64> = out.acks.iter().map(|a| a.offset).collect();
    let all: Vec<i64> = expected(&[&COMMITTED, &ABORTED, &PLAIN, &[OPEN]])
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    if acked != all {
        assert_ne!(
            kind,
            BrokerKind::Kafka,
            "offsets acknowledged by Kafka: {acked:?}"
        );
        eprintln!(
            "{kind} deviates: transactional records acknowledged at {acked:?}, Kafka at {all:?}"
        );
    }

    let hw = ends(&client, &topic, 1, false).await[0];
    let lso = ends(&client, &topic, 1, true).await[0];
    eprintln!("{kind}: high watermark {hw}, last stable offset {lso}");
    let (Ok(to_hw), Ok(to_lso)) = (
        OffsetRange::new(topic.as_str(), 0, 0, hw),
        OffsetRange::new(topic.as_str(), 0, 0, lso),
    ) else {
        assert_ne!(kind, BrokerKind::Kafka, "end offsets {hw}, {lso}");
        eprintln!("{kind} deviates: end offsets {hw} and {lso} make no range");
        return;
    };
    let uncommitted = values(&read(&client, &[to_hw], false).await);
    let committed = values(&read(&client, &[to_lso], true).await);
    let want_hw = OPEN.0 + 1;
    let want_uncommitted = expected(&[&COMMITTED, &ABORTED, &PLAIN, &[OPEN]]);
    let want_committed = expected(&[&COMMITTED, &PLAIN]);
    let conforms = (hw, lso) == (want_hw, OPEN.0)
        && uncommitted == want_uncommitted
        && committed == want_committed;
    if kind == BrokerKind::Kafka {
        assert_eq!(
            (hw, lso),
            (want_hw, OPEN.0),
            "high watermark, last stable offset"
        );
        assert_eq!(uncommitted, want_uncommitted, "read_uncommitted");
        assert_eq!(committed, want_committed, "read_committed");
    } else if conforms {
        eprintln!("{kind}: read_committed passes");
    } else {
        eprintln!(
            "{kind} deviates: high watermark {hw} (Kafka {want_hw}), last stable offset {lso} \
             (Kafka {}); read_uncommitted {uncommitted:?}; read_committed {committed:?}",
            OPEN.0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_skips_aborted_records_and_stops_at_an_open_transaction() {
    if !KafkaInstall::is_available() {
        eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return;
    }
    let peer = tokio::task::spawn_blocking(|| {
        let kafka = KafkaCluster::shared().expect("kafka starts");
        JavaPeer::new(kafka.install()).expect("java peer")
    })
    .await
    .unwrap();
    // Kafka first: it is the reference the others are compared with.
    let available = BrokerKind::from_env();
    let kinds: Vec<BrokerKind> = [
        BrokerKind::Kafka,
        BrokerKind::Tansu,
        BrokerKind::RdkafkaMock,
    ]
    .into_iter()
    .filter(|k| available.contains(k))
    .collect();
    assert!(
        kinds.contains(&BrokerKind::Kafka) || std::env::var_os("GREGOR_TEST_BROKERS").is_some()
    );
    for kind in kinds {
        measure(kind, &peer).await;
    }
}
