//! Exactly-once under crashes: the `sqlite_exactly_once` example (Kafka -> direct stream ->
//! SQLite, rows and offsets in one transaction) is run as a child process 20 times, each
//! aborted at a random crash point, then once to completion; every produced record must then
//! be in the output exactly once, with its value.
//!
//! The broker is our MockCluster, started in this test process so that it outlives the
//! children. The crash points and counts come from a seeded generator; the seed is printed
//! and can be replayed with `GREGOR_CRASH_SEED`.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gregor_testkit::mock::{MockCluster, MockRecord};

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

/// Builds the example (a no-op when it is up to date) and returns its path next to this test
/// binary's target directory.
fn example_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "gregor-consumer",
            "--example",
            "sqlite_exactly_once",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the example failed");
    // This binary is target/<profile>/deps/exactly_once-<hash>.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = profile_dir.join("examples").join(format!(
        "sqlite_exactly_once{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(path.exists(), "{} exists", path.display());
    path
}

/// Runs the example once (off the runtime, which keeps serving the mock).
async fn run_child(bin: &Path, bootstrap: &str, db: &Path, crash: Option<String>) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(["--bootstrap", bootstrap, "--topic", TOPIC, "--db"])
        .arg(db)
        .args([
            "--expect",
            &(PARTITIONS as usize * PER_PARTITION).to_string(),
        ])
        .args([
            "--batch-interval-ms",
            BATCH_INTERVAL_MS,
            "--max-rate",
            MAX_RATE,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_once_across_crashes() {
    let bin = tokio::task::spawn_blocking(example_binary).await.unwrap();

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

    let seed = std::env::var("GREGOR_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("GREGOR_CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("out.db");
    let bootstrap = mock.bootstrap();
    let mut aborted = 0;
    for run in 0..CRASHED_RUNS {
        let point = ["mid-batch", "after-output", "during-commit", "after-commit"]
            [(rng.next() % 4) as usize];
        let n = if point == "mid-batch" {
            rng.upto(6_000)
        } else {
            rng.upto(2)
        };
        let spec = format!("{point}:{n}");
        let out = run_child(&bin, &bootstrap, &db, Some(spec.clone())).await;
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

    let out = run_child(&bin, &bootstrap, &db, None).await;
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
        assert_eq!(topic, TOPIC);
        let want = expected
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
    assert_eq!(
        seen.len(),
        expected.len(),
        "every record present (seed {seed})"
    );
    assert_eq!(total, expected.len());

    let offsets: BTreeMap<i32, i64> = conn
        .prepare("SELECT partition, next_offset FROM offsets WHERE topic = ?1")
        .unwrap()
        .query_map([TOPIC], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, PER_PARTITION as i64)).collect();
    assert_eq!(offsets, want, "stored offsets are the partitions' ends");
}
