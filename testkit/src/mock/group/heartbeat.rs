//! Heartbeat (key 12): a member keeps its session alive and learns about rebalances.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use super::state::Group;
use super::{GroupCoordinator, GroupState, RequestCtx};

pub(super) fn handle(
    c: &mut GroupCoordinator,
    ctx: &RequestCtx<'_>,
    req: &HeartbeatRequest,
) -> HeartbeatResponse {
    let error = if !ctx.coordinates(&req.group_id) {
        ErrorCode::NotCoordinator
    } else if req.group_id.is_empty() {
        ErrorCode::InvalidGroupId
    } else {
        match c.groups.get_mut(&req.group_id) {
            None => ErrorCode::UnknownMemberId,
            Some(g) => heartbeat(g, req, ctx),
        }
    };
    HeartbeatResponse {
        error_code: error.code(),
        ..Default::default()
    }
}

fn heartbeat(g: &mut Group, req: &HeartbeatRequest, ctx: &RequestCtx<'_>) -> ErrorCode {
    if g.state == GroupState::Dead {
        return ErrorCode::CoordinatorNotAvailable;
    }
    if let Err(e) = g.validate_member(&req.member_id, req.group_instance_id.as_deref()) {
        return e;
    }
    if req.generation_id != g.generation {
        return ErrorCode::IllegalGeneration;
    }
    let state = g.state;
    let Some(m) = g.member_mut(&req.member_id) else {
        return ErrorCode::UnknownMemberId;
    };
    match state {
        GroupState::Empty | GroupState::Dead => ErrorCode::UnknownMemberId,
        GroupState::PreparingRebalance => {
            m.reschedule_heartbeat(ctx.now);
            ErrorCode::RebalanceInProgress
        }
        // Members may heartbeat between their JoinGroup and SyncGroup responses.
        GroupState::CompletingRebalance | GroupState::Stable => {
            m.reschedule_heartbeat(ctx.now);
            ErrorCode::None
        }
    }
}
