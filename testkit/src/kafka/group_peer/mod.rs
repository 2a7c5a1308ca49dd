//! Group members in processes of their own, for tests that put gregor's group consumer in the
//! same group as other clients, or that kill members: Java's `KafkaConsumer`
//! (`testkit/kafka/GroupMemberPeer.java`, compiled with the [`peer`](super::peer)),
//! librdkafka's consumer through Python's `confluent_kafka` (`testkit/kafka/group_member.py`),
//! and gregor's own group consumer (gregor-consumer's `gregor-group-member` binary,
//! [`GroupPeer::gregor`]), or any program that speaks the same lines ([`GroupPeer::program`]).
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
//! produced offset was delivered ([`Ledger`], per offset), or a whole group's invariants by
//! ranges of offsets for long runs ([`GroupAudit`]: ownership, gaps, commits, duplicates
//! explained by kills).
//!
//! # The member programs
//!
//! All take `BOOTSTRAP TIMEOUT_SECONDS (--topics T1,T2 | --pattern REGEX) [--delay-ms N]
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

mod audit;
mod events;
mod ledger;
mod librdkafka;
mod member_config;
mod wait;

use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::install::KafkaInstall;
use super::peer::{JavaPeer, PeerError};

pub use audit::{AuditReport, GroupAudit};
pub use events::{Partition, PeerEvent};
pub use ledger::{Delivery, Ledger};
pub use member_config::{MemberConfig, Subscription};
pub use wait::{
    partitions_of, splits_exactly, until_all, until_owned_exactly_once, wait_for_all,
    wait_owned_exactly_once,
};

use librdkafka::{librdkafka_versions, python, python_script};

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

/// One group member in a process of its own (Java's, librdkafka's or gregor's consumer), its output
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

    /// Starts a member program of our own at `path` (one that takes the same arguments and
    /// speaks the same lines as Java's and librdkafka's, [the table](self#the-member-programs))
    /// against `bootstrap`, set up by `config`; `kind` names the client in its
    /// [`label`](Self::label) (`gregor` for gregor-consumer's `gregor-group-member`).
    pub fn program(
        kind: &str,
        path: &Path,
        bootstrap: &str,
        config: &MemberConfig,
    ) -> Result<GroupPeer, GroupPeerError> {
        let mut command = Command::new(path);
        command
            .arg(bootstrap)
            .arg(config.timeout.as_secs().max(1).to_string())
            .args(config.args()?)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        GroupPeer::spawn(config.label(kind), command)
    }

    /// Starts gregor's group consumer as a member: gregor-consumer's `gregor-group-member`
    /// binary at `path` (`env!("CARGO_BIN_EXE_gregor-group-member")` in that crate's
    /// integration tests), labelled `gregor member ...`.
    pub fn gregor(
        path: &Path,
        bootstrap: &str,
        config: &MemberConfig,
    ) -> Result<GroupPeer, GroupPeerError> {
        GroupPeer::program("gregor", path, bootstrap, config)
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

    /// Calls `f` with every event so far, without copying them (a member's log of a long run
    /// is large); the log is locked meanwhile, so the member's next line waits: keep `f`
    /// short.
    pub fn with_events<R>(&self, f: impl FnOnce(&[PeerEvent]) -> R) -> R {
        f(&lock(&self.log.state).events)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> Partition {
        (t.to_owned(), p)
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
}
