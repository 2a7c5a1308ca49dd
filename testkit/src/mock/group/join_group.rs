//! JoinGroup (key 11): a member joins or rejoins, and waits for the join phase to complete.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::coordinator::{
    Env, add_member_then_rebalance, complete_join_waiter, current_outcome, drop_member,
    maybe_complete_join_phase, maybe_prepare_rebalance_or_complete_join, prepare_rebalance,
    replace_static_member, update_member,
};
use super::member::{IdGen, JoinOutcome, JoinSpec, Waiter, millis, protocols_of};
use super::state::Group;
use super::{GroupCoordinator, GroupState, Reply, RequestCtx};

type JoinReply = Reply<JoinGroupResponse>;

fn error(code: ErrorCode, member_id: &str, version: i16) -> JoinReply {
    Reply::Now(JoinOutcome::error(code, member_id).response(version))
}

fn park(env: &mut Env<'_>, version: i16) -> Waiter {
    Waiter {
        ticket: env.out.ticket(),
        version,
    }
}

pub(super) fn handle(
    c: &mut GroupCoordinator,
    ctx: &RequestCtx<'_>,
    req: &JoinGroupRequest,
) -> JoinReply {
    let v = ctx.api_version;
    if !ctx.coordinates(&req.group_id) {
        return error(ErrorCode::NotCoordinator, "", v);
    }
    if req.group_id.is_empty() {
        return error(ErrorCode::InvalidGroupId, &req.member_id, v);
    }
    if let Err(code) = c.classic_join_allowed(&req.group_id) {
        return error(code, "", v);
    }
    let session = millis(req.session_timeout_ms);
    if req.session_timeout_ms < 0
        || session < c.cfg.min_session_timeout
        || session > c.cfg.max_session_timeout
    {
        return error(ErrorCode::InvalidSessionTimeout, &req.member_id, v);
    }
    // Version 0 has no rebalance timeout: Kafka uses the session timeout.
    let rebalance_ms = if v == 0 {
        req.session_timeout_ms
    } else {
        req.rebalance_timeout_ms
    };
    let spec = JoinSpec {
        instance_id: req.group_instance_id.clone(),
        client_id: ctx.client_id.to_owned(),
        client_host: ctx.client_host.to_owned(),
        rebalance_timeout: millis(rebalance_ms),
        session_timeout: session,
        protocol_type: req.protocol_type.clone(),
        protocols: protocols_of(&req.protocols),
        version: v,
    };
    let unknown = req.member_id.is_empty();
    let GroupCoordinator {
        cfg,
        groups,
        out,
        ids,
        ..
    } = c;
    if !groups.contains_key(&req.group_id) {
        // Only a join without a member id creates a group.
        if !unknown {
            return error(ErrorCode::UnknownMemberId, &req.member_id, v);
        }
        groups.insert(req.group_id.clone(), Group::new(&req.group_id));
    }
    let Some(g) = groups.get_mut(&req.group_id) else {
        return error(ErrorCode::UnknownServerError, &req.member_id, v);
    };
    let mut env = Env {
        cfg,
        out,
        now: ctx.now,
    };
    if !accept_joining_member(g, &req.member_id, cfg.max_group_size) {
        drop_member(g, &req.member_id, ErrorCode::GroupMaxSizeReached, &mut env);
        return error(ErrorCode::GroupMaxSizeReached, "", v);
    }
    if unknown {
        join_new_member(g, &mut env, ids, &spec)
    } else {
        join_existing_member(g, &mut env, &req.member_id, &spec)
    }
}

/// `group.max.size`: existing members always get in; new ones while there is room (counting
/// the members that rejoined, during a rebalance).
fn accept_joining_member(g: &Group, member_id: &str, max: usize) -> bool {
    match g.state {
        GroupState::Empty | GroupState::Dead => true,
        GroupState::PreparingRebalance => {
            g.member(member_id).is_some_and(|m| m.join_waiter.is_some()) || g.awaiting_join() < max
        }
        GroupState::CompletingRebalance | GroupState::Stable => {
            g.has_member(member_id) || g.members.len() < max
        }
    }
}

/// A join without a member id: a new static member, a static member coming back with a new
/// member id, or a dynamic member (which first gets `MEMBER_ID_REQUIRED` from v4, KIP-394).
fn join_new_member(
    g: &mut Group,
    env: &mut Env<'_>,
    ids: &mut IdGen,
    spec: &JoinSpec,
) -> JoinReply {
    let v = spec.version;
    if g.state == GroupState::Dead {
        return error(ErrorCode::CoordinatorNotAvailable, "", v);
    }
    if !g.supports_protocols(&spec.protocol_type, &spec.protocols) {
        return error(ErrorCode::InconsistentGroupProtocol, "", v);
    }
    let prefix = spec.instance_id.as_deref().unwrap_or(&spec.client_id);
    let new_id = ids.member_id(prefix);
    match &spec.instance_id {
        Some(instance) => match g.static_member_id(instance).map(str::to_owned) {
            Some(old_id) => update_static_member(g, env, &old_id, new_id, spec),
            None => {
                let w = park(env, v);
                add_member_then_rebalance(g, env, new_id, spec, w);
                Reply::Later(w.ticket)
            }
        },
        None if v >= 4 => {
            // The member must rejoin with this id within its session timeout.
            g.pending
                .push((new_id.clone(), env.now + spec.session_timeout));
            error(ErrorCode::MemberIdRequired, &new_id, v)
        }
        None => {
            let w = park(env, v);
            add_member_then_rebalance(g, env, new_id, spec, w);
            Reply::Later(w.ticket)
        }
    }
}

/// A join with a member id: a member back from `MEMBER_ID_REQUIRED`, or a member rejoining.
fn join_existing_member(
    g: &mut Group,
    env: &mut Env<'_>,
    member_id: &str,
    spec: &JoinSpec,
) -> JoinReply {
    let v = spec.version;
    if g.state == GroupState::Dead {
        return error(ErrorCode::CoordinatorNotAvailable, member_id, v);
    }
    if !g.supports_protocols(&spec.protocol_type, &spec.protocols) {
        return error(ErrorCode::InconsistentGroupProtocol, member_id, v);
    }
    if g.is_pending(member_id) {
        if spec.instance_id.is_some() {
            // Static members never get MEMBER_ID_REQUIRED; Kafka fails such a join.
            return error(ErrorCode::UnknownServerError, member_id, v);
        }
        let w = park(env, v);
        add_member_then_rebalance(g, env, member_id.to_owned(), spec, w);
        return Reply::Later(w.ticket);
    }
    if let Err(e) = g.validate_member(member_id, spec.instance_id.as_deref()) {
        let mut outcome = JoinOutcome::error(e, member_id);
        outcome.protocol_name = None;
        return Reply::Now(outcome.response(v));
    }
    let Some(idx) = g.index_of(member_id) else {
        return error(ErrorCode::UnknownMemberId, member_id, v);
    };
    let unchanged = g.members[idx].matches(&spec.protocols);
    match g.state {
        GroupState::PreparingRebalance => update_then_rebalance(g, env, idx, spec),
        GroupState::CompletingRebalance if unchanged => {
            // It probably missed its JoinGroup response: give it the current generation again.
            let leader = g.is_leader(member_id);
            Reply::Now(current_outcome(g, member_id, leader).response(v))
        }
        GroupState::Stable if unchanged && !g.is_leader(member_id) => {
            // A follower without changes just gets the current generation to sync with.
            Reply::Now(current_outcome(g, member_id, false).response(v))
        }
        // The leader rejoining, or changed metadata, starts a rebalance.
        GroupState::CompletingRebalance | GroupState::Stable => {
            update_then_rebalance(g, env, idx, spec)
        }
        GroupState::Empty | GroupState::Dead => error(ErrorCode::UnknownMemberId, member_id, v),
    }
}

fn update_then_rebalance(
    g: &mut Group,
    env: &mut Env<'_>,
    idx: usize,
    spec: &JoinSpec,
) -> JoinReply {
    let w = park(env, spec.version);
    update_member(g, idx, spec, w, env);
    maybe_prepare_rebalance_or_complete_join(g, env);
    Reply::Later(w.ticket)
}

/// A static member rejoins without its member id (KIP-345): it takes `new_id`, the old id is
/// fenced, and a stable group whose protocol does not change skips the rebalance.
fn update_static_member(
    g: &mut Group,
    env: &mut Env<'_>,
    old_id: &str,
    new_id: String,
    spec: &JoinSpec,
) -> JoinReply {
    let v = spec.version;
    let old_leader = g.leader.clone().unwrap_or_default();
    let Some(idx) = replace_static_member(g, old_id, &new_id, env) else {
        return error(ErrorCode::UnknownServerError, "", v);
    };
    g.members[idx].reschedule_heartbeat(env.now);
    let w = park(env, v);
    update_member(g, idx, spec, w, env);
    match g.state {
        GroupState::Stable => {
            let selected = g.select_protocol();
            if g.protocol_name.is_some() && g.protocol_name == selected {
                g.persist();
                let is_leader = g.is_leader(&new_id);
                let mut outcome = current_outcome(g, &new_id, false);
                if v >= 9 {
                    // KIP-814: the leader learns it leads, but keeps the current assignment.
                    if is_leader {
                        outcome.members = g.leader_view();
                    }
                    outcome.skip_assignment = is_leader;
                } else {
                    // Older clients are told the previous leader id, so they just sync.
                    outcome.leader = old_leader;
                }
                complete_join_waiter(&mut g.members[idx], outcome, env);
            } else {
                maybe_prepare_rebalance_or_complete_join(g, env);
            }
        }
        // The leader may be assigning the old member id: rebalance again.
        GroupState::CompletingRebalance => prepare_rebalance(g, env),
        GroupState::PreparingRebalance => maybe_complete_join_phase(g, env),
        // Unreachable: the group has the static member.
        GroupState::Empty | GroupState::Dead => {}
    }
    Reply::Later(w.ticket)
}
