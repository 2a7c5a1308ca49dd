//! ConsumerGroupDescribe (key 69, v0-1): a consumer group's state, epochs, assignor and
//! members with their current and target assignments, as Kafka's
//! `ConsumerGroup.asDescribedGroup` fills them.

use std::collections::BTreeMap;

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::consumer_group_describe::{
    Assignment, DescribedGroup, Member as DescribedMember, TopicPartitions,
};
use gregor_protocol::primitives::Uuid;

use super::Parts;
use super::group::ConsumerGroup;

/// READ, DESCRIBE and DELETE (bits of Kafka's `AclOperation` codes): everything is allowed.
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// Kafka's member type for a member using the consumer protocol (v1+).
const CONSUMER_MEMBER: i8 = 1;

/// Describes one group; `names` maps topic ids to names.
pub(crate) fn describe(
    g: &ConsumerGroup,
    version: i16,
    include_operations: bool,
    names: &BTreeMap<Uuid, String>,
) -> DescribedGroup {
    let assignment = |parts: &Parts| Assignment {
        topic_partitions: parts
            .iter()
            .map(|(id, ps)| TopicPartitions {
                topic_id: *id,
                topic_name: names.get(id).cloned().unwrap_or_default(),
                partitions: ps.iter().copied().collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let empty = Parts::new();
    DescribedGroup {
        group_id: g.id.clone(),
        group_state: g.state().as_str().to_owned(),
        group_epoch: g.epoch,
        assignment_epoch: g.assignment_epoch,
        assignor_name: g.preferred_assignor(),
        members: g
            .members
            .values()
            .map(|m| DescribedMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                rack_id: m.rack_id.clone(),
                member_epoch: m.epoch(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                subscribed_topic_names: m.subscribed_names.iter().cloned().collect(),
                subscribed_topic_regex: Some(m.regex.clone()).filter(|r| !r.is_empty()),
                assignment: assignment(&m.progress.assigned),
                target_assignment: assignment(g.target.get(&m.id).unwrap_or(&empty)),
                member_type: if version >= 1 { CONSUMER_MEMBER } else { -1 },
                ..Default::default()
            })
            .collect(),
        authorized_operations: if include_operations {
            GROUP_OPERATIONS
        } else {
            i32::MIN
        },
        ..Default::default()
    }
}

/// The answer for a group that cannot be described.
pub(crate) fn failed(group_id: &str, error: ErrorCode, message: Option<String>) -> DescribedGroup {
    DescribedGroup {
        error_code: error.code(),
        error_message: message,
        group_id: group_id.to_owned(),
        ..Default::default()
    }
}
