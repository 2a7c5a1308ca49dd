//! The cluster state: brokers, topics, partitions and their logs, producer ids, fetch sessions
//! and interception rules. Plain data driven by the request handlers and the control API; no
//! I/O and no clock of its own (callers pass `now`).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use gregor_protocol::ErrorCode;
use gregor_protocol::primitives::Uuid;

use super::group::{GroupConfig, GroupCoordinator};
use super::intercept::InterceptTable;
use super::log::PartitionLog;
use super::session::SessionCache;
use super::splice::Stash;

/// Settings of a mock cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The cluster id Metadata reports.
    pub cluster_id: String,
    /// Whether Metadata may create unknown topics it is asked about (when the request allows
    /// it). Off by default, unlike Kafka's `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// Partitions of an auto-created topic, or of a CreateTopics request asking for -1.
    pub default_partitions: i32,
    /// Replicas per partition when none is asked for (capped by the broker count).
    pub default_replication_factor: i16,
    /// The largest batch a produce may write (Kafka's `message.max.bytes`, 1048588).
    pub max_message_bytes: usize,
    /// Incremental fetch sessions each broker caches
    /// (`max.incremental.fetch.session.cache.slots`, 1000).
    pub fetch_session_slots: usize,
    /// How long a session must be idle before any new session may evict it
    /// (`min.incremental.fetch.session.eviction.ms`, 120 s).
    pub fetch_session_eviction: Duration,
    /// The group coordinator's settings (`group.*` broker configs).
    pub group: GroupConfig,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            cluster_id: "gregor-mock-cluster".into(),
            auto_create_topics: false,
            default_partitions: 1,
            default_replication_factor: 3,
            max_message_bytes: 1_048_588,
            fetch_session_slots: 1000,
            fetch_session_eviction: Duration::from_secs(120),
            group: GroupConfig::default(),
        }
    }
}

/// One broker as Metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// The broker id.
    pub id: i32,
    /// The listener's host.
    pub host: String,
    /// The listener's port.
    pub port: i32,
    /// Whether the broker is up (listening).
    pub up: bool,
}

/// One partition: its leadership and its log.
#[derive(Debug, Clone)]
pub struct PartitionState {
    /// The partition index.
    pub index: i32,
    /// The leader's broker id.
    pub leader: i32,
    /// The current leader epoch.
    pub leader_epoch: i32,
    /// The replicas, leader first at creation.
    pub replicas: Vec<i32>,
    /// The log.
    pub log: PartitionLog,
}

/// One topic.
#[derive(Debug, Clone)]
pub struct TopicState {
    /// The name.
    pub name: String,
    /// The topic id (KIP-516).
    pub id: Uuid,
    /// The partitions, by index.
    pub partitions: Vec<PartitionState>,
}

/// The whole cluster.
#[derive(Debug)]
pub struct ClusterState {
    /// Settings.
    pub config: ClusterConfig,
    /// The brokers, by id order.
    pub brokers: Vec<BrokerInfo>,
    pub(crate) topics: BTreeMap<String, TopicState>,
    ids: HashMap<Uuid, String>,
    topic_seq: u64,
    next_producer_id: i64,
    transactional_ids: HashMap<String, (i64, i16)>,
    /// Fetch sessions, per broker id.
    pub sessions: HashMap<i32, SessionCache>,
    /// Interception rules and observers.
    pub intercepts: InterceptTable,
    /// Bumped whenever data or leadership changes, so waiting fetches re-check.
    pub change_seq: u64,
    /// The classic group coordinator of the whole cluster (see [`super::coordinators`]).
    pub groups: GroupCoordinator,
    /// Groups moved to a broker by the control API, overriding the hash placement.
    pub(crate) coordinator_overrides: BTreeMap<String, i32>,
    /// Stored batches of the fetch response being built (see [`super::splice`]).
    pub(crate) stash: Stash,
}

/// Kafka's rule for topic names: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl ClusterState {
    /// A cluster of `brokers` with no topics.
    pub fn new(config: ClusterConfig, brokers: Vec<BrokerInfo>) -> Self {
        let sessions = brokers
            .iter()
            .map(|b| {
                (
                    b.id,
                    SessionCache::new(config.fetch_session_slots, config.fetch_session_eviction),
                )
            })
            .collect();
        let groups = GroupCoordinator::new(config.group.clone());
        ClusterState {
            config,
            brokers,
            topics: BTreeMap::new(),
            ids: HashMap::new(),
            topic_seq: 0,
            next_producer_id: 1,
            transactional_ids: HashMap::new(),
            sessions,
            intercepts: InterceptTable::default(),
            change_seq: 0,
            groups,
            coordinator_overrides: BTreeMap::new(),
            stash: Stash::default(),
        }
    }

    /// Notes a change that waiting fetches should see.
    pub fn touch(&mut self) {
        self.change_seq = self.change_seq.wrapping_add(1);
    }

    /// The broker with id `id`.
    pub fn broker(&self, id: i32) -> Option<&BrokerInfo> {
        self.brokers.iter().find(|b| b.id == id)
    }

    /// Whether broker `id` exists and is up.
    pub fn broker_is_up(&self, id: i32) -> bool {
        self.broker(id).is_some_and(|b| b.up)
    }

    /// Marks broker `id` up or down; false if there is no such broker.
    pub fn set_broker_up(&mut self, id: i32, up: bool) -> bool {
        let Some(b) = self.brokers.iter_mut().find(|b| b.id == id) else {
            return false;
        };
        b.up = up;
        if !up {
            if let Some(cache) = self.sessions.get_mut(&id) {
                cache.clear();
            }
        }
        self.touch();
        true
    }

    /// Every topic, by name.
    pub fn topics(&self) -> impl Iterator<Item = &TopicState> {
        self.topics.values()
    }

    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<&TopicState> {
        self.topics.get(name)
    }

    /// The name of the topic with id `id`.
    pub fn topic_name(&self, id: Uuid) -> Option<&str> {
        self.ids.get(&id).map(String::as_str)
    }

    /// A partition, mutably.
    pub fn partition_mut(&mut self, topic: &str, partition: i32) -> Option<&mut PartitionState> {
        self.topics
            .get_mut(topic)?
            .partitions
            .get_mut(usize::try_from(partition).ok()?)
    }

    /// A partition.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionState> {
        self.topics
            .get(topic)?
            .partitions
            .get(usize::try_from(partition).ok()?)
    }

    /// The partition `broker` must lead, after Kafka's checks in Kafka's order: unknown topic or
    /// partition, then the client's `current_leader_epoch` (-1 skips it: older →
    /// `FENCED_LEADER_EPOCH`, newer → `UNKNOWN_LEADER_EPOCH`), then leadership
    /// (`NOT_LEADER_OR_FOLLOWER`).
    pub fn leader_partition(
        &mut self,
        topic: &str,
        partition: i32,
        broker: i32,
        current_leader_epoch: i32,
    ) -> Result<&mut PartitionState, ErrorCode> {
        self.replica_partition(topic, partition, broker, current_leader_epoch, true)
    }

    /// A partition `broker` holds a replica of, for a consumer's Fetch: the checks of
    /// [`leader_partition`](Self::leader_partition), except that without `require_leader` a
    /// follower passes too (Kafka lets a follower serve consumers' Fetch v11+, which carry
    /// client metadata, KIP-392).
    pub fn replica_partition(
        &mut self,
        topic: &str,
        partition: i32,
        broker: i32,
        current_leader_epoch: i32,
        require_leader: bool,
    ) -> Result<&mut PartitionState, ErrorCode> {
        let p = self
            .partition_mut(topic, partition)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        if current_leader_epoch >= 0 {
            if current_leader_epoch < p.leader_epoch {
                return Err(ErrorCode::FencedLeaderEpoch);
            }
            if current_leader_epoch > p.leader_epoch {
                return Err(ErrorCode::UnknownLeaderEpoch);
            }
        }
        let follower = !require_leader && p.replicas.contains(&broker);
        if p.leader != broker && !follower {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        Ok(p)
    }

    /// The leader and epoch of a partition, for the `current_leader` hints of KIP-951.
    pub fn leader_hint(&self, topic: &str, partition: i32) -> Option<(i32, i32)> {
        self.partition(topic, partition)
            .map(|p| (p.leader, p.leader_epoch))
    }

    fn new_topic_id(&mut self, name: &str) -> Uuid {
        loop {
            self.topic_seq += 1;
            // Deterministic ids: a splitmix64 of a counter and the name.
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for b in name.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            let a = splitmix(h ^ self.topic_seq);
            let b = splitmix(a);
            let mut raw = [0u8; 16];
            raw[..8].copy_from_slice(&a.to_be_bytes());
            raw[8..].copy_from_slice(&b.to_be_bytes());
            let id = Uuid(raw);
            if id != Uuid::ZERO && !self.ids.contains_key(&id) {
                return id;
            }
        }
    }

    /// Default replicas for partition `index`: `rf` brokers, round robin from `index + shift`.
    fn default_replicas(&self, index: i32, shift: usize, rf: usize) -> Vec<i32> {
        let n = self.brokers.len().max(1);
        (0..rf.min(n))
            .filter_map(|i| {
                let at = (usize::try_from(index).unwrap_or(0) + shift + i) % n;
                self.brokers.get(at).map(|b| b.id)
            })
            .collect()
    }

    /// Creates a topic. `replication_factor` -1 means the default; `assignments`, when not
    /// empty, gives every partition's replicas (leader first) and fixes the partition count.
    pub fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        assignments: &[Vec<i32>],
    ) -> Result<&TopicState, (ErrorCode, String)> {
        let replicas = self.check_new_topic(name, partitions, replication_factor, assignments)?;
        let id = self.new_topic_id(name);
        let parts = replicas
            .into_iter()
            .enumerate()
            .map(|(i, replicas)| new_partition(i as i32, replicas))
            .collect();
        self.ids.insert(id, name.to_owned());
        self.topics.insert(
            name.to_owned(),
            TopicState {
                name: name.to_owned(),
                id,
                partitions: parts,
            },
        );
        self.touch();
        self.topics
            .get(name)
            .ok_or((ErrorCode::UnknownServerError, String::new()))
    }

    /// Checks that a topic could be created, without creating it; returns the replica lists.
    pub fn check_new_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        assignments: &[Vec<i32>],
    ) -> Result<Vec<Vec<i32>>, (ErrorCode, String)> {
        if !valid_topic_name(name) {
            return Err((
                ErrorCode::InvalidTopicException,
                format!("invalid topic name {name:?}"),
            ));
        }
        if self.topics.contains_key(name) {
            return Err((
                ErrorCode::TopicAlreadyExists,
                format!("topic {name} already exists"),
            ));
        }
        self.plan_replicas(name, 0, partitions, replication_factor, assignments)
    }

    /// The replica lists for partitions `first..first + count` (or for `assignments`).
    fn plan_replicas(
        &self,
        name: &str,
        first: i32,
        count: i32,
        replication_factor: i16,
        assignments: &[Vec<i32>],
    ) -> Result<Vec<Vec<i32>>, (ErrorCode, String)> {
        if !assignments.is_empty() {
            for a in assignments {
                let distinct = a.iter().collect::<std::collections::HashSet<_>>().len() == a.len();
                if a.is_empty() || !distinct || a.iter().any(|id| self.broker(*id).is_none()) {
                    return Err((
                        ErrorCode::InvalidReplicaAssignment,
                        format!("invalid replica assignment {a:?}"),
                    ));
                }
            }
            return Ok(assignments.to_vec());
        }
        if count <= 0 {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("number of partitions must be positive, not {count}"),
            ));
        }
        let rf = if replication_factor == -1 {
            i64::from(self.config.default_replication_factor).min(self.brokers.len() as i64)
        } else {
            i64::from(replication_factor)
        };
        if rf <= 0 || rf > self.brokers.len() as i64 {
            return Err((
                ErrorCode::InvalidReplicationFactor,
                format!(
                    "replication factor {replication_factor} with {} brokers",
                    self.brokers.len()
                ),
            ));
        }
        let shift = name.bytes().map(usize::from).sum::<usize>();
        Ok((first..first + count)
            .map(|i| self.default_replicas(i, shift, rf as usize))
            .collect())
    }

    /// Grows a topic to `count` partitions (CreatePartitions).
    pub fn add_partitions(
        &mut self,
        name: &str,
        count: i32,
        assignments: &[Vec<i32>],
        validate_only: bool,
    ) -> Result<(), (ErrorCode, String)> {
        let topic = self.topics.get(name).ok_or((
            ErrorCode::UnknownTopicOrPartition,
            format!("unknown topic {name}"),
        ))?;
        let current = topic.partitions.len() as i32;
        if count <= current {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("topic {name} has {current} partitions; {count} is not more"),
            ));
        }
        let rf = topic.partitions.first().map_or(1, |p| p.replicas.len()) as i16;
        if !assignments.is_empty() && assignments.len() as i32 != count - current {
            return Err((
                ErrorCode::InvalidReplicaAssignment,
                format!(
                    "{} assignments for {} new partitions",
                    assignments.len(),
                    count - current
                ),
            ));
        }
        let replicas = self.plan_replicas(name, current, count - current, rf, assignments)?;
        if validate_only {
            return Ok(());
        }
        if let Some(topic) = self.topics.get_mut(name) {
            for (i, r) in replicas.into_iter().enumerate() {
                topic.partitions.push(new_partition(current + i as i32, r));
            }
        }
        self.touch();
        Ok(())
    }

    /// Deletes a topic; its fetch-session entries answer `UNKNOWN_TOPIC_*` from then on.
    pub fn delete_topic(&mut self, name: &str) -> Option<TopicState> {
        let t = self.topics.remove(name)?;
        self.ids.remove(&t.id);
        self.touch();
        Some(t)
    }

    /// A new producer id (epoch 0) for an idempotent producer, or the next epoch of a
    /// transactional id's producer id (fencing older instances).
    pub fn init_producer_id(&mut self, transactional_id: Option<&str>) -> (i64, i16) {
        match transactional_id {
            None => {
                let id = self.next_producer_id;
                self.next_producer_id += 1;
                (id, 0)
            }
            Some(tid) => {
                if let Some((id, epoch)) = self.transactional_ids.get_mut(tid) {
                    if *epoch < i16::MAX - 1 {
                        *epoch += 1;
                        return (*id, *epoch);
                    }
                }
                let id = self.next_producer_id;
                self.next_producer_id += 1;
                self.transactional_ids.insert(tid.to_owned(), (id, 0));
                (id, 0)
            }
        }
    }

    /// Makes `broker` the leader of a partition with the next leader epoch (adding it to the
    /// replicas if needed). Returns the new epoch.
    pub fn move_leader(&mut self, topic: &str, partition: i32, broker: i32) -> Option<i32> {
        self.broker(broker)?;
        let p = self.partition_mut(topic, partition)?;
        if !p.replicas.contains(&broker) {
            p.replicas.push(broker);
        }
        p.leader = broker;
        p.leader_epoch += 1;
        let epoch = p.leader_epoch;
        p.log.become_leader(epoch);
        self.touch();
        Some(epoch)
    }

    /// Bumps a partition's leader epoch without changing its leader. Returns the new epoch.
    pub fn bump_leader_epoch(&mut self, topic: &str, partition: i32) -> Option<i32> {
        let leader = self.partition(topic, partition)?.leader;
        self.move_leader(topic, partition, leader)
    }
}

fn new_partition(index: i32, replicas: Vec<i32>) -> PartitionState {
    PartitionState {
        index,
        leader: replicas.first().copied().unwrap_or(-1),
        leader_epoch: 0,
        replicas,
        log: PartitionLog::new(0),
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(n: i32) -> ClusterState {
        let brokers = (1..=n)
            .map(|id| BrokerInfo {
                id,
                host: "127.0.0.1".into(),
                port: 9000 + id,
                up: true,
            })
            .collect();
        ClusterState::new(ClusterConfig::default(), brokers)
    }

    #[test]
    fn topics_spread_leaders_and_check_leadership() {
        let mut c = cluster(3);
        let t = c.create_topic("t", 3, -1, &[]).unwrap();
        let leaders: std::collections::HashSet<i32> =
            t.partitions.iter().map(|p| p.leader).collect();
        assert_eq!(leaders.len(), 3);
        assert!(t.partitions.iter().all(|p| p.replicas.len() == 3));
        let leader = c.partition("t", 0).unwrap().leader;
        let other = if leader == 1 { 2 } else { 1 };
        assert_eq!(
            c.leader_partition("t", 0, other, -1).unwrap_err(),
            ErrorCode::NotLeaderOrFollower
        );
        assert!(c.leader_partition("t", 0, leader, 0).is_ok());
        assert_eq!(c.move_leader("t", 0, other), Some(1));
        assert_eq!(
            c.leader_partition("t", 0, other, 0).unwrap_err(),
            ErrorCode::FencedLeaderEpoch
        );
        assert_eq!(
            c.leader_partition("t", 0, other, 2).unwrap_err(),
            ErrorCode::UnknownLeaderEpoch
        );
        assert_eq!(
            c.leader_partition("u", 0, other, -1).unwrap_err(),
            ErrorCode::UnknownTopicOrPartition
        );
    }

    #[test]
    fn topic_creation_errors() {
        let mut c = cluster(1);
        c.create_topic("t", 1, 1, &[]).unwrap();
        assert_eq!(
            c.create_topic("t", 1, 1, &[]).unwrap_err().0,
            ErrorCode::TopicAlreadyExists
        );
        assert_eq!(
            c.create_topic("a b", 1, 1, &[]).unwrap_err().0,
            ErrorCode::InvalidTopicException
        );
        assert_eq!(
            c.create_topic("u", 0, 1, &[]).unwrap_err().0,
            ErrorCode::InvalidPartitions
        );
        assert_eq!(
            c.create_topic("u", 1, 2, &[]).unwrap_err().0,
            ErrorCode::InvalidReplicationFactor
        );
        assert_eq!(
            c.create_topic("u", 1, -1, &[vec![7]]).unwrap_err().0,
            ErrorCode::InvalidReplicaAssignment
        );
        assert_eq!(
            c.add_partitions("t", 1, &[], false).unwrap_err().0,
            ErrorCode::InvalidPartitions
        );
        c.add_partitions("t", 3, &[], false).unwrap();
        assert_eq!(c.topic("t").unwrap().partitions.len(), 3);
    }

    #[test]
    fn producer_ids() {
        let mut c = cluster(1);
        assert_eq!(c.init_producer_id(None), (1, 0));
        assert_eq!(c.init_producer_id(None), (2, 0));
        assert_eq!(c.init_producer_id(Some("tx")), (3, 0));
        assert_eq!(c.init_producer_id(Some("tx")), (3, 1));
    }
}
