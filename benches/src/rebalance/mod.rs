//! The `rebalance` benchmark: how long a consumer group stops when a member joins or leaves,
//! for groups of gregor's, librdkafka's and Java's consumers on Apache Kafka.
//!
//! For each assignor (eager `range`, `cooperative-sticky`) and each client, one group of
//! three members of that client (each a process of its own) subscribes to a fresh topic that
//! a producer feeds at a fixed rate, one record per partition per interval, stamped with the
//! time it was produced. Once the group has settled, each cycle: a fourth member joins
//! (the change is the moment it has subscribed), the group settles, a quiet window passes; then
//! the second oldest member stops gracefully (commit, close: LeaveGroup), the group settles, a
//! quiet window passes. [`analysis`] turns the members' event logs into the figures; [`report`]
//! prints them.
//!
//! - [`member`]: the members, and gregor's member program (`rebalance --member`).
//! - [`producer`]: the stamping producer.
//! - [`analysis`]: rebalance latency, delivery gaps, record age, from the event logs.
//! - [`report`]: medians and the Markdown tables.

pub mod analysis;
pub mod member;
pub mod producer;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use gregor_client::Client;
use gregor_testkit::data::{create_topic, unique_name};
use gregor_testkit::kafka::group_peer::{GroupPeer, Partition, PeerEvent, partitions_of};
use gregor_testkit::kafka::peer::JavaPeer;
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall};

use self::analysis::{EventMetrics, analyze, owners, settled};
use self::member::{Member, MemberKind, MemberSetup, now_ms};
use self::producer::Producer;
use crate::{BenchError, Result};

/// The usage text.
pub const USAGE: &str = "\
usage: rebalance [--quick] [--clients gregor,librdkafka,java] [--assignors range,cooperative-sticky]
                 [--rounds N] [--cycles N] [--partitions N] [--interval-ms N] [--heartbeat-ms N]
                 [--session-ms N] [--steady-secs N] [--settle-secs N]";

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The clients, in the order each round runs them.
    pub clients: Vec<MemberKind>,
    /// The assignors (protocol names).
    pub assignors: Vec<String>,
    /// Rounds: each runs every assignor and client once, in turn.
    pub rounds: usize,
    /// Join-then-leave cycles per group.
    pub cycles: usize,
    /// Partitions of the topic.
    pub partitions: i32,
    /// The producer's interval (one record per partition each).
    pub interval: Duration,
    /// `heartbeat.interval.ms` of every member.
    pub heartbeat: Duration,
    /// `session.timeout.ms` of every member.
    pub session: Duration,
    /// The quiet window after a group settled (before the next change; also the window of the
    /// steady gap).
    pub steady: Duration,
    /// How long a group may take to settle before the run fails.
    pub settle: Duration,
}

impl Options {
    /// The default run.
    pub fn full() -> Options {
        Options {
            clients: MemberKind::ALL.to_vec(),
            assignors: vec!["range".into(), "cooperative-sticky".into()],
            rounds: 1,
            cycles: 3,
            partitions: 12,
            interval: Duration::from_millis(20),
            heartbeat: Duration::from_millis(1000),
            session: Duration::from_secs(10),
            steady: Duration::from_secs(2),
            settle: Duration::from_secs(60),
        }
    }

    /// One cycle per group.
    pub fn quick() -> Options {
        Options {
            cycles: 1,
            ..Options::full()
        }
    }

    /// Parses the arguments (without the program name).
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut o = if args.iter().any(|a| a == "--quick") {
            Options::quick()
        } else {
            Options::full()
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => continue,
                "-h" | "--help" => return Err(BenchError::Other(USAGE.into())),
                _ => {}
            }
            let v = it
                .next()
                .ok_or_else(|| BenchError::Other(format!("{a} needs a value\n{USAGE}")))?;
            let num = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| BenchError::Other(format!("bad number {v}")))
            };
            match a.as_str() {
                "--clients" => {
                    o.clients = v
                        .split(',')
                        .map(|s| {
                            MemberKind::parse(s)
                                .ok_or_else(|| BenchError::Other(format!("client {s}?")))
                        })
                        .collect::<Result<_>>()?
                }
                "--assignors" => o.assignors = v.split(',').map(str::to_owned).collect(),
                "--rounds" => o.rounds = num(v)?.max(1) as usize,
                "--cycles" => o.cycles = num(v)?.max(1) as usize,
                "--partitions" => o.partitions = num(v)?.clamp(4, 1000) as i32,
                "--interval-ms" => o.interval = Duration::from_millis(num(v)?.max(1)),
                "--heartbeat-ms" => o.heartbeat = Duration::from_millis(num(v)?.max(1)),
                "--session-ms" => o.session = Duration::from_millis(num(v)?.max(1)),
                "--steady-secs" => o.steady = Duration::from_secs(num(v)?.max(1)),
                "--settle-secs" => o.settle = Duration::from_secs(num(v)?.max(1)),
                other => {
                    return Err(BenchError::Other(format!(
                        "unknown option {other}\n{USAGE}"
                    )));
                }
            }
        }
        if o.heartbeat >= o.session {
            return Err(BenchError::Other(
                "--heartbeat-ms must be below --session-ms".into(),
            ));
        }
        Ok(o)
    }
}

/// A membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// A fourth member joins a group of three.
    Join,
    /// One of four leaves gracefully.
    Leave,
}

impl Change {
    /// Its name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Change::Join => "join (3 -> 4)",
            Change::Leave => "leave (4 -> 3)",
        }
    }
}

/// One measured change.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeResult {
    /// The assignor.
    pub assignor: String,
    /// The client every member ran.
    pub client: MemberKind,
    /// What changed.
    pub change: Change,
    /// The round and cycle (from 1), for the list of every change.
    pub round: usize,
    /// The cycle within the group (from 1).
    pub cycle: usize,
    /// The figures.
    pub metrics: EventMetrics,
    /// Commits the members reported failed during the change.
    pub commit_failures: usize,
}

/// Everything a run produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The measured changes.
    pub changes: Vec<ChangeResult>,
    /// Clients or assignors left out, and why.
    pub notes: Vec<String>,
    /// Groups that failed (the run went on).
    pub failures: Vec<String>,
    /// Versions of the clients.
    pub versions: Vec<String>,
}

/// Runs the benchmark on the process's shared Apache Kafka.
pub fn run(options: &Options) -> Result<Outcome> {
    if !KafkaInstall::is_available() {
        return Err(BenchError::Other(
            "Apache Kafka is not installed (run .ci/install-kafka.sh)".into(),
        ));
    }
    let mut outcome = Outcome::default();
    let started = Instant::now();
    let kafka = KafkaCluster::shared().map_err(|e| BenchError::Other(e.to_string()))?;
    let bootstrap = kafka.bootstrap();
    eprintln!(
        "== Apache Kafka {} at {bootstrap} (started in {:.1?})",
        gregor_testkit::kafka::KAFKA_VERSION,
        started.elapsed()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = rt.block_on(crate::prefill::connect(&bootstrap))?;
    let mut clients = options.clients.clone();
    let java = if clients.contains(&MemberKind::Java) {
        Some(JavaPeer::new(kafka.install()).map_err(|e| BenchError::Other(e.to_string()))?)
    } else {
        None
    };
    outcome.versions.push(format!(
        "gregor {} (this tree); Java kafka-clients {}",
        env!("CARGO_PKG_VERSION"),
        gregor_testkit::kafka::KAFKA_VERSION
    ));
    if clients.contains(&MemberKind::Librdkafka) {
        match GroupPeer::librdkafka_version() {
            Some(v) => outcome.versions.push(v),
            None => {
                outcome.notes.push(
                    "librdkafka left out: python3 has no confluent_kafka (pip install \
                     confluent-kafka)"
                        .into(),
                );
                clients.retain(|c| *c != MemberKind::Librdkafka);
            }
        }
    }
    for assignor in &options.assignors {
        if clients.contains(&MemberKind::Gregor)
            && gregor_consumer::group::assignor::builtin(assignor).is_none()
        {
            outcome.notes.push(format!(
                "gregor left out with {assignor}: gregor_consumer::group::assignor::builtin \
                 has no {assignor:?} in this tree"
            ));
        }
    }
    for round in 1..=options.rounds {
        for assignor in &options.assignors {
            for &kind in &clients {
                if kind == MemberKind::Gregor
                    && gregor_consumer::group::assignor::builtin(assignor).is_none()
                {
                    continue;
                }
                let begun = Instant::now();
                let group = GroupRun {
                    rt: &rt,
                    client: &client,
                    bootstrap: &bootstrap,
                    java: java.as_ref(),
                    options,
                    assignor,
                    kind,
                    round,
                };
                match group.run(&mut outcome.changes) {
                    Ok(()) => eprintln!(
                        "   round {round} {assignor} {}: {:.1?}",
                        kind.name(),
                        begun.elapsed()
                    ),
                    Err(e) => {
                        let msg = format!("round {round} {assignor} {}: {e}", kind.name());
                        eprintln!("!! {msg}");
                        outcome.failures.push(msg);
                    }
                }
            }
        }
    }
    Ok(outcome)
}

/// One group: three members, then join/leave cycles.
struct GroupRun<'a> {
    rt: &'a tokio::runtime::Runtime,
    client: &'a Client,
    bootstrap: &'a str,
    java: Option<&'a JavaPeer>,
    options: &'a Options,
    assignor: &'a str,
    kind: MemberKind,
    round: usize,
}

/// How long a member may take to start (a JVM on a loaded machine) or to close.
const MEMBER_START: Duration = Duration::from_secs(60);

impl GroupRun<'_> {
    fn run(&self, out: &mut Vec<ChangeResult>) -> Result<()> {
        let o = self.options;
        let topic = unique_name("rebalance");
        self.rt
            .block_on(create_topic(self.client, &topic, o.partitions));
        let producer = {
            let _guard = self.rt.enter();
            Producer::start(self.client.clone(), topic.clone(), o.partitions, o.interval)
        };
        let setup = MemberSetup {
            bootstrap: self.bootstrap.to_owned(),
            group: unique_name(&format!("rebalance-{}", self.kind.name())),
            topic: topic.clone(),
            assignor: self.assignor.to_owned(),
            heartbeat: o.heartbeat,
            session: o.session,
            lifetime: Duration::from_secs(900),
        };
        let mut members: Vec<Member> = Vec::new();
        let mut live: Vec<usize> = Vec::new();
        let result = self.cycles(&setup, &producer, &mut members, &mut live, out);
        for &i in &live {
            members[i].kill();
        }
        member::dump_events(&setup.group, &members);
        let produced = self.rt.block_on(producer.stop());
        if let Err(e) = self
            .rt
            .block_on(crate::prefill::delete(self.bootstrap, &topic))
        {
            eprintln!("!! deleting {topic}: {e}");
        }
        result?;
        produced.map(|_| ())
    }

    fn cycles(
        &self,
        setup: &MemberSetup,
        producer: &Producer,
        members: &mut Vec<Member>,
        live: &mut Vec<usize>,
        out: &mut Vec<ChangeResult>,
    ) -> Result<()> {
        let o = self.options;
        let partitions = partitions_of(&setup.topic, o.partitions);
        for _ in 0..3 {
            let m = Member::start(self.kind, setup, self.java)?;
            m.wait_ready(MEMBER_START)?;
            live.push(members.len());
            members.push(m);
        }
        settle(members, live, &partitions, o.settle, producer)?;
        std::thread::sleep(o.steady);
        for cycle in 1..=o.cycles {
            // A fourth member joins.
            let m = Member::start(self.kind, setup, self.java)?;
            m.wait_ready(MEMBER_START)?;
            let t0 = now_ms();
            eprintln!("   t0 {t0}: member {} joined", members.len());
            let before = owned_by(members, live);
            live.push(members.len());
            members.push(m);
            let failures_before = commit_failures(members);
            let after = settle(members, live, &partitions, o.settle, producer)?;
            std::thread::sleep(o.steady);
            out.push(self.measure(
                members,
                Change::Join,
                cycle,
                t0,
                &before,
                &after,
                producer,
                failures_before,
            ));
            // The second oldest leaves.
            let leaving = live.remove(1);
            let before = {
                let mut all = live.clone();
                all.push(leaving);
                owned_by(members, &all)
            };
            let failures_before = commit_failures(members);
            let t0 = now_ms();
            eprintln!(
                "   t0 {t0}: {} stops",
                members[leaving]
                    .describe()
                    .lines()
                    .next()
                    .unwrap_or_default()
            );
            members[leaving].stop(MEMBER_START)?;
            let after = settle(members, live, &partitions, o.settle, producer)?;
            std::thread::sleep(o.steady);
            out.push(self.measure(
                members,
                Change::Leave,
                cycle,
                t0,
                &before,
                &after,
                producer,
                failures_before,
            ));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn measure(
        &self,
        members: &mut [Member],
        change: Change,
        cycle: usize,
        t0: i64,
        before: &BTreeMap<Partition, usize>,
        after: &BTreeMap<Partition, (usize, i64)>,
        producer: &Producer,
        failures_before: usize,
    ) -> ChangeResult {
        for m in members.iter_mut() {
            m.sync();
        }
        let logs: Vec<&[PeerEvent]> = members.iter().map(Member::events).collect();
        let metrics = analyze(
            &logs,
            t0,
            before,
            after,
            self.options.steady.as_millis() as i64,
            &producer.produced(),
        );
        let result = ChangeResult {
            assignor: self.assignor.to_owned(),
            client: self.kind,
            change,
            round: self.round,
            cycle,
            metrics,
            commit_failures: commit_failures(members) - failures_before,
        };
        eprintln!(
            "   {} {} {} cycle {cycle}: {:?}",
            self.assignor,
            self.kind.name(),
            change.name(),
            metrics
        );
        result
    }
}

/// Who owns what among `live` (indices into `members`).
fn owned_by(members: &mut [Member], live: &[usize]) -> BTreeMap<Partition, usize> {
    for &i in live {
        members[i].sync();
    }
    let logs: Vec<&[PeerEvent]> = live.iter().map(|&i| members[i].events()).collect();
    owners(&logs)
        .into_iter()
        .map(|(p, j)| (p, live[j]))
        .collect()
}

fn commit_failures(members: &[Member]) -> usize {
    members
        .iter()
        .flat_map(|m| m.events())
        .filter(|e| matches!(e, PeerEvent::CommitFailed(_)))
        .count()
}

/// Waits until `live` have settled on `partitions` ([`settled`]); returns each partition's
/// owner (an index into `members`) and when it resumed.
fn settle(
    members: &mut [Member],
    live: &[usize],
    partitions: &BTreeSet<Partition>,
    timeout: Duration,
    producer: &Producer,
) -> Result<BTreeMap<Partition, (usize, i64)>> {
    let started = Instant::now();
    loop {
        for &i in live {
            members[i].sync();
        }
        let logs: Vec<&[PeerEvent]> = live.iter().map(|&i| members[i].events()).collect();
        if let Some(s) = settled(&logs, partitions) {
            return Ok(s.into_iter().map(|(p, (j, t))| (p, (live[j], t))).collect());
        }
        let failed = logs
            .iter()
            .any(|l| l.iter().any(|e| matches!(e, PeerEvent::Error(_))));
        if failed || started.elapsed() > timeout || producer.is_finished() {
            let state: Vec<String> = live.iter().map(|&i| members[i].describe()).collect();
            let why = if failed {
                "a member failed".to_owned()
            } else if producer.is_finished() {
                "the producer stopped".to_owned()
            } else {
                format!("the group did not settle within {timeout:?}")
            };
            return Err(BenchError::Other(format!("{why}\n{}", state.join("\n"))));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The Markdown the run prints.
pub fn render(options: &Options, outcome: &Outcome) -> String {
    report::render(options, outcome)
}
