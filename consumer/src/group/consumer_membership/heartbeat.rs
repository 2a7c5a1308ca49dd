//! What a ConsumerGroupHeartbeat carries: everything when the member joins or after a failed
//! heartbeat, afterwards only the fields that changed since the coordinator last heard them
//! (KIP-848: a field left null means "unchanged").

use std::collections::{BTreeMap, BTreeSet};

use gregor_protocol::messages::consumer_group_heartbeat::TopicPartitions;
use gregor_protocol::primitives::Uuid;

/// The partitions a member owns, by topic id (what the coordinator knows them by).
pub(super) type OwnedIds = BTreeMap<Uuid, BTreeSet<i32>>;

/// The fields the coordinator has acknowledged, to send only what changed. `None`: never sent
/// (or forgotten after a failure), so sent in the next heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SentFields {
    /// The rebalance timeout was sent.
    pub(super) rebalance_timeout: bool,
    /// The subscribed topic names last sent.
    pub(super) topics: Option<Vec<String>>,
    /// The subscribed regex last sent.
    pub(super) regex: Option<String>,
    /// The server assignor last sent.
    pub(super) assignor: Option<String>,
    /// The owned partitions last sent.
    pub(super) owned: Option<OwnedIds>,
}

impl SentFields {
    /// Whether `owned` still has to be told to the coordinator.
    pub(super) fn owned_changed(&self, owned: &OwnedIds) -> bool {
        self.owned.as_ref() != Some(owned)
    }
}

/// The owned partitions as the request lists them (by topic id, partitions sorted).
pub(super) fn topic_partitions(owned: &OwnedIds) -> Vec<TopicPartitions> {
    owned
        .iter()
        .map(|(id, partitions)| TopicPartitions {
            topic_id: *id,
            partitions: partitions.iter().copied().collect(),
            unknown_tagged_fields: Default::default(),
        })
        .collect()
}

/// An assignment as the response lists it, by topic id. Duplicates collapse; negative
/// partition numbers are dropped (they cannot name a partition).
pub(super) fn assignment_ids(topics: &[TopicPartitions]) -> OwnedIds {
    let mut ids = OwnedIds::new();
    for t in topics {
        let set = ids.entry(t.topic_id).or_default();
        set.extend(t.partitions.iter().copied().filter(|p| *p >= 0));
    }
    ids.retain(|_, set| !set.is_empty());
    ids
}
