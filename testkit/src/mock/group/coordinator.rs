//! The rebalance engine: joining, completing the join phase, propagating assignments, removing
//! members, and the timers that drive it (session, rebalance, initial delay, pending sync).

use std::time::{Duration, Instant};

use gregor_protocol::ErrorCode;

use super::member::{JoinOutcome, JoinSpec, Member, SyncOutcome, Waiter};
use super::state::{Group, JoinTimer, JoinTimerKind, SyncTimer};
use super::{Completed, GroupConfig, GroupState, Outbox};

/// What an engine step needs besides the group: the config, where completions go, and the
/// time the step happens at.
pub(crate) struct Env<'a> {
    pub cfg: &'a GroupConfig,
    pub out: &'a mut Outbox,
    pub now: Instant,
}

/// A timer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Due {
    /// The join phase's timer.
    Join,
    /// The sync phase's timer.
    Sync,
    /// A member's session deadline.
    Session(String),
    /// A `MEMBER_ID_REQUIRED` member's deadline to rejoin.
    Pending(String),
}

/// The group's earliest timer.
pub(crate) fn earliest_due(g: &Group) -> Option<(Instant, Due)> {
    let mut best: Option<(Instant, Due)> = None;
    let mut consider = |at: Instant, due: Due| {
        if best.as_ref().is_none_or(|(b, _)| at < *b) {
            best = Some((at, due));
        }
    };
    if let Some(t) = g.join_timer {
        consider(t.at, Due::Join);
    }
    if let Some(t) = g.sync_timer {
        consider(t.at, Due::Sync);
    }
    for m in &g.members {
        if let Some(at) = m.hb_deadline {
            consider(at, Due::Session(m.id.clone()));
        }
    }
    for (id, at) in &g.pending {
        consider(*at, Due::Pending(id.clone()));
    }
    best
}

/// When the group's earliest timer fires.
pub(crate) fn next_deadline(g: &Group) -> Option<Instant> {
    earliest_due(g).map(|(at, _)| at)
}

/// Fires a timer (`env.now` is its deadline).
pub(crate) fn fire(g: &mut Group, due: Due, env: &mut Env<'_>) {
    match due {
        Due::Join => {
            let Some(timer) = g.join_timer.take() else {
                return;
            };
            match timer.kind {
                JoinTimerKind::Initial { delay, remaining }
                    if g.new_member_added && !remaining.is_zero() =>
                {
                    // Members keep arriving: wait another delay, within the rebalance timeout.
                    g.new_member_added = false;
                    let next = env.cfg.initial_rebalance_delay.min(remaining);
                    g.join_timer = Some(JoinTimer {
                        at: env.now + next,
                        kind: JoinTimerKind::Initial {
                            delay: next,
                            remaining: remaining.saturating_sub(delay),
                        },
                    });
                }
                _ => complete_join(g, env),
            }
        }
        Due::Sync => {
            let Some(timer) = g.sync_timer.take() else {
                return;
            };
            let syncing = matches!(
                g.state,
                GroupState::CompletingRebalance | GroupState::Stable
            );
            if timer.generation == g.generation && syncing && !g.pending_sync.is_empty() {
                // Members that never sent SyncGroup are gone; the rest rebalance.
                let late: Vec<String> = g.pending_sync.iter().cloned().collect();
                for id in &late {
                    drop_member(g, id, ErrorCode::UnknownMemberId, env);
                }
                prepare_rebalance(g, env);
            }
        }
        Due::Session(id) => {
            let Some(m) = g.member_mut(&id) else { return };
            m.hb_deadline = None;
            if !m.has_satisfied_heartbeat() {
                remove_member_and_update(g, &id, env);
            }
        }
        Due::Pending(id) => {
            g.pending.retain(|(p, _)| *p != id);
            if g.state == GroupState::PreparingRebalance && g.all_joined() {
                complete_join(g, env);
            }
        }
    }
}

/// Answers a member's parked JoinGroup, if it has one.
pub(crate) fn complete_join_waiter(m: &mut Member, outcome: JoinOutcome, env: &mut Env<'_>) {
    if let Some(w) = m.join_waiter.take() {
        let resp = Completed::JoinGroup(outcome.response(w.version));
        env.out.push(w.ticket, resp, env.now);
    }
}

/// Answers a member's parked SyncGroup, if it has one; true if it had.
fn complete_sync_waiter(m: &mut Member, outcome: SyncOutcome, env: &mut Env<'_>) -> bool {
    match m.sync_waiter.take() {
        Some(w) => {
            let resp = Completed::SyncGroup(outcome.response(w.version));
            env.out.push(w.ticket, resp, env.now);
            true
        }
        None => false,
    }
}

/// Removes a member, answering its parked requests with `error` so no ticket is left behind.
pub(crate) fn drop_member(g: &mut Group, member_id: &str, error: ErrorCode, env: &mut Env<'_>) {
    if let Some(mut m) = g.remove(member_id) {
        complete_join_waiter(&mut m, JoinOutcome::error(error, ""), env);
        complete_sync_waiter(&mut m, SyncOutcome::error(error), env);
    }
}

/// A member's session expired: remove it and rebalance (or finish the join phase without it).
pub(crate) fn remove_member_and_update(g: &mut Group, member_id: &str, env: &mut Env<'_>) {
    drop_member(g, member_id, ErrorCode::UnknownMemberId, env);
    match g.state {
        GroupState::Stable | GroupState::CompletingRebalance => {
            maybe_prepare_rebalance_or_complete_join(g, env);
        }
        GroupState::PreparingRebalance if g.all_joined() => complete_join(g, env),
        _ => {}
    }
}

/// Adds a joining member (its JoinGroup parked) and rebalances.
pub(crate) fn add_member_then_rebalance(
    g: &mut Group,
    env: &mut Env<'_>,
    member_id: String,
    spec: &JoinSpec,
    waiter: Waiter,
) {
    let mut m = Member::new(member_id, spec);
    m.join_waiter = Some(waiter);
    // Kafka times out new members' parked joins separately from their session.
    m.hb_deadline = Some(env.now + env.cfg.new_member_join_timeout);
    if g.state == GroupState::PreparingRebalance && g.previous_state == GroupState::Empty {
        g.new_member_added = true;
    }
    g.add(m);
    maybe_prepare_rebalance_or_complete_join(g, env);
}

/// Takes a rejoining member's protocols and timeouts and parks its JoinGroup. A JoinGroup it
/// already had parked is answered `REBALANCE_IN_PROGRESS` (Kafka drops it unanswered).
pub(crate) fn update_member(
    g: &mut Group,
    idx: usize,
    spec: &JoinSpec,
    waiter: Waiter,
    env: &mut Env<'_>,
) {
    let Some(m) = g.members.get_mut(idx) else {
        return;
    };
    m.protocols = spec.protocols.clone();
    m.rebalance_timeout = spec.rebalance_timeout;
    m.session_timeout = spec.session_timeout;
    if m.join_waiter.is_some() {
        let outcome = JoinOutcome::error(ErrorCode::RebalanceInProgress, &m.id);
        complete_join_waiter(m, outcome, env);
    }
    m.join_waiter = Some(waiter);
}

/// Gives a static member a new member id: the old id's parked requests are fenced, the rest of
/// the member (assignment, leadership) carries over. Returns the member's index.
pub(crate) fn replace_static_member(
    g: &mut Group,
    old_id: &str,
    new_id: &str,
    env: &mut Env<'_>,
) -> Option<usize> {
    let idx = g.index_of(old_id)?;
    let m = g.members.get_mut(idx)?;
    let mut fenced = JoinOutcome::error(ErrorCode::FencedInstanceId, old_id);
    fenced.protocol_name = None;
    complete_join_waiter(m, fenced, env);
    complete_sync_waiter(m, SyncOutcome::error(ErrorCode::FencedInstanceId), env);
    m.id = new_id.to_owned();
    if g.is_leader(old_id) {
        g.leader = Some(new_id.to_owned());
    }
    if g.pending_sync.remove(old_id) {
        g.pending_sync.insert(new_id.to_owned());
    }
    Some(idx)
}

/// The current generation as a JoinGroup answer for `member_id` (with the member list when
/// `with_members`).
pub(crate) fn current_outcome(g: &Group, member_id: &str, with_members: bool) -> JoinOutcome {
    JoinOutcome {
        error: ErrorCode::None,
        generation: g.generation,
        protocol_type: g.protocol_type.clone(),
        protocol_name: g.protocol_name.clone(),
        leader: g.leader.clone().unwrap_or_default(),
        skip_assignment: false,
        member_id: member_id.to_owned(),
        members: if with_members {
            g.leader_view()
        } else {
            Vec::new()
        },
    }
}

/// Starts a rebalance if the state allows one, else tries to finish the join phase.
pub(crate) fn maybe_prepare_rebalance_or_complete_join(g: &mut Group, env: &mut Env<'_>) {
    if g.can_rebalance() {
        prepare_rebalance(g, env);
    } else {
        maybe_complete_join_phase(g, env);
    }
}

/// Finishes the join phase once everybody has rejoined (never early for a first rebalance,
/// which waits for its initial delay).
pub(crate) fn maybe_complete_join_phase(g: &mut Group, env: &mut Env<'_>) {
    if g.state == GroupState::PreparingRebalance
        && g.all_joined()
        && g.previous_state != GroupState::Empty
    {
        complete_join(g, env);
    }
}

/// Enters `PreparingRebalance`: parked SyncGroups get `REBALANCE_IN_PROGRESS`, and the join
/// phase waits for the initial delay (empty group) or the rebalance timeout.
pub(crate) fn prepare_rebalance(g: &mut Group, env: &mut Env<'_>) {
    if g.state == GroupState::CompletingRebalance {
        for m in &mut g.members {
            m.assignment = Default::default();
        }
        propagate_assignment(g, ErrorCode::RebalanceInProgress, env);
    }
    g.pending_sync.clear();
    g.sync_timer = None;
    let initial = g.state == GroupState::Empty;
    if initial {
        let delay = env.cfg.initial_rebalance_delay;
        g.join_timer = Some(JoinTimer {
            at: env.now + delay,
            kind: JoinTimerKind::Initial {
                delay,
                remaining: g.rebalance_timeout().saturating_sub(delay),
            },
        });
    }
    g.transition(GroupState::PreparingRebalance);
    if !initial {
        if g.all_joined() {
            complete_join(g, env);
        } else {
            g.join_timer = Some(JoinTimer {
                at: env.now + g.rebalance_timeout(),
                kind: JoinTimerKind::Rebalance,
            });
        }
    }
}

/// Ends the join phase: dynamic members that did not rejoin are removed, the generation
/// advances, and every parked JoinGroup is answered (the leader's with all members).
pub(crate) fn complete_join(g: &mut Group, env: &mut Env<'_>) {
    if g.state != GroupState::PreparingRebalance {
        return;
    }
    g.join_timer = None;
    let gone: Vec<String> = g
        .members
        .iter()
        .filter(|m| m.join_waiter.is_none() && m.instance_id.is_none())
        .map(|m| m.id.clone())
        .collect();
    for id in &gone {
        drop_member(g, id, ErrorCode::UnknownMemberId, env);
    }
    if !g.maybe_elect_new_joined_leader() && !g.members.is_empty() {
        // Only static members that have not rejoined are left: wait for them (or for their
        // sessions to expire). At least 1 ms so that time moves on.
        let wait = g.rebalance_timeout().max(Duration::from_millis(1));
        g.join_timer = Some(JoinTimer {
            at: env.now + wait,
            kind: JoinTimerKind::Rebalance,
        });
        return;
    }
    g.init_next_generation();
    if g.state == GroupState::Empty {
        g.persist();
        return;
    }
    let leader = g.leader.clone().unwrap_or_default();
    let view = g.leader_view();
    for m in &mut g.members {
        let outcome = JoinOutcome {
            error: ErrorCode::None,
            generation: g.generation,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol_name.clone(),
            leader: leader.clone(),
            skip_assignment: false,
            member_id: m.id.clone(),
            members: if m.id == leader {
                view.clone()
            } else {
                Vec::new()
            },
        };
        complete_join_waiter(m, outcome, env);
        m.reschedule_heartbeat(env.now);
        m.is_new = false;
        g.pending_sync.insert(m.id.clone());
    }
    g.sync_timer = Some(SyncTimer {
        at: env.now + g.rebalance_timeout(),
        generation: g.generation,
    });
}

/// Answers every parked SyncGroup with the member's assignment (or `error`), restarting the
/// sessions of the members answered.
pub(crate) fn propagate_assignment(g: &mut Group, error: ErrorCode, env: &mut Env<'_>) {
    let ok = error.is_ok();
    for m in &mut g.members {
        let outcome = SyncOutcome {
            error,
            protocol_type: g.protocol_type.clone().filter(|_| ok),
            protocol_name: g.protocol_name.clone().filter(|_| ok),
            assignment: m.assignment.clone(),
        };
        if complete_sync_waiter(m, outcome, env) {
            m.reschedule_heartbeat(env.now);
        }
    }
}

/// The group leaves this coordinator: parked requests get `NOT_COORDINATOR`.
pub(crate) fn unload(g: &mut Group, env: &mut Env<'_>) {
    for m in &mut g.members {
        let outcome = JoinOutcome::error(ErrorCode::NotCoordinator, &m.id);
        complete_join_waiter(m, outcome, env);
        complete_sync_waiter(m, SyncOutcome::error(ErrorCode::NotCoordinator), env);
    }
}
