//! LeaveGroup (key 13): members leave (one in v0-2, a batch with per-member results from v3),
//! which starts a rebalance.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::leave_group::MemberResponse;
use gregor_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::coordinator::{
    Env, drop_member, maybe_complete_join_phase, maybe_prepare_rebalance_or_complete_join,
};
use super::state::Group;
use super::{GroupCoordinator, GroupState, RequestCtx};

pub(super) fn handle(
    c: &mut GroupCoordinator,
    ctx: &RequestCtx<'_>,
    req: &LeaveGroupRequest,
) -> LeaveGroupResponse {
    let v = ctx.api_version;
    let top_level = |e: ErrorCode| LeaveGroupResponse {
        error_code: e.code(),
        ..Default::default()
    };
    if !ctx.coordinates(&req.group_id) {
        return top_level(ErrorCode::NotCoordinator);
    }
    if req.group_id.is_empty() {
        return top_level(ErrorCode::InvalidGroupId);
    }
    let GroupCoordinator {
        cfg, groups, out, ..
    } = c;
    let Some(g) = groups.get_mut(&req.group_id) else {
        return top_level(ErrorCode::UnknownMemberId);
    };
    if g.state == GroupState::Dead {
        return top_level(ErrorCode::CoordinatorNotAvailable);
    }
    let leaving: Vec<(String, Option<String>)> = if v >= 3 {
        req.members
            .iter()
            .map(|m| (m.member_id.clone(), m.group_instance_id.clone()))
            .collect()
    } else {
        vec![(req.member_id.clone(), None)]
    };
    let mut env = Env {
        cfg,
        out,
        now: ctx.now,
    };
    let mut results = Vec::with_capacity(leaving.len());
    for (member_id, instance_id) in leaving {
        let error = leave(g, &member_id, instance_id.as_deref(), &mut env);
        results.push(MemberResponse {
            member_id,
            group_instance_id: instance_id,
            error_code: error.code(),
            ..Default::default()
        });
    }
    if results.iter().any(|r| r.error_code == 0) {
        match g.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                maybe_prepare_rebalance_or_complete_join(g, &mut env);
            }
            GroupState::PreparingRebalance => maybe_complete_join_phase(g, &mut env),
            GroupState::Empty | GroupState::Dead => {}
        }
    }
    if v >= 3 {
        LeaveGroupResponse {
            members: results,
            ..Default::default()
        }
    } else {
        // One member before v3: its error is the response's.
        let first_error = results.iter().map(|r| r.error_code).find(|e| *e != 0);
        top_level(ErrorCode::from_code(first_error.unwrap_or(0)))
    }
}

/// One member leaves. An empty member id with an instance id removes that static member (the
/// admin client's way); a pending member just goes; otherwise the usual member checks apply.
fn leave(
    g: &mut Group,
    member_id: &str,
    instance_id: Option<&str>,
    env: &mut Env<'_>,
) -> ErrorCode {
    if member_id.is_empty() {
        let current = instance_id
            .and_then(|i| g.static_member_id(i))
            .map(str::to_owned);
        return match current {
            Some(id) => {
                drop_member(g, &id, ErrorCode::UnknownMemberId, env);
                ErrorCode::None
            }
            None => ErrorCode::UnknownMemberId,
        };
    }
    if g.is_pending(member_id) {
        g.pending.retain(|(id, _)| id != member_id);
        return ErrorCode::None;
    }
    match g.validate_member(member_id, instance_id) {
        Ok(()) => {
            drop_member(g, member_id, ErrorCode::UnknownMemberId, env);
            ErrorCode::None
        }
        Err(e) => e,
    }
}
