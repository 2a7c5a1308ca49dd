//! gregor's direct stream: `DirectStream` assigned every partition from offset 0, default
//! fetch settings (fetch sessions, CRC checks) with the memory budget set when the spec has a
//! limit; each batch's partition readers are read concurrently, one task each.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gregor_consumer::FetchConfig;
use gregor_consumer::direct::{ConsumerStrategy, DirectStream, DirectStreamConfig};
use gregor_consumer::range::TopicPartition;
use gregor_consumer::store::PartitionOffsets;
use gregor_consumer::{FetchError, PartitionReader};
use tokio::task::JoinSet;

use super::{DrainSpec, IDLE_LIMIT, Tally, finish};
use crate::measure::{Mark, Sample, status_kb};
use crate::prefill::connect;
use crate::{BenchError, Result};

async fn open(spec: &DrainSpec) -> Result<DirectStream> {
    let client = connect(&spec.bootstrap).await?;
    let tps: Vec<TopicPartition> = (0..spec.end_offsets.len())
        .map(|p| TopicPartition::new(spec.topic.clone(), p as i32))
        .collect();
    let offsets: BTreeMap<TopicPartition, i64> = tps.iter().map(|tp| (tp.clone(), 0)).collect();
    let mut fetch = FetchConfig::default();
    if spec.memory_limit > 0 {
        fetch = fetch.with_memory_budget(spec.memory_limit);
    }
    let config = DirectStreamConfig::new(ConsumerStrategy::assign(tps).with_offsets(offsets))
        .with_batch_interval(Duration::from_millis(10))
        .with_fetch(fetch);
    Ok(DirectStream::new(client, config, PartitionOffsets::new()).await?)
}

async fn drain_reader(mut reader: PartitionReader) -> std::result::Result<Tally, FetchError> {
    let mut tally = Tally::default();
    while let Some(chunk) = reader.next_chunk().await {
        for r in chunk?.as_slice() {
            tally.add(r.value.as_deref());
        }
    }
    Ok(tally)
}

/// Drains `spec`, or stalls per `spec.stall`.
pub async fn run(spec: &DrainSpec, start_rss: u64) -> Result<Sample> {
    let mark = Mark::now()?;
    let mut stream = open(spec).await?;
    let total = spec.total_records();
    let mut tally = Tally::default();
    if let Some(stall) = spec.stall {
        let batch = stream.next_batch().await?;
        let mut readers = batch.into_partitions();
        if let Some(first) = readers.first_mut()
            && let Some(chunk) = first.next_chunk().await
        {
            for r in chunk?.as_slice().iter().take(1) {
                tally.add(r.value.as_deref());
            }
        }
        tokio::time::sleep(stall).await;
        let mut s = finish(&mark, start_rss, tally)?;
        s.peak_rss = status_kb("VmHWM")?;
        return Ok(s);
    }
    let mut progress = Instant::now();
    while tally.records < total {
        if progress.elapsed() > IDLE_LIMIT {
            return Err(BenchError::Other(format!(
                "no new records planned for {IDLE_LIMIT:?} at {} of {total} \
                 (the broker's latest offset is below its end?)",
                tally.records
            )));
        }
        let before = tally.records;
        let batch = stream.next_batch().await?;
        let mut tasks = JoinSet::new();
        for reader in batch.into_partitions() {
            tasks.spawn(drain_reader(reader));
        }
        while let Some(joined) = tasks.join_next().await {
            let t = joined.map_err(|e| BenchError::Other(format!("reader task: {e}")))??;
            tally.merge(t);
        }
        if tally.records > before {
            progress = Instant::now();
        }
    }
    finish(&mark, start_rss, tally)
}
