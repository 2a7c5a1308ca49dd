//! `DirectStream::into_batches`: the direct stream as a `futures::Stream` yields the batches
//! `next_batch` plans, in the same order with the same ranges and records; an error does not
//! end it; an item cancelled while planning continues at the next poll. On our MockCluster.

// per_kind! is for tests run on several broker kinds; these need only the mock.
#[allow(unused_macros, unused_imports)]
mod stream_support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use gregor_consumer::direct::rate::{PlanError, RateLimits};
use gregor_consumer::direct::{
    Batch, Batches, ConsumerStrategy, DirectStream, StartingOffsets, StreamError,
};
use gregor_consumer::range::OffsetRange;
use gregor_consumer::store::PartitionOffsets;
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{create_topic, produce, unique_name, values, within};
use stream_support::{broker, client, config, key, start_positions};

/// A batch as seen by the application: its ranges, and each range's records as
/// (partition, offset, value).
type Seen = (Vec<OffsetRange>, Vec<(i32, i64, String)>);

/// Reads every record of `batch`.
async fn read(batch: Batch) -> Seen {
    let ranges = batch.offset_ranges().to_vec();
    let mut records = Vec::new();
    for mut reader in batch.into_partitions() {
        let partition = reader.range().partition();
        while let Some(chunk) = within("next chunk", reader.next_chunk()).await {
            for record in chunk.unwrap().records() {
                let value = record.value.as_deref().unwrap_or_default();
                records.push((
                    partition,
                    record.offset,
                    String::from_utf8_lossy(value).into_owned(),
                ));
            }
        }
    }
    (ranges, records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn into_batches_yields_what_next_batch_does() {
    let broker = broker(BrokerKind::Mock).await;
    let client = client(&broker).await;
    let topic = unique_name("futures");
    create_topic(&client, &topic, 2).await;
    produce(&client, &topic, 0, &values("a", 23), 7).await;
    produce(&client, &topic, 1, &values("b", 9), 7).await;
    // 200 records/s over 20 ms: at most 4 offsets per partition and batch, so the backlog
    // takes six batches.
    let settings = config(ConsumerStrategy::subscribe([topic.clone()]))
        .with_rates(RateLimits::new().with_max_per_partition(200.0));
    let targets = BTreeMap::from([(key(&topic, 0), 23), (key(&topic, 1), 9)]);

    let mut by_call = within(
        "stream",
        DirectStream::new(client.clone(), settings.clone(), PartitionOffsets::new()),
    )
    .await
    .unwrap();
    let mut expected = Vec::new();
    while by_call.positions() != &targets {
        assert!(expected.len() < 100, "positions {:?}", by_call.positions());
        let batch = within("next batch", by_call.next_batch()).await.unwrap();
        expected.push(read(batch).await);
    }
    assert_eq!(expected.len(), 6);

    let mut batches = within(
        "stream",
        DirectStream::new(client.clone(), settings, PartitionOffsets::new()),
    )
    .await
    .unwrap()
    .into_batches();
    let mut got = Vec::new();
    for _ in 0..expected.len() {
        let batch = within("next item", batches.next()).await;
        got.push(read(batch.expect("the stream never ends").unwrap()).await);
    }
    assert_eq!(got, expected);
    let records: usize = got.iter().map(|(_, r)| r.len()).sum();
    assert_eq!(records, 32, "every record once");

    // Between items the stream is reachable, and comes back whole.
    assert_eq!(batches.get_ref().unwrap().positions(), &targets);
    let stream = batches.into_inner().unwrap();
    assert_eq!(stream.positions(), &targets);
    // Once caught up, items keep coming, with empty ranges.
    let mut batches = stream.into_batches();
    let (ranges, records) = read(batches.next().await.unwrap().unwrap()).await;
    assert!(ranges.iter().all(|r| r.count() == 0), "{ranges:?}");
    assert!(records.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_does_not_end_the_stream() {
    let broker = broker(BrokerKind::Mock).await;
    let mock = broker.mock().unwrap();
    let client = client(&broker).await;
    let topic = unique_name("futures-err");
    create_topic(&client, &topic, 1).await;
    produce(&client, &topic, 0, &values("a", 10), 1).await;
    let stream = start_positions(
        &client,
        ConsumerStrategy::subscribe([topic.clone()]),
        StartingOffsets::Latest,
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    mock.truncate(&topic, 0, 6).await.unwrap();
    let mut batches = stream.into_batches();
    for attempt in 0..2 {
        match within("next item", batches.next()).await {
            Some(Err(StreamError::Plan(PlanError::OffsetBehindCurrent {
                current,
                latest,
                ..
            }))) => assert_eq!((current, latest), (10, 6), "attempt {attempt}"),
            other => panic!("attempt {attempt}: {other:?}"),
        }
        assert_eq!(
            batches.get_ref().unwrap().positions(),
            &BTreeMap::from([(key(&topic, 0), 10)]),
            "a failed batch leaves the positions alone"
        );
    }
}

/// Under paused tokio time (our mock runs on the test's runtime), a wait for the next batch
/// cut short by a timeout leaves the planning in the adapter, and the next poll finishes it.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_item_cancelled_while_planning_continues() {
    let broker = broker(BrokerKind::Mock).await;
    let client = client(&broker).await;
    let topic = unique_name("futures-cancel");
    create_topic(&client, &topic, 1).await;
    let interval = Duration::from_secs(600);
    let stream = DirectStream::new(
        client.clone(),
        config(ConsumerStrategy::subscribe([topic.clone()])).with_batch_interval(interval),
        PartitionOffsets::new(),
    )
    .await
    .unwrap();
    let mut batches = stream.into_batches();
    let first = batches.next().await.unwrap().unwrap();
    assert!(batches.get_mut().is_some());

    let cut = tokio::time::timeout(Duration::from_secs(1), batches.next()).await;
    assert!(cut.is_err(), "the second batch is due in 600 s");
    assert!(
        batches.get_mut().is_none(),
        "the stream is inside the planning"
    );
    let mut batches = batches.into_inner().expect_err("still planning");

    let second = batches.next().await.unwrap().unwrap();
    assert!(second.started_at() - first.started_at() >= interval);
    assert!(batches.get_mut().is_some());
}

/// The adapter can move to other tasks.
#[allow(dead_code)]
fn batches_are_send(batches: Batches) {
    fn is_send<T: Send>(_: T) {}
    is_send(batches);
}
