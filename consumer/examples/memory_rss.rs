//! The fetch engine's memory budget holds while the consumer does not read:
//!
//! ```sh
//! cargo run -p gregor-consumer --example memory_rss
//! ```
//!
//! A MockCluster in-process holds a backlog of 64 partitions × 1 MiB (1 KiB records). A direct
//! stream with a 32 MiB fetch memory budget plans one batch covering the whole backlog, whose
//! readers start prefetching at once; the consumer then reads nothing for 3 seconds, sampling
//! the engine's `buffered_bytes()`, before it drains every reader. Prints the peak buffered
//! bytes and the process's peak and current RSS (`VmHWM`, `VmRSS` from /proc/self/status; they
//! include the in-process broker's own copy of the backlog). Exits non-zero if the buffered
//! bytes ever exceed the budget plus a margin (the budget may be overdrawn by at most one
//! record batch per broker, KIP-74), or if any record is missing.

mod support;

use std::time::Duration;

use gregor_consumer::FetchConfig;
use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
};
use gregor_consumer::store::PartitionOffsets;
use gregor_testkit::mock::{MockCluster, MockRecord};
use support::AnyError;

const PARTITIONS: i32 = 64;
const RECORDS_PER_PARTITION: usize = 1024;
const RECORDS_PER_BATCH: usize = 64;
const VALUE_BYTES: usize = 1024;
const BUDGET: usize = 32 << 20;
/// One record batch (64 KiB of values plus overhead) per broker loop, rounded up generously.
const MARGIN: usize = 4 << 20;
const IDLE: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("memory_rss failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), AnyError> {
    let topic = "backlog";
    let mock = MockCluster::builder()
        .brokers(3)
        .topic(topic, PARTITIONS)
        .start()
        .await?;
    let value = "x".repeat(VALUE_BYTES);
    let batch: Vec<MockRecord> = (0..RECORDS_PER_BATCH)
        .map(|_| MockRecord::value(&value))
        .collect();
    for p in 0..PARTITIONS {
        for _ in 0..RECORDS_PER_PARTITION / RECORDS_PER_BATCH {
            mock.produce(topic, p, &batch).await?;
        }
    }
    let backlog = PARTITIONS as usize * RECORDS_PER_PARTITION * VALUE_BYTES;
    println!(
        "backlog: {PARTITIONS} partitions x {RECORDS_PER_PARTITION} records of {VALUE_BYTES} B = {} MiB",
        backlog >> 20
    );
    print_rss("after producing")?;

    let client = support::client(&mock.bootstrap()).await?;
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic]))
        .with_starting(StartingOffsets::Earliest)
        .with_batch_interval(Duration::from_millis(100))
        .with_fetch(FetchConfig::default().with_memory_budget(BUDGET));
    let mut stream = DirectStream::new(client, config, PartitionOffsets::new()).await?;
    let batch = stream.next_batch().await?;
    let planned = batch.offset_count();
    println!(
        "one batch of {planned} offsets; budget {} MiB, margin {} MiB",
        BUDGET >> 20,
        MARGIN >> 20
    );

    // The consumer stops reading: the engine prefetches up to its budget and waits.
    let mut peak = 0;
    let stop = tokio::time::Instant::now() + IDLE;
    while tokio::time::Instant::now() < stop {
        peak = peak.max(stream.engine().buffered_bytes());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "after {IDLE:?} without reading: buffered {} KiB (peak {} KiB)",
        stream.engine().buffered_bytes() >> 10,
        peak >> 10
    );
    print_rss("while idle")?;

    // Now read everything, still sampling.
    let mut read = 0u64;
    for mut reader in batch.into_partitions() {
        while let Some(chunk) = reader.next_chunk().await {
            read += chunk?.len() as u64;
            peak = peak.max(stream.engine().buffered_bytes());
        }
    }
    println!("read {read} records; peak buffered {} KiB", peak >> 10);
    print_rss("after reading")?;

    let expected = (PARTITIONS as usize * RECORDS_PER_PARTITION) as u64;
    if read != expected || planned != expected {
        return Err(format!("read {read} of {expected} records (planned {planned})").into());
    }
    if peak > BUDGET + MARGIN {
        return Err(
            format!("buffered {peak} B, over the budget {BUDGET} B + margin {MARGIN} B").into(),
        );
    }
    if peak == 0 {
        return Err("nothing was ever buffered: the engine did not prefetch".into());
    }
    println!("buffered bytes stayed within budget + margin");
    Ok(())
}

/// Prints `VmHWM` (peak RSS) and `VmRSS` from /proc/self/status (Linux; elsewhere nothing).
fn print_rss(when: &str) -> Result<(), AnyError> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Ok(());
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.trim_start_matches(name).trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    println!(
        "  rss {when}: VmHWM {}, VmRSS {}",
        field("VmHWM:"),
        field("VmRSS:")
    );
    Ok(())
}
