//! gregor's side of the interoperability tests: end offsets, `read_ranges` and the direct
//! stream read into the Java peer's record form, and a raw look at the batches in the log.

use std::time::Duration;

use gregor_client::admin::OffsetSpec;
use gregor_client::{Admin, Client, Purpose};
use gregor_consumer::TopicPartition;
use gregor_consumer::direct::rate::RateLimits;
use gregor_consumer::direct::read::{ReadOptions, read_ranges};
use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
};
use gregor_consumer::fetch::{FetchConfig, IsolationLevel, PartitionReader};
use gregor_consumer::range::OffsetRange;
use gregor_consumer::store::PartitionOffsets;
use gregor_protocol::compression::Compression;
use gregor_protocol::primitives::Uuid;
use gregor_protocol::records::{DecodeOptions, batches};
use gregor_testkit::data::{partition_fetch, within};
use gregor_testkit::kafka::peer::PeerRecord;

use super::as_peer;

pub fn isolation(committed: bool) -> IsolationLevel {
    if committed {
        IsolationLevel::ReadCommitted
    } else {
        IsolationLevel::ReadUncommitted
    }
}

/// The end offset of each of `topic`'s `partitions` partitions: the last stable offset under
/// `read_committed`, else the high watermark.
pub async fn ends(client: &Client, topic: &str, partitions: i32, committed: bool) -> Vec<i64> {
    let asked: Vec<_> = (0..partitions)
        .map(|p| (TopicPartition::new(topic, p), OffsetSpec::Latest))
        .collect();
    let listed = within(
        "list offsets",
        Admin::new(client.clone()).list_offsets(&asked, isolation(committed)),
    )
    .await
    .unwrap();
    listed
        .into_values()
        .map(|r| r.expect("an offset").offset)
        .collect()
}

/// `read_ranges` over `ranges` at the isolation level, as the peer's records.
pub async fn read(client: &Client, ranges: &[OffsetRange], committed: bool) -> Vec<PeerRecord> {
    let options = ReadOptions::default().with_fetch(
        FetchConfig::default()
            .with_isolation(isolation(committed))
            .with_max_wait(Duration::from_millis(100))
            .with_partition_max_bytes(1024),
    );
    let read = within("read_ranges", read_ranges(client, ranges, options))
        .await
        .unwrap_or_else(|e| panic!("read_ranges: {e}"));
    let mut out = Vec::new();
    for got in read.iter() {
        let p = got.consumed.range().partition();
        assert_eq!(got.consumed.records_read(), got.records.len() as u64);
        out.extend(got.records.iter().map(|r| as_peer(p, r)));
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    out
}

/// Every partition's range `[0, end)` cut into consecutive ranges of `size` offsets.
pub fn cut(topic: &str, ends: &[i64], size: i64) -> Vec<OffsetRange> {
    let mut out = Vec::new();
    for (p, &end) in ends.iter().enumerate() {
        let mut from = 0;
        while from < end {
            let until = (from + size).min(end);
            out.push(OffsetRange::new(topic, p as i32, from, until).unwrap());
            from = until;
        }
    }
    out
}

/// Reads every record of `reader`, checking each lies inside its range and the reader then
/// reports itself complete with that many records read.
pub async fn drain(mut reader: PartitionReader) -> Vec<PeerRecord> {
    let range = reader.range().clone();
    let mut out = Vec::new();
    while let Some(chunk) = within("next chunk", reader.next_chunk()).await {
        let chunk = chunk.unwrap_or_else(|e| panic!("reading {range}: {e}"));
        for record in chunk.records() {
            assert!(
                record.offset >= range.from() && record.offset < range.until(),
                "record at {} outside {range}",
                record.offset
            );
            out.push(as_peer(range.partition(), &record));
        }
    }
    assert!(reader.is_complete(), "{range} complete");
    let consumed = reader
        .consumed()
        .expect("a complete reader's consumed range");
    assert_eq!(consumed.records_read(), out.len() as u64, "{range}");
    out
}

/// A direct stream over `topic` from the earliest offsets at the isolation level; `per_batch`
/// bounds each batch's range per partition (offsets per 20 ms batch).
pub async fn stream(client: &Client, topic: &str, committed: bool, per_batch: f64) -> DirectStream {
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.to_owned()]))
        .with_batch_interval(Duration::from_millis(20))
        .with_starting(StartingOffsets::Earliest)
        .with_rates(RateLimits::new().with_max_per_partition(per_batch * 50.0))
        .with_fetch(
            FetchConfig::default()
                .with_isolation(isolation(committed))
                .with_max_wait(Duration::from_millis(100)),
        );
    within(
        "stream",
        DirectStream::new(client.clone(), config, PartitionOffsets::new()),
    )
    .await
    .unwrap()
}

/// Runs batches of `stream` until its positions reach `ends`, reading every range (no range
/// reaches past `ends`); returns the records in partition, then offset order.
pub async fn stream_until(stream: &mut DirectStream, topic: &str, ends: &[i64]) -> Vec<PeerRecord> {
    let targets: PartitionOffsets = ends
        .iter()
        .enumerate()
        .map(|(p, &e)| (TopicPartition::new(topic, p as i32), e))
        .collect();
    let mut out = Vec::new();
    let mut batches = 0;
    while stream.positions() != &targets {
        batches += 1;
        assert!(batches < 500, "stream stuck at {:?}", stream.positions());
        let batch = within("batch", stream.next_batch()).await.unwrap();
        for range in batch.offset_ranges() {
            let end = ends[range.partition() as usize];
            assert!(range.until() <= end, "{range} past the end {end}");
        }
        let tasks: Vec<_> = batch
            .into_partitions()
            .into_iter()
            .map(|r| tokio::spawn(drain(r)))
            .collect();
        for task in tasks {
            out.extend(task.await.unwrap());
        }
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    out
}

/// What one fetched batch is: its codec, whether it is a control batch, its record count.
pub type BatchFacts = (Compression, bool, usize);

/// Every batch of `topic`'s `partition` up to `end`, with raw Fetch requests
/// (`read_uncommitted`): the premise check that Java wrote what the test means it to.
pub async fn fetched_batches(
    client: &Client,
    topic: &str,
    partition: i32,
    end: i64,
) -> Vec<BatchFacts> {
    let (leader, _) = client.leader(topic, partition).await.unwrap();
    let conn = client.connection(leader, Purpose::Fetch).await.unwrap();
    let id = client
        .metadata()
        .topic(topic)
        .map(|t| t.id)
        .unwrap_or(Uuid::ZERO);
    let mut offset = 0;
    let mut out = Vec::new();
    while offset < end {
        let response = within(
            "fetch",
            conn.send_with(|version| {
                partition_fetch(topic, id, partition, offset, 1 << 20, 100, version)
            }),
        )
        .await
        .unwrap();
        let data = response.responses[0].partitions[0]
            .records
            .clone()
            .unwrap_or_default();
        let before = offset;
        for batch in batches(data, &DecodeOptions::default()) {
            let batch = batch.unwrap();
            if batch.last_offset() >= offset {
                out.push((
                    batch.compression(),
                    batch.is_control(),
                    batch.record_count(),
                ));
                offset = batch.next_offset();
            }
        }
        assert!(
            offset > before,
            "{topic}-{partition}: no batch at {offset} below {end}"
        );
    }
    out
}
