//! Open-ended readers of the fetch engine (what the group consumer reads through) on our mock
//! and on Apache Kafka: following a partition while a producer appends, revoking a partition
//! while a fetch for it is in flight, pausing with memory held flat, starting at the log start
//! or end, and seeking back.
//!
//! `GREGOR_FOLLOW_SECS` sets how long the producer of the follow test appends (default 30).

mod stream_support;

use std::time::{Duration, Instant};

use gregor_consumer::fetch::{
    FetchConfig, FetchEngine, FetchError, OffsetReset, PartitionReader, StartAt,
};
use gregor_consumer::range::TopicPartition;
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{BatchShape, create_topic_on, produce_batch, unique_name, within};
use stream_support::{broker, client, per_kind};

/// A value the tests produce: `n` as text, so order is checked by parsing it back.
fn value(n: u64) -> String {
    format!("{n:08}")
}

/// Reads `reader` until it has delivered `count` records; returns `(offset, value)` pairs.
async fn read(reader: &mut PartitionReader, count: usize) -> Vec<(i64, u64)> {
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        let chunk = reader
            .next_chunk()
            .await
            .unwrap_or_else(|| panic!("the reader ended after {} records", got.len()))
            .unwrap_or_else(|e| panic!("reading after {} records: {e}", got.len()));
        for record in chunk.as_slice() {
            let value = record.value.as_deref().expect("a value");
            let n: u64 = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse().ok())
                .expect("a number");
            got.push((record.offset, n));
        }
    }
    got
}

/// Produces `count` values from `first`, five to a batch.
async fn produce_values(
    client: &gregor_client::Client,
    topic: &str,
    partition: i32,
    first: u64,
    count: u64,
) {
    let values: Vec<String> = (first..first + count).map(value).collect();
    for chunk in values.chunks(5) {
        produce_batch(client, topic, partition, chunk, &BatchShape::default()).await;
    }
}

/// A broker of `kind`, a client of it, and a new topic of `partitions` partitions.
async fn topic_on(
    kind: BrokerKind,
    prefix: &str,
    partitions: i32,
) -> (gregor_testkit::TestBroker, gregor_client::Client, String) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name(prefix);
    create_topic_on(&broker, &client, &topic, partitions).await;
    (broker, client, topic)
}

fn fetch_config() -> FetchConfig {
    FetchConfig::default().with_max_wait(Duration::from_millis(200))
}

fn follow_secs() -> u64 {
    std::env::var("GREGOR_FOLLOW_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
}

/// An open-ended reader follows a partition while a producer appends for 30 s: every record
/// once, in order, with the reader waiting at the log end between appends.
async fn follows_a_partition_while_a_producer_appends(kind: BrokerKind) {
    let (_broker, client, topic) = topic_on(kind, "follow", 1).await;
    let engine = FetchEngine::new(client.clone(), fetch_config());
    let mut reader = engine.follow(
        TopicPartition::new(topic.as_str(), 0),
        StartAt::Earliest,
        OffsetReset::Fail,
    );
    assert!(reader.is_open_ended());
    let mut producer = {
        let client = client.clone();
        let topic = topic.clone();
        tokio::spawn(async move {
            let until = Instant::now() + Duration::from_secs(follow_secs());
            let mut produced = 0u64;
            while Instant::now() < until {
                produce_values(&client, &topic, 0, produced, 5).await;
                produced += 5;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            produced
        })
    };
    // Read while the producer runs; the reader keeps up, waiting at the log end between
    // appends.
    let mut got = Vec::new();
    let produced = loop {
        tokio::select! {
            produced = &mut producer => break produced.expect("the producer"),
            chunk = reader.next_chunk() => {
                let chunk = chunk.expect("an open-ended reader does not end").expect("a chunk");
                got.extend(chunk.as_slice().iter().map(|r| {
                    let value = std::str::from_utf8(r.value.as_deref().unwrap_or_default())
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok())
                        .expect("a number");
                    (r.offset, value)
                }));
            }
        }
    };
    let rest = usize::try_from(produced).unwrap() - got.len();
    got.extend(within("the rest of the records", read(&mut reader, rest)).await);
    assert!(produced > 100, "{kind}: only {produced} records produced");
    let values: Vec<u64> = got.iter().map(|(_, v)| *v).collect();
    assert_eq!(
        values,
        (0..produced).collect::<Vec<_>>(),
        "{kind}: every record once, in order"
    );
    assert!(
        got.windows(2).all(|w| w[0].0 < w[1].0),
        "{kind}: offsets increase"
    );
    assert_eq!(reader.position(), got.last().unwrap().0 + 1);
    // At the log end, the reader waits (it neither ends nor fails).
    let more = tokio::time::timeout(Duration::from_millis(500), reader.next_chunk()).await;
    assert!(more.is_err(), "{kind}: at the log end the reader waits");
}

per_kind!(follows_a_partition_while_a_producer_appends: mock => Mock, kafka => Kafka);

/// A revoke while a fetch for the partition is in flight returns only once that fetch is
/// over, and nothing is delivered for the revoked partition afterwards, while the other
/// partition of the same request keeps flowing.
async fn a_revoke_while_a_fetch_is_in_flight_delivers_nothing_after(kind: BrokerKind) {
    let (_broker, client, topic) = topic_on(kind, "revoke", 2).await;
    // A broker holds each request for a second unless a megabyte is there: requests are in
    // flight most of the time.
    let config = FetchConfig::default()
        .with_max_wait(Duration::from_secs(1))
        .with_min_bytes(1 << 20);
    let engine = FetchEngine::new(client.clone(), config);
    let (a, b) = (
        TopicPartition::new(topic.as_str(), 0),
        TopicPartition::new(topic.as_str(), 1),
    );
    let mut reader_a = engine.follow(a.clone(), StartAt::Offset(0), OffsetReset::Fail);
    let mut reader_b = engine.follow(b.clone(), StartAt::Offset(0), OffsetReset::Fail);
    produce_values(&client, &topic, 0, 0, 10).await;
    produce_values(&client, &topic, 1, 0, 10).await;
    assert_eq!(
        within("a's first records", read(&mut reader_a, 10))
            .await
            .len(),
        10
    );
    assert_eq!(
        within("b's first records", read(&mut reader_b, 10))
            .await
            .len(),
        10
    );
    // Both readers wait at the log end: a long poll for both is in flight. Records land
    // while it waits, and the revoke comes before the broker answers.
    let waiting_a = reader_a.position();
    produce_values(&client, &topic, 0, 10, 10).await;
    produce_values(&client, &topic, 1, 10, 10).await;
    within("the revoke", engine.revoke(std::slice::from_ref(&a))).await;
    assert!(reader_a.is_revoked());
    assert!(
        matches!(
            reader_a.seek(StartAt::Offset(0)),
            Err(FetchError::InvalidSeek { .. })
        ),
        "a revoked reader cannot seek, before it has seen the revoke too"
    );
    assert!(
        reader_a.next_chunk().await.is_none(),
        "{kind}: nothing for the revoked partition"
    );
    assert_eq!(reader_a.position(), waiting_a, "{kind}: the position stays");
    produce_values(&client, &topic, 0, 20, 10).await;
    let b_rest = within("b's later records", read(&mut reader_b, 10)).await;
    let values: Vec<u64> = b_rest.iter().map(|(_, v)| *v).collect();
    assert_eq!(values, (10..20).collect::<Vec<_>>());
    assert!(reader_a.next_chunk().await.is_none());
    assert!(
        reader_a.seek(StartAt::Offset(0)).is_err(),
        "a revoked reader stays revoked"
    );
    // The partition can be followed again from where the revoked reader stopped.
    let mut again = engine.follow(a.clone(), StartAt::Offset(waiting_a), OffsetReset::Fail);
    let rest = within("a's records after the revoke", read(&mut again, 20)).await;
    let values: Vec<u64> = rest.iter().map(|(_, v)| *v).collect();
    assert_eq!(values, (10..30).collect::<Vec<_>>());
    // A revoke waiting for the long poll in flight ends when the reader is dropped meanwhile.
    let revoking = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.revoke(std::slice::from_ref(&a)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(again);
    within("a revoke whose reader was dropped", revoking)
        .await
        .expect("the revoke");
}

per_kind!(a_revoke_while_a_fetch_is_in_flight_delivers_nothing_after: mock => Mock, kafka => Kafka);

/// A paused partition is not fetched: while the producer appends, the engine's buffered
/// bytes stay where they were; resumed, the reader gets every record once.
async fn pause_holds_memory_flat(kind: BrokerKind) {
    let (_broker, client, topic) = topic_on(kind, "pause", 1).await;
    let engine = FetchEngine::new(client.clone(), fetch_config());
    let tp = TopicPartition::new(topic.as_str(), 0);
    let mut reader = engine.follow(tp.clone(), StartAt::Offset(0), OffsetReset::Fail);
    produce_values(&client, &topic, 0, 0, 50).await;
    let first = within("the first records", read(&mut reader, 50)).await;
    assert_eq!(first.len(), 50);
    engine.pause(std::slice::from_ref(&tp));
    // Let a request already in flight come back.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let held = engine.buffered_bytes();
    let mut samples = Vec::new();
    for round in 0..10u64 {
        produce_values(&client, &topic, 0, 50 + round * 100, 100).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        samples.push(engine.buffered_bytes());
    }
    assert!(
        samples.iter().all(|&s| s == held),
        "{kind}: buffered bytes moved while paused: {held} then {samples:?}"
    );
    let idle = tokio::time::timeout(Duration::from_millis(300), reader.next_chunk()).await;
    assert!(idle.is_err(), "{kind}: a paused reader gets nothing new");
    assert_eq!(reader.position(), 50);
    engine.resume(std::slice::from_ref(&tp));
    let rest = within("the records after resuming", read(&mut reader, 1000)).await;
    let values: Vec<u64> = rest.iter().map(|(_, v)| *v).collect();
    assert_eq!(values, (50..1050).collect::<Vec<_>>());
}

per_kind!(pause_holds_memory_flat: mock => Mock, kafka => Kafka);

/// Starting at the log end reads only what comes after; at the log start, everything; a
/// seek back reads again from there and drops what was buffered.
async fn starts_at_the_log_start_or_end_and_seeks_back(kind: BrokerKind) {
    let (_broker, client, topic) = topic_on(kind, "starts", 1).await;
    produce_values(&client, &topic, 0, 0, 20).await;
    let engine = FetchEngine::new(client.clone(), fetch_config());
    let tp = TopicPartition::new(topic.as_str(), 0);
    let mut latest = engine.follow(tp.clone(), StartAt::Latest, OffsetReset::Fail);
    let mut earliest = engine.follow(tp.clone(), StartAt::Earliest, OffsetReset::Fail);
    let all = within("from the start", read(&mut earliest, 20)).await;
    assert_eq!(all.first(), Some(&(0, 0)));
    // Let the latest reader's lookup land before more records come.
    let idle = tokio::time::timeout(Duration::from_millis(500), latest.next_chunk()).await;
    assert!(idle.is_err());
    assert_eq!(latest.position(), 20, "{kind}: placed at the log end");
    produce_values(&client, &topic, 0, 20, 5).await;
    let new = within("after the end", read(&mut latest, 5)).await;
    assert_eq!(
        new.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        [20, 21, 22, 23, 24]
    );
    // Seek back: the next records are from offset 3 again.
    earliest.seek(StartAt::Offset(3)).expect("a seek");
    let again = within("after the seek", read(&mut earliest, 22)).await;
    assert_eq!(again.first(), Some(&(3, 3)));
    assert_eq!(again.last(), Some(&(24, 24)));
    // An out-of-range start with the Earliest policy moves to the log start.
    let mut past = engine.follow(tp, StartAt::Offset(1_000), OffsetReset::Earliest);
    let from_start = within("after the reset", read(&mut past, 25)).await;
    assert_eq!(from_start.first(), Some(&(0, 0)));
}

per_kind!(starts_at_the_log_start_or_end_and_seeks_back: mock => Mock, kafka => Kafka);
