//! SyncGroup (key 14): the leader hands in the assignment; every member gets its own.

use std::collections::HashMap;

use bytes::Bytes;
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::coordinator::{Env, propagate_assignment};
use super::member::{SyncOutcome, Waiter};
use super::state::Group;
use super::{Completed, GroupCoordinator, GroupState, Reply, RequestCtx};

type SyncReply = Reply<SyncGroupResponse>;

fn error(code: ErrorCode, version: i16) -> SyncReply {
    Reply::Now(SyncOutcome::error(code).response(version))
}

pub(super) fn handle(
    c: &mut GroupCoordinator,
    ctx: &RequestCtx<'_>,
    req: &SyncGroupRequest,
) -> SyncReply {
    let v = ctx.api_version;
    if !ctx.coordinates(&req.group_id) {
        return error(ErrorCode::NotCoordinator, v);
    }
    if req.group_id.is_empty() {
        return error(ErrorCode::InvalidGroupId, v);
    }
    let GroupCoordinator {
        cfg, groups, out, ..
    } = c;
    let Some(g) = groups.get_mut(&req.group_id) else {
        return error(ErrorCode::UnknownMemberId, v);
    };
    if let Err(e) = validate(g, req) {
        return error(e, v);
    }
    let mut env = Env {
        cfg,
        out,
        now: ctx.now,
    };
    match g.state {
        GroupState::Empty | GroupState::Dead => error(ErrorCode::UnknownMemberId, v),
        GroupState::PreparingRebalance => error(ErrorCode::RebalanceInProgress, v),
        GroupState::CompletingRebalance => {
            let w = Waiter {
                ticket: env.out.ticket(),
                version: v,
            };
            park(g, &req.member_id, w, &mut env);
            remove_pending_sync(g, &req.member_id);
            if g.is_leader(&req.member_id) {
                assign(g, req, &mut env);
            }
            Reply::Later(w.ticket)
        }
        GroupState::Stable => {
            remove_pending_sync(g, &req.member_id);
            let assignment = g
                .member(&req.member_id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default();
            let outcome = SyncOutcome {
                error: ErrorCode::None,
                protocol_type: g.protocol_type.clone(),
                protocol_name: g.protocol_name.clone(),
                assignment,
            };
            Reply::Now(outcome.response(v))
        }
    }
}

/// Kafka's checks: the member (and its static id), the generation, and from v5 the protocol
/// type and name when the request has them.
fn validate(g: &Group, req: &SyncGroupRequest) -> Result<(), ErrorCode> {
    if g.state == GroupState::Dead {
        return Err(ErrorCode::CoordinatorNotAvailable);
    }
    g.validate_member(&req.member_id, req.group_instance_id.as_deref())?;
    if req.generation_id != g.generation {
        return Err(ErrorCode::IllegalGeneration);
    }
    if inconsistent(req.protocol_type.as_deref(), g.protocol_type.as_deref())
        || inconsistent(req.protocol_name.as_deref(), g.protocol_name.as_deref())
    {
        return Err(ErrorCode::InconsistentGroupProtocol);
    }
    Ok(())
}

fn inconsistent(requested: Option<&str>, group: Option<&str>) -> bool {
    matches!((requested, group), (Some(r), Some(g)) if r != g)
}

/// Parks the member's SyncGroup (a SyncGroup it already had parked is answered
/// `REBALANCE_IN_PROGRESS`; Kafka drops it unanswered).
fn park(g: &mut Group, member_id: &str, w: Waiter, env: &mut Env<'_>) {
    let Some(m) = g.member_mut(member_id) else {
        return;
    };
    if let Some(old) = m.sync_waiter.replace(w) {
        let resp = SyncOutcome::error(ErrorCode::RebalanceInProgress).response(old.version);
        env.out
            .push(old.ticket, Completed::SyncGroup(resp), env.now);
    }
}

fn remove_pending_sync(g: &mut Group, member_id: &str) {
    g.pending_sync.remove(member_id);
    if g.pending_sync.is_empty() {
        g.sync_timer = None;
    }
}

/// The leader's assignment: members it left out get an empty one; the group is persisted,
/// every parked SyncGroup answered, and the group is `Stable`.
fn assign(g: &mut Group, req: &SyncGroupRequest, env: &mut Env<'_>) {
    let given: HashMap<&str, &Bytes> = req
        .assignments
        .iter()
        .map(|a| (a.member_id.as_str(), &a.assignment))
        .collect();
    for m in &mut g.members {
        m.assignment = given
            .get(m.id.as_str())
            .map(|a| (*a).clone())
            .unwrap_or_default();
    }
    g.persist();
    propagate_assignment(g, ErrorCode::None, env);
    g.transition(GroupState::Stable);
}
