//! The fault catalogue on MockCluster (its control API injects each fault), checked by the
//! testkit's delivery ledger, for the two consumer kinds it applies to:
//! - **direct stream** with its own store (a checkpoint file): records are written before
//!   and while the fault is on; the stream reads until every written record is delivered.
//!   Exactly-once: nothing lost, duplicated, skipped or rewound.
//! - **producer** (idempotent): records are sent while the fault is on; every delivery must
//!   be acknowledged, and the log read back afterwards must hold each acknowledged record
//!   once, at the offset acknowledged, and nothing else (no duplicate from a retry).
//!
//! Each scenario prints one row (scenario, kind, records, lost, duplicated, skipped, faults
//! injected); `cargo test --test fault_catalogue -- --include-ignored --nocapture` shows the
//! table (`.ci/test` runs it so). Faults whose right outcome is a typed error (the log
//! truncated below what was read, retention deleting the range being read) are in the same
//! file, asserting the error and that nothing was skipped or changed before it.

mod ledger_support;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gregor_client::config::ProducerConfig;
use gregor_client::producer::{Producer, ProducerRecord};
use gregor_client::{Client, TopicPartition};
use gregor_consumer::direct::rate::RateLimits;
use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
};
use gregor_consumer::fetch::{FetchConfig, FetchEngine, IsolationLevel};
use gregor_consumer::range::OffsetRange;
use gregor_consumer::store::{CheckpointFile, KafkaCommits, OffsetStore};
use gregor_protocol::{ApiKey, ErrorCode};
use gregor_testkit::data::test_client_config;
use gregor_testkit::ledger::{DeliveryLedger, Semantics};
use gregor_testkit::mock::{Action, Intercept, MockCluster, MockRecord};
use ledger_support::{deliver_batch, deliver_reader};

const TOPIC: &str = "catalogue";
const PARTITIONS: i32 = 3;
/// Records per partition written before the fault, and again while it is on.
const WAVE: usize = 200;
const DEADLINE: Duration = Duration::from_secs(90);
/// How long an intercepting fault stays on.
const FAULT_HOLD: Duration = Duration::from_secs(1);
/// The clients' request timeout: the slow-broker faults wait longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(1500);

/// A fault: applied to the cluster while the consumer or producer runs; it may heal itself
/// (bring a broker back) before it returns. Returns how many faults it injected (intercept
/// hits, brokers taken down, leaders moved).
type Fault =
    Box<dyn Fn(Arc<MockCluster>) -> Pin<Box<dyn Future<Output = u64> + Send>> + Send + Sync>;

fn fault<F, Fut>(f: F) -> Fault
where
    F: Fn(Arc<MockCluster>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    Box::new(move |c| Box::pin(f(c)))
}

/// Intercepts each of `apis` with `rule()` at once for `FAULT_HOLD`, then removes them;
/// returns the hits.
fn on_apis(apis: &'static [ApiKey], rule: fn() -> Intercept) -> Fault {
    fault(move |cluster: Arc<MockCluster>| async move {
        let mut ids = Vec::new();
        for api in apis {
            ids.push(cluster.intercept(*api, rule()).await);
        }
        tokio::time::sleep(FAULT_HOLD).await;
        let mut hits = 0;
        for id in ids {
            hits += cluster.intercept_hits(id).await;
            cluster.remove_intercept(id).await;
        }
        hits
    })
}

/// The catalogue: name and fault.
fn catalogue() -> Vec<(&'static str, Fault)> {
    vec![
        (
            "connection cut as the request arrives (Fetch/Produce, 3 times)",
            on_apis(&[ApiKey::Fetch, ApiKey::Produce], || {
                Intercept::times(3, Action::DropConnection)
            }),
        ),
        (
            "response lost after the request took effect (Fetch/Produce, 3 times)",
            on_apis(&[ApiKey::Fetch, ApiKey::Produce], || {
                Intercept::times(3, Action::DropResponse)
            }),
        ),
        (
            "leader's broker down 1 s, then up",
            fault(|c: Arc<MockCluster>| async move {
                let leader = c
                    .partition_info(TOPIC, 0)
                    .await
                    .map(|p| p.leader)
                    .unwrap_or(1);
                c.broker_down(leader).await.expect("broker down");
                tokio::time::sleep(Duration::from_secs(1)).await;
                c.broker_up(leader).await.expect("broker up");
                1
            }),
        ),
        (
            "leaders moved mid-fetch",
            fault(|c: Arc<MockCluster>| async move {
                let mut moved = 0;
                for p in 0..PARTITIONS {
                    let leader = c
                        .partition_info(TOPIC, p)
                        .await
                        .map(|i| i.leader)
                        .unwrap_or(1);
                    let to = leader % 3 + 1;
                    c.move_leader(TOPIC, p, to).await.expect("leader moved");
                    moved += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                moved
            }),
        ),
        (
            "leader epochs bumped mid-fetch",
            fault(|c: Arc<MockCluster>| async move {
                for p in 0..PARTITIONS {
                    c.bump_leader_epoch(TOPIC, p).await.expect("epoch bumped");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                u64::try_from(PARTITIONS).unwrap_or(0)
            }),
        ),
        (
            "slow broker past the request timeout (Fetch/Produce/ListOffsets held 3 s, once each)",
            fault(|c: Arc<MockCluster>| async move {
                let mut ids = Vec::new();
                for api in [ApiKey::Fetch, ApiKey::Produce, ApiKey::ListOffsets] {
                    let rule = Intercept::once(Action::Delay(Duration::from_secs(3)));
                    ids.push(c.intercept(api, rule).await);
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
                let mut hits = 0;
                for id in ids {
                    hits += c.intercept_hits(id).await;
                    c.remove_intercept(id).await;
                }
                hits
            }),
        ),
        (
            "responses delayed 150 ms (every request for 1 s)",
            on_apis(
                &[
                    ApiKey::Fetch,
                    ApiKey::Produce,
                    ApiKey::ListOffsets,
                    ApiKey::Metadata,
                ],
                || Intercept::always(Action::Delay(Duration::from_millis(150))),
            ),
        ),
        (
            "NOT_LEADER_OR_FOLLOWER burst (Fetch/Produce/ListOffsets, 5 each)",
            on_apis(
                &[ApiKey::Fetch, ApiKey::Produce, ApiKey::ListOffsets],
                || Intercept::times(5, Action::Error(ErrorCode::NotLeaderOrFollower)),
            ),
        ),
        (
            "UNKNOWN_TOPIC_ID burst (Fetch/Produce, 5 each)",
            on_apis(&[ApiKey::Fetch, ApiKey::Produce], || {
                Intercept::times(5, Action::Error(ErrorCode::UnknownTopicId))
            }),
        ),
        (
            "LEADER_NOT_AVAILABLE burst (Metadata, 5)",
            on_apis(&[ApiKey::Metadata], || {
                Intercept::times(5, Action::Error(ErrorCode::LeaderNotAvailable))
            }),
        ),
        (
            "a broker that closes every connection right after ApiVersions (1 s)",
            on_apis(
                &[
                    ApiKey::Metadata,
                    ApiKey::Fetch,
                    ApiKey::Produce,
                    ApiKey::ListOffsets,
                ],
                || Intercept::always(Action::DropConnection),
            ),
        ),
    ]
}

async fn cluster() -> Arc<MockCluster> {
    Arc::new(
        MockCluster::builder()
            .brokers(3)
            .topic_with_replicas(TOPIC, PARTITIONS, 3)
            .start()
            .await
            .expect("a mock cluster"),
    )
}

async fn client(cluster: &MockCluster, id: &str) -> Client {
    let config = test_client_config(&cluster.bootstrap(), id)
        .request_timeout(REQUEST_TIMEOUT)
        .build()
        .expect("a client config");
    Client::connect(config).await.expect("the client connects")
}

/// Writes a wave of records (values `"{tag}-{p}-{i}"`) with the control API, noting them.
async fn write_wave(cluster: &MockCluster, ledger: &mut DeliveryLedger, tag: &str) {
    for p in 0..PARTITIONS {
        let values: Vec<String> = (0..WAVE).map(|i| format!("{tag}-{p}-{i}")).collect();
        for chunk in values.chunks(25) {
            let records: Vec<MockRecord> = chunk.iter().map(|v| MockRecord::value(v)).collect();
            let offsets = cluster.produce(TOPIC, p, &records).await.expect("written");
            for (offset, value) in offsets.zip(chunk) {
                ledger.written(TOPIC, p, offset, value);
            }
        }
    }
}

/// One row of the table.
fn row(name: &str, kind: &str, ledger: &DeliveryLedger, faults: u64) {
    let v = ledger.check();
    let t = v.total;
    println!(
        "\n| {name} | {kind} | {} | {} | {} | {} | {faults} |",
        t.written, t.lost, t.duplicated, t.skipped
    );
    v.assert_holds(Semantics::ExactlyOnce, &format!("{name} ({kind})"));
}

async fn direct_stream_under(name: &str, fault: &Fault) {
    let cluster = cluster().await;
    let mut ledger = DeliveryLedger::new();
    write_wave(&cluster, &mut ledger, "before").await;
    let reader = client(&cluster, "catalogue-stream").await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = CheckpointFile::new(dir.path().join("offsets.json"));
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([TOPIC.to_owned()]))
        .with_starting(StartingOffsets::Earliest)
        .with_batch_interval(Duration::from_millis(50))
        .with_rates(RateLimits::new().with_max_per_partition(2_000.0));
    let mut stream = DirectStream::new(reader, config, BTreeMap::new())
        .await
        .unwrap_or_else(|e| panic!("{name}: the stream starts: {e}"));
    let mut first = true;
    let mut injected = None;
    let run = async {
        loop {
            let batch = stream
                .next_batch()
                .await
                .unwrap_or_else(|e| panic!("{name}: a batch: {e}"));
            let (starts, ends) = (batch.starts(), batch.ends());
            deliver_batch(batch, &mut ledger)
                .await
                .unwrap_or_else(|(p, e)| panic!("{name}: partition {p}: {e}"));
            store
                .save(&starts, &ends)
                .expect("the checkpoint takes the batch");
            if first {
                first = false;
                // The fault runs beside the stream; the second wave is written meanwhile.
                injected = Some(tokio::spawn(fault(Arc::clone(&cluster))));
                write_wave(&cluster, &mut ledger, "during").await;
            }
            let done = injected
                .as_ref()
                .is_some_and(tokio::task::JoinHandle::is_finished);
            if done && ledger.delivered_count() >= 2 * WAVE * PARTITIONS as usize {
                break;
            }
        }
    };
    tokio::time::timeout(DEADLINE, run)
        .await
        .unwrap_or_else(|_| panic!("{name}: the stream read everything before the deadline"));
    let faults = injected
        .expect("the fault ran")
        .await
        .expect("the fault task");
    row(name, "direct stream", &ledger, faults);
}

async fn producer_under(name: &str, fault: &Fault) {
    let cluster = cluster().await;
    let writer = client(&cluster, "catalogue-producer").await;
    let config = ProducerConfig::builder()
        .linger(Duration::from_millis(2))
        .build()
        .expect("producer config");
    let producer = Producer::new(writer, config).expect("a producer");
    let injected = tokio::spawn(fault(Arc::clone(&cluster)));
    let mut pending = Vec::new();
    let records = 2 * WAVE * PARTITIONS as usize;
    for i in 0..records {
        let p = i32::try_from(i).unwrap_or(0) % PARTITIONS;
        let value = format!("sent-{i}");
        let record = ProducerRecord::new(TOPIC, Bytes::from(value.clone())).with_partition(p);
        pending.push((
            value,
            producer.send(record).await.expect("the producer takes it"),
        ));
        if i % 40 == 39 {
            // Spread the sends over the fault (about 1.2 s in all).
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }
    let mut ledger = DeliveryLedger::new();
    let acked = tokio::time::timeout(DEADLINE, async {
        let mut acked = 0;
        for (value, delivery) in pending {
            let meta = delivery
                .await
                .unwrap_or_else(|e| panic!("{name}: delivery of {value}: {e}"));
            ledger.written(TOPIC, meta.partition, meta.offset, &value);
            acked += 1;
        }
        acked
    })
    .await
    .unwrap_or_else(|_| panic!("{name}: every delivery settles before the deadline"));
    assert_eq!(acked, records, "{name}: every record acknowledged");
    producer.close().await.expect("close");
    let faults = injected.await.expect("the fault task");
    // Read the whole log back, fault-free.
    let reader = client(&cluster, "catalogue-check").await;
    let engine = FetchEngine::new(
        reader,
        FetchConfig::default().with_max_wait(Duration::from_millis(50)),
    );
    for p in 0..PARTITIONS {
        let end = cluster
            .partition_info(TOPIC, p)
            .await
            .expect("partition")
            .high_watermark;
        let mut part = engine.read(OffsetRange::new(TOPIC, p, 0, end).expect("a range"));
        deliver_reader(&mut part, &mut ledger)
            .await
            .expect("the log reads back");
    }
    row(name, "producer (idempotent)", &ledger, faults);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/test's fault step, which prints the catalogue's table"]
async fn every_fault_of_the_catalogue_loses_and_duplicates_nothing() {
    println!("\n| scenario | kind | records | lost | duplicated | skipped | faults injected |");
    println!("|---|---|---|---|---|---|---|");
    for (name, fault) in catalogue() {
        direct_stream_under(name, &fault).await;
        producer_under(name, &fault).await;
    }
}

/// What a direct stream over the catalogue's topic delivers batch by batch until a batch or a
/// partition fails; returns the ledger of deliveries and the error, as text with its kind.
async fn stream_until_error(
    cluster: &Arc<MockCluster>,
    ledger: &mut DeliveryLedger,
    fault: impl Future<Output = ()>,
) -> String {
    let reader = client(cluster, "catalogue-typed").await;
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([TOPIC.to_owned()]))
        .with_starting(StartingOffsets::Earliest)
        .with_batch_interval(Duration::from_millis(50))
        .with_rates(RateLimits::new().with_max_per_partition(1_000.0));
    let mut stream = DirectStream::new(reader, config, BTreeMap::new())
        .await
        .expect("the stream starts");
    let mut fault = Some(fault);
    let run = async {
        loop {
            let batch = match stream.next_batch().await {
                Ok(batch) => batch,
                Err(e) => return format!("stream: {e:?}"),
            };
            if let Err((p, e)) = deliver_batch(batch, ledger).await {
                return format!("partition {p}: {e:?}");
            }
            if let Some(fault) = fault.take() {
                fault.await;
            }
        }
    };
    // A stream that reads on without an error after the fault would run forever.
    tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .unwrap_or_else(|_| "no error within 15 s".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/test's fault step, which prints the catalogue's table"]
async fn retention_deleting_the_range_being_read_is_reported_never_skipped() {
    let cluster = cluster().await;
    let mut ledger = DeliveryLedger::new();
    write_wave(&cluster, &mut ledger, "kept").await;
    let deleted_to = i64::try_from(WAVE).unwrap_or(0) - 20;
    let error = stream_until_error(&cluster, &mut ledger, async {
        cluster
            .delete_records(TOPIC, 0, deleted_to)
            .await
            .expect("records deleted");
    })
    .await;
    println!(
        "\n| retention deleting the range being read | direct stream | typed error: {error} |"
    );
    assert!(error.contains("DataLoss"), "{error}");
    let v = ledger.check();
    assert_eq!(
        (
            v.total.duplicated,
            v.total.skipped,
            v.total.backwards,
            v.total.mismatched
        ),
        (0, 0, 0, 0),
        "nothing skipped past the deleted records: {}",
        v.total
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/test's fault step, which prints the catalogue's table"]
async fn truncation_below_what_was_read_is_reported() {
    let cluster = cluster().await;
    let mut ledger = DeliveryLedger::new();
    write_wave(&cluster, &mut ledger, "kept").await;
    let error = stream_until_error(&cluster, &mut ledger, async {
        // An unclean election: the new leader lacks everything from offset 10 on, and then
        // gets new records of its own at those offsets.
        cluster.truncate(TOPIC, 0, 10).await.expect("truncated");
        let records: Vec<MockRecord> = (0..WAVE)
            .map(|i| MockRecord::value(&format!("new-{i}")))
            .collect();
        cluster
            .produce(TOPIC, 0, &records)
            .await
            .expect("new records");
    })
    .await;
    println!(
        "\n| log truncated below the position (unclean election) | direct stream | typed error: {error} |"
    );
    let v = ledger.check();
    eprintln!("{}\n{}", v.total, v.examples.join("\n"));
    assert!(
        error.contains("Truncated") || error.contains("Plan"),
        "{error}"
    );
    assert_eq!(
        (v.total.duplicated, v.total.mismatched, v.total.unwritten),
        (0, 0, 0),
        "none of the new leader's records delivered as if they were the old ones: {}",
        v.total
    );
}

/// When [`stream_all`] stops.
enum Until {
    /// Once this many records were delivered.
    Delivered(usize),
    /// Once every partition's position reached this offset.
    Position(i64),
}

/// Reads every partition of the catalogue's topic with a direct stream configured by
/// `fetch`, batch by batch (each batch's ranges end wherever the rate limit cuts them), until
/// `until` holds and `more` (run after the first batch) has finished.
async fn stream_all(
    cluster: &Arc<MockCluster>,
    ledger: &mut DeliveryLedger,
    fetch: FetchConfig,
    until: Until,
    more: impl Future<Output = ()>,
) {
    let reader = client(cluster, "catalogue-all").await;
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([TOPIC.to_owned()]))
        .with_starting(StartingOffsets::Earliest)
        .with_batch_interval(Duration::from_millis(50))
        .with_rates(RateLimits::new().with_max_per_partition(700.0))
        .with_fetch(fetch);
    let mut stream = DirectStream::new(reader, config, BTreeMap::new())
        .await
        .expect("the stream starts");
    let mut more = Some(more);
    let run = async {
        loop {
            let reached = match until {
                Until::Delivered(n) => ledger.delivered_count() >= n,
                Until::Position(end) => {
                    let positions = stream.positions();
                    positions.len() == PARTITIONS as usize && positions.values().all(|&p| p >= end)
                }
            };
            if reached && more.is_none() {
                break;
            }
            let batch = stream.next_batch().await.expect("a batch");
            deliver_batch(batch, ledger)
                .await
                .unwrap_or_else(|(p, e)| panic!("partition {p}: {e}"));
            if let Some(more) = more.take() {
                more.await;
            }
        }
    };
    tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the stream reads everything before the deadline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/test's fault step, which prints the catalogue's table"]
async fn aborted_transactions_with_markers_at_range_ends_are_never_delivered() {
    let cluster = cluster().await;
    let mut ledger = DeliveryLedger::new();
    // Per partition, transactions of 7 records, every third one aborted, each followed by its
    // marker; the stream's ranges (about 35 records a batch) end on markers and inside
    // transactions alike.
    let committed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = |round: usize| {
        let cluster = Arc::clone(&cluster);
        let committed = Arc::clone(&committed);
        async move {
            for p in 0..PARTITIONS {
                for t in 0..20 {
                    let commit = t % 3 != 2;
                    let values: Vec<String> =
                        (0..7).map(|i| format!("r{round}-p{p}-t{t}-{i}")).collect();
                    let records: Vec<MockRecord> =
                        values.iter().map(|v| MockRecord::value(v)).collect();
                    let offsets = cluster
                        .produce_transaction(TOPIC, p, &records, commit)
                        .await
                        .expect("a transaction");
                    if commit {
                        let mut c = committed.lock().unwrap();
                        c.extend(offsets.zip(values).map(|(o, v)| (p, o, v)));
                    }
                }
            }
        }
    };
    writer(0).await;
    let fetch = FetchConfig::default()
        .with_max_wait(Duration::from_millis(50))
        .with_isolation(IsolationLevel::ReadCommitted);
    let wanted = 2 * 14 * 7 * PARTITIONS as usize; // committed records of both rounds
    stream_all(
        &cluster,
        &mut ledger,
        fetch,
        Until::Delivered(wanted),
        writer(1),
    )
    .await;
    for (p, offset, value) in committed.lock().unwrap().iter() {
        ledger.written(TOPIC, *p, *offset, value);
    }
    // Aborted transactions: 6 of 20 per partition and round.
    let aborted = 2 * 6 * u64::try_from(PARTITIONS).unwrap_or(0);
    row(
        "transactions aborted, markers at range ends (read_committed)",
        "direct stream",
        &ledger,
        aborted,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/test's fault step, which prints the catalogue's table"]
async fn compaction_between_fetches_skips_only_what_the_cleaner_removed() {
    let cluster = cluster().await;
    let mut ledger = DeliveryLedger::new();
    // Per partition, 400 keyed records over 40 keys: compaction keeps the last of each key.
    let mut keyed = Vec::new();
    for p in 0..PARTITIONS {
        for chunk in 0..16 {
            let batch: Vec<(String, String)> = (0..25)
                .map(|i| {
                    let n = chunk * 25 + i;
                    (format!("k{}", n % 40), format!("p{p}-{n}"))
                })
                .collect();
            let records: Vec<MockRecord> =
                batch.iter().map(|(k, v)| MockRecord::kv(k, v)).collect();
            let offsets = cluster.produce(TOPIC, p, &records).await.expect("written");
            for (offset, (_, value)) in offsets.zip(&batch) {
                ledger.written(TOPIC, p, offset, value);
                keyed.push((p, offset));
            }
        }
    }
    let compacted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let compact = {
        let (cluster, compacted) = (Arc::clone(&cluster), Arc::clone(&compacted));
        async move {
            for p in 0..PARTITIONS {
                let removed = cluster.compact(TOPIC, p).await.expect("compacted");
                compacted.fetch_add(removed, std::sync::atomic::Ordering::SeqCst);
            }
        }
    };
    let fetch = FetchConfig::default().with_max_wait(Duration::from_millis(50));
    // What is left to deliver after the first batch is only known once compacted: read until
    // the stream has passed every partition's end.
    stream_all(&cluster, &mut ledger, fetch, Until::Position(400), compact).await;
    // Which records the cleaner removed: those no longer in the log (read fault-free).
    let engine = FetchEngine::new(
        client(&cluster, "catalogue-check").await,
        FetchConfig::default(),
    );
    let mut present = std::collections::BTreeSet::new();
    for p in 0..PARTITIONS {
        let end = cluster
            .partition_info(TOPIC, p)
            .await
            .expect("partition")
            .high_watermark;
        let mut part = engine.read(OffsetRange::new(TOPIC, p, 0, end).expect("a range"));
        while let Some(chunk) = part.next_chunk().await {
            present.extend(
                chunk
                    .expect("reads")
                    .as_slice()
                    .iter()
                    .map(|r| (p, r.offset)),
            );
        }
    }
    for (p, offset) in keyed {
        if !present.contains(&(p, offset)) {
            ledger.removed(TOPIC, p, offset);
        }
    }
    let removed = compacted.load(std::sync::atomic::Ordering::SeqCst);
    assert!(removed > 0, "the cleaner removed records");
    row(
        "compaction between fetches",
        "direct stream",
        &ledger,
        u64::try_from(removed).unwrap_or(0),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/test's fault step, which prints the catalogue's table"]
async fn kafka_commits_ride_out_coordinator_load_in_progress_and_restarts() {
    let cluster = cluster().await;
    let mut ledger = DeliveryLedger::new();
    write_wave(&cluster, &mut ledger, "before").await;
    let group = "catalogue-commits";
    let partitions: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect();
    let mut injected = 0;
    let mut restarts = 0;
    let mut second_wave = false;
    let total = 2 * WAVE * PARTITIONS as usize;
    let run = async {
        loop {
            // A (re)started application: its offsets come from the group's commits.
            let reader = client(&cluster, "catalogue-commits").await;
            let store = KafkaCommits::new(reader.clone(), group);
            let stored = store.load(&partitions).await.expect("the commits load");
            let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([TOPIC.to_owned()]))
                .with_starting(StartingOffsets::Earliest)
                .with_batch_interval(Duration::from_millis(50))
                .with_rates(RateLimits::new().with_max_per_partition(1_500.0));
            let mut stream = DirectStream::new(reader, config, stored)
                .await
                .expect("the stream starts");
            for _ in 0..4 {
                // Every coordinator request of this batch's commit (and the next restart's
                // load) first answers COORDINATOR_LOAD_IN_PROGRESS, three times each.
                let mut ids = Vec::new();
                for api in [
                    ApiKey::FindCoordinator,
                    ApiKey::OffsetCommit,
                    ApiKey::OffsetFetch,
                ] {
                    let rule =
                        Intercept::times(3, Action::Error(ErrorCode::CoordinatorLoadInProgress));
                    ids.push(cluster.intercept(api, rule).await);
                }
                let batch = stream.next_batch().await.expect("a batch");
                let ranges = batch.offset_ranges().to_vec();
                deliver_batch(batch, &mut ledger)
                    .await
                    .unwrap_or_else(|(p, e)| panic!("partition {p}: {e}"));
                store
                    .commit(&ranges)
                    .await
                    .expect("the commit goes through");
                for id in ids {
                    injected += cluster.intercept_hits(id).await;
                    cluster.remove_intercept(id).await;
                }
                if !second_wave {
                    write_wave(&cluster, &mut ledger, "during").await;
                    second_wave = true;
                }
                if ledger.delivered_count() >= total {
                    return;
                }
            }
            restarts += 1;
        }
    };
    tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the stream reads everything before the deadline");
    row(
        &format!(
            "COORDINATOR_LOAD_IN_PROGRESS on every commit and load, {restarts} restarts from the commits"
        ),
        "direct stream (Kafka commits)",
        &ledger,
        injected,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/test's fault step, which prints the catalogue's table"]
async fn a_topic_deleted_and_recreated_under_the_stream_is_reported() {
    let cluster = cluster().await;
    let mut ledger = DeliveryLedger::new();
    write_wave(&cluster, &mut ledger, "old").await;
    let error = stream_until_error(&cluster, &mut ledger, async {
        cluster.delete_topic(TOPIC).await.expect("deleted");
        cluster
            .create_topic(TOPIC, PARTITIONS)
            .await
            .expect("recreated");
        let records: Vec<MockRecord> = (0..WAVE)
            .map(|i| MockRecord::value(&format!("new-{i}")))
            .collect();
        for p in 0..PARTITIONS {
            cluster
                .produce(TOPIC, p, &records)
                .await
                .expect("new records");
        }
    })
    .await;
    println!(
        "\n| topic deleted and recreated (new records at old offsets) | direct stream | typed error: {error} |"
    );
    let v = ledger.check();
    assert_eq!(
        (v.total.duplicated, v.total.mismatched, v.total.unwritten),
        (0, 0, 0),
        "none of the new topic's records delivered as if they were the old ones: {}",
        v.total
    );
    assert!(!error.starts_with("no error"), "{error}");
}
