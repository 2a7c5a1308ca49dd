//! The metadata cache: brokers, topics, partitions, leaders and leader epochs, as the last
//! Metadata responses described them. Sans-io: it is fed responses and asked questions; the
//! task that owns it decides when to refresh.
//!
//! Rules (KIP-320, KIP-516):
//! - a full refresh replaces the topic set; a refresh of named topics updates only those;
//! - a partition whose new leader epoch is older than the cached one keeps the cached entry
//!   (a lagging broker must not send us back to a deposed leader);
//! - topics the response reports with an error (unknown topic, leader not available...) are
//!   recorded with that error so callers can tell "missing" from "not asked yet".

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::MetadataResponse;
use gregor_protocol::primitives::Uuid;

/// A broker's id.
pub type BrokerId = i32;

/// Where a broker listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    /// The broker's id.
    pub id: BrokerId,
    /// Host name or IP, as advertised.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Rack, if the broker has one.
    pub rack: Option<String>,
}

impl BrokerAddr {
    /// `host:port`, as a connect address.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// What the cache knows of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMeta {
    /// The partition index.
    pub partition: i32,
    /// The leader's broker id, or `None` while there is no leader.
    pub leader: Option<BrokerId>,
    /// The leader epoch, or -1 if the broker did not report one.
    pub leader_epoch: i32,
    /// Replica broker ids.
    pub replicas: Vec<BrokerId>,
    /// In-sync replica broker ids.
    pub isr: Vec<BrokerId>,
    /// The partition-level error the broker reported.
    pub error: ErrorCode,
}

/// What the cache knows of one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    /// The topic's name.
    pub name: String,
    /// The topic's id (zero when the broker predates topic ids).
    pub id: Uuid,
    /// Whether it is an internal topic.
    pub is_internal: bool,
    /// The topic-level error the broker reported (`None` means no error).
    pub error: ErrorCode,
    /// Partitions, indexed by partition number.
    pub partitions: Vec<PartitionMeta>,
}

/// The cluster as the last Metadata responses described it.
#[derive(Debug, Clone, Default)]
pub struct MetadataCache {
    brokers: HashMap<BrokerId, BrokerAddr>,
    topics: HashMap<String, TopicMeta>,
    names_by_id: HashMap<Uuid, String>,
    controller: Option<BrokerId>,
    cluster_id: Option<String>,
    refreshed_at: Option<Instant>,
}

impl MetadataCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a Metadata response. `full` says the request asked for all topics (so topics
    /// missing from the answer are gone); otherwise only the answered topics change.
    pub fn apply(&mut self, resp: &MetadataResponse, full: bool, now: Instant) {
        if !resp.brokers.is_empty() {
            self.brokers = resp
                .brokers
                .iter()
                .filter_map(|b| {
                    let port = u16::try_from(b.port).ok()?;
                    Some((
                        b.node_id,
                        BrokerAddr {
                            id: b.node_id,
                            host: b.host.clone(),
                            port,
                            rack: b.rack.clone(),
                        },
                    ))
                })
                .collect();
        }
        self.controller = (resp.controller_id >= 0).then_some(resp.controller_id);
        if resp.cluster_id.is_some() {
            self.cluster_id.clone_from(&resp.cluster_id);
        }
        let mut fresh: HashMap<String, TopicMeta> = HashMap::new();
        for t in &resp.topics {
            let Some(name) = t
                .name
                .clone()
                .or_else(|| self.names_by_id.get(&t.topic_id).cloned())
            else {
                continue;
            };
            let mut partitions: Vec<PartitionMeta> = t
                .partitions
                .iter()
                .filter(|p| p.partition_index >= 0)
                .map(|p| PartitionMeta {
                    partition: p.partition_index,
                    leader: (p.leader_id >= 0).then_some(p.leader_id),
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.clone(),
                    isr: p.isr_nodes.clone(),
                    error: ErrorCode::from_code(p.error_code),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            partitions.dedup_by_key(|p| p.partition);
            // Keep a cached partition whose leader epoch is newer than what this broker says.
            if let Some(old) = self.topics.get(&name) {
                for p in &mut partitions {
                    if let Some(cached) = old.partitions.iter().find(|c| c.partition == p.partition)
                        && p.leader_epoch >= 0
                        && cached.leader_epoch > p.leader_epoch
                    {
                        *p = cached.clone();
                    }
                }
            }
            let meta = TopicMeta {
                name: name.clone(),
                id: t.topic_id,
                is_internal: t.is_internal,
                error: ErrorCode::from_code(t.error_code),
                partitions,
            };
            fresh.insert(name, meta);
        }
        if full {
            self.topics = fresh;
        } else {
            self.topics.extend(fresh);
        }
        self.names_by_id = self
            .topics
            .values()
            .filter(|t| t.id != Uuid::ZERO)
            .map(|t| (t.id, t.name.clone()))
            .collect();
        self.refreshed_at = Some(now);
    }

    /// Forgets everything about `topic` (for example after it was deleted).
    pub fn remove_topic(&mut self, topic: &str) {
        if let Some(t) = self.topics.remove(topic) {
            self.names_by_id.remove(&t.id);
        }
    }

    /// Whether the cache is older than `max_age` (or empty).
    pub fn is_stale(&self, now: Instant, max_age: Duration) -> bool {
        self.refreshed_at
            .is_none_or(|at| now.saturating_duration_since(at) >= max_age)
    }

    /// A broker's address.
    pub fn broker(&self, id: BrokerId) -> Option<&BrokerAddr> {
        self.brokers.get(&id)
    }

    /// Every known broker, in id order.
    pub fn brokers(&self) -> Vec<&BrokerAddr> {
        let mut all: Vec<&BrokerAddr> = self.brokers.values().collect();
        all.sort_by_key(|b| b.id);
        all
    }

    /// A topic, if the cache has it.
    pub fn topic(&self, name: &str) -> Option<&TopicMeta> {
        self.topics.get(name)
    }

    /// A topic's name by id.
    pub fn topic_name(&self, id: Uuid) -> Option<&str> {
        self.names_by_id.get(&id).map(String::as_str)
    }

    /// Every cached topic name, sorted.
    pub fn topic_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.topics.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The number of partitions of a topic without a topic-level error.
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        self.topics
            .get(topic)
            .filter(|t| t.error.is_ok())
            .map(|t| t.partitions.len())
    }

    /// A partition's metadata.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionMeta> {
        let t = self.topics.get(topic)?;
        let index = usize::try_from(partition).ok()?;
        t.partitions
            .get(index)
            .filter(|p| p.partition == partition)
            .or_else(|| t.partitions.iter().find(|p| p.partition == partition))
    }

    /// A partition's leader and its address, if the leader is known and reachable.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<(&BrokerAddr, i32)> {
        let p = self.partition(topic, partition)?;
        let addr = self.brokers.get(&p.leader?)?;
        Some((addr, p.leader_epoch))
    }

    /// The controller's id, if known.
    pub fn controller(&self) -> Option<BrokerId> {
        self.controller
    }

    /// The cluster id, if known.
    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }
}
