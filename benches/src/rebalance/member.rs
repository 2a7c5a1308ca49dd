//! The members of a measured group: Java's `KafkaConsumer` and librdkafka's consumer
//! (testkit's [`GroupPeer`]s), and gregor's [`GroupConsumer`] run as this benchmark binary in
//! `--member` mode ([`gregor_member`]), a process of its own like the others, printing the
//! same lines ([`PeerEvent`]).
//!
//! Every member commits what it processed of a partition before giving it up (auto-commit
//! off), reads from the earliest offset where nothing is committed, and stops gracefully on
//! `stop` (commits, closes: leaves the group). All of them get the same consumer properties
//! ([`MemberSetup::properties`]): gregor's through [`GroupConfig::from_properties`], so that
//! `group.protocol=consumer` reaches gregor's group consumer as it reaches the others.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gregor_consumer::group::config::GroupConfig;
use gregor_consumer::{GroupConsumer, GroupEvent, TopicPartition};
use gregor_testkit::kafka::group_peer::{GroupPeer, MemberConfig, PeerEvent};
use gregor_testkit::kafka::peer::JavaPeer;

use super::analysis::Ownership;
use super::options::Protocol;
use crate::{BenchError, Result};

/// The client a group is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberKind {
    /// gregor's group consumer.
    Gregor,
    /// librdkafka through Python's confluent_kafka.
    Librdkafka,
    /// Java's KafkaConsumer.
    Java,
}

impl MemberKind {
    /// Every kind, in table order.
    pub const ALL: [MemberKind; 3] = [MemberKind::Gregor, MemberKind::Librdkafka, MemberKind::Java];

    /// Its name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            MemberKind::Gregor => "gregor",
            MemberKind::Librdkafka => "librdkafka",
            MemberKind::Java => "java",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<MemberKind> {
        MemberKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// How every member of a run is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSetup {
    /// The broker.
    pub bootstrap: String,
    /// The group.
    pub group: String,
    /// The topic subscribed to.
    pub topic: String,
    /// How the group rebalances.
    pub protocol: Protocol,
    /// `heartbeat.interval.ms` (classic protocol only: the broker sets KIP-848's).
    pub heartbeat: Duration,
    /// `session.timeout.ms` (classic protocol only: the broker sets KIP-848's).
    pub session: Duration,
    /// How long a member process lives at most.
    pub lifetime: Duration,
}

impl MemberSetup {
    /// The consumer properties every member gets (gregor's through
    /// [`GroupConfig::from_properties`]): the group, auto-commit off, from the earliest
    /// offset, and the protocol's own. Classic: `partition.assignment.strategy`,
    /// `heartbeat.interval.ms`, `session.timeout.ms`. KIP-848: `group.protocol=consumer` and
    /// `group.remote.assignor`, and none of the classic three, which Java's and librdkafka's
    /// consumers refuse with it (the broker sets the heartbeat interval and the session).
    pub fn properties(&self) -> Vec<(String, String)> {
        let mut props: Vec<(String, String)> = vec![
            ("group.id".into(), self.group.clone()),
            ("enable.auto.commit".into(), "false".into()),
            ("auto.offset.reset".into(), "earliest".into()),
        ];
        match &self.protocol {
            Protocol::Classic(assignor) => props.extend([
                ("partition.assignment.strategy".into(), assignor.clone()),
                (
                    "heartbeat.interval.ms".into(),
                    self.heartbeat.as_millis().to_string(),
                ),
                (
                    "session.timeout.ms".into(),
                    self.session.as_millis().to_string(),
                ),
            ]),
            Protocol::Consumer(remote) => props.extend([
                ("group.protocol".into(), "consumer".into()),
                ("group.remote.assignor".into(), remote.clone()),
            ]),
        }
        props
    }

    /// The arguments of this binary's `--member` mode.
    fn member_args(&self) -> Vec<String> {
        let mut args = vec![
            "--member".into(),
            self.bootstrap.clone(),
            self.topic.clone(),
            self.lifetime.as_secs().max(1).to_string(),
        ];
        args.extend(
            self.properties()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}")),
        );
        args
    }
}

/// Whether gregor's group consumer takes `setup`'s properties: `Err` with why not (an
/// assignor gregor has no built-in of, or [`GroupConfig::from_properties`] refusing the
/// consumer protocol before gregor supports it).
pub fn gregor_accepts(setup: &MemberSetup) -> std::result::Result<(), String> {
    if let Protocol::Classic(assignor) = &setup.protocol
        && gregor_consumer::group::assignor::builtin(assignor).is_none()
    {
        return Err(format!(
            "gregor_consumer::group::assignor::builtin has no {assignor:?} in this tree"
        ));
    }
    GroupConfig::from_properties(setup.properties())
        .map(|_| ())
        .map_err(|e| format!("GroupConfig::from_properties refused it: {e}"))
}

/// One member process and the events read from it so far.
#[derive(Debug)]
pub struct Member {
    kind: MemberKind,
    process: Process,
    /// The events pulled so far ([`Member::sync`]).
    events: Vec<PeerEvent>,
    /// What they say the member owns, kept up to date by [`Member::sync`].
    ownership: Ownership,
    /// Whether it reported a fatal error (an `error` line).
    failed: bool,
}

#[derive(Debug)]
enum Process {
    Peer(GroupPeer),
    Gregor(GregorProcess),
}

impl Member {
    /// Starts a member of `kind` (the Java peer compiled as `java`).
    pub fn start(kind: MemberKind, setup: &MemberSetup, java: Option<&JavaPeer>) -> Result<Member> {
        let props = setup.properties();
        let refs: Vec<(&str, &str)> = props
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let config = MemberConfig::new(&refs, &[setup.topic.as_str()]).with_timeout(setup.lifetime);
        let peer_err =
            |e: gregor_testkit::kafka::group_peer::GroupPeerError| BenchError::Other(e.to_string());
        let process = match kind {
            MemberKind::Java => {
                let java = java.ok_or_else(|| BenchError::Other("no Java peer".into()))?;
                Process::Peer(
                    GroupPeer::java_with(java, &setup.bootstrap, &config).map_err(peer_err)?,
                )
            }
            MemberKind::Librdkafka => Process::Peer(
                GroupPeer::librdkafka_with(&setup.bootstrap, &config).map_err(peer_err)?,
            ),
            MemberKind::Gregor => Process::Gregor(GregorProcess::spawn(setup)?),
        };
        Ok(Member {
            kind,
            process,
            events: Vec::new(),
            ownership: Ownership::default(),
            failed: false,
        })
    }

    /// The client.
    pub fn kind(&self) -> MemberKind {
        self.kind
    }

    /// Waits until the member has subscribed (printed `ready`).
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        match &self.process {
            Process::Peer(p) => p
                .wait_ready(timeout)
                .map_err(|e| BenchError::Other(e.to_string())),
            Process::Gregor(g) => g.wait_ready(timeout),
        }
    }

    /// Pulls the events printed since the last call (copies only the new ones).
    pub fn sync(&mut self) {
        let seen = self.events.len();
        match &self.process {
            Process::Peer(p) => {
                let mut new = Vec::new();
                let _ = p.wait_for(
                    |es| {
                        new.extend_from_slice(es.get(seen..).unwrap_or(&[]));
                        true
                    },
                    Duration::ZERO,
                );
                self.events.extend(new);
            }
            Process::Gregor(g) => {
                let state = lock(&g.log.state);
                self.events
                    .extend_from_slice(state.events.get(seen..).unwrap_or(&[]));
            }
        }
        self.ownership.update(&self.events);
        self.failed |= self
            .events
            .get(seen..)
            .unwrap_or(&[])
            .iter()
            .any(|e| matches!(e, PeerEvent::Error(_)));
    }

    /// Whether the member reported a fatal error, as far as the events pulled so far tell.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The events pulled so far.
    pub fn events(&self) -> &[PeerEvent] {
        &self.events
    }

    /// What the member owns after the events pulled so far, and since when it delivers each.
    pub fn ownership(&self) -> &Ownership {
        &self.ownership
    }

    /// Stops the member gracefully (it commits, closes its consumer and exits), waiting up to
    /// `timeout` for that before killing it.
    pub fn stop(&mut self, timeout: Duration) -> Result<()> {
        let out = match &mut self.process {
            Process::Peer(p) => p.stop().map_err(|e| BenchError::Other(e.to_string())),
            Process::Gregor(g) => g.stop(timeout),
        };
        self.sync();
        out
    }

    /// Kills the member (no LeaveGroup).
    pub fn kill(&mut self) {
        match &mut self.process {
            Process::Peer(p) => p.kill(),
            Process::Gregor(g) => g.kill(),
        }
        self.sync();
    }

    /// The member's state for error messages.
    pub fn describe(&self) -> String {
        match &self.process {
            Process::Peer(p) => p.describe(),
            Process::Gregor(g) => {
                let events = self.events.len();
                let last: Vec<String> = self.events[events.saturating_sub(12)..]
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                format!(
                    "--- gregor member pid {}: last events ---\n{}\n--- stderr (end) ---\n{}",
                    g.pid,
                    last.join("\n"),
                    lock(&g.stderr).join("\n")
                )
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Default)]
struct LogState {
    events: Vec<PeerEvent>,
    ended: bool,
}

#[derive(Debug, Default)]
struct Log {
    state: Mutex<LogState>,
    changed: Condvar,
}

/// A gregor member: this binary in `--member` mode.
#[derive(Debug)]
struct GregorProcess {
    pid: u32,
    child: Child,
    stdin: Option<ChildStdin>,
    log: Arc<Log>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl GregorProcess {
    fn spawn(setup: &MemberSetup) -> Result<GregorProcess> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(setup.member_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let dump =
            log_dir().map(|dir| dir.join(format!("{}-gregor-{}.stderr", setup.group, child.id())));
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::Other("member streams not piped".into()));
        };
        let log = Arc::new(Log::default());
        let out_log = Arc::clone(&log);
        std::thread::spawn(move || {
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
        let tail = Arc::new(Mutex::new(Vec::new()));
        let err_tail = Arc::clone(&tail);
        std::thread::spawn(move || {
            let mut file = dump.and_then(|path| std::fs::File::create(path).ok());
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(f) = file.as_mut() {
                    let _ = writeln!(f, "{} {line}", now_ms());
                }
                let mut t = lock(&err_tail);
                if t.len() == 40 {
                    t.remove(0);
                }
                t.push(line);
            }
        });
        Ok(GregorProcess {
            pid: child.id(),
            child,
            stdin: Some(stdin),
            log,
            stderr: tail,
        })
    }

    fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.log.state);
        loop {
            if state.events.contains(&PeerEvent::Ready) {
                return Ok(());
            }
            let now = Instant::now();
            if state.ended || now >= deadline {
                let why = if state.ended { "exited" } else { "timed out" };
                return Err(BenchError::Other(format!(
                    "gregor member {}: {why} before ready: {}",
                    self.pid,
                    lock(&self.stderr).join("\n")
                )));
            }
            state = self
                .log
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn stop(&mut self, timeout: Duration) -> Result<()> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"stop\n");
            let _ = stdin.flush();
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                // Let the reader take the last lines.
                let until = Instant::now() + Duration::from_secs(1);
                while !lock(&self.log.state).ended && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return if status.success() {
                    Ok(())
                } else {
                    Err(BenchError::Other(format!(
                        "gregor member {} exited {status}: {}",
                        self.pid,
                        lock(&self.stderr).join("\n")
                    )))
                };
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(BenchError::Other(format!(
                    "gregor member {} did not close within {timeout:?}",
                    self.pid
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdin = None;
    }
}

impl Drop for GregorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GREGOR_BENCH_LOG_DIR`: where the run writes every member's events (and gregor members'
/// standard error), for looking into a result.
pub fn log_dir() -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(std::env::var_os("GREGOR_BENCH_LOG_DIR")?);
    if dir.as_os_str().is_empty() {
        return None;
    }
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// Writes `members`' events to `GREGOR_BENCH_LOG_DIR/GROUP-INDEX-KIND.events`, if set.
pub fn dump_events(group: &str, members: &[Member]) {
    let Some(dir) = log_dir() else { return };
    for (i, m) in members.iter().enumerate() {
        let text: String = m.events().iter().map(|e| format!("{e}\n")).collect();
        let _ = std::fs::write(
            dir.join(format!("{group}-{i}-{}.events", m.kind().name())),
            text,
        );
    }
}

/// Milliseconds since the Unix epoch (the members' clock).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn pairs(what: &str, partitions: &[TopicPartition]) -> String {
    let mut words = vec![what.to_owned()];
    let mut sorted: Vec<&TopicPartition> = partitions.iter().collect();
    sorted.sort();
    for tp in sorted {
        words.push(tp.topic.to_string());
        words.push(tp.partition.to_string());
    }
    words.join(" ")
}

/// The `--member BOOTSTRAP TOPIC LIFETIME_S KEY=VALUE...` mode: a gregor group member, set up
/// by [`GroupConfig::from_properties`] from the properties (as [`MemberSetup::properties`]
/// writes them), printing what happens to it as [`PeerEvent`] lines, as testkit's Java and
/// librdkafka members do. Reads `stop` (or the end of input: graceful close) and `kill` (exit
/// at once) on standard input, between deliveries as they do between polls.
pub fn gregor_member(args: &[String]) -> Result<()> {
    const USAGE: &str = "--member BOOTSTRAP TOPIC LIFETIME_S KEY=VALUE...";
    let [bootstrap, topic, lifetime, properties @ ..] = args else {
        return Err(BenchError::Other(USAGE.into()));
    };
    let properties: Vec<(&str, &str)> = properties
        .iter()
        .map(|p| {
            p.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| BenchError::Other(format!("not KEY=VALUE: {p:?}\n{USAGE}")))
        })
        .collect::<Result<_>>()?;
    let config = GroupConfig::from_properties(properties.iter().copied())
        .map_err(|e| BenchError::Other(format!("GroupConfig::from_properties: {e}")))?;
    let lifetime = Duration::from_secs(
        lifetime
            .parse::<u64>()
            .map_err(|_| BenchError::Other(format!("bad number {lifetime}")))?,
    );
    std::thread::spawn(move || {
        std::thread::sleep(lifetime);
        eprintln!("gregor member: lifetime over");
        std::process::exit(3);
    });
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            match std::io::stdin().read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.trim() == "kill" => std::process::exit(0),
                Ok(_) if line.trim() == "stop" => break,
                Ok(_) => {}
            }
        }
        let _ = stop_tx.send(());
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let client = crate::prefill::connect(bootstrap).await?;
        let mut consumer = GroupConsumer::subscribe(client, &config, [topic.clone()])?;
        emit("ready");
        // The next offset processed of each owned partition, for the commit on revocation.
        let mut processed: std::collections::BTreeMap<TopicPartition, i64> = Default::default();
        loop {
            if !matches!(
                stop_rx.try_recv(),
                Err(std::sync::mpsc::TryRecvError::Empty)
            ) {
                break;
            }
            match consumer.next().await? {
                GroupEvent::Records(chunk) => {
                    let records = chunk.as_slice();
                    let (Some(first), Some(last)) = (records.first(), records.last()) else {
                        continue;
                    };
                    let tp = chunk.topic_partition().clone();
                    let generation = consumer.generation().map_or(-1, |(g, _)| g);
                    let mut line = format!(
                        "records {} {} {} {} {} {generation} {}",
                        tp.topic,
                        tp.partition,
                        first.offset,
                        last.offset,
                        records.len(),
                        now_ms()
                    );
                    if last.offset - first.offset + 1 != records.len() as i64 {
                        for r in records {
                            line.push_str(&format!(" {}", r.offset));
                        }
                    }
                    emit(&line);
                    processed.insert(tp, last.offset + 1);
                }
                GroupEvent::Assigned(partitions) => emit(&pairs("assigned", &partitions)),
                GroupEvent::Revoked(partitions) => {
                    let offsets: Vec<(TopicPartition, i64, Option<i32>)> = partitions
                        .iter()
                        .filter_map(|tp| processed.get(tp).map(|o| (tp.clone(), *o, None)))
                        .collect();
                    if let Err(e) = consumer.commit_offsets(&offsets).await {
                        emit(&format!("commit-failed {e}"));
                    }
                    for tp in &partitions {
                        processed.remove(tp);
                    }
                    emit(&pairs("revoked", &partitions));
                }
                GroupEvent::Lost(partitions) => {
                    for tp in &partitions {
                        processed.remove(tp);
                    }
                    emit(&pairs("lost", &partitions));
                }
                other => eprintln!("gregor member: {other:?}"),
            }
        }
        if let Err(e) = consumer.commit().await {
            emit(&format!("commit-failed {e}"));
        }
        consumer.close().await?;
        emit("closed");
        Ok::<(), BenchError>(())
    })
}
