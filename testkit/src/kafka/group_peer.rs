//! Other clients as members of a consumer group, for tests that put gregor's group consumer in
//! the same group as them: Java's `KafkaConsumer` (`testkit/kafka/GroupMemberPeer.java`,
//! compiled with the [`peer`](super::peer)) and librdkafka's consumer through Python's
//! `confluent_kafka` (`testkit/kafka/group_member.py`).
//!
//! A [`GroupPeer`] is one such member in a process of its own: it subscribes with the consumer
//! properties it is given, polls until told to stop, and reports what happens to it as lines on
//! its standard output, which a thread here parses into a log of [`PeerEvent`]s: the rebalance
//! listener's calls (assigned, revoked, lost), the records it processed (per partition per
//! poll, with the member's wall-clock time), its commits. With auto-commit off it commits what
//! it processed before giving a partition up and when it stops; with auto-commit on, the
//! client commits, and only what was processed counts as consumed. Tests wait on the log
//! ([`GroupPeer::wait_for`], [`wait_for_all`], [`wait_owned_exactly_once`]; `until` and
//! `until_all` from async tests), read who owns what ([`GroupPeer::owned`]), and check every
//! produced offset was delivered ([`Ledger`]).
//!
//! # The member programs
//!
//! Both take `BOOTSTRAP TIMEOUT_SECONDS (--topics T1,T2 | --pattern REGEX) [--delay-ms N]
//! [K=V ...]` ([`MemberConfig`] writes them): the properties go to the consumer as they are
//! (Java also takes librdkafka's assignor names `range`, `roundrobin`, `sticky`,
//! `cooperative-sticky` in `partition.assignment.strategy`); `--delay-ms` sleeps per record (a
//! slow member); each exits by itself after its timeout. Commands on standard input: `stop`
//! (and the end of input) commits what was processed when auto-commit is off, closes the
//! consumer (which leaves the group) and exits; `kill` exits at once without closing (the member
//! stays in the group until its session times out); `commit` commits what was processed.
//!
//! The lines, one per event (`TP...` is a list of `TOPIC PARTITION` pairs, maybe empty):
//!
//! | line | event |
//! | --- | --- |
//! | `ready` | [`PeerEvent::Ready`]: subscribed, before the first poll |
//! | `assigned TP...` | [`PeerEvent::Assigned`] (cooperative protocols: the partitions added) |
//! | `revoked TP...` | [`PeerEvent::Revoked`] (after committing them, auto-commit off) |
//! | `lost TP...` | [`PeerEvent::Lost`] |
//! | `records TOPIC PARTITION FIRST LAST COUNT GENERATION AT_MS [OFFSET...]` | [`PeerEvent::Records`]: one poll's records of one partition, processed at `AT_MS` (ms since the epoch) in group generation `GENERATION` (-1 when unknown: librdkafka does not tell); the offsets are listed only when they are not exactly `FIRST..=LAST` |
//! | `committed TOPIC PARTITION OFFSET ...` | [`PeerEvent::Committed`]: a synchronous commit of these next offsets succeeded |
//! | `commit-failed MESSAGE` | [`PeerEvent::CommitFailed`] |
//! | `closed` | [`PeerEvent::Closed`]: the consumer closed, the program exits 0 |
//! | `error MESSAGE` | [`PeerEvent::Error`]: a fatal error, the program exits 1 |
//!
//! A member whose process ends unexpectedly makes every wait on it fail at once with its exit
//! status and the end of its standard error; dropping a [`GroupPeer`] kills the process, and a
//! test process that dies closes the members' input, which stops them.
//!
//! ```no_run
//! use std::time::Duration;
//! use gregor_testkit::kafka::KafkaCluster;
//! use gregor_testkit::kafka::group_peer::{GroupPeer, Ledger};
//!
//! let kafka = KafkaCluster::shared().unwrap();
//! let props = [
//!     ("group.id", "g"),
//!     ("partition.assignment.strategy", "cooperative-sticky"),
//!     ("enable.auto.commit", "false"),
//!     ("auto.offset.reset", "earliest"),
//! ];
//! let mut java = GroupPeer::java(kafka.install(), &kafka.bootstrap(), &props, &["t"]).unwrap();
//! java.wait_for(|events| !GroupPeer::ownership(events).is_empty(), Duration::from_secs(30))
//!     .unwrap();
//! java.stop().unwrap();
//! let mut ledger = Ledger::new();
//! ledger.add_peer(&java);
//! assert!(ledger.missing("t", 0, 0..10).is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::io::{BufRead as _, BufReader, Write as _};
use std::ops::Range;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::install::KafkaInstall;
use super::peer::{JavaPeer, PeerError, write_if_changed};
use crate::process::{cache_dir, find_in_path};

const PYTHON_SOURCE: &str = include_str!("../../kafka/group_member.py");

/// How long a member runs before its program exits by itself (unless [`MemberConfig`] says
/// otherwise): a guard against members a test forgot, not a test's budget.
pub const MEMBER_TIMEOUT: Duration = Duration::from_secs(300);

/// How long [`GroupPeer::stop`] waits for the member to close and exit before killing it.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// How many lines of a member's standard error are kept for error messages.
const STDERR_LINES: usize = 60;

/// How many of a member's last events an error message shows.
const EVENTS_SHOWN: usize = 12;

/// How often the waits on several members (and the async waits) look at the logs.
const POLL: Duration = Duration::from_millis(20);

/// A topic partition: the topic's name and the partition's index.
pub type Partition = (String, i32);

/// One line a member printed ([the table](self#the-member-programs)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// Subscribed, before the first poll.
    Ready,
    /// The rebalance listener was given these partitions (under a cooperative protocol, the
    /// ones added; under an eager one, the whole new assignment).
    Assigned(Vec<Partition>),
    /// The rebalance listener was asked to give these up (and, auto-commit off, their
    /// processed offsets were committed first).
    Revoked(Vec<Partition>),
    /// The rebalance listener was told these were lost (nothing committed).
    Lost(Vec<Partition>),
    /// Records of one partition from one poll, processed.
    Records {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The first record's offset.
        first: i64,
        /// The last record's offset.
        last: i64,
        /// How many records.
        count: usize,
        /// The member's group generation (-1 when the client does not tell: librdkafka).
        generation: i32,
        /// When the member had processed them, in milliseconds since the Unix epoch (its
        /// wall clock).
        at_ms: i64,
        /// Every offset, in order (`first..=last` unless the partition had gaps).
        offsets: Vec<i64>,
    },
    /// A synchronous commit of these next offsets (topic, partition, offset) succeeded.
    Committed(Vec<(String, i32, i64)>),
    /// A synchronous commit failed, with the client's message.
    CommitFailed(String),
    /// The consumer closed; the program exits 0.
    Closed,
    /// A fatal error; the program exits 1.
    Error(String),
    /// A line this module does not understand.
    Unknown(String),
}

impl PeerEvent {
    /// The event of one printed line (`Unknown` when it is none).
    pub fn parse(line: &str) -> PeerEvent {
        let line = line.trim_end();
        let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
        let parsed = match head {
            "ready" if rest.is_empty() => Some(PeerEvent::Ready),
            "closed" if rest.is_empty() => Some(PeerEvent::Closed),
            "assigned" => parse_pairs(rest).map(PeerEvent::Assigned),
            "revoked" => parse_pairs(rest).map(PeerEvent::Revoked),
            "lost" => parse_pairs(rest).map(PeerEvent::Lost),
            "records" => parse_records(rest),
            "committed" => parse_commits(rest).map(PeerEvent::Committed),
            "commit-failed" => Some(PeerEvent::CommitFailed(rest.to_owned())),
            "error" => Some(PeerEvent::Error(rest.to_owned())),
            _ => None,
        };
        parsed.unwrap_or_else(|| PeerEvent::Unknown(line.to_owned()))
    }
}

fn parse_pairs(rest: &str) -> Option<Vec<Partition>> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    if words.len() % 2 != 0 {
        return None;
    }
    words
        .chunks(2)
        .map(|w| Some((w[0].to_owned(), w[1].parse().ok()?)))
        .collect()
}

fn parse_commits(rest: &str) -> Option<Vec<(String, i32, i64)>> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    if words.len() % 3 != 0 {
        return None;
    }
    words
        .chunks(3)
        .map(|w| Some((w[0].to_owned(), w[1].parse().ok()?, w[2].parse().ok()?)))
        .collect()
}

fn parse_records(rest: &str) -> Option<PeerEvent> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let [
        topic,
        partition,
        first,
        last,
        count,
        generation,
        at_ms,
        listed @ ..,
    ] = &words[..]
    else {
        return None;
    };
    let (first, last, count): (i64, i64, usize) =
        (first.parse().ok()?, last.parse().ok()?, count.parse().ok()?);
    let offsets: Vec<i64> = if listed.is_empty() {
        (first..=last).collect()
    } else {
        listed
            .iter()
            .map(|o| o.parse().ok())
            .collect::<Option<_>>()?
    };
    if offsets.len() != count || offsets.first() != Some(&first) || offsets.last() != Some(&last) {
        return None;
    }
    Some(PeerEvent::Records {
        topic: (*topic).to_owned(),
        partition: partition.parse().ok()?,
        first,
        last,
        count,
        generation: generation.parse().ok()?,
        at_ms: at_ms.parse().ok()?,
        offsets,
    })
}

/// The event as the member printed it.
impl fmt::Display for PeerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs = |f: &mut fmt::Formatter<'_>, what: &str, ps: &[Partition]| {
            f.write_str(what)?;
            ps.iter().try_for_each(|(t, p)| write!(f, " {t} {p}"))
        };
        match self {
            PeerEvent::Ready => f.write_str("ready"),
            PeerEvent::Closed => f.write_str("closed"),
            PeerEvent::Assigned(ps) => pairs(f, "assigned", ps),
            PeerEvent::Revoked(ps) => pairs(f, "revoked", ps),
            PeerEvent::Lost(ps) => pairs(f, "lost", ps),
            PeerEvent::Records {
                topic,
                partition,
                first,
                last,
                count,
                generation,
                at_ms,
                offsets,
            } => {
                write!(
                    f,
                    "records {topic} {partition} {first} {last} {count} {generation} {at_ms}"
                )?;
                if usize::try_from(last - first + 1).ok() != Some(*count) {
                    offsets.iter().try_for_each(|o| write!(f, " {o}"))?;
                }
                Ok(())
            }
            PeerEvent::Committed(cs) => {
                f.write_str("committed")?;
                cs.iter()
                    .try_for_each(|(t, p, o)| write!(f, " {t} {p} {o}"))
            }
            PeerEvent::CommitFailed(m) => write!(f, "commit-failed {m}"),
            PeerEvent::Error(m) => write!(f, "error {m}"),
            PeerEvent::Unknown(line) => f.write_str(line),
        }
    }
}

/// What a member subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// These topics.
    Topics(Vec<String>),
    /// The topics whose names match this regular expression (Java's `Pattern`; librdkafka's
    /// regex subscription, `^` prepended when missing).
    Pattern(String),
}

/// How a member is set up: its consumer properties, subscription, per-record processing delay
/// and lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberConfig {
    /// The consumer's properties (`group.id`, `partition.assignment.strategy`,
    /// `group.instance.id`, `enable.auto.commit`, `auto.offset.reset`, `session.timeout.ms`,
    /// ...), passed as they are; the bootstrap servers are set by the program.
    pub properties: Vec<(String, String)>,
    /// What it subscribes to.
    pub subscription: Subscription,
    /// How long it sleeps per record before counting it processed (a slow member).
    pub record_delay: Duration,
    /// How long the program runs before exiting by itself ([`MEMBER_TIMEOUT`] by default).
    pub timeout: Duration,
}

impl MemberConfig {
    /// A member with `properties` subscribed to `topics`.
    pub fn new(properties: &[(&str, &str)], topics: &[&str]) -> MemberConfig {
        MemberConfig {
            properties: owned_properties(properties),
            subscription: Subscription::Topics(topics.iter().map(|t| (*t).to_owned()).collect()),
            record_delay: Duration::ZERO,
            timeout: MEMBER_TIMEOUT,
        }
    }

    /// A member with `properties` subscribed to the topics matching `regex`.
    pub fn pattern(properties: &[(&str, &str)], regex: &str) -> MemberConfig {
        MemberConfig {
            properties: owned_properties(properties),
            subscription: Subscription::Pattern(regex.to_owned()),
            record_delay: Duration::ZERO,
            timeout: MEMBER_TIMEOUT,
        }
    }

    /// Sleeps `delay` per record before counting it processed.
    pub fn with_record_delay(mut self, delay: Duration) -> MemberConfig {
        self.record_delay = delay;
        self
    }

    /// Exits by itself after `timeout` (whole seconds, at least one).
    pub fn with_timeout(mut self, timeout: Duration) -> MemberConfig {
        self.timeout = timeout;
        self
    }

    /// The value of property `key`, if set.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The program's arguments after the bootstrap servers and the timeout.
    fn args(&self) -> Result<Vec<String>, GroupPeerError> {
        let mut args = Vec::new();
        match &self.subscription {
            Subscription::Topics(topics) => {
                if topics.is_empty() || topics.iter().any(|t| t.is_empty() || t.contains(',')) {
                    return Err(invalid(format!("not a topic list: {topics:?}")));
                }
                args.push("--topics".to_owned());
                args.push(topics.join(","));
            }
            Subscription::Pattern(regex) => {
                args.push("--pattern".to_owned());
                args.push(regex.clone());
            }
        }
        if !self.record_delay.is_zero() {
            args.push("--delay-ms".to_owned());
            args.push(self.record_delay.as_millis().to_string());
        }
        for (k, v) in &self.properties {
            if k.is_empty() || k.contains('=') || k.starts_with('-') {
                return Err(invalid(format!("not a property name: {k:?}")));
            }
            args.push(format!("{k}={v}"));
        }
        Ok(args)
    }

    /// A name for messages: the client kind and the `client.id`, `group.instance.id` or
    /// nothing.
    fn label(&self, kind: &str) -> String {
        match self
            .property("client.id")
            .or_else(|| self.property("group.instance.id"))
        {
            Some(id) => format!("{kind} member {id}"),
            None => format!("{kind} member"),
        }
    }
}

fn owned_properties(properties: &[(&str, &str)]) -> Vec<(String, String)> {
    properties
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn invalid(message: String) -> GroupPeerError {
    GroupPeerError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        message,
    ))
}

/// Why a member could not be started, or a wait on it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GroupPeerError {
    /// Java's side: Kafka's jars, Java or `javac` missing, or the program did not compile.
    #[error(transparent)]
    Java(#[from] PeerError),
    /// No `python3` that imports `confluent_kafka` (`.ci/run` installs it with pip).
    #[error("no python3 with confluent_kafka (python3 -m pip install confluent-kafka==2.16.1)")]
    NoLibrdkafka,
    /// A file or process operation failed, or a [`MemberConfig`] is not valid.
    #[error("group peer: {0}")]
    Io(#[from] std::io::Error),
    /// What was waited for did not happen in time.
    #[error("{what} did not happen within {waited:?}\n{state}")]
    Timeout {
        /// The awaited condition, in words.
        what: String,
        /// How long it was waited for.
        waited: Duration,
        /// Each member's state: ownership, last events, the end of its standard error.
        state: String,
    },
    /// A member's process ended while something was awaited of it, or [`GroupPeer::stop`]
    /// saw it exit with a failure.
    #[error("{peer} exited ({status})\n{state}")]
    Exited {
        /// The member.
        peer: String,
        /// Its exit status.
        status: String,
        /// Its state: ownership, last events, the end of its standard error.
        state: String,
    },
}

/// The parsed events of one member, shared with the thread reading its output.
#[derive(Debug, Default)]
struct Log {
    state: Mutex<LogState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct LogState {
    events: Vec<PeerEvent>,
    /// The member's standard output ended (the process exited, or is exiting).
    ended: bool,
}

/// The end of a member's standard error.
#[derive(Debug, Default)]
struct Stderr {
    lines: VecDeque<String>,
    done: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a thread panicked holding it; the data is intact.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One group member in a process of its own (Java's or librdkafka's consumer), its output
/// parsed into a log of [`PeerEvent`]s. The waits block their thread (use the `until`
/// variants in async tests); dropping it kills the process.
#[derive(Debug)]
pub struct GroupPeer {
    label: String,
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    log: Arc<Log>,
    stderr: Arc<Mutex<Stderr>>,
    readers: Vec<JoinHandle<()>>,
    /// Set once [`stop`](Self::stop) or [`kill`](Self::kill) ended it on purpose.
    ended_by_test: AtomicBool,
}

impl GroupPeer {
    /// Starts Java's `KafkaConsumer` (the broker's version) as a member against `bootstrap`
    /// with `properties`, subscribed to `topics` (compiling the peer first if needed).
    pub fn java(
        install: &KafkaInstall,
        bootstrap: &str,
        properties: &[(&str, &str)],
        topics: &[&str],
    ) -> Result<GroupPeer, GroupPeerError> {
        let peer = JavaPeer::new(install)?;
        GroupPeer::java_with(&peer, bootstrap, &MemberConfig::new(properties, topics))
    }

    /// Starts Java's `KafkaConsumer` as a member set up by `config`.
    pub fn java_with(
        peer: &JavaPeer,
        bootstrap: &str,
        config: &MemberConfig,
    ) -> Result<GroupPeer, GroupPeerError> {
        let command = peer.group_member_command(bootstrap, config.timeout, &config.args()?);
        GroupPeer::spawn(config.label("java"), command)
    }

    /// Starts librdkafka's consumer (Python's `confluent_kafka`) as a member against
    /// `bootstrap` with `properties`, subscribed to `topics`.
    pub fn librdkafka(
        bootstrap: &str,
        properties: &[(&str, &str)],
        topics: &[&str],
    ) -> Result<GroupPeer, GroupPeerError> {
        GroupPeer::librdkafka_with(bootstrap, &MemberConfig::new(properties, topics))
    }

    /// Starts librdkafka's consumer as a member set up by `config`.
    pub fn librdkafka_with(
        bootstrap: &str,
        config: &MemberConfig,
    ) -> Result<GroupPeer, GroupPeerError> {
        if !GroupPeer::librdkafka_available() {
            return Err(GroupPeerError::NoLibrdkafka);
        }
        let python = python().ok_or(GroupPeerError::NoLibrdkafka)?;
        let script = python_script()?;
        let mut command = Command::new(python);
        command
            .arg("-u")
            .arg(script)
            .arg(bootstrap)
            .arg(config.timeout.as_secs().max(1).to_string())
            .args(config.args()?)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        GroupPeer::spawn(config.label("librdkafka"), command)
    }

    /// Whether `python3` imports `confluent_kafka` (asked once per process).
    pub fn librdkafka_available() -> bool {
        librdkafka_versions().is_some()
    }

    /// `confluent-kafka <version>, librdkafka <version>` when
    /// [`librdkafka_available`](Self::librdkafka_available).
    pub fn librdkafka_version() -> Option<String> {
        librdkafka_versions().clone()
    }

    fn spawn(label: String, mut command: Command) -> Result<GroupPeer, GroupPeerError> {
        let mut child = command.spawn()?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(invalid(
                "the member's standard streams were not piped".into(),
            ));
        };
        let log = Arc::new(Log::default());
        let tail = Arc::new(Mutex::new(Stderr::default()));
        let out_log = Arc::clone(&log);
        let out = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                lock(&out_log.state).events.push(PeerEvent::parse(&line));
                out_log.changed.notify_all();
            }
            lock(&out_log.state).ended = true;
            out_log.changed.notify_all();
        });
        let err_tail = Arc::clone(&tail);
        let err = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut tail = lock(&err_tail);
                if tail.lines.len() == STDERR_LINES {
                    tail.lines.pop_front();
                }
                tail.lines.push_back(line);
            }
            lock(&err_tail).done = true;
        });
        Ok(GroupPeer {
            label,
            child: Mutex::new(child),
            stdin: Mutex::new(Some(stdin)),
            log,
            stderr: tail,
            readers: vec![out, err],
            ended_by_test: AtomicBool::new(false),
        })
    }

    /// The member's name in messages: `java member <client.id>`, `librdkafka member ...`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        lock(&self.child).id()
    }

    /// Whether the process still runs.
    pub fn is_running(&self) -> bool {
        matches!(lock(&self.child).try_wait(), Ok(None))
    }

    /// Every event so far, in order.
    pub fn events(&self) -> Vec<PeerEvent> {
        lock(&self.log.state).events.clone()
    }

    /// The partitions the member owns according to `events`: assigned and neither revoked
    /// nor lost since, and nothing once closed.
    pub fn ownership(events: &[PeerEvent]) -> BTreeSet<Partition> {
        let mut owned = BTreeSet::new();
        for event in events {
            match event {
                PeerEvent::Assigned(ps) => owned.extend(ps.iter().cloned()),
                PeerEvent::Revoked(ps) | PeerEvent::Lost(ps) => {
                    for p in ps {
                        owned.remove(p);
                    }
                }
                PeerEvent::Closed => owned.clear(),
                _ => {}
            }
        }
        owned
    }

    /// The partitions the member owns now, as far as its log tells
    /// ([`ownership`](Self::ownership)). A killed member's log still names what it owned when
    /// it died.
    pub fn owned(&self) -> BTreeSet<Partition> {
        GroupPeer::ownership(&lock(&self.log.state).events)
    }

    /// Waits until `pred` holds for the member's events (checked at once and after every new
    /// event). Fails at once if the process ends first, and after `timeout`.
    pub fn wait_for(
        &self,
        mut pred: impl FnMut(&[PeerEvent]) -> bool,
        timeout: Duration,
    ) -> Result<(), GroupPeerError> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.log.state);
        loop {
            if pred(&state.events) {
                return Ok(());
            }
            if state.ended {
                drop(state);
                return Err(self.exited());
            }
            let now = Instant::now();
            if now >= deadline {
                drop(state);
                return Err(self.timed_out("the awaited event", timeout));
            }
            state = self
                .log
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// [`wait_for`](Self::wait_for) from an async test: looks every 20 ms, sleeping on the
    /// runtime's timer in between.
    pub async fn until(
        &self,
        mut pred: impl FnMut(&[PeerEvent]) -> bool,
        timeout: Duration,
    ) -> Result<(), GroupPeerError> {
        let started = Instant::now();
        loop {
            let ended = {
                let state = lock(&self.log.state);
                if pred(&state.events) {
                    return Ok(());
                }
                state.ended
            };
            if ended {
                return Err(self.exited());
            }
            if started.elapsed() >= timeout {
                return Err(self.timed_out("the awaited event", timeout));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the member printed `ready` (it has subscribed).
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), GroupPeerError> {
        self.wait_for(|es| es.contains(&PeerEvent::Ready), timeout)
    }

    /// Sends one command line (`commit`, `stop`, `kill`) to the member.
    pub fn send(&self, command: &str) -> Result<(), GroupPeerError> {
        let mut stdin = lock(&self.stdin);
        let pipe = stdin
            .as_mut()
            .ok_or_else(|| invalid(format!("{}: its input is closed", self.label)))?;
        pipe.write_all(format!("{command}\n").as_bytes())?;
        pipe.flush()?;
        Ok(())
    }

    /// Asks the member to commit what it processed, synchronously, whether auto-commit is on
    /// or off (a `committed` or `commit-failed` event follows unless there was nothing new to
    /// commit).
    pub fn commit(&self) -> Result<(), GroupPeerError> {
        self.send("commit")
    }

    /// Stops the member gracefully: it commits what it processed (auto-commit off), closes its
    /// consumer, which leaves the group, and exits. Waits up to [`STOP_TIMEOUT`] (then kills
    /// it and fails); fails if it exits with an error. The log stays readable.
    pub fn stop(&mut self) -> Result<(), GroupPeerError> {
        self.begin_stop();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(done) = self.stopped() {
                return done;
            }
            if Instant::now() >= deadline {
                return Err(self.stop_timed_out());
            }
            std::thread::sleep(POLL);
        }
    }

    /// [`stop`](Self::stop) from an async test, sleeping on the runtime's timer while it waits.
    pub async fn stop_async(&mut self) -> Result<(), GroupPeerError> {
        self.begin_stop();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(done) = self.stopped() {
                return done;
            }
            if Instant::now() >= deadline {
                return Err(self.stop_timed_out());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn begin_stop(&mut self) {
        self.ended_by_test.store(true, Ordering::Relaxed);
        // A member that already exited has no reader: the exit status tells below.
        let _ = self.send("stop");
        drop(lock(&self.stdin).take());
    }

    /// `Some` once the stopping member exited: `Ok` on status 0, its failure otherwise.
    fn stopped(&mut self) -> Option<Result<(), GroupPeerError>> {
        let status = match lock(&self.child).try_wait() {
            Ok(status) => status?,
            Err(e) => return Some(Err(e.into())),
        };
        self.join_readers();
        Some(if status.success() {
            Ok(())
        } else {
            Err(GroupPeerError::Exited {
                peer: self.label.clone(),
                status: status.to_string(),
                state: self.describe(),
            })
        })
    }

    fn stop_timed_out(&mut self) -> GroupPeerError {
        let err = self.timed_out("closing and exiting", STOP_TIMEOUT);
        self.kill();
        err
    }

    /// Kills the member at once (SIGKILL): it does not close its consumer nor leave the group,
    /// which keeps it as a member until its session times out. The log stays readable.
    pub fn kill(&mut self) {
        self.ended_by_test.store(true, Ordering::Relaxed);
        {
            let mut child = lock(&self.child);
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        drop(lock(&self.stdin).take());
        self.join_readers();
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    /// The error for a member whose output ended: its exit status (waited for up to 5 s) and
    /// state.
    fn exited(&self) -> GroupPeerError {
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            match lock(&self.child).try_wait() {
                Ok(Some(status)) => break status.to_string(),
                Ok(None) if Instant::now() < deadline => {}
                Ok(None) => break "still running, its output closed".to_owned(),
                Err(e) => break format!("unknown: {e}"),
            }
            std::thread::sleep(POLL);
        };
        // Its standard error ends with the process: give the reader a moment to finish.
        let deadline = Instant::now() + Duration::from_secs(1);
        while !lock(&self.stderr).done && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        let by_test = if self.ended_by_test.load(Ordering::Relaxed) {
            " (stopped or killed by the test)"
        } else {
            ""
        };
        GroupPeerError::Exited {
            peer: format!("{}{by_test}", self.label),
            status,
            state: self.describe(),
        }
    }

    fn timed_out(&self, what: &str, waited: Duration) -> GroupPeerError {
        GroupPeerError::Timeout {
            what: format!("{}: {what}", self.label),
            waited,
            state: self.describe(),
        }
    }

    /// The member's state for error messages: what it owns, its last events, the end of its
    /// standard error.
    pub fn describe(&self) -> String {
        let (owned, total, last) = {
            let state = lock(&self.log.state);
            let events = &state.events;
            let last: Vec<String> = events[events.len().saturating_sub(EVENTS_SHOWN)..]
                .iter()
                .map(ToString::to_string)
                .collect();
            (GroupPeer::ownership(events), events.len(), last)
        };
        let stderr: Vec<String> = lock(&self.stderr).lines.iter().cloned().collect();
        let owned: Vec<String> = owned.iter().map(|(t, p)| format!("{t}-{p}")).collect();
        format!(
            "--- {}: owns [{}]; its last {} of {} events ---\n{}\n--- its stderr (end) ---\n{}",
            self.label,
            owned.join(", "),
            last.len(),
            total,
            last.join("\n"),
            stderr.join("\n"),
        )
    }
}

impl Drop for GroupPeer {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

/// Waits until `pred` holds for the logs of `peers` (in the order given), looking every
/// 20 ms. Fails at once when a member's process ends that the test did not stop or kill, and
/// after `timeout`, describing every member.
pub fn wait_for_all(
    peers: &[&GroupPeer],
    timeout: Duration,
    mut pred: impl FnMut(&[&[PeerEvent]]) -> bool,
) -> Result<(), GroupPeerError> {
    let started = Instant::now();
    loop {
        if let Some(done) = check_all(peers, timeout, started, &mut pred) {
            return done;
        }
        std::thread::sleep(POLL);
    }
}

/// [`wait_for_all`] from an async test.
pub async fn until_all(
    peers: &[&GroupPeer],
    timeout: Duration,
    mut pred: impl FnMut(&[&[PeerEvent]]) -> bool,
) -> Result<(), GroupPeerError> {
    let started = Instant::now();
    loop {
        if let Some(done) = check_all(peers, timeout, started, &mut pred) {
            return done;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One look for [`wait_for_all`]: `Some` once it is decided.
fn check_all(
    peers: &[&GroupPeer],
    timeout: Duration,
    started: Instant,
    pred: &mut impl FnMut(&[&[PeerEvent]]) -> bool,
) -> Option<Result<(), GroupPeerError>> {
    let dead = {
        let states: Vec<MutexGuard<'_, LogState>> =
            peers.iter().map(|p| lock(&p.log.state)).collect();
        let logs: Vec<&[PeerEvent]> = states.iter().map(|s| s.events.as_slice()).collect();
        if pred(&logs) {
            return Some(Ok(()));
        }
        peers
            .iter()
            .zip(&states)
            .find(|(p, s)| s.ended && !p.ended_by_test.load(Ordering::Relaxed))
            .map(|(p, _)| *p)
    };
    if let Some(peer) = dead {
        return Some(Err(peer.exited()));
    }
    if started.elapsed() >= timeout {
        let labels: Vec<&str> = peers.iter().map(|p| p.label()).collect();
        let state: Vec<String> = peers.iter().map(|p| p.describe()).collect();
        return Some(Err(GroupPeerError::Timeout {
            what: format!("the awaited state of {}", labels.join(", ")),
            waited: timeout,
            state: state.join("\n"),
        }));
    }
    None
}

/// Whether the ownership sets in `owned` split `partitions` exactly: pairwise disjoint, their
/// union `partitions`, and (when there are at least as many partitions as members) each member
/// owning some.
pub fn splits_exactly(owned: &[BTreeSet<Partition>], partitions: &BTreeSet<Partition>) -> bool {
    let total: usize = owned.iter().map(BTreeSet::len).sum();
    let union: BTreeSet<&Partition> = owned.iter().flatten().collect();
    let everyone = partitions.len() < owned.len() || owned.iter().all(|o| !o.is_empty());
    total == union.len() && union.len() == partitions.len() && everyone && {
        union.iter().all(|p| partitions.contains(*p))
    }
}

/// Waits until `peers` own `partitions` exactly once between them ([`splits_exactly`]: the
/// rebalance has settled, and each member has a share when there are enough partitions) and
/// returns what each owns.
pub fn wait_owned_exactly_once(
    peers: &[&GroupPeer],
    partitions: &BTreeSet<Partition>,
    timeout: Duration,
) -> Result<Vec<BTreeSet<Partition>>, GroupPeerError> {
    let mut split = Vec::new();
    wait_for_all(peers, timeout, |logs| {
        split = logs.iter().map(|l| GroupPeer::ownership(l)).collect();
        splits_exactly(&split, partitions)
    })?;
    Ok(split)
}

/// [`wait_owned_exactly_once`] from an async test.
pub async fn until_owned_exactly_once(
    peers: &[&GroupPeer],
    partitions: &BTreeSet<Partition>,
    timeout: Duration,
) -> Result<Vec<BTreeSet<Partition>>, GroupPeerError> {
    let mut split = Vec::new();
    until_all(peers, timeout, |logs| {
        split = logs.iter().map(|l| GroupPeer::ownership(l)).collect();
        splits_exactly(&split, partitions)
    })
    .await?;
    Ok(split)
}

/// The partitions `0..count` of `topic`, for [`wait_owned_exactly_once`].
pub fn partitions_of(topic: &str, count: i32) -> BTreeSet<Partition> {
    (0..count).map(|p| (topic.to_owned(), p)).collect()
}

/// One delivery of one offset to one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The member it was delivered to (a [`GroupPeer::label`] or a name the test chose).
    pub member: String,
    /// The member's group generation then (-1 when unknown).
    pub generation: i32,
    /// When the member had processed it (ms since the Unix epoch, its wall clock).
    pub at_ms: i64,
}

/// Which offsets were delivered to whom, across the members of a group (peers and gregor's
/// own consumers alike): for checking that every produced offset was delivered, and how often.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    seen: BTreeMap<Partition, BTreeMap<i64, Vec<Delivery>>>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Records that `member` processed `offset` of `topic`'s `partition`.
    pub fn record(
        &mut self,
        member: &str,
        topic: &str,
        partition: i32,
        offset: i64,
        generation: i32,
        at_ms: i64,
    ) {
        self.seen
            .entry((topic.to_owned(), partition))
            .or_default()
            .entry(offset)
            .or_default()
            .push(Delivery {
                member: member.to_owned(),
                generation,
                at_ms,
            });
    }

    /// Records every offset of the [`PeerEvent::Records`] in `events` as delivered to `member`.
    pub fn add_events(&mut self, member: &str, events: &[PeerEvent]) {
        for event in events {
            if let PeerEvent::Records {
                topic,
                partition,
                generation,
                at_ms,
                offsets,
                ..
            } = event
            {
                for offset in offsets {
                    self.record(member, topic, *partition, *offset, *generation, *at_ms);
                }
            }
        }
    }

    /// Records what `peer` processed so far, under its label.
    pub fn add_peer(&mut self, peer: &GroupPeer) {
        self.add_events(peer.label(), &lock(&peer.log.state).events);
    }

    /// The deliveries of one offset, in the order recorded.
    pub fn deliveries(&self, topic: &str, partition: i32, offset: i64) -> &[Delivery] {
        self.seen
            .get(&(topic.to_owned(), partition))
            .and_then(|p| p.get(&offset))
            .map_or(&[], Vec::as_slice)
    }

    /// The offsets in `offsets` of `topic`'s `partition` that nobody was delivered.
    pub fn missing(&self, topic: &str, partition: i32, offsets: Range<i64>) -> Vec<i64> {
        let seen = self.seen.get(&(topic.to_owned(), partition));
        offsets
            .filter(|o| seen.is_none_or(|s| !s.contains_key(o)))
            .collect()
    }

    /// The offsets delivered more than once, with their deliveries.
    pub fn duplicates(&self) -> Vec<(Partition, i64, Vec<Delivery>)> {
        self.seen
            .iter()
            .flat_map(|(tp, offsets)| {
                offsets
                    .iter()
                    .filter(|(_, ds)| ds.len() > 1)
                    .map(|(o, ds)| (tp.clone(), *o, ds.clone()))
            })
            .collect()
    }

    /// How many distinct offsets were delivered.
    pub fn len(&self) -> usize {
        self.seen.values().map(BTreeMap::len).sum()
    }

    /// Whether nothing was delivered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// `GREGOR_PYTHON`, else `python3` on the `PATH`.
fn python() -> Option<PathBuf> {
    match std::env::var_os("GREGOR_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None => find_in_path(&["python3"]),
    }
}

/// The versions of confluent-kafka and librdkafka, asked of Python once per process.
fn librdkafka_versions() -> &'static Option<String> {
    static VERSIONS: OnceLock<Option<String>> = OnceLock::new();
    VERSIONS.get_or_init(|| {
        let out = Command::new(python()?)
            .arg("-c")
            .arg(
                "import confluent_kafka as c; v = c.version(); \
                 v = v[0] if isinstance(v, tuple) else v; \
                 print('confluent-kafka ' + v + ', librdkafka ' + c.libversion()[0])",
            )
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (out.status.success() && !text.is_empty()).then_some(text)
    })
}

/// `group_member.py`, written once into the cache directory under a name of its digest.
fn python_script() -> Result<PathBuf, GroupPeerError> {
    let digest = Sha256::digest(PYTHON_SOURCE.as_bytes());
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let dir = cache_dir().join("peers");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("group_member-{tag}.py"));
    write_if_changed(&path, PYTHON_SOURCE)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> Partition {
        (t.to_owned(), p)
    }

    #[test]
    fn every_line_parses_and_prints_back() {
        let lines = [
            "ready",
            "assigned t 0 t 1 u-2 5",
            "assigned",
            "revoked t 1",
            "lost t 0",
            "records t 3 10 14 5 7 1700000000123",
            "records t 3 10 20 3 -1 1700000000123 10 15 20",
            "committed t 3 15 u 0 2",
            "commit-failed CommitFailedException: the group rebalanced",
            "closed",
            "error org.apache.kafka.common.KafkaException: boom",
        ];
        for line in lines {
            let event = PeerEvent::parse(line);
            assert!(!matches!(event, PeerEvent::Unknown(_)), "{line}");
            assert_eq!(event.to_string(), line);
        }
        assert_eq!(
            PeerEvent::parse("assigned t 0 u-2 5"),
            PeerEvent::Assigned(vec![tp("t", 0), tp("u-2", 5)])
        );
        let PeerEvent::Records { offsets, .. } = PeerEvent::parse("records t 3 10 12 3 7 1") else {
            panic!("records");
        };
        assert_eq!(offsets, [10, 11, 12]);
    }

    #[test]
    fn malformed_lines_are_unknown() {
        for line in [
            "assigned t",
            "records t 3 10 14 4 7 1",
            "records t 3 10 20 2 7 1 10 19",
            "records t x 1 1 1 1 1",
            "committed t 1",
            "hello",
        ] {
            assert_eq!(PeerEvent::parse(line), PeerEvent::Unknown(line.to_owned()));
        }
    }

    #[test]
    fn ownership_follows_the_listener() {
        let events = [
            PeerEvent::Ready,
            PeerEvent::Assigned(vec![tp("t", 0), tp("t", 1), tp("t", 2)]),
            PeerEvent::Revoked(vec![tp("t", 1)]),
            PeerEvent::Assigned(vec![tp("t", 3)]),
            PeerEvent::Lost(vec![tp("t", 0)]),
        ];
        let owned = GroupPeer::ownership(&events);
        assert_eq!(owned, BTreeSet::from([tp("t", 2), tp("t", 3)]));
        let mut closed = events.to_vec();
        closed.push(PeerEvent::Closed);
        assert!(GroupPeer::ownership(&closed).is_empty());
    }

    #[test]
    fn a_split_is_exact_only_when_disjoint_complete_and_shared() {
        let all = partitions_of("t", 4);
        let set = |ps: &[i32]| ps.iter().map(|p| tp("t", *p)).collect::<BTreeSet<_>>();
        assert!(splits_exactly(&[set(&[0, 1]), set(&[2, 3])], &all));
        assert!(!splits_exactly(&[set(&[0, 1, 2]), set(&[2, 3])], &all));
        assert!(!splits_exactly(&[set(&[0, 1]), set(&[2])], &all));
        assert!(!splits_exactly(&[set(&[0, 1, 2, 3]), set(&[])], &all));
        assert!(splits_exactly(&[set(&[0, 1, 2, 3])], &all));
        let one = partitions_of("t", 1);
        assert!(splits_exactly(&[set(&[0]), set(&[])], &one));
    }

    #[test]
    fn the_ledger_finds_gaps_and_duplicates() {
        let mut ledger = Ledger::new();
        ledger.add_events("a", &[PeerEvent::parse("records t 0 0 4 5 1 100")]);
        ledger.add_events("b", &[PeerEvent::parse("records t 0 4 7 3 2 200 4 6 7")]);
        assert_eq!(ledger.missing("t", 0, 0..9), [5, 8]);
        assert_eq!(ledger.missing("t", 1, 0..2), [0, 1]);
        let dups = ledger.duplicates();
        assert_eq!(dups.len(), 1);
        assert_eq!((dups[0].0.clone(), dups[0].1), (tp("t", 0), 4));
        assert_eq!(ledger.deliveries("t", 0, 4).len(), 2);
        assert_eq!(ledger.len(), 7);
    }
}
