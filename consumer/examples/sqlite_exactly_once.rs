//! An exactly-once pipeline: Kafka -> direct stream -> SQLite, output and offsets in one
//! transaction.
//!
//! ```sh
//! cargo run -p gregor-consumer --example sqlite_exactly_once                    # self-contained
//! cargo run -p gregor-consumer --example sqlite_exactly_once -- \
//!     --bootstrap 127.0.0.1:9092 --topic t --db out.db --expect 100000          # a real topic
//! ```
//!
//! Every batch of the [`DirectStream`] is written in ONE SQLite transaction: one `output` row per
//! record (`topic, partition, offset, value`; deliberately without a uniqueness constraint, so
//! a duplicate would show up, not be swallowed) and a compare-and-set update of the `offsets`
//! table (the next offset per partition): a partition's first batch inserts its row only if
//! none exists, a continuing batch updates it only if it still holds the batch's start. If any
//! check fails the transaction is rolled back and the program fails. On start the stream
//! resumes from the `offsets` table, so a crash anywhere leaves either the whole batch (rows
//! and offsets) or none of it, and the next run continues exactly after the last committed
//! batch. The program exits once `--expect` rows are present.
//!
//! Without `--bootstrap` it starts a MockCluster in-process, produces 4 × 500 records and
//! consumes them into a temporary database (or `--db`), then checks every record is present
//! exactly once.
//!
//! Crash injection for tests: `GREGOR_CRASH_AT=<point>:<n>` calls `std::process::abort()` at
//! the n-th time (1-based) the run reaches `<point>`:
//! - `mid-batch`: after the n-th record row inserted by this run (inside the transaction);
//! - `after-output`: a batch's rows inserted, before its offsets update (inside);
//! - `during-commit`: rows and offsets written, just before `COMMIT`;
//! - `after-commit`: just after `COMMIT`.
//!
//! Batch points count only batches with at least one record.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use gregor_consumer::TopicPartition;
use gregor_consumer::direct::rate::RateLimits;
use gregor_consumer::direct::{
    ConsumerStrategy, DirectStream, DirectStreamConfig, StartingOffsets,
};
use gregor_consumer::store::{BatchStart, PartitionOffsets};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use support::{AnyError, drain};

// `pub(crate)`: tests/exactly_once.rs compiles this file as a module and runs this `main` in
// its child processes.
#[tokio::main]
pub(crate) async fn main() {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("sqlite_exactly_once: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args).await {
        eprintln!("sqlite_exactly_once failed: {e}");
        std::process::exit(1);
    }
}

const USAGE: &str = "usage: sqlite_exactly_once [--bootstrap HOST:PORT --topic T --expect N] \
    [--db PATH] [--batch-interval-ms MS] [--max-rate RECORDS_PER_S_PER_PARTITION]";

/// Command-line arguments.
struct Args {
    bootstrap: Option<String>,
    topic: Option<String>,
    db: Option<PathBuf>,
    expect: Option<u64>,
    batch_interval: Duration,
    max_rate: f64,
    crash: Option<Crash>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut args = Args {
            bootstrap: None,
            topic: None,
            db: None,
            expect: None,
            batch_interval: Duration::from_millis(10),
            max_rate: 200_000.0,
            crash: Crash::from_env()?,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--bootstrap" => args.bootstrap = Some(value()?),
                "--topic" => args.topic = Some(value()?),
                "--db" => args.db = Some(PathBuf::from(value()?)),
                "--expect" => {
                    args.expect = Some(value()?.parse().map_err(|e| format!("--expect: {e}"))?)
                }
                "--batch-interval-ms" => {
                    let ms: u64 = value()?
                        .parse()
                        .map_err(|e| format!("--batch-interval-ms: {e}"))?;
                    args.batch_interval = Duration::from_millis(ms.max(1));
                }
                "--max-rate" => {
                    args.max_rate = value()?.parse().map_err(|e| format!("--max-rate: {e}"))?;
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if args.bootstrap.is_some() && (args.topic.is_none() || args.expect.is_none()) {
            return Err("--bootstrap needs --topic and --expect".into());
        }
        Ok(args)
    }
}

/// Where to abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Point {
    MidBatch,
    AfterOutput,
    DuringCommit,
    AfterCommit,
}

/// `GREGOR_CRASH_AT`: abort the n-th time `point` is reached.
#[derive(Debug, Clone, Copy)]
struct Crash {
    point: Point,
    n: u64,
    reached: u64,
}

impl Crash {
    fn from_env() -> Result<Option<Crash>, String> {
        let Ok(spec) = std::env::var("GREGOR_CRASH_AT") else {
            return Ok(None);
        };
        let (point, n) = spec
            .split_once(':')
            .ok_or(format!("GREGOR_CRASH_AT={spec}: expected <point>:<n>"))?;
        let point = match point {
            "mid-batch" => Point::MidBatch,
            "after-output" => Point::AfterOutput,
            "during-commit" => Point::DuringCommit,
            "after-commit" => Point::AfterCommit,
            other => return Err(format!("unknown crash point {other}")),
        };
        let n = n
            .parse()
            .map_err(|e| format!("GREGOR_CRASH_AT count: {e}"))?;
        Ok(Some(Crash {
            point,
            n,
            reached: 0,
        }))
    }
}

/// Counts arrivals at `point` and aborts the process at the chosen one.
fn reached(crash: &mut Option<Crash>, point: Point) {
    if let Some(c) = crash.as_mut().filter(|c| c.point == point) {
        c.reached += 1;
        if c.reached == c.n {
            eprintln!("crash injection: aborting at {point:?} #{}", c.n);
            std::process::abort();
        }
    }
}

async fn run(mut args: Args) -> Result<(), AnyError> {
    // Self-contained mode: our own broker and records.
    let mut mock_guard = None;
    let mut temp_guard = None;
    let (bootstrap, topic, expect) = match (&args.bootstrap, &args.topic, args.expect) {
        (Some(b), Some(t), Some(n)) => (b.clone(), t.clone(), n),
        _ => {
            let broker = support::broker().await?;
            let client = support::client(&broker.bootstrap).await?;
            let topic = support::unique_topic("sqlite");
            support::create_topic(&client, &topic, 4).await?;
            let produced = support::produce(&broker.bootstrap, &topic, 4, 500).await?;
            println!("produced {} records to {topic}", produced.len());
            let bootstrap = broker.bootstrap.clone();
            mock_guard = Some(broker);
            (bootstrap, topic, produced.len() as u64)
        }
    };
    let db = match args.db.clone() {
        Some(path) => path,
        None => {
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("out.db");
            temp_guard = Some(dir);
            path
        }
    };

    let mut conn = open(&db)?;
    let stored = load_offsets(&conn)?;
    let mut rows = count_rows(&conn)?;
    println!("db {}: {rows} rows, resuming at {stored:?}", db.display());

    let client = support::client(&bootstrap).await?;
    let config = DirectStreamConfig::new(ConsumerStrategy::subscribe([topic.clone()]))
        .with_starting(StartingOffsets::Earliest)
        .with_batch_interval(args.batch_interval)
        .with_rates(RateLimits::new().with_max_per_partition(args.max_rate));
    let mut stream = DirectStream::new(client, config, stored).await?;

    let mut batches = 0u64;
    while rows < expect {
        let batch = stream.next_batch().await?;
        let (starts, ends) = (batch.starts(), batch.ends());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut written = 0u64;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO output (topic, partition, offset, value) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for reader in batch.into_partitions() {
                let partition = reader.range().partition();
                for (offset, value) in drain(reader).await? {
                    insert.execute(params![topic, partition, offset, value.as_ref()])?;
                    written += 1;
                    reached(&mut args.crash, Point::MidBatch);
                }
            }
        }
        if written > 0 {
            reached(&mut args.crash, Point::AfterOutput);
        }
        for (tp, start) in &starts {
            let (t, p) = (tp.topic(), tp.partition);
            let end = ends.get(tp).copied().ok_or(format!("no end for {t}/{p}"))?;
            if end < start.offset() {
                return Err(format!("{t}/{p} would move backwards").into());
            }
            let changed = match start {
                BatchStart::First(_) => tx.execute(
                    "INSERT INTO offsets (topic, partition, next_offset) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO NOTHING",
                    params![t, p, end],
                )?,
                BatchStart::Continue(from) => tx.execute(
                    "UPDATE offsets SET next_offset = ?3 \
                     WHERE topic = ?1 AND partition = ?2 AND next_offset = ?4",
                    params![t, p, end, from],
                )?,
            };
            if changed != 1 {
                // Dropping the transaction rolls the batch back, rows included.
                let stored: Option<i64> = tx
                    .query_row(
                        "SELECT next_offset FROM offsets WHERE topic = ?1 AND partition = ?2",
                        params![t, p],
                        |r| r.get(0),
                    )
                    .optional()?;
                return Err(format!(
                    "offset conflict on {t}/{p}: stored {stored:?}, batch start {start:?}; rolled back"
                )
                .into());
            }
        }
        if written > 0 {
            reached(&mut args.crash, Point::DuringCommit);
        }
        tx.commit()?;
        if written > 0 {
            reached(&mut args.crash, Point::AfterCommit);
            batches += 1;
        }
        rows += written;
    }

    let duplicates: i64 = conn.query_row(
        "SELECT COUNT(*) FROM (SELECT 1 FROM output GROUP BY topic, partition, offset HAVING COUNT(*) > 1)",
        [],
        |r| r.get(0),
    )?;
    let total = count_rows(&conn)?;
    println!("{batches} batches written this run; {total} rows, {duplicates} duplicated offsets");
    if duplicates != 0 || total != expect {
        return Err(format!(
            "expected {expect} distinct rows, found {total} rows and {duplicates} duplicates"
        )
        .into());
    }
    drop(conn);
    drop((mock_guard, temp_guard));
    Ok(())
}

/// Opens (creating if needed) the database: WAL journal, the output and offsets tables.
fn open(path: &std::path::Path) -> Result<Connection, AnyError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         CREATE TABLE IF NOT EXISTS output (
             topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL, value BLOB);
         CREATE TABLE IF NOT EXISTS offsets (
             topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
             PRIMARY KEY (topic, partition));",
    )?;
    Ok(conn)
}

/// The stored next offset of every partition.
fn load_offsets(conn: &Connection) -> Result<PartitionOffsets, AnyError> {
    let mut stmt = conn.prepare("SELECT topic, partition, next_offset FROM offsets")?;
    let rows = stmt.query_map([], |r| {
        let topic: String = r.get(0)?;
        Ok((TopicPartition::new(topic, r.get(1)?), r.get(2)?))
    })?;
    Ok(rows.collect::<Result<PartitionOffsets, _>>()?)
}

/// The number of output rows.
fn count_rows(conn: &Connection) -> Result<u64, AnyError> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM output", [], |r| r.get(0))?;
    Ok(u64::try_from(n)?)
}
