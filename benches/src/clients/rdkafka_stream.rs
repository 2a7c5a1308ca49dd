//! rust-rdkafka's `StreamConsumer` (librdkafka): the same configuration as the
//! `BaseConsumer`, records taken with `recv().await` on a tokio runtime.

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;

use super::rdkafka_base::{assignment, config};
use super::{DrainSpec, IDLE_LIMIT, Tally, finish};
use crate::measure::{Mark, Sample};
use crate::{BenchError, Result};

/// Drains `spec`, or stalls per `spec.stall`.
pub async fn run(spec: &DrainSpec, start_rss: u64) -> Result<Sample> {
    let mark = Mark::now()?;
    let consumer: StreamConsumer = config(spec).create()?;
    consumer.assign(&assignment(spec)?)?;
    let total = spec.total_records();
    let mut tally = Tally::default();
    while tally.records < total {
        let m = tokio::time::timeout(IDLE_LIMIT, consumer.recv())
            .await
            .map_err(|_| {
                BenchError::Other(format!(
                    "no record for {IDLE_LIMIT:?} after {} of {total}",
                    tally.records
                ))
            })??;
        tally.add(m.payload());
        if let Some(stall) = spec.stall {
            drop(m);
            tokio::time::sleep(stall).await;
            break;
        }
    }
    finish(&mark, start_rss, tally)
}
