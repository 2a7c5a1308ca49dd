//! OffsetFetch (key 9): committed offsets of one group (v1-7) or several (v8+), all of a
//! group's partitions when the topics are null (v2+), and `require_stable` (v7+).

use gregor_protocol::messages::offset_fetch::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use gregor_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
use gregor_protocol::{ErrorCode, TopicPartition};

use std::collections::{BTreeMap, BTreeSet};

use super::state::Group;
use super::{CommittedOffset, GroupCoordinator, RequestCtx};
use crate::mock::consumer_group::ConsumerGroups;

/// One partition's answer.
struct PartitionOffset {
    partition: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: String,
    error: ErrorCode,
}

impl PartitionOffset {
    fn none(partition: i32, error: ErrorCode) -> PartitionOffset {
        PartitionOffset {
            partition,
            offset: -1,
            leader_epoch: -1,
            metadata: String::new(),
            error,
        }
    }
}

/// The requested topics, or `None` for all of the group's.
type Wanted<'a> = Option<Vec<(&'a str, &'a [i32])>>;

pub(super) fn handle(
    c: &GroupCoordinator,
    ctx: &RequestCtx<'_>,
    req: &OffsetFetchRequest,
) -> OffsetFetchResponse {
    let v = ctx.api_version;
    let stable = v >= 7 && req.require_stable;
    if v >= 8 {
        let groups = req
            .groups
            .iter()
            .map(|rg| {
                let wanted: Wanted<'_> = rg.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.as_str(), t.partition_indexes.as_slice()))
                        .collect()
                });
                let error = group_error(ctx, &rg.group_id).or_else(|| {
                    let g = c.consumer_group(&rg.group_id)?;
                    let member = rg.member_id.as_deref();
                    ConsumerGroups::validate_offset_fetch(g, member, rg.member_epoch).err()
                });
                let (topics, error) = match error {
                    Some(e) => (Vec::new(), e),
                    None => {
                        let found = lookup(stored(c, &rg.group_id), wanted, stable);
                        (found, ErrorCode::None)
                    }
                };
                OffsetFetchResponseGroup {
                    group_id: rg.group_id.clone(),
                    topics: topics
                        .into_iter()
                        .map(|(name, parts)| OffsetFetchResponseTopics {
                            name,
                            partitions: parts
                                .into_iter()
                                .map(|p| OffsetFetchResponsePartitions {
                                    partition_index: p.partition,
                                    committed_offset: p.offset,
                                    committed_leader_epoch: p.leader_epoch,
                                    metadata: Some(p.metadata),
                                    error_code: p.error.code(),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    error_code: error.code(),
                    ..Default::default()
                }
            })
            .collect();
        return OffsetFetchResponse {
            groups,
            ..Default::default()
        };
    }
    let wanted: Wanted<'_> = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.as_str(), t.partition_indexes.as_slice()))
            .collect()
    });
    let (topics, error) = match group_error(ctx, &req.group_id) {
        // Version 1 has no top-level error: every requested partition carries it.
        Some(e) if v < 2 => {
            let topics = wanted
                .unwrap_or_default()
                .into_iter()
                .map(|(name, parts)| {
                    let parts = parts.iter().map(|p| PartitionOffset::none(*p, e)).collect();
                    (name.to_owned(), parts)
                })
                .collect();
            (topics, ErrorCode::None)
        }
        Some(e) => (Vec::new(), e),
        None => (
            lookup(stored(c, &req.group_id), wanted, stable),
            ErrorCode::None,
        ),
    };
    OffsetFetchResponse {
        topics: topics
            .into_iter()
            .map(|(name, parts)| OffsetFetchResponseTopic {
                name,
                partitions: parts
                    .into_iter()
                    .map(|p| OffsetFetchResponsePartition {
                        partition_index: p.partition,
                        committed_offset: p.offset,
                        committed_leader_epoch: if v >= 5 { p.leader_epoch } else { -1 },
                        metadata: Some(p.metadata),
                        error_code: p.error.code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        error_code: if v >= 2 { error.code() } else { 0 },
        ..Default::default()
    }
}

fn group_error(ctx: &RequestCtx<'_>, group_id: &str) -> Option<ErrorCode> {
    if !ctx.coordinates(group_id) {
        Some(ErrorCode::NotCoordinator)
    } else if group_id.is_empty() {
        Some(ErrorCode::InvalidGroupId)
    } else {
        None
    }
}

/// A group's committed offsets and its partitions with pending transactional commits.
type Stored<'a> = (
    &'a BTreeMap<TopicPartition, CommittedOffset>,
    Option<&'a BTreeSet<TopicPartition>>,
);

/// The offsets stored for `group_id`, of a classic or a consumer group.
fn stored<'a>(c: &'a GroupCoordinator, group_id: &str) -> Option<Stored<'a>> {
    if let Some(g) = c.consumer_group(group_id) {
        return Some((&g.offsets, None));
    }
    c.groups
        .get(group_id)
        .map(|g: &Group| (&g.offsets, Some(&g.pending_txn)))
}

/// The committed offsets asked for (-1 where none; `UNSTABLE_OFFSET_COMMIT` where a
/// transactional commit is pending and stable offsets are required).
fn lookup(
    g: Option<Stored<'_>>,
    wanted: Wanted<'_>,
    stable: bool,
) -> Vec<(String, Vec<PartitionOffset>)> {
    let entry = |topic: &str, partition: i32| -> PartitionOffset {
        let Some((offsets, pending)) = g else {
            return PartitionOffset::none(partition, ErrorCode::None);
        };
        let key = TopicPartition::new(topic, partition);
        if stable && pending.is_some_and(|p| p.contains(&key)) {
            return PartitionOffset::none(partition, ErrorCode::UnstableOffsetCommit);
        }
        match offsets.get(&key) {
            Some(o) => PartitionOffset {
                partition,
                offset: o.offset,
                leader_epoch: o.leader_epoch,
                metadata: o.metadata.clone(),
                error: ErrorCode::None,
            },
            None => PartitionOffset::none(partition, ErrorCode::None),
        }
    };
    match wanted {
        Some(topics) => topics
            .into_iter()
            .map(|(name, parts)| {
                let parts = parts.iter().map(|p| entry(name, *p)).collect();
                (name.to_owned(), parts)
            })
            .collect(),
        None => {
            let mut out: Vec<(String, Vec<PartitionOffset>)> = Vec::new();
            for tp in g.map(|(offsets, _)| offsets.keys()).into_iter().flatten() {
                let p = entry(tp.topic(), tp.partition);
                match out.last_mut() {
                    Some((t, parts)) if t.as_str() == tp.topic() => parts.push(p),
                    _ => out.push((tp.topic.to_string(), vec![p])),
                }
            }
            out
        }
    }
}
