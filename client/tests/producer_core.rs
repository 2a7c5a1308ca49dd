//! The producer's sans-io core: partitioners (with librdkafka's golden key mapping), the
//! record accumulator, idempotence and Produce request building, all driven with explicit
//! `Instant`s and hand-made broker answers — no sockets, no sleeps.

#[path = "producer_core/accumulator.rs"]
mod accumulator;
#[path = "producer_core/idempotence.rs"]
mod idempotence;
#[path = "producer_core/partitioner.rs"]
mod partitioner;
#[path = "producer_core/produce_request.rs"]
mod produce_request;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gregor_client::TopicPartition;
use gregor_client::producer::{Accumulator, AccumulatorConfig, BatchRecord, ProducerBatch};
use gregor_protocol::records::{DecodeOptions, DecodedBatch, Record, batches};

/// A fixed starting point; tests move time by adding to it.
fn t0() -> Instant {
    // Any instant works: only differences matter.
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// A record with key `k<i>`, a value of `len` bytes and timestamp `1_700_000_000_000 + i`.
fn record(i: usize, len: usize) -> BatchRecord {
    BatchRecord::new(
        Some(Bytes::from(format!("k{i}"))),
        Some(Bytes::from(vec![b'v'; len])),
        1_700_000_000_000 + i as i64,
    )
}

fn config() -> AccumulatorConfig {
    AccumulatorConfig {
        batch_size: 1_000,
        linger: ms(10),
        max_request_size: 10_000,
        buffer_memory: 100_000,
        retry_backoff: ms(100),
        delivery_timeout: ms(5_000),
        ..AccumulatorConfig::default()
    }
}

/// Broker id -> partitions it leads.
fn leaders(entries: &[(i32, &[TopicPartition])]) -> BTreeMap<i32, Vec<TopicPartition>> {
    entries.iter().map(|(n, p)| (*n, p.to_vec())).collect()
}

/// Broker 1 leading only `tp`.
fn led_by_1(tp: &TopicPartition) -> BTreeMap<i32, Vec<TopicPartition>> {
    leaders(&[(1, std::slice::from_ref(tp))])
}

/// Decodes the one batch of a drained `ProducerBatch`.
fn decode_one(batch: &ProducerBatch<usize>) -> (DecodedBatch, Vec<Record>) {
    let bytes = batch
        .encoded()
        .expect("drained batches are encoded")
        .clone();
    let mut set = batches(bytes, &DecodeOptions::default());
    let decoded = set.next().expect("one batch").expect("valid batch");
    assert!(set.next().is_none(), "exactly one batch");
    let records = decoded
        .records()
        .collect::<Result<Vec<_>, _>>()
        .expect("valid records");
    (decoded, records)
}

/// Appends `n` records of `len`-byte values to `tp` with tokens `first..first + n`.
fn append_n(
    acc: &mut Accumulator<usize>,
    tp: &TopicPartition,
    first: usize,
    n: usize,
    len: usize,
    now: Instant,
) {
    for i in first..first + n {
        acc.append(tp, record(i, len), i, now).expect("append");
    }
}
