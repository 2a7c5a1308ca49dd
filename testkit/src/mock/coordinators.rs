//! Where groups live: the cluster as the group coordinator's [`Topology`], and the moves of a
//! group from one coordinator broker to another.
//!
//! # Placement
//! Kafka places a group on the leader of its `__consumer_offsets` partition
//! ([`offsets_partition_for`], 50 partitions). The mock has no such topic; it lays the 50
//! partitions' leaders round robin over the brokers in id order (partition `p` on the
//! `p % n`-th broker), as Kafka spreads a new topic's leaders, so a group's coordinator is a
//! fixed broker for a given group id and broker count. When that broker is down the next
//! live broker in id order (cyclically) takes over, as a new partition leader would;
//! [`MockCluster::move_coordinator`](super::MockCluster::move_coordinator) pins a group to a
//! broker instead (the same fail-over applies while the pinned broker is down). No live broker:
//! no coordinator (`COORDINATOR_NOT_AVAILABLE`).
//!
//! Whenever a group's coordinator changes (a move, a broker going down or coming back), the
//! group coordinator is told with [`GroupCoordinator::coordinator_changed`]: parked JoinGroup
//! and SyncGroup requests get `NOT_COORDINATOR`, and the group reloads from what it last
//! persisted, as when Kafka moves a `__consumer_offsets` partition.

use std::collections::BTreeMap;
use std::time::Instant;

use super::group::{GroupCoordinator, TopicMeta, Topology, offsets_partition_for};
use super::state::{BrokerInfo, ClusterState, TopicState};

/// Kafka's default `offsets.topic.num.partitions`.
pub(crate) const OFFSETS_PARTITIONS: i32 = 50;

/// The cluster as the group coordinator sees it (everything but the coordinator itself, so
/// both can be borrowed at once).
pub(crate) struct ClusterTopology<'a> {
    brokers: &'a [BrokerInfo],
    topics: &'a BTreeMap<String, TopicState>,
    overrides: &'a BTreeMap<String, i32>,
}

/// The coordinator of `group_id` among `brokers`; see the [module docs](self).
fn place(brokers: &[BrokerInfo], overrides: &BTreeMap<String, i32>, group_id: &str) -> Option<i32> {
    let n = brokers.len();
    if n == 0 {
        return None;
    }
    let start = match overrides.get(group_id) {
        Some(id) => brokers.iter().position(|b| b.id == *id)?,
        None => usize::try_from(offsets_partition_for(group_id, OFFSETS_PARTITIONS)).ok()? % n,
    };
    (0..n)
        .filter_map(|i| brokers.get((start + i) % n))
        .find(|b| b.up)
        .map(|b| b.id)
}

impl Topology for ClusterTopology<'_> {
    fn group_coordinator(&self, group_id: &str) -> Option<i32> {
        place(self.brokers, self.overrides, group_id)
    }

    fn broker_address(&self, node_id: i32) -> Option<(String, i32)> {
        self.brokers
            .iter()
            .find(|b| b.id == node_id && b.up)
            .map(|b| (b.host.clone(), b.port))
    }

    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        self.topics
            .get(topic)
            .is_some_and(|t| usize::try_from(partition).is_ok_and(|p| p < t.partitions.len()))
    }

    fn topics(&self) -> BTreeMap<String, TopicMeta> {
        self.topics
            .values()
            .map(|t| {
                let partitions = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
                (
                    t.name.clone(),
                    TopicMeta {
                        id: t.id,
                        partitions,
                    },
                )
            })
            .collect()
    }
}

impl ClusterState {
    /// The group coordinator together with the cluster topology it consults.
    pub(crate) fn groups_and_topology(&mut self) -> (&mut GroupCoordinator, ClusterTopology<'_>) {
        (
            &mut self.groups,
            ClusterTopology {
                brokers: &self.brokers,
                topics: &self.topics,
                overrides: &self.coordinator_overrides,
            },
        )
    }

    /// The broker coordinating `group_id` now, if any.
    pub fn coordinator_of(&self, group_id: &str) -> Option<i32> {
        place(&self.brokers, &self.coordinator_overrides, group_id)
    }

    /// Every known group with its coordinator.
    fn placements(&self) -> Vec<(String, Option<i32>)> {
        self.groups
            .group_ids()
            .map(|g| (g.to_owned(), self.coordinator_of(g)))
            .collect()
    }

    /// Tells the group coordinator about every group whose coordinator is no longer the one in
    /// `before`.
    fn reload_moved(&mut self, before: Vec<(String, Option<i32>)>, now: Instant) {
        for (group, was) in before {
            if self.coordinator_of(&group) != was {
                self.groups.coordinator_changed(&group, now);
            }
        }
    }

    /// [`set_broker_up`](Self::set_broker_up), moving the groups whose coordinator changes.
    pub(crate) fn set_broker_up_at(&mut self, id: i32, up: bool, now: Instant) -> bool {
        let before = self.placements();
        let known = self.set_broker_up(id, up);
        self.reload_moved(before, now);
        known
    }

    /// Pins `group_id` to `broker` (which must exist); returns whether its coordinator changed.
    pub(crate) fn move_coordinator(&mut self, group_id: &str, broker: i32, now: Instant) -> bool {
        let was = self.coordinator_of(group_id);
        self.coordinator_overrides
            .insert(group_id.to_owned(), broker);
        let moved = self.coordinator_of(group_id) != was;
        if moved {
            self.groups.coordinator_changed(group_id, now);
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::state::ClusterConfig;

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
    fn placement_follows_the_offsets_partition_and_fails_over() {
        let mut c = cluster(3);
        // "g" hashes to __consumer_offsets partition 103 % 50 = 3 → the first broker of 3.
        assert_eq!(offsets_partition_for("g", OFFSETS_PARTITIONS), 3);
        assert_eq!(c.coordinator_of("g"), Some(1));
        let now = Instant::now();
        c.set_broker_up_at(1, false, now);
        assert_eq!(c.coordinator_of("g"), Some(2));
        c.set_broker_up_at(2, false, now);
        c.set_broker_up_at(3, false, now);
        assert_eq!(c.coordinator_of("g"), None);
        c.set_broker_up_at(3, true, now);
        assert_eq!(c.coordinator_of("g"), Some(3));
        // Pinned to a broker that is down: the next live one (3) still serves it.
        assert!(!c.move_coordinator("g", 2, now));
        assert_eq!(c.coordinator_of("g"), Some(3));
    }

    #[test]
    fn a_pinned_group_stays_on_its_broker() {
        let mut c = cluster(3);
        let now = Instant::now();
        assert!(c.move_coordinator("g", 3, now));
        assert_eq!(c.coordinator_of("g"), Some(3));
        assert!(!c.move_coordinator("g", 3, now));
        c.set_broker_up_at(3, false, now);
        assert_eq!(c.coordinator_of("g"), Some(1));
    }
}
