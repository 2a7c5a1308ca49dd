//! A mixed consumer group on Apache Kafka 4.1.2 for `group_mixed_848.rs`: members of gregor
//! (`gregor-group-member`), Java (`KafkaConsumer`) and librdkafka (`confluent_kafka`), each in
//! a process of its own, speaking the classic or KIP-848's consumer protocol, join and leave
//! one group while gregor's producer appends to its topic; each step waits until the running
//! members own the partitions exactly once between them and is timed; at the end every log is
//! checked offset by offset ([`Findings`]).

pub mod findings;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gregor_client::admin::ListGroupsOptions;
use gregor_client::{Admin, Client};
use gregor_testkit::data::{create_topic, test_client, unique_name};
use gregor_testkit::kafka::group_peer::{
    GroupPeer, MemberConfig, Partition, PeerEvent, partitions_of, splits_exactly, until_all,
};
use gregor_testkit::kafka::peer::JavaPeer;
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall};

use crate::group_support::Producer;
pub use findings::{Findings, Kind, MemberLog};

/// The topic's partitions.
pub const PARTITIONS: i32 = 6;

/// How long a step may take to settle (a classic member's rebalance waits for every member's
/// rejoin; the coordinator's revocations wait for heartbeats).
pub const SETTLE: Duration = Duration::from_secs(60);

/// How long records flow between two steps.
pub const FLOW: Duration = Duration::from_millis(1500);

/// How long the members may take to read what was produced once the producer stops.
const DRAIN: Duration = Duration::from_secs(60);

/// One mixed test at a time: each starts several JVMs and Pythons on the shared broker.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The group protocol a member speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The classic protocol with the cooperative-sticky assignor.
    Classic,
    /// KIP-848's consumer protocol with the coordinator's uniform assignor.
    Consumer,
}

/// One step of a test and how long the group took to settle after it.
#[derive(Debug, Clone)]
pub struct Step {
    /// The step, in words.
    pub what: String,
    /// From the step's start to the exact split of the partitions among the running members.
    pub took: Duration,
}

/// One member.
struct Slot {
    name: String,
    kind: Kind,
    peer: GroupPeer,
    running: bool,
    killed: bool,
}

/// A group, its topic, its producer and its members.
pub struct Mixed {
    /// The topic.
    pub topic: String,
    /// The group id.
    pub group: String,
    bootstrap: String,
    client: Client,
    java: Option<JavaPeer>,
    members: Vec<Slot>,
    producer: Option<Producer>,
    /// The steps so far.
    pub steps: Vec<Step>,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

/// The consumer properties of member `name` of `kind` in `group` speaking `protocol`, with
/// auto-commit every 500 ms. KIP-848 members get `group.protocol=consumer` and the uniform
/// remote assignor and none of the classic protocol's settings (Java refuses
/// `partition.assignment.strategy`, `session.timeout.ms` and `heartbeat.interval.ms` with it,
/// librdkafka too); gregor's gets `session.timeout.ms=10000`, which only tells it the
/// broker's session (`group.consumer.session.timeout.ms`), after which it gives its partitions
/// up unheard.
pub fn properties(
    kind: Kind,
    protocol: Protocol,
    group: &str,
    name: &str,
) -> Vec<(String, String)> {
    let mut props = vec![
        ("group.id", group),
        ("client.id", name),
        ("enable.auto.commit", "true"),
        ("auto.commit.interval.ms", "500"),
        ("auto.offset.reset", "earliest"),
    ];
    match protocol {
        Protocol::Classic => props.extend([
            ("group.protocol", "classic"),
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "300"),
        ]),
        Protocol::Consumer => {
            props.extend([
                ("group.protocol", "consumer"),
                ("group.remote.assignor", "uniform"),
            ]);
            if kind == Kind::Gregor {
                props.push(("session.timeout.ms", "10000"));
            }
        }
    }
    props
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

impl Mixed {
    /// A topic of [`PARTITIONS`] partitions named after `name`, a group of its own, and
    /// gregor's producer appending 5 records to each partition every 100 ms; `None` (with a
    /// message) when Kafka, or a client in `needs`, is not installed.
    pub async fn start(name: &str, needs: &[Kind]) -> Option<Mixed> {
        if !KafkaInstall::is_available() {
            eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
            return None;
        }
        if needs.contains(&Kind::Librdkafka) && !GroupPeer::librdkafka_available() {
            eprintln!("skipped: python3 has no confluent_kafka");
            return None;
        }
        let serial = SERIAL.lock().await;
        let kafka = KafkaCluster::shared().expect("kafka starts");
        let java = needs
            .contains(&Kind::Java)
            .then(|| JavaPeer::new(kafka.install()).expect("the Java peer compiles"));
        let client = test_client(&kafka.bootstrap(), &format!("gregor-{name}")).await;
        let topic = unique_name(&format!("group-{name}"));
        create_topic(&client, &topic, PARTITIONS).await;
        let producer = Producer::start(&client, &topic, PARTITIONS, 5, Duration::from_millis(100));
        if let Some(versions) =
            GroupPeer::librdkafka_version().filter(|_| needs.contains(&Kind::Librdkafka))
        {
            eprintln!("{name}: {versions}");
        }
        Some(Mixed {
            group: unique_name(name),
            topic,
            bootstrap: kafka.bootstrap(),
            client,
            java,
            members: Vec::new(),
            producer: Some(producer),
            steps: Vec::new(),
            _serial: serial,
        })
    }

    /// Starts member `name` of `kind` speaking `protocol` and waits until it has subscribed.
    pub async fn join(&mut self, name: &str, kind: Kind, protocol: Protocol) {
        let props = properties(kind, protocol, &self.group, name);
        let borrowed: Vec<(&str, &str)> = props
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let config = MemberConfig::new(&borrowed, &[self.topic.as_str()])
            .with_timeout(Duration::from_secs(900));
        let peer = match kind {
            Kind::Gregor => GroupPeer::gregor(
                &PathBuf::from(env!("CARGO_BIN_EXE_gregor-group-member")),
                &self.bootstrap,
                &config,
            ),
            Kind::Java => GroupPeer::java_with(
                self.java.as_ref().expect("the test named Java"),
                &self.bootstrap,
                &config,
            ),
            Kind::Librdkafka => GroupPeer::librdkafka_with(&self.bootstrap, &config),
        }
        .expect("the member starts");
        peer.until(|es| es.contains(&PeerEvent::Ready), SETTLE)
            .await
            .expect("the member subscribes");
        self.members.push(Slot {
            name: name.to_owned(),
            kind,
            peer,
            running: true,
            killed: false,
        });
    }

    /// Starts member `name` ([`Mixed::join`]), waits until the group has settled (timed from
    /// the member's `ready`: its process has started and subscribed), and lets records flow
    /// for [`FLOW`].
    pub async fn join_settled(&mut self, name: &str, kind: Kind, protocol: Protocol) {
        self.join(name, kind, protocol).await;
        let started = Instant::now();
        self.settled(&format!("{name} ({kind:?}, {protocol:?}) joins"), started)
            .await;
        tokio::time::sleep(FLOW).await;
    }

    /// Stops member `name` gracefully (it commits, revokes and leaves), waits until the group
    /// has settled, and lets records flow for [`FLOW`].
    pub async fn leave_settled(&mut self, name: &str) {
        let started = Instant::now();
        let slot = self
            .members
            .iter_mut()
            .find(|s| s.name == name && s.running)
            .unwrap_or_else(|| panic!("no running member {name}"));
        slot.running = false;
        let what = format!("{name} ({:?}) leaves", slot.kind);
        slot.peer.stop_async().await.expect("the member closes");
        if self.members.iter().any(|s| s.running) {
            self.settled(&what, started).await;
        }
        tokio::time::sleep(FLOW).await;
    }

    /// Kills member `name` (SIGKILL: no commit, no leave), waits until the group has settled
    /// without it (the coordinator gives its partitions away once its session has ended), and
    /// lets records flow for [`FLOW`].
    pub async fn kill_settled(&mut self, name: &str) {
        let started = Instant::now();
        let slot = self
            .members
            .iter_mut()
            .find(|s| s.name == name && s.running)
            .unwrap_or_else(|| panic!("no running member {name}"));
        slot.running = false;
        slot.killed = true;
        let what = format!("{name} ({:?}) is killed", slot.kind);
        tokio::task::block_in_place(|| slot.peer.kill());
        if self.members.iter().any(|s| s.running) {
            self.settled(&what, started).await;
        }
        tokio::time::sleep(FLOW).await;
    }

    /// Waits until the running members own every partition exactly once between them, as
    /// evenly as can be (the uniform and cooperative-sticky assignors balance), and records the step `what` begun at `started`.
    pub async fn settled(&mut self, what: &str, started: Instant) {
        let running: Vec<&GroupPeer> = self
            .members
            .iter()
            .filter(|s| s.running)
            .map(|s| &s.peer)
            .collect();
        let all = partitions_of(&self.topic, PARTITIONS);
        let mut split = Vec::new();
        until_all(&running, SETTLE, |logs| {
            split = logs.iter().map(|l| GroupPeer::ownership(l)).collect();
            let sizes = split.iter().map(BTreeSet::len);
            let spread = sizes.clone().max().unwrap_or(0) - sizes.min().unwrap_or(0);
            splits_exactly(&split, &all) && spread <= 1
        })
        .await
        .unwrap_or_else(|e| panic!("{what}: the group did not settle: {e}"));
        let took = started.elapsed();
        let counts: Vec<String> = self
            .members
            .iter()
            .filter(|s| s.running)
            .zip(&split)
            .map(|(s, owned)| format!("{} {}", s.name, owned.len()))
            .collect();
        eprintln!("{what}: settled in {took:?} ({})", counts.join(", "));
        self.steps.push(Step {
            what: what.to_owned(),
            took,
        });
    }

    /// The group's type (`classic` or `consumer`) and state, as ListGroups tells.
    pub async fn group_type(&self) -> Option<(String, String)> {
        let listed = Admin::new(self.client.clone())
            .list_groups(&ListGroupsOptions::default())
            .await
            .expect("the groups listed");
        listed
            .groups
            .into_iter()
            .find(|g| g.group_id == self.group)
            .map(|g| {
                (
                    g.group_type.unwrap_or_default(),
                    g.state.unwrap_or_default(),
                )
            })
    }

    /// Waits until the group is of type `kind` (`classic`, `consumer`) and, if given, in
    /// `state`; returns how long that took.
    pub async fn wait_group(&self, kind: &str, state: Option<&str>) -> Duration {
        let started = Instant::now();
        loop {
            let found = self.group_type().await;
            if let Some((t, s)) = &found {
                if t == kind && state.is_none_or(|state| state == s) {
                    return started.elapsed();
                }
            }
            assert!(
                started.elapsed() < SETTLE,
                "the group is not {kind} {state:?} within {SETTLE:?}: {found:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every member's log so far.
    pub fn logs(&self) -> Vec<MemberLog> {
        self.members
            .iter()
            .map(|s| MemberLog {
                label: s.peer.label().to_owned(),
                kind: s.kind,
                events: s.peer.events(),
                killed: s.killed,
            })
            .collect()
    }

    /// Stops the producer, waits until every produced offset was delivered, stops the running
    /// members gracefully, and checks every member's log.
    pub async fn finish(&mut self) -> Findings {
        let ends: BTreeMap<Partition, i64> = self
            .producer
            .take()
            .expect("the producer runs")
            .stop()
            .await
            .into_iter()
            .map(|(tp, end)| ((tp.topic.to_string(), tp.partition), end))
            .collect();
        let started = Instant::now();
        loop {
            let found = Findings::of(&self.logs(), &ends);
            if found.gap_count == 0 {
                break;
            }
            if started.elapsed() >= DRAIN {
                let logs = self.logs();
                let story = found
                    .gaps
                    .first()
                    .map(|(p, offset)| {
                        format!(
                            "\n{}-{} around offset {offset}, by member:{}",
                            p.0,
                            p.1,
                            findings::story(&logs, p, *offset, 100)
                        )
                    })
                    .unwrap_or_default();
                let stderr: Vec<String> = self.members.iter().map(|s| s.peer.describe()).collect();
                panic!(
                    "not every offset was delivered within {DRAIN:?} of the producer's end: \
                     {found}{story}\n{}",
                    stderr.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        for slot in self.members.iter_mut().filter(|s| s.running) {
            slot.running = false;
            slot.peer.stop_async().await.expect("the member closes");
        }
        Findings::of(&self.logs(), &ends)
    }

    /// The steps and how long each took to settle, on one line.
    pub fn timings(&self) -> String {
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| format!("{} {:.1} s", s.what, s.took.as_secs_f64()))
            .collect();
        steps.join("; ")
    }
}
