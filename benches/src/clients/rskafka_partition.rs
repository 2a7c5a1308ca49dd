//! rskafka's `PartitionClient`: one client per partition, a `fetch_records` loop per
//! partition on its own task (rskafka has no prefetching; the application asks per fetch).

use rskafka::client::ClientBuilder;
use rskafka::client::partition::UnknownTopicHandling;
use tokio::task::JoinSet;

use super::{DrainSpec, MAX_WAIT_MS, PARTITION_MAX_BYTES, Tally, finish};
use crate::measure::{Mark, Sample};
use crate::{BenchError, Result};

/// Drains `spec` (stalling is not offered: rskafka does not prefetch).
pub async fn run(spec: &DrainSpec, start_rss: u64) -> Result<Sample> {
    let mark = Mark::now()?;
    let client = ClientBuilder::new(vec![spec.bootstrap.clone()])
        .build()
        .await?;
    let mut tasks = JoinSet::new();
    for (p, &end) in spec.end_offsets.iter().enumerate() {
        let pc = client
            .partition_client(spec.topic.clone(), p as i32, UnknownTopicHandling::Retry)
            .await?;
        tasks.spawn(async move {
            let mut tally = Tally::default();
            let mut next = 0i64;
            while next < end {
                let (records, _high_watermark) = pc
                    .fetch_records(next, 1..PARTITION_MAX_BYTES, MAX_WAIT_MS)
                    .await?;
                for r in records {
                    if r.offset >= next {
                        tally.add(r.record.value.as_deref());
                        next = r.offset + 1;
                    }
                }
            }
            Ok::<Tally, BenchError>(tally)
        });
    }
    let mut tally = Tally::default();
    while let Some(joined) = tasks.join_next().await {
        tally.merge(joined.map_err(|e| BenchError::Other(format!("fetch task: {e}")))??);
    }
    finish(&mark, start_rss, tally)
}
