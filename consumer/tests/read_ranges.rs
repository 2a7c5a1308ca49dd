//! read_ranges and the fetch engine against each broker kind that supports the behaviour:
//! our MockCluster, librdkafka's mock cluster, tansu and Apache Kafka.
//! Set GREGOR_TEST_BROKER to run only one kind (`mock`, `rdkafka-mock`, `tansu`, `kafka`).

use std::time::Duration;

use gregor_client::Client;
use gregor_consumer::direct::read::{ReadOptions, read_ranges};
use gregor_consumer::fetch::{FetchConfig, FetchEngine, FetchError};
use gregor_consumer::range::OffsetRange;
use gregor_protocol::compression::Compression;
use gregor_testkit::data::{
    BatchShape, create_topic_on, produce_batch, test_client, unique_name, values,
};
use gregor_testkit::{BrokerKind, TestBroker};

const DEADLINE: Duration = Duration::from_secs(60);

fn kinds() -> Vec<BrokerKind> {
    match std::env::var("GREGOR_TEST_BROKER") {
        Ok(name) if !name.trim().is_empty() => vec![name.trim().parse().expect("a broker kind")],
        _ => vec![
            BrokerKind::Mock,
            BrokerKind::RdkafkaMock,
            BrokerKind::Tansu,
            BrokerKind::Kafka,
        ],
    }
}

/// The client id of this file's clients.
const CLIENT_ID: &str = "gregor-read-ranges-test";

/// A broker of `kind` and a client of it; on the broker, `topic` with three partitions, each
/// with five batches of ten records in different codecs.
async fn filled(kind: BrokerKind, topic: &str) -> (TestBroker, Client) {
    let broker = TestBroker::start_kind_async(kind)
        .await
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
    eprintln!("running on {kind} at {}", broker.bootstrap());
    let client = test_client(&broker.bootstrap(), CLIENT_ID).await;
    // The mock clusters (librdkafka's serves no CreateTopics) take topics through their
    // control API; real brokers through CreateTopics.
    create_topic_on(&broker, &client, topic, 3).await;
    for p in 0..3 {
        for (b, codec) in Compression::ALL.iter().enumerate() {
            let shape = BatchShape::default().compressed(*codec).keyed(b"k");
            produce_batch(&client, topic, p, &values(&format!("p{p}b{b}"), 10), &shape).await;
        }
    }
    (broker, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_ranges_reads_exactly_the_ranges() {
    for kind in kinds() {
        let topic = unique_name("rr");
        let (_broker, client) = filled(kind, &topic).await;
        let ranges = [
            OffsetRange::new(topic.as_str(), 0, 0, 50).unwrap(),
            OffsetRange::new(topic.as_str(), 1, 5, 33).unwrap(),
            OffsetRange::new(topic.as_str(), 2, 17, 17).unwrap(),
            OffsetRange::new(topic.as_str(), 2, 49, 50).unwrap(),
        ];
        let options = ReadOptions::default().with_fetch(
            FetchConfig::default()
                .with_max_wait(Duration::from_millis(100))
                .with_partition_max_bytes(200),
        );
        let read = tokio::time::timeout(DEADLINE, read_ranges(&client, &ranges, options))
            .await
            .expect("read before the deadline")
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(read.len(), 4);
        for (range, got) in ranges.iter().zip(read.iter()) {
            let offsets: Vec<i64> = got.records.iter().map(|r| r.offset).collect();
            assert_eq!(
                offsets,
                (range.from()..range.until()).collect::<Vec<_>>(),
                "{kind} {range:?}"
            );
            assert_eq!(got.consumed.records_read(), range.count());
            for r in &got.records {
                let b = (r.offset / 10) as usize;
                let want = format!("p{}b{b}-{}", range.partition(), r.offset % 10);
                assert_eq!(r.value.as_deref(), Some(want.as_bytes()), "{kind}");
                assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_reads_many_ranges_concurrently_and_fails_past_the_end() {
    for kind in kinds() {
        let topic = unique_name("ec");
        let (_broker, client) = filled(kind, &topic).await;
        let engine = FetchEngine::new(
            client.clone(),
            FetchConfig::default()
                .with_max_wait(Duration::from_millis(100))
                .with_memory_budget(4096),
        );
        let mut readers: Vec<_> = (0..3)
            .map(|p| engine.read(OffsetRange::new(topic.as_str(), p, 10, 40).unwrap()))
            .collect();
        for reader in readers.iter_mut().rev() {
            let mut next = 10;
            tokio::time::timeout(DEADLINE, async {
                while let Some(chunk) = reader.next_chunk().await {
                    for r in chunk.unwrap().records() {
                        assert_eq!(r.offset, next, "{kind}");
                        next += 1;
                    }
                }
            })
            .await
            .expect("read before the deadline");
            assert_eq!(next, 40);
            assert_eq!(reader.consumed().unwrap().records_read(), 30);
        }
        drop(readers);
        let mut past = engine.read(OffsetRange::new(topic.as_str(), 0, 45, 60).unwrap());
        let mut delivered = 0;
        let error = tokio::time::timeout(DEADLINE, async {
            loop {
                match past.next_chunk().await {
                    Some(Ok(chunk)) => delivered += chunk.len(),
                    Some(Err(e)) => return e,
                    None => panic!("{kind}: a range past the end completed"),
                }
            }
        })
        .await
        .expect("error before the deadline");
        assert_eq!(delivered, 5, "{kind}: the records that exist come first");
        assert!(
            matches!(error, FetchError::BeyondLogEnd { log_end: 50, .. }),
            "{kind}: {error:?}"
        );
    }
}

/// Many adjacent ranges of the same partitions at once, of one to seven offsets, each inside
/// or across batches, prefetched together before they are read: each reads exactly its
/// records. (A Fetch request names a partition once, so ranges of one partition must not share
/// an answer fetched for another's position.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adjacent_ranges_of_one_partition_read_exactly_their_records() {
    for kind in kinds() {
        let (_broker, client) = filled(kind, "adj").await;
        let engine = FetchEngine::new(
            client.clone(),
            FetchConfig::default().with_max_wait(Duration::from_millis(100)),
        );
        let mut readers = Vec::new();
        for p in 0..2 {
            let (mut from, mut size) = (0, 1);
            while from < 50 {
                let until = (from + size).min(50);
                readers.push(engine.read(OffsetRange::new("adj", p, from, until).unwrap()));
                from = until;
                size = size % 7 + 1;
            }
        }
        // Nobody reads yet: the engine prefetches every range (the requests then name each
        // partition for several ranges at once).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut total = 0;
        for reader in &mut readers {
            let range = reader.range().clone();
            let mut offsets = Vec::new();
            tokio::time::timeout(DEADLINE, async {
                while let Some(chunk) = reader.next_chunk().await {
                    for r in chunk.unwrap().records() {
                        let b = r.offset / 10;
                        let want = format!("p{}b{b}-{}", range.partition(), r.offset % 10);
                        assert_eq!(r.value.as_deref(), Some(want.as_bytes()), "{kind}");
                        offsets.push(r.offset);
                    }
                }
            })
            .await
            .expect("read before the deadline");
            assert_eq!(
                offsets,
                (range.from()..range.until()).collect::<Vec<_>>(),
                "{kind} {range}"
            );
            total += offsets.len();
        }
        assert_eq!(total, 100, "{kind}");
    }
}
