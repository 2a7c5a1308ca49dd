//! The requests a member sends, built from its state (version-independent: the shell fits
//! fields that a version lacks), and the consumer protocol's embedded schemas as the
//! membership reads and writes them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use gregor_protocol::TopicPartition;
use gregor_protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartitionList,
};
use gregor_protocol::messages::join_group::JoinGroupRequestProtocol;
use gregor_protocol::messages::leave_group::MemberIdentity;
use gregor_protocol::messages::sync_group::SyncGroupRequestAssignment;
use gregor_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};

use super::{CONSUMER_PROTOCOL_VERSION, Membership};
use crate::group::assignor::{
    MemberSubscription, RebalanceProtocol, SharedAssignor, SubscriptionContext,
};

impl Membership {
    pub(super) fn join_request(&self) -> JoinGroupRequest {
        let owned: Vec<TopicPartition> = match self.protocol {
            RebalanceProtocol::Cooperative => self.owned.iter().cloned().collect(),
            RebalanceProtocol::Eager => Vec::new(),
        };
        let generation = if owned.is_empty() {
            -1
        } else {
            self.generation
        };
        let protocols = self
            .settings
            .assignors
            .iter()
            .filter_map(|assignor| {
                // Sticky user data describes the last assignment, which an eager member has
                // already revoked (as Java's assignors remember it).
                let context = match self.protocol {
                    RebalanceProtocol::Cooperative => SubscriptionContext {
                        topics: &self.topics,
                        owned_partitions: &owned,
                        generation,
                    },
                    RebalanceProtocol::Eager => SubscriptionContext {
                        topics: &self.topics,
                        owned_partitions: &self.last_assignment.0,
                        generation: self.last_assignment.1,
                    },
                };
                let subscription = ConsumerProtocolSubscription {
                    topics: self.topics.clone(),
                    user_data: assignor.user_data(&context),
                    owned_partitions: partition_lists(&owned),
                    generation_id: generation,
                    rack_id: self.settings.rack.clone(),
                };
                let metadata = subscription.to_bytes(CONSUMER_PROTOCOL_VERSION).ok()?;
                Some(JoinGroupRequestProtocol {
                    name: assignor.name().to_owned(),
                    metadata,
                    ..Default::default()
                })
            })
            .collect();
        JoinGroupRequest {
            group_id: self.settings.group_id.clone(),
            session_timeout_ms: millis(self.settings.session_timeout),
            rebalance_timeout_ms: millis(self.settings.rebalance_timeout),
            member_id: self.member_id.clone(),
            group_instance_id: self.settings.instance_id.clone(),
            protocol_type: "consumer".to_owned(),
            protocols,
            reason: None,
            ..Default::default()
        }
    }

    pub(super) fn sync_request(
        &self,
        assignments: Vec<SyncGroupRequestAssignment>,
    ) -> SyncGroupRequest {
        SyncGroupRequest {
            group_id: self.settings.group_id.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.settings.instance_id.clone(),
            protocol_type: Some("consumer".to_owned()),
            protocol_name: self.chosen.clone(),
            assignments,
            ..Default::default()
        }
    }

    pub(super) fn heartbeat_request(&self) -> HeartbeatRequest {
        HeartbeatRequest {
            group_id: self.settings.group_id.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.settings.instance_id.clone(),
            ..Default::default()
        }
    }

    pub(super) fn leave_request(&self) -> LeaveGroupRequest {
        LeaveGroupRequest {
            group_id: self.settings.group_id.clone(),
            member_id: self.member_id.clone(),
            members: vec![MemberIdentity {
                member_id: self.member_id.clone(),
                group_instance_id: self.settings.instance_id.clone(),
                reason: Some("the consumer is closing".to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        }
    }
}

/// The highest protocol every assignor supports; eager when they share none.
pub(super) fn common_protocol(assignors: &[SharedAssignor]) -> RebalanceProtocol {
    let mut common: Option<BTreeSet<RebalanceProtocol>> = None;
    for assignor in assignors {
        let supported: BTreeSet<RebalanceProtocol> =
            assignor.supported_protocols().iter().copied().collect();
        common = Some(match common {
            None => supported,
            Some(c) => c.intersection(&supported).copied().collect(),
        });
    }
    common
        .and_then(|c| c.last().copied())
        .unwrap_or(RebalanceProtocol::Eager)
}

pub(super) fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// Partitions grouped by topic, in the consumer protocol's shape.
pub(super) fn partition_lists(partitions: &[TopicPartition]) -> Vec<TopicPartitionList> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(tp.topic()).or_default().push(tp.partition);
    }
    by_topic
        .into_iter()
        .map(|(topic, partitions)| TopicPartitionList {
            topic: topic.to_owned(),
            partitions,
        })
        .collect()
}

/// A member's JoinGroup metadata as the leader reads it; metadata that does not decode is a
/// member with no subscription (it gets nothing, as Java's leader would fail only itself).
pub(super) fn decode_member(
    member_id: String,
    instance_id: Option<String>,
    metadata: &Bytes,
) -> MemberSubscription {
    let mut member = MemberSubscription::new(member_id, Vec::<String>::new());
    member.instance_id = instance_id;
    if let Ok((_, s)) = ConsumerProtocolSubscription::from_bytes(metadata.clone()) {
        member.topics = s.topics;
        member.user_data = s.user_data;
        member.owned_partitions = s
            .owned_partitions
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| TopicPartition::new(t.topic.as_str(), *p))
            })
            .collect();
        member.generation = s.generation_id;
        member.rack = s.rack_id;
    }
    member
}

/// A member's assignment in SyncGroup's shape.
pub(super) fn encode_assignment(
    partitions: &[TopicPartition],
    user_data: Option<Bytes>,
) -> Option<Bytes> {
    ConsumerProtocolAssignment {
        assigned_partitions: partition_lists(partitions),
        user_data,
    }
    .to_bytes(CONSUMER_PROTOCOL_VERSION)
    .ok()
}
