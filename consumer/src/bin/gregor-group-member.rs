//! `gregor-group-member`: one gregor [`GroupConsumer`] as a consumer-group member in a
//! process of its own, speaking the line protocol of the testkit's group peers (Java's
//! `GroupMemberPeer.java` and librdkafka's `group_member.py`; the table is in
//! `gregor_testkit::kafka::group_peer`), so that tests drive gregor members as they drive
//! Java's, and can kill them with SIGKILL.
//!
//! Usage: `gregor-group-member BOOTSTRAP TIMEOUT_SECONDS (--topics T1,T2 | --pattern REGEX)
//! [--delay-ms N] [K=V ...]`. The properties go as they are to
//! [`GroupProperties::parse`] (the client's keys to the client, the group's to
//! [`GroupConfig`](gregor_consumer::GroupConfig)); the bootstrap servers are set here, after
//! them. A pattern is matched against whole topic names. `--delay-ms` sleeps that long per
//! record before counting it processed (a slow member). The program exits with status 3 once
//! it has run `TIMEOUT_SECONDS`, 2 on bad arguments.
//!
//! Commands on standard input, one per line: `stop` (and the end of input): commit what was
//! processed when auto-commit is off, close the consumer (which commits with auto-commit on,
//! and leaves the group), print `closed` and exit 0; `kill`: exit at once, closing nothing;
//! `commit`: commit what was processed, whether auto-commit is on or off.
//!
//! Lines printed: `ready` once subscribed; `assigned`, `revoked`, `lost` with the partitions
//! of each [`GroupEvent`] (with auto-commit off, the processed offsets of revoked partitions
//! are committed before `revoked` is printed); `records TOPIC PARTITION FIRST LAST COUNT
//! GENERATION AT_MS [OFFSET...]` per chunk, with the generation (or member epoch) the consumer
//! is in; `committed TOPIC PARTITION OFFSET ...` for every commit this member made that
//! succeeded, as soon as the consumer knows of it (the explicit ones and, with auto-commit on,
//! the automatic ones as [`GroupConsumer::committed`] shows them after each event; the commits
//! the consumer makes itself while revoking partitions or closing are not reported);
//! `commit-failed MESSAGE` (also when the commit of `close` fails: the consumer closes
//! anyway); `closed`; `error MESSAGE` on a fatal error (exit 1).
//!
//! Every record the consumer delivers is reported, whether or not this program thinks the
//! member owns its partition: a delivery outside an assignment is for the test to see.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gregor_consumer::group::config::GroupProperties;
use gregor_consumer::group::consumer::GroupConsumerSettings;
use gregor_consumer::{
    Client, GroupConsumer, GroupEvent, RecordChunk, StartAt, Subscription, TopicPartition,
};
use tokio::sync::mpsc;

const USAGE: &str = "usage: gregor-group-member BOOTSTRAP TIMEOUT_SECONDS \
                     (--topics T1,T2 | --pattern REGEX) [--delay-ms N] [K=V ...]";

/// The command line, parsed.
#[derive(Debug)]
struct Args {
    bootstrap: String,
    timeout: Duration,
    subscription: Subscribe,
    delay: Duration,
    properties: Vec<(String, String)>,
}

/// What to subscribe to, before the pattern is compiled.
#[derive(Debug)]
enum Subscribe {
    Topics(Vec<String>),
    Pattern(String),
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let [bootstrap, timeout, rest @ ..] = args else {
        return Err("missing BOOTSTRAP and TIMEOUT_SECONDS".into());
    };
    let timeout = timeout
        .parse::<u64>()
        .map_err(|_| format!("not a number of seconds: {timeout}"))?;
    let mut subscription = None;
    let mut delay = Duration::ZERO;
    let mut properties = Vec::new();
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--topics" | "--pattern" | "--delay-ms" => {
                let value = words
                    .next()
                    .ok_or_else(|| format!("{word} needs a value"))?;
                match word.as_str() {
                    "--topics" => {
                        subscription = Some(Subscribe::Topics(
                            value.split(',').map(str::to_owned).collect(),
                        ));
                    }
                    "--pattern" => subscription = Some(Subscribe::Pattern(value.clone())),
                    _ => {
                        let ms = value
                            .parse::<u64>()
                            .map_err(|_| format!("not a number of milliseconds: {value}"))?;
                        delay = Duration::from_millis(ms);
                    }
                }
            }
            property => match property.split_once('=') {
                Some((key, value)) if !key.is_empty() => {
                    properties.push((key.to_owned(), value.to_owned()));
                }
                _ => return Err(format!("not a property: {property}")),
            },
        }
    }
    Ok(Args {
        bootstrap: bootstrap.clone(),
        timeout: Duration::from_secs(timeout),
        subscription: subscription.ok_or("give one of --topics and --pattern")?,
        delay,
        properties,
    })
}

/// A command read from standard input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Stop,
    Commit,
}

fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    // A test that stopped reading has no use for the line; the member goes on regardless.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `WHAT TOPIC PARTITION ...`, sorted.
fn pairs(what: &str, partitions: &[TopicPartition]) -> String {
    let mut sorted: Vec<&TopicPartition> = partitions.iter().collect();
    sorted.sort();
    let mut line = what.to_owned();
    for tp in sorted {
        line.push_str(&format!(" {} {}", tp.topic, tp.partition));
    }
    line
}

/// Reads standard input on a thread of its own: `kill` exits here, `stop` and the end of
/// input set `stopping` (so that a slow member stops mid-chunk) and are sent on.
fn read_commands(stopping: Arc<AtomicBool>) -> mpsc::UnboundedReceiver<Command> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match line.trim() {
                "kill" => std::process::exit(0),
                "stop" => break,
                "commit" => {
                    let _ = tx.send(Command::Commit);
                }
                "" => {}
                other => eprintln!("gregor-group-member: unknown command {other}"),
            }
        }
        stopping.store(true, Ordering::SeqCst);
        let _ = tx.send(Command::Stop);
    });
    rx
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&args) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("gregor-group-member: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let timeout = args.timeout;
    std::thread::spawn(move || {
        std::thread::sleep(timeout);
        eprintln!(
            "gregor-group-member: timed out after {} s",
            timeout.as_secs()
        );
        std::process::exit(3);
    });
    let stopping = Arc::new(AtomicBool::new(false));
    let commands = read_commands(Arc::clone(&stopping));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            emit(&format!(
                "error the runtime: {}",
                one_line(&error.to_string())
            ));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args, commands, stopping)) {
        Ok(()) => {
            emit("closed");
            ExitCode::SUCCESS
        }
        Err(error) => {
            emit(&format!("error {}", one_line(&error)));
            ExitCode::from(1)
        }
    }
}

/// What one turn of the loop got.
enum Step {
    Command(Option<Command>),
    Event(Result<GroupEvent, gregor_consumer::GroupError>),
}

async fn run(
    args: Args,
    mut commands: mpsc::UnboundedReceiver<Command>,
    stopping: Arc<AtomicBool>,
) -> Result<(), String> {
    let properties = GroupProperties::parse(
        args.properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|e| format!("properties: {e}"))?;
    let client_config = properties
        .client
        .bootstrap_servers([args.bootstrap.as_str()])
        .build()
        .map_err(|e| format!("client properties: {e}"))?;
    let settings = GroupConsumerSettings::from_config(&properties.group, &[])
        .map_err(|e| format!("group properties: {e}"))?;
    let subscription = match args.subscription {
        Subscribe::Topics(topics) => Subscription::Topics(topics),
        Subscribe::Pattern(pattern) => Subscription::Pattern(
            regex::Regex::new(&pattern).map_err(|e| format!("--pattern: {e}"))?,
        ),
    };
    let client = Client::connect(client_config)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let mut consumer = GroupConsumer::new(client, settings, subscription);
    emit("ready");
    let mut member = Member {
        auto_commit: properties.group.auto_commit,
        delay: args.delay,
        stopping,
        owned: BTreeSet::new(),
        processed: BTreeMap::new(),
        reported: BTreeMap::new(),
    };
    loop {
        let step = tokio::select! {
            biased;
            command = commands.recv() => Step::Command(command),
            event = consumer.next() => Step::Event(event),
        };
        match step {
            Step::Command(Some(Command::Commit)) => {
                if let Err(error) = consumer.commit().await {
                    emit(&format!("commit-failed {}", one_line(&error.to_string())));
                }
            }
            Step::Command(Some(Command::Stop) | None) => break,
            Step::Event(Ok(event)) => member.on_event(&mut consumer, event).await,
            Step::Event(Err(error)) => return Err(error.to_string()),
        }
        member.report_commits(&consumer);
    }
    member.close(consumer).await
}

/// What the program keeps of its member.
struct Member {
    auto_commit: bool,
    delay: Duration,
    stopping: Arc<AtomicBool>,
    /// The partitions assigned and neither revoked nor lost since.
    owned: BTreeSet<TopicPartition>,
    /// Per owned partition, the offset after the last record processed.
    processed: BTreeMap<TopicPartition, i64>,
    /// Per owned partition, the committed offset last reported (or found at assignment).
    reported: BTreeMap<TopicPartition, i64>,
}

impl Member {
    async fn on_event(&mut self, consumer: &mut GroupConsumer, event: GroupEvent) {
        match event {
            GroupEvent::Records(chunk) => self.process(consumer, &chunk).await,
            GroupEvent::Assigned(partitions) => {
                for tp in &partitions {
                    self.owned.insert(tp.clone());
                    // What the member found committed is not its own commit.
                    if let Some(found) = consumer.committed(tp) {
                        self.reported.insert(tp.clone(), found);
                    }
                }
                emit(&pairs("assigned", &partitions));
            }
            GroupEvent::Revoked(partitions) => {
                if !self.auto_commit {
                    self.commit_revoked(consumer, &partitions).await;
                }
                emit(&pairs("revoked", &partitions));
                self.drop_partitions(&partitions);
            }
            GroupEvent::Lost(partitions) => {
                emit(&pairs("lost", &partitions));
                self.drop_partitions(&partitions);
            }
            GroupEvent::PollIntervalExceeded => {
                eprintln!("gregor-group-member: max.poll.interval.ms exceeded; rejoining");
            }
            other => eprintln!("gregor-group-member: {other:?}"),
        }
    }

    /// Processes one chunk (sleeping per record when asked) and reports it. A member told
    /// to stop processes no more records: it seeks back to the first one it did not
    /// process, so that neither a commit nor the close stores it.
    async fn process(&mut self, consumer: &mut GroupConsumer, chunk: &RecordChunk) {
        let tp = chunk.topic_partition().clone();
        let records = chunk.as_slice();
        let mut offsets = Vec::with_capacity(records.len());
        for record in records {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            offsets.push(record.offset);
        }
        if let Some(unprocessed) = records.get(offsets.len()) {
            if let Err(error) = consumer.seek(&tp, StartAt::Offset(unprocessed.offset)) {
                eprintln!("gregor-group-member: seek back on stop: {error}");
            }
        }
        let (Some(first), Some(last)) = (offsets.first(), offsets.last()) else {
            return;
        };
        let generation = consumer
            .generation()
            .map_or(-1, |(generation, _)| generation);
        let mut line = format!(
            "records {} {} {first} {last} {} {generation} {}",
            tp.topic,
            tp.partition,
            offsets.len(),
            now_ms()
        );
        if usize::try_from(last - first + 1).ok() != Some(offsets.len()) {
            for offset in &offsets {
                line.push_str(&format!(" {offset}"));
            }
        }
        emit(&line);
        self.processed.insert(tp, last + 1);
    }

    /// Auto-commit off: commits what was processed of revoked `partitions` before the
    /// revocation completes (as Java's peer does in `onPartitionsRevoked`).
    async fn commit_revoked(
        &mut self,
        consumer: &mut GroupConsumer,
        partitions: &[TopicPartition],
    ) {
        let offsets: Vec<(TopicPartition, i64, Option<i32>)> = partitions
            .iter()
            .filter_map(|tp| {
                let next = *self.processed.get(tp)?;
                (self.reported.get(tp) != Some(&next)).then(|| (tp.clone(), next, None))
            })
            .collect();
        if offsets.is_empty() {
            return;
        }
        match consumer.commit_offsets(&offsets).await {
            Ok(()) => {
                let mut line = String::from("committed");
                for (tp, offset, _) in &offsets {
                    line.push_str(&format!(" {} {} {offset}", tp.topic, tp.partition));
                    self.reported.insert(tp.clone(), *offset);
                }
                emit(&line);
            }
            Err(error) => emit(&format!("commit-failed {}", one_line(&error.to_string()))),
        }
    }

    /// Prints the commits the consumer made for owned partitions since the last look.
    fn report_commits(&mut self, consumer: &GroupConsumer) {
        let mut line = String::new();
        for tp in &self.owned {
            let Some(committed) = consumer.committed(tp) else {
                continue;
            };
            if self.reported.insert(tp.clone(), committed) != Some(committed) {
                line.push_str(&format!(" {} {} {committed}", tp.topic, tp.partition));
            }
        }
        if !line.is_empty() {
            emit(&format!("committed{line}"));
        }
    }

    fn drop_partitions(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.owned.remove(tp);
            self.processed.remove(tp);
            self.reported.remove(tp);
        }
    }

    /// Stops: commits what was processed (auto-commit off), then closes the consumer (which
    /// commits with auto-commit on, and leaves the group). A commit that fails is reported
    /// (`commit-failed`); the member still closes.
    async fn close(mut self, mut consumer: GroupConsumer) -> Result<(), String> {
        if !self.auto_commit {
            if let Err(error) = consumer.commit().await {
                emit(&format!("commit-failed {}", one_line(&error.to_string())));
            }
            self.report_commits(&consumer);
        }
        // The consumer closes (revokes, leaves) whatever its commit did: an error is the
        // commit's, as Java's close logs a failed auto-commit and goes on.
        if let Err(error) = consumer.close().await {
            emit(&format!(
                "commit-failed closing: {}",
                one_line(&error.to_string())
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Result<Args, String> {
        parse_args(&words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn the_arguments_of_the_peers_parse() {
        let parsed = args(&[
            "127.0.0.1:9092",
            "30",
            "--topics",
            "a,b",
            "--delay-ms",
            "5",
            "group.id=g",
            "client.id=x=y",
        ])
        .unwrap();
        assert_eq!(parsed.bootstrap, "127.0.0.1:9092");
        assert_eq!(parsed.timeout, Duration::from_secs(30));
        assert_eq!(parsed.delay, Duration::from_millis(5));
        assert!(matches!(&parsed.subscription, Subscribe::Topics(t) if t == &["a", "b"]));
        assert_eq!(
            parsed.properties,
            [
                ("group.id".to_owned(), "g".to_owned()),
                ("client.id".to_owned(), "x=y".to_owned())
            ]
        );
        let pattern = args(&["b", "1", "--pattern", "t-.*"]).unwrap();
        assert!(matches!(&pattern.subscription, Subscribe::Pattern(p) if p == "t-.*"));
    }

    #[test]
    fn bad_arguments_are_refused() {
        for bad in [
            &["b"][..],
            &["b", "x", "--topics", "t"],
            &["b", "1"],
            &["b", "1", "--topics"],
            &["b", "1", "--topics", "t", "=v"],
            &["b", "1", "--topics", "t", "novalue"],
            &["b", "1", "--topics", "t", "--delay-ms", "soon"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn partitions_print_sorted() {
        let tps = [TopicPartition::new("t", 2), TopicPartition::new("s", 9)];
        assert_eq!(pairs("revoked", &tps), "revoked s 9 t 2");
        assert_eq!(pairs("assigned", &[]), "assigned");
    }
}
