//! The `rebalance` benchmark: how long a consumer group stops when a member joins or leaves,
//! for groups of gregor's, librdkafka's and Java's consumers on Apache Kafka.
//!
//! For each rebalance protocol (classic eager `range`, classic `cooperative-sticky`, KIP-848's
//! `consumer` with the broker's `uniform` or `range` assignor) and each client, one group of
//! N members (3 by default) of that client, each a process of its own, subscribes to a fresh
//! topic that a producer feeds at a fixed rate, one record per partition per interval, stamped
//! with the time it was produced. Once the group has settled, each cycle: one more member
//! joins (the change is the moment it has subscribed), the group settles, a quiet window
//! passes; then the second oldest member stops gracefully (commit, close: it leaves the group),
//! the group settles, a quiet window passes. The run starts its own single Kafka node, whose
//! KIP-848 heartbeat interval and session timeout are the classic members' own
//! ([`broker_options`]). [`analysis`] turns the members' event logs into the figures;
//! [`report`] prints them.
//!
//! - [`options`]: the command line, the protocols.
//! - [`member`]: the members, and gregor's member program (`rebalance --member`).
//! - [`producer`]: the stamping producer.
//! - [`analysis`]: rebalance latency, delivery gaps, record age, from the event logs.
//! - [`report`]: medians and the Markdown tables.

pub mod analysis;
pub mod member;
pub mod options;
pub mod producer;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use gregor_client::Client;
use gregor_testkit::data::{create_topic, unique_name};
use gregor_testkit::kafka::group_peer::{GroupPeer, Partition, PeerEvent, partitions_of};
use gregor_testkit::kafka::peer::JavaPeer;
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall, KafkaOptions};

use self::analysis::{EventMetrics, Ownership, analyze, owners, settled};
use self::member::{Member, MemberKind, MemberSetup, gregor_accepts, now_ms};
use self::producer::Producer;
use crate::{BenchError, Result};

pub use self::options::{Options, Protocol, USAGE};

/// A membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// A fourth member joins a group of three.
    Join,
    /// One of four leaves gracefully.
    Leave,
}

impl Change {
    /// Its name in the tables, for a group of `members` before a join.
    pub fn name(self, members: usize) -> String {
        match self {
            Change::Join => format!("join ({members} -> {})", members + 1),
            Change::Leave => format!("leave ({} -> {members})", members + 1),
        }
    }
}

/// One measured change.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeResult {
    /// How the group rebalanced.
    pub protocol: Protocol,
    /// The client every member ran.
    pub client: MemberKind,
    /// What changed.
    pub change: Change,
    /// The group's members before a join (after a leave).
    pub members: usize,
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
    /// Clients or protocols left out, and why.
    pub notes: Vec<String>,
    /// Rows not run because the client refused the protocol's configuration: protocol,
    /// client, why.
    pub skipped: Vec<(Protocol, MemberKind, String)>,
    /// The broker's group settings the run set.
    pub broker: Vec<(String, String)>,
    /// Groups that failed (the run went on).
    pub failures: Vec<String>,
    /// Versions of the clients.
    pub versions: Vec<String>,
}

/// The broker the run starts: one node, plaintext only, with the classic members' heartbeat
/// interval and session timeout as KIP-848's (`group.consumer.heartbeat.interval.ms`,
/// `group.consumer.session.timeout.ms`; the bounds widened to take them), so that the rows
/// of both protocols compare at the same heartbeat.
pub fn broker_options(o: &Options) -> KafkaOptions {
    let mut k = KafkaOptions::single()
        .with_security(false)
        .heap_mb(if o.partitions > 100 { 1024 } else { 512 });
    for (key, value) in broker_settings(o) {
        k = k.set(key, value);
    }
    k
}

/// The group settings [`broker_options`] sets over the testkit's.
pub fn broker_settings(o: &Options) -> Vec<(String, String)> {
    let hb = o.heartbeat.as_millis() as u64;
    let session = o.session.as_millis() as u64;
    [
        ("group.consumer.heartbeat.interval.ms", hb),
        ("group.consumer.min.heartbeat.interval.ms", hb.min(500)),
        ("group.consumer.max.heartbeat.interval.ms", hb.max(15_000)),
        ("group.consumer.session.timeout.ms", session),
        ("group.consumer.min.session.timeout.ms", session.min(3_000)),
        ("group.consumer.max.session.timeout.ms", session.max(60_000)),
        ("group.min.session.timeout.ms", session.min(1_000)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_string()))
    .collect()
}

/// Runs the benchmark on an Apache Kafka node of its own ([`broker_options`]).
pub fn run(options: &Options) -> Result<Outcome> {
    if !KafkaInstall::is_available() {
        return Err(BenchError::Other(
            "Apache Kafka is not installed (run .ci/install-kafka.sh)".into(),
        ));
    }
    let mut outcome = Outcome {
        broker: broker_settings(options),
        ..Outcome::default()
    };
    let started = Instant::now();
    let kafka = KafkaCluster::start(broker_options(options))
        .map_err(|e| BenchError::Other(e.to_string()))?;
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
    if clients.contains(&MemberKind::Gregor) {
        for protocol in &options.protocols {
            let probe = MemberSetup {
                bootstrap: bootstrap.clone(),
                group: "probe".into(),
                topic: "probe".into(),
                protocol: protocol.clone(),
                heartbeat: options.heartbeat,
                session: options.session,
                lifetime: options.member_lifetime(),
            };
            if let Err(why) = gregor_accepts(&probe) {
                eprintln!("   gregor skipped with {}: {why}", protocol.name());
                outcome
                    .skipped
                    .push((protocol.clone(), MemberKind::Gregor, why));
            }
        }
    }
    for round in 1..=options.rounds {
        for protocol in &options.protocols {
            for &kind in &clients {
                if outcome
                    .skipped
                    .iter()
                    .any(|(p, k, _)| p == protocol && *k == kind)
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
                    protocol,
                    kind,
                    round,
                };
                let name = protocol.name();
                match group.run(&mut outcome.changes) {
                    Ok(()) => eprintln!(
                        "   round {round} {name} {}: {:.1?}",
                        kind.name(),
                        begun.elapsed()
                    ),
                    Err(e) => {
                        let msg = format!("round {round} {name} {}: {e}", kind.name());
                        eprintln!("!! {msg}");
                        outcome.failures.push(msg);
                    }
                }
            }
        }
    }
    drop(kafka);
    Ok(outcome)
}

/// One group: three members, then join/leave cycles.
struct GroupRun<'a> {
    rt: &'a tokio::runtime::Runtime,
    client: &'a Client,
    bootstrap: &'a str,
    java: Option<&'a JavaPeer>,
    options: &'a Options,
    protocol: &'a Protocol,
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
            protocol: self.protocol.clone(),
            heartbeat: o.heartbeat,
            session: o.session,
            lifetime: o.member_lifetime(),
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
        match (result, produced) {
            (Err(e), Err(p)) => Err(BenchError::Other(format!("the producer failed: {p}\n{e}"))),
            (Err(e), Ok(_)) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(_)) => Ok(()),
        }
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
        for _ in 0..o.members {
            let m = Member::start(self.kind, setup, self.java)?;
            m.wait_ready(MEMBER_START)?;
            live.push(members.len());
            members.push(m);
        }
        settle(members, live, &partitions, o.settle, producer)?;
        std::thread::sleep(o.steady);
        for cycle in 1..=o.cycles {
            // One more member joins.
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
            protocol: self.protocol.clone(),
            client: self.kind,
            change,
            members: self.options.members,
            round: self.round,
            cycle,
            metrics,
            commit_failures: commit_failures(members) - failures_before,
        };
        eprintln!(
            "   {} {} {} cycle {cycle}: {:?}",
            self.protocol.name(),
            self.kind.name(),
            change.name(self.options.members),
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
    let owned: Vec<&Ownership> = live.iter().map(|&i| members[i].ownership()).collect();
    owners(&owned)
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
        let owned: Vec<&Ownership> = live.iter().map(|&i| members[i].ownership()).collect();
        if let Some(s) = settled(&owned, partitions) {
            return Ok(s.into_iter().map(|(p, (j, t))| (p, (live[j], t))).collect());
        }
        let failed = live.iter().any(|&i| members[i].failed());
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
