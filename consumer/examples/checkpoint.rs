//! A direct stream whose offsets live in a checkpoint file, stopped and restarted:
//!
//! ```sh
//! cargo run -p gregor-consumer --example checkpoint
//! ```
//!
//! The first run reads two batches, saving each batch's ends in a [`CheckpointFile`]
//! (compare-and-set against the batch's starts) and stops. The second run is a new stream
//! started from the checkpoint: its first batch begins exactly where the file says, it reads
//! the rest, and a replayed save of an old batch is refused. Exits non-zero unless the two
//! runs together read every record exactly once.

mod support;

use std::time::{Duration, Instant};

use gregor_client::Client;
use gregor_consumer::direct::rate::RateLimits;
use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
};
use gregor_consumer::store::{CheckpointFile, OffsetStore, PartitionOffsets, StoreError};
use support::{AnyError, Seen, read_batch};

const PARTITIONS: i32 = 3;
const PER_PARTITION: u64 = 300;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("checkpoint failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), AnyError> {
    let broker = support::broker().await?;
    let client = support::client(&broker.bootstrap).await?;
    let topic = support::unique_topic("checkpoint");
    support::create_topic(&client, &topic, PARTITIONS).await?;
    let produced = support::produce(&broker.bootstrap, &topic, PARTITIONS, PER_PARTITION).await?;
    println!("produced {} records to {topic}", produced.len());

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("offsets.json");
    let mut seen = Seen::new();

    println!("-- run 1: two batches, then stop");
    let store = CheckpointFile::new(&path);
    let mut stream = start(&client, &topic, &store).await?;
    let mut last = None;
    for _ in 0..2 {
        last = Some(one_batch(&mut stream, &store, &mut seen).await?);
    }
    drop(stream);
    let stopped_at = store.load()?.map(|s| s.offsets).unwrap_or_default();
    println!("checkpoint {}: {stopped_at:?}", path.display());

    println!("-- run 2: a new stream from the checkpoint");
    let store = CheckpointFile::new(&path);
    let mut stream = start(&client, &topic, &store).await?;
    if stream.positions() != &stopped_at {
        return Err(format!(
            "restarted at {:?}, checkpoint says {stopped_at:?}",
            stream.positions()
        )
        .into());
    }
    println!("resumes at {:?}", stream.positions());
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < produced.len() {
        if Instant::now() > deadline {
            return Err(format!("only {} of {} records read", seen.len(), produced.len()).into());
        }
        one_batch(&mut stream, &store, &mut seen).await?;
    }

    // Saving run 1's last batch again is a replay: the store refuses it.
    if let Some((starts, ends)) = last {
        match store.save(&starts, &ends) {
            Err(StoreError::Conflict { .. }) => println!("a replayed save is refused (conflict)"),
            other => return Err(format!("a replayed save gave {other:?}").into()),
        }
    }
    if seen != produced {
        return Err("the records read differ from those produced".into());
    }
    println!("two runs read {} records, each exactly once", seen.len());
    Ok(())
}

/// A stream over `topic` starting from what `store` holds (earliest where it holds nothing).
async fn start(
    client: &Client,
    topic: &str,
    store: &CheckpointFile,
) -> Result<DirectStream, AnyError> {
    let stored = store.load()?.map(|s| s.offsets).unwrap_or_default();
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.to_owned()]))
        .with_starting(StartingOffsets::Earliest)
        .with_batch_interval(Duration::from_millis(100))
        .with_rates(RateLimits::new().with_max_per_partition(1_000.0));
    Ok(DirectStream::new(client.clone(), config, stored).await?)
}

/// Reads one batch, records what it read, saves its ends; returns the batch's (starts, ends).
async fn one_batch(
    stream: &mut DirectStream,
    store: &CheckpointFile,
    seen: &mut Seen,
) -> Result<(gregor_consumer::store::BatchStarts, PartitionOffsets), AnyError> {
    let batch = stream.next_batch().await?;
    let (starts, ends) = (batch.starts(), batch.ends());
    let line = read_batch(batch, seen).await?;
    store.save(&starts, &ends)?;
    println!("batch: {}  (saved)", line.join("  "));
    Ok((starts, ends))
}
