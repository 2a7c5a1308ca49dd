//! rust-rdkafka's `BaseConsumer` (librdkafka): partitions assigned from the beginning,
//! `check.crcs=true`, no auto commit, a `poll` loop on the calling thread. In group mode
//! (`rdkafka-group`) the same consumer subscribes to the topic in a fresh group (range
//! assignor, the only member) and starts from the earliest offset.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::{DrainSpec, IDLE_LIMIT, Tally, finish};
use crate::measure::{Mark, Sample};
use crate::{BenchError, Result};

/// The librdkafka configuration every rdkafka client here uses.
pub fn config(spec: &DrainSpec) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &spec.bootstrap)
        .set("group.id", "gregor-benches")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("check.crcs", "true")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", super::MAX_WAIT_MS.to_string())
        .set(
            "max.partition.fetch.bytes",
            super::PARTITION_MAX_BYTES.to_string(),
        )
        .set("fetch.max.bytes", super::FETCH_MAX_BYTES.to_string());
    // Extra settings for experiments: GREGOR_BENCH_RDKAFKA="key=value,key=value".
    if let Ok(extra) = std::env::var("GREGOR_BENCH_RDKAFKA") {
        for kv in extra.split(',').filter(|kv| !kv.is_empty()) {
            if let Some((k, v)) = kv.split_once('=') {
                c.set(k.trim(), v.trim());
            }
        }
    }
    if spec.memory_limit > 0 {
        c.set(
            "queued.max.messages.kbytes",
            (spec.memory_limit / 1024).max(1).to_string(),
        );
    }
    c
}

/// The assignment: every partition from the beginning.
pub fn assignment(spec: &DrainSpec) -> Result<TopicPartitionList> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..spec.end_offsets.len() {
        tpl.add_partition_offset(&spec.topic, p as i32, Offset::Beginning)?;
    }
    Ok(tpl)
}

/// Drains `spec`, or stalls per `spec.stall`.
pub fn run(spec: &DrainSpec, start_rss: u64) -> Result<Sample> {
    run_with(spec, start_rss, false)
}

/// Drains `spec` as the only member of a fresh group (`rdkafka-group`), or stalls.
pub fn run_group(spec: &DrainSpec, start_rss: u64) -> Result<Sample> {
    run_with(spec, start_rss, true)
}

fn run_with(spec: &DrainSpec, start_rss: u64, group: bool) -> Result<Sample> {
    let mark = Mark::now()?;
    let consumer: BaseConsumer = if group {
        let mut c = config(spec);
        c.set(
            "group.id",
            super::gregor_group::fresh_group("rdkafka-group"),
        )
        .set("partition.assignment.strategy", "range");
        let consumer: BaseConsumer = c.create()?;
        consumer.subscribe(&[spec.topic.as_str()])?;
        consumer
    } else {
        let consumer: BaseConsumer = config(spec).create()?;
        consumer.assign(&assignment(spec)?)?;
        consumer
    };
    let total = spec.total_records();
    let mut tally = Tally::default();
    let mut last = Instant::now();
    while tally.records < total {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                tally.add(m.payload());
                last = Instant::now();
                if let Some(stall) = spec.stall {
                    std::thread::sleep(stall);
                    break;
                }
            }
            Some(Err(e)) => return Err(e.into()),
            None if last.elapsed() > IDLE_LIMIT => {
                return Err(BenchError::Other(format!(
                    "no record for {IDLE_LIMIT:?} after {} of {total}",
                    tally.records
                )));
            }
            None => {}
        }
    }
    finish(&mark, start_rss, tally)
}
