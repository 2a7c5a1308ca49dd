//! The rebalancing group consumer: members join and leave while records keep arriving, and
//! every record is still read exactly once. No broker needed:
//!
//! ```sh
//! cargo run -p gregor-consumer --example group
//! cargo run -p gregor-consumer --example group -- --protocol consumer   # KIP-848
//! ```
//!
//! Starts our MockCluster in-process (or uses `KAFKA_BOOTSTRAP_SERVERS` when set), creates a
//! topic with 6 partitions and produces to it continuously (one record per partition every
//! 20 ms). Then, in one consumer group:
//!
//! 1. members `a` and `b` join. `a`'s [`GroupConfig`] is built from Kafka consumer property
//!    names ([`GroupConfig::from_properties`], what a Java or librdkafka properties file
//!    says), `b`'s with the typed builder ([`GroupConfig::new`] and `with_*`): both describe
//!    the same settings;
//! 2. member `c` joins: the partitions are spread over three members;
//! 3. member `a` closes ([`GroupConsumer::close`]): it commits what it read, gives its
//!    partitions back and leaves, and `b` and `c` take them over.
//!
//! Each member is a [`GroupConsumer`] with its own [`Client`], as separate processes would
//! have, on its own task. Every group decision is printed as the member sees it
//! ([`GroupEvent::Assigned`], [`GroupEvent::Revoked`], [`GroupEvent::Lost`]), and after each
//! step has settled, a table of who owns which partition and how many records each member
//! has read.
//!
//! The members use `partition.assignment.strategy=cooperative-sticky` (incremental
//! rebalances: a member gives up only the partitions that move, and keeps reading the others)
//! when gregor has it, else `range` (eager rebalances: every member gives up everything, then
//! the group assigns afresh); the first line says which. Either way, with auto-commit a
//! member commits what it has read of a partition before it gives the partition up, and the
//! next owner starts from that commit: no record is skipped and none is read twice. The
//! example checks exactly that at the end, and exits non-zero unless every produced offset
//! was read once.
//!
//! With `--protocol consumer` the members speak KIP-848's consumer protocol
//! (`group.protocol=consumer`): the coordinator assigns (`group.remote.assignor=uniform`) and
//! sets the heartbeat interval; there is no group-wide rebalance, a member revokes what moves
//! and the new owner gets it at its next heartbeat.
//!
//! The group consumer itself is in `run` (the two ways to configure it) and `consume` (the
//! application's loop); the rest is the example's bookkeeping.
//!
//! Short timeouts keep it quick: heartbeats every 300 ms (a rebalance reaches every member
//! within that), `session.timeout.ms` at 6 s (the lowest a Kafka broker allows by default;
//! it only matters for members that die without leaving, which none does here).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gregor_client::config::ProducerConfig;
use gregor_client::producer::{Producer, ProducerRecord};
use gregor_consumer::group::assignor;
use gregor_consumer::group::config::GroupProtocol;
use gregor_consumer::{
    Client, FetchConfig, GroupConfig, GroupConsumer, GroupEvent, OffsetReset, RecordChunk,
    TopicPartition,
};
use support::AnyError;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The topic's partitions.
const PARTITIONS: i32 = 6;
/// The producer writes one record to every partition this often.
const PRODUCE_EVERY: Duration = Duration::from_millis(20);
/// How long a step may take to settle before the example gives up.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
/// A step has settled once every partition has an owner, the partitions are spread evenly,
/// and no member has seen a rebalance event for this long.
const QUIET: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("group example failed: {e}");
        std::process::exit(1);
    }
}

/// The three steps, then the check.
async fn run() -> Result<(), AnyError> {
    // Cooperative-sticky if this build of gregor has it, else range.
    let strategy = if assignor::builtin("cooperative-sticky").is_some() {
        "cooperative-sticky"
    } else {
        "range"
    };
    let protocol = if strategy == "range" {
        "eager"
    } else {
        "cooperative"
    };
    let consumer_protocol = std::env::args()
        .skip_while(|a| a != "--protocol")
        .nth(1)
        .is_some_and(|p| p == "consumer");
    if consumer_protocol {
        println!("group.protocol: consumer (KIP-848; the coordinator assigns, uniform)");
    } else {
        println!("partition.assignment.strategy: {strategy} ({protocol} rebalancing)");
    }

    let broker = support::broker().await?;
    let where_ = if broker.mock.is_some() {
        "in-process MockCluster"
    } else {
        "KAFKA_BOOTSTRAP_SERVERS"
    };
    println!("broker: {} ({where_})", broker.bootstrap);
    let admin = support::client(&broker.bootstrap).await?;
    let topic = support::unique_topic("group-example");
    let group = support::unique_topic("group-example-g");
    support::create_topic(&admin, &topic, PARTITIONS).await?;
    let producer = Writer::start(support::client(&broker.bootstrap).await?, &topic);
    println!("producing to {topic} ({PARTITIONS} partitions), group {group}");

    // Member a: the settings as Kafka consumer properties (Java's and librdkafka's names).
    let from_properties = GroupConfig::from_properties([
        ("group.id", group.as_str()),
        ("partition.assignment.strategy", strategy),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "300"),
        ("max.poll.interval.ms", "30000"),
        ("enable.auto.commit", "true"),
        ("auto.commit.interval.ms", "1000"),
        ("auto.offset.reset", "earliest"),
        ("fetch.max.wait.ms", "100"),
    ])?;
    let from_properties = if consumer_protocol {
        let mut c = from_properties;
        c.set("group.protocol", "consumer")?;
        c.set("group.remote.assignor", "uniform")?;
        c
    } else {
        from_properties
    };
    // Members b and c: the same settings with the typed builder.
    let typed = GroupConfig::new(group.as_str())
        .with_assignors([strategy])
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_millis(300))
        .with_max_poll_interval(Duration::from_secs(30))
        .with_auto_commit(true)
        .with_auto_commit_interval(Duration::from_secs(1))
        .with_auto_offset_reset(OffsetReset::Earliest)
        .with_fetch(FetchConfig::default().with_max_wait(Duration::from_millis(100)));
    let typed = if consumer_protocol {
        typed
            .with_group_protocol(GroupProtocol::Consumer)
            .with_remote_assignor("uniform")
    } else {
        typed
    };
    if format!("{from_properties:?}") != format!("{typed:?}") {
        return Err("the properties and the builder describe different settings".into());
    }

    let log = Log::new();
    println!("\n== step 1: members a (from properties) and b (typed builder) join ==");
    let a = Member::start("a", &broker.bootstrap, &from_properties, &topic, &log).await?;
    let b = Member::start("b", &broker.bootstrap, &typed, &topic, &log).await?;
    log.settle(&["a", "b"]).await?;
    log.print_table("settled: a and b own the partitions");

    println!("\n== step 2: member c joins ==");
    let c = Member::start("c", &broker.bootstrap, &typed, &topic, &log).await?;
    log.settle(&["a", "b", "c"]).await?;
    log.print_table("settled: a, b and c own the partitions");

    println!("\n== step 3: member a closes (commits, gives its partitions back, leaves) ==");
    a.close().await?;
    log.settle(&["b", "c"]).await?;
    log.print_table("settled: b and c own the partitions");

    // Stop producing, let b and c read the rest, close them, and check the ledger.
    let produced = producer.stop().await?;
    log.read_all(&produced).await?;
    println!("\n== the end: b and c close ==");
    b.close().await?;
    c.close().await?;
    log.print_table("every member closed");
    log.check(&produced)
}

/// A group member consuming on its own task until told to close.
struct Member {
    name: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), AnyError>>,
}

impl Member {
    /// Connects a client of its own and joins the group with `config`, subscribed to `topic`.
    async fn start(
        name: &str,
        bootstrap: &str,
        config: &GroupConfig,
        topic: &str,
        log: &Log,
    ) -> Result<Member, AnyError> {
        let client_config = support::client_config(bootstrap)
            .client_id(format!("group-example-{name}"))
            .build()?;
        let client = Client::connect(client_config).await?;
        let consumer = GroupConsumer::subscribe(client, config, [topic])?;
        log.joined(name);
        log.say(&format!("{name}: joining"));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(consume(name.to_owned(), consumer, stopped, log.clone()));
        Ok(Member {
            name: name.to_owned(),
            stop,
            task,
        })
    }

    /// Tells the member to close and waits until it has.
    async fn close(self) -> Result<(), AnyError> {
        let _ = self.stop.send(());
        match tokio::time::timeout(SETTLE_LIMIT, self.task).await {
            Ok(joined) => joined?,
            Err(_) => Err(format!("member {} did not close in time", self.name).into()),
        }
    }
}

/// The member's loop: what an application's consumer loop looks like. With auto-commit on,
/// the application only reads: asking for the next event marks the records returned before
/// as processed, they are committed every `auto.commit.interval.ms`, and a member commits
/// them before it gives a partition up (revoked, or closing).
async fn consume(
    name: String,
    mut consumer: GroupConsumer,
    mut stopped: oneshot::Receiver<()>,
    log: Log,
) -> Result<(), AnyError> {
    loop {
        let generation = consumer.generation().map(|(generation, _)| generation);
        // The stop signal ends the wait for the next event. The example stops a member only
        // while the group is steady: a `next()` dropped halfway through handing partitions
        // over would leave the hand-over unfinished.
        let event = tokio::select! {
            _ = &mut stopped => break,
            event = consumer.next() => event?,
        };
        match event {
            // Asking for the next event acknowledges this chunk: auto-commit commits it.
            GroupEvent::Records(chunk) => log.records(&name, &chunk),
            GroupEvent::Assigned(partitions) => {
                let generation = consumer.generation().map(|(generation, _)| generation);
                log.event(&name, generation, "assigned", &numbers(&partitions));
            }
            // What was read of them is committed already (auto-commit).
            GroupEvent::Revoked(partitions) => {
                log.event(&name, generation, "revoked", &numbers(&partitions));
            }
            // Not committed: another member may have them already.
            GroupEvent::Lost(partitions) => {
                log.event(&name, generation, "lost", &numbers(&partitions));
            }
            GroupEvent::PollIntervalExceeded => log.say(&format!(
                "{name}: max.poll.interval.ms exceeded; joining again"
            )),
            _ => {}
        }
    }
    let owned = numbers(&consumer.assignment());
    let generation = consumer.generation().map(|(generation, _)| generation);
    // Revokes every partition (committing what was read), then leaves the group.
    consumer.close().await?;
    log.event(
        &name,
        generation,
        "closed (committed, revoked, left):",
        &owned,
    );
    log.closed(&name);
    Ok(())
}

// ---- Bookkeeping: the log of what the members did, and the producer. ----

/// What the members read and decided, shared by their tasks; printed from as it happens.
#[derive(Clone)]
struct Log {
    start: Instant,
    state: Arc<Mutex<LogState>>,
}

/// The shared state behind [`Log`].
#[derive(Default)]
struct LogState {
    /// The owner of each partition, as the members' events say.
    owners: BTreeMap<i32, String>,
    /// (partition, offset) -> (member, value) of every record read.
    read: BTreeMap<(i32, i64), (String, Bytes)>,
    /// Records read per member, in the order the members started.
    per_member: Vec<(String, u64)>,
    /// Members that have closed.
    closed: BTreeSet<String>,
    /// Records read a second time: (partition, offset, first reader, second reader).
    twice: Vec<(i32, i64, String, String)>,
    /// When a member last saw a rebalance event.
    last_event: Option<Instant>,
}

impl Log {
    /// An empty log; its clock starts now.
    fn new() -> Log {
        Log {
            start: Instant::now(),
            state: Arc::default(),
        }
    }

    /// The state (a member task that panicked leaves it usable).
    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Prints one line, stamped with the seconds since the start.
    fn say(&self, line: &str) {
        println!("[{:6.2}s] {line}", self.start.elapsed().as_secs_f64());
    }

    /// A member started: it gets a row in the tables.
    fn joined(&self, member: &str) {
        self.lock().per_member.push((member.to_owned(), 0));
    }

    /// Records a member's rebalance event and prints it.
    fn event(&self, member: &str, generation: Option<i32>, what: &str, partitions: &[i32]) {
        let mut state = self.lock();
        state.last_event = Some(Instant::now());
        for p in partitions {
            if what == "assigned" {
                state.owners.insert(*p, member.to_owned());
            } else if state.owners.get(p).is_some_and(|owner| owner == member) {
                state.owners.remove(p);
            }
        }
        drop(state);
        let generation = generation.map_or_else(String::new, |g| format!(" (generation {g})"));
        self.say(&format!(
            "{member}{generation}: {what} {}",
            list(partitions)
        ));
    }

    /// Records the records of a chunk a member read.
    fn records(&self, member: &str, chunk: &RecordChunk) {
        let partition = chunk.topic_partition().partition;
        let mut state = self.lock();
        for record in chunk.as_slice() {
            let value = record.value.clone().unwrap_or_default();
            let previous = state
                .read
                .insert((partition, record.offset), (member.to_owned(), value));
            if let Some((first, _)) = previous {
                let twice = (partition, record.offset, first, member.to_owned());
                state.twice.push(twice);
            }
        }
        if let Some((_, n)) = state.per_member.iter_mut().find(|(m, _)| m == member) {
            *n += chunk.len() as u64;
        }
    }

    /// A member closed.
    fn closed(&self, member: &str) {
        self.lock().closed.insert(member.to_owned());
    }

    /// Waits until every partition has one of `members` as owner, each member owns its even
    /// share, and no rebalance event came for [`QUIET`].
    async fn settle(&self, members: &[&str]) -> Result<(), AnyError> {
        let deadline = Instant::now() + SETTLE_LIMIT;
        let fair = PARTITIONS as usize / members.len();
        loop {
            {
                let state = self.lock();
                let owned = |m: &&str| state.owners.values().filter(|o| o == m).count();
                let settled = state.owners.len() == PARTITIONS as usize
                    && state.owners.values().all(|o| members.contains(&o.as_str()))
                    && members
                        .iter()
                        .all(|m| (fair..=fair + 1).contains(&owned(m)))
                    && state.last_event.is_some_and(|at| at.elapsed() >= QUIET);
                if settled {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the group did not settle on {members:?} within {SETTLE_LIMIT:?}; owners {:?}",
                    self.lock().owners
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every produced record has been read.
    async fn read_all(&self, produced: &Produced) -> Result<(), AnyError> {
        let deadline = Instant::now() + SETTLE_LIMIT;
        loop {
            let missing = {
                let state = self.lock();
                produced
                    .keys()
                    .filter(|k| !state.read.contains_key(k))
                    .count()
            };
            if missing == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{missing} produced records not read in time").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Prints who owns which partition and how many records each member has read.
    fn print_table(&self, title: &str) {
        let state = self.lock();
        self.say(title);
        println!("    member  partitions     records read");
        for (member, n) in &state.per_member {
            let owned: Vec<i32> = state
                .owners
                .iter()
                .filter(|(_, o)| *o == member)
                .map(|(p, _)| *p)
                .collect();
            let partitions = if state.closed.contains(member) {
                "(closed)".to_owned()
            } else {
                list(&owned)
            };
            println!("    {member:<6}  {partitions:<13}  {n:>12}");
        }
    }

    /// Every produced offset read, with its value, and none twice.
    fn check(&self, produced: &Produced) -> Result<(), AnyError> {
        let state = self.lock();
        for (p, offset, first, second) in &state.twice {
            eprintln!("p{p} offset {offset}: read by {first}, then again by {second}");
        }
        let missing = produced
            .keys()
            .filter(|k| !state.read.contains_key(k))
            .count();
        let wrong = produced
            .iter()
            .filter(|(k, v)| state.read.get(k).is_some_and(|(_, read)| read != v))
            .count();
        let unexpected = state
            .read
            .keys()
            .filter(|k| !produced.contains_key(k))
            .count();
        let members = state.per_member.len();
        if state.twice.is_empty() && missing == 0 && wrong == 0 && unexpected == 0 {
            println!(
                "\n{} records read by {members} members, each exactly once",
                produced.len()
            );
            Ok(())
        } else {
            Err(format!(
                "{} records produced: {} read twice, {missing} never read, {wrong} with another \
                 value, {unexpected} read but never produced",
                produced.len(),
                state.twice.len()
            )
            .into())
        }
    }
}

/// `p0 p1 p2`, or `-` for none.
fn list(partitions: &[i32]) -> String {
    if partitions.is_empty() {
        return "-".to_owned();
    }
    let names: Vec<String> = partitions.iter().map(|p| format!("p{p}")).collect();
    names.join(" ")
}

/// The partition numbers of `partitions` (the example reads one topic).
fn numbers(partitions: &[TopicPartition]) -> Vec<i32> {
    partitions.iter().map(|tp| tp.partition).collect()
}

/// (partition, offset) -> value of every record produced.
type Produced = BTreeMap<(i32, i64), Bytes>;

/// Produces one record to every partition every [`PRODUCE_EVERY`] until stopped.
struct Writer {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<Produced, AnyError>>,
}

impl Writer {
    fn start(client: Client, topic: &str) -> Writer {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(produce(client, topic.to_owned(), stopped));
        Writer { stop, task }
    }

    /// Stops producing; returns every record written.
    async fn stop(self) -> Result<Produced, AnyError> {
        let _ = self.stop.send(());
        self.task.await?
    }
}

/// The producer task: one record to every partition every [`PRODUCE_EVERY`], each written
/// with its offset, until `stopped`.
async fn produce(
    client: Client,
    topic: String,
    mut stopped: oneshot::Receiver<()>,
) -> Result<Produced, AnyError> {
    let config = ProducerConfig::builder()
        .linger(Duration::from_millis(5))
        .build()?;
    let producer = Producer::new(client, config)?;
    let mut produced = Produced::new();
    let mut tick = tokio::time::interval(PRODUCE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0u64.. {
        tokio::select! {
            _ = &mut stopped => break,
            _ = tick.tick() => {}
        }
        let mut deliveries = Vec::new();
        for p in 0..PARTITIONS {
            let value = Bytes::from(support::sample_value(p, i));
            let record = ProducerRecord::new(topic.as_str(), value.clone()).with_partition(p);
            deliveries.push((value, producer.send(record).await?));
        }
        for (value, delivery) in deliveries {
            let written = delivery.await?;
            produced.insert((written.partition, written.offset), value);
        }
    }
    producer.close().await?;
    Ok(produced)
}
