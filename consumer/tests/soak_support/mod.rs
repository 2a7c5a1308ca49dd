//! The group chaos soak's support: its settings (from the environment), a producer at a fixed
//! rate that keeps what Kafka acknowledged ([`RateProducer`]), the groups of member processes
//! ([`members`]) and the chaos schedule ([`chaos`]).
#![allow(dead_code)]

pub mod chaos;
pub mod members;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gregor_client::Client;
use gregor_client::config::{Acks, ProducerConfig};
use gregor_client::producer::{DeliveryFuture, Producer, ProducerRecord};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Group B's protocol when `GREGOR_SOAK_GROUP_B_PROTOCOL` is not set: KIP-848's `consumer`
/// (`classic` runs it with the eager range assignor instead).
pub const GROUP_B_PROTOCOL: &str = "consumer";

/// Records produced by default (`GREGOR_SOAK_RECORDS`).
pub const RECORDS: u64 = 1_000_000;

/// Records produced per second by default (`GREGOR_SOAK_RATE`).
pub const RATE: u64 = 7_500;

/// The soak's partitions.
pub const PARTITIONS: i32 = 32;

/// How the soak runs, from the environment.
#[derive(Debug, Clone)]
pub struct SoakSettings {
    /// Records to produce: `GREGOR_SOAK_RECORDS`, or `GREGOR_SOAK_RATE` ×
    /// `GREGOR_SOAK_SECS`, else [`RECORDS`].
    pub records: u64,
    /// Records per second: `GREGOR_SOAK_RATE`, else [`RATE`].
    pub rate: u64,
    /// The chaos schedule's seed: `GREGOR_SOAK_SEED`, else from the clock.
    pub seed: u64,
    /// Group B's `group.protocol`: `GREGOR_SOAK_GROUP_B_PROTOCOL`, else
    /// [`GROUP_B_PROTOCOL`].
    pub group_b_protocol: String,
}

fn env_number(key: &str) -> Option<u64> {
    let value = std::env::var(key).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{key}={value}: not a whole number")),
    )
}

impl SoakSettings {
    /// The settings the environment asks for.
    pub fn from_env() -> SoakSettings {
        let rate = env_number("GREGOR_SOAK_RATE").unwrap_or(RATE).max(1);
        let records = env_number("GREGOR_SOAK_RECORDS")
            .or_else(|| env_number("GREGOR_SOAK_SECS").map(|secs| secs * rate))
            .unwrap_or(RECORDS);
        let seed = env_number("GREGOR_SOAK_SEED").unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        let group_b_protocol = std::env::var("GREGOR_SOAK_GROUP_B_PROTOCOL")
            .unwrap_or_else(|_| GROUP_B_PROTOCOL.to_owned());
        assert!(
            matches!(group_b_protocol.as_str(), "classic" | "consumer"),
            "GREGOR_SOAK_GROUP_B_PROTOCOL={group_b_protocol}: classic or consumer"
        );
        SoakSettings {
            records,
            rate,
            seed,
            group_b_protocol,
        }
    }

    /// How long producing takes at the rate.
    pub fn production(&self) -> Duration {
        Duration::from_secs_f64(self.records as f64 / self.rate as f64)
    }
}

/// What the producer wrote: records per partition (offsets `0..end`, each acknowledged once).
#[derive(Debug, Clone)]
pub struct Produced {
    /// Per partition, the records written (its offsets are `0..end`).
    pub ends: BTreeMap<i32, i64>,
    /// Records written.
    pub records: u64,
    /// How long producing took, to the last acknowledgement.
    pub took: Duration,
}

/// gregor's idempotent producer writing records at a fixed rate, partition by partition in
/// turn, each record's value its sequence number; it keeps the offset Kafka acknowledged for
/// each, and checks at the end that every partition's offsets are `0..end`, each once.
pub struct RateProducer {
    sent: Arc<AtomicU64>,
    task: JoinHandle<Result<Produced, String>>,
}

impl RateProducer {
    /// Starts writing `records` records to `topic` (`partitions` partitions) at `rate` per
    /// second.
    pub fn start(client: Client, topic: &str, records: u64, rate: u64) -> RateProducer {
        let sent = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(produce(
            client,
            topic.to_owned(),
            records,
            rate,
            sent.clone(),
        ));
        RateProducer { sent, task }
    }

    /// Records handed to the producer so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Whether it is done (or failed).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the last acknowledgement; panics if producing failed.
    pub async fn finish(self) -> Produced {
        match self.task.await {
            Ok(Ok(produced)) => produced,
            Ok(Err(error)) => panic!("the soak's producer failed: {error}"),
            Err(error) => panic!("the soak's producer task: {error}"),
        }
    }
}

async fn produce(
    client: Client,
    topic: String,
    records: u64,
    rate: u64,
    sent: Arc<AtomicU64>,
) -> Result<Produced, String> {
    let config = ProducerConfig::builder()
        .acks(Acks::All)
        .idempotence(true)
        .linger(Duration::from_millis(5))
        .delivery_timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;
    let producer = Producer::new(client, config).map_err(|e| e.to_string())?;
    let (tx, mut rx) = mpsc::unbounded_channel::<(i32, DeliveryFuture)>();
    let collector = tokio::spawn(async move {
        let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        while let Some((partition, delivery)) = rx.recv().await {
            let written = delivery.await.map_err(|e| e.to_string())?;
            if written.partition != partition {
                return Err(format!(
                    "a record for partition {partition} went to {}",
                    written.partition
                ));
            }
            offsets.entry(partition).or_default().push(written.offset);
        }
        Ok::<_, String>(offsets)
    });
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u64;
    while seq < records {
        tick.tick().await;
        let due = (started.elapsed().as_millis() as u64 * rate / 1000).min(records);
        while seq < due {
            let partition = (seq % PARTITIONS as u64) as i32;
            let record = ProducerRecord::new(topic.as_str(), Bytes::from(format!("soak {seq}")))
                .with_partition(partition);
            let delivery = producer.send(record).await.map_err(|e| e.to_string())?;
            if tx.send((partition, delivery)).is_err() {
                break;
            }
            seq += 1;
            sent.store(seq, Ordering::Relaxed);
        }
    }
    drop(tx);
    producer.flush().await.map_err(|e| e.to_string())?;
    let offsets = collector.await.map_err(|e| e.to_string())??;
    let took = started.elapsed();
    producer.close().await.map_err(|e| e.to_string())?;
    let mut ends = BTreeMap::new();
    for (partition, mut list) in offsets {
        let end = list.len() as i64;
        list.sort_unstable();
        if list.iter().enumerate().any(|(i, o)| *o != i as i64) {
            return Err(format!(
                "partition {partition}: {end} records acknowledged at offsets other than 0..{end}"
            ));
        }
        ends.insert(partition, end);
    }
    Ok(Produced {
        ends,
        records: seq,
        took,
    })
}
