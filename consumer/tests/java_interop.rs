//! Java's own producer (kafka-clients 4.1.2) writes, gregor reads, on Apache Kafka 4.1.2: gregor's
//! `read_ranges` and direct stream must read exactly what Java's own consumer reads at the same
//! isolation level, record for record (partition, offset, timestamp, key, value, headers), and
//! exactly what the script sent, by the offsets Java's producer was acknowledged.
//!
//! - Idempotent and transactional producers in each of the five codecs write interleaved
//!   batches of several records to three partitions: committed and aborted transactions of two
//!   transactional producers around an idempotent one's batches, records with and without keys
//!   and values, empty ones, and headers with repeated keys and null values. Under
//!   `read_committed` the aborted records are absent and the markers never surface; under
//!   `read_uncommitted` every record is there. Ranges of every size end anywhere: inside
//!   Java's batches, inside transactions, on markers.
//! - A transaction left open holds the last stable offset: `read_committed` ranges end there
//!   (as Java's consumer's end offsets do) until the transaction is aborted by a new producer
//!   of the same transactional id, after which both clients read on past it.
//!
//! Skipped (with a message) when Kafka's jars or Java are not installed.

mod java_support;

use gregor_consumer::range::OffsetRange;
use gregor_protocol::compression::Compression;
use gregor_testkit::data::{create_topic, unique_name, within};
use gregor_testkit::kafka::peer::{PeerRecord, PeerScript};
use java_support::reading::{cut, ends, fetched_batches, read, stream, stream_until};
use java_support::scenario::{Fate, Scenario, seen, shape};
use java_support::{assert_same, client, kafka_and_peer, run};

const COMMITTED: (&str, &str) = ("isolation.level", "read_committed");
const UNCOMMITTED: (&str, &str) = ("isolation.level", "read_uncommitted");

/// The script of one codec's round: an idempotent producer and two transactional ones
/// (the second in the next codec) interleave batches on three partitions; each transactional
/// producer commits one transaction and aborts another, one of them around another's.
fn codec_round(sc: &mut Scenario, topic: &str, run_id: &str, index: usize) {
    let codec = Compression::ALL[index].name();
    let other = Compression::ALL[(index + 1) % Compression::ALL.len()].name();
    let (plain, ta, tb) = (
        format!("plain-{codec}"),
        format!("ta-{codec}"),
        format!("tb-{codec}"),
    );
    let (ta_id, tb_id) = (format!("{run_id}-{ta}"), format!("{run_id}-{tb}"));
    // Batches wait for the flush (linger 60 s), so each flush sends several records per batch.
    let linger = ("linger.ms", "60000");
    sc.use_producer(&ta)
        .producer(&[
            ("transactional.id", &ta_id),
            ("compression.type", codec),
            linger,
        ])
        .init()
        .begin()
        .sends(topic, 12)
        .flush();
    sc.use_producer(&tb)
        .producer(&[
            ("transactional.id", &tb_id),
            ("compression.type", other),
            linger,
        ])
        .init()
        .begin()
        .sends(topic, 8)
        .flush();
    sc.use_producer(&plain)
        .producer(&[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("compression.type", codec),
            linger,
        ])
        .sends(topic, 12)
        .flush();
    sc.use_producer(&ta).sends(topic, 6).flush();
    sc.use_producer(&tb).sends(topic, 6).abort();
    sc.use_producer(&plain).sends(topic, 6).flush();
    sc.use_producer(&ta).commit();
    sc.use_producer(&tb).begin().sends(topic, 8).commit();
    sc.use_producer(&ta).begin().sends(topic, 6).abort();
    for name in [&plain, &ta, &tb] {
        sc.use_producer(name).close();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_transactions_in_every_codec_are_read_exactly() {
    let Some((kafka, peer)) = kafka_and_peer("java_transactions_in_every_codec").await else {
        return;
    };
    let client = client(kafka).await;
    let topic = unique_name("java-txn");
    create_topic(&client, &topic, 3).await;
    let mut sc = Scenario::new();
    let run_id = unique_name("txid");
    for index in 0..Compression::ALL.len() {
        codec_round(&mut sc, &topic, &run_id, index);
    }
    sc.script
        .consume(&topic, &[COMMITTED])
        .consume(&topic, &[UNCOMMITTED]);
    let out = run(kafka, &peer, &sc.script).await;

    // Java's consumer reads what the script means: the model is right.
    let committed = sc.expected(&out.acks, true);
    let everything = sc.expected(&out.acks, false);
    let (java_committed, java_everything) = (&out.reads[0], &out.reads[1]);
    assert_eq!(
        java_committed.iter().map(seen).collect::<Vec<_>>(),
        committed
    );
    assert_eq!(
        java_everything.iter().map(seen).collect::<Vec<_>>(),
        everything
    );
    let aborted = sc.sent.iter().filter(|s| s.fate == Fate::Aborted).count();
    assert_eq!(sc.sent.len(), 320);
    assert_eq!(everything.len(), 320);
    assert_eq!(committed.len(), 320 - aborted);
    assert_eq!(aborted, 100);

    // The log holds the records and one marker per transaction and partition, in batches of
    // several records in every codec.
    let hw = ends(&client, &topic, 3, false).await;
    assert_eq!(
        ends(&client, &topic, 3, true).await,
        hw,
        "no open transaction"
    );
    let markers = sc.markers(&out.acks);
    assert_eq!(hw.iter().sum::<i64>() as usize, 320 + markers);
    let mut facts = Vec::new();
    for p in 0..3 {
        facts.extend(fetched_batches(&client, &topic, p, hw[p as usize]).await);
    }
    assert_eq!(
        facts.iter().filter(|f| f.1).count(),
        markers,
        "control batches"
    );
    for codec in Compression::ALL {
        let multi = facts
            .iter()
            .filter(|(c, control, n)| *c == codec && !control && *n >= 2)
            .count();
        assert!(multi >= 3, "{codec:?}: {multi} batches of several records");
    }
    eprintln!(
        "java sent {} records ({aborted} aborted) in {} batches, {markers} markers",
        sc.sent.len(),
        facts.len() - markers
    );

    for (is_committed, java) in [(true, java_committed), (false, java_everything)] {
        let what = if is_committed {
            "read_committed"
        } else {
            "read_uncommitted"
        };
        // read_ranges: whole partitions, and cut in ranges of every size from 1 to 9 offsets
        // that end inside batches, inside transactions and on markers.
        let whole = cut(&topic, &hw, i64::MAX);
        let got = read(&client, &whole, is_committed).await;
        assert_same(&got, java, &format!("{what}: whole"));
        for size in [1, 2, 3, 5, 7, 9] {
            let got = read(&client, &cut(&topic, &hw, size), is_committed).await;
            assert_same(&got, java, &format!("{what}: ranges of {size}"));
        }
        // The direct stream, in batches of at most 4 offsets per partition.
        let mut s = stream(&client, &topic, is_committed, 4.0).await;
        let got = stream_until(&mut s, &topic, &hw).await;
        assert_same(&got, java, &format!("{what}: stream"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_java_transaction_holds_read_committed_at_the_lso() {
    let Some((kafka, peer)) = kafka_and_peer("an_open_java_transaction").await else {
        return;
    };
    let client = client(kafka).await;
    let topic = unique_name("java-lso");
    create_topic(&client, &topic, 2).await;
    let tx_id = unique_name("txid-open");
    let txn_props = [
        ("transactional.id", tx_id.as_str()),
        ("compression.type", "lz4"),
        ("linger.ms", "60000"),
    ];
    let plain_props = [
        ("acks", "all"),
        ("enable.idempotence", "true"),
        ("compression.type", "zstd"),
        ("linger.ms", "60000"),
    ];
    // Partition 0: a committed transaction, plain records, a transaction left open, plain
    // records after it. Partition 1: plain records only.
    let mut sc = Scenario::new();
    sc.use_producer("tx").producer(&txn_props).init().begin();
    sc.send(&topic, Some(0))
        .send(&topic, Some(0))
        .send(&topic, Some(0))
        .commit();
    sc.use_producer("plain").producer(&plain_props);
    sc.send(&topic, Some(0))
        .send(&topic, Some(0))
        .send(&topic, Some(1))
        .flush();
    sc.use_producer("tx").begin();
    sc.send(&topic, Some(0))
        .send(&topic, Some(0))
        .send(&topic, Some(0))
        .flush();
    sc.use_producer("plain");
    sc.send(&topic, Some(0))
        .send(&topic, Some(0))
        .send(&topic, Some(1))
        .flush();
    sc.script
        .consume(&topic, &[COMMITTED])
        .consume(&topic, &[UNCOMMITTED])
        .halt();
    let first = run(kafka, &peer, &sc.script).await;
    let offsets: Vec<(i32, i64)> = first.acks.iter().map(|a| (a.partition, a.offset)).collect();
    // 0-2 committed, 3 its marker, 4-5 plain, 6-8 open, 9-10 plain.
    assert_eq!(
        offsets,
        [
            (0, 0),
            (0, 1),
            (0, 2),
            (0, 4),
            (0, 5),
            (1, 0),
            (0, 6),
            (0, 7),
            (0, 8),
            (0, 9),
            (0, 10),
            (1, 1)
        ]
    );
    let (java_committed, java_everything) = (&first.reads[0], &first.reads[1]);
    assert_eq!(
        java_committed.iter().map(seen).collect::<Vec<_>>(),
        sc.expected(&first.acks, true)
    );
    assert_eq!(
        java_everything.iter().map(seen).collect::<Vec<_>>(),
        sc.expected(&first.acks, false)
    );
    assert_eq!(ends(&client, &topic, 2, true).await, [6, 2], "the LSO");
    assert_eq!(
        ends(&client, &topic, 2, false).await,
        [11, 2],
        "the high watermark"
    );

    // gregor's read_committed stream plans its ranges to the LSO, and stays there.
    let mut committed = stream(&client, &topic, true, 100.0).await;
    let mut everything = stream(&client, &topic, false, 100.0).await;
    assert_eq!(
        &stream_until(&mut committed, &topic, &[6, 2]).await,
        java_committed
    );
    assert_eq!(
        &stream_until(&mut everything, &topic, &[11, 2]).await,
        java_everything
    );
    let batch = within("batch", committed.next_batch()).await.unwrap();
    let held: Vec<(i64, i64)> = batch
        .offset_ranges()
        .iter()
        .map(|r| (r.from(), r.until()))
        .collect();
    assert_eq!(
        held,
        [(6, 6), (2, 2)],
        "held at the LSO while the transaction is open"
    );
    drop(batch);
    let whole = [
        OffsetRange::new(topic.as_str(), 0, 0, 6).unwrap(),
        OffsetRange::new(topic.as_str(), 1, 0, 2).unwrap(),
    ];
    assert_eq!(&read(&client, &whole, true).await, java_committed);

    // A new producer of the same transactional id aborts the open transaction (marker at
    // 11), then commits one more (12-13, marker 14).
    let mut second = PeerScript::new();
    second.producer(&txn_props).init_transactions().begin();
    let (key, value, _) = shape(100);
    second
        .send(
            &topic,
            Some(0),
            key.as_deref(),
            value.as_deref(),
            &[("late", Some(b"1"))],
        )
        .send(&topic, Some(0), None, Some(b"last"), &[])
        .flush()
        .commit()
        .close()
        .consume(&topic, &[COMMITTED])
        .consume(&topic, &[UNCOMMITTED]);
    let after = run(kafka, &peer, &second).await;
    let offsets: Vec<i64> = after.acks.iter().map(|a| a.offset).collect();
    assert_eq!(offsets, [12, 13]);
    let (java_committed, java_everything) = (&after.reads[0], &after.reads[1]);
    let committed_offsets: Vec<(i32, i64)> = java_committed
        .iter()
        .map(|r| (r.partition, r.offset))
        .collect();
    assert_eq!(
        committed_offsets,
        [
            (0, 0),
            (0, 1),
            (0, 2),
            (0, 4),
            (0, 5),
            (0, 9),
            (0, 10),
            (0, 12),
            (0, 13),
            (1, 0),
            (1, 1)
        ],
        "the open transaction's records are aborted"
    );
    assert_eq!(
        java_everything.len(),
        14,
        "the aborted records stay in the log"
    );
    assert_eq!(ends(&client, &topic, 2, true).await, [15, 2]);

    // Both gregor streams read on from where they were, to the end.
    let rest_committed = stream_until(&mut committed, &topic, &[15, 2]).await;
    let want: Vec<&PeerRecord> = java_committed
        .iter()
        .filter(|r| r.partition == 0 && r.offset >= 6)
        .collect();
    assert_eq!(rest_committed.iter().collect::<Vec<_>>(), want);
    let rest = stream_until(&mut everything, &topic, &[15, 2]).await;
    let want: Vec<&PeerRecord> = java_everything
        .iter()
        .filter(|r| r.partition == 0 && r.offset >= 11)
        .collect();
    assert_eq!(rest.iter().collect::<Vec<_>>(), want);
    // And read_ranges reads the whole log as Java does, at both levels.
    let whole = cut(&topic, &[15, 2], i64::MAX);
    assert_eq!(&read(&client, &whole, true).await, java_committed);
    assert_eq!(&read(&client, &whole, false).await, java_everything);
}
