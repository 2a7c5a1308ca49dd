//! gregor's group consumer: `GroupConsumer::subscribe` to the topic in a fresh group (range
//! assignor, the only member, so it is assigned every partition), from the earliest offset,
//! auto-commit off, default fetch settings (the direct stream's) with the memory budget set
//! when the spec has a limit; records taken from each `GroupEvent::Records` chunk's slice on
//! the application's task (`next()` acknowledges the chunk before).

use std::time::Duration;

use gregor_consumer::group::config::GroupConfig;
use gregor_consumer::{FetchConfig, GroupConsumer, GroupEvent, OffsetReset};

use super::{DrainSpec, IDLE_LIMIT, Tally, finish};
use crate::measure::{Mark, Sample, status_kb};
use crate::prefill::connect;
use crate::{BenchError, Result};

/// A group id no other run used.
pub fn fresh_group(client: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("bench-{client}-{}-{nanos}", std::process::id())
}

/// Drains `spec`, or stalls per `spec.stall`.
pub async fn run(spec: &DrainSpec, start_rss: u64) -> Result<Sample> {
    let mark = Mark::now()?;
    let client = connect(&spec.bootstrap).await?;
    let mut fetch = FetchConfig::default();
    if spec.memory_limit > 0 {
        fetch = fetch.with_memory_budget(spec.memory_limit);
    }
    let config = GroupConfig::new(fresh_group("gregor-group"))
        .with_assignors(["range"])
        .with_auto_commit(false)
        .with_auto_offset_reset(OffsetReset::Earliest)
        .with_fetch(fetch);
    let mut consumer = GroupConsumer::subscribe(client, &config, [spec.topic.clone()])?;
    let total = spec.total_records();
    let mut tally = Tally::default();
    while tally.records < total {
        let event = tokio::time::timeout(IDLE_LIMIT, consumer.next())
            .await
            .map_err(|_| {
                BenchError::Other(format!(
                    "no event for {IDLE_LIMIT:?} after {} of {total}",
                    tally.records
                ))
            })??;
        if let GroupEvent::Records(chunk) = event {
            for r in chunk.as_slice() {
                tally.add(r.value.as_deref());
                if spec.stall.is_some() {
                    break;
                }
            }
            if let Some(stall) = spec.stall {
                tokio::time::sleep(stall).await;
                let mut s = finish(&mark, start_rss, tally)?;
                s.peak_rss = status_kb("VmHWM")?;
                return Ok(s);
            }
        }
    }
    let sample = finish(&mark, start_rss, tally)?;
    // Leave the group (not measured).
    let _ = tokio::time::timeout(Duration::from_secs(5), consumer.close()).await;
    Ok(sample)
}
