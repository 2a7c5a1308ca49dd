//! The fetch engine and read_ranges against our MockCluster.

use std::time::Duration;

use gregor_client::Client;
use gregor_consumer::direct::read::{OnDataLoss, ReadOptions, read_ranges};
use gregor_consumer::fetch::{FetchConfig, FetchEngine, FetchError, IsolationLevel};
use gregor_consumer::range::OffsetRange;
use gregor_protocol::compression::Compression;
use gregor_protocol::messages::FetchRequest;
use gregor_protocol::records::Record;
use gregor_protocol::{ApiKey, ErrorCode, Message};
use gregor_testkit::data::{BatchShape, produce_batch, test_client, values};
use gregor_testkit::mock::{Action, Intercept, MockCluster, MockRecord};

const DEADLINE: Duration = Duration::from_secs(30);

async fn client(cluster: &MockCluster) -> Client {
    test_client(&cluster.bootstrap(), "gregor-fetch-mock-test").await
}

fn fast() -> FetchConfig {
    FetchConfig::default().with_max_wait(Duration::from_millis(50))
}

async fn produce(cluster: &MockCluster, topic: &str, partition: i32, values: &[String]) {
    let records: Vec<MockRecord> = values.iter().map(|v| MockRecord::value(v)).collect();
    cluster.produce(topic, partition, &records).await.unwrap();
}

fn value_of(r: &Record) -> String {
    String::from_utf8(r.value.as_ref().unwrap().to_vec()).unwrap()
}

/// Reads a whole range through `engine`, collecting records.
async fn read_all(
    engine: &FetchEngine,
    range: OffsetRange,
) -> Result<(Vec<Record>, u64), FetchError> {
    let mut reader = engine.read(range);
    let mut out = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        while let Some(chunk) = reader.next_chunk().await {
            let chunk = chunk?;
            for r in chunk.records() {
                assert!(r.offset >= reader.range().from() && r.offset < reader.range().until());
                out.push(r);
            }
        }
        Ok::<_, FetchError>(())
    })
    .await
    .expect("range read before the deadline")?;
    assert!(reader.is_complete());
    Ok((out, reader.consumed().unwrap().records_read()))
}

/// Reads chunks of `reader` into `read` until it holds `count` records (or the range ends),
/// failing the test on a failed chunk.
async fn read_until(
    reader: &mut gregor_consumer::fetch::PartitionReader,
    read: &mut Vec<Record>,
    count: usize,
) {
    while read.len() < count {
        let Some(chunk) = reader.next_chunk().await else {
            return;
        };
        read.extend(chunk.expect("the range waits, it does not fail").records());
    }
}

fn offsets(records: &[Record]) -> Vec<i64> {
    records.iter().map(|r| r.offset).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_exactly_a_range_across_batches_and_codecs() {
    let cluster = MockCluster::builder().topic("t", 1).start().await.unwrap();
    let client = client(&cluster).await;
    for (i, codec) in Compression::ALL.iter().enumerate() {
        let shape = BatchShape::default().compressed(*codec);
        produce_batch(&client, "t", 0, &values(&format!("c{i}"), 10), &shape).await;
    }
    let engine = FetchEngine::new(client.clone(), fast());
    // 3..47 starts and ends mid-batch.
    let (records, read) = read_all(&engine, OffsetRange::new("t", 0, 3, 47).unwrap())
        .await
        .unwrap();
    assert_eq!(offsets(&records), (3..47).collect::<Vec<_>>());
    assert_eq!(read, 44);
    assert_eq!(value_of(&records[0]), "c0-3");
    assert_eq!(value_of(&records[43]), "c4-6");
    // Everything delivered was dropped: nothing stays buffered.
    drop(records);
    assert_eq!(engine.buffered_bytes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_partition_completes_with_fewer_records() {
    let cluster = MockCluster::builder().topic("c", 1).start().await.unwrap();
    for round in 0..3 {
        let recs: Vec<MockRecord> = (0..5)
            .map(|k| MockRecord::kv(&format!("k{k}"), &format!("r{round}")))
            .collect();
        cluster.produce("c", 0, &recs).await.unwrap();
    }
    cluster.compact("c", 0).await.unwrap();
    let client = client(&cluster).await;
    let engine = FetchEngine::new(client, fast());
    let (records, read) = read_all(&engine, OffsetRange::new("c", 0, 0, 15).unwrap())
        .await
        .unwrap();
    assert_eq!(read, 5);
    assert_eq!(offsets(&records), (10..15).collect::<Vec<_>>());
    // A range made only of a compaction gap completes with nothing read.
    let (records, read) = read_all(&engine, OffsetRange::new("c", 0, 2, 9).unwrap())
        .await
        .unwrap();
    assert!(records.is_empty());
    assert_eq!(read, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_read_committed_and_uncommitted() {
    let cluster = MockCluster::builder().topic("x", 1).start().await.unwrap();
    let recs = |p: &str| -> Vec<MockRecord> {
        (0..3)
            .map(|i| MockRecord::value(&format!("{p}{i}")))
            .collect()
    };
    cluster
        .produce_transaction("x", 0, &recs("a"), true)
        .await
        .unwrap(); // 0..3, marker 3
    cluster
        .produce_transaction("x", 0, &recs("b"), false)
        .await
        .unwrap(); // 4..7, marker 7
    cluster.produce("x", 0, &recs("c")).await.unwrap(); // 8..11
    cluster
        .produce_transaction("x", 0, &recs("d"), true)
        .await
        .unwrap(); // 11..14, marker 14
    let client = client(&cluster).await;

    let committed = FetchEngine::new(
        client.clone(),
        fast().with_isolation(IsolationLevel::ReadCommitted),
    );
    let (records, _) = read_all(&committed, OffsetRange::new("x", 0, 0, 15).unwrap())
        .await
        .unwrap();
    let got: Vec<String> = records.iter().map(value_of).collect();
    assert_eq!(got, ["a0", "a1", "a2", "c0", "c1", "c2", "d0", "d1", "d2"]);
    // A range ending on an abort marker completes.
    let (records, read) = read_all(&committed, OffsetRange::new("x", 0, 4, 8).unwrap())
        .await
        .unwrap();
    assert!(records.is_empty());
    assert_eq!(read, 0);

    let uncommitted = FetchEngine::new(client, fast());
    let (records, read) = read_all(&uncommitted, OffsetRange::new("x", 0, 0, 15).unwrap())
        .await
        .unwrap();
    assert_eq!(read, 12);
    assert_eq!(offsets(&records), [0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_start_is_data_loss_or_skipped() {
    let cluster = MockCluster::builder().topic("d", 1).start().await.unwrap();
    produce(&cluster, "d", 0, &values("v", 20)).await;
    cluster.delete_records("d", 0, 8).await.unwrap();
    let client = client(&cluster).await;
    let range = OffsetRange::new("d", 0, 2, 12).unwrap();
    let options = ReadOptions::default().with_fetch(fast());
    let error = read_ranges(&client, std::slice::from_ref(&range), options.clone())
        .await
        .unwrap_err();
    match error {
        FetchError::DataLoss {
            topic,
            partition,
            requested,
            log_start_offset,
        } => {
            assert_eq!(
                (topic.as_str(), partition, requested, log_start_offset),
                ("d", 0, 2, 8)
            );
        }
        other => panic!("expected data loss, got {other:?}"),
    }
    let read = read_ranges(
        &client,
        &[range],
        options.with_on_data_loss(OnDataLoss::SkipToLogStart),
    )
    .await
    .unwrap();
    let r = &read.ranges[0];
    assert_eq!(r.skipped, Some((2, 8)));
    assert_eq!(offsets(&r.records), (8..12).collect::<Vec<_>>());
    assert_eq!(r.consumed.records_read(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_move_and_broker_restart_mid_range_lose_and_duplicate_nothing() {
    let cluster = MockCluster::builder()
        .brokers(2)
        .topic_with_replicas("m", 1, 2)
        .start()
        .await
        .unwrap();
    for i in 0..30 {
        produce(&cluster, "m", 0, &values(&format!("b{i}"), 10)).await;
    }
    let client = client(&cluster).await;
    let config = fast()
        .with_partition_max_bytes(512)
        .with_max_bytes(512)
        .with_memory_budget(1024);
    let engine = FetchEngine::new(client, config);
    let mut reader = engine.read(OffsetRange::new("m", 0, 0, 300).unwrap());
    let mut seen = Vec::new();
    let mut step = 0;
    tokio::time::timeout(DEADLINE, async {
        while let Some(chunk) = reader.next_chunk().await {
            seen.extend(offsets(chunk.unwrap().as_slice()));
            step += 1;
            if step == 2 {
                let info = cluster.partition_info("m", 0).await.unwrap();
                let other = cluster
                    .addresses()
                    .iter()
                    .map(|(id, _)| *id)
                    .find(|id| *id != info.leader)
                    .unwrap();
                cluster.move_leader("m", 0, other).await.unwrap();
            }
            if step == 4 {
                let info = cluster.partition_info("m", 0).await.unwrap();
                cluster.broker_down(info.leader).await.unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
                cluster.broker_up(info.leader).await.unwrap();
            }
        }
    })
    .await
    .expect("read before the deadline");
    assert!(step > 4, "the range took more than four chunks");
    assert_eq!(seen, (0..300).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_budget_bounds_buffered_data() {
    let cluster = MockCluster::builder()
        .brokers(2)
        .topic("b", 16)
        .start()
        .await
        .unwrap();
    let big = "x".repeat(1000);
    for p in 0..16 {
        for _ in 0..10 {
            let recs: Vec<MockRecord> = (0..10).map(|_| MockRecord::value(&big)).collect();
            cluster.produce("b", p, &recs).await.unwrap();
        }
    }
    let client = client(&cluster).await;
    let budget = 64 * 1024;
    let config = fast()
        .with_memory_budget(budget)
        .with_partition_max_bytes(16 * 1024);
    let engine = FetchEngine::new(client, config);
    let mut readers: Vec<_> = (0..16)
        .map(|p| engine.read(OffsetRange::new("b", p, 0, 100).unwrap()))
        .collect();
    // One batch here is 10 records of ~1 KiB. Each broker may overshoot by one batch, and a
    // reader waiting with nothing buffered by one partition fetch.
    let bound = budget + 2 * 12 * 1024 + 16 * 1024;
    let mut max_seen = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        max_seen = max_seen.max(engine.buffered_bytes());
        assert!(
            engine.buffered_bytes() <= bound,
            "{} > {bound}",
            engine.buffered_bytes()
        );
    }
    assert!(max_seen > 0, "something was prefetched");
    // Now consume everything: the budget lets every range complete.
    let mut total = 0;
    for reader in &mut readers {
        tokio::time::timeout(DEADLINE, async {
            while let Some(chunk) = reader.next_chunk().await {
                total += chunk.unwrap().len();
                assert!(
                    engine.buffered_bytes() <= bound,
                    "{} > {bound}",
                    engine.buffered_bytes()
                );
            }
        })
        .await
        .expect("read before the deadline");
    }
    assert_eq!(total, 1600);
    drop(readers);
    assert_eq!(engine.buffered_bytes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sessions_are_used_and_recover_from_eviction() {
    let cluster = MockCluster::builder().topic("s", 2).start().await.unwrap();
    produce(&cluster, "s", 0, &values("a", 50)).await;
    produce(&cluster, "s", 1, &values("b", 50)).await;
    let (rule, mut seen) = Intercept::observe();
    cluster.intercept(ApiKey::Fetch, rule).await;
    let client = client(&cluster).await;
    let config = fast().with_partition_max_bytes(300).with_max_bytes(600);
    let engine = FetchEngine::new(client, config);
    let r0 = engine.read(OffsetRange::new("s", 0, 0, 50).unwrap());
    let (records, _) = read_all(&engine, OffsetRange::new("s", 1, 0, 50).unwrap())
        .await
        .unwrap();
    assert_eq!(records.len(), 50);
    // Evict every session once; the engine must fall back to a full fetch and finish.
    cluster
        .intercept(
            ApiKey::Fetch,
            Intercept::once(Action::Error(ErrorCode::FetchSessionIdNotFound)),
        )
        .await;
    drop(r0);
    let (records, _) = read_all(&engine, OffsetRange::new("s", 0, 10, 50).unwrap())
        .await
        .unwrap();
    assert_eq!(offsets(&records), (10..50).collect::<Vec<_>>());
    let mut incremental = 0;
    let mut full_after_incremental = 0;
    while let Some(req) = seen.try_next() {
        let fetch = FetchRequest::decode_exact(req.body, req.api_version).unwrap();
        if fetch.session_id != 0 {
            incremental += 1;
        } else if incremental > 0 && fetch.session_epoch == 0 {
            full_after_incremental += 1;
        }
    }
    assert!(
        full_after_incremental > 0,
        "a full fetch opened a new session after the eviction"
    );
    assert!(incremental > 0, "incremental fetches were sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_partition_and_beyond_end_fail_typed() {
    let cluster = MockCluster::builder().topic("u", 1).start().await.unwrap();
    produce(&cluster, "u", 0, &values("v", 5)).await;
    let client = client(&cluster).await;
    let engine = FetchEngine::new(client, fast());
    let error = read_all(&engine, OffsetRange::new("u", 0, 0, 10).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::BeyondLogEnd { log_end: 5, .. }),
        "{error:?}"
    );
    let error = read_all(&engine, OffsetRange::new("u", 0, 20, 30).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::BeyondLogEnd { .. }),
        "{error:?}"
    );
    let error = read_all(&engine, OffsetRange::new("nope", 0, 0, 3).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, FetchError::UnknownPartition { .. }),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_below_the_position_is_a_typed_error() {
    let cluster = MockCluster::builder().topic("tr", 1).start().await.unwrap();
    for i in 0..6 {
        produce(&cluster, "tr", 0, &values(&format!("b{i}"), 5)).await;
    }
    let client = client(&cluster).await;
    let config = fast()
        .with_partition_max_bytes(64)
        .with_max_bytes(64)
        .with_memory_budget(64);
    let engine = FetchEngine::new(client, config);
    let mut reader = engine.read(OffsetRange::new("tr", 0, 0, 30).unwrap());
    let first = reader.next_chunk().await.unwrap().unwrap();
    let position = first.next_offset();
    assert!(position < 30);
    drop(first);
    let truncated = cluster.truncate("tr", 0, 2).await.unwrap();
    assert!(truncated.end_offset < position);
    // New records under the new epoch refill the offsets, but they are not the same records.
    for i in 0..6 {
        produce(&cluster, "tr", 0, &values(&format!("new{i}"), 5)).await;
    }
    let error = tokio::time::timeout(DEADLINE, async {
        loop {
            match reader.next_chunk().await {
                Some(Ok(chunk)) => {
                    for r in chunk.records() {
                        assert!(
                            value_of(&r).starts_with('b'),
                            "a record of the new epoch was delivered"
                        );
                    }
                }
                Some(Err(e)) => return e,
                None => panic!("the range completed over a truncated log"),
            }
        }
    })
    .await
    .expect("error before the deadline");
    match error {
        FetchError::Truncated { end_offset, .. } => assert_eq!(end_offset, truncated.end_offset),
        other => panic!("expected truncation, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncompressed_records_are_slices_of_the_fetched_buffer() {
    let cluster = MockCluster::builder().topic("z", 1).start().await.unwrap();
    produce(&cluster, "z", 0, &values("v", 20)).await;
    let client = client(&cluster).await;
    let engine = FetchEngine::new(client, fast());
    let mut reader = engine.read(OffsetRange::new("z", 0, 0, 20).unwrap());
    let mut checked = 0;
    while let Some(chunk) = reader.next_chunk().await {
        let chunk = chunk.unwrap();
        let data = chunk.fetched_data();
        let inside = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
        assert!(
            chunk.budget_bytes() >= data.len(),
            "the chunk holds its bytes of the budget"
        );
        for r in chunk.records() {
            let value = r.value.as_ref().unwrap();
            assert!(inside.contains(&(value.as_ptr() as usize)));
            assert!(inside.contains(&(value.as_ptr() as usize + value.len() - 1)));
            checked += 1;
        }
    }
    assert_eq!(checked, 20);
}

/// A newly elected Kafka leader can show a high watermark below the one its predecessor
/// reported (a follower learns it one fetch late): a stream's range, planned from the old one,
/// waits for it to come back and completes with every record. A range never seen to exist
/// still fails at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_watermark_that_went_backwards_is_waited_out_by_planned_ranges() {
    use gregor_consumer::direct::{
        ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
    };
    use gregor_consumer::store::PartitionOffsets;
    let cluster = std::sync::Arc::new(
        MockCluster::builder()
            .brokers(2)
            .topic("t", 1)
            .start()
            .await
            .unwrap(),
    );
    let client = client(&cluster).await;
    // Four batches of five: a high watermark holds at batch boundaries, as Kafka's does.
    let all = values("v", 20);
    for five in all.chunks(5) {
        produce(&cluster, "t", 0, five).await;
    }
    // One batch per fetch, and no fetch while a batch waits to be read: the reader cannot
    // have prefetched past offset 5 before the leader moves below (a race otherwise).
    let one_batch_at_a_time = fast().with_partition_max_bytes(1).with_memory_budget(1);
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe(["t"]))
        .with_starting(StartingOffsets::Earliest)
        .with_fetch(one_batch_at_a_time);
    let mut stream = DirectStream::new(client.clone(), config, PartitionOffsets::new())
        .await
        .unwrap();
    let batch = stream.next_batch().await.unwrap();
    assert_eq!(batch.offset_ranges()[0].until(), 20);

    // The leader moves, and the new one shows a high watermark of 10 for a while.
    let other = if cluster.partition_info("t", 0).await.unwrap().leader == 1 {
        2
    } else {
        1
    };
    cluster.move_leader("t", 0, other).await.unwrap();
    cluster.hold_high_watermark("t", 0, Some(10)).await.unwrap();
    let mut reader = batch.into_partitions().remove(0);
    let mut read = Vec::new();
    tokio::time::timeout(DEADLINE, read_until(&mut reader, &mut read, 10))
        .await
        .expect("the records below the held high watermark");
    assert_eq!(read.len(), 10);
    assert!(!reader.is_complete(), "the range waits for the rest");
    cluster.hold_high_watermark("t", 0, None).await.unwrap();
    tokio::time::timeout(DEADLINE, read_until(&mut reader, &mut read, 20))
        .await
        .expect("the range completes once the high watermark is back");
    assert!(reader.next_chunk().await.is_none());
    assert_eq!(offsets(&read), (0..20).collect::<Vec<_>>());
    assert!(reader.is_complete());
    let values_read: Vec<String> = read.iter().map(value_of).collect();
    assert_eq!(values_read, all);

    // read_ranges' own range past a high watermark it never saw higher: BeyondLogEnd.
    cluster.hold_high_watermark("t", 0, Some(10)).await.unwrap();
    let engine = FetchEngine::new(client.clone(), fast());
    let err = read_all(&engine, OffsetRange::new("t", 0, 0, 20).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::BeyondLogEnd {
                until: 20,
                log_end: 10,
                ..
            }
        ),
        "{err:?}"
    );
}
