//! The direct stream in a few seconds, no broker needed:
//!
//! ```sh
//! cargo run -p gregor-consumer --example quickstart
//! ```
//!
//! Starts our MockCluster in-process (or uses `KAFKA_BOOTSTRAP_SERVERS` when set), creates a
//! topic with 4 partitions, produces 400 records per partition with the gregor producer, then
//! runs a [`DirectStream`] from the earliest offsets, rate-limited so the backlog takes a few
//! batches. Each batch prints its offset ranges and the records read, and its ranges are
//! committed to Kafka under a group id with [`KafkaCommits`] (no group membership). Exits
//! non-zero unless every produced record was read exactly once, with its value, and the
//! committed offsets are the ends of the partitions.

mod support;

use std::time::{Duration, Instant};

use gregor_consumer::direct::rate::RateLimits;
use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
};
use gregor_consumer::range::TopicPartition;
use gregor_consumer::store::{KafkaCommits, PartitionOffsets};
use support::{AnyError, Seen, read_batch};

const PARTITIONS: i32 = 4;
const PER_PARTITION: u64 = 400;
const GROUP: &str = "gregor-quickstart";

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("quickstart failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), AnyError> {
    let broker = support::broker().await?;
    let where_ = if broker.mock.is_some() {
        "in-process MockCluster"
    } else {
        "KAFKA_BOOTSTRAP_SERVERS"
    };
    println!("broker: {} ({where_})", broker.bootstrap);
    let client = support::client(&broker.bootstrap).await?;
    let topic = support::unique_topic("quickstart");
    support::create_topic(&client, &topic, PARTITIONS).await?;
    let produced = support::produce(&broker.bootstrap, &topic, PARTITIONS, PER_PARTITION).await?;
    println!(
        "produced {} records to {topic} ({PARTITIONS} partitions)",
        produced.len()
    );

    // At most 1,500 records/s per partition and 100 ms batches: 150 records per partition per
    // batch, so the 400-record backlog takes three batches.
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.clone()]))
        .with_starting(StartingOffsets::Earliest)
        .with_batch_interval(Duration::from_millis(100))
        .with_rates(RateLimits::new().with_max_per_partition(1_500.0));
    let commits = KafkaCommits::new(client.clone(), GROUP);
    let mut stream = DirectStream::new(client.clone(), config, PartitionOffsets::new()).await?;

    let mut seen = Seen::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut batch_no = 0;
    while seen.len() < produced.len() {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {} records read in 30 s",
                seen.len(),
                produced.len()
            )
            .into());
        }
        let batch = stream.next_batch().await?;
        batch_no += 1;
        let ranges = batch.offset_ranges().to_vec();
        let line = read_batch(batch, &mut seen).await?;
        commits.commit(&ranges).await?;
        println!("batch {batch_no}: {}  (committed)", line.join("  "));
    }

    if seen != produced {
        return Err("the records read differ from those produced".into());
    }
    let partitions: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    let committed = commits.load(&partitions).await?;
    let expected: PartitionOffsets = (0..PARTITIONS)
        .map(|p| (TopicPartition::new(topic.as_str(), p), PER_PARTITION as i64))
        .collect();
    if committed != expected {
        return Err(format!("committed {committed:?}, expected {expected:?}").into());
    }
    println!(
        "read {} records in {batch_no} batches, each exactly once; group {GROUP} committed {:?}",
        seen.len(),
        committed.values().collect::<Vec<_>>()
    );
    Ok(())
}
