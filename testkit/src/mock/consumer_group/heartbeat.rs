//! ConsumerGroupHeartbeat (key 68, v0-1): joining, staying in and leaving a consumer group,
//! as Kafka's `GroupMetadataManager.consumerGroupHeartbeat` does it:
//! 1. the member is created or updated; the group epoch moves when the group is new, when a
//!    member's subscribed names change, when it subscribes to a regular expression already
//!    resolved, or when the subscribed topics' metadata (ids, partition counts) changed;
//! 2. a group epoch ahead of the target assignment computes a new one;
//! 3. the member reconciles towards its target ([`super::reconcile`]).
//!
//! A heartbeat works on a copy of its group, stored back only when it succeeds, so an error
//! changes nothing (Kafka discards the records of a failed request likewise).

use std::collections::{BTreeMap, BTreeSet};

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::consumer_group_heartbeat::{Assignment, TopicPartitions};
use gregor_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use gregor_protocol::primitives::Uuid;

use super::group::{ConsumerGroup, Member};
use super::reconcile::{MemberState, Target, reconcile};
use super::regex::compile_regex;
use super::{Env, Fail, Parts, assignor, fail};

/// Kafka's epoch for a member leaving.
pub(crate) const LEAVE_EPOCH: i32 = -1;
/// Kafka's epoch for a static member leaving temporarily.
pub(crate) const LEAVE_STATIC_EPOCH: i32 = -2;

/// Kafka's request checks (`throwIfConsumerGroupHeartbeatRequestIsInvalid`), in its order.
pub(crate) fn validate(req: &ConsumerGroupHeartbeatRequest, version: i16) -> Result<(), Fail> {
    let invalid = |msg: &str| Err(fail(ErrorCode::InvalidRequest, msg.to_owned()));
    let epoch = req.member_epoch;
    if (version >= 1 || epoch > 0 || epoch == LEAVE_EPOCH) && req.member_id.is_empty() {
        return invalid("MemberId can't be empty.");
    }
    if req.group_id.is_empty() {
        return invalid("GroupId can't be empty.");
    }
    if req.instance_id.as_deref() == Some("") {
        return invalid("InstanceId can't be empty.");
    }
    if req.rack_id.as_deref() == Some("") {
        return invalid("RackId can't be empty.");
    }
    if epoch == 0 {
        if req.rebalance_timeout_ms == -1 {
            return invalid("RebalanceTimeoutMs must be provided in first request.");
        }
        if req.topic_partitions.as_ref().is_none_or(|t| !t.is_empty()) {
            return invalid("TopicPartitions must be empty when (re-)joining.");
        }
        if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
            return invalid(
                "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
            );
        }
    } else if epoch == LEAVE_STATIC_EPOCH {
        if req.instance_id.is_none() {
            return invalid("InstanceId can't be null.");
        }
    } else if epoch < LEAVE_STATIC_EPOCH {
        return invalid("MemberEpoch is invalid.");
    }
    if let Some(a) = &req.server_assignor {
        if !assignor::is_supported(a) {
            return Err(fail(
                ErrorCode::UnsupportedAssignor,
                format!(
                    "ServerAssignor {a} is not supported. Supported assignors: uniform, range."
                ),
            ));
        }
    }
    Ok(())
}

/// The partitions of a request, by topic id.
fn to_parts(tps: &[TopicPartitions]) -> Parts {
    let mut out = Parts::new();
    for tp in tps {
        out.entry(tp.topic_id)
            .or_default()
            .extend(tp.partitions.iter().copied());
    }
    out
}

/// An assignment as the response carries it.
fn to_assignment(parts: &Parts) -> Assignment {
    Assignment {
        topic_partitions: parts
            .iter()
            .map(|(t, ps)| TopicPartitions {
                topic_id: *t,
                partitions: ps.iter().copied().collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Kafka's epoch check: a greater epoch is fenced; a smaller one only passes when it is the
/// member's previous epoch and the owned partitions are a subset of the assigned ones (the
/// response that moved the member on was lost).
fn check_epoch(m: &Member, epoch: i32, owned: Option<&Parts>) -> Result<(), Fail> {
    let current = m.epoch();
    if epoch > current {
        return Err(fail(
            ErrorCode::FencedMemberEpoch,
            format!(
                "The consumer group member has a greater member epoch ({epoch}) than the one known by the group coordinator ({current}). The member must abandon all its partitions and rejoin."
            ),
        ));
    }
    if epoch < current {
        let subset = owned.is_some_and(|owned| {
            owned
                .iter()
                .all(|(t, ps)| m.progress.assigned.get(t).is_some_and(|a| ps.is_subset(a)))
        });
        if epoch != m.progress.previous_epoch || !subset {
            return Err(fail(
                ErrorCode::FencedMemberEpoch,
                format!(
                    "The consumer group member has a smaller member epoch ({epoch}) than the one known by the group coordinator ({current}). The member must abandon all its partitions and rejoin."
                ),
            ));
        }
    }
    Ok(())
}

/// A leave (-1) or a static member's temporary leave (-2).
fn leave(
    groups: &mut BTreeMap<String, ConsumerGroup>,
    env: &Env<'_>,
    req: &ConsumerGroupHeartbeatRequest,
) -> Result<ConsumerGroupHeartbeatResponse, Fail> {
    let g = groups
        .get_mut(&req.group_id)
        .ok_or_else(|| not_found(&req.group_id))?;
    let member_id = match &req.instance_id {
        None => {
            if !g.members.contains_key(&req.member_id) {
                return Err(unknown_member(&req.member_id, &req.group_id));
            }
            req.member_id.clone()
        }
        Some(instance) => {
            let m = g
                .static_member(instance)
                .ok_or_else(|| unknown_instance(instance))?;
            if m.id != req.member_id {
                return Err(fenced_instance(&req.member_id, instance, &m.id));
            }
            m.id.clone()
        }
    };
    if req.member_epoch == LEAVE_STATIC_EPOCH {
        if let Some(m) = g.members.get_mut(&member_id) {
            m.progress.epoch = LEAVE_STATIC_EPOCH;
            m.progress.pending_revocation = Parts::new();
            m.rebalance_deadline = None;
        }
    } else {
        g.remove_member(&member_id, Some(env.topics));
    }
    Ok(ConsumerGroupHeartbeatResponse {
        member_id: Some(req.member_id.clone()),
        member_epoch: req.member_epoch,
        ..Default::default()
    })
}

fn not_found(group_id: &str) -> Fail {
    fail(
        ErrorCode::GroupIdNotFound,
        format!("Consumer group {group_id} not found."),
    )
}

fn unknown_member(member_id: &str, group_id: &str) -> Fail {
    fail(
        ErrorCode::UnknownMemberId,
        format!("Member {member_id} is not a member of group {group_id}."),
    )
}

fn unknown_instance(instance: &str) -> Fail {
    fail(
        ErrorCode::UnknownMemberId,
        format!("Instance id {instance} is unknown."),
    )
}

fn fenced_instance(member_id: &str, instance: &str, by: &str) -> Fail {
    fail(
        ErrorCode::FencedInstanceId,
        format!("Static member {member_id} with instance id {instance} was fenced by member {by}."),
    )
}

/// Handles a validated heartbeat; `new_member_id` makes a member id for a v0 join.
pub(crate) fn handle(
    groups: &mut BTreeMap<String, ConsumerGroup>,
    env: &Env<'_>,
    req: &ConsumerGroupHeartbeatRequest,
    new_member_id: &mut dyn FnMut() -> String,
) -> Result<ConsumerGroupHeartbeatResponse, Fail> {
    if req.member_epoch == LEAVE_EPOCH || req.member_epoch == LEAVE_STATIC_EPOCH {
        return leave(groups, env, req);
    }
    let joining = req.member_epoch == 0;
    let mut g = match groups.get(&req.group_id) {
        Some(g) => g.clone(),
        None if joining => ConsumerGroup::new(&req.group_id),
        None => return Err(not_found(&req.group_id)),
    };
    let member_id = if req.member_id.is_empty() {
        new_member_id()
    } else {
        req.member_id.clone()
    };
    let owned = req.topic_partitions.as_deref().map(to_parts);
    let (old, replaced) = find_member(&g, req, &member_id, owned.as_ref())?;
    if let Some(re) = req.subscribed_topic_regex.as_deref() {
        if !re.is_empty() && re != old.regex && g.regex_subscribers(re) == 0 {
            compile_regex(re).map_err(|e| {
                fail(
                    ErrorCode::InvalidRegularExpression,
                    format!("SubscribedTopicRegex `{re}` is not a valid regular expression: {e}."),
                )
            })?;
        }
    }
    if let Some(previous) = &replaced {
        g.members.remove(previous);
        if let Some(t) = g.target.remove(previous) {
            g.target.insert(member_id.clone(), t);
        }
    }

    // 1. The member, its subscription, and the group epoch.
    let mut m = old.clone();
    m.id = member_id.clone();
    if let Some(i) = &req.instance_id {
        m.instance_id = Some(i.clone());
    }
    if let Some(r) = &req.rack_id {
        m.rack_id = Some(r.clone());
    }
    if req.rebalance_timeout_ms != -1 {
        m.rebalance_timeout_ms = req.rebalance_timeout_ms;
    }
    if let Some(a) = &req.server_assignor {
        m.server_assignor = Some(a.clone());
    }
    if let Some(names) = &req.subscribed_topic_names {
        m.subscribed_names = names.iter().cloned().collect();
    }
    if let Some(re) = &req.subscribed_topic_regex {
        m.regex = re.clone();
    }
    env.client_id.clone_into(&mut m.client_id);
    env.client_host.clone_into(&mut m.client_host);
    let names_changed = m.subscribed_names != old.subscribed_names;
    let regex_changed = m.regex != old.regex;
    let mut resolved_regex = false;
    let mut refresh_regex = false;
    if regex_changed {
        if !old.regex.is_empty() && g.regex_subscribers(&old.regex) == 1 {
            g.resolved.remove(&old.regex);
        }
        if !m.regex.is_empty() {
            if g.regex_subscribers(&m.regex) == 0 {
                refresh_regex = true;
            } else {
                resolved_regex = g.resolved.contains_key(&m.regex);
            }
        }
    }
    g.members.insert(member_id.clone(), m);
    let mut bump = g.epoch == 0 || names_changed || resolved_regex;
    let meta = g.compute_subscribed_meta(env.topics);
    if meta != g.subscribed_meta {
        g.subscribed_meta = meta;
        bump = true;
    }
    if bump {
        g.epoch += 1;
    }

    // 2. The target assignment.
    if g.epoch > g.assignment_epoch {
        g.compute_target(env.topics);
    }

    // 3. Reconciliation.
    let Some(member) = g.members.get(&member_id) else {
        return Err(fail(ErrorCode::UnknownServerError, String::new()));
    };
    let mut progress = member.progress.clone();
    let mut rebalance_deadline = member.rebalance_deadline;
    if !progress.is_reconciled_to(g.assignment_epoch) {
        let subscribed: BTreeSet<Uuid> = g
            .member_topics(member)
            .iter()
            .filter_map(|n| env.topics.get(n).map(|t| t.id))
            .collect();
        let empty = Parts::new();
        let target = Target {
            epoch: g.assignment_epoch,
            partitions: g.target.get(&member_id).unwrap_or(&empty),
            subscribed: &subscribed,
            subscription_changed: false,
        };
        let held = |t: Uuid, p: i32| g.held_by_other(&member_id, t, p);
        let next = reconcile(&progress, &target, owned.as_ref(), &held);
        if next != progress {
            rebalance_deadline = (next.state == MemberState::UnrevokedPartitions).then(|| {
                let timeout = std::time::Duration::from_millis(
                    u64::try_from(member.rebalance_timeout_ms).unwrap_or(0),
                );
                (env.now + timeout, next.epoch)
            });
            progress = next;
        }
    }
    let assigned_changed = progress.assigned != old.progress.assigned;
    let epoch = progress.epoch;
    let assignment = progress.assigned.clone();
    if let Some(member) = g.members.get_mut(&member_id) {
        member.progress = progress;
        member.rebalance_deadline = rebalance_deadline;
        member.session_deadline = Some(env.now + env.cfg.session_timeout);
    }
    super::regex::maybe_refresh(&mut g, env, refresh_regex);
    groups.insert(g.id.clone(), g);

    // The assignment goes out when the member joins, sends a full request, or it changed.
    let full = req.rebalance_timeout_ms != -1
        && (req.subscribed_topic_names.is_some() || req.subscribed_topic_regex.is_some())
        && req.topic_partitions.is_some();
    Ok(ConsumerGroupHeartbeatResponse {
        member_id: Some(member_id),
        member_epoch: epoch,
        heartbeat_interval_ms: i32::try_from(env.cfg.heartbeat_interval.as_millis())
            .unwrap_or(i32::MAX),
        assignment: (joining || full || assigned_changed).then(|| to_assignment(&assignment)),
        ..Default::default()
    })
}

/// The member the heartbeat is from (a new one when joining), and the static member it
/// replaces, if any.
fn find_member(
    g: &ConsumerGroup,
    req: &ConsumerGroupHeartbeatRequest,
    member_id: &str,
    owned: Option<&Parts>,
) -> Result<(Member, Option<String>), Fail> {
    let joining = req.member_epoch == 0;
    match &req.instance_id {
        None => match g.members.get(member_id) {
            Some(m) => {
                check_epoch(m, req.member_epoch, owned)?;
                Ok((m.clone(), None))
            }
            None if joining => Ok((Member::new(member_id.to_owned()), None)),
            None => Err(unknown_member(member_id, &g.id)),
        },
        Some(instance) => match g.static_member(instance) {
            None if joining => Ok((Member::new(member_id.to_owned()), None)),
            None => Err(unknown_instance(instance)),
            Some(m) if joining => {
                if m.epoch() != LEAVE_STATIC_EPOCH {
                    return Err(fail(
                        ErrorCode::UnreleasedInstanceId,
                        format!(
                            "Static member {member_id} with instance id {instance} cannot join the group because the instance id is owned by {} member.",
                            m.id
                        ),
                    ));
                }
                // The new member takes over the old one's assignment, at epoch 0.
                let mut copy = m.clone();
                copy.id = member_id.to_owned();
                copy.progress.epoch = 0;
                copy.progress.previous_epoch = 0;
                Ok((copy, Some(m.id.clone()).filter(|old| old != member_id)))
            }
            Some(m) => {
                if m.id != member_id {
                    return Err(fenced_instance(member_id, instance, &m.id));
                }
                check_epoch(m, req.member_epoch, owned)?;
                Ok((m.clone(), None))
            }
        },
    }
}
