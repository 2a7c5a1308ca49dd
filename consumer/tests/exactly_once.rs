//! Exactly-once under crashes: the `sqlite_exactly_once` example (Kafka -> direct stream ->
//! SQLite, rows and offsets in one transaction) is run as a child process 20 times, each
//! aborted at a random crash point, then once to completion; every produced record must then
//! be in the output exactly once, with its value.
//!
//! The broker is our MockCluster, started in this test process so that it outlives the
//! children (and, smaller, tansu and Apache Kafka). The crash points and counts come from a
//! seeded generator; the seed is printed and can be replayed with `GREGOR_CRASH_SEED`.
//!
//! The example's source is compiled into this test binary (`mod example` below), and the
//! children are this binary re-run with [`CHILD_ENV`] set, which runs the example's `main`.
//! That way the test needs no second cargo build (which would rebuild dependencies with
//! another feature set). Hence `harness = false`: `main` below lists and runs the tests
//! the way libtest would (`--list`, name filters, `--exact`, `--skip`).

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitCode, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gregor_client::admin::{CreateTopicsOptions, NewTopic};
use gregor_client::config::{ClientConfig, ProducerConfig};
use gregor_client::producer::{Producer, ProducerRecord};
use gregor_client::{Admin, Client};
use gregor_testkit::data::{create_topic, test_client, unique_name};
use gregor_testkit::mock::{MockCluster, MockRecord};
use gregor_testkit::{BrokerKind, TestBroker};

const TOPIC: &str = "exactly-once";
const PARTITIONS: i32 = 4;
const PER_PARTITION: usize = 25_000;
const PRODUCE_BATCH: usize = 500;
const CRASHED_RUNS: usize = 20;
/// 100,000 records/s per partition × 10 ms batches: 1,000 records per partition per batch.
const MAX_RATE: &str = "100000";
const BATCH_INTERVAL_MS: &str = "10";

/// splitmix64: a small seeded generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `1..=max`.
    fn upto(&mut self, max: u64) -> u64 {
        1 + self.next() % max
    }
}

fn value(partition: i32, i: usize) -> String {
    format!("p{partition}-value-{i}")
}

#[path = "../examples/sqlite_exactly_once.rs"]
mod example;

/// Set in a child's environment: run the example instead of the tests.
const CHILD_ENV: &str = "GREGOR_EXACTLY_ONCE_CHILD";

/// The tests of this file, by name.
const TESTS: [(&str, fn()); 3] = [
    (
        "every_record_once_across_crashes",
        every_record_once_across_crashes,
    ),
    (
        "every_record_once_across_crashes_on_tansu",
        every_record_once_across_crashes_on_tansu,
    ),
    (
        "every_record_once_across_crashes_on_kafka",
        every_record_once_across_crashes_on_kafka,
    ),
];

fn main() -> ExitCode {
    if std::env::var_os(CHILD_ENV).is_some() {
        example::main();
        return ExitCode::SUCCESS;
    }
    let selection = Selection::from_args(std::env::args().skip(1));
    let selected: Vec<_> = TESTS
        .iter()
        .filter(|(name, _)| selection.runs(name))
        .collect();
    if selection.list {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, test) in &selected {
        println!("test {name} ...");
        let ok = std::panic::catch_unwind(test).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failed.push(*name);
        }
    }
    let filtered = TESTS.len() - selected.len();
    if failed.is_empty() {
        println!(
            "\ntest result: ok. {} passed; 0 failed; {filtered} filtered out",
            selected.len()
        );
        ExitCode::SUCCESS
    } else {
        println!("\nfailures:\n    {}", failed.join("\n    "));
        println!(
            "\ntest result: FAILED. {} passed; {} failed; {filtered} filtered out",
            selected.len() - failed.len(),
            failed.len()
        );
        ExitCode::FAILURE
    }
}

/// Which tests the command line selects, read the way libtest reads it (the subset cargo test
/// and cargo nextest pass).
#[derive(Default)]
struct Selection {
    list: bool,
    exact: bool,
    /// `--ignored`: run only ignored tests, of which this file has none.
    ignored_only: bool,
    filters: Vec<String>,
    skips: Vec<String>,
}

impl Selection {
    fn from_args(args: impl IntoIterator<Item = String>) -> Selection {
        let mut sel = Selection::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--list" => sel.list = true,
                "--exact" => sel.exact = true,
                "--ignored" => sel.ignored_only = true,
                "--skip" => sel.skips.extend(args.next()),
                // Options with a value that do not change the selection.
                "--test-threads" | "--format" | "--color" | "--logfile" | "-Z" => {
                    args.next();
                }
                flag if flag.starts_with('-') => {}
                filter => sel.filters.push(filter.to_owned()),
            }
        }
        sel
    }

    fn matches(&self, name: &str, pattern: &str) -> bool {
        if self.exact {
            name == pattern
        } else {
            name.contains(pattern)
        }
    }

    fn runs(&self, name: &str) -> bool {
        !self.ignored_only
            && (self.filters.is_empty() || self.filters.iter().any(|f| self.matches(name, f)))
            && !self.skips.iter().any(|s| self.matches(name, s))
    }
}

/// Runs a test body on a two-worker runtime (as `#[tokio::test(flavor = "multi_thread")]`).
fn block_on<F: std::future::Future<Output = ()>>(body: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(body);
}

/// One scenario: a topic, what it holds, and how hard to push.
struct Scenario<'a> {
    bootstrap: &'a str,
    topic: &'a str,
    /// (partition, offset) -> value of every produced record.
    expected: &'a BTreeMap<(i32, i64), String>,
    crashed_runs: usize,
    /// `--max-rate`: records/s per partition (× 10 ms batches).
    max_rate: &'a str,
    /// Crash counts are drawn from `1..=mid_batch_max` records or `1..=batch_max` batches.
    mid_batch_max: u64,
    batch_max: u64,
}

/// Runs the example once (off the runtime, which keeps serving the mock).
async fn run_child(bin: &Path, sc: &Scenario<'_>, db: &Path, crash: Option<String>) -> Output {
    let mut cmd = Command::new(bin);
    cmd.env(CHILD_ENV, "1");
    cmd.args(["--bootstrap", sc.bootstrap, "--topic", sc.topic, "--db"])
        .arg(db)
        .args(["--expect", &sc.expected.len().to_string()])
        .args([
            "--batch-interval-ms",
            BATCH_INTERVAL_MS,
            "--max-rate",
            sc.max_rate,
        ])
        // Core dumps of the aborted runs, if enabled, land in the temporary directory.
        .current_dir(db.parent().unwrap_or(Path::new(".")))
        .env_remove("GREGOR_CRASH_AT")
        .env_remove("KAFKA_BOOTSTRAP_SERVERS");
    if let Some(spec) = crash {
        cmd.env("GREGOR_CRASH_AT", spec);
    }
    let run = tokio::task::spawn_blocking(move || cmd.output().expect("the example starts"));
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the example finished within 2 minutes")
        .expect("the waiting thread")
}

/// The crash seed: `GREGOR_CRASH_SEED` or the clock; printed for replay.
fn seed() -> u64 {
    let seed = std::env::var("GREGOR_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("GREGOR_CRASH_SEED={seed}");
    seed
}

/// Runs the example `crashed_runs` times with random crash points, then to completion, and
/// checks the database holds every expected record exactly once and the partitions' ends.
async fn crash_and_check(sc: Scenario<'_>) {
    let bin = std::env::current_exe().expect("this test binary's path");
    let seed = seed();
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("out.db");
    let mut aborted = 0;
    for run in 0..sc.crashed_runs {
        let point = ["mid-batch", "after-output", "during-commit", "after-commit"]
            [(rng.next() % 4) as usize];
        let n = if point == "mid-batch" {
            rng.upto(sc.mid_batch_max)
        } else {
            rng.upto(sc.batch_max)
        };
        let spec = format!("{point}:{n}");
        let out = run_child(&bin, &sc, &db, Some(spec.clone())).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        match (out.status.success(), out.status.signal()) {
            (true, _) => println!("run {run} ({spec}): finished before its crash point"),
            (false, Some(6)) => {
                aborted += 1;
                println!("run {run} ({spec}): aborted");
            }
            _ => panic!(
                "run {run} ({spec}, seed {seed}) failed: {}\n{stderr}",
                out.status
            ),
        }
    }
    assert!(aborted > 0, "no run was aborted (seed {seed})");

    let out = run_child(&bin, &sc, &db, None).await;
    assert!(
        out.status.success(),
        "the final run failed (seed {seed}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare("SELECT topic, partition, offset, value FROM output")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i32>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })
        .unwrap();
    let mut seen: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    let mut total = 0;
    for row in rows {
        let (topic, partition, offset, v) = row.unwrap();
        assert_eq!(topic, sc.topic);
        let want = sc
            .expected
            .get(&(partition, offset))
            .unwrap_or_else(|| panic!("row for {partition}/{offset} that was never produced"));
        assert_eq!(v, want.as_bytes(), "value of {partition}/{offset}");
        *seen.entry((partition, offset)).or_default() += 1;
        total += 1;
    }
    let duplicates: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).take(5).collect();
    assert!(
        duplicates.is_empty(),
        "duplicated records (seed {seed}): {duplicates:?}"
    );
    let missing = sc.expected.keys().filter(|k| !seen.contains_key(k)).count();
    println!(
        "{} records, {aborted} of {} runs aborted, {} duplicated, {missing} missing",
        sc.expected.len(),
        sc.crashed_runs,
        seen.values().filter(|&&c| c > 1).count(),
    );
    assert_eq!(
        seen.len(),
        sc.expected.len(),
        "every record present (seed {seed})"
    );
    assert_eq!(total, sc.expected.len());

    let offsets: BTreeMap<i32, i64> = conn
        .prepare("SELECT partition, next_offset FROM offsets WHERE topic = ?1")
        .unwrap()
        .query_map([sc.topic], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, o) in sc.expected.keys() {
        let end = ends.entry(*p).or_default();
        *end = (*end).max(o + 1);
    }
    assert_eq!(offsets, ends, "stored offsets are the partitions' ends");
}

fn every_record_once_across_crashes() {
    block_on(every_record_once_on_mock());
}

async fn every_record_once_on_mock() {
    let mock = MockCluster::builder()
        .brokers(3)
        .topic(TOPIC, PARTITIONS)
        .start()
        .await
        .unwrap();
    let mut expected: BTreeMap<(i32, i64), String> = BTreeMap::new();
    for p in 0..PARTITIONS {
        for start in (0..PER_PARTITION).step_by(PRODUCE_BATCH) {
            let values: Vec<String> = (start..start + PRODUCE_BATCH)
                .map(|i| value(p, i))
                .collect();
            let records: Vec<MockRecord> = values.iter().map(|v| MockRecord::value(v)).collect();
            let offsets = mock.produce(TOPIC, p, &records).await.unwrap();
            for (offset, v) in offsets.zip(values) {
                expected.insert((p, offset), v);
            }
        }
    }
    assert_eq!(expected.len(), PARTITIONS as usize * PER_PARTITION);
    crash_and_check(Scenario {
        bootstrap: &mock.bootstrap(),
        topic: TOPIC,
        expected: &expected,
        crashed_runs: CRASHED_RUNS,
        max_rate: MAX_RATE,
        mid_batch_max: 6_000,
        batch_max: 2,
    })
    .await;
}

/// The same on tansu, smaller: tansu 0.6.0 answers ListOffsets LATEST with the last batch's
/// base offset + 1 (testkit's conformance table), which is the high watermark only when every
/// batch holds one record, so records are produced one per batch (each send awaited).
fn every_record_once_across_crashes_on_tansu() {
    block_on(every_record_once_on_tansu());
}

async fn every_record_once_on_tansu() {
    let broker = TestBroker::start_kind_async(BrokerKind::Tansu)
        .await
        .unwrap_or_else(|e| panic!("tansu (installed by .ci/install-tansu.sh): {e}"));
    let bootstrap = broker.bootstrap();
    let config = ClientConfig::builder()
        .bootstrap_servers([bootstrap.clone()])
        .retry_backoff(Duration::from_millis(20))
        .build()
        .unwrap();
    let client = Client::connect(config.clone()).await.unwrap();
    let results = Admin::new(client.clone())
        .create_topics(
            vec![NewTopic::new(TOPIC, PARTITIONS, 1)],
            CreateTopicsOptions::default().wait_for_leaders(true),
        )
        .await
        .unwrap();
    results[TOPIC].as_ref().expect("topic created");
    let producer_config = ProducerConfig::builder()
        .linger(Duration::ZERO)
        .build()
        .unwrap();
    let producer = Producer::new(client, producer_config).unwrap();
    let mut expected: BTreeMap<(i32, i64), String> = BTreeMap::new();
    for i in 0..150 {
        for p in 0..PARTITIONS {
            let v = value(p, i);
            let record = ProducerRecord::new(TOPIC, Bytes::from(v.clone())).with_partition(p);
            let meta = producer.send(record).await.unwrap().await.unwrap();
            assert!(expected.insert((meta.partition, meta.offset), v).is_none());
        }
    }
    producer.close().await.unwrap();
    crash_and_check(Scenario {
        bootstrap: &bootstrap,
        topic: TOPIC,
        expected: &expected,
        crashed_runs: 6,
        // 2,000 records/s per partition × 10 ms: 20 records per partition per batch.
        max_rate: "2000",
        mid_batch_max: 200,
        batch_max: 3,
    })
    .await;
}

/// The same on Apache Kafka (this process's shared broker, which outlives the children): 2,000
/// records produced by gregor's producer in ordinary multi-record batches.
fn every_record_once_across_crashes_on_kafka() {
    block_on(every_record_once_on_kafka());
}

async fn every_record_once_on_kafka() {
    let broker = TestBroker::start_kind_async(BrokerKind::Kafka)
        .await
        .unwrap_or_else(|e| panic!("Apache Kafka (installed by .ci/install-kafka.sh): {e}"));
    let bootstrap = broker.bootstrap();
    let topic = unique_name("exactly-once");
    let client = test_client(&bootstrap, "gregor-exactly-once-test").await;
    create_topic(&client, &topic, PARTITIONS).await;
    let producer_config = ProducerConfig::builder().build().unwrap();
    let producer = Producer::new(client, producer_config).unwrap();
    let mut deliveries = Vec::new();
    for i in 0..500 {
        for p in 0..PARTITIONS {
            let v = value(p, i);
            let record =
                ProducerRecord::new(topic.as_str(), Bytes::from(v.clone())).with_partition(p);
            deliveries.push((producer.send(record).await.unwrap(), v));
        }
    }
    let mut expected: BTreeMap<(i32, i64), String> = BTreeMap::new();
    for (delivery, v) in deliveries {
        let meta = delivery.await.unwrap();
        assert!(expected.insert((meta.partition, meta.offset), v).is_none());
    }
    producer.close().await.unwrap();
    crash_and_check(Scenario {
        bootstrap: &bootstrap,
        topic: &topic,
        expected: &expected,
        crashed_runs: 10,
        // 2,000 records/s per partition × 10 ms: 20 records per partition per batch.
        max_rate: "2000",
        mid_batch_max: 300,
        batch_max: 4,
    })
    .await;
}
