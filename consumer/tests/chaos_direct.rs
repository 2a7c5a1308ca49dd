//! Chaos run (franz-go's chaos mode, as a test): gregor's idempotent producer writes records
//! and a direct stream with its checkpoint store reads them, both through the testkit's chaos
//! proxy in front of Apache Kafka, while the proxy cuts every connection every 0.5-1.5 s
//! (seeded). The delivery ledger then checks: every acknowledged record delivered exactly
//! once, in order, with its value; nothing delivered that was not acknowledged (the
//! idempotent producer wrote no duplicate); no record lost, skipped or rewound. Every
//! `RESTART_EVERY` batches the stream is dropped and a new one starts from the checkpoint
//! file, as a restarted application would.
//!
//! `.ci/test` runs it in a step of its own (`--ignored --nocapture`, so its figures are in the
//! log). Bounded for CI: 1,000,000 records by default; `GREGOR_CHAOS_RECORDS` sets another count
//! (a longer run), `GREGOR_CHAOS_SEED` repeats a run's cut schedule.

mod ledger_support;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gregor_client::Client;
use gregor_client::config::ProducerConfig;
use gregor_client::producer::{Producer, ProducerRecord};
use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
};
use gregor_consumer::store::{CheckpointFile, OffsetStore};
use gregor_testkit::ChaosProxy;
use gregor_testkit::data::{create_topic, test_client, unique_name};
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall, KafkaOptions};
use gregor_testkit::ledger::{DeliveryLedger, Semantics};
use ledger_support::deliver_batch;

const PARTITIONS: i32 = 8;
/// The stream restarts from its checkpoint after this many batches.
const RESTART_EVERY: usize = 40;
/// How long the whole run may take before the test fails (a hang, not a timing claim).
const DEADLINE: Duration = Duration::from_secs(900);

fn env_u64(key: &str) -> Option<u64> {
    std::env::var(key).ok().and_then(|v| v.trim().parse().ok())
}

/// A small seeded generator for the cut schedule.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Cuts every proxied connection every 0.5-1.5 s until `stop`; returns the cuts made.
fn cutter(
    proxy: Arc<ChaosProxy>,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut rng = SplitMix(seed);
        let mut cuts = 0;
        while !stop.load(Ordering::SeqCst) {
            let wait = Duration::from_millis(500 + rng.next() % 1001);
            let until = Instant::now() + wait;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !stop.load(Ordering::SeqCst) {
                proxy.cut_all();
                cuts += 1;
            }
        }
        cuts
    })
}

/// What the producer reports: each acknowledged record's (partition, offset, value), and
/// how many deliveries failed.
type Produced = (Vec<(i32, i64, String)>, u64);

/// Writes `records` values (`"{i}"`, partition `i % PARTITIONS`) with the idempotent
/// producer; returns each acknowledged record's (partition, offset, value), and how many
/// deliveries failed.
async fn produce(client: Client, topic: String, records: u64) -> Produced {
    let config = ProducerConfig::builder()
        .linger(Duration::from_millis(5))
        .build()
        .expect("producer config");
    let producer = Producer::new(client, config).expect("a producer");
    let mut pending = VecDeque::new();
    let mut acked = Vec::with_capacity(usize::try_from(records).unwrap_or(0));
    let mut failed = 0u64;
    let mut settle =
        |value: String, result: Result<gregor_client::producer::RecordMetadata, _>| match result {
            Ok(meta) => acked.push((meta.partition, meta.offset, value)),
            Err(e) => {
                failed += 1;
                eprintln!("delivery of {value} failed: {e}");
            }
        };
    for i in 0..records {
        let value = i.to_string();
        let partition = i32::try_from(i % u64::try_from(PARTITIONS).unwrap()).unwrap();
        let record = ProducerRecord::new(topic.as_str(), Bytes::from(value.clone()))
            .with_partition(partition);
        let delivery = producer
            .send(record)
            .await
            .expect("the producer takes the record");
        pending.push_back((value, delivery));
        while pending.len() > 100_000 {
            let (value, delivery) = pending.pop_front().unwrap();
            settle(value, delivery.await);
        }
    }
    producer.flush().await.expect("flush");
    for (value, delivery) in pending {
        settle(value, delivery.await);
    }
    producer.close().await.expect("close");
    (acked, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/test's chaos step (about a minute), with its figures printed"]
async fn a_million_records_through_a_proxy_cutting_every_connection_lose_and_duplicate_nothing() {
    if !KafkaInstall::is_available() {
        eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return;
    }
    let records = env_u64("GREGOR_CHAOS_RECORDS").unwrap_or(1_000_000);
    let seed = env_u64("GREGOR_CHAOS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(7, |d| d.as_nanos() as u64)
    });
    eprintln!("chaos run: {records} records, seed {seed} (GREGOR_CHAOS_SEED repeats the cuts)");
    let proxy = Arc::new(ChaosProxy::bind().expect("a proxy"));
    let kafka = KafkaCluster::start(
        KafkaOptions::single()
            .with_security(false)
            .with_proxied_listener(proxy.port()),
    )
    .expect("kafka starts");
    proxy.set_target(kafka.proxied_addr().expect("the proxied listener"));
    let topic = unique_name("chaos");
    let admin = test_client(&kafka.bootstrap(), "chaos-admin").await;
    create_topic(&admin, &topic, PARTITIONS).await;

    let writer = test_client(&proxy.bootstrap(), "chaos-writer").await;
    let reader = test_client(&proxy.bootstrap(), "chaos-reader").await;
    let stop = Arc::new(AtomicBool::new(false));
    let cuts = cutter(Arc::clone(&proxy), seed, Arc::clone(&stop));
    let started = Instant::now();
    let produced = tokio::spawn(produce(writer, topic.clone(), records));

    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = CheckpointFile::new(dir.path().join("offsets.json"));
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.clone()]))
        .with_starting(StartingOffsets::Earliest)
        .with_batch_interval(Duration::from_millis(200));
    let start = |stored| {
        let (reader, config) = (reader.clone(), config.clone());
        async move {
            DirectStream::new(reader, config, stored)
                .await
                .expect("the stream starts through the proxy")
        }
    };
    let mut stream = start(BTreeMap::new()).await;
    let mut restarts = 0usize;
    let mut ledger = DeliveryLedger::new();
    let batches = AtomicUsize::new(0);
    let mut acked: Option<Produced> = None;
    let mut produced = Some(produced);
    let run = async {
        loop {
            let batch = stream
                .next_batch()
                .await
                .expect("a batch, whatever the cuts");
            let (starts, ends) = (batch.starts(), batch.ends());
            deliver_batch(batch, &mut ledger)
                .await
                .unwrap_or_else(|(p, e)| panic!("partition {p}: {e}"));
            store
                .save(&starts, &ends)
                .expect("the checkpoint takes the batch");
            if batches.fetch_add(1, Ordering::Relaxed) % RESTART_EVERY == RESTART_EVERY - 1 {
                let stored = store
                    .load()
                    .expect("the checkpoint loads")
                    .map(|s| s.offsets);
                stream = start(stored.unwrap_or_default()).await;
                restarts += 1;
            }
            if let Some(handle) = produced.take_if(|h| h.is_finished()) {
                acked = Some(handle.await.expect("the producer task"));
            }
            if let Some((acked, _)) = &acked {
                if ledger.delivered_count() >= acked.len() {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the run ends before the deadline");
    let elapsed = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let cuts = cuts.join().expect("the cutter");
    let (acked, failed) = acked.expect("the producer finished");
    for (p, offset, value) in &acked {
        ledger.written(&topic, *p, *offset, value);
    }
    let verdict = ledger.check();
    let checkpoint = store
        .load()
        .expect("the checkpoint loads")
        .map(|s| s.offsets)
        .unwrap_or_default();
    eprintln!(
        "chaos run: {records} records produced ({} acknowledged, {failed} failed) and read in {:.1} s \
         through {cuts} cuts ({} connections), {} batches, {restarts} restarts from the \
         checkpoint; {}",
        acked.len(),
        elapsed.as_secs_f64(),
        proxy.accepted(),
        batches.load(Ordering::Relaxed),
        verdict.total
    );
    assert_eq!(failed, 0, "every record acknowledged despite the cuts");
    assert!(cuts >= 3, "the proxy cut the connections ({cuts} cuts)");
    verdict.assert_holds(Semantics::ExactlyOnce, "the chaos run");
    // The checkpoint ends where the log ends: what was read is what was stored.
    let total: i64 = checkpoint.values().sum();
    assert_eq!(
        total,
        i64::try_from(acked.len()).unwrap(),
        "the checkpoint covers every record"
    );
}
