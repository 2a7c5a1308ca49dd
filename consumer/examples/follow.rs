//! Following partitions as their logs grow, with the fetch engine's open-ended readers (what the
//! group consumer reads through), no broker needed:
//!
//! ```sh
//! cargo run -p gregor-consumer --example follow
//! ```
//!
//! Starts our MockCluster in-process (or uses `KAFKA_BOOTSTRAP_SERVERS` when set), creates a
//! topic with 3 partitions and produces to it. One `PartitionReader` per partition follows it
//! from the log start; the readers are merged into one `futures::Stream` of chunks. Then
//! partition 0 is paused while more records arrive (its reader gets nothing, the others do),
//! resumed (it catches up), and partition 2 is revoked (its reader ends). Exits non-zero
//! unless every record was read exactly once.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::SelectAll;
use gregor_consumer::{
    FetchConfig, FetchEngine, OffsetReset, PartitionReader, StartAt, TopicPartition,
};
use support::AnyError;

const PARTITIONS: i32 = 3;
const PER_ROUND: u64 = 200;

/// (partition, offset) -> value.
type Records = BTreeMap<(i32, i64), String>;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("follow failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), AnyError> {
    let broker = support::broker().await?;
    let client = support::client(&broker.bootstrap).await?;
    let topic = support::unique_topic("follow");
    support::create_topic(&client, &topic, PARTITIONS).await?;
    let mut produced = support::produce(&broker.bootstrap, &topic, PARTITIONS, PER_ROUND).await?;

    let engine = FetchEngine::new(
        client.clone(),
        FetchConfig::default().with_max_wait(Duration::from_millis(100)),
    );
    let partitions: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    // One open-ended reader per partition, merged into one stream of chunks.
    let mut chunks: SelectAll<PartitionReader> = futures::stream::select_all(
        partitions
            .iter()
            .map(|tp| engine.follow(tp.clone(), StartAt::Earliest, OffsetReset::Earliest)),
    );
    let mut seen = Records::new();
    read_until(&mut chunks, &mut seen, |seen| seen.len() == produced.len()).await?;
    println!(
        "followed {topic}: {} records from the log start",
        seen.len()
    );

    // Pause partition 0: the next round reaches partitions 1 and 2 only.
    engine.pause(&partitions[..1]);
    let round = support::produce(&broker.bootstrap, &topic, PARTITIONS, PER_ROUND).await?;
    let others = round.keys().filter(|(p, _)| *p != 0).count();
    let before = seen.len();
    read_until(&mut chunks, &mut seen, |seen| seen.len() == before + others).await?;
    // Nothing more comes while partition 0 is paused.
    let quiet = tokio::time::timeout(Duration::from_millis(500), chunks.next()).await;
    if quiet.is_ok() || seen.keys().any(|k| round.contains_key(k) && k.0 == 0) {
        return Err("a paused partition delivered records".into());
    }
    println!("partition 0 paused: {others} new records from partitions 1 and 2 only");
    engine.resume(&partitions[..1]);
    produced.extend(round);
    read_until(&mut chunks, &mut seen, |seen| seen.len() == produced.len()).await?;
    println!(
        "partition 0 resumed: caught up, {} records in all",
        seen.len()
    );

    // Revoke partition 2: its reader ends and nothing more is fetched for it.
    engine.revoke(&partitions[2..]).await;
    let round = support::produce(&broker.bootstrap, &topic, PARTITIONS, PER_ROUND).await?;
    let kept = round.keys().filter(|(p, _)| *p != 2).count();
    let before = seen.len();
    read_until(&mut chunks, &mut seen, |seen| seen.len() == before + kept).await?;
    if chunks.len() != 2 {
        return Err(format!("{} readers left after the revoke, expected 2", chunks.len()).into());
    }
    produced.extend(round.into_iter().filter(|((p, _), _)| *p != 2));
    if seen != produced {
        return Err("the records read differ from those produced".into());
    }
    println!(
        "partition 2 revoked: its reader ended; {} records read, each exactly once",
        seen.len()
    );
    Ok(())
}

/// Reads chunks from `chunks` into `seen` until `done(seen)`, failing on a record read twice
/// or after 30 s.
async fn read_until(
    chunks: &mut SelectAll<PartitionReader>,
    seen: &mut Records,
    done: impl Fn(&Records) -> bool,
) -> Result<(), AnyError> {
    let reading = async {
        while !done(seen) {
            let chunk = chunks.next().await.ok_or("every reader ended")??;
            let partition = chunk.topic_partition().partition;
            for record in chunk.as_slice() {
                let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default());
                if seen
                    .insert((partition, record.offset), value.into_owned())
                    .is_some()
                {
                    return Err(format!("{partition}/{} read twice", record.offset).into());
                }
            }
        }
        Ok::<(), AnyError>(())
    };
    tokio::time::timeout(Duration::from_secs(30), reading)
        .await
        .map_err(|_| format!("only {} records read in 30 s", seen.len()))?
}
