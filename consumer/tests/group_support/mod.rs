//! Group-consumer test support: members running on their own tasks, a producer at a fixed
//! rate, and the delivery ledger the invariants are checked from; the scenarios' setup and
//! waits in [`scenario`].
#![allow(dead_code)]

pub mod scenario;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gregor_client::Client;
use gregor_consumer::TopicPartition;
use gregor_consumer::fetch::{FetchConfig, OffsetReset};
use gregor_consumer::group::assignor::SharedAssignor;
use gregor_consumer::group::config::{GroupProtocol, MembershipOnClose};
use gregor_consumer::group::consumer::{GroupConsumer, GroupConsumerSettings, GroupEvent};
use gregor_consumer::group::errors::GroupError;
use gregor_consumer::group::membership::MembershipSettings;
use gregor_consumer::group::task::Subscription;
use gregor_testkit::data::{BatchShape, produce_batch};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One line of the ledger.
#[derive(Debug, Clone)]
pub enum Entry {
    /// `member` delivered `offsets` of `partition` in `generation` at `at`.
    Records {
        member: String,
        generation: i32,
        partition: TopicPartition,
        first: i64,
        last: i64,
        at: Instant,
    },
    /// `member` got `partitions`.
    Assigned {
        member: String,
        partitions: Vec<TopicPartition>,
        at: Instant,
    },
    /// `member` was told it missed `max.poll.interval.ms`.
    PollTimeout { member: String, at: Instant },
    /// `member` gave `partitions` up (revoked gracefully, or lost).
    Released {
        member: String,
        partitions: Vec<TopicPartition>,
        lost: bool,
        at: Instant,
    },
}

/// What every member writes to.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl Ledger {
    pub fn push(&self, entry: Entry) {
        self.entries.lock().unwrap().push(entry);
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.entries.lock().unwrap().clone()
    }

    /// Adds what a peer member (Java, librdkafka) delivered, from its event log.
    pub fn add_peer_records(
        &self,
        member: &str,
        events: &[gregor_testkit::kafka::group_peer::PeerEvent],
    ) {
        for event in events {
            if let gregor_testkit::kafka::group_peer::PeerEvent::Records {
                topic,
                partition,
                generation,
                offsets,
                ..
            } = event
            {
                for offset in offsets {
                    self.push(Entry::Records {
                        member: member.to_owned(),
                        generation: *generation,
                        partition: TopicPartition::new(topic.as_str(), *partition),
                        first: *offset,
                        last: *offset,
                        at: Instant::now(),
                    });
                }
            }
        }
    }

    /// How many times each offset of each partition was delivered.
    pub fn deliveries(&self) -> BTreeMap<TopicPartition, BTreeMap<i64, u32>> {
        let mut out: BTreeMap<TopicPartition, BTreeMap<i64, u32>> = BTreeMap::new();
        for e in self.entries() {
            if let Entry::Records {
                partition,
                first,
                last,
                ..
            } = e
            {
                let counts = out.entry(partition).or_default();
                for offset in first..=last {
                    *counts.entry(offset).or_default() += 1;
                }
            }
        }
        out
    }

    /// Offsets below `ends[partition]` never delivered (I2: no gap).
    pub fn gaps(&self, ends: &BTreeMap<TopicPartition, i64>) -> Vec<(TopicPartition, i64)> {
        let delivered = self.deliveries();
        let mut gaps = Vec::new();
        for (tp, end) in ends {
            let got = delivered.get(tp);
            for offset in 0..*end {
                if got.is_none_or(|g| !g.contains_key(&offset)) {
                    gaps.push((tp.clone(), offset));
                }
            }
        }
        gaps
    }

    /// Offsets delivered more than once.
    pub fn duplicates(&self) -> usize {
        self.deliveries()
            .values()
            .flat_map(|counts| counts.values())
            .map(|n| (*n as usize).saturating_sub(1))
            .sum()
    }

    /// The offsets delivered more than once, each with the members that delivered it in
    /// delivery order (at most `limit` of them), for a failing test to say what happened.
    pub fn duplicated(&self, limit: usize) -> Vec<(TopicPartition, i64, Vec<String>)> {
        let mut by: BTreeMap<(TopicPartition, i64), Vec<String>> = BTreeMap::new();
        for e in self.entries() {
            if let Entry::Records {
                member,
                partition,
                first,
                last,
                ..
            } = e
            {
                for offset in first..=last {
                    by.entry((partition.clone(), offset))
                        .or_default()
                        .push(member.clone());
                }
            }
        }
        by.into_iter()
            .filter(|(_, members)| members.len() > 1)
            .take(limit)
            .map(|((tp, offset), members)| (tp, offset, members))
            .collect()
    }

    /// Partitions owned by two members at once (I1), from the assigned / released entries:
    /// `(partition, first owner, second owner)`.
    pub fn overlaps(&self) -> Vec<(TopicPartition, String, String)> {
        let mut owner: BTreeMap<TopicPartition, String> = BTreeMap::new();
        let mut overlaps = Vec::new();
        let mut entries = self.entries();
        entries.sort_by_key(|e| match e {
            Entry::Records { at, .. }
            | Entry::Assigned { at, .. }
            | Entry::Released { at, .. }
            | Entry::PollTimeout { at, .. } => *at,
        });
        for e in entries {
            match e {
                Entry::Assigned {
                    member, partitions, ..
                } => {
                    for tp in partitions {
                        if let Some(previous) = owner.insert(tp.clone(), member.clone()) {
                            if previous != member {
                                overlaps.push((tp, previous, member.clone()));
                            }
                        }
                    }
                }
                Entry::Released {
                    member, partitions, ..
                } => {
                    for tp in partitions {
                        if owner.get(&tp) == Some(&member) {
                            owner.remove(&tp);
                        }
                    }
                }
                Entry::Records { .. } | Entry::PollTimeout { .. } => {}
            }
        }
        overlaps
    }

    /// Who owns what, from the assigned / released entries.
    pub fn owners(&self) -> BTreeMap<TopicPartition, String> {
        let mut owner = BTreeMap::new();
        for e in self.entries() {
            match e {
                Entry::Assigned {
                    member, partitions, ..
                } => {
                    for tp in partitions {
                        owner.insert(tp, member.clone());
                    }
                }
                Entry::Released {
                    member, partitions, ..
                } => {
                    for tp in partitions {
                        if owner.get(&tp) == Some(&member) {
                            owner.remove(&tp);
                        }
                    }
                }
                Entry::Records { .. } | Entry::PollTimeout { .. } => {}
            }
        }
        owner
    }

    /// The partitions `member` was told it lost, and how many poll timeouts it saw.
    pub fn losses(&self, member: &str) -> (usize, usize) {
        let mut lost = 0;
        let mut timeouts = 0;
        for e in self.entries() {
            match e {
                Entry::Released {
                    member: m,
                    partitions,
                    lost: true,
                    ..
                } if m == member => lost += partitions.len(),
                Entry::PollTimeout { member: m, .. } if m == member => timeouts += 1,
                _ => {}
            }
        }
        (lost, timeouts)
    }

    /// The longest time between two deliveries (or from `from`, or until `to`) of a partition
    /// `member` owned through all of `from..to` without a release: I5, partitions that do not
    /// move keep flowing during a cooperative rebalance.
    pub fn longest_gap_of_kept(&self, member: &str, from: Instant, to: Instant) -> Duration {
        let entries = self.entries();
        let released: BTreeSet<TopicPartition> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Released {
                    member: m,
                    partitions,
                    at,
                    ..
                } if m == member && *at >= from && *at <= to => Some(partitions.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        let mut times: BTreeMap<TopicPartition, Vec<Instant>> = BTreeMap::new();
        for e in &entries {
            if let Entry::Records {
                member: m,
                partition,
                at,
                ..
            } = e
            {
                if m == member && *at >= from && *at <= to && !released.contains(partition) {
                    times.entry(partition.clone()).or_default().push(*at);
                }
            }
        }
        let mut longest = Duration::ZERO;
        for mut list in times.into_values() {
            list.sort();
            let mut previous = from;
            for at in list.into_iter().chain(std::iter::once(to)) {
                longest = longest.max(at.saturating_duration_since(previous));
                previous = at;
            }
        }
        longest
    }

    /// How many times `member` had partitions revoked or lost.
    pub fn releases(&self, member: &str) -> usize {
        self.entries()
            .iter()
            .filter(|e| matches!(e, Entry::Released { member: m, .. } if m == member))
            .count()
    }
}

/// Group settings for tests: short timeouts, auto-commit every `commit_every`.
pub fn settings(group: &str, assignors: Vec<SharedAssignor>) -> GroupConsumerSettings {
    GroupConsumerSettings {
        membership: MembershipSettings {
            group_id: group.to_owned(),
            instance_id: None,
            session_timeout: Duration::from_secs(6),
            rebalance_timeout: Duration::from_secs(20),
            heartbeat_interval: Duration::from_millis(300),
            retry_backoff: Duration::from_millis(50),
            rack: None,
            assignors,
        },
        max_poll_interval: Duration::from_secs(30),
        auto_commit: Some(Duration::from_millis(500)),
        offset_reset: OffsetReset::Earliest,
        leave_on_close: true,
        fetch: FetchConfig::default().with_max_wait(Duration::from_millis(100)),
        group_protocol: GroupProtocol::Classic,
        remote_assignor: None,
        protocol_fallback: false,
        on_close: MembershipOnClose::Default,
    }
}

/// How a test member processes records.
#[derive(Debug, Clone, Copy, Default)]
pub struct Behaviour {
    /// Holds the first chunk it gets this long before recording it and asking for more.
    pub stall_after_first_records: Option<Duration>,
    /// Gives up on each `next()` after a millisecond and calls again (cancelling it wherever
    /// it was), as an application polling under a short timeout does.
    pub cancel_often: bool,
    /// Takes each assigned partition's stream and reads it on a task of its own, taking this
    /// long over each chunk.
    pub streams: Option<Duration>,
    /// Tracks what it processed itself and commits it from its rebalance listener when
    /// partitions are revoked (run it with auto-commit off).
    pub manual_commits: bool,
}

/// A listener committing what the member processed, as an application with auto-commit off
/// does in Java's `onPartitionsRevoked`.
struct CommitOnRevoke {
    processed: Arc<Mutex<BTreeMap<TopicPartition, i64>>>,
}

impl gregor_consumer::group::consumer::RebalanceListener for CommitOnRevoke {
    fn on_revoked(&mut self, partitions: &[TopicPartition]) -> Vec<(TopicPartition, i64)> {
        let processed = self.processed.lock().unwrap();
        partitions
            .iter()
            .filter_map(|tp| processed.get(tp).map(|next| (tp.clone(), *next)))
            .collect()
    }
}

/// A member consuming on its own task until told to stop.
pub struct Member {
    pub name: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), GroupError>>,
}

impl Member {
    /// Starts member `name` with `settings` subscribed to `topics`.
    pub fn start(
        name: &str,
        client: &Client,
        settings: GroupConsumerSettings,
        subscription: Subscription,
        ledger: &Ledger,
    ) -> Member {
        Member::start_with(
            name,
            client,
            settings,
            subscription,
            ledger,
            Behaviour::default(),
        )
    }

    /// Like [`Member::start`], processing records as `behaviour` says.
    pub fn start_with(
        name: &str,
        client: &Client,
        settings: GroupConsumerSettings,
        subscription: Subscription,
        ledger: &Ledger,
        behaviour: Behaviour,
    ) -> Member {
        let mut stall = behaviour.stall_after_first_records;
        let (stop_tx, mut stop_rx) = oneshot::channel();
        let ledger = ledger.clone();
        let member = name.to_owned();
        let client = client.clone();
        let task = tokio::spawn(async move {
            let mut consumer = GroupConsumer::new(client, settings, subscription);
            let processed: Arc<Mutex<BTreeMap<TopicPartition, i64>>> = Arc::default();
            if behaviour.manual_commits {
                consumer.set_listener(CommitOnRevoke {
                    processed: processed.clone(),
                });
            }
            loop {
                let event = if behaviour.cancel_often {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        event = tokio::time::timeout(Duration::from_millis(1), consumer.next()) => match event {
                            Ok(event) => event.inspect_err(|e| eprintln!("member {member}: {e}"))?,
                            Err(_) => continue,
                        },
                    }
                } else {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        event = consumer.next() => event.inspect_err(|e| eprintln!("member {member}: {e}"))?,
                    }
                };
                let at = Instant::now();
                match event {
                    GroupEvent::Records(chunk) => {
                        if let Some(pause) = stall.take() {
                            // Processing this chunk takes `pause` (the chunk is held).
                            tokio::time::sleep(pause).await;
                        }
                        let (Some(first), Some(last)) =
                            (chunk.as_slice().first(), chunk.as_slice().last())
                        else {
                            continue;
                        };
                        processed
                            .lock()
                            .unwrap()
                            .insert(chunk.topic_partition().clone(), chunk.next_offset());
                        ledger.push(Entry::Records {
                            member: member.clone(),
                            generation: consumer.generation().map_or(-1, |g| g.0),
                            partition: chunk.topic_partition().clone(),
                            first: first.offset,
                            last: last.offset,
                            at,
                        });
                    }
                    GroupEvent::Assigned(partitions) => {
                        ledger.push(Entry::Assigned {
                            member: member.clone(),
                            partitions: partitions.clone(),
                            at,
                        });
                        if let Some(per_chunk) = behaviour.streams {
                            for tp in &partitions {
                                let Some(mut stream) = consumer.take_stream(tp) else {
                                    continue;
                                };
                                let ledger = ledger.clone();
                                let member = member.clone();
                                tokio::spawn(async move {
                                    while let Some(chunk) = stream.next_chunk().await {
                                        let chunk = chunk.expect("the partition's records");
                                        tokio::time::sleep(per_chunk).await;
                                        if let (Some(first), Some(last)) =
                                            (chunk.as_slice().first(), chunk.as_slice().last())
                                        {
                                            ledger.push(Entry::Records {
                                                member: member.clone(),
                                                generation: -1,
                                                partition: chunk.topic_partition().clone(),
                                                first: first.offset,
                                                last: last.offset,
                                                at: Instant::now(),
                                            });
                                        }
                                    }
                                });
                            }
                        }
                    }
                    GroupEvent::Revoked(partitions) => ledger.push(Entry::Released {
                        member: member.clone(),
                        partitions,
                        lost: false,
                        at,
                    }),
                    GroupEvent::Lost(partitions) => ledger.push(Entry::Released {
                        member: member.clone(),
                        partitions,
                        lost: true,
                        at,
                    }),
                    GroupEvent::PollIntervalExceeded => ledger.push(Entry::PollTimeout {
                        member: member.clone(),
                        at,
                    }),
                    _ => {}
                }
            }
            let owned = consumer.assignment();
            // The application gets no records once it calls close, which revokes before it
            // leaves: the partitions are released now (others may get them before close
            // returns, which waits for the LeaveGroup's answer).
            let released = Instant::now();
            consumer.close().await?;
            ledger.push(Entry::Released {
                member: member.clone(),
                partitions: owned,
                lost: false,
                at: released,
            });
            Ok(())
        });
        Member {
            name: name.to_owned(),
            stop: Some(stop_tx),
            task,
        }
    }

    /// Closes the member gracefully (commit, revoke, leave) and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let name = self.name.clone();
        tokio::time::timeout(Duration::from_secs(30), &mut self.task)
            .await
            .unwrap_or_else(|_| panic!("member {name} did not close"))
            .expect("the member task")
            .unwrap_or_else(|e| panic!("member {name}: {e}"));
    }

    /// Kills the member: no commit, no LeaveGroup (its session has to time out).
    pub fn kill(self) {
        self.task.abort();
    }
}

/// Produces `per_round` records to every partition every `every` until stopped; returns the
/// log end per partition once stopped.
pub struct Producer {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<BTreeMap<TopicPartition, i64>>,
}

impl Producer {
    pub fn start(
        client: &Client,
        topic: &str,
        partitions: i32,
        per_round: usize,
        every: Duration,
    ) -> Producer {
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let client = client.clone();
        let topic = topic.to_owned();
        let task = tokio::spawn(async move {
            let mut ends: BTreeMap<TopicPartition, i64> = BTreeMap::new();
            let mut n = 0u64;
            loop {
                for p in 0..partitions {
                    let values: Vec<String> = (0..per_round)
                        .map(|i| format!("{p}-{}", n + i as u64))
                        .collect();
                    let base =
                        produce_batch(&client, &topic, p, &values, &BatchShape::default()).await;
                    ends.insert(
                        TopicPartition::new(topic.as_str(), p),
                        base + per_round as i64,
                    );
                }
                n += per_round as u64;
                tokio::select! {
                    _ = &mut stop_rx => break,
                    () = tokio::time::sleep(every) => {}
                }
            }
            ends
        });
        Producer {
            stop: Some(stop_tx),
            task,
        }
    }

    pub async fn stop(mut self) -> BTreeMap<TopicPartition, i64> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("the producer task")
    }
}

/// Waits until `check` holds on the ledger, or panics after `limit` with `what`.
pub async fn eventually(
    ledger: &Ledger,
    what: &str,
    limit: Duration,
    check: impl Fn(&Ledger) -> bool,
) {
    let start = Instant::now();
    while !check(ledger) {
        if start.elapsed() > limit {
            panic!(
                "{what}: not reached within {limit:?}; owners {:?}",
                ledger.owners()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The partitions of `topic`.
pub fn partitions(topic: &str, count: i32) -> BTreeSet<TopicPartition> {
    (0..count).map(|p| TopicPartition::new(topic, p)).collect()
}

/// One test per (broker kind, group protocol) of an `async fn NAME(kind, protocol)`:
/// `per_protocol!(NAME: mock => Mock Classic, kafka_848 => Kafka Consumer)` makes
/// `NAME::mock` and `NAME::kafka_848`.
#[allow(unused_macros)]
macro_rules! per_protocol {
    ($test:ident: $($suffix:ident => $kind:ident $protocol:ident),+ $(,)?) => {
        mod $test {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $suffix() {
                    super::$test(
                        gregor_testkit::BrokerKind::$kind,
                        gregor_consumer::group::config::GroupProtocol::$protocol,
                    )
                    .await;
                }
            )+
        }
    };
}
#[allow(unused_imports)]
pub(crate) use per_protocol;
