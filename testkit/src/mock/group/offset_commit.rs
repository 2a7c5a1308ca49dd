//! OffsetCommit (key 8): a member (or a standalone consumer) commits offsets.

use gregor_protocol::messages::offset_commit::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use gregor_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use gregor_protocol::{ErrorCode, TopicPartition};

use std::collections::BTreeMap;

use super::state::Group;
use super::{CommittedOffset, GroupCoordinator, GroupState, RequestCtx};
use crate::mock::consumer_group::ConsumerGroups;

pub(super) fn handle(
    c: &mut GroupCoordinator,
    ctx: &RequestCtx<'_>,
    req: &OffsetCommitRequest,
) -> OffsetCommitResponse {
    // One result per partition; `None` until decided.
    let mut results: Vec<Vec<Option<ErrorCode>>> = req
        .topics
        .iter()
        .map(|t| vec![None; t.partitions.len()])
        .collect();
    let request_error = if !ctx.coordinates(&req.group_id) {
        Some(ErrorCode::NotCoordinator)
    } else if req.group_id.is_empty() {
        Some(ErrorCode::InvalidGroupId)
    } else {
        None
    };
    match request_error {
        Some(e) => fill(&mut results, e),
        None => commit(c, ctx, req, &mut results),
    }
    OffsetCommitResponse {
        topics: req
            .topics
            .iter()
            .zip(results)
            .map(|(t, errors)| OffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .zip(errors)
                    .map(|(p, e)| OffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: e.unwrap_or(ErrorCode::None).code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn fill(results: &mut [Vec<Option<ErrorCode>>], error: ErrorCode) {
    for e in results.iter_mut().flatten() {
        e.get_or_insert(error);
    }
}

fn commit(
    c: &mut GroupCoordinator,
    ctx: &RequestCtx<'_>,
    req: &OffsetCommitRequest,
    results: &mut [Vec<Option<ErrorCode>>],
) {
    // Unknown partitions are answered before the coordinator sees the request.
    for (t, errors) in req.topics.iter().zip(results.iter_mut()) {
        for (p, e) in t.partitions.iter().zip(errors.iter_mut()) {
            if !ctx.topology.partition_exists(&t.name, p.partition_index) {
                *e = Some(ErrorCode::UnknownTopicOrPartition);
            }
        }
    }
    if results.iter().flatten().all(Option::is_some) {
        return;
    }
    let generation = req.generation_id_or_member_epoch;
    let max_metadata = c.cfg.offset_metadata_max_bytes;
    if let Some(g) = c.consumer_group_mut(&req.group_id) {
        let checked =
            ConsumerGroups::validate_offset_commit(g, &req.member_id, generation, ctx.api_version);
        match checked {
            Ok(()) => store(&mut g.offsets, max_metadata, ctx, req, results),
            Err(e) => fill(results, e),
        }
        return;
    }
    if !c.groups.contains_key(&req.group_id) {
        if generation >= 0 {
            // From v9 Kafka says the group is unknown; before, the generation is wrong.
            let e = if ctx.api_version >= 9 {
                ErrorCode::GroupIdNotFound
            } else {
                ErrorCode::IllegalGeneration
            };
            return fill(results, e);
        }
        // A standalone consumer: Kafka creates a "simple" group, empty, without protocol.
        c.groups
            .insert(req.group_id.clone(), Group::new(&req.group_id));
    }
    let Some(g) = c.groups.get_mut(&req.group_id) else {
        return fill(results, ErrorCode::UnknownServerError);
    };
    let instance_id = req.group_instance_id.as_deref();
    if let Err(e) = g.validate_offset_commit(&req.member_id, instance_id, generation) {
        return fill(results, e);
    }
    store(&mut g.offsets, max_metadata, ctx, req, results);
    // In the classic protocol, commits keep a member's session alive.
    if matches!(g.state, GroupState::Stable | GroupState::PreparingRebalance) {
        if let Some(m) = g.member_mut(&req.member_id) {
            m.reschedule_heartbeat(ctx.now);
        }
    }
}

/// Stores the offsets of the partitions not answered yet.
fn store(
    offsets: &mut BTreeMap<TopicPartition, CommittedOffset>,
    max_metadata: usize,
    ctx: &RequestCtx<'_>,
    req: &OffsetCommitRequest,
    results: &mut [Vec<Option<ErrorCode>>],
) {
    for (t, errors) in req.topics.iter().zip(results.iter_mut()) {
        for (p, e) in t.partitions.iter().zip(errors.iter_mut()) {
            if e.is_some() {
                continue;
            }
            let metadata = p.committed_metadata.clone().unwrap_or_default();
            if metadata.len() > max_metadata {
                *e = Some(ErrorCode::OffsetMetadataTooLarge);
                continue;
            }
            let leader_epoch = if ctx.api_version >= 6 {
                p.committed_leader_epoch
            } else {
                -1
            };
            let committed = CommittedOffset {
                offset: p.committed_offset,
                leader_epoch,
                metadata,
                committed_at: ctx.now,
            };
            offsets.insert(
                TopicPartition::new(t.name.as_str(), p.partition_index),
                committed,
            );
            *e = Some(ErrorCode::None);
        }
    }
}
